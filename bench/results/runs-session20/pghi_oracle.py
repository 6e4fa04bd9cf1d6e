"""Probe: how far is PGHI's phase from the true one once a constant offset is allowed (oracle)?
Held-out corpus speech only. PD weighted by the uncompressed magnitude, on the phase maps directly."""
import glob, sys
import numpy as np, soundfile as sf, torch
from models.config import STFTConfig
from models import stft as S
from models.pghi import pghi_phase
from models.data.polarity import *  # noqa

cfg = STFTConfig()
files = sorted(glob.glob("/work/data/gre-corpus/speech/heldout/**/*.wav", recursive=True))[::300][:9]
def pd(mag, a, b):
    d = np.abs(np.angle(np.exp(1j * (a - b))))
    return float((mag * d).sum() / mag.sum() * 180 / np.pi)
cs = np.linspace(0, 2 * np.pi, 73)[:-1]
rows = []
for f in files:
    x, sr = sf.read(f, dtype="float32")
    x = x[: 16000 * 4]
    spec = S.stft(torch.from_numpy(x)[None], cfg)[0].numpy()
    mag, ph = np.abs(spec), np.angle(spec)
    pg = pghi_phase(mag, cfg)
    base = pd(mag, pg, ph)
    glob_best = min(pd(mag, pg + c, ph) for c in cs)
    # oracle constant per 0.25 s block (25 frames at hop 100 / 16 kHz = 0.156 s... use 40 frames = 0.25 s)
    tot, w = 0.0, 0.0
    for t0 in range(0, mag.shape[1], 40):
        m = mag[:, t0:t0 + 40]
        if m.sum() == 0: continue
        best = min(pd(m, pg[:, t0:t0 + 40] + c, ph[:, t0:t0 + 40]) for c in cs)
        tot += best * m.sum(); w += m.sum()
    zero = pd(mag, np.zeros_like(ph), ph)
    rows.append((f.split("/")[-2], zero, base, glob_best, tot / w))
    print(f"{rows[-1][0]:12s} zero {zero:5.1f}  pghi {base:5.1f}  pghi+oracle const/file {glob_best:5.1f}  per 0.25 s {tot / w:5.1f}", flush=True)
print("mean", np.mean([r[1:] for r in rows], axis=0).round(1))
