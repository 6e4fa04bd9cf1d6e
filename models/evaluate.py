"""Evaluate systems against references, directory by directory: the API behind `gre evaluate`.

    >>> from models.evaluate import evaluate
    >>> result = evaluate("vbd/clean", ["vbd/noisy", "vbd/mpsenet"], metrics="pesq_wb,stoi,si_sdr")
    >>> result.systems["mpsenet"].mean["pesq_wb"]
    >>> result.write_json("scores.json")

Files are paired by their path relative to each directory, without the extension; missing and
extra files are listed in the result, never fatal. Each reference file is one task: it is decoded
once, resampled to 16 kHz once, and every system's estimate of it (plus the oracle masks, with
``oracle=True`` and a degraded directory) is scored in the same worker process. Tasks run in
``jobs`` processes; every number is independent of ``jobs`` (single-threaded maths in every worker,
fixed seeds, results ordered by system and file).
"""
from __future__ import annotations

import csv
import ctypes
import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import soundfile as sf

from models.metrics import ALL_METRICS, ANALYSIS_RATE_HZ, METRICS, parse_metric_list
from models.metrics.align import DEFAULT_MAX_DELAY_S, apply_delay, estimate_delay
from models.metrics.dnsmos import dnsmos_available
from models.metrics.spectral import DEFAULT_CUTOFF_HZ
from models.metrics.suite import PairScores, SuiteConfig, resample64, score_pair
from models.json_safe import json_safe

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".au", ".caf"})
ORACLE_PREFIX = "oracle_"


class EvaluationError(ValueError):
    """A usage problem (missing directory, unknown metric, ...): one line saying what to do."""


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class FileScores:
    """One (system, file) row: metric values (None where failed) and the reasons of failures."""

    system: str
    file: str
    values: dict[str, float | None]
    errors: dict[str, str] = field(default_factory=dict)
    delay_ms: float | None = None

    def to_dict(self) -> dict:
        row: dict = {"system": self.system, "file": self.file, **self.values}
        if self.delay_ms is not None:
            row["delay_ms"] = self.delay_ms
        if self.errors:
            row["errors"] = dict(self.errors)
        return row


@dataclass
class SystemSummary:
    """Per-system aggregate: files scored, mean and 95 % CI half-width per metric, failures."""

    name: str
    directory: str
    n: int
    mean: dict[str, float | None]
    ci95: dict[str, float | None]
    failed: int
    failures: dict[str, dict[str, int]]
    missing: list[str]
    extra: list[str]

    def to_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "ci95": self.ci95, "failed": self.failed,
                "failures": self.failures, "missing": self.missing, "extra": self.extra,
                "directory": self.directory}


@dataclass
class EvaluationResult:
    """Everything `gre evaluate` prints or writes."""

    metrics: tuple[str, ...]
    systems: dict[str, SystemSummary]
    files: list[FileScores]
    notes: list[str]
    reference: str

    @property
    def any_failure(self) -> bool:
        """True when a file was missing or unreadable, or a metric failed on some file."""
        return any(s.failed or s.missing for s in self.systems.values())

    def to_dict(self) -> dict:
        return {"systems": {name: s.to_dict() for name, s in self.systems.items()},
                "files": [f.to_dict() for f in self.files],
                "metrics": list(self.metrics), "reference": self.reference, "notes": list(self.notes)}

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(json_safe(self.to_dict()), indent=2) + "\n")

    def write_csv(self, path: str | Path) -> None:
        """One row per (system, file); failed metrics are empty cells, reasons in `errors`."""
        with_delay = any(f.delay_ms is not None for f in self.files)
        header = ["system", "file", *self.metrics] + (["delay_ms"] if with_delay else []) + ["errors"]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for f in self.files:
                cells = [f.system, f.file] + ["" if f.values.get(m) is None else repr(f.values[m]) for m in self.metrics]
                if with_delay:
                    cells.append("" if f.delay_ms is None else f"{f.delay_ms:g}")
                cells.append("; ".join(f"{m}: {r}" for m, r in f.errors.items()))
                writer.writerow(cells)

    def plot(self, path: str | Path) -> None:
        """Bar chart per metric: mean with 95 % CI per system (needs matplotlib, extra ``plot``)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise EvaluationError("--plot needs matplotlib: pip install 'gre[plot]'") from None
        names = list(self.systems)
        cols = min(4, len(self.metrics)) or 1
        rows = math.ceil(len(self.metrics) / cols) or 1
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
        for ax, metric in zip(axes.flat, self.metrics):
            means = [self.systems[n].mean.get(metric) for n in names]
            errs = [self.systems[n].ci95.get(metric) or 0.0 for n in names]
            ax.bar(range(len(names)), [np.nan if m is None else m for m in means], yerr=errs, capsize=3)
            spec = METRICS[metric]
            ax.set_title(f"{metric} {'↑' if spec.higher_is_better else '↓'}", fontsize=9)
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        for ax in list(axes.flat)[len(self.metrics):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)




# --------------------------------------------------------------------------------------------
# Files and pairing


def scan_audio(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Audio files under ``directory`` keyed by relative path without extension -> (files, duplicates).

    When two files share a key (``a.wav`` and ``a.flac``) the first in sorted order is used and the
    other is reported as a duplicate.
    """
    files: dict[str, Path] = {}
    duplicates: list[str] = []
    for path in sorted(p for p in directory.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()):
        key = path.relative_to(directory).with_suffix("").as_posix()
        if key in files:
            duplicates.append(path.relative_to(directory).as_posix())
        else:
            files[key] = path
    return files, duplicates


