import json
import math

from models.json_safe import json_safe


def test_non_finite_floats_become_null_at_any_depth():
    data = {"a": math.nan, "b": [1.0, math.inf, (2.0, -math.inf)], "c": {"d": 3, "e": "x"}}
    out = json_safe(data)
    assert out == {"a": None, "b": [1.0, None, [2.0, None]], "c": {"d": 3, "e": "x"}}
    json.dumps(out, allow_nan=False)  # valid strict JSON
