"""A/B timing of the GRE fast-path steps, side by side in one process.

    python bench/fast_path.py --variants "ref;hadf;hadf,gru_threads" [--configs small,standard]
        [--precisions fp32,bf16] [--threads 1] [--seconds 4] [--repeats 3] [--note "..."]

Each variant is a set of fast-path features (models/nets/fast_path.FEATURES; "ref" = none).
Variants are timed in alternation (round robin, ``--repeats`` rounds) on the same input, so a
changing background load hits all of them alike; the median per variant is reported together
with its ratio to the first variant, the largest output difference from the first variant and
the load average. The markdown table is appended to bench/results/fast_path.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import stft as S  # noqa: E402
from models.config import STFTConfig, gre_config  # noqa: E402
from models.device import autocast  # noqa: E402
from models.nets import fast_path  # noqa: E402
from models.nets.gre import GRENet  # noqa: E402

RESULTS = REPO / "bench" / "results" / "fast_path.md"


def parse_variant(text: str) -> tuple[str, ...]:
    text = text.strip()
    return () if text in ("", "ref") else tuple(t.strip() for t in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", required=True, help='";"-separated feature sets, e.g. "ref;hadf"')
    parser.add_argument("--configs", default="small,standard")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="", help="what the compared step is (goes into the results file)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = [parse_variant(v) for v in args.variants.split(";")]
    names = ["+".join(v) or "ref" for v in variants]
    cfg = STFTConfig()
    torch.manual_seed(0)
    mag, phase = S.analyse(torch.randn(1, int(args.seconds * cfg.sample_rate_hz)) * 0.1, cfg)
    load0 = os.getloadavg()[0]
    lines = [f"### {args.note or ' vs '.join(names)}", "",
             f"`python bench/fast_path.py {' '.join(repr(a) if ' ' in a or ';' in a else a for a in sys.argv[1:])}`; "
             f"{args.threads} thread(s), {args.seconds:g} s input, median of {args.repeats} alternating rounds; "
             "wall seconds (process CPU seconds in brackets).", "",
             "| config | precision | " + " | ".join(f"{n} s" for n in names) + " | "
             + " | ".join(f"{n} / {names[0]}" for n in names[1:]) + " | max rel diff vs first | load |",
             "|---|---|" + "---|" * (2 * len(names) - 1) + "---|---|"]
    for name in args.configs.split(","):
        torch.manual_seed(0)
        net = GRENet(gre_config(name)).eval()
        for precision in args.precisions.split(","):
            times = [[] for _ in variants]
            cpu = [[] for _ in variants]
            outs = []
            with torch.inference_mode(), autocast(precision, torch.device("cpu")):
                for v in variants:  # warm-up, and the outputs to compare
                    with fast_path.only(*v):
                        net(mag[..., :40], phase[..., :40])
                        outs.append(net(mag, phase))
                for _ in range(args.repeats):
                    for i, v in enumerate(variants):
                        with fast_path.only(*v):
                            start, cpu_start = time.perf_counter(), time.process_time()
                            net(mag, phase)
                            times[i].append(time.perf_counter() - start)
                            cpu[i].append(time.process_time() - cpu_start)
            med = [statistics.median(t) for t in times]
            med_cpu = [statistics.median(t) for t in cpu]
            def spectrum(o):
                return torch.polar(o[0].float(), o[1].float())
            ref_spec = spectrum(outs[0])
            diff = max((spectrum(o) - ref_spec).abs().max().item() for o in outs) / ref_spec.abs().max().item()
            load = os.getloadavg()[0]
            row = (f"| {name} | {precision} | " + " | ".join(f"{m:.2f} ({c:.2f})" for m, c in zip(med, med_cpu)) + " | "
                   + " | ".join(f"{m / med[0]:.2f} ({c / med_cpu[0]:.2f})" for m, c in zip(med[1:], med_cpu[1:]))
                   + f" | {diff:.1e} | {load:.1f} |")
            print(row, flush=True)
            lines.append(row)
    lines += ["", f"Load average at start {load0:.2f}. Max rel diff: largest |Δ| of the complex compressed "
              "output M·e^{jφ} against the first variant (same precision), relative to the largest |M|.", ""]
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        if not RESULTS.exists():
            RESULTS.write_text("# GRE CPU fast path: step-by-step A/B timings\n\n"
                               "Every table is one process: the variants are timed in alternation on the same "
                               "random input (untrained network, `GRENet(gre_config(name))`), so background "
                               "load hits them alike. The machine's 2 cores are shared with two training "
                               "processes, so absolute seconds are inflated; the ratios are the result.\n\n")
        with RESULTS.open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
