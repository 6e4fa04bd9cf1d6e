"""Switch between the GRE network's fast forward and its reference (module-by-module) forward.

The fast forward computes the same maths with fewer, larger kernels (fused projections, token-
layout convolutions as matmuls, a thread policy for the GRU); it is used for training and
inference alike, because it is built from the same parameters with differentiable ops. The
reference forward stays as the readable definition and as the oracle in the tests:

    with fast_path.disabled():
        reference = net(mag, phase)
"""
from __future__ import annotations

import contextlib
import os

import torch

#: The separately switchable steps of the fast forward (bench/fast_path.py measures each).
FEATURES = ("hadf", "gru", "mpicm")
_active: frozenset[str] = frozenset() if os.environ.get("GRE_REFERENCE_PATH", "") not in ("", "0") else frozenset(FEATURES)


def uses(feature: str) -> bool:
    """Whether ``feature`` of the fast forward is on (all are, unless GRE_REFERENCE_PATH=1)."""
    return feature in _active


@contextlib.contextmanager
def only(*features: str):
    """Inside this block, use exactly ``features`` of the fast forward (none: the reference)."""
    global _active
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown fast-path features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    before, _active = _active, frozenset(features)
    try:
        yield
    finally:
        _active = before


def disabled():
    """Run the reference forward inside this block."""
    return only()


@contextlib.contextmanager
def num_threads(n: int):
    """Run a block with ``n`` intra-op threads, restoring the previous count after.

    Used for the GRU: it steps through the sequence with small ops, where a second thread only
    adds synchronisation (and spin-waits on a shared, busy CPU).
    """
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
