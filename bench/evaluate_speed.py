"""Speed of `gre evaluate`: 100 files x 10 s, every metric except DNSMOS, jobs 1 vs jobs 2, against
plain serial loops over the pesq and pystoi packages.

    python bench/evaluate_speed.py [--files 100] [--seconds 10] [--repeats 3]

The files are synthesised in a temporary directory: references tiled from the clean recordings of
../shared/eval (synthetic speech-like signals when it is absent), estimates = reference + white
noise at 0-20 dB SNR (evaluation data only ever serves as test signal here). Each configuration
runs ``--repeats`` times; the median wall time is reported, with the 1-minute load average
before and after each run (the machine's cores are shared with other jobs, so absolute times move).

Configurations:
- evaluate_all_jobs1 / evaluate_all_jobs2: models.evaluate.evaluate with all 13 metrics
  (pesq_wb, pesq_nb, stoi, estoi, si_sdr, snr, csig, cbak, covl, pd, wopd, lsd, lsd_hb);
- loop_pesq_wb_stoi: for each file: soundfile.read, pesq(16000, wb), pystoi.stoi;
- loop_pesq_pystoi_all: the same loop over every pesq/pystoi metric evaluate reports
  (pesq wb, pesq nb at 8 kHz via soxr, stoi, estoi);
- the same two loops in a child interpreter with one OpenBLAS thread (``_1thread``);
- evaluate_pesq_wb_stoi_jobs2: evaluate with just pesq_wb and stoi, 2 processes.

Besides wall time, the CPU time (user + system, workers included) of each run is recorded, and
a projection for two idle cores is derived from it (see the markdown).

Writes bench/results/evaluate_speed.json and .md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.evaluate import evaluate  # noqa: E402

SHARED_EVAL = REPO.parent / "shared" / "eval"
RESULTS = REPO / "bench" / "results"
RATE = 16_000
ALL_BUT_DNSMOS = "pesq_wb,pesq_nb,stoi,estoi,si_sdr,snr,csig,cbak,covl,pd,wopd,lsd,lsd_hb"


def _speechlike(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE
    phase = 2 * np.pi * np.cumsum(125 + 25 * np.sin(2 * np.pi * 0.6 * t)) / RATE
    voiced = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 25))
    return 0.3 * voiced * np.clip(np.sin(2 * np.pi * 2.1 * t + rng.uniform(0, 6)), 0, None) ** 0.7


def synthesise(root: Path, files: int, seconds: float, seed: int = 0) -> None:
    """Write root/ref/fNNN.wav and root/est/fNNN.wav."""
    rng = np.random.default_rng(seed)
    sources = sorted(SHARED_EVAL.glob("*/clean/*.wav")) + sorted(SHARED_EVAL.glob("*/wideband/*.wav"))
    clips = [sf.read(str(p), dtype="float64")[0] for p in sources]
    n = int(seconds * RATE)
    for d in ("ref", "est"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(files):
        if clips:
            start = int(rng.integers(len(clips)))
            parts, total = [], 0
            while total < n:
                clip = clips[(start + len(parts)) % len(clips)]
                parts.append(clip)
                total += clip.size
            ref = np.concatenate(parts)[:n]
        else:
            ref = _speechlike(n, rng)
        # Tiled recordings contain stretches of digital silence, where the composite measures'
        # LLR is undefined; a 3-LSB dither keeps every file scorable (the bench times, not scores).
        ref = ref + 1e-4 * rng.standard_normal(n)
        noise = rng.standard_normal(n)
        snr_db = rng.uniform(0, 20)
        noise *= np.sqrt(np.sum(ref ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
        est = np.clip(ref + noise, -1, 1)
        sf.write(str(root / "ref" / f"f{i:03d}.wav"), ref, RATE, subtype="PCM_16")
        sf.write(str(root / "est" / f"f{i:03d}.wav"), est, RATE, subtype="PCM_16")


def loop_pesq_wb_stoi(root: Path) -> None:
    from pesq import pesq
    from pystoi import stoi

    for ref_path in sorted((root / "ref").glob("*.wav")):
        ref, rate = sf.read(str(ref_path))
        est, _ = sf.read(str(root / "est" / ref_path.name))
        pesq(rate, ref, est, "wb")
        stoi(ref, est, rate)


def loop_pesq_pystoi_all(root: Path) -> None:
    import soxr
    from pesq import pesq
    from pystoi import stoi

    for ref_path in sorted((root / "ref").glob("*.wav")):
        ref, rate = sf.read(str(ref_path))
        est, _ = sf.read(str(root / "est" / ref_path.name))
        pesq(rate, ref, est, "wb")
        pesq(8000, soxr.resample(ref, rate, 8000), soxr.resample(est, rate, 8000), "nb")
        stoi(ref, est, rate)
        stoi(ref, est, rate, extended=True)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def loop_in_child(root: Path, name: str) -> tuple[float, float]:
    """Run a loop in a fresh interpreter with one OpenBLAS/OpenMP thread (how evaluate's workers run)
    -> (wall s, CPU s) of the loop itself, measured in the child (interpreter start-up excluded)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--loop", name, "--root", str(root)], check=True, env=env,
                         capture_output=True, text=True).stdout
    measured = json.loads(out.strip().splitlines()[-1])
    return measured["wall_s"], measured["cpu_s"]


