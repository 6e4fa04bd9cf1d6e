"""The universal router: its classifier's front end, each row through exactly its route, router files (trained
from a corpus, loaded by path and by `gre enhance --checkpoint`), and the refusals."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from models import api
from models.enhancer import ModelInfo
from models.nets.degradation import STATISTICS, DegradationClassifier, DegradationClassifierConfig, mel_filterbank
from models.router import RoutedEnhancer
from models.stft import loudness_gain
from models.train.degradation import ClassifierTrainConfig, load_router_file, save_router

from test_train_fixtures import make_router_file, speechlike

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RATE = 16000


class Stage(nn.Module):
    """A stand-in model: ``x * scale + offset``; records the gains it was given."""

    def __init__(self, scale: float, offset: float, tasks: tuple[str, ...], rate: int = RATE):
        super().__init__()
        self.scale, self.offset, self.gains, self.sample_rate_hz = scale, offset, [], rate
        self.info = ModelInfo(f"stage{scale:g}", "test", "-", tasks, "enhance", rate, "test")

    def forward(self, wave, gain=None):
        self.gains.append(gain.clone())
        return wave * self.scale + self.offset


def fixed_classifier(noise: list[bool], reverb: list[bool]) -> DegradationClassifier:
    """A classifier whose probabilities are given per row (1 or 0, whatever the rows hold)."""
    clf = DegradationClassifier()
    clf.probabilities = lambda wave: {"noise": torch.tensor(noise).float(), "reverb": torch.tensor(reverb).float()}
    return clf


def test_mel_filters_cover_the_band_in_order_and_each_sums_to_one():
    fb = mel_filterbank(48, 512, RATE)
    assert fb.shape == (48, 257) and (fb >= 0).all()
    torch.testing.assert_close(fb.sum(dim=1), torch.ones(48))
    peaks = fb.argmax(dim=1)
    assert (peaks[1:] >= peaks[:-1]).all() and peaks[-1] > 240 and peaks[0] < 3


def test_features_do_not_depend_on_level_and_see_a_missing_band_and_a_noise_floor():
    clf = DegradationClassifier()
    x = torch.from_numpy(speechlike(2 * RATE, 0))[None]
    f = clf.features(x)
    assert f.shape == (1, len(STATISTICS) * clf.cfg.n_mels)
    torch.testing.assert_close(clf.features(0.01 * x), f, atol=1e-4, rtol=1e-4)
    # Low-passed at 4 kHz: the top bands' median falls; with a noise floor under the pauses, the bottom
    # decile of every band rises.
    spec = torch.fft.rfft(x)
    spec[:, spec.shape[-1] // 2:] = 0
    low = clf.features(torch.fft.irfft(spec, n=x.shape[-1]))
    m = clf.cfg.n_mels
    p50, p10 = slice(3 * m, 4 * m), slice(2 * m, 3 * m)
    assert (low[0, p50][-8:] < f[0, p50][-8:] - 2).all()
    noisy = x + 0.3 * x.std() * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert (clf.features(noisy)[0, p10] - f[0, p10]).mean() > 0.5


def test_each_row_goes_through_exactly_its_route_in_order_with_the_input_gain():
    """Rows: nothing, noise, reverb, both. The stages' effects do not commute, so a wrong order shows."""
    dereverb, denoise, bwe = Stage(2.0, 0.0, ("dereverb",)), Stage(1.0, 1.0, ("denoise",)), Stage(10.0, 0.0, ("bwe",))
    router = RoutedEnhancer(fixed_classifier([False, True, False, True], [False, False, True, True]),
                            dereverb, denoise, bwe)
    x = torch.rand(4, 300, generator=torch.Generator().manual_seed(1)) + 0.5
    got = router(x)
    expected = torch.stack([x[0] * 10, (x[1] + 1) * 10, (x[2] * 2) * 10, (x[3] * 2 + 1) * 10])
    torch.testing.assert_close(got, expected)
    assert router.routes(x) == [("bwe",), ("denoise", "bwe"), ("dereverb", "bwe"), ("dereverb", "denoise", "bwe")]
    # Every stage got the loudness gains of its own rows of the router's input.
    gain = loudness_gain(x)
    torch.testing.assert_close(torch.cat(dereverb.gains), gain[[2, 3]])
    torch.testing.assert_close(torch.cat(denoise.gains).sort().values, gain[[1, 3]].sort().values)
    assert sum(len(g) for g in bwe.gains) == 4


