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

    def _call(self, x: torch.Tensor, gain: torch.Tensor | None, groups: torch.Tensor | None = None) -> torch.Tensor:
        with torch.inference_mode(), autocast(self.precision, self.device):
            if groups is not None:
                return self.model(x, gain, groups)
            return self.model(x) if gain is None else self.model(x, gain)

    def __call__(self, x: torch.Tensor, gain: torch.Tensor | None = None,
                 groups: torch.Tensor | None = None) -> torch.Tensor:
        """``gain`` None: the model computes each row's own (``model(x)``). ``groups`` [B] (for models that
        route rows in groups, :func:`models.enhancer.accepts_groups`): ``model(x, gain, groups)``, and adjacent
        rows of one group stay in one stream."""
        sizes = _part_sizes(x.shape[0], self.streams, groups)
        if len(sizes) <= 1:
            return self._call(x, gain, groups)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.streams, thread_name_prefix="gre-stream",
                                            initializer=_one_intra_op_thread)
        xs = x.split(sizes)
        gains = [None] * len(sizes) if gain is None else gain.split(sizes)
        group_parts = [None] * len(sizes) if groups is None else groups.split(sizes)
        futures = [self._pool.submit(self._call, *args) for args in zip(xs, gains, group_parts)]
        return torch.cat([f.result() for f in futures])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _part_sizes(rows: int, streams: int, groups: torch.Tensor | None) -> list[int]:
    """Row counts of at most ``streams`` parts of ``rows`` rows, as even as ``tensor_split`` makes them, with
    each part boundary moved to the nearest place where ``groups`` changes (so no run of adjacent rows of
    one group is cut); parts that would be empty are dropped."""
    parts = min(max(1, streams), rows)
    if parts <= 1:
        return [rows] if rows else []
    even = [len(t) for t in torch.arange(rows).tensor_split(parts)]
    targets = [sum(even[:k]) for k in range(1, parts)]
    if groups is None:
        cuts = targets
    else:
        ids = groups.tolist()
        allowed = [i for i in range(1, rows) if ids[i] != ids[i - 1]]
        cuts = sorted({min(allowed, key=lambda i: (abs(i - t), i)) for t in targets}) if allowed else []
    bounds = [0, *cuts, rows]
    return [b - a for a, b in zip(bounds, bounds[1:]) if b > a]


def default_streams(device: torch.device) -> int:
    """Concurrent streams for a device: one per intra-op thread torch would use on CPU, one on CUDA."""
    return torch.get_num_threads() if device.type == "cpu" else 1
