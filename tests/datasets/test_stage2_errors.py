"""Structural Stage 2 errors: seeded, local to their mask, resampled per training read, from YAML."""

import numpy as np
import pytest
import torch
import yaml
from scipy import ndimage
from tile_writers import scene, write_npz

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules.augmentation import JointFlipRotate
from axion_terratorch.datasets import NpzTileDataset, TileOptions, stage2_proxy
from axion_terratorch.datasets.stage2_errors import ERROR_KINDS, ErrorSequence, Stage2Errors, StructuralErrors
from axion_terratorch.datasets.windows import SampleIndex

from run_configs import REPO

SIZE = 48


def truth(seed=0, size=SIZE):
    """Reflectance (4, size, size) with smooth structure and sharp field-like edges."""
    optical = scene(seed, size)[1][:4] / 10000
    fields = (np.add.outer(np.arange(size) // 12, np.arange(size) // 12) % 2) * 0.05
    return (optical + fields).astype(np.float32)


def draw(errors, seed=0, image=None):
    return errors.apply(truth() if image is None else image, np.random.default_rng(seed))


CONFIGS = {kind: Stage2Errors.only(kind) for kind in ERROR_KINDS} | {"all": Stage2Errors.only(*ERROR_KINDS)}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_kind_changes_the_image_only_where_its_mask_says(name):
    image = truth()
    out, mask = draw(CONFIGS[name], image=image)
    assert out.shape == image.shape
    assert out.dtype == mask.dtype == np.float32
    assert mask.shape == image.shape[1:]
    assert mask.min() >= 0
    assert mask.max() <= 1
    change = np.abs(out - image).max(axis=0)
    assert (mask == 0).any()
    assert change[mask == 0].max() < 1e-6
    assert (mask > 0.5).any()
    assert change[mask > 0.5].mean() > 0.005


def test_draws_are_seeded_and_each_kind_has_its_own_stream():
    everything = Stage2Errors.only(*ERROR_KINDS)
    first, mask = draw(everything, seed=3)
    again, mask_again = draw(everything, seed=3)
    assert np.array_equal(first, again)
    assert np.array_equal(mask, mask_again)
    assert not np.array_equal(first, draw(everything, seed=4)[0])
    # A kind draws the same with or without the others: all together covers each one alone.
    for kind in ERROR_KINDS:
        alone = draw(Stage2Errors.only(kind), seed=3)[1]
        assert (mask >= alone - 1e-6).all(), kind


def test_off_by_default_and_kinds_report_what_is_on():
    assert Stage2Errors().kinds == ()
    image = truth()
    out, mask = draw(Stage2Errors(), image=image)
    assert np.array_equal(out, image)
    assert not mask.any()
    assert Stage2Errors(misregistration_px=2, content=0.1).kinds == ("misregistration", "content")
    assert TileOptions().stage2_errors is None


def test_invalid_pixels_are_not_in_the_mask():
    valid = np.ones((SIZE, SIZE), bool)
    valid[:, :10] = False
    image = truth()
    image[:, ~valid] = np.nan
    out, mask = Stage2Errors.only(*ERROR_KINDS).apply(image, np.random.default_rng(0), valid)
    assert np.isfinite(out).all()
    assert not mask[~valid].any()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("misregistration_px", -1.0),
        ("misregistration_px", 40.0),
        ("occlusion", 1.5),
        ("content", float("nan")),
        ("occlusion_coverage", (0.5, 0.2)),
        ("content_coverage", (0.0, 0.3)),
    ],
)
def test_bad_values_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"stage2_errors.{field}"):
        Stage2Errors(**{field: value})


def test_unknown_kinds_and_errors_without_the_proxy_are_refused():
    with pytest.raises(ValueError, match="misregistration"):
        Stage2Errors.only("clouds")
    with pytest.raises(ValueError, match="stage2_proxy"):
        TileOptions(stage2_dir="stage2", stage2_errors=Stage2Errors.only("content"))


class Returns(StructuralErrors):
    """An error model of one's own that returns the arrays it is given (with a changed square)."""

    def __init__(self, image=None, mask=None):
        self.image, self.mask = image, mask

    def draw(self, image, rng):
        mask = np.zeros(image.shape[1:])
        mask[4:12, 4:12] = 1.0
        image = image + 0.1 * mask
        return (image if self.image is None else self.image), (mask if self.mask is None else self.mask)


