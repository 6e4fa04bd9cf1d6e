"""The GRE network (the authors' RENet): magnitude-phase dual stream, globally rotation equivariant.

Input: compressed magnitude M and phase phi of the degraded STFT, each [B, F, T]. The phase
stream starts from the unit phasor e^{j phi}; the magnitude stream from M. Output: the
restored compressed magnitude (mapped directly, ReLU) and phase (atan2 of a bias-free complex
head), each [B, F, T]. Rotating every input phase by theta rotates every output phase by theta.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.config import GREConfig
from models.nets.complex_ops import ComplexConv2d, split_complex
from models.nets.hadf import DualPathHADF
from models.nets.mpicm import MPICM, DilatedDenseBlock

#: Offset the authors add to Re and Im before the output atan2 (kept for faithfulness).
HEAD_ATAN_OFFSET = 1e-9


def downsampled_freqs(n_freqs: int) -> int:
    """Bins after the strided (1, 3) conv with stride 2 and padding 1: 201 -> 101."""
    return (n_freqs + 2 - 3) // 2 + 1


class GREEncoder(nn.Module):
    """1x1 MPICM (no gates) -> dilated dense block -> strided MPICM (F -> F/2)."""

    def __init__(self, cfg: GREConfig):
        super().__init__()
        p, a, nf = cfg.phase_channels, cfg.mag_channels, cfg.stft.n_freqs
        self.input_block = MPICM(1, 1, p, a, nf, gated=False)
        self.dense = DilatedDenseBlock(p, a, nf, cfg.dense_depth)
        self.downsample = MPICM(p, a, p, a, downsampled_freqs(nf), kernel_size=(1, 3), stride=(1, 2), freq_pad=1)

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, m = self.input_block(z, m)
        z, m = self.dense(z, m)
        return self.downsample(z, m)


class GREDecoder(nn.Module):
    """Dilated dense block -> sub-pixel MPICM (F/2 -> 2*(F/2)) -> magnitude and phase heads."""

    def __init__(self, cfg: GREConfig):
        super().__init__()
        p, a = cfg.phase_channels, cfg.mag_channels
        nf_low = downsampled_freqs(cfg.stft.n_freqs)
        self.dense = DilatedDenseBlock(p, a, nf_low, cfg.dense_depth)
        self.upsample = MPICM(p, a, p, a, nf_low * 2, kernel_size=(1, 3), freq_pad=1, upsample=2)
        up_freqs = nf_low * 2
        head_width = up_freqs - cfg.stft.n_freqs + 1  # (1, 2) for 202 -> 201
        self.magnitude_head = nn.Conv2d(a, 1, kernel_size=(1, head_width))
        self.phase_head = ComplexConv2d(p, 1, kernel_size=(1, head_width))

    def forward(self, z: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z, m = self.upsample(*self.dense(z, m))
        mag = F.relu(self.magnitude_head(m))  # [B, 1, T, F]
        re, im = split_complex(self.phase_head(z))
        phase = torch.atan2(im + HEAD_ATAN_OFFSET, re + HEAD_ATAN_OFFSET)
        return mag.squeeze(1).transpose(1, 2), phase.squeeze(1).transpose(1, 2)


class GRENet(nn.Module):
    """GRE network. forward(mag [B, F, T], phase [B, F, T]) -> (mag_hat, phase_hat), [B, F, T]."""

    arch = "gre"

    def __init__(self, cfg: GREConfig | None = None):
        super().__init__()
        self.cfg = cfg or GREConfig()
        self.encoder = GREEncoder(self.cfg)
        self.bottleneck = nn.ModuleList(DualPathHADF(self.cfg) for _ in range(self.cfg.num_blocks))
        self.decoder = GREDecoder(self.cfg)

    def forward(self, mag: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mag_t, phase_t = mag.transpose(1, 2).unsqueeze(1), phase.transpose(1, 2).unsqueeze(1)  # [B, 1, T, F]
        z = torch.cat([torch.cos(phase_t), torch.sin(phase_t)], dim=1)
        z, m = self.encoder(z, mag_t)
        x = torch.cat([z, m], dim=1)
        for block in self.bottleneck:
            x = block(x)
        z, m = x.split([2 * self.cfg.phase_channels, self.cfg.mag_channels], dim=1)
        return self.decoder(z, m)
