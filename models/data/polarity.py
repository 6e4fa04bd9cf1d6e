"""Which way up a speech recording is, from the skewness of its linear-prediction residual.

A magnitude spectrogram is the same for ``x`` and ``-x``, yet phase retrieval is scored against
one of them: the phase distance (PD) counts a flipped sign as 180 degrees everywhere. A corpus
that mixes recordings of both polarities teaches a phase-retrieval model two answers for one
input. Voiced speech is excited by glottal closures of one sign; once linear prediction has
removed the vocal tract, those closures are sharp pulses in the residual, so the residual's
skewness takes the recording's polarity with it. The glottal flow derivative, what a pressure
microphone records of the source, has its sharp peak at closure pointing down, so speech recorded
the right way up has a *negatively* skewed residual (the polarity test of Drugman's RESKEW).
That is also the polarity the authors' phase-retrieval model, trained on VoiceBank, puts out: on
eight of our held-out files of positive skewness its phase distance was 22-54 degrees to the
sign-flipped reference and 126-158 degrees to the file as it is, in six of them (session 17,
`bench/results/phase_model_polarity.md`). Flipping the files of positive skewness gives a corpus
of that one polarity.

All functions take mono float audio ``x`` of shape [N] at ``sample_rate_hz``.
"""
from __future__ import annotations

import numpy as np

#: Analysis frame and hop, in seconds.
FRAME_SECONDS = 0.032
HOP_SECONDS = 0.016
#: Frames quieter than the loudest frame by more than this (dB) are not used.
ENERGY_RANGE_DB = 30.0
#: Voiced frames are dominated by low frequencies: normalised lag-1 autocorrelation above this.
MIN_LAG1_CORRELATION = 0.6
#: At least this many voiced frames are needed for an estimate.
MIN_VOICED_FRAMES = 5
#: Residual skewness closer to zero than this is no evidence either way.
MIN_ABS_SKEWNESS = 0.05
#: The sign of the residual skewness of speech recorded the right way up (see above).
UPRIGHT_SKEWNESS_SIGN = -1


def lpc_order(sample_rate_hz: int) -> int:
    """The usual rule of thumb: two poles per kHz of bandwidth plus two (18 at 16 kHz)."""
    return 2 + int(round(sample_rate_hz / 1000))


def _voiced_frames(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Voiced-looking frames of ``x``: [F, frame] float64 (F may be 0)."""
    frame = int(round(FRAME_SECONDS * sample_rate_hz))
    hop = int(round(HOP_SECONDS * sample_rate_hz))
    if len(x) < frame:
        return np.zeros((0, frame))
    count = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(count)[:, None]
    frames = x.astype(np.float64)[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    if energy.max() <= 0:
        return frames[:0]
    loud = energy >= energy.max() * 10 ** (-ENERGY_RANGE_DB / 10)
    lag1 = (frames[:, 1:] * frames[:, :-1]).sum(axis=1) / np.maximum(energy, 1e-30)
    return frames[loud & (lag1 > MIN_LAG1_CORRELATION)]


def _lpc_residuals(frames: np.ndarray, order: int) -> np.ndarray:
    """Prediction residual of each frame with its own LPC fit: [F, frame - order], each frame's
    residual scaled to unit RMS so that loud frames do not outweigh the rest."""
    n = frames.shape[1]
    windowed = frames * np.hanning(n)[None, :]
    r = np.stack([(windowed[:, k:] * windowed[:, :n - k]).sum(axis=1) for k in range(order + 1)], axis=1)
    r[:, 0] *= 1.0 + 1e-4  # white-noise correction: keeps the normal equations well conditioned
    lags = np.abs(np.arange(order)[:, None] - np.arange(order)[None, :])
    toeplitz = r[:, lags]  # [F, order, order]
    coeffs = np.linalg.solve(toeplitz, r[:, 1:order + 1, None])[..., 0]  # x[n] ~ sum_k c_k x[n-k]
    # Column j of `past` holds x[n - 1 - j] for n = order .. frame-1.
    past = np.stack([frames[:, order - 1 - j:n - 1 - j] for j in range(order)], axis=2)
    residual = frames[:, order:] - np.einsum("ftk,fk->ft", past, coeffs)
    rms = np.sqrt((residual ** 2).mean(axis=1, keepdims=True))
    return residual / np.maximum(rms, 1e-30)


def residual_skewness(x: np.ndarray, sample_rate_hz: int) -> float:
    """Skewness of the pooled, per-frame normalised LPC residual of the voiced frames of ``x``;
    NaN when fewer than :data:`MIN_VOICED_FRAMES` frames look voiced."""
    frames = _voiced_frames(np.asarray(x), sample_rate_hz)
    if len(frames) < MIN_VOICED_FRAMES:
        return float("nan")
    try:
        e = _lpc_residuals(frames, lpc_order(sample_rate_hz)).ravel()
    except np.linalg.LinAlgError:  # a degenerate frame must not stop a corpus scan: no evidence
        return float("nan")
    e = e - e.mean()
    return float((e ** 3).mean() / max((e ** 2).mean(), 1e-30) ** 1.5)


def polarity(x: np.ndarray, sample_rate_hz: int) -> int:
    """+1 if ``x`` is the right way up (residual skewness of sign :data:`UPRIGHT_SKEWNESS_SIGN`),
    -1 if it should be flipped; +1 when the evidence is too weak to say."""
    skew = residual_skewness(x, sample_rate_hz)
    return -1 if np.isfinite(skew) and skew * UPRIGHT_SKEWNESS_SIGN < -MIN_ABS_SKEWNESS else 1
