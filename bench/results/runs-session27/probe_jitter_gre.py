"""Probe J-GRE (session 27): session 26's probe J (`../runs-session26/probe_jitter.py`) with the GRE network (complex
convolutions in its phase stream) instead of the phase MaskNet: fit the phase of 4 clean 2 s crops, fixed or jittered
by less than one hop at every step. Every 50 steps: PD of the offset-0 crops, and PD after the best rotation of each
whole output (an oracle; session 27's probe G3 found the MaskNet at 83 deg even so).

python bench/results/runs-session27/probe_jitter_gre.py fixed|jitter [STEPS] [LR] [CONFIG]
"""
import glob
import sys
import time

import numpy as np
import soundfile as sf
import torch

from models import losses as L
from models import stft as S
from models.config import STFTConfig
from models.data.polarity import polarity
from models.metrics.phase import phase_distances
from models.architectures import build_network, named_config
from scipy.signal import hilbert

torch.set_num_threads(1)
CFG = STFTConfig()
LENGTH = 32_000  # 2 s
JITTER = CFG.hop_length  # offsets 0..hop-1

variant = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
config = sys.argv[4] if len(sys.argv) > 4 else "lite"
assert variant in ("fixed", "jitter")
files = sorted(glob.glob("/work/data/phase-fit/f16/*.wav"))[:4]
sources = []
for f in files:
    x, sr = sf.read(f, dtype="float32")
    assert sr == 16000 and len(x) >= LENGTH + JITTER, f
    x = x[: LENGTH + JITTER]
    x = x / (np.abs(x).max() + 1e-9) * 0.5 * polarity(x, 16000)
    sources.append(torch.from_numpy(x))
sources = torch.stack(sources)  # [4, LENGTH + JITTER]
rng = np.random.default_rng(0)


def crops(offsets):
    wave = torch.stack([sources[b, o:o + LENGTH] for b, o in enumerate(offsets)])
    mag, phase = S.analyse(wave, CFG)
    return wave, mag, phase


ref_wave, ref_mag, ref_phase = crops([0] * len(files))
torch.manual_seed(0)
net = build_network("gre", named_config("gre", config))
opt = torch.optim.Adam(net.parameters(), lr)
t0 = time.time()
print("files:", [f.rsplit("/", 1)[-1] for f in files], flush=True)
for i in range(steps + 1):
    if i % 50 == 0:
        with torch.no_grad():
            _, ph = net(ref_mag, torch.zeros_like(ref_phase))
            est = S.synthesise(ref_mag, ph, CFG, LENGTH)
        pds = [phase_distances(ref_wave[b].numpy(), est[b].numpy())["pd"] for b in range(len(files))]
        rotated = []
        for b in range(len(files)):
            a = hilbert(est[b].numpy().astype(np.float64))
            rotated.append(min(phase_distances(ref_wave[b].numpy(), np.real(a * np.exp(1j * np.deg2rad(t))).astype(
                np.float32))["pd"] for t in range(0, 360, 10)))
        print(variant, config, i, "PD", round(float(np.mean(pds)), 1), "rotated", round(float(np.mean(rotated)), 1),
              round(time.time() - t0), flush=True)
    if i == steps:
        break
    offsets = [0] * len(files) if variant == "fixed" else rng.integers(0, JITTER, len(files)).tolist()
    _, mag, phase = crops(offsets)
    _, ph = net(mag, torch.zeros_like(phase))
    loss = L.wop_loss(ph, phase, mag)
    opt.zero_grad()
    loss.backward()
    opt.step()
