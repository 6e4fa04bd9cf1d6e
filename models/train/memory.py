"""Process memory policy for training on CPU."""
from __future__ import annotations

import ctypes
import ctypes.util

#: glibc mallopt parameter number of M_MMAP_THRESHOLD.
_M_MMAP_THRESHOLD = -3


def limit_heap_fragmentation(threshold_bytes: int = 1 << 20) -> bool:
    """Serve allocations above ``threshold_bytes`` with mmap so that freed tensors go back to the OS.

    With gradient checkpointing, activations are freed and re-created in a different order in
    the backward pass; glibc's heap then keeps the holes and the resident size grows to about
    twice the live tensors (measured: 2.12 GB vs 1.07 GB peak for `small`, batch 2 x 1 s). The
    price is page faults on every large allocation (about +50 % CPU time per step here), so this
    is only worth it when memory binds. Returns False where glibc's mallopt is unavailable.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold_bytes)))
    except (OSError, AttributeError):
        return False
