"""Probe J (predeclare.md): fit the absolute phase of 4 clean 2 s crops, with the crops fixed or jittered by less
than one hop at every step; PD of the offset-0 crops every 50 steps.

python bench/results/runs-session26/probe_jitter.py fixed|jitter [STEPS] [LR]

The network and loss are session 18's overfit probe (`bench/results/runs-session18/probe_overfit.py`): the phase
MaskNet with the time-dilated refinement stage, full batch, Adam, the weighted omnidirectional phase loss; the
files are the first 4 (by name) of F16's 16 (/work/data/phase-fit/f16: asterisk-en prompts of at least 2.5 s).
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
from models.nets.masknet import MaskNet, MaskNetConfig

torch.set_num_threads(1)
CFG = STFTConfig()
LENGTH = 32_000  # 2 s
JITTER = CFG.hop_length  # offsets 0..hop-1

variant = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
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
net = MaskNet(MaskNetConfig(target="phase", refine_channels=16, refine_layers=4, refine_time_dilation=True))
opt = torch.optim.Adam(net.parameters(), lr)
t0 = time.time()
print("files:", [f.rsplit("/", 1)[-1] for f in files], flush=True)
for i in range(steps + 1):
    if i % 50 == 0:
        with torch.no_grad():
            _, ph = net(ref_mag, torch.zeros_like(ref_phase))
            est = S.synthesise(ref_mag, ph, CFG, LENGTH)
        pds = [phase_distances(ref_wave[b].numpy(), est[b].numpy())["pd"] for b in range(len(files))]
        print(variant, i, "PD", round(float(np.mean(pds)), 1), round(time.time() - t0), flush=True)
    if i == steps:
        break
    offsets = [0] * len(files) if variant == "fixed" else rng.integers(0, JITTER, len(files)).tolist()
    _, mag, phase = crops(offsets)
    _, ph = net(mag, torch.zeros_like(phase))
    loss = L.wop_loss(ph, phase, mag)
    opt.zero_grad()
    loss.backward()
    opt.step()
