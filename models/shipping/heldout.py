"""Optional held-out pairs generated from corpus folders (e.g. the corpus's ``speech/heldout``):
the first seconds of up to ``files`` clean files, degraded for a task exactly as training
validation degrades them (:func:`models.train.validation.build_val_set`) but with a fixed seed of
its own, so every model shipped from the same folders is scored on the same pairs.

Pairs are written as 32-bit float WAV (unit RMS, peaks may exceed 1) under
``out_root/heldout-<task>/{degraded,clean}/`` and scored like the ../shared/eval sets.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from models.data import degrade as D
from models.shipping.eval_sets import PHASE_BASELINE, EvalSet, metrics_for

#: Seed of the held-out degradations (not a training seed: the same pairs for every run).
HELDOUT_SEED = 20_261_122


@dataclass(frozen=True)
class HeldoutSpec:
    """Corpus folders to draw held-out pairs from. Lengths in seconds."""

    clean_dirs: tuple[str, ...]
    noise_dirs: tuple[str, ...] = ()
    rir_dirs: tuple[str, ...] = ()
    files: int = 24
    max_seconds: float = 4.0
    seed: int = HELDOUT_SEED


def heldout_items(spec: HeldoutSpec, task: str, degrade: D.DegradeConfig, min_file_seconds: float = 0.25):
    """The held-out pairs of ``task`` in memory: (a list of :class:`~models.train.validation.ValItem`, each with
    its input, target and drawn case, None) or (None, why not)."""
    from models.data.files import scan_folders
    from models.data.rirs import load_rirs
    from models.train.validation import build_val_set

    rate = degrade.sample_rate_hz
    if D.needs_noise(task, degrade) and not spec.noise_dirs:
        return None, f"held-out {task}: skipped, no noise folder (pass --heldout-noise)"
    if D.needs_rir(task) and not spec.rir_dirs:
        return None, f"held-out {task}: skipped, no room impulse responses (pass --heldout-rir)"
    clean, _ = scan_folders(list(spec.clean_dirs), sample_rate_hz=rate, min_seconds=min_file_seconds,
                            what="heldout-clean")
    noise = rirs = None
    if D.needs_noise(task, degrade):
        noise, _ = scan_folders(list(spec.noise_dirs), sample_rate_hz=rate, min_seconds=min_file_seconds,
                                what="heldout-noise")
    if D.needs_rir(task):
        rirs = load_rirs(scan_folders(list(spec.rir_dirs), sample_rate_hz=rate, min_seconds=0.0,
                                      what="heldout-rir")[0], rate)
    return build_val_set(clean, task, degrade, spec.seed, spec.files, spec.max_seconds, noise, rirs), None


def build_heldout_set(spec: HeldoutSpec, task: str, degrade: D.DegradeConfig, out_root: Path,
                      min_file_seconds: float = 0.25) -> tuple[EvalSet | None, str | None]:
    """Write the pairs of ``task`` (:func:`heldout_items`) and return (their EvalSet, None), or (None, why not)."""
    items, why = heldout_items(spec, task, degrade, min_file_seconds)
    if items is None:
        return None, why
    rate = degrade.sample_rate_hz
    set_dir = Path(out_root) / f"heldout-{task}"
    for sub in ("degraded", "clean"):
        (set_dir / sub).mkdir(parents=True, exist_ok=True)
    for k, item in enumerate(items):
        stem = f"{k:03d}_{Path(item.name).stem}"
        sf.write(set_dir / "degraded" / f"{stem}.wav", item.input, rate, subtype="FLOAT")
        sf.write(set_dir / "clean" / f"{stem}.wav", item.target, rate, subtype="FLOAT")
    # For phase retrieval the "degraded" file is the clean one: only its magnitude is used.
    evs = EvalSet(f"heldout-{task}", task, set_dir, "degraded", "clean", metrics_for(task),
                  PHASE_BASELINE if task == "phase" else None, group="heldout")
    return evs, None
