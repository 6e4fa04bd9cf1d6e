"""Average the weights of several checkpoints of one training run (checkpoint averaging).

Late checkpoints of a run scatter around a minimum: from one checkpoint to the next, held-out
scores move by more than the run improves. Their element-wise mean usually sits nearer the
middle of that basin and is steadier (Izmailov et al. 2018, "Averaging weights leads to wider
optima"; fairseq's and ESPnet's checkpoint averaging). Averaging only makes sense for
checkpoints of the same run (or fine-tunes of one set of weights): independent networks are
not aligned unit for unit. Inputs of another architecture, config or tensor shape are refused;
that they come from one run is the caller's to ensure (the weights alone do not tell).

    >>> from models.weights_average import average_checkpoints
    >>> sources = average_checkpoints(["run/weights/step-0004000.safetensors",
    ...                                "run/weights/step-0004500.safetensors"], "run/averaged.safetensors")

The output is a normal gre checkpoint (same architecture, config, tasks and mode as the inputs)
whose metadata also lists its sources (``averaged_from``: file name, sha256 and step of each).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from models.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from models.registry import sha256_of

#: Metadata field of an averaged checkpoint: JSON list of its sources.
AVERAGED_FROM = "averaged_from"


@dataclass(frozen=True)
class AveragedSource:
    """One input of an average: its file name, sha256 and training step (None when not recorded)."""

    file: str
    sha256: str
    step: int | None


def _step_of(path: Path) -> int | None:
    """The ``step`` metadata of the file; else the N of a ``step-N`` file name (the name
    `gre train --keep-weights` gives); else None."""
    value = read_metadata(path).get("step")
    if value is None:
        match = re.fullmatch(r"step-(\d+)", path.stem)
        value = match.group(1) if match else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def average_checkpoints(paths: Sequence[str | Path], out: str | Path) -> list[AveragedSource]:
    """Write the element-wise mean of the checkpoints ``paths`` to ``out`` (atomically).

    Floating-point tensors are averaged in float64 and stored in their own dtype; any other
    tensor (counters) must be equal in every input. Raises :class:`CheckpointError` naming the
    file when an input is missing or unreadable, or differs from the first in architecture,
    config, sample rate, tasks, mode, tensor names or shapes; and when fewer than two distinct
    files are given.
    """
    files = [Path(p) for p in paths]
    if len(files) < 2:
        raise CheckpointError("averaging needs at least two checkpoints")
    sources: list[AveragedSource] = []
    first = None
    total: dict[str, torch.Tensor] = {}
    for path in files:
        ckpt = load_checkpoint(path)
        digest = sha256_of(path)
        twin = next((s for s in sources if s.sha256 == digest), None)
        if twin is not None:
            raise CheckpointError(f"{path}: the same weights as {twin.file} (given twice); give each checkpoint once")
        if first is None:
            first = ckpt
            total = {k: v.to(torch.float64) if v.is_floating_point() else v.clone() for k, v in ckpt.state_dict.items()}
        else:
            _check_same(first, ckpt, files[0], path)
            for key, value in ckpt.state_dict.items():
                if value.is_floating_point():
                    total[key] += value.to(torch.float64)
                elif not torch.equal(value, total[key]):
                    raise CheckpointError(f"{path}: non-float tensor {key} differs from {files[0]}; "
                                          "only checkpoints of one run can be averaged")
        sources.append(AveragedSource(file=path.name, sha256=digest, step=_step_of(path)))
    assert first is not None
    mean = {k: (v / len(files)).to(first.state_dict[k].dtype) if v.is_floating_point() else v
            for k, v in total.items()}
    save_checkpoint(out, mean, arch=first.arch, config=first.config, config_name=first.config_name,
                    sample_rate_hz=first.sample_rate_hz, tasks=first.tasks, mode=first.mode,
                    extra_metadata={AVERAGED_FROM: json.dumps([asdict(s) for s in sources])})
    return sources


def _full_config(ckpt) -> object:
    """The checkpoint's config with every field filled in (:func:`config_from_stored`): a fine-tune
    saved after a config field was added lists it, its starting checkpoint does not, and they are
    the same network. Falls back to the raw dict when the architecture does not parse it."""
    from models.architectures import config_from_stored

    try:
        return config_from_stored(ckpt.arch, ckpt.config)
    except ValueError:
        return ckpt.config


def _check_same(a, b, path_a: Path, path_b: Path) -> None:
    for field in ("arch", "config", "sample_rate_hz", "tasks", "mode"):
        if field == "config":
            differs = _full_config(a) != _full_config(b)
        else:
            differs = getattr(a, field) != getattr(b, field)
        if differs:
            raise CheckpointError(f"{path_b}: its {field} differs from that of {path_a}; "
                                  "only checkpoints of one run can be averaged")
    if a.state_dict.keys() != b.state_dict.keys():
        raise CheckpointError(f"{path_b}: its tensor names differ from those of {path_a}")
    for key, value in a.state_dict.items():
        other = b.state_dict[key]
        if other.shape != value.shape or other.dtype != value.dtype:
            raise CheckpointError(f"{path_b}: tensor {key} is {tuple(other.shape)} {other.dtype}, "
                                  f"{path_a} has {tuple(value.shape)} {value.dtype}")


def select_by_step(paths: Sequence[str | Path], *, last: int = 0, from_step: int | None = None,
                   names: tuple[str, str] = ("last", "from_step")) -> list[Path]:
    """The files of ``paths`` at or after training step ``from_step`` (None: all), then the ``last`` of
    them with the highest steps (0: all), in step order. With neither, ``paths`` as given (steps or
    not: a model and its fine-tune have none).

    Raises :class:`CheckpointError` naming a file whose step is not recorded (neither in its
    metadata nor as a ``step-N`` name), since "latest" or "from step" would then be a guess; and
    when no file is at or after ``from_step``, naming the latest step there is. The messages call
    ``last`` and ``from_step`` by ``names`` (a command line passes its option names).
    """
    if not last and from_step is None:
        return [Path(p) for p in paths]
    steps = []
    for p in map(Path, paths):
        step = _step_of(p)
        if step is None:
            option = names[0] if from_step is None else names[1]
            raise CheckpointError(f"{p}: its training step is not recorded; give the checkpoints to average "
                                  f"without {option}")
        steps.append((step, p))
    steps.sort()
    if from_step is not None:
        kept = [(step, p) for step, p in steps if step >= from_step]
        if not kept:
            if not steps:
                raise CheckpointError("no checkpoints given")
            raise CheckpointError(f"no checkpoint at or after step {from_step} (the latest is step {steps[-1][0]}); "
                                  f"give an earlier {names[1]}")
        steps = kept
    return [p for _, p in (steps[-last:] if last else steps)]


def are_run_checkpoints(sources: Sequence[AveragedSource]) -> bool:
    """True when every source records its training step: checkpoints of a run (`gre average-weights
    RUN/weights`); False for whole weight files without steps (a model and its fine-tune)."""
    return all(s.step is not None for s in sources)


def averaged_sources(path: str | Path) -> list[AveragedSource] | None:
    """The sources recorded in an averaged checkpoint, or None when ``path`` is not one."""
    raw = read_metadata(path).get(AVERAGED_FROM)
    if raw is None:
        return None
    try:
        return [AveragedSource(file=str(d["file"]), sha256=str(d["sha256"]),
                               step=None if d.get("step") is None else int(d["step"]))
                for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return None
