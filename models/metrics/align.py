"""Constant-delay removal: find the lag of the estimate against the reference by cross-correlation.

Peers such as RNNoise and DeepFilterNet delay their output by 10-30 ms; comparing sample by sample
without removing that delay ruins every intrusive metric.
"""
from __future__ import annotations

import numpy as np

DEFAULT_MAX_DELAY_S = 0.05


def estimate_delay(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int,
                   max_delay_s: float = DEFAULT_MAX_DELAY_S) -> int:
    """Delay d in samples (|d| <= max_delay) maximising sum_n est[n] ref[n - d]; d > 0: est lags ref."""
    max_lag = int(round(max_delay_s * sample_rate_hz))
    if ref.size == 0 or est.size == 0 or max_lag == 0:
        return 0
    size = 1 << int(np.ceil(np.log2(ref.size + est.size)))
    corr = np.fft.irfft(np.fft.rfft(est, size) * np.conj(np.fft.rfft(ref, size)), size)
    lags = np.arange(-max_lag, max_lag + 1)
    values = corr[lags % size]  # negative lags wrap to the end of the circular correlation
    return int(lags[int(np.argmax(values))])


def apply_delay(est: np.ndarray, delay: int) -> np.ndarray:
    """Undo a delay found by :func:`estimate_delay`: drop its first samples, or pad zeros in front."""
    if delay > 0:
        return est[delay:]
    if delay < 0:
        return np.concatenate([np.zeros(-delay, dtype=est.dtype), est])
    return est
