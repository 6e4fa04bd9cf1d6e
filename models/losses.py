"""Training losses as named components with weights from a typed config (gre_net.md section 4).

Spectra are [B, F, T]: compressed magnitudes M = |X|**0.3, phases in radians, and the
compressed complex spectrum C = M * e^{j phase} kept as a real pair (re, im). Waveforms [B, N].

Components (each returns a scalar tensor):
- ``magnitude``: MSE(M_hat, M);
- ``phase``: anti-wrapping instantaneous phase + group delay + instantaneous frequency (L_IP + L_GD + L_IAF);
- ``complex``: 2 * MSE(C_hat, C) over re and im;
- ``consistency``: 2 * MSE(C_hat, C of STFT(iSTFT(C_hat)));
- ``time``: L1 between waveforms;
- ``wop``: weighted omnidirectional phase loss (phase retrieval);
- ``metric`` and ``mpd``: adversarial terms, computed by the trainer with :mod:`models.discriminators`;
- ``mask``: a mask-estimation network's own target loss (``network.mask_loss``, e.g. MaskNet's IRM MSE);
- ``log_magnitude``: MSE of log magnitudes, MSE(ln(M_hat + m0), ln(M + m0)) (not in the authors' recipes).
  The compressed MSE weighs an error the same in a loud and a faint bin, so on faint bins (a band
  the input lacks, pauses) a small compressed error is a large relative one; in the log domain,
  where log-spectral distance and loudness live, errors count relative to the bin's level. The
  floor m0 is |X| = 1e-5 compressed (the LSD's power floor 1e-10), so near-silent bins do not dominate;
- ``over_magnitude``: mean(relu(M_hat - M) ** 2), the compressed MSE of over-estimates only (not in the
  authors' recipes). Added to a symmetric magnitude loss with weight b, it makes estimating too much
  cost (1 + b) times what estimating too little does: under uncertainty the estimate moves to a
  lower quantile. PESQ punishes added energy more than missing energy (its disturbance asymmetry),
  and an extender unsure of the band should rather leave it faint than loud.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F

TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class LossWeights:
    """Weight of each component in the generator loss; 0 switches a component off."""

    magnitude: float = 0.9
    phase: float = 0.3
    complex: float = 0.1
    consistency: float = 0.1
    time: float = 0.2
    wop: float = 0.0
    metric: float = 0.05
    mpd: float = 0.0
    mask: float = 0.0
    log_magnitude: float = 0.0
    over_magnitude: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "LossWeights":
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in known})


def mask_recipe() -> LossWeights:
    """Mask-estimation networks (``--arch masknet``) train on their target's own loss only."""
    return LossWeights(magnitude=0, phase=0, complex=0, consistency=0, time=0, wop=0, metric=0, mpd=0, mask=1.0)


