"""Session 28 probe K: does fast Griffin-Lim with many iterations recover the phase up to a sign?

For N held-out clean files (first 4 s): PD of FGLA(n_iter) from zero / PGHI init, raw, against the
nearer of the reference and its flip (sign), and after the best single rotation (oracle).
Usage: python probe_gla_iters.py FOLDER N ITERS...  (e.g. /work/data/gre-corpus/speech/heldout 8 100 1000)
"""
import sys, glob, random
import numpy as np, soundfile as sf, torch
from dataclasses import replace
from models.classical import griffin_lim, GriffinLimConfig, spectral_convergence
from models.stft import STFTConfig, stft
from models.metrics.phase import anti_wrap

torch.set_num_threads(1)
folder, n, iters = sys.argv[1], int(sys.argv[2]), [int(a) for a in sys.argv[3:]]
files = sorted(glob.glob(folder + "/**/*.wav", recursive=True))
random.Random(0).shuffle(files)
cfg = replace(STFTConfig(), compress_factor=1.0)

def pds(ref, est):
    R, E = stft(torch.from_numpy(ref)[None].float(), cfg)[0], stft(torch.from_numpy(est)[None].float(), cfg)[0]
    m = R.abs(); d = torch.angle(E) - torch.angle(R)
    pd = lambda dd: float((m * anti_wrap(dd)).sum() / m.sum() * 180 / np.pi)
    rots = torch.linspace(0, 2 * np.pi, 73)[:-1]
    best = min(pd(d + r) for r in rots)
    return pd(d), min(pd(d), pd(d + np.pi)), best

rows = []
for f in files[:n]:
    x, sr = sf.read(f, dtype="float32")
    if x.ndim > 1: x = x[:, 0]
    x = x[: 4 * sr]
    X = stft(torch.from_numpy(x)[None], cfg)
    for init in ("zero", "pghi"):
        for it in iters:
            y = griffin_lim(X.abs(), len(x), GriffinLimConfig(n_iter=it, init=init, stft=cfg))[0].numpy()
            sc = float(spectral_convergence(stft(torch.from_numpy(y)[None], cfg), X.abs()))
            raw, sign, rot = pds(x, y)
            rows.append((f.split("/")[-2] + "/" + f.split("/")[-1], init, it, sc, raw, sign, rot))
            print(*rows[-1], sep="\t", flush=True)
print("\nmedians:")
for init in ("zero", "pghi"):
    for it in iters:
        r = np.array([q[3:] for q in rows if q[1] == init and q[2] == it])
        print(init, it, "SC %.3f  PD raw %.1f  sign %.1f  rot %.1f" % tuple(np.median(r, 0)))
