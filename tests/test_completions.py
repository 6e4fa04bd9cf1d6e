"""The committed completion scripts are the ones the Typer app generates now, and they work."""
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[1] / "completions"


def _generator():
    spec = importlib.util.spec_from_file_location("gen", COMPLETIONS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_current(shell):
    gen = _generator()
    committed = (COMPLETIONS / gen.SHELLS[shell]).read_text()
    assert committed == gen.script_for(shell), "run: python completions/generate.py"


def test_bash_completion_lists_subcommands(gre):
    env = {**os.environ, "_GRE_COMPLETE": "complete_bash", "COMP_WORDS": "gre mo", "COMP_CWORD": "1"}
    out = subprocess.run([gre], env=env, capture_output=True, text=True)
    assert "models" in out.stdout.split()
