"""Probe G2 (session 27): how much of the authors' phase-retrieval error on our held-out speech is one global
rotation per file? Their small model (trained on VoiceBank, `../shared/reference/renet_phase_retrieval.pt`, never
shipped) retrieves the phase of held-out files; PD as it is, against the sign-flipped reference, and after the best
rotation of the whole output (x cos t - H{x} sin t, 5-degree grid, an oracle).

python bench/results/runs-session27/probe_rotation_authors.py [FILES_PER_SOURCE]
"""
import glob
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import hilbert

from models import api
from models.stft import STFTConfig
from models.train.validation import phase_distance_deg

torch.set_num_threads(1)
per_source = int(sys.argv[1]) if len(sys.argv) > 1 else 3
model = api.load_model(Path("../shared/reference/renet_phase_retrieval.pt"), task="phase")
cfg, grid, rows = STFTConfig(), np.arange(0, 360, 5), []
for source in sorted(glob.glob("/work/data/gre-corpus/speech/heldout/*")):
    files = sorted(glob.glob(f"{source}/*.wav"))
    for f in files[:: max(1, len(files) // per_source)][:per_source]:
        ref, rate = sf.read(f, dtype="float32")
        ref = ref[: 4 * rate]
        with torch.no_grad():
            est = model(torch.from_numpy(ref)[None])[0].numpy()[: len(ref)]
        a = hilbert(est.astype(np.float64))
        pds = [phase_distance_deg(ref, np.real(a * np.exp(1j * np.deg2rad(t))).astype(np.float32), cfg) for t in grid]
        best = int(np.argmin(pds))
        rows.append((source.rsplit("/", 1)[-1], Path(f).name, pds[0], pds[36], pds[best], int(grid[best])))
        print("%s %s PD %.1f flipped %.1f best-rotation %.1f at %d deg" % rows[-1], flush=True)
pd = np.array([r[2:5] for r in rows])
print(f"files {len(rows)}; median PD as is {np.median(pd[:, 0]):.1f}, against the flipped reference "
      f"{np.median(pd[:, 1]):.1f}, after the best rotation {np.median(pd[:, 2]):.1f}")
