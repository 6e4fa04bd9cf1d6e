"""Composite measures CSIG, CBAK, COVL (Hu & Loizou 2008) as computed by the MP-SENet/CMGAN
``compute_metrics.py`` (a Python port of Loizou's ``composite.m``), vectorised over frames: one
FFT per signal serves WSS and LLR (whose autocorrelation lags come from the power spectrum; equal
to the direct sums within ~1e-12 relative).

Ingredients, all on 30 ms Hann frames with a 7.5 ms hop:
- WSS, weighted spectral slope (Klatt 1982) over 25 Gaussian critical bands, mean of the best 95 %;
- LLR, log-likelihood ratio of order-16 LPC (order 10 below 10 kHz), mean of the best 95 %;
- segSNR, segmental SNR clamped to [-10, 35] dB, mean over all frames;
- wide-band PESQ, passed in (computed once for ``pesq_wb``).

CSIG = 3.093 - 1.029 LLR + 0.603 PESQ - 0.009 WSS
CBAK = 1.634 + 0.478 PESQ - 0.007 WSS + 0.063 segSNR
COVL = 1.594 + 0.805 PESQ - 0.512 LLR - 0.007 WSS,   each clipped to [1, 5].

Quirks of that implementation are kept because they change the numbers: the WSS frames are
divided by 32768 before the 1e-10 energy floor; the spectral-peak search takes the energy one band
before the peak (a 0/1-based index slip of the port); the 95 % cut uses Python's round; and both
signals get ``+ eps`` (2.2e-16) only when the input files had different lengths. Where that
script's LLR turns NaN (more than 5 % of frames are digital silence, which has no LPC model) the
pair records a failure instead of a NaN.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from models.metrics.base import MetricError, check_pair, finite, require_reference

ALPHA = 0.95
CRIT_CENTRE_HZ = np.array([
    50.0, 120.0, 190.0, 260.0, 330.0, 400.0, 470.0, 540.0, 617.372, 703.378, 798.717, 904.128,
    1020.38, 1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08, 2446.71, 2701.97,
    2978.04, 3276.17, 3597.63])
CRIT_BANDWIDTH_HZ = np.array([
    70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 77.3724, 86.0056, 95.3398, 105.411, 116.256,
    127.914, 140.423, 153.823, 168.154, 183.457, 199.776, 217.153, 235.631, 255.255, 276.072,
    298.126, 321.465, 346.136])
K_MAX = 20.0
K_LOCMAX = 1.0
SEGSNR_RANGE_DB = (-10.0, 35.0)


def _frame_params(sample_rate_hz: int) -> tuple[int, int]:
    win = int(round(30 * sample_rate_hz / 1000))
    return win, win // 4


@lru_cache(maxsize=8)
def _window(win: int) -> np.ndarray:
    # Hann without zero end points, as MATLAB's hanning(win). Cached (read-only): built once per process.
    window = 0.5 * (1 - np.cos(2 * math.pi * np.arange(1, win + 1) / (win + 1)))
    window.flags.writeable = False
    return window


def _frames(x: np.ndarray, win: int, hop: int, count: int) -> np.ndarray:
    """[count, win] frames starting at 0, hop, 2 hop, ... (views of ``x``)."""
    if count <= 0:
        return np.zeros((0, win))
    return np.lib.stride_tricks.sliding_window_view(x, win)[: (count - 1) * hop + 1 : hop]


def _mean_of_best(values: np.ndarray) -> float:
    """Mean of the smallest round(0.95 n) values (NaNs sort last, as np.sort does)."""
    values = np.sort(values)
    return float(np.mean(values[: round(values.size * ALPHA)]))


@lru_cache(maxsize=8)
def _critical_band_filters(sample_rate_hz: int, half_fft: int) -> np.ndarray:
    """[25, half_fft] Gaussian critical-band filters (cached, read-only: one build per process)."""
    max_freq = int(sample_rate_hz / 2)
    min_factor = math.exp(-30.0 / (2.0 * 2.303))  # -30 dB point of a filter
    j = np.arange(half_fft)
    filters = np.empty((CRIT_CENTRE_HZ.size, half_fft))
    for i, (centre, bandwidth) in enumerate(zip(CRIT_CENTRE_HZ, CRIT_BANDWIDTH_HZ)):
        f0 = centre / max_freq * half_fft
        bw = bandwidth / max_freq * half_fft
        norm_factor = np.log(CRIT_BANDWIDTH_HZ[0]) - np.log(bandwidth)
        filters[i] = np.exp(-11 * np.square((j - np.floor(f0)) / bw) + norm_factor)
    filters = np.where(filters > min_factor, filters, 0.0)
    filters.flags.writeable = False
    return filters


def _peak_energies(energy: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Per band, the energy at the nearest spectral peak in the slope's direction -> [T, B-1]."""
    t, n = slope.shape
    index = np.broadcast_to(np.arange(n), (t, n))
    rising = slope > 0
    # Rising: first n >= i with slope <= 0 (or n = B-1); the port then reads energy[n - 1].
    stop_right = np.minimum.accumulate(np.where(~rising, index, n)[:, ::-1], axis=1)[:, ::-1]
    # Falling: last n <= i with slope > 0 (or -1); the port reads energy[n + 1].
    stop_left = np.maximum.accumulate(np.where(rising, index, -1), axis=1)
    column = np.where(rising, stop_right - 1, stop_left + 1)
    return np.take_along_axis(energy, column, axis=1)


