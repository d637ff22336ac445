import numpy as np
import pytest

from axion_terratorch.datasets.tiling import TileLayout, ramp, window_starts


@pytest.mark.parametrize(
    ("size", "window", "overlap", "expected"),
    [
        (64, 64, 8, [0]),
        (40, 64, 8, [0]),
        (64, 32, 0, [0, 32]),
        (64, 32, 16, [0, 16, 32]),
        (70, 32, 8, [0, 24, 38]),
    ],
)
def test_window_starts_cover_the_scene_and_end_at_its_edge(size, window, overlap, expected):
    assert window_starts(size, window, overlap) == expected


@pytest.mark.parametrize(("window", "overlap"), [(0, 0), (32, 32), (32, -1)])
def test_window_starts_reject_bad_settings(window, overlap):
    with pytest.raises(ValueError, match=r"window|overlap"):
        window_starts(100, window, overlap)


def test_ramp_is_positive_symmetric_and_one_inside():
    weight = ramp(32, 8)
    assert (weight > 0).all()
    np.testing.assert_allclose(weight, weight[::-1])
    assert (weight[8:24] == 1).all()
    assert weight[0] < 0.05


@pytest.mark.parametrize(
    ("height", "width", "window", "overlap"), [(70, 90, 32, 8), (64, 64, 32, 16), (20, 50, 32, 4)]
)
def test_layout_weights_sum_to_one_everywhere(height, width, window, overlap):
    layout = TileLayout(height, width, window, overlap)
    total = np.zeros((height, width))
    for w in layout:
        total[w.row : w.row + w.height, w.col : w.col + w.width] += layout.weight(w)
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)
