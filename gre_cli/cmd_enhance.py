"""`gre enhance`: enhance files, folders (recursive), @lists, or a WAV pipe.

    gre enhance corpus/ extra.flac @more.txt clean/ --task denoise --workers 2 --report run.jsonl
    gre enhance - - --task denoise < in.wav > out.wav

Outputs mirror the input tree under OUTPUT with the same names, formats and subtypes. Progress
and per-file errors go to stderr; the one-line summary to stdout (stderr when stdout is audio).
Exit 0 when every input was enhanced or skipped, 1 when any input failed, 2 on usage errors.
"""
from __future__ import annotations

import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from models.batch_enhance import (DEFAULT_CHUNK_SECONDS, DEFAULT_OVERLAP_SECONDS, EnhanceOptions, FileResult, Summary,
                                  model_widens_bandwidth)
from models.registry import TASKS


class _RichProgress:
    """Files done / total, audio hours enhanced and speed, on stderr (only when it is a terminal)."""

    def __init__(self, console: Console, show_bar: bool, interrupt: "_Interrupt | None" = None):
        self.console = console
        self.interrupt = interrupt
        self.bar = Progress(TextColumn("enhance"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                            TextColumn("{task.fields[hours]:.3f} h audio"), TextColumn("{task.fields[speed]}"),
                            TimeElapsedColumn(), console=console, transient=True) if show_bar else None
        self.audio_s = 0.0
        self.task = None

    def __enter__(self) -> "_RichProgress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total_files: int) -> None:
        if self.bar is not None:
            self.task = self.bar.add_task("enhance", total=total_files, hours=0.0, speed="")

    def audio(self, seconds: float) -> None:
        if self.interrupt is not None:
            self.interrupt.check()
        self.audio_s += seconds
        if self.bar is not None and self.task is not None:
            elapsed = self.bar.tasks[self.task].elapsed or 0.0
            speed = f"{self.audio_s / elapsed:.2f}x real time" if elapsed > 0 else ""
            self.bar.update(self.task, hours=self.audio_s / 3600, speed=speed)

    def file_done(self, result: FileResult) -> None:
        if self.interrupt is not None:
            self.interrupt.check()
        if result.status == "error":
            self.console.print(f"error: {result.error}", markup=False, highlight=False, soft_wrap=True)
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)


def _summary_line(s: Summary) -> str:
    speed = f" ({s.audio_seconds / s.wall_seconds:.2f}x real time)" if s.wall_seconds > 0 and s.audio_seconds else ""
    dup = f", {s.duplicates} duplicate input(s) ignored" if s.duplicates else ""
    return (f"gre enhance: {s.ok} ok, {s.skipped} skipped, {s.failed} failed{dup}; "
            f"{s.audio_seconds / 3600:.3f} h of audio in {s.wall_seconds:.1f} s{speed}")


def _usage_error(console: Console, message: str) -> typer.Exit:
    console.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


