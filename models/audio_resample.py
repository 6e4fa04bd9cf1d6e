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


#: Seed of the noise floor added to upsampled audio (fixed: the same file gives the same output).
UPSAMPLED_FLOOR_SEED = 0
#: One step of 16-bit PCM, in full-scale units.
PCM16_STEP = 1.0 / 32768


class UpsampledFloor:
    """Adds triangular (TPDF) dither of one 16-bit step to audio resampled up to a model's rate.

    Resampling 8 kHz audio to 16 kHz in floating point leaves the band above 4 kHz at numerical
    zero, where any real 16 kHz recording, and most of our bwe training inputs (rounded to 16 bits),
    have a quantization floor near -101 dBFS. The bandwidth extender reads that empty band as "add
    nothing": on a true 8 kHz file it filled 1e-7 of the output energy above 4.2 kHz. The floor
    makes the input look like the 16-bit recording it would be (bench/results/bwe_narrowband_floor.md).

    Call it on consecutive blocks [C, n] of one signal: the noise depends only on the sample's place
    in the signal, not on how it is cut into blocks (random numbers are drawn time-major, two per
    sample and channel), and a new instance repeats it, so a file read twice (long files) or whole
    (`api.enhance`) gets the same samples.
    """

    def __init__(self, seed: int = UPSAMPLED_FLOOR_SEED):
        self._rng = np.random.default_rng(seed)

    def __call__(self, block: np.ndarray, silent: np.ndarray | None = None) -> np.ndarray:
        """``block`` [C, n] plus the floor, except on the channels where ``silent`` [C] is True:
        digital silence stays silence (the noise is drawn for them all the same, so that which
        channels are silent does not change the others' samples)."""
        channels, n = block.shape
        pairs = self._rng.random((n, channels, 2))  # float64: draws continue exactly across calls
        noise = (pairs[..., 0] - pairs[..., 1]).T  # [C, n], triangular on (-1, 1)
        if silent is not None:
            noise[np.asarray(silent, dtype=bool)] = 0.0
        return (block + PCM16_STEP * noise).astype(np.float32)
