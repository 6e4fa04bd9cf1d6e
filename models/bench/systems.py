"""What the benchmark runs: our models (registry names, checkpoints, ``arch:config``) and peers,
behind one calling convention.

    system = load_system("model", "gre:small", precision="bf16", device="cpu")
    y = system(x)                # x float32 [B, N] at 16 kHz -> [B, N]
    system.info.params, system.info.random_weights

Model specs: a registry name (``models.registry``, e.g. ``gre-tiny-random``, ``wiener``), a
checkpoint file, or ``arch:config`` (``gre:standard``, ``gre:small``, ``mpsenet:long``): an
unregistered architecture with seeded random weights, good for speed rows only. Peers are the
names of :data:`models.peers.PEERS`. Our models run under ``torch.inference_mode()`` and the
precision's autocast, as ``gre enhance`` runs them; peers run in their own runtimes, one signal
at a time, at their native precision.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.device import check_precision, resolve_device
from models.row_parallel import RowParallel, default_streams

KINDS = ("model", "peer")
NATIVE = "native"  # precision label of peers


@dataclass(frozen=True)
class SystemInfo:
    """Plain facts about one system (the JSON ``systems`` entries)."""

    id: str  # unique label in tables
    kind: str  # "model" | "peer"
    spec: str  # as given: registry name, path, arch:config, or peer name
    title: str
    arch: str | None
    config_name: str | None
    tasks: tuple[str, ...]
    random_weights: bool
    params: int | None  # None for peers (not counted)
    batches: bool  # processes a [B, N] batch in one call
    has_network: bool  # has parameters, so --precision applies
    native_rate_hz: int | None
    delay_ms: float
    package: str | None = None
    version: str | None = None
    source: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "spec": self.spec, "title": self.title, "arch": self.arch,
                "config_name": self.config_name, "tasks": list(self.tasks), "random_weights": self.random_weights,
                "params": self.params, "batches": self.batches, "has_network": self.has_network,
                "native_rate_hz": self.native_rate_hz, "delay_ms": self.delay_ms, "package": self.package,
                "version": self.version, "source": self.source}


def is_arch_spec(spec: str) -> bool:
    """``arch:config`` (not an existing file, not a registry name)."""
    from models.registry import REGISTRY

    return ":" in spec and spec not in REGISTRY and not Path(spec).exists()


def system_id(kind: str, spec: str) -> str:
    if kind == "model" and (Path(spec).suffix in (".safetensors", ".pt", ".pth", ".ckpt") or Path(spec).is_file()):
        return Path(spec).name
    return spec


def _random_arch_model(spec: str):
    from models.architectures import build_network, named_config
    from models.config import STFTConfig
    from models.enhancer import Enhancer, ModelInfo

    arch, _, config_name = spec.partition(":")
    config = named_config(arch, config_name)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)  # the same random weights in every process
    try:
        network = build_network(arch, config)
    finally:
        torch.random.set_rng_state(state)
    stft_cfg = getattr(config, "stft", None)
    stft_cfg = stft_cfg if isinstance(stft_cfg, STFTConfig) else STFTConfig()
    info = ModelInfo(name=spec, arch=arch, config_name=config_name, tasks=(), mode="enhance",
                     sample_rate_hz=stft_cfg.sample_rate_hz, source="random weights (seed 0), speed only")
    return Enhancer(network, stft_cfg, "enhance", info)


def load_model_module(spec: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, SystemInfo]:
    """(Enhancer-compatible module in eval mode on ``device``, its SystemInfo). ValueError on bad specs."""
    from models.api import load_model
    from models.checkpoint import CheckpointError
    from models.registry import REGISTRY

    dev = resolve_device(device)
    try:
        module = _random_arch_model(spec) if is_arch_spec(spec) else load_model(spec, device=str(dev))
    except CheckpointError as err:
        raise ValueError(str(err)) from None
    module = module.eval().to(dev)
    entry = REGISTRY.get(spec)
    random_weights = is_arch_spec(spec) or (entry is not None and entry.arch != "classical" and not entry.stages
                                            and entry.weights_path is None)
    params = sum(p.numel() for p in module.parameters())
    info = getattr(module, "info", None)
    return module, SystemInfo(
        id=system_id("model", spec), kind="model", spec=spec,
        title=getattr(info, "name", spec) or spec, arch=getattr(info, "arch", None),
        config_name=getattr(info, "config_name", None), tasks=tuple(getattr(info, "tasks", ()) or ()),
        random_weights=random_weights, params=params, batches=True, has_network=params > 0,
        native_rate_hz=getattr(module, "sample_rate_hz", 16_000), delay_ms=0.0, package="gre",
        source=("random weights (seed 0), speed only" if random_weights else getattr(info, "source", "")))


def peer_info(name: str) -> SystemInfo:
    from models.peers import PEERS

    p = PEERS[name]
    return SystemInfo(id=name, kind="peer", spec=name, title=p.title, arch=None, config_name=p.settings,
                      tasks=p.tasks, random_weights=False, params=None, batches=False, has_network=False,
                      native_rate_hz=p.native_rate_hz, delay_ms=p.delay_ms, package=p.package, version=p.version(),
                      source=p.settings)


class ModelSystem:
    """An Enhancer-compatible module called as ``gre enhance`` calls it: inference mode, autocast,
    and on CPU the rows of a batch as concurrent one-thread streams (:mod:`models.row_parallel`)."""

    def __init__(self, module: torch.nn.Module, info: SystemInfo, precision: str, device: torch.device):
        check_precision(precision, device)
        self.module, self.info, self.precision, self.device = module, info, precision, device
        self.call = RowParallel(module, default_streams(device), precision, device)

    def prepare(self) -> None:
        pass

    def __call__(self, x: np.ndarray) -> np.ndarray:
        wave = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        return self.call(wave).float().cpu().numpy()


class PeerSystem:
    """A peer runner over a batch: one signal at a time."""

    def __init__(self, runner, info: SystemInfo):
        self.runner, self.info = runner, info

    def prepare(self) -> None:
        self.runner.prepare()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self.runner(row) for row in np.asarray(x, dtype=np.float32)])


def load_system(kind: str, spec: str, precision: str = "fp32", device: str | torch.device = "cpu"):
    """A callable ``[B, N] -> [B, N]`` system with ``prepare()`` and ``info``."""
    if kind == "model":
        module, info = load_model_module(spec, device)
        return ModelSystem(module, info, precision if info.has_network else "fp32", resolve_device(device))
    if kind == "peer":
        from models.peers import PEERS

        return PeerSystem(PEERS[spec].load(), peer_info(spec))
    raise ValueError(f"unknown system kind {kind!r}; one of {', '.join(KINDS)}")
