"""`gre benchmark`: speed (RTF, throughput, memory, parameters, MACs) and quality of models and
peers side by side, on this machine.

    gre benchmark --models gre:small,wiener --peers all --precision fp32,bf16 --threads 2 \\
        --quality ../shared/eval --sets vbd,dns --json b.json --markdown b.md --plot b.png

Tables on stdout; progress and notes on stderr. Exit 0 when every setting ran, 1 when a setting
or a quality set failed (the rest is still reported), 2 on usage errors.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console


def _items(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _numbers(text: str, kind, option: str) -> tuple:
    try:
        return tuple(kind(t) for t in _items(text))
    except ValueError:
        raise ValueError(f"{option} takes a comma list of numbers, got {text!r}") from None


def benchmark_command(
    models: Optional[str] = typer.Option(None, "--models", help="Comma list: registry names, checkpoint files, or arch:config (random weights, speed only). Default: shipped models and wiener."),
    peers: str = typer.Option("all", "--peers", help="Comma list of dfn3, rnnoise, noisereduce, wpe, griffin-lim; 'all' or 'none'. Missing packages are skipped with a note."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N (peers always run on CPU)."),
    precision: str = typer.Option("fp32", "--precision", help="Comma list of fp32, bf16, fp16 (CUDA only)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Threads for torch, OpenMP and BLAS in every measurement (default: the libraries' own)."),
    seconds: float = typer.Option(10.0, "--seconds", help="Length of the whole-signal input of the RTF measurement."),
    batch_sizes: str = typer.Option("1,4", "--batch-sizes", help="Comma list of batch sizes for the throughput grid."),
    chunk_seconds: str = typer.Option("4", "--chunk-seconds", help="Comma list of chunk lengths (s) for the throughput grid."),
    repeats: int = typer.Option(3, "--repeats", help="Timed calls per setting (the median is reported)."),
    warmup: int = typer.Option(1, "--warmup", help="Untimed calls before the timed ones."),
    quality: Optional[Path] = typer.Option(None, "--quality", help="Folder of sets laid out as <set>/clean|wideband + noisy|reverb|narrowband."),
    sets: Optional[str] = typer.Option(None, "--sets", help="Comma list of set names under --quality (default: every set found)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every measurement as JSON (schema in models.bench)."),
    markdown_path: Optional[Path] = typer.Option(None, "--markdown", help="Write the tables and the method as markdown."),
    plot_path: Optional[Path] = typer.Option(None, "--plot", help="Write a speed-quality scatter plot (PNG)."),
    wait_policy: str = typer.Option("inherit", "--omp-wait-policy", help="OMP_WAIT_POLICY of the measuring processes: inherit (the libraries' default, what gre enhance gets; default), passive (idle threads sleep at once: robust on a busy machine, but 2-thread calls of small networks run ~5x slower), or active."),
    in_process: bool = typer.Option(False, "--in-process", help="Measure in this process instead of a fresh process per setting (memory is then this process's)."),
) -> None:
    """Speed and quality side by side: our models, classical references and the installed peers."""
    from models.bench import BenchmarkError, BenchmarkOptions, default_models, run_benchmark

    err = Console(stderr=True)

    def log(message: str) -> None:
        err.print(message, markup=False, highlight=False, soft_wrap=True)

    try:
        options = BenchmarkOptions(
            models=tuple(_items(models)) if models else default_models(), peers=tuple(_items(peers)) or ("none",),
            device=device, precisions=tuple(_items(precision)), threads=threads, seconds=seconds,
            batch_sizes=_numbers(batch_sizes, int, "--batch-sizes"),
            chunk_seconds=_numbers(chunk_seconds, float, "--chunk-seconds"), repeats=repeats, warmup=warmup,
            quality_dir=quality, sets=tuple(_items(sets)) or None, isolate=not in_process, wait_policy=wait_policy)
        command = shlex.join(["gre", "benchmark", *sys.argv[sys.argv.index("benchmark") + 1:]]) \
            if "benchmark" in sys.argv else None
        result = run_benchmark(options, log=log, command=command)
    except (BenchmarkError, ValueError) as problem:
        log(f"Error: {problem}")
        raise typer.Exit(2)
    for note in result.notes:
        log(f"note: {note}")
    from models.bench.report import rich_tables

    console = Console(width=None if sys.stdout.isatty() else 240)
    for table in rich_tables(result):
        console.print(table)
    try:
        if json_path:
            result.write_json(json_path)
        if markdown_path:
            result.write_markdown(markdown_path)
        if plot_path:
            result.plot(plot_path)
    except BenchmarkError as problem:
        log(f"Error: {problem}")
        raise typer.Exit(2)
    if result.any_error:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_command)
