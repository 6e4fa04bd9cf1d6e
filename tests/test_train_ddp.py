"""DDP: `gre train` under torchrun with 2 CPU processes on gloo matches a single process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models.train.state import load_state
from test_train_fixtures import make_corpus

BIN = Path(sys.executable).parent


def _args(corpus, run: Path) -> list[str]:
    # No metric discriminator: its dropout draws differ per process, which would make the
    # comparison with one process inexact; everything else averages identically.
    return ["train", "--task", "denoise", "--clean", str(corpus["clean"]), "--noise", str(corpus["noise"]),
            "--run-dir", str(run), "--config", "tiny", "--batch-size", "4", "--segment-seconds", "0.5",
            "--workers", "0", "--threads", "1", "--steps", "2", "--no-metric-disc", "--log-every", "1"]


@pytest.mark.skipif(not (BIN / "torchrun").exists(), reason="torchrun not installed")
def test_ddp_two_gloo_processes_match_one_process(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([str(BIN / "torchrun"), "--nproc-per-node", "2", "--master-port", "29517",
                          "-m", "gre_cli", *_args(corpus, tmp_path / "ddp")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run([str(BIN / "gre"), *_args(corpus, tmp_path / "one")[0:]],
                            capture_output=True, text=True, timeout=300, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    a = load_state(tmp_path / "ddp" / "last.pt")
    b = load_state(tmp_path / "one" / "last.pt")
    assert a["step"] == b["step"] == 2
    init = None
    for key, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][key], atol=2e-5, rtol=1e-4, msg=key)
    # ... and the weights did move (the comparison is not vacuous).
    from models.architectures import build_network, named_config

    torch.manual_seed(1234)
    init = build_network("gre", named_config("gre", "tiny")).state_dict()
    moved = sum(float((a["model"][k] - init[k]).abs().max()) > 1e-4 for k in init)
    assert moved > len(init) // 2


@pytest.mark.skipif(not (BIN / "torchrun").exists(), reason="torchrun not installed")
@pytest.mark.parametrize("folder,what", [("--clean", "clean"), ("--val-noise", "val-noise")])
def test_ddp_failed_corpus_scan_stops_every_rank_with_its_reason(tmp_path, folder, what):
    """Rank 0 scans the corpus and builds the validation set alone; when either fails (an empty training
    folder, an empty --val-noise), the other rank must stop with rank 0's reason (not with a torn gloo
    connection), and the run dir made for the run is gone."""
    corpus = make_corpus(tmp_path / "corpus")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = _args(corpus, tmp_path / "run")
    if folder == "--clean":
        args[args.index("--clean") + 1] = str(empty)
    else:
        args += ["--val-clean", str(corpus["clean"]), "--val-noise", str(empty)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = subprocess.run([str(BIN / "torchrun"), "--nproc-per-node", "2", "--master-port", "29518",
                          "-m", "gre_cli", *args], capture_output=True, text=True, timeout=300, env=env)
    assert ddp.returncode != 0
    lines = [ln for ln in ddp.stderr.splitlines() if ln.startswith("gre train:")]
    reason = f"no usable {what} audio"
    assert any(str(empty) in ln and reason in ln and "rank" not in ln for ln in lines), ddp.stderr[-3000:]
    assert any(ln.startswith("gre train: rank 1 stops: rank 0 could not set up the run:") and str(empty) in ln
               for ln in lines), ddp.stderr[-3000:]
    assert "Connection closed by peer" not in ddp.stderr
    assert not (tmp_path / "run").exists()
