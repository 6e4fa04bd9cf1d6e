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


def test_unknown_command_is_a_usage_error(gre):
    out = subprocess.run([gre, "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
