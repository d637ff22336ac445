"""A scene-list run of ``axion-stage3 predict --scenes`` / ``--scenes-dir``: how its scenes are dealt out and resumed.

The lists themselves are read by :mod:`axion_terratorch.datasets.scene_list`.
Each scene is written to ``<output_dir>/<name>.tif`` with its sidecar ``<name>.json``; a scene whose
outputs are complete and were made by the same checkpoint and options is skipped on a rerun
(:func:`resume_key`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from axion_terratorch.constants import PathLike
from axion_terratorch.datasets.scene_list import SceneEntry

#: Settings of :class:`~axion_terratorch.inference.scene.GroundingOptions` that do not change the output.
_COSMETIC_SETTINGS = ("progress", "device")


def scene_rank(index: int, world_size: int) -> int:
    """The rank that grounds scene ``index`` of the list: scenes are dealt out round-robin."""
    return index % world_size


def resume_key(sidecar: Mapping[str, object]) -> dict[str, object]:
    """What must match for a finished scene to be skipped: inputs, checkpoint hash, how the inputs
    were read and every setting that changes the output."""
    settings = sidecar.get("settings")
    if isinstance(settings, Mapping):
        settings = {k: v for k, v in settings.items() if k not in _COSMETIC_SETTINGS}
    return {
        "inputs": sidecar.get("inputs"),
        "checkpoint_sha256": sidecar.get("checkpoint_sha256"),
        "input_options": sidecar.get("input_options"),
        "settings": settings,
        "lpips_note": sidecar.get("lpips_note"),
    }


def finished_sidecar(output: PathLike, expected: Mapping[str, object]) -> dict[str, object] | None:
    """The sidecar of ``output`` if both files exist and its :func:`resume_key` equals ``expected``."""
    output = Path(output)
    sidecar = output.with_suffix(".json")
    if not (output.is_file() and sidecar.is_file()):
        return None
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or resume_key(data) != dict(expected):
        return None
    return data


def expected_key(
    entry: SceneEntry,
    checkpoint_sha256: str | None,
    input_options: Mapping[str, object],
    settings: Mapping[str, object],
    lpips_note: str | None,
) -> dict[str, object]:
    """:func:`resume_key` of the sidecar a run would write for ``entry`` (as read back from JSON)."""
    sidecar = {
        "inputs": {"s1": str(entry.s1), "optical": str(entry.optical)},
        "checkpoint_sha256": checkpoint_sha256,
        "input_options": input_options,
        "settings": settings,
        "lpips_note": lpips_note,
    }
    return resume_key(json.loads(json.dumps(sidecar)))
