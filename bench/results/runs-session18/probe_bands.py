"""Phase distance per frequency band of a phase model on 8 held-out clean files (2 s each).

python bench/results/runs-session18/probe_bands.py WEIGHTS [--heldout DIR]
"""
import argparse
import glob

import numpy as np
import soundfile as sf
import torch

from models import stft as S
from models.api import load_model
from models.config import STFTConfig
from models.metrics.phase import phase_distance_from_spectra

p = argparse.ArgumentParser()
p.add_argument("weights")
p.add_argument("--heldout", default="/work/data/gre-corpus/speech/heldout")
args = p.parse_args()
torch.set_num_threads(1)
cfg = STFTConfig()
files = sorted(glob.glob(f"{args.heldout}/**/*.wav", recursive=True))[7::150][:8]
waves = []
for f in files:
    x, _ = sf.read(f, dtype="float32")
    waves.append(torch.from_numpy(x[:32000] / np.abs(x[:32000]).max() * 0.5))
n = min(len(w) for w in waves)
wave = torch.stack([w[:n] for w in waves])
spec = S.stft(wave, cfg)
with torch.no_grad():
    out = load_model(args.weights)(wave)
est = S.stft(out, cfg)
# The metric's own PD on each band, the 8 files side by side in time ([F, 8 T]): pooled over files.
ref_all, est_all = (torch.cat(list(x), dim=-1) for x in (spec, est))
mag = ref_all.abs()
for lo, hi in [(0, 5), (5, 10), (10, 20), (20, 40), (40, 80), (80, 201)]:
    band_pd = phase_distance_from_spectra(ref_all[lo:hi], est_all[lo:hi])["pd"]
    share = float(mag[lo:hi].sum() / mag.sum())
    print(f"{lo * 40}-{hi * 40} Hz: PD {band_pd:.1f} deg, magnitude share {share:.2f}")