def _system_names(dirs: list[Path]) -> list[str]:
    """The directories' names; clashing names get their parent prepended, then a counter."""
    names = [d.resolve().name or str(d) for d in dirs]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = f"{dirs[i].resolve().parent.name}/{name}"
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique


def load_audio(path: Path) -> np.ndarray:
    """Decode ``path`` to a mono float64 waveform at 16 kHz (channels averaged, soxr HQ resampling)."""
    wave, rate = sf.read(str(path), dtype="float64", always_2d=True)
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    return resample64(np.ascontiguousarray(mono), int(rate), ANALYSIS_RATE_HZ)


# --------------------------------------------------------------------------------------------
# Worker side


@dataclass(frozen=True)
class _Task:
    """All the work on one reference file: the estimates of every system, and the oracle masks."""

    key: str
    ref_path: Path
    estimates: tuple[tuple[str, Path], ...]
    degraded_path: Path | None
    oracle_kinds: tuple[str, ...]
    suite: SuiteConfig


def _decode(path: Path, role: str) -> tuple[np.ndarray | None, str | None]:
    try:
        wave = load_audio(path)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, ...
        return None, f"cannot read {role} {path.name}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    if not np.all(np.isfinite(wave)):
        return None, f"{role} {path.name} contains NaN or Inf samples"
    return wave, None


def _failed_row(system: str, key: str, metrics: tuple[str, ...], reason: str) -> FileScores:
    return FileScores(system, key, {m: None for m in metrics}, {m: reason for m in metrics})


def _row(system: str, key: str, metrics: tuple[str, ...], scores: PairScores) -> FileScores:
    delay = None if scores.delay_samples is None else 1000.0 * scores.delay_samples / ANALYSIS_RATE_HZ
    return FileScores(system, key, {m: scores.values.get(m) for m in metrics}, dict(scores.errors), delay)


def _oracle_rows(task: _Task, ref: np.ndarray) -> list[FileScores]:
    import torch

    from models.config import STFTConfig
    from models.masks import oracle_spectrum
    from models.stft import istft, stft

    metrics = task.suite.metrics
    names = [ORACLE_PREFIX + k for k in task.oracle_kinds]
    degraded, problem = _decode(task.degraded_path, "degraded") if task.degraded_path else (None, "no degraded file")
    if degraded is None:
        return [_failed_row(n, task.key, metrics, problem) for n in names]
    if task.suite.align:
        degraded = apply_delay(degraded, estimate_delay(ref, degraded, ANALYSIS_RATE_HZ, task.suite.max_delay_s))
    n = min(ref.size, degraded.size)
    clean, mix = ref[:n], degraded[:n]
    cfg = STFTConfig()
    spec = stft(torch.from_numpy(np.stack([clean, mix - clean])), cfg)  # float64 -> complex128
    plain = SuiteConfig(metrics=metrics, align=False, lsd_cutoff_hz=task.suite.lsd_cutoff_hz)
    rows = []
    for kind, name in zip(task.oracle_kinds, names):
        est = istft(oracle_spectrum(kind, spec[0], spec[1])[None], cfg, n)[0].numpy()
        rows.append(_row(name, task.key, metrics, score_pair(clean, est, plain)))
    return rows


def _score_task(task: _Task) -> list[FileScores]:
    """Worker entry point: score every system (and oracle) on one reference file."""
    metrics = task.suite.metrics
    ref, problem = _decode(task.ref_path, "reference")
    systems = [s for s, _ in task.estimates] + [ORACLE_PREFIX + k for k in task.oracle_kinds]
    if ref is None:
        return [_failed_row(s, task.key, metrics, problem) for s in systems]
    rows = []
    for system, path in task.estimates:
        est, problem = _decode(path, "estimate")
        rows.append(_failed_row(system, task.key, metrics, problem) if est is None
                    else _row(system, task.key, metrics, score_pair(ref, est, task.suite)))
    if task.oracle_kinds:
        rows.extend(_oracle_rows(task, ref))
    return rows


