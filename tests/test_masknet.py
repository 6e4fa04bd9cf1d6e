"""MaskNet baseline: the network/loss side of the mask targets (the mask definitions are tested
with models/masks.py). Known signals: a harmonic "speech" and white noise on gre's STFT."""
from __future__ import annotations

import math

import pytest
import torch

from models import masks as M
from models import stft as S
from models.architectures import build_network, get_architecture
from models.config import STFTConfig
from models.nets.masknet import MASK_TARGETS, MASKNET_CONFIGS, MaskNet, MaskNetConfig

CFG = STFTConfig()


def _signals(seconds: float = 0.5, snr_db: float = 0.0, batch: int = 2):
    """(noisy, clean) waveforms [B, N]: harmonic complexes with pauses, white noise at ``snr_db``."""
    n = int(seconds * CFG.sample_rate_hz)
    t = torch.arange(n) / CFG.sample_rate_hz
    g = torch.Generator().manual_seed(0)
    rows = []
    for b in range(batch):
        f0 = 120 + 40 * b
        x = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 20))
        rows.append(x * (torch.sin(2 * math.pi * 2 * t) > 0))
    clean = torch.stack(rows) * 0.1
    noise = torch.randn(clean.shape, generator=g)
    noise = noise * (clean.pow(2).mean() / noise.pow(2).mean() / 10 ** (snr_db / 10)).sqrt()
    return clean + noise, clean


def _ideal_estimate(target: str, clean_spec: torch.Tensor, noise_spec: torch.Tensor) -> torch.Tensor:
    """The estimate [B, k, F, T] a perfect network would output for ``target``."""
    ideal = M.ideal_mask(target, clean_spec, noise_spec)
    if target == "ibm":
        return (ideal * 2 - 1)[:, None] * 30.0  # saturated logits
    if target == "iam":
        return ideal.clamp(0, MaskNetConfig().iam_max)[:, None]
    if target == "cirm":
        c = M.compress_cirm(ideal)
        return torch.stack([c.real, c.imag], dim=1)
    if target == "orm":
        return M.compress_cirm(ideal)[:, None]
    return ideal[:, None]


@pytest.mark.parametrize("target", MASK_TARGETS)
def test_interface_shapes_and_registration(target):
    net = build_network("masknet", MASKNET_CONFIGS[f"tiny_{target}"]).eval()
    assert isinstance(net, MaskNet) and net.mask_target == target
    noisy, _ = _signals(0.3)
    mag, phase = S.analyse(noisy, CFG)
    mag_hat, phase_hat, est = net(mag, phase, return_estimate=True)
    assert mag_hat.shape == phase_hat.shape == mag.shape
    assert est.shape == (2, 2 if target == "cirm" else 1, *mag.shape[1:])
    if target in ("ibm", "irm", "iam", "psm"):  # real non-negative masks keep the noisy phase
        assert torch.equal(phase_hat, phase)
    assert phase_hat.abs().max() <= math.pi + 1e-6
    assert set(get_architecture("masknet").named_configs) >= set(MASK_TARGETS) | {"standard"}


@pytest.mark.parametrize("target", MASK_TARGETS)
def test_applying_the_ideal_estimate_recovers_the_oracle_spectrum(target):
    """net.mask + net.apply on the ideal estimate == models.masks oracle (compressed-domain round trip)."""
    noisy, clean = _signals()
    y, s = S.stft(noisy, CFG), S.stft(clean, CFG)
    net = MaskNet(MASKNET_CONFIGS[f"tiny_{target}"])
    est = _ideal_estimate(target, s, y - s)
    mag, phase = S.mag_phase(y, CFG)
    mag_hat, phase_hat = net.apply(net.mask(est), mag, phase)
    ours = S.compose(mag_hat, phase_hat, CFG)
    ideal = M.ideal_mask(target, s, y - s)
    if target == "iam":
        ideal = ideal.clamp(0, MaskNetConfig().iam_max)
    if target in ("cirm", "orm"):
        ideal = M.decompress_cirm(M.compress_cirm(ideal))
    expected = M.apply_mask(ideal, y)
    scale = expected.abs().max()
    # tolerance: magnitude eps of the front end and the 1e-8 mask floor in the compressed domain
    assert (ours - expected).abs().max() / scale < 2e-3
    if target == "ibm":  # saturated logits -> exactly the binary mask
        assert torch.allclose(net.mask(est), ideal, atol=1e-6)


@pytest.mark.parametrize("target", MASK_TARGETS)
def test_loss_is_smallest_at_the_ideal_estimate(target):
    noisy, clean = _signals(snr_db=5.0)
    y, s = S.stft(noisy, CFG), S.stft(clean, CFG)
    net = MaskNet(MASKNET_CONFIGS[f"tiny_{target}"])
    ideal = _ideal_estimate(target, s, y - s)
    at_ideal = float(net.mask_loss(ideal, y, s))
    g = torch.Generator().manual_seed(1)
    # IBM logits are saturated: make them less confident instead of adding noise.
    worse = ideal * 0.05 if target == "ibm" else ideal + 0.1 * torch.randn(ideal.shape, generator=g)
    off = float(net.mask_loss(worse, y, s))
    assert at_ideal < 1e-6
    assert off > at_ideal + 1e-4


