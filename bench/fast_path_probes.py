"""Probes behind the CPU fast-path decisions (issue 7), each a small A/B on this machine.

    python bench/fast_path_probes.py streams      # 1 thread vs 2 intra-op threads vs 2 one-thread streams
    python bench/fast_path_probes.py native-bf16  # autocast bf16 vs a model cast to bf16 vs fp32
    python bench/fast_path_probes.py attention    # fused SDPA vs explicit matmul-softmax-matmul
    python bench/fast_path_probes.py gru          # the bi-GRU: fp32 vs bf16 recurrence vs a Python loop
    python bench/fast_path_probes.py all --out bench/results/fast_path_probes.md

Untrained networks (`GRENet(gre_config(name))`), random inputs, 4 s chunks (641 frames x 201 bins),
medians of ``--repeats`` timed calls after one warm-up. Times are wall seconds unless marked CPU.
Run it on a quiet machine: every probe is a ratio of variants timed in the same process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.config import gre_config  # noqa: E402
from models.nets.gre import GRENet  # noqa: E402

FRAMES = 641  # 4 s: 64,000 samples at the 100-sample (6.25 ms) hop, centred


def _median_time(fn, repeats: int, clock=time.perf_counter) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def _inputs(count: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(1, 201, FRAMES, generator=g).to(dtype),
             (torch.rand(1, 201, FRAMES, generator=g) * 6.28 - 3.14).to(dtype)) for _ in range(count)]


def _forward(net, x, bf16: bool):
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return net(*x)


def probe_streams(repeats: int) -> list[str]:
    """Four 4 s chunks: one after another with 1 and 2 intra-op threads, or as 2 concurrent one-thread streams."""
    rows = ["| config | precision | 1 thread s | 2 threads s | 2 streams x 1 thread s | RTF 1t / 2t / 2 streams |",
            "|---|---|---|---|---|---|"]
    pool = ThreadPoolExecutor(2, initializer=lambda: torch.set_num_threads(1))
    for config, bf16 in (("small", True), ("small", False), ("standard", True), ("standard", False)):
        torch.manual_seed(0)
        net = GRENet(gre_config(config)).eval()
        xs = _inputs(4)

        def sequential(threads: int):
            torch.set_num_threads(threads)
            for x in xs:
                _forward(net, x, bf16)

        def streams():
            list(pool.map(lambda x: _forward(net, x, bf16), xs))

        t1 = _median_time(lambda: sequential(1), repeats)
        t2 = _median_time(lambda: sequential(2), repeats)
        ts = _median_time(streams, repeats)
        audio = 4 * 4.0
        rows.append(f"| {config} | {'bf16' if bf16 else 'fp32'} | {t1:.2f} | {t2:.2f} | {ts:.2f} | "
                    f"{t1 / audio:.3f} / {t2 / audio:.3f} / {ts / audio:.3f} |")
    pool.shutdown()
    torch.set_num_threads(1)
    return rows


def probe_native_bf16(repeats: int) -> list[str]:
    """CPU seconds per 4 s chunk, 1 thread: autocast bf16, the model cast to bf16, fp32."""
    torch.set_num_threads(1)
    rows = ["| config | autocast bf16 CPU s | bf16 weights CPU s | fp32 CPU s |", "|---|---|---|---|"]
    for config in ("small", "standard"):
        torch.manual_seed(0)
        net = GRENet(gre_config(config)).eval()
        native = GRENet(gre_config(config)).eval().to(torch.bfloat16)
        native.load_state_dict({k: v.to(torch.bfloat16) for k, v in net.state_dict().items()})
        x = _inputs(1)[0]
        xb = tuple(t.to(torch.bfloat16) for t in x)
        auto = _median_time(lambda: _forward(net, x, True), repeats, time.process_time)
        cast = _median_time(lambda: _forward(native, xb, False), repeats, time.process_time)
        fp32 = _median_time(lambda: _forward(net, x, False), repeats, time.process_time)
        rows.append(f"| {config} | {auto:.2f} | {cast:.2f} | {fp32:.2f} |")
    return rows


def probe_attention(repeats: int) -> list[str]:
    """The time path [101 rows, 4 heads, 641 frames, d 20] and the frequency path [641, 4, 101, 20], 1 thread."""
    torch.set_num_threads(1)
    rows = ["| shape [N, H, L, d] | dtype | SDPA ms | matmul-softmax-matmul ms (16-row blocks) |", "|---|---|---|---|"]
    for shape in ((101, 4, FRAMES, 20), (FRAMES, 4, 101, 20)):
        for dtype in (torch.float32, torch.bfloat16):
            q, k, v = (torch.randn(*shape, dtype=dtype) for _ in range(3))

            def explicit():
                out = torch.empty_like(q)
                for i in range(0, shape[0], 16):
                    s = (q[i:i + 16] @ k[i:i + 16].transpose(-1, -2)) * shape[-1] ** -0.5
                    out[i:i + 16] = torch.softmax(s, -1) @ v[i:i + 16]
                return out

            with torch.inference_mode():
                sdpa = _median_time(lambda: F.scaled_dot_product_attention(q, k, v), repeats)
                manual = _median_time(explicit, repeats)
            rows.append(f"| {list(shape)} | {str(dtype).removeprefix('torch.')} | {sdpa * 1e3:.1f} | {manual * 1e3:.1f} |")
    return rows


def probe_gru(repeats: int) -> list[str]:
    """One bi-GRU call (hidden 2A), 1 thread: torch's recurrence in fp32 and bf16, and a Python loop
    that steps both directions with one batched matmul per step."""
    torch.set_num_threads(1)
    rows = ["| A | [rows, steps] | fp32 ms | bf16 ms | Python loop, directions fused, fp32 ms |", "|---|---|---|---|---|"]
    for channels in (32, 48):
        hidden = 2 * channels
        for rows_, steps in ((101, FRAMES), (FRAMES, 101)):
            torch.manual_seed(0)
            gru = torch.nn.GRU(channels, hidden, bidirectional=True, batch_first=True)
            x = torch.randn(rows_, steps, channels)
            times = {}
            with torch.inference_mode():
                for dtype in (torch.float32, torch.bfloat16):
                    w = [p.to(dtype) for p in gru._flat_weights]
                    h0 = torch.zeros(2, rows_, hidden, dtype=dtype)
                    xx = x.to(dtype)
                    times[dtype] = _median_time(
                        lambda: torch._VF.gru(xx, h0, w, True, 1, 0.0, False, True, True), repeats)
                w_ih = torch.stack([gru.weight_ih_l0, gru.weight_ih_l0_reverse])
                w_hh = torch.stack([gru.weight_hh_l0, gru.weight_hh_l0_reverse]).transpose(1, 2).contiguous()
                b_ih = torch.stack([gru.bias_ih_l0, gru.bias_ih_l0_reverse])
                b_hh = torch.stack([gru.bias_hh_l0, gru.bias_hh_l0_reverse])

                def loop():
                    gi = torch.einsum("nla,dga->dlng", x, w_ih) + b_ih[:, None, None]
                    gi = torch.stack([gi[0], gi[1].flip(0)], 1)  # [L, 2, N, 3H]
                    h = x.new_zeros(2, rows_, hidden)
                    outs = []
                    for s in range(steps):
                        gh = torch.baddbmm(b_hh[:, None], h, w_hh)
                        rz = torch.sigmoid(gi[s, ..., :2 * hidden] + gh[..., :2 * hidden])
                        n = torch.tanh(gi[s, ..., 2 * hidden:] + rz[..., :hidden] * gh[..., 2 * hidden:])
                        h = n + rz[..., hidden:] * (h - n)
                        outs.append(h)
                    o = torch.stack(outs)
                    return torch.cat([o[:, 0], o[:, 1].flip(0)], -1).transpose(0, 1)

                torch.testing.assert_close(loop(), gru(x)[0], rtol=1e-4, atol=1e-5)
                times["loop"] = _median_time(loop, repeats)
            rows.append(f"| {channels} | [{rows_}, {steps}] | {times[torch.float32] * 1e3:.1f} | "
                        f"{times[torch.bfloat16] * 1e3:.1f} | {times['loop'] * 1e3:.1f} |")
    return rows


PROBES = {"streams": probe_streams, "native-bf16": probe_native_bf16, "attention": probe_attention, "gru": probe_gru}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("probe", choices=[*PROBES, "all"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, help="also write the tables (markdown) to this file")
    args = p.parse_args()
    names = list(PROBES) if args.probe == "all" else [args.probe]
    load = os.getloadavg()[0]
    lines = [f"# CPU fast-path probes (`python bench/fast_path_probes.py {' '.join(sys.argv[1:])}`)", "",
             f"torch {torch.__version__}, {os.cpu_count()} cores, 1-minute load average at the start {load:.1f}; "
             f"medians of {args.repeats} calls after a warm-up.", ""]
    for name in names:
        lines += [f"## {name}", "", PROBES[name].__doc__.strip(), "", *PROBES[name](args.repeats), ""]
        print(f"[{name}] done", file=sys.stderr, flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
