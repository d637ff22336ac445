"""Ground the real cloudy SEN12MS-CR scene with a checkpoint and render ``docs/images/cloudy_scene.png``.

    PYTHONPATH=. .venv/bin/python docs/scripts/cloudy_scene_picture.py --checkpoint CKPT [--data ../shared/data]

The scene (``sen12mscr_example/cloudy_no_truth``, a forest in summer, Sentinel-2 L1C with real clouds,
no cloud-free image) is grounded twice with ``axion-stage3 predict``, as a user runs it: without and
with ``--fallback input``. The figure shows the SAR (VV), the cloudy input, both outputs and the change
``|output - input|``; the verdicts of the quality check (the sidecars) are printed and written beside
the PNG as JSON. RGB is B04/B03/B02 with one stretch for every panel.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from figures import save_figure

from axion_terratorch.datasets.sen12mscr import SEN12MS_S2_BANDS

REPO = Path(__file__).resolve().parents[2]
SCENE = "ROIs1868_summer_19_p30"
#: Reflectance shown as white.
WHITE = 0.3
#: Sidecar fields kept in the JSON beside the picture.
FIELDS = (
    "quality_flag",
    "quality_reasons",
    "fallback_windows",
    "windows",
    "sar_agreement_input",
    "sar_agreement",
)


def rgb(reflectance: np.ndarray) -> np.ndarray:
    """(3+, H, W) B02, B03, B04 first -> (H, W, 3) display RGB."""
    return np.clip(np.moveaxis(reflectance[[2, 1, 0]], 0, -1) / WHITE, 0, 1) ** (1 / 1.5)


def read(path: Path, scale: float = 1.0) -> np.ndarray:
    """Every band of ``path`` as float32 divided by ``scale``."""
    with rasterio.open(path) as src:
        return src.read().astype(np.float32) / scale


def predict(checkpoint: Path, s1: Path, optical: Path, output: Path, fallback: str) -> dict:
    """``axion-stage3 predict`` on the scene; its sidecar."""
    command = [
        str(Path(sys.executable).with_name("axion-stage3")),
        "predict",
        "--checkpoint",
        str(checkpoint),
    ]
    command += ["--s1", str(s1), "--optical", str(optical), "--output", str(output), "--optical-units", "dn"]
    command += ["--bands", *SEN12MS_S2_BANDS, "--fallback", fallback, "--no-lpips", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 3):
        sys.exit(f"predict failed ({result.returncode}): {result.stderr.strip()}")
    return json.loads(output.with_suffix(".json").read_text())


def main() -> None:
    """Ground the scene twice, draw the figure, write the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "images" / "cloudy_scene.png")
    args = parser.parse_args()
    folder = args.data / "sen12mscr_example" / "cloudy_no_truth"
    s1, optical = folder / "s1" / f"{SCENE}.tif", folder / "s2_cloudy" / f"{SCENE}.tif"
    with tempfile.TemporaryDirectory() as tmp:
        outputs, sidecars = {}, {}
        for fallback in ("none", "input"):
            path = Path(tmp) / f"{fallback}.tif"
            sidecars[fallback] = predict(args.checkpoint, s1, optical, path, fallback)
            outputs[fallback] = read(path)
    cloudy = read(optical, 10000.0)[[SEN12MS_S2_BANDS.index(b) for b in ("B02", "B03", "B04", "B08")]]
    sar = read(s1)[0]
    change = np.abs(outputs["none"] - cloudy).max(axis=0)
    panels = [
        ("S1 VV (dB)", sar, {"cmap": "gray", "vmin": -25, "vmax": 0}),
        ("cloudy input (L1C)", rgb(cloudy), {}),
        ("grounded", rgb(outputs["none"]), {}),
        ("grounded, --fallback input", rgb(outputs["input"]), {}),
        ("|output - input| (max band)", change, {"cmap": "magma", "vmin": 0, "vmax": 0.05}),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.3))
    for axis, (title, image, style) in zip(axes, panels, strict=True):
        axis.imshow(image, **style)
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    verdict = sidecars["none"].get("quality_flag")
    figure.suptitle(f"SEN12MS-CR {SCENE}: real clouds, no truth; check: {verdict}", fontsize=10)
    figure.tight_layout()
    save_figure(figure, args.output)
    facts = {name: {k: sidecar.get(k) for k in FIELDS if k in sidecar} for name, sidecar in sidecars.items()}
    args.output.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n")
    print(json.dumps(facts, indent=2))  # noqa: T201 - the script's report


if __name__ == "__main__":
    main()
