"""`gre evaluate` through the installed entry point."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from test_metrics_signals import speechlike, white_noise_at_snr, write

ENV = {**os.environ, "COLUMNS": "200"}


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    for i in range(3):
        x = speechlike(1.3, seed=40 + i)
        write(root / "clean" / f"u{i}.wav", x)
        write(root / "noisy" / f"u{i}.wav", x + white_noise_at_snr(x, 0.0, seed=i))
        write(root / "enhanced" / f"u{i}.wav", x + white_noise_at_snr(x, 15.0, seed=i))
    return root


def _run(gre, *args):
    return subprocess.run([gre, "evaluate", *map(str, args)], capture_output=True, text=True, env=ENV)


def test_table_json_csv_side_by_side(gre, dirs, tmp_path):
    out = _run(gre, "--ref", dirs / "clean", "--est", dirs / "noisy", "--est", dirs / "enhanced",
               "--metrics", "pesq_wb,stoi,si_sdr", "--jobs", "2",
               "--json", tmp_path / "s.json", "--csv", tmp_path / "s.csv")
    assert out.returncode == 0, out.stderr
    assert "noisy" in out.stdout and "enhanced" in out.stdout and "pesq_wb" in out.stdout and "±" in out.stdout
    data = json.loads((tmp_path / "s.json").read_text())
    assert set(data["systems"]) == {"noisy", "enhanced"}
    enhanced, noisy = data["systems"]["enhanced"], data["systems"]["noisy"]
    assert enhanced["n"] == 3 and enhanced["failed"] == 0
    assert enhanced["mean"]["si_sdr"] == pytest.approx(15.0, abs=0.3)
    assert enhanced["mean"]["pesq_wb"] > noisy["mean"]["pesq_wb"]
    assert f"{enhanced['mean']['pesq_wb']:.3f}" in out.stdout
    assert len((tmp_path / "s.csv").read_text().strip().splitlines()) == 1 + 6


def test_piped_table_keeps_long_system_names_whole(gre, dirs, tmp_path):
    """Systems are often folders that differ only at the end of a long name: piped output (no COLUMNS) must
    show each whole, on one line, not cut to the same prefix."""
    import shutil

    names = [f"outputs_of_a_system_with_a_rather_long_folder_name_{k}" for k in ("alpha", "beta", "gamma")]
    for name in names:
        shutil.copytree(dirs / "enhanced", tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([gre, "evaluate", "--ref", str(dirs / "clean"), *(a for n in names for a in ("--est", str(tmp_path / n))),
                          "--metrics", "si_sdr", "--jobs", "1"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "metric" in line)
    assert all(name in header for name in names)


def test_failures_exit_1_and_are_listed(gre, dirs, tmp_path):
    est = tmp_path / "est"
    write(est / "u0.wav", np.zeros(16000))  # all-zero estimate
    out = _run(gre, "--ref", dirs / "clean", "--est", est, "--metrics", "pesq_wb,si_sdr", "--jobs", "1")
    assert out.returncode == 1
    assert "estimate is silent" in out.stdout
    assert "2 reference file(s) without estimate: u1, u2" in out.stdout


def test_oracle_and_plot(gre, dirs, tmp_path):
    out = _run(gre, "--ref", dirs / "clean", "--degraded", dirs / "noisy", "--oracle", "--metrics", "si_sdr",
               "--plot", tmp_path / "p.png")
    assert out.returncode == 0, out.stderr
    assert "oracle_irm" in out.stdout and "oracle_cirm" in out.stdout
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_usage_errors_exit_2(gre, dirs):
    assert _run(gre, "--ref", dirs / "clean", "--oracle").returncode == 2
    bad = _run(gre, "--ref", dirs / "clean", "--est", dirs / "noisy", "--metrics", "mosnet")
    assert bad.returncode == 2 and "unknown metric" in bad.stderr
