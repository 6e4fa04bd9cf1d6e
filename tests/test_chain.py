"""Model chains (``--model a+b``): order, shared loudness factor, tasks, bad specs, and the CLI."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from models import api
from models import stft as S
from models.chain import ChainedEnhancer, split_chain
from models.enhancer import Enhancer, ModelInfo
from models.registry import WEIGHTS_DIR

from test_train_fixtures import noisy_speechlike

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def bwe_twice_entry():
    """A chain entry (the bandwidth extender twice), for registering in a test's registry."""
    from models import registry

    return registry.RegistryEntry(name="bwe-twice", arch="chain", config_name="masknet-map-bwe+masknet-map-bwe",
                                  tasks=("bwe",), mode="enhance", stages=("masknet-map-bwe", "masknet-map-bwe"))


class _Scale(nn.Module):
    """A stand-in stage: multiplies by ``factor`` and records the gains it was given."""

    def __init__(self, factor: float, rate: int = 16000, name: str = "scale"):
        super().__init__()
        self.factor, self.sample_rate_hz, self.gains = factor, rate, []
        self.info = ModelInfo(name=name, arch="test", config_name="x", tasks=("denoise",), mode="enhance",
                              sample_rate_hz=rate, source="test")

    def forward(self, wave, gain=None):
        self.gains.append(gain)
        return wave * self.factor


def test_split_chain_names_the_stages_and_refuses_an_empty_one():
    assert split_chain("masknet-map-bwe") is None
    assert split_chain("a+b+c") == ["a", "b", "c"]
    for bad in ("a+", "+b", "a++b"):
        with pytest.raises(ValueError, match="empty stage"):
            split_chain(bad)


def test_stages_run_in_order_on_the_previous_output_with_the_input_loudness_factor():
    first, second = api.load_model("wiener"), api.load_model("gre-tiny-random")
    chain = api.load_model("wiener+gre-tiny-random")
    assert isinstance(chain, ChainedEnhancer)
    x = torch.from_numpy(np.stack([noisy_speechlike(1.5, seed=0), 3 * noisy_speechlike(1.5, seed=1)]))
    with torch.inference_mode():
        gain = S.loudness_gain(x)
        expected = second(first(x, gain), gain)
        got = chain(x)
        reversed_order = first(second(x, gain), gain)
    assert torch.equal(got, expected)
    assert not torch.allclose(got, reversed_order, atol=1e-4)  # the order matters, so the test can tell


def test_a_given_gain_reaches_every_stage_unchanged():
    a, b = _Scale(0.5, name="a"), _Scale(2.0, name="b")
    chain = ChainedEnhancer([a, b])
    x = torch.ones(1, 400)
    gain = torch.tensor([0.25])
    assert torch.equal(chain(x, gain), x)
    assert a.gains[0] is gain and b.gains[0] is gain
    chain(x)  # without a gain: one factor from the chain's input (unit RMS input -> 1), not per stage
    assert torch.equal(a.gains[1], torch.ones(1)) and torch.equal(b.gains[1], torch.ones(1))


def test_the_chain_serves_the_tasks_of_its_stages_and_names_them():
    chain = api.load_model("masknet-psm-universal-v2+masknet-map-bwe")
    assert chain.info.name == "masknet-psm-universal-v2+masknet-map-bwe"
    assert chain.info.tasks == ("universal", "bwe")
    assert chain.info.arch == "chain" and chain.sample_rate_hz == 16000
    x = noisy_speechlike(1.5, 0)
    out = api.enhance(x, 16000, chain)
    with torch.inference_mode():
        alone = api.enhance(x, 16000, "masknet-psm-universal-v2")
    assert out.shape == x.shape and not np.allclose(out, alone, atol=1e-4)


def test_stages_at_different_rates_are_refused():
    with pytest.raises(ValueError, match="share one sample rate.*a at 16000 Hz, b at 8000 Hz"):
        ChainedEnhancer([_Scale(1.0, 16000, "a"), _Scale(1.0, 8000, "b")])
    with pytest.raises(ValueError, match="at least two"):
        ChainedEnhancer([_Scale(1.0)])


def test_a_checkpoint_file_with_a_plus_in_its_name_is_one_model(tmp_path):
    path = tmp_path / "bwe+v1.safetensors"
    shutil.copy(WEIGHTS_DIR / "masknet-map-bwe.safetensors", path)
    model = api.load_model(str(path))
    assert isinstance(model, Enhancer) and model.info.name == str(path)
    chain = api.load_model(f"wiener+{path}")  # and it can be a stage
    assert [s.info.name for s in chain.stages] == ["wiener", str(path)]


