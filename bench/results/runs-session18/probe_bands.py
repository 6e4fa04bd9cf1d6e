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
diff = torch.angle(S.stft(out, cfg) * spec.conj()).abs()  # |wrapped phase difference| per bin
mag = spec.abs()
for lo, hi in [(0, 5), (5, 10), (10, 20), (20, 40), (40, 80), (80, 201)]:
    band_pd = float((diff[:, lo:hi] * mag[:, lo:hi]).sum() / mag[:, lo:hi].sum()) * 180 / np.pi
    share = float(mag[:, lo:hi].sum() / mag.sum())
    print(f"{lo * 40}-{hi * 40} Hz: PD {band_pd:.1f} deg, magnitude share {share:.2f}")
