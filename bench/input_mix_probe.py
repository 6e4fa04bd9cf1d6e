"""Does mixing a share of the input back into a model's output help? (DeepFilterNet's attenuation limit)

For a real mask with the noisy phase, ``(1 - a) * output + a * input`` is the same as raising the
mask to at least ``a``: it caps how much the model may remove. That protects clean input (a model
that damages clean speech damages it less) at the cost of noise left in noisy input. This probe
measures both sides on the held-out pairs of `bench/heldout_compare.py` (same pairs, same seed):

    python bench/input_mix_probe.py --task denoise --files 120 --heldout-clean C/speech/heldout \
        --heldout-noise C/noise/heldout --models masknet-psm-denoise --out bench/results/input_mix_probe

Writes --out (.md and .json): PESQ-WB per model and share, and the paired difference to the same
model unmixed (mean ± 95 % CI of per-file differences).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from heldout_compare import enhance, paired_pesq_delta  # noqa: E402  (bench/, this script's folder)
from models.data.degrade import DegradeConfig  # noqa: E402
from models.evaluate import evaluate  # noqa: E402
from models.shipping.heldout import HeldoutSpec, build_heldout_set  # noqa: E402

SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)


def mix_folder(model_out: Path, inputs: Path, share: float, dst: Path) -> None:
    """Write ``(1 - share) * output + share * input`` for every WAV of ``inputs`` into ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for wav in sorted(inputs.glob("*.wav")):
        x, rate = sf.read(str(wav), dtype="float32")
        y, _ = sf.read(str(model_out / wav.name), dtype="float32")
        n = min(len(x), len(y))
        sf.write(str(dst / wav.name), (1 - share) * y[:n] + share * x[:n], rate, subtype="FLOAT")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=("denoise", "dereverb", "universal"))
    p.add_argument("--models", nargs="+", required=True, help="registered names or checkpoint files")
    p.add_argument("--heldout-clean", nargs="+", required=True)
    p.add_argument("--heldout-noise", nargs="+", default=())
    p.add_argument("--heldout-rir", nargs="+", default=())
    p.add_argument("--files", type=int, default=120)
    p.add_argument("--shares", nargs="+", type=float, default=SHARES)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.md and .json)")
    args = p.parse_args(argv)
    gre = str(Path(sys.executable).parent / "gre")
    spec = HeldoutSpec(tuple(args.heldout_clean), tuple(args.heldout_noise), tuple(args.heldout_rir), files=args.files)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        evs, why = build_heldout_set(spec, args.task, DegradeConfig(), tmp)
        if evs is None:
            sys.exit(why)
        for kind, src in (("degraded", evs.input_dir), ("clean input", evs.reference_dir)):
            for i, model in enumerate(args.models):
                out = tmp / kind.replace(" ", "-") / f"m{i}"
                enhance(gre, model, src, out, threads=1)
                dirs = []
                for share in args.shares:
                    dirs.append(out.parent / f"m{i}-{share:g}")
                    mix_folder(out, src, share, dirs[-1])
                res = evaluate(evs.reference_dir, dirs, metrics="pesq_wb", jobs=args.jobs)
                for share, d in zip(args.shares, dirs):
                    mean, ci = paired_pesq_delta(res, d.name, dirs[0].name)
                    rows.append({"input": kind, "model": model, "share": share,
                                 "pesq_wb": res.systems[d.name].mean["pesq_wb"], "delta": mean, "delta_ci95": ci})
    command = "python bench/input_mix_probe.py " + " ".join(sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "date": time.strftime("%Y-%m-%d %H:%M"),
                                                         "task": args.task, "files": args.files, "rows": rows},
                                                        indent=2) + "\n")
    lines = [f"# Mixing the input back into the output, task {args.task} (`bench/input_mix_probe.py`)", "",
             f"Command: `{command}`; {time.strftime('%Y-%m-%d %H:%M')}. {args.files} held-out pairs (the pairs of "
             "`bench/heldout_compare.py`), and the same clean files as input. Output = (1 - share) x model output + "
             "share x input. Δ: PESQ-WB minus the same model unmixed, mean ± 95 % CI of per-file differences.", "",
             "| input | model | share | PESQ-WB | Δ |", "|---|---|---|---|---|"]
    lines += [f"| {r['input']} | {r['model']} | {r['share']:g} | {r['pesq_wb']:.3f} | {r['delta']:+.3f} ± "
              f"{r['delta_ci95']:.3f} |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
