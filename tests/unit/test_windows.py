import numpy as np
import pytest

from layoutlmv3_triton.serving.windows import Window, merge_word_probabilities, plan_windows


def test_short_page_is_one_window():
    assert plan_windows([1, 2, 3], max_tokens=510) == [Window(0, 3)]
    assert plan_windows([], max_tokens=510) == [Window(0, 0)]


def test_windows_cover_every_word_with_overlap():
    tokens = [3] * 1000  # 3000 tokens
    windows = plan_windows(tokens, max_tokens=510, stride=128)
    assert windows[0].start == 0 and windows[-1].end == 1000
    for w in windows:
        assert sum(tokens[w.start : w.end]) <= 510
    for a, b in zip(windows, windows[1:]):
        shared = sum(tokens[b.start : a.end])
        assert 0 < shared <= 128 and b.start > a.start


def test_a_word_longer_than_a_window_still_progresses():
    windows = plan_windows([2, 900, 2], max_tokens=510, stride=100)
    assert windows[-1].end == 3 and all(w.end > w.start for w in windows)


def test_max_windows_caps_the_page():
    assert len(plan_windows([5] * 1000, 510, 128, max_windows=2)) == 2
    with pytest.raises(ValueError):
        plan_windows([1], 100, stride=100)


def test_overlapping_windows_average_probabilities():
    p1 = np.array([[1, 0], [0.2, 0.8], [0.6, 0.4]])  # tokens of window 1: words 0, 1, 2
    p2 = np.array([[0.9, 0.1], [0.1, 0.9]])  # window 2: words 2, 3
    labels, scores = merge_word_probabilities([p1, p2], [np.array([0, 1, 2]), np.array([2, 3])], 5)
    assert labels.tolist() == [0, 1, 0, 1, -1]
    assert np.allclose(scores[:4], [1.0, 0.8, 0.75, 0.9]) and np.isnan(scores[4])
