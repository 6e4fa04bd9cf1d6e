import json
import os
import subprocess
import sys

from models import __version__


def test_version_and_help(gre):
    out = subprocess.run([gre, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"gre {__version__}"
    helptext = subprocess.run([gre, "--help"], capture_output=True, text=True, check=True).stdout
    assert "models" in helptext


def test_python_dash_m(gre):
    out = subprocess.run([sys.executable, "-m", "gre_cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"gre {__version__}"


def test_models_table_and_json(gre):
    rows = json.loads(subprocess.run([gre, "models", "--json"], capture_output=True, text=True, check=True).stdout)
    names = {r["name"]: r for r in rows}
    assert names["gre-tiny-random"]["params"] == 28_261
    table = subprocess.run([gre, "models"], capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"}).stdout
    assert "gre-tiny-random" in table


def test_models_piped_lists_every_name_whole(gre):
    """Piped output (not a terminal, default 80 columns) is one tab-separated line per model."""
    rows = json.loads(subprocess.run([gre, "models", "--json"], capture_output=True, text=True, check=True).stdout)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    lines = subprocess.run([gre, "models"], capture_output=True, text=True, check=True, env=env).stdout.splitlines()
    assert lines[0].split("\t")[0] == "name"
    assert [line.split("\t")[0] for line in lines[1:]] == [r["name"] for r in rows]
    assert all(len(line.split("\t")) == 7 for line in lines)


def test_unknown_command_is_a_usage_error(gre):
    out = subprocess.run([gre, "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
