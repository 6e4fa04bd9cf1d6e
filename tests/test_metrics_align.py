"""Delay estimation by cross-correlation, and its removal."""
from __future__ import annotations

import numpy as np
import pytest

from models.metrics.align import apply_delay, estimate_delay
from test_metrics_signals import RATE, speechlike, white_noise_at_snr


@pytest.mark.parametrize("delay", [0, 1, 160, 480, 799, -37, -640])
def test_finds_a_known_delay(delay):
    x = speechlike(1.5, seed=9)
    delayed = np.concatenate([np.zeros(delay), x])[: x.size] if delay >= 0 else np.concatenate([x[-delay:], np.zeros(-delay)])
    noisy = delayed + white_noise_at_snr(x, 10.0)
    assert estimate_delay(x, noisy, RATE, 0.05) == delay
    aligned = apply_delay(delayed, delay)
    valid = slice(max(0, -delay), x.size - abs(delay))  # samples both signals really share
    assert np.array_equal(aligned[valid], x[valid])


def test_search_range_is_respected():
    x = speechlike(1.0, seed=9)
    delayed = np.concatenate([np.zeros(1200), x])  # 75 ms, outside +-50 ms
    assert abs(estimate_delay(x, delayed, RATE, 0.05)) <= 800
