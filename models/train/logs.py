"""Run logs: ``log.jsonl`` (one JSON object per line), progress on stderr, ``curves.png``."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class RunLog:
    """Appends records to ``run-dir/log.jsonl`` and prints progress to stderr.

    On a terminal the progress is a rich live bar; otherwise (nohup, CI) plain lines, one per
    logged step, so that log files stay readable.
    """

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, enabled: bool = True):
        self.path = run_dir / "log.jsonl"
        self.enabled = enabled
        self.total = total_steps
        self._progress = None
        self._task = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                      console=Console(stderr=True))
            self._task = self._progress.add_task("train", total=total_steps, completed=start_step, info="")
            self._progress.start()

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def record(self, record: dict) -> None:
        if not self.enabled:
            return
        # "unix_time", not "time": the time-domain loss component is logged as "time".
        record = {"unix_time": round(time.time(), 3), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def progress(self, step: int, info: str) -> None:
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, completed=step, info=info)
        else:
            print(f"step {step}/{self.total} {info}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return rows


def plot_curves(run_dir: Path) -> bool:
    """Draw ``curves.png`` from ``log.jsonl``: training loss and validation metrics vs step.
    Returns False (and draws nothing) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        return False
    rows = read_log(run_dir / "log.jsonl")
    train = [r for r in rows if r.get("kind") == "train"]
    val = [r for r in rows if r.get("kind") == "val"]
    metrics = [m for m in ("pesq", "stoi", "sisdr", "pd", "lsd") if any(m in r for r in val)]
    fig, axes = plt.subplots(1, 1 + len(metrics), figsize=(4 * (1 + len(metrics)), 3.2), squeeze=False)
    ax = axes[0][0]
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8)
        ax.set_yscale("log")
    ax.set_title("training loss")
    ax.set_xlabel("step")
    for ax, m in zip(axes[0][1:], metrics):
        ax.plot([r["step"] for r in val], [r.get(m) for r in val], marker="o", ms=3)
        base = next((r for r in rows if r.get("kind") == "val_input"), None)
        if base and m in base:
            ax.axhline(base[m], color="grey", ls="--", lw=0.8, label="input")
            ax.legend(fontsize=7)
        ax.set_title(f"validation {m}")
        ax.set_xlabel("step")
    fig.tight_layout()
    tmp = run_dir / ".curves.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(run_dir / "curves.png")
    return True
