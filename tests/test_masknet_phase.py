"""MaskNet's phase target (phase retrieval): output = input magnitude + the angle of a learnt
(cos, sin) pair, trained on the weighted omnidirectional phase loss; and the refusals of task /
target combinations that cannot work."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import losses as L
from models import stft as S
from models.config import STFTConfig
from models.metrics.phase import phase_distances
from models.nets.masknet import MASKNET_CONFIGS, MaskNet, MaskNetConfig
from models.train.config import default_losses
from test_train_fixtures import make_corpus

CFG = STFTConfig()
GRE = str(Path(sys.executable).parent / "gre")


def _voiced(seconds: float = 0.4, f0: float = 140.0) -> torch.Tensor:
    """A pulse-train "vowel" [1, N]: downward pulses every 1/f0 s through a decaying resonance."""
    n = int(seconds * CFG.sample_rate_hz)
    x = torch.zeros(n)
    x[:: int(CFG.sample_rate_hz / f0)] = -1.0
    t = torch.arange(160) / CFG.sample_rate_hz
    resonance = torch.exp(-t * 300) * torch.sin(2 * math.pi * 700 * t)
    y = torch.nn.functional.conv1d(x[None, None], resonance.flip(0)[None, None], padding=159)[0, 0, :n]
    return (0.3 * y / y.abs().max())[None]


def test_phase_target_passes_the_magnitude_and_outputs_the_angle_of_its_pair():
    net = MaskNet(MASKNET_CONFIGS["tiny_phase_refine"]).eval()
    with torch.no_grad():  # make the refinement non-trivial so it is part of what is checked
        net.refine.conv_out.weight.normal_(0, 0.3)
    mag, phase = S.analyse(_voiced(), CFG)
    mag_hat, phase_hat, est = net(mag, torch.zeros_like(phase), return_estimate=True)
    assert est.shape == (1, 2, *mag.shape[1:])
    assert torch.equal(mag_hat, mag)
    torch.testing.assert_close(phase_hat, torch.atan2(est[:, 1], est[:, 0]))
    assert phase_hat.abs().max() <= math.pi and phase_hat.std() > 0.5  # a phase, not a constant
    with pytest.raises(ValueError, match="not a mask"):
        net.mask(est)
    with pytest.raises(ValueError, match="no mask loss"):
        net.mask_loss(est, S.stft(_voiced(), CFG), S.stft(_voiced(), CFG))


def test_phase_steps_are_summed_along_frequency():
    """With phase_steps, a constant step d from bin to bin (bin 0 at a) is the linear phase a + f d,
    the phase of a pulse away from the frame centre; without, every bin gets the angle itself."""
    nf, t = CFG.n_freqs, 3
    a, d = 0.4, -2 * math.pi * 37 / CFG.n_fft  # a pulse 37 samples after the frame centre
    angles = torch.full((1, nf, t), d)
    angles[:, 0] = a
    est = torch.stack((torch.cos(angles), torch.sin(angles)), dim=1) * 3.0  # any length
    net = MaskNet(MASKNET_CONFIGS["tiny_phase_steps_refine"])
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.copy_(est[0, :, :, 0].reshape(-1))  # the head's output layout is [k * F]
        _, phase_hat = net(torch.rand(1, nf, t), torch.zeros(1, nf, t))
    expected = a + d * torch.arange(nf, dtype=torch.float32)
    wrapped = torch.atan2(torch.sin(expected), torch.cos(expected))
    for frame in range(t):
        torch.testing.assert_close(phase_hat[0, :, frame], wrapped, atol=1e-4, rtol=0)
    assert phase_hat.abs().max() <= math.pi
    with pytest.raises(ValueError, match="phase target only"):
        MaskNetConfig(target="psm", phase_steps=True)


def test_phase_target_learns_the_phase_of_a_signal_from_its_magnitude():
    """A few Adam steps on the phase-retrieval loss lower the loss and the phase distance of one
    signal (so the gradient reaches every layer through atan2)."""
    torch.manual_seed(0)
    wave = _voiced()
    mag, phase = S.analyse(wave, CFG)
    net = MaskNet(MaskNetConfig(target="phase", conv_channels=4, hidden=16, refine_channels=4, refine_layers=2))
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    zero = torch.zeros_like(phase)
    first_pd = last_pd = None
    losses = []
    for _ in range(60):
        _, phase_hat = net(mag, zero)
        loss = L.wop_loss(phase_hat, phase, mag)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        est = S.synthesise(mag, phase_hat.detach(), CFG, wave.shape[-1])
        pd = phase_distances(wave[0].numpy(), est[0].numpy())["pd"]
        first_pd = pd if first_pd is None else first_pd
        last_pd = pd
    # Measured: loss 0.82 -> 0.64, PD 92 -> 87 degrees in 60 steps (a frozen network stays at 92).
    assert losses[-1] < 0.85 * losses[0]
    assert last_pd < first_pd - 3.0


def test_the_phase_task_uses_the_phase_recipe_for_a_masknet():
    w = default_losses("phase", mpd=False, arch="masknet")
    assert w.wop > 0 and w.mask == 0 and w.mpd == 0
    with pytest.raises(ValueError, match="no mask target"):
        default_losses("phase", arch="masknet", recipe_name="target")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("phase_corpus"))


def _train(corpus, run: Path, task: str, config: str) -> subprocess.CompletedProcess:
    args = [GRE, "train", "--task", task, "--arch", "masknet", "--config", config, "--clean", str(corpus["clean"]),
            "--noise", str(corpus["noise"]), "--run-dir", str(run), "--batch-size", "2", "--segment-seconds", "0.5",
            "--workers", "0", "--threads", "1", "--steps", "2", "--no-mpd", "--no-metric-disc",
            "--val-clean", str(corpus["val"]), "--val-every", "2", "--val-files", "2"]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def test_gre_train_phase_with_the_masknet_phase_target(corpus, tmp_path):
    p = _train(corpus, tmp_path / "run", "phase", "tiny_phase_refine")
    assert p.returncode == 0, p.stderr
    run = tmp_path / "run"
    vals = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"kind": "val"' in line]
    assert vals and 0 < vals[-1]["pd"] <= 180
    # The run's weights load as a phase retriever: the output depends on the magnitude alone, so a
    # sign-flipped input (same magnitude) gives the same output.
    from models.api import load_model

    model = load_model(run / "best.safetensors")
    assert model.mode == "phase_retrieval"
    wave = _voiced(0.3)
    with torch.no_grad():
        out, flipped = model(wave), model(-wave)
    assert out.shape == wave.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out, flipped)


@pytest.mark.parametrize("task, config, message", [
    ("phase", "tiny_psm", "needs a network that outputs a phase"),
    ("denoise", "tiny_phase", "for --task phase only"),
])
def test_gre_train_refuses_a_masknet_target_that_cannot_serve_the_task(corpus, tmp_path, task, config, message):
    p = _train(corpus, tmp_path / "run", task, config)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "run" / "last.pt").exists()
