"""Faithfulness of our GRE network to the authors' own trained weights (skipped without ../shared).

The authors' code with these weights, run on this machine on these 4 VoiceBank clean files, gives
PESQ-WB 4.613, PD 7.16 degrees and SI-SDR 17.35 dB. A faithful network reproduces them within
PD +0.2 degrees and PESQ -0.02.
"""
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from pesq import pesq

from conftest import REFERENCE_PR, SHARED, require_shared
from models import api
from models import stft as S
from models.config import STFTConfig

CFG = STFTConfig()


def _phase_distance_deg(ref: np.ndarray, est: np.ndarray) -> float:
    r = S.stft(torch.from_numpy(ref)[None].double(), CFG)
    e = S.stft(torch.from_numpy(est)[None].double(), CFG)
    d = torch.angle(e) - torch.angle(r)
    d = torch.abs(d - 2 * math.pi * torch.round(d / (2 * math.pi)))
    w = r.abs()
    return float((w * d).sum() / w.sum()) * 180 / math.pi


def _si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    ref, est = ref - ref.mean(), est - est.mean()
    target = np.dot(est, ref) / np.dot(ref, ref) * ref
    return 10 * np.log10(np.sum(target ** 2) / np.sum((est - target) ** 2))


@pytest.fixture(scope="module")
def authors_model():
    require_shared("reference", "renet_phase_retrieval.pt")
    return api.load_model(REFERENCE_PR)


def test_authors_file_loads_as_small_phase_retrieval(authors_model):
    assert authors_model.info.config_name == "small"
    assert authors_model.mode == "phase_retrieval"
    assert sum(p.numel() for p in authors_model.parameters()) == 900_529


def test_reproduces_the_published_phase_retrieval_quality(authors_model):
    require_shared("eval", "vbd", "clean")
    files = sorted((SHARED / "eval" / "vbd" / "clean").glob("*.wav"))
    files.append(SHARED / "eval" / "vbd-snr" / "clean" / "p257_018_0dB.wav")
    scores = []
    for path in files:
        wave, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        with torch.inference_mode():
            out = authors_model(torch.from_numpy(wave)[None])[0].numpy()
        scores.append((pesq(16000, wave, out, "wb"), _phase_distance_deg(wave, out), _si_sdr(wave, out)))
    pesq_wb, pd, si_sdr = np.mean(scores, axis=0)
    assert pesq_wb >= 4.613 - 0.02, pesq_wb
    assert pd <= 7.16 + 0.2, pd
    assert si_sdr >= 17.35 - 0.5, si_sdr


def test_rotation_equivariance_with_official_weights(authors_model):
    net = authors_model.network.double()
    try:
        wave, _ = sf.read(SHARED / "eval" / "vbd" / "clean" / "p232_032.wav", dtype="float64")
        mag, phase = S.analyse(torch.from_numpy(wave[:16000])[None], CFG)
        theta = 1.234
        with torch.no_grad():
            m0, p0 = net(mag, phase)
            m1, p1 = net(mag, phase + theta)
        assert ((m1 - m0).abs().max() / m0.abs().max()).item() <= 1e-4
        # Compare only bins whose output modulus is non-negligible (atan2 of ~0 is arbitrary).
        strong = m0 > 1e-3 * m0.max()
        diff = torch.remainder(p1 - p0 - theta + math.pi, 2 * math.pi) - math.pi
        assert diff[strong].abs().max().item() <= 1e-3
    finally:
        net.float()
