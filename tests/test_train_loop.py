"""Trainer: exact resume, the data pipeline's bad inputs, run-dir checks (tiny config, CPU)."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models.data.dataset import CropSpec, DegradedCrops, StepBatchSampler
from models.data.degrade import DegradeConfig
from models.data.files import CorpusError, scan_folders
from models.train import TrainConfig, train
from models.train.config import default_losses
from models.train.loop import RunDirError, Trainer
from models.train.state import load_state

from test_train_fixtures import RATE, make_corpus, speechlike


def _cfg(dirs, **kw) -> TrainConfig:
    base = dict(task="denoise", clean_dirs=(str(dirs["clean"]),), noise_dirs=(str(dirs["noise"]),),
                config_name="tiny", steps=4, batch_size=2, segment_seconds=0.5, workers=0, threads=1,
                ckpt_every=2, log_every=1, val_every=100, losses=default_losses("denoise"))
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _straight_and_resumed(cfg: TrainConfig, tmp_path: Path, stop_at: int, **on_resume) -> tuple[dict, dict]:
    """last.pt of ``cfg`` trained straight through, and of the same run stopped at step ``stop_at``
    and resumed (with ``on_resume`` changed)."""
    train(cfg, tmp_path / "straight", quiet=True)
    train(replace(cfg, steps=stop_at), tmp_path / "split", quiet=True)
    train(replace(cfg, **on_resume), tmp_path / "split", resume=True, quiet=True)
    return load_state(tmp_path / "straight" / "last.pt"), load_state(tmp_path / "split" / "last.pt")


def _assert_same_weights(a: dict, b: dict, discriminator: str) -> None:
    """The network's and the named discriminator's weights of two training states are bit-identical."""
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    for key, tensor in a["discriminators"][discriminator].items():
        assert torch.equal(tensor, b["discriminators"][discriminator][key]), key


def test_resume_equals_uninterrupted_training(corpus, tmp_path):
    cfg = _cfg(corpus)  # includes the metric discriminator (PESQ-driven, dropout RNG)
    # Resume with a different worker count: the data of a step does not depend on it.
    a, b = _straight_and_resumed(cfg, tmp_path, 2, workers=1)
    assert a["step"] == b["step"] == 4
    _assert_same_weights(a, b, "metric")
    assert a["optimizer"]["state"][0]["exp_avg"].equal(b["optimizer"]["state"][0]["exp_avg"])


def test_run_dir_outputs_and_exported_model(corpus, tmp_path):
    run = tmp_path / "run"
    cfg = _cfg(corpus, steps=2, val_clean_dirs=(str(corpus["val"]),), val_every=2, val_files=2,
               losses=default_losses("denoise", metric_disc=False))
    result = train(cfg, run, quiet=False)
    assert result.step == 2 and result.best is not None
    for name in ("config.json", "last.pt", "model.safetensors", "best.safetensors", "log.jsonl", "curves.png"):
        assert (run / name).is_file(), name
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in rows}
    assert {"scan", "train", "val", "val_input"} <= kinds
    val = next(r for r in rows if r["kind"] == "val")
    assert {"pesq", "stoi", "sisdr", "pd"} <= set(val)
    from models.api import load_model

    model = load_model(str(run / "model.safetensors"))
    assert model.info.config_name == "tiny"
    out = model(torch.randn(1, 3000) * 0.1)
    assert out.shape == (1, 3000) and torch.isfinite(out).all()
    # A last.pt loads weights-only as a plain dict.
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["config"]["task"] == "denoise" and state["step"] == 2


def test_keep_weights_writes_each_checkpoints_weights_with_its_step(corpus, tmp_path):
    from models.checkpoint import read_metadata
    from models.weights_average import average_checkpoints

    run = tmp_path / "run"
    train(_cfg(corpus, steps=4, ckpt_every=2, keep_weights=True, losses=default_losses("denoise", metric_disc=False)),
          run, quiet=True)
    kept = sorted((run / "weights").iterdir())
    assert [p.name for p in kept] == ["step-0000002.safetensors", "step-0000004.safetensors"]
    assert [read_metadata(p)["step"] for p in kept] == ["2", "4"]
    assert read_metadata(run / "model.safetensors")["step"] == "4"
    from safetensors.torch import load_file

    last, kept_last = load_file(run / "model.safetensors"), load_file(kept[-1])
    assert all(torch.equal(last[k], kept_last[k]) for k in last)
    assert [s.step for s in average_checkpoints(kept, run / "averaged.safetensors")] == [2, 4]
    # Off by default, and switching it on is allowed when resuming.
    plain = tmp_path / "plain"
    train(_cfg(corpus, steps=2, losses=default_losses("denoise", metric_disc=False)), plain, quiet=True)
    assert not (plain / "weights").exists()
    train(_cfg(corpus, steps=4, keep_weights=True, losses=default_losses("denoise", metric_disc=False)), plain,
          resume=True, quiet=True)
    assert [p.name for p in (plain / "weights").iterdir()] == ["step-0000004.safetensors"]


def test_phase_task_exports_phase_retrieval_mode(corpus, tmp_path):
    cfg = _cfg(corpus, task="phase", steps=1, noise_dirs=(), losses=replace(default_losses("phase"), mpd=0.0),
               grad_clip=5.0)
    train(cfg, tmp_path / "phase", quiet=True)
    from models.checkpoint import load_checkpoint

    ck = load_checkpoint(tmp_path / "phase" / "model.safetensors")
    assert ck.mode == "phase_retrieval" and ck.tasks == ("phase",)


def test_run_dir_from_another_config_is_refused(corpus, tmp_path):
    cfg = _cfg(corpus, steps=1)
    train(cfg, tmp_path / "r", quiet=True)
    with pytest.raises(RunDirError, match="pass --resume"):
        train(cfg, tmp_path / "r", quiet=True)
    with pytest.raises(RunDirError, match="another config.*segment_seconds"):
        train(replace(cfg, segment_seconds=1.0), tmp_path / "r", resume=True, quiet=True)
    # Changing only resumable fields (steps, workers) is fine.
    assert train(replace(cfg, steps=2, workers=1), tmp_path / "r", resume=True, quiet=True).step == 2


def test_bad_files_are_skipped_and_counted(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    sf.write(d / "good.wav", speechlike(RATE, 1), RATE)
    sf.write(d / "short_but_usable.wav", speechlike(RATE // 4, 2), RATE)  # shorter than a segment
    sf.write(d / "too_short.wav", speechlike(100, 3), RATE)
    sf.write(d / "silent.wav", np.zeros(RATE, np.float32), RATE)
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" + bytes(range(200)))
    (d / "notes.txt").write_text("not audio")
    files, report = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    assert sorted(Path(f.path).name for f in files) == ["good.wav", "short_but_usable.wav"]
    assert report.skipped == {"unreadable": 1, "too short": 1, "silent": 1}
    # Files shorter than a segment are zero-padded to the segment.
    spec = CropSpec("bwe", RATE // 2, 0, DegradeConfig())
    ds = DegradedCrops(spec, [f for f in files if "short" in f.path])
    x, y = ds[0]
    assert x.shape == y.shape == (RATE // 2,)
    assert float(y[RATE // 4 + 200:].abs().max()) == 0.0


@pytest.mark.parametrize("content", ["empty", "missing", "only_bad"])
def test_unusable_corpus_folder_is_one_clear_error(tmp_path, content):
    d = tmp_path / "c"
    if content != "missing":
        d.mkdir()
    if content == "only_bad":
        (d / "x.wav").write_bytes(b"not a wav")
        sf.write(d / "silent.wav", np.zeros(RATE, np.float32), RATE)
    with pytest.raises(CorpusError) as err:
        scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    msg = str(err.value)
    assert str(d) in msg and "\n" not in msg
    if content == "only_bad":
        assert "1 unreadable" in msg and "1 silent" in msg


@pytest.mark.parametrize("where", ["folder", "subfolder"])
def test_unreadable_corpus_folder_is_one_clear_error(tmp_path, monkeypatch, where):
    """A folder or subfolder that cannot be listed stops the scan with a permission hint; it must not
    read as "no audio files" nor leave part of the corpus out silently (Path.rglob skips it)."""
    import os

    d = tmp_path / "c"
    (d / "sub").mkdir(parents=True)
    sf.write(d / "good.wav", speechlike(RATE, 1), RATE)
    sf.write(d / "sub" / "good2.wav", speechlike(RATE, 2), RATE)
    denied = d if where == "folder" else d / "sub"
    real_scandir = os.scandir

    def scandir(path="."):  # as a chmod 000 folder behaves for a user other than root
        if Path(path) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CorpusError) as err:
        scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    msg = str(err.value)
    assert str(d) in msg and "permissions" in msg and "Permission denied" in msg and "\n" not in msg


def test_step_batches_do_not_depend_on_process_count():
    one = list(StepBatchSampler(3, 5, 4))
    two = [list(StepBatchSampler(3, 5, 4, rank=r, world_size=2)) for r in range(2)]
    assert one == [a + b for a, b in zip(*two)] == [[12, 13, 14, 15], [16, 17, 18, 19]]


def test_samples_are_a_function_of_seed_and_index(corpus):
    from models.data.files import scan_folders as scan

    clean, _ = scan([corpus["clean"]], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    noise, _ = scan([corpus["noise"]], sample_rate_hz=RATE, min_seconds=0.1, what="noise")
    spec = CropSpec("universal", RATE // 2, 9, DegradeConfig())
    rirs = [np.r_[np.zeros(20), 1.0, 0.3 * np.random.default_rng(0).standard_normal(800)].astype(np.float32)]
    ds = DegradedCrops(spec, clean, noise, rirs)
    a, b = ds[5], DegradedCrops(spec, clean, noise, rirs)[5]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert abs(float(a[0].pow(2).mean()) - 1.0) < 1e-3  # unit-RMS input
    assert not torch.equal(ds[6][0], a[0])


def test_gradient_checkpointing_gives_the_same_step(corpus, tmp_path):
    cfg = _cfg(corpus, steps=1, losses=default_losses("denoise", metric_disc=False))
    train(cfg, tmp_path / "plain", quiet=True)
    train(replace(cfg, grad_checkpoint=True), tmp_path / "ckpt", quiet=True)
    a = load_state(tmp_path / "plain" / "last.pt")["model"]
    b = load_state(tmp_path / "ckpt" / "last.pt")["model"]
    assert a.keys() == b.keys()  # wrapping keeps the state-dict keys
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5, msg=key)


def test_phase_task_with_mpd_and_universal_with_simulated_rooms(corpus, tmp_path):
    cfg = _cfg(corpus, task="phase", steps=1, noise_dirs=(), losses=default_losses("phase"), grad_clip=5.0)
    train(cfg, tmp_path / "phase", quiet=False)
    rows = [json.loads(line) for line in (tmp_path / "phase" / "log.jsonl").read_text().splitlines()]
    step = next(r for r in rows if r["kind"] == "train")
    assert {"wop", "mpd", "disc_mpd"} <= set(step) and "magnitude" not in step
    assert "mpd" in load_state(tmp_path / "phase" / "last.pt")["discriminators"]
    # Universal without --rir: rooms simulated once (pyroomacoustics) and cached in the run dir.
    pytest.importorskip("pyroomacoustics")
    import models.data.rirs as rirs

    original = rirs.RoomSimConfig
    try:
        rirs_cfg = lambda: original(count=3)  # noqa: E731 - keep the test fast
        import models.train.loop as loop

        loop.RoomSimConfig = rirs_cfg
        uni = _cfg(corpus, task="universal", steps=1, losses=default_losses("universal", metric_disc=False, mpd=False))
        train(uni, tmp_path / "uni", quiet=True)
    finally:
        loop.RoomSimConfig = original
    with np.load(tmp_path / "uni" / "rirs_simulated.npz") as data:
        assert len(data.files) == 3


def _phase_mpd_cfg(corpus, **kw) -> TrainConfig:
    return _cfg(corpus, task="phase", noise_dirs=(), losses=default_losses("phase"), grad_clip=5.0, **kw)


def test_mpd_windows_cut_the_same_random_span_of_target_and_output(corpus, tmp_path):
    trainer = Trainer(_phase_mpd_cfg(corpus, steps=1, mpd_crop_seconds=0.1), tmp_path / "r", quiet=True)
    length = int(0.1 * RATE)
    n = int(0.5 * RATE)
    target = torch.arange(8 * n, dtype=torch.float32).reshape(8, n)
    output = target + 0.5
    real, fake = trainer._mpd_windows(target, output)
    assert real.shape == fake.shape == (8, length)
    torch.testing.assert_close(fake - real, torch.full_like(real, 0.5))  # the same span of both
    starts = real[:, 0] - torch.arange(8) * n
    assert torch.equal(real - real[:, :1], torch.arange(length, dtype=torch.float32).expand(8, -1))  # contiguous
    assert bool(((starts >= 0) & (starts <= n - length)).all()) and len(set(starts.tolist())) > 1  # per row
    whole = Trainer(_phase_mpd_cfg(corpus, steps=1), tmp_path / "w", quiet=True)
    real, fake = whole._mpd_windows(target, output)
    assert real is target and fake is output  # 0: the whole segment, as the authors


def test_mpd_windows_resume_exactly(corpus, tmp_path):
    cfg = _phase_mpd_cfg(corpus, steps=2, ckpt_every=1, mpd_crop_seconds=0.2)
    a, b = _straight_and_resumed(cfg, tmp_path, 1)
    assert a["step"] == b["step"] == 2
    _assert_same_weights(a, b, "mpd")
    # ... and the window changes what is learnt (the comparison above is not of two unwindowed runs).
    train(replace(cfg, mpd_crop_seconds=0.0), tmp_path / "whole", quiet=True)
    c = load_state(tmp_path / "whole" / "last.pt")
    assert any(not torch.equal(t, c["discriminators"]["mpd"][k]) for k, t in a["discriminators"]["mpd"].items())


def test_mpd_crop_seconds_out_of_range_or_without_the_mpd_is_refused(corpus):
    for bad in (-0.1, 0.01, 0.5, 2.0):  # the segment is 0.5 s
        with pytest.raises(ValueError, match="--mpd-crop-seconds must be 0"):
            _phase_mpd_cfg(corpus, mpd_crop_seconds=bad)
    with pytest.raises(ValueError, match="--mpd-crop-seconds sets what the multi-period discriminator judges"):
        _cfg(corpus, losses=default_losses("denoise", mpd=False), mpd_crop_seconds=0.2)


def test_a_file_vanishing_after_the_scan_is_not_fatal(corpus, tmp_path):
    import shutil

    d = tmp_path / "c"
    shutil.copytree(corpus["clean"], d)
    files, _ = scan_folders([d], sample_rate_hz=RATE, min_seconds=0.1, what="clean")
    (d / "c0.wav").unlink()
    (d / "c1.wav").write_bytes(b"broken now")
    ds = DegradedCrops(CropSpec("bwe", RATE // 2, 3, DegradeConfig()), files)
    for i in range(12):
        x, y = ds[i]
        assert x.shape == (RATE // 2,) and torch.isfinite(x).all()


@pytest.mark.parametrize("target", ["irm", "cirm"])
def test_masknet_trains_on_its_target_loss_and_exports(corpus, tmp_path, target):
    cfg = _cfg(corpus, arch="masknet", config_name=f"tiny_{target}", steps=6, lr=5e-3,
               losses=default_losses("denoise", arch="masknet"))
    assert cfg.losses.mask == 1.0 and cfg.losses.magnitude == 0 and cfg.losses.metric == 0
    train(cfg, tmp_path / "m", quiet=False)
    rows = [json.loads(line) for line in (tmp_path / "m" / "log.jsonl").read_text().splitlines()]
    losses = [r["mask"] for r in rows if r["kind"] == "train"]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert {k for r in rows if r["kind"] == "train" for k in r} >= {"mask", "loss"}
    assert not {k for r in rows if r["kind"] == "train" for k in r} & {"magnitude", "phase", "time"}
    from models.api import load_model

    model = load_model(str(tmp_path / "m" / "model.safetensors"))
    out = model(torch.randn(1, 4000) * 0.1)
    assert out.shape == (1, 4000) and torch.isfinite(out).all()


def test_masknet_step_uses_the_ideal_mask_of_the_batch(corpus, tmp_path):
    """The trainer's mask term equals the network's own mask_loss on the batch's STFTs."""
    from models import stft as S

    cfg = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=1,
               losses=default_losses("denoise", arch="masknet"))
    trainer = Trainer(cfg, tmp_path / "t", quiet=True)
    x, y = next(iter(trainer._loader()))
    mag, phase = S.analyse(x, trainer.stft_cfg)
    with torch.no_grad():
        _, _, est = trainer.net(mag, phase, return_estimate=True)
        expected = trainer.net.mask_loss(est, S.stft(x, trainer.stft_cfg), S.stft(y, trainer.stft_cfg))
    comps = trainer.train_step(x, y)
    assert comps["mask"] == pytest.approx(float(expected), rel=1e-5)
    assert comps["loss"] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("degraded", [False, True])
