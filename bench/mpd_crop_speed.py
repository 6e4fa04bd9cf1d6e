"""CPU time of one phase-recipe training step, by what the multi-period discriminator judges.

`gre train --mpd-crop-seconds S` lets the MPD judge one random S-second window of each waveform instead of the
whole segment (0, the authors'). This script times the trainer's full step (the MPD's own step on real and
output waveforms, then the generator step with the weighted omnidirectional phase loss, feature matching and
hinge terms) side by side for each setting, plus the same step without the MPD:

    python bench/mpd_crop_speed.py [--crops 0 0.5] [--arch masknet --config phase_refine_tf] \
        [--batch-size 4] [--segment-seconds 2] [--repeats 3] [--out bench/results/mpd_crop_speed]

One process, 1 thread, fp32; the settings alternate round by round (so background load hits them alike) on
one fixed random batch; the median of ``--repeats`` rounds of process CPU time is reported (the step time on an
idle core). The trainers need a corpus folder to start: a temporary one of two noise files, each a second
longer than the segment.
Writes OUT.md and OUT.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.train.config import TrainConfig, default_losses  # noqa: E402
from models.train.loop import Trainer  # noqa: E402

RATE = 16_000


def trainer(corpus: Path, run: Path, args, crop: float | None) -> Trainer:
    """A phase-recipe trainer; ``crop`` None = without the MPD."""
    cfg = TrainConfig(task="phase", clean_dirs=(str(corpus),), arch=args.arch, config_name=args.config,
                      batch_size=args.batch_size, segment_seconds=args.segment_seconds, threads=1, workers=0,
                      steps=10, grad_clip=5.0, canonical_polarity=False,
                      losses=default_losses("phase", None, crop is not None, arch=args.arch),
                      mpd_crop_seconds=crop or 0.0)
    return Trainer(cfg, run, quiet=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crops", type=float, nargs="+", default=[0.0, 0.5])
    ap.add_argument("--arch", default="masknet")
    ap.add_argument("--config", default="phase_refine_tf")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--segment-seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results/mpd_crop_speed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = int(round(args.segment_seconds * RATE))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "clean"
        corpus.mkdir()
        for i in range(2):
            sf.write(corpus / f"{i}.wav", 0.05 * rng.standard_normal(n + RATE).astype(np.float32), RATE)
        settings = {f"MPD, {c:g} s windows" if c else "MPD, whole segment": c for c in args.crops}
        settings["no MPD (--no-mpd)"] = None
        trainers = {name: trainer(corpus, Path(tmp) / f"run{i}", args, crop)
                    for i, (name, crop) in enumerate(settings.items())}
        x = torch.from_numpy(0.05 * rng.standard_normal((args.batch_size, n)).astype(np.float32))
        y = torch.from_numpy(0.05 * rng.standard_normal((args.batch_size, n)).astype(np.float32))
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for _ in range(args.repeats):
            for name, t in trainers.items():
                t0 = time.process_time()
                t.train_step(x, y)
                times[name].append(time.process_time() - t0)
    base = float(np.median(times[next(iter(times))]))
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    load = os.getloadavg()[0]
    lines = [f"# CPU time of one phase-recipe step by what the MPD judges ({args.arch} {args.config}, "
             f"batch {args.batch_size} x {args.segment_seconds:g} s, fp32, 1 thread)", "",
             f"`{command}`; {time.strftime('%Y-%m-%d %H:%M')}; torch {torch.__version__}; 1-minute load average at "
             f"the end {load:.1f}. Process CPU seconds per step, median of {args.repeats} alternating rounds.", "",
             "| setting | CPU s per step | rounds | vs first |", "|---|---|---|---|"]
    for name, v in times.items():
        med = float(np.median(v))
        lines.append(f"| {name} | {med:.1f} | {', '.join(f'{e:.1f}' for e in v)} | {med / base:.2f} |")
        print(f"{name}: median {med:.1f} CPU s per step")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"command": command, "times_cpu_s": times}, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
