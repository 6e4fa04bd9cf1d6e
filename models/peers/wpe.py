"""Single-channel WPE dereverberation with ``nara-wpe`` (numpy), at 16 kHz.

STFT 512 / hop 128 (nara-wpe's own STFT), 10 taps, prediction delay 3 frames, 3 iterations, as
in ../shared/docs/peers.md. The output is aligned with the input.
"""
from __future__ import annotations

import numpy as np

from models.peers._base import SimpleRunner, fit_length

STFT_SIZE, STFT_SHIFT, TAPS, DELAY, ITERATIONS = 512, 128, 10, 3, 3


class WPERunner(SimpleRunner):
    def __init__(self) -> None:
        from nara_wpe.utils import istft, stft
        from nara_wpe.wpe import wpe

        self._stft, self._istft, self._wpe = stft, istft, wpe

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        x = np.asarray(wave, dtype=np.float64).reshape(1, -1)  # [D=1 channel, N]
        spec = self._stft(x, size=STFT_SIZE, shift=STFT_SHIFT)  # [D, T, F]
        out = self._wpe(spec.transpose(2, 0, 1), taps=TAPS, delay=DELAY, iterations=ITERATIONS)  # [F, D, T]
        y = self._istft(out.transpose(1, 2, 0), size=STFT_SIZE, shift=STFT_SHIFT)[0]
        return fit_length(y, x.shape[1])


def load() -> WPERunner:
    return WPERunner()
