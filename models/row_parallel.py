"""Run one batched model call as concurrent single-threaded streams on CPU.

Why: the GRE network (and MaskNet) step through a GRU recurrence and many small element-wise
ops; a second intra-op thread mostly waits at OpenMP barriers on them. Running the rows of a
batch as independent streams, each with one intra-op thread, keeps every core busy on its own
rows instead: on this 2-core machine two one-thread streams beat one call with two intra-op
threads by ~1.2-1.3x (`python bench/fast_path_probes.py streams`, bench/results/fast_path_probes.md).

Torch ops release the GIL, so plain Python threads run in parallel. Grad mode, inference mode
and autocast are thread-local in torch: every stream enters them itself.

    runner = RowParallel(model, streams=2, precision="bf16", device=torch.device("cpu"))
    y = runner(x, gain)        # x [B, N], gain [B] -> [B, N], same as model(x, gain)
    runner.close()
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from models.device import autocast


def _one_intra_op_thread() -> None:
    # OpenMP's thread count is a per-thread setting: a new thread starts from the process
    # default (all cores), so each stream sets its own.
    torch.set_num_threads(1)


class RowParallel:
    """``model(x [B, N], gain [B]) -> [B, N]`` with the B rows split into at most ``streams`` parts.

    Each part runs in its own thread under ``torch.inference_mode()`` and the precision's autocast,
    with one intra-op thread. ``streams <= 1`` (or a single row) calls the model directly in the
    caller's thread. Row order is kept.
    """

    def __init__(self, model: Callable[..., torch.Tensor], streams: int, precision: str, device: torch.device):
        self.model = model
        self.streams = max(1, int(streams))
        self.precision = precision
        self.device = device
        self._pool: ThreadPoolExecutor | None = None

    def _call(self, x: torch.Tensor, gain: torch.Tensor | None) -> torch.Tensor:
        with torch.inference_mode(), autocast(self.precision, self.device):
            return self.model(x) if gain is None else self.model(x, gain)

    def __call__(self, x: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """``gain`` None: the model computes each row's own (``model(x)``)."""
        parts = min(self.streams, x.shape[0])
        if parts <= 1:
            return self._call(x, gain)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.streams, thread_name_prefix="gre-stream",
                                            initializer=_one_intra_op_thread)
        gains = [None] * parts if gain is None else gain.tensor_split(parts)
        futures = [self._pool.submit(self._call, xs, gs) for xs, gs in zip(x.tensor_split(parts), gains)]
        return torch.cat([f.result() for f in futures])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def default_streams(device: torch.device) -> int:
    """Concurrent streams for a device: one per intra-op thread torch would use on CPU, one on CUDA."""
    return torch.get_num_threads() if device.type == "cpu" else 1