def recipe(task: str) -> LossWeights:
    """The authors' generator loss for ``task`` (gre_net.md section 4).

    denoise / dereverb / bwe / universal: 0.9 mag + 0.3 pha + 0.1 com + 0.1 con + 0.2 time
    (+ 0.05 metric discriminator; universal adds 0.05 MPD). phase: 2e4 * WOP + MPD.
    """
    if task == "phase":
        return LossWeights(magnitude=0, phase=0, complex=0, consistency=0, time=0, wop=2e4, metric=0, mpd=1.0)
    if task == "universal":
        return LossWeights(mpd=0.05)
    return LossWeights()


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x - 2 pi round(x / 2 pi)|: distance of an angle difference to the nearest multiple of 2 pi, in [0, pi]."""
    return torch.abs(x - TWO_PI * torch.round(x / TWO_PI))


def magnitude_loss(mag_hat: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(mag_hat, mag)


#: Floor of the log-magnitude loss, on compressed magnitudes: (1e-5) ** 0.3.
LOG_MAGNITUDE_FLOOR = 1e-5 ** 0.3


def log_magnitude_loss(mag_hat: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """MSE of ln(M + floor) for compressed magnitudes [B, F, T] (negative estimates count as 0)."""
    return F.mse_loss(torch.log(mag_hat.clamp_min(0) + LOG_MAGNITUDE_FLOOR), torch.log(mag + LOG_MAGNITUDE_FLOOR))


def over_magnitude_loss(mag_hat: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """mean(relu(M_hat - M) ** 2) for compressed magnitudes [B, F, T]: the magnitude MSE of over-estimates only."""
    return F.relu(mag_hat - mag).pow(2).mean()


def parse_loss_overrides(weights: LossWeights, items: list[str] | tuple[str, ...]) -> LossWeights:
    """``weights`` with ``NAME=WEIGHT`` items applied (``gre train --loss``), e.g. ``log_magnitude=1``."""
    known = [f.name for f in fields(LossWeights)]
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ValueError(f"--loss {item!r}: expected NAME=WEIGHT with NAME one of {', '.join(known)}")
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"--loss {item!r}: the weight is not a number") from None
        if not math.isfinite(values[name]) or values[name] < 0:
            raise ValueError(f"--loss {item!r}: the weight must be a finite number >= 0")
    return replace(weights, **values)


def phase_losses(phase_hat: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_IP, L_GD, L_IAF) for phases [B, F, T]: anti-wrapped differences of the phase itself,
    of its first difference along frequency (group delay) and along time (instantaneous frequency)."""
    ip = anti_wrap(phase_hat - phase).mean()
    gd = anti_wrap(torch.diff(phase_hat, dim=1) - torch.diff(phase, dim=1)).mean()
    iaf = anti_wrap(torch.diff(phase_hat, dim=2) - torch.diff(phase, dim=2)).mean()
    return ip, gd, iaf


def phase_loss(phase_hat: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    ip, gd, iaf = phase_losses(phase_hat, phase)
    return ip + gd + iaf


def compressed_complex(mag_c: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Compressed complex spectrum as a real pair: [B, F, T] x 2 -> [B, F, T, 2]."""
    return torch.stack((mag_c * torch.cos(phase), mag_c * torch.sin(phase)), dim=-1)


def complex_loss(com_hat: torch.Tensor, com: torch.Tensor) -> torch.Tensor:
    return 2 * F.mse_loss(com_hat, com)


def consistency_loss(com_hat: torch.Tensor, com_resynth: torch.Tensor) -> torch.Tensor:
    """2 * MSE between the predicted spectrum and the spectrum of its own waveform (STFT(iSTFT))."""
    return 2 * F.mse_loss(com_hat, com_resynth)


def time_loss(wave_hat: torch.Tensor, wave: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(wave_hat, wave)


def _wop_kernels(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Nine 3x3 kernels: centre minus each of the 8 neighbours, and the centre itself. [9, 1, 3, 3]."""
    kernels = torch.zeros(9, 1, 3, 3, device=device, dtype=dtype)
    neighbours = [(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    for k, (i, j) in enumerate(neighbours):
        kernels[k, 0, 1, 1] = 1.0
        kernels[k, 0, i, j] = -1.0
    kernels[8, 0, 1, 1] = 1.0
    return kernels


def wop_loss(phase_hat: torch.Tensor, phase: torch.Tensor, mag_c: torch.Tensor) -> torch.Tensor:
    """Weighted omnidirectional phase loss: anti-wrapped differences of the phase map along the
    8 neighbour directions plus the phase itself, weighted by the clean compressed magnitude
    ``mag_c`` [B, F, T]; zero padding at the borders; mean over everything."""
    k = _wop_kernels(phase.device, phase.dtype)
    d_hat = F.conv2d(phase_hat.unsqueeze(1), k, padding=1)
    d_ref = F.conv2d(phase.unsqueeze(1), k, padding=1)
    return (mag_c.unsqueeze(1) * anti_wrap(d_hat - d_ref)).mean()