def test_metric_critic_learns_the_degraded_inputs_pesq_only_when_asked(corpus, tmp_path, monkeypatch, degraded):
    """MetricGAN+: with metric_disc_degraded the critic also scores the input against the clean target, with the
    input's own PESQ as its target; without it, only the clean and the network's output."""
    from models import discriminators as DS
    from models import stft as S

    cfg = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=1, segment_seconds=1.0,
               losses=replace(default_losses("denoise", arch="masknet"), metric=1.0), metric_disc_degraded=degraded)
    trainer = Trainer(cfg, tmp_path / "t", quiet=True)
    x, y = next(iter(trainer._loader()))
    pesq_calls, critic_inputs = [], []
    real_targets = DS.pesq_targets
    monkeypatch.setattr(DS, "pesq_targets",
                        lambda c, e, r, scorer: pesq_calls.append((c.copy(), e.copy())) or real_targets(c, e, r, scorer))
    trainer.discs["metric"].register_forward_hook(lambda m, args, out: critic_inputs.append(args[1].detach()))
    comps = trainer.train_step(x, y)
    b = x.shape[0]
    critic_step = critic_inputs[0]  # then the generator's own term scores its output alone
    assert critic_step.shape[0] == (3 if degraded else 2) * b and critic_inputs[1].shape[0] == b
    # One PESQ call for all rows (a pool scores them together): the output's, then the input's.
    [(refs, estimates)] = pesq_calls
    assert estimates.shape[0] == (2 if degraded else 1) * b and np.array_equal(refs, np.concatenate([y.numpy()] * (
        2 if degraded else 1)))
    assert not np.array_equal(estimates[:b], x.numpy())  # the network's output
    if degraded:
        assert np.array_equal(estimates[b:], x.numpy())
        in_mag, _ = S.mag_phase(S.stft(x, trainer.stft_cfg), trainer.stft_cfg)
        assert torch.equal(critic_step[2 * b:], in_mag)
    assert np.isfinite(comps["disc_metric"]) and "metric" in comps


