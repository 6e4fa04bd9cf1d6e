"""`gre evaluate`: score enhanced directories against references (every metric, all cores).

    gre evaluate --ref vbd/clean --est vbd/noisy --est vbd/mpsenet --json scores.json

Table (mean ± 95 % CI per metric and system) on stdout; progress and notes on stderr.
Exit 0 when every file was scored, 1 when a file was missing or a metric failed somewhere,
2 on usage errors.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from models.metrics import METRICS

if TYPE_CHECKING:
    from models.evaluate import EvaluationResult

#: Decimals printed per metric (PESQ and STOI 3, dB values 2, as the literature prints them).
DECIMALS = {"si_sdr": 2, "snr": 2, "pd": 2}
MAX_LISTED = 10


def _cell(mean: float | None, ci: float | None, decimals: int) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{decimals}f}" + (f" ± {ci:.{decimals}f}" if ci is not None else "")


def render_table(result: EvaluationResult) -> Table:
    """Metrics as rows, one column per system (side by side)."""
    table = Table(title=f"gre evaluate — reference {result.reference}", title_justify="left")
    table.add_column("metric")
    for name in result.systems:
        # fold, never "…": systems are often folders that differ only at the end of a long name
        table.add_column(name, justify="right", overflow="fold")
    for metric in result.metrics:
        spec = METRICS[metric]
        label = f"{metric} {'↑' if spec.higher_is_better else '↓'}" + (f" [{spec.unit}]" if spec.unit else "")
        d = DECIMALS.get(metric, 3)
        table.add_row(Text(label), *(_cell(s.mean[metric], s.ci95[metric], d) for s in result.systems.values()))
    table.add_section()
    table.add_row("files", *(str(s.n) for s in result.systems.values()))
    table.add_row("failed", *(str(s.failed) for s in result.systems.values()))
    return table


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f", ... ({len(items)} in all)" if len(items) > MAX_LISTED else "")


def print_result(result: EvaluationResult, console: Console) -> None:
    console.print(render_table(result))
    for name, s in result.systems.items():
        for metric, reasons in s.failures.items():
            for reason, count in reasons.items():
                console.print(f"{name}: {metric} failed on {count} file(s): {reason}", markup=False, highlight=False)
        if s.missing:
            console.print(f"{name}: {len(s.missing)} reference file(s) without estimate: {_listing(s.missing)}",
                          markup=False, highlight=False)
        if s.extra:
            console.print(f"{name}: {len(s.extra)} file(s) without reference (ignored): {_listing(s.extra)}",
                          markup=False, highlight=False)


def evaluate_command(
    ref: Path = typer.Option(..., "--ref", help="Directory of reference (clean) files."),
    est: Optional[List[Path]] = typer.Option(None, "--est", help="Directory of a system's outputs; repeat for several systems."),
    degraded: Optional[Path] = typer.Option(None, "--degraded", help="Directory of the degraded inputs (for --oracle)."),
    metrics: str = typer.Option("all", "--metrics", help="Comma list of metrics or families (pesq, intelligibility, sdr, composite, phase, spectral, dnsmos), or 'all'."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Worker processes [default: all cores]."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write summaries and per-file scores as JSON."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write per-file scores as CSV."),
    plot_path: Optional[Path] = typer.Option(None, "--plot", help="Write a bar chart (PNG) of the means with 95% CI."),
    align: bool = typer.Option(False, "--align", help="Remove a constant delay (cross-correlation, within ±50 ms) first."),
    oracle: bool = typer.Option(False, "--oracle", help="Add the ideal masks (IBM, IRM, IAM, PSM, cIRM, ORM) as systems; needs --degraded."),
    lsd_cutoff_hz: float = typer.Option(4000.0, "--lsd-cutoff-hz", help="lsd_hb uses the bins above this frequency."),
    max_delay_ms: float = typer.Option(50.0, "--max-delay-ms", help="Delay search range of --align."),
) -> None:
    """Score systems against references: PESQ, STOI, SI-SDR, composites, phase, LSD, DNSMOS."""
    # Imported here: pystoi pulls in scipy.signal (~1 s), which other gre commands should not pay for.
    from models.evaluate import EvaluationError, evaluate

    err = Console(stderr=True)
    progress_cb = None
    if sys.stderr.isatty():
        def progress_cb(done: int, total: int) -> None:
            err.print(f"\rscored {done}/{total} reference files", end="")

    try:
        result = evaluate(ref, est or [], degraded, metrics=metrics, jobs=jobs, align=align,
                          max_delay_s=max_delay_ms / 1000.0, oracle=oracle, lsd_cutoff_hz=lsd_cutoff_hz,
                          progress=progress_cb)
    except EvaluationError as problem:
        err.print(f"Error: {problem}", markup=False, highlight=False)
        raise typer.Exit(2)
    if progress_cb:
        err.print("")
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False)
    # Piped: wide enough for every system's whole name on one line (a log or a diff should not wrap it).
    width = None if sys.stdout.isatty() else max(100, 24 + sum(max(len(n), 15) + 3 for n in result.systems))
    print_result(result, Console(width=width))
    try:
        if json_path:
            result.write_json(json_path)
        if csv_path:
            result.write_csv(csv_path)
        if plot_path:
            result.plot(plot_path)
    except EvaluationError as problem:
        err.print(f"Error: {problem}", markup=False, highlight=False)
        raise typer.Exit(2)
    if result.any_failure:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
