"""`gre benchmark` as a Python API: speed of every system and precision, then quality on sets.

    from models.bench import BenchmarkOptions, run_benchmark
    result = run_benchmark(BenchmarkOptions(models=("gre:small", "wiener"), peers=("all",), seconds=10))
    result.write_json("bench.json"); result.write_markdown("bench.md"); result.plot("bench.png")

See :mod:`models.bench` for what is measured and the JSON schema.
"""
from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from models.bench.quality import QUALITY_METRICS, EvalSet, applies, discover_sets, score_dir
from models.bench.systems import NATIVE, SystemInfo, load_model_module, peer_info
from models.bench.timing import PointResult, load_average
from models.bench.worker import WAIT_POLICIES, EnhanceJob, SpeedJob, run_in_subprocess, run_job

SCHEMA = "gre-benchmark/1"
INPUT_ROW = "input"  # the degraded files themselves, scored as a system


class BenchmarkError(ValueError):
    """A usage problem (unknown model or peer, bad option, missing folder): one line saying what to do."""


def default_models() -> tuple[str, ...]:
    """Shipped models (registry entries with a weights file present, and chains of them) plus the
    Wiener reference; ``gre:small`` with random weights as a speed-only row when nothing is shipped yet."""
    from models.registry import REGISTRY

    shipped = tuple(name for name, e in REGISTRY.items() if (e.weights_file or e.stages) and e.available)
    return shipped + ("wiener",) if shipped else ("gre:small", "wiener")


@dataclass(frozen=True)
class BenchmarkOptions:
    """What to measure. Lengths in seconds. ``isolate``: every setting in a fresh process (peak RSS
    per setting; thread settings applied before start-up); False runs everything in this process
    (tests). ``wait_policy``: OpenMP's OMP_WAIT_POLICY in the workers ("inherit" leaves it alone)."""

    models: tuple[str, ...] = field(default_factory=default_models)
    peers: tuple[str, ...] = ("all",)
    device: str = "auto"
    precisions: tuple[str, ...] = ("fp32",)
    threads: int | None = None
    seconds: float = 10.0
    batch_sizes: tuple[int, ...] = (1, 4)
    chunk_seconds: tuple[float, ...] = (4.0,)
    repeats: int = 3
    warmup: int = 1
    quality_dir: Path | None = None
    sets: tuple[str, ...] | None = None
    isolate: bool = True
    wait_policy: str = "inherit"  # what `gre enhance` runs with
    timeout_s: float | None = None

    def validate(self) -> None:
        from models.device import check_precision, resolve_device

        problems = []
        if self.seconds <= 0:
            problems.append("--seconds must be > 0")
        if self.repeats < 1:
            problems.append("--repeats must be at least 1")
        if self.warmup < 0:
            problems.append("--warmup must be 0 or more")
        if self.threads is not None and self.threads < 1:
            problems.append("--threads must be at least 1")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            problems.append("--batch-sizes must be whole numbers >= 1")
        if not self.chunk_seconds or any(c <= 0 for c in self.chunk_seconds):
            problems.append("--chunk-seconds must be > 0")
        if self.wait_policy not in WAIT_POLICIES:
            problems.append(f"--omp-wait-policy must be one of {', '.join(WAIT_POLICIES)}")
        if not self.precisions:
            problems.append("--precision needs at least one of fp32, bf16, fp16")
        if problems:
            raise BenchmarkError("; ".join(problems))
        try:
            device = resolve_device(self.device)
            for p in self.precisions:
                check_precision(p, device)
        except ValueError as err:
            raise BenchmarkError(str(err)) from None


@dataclass
class SpeedRow:
    """One (system, precision): the whole-signal point (RTF) and the throughput grid."""

    system: str
    precision: str
    whole: PointResult | None = None
    throughput: list[PointResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        w = self.whole
        return {"system": self.system, "precision": self.precision,
                "rtf": w.rtf if w else None, "cpu_per_audio_s": w.cpu_per_audio_s if w else None,
                "peak_rss_mib": w.peak_rss_mib if w else None, "gpu_peak_mib": w.gpu_peak_mib if w else None,
                "whole": w.to_dict() if w else None, "throughput": [p.to_dict() for p in self.throughput],
                "errors": list(self.errors)}


@dataclass
class QualityRow:
    """One (system, precision, set): mean metrics, or why it was skipped / failed."""

    system: str
    precision: str
    set: str
    task: str
    status: str  # "ok" | "skipped" | "error"
    reason: str | None = None
    aligned: bool = False
    n: int = 0
    failed: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"system": self.system, "precision": self.precision, "set": self.set, "task": self.task,
                "status": self.status, "reason": self.reason, "aligned": self.aligned, "n": self.n,
                "failed": self.failed, "metrics": dict(self.metrics)}


