"""MP-SENet baseline: shapes, parameter counts, the authors' checkpoint layout and their batch_first bug."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.architectures import build_network, get_architecture, named_config
from models.checkpoint import AUTHORS_CONVERTERS, load_checkpoint
from models.nets.mpsenet import (
    LONG_PARAMS,
    LONG_PHASE_PARAMS,
    MPSENET_CONFIGS,
    MPSENet,
    MPSENetConfig,
    TSBlock,
    authors_key_to_ours,
    load_authors_checkpoint,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------------------
# A stand-in for the authors' module tree, written here from their published layout
# (models/model.py + models/transformer.py of yxlu-0102/MP-SENet): same module names, same
# sequence-first attention/GRU. It only exists to produce state dicts in THEIR key schema and a
# reference output computed the way their code computes it.
# ---------------------------------------------------------------------------------------------
class _H:
    def __init__(self, dense_channel: int, n_fft: int = 400, beta: float = 2.0):
        self.dense_channel, self.n_fft, self.beta = dense_channel, n_fft, beta


def _cna(cin, cout, k, **kw):
    return nn.Sequential(nn.Conv2d(cin, cout, k, **kw), nn.InstanceNorm2d(cout, affine=True), nn.PReLU(cout))


class _TheirDense(nn.Module):
    def __init__(self, h, depth):
        super().__init__()
        c = h.dense_channel
        self.dense_block = nn.ModuleList(
            nn.Sequential(nn.ConstantPad2d((1, 1, 2 ** i, 0), 0.0), nn.Conv2d(c * (i + 1), c, (2, 3), dilation=(2 ** i, 1)),
                          nn.InstanceNorm2d(c, affine=True), nn.PReLU(c)) for i in range(depth))

    def forward(self, x):
        skip = x
        for layer in self.dense_block:
            x = layer(skip)
            skip = torch.cat([x, skip], 1)
        return x


class _TheirSPConv(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 2 * c, (1, 3))

    def forward(self, x):
        y = self.conv(F.pad(x, (1, 1, 0, 0)))
        b, n, t, f = y.shape
        return y.view(b, 2, n // 2, t, f).permute(0, 2, 3, 4, 1).reshape(b, n // 2, t, 2 * f)


class _TheirFFN(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gru = nn.GRU(d, hidden, 1, bidirectional=True)  # sequence-first, as theirs
        self.linear = nn.Linear(2 * hidden, d)

    def forward(self, x):
        return self.linear(F.leaky_relu(self.gru(x)[0]))


class _TheirTransformer(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attention = nn.MultiheadAttention(d, heads)  # sequence-first, as theirs
        self.norm2 = nn.LayerNorm(d)
        self.ffn = _TheirFFN(d, hidden)
        self.norm3 = nn.LayerNorm(d)

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attention(y, y, y)[0]
        x = x + self.ffn(self.norm2(x))
        return self.norm3(x)


class _TheirTS(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.time_transformer = _TheirTransformer(d, heads, hidden)
        self.freq_transformer = _TheirTransformer(d, heads, hidden)

    def forward(self, x):
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)  # fed batch-first to sequence-first modules
        x = self.time_transformer(x) + x
        x = x.view(b, f, t, c).permute(0, 2, 1, 3).reshape(b * t, f, c)
        x = self.freq_transformer(x) + x
        return x.view(b, t, f, c).permute(0, 3, 1, 2)


class _TheirMPNet(nn.Module):
    def __init__(self, h, blocks, depth, heads, mask=True):
        super().__init__()
        c = h.dense_channel
        self.dense_encoder = nn.Module()
        self.dense_encoder.dense_conv_1 = _cna(2, c, (1, 1))
        self.dense_encoder.dense_block = _TheirDense(h, depth)
        self.dense_encoder.dense_conv_2 = _cna(c, c, (1, 3), stride=(1, 2), padding=(0, 1))
        self.TSTransformer = nn.ModuleList(_TheirTS(c, heads, 2 * c) for _ in range(blocks))
        self.has_mask = mask
        if mask:
            self.mask_decoder = nn.Module()
            self.mask_decoder.dense_block = _TheirDense(h, depth)
            self.mask_decoder.mask_conv = nn.Sequential(_TheirSPConv(c), nn.InstanceNorm2d(c, affine=True),
                                                        nn.PReLU(c), nn.Conv2d(c, 1, (1, 2)))
            self.mask_decoder.lsigmoid = nn.Module()
            self.mask_decoder.lsigmoid.slope = nn.Parameter(torch.ones(h.n_fft // 2 + 1, 1))
        self.phase_decoder = nn.Module()
        self.phase_decoder.dense_block = _TheirDense(h, depth)
        self.phase_decoder.phase_conv = nn.Sequential(_TheirSPConv(c), nn.InstanceNorm2d(c, affine=True), nn.PReLU(c))
        self.phase_decoder.phase_conv_r = nn.Conv2d(c, 1, (1, 2))
        self.phase_decoder.phase_conv_i = nn.Conv2d(c, 1, (1, 2))
        self.beta = h.beta

    def forward(self, amp, pha):
        x = torch.stack((amp, pha), dim=-1).permute(0, 3, 2, 1)
        e = self.dense_encoder
        x = e.dense_conv_2(e.dense_block(e.dense_conv_1(x)))
        for block in self.TSTransformer:
            x = block(x)
        if self.has_mask:
            m = self.mask_decoder.mask_conv(self.mask_decoder.dense_block(x)).permute(0, 3, 2, 1).squeeze(-1)
            amp = amp * self.beta * torch.sigmoid(self.mask_decoder.lsigmoid.slope * m)
        p = self.phase_decoder.phase_conv(self.phase_decoder.dense_block(x))
        p = torch.atan2(self.phase_decoder.phase_conv_i(p), self.phase_decoder.phase_conv_r(p))
        return amp, p.permute(0, 3, 2, 1).squeeze(-1)


def _their_model(cfg: MPSENetConfig, seed: int = 0) -> _TheirMPNet:
    torch.manual_seed(seed)
    model = _TheirMPNet(_H(cfg.channels, beta=cfg.mask_beta), cfg.num_blocks, cfg.dense_depth, cfg.num_heads,
                        cfg.magnitude_decoder)
    with torch.no_grad():  # move affine/PReLU/slope parameters away from their trivial init
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith((".1.weight", ".2.weight", ".3.weight", "slope")) or "lsigmoid" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def _inputs(b: int, t: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mag = torch.rand(b, 201, t, generator=g) * 2
    phase = (torch.rand(b, 201, t, generator=g) * 2 - 1) * torch.pi
    return mag, phase


# ---------------------------------------------------------------------------------------------


def test_shapes_and_interface():
    net = MPSENet(MPSENET_CONFIGS["tiny"]).eval()
    mag, phase = _inputs(2, 13)
    mag_hat, phase_hat = net(mag, phase)
    assert mag_hat.shape == phase_hat.shape == (2, 201, 13)
    assert phase_hat.abs().max() <= torch.pi
    # The magnitude is a mask in (0, beta) times the input magnitude.
    ratio = mag_hat / mag
    assert (ratio > 0).all() and (ratio < 2.0).all()


def test_parameter_counts_long_version():
    # Authors' config.json: dense_channel 64, 4 TS blocks, beta 2.0 -> "2.26 M" in both papers.
    long = MPSENet(named_config("mpsenet", "long"))
    assert n_params(long) == LONG_PARAMS == 2_263_372
    assert len(long.state_dict()) == 247  # tensor count of the released long-version files
    # Single phase decoder (phase retrieval): the GRE paper's "MP-SENet Up.*" 1.99 M.
    assert n_params(MPSENet(MPSENET_CONFIGS["long_phase"])) == LONG_PHASE_PARAMS == 1_991_362
    # Our stand-in of their module tree has exactly the same parameters.
    assert n_params(_their_model(MPSENET_CONFIGS["long"])) == LONG_PARAMS


def test_registered_architecture_and_config_round_trip():
    arch = get_architecture("mpsenet")
    assert set(arch.named_configs) >= {"long", "long_phase", "tiny"}
    assert arch.named_configs["standard"] == arch.named_configs["long"]  # `gre train --config` default
    cfg = replace(MPSENET_CONFIGS["tiny"], authors_batch_first_bug=True)
    net = build_network("mpsenet", cfg.to_dict())
    assert net.cfg == cfg


@pytest.mark.parametrize("config_name", ["long", "tiny"])
def test_every_authors_key_maps_one_to_one(config_name):
    cfg = MPSENET_CONFIGS[config_name]
    theirs = _their_model(cfg).state_dict()
    ours = MPSENet(cfg).state_dict()
    mapped = {authors_key_to_ours(k): v.shape for k, v in theirs.items()}
    assert len(mapped) == len(theirs)  # injective
    assert mapped == {k: v.shape for k, v in ours.items()}


def test_unknown_key_is_refused():
    with pytest.raises(KeyError, match="no mapping rule"):
        authors_key_to_ours("TSTransformer.0.time_transformer.conformer.ff1.weight")


def test_authors_checkpoint_round_trip_matches_their_forward(tmp_path):
    """Save in THEIR layout, load through the converter, compare with their forward (bug included)."""
    cfg = MPSENET_CONFIGS["tiny"]
    theirs = _their_model(cfg, seed=3)
    path = tmp_path / "g_best_vb"
    torch.save({"generator": theirs.state_dict()}, path)

    loaded = AUTHORS_CONVERTERS["mpsenet"](torch.load(path, weights_only=True)["generator"], path)
    assert loaded.arch == "mpsenet" and loaded.source == "authors"
    assert loaded.config["authors_batch_first_bug"] is True
    assert loaded.tasks == ("denoise",) and loaded.mode == "enhance"
    ours = build_network("mpsenet", loaded.config).eval()
    ours.load_state_dict(loaded.state_dict, strict=True)

    mag, phase = _inputs(2, 11)  # batch of 2: the bug mixes utterances, and must do so identically
    with torch.no_grad():
        ref_mag, ref_phase = theirs(mag, phase)
        out_mag, out_phase = ours(mag, phase)
    torch.testing.assert_close(out_mag, ref_mag, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out_phase, ref_phase, rtol=1e-5, atol=1e-5)

    # Without the bug flag the same weights compute something else.
    fixed = build_network("mpsenet", replace(cfg, authors_batch_first_bug=False)).eval()
    fixed.load_state_dict(loaded.state_dict)
    with torch.no_grad():
        assert not torch.allclose(fixed(mag, phase)[1], ref_phase, atol=1e-3)


def test_long_version_names_resolve_to_long_config():
    state = _their_model(MPSENET_CONFIGS["long"]).state_dict()
    loaded = load_authors_checkpoint(state, "g_best_vb")
    assert loaded.config_name == "long"
    assert MPSENetConfig.from_dict(loaded.config) == replace(MPSENET_CONFIGS["long"], authors_batch_first_bug=True)


def test_converter_declines_other_state_dicts():
    assert load_authors_checkpoint(MPSENet(MPSENET_CONFIGS["tiny"]).state_dict(), "ours.pt") is None
    renet_like = {"dense_encoder.dense_conv_1.conv_amp.weight": torch.zeros(1),
                  "TSTransformer.0.time_transformer.att.to_q_amp.weight": torch.zeros(1)}
    assert load_authors_checkpoint(renet_like, "renet.pt") is None


def test_load_checkpoint_dispatches_authors_mpsenet_file(tmp_path):
    """The public loader must route an MP-SENet {'generator': ...} file to this converter."""
    path = tmp_path / "g_best_dns"
    torch.save({"generator": _their_model(MPSENET_CONFIGS["tiny"]).state_dict()}, path)
    loaded = load_checkpoint(path)
    assert loaded.arch == "mpsenet"


def test_batch_first_bug_with_one_utterance_is_a_freq_then_time_dual_path():
    """B=1: the buggy "time" block runs along frequency and the "freq" block along time."""
    torch.manual_seed(0)
    cfg = replace(MPSENET_CONFIGS["tiny"], authors_batch_first_bug=True)
    block = TSBlock(cfg).eval()
    x = torch.randn(1, cfg.channels, 9, 7)  # [B, C, T, F]
    with torch.no_grad():
        tokens = x[0].permute(1, 2, 0)  # [T, F, C]: one sequence over F per frame
        tokens = block.time(tokens) + tokens  # "time" weights, applied along frequency
        tokens = tokens.transpose(0, 1)  # [F, T, C]: one sequence over T per bin
        tokens = block.freq(tokens) + tokens  # "freq" weights, applied along time
        expected = tokens.permute(2, 1, 0)[None]  # [1, C, T, F]
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bug", [False, True])
def test_batch_first_bug_mixes_utterances_only_when_on(bug):
    torch.manual_seed(0)
    net = MPSENet(replace(MPSENET_CONFIGS["tiny"], authors_batch_first_bug=bug)).eval()
    mag, phase = _inputs(2, 10)
    other_mag, other_phase = mag.clone(), phase.clone()
    other_mag[1], other_phase[1] = _inputs(1, 10, seed=7)[0][0], _inputs(1, 10, seed=7)[1][0]
    with torch.no_grad():
        first = net(mag, phase)[1][0]
        first_changed_neighbour = net(other_mag, other_phase)[1][0]
        alone = net(mag[:1], phase[:1])[1][0]
    if bug:
        assert not torch.allclose(first, first_changed_neighbour, atol=1e-4)
    else:
        torch.testing.assert_close(first, first_changed_neighbour, rtol=1e-5, atol=1e-5)
        # Batch 1 vs 2 may take other fp32 kernels (summation order): 1e-4 rad, not bit equality.
        torch.testing.assert_close(first, alone, rtol=1e-4, atol=1e-4)


def test_long_phase_keeps_input_magnitude_and_trains():
    net = MPSENet(replace(MPSENET_CONFIGS["tiny"], magnitude_decoder=False))
    mag, phase = _inputs(2, 8)
    mag_hat, phase_hat = net(mag, torch.zeros_like(phase))
    assert torch.equal(mag_hat, mag)
    (1 - torch.cos(phase_hat - phase)).mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_our_checkpoint_loads_as_an_enhancer(tmp_path):
    from models.api import load_model
    from models.checkpoint import save_checkpoint

    cfg = MPSENET_CONFIGS["tiny"]
    torch.manual_seed(0)
    net = MPSENet(cfg)
    path = tmp_path / "mpsenet_tiny.safetensors"
    save_checkpoint(path, net.state_dict(), arch="mpsenet", config=cfg, config_name="tiny",
                    sample_rate_hz=16_000, tasks=("denoise",))
    model = load_model(path)
    assert model.info.arch == "mpsenet" and model.network.cfg == cfg
    wave = torch.randn(2, 3_333) * 0.1
    with torch.no_grad():
        out = model(wave)
    assert out.shape == wave.shape and torch.isfinite(out).all()
