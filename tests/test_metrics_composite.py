"""Composite measures: the vectorised WSS/LLR/segSNR against a frame-by-frame loop written from the
published definitions (Hu & Loizou 2008, as ported in the MP-SENet/CMGAN compute_metrics.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models.metrics import composite
from models.metrics.base import MetricError

RATE = 16_000


def _speechlike(n: int, seed: int) -> np.ndarray:
    """Harmonic bursts with a formant-ish filter and pauses: enough structure for LPC and WSS."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = np.clip(np.sin(2 * np.pi * 1.3 * t), 0, None) ** 0.5
    x = voiced * envelope + 0.01 * rng.standard_normal(n)
    x = np.convolve(x, [1.0, -0.6, 0.2], mode="same")
    return 0.3 * x / np.max(np.abs(x))


def _loop_reference(clean, processed, fs):
    """Frame-by-frame WSS, LLR and segSNR means (independent of the vectorised code)."""
    win = round(30 * fs / 1000)
    hop = win // 4
    window = 0.5 * (1 - np.cos(2 * math.pi * np.arange(1, win + 1) / (win + 1)))
    n_fft = 2 ** math.ceil(math.log2(2 * win))
    half = n_fft // 2
    filt = composite._critical_band_filters(fs, half)
    nb = filt.shape[0]

    wss = []
    for f in range(int(len(clean) / hop - win / hop)):
        es = []
        for x in (clean, processed):
            fr = x[f * hop: f * hop + win] / 32768 * window
            spec = np.abs(np.fft.fft(fr, n_fft)) ** 2
            es.append(10 * np.log10(np.maximum(filt @ spec[:half], 1e-10)))
        weights, slopes = [], []
        for e in es:
            s = e[1:] - e[:-1]
            peak = np.empty(nb - 1)
            for i in range(nb - 1):
                if s[i] > 0:
                    n = i
                    while n < nb - 1 and s[n] > 0:
                        n += 1
                    peak[i] = e[n - 1]
                else:
                    n = i
                    while n >= 0 and s[n] <= 0:
                        n -= 1
                    peak[i] = e[n + 1]
            weights.append(20.0 / (20.0 + e.max() - e[:-1]) * (1.0 / (1.0 + peak - e[:-1])))
            slopes.append(s)
        w = (weights[0] + weights[1]) / 2
        wss.append(np.dot(w, (slopes[0] - slopes[1]) ** 2) / w.sum())

    order = 16
    llr = []
    for f in range(int((len(clean) - win) / hop)):
        polys, lags = [], []
        for x in (clean, processed):
            fr = x[f * hop: f * hop + win] * window
            r = np.array([np.dot(fr[: win - k], fr[k:]) for k in range(order + 1)])
            # Levinson-Durbin, textbook form
            a = np.zeros(order + 1)
            a[0] = 1.0
            err = r[0]
            for i in range(1, order + 1):
                k = -np.dot(a[:i], r[i:0:-1]) / err
                a[: i + 1] = a[: i + 1] + k * a[: i + 1][::-1]
                err *= 1 - k * k
            polys.append(a)
            lags.append(r)
        toe = np.array([[lags[0][abs(i - j)] for j in range(order + 1)] for i in range(order + 1)])
        llr.append(math.log((polys[1] @ toe @ polys[1]) / (polys[0] @ toe @ polys[0])))

    seg = []
    for f in range(int(len(clean) / hop - win / hop)):
        c = clean[f * hop: f * hop + win] * window
        p = processed[f * hop: f * hop + win] * window
        v = 10 * math.log10(np.sum(c * c) / (np.sum((c - p) ** 2) + np.spacing(1)) + np.spacing(1))
        seg.append(min(max(v, -10), 35))

    def best(v):
        v = np.sort(np.array(v))
        return float(np.mean(v[: round(len(v) * 0.95)]))

    return best(wss), best(llr), float(np.mean(seg))


@pytest.fixture(scope="module")
def pair():
    clean = _speechlike(RATE, seed=1)
    rng = np.random.default_rng(2)
    noisy = clean + 0.05 * rng.standard_normal(clean.size)
    return clean, np.convolve(noisy, [0.9, 0.1], mode="same")


def test_frame_measures_match_loop(pair):
    clean, processed = pair
    wss, llr, seg = _loop_reference(clean, processed, RATE)
    assert composite._mean_of_best(composite.wss_frames(clean, processed, RATE)) == pytest.approx(wss, rel=1e-9)
    assert composite._mean_of_best(composite.llr_frames(clean, processed, RATE)) == pytest.approx(llr, rel=1e-7)
    assert float(np.mean(composite.segsnr_frames(clean, processed, RATE))) == pytest.approx(seg, rel=1e-12)


def test_composite_formulas(pair):
    clean, processed = pair
    wss, llr, seg = _loop_reference(clean, processed, RATE)
    pesq = 2.5
    got = composite.composite_scores(clean, processed, RATE, pesq_wb=pesq)
    assert got["csig"] == pytest.approx(min(5, max(1, 3.093 - 1.029 * llr + 0.603 * pesq - 0.009 * wss)), abs=1e-7)
    assert got["cbak"] == pytest.approx(min(5, max(1, 1.634 + 0.478 * pesq - 0.007 * wss + 0.063 * seg)), abs=1e-7)
    assert got["covl"] == pytest.approx(min(5, max(1, 1.594 + 0.805 * pesq - 0.512 * llr - 0.007 * wss)), abs=1e-7)


def test_identical_signals_are_best_case(pair):
    clean, _ = pair
    got = composite.composite_scores(clean, clean.copy(), RATE, pesq_wb=4.64)
    # LLR = 0 and WSS = 0 for identical input; segSNR saturates at 35 dB.
    assert got["csig"] == 5.0 and got["covl"] == 5.0
    assert got["cbak"] == pytest.approx(min(5, 1.634 + 0.478 * 4.64 + 0.063 * 35), abs=1e-9)


def test_short_and_silent_inputs_are_failures():
    x = _speechlike(RATE // 2, seed=3)
    with pytest.raises(MetricError, match="too short"):
        composite.composite_scores(x[:500], x[:500], RATE, pesq_wb=3.0)
    with pytest.raises(MetricError, match="reference is silent"):
        composite.composite_scores(np.zeros_like(x), x, RATE, pesq_wb=3.0)
    with pytest.raises(MetricError, match="length mismatch"):
        composite.composite_scores(x, x[:-1], RATE, pesq_wb=3.0)


def test_digital_silence_beyond_five_percent_is_a_failure():
    x = _speechlike(RATE, seed=4)
    x[: RATE // 5] = 0.0  # 20 % digital silence: LLR frames without an LPC model
    y = x + 0.01 * np.random.default_rng(0).standard_normal(x.size)
    with pytest.raises(MetricError, match="LLR undefined"):
        composite.composite_scores(x, y, RATE, pesq_wb=3.0)
    # a little silence (4 of 129 frames, under 5 %) is discarded with the worst frames, as in the reference
    x = _speechlike(RATE, seed=4)
    x[:900] = 0.0
    llr = composite.llr_frames(x, y, RATE)
    assert np.count_nonzero(np.isnan(llr)) == 4 and llr.size == 129
    assert np.isfinite(composite.composite_scores(x, y, RATE, pesq_wb=3.0)["csig"])
