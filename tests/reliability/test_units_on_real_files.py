"""The wrong-answer detectors of issue 22 on every real product beside the checkout (BigEarthNet v1
S1 and S2 L2A, SSL4EO-S12 S1, L2A and L1C, SEN12MS-CR S1 and L1C with the cloudy scene): each real,
correct file is read as it is, and each detector fires on the same file in the wrong form (Sentinel-1
dB as linear amplitude, DN with an undeclared sentinel nodata, DN with its sign flipped).

The detectors' thresholds were set on synthetic scenes; the margins measured here are in
docs/reliability.md ("Detector margins on real products"). Tests skip without the shared data.
"""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from inference.scene_data import write_raster

from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.tiling import Window

from run_configs import SHARED_DATA, SHARED_SEN12MSCR, SHARED_SSL4EO

BANDS = ("B02", "B03", "B04", "B08")
#: Band order of the SEN12MS-CR Sentinel-2 files.
SEN12MS_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
SENTINELS = ((-9999, np.int16), (-32768, np.int16), (65535, np.uint16))


#: Side of the crop read (SSL4EO-S12's 264 px would be sampled in 16 overlapping windows: slow).
SIDE = 256


def read(*paths: Path, indexes: list[int] | None = None) -> np.ndarray:
    """The (C, H, W) stack of ``paths`` (their ``indexes`` bands, at most :data:`SIDE` px), in the files' dtype."""
    stack = []
    for path in paths:
        with rasterio.open(path) as src:
            stack.append(src.read(indexes, window=((0, min(SIDE, src.height)), (0, min(SIDE, src.width)))))
    return np.concatenate(stack)


def sentinel1() -> dict[str, tuple[str, list[Path]]]:
    """Name -> (dataset, VV/VH files) of every real Sentinel-1 product."""
    found = {}
    if SHARED_DATA.is_dir():
        for folder in sorted((SHARED_DATA / "BigEarthNet-S1-v1.0").iterdir()):
            found[f"bigearthnet-{folder.name[-12:]}"] = (
                "ben",
                [folder / f"{folder.name}_{p}.tif" for p in ("VV", "VH")],
            )
    if SHARED_SSL4EO.is_dir():
        for folder in sorted((SHARED_SSL4EO / "s1").glob("*/*")):
            found[f"ssl4eo-{folder.name[17:32]}"] = ("ssl", [folder / "VV.tif", folder / "VH.tif"])
    if SHARED_SEN12MSCR.is_dir():
        for path in sorted(SHARED_SEN12MSCR.glob("**/s1/*.tif")):
            found[f"sen12mscr-{path.stem}"] = ("cr", [path])
    return found


def optical() -> dict[str, tuple[str, list[Path], list[int] | None]]:
    """Name -> (dataset, files, band indexes) of every real Sentinel-2 product, bands :data:`BANDS`."""
    found = {}
    if SHARED_DATA.is_dir():
        for folder in sorted(p for p in (SHARED_DATA / "BigEarthNet-v1.0").iterdir() if p.is_dir()):
            found[f"bigearthnet-l2a-{folder.name[-12:]}"] = (
                "ben",
                [folder / f"{folder.name}_{b}.tif" for b in BANDS],
                None,
            )
    if SHARED_SSL4EO.is_dir():
        for level, name in (("s2a", "l2a"), ("s2c", "l1c")):
            for folder in sorted((SHARED_SSL4EO / level).glob("*/*")):
                files = [folder / f"B{b[1:].lstrip('0')}.tif" for b in BANDS]
                found[f"ssl4eo-{name}-{folder.name[:15]}"] = ("ssl", files, None)
    if SHARED_SEN12MSCR.is_dir():
        indexes = [SEN12MS_BANDS.index(b) + 1 for b in BANDS]
        for path in sorted(
            [*SHARED_SEN12MSCR.glob("s2_cloudfree/*.tif"), *SHARED_SEN12MSCR.glob("**/s2_cloudy/*.tif")]
        ):
            found[f"sen12mscr-l1c-{path.stem}"] = ("cr", [path], indexes)
    return found