def test_gre_enhance_runs_a_chain_and_refuses_bad_ones_with_one_line(gre, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    x = noisy_speechlike(2.0, 0)
    sf.write(src / "a.wav", x, 16000, subtype="FLOAT")
    common = ["--threads", "1", "--workers", "0", "--chunk-seconds", "0", "--quiet"]
    done = subprocess.run([gre, "enhance", src, out, "--model", "wiener+masknet-map-bwe", "--task", "denoise",
                           *common], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    y, rate = sf.read(out / "a.wav", dtype="float32")
    assert rate == 16000
    np.testing.assert_allclose(y, api.enhance(x, 16000, "wiener+masknet-map-bwe"), atol=1e-5)
    for model, task, needle in [("wiener+", "denoise", "empty stage"),
                                ("wiener+no-such-model", "denoise", "unknown model 'no-such-model'"),
                                ("wiener+masknet-map-bwe", "dereverb", "not trained for --task dereverb")]:
        bad = subprocess.run([gre, "enhance", src, tmp_path / "bad", "--model", model, "--task", task, *common],
                             capture_output=True, timeout=300)
        lines = bad.stderr.decode().strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1 and needle in lines[0], bad.stderr.decode()
        assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("model, args, rate", [
    ("wiener+masknet-map-bwe", ["--task", "denoise"], 16000),  # ends in the bandwidth extender
    ("wiener+masknet-map-bwe", [], 16000),
    ("masknet-map-bwe+wiener", ["--task", "denoise"], 16000),  # a later stage keeps the band it was given
    ("wiener+masknet-map-bwe", ["--task", "denoise", "--out-sample-rate", "8000"], 8000),  # asked for
    ("wiener+masknet-psm-refine-soup-denoise", [], 8000),  # nothing widens: the input's rate
])
def test_a_chain_with_a_bandwidth_extender_gives_wideband_output_whatever_the_task(gre, tmp_path, model, args, rate):
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "call.wav", noisy_speechlike(1.0, 0)[::2], 8000, subtype="PCM_16")
    done = subprocess.run([gre, "enhance", src, tmp_path / "out", "--model", model, *args, "--threads", "1",
                           "--workers", "0", "--quiet"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    info = sf.info(tmp_path / "out" / "call.wav")
    assert (info.samplerate, info.frames) == (rate, rate)  # 1 s at the output rate


def test_gre_models_counts_the_parameters_of_a_registered_chains_models(monkeypatch):
    from gre_cli.cmd_models import _param_count
    from models import registry

    entry = bwe_twice_entry()
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    one = _param_count(registry.get_entry("masknet-map-bwe"))
    assert one > 0 and _param_count(entry) == 2 * one
    assert entry.available
    missing = registry.RegistryEntry(name="x", arch="chain", config_name="a+b", tasks=("bwe",), mode="enhance",
                                     stages=("masknet-map-bwe", "no-such-model"))
    assert not missing.available


def test_gre_benchmark_takes_a_chain_as_trained_weights(monkeypatch):
    from models import registry
    from models.bench.systems import load_model_module

    entry = bwe_twice_entry()
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    for spec in ("bwe-twice", "masknet-map-bwe+masknet-map-bwe"):
        module, info = load_model_module(spec)
        assert isinstance(module, ChainedEnhancer) and not info.random_weights and info.has_network
        assert info.params == 2 * sum(p.numel() for p in api.load_model("masknet-map-bwe").parameters())
    assert load_model_module("gre-tiny-random")[1].random_weights  # the check can tell


def test_a_registered_chain_cannot_start_a_training_run(monkeypatch):
    from models import registry
    from models.architectures import named_config
    from models.train.loop import RunDirError, initial_weights

    entry = bwe_twice_entry()
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    with pytest.raises(RunDirError, match="--init-weights bwe-twice is a chain of models.*start from one of them"):
        initial_weights("bwe-twice", "masknet", named_config("masknet", "map"))


def test_gre_benchmark_lists_a_registered_chain_among_the_shipped_models(monkeypatch):
    from models import registry
    from models.bench import default_models

    entry = bwe_twice_entry()
    assert "bwe-twice" not in default_models()
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    models = default_models()
    assert "bwe-twice" in models and "masknet-map-bwe" in models and "gre-tiny-random" not in models