def test_an_error_model_of_ones_own_gets_the_checks_and_the_invalid_fill():
    reflectance = truth()
    valid = np.ones(reflectance.shape[1:], dtype=bool)
    valid[:, :8] = False
    image, mask = Returns().apply(reflectance, np.random.default_rng(0), valid)
    assert image.dtype == mask.dtype == np.float32
    assert mask[4:12, 8:12].all()
    assert not mask[:, :8].any()  # invalid pixels are out of the mask
    assert np.allclose(image[:, 4:12, 8:12], reflectance[:, 4:12, 8:12] + 0.1)
    assert np.allclose(image[:, 20:, 20:], reflectance[:, 20:, 20:])
    bad = {
        r"must return an image of shape \(4, 48, 48\) .* got \(4, 8, 8\)": Returns(image=np.zeros((4, 8, 8))),
        r"and a mask of shape \(48, 48\), got .* and \(4, 48, 48\)": Returns(mask=np.zeros((4, SIZE, SIZE))),
        r"must return a mask in \[0, 1\], got values in \[2, 2\]": Returns(mask=np.full((SIZE, SIZE), 2.0)),
        "returned non-finite values": Returns(image=np.full((4, SIZE, SIZE), np.nan)),
    }
    for message, errors in bad.items():
        with pytest.raises(ValueError, match=f"^Returns.draw .*{message}"):
            errors.apply(reflectance, np.random.default_rng(0))


def test_a_sequence_applies_each_model_from_its_own_stream_and_keeps_the_largest_mask():
    content = Stage2Errors(content=1.0, content_coverage=(0.2, 0.2))
    sequence = ErrorSequence([content, Returns()])
    image, mask = sequence.apply(truth(), np.random.default_rng(0))
    first, second = np.random.default_rng(0).spawn(2)
    after_content, content_mask = content.apply(truth(), first)
    expected, square = Returns().apply(after_content, second)
    assert np.allclose(image, expected)
    assert np.array_equal(mask, np.maximum(content_mask, square))
    alone, alone_mask = ErrorSequence([content]).apply(truth(), np.random.default_rng(0))
    assert np.array_equal(alone, after_content)  # the model added at the end changed no draw of it
    assert np.array_equal(alone_mask, content_mask)
    assert content_mask.max() > 0.5
    assert mask[4:12, 4:12].min() == 1.0
    with pytest.raises(ValueError, match="at least one error model"):
        ErrorSequence([])


def dataset(root, random_crop=False, **tiles):
    write_npz(root, "a", size=SIZE)
    options = TileOptions(**{"tile_size": None, "stage2_proxy": True, **tiles})
    return NpzTileDataset([root / "a.npz"], options, random_crop=random_crop)


def test_samples_carry_the_error_mask_and_without_errors_are_unchanged(tmp_path):
    plain = dataset(tmp_path / "plain")[0]
    assert plain["error_mask"].shape == (1, SIZE, SIZE)
    assert plain["error_mask"].dtype == torch.float32
    assert not plain["error_mask"].any()
    expected = stage2_proxy(plain["target"].numpy(), "a", seed=0)
    assert torch.equal(plain["image"][OPTICAL_KEY], torch.from_numpy(expected))
    # Errors with every kind off draw nothing from the proxy's generator: the same sample.
    off = dataset(tmp_path / "off", stage2_errors=Stage2Errors())[0]
    assert torch.equal(off["image"][OPTICAL_KEY], plain["image"][OPTICAL_KEY])
    # Content errors, then the same blur, shift, gains and noise: far from the mask, the same input.
    content = Stage2Errors(content=1.0, content_coverage=(0.1, 0.1))
    errored = dataset(tmp_path / "content", stage2_errors=content)[0]
    mask = errored["error_mask"][0].numpy()
    assert mask.max() > 0.5
    far = ~ndimage.binary_dilation(mask > 0, iterations=10)
    assert far.any()
    difference = (errored["image"][OPTICAL_KEY] - plain["image"][OPTICAL_KEY]).abs().amax(0).numpy()
    assert difference[far].max() < 1e-5
    assert difference[mask > 0.5].mean() > 0.005
    assert torch.equal(errored["target"], plain["target"])