SENTINEL1, OPTICAL = sentinel1(), optical()


def ids(products: dict) -> list:
    return list(products) or [pytest.param(None, marks=pytest.mark.skip(reason="no shared data"))]


def companion(dataset: str, kind: str) -> np.ndarray:
    """The first real file of the other modality of ``dataset`` (same size), for a scene pair."""
    if kind == "optical":
        _, files, indexes = next(v for v in OPTICAL.values() if v[0] == dataset)
        return read(*files, indexes=indexes)
    _, files = next(v for v in SENTINEL1.values() if v[0] == dataset)
    return read(*files).astype(np.float32)


def scene(folder: Path, sar: np.ndarray, dn: np.ndarray, nodata: float | None = None) -> tuple[Path, Path]:
    s1 = write_raster(folder / "s1.tif", sar, ["VV", "VH"])
    opt = write_raster(folder / "optical.tif", dn, list(BANDS), nodata=nodata)
    return s1, opt


def read_all(scene_inputs: SceneInputs, shape: tuple[int, ...]):
    with scene_inputs.open() as reader:
        return reader.read(Window(0, 0, shape[-1], shape[-2]))


@pytest.mark.parametrize("name", ids(SENTINEL1))
def test_real_sentinel1_is_read_in_db_and_amplitude_is_refused(tmp_path, name):
    dataset, files = SENTINEL1[name]
    db = read(*files).astype(np.float32)
    dn = companion(dataset, "optical")
    for form in (db, (10 ** (db / 10)).astype(np.float32)):  # dB and linear power: read as they are
        s1, opt = scene(tmp_path, form, dn)
        np.testing.assert_allclose(read_all(SceneInputs(s1, opt, BANDS), db.shape)[0], db, atol=1e-3)
    s1, opt = scene(tmp_path, np.sqrt(10 ** (db / 10)).astype(np.float32), dn)
    with pytest.raises(SceneInputError, match=r"s1\.tif: Sentinel-1 looks like linear amplitude"):
        SceneInputs(s1, opt, BANDS)


@pytest.mark.parametrize("name", ids(OPTICAL))
def test_real_optical_is_read_as_dn_and_wrong_forms_are_refused(tmp_path, name):
    dataset, files, indexes = OPTICAL[name]
    dn = read(*files, indexes=indexes)
    sar = companion(dataset, "sar")
    s1, opt = scene(tmp_path, sar, dn)
    _, values, _, valid = read_all(SceneInputs(s1, opt, BANDS), dn.shape)
    assert valid.all()
    np.testing.assert_allclose(values, dn / 10000, rtol=1e-6)

    negated = -dn.astype(np.int16)  # the reported case: signed data read as reflectance or DN
    s1, opt = scene(tmp_path, sar, negated)
    for units in ("auto", "dn"):
        with pytest.raises(
            SceneInputError, match=r"optical\.tif band B\w+: \d+% of the sampled pixels are below -0\.1"
        ):
            SceneInputs(s1, opt, BANDS, optical_units=units)

    sentinel, dtype = SENTINELS[sorted(OPTICAL).index(name) % len(SENTINELS)]
    marked = dn.astype(dtype)
    rows = max(1, dn.shape[1] // 10)  # a nodata border, as at a swath edge, declared nowhere
    marked[:, :rows] = sentinel
    s1, opt = scene(tmp_path, sar, marked)
    with pytest.raises(
        SceneInputError, match=rf"optical\.tif: .* are {sentinel} .* --optical-nodata {sentinel}"
    ):
        SceneInputs(s1, opt, BANDS)
    valid = read_all(SceneInputs(s1, opt, BANDS, optical_nodata=float(sentinel)), dn.shape)[3]
    assert valid.mean() == pytest.approx(1 - rows / dn.shape[1])
