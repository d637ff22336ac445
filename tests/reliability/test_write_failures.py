"""Issue 22, section 6: a write that fails part-way (a full disk; here a file size limit, which fails the
same writes) is one error naming the output and the cause, and leaves no output behind. Before, GDAL
reported the failure on closing only as a log line: exit 0 and an unreadable GeoTIFF."""

import resource
import signal

import pytest
from inference.scene_data import PointwiseGrounding, write_pair

from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.scene import GroundingOptions


@pytest.fixture
def file_size_limit():
    """Limit files this process writes to 20 kB (SIGXFSZ ignored: writes past it fail with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_write_names_the_output_and_leaves_nothing(tmp_path, file_size_limit):
    s1, optical = write_pair(tmp_path / "in", 64, 64)
    output = tmp_path / "out" / "grounded.tif"
    output.parent.mkdir()
    options = GroundingOptions(window=32, overlap=8, progress=False)
    file_size_limit()
    with pytest.raises(OSError, match=r"^cannot write .*grounded\.tif: .*(full disk|disk of .* is full)"):
        predict_scene(PointwiseGrounding(), s1, optical, output, options, lpips=False)
    assert list(output.parent.iterdir()) == []
