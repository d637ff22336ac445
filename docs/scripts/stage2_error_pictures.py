"""Render the structural Stage 2 errors on a real pair into ``docs/images/stage2_errors.png``.

    PYTHONPATH=. .venv/bin/python docs/scripts/stage2_error_pictures.py [--data ../shared/data] [--output PNG]

The pair is the SSL4EO-S12 example location (Punjab, June, L2A, 264 px: fields, canals, a town) read
through the package's own reader (:class:`~axion_terratorch.datasets.SSL4EOS12Pairs`). The top row is
the truth and each error kind alone (``Stage2Errors.only``) then all together, each drawn from the
same seed; the middle row is the change each makes (largest band difference, up to 0.05
reflectance), the bottom row the SAR (VV) and the mask each returns. RGB is B04/B03/B02, tone-mapped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from figures import save_figure

from axion_terratorch.datasets import SSL4EOS12Pairs, TileOptions
from axion_terratorch.datasets.stage2_errors import ERROR_KINDS, Stage2Errors
from axion_terratorch.datasets.units import dn_to_reflectance

REPO = Path(__file__).resolve().parents[2]
#: Draw of the errors shown.
SEED = 3
#: Side of the centre crop shown, pixels (keeps the PNG small).
CROP = 192


def main() -> None:
    """Read the pair, draw the errors, write the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "images" / "stage2_errors.png")
    args = parser.parse_args()

    options = TileOptions(bands=("B02", "B03", "B04"), tile_size=None, stage2_proxy=True)
    dataset = SSL4EOS12Pairs(args.data / "ssl4eo_s12_example", options, seasons=2)
    raw = dataset.read_pair(0)
    truth = dn_to_reflectance(raw.optical, options.s2_scale, options.s2_offset, raw.s2_source)
    start = (truth.shape[-1] - CROP) // 2
    window = (slice(None), slice(start, start + CROP), slice(start, start + CROP))
    truth, sar = truth[window], raw.sar[window]

    configs = {kind: Stage2Errors.only(kind) for kind in ERROR_KINDS}
    configs["all together"] = Stage2Errors.only(*ERROR_KINDS)
    drawn = {name: errors.apply(truth, np.random.default_rng(SEED)) for name, errors in configs.items()}

    def rgb(image: np.ndarray) -> np.ndarray:
        """B04/B03/B02: linear up to 0.2 reflectance (the ground), compressed above (cloud)."""
        return np.interp(image[::-1].transpose(1, 2, 0), [0.0, 0.2, 0.7], [0.0, 0.8, 1.0])

    fig, axes = plt.subplots(3, 5, figsize=(12.5, 8), dpi=72)
    axes[0, 0].imshow(rgb(truth))
    axes[0, 0].set_title("truth (S2 L2A)")
    axes[1, 0].set_title("change |error - truth|")
    axes[2, 0].imshow(sar[0], cmap="gray", vmin=-20, vmax=0)
    axes[2, 0].set_title("S1 VV (dB)")
    for column, (name, (image, mask)) in enumerate(drawn.items(), start=1):
        axes[0, column].imshow(rgb(image))
        axes[0, column].set_title(name)
        axes[1, column].imshow(np.abs(image - truth).max(0), cmap="gray", vmin=0, vmax=0.05)
        axes[2, column].imshow(mask, cmap="magma", vmin=0, vmax=1)
        axes[2, column].set_title(f"mask ({(mask > 0.5).mean():.0%} > 0.5)")
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle(f"Structural Stage 2 errors, SSL4EO-S12 {raw.name}, {CROP} px centre crop, seed {SEED}")
    fig.tight_layout()
    save_figure(fig, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")  # noqa: T201


if __name__ == "__main__":
    main()
