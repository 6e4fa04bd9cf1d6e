"""MaskNet: one compact mask-estimation network with a selectable training target.

The classic family of T-F masking baselines (IBM, IRM, IAM, PSM, cIRM, ORM; definitions in
:mod:`models.masks`) on gre's STFT, all with the same network so that only the target differs:

    compressed noisy magnitude [B, F, T] -> [B, 1, T, F]
    -> conv (3x3) + ELU -> strided conv (3x3, stride 2 in frequency) + ELU    [B, C, T, F/2]
    -> per frame: Linear(C * F/2 -> H) -> bi-GRU over frames (H per direction)
    -> Linear(2H -> k * F) = the estimate (k = 2 for the cIRM: real and imaginary parts)

Optional **refinement** (``refine_channels`` R > 0; the ``<target>_refine`` configs): the per-frame
GRU sees each frame through one H-wide vector, so its estimate is smooth across frequency and
misses the harmonic detail between neighbouring bins. A small stack of 2-D convolutions at full
T-F resolution corrects it:

    [head output (k channels, before the activation), compressed noisy magnitude]  [B, k+1, T, F]
    -> conv 3x3 (k+1 -> R) + ELU -> ``refine_layers`` residual convs 3x3 (R -> R, frequency
       dilation 1, 2, 4, ... so the receptive field spans several pitch harmonics) + ELU
    -> conv 1x1 (R -> k), initialised to zero, ADDED to the head output

With ``refine_time_dilation`` (the ``<target>_refine_tf`` configs) the residual convs are dilated
in time as well (1, 2, 4, 8 frames = 6-50 ms): each bin then sees its own past and future energy
up to 100 ms away, the cue late-reverberation estimators use (the tail in a bin is a decayed copy
of that bin tens of milliseconds earlier), which the GRU's one vector per frame smooths away.

A second stage of the same form (``refine2_channels``; the ``<target>_refine_long`` and
``<target>_refine_tf_long`` configs) follows the first: its residual convs are dilated in time only,
4, 8, 16, 32 frames, so each bin sees +/- 0.375 s of its own history and future. Rooms with an RT60
of half a second or more leave energy that long; a time-dilated first stage reaches 100 ms.

Starting at zero, a refined network computes exactly what the same weights without refinement
compute, so ``gre train --init-weights`` can grow a trained MaskNet into a refined one (the new
stage's layers are the only parameters the checkpoint lacks) and fine-tuning starts from its
quality. Likewise a network with the first stage grows the second.

What the estimate is, how it becomes a mask and which loss trains it ("the target's usual loss"):

| target | estimate             | mask                          | loss                                                  |
|--------|----------------------|-------------------------------|-------------------------------------------------------|
| ibm    | logits               | sigmoid (soft IBM)            | binary cross-entropy with the IBM                     |
| irm    | sigmoid              | itself                        | MSE to the IRM (beta 0.5)                              |
| iam    | iam_max * sigmoid    | itself                        | MSE to the IAM clipped to [0, iam_max]                 |
| psm    | sigmoid              | itself                        | truncated phase-sensitive approximation (Erdogan 2015): |
|        |                      |                               | mean (m|Y| - clip(|S|cos(dtheta), 0, |Y|))^2           |
| cirm   | linear, 2 channels   | decompress (K=10, C=0.1)      | MSE to the compressed cIRM, both parts (Williamson 2016)|
| orm    | linear               | decompress (K=10, C=0.1)      | MSE to the compressed ORM (it is unbounded and signed) |

Beside the masks, one **mapping** variant, ``map`` (Xu et al. 2014's spectral mapping, with a gain
so that bins that need no change pass through): two output channels, a gain ``g = iam_max *
sigmoid`` on the input and a non-negative term ``a = softplus`` added to it, both in the compressed
domain: |S|^c ~ g |Y|^c + a; the noisy phase is kept and the loss is the authors' magnitude loss,
MSE of compressed magnitudes. A mask cannot put energy where the input has none; the added term
can, which is what bandwidth extension needs (the band above the cut-off is empty in the input).

For **phase retrieval**, ``phase``: two output channels read as an unnormalised (cos, sin) pair,
whose angle is the output phase; the input magnitude passes through unchanged. It has no mask loss:
it trains on the phase-retrieval recipe (the weighted omnidirectional phase loss). A conv + GRU
network sees far more audio per CPU hour than the GRE network, which is what learning an absolute
phase from a magnitude needs.

The network follows gre's common interface: forward(mag_c, phase) -> (mag_c_hat, phase_hat).
Real non-negative masks keep the noisy phase; a signed ORM flips it by pi where negative; the cIRM
adds its own angle. ``forward(..., return_estimate=True)`` also returns the raw estimate, which
``mask_loss(estimate, noisy_spec, clean_spec)`` compares with the ideal mask of the batch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models.config import STFTConfig

MASK_TARGETS = ("ibm", "irm", "iam", "psm", "cirm", "orm")
#: Every target a MaskNet can learn: the masks, the gain-plus-added-magnitude mapping, and a phase
#: (phase retrieval: the magnitude passes through, the network gives the phase).
TARGETS = MASK_TARGETS + ("map", "phase")


@dataclass(frozen=True)
class MaskNetConfig:
    """``target`` selects the mask and loss; ``conv_channels`` C, ``hidden`` H (GRU units per direction)."""

    target: str = "irm"
    conv_channels: int = 16
    hidden: int = 128
    gru_layers: int = 1
    iam_max: float = 2.0
    refine_channels: int = 0  # R; 0 = no refinement stage (the original MaskNet)
    refine_layers: int = 4
    refine_time_dilation: bool = False  # dilate the residual convs in time too (1, 2, 4, ... frames)
    # A second, long-context stage after the first (the ``<target>_refine*_long`` configs): its
    # residual convs are dilated 4, 8, 16, ... frames in time only; 0 channels = no such stage.
    refine2_channels: int = 0
    refine2_layers: int = 4
    # phase target only: the (cos, sin) pair is the phase STEP from bin f-1 to bin f (bin 0: the
    # phase itself), and the phase is their cumulative sum along frequency (see estimated_phase).
    phase_steps: bool = False
    stft: STFTConfig = field(default_factory=STFTConfig)

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"unknown mask target {self.target!r}; known: {', '.join(TARGETS)}")
        if min(self.refine_channels, self.refine_layers, self.refine2_channels, self.refine2_layers) < 0:
            raise ValueError("refine_channels, refine_layers, refine2_channels and refine2_layers must be >= 0")
        if self.phase_steps and self.target != "phase":
            raise ValueError("phase_steps is an option of the phase target only")

    def check_task(self, task: str) -> None:
        """Refuse a task this target cannot serve (``gre train`` asks before it scans the corpus):
        phase retrieval needs the phase target (a mask keeps the zero input phase), and the phase
        target does nothing for any other task."""
        if task == "phase" and self.target != "phase":
            raise ValueError(f"--task phase needs a network that outputs a phase: --arch masknet --config phase "
                             f"(or phase_refine_tf, phase_steps_refine_tf), not the {self.target!r} target")
        if task != "phase" and self.target == "phase":
            raise ValueError(f"the masknet phase target is for --task phase only (got --task {task})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MaskNetConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("stft"), dict):
            values["stft"] = STFTConfig(**values["stft"])
        return cls(**values)


#: Named configs: one per target (``--arch masknet --config psm``), ``standard`` (= irm), and
#: ``tiny`` / ``tiny_<target>`` for tests.
MASKNET_CONFIGS: dict[str, MaskNetConfig] = {
    **{t: MaskNetConfig(target=t) for t in TARGETS},
    "standard": MaskNetConfig(),  # the IRM; the default name of `gre train --config`
    # A deeper variant for shipped models: two bi-GRU layers of 192 units (about 1.5 M parameters).
    **{f"{t}_large": MaskNetConfig(target=t, hidden=192, gru_layers=2) for t in TARGETS},
    # The shipped shape plus the full-resolution refinement stage (about 7 k more parameters, but
    # each runs at every T-F bin: a training step takes about 2-3x the plain MaskNet's on a CPU).
    **{f"{t}_refine": MaskNetConfig(target=t, refine_channels=16, refine_layers=3) for t in TARGETS},
    # The same with a fourth layer and time dilation: +/- 16 frames (100 ms) of per-bin context.
    **{f"{t}_refine_tf": MaskNetConfig(target=t, refine_channels=16, refine_layers=4, refine_time_dilation=True)
       for t in TARGETS},
    # The deeper variant with that stage: grown from a trained ``<target>_large`` by --init-weights.
    **{f"{t}_large_refine_tf": MaskNetConfig(target=t, hidden=192, gru_layers=2, refine_channels=16, refine_layers=4,
                                             refine_time_dilation=True) for t in TARGETS},
    # Either of those plus the long-context second stage (four layers dilated 4-32 frames: +/- 60
    # frames, 0.375 s, of per-bin context), grown from a trained refined network by --init-weights.
    **{f"{t}_refine_long": MaskNetConfig(target=t, refine_channels=16, refine_layers=3, refine2_channels=16)
       for t in TARGETS},
    **{f"{t}_refine_tf_long": MaskNetConfig(target=t, refine_channels=16, refine_layers=4, refine_time_dilation=True,
                                            refine2_channels=16) for t in TARGETS},
    "tiny": MaskNetConfig(conv_channels=2, hidden=8),
    # Phase retrieval by phase steps along frequency (MaskNetConfig.phase_steps).
    "phase_steps_refine_tf": MaskNetConfig(target="phase", refine_channels=16, refine_layers=4,
                                           refine_time_dilation=True, phase_steps=True),
    **{f"tiny_{t}": MaskNetConfig(target=t, conv_channels=2, hidden=8) for t in TARGETS},
    **{f"tiny_{t}_refine": MaskNetConfig(target=t, conv_channels=2, hidden=8, refine_channels=3, refine_layers=2)
       for t in TARGETS},
    **{f"tiny_{t}_refine_tf": MaskNetConfig(target=t, conv_channels=2, hidden=8, refine_channels=3, refine_layers=2,
                                            refine_time_dilation=True) for t in TARGETS},
    **{f"tiny_{t}_refine_long": MaskNetConfig(target=t, conv_channels=2, hidden=8, refine_channels=3, refine_layers=2,
                                              refine2_channels=3, refine2_layers=2) for t in TARGETS},
    "tiny_phase_steps_refine": MaskNetConfig(target="phase", conv_channels=2, hidden=8, refine_channels=3,
                                             refine_layers=2, phase_steps=True),
}


def _masks():
    # models.masks holds the mask definitions (one copy for metrics, tests and training).
    from models import masks

    return masks


class MaskNet(nn.Module):
    """forward(mag_c [B, F, T], phase [B, F, T], return_estimate=False) -> (mag_c_hat, phase_hat[, estimate])."""

    arch = "masknet"
    #: Config fields `gre train --init-weights` may change: the same layers learn another target
    #: (e.g. PSM weights start an IAM run); targets with two output channels differ in shape.
    warm_start_free_fields = ("target", "iam_max")
    #: Stages a run may ADD to a checkpoint that lacks them (parameter-name prefix -> the config
    #: fields that shape the stage): each starts as the identity, so the new layers keep their init.
    warm_start_stages = {"refine.": ("refine_channels", "refine_layers", "refine_time_dilation"),
                         "refine2.": ("refine2_channels", "refine2_layers")}

    def __init__(self, cfg: MaskNetConfig | None = None):
        super().__init__()
        self.cfg = cfg or MaskNetConfig()
        c, h, nf = self.cfg.conv_channels, self.cfg.hidden, self.cfg.stft.n_freqs
        self.conv_in = nn.Conv2d(1, c, (3, 3), padding=(1, 1))
        self.conv_down = nn.Conv2d(c, c, (3, 3), stride=(1, 2), padding=(1, 1))
        self.frame_proj = nn.Linear(c * ((nf + 2 - 3) // 2 + 1), h)
        self.gru = nn.GRU(h, h, num_layers=self.cfg.gru_layers, batch_first=True, bidirectional=True)
        self.out_channels = 2 if self.cfg.target in ("cirm", "map", "phase") else 1
        self.head = nn.Linear(2 * h, self.out_channels * nf)
        self.refine = _Refinement(self.out_channels, self.cfg.refine_channels,
                                  refine_dilations(self.cfg.refine_layers, self.cfg.refine_time_dilation)) \
            if self.cfg.refine_channels > 0 else None
        self.refine2 = _Refinement(self.out_channels, self.cfg.refine2_channels,
                                   refine2_dilations(self.cfg.refine2_layers)) \
            if self.cfg.refine2_channels > 0 else None

    @property
    def mask_target(self) -> str:
        return self.cfg.target

    def estimate(self, mag: torch.Tensor) -> torch.Tensor:
        """Raw estimate from the compressed magnitude [B, F, T] -> [B, k, F, T] (k = 2 for cirm, map, phase)."""
        b, nf, t = mag.shape
        x = F.elu(self.conv_in(mag.transpose(1, 2).unsqueeze(1)))  # [B, C, T, F]
        x = F.elu(self.conv_down(x))  # [B, C, T, F/2]
        x = self.frame_proj(x.permute(0, 2, 1, 3).reshape(b, t, -1))  # [B, T, H]
        x, _ = self.gru(x)
        x = self.head(x).view(b, t, self.out_channels, nf).transpose(1, 2)  # [B, k, T, F]
        mag_tf = mag.transpose(1, 2).unsqueeze(1)  # [B, 1, T, F], what each refinement stage sees beside x
        for stage in (self.refine, self.refine2):
            if stage is not None:
                x = stage(x, mag_tf)
        x = x.transpose(2, 3)  # [B, k, F, T]
        target = self.cfg.target
        if target in ("irm", "psm"):
            return torch.sigmoid(x)
        if target == "iam":
            return self.cfg.iam_max * torch.sigmoid(x)
        if target == "map":  # (gain, added compressed magnitude)
            return torch.stack((self.cfg.iam_max * torch.sigmoid(x[:, 0]), F.softplus(x[:, 1])), dim=1)
        return x  # ibm logits; cirm / orm compressed values; phase: an unnormalised (cos, sin) pair

    def mask(self, estimate: torch.Tensor) -> torch.Tensor:
        """Estimate [B, k, F, T] -> mask [B, F, T] (complex for cirm) that multiplies the noisy STFT."""
        target = self.cfg.target
        if target in ("map", "phase"):
            raise ValueError(f"the {target} target is not a mask: use forward()")
        if target == "ibm":
            return torch.sigmoid(estimate[:, 0])
        if target == "cirm":
            return _masks().decompress_cirm(torch.complex(estimate[:, 0].float(), estimate[:, 1].float()))
        if target == "orm":
            return _masks().decompress_cirm(estimate[:, 0])
        return estimate[:, 0]

    def apply(self, m: torch.Tensor, mag: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask [B, F, T] (real or complex) on the noisy (compressed magnitude, phase) -> (mag_c_hat, phase_hat)."""
        # |M Y|^c = |M|^c |Y|^c in the compressed domain; the mask's angle adds to the noisy phase.
        mag_hat = m.abs().clamp_min(1e-8).pow(self.cfg.stft.compress_factor) * mag
        if m.is_complex() or self.cfg.target == "orm":
            return mag_hat, wrap_phase(phase + torch.angle(m))
        return mag_hat, phase

    def forward(self, mag: torch.Tensor, phase: torch.Tensor, return_estimate: bool = False):
        estimate = self.estimate(mag)
        if self.cfg.target == "map":
            mag_hat, phase_hat = mapped_magnitude(estimate, mag), phase
        elif self.cfg.target == "phase":
            mag_hat, phase_hat = mag, estimated_phase(estimate, steps=self.cfg.phase_steps)
        else:
            mag_hat, phase_hat = self.apply(self.mask(estimate), mag, phase)
        if return_estimate:
            return mag_hat, phase_hat, estimate
        return mag_hat, phase_hat

    def mask_loss(self, estimate: torch.Tensor, noisy_spec: torch.Tensor, clean_spec: torch.Tensor) -> torch.Tensor:
        """The target's training loss (scalar) for an estimate [B, k, F, T] of the batch whose noisy and
        clean STFTs (complex [B, F, T], same loudness scaling) are given; noise = noisy - clean."""
        return mask_loss(self.cfg, estimate, noisy_spec, clean_spec)


