"""Ceilings of the mask targets on held-out corpus pairs: each ideal mask applied to the degraded input.

A trained mask network can at best reach its target's ideal mask, so this says which target a task
can use before spending CPU hours on it. The pairs are those of `bench/heldout_compare.py` (the
same seed, files and degradation defaults), the "noise" of a pair is everything that is not the
target (input - target: additive noise, the reverberant tail, or both), and every output is scored
by `gre evaluate`'s scorer. Oracle outputs are a diagnosis, not a model: they use the clean target.

    python bench/oracle_masks_heldout.py --tasks denoise dereverb universal \
        --heldout-clean C/speech/heldout --heldout-noise C/noise/heldout --heldout-rir C/rir/heldout \
        --out bench/results/oracle_masks_heldout

Writes --out (.md and .json).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.config import STFTConfig  # noqa: E402
from models.data.degrade import DegradeConfig  # noqa: E402
from models.evaluate import evaluate  # noqa: E402
from models.masks import MASK_KINDS, oracle_waveform  # noqa: E402
from models.shipping.card import cell  # noqa: E402
from models.shipping.heldout import HeldoutSpec, build_heldout_set  # noqa: E402

METRICS = ("pesq_wb", "stoi", "si_sdr")


def write_oracle(kind: str, degraded_dir: Path, clean_dir: Path, out_dir: Path, cfg: STFTConfig) -> None:
    """Apply the ideal mask ``kind`` of every pair to its degraded file; same names, 32-bit float."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(degraded_dir.glob("*.wav")):
        y, rate = sf.read(path, dtype="float32")
        s, _ = sf.read(clean_dir / path.name, dtype="float32")
        n = min(len(y), len(s))
        est = oracle_waveform(kind, torch.from_numpy(y[:n]), torch.from_numpy(s[:n]), cfg)
        sf.write(out_dir / path.name, est.numpy(), rate, subtype="FLOAT")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=["denoise", "dereverb", "universal"],
                   choices=("denoise", "dereverb", "universal"))
    p.add_argument("--masks", nargs="+", default=list(MASK_KINDS), choices=MASK_KINDS)
    p.add_argument("--heldout-clean", nargs="+", required=True)
    p.add_argument("--heldout-noise", nargs="+", default=())
    p.add_argument("--heldout-rir", nargs="+", default=())
    p.add_argument("--files", type=int, default=24)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.md and .json)")
    args = p.parse_args(argv)
    spec = HeldoutSpec(tuple(args.heldout_clean), tuple(args.heldout_noise), tuple(args.heldout_rir), files=args.files)
    cfg = STFTConfig()
    scores: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            evs, why = build_heldout_set(spec, task, DegradeConfig(), Path(tmp))
            if evs is None:
                sys.exit(why)
            est_dirs = [evs.input_dir]
            for kind in args.masks:
                est_dirs.append(Path(tmp) / "oracle" / task / kind)
                write_oracle(kind, evs.input_dir, evs.reference_dir, est_dirs[-1], cfg)
            res = evaluate(evs.reference_dir, est_dirs, metrics=",".join(METRICS), jobs=args.jobs)
            for name, est in zip(["input"] + list(args.masks), est_dirs):
                s = res.systems[est.name]
                scores.setdefault(task, {})[name] = {"n": s.n, "failed": s.failed, "mean": s.mean, "ci95": s.ci95}
    command = "python bench/oracle_masks_heldout.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "files": args.files, "scores": scores}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Ideal-mask ceilings on held-out pairs (`bench/oracle_masks_heldout.py`)", "",
             f"Command: `{command}`; {result['date']}. {args.files} held-out pairs per task, drawn as in "
             "`bench/heldout_compare.py` (SNR -5..15 dB where noise is added); each ideal mask computed from the "
             "clean target and applied to the degraded input. Means ± 95 % CI. A network trained on a target "
             "can at best reach its row.", ""]
    for task, rows in scores.items():
        lines += [f"## {task}", "", "| system | PESQ-WB | STOI | SI-SDR [dB] | failed |", "|---|---|---|---|---|"]
        for name, s in rows.items():
            label = name if name == "input" else f"ideal {name.upper()}"
            lines.append(f"| {label} | " + " | ".join(cell(s["mean"].get(m), s["ci95"].get(m), m) for m in METRICS)
                         + f" | {s['failed']} |")
        lines.append("")
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
