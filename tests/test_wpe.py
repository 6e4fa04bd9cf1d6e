"""WPE dereverberation (models/wpe.py): the tap layout, the weighted fit against a bin-by-bin reference,
late reverberation removed, and the classical model's interface (batch, scale, silence, lengths)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from models.classical import CLASSICAL_MODELS
from models.wpe import WPEConfig, delayed_frames, wpe_dereverb, wpe_spectrum
from test_classical import SR, snr_db


def reverberant(seconds: float = 4.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(dry [1, N], reverberant [1, N]): the dry source plus echoes at 48 and 96 ms (6 and 12 frames of WPE's
    hop, beyond its 3-frame delay, so all of the echo is late reverberation and the dry source is the ideal output).

    The source is noise whose level changes every 0.1 s (between 0.2 and 1.2): like speech, it is unpredictable
    from its own past beyond the window's overlap and its level varies, which is what WPE relies on. (A steady
    harmonic complex is predictable from its own past, and WPE would cancel it with the reverberation.)"""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    envelope = np.repeat(0.2 + rng.uniform(0, 1, n // 1600 + 1), 1600)[:n]
    dry = rng.standard_normal(n) * envelope
    wet = dry.copy()
    for lag, gain in ((768, 0.7), (1536, 0.3)):
        wet[lag:] += gain * dry[:-lag]
    return torch.from_numpy(dry).float()[None], torch.from_numpy(wet).float()[None]


def test_delayed_frames_hold_the_past_frames_with_zeros_before_the_start():
    spec = torch.arange(1, 9, dtype=torch.float64).reshape(1, 1, 8)  # frames 1..8
    past = delayed_frames(spec, taps=3, delay=2)  # [1, 1, 8, 3]
    assert past.shape == (1, 1, 8, 3)
    # Frame t holds Y(t-4), Y(t-3), Y(t-2): frame index 5 (value 6) -> values 2, 3, 4.
    assert past[0, 0, 5].tolist() == [2.0, 3.0, 4.0]
    assert past[0, 0, 2].tolist() == [0.0, 0.0, 1.0]
    assert past[0, 0, 1].tolist() == [0.0, 0.0, 0.0]


def reference_wpe(y: np.ndarray, taps: int, delay: int, iterations: int, floor: float) -> np.ndarray:
    """The weighted least-squares fit written out bin by bin and frame by frame: y [F, T] complex."""
    f_bins, frames = y.shape
    out = y.copy()
    for f in range(f_bins):
        x = y[f].copy()
        past = np.zeros((frames, taps), complex)
        for t in range(frames):
            for k in range(taps):
                lag = delay + taps - 1 - k
                if t - lag >= 0:
                    past[t, k] = y[f, t - lag]
        for _ in range(iterations):
            power = np.abs(x) ** 2
            w = 1.0 / np.maximum(power, max(floor * power.max(), 1e-30))
            # minimise sum_t w_t |y_t - past_t . conj(g)|^2  <=>  weighted least squares in h = conj(g)
            sw = np.sqrt(w)
            h, *_ = np.linalg.lstsq(past * sw[:, None], y[f] * sw, rcond=None)
            x = y[f] - past @ h
        out[f] = x
    return out


def test_wpe_matches_a_bin_by_bin_weighted_least_squares_reference():
    _, wet = reverberant(1.0, seed=1)
    cfg = WPEConfig(taps=4, delay=2, iterations=2)
    spec = torch.stft(wet.double(), 512, 128, window=torch.hann_window(512, dtype=torch.float64),
                      return_complex=True)[:, 20:40]  # 20 bins, all frames
    ours = wpe_spectrum(spec, cfg)[0].numpy()
    ref = reference_wpe(spec[0].numpy(), cfg.taps, cfg.delay, cfg.iterations, cfg.power_floor)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())


def test_blockwise_sums_give_the_same_result_as_one_block():
    _, wet = reverberant(2.0, seed=5)
    spec = torch.stft(wet, 512, 128, window=torch.hann_window(512), return_complex=True)  # 251 frames
    whole = wpe_spectrum(spec, block_frames=10_000)
    for block in (1, 7, 100, 251):
        torch.testing.assert_close(wpe_spectrum(spec, block_frames=block), whole, rtol=1e-5, atol=1e-6)


def test_wpe_removes_late_reverberation_and_keeps_the_direct_sound():
    dry, wet = reverberant(4.0, seed=2)
    out = wpe_dereverb(wet)
    before, after = snr_db(dry, wet), snr_db(dry, out)
    assert after > before + 3.0, (before, after)


def test_more_taps_and_iterations_remove_more():
    dry, wet = reverberant(4.0, seed=3)
    short = snr_db(dry, wpe_dereverb(wet, WPEConfig(taps=4)))  # lags 3-6 frames: reaches only the first echo
    once = snr_db(dry, wpe_dereverb(wet, WPEConfig(iterations=1)))
    full = snr_db(dry, wpe_dereverb(wet))
    assert full > short + 1.0 and full > once + 1.0, (short, once, full)


def test_wpe_model_is_batched_linear_in_level_and_safe_on_silence_and_short_input():
    model = CLASSICAL_MODELS["wpe"]()
    assert model.sample_rate_hz == SR and model.info.tasks == ("dereverb",) and model.info.mode == "enhance"
    # The registry is plain data (`gre models` prints it without building the model): it must describe the defaults.
    from models.registry import get_entry
    entry = get_entry("wpe")
    assert (entry.config_name, entry.tasks, entry.mode) == (model.info.config_name, model.info.tasks, model.info.mode)
    waves = torch.cat([reverberant(1.0, seed=s)[1][:, :15_999] for s in range(3)])
    out = model(waves)
    assert out.shape == waves.shape
    torch.testing.assert_close(out[1:2], model(waves[1:2]), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(model(4.0 * waves[:1]), 4.0 * out[:1], rtol=1e-4, atol=1e-6)
    for n in (0, 1, 300, 513):
        silent = model(torch.zeros(2, n))
        assert silent.shape == (2, n) and torch.isfinite(silent).all() and not silent.any()
    assert torch.isfinite(model(waves[:1, :300])).all()


@pytest.mark.parametrize("field,value", [("taps", 0), ("delay", 0), ("iterations", 0)])
def test_bad_wpe_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=f"WPEConfig.{field} must be at least 1"):
        WPEConfig(**{field: value})


def test_gre_enhance_runs_wpe_alone_and_in_a_chain_through_the_entry_point(gre, tmp_path):
    dry, wet = reverberant(3.0, seed=4)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "room.wav", 0.2 * wet[0].numpy(), SR, subtype="FLOAT")
    for model in ("wpe", "wpe+gre-tiny-random"):
        out = tmp_path / model
        done = subprocess.run([gre, "enhance", src, out, "--model", model, "--threads", "1", "--quiet"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        y, rate = sf.read(out / "room.wav", dtype="float32")
        assert rate == SR and y.shape == (wet.shape[-1],) and np.isfinite(y).all()
        if model == "wpe":  # the file's WPE equals the API's (the default chunking holds a 3 s file whole)
            expected = 0.2 * wpe_dereverb(wet)[0].numpy()
            np.testing.assert_allclose(y, expected, atol=2e-4)
    listed = subprocess.run([gre, "models"], capture_output=True, text=True, timeout=120).stdout
    assert any(line.startswith("wpe") and "dereverb" in line for line in listed.splitlines())
