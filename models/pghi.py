"""Phase-gradient heap integration (PGHI): a phase for a magnitude spectrogram, without iterations.

For a Gaussian window the STFT's log-magnitude and phase are tied like the real and imaginary
parts of an analytic function (Portnoff 1979): the phase's rate along time follows from the
log-magnitude's slope along frequency, and the phase's slope along frequency from the
log-magnitude's rate along time. Prusa, Balazs & Sondergaard (2017) use a Hann window's
equivalent Gaussian (time-frequency ratio ``lambda = 0.25645 * L**2`` samples squared, ``L`` its
length) and integrate both gradients over the time-frequency plane, loudest bins first (a heap),
so that errors start where they matter least. The result keeps the signal's local phase
structure (harmonics advancing at their frequency, pulses aligned across frequency), which is
what Griffin-Lim lacks from a zero start; as Griffin-Lim's initial phase it converges to a
closer spectrum in the same number of iterations.

The integration constant of each connected region is unknown (set to 0 at its loudest bin), so
the absolute phase, and with it the phase distance (PD), is no better than Griffin-Lim's.

Conventions are gre's STFT (:mod:`models.stft`): centred frames, phase referenced to each
frame's first sample, magnitude [F, T] with F = n_fft // 2 + 1.
"""
from __future__ import annotations

import heapq

import numpy as np

from models.config import STFTConfig

#: lambda / L**2 of the Gaussian that best matches a Hann window of length L (Prusa et al. 2017).
HANN_LAMBDA_PER_LENGTH_SQUARED = 0.25645
#: Bins quieter than the loudest by more than this (dB) get a random phase: their gradients are noise.
DEFAULT_TOLERANCE_DB = 50.0


def phase_gradients(mag: np.ndarray, cfg: STFTConfig) -> tuple[np.ndarray, np.ndarray]:
    """Estimated phase steps of a magnitude ``mag`` [F, T] (linear, uncompressed), in radians:
    (per frame along time [F, T], per bin along frequency [F, T])."""
    n, hop = cfg.n_fft, cfg.hop_length
    lam = HANN_LAMBDA_PER_LENGTH_SQUARED * cfg.win_length ** 2
    peak = float(mag.max()) if mag.size else 0.0
    log_mag = np.log(np.maximum(mag, max(peak, 1e-30) * 1e-12).astype(np.float64))
    bins = np.arange(mag.shape[0], dtype=np.float64)[:, None]
    # Along time: the bin's centre frequency plus a deviation from the log-magnitude's frequency slope.
    per_frame = hop * n / lam * np.gradient(log_mag, axis=0) + 2 * np.pi * hop * bins / n
    # Along frequency: the group delay from the log-magnitude's time slope; -pi per bin because the
    # phase is referenced to the frame's first sample, half a window before its centre.
    per_bin = -(lam / (n * hop)) * np.gradient(log_mag, axis=1) - np.pi if mag.shape[1] > 1 else \
        np.full(mag.shape, -np.pi)
    return per_frame, per_bin


def pghi_phase(mag: np.ndarray, cfg: STFTConfig, tolerance_db: float = DEFAULT_TOLERANCE_DB,
               seed: int = 0) -> np.ndarray:
    """Phase [F, T] (radians) for the magnitude ``mag`` [F, T] by heap integration of
    :func:`phase_gradients`. Bins below ``tolerance_db`` under the peak get a seeded random phase."""
    mag = np.asarray(mag, dtype=np.float64)
    n_freqs, n_frames = mag.shape
    phase = np.zeros_like(mag)
    if mag.size == 0 or not np.isfinite(mag).all() or mag.max() <= 0:
        return phase
    per_frame, per_bin = phase_gradients(mag, cfg)
    done = mag < mag.max() * 10 ** (-tolerance_db / 20)
    phase[done] = np.random.default_rng(seed).uniform(-np.pi, np.pi, int(done.sum()))
    order = np.argsort(-mag, axis=None, kind="stable")
    heap: list[tuple[float, int, int]] = []
    next_seed = 0
    while True:
        if not heap:  # start a new region at the loudest bin not reached yet
            while next_seed < order.size and done.flat[order[next_seed]]:
                next_seed += 1
            if next_seed == order.size:
                break
            f, t = divmod(int(order[next_seed]), n_frames)
            done[f, t] = True
            heapq.heappush(heap, (-mag[f, t], f, t))
        _, f, t = heapq.heappop(heap)
        for df, dt in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            g, u = f + df, t + dt
            if 0 <= g < n_freqs and 0 <= u < n_frames and not done[g, u]:
                if dt:  # trapezoid rule between the two bins' estimates
                    phase[g, u] = phase[f, t] + dt * 0.5 * (per_frame[f, t] + per_frame[g, u])
                else:
                    phase[g, u] = phase[f, t] + df * 0.5 * (per_bin[f, t] + per_bin[g, u])
                done[g, u] = True
                heapq.heappush(heap, (-mag[g, u], g, u))
    return phase
