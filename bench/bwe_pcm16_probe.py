"""Does a bandwidth extender survive 16-bit input? Held-out speech, band-limited as in training,
enhanced once as float and once rounded to 16-bit PCM (what real files hold); PESQ-WB of each.

    python bench/bwe_pcm16_probe.py --checkpoint runs/bwe-map/best.safetensors [--files 6]

Held-out corpus speech only (never ../shared/eval). Writes a markdown table to --out.
"""
from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from pesq import pesq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models import api  # noqa: E402
from models.data import degrade as D  # noqa: E402


#: Held-out speech of both bwe probes (never ../shared/eval).
HELDOUT_SPEECH = "/work/data/gre-corpus/speech/heldout/asterisk-fr"
CUTOFFS_HZ = (2000.0, 4000.0)


def heldout_signals(speech_dir: str, files: int) -> list[np.ndarray]:
    """The first 4 s of the first ``files`` held-out wavs, each scaled to -26 dBFS RMS (float32, 16 kHz)."""
    signals = []
    for f in sorted(glob.glob(f"{speech_dir}/*.wav"))[:files]:
        clean, _ = sf.read(f, dtype="float32")
        signals.append(clean[:64000] / np.sqrt(np.mean(clean[:64000] ** 2)) * 10 ** (-26 / 20))
    return signals


def as_pcm16(x: np.ndarray) -> np.ndarray:
    """``x`` rounded to the 16-bit grid at its own scale, as a 16-bit file of it would hold it."""
    return (np.round(x * 32767) / 32767).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", nargs="+", required=True)
    p.add_argument("--speech", default=HELDOUT_SPEECH)
    p.add_argument("--files", type=int, default=6)
    p.add_argument("--out", type=Path, default=Path("bench/results/bwe_pcm16_probe.md"))
    args = p.parse_args()
    signals = heldout_signals(args.speech, args.files)
    lines = ["# BWE on float vs 16-bit input (held-out speech, -26 dBFS, cut-offs 2 and 4 kHz)", "",
             f"Command: `python {' '.join(sys.argv)}`", "",
             "| checkpoint | input (16-bit) | output, float input | output, 16-bit input |", "|---|---|---|---|"]
    for ckpt in args.checkpoint:
        model = api.load_model(ckpt)
        rows = []
        for clean in signals:
            for cutoff in CUTOFFS_HZ:
                x = D.band_limit(clean, cutoff)
                xq = as_pcm16(x)
                rows.append([pesq(16000, clean, xq, "wb")] +
                            [pesq(16000, clean, api.enhance(v, 16000, model), "wb") for v in (x, xq)])
        m = np.mean(rows, axis=0)
        lines.append(f"| `{ckpt}` | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
