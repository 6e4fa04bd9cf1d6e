"""STOI and extended STOI, computed together: one resampling, one silent-frame removal, one STFT.

The algorithm and constants are pystoi's (Taal et al. 2011; Jensen & Taal 2016): 10 kHz, 256-point
Hann frames with 50 % overlap, 512-point FFT, 15 one-third-octave bands from 150 Hz, 30-frame
(384 ms) segments, -15 dB clipping, 40 dB silence range. pystoi's own resampler and band matrix
are called so the numbers equal pystoi's; framing and segmenting are vectorised.

Two deliberate differences from pystoi, both for undefined cases or reproducibility:
- fewer than 30 non-silent frames (about 0.4 s of speech) raises :class:`MetricError` where
  pystoi warns and returns 1e-5;
- ESTOI's 1e-16-level dither (pystoi draws it from the global numpy RNG, to keep constant rows
  from dividing by zero) is a fixed seeded sequence, drawn once per process and sliced, so a file
  scores the same in every process and run.
"""
from __future__ import annotations

import numpy as np
from functools import lru_cache

from numpy.lib.stride_tricks import sliding_window_view
from pystoi import utils as pystoi_utils

from models.metrics.base import MetricError, check_pair, finite, require_reference

STOI_RATE_HZ = 10_000
FRAME = 256
NFFT = 512
NUM_BANDS = 15
MIN_FREQ_HZ = 150
SEGMENT_FRAMES = 30
BETA_DB = -15.0
DYN_RANGE_DB = 40.0
EPS = np.finfo(np.float64).eps
ESTOI_SEED = 0