def test_metric_disc_degraded_without_the_critic_is_refused(corpus):
    with pytest.raises(ValueError, match="--metric-disc-degraded"):
        _cfg(corpus, losses=default_losses("denoise", metric_disc=False), metric_disc_degraded=True)
    with pytest.raises(ValueError, match="--pesq-workers scores the PESQ discriminator"):
        _cfg(corpus, losses=default_losses("denoise", metric_disc=False), pesq_workers=2)
    with pytest.raises(ValueError, match="--pesq-workers must be 0"):
        _cfg(corpus, pesq_workers=-1)


def test_a_pesq_pool_trains_the_critic_exactly_as_the_training_process_does(corpus, tmp_path):
    """Two steps with the critic's PESQ scored by 2 pool processes equal two steps scored in the training process,
    and the pool is gone when the run ends."""
    losses = replace(default_losses("denoise", arch="masknet"), metric=1.0)
    logs = {}
    for workers in (0, 2):
        cfg = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=2, segment_seconds=1.0, losses=losses,
                   metric_disc_degraded=True, pesq_workers=workers, log_every=1)
        trainer = Trainer(cfg, tmp_path / f"w{workers}")
        trainer.run()
        assert trainer._pesq is None  # closed by run()
        logs[workers] = [{k: v for k, v in json.loads(line).items() if k not in ("unix_time", "steps_per_s")}
                         for line in (tmp_path / f"w{workers}" / "log.jsonl").read_text().splitlines()]
    assert logs[2] == logs[0] and any("disc_metric" in r for r in logs[0])


