"""Phase metrics of the GRE paper (gre_net.md section 5.1), on the models' own STFT (Hann 400 / hop 100,
centred, 16 kHz), weighted by the *uncompressed* clean magnitude |S| = sqrt(re^2 + im^2 + 1e-9):

- PD, phase distance in degrees: sum |S| f_AW(phi_est - phi_ref) / sum |S| * 180 / pi;
- WOPD, weighted omni-directional phase difference in radians: the same weighting over nine
  difference maps (phi minus each of its 8 neighbours in the (F, T) plane, with zero padding at the
  border, plus phi itself), divided by 9 sum |S|.

f_AW(x) = |x - 2 pi round(x / 2 pi)| is the anti-wrapping distance in [0, pi]. Float32 like the
authors' script; the 1e-9 in the denominators is theirs too.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from models.config import STFTConfig
from models.metrics.base import check_pair, finite, require_reference
from models.stft import mag_phase, stft

PHASE_RATE_HZ = 16_000
#: Uncompressed magnitudes: the weights are |S|, not |S| ** 0.3.
_STFT = replace(STFTConfig(), compress_factor=1.0)
#: (dF, dT) of the eight neighbours; WOPD adds the identity map as the ninth direction.
NEIGHBOURS = tuple((df, dt) for df in (-1, 0, 1) for dt in (-1, 0, 1) if (df, dt) != (0, 0))


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x - 2 pi round(x / 2 pi)|: the distance of an angle difference from 0, in [0, pi]."""
    return torch.abs(x - 2 * np.pi * torch.round(x / (2 * np.pi)))


def phase_distance_from_spectra(ref_spec: torch.Tensor, est_spec: torch.Tensor) -> dict[str, float]:
    """{"pd": degrees, "wopd": radians} from complex spectra [F, T] of reference and estimate."""
    mag, phase_ref = mag_phase(ref_spec, _STFT)
    _, phase_est = mag_phase(est_spec, _STFT)
    total = torch.sum(mag)
    # For a neighbour (df, dt): (phi_e - phi_e') - (phi_r - phi_r') = d - d' with d = phi_e - phi_r,
    # and zero padding of both maps is zero padding of d; so one padded difference map serves all 9.
    d = phase_est - phase_ref
    aw = anti_wrap(d)
    pd = torch.sum(mag * aw) * (180.0 / np.pi) / (total + 1e-9)
    f, t = d.shape
    padded = torch.nn.functional.pad(d[None], (1, 1, 1, 1))[0]
    wopd_sum = torch.sum(mag * aw)  # identity direction
    for df, dt in NEIGHBOURS:
        wopd_sum = wopd_sum + torch.sum(mag * anti_wrap(d - padded[1 + df: 1 + df + f, 1 + dt: 1 + dt + t]))
    wopd = wopd_sum / (total * 9.0 + 1e-9)
    return {"pd": finite(pd.item(), "PD"), "wopd": finite(wopd.item(), "WOPD")}


def phase_distances(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    """{"pd", "wopd"} of ``est`` vs ``ref`` ([N] each at 16 kHz)."""
    check_pair(ref, est)
    require_reference(ref)
    waves = torch.from_numpy(np.stack([ref, est]).astype(np.float32))
    spec = stft(waves, _STFT)
    return phase_distance_from_spectra(spec[0], spec[1])
