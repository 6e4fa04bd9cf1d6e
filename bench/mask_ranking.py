"""Does the classic mask-target ranking ORM > PSM > cIRM > IRM > IAM > IBM (our seed review) hold here?

Two views, on the real noisy/clean pairs of ../shared/eval (`vbd` and `dns`, evaluation only):

1. Oracle: each ideal mask computed from the true clean speech and noise (noise = noisy - clean;
   both sets are additive mixtures), applied to the noisy STFT. No training; the ceiling of each target.
2. Trained: one MaskNet per target (`gre train --task denoise --arch masknet --config <target>`),
   all with the same network, corpus, seed (same crops, same noises, same SNRs), steps, batch and
   wall-clock cap, each trained with its target's loss (MaskNet.mask_loss; needs the trainer hook,
   checked before training). Then scored on the same files.

Scores: PESQ-WB, STOI, SI-SDR (mean over the files of each set); the ranking is by PESQ-WB, with
Kendall's tau against the review's order. Noisy input and the Wiener denoiser are listed for scale.

    python bench/mask_ranking.py --oracle-only                       # seconds
    python bench/mask_ranking.py --steps 4000 --budget-hours 1       # per target; resumable
    python bench/mask_ranking.py --smoke                             # 3 steps per target, temp folder

Writes bench/results/mask_ranking.json and .md (or --results-dir) and prints the markdown.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from budgeted_training import gre_executable, train_logs, train_within_budget, used_wall_s

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SETS = ("vbd", "dns")
REVIEW_ORDER = ("orm", "psm", "cirm", "irm", "iam", "ibm")  # best first


# ------------------------------------------------------------------------------------------- data


def load_pairs(eval_dir: Path, name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(file name, noisy [N], clean [N])] of one evaluation set, 16 kHz float32."""
    import soundfile as sf

    pairs = []
    clean_dir, noisy_dir = eval_dir / name / "clean", eval_dir / name / "noisy"
    for path in sorted(clean_dir.glob("*.wav")):
        clean, r1 = sf.read(path, dtype="float32")
        noisy, r2 = sf.read(noisy_dir / path.name, dtype="float32")
        if r1 != 16_000 or r2 != 16_000 or clean.shape != noisy.shape:
            sys.exit(f"{path}: expected 16 kHz mono pairs of equal length in {clean_dir} and {noisy_dir}")
        pairs.append((path.name, noisy, clean))
    if not pairs:
        sys.exit(f"mask_ranking: no clean/noisy pairs under {eval_dir / name}; pass --eval-dir (../shared/eval)")
    return pairs