class _Interrupt:
    """Signal handler for SIGINT and SIGTERM: raises KeyboardInterrupt (the Ctrl-C clean-up) and
    remembers the request. CPython drops an exception raised while a finaliser (``__del__``, a
    weakref callback) happens to run, which lost a Ctrl-C now and then: the progress callbacks,
    called between chunks, raise it again."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.requested = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


def enhance_command(
    inputs: List[str] = typer.Argument(..., metavar="INPUT...", help="Files, folders (recursive), @list.txt, or - (WAV on stdin)."),
    output: str = typer.Argument(..., metavar="OUTPUT", help="Output folder (the input tree is mirrored), or - (WAV on stdout)."),
    task: Optional[str] = typer.Option(None, "--task", help=f"One of {', '.join(TASKS)}; picks the task's shipped model."),
    model_name: Optional[str] = typer.Option(
        None, "--model", help="Registered model name (see `gre models`); names or checkpoint files joined by '+' run "
        "one after another (A+B: B enhances A's output)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint file (ours or the authors')."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16, or fp16 (CUDA only)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Chunks (one channel each) per model call (default: 6 s of audio per call on CPU, 32 s on CUDA; memory grows with it)."),
    workers: int = typer.Option(1, "--workers", help="Processes decoding and resampling while the model runs (0: none)."),
    chunk_seconds: float = typer.Option(DEFAULT_CHUNK_SECONDS, "--chunk-seconds", help="Chunk length for long files (0: whole files; Griffin-Lim phase retrieval always runs on whole files)."),
    overlap_seconds: float = typer.Option(DEFAULT_OVERLAP_SECONDS, "--overlap-seconds", help="Cross-fade between chunks."),
    skip_existing: bool = typer.Option(True, "--skip-existing/--overwrite", help="Skip inputs whose output exists, or overwrite them."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write one JSON line per input to this file."),
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: process the K-th of N deterministic slices (K from 1)."),
    out_sample_rate: Optional[int] = typer.Option(None, "--out-sample-rate", help="Output rate in Hz (default: the input's rate; for bwe, universal and a chain with a bandwidth extender at least the model's 16 kHz, so narrowband input comes out wideband)."),
    mono: bool = typer.Option(False, "--mono", help="Downmix to one channel (default: enhance every channel)."),
    atten_lim_db: Optional[float] = typer.Option(
        None, "--atten-lim-db", help="Attenuate nothing by more than this many dB: the input is mixed back in at "
        "-DB dB (e.g. 12 keeps some background but fewer artefacts; default: no limit)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads for the model (default: torch's choice; 1 is best on a busy machine)."),
    streams: Optional[int] = typer.Option(None, "--streams", help="CPU: chunks run as this many concurrent one-thread model calls (default: --threads; 1 = one call using all threads)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary; errors still go to stderr."),
) -> None:
    """Enhance audio files: any format, rate, channel count and length; never half-writes a file."""
    import torch

    from models.api import load_model
    from models.batch_enhance import enhance_paths
    from models.checkpoint import CheckpointError
    from models.enhance_inputs import Shard
    from models.registry import default_model_for

    err = Console(stderr=True)
    if model_name and checkpoint:
        raise _usage_error(err, "give --model or --checkpoint, not both")
    if task is not None and task not in TASKS:
        raise _usage_error(err, f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    if not (model_name or checkpoint or task):
        raise _usage_error(err, "say what to do: --task TASK (or --model NAME / --checkpoint PATH)")
    try:
        options = EnhanceOptions(chunk_seconds=chunk_seconds, overlap_seconds=overlap_seconds, batch_size=batch_size,
                                 workers=workers, precision=precision, skip_existing=skip_existing, mono=mono,
                                 out_sample_rate_hz=out_sample_rate, shard=Shard.parse(shard) if shard else None,
                                 report_path=report, streams=streams, atten_lim_db=atten_lim_db)
        options.validate()
        if threads is not None:
            if threads < 1:
                raise ValueError("--threads must be at least 1")
            torch.set_num_threads(threads)
        name = str(checkpoint) if checkpoint else (model_name or default_model_for(task))
        model = load_model(name, task=task, device=device)
    except (ValueError, CheckpointError) as problem:
        raise _usage_error(err, str(problem)) from None
    if task is not None and model.info is not None and task not in model.info.tasks:
        raise _usage_error(err, f"{name} is not trained for --task {task} (it does: {', '.join(model.info.tasks)})")
    if out_sample_rate is None and model_widens_bandwidth(model, task):
        options = replace(options, widen_to_model_rate=True)
    from models.device import module_device, precision_warning

    slow = precision_warning(precision, module_device(model))
    if slow and not quiet:
        err.print(f"gre enhance: warning: {slow}", markup=False, highlight=False, soft_wrap=True)

    interrupt = _Interrupt()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)
    show_bar = not quiet and err.is_terminal
    try:
        with _RichProgress(err, show_bar, interrupt) as progress:
            summary = enhance_paths(inputs, output, model, options, progress=progress)
    except ValueError as problem:
        raise _usage_error(err, str(problem)) from None
    except KeyboardInterrupt:
        err.print("interrupted: no partial output was left; run again to finish (existing outputs are skipped)")
        raise typer.Exit(130) from None
    if not quiet:
        line = _summary_line(summary)
        (err.print(line, markup=False, highlight=False, soft_wrap=True) if output == "-" else
         typer.echo(line))
    if summary.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("enhance")(enhance_command)
