"""benchmarks/host_syncs.py: the plugin's own code reads no device value in a training step.

A scalar read (``.item()``, ``float(t)``, ``bool(t)``) on a GPU tensor makes the host wait for the
device. The only reads whose first frame outside torch is in this package are the DDIM update's
coefficients, CPU tensors by construction (docs/performance.md classifies every site)."""

import pytest

from run_configs import OFFLINE_TEST_SIZE, load_benchmark

pytestmark = OFFLINE_TEST_SIZE

HOST_ONLY_PLUGIN_SITES = ("axion_terratorch/models/ddim.py",)


@pytest.fixture(scope="module")
def host_syncs():
    return load_benchmark("host_syncs")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["residual", "generative"])
def test_no_scalar_read_in_the_plugins_step_but_host_ddim_coefficients(host_syncs, kind):
    sites = host_syncs.count(kind, tile=32, timesteps=1, batches=2, refresh_rate=1)
    # The counter sees reads: Lightning turns the progress bar's train/loss into a number.
    assert any("convert_tensors_to_scalars" in site for site in sites)
    plugin_sites = [site for site in sites if site.startswith("axion_terratorch/")]
    assert all(site.startswith(HOST_ONLY_PLUGIN_SITES) for site in plugin_sites), plugin_sites
    if kind == "generative":
        assert plugin_sites  # the DDIM coefficients: 2 per update
