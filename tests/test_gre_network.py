import math

import pytest
import torch

import models
from models.config import gre_config
from models.nets.gre import GRENet
from models.nets.mpicm import CrossGate


def test_models_package_is_ours():
    # `models` is a generic import name: make sure the installed one is this project's.
    assert models.__file__.replace("\\", "/").endswith("/models/__init__.py")
    assert hasattr(models, "__version__")
    from models.nets import gre  # noqa: F401  (our module, not someone else's models package)


@pytest.mark.parametrize("name, expected", [("standard", 1_549_969), ("universal", 1_549_969), ("small", 900_529)])
def test_parameter_counts_match_the_paper(name, expected):
    net = GRENet(gre_config(name))
    assert sum(p.numel() for p in net.parameters()) == expected


def test_every_gate_is_exactly_one_at_init():
    torch.manual_seed(0)
    net = GRENet(gre_config("tiny"))
    gates = [m for m in net.modules() if isinstance(m, CrossGate)]
    assert gates, "the network has cross gates"
    outputs = []
    hooks = [g.register_forward_hook(lambda mod, inp, out: outputs.append(out)) for g in gates]
    with torch.no_grad():
        net(torch.rand(1, 201, 20), torch.rand(1, 201, 20) * 6 - 3)
    for h in hooks:
        h.remove()
    assert len(outputs) == len(gates)
    for out in outputs:
        assert torch.equal(out, torch.ones_like(out))


def _perturb(net, scale=0.5):
    # Random non-zero weights everywhere (at init the gates are constant, which would hide bugs).
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale * (p.std() if p.numel() > 1 else 1.0) + 0.01)
    return net


def _check_equivariance(net, mag, phase, theta):
    with torch.no_grad():
        m0, p0 = net(mag, phase)
        m1, p1 = net(mag, phase + theta)
    rel_mag = (m1 - m0).abs().max() / m0.abs().max().clamp_min(1e-12)
    diff = torch.remainder(p1 - p0 - theta + math.pi, 2 * math.pi) - math.pi
    return rel_mag.item(), diff


@pytest.mark.parametrize("theta", [0.7, 2.5, -1.9])
def test_rotation_equivariance_random_weights(theta):
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config("tiny"))).double().eval()
    g = torch.Generator().manual_seed(2)
    mag = torch.rand(2, 201, 30, generator=g, dtype=torch.float64)
    phase = torch.rand(2, 201, 30, generator=g, dtype=torch.float64) * 2 * math.pi - math.pi
    rel_mag, diff = _check_equivariance(net, mag, phase, theta)
    assert rel_mag <= 1e-4
    assert diff.abs().max().item() <= 1e-3


def test_a_non_equivariant_change_is_detected():
    # Guard that the check above can fail: a bias on the phase head breaks GRE.
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config("tiny"))).double().eval()
    original = net.decoder.phase_head.forward
    net.decoder.phase_head.forward = lambda z: original(z) + 0.5
    mag = torch.rand(1, 201, 20, dtype=torch.float64)
    phase = torch.rand(1, 201, 20, dtype=torch.float64) * 6 - 3
    _, diff = _check_equivariance(net, mag, phase, 1.0)
    assert diff.abs().max().item() > 1e-2


def test_batched_equals_unbatched():
    torch.manual_seed(0)
    net = _perturb(GRENet(gre_config("tiny"))).eval()
    mag = torch.rand(3, 201, 25)
    phase = torch.rand(3, 201, 25) * 6 - 3
    with torch.no_grad():
        mb, pb = net(mag, phase)
        for i in range(3):
            mi, pi = net(mag[i:i + 1], phase[i:i + 1])
            assert torch.allclose(mi[0], mb[i], atol=1e-5)
            assert torch.allclose(torch.polar(torch.ones_like(pi[0]), pi[0]), torch.polar(torch.ones_like(pb[i]), pb[i]), atol=1e-4)


@pytest.mark.parametrize("frames", [1, 2, 7, 64])
def test_any_number_of_frames(frames):
    net = GRENet(gre_config("tiny")).eval()
    with torch.no_grad():
        m, p = net(torch.rand(1, 201, frames), torch.zeros(1, 201, frames))
    assert m.shape == p.shape == (1, 201, frames)
    assert (m >= 0).all() and torch.isfinite(p).all()
