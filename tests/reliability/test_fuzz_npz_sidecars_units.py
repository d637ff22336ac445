"""Fuzzed NPZ tiles, Stage 2 files, JSON sidecars and unit handling: a clean result or a named error."""

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_support import (
    assert_clean_sample,
    check_named,
    fuzz_settings,
    fuzz_summary,  # noqa: F401 - autouse: prints the case counts
    record,
    time_limit,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tile_writers import write_npz

from axion_terratorch.datamodules.splits import SPLITS, sidecar_split
from axion_terratorch.datasets import BadTileError, NpzTileDataset, TileOptions
from axion_terratorch.datasets.bands import band_positions, normalize_band
from axion_terratorch.datasets.units import SAR_DB_MEDIAN_RANGE, dn_to_reflectance, sar_to_db

pytestmark = pytest.mark.slow

BANDS = ("B02", "B03", "B04", "B08")
KEYS = ("s1_vv", "s1_vh", "s2_b2", "s2_b3", "s2_b4", "s2_b8")
DTYPES = ("bool", "uint8", "int16", "uint16", "int64", "float16", "float32", "float64", "complex64", "U4")


class CreatesFile:
    """Unpickling this object would create ``path`` (the proof that a reader executed a pickle)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


key_change = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(KEYS)),
    st.tuples(st.just("rename"), st.sampled_from(KEYS), st.sampled_from(["S1_VV", "s2_b02", "s1_vv.npy"])),
    st.tuples(st.just("dtype"), st.sampled_from(KEYS), st.sampled_from(DTYPES)),
    st.tuples(st.just("shape"), st.sampled_from(KEYS), st.lists(st.integers(0, 12), max_size=3)),
    st.tuples(st.just("patch"), st.sampled_from(KEYS), st.sampled_from([np.nan, np.inf, -np.inf, 1e30])),
    st.tuples(st.just("pickle"), st.sampled_from(KEYS)),
)
file_change = st.one_of(
    st.tuples(st.just("none")),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip_bytes"), st.lists(st.floats(0, 1), min_size=1, max_size=8)),
    st.tuples(st.just("huge_header"), st.sampled_from(KEYS)),
)


def write_tile(
    root: Path, size: int, seed: int, changes: list, file_change: tuple, huge_everywhere: bool = False
) -> tuple[Path, Path]:
    """Write tile ``a.npz`` with ``changes`` to its arrays and ``file_change`` to its bytes; return it and
    the file a pickle would create."""
    marker = root / "pickle_ran"
    path = write_npz(root, "a", size=size, seed=seed)
    arrays: dict = dict(np.load(path))
    for kind, key, *args in sorted(changes, key=lambda change: change[0] == "pickle"):  # pickles last
        if key not in arrays:
            continue
        if kind == "drop":
            del arrays[key]
        elif kind == "rename":
            arrays[args[0]] = arrays.pop(key)
        elif kind == "dtype":
            arrays[key] = arrays[key].astype(args[0])
        elif kind == "shape":
            arrays[key] = np.resize(arrays[key], tuple(args[0]))
        elif kind == "patch":
            patched = arrays[key].astype(np.float32)
            patched[: size // 2, : size // 3 + 1] = args[0]
            arrays[key] = patched
        elif kind == "pickle":
            arrays[key] = np.full(arrays[key].shape, CreatesFile(str(marker)), dtype=object)
    np.savez(path, **arrays)
    data = bytearray(path.read_bytes())
    if file_change[0] == "truncate":
        data = data[: int(file_change[1] * len(data))]
    elif file_change[0] == "flip_bytes":
        for where in file_change[1]:
            data[min(int(where * len(data)), len(data) - 1)] ^= 0xFF
    elif file_change[0] == "huge_header":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for key, array in arrays.items():
                if key == file_change[1] or huge_everywhere:
                    header = io.BytesIO()
                    shape = {"descr": "<f4", "fortran_order": False, "shape": (200000, 200000)}
                    np.lib.format.write_array_header_1_0(header, shape)
                    archive.writestr(f"{key}.npy", header.getvalue() + b"\0" * 64)
                else:
                    with archive.open(f"{key}.npy", "w") as f:
                        np.lib.format.write_array(f, np.asarray(array), allow_pickle=True)
        data = bytearray(buffer.getvalue())
    path.write_bytes(bytes(data))
    return path, marker


@fuzz_settings(150)
@given(
    size=st.integers(1, 16),
    seed=st.integers(0, 3),
    changes=st.lists(key_change, max_size=2),
    file_change=file_change,
    huge_everywhere=st.booleans(),
)
def test_npz_tiles_give_a_clean_sample_or_a_named_error(size, seed, changes, file_change, huge_everywhere):
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        root = Path(tmp)
        path, marker = write_tile(root, size, seed, changes, file_change, huge_everywhere)
        try:
            options = TileOptions(tile_size=None, stage2_proxy=True, bands=BANDS)
            sample = NpzTileDataset([path], options)[0]
        except BadTileError as error:
            outcome = check_named(error, path)
        else:
            assert_clean_sample(sample, len(BANDS))
            outcome = f"valid sample ({', '.join(sorted({c[0] for c in changes})) or file_change[0]})"
        assert not marker.exists(), "a pickle in the NPZ was executed"
        record("NPZ tile (NpzTileDataset)", outcome)


@fuzz_settings(100)
@given(
    shape=st.just([4, 8, 8]) | st.lists(st.integers(0, 10), max_size=4),
    dtype=st.sampled_from(DTYPES),
    key=st.sampled_from(["opt_v2", "opt_v1"]),
    pickled=st.booleans(),
    truncate=st.none() | st.floats(0, 1),
)
def test_stage2_npz_gives_an_estimate_or_a_named_error(shape, dtype, key, pickled, truncate):
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), time_limit():
        warnings.simplefilter("ignore")
        root = Path(tmp)
        tile = write_npz(root / "tiles", "a", size=8)
        stage2 = root / "stage2" / "a.npz"
        stage2.parent.mkdir()
        marker = root / "pickle_ran"
        array = np.resize(np.linspace(0.01, 0.5, 64), tuple(shape)).astype(dtype)
        np.savez(stage2, **{key: np.array([CreatesFile(str(marker))], dtype=object) if pickled else array})
        if truncate is not None:
            stage2.write_bytes(stage2.read_bytes()[: int(truncate * stage2.stat().st_size)])
        try:
            options = TileOptions(tile_size=None, stage2_dir=str(stage2.parent), bands=BANDS)
            sample = NpzTileDataset([tile], options)[0]
        except BadTileError as error:
            outcome = check_named(error, stage2)
        else:
            assert_clean_sample(sample, len(BANDS))
            outcome = "valid sample"
        assert not marker.exists(), "a pickle in the Stage 2 file was executed"
        record("Stage 2 NPZ (stage2_dir)", outcome)


json_value = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8) | st.sampled_from(SPLITS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
sidecar_bytes = st.one_of(
    json_value.map(lambda v: json.dumps({"split": v}).encode()),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.sampled_from([b"[" * 100_000, b'{"split": "train"', b"\xff\xfe{}", b'{"split": NaN}']),
)


@fuzz_settings(200)
@given(content=sidecar_bytes)
def test_sidecar_split_is_a_split_or_a_value_error_naming_the_file(content):
    with tempfile.TemporaryDirectory() as tmp, time_limit():
        tile = Path(tmp) / "a.npz"
        sidecar = tile.with_suffix(".json")
        sidecar.write_bytes(content)
        try:
            split = sidecar_split(tile)
        except ValueError as error:
            check_named(error, sidecar)
            kind = "not a JSON object" if "not a JSON object" in str(error) else "split not train/val/test"
            record("JSON sidecar (sidecar_split)", f"ValueError: {kind}")
            return
        assert split is None or split in SPLITS
        record("JSON sidecar (sidecar_split)", f"split {split}")


finite_or_not = st.floats(width=32, allow_nan=True, allow_infinity=True)
sar_arrays = hnp.arrays(
    np.float32, st.tuples(st.just(2), st.integers(1, 6), st.integers(1, 6)), elements=finite_or_not
)
sar_linear = hnp.arrays(
    np.float32,
    st.tuples(st.just(2), st.integers(1, 6), st.integers(1, 6)),
    elements=st.floats(0, 1, width=32) | st.just(np.nan),
)


@fuzz_settings(200)
@given(sar=sar_arrays | sar_linear | st.just(np.full((2, 3, 3), np.nan, np.float32)))
def test_sar_units_give_db_or_a_named_error(sar):
    with warnings.catch_warnings(), time_limit():
        warnings.simplefilter("error")  # numpy warnings (overflow, empty slices) would hide garbage
        try:
            db = sar_to_db(sar.copy(), "tile.tif")
        except BadTileError as error:
            record("S1 units (sar_to_db)", check_named(error, "tile.tif"))
            return
    assert db.dtype == np.float32
    assert db.shape == sar.shape
    assert np.isnan(db[np.isnan(sar)]).all(), "nodata became a value"
    finite = db[np.isfinite(db)]
    if finite.size:
        assert SAR_DB_MEDIAN_RANGE[0] <= np.median(finite) <= SAR_DB_MEDIAN_RANGE[1]
    label = (
        "all NaN" if np.isnan(sar).all() else "linear power" if (sar[np.isfinite(sar)] >= 0).all() else "dB"
    )
    record("S1 units (sar_to_db)", f"converted ({label})")


@fuzz_settings(200)
@given(
    dn=hnp.arrays(
        np.float32, st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)), elements=finite_or_not
    ),
    scale=st.sampled_from([1.0, 10000.0]),
    offset=st.sampled_from([0.0, -1000.0]),
)
def test_optical_units_give_reflectance_or_a_named_error(dn, scale, offset):
    with warnings.catch_warnings(), time_limit():
        warnings.simplefilter("error")
        try:
            reflectance = dn_to_reflectance(dn.copy(), scale, offset, "tile.tif")
        except BadTileError as error:
            record("S2 units (dn_to_reflectance)", check_named(error, "tile.tif"))
            return
    assert reflectance.dtype == np.float32
    assert reflectance.shape == dn.shape
    assert np.isnan(reflectance[np.isnan(dn)]).all(), "nodata became a value"
    record("S2 units (dn_to_reflectance)", "converted")


@fuzz_settings(200)
@given(
    name=st.sampled_from(["b2", "B02", "B8A", "b8a", "vv", " VH ", "B12", "B1", "Blue"])
    | st.text(max_size=6),
    available=st.lists(
        st.sampled_from(["VV", "VH", "B02", "B8A", "B12"]), min_size=2, max_size=5, unique=True
    ),
)
def test_band_names_normalise_or_report_the_missing_band(name, available):
    canonical = normalize_band(name)
    assert canonical is None or normalize_band(canonical) == canonical
    try:
        positions = band_positions(available, [canonical or name], "tile.tif")
    except BadTileError as error:
        check_named(error, "tile.tif")
        record("band names (normalize_band, band_positions)", "BadTileError: band missing")
        return
    assert available[positions[0]] == (canonical or name)
    record("band names (normalize_band, band_positions)", "found")
