"""PESQ wrapper: same numbers as the pesq package, its exceptions turned into failure reasons."""
from __future__ import annotations

import numpy as np
import pytest
import soxr
from pesq import pesq

from models.metrics.base import MetricError
from models.metrics.pesq_metrics import pesq_score
from test_metrics_signals import RATE, speechlike, white_noise_at_snr


@pytest.fixture(scope="module")
def pair():
    x = speechlike(2.0, seed=21)
    return x, x + white_noise_at_snr(x, 5.0)


def test_equal_to_the_package(pair):
    x, y = pair
    assert pesq_score(x, y, RATE, "wb") == pesq(RATE, x, y, "wb")
    x8, y8 = soxr.resample(x, RATE, 8000), soxr.resample(y, RATE, 8000)
    assert pesq_score(x8, y8, 8000, "nb") == pesq(8000, x8, y8, "nb")


def test_silent_reference(pair):
    _, y = pair
    with pytest.raises(MetricError, match="NoUtterancesError"):
        pesq_score(np.zeros_like(y), y, RATE, "wb")


def test_clip_under_a_quarter_second(pair):
    x, y = pair
    with pytest.raises(MetricError, match="BufferTooShortError"):
        pesq_score(x[:3000], y[:3000], RATE, "wb")


def test_all_zero_estimate(pair):
    x, _ = pair
    with pytest.raises(ValueError):  # what the package does
        pesq(RATE, x, np.zeros_like(x), "wb")
    with pytest.raises(MetricError, match="estimate is silent"):
        pesq_score(x, np.zeros_like(x), RATE, "wb")


def test_wrong_rate_is_a_programming_error(pair):
    x, y = pair
    with pytest.raises(ValueError, match="8000 Hz"):
        pesq_score(x, y, RATE, "nb")
