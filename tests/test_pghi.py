"""Phase-gradient heap integration, Griffin-Lim started from it, and whole-file phase retrieval in gre enhance."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models import stft as S
from models.classical import CLASSICAL_MODELS, GriffinLimConfig, griffin_lim, spectral_convergence
from models.config import STFTConfig
from models.pghi import phase_gradients, pghi_phase

from test_classical import speech_like

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "clean"

CFG = STFTConfig()


def _wrap(d: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * d))


@pytest.mark.parametrize("name", ["fr_june_clean.wav", "it_carlo_clean.wav"])
def test_phase_gradients_match_the_true_phase_on_loud_bins(name):
    x, _ = sf.read(EXAMPLES / name, dtype="float64")  # real speech shipped with the project
    spec = S.stft(torch.from_numpy(x)[None], CFG)[0].numpy()
    mag, phase = np.abs(spec), np.angle(spec)
    per_frame, per_bin = phase_gradients(mag, CFG)
    loud = mag > 0.05 * mag.max()
    both_t, both_f = loud[:, 1:] & loud[:, :-1], loud[1:] & loud[:-1]
    err_t = np.abs(_wrap(np.diff(phase, axis=1) - 0.5 * (per_frame[:, 1:] + per_frame[:, :-1])))[both_t]
    err_f = np.abs(_wrap(np.diff(phase, axis=0) - 0.5 * (per_bin[1:] + per_bin[:-1])))[both_f]
    # Without the magnitude terms (bin centre frequency only / -pi per bin) the errors are several times larger.
    naive_t = np.abs(_wrap(np.diff(phase, axis=1) - 2 * np.pi * CFG.hop_length
                           * np.arange(mag.shape[0])[:, None] / CFG.n_fft))[both_t]
    naive_f = np.abs(_wrap(np.diff(phase, axis=0) + np.pi))[both_f]
    # Measured on fr_june: 11 degrees against 51 along time, 7 against 16 along frequency.
    assert np.degrees(err_t.mean()) < 15 and err_t.mean() < 0.4 * naive_t.mean()
    assert np.degrees(err_f.mean()) < 10 and err_f.mean() < 0.6 * naive_f.mean()


def test_pghi_starts_griffin_lim_closer_and_ends_closer():
    x = speech_like(2.0, 3)
    target = S.stft(x, CFG).abs()
    n = x.shape[-1]

    def convergence(init: str, n_iter: int) -> float:
        wave = griffin_lim(target, n, GriffinLimConfig(n_iter=n_iter, init=init))
        return float(spectral_convergence(S.stft(wave, CFG), target))

    assert convergence("pghi", 0) < 0.5 * convergence("zero", 0)
    assert convergence("pghi", 30) < 0.7 * convergence("zero", 30)


def test_pghi_edge_cases():
    assert pghi_phase(np.zeros((201, 5)), CFG).shape == (201, 5)
    assert not pghi_phase(np.zeros((201, 5)), CFG).any()  # silence: nothing to integrate
    one_frame = pghi_phase(np.abs(S.stft(speech_like(0.01, 0), CFG)[0].numpy()), CFG)
    assert np.isfinite(one_frame).all()
    mag = np.abs(S.stft(speech_like(0.5, 4), CFG)[0].numpy())
    np.testing.assert_array_equal(pghi_phase(mag, CFG, seed=1), pghi_phase(mag, CFG, seed=1))  # deterministic


def test_pghi_griffin_lim_model_is_batched_and_registered():
    from models.api import load_model

    model = load_model("pghi-griffin-lim")
    assert model.info.tasks == ("phase",) and model.info.mode == "phase_retrieval" and model.whole_file
    waves = torch.cat([speech_like(0.5, seed=s)[:, :7_777] for s in range(2)])
    small = CLASSICAL_MODELS["pghi-griffin-lim"](GriffinLimConfig(n_iter=5, init="pghi"))
    out = small(waves)
    assert out.shape == waves.shape
    torch.testing.assert_close(out[1:2], small(waves[1:2]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["griffin-lim", "pghi-griffin-lim"])
def test_gre_enhance_retrieves_phase_on_whole_files(tmp_path, gre, model):
    """A 6 s file (longer than the 4 s chunk) comes out as the whole-file retrieval: cross-fading
    chunks retrieved apart would cancel where their arbitrary phase offsets differ."""
    src = tmp_path / "in"
    src.mkdir()
    x = speech_like(6.0, 5)[0].numpy()
    sf.write(src / "long.wav", x, 16000, subtype="FLOAT")
    out = tmp_path / "out"
    result = subprocess.run([gre, "enhance", str(src), str(out), "--task", "phase", "--model", model,
                             "--threads", "1", "--workers", "0", "--quiet"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    y, rate = sf.read(out / "long.wav", dtype="float32")
    whole = CLASSICAL_MODELS[model]()(torch.from_numpy(x)[None])[0].numpy()
    assert rate == 16000 and len(y) == len(x)
    np.testing.assert_allclose(y, whole, atol=2e-4)
