"""Where the GRE network's CPU forward time goes: per module type and per aten op.

    python bench/profile_gre.py [--configs small,standard] [--precisions fp32,bf16] [--threads 1,2]
                                [--seconds 4,10] [--repeats 2] [--out bench/results/profile_gre.md]

Per module type: wall-clock self time from forward pre/post hooks on the leaf-level building
blocks (time of a module minus the time of hooked modules inside it). Per op: torch.profiler
(CPU) self time of the top aten ops. Both on one input of ``--seconds`` of random audio.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import stft as S  # noqa: E402
from models.config import STFTConfig, gre_config  # noqa: E402
from models.device import autocast  # noqa: E402
from models.nets import complex_ops as C  # noqa: E402
from models.nets import hadf as H  # noqa: E402
from models.nets import mpicm as M  # noqa: E402
from models.nets.gre import GRENet  # noqa: E402

#: Module type -> reporting category. Anything not covered falls into its parent's self time.
CATEGORIES = {
    C.ComplexConv2d: "MPICM complex conv",
    nn.Conv2d: "MPICM real conv (mag conv, gate 1x1, heads)",
    C.MapComplexRMSNorm: "MPICM norms (cRMS/RMS)",
    C.MapRMSNorm: "MPICM norms (cRMS/RMS)",
    M.CrossGate: "MPICM gates (sigmoid chain)",
    M.MPICM: "MPICM glue (pad, SiLU, modulus, gate products)",
    M.DilatedDenseBlock: "dense-block concatenations",
    H.HybridAttention: "HADF attention (proj + sdpa + heads)",
    nn.GRU: "HADF bi-GRU",
    H.MagnitudeFFN: "HADF mag FFN linear/leaky (+ bi-GRU on the fast path)",
    H.PhaseFFN: "HADF phase FFN (complex GLU)",
    C.TokenRMSNorm: "HADF token norms",
    C.TokenComplexRMSNorm: "HADF token norms",
    H.HADF: "HADF glue (split/residual/cat)",
    H.DualPathHADF: "dual-path layout copies (permute/reshape)",
    GRENet: "network glue (input, head atan2)",
}


#: Fast-path methods that are called directly (not through a module's forward): timed as well.
METHODS = [
    (H.HybridAttention, "forward_tokens", "HADF attention (proj + sdpa + heads)"),
    (H.PhaseFFN, "forward_tokens", "HADF phase FFN (complex GLU)"),
    (H.HADF, "_token_scales", "HADF token norms"),
    (H.HADF, "_phase_scaled", "HADF token norms"),
]


class SelfTimer:
    """Forward hooks that accumulate wall-clock self time per category."""

    def __init__(self, net: nn.Module):
        self.totals: dict[str, float] = collections.defaultdict(float)
        self.stack: list[list[float]] = []  # [start, child time]
        self.handles = []
        for module in net.modules():
            cat = next((v for k, v in CATEGORIES.items() if type(module) is k), None)
            if cat is None:
                continue
            self.handles.append(module.register_forward_pre_hook(self._pre))
            self.handles.append(module.register_forward_hook(lambda mod, inp, out, cat=cat: self._post(cat)))
        self.patched = []
        for cls, name, cat in METHODS:
            original = getattr(cls, name)

            def timed(*args, _original=original, _cat=cat, **kwargs):
                self._pre(None, None)
                try:
                    return _original(*args, **kwargs)
                finally:
                    self._post(_cat)

            setattr(cls, name, timed)
            self.patched.append((cls, name, original))

    def _pre(self, module, inputs):
        self.stack.append([time.perf_counter(), 0.0])

    def _post(self, cat):
        start, child = self.stack.pop()
        elapsed = time.perf_counter() - start
        self.totals[cat] += elapsed - child
        if self.stack:
            self.stack[-1][1] += elapsed

    def remove(self):
        for h in self.handles:
            h.remove()
        for cls, name, original in self.patched:
            setattr(cls, name, original)


def inputs(seconds: float):
    cfg = STFTConfig()
    wave = torch.randn(1, int(seconds * cfg.sample_rate_hz)) * 0.1
    return S.analyse(wave, cfg)


def profile_one(name: str, precision: str, threads: int, seconds: float, repeats: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = GRENet(gre_config(name)).eval()
    mag, phase = inputs(seconds)
    device = torch.device("cpu")
    with torch.inference_mode(), autocast(precision, device):
        net(mag[..., :64], phase[..., :64])
        walls = []
        for _ in range(repeats):
            t = time.perf_counter()
            net(mag, phase)
            walls.append(time.perf_counter() - t)
        timer = SelfTimer(net)
        net(mag, phase)
        timer.remove()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            net(mag, phase)
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_self = sum(e.self_cpu_time_total for e in ops)
    top = [(e.key, e.count, e.self_cpu_time_total / 1e6, e.self_cpu_time_total / total_self) for e in ops[:14]]
    return {"wall": min(walls), "modules": dict(timer.totals), "ops": top}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="small,standard")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--seconds", default="4,10")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load0 = os.getloadavg()[0]
    rows = []
    lines = []
    for seconds in map(float, args.seconds.split(",")):
        for name in args.configs.split(","):
            for precision in args.precisions.split(","):
                for threads in map(int, args.threads.split(",")):
                    r = profile_one(name, precision, threads, seconds, args.repeats)
                    rows.append(((name, precision, threads, seconds), r))
                    print(f"{name} {precision} {threads}t {seconds:g}s: wall {r['wall']:.2f} s RTF {r['wall'] / seconds:.3f}"
                          f" load {os.getloadavg()[0]:.2f}", flush=True)
                    total = sum(r["modules"].values())
                    for cat, v in sorted(r["modules"].items(), key=lambda kv: -kv[1]):
                        print(f"    {cat:50s} {v:7.3f} s {100 * v / total:5.1f} %")
                    for key, count, secs, share in r["ops"][:8]:
                        print(f"      op {key:40s} x{count:<6d} {secs:7.3f} s {100 * share:5.1f} %")
    if args.out:
        lines = [f"# GRE forward profile (CPU, `python bench/profile_gre.py {' '.join(sys.argv[1:])}`)", "",
                 f"torch {torch.__version__}; load average at start {load0:.2f}, at end {os.getloadavg()[0]:.2f} "
                 "(2 cores shared with two training processes: absolute times are inflated, shares are what matter).",
                 "", "## Wall time", "", "| config | precision | threads | input s | wall s | RTF |", "|---|---|---|---|---|---|"]
        for (name, precision, threads, seconds), r in rows:
            lines.append(f"| {name} | {precision} | {threads} | {seconds:g} | {r['wall']:.2f} | {r['wall'] / seconds:.3f} |")
        cats = sorted({c for _, r in rows for c in r["modules"]})
        lines += ["", "## Self time per module type (% of the hooked forward)", "",
                  "| module type | " + " | ".join(f"{n} {p} {t}t {s:g}s" for (n, p, t, s), _ in rows) + " |",
                  "|---|" + "---|" * len(rows)]
        for cat in sorted(cats, key=lambda c: -sum(r["modules"].get(c, 0) / sum(r["modules"].values()) for _, r in rows)):
            cells = [f"{100 * r['modules'].get(cat, 0) / sum(r['modules'].values()):.1f}" for _, r in rows]
            lines.append(f"| {cat} | " + " | ".join(cells) + " |")
        lines += ["", "## Top aten ops by self CPU time", ""]
        for (name, precision, threads, seconds), r in rows:
            lines += [f"**{name} {precision} {threads} thread(s) {seconds:g} s**: " +
                      ", ".join(f"`{k}` {100 * share:.1f} %" for k, _, _, share in r["ops"][:10]), ""]
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
