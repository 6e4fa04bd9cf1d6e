"""Probe G (session 27): can the one global phase rotation that a magnitude leaves open be read from the waveform?

A magnitude spectrogram is (nearly) the same for x and for every rotation x_theta = x cos(theta) - H{x} sin(theta)
(H the Hilbert transform): all positive-frequency bins turned by theta. The sign (theta = 180) is the polarity case
`models/data/polarity.py` reads from the skewness of the LPC residual. This probe asks whether the same statistic
picks the whole angle: for each file, theta* = the rotation of the clean file (5-degree grid) whose residual is most
negatively skewed. If theta* sits within a few degrees of 0 (or 180, for files recorded upside down), a phase
retriever that got the relative phase right could fix the rest this way.

python bench/results/runs-session27/probe_rotation.py [FILES_PER_SOURCE]
"""
import glob
import sys

import numpy as np
import soundfile as sf
from scipy.signal import hilbert

from models.data.polarity import residual_skewness

per_source = int(sys.argv[1]) if len(sys.argv) > 1 else 10
grid = np.arange(0, 360, 5)
rows = []
for source in sorted(glob.glob("/work/data/gre-corpus/speech/heldout/*")):
    files = sorted(glob.glob(f"{source}/*.wav"))
    for f in files[:: max(1, len(files) // per_source)][:per_source]:
        x, sr = sf.read(f, dtype="float64")
        if x.ndim > 1:
            x = x.mean(axis=1)
        a = hilbert(x)
        skews = np.array([residual_skewness(np.real(a * np.exp(1j * np.deg2rad(t))), sr) for t in grid])
        if not np.isfinite(skews).all():
            continue
        best = int(grid[np.argmin(skews)])
        to_zero = min(best, 360 - best)
        to_180 = abs(best - 180)
        rows.append((source.rsplit("/", 1)[-1], f.rsplit("/", 1)[-1], best, to_zero, to_180, float(skews.min()),
                     float(skews.max())))
        print(*rows[-1], flush=True)
err = np.array([min(r[3], r[4]) for r in rows])
print(f"files {len(rows)}; distance of theta* to the nearer of 0 / 180 deg: median {np.median(err):.0f}, "
      f"mean {err.mean():.0f}; within 25 deg: {np.mean(err <= 25):.2f}; within 45 deg: {np.mean(err <= 45):.2f}")
