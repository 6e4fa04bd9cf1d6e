"""Synthetic test signals shared by the metric and evaluation tests (imported by them), plus a check
that they look like speech to the metrics that need speech (PESQ's utterance detector, STOI)."""
from __future__ import annotations

import numpy as np
import soundfile as sf

RATE = 16_000


def speechlike(seconds: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """Voiced harmonic bursts (f0 ~ 100-150 Hz, 24 harmonics), syllable envelope and pauses, peak 0.3."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    f0 = 125 + 25 * np.sin(2 * np.pi * (0.5 + 0.2 * rng.random()) * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    harmonics = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 25) if k * 150 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 2.1 * t + rng.uniform(0, 6)), 0, None) ** 0.7
    x = harmonics * envelope + 0.003 * rng.standard_normal(n)
    x = np.convolve(x, [1.0, -0.5, 0.2], mode="same")
    return 0.3 * x / np.max(np.abs(x))


def white_noise_at_snr(ref: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """White noise scaled so that energy(ref) / energy(noise) = snr_db exactly."""
    noise = np.random.default_rng(seed).standard_normal(ref.size)
    return noise * np.sqrt(np.sum(ref ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))


def write(path, wave: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, rate, subtype=subtype)


def test_speechlike_is_scored_as_speech():
    from models.metrics.intelligibility import stoi_scores
    from models.metrics.pesq_metrics import pesq_score

    x = speechlike(2.0, seed=5)
    y = x + white_noise_at_snr(x, 10.0)
    assert 1.0 < pesq_score(x, y, RATE, "wb") < 4.0
    assert pesq_score(x, x.copy(), RATE, "wb") > 4.5
    assert 0.5 < stoi_scores(x, y, RATE)["stoi"] < 1.0