def refine_dilations(layers: int, time_dilation: bool) -> list[tuple[int, int]]:
    """(time, frequency) dilations of the first stage: layer i dilates 2**i in frequency, and in
    time too with ``time_dilation``."""
    return [(2 ** i if time_dilation else 1, 2 ** i) for i in range(layers)]


def refine2_dilations(layers: int) -> list[tuple[int, int]]:
    """(time, frequency) dilations of the long-context second stage: 4, 8, 16, ... frames in time only."""
    return [(4 * 2 ** i, 1) for i in range(layers)]


class _Refinement(nn.Module):
    """Full-resolution correction of the head output: (head [B, k, T, F], mag_c [B, 1, T, F]) -> [B, k, T, F].

    See the module docstring. The last 1x1 conv starts at zero, so at initialisation the output is
    the head output unchanged (the warm start from an unrefined MaskNet relies on it).
    """

    def __init__(self, k: int, channels: int, dilations: list[tuple[int, int]]):
        super().__init__()
        self.conv_in = nn.Conv2d(k + 1, channels, (3, 3), padding=(1, 1))
        # One residual layer per (time, frequency) dilation, 'same' padding.
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, (3, 3), padding=d, dilation=d) for d in dilations)
        self.conv_out = nn.Conv2d(channels, k, (1, 1))
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, head: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
        # channels-last: oneDNN's 3x3 convolutions at 8-24 channels run 2-2.5x faster in it on a CPU.
        x = torch.cat((head, mag.to(head.dtype)), dim=1).contiguous(memory_format=torch.channels_last)
        y = F.elu(self.conv_in(x))
        for conv in self.convs:
            y = y + F.elu(conv(y))
        return head + self.conv_out(y).contiguous()


