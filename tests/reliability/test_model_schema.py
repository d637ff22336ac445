"""The closed schema of untrusted model configs (issue 22): data in, a model of this package out, or a
one-line error; nothing imported or called, any input answered within a second."""

import copy
import sys
import time
import types

import pytest
import torch
from fuzz_support import error_kind, fuzz_settings, fuzz_summary, record  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st
from inference.scene_data import TINY_CONFIG, tiny_model, write_checkpoint

from axion_terratorch.checkpoints.loading import CheckpointError, load_model
from axion_terratorch.models.schema import (
    MAX_NODES,
    ModelConfigError,
    ModelSpec,
    build_on_meta,
    check_bounded,
    read_model_config,
)

#: A module whose every use leaves a trace: called, instantiated or its attributes read by name.
TRAP = types.ModuleType("axion_schema_trap")
TRAP.CALLS = []
TRAP.record = lambda *a, **k: TRAP.CALLS.append((a, k))
TRAP.Recorder = type("Recorder", (torch.nn.Module,), {"__init__": lambda self, *a, **k: TRAP.record(*a)})
#: Never imported: the reader must not import it (or anything) from a name.
UNIMPORTED = "axion_schema_unimported_module"

DOTTED = [
    "axion_schema_trap.record",
    "axion_schema_trap.Recorder",
    f"{UNIMPORTED}.Foo",
    "this",
    "this.Foo",
    "os.system",
    "builtins.exec",
    "torch.nn.Parameter",
    "torch.cuda.memory._dump_snapshot",
    "terratorch.models.heads.regression_head.RegressionHead",
    "axion_terratorch.models.TerraMindResidualGrounding",
    "TerraMindResidualGrounding",
    "TerraMindGenerativeGrounding",
    "SARGuidedFilter",
    "TerraMind_v1_tiny.pt",
]
JSON = [f'{{"class_path": "{name}", "init_args": {{}}}}' for name in DOTTED[:6]]
KEYS = ["class_path", "init_args", "variant", "bands", "lora", "rank", "decoder_channels", "ckpt_path",
        "final_act", "norm_layer", "__init__", "dict_kwargs", "gate", "timesteps"]  # fmt: skip

leaves = st.one_of(
    st.sampled_from(DOTTED + JSON),
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=4),
        st.fixed_dictionaries({"class_path": st.sampled_from(DOTTED + JSON), "init_args": children}),
    ),
    max_leaves=30,
)


def shared(node: object, levels: int) -> object:
    """``levels`` levels of ``[x, x]`` over ``node``: 2**levels leaves, ``levels`` distinct lists."""
    for _ in range(levels):
        node = [node, node]
    return node


def deep(node: object, levels: int) -> object:
    for _ in range(levels):
        node = {"init_args": node}
    return node


configs = st.one_of(
    trees,
    st.fixed_dictionaries(
        {
            "class_path": st.sampled_from(DOTTED + JSON),
            "init_args": st.dictionaries(st.sampled_from(KEYS), trees),
        }
    ),
    st.builds(shared, trees, st.integers(0, 60)),
    st.builds(deep, trees, st.integers(0, 2000)),
    st.builds(
        lambda arg, value: {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], arg: value}},
        st.sampled_from(KEYS),
        trees,
    ),
)


@fuzz_settings(300)
@given(configs)
def test_fuzzed_configs_give_a_spec_or_one_line_without_importing_or_calling(config):
    sys.modules[TRAP.__name__] = TRAP
    modules = set(sys.modules)
    start = time.perf_counter()
    try:
        spec = read_model_config(config, "fuzz.ckpt")
    except ModelConfigError as error:
        message = str(error)
        assert "\n" not in message
        assert message.startswith("fuzz.ckpt")
        record("model config schema", f"ModelConfigError: {error_kind(message.partition(': ')[2])}")
    else:
        assert isinstance(spec, ModelSpec)
        record("model config schema", f"read: {spec.kind}")
    assert time.perf_counter() - start < 1.0
    assert set(sys.modules) == modules
    assert TRAP.CALLS == []


def test_a_dag_of_2_to_the_40_leaves_is_refused_at_once():
    """Issue 22, case 4: the old walk visited every leaf (2**20 leaves took 4.4 s)."""
    config = {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], "bands": shared("B02", 40)}}
    start = time.perf_counter()
    with pytest.raises(ModelConfigError, match=r"more than 10000 entries|deeper than"):
        read_model_config(config, "dag.ckpt")
    wide = {"init_args": {f"k{i}": shared(1, 12) for i in range(3)}}  # shallow, 3 * 4096 leaves
    with pytest.raises(ModelConfigError, match=rf"more than {MAX_NODES} entries \(shared ones counted"):
        check_bounded(wide, "wide.ckpt")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"decoder_channels": 300000},
            r"init_args\.decoder_channels: expected an integer in \[1, 4096\], got 300000",
        ),
        ({"decoder_channels": True}, r"decoder_channels: expected an integer"),
        ({"variant": "huge"}, r"init_args\.variant: expected one of \['tiny', 'small', 'base', 'large'\]"),
        ({"bands": "B02"}, r"init_args\.bands: expected a list of 1 to 64 names"),
        ({"bands": [1, 2]}, r"init_args\.bands\[0\]: expected a string"),
        ({"lora": {"rank": 0}}, r"init_args\.lora\.rank: expected an integer in \[1, 1024\]"),
        ({"lora": {"class_path": "x.Y"}}, r"init_args\.lora: unknown key 'class_path'"),
        ({"final_act": "torch.cuda.memory._dump_snapshot"}, r"unknown key 'final_act' \(known: variant"),
        ({"pretrained": "yes"}, r"init_args\.pretrained: expected true or false"),
    ],
)
def test_each_field_is_checked_by_name(change, expected):
    config = {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], **change}}
    with pytest.raises(ModelConfigError, match=r"^bad\.ckpt: model.*" + expected):
        read_model_config(config, "bad.ckpt")


def test_the_model_is_sized_on_the_meta_device_before_it_is_allocated():
    spec = read_model_config(
        {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], "decoder_channels": 4096}}, "big"
    )
    start = time.perf_counter()
    with pytest.raises(
        ModelConfigError,
        match=r"big: the model config describes TerraMindResidualGrounding with [\d,]+ parameters, more than 1,000,000",
    ):
        build_on_meta(spec, "big", limit=1_000_000)
    assert time.perf_counter() - start < 10
    meta = build_on_meta(read_model_config(TINY_CONFIG, "tiny"), "tiny")
    assert all(p.is_meta for p in meta.parameters())


def test_weights_of_other_shapes_are_refused_before_the_real_build(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["init_args"]["decoder_channels"] = 16
    path = write_checkpoint(tiny_model(), tmp_path / "other.ckpt", config=config)
    with pytest.raises(
        CheckpointError,
        match=r"other\.ckpt: the weights do not fit the TerraMindResidualGrounding built from .*other\.ckpt \(hyper_parameters\): .* in the checkpoint",
    ):
        load_model(path)


def test_the_spec_round_trips_through_its_config():
    spec = read_model_config(TINY_CONFIG, "tiny")
    assert read_model_config(spec.to_config(), "again") == spec
    assert spec.replace(pretrained=True, unknown=1).init_args["pretrained"] is True
    assert "unknown" not in spec.replace(unknown=1).init_args
