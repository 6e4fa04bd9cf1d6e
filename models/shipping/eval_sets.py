"""The evaluation a model is shipped with: which sets serve which task, enhancing a set's degraded
files with the model and scoring them with :func:`models.evaluate.evaluate` (the code behind
`gre evaluate`) next to the degraded input.

    >>> plan = shared_eval_sets(("denoise",), Path("../shared/eval"))
    >>> scores = score_set(model, "gre-denoise-x", plan[0], out_root, EnhanceRun(threads=1))
    >>> scores.model.mean["pesq_wb"], scores.baseline.mean["pesq_wb"]

Phase retrieval has no degraded file: the model gets the clean file (its magnitude is kept and
its phase replaced), and the comparison row is the registry's classical ``griffin-lim``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.enhancer import Enhancer

BASE_METRICS = ("pesq_wb", "stoi", "si_sdr")
#: Metrics added per task: phase distance for phase retrieval, log-spectral distance for BWE.
EXTRA_METRICS = {"phase": ("pd",), "bwe": ("lsd",)}
PHASE_BASELINE = "griffin-lim"


@dataclass(frozen=True)
class EvalSet:
    """One scored set: ``set_dir/input_name`` is enhanced and scored against ``set_dir/reference_name``.

    ``baseline_model`` None: the comparison row is the input itself; else that registry model's
    output on the input.
    """

    label: str
    task: str
    set_dir: Path
    input_name: str
    reference_name: str
    metrics: tuple[str, ...]
    baseline_model: str | None = None
    group: str = "shared"  # "shared" (../shared/eval) or "heldout" (generated from corpus folders)

    @property
    def input_dir(self) -> Path:
        return self.set_dir / self.input_name

    @property
    def reference_dir(self) -> Path:
        return self.set_dir / self.reference_name

    @property
    def baseline_name(self) -> str:
        return self.baseline_model or self.input_name


def metrics_for(task: str) -> tuple[str, ...]:
    return BASE_METRICS + EXTRA_METRICS.get(task, ())


#: task -> (label, set directory, degraded dir, reference dir) in ../shared/eval.
SHARED_SETS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "denoise": (("vbd", "vbd", "noisy", "clean"), ("vbd-snr", "vbd-snr", "noisy", "clean"),
                ("dns", "dns", "noisy", "clean")),
    "dereverb": (("reverb", "reverb", "reverb", "clean"),),
    "bwe": (("bwe-4k", "bwe-4k", "narrowband", "wideband"), ("bwe-8k", "bwe-8k", "narrowband", "wideband")),
    "phase": (("vbd-phase", "vbd", "clean", "clean"),),
}
#: The universal model is scored on every enhancement set (not on phase retrieval).
UNIVERSAL_PARTS = ("denoise", "dereverb", "bwe")


def shared_eval_sets(tasks: tuple[str, ...] | list[str], eval_root: Path) -> list[EvalSet]:
    """The ../shared/eval sets for ``tasks``, each once, in task order. Raises ValueError when a
    set folder is missing."""
    plan: list[EvalSet] = []
    for task in tasks:
        parts = UNIVERSAL_PARTS if task == "universal" else (task,)
        for part in parts:
            for label, directory, degraded, reference in SHARED_SETS[part]:
                if any(s.label == label for s in plan):
                    continue
                spec = EvalSet(label, part, Path(eval_root) / directory, degraded, reference, metrics_for(part),
                               PHASE_BASELINE if part == "phase" else None)
                for d in (spec.input_dir, spec.reference_dir):
                    if not d.is_dir():
                        raise ValueError(f"evaluation folder {d} is missing; pass --eval-root DIR "
                                         "(the folder holding vbd/, dns/, reverb/, bwe-4k/, ...)")
                plan.append(spec)
    return plan


@dataclass(frozen=True)
class SystemScores:
    """Mean and 95 % CI half-width per metric over ``n`` files (None where no file scored)."""

    name: str
    n: int
    failed: int
    mean: dict[str, float | None]
    ci95: dict[str, float | None]

    def to_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "failed": self.failed, "mean": dict(self.mean),
                "ci95": dict(self.ci95)}


@dataclass(frozen=True)
class SetScores:
    spec: EvalSet
    model: SystemScores
    baseline: SystemScores
    model_dir: Path
    baseline_dir: Path
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"task": self.spec.task, "group": self.spec.group, "metrics": list(self.spec.metrics),
                "model": self.model.to_dict(), "baseline": self.baseline.to_dict()}


@dataclass(frozen=True)
class EnhanceRun:
    """How outputs are made (the same settings go into the card's commands)."""

    threads: int = 1
    jobs: int = 1  # evaluation worker processes (numbers do not depend on it)


def enhance_dir(model: Enhancer, input_dir: Path, out_dir: Path) -> None:
    """Enhance every file of ``input_dir`` into ``out_dir`` as `gre enhance --workers 0` does;
    raises RuntimeError when a file fails."""
    from models.batch_enhance import EnhanceOptions, enhance_paths

    summary = enhance_paths([str(input_dir)], str(out_dir), model, EnhanceOptions(workers=0, skip_existing=False))
    if summary.failed or not summary.ok:
        reasons = "; ".join(str(r.error) for r in summary.errors[:3])
        raise RuntimeError(f"enhancing {input_dir}: {summary.ok} ok, {summary.failed} failed ({reasons})")


def _system(summary) -> SystemScores:
    return SystemScores(summary.name, summary.n, summary.failed, dict(summary.mean), dict(summary.ci95))


def score_set(model: Enhancer, model_name: str, spec: EvalSet, out_root: Path, run: EnhanceRun) -> SetScores:
    """Enhance ``spec``'s input with ``model`` into ``out_root/<label>/<model_name>``, then score it
    and the baseline against the reference in one :func:`models.evaluate.evaluate` call."""
    from models.api import load_model
    from models.evaluate import evaluate

    model_dir = out_root / spec.label / model_name
    enhance_dir(model, spec.input_dir, model_dir)
    if spec.baseline_model is not None:
        baseline_dir = out_root / spec.label / spec.baseline_model
        enhance_dir(load_model(spec.baseline_model), spec.input_dir, baseline_dir)
    else:
        baseline_dir = spec.input_dir
    result = evaluate(spec.reference_dir, [model_dir, baseline_dir], metrics=",".join(spec.metrics), jobs=run.jobs)
    model_summary, baseline_summary = list(result.systems.values())[:2]
    return SetScores(spec, _system(model_summary), _system(baseline_summary), model_dir, baseline_dir,
                     tuple(result.notes))