def mapped_magnitude(estimate: torch.Tensor, mag: torch.Tensor) -> torch.Tensor:
    """The map target's output: gain * input + added term, compressed magnitudes [B, F, T]."""
    return estimate[:, 0] * mag + estimate[:, 1]


def estimated_phase(estimate: torch.Tensor, steps: bool = False) -> torch.Tensor:
    """The phase target's output: the angle of the (cos, sin) pair [B, 2, F, T] -> radians [B, F, T].

    The pair is not normalised: only its direction matters, so the network need not learn a unit
    length. (0, 0) gives angle 0, and atan2's gradient there is 0, not NaN.

    ``steps``: the angles are the phase steps along frequency (bin 0: the phase of bin 0), and the
    phase is their cumulative sum, wrapped to (-pi, pi]. Why: a glottal pulse tau samples from the
    frame centre turns the phase by -2 pi f tau / n_fft, a ramp that wraps every few bins. As
    (cos, sin) of the phase itself that ramp is a fast oscillation across frequency that a
    per-frame linear head must synthesise for every tau; as a step it is one constant per frame,
    which the magnitude's rise or fall across frames tells (as in phase-gradient heap integration).
    """
    est = estimate.float()
    angle = torch.atan2(est[:, 1], est[:, 0])
    if not steps:
        return angle
    return wrap_phase(torch.cumsum(angle, dim=1))


