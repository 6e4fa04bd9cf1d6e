"""Weighted prediction error (WPE) dereverberation, single channel, batched, in torch.

Late reverberation is predictable from the past: in each STFT frequency bin, the reverberant
spectrum Y(t) is close to a linear combination of Y(t - D), ..., Y(t - D - K + 1), while the direct
sound and early reflections (inside the prediction delay D) are not. WPE (Nakatani et al. 2010;
Yoshioka & Nakatani 2012) finds, per bin, the K prediction taps g that minimise the
variance-normalised prediction error

    sum_t |Y(t) - g^H Ytilde(t)|^2 / lambda(t),      Ytilde(t) = [Y(t - D), ..., Y(t - D - K + 1)]

and subtracts the prediction: X(t) = Y(t) - g^H Ytilde(t). lambda(t) is the power of the current
estimate X (the speech's time-varying variance, which keeps WPE from whitening the speech); the taps
and lambda are refined in turn for a few iterations. Nothing is trained and no noise is assumed.

Defaults are the sizes of `gre benchmark`'s `wpe` peer (the nara-wpe package): a 512-point STFT with hop 128 at
16 kHz (32 / 8 ms), K = 10 taps, D = 3 frames, 3 iterations. The window is Hann where nara-wpe's is Blackman (on
nara-wpe's STFT the two implementations agree to 0.5 %). This STFT is WPE's own, independent of the networks'
400 / 100 one, and perfectly inverted.

Shapes: waveforms [B, N] at 16 kHz; spectra [B, F, T] complex.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from models import stft as S
from models.config import STFTConfig


@dataclass(frozen=True)
class WPEConfig:
    """``taps`` K (frames of past spectrum predicted from), ``delay`` D (frames kept out of the
    prediction: the direct sound and early reflections survive), ``iterations`` (taps / power
    refinements), ``power_floor`` (lowest lambda, relative to the bin's highest frame power: keeps
    silent frames from dominating the weighted fit)."""

    taps: int = 10
    delay: int = 3
    iterations: int = 3
    power_floor: float = 1e-10
    stft: STFTConfig = field(default_factory=lambda: STFTConfig(n_fft=512, win_length=512, hop_length=128,
                                                                compress_factor=1.0))

    def __post_init__(self) -> None:
        for name in ("taps", "delay", "iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"WPEConfig.{name} must be at least 1, got {getattr(self, name)}")


def delayed_frames(spec: torch.Tensor, taps: int, delay: int) -> torch.Tensor:
    """Ytilde: [B, F, T] -> [B, F, T, K], with [..., t, k] = Y(t - delay - (K - 1) + k) (zero before t = 0)."""
    t = spec.shape[-1]
    padded = torch.nn.functional.pad(spec, (delay + taps - 1, 0))
    return padded.unfold(-1, taps, 1)[..., :t, :]


def _inverse_power(estimate: torch.Tensor, floor: float) -> torch.Tensor:
    """1 / max(|X|^2, floor x the bin's peak power, tiny): [B, F, T] complex -> [B, F, T] real."""
    power = estimate.abs().pow(2)
    lowest = (floor * power.amax(dim=-1, keepdim=True)).clamp_min(1e-30)
    return 1.0 / torch.maximum(power, lowest)


#: Frames whose statistics are gathered at once: the [B, F, frames, K] products then stay small (about 42 MB per
#: channel at 1,024 frames, 8 s) whatever the length of a file enhanced whole (``--chunk-seconds 0``).
BLOCK_FRAMES = 1024


def wpe_spectrum(spec: torch.Tensor, cfg: WPEConfig = WPEConfig(), block_frames: int = BLOCK_FRAMES) -> torch.Tensor:
    """Dereverberate a complex spectrum [B, F, T] -> [B, F, T] (computed in double precision).

    The fit's sums run over blocks of ``block_frames`` frames; the result does not depend on it."""
    y = spec.to(torch.complex128)
    past = delayed_frames(y, cfg.taps, cfg.delay)  # [B, F, T, K], a strided view of y (no copy)
    frames = y.shape[-1]
    blocks = [(t, min(t + block_frames, frames)) for t in range(0, frames, block_frames)]
    x = y
    eye = torch.eye(cfg.taps, dtype=y.dtype, device=y.device)
    for _ in range(cfg.iterations):
        weight = _inverse_power(x, cfg.power_floor)  # [B, F, T]
        corr = y.new_zeros(*y.shape[:-1], cfg.taps, cfg.taps)  # sum_t w Ytilde Ytilde^H: [B, F, K, K]
        cross = y.new_zeros(*y.shape[:-1], cfg.taps)  # sum_t w Ytilde Y^*: [B, F, K]
        for t0, t1 in blocks:
            block = past[..., t0:t1, :]
            weighted = block * weight[..., t0:t1, None]
            corr += weighted.transpose(-1, -2) @ block.conj()
            cross += (weighted * y[..., t0:t1, None].conj()).sum(dim=-2)
        # A relative diagonal load keeps bins without energy (all-zero frames) solvable.
        load = 1e-10 * corr.diagonal(dim1=-2, dim2=-1).real.mean(-1).clamp_min(1e-30)
        taps = torch.linalg.solve(corr + load[..., None, None] * eye, cross[..., None])  # [B, F, K, 1]
        x = torch.cat([y[..., t0:t1] - (past[..., t0:t1, :] @ taps.conj())[..., 0] for t0, t1 in blocks], dim=-1)
    return x.to(spec.dtype)


def wpe_dereverb(wave: torch.Tensor, cfg: WPEConfig = WPEConfig()) -> torch.Tensor:
    """Dereverberate waveforms [B, N] -> [B, N] (16 kHz, same length and alignment)."""
    length = wave.shape[-1]
    spec = S.stft(wave.float(), cfg.stft)
    return S.istft(wpe_spectrum(spec, cfg), cfg.stft, length)
