"""One unit of benchmark work, run in this process or in a fresh one (``python -m models.bench.worker``).

Two kinds of job:
- :class:`SpeedJob`: load one system, time one setting (:func:`models.bench.timing.time_point`),
  optionally count MACs afterwards; -> ``{"point": PointResult dict, "macs_per_second": int | None}``.
- :class:`EnhanceJob`: enhance every audio file of a folder into another folder (our models through
  :func:`models.batch_enhance.enhance_paths`, whole files; peers file by file) -> ``{"files": n, "failed": [...]}``.

A fresh process per job gives each setting its own peak RSS, applies the thread settings before
any library starts its thread pools, and keeps a crashing peer runtime from taking the run down.
The parent sends the job as JSON on stdin; the child prints its JSON result as the last stdout line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

#: Environment variables that size the thread pools of OpenMP, BLAS libraries, numba and onnxruntime users.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS")
WAIT_POLICIES = ("passive", "active", "inherit")


@dataclass(frozen=True)
class SpeedJob:
    kind: str
    spec: str
    precision: str
    device: str
    batch_size: int
    seconds: float
    warmup: int
    repeats: int
    threads: int | None = None
    count_macs: bool = False


@dataclass(frozen=True)
class EnhanceJob:
    kind: str
    spec: str
    precision: str
    device: str
    input_dir: str
    output_dir: str
    threads: int | None = None


def run_speed(job: SpeedJob, system=None, **timing_kwargs) -> dict:
    """Time one setting in this process. ``system`` overrides loading (tests pass a fake)."""
    import torch

    from models.bench.systems import load_system
    from models.bench.timing import time_point

    if job.threads:
        torch.set_num_threads(job.threads)
    system = system or load_system(job.kind, job.spec, job.precision, job.device)
    device = getattr(system, "device", torch.device("cpu"))
    sync = gpu_peak = None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
        gpu_peak = lambda: torch.cuda.max_memory_allocated(device) / 2 ** 20  # noqa: E731
    point = time_point(system, job.batch_size, job.seconds, job.warmup, job.repeats, sync=sync, gpu_peak=gpu_peak,
                       **timing_kwargs)
    macs = None
    if job.count_macs and getattr(system, "module", None) is not None and system.info.has_network:
        from models.bench.macs import macs_per_second

        macs = macs_per_second(system.module)
    return {"point": point.to_dict(), "macs_per_second": macs}


def run_enhance(job: EnhanceJob) -> dict:
    """Enhance ``job.input_dir`` into ``job.output_dir`` (same relative names) in this process."""
    import torch

    if job.threads:
        torch.set_num_threads(job.threads)
    out = Path(job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if job.kind == "model":
        from models.batch_enhance import EnhanceOptions, enhance_paths
        from models.bench.systems import load_model_module

        module, info = load_model_module(job.spec, job.device)
        precision = job.precision if info.has_network else "fp32"
        # Whole files (chunk 0), one file per call: the same processing the RTF measures.
        summary = enhance_paths([job.input_dir], str(out), module,
                                EnhanceOptions(chunk_seconds=0, workers=0, precision=precision, skip_existing=False))
        return {"files": summary.ok, "failed": [f"{e.input}: {e.error}" for e in summary.errors]}
    return _enhance_with_peer(job, out)


def _enhance_with_peer(job: EnhanceJob, out: Path) -> dict:
    import soundfile as sf

    from models.audio_resample import resample
    from models.evaluate import scan_audio
    from models.peers import PEER_RATE_HZ, PEERS

    runner = PEERS[job.spec].load()
    files, _ = scan_audio(Path(job.input_dir))
    done, failed = 0, []
    for key, path in files.items():
        try:
            wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
            subtype = sf.info(str(path)).subtype
            mono = wave.mean(axis=1)
            y = runner(resample(mono, rate, PEER_RATE_HZ))
            y = resample(y, PEER_RATE_HZ, rate)[: mono.size]
            target = out / f"{key}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(target), y.clip(-1.0, 1.0), rate, subtype=subtype if subtype.startswith(("PCM", "FLOAT")) else "FLOAT")
            done += 1
        except Exception as err:  # noqa: BLE001 - one file's failure is reported, the rest go on
            failed.append(f"{path}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return {"files": done, "failed": failed}


def run_job(job: SpeedJob | EnhanceJob) -> dict:
    return run_speed(job) if isinstance(job, SpeedJob) else run_enhance(job)


# --------------------------------------------------------------------------------------------
# Fresh-process execution


def child_environment(threads: int | None, wait_policy: str) -> dict[str, str]:
    """The environment of a worker: thread-pool sizes and the OpenMP wait policy set before start-up."""
    env = dict(os.environ)
    if threads:
        for name in THREAD_VARIABLES:
            env[name] = str(threads)
    if wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = wait_policy.upper()
    return env


def run_in_subprocess(job: SpeedJob | EnhanceJob, wait_policy: str = "inherit", timeout_s: float | None = None) -> dict:
    """Run ``job`` in a fresh interpreter; returns its result, or ``{"error": "one line"}``."""
    payload = json.dumps({"type": "speed" if isinstance(job, SpeedJob) else "enhance", "job": asdict(job)})
    try:
        proc = subprocess.run([sys.executable, "-m", "models.bench.worker"], input=payload, capture_output=True,
                              text=True, env=child_environment(job.threads, wait_policy), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if lines:
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    tail = [line for line in proc.stderr.splitlines() if line.strip()]
    reason = tail[-1] if tail else f"worker exited with code {proc.returncode} and no output"
    return {"error": f"{reason} (exit code {proc.returncode})"}


def main() -> None:
    request = json.loads(sys.stdin.read())
    cls = SpeedJob if request["type"] == "speed" else EnhanceJob
    try:
        result = run_job(cls(**request["job"]))
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        first = str(err).splitlines()[0] if str(err) else ""
        result = {"error": f"{type(err).__name__}: {first}"}
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
