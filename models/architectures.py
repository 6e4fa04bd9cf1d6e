"""Architecture table: name -> (network class, config class, named configs).

Every network maps (compressed magnitude [B, F, T], phase [B, F, T]) to the same pair, so the
enhancer, the trainer and the benchmark treat them alike. Baselines register here too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from models.config import GRE_CONFIGS, GREConfig
from models.nets.gre import GRENet


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable[[Any], nn.Module]
    config_from_dict: Callable[[dict], Any]
    named_configs: dict[str, Any]
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    "gre": Architecture("gre", GRENet, GREConfig.from_dict, GRE_CONFIGS,
                        "GRE network (RENet): rotation-equivariant magnitude-phase dual stream"),
}


def register_architecture(arch: Architecture) -> None:
    ARCHITECTURES[arch.name] = arch


def get_architecture(name: str) -> Architecture:
    _load_optional_architectures()
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(ARCHITECTURES))}") from None


def named_config(arch: str, config_name: str) -> Any:
    table = get_architecture(arch).named_configs
    try:
        return table[config_name]
    except KeyError:
        raise ValueError(f"unknown config {config_name!r} for {arch}; known: {', '.join(table)}") from None


def config_from_stored(arch: str, data: dict) -> Any:
    """A config as stored in a checkpoint's metadata (a JSON dict) as the architecture's config
    object; fields added to the config class since the file was written take their defaults, so a
    file written before a field existed compares equal to the same network's config today.
    Raises ValueError when ``arch`` is unknown or ``data`` does not parse as its config."""
    spec = get_architecture(arch)
    try:
        return spec.config_from_dict(dict(data))
    except (TypeError, KeyError) as err:
        raise ValueError(f"not a {arch} config: {err}") from None


def build_network(arch: str, config: Any) -> nn.Module:
    """Build an untrained network from a config object or a config dict."""
    spec = get_architecture(arch)
    if isinstance(config, dict):
        config = spec.config_from_dict(config)
    return spec.build(config)


def _load_optional_architectures() -> None:
    # Baselines live in their own modules and register themselves on import.
    import importlib

    for module in ("models.nets.mpsenet", "models.nets.masknet"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
