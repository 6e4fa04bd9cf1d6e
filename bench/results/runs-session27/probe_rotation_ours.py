"""Probe G3 (session 27): the same question as probe_rotation_authors.py for our own phase networks: PD of their
output as it is, and after the best rotation of the whole output (an oracle, 5-degree grid).

python bench/results/runs-session27/probe_rotation_ours.py WEIGHTS FOLDER [FILES]
"""
import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import hilbert

from models import api
from models.data.polarity import polarity
from models.stft import STFTConfig
from models.train.validation import phase_distance_deg

torch.set_num_threads(1)
weights, folder = Path(sys.argv[1]), sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 8
model = api.load_model(weights, task="phase")
cfg, grid, rows = STFTConfig(), np.arange(0, 360, 5), []
files = sorted(glob.glob(f"{folder}/*.wav"))
for f in files[:: max(1, len(files) // count)][:count]:
    ref, rate = sf.read(f, dtype="float32")
    ref = ref[: 4 * rate] * polarity(ref[: 4 * rate], rate)  # the polarity the network was trained to put out
    with torch.no_grad():
        est = model(torch.from_numpy(ref)[None])[0].numpy()[: len(ref)]
    a = hilbert(est.astype(np.float64))
    pds = [phase_distance_deg(ref, np.real(a * np.exp(1j * np.deg2rad(t))).astype(np.float32), cfg) for t in grid]
    best = int(np.argmin(pds))
    rows.append((Path(f).name, pds[0], pds[best], int(grid[best])))
    print("%s PD %.1f best-rotation %.1f at %d deg" % rows[-1], flush=True)
pd = np.array([r[1:3] for r in rows])
print(f"{weights} on {folder}: files {len(rows)}; median PD as is {np.median(pd[:, 0]):.1f}, after the best rotation "
      f"{np.median(pd[:, 1]):.1f}")
