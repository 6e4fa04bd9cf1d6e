"""Real-time factor of whole-signal enhancement, several models side by side in one process.

Each model enhances the same 10 s signal (speech-like harmonics in white noise, 16 kHz) through
`models.api.enhance` (STFT, network, inverse STFT) after one warm-up call; the models are timed in
alternation round by round, so background load hits them alike, and the median of ``--repeats``
rounds is reported. RTF = wall seconds per audio second (lower is faster).

    python bench/model_rtf.py --models masknet-psm-denoise-v2 masknet-psm-refine-denoise --threads 1 2

A model is a registry name or a checkpoint file, ``label=model`` names its row. Writes --out (.md and .json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import api  # noqa: E402

RATE = 16000


def test_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """[N] float32: a 150 Hz harmonic complex switching on and off, plus white noise at about 5 dB SNR."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * k * 150 * t) / k for k in range(1, 25)) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    noise = rng.standard_normal(t.size) * np.sqrt(np.mean(voice ** 2) / 10 ** 0.5)
    return (0.05 * (voice + noise)).astype(np.float32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--threads", nargs="+", type=int, default=[1])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "model_rtf")
    args = p.parse_args()

    wave = test_signal(args.seconds)
    models = {}
    for item in args.models:
        label, _, source = item.rpartition("=") if "=" in item else (item, "", item)
        models[label] = api.load_model(source, device="cpu")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for model in models.values():  # warm-up
            api.enhance(wave, RATE, model)
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.repeats):
            for name, model in models.items():
                start = time.perf_counter()
                api.enhance(wave, RATE, model)
                times[name].append(time.perf_counter() - start)
        for name, ts in times.items():
            median = statistics.median(ts)
            rows.append({"model": name, "threads": threads, "median_s": median, "rtf": median / args.seconds,
                         "runs_s": ts})
    load = os.getloadavg()[0]
    command = "python bench/model_rtf.py " + " ".join(sys.argv[1:])
    lines = ["# Whole-signal enhancement speed, models side by side (`bench/model_rtf.py`)", "",
             f"Command: `{command}`; {time.strftime('%Y-%m-%d %H:%M')}; {platform.machine()}, {os.cpu_count()} CPUs, "
             f"torch {torch.__version__}; 1-minute load average at the end {load:.2f}. One {args.seconds:g} s signal, "
             f"`models.api.enhance` (STFT + network + inverse STFT), median of {args.repeats} alternating rounds "
             "after a warm-up.", "",
             "| model | threads | median s | RTF |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['model']}` | {r['threads']} | {r['median_s']:.3f} | {r['rtf']:.4f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "load_end": load, "rows": rows}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
