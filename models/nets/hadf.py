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
from models.nets import fast_path
from models.nets.complex_ops import (
    ComplexConv1d,
    _block_weight,
    _block_weight_transposed,
    stat,
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

    def fused_in_weight(self) -> torch.Tensor:
        """One projection for q, k and v from tokens [Re z | Im z | m]: [3 * H * d, 2P + A].

        Output rows come out per head as [Re (dp) | Im (dp) | mag (dm)], d = 2dp + dm, so that
        a view [N, L, 3, H, d] of the projection is q, k, v with heads split. Zero blocks keep
        the phase and magnitude projections apart (same maths as the separate layers).
        """
        heads, dp, dm = self.num_heads, self.dp, self.dm
        rows = []
        for phase_proj, mag_proj in ((self.q_phase, self.q_mag), (self.k_phase, self.k_mag),
                                     (self.v_phase, self.v_mag)):
            block = _block_weight(phase_proj.weight_re, phase_proj.weight_im)  # [2 H dp, 2P]
            phase_cols, mag_cols = block.shape[1], mag_proj.weight.shape[1]
            phase = block.view(2, heads, dp, phase_cols).transpose(0, 1).reshape(heads, 2 * dp, phase_cols)
            phase = F.pad(phase, (0, mag_cols))  # [H, 2dp, 2P + A]
            mag = F.pad(mag_proj.weight.view(heads, dm, mag_cols), (phase_cols, 0))  # [H, dm, 2P + A]
            rows.append(torch.cat([phase, mag], dim=1).reshape(heads * (2 * dp + dm), phase_cols + mag_cols))
        return torch.cat(rows, dim=0)

    def fused_out_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Output projection from merged heads [.. (H, d)] to tokens [Re z | Im z | m]: weight, bias."""
        heads, dp, dm = self.num_heads, self.dp, self.dm
        block = _block_weight(self.out_phase.weight_re, self.out_phase.weight_im)  # [2P, 2 H dp]
        two_p, a = block.shape[0], self.out_mag.weight.shape[0]
        phase = block.view(two_p, 2, heads, dp).transpose(1, 2).reshape(two_p, heads, 2 * dp)
        phase = F.pad(phase, (0, dm))  # [2P, H, d]
        mag = F.pad(self.out_mag.weight.view(a, heads, dm), (2 * dp, 0))  # [A, H, d]
        weight = torch.cat([phase, mag], dim=0).reshape(two_p + a, heads * (2 * dp + dm))
        bias = F.pad(self.out_mag.bias, (two_p, 0))  # zero bias on the phase rows keeps GRE exact
        return weight, bias

    def forward_tokens(self, x: torch.Tensor, in_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fused forward on normalised tokens [N, L, 2P + A] -> update [N, L, 2P + A].

        ``in_weight`` overrides :meth:`fused_in_weight` (the caller may fold a norm gain into it).
        """
        n, length, _ = x.shape
        heads, d = self.num_heads, 2 * self.dp + self.dm
        weight = self.fused_in_weight() if in_weight is None else in_weight
        qkv = F.linear(x, weight.to(x.dtype)).view(n, length, 3, heads, d).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # [N, H, L, d]
        out = out.transpose(1, 2).reshape(n, length, heads * d)
        weight, bias = self.fused_out_weight()
        return F.linear(out, weight.to(out.dtype), bias.to(out.dtype))

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
        if fast_path.uses("gru"):
            # The recurrence steps through the sequence with small ops. Under autocast every step
            # would re-cast the weights (and the hidden state) to bf16: cast them once instead and
            # run the same bf16 recurrence outside autocast. A second thread only adds
            # synchronisation to ops this small (and spin-waits on a busy CPU): one thread.
            gru = self.gru
            device = m.device.type
            dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else m.dtype
            weights = [w.to(dtype) for w in gru._flat_weights]
            hidden = m.new_zeros(2, m.shape[0], gru.hidden_size, dtype=dtype)
            with fast_path.num_threads(1), torch.autocast(device, enabled=False):
                y, _ = torch._VF.gru(m.to(dtype), hidden, weights, gru.bias, gru.num_layers, float(gru.dropout),
                                     self.training, gru.bidirectional, gru.batch_first)
        else:
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

    def forward_tokens(self, z: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """Same as :meth:`forward`, in token layout with the convolutions as matmuls.

        The conv is a matmul on k-frame windows (unfold); the transposed conv is one matmul giving
        every frame's k contributions, summed by k shifted adds. ``gain`` [P] scales the input's
        complex channels (a folded norm gain). No transposes of the sequence.
        """
        n, length, two_p = z.shape
        k, c = self.kernel, self.inner
        pad = k - 1
        w = _block_weight(self.conv.weight_re, self.conv.weight_im)  # [4C, 2P, k]: rows Re(v, g), Im(v, g)
        if gain is not None:
            w = w * gain.repeat(2)[None, :, None]
        # rows reordered to [Re v | Im v | Re g | Im g] so that the value half is complex-laid-out
        w = w.view(2, 2, c, two_p, k).transpose(0, 1).reshape(4 * c, two_p * k)
        windows = F.pad(z, (0, 0, pad, pad)).unfold(1, k, 1)  # [N, L + k - 1, 2P, k]
        h = F.linear(windows.reshape(n, length + pad, two_p * k), w.to(z.dtype))  # [N, L', 4C]
        value, gate = h.split(2 * c, dim=-1)
        gate_re, gate_im = gate.split(c, dim=-1)
        gate = F.silu(self.gate_norm(torch.sqrt(gate_re * gate_re + gate_im * gate_im + 1e-9)))
        value = (value.view(n, length + pad, 2, c) * gate.unsqueeze(2)).view(n, length + pad, 2 * c)
        # y[t] = sum_e W_{k-1-e}^T value[t + e]: contributions for all e at once, then shifted sums
        wt = _block_weight_transposed(self.deconv.weight_re, self.deconv.weight_im)  # [2C, 2P, k]
        wt = wt.flip(-1).permute(2, 1, 0).reshape(k * two_p, 2 * c)  # row e * 2P + o
        contrib = F.linear(value, wt.to(value.dtype)).view(n, length + pad, k, two_p)
        y = contrib[:, 0:length, 0]
        for e in range(1, k):
            y = y + contrib[:, e:e + length, e]
        return y

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

    def _token_scales(self, x: torch.Tensor, mag_eps: float, phase_eps: float) -> torch.Tensor:
        """Per-token inverse RMS of both streams, laid out per channel: [N, L, 2P + A] (float32).

        Phase: 1 / sqrt(mean_c |z_c|^2 + eps); magnitude: 1 / sqrt(mean_c m_c^2 + eps).
        """
        two_p = 2 * self.phase_channels
        sq = stat(x).square()
        phase = (sq[..., :two_p].sum(-1, keepdim=True) / self.phase_channels + phase_eps).rsqrt()
        mag = (sq[..., two_p:].mean(-1, keepdim=True) + mag_eps).rsqrt()
        return torch.cat([phase.expand(*phase.shape[:-1], two_p), mag.expand(*mag.shape[:-1], x.shape[-1] - two_p)], -1)

    def _gains(self, phase_norm: TokenComplexRMSNorm, mag_norm: TokenRMSNorm) -> torch.Tensor:
        return torch.cat([phase_norm.gain, phase_norm.gain, mag_norm.gain])

    def _forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        two_p = 2 * self.phase_channels
        # attention: norm scale per token; the norm gains are folded into the fused q/k/v weight
        scales = self._token_scales(x, self.mag_norm_attn.eps, self.phase_norm_attn.eps)
        in_weight = self.attn.fused_in_weight() * self._gains(self.phase_norm_attn, self.mag_norm_attn)
        x = x + self.attn.forward_tokens(x * scales.to(x.dtype), in_weight)
        z, m = x.split([two_p, x.shape[-1] - two_p], dim=-1)
        m = self.mag_norm_out(m + self.mag_ffn(self.mag_norm_ffn(m)))
        z = self.phase_norm_out(z + self.phase_ffn.forward_tokens(self._phase_scaled(z), self.phase_norm_ffn.gain))
        return torch.cat([z, m], dim=-1)

    def _phase_scaled(self, z: torch.Tensor) -> torch.Tensor:
        """z / sqrt(mean_c |z_c|^2 + eps): the phase FFN pre-norm without its gain (folded into the conv)."""
        power = stat(z).square().sum(-1, keepdim=True) / self.phase_channels + self.phase_norm_ffn.eps
        return z * power.rsqrt().to(z.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if fast_path.uses("hadf"):
            return self._forward_fast(x)
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
