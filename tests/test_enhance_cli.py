"""`gre enhance` through the installed entry point: exit codes, report, shards, pipes, kill -9, concurrency."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import REFERENCE_PR, require_shared
from models.audio_io import TEMP_MARK

TINY = ["--model", "gre-tiny-random", "--threads", "1", "--workers", "0", "--chunk-seconds", "0.5",
        "--overlap-seconds", "0.1"]


def run(gre, *args, stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([gre, "enhance", *map(str, args)], input=stdin, capture_output=True, timeout=timeout)


def speech(seconds: float, rate: int = 16000, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 180 * t)[:, None] + 0.05 * rng.standard_normal((t.size, channels))
    return x.astype(np.float32)


def tree(root: Path, names: dict[str, float]) -> Path:
    for i, (name, seconds) in enumerate(names.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, speech(seconds, seed=i), 16000, subtype="PCM_16")
    return root


def complete_outputs(out: Path) -> dict[str, int]:
    """Final-named outputs and their frame counts (each must be a complete, readable file)."""
    return {str(p.relative_to(out)): sf.info(p).frames for p in out.rglob("*") if p.is_file() and TEMP_MARK not in p.name}


def temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if TEMP_MARK in p.name]


def test_help_names_every_option_of_the_issue(gre):
    text = run(gre, "--help").stdout.decode()
    for option in ("--task", "--model", "--checkpoint", "--device", "--precision", "--batch-size", "--workers",
                   "--chunk-seconds", "--overlap-seconds", "--skip-existing", "--overwrite", "--report", "--shard",
                   "--out-sample-rate", "--mono", "--quiet", "--atten-lim-db"):
        assert option in text


@pytest.mark.parametrize("args,needle", [
    (["in", "out"], "--task"),
    (["in", "out", *TINY, "--shard", "3/2"], "shard"),
    (["in", "out", "--model", "no-such-model"], "unknown model"),
    (["in", "out", *TINY, "--device", "cuda:3"], "cuda"),
    (["in", "out", *TINY, "--streams", "0"], "--streams"),
    (["in", "out", *TINY, "--atten-lim-db", "0"], "--atten-lim-db"),
    (["in", "out", *TINY, "--atten-lim-db", "-6"], "--atten-lim-db"),
    (["in", "out", "--model", "griffin-lim", "--atten-lim-db", "12"], "phase retrieval"),
])
def test_usage_errors_exit_2_with_one_line(gre, tmp_path, args, needle):
    result = run(gre, *args)
    assert result.returncode == 2 and needle in result.stderr.decode()


def test_atten_lim_mixes_the_input_back_in_chunk_by_chunk_as_the_api_does(gre, tmp_path):
    """`--atten-lim-db 6` writes 10**(-6/20) of the input plus the rest of the unlimited output, for a
    stereo file enhanced in chunks; api.enhance(atten_lim_db=6) gives the same mix."""
    from models import api

    src = tmp_path / "in"
    src.mkdir()
    x = speech(2.3, channels=2)
    sf.write(src / "a.wav", x, 16000, subtype="FLOAT")
    for name, extra in (("plain", []), ("limited", ["--atten-lim-db", "6"])):
        done = run(gre, src, tmp_path / name, *TINY, *extra)
        assert done.returncode == 0, done.stderr.decode()
    plain = sf.read(tmp_path / "plain" / "a.wav", dtype="float32")[0]
    limited = sf.read(tmp_path / "limited" / "a.wav", dtype="float32")[0]
    lim = 10 ** (-6 / 20)
    np.testing.assert_allclose(limited, lim * x + (1 - lim) * plain, atol=1e-5)
    assert np.abs(limited - plain).max() > 1e-2  # the limit did change the output
    whole = api.enhance(x.T, 16000, "gre-tiny-random")
    np.testing.assert_allclose(api.enhance(x.T, 16000, "gre-tiny-random", atten_lim_db=6),
                               lim * x.T + (1 - lim) * whole, atol=1e-5)
    with pytest.raises(ValueError, match="--atten-lim-db must be a positive"):
        api.enhance(x.T, 16000, "gre-tiny-random", atten_lim_db=0)
    with pytest.raises(ValueError, match="phase retrieval"):
        api.enhance(x.T, 16000, "griffin-lim", atten_lim_db=6)


def test_run_report_skip_and_overwrite(gre, tmp_path):
    inp = tree(tmp_path / "in", {"a.wav": 0.3, "sub/b b.wav": 0.7, "ünï.wav": 0.2})
    (inp / "broken.wav").write_text("not audio")
    report = tmp_path / "report.jsonl"
    first = run(gre, inp, tmp_path / "out", *TINY, "--report", report)
    assert first.returncode == 1
    errors = [line for line in first.stderr.decode().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.wav" in errors[0]
    assert "3 ok, 0 skipped, 1 failed" in first.stdout.decode()
    rows = {Path(r["input"]).name: r for r in map(json.loads, report.read_text().splitlines())}
    assert {r["status"] for n, r in rows.items() if n != "broken.wav"} == {"ok"} and rows["broken.wav"]["status"] == "error"
    assert rows["b b.wav"]["duration_s"] == pytest.approx(0.7) and rows["b b.wav"]["seconds"] > 0
    assert complete_outputs(tmp_path / "out") == {"a.wav": 4800, "sub/b b.wav": 11200, "ünï.wav": 3200}

    (inp / "broken.wav").unlink()
    second = run(gre, inp, tmp_path / "out", *TINY, "--report", report)
    assert second.returncode == 0 and "0 ok, 3 skipped, 0 failed" in second.stdout.decode()
    assert {r["status"] for r in map(json.loads, report.read_text().splitlines())} == {"skipped"}
    third = run(gre, inp / "a.wav", tmp_path / "out", *TINY, "--overwrite", "--quiet")
    assert third.returncode == 0 and third.stdout == b""


def test_shards_split_the_work_without_overlap(gre, tmp_path):
    inp = tree(tmp_path / "in", {f"f{i}.wav": 0.15 for i in range(5)})
    for k in (1, 2):
        assert run(gre, inp, tmp_path / f"out{k}", *TINY, "--shard", f"{k}/2", "-q").returncode == 0
    one, two = set(complete_outputs(tmp_path / "out1")), set(complete_outputs(tmp_path / "out2"))
    assert len(one) == 3 and len(two) == 2 and one | two == {f"f{i}.wav" for i in range(5)}


def test_wav_pipe_through_stdin_and_stdout(gre, tmp_path):
    buf = io.BytesIO()
    sf.write(buf, speech(0.4, 22050, channels=2), 22050, format="WAV", subtype="PCM_24")
    result = run(gre, "-", "-", *TINY, stdin=buf.getvalue())
    assert result.returncode == 0, result.stderr.decode()
    y, rate = sf.read(io.BytesIO(result.stdout))
    info = sf.info(io.BytesIO(result.stdout))
    assert y.shape == (int(0.4 * 22050), 2) and rate == 22050 and info.subtype == "PCM_24"
    assert b"1 ok" in result.stderr  # the summary goes to stderr: stdout carries only the audio
    bad = run(gre, "-", "-", *TINY, stdin=b"garbage")
    assert bad.returncode == 1 and bad.stdout == b"" and b"not a readable audio file" in bad.stderr


def test_kill_9_leaves_no_partial_output_and_a_rerun_finishes(gre, tmp_path):
    inp = tree(tmp_path / "in", {"a.wav": 0.2, "b.wav": 0.2, "z_long.wav": 12.0})
    out = tmp_path / "out"
    proc = subprocess.Popen([gre, "enhance", str(inp), str(out), *TINY], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not temporaries(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let it write a few blocks of the long file
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    unfinished = {p.name.split(TEMP_MARK)[0][1:] for p in temporaries(out)}
    assert "z_long.wav" in unfinished  # it was killed in the middle of the long file
    assert not unfinished & set(complete_outputs(out))  # no output under the name of an unfinished file
    assert all(frames == 3200 for frames in complete_outputs(out).values())  # whatever exists is complete
    rerun = run(gre, inp, out, *TINY)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert complete_outputs(out) == {"a.wav": 3200, "b.wav": 3200, "z_long.wav": 192000}
    assert temporaries(out) == []  # the dead run's temporary was cleaned up


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_cleans_up_and_exits_130(gre, tmp_path, sig):
    # Long enough that the run is still going when the signal lands, even on a loaded machine:
    # with 12 s, and once with 60 s (about 7 s of writing here, beside two training runs), a starved
    # test process saw the run finish before it could signal it. The signal normally lands within
    # a second of the first write, so the length costs only the input file.
    inp = tree(tmp_path / "in", {"z_long.wav": 300.0})
    out = tmp_path / "out"
    proc = subprocess.Popen([gre, "enhance", str(inp), str(out), *TINY], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not temporaries(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be signalled (machine too loaded?)"
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read()
    assert code == 130, stderr.decode(errors="replace")[-2000:]
    assert b"interrupted" in stderr
    assert temporaries(out) == [] and complete_outputs(out) == {}


def test_two_concurrent_runs_on_one_output_folder(gre, tmp_path):
    inp = tree(tmp_path / "in", {f"f{i}.wav": 0.3 + 0.1 * i for i in range(4)})
    out = tmp_path / "out"
    cmd = [gre, "enhance", str(inp), str(out), *TINY, "--overwrite", "-q"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE) for _ in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0], [p.stderr.read() for p in procs]
    assert complete_outputs(out) == {f"f{i}.wav": int((0.3 + 0.1 * i) * 16000) for i in range(4)}
    assert temporaries(out) == []
    reference = run(gre, inp, tmp_path / "ref", *TINY)
    assert reference.returncode == 0
    for i in range(4):  # both writers wrote the same complete file; neither corrupted the other
        assert (out / f"f{i}.wav").read_bytes() == (tmp_path / "ref" / f"f{i}.wav").read_bytes()


def test_authors_checkpoint_for_phase_retrieval(gre, tmp_path):
    require_shared("reference", "renet_phase_retrieval.pt")
    inp = tree(tmp_path / "in", {"x.wav": 0.3})
    result = run(gre, inp, tmp_path / "out", "--task", "phase", "--checkpoint", REFERENCE_PR, "--threads", "1",
                 "--workers", "0")
    assert result.returncode == 0, result.stderr.decode()
    assert complete_outputs(tmp_path / "out") == {"x.wav": 4800}
    wrong = run(gre, inp, tmp_path / "out2", "--task", "denoise", "--checkpoint", REFERENCE_PR)
    assert wrong.returncode == 2 and b"not trained for --task denoise" in wrong.stderr


def test_progress_bar_shows_files_audio_hours_and_speed_on_a_terminal():
    from rich.console import Console

    from gre_cli.cmd_enhance import _RichProgress
    from models.batch_enhance import FileResult

    buf = io.StringIO()
    with _RichProgress(Console(file=buf, force_terminal=True, width=140), show_bar=True) as progress:
        progress.start(3)
        progress.audio(1800.0)
        progress.file_done(FileResult("a.wav", "out/a.wav", "ok"))
        progress.file_done(FileResult("b.wav", None, "error", "b.wav: not a readable audio file"))
        progress.bar.refresh()
    text = buf.getvalue()
    assert "2/3" in text and "0.500 h audio" in text and "x real time" in text
    assert "error: b.wav: not a readable audio file" in text


def test_bandwidth_extension_outputs_wideband_from_narrowband_input(gre, tmp_path):
    """bwe (and universal): an 8 kHz input comes out at the model's 16 kHz unless --out-sample-rate says
    otherwise; a denoiser keeps the input's rate."""
    import torch

    from models.architectures import build_network, named_config
    from models.checkpoint import save_checkpoint

    cfg = named_config("masknet", "tiny_map")
    torch.manual_seed(0)
    for task in ("bwe", "denoise"):
        save_checkpoint(tmp_path / f"{task}.safetensors", build_network("masknet", cfg).state_dict(), arch="masknet",
                        config=cfg, config_name="tiny_map", sample_rate_hz=16000, tasks=(task,))
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "call.wav", speech(1.0, rate=8000)[:, 0], 8000, subtype="PCM_16")
    common = ["--threads", "1", "--workers", "0"]
    cases = {"bwe": (["--checkpoint", tmp_path / "bwe.safetensors"], 16000),
             "bwe-task": (["--task", "bwe", "--checkpoint", tmp_path / "bwe.safetensors"], 16000),
             "bwe-8k": (["--checkpoint", tmp_path / "bwe.safetensors", "--out-sample-rate", "8000"], 8000),
             "denoise": (["--checkpoint", tmp_path / "denoise.safetensors"], 8000)}
    for name, (args, rate) in cases.items():
        result = run(gre, tmp_path / "in", tmp_path / name, *args, *common)
        assert result.returncode == 0, result.stderr.decode()
        info = sf.info(tmp_path / name / "call.wav")
        assert (info.samplerate, info.frames) == (rate, rate), name  # 1 s at the output rate


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the lost exception, on purpose
def test_an_interrupt_lost_in_a_finaliser_is_raised_again_between_chunks():
    # CPython drops an exception raised while a __del__ runs; the request must survive that.
    from rich.console import Console

    from gre_cli.cmd_enhance import _Interrupt, _RichProgress

    interrupt = _Interrupt()

    class Finalised:
        def __del__(self):
            interrupt(signal.SIGINT, None)  # the handler, run inside a finaliser

    Finalised()  # the KeyboardInterrupt is printed as "Exception ignored" and lost
    assert interrupt.requested
    progress = _RichProgress(Console(stderr=True), show_bar=False, interrupt=interrupt)
    with pytest.raises(KeyboardInterrupt):
        progress.audio(0.5)
    with pytest.raises(KeyboardInterrupt):
        _RichProgress(Console(stderr=True), show_bar=False, interrupt=interrupt).file_done(None)
