"""Issue 22, case 7: terratorch imports ``./custom_modules`` when its registry is imported, so a folder's
own code runs under any subcommand that builds a model; ``AXION_NO_CUSTOM_MODULES=1`` stops it.

Only visible in a fresh process (terratorch is imported once per process), hence subprocesses.
"""

import os
import subprocess
import sys

import pytest

from run_configs import REPO


def run_export(folder, **env):
    (folder / "custom_modules").mkdir()
    marker = folder / "ran"
    (folder / "custom_modules" / "__init__.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "axion_terratorch.cli",
            "export",
            "--checkpoint",
            "missing.ckpt",
            "--output",
            "out",
        ],
        check=False,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2, result.stderr
    assert "missing.ckpt" in result.stderr
    return marker.exists()


def test_axion_no_custom_modules_keeps_the_folder_code_from_running(tmp_path):
    assert not run_export(tmp_path, AXION_NO_CUSTOM_MODULES="1")


@pytest.mark.slow
def test_without_it_terratorch_runs_the_folder_code(tmp_path):
    """What the setting guards against (and the proof the test above is meaningful)."""
    assert run_export(tmp_path)
