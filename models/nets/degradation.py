"""A small classifier that says which degradations a speech signal carries: background noise, reverberation.

It serves the router of the universal task (:mod:`models.router`): the specialist models beat the one universal
model on their own kind of input, so the router sends each input to the specialists it needs.

    wave [B, N] (16 kHz) --unit RMS--> log-mel [B, n_mels, T] --statistics over T--> [B, 6 * n_mels]
        --standardise--> MLP --> logits [B, len(labels)]   (sigmoid: probability of each degradation)

Why statistics over time and not a sequence model: noise and reverberation are properties of the whole
stretch (a noise floor under the pauses, tails that smear onsets), which per-band percentiles and the mean
frame-to-frame change show directly; and the statistics make the cost of a 4 s chunk a few hundred
microseconds, nothing beside the enhancement models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

#: Log floor relative to unit RMS: quieter bins are clipped here (digital silence, empty high bands).
LOG_FLOOR = 1e-8
#: Per-band statistics over time, in feature order.
STATISTICS = ("mean", "std", "p10", "p50", "p90", "mean_abs_delta")


@dataclass(frozen=True)
class DegradationClassifierConfig:
    """Front end (STFT sizes in samples at ``sample_rate_hz``) and MLP width."""

    sample_rate_hz: int = 16_000
    n_fft: int = 512
    hop_length: int = 160
    n_mels: int = 48
    hidden: int = 64
    labels: tuple[str, ...] = ("noise", "reverb")

    @property
    def n_features(self) -> int:
        return len(STATISTICS) * self.n_mels


def mel_filterbank(n_mels: int, n_fft: int, sample_rate_hz: int) -> torch.Tensor:
    """Triangular filters on the HTK mel scale from 0 Hz to Nyquist -> [n_mels, n_fft // 2 + 1], each row
    summing to 1 (a weighted mean of the power in its band, so bands of any width compare)."""
    def mel(hz):
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    edges_mel = torch.linspace(0.0, mel(sample_rate_hz / 2), n_mels + 2, dtype=torch.float64)
    edges_hz = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    bins_hz = torch.linspace(0.0, sample_rate_hz / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rise = (bins_hz - lo) / (mid - lo)
    fall = (hi - bins_hz) / (hi - mid)
    tri = torch.clamp(torch.minimum(rise, fall), min=0.0)
    # A band narrower than one bin would be empty: give it its nearest bin.
    empty = tri.sum(dim=1) == 0
    if empty.any():
        nearest = torch.argmin((bins_hz[None, :] - mid[empty]).abs(), dim=1)
        tri[empty.nonzero().squeeze(1), nearest] = 1.0
    return (tri / tri.sum(dim=1, keepdim=True)).to(torch.float32)


class DegradationClassifier(nn.Module):
    """forward(wave [B, N] at ``cfg.sample_rate_hz``) -> logits [B, len(cfg.labels)].

    ``feature_mean`` / ``feature_std`` standardise the statistics; training sets them from its data (they
    are buffers, saved with the weights)."""

    def __init__(self, cfg: DegradationClassifierConfig = DegradationClassifierConfig()):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel", mel_filterbank(cfg.n_mels, cfg.n_fft, cfg.sample_rate_hz), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.register_buffer("feature_mean", torch.zeros(cfg.n_features))
        self.register_buffer("feature_std", torch.ones(cfg.n_features))
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_features, cfg.hidden), nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(),
            nn.Linear(cfg.hidden, len(cfg.labels)),
        )

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """wave [B, N] -> statistics [B, 6 * n_mels] (see :data:`STATISTICS`), float32."""
        cfg = self.cfg
        wave = wave.float()
        rms = wave.pow(2).mean(dim=-1, keepdim=True).clamp_min(1e-12).sqrt()
        wave = wave / rms
        if wave.shape[-1] < cfg.n_fft:  # too short for two frames: pad (the statistics stay defined)
            wave = nn.functional.pad(wave, (0, cfg.n_fft - wave.shape[-1]))
        spec = torch.stft(wave, cfg.n_fft, cfg.hop_length, window=self.window, center=True, return_complex=True)
        power = spec.real.pow(2) + spec.imag.pow(2)  # [B, F, T]
        logmel = torch.log10(torch.einsum("mf,bft->bmt", self.mel, power).clamp_min(LOG_FLOOR))  # [B, M, T]
        q = torch.quantile(logmel, torch.tensor([0.1, 0.5, 0.9], device=wave.device), dim=-1)  # [3, B, M]
        delta = (logmel[..., 1:] - logmel[..., :-1]).abs().mean(dim=-1)
        stats = [logmel.mean(dim=-1), logmel.std(dim=-1, unbiased=False), q[0], q[1], q[2], delta]
        return torch.cat(stats, dim=-1)

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """features [B, 6 * n_mels] (from :meth:`features`) -> logits [B, len(labels)]."""
        return self.mlp((features - self.feature_mean) / self.feature_std)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(wave))

    @torch.no_grad()
    def probabilities(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """{label: probability [B]} of each degradation."""
        prob = torch.sigmoid(self(wave).float())
        return {label: prob[:, k] for k, label in enumerate(self.cfg.labels)}

    def detect(self, wave: torch.Tensor, threshold: float = 0.5) -> dict[str, torch.Tensor]:
        """{label: bool [B]}: whether each degradation's probability exceeds ``threshold``."""
        return {label: p > threshold for label, p in self.probabilities(wave).items()}
