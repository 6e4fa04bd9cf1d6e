"""bench/heldout_compare.py's model arguments: labels, files and `gre enhance` options after a model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("heldout_compare_script", REPO / "bench" / "heldout_compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_end_at_the_first_equals_sign_and_option_values_may_hold_one():
    parse = _script().parse_models
    assert parse(["masknet-psm-denoise"]) == [("masknet-psm-denoise", "masknet-psm-denoise")]
    assert parse(["late=/runs/S1/avg.safetensors"]) == [("late", "/runs/S1/avg.safetensors")]
    assert parse(["/runs/S1/weights/avg.safetensors"]) == [("weights/avg", "/runs/S1/weights/avg.safetensors")]
    # An option value with "=" neither becomes part of the label nor cuts the model short.
    assert parse(["x=default --chunk-seconds 4 --tag a=b"]) == [("x", "default --chunk-seconds 4 --tag a=b")]
    assert parse(["/runs/a.safetensors --tag a=b"]) == [("runs/a", "/runs/a.safetensors --tag a=b")]
