"""Fit the phase target to 4 held-out clean files alone (2 s each): PD every 50 steps.

python bench/results/runs-session18/probe_overfit.py VARIANT STEPS LR   (VARIANT: refine_tf, steps, refine_tf_32x6)
"""
import sys, time, glob
import torch, soundfile as sf, numpy as np
from models import losses as L, stft as S
from models.config import STFTConfig
from models.nets.masknet import MaskNet, MaskNetConfig
from models.metrics.phase import phase_distances
from models.data.polarity import polarity
torch.set_num_threads(1)
CFG = STFTConfig()
files = sorted(glob.glob('/work/data/gre-corpus/speech/heldout/**/*.wav', recursive=True))[::300][:4]
waves = []
for f in files:
    x, sr = sf.read(f, dtype='float32'); assert sr == 16000
    x = x[:32000]; x = x / (np.abs(x).max() + 1e-9) * 0.5
    x = x * polarity(x, 16000) if True else x
    waves.append(torch.from_numpy(x))
n = min(len(w) for w in waves); wave = torch.stack([w[:n] for w in waves])
mag, phase = S.analyse(wave, CFG)
variants = {
  'refine_tf': dict(refine_channels=16, refine_layers=4, refine_time_dilation=True),
  'steps': dict(refine_channels=16, refine_layers=4, refine_time_dilation=True, phase_steps=True),
  'refine_tf_32x6': dict(refine_channels=32, refine_layers=6, refine_time_dilation=True),
}
name = sys.argv[1]; steps = int(sys.argv[2]); lr = float(sys.argv[3])
torch.manual_seed(0)
net = MaskNet(MaskNetConfig(target='phase', **variants[name]))
opt = torch.optim.Adam(net.parameters(), lr); zero = torch.zeros_like(phase)
t0 = time.time()
for i in range(steps + 1):
    _, ph = net(mag, zero); loss = L.wop_loss(ph, phase, mag)
    if i % 50 == 0:
        est = S.synthesise(mag, ph.detach(), CFG, n)
        pds = [phase_distances(wave[b].numpy(), est[b].numpy())['pd'] for b in range(len(wave))]
        print(name, i, round(float(loss), 4), 'PD', round(float(np.mean(pds)), 1), round(time.time() - t0), flush=True)
    opt.zero_grad(); loss.backward(); opt.step()
