"""Griffin-Lim phase retrieval (ours, :mod:`models.classical`): fast GL, 100 iterations.

Keeps the input magnitude and replaces its phase; listed with the peers because it is the
classical reference every phase-retrieval model is compared with.
"""
from __future__ import annotations

import numpy as np
import torch

from models.peers._base import SimpleRunner, fit_length


class GriffinLimRunner(SimpleRunner):
    def __init__(self) -> None:
        from models.classical import GriffinLimEnhancer

        self._model = GriffinLimEnhancer().eval()

    @torch.inference_mode()
    def __call__(self, wave: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(wave, dtype=np.float32).reshape(1, -1))
        return fit_length(self._model(x)[0].numpy(), x.shape[1])


def load() -> GriffinLimRunner:
    return GriffinLimRunner()
