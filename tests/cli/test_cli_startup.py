"""``axion-stage3 --help`` starts without torch or terratorch; the package's names still resolve.

Timings are in ``benchmarks/cli_startup.py`` (docs/performance.md); the tests assert what makes them
fast: no heavy module in ``sys.modules`` after a ``--help``, each in a fresh interpreter.
"""

import json
import subprocess
import sys

import pytest

from axion_terratorch.cli import SUBCOMMANDS

HEAVY = ("torch", "terratorch", "lightning", "torchgeo", "peft", "rasterio", "jsonargparse")

PROBE = """
import json, sys
from axion_terratorch.cli import main
try:
    main({argv!r})
except SystemExit as done:
    code = done.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_help_imports_no_heavy_module(command):
    argv = ["--help"] if command is None else [command, "--help"]
    result = probe(PROBE.format(argv=argv, heavy=HEAVY))
    assert result == {"code": 0, "heavy": []}


def test_public_names_resolve_lazily_and_a_data_module_alone_registers_the_models():
    # One interpreter (terratorch's import is most of its time), checked in order: the package alone
    # imports nothing heavy; its data modules alone register the models (a terratorch task with our
    # backbone by registry name names only our data module: examples/); the public names resolve.
    code = f"""
import json, sys
import axion_terratorch
before = sorted(m for m in {HEAVY!r} if m in sys.modules)
import axion_terratorch.datamodules
from terratorch.registry import BACKBONE_REGISTRY, FULL_MODEL_REGISTRY
by_data_module = "axion_terramind_v1_tiny_lora" in BACKBONE_REGISTRY
from axion_terratorch import SARGroundingTask, losses, metrics, models
from axion_terratorch.checkpoints import load_export
from axion_terratorch.inference import QualityCheck
print(json.dumps({{
    "before": before,
    "by_data_module": by_data_module,
    "task": SARGroundingTask.__module__,
    "stage3": losses.Stage3Loss.__name__,
    "registered": "axion_terramind_v1_tiny_lora" in BACKBONE_REGISTRY
    and "axion_terramind_v1_base_generative_grounding" in FULL_MODEL_REGISTRY,
    "dir": "SARGroundingTask" in dir(axion_terratorch),
}}))
"""
    assert probe(code) == {
        "before": [],
        "by_data_module": True,
        "task": "axion_terratorch.tasks.sar_grounding",
        "stage3": "Stage3Loss",
        "registered": True,
        "dir": True,
    }


def test_unknown_name_raises_attribute_error():
    import axion_terratorch

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        axion_terratorch.Nope  # noqa: B018
