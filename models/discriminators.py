"""Optional adversarial critics for training (gre_net.md section 4).

- :class:`MetricDiscriminator` (MetricGAN+ style): scores (clean magnitude, candidate magnitude)
  pairs [B, F, T] in [0, 1]; trained to predict the candidate's normalised PESQ-WB,
  (PESQ - 1) / 3.5, and 1 for the clean itself. The generator is pushed towards a score of 1.
- :class:`MultiPeriodDiscriminator` (HiFi-GAN MPD, periods 2, 3, 5, 7, 11): hinge losses and
  feature matching on waveforms [B, N].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from models.metrics.pesq_batch import PesqBatch

MPD_PERIODS = (2, 3, 5, 7, 11)
LEAKY_SLOPE = 0.1


class LearnableSigmoid(nn.Module):
    """beta * sigmoid(slope * x) with a learnable slope per feature."""

    def __init__(self, features: int, beta: float = 1.0):
        super().__init__()
        self.beta = beta
        self.slope = nn.Parameter(torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.beta * torch.sigmoid(self.slope * x)


class MetricDiscriminator(nn.Module):
    """forward(ref_mag [B, F, T], cand_mag [B, F, T]) -> score [B] in [0, 1]."""

    def __init__(self, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        channels = [2, width, width * 2, width * 4, width * 8]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)),
                       nn.InstanceNorm2d(c_out, affine=True), nn.PReLU(c_out)]
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), spectral_norm(nn.Linear(width * 8, width * 4)),
                   nn.Dropout(0.3), nn.PReLU(width * 4), spectral_norm(nn.Linear(width * 4, 1)),
                   LearnableSigmoid(1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, ref_mag: torch.Tensor, cand_mag: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.stack((ref_mag, cand_mag), dim=1)).flatten()


def pesq_targets(clean: np.ndarray, enhanced: np.ndarray, sample_rate_hz: int = 16_000,
                 scorer: PesqBatch | None = None) -> torch.Tensor:
    """Normalised PESQ-WB, (PESQ - 1) / 3.5, per row of [B, N] arrays -> [B]; NaN where PESQ fails
    (e.g. no speech detected in a segment). ``scorer`` (a :class:`PesqBatch` at ``sample_rate_hz``)
    scores the rows in its pool of processes; without it they are scored here, one by one.

    The authors skip the whole batch's fake term when any row fails; we drop only the failing rows
    (:func:`metric_critic_loss`), so one silent crop of a batch of 16 does not waste the other 15."""
    if scorer is None:
        scorer = PesqBatch(sample_rate_hz)
    elif scorer.sample_rate_hz != sample_rate_hz:
        raise ValueError(f"the PESQ scorer runs at {scorer.sample_rate_hz} Hz, the crops are at {sample_rate_hz} Hz")
    return torch.from_numpy((scorer(clean, enhanced) - 1.0) / 3.5).float()


def metric_critic_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of critic ``scores`` [B] to ``targets`` [B] over the rows whose target is
    finite; zero (keeping the graph) when none is."""
    valid = torch.isfinite(targets)
    if not bool(valid.any()):
        return scores.sum() * 0.0
    return F.mse_loss(scores[valid], targets[valid].to(scores.dtype))


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN period discriminator: waveform folded into [N / p, p], 2-D convs along time."""

    def __init__(self, period: int, kernel: int = 5, stride: int = 3):
        super().__init__()
        self.period = period
        pad = (kernel - 1) // 2
        chans = [1, 32, 128, 512, 1024]
        convs = [weight_norm(nn.Conv2d(a, b, (kernel, 1), (stride, 1), (pad, 0))) for a, b in zip(chans[:-1], chans[1:])]
        convs.append(weight_norm(nn.Conv2d(1024, 1024, (kernel, 1), 1, (2, 0))))
        self.convs = nn.ModuleList(convs)
        self.post = weight_norm(nn.Conv2d(1024, 1, (3, 1), 1, (1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, n = x.shape
        if n % self.period:
            x = F.pad(x.unsqueeze(1), (0, self.period - n % self.period), "reflect").squeeze(1)
        x = x.view(b, 1, -1, self.period)
        features = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            if i > 0:  # the authors match features from the second conv on
                features.append(x)
        x = self.post(x)
        features.append(x)
        return x.flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    """forward(wave [B, N]) -> (scores per period, feature maps per period)."""

    def __init__(self, periods: tuple[int, ...] = MPD_PERIODS):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p) for p in periods)

    def forward(self, wave: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        outs = [d(wave) for d in self.discriminators]
        return [o[0] for o in outs], [o[1] for o in outs]


def hinge_discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - r).mean() + F.relu(1 + g).mean() for r, g in zip(real, fake))


def hinge_generator_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - g).mean() for g in fake)


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    return sum((r.detach() - g).abs().mean() for rs, gs in zip(real_feats, fake_feats) for r, g in zip(rs, gs))
