"""MP-SENet, long (journal) version: the closest baseline of the GRE network.

Lu, Ai, Ling: "Explicit estimation of magnitude and phase spectra in parallel for high-quality
speech enhancement", Neural Networks 189 (2025), 107562 (arXiv 2308.08926); "MP-SENet Up." in
the GRE paper's tables. Written from the description in gre_net.md §6 and a reading of the
authors' ``models/model.py`` / ``models/transformer.py`` (yxlu-0102/MP-SENet); no code copied.

Data flow (shapes for one utterance, C = ``channels``, F = 201 bins, T frames)::

    [M, phi] (compressed magnitude, raw wrapped phase)      [B, 2, T, F]
    encoder: 1x1 conv+IN+PReLU -> dilated dense block -> strided conv (F -> 101)   [B, C, T, 101]
    bottleneck: N x (time Transformer + residual, freq Transformer + residual)
    magnitude decoder: dense -> sub-pixel conv (101 -> 202) -> IN -> PReLU -> conv (1,2)
                       -> beta * sigmoid(slope_f * x)  = mask;  M_hat = mask * M
    phase decoder:     dense -> sub-pixel conv -> IN -> PReLU -> two convs (1,2) -> atan2

Unlike the GRE network, the phase is fed as an ordinary real feature map, so nothing here is
rotation equivariant.

The authors' ``batch_first`` mistake: their attention and GRU are built sequence-first but fed
batch-first tensors, so their "time" Transformer runs along (batch x frequency) and their
"freq" Transformer along (batch x time). With one utterance this is a dual-path model with the
freq path first; with a batch it mixes utterances. Their released weights were trained that way;
``authors_batch_first_bug=True`` reproduces it (needed to use those weights), off for our training.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models.config import STFTConfig


@dataclass(frozen=True)
class MPSENetConfig:
    """Hyper-parameters of MP-SENet (long version).

    ``channels`` is the authors' ``dense_channel``; the bi-GRU of each Transformer FFN has
    ``gru_hidden_factor * channels`` units per direction; the magnitude mask is
    ``mask_beta * sigmoid(slope_f * x)``. ``magnitude_decoder=False`` drops the mask decoder and
    returns the input magnitude (the "single phase decoder" model used for phase retrieval).
    """

    channels: int = 64
    num_blocks: int = 4
    num_heads: int = 4
    dense_depth: int = 4
    gru_hidden_factor: int = 2
    mask_beta: float = 2.0
    magnitude_decoder: bool = True
    authors_batch_first_bug: bool = False
    stft: STFTConfig = field(default_factory=STFTConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MPSENetConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("stft"), dict):
            values["stft"] = STFTConfig(**values["stft"])
        return cls(**values)


#: Parameter counts, asserted by the tests. `long` is the authors' config.json (dense_channel 64,
#: 4 blocks, beta 2.0) = the paper's "2.26 M"; `long_phase` drops the magnitude decoder (the GRE
#: paper's phase-retrieval "MP-SENet Up.*, single phase decoder", listed there as 1.99 M).
LONG_PARAMS = 2_263_372
LONG_PHASE_PARAMS = 1_991_362

MPSENET_CONFIGS: dict[str, MPSENetConfig] = {
    "long": MPSENetConfig(),
    "long_phase": MPSENetConfig(magnitude_decoder=False),
    "standard": MPSENetConfig(),  # alias of `long`, the default name of `gre train --config`
    "tiny": MPSENetConfig(channels=8, num_blocks=1, dense_depth=2),
}


def downsampled_freqs(n_freqs: int) -> int:
    """Bins after the (1, 3) conv with stride 2 and padding 1: 201 -> 101."""
    return (n_freqs + 2 - 3) // 2 + 1


class ConvNormAct(nn.Module):
    """Conv2d -> InstanceNorm2d (affine, per utterance statistics) -> PReLU (one slope per channel)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: tuple[int, int], *, stride=(1, 1),
                 padding=(0, 0), dilation=(1, 1)):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding, dilation=dilation)
        self.norm = nn.InstanceNorm2d(out_ch, affine=True)
        self.act = nn.PReLU(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class DilatedDenseBlock(nn.Module):
    """Dense block of ``depth`` (2, 3) convs with time dilation 1, 2, 4, ...; x [B, C, T, F] -> same.

    Layer i sees the concatenation of the block input and all earlier outputs (newest first)
    and pads 2**i frames in the past only (causal in time) and one bin each side in frequency.
    The block returns the last layer's output, not the concatenation.
    """

    def __init__(self, channels: int, depth: int):
        super().__init__()
        self.layers = nn.ModuleList(
            ConvNormAct(channels * (i + 1), channels, (2, 3), dilation=(2 ** i, 1)) for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x
        for i, layer in enumerate(self.layers):
            x = layer(F.pad(skip, (1, 1, 2 ** i, 0)))
            skip = torch.cat([x, skip], dim=1)
        return x


class SubPixelConv(nn.Module):
    """(1, 3) conv to ``ratio`` x channels, interleaved along frequency: [B, C, T, F] -> [B, C, T, ratio*F].

    Output bin ``ratio * f + k`` comes from channel block k (the authors' SPConvTranspose2d).
    """

    def __init__(self, in_ch: int, out_ch: int, ratio: int = 2):
        super().__init__()
        self.ratio = ratio
        self.conv = nn.Conv2d(in_ch, out_ch * ratio, (1, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.pad(x, (1, 1, 0, 0)))
        b, c, t, f = y.shape
        y = y.view(b, self.ratio, c // self.ratio, t, f).permute(0, 2, 3, 4, 1)
        return y.reshape(b, c // self.ratio, t, f * self.ratio)


class Encoder(nn.Module):
    """[B, 2, T, F] -> [B, C, T, F/2]."""

    def __init__(self, cfg: MPSENetConfig):
        super().__init__()
        c = cfg.channels
        self.input = ConvNormAct(2, c, (1, 1))
        self.dense = DilatedDenseBlock(c, cfg.dense_depth)
        self.downsample = ConvNormAct(c, c, (1, 3), stride=(1, 2), padding=(0, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.dense(self.input(x)))


class TransformerBlock(nn.Module):
    """Pre-norm attention + bi-GRU FFN, post-norm: x [N, L, C] (batch first) -> [N, L, C].

    x = x + MHA(LN(x));  x = x + Linear(LeakyReLU(biGRU(LN(x))));  return LN(x)
    """

    def __init__(self, channels: int, num_heads: int, gru_hidden: int):
        super().__init__()
        self.norm_attn = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.norm_ffn = nn.LayerNorm(channels)
        self.gru = nn.GRU(channels, gru_hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * gru_hidden, channels)
        self.norm_out = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm_attn(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        y, _ = self.gru(self.norm_ffn(x))
        x = x + self.proj(F.leaky_relu(y, 0.01))
        return self.norm_out(x)


class TSBlock(nn.Module):
    """Time Transformer over T for every (utterance, bin), then freq Transformer over F for every
    (utterance, frame), each with an outer residual: [B, C, T, F] -> same.

    With ``seq_first`` (the authors' bug) both sub-blocks treat the leading axis of the reshaped
    tensors as the sequence: the "time" block then runs along B*F and the "freq" block along B*T.
    """

    def __init__(self, cfg: MPSENetConfig):
        super().__init__()
        hidden = cfg.gru_hidden_factor * cfg.channels
        self.time = TransformerBlock(cfg.channels, cfg.num_heads, hidden)
        self.freq = TransformerBlock(cfg.channels, cfg.num_heads, hidden)
        self.seq_first = cfg.authors_batch_first_bug

    def _run(self, block: TransformerBlock, x: torch.Tensor) -> torch.Tensor:
        if self.seq_first:
            return block(x.transpose(0, 1)).transpose(0, 1)
        return block(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)
        x = self._run(self.time, x) + x
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)
        x = self._run(self.freq, x) + x
        return x.view(b, t, f, c).permute(0, 3, 1, 2)


class MaskDecoder(nn.Module):
    """[B, C, T, F/2] -> magnitude mask [B, F, T] in (0, beta)."""

    def __init__(self, cfg: MPSENetConfig):
        super().__init__()
        c, nf = cfg.channels, cfg.stft.n_freqs
        self.dense = DilatedDenseBlock(c, cfg.dense_depth)
        self.upsample = SubPixelConv(c, c, 2)
        self.norm = nn.InstanceNorm2d(c, affine=True)
        self.act = nn.PReLU(c)
        self.head = nn.Conv2d(c, 1, (1, 2 * downsampled_freqs(nf) - nf + 1))  # 202 -> 201 bins
        self.slope = nn.Parameter(torch.ones(nf, 1))  # learnable sigmoid slope per bin
        self.beta = cfg.mask_beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.act(self.norm(self.upsample(self.dense(x)))))
        x = x[:, 0].transpose(1, 2)  # [B, F, T]
        return self.beta * torch.sigmoid(self.slope * x)


class PhaseDecoder(nn.Module):
    """[B, C, T, F/2] -> phase [B, F, T] = atan2(imaginary head, real head)."""

    def __init__(self, cfg: MPSENetConfig):
        super().__init__()
        c, nf = cfg.channels, cfg.stft.n_freqs
        width = 2 * downsampled_freqs(nf) - nf + 1
        self.dense = DilatedDenseBlock(c, cfg.dense_depth)
        self.upsample = SubPixelConv(c, c, 2)
        self.norm = nn.InstanceNorm2d(c, affine=True)
        self.act = nn.PReLU(c)
        self.head_re = nn.Conv2d(c, 1, (1, width))
        self.head_im = nn.Conv2d(c, 1, (1, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm(self.upsample(self.dense(x))))
        phase = torch.atan2(self.head_im(x), self.head_re(x))
        return phase[:, 0].transpose(1, 2)


class MPSENet(nn.Module):
    """forward(mag_c [B, F, T], phase [B, F, T]) -> (mag_c_hat, phase_hat), each [B, F, T].

    ``mag_c`` is the compressed magnitude |X|**0.3, ``phase`` the wrapped phase in radians.
    """

    arch = "mpsenet"

    def __init__(self, cfg: MPSENetConfig | None = None):
        super().__init__()
        self.cfg = cfg or MPSENetConfig()
        self.encoder = Encoder(self.cfg)
        self.bottleneck = nn.ModuleList(TSBlock(self.cfg) for _ in range(self.cfg.num_blocks))
        self.mask_decoder = MaskDecoder(self.cfg) if self.cfg.magnitude_decoder else None
        self.phase_decoder = PhaseDecoder(self.cfg)

    def forward(self, mag: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.stack([mag, phase], dim=1).transpose(2, 3)  # [B, 2, T, F]
        x = self.encoder(x)
        for block in self.bottleneck:
            x = block(x)
        mag_hat = mag * self.mask_decoder(x) if self.mask_decoder is not None else mag
        return mag_hat, self.phase_decoder(x)


# --------------------------------------------------------------------------------------------
# The authors' checkpoint files: torch.save({'generator': state_dict}) with their module names.
#
# | theirs                                                   | ours                                  |
# |----------------------------------------------------------|---------------------------------------|
# | dense_encoder.dense_conv_1.{0,1,2}.X                     | encoder.input.{conv,norm,act}.X       |
# | dense_encoder.dense_block.dense_block.{i}.{1,2,3}.X      | encoder.dense.layers.{i}.{conv,norm,act}.X |
# | dense_encoder.dense_conv_2.{0,1,2}.X                     | encoder.downsample.{conv,norm,act}.X  |
# | TSTransformer.{n}.time_transformer.Y / freq_transformer.Y| bottleneck.{n}.time.Y / .freq.Y       |
# |   Y: norm1 / attention / norm2 / ffn.gru / ffn.linear / norm3 -> norm_attn / attn / norm_ffn / gru / proj / norm_out |
# | {mask,phase}_decoder.dense_block.dense_block.{i}.{1,2,3}.X | {mask,phase}_decoder.dense.layers.{i}.{conv,norm,act}.X |
# | mask_decoder.mask_conv.{0.conv,1,2,3}.X                  | mask_decoder.{upsample.conv,norm,act,head}.X |
# | mask_decoder.lsigmoid.slope                              | mask_decoder.slope                    |
# | phase_decoder.phase_conv.{0.conv,1,2}.X                  | phase_decoder.{upsample.conv,norm,act}.X |
# | phase_decoder.phase_conv_{r,i}.X                         | phase_decoder.head_{re,im}.X          |
# --------------------------------------------------------------------------------------------

_CNA = {"0": "conv", "1": "norm", "2": "act"}  # Sequential(conv, IN, PReLU) positions
_DENSE = {"1": "conv", "2": "norm", "3": "act"}  # Sequential(pad, conv, IN, PReLU) positions
_TRANSFORMER = {"norm1": "norm_attn", "attention": "attn", "norm2": "norm_ffn", "ffn.gru": "gru",
                "ffn.linear": "proj", "norm3": "norm_out"}
_MASK_CONV = {"0.conv": "upsample.conv", "1": "norm", "2": "act", "3": "head"}
_PHASE_CONV = {"0.conv": "upsample.conv", "1": "norm", "2": "act"}

_RULES: list[tuple[str, Any]] = [
    (r"dense_encoder\.dense_conv_1\.(\d)\.(.+)", lambda m: f"encoder.input.{_CNA[m[1]]}.{m[2]}"),
    (r"dense_encoder\.dense_conv_2\.(\d)\.(.+)", lambda m: f"encoder.downsample.{_CNA[m[1]]}.{m[2]}"),
    (r"dense_encoder\.dense_block\.dense_block\.(\d+)\.(\d)\.(.+)",
     lambda m: f"encoder.dense.layers.{m[1]}.{_DENSE[m[2]]}.{m[3]}"),
    (r"TSTransformer\.(\d+)\.(time|freq)_transformer\.(norm1|attention|norm2|ffn\.gru|ffn\.linear|norm3)\.(.+)",
     lambda m: f"bottleneck.{m[1]}.{m[2]}.{_TRANSFORMER[m[3]]}.{m[4]}"),
    (r"(mask|phase)_decoder\.dense_block\.dense_block\.(\d+)\.(\d)\.(.+)",
     lambda m: f"{m[1]}_decoder.dense.layers.{m[2]}.{_DENSE[m[3]]}.{m[4]}"),
    (r"mask_decoder\.mask_conv\.(0\.conv|\d)\.(.+)", lambda m: f"mask_decoder.{_MASK_CONV[m[1]]}.{m[2]}"),
    (r"mask_decoder\.lsigmoid\.slope", lambda m: "mask_decoder.slope"),
    (r"phase_decoder\.phase_conv\.(0\.conv|\d)\.(.+)", lambda m: f"phase_decoder.{_PHASE_CONV[m[1]]}.{m[2]}"),
    (r"phase_decoder\.phase_conv_(r|i)\.(.+)", lambda m: f"phase_decoder.head_{'re' if m[1] == 'r' else 'im'}.{m[2]}"),
]


def authors_key_to_ours(key: str) -> str:
    """Rename one of the authors' MP-SENet state-dict keys to ours; KeyError if no rule fits."""
    for pattern, rename in _RULES:
        match = re.fullmatch(pattern, key)
        if match:
            try:
                return rename(match)
            except KeyError:
                break
    raise KeyError(f"no mapping rule for MP-SENet key {key!r}")


def looks_like_authors_mpsenet(state: dict) -> bool:
    """True for the long version's names (Transformer bottleneck, separate mask/phase decoders)."""
    return ("dense_encoder.dense_conv_1.0.weight" in state and "phase_decoder.phase_conv_r.weight" in state
            and any(".time_transformer.attention." in k for k in state))


def infer_authors_config(state: dict) -> MPSENetConfig:
    """Our config for an authors' state dict, from its tensor shapes, with the bug flag on."""
    channels = state["dense_encoder.dense_conv_1.0.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in state if k.startswith("TSTransformer.")})
    depth = len({k.split(".")[3] for k in state if k.startswith("dense_encoder.dense_block.dense_block.")})
    gru_hidden = state["TSTransformer.0.time_transformer.ffn.gru.weight_hh_l0"].shape[1]
    has_mask = any(k.startswith("mask_decoder.") for k in state)
    # The head count leaves no trace in the shapes; every released model uses 4.
    return MPSENetConfig(channels=channels, num_blocks=blocks, dense_depth=depth,
                         gru_hidden_factor=gru_hidden // channels, magnitude_decoder=has_mask,
                         authors_batch_first_bug=True)


def convert_authors_state(state: dict) -> dict:
    """Whole authors' state dict -> our names (same tensors)."""
    return {authors_key_to_ours(k): v for k, v in state.items()}


def load_authors_checkpoint(state: dict, path: Path | str):
    """AUTHORS_CONVERTERS entry: their {'generator': state} -> LoadedCheckpoint, or None if not theirs."""
    if not looks_like_authors_mpsenet(state):
        return None
    from models.checkpoint import CheckpointError, LoadedCheckpoint

    try:
        cfg = infer_authors_config(state)
        converted = convert_authors_state(state)
    except (KeyError, IndexError) as err:
        raise CheckpointError(f"{path}: looks like an MP-SENet checkpoint but a tensor does not fit ({err}); "
                              "only the long (Transformer) version is supported") from None
    name = next((n for n, c in MPSENET_CONFIGS.items()
                 if replace(c, authors_batch_first_bug=True) == cfg), "custom")
    tasks, mode = (("denoise",), "enhance") if cfg.magnitude_decoder else (("phase",), "phase_retrieval")
    return LoadedCheckpoint(arch="mpsenet", config=cfg.to_dict(), config_name=name, state_dict=converted,
                            sample_rate_hz=cfg.stft.sample_rate_hz, tasks=tasks, mode=mode, source="authors")


def _register() -> None:
    from models.architectures import Architecture, register_architecture
    from models.checkpoint import AUTHORS_CONVERTERS

    register_architecture(Architecture(
        "mpsenet", MPSENet, MPSENetConfig.from_dict, MPSENET_CONFIGS,
        "MP-SENet (long version): Transformer bottleneck, mask + parallel phase decoders (baseline)",
    ))
    AUTHORS_CONVERTERS["mpsenet"] = load_authors_checkpoint


_register()
