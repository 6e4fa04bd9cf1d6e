import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models import api
from models.architectures import build_network, named_config
from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from models.config import gre_config
from models.nets.gre_keys import authors_key_to_ours, convert_authors_state, infer_authors_config_name
from models.registry import default_model_for, get_entry

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "clean"


def _authors_layout(state: dict) -> dict:
    """Build an authors'-layout state dict from ours by inverting the mapping on their key list."""
    from conftest import REFERENCE_PR

    if not REFERENCE_PR.exists():
        pytest.skip("authors' reference file not present")
    theirs = torch.load(REFERENCE_PR, map_location="cpu", weights_only=True)["generator"]
    return {k: state[authors_key_to_ours(k)].clone() for k in theirs}


def test_safetensors_round_trip_keeps_config_and_weights(tmp_path):
    torch.manual_seed(3)
    net = build_network("gre", named_config("gre", "tiny"))
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, net.state_dict(), arch="gre", config=gre_config("tiny"), config_name="tiny",
                    sample_rate_hz=16000, tasks=("denoise",), mode="enhance")
    assert not list(tmp_path.glob(".*tmp")), "atomic write leaves no temporary file"
    model = api.load_model(path)
    assert model.info.config_name == "tiny" and model.info.tasks == ("denoise",)
    for k, v in net.state_dict().items():
        assert torch.equal(model.network.state_dict()[k], v)


def test_weights_only_torch_dict_is_accepted(tmp_path):
    net = build_network("gre", named_config("gre", "tiny"))
    path = tmp_path / "m.pt"
    torch.save({"arch": "gre", "config": gre_config("tiny").to_dict(), "config_name": "tiny",
                "state_dict": net.state_dict(), "sample_rate_hz": 16000, "tasks": "denoise", "mode": "enhance"}, path)
    assert load_checkpoint(path).config_name == "tiny"


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_code_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"generator": _Evil()}, path)
    with pytest.raises(CheckpointError, match="pickle code execution"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", pickle.dumps([1, 2, 3])])
def test_unreadable_files_give_checkpoint_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_authors_layout_round_trip_and_config_inference(tmp_path):
    torch.manual_seed(5)
    net = build_network("gre", named_config("gre", "small"))
    theirs = _authors_layout(net.state_dict())
    assert infer_authors_config_name(theirs) == "small"
    assert set(convert_authors_state(theirs)) == set(net.state_dict())
    path = tmp_path / "g_best"
    torch.save({"generator": theirs}, path)
    model = api.load_model(path)
    assert model.mode == "phase_retrieval"
    x = torch.rand(1, 201, 12)
    with torch.no_grad():
        assert torch.allclose(model.network(x, x)[0], net.eval()(x, x)[0])


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="gre-tiny-random"):
        get_entry("no-such-model")
    with pytest.raises(ValueError, match="tasks"):
        default_model_for("karaoke")


def test_api_enhance_keeps_shape_rate_and_length():
    model = api.load_model("gre-tiny-random")
    for shape, rate in [((1234,), 16000), ((2, 22050), 22050), ((3, 4801), 48000)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
        y = api.enhance(x, rate, model)
        assert y.shape == x.shape and np.isfinite(y).all()


def test_api_enhance_can_return_the_band_a_bandwidth_extender_made():
    """At the input's rate an 8 kHz call loses the band the model made; out_sample_rate keeps it. The
    16-bit floor on the upsampled input is what lets the extender add a band at all (measured: 2e-5 of
    the energy above 4.2 kHz with it, 1e-7 without; clean speech ~1e-2)."""
    from models.audio_resample import resample

    speech, rate = sf.read(EXAMPLES / "it_carlo_clean.wav", dtype="float32")
    narrow = resample(speech, rate, 8000).astype(np.float32)
    same_rate = api.enhance(narrow, 8000, "masknet-map-bwe")
    wide = api.enhance(narrow, 8000, "masknet-map-bwe", out_sample_rate=16000)
    bare = api.enhance(narrow, 8000, "masknet-map-bwe", out_sample_rate=16000, upsampled_floor=False)
    assert same_rate.shape == narrow.shape and wide.shape == bare.shape == (2 * len(narrow),)

    def high_share(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        return float(power[int(len(power) * 4200 / 8000):].sum() / power.sum())

    assert high_share(wide) > 5e-6 and high_share(wide) > 30 * high_share(bare)
    with pytest.raises(ValueError, match="out_sample_rate"):
        api.enhance(narrow, 8000, "masknet-map-bwe", out_sample_rate=0)


def test_seeded_random_registry_model_is_deterministic():
    a = api.load_model("gre-tiny-random").network.state_dict()
    b = api.load_model("gre-tiny-random").network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_every_task_has_a_shipped_default_whose_weights_load():
    """`gre enhance --task T` works out of the box for all five tasks (the registry and the weights agree)."""
    from models.api import load_model
    from models.registry import TASKS, default_model_for

    for task in TASKS:
        name = default_model_for(task)
        model = load_model(task=task)
        assert model is not None, (task, name)


def test_a_stored_config_missing_a_later_field_reads_as_todays_config():
    """config_from_stored fills fields added since a file was written with their defaults, and
    refuses what does not parse with a ValueError."""
    from dataclasses import asdict

    from models.architectures import config_from_stored

    config = named_config("masknet", "psm_refine")
    older = {k: v for k, v in json_round_trip(asdict(config)).items() if k != "refine_time_dilation"}
    assert config_from_stored("masknet", older) == config
    assert config_from_stored("masknet", {**older, "iam_max": 3.0}) != config
    with pytest.raises(ValueError, match="not a masknet config"):
        config_from_stored("masknet", {**older, "stft": {"bogus": 1}})
    with pytest.raises(ValueError, match="unknown architecture"):
        config_from_stored("nonet", older)


def json_round_trip(data: dict) -> dict:
    import json

    return json.loads(json.dumps(data))
