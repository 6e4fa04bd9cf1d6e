"""Shared pieces of the peer adapters: 16 kHz in/out around a native-rate process, length kept."""
from __future__ import annotations

import numpy as np

from models.audio_resample import resample
from models.peers import PEER_RATE_HZ


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` [M] cut or zero-padded to [n] (float32)."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))


def to_native(wave: np.ndarray, native_rate_hz: int | None) -> np.ndarray:
    """float32 [N] at 16 kHz -> float32 [M] at the peer's rate (identity when it runs at any rate)."""
    wave = np.ascontiguousarray(np.asarray(wave, dtype=np.float32).reshape(-1))
    return wave if native_rate_hz in (None, PEER_RATE_HZ) else resample(wave, PEER_RATE_HZ, native_rate_hz)


def from_native(y: np.ndarray, native_rate_hz: int | None, n: int) -> np.ndarray:
    """The peer's output back at 16 kHz, exactly ``n`` samples."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if native_rate_hz not in (None, PEER_RATE_HZ):
        y = resample(y, native_rate_hz, PEER_RATE_HZ)
    return fit_length(y, n)


class SimpleRunner:
    """A runner without per-signal state: ``prepare`` does nothing."""

    def prepare(self) -> None:
        pass
