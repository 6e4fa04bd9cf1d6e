"""`gre enhance` speed and memory: wall time and peak RSS for a folder of short files and one long file.

Cases (synthetic speech-like audio, 16 kHz mono PCM_16, generated once under --data):
- ``short``: ``--files`` files (default 100) of 3-10 s (uniform, seeded);
- ``long``:  one file of ``--long-minutes`` (default 60) minutes.
Settings: ``--workers 0/2`` x ``--precision fp32/bf16``, each run once through the installed
`gre` entry point (a fresh process, so its peak memory is its own). Peak RSS is sampled every
0.2 s from /proc: the main process alone, and the main process plus its loader workers.

Model (``--model``): ``small-authors`` = the authors' phase-retrieval weights (`small` config,
--task phase, through --checkpoint), ``standard-random`` = randomly initialised `standard`
weights saved to a temporary checkpoint, ``tiny`` = gre-tiny-random, ``default-<task>`` = what
`gre enhance --task <task>` uses out of the box, or any registry name.

    python bench/enhance_speed.py                                  # everything (many hours on 2 busy cores)
    python bench/enhance_speed.py --cases short --model small-authors
    python bench/enhance_speed.py --cases long --model tiny --settings w0-fp32

Results are merged into bench/results/enhance_speed.json (one row per case, model and setting)
and the table bench/results/enhance_speed.md is rewritten from all rows.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REFERENCE = ROOT.parent / "shared" / "reference" / "renet_phase_retrieval.pt"
SETTINGS = {"w0-fp32": (0, "fp32"), "w2-fp32": (2, "fp32"), "w0-bf16": (0, "bf16"), "w2-bf16": (2, "bf16")}
RATE = 16000


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Harmonic bursts with a moving pitch plus noise: enough structure for a realistic decode/encode."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6))) ** 2
    return (0.1 * voiced * envelope + 0.01 * rng.standard_normal(n)).astype(np.float32)


def make_data(root: Path, files: int, long_minutes: float) -> dict[str, tuple[Path, float]]:
    rng = np.random.default_rng(20261122)
    short = root / f"short{files}"
    if not (short / "done").exists():
        short.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            sf.write(short / f"utt{i:03d}.wav", speech_like(rng.uniform(3, 10), rng), RATE, subtype="PCM_16")
        (short / "done").write_text("")
    long = root / f"long{long_minutes:g}min"
    if not (long / "done").exists():
        long.mkdir(parents=True, exist_ok=True)
        with sf.SoundFile(long / "long.wav", "w", RATE, 1, subtype="PCM_16") as f:
            for _ in range(int(long_minutes)):  # one minute at a time: the generator stays small too
                f.write(speech_like(60.0, rng))
        (long / "done").write_text("")
    audio = {name: sum(sf.info(p).duration for p in folder.glob("*.wav")) for name, folder in (("short", short), ("long", long))}
    return {"short": (short, audio["short"]), "long": (long, audio["long"])}


def model_args(model: str, tmp: Path) -> list[str]:
    if model == "small-authors":
        if not REFERENCE.is_file():
            raise SystemExit(f"{REFERENCE} not found; use --model standard-random")
        return ["--checkpoint", str(REFERENCE), "--task", "phase"]
    if model == "standard-random":
        import torch

        from models.architectures import build_network
        from models.checkpoint import save_checkpoint
        from models.config import gre_config

        torch.manual_seed(0)
        net = build_network("gre", gre_config("standard"))
        path = tmp / "standard-random.safetensors"
        save_checkpoint(path, net.state_dict(), arch="gre", config=gre_config("standard"), config_name="standard",
                        sample_rate_hz=RATE, tasks=("denoise",), mode="enhance")
        return ["--checkpoint", str(path), "--task", "denoise"]
    if model == "tiny":
        return ["--model", "gre-tiny-random"]
    if model.startswith("default-"):  # the shipped default model of a task, e.g. default-denoise
        return ["--task", model.removeprefix("default-")]
    from models.registry import REGISTRY

    if model in REGISTRY:
        return ["--model", model, "--task", REGISTRY[model].tasks[0]]
    raise SystemExit(f"unknown --model {model}: small-authors, standard-random, tiny, default-<task> or a registry name")


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def measure(cmd: list[str]) -> dict:
    """Run ``cmd``; wall time and peak RSS (main; main + descendants) sampled every 0.2 s."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_main = peak_total = 0
    while proc.poll() is None:
        main = _rss_kb(proc.pid)
        total = main + sum(_rss_kb(k) for k in _children(proc.pid))
        peak_main, peak_total = max(peak_main, main), max(peak_total, total)
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    return {"exit_code": proc.returncode, "wall_s": wall, "peak_rss_main_mb": peak_main / 1024,
            "peak_rss_total_mb": peak_total / 1024, "load_at_start": load, "summary": out.strip(),
            "stderr_tail": err.strip().splitlines()[-3:]}


