"""Which shipped model does best on each case of the universal mixture? (A ceiling for routing by case.)

The universal default is one model for six kinds of input (gre_net.md section 4: noise, reverb, band limit, and
three mixtures). The specialists (denoise, dereverb, bwe) are better at their own task on their own sets. This
script draws universal pairs from corpus folders exactly as `bench/heldout_compare.py --task universal` does,
runs every candidate system on every pair (the Python API, whole files), and tabulates PESQ-WB per case and
system. The "case oracle" row picks, for each case, the system that is best on average over a *design* split;
run it on a training split to choose the table and on the held-out split to score it.

    python bench/universal_case_probe.py --clean C/speech/train --noise C/noise/train --rir C/rir/train \
        --files 120 --seed 7 --out bench/results/universal_case_probe_train
    python bench/universal_case_probe.py --clean C/speech/heldout --noise C/noise/heldout --rir C/rir/heldout \
        --files 120 --route-from bench/results/universal_case_probe_train.json --out bench/results/universal_case_probe_heldout

Writes --out .md and .json (per-file scores too).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import api  # noqa: E402
from models.data.degrade import UNIVERSAL_CASES, DegradeConfig  # noqa: E402
from models.evaluate import mean_ci95  # noqa: E402
from models.metrics.base import MetricError  # noqa: E402
from models.metrics.pesq_metrics import pesq_score  # noqa: E402
from models.shipping.heldout import HELDOUT_SEED, HeldoutSpec, heldout_items  # noqa: E402

DN, DR, BWE = "masknet-psm-refine-augment-v2-denoise", "masknet-iam-refine-tf-metric-v3-dereverb", "masknet-map-bwe"
SYSTEMS = {
    "universal": "universal-v2-then-bwe",
    "denoise+bwe": f"{DN}+{BWE}",
    "dereverb+bwe": f"{DR}+{BWE}",
    "dereverb+denoise+bwe": f"{DR}+{DN}+{BWE}",
    "bwe": BWE,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clean", nargs="+", required=True)
    p.add_argument("--noise", nargs="+", required=True)
    p.add_argument("--rir", nargs="+", required=True)
    p.add_argument("--files", type=int, default=120)
    p.add_argument("--seed", type=int, default=HELDOUT_SEED, help="degradation seed (default: the held-out one)")
    p.add_argument("--route-from", type=Path, default=None, help="a design run's .json: score its case table here")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    spec = HeldoutSpec(tuple(args.clean), tuple(args.noise), tuple(args.rir), files=args.files, seed=args.seed)
    models = {name: api.load_model(spec_) for name, spec_ in SYSTEMS.items()}
    rows, skipped = [], []
    items, why = heldout_items(spec, "universal", DegradeConfig())
    if items is None:
        sys.exit(why)
    rate = DegradeConfig().sample_rate_hz
    for k, item in enumerate(items):
        name = f"{k:03d}_{Path(item.name).stem}.wav"  # as bench/heldout_compare.py's files are named
        x, y = item.input, item.target
        try:  # PESQ cannot score a clip it finds no speech in: such a pair is left out, and counted
            row = {"file": name, "case": item.case, "input": pesq_score(y, x, rate, "wb")}
            for system, model in models.items():
                row[system] = pesq_score(y, api.enhance(x, rate, model), rate, "wb")
        except MetricError as err:
            skipped.append(f"{name}: {err}")
            continue
        rows.append(row)
        print(json.dumps(row), flush=True)
    design = (json.loads(args.route_from.read_text())["best_by_case"] if args.route_from
              else {c: max(SYSTEMS, key=lambda s: np.mean([r[s] for r in rows if r["case"] == c] or [0])) for c in UNIVERSAL_CASES})
    for r in rows:
        r["case oracle"] = r[design[r["case"]]]
    names = ["input", *SYSTEMS, "case oracle"]
    command = "python bench/universal_case_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "best_by_case": design, "rows": rows,
              "skipped": skipped}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# PESQ-WB per universal case and system (`bench/universal_case_probe.py`)", "",
             f"Command: `{command}`; {result['date']}. Pairs drawn as `bench/heldout_compare.py --task universal` "
             f"draws them (seed {args.seed}), each system run whole-file through the Python API. Means ± 95 % CI; "
             "`case oracle` takes, per case, the system named in the last row"
             + (f" (chosen on `{args.route_from}`)." if args.route_from else " (chosen on these pairs)."), "",
             "| case | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for case in [*UNIVERSAL_CASES, "all"]:
        sel = [r for r in rows if case == "all" or r["case"] == case]
        cells = []
        for n in names:
            m, ci = mean_ci95([r[n] for r in sel])
            cells.append("-" if m is None else f"{m:.3f} ± {ci or 0:.3f}")
        lines.append(f"| {case} | {len(sel)} | " + " | ".join(cells) + " |")
    lines.append("| best system per case | | " + "; ".join(f"{c}: {s}" for c, s in design.items()) + " |" + " |" * (len(names) - 1))
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
