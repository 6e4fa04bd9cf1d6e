"""Bandwidth extension of true 8 kHz files: with and without the 16-bit floor on the upsampled input.

`gre enhance` resamples an 8 kHz file to the model's 16 kHz before extending it. In floating point that
leaves the band above 4 kHz at numerical zero, unlike the 16-bit recordings our extender was mostly
trained on; `models.audio_resample.UpsampledFloor` adds a one-step 16-bit TPDF floor after resampling.
This script measures what the floor does on held-out speech taken to 8 kHz and stored as 16-bit, through
`models.api.enhance` (the same resampling and floor as `gre enhance`).

    python bench/bwe_narrowband_floor.py --heldout-clean C/speech/heldout [--files 120] \
        [--models masknet-map-bwe universal-v2-then-bwe] [--out bench/results/bwe_narrowband_floor]

Files: speech/heldout files of at least 1 s, ``--files`` of them spread evenly over the sorted list,
the first 4 s of each. PESQ-WB against the 16 kHz original; paired deltas (floor on minus off), mean and
95 % CI. Writes OUT.md and OUT.json.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import api  # noqa: E402
from models.audio_resample import resample  # noqa: E402
from models.data.files import read_mono, scan_folders  # noqa: E402
from models.evaluate import mean_ci95  # noqa: E402

RATE, NARROW_RATE, MAX_SECONDS = 16_000, 8_000, 4.0


def pcm16(x: np.ndarray) -> np.ndarray:
    return (np.clip(np.round(x * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)


def main() -> None:
    from pesq import pesq

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--heldout-clean", nargs="+", required=True)
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--models", nargs="+", default=["masknet-map-bwe", "universal-v2-then-bwe"])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "bwe_narrowband_floor")
    args = ap.parse_args()
    files, _ = scan_folders(args.heldout_clean, sample_rate_hz=RATE, min_seconds=1.0, what="heldout-clean")
    picks = files if len(files) <= args.files else [files[int(i)] for i in np.linspace(0, len(files) - 1, args.files)]
    models = {name: api.load_model(name) for name in args.models}
    scores: dict[str, list[float]] = {"input (8 kHz upsampled)": []}
    for name in args.models:
        scores[f"{name}, no floor"], scores[f"{name}, floor"] = [], []
    start, unscored = time.perf_counter(), 0
    for f in picks:
        clean = read_mono(f.path, RATE, 0, int(MAX_SECONDS * RATE))
        narrow = pcm16(resample(clean, RATE, NARROW_RATE))
        outs = {"input (8 kHz upsampled)": resample(narrow, NARROW_RATE, RATE)}
        for name, model in models.items():
            for floor in (False, True):
                outs[f"{name}, {'floor' if floor else 'no floor'}"] = api.enhance(
                    narrow, NARROW_RATE, model, out_sample_rate=RATE, upsampled_floor=floor)
        try:  # a file counts only if PESQ scores every system on it (paired deltas)
            row = {k: pesq(RATE, clean[:len(v)], v[:len(clean)], "wb") for k, v in outs.items()}
        except Exception:  # noqa: BLE001 - pesq raises for clips without detectable speech
            unscored += 1
            continue
        for k, v in row.items():
            scores[k].append(v)
    seconds = time.perf_counter() - start
    rows = []
    for label, values in scores.items():
        mean, ci = mean_ci95(values)
        row = {"system": label, "pesq_wb": mean, "ci95": ci, "files": len(values)}
        if label.endswith(", floor"):
            base = scores[label.replace(", floor", ", no floor")]
            row["delta_vs_no_floor"], row["delta_ci95"] = mean_ci95(np.array(values) - np.array(base))
        rows.append(row)
    command = shlex.join(["python", "bench/bwe_narrowband_floor.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    lines = ["# Bandwidth extension of 8 kHz 16-bit files, with and without the upsampled 16-bit floor "
             "(`bench/bwe_narrowband_floor.py`)", "",
             f"Command: `{command}`; {time.strftime('%Y-%m-%d %H:%M')}; {len(picks)} held-out files (the first "
             f"{MAX_SECONDS:g} s of each) taken to 8 kHz and rounded to 16 bits, extended through `api.enhance` "
             "with out_sample_rate=16000. PESQ-WB against the 16 kHz original, mean ± 95 % CI; Δ = floor on minus "
             "floor off on the same files.", "",
             "| system | PESQ-WB | Δ (floor − no floor) |", "|---|---|---|"]
    for r in rows:
        delta = f"{r['delta_vs_no_floor']:+.3f} ± {r['delta_ci95']:.3f}" if "delta_vs_no_floor" in r else "-"
        lines.append(f"| {r['system']} | {r['pesq_wb']:.3f} ± {r['ci95']:.3f} | {delta} |")
    lines += ["", f"{unscored} of the {len(picks)} files could not be scored by PESQ (no utterance detected) and "
              f"are left out of every row; {seconds:.0f} s on shared cores."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
