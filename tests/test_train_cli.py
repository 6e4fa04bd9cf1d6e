"""`gre train` through the installed entry point: a few tiny steps, and the bad inputs' exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_train_fixtures import RATE, make_corpus, synthetic_rir

GRE = str(Path(sys.executable).parent / "gre")


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([GRE, "train", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("cli_corpus"))


def _base(corpus, run_dir: Path, *extra: str) -> list[str]:
    return ["--task", "denoise", "--clean", str(corpus["clean"]), "--noise", str(corpus["noise"]),
            "--run-dir", str(run_dir), "--config", "tiny", "--batch-size", "2", "--segment-seconds", "0.5",
            "--workers", "0", "--threads", "1", "--log-every", "1", *extra]


def test_gre_train_tiny_runs_and_resumes(corpus, tmp_path):
    run = tmp_path / "run"
    p = _run(*_base(corpus, run, "--steps", "3", "--val-clean", str(corpus["val"]), "--val-every", "3",
                    "--val-files", "2", "--no-metric-disc"))
    assert p.returncode == 0, p.stderr
    assert "step 3" in p.stdout and "best" in p.stdout
    assert "step 1/3 loss" in p.stderr  # plain progress lines when stderr is not a terminal
    for name in ("config.json", "last.pt", "model.safetensors", "best.safetensors", "log.jsonl", "curves.png"):
        assert (run / name).is_file(), name
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task"] == "denoise" and cfg["losses"]["metric"] == 0.0
    p = _run(*_base(corpus, run, "--steps", "4", "--no-metric-disc", "--resume"))
    assert p.returncode == 0, p.stderr
    assert "resumed" in p.stderr and "step 4" in p.stdout


def test_gre_train_resumes_in_another_precision(corpus, tmp_path):
    """A run started in one precision goes on in another (a bf16 run moved to a CPU without bf16
    hardware), and says that the continuation is not bit-identical; the saved config follows."""
    import torch

    from models.device import precision_warning

    run = tmp_path / "run"
    assert _run(*_base(corpus, run, "--steps", "2", "--no-metric-disc", "--precision", "fp32")).returncode == 0
    p = _run(*_base(corpus, run, "--steps", "3", "--no-metric-disc", "--precision", "bf16", "--resume"))
    assert p.returncode == 0, p.stderr
    assert "resuming with steps: 2 -> 3; precision: 'fp32' -> 'bf16' (not bit-identical" in p.stderr
    assert json.loads((run / "config.json").read_text())["precision"] == "bf16"
    assert "step 3" in p.stdout
    warning = precision_warning("bf16", torch.device("cpu"))  # this machine's answer
    assert (f"warning: {warning}" in p.stderr) if warning else ("warning:" not in p.stderr)
    p = _run(*_base(corpus, run, "--steps", "4", "--no-metric-disc", "--precision", "fp32", "--resume"))
    assert p.returncode == 0 and "precision: 'bf16' -> 'fp32'" in p.stderr and "warning:" not in p.stderr


def test_gre_train_refuses_existing_run_and_other_config(corpus, tmp_path):
    run = tmp_path / "run"
    assert _run(*_base(corpus, run, "--steps", "1", "--no-metric-disc")).returncode == 0
    p = _run(*_base(corpus, run, "--steps", "2", "--no-metric-disc"))
    assert p.returncode == 2 and "--resume" in p.stderr
    p = _run(*_base(corpus, run, "--steps", "2", "--metric-disc", "--resume"))
    assert p.returncode == 2 and "another config" in p.stderr and "Traceback" not in p.stderr


def test_gre_train_empty_corpus_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_bytes(b"garbage")
    sf.write(bad / "b.wav", np.zeros(RATE, np.float32), RATE)
    for folder, words in ((empty, "no audio files"), (bad, "1 unreadable, 1 silent"),
                          (tmp_path / "missing", "not found")):
        p = _run("--task", "bwe", "--clean", str(folder), "--run-dir", str(tmp_path / "r"), "--config", "tiny",
                 "--steps", "1", "--workers", "0")
        assert p.returncode == 1, p.stderr
        assert words in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "r").exists()  # the run dir it made is removed again
    # ... and so are the parent folders it made for it.
    p = _run("--task", "bwe", "--clean", str(empty), "--run-dir", str(tmp_path / "new" / "runs" / "r"),
             "--config", "tiny", "--steps", "1", "--workers", "0")
    assert p.returncode == 1 and not (tmp_path / "new").exists() and empty.is_dir()
    # A run dir that existed before is the user's: a failed start leaves it in place.
    (tmp_path / "mine").mkdir()
    p = _run("--task", "bwe", "--clean", str(empty), "--run-dir", str(tmp_path / "mine"), "--config", "tiny",
             "--steps", "1", "--workers", "0")
    assert p.returncode == 1 and (tmp_path / "mine").is_dir()


@pytest.mark.parametrize("critic", [["--no-metric-disc"], ["--metric-disc", "--pesq-workers", "1"]],
                         ids=["loader-worker", "and-pesq-pool"])
def test_gre_train_stops_cleanly_when_the_whole_process_group_is_signalled(corpus, tmp_path, critic):
    """Ctrl-C, `timeout` and schedulers signal the process group: the loader worker (and the critic's PESQ
    pool) must not die first, so the trainer saves its checkpoint at the step it reached and exits 0."""
    import os
    import signal
    import time

    run = tmp_path / "run"
    args = _base(corpus, run, "--steps", "100000", *critic, "--ckpt-every", "100000")
    args[args.index("--workers") + 1] = "1"
    proc = subprocess.Popen([GRE, "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    log = run / "log.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not (log.exists() and '"kind": "train"' in log.read_text()):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped at step" in out + err and "killed by signal" not in err
    from models.train.state import load_state
    step = load_state(run / "last.pt")["step"]
    logged = [json.loads(line)["step"] for line in log.read_text().splitlines() if '"kind": "train"' in line]
    assert step >= logged[-1] > 0


def test_gre_train_denoise_without_noise_is_a_usage_error(corpus, tmp_path):
    p = _run("--task", "denoise", "--clean", str(corpus["clean"]), "--run-dir", str(tmp_path / "r"),
             "--config", "tiny", "--steps", "1")
    assert p.returncode == 2 and "--noise" in p.stderr


def test_gre_train_mpd_crop_seconds_reaches_the_config(corpus, tmp_path):
    p = _run("--task", "phase", "--clean", str(corpus["clean"]), "--run-dir", str(tmp_path / "bad"),
             "--config", "tiny", "--steps", "1", "--segment-seconds", "0.5", "--mpd-crop-seconds", "0.5")
    assert p.returncode == 2 and "--mpd-crop-seconds must be 0" in p.stderr and not (tmp_path / "bad").exists()
    p = _run("--task", "phase", "--clean", str(corpus["clean"]), "--run-dir", str(tmp_path / "ok"),
             "--config", "tiny", "--steps", "1", "--batch-size", "2", "--segment-seconds", "0.5", "--workers", "0",
             "--threads", "1", "--mpd-crop-seconds", "0.25")
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["mpd_crop_seconds"] == 0.25


def test_gre_train_loss_weights_on_top_of_the_recipe(corpus, tmp_path):
    """--loss NAME=WEIGHT sets one component (saved in config.json and logged); a bad one is a usage error."""
    base = ["--task", "bwe", "--clean", str(corpus["clean"]), "--arch", "masknet", "--config", "tiny_map",
            "--batch-size", "2", "--segment-seconds", "0.5", "--workers", "0", "--threads", "1", "--steps", "2",
            "--log-every", "1"]
    p = _run(*base, "--run-dir", str(tmp_path / "ok"), "--loss", "log_magnitude=0.5")
    assert p.returncode == 0, p.stderr
    losses = json.loads((tmp_path / "ok" / "config.json").read_text())["losses"]
    assert (losses["mask"], losses["log_magnitude"]) == (1.0, 0.5)
    logged = [json.loads(line) for line in (tmp_path / "ok" / "log.jsonl").read_text().splitlines()]
    assert all(r["log_magnitude"] > 0 for r in logged if r["kind"] == "train")
    p = _run(*base, "--run-dir", str(tmp_path / "bad"), "--loss", "lsd=1")
    assert p.returncode == 2 and "log_magnitude" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "bad").exists()
    p = _run(*base, "--run-dir", str(tmp_path / "wide"), "--bwe-cutoff", "4000", "--bwe-cutoff", "8000")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["degrade"]["bwe_cutoffs_hz"] == [4000.0, 8000.0]
    p = _run(*base, "--run-dir", str(tmp_path / "bad2"), "--bwe-cutoff", "9000")
    assert p.returncode == 2 and "cut-offs" in p.stderr and "Traceback" not in p.stderr
    p = _run(*base, "--run-dir", str(tmp_path / "cleanfrac"), "--clean-fraction", "0.2")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "cleanfrac" / "config.json").read_text())["degrade"]["clean_prob"] == 0.2
    p = _run(*base, "--run-dir", str(tmp_path / "bad3"), "--clean-fraction", "1")
    assert p.returncode == 2 and "clean fraction" in p.stderr and "Traceback" not in p.stderr
    p = _run(*base, "--run-dir", str(tmp_path / "hum"), "--hum-noise", "0.05", "--noise-augment")
    assert p.returncode == 0, p.stderr
    degrade = json.loads((tmp_path / "hum" / "config.json").read_text())["degrade"]
    assert (degrade["hum_prob"], degrade["babble_prob"]) == (0.05, 0.15)
    p = _run(*base, "--run-dir", str(tmp_path / "bad4"), "--hum-noise", "0.6", "--noise-augment")
    assert p.returncode == 2 and "add up to" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    p = _run(*base, "--run-dir", str(tmp_path / "speed"), "--speed-perturb", "0.5", "--speed-range", "0.9", "1.1")
    assert p.returncode == 0, p.stderr
    degrade = json.loads((tmp_path / "speed" / "config.json").read_text())["degrade"]
    assert (degrade["speed_perturb_prob"], degrade["speed_range"]) == (0.5, [0.9, 1.1])
    p = _run(*base, "--run-dir", str(tmp_path / "bad5"), "--speed-perturb", "0.5", "--speed-range", "1.1", "0.9")
    assert p.returncode == 2 and "speed range" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad5").exists()
    p = _run(*base, "--run-dir", str(tmp_path / "critic"), "--loss", "metric=1", "--metric-disc-degraded")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "critic" / "config.json").read_text())["metric_disc_degraded"] is True
    p = _run(*base, "--run-dir", str(tmp_path / "critic-from"), "--loss", "metric=1",
             "--init-critic", str(tmp_path / "critic" / "last.pt"))
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "critic-from" / "config.json").read_text())["init_critic"] == str(
        tmp_path / "critic" / "last.pt")
    p = _run(*base, "--run-dir", str(tmp_path / "critic-bad"), "--loss", "metric=1",
             "--init-critic", str(tmp_path / "hum" / "last.pt"))
    assert p.returncode == 2 and "holds no metric critic" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _run(*base, "--run-dir", str(tmp_path / "critic-pool"), "--loss", "metric=1", "--pesq-workers", "2")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "critic-pool" / "config.json").read_text())["pesq_workers"] == 2
    p = _run(*base, "--run-dir", str(tmp_path / "no-critic-pool"), "--pesq-workers", "2")
    assert p.returncode == 2 and "--pesq-workers" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no-critic-pool").exists()
    p = _run(*base, "--run-dir", str(tmp_path / "no-critic"), "--metric-disc-degraded")
    assert p.returncode == 2 and "--metric-disc" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no-critic").exists()


def test_gre_train_init_weights_from_a_registered_model_and_a_mismatch(corpus, tmp_path):
    """--init-weights takes a registered model name, also for another mask target of the same shape;
    a network of another size or output shape is a one-line usage error."""
    base = ["--task", "denoise", "--clean", str(corpus["clean"]), "--noise", str(corpus["noise"]),
            "--arch", "masknet", "--batch-size", "2", "--segment-seconds", "0.5", "--workers", "0",
            "--threads", "1", "--steps", "1"]
    p = _run(*base, "--config", "psm", "--run-dir", str(tmp_path / "ok"), "--init-weights", "masknet-psm-denoise")
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["init_weights"] == "masknet-psm-denoise"
    p = _run(*base, "--config", "iam", "--run-dir", str(tmp_path / "iam"), "--init-weights", "masknet-psm-denoise")
    assert p.returncode == 0, p.stderr
    for config in ("psm_large", "map"):  # more GRU layers; two output channels
        p = _run(*base, "--config", config, "--run-dir", str(tmp_path / config), "--init-weights", "masknet-psm-denoise")
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert p.stderr.strip().count("\n") == 0 and "--init-weights" in p.stderr


def _saved_masknet(path: Path, config_name: str):
    """A freshly initialised MaskNet of a named config, saved as a gre checkpoint at ``path``;
    returns (network, config)."""
    from models.architectures import build_network, named_config
    from models.checkpoint import save_checkpoint

    cfg = named_config("masknet", config_name)
    net = build_network("masknet", cfg)
    save_checkpoint(path, net.state_dict(), arch="masknet", config=cfg, config_name=config_name,
                    tasks=("denoise",), mode="enhance", sample_rate_hz=16000)
    return net, cfg


def test_init_weights_grows_a_masknet_into_a_refined_one_but_not_back(tmp_path):
    """--init-weights from an unrefined MaskNet starts a refined run (the new layers keep their zero
    start, so the run begins at the file's quality); a refined file cannot start an unrefined run,
    nor a refined run of another GRU size."""
    from models.architectures import named_config
    from models.train.loop import RunDirError, initial_weights

    path, rpath = tmp_path / "plain.safetensors", tmp_path / "refined.safetensors"
    plain, plain_cfg = _saved_masknet(path, "tiny_psm")
    state = initial_weights(str(path), "masknet", named_config("masknet", "tiny_psm_refine"))
    assert set(state) == set(plain.state_dict())
    refined, refined_cfg = _saved_masknet(rpath, "tiny_psm_refine")
    assert set(initial_weights(str(rpath), "masknet", refined_cfg)) == set(refined.state_dict())
    with pytest.raises(RunDirError, match="--init-weights"):
        initial_weights(str(rpath), "masknet", plain_cfg)
    with pytest.raises(RunDirError, match="--init-weights"):
        initial_weights(str(path), "masknet", named_config("masknet", "psm_refine"))  # other GRU size
    from dataclasses import replace

    deeper = replace(refined_cfg, refine_layers=refined_cfg.refine_layers + 1)  # a layer added to a trained stage
    with pytest.raises(RunDirError, match="--init-weights"):
        initial_weights(str(rpath), "masknet", deeper)
    # A plain file grows into the time-dilated stage too; a trained frequency-only stage does not
    # become a time-dilated one (its kernels would see other bins than they were trained on).
    tf_cfg = named_config("masknet", "tiny_psm_refine_tf")
    assert set(initial_weights(str(path), "masknet", tf_cfg)) == set(plain.state_dict())
    with pytest.raises(RunDirError, match="--init-weights"):
        initial_weights(str(rpath), "masknet", tf_cfg)


def test_init_weights_grows_the_large_masknet_into_the_large_refined_one(tmp_path):
    """The two-layer ``iam_large`` grows into ``iam_large_refine_tf`` (its GRU kept, the stage
    new), and the refined network then starts at exactly the file's estimate; the small refined
    config, with its other GRU size, is refused."""
    import torch

    from models.architectures import build_network, named_config
    from models.train.loop import RunDirError, initial_weights

    torch.manual_seed(0)
    path = tmp_path / "large.safetensors"
    large, large_cfg = _saved_masknet(path, "iam_large")
    large.eval()
    grown_cfg = named_config("masknet", "iam_large_refine_tf")
    grown = build_network("masknet", grown_cfg).eval()
    state = initial_weights(str(path), "masknet", grown_cfg)
    missing, unexpected = grown.load_state_dict(state, strict=False)
    assert not unexpected and missing and all(k.startswith("refine.") for k in missing)
    mag = torch.rand(1, large_cfg.stft.n_freqs, 40)
    with torch.no_grad():
        assert torch.equal(grown.estimate(mag), large.estimate(mag))
    with pytest.raises(RunDirError, match="--init-weights"):
        initial_weights(str(path), "masknet", named_config("masknet", "iam_refine_tf"))


def test_init_weights_grows_the_long_stage_onto_a_refined_masknet_stage_by_stage(tmp_path):
    """A refined file grows the long second stage (only ``refine2.*`` is new, and the run starts at
    the file's estimate); a plain file grows both stages; a file whose first stage differs from the
    run's, or a trained second stage given another depth, is refused; the long network does not
    shrink back."""
    from dataclasses import replace

    import torch

    from models.architectures import build_network, named_config
    from models.train.loop import RunDirError, initial_weights

    torch.manual_seed(0)
    plain_path, refined_path, long_path = (tmp_path / f"{n}.safetensors" for n in ("plain", "refined", "long"))
    plain, _ = _saved_masknet(plain_path, "tiny_iam")
    refined, refined_cfg = _saved_masknet(refined_path, "tiny_iam_refine")
    long_net, long_cfg = _saved_masknet(long_path, "tiny_iam_refine_long")
    grown = build_network("masknet", long_cfg).eval()
    missing, unexpected = grown.load_state_dict(initial_weights(str(refined_path), "masknet", long_cfg), strict=False)
    assert not unexpected and missing and all(k.startswith("refine2.") for k in missing)
    mag = torch.rand(1, long_cfg.stft.n_freqs, 30)
    with torch.no_grad():
        assert torch.equal(grown.estimate(mag), refined.eval().estimate(mag))
    assert set(initial_weights(str(plain_path), "masknet", long_cfg)) == set(plain.state_dict())
    refuse = [
        (refined_path, replace(long_cfg, refine_time_dilation=True)),  # the trained first stage re-dilated
        (long_path, replace(long_cfg, refine2_layers=long_cfg.refine2_layers + 1)),  # a layer added to it
        (long_path, refined_cfg),  # the second stage dropped
    ]
    for path, cfg in refuse:
        with pytest.raises(RunDirError, match="--init-weights"):
            initial_weights(str(path), "masknet", cfg)


def test_gre_train_grows_the_registered_default_into_a_refined_run(corpus, tmp_path):
    base = ["--task", "denoise", "--clean", str(corpus["clean"]), "--noise", str(corpus["noise"]),
            "--arch", "masknet", "--batch-size", "2", "--segment-seconds", "0.5", "--workers", "0",
            "--threads", "1", "--steps", "1"]
    p = _run(*base, "--config", "psm_refine", "--run-dir", str(tmp_path / "grow"), "--init-weights", "masknet-psm-denoise")
    assert p.returncode == 0, p.stderr
    from models.checkpoint import load_checkpoint

    out = load_checkpoint(tmp_path / "grow" / "model.safetensors")
    assert out.config["refine_channels"] == 16 and any(k.startswith("refine.") for k in out.state_dict)


def test_gre_train_masknet_in_bf16_on_the_cpu_tracks_fp32(corpus, tmp_path):
    """`--precision bf16` (recommended for MaskNets on an AMX CPU) trains the network with both
    refinement stages through the entry point: the same seed gives losses within bf16 rounding of
    fp32's, and the saved weights are fp32 and load."""
    import torch

    from models.checkpoint import load_checkpoint

    losses = {}
    for precision in ("fp32", "bf16"):
        run = tmp_path / precision
        p = _run(*_base(corpus, run, "--arch", "masknet", "--config", "tiny_psm_refine_long", "--steps", "3",
                        "--precision", precision))
        assert p.returncode == 0, p.stderr
        records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        losses[precision] = [r["loss"] for r in records if r.get("kind") == "train"]
        out = load_checkpoint(run / "model.safetensors")
        assert all(v.dtype == torch.float32 for v in out.state_dict.values())
    assert len(losses["bf16"]) == len(losses["fp32"]) == 3
    np.testing.assert_allclose(losses["bf16"], losses["fp32"], rtol=0.05)
    assert losses["bf16"] != losses["fp32"]  # bf16 did run in bf16


def test_a_runs_last_pt_loads_as_a_model_and_starts_another_run(corpus, tmp_path):
    """`last.pt` of a run (the one file a session commits) is a checkpoint like the exported weights:
    it loads with the run's network config and task and computes what model.safetensors computes,
    starts a run by --init-weights, and one without a usable run config is refused by name."""
    import torch

    from models.api import load_model
    from models.architectures import named_config
    from models.checkpoint import CheckpointError, load_checkpoint
    from models.train.loop import initial_weights

    run = tmp_path / "run"
    p = _run(*_base(corpus, run, "--arch", "masknet", "--config", "tiny_psm_refine", "--steps", "2"))
    assert p.returncode == 0, p.stderr
    last = load_checkpoint(run / "last.pt")
    assert (last.arch, last.config_name, last.tasks, last.mode) == ("masknet", "tiny_psm_refine", ("denoise",), "enhance")
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 8000)).astype(np.float32))
    with torch.inference_mode():
        assert torch.equal(load_model(run / "last.pt")(x), load_model(run / "model.safetensors")(x))
    state = initial_weights(str(run / "last.pt"), "masknet", named_config("masknet", "tiny_psm_refine_long"))
    assert all(torch.equal(v, last.state_dict[k]) for k, v in state.items())
    broken = torch.load(run / "last.pt", weights_only=True)
    del broken["config"]["arch"]
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="broken.pt: training checkpoint without a usable run config"):
        load_checkpoint(tmp_path / "broken.pt")