def test_loss_recipes_choose_the_components():
    spectral = default_losses("denoise", metric_disc=False, arch="masknet", recipe_name="spectral")
    assert spectral.mask == 0 and spectral.magnitude == 0.9 and spectral.metric == 0
    assert default_losses("denoise", arch="masknet", recipe_name="target") == default_losses("denoise", arch="masknet")
    assert default_losses("denoise", recipe_name="auto") == default_losses("denoise")
    with pytest.raises(ValueError, match="needs a mask-estimation network"):
        default_losses("denoise", recipe_name="target")
    with pytest.raises(ValueError, match="unknown --loss-recipe"):
        default_losses("denoise", recipe_name="perceptual")


def test_masknet_trains_on_the_spectral_recipe(corpus, tmp_path):
    cfg = _cfg(corpus, arch="masknet", config_name="tiny_irm", steps=2,
               losses=default_losses("denoise", metric_disc=False, arch="masknet", recipe_name="spectral"))
    train(cfg, tmp_path / "s", quiet=False)
    rows = [json.loads(line) for line in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    keys = {k for r in rows if r["kind"] == "train" for k in r}
    assert {"magnitude", "complex", "time"} <= keys and "mask" not in keys


def test_init_weights_starts_from_the_given_checkpoint(corpus, tmp_path):
    """--init-weights: step 0 holds the file's weights (not a random init); a resumed run ignores it."""
    from models.checkpoint import load_checkpoint

    first = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=2, seed=7,
                 losses=default_losses("denoise", arch="masknet"))
    train(first, tmp_path / "a", quiet=True)
    source = tmp_path / "a" / "model.safetensors"
    saved = load_checkpoint(source).state_dict
    tuned = replace(first, seed=8, init_weights=str(source))
    trainer = Trainer(tuned, tmp_path / "b", quiet=True)
    for key, tensor in trainer.net.state_dict().items():
        assert torch.equal(tensor, saved[key]), key
    fresh = Trainer(replace(first, seed=8), tmp_path / "c", quiet=True)
    assert not all(torch.equal(v, saved[k]) for k, v in fresh.net.state_dict().items())
    # After training steps, resuming continues from last.pt, not from the init file.
    train(replace(tuned, steps=1), tmp_path / "b2", quiet=True)
    resumed = Trainer(tuned, tmp_path / "b2", resume=True, quiet=True)
    after = load_state(tmp_path / "b2" / "last.pt")["model"]
    for key, tensor in resumed.net.state_dict().items():
        assert torch.equal(tensor, after[key]), key
    assert any(not torch.equal(after[k], saved[k]) for k in saved)
    # A resume may leave --init-weights out (the file may be gone): same state, and the saved config
    # still names the starting weights. Another file is still a different config.
    source.rename(source.with_suffix(".moved"))
    again = Trainer(replace(tuned, init_weights=""), tmp_path / "b2", resume=True, quiet=True)
    for key, tensor in again.net.state_dict().items():
        assert torch.equal(tensor, after[key]), key
    assert again.cfg.init_weights == str(source)
    assert json.loads((tmp_path / "b2" / "config.json").read_text())["init_weights"] == str(source)
    with pytest.raises(RunDirError, match="made by another config"):
        Trainer(replace(tuned, init_weights=str(tmp_path / "other.safetensors")), tmp_path / "b2", resume=True,
                quiet=True)