@pytest.mark.parametrize("resample", [True, False])
def test_errors_are_resampled_per_training_read_and_fixed_for_validation(tmp_path, resample):
    errors = Stage2Errors.only(*ERROR_KINDS)
    train = dataset(tmp_path / "train", random_crop=True, stage2_errors=errors, resample_proxy=resample)
    first, second = (train[SampleIndex(0, seed)] for seed in (1, 2))
    assert torch.equal(first["target"], second["target"])  # 48 px tiles read whole: a fixed window
    assert torch.equal(first["error_mask"], second["error_mask"]) is not resample
    again = train[SampleIndex(0, 1)]  # a resumed run draws the same
    assert torch.equal(again["error_mask"], first["error_mask"])
    assert torch.equal(again["image"][OPTICAL_KEY], first["image"][OPTICAL_KEY])
    val = dataset(tmp_path / "val", stage2_errors=errors, resample_proxy=resample)
    assert val[0]["error_mask"].any()
    assert torch.equal(val[0]["error_mask"], val[0]["error_mask"])
    assert torch.equal(
        val[0]["image"][OPTICAL_KEY], dataset(tmp_path / "v2", stage2_errors=errors)[0]["image"][OPTICAL_KEY]
    )


def test_errors_in_training_only_leave_validation_with_the_photometric_proxy(tmp_path):
    errors = Stage2Errors.only(*ERROR_KINDS)
    settings = {"stage2_errors": errors, "eval_stage2_errors": False, "resample_proxy": True}
    train = dataset(tmp_path / "train", random_crop=True, **settings)
    assert train[SampleIndex(0, 1)]["error_mask"].any()
    val = dataset(tmp_path / "val", **settings)[0]
    assert not val["error_mask"].any()
    # The tile's own photometric draw, as without errors at all.
    plain = dataset(tmp_path / "plain", resample_proxy=True)[0]
    assert torch.equal(val["image"][OPTICAL_KEY], plain["image"][OPTICAL_KEY])


def test_error_mask_follows_flips_and_rotations():
    torch.manual_seed(0)
    target = torch.rand(8, 4, 32, 32)
    batch = {
        "image": {SAR_KEY: torch.rand(8, 2, 32, 32), OPTICAL_KEY: target.clone()},
        "target": target,
        "valid_mask": target[:, :1] > 0.2,
        "error_mask": target[:, 1:2].clone(),
    }
    out = JointFlipRotate()(batch)
    assert torch.equal(out["error_mask"], out["target"][:, 1:2])
    assert torch.equal(out["valid_mask"], out["target"][:, :1] > 0.2)
    assert out["error_mask"].dtype == torch.float32
    assert not torch.equal(out["error_mask"], batch["error_mask"])


def test_errors_from_a_yaml_data_config_through_terratorch_fit(tmp_path, monkeypatch):
    from terratorch.cli_tools import build_lightning_cli

    write_npz(tmp_path / "tiles", "a", size=SIZE, split="train")
    write_npz(tmp_path / "tiles", "b", size=SIZE, seed=1, split="val")
    tiles = {"tile_size": 32, "stage2_dir": None, "stage2_proxy": True}
    errors = {"misregistration_px": 3.0, "occlusion": 0.5, "content": 0.3}
    config = tmp_path / "errors.yaml"
    config.write_text(
        yaml.safe_dump({"data": {"init_args": {"root": str(tmp_path / "tiles"), "tiles": tiles}}})
    )
    monkeypatch.chdir(REPO)
    args = ["-c", "configs/stage3.demo.yaml", "-c", "configs/data/npz.yaml", "-c", str(config)]
    cli = build_lightning_cli([*args, f"--data.init_args.tiles.stage2_errors={errors}"], run=False)
    assert cli.datamodule.tiles.stage2_errors == Stage2Errors(**errors)
    cli.datamodule.setup("fit")
    sample = cli.datamodule.val_dataset[0]
    assert sample["error_mask"].shape == (1, 32, 32)
    assert sample["error_mask"].max() > 0
    cli = build_lightning_cli(
        [
            *args,
            f"--data.init_args.tiles.stage2_errors={errors}",
            "--data.init_args.tiles.eval_stage2_errors=false",
        ],
        run=False,
    )
    cli.datamodule.setup("fit")
    assert not cli.datamodule.val_dataset[0]["error_mask"].any()
    assert cli.datamodule.train_dataset[SampleIndex(0, 1)]["error_mask"].any()
    with pytest.raises(ValueError, match=r"stage2_errors\.occlusion must be in \[0, 1\]"):
        build_lightning_cli([*args, "--data.init_args.tiles.stage2_errors={occlusion: 2.0}"], run=False)
    models = [{"class_path": "axion_terratorch.datasets.Stage2Errors", "init_args": errors}] * 2
    sequence = {"class_path": "axion_terratorch.datasets.ErrorSequence", "init_args": {"errors": models}}
    cli = build_lightning_cli([*args, f"--data.init_args.tiles.stage2_errors={sequence}"], run=False)
    assert cli.datamodule.tiles.stage2_errors.errors == (Stage2Errors(**errors),) * 2
