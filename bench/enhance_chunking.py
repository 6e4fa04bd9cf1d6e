"""Chunked overlap-add versus whole-file processing: WB-PESQ on the DNS evaluation files.

The GRE network normalises statistics over each input's whole (T, F) map, so a chunk sees
slightly different statistics than the whole file. This script measures what that costs for
several chunk / overlap lengths, with a real network: the authors' phase-retrieval weights
(`small` config) on `shared/eval/dns/clean` (phase retrieval of clean speech, scored against
the clean file), and every shipped model for the other tasks on `dns/noisy` when one exists.

    python bench/enhance_chunking.py            # writes bench/results/enhance_chunking.{json,md}

Evaluation only: nothing is tuned on these files beyond the choice of default chunk lengths.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from pesq import pesq

from models import api
from models.overlap_add import enhance_chunked
from models.registry import DEFAULT_FOR_TASK

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIGS = ((2.0, 0.5), (3.0, 0.5), (4.0, 0.5), (4.0, 1.0), (6.0, 1.0), (8.0, 1.0))


def run_model(model, wave: np.ndarray, chunk_s: float | None, overlap_s: float) -> np.ndarray:
    rate = model.sample_rate_hz
    chunk = 0 if chunk_s is None else int(round(chunk_s * rate))
    fn = lambda rows, gain: model(rows, gain)  # noqa: E731
    with torch.inference_mode():
        return enhance_chunked(wave[None], fn, chunk, int(round(overlap_s * rate)), batch_size=4)[0]


def evaluate(model, label: str, degraded: list[Path], clean_dir: Path) -> dict:
    rows = {}
    for path in degraded:
        clean, rate = sf.read(clean_dir / path.name, dtype="float32")
        noisy, _ = sf.read(path, dtype="float32")
        scores = {}
        for cfg in (None, *CONFIGS):
            t0 = time.perf_counter()
            out = run_model(model, noisy, None if cfg is None else cfg[0], 0.0 if cfg is None else cfg[1])
            key = "whole" if cfg is None else f"{cfg[0]:g}s/{cfg[1]:g}s"
            scores[key] = {"pesq": float(pesq(rate, clean, out, "wb")), "seconds": time.perf_counter() - t0}
            print(f"{label} {path.name} {key}: PESQ {scores[key]['pesq']:.4f} ({scores[key]['seconds']:.1f} s)", flush=True)
        rows[path.name] = scores
    keys = list(next(iter(rows.values())))
    mean = {k: float(np.mean([r[k]["pesq"] for r in rows.values()])) for k in keys}
    worst = {k: float(max(abs(r[k]["pesq"] - r["whole"]["pesq"]) for r in rows.values())) for k in keys}
    return {"model": label, "files": rows, "mean_pesq": mean,
            "mean_diff_vs_whole": {k: mean[k] - mean["whole"] for k in keys}, "max_abs_file_diff": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "enhance_chunking")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dns = SHARED / "eval" / "dns"
    if not dns.is_dir():
        raise SystemExit(f"{dns} not found: this benchmark needs the shared evaluation files")
    results = []
    reference = SHARED / "reference" / "renet_phase_retrieval.pt"
    if reference.is_file():
        model = api.load_model(reference, task="phase")
        results.append(evaluate(model, "authors' phase retrieval (small), dns/clean",
                                sorted((dns / "clean").glob("*.wav")), dns / "clean"))
    for task in ("denoise", "universal"):
        if task in DEFAULT_FOR_TASK:
            model = api.load_model(task=task)
            results.append(evaluate(model, f"{DEFAULT_FOR_TASK[task]} ({task}), dns/noisy",
                                    sorted((dns / "noisy").glob("*.wav")), dns / "clean"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": "python bench/enhance_chunking.py",
                                                         "results": results}, indent=2))
    lines = ["# Chunked overlap-add vs whole-file processing (WB-PESQ, shared/eval/dns, 3 x 10 s)", "",
             "Command: `python bench/enhance_chunking.py`. chunk/overlap in seconds; diff = mean PESQ "
             "minus whole-file mean; worst = largest per-file |difference|.", ""]
    for r in results:
        lines += [f"## {r['model']}", "", "| chunk/overlap | mean PESQ | diff | worst file |", "| --- | --- | --- | --- |"]
        for k, v in r["mean_pesq"].items():
            lines.append(f"| {k} | {v:.4f} | {r['mean_diff_vs_whole'][k]:+.4f} | {r['max_abs_file_diff'][k]:.4f} |")
        lines.append("")
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