def write_results(rows: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "enhance_speed.json").write_text(json.dumps(rows, indent=2))
    lines = ["# `gre enhance` speed and peak memory on this CPU (`bench/enhance_speed.py`)", "",
             "2 CPU cores shared with other work (the 1-minute load average at the start of each run is given; "
             "above 2 the cores were busy and times are inflated). One run per row, `--threads` as given, "
             "default chunking, default batch size. Audio: synthetic speech-like, 16 kHz mono PCM_16. "
             "x RT = seconds of audio per wall-clock second. RSS main = the `gre` process; +workers adds the "
             "loader processes (shared pages counted in each).", "",
             "| case | model | workers | precision | threads | audio | wall s | x RT | RSS main MB | RSS +workers MB | load | exit |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['model']} | {r['workers']} | {r['precision']} | {r['threads']} | "
                     f"{r['audio_s'] / 60:.1f} min | {r['wall_s']:.0f} | {r['x_realtime']:.3f} | "
                     f"{r['peak_rss_main_mb']:.0f} | {r['peak_rss_total_mb']:.0f} | {r['load_at_start']:.1f} | "
                     f"{r['exit_code']} |")
    lines += ["", "Commands: " + "; ".join(sorted({f"`{r['command']}`" for r in rows}))]
    (RESULTS / "enhance_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="short,long")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--model", default="small-authors",
                        help="small-authors, standard-random, tiny, default-<task> (the shipped default) or a registry name")
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--long-minutes", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in gre (1 is fastest on a busy machine)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "gre-enhance-bench")
    args = parser.parse_args()
    data = make_data(args.data, args.files, args.long_minutes)
    gre = str(Path(sys.executable).parent / "gre")
    rows_path = RESULTS / "enhance_speed.json"
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else []
    with tempfile.TemporaryDirectory(dir=args.data) as tmp:
        margs = model_args(args.model, Path(tmp))
        for case in args.cases.split(","):
            folder, audio_s = data[case]
            for setting in args.settings.split(","):
                workers, precision = SETTINGS[setting]
                out = Path(tmp) / f"out-{case}-{setting}"
                cmd = [gre, "enhance", str(folder), str(out), *margs, "--workers", str(workers),
                       "--precision", precision, "--threads", str(args.threads), "--overwrite"]
                print(f"{case} {args.model} {setting}: {' '.join(cmd)}", flush=True)
                result = measure(cmd)
                row = {"case": case, "model": args.model, "setting": setting, "workers": workers,
                       "precision": precision, "threads": args.threads, "files": len(list(folder.glob('*.wav'))),
                       "audio_s": audio_s, **result, "x_realtime": audio_s / result["wall_s"],
                       "command": f"python bench/enhance_speed.py --cases {case} --model {args.model} "
                                  f"--settings {setting} --threads {args.threads}"}
                print(json.dumps(row), flush=True)
                rows = [r for r in rows if (r["case"], r["model"], r["setting"]) != (case, args.model, setting)] + [row]
                write_results(sorted(rows, key=lambda r: (r["case"] != "short", r["model"], r["setting"])))


if __name__ == "__main__":
    main()
