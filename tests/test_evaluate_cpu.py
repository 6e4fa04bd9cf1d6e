"""The CPU-time savings of `gre evaluate` change no number: shared intermediates, reused PESQ, malloc settings."""
from __future__ import annotations

import numpy as np
import pytest

from models import evaluate as ev
from models.metrics import composite, intelligibility
from models.metrics.composite import composite_scores
from models.metrics.pesq_metrics import pesq_score
from models.metrics.suite import SuiteConfig, score_pair
from test_metrics_signals import RATE, speechlike, white_noise_at_snr

SIGNALS = [(1.3, 5.0, 0), (2.0, 0.0, 1), (2.7, 20.0, 2)]


def _pair(seconds: float, snr_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = speechlike(seconds, seed=seed)
    return x, x + white_noise_at_snr(x, snr_db, seed=seed + 10)


@pytest.mark.parametrize("seconds,snr_db,seed", SIGNALS)
def test_composite_with_reused_pesq_equals_recomputed(seconds, snr_db, seed):
    ref, est = _pair(seconds, snr_db, seed)
    with_pesq = score_pair(ref, est, SuiteConfig(metrics=("pesq_wb", "csig", "cbak", "covl")))
    alone = score_pair(ref, est, SuiteConfig(metrics=("csig", "cbak", "covl")))  # PESQ computed inside
    assert not with_pesq.errors and not alone.errors
    for m in ("csig", "cbak", "covl"):
        assert with_pesq.values[m] == alone.values[m]
    assert with_pesq.values["pesq_wb"] == pesq_score(ref, est, RATE, "wb")


@pytest.mark.parametrize("seconds,snr_db,seed", SIGNALS)
def test_composite_shared_frames_equal_the_separate_measures(seconds, snr_db, seed):
    """composite_scores (one set of windowed frames per signal) == the public per-measure functions."""
    ref, est = _pair(seconds, snr_db, seed)
    pesq_wb = 2.5
    got = composite_scores(ref, est, RATE, pesq_wb)

    def best(v):
        v = np.sort(v)
        return float(np.mean(v[: round(v.size * 0.95)]))

    wss = best(composite.wss_frames(ref, est, RATE))
    llr = best(composite.llr_frames(ref, est, RATE))
    seg = float(np.mean(composite.segsnr_frames(ref, est, RATE)))
    expected = {"csig": 3.093 - 1.029 * llr + 0.603 * pesq_wb - 0.009 * wss,
                "cbak": 1.634 + 0.478 * pesq_wb - 0.007 * wss + 0.063 * seg,
                "covl": 1.594 + 0.805 * pesq_wb - 0.512 * llr - 0.007 * wss}
    assert got == {k: min(5.0, max(1.0, v)) for k, v in expected.items()}


def test_cached_tables_are_read_only():
    for table in (composite._window(480), composite._critical_band_filters(RATE, 512),
                  composite._autocorrelation_basis(513, 16)):
        assert not table.flags.writeable


def test_stoi_norm_is_numpy_norm_bit_for_bit():
    x = np.random.default_rng(0).standard_normal((7, 15, 30))
    for axis in (1, 2):
        assert np.array_equal(intelligibility._norm(x, axis), np.linalg.norm(x, axis=axis, keepdims=True))


def test_keep_freed_memory_restores_and_changes_no_value():
    ref, est = _pair(2.0, 5.0, 3)
    cfg = SuiteConfig(metrics=tuple(m for m in ev.ALL_METRICS if not m.startswith("dnsmos")))
    before = score_pair(ref, est, cfg)
    restore = ev._keep_freed_memory()
    try:
        during = score_pair(ref, est, cfg)
    finally:
        restore()
    assert before.values == during.values and not before.errors
