"""SEN12MS-CR folders: ``s1/``, ``s2_cloudfree/`` and ``s2_cloudy/`` GeoTIFFs of matching names."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torchgeo.datasets import SEN12MS

from axion_terratorch.constants import S1GRD_BANDS
from axion_terratorch.datasets.bands import band_positions
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import Grid, read_bands, read_header
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair

#: Folder of each modality under a SEN12MS-CR root.
S1_DIR, CLOUDFREE_DIR, CLOUDY_DIR = "s1", "s2_cloudfree", "s2_cloudy"
#: Sentinel-2 L1C bands of a SEN12MS-CR file, in file order (torchgeo's SEN12MS ``s2-all``:
#: B01 ... B08, B8A, B09, B10, B11, B12; DN = top-of-atmosphere reflectance x 10000).
SEN12MS_S2_BANDS: tuple[str, ...] = tuple(SEN12MS.BAND_SETS["s2-all"])
#: Where the Stage 2 input comes from: the cloudy acquisition, or ``tiles`` (``stage2_dir`` / proxy).
Stage2Input = Literal["cloudy", "proxy"]

_PATCH = re.compile(r"_p?\d+$")


def scene_of(name: str) -> str:
    """The scene of a SEN12MS-CR patch: its name without the patch number.

    ``ROIs1158_spring_101_30`` -> ``ROIs1158_spring_101``; ``ROIs1868_summer_19_p30`` ->
    ``ROIs1868_summer_19``. Patches of one scene are adjacent, so splits keep them together.
    """
    return _PATCH.sub("", name)


@dataclass(frozen=True)
class _Plan:
    """Resolved reads of one tile: files and 1-based band indexes, all on ``grid``."""

    s1: Path
    s2: Path | None
    cloudy: Path | None
    s2_indexes: tuple[int, ...]
    grid: Grid


class SEN12MSCRPairs(PairedTileDataset):
    """SEN12MS-CR patches: Sentinel-1, cloud-free and cloudy Sentinel-2 of one place, 256x256 px.

    Dataset features:

    * ``s1/<name>.tif``: S1 GRD, 2 bands (VV, VH), float32 backscatter in dB.
    * ``s2_cloudfree/<name>.tif``: S2 **L1C**, 13 bands in :data:`SEN12MS_S2_BANDS` order, uint16
      DN (top-of-atmosphere reflectance x 10000): the target. The ``bands`` of ``options`` are picked
      by name (B10 is never used).
    * ``s2_cloudy/<name>.tif``: the same sensor and bands with real clouds: the Stage 2 input with
      ``stage2_input="cloudy"``, in the units of the target (``s2_scale``, ``s2_offset``).
    * The three files of a tile must share one grid (CRS, transform, size), else the tile is bad.

    Headers are read at construction, so missing files, band counts and grid problems surface
    before training (see :meth:`PairedTileDataset.screen`).

    Args:
        root: SEN12MS-CR folder holding ``s1/``, ``s2_cloudfree/`` and ``s2_cloudy/``.
        names: Tile names (file stems) to read.
        options: Bands, units, tile size, bad-tile policy; the Stage 2 input with ``proxy``.
        stage2_input: ``cloudy``: ``s2_cloudy/<name>.tif`` is the Stage 2 input (real clouds);
            ``proxy``: the Stage 2 input of ``options`` (``stage2_dir`` files, else the proxy).
        targets: Read ``s2_cloudfree/`` as the target; ``False`` (prediction only, needs
            ``cloudy``) gives samples without ``target``.
        random_crop: Random windows (training) instead of centred ones.

    Raises:
        ValueError: If ``targets=False`` with ``stage2_input="proxy"`` (the proxy degrades the target).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        names: Sequence[str],
        options: TileOptions,
        stage2_input: Stage2Input = "proxy",
        targets: bool = True,
        random_crop: bool = False,
    ) -> None:
        if not targets and stage2_input != "cloudy":
            msg = "without s2_cloudfree targets the Stage 2 input must be the cloudy image: set stage2_input: cloudy"
            raise ValueError(msg)
        super().__init__(options, random_crop, reads_stage2=stage2_input == "cloudy")
        self.root = Path(root)
        self.stage2_input = stage2_input
        self.targets = targets
        self.names = sorted(names)
        self._plans: dict[str, _Plan] = {}
        problems = {}
        for name in self.names:
            try:
                self._plans[name] = self._plan(name)
            except BadTileError as error:
                problems[name] = str(error)
        self.screen(problems)

    def _plan(self, name: str) -> _Plan:
        s1 = read_header(self.root / S1_DIR / f"{name}.tif")
        optical = []
        if self.targets:
            optical.append(read_header(self.root / CLOUDFREE_DIR / f"{name}.tif"))
        if self.stage2_input == "cloudy":
            optical.append(read_header(self.root / CLOUDY_DIR / f"{name}.tif"))
        for header, bands in ((s1, S1GRD_BANDS), *((h, SEN12MS_S2_BANDS) for h in optical)):
            if header.count != len(bands):
                msg = f"{header.path}: {header.count} bands, a SEN12MS-CR file has {len(bands)} ({', '.join(bands)})"
                raise BadTileError(msg)
        reference = optical[0]
        for header in (s1, *optical[1:]):
            difference = header.grid.difference(reference.grid)
            if difference is not None:
                msg = f"{header.path} and {reference.path} are not on one grid: {difference}"
                raise BadTileError(msg)
        indexes = band_positions(SEN12MS_S2_BANDS, self.options.bands, str(reference.path))
        return _Plan(
            s1=s1.path,
            s2=optical[0].path if self.targets else None,
            cloudy=optical[-1].path if self.stage2_input == "cloudy" else None,
            s2_indexes=tuple(i + 1 for i in indexes),
            grid=reference.grid,
        )

    def read_pair(self, index: int) -> RawPair:
        """Read tile ``index``: S1 (VV, VH), the cloud-free S2 bands and, with ``cloudy``, the cloudy ones."""
        name = self.names[index]
        plan = self._plans[name]
        read = lambda path: None if path is None else read_bands(path, plan.s2_indexes, plan.grid)
        return RawPair(
            name,
            read_bands(plan.s1, range(1, len(S1GRD_BANDS) + 1), plan.grid),
            read(plan.s2),
            str(plan.s1),
            str(plan.s2 or plan.cloudy),
            stage2=read(plan.cloudy),
            stage2_source=str(plan.cloudy or ""),
        )
