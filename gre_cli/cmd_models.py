"""`gre models`: the table of registered models."""
from __future__ import annotations

import functools
import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from models.architectures import build_network, named_config
from models.registry import DEFAULT_FOR_TASK, REGISTRY, RegistryEntry


def _param_count(entry: RegistryEntry) -> int:
    """Parameters of the entry's network; a chain counts those of its stages, a router also its classifier."""
    if entry.stages:
        own = _classifier_params(str(entry.weights_path)) if entry.arch == "router" else 0
        return own + sum(_param_count(REGISTRY[s]) for s in entry.stages if s in REGISTRY)
    return _network_params(entry.arch, entry.config_name)


@functools.lru_cache(maxsize=None)
def _classifier_params(weights: str) -> int:
    """Parameters of a router's classifier as its file builds it (its config may differ from the default's);
    0 when the file is missing (the row says so)."""
    from models.train.degradation import load_router_file

    try:
        classifier, _ = load_router_file(weights)
    except (OSError, ValueError):
        return 0
    return sum(p.numel() for p in classifier.parameters())


@functools.lru_cache(maxsize=None)
def _network_params(arch: str, config_name: str) -> int:
    """Built once per (arch, config): a chain's models are also listed on their own rows."""
    if arch == "classical":
        return 0
    return sum(p.numel() for p in build_network(arch, named_config(arch, config_name)).parameters())


def models_command(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List registered models: name, tasks, parameters, sample rate, source."""
    defaults = {}
    for task, name in DEFAULT_FOR_TASK.items():
        defaults.setdefault(name, []).append(task)
    rows = []
    for entry in sorted(REGISTRY.values(), key=lambda e: e.name):
        rows.append({
            "name": entry.name, "arch": entry.arch, "config": entry.config_name, "tasks": list(entry.tasks),
            "default_for": defaults.get(entry.name, []), "params": _param_count(entry),
            "sample_rate_hz": entry.sample_rate_hz, "available": entry.available, "source": entry.source,
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    header = ("name", "arch/config", "tasks", "default for", "params", "rate", "source")
    cells = [(r["name"], f"{r['arch']}/{r['config']}", ",".join(r["tasks"]), ",".join(r["default_for"]) or "-",
              f"{r['params']:,}", f"{r['sample_rate_hz']}", r["source"] + ("" if r["available"] else " (missing)"))
             for r in rows]
    if not sys.stdout.isatty():
        # Piped (`gre models | grep denoise`, `| cut -f1`): one tab-separated line per model, nothing cut
        # short; an 80-column table would cut the names themselves.
        for line in (header, *cells):
            typer.echo("\t".join(line))
        return
    table = Table(title="gre models")
    for column in header:
        # Names are what users copy into --model: never wrapped or cut.
        table.add_column(column, no_wrap=column == "name", min_width=max(len(r["name"]) for r in rows)
                         if column == "name" else None)
    for row in cells:
        table.add_row(*row)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
