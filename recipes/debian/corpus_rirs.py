"""Room impulse responses for the corpus: simulated shoebox rooms (pyroomacoustics) and real IRs.

Each simulated RIR depends only on (seed, split, index): numpy and pyroomacoustics' own C++
generator (used by ray tracing) are both seeded from that triple, so a bank is identical whatever
the number of worker processes and whichever RIRs were already on disk.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from corpus_sources import RoomRange

#: Sources and microphones stay this far from every wall, and this far from each other (m).
WALL_MARGIN_M = 0.5
MIN_DISTANCE_M = 0.5
#: The stored RIR ends where the remaining energy is this far below the total (dB) ...
TAIL_DB = -60.0
#: ... but never later than this after the direct path (s).
MAX_SECONDS_AFTER_PEAK = 2.0
HYBRID_RAYS = 5000


@dataclass(frozen=True)
class RirInfo:
    """What one simulated RIR is (for the metadata table)."""

    index: int
    method: str
    length_m: float
    width_m: float
    height_m: float
    rt60_target_s: float
    rt60_measured_s: float
    source_mic_distance_m: float
    seconds: float


def rir_seed(seed: int, split: str, index: int) -> list[int]:
    """The numpy seed sequence of one RIR (split names hashed, stable across Python runs)."""
    return [seed, zlib.crc32(split.encode()), index]


def simulate_rir(rooms: RoomRange, seed: int, split: str, index: int,
                 rate_hz: int = 16_000) -> tuple[np.ndarray, RirInfo]:
    """One RIR ([N] float32, peak 1) drawn from ``rooms``; deterministic for (seed, split, index)."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(rir_seed(seed, split, index))
    while True:  # redraw the (rare) rooms too small for their RT60
        dims = np.array([rng.uniform(*rooms.length_m), rng.uniform(*rooms.width_m), rng.uniform(*rooms.height_m)])
        rt60 = float(rng.uniform(*rooms.rt60_s))
        try:
            absorption, order = pra.inverse_sabine(rt60, dims)
        except ValueError:
            continue
        break
    while True:
        src = np.array([rng.uniform(WALL_MARGIN_M, d - WALL_MARGIN_M) for d in dims])
        mic = np.array([rng.uniform(WALL_MARGIN_M, d - WALL_MARGIN_M) for d in dims])
        # Heads and mouths are at 1-2 m, not on the floor or the ceiling.
        src[2], mic[2] = rng.uniform(1.0, min(2.0, dims[2] - WALL_MARGIN_M), size=2)
        if np.linalg.norm(src - mic) >= MIN_DISTANCE_M:
            break
    pra.random.seed(int(rng.integers(0, 2**31 - 1)))  # the ray tracer's C++ generator
    if rooms.method == "ism":
        room = pra.ShoeBox(dims, fs=rate_hz, materials=pra.Material(float(absorption)),
                           max_order=int(min(order, rooms.max_order)))
    elif rooms.method == "hybrid":
        room = pra.ShoeBox(dims, fs=rate_hz, materials=pra.Material(float(absorption)), max_order=3,
                           ray_tracing=True, air_absorption=True)
        room.set_ray_tracing(receiver_radius=0.5, n_rays=HYBRID_RAYS, energy_thres=1e-7)
    else:
        raise ValueError(f"unknown room simulation method {rooms.method!r}; use ism or hybrid")
    room.add_source(src.tolist())
    room.add_microphone(mic.tolist())
    room.compute_rir()
    h = trim_rir(np.asarray(room.rir[0][0], dtype=np.float64), rate_hz)
    try:
        measured = float(pra.experimental.measure_rt60(h, fs=rate_hz))
    except (ValueError, IndexError):  # too short a decay to fit
        measured = float("nan")
    info = RirInfo(index, rooms.method, *(round(float(d), 3) for d in dims), round(rt60, 3), round(measured, 3),
                   round(float(np.linalg.norm(src - mic)), 3), round(len(h) / rate_hz, 4))
    return h.astype(np.float32), info


def trim_rir(h: np.ndarray, rate_hz: int) -> np.ndarray:
    """Cut the tail once ``TAIL_DB`` of the energy is gone (at most ``MAX_SECONDS_AFTER_PEAK``); peak 1."""
    h = np.asarray(h, dtype=np.float64)
    peak = int(np.argmax(np.abs(h)))
    energy = np.cumsum((h ** 2)[::-1])[::-1]  # energy from each sample to the end
    total = energy[0] if energy.size else 0.0
    if total <= 0:
        raise ValueError("an all-zero impulse response")
    below = np.nonzero(energy < total * 10 ** (TAIL_DB / 10))[0]
    end = int(below[0]) if below.size else len(h)
    end = max(min(end, peak + int(MAX_SECONDS_AFTER_PEAK * rate_hz)), peak + 1)
    h = h[:end]
    return h / np.max(np.abs(h))


def prepare_real_rir(h: np.ndarray, rate_hz: int) -> np.ndarray:
    """A measured IR at 16 kHz: leading silence before the direct path kept short (2 ms), trimmed."""
    h = np.asarray(h, dtype=np.float64)
    peak = int(np.argmax(np.abs(h)))
    onset = np.nonzero(np.abs(h[:peak + 1]) >= 0.01 * abs(h[peak]))[0][0]
    start = max(0, int(onset) - int(0.002 * rate_hz))
    return trim_rir(h[start:], rate_hz).astype(np.float32)