def test_init_weights_of_another_network_is_refused(corpus, tmp_path):
    first = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=1,
                 losses=default_losses("denoise", arch="masknet"))
    train(first, tmp_path / "a", quiet=True)
    other = replace(first, config_name="tiny_map", init_weights=str(tmp_path / "a" / "model.safetensors"))
    with pytest.raises(RunDirError, match="same --arch and --config"):
        train(other, tmp_path / "b", quiet=True)
    with pytest.raises(RunDirError, match="neither a checkpoint file nor a registered model"):
        train(replace(first, init_weights="no-such-model"), tmp_path / "c", quiet=True)


def test_init_weights_may_change_the_mask_target_of_a_same_shape_network(corpus, tmp_path):
    """PSM weights start an IAM run as they are (same layers, another target); tiny_psm -> tiny (hidden 8,
    conv 2) is still refused when a size differs."""
    from models.checkpoint import load_checkpoint

    first = _cfg(corpus, arch="masknet", config_name="tiny_psm", steps=1,
                 losses=default_losses("denoise", arch="masknet"))
    train(first, tmp_path / "a", quiet=True)
    source = tmp_path / "a" / "model.safetensors"
    saved = load_checkpoint(source).state_dict
    iam = Trainer(replace(first, config_name="tiny_iam", init_weights=str(source)), tmp_path / "b", quiet=True)
    assert iam.net.cfg.target == "iam"
    for key, tensor in iam.net.state_dict().items():
        assert torch.equal(tensor, saved[key]), key
    with pytest.raises(RunDirError, match="same --arch and --config"):
        Trainer(replace(first, config_name="psm", init_weights=str(source)), tmp_path / "c", quiet=True)


