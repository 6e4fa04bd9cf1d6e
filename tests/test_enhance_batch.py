"""Directory runs through the Python API (models.batch_enhance): every input kind, bad inputs, batching."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models import api, audio_io
from models.audio_io import source
from models.batch_enhance import EnhanceOptions, enhance_paths
from models.enhance_loader import ChunkData, FileStart, LoadSettings, load_file

CHUNKING = dict(chunk_seconds=0.2, overlap_seconds=0.05)  # so that short test files are chunked too


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():
    return api.load_model("gre-tiny-random")


def speech_like(frames: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] * (1 + 0.5 * rng.standard_normal((1, channels)))
    return (x + 0.05 * rng.standard_normal((frames, channels))).astype(np.float32)


#: name -> (rate, channels, seconds or frames, subtype, kind)
GOOD = {
    "pcm_u8.wav": (16000, 1, 0.3, "PCM_U8", "speech"),
    "pcm_16.wav": (16000, 1, 0.3, "PCM_16", "speech"),
    "pcm_24.wav": (16000, 1, 0.3, "PCM_24", "speech"),
    "pcm_32.wav": (16000, 1, 0.3, "PCM_32", "speech"),
    "float.wav": (16000, 1, 0.3, "FLOAT", "speech"),
    "rates/8k.wav": (8000, 1, 0.3, "PCM_16", "speech"),
    "rates/22k.wav": (22050, 1, 0.3, "PCM_16", "speech"),
    "rates/44k.wav": (44100, 2, 0.3, "PCM_16", "speech"),
    "rates/48k.wav": (48000, 1, 0.3, "PCM_24", "speech"),
    "rates/96k.wav": (96000, 1, 0.25, "PCM_24", "speech"),
    "channels/three.wav": (16000, 3, 0.25, "PCM_16", "speech"),
    "channels/six.flac": (16000, 6, 0.25, "PCM_16", "speech"),
    "channels/eight.wav": (16000, 8, 0.25, "FLOAT", "speech"),
    "formats/x.flac": (44100, 1, 0.3, "PCM_24", "speech"),
    "formats/x.ogg": (48000, 1, 0.3, "VORBIS", "speech"),
    "silence.wav": (16000, 2, 0.3, "PCM_16", "silence"),
    "clipped.wav": (16000, 1, 0.3, "PCM_16", "clipped"),
    "short/one frame.wav": (16000, 1, 150, "PCM_16", "speech"),  # < 400 samples, the STFT frame
    "short/three samples.wav": (48000, 1, 3, "PCM_16", "speech"),
    "names/with space é ü 日本.wav": (16000, 1, 0.3, "PCM_16", "speech"),
    "deep/a/b/c/nested.flac": (16000, 1, 0.3, "PCM_16", "speech"),
}


def make(path: Path, rate: int, channels: int, length: float | int, subtype: str, kind: str) -> None:
    frames = length if isinstance(length, int) else int(length * rate)
    x = speech_like(frames, channels, seed=len(path.name))
    if kind == "silence":
        x = np.zeros_like(x)
    elif kind == "clipped":
        x = np.clip(4 * x, -1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype=subtype)


@pytest.fixture(scope="module")
def good_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("good") / "in"
    for name, spec in GOOD.items():
        make(root / name, *spec)
    return root


def read_report(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_kind_of_good_input_is_enhanced_with_its_format_kept(tiny, good_tree, tmp_path):
    report = tmp_path / "report.jsonl"
    summary = enhance_paths([str(good_tree)], str(tmp_path / "out"), tiny,
                            EnhanceOptions(report_path=report, batch_size=6, **CHUNKING))
    assert (summary.ok, summary.failed, summary.skipped) == (len(GOOD), 0, 0)
    lines = read_report(report)
    assert len(lines) == len(GOOD) and all(set(r) == {"input", "output", "status", "error", "duration_s", "seconds"}
                                           for r in lines)
    for name in GOOD:
        src, out = sf.info(good_tree / name), sf.info(tmp_path / "out" / name)
        assert (out.frames, out.samplerate, out.channels, out.format, out.subtype) == \
               (src.frames, src.samplerate, src.channels, src.format, src.subtype), name
    silence, _ = sf.read(tmp_path / "out" / "silence.wav")
    assert not silence.any()
    assert not list((tmp_path / "out").rglob(f"*{audio_io.TEMP_MARK}*"))


def test_results_do_not_depend_on_batch_composition_or_workers(tiny, tmp_path):
    lengths = {"a.wav": 0.93, "b.wav": 0.31, "c.wav": 0.15, "d.wav": 0.15, "e.wav": 0.47}
    _mkdir(tmp_path / "in")
    for i, (name, seconds) in enumerate(lengths.items()):  # c and d: equal short lengths share batches
        sf.write(tmp_path / "in" / name, speech_like(int(seconds * 16000), 2, seed=i), 16000, subtype="FLOAT")
    runs = {}
    for label, opts in {"one": dict(batch_size=1, streams=1), "many": dict(batch_size=16, streams=1),
                        "workers": dict(batch_size=5, workers=2),
                        "streams": dict(batch_size=5, streams=3)}.items():
        s = enhance_paths([str(tmp_path / "in")], str(tmp_path / label), tiny, EnhanceOptions(**opts, **CHUNKING))
        assert s.ok == len(lengths)
        runs[label] = {n: sf.read(tmp_path / label / n, dtype="float32")[0] for n in lengths}
    for name in lengths:
        assert np.abs(runs["one"][name] - runs["many"][name]).max() <= 1e-4
        assert np.abs(runs["one"][name] - runs["workers"][name]).max() <= 1e-4
        assert np.abs(runs["one"][name] - runs["streams"][name]).max() <= 1e-4


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_file_shorter_than_a_chunk_equals_whole_file_enhancement(tiny, tmp_path):
    x = speech_like(int(0.5 * 44100), 2, seed=7)
    sf.write(_mkdir(tmp_path / "in") / "x.wav", x, 44100, subtype="FLOAT")
    enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny, EnhanceOptions(chunk_seconds=1.0, overlap_seconds=0.25))
    y, _ = sf.read(tmp_path / "out" / "x.wav", dtype="float32")
    with torch.inference_mode():
        whole = api.enhance(x.T, 44100, tiny).T
    assert np.array_equal(y, whole)


@pytest.mark.parametrize("rate", [22050, 8000])  # resampled down; up, with the 16-bit floor
def test_long_files_streamed_twice_match_files_kept_in_memory(tmp_path, rate):
    path = tmp_path / "x.flac"
    sf.write(path, speech_like(50_000 * rate // 22050, 2, seed=3), rate, subtype="PCM_24")
    base = LoadSettings(model_rate_hz=16000, chunk_samples=4000, overlap_samples=1000, block_frames=3000)
    kept = list(load_file(0, source(path), base))
    streamed = list(load_file(0, source(path), LoadSettings(**{**base.__dict__, "cache_samples": 5000})))
    assert isinstance(kept[0], FileStart) and isinstance(streamed[0], FileStart)
    np.testing.assert_allclose(kept[0].gain, streamed[0].gain, rtol=1e-6)
    chunks = [(a.data, b.data) for a, b in zip(kept[1:], streamed[1:])]
    assert len(chunks) == kept[0].plan.num_chunks == len(streamed) - 1
    assert all(isinstance(c, ChunkData) for c in kept[1:]) and all(np.array_equal(a, b) for a, b in chunks)


def test_upsampled_input_gets_the_16bit_floor_in_runs_and_in_the_api(tiny, tmp_path):
    """An 8 kHz file resampled to the model's 16 kHz gets one 16-bit step of TPDF dither, the same in a
    directory run as in api.enhance; without it the band above 4 kHz would be numerically empty."""
    from models.enhance_loader import LoadSettings, load_file

    x = speech_like(12_000, 1, seed=5)
    sf.write(_mkdir(tmp_path / "in") / "nb.wav", x, 8000, subtype="FLOAT")  # output keeps it: compared exactly
    settings = LoadSettings(model_rate_hz=16000, chunk_samples=0, overlap_samples=0)
    with_floor = next(i for i in load_file(0, source(tmp_path / "in" / "nb.wav"), settings) if isinstance(i, ChunkData))
    plain = next(i for i in load_file(0, source(tmp_path / "in" / "nb.wav"),
                                      LoadSettings(**{**settings.__dict__, "upsampled_floor": False}))
                 if isinstance(i, ChunkData))
    added = with_floor.data - plain.data
    assert 0.3 / 32768 < added.std() < 0.5 / 32768 and np.abs(added).max() <= 1 / 32768  # TPDF, one step
    high = np.abs(np.fft.rfft(added[0]))[len(added[0]) * 5 // 16:]  # above 5 kHz: white, not empty
    assert (high ** 2).mean() > 1e-3 * (np.abs(np.fft.rfft(added[0])) ** 2).mean()
    enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny,
                  EnhanceOptions(chunk_seconds=0, out_sample_rate_hz=16000))
    y, _ = sf.read(tmp_path / "out" / "nb.wav", dtype="float32")
    with torch.inference_mode():
        whole = api.enhance(sf.read(tmp_path / "in" / "nb.wav", dtype="float32")[0], 8000, tiny, out_sample_rate=16000)
        bare = api.enhance(sf.read(tmp_path / "in" / "nb.wav", dtype="float32")[0], 8000, tiny, out_sample_rate=16000,
                           upsampled_floor=False)
    np.testing.assert_allclose(y, whole, atol=1e-6)
    assert np.abs(whole - bare).max() > 1e-6


def test_upsampled_digital_silence_stays_silence(tiny, tmp_path):
    """The floor is not added to a silent channel: an 8 kHz file with one silent channel keeps it exactly
    silent in a directory run (whole and read twice), api.enhance adds no floor to it, and the other channel
    is the same in both."""
    from models.enhance_loader import LoadSettings, load_file

    x = speech_like(12_000, 2, seed=6)  # [N, C]
    x[:, 1] = 0.0
    sf.write(_mkdir(tmp_path / "in") / "half.wav", x, 8000, subtype="FLOAT")
    enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny, EnhanceOptions(chunk_seconds=0))
    y, _ = sf.read(tmp_path / "out" / "half.wav", dtype="float32")
    assert not y[:, 1].any() and y[:, 0].any()
    with torch.inference_mode():
        whole = api.enhance(x.T, 8000, tiny)
        bare = api.enhance(x.T, 8000, tiny, upsampled_floor=False)
    np.testing.assert_allclose(y[:, 0], whole[0], atol=1e-6)
    # api.enhance runs silent channels through the model (no pass-through), but without the floor.
    np.testing.assert_array_equal(whole[1], bare[1])
    base = LoadSettings(model_rate_hz=16000, chunk_samples=8000, overlap_samples=1000, block_frames=3000)
    kept = list(load_file(0, source(tmp_path / "in" / "half.wav"), base))
    twice = list(load_file(0, source(tmp_path / "in" / "half.wav"), LoadSettings(**{**base.__dict__, "cache_samples": 5000})))
    assert all(np.array_equal(a.data, b.data) for a, b in zip(kept[1:], twice[1:])) and len(kept) == len(twice)
    assert all(not c.data[1].any() for c in kept[1:])
    np.testing.assert_allclose(kept[0].gain, twice[0].gain, rtol=1e-6)


def test_mono_and_output_rate(tiny, tmp_path):
    sf.write(_mkdir(tmp_path / "in") / "st.wav", speech_like(13_230, 2), 44100, subtype="PCM_16")
    s = enhance_paths([str(tmp_path / "in" / "st.wav")], str(tmp_path / "out"), tiny,
                      EnhanceOptions(mono=True, out_sample_rate_hz=16000, **CHUNKING))
    info = sf.info(tmp_path / "out" / "st.wav")
    assert s.ok == 1 and (info.channels, info.samplerate, info.frames) == (1, 16000, 4800)


BAD = ("empty.wav", "truncated header.wav", "text.wav", "nan.wav", "inf.wav", "locked.wav")


def make_bad(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "empty.wav").write_bytes(b"")
    sf.write(root / "truncated header.wav", np.zeros(1000), 16000)
    (root / "truncated header.wav").write_bytes((root / "truncated header.wav").read_bytes()[:30])
    (root / "text.wav").write_text("hello, I am text\n")
    for name, value in (("nan.wav", np.nan), ("inf.wav", -np.inf)):
        x = speech_like(3000, 1)
        x[1234] = value
        sf.write(root / name, x, 16000, subtype="FLOAT")
    sf.write(root / "locked.wav", speech_like(3000, 1), 16000)
    sf.write(root / "fine.wav", speech_like(3000, 1), 16000)


def test_bad_inputs_fail_alone_with_one_line_and_no_output(tiny, tmp_path, monkeypatch):
    make_bad(tmp_path / "in")
    if os.geteuid() != 0:
        (tmp_path / "in" / "locked.wav").chmod(0)
    else:  # root can read anything: simulate the permission error
        real_open = audio_io.AudioSource.open

        def maybe_denied(self):
            if self.path is not None and self.path.name == "locked.wav":
                raise PermissionError(13, "Permission denied")
            return real_open(self)

        monkeypatch.setattr(audio_io.AudioSource, "open", maybe_denied)
    os.symlink(tmp_path / "in", tmp_path / "in" / "loop")  # a symlink loop in the input tree
    report = tmp_path / "r.jsonl"
    fine = str(tmp_path / "in" / "fine.wav")  # also given twice more: processed once
    s = enhance_paths([str(tmp_path / "in"), fine, fine], str(tmp_path / "out"), tiny,
                      EnhanceOptions(report_path=report, **CHUNKING))
    assert (s.ok, s.failed, s.duplicates) == (1, len(BAD) + 1, 2)
    lines = read_report(report)
    assert len(lines) == 1 + len(BAD) + 1
    by_name = {Path(r["input"]).name: r for r in lines}
    assert "symlink loop" in by_name["loop"]["error"]
    for name in BAD:
        r = by_name[name]
        assert r["status"] == "error" and r["output"] is None and name in r["error"] and "\n" not in r["error"]
    assert "NaN or Inf" in by_name["nan.wav"]["error"] and "NaN or Inf" in by_name["inf.wav"]["error"]
    assert "empty" in by_name["empty.wav"]["error"] and "permission" in by_name["locked.wav"]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fine.wav"]


def test_unwritable_output_folder_fails_every_file_cleanly(tiny, tmp_path):
    sf.write(_mkdir(tmp_path / "in") / "a.wav", speech_like(2000, 1), 16000)
    (tmp_path / "blocker").write_text("not a folder")
    s = enhance_paths([str(tmp_path / "in")], str(tmp_path / "blocker" / "out"), tiny, EnhanceOptions())
    assert (s.ok, s.failed) == (0, 1) and "blocker" in s.errors[0].error


def test_full_disk_mid_file_leaves_nothing_and_the_run_goes_on(tiny, tmp_path, monkeypatch):
    sf.write(_mkdir(tmp_path / "in") / "a_long.wav", speech_like(16000, 1), 16000)
    sf.write(tmp_path / "in" / "b.wav", speech_like(2000, 1), 16000)
    real, calls = sf.SoundFile.write, []

    def write(sfile, data):  # the disk fills up during the second write of the first file
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(sfile, data)

    monkeypatch.setattr(sf.SoundFile, "write", write)
    s = enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny, EnhanceOptions(**CHUNKING))
    assert (s.ok, s.failed) == (1, 1) and "disk full" in s.errors[0].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.wav"]


@pytest.mark.parametrize("where", ["inside the writer", "before the run holds the writer"])
def test_an_interrupt_while_a_writer_is_made_leaves_no_temporary(tiny, tmp_path, monkeypatch, where):
    # Ctrl-C lands just after a file's temporary is created and before the run can abort its writer:
    # inside the writer's constructor, or between the constructor and the run's bookkeeping.
    from models import batch_enhance

    sf.write(_mkdir(tmp_path / "in") / "a.wav", speech_like(4000, 1), 16000)
    if where == "inside the writer":
        real_init = sf.SoundFile.__init__

        def init(sfile, file, mode="r", *args, **kwargs):
            if mode == "w":
                raise KeyboardInterrupt
            return real_init(sfile, file, mode, *args, **kwargs)

        monkeypatch.setattr(sf.SoundFile, "__init__", init)
    else:
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(batch_enhance, "OverlapAdder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny, EnhanceOptions(**CHUNKING))
    assert list((tmp_path / "out").iterdir()) == []  # no temporary, no output


def test_skip_existing_then_overwrite(tiny, tmp_path):
    sf.write(_mkdir(tmp_path / "in") / "a.wav", speech_like(2000, 1), 16000)
    out = tmp_path / "out" / "a.wav"
    assert enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny).ok == 1
    os.utime(out, (1, 1))
    again = enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny)
    assert (again.ok, again.skipped) == (0, 1) and out.stat().st_mtime == 1
    forced = enhance_paths([str(tmp_path / "in")], str(tmp_path / "out"), tiny, EnhanceOptions(skip_existing=False))
    assert forced.ok == 1 and out.stat().st_mtime > 1


def test_bad_options_are_value_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match="half"):
        enhance_paths(["x"], str(tmp_path), tiny, EnhanceOptions(chunk_seconds=1, overlap_seconds=0.6))
    with pytest.raises(ValueError, match="stdin"):
        enhance_paths(["-"], str(tmp_path), tiny)
    with pytest.raises(ValueError, match="fp16"):
        enhance_paths(["x"], str(tmp_path), tiny, EnhanceOptions(precision="fp16"))
    with pytest.raises(ValueError, match="streams"):
        enhance_paths(["x"], str(tmp_path), tiny, EnhanceOptions(streams=0))
