"""Log-spectral distance, full band and high band (the bandwidth-extension measure).

LSD = mean over frames t of sqrt( mean over bins f of (log10 P(t, f) - log10 P_est(t, f))^2 ),
P = |STFT|^2 + 1e-10, Hann 512 / hop 256 (32 ms / 16 ms at 16 kHz, the frame used by the URGENT
challenge's LSD), centred, through :func:`models.stft.stft`. Units: bels (log10 of power); lower
is better, identical spectra give 0.

``lsd_hb`` keeps only the bins strictly above a cut-off, by default 4 kHz: the band an
8 kHz-sampled (telephone) input lacks and a 4->8 kHz extension must fill. For 4 kHz-sampled input
(content up to 2 kHz) pass ``cutoff_hz=2000`` (``gre evaluate --lsd-cutoff-hz 2000``).
"""
from __future__ import annotations

import numpy as np
import torch

from models.config import STFTConfig
from models.metrics.base import MetricError, check_pair, finite, require_reference
from models.stft import stft

LSD_RATE_HZ = 16_000
LSD_STFT = STFTConfig(sample_rate_hz=LSD_RATE_HZ, n_fft=512, win_length=512, hop_length=256, compress_factor=1.0)
POWER_FLOOR = 1e-10
DEFAULT_CUTOFF_HZ = 4000.0


def lsd_scores(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int = LSD_RATE_HZ,
               cutoff_hz: float = DEFAULT_CUTOFF_HZ, want: tuple[str, ...] = ("lsd", "lsd_hb")) -> dict[str, float]:
    """{"lsd", "lsd_hb"} (those in ``want``) of ``est`` vs ``ref`` ([N] each at 16 kHz)."""
    if sample_rate_hz != LSD_RATE_HZ:
        raise ValueError(f"LSD is computed at {LSD_RATE_HZ} Hz, got {sample_rate_hz} Hz")
    check_pair(ref, est)
    require_reference(ref)
    spec = stft(torch.from_numpy(np.stack([ref, est]).astype(np.float32)), LSD_STFT)  # float32: ample for log-spectra
    log_power = torch.log10(spec.real ** 2 + spec.imag ** 2 + POWER_FLOOR)  # [2, F, T]
    sq = (log_power[0] - log_power[1]) ** 2  # [F, T]
    scores = {}
    if "lsd" in want:
        scores["lsd"] = finite(torch.sqrt(sq.mean(dim=0)).mean().item(), "LSD")
    if "lsd_hb" in want:
        freqs = torch.arange(sq.shape[0], dtype=torch.float64) * (sample_rate_hz / LSD_STFT.n_fft)
        band = freqs > cutoff_hz
        if not bool(band.any()):
            raise MetricError(f"no STFT bin above the LSD cut-off {cutoff_hz:g} Hz")
        scores["lsd_hb"] = finite(torch.sqrt(sq[band].mean(dim=0)).mean().item(), "high-band LSD")
    return scores
