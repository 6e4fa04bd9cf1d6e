"""Rendering a :class:`models.bench.runner.BenchmarkResult`: JSON, markdown, rich table, scatter plot."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from models.bench.quality import QUALITY_METRICS
from models.json_safe import json_safe

if TYPE_CHECKING:
    from models.bench.runner import BenchmarkResult, QualityRow, SpeedRow

METHODS = {
    "rtf": "median wall seconds of --repeats calls (after --warmup untimed calls) on one signal of --seconds "
           "at 16 kHz, divided by --seconds; models: forward of the Enhancer (STFT, network, iSTFT) under "
           "inference_mode and the precision's autocast; peers: their call incl. resampling to the native rate",
    "cpu_per_audio_s": "median process CPU seconds (all threads, user + system) of the same calls per audio second",
    "throughput": "batch_size x chunk seconds / median wall seconds of one call on [batch_size, chunk] rows "
                  "(no overlap-add); peers process one signal at a time, so only batch 1",
    "memory": "peak RSS = VmHWM (resident-set high-water mark) of a fresh worker process per setting, reset to the "
              "current RSS just before the first call (so: imports + model + the calls' peak); baseline_rss_mib = "
              "the RSS just before the first call; GPU: torch.cuda.max_memory_allocated",
    "macs": "torch.utils.flop_counter on 1 s of audio, batch 1, fp32, MACs = FLOPs / 2: convolutions and matmuls; "
            "GRU counted through its per-step matmuls; SDPA and fused nn.MultiheadAttention added by formula "
            "(QK^T + AV, plus projections); FFTs and element-wise ops not counted",
    "quality": "each degraded folder enhanced whole-file into a temporary folder (models via models.batch_enhance, "
               "peers file by file), scored by models.evaluate (mean over files); peers with a delay are scored "
               "with align=True; random-weight models are not scored",
}
METRIC_LABELS = {"pesq_wb": "PESQ", "stoi": "STOI", "si_sdr": "SI-SDR", "pd": "PD"}
METRIC_DECIMALS = {"pesq_wb": 3, "stoi": 3, "si_sdr": 2, "pd": 2}




def result_to_dict(result: "BenchmarkResult") -> dict:
    o = result.options
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(o).items()}
    settings["metrics"] = list(QUALITY_METRICS)
    settings["methods"] = dict(METHODS)
    from models.bench.runner import SCHEMA

    return json_safe({
        "schema": SCHEMA,
        "command": result.command,
        "environment": result.environment,
        "settings": settings,
        "notes": list(result.notes),
        "systems": [{**s.to_dict(), "macs_per_second": result.macs.get(s.id)} for s in result.systems],
        "sets": [s.to_dict() for s in result.sets],
        "speed": [r.to_dict() for r in result.speed],
        "quality": [q.to_dict() for q in result.quality],
    })


def write_json(result: "BenchmarkResult", path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result_to_dict(result), indent=2) + "\n")


# --------------------------------------------------------------------------------------------
# Tables (shared by markdown and rich)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)


def _quality_cells(result: "BenchmarkResult", system: str, precision: str) -> tuple[list[str], list[str]]:
    cells, reasons = [], []
    for s in result.sets:
        row = next((q for q in result.quality if q.system == system and q.precision == precision and q.set == s.name), None)
        if row is None or row.status == "skipped":
            cells.extend("–" for _ in QUALITY_METRICS)
            if row is not None and row.reason and row.reason not in reasons:
                reasons.append(row.reason)
            continue
        if row.status == "error" and not any(v is not None for v in row.metrics.values()):
            cells.extend("error" for _ in QUALITY_METRICS)
        else:
            cells.extend(_num(row.metrics.get(m), f".{METRIC_DECIMALS[m]}f") for m in QUALITY_METRICS)
        if row.aligned and "aligned" not in reasons:
            reasons.append("aligned")
        if row.status == "error" and row.reason:
            reasons.append(f"{s.name}: {row.reason}")
    return cells, reasons


def main_table(result: "BenchmarkResult") -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per (system, precision), speed then quality per set, plus input rows."""
    header = ["system", "precision", "params M", "GMAC/s", "RTF", "CPU s/s", "peak RSS MiB"]
    for s in result.sets:
        header.extend(f"{s.name} {METRIC_LABELS[m]}" for m in QUALITY_METRICS)
    header.append("note")
    rows = []
    if result.sets:
        from models.bench.runner import INPUT_ROW

        cells, _ = _quality_cells(result, INPUT_ROW, "-")
        rows.append([INPUT_ROW, "-", "-", "-", "-", "-", "-", *cells, "unprocessed degraded files"])
    info = {s.id: s for s in result.systems}
    for r in result.speed:
        s = info[r.system]
        w = r.whole
        cells, reasons = _quality_cells(result, r.system, r.precision)
        notes = (["random weights, speed only"] if s.random_weights else []) + \
                [x for x in reasons if x != "random weights, speed only"]
        if r.errors:
            notes.append("speed errors: " + "; ".join(r.errors))
        macs = result.macs.get(r.system)
        params = "-" if s.params is None else ("0" if s.params == 0 else f"{s.params / 1e6:.3f}")
        rows.append([r.system, r.precision, params,
                     _num(None if macs is None else macs / 1e9, ".2f"), _num(w.rtf if w else None, ".3f"),
                     _num(w.cpu_per_audio_s if w else None, ".3f"), _num(w.peak_rss_mib if w else None, ".0f"),
                     *cells, "; ".join(notes)])
    return header, rows


