"""STFT front end shared by every model, loss and metric in gre.

The GRE network (and MP-SENet) work on a centred, Hann-windowed STFT of 16 kHz audio with
n_fft = win = 400 (25 ms) and hop = 100 (6.25 ms), giving F = 201 bins and
T = floor(N / hop) + 1 frames. The magnitude is power-law compressed, M = |X| ** 0.3.

Shapes used throughout: waveforms [B, N] (float, full scale ~1), spectra [B, F, T].
"""
from __future__ import annotations

import torch

from models.config import STFTConfig

#: Offsets the authors add before atan2 / inside sqrt; kept so that their weights see the
#: exact inputs they were trained on (they only matter for exactly-zero bins).
MAG_EPS = 1e-9
PHASE_IM_OFFSET = 1e-10
PHASE_RE_OFFSET = 1e-5
#: Below this mean square a waveform is treated as silence by the loudness normalisation.
SILENCE_MEAN_SQUARE = 1e-12


def _window(cfg: STFTConfig, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(cfg.win_length, device=device, dtype=dtype)


def _min_length(cfg: STFTConfig) -> int:
    # torch.stft with reflect padding needs more than n_fft // 2 samples.
    return cfg.n_fft // 2 + 1


def stft(wave: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    """Complex STFT of ``wave`` [B, N] -> [B, F, T] (complex64/128).

    Inputs shorter than n_fft // 2 + 1 samples are zero-padded at the end first, so that
    even a single sample has a spectrum; `istft(..., length=N)` removes the padding again.
    """
    wave = wave.float() if wave.dtype not in (torch.float32, torch.float64) else wave
    if wave.shape[-1] < _min_length(cfg):
        wave = torch.nn.functional.pad(wave, (0, _min_length(cfg) - wave.shape[-1]))
    return torch.stft(
        wave,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=_window(cfg, wave.device, wave.dtype),
        center=True,
        pad_mode="reflect",
        normalized=False,
        return_complex=True,
    )


def istft(spec: torch.Tensor, cfg: STFTConfig, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`: complex [B, F, T] -> waveform [B, length]."""
    padded = max(length, _min_length(cfg))
    real_dtype = torch.float64 if spec.dtype == torch.complex128 else torch.float32
    wave = torch.istft(
        spec,
        cfg.n_fft,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=_window(cfg, spec.device, real_dtype),
        center=True,
        length=padded,
    )
    return wave[..., :length]


def num_frames(num_samples: int, cfg: STFTConfig) -> int:
    """Number of STFT frames for a waveform of ``num_samples`` samples."""
    return max(num_samples, _min_length(cfg)) // cfg.hop_length + 1


def mag_phase(spec: torch.Tensor, cfg: STFTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Complex [B, F, T] -> (compressed magnitude |X|**c, phase in radians), both [B, F, T]."""
    re, im = spec.real, spec.imag
    mag = torch.sqrt(re * re + im * im + MAG_EPS)
    phase = torch.atan2(im + PHASE_IM_OFFSET, re + PHASE_RE_OFFSET)
    return mag.pow(cfg.compress_factor), phase


def compose(mag_c: torch.Tensor, phase: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    """(compressed magnitude, phase) [B, F, T] -> complex spectrum with the magnitude decompressed."""
    mag = mag_c.clamp_min(0).pow(1.0 / cfg.compress_factor)
    return torch.polar(mag.float(), phase.float())


def analyse(wave: torch.Tensor, cfg: STFTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Waveform [B, N] -> (compressed magnitude, phase), each [B, F, T]."""
    return mag_phase(stft(wave, cfg), cfg)


def synthesise(mag_c: torch.Tensor, phase: torch.Tensor, cfg: STFTConfig, length: int) -> torch.Tensor:
    """(compressed magnitude, phase) [B, F, T] -> waveform [B, length]."""
    return istft(compose(mag_c, phase, cfg), cfg, length)


def loudness_gain(wave: torch.Tensor) -> torch.Tensor:
    """Gain that scales each row of ``wave`` [B, N] to unit RMS -> [B].

    Silent (or empty) rows get a gain of 1 instead of dividing by zero, so silence passes
    through the model unchanged in level.
    """
    mean_square = wave.double().pow(2).mean(dim=-1) if wave.shape[-1] else torch.zeros(wave.shape[0])
    silent = mean_square <= SILENCE_MEAN_SQUARE
    gain = torch.where(silent, torch.ones_like(mean_square), mean_square.clamp_min(SILENCE_MEAN_SQUARE).rsqrt())
    return gain.to(torch.float32)