def metrics(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    from pystoi import stoi

    from models.metrics.pesq_metrics import pesq_score
    from models.metrics.sdr import si_sdr

    return {"pesq": pesq_score(ref, est, 16_000, "wb"), "stoi": float(stoi(ref, est, 16_000, extended=False)),
            "sisdr": si_sdr(ref, est)}


def mean_scores(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(rows.values())).keys()
    return {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}


def score_system(enhance, pairs) -> dict:
    """``enhance(noisy [N], clean [N]) -> est [N]`` over the pairs -> {"files": ..., "mean": ...}."""
    rows = {name: metrics(clean, enhance(noisy, clean)) for name, noisy, clean in pairs}
    return {"files": rows, "mean": mean_scores(rows)}


def oracle_enhancer(kind: str):
    import torch

    from models.config import STFTConfig
    from models.masks import oracle_waveform

    cfg = STFTConfig()

    def run(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:
        return oracle_waveform(kind, torch.from_numpy(noisy)[None], torch.from_numpy(clean)[None], cfg)[0].numpy()

    return run


def model_enhancer(model):
    import torch

    def run(noisy: np.ndarray, clean: np.ndarray) -> np.ndarray:  # noqa: ARG001 - blind
        with torch.no_grad():
            return model(torch.from_numpy(noisy)[None])[0].numpy().astype(np.float32)

    return run


# --------------------------------------------------------------------------------------- training


def trainer_has_mask_hook() -> bool:
    """Whether `gre train` trains a MaskNet with its target's loss (MaskNet.mask_loss)."""
    import models.train.loop as loop

    return "mask_loss" in Path(loop.__file__).read_text()


def train_target(target: str, args: argparse.Namespace, run_dir: Path) -> None:
    cmd = [gre_executable(), "train", "--task", "denoise", "--arch", "masknet", "--config", args.config_prefix + target,
           "--run-dir", str(run_dir), "--steps", str(args.steps), "--batch-size", str(args.batch_size),
           "--segment-seconds", str(args.segment_seconds), "--seed", str(args.seed), "--workers", str(args.workers),
           "--threads", str(args.threads), "--val-every", str(args.val_every), "--ckpt-every", str(args.ckpt_every),
           "--log-every", "10", "--no-metric-disc", "--no-mpd"]
    for flag, dirs in (("--clean", args.clean), ("--noise", args.noise), ("--val-clean", args.val_clean),
                       ("--val-noise", args.val_noise)):
        for d in dirs:
            cmd += [flag, str(d)]
    train_within_budget(target, cmd, run_dir, args.steps, args.budget_hours)


# ---------------------------------------------------------------------------------------- ranking


def kendall_tau(order: list[str], reference: tuple[str, ...]) -> float:
    """Kendall's tau between two orderings of the same items (1 = identical, -1 = reversed)."""
    pos = {k: i for i, k in enumerate(order)}
    items = [k for k in reference if k in pos]
    concordant = discordant = 0
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if pos[items[i]] < pos[items[j]]:
                concordant += 1
            else:
                discordant += 1
    total = concordant + discordant
    return (concordant - discordant) / total if total else float("nan")


def ranking(systems: dict[str, dict], set_name: str, metric: str = "pesq") -> list[str]:
    return sorted(systems, key=lambda k: -systems[k][set_name]["mean"][metric])


def markdown(result: dict) -> str:
    lines = ["# Mask-target ranking on real noisy speech", "",
             f"Command: `{result['command']}`  ", f"Date: {result['date']}; machine: {result['machine']}", "",
             f"Review order (best first): {' > '.join(t.upper() for t in REVIEW_ORDER)}. Sets: "
             + ", ".join(f"`{s}` ({len(result['files'][s])} files)" for s in SETS)
             + " from ../shared/eval (evaluation only). Ranked by PESQ-WB.", ""]
    for view in ("oracle", "trained"):
        systems = result.get(view)
        if not systems:
            continue
        if view == "oracle":
            lines.append("## Oracle masks (ideal mask from the true clean speech and noise)")
        else:
            b = result["budget"]
            lines.append(f"## Trained MaskNets ({b['params']} params each, cIRM {b['params_cirm']}; at most "
                         f"{b['steps']} steps and {b['budget_hours']} h each, batch {b['batch_size']}, "
                         f"{b['segment_seconds']} s crops, seed {b['seed']}, loss = the target's own)")
        lines += ["", "| target | " + " | ".join(f"{s} PESQ | {s} STOI | {s} SI-SDR" for s in SETS)
                  + (" | steps |" if view == "trained" else " |"),
                  "|---|" + "---:|" * (3 * len(SETS) + (1 if view == "trained" else 0))]
        refs = result["references"]
        rows = list(systems.items()) + [(k, v) for k, v in refs.items()]
        for key, sys_ in rows:
            cells = []
            for s in SETS:
                m = sys_[s]["mean"]
                cells += [f"{m['pesq']:.3f}", f"{m['stoi']:.3f}", f"{m['sisdr']:.2f}"]
            extra = f" | {sys_.get('steps', '–')}" if view == "trained" else ""
            lines.append(f"| {key.upper() if key in systems else key} | " + " | ".join(cells) + extra + " |")
        lines.append("")
        for s in SETS:
            order = result["rankings"][view][s]
            lines.append(f"- `{s}`: {' > '.join(t.upper() for t in order)} (Kendall tau vs review "
                         f"{result['kendall_tau'][view][s]:+.2f})")
        lines.append("")
    if result.get("note"):
        lines += [result["note"], ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    corpus = Path("/work/data/gre-corpus")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clean", type=Path, nargs="+", default=[corpus / "speech" / "train"])
    p.add_argument("--noise", type=Path, nargs="+", default=[corpus / "noise" / "train"])
    p.add_argument("--val-clean", type=Path, nargs="*", default=[corpus / "speech" / "heldout"])
    p.add_argument("--val-noise", type=Path, nargs="*", default=[corpus / "noise" / "heldout"])
    p.add_argument("--eval-dir", type=Path, default=SHARED / "eval")
    p.add_argument("--runs", type=Path, default=REPO / "runs" / "mask_ranking")
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--targets", nargs="+", default=list(REVIEW_ORDER), choices=REVIEW_ORDER)
    p.add_argument("--config-prefix", default="", help="named-config prefix, e.g. 'tiny_' for a quick check")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--budget-hours", type=float, default=1.0, help="wall-clock cap per target")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--segment-seconds", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch threads per training process")
    p.add_argument("--parallel", type=int, default=1,
                   help="targets trained at the same time (e.g. 2 with --threads 1 on a 2-core machine)")
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--oracle-only", action="store_true", help="only the ideal masks (no training)")
    p.add_argument("--eval-only", action="store_true", help="score existing runs, train nothing")
    p.add_argument("--smoke", action="store_true", help="3 steps per target, tiny nets; runs and results in a temp folder")
    args = p.parse_args(argv)
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gre_masks_smoke_"))
        args.steps, args.batch_size, args.segment_seconds, args.budget_hours = 3, 2, 0.5, 0.25
        args.val_every, args.ckpt_every, args.workers, args.config_prefix = 3, 3, 0, "tiny_"
        args.runs, args.results_dir = tmp / "runs", tmp / "results"
    if not (args.oracle_only or args.eval_only):
        for d in list(args.clean) + list(args.noise) + list(args.val_clean) + list(args.val_noise):
            if not d.is_dir():
                p.error(f"{d} is not a folder (build the corpus with recipes/debian/build_corpus.sh, or pass the folders)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch

    from models.classical import CLASSICAL_MODELS

    pairs = {s: load_pairs(args.eval_dir, s) for s in SETS}
    references = {
        "noisy": {s: score_system(lambda n, c: n, pairs[s]) for s in SETS},
        "wiener": {s: score_system(model_enhancer(CLASSICAL_MODELS["wiener"]()), pairs[s]) for s in SETS},
    }
    oracle = {t: {s: score_system(oracle_enhancer(t), pairs[s]) for s in SETS} for t in args.targets}
    result: dict = {
        "command": "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO))
                                         if Path(sys.argv[0]).resolve().is_relative_to(REPO) else sys.argv[0]]
                                        + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, --threads {args.threads}, "
                   f"{args.parallel} target(s) trained at a time",
        "files": {s: [name for name, _, _ in pairs[s]] for s in SETS},
        "references": references, "oracle": oracle,
    }
    if not args.oracle_only:
        if not args.eval_only:
            if not trainer_has_mask_hook() and args.smoke:
                result["note"] = ("SMOKE RUN WITHOUT THE TRAINER HOOK: the nets were trained with the generic denoising "
                                  "recipe, not their targets' losses; this only checks the plumbing.")
            elif not trainer_has_mask_hook():
                sys.exit("mask_ranking: `gre train` does not call MaskNet.mask_loss yet, so the nets would be trained "
                         "with the generic denoising recipe instead of their targets' losses; see the hook described "
                         "in models/nets/masknet.py. Run with --oracle-only meanwhile.")
            if args.parallel > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(args.parallel) as pool:  # each thread only waits on its subprocess
                    for f in [pool.submit(train_target, t, args, args.runs / t) for t in args.targets]:
                        f.result()
            else:
                for t in args.targets:
                    train_target(t, args, args.runs / t)
        from models.api import load_model

        trained = {}
        for t in args.targets:
            ckpt = args.runs / t / "model.safetensors"
            if not ckpt.is_file():
                sys.exit(f"mask_ranking: {ckpt} missing; train first (without --eval-only)")
            model = load_model(ckpt)
            step, rate, comps = train_logs(args.runs / t)
            trained[t] = {s: score_system(model_enhancer(model), pairs[s]) for s in SETS}
            trained[t].update({"steps": step, "median_steps_per_s": rate, "loss_components": comps,
                               "wall_hours": used_wall_s(args.runs / t) / 3600})
            if comps and "mask" not in comps:
                result["note"] = (result.get("note", "") + f" WARNING: the {t} run logged {comps}, not a 'mask' "
                                  "loss: it was not trained with its target's loss.").strip()
        nets = {t: load_model(args.runs / t / "model.safetensors").network for t in args.targets}
        counts = {t: sum(p.numel() for p in n.parameters()) for t, n in nets.items()}
        result["trained"] = trained
        result["budget"] = {"steps": args.steps, "budget_hours": args.budget_hours, "batch_size": args.batch_size,
                            "segment_seconds": args.segment_seconds, "seed": args.seed,
                            "params": next((v for k, v in counts.items() if k != "cirm"), None),
                            "params_cirm": counts.get("cirm"), "config_prefix": args.config_prefix,
                            "clean": [str(d) for d in args.clean], "noise": [str(d) for d in args.noise]}
    views = [v for v in ("oracle", "trained") if v in result]
    result["rankings"] = {v: {s: ranking({t: result[v][t] for t in args.targets}, s) for s in SETS} for v in views}
    result["kendall_tau"] = {v: {s: kendall_tau(result["rankings"][v][s], REVIEW_ORDER) for s in SETS} for v in views}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "mask_ranking.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    (args.results_dir / "mask_ranking.md").write_text(md)
    print(md)
    print(f"written to {args.results_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
