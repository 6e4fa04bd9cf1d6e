"""PESQ (ITU-T P.862) through the `pesq` package: wide band at 16 kHz, narrow band at 8 kHz.

The package's failures are turned into :class:`MetricError` reasons: a silent reference raises
``NoUtterancesError``, a clip under 0.25 s ``BufferTooShortError``, and an all-zero estimate a
plain ``ValueError`` from inside the C code.
"""
from __future__ import annotations

import numpy as np
from pesq import PesqError, pesq

from models.metrics.base import MetricError, check_pair, finite, is_silent

#: mode -> the only sample rate the metric is defined at here.
PESQ_RATES_HZ = {"wb": 16_000, "nb": 8_000}


def pesq_score(ref: np.ndarray, est: np.ndarray, sample_rate_hz: int, mode: str) -> float:
    """PESQ MOS-LQO of ``est`` against ``ref`` ([N] each, at ``sample_rate_hz``); mode "wb" or "nb"."""
    if mode not in PESQ_RATES_HZ:
        raise ValueError(f"unknown PESQ mode {mode!r}; use 'wb' or 'nb'")
    if sample_rate_hz != PESQ_RATES_HZ[mode]:
        raise ValueError(f"PESQ {mode} is computed at {PESQ_RATES_HZ[mode]} Hz, got {sample_rate_hz} Hz")
    check_pair(ref, est)
    if is_silent(est) and not is_silent(ref):
        # pesq would raise "ValueError: cannot convert float NaN to integer" from its C code.
        raise MetricError("estimate is silent (PESQ undefined)")
    try:
        value = pesq(sample_rate_hz, ref, est, mode)
    except PesqError as err:  # NoUtterancesError, BufferTooShortError, ...
        message = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise MetricError(f"{type(err).__name__}: {message}") from None
    except ValueError as err:
        raise MetricError(f"PESQ failed: {err}") from None
    return finite(value, "PESQ")
