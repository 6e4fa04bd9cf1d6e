"""Audio I/O: validated reading, subtype-exact clipped writing, atomic and leak-free writes."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from models import audio_io
from models.audio_io import AtomicWriter, AudioError, clip_for_subtype, iter_blocks, read_audio, source, write_audio


def _wav(path, data, rate=16000, subtype="PCM_16", fmt=None):
    sf.write(path, data, rate, subtype=subtype, format=fmt)
    return path


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"),
                                         ("WAV", "FLOAT"), ("WAV", "DOUBLE"), ("FLAC", "PCM_S8"), ("FLAC", "PCM_16"),
                                         ("FLAC", "PCM_24")])
def test_round_trip_keeps_every_sample_and_the_subtype(tmp_path, fmt, subtype):
    src = tmp_path / f"in.{fmt.lower()}"
    x = np.random.default_rng(0).uniform(-1, 1, (1234, 3))
    _wav(src, x, subtype=subtype, fmt=fmt)
    wave, info = read_audio(src)
    assert wave.shape == (3, 1234) and wave.dtype == np.float32 and info.subtype == subtype
    out = tmp_path / f"out.{fmt.lower()}"
    write_audio(out, wave, info.sample_rate_hz, info.format, info.subtype)
    again, info2 = read_audio(out)
    assert info2.subtype == subtype and np.array_equal(again, wave)


@pytest.mark.parametrize("subtype,bits", [("PCM_U8", 8), ("PCM_16", 16), ("PCM_24", 24), ("PCM_32", 32)])
def test_integer_subtypes_clip_instead_of_wrapping(tmp_path, subtype, bits):
    out = tmp_path / "loud.wav"
    write_audio(out, np.array([[1.0, 1.7, -1.0, -3.0, 0.5]]), 16000, "WAV", subtype)
    y, _ = sf.read(out, dtype="float64")
    top = 1.0 - 2.0 ** -(bits - 1)
    np.testing.assert_allclose(y, [top, top, -1.0, -1.0, 0.5], atol=2.0 ** -(bits - 1))
    assert y[1] > 0 and y[3] < 0  # no wrap-around to the other sign


def test_float_subtype_is_not_clipped():
    assert clip_for_subtype(np.array([2.5, -3.0]), "FLOAT").tolist() == [2.5, -3.0]


@pytest.mark.parametrize("bad", ["empty", "text", "truncated_header", "nan", "inf", "no_samples"])
def test_bad_files_raise_one_line_naming_the_file(tmp_path, bad):
    path = tmp_path / f"{bad} file.wav"
    if bad == "empty":
        path.write_bytes(b"")
    elif bad == "text":
        path.write_text("this is not audio\n")
    elif bad == "truncated_header":
        _wav(path, np.zeros(1000))
        path.write_bytes(path.read_bytes()[:20])
    elif bad in ("nan", "inf"):
        x = np.zeros(1000, dtype=np.float32)
        x[500] = np.nan if bad == "nan" else np.inf
        _wav(path, x, subtype="FLOAT")
    elif bad == "no_samples":
        _wav(path, np.zeros(0))
    with pytest.raises(AudioError) as err:
        read_audio(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    path = _wav(tmp_path / "locked.wav", np.zeros(100))
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads everything: simulate the failing open
        def denied(self):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(audio_io.AudioSource, "open", denied)
    with pytest.raises(AudioError, match="permission denied"):
        read_audio(path)


def full_disk_after(calls: int):
    """A SoundFile.write that fails with ENOSPC after ``calls`` successful calls."""
    real, left = sf.SoundFile.write, [calls]

    def write(sfile, data):
        if left[0] == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        left[0] -= 1
        return real(sfile, data)

    return write


def test_full_disk_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(sf.SoundFile, "write", full_disk_after(1))
    out = tmp_path / "out" / "x.wav"
    writer = AtomicWriter(out, 16000, 1, "WAV", "PCM_16")
    writer.write(np.zeros((1, 100)))
    with pytest.raises(AudioError, match="disk full"):
        writer.write(np.zeros((1, 100)))
    assert os.listdir(out.parent) == []


def test_output_appears_only_on_commit_and_under_a_hidden_temporary_name(tmp_path):
    out = tmp_path / "x.flac"
    with AtomicWriter(out, 16000, 2, "FLAC", "PCM_16") as writer:
        writer.write(np.zeros((2, 50)))
        names = os.listdir(tmp_path)
        assert not out.exists() and len(names) == 1 and names[0].startswith(".x.flac.gre-tmp-")
        writer.commit()
    assert os.listdir(tmp_path) == ["x.flac"] and sf.info(out).frames == 50
    with AtomicWriter(tmp_path / "y.wav", 16000, 1, "WAV", "PCM_16") as writer:
        writer.write(np.zeros((1, 50)))  # leaving without commit: nothing stays
    assert os.listdir(tmp_path) == ["x.flac"]


def test_unwritable_output_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(AudioError) as err:
        AtomicWriter(blocker / "sub" / "x.wav", 16000, 1, "WAV", "PCM_16")
    assert str(blocker / "sub" / "x.wav") in str(err.value)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".x.wav{audio_io.TEMP_MARK}{audio_io._HOST}-{pid}-deadbeef"
    live = tmp_path / f".x.wav{audio_io.TEMP_MARK}{audio_io._HOST}-{os.getpid()}-cafef00d"
    stale.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    write_audio(tmp_path / "x.wav", np.zeros((1, 10)), 16000)
    assert not stale.exists() and live.exists()  # a live writer's temporary is never touched


def test_blocks_stream_the_whole_file_in_order(tmp_path):
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (10_000, 2)).astype(np.float32)
    path = _wav(tmp_path / "x.wav", x, subtype="FLOAT")
    blocks = list(iter_blocks(source(path), block_frames=3000))
    assert [b.shape[1] for b in blocks] == [3000, 3000, 3000, 1000]
    assert np.array_equal(np.concatenate(blocks, axis=1), x.T)