def _windowed_frames(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """The Hann-windowed 30 ms frames of ``x`` -> [T, win]: the input of both the spectra and segSNR."""
    win, hop = _frame_params(sample_rate_hz)
    count = int(x.size / hop - win / hop)  # equals int((x.size - win) / hop), the LLR count, for x.size >= win
    return _frames(x, win, hop, count) * _window(win)


def _spectra_of_frames(frames: np.ndarray) -> np.ndarray:
    """rfft of windowed frames [T, win], zero-padded to the next power of two >= 2 win -> complex [T, n_fft / 2 + 1].

    One transform serves WSS (divided by 32768, a power of two, so exactly) and LLR (through its
    autocorrelation lags).
    """
    n_fft = int(2 ** math.ceil(math.log2(2 * frames.shape[1])))
    return np.fft.rfft(frames, n=n_fft, axis=-1)


def _frame_spectra(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """rfft of the Hann-windowed 30 ms frames of ``x`` -> complex [T, n_fft / 2 + 1]."""
    return _spectra_of_frames(_windowed_frames(x, sample_rate_hz))


def _power(spec: np.ndarray) -> np.ndarray:
    """re^2 + im^2 (not |z|^2, which rounds differently), with one temporary instead of two."""
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return power


def _wss_from_power(p_c: np.ndarray, p_p: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    half = p_c.shape[1] - 1
    filters = _critical_band_filters(sample_rate_hz, half)

    def band_energy_db(power: np.ndarray) -> np.ndarray:
        # frames / 32768 in the reference: a power-of-two scaling, exact on the power spectrum
        return 10 * np.log10(np.maximum((power[:, :half] / 2.0 ** 30) @ filters.T, 1e-10))

    e_c, e_p = band_energy_db(p_c), band_energy_db(p_p)
    s_c, s_p = np.diff(e_c, axis=1), np.diff(e_p, axis=1)
    peak_c, peak_p = _peak_energies(e_c, s_c), _peak_energies(e_p, s_p)
    low_c, low_p = e_c[:, :-1], e_p[:, :-1]
    w_c = K_MAX / (K_MAX + e_c.max(axis=1, keepdims=True) - low_c) * (K_LOCMAX / (K_LOCMAX + peak_c - low_c))
    w_p = K_MAX / (K_MAX + e_p.max(axis=1, keepdims=True) - low_p) * (K_LOCMAX / (K_LOCMAX + peak_p - low_p))
    w = (w_c + w_p) / 2.0
    return np.sum(w * np.square(s_c - s_p), axis=1) / np.sum(w, axis=1)


def _autocorrelation(power: np.ndarray, order: int) -> np.ndarray:
    """Lags 0..order of each windowed frame from its zero-padded power spectrum -> [T, order + 1].

    The FFT is at least twice the frame, so the circular autocorrelation equals the linear one.
    """
    return power @ _autocorrelation_basis(power.shape[1], order)


@lru_cache(maxsize=8)
def _autocorrelation_basis(bins: int, order: int) -> np.ndarray:
    """[bins, order + 1] cosine basis of the one-sided inverse rfft (cached, read-only)."""
    n_fft = 2 * (bins - 1)
    weight = np.full(bins, 2.0)
    weight[0] = weight[-1] = 1.0
    basis = weight[:, None] * np.cos(2 * np.pi * np.outer(np.arange(bins), np.arange(order + 1)) / n_fft) / n_fft
    basis.flags.writeable = False
    return basis


def _lpc(r: np.ndarray) -> np.ndarray:
    """Levinson-Durbin on autocorrelations [T, P+1] -> prediction polynomials [T, P+1] = [1, -a]."""
    t, p1 = r.shape
    order = p1 - 1
    a = np.ones((t, order))
    err = r[:, 0].copy()
    for i in range(order):
        past = a[:, :i].copy()
        acc = np.einsum("ij,ij->i", past, r[:, i:0:-1]) if i else np.zeros(t)
        k = (r[:, i + 1] - acc) / err
        a[:, i] = k
        if i:
            a[:, :i] = past - past[:, ::-1] * k[:, None]
        err = (1 - k * k) * err
    return np.concatenate([np.ones((t, 1)), -a], axis=1)


def _llr_from_power(p_c: np.ndarray, p_p: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    order = 10 if sample_rate_hz < 10_000 else 16
    r_c, r_p = _autocorrelation(p_c, order), _autocorrelation(p_p, order)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_c, a_p = _lpc(r_c), _lpc(r_p)
        return np.log(_toeplitz_form(a_p, r_c) / _toeplitz_form(a_c, r_c))


def _toeplitz_form(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """a^T Toeplitz(r) a per row: sum_k r[k] * (autocorrelation of a)[k], counted twice for k > 0."""
    p1 = a.shape[1]
    out = r[:, 0] * np.einsum("ij,ij->i", a, a)
    for k in range(1, p1):
        out = out + 2.0 * r[:, k] * np.einsum("ij,ij->i", a[:, : p1 - k], a[:, k:])
    return out




def wss_frames(clean: np.ndarray, processed: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Weighted spectral slope distance of every frame -> [T]."""
    return _wss_from_power(_power(_frame_spectra(clean, sample_rate_hz)),
                           _power(_frame_spectra(processed, sample_rate_hz)), sample_rate_hz)


def llr_frames(clean: np.ndarray, processed: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Log-likelihood ratio of every frame -> [T] (NaN where a clean frame is all zeros)."""
    return _llr_from_power(_power(_frame_spectra(clean, sample_rate_hz)),
                           _power(_frame_spectra(processed, sample_rate_hz)), sample_rate_hz)


def segsnr_frames(clean: np.ndarray, processed: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Segmental SNR of every frame in dB, clamped to [-10, 35] -> [T]."""
    return _segsnr_from_frames(_windowed_frames(clean, sample_rate_hz), _windowed_frames(processed, sample_rate_hz))


def _segsnr_from_frames(c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Segmental SNR from the windowed frames [T, win] of clean and processed signal."""
    d = c - p
    signal = np.einsum("ij,ij->i", c, c)
    noise = np.einsum("ij,ij->i", d, d)
    eps = np.spacing(1)
    seg = 10 * np.log10(signal / (noise + eps) + eps)
    return np.clip(seg, *SEGSNR_RANGE_DB)


def composite_scores(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int, pesq_wb: float,
                     lengths_differed: bool = False) -> dict[str, float]:
    """{"csig", "cbak", "covl"} of ``est`` vs ``ref`` ([N] each at ``sample_rate_hz``, usually 16 kHz).

    ``pesq_wb`` is the wide-band PESQ of the same pair. ``lengths_differed`` says whether the files
    had to be cut to a common length, which is when the reference script adds eps to both signals.
    """
    check_pair(ref, est)
    require_reference(ref)
    clean, processed = ref.astype(np.float64), est.astype(np.float64)
    if lengths_differed:
        clean, processed = clean + np.spacing(1), processed + np.spacing(1)
    win, _ = _frame_params(sample_rate_hz)
    if clean.size < 2 * win:
        raise MetricError(f"too short for the composite measures ({clean.size} samples)")
    # One set of windowed frames per signal feeds the spectra (WSS, LLR) and segSNR.
    f_c, f_p = _windowed_frames(clean, sample_rate_hz), _windowed_frames(processed, sample_rate_hz)
    p_c, p_p = _power(_spectra_of_frames(f_c)), _power(_spectra_of_frames(f_p))
    wss = _mean_of_best(_wss_from_power(p_c, p_p, sample_rate_hz))
    llr_all = _llr_from_power(p_c, p_p, sample_rate_hz)
    llr = _mean_of_best(llr_all)
    if not np.isfinite(llr):
        # All-zero frames have no LPC model; the reference script's mean then turns NaN.
        bad = int(np.count_nonzero(~np.isfinite(llr_all)))
        raise MetricError(f"LLR undefined: {bad} of {llr_all.size} frames are digital silence "
                          "(more than the 5 % the measure discards)")
    seg = float(np.mean(_segsnr_from_frames(f_c, f_p)))
    finite(llr, "LLR")
    finite(wss, "WSS")
    scores = {
        "csig": 3.093 - 1.029 * llr + 0.603 * pesq_wb - 0.009 * wss,
        "cbak": 1.634 + 0.478 * pesq_wb - 0.007 * wss + 0.063 * seg,
        "covl": 1.594 + 0.805 * pesq_wb - 0.512 * llr - 0.007 * wss,
    }
    return {name: finite(min(5.0, max(1.0, value)), name.upper()) for name, value in scores.items()}