def test_orm_training_target_equals_irm_power_for_orthogonal_parts():
    """Loss side: with speech and noise in disjoint bins (orthogonal), the ORM network's target
    decompresses to the IRM with beta = 1 (= IBM here), so both losses agree on the ideal estimate."""
    noisy, clean = _signals()
    s = S.stft(clean, CFG)
    n = S.stft(noisy - clean, CFG)
    speech_bins = s.abs() > n.abs()
    s, n = s * speech_bins, n * ~speech_bins  # make the parts orthogonal bin by bin
    y = s + n
    orm_net, irm_net = MaskNet(MASKNET_CONFIGS["tiny_orm"]), MaskNet(MASKNET_CONFIGS["tiny_irm"])
    est = _ideal_estimate("orm", s, n)
    torch.testing.assert_close(orm_net.mask(est), M.ideal_mask("irm", s, n) ** 2, atol=1e-5, rtol=1e-5)
    assert float(orm_net.mask_loss(est, y, s)) < 1e-10
    assert float(irm_net.mask_loss(_ideal_estimate("irm", s, n), y, s)) < 1e-10


@pytest.mark.parametrize("target", MASK_TARGETS)
def test_a_few_steps_reduce_the_mask_loss(target):
    torch.manual_seed(0)
    noisy, clean = _signals(0.25, snr_db=0.0)
    y, s = S.stft(noisy, CFG), S.stft(clean, CFG)
    mag, phase = S.mag_phase(y, CFG)
    net = MaskNet(MaskNetConfig(target=target, conv_channels=2, hidden=8))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    losses = []
    for _ in range(15):
        _, _, est = net(mag, phase, return_estimate=True)
        loss = net.mask_loss(est, y, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown mask target 'crm'"):
        MaskNetConfig(target="crm")


def test_checkpoint_round_trip_as_enhancer(tmp_path):
    from models.api import load_model
    from models.checkpoint import save_checkpoint

    cfg = MASKNET_CONFIGS["tiny_cirm"]
    torch.manual_seed(0)
    net = MaskNet(cfg)
    path = tmp_path / "masknet.safetensors"
    save_checkpoint(path, net.state_dict(), arch="masknet", config=cfg, config_name="tiny_cirm",
                    sample_rate_hz=16_000, tasks=("denoise",))
    model = load_model(path)
    assert model.network.mask_target == "cirm"
    noisy, _ = _signals(0.2)
    with torch.no_grad():
        out = model(noisy[:, :3001])
    assert out.shape == (2, 3001) and torch.isfinite(out).all()


def test_map_target_adds_magnitude_where_the_input_has_none():
    """map: output = gain * input + added term (compressed); its loss is the MSE of compressed magnitudes."""
    from models import stft as S
    from models.nets.masknet import mask_loss, mapped_magnitude

    net = MaskNet(MASKNET_CONFIGS["tiny_map"])
    mag = torch.zeros(1, net.cfg.stft.n_freqs, 20)
    phase = torch.zeros_like(mag)
    with torch.no_grad():
        net.head.bias[net.cfg.stft.n_freqs:] = 3.0  # the added-term channel
        out, phase_hat, est = net(mag, phase, return_estimate=True)
    assert est.shape == (1, 2, net.cfg.stft.n_freqs, 20)
    assert (est[:, 0] >= 0).all() and (est[:, 0] <= net.cfg.iam_max).all() and (est[:, 1] >= 0).all()
    assert (out > 0.5).all() and torch.equal(phase_hat, phase)  # energy from an empty input, phase kept
    with pytest.raises(ValueError, match="not a mask"):
        net.mask(est)
    # Known case: gain 1, nothing added -> the loss is MSE(|Y|^c, |S|^c).
    noisy = torch.randn(2, net.cfg.stft.n_freqs, 7, dtype=torch.complex64)
    clean = noisy * 0.5
    ident = torch.stack((torch.ones(2, net.cfg.stft.n_freqs, 7), torch.zeros(2, net.cfg.stft.n_freqs, 7)), dim=1)
    m_in, m_clean = S.mag_phase(noisy, net.cfg.stft)[0], S.mag_phase(clean, net.cfg.stft)[0]
    torch.testing.assert_close(mapped_magnitude(ident, m_in), m_in)
    torch.testing.assert_close(mask_loss(net.cfg, ident, noisy, clean), torch.mean((m_in - m_clean) ** 2))


@pytest.mark.parametrize("variant", ["refine", "refine_tf"])
@pytest.mark.parametrize("target", ["psm", "iam", "cirm", "map"])
def test_refinement_starts_as_the_identity_and_then_changes_the_estimate(target, variant):
    """A refined MaskNet with an unrefined one's weights computes the same estimate (zero-initialised
    output conv); once its output conv is not zero the estimate changes, bin by bin."""
    torch.manual_seed(0)
    plain = MaskNet(MASKNET_CONFIGS[f"tiny_{target}"]).eval()
    refined = MaskNet(MASKNET_CONFIGS[f"tiny_{target}_{variant}"]).eval()
    missing, unexpected = refined.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refine.") for k in missing)
    noisy, _ = _signals(0.3)
    mag, phase = S.analyse(noisy, CFG)
    with torch.no_grad():
        want, got = plain.estimate(mag), refined.estimate(mag)
        assert got.shape == want.shape and torch.equal(got, want)
        torch.nn.init.normal_(refined.refine.conv_out.weight, std=0.5)
        changed = refined.estimate(mag)
    assert changed.shape == want.shape
    assert (changed - want).abs().amax() > 1e-3


@pytest.mark.parametrize("target", ["psm", "iam", "map"])
def test_long_stage_starts_as_the_identity_and_sees_further_in_time(target):
    """The second stage of a ``*_refine_long`` network, grown on a refined one's weights, leaves the
    estimate as it was; once trained (non-zero output) a change of the input 14 frames earlier moves
    the estimate of a bin, which the first stage alone (+/- 3 frames in the tiny config) cannot see
    (the tiny second stage, dilated 4 and 8 frames, reaches 3 + 1 + 4 + 8 = 16)."""
    torch.manual_seed(0)
    refined = MaskNet(MASKNET_CONFIGS[f"tiny_{target}_refine"]).eval()
    long = MaskNet(MASKNET_CONFIGS[f"tiny_{target}_refine_long"]).eval()
    missing, unexpected = long.load_state_dict(refined.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refine2.") for k in missing)
    assert [c.dilation for c in long.refine2.convs] == [(4, 1), (8, 1)]
    noisy, _ = _signals(0.5)
    mag, _ = S.analyse(noisy, CFG)
    with torch.no_grad():
        assert torch.equal(long.estimate(mag), refined.estimate(mag))
        # Cut the GRU out of both so that only the convolution stages carry context in time.
        for net in (refined, long):
            torch.nn.init.zeros_(net.head.weight)
            torch.nn.init.normal_(net.refine.conv_out.weight, std=0.5)
        torch.nn.init.normal_(long.refine2.conv_out.weight, std=0.5)
        late = mag.clone()
        late[..., :20] *= 3.0  # the first 20 frames
        frame = 19 + 14
        moved = lambda net: (net.estimate(late)[..., frame] - net.estimate(mag)[..., frame]).abs().amax()
        assert moved(refined) == 0
        assert moved(long) > 1e-4


def test_refinement_is_trained_and_keeps_batch_rows_independent():
    """Gradients reach every refinement layer, and each row of a batch is estimated on its own."""
    torch.manual_seed(0)
    net = MaskNet(MASKNET_CONFIGS["tiny_psm_refine"])
    torch.nn.init.normal_(net.refine.conv_out.weight, std=0.5)
    noisy, clean = _signals(0.3)
    mag, phase = S.analyse(noisy, CFG)
    est = net.estimate(mag)
    loss = net.mask_loss(est, S.stft(noisy, CFG), S.stft(clean, CFG))
    loss.backward()
    for name, p in net.refine.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # Batch rows stay independent (convolutions and the GRU are per example).
    with torch.no_grad():
        both = net.estimate(mag)
        one = net.estimate(mag[1:])
    torch.testing.assert_close(both[1:], one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("time_dilation, time_reach", [(False, 1 + 4), (True, 1 + 1 + 2 + 4 + 8)])
def test_refinement_time_dilation_widens_the_context_in_time(time_dilation, time_reach):
    """One changed input bin reaches exactly as far as the kernels cover. Four layers: in frequency
    1 (input conv) + 1 + 2 + 4 + 8 bins either way; in time 1 + 1 per layer, or with time dilation
    1 + 1 + 2 + 4 + 8 frames (100 ms at the 6.25 ms hop)."""
    from models.nets.masknet import _Refinement, refine_dilations

    torch.manual_seed(0)
    stage = _Refinement(1, 4, refine_dilations(4, time_dilation)).eval()
    torch.nn.init.normal_(stage.conv_out.weight, std=0.5)
    head, mag = torch.zeros(1, 1, 80, 100), torch.rand(1, 1, 80, 100)
    bumped = mag.clone()
    bumped[0, 0, 40, 50] += 1.0
    with torch.no_grad():
        frames, bins = ((stage(head, bumped) - stage(head, mag))[0, 0] != 0).nonzero(as_tuple=True)
    assert int((frames - 40).abs().max()) == time_reach
    assert int((bins - 50).abs().max()) == 1 + 1 + 2 + 4 + 8


def test_refine_config_validation():
    with pytest.raises(ValueError, match="refine"):
        MaskNetConfig(refine_channels=-1)
    # Old checkpoints' configs have no refine fields: they read as the unrefined network.
    old = {k: v for k, v in MaskNetConfig(target="psm").to_dict().items() if not k.startswith("refine")}
    assert MaskNetConfig.from_dict(old) == MASKNET_CONFIGS["psm"]
