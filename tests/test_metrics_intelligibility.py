"""STOI / ESTOI: equal to pystoi on real-ish signals, edge cases as failures."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pystoi import stoi as pystoi_stoi

from models.metrics.base import MetricError
from models.metrics.intelligibility import stoi_scores
from test_metrics_signals import RATE, speechlike, white_noise_at_snr


@pytest.mark.parametrize("rate", [16_000, 10_000, 8_000])
@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 20.0])
def test_equal_to_pystoi(rate, snr_db):
    x = speechlike(2.5, seed=int(snr_db) + 7, rate=rate)
    y = x + white_noise_at_snr(x, snr_db)
    got = stoi_scores(x, y, rate)
    assert got["stoi"] == pystoi_stoi(x, y, rate)  # bit-identical
    assert got["estoi"] == pytest.approx(pystoi_stoi(x, y, rate, extended=True), abs=1e-9)


def test_estoi_is_deterministic():
    x = speechlike(2.0, seed=1)
    y = x + white_noise_at_snr(x, 0.0)
    assert stoi_scores(x, y, RATE)["estoi"] == stoi_scores(x, y, RATE)["estoi"]


def test_short_clip_is_a_failure_not_1e_5():
    x = speechlike(0.2, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pystoi_stoi(x, x, RATE) == 1e-5  # what pystoi returns
    with pytest.raises(MetricError, match="too little speech"):
        stoi_scores(x, x, RATE)


def test_silent_reference_and_length_mismatch_are_failures():
    x = speechlike(1.0, seed=2)
    with pytest.raises(MetricError, match="reference is silent"):
        stoi_scores(np.zeros_like(x), x, RATE)
    with pytest.raises(MetricError, match="length mismatch"):
        stoi_scores(x, x[:-100], RATE)
    with pytest.raises(Exception):  # pystoi's bare Exception, for the record
        pystoi_stoi(x, x[:-100], RATE)
