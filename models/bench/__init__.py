"""`gre benchmark`: speed and quality of our models next to the peers, on this machine.

    from models.bench import BenchmarkOptions, run_benchmark
    result = run_benchmark(BenchmarkOptions(models=("gre:small", "wiener"), precisions=("fp32", "bf16"),
                                            quality_dir=Path("../shared/eval"), sets=("vbd",)))
    result.write_json("b.json"); result.write_markdown("b.md"); result.plot("b.png")

Modules: :mod:`~models.bench.systems` (what runs: registry names, checkpoints, ``arch:config``
random-weight networks, peers from :mod:`models.peers`), :mod:`~models.bench.timing` (warm-up and
timed calls, memory), :mod:`~models.bench.macs` (MACs per audio second),
:mod:`~models.bench.worker` (one setting per fresh process), :mod:`~models.bench.quality` (sets,
scoring through :mod:`models.evaluate`), :mod:`~models.bench.runner` (the API),
:mod:`~models.bench.report` (JSON, markdown, rich tables, scatter plot).

What is measured, per system and precision (peers: precision "native"; systems without a
network: fp32 only):

- RTF: median wall time of ``repeats`` calls, after ``warmup`` untimed calls, on one signal of
  ``seconds`` at 16 kHz, divided by ``seconds``; also the CPU time of the same calls.
- throughput: audio seconds per wall second for every batch size x chunk length (peers: batch 1).
- memory: peak RSS of a fresh process per setting (VmHWM, see :mod:`models.bench.timing`); GPU peak on CUDA.
- parameters and MACs per audio second (1 s input, see :mod:`models.bench.macs` for what counts).
- quality (with a quality folder): each set's degraded files enhanced whole, scored with
  PESQ-WB, STOI, SI-SDR and PD; peers with a delay are aligned first; random weights are skipped.

JSON schema (``gre-benchmark/1``; NaN/inf written as null)::

    {
      "schema": "gre-benchmark/1",
      "command": str | null,                       # the command line that made the file
      "environment": {"python", "torch", "platform", "cpu", "logical_cpus", "threads", "device",
                      "omp_wait_policy", "isolated_processes", "started_unix", "finished_unix",
                      "load_average_start": [1, 5, 15 min] | null, "load_average_end": [...] | null},
      "settings": {"models": [str], "peers": [str], "device", "precisions": [str], "threads": int | null,
                   "seconds", "batch_sizes": [int], "chunk_seconds": [float], "repeats", "warmup",
                   "quality_dir": str | null, "sets": [str] | null, "isolate", "wait_policy", "timeout_s",
                   "metrics": [str], "methods": {name: how it is measured}},
      "notes": [str],                              # skipped peers, precision notes, ...
      "systems": [{"id", "kind": "model" | "peer", "spec", "title", "arch", "config_name", "tasks": [str],
                   "random_weights": bool, "params": int | null, "macs_per_second": int | null,
                   "batches": bool, "has_network": bool, "native_rate_hz": int | null, "delay_ms": float,
                   "package", "version", "source"}],
      "sets": [{"name", "task", "reference", "degraded"}],
      "speed": [{"system": id, "precision": "fp32" | "bf16" | "fp16" | "native",
                 "rtf": float | null, "cpu_per_audio_s": float | null,        # of the whole-signal point
                 "peak_rss_mib": float | null, "gpu_peak_mib": float | null,
                 "whole": Point | null, "throughput": [Point], "errors": [str]}],
      "quality": [{"system": id | "input", "precision", "set", "task", "status": "ok" | "skipped" | "error",
                   "reason": str | null, "aligned": bool, "n": int, "failed": int,
                   "metrics": {"pesq_wb", "stoi", "si_sdr", "pd": float | null}}]
    }
    Point = {"batch_size", "seconds" (per row), "warmup", "times_s": [wall s per timed call],
             "cpu_s": [CPU s per timed call], "median_s", "rtf", "cpu_per_audio_s", "throughput",
             "peak_rss_mib", "baseline_rss_mib", "gpu_peak_mib", "load_average": [1, 5, 15] | null}
"""
from models.bench.runner import (BenchmarkError, BenchmarkOptions, BenchmarkResult, QualityRow, SpeedRow,
                                 default_models, run_benchmark)

__all__ = ["BenchmarkError", "BenchmarkOptions", "BenchmarkResult", "QualityRow", "SpeedRow", "default_models",
           "run_benchmark"]