def test_masknet_map_learns_bandwidth_extension_loss(corpus, tmp_path):
    """The map target trains on the bwe task through its magnitude loss and exports a usable model."""
    cfg = _cfg(corpus, task="bwe", noise_dirs=(), arch="masknet", config_name="tiny_map", steps=3,
               losses=default_losses("bwe", arch="masknet"))
    train(cfg, tmp_path / "m", quiet=False)
    rows = [json.loads(line) for line in (tmp_path / "m" / "log.jsonl").read_text().splitlines()]
    losses = [r["mask"] for r in rows if r["kind"] == "train"]
    assert len(losses) == 3 and all(np.isfinite(losses))
    from models.api import load_model

    out = load_model(str(tmp_path / "m" / "model.safetensors"))(torch.randn(1, 4000) * 0.1)
    assert out.shape == (1, 4000) and torch.isfinite(out).all()


def test_validation_items_are_degraded_whatever_the_clean_fraction(corpus):
    """--clean-fraction is for training only: the validation set is the same with and without it."""
    from models.data.degrade import DegradeConfig
    from models.data.files import scan_folders
    from models.train.validation import build_val_set

    files, _ = scan_folders([corpus["val"]], sample_rate_hz=16000, min_seconds=0.1, what="val")
    noise, _ = scan_folders([corpus["noise"]], sample_rate_hz=16000, min_seconds=0.1, what="noise")
    plain = build_val_set(files, "denoise", DegradeConfig(), 3, 2, 1.0, noise, None)
    mostly_clean = build_val_set(files, "denoise", DegradeConfig(clean_prob=0.99), 3, 2, 1.0, noise, None)
    for a, b in zip(plain, mostly_clean, strict=True):
        assert b.case == "only_noise" and np.array_equal(a.input, b.input)
        assert not np.allclose(b.input, b.target)


