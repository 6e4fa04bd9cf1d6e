"""Where does a bandwidth extender lose PESQ on 16-bit input: the added band's magnitude or its phase?

Held-out speech (never ../shared/eval), band-limited as in training (2 and 4 kHz), rounded to
16-bit PCM. The model's output spectrum is split at the cut-off: below it the input is kept as
it is; above it, each row puts a magnitude and a phase from a different source (model, clean
reference, input) together, or scales the model's magnitude (never below the input's own).
PESQ-WB and LSD against the clean file.

    python bench/bwe_band_probe.py --checkpoint runs/bwe-map-q/best.safetensors [--files 6]

Writes a markdown table to --out (default bench/results/bwe_band_probe.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from pesq import pesq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models import api  # noqa: E402
from models import stft as S  # noqa: E402
from models.data import degrade as D  # noqa: E402
from models.metrics.spectral import lsd_scores  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bwe_pcm16_probe import CUTOFFS_HZ, HELDOUT_SPEECH, as_pcm16, heldout_signals  # noqa: E402

#: Rows: (label, magnitude above the cut-off, phase above it, scale of that magnitude).
VARIANTS = (
    ("input as is (16-bit)", "input", "input", 1.0),
    ("upper band removed", "input", "input", 0.0),
    ("model (its magnitude, input phase)", "model", "input", 1.0),
    ("model magnitude, clean phase", "model", "clean", 1.0),
    ("model magnitude x 0.5, clean phase", "model", "clean", 0.5),
    ("model magnitude x 0.3, input phase", "model", "input", 0.3),
    ("model magnitude x 0.1, input phase", "model", "input", 0.1),
    ("model magnitude x 0.03, input phase", "model", "input", 0.03),
    ("clean magnitude, input phase", "clean", "input", 1.0),
    ("clean magnitude, clean phase (= clean)", "clean", "clean", 1.0),
)


def probe_file(model, clean: np.ndarray, cutoff_hz: float) -> dict[str, float]:
    """PESQ-WB of every variant for one clean signal band-limited at ``cutoff_hz``."""
    cfg = model.stft_cfg
    narrow_float = D.band_limit(clean, cutoff_hz)
    narrow = as_pcm16(narrow_float)
    x = torch.from_numpy(narrow)[None]
    gain = S.loudness_gain(x)[:, None]
    spec_in = S.stft(x * gain, cfg)
    spec_clean = S.stft(torch.from_numpy(clean)[None] * gain, cfg)
    mag_c, phase = S.mag_phase(spec_in, cfg)
    with torch.inference_mode():
        mag_hat, _ = model.network(mag_c, phase)
    mags = {"model": S.compose(mag_hat, phase, cfg).abs(), "clean": spec_clean.abs(), "input": spec_in.abs()}
    phases = {"clean": spec_clean.angle(), "input": spec_in.angle()}
    first_bin = int(round(cutoff_hz / (cfg.sample_rate_hz / 2) * (cfg.n_freqs - 1))) + 2  # past the transition
    upper = torch.zeros_like(mag_c, dtype=torch.bool)
    upper[:, first_bin:] = True
    # what the model sees above the cut-off: level re the clean upper band, float vs 16-bit input
    clean_upper = spec_clean[:, first_bin:].abs().pow(2).sum()
    float_upper = S.stft(torch.from_numpy(narrow_float)[None] * gain, cfg)[:, first_bin:].abs().pow(2).sum()
    scores = {"upper band level, float input [dB re clean]": float(10 * torch.log10(float_upper / clean_upper)),
              "upper band level, 16-bit input [dB re clean]": float(10 * torch.log10(spec_in[:, first_bin:].abs().pow(2).sum() / clean_upper))}
    for label, mag_src, phase_src, scale in VARIANTS:
        # A scaled-down band never goes below what the input already has there.
        mag = torch.maximum(scale * mags[mag_src], mags["input"]) if 0 < scale < 1 else scale * mags[mag_src]
        spec = torch.where(upper, torch.polar(mag, phases[phase_src]), spec_in)
        out = (S.istft(spec, cfg, len(narrow)) / gain)[0].numpy()
        scores[label] = pesq(16000, clean, out, "wb")
        scores[f"{label} LSD"] = lsd_scores(clean, out, want=("lsd",))["lsd"]
    return scores


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--speech", default=HELDOUT_SPEECH)
    p.add_argument("--files", type=int, default=6)
    p.add_argument("--out", type=Path, default=Path("bench/results/bwe_band_probe.md"))
    args = p.parse_args()
    torch.set_num_threads(1)
    model = api.load_model(args.checkpoint)
    signals = heldout_signals(args.speech, args.files)
    rows = [probe_file(model, clean, cutoff) for clean in signals for cutoff in CUTOFFS_HZ]
    lines = ["# BWE on 16-bit input: magnitude or phase of the added band? (held-out speech, -26 dBFS, "
             "cut-offs 2 and 4 kHz)", "", f"Command: `python {' '.join(sys.argv)}`", "",
             f"{len(rows)} signals ({len(signals)} files x 2 cut-offs). Below the cut-off every row keeps the input.",
             "", "| upper band | PESQ-WB mean | min | max | LSD mean |", "|---|---|---|---|---|"]
    for label, *_ in VARIANTS:
        v = np.array([r[label] for r in rows])
        lsd = np.mean([r[f"{label} LSD"] for r in rows])
        lines.append(f"| {label} | {v.mean():.3f} | {v.min():.2f} | {v.max():.2f} | {lsd:.3f} |")
    lines += ["", "| input above the cut-off | mean | min | max |", "|---|---|---|---|"]
    for label in [k for k in rows[0] if k.startswith("upper band level")]:
        v = np.array([r[label] for r in rows])
        lines.append(f"| {label} | {v.mean():.1f} | {v.min():.1f} | {v.max():.1f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