def _frames(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Frames x[i:i+size] for i in range(0, len(x) - size, hop) (pystoi's framing) -> [T, size]."""
    count = len(range(0, x.size - size, hop))
    if count == 0:
        return np.zeros((0, size))
    return sliding_window_view(x, size)[: (count - 1) * hop + 1 : hop]


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Overlap-add of [T, 2*hop] frames -> [(T+1)*hop] samples (two terms per sample: exact in any order)."""
    count, size = frames.shape
    out = np.zeros((count + 1) * hop)
    out[: count * hop] += frames[:, :hop].reshape(-1)
    out[hop:] += frames[:, hop:].reshape(-1)
    return out[: (count - 1) * hop + size] if count else out[:0]


def _remove_silent_frames(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop frames whose clean energy is more than 40 dB below the loudest clean frame."""
    window = np.hanning(FRAME + 2)[1:-1]
    x_frames = window * _frames(x, FRAME, FRAME // 2)
    y_frames = window * _frames(y, FRAME, FRAME // 2)
    energies = 20 * np.log10(np.linalg.norm(x_frames, axis=1) + EPS)
    keep = (np.max(energies) - DYN_RANGE_DB - energies) < 0
    return _overlap_add(x_frames[keep], FRAME // 2), _overlap_add(y_frames[keep], FRAME // 2)


def _third_octave_envelopes(x: np.ndarray) -> np.ndarray:
    """One-third-octave band magnitudes [J, T] of the framed 512-point spectrum of ``x``."""
    window = np.hanning(FRAME + 2)[1:-1]
    spec = np.fft.rfft(window * _frames(x, FRAME, FRAME // 2), n=NFFT, axis=-1).T
    band_matrix, _ = pystoi_utils.thirdoct(STOI_RATE_HZ, NFFT, NUM_BANDS, MIN_FREQ_HZ)
    return np.sqrt(np.matmul(band_matrix, np.square(np.abs(spec))))


def _segments(tob: np.ndarray) -> np.ndarray:
    """[J, T] -> contiguous [M, J, N] sliding segments of N = 30 frames."""
    return np.ascontiguousarray(sliding_window_view(tob, SEGMENT_FRAMES, axis=1).transpose(1, 0, 2))


def _norm(x: np.ndarray, axis: int) -> np.ndarray:
    """np.linalg.norm(x, axis=axis, keepdims=True) of a real array, bit for bit, without its conj() copy."""
    return np.sqrt(np.add.reduce(np.square(x), axis=axis, keepdims=True))


def _stoi_from_segments(x_seg: np.ndarray, y_seg: np.ndarray) -> float:
    # In-place where a temporary is not read again; every value is computed as pystoi computes it.
    norm_x = _norm(x_seg, 2)
    norm_y = _norm(y_seg, 2)
    y_prime = y_seg * (norm_x / (norm_y + EPS))
    clip = 10 ** (-BETA_DB / 20)
    np.minimum(y_prime, x_seg * (1 + clip), out=y_prime)
    y_prime -= np.mean(y_prime, axis=2, keepdims=True)
    x_c = x_seg - np.mean(x_seg, axis=2, keepdims=True)
    y_prime /= _norm(y_prime, 2) + EPS
    x_c /= _norm(x_c, 2) + EPS
    y_prime *= x_c
    return float(np.sum(y_prime) / (x_c.shape[0] * x_c.shape[1]))


DITHER_POOL = 1 << 20


@lru_cache(maxsize=1)
def _dither_pool() -> np.ndarray:
    """EPS-scaled standard normal numbers from a fixed seed (drawn once: drawing per call costs more
    than the rest of ESTOI)."""
    return EPS * np.random.default_rng(ESTOI_SEED).standard_normal(DITHER_POOL)


def _dither(shape: tuple[int, ...], offset: int) -> np.ndarray:
    """The ``offset``-th block of ``prod(shape)`` pool values (the pool repeats cyclically)."""
    size = int(np.prod(shape))
    pool = _dither_pool()
    start = (offset * size) % DITHER_POOL
    if start + size <= DITHER_POOL:
        return pool[start:start + size].reshape(shape)
    pieces, remaining = [pool[start:]], size - (DITHER_POOL - start)
    while remaining > 0:
        pieces.append(pool[:remaining])
        remaining -= DITHER_POOL
    return np.concatenate(pieces).reshape(shape)


def _row_col_normalise(seg: np.ndarray, first: int) -> np.ndarray:
    """Mean/variance-normalise each band row, then each time column, of [M, J, N] segments."""
    out = seg + _dither(seg.shape, first)
    out -= np.mean(out, axis=-1, keepdims=True)
    out *= 1.0 / np.sqrt(np.sum(np.square(out), axis=-1, keepdims=True))
    out += _dither(out.shape, first + 1)
    out -= np.mean(out, axis=1, keepdims=True)
    out *= 1.0 / np.sqrt(np.sum(np.square(out), axis=1, keepdims=True))
    return out


def _estoi_from_segments(x_seg: np.ndarray, y_seg: np.ndarray) -> float:
    x_n = _row_col_normalise(x_seg, 0)
    y_n = _row_col_normalise(y_seg, 2)
    x_n *= y_n
    x_n /= SEGMENT_FRAMES
    return float(np.sum(x_n) / x_n.shape[0])


def stoi_scores(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int,
                want: tuple[str, ...] = ("stoi", "estoi")) -> dict[str, float]:
    """{"stoi": ..., "estoi": ...} (the ones in ``want``) of ``est`` vs ``ref`` ([N] at ``sample_rate_hz``)."""
    check_pair(ref, est)
    require_reference(ref)
    x, y = ref.astype(np.float64), est.astype(np.float64)
    if sample_rate_hz != STOI_RATE_HZ:
        x = pystoi_utils.resample_oct(x, STOI_RATE_HZ, sample_rate_hz)
        y = pystoi_utils.resample_oct(y, STOI_RATE_HZ, sample_rate_hz)
    if x.size <= FRAME:
        raise MetricError(f"too short for STOI ({ref.size} samples)")
    x, y = _remove_silent_frames(x, y)
    x_tob, y_tob = _third_octave_envelopes(x), _third_octave_envelopes(y)
    if x_tob.shape[1] < SEGMENT_FRAMES:
        raise MetricError(f"too little speech for STOI: {x_tob.shape[1]} non-silent frames, need {SEGMENT_FRAMES}")
    x_seg, y_seg = _segments(x_tob), _segments(y_tob)
    scores = {}
    if "stoi" in want:
        scores["stoi"] = finite(_stoi_from_segments(x_seg, y_seg), "STOI")
    if "estoi" in want:
        scores["estoi"] = finite(_estoi_from_segments(x_seg, y_seg), "ESTOI")
    return scores
