"""The GRE fast forward (models/nets/fast_path.py) computes the reference forward's maths."""
import math

import pytest
import torch

from models.config import gre_config
from models.nets import fast_path
from models.nets.gre import GRENet
from models.nets.hadf import HADF

CONFIGS = ["tiny", "lite", "small", "standard"]


def _perturb(net, scale=0.5):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale * (p.std() if p.numel() > 1 else 1.0) + 0.01)
    return net


def _inputs(dtype, batch=2, frames=23, seed=2):
    g = torch.Generator().manual_seed(seed)
    mag = torch.rand(batch, 201, frames, generator=g, dtype=dtype)
    phase = torch.rand(batch, 201, frames, generator=g, dtype=dtype) * 2 * math.pi - math.pi
    return mag, phase


def _phase_diff(a, b):
    return (torch.remainder(a - b + math.pi, 2 * math.pi) - math.pi).abs().max().item()


def test_fast_path_is_on_by_default_and_switchable():
    assert all(fast_path.uses(f) for f in fast_path.FEATURES)
    with fast_path.disabled():
        assert not any(fast_path.uses(f) for f in fast_path.FEATURES)
    with pytest.raises(ValueError, match="unknown fast-path features"):
        with fast_path.only("no-such-step"):
            pass


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_equals_reference_float64(name):
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config(name))).double().eval()
    mag, phase = _inputs(torch.float64)
    with torch.no_grad():
        with fast_path.disabled():
            ref_mag, ref_phase = net(mag, phase)
        fast_mag, fast_phase = net(mag, phase)
    assert (fast_mag - ref_mag).abs().max().item() <= 1e-10
    assert _phase_diff(fast_phase, ref_phase) <= 1e-9


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_equals_reference_float32(name):
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config(name))).eval()
    mag, phase = _inputs(torch.float32)
    with torch.inference_mode():
        with fast_path.disabled():
            ref_mag, ref_phase = net(mag, phase)
        fast_mag, fast_phase = net(mag, phase)
    assert (fast_mag - ref_mag).abs().max().item() <= 1e-4 * max(ref_mag.abs().max().item(), 1.0)
    assert _phase_diff(fast_phase, ref_phase) <= 1e-3


@pytest.mark.parametrize("name", ["tiny", "lite"])
def test_fast_path_gradients_equal_reference(name):
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config(name))).double().train()
    mag, phase = _inputs(torch.float64, frames=17)

    def grads():
        net.zero_grad()
        out_mag, out_phase = net(mag, phase)
        (out_mag.square().mean() + torch.cos(out_phase).mean()).backward()
        return {n: p.grad.clone() for n, p in net.named_parameters()}

    with fast_path.disabled():
        ref = grads()
    fast = grads()
    assert ref.keys() == fast.keys()
    for key in ref:
        assert torch.allclose(fast[key], ref[key], rtol=1e-7, atol=1e-10), key


@pytest.mark.parametrize("name", ["small", "standard"])
def test_hadf_block_fast_equals_reference(name):
    # one block on token sequences of a few lengths, including shorter than the conv kernel
    cfg = gre_config(name)
    torch.manual_seed(0)
    block = _perturb(HADF(cfg)).double()
    for length in (1, 3, 50):
        x = torch.randn(3, length, 2 * cfg.phase_channels + cfg.mag_channels, dtype=torch.float64)
        with torch.no_grad():
            with fast_path.disabled():
                ref = block(x)
            fast = block(x)
        assert (fast - ref).abs().max().item() <= 1e-10, length


def test_state_dict_keys_unchanged_by_fast_path():
    net = GRENet(gre_config("small"))
    keys = set(net.state_dict())
    assert not any("fused" in k or "cache" in k for k in keys)
    assert sum(p.numel() for p in net.parameters()) == 900_529
