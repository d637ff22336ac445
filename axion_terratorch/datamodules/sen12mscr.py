"""Data module over a SEN12MS-CR folder: S1, cloud-free S2 (target) and cloudy S2 of matching names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

from axion_terratorch.datamodules.base import NamedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.sen12mscr import (
    CLOUDFREE_DIR,
    CLOUDY_DIR,
    S1_DIR,
    SEN12MSCRPairs,
    Stage2Input,
    scene_of,
)
from axion_terratorch.datasets.tiles import report_bad_tiles


class SEN12MSCRPairDataModule(NamedTileDataModule):
    """SEN12MS-CR pairs: ``s1/<name>.tif`` with ``s2_cloudfree/<name>.tif`` as the target.

    Tiles are the files of ``s1/``, named by stem, paired by file name with ``s2_cloudfree/`` and,
    with ``stage2_input: cloudy``, ``s2_cloudy/``; a tile missing a partner is bad (reported or
    skipped per ``tiles.on_bad_tile``, naming the missing file). The split is ``split_files`` if
    given, else a seeded ratio of the scenes (:func:`~axion_terratorch.datasets.sen12mscr.scene_of`:
    adjacent patches of a scene stay in one split). Sentinel-2 is Level-1C (DN / ``s2_scale``).

    A folder without ``s2_cloudfree/`` (real clouds, no truth) serves prediction only: all its tiles
    form the predict split, with the cloudy image as the Stage 2 input and no ``target``; fit,
    validate and test stop with an error naming the missing folder.

    Args:
        root: SEN12MS-CR folder with ``s1/``, ``s2_cloudfree/`` and ``s2_cloudy/``.
        stage2_input: ``cloudy``: the real cloudy image is the Stage 2 input (a real Stage 2 error);
            ``proxy``: the Stage 2 input of ``tiles`` (``stage2_dir`` files, else
            ``stage2_proxy``), which ``tiles`` must then set.
        **kwargs: The splits (``split_files``, ``val_ratio`` ...) of :class:`NamedTileDataModule`
            and the ``tiles`` (SEN12MS-CR tiles are 256 px), ``batch_size`` ... of
            :class:`~axion_terratorch.datamodules.PairedTileDataModule`.

    Raises:
        ValueError: If ``stage2_input`` is neither ``cloudy`` nor ``proxy``.
        FileNotFoundError: If ``root/s1`` is missing or has no ``.tif``, ``root/s2_cloudy`` is
            missing with ``stage2_input: cloudy``, or ``root/s2_cloudfree`` is missing with
            ``stage2_input: proxy``; the message names the folder.
        BadTileError: With ``on_bad_tile: error``, for a tile missing a file (named).
    """

    def __init__(
        self, root: str | os.PathLike[str], stage2_input: Stage2Input = "proxy", **kwargs: Any
    ) -> None:
        if stage2_input not in get_args(Stage2Input):
            msg = f"stage2_input must be one of {list(get_args(Stage2Input))}, got {stage2_input!r}"
            raise ValueError(msg)
        self.stage2_input = stage2_input
        super().__init__(**kwargs)
        self.root = Path(root)
        self.targets = (self.root / CLOUDFREE_DIR).is_dir()
        s1_dir = self.root / S1_DIR
        needed = [S1_DIR, CLOUDY_DIR if stage2_input == "cloudy" else CLOUDFREE_DIR]
        for folder in needed:
            if not (self.root / folder).is_dir():
                msg = f"{self.root / folder} is not a folder: SEN12MS-CR with stage2_input: {stage2_input} reads it"
                raise FileNotFoundError(msg)
        names = sorted(path.stem for path in s1_dir.glob("*.tif"))
        if not names:
            msg = f"no .tif file in {s1_dir}"
            raise FileNotFoundError(msg)
        partners = [CLOUDFREE_DIR] if self.targets else []
        partners += [CLOUDY_DIR] if stage2_input == "cloudy" else []
        problems = {}
        for name in names:
            missing = [
                self.root / f / f"{name}.tif"
                for f in partners
                if not (self.root / f / f"{name}.tif").is_file()
            ]
            if missing:
                problems[name] = f"tile {name!r}: {s1_dir / f'{name}.tif'} has no partner {missing[0]}"
        for folder in partners:
            for path in sorted((self.root / folder).glob("*.tif")):
                if path.stem not in names:
                    problems[path.stem] = f"tile {path.stem!r}: {path} has no partner {s1_dir / path.name}"
        report_bad_tiles(problems, self.tiles.on_bad_tile, f"{type(self).__name__}(root={root})")
        self.names = [name for name in names if name not in problems]
        if self.targets:
            self.assign_splits(self.names, group=scene_of)
        else:
            self.splits = {"train": [], "val": [], "test": self.names}

    def uses_tiles_stage2(self) -> bool:
        """Whether ``tiles`` must give the Stage 2 input: only with ``stage2_input: proxy``."""
        return self.stage2_input == "proxy"

    def setup(self, stage: str) -> None:
        """Assign the datasets of ``stage`` (see :meth:`SplitDataModule.setup`).

        Raises:
            FileNotFoundError: If ``root`` has no ``s2_cloudfree/`` and ``stage`` is not ``predict``.
        """
        if not self.targets and stage != "predict":
            msg = f"{self.root / CLOUDFREE_DIR} is not a folder: {stage} needs cloud-free targets (only predict runs without)"
            raise FileNotFoundError(msg)
        super().setup(stage)

    def build_dataset(self, split: Split) -> SEN12MSCRPairs:
        """The SEN12MS-CR pairs of ``split``."""
        return SEN12MSCRPairs(
            self.root,
            self.splits[split],
            self.tiles,
            stage2_input=self.stage2_input,
            targets=self.targets,
            random_crop=split == "train",
        )
