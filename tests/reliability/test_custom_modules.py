"""Issue 22, case 7: terratorch imports ``./custom_modules`` when its registry is imported, so a folder's
own code runs under any subcommand that builds a model; ``AXION_NO_CUSTOM_MODULES=1`` stops it.

The setting acts before terratorch's first import in a process, hence a subprocess for it.
"""

import importlib.util
import os
import runpy
import subprocess
import sys

from run_configs import REPO


def folder_with_custom_modules(folder):
    """``folder/custom_modules`` whose import touches ``folder/ran`` (returned)."""
    (folder / "custom_modules").mkdir()
    marker = folder / "ran"
    (folder / "custom_modules" / "__init__.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
    )
    return marker


#: ``axion-stage3 export`` of a missing checkpoint, then whether terratorch's registry was imported.
EXPORT_THEN_REPORT = """
import runpy, sys
sys.argv = ["axion-stage3", "export", "--checkpoint", "missing.ckpt", "--output", "out"]
try:
    runpy.run_module("axion_terratorch.cli", run_name="__main__")
except SystemExit as exit:
    print("exit", exit.code, "registry", "terratorch.registry.registry" in sys.modules)
"""


def test_axion_no_custom_modules_keeps_the_folder_code_from_running(tmp_path):
    marker = folder_with_custom_modules(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", EXPORT_THEN_REPORT],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "AXION_NO_CUSTOM_MODULES": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "missing.ckpt" in result.stderr
    # The command got as far as terratorch's registry (which imports ./custom_modules), and the folder's
    # code did not run.
    assert result.stdout.split() == ["exit", "2", "registry", "True"], result.stderr
    assert not marker.exists()


def test_without_it_terratorch_runs_the_folder_code(tmp_path, monkeypatch):
    """What the setting guards against (and the proof the test above is meaningful): terratorch's own
    module, run as its registry's import runs it, imports the working directory's package."""
    marker = folder_with_custom_modules(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the module appends the working directory
    monkeypatch.delitem(sys.modules, "custom_modules", raising=False)
    try:
        runpy.run_path(importlib.util.find_spec("terratorch.registry.custom_registry").origin)
    finally:
        sys.modules.pop("custom_modules", None)  # the folder's package, imported by the module run
    assert marker.exists()
