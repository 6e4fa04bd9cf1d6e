"""noisereduce: non-stationary spectral gating with the package defaults, at 16 kHz, one job."""
from __future__ import annotations

import numpy as np

from models.peers import PEER_RATE_HZ
from models.peers._base import SimpleRunner, fit_length


class NoiseReduceRunner(SimpleRunner):
    def __init__(self) -> None:
        import noisereduce

        self._reduce = noisereduce.reduce_noise

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        x = np.asarray(wave, dtype=np.float32).reshape(-1)
        y = self._reduce(y=x, sr=PEER_RATE_HZ, stationary=False, n_jobs=1, use_tqdm=False)
        return fit_length(y, x.size)


def load() -> NoiseReduceRunner:
    return NoiseReduceRunner()
