"""Which way up is each source of a speech corpus? The polarity estimate that `gre train --task phase`
applies (models.data.polarity), on a random sample of files per source folder.

    python bench/corpus_polarity.py CORPUS/speech [--files 30] [--seed 0] [--out bench/results/corpus_polarity]

A source is a folder two levels down (``speech/<split>/<source>``) or one level down when there is no
split level. Per source: the share of sampled files with residual skewness below -0.05 (the right
way up, read as they are), above +0.05 (read sign-flipped in phase training) and the rest (too few
voiced frames or too weak a skew to say; read as they are), and the median skewness. Writes OUT.md and OUT.json.
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

from models.data.files import AUDIO_SUFFIXES, list_audio, read_mono  # noqa: E402
from models.data.polarity import MIN_ABS_SKEWNESS, residual_skewness  # noqa: E402

RATE = 16_000


def sources(root: Path) -> list[Path]:
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if any(p.suffix.lower() in AUDIO_SUFFIXES for p in child.iterdir()):
            found.append(child)
        else:
            found.extend(sorted(p for p in child.iterdir() if p.is_dir()))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("speech_root", type=Path)
    ap.add_argument("--files", type=int, default=30, help="files sampled per source")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "corpus_polarity")
    args = ap.parse_args()
    rows, start = [], time.perf_counter()
    for folder in sources(args.speech_root):
        files = list_audio(folder)
        if not files:
            continue
        rng = np.random.default_rng(args.seed)
        pick = [files[i] for i in sorted(rng.choice(len(files), min(args.files, len(files)), replace=False))]
        skew = np.array([residual_skewness(read_mono(p, RATE), RATE) for p in pick])
        rows.append({"source": str(folder.relative_to(args.speech_root)), "files": len(pick),
                     "positive": float(np.mean(skew > MIN_ABS_SKEWNESS)),
                     "negative": float(np.mean(skew < -MIN_ABS_SKEWNESS)),
                     "undecided": float(np.mean(~(np.abs(skew) > MIN_ABS_SKEWNESS))),
                     "median_skewness": float(np.nanmedian(skew)) if np.isfinite(skew).any() else None})
    seconds = time.perf_counter() - start
    command = shlex.join(["python", "bench/corpus_polarity.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    lines = ["# Polarity of each speech source (`bench/corpus_polarity.py`)", "",
             f"Command: `{command}`. Skewness of the per-frame normalised LPC residual of voiced frames "
             f"(`models/data/polarity.py`); |skewness| <= {MIN_ABS_SKEWNESS} or too few voiced frames is "
             "undecided (read as is). Speech the right way up has a negative skewness; `gre train --task phase` "
             "reads the positive files sign-flipped.", "",
             "| source | files | negative (upright) | positive (flipped) | undecided | median skewness |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        median = "-" if r["median_skewness"] is None else f"{r['median_skewness']:+.2f}"
        lines.append(f"| {r['source']} | {r['files']} | {100 * r['negative']:.0f} % | {100 * r['positive']:.0f} % | "
                     f"{100 * r['undecided']:.0f} % | {median} |")
    total = sum(r["files"] for r in rows)
    lines += ["", f"{total} files in {seconds:.0f} s ({1000 * seconds / max(total, 1):.0f} ms a file, shared cores)."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
