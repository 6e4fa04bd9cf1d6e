"""Probe: PESQ-WB vs a mask exponent alpha applied at inference (compressed-domain ratio ** alpha).
Held-out pairs from probe_shifts.py (seed HELDOUT_SEED + 1)."""
import sys, numpy as np, torch, soundfile as sf
from pathlib import Path
import os
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root
PROBE_DIR = Path(os.environ.get("PROBE_DIR", "/tmp/gre-probe"))  # where the pairs are written
torch.set_num_threads(1)
from models.api import load_model
from models import stft as S
from pesq import pesq
task, model_name = sys.argv[1], sys.argv[2]
alphas = [float(a) for a in sys.argv[3].split(",")]
out = PROBE_DIR / task / f"heldout-{task}"
enh = load_model(model_name).eval()
cfg = enh.stft_cfg
res = {}
for f in sorted((out / "degraded").glob("*.wav")):
    x, sr = sf.read(f, dtype="float32"); ref, _ = sf.read(out / "clean" / f.name, dtype="float32")
    w = torch.from_numpy(x)[None]; gain = S.loudness_gain(w)[:, None]
    with torch.no_grad():
        mag, phase = S.analyse(w * gain, cfg)
        mh, ph = enh.network(mag, phase)
        r = (mh / mag.clamp_min(1e-8))
        for a in alphas:
            y = (S.synthesise(mag * r.clamp_min(1e-8) ** a, ph, cfg, w.shape[-1]) / gain)[0].numpy()
            try: res.setdefault(a, []).append(pesq(16000, ref, y, "wb"))
            except Exception: res.setdefault(a, []).append(np.nan)
base = np.array(res[1.0])
for a, v in res.items():
    d = np.array(v) - base; ok = ~np.isnan(d)
    print(a, round(np.nanmean(v), 4), "delta", round(d[ok].mean(), 4), "+-", round(1.96 * d[ok].std(ddof=1) / np.sqrt(ok.sum()), 4))
