"""What a finished `gre train` run directory says about itself, for the model card.

Reads ``config.json``, ``log.jsonl`` and (for the step reached and the training time)
``last.pt``; nothing is written.
"""
from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: ``--weights`` choice -> file in the run directory.
WEIGHT_FILES = {"best": "best.safetensors", "last": "model.safetensors", "averaged": "averaged.safetensors"}


class RunDirProblem(ValueError):
    """A run directory that cannot be shipped; the message says which file and what to do."""


@dataclass(frozen=True)
class RunInfo:
    """A run's configuration and history. Times in seconds; ``val_*`` rows as logged."""

    run_dir: Path
    config: dict[str, Any]
    step_reached: int | None  # last.pt step (model.safetensors is exported with it)
    train_seconds: float | None  # time in training steps (last.pt elapsed_s, summed over resumes)
    log_span_seconds: float | None  # first to last log record (includes validation and pauses)
    steps_per_second: float | None  # median of the logged training rates
    val_input: dict[str, Any] | None
    val_rows: list[dict[str, Any]]
    scans: list[dict[str, Any]]

    @property
    def task(self) -> str:
        return str(self.config.get("task", "?"))

    @property
    def selection_key(self) -> str:
        """The validation metric best.safetensors is chosen by (as the trainer does)."""
        return "pd" if self.task == "phase" else "pesq"

    @property
    def best_val(self) -> dict[str, Any] | None:
        """The validation row whose weights are in best.safetensors (the last one flagged best)."""
        flagged = [r for r in self.val_rows if r.get("best")]
        if flagged:
            return flagged[-1]
        key = self.selection_key
        scored = [r for r in self.val_rows if isinstance(r.get(key), (int, float)) and not math.isnan(r[key])]
        if not scored:
            return None
        return (min if key == "pd" else max)(scored, key=lambda r: r[key])

    def weights_step(self, which: str) -> int | None:
        """The step of the ``which`` weights; None when unknown or an average of several steps."""
        if which == "best":
            best = self.best_val
            return int(best["step"]) if best else None
        if which == "averaged":
            return None
        return self.step_reached

    def averaged_checkpoints_of_run(self) -> bool:
        """True when ``averaged.safetensors`` averages checkpoints of a run (every source records its
        step); False for whole weight files without steps (a registered model and its fine-tune)."""
        from models.weights_average import are_run_checkpoints, averaged_sources

        sources = averaged_sources(self.run_dir / WEIGHT_FILES["averaged"])
        return sources is not None and are_run_checkpoints(sources)

    def describe_weights(self, which: str) -> str:
        """``which`` weights in words: "step 5,000", "the average of 6 checkpoints (steps 2,500, ...)",
        or, for an average of files without steps, "the average of 2 weight files (a.safetensors, ...)"."""
        if which == "averaged":
            from models.weights_average import are_run_checkpoints, averaged_sources

            sources = averaged_sources(self.run_dir / WEIGHT_FILES["averaged"])
            if sources is None:
                return "averaged weights (sources not recorded)"
            if not are_run_checkpoints(sources):
                return f"the average of {len(sources)} weight files ({', '.join(s.file for s in sources)})"
            shown = ", ".join(f"{s.step:,}" for s in sources)
            return f"the average of {len(sources)} checkpoints (steps {shown})"
        step = self.weights_step(which)
        return f"step {'unknown' if step is None else f'{step:,}'}"


def _read_log(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
    return rows


def _last_state(path: Path) -> tuple[int | None, float | None]:
    if not path.is_file():
        return None, None
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # damaged or foreign: the log still gives the step
        return None, None
    step = state.get("step")
    elapsed = state.get("elapsed_s")
    return (int(step) if step is not None else None), (float(elapsed) if elapsed is not None else None)


def read_run(run_dir: str | Path) -> RunInfo:
    """Read ``run_dir``; raises :class:`RunDirProblem` when config.json is missing."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise RunDirProblem(f"{run_dir}: no config.json; give the directory `gre train --run-dir` wrote")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    rows = _read_log(run_dir / "log.jsonl")
    step, elapsed = _last_state(run_dir / "last.pt")
    train_rows = [r for r in rows if r.get("kind") == "train"]
    if step is None and train_rows:
        step = int(train_rows[-1]["step"])
    times = [r["unix_time"] for r in rows if isinstance(r.get("unix_time"), (int, float))]
    rates = [r["steps_per_s"] for r in train_rows if isinstance(r.get("steps_per_s"), (int, float))]
    return RunInfo(
        run_dir=run_dir, config=config, step_reached=step, train_seconds=elapsed,
        log_span_seconds=(max(times) - min(times)) if len(times) > 1 else None,
        steps_per_second=float(np.median(rates)) if rates else None,
        val_input=next((r for r in rows if r.get("kind") == "val_input"), None),
        val_rows=[r for r in rows if r.get("kind") == "val"],
        scans=[r for r in rows if r.get("kind") == "scan"],
    )


def weights_path(run_dir: str | Path, which: str) -> Path:
    """The run's weights file for ``which`` ("best", "last" or "averaged"); raises when it is missing."""
    if which not in WEIGHT_FILES:
        raise RunDirProblem(f"--weights must be one of {', '.join(WEIGHT_FILES)}, got {which!r}")
    path = Path(run_dir) / WEIGHT_FILES[which]
    if not path.is_file():
        hint = " (the run has not validated yet: pass --val-clean to gre train, or ship --weights last)" \
            if which == "best" else (" (write it with gre average-weights ... -o " + str(path) + ")"
                                     if which == "averaged" else " (the run has not saved a checkpoint yet)")
        raise RunDirProblem(f"{path}: missing{hint}")
    return path


@dataclass(frozen=True)
class Hardware:
    """The machine this process runs on (the card assumes training ran on it too)."""

    cpu_model: str
    logical_cpus: int
    machine: str


def this_machine() -> Hardware:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Hardware(cpu_model=model or platform.processor() or "unknown CPU",
                    logical_cpus=os.cpu_count() or 1, machine=platform.machine())