def timed(fn, repeats: int) -> dict:
    runs, cpus, loads = [], [], []
    for _ in range(repeats):
        before = os.getloadavg()[0]
        cpu0, start = _cpu_seconds(), time.perf_counter()
        measured = fn()
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
        if isinstance(measured, tuple):  # measured inside a child process
            wall, cpu = measured
        runs.append(wall)
        cpus.append(cpu)
        loads.append([before, os.getloadavg()[0]])
        print(f"    {runs[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU (load {before:.2f} -> {loads[-1][1]:.2f})", flush=True)
    return {"median_s": statistics.median(runs), "runs_s": runs, "median_cpu_s": statistics.median(cpus),
            "cpu_s": cpus, "load_1min_before_after": loads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=["loop_pesq_wb_stoi", "loop_pesq_pystoi_all"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--render-only", action="store_true",
                        help="Re-write the markdown (and derived numbers) from the existing JSON.")
    args = parser.parse_args()
    if args.loop:  # child of loop_in_child
        cpu0, start = _cpu_seconds(), time.perf_counter()
        globals()[args.loop](args.root)
        print(json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": _cpu_seconds() - cpu0}))
        return
    if args.render_only:
        report = json.loads((RESULTS / "evaluate_speed.json").read_text())
        report.setdefault("sched_autogroup", _autogroup())
        render(report)
        return

    with tempfile.TemporaryDirectory(prefix="gre_eval_bench_") as tmp:
        root = Path(tmp)
        synthesise(root, args.files, args.seconds)
        ref, est = root / "ref", root / "est"

        def check(result) -> None:
            summary = result.systems["est"]
            assert summary.n == args.files and summary.failed == 0, summary.failures

        configs = {
            "evaluate_all_jobs1": lambda: check(evaluate(ref, [est], metrics=ALL_BUT_DNSMOS, jobs=1)),
            "evaluate_all_jobs2": lambda: check(evaluate(ref, [est], metrics=ALL_BUT_DNSMOS, jobs=2)),
            "loop_pesq_wb_stoi": lambda: loop_pesq_wb_stoi(root),
            "loop_pesq_pystoi_all": lambda: loop_pesq_pystoi_all(root),
            "loop_pesq_wb_stoi_1thread": lambda: loop_in_child(root, "loop_pesq_wb_stoi"),
            "loop_pesq_pystoi_all_1thread": lambda: loop_in_child(root, "loop_pesq_pystoi_all"),
            "evaluate_pesq_wb_stoi_jobs2": lambda: check(evaluate(ref, [est], metrics="pesq_wb,stoi", jobs=2)),
        }
        results = {}
        for name, fn in configs.items():
            print(f"{name}:", flush=True)
            results[name] = timed(fn, args.repeats)

    report = {
        "command": "python bench/evaluate_speed.py " + " ".join(sys.argv[1:]),
        "files": args.files, "seconds_per_file": args.seconds, "repeats": args.repeats,
        "signals": "shared/eval clean recordings tiled to length + white noise" if SHARED_EVAL.exists() else "synthetic",
        "metrics_all": ALL_BUT_DNSMOS.split(","),
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "sched_autogroup": _autogroup(),
        "results": results,
        "target": "evaluate --jobs 2 (all metrics) >= 1.8x the plain serial pesq+pystoi loop",
    }
    render(report)


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def render(report: dict) -> None:
    """Add the speed-ups to ``report`` and write bench/results/evaluate_speed.json and .md."""
    results = report["results"]
    wall = {k: v["median_s"] for k, v in results.items()}
    cpu = {k: v["median_cpu_s"] for k, v in results.items()}
    pairs = {
        "jobs2_vs_jobs1": ("evaluate_all_jobs1", "evaluate_all_jobs2"),
        "all_metrics_jobs2_vs_loop_pesq_wb_stoi": ("loop_pesq_wb_stoi", "evaluate_all_jobs2"),
        "all_metrics_jobs2_vs_loop_pesq_pystoi_all": ("loop_pesq_pystoi_all", "evaluate_all_jobs2"),
        "pesq_wb_stoi_jobs2_vs_loop_pesq_wb_stoi": ("loop_pesq_wb_stoi", "evaluate_pesq_wb_stoi_jobs2"),
        "all_metrics_jobs2_vs_loop_pesq_wb_stoi_1thread": ("loop_pesq_wb_stoi_1thread", "evaluate_all_jobs2"),
        "all_metrics_jobs2_vs_loop_pesq_pystoi_all_1thread": ("loop_pesq_pystoi_all_1thread", "evaluate_all_jobs2"),
        "pesq_wb_stoi_jobs2_vs_loop_pesq_wb_stoi_1thread": ("loop_pesq_wb_stoi_1thread", "evaluate_pesq_wb_stoi_jobs2"),
    }
    pairs = {k: v for k, v in pairs.items() if v[0] in results and v[1] in results}
    report["speedups_wall"] = {k: wall[a] / wall[b] for k, (a, b) in pairs.items()}
    # Projection for two idle cores: a serial run needs its CPU time, a 2-process run half of it.
    # (The serial loops' CPU time includes OpenBLAS threads spinning, so this flatters evaluate a little.)
    parallel = {"evaluate_all_jobs2", "evaluate_pesq_wb_stoi_jobs2"}
    ideal = {k: cpu[k] / (2 if k in parallel else 1) for k in cpu}
    report["ideal_two_idle_cores_s"] = ideal
    report["speedups_projected_two_idle_cores"] = {k: ideal[a] / ideal[b] for k, (a, b) in pairs.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "evaluate_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# gre evaluate speed",
        "",
        f"`{report['command'].strip()}` — {report['files']} files x {report['seconds_per_file']:g} s, "
        f"median of {report['repeats']} runs, {report['cpu_count']} CPUs shared with other jobs.",
        "",
        "| configuration | median wall s | runs s | median CPU s | 1-min load before→after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        runs = ", ".join(f"{x:.1f}" for x in r["runs_s"])
        loads = ", ".join(f"{a:.1f}→{b:.1f}" for a, b in r["load_1min_before_after"])
        lines.append(f"| {name} | {r['median_s']:.2f} | {runs} | {r['median_cpu_s']:.1f} | {loads} |")
    lines += ["", "| speed-up | measured (wall) | projected, two idle cores |", "| --- | --- | --- |"]
    lines += [f"| {k} | {report['speedups_wall'][k]:.2f} | {report['speedups_projected_two_idle_cores'][k]:.2f} |"
              for k in pairs]
    lines += ["", "The `_1thread` loops run in a child interpreter with one OpenBLAS thread (as evaluate's workers "
              "do): their CPU time has no spinning BLAS threads in it, so their projection is the fair one."]
    lines += ["", "CPU s = user + system time of the process and its workers. Projected = serial CPU s vs "
              "half the 2-process CPU s, i.e. what two otherwise idle cores would give."]
    if report.get("sched_autogroup"):
        lines += ["", "This kernel has sched_autogroup enabled: CPU time is shared fairly between *sessions*, "
                  "so while other sessions keep the cores busy a second worker process of the same session "
                  "gets no extra CPU (compare the CPU s and wall s columns). The measured wall-time speed-ups "
                  "then reflect the share the scheduler grants, not the parallelism."]
    (RESULTS / "evaluate_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
