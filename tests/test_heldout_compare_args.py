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


def test_seed_draws_fresh_degradations_of_the_same_files_and_defaults_to_the_usual_draw(tmp_path):
    import numpy as np
    import soundfile as sf

    from models.data.degrade import DegradeConfig
    from models.shipping.heldout import HELDOUT_SEED, heldout_items

    script = _script()
    rng = np.random.default_rng(0)
    for folder, count in (("clean", 6), ("noise", 6)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            sf.write(tmp_path / folder / f"f{i:02d}.wav", 0.1 * rng.standard_normal(32000).astype("float32"), 16000)
    base = ["--task", "denoise", "--models", "wiener", "--heldout-clean", str(tmp_path / "clean"),
            "--heldout-noise", str(tmp_path / "noise"), "--files", "4", "--out", str(tmp_path / "x")]
    parse = lambda extra=(): script.heldout_spec(script.build_parser().parse_args(base + list(extra)))  # noqa: E731
    usual, fresh = parse(), parse(["--seed", "7"])
    assert usual.seed == HELDOUT_SEED and fresh.seed == 7 and fresh.files == 4
    items = lambda spec: heldout_items(spec, "denoise", DegradeConfig())[0]  # noqa: E731
    a, b, again = items(usual), items(fresh), items(parse())
    assert [x.name for x in a] == [x.name for x in b]  # the same clean files, degraded afresh
    assert not any(x.input.shape == y.input.shape and np.allclose(x.input, y.input) for x, y in zip(a, b))
    assert all(np.array_equal(x.input, y.input) for x, y in zip(a, again))
