"""Offline builds fail with one message that says what to do; a zero decoder is reported, not trained."""

import warnings

import huggingface_hub.constants
import pytest

from axion_terratorch.models import TerraMindGenerativeGrounding, TerraMindResidualGrounding
from axion_terratorch.models.hub import PretrainedWeightsError


@pytest.fixture
def offline(monkeypatch):
    # this machine has no network anyway; offline mode makes the download fail at once
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.mark.usefixtures("offline")
def test_offline_pretrained_backbone_gives_one_actionable_message():
    with pytest.raises(PretrainedWeightsError) as caught:
        TerraMindResidualGrounding(variant="tiny", pretrained=True, decoder_channels=8)
    message = str(caught.value)
    assert "https://huggingface.co/ibm-esa-geospatial/TerraMind-1.0-tiny" in message
    assert "TerraMind_v1_tiny.pt" in message
    assert "ckpt_path" in message
    assert "pretrained: false" in message
    assert "not in the Hugging Face cache and HF_HUB_OFFLINE is set" in message  # refused before the download
    assert caught.value.__cause__ is None  # no chained 150-line traceback
    assert caught.value.__suppress_context__


@pytest.mark.usefixtures("offline")
def test_offline_pretrained_generative_model_names_both_downloads():
    with pytest.raises(PretrainedWeightsError, match=r"TerraMind-1\.0-Tokenizer-S2L2A") as caught:
        TerraMindGenerativeGrounding(variant="tiny", pretrained=True, timesteps=1)
    assert "TerraMind-1.0-tiny" in str(caught.value)


def test_random_generative_model_warns_that_it_cannot_train_and_stand_in_fixes_it():
    with pytest.warns(UserWarning, match="no gradient reaches the LoRA adapters"):
        plain = TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=1)
    assert not plain.tokenizer.decoder.out[-1].weight.any()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fixed = TerraMindGenerativeGrounding(
            variant="tiny", pretrained=False, timesteps=1, stand_in_decoder=True
        )
    assert not [w for w in caught if "no gradient reaches" in str(w.message)]
    assert fixed.tokenizer.decoder.out[-1].weight.any()
