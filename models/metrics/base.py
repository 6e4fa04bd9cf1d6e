"""Shared vocabulary of the metric modules: specifications, failures and signal checks.

Every metric function takes 1-D float64 numpy waveforms of equal length at the metric's own
sample rate and returns a float, or raises :class:`MetricError` with a one-line reason. The
evaluation pipeline records that reason as a failure for that metric and file; nothing here
may crash a run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Peak amplitude below which a waveform counts as digital silence (PCM_16's smallest step is 3e-5).
SILENCE_PEAK = 1e-10


class MetricError(Exception):
    """A metric is undefined for this input; the message is the one-line reason recorded."""


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its JSON name, family (module), rate it is computed at, direction and unit."""

    name: str
    family: str
    sample_rate_hz: int
    higher_is_better: bool
    unit: str
    intrusive: bool
    description: str


def is_silent(x: np.ndarray) -> bool:
    """True when ``x`` is empty or its peak is below :data:`SILENCE_PEAK`."""
    return x.size == 0 or float(np.max(np.abs(x))) < SILENCE_PEAK


def check_pair(ref: np.ndarray, est: np.ndarray) -> None:
    """Raise :class:`MetricError` unless ``ref`` and ``est`` are 1-D and of equal length."""
    if ref.ndim != 1 or est.ndim != 1:
        raise MetricError(f"expected 1-D waveforms, got shapes {ref.shape} and {est.shape}")
    if ref.shape != est.shape:
        raise MetricError(f"length mismatch: reference {ref.size} vs estimate {est.size} samples "
                          "(cut both to the common length first)")


def require_reference(ref: np.ndarray) -> None:
    """Intrusive metrics compare against the reference: a silent one makes them meaningless."""
    if is_silent(ref):
        raise MetricError("reference is silent")


def finite(value: float, what: str) -> float:
    """Return ``value`` as a float, or raise when it is NaN or infinite."""
    value = float(value)
    if not np.isfinite(value):
        raise MetricError(f"{what} is not finite ({value})")
    return value
