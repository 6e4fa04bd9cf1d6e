"""The shipped example audio (examples/): present, 16 kHz mono PCM_16, paired, small, documented."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COUNTS = {"denoise": 3, "dereverb": 2, "bwe": 2, "phase": 2}


def _inputs() -> list[Path]:
    return sorted(p for task in COUNTS for p in (EXAMPLES / task).glob("*.wav"))


@pytest.mark.parametrize("task,count", sorted(COUNTS.items()))
def test_each_task_has_its_examples(task, count):
    assert len(list((EXAMPLES / task).glob("*.wav"))) == count


@pytest.mark.parametrize("path", _inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_and_reference_are_16k_mono_pcm16_and_aligned(path):
    ref = EXAMPLES / "clean" / path.name
    assert ref.is_file(), f"{path.name} has no clean reference"
    for p in (path, ref):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16_000, 1, "PCM_16", "WAV")
        assert 2.5 <= info.duration <= 4.5
    x, _ = sf.read(path)
    y, _ = sf.read(ref)
    assert len(x) == len(y)
    assert 0.1 < np.max(np.abs(x)) <= 1.0 and np.max(np.abs(y)) > 0.01


def test_degradations_are_what_their_folder_says():
    for p in (EXAMPLES / "denoise").glob("*.wav"):
        x, _ = sf.read(p)
        y, _ = sf.read(EXAMPLES / "clean" / p.name)
        snr = 10 * np.log10(np.sum(y ** 2) / np.sum((x - y) ** 2))
        assert -0.5 <= snr <= 10.5, p.name
    for p in (EXAMPLES / "bwe").glob("*.wav"):
        x, _ = sf.read(p)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / 16_000)
        assert spec[f > 4300].sum() < 1e-4 * spec.sum(), p.name
    for p in (EXAMPLES / "phase").glob("*.wav"):
        x, _ = sf.read(p)
        y, _ = sf.read(EXAMPLES / "clean" / p.name)
        np.testing.assert_array_equal(x, y)


def test_total_size_and_provenance():
    wavs = list(EXAMPLES.rglob("*.wav"))
    assert sum(p.stat().st_size for p in wavs) < 2_000_000
    assert len(list((EXAMPLES / "clean").glob("*.wav"))) == sum(COUNTS.values())
    readme = (EXAMPLES / "README.md").read_text()
    for p in _inputs():
        assert f"{p.parent.name}/{p.name}" in readme  # every file has its provenance row
    for words in ("CC-BY-SA-3.0", "CC-BY-3.0", "June Wallack", "Carlo Flora"):
        assert words in readme
