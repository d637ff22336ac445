"""The tensor meters count storages once, skip what existed before, and see the backward pass."""

import torch
from torch.utils.checkpoint import checkpoint

from axion_terratorch.profiling import PeakTensorMeter, SavedTensorMeter, storage_bytes

KIB = 1024


def test_storage_bytes_counts_views_once():
    a = torch.zeros(256)  # 1 KiB
    assert storage_bytes([a, a[:10], a.view(16, 16), torch.zeros(256)]) == 2 * KIB


def test_saved_meter_counts_activations_once_and_skips_parameters():
    layer = torch.nn.Linear(256, 256)
    x = torch.randn(4, 256, requires_grad=True)
    with SavedTensorMeter(exclude=layer.parameters()) as meter:
        hidden = layer(x)  # saves x (4 KiB) and the weight (a parameter: excluded)
        out = hidden.sigmoid() * hidden  # sigmoid saves its output, mul both inputs: hidden once
    assert meter.bytes == 3 * 4 * KIB
    out.sum().backward()


def test_saved_meter_does_not_count_a_checkpointed_region():
    x = torch.randn(64, 64, requires_grad=True)

    def region(t: torch.Tensor) -> torch.Tensor:
        return t.exp().sin().cos()

    with SavedTensorMeter() as plain:
        region(x).sum()
    with SavedTensorMeter() as ckpt:
        checkpoint(region, x, use_reentrant=False).sum()
    assert plain.bytes == 2 * 64 * 64 * 4  # exp saves its output, sin that too, cos the sin output
    assert ckpt.bytes < plain.bytes


def test_peak_meter_follows_allocations_and_frees():
    before = torch.ones(1024)  # existed before: not counted
    with PeakTensorMeter() as meter:
        a = before * 2  # 4 KiB
        b = a.view(32, 32)  # a view: no memory
        a.add_(1)  # in place: no memory
        c = a + b.flatten()  # 4 KiB more
        del a, b, c
        d = torch.zeros(256)  # 1 KiB
    assert meter.peak == 8 * KIB
    assert meter.current == KIB
    del d
    assert meter.current == 0


def test_peak_meter_sees_the_backward_pass():
    weight = torch.randn(512, 512, requires_grad=True)
    x = torch.randn(8, 512)
    loss = (x @ weight).relu().sum()
    with PeakTensorMeter() as meter:
        loss.backward()  # allocates at least the 1 MiB gradient of the weight
    assert meter.peak >= 512 * 512 * 4
