"""Entry point of the `gre` command. Each subcommand lives in its own module with a
``register(app)`` function; this file only assembles them.

Exit codes: 0 success, 1 some input failed, 2 usage error (Typer's own convention).
"""
from __future__ import annotations

import importlib

import typer

from models import __version__

#: Subcommand modules, in the order `gre --help` lists them.
COMMAND_MODULES = ("gre_cli.cmd_models", "gre_cli.cmd_enhance", "gre_cli.cmd_train", "gre_cli.cmd_average",
                   "gre_cli.cmd_evaluate", "gre_cli.cmd_benchmark")

app = typer.Typer(
    name="gre",
    help="Speech enhancement with the GRE network: denoise, dereverb, bwe, phase retrieval, universal.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gre {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """gre: speech enhancement toolkit."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def run() -> None:
    app()
