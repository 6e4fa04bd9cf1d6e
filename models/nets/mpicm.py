"""MPICM: the magnitude-phase interactive convolution module, and the dense blocks built of it.

A stream pair is (z, m): z [B, 2P, T, F] the complex phase stream (Re block, Im block), and
m [B, A, T, F] the real magnitude stream. The streams talk only through real, positive gates
computed from rotation-invariant quantities (the magnitude features and |z|).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.nets import fast_path
from models.nets.complex_ops import ComplexConv2d, MapComplexRMSNorm, MapRMSNorm, modulus, split_complex, stat

GATE_SCALE = 3.0


class CrossGate(nn.Module):
    """gate = 3 * sigmoid(slope[c, f] * (1x1 conv(source))): [B, Cin, T, F] -> [B, Cout, T, F] in (0, 3).

    The 1x1 conv starts at zero weight and bias -ln 2, so sigmoid gives 1/3 and every gate is
    exactly 1 at initialisation: the two streams start out independent.
    """

    def __init__(self, in_channels: int, out_channels: int, n_freqs: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        nn.init.zeros_(self.proj.weight)
        nn.init.constant_(self.proj.bias, -math.log(2.0))
        self.slope = nn.Parameter(torch.ones(out_channels, 1, n_freqs))

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        return GATE_SCALE * torch.sigmoid(self.slope.to(source.dtype) * self.proj(source))


class MPICM(nn.Module):
    """Complex conv + cRMS on z; real conv + RMSNorm + SiLU on m; then modulus-based cross gates.

    ``upsample`` > 1 makes it the decoder's sub-pixel block: the convs produce ``upsample``
    times the channels, which are interleaved along frequency (bin r*f + k from block k).
    ``freq_pad`` pads frequency on both sides, ``causal_time_pad`` pads time in the past only.
    ``n_freqs`` is the number of bins at the output (sizes the per-bin norm gains and slopes).
    """

    def __init__(self, phase_in: int, mag_in: int, phase_out: int, mag_out: int, n_freqs: int,
                 kernel_size: tuple[int, int] = (1, 1), stride: tuple[int, int] = (1, 1),
                 dilation: tuple[int, int] = (1, 1), freq_pad: int = 0, causal_time_pad: int = 0,
                 upsample: int = 1, gated: bool = True):
        super().__init__()
        self.phase_out, self.mag_out, self.upsample = phase_out, mag_out, upsample
        self.pad = (freq_pad, freq_pad, causal_time_pad, 0)
        self.phase_conv = ComplexConv2d(phase_in, phase_out * upsample, kernel_size, stride, (0, 0), dilation)
        self.mag_conv = nn.Conv2d(mag_in, mag_out * upsample, kernel_size, stride, 0, dilation)
        self.phase_norm = MapComplexRMSNorm(phase_out, n_freqs)
        self.mag_norm = MapRMSNorm(mag_out)
        self.gated = gated
        if gated:
            self.phase_to_mag_gate = CrossGate(phase_out, mag_out, n_freqs)
            self.mag_to_phase_gate = CrossGate(mag_out, phase_out, n_freqs)

    def _pixel_shuffle_freq(self, x: torch.Tensor, groups: int) -> torch.Tensor:
        # [B, r*C*groups, T, F] -> [B, C*groups, T, r*F]; each group (Re, Im) shuffled on its own.
        if self.upsample == 1:
            return x
        b, c, t, f = x.shape
        r = self.upsample
        x = x.view(b, groups, r, c // (groups * r), t, f).permute(0, 1, 3, 4, 5, 2)
        return x.reshape(b, c // r, t, f * r)

    def _forward_fast(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward`'s maths with fewer passes over the maps.

        |z|^2 per complex channel is computed once and serves both the cRMS statistic and the
        modulus of the normalised z (|z * s| = |z| * s for the real per-(channel, bin) scale s);
        the cRMS scale, gain and phase gate are combined into one real factor applied to Re and
        Im by broadcasting (no repeat, no concatenation).
        """
        p, a = self.phase_out, self.mag_out
        zc = self._pixel_shuffle_freq(self.phase_conv(z), groups=2)  # [B, 2P, T, F]
        mc = self._pixel_shuffle_freq(self.mag_conv(m), groups=1)  # [B, A, T, F]
        b, _, t, f = zc.shape
        sq = stat(zc).square().view(b, 2, p, t, f).sum(1)  # |z|^2, [B, P, T, F], float32
        z_scale = (sq.mean(dim=(2, 3), keepdim=True) + 1e-9 + 1e-7).rsqrt() * self.phase_norm.gain  # [B, P, 1, F]
        m_power = stat(mc).square().mean(dim=(2, 3), keepdim=True) + self.mag_norm.eps
        m_scale = (m_power.rsqrt() * self.mag_norm.gain).to(mc.dtype)
        m = F.silu(torch.addcmul(self.mag_norm.bias.to(mc.dtype), mc, m_scale))
        if not self.gated:
            return (zc.view(b, 2, p, t, f) * z_scale.to(zc.dtype).unsqueeze(1)).view(b, 2 * p, t, f), m
        z_mod = torch.sqrt(sq * z_scale.square() + 1e-9).to(zc.dtype)  # |normalised z|, as modulus()
        to_mag = self.phase_to_mag_gate(z_mod)
        to_phase = self.mag_to_phase_gate(m)
        z_factor = (to_phase * z_scale.to(to_phase.dtype)).unsqueeze(1)  # [B, 1, P, T, F]
        return (zc.view(b, 2, p, t, f) * z_factor).view(b, 2 * p, t, f), m * to_mag

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if any(self.pad):
            z, m = F.pad(z, self.pad), F.pad(m, self.pad)
        if fast_path.uses("mpicm"):
            return self._forward_fast(z, m)
        z = self.phase_norm(self._pixel_shuffle_freq(self.phase_conv(z), groups=2))
        m = F.silu(self.mag_norm(self._pixel_shuffle_freq(self.mag_conv(m), groups=1)))
        if not self.gated:
            return z, m
        mag_gate_for_phase = self.mag_to_phase_gate(m)
        phase_gate_for_mag = self.phase_to_mag_gate(modulus(z))
        return z * mag_gate_for_phase.repeat(1, 2, 1, 1), m * phase_gate_for_mag


class DilatedDenseBlock(nn.Module):
    """Dense stack of MPICMs, kernel (2, 3), time dilation 1, 2, 4, ... (causal in time).

    Layer i sees the concatenation of all earlier outputs, newest first, block-wise:
    [Re new, Re older..., Im new, Im older..., m new, m older...]. Returns the last output.
    """

    def __init__(self, phase_channels: int, mag_channels: int, n_freqs: int, depth: int):
        super().__init__()
        self.layers = nn.ModuleList(
            MPICM(phase_channels * (i + 1), mag_channels * (i + 1), phase_channels, mag_channels, n_freqs,
                  kernel_size=(2, 3), dilation=(2 ** i, 1), freq_pad=1, causal_time_pad=2 ** i)
            for i in range(depth)
        )

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        re, im = split_complex(z)
        res, ims, mags = [re], [im], [m]
        for layer in self.layers:
            z, m = layer(torch.cat(res + ims, dim=1), torch.cat(mags, dim=1))
            re, im = split_complex(z)
            res.insert(0, re)
            ims.insert(0, im)
            mags.insert(0, m)
        return z, m
