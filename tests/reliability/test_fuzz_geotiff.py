"""Fuzzed GeoTIFF pairs: every mutated tile gives a clean sample or a BadTileError naming its file."""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzz_support import (
    assert_clean_sample,
    check_named,
    fuzz_settings,
    fuzz_summary,  # noqa: F401 - autouse: prints the case counts
    patch_tiff_tag,
    record,
    time_limit,
)
from hypothesis import given
from hypothesis import strategies as st
from tile_writers import scene, write_sparse_tif, write_tif

from axion_terratorch.constants import S2L2A_BANDS
from axion_terratorch.datasets import BadTileError, GeoTiffPairDataset, TileOptions, find_tiles
from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.tiling import Window

pytestmark = pytest.mark.slow

BANDS = ("B02", "B03", "B04", "B08")
DTYPES = ("uint8", "int8", "uint16", "int16", "int32", "uint32", "float32", "float64", "complex64")
IMAGE_WIDTH, IMAGE_LENGTH = 256, 257  # TIFF tags

mutation = st.one_of(
    st.tuples(st.just("none")),
    st.tuples(st.just("truncate"), st.sampled_from(["S1", "S2"]), st.floats(0, 1)),
    st.tuples(st.just("flip_bytes"), st.sampled_from(["S1", "S2"]), st.lists(st.floats(0, 1), max_size=8)),
    st.tuples(st.just("dtype"), st.sampled_from(["S1", "S2"]), st.sampled_from(DTYPES)),
    st.tuples(
        st.just("patch"),
        st.sampled_from(["S1", "S2"]),
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0]),
        st.tuples(st.integers(0, 23), st.integers(0, 23), st.integers(1, 24), st.integers(1, 24)),
    ),
    st.tuples(st.just("band_count"), st.sampled_from(["S1", "S2"]), st.integers(1, 14), st.booleans()),
    st.tuples(
        st.just("header_size"),
        st.sampled_from(["S1", "S2"]),
        st.sampled_from([IMAGE_WIDTH, IMAGE_LENGTH]),
        st.sampled_from([0, 1, 65535, 2**32 - 1]),
    ),
    st.tuples(st.just("huge_sparse")),
)


def write_pair(root: Path, size: int, seed: int, mutation: tuple) -> tuple[Path, Path, np.ndarray | None]:
    """Write ``a_S1.tif``/``a_S2.tif`` and apply ``mutation``; return the paths and the mask of
    pixels that must come out invalid (or ``None``)."""
    sar, optical = scene(seed, size)
    optical = optical.astype(np.uint16)
    s1, s2 = root / "a_S1.tif", root / "a_S2.tif"
    kind, *args = mutation
    invalid = None
    if kind == "dtype":
        sensor, dtype = args
        if sensor == "S1":
            sar = sar.astype(dtype)
        else:
            optical = optical.astype(dtype)
    elif kind == "patch":
        sensor, value, (row, col, h, w) = args
        invalid = np.zeros((size, size), bool)
        invalid[row : row + h, col : col + w] = True
        if sensor == "S1":
            sar = sar.copy()
            sar[:, invalid] = value if value != 0.0 else np.nan  # 0 dB is a valid backscatter
        else:
            optical = optical.astype(np.float32)
            optical[:, invalid] = value  # 0 is Sentinel-2 nodata
    if kind == "band_count" and args[0] == "S1":
        sar = np.resize(sar, (args[1], size, size))
    if kind == "band_count" and args[0] == "S2":
        optical = np.resize(optical, (args[1], size, size))
    s1_names = ["VV", "VH"][: len(sar)] if not (kind == "band_count" and args[2]) else None
    s2_names = list(S2L2A_BANDS)[: len(optical)] if not (kind == "band_count" and args[2]) else None
    if kind == "band_count":
        s1_names = s1_names if len(sar) == 2 else None
        s2_names = s2_names if len(optical) == len(S2L2A_BANDS) else None
    write_tif(s1, sar, descriptions=s1_names)
    write_tif(s2, optical, descriptions=s2_names)
    target = s1 if (args and args[0] == "S1") else s2
    if kind == "truncate":
        data = target.read_bytes()
        target.write_bytes(data[: int(args[1] * len(data))])
    elif kind == "flip_bytes":
        data = bytearray(target.read_bytes())
        for where in args[1]:
            data[min(int(where * len(data)), len(data) - 1)] ^= 0xFF
        target.write_bytes(bytes(data))
    elif kind == "header_size":
        patch_tiff_tag(target, args[1], args[2])
    elif kind == "huge_sparse":
        write_sparse_tif(s1, 60000, ["VV", "VH"])
        write_sparse_tif(s2, 60000, list(S2L2A_BANDS))
    return s1, s2, invalid


@fuzz_settings(120)
@given(size=st.integers(1, 24), seed=st.integers(0, 3), mutation=mutation)
def test_geotiff_pairs_give_a_clean_sample_or_a_named_error(size, seed, mutation):
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        root = Path(tmp)
        s1, s2, invalid = write_pair(root, size, seed, mutation)
        try:
            tiles, problems = find_tiles(root, r"(?P<tile>.+)_S1\.tif", r"(?P<tile>.+)_S2\.tif")
            assert not problems
            options = TileOptions(tile_size=None, stage2_proxy=True, bands=BANDS)
            sample = GeoTiffPairDataset(tiles, options)[0]
        except BadTileError as error:
            record("GeoTIFF pair (GeoTiffPairDataset)", check_named(error, s1, s2))
            return
        assert_clean_sample(sample, len(BANDS))
        if invalid is not None:
            assert not sample["valid_mask"][0][torch.from_numpy(invalid)].any(), "patched pixels left valid"
        record("GeoTIFF pair (GeoTiffPairDataset)", f"valid sample ({mutation[0]})")


@fuzz_settings(60)
@given(size=st.integers(1, 24), seed=st.integers(0, 3), mutation=mutation)
def test_scene_inputs_give_windows_or_a_named_error(size, seed, mutation):
    """The predict path (``SceneInputs``): checked at construction, then one window read."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        s1, s2, invalid = write_pair(Path(tmp), size, seed, mutation)
        try:
            scene = SceneInputs(s1, s2, BANDS)
            with scene.open() as reader:
                window = Window(0, 0, min(scene.height, 32), min(scene.width, 32))  # predict reads windows
                sar, optical, sar_valid, optical_valid = reader.read(window)
        except SceneInputError as error:
            record("GeoTIFF scene (SceneInputs, predict)", check_named(error, s1, s2))
            return
        assert sar.shape == (2, window.height, window.width)
        assert optical.shape == (len(BANDS), window.height, window.width)
        assert np.isfinite(sar[:, sar_valid]).all()
        assert np.isfinite(optical[:, optical_valid]).all()
        if invalid is not None and mutation[2] != 0.0:  # 0 is nodata only where a file declares it
            assert not (sar_valid & optical_valid)[invalid].any(), "patched pixels left valid"
        record("GeoTIFF scene (SceneInputs, predict)", f"read ({mutation[0]})")
