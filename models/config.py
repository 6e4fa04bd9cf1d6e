"""Typed, frozen configuration for the front end and the networks.

Every constant of the model is named once here; nothing reads a global config.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class STFTConfig:
    """Signal front end: 16 kHz, Hann 400 / hop 100, centred; magnitude compressed by |X|**0.3."""

    sample_rate_hz: int = 16_000
    n_fft: int = 400
    win_length: int = 400
    hop_length: int = 100
    compress_factor: float = 0.3

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1


@dataclass(frozen=True)
class GREConfig:
    """Hyper-parameters of the GRE network (RENet).

    ``mag_channels`` (A) are real magnitude-stream channels; ``phase_channels`` (P) are complex
    phase-stream channels. Attention heads concatenate a real part of size ``mag_head_dim`` and a
    complex part of size ``phase_head_dim`` (2 * phase_head_dim reals).
    """

    mag_channels: int = 48
    phase_channels: int = 16
    num_blocks: int = 4
    num_heads: int = 4
    mag_head_dim: int = 12
    phase_head_dim: int = 6
    dense_depth: int = 4
    phase_ffn_channels: int = 64
    phase_ffn_kernel: int = 4
    stft: STFTConfig = field(default_factory=STFTConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GREConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("stft"), dict):
            values["stft"] = STFTConfig(**values["stft"])
        return cls(**values)


#: Named configurations. `standard` and `universal` are the authors' `config.json` and
#: `config_universal.json` (identical shapes, 1,549,969 parameters); `small` is their
#: `config_small.json` used for phase retrieval (900,529 parameters); `lite` and `tiny` are ours.
GRE_CONFIGS: dict[str, GREConfig] = {
    "standard": GREConfig(),
    "universal": GREConfig(),
    "small": GREConfig(mag_channels=32, mag_head_dim=8),
    # Ours: a CPU-trainable GRE (286,025 parameters, half the blocks and channels of `small`),
    # used for the weights we ship, which were trained on 2 CPU cores.
    "lite": GREConfig(mag_channels=24, phase_channels=8, num_blocks=2, num_heads=2, mag_head_dim=8,
                      phase_head_dim=4, phase_ffn_channels=32),
    "tiny": GREConfig(
        mag_channels=8, phase_channels=4, num_blocks=1, num_heads=2, mag_head_dim=4,
        phase_head_dim=2, dense_depth=2, phase_ffn_channels=8,
    ),
}


def gre_config(name: str) -> GREConfig:
    """Look a named GRE configuration up; unknown names list the known ones."""
    try:
        return GRE_CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown GRE config {name!r}; known: {', '.join(GRE_CONFIGS)}") from None