@dataclass
class BenchmarkResult:
    """Everything `gre benchmark` prints or writes (see :mod:`models.bench` for the JSON schema)."""

    options: BenchmarkOptions
    systems: list[SystemInfo]
    macs: dict[str, int | None]
    speed: list[SpeedRow]
    quality: list[QualityRow]
    sets: list[EvalSet]
    notes: list[str]
    environment: dict
    command: str | None = None

    @property
    def any_error(self) -> bool:
        return any(r.errors for r in self.speed) or any(q.status == "error" for q in self.quality)

    def to_dict(self) -> dict:
        from models.bench.report import result_to_dict

        return result_to_dict(self)

    def write_json(self, path: str | Path) -> None:
        from models.bench.report import write_json

        write_json(self, path)

    def write_markdown(self, path: str | Path) -> None:
        from models.bench.report import write_markdown

        write_markdown(self, path)

    def plot(self, path: str | Path) -> None:
        from models.bench.report import plot

        plot(self, path)


def _environment(options: BenchmarkOptions) -> dict:
    import torch

    cpu = None
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), None)
    except OSError:
        pass
    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpu": cpu or platform.processor(), "logical_cpus": os.cpu_count(),
            "threads": options.threads or torch.get_num_threads(), "device": options.device,
            "omp_wait_policy": options.wait_policy, "isolated_processes": options.isolate,
            "started_unix": time.time(), "load_average_start": load_average()}


