"""How long the metric critic's PESQ scoring takes per training step, in the training process and in pools.

`gre train --pesq-workers N` scores the critic's targets (each crop's output, and its degraded input with
`--metric-disc-degraded`) in N processes instead of the training process, with identical results
(tests/test_losses_core.py). This script times one step's worth of scoring side by side:

    python bench/pesq_pool_speed.py --clean C/speech/heldout [--rows 32] [--workers 0 1 2] [--repeats 7] \
        [--out bench/results/pesq_pool_speed]

Rows: 2 s crops of held-out speech (the first 2 s of the first ``--rows`` WAV files of at least 2 s, in sorted order), each scored
against itself plus white noise at 5 dB SNR, as a noisy training crop is. Each setting scores all rows
``--repeats`` times after one warm-up call (which starts the pool); the median wall time is reported.
Writes OUT.md and OUT.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.data.files import read_mono  # noqa: E402
from models.metrics.pesq_batch import PesqBatch  # noqa: E402

RATE, CROP_SECONDS, SNR_DB = 16_000, 2.0, 5.0


def crops(clean_dir: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """([rows, N] clean crops, [rows, N] the same with white noise at SNR_DB)."""
    n = int(CROP_SECONDS * RATE)
    rows_read = []
    for path in sorted(Path(clean_dir).rglob("*.wav")):
        if sf.info(str(path)).duration >= CROP_SECONDS:
            rows_read.append(read_mono(path, RATE)[:n])
        if len(rows_read) == rows:
            break
    clean = np.stack(rows_read).astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(clean.shape).astype(np.float32)
    gain = np.sqrt((clean ** 2).mean(1, keepdims=True) / (noise ** 2).mean(1, keepdims=True) / 10 ** (SNR_DB / 10))
    return clean, clean + gain * noise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean", required=True)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="bench/results/pesq_pool_speed")
    args = ap.parse_args()
    clean, noisy = crops(args.clean, args.rows)
    results, reference = [], None
    for workers in args.workers:
        with PesqBatch(RATE, workers) as scorer:
            scores = scorer(clean, noisy)  # warm-up: starts the pool
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                scorer(clean, noisy)
                times.append(time.perf_counter() - t0)
        reference = scores if reference is None else reference
        same = bool(np.array_equal(np.nan_to_num(scores), np.nan_to_num(reference)))
        results.append({"workers": workers, "median_s": float(np.median(times)), "times_s": times,
                         "same_scores_as_first": same, "mean_pesq": float(np.nanmean(scores))})
        print(f"workers {workers}: median {np.median(times) * 1e3:.0f} ms for {len(clean)} rows, same scores: {same}")
    base = results[0]["median_s"]
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = [f"# PESQ-WB of one critic step's crops ({len(clean)} x {CROP_SECONDS:g} s), by `--pesq-workers`", "",
             f"`{command}`", "", f"Machine: {os.cpu_count()} logical CPUs. Median of {args.repeats} calls after a warm-up.",
             "", f"| --pesq-workers | median wall time | per row | speed-up vs {args.workers[0]} | same scores |",
             "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['workers']} | {r['median_s'] * 1e3:.0f} ms | {r['median_s'] / len(clean) * 1e3:.1f} ms | "
                     f"{base / r['median_s']:.2f}x | {'yes' if r['same_scores_as_first'] else 'NO'} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": len(clean), "results": results},
                                                   indent=2) + "\n")
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
