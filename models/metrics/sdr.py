"""Signal-to-distortion ratios in dB: scale-invariant SDR (zero-mean, projection) and plain SNR.

Both are capped at +-:data:`CAP_DB`, so a perfect (or perfectly scaled) copy scores +100 dB
instead of infinity and averages stay finite.
"""
from __future__ import annotations

import numpy as np

from models.metrics.base import MetricError, check_pair, is_silent, require_reference

CAP_DB = 100.0


def _ratio_db(signal_energy: float, noise_energy: float) -> float:
    if noise_energy <= signal_energy * 10 ** (-CAP_DB / 10):
        return CAP_DB
    if signal_energy <= noise_energy * 10 ** (-CAP_DB / 10):
        return -CAP_DB
    return float(10 * np.log10(signal_energy / noise_energy))


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR (Le Roux et al. 2019) of ``est`` vs ``ref`` ([N] each), in dB.

    Both are made zero-mean; the target is the projection of ``est`` on ``ref``.
    """
    check_pair(ref, est)
    require_reference(ref)
    if is_silent(est):
        raise MetricError("estimate is silent (SI-SDR undefined)")
    r = ref.astype(np.float64) - np.mean(ref, dtype=np.float64)
    e = est.astype(np.float64) - np.mean(est, dtype=np.float64)
    ref_energy = float(np.dot(r, r))
    if ref_energy == 0.0:
        raise MetricError("reference is constant (SI-SDR undefined)")
    target = (np.dot(e, r) / ref_energy) * r
    noise = e - target
    return _ratio_db(float(np.dot(target, target)), float(np.dot(noise, noise)))


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    """SNR of ``est`` vs ``ref`` ([N] each) in dB: 10 log10(sum ref^2 / sum (ref - est)^2), no scaling."""
    check_pair(ref, est)
    require_reference(ref)
    r = ref.astype(np.float64)
    d = r - est.astype(np.float64)
    return _ratio_db(float(np.dot(r, r)), float(np.dot(d, d)))
