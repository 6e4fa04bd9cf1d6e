"""Models run one after another: ``--model a+b`` gives ``a``'s output to ``b``.

Why: some inputs need two kinds of repair that no single shipped network does. A mask network
(the universal model) can remove noise and reverberation but cannot fill a band the input lacks;
the bandwidth extender fills the band but was trained on clean narrowband speech. Chained, the
first cleans what is there and the second adds what is missing.

    wave [B, N] --stage 1--> [B, N] --stage 2--> ... --> [B, N]

Every stage works at the same sample rate and sees the whole-file loudness factor ``gain`` of the
chain's input (each stage returns its output at its input's level, so one factor serves all).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from models import stft as S
from models.enhancer import ModelInfo

#: Joins the stage names of a chain: ``masknet-psm-universal-v2+masknet-map-bwe``.
CHAIN_SEPARATOR = "+"


def split_chain(spec: str) -> list[str] | None:
    """The stage names of ``spec`` ("a+b+..."), or None when ``spec`` names one model.

    A stage may be a checkpoint file whose name holds "+": the longest run of parts that names
    an existing file is one stage. Raises ValueError for an empty stage ("a+", "+b", "a++b").
    """
    if CHAIN_SEPARATOR not in spec or Path(spec).is_file():
        return None
    parts = spec.split(CHAIN_SEPARATOR)
    stages, i = [], 0
    while i < len(parts):
        end = next((j for j in range(len(parts), i + 1, -1)
                    if Path(CHAIN_SEPARATOR.join(parts[i:j])).is_file()), i + 1)
        stages.append(CHAIN_SEPARATOR.join(parts[i:end]).strip())
        i = end
    if any(not s for s in stages):
        raise ValueError(f"model chain {spec!r} has an empty stage; write it as NAME+NAME (e.g. "
                         f"masknet-psm-universal-v2+masknet-map-bwe)")
    return stages


class ChainedEnhancer(nn.Module):
    """forward(wave [B, N], gain [B] | None, groups [B] | None) -> wave [B, N]: each stage's output is the next
    one's input.

    ``stages`` are Enhancer-like modules (``forward(wave, gain)``, ``.sample_rate_hz``, ``.info``),
    all at one sample rate. ``info`` describes the chain; by default its name joins the stages'
    names with "+" and its tasks are every task some stage is trained for (the user picks the order,
    so the chain serves what its parts serve).
    """

    def __init__(self, stages: Sequence[nn.Module], info: ModelInfo | None = None):
        super().__init__()
        if len(stages) < 2:
            raise ValueError("a model chain needs at least two models")
        rates = {getattr(s, "sample_rate_hz", None) for s in stages}
        if len(rates) != 1:
            names = ", ".join(f"{_name(s)} at {s.sample_rate_hz} Hz" for s in stages)
            raise ValueError(f"the models of a chain must share one sample rate ({names})")
        self.stages = nn.ModuleList(stages)
        self.info = info or _default_info(stages)

    @property
    def sample_rate_hz(self) -> int:
        return self.stages[0].sample_rate_hz

    @property
    def routes_rows_in_groups(self) -> bool:
        """True if a stage is a router (:mod:`models.router`): the chain then takes ``groups`` and hands them
        to that stage."""
        return any(getattr(stage, "routes_rows_in_groups", False) for stage in self.stages)

    @property
    def whole_file(self) -> bool:
        """True if one of the stages must see whole files (see models.classical.GriffinLimEnhancer)."""
        return any(getattr(stage, "whole_file", False) for stage in self.stages)

    @property
    def extends_bandwidth(self) -> bool:
        """True when one of its models is trained for nothing but bandwidth extension: that model fills
        a band the input lacks, whatever task the chain is run for, and later models keep it."""
        return any(tuple(stage.info.tasks) == ("bwe",) for stage in self.stages)

    def forward(self, wave: torch.Tensor, gain: torch.Tensor | None = None,
                groups: torch.Tensor | None = None) -> torch.Tensor:
        """``groups`` [B]: rows that a router stage must route together (ignored by the other stages)."""
        wave = wave.float()
        if gain is None:
            gain = S.loudness_gain(wave)  # of the chain's input, shared by every stage
        for stage in self.stages:
            if groups is not None and getattr(stage, "routes_rows_in_groups", False):
                wave = stage(wave, gain, groups).float()
            else:
                wave = stage(wave, gain).float()
        return wave


def _name(stage: nn.Module) -> str:
    info = getattr(stage, "info", None)
    return info.name if info is not None else type(stage).__name__


def _default_info(stages: Sequence[nn.Module]) -> ModelInfo:
    infos = [s.info for s in stages]
    tasks: list[str] = []
    for info in infos:
        tasks += [t for t in info.tasks if t not in tasks]
    return ModelInfo(
        name=CHAIN_SEPARATOR.join(i.name for i in infos), arch="chain",
        config_name=CHAIN_SEPARATOR.join(i.config_name for i in infos), tasks=tuple(tasks), mode="enhance",
        sample_rate_hz=infos[0].sample_rate_hz, source="; then ".join(f"{i.name} ({i.source})" for i in infos),
    )
