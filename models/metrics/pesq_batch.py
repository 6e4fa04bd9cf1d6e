"""PESQ-WB of many (reference, estimate) rows at once, in this process or in a pool of processes.

The metric critic of `gre train` (MetricGAN) needs PESQ of every crop of every step: 16-32 calls
of ~26 ms of single-threaded C code on a 2 s crop. On a GPU that is most of a step, so a machine
with spare cores scores the rows in parallel (``workers`` > 0). Results are identical either way:
the same C code runs on the same numbers.

This module imports no torch itself, so a pool process loads little beyond `pesq` and numpy.
"""
from __future__ import annotations

import math
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def pesq_wb_or_nan(row: tuple[np.ndarray, np.ndarray, int]) -> float:
    """PESQ-WB MOS-LQO of ``(reference [N], estimate [N], sample_rate_hz)``; NaN where PESQ cannot
    score the pair (no speech detected, shorter than 0.25 s, a silent estimate)."""
    from pesq import pesq

    ref, est, sample_rate_hz = row
    try:
        return float(pesq(sample_rate_hz, ref, est, "wb"))
    except Exception:  # noqa: BLE001 - PesqError subclasses, and ValueError from the C code on silence
        return float("nan")


def _ignore_stop_signals() -> None:
    """Pool processes ignore Ctrl-C and SIGTERM, which a terminal or scheduler sends to the whole
    process group: the trainer saves its checkpoint first, then shuts the pool down itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class PesqBatch:
    """Scores rows of [B, N] arrays with PESQ-WB -> [B] float64 MOS-LQO, NaN per failed row.

    ``workers=0`` scores in this process; ``workers=W`` keeps a pool of W processes for the
    object's life (started with "spawn": forking a process that runs torch's thread pools can
    deadlock). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, sample_rate_hz: int = 16_000, workers: int = 0):
        if workers < 0:
            raise ValueError(f"workers must be 0 (in this process) or more, got {workers}")
        self.sample_rate_hz = sample_rate_hz
        self.workers = workers
        self._pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_ignore_stop_signals) if workers > 0 else None)

    def __call__(self, references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
        if len(references) != len(estimates):
            raise ValueError(f"{len(references)} references but {len(estimates)} estimates")
        rows = [(np.asarray(r), np.asarray(e), self.sample_rate_hz) for r, e in zip(references, estimates)]
        if self._pool is None or len(rows) <= 1:
            return np.array([pesq_wb_or_nan(row) for row in rows], dtype=np.float64)
        # One chunk per process: a 2 s row pickles in ~0.1 ms, so the pool costs little per call.
        chunk = math.ceil(len(rows) / self.workers)
        return np.array(list(self._pool.map(pesq_wb_or_nan, rows, chunksize=chunk)), dtype=np.float64)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "PesqBatch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
