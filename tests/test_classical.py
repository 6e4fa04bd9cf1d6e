"""Classical references: Griffin-Lim phase retrieval and the Wiener denoiser."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import stft as S
from models.classical import (
    CLASSICAL_MODELS,
    GriffinLimConfig,
    WienerConfig,
    griffin_lim,
    noise_psd_min_stats,
    spectral_convergence,
    wiener_denoise,
)
from models.config import STFTConfig

SR = 16_000


def speech_like(seconds: float, seed: int = 0) -> torch.Tensor:
    """[1, N]: gliding harmonic complex (f0 110-170 Hz, 24 partials), syllable-rate envelope, pauses."""
    n = int(seconds * SR)
    t = torch.arange(n, dtype=torch.float64) / SR
    rng = np.random.default_rng(seed)
    f0 = 140 + 30 * torch.sin(2 * math.pi * 0.7 * t + float(rng.uniform(0, 6)))
    phase = 2 * math.pi * torch.cumsum(f0, 0) / SR
    x = sum(torch.sin(k * phase) * (1 + 0.5 * torch.sin(2 * math.pi * 0.37 * k * t)) / k for k in range(1, 25))
    envelope = torch.sin(2 * math.pi * 3 * t).clamp_min(0).sqrt() * ((t % 2.0) < 1.4)
    return (0.1 * x * envelope).float()[None]


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    return float(10 * torch.log10(ref.pow(2).sum() / (est - ref).pow(2).sum()))


# ---------------------------------------------------------------- Griffin-Lim


@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_griffin_lim_inconsistency_never_increases(momentum):
    clean = torch.cat([speech_like(1.0, seed=0), speech_like(1.0, seed=1)])  # batch of 2
    target = S.stft(clean, STFTConfig()).abs()
    history: list[float] = []
    griffin_lim(target, clean.shape[-1], GriffinLimConfig(n_iter=30, momentum=momentum), history=history)
    assert len(history) == 30
    steps = np.diff(history)
    assert (steps <= 1e-6).all(), f"spectral convergence rose at iterations {np.nonzero(steps > 1e-6)[0]}"
    assert history[-1] < 0.6 * history[0]


def test_fast_griffin_lim_beats_classic_at_equal_iterations():
    clean = speech_like(1.0, seed=2)
    target = S.stft(clean, STFTConfig()).abs()
    results = {}
    for momentum in (0.0, 0.99):
        wave = griffin_lim(target, clean.shape[-1], GriffinLimConfig(n_iter=30, momentum=momentum))
        results[momentum] = float(spectral_convergence(S.stft(wave, STFTConfig()), target))
    assert results[0.99] < results[0.0]


def test_griffin_lim_is_batched_and_keeps_length():
    waves = torch.cat([speech_like(0.5, seed=s)[:, :7_777] for s in range(3)])
    model = CLASSICAL_MODELS["griffin-lim"](GriffinLimConfig(n_iter=5))
    out = model(waves)
    assert out.shape == waves.shape
    single = model(waves[1:2])
    torch.testing.assert_close(out[1:2], single, rtol=1e-4, atol=1e-5)


def test_griffin_lim_model_interface():
    model = CLASSICAL_MODELS["griffin-lim"]()
    assert model.sample_rate_hz == SR
    assert model.info.tasks == ("phase",) and model.info.mode == "phase_retrieval"
    with pytest.raises(ValueError, match="init"):
        griffin_lim(torch.ones(1, 201, 3), 200, GriffinLimConfig(init="bogus"))


# ---------------------------------------------------------------- Wiener


@pytest.mark.parametrize("estimator", ["quietest", "min_stats"])
@pytest.mark.parametrize("input_snr_db", [0.0, 10.0])
def test_wiener_improves_snr_on_speech_like_signal_in_white_noise(estimator, input_snr_db):
    clean = speech_like(4.0, seed=3)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(4))
    noise = noise * (clean.pow(2).mean() / noise.pow(2).mean() / 10 ** (input_snr_db / 10)).sqrt()
    noisy = clean + noise
    out = wiener_denoise(noisy, WienerConfig(noise_estimator=estimator))
    assert out.shape == noisy.shape
    assert snr_db(clean, out) > snr_db(clean, noisy) + 3.0


def test_wiener_model_interface_and_scale():
    model = CLASSICAL_MODELS["wiener"]()
    assert model.sample_rate_hz == SR and model.info.tasks == ("denoise",) and model.info.mode == "enhance"
    noisy = speech_like(1.0) + 0.01 * torch.randn(1, SR, generator=torch.Generator().manual_seed(0))
    out = model(noisy)
    # A gain driven by SNRs only: scaling the input scales the output.
    torch.testing.assert_close(model(3.0 * noisy), 3.0 * out, rtol=1e-4, atol=1e-5)
    assert torch.isfinite(model(torch.zeros(2, 999))).all()


def test_min_stats_tracks_white_noise_level():
    noise = torch.randn(1, 8 * SR, generator=torch.Generator().manual_seed(5))
    power = S.stft(noise, STFTConfig()).abs().pow(2)
    cfg = WienerConfig()
    tracked = noise_psd_min_stats(power, cfg.smoothing, 240, cfg.min_stats_bias)[..., 300:]
    ratio = float(tracked.mean() / power.mean())
    assert 0.8 < ratio < 1.25
