"""How much of issue 7's CPU budget do the GRE network's bi-GRU recurrences alone take?

Every HADF block runs its magnitude FFN, a bi-GRU, twice: along time on each frequency row
(F' = 101 sequences of T frames per chunk) and along frequency on each frame (T sequences of
101 bins). A recurrence is sequential in its length, and on this CPU PyTorch's fastest kernel for
it (oneDNN's RNN primitive, what ``nn.GRU`` and our fast path call) is bound by its per-step
work, not by the matrix units. This script times exactly the GRUs that ``gre enhance`` runs,
at the shapes it runs them (the default 4 s chunk, one chunk per call and stream), next to the
whole network's forward on the same chunk, in alternation, in one process.

    python bench/gru_floor.py [--configs small,standard] [--precisions bf16,fp32] [--repeats 5] [--train]

Reading: ``gru core-s per audio s`` is the single-core time the recurrences of all blocks take
per second of audio (chunks step by chunk - overlap = 3.5 s of new audio each). With ``cores``
cores kept perfectly busy, the real-time factor can be no lower than that divided by ``cores``:
the ``RTF floor`` column, to compare with the issue's targets. Run it on idle cores: other load
inflates every figure alike. Writes bench/results/gru_floor.json and .md.

``--train`` adds the same for one training step of issue 5's comparison (``small``, the authors'
batch of 4 x 2 s, fp32): forward and backward of every block's two GRUs, against the goal of
5x the authors' steps per hour (their code: 27.8 s per step at 2 threads, so 5.56 s).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models import stft as S  # noqa: E402
from models.batch_enhance import DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS  # noqa: E402
from models.config import STFTConfig, gre_config  # noqa: E402
from models.device import autocast  # noqa: E402
from models.nets.gre import GRENet, downsampled_freqs  # noqa: E402

RESULTS = REPO / "bench" / "results"
#: Issue 7's targets: whole-process `gre enhance` RTF of a 120 s file at 2 threads.
TARGETS = {("small", "bf16"): 0.12, ("standard", "bf16"): 0.2, ("standard", "fp32"): 0.5}
#: Issue 5's training-speed goal: 5x the authors' steps per hour (27.8 s per step, small, 4 x 2 s, 2 threads).
AUTHORS_SMALL_STEP_S = 27.8
TRAIN_GOAL_STEP_S = AUTHORS_SMALL_STEP_S / 5


def run_times(fn, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, precision: str, repeats: int, chunk_s: float, step_s: float) -> dict:
    """Times [whole forward, time-path GRU, freq-path GRU] of one chunk, alternating, 1 thread."""
    cfg = STFTConfig()
    net = GRENet(gre_config(name)).eval()
    frames = S.num_frames(int(chunk_s * cfg.sample_rate_hz), cfg)
    freqs = downsampled_freqs(cfg.n_freqs)
    channels = net.cfg.mag_channels
    ffn = net.bottleneck[0].time.mag_ffn  # every block's GRU has this shape
    mag = torch.rand(1, cfg.n_freqs, frames)
    phase = (torch.rand(1, cfg.n_freqs, frames) * 2 - 1) * torch.pi
    time_rows = torch.randn(freqs, frames, channels)  # [B*F', T, A]: the time path's sequences
    freq_rows = torch.randn(frames, freqs, channels)  # [B*T, F', A]: the frequency path's
    jobs = {"network": lambda: net(mag, phase), "gru_time": lambda: ffn(time_rows),
            "gru_freq": lambda: ffn(freq_rows)}
    times: dict[str, list[float]] = {k: [] for k in jobs}
    with torch.inference_mode(), autocast(precision, torch.device("cpu")):
        for fn in jobs.values():
            fn()  # warm-up
        for _ in range(repeats):
            for key, fn in jobs.items():
                times[key] += run_times(fn, 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    blocks = net.cfg.num_blocks
    gru_chunk = blocks * (med["gru_time"] + med["gru_freq"])
    return {"config": name, "precision": precision, "frames": frames, "freqs": freqs, "channels": channels,
            "gru_hidden": ffn.gru.hidden_size, "blocks": blocks, "runs_s": times, "median_s": med,
            "gru_share_of_network": gru_chunk / med["network"],
            "network_core_s_per_audio_s": med["network"] / step_s,
            "gru_core_s_per_audio_s": gru_chunk / step_s,
            "gru_us_per_sequence_step": 1e6 * (med["gru_time"] + med["gru_freq"]) / (2 * freqs * frames)}


def measure_train(name: str, repeats: int, batch: int = 4, segment_s: float = 2.0) -> dict:
    """Forward + backward of every block's two GRUs (magnitude FFNs) for one training batch, fp32, 1 thread."""
    cfg = STFTConfig()
    net = GRENet(gre_config(name)).train()
    frames = S.num_frames(int(segment_s * cfg.sample_rate_hz), cfg)
    freqs = downsampled_freqs(cfg.n_freqs)
    channels = net.cfg.mag_channels
    ffn = net.bottleneck[0].time.mag_ffn
    rows = {"time": torch.randn(batch * freqs, frames, channels, requires_grad=True),
            "freq": torch.randn(batch * frames, freqs, channels, requires_grad=True)}

    def step(x: torch.Tensor) -> None:
        ffn(x).square().mean().backward()

    times: dict[str, list[float]] = {k: [] for k in rows}
    for x in rows.values():
        step(x)  # warm-up
    for _ in range(repeats):
        for key, x in rows.items():
            times[key] += run_times(lambda: step(x), 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    core_s = net.cfg.num_blocks * (med["time"] + med["freq"])
    return {"config": name, "batch": batch, "segment_s": segment_s, "frames": frames, "runs_s": times,
            "median_s": med, "gru_fwd_bwd_core_s_per_step": core_s}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="small,standard")
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cores", type=int, default=2, help="cores of the target (issue 7: 2 threads)")
    p.add_argument("--train", action="store_true", help="also time one training step's GRUs (issue 5's goal)")
    p.add_argument("--out", type=Path, default=RESULTS / "gru_floor")
    args = p.parse_args()
    torch.set_num_threads(1)  # the fast path runs the GRU on one thread per stream
    chunk_s, step_s = DEFAULT_CHUNK_SECONDS, DEFAULT_CHUNK_SECONDS - DEFAULT_OVERLAP_SECONDS
    load = os.getloadavg()[0]
    rows = [measure(c, pr, args.repeats, chunk_s, step_s)
            for c in args.configs.split(",") for pr in args.precisions.split(",")]
    train = measure_train("small", args.repeats) if args.train else None
    if train:
        train["step_floor_s_at_cores"] = train["gru_fwd_bwd_core_s_per_step"] / args.cores
        train["goal_step_s"] = TRAIN_GOAL_STEP_S
    for r in rows:
        r["rtf_floor_from_gru"] = r["gru_core_s_per_audio_s"] / args.cores
        r["rtf_whole_network_at_cores"] = r["network_core_s_per_audio_s"] / args.cores
        r["target_rtf"] = TARGETS.get((r["config"], r["precision"]))
    command = "python bench/gru_floor.py " + " ".join(sys.argv[1:])
    result = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "load_avg_at_start": load, "load_avg_at_end": os.getloadavg()[0], "chunk_s": chunk_s,
              "chunk_step_s": step_s, "cores": args.cores, "rows": rows, "train": train}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# The bi-GRU floor under issue 7's speed targets (`bench/gru_floor.py`)", "",
             f"Command: `{command}`; {result['date']}; torch {torch.__version__}; {os.cpu_count()} cores; "
             f"1-minute load average {load:.2f} at the start, {result['load_avg_at_end']:.2f} at the end. "
             f"One {chunk_s:g} s chunk per call ({rows[0]['frames']} frames x {rows[0]['freqs']} bins), 1 thread, "
             f"untrained weights (same cost as trained), median of {args.repeats} alternating rounds. "
             f"Per audio second = per chunk / {step_s:g} s (the chunk step). RTF floor = GRU core-seconds per "
             f"audio second / {args.cores} cores (perfect parallelism assumed, no other work).", "",
             "| config | precision | network s / chunk | GRU s / chunk (all blocks) | GRU share | us per sequence-step "
             "| network core-s / audio s | GRU core-s / audio s | RTF floor from GRU alone | target RTF |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gru_chunk = r["blocks"] * (r["median_s"]["gru_time"] + r["median_s"]["gru_freq"])
        target = "-" if r["target_rtf"] is None else f"{r['target_rtf']:g}"
        lines.append(f"| {r['config']} | {r['precision']} | {r['median_s']['network']:.3f} | {gru_chunk:.3f} | "
                     f"{100 * r['gru_share_of_network']:.0f} % | {r['gru_us_per_sequence_step']:.2f} | "
                     f"{r['network_core_s_per_audio_s']:.3f} | {r['gru_core_s_per_audio_s']:.3f} | "
                     f"{r['rtf_floor_from_gru']:.3f} | {target} |")
    if train:
        lines += ["", f"Training (issue 5's goal): `small`, batch {train['batch']} x {train['segment_s']:g} s "
                  f"({train['frames']} frames), fp32, forward + backward of the magnitude FFNs of all blocks, "
                  f"1 thread, median of {args.repeats} rounds.", "",
                  "| GRU fwd+bwd core-s per step | step floor at the cores (s) | goal: 5x the authors' steps per hour (s per step) |",
                  "|---|---|---|",
                  f"| {train['gru_fwd_bwd_core_s_per_step']:.2f} | {train['step_floor_s_at_cores']:.2f} | "
                  f"{TRAIN_GOAL_STEP_S:.2f} (authors {AUTHORS_SMALL_STEP_S:g} s / 5) |"]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
