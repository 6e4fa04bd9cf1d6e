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


def test_models_counts_a_router_s_classifier_as_its_file_builds_it(gre, tmp_path):
    """A router's row counts the classifier its file holds, whatever its width, and that of every shipped router."""
    from gre_cli.cmd_models import _classifier_params, _param_count
    from models.nets.degradation import DegradationClassifier, DegradationClassifierConfig
    from models.registry import REGISTRY
    from models.train.degradation import ClassifierTrainConfig, load_router_file, save_router

    narrow = DegradationClassifier(DegradationClassifierConfig(hidden=16))
    path = tmp_path / "narrow.safetensors"
    save_router(narrow, path, ("a", "b", "c"), ClassifierTrainConfig(("x",), ("y",), ("z",)), {})
    assert _classifier_params(str(path)) == sum(p.numel() for p in narrow.parameters())
    assert _classifier_params(str(tmp_path / "missing.safetensors")) == 0
    routers = [e for e in REGISTRY.values() if e.arch == "router"]
    for entry in routers:
        classifier, _ = load_router_file(entry.weights_path)
        stages = sum(_param_count(REGISTRY[s]) for s in entry.stages)
        assert _param_count(entry) == sum(p.numel() for p in classifier.parameters()) + stages
    rows = {r["name"]: r for r in json.loads(subprocess.run([gre, "models", "--json"], capture_output=True, text=True,
                                                             check=True).stdout)}
    for entry in routers:  # and through the entry point
        assert rows[entry.name]["params"] == _param_count(entry)