def peak_classifier() -> DegradationClassifier:
    """A classifier whose noise probability is each row's peak (clipped to 1), and which never hears reverb."""
    clf = DegradationClassifier()
    clf.probabilities = lambda wave: {"noise": wave.abs().amax(dim=-1).clamp(max=1.0),
                                      "reverb": torch.zeros(wave.shape[0])}
    return clf


def test_the_rows_of_a_group_share_the_route_of_their_mean_probability():
    """Peaks 0.9 / 0.3 (mean 0.6: both denoised) and 0.7 / 0.1 (mean 0.4: neither), groups in any order."""
    router = RoutedEnhancer(peak_classifier(), Stage(1, 0, ("dereverb",)), Stage(1.0, 1.0, ("denoise",)),
                            Stage(1, 0, ("bwe",)))
    x = torch.zeros(4, 200)
    x[:, 0] = torch.tensor([0.9, 0.7, 0.3, 0.1])
    groups = torch.tensor([5, 2, 5, 2])
    denoised, plain = ("denoise", "bwe"), ("bwe",)
    assert router.routes(x) == [denoised, denoised, plain, plain]  # each row on its own
    assert router.routes(x, groups=groups) == [denoised, plain, denoised, plain]
    torch.testing.assert_close(router(x, None, groups) - x, torch.tensor([1.0, 0.0, 1.0, 0.0])[:, None].expand(4, 200))
    from models.router import group_mean

    torch.testing.assert_close(group_mean(torch.tensor([1.0, 2.0, 3.0, 5.0]), groups),
                               torch.tensor([2.0, 3.5, 2.0, 3.5]))
    with pytest.raises(ValueError, match="one id per row"):
        group_mean(torch.ones(3), torch.zeros(2))


def test_gre_enhance_and_the_api_route_the_channels_of_a_stereo_chunk_together(tmp_path):
    """Left channel peaks 0.9 then 0.7, right 0.3 then 0.1: routed row by row, only the left channel would be
    denoised (+0.5); routed by chunk, both are in the first second and neither in the second. One row per
    batch and two streams, which would split every chunk's channels without the grouping."""
    from models.batch_enhance import EnhanceOptions, enhance_paths
    from models.chain import ChainedEnhancer

    router = RoutedEnhancer(peak_classifier(), Stage(1, 0, ("dereverb",)), Stage(1.0, 0.5, ("denoise",)),
                            Stage(1, 0, ("bwe",)))
    n = 2 * RATE
    x = np.zeros((2, n), np.float32)
    x[:, 100], x[:, RATE + 100] = [0.9, 0.3], [0.7, 0.1]
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "stereo.wav", x.T, RATE, subtype="FLOAT")
    expected = np.zeros(n, np.float32)
    expected[:RATE] = 0.5
    for label, model in (("router", router), ("chain", ChainedEnhancer([Stage(1, 0, ("denoise",)), router]))):
        options = EnhanceOptions(chunk_seconds=1.0, overlap_seconds=0.0, batch_size=1, streams=2)
        summary = enhance_paths([str(tmp_path / "in")], str(tmp_path / label), model, options)
        assert summary.ok == 1, summary
        y = sf.read(tmp_path / label / "stereo.wav", dtype="float32")[0].T
        np.testing.assert_allclose(y - x, np.stack([expected, expected]), atol=1e-6, err_msg=label)
        # The API: the channels of one signal are one group.
        both = api.enhance(x[:, :RATE], RATE, model)
        np.testing.assert_allclose(both - x[:, :RATE], 0.5, atol=1e-6, err_msg=label)