class _Runner:
    def __init__(self, options: BenchmarkOptions, log: Callable[[str], None]):
        self.options, self.log = options, log
        from models.device import resolve_device

        self.device = str(resolve_device(options.device))

    def execute(self, job: SpeedJob | EnhanceJob) -> dict:
        if self.options.isolate:
            return run_in_subprocess(job, self.options.wait_policy, self.options.timeout_s)
        try:
            return run_job(job)
        except Exception as err:  # noqa: BLE001 - one failed setting is a row, not the end of the run
            return {"error": f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}

    def precisions(self, info: SystemInfo) -> tuple[str, ...]:
        if info.kind == "peer":
            return (NATIVE,)
        return self.options.precisions if info.has_network else ("fp32",)

    def speed(self, info: SystemInfo, precision: str, count_macs: bool) -> tuple[SpeedRow, int | None]:
        o = self.options
        row = SpeedRow(info.id, precision)
        job_precision = "fp32" if precision == NATIVE else precision
        settings = [(1, o.seconds, True)]
        for b in (o.batch_sizes if info.batches else (1,)):
            settings.extend((b, c, False) for c in o.chunk_seconds)
        macs = None
        for batch, seconds, whole in settings:
            self.log(f"speed: {info.id} {precision} batch {batch} x {seconds:g} s")
            job = SpeedJob(info.kind, info.spec, job_precision, self.device, batch, seconds, o.warmup, o.repeats,
                           o.threads, count_macs and whole)
            out = self.execute(job)
            if "error" in out:
                row.errors.append(f"batch {batch} x {seconds:g} s: {out['error']}")
                self.log(f"  failed: {out['error']}")
                continue
            point = PointResult.from_dict(out["point"])
            if whole:
                row.whole, macs = point, out.get("macs_per_second")
            else:
                row.throughput.append(point)
            self.log(f"  median {point.median_s:.3f} s, RTF {point.rtf:.3f}, {point.throughput:.2f} audio s/s, "
                     f"peak RSS {point.peak_rss_mib or 0:.0f} MiB, load {point.load_average}")
        return row, macs

    def quality(self, info: SystemInfo, precision: str, eval_set: EvalSet, tmp: Path) -> QualityRow:
        row = QualityRow(info.id, precision, eval_set.name, eval_set.task, "skipped", aligned=info.delay_ms > 0)
        if info.random_weights:
            row.reason = "random weights, speed only"
            return row
        if not applies(info.tasks, eval_set.task):
            row.reason = f"not a {eval_set.task} system ({', '.join(info.tasks) or 'no task'})"
            return row
        out_dir = tmp / eval_set.name / f"{_safe(info.id)}-{precision}"
        self.log(f"quality: {info.id} {precision} on {eval_set.name}")
        job = EnhanceJob(info.kind, info.spec, "fp32" if precision == NATIVE else precision, self.device,
                         str(eval_set.degraded), str(out_dir), self.options.threads)
        out = self.execute(job)
        if "error" in out or out.get("failed"):
            row.status = "error"
            row.reason = out.get("error") or "; ".join(out["failed"][:3])
            self.log(f"  failed: {row.reason}")
            if "error" in out or not out.get("files"):
                return row
        scores = score_dir(eval_set, out_dir, align=row.aligned, jobs=1)
        row.status = "ok" if row.status != "error" else row.status
        row.n, row.failed, row.metrics = scores.n, scores.failed, scores.means
        if scores.notes:
            row.reason = "; ".join(filter(None, [row.reason, *scores.notes]))
        return row

    def input_row(self, eval_set: EvalSet) -> QualityRow:
        scores = score_dir(eval_set, eval_set.degraded, align=False, jobs=1)
        return QualityRow(INPUT_ROW, "-", eval_set.name, eval_set.task, "ok",
                          f"unprocessed {eval_set.degraded.name} files", False, scores.n, scores.failed, scores.means)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def run_benchmark(options: BenchmarkOptions, log: Callable[[str], None] | None = None,
                  command: str | None = None) -> BenchmarkResult:
    """Measure every system of ``options``; raises :class:`BenchmarkError` for usage problems only.

    Failures of a single setting or set are recorded in the result (``errors`` / status "error").
    ``log`` receives one-line progress messages.
    """
    from models.peers import resolve_peers

    log = log or (lambda message: None)
    options.validate()
    runner = _Runner(options, log)
    notes: list[str] = []
    systems: list[SystemInfo] = []
    for spec in dict.fromkeys(options.models):
        try:
            module, info = load_model_module(spec, "cpu")
        except ValueError as err:
            raise BenchmarkError(f"--models {spec}: {err}") from None
        del module
        systems.append(info)
        if not info.has_network and any(p != "fp32" for p in options.precisions):
            notes.append(f"{info.id}: no network, measured in fp32 only")
    try:
        peers, peer_notes = resolve_peers(list(options.peers))
    except ValueError as err:
        raise BenchmarkError(f"--peers: {err}") from None
    notes.extend(peer_notes)
    systems.extend(peer_info(p.name) for p in peers)
    ids = [s.id for s in systems]
    if len(set(ids)) != len(ids):
        raise BenchmarkError(f"two systems share a name: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
    sets: list[EvalSet] = []
    if options.quality_dir is not None:
        try:
            sets = discover_sets(options.quality_dir, list(options.sets) if options.sets else None)
        except ValueError as err:
            raise BenchmarkError(str(err)) from None
    elif options.sets:
        raise BenchmarkError("--sets needs --quality DIR")
    environment = _environment(options)
    if any(s.random_weights for s in systems) and sets:
        notes.append("random-weight models are measured for speed only; their quality is not scored")

    macs: dict[str, int | None] = {}
    speed: list[SpeedRow] = []
    for info in systems:
        for i, precision in enumerate(runner.precisions(info)):
            row, counted = runner.speed(info, precision, count_macs=i == 0 and info.has_network)
            speed.append(row)
            if i == 0:
                macs[info.id] = counted
    quality: list[QualityRow] = []
    if sets:
        with tempfile.TemporaryDirectory(prefix="gre-benchmark-") as tmp:
            for eval_set in sets:
                quality.append(runner.input_row(eval_set))
                for info in systems:
                    for precision in runner.precisions(info):
                        quality.append(runner.quality(info, precision, eval_set, Path(tmp)))
    environment["finished_unix"] = time.time()
    environment["load_average_end"] = load_average()
    return BenchmarkResult(options, systems, macs, speed, quality, sets, notes, environment, command)
