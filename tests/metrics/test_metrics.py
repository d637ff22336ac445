"""Metric properties: agreement with torchmetrics, accumulation, masks, band order, the collection."""

import math

import pytest
import torch
from scipy import ndimage
from torchmetrics.image import (
    PeakSignalNoiseRatio,
    SpectralAngleMapper,
    StructuralSimilarityIndexMeasure,
)

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.evaluation.tile_scores import score_tiles
from axion_terratorch.functional import luminance, sar_agreement
from axion_terratorch.metrics import (
    EdgeCosineAgreement,
    GroundingMetrics,
    MaskedMAE,
    MaskedPSNR,
    MaskedSSIM,
    SARAgreement,
    SARAgreementGain,
    SpectralAngle,
)
from axion_terratorch.metrics.collection import GROUNDING_METRICS, SAR_METRICS


def structured_pair(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """An optical image and a SAR image sharing one random, smooth structure (dB with speckle)."""
    g = torch.Generator().manual_seed(seed)
    field = torch.from_numpy(ndimage.gaussian_filter(torch.rand(size, size, generator=g).numpy(), 3))
    field = (field - field.min()) / (field.max() - field.min())
    optical = torch.stack([0.05 + 0.2 * field * s for s in (0.6, 0.8, 1.0, 1.6)])[None].float()
    with torch.random.fork_rng(devices=[]):  # Gamma draws from the global generator: seed it here
        torch.manual_seed(seed)
        speckle = torch.distributions.Gamma(4.5, 4.5).sample((1, 2, size, size))
    sar = 10 * torch.log10((0.02 + 0.2 * field)[None, None] * speckle).float()
    return optical, sar


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    preds = torch.rand(3, 4, 32, 32, generator=g)
    target = (preds + 0.1 * torch.randn(3, 4, 32, 32, generator=g)).clamp(0, 1)
    return preds, target


def test_unmasked_image_metrics_equal_torchmetrics(images):
    preds, target = images
    pairs = [
        (MaskedPSNR(), PeakSignalNoiseRatio(data_range=1.0)),
        (MaskedSSIM(), StructuralSimilarityIndexMeasure(data_range=1.0)),
        (SpectralAngle(), SpectralAngleMapper()),
    ]
    for ours, reference in pairs:
        ours.update(preds, target)
        reference.update(preds, target)
        assert ours.compute() == pytest.approx(reference.compute().item(), rel=1e-4), type(ours).__name__


def test_accumulating_batches_equals_one_big_batch(images):
    preds, target = images
    for make in (MaskedPSNR, MaskedSSIM, SpectralAngle, MaskedMAE):
        split, whole = make(), make()
        split.update(preds[:1], target[:1])
        split.update(preds[1:], target[1:])
        whole.update(preds, target)
        assert split.compute() == pytest.approx(whole.compute().item(), rel=1e-5), make.__name__


def test_masked_pixels_do_not_count(images):
    preds, target = images
    mask = torch.ones(3, 1, 32, 32, dtype=torch.bool)
    mask[..., :, 16:] = False
    spoiled = preds.clone()
    spoiled[..., :, 16:] = 1 - target[..., :, 16:]  # large errors only where invalid
    for make in (MaskedPSNR, SpectralAngle, MaskedMAE):
        clean, dirty = make(), make()
        clean.update(preds, target, mask)
        dirty.update(spoiled, target, mask)
        assert clean.compute() == pytest.approx(dirty.compute().item(), rel=1e-6), make.__name__
    optical, sar = structured_pair()
    noisy = optical.clone()
    noisy[..., :, 24:] = torch.rand_like(noisy[..., :, 24:])
    half = torch.ones(1, 1, 48, 48, dtype=torch.bool)
    half[..., :, 12:] = False  # 12 px margin: beyond the filters' reach
    assert sar_agreement(optical, sar, mask=half) == pytest.approx(
        sar_agreement(noisy, sar, mask=half), abs=1e-5
    )


def test_pixels_without_a_spectrum_have_no_angle(images):
    preds, target = images
    dark = preds.clone()
    dark[0, :, 0, :5] = 0  # clipped dark water: no direction, no angle
    mask = torch.ones(3, 1, 32, 32, dtype=torch.bool)
    mask[0, :, 0, :5] = False
    scored, reference = SpectralAngle(), SpectralAngle()
    scored.update(dark, target)
    reference.update(preds, target, mask)
    assert scored.compute() == pytest.approx(reference.compute().item(), rel=1e-6)


def test_psnr_of_a_known_error():
    metric = MaskedPSNR()
    metric.update(torch.full((1, 4, 8, 8), 0.5), torch.full((1, 4, 8, 8), 0.6))
    assert metric.compute() == pytest.approx(10 * math.log10(1 / 0.01), rel=1e-4)


def test_luminance_weighs_red_green_blue_by_band_name():
    """BT.601 luma of B04, B03, B02 whatever their positions (the band lists start with blue)."""
    image = torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    blue, green, red = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    expected = 0.299 * red + 0.587 * green + 0.114 * blue
    torch.testing.assert_close(luminance(image, ("B02", "B03", "B04", "B08")), expected)
    reordered = image[:, [2, 1, 0, 3]]
    torch.testing.assert_close(luminance(reordered, ("B04", "B03", "B02", "B08")), expected)


def test_tile_psnr_is_the_metrics_psnr_with_a_mask():
    generator = torch.Generator().manual_seed(0)
    preds, target = torch.rand(2, 1, 4, 16, 16, generator=generator)
    mask = torch.rand(1, 1, 16, 16, generator=generator) > 0.3
    metric = MaskedPSNR()
    metric.update(preds, target, mask)
    row = score_tiles(preds, preds, torch.zeros(1, 2, 16, 16), DEFAULT_BANDS, target=target, mask=mask)[0]
    assert row["psnr"] == pytest.approx(metric.compute().item(), rel=1e-5)
    assert (
        score_tiles(target, preds, torch.zeros(1, 2, 16, 16), DEFAULT_BANDS, target=target)[0]["psnr"]
        == math.inf
    )


def test_per_band_mae_and_band_count_check():
    preds = torch.zeros(1, 4, 4, 4)
    target = torch.arange(4.0).view(1, 4, 1, 1).expand(1, 4, 4, 4)
    metric = MaskedMAE(per_band=True)
    metric.update(preds, target)
    assert torch.allclose(metric.compute(), torch.arange(4.0))
    with pytest.raises(ValueError, match="4 bands"):
        metric.update(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


def test_identical_structure_scores_near_one_and_shuffled_scores_low():
    optical, sar = structured_pair()
    metric = SARAgreement()
    assert metric.score(optical, sar) > 0.5
    shuffled = optical.flatten(2)[..., torch.randperm(48 * 48, generator=torch.Generator().manual_seed(1))]
    assert abs(metric.score(shuffled.view_as(optical), sar)) < 0.15
    # The same structure in SAR units (no speckle) agrees almost perfectly.
    assert metric.score(optical, 10 * torch.log10(optical[:, 2:4] + 0.01)) > 0.95


def test_band_order_matters():
    """Luminance needs red, green and blue by name: a wrong band list changes the score."""
    optical, sar = structured_pair()
    optical[:, 0] = torch.rand_like(optical[:, 0])  # B02 becomes noise, B04 keeps the structure
    right = SARAgreement(bands=("B02", "B03", "B04", "B08")).score(optical, sar)
    swapped = SARAgreement(bands=("B04", "B03", "B02", "B08")).score(optical, sar)
    assert not torch.allclose(right, swapped)
    with pytest.raises(ValueError, match="B04"):
        SARAgreement(bands=("B02", "B03", "B08"))


def test_gain_is_the_difference_of_agreements():
    optical, sar = structured_pair()
    blurred = torch.from_numpy(ndimage.gaussian_filter(optical.numpy(), (0, 0, 3, 3)))
    gain = SARAgreementGain()
    gain.update(optical, blurred, sar)
    metric = SARAgreement()
    expected = metric.score(optical, sar) - metric.score(blurred, sar)
    assert gain.compute() == pytest.approx(expected.item(), abs=1e-6)
    assert gain.compute() > 0


def test_seed_formula_is_available_in_its_own_range():
    optical, sar = structured_pair()
    score = EdgeCosineAgreement().score(optical, sar)
    assert ((score >= 0) & (score <= 1)).all()


def test_collection_reports_only_what_it_received_and_resets():
    optical, sar = structured_pair()
    metrics = GroundingMetrics(lpips=False)
    metrics.update(optical, optical, sar)
    assert set(metrics.compute()) == {"sar_agreement", "sar_agreement_input", "sar_agreement_gain"}
    metrics.update(optical, optical, sar, target=optical)
    values = metrics.compute()
    assert {"psnr", "ssim", "sam"} <= set(values)
    assert values["sar_agreement_gain"] == pytest.approx(0.0, abs=1e-6)
    metrics.reset()
    metrics.update(optical, optical, sar)
    assert "psnr" not in metrics.compute()


def test_collection_can_use_the_seed_formula():
    optical, sar = structured_pair()
    seed = GroundingMetrics(lpips=False, agreement="edge_cosine")
    seed.update(optical, optical, sar)
    expected = EdgeCosineAgreement().score(optical, sar).mean()
    assert seed.compute()["sar_agreement"] == pytest.approx(expected.item(), abs=1e-6)


def test_a_clone_per_stage_has_its_prefix_and_its_own_state():
    optical, sar = structured_pair()
    metrics = GroundingMetrics(lpips=False)
    val, test = metrics.clone(prefix="val/"), metrics.clone(prefix="test/")
    val.update(optical, optical, sar, target=optical)
    assert set(val.compute()) == {f"val/{name}" for name in ("psnr", "ssim", "sam")} | {
        f"val/{name}" for name in (*SAR_METRICS, *GROUNDING_METRICS)
    }
    assert test.compute() == {}
    assert metrics.compute() == {}
