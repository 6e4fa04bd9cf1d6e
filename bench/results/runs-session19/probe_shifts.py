"""Probe: does averaging a mask model's output over STFT-grid shifts (fractions of a hop) help PESQ-WB?
Held-out pairs drawn with a seed other than heldout_compare's (HELDOUT_SEED + 1)."""
import sys, numpy as np, torch, soundfile as sf
from pathlib import Path
import os
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
PROBE_DIR = Path(os.environ.get("PROBE_DIR", "/tmp/gre-probe"))  # where the pairs are written
torch.set_num_threads(1)
from models.api import load_model
from models import stft as S
from models.data.degrade import DegradeConfig
from models.shipping.heldout import HeldoutSpec, build_heldout_set, HELDOUT_SEED

task, model_name, nfiles = sys.argv[1], sys.argv[2], int(sys.argv[3])
C = os.environ.get("GRE_CORPUS", "/work/data/gre-corpus")  # built by recipes/debian/build_corpus.sh
spec = HeldoutSpec((f"{C}/speech/heldout",), (f"{C}/noise/heldout",) if task == "denoise" else (),
                   (f"{C}/rir/heldout",) if task == "dereverb" else (), files=nfiles, seed=HELDOUT_SEED + 1)
out = PROBE_DIR / task
evs, why = build_heldout_set(spec, task, DegradeConfig(), out)
enh = load_model(model_name).eval()
hop = enh.stft_cfg.hop_length
from pesq import pesq
res = {}
for f in sorted((out / f"heldout-{task}" / "degraded").glob("*.wav")):
    x, sr = sf.read(f, dtype="float32"); ref, _ = sf.read(out / f"heldout-{task}" / "clean" / f.name, dtype="float32")
    w = torch.from_numpy(x)[None]
    gain = S.loudness_gain(w)
    outs = []
    with torch.no_grad():
        for s in range(4):
            off = s * hop // 4
            y = enh(torch.nn.functional.pad(w, (off, 0)), gain)[0, off:off + w.shape[-1]]
            outs.append(y.numpy())
    for k in (1, 2, 4):
        if k == 1: y = outs[0]
        elif k == 2: y = (outs[0] + outs[2]) / 2
        else: y = sum(outs) / 4
        try: p = pesq(16000, ref, y, "wb")
        except Exception: continue
        res.setdefault(k, []).append(p)
    try: res.setdefault("in", []).append(pesq(16000, ref, x, "wb"))
    except Exception: pass
n = min(len(v) for v in res.values())
for k, v in res.items():
    print(k, len(v), round(float(np.mean(v)), 4))
d2 = np.array(res[2]) - np.array(res[1]); d4 = np.array(res[4]) - np.array(res[1])
for name, d in (("2-1", d2), ("4-1", d4)):
    print(name, round(d.mean(), 4), "+-", round(1.96 * d.std(ddof=1) / np.sqrt(len(d)), 4))
