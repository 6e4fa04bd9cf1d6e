"""The corpus recipe's noise-floor filter and file conversion, on synthetic audio."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
import corpus_audio as ca  # noqa: E402
import corpus_build as cb  # noqa: E402

RATE = 16_000


def _utterance(floor_dbfs: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """0.3 s pause, 1 s of a loud tone, 0.3 s pause, over white noise at ``floor_dbfs`` RMS."""
    rng = np.random.default_rng(seed)
    n_pause, n_tone = int(0.3 * rate), rate
    t = np.arange(n_tone) / rate
    x = np.concatenate([np.zeros(n_pause), 0.5 * np.sin(2 * np.pi * 220 * t), np.zeros(n_pause)])
    return (x + 10 ** (floor_dbfs / 20) * rng.standard_normal(len(x))).astype(np.float32)


@pytest.mark.parametrize("floor", [-80.0, -65.0, -50.0, -40.0])
def test_floor_measures_the_background_between_sounds(floor):
    measured = ca.noise_floor_dbfs(_utterance(floor), RATE)
    # The quietest of ~30 frames of Gaussian noise sits a little below its mean level.
    assert floor - 3.0 < measured < floor + 0.5


def test_floor_ignores_digital_zero_padding():
    x = np.concatenate([np.zeros(RATE, dtype=np.float32), _utterance(-70.0), np.zeros(RATE, dtype=np.float32)])
    assert -73.0 < ca.noise_floor_dbfs(x, RATE) < -69.5
    assert ca.noise_floor_dbfs(np.zeros(RATE, dtype=np.float32), RATE) == float("-inf")


def test_filter_keeps_clean_and_drops_hissy():
    assert ca.passes_floor(_utterance(-75.0), RATE, -55.0)
    assert not ca.passes_floor(_utterance(-45.0), RATE, -55.0)
    assert ca.passes_floor(_utterance(-45.0), RATE, None)  # sources without a filter keep everything


def test_conversion_resamples_filters_and_writes_pcm16(tmp_path):
    rows = []
    for name, floor, rate in (("clean", -75.0, 44_100), ("hissy", -45.0, 22_050)):
        src = tmp_path / f"{name}.flac"
        sf.write(src, np.stack([_utterance(floor, rate)] * 2, axis=1), rate)  # stereo in
        job = (str(src), str(tmp_path / "out" / f"{name}.wav"), src.name, -55.0, 0.3, 48_000)
        rows.extend(cb.convert_batch([job]))
    clean, hissy = rows
    assert clean["kept"] == 1 and clean["rate_hz"] == 44_100
    assert hissy["kept"] == 0 and hissy["reason"] == "noisy_floor"
    assert not (tmp_path / "out" / "hissy.wav").exists()
    info = sf.info(tmp_path / "out" / "clean.wav")
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    assert abs(info.frames - int(1.6 * RATE)) <= 2
    assert clean["seconds"] == pytest.approx(1.6, abs=1e-3)


def test_conversion_drops_short_silent_and_mistagged(tmp_path):
    cases = {"short": (np.full(800, 0.3, np.float32), RATE), "silent": (np.zeros(RATE, np.float32), RATE),
             "mistagged": (_utterance(-75.0, 16_000), 128_000)}
    jobs = []
    for name, (x, rate) in cases.items():
        src = tmp_path / f"{name}.wav"
        sf.write(src, x, rate)
        jobs.append((str(src), str(tmp_path / f"{name}_out.wav"), src.name, None, 0.3, 48_000))
    reasons = [r["reason"] for r in cb.convert_batch(jobs)]
    assert reasons == ["too_short", "silent", "bad_rate"]


def test_loud_input_is_scaled_not_clipped(tmp_path):
    x = np.sin(np.linspace(0, 200, RATE)).astype(np.float32) * 1.5
    gain = ca.write_pcm16(tmp_path / "loud.wav", x)
    y, _ = sf.read(tmp_path / "loud.wav")
    assert gain == pytest.approx(0.99 / 1.5, rel=1e-3)
    assert np.max(np.abs(y)) <= 0.991
    assert np.corrcoef(x, y)[0, 1] > 0.9999


def test_output_names_are_flat_and_safe():
    assert cb.output_name("digits/1.g722") == "digits__1.wav"
    assert cb.output_name("a b/c'd.ogg") == "a_b__c_d.wav"
