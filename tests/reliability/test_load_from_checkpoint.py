"""``SARGroundingTask.load_from_checkpoint(path)`` (Lightning's classmethod, the Python route) builds a
checkpoint's ``model``, ``loss`` and ``metrics`` configs from the package's closed tables: a class path
outside them is not imported unless the caller trusts it (``trust_class_paths``)."""

import sys

import lightning
import pytest
import torch
from reliability.test_checkpoint_class_paths import evil  # noqa: F401  (fixture)
from stand_in import Brightness

from axion_terratorch import SARGroundingTask
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import SARGuidedFilter
from axion_terratorch.tasks.module_configs import UntrustedClassPathError

BANDS = ("B02", "B03", "B04", "B08")
USER_TERM = "stand_in.Brightness"


#: The model config ``terratorch fit`` records for the guided filter (which records none in Python).
MODEL = {"class_path": "axion_terratorch.models.SARGuidedFilter", "init_args": {"bands": list(BANDS)}}


def own_task() -> SARGroundingTask:
    """A task of the package's own classes (the guided filter: no weights to train, fast)."""
    return SARGroundingTask(
        SARGuidedFilter(bands=BANDS),
        loss=Stage3Loss(use_lpips=False),
        metrics=GroundingMetrics(lpips=False),
    )


def write(path, task: SARGroundingTask, **hparams) -> str:
    """``task`` saved as Lightning saves it, its hyper_parameters updated by ``hparams``."""
    saved = {**dict(task.hparams), "model": MODEL, **hparams}
    checkpoint = {
        "state_dict": task.state_dict(),
        "hyper_parameters": saved,
        "pytorch-lightning_version": lightning.__version__,
    }
    torch.save(checkpoint, path)
    return str(path)


def with_term(class_path: str) -> dict:
    """A Stage3Loss config whose ``extra_terms`` name ``class_path`` (as ``terratorch fit`` records a YAML)."""
    extra = {"mine": {"term": {"class_path": class_path}, "weight": 0.5}}
    return {
        "class_path": "axion_terratorch.losses.Stage3Loss",
        "init_args": {"use_lpips": False, "extra_terms": extra},
    }


def test_the_package_own_checkpoint_loads_without_trust(tmp_path):
    task = own_task()
    reloaded = SARGroundingTask.load_from_checkpoint(write(tmp_path / "own.ckpt", task))
    assert isinstance(reloaded.model, SARGuidedFilter)
    assert list(reloaded.model.bands) == list(BANDS)
    assert list(reloaded.loss.terms) == list(task.loss.terms)
    assert reloaded.loss.weights == task.loss.weights
    assert type(reloaded.val_metrics) is GroundingMetrics


@pytest.mark.parametrize(
    ("key", "config"),
    [
        ("model", lambda name: {"class_path": f"{name}.Foo", "init_args": {}}),
        ("loss", lambda name: {"class_path": f"{name}.Foo"}),
        ("loss", lambda name: with_term(f"{name}.Foo")),
        ("metrics", lambda name: {"class_path": f"{name}.Foo"}),
    ],
    ids=["model", "loss", "loss-term", "metrics"],
)
@pytest.mark.parametrize("instantiator", [False, True], ids=["plain", "lightning-instantiator"])
def test_a_hostile_class_path_is_not_imported(tmp_path, evil, key, config, instantiator):  # noqa: F811
    """Also when the file asks for Lightning's jsonargparse instantiator (which would import it first)."""
    name, marker = evil
    extra = (
        {
            "_instantiator": "lightning.pytorch.cli.instantiate_module",
            "_class_path": "axion_terratorch.SARGroundingTask",
        }
        if instantiator
        else {}
    )
    path = write(tmp_path / "it.ckpt", own_task(), **{key: config(name)}, **extra)
    with pytest.raises(UntrustedClassPathError) as error:
        SARGroundingTask.load_from_checkpoint(path)
    message = str(error.value)
    assert "\n" not in message
    assert f"{name}.Foo" in message
    assert "trust_class_paths" in message
    assert f"hyper_parameters: {key}" in message
    assert name not in sys.modules
    assert not marker.exists()


def test_a_json_class_spec_in_a_field_is_refused_as_a_string(tmp_path, evil):  # noqa: F811
    name, _ = evil
    metrics = {
        "class_path": "GroundingMetrics",
        "init_args": {"lpips_net": f'{{"class_path": "{name}.Foo"}}'},
    }
    with pytest.raises(ValueError, match=r"metrics\.init_args\.lpips_net: expected one of"):
        SARGroundingTask.load_from_checkpoint(write(tmp_path / "it.ckpt", own_task(), metrics=metrics))


def test_a_user_term_loads_with_the_opt_in_only(tmp_path):
    path = write(tmp_path / "mine.ckpt", own_task(), loss=with_term(USER_TERM))
    key = r"loss\.init_args\.extra_terms\.mine\.term\.class_path names 'stand_in\.Brightness'"
    with pytest.raises(UntrustedClassPathError, match=key):
        SARGroundingTask.load_from_checkpoint(path)
    for trust in ([USER_TERM], True):
        reloaded = SARGroundingTask.load_from_checkpoint(path, trust_class_paths=trust)
        assert isinstance(reloaded.loss.terms["mine"], Brightness)
        assert reloaded.loss.weights["mine"] == 0.5
    with pytest.raises(UntrustedClassPathError):  # the opt-in lasts for one call
        SARGroundingTask.load_from_checkpoint(path, trust_class_paths=["other.Term"])


def test_the_opt_in_is_never_read_from_the_file(tmp_path):
    path = write(tmp_path / "it.ckpt", own_task(), loss=with_term(USER_TERM), trust_class_paths=True)
    with pytest.raises(UntrustedClassPathError):
        SARGroundingTask.load_from_checkpoint(path)