def test_a_router_refuses_models_at_another_rate_and_a_classifier_of_other_labels():
    other = Stage(1.0, 0.0, ("denoise",), rate=8000)
    with pytest.raises(ValueError, match="one sample rate"):
        RoutedEnhancer(DegradationClassifier(), Stage(1, 0, ("dereverb",)), other, Stage(1, 0, ("bwe",)))
    clf = DegradationClassifier(DegradationClassifierConfig(labels=("noise", "music")))
    with pytest.raises(ValueError, match="noise and reverb"):
        RoutedEnhancer(clf, Stage(1, 0, ("dereverb",)), Stage(1, 0, ("denoise",)), Stage(1, 0, ("bwe",)))


def test_routes_do_not_depend_on_the_precision_the_models_run_at():
    clf = DegradationClassifier()
    torch.manual_seed(0)
    for p in clf.mlp.parameters():
        nn.init.normal_(p, std=0.5)
    router = RoutedEnhancer(clf, Stage(1, 0, ("dereverb",)), Stage(1, 0, ("denoise",)), Stage(1, 0, ("bwe",)))
    g = torch.Generator().manual_seed(2)
    clean = torch.from_numpy(np.stack([speechlike(8000, i) for i in range(8)]))
    x = clean + torch.linspace(0.0, 2.0, 8)[:, None] * clean.std() * torch.randn(8, 8000, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, low_prob = router.routes(x), router.probabilities(x)
    prob = clf.probabilities(x)  # no autocast anywhere
    assert all(torch.equal(low_prob[k], prob[k]) for k in prob)
    assert low == router.routes(x) and len(set(low)) > 1


@pytest.fixture(scope="module")
def router_file(tmp_path_factory):
    """A router trained for a few seconds on the test corpus, routing to the tiny random model."""
    return make_router_file(tmp_path_factory.mktemp("router"))


def test_a_trained_router_tells_noise_and_reverb_apart_on_files_it_did_not_see(router_file):
    _, report = router_file
    # Four equally likely label pairs: chance is 0.5 per label.
    assert report["val_accuracy"]["noise"] >= 0.8 and report["val_accuracy"]["reverb"] >= 0.7, report


def test_a_router_file_round_trips_and_loads_as_a_model(router_file):
    path, report = router_file
    classifier, stages = load_router_file(path)
    assert stages == ["gre-tiny-random"] * 3
    model = api.load_model(path)
    assert isinstance(model, RoutedEnhancer) and model.info.tasks == ("universal",)
    torch.testing.assert_close(model.classifier.feature_std, classifier.feature_std)
    assert float(classifier.feature_std.sum()) != classifier.cfg.n_features  # the standardisation was saved
    x = torch.from_numpy(np.stack([speechlike(RATE, 5), speechlike(RATE, 6)]))
    with torch.inference_mode():
        both = model(x)
        one = torch.cat([model(x[:1]), model(x[1:])])
    torch.testing.assert_close(both, one, atol=1e-5, rtol=1e-5)


def test_a_safetensors_file_that_is_not_a_router_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "x.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"kind": "something-else"})
    with pytest.raises(ValueError, match="not a router file"):
        load_router_file(path)


def test_gre_enhance_runs_a_router_file_and_refuses_one_that_names_unknown_models(gre, router_file, tmp_path):
    path, _ = router_file
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", np.stack([speechlike(int(2.3 * RATE), 1)] * 2, axis=1), RATE, subtype="FLOAT")
    sf.write(src / "nb.wav", speechlike(RATE, 2), 8000)  # narrowband: comes out at the model's rate
    outs = {}
    for name, extra in (("default", []), ("b1", ["--batch-size", "1"])):
        done = subprocess.run([gre, "enhance", src, tmp_path / name, "--checkpoint", path, "--threads", "1",
                               "--workers", "0", "--chunk-seconds", "1", "--overlap-seconds", "0.25", *extra],
                              capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        outs[name] = sf.read(tmp_path / name / "a.wav", dtype="float32")[0]
    np.testing.assert_allclose(outs["default"], outs["b1"], atol=1e-5)
    assert sf.info(tmp_path / "default" / "nb.wav").samplerate == RATE
    # A router naming a model that is not registered: one line, exit 2.
    classifier, _ = load_router_file(path)
    bad = tmp_path / "bad.safetensors"
    save_router(classifier, bad, ("no-such-model", "gre-tiny-random", "gre-tiny-random"),
                ClassifierTrainConfig((), (), ()), {})
    done = subprocess.run([gre, "enhance", src, tmp_path / "bad", "--checkpoint", bad], capture_output=True)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "no-such-model" in lines[0]
    # ... or a model that does not enhance (a phase retriever): one line, exit 2, nothing written.
    save_router(classifier, bad, ("gre-tiny-random", "griffin-lim", "gre-tiny-random"),
                ClassifierTrainConfig((), (), ()), {})
    done = subprocess.run([gre, "enhance", src, tmp_path / "bad", "--checkpoint", bad], capture_output=True)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "griffin-lim is a phase_retrieval model" in lines[0], lines
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_faint_noise_floors_go_only_to_crops_labelled_noise_free_and_only_when_asked(tmp_path):
    """A pure tone as the clean corpus and white noise: crops labelled noise-free have no energy above 6 kHz
    unless --faint-noise gives them a floor (30-45 dB below the speech); the labels do not change."""
    from models.train.degradation import draw_examples

    (tmp_path / "clean").mkdir()
    (tmp_path / "noise").mkdir()
    t = np.arange(2 * RATE) / RATE
    sf.write(tmp_path / "clean" / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)
    sf.write(tmp_path / "noise" / "white.wav",
             np.random.default_rng(0).standard_normal(2 * RATE).astype(np.float32) * 0.1, RATE)
    from models.data.files import scan_folders

    clean, _ = scan_folders([tmp_path / "clean"], sample_rate_hz=RATE, min_seconds=0.5, what="clean")
    noise, _ = scan_folders([tmp_path / "noise"], sample_rate_hz=RATE, min_seconds=0.5, what="noise")
    rirs = [np.r_[1.0, np.zeros(100)].astype(np.float32)]
    high = {}
    for prob in (0.0, 1.0):
        cfg = ClassifierTrainConfig((), (), (), seconds=1.0, band_limit_prob=0.0, faint_noise_prob=prob)
        waves, labels = draw_examples(clean, noise, rirs, 24, cfg, np.random.default_rng(5))
        spec = np.abs(np.fft.rfft(waves, axis=1)) ** 2
        share = spec[:, spec.shape[1] * 6 // 8:].sum(axis=1) / spec.sum(axis=1)
        free = labels[:, 0] == 0
        assert free.any() and (~free).any()
        assert (share[~free] > 1e-4).all()  # the noisy crops: -5..20 dB SNR
        high[prob] = share[free]
    assert (high[0.0] < 1e-8).all()
    assert (high[1.0] > 1e-7).all() and (high[1.0] < 1e-3).all()


def test_training_a_router_from_an_unusable_corpus_is_one_line_and_exit_2(tmp_path):
    import sys

    empty = tmp_path / "empty"
    empty.mkdir()
    one = tmp_path / "one"
    one.mkdir()
    sf.write(one / "a.wav", speechlike(RATE, 0), RATE)
    for clean, needle in ((empty, "no usable clean audio"), (one, "needs at least 2")):
        done = subprocess.run([sys.executable, "-m", "models.train.degradation", "--clean", clean, "--noise", one,
                               "--rir", one, "--out", tmp_path / "r.safetensors"], capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and needle in lines[0], done.stderr
        assert not (tmp_path / "r.safetensors").exists()
