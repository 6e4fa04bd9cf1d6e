"""Classical references that need no weights: Griffin-Lim phase retrieval, a Wiener denoiser and WPE
dereverberation (:mod:`models.wpe`).

Griffin-Lim and the Wiener filter run on gre's own STFT (models.stft: Hann 400 / hop 100, centred,
16 kHz), WPE on its own 512 / 128 one. All three are batched over waveforms [B, N] and wrapped as
modules with the Enhancer interface
(``forward(wave [B, N], gain=None) -> wave [B, N]``, ``.sample_rate_hz``, ``.info``) so that
the registry and ``gre benchmark`` can treat them like networks::

    model = CLASSICAL_MODELS["wiener"]()          # or CLASSICAL_MODELS["griffin-lim"](GriffinLimConfig(n_iter=50))
    out = model(wave)                              # [B, N] -> [B, N]

Griffin-Lim (Griffin & Lim 1984) alternates between the target magnitude and the set of
consistent spectra (STFT of a signal); with ``momentum`` > 0 it is the "fast Griffin-Lim" of
Perraudin, Balazs & Sondergaard (2013), which extrapolates each consistent estimate.

The Wiener denoiser estimates the noise power spectrum per bin (from the quietest frames, or
by minimum statistics over a sliding window), the a-priori SNR by the decision-directed rule
(Ephraim & Malah 1984) and applies the Wiener gain xi / (1 + xi) with a floor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from models import stft as S
from models.config import STFTConfig
from models.enhancer import ModelInfo
from models.wpe import WPEConfig, wpe_dereverb

# --------------------------------------------------------------------------------------------
# Griffin-Lim
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GriffinLimConfig:
    """``n_iter`` projections; ``momentum`` 0 = classic Griffin-Lim, 0.99 = fast Griffin-Lim;
    ``init`` "zero" (all phases 0, the phase-retrieval protocol), "random" (seeded uniform) or
    "pghi" (phase-gradient heap integration of the magnitude, :mod:`models.pghi`)."""

    n_iter: int = 100
    momentum: float = 0.99
    init: str = "zero"
    seed: int = 0
    stft: STFTConfig = field(default_factory=STFTConfig)


def spectral_convergence(spec: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """|| |spec| - target ||_F / || target ||_F per item: [B, F, T] complex, [B, F, T] -> [B]."""
    num = (spec.abs() - target_mag).pow(2).sum(dim=(-2, -1)).sqrt()
    return num / target_mag.pow(2).sum(dim=(-2, -1)).sqrt().clamp_min(1e-12)


def _initial_phase(target_mag: torch.Tensor, cfg: GriffinLimConfig) -> torch.Tensor:
    if cfg.init == "zero":
        return torch.zeros_like(target_mag)
    if cfg.init == "random":
        g = torch.Generator(device="cpu").manual_seed(cfg.seed)
        return (torch.rand(target_mag.shape, generator=g) * 2 * torch.pi - torch.pi).to(target_mag)
    if cfg.init == "pghi":
        from models.pghi import pghi_phase

        mags = target_mag.detach().cpu().double().numpy()
        return torch.stack([torch.from_numpy(pghi_phase(m, cfg.stft, seed=cfg.seed)) for m in mags]).to(target_mag)
    raise ValueError(f"GriffinLimConfig.init must be 'zero', 'random' or 'pghi', got {cfg.init!r}")


def griffin_lim(target_mag: torch.Tensor, length: int, cfg: GriffinLimConfig = GriffinLimConfig(),
                init_phase: torch.Tensor | None = None, history: list[float] | None = None) -> torch.Tensor:
    """Waveform [B, length] whose STFT magnitude approximates ``target_mag`` [B, F, T] (linear, not compressed).

    Each iteration: c = STFT(iSTFT(target * e^{j angle(x)})) (nearest consistent spectrum), then
    x = c + momentum * (c - c_previous). ``history``, if given, receives the spectral
    convergence of the consistent estimate c after every iteration (mean over the batch).
    """
    target_mag = target_mag.float()
    phase = _initial_phase(target_mag, cfg) if init_phase is None else init_phase.float()
    x = torch.polar(target_mag, phase)
    previous = None
    for _ in range(cfg.n_iter):
        wave = S.istft(_with_magnitude(x, target_mag), cfg.stft, length)
        consistent = S.stft(wave, cfg.stft)
        if history is not None:
            history.append(float(spectral_convergence(consistent, target_mag).mean()))
        x = consistent if previous is None or cfg.momentum == 0 else consistent + cfg.momentum * (consistent - previous)
        previous = consistent
    return S.istft(_with_magnitude(x, target_mag), cfg.stft, length)


def _with_magnitude(spec: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """``mag`` * e^{j angle(spec)}, without trigonometry (bins where spec is 0 become 0)."""
    return spec * (mag / spec.abs().clamp_min(1e-20))


# --------------------------------------------------------------------------------------------
# Wiener / spectral-gating denoiser
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WienerConfig:
    """Noise tracker, decision-directed SNR and gain limits.

    - ``noise_estimator``: "quietest" = mean power of the ``quietest_fraction`` lowest-energy
      frames (stationary noise, short files); "min_stats" = minimum of the recursively smoothed
      power over a sliding ``min_window_s`` window times ``min_stats_bias`` (non-stationary noise).
    - ``dd_alpha``: weight of the previous frame's clean estimate in the a-priori SNR.
    - ``gain_floor_db``: lowest gain, limits musical noise.
    """

    noise_estimator: str = "quietest"
    quietest_fraction: float = 0.1
    smoothing: float = 0.85
    min_window_s: float = 1.5
    min_stats_bias: float = 2.6  # mean / tracked minimum, measured on white noise for 0.85 and 1.5 s
    dd_alpha: float = 0.98
    xi_min_db: float = -25.0
    gain_floor_db: float = -20.0
    stft: STFTConfig = field(default_factory=STFTConfig)


def noise_psd_quietest(power: torch.Tensor, fraction: float) -> torch.Tensor:
    """Noise power [B, F, 1] = mean of ``power`` [B, F, T] over the lowest-energy frames."""
    t = power.shape[-1]
    k = max(1, int(round(fraction * t)))
    frame_energy = power.sum(dim=1)  # [B, T]
    idx = frame_energy.topk(k, dim=-1, largest=False).indices  # [B, k]
    picked = power.gather(2, idx[:, None, :].expand(-1, power.shape[1], -1))
    return picked.mean(dim=-1, keepdim=True)


def noise_psd_min_stats(power: torch.Tensor, smoothing: float, window_frames: int, bias: float) -> torch.Tensor:
    """Noise power [B, F, T]: bias x sliding minimum (over the past ``window_frames``) of the
    first-order smoothed power. Simplified minimum statistics (Martin 2001) with a constant bias."""
    smoothed = torch.empty_like(power)
    acc = power[..., 0]
    for i in range(power.shape[-1]):  # recursive smoothing along time
        acc = smoothing * acc + (1 - smoothing) * power[..., i]
        smoothed[..., i] = acc
    b, f, t = smoothed.shape
    padded = F.pad(smoothed.reshape(b * f, 1, t), (window_frames - 1, 0), value=float("inf"))
    minimum = -F.max_pool1d(-padded, window_frames, stride=1)
    return bias * minimum.reshape(b, f, t)


def wiener_denoise(wave: torch.Tensor, cfg: WienerConfig = WienerConfig()) -> torch.Tensor:
    """Denoise waveforms [B, N] -> [B, N] with a decision-directed Wiener gain."""
    length = wave.shape[-1]
    spec = S.stft(wave.float(), cfg.stft)  # [B, F, T]
    power = spec.abs().pow(2)
    if cfg.noise_estimator == "quietest":
        noise = noise_psd_quietest(power, cfg.quietest_fraction).expand_as(power)
    elif cfg.noise_estimator == "min_stats":
        window = max(1, round(cfg.min_window_s * cfg.stft.sample_rate_hz / cfg.stft.hop_length))
        noise = noise_psd_min_stats(power, cfg.smoothing, window, cfg.min_stats_bias)
    else:
        raise ValueError(f"WienerConfig.noise_estimator must be 'quietest' or 'min_stats', got {cfg.noise_estimator!r}")
    noise = noise.clamp_min(1e-12)
    gamma = power / noise  # a-posteriori SNR
    xi_min = 10 ** (cfg.xi_min_db / 10)
    floor = 10 ** (cfg.gain_floor_db / 20)
    gain = torch.empty_like(power)
    prev_clean = torch.zeros_like(power[..., 0])  # |S_hat(t-1)|^2
    for i in range(power.shape[-1]):
        ml = (gamma[..., i] - 1).clamp_min(0)
        xi = (cfg.dd_alpha * prev_clean / noise[..., i] + (1 - cfg.dd_alpha) * ml).clamp_min(xi_min)
        g = (xi / (1 + xi)).clamp_min(floor)
        gain[..., i] = g
        prev_clean = g.pow(2) * power[..., i]
    return S.istft(spec * gain, cfg.stft, length)


# --------------------------------------------------------------------------------------------
# Enhancer-compatible modules
# --------------------------------------------------------------------------------------------


class _Classical(nn.Module):
    """Base: no parameters, works on 16 kHz waveforms [B, N]."""

    stft_cfg: STFTConfig
    #: True: run on whole files, never on chunks cross-faded together (see GriffinLimEnhancer).
    whole_file: bool = False

    @property
    def sample_rate_hz(self) -> int:
        return self.stft_cfg.sample_rate_hz


class GriffinLimEnhancer(_Classical):
    """Phase retrieval: keep the input magnitude, replace its phase by Griffin-Lim's.

    forward(wave [B, N], gain [B] | None) -> [B, N]. Griffin-Lim is scale invariant, so the
    loudness ``gain`` is accepted for interface compatibility and has no effect.
    """

    name = "griffin-lim"
    #: Griffin-Lim's phase has no fixed reference: two chunks retrieved apart differ by an arbitrary
    #: phase offset, and their cross-fade cancels (one 4.2 s file fell from 4.41 to 2.58 PESQ-WB).
    whole_file = True

    def __init__(self, cfg: GriffinLimConfig = GriffinLimConfig()):
        super().__init__()
        self.cfg = cfg
        self.stft_cfg = cfg.stft
        self.info = ModelInfo(name=self.name, arch="classical", config_name=f"{'fast ' if cfg.momentum else ''}"
                              f"{cfg.n_iter} it, {cfg.init} start", tasks=("phase",), mode="phase_retrieval",
                              sample_rate_hz=cfg.stft.sample_rate_hz, source="classical, no weights")

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        target = S.stft(wave.float(), self.cfg.stft).abs()
        return griffin_lim(target, wave.shape[-1], self.cfg)


class PGHIGriffinLimEnhancer(GriffinLimEnhancer):
    """Griffin-Lim started from the phase-gradient heap integration of the magnitude instead of zero
    phase (:mod:`models.pghi`): same interface and iterations, a closer spectrum."""

    name = "pghi-griffin-lim"

    def __init__(self, cfg: GriffinLimConfig = GriffinLimConfig(init="pghi")):
        super().__init__(cfg)


class WienerEnhancer(_Classical):
    """Denoising: decision-directed Wiener gain on the noisy STFT.

    forward(wave [B, N], gain [B] | None) -> [B, N]. The gain is linear in the input level, so
    ``gain`` (loudness normalisation) is accepted for interface compatibility and has no effect.
    """

    def __init__(self, cfg: WienerConfig = WienerConfig()):
        super().__init__()
        self.cfg = cfg
        self.stft_cfg = cfg.stft
        self.info = ModelInfo(name="wiener", arch="classical", config_name=cfg.noise_estimator, tasks=("denoise",),
                              mode="enhance", sample_rate_hz=cfg.stft.sample_rate_hz,
                              source="classical, no weights")

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        return wiener_denoise(wave, self.cfg)


class WPEEnhancer(_Classical):
    """Dereverberation: weighted prediction error (:mod:`models.wpe`) removes the late reverberation that
    the past spectrum predicts; the direct sound and early reflections stay.

    forward(wave [B, N], gain [B] | None) -> [B, N]. WPE is linear in the input level, so ``gain``
    (loudness normalisation) is accepted for interface compatibility and has no effect.
    """

    def __init__(self, cfg: WPEConfig = WPEConfig()):
        super().__init__()
        self.cfg = cfg
        self.stft_cfg = cfg.stft
        self.info = ModelInfo(name="wpe", arch="classical",
                              config_name=f"{cfg.taps} taps, delay {cfg.delay}, {cfg.iterations} iterations",
                              tasks=("dereverb",), mode="enhance", sample_rate_hz=cfg.stft.sample_rate_hz,
                              source="classical, no weights")

    @torch.no_grad()
    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        return wpe_dereverb(wave, self.cfg)


#: Name -> factory (called with an optional config) returning an Enhancer-compatible module.
CLASSICAL_MODELS: dict[str, type[_Classical]] = {
    "griffin-lim": GriffinLimEnhancer,
    "pghi-griffin-lim": PGHIGriffinLimEnhancer,
    "wiener": WienerEnhancer,
    "wpe": WPEEnhancer,
}