def _blas_thread_setters() -> list[tuple[Callable[[int], None], Callable[[], int]]]:
    """(set, get) of every OpenBLAS loaded in this process (numpy's, scipy's), found via /proc/self/maps."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    libs = sorted({line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and ".so" in line})
    pairs = []
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", ""), ("openblas", "64_")):
            setter = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(handle, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                pairs.append((setter, getter))
                break
    return pairs


def _single_threaded() -> Callable[[], None]:
    """One thread for torch and OpenBLAS in this process (one process per core does the parallelism).

    Returns a function restoring the previous settings. Besides speed this keeps results identical
    between ``jobs=1`` (in-process) and ``jobs=N`` (workers).
    """
    import torch

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    blas = _blas_thread_setters()
    previous = [get() for _, get in blas]
    for set_threads, _ in blas:
        set_threads(1)

    def restore() -> None:
        torch.set_num_threads(torch_threads)
        for (set_threads, _), count in zip(blas, previous):
            set_threads(count)

    return restore


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
#: Allocations up to this size come from the heap, not from a fresh mmap (glibc's own dynamic maximum).
KEEP_ALLOCATIONS_BYTES = 32 * 1024 * 1024
#: Freed heap kept by a scoring process before it is returned to the OS.
KEEP_FREED_BYTES = 256 * 1024 * 1024


def _keep_freed_memory() -> Callable[[], None]:
    """Let glibc reuse freed heap instead of unmapping it and faulting it in again.

    Scoring a 10 s pair allocates and frees arrays of 1-11 MB dozens of times; with glibc's defaults
    each is a fresh mmap whose pages are zero-filled on first touch (about 8000 page faults and
    20 ms of system time per pair). Numbers do not change, only where the memory comes from.
    Returns a function that hands free memory back to the OS and restores glibc's default
    thresholds (not its dynamic adjustment, which any mallopt call ends); a no-op without glibc.
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return lambda: None
    if not (mallopt(_M_MMAP_THRESHOLD, KEEP_ALLOCATIONS_BYTES) and mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)):
        return lambda: None

    def restore() -> None:
        mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        malloc_trim(0)

    return restore


def _init_worker() -> None:
    # Workers live for one run: their memory settings need no restoring.
    _single_threaded()
    _keep_freed_memory()


# --------------------------------------------------------------------------------------------
# Statistics


def _t_quantile_975(df: int) -> float:
    # scipy is installed with pystoi (a core dependency); scipy.special imports quickly.
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.975))


