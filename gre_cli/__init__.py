"""The `gre` command line: a thin Typer layer over the `models` Python API."""
