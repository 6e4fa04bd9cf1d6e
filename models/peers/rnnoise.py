"""RNNoise through ``pyrnnoise`` (weights compiled into its ``librnnoise``).

Runs at 48 kHz on 480-sample frames of int16-scaled float samples, one fresh state per signal
(creating it is cheap, so it is inside the measured time). We call the library's frame function
on float buffers directly rather than ``process_mono_frame``, which rounds every frame to int16.
The output keeps RNNoise's own delay (20 ms, see ../shared/docs/peers.md); the benchmark scores
it with alignment.
"""
from __future__ import annotations

import ctypes

import numpy as np

from models.peers._base import SimpleRunner, from_native, to_native

NATIVE_RATE_HZ = 48_000
INT16_SCALE = 32768.0


class RNNoiseRunner(SimpleRunner):
    def __init__(self) -> None:
        from pyrnnoise import rnnoise

        self._lib = rnnoise.lib
        self._frame = int(rnnoise.FRAME_SIZE)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        n = np.asarray(wave).size
        x = to_native(wave, NATIVE_RATE_HZ)
        frames = -(-x.size // self._frame)
        buf = np.zeros(frames * self._frame, dtype=np.float32)
        buf[: x.size] = x * INT16_SCALE
        state = self._lib.rnnoise_create(None)
        try:
            pointer = ctypes.POINTER(ctypes.c_float)
            for i in range(frames):  # in place, frame by frame (the state carries over)
                frame = buf[i * self._frame:(i + 1) * self._frame]
                ptr = frame.ctypes.data_as(pointer)
                self._lib.rnnoise_process_frame(state, ptr, ptr)
        finally:
            self._lib.rnnoise_destroy(state)
        return from_native(buf[: x.size] / INT16_SCALE, NATIVE_RATE_HZ, n)


def load() -> RNNoiseRunner:
    return RNNoiseRunner()
