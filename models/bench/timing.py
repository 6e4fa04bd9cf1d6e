"""Timing one setting: warm-up calls, then timed calls; wall and CPU time, peak memory.

    point = time_point(system, batch_size=1, seconds=10.0, warmup=1, repeats=3)
    point.rtf            # median wall seconds per audio second (batch 1 = real-time factor)
    point.throughput     # audio seconds per wall second = batch_size * seconds / median

``clock`` (wall) and ``cpu_clock`` (process CPU, all threads) are injectable so that tests can
drive the loop with a fake clock. Memory: ``peak_rss_mib`` is the process's resident-set
high-water mark after the timed calls and ``baseline_rss_mib`` the resident set just before the
first call (after imports and model loading). On Linux the mark is ``VmHWM`` of /proc/self/status,
reset to the current RSS before the first call (``clear_refs`` 5), so the peak belongs to this
setting even in a long-lived process; ``ru_maxrss`` is not used there because a child inherits its
parent's high-water mark across fork/exec. Elsewhere ``ru_maxrss`` (the process's lifetime peak).
The benchmark also runs every setting in a fresh process.
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

RATE_HZ = 16_000


class Timed(Protocol):
    """What ``time_point`` drives: ``prepare()`` (untimed), then ``__call__(x [B, N]) -> [B, N]``."""

    def prepare(self) -> None: ...
    def __call__(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PointResult:
    """One setting: ``batch_size`` rows of ``seconds`` of audio per call, ``times_s`` / ``cpu_s``
    of each timed call (warm-up calls excluded), memory in MiB, 1/5/15-min load average at start."""

    batch_size: int
    seconds: float
    warmup: int
    times_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    peak_rss_mib: float | None = None
    baseline_rss_mib: float | None = None
    gpu_peak_mib: float | None = None
    load_average: tuple[float, float, float] | None = None

    @property
    def median_s(self) -> float:
        return float(statistics.median(self.times_s))

    @property
    def audio_seconds(self) -> float:
        return self.batch_size * self.seconds

    @property
    def rtf(self) -> float:
        """Median wall seconds per second of audio (for batch 1, the real-time factor)."""
        return self.median_s / self.audio_seconds

    @property
    def cpu_per_audio_s(self) -> float:
        """Median CPU seconds (all threads) per second of audio."""
        return float(statistics.median(self.cpu_s)) / self.audio_seconds

    @property
    def throughput(self) -> float:
        """Audio seconds per wall second."""
        return self.audio_seconds / self.median_s if self.median_s > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"batch_size": self.batch_size, "seconds": self.seconds, "warmup": self.warmup,
                "times_s": list(self.times_s), "cpu_s": list(self.cpu_s), "median_s": self.median_s,
                "rtf": self.rtf, "cpu_per_audio_s": self.cpu_per_audio_s, "throughput": self.throughput,
                "peak_rss_mib": self.peak_rss_mib, "baseline_rss_mib": self.baseline_rss_mib,
                "gpu_peak_mib": self.gpu_peak_mib,
                "load_average": None if self.load_average is None else list(self.load_average)}

    @classmethod
    def from_dict(cls, d: dict) -> "PointResult":
        return cls(d["batch_size"], d["seconds"], d["warmup"], tuple(d["times_s"]), tuple(d["cpu_s"]),
                   d.get("peak_rss_mib"), d.get("baseline_rss_mib"), d.get("gpu_peak_mib"),
                   tuple(d["load_average"]) if d.get("load_average") else None)


def bench_signal(batch_size: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """Deterministic noisy speech-like test input, float32 [batch_size, n_samples] at 16 kHz.

    Voiced harmonic bursts (f0 100-150 Hz) with a syllable envelope plus white noise at about
    5 dB SNR, peak ~0.3. Speed does not depend on the content, but some peers skip silence.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / RATE_HZ
    rows = []
    for _ in range(batch_size):
        f0 = 125 + 25 * np.sin(2 * np.pi * (0.4 + 0.3 * rng.random()) * t)
        phase = 2 * np.pi * np.cumsum(f0) / RATE_HZ
        voiced = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 40))
        envelope = np.clip(np.sin(2 * np.pi * 2.0 * t + rng.uniform(0, 6)), 0, None) ** 0.7
        speech = voiced * envelope
        noise = rng.standard_normal(n_samples) * np.sqrt(np.mean(speech ** 2) / 10 ** 0.5)
        x = speech + noise
        rows.append(0.3 * x / max(np.max(np.abs(x)), 1e-9))
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, n_samples), np.float32)


def _status_kib(field: str) -> float | None:
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def current_rss_mib() -> float | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def max_rss_mib() -> float:
    """Resident-set high-water mark of this process in MiB: VmHWM on Linux, else ru_maxrss
    (KiB on Linux, bytes on macOS)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def load_average() -> tuple[float, float, float] | None:
    try:
        return tuple(round(v, 2) for v in os.getloadavg())  # type: ignore[return-value]
    except OSError:
        return None


def time_point(system: Timed, batch_size: int, seconds: float, warmup: int, repeats: int, *,
               clock: Callable[[], float] = time.perf_counter, cpu_clock: Callable[[], float] = time.process_time,
               sync: Callable[[], None] | None = None, gpu_peak: Callable[[], float | None] | None = None,
               seed: int = 0) -> PointResult:
    """Call ``system`` ``warmup`` times untimed, then ``repeats`` times timed, on the same input
    [batch_size, round(seconds * 16000)]. ``system.prepare()`` runs before every call, outside
    the timing. ``sync`` (e.g. torch.cuda.synchronize) runs before the clock is read."""
    if repeats < 1 or warmup < 0 or batch_size < 1 or seconds <= 0:
        raise ValueError("time_point needs repeats >= 1, warmup >= 0, batch_size >= 1 and seconds > 0")
    x = bench_signal(batch_size, int(round(seconds * RATE_HZ)), seed)
    started_load = load_average()
    reset_peak_rss()
    baseline = current_rss_mib() or max_rss_mib()
    times, cpus = [], []
    for i in range(warmup + repeats):
        system.prepare()
        t0, c0 = clock(), cpu_clock()
        system(x)
        if sync is not None:
            sync()
        t1, c1 = clock(), cpu_clock()
        if i >= warmup:
            times.append(t1 - t0)
            cpus.append(c1 - c0)
    return PointResult(batch_size, float(seconds), warmup, tuple(times), tuple(cpus), max_rss_mib(), baseline,
                       gpu_peak() if gpu_peak else None, started_load)