def _grid(result: "BenchmarkResult") -> list[tuple[int, float]]:
    return [(b, c) for b in result.options.batch_sizes for c in result.options.chunk_seconds]


def throughput_table(result: "BenchmarkResult") -> tuple[list[str], list[list[str]]]:
    grid = _grid(result)
    header = ["system", "precision", *(f"b{b} × {c:g} s" for b, c in grid), "peak RSS MiB (largest)"]
    rows = []
    for r in result.speed:
        by_setting = {(p.batch_size, p.seconds): p for p in r.throughput}
        peaks = [p.peak_rss_mib for p in r.throughput if p.peak_rss_mib is not None]
        rows.append([r.system, r.precision,
                     *(_num(by_setting[(b, c)].throughput if (b, c) in by_setting else None, ".2f") for b, c in grid),
                     _num(max(peaks) if peaks else None, ".0f")])
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _when(unix: float | None) -> str:
    return "-" if unix is None else datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def markdown(result: "BenchmarkResult") -> str:
    o, env = result.options, result.environment
    loads = [p.load_average for r in result.speed for p in ([r.whole] if r.whole else []) + r.throughput if p.load_average]
    load_range = (f"{min(l[0] for l in loads):.2f}–{max(l[0] for l in loads):.2f}" if loads else "-")
    parts = [
        "# gre benchmark",
        "",
        f"Command: `{result.command}`" if result.command else "Command: (Python API)",
        "",
        f"Run {_when(env.get('started_unix'))} → {_when(env.get('finished_unix'))}; {env.get('cpu')}, "
        f"{env.get('logical_cpus')} logical CPUs; torch {env.get('torch')}, Python {env.get('python')}; "
        f"device {o.device}, {env.get('threads')} thread(s), OMP_WAIT_POLICY {o.wait_policy}; "
        f"{'one fresh process per setting' if o.isolate else 'all in one process'}.",
        "",
        f"Load average (1/5/15 min) at start {env.get('load_average_start')}, at end {env.get('load_average_end')}; "
        f"1-min load at the start of the speed settings {load_range}. The machine is shared: wall-clock RTF "
        f"includes waiting for the CPU, the CPU s/s column does not.",
        "",
        f"Speed: {o.seconds:g} s signal, median of {o.repeats} after {o.warmup} warm-up call(s). "
        f"Quality metrics (means over files): {', '.join(f'{METRIC_LABELS[m]} ({m})' for m in QUALITY_METRICS)}.",
        "",
        _md_table(*main_table(result)),
        "",
        "## Throughput (audio seconds per wall second)",
        "",
        _md_table(*throughput_table(result)),
        "",
    ]
    if result.notes:
        parts += ["## Notes", "", *(f"- {n}" for n in result.notes), ""]
    parts += ["## How each number is made", "", *(f"- **{k}**: {v}" for k, v in METHODS.items()), ""]
    if result.sets:
        parts += ["## Sets", "", *(f"- `{s.name}` ({s.task}): {s.reference} vs {s.degraded}" for s in result.sets), ""]
    peers = [s for s in result.systems if s.kind == "peer"]
    if peers:
        parts += ["## Peers", "", *(f"- `{s.id}`: {s.title}, package {s.package} {s.version or ''}, "
                                     f"native rate {s.native_rate_hz or 'any'} Hz, delay {s.delay_ms:g} ms; {s.source}"
                                     for s in peers), ""]
    return "\n".join(parts)


