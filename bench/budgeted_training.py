"""`gre train` runs under a wall-clock budget, for the benchmark scripts that compare trainings.

A run directory keeps ``budget.json`` (wall seconds spent over every invocation), so calling a
script again resumes each run (``--resume``) and stops it when its budget is used up: the trainer
catches SIGTERM, writes ``last.pt`` + ``model.safetensors`` and exits cleanly.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

#: Keys of a log.jsonl "train" record that are not loss components.
NOT_LOSSES = ("unix_time", "time", "kind", "step", "lr", "steps_per_s", "loss")


def gre_executable() -> str:
    """The `gre` entry point of this interpreter's environment."""
    exe = Path(sys.executable).parent / "gre"
    if not exe.exists():
        sys.exit(f"no gre entry point next to {sys.executable}; pip install -e .")
    return str(exe)


def used_wall_s(run_dir: Path) -> float:
    """Wall-clock seconds already spent training in ``run_dir`` (over all invocations)."""
    path = run_dir / "budget.json"
    return float(json.loads(path.read_text())["wall_s"]) if path.is_file() else 0.0


def train_logs(run_dir: Path) -> tuple[int, float | None, list[str]]:
    """(last logged training step, median steps/s, loss component names) from run-dir/log.jsonl."""
    step, rates, comps = 0, [], set()
    log = run_dir / "log.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("kind") == "train":
                step = max(step, int(rec["step"]))
                rates.append(float(rec.get("steps_per_s", "nan")))
                comps |= {k for k in rec if k not in NOT_LOSSES}
    return step, (float(np.nanmedian(rates)) if rates else None), sorted(comps)


def train_within_budget(label: str, cmd: list[str], run_dir: Path, steps: int, budget_hours: float) -> dict:
    """Run ``gre train`` ``cmd`` (without --resume: added when ``run_dir`` has a checkpoint) until it
    reaches ``steps`` or ``run_dir`` has used ``budget_hours`` of wall clock. Returns
    {"resumed", "stopped_by_budget"}; raises SystemExit if the trainer fails."""
    run_dir.mkdir(parents=True, exist_ok=True)
    budget_s, spent = budget_hours * 3600, used_wall_s(run_dir)
    step = train_logs(run_dir)[0]
    if step >= steps or spent >= budget_s:
        print(f"[{label}] nothing to do: step {step}, {spent / 3600:.2f} h of {budget_hours} h spent", file=sys.stderr)
        return {"resumed": False, "stopped_by_budget": False}
    resumed = (run_dir / "last.pt").is_file()
    cmd = cmd + (["--resume"] if resumed else [])
    print(f"[{label}] {' '.join(cmd)}", file=sys.stderr)
    t0 = time.monotonic()
    with open(run_dir / "train_stderr.log", "a") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        stopped = False
        while proc.poll() is None:
            time.sleep(2.0)
            if not stopped and spent + time.monotonic() - t0 >= budget_s:
                proc.send_signal(signal.SIGTERM)  # the trainer saves and stops
                stopped = True
        out = proc.stdout.read() if proc.stdout else ""
    wall = time.monotonic() - t0
    (run_dir / "budget.json").write_text(json.dumps({"wall_s": spent + wall}) + "\n")
    if proc.returncode != 0:
        raise SystemExit(f"[{label}] gre train failed (exit {proc.returncode}); see {run_dir / 'train_stderr.log'}")
    print(f"[{label}] {out.strip()} ({wall / 60:.1f} min this time)", file=sys.stderr)
    return {"resumed": resumed, "stopped_by_budget": stopped}
