"""A write that fails part-way (a full disk; here a file size limit, which fails the
same writes) is one error naming the output and the cause, and leaves no output behind. Before, GDAL
reported the failure on closing only as a log line: exit 0 and an unreadable GeoTIFF."""

import contextlib
import resource
import signal

import pytest
from inference.scene_data import PointwiseGrounding, write_pair

from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.scene import GroundingOptions


@contextlib.contextmanager
def file_size_limit():
    """Limit files this process writes to 20 kB while the block runs (SIGXFSZ ignored: writes past it
    fail with EFBIG). Lifted before pytest reports the test: its own output may be a larger file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_write_names_the_output_and_leaves_nothing(tmp_path):
    s1, optical = write_pair(tmp_path / "in", 64, 64)
    output = tmp_path / "out" / "grounded.tif"
    output.parent.mkdir()
    options = GroundingOptions(window=32, overlap=8, progress=False)
    with (
        pytest.raises(OSError, match=r"^cannot write .*grounded\.tif: .*(full disk|disk of .* is full)"),
        file_size_limit(),
    ):
        predict_scene(PointwiseGrounding(), s1, optical, output, options, lpips=False)
    assert list(output.parent.iterdir()) == []
