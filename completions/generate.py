"""Regenerate the shell completion scripts from the Typer app: python completions/generate.py

tests/test_completions.py checks that the committed files equal what this prints.
"""
from __future__ import annotations

from pathlib import Path

from typer._completion_shared import get_completion_script

SHELLS = {"bash": "gre.bash", "zsh": "_gre.zsh", "fish": "gre.fish"}
HERE = Path(__file__).resolve().parent


def script_for(shell: str) -> str:
    return get_completion_script(prog_name="gre", complete_var="_GRE_COMPLETE", shell=shell).rstrip() + "\n"


if __name__ == "__main__":
    for shell, name in SHELLS.items():
        (HERE / name).write_text(script_for(shell))
        print(f"wrote completions/{name}")
