"""Sample-rate conversion with soxr (high quality), for arrays shaped [..., N]."""
from __future__ import annotations

import numpy as np
import soxr


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample along the last axis; returns float32. Identity when the rates match."""
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out or x.shape[-1] == 0:
        return x
    flat = x.reshape(-1, x.shape[-1])
    # soxr wants [N, channels]
    y = soxr.resample(np.ascontiguousarray(flat.T), rate_in, rate_out, quality="HQ")
    y = np.asarray(y, dtype=np.float32).reshape(-1, flat.shape[0]).T
    return np.ascontiguousarray(y).reshape(*x.shape[:-1], -1)
