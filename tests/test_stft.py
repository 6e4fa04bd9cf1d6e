import numpy as np
import pytest
import torch

from models import stft as S
from models.config import STFTConfig

CFG = STFTConfig()


@pytest.mark.parametrize("length", [1, 2, 150, 200, 201, 399, 400, 401, 16001])
def test_analysis_synthesis_is_exact_for_odd_lengths(length):
    g = torch.Generator().manual_seed(length)
    wave = torch.randn(2, length, generator=g, dtype=torch.float64)
    spec = S.stft(wave, CFG)
    back = S.istft(spec, CFG, length)
    assert back.shape == wave.shape
    assert torch.max(torch.abs(back - wave)).item() <= 1e-6


def test_float32_round_trip_through_compressed_magnitude_and_phase():
    wave = torch.randn(1, 16001) * 0.1
    mag, phase = S.analyse(wave, CFG)
    assert mag.shape == (1, CFG.n_freqs, S.num_frames(16001, CFG))
    back = S.synthesise(mag, phase, CFG, 16001)
    assert torch.max(torch.abs(back - wave)).item() < 1e-4


def test_shapes_match_the_authors_front_end():
    # 1 s at 16 kHz: 201 bins, 161 frames (floor(N / hop) + 1).
    mag, phase = S.analyse(torch.zeros(3, 16000), CFG)
    assert mag.shape == phase.shape == (3, 201, 161)


def test_loudness_gain_guards_silence_and_scales_to_unit_rms():
    wave = torch.stack([torch.zeros(1000), torch.full((1000,), 0.25)])
    gain = S.loudness_gain(wave)
    assert gain[0].item() == 1.0
    assert torch.isclose((wave[1] * gain[1]).pow(2).mean().sqrt(), torch.tensor(1.0))
    assert torch.isfinite(S.loudness_gain(torch.zeros(1, 0))).all()


def test_magnitude_is_compressed_by_the_configured_power():
    n = 1600
    t = np.arange(n) / 16000
    wave = torch.tensor(np.sin(2 * np.pi * 1000 * t), dtype=torch.float32)[None]
    mag, _ = S.analyse(wave, CFG)
    raw = S.stft(wave, CFG).abs()
    assert torch.allclose(mag, (raw.pow(2) + S.MAG_EPS).sqrt().pow(0.3), atol=1e-5)