def write_markdown(result: "BenchmarkResult", path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(markdown(result))


def rich_tables(result: "BenchmarkResult"):
    from rich.table import Table

    tables = []
    for title, (header, rows) in (("gre benchmark", main_table(result)),
                                  ("throughput (audio s per wall s)", throughput_table(result))):
        table = Table(title=title, title_justify="left")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i < 2 or h == "note" else "right", overflow="fold")
        for row in rows:
            table.add_row(*row)
        tables.append(table)
    return tables


# --------------------------------------------------------------------------------------------
# Plot


def plot(result: "BenchmarkResult", path: str | Path) -> None:
    """Speed–quality scatter: x = RTF (log scale), y = PESQ-WB; one marker per set, one colour per system."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from models.bench.runner import BenchmarkError

        raise BenchmarkError("--plot needs matplotlib: pip install 'gre[plot]'") from None
    rtf = {(r.system, r.precision): r.whole.rtf for r in result.speed if r.whole is not None}
    markers = "os^Dv<>P*X"
    names = list(dict.fromkeys(r.system for r in result.speed))
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    plotted = 0
    for q in result.quality:
        x, y = rtf.get((q.system, q.precision)), q.metrics.get("pesq_wb")
        if q.status != "ok" or x is None or y is None or x <= 0:
            continue
        set_index = [s.name for s in result.sets].index(q.set)
        ax.scatter([x], [y], marker=markers[set_index % len(markers)],
                   color=colours(names.index(q.system) % 10), s=40, zorder=3)
        ax.annotate(f"{q.system} {q.precision}" if q.precision not in ("fp32", "native") else q.system, (x, y),
                    textcoords="offset points", xytext=(4, 3), fontsize=7)
        plotted += 1
    for i, s in enumerate(result.sets):  # input level per set, as a dotted line
        inp = next((q for q in result.quality if q.set == s.name and q.system == "input"), None)
        if inp and inp.metrics.get("pesq_wb") is not None:
            ax.axhline(inp.metrics["pesq_wb"], linestyle=":", linewidth=0.8, color="grey")
            ax.annotate(f"{s.name} input", (0.01, inp.metrics["pesq_wb"]), xycoords=("axes fraction", "data"),
                        fontsize=7, color="grey", va="bottom")
        ax.scatter([], [], marker=markers[i % len(markers)], color="black", label=s.name)
    ax.set_xscale("log")
    ax.set_xlabel(f"real-time factor (wall, {result.options.seconds:g} s signal; lower is faster)")
    ax.set_ylabel("PESQ (wide band)")
    ax.set_title("gre benchmark: speed vs quality", fontsize=10)
    if result.sets:
        ax.legend(fontsize=8, loc="best")
    if not plotted:
        ax.text(0.5, 0.5, "no scored systems", transform=ax.transAxes, ha="center", va="center", color="grey")
    ax.grid(True, which="both", linewidth=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
