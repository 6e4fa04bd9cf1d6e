"""HADF: hybrid attention + dual FFN, the GRE network's sequence block.

Tokens are [N, L, 2P + A] = [Re z (P) | Im z (P) | m (A)]. One attention score map, built from
the Hermitian inner product of the complex queries/keys plus the real dot product of the
magnitude queries/keys, averages both value streams. The magnitude FFN is a bi-GRU; the phase
FFN is a complex convolutional GLU whose gate is a function of moduli only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import GREConfig
from models.nets.complex_ops import (
    ComplexConv1d,
    ComplexConvTranspose1d,
    ComplexLinear,
    TokenComplexRMSNorm,
    TokenRMSNorm,
    modulus,
    split_complex,
)


class HybridAttention(nn.Module):
    """Multi-head attention with one score map shared by the phase and magnitude streams.

    Score(i, j) = (Re<q_p,i, k_p,j>_H + q_m,i . k_m,j) / sqrt(2*dp + dm): invariant to a common
    rotation of all phases, so the phase output stays equivariant and the magnitude invariant.
    """

    def __init__(self, phase_channels: int, mag_channels: int, num_heads: int, phase_head_dim: int,
                 mag_head_dim: int):
        super().__init__()
        self.num_heads, self.dp, self.dm = num_heads, phase_head_dim, mag_head_dim
        self.q_mag = nn.Linear(mag_channels, num_heads * mag_head_dim, bias=False)
        self.k_mag = nn.Linear(mag_channels, num_heads * mag_head_dim, bias=False)
        self.v_mag = nn.Linear(mag_channels, num_heads * mag_head_dim, bias=False)
        self.q_phase = ComplexLinear(phase_channels, num_heads * phase_head_dim)
        self.k_phase = ComplexLinear(phase_channels, num_heads * phase_head_dim)
        self.v_phase = ComplexLinear(phase_channels, num_heads * phase_head_dim)
        self.out_mag = nn.Linear(num_heads * mag_head_dim, mag_channels)
        self.out_phase = ComplexLinear(num_heads * phase_head_dim, phase_channels)

    def _heads(self, z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """(complex [N, L, 2*H*dp], real [N, L, H*dm]) -> [N, H, L, 2*dp + dm]."""
        n, length, _ = m.shape
        re, im = split_complex(z, -1)
        parts = [x.view(n, length, self.num_heads, -1) for x in (re, im, m)]
        return torch.cat(parts, dim=-1).transpose(1, 2)

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = self._heads(self.q_phase(z), self.q_mag(m))
        k = self._heads(self.k_phase(z), self.k_mag(m))
        v = self._heads(self.v_phase(z), self.v_mag(m))
        out = F.scaled_dot_product_attention(q, k, v)  # [N, H, L, 2dp + dm]
        n, _, length, _ = out.shape
        out = out.transpose(1, 2)
        re, im, mag = out.split([self.dp, self.dp, self.dm], dim=-1)
        merge = lambda x: x.reshape(n, length, -1)  # noqa: E731 - (N, L, H, d) -> (N, L, H*d)
        z_out = self.out_phase(torch.cat([merge(re), merge(im)], dim=-1))
        return z_out, self.out_mag(merge(mag))


class MagnitudeFFN(nn.Module):
    """Bi-GRU (hidden 2A per direction) -> LeakyReLU -> Linear(4A -> A). [N, L, A] -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.gru = nn.GRU(channels, channels * 2, num_layers=1, bidirectional=True, batch_first=True)
        self.proj = nn.Linear(channels * 4, channels)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(m)
        return self.proj(F.leaky_relu(y, 0.01))


class PhaseFFN(nn.Module):
    """Complex convolutional GLU along the sequence. [N, L, 2P] -> same.

    Pad k-1 each side -> complex conv (P -> 2C) -> value half times SiLU(LayerNorm(|gate half|))
    -> complex transposed conv (C -> P) -> crop the centre L. The gate is real and depends on
    moduli only, so the block is rotation equivariant.
    """

    def __init__(self, channels: int, inner_channels: int, kernel_size: int):
        super().__init__()
        self.inner, self.kernel = inner_channels, kernel_size
        self.conv = ComplexConv1d(channels, inner_channels * 2, kernel_size)
        self.gate_norm = nn.LayerNorm(inner_channels)
        self.deconv = ComplexConvTranspose1d(inner_channels, channels, kernel_size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        length = z.shape[1]
        pad = self.kernel - 1
        h = self.conv(F.pad(z.transpose(1, 2), (pad, pad)))  # [N, 2*2C, L + k - 1]
        re, im = split_complex(h, 1)
        value_re, gate_re = re.split(self.inner, dim=1)
        value_im, gate_im = im.split(self.inner, dim=1)
        gate_mod = modulus(torch.cat([gate_re, gate_im], dim=1), dim=1)  # [N, C, L']
        gate = F.silu(self.gate_norm(gate_mod.transpose(1, 2)).transpose(1, 2))
        y = self.deconv(torch.cat([value_re * gate, value_im * gate], dim=1))  # [N, 2P, L + 2(k-1)]
        return y[:, :, pad:pad + length].transpose(1, 2)


class HADF(nn.Module):
    """Pre-norm hybrid attention, then pre-norm dual FFN with post-norm. Tokens [N, L, 2P + A]."""

    def __init__(self, cfg: GREConfig):
        super().__init__()
        p, a = cfg.phase_channels, cfg.mag_channels
        self.phase_channels = p
        self.mag_norm_attn = TokenRMSNorm(a)
        self.phase_norm_attn = TokenComplexRMSNorm(p)
        self.attn = HybridAttention(p, a, cfg.num_heads, cfg.phase_head_dim, cfg.mag_head_dim)
        self.mag_norm_ffn = TokenRMSNorm(a)
        self.phase_norm_ffn = TokenComplexRMSNorm(p)
        self.mag_ffn = MagnitudeFFN(a)
        self.phase_ffn = PhaseFFN(p, cfg.phase_ffn_channels, cfg.phase_ffn_kernel)
        self.mag_norm_out = TokenRMSNorm(a)
        self.phase_norm_out = TokenComplexRMSNorm(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, m = x.split([2 * self.phase_channels, x.shape[-1] - 2 * self.phase_channels], dim=-1)
        dz, dm = self.attn(self.phase_norm_attn(z), self.mag_norm_attn(m))
        z, m = z + dz, m + dm
        m = self.mag_norm_out(m + self.mag_ffn(self.mag_norm_ffn(m)))
        z = self.phase_norm_out(z + self.phase_ffn(self.phase_norm_ffn(z)))
        return torch.cat([z, m], dim=-1)


class DualPathHADF(nn.Module):
    """Time HADF over each frequency row, then frequency HADF over each frame, each with an
    outer residual. Feature maps [B, C, T, F] (C = 2P + A) -> same."""

    def __init__(self, cfg: GREConfig):
        super().__init__()
        self.time = HADF(cfg)
        self.freq = HADF(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)
        x = self.time(x) + x
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)
        x = self.freq(x) + x
        return x.view(b, t, f, c).permute(0, 3, 1, 2)
