"""Which polarity does a phase-retrieval model put out? Its phase distance to each reference and to
the sign-flipped reference, with both signals' LPC-residual skewness (models.data.polarity).

A magnitude is the same for x and -x, so a model can only learn the polarity of its training
speech. Run on held-out files (never ../shared/eval), this tells which way up the model's
training corpus was, and so which polarity our own phase corpus should be read in.

    gre enhance REFS OUT --task phase --model MODEL --threads 1 --workers 0 --quiet
    python bench/phase_model_polarity.py REFS OUT [--label TEXT] [--out bench/results/phase_model_polarity]
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.data.files import list_audio  # noqa: E402
from models.data.polarity import residual_skewness  # noqa: E402
from models.stft import STFTConfig  # noqa: E402
from models.train.validation import phase_distance_deg  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("refs", type=Path, help="folder of clean references (the model's input magnitudes)")
    ap.add_argument("outputs", type=Path, help="folder of the model's outputs, same file names")
    ap.add_argument("--label", default="", help="what made the outputs (written into the report)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "phase_model_polarity")
    args = ap.parse_args()
    cfg, rows = STFTConfig(), []
    for ref_path in list_audio(args.refs):
        ref, rate = sf.read(ref_path, dtype="float32")
        est, _ = sf.read(args.outputs / ref_path.relative_to(args.refs), dtype="float32")
        n = min(len(ref), len(est))
        ref, est = ref[:n], est[:n]
        rows.append({"file": str(ref_path.relative_to(args.refs)), "ref_skewness": residual_skewness(ref, rate),
                     "out_skewness": residual_skewness(est, rate), "pd_ref": phase_distance_deg(ref, est, cfg),
                     "pd_flipped_ref": phase_distance_deg(-ref, est, cfg)})
    command = shlex.join(["python", "bench/phase_model_polarity.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "label": args.label, "rows": rows},
                                                        indent=1) + "\n")
    closer = sum(r["pd_flipped_ref"] < r["pd_ref"] for r in rows)
    lines = ["# Output polarity of a phase-retrieval model (`bench/phase_model_polarity.py`)", "",
             f"Command: `{command}`.",
             "PD in degrees (the metric of gre_net.md), skewness of the LPC residual of voiced frames.", "",
             "| file | ref skewness | output skewness | PD to ref | PD to -ref |", "|---|---|---|---|---|"]
    lines += [f"| {r['file']} | {r['ref_skewness']:+.2f} | {r['out_skewness']:+.2f} | {r['pd_ref']:.1f} | "
              f"{r['pd_flipped_ref']:.1f} |" for r in rows]
    lines += ["", f"The output is closer to the sign-flipped reference in {closer} of {len(rows)} files; median PD "
              f"{np.median([r['pd_ref'] for r in rows]):.1f} to the reference, "
              f"{np.median([r['pd_flipped_ref'] for r in rows]):.1f} to its flip."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
