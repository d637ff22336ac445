"""Memory of scene grounding does not grow with the scene (numpy allocations, traced)."""

import tracemalloc

from scene_data import PointwiseGrounding, write_pair

from axion_terratorch.inference.geotiff import SceneInputs
from axion_terratorch.inference.scene import GroundingOptions, ground_scene

OPTIONS = GroundingOptions(window=64, overlap=8, batch_size=2, progress=False, max_scored_blocks=1)


def peak_bytes(folder, size):
    s1, opt = write_pair(folder, size, size, dn=False, nodata=None)
    scene = SceneInputs(s1, opt, PointwiseGrounding.bands)
    tracemalloc.start()
    try:
        ground_scene(PointwiseGrounding(), scene, folder / "out.tif", OPTIONS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_in_scene_size(tmp_path):
    small = peak_bytes(tmp_path / "small", 256)
    large = peak_bytes(tmp_path / "large", 1024)  # 16 x the pixels
    whole_scene = 1024 * 1024 * 6 * 4  # S1 + optical as float32
    assert large < 1.25 * small + 256 * 1024, (small, large)
    assert large < whole_scene / 2, (large, whole_scene)
