"""Compare candidate models on the same held-out pairs, and on clean input (do they do no harm?).

Shipping a model replaces a default only when it does better on held-out corpus pairs (never on
../shared/eval). `bench/ship_model.py` builds its held-out pairs with each run's own degradation
settings, so runs trained with other settings (say a wider SNR range) get other pairs. This script
builds one set with fixed settings (the training defaults: SNR -5..15 dB, or --snr-range), plus the
same held-out clean files given as input unchanged, and scores every model on both with
`gre enhance` (the installed entry point) and `gre evaluate`'s scorer.

    python bench/heldout_compare.py --task denoise --heldout-clean C/speech/heldout \
        --heldout-noise C/noise/heldout --models masknet-psm-denoise runs/x/best.safetensors

For denoise, ``--heldout-noise C/noise/heldout-synthetic`` gives the recipe's second condition (steady noise
and babble of held-out talkers) on the same clean files. For phase the input is the clean file itself (a model
keeps only its magnitude), so there is no separate clean-input pass; PD is scored as well.

A model is a registered name, a checkpoint file, or ``peer:NAME`` for a peer system of
`gre benchmark` (e.g. ``peer:dfn3``, DeepFilterNet3; only peers without delay, run in this process on
the 16 kHz files); ``label=model`` names its row. Options of `gre enhance` may follow the model, as one
argument: ``"s4=masknet-psm-denoise --shifts 4"`` (split like a shell line). Writes --out (.md and .json).
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.data.degrade import BAND_LIMIT_AUGMENT, DegradeConfig  # noqa: E402
from models.evaluate import evaluate, mean_ci95  # noqa: E402
from models.shipping.card import cell  # noqa: E402
from models.shipping.heldout import HELDOUT_SEED, HeldoutSpec, build_heldout_set  # noqa: E402

METRICS = ("pesq_wb", "stoi", "si_sdr")


def parse_models(items: list[str]) -> list[tuple[str, str]]:
    """``label=model`` or ``model`` -> (label, model); a file's label is its run folder and name. ``model`` may
    carry `gre enhance` options, whose values may hold "=": the label ends at the first "=" and has no spaces."""
    out = []
    for item in items:
        label, _, model = item.partition("=")
        if not model or any(c.isspace() for c in label):
            label, model = "", item
        if not label:
            path = Path(shlex.split(model)[0])
            label = f"{path.parent.name}/{path.stem}" if path.suffix == ".safetensors" else model
        out.append((label, model))
    return out


def enhance_with_peer(name: str, src: Path, dst: Path) -> None:
    """Run peer ``name`` (models.peers) on every WAV of ``src`` into ``dst`` (same names, float32)."""
    import soundfile as sf
    from models.peers import resolve_peers

    peers, notes = resolve_peers([name])
    if not peers:
        sys.exit(notes[0])
    if peers[0].adds_delay:
        sys.exit(f"peer {name} leaves {peers[0].delay_ms} ms of delay; this comparison scores without alignment")
    runner = peers[0].load()
    dst.mkdir(parents=True, exist_ok=True)
    for wav in sorted(src.glob("*.wav")):
        x, rate = sf.read(str(wav), dtype="float32")
        runner.prepare()
        sf.write(str(dst / wav.name), runner(x), rate, subtype="FLOAT")


def enhance(gre: str, model: str, src: Path, dst: Path, threads: int) -> None:
    """`gre enhance` with the model as it is (no --task: a model of another task may be a candidate),
    or a peer for ``peer:NAME``."""
    if model.startswith("peer:"):
        enhance_with_peer(model.removeprefix("peer:"), src, dst)
        return
    model, *options = shlex.split(model)
    flag = "--checkpoint" if Path(model).is_file() else "--model"
    cmd = [gre, "enhance", str(src), str(dst), flag, model, "--threads", str(threads), "--quiet", "--overwrite",
           *options]
    subprocess.run(cmd, check=True)


def heldout_spec(args: argparse.Namespace) -> HeldoutSpec:
    """The folders, number of files and degradation draw (seed) of the held-out pairs the options ask for."""
    return HeldoutSpec(tuple(args.heldout_clean), tuple(args.heldout_noise), tuple(args.heldout_rir), files=args.files,
                       seed=args.seed)


def paired_pesq_delta(res, system: str, baseline: str) -> tuple[float | None, float | None]:
    """Mean ± 95 % CI of ``system``'s per-file PESQ-WB minus ``baseline``'s, over the files both
    scored (a paired comparison: the spread of the differences, not of the means, decides)."""
    per_file = {name: {f.file: f.values.get("pesq_wb") for f in res.files if f.system == name}
                for name in (system, baseline)}
    base = per_file[baseline]
    return mean_ci95([v - base[f] for f, v in per_file[system].items()
                      if v is not None and base.get(f) is not None])


def _cell(part: dict | None, metric: str) -> str:
    """A table cell as the model cards print it; "-" where the system was not run on that input."""
    return "-" if part is None else cell(part["mean"].get(metric), part["ci95"].get(metric), metric)


def _delta(part: dict | None) -> str:
    """The paired PESQ-WB difference to the first model, signed, with its 95 % CI half-width."""
    d = None if part is None else part.get("pesq_wb_minus_first")
    if d is None or d["mean"] is None:
        return "-"
    return f"{d['mean']:+.3f}" + ("" if d["ci95"] is None else f" ± {d['ci95']:.3f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=("denoise", "dereverb", "bwe", "universal", "phase"))
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--heldout-clean", nargs="+", required=True)
    p.add_argument("--heldout-noise", nargs="+", default=())
    p.add_argument("--heldout-rir", nargs="+", default=())
    p.add_argument("--snr-range", nargs=2, type=float, default=None, help="default: the training default")
    p.add_argument("--band-limit-augment", action="store_true",
                   help="bwe pairs like real narrowband files: most get a random low-pass below the cut-off and "
                   "are rounded to 16-bit PCM (as gre train --band-limit-augment)")
    p.add_argument("--reverb-noise", type=float, default=0.0, metavar="P",
                   help="dereverb pairs: share that also get background noise from --heldout-noise "
                   "(as gre train --reverb-noise)")
    p.add_argument("--reverb-noise-snr", nargs=2, type=float, default=DegradeConfig.reverb_noise_snr_range_db,
                   metavar=("LO", "HI"), help="SNR range in dB of --reverb-noise")
    p.add_argument("--files", type=int, default=24)
    p.add_argument("--seed", type=int, default=HELDOUT_SEED,
                   help="seed of the degradations drawn for the held-out pairs (noise file, SNR, room); the clean "
                   "files stay the same spread. Default: the draw every earlier comparison used; another seed "
                   "gives fresh pairs, to check a choice made on the usual ones")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.md and .json)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.reverb_noise and args.task != "dereverb":
        p.error("--reverb-noise is for --task dereverb")
    gre = str(Path(sys.executable).parent / "gre")
    degrade = DegradeConfig() if args.snr_range is None else replace(DegradeConfig(), snr_range_db=tuple(args.snr_range))
    if args.band_limit_augment:
        degrade = replace(degrade, **BAND_LIMIT_AUGMENT)
    if args.reverb_noise:
        degrade = replace(degrade, reverb_noise_prob=args.reverb_noise,
                          reverb_noise_snr_range_db=tuple(args.reverb_noise_snr))
    metrics = METRICS + (("lsd",) if args.task == "bwe" else ()) + (("pd",) if args.task == "phase" else ())
    extra = [m for m in ("lsd", "pd") if m in metrics]  # columns after SI-SDR
    models = parse_models(args.models)
    spec = heldout_spec(args)
    scores: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        evs, why = build_heldout_set(spec, args.task, degrade, Path(tmp))
        if evs is None:
            sys.exit(why)
        inputs = {"degraded": evs.input_dir}
        if args.task != "phase":  # phase: the degraded input is the clean file already
            inputs["clean input"] = evs.reference_dir
        for kind, src in inputs.items():
            est_dirs = [src] if kind == "degraded" else []
            for i, (label, model) in enumerate(models):
                dst = Path(tmp) / "out" / kind.replace(" ", "-") / f"m{i}"
                enhance(gre, model, src, dst, args.threads)
                est_dirs.append(dst)
            res = evaluate(evs.reference_dir, est_dirs, metrics=",".join(metrics), jobs=args.jobs)
            names = (["input"] if kind == "degraded" else []) + [label for label, _ in models]
            baseline = est_dirs[0 if kind == "clean input" else 1].name  # the first model
            for name, est in zip(names, est_dirs):
                s = res.systems[est.name]
                d_mean, d_ci = paired_pesq_delta(res, est.name, baseline)
                scores.setdefault(name, {})[kind] = {"n": s.n, "failed": s.failed, "mean": s.mean, "ci95": s.ci95,
                                                     "pesq_wb_minus_first": {"mean": d_mean, "ci95": d_ci}}
    command = "python bench/heldout_compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "task": args.task,
              "snr_range_db": list(degrade.snr_range_db), "band_limit_augment": args.band_limit_augment,
              "reverb_noise_prob": degrade.reverb_noise_prob,
              "reverb_noise_snr_range_db": list(degrade.reverb_noise_snr_range_db), "files": args.files,
              "seed": args.seed, "scores": scores}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    if args.task == "phase":
        pairs = (f"Command: `{command}`; {result['date']}. {args.files} held-out clean files picked by "
                 "`models/shipping/heldout.py`, each the input (a phase model keeps only its magnitude) and the "
                 "reference; the input row is the reference scored against itself.")
    else:
        pairs = (f"Command: `{command}`; {result['date']}. {args.files} held-out pairs drawn by "
                 "`models/shipping/heldout.py` ("
                 + ("" if args.seed == HELDOUT_SEED else f"degradations drawn with seed {args.seed}; ")
                 + (f"SNR {degrade.snr_range_db[0]:g}..{degrade.snr_range_db[1]:g} dB where noise is added"
                    if args.task != "dereverb" else "reverberation from the held-out rooms")
                 + ("; bwe inputs low-passed at random and rounded to 16-bit as in "
                    "`gre train --band-limit-augment`" if args.band_limit_augment else "")
                 + (f"; background noise at {degrade.reverb_noise_snr_range_db[0]:g}.."
                    f"{degrade.reverb_noise_snr_range_db[1]:g} dB on {degrade.reverb_noise_prob:.0%} of the "
                    "reverberant pairs, as `gre train --reverb-noise`" if degrade.reverb_noise_prob else "")
                 + "), and the same clean files given unchanged as input (a model should leave them "
                 "as they are).")
    lines = [f"# Held-out comparison, task {args.task} (`bench/heldout_compare.py`)", "",
             pairs + " Means ± 95 % CI, each over the files that metric could score; `failed` counts the "
             "files where some metric could not (mostly STOI on clips of a word or two: it needs 30 non-silent "
             "frames). "
             f"Δ: PESQ-WB minus that of the first model ({models[0][0]}) on the same files, mean ± 95 % CI of "
             "the per-file differences (a paired comparison).", "",
             "| system | degraded: PESQ-WB | Δ | STOI | SI-SDR [dB] |" + "".join(f" {m.upper()} |" for m in extra)
             + " clean input: PESQ-WB | Δ | STOI | failed |",
             "|---|---|---|---|---|" + "---|" * len(extra) + "---|---|---|---|"]
    for name, kinds in scores.items():
        deg, cln = kinds.get("degraded"), kinds.get("clean input")
        lines.append(f"| {name} | {_cell(deg, 'pesq_wb')} | {_delta(deg)} | {_cell(deg, 'stoi')} | "
                     f"{_cell(deg, 'si_sdr')} | " + "".join(f"{_cell(deg, m)} | " for m in extra)
                     + f"{_cell(cln, 'pesq_wb')} | {_delta(cln)} | {_cell(cln, 'stoi')} | "
                     f"{deg['failed'] if deg else '-'} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
