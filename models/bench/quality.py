"""Quality sets for `gre benchmark --quality DIR`: which sets exist, their task, and scoring.

A quality folder is laid out like ../shared/eval: ``<set>/<ref>/`` plus one degraded folder,
with files paired by name. The reference folder is ``clean`` or ``wideband``; the degraded one
``noisy``, ``reverb`` or ``narrowband``. Other folders (published systems' outputs) are ignored.
The task of a set comes from its name (vbd, vbd-snr, dns -> denoise; reverb -> dereverb;
bwe-* -> bwe), else from its degraded folder (noisy -> denoise, reverb -> dereverb, narrowband -> bwe).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIRS = ("clean", "wideband")
DEGRADED_TASKS = {"noisy": "denoise", "reverb": "dereverb", "narrowband": "bwe"}
SET_TASKS = {"vbd": "denoise", "vbd-snr": "denoise", "dns": "denoise", "reverb": "dereverb"}
#: Metrics of the benchmark table: wide-band PESQ, STOI, SI-SDR (dB), phase distance (deg).
QUALITY_METRICS = ("pesq_wb", "stoi", "si_sdr", "pd")


@dataclass(frozen=True)
class EvalSet:
    name: str
    task: str
    reference: Path
    degraded: Path

    def to_dict(self) -> dict:
        return {"name": self.name, "task": self.task, "reference": str(self.reference), "degraded": str(self.degraded)}


def set_task(name: str, degraded_dir: str) -> str:
    if name in SET_TASKS:
        return SET_TASKS[name]
    if name.startswith("bwe"):
        return "bwe"
    return DEGRADED_TASKS[degraded_dir]


def _as_set(folder: Path) -> EvalSet | None:
    ref = next((folder / r for r in REFERENCE_DIRS if (folder / r).is_dir()), None)
    deg = next((folder / d for d in DEGRADED_TASKS if (folder / d).is_dir()), None)
    if ref is None or deg is None:
        return None
    return EvalSet(folder.name, set_task(folder.name, deg.name), ref, deg)


def discover_sets(root: str | Path, names: list[str] | None = None) -> list[EvalSet]:
    """The sets under ``root`` (all, or ``names`` in that order). ValueError names what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"--quality {root}: no such folder (expected <set>/clean|wideband and a noisy|reverb|narrowband folder)")
    if names:
        sets = []
        for name in names:
            found = _as_set(root / name) if (root / name).is_dir() else None
            if found is None:
                raise ValueError(f"--sets: {root / name} is not a quality set (needs a {' or '.join(REFERENCE_DIRS)} "
                                 f"folder and a {' / '.join(DEGRADED_TASKS)} folder)")
            sets.append(found)
        return sets
    sets = [s for s in (_as_set(d) for d in sorted(root.iterdir()) if d.is_dir()) if s is not None]
    if not sets:
        raise ValueError(f"--quality {root}: no set folders with {'/'.join(REFERENCE_DIRS)} and "
                         f"{'/'.join(DEGRADED_TASKS)} subfolders")
    return sets


def applies(tasks: tuple[str, ...], task: str) -> bool:
    """Whether a system made for ``tasks`` is scored on a ``task`` set (universal models do everything)."""
    return task in tasks or "universal" in tasks


@dataclass(frozen=True)
class Scores:
    """Mean of each metric over the set's files (None where every file failed), files scored, failures."""

    means: dict[str, float | None]
    n: int
    failed: int
    notes: tuple[str, ...] = ()


def score_dir(eval_set: EvalSet, estimate_dir: Path, align: bool, jobs: int = 1,
              metrics: tuple[str, ...] = QUALITY_METRICS) -> Scores:
    """Score ``estimate_dir`` against the set's reference with :func:`models.evaluate.evaluate`."""
    from models.evaluate import evaluate

    result = evaluate(eval_set.reference, [estimate_dir], metrics=",".join(metrics), jobs=jobs, align=align)
    summary = next(iter(result.systems.values()))
    notes = [f"{m}: {reason} ({count} file(s))" for m, reasons in summary.failures.items() for reason, count in reasons.items()]
    if summary.missing:
        notes.append(f"{len(summary.missing)} reference file(s) without output")
    return Scores({m: summary.mean.get(m) for m in metrics}, summary.n, summary.failed + len(summary.missing),
                  tuple(notes))
