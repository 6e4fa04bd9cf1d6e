"""Shared helpers for the training tests (no tests here): a tiny synthetic corpus in a temp folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


def speechlike(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    f0 = 110 + 40 * rng.random() + 25 * np.sin(2 * np.pi * 0.6 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) * rng.uniform(0.3, 1) / k for k in range(1, 20))
    envelope = (np.sin(2 * np.pi * (1.5 + rng.random()) * t + rng.random() * 6) > -0.3).astype(float)
    return (0.1 * x * envelope + 0.002 * rng.standard_normal(n)).astype(np.float32)


def noisy_speechlike(seconds: float, seed: int, noise: float = 0.03) -> np.ndarray:
    """:func:`speechlike` at 16 kHz with white noise of standard deviation ``noise`` added: input for a denoiser."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(seed + 1000)
    return (speechlike(n, seed) + noise * rng.standard_normal(n)).astype(np.float32)


def make_corpus(root: Path, n_clean: int = 5, seconds: float = 1.5) -> dict[str, Path]:
    """clean/, noise/, val/ folders of 16 kHz wav files under ``root``."""
    dirs = {k: root / k for k in ("clean", "noise", "val")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for i in range(n_clean):
        sf.write(dirs["clean"] / f"c{i}.wav", speechlike(int(seconds * RATE) + 97 * i, i), RATE)
    for i in range(2):
        sf.write(dirs["val"] / f"v{i}.wav", speechlike(RATE + 55 * i, 100 + i), RATE)
    rng = np.random.default_rng(7)
    for i in range(2):
        sf.write(dirs["noise"] / f"n{i}.wav", (0.05 * rng.standard_normal(2 * RATE)).astype(np.float32), RATE)
    return dirs


def synthetic_rir(delay: int, rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    """[n] room impulse response: a unit direct path at ``delay`` and, from 40 samples later, a
    decaying Gaussian tail (time constant 800 samples = 50 ms at 16 kHz)."""
    h = np.zeros(n, np.float32)
    h[delay] = 1.0
    tail = rng.standard_normal(n - delay - 40) * np.exp(-np.arange(n - delay - 40) / 800) * 0.3
    h[delay + 40:] = tail
    return h


def make_router_file(root: Path, stages: tuple[str, str, str] = ("gre-tiny-random",) * 3) -> tuple[Path, dict]:
    """A router file trained for a few seconds on a test corpus (8 clean files, 2 noises, 3 synthetic rooms),
    routing to ``stages``; returns (its path, the training report)."""
    from models.train.degradation import ClassifierTrainConfig, save_router, train_classifier

    corpus = make_corpus(root / "corpus", n_clean=8, seconds=2.0)
    rir_dir = root / "corpus" / "rir"
    rir_dir.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        sf.write(rir_dir / f"r{i}.wav", synthetic_rir(100 + 30 * i, rng), RATE)
    cfg = ClassifierTrainConfig((str(corpus["clean"]),), (str(corpus["noise"]),), (str(rir_dir),), examples=160,
                                val_examples=40, seconds=1.0, epochs=30, batch_size=32)
    model, report = train_classifier(cfg, log=lambda message: None)
    path = root / "router.safetensors"
    save_router(model, path, stages, cfg, report)
    return path, report