def test_init_critic_starts_the_metric_critic_from_a_run_checkpoint_and_bad_sources_are_one_line(corpus, tmp_path):
    """--init-critic: the new run's critic starts as the old run's last.pt holds it (a fresh one does not); a run
    without the metric loss, a missing file, a checkpoint without a critic and a foreign file are refused."""
    cfg = _cfg(corpus, steps=2)  # the default denoise losses include the metric critic
    train(cfg, tmp_path / "first", quiet=True)
    old = load_state(tmp_path / "first" / "last.pt")["discriminators"]["metric"]
    carried = Trainer(replace(cfg, seed=5, init_critic=str(tmp_path / "first" / "last.pt")), tmp_path / "second",
                      quiet=True).discs["metric"].state_dict()
    fresh = Trainer(replace(cfg, seed=5), tmp_path / "third", quiet=True).discs["metric"].state_dict()
    assert all(torch.equal(old[k], v) for k, v in carried.items())
    assert not all(torch.equal(old[k], v) for k, v in fresh.items())
    # A resumed run keeps its own critic, and may leave the option out.
    train(replace(cfg, init_critic=str(tmp_path / "first" / "last.pt"), steps=3), tmp_path / "second", quiet=True)
    train(replace(cfg, steps=4), tmp_path / "second", resume=True, quiet=True)

    no_critic = _cfg(corpus, steps=1, losses=default_losses("denoise", metric_disc=False))
    train(no_critic, tmp_path / "plain", quiet=True)
    (tmp_path / "foreign.pt").write_bytes(b"not a checkpoint")
    for run_cfg, source, needle in [
        (no_critic, tmp_path / "first" / "last.pt", "has no metric critic; add --loss metric=W"),
        (cfg, tmp_path / "missing.pt", "file not found"),
        (cfg, tmp_path / "plain" / "last.pt", "holds no metric critic"),
        (cfg, tmp_path / "foreign.pt", "cannot read the training checkpoint"),
    ]:
        with pytest.raises(RunDirError, match=needle) as err:
            Trainer(replace(run_cfg, init_critic=str(source)), tmp_path / f"bad-{needle[:8]}", quiet=True)
        assert "--init-critic" in str(err.value) and "\n" not in str(err.value)
