"""Checkpoint files: ours (safetensors or weights-only torch, carrying their config) and the authors'.

Our format, in a ``.safetensors`` file: tensors = the network state dict; metadata (strings) =
``gre_format`` "1", ``arch``, ``config`` (JSON of the config dataclass), ``config_name``,
``sample_rate_hz``, ``tasks`` (comma separated), ``mode``; optionally ``step`` (the training step of
the weights) and ``averaged_from`` (see :mod:`models.weights_average`). The same fields in a plain dict
saved with ``torch.save`` (key ``state_dict`` for the tensors) are accepted too.

A training run's own ``last.pt`` (``format`` "gre-train-1", written by ``gre train``) is read too: its
network weights, with the config named by the run's saved training config, so ``--init-weights RUN/last.pt``
and ``gre enhance --checkpoint RUN/last.pt`` work without an export step.

The authors' files are ``torch.save({'generator': state_dict})`` with no config; the config is
inferred from tensor shapes. Nothing is ever unpickled: files needing code execution are refused.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = "1"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used; the message says which file and what to do."""


@dataclass
class LoadedCheckpoint:
    arch: str
    config: dict
    config_name: str
    state_dict: dict[str, torch.Tensor]
    sample_rate_hz: int
    tasks: tuple[str, ...]
    mode: str
    source: str  # "gre" or "authors"


def save_checkpoint(path: str | Path, state_dict: dict[str, torch.Tensor], *, arch: str, config: Any,
                    config_name: str, sample_rate_hz: int, tasks: tuple[str, ...] | list[str],
                    mode: str = "enhance", extra_metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors checkpoint atomically (temporary name, then rename).

    ``extra_metadata``: more string fields (e.g. ``step``); they may not replace the fields above.
    """
    config_dict = asdict(config) if is_dataclass(config) else dict(config)
    metadata = {
        "gre_format": FORMAT_VERSION,
        "arch": arch,
        "config": json.dumps(config_dict, sort_keys=True),
        "config_name": config_name,
        "sample_rate_hz": str(sample_rate_hz),
        "tasks": ",".join(tasks),
        "mode": mode,
    }
    clash = set(extra_metadata or {}) & set(metadata)
    if clash:
        raise ValueError(f"extra_metadata may not replace {', '.join(sorted(clash))}")
    metadata.update({k: str(v) for k, v in (extra_metadata or {}).items()})
    write_safetensors(path, state_dict, metadata)


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` (moved to the CPU, made contiguous) and string ``metadata`` to ``path`` atomically: a
    temporary name in the same folder, then a rename, so a reader never sees half a file."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _from_fields(fields: dict[str, Any], state: dict[str, torch.Tensor], path: Path) -> LoadedCheckpoint:
    try:
        config = fields["config"]
        if isinstance(config, str):
            config = json.loads(config)
        tasks = fields.get("tasks", "")
        if isinstance(tasks, str):
            tasks = tuple(t for t in tasks.split(",") if t)
        return LoadedCheckpoint(
            arch=str(fields["arch"]), config=config, config_name=str(fields.get("config_name", "custom")),
            state_dict=state, sample_rate_hz=int(fields.get("sample_rate_hz", 16000)), tasks=tuple(tasks),
            mode=str(fields.get("mode", "enhance")), source="gre",
        )
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: gre checkpoint metadata is incomplete ({err}); re-export it") from None


def _from_train_state(obj: dict[str, Any], path: Path) -> LoadedCheckpoint:
    """A ``gre train`` checkpoint (last.pt): the network weights, described as ``Trainer.export``
    describes them (the run's TrainConfig gives arch, config name, task and mode; the network
    config its STFT rate)."""
    from models.architectures import named_config
    from models.train.config import TrainConfig

    try:
        train = TrainConfig.from_dict(obj["config"])
        net_cfg = named_config(train.arch, train.config_name)
        state = obj["model"]
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(f"{path}: training checkpoint without a usable run config ({err})") from None
    fields = {"arch": train.arch, "config": asdict(net_cfg), "config_name": train.config_name,
              "sample_rate_hz": net_cfg.stft.sample_rate_hz, "tasks": (train.task,), "mode": train.mode}
    return _from_fields(fields, state, path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors checkpoint (empty for other files or unreadable ones)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception:  # safetensors raises its own error types; load_checkpoint reports them
        return {}


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read ours or the authors' checkpoint, weights only."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from None
        if metadata.get("gre_format") is None:
            raise CheckpointError(f"{path}: safetensors file without gre metadata (arch/config); "
                                  "save it with models.checkpoint.save_checkpoint")
        return _from_fields(metadata, state, path)

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refusing to load: the file needs pickle code execution ({str(err).splitlines()[0]}). "
            "gre loads weights only; re-save the state dict as plain tensors or safetensors."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    if "generator" in obj and isinstance(obj["generator"], dict):
        return _from_authors(obj["generator"], path)
    if obj.get("format") == "gre-train-1":
        return _from_train_state(obj, path)
    if "state_dict" in obj and "arch" in obj:
        return _from_fields(obj, obj["state_dict"], path)
    raise CheckpointError(f"{path}: unknown checkpoint layout (keys: {', '.join(list(obj)[:6])}); "
                          "expected gre metadata or the authors' {'generator': ...}")


def _from_authors(state: dict[str, torch.Tensor], path: Path) -> LoadedCheckpoint:
    from models.nets import gre_keys

    if gre_keys.looks_like_authors_gre(state):
        from models.config import gre_config

        name = gre_keys.infer_authors_config_name(state)
        cfg = gre_config(name)
        # The small config is the authors' phase-retrieval model; the standard shape serves
        # their denoising and universal checkpoints.
        tasks, mode = (("phase",), "phase_retrieval") if name == "small" else (("denoise", "universal"), "enhance")
        return LoadedCheckpoint(arch="gre", config=cfg.to_dict(), config_name=name,
                                state_dict=gre_keys.convert_authors_state(state),
                                sample_rate_hz=cfg.stft.sample_rate_hz, tasks=tasks, mode=mode, source="authors")
    for converter in _authors_converters().values():
        loaded = converter(state, path)
        if loaded is not None:
            return loaded
    raise CheckpointError(f"{path}: a 'generator' state dict that matches no known architecture")


def _known_archs() -> set[str]:
    from models.architectures import ARCHITECTURES, _load_optional_architectures

    _load_optional_architectures()
    return set(ARCHITECTURES)


#: Other architectures whose authors ship {'generator': ...} files register a converter here:
#: callable(state, path) -> LoadedCheckpoint | None (None: not mine).
AUTHORS_CONVERTERS: dict[str, Any] = {}


def _authors_converters() -> dict[str, Any]:
    _known_archs()
    return AUTHORS_CONVERTERS
