"""Speech polarity: the estimator, the scan that records it, and training that reads files one way up."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from models.data.dataset import CropSpec, DegradedCrops
from models.data.degrade import DegradeConfig
from models.data.files import scan_cached, scan_folders
from models.data.polarity import polarity, residual_skewness
from models.train import TrainConfig

RATE = 16_000


def voiced(seconds: float, seed: int) -> np.ndarray:
    """A vowel-like signal recorded the right way up: a train of downward pulses (glottal closures,
    as in the glottal flow derivative) at a wandering 110-150 Hz, through two formant resonators,
    in syllables, plus a little noise. [N] float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 110 + 40 * rng.random() + 15 * np.sin(2 * np.pi * 0.7 * t)
    cycles = np.floor(np.cumsum(f0) / RATE)
    excitation = -np.r_[0.0, np.diff(cycles)]
    y = excitation
    for freq, bw in ((rng.uniform(500, 800), 80.0), (rng.uniform(1100, 1800), 120.0)):
        r, w = np.exp(-np.pi * bw / RATE), 2 * np.pi * freq / RATE
        a1, a2 = 2 * r * np.cos(w), -r * r
        out = np.zeros(n)
        for i in range(n):  # all-pole resonator y[i] = x[i] + a1 y[i-1] + a2 y[i-2]
            out[i] = y[i] + a1 * out[i - 1] + a2 * out[i - 2] if i >= 2 else y[i]
        y = out
    syllables = (np.sin(2 * np.pi * 2.0 * t + rng.random() * 6) > -0.2).astype(float)
    x = y * syllables
    x = 0.3 * x / np.abs(x).max() + 1e-4 * rng.standard_normal(n)
    return x.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_downward_closure_pulses_read_as_upright(seed):
    x = voiced(1.5, seed)
    assert residual_skewness(x, RATE) < -0.5
    assert polarity(x, RATE) == 1
    assert polarity(-x, RATE) == -1


def test_no_voiced_frames_means_no_flip():
    rng = np.random.default_rng(3)
    white = (0.1 * rng.standard_normal(RATE)).astype(np.float32)  # lag-1 correlation ~0: not voiced
    assert np.isnan(residual_skewness(white, RATE)) and polarity(-white, RATE) == 1
    assert np.isnan(residual_skewness(np.zeros(RATE, np.float32), RATE))
    assert np.isnan(residual_skewness(np.ones(100, np.float32), RATE))  # shorter than a frame


def test_a_failed_lpc_fit_is_no_evidence_not_an_error(monkeypatch):
    def singular(*_args, **_kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(np.linalg, "solve", singular)
    x = voiced(1.0, 0)
    assert np.isnan(residual_skewness(x, RATE)) and polarity(-x, RATE) == 1


def _folder_with_a_flipped_file(tmp_path):
    d = tmp_path / "clean"
    d.mkdir()
    sf.write(d / "a_upright.wav", voiced(1.5, 0), RATE)
    sf.write(d / "b_flipped.wav", -voiced(1.5, 1), RATE)
    return d


def test_a_scan_records_polarity_only_when_asked(tmp_path):
    d = _folder_with_a_flipped_file(tmp_path)
    plain, report = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    assert [f.polarity for f in plain] == [1, 1] and report.flipped == 0
    files, report = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean", estimate_polarity=True)
    assert [f.polarity for f in files] == [1, -1] and report.flipped == 1
    assert "1 to be read sign-flipped" in report.summary("clean")
    # The cache of a plain scan is not reused for a polarity scan (nor the other way round).
    cache = tmp_path / "files.json"
    scan_cached([d], cache, sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    again, _ = scan_cached([d], cache, sample_rate_hz=RATE, min_seconds=0.1, what="clean", estimate_polarity=True)
    assert [f.polarity for f in again] == [1, -1]
    cached, report = scan_cached([d], cache, sample_rate_hz=RATE, min_seconds=0.1, what="clean",
                                 estimate_polarity=True)
    assert [f.polarity for f in cached] == [1, -1] and report.flipped == 1


def test_phase_targets_are_read_the_right_way_up(tmp_path):
    d = _folder_with_a_flipped_file(tmp_path)
    files, _ = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean", estimate_polarity=True)
    flipped = [f for f in files if f.polarity == -1]
    spec = CropSpec("phase", RATE, 0, DegradeConfig())
    _, target, _ = DegradedCrops(spec, flipped).sample(0)
    upright = -sf.read(flipped[0].path, dtype="float32")[0]  # the file as written, turned back up
    # The crop is some 1 s window of the file: find it, and check its sign.
    start = int(np.argmax([np.dot(upright[s:s + RATE], target) for s in range(0, len(upright) - RATE + 1, 1)]))
    window = upright[start:start + RATE]
    gain = np.dot(window, target) / np.dot(window, window)
    assert gain > 0
    np.testing.assert_allclose(target, gain * window, atol=1e-5 * np.abs(target).max())


def test_canonical_polarity_is_on_for_the_phase_task_by_default():
    assert TrainConfig(task="phase", clean_dirs=("c",)).reads_canonical_polarity
    assert not TrainConfig(task="denoise", clean_dirs=("c",)).reads_canonical_polarity
    assert TrainConfig(task="denoise", clean_dirs=("c",), canonical_polarity=True).reads_canonical_polarity
    assert not TrainConfig(task="phase", clean_dirs=("c",), canonical_polarity=False).reads_canonical_polarity


def test_gre_train_phase_logs_the_flipped_files(tmp_path, gre):
    d = _folder_with_a_flipped_file(tmp_path)
    run = tmp_path / "run"
    common = [gre, "train", "--task", "phase", "--clean", str(d), "--val-clean", str(d), "--config", "tiny",
              "--steps", "1", "--batch-size", "1", "--segment-seconds", "0.5", "--workers", "0",
              "--threads", "1", "--val-every", "100", "--no-mpd"]
    result = subprocess.run([*common, "--run-dir", str(run)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    scans = {r["what"]: r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["kind"] == "scan"}
    assert scans["clean"]["flipped"] == 1 and scans["val"]["flipped"] == 1
    assert json.loads((run / "config.json").read_text())["canonical_polarity"] is None
    kept = tmp_path / "kept"
    result = subprocess.run([*common, "--keep-polarity", "--run-dir", str(kept)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    scans = {r["what"]: r for r in map(json.loads, (kept / "log.jsonl").read_text().splitlines()) if r["kind"] == "scan"}
    assert scans["clean"]["flipped"] == 0


def test_validation_reads_files_the_way_training_does(tmp_path):
    from models.train.validation import build_val_set

    d = _folder_with_a_flipped_file(tmp_path)
    files, _ = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean", estimate_polarity=True)
    flipped = [f for f in files if f.polarity == -1]
    item = build_val_set(flipped, "phase", DegradeConfig(), 0, 1, 1.0, None, None)[0]
    upright = -sf.read(flipped[0].path, dtype="float32")[0][:RATE]
    gain = np.dot(upright, item.target) / np.dot(upright, upright)
    assert gain > 0
    np.testing.assert_allclose(item.target, gain * upright, atol=1e-5 * np.abs(item.target).max())
