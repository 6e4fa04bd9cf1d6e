"""The recipe's second held-out noise condition (noise/heldout-synthetic): steady noise and babble."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
import corpus_build as cb  # noqa: E402

RATE = 16_000


def _speech_dir(out: Path, tones: dict[str, float]) -> None:
    """out/speech/heldout/<source>/k.wav: per source, three 1 s tones at its frequency (Hz) and its own level."""
    for j, (source, f0) in enumerate(tones.items()):
        d = out / "speech" / "heldout" / source
        d.mkdir(parents=True)
        t = np.arange(RATE) / RATE
        for k in range(3):
            sf.write(d / f"{k}.wav", (0.05 * (j + 1)) * np.sin(2 * np.pi * f0 * t), RATE, subtype="PCM_16")


def test_babble_gives_every_talker_the_same_active_power(tmp_path):
    _speech_dir(tmp_path, {"a": 500.0, "b": 1500.0})
    speech = {s: sorted((tmp_path / "speech" / "heldout" / s).glob("*.wav")) for s in ("a", "b")}
    x = cb.babble(speech, 3 * RATE, talkers=2, rng=np.random.default_rng(0))
    assert x.shape == (3 * RATE,)
    assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0, rel=1e-6)
    spec = np.abs(np.fft.rfft(x)) ** 2
    bins = np.fft.rfftfreq(len(x), 1 / RATE)
    p500 = spec[np.abs(bins - 500) < 5].sum()
    p1500 = spec[np.abs(bins - 1500) < 5].sum()
    # source b is recorded twice as loud, yet both talkers come out at the same power
    assert p1500 / p500 == pytest.approx(1.0, rel=0.05)


def test_heldout_synthetic_noise_files_kinds_and_skip(tmp_path):
    _speech_dir(tmp_path, {"a": 300.0, "b": 700.0, "c": 1100.0})
    cb.write_heldout_synthetic_noise(tmp_path, seed=3, files=13)
    dest = tmp_path / "noise" / cb.HELDOUT_SYNTHETIC_SPLIT
    files = sorted(dest.glob("*.wav"))
    assert len(files) == 13
    rows = cb.read_tsv(tmp_path / "meta" / f"noise-{cb.HELDOUT_SYNTHETIC_SPLIT}.tsv")
    kinds = [r["kind"] for r in rows]
    # the kinds go round the cycle: the 13th file starts it again
    assert kinds == [*cb.HELDOUT_SYNTHETIC_KINDS, cb.HELDOUT_SYNTHETIC_KINDS[0]]
    for f in files:
        info = sf.info(f)
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
        assert info.frames == cb.SYNTHETIC_SECONDS * RATE
        y, _ = sf.read(f)
        assert 0.03 < np.sqrt(np.mean(y ** 2)) < 0.2  # written at RMS 0.1 (less where a peak was scaled down)
    # the same seed rebuilds the same bytes; a matching stamp skips the step
    first = {f.name: f.read_bytes() for f in files}
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    cb.write_heldout_synthetic_noise(tmp_path, seed=3, files=13)
    assert {f.name: f.stat().st_mtime_ns for f in dest.glob("*.wav")} == mtimes
    cb.stamp_path(tmp_path, f"noise-{cb.HELDOUT_SYNTHETIC_SPLIT}").unlink()
    cb.write_heldout_synthetic_noise(tmp_path, seed=3, files=13)
    assert {f.name: f.read_bytes() for f in dest.glob("*.wav")} == first


def test_heldout_synthetic_noise_needs_heldout_speech(tmp_path):
    with pytest.raises(SystemExit, match="has no speech for the babble"):
        cb.write_heldout_synthetic_noise(tmp_path, seed=3)
