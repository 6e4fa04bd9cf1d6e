"""JSON output helper shared by evaluate, benchmark and the shipped-model manifest."""
from __future__ import annotations

import math
from typing import Any


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN / inf float (in nested dicts, lists and tuples) replaced by None:
    they are not JSON, and readers of our files must not meet them."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