def mean_ci95(values: Iterable[float]) -> tuple[float | None, float | None]:
    """Mean and half-width of the 95 % Student-t confidence interval (None when undefined)."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return None, None
    mean = float(np.mean(v))
    if v.size < 2:
        return mean, None
    return mean, float(_t_quantile_975(v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))


def _summarise(name: str, directory: str, rows: list[FileScores], metrics: tuple[str, ...],
               missing: list[str], extra: list[str]) -> SystemSummary:
    mean, ci95, failures = {}, {}, {}
    for m in metrics:
        mean[m], ci95[m] = mean_ci95(r.values[m] for r in rows if r.values.get(m) is not None)
        reasons: dict[str, int] = {}
        for r in rows:
            if m in r.errors:
                reasons[r.errors[m]] = reasons.get(r.errors[m], 0) + 1
        if reasons:
            failures[m] = reasons
    failed = sum(1 for r in rows if r.errors)
    return SystemSummary(name, directory, len(rows), mean, ci95, failed, failures, missing, extra)


# --------------------------------------------------------------------------------------------
# Entry point


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _pool_context():
    # fork starts workers instantly with everything imported; workers set one torch/BLAS thread
    # before any maths, which keeps OpenMP and OpenBLAS safe after fork.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


def evaluate(ref_dir: str | Path, est_dirs: Iterable[str | Path], degraded_dir: str | Path | None = None, *,
             metrics: str | Iterable[str] | None = None, jobs: int | None = None, align: bool = False,
             max_delay_s: float = DEFAULT_MAX_DELAY_S, oracle: bool = False,
             lsd_cutoff_hz: float = DEFAULT_CUTOFF_HZ,
             progress: Callable[[int, int], None] | None = None) -> EvaluationResult:
    """Score every ``est_dirs`` directory against ``ref_dir``.

    ``metrics``: "all" (default), a comma list or an iterable of metric / family names (see
    :func:`models.metrics.parse_metric_list`). ``oracle=True`` adds the ideal masks of
    :mod:`models.masks` computed from ``ref_dir`` and ``degraded_dir`` as systems ``oracle_<kind>``.
    ``jobs``: worker processes (default all cores; 1 runs in this process). ``progress(done, total)``
    is called after each reference file.
    """
    ref_root = Path(ref_dir)
    if not ref_root.is_dir():
        raise EvaluationError(f"reference directory {ref_root} does not exist")
    est_roots = [Path(d) for d in est_dirs]
    if not est_roots and not oracle:
        raise EvaluationError("give at least one --est directory (or --oracle with --degraded)")
    for d in est_roots:
        if not d.is_dir():
            raise EvaluationError(f"estimate directory {d} does not exist")
    if oracle and degraded_dir is None:
        raise EvaluationError("--oracle needs --degraded DIR (the noisy input the masks are computed from)")
    deg_root = Path(degraded_dir) if degraded_dir is not None else None
    if deg_root is not None and not deg_root.is_dir():
        raise EvaluationError(f"degraded directory {deg_root} does not exist")
    metric_text = metrics if metrics is None or isinstance(metrics, str) else ",".join(metrics)
    try:
        names, notes = parse_metric_list(metric_text, dnsmos_available())
    except ValueError as err:
        raise EvaluationError(str(err)) from None
    if not names:
        raise EvaluationError("no metric left to compute (" + "; ".join(notes) + ")")
    if deg_root is not None and not oracle:
        notes.append("--degraded is only used with --oracle")
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise EvaluationError(f"--jobs must be at least 1, got {jobs}")

    refs, ref_dups = scan_audio(ref_root)
    if not refs:
        raise EvaluationError(f"no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) under {ref_root}")
    if ref_dups:
        notes.append(f"reference: {len(ref_dups)} duplicate file(s) ignored: {', '.join(ref_dups[:5])}")
    system_names = _system_names(est_roots)
    estimates, missing, extra = {}, {}, {}
    for name, root in zip(system_names, est_roots):
        files, dups = scan_audio(root)
        estimates[name] = files
        missing[name] = sorted(k for k in refs if k not in files)
        extra[name] = sorted(k for k in files if k not in refs) + dups
    oracle_kinds: tuple[str, ...] = ()
    degraded: dict[str, Path] = {}
    if oracle:
        from models.masks import MASK_KINDS

        oracle_kinds = MASK_KINDS
        degraded, _ = scan_audio(deg_root)
        for kind in oracle_kinds:
            missing[ORACLE_PREFIX + kind] = sorted(k for k in refs if k not in degraded)
            extra[ORACLE_PREFIX + kind] = sorted(k for k in degraded if k not in refs)

    suite = SuiteConfig(metrics=names, align=align, max_delay_s=max_delay_s, lsd_cutoff_hz=lsd_cutoff_hz)
    tasks = []
    for key, ref_path in refs.items():
        ests = tuple((s, estimates[s][key]) for s in system_names if key in estimates[s])
        has_oracle = bool(oracle_kinds) and key in degraded
        if ests or has_oracle:
            tasks.append(_Task(key, ref_path, ests, degraded.get(key), oracle_kinds if has_oracle else (), suite))

    if any(METRICS[m].family == "dnsmos" for m in names):
        from models.metrics.dnsmos import prepare

        prepare()
    rows = _run_tasks(tasks, jobs, progress)
    order = {name: i for i, name in enumerate(system_names + [ORACLE_PREFIX + k for k in oracle_kinds])}
    rows.sort(key=lambda r: (order[r.system], r.file))
    by_system: dict[str, list[FileScores]] = {name: [] for name in order}
    for r in rows:
        by_system[r.system].append(r)
    dirs = {n: str(d) for n, d in zip(system_names, est_roots)}
    summaries = {name: _summarise(name, dirs.get(name, str(deg_root)), by_system[name], names,
                                  missing[name], extra[name]) for name in order}
    return EvaluationResult(names, summaries, rows, notes, str(ref_root))


def _run_tasks(tasks: list[_Task], jobs: int, progress: Callable[[int, int], None] | None) -> list[FileScores]:
    rows: list[FileScores] = []
    total = len(tasks)
    if jobs == 1 or total <= 1:
        restore_threads, restore_memory = _single_threaded(), _keep_freed_memory()
        try:
            for i, task in enumerate(tasks):
                rows.extend(_score_task(task))
                if progress:
                    progress(i + 1, total)
        finally:
            restore_memory()
            restore_threads()
        return rows
    with ProcessPoolExecutor(max_workers=min(jobs, total), mp_context=_pool_context(),
                             initializer=_init_worker) as pool:
        futures = [pool.submit(_score_task, task) for task in tasks]
        for done, future in enumerate(as_completed(futures), start=1):
            rows.extend(future.result())
            if progress:
                progress(done, total)
    return rows


__all__ = ["ALL_METRICS", "EvaluationError", "EvaluationResult", "FileScores", "SystemSummary", "evaluate",
           "load_audio", "mean_ci95", "scan_audio"]
