"""How much of Griffin-Lim's phase distance is a sign ambiguity? PD of Griffin-Lim's output as it
is, and after an oracle that knows the reference picks the sign of the whole file, of each island
of sound between pauses, or of each frame.

A magnitude is the same for ``x`` and ``-x``. Between two pauses the sign of what Griffin-Lim
finds is free, and nothing ties one island's sign to the next one's: if each island were found
exactly up to its sign, the phase distance (PD, gre_net.md) would still average about 90 degrees
over islands of random sign. The oracles bound what a sign decision alone could win:
- ``file``: one sign per file (what canonical polarity alone can fix);
- ``island``: one sign per island of sound, islands cut at pauses found in the *magnitude* (what a
  run-time method could also cut at, since the magnitude is all it has);
- ``frame``: one sign per STFT frame (not realisable as a waveform; a floor on the error left
  once signs are right, i.e. how well Griffin-Lim finds the shape of each frame).

Held-out clean files only, never ../shared/eval.

    python bench/phase_sign_oracle.py C/speech/heldout --files 40 [--init zero|pghi] [--iters 100]
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import stft as S  # noqa: E402
from models.audio_resample import resample  # noqa: E402
from models.classical import GriffinLimConfig, griffin_lim  # noqa: E402
from models.config import STFTConfig  # noqa: E402
from models.data.files import list_audio  # noqa: E402
from models.metrics.phase import anti_wrap  # noqa: E402

RATE_HZ = 16_000
#: A frame is a pause when its magnitude energy is this far below the file's loudest frame.
PAUSE_DB = 40.0
#: ... for at least this many consecutive frames (100 samples each at 16 kHz).
PAUSE_FRAMES = 4


def runs_of_true(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges of the runs of True in the bool array ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def pause_frames(mag: np.ndarray) -> np.ndarray:
    """Bool [T]: frames of ``mag`` [F, T] that belong to a pause of at least PAUSE_FRAMES frames."""
    energy = (mag ** 2).sum(axis=0)
    quiet = energy <= energy.max() * 10 ** (-PAUSE_DB / 10)
    out = np.zeros_like(quiet)
    for a, b in runs_of_true(quiet):
        out[a:b] = b - a >= PAUSE_FRAMES
    return out


def islands(pauses: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame ranges of sound between pauses."""
    return runs_of_true(~pauses)


def weighted_error(mag: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per-frame sums of |S| * anti-wrapped phase error: [T]."""
    return (mag * anti_wrap(torch.from_numpy(d)).numpy()).sum(axis=0)


def oracle_pds(ref: np.ndarray, est: np.ndarray, cfg: STFTConfig) -> dict[str, float]:
    spec = S.stft(torch.from_numpy(np.stack([ref, est]).astype(np.float32)), cfg).numpy()
    mag, d = np.abs(spec[0]), np.angle(spec[1]) - np.angle(spec[0])
    same, flipped = weighted_error(mag, d), weighted_error(mag, d + np.pi)  # [T] each
    total = mag.sum() + 1e-9
    to_deg = 180.0 / np.pi / total
    out = {"as_is": float(same.sum() * to_deg), "file": float(min(same.sum(), flipped.sum()) * to_deg),
           "frame": float(np.minimum(same, flipped).sum() * to_deg)}
    spans = islands(pause_frames(mag))
    island_err = sum(min(same[a:b].sum(), flipped[a:b].sum()) for a, b in spans)
    covered = np.zeros(len(same), bool)
    for a, b in spans:
        covered[a:b] = True
    out["island"] = float((island_err + same[~covered].sum()) * to_deg)
    out["islands"] = len(spans)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clean", type=Path, help="folder of held-out clean speech")
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--init", default="zero", choices=["zero", "pghi"])
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "phase_sign_oracle")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = STFTConfig()
    gl = GriffinLimConfig(n_iter=args.iters, init=args.init)
    paths = list_audio(args.clean)
    step = max(1, len(paths) // args.files)
    rows = []
    for path in paths[::step][:args.files]:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if rate != RATE_HZ:
            x = resample(x, rate, RATE_HZ)
        mag = S.stft(torch.from_numpy(x)[None], cfg).abs()
        est = griffin_lim(mag, len(x), gl)[0].numpy()
        rows.append({"file": str(path.relative_to(args.clean)), **oracle_pds(x, est, cfg)})
        print(rows[-1], flush=True)
    keys = ["as_is", "file", "island", "frame"]
    means = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    command = shlex.join(["python", "bench/phase_sign_oracle.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "means": means, "rows": rows},
                                                        indent=1) + "\n")
    lines = ["# Griffin-Lim's phase distance with oracle signs (`bench/phase_sign_oracle.py`)", "",
             f"Command: `{command}`. Griffin-Lim: {args.iters} iterations from a {args.init} phase. "
             f"Islands are cut at pauses of at least {PAUSE_FRAMES} frames {PAUSE_DB:.0f} dB below the loudest "
             f"frame, found in the magnitude. PD in degrees, mean of {len(rows)} files.", "",
             "| sign chosen by the oracle per | PD |", "|---|---|"]
    lines += [f"| {k.replace('as_is', 'none (as is)')} | {means[k]:.1f} |" for k in keys]
    lines += ["", f"Islands per file: median {np.median([r['islands'] for r in rows]):.0f}."]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