def _rir_folder(root: Path) -> Path:
    rir_dir = root / "rir"
    rir_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    for i in range(2):
        sf.write(rir_dir / f"r{i}.wav", synthetic_rir(20 + 10 * i, rng), RATE)
    return rir_dir


def test_gre_train_dereverb_with_background_noise(corpus, tmp_path):
    """--reverb-noise P adds noise to dereverb samples: saved in config.json; it needs --noise, P in [0, 1]."""
    rir = _rir_folder(tmp_path)
    base = ["--task", "dereverb", "--clean", str(corpus["clean"]), "--rir", str(rir), "--config", "tiny",
            "--batch-size", "2", "--segment-seconds", "0.5", "--workers", "0", "--threads", "1", "--steps", "2",
            "--no-metric-disc"]
    p = _run(*base, "--run-dir", str(tmp_path / "ok"), "--noise", str(corpus["noise"]), "--reverb-noise", "0.5",
             "--reverb-noise-snr", "15", "25")
    assert p.returncode == 0, p.stderr
    degrade = json.loads((tmp_path / "ok" / "config.json").read_text())["degrade"]
    assert degrade["reverb_noise_prob"] == 0.5 and degrade["reverb_noise_snr_range_db"] == [15.0, 25.0]
    p = _run(*base, "--run-dir", str(tmp_path / "no-noise"), "--reverb-noise", "0.5")
    assert p.returncode == 2 and "--reverb-noise" in p.stderr and "--noise DIR" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    p = _run(*base, "--run-dir", str(tmp_path / "bad"), "--noise", str(corpus["noise"]), "--reverb-noise", "2")
    assert p.returncode == 2 and "reverb-noise probability" in p.stderr and "Traceback" not in p.stderr
    p = _run(*_base(corpus, tmp_path / "denoise", "--steps", "1", "--reverb-noise", "0.5"))
    assert p.returncode == 2 and "--reverb-noise is for --task dereverb" in p.stderr and "Traceback" not in p.stderr
