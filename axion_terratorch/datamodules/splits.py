"""Train/val/test assignment of tiles: JSON sidecars, list files, or a seeded ratio."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from axion_terratorch.argument_bounds import check_fraction

logger = logging.getLogger(__name__)

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = get_args(Split)


def sidecar_split(path: Path) -> str | None:
    """The ``"split"`` of the JSON sidecar beside ``path`` (same stem, ``.json``), or ``None``.

    Raises:
        ValueError: If the sidecar is not valid JSON or its split is not train, val or test;
            the message names the file.
    """
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        split = json.loads(sidecar.read_text()).get("split")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError, RecursionError) as error:
        msg = f"{sidecar}: not a JSON object ({error})"
        raise ValueError(msg) from error
    if split is not None and split not in SPLITS:
        msg = f"{sidecar}: split {split!r} is not one of {list(SPLITS)}"
        raise ValueError(msg)
    return split


def read_split_list(path: str | os.PathLike[str]) -> list[str]:
    """Tile names of a list file: one per line (file suffixes dropped); blank and ``#`` lines skipped.

    Raises:
        FileNotFoundError: If the file does not exist; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"split list {path} not found"
        raise FileNotFoundError(msg)
    lines = (line.strip() for line in path.read_text().splitlines())
    return [
        Path(line).stem if Path(line).suffix in {".npz", ".tif", ".tiff"} else line
        for line in lines
        if line and not line.startswith("#")
    ]


def ratio_split(
    names: Sequence[str],
    val_ratio: float,
    test_ratio: float,
    seed: int,
    group: Callable[[str], str] | None = None,
) -> dict[str, list[str]]:
    """Shuffle ``names`` (or their groups) with ``seed`` and cut them into train, val and test.

    Args:
        names: Tile names.
        val_ratio: Fraction for validation (at least one tile when > 0).
        test_ratio: Fraction for test (at least one tile when > 0).
        seed: Shuffle seed: the same names and seed give the same splits.
        group: Tiles with the same ``group(name)`` stay in one split (e.g. seasons of a location).

    Raises:
        ValueError: If a ratio is outside [0, 1) or together they leave no training tile.

    Why not torchgeo's ``group_shuffle_split``: it cuts two ways (train and test) and rounds a
    ratio to the nearest number of groups, refusing a side with none; this split cuts three ways,
    gives at least one group to a split whose ratio is above 0 (a 5 % validation split of 10 tiles
    is 1 tile, not 0), allows ``val_ratio=0`` or ``test_ratio=0``, and keeps the assignment of
    earlier runs with the same seed (switching would move tiles between splits).
    """
    check_fraction({"val_ratio": val_ratio, "test_ratio": test_ratio})
    key = group or (lambda name: name)
    groups = sorted({key(name) for name in names})
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = int(np.ceil(val_ratio * len(groups)))
    n_test = int(np.ceil(test_ratio * len(groups)))
    if n_val + n_test >= len(groups):
        msg = f"val_ratio={val_ratio} and test_ratio={test_ratio} leave no training tile of {len(groups)}"
        raise ValueError(msg)
    of_group = {}
    for rank, index in enumerate(order):
        of_group[groups[index]] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return {split: [n for n in names if of_group[key(n)] == split] for split in SPLITS}


def assign_splits(
    names: Sequence[str],
    sidecars: Mapping[str, str | None],
    split_files: Mapping[str, str] | None,
    val_ratio: float,
    test_ratio: float,
    seed: int,
    group: Callable[[str], str] | None = None,
) -> dict[str, list[str]]:
    """Splits of ``names``: from ``split_files`` if given, else the sidecars if any tile has one,
    else :func:`ratio_split` (by ``group`` if given).

    Raises:
        ValueError: If ``split_files`` has an unknown key, or only some tiles have a sidecar split
            (the message names one without).
    """
    if split_files:
        unknown = sorted(set(split_files) - set(SPLITS))
        if unknown:
            msg = f"split_files keys must be among {list(SPLITS)}, got {unknown}"
            raise ValueError(msg)
        listed = {split: set(read_split_list(path)) for split, path in split_files.items()}
        splits = {split: [n for n in names if n in listed.get(split, ())] for split in SPLITS}
        logger.info("splits from list files: %s", {k: len(v) for k, v in splits.items()})
        return splits
    given = {name: sidecars.get(name) for name in names}
    if any(given.values()):
        without = [name for name, split in given.items() if split is None]
        if without:
            msg = f"tile {without[0]!r} has no sidecar split while others do ({len(without)} without)"
            raise ValueError(msg)
        return {split: [n for n in names if given[n] == split] for split in SPLITS}
    return ratio_split(names, val_ratio, test_ratio, seed, group)
