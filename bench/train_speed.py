"""Training speed on CPU: seconds per optimisation step and peak memory of `gre train`'s step.

Each configuration runs in its own process (so peak RSS is its own): a Trainer on a small
synthetic corpus, one warm-up step, then ``--repeats`` timed steps on one batch; median wall
time and CPU time (user + system of the process) per step, and the process's peak resident
memory (VmHWM). The 2 cores here are shared with other jobs, so wall time depends on the load;
CPU time does not (much): with 1 thread it is the step time on an idle core, and steps/hour
are computed from it. The step is exactly the
trainer's: STFT, network (autocast for bf16), iSTFT, the denoise recipe's generator losses
(0.9 mag + 0.3 pha + 0.1 com + 0.1 con + 0.2 time), backward, AdamW; rows marked "+metric"
add the MetricGAN+ discriminator with its per-step PESQ.

    python bench/train_speed.py                 # the full table (slow: ~1 h on 2 busy cores)
    python bench/train_speed.py --only small-b4-2s-ckpt --repeats 1 --merge

Cases without gradient checkpointing are run only where they fit beside other jobs in 24 GB;
`small` at batch 4 x 2 s without it needs about as much as the authors' code (see the md).

Results: bench/results/train_speed.json and .md. Reference point (issue 5): the authors' own
code takes 27.8 s/step (~130 steps/hour) at 19.8 GB peak for `small`, batch 4 x 2 s, fp32, 2 threads.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
AUTHORS_SMALL_B4_2S = {"s_per_step": 27.8, "peak_gb": 19.8}

#: name -> (config, batch, segment seconds, precision, gradient checkpointing, low-memory malloc, metric disc);
#: a config "masknet:NAME" is that MaskNet config, trained on its target's own loss (the shipped models' recipe).
CASES: dict[str, tuple] = {
    "small-b2-1s-plain": ("small", 2, 1.0, "fp32", False, False, False),
    "small-b2-1s-ckpt": ("small", 2, 1.0, "fp32", True, False, False),
    "small-b2-1s-ckpt-lowmem": ("small", 2, 1.0, "fp32", True, True, False),
    "small-b2-1s-bf16": ("small", 2, 1.0, "bf16", False, False, False),
    "small-b4-2s-ckpt": ("small", 4, 2.0, "fp32", True, False, False),
    "small-b4-2s-ckpt-lowmem": ("small", 4, 2.0, "fp32", True, True, False),
    "small-b4-1s-ckpt": ("small", 4, 1.0, "fp32", True, False, False),
    "small-b8-1s-ckpt": ("small", 8, 1.0, "fp32", True, False, False),
    "standard-b4-2s-ckpt-lowmem": ("standard", 4, 2.0, "fp32", True, True, False),
    "lite-b4-1s-plain": ("lite", 4, 1.0, "fp32", False, False, False),
    "lite-b4-2s-ckpt": ("lite", 4, 2.0, "fp32", True, False, False),
    "lite-b8-1s-ckpt": ("lite", 8, 1.0, "fp32", True, False, False),
    "tiny-b4-2s-plain": ("tiny", 4, 2.0, "fp32", False, False, False),
    # The MaskNets the shipped models are, at their training batch (16 x 2 s), fp32 against bf16 autocast.
    **{f"masknet-{c.replace('_', '-')}-b16-2s-{p}": (f"masknet:{c}", 16, 2.0, p, False, False, False)
       for c in ("psm", "psm_refine", "psm_refine_long", "iam_refine_tf", "iam_refine_tf_long") for p in ("fp32", "bf16")},
}


#: Observations from one-off runs on this machine (printed under the table; not re-measured by the script).
NOTES = [
    "Threads: with the cores oversubscribed (load average ~7), 2 torch threads made every small op wait on an "
    "OpenMP barrier: `small` b1 x 0.5 s forward+backward took 42-107 s wall with 2 "
    "threads vs 4-5 s with 1 thread. Use --threads 1 whenever other jobs share the cores.",
    "torch.compile (inductor, CPU): the first step of `small` b1 x 1 s (compilation) did not finish within 20 min "
    "on the busy machine; not usable here.",
    "bf16 autocast costs more CPU time than fp32 for GRE on this CPU (AMX present): the network is dominated by "
    "small element-wise ops, GRU time steps and casts, not by large matmuls. It does save activation memory. "
    "For the MaskNets it is the other way round (the masknet rows, 2026-11-27, training runs paused): bf16 "
    "makes a step 1.7x (plain MaskNet) to 2.2-2.3x (with refinement stages) faster. Their time goes to "
    "convolutions over the whole time-frequency map, which AMX runs in bf16.",
    "Without --grad-checkpoint, `small` b4 x 2 s would need about 4x the b2 x 1 s peak (~20 GB, like the authors' "
    "19.8 GB); not run here (OOM risk for the other jobs).",
]


def _peak_rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_case(name: str, repeats: int, threads: int) -> dict:
    """Measure one case in this process."""
    import numpy as np
    import soundfile as sf
    import torch

    from models.train import TrainConfig
    from models.train.config import default_losses
    from models.train.loop import Trainer

    config, batch, seconds, precision, ckpt, lowmem, metric = CASES[name]
    tmp = Path(tempfile.mkdtemp(prefix="gre_bench_"))
    rng = np.random.default_rng(0)
    for sub in ("clean", "noise"):
        (tmp / sub).mkdir()
        for i in range(3):
            t = np.arange(int(16000 * (seconds + 1))) / 16000
            x = np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 2 * t) > 0) if sub == "clean" else rng.standard_normal(len(t))
            sf.write(tmp / sub / f"{i}.wav", (0.1 * x + 0.001 * rng.standard_normal(len(t))).astype(np.float32), 16000)
    arch, _, config_name = config.rpartition(":")
    arch = arch or "gre"
    cfg = TrainConfig(task="denoise", clean_dirs=(str(tmp / "clean"),), noise_dirs=(str(tmp / "noise"),),
                      arch=arch, config_name=config_name, batch_size=batch, segment_seconds=seconds,
                      precision=precision, grad_checkpoint=ckpt, low_memory=lowmem, workers=0, threads=threads,
                      losses=default_losses("denoise", metric_disc=metric, arch=arch))
    trainer = Trainer(cfg, tmp / "run", quiet=True)
    items = [trainer.dataset[i] for i in range(batch)]
    x = torch.stack([a for a, _ in items])
    y = torch.stack([b for _, b in items])
    t0 = time.perf_counter()
    trainer.train_step(x, y)  # warm-up (and compilation)
    warmup = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train_step(x, y)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    s, c = statistics.median(times), statistics.median(cpu)
    return {"case": name, "config": config, "batch": batch, "segment_s": seconds, "precision": precision,
            "grad_checkpoint": ckpt, "low_memory": lowmem, "metric_disc": metric, "threads": threads,
            "repeats": repeats, "wall_s_per_step": round(s, 3), "wall_all": [round(t, 3) for t in times],
            "cpu_s_per_step": round(c, 3), "cpu_all": [round(t, 3) for t in cpu], "warmup_wall_s": round(warmup, 2),
            "steps_per_hour": round(3600 / c, 1), "audio_h_per_hour": round(3600 / c * batch * seconds / 3600, 3),
            "peak_gb": round(_peak_rss_gb(), 3)}


def _load_avg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def write_results(rows: list[dict], out: Path, meta: dict | None = None) -> None:
    """``out``: path without suffix; writes out.json and out.md. ``meta``: that of the file being
    re-rendered (its command and machine), else this run's."""
    from models.device import cpu_runs_bf16_natively

    out.parent.mkdir(parents=True, exist_ok=True)
    meta = meta or {"command": "python bench/train_speed.py " + " ".join(sys.argv[1:]),
                    "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
                    "authors_small_b4_2s": AUTHORS_SMALL_B4_2S, "cpu_bf16": cpu_runs_bf16_natively()}
    bf16 = {True: "This CPU has bf16 arithmetic (AVX512-BF16 or AMX). ",
            False: "This CPU has no bf16 arithmetic (no AVX512-BF16 nor AMX): bf16 is emulated. "}.get(meta.get("cpu_bf16"), "")
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    a = AUTHORS_SMALL_B4_2S
    lines = ["# Training step speed on CPU (`bench/train_speed.py`)", "",
             f"Command (last run; `--merge` keeps earlier rows, each row gives its number of timed steps): "
             f"`{meta['command']}`. {meta['cpu_count']} cores shared with other jobs: `load` is the load "
             "average when the row started (above 2 the cores were oversubscribed and wall times are inflated).",
             "Step = the trainer's full generator step (denoise recipe losses: STFT, network, iSTFT, mag+pha+com+con"
             "+time, backward, AdamW; the masknet rows: their target's mask loss, as the shipped MaskNets trained), 1 thread. `cpu s` = CPU time per step (median), i.e. the step time on an "
             "idle core; steps/h and audio h/h (hours of training audio per hour) are computed from it. "
             f"{bf16}"
             "ckpt = --grad-checkpoint (every MPICM and HADF recomputed in backward); lowmem = --low-memory.",
             f"Authors' code, as issue 5 measured it (on that session's machine, a CPU with AMX; `x authors` divides "
             f"its wall time at 2 threads by our CPU time at 1 thread, and is not a measurement of the authors' code on "
             f"this file's machine): small b4x2s fp32, 2 threads: {a['s_per_step']} s/step wall "
             f"(~{3600 / a['s_per_step']:.0f} steps/h) at {a['peak_gb']} GB peak.", "",
             "| case | cpu s/step | steps/h | x authors | audio h/h | peak GB | wall s/step | load | timed steps |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | error: {r['error']} | | | | | | | |")
            continue
        same = r["config"] == "small" and r["batch"] == 4 and r["segment_s"] == 2.0
        speedup = f"{a['s_per_step'] / r['cpu_s_per_step']:.1f}x" if same else ""
        lines.append(f"| {r['case']} | {r['cpu_s_per_step']:.2f} | {r['steps_per_hour']:.0f} | {speedup} | "
                     f"{r['audio_h_per_hour']:.2f} | {r['peak_gb']:.2f} | {r['wall_s_per_step']:.1f} | "
                     f"{r.get('load_avg', float('nan')):.1f} | {r['repeats']} |")
    lines += ["", "Notes:", ""] + [f"- {n}" for n in NOTES]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--merge", action="store_true", help="update rows of an existing results file")
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown from the JSON results")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_speed",
                    help="results path without suffix (.json and .md); another machine's CPU deserves its own file")
    args = ap.parse_args()
    if args.render:
        data = json.loads(args.out.with_suffix(".json").read_text())
        write_results(data["rows"], args.out, meta=data["meta"])
        return
    if args.child:
        print(json.dumps(run_case(args.child, args.repeats, args.threads)))
        return
    names = args.only or list(CASES)
    rows = []
    if args.merge and args.out.with_suffix(".json").is_file():
        rows = [r for r in json.loads(args.out.with_suffix(".json").read_text())["rows"] if r["case"] not in names]
    for name in names:
        load = _load_avg()
        p = subprocess.run([sys.executable, __file__, "--child", name, "--repeats", str(args.repeats),
                            "--threads", str(args.threads)], capture_output=True, text=True)
        if p.returncode != 0:
            row = {"case": name, "error": (p.stderr.strip().splitlines() or ["failed"])[-1][:200]}
        else:
            row = json.loads(p.stdout.strip().splitlines()[-1])
        row["load_avg"] = load
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        order = {n: i for i, n in enumerate(CASES)}
        rows.sort(key=lambda r: order.get(r["case"], 99))
        write_results(rows, args.out)


if __name__ == "__main__":
    main()
