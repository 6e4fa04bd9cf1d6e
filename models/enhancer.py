"""Waveform-in, waveform-out wrapper around a spectral network.

    wave [B, N] --unit RMS--> STFT --(|X|^0.3, phase)--> network --> iSTFT(length=N) --> / gain

Tasks differ only in how input and output spectra are used:
- ``enhance`` (denoise, dereverb, bwe, universal): network magnitude and phase.
- ``phase_retrieval``: the input phase is replaced by zeros and the output keeps the input
  magnitude, taking only the network's phase (the authors' protocol).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models import stft as S
from models.config import STFTConfig

MODES = ("enhance", "phase_retrieval")


def limit_attenuation(degraded, enhanced, atten_lim_db: float):
    """Mix the input back into the output so that nothing is attenuated by more than
    ``atten_lim_db`` dB (DeepFilterNet's ``--atten-lim``): ``lim * degraded + (1 - lim) * enhanced``
    with ``lim = 10 ** (-atten_lim_db / 20)``. Arrays or tensors of one shape, at one sample rate.

    Why a mix and not a mask floor: it works for every model (masks, mappings, chains) and, being
    linear and pointwise, gives the same result chunk by chunk as on the whole file.
    """
    lim = 10.0 ** (-atten_lim_db / 20.0)
    return lim * degraded + (1.0 - lim) * enhanced


def check_atten_lim(model, atten_lim_db: float | None) -> None:
    """Refuse an attenuation limit that cannot mean anything: not positive, or for phase retrieval
    (its input is a magnitude to give a phase to, not a signal to attenuate)."""
    if atten_lim_db is None:
        return
    if not atten_lim_db > 0:
        raise ValueError(f"--atten-lim-db must be a positive number of dB (e.g. 12), got {atten_lim_db:g}")
    info = getattr(model, "info", None)  # every loaded model has one; a bare Enhancer has its mode
    if getattr(info, "mode", getattr(model, "mode", "enhance")) == "phase_retrieval":
        raise ValueError("--atten-lim-db limits how much a model removes; a phase retrieval model removes nothing "
                         "(leave the option out)")


def accepts_groups(model: object) -> bool:
    """Whether ``model(x, gain, groups)`` routes the rows of a group together (``groups`` [B] integer ids: the
    channels of one chunk of one file): a router (:mod:`models.router`) or a chain holding one. Other models
    take ``model(x, gain)`` only."""
    return bool(getattr(model, "routes_rows_in_groups", False))


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is: its registry name (or file), architecture, config name and tasks."""

    name: str
    arch: str
    config_name: str
    tasks: tuple[str, ...]
    mode: str
    sample_rate_hz: int
    source: str


class Enhancer(nn.Module):
    """forward(wave [B, N], gain [B] | None) -> enhanced wave [B, N] at ``sample_rate_hz``.

    ``gain`` is the loudness normalisation factor (unit RMS). Pass it when ``wave`` is a chunk
    of a longer file so that the whole file shares one factor; by default it is computed from
    ``wave`` itself.
    """

    def __init__(self, network: nn.Module, stft_cfg: STFTConfig, mode: str = "enhance",
                 info: ModelInfo | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.network = network
        self.stft_cfg = stft_cfg
        self.mode = mode
        self.info = info

    @property
    def sample_rate_hz(self) -> int:
        return self.stft_cfg.sample_rate_hz

    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        length = wave.shape[-1]
        wave = wave.float()
        if gain is None:
            gain = S.loudness_gain(wave)
        gain = gain.to(wave.device, torch.float32)[:, None]
        mag, phase = S.analyse(wave * gain, self.stft_cfg)
        if self.mode == "phase_retrieval":
            _, phase_hat = self.network(mag, torch.zeros_like(phase))
            mag_hat = mag
        else:
            mag_hat, phase_hat = self.network(mag, phase)
        out = S.synthesise(mag_hat.float(), phase_hat.float(), self.stft_cfg, length)
        return out / gain
