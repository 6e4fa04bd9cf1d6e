"""Forward time of the GRE network on 10 s of audio: `standard` and `small`, fp32 vs bf16 autocast.

    python bench/model_speed.py [--threads 2] [--repeats 5] [--seconds 10] [--compare]

``--compare`` also times the reference forward (models/nets/fast_path.disabled()), alternating
with the fast one round by round, and checks the phase-retrieval quality on both paths.

Also reports the PESQ / PD change that bf16 causes on the phase-retrieval faithfulness check
(the authors' small weights on the VoiceBank clean files of ../shared), when ../shared is present.
Writes bench/results/model_speed.json and .md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import api  # noqa: E402
from models import stft as S  # noqa: E402
from models.config import STFTConfig, gre_config  # noqa: E402
from models.device import autocast  # noqa: E402
from models.nets import fast_path  # noqa: E402
from models.nets.gre import GRENet  # noqa: E402

SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results"


def _switch(path: str):
    return fast_path.only(*fast_path.FEATURES) if path == "fast" else fast_path.disabled()


def time_forward(net: torch.nn.Module, seconds: float, precision: str, repeats: int,
                 paths: tuple[str, ...] = ("fast",)) -> dict[str, dict]:
    """Median forward time per path ("fast", "reference"), the paths alternating round by round."""
    cfg = STFTConfig()
    wave = torch.randn(1, int(seconds * cfg.sample_rate_hz)) * 0.1
    mag, phase = S.analyse(wave, cfg)
    device = torch.device("cpu")
    times: dict[str, list[float]] = {p: [] for p in paths}
    with torch.inference_mode(), autocast(precision, device):
        for path in paths:
            with _switch(path):
                net(mag[..., :64], phase[..., :64])  # warm-up
        for _ in range(repeats):
            for path in paths:
                with _switch(path):
                    start = time.perf_counter()
                    net(mag, phase)
                    times[path].append(time.perf_counter() - start)
    return {p: {"median_s": statistics.median(t), "rtf": statistics.median(t) / seconds, "runs_s": t}
            for p, t in times.items()}


def phase_retrieval_check(precision: str, path: str = "fast") -> dict | None:
    ref = SHARED / "reference" / "renet_phase_retrieval.pt"
    if not ref.exists():
        return None
    from pesq import pesq

    model = api.load_model(ref)
    files = sorted((SHARED / "eval" / "vbd" / "clean").glob("*.wav"))
    files.append(SHARED / "eval" / "vbd-snr" / "clean" / "p257_018_0dB.wav")
    cfg = STFTConfig()
    scores = []
    for path in files:
        wave, _ = sf.read(path, dtype="float32")
        switch = _switch(path)
        with torch.inference_mode(), autocast(precision, torch.device("cpu")), switch:
            out = model(torch.from_numpy(wave)[None])[0].float().numpy()
        r = S.stft(torch.from_numpy(wave)[None].double(), cfg)
        e = S.stft(torch.from_numpy(out)[None].double(), cfg)
        d = torch.angle(e) - torch.angle(r)
        d = torch.abs(d - 2 * math.pi * torch.round(d / (2 * math.pi)))
        pd = float((r.abs() * d).sum() / r.abs().sum()) * 180 / math.pi
        scores.append((pesq(16000, wave, out, "wb"), pd))
    pesq_wb, pd = np.mean(scores, axis=0)
    return {"pesq_wb": float(pesq_wb), "pd_deg": float(pd)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--configs", default="standard,small")
    parser.add_argument("--compare", action="store_true", help="also time and check the reference path")
    args = parser.parse_args()
    paths = ("fast", "reference") if args.compare else ("fast",)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {"command": "python bench/model_speed.py " + " ".join(sys.argv[1:]),
               "threads": args.threads, "seconds": args.seconds, "repeats": args.repeats,
               "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
               "load_avg_at_start": os.getloadavg(), "speed": {}, "phase_retrieval": {}}
    for name in args.configs.split(","):
        net = GRENet(gre_config(name)).eval()
        for precision in ("fp32", "bf16"):
            for path, r in time_forward(net, args.seconds, precision, args.repeats, paths).items():
                results["speed"][f"{name}/{precision}/{path}"] = r
                print(f"{name:9s} {precision} {path:9s}: median {r['median_s']:.2f} s for {args.seconds:.0f} s audio, "
                      f"RTF {r['rtf']:.3f}", flush=True)
    for precision in ("fp32", "bf16"):
        for path in paths:
            check = phase_retrieval_check(precision, path)
            if check:
                results["phase_retrieval"][f"{precision}/{path}"] = check
                print(f"phase retrieval {precision} {path}: PESQ-WB {check['pesq_wb']:.3f}  PD {check['pd_deg']:.2f} deg")
    results["load_avg_at_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "model_speed.json").write_text(json.dumps(results, indent=2))
    lines = [f"# GRE forward speed ({args.seconds:.0f} s input, {args.threads} threads, median of {args.repeats})", "",
             f"Command: `{results['command']}`; torch {torch.__version__}; load average at start "
             f"{results['load_avg_at_start'][0]:.2f}, at end {results['load_avg_at_end'][0]:.2f} (2 cores shared with "
             "training processes: times are inflated). Path: fast = default forward, reference = "
             "`fast_path.disabled()`, timed in alternation.", "",
             "| config | precision | path | median s | RTF |", "|---|---|---|---|---|"]
    for key, r in results["speed"].items():
        cfg_name, precision, path = key.split("/")
        lines.append(f"| {cfg_name} | {precision} | {path} | {r['median_s']:.2f} | {r['rtf']:.3f} |")
    if results["phase_retrieval"]:
        lines += ["", "Phase-retrieval check (authors' small weights, 4 VoiceBank clean files):", "",
                  "| precision | path | PESQ-WB | PD (deg) |", "|---|---|---|---|"]
        for key, c in results["phase_retrieval"].items():
            precision, path = key.split("/")
            lines.append(f"| {precision} | {path} | {c['pesq_wb']:.3f} | {c['pd_deg']:.2f} |")
    (RESULTS / "model_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
