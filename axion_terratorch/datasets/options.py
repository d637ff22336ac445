"""Options shared by every real-data source: bands, units, tile size, Stage 2 input, bad tiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from axion_terratorch.argument_bounds import check_at_least, check_positive
from axion_terratorch.constants import DEFAULT_BANDS, REFLECTANCE_SCALE, band_slots
from axion_terratorch.datasets.stage2_errors import Stage2Errors, StructuralErrors

#: What a dataset does with a tile it cannot read (see :class:`TileOptions`).
OnBadTile = Literal["error", "skip"]


@dataclass(frozen=True)
class TileOptions:
    """How tiles are read and turned into samples (the ``tiles:`` group of a data config).

    Args:
        bands: Sentinel-2 bands of the optical input and target, in output order (any of the 12
            L2A bands; they map to TerraMind's S2L2A slots through ``band_slots``).
        tile_size: Output height and width in pixels: random crop in training, centre crop in
            validation and test; smaller tiles are padded (padding is invalid in ``valid_mask``).
            ``None`` keeps the tiles as they are (they must then all have one size).
        s2_scale: Reflectance = (DN + ``s2_offset``) / ``s2_scale``; 10000 for L1C/L2A DN, 1 for
            data stored as reflectance.
        s2_offset: Added to DN before scaling: -1000 for L2A of processing baseline 04.00 (2022) on.
        s2_nodata: Sentinel-2 nodata DN when a file declares none (0 in L1C/L2A products).
        s1_nodata: Sentinel-1 nodata value when a file declares none; NaN is always nodata.
        stage2_dir: Folder of Stage 2 outputs named like the tiles (``<tile>.npz`` with key
            ``opt_v2``, or ``<tile>.tif``), reflectance on the tile's pixel grid.
        stage2_bands: Band order of Stage 2 files that carry no band descriptions.
        stage2_scale: Stage 2 reflectance = value / ``stage2_scale`` (1: stored as reflectance).
        stage2_proxy: Build the degradation proxy (``axion_terratorch.datasets.degradation``) for
            tiles without a Stage 2 output; without it such tiles are errors.
        resample_proxy: Give training samples a new proxy draw (blur, shift, band gains, noise)
            each time they are read, seeded like the random crop (a resumed run draws the same),
            instead of the tile's fixed draw: the proxy becomes an augmentation, and the model
            cannot learn the few degradations of its training tiles (``docs/quality.md``).
            Validation and test keep each tile's fixed draw. It resamples ``stage2_errors`` too.
        stage2_errors: Structural errors put into the true image before the proxy's photometric
            degradation (:class:`~axion_terratorch.datasets.stage2_errors.Stage2Errors`:
            misregistration, occlusion, content; or, by ``class_path``, any
            :class:`~axion_terratorch.datasets.stage2_errors.StructuralErrors` of your own), proxy
            tiles only; samples carry where they changed it as ``error_mask``. ``None``: none
            (``error_mask`` is 0).
        eval_stage2_errors: Put ``stage2_errors`` into validation and test tiles too (each tile's
            fixed draw). ``False``: training draws only, so validation (and the checkpoint it
            selects) and test judge the model on inputs without them, by how little it harms them.
        seed: Seed of the proxy (mixed with the tile name), of the training order and of the
            training augmentation (mixed with the step), so a resumed run sees the same batches.
        on_bad_tile: ``error`` stops with a message naming the file and the problem; ``skip`` warns,
            leaves the tile out and counts it (reported at the end of each epoch).

    Raises:
        ValueError: If an option is out of range, or ``stage2_errors`` is set without
            ``stage2_proxy``; the message names it.
    """

    bands: Sequence[str] = DEFAULT_BANDS
    tile_size: int | None = 120
    s2_scale: float = REFLECTANCE_SCALE
    s2_offset: float = 0.0
    s2_nodata: float | None = 0.0
    s1_nodata: float | None = None
    stage2_dir: str | None = None
    stage2_bands: Sequence[str] = DEFAULT_BANDS
    stage2_scale: float = 1.0
    stage2_proxy: bool = False
    resample_proxy: bool = False
    # Stage2Errors named too: a plain YAML mapping builds one, a class_path any StructuralErrors.
    stage2_errors: Stage2Errors | StructuralErrors | None = None
    eval_stage2_errors: bool = True
    seed: int = 0
    on_bad_tile: OnBadTile = "error"

    def __post_init__(self) -> None:
        for name in ("bands", "stage2_bands"):
            value = getattr(self, name)
            if isinstance(value, str):
                msg = f"{name} must be a list of band names such as ['B08'], got the string {value!r}"
                raise TypeError(msg)
            band_slots(value)
            object.__setattr__(self, name, tuple(value))
        check_at_least(16, {"tile_size": self.tile_size}, " px or None")
        check_positive({"s2_scale": self.s2_scale, "stage2_scale": self.stage2_scale})
        if self.stage2_errors is not None and not self.stage2_proxy:
            msg = (
                "tiles.stage2_errors applies to the Stage 2 proxy only (Stage 2 files are read as they "
                "are): set tiles.stage2_proxy: true, or remove stage2_errors"
            )
            raise ValueError(msg)
        if self.on_bad_tile not in get_args(OnBadTile):
            msg = f"on_bad_tile must be one of {list(get_args(OnBadTile))}, got {self.on_bad_tile!r}"
            raise ValueError(msg)

    def check_stage2_input(self) -> None:
        """Check that a Stage 2 input is configured and its folder exists (readers and data modules call this).

        Raises:
            ValueError: If neither ``stage2_dir`` nor ``stage2_proxy`` is set.
            FileNotFoundError: If ``stage2_dir`` is set but is not a folder (with or without the proxy:
                a configured folder that does not exist is a typo, not a request for the proxy).
        """
        if self.stage2_dir is None and not self.stage2_proxy:
            msg = (
                "no Stage 2 input: set tiles.stage2_dir (folder of Stage 2 outputs) or "
                "tiles.stage2_proxy: true (a degraded copy of the real Sentinel-2, see docs/data.md)"
            )
            raise ValueError(msg)
        if self.stage2_dir is not None and not Path(self.stage2_dir).is_dir():
            msg = (
                f"tiles.stage2_dir={self.stage2_dir} is not a folder: give the folder of the Stage 2 "
                "outputs, or set it to null with tiles.stage2_proxy: true"
            )
            raise FileNotFoundError(msg)
