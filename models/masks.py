"""Ideal time-frequency masks: the oracle family of mask-based enhancement, and cIRM compression.

All functions take complex STFT tensors [..., F, T] (any torch complex dtype) of the clean speech S
and the noise N, the mixture being Y = S + N. Definitions (|.| magnitude, theta phase, * conjugate):

    ibm   1 where |S|^2 > 10^(LC/10) |N|^2 (speech dominates; LC = 0 dB), else 0   (Wang 2005)
    irm   (|S|^2 / (|S|^2 + |N|^2)) ** beta, beta = 0.5                          (Wang et al. 2014)
    iam   |S| / |Y|  (ideal amplitude mask, "spectral magnitude mask"; unbounded)
    psm   |S| / |Y| cos(theta_S - theta_Y) = Re(S Y*) / |Y|^2, truncated to [0, 1] (Erdogan et al. 2015)
    cirm  S / Y, complex                                                          (Williamson et al. 2016)
    orm   (|S|^2 + Re(S N*)) / (|S|^2 + |N|^2 + 2 Re(S N*))                       (Liang et al. 2013)

Real masks multiply Y; the cIRM multiplies it as a complex number. The ORM is the real gain that
minimises |S - M Y|^2 and so equals the *untruncated* PSM; when S and N are orthogonal in a bin
(Re(S N*) = 0) it equals the IRM with beta = 1. Bins with |Y| = 0 (or |S| = |N| = 0) get 0.

cIRM compression (Williamson et al. 2016), on real and imaginary parts separately:
    compress:   c(m) = K (1 - exp(-C m)) / (1 + exp(-C m)) = K tanh(C m / 2),   K = 10, C = 0.1
    decompress: m(c) = -(1 / C) ln((K - c) / (K + c)) = (2 / C) atanh(c / K)
Compressed values are clipped to +-``cirm_clip`` (9.9) before decompressing: outside that range the
inverse is ill-conditioned (it reaches +-inf at +-K), and a network's bounded output never gets there.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

MASK_KINDS = ("ibm", "irm", "iam", "psm", "cirm", "orm")
#: Power below which a bin counts as empty (avoids 0/0).
_TINY = 1e-20


@dataclass(frozen=True)
class MaskConfig:
    """Constants of the masks: IBM local criterion (dB), IRM exponent, PSM range, cIRM K, C and clip."""

    ibm_threshold_db: float = 0.0
    irm_beta: float = 0.5
    psm_min: float = 0.0
    psm_max: float = 1.0
    cirm_k: float = 10.0
    cirm_c: float = 0.1
    cirm_clip: float = 9.9


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    empty = den <= _TINY
    return torch.where(empty, torch.zeros_like(num), num / torch.where(empty, torch.ones_like(den), den))


def ideal_mask(kind: str, clean_spec: torch.Tensor, noise_spec: torch.Tensor,
               cfg: MaskConfig = MaskConfig()) -> torch.Tensor:
    """Ideal mask ``kind`` from S and N (complex [..., F, T]) -> real [..., F, T] (complex for "cirm")."""
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask {kind!r}; known: {', '.join(MASK_KINDS)}")
    s, n = clean_spec, noise_spec
    y = s + n
    ps, pn, py = s.abs() ** 2, n.abs() ** 2, y.abs() ** 2
    if kind == "ibm":
        return (ps > pn * 10 ** (cfg.ibm_threshold_db / 10)).to(ps.dtype)
    if kind == "irm":
        return _safe_div(ps, ps + pn) ** cfg.irm_beta
    if kind == "iam":
        return _safe_div(s.abs(), y.abs())
    if kind == "psm":
        return _safe_div((s * y.conj()).real, py).clamp(cfg.psm_min, cfg.psm_max)
    if kind == "orm":
        cross = (s * n.conj()).real
        return _safe_div(ps + cross, ps + pn + 2 * cross)
    # cirm
    ratio = s * y.conj()
    return torch.complex(_safe_div(ratio.real, py), _safe_div(ratio.imag, py))


def _map_parts(x: torch.Tensor, fn) -> torch.Tensor:
    if x.is_complex():
        return torch.complex(fn(x.real), fn(x.imag))
    return fn(x)


def compress_cirm(mask: torch.Tensor, cfg: MaskConfig = MaskConfig()) -> torch.Tensor:
    """K tanh(C m / 2) on the real and imaginary parts of ``mask`` (complex or real tensor)."""
    return _map_parts(mask, lambda m: cfg.cirm_k * torch.tanh(cfg.cirm_c * m / 2))


def decompress_cirm(compressed: torch.Tensor, cfg: MaskConfig = MaskConfig()) -> torch.Tensor:
    """Exact inverse of :func:`compress_cirm` for parts within +-``cirm_clip``; parts beyond are clipped."""
    def inverse(c: torch.Tensor) -> torch.Tensor:
        c = c.clamp(-cfg.cirm_clip, cfg.cirm_clip)
        return (2.0 / cfg.cirm_c) * torch.atanh(c / cfg.cirm_k)

    return _map_parts(compressed, inverse)


def apply_mask(mask: torch.Tensor, mix_spec: torch.Tensor) -> torch.Tensor:
    """Masked mixture: real masks scale Y, complex masks multiply it -> complex [..., F, T]."""
    return mask * mix_spec if mask.is_complex() else mix_spec * mask.to(mix_spec.real.dtype)


def oracle_spectrum(kind: str, clean_spec: torch.Tensor, noise_spec: torch.Tensor,
                    cfg: MaskConfig = MaskConfig()) -> torch.Tensor:
    """What the ideal mask ``kind`` recovers from Y = S + N; the cIRM goes through compression."""
    mask = ideal_mask(kind, clean_spec, noise_spec, cfg)
    if kind == "cirm":
        mask = decompress_cirm(compress_cirm(mask, cfg), cfg)
    return apply_mask(mask, clean_spec + noise_spec)


def oracle_waveform(kind: str, mix: torch.Tensor, clean: torch.Tensor, stft_cfg) -> torch.Tensor:
    """What the ideal mask ``kind`` recovers from the waveform ``mix`` [N], ``clean`` [N] being its
    target; the "noise" is everything else (mix - clean: noise, a reverberant tail, or both).
    ``stft_cfg`` is a :class:`models.config.STFTConfig`. Returns [N], the length of ``mix``."""
    from models.stft import istft, stft

    clean_spec = stft(clean, stft_cfg)
    return istft(oracle_spectrum(kind, clean_spec, stft(mix, stft_cfg) - clean_spec), stft_cfg, mix.shape[-1])