def wrap_phase(angle: torch.Tensor) -> torch.Tensor:
    """Angles (radians) wrapped to (-pi, pi], differentiably."""
    return torch.atan2(torch.sin(angle), torch.cos(angle))


def mask_loss(cfg: MaskNetConfig, estimate: torch.Tensor, noisy_spec: torch.Tensor,
              clean_spec: torch.Tensor) -> torch.Tensor:
    """See :meth:`MaskNet.mask_loss`; the table in the module docstring gives each target's loss."""
    masks = _masks()
    target = cfg.target
    if target == "phase":
        raise ValueError("the phase target has no mask loss: train it on phase losses (gre train --task phase "
                         "uses the weighted omnidirectional phase loss)")
    estimate = estimate.float()
    noisy_spec, clean_spec = noisy_spec.to(torch.complex64), clean_spec.to(torch.complex64)
    noise_spec = noisy_spec - clean_spec
    if target == "map":
        # The authors' magnitude loss on what the network outputs (compressed magnitudes).
        from models.stft import mag_phase

        mag_in, mag_clean = mag_phase(noisy_spec, cfg.stft)[0], mag_phase(clean_spec, cfg.stft)[0]
        return F.mse_loss(mapped_magnitude(estimate, mag_in), mag_clean)
    ideal = masks.ideal_mask(target, clean_spec, noise_spec)
    if target == "ibm":
        return F.binary_cross_entropy_with_logits(estimate[:, 0], ideal)
    if target == "irm":
        return F.mse_loss(estimate[:, 0], ideal)
    if target == "iam":
        return F.mse_loss(estimate[:, 0], ideal.clamp(0.0, cfg.iam_max))
    if target == "psm":
        noisy_mag = noisy_spec.abs()
        # ideal_mask("psm") is already truncated to [0, 1], so PSM * |Y| = clip(|S| cos, 0, |Y|).
        return F.mse_loss(estimate[:, 0] * noisy_mag, ideal * noisy_mag)
    if target == "cirm":
        compressed = masks.compress_cirm(ideal)
        return F.mse_loss(estimate[:, 0], compressed.real) + F.mse_loss(estimate[:, 1], compressed.imag)
    return F.mse_loss(estimate[:, 0], masks.compress_cirm(ideal))  # orm


def _register() -> None:
    from models.architectures import Architecture, register_architecture

    register_architecture(Architecture(
        "masknet", MaskNet, MaskNetConfig.from_dict, MASKNET_CONFIGS,
        "mask estimation (conv + bi-GRU) with a selectable target: ibm, irm, iam, psm, cirm, orm, map "
        "(gain + added magnitude, for bandwidth extension), or phase (a phase for phase retrieval) (baseline)",
    ))


_register()
