"""The GRE paper's headline claim at this machine's scale: with the same data and budget, the GRE
network retrieves phase better than MP-SENet (paper, VoiceBank: PD 11.38 -> 8.47 degrees, -25.6 %).

Trains GRE `small` (the authors' phase-retrieval config, 0.90 M) and MP-SENet (long version with
its single phase decoder, `long_phase`, 1.99 M: the paper's "MP-SENet Up.*") one after the other
with `gre train --task phase`, the same clean corpus, seed (so the very same crops in the same
order), steps, batch, crop length, recipe (2e4 WOP + MPD, grad-clip 5) and the same wall-clock cap
(SIGTERM when it is reached; the trainer saves and stops). Then scores both, plus fast Griffin-Lim
and the zero-phase input, on VoiceBank clean from ../shared/eval (never trained on):
vbd/clean/*.wav and vbd-snr/clean/p257_018_0dB.wav. Input = clean magnitude with zero phase; the
output keeps that magnitude (the authors' protocol), so PD/WOPD/PESQ measure the phase alone.

    # the real run (hours); resumable: run the same command again to continue
    python bench/reproduce_phase_retrieval.py --steps 20000 --budget-hours 8
    # re-score the existing runs only
    python bench/reproduce_phase_retrieval.py --eval-only
    # plumbing check: 3 steps each on small crops, results written to a temporary folder
    python bench/reproduce_phase_retrieval.py --smoke

Writes bench/results/reproduction_phase.json and .md (or --results-dir) and prints the markdown.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from budgeted_training import gre_executable, train_logs, train_within_budget, used_wall_s

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EVAL_FILES = (("vbd/clean", "*.wav"), ("vbd-snr/clean", "p257_018_0dB.wav"))
PAPER = {"mpsenet_pd": 11.38, "gre_pd": 8.47, "mpsenet_wopd": 0.058, "gre_wopd": 0.044,
         "mpsenet_pesq": 4.60, "gre_pesq": 4.61, "pd_change_percent": -25.6,
         "source": "GRE paper / RENet README, phase retrieval on VoiceBank (gre_net.md 5.3)"}


@dataclass(frozen=True)
class Contender:
    key: str
    arch: str
    config: str
    label: str


CONTENDERS = (
    Contender("gre", "gre", "small", "GRE small"),
    Contender("mpsenet", "mpsenet", "long_phase", "MP-SENet long, phase decoder only"),
)


# ------------------------------------------------------------------------------------------ training


def train_one(c: Contender, args: argparse.Namespace, run_dir: Path) -> dict:
    """Train ``c`` in ``run_dir`` until --steps or the wall-clock budget; returns what was spent."""
    cmd = [gre_executable(), "train", "--task", "phase", "--arch", c.arch, "--config", c.config,
           "--run-dir", str(run_dir), "--steps", str(args.steps), "--batch-size", str(args.batch_size),
           "--segment-seconds", str(args.segment_seconds), "--seed", str(args.seed),
           "--workers", str(args.workers), "--threads", str(args.threads),
           "--val-every", str(args.val_every), "--ckpt-every", str(args.ckpt_every), "--log-every", "10"]
    for d in args.clean:
        cmd += ["--clean", str(d)]
    for d in args.val_clean:
        cmd += ["--val-clean", str(d)]
    if not args.mpd:
        cmd.append("--no-mpd")
    cmd.append("--grad-checkpoint" if args.grad_checkpoint else "--no-grad-checkpoint")
    return train_within_budget(c.key, cmd, run_dir, args.steps, args.budget_hours)


# ---------------------------------------------------------------------------------------- evaluation


def eval_files(eval_dir: Path) -> list[Path]:
    files = []
    for sub, pattern in EVAL_FILES:
        found = sorted((eval_dir / sub).glob(pattern))
        if not found:
            sys.exit(f"reproduce_phase_retrieval: no {pattern} in {eval_dir / sub}; pass --eval-dir (../shared/eval)")
        files += found
    return files


def score(model, files: list[Path]) -> dict[str, dict[str, float]]:
    """Per file {"pd", "wopd", "pesq", "sisdr"} of ``model`` (an Enhancer-like module, phase retrieval)."""
    import soundfile as sf
    import torch

    from models.metrics.pesq_metrics import pesq_score
    from models.metrics.phase import phase_distances
    from models.metrics.sdr import si_sdr

    rows = {}
    for path in files:
        ref, rate = sf.read(path, dtype="float32")
        if rate != 16_000 or ref.ndim != 1:
            sys.exit(f"{path}: expected 16 kHz mono")
        with torch.no_grad():
            est = model(torch.from_numpy(ref)[None])[0].numpy().astype(np.float32)
        rows[f"{path.parent.parent.name}/{path.name}"] = {
            **phase_distances(ref, est), "pesq": pesq_score(ref, est, 16_000, "wb"), "sisdr": si_sdr(ref, est)}
    return rows


class ZeroPhase:
    """Reference: the input of phase retrieval itself (clean magnitude, all phases zero)."""

    def __call__(self, wave):
        from models import stft as S
        from models.config import STFTConfig

        cfg = STFTConfig()
        mag, phase = S.analyse(wave, cfg)
        return S.synthesise(mag, phase * 0, cfg, wave.shape[-1])


def summarise(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(rows.values())).keys()
    return {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}


def evaluate(args: argparse.Namespace, runs: Path, spent: dict) -> dict:
    from models.api import load_model
    from models.classical import CLASSICAL_MODELS, GriffinLimConfig

    files = eval_files(args.eval_dir)
    systems = []
    for c in CONTENDERS:
        run_dir = runs / c.key
        ckpt = run_dir / ("best.safetensors" if args.checkpoint == "best" else "model.safetensors")
        if not ckpt.is_file():
            sys.exit(f"reproduce_phase_retrieval: {ckpt} missing; train first (without --eval-only)")
        model = load_model(ckpt)
        if model.mode != "phase_retrieval":
            sys.exit(f"{ckpt}: mode {model.mode}, expected phase_retrieval")
        step, rate, _ = train_logs(run_dir)
        rows = score(model, files)
        systems.append({"key": c.key, "label": c.label, "arch": c.arch, "config": c.config,
                        "params": sum(p.numel() for p in model.network.parameters()),
                        "steps": step, "median_steps_per_s": rate, "wall_hours": used_wall_s(run_dir) / 3600,
                        "checkpoint": str(ckpt.relative_to(REPO) if ckpt.is_relative_to(REPO) else ckpt),
                        **spent.get(c.key, {}), "mean": summarise(rows), "files": rows})
    gl = CLASSICAL_MODELS["griffin-lim"](GriffinLimConfig(n_iter=100, momentum=0.99))
    refs = []
    for key, label, model in (("griffin-lim", "fast Griffin-Lim, 100 it, zero init", gl),
                              ("zero-phase", "input (clean magnitude, zero phase)", ZeroPhase())):
        rows = score(model, files)
        refs.append({"key": key, "label": label, "mean": summarise(rows), "files": rows})
    by_key = {s["key"]: s for s in systems}
    change = 100 * (by_key["gre"]["mean"]["pd"] / by_key["mpsenet"]["mean"]["pd"] - 1)
    return {"systems": systems, "references": refs, "pd_change_percent_gre_vs_mpsenet": change,
            "eval_files": [str(f.relative_to(args.eval_dir)) for f in files]}


# ------------------------------------------------------------------------------------------- report


def markdown(result: dict) -> str:
    b = result["budget"]
    lines = [
        "# Phase retrieval: GRE small vs MP-SENet at equal budget",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}; machine: {result['machine']}",
        "",
        f"Budget per model: at most {b['steps']} steps and {b['budget_hours']} h wall clock (whichever first), "
        f"batch {b['batch_size']}, {b['segment_seconds']} s crops, seed {b['seed']} (identical crops in identical "
        f"order), recipe of `gre train --task phase` (2e4 WOP{' + MPD' if b['mpd'] else ''}, grad-clip 5), "
        f"gradient checkpointing {'on' if b.get('grad_checkpoint') else 'off'}, evaluated weights: "
        f"`{b['checkpoint']}`. Training speech: {', '.join(b['clean'])}.",
        "",
        "Evaluation (never trained on): " + ", ".join(result["eval_files"])
        + ". Input = clean magnitude + zero phase; output keeps that magnitude.",
        "",
        "| system | params | steps | wall h | PD (deg) | WOPD (rad) | PESQ-WB | SI-SDR (dB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in result["systems"]:
        m = s["mean"]
        lines.append(f"| {s['label']} (`{s['arch']}/{s['config']}`) | {s['params'] / 1e6:.2f} M | {s['steps']} | "
                     f"{s['wall_hours']:.2f} | {m['pd']:.2f} | {m['wopd']:.3f} | {m['pesq']:.3f} | {m['sisdr']:.2f} |")
    for r in result["references"]:
        m = r["mean"]
        lines.append(f"| {r['label']} | – | – | – | {m['pd']:.2f} | {m['wopd']:.3f} | {m['pesq']:.3f} | "
                     f"{m['sisdr']:.2f} |")
    p = result["paper"]
    lines += [
        "",
        f"PD change GRE vs MP-SENet, measured: **{result['pd_change_percent_gre_vs_mpsenet']:+.1f} %**; "
        f"paper: {p['mpsenet_pd']} -> {p['gre_pd']} ({p['pd_change_percent']:+.1f} %), after 145 k (GRE) / "
        "250 k (MP-SENet) GPU steps on VoiceBank.",
        "",
        "Per file (PD deg / WOPD / PESQ):",
        "",
        "| file | " + " | ".join(s["key"] for s in result["systems"] + result["references"]) + " |",
        "|---|" + "---|" * (len(result["systems"]) + len(result["references"])),
    ]
    for f in result["systems"][0]["files"]:
        cells = [f"{x['files'][f]['pd']:.2f} / {x['files'][f]['wopd']:.3f} / {x['files'][f]['pesq']:.2f}"
                 for x in result["systems"] + result["references"]]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    corpus = Path("/work/data/gre-corpus")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clean", type=Path, nargs="+", default=[corpus / "speech" / "train"],
                   help="training speech folders (default: the Debian corpus's speech/train)")
    p.add_argument("--val-clean", type=Path, nargs="*", default=[corpus / "speech" / "heldout"],
                   help="held-out speech for the trainer's validation (best.safetensors)")
    p.add_argument("--eval-dir", type=Path, default=SHARED / "eval")
    p.add_argument("--runs", type=Path, default=REPO / "runs" / "reproduction_phase", help="run directories")
    p.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--budget-hours", type=float, default=8.0, help="wall-clock cap per model")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--segment-seconds", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch threads per training process")
    p.add_argument("--parallel", action="store_true",
                   help="train both models at the same time (e.g. --threads 1 each on a 2-core machine), so "
                        "they share the machine's load alike; default: one after the other")
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--mpd", action=argparse.BooleanOptionalAction, default=True,
                   help="the recipe's multi-period discriminator (default on, as the authors)")
    p.add_argument("--grad-checkpoint", action=argparse.BooleanOptionalAction, default=True,
                   help="recompute the bottleneck blocks in backward, for both models (default on: MP-SENet "
                        "long_phase needs ~4.2 GB per 2 s crop without it, ~2.1 GB with it)")
    p.add_argument("--checkpoint", choices=("final", "best"), default="final",
                   help="evaluate the last weights (default) or the best by held-out PD")
    p.add_argument("--eval-only", action="store_true", help="score the existing runs, train nothing")
    p.add_argument("--smoke", action="store_true",
                   help="3 steps each, batch 2, 0.5 s crops, 20 min cap; runs and results in a temporary folder")
    args = p.parse_args(argv)
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gre_repro_smoke_"))
        args.steps, args.batch_size, args.segment_seconds, args.budget_hours = 3, 2, 0.5, 1 / 3
        args.val_every, args.ckpt_every, args.workers = 3, 3, 0
        args.runs, args.results_dir = tmp / "runs", tmp / "results"
    if not args.eval_only:
        for d in list(args.clean) + list(args.val_clean):
            if not d.is_dir():
                p.error(f"{d} is not a folder (build the corpus with recipes/debian/build_corpus.sh, or pass --clean)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spent: dict[str, dict] = {}
    if not args.eval_only and args.parallel:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(CONTENDERS)) as pool:  # each thread only waits on its subprocess
            futures = {c.key: pool.submit(train_one, c, args, args.runs / c.key) for c in CONTENDERS}
            spent = {key: f.result() for key, f in futures.items()}
    elif not args.eval_only:
        for c in CONTENDERS:  # one after the other: each gets the whole machine
            spent[c.key] = train_one(c, args, args.runs / c.key)
    import torch

    result = {
        "command": "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO))
                                         if Path(sys.argv[0]).resolve().is_relative_to(REPO) else sys.argv[0]]
                                        + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, --threads {args.threads}"
                   + (" per model, both trained at once" if args.parallel else ", one model after the other"),
        "budget": {"steps": args.steps, "budget_hours": args.budget_hours, "batch_size": args.batch_size,
                   "segment_seconds": args.segment_seconds, "seed": args.seed, "mpd": args.mpd,
                   "checkpoint": args.checkpoint, "grad_checkpoint": args.grad_checkpoint,
                   "clean": [str(d) for d in args.clean]},
        "paper": PAPER,
        **evaluate(args, args.runs, spent),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "reproduction_phase.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    (args.results_dir / "reproduction_phase.md").write_text(md)
    print(md)
    print(f"written to {args.results_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
