"""The typed training configuration, saved as ``run-dir/config.json``."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from models.data.degrade import TASKS, DegradeConfig
from models.losses import LossWeights, mask_recipe, recipe


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on. Units in the names; defaults are the authors' recipe."""

    task: str
    clean_dirs: tuple[str, ...]
    noise_dirs: tuple[str, ...] = ()
    rir_dirs: tuple[str, ...] = ()
    val_clean_dirs: tuple[str, ...] = ()
    #: Held-out noise / RIR folders for validation (default: the training ones).
    val_noise_dirs: tuple[str, ...] = ()
    val_rir_dirs: tuple[str, ...] = ()
    arch: str = "gre"
    config_name: str = "standard"
    steps: int = 100_000
    batch_size: int = 4  # global, split over DDP processes
    segment_seconds: float = 2.0
    lr: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01  # torch's AdamW default, as the authors
    #: ExponentialLR: the learning rate is multiplied by ``lr_decay`` every ``lr_decay_every_steps``
    #: (the authors: 0.99 per epoch of ~2,900 steps on VoiceBank).
    lr_decay: float = 0.99
    lr_decay_every_steps: int = 2_500
    grad_clip: float = 0.0  # 0 = off (the authors clip only for phase retrieval, at 5)
    disc_grad_clip: float = 10.0
    seed: int = 1234
    precision: str = "fp32"
    device: str = "auto"
    workers: int = 1
    threads: int = 0  # 0 = torch's default
    val_every: int = 1_000
    ckpt_every: int = 500
    log_every: int = 10
    val_files: int = 24
    val_max_seconds: float = 4.0
    min_file_seconds: float = 0.25
    grad_checkpoint: bool = False
    #: Return freed large tensors to the OS at once (glibc mmap threshold): halves the peak
    #: memory with gradient checkpointing at about +50 % CPU time; see models.train.memory.
    low_memory: bool = False
    losses: LossWeights = field(default_factory=LossWeights)
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    #: Start from these weights instead of a random initialisation (fine-tuning): a gre
    #: safetensors checkpoint or a registered model name, of the same architecture and config.
    #: Used only when the run starts; a resumed run continues from its own last.pt.
    init_weights: str = ""
    #: Start the MetricGAN critic (``losses.metric`` > 0) from the critic of this run checkpoint (a
    #: ``last.pt`` of a run trained with the metric loss) instead of from scratch. A fine-tune from
    #: a critic-trained model otherwise pays for a fresh critic, whose first hundreds of steps push the
    #: generator the wrong way. Used only when the run starts, as ``init_weights``; the critic's
    #: optimizer starts afresh (the generator's does too).
    init_critic: str = ""
    #: Also keep the weights of every checkpoint as ``weights/step-NNNNNNN.safetensors``, for
    #: checkpoint averaging (`gre average-weights`); off by default to save disk.
    keep_weights: bool = False
    #: Read every clean file the same way up (sign-flip those whose LPC residual is positively
    #: skewed; models.data.polarity). A magnitude cannot tell x from -x, so a phase-retrieval
    #: corpus of mixed polarity teaches two answers for one input. None = on for the phase task
    #: only (the other tasks do not care and their scans stay as they were).
    canonical_polarity: bool | None = None
    #: Also teach the metric critic the PESQ of the degraded input, not only of the network's output
    #: (MetricGAN+): from the first step it then sees the whole range of qualities, where the
    #: outputs of one network span only a narrow one.
    metric_disc_degraded: bool = False
    #: Processes that score the metric critic's PESQ targets (0 = the training process, row by
    #: row). PESQ is single-threaded C code, ~26 ms per 2 s crop, so on a GPU it is most of a
    #: critic step; spare cores score a batch's rows in parallel, with identical results. Per
    #: training process: under torchrun each rank keeps a pool of its own.
    pesq_workers: int = 0
    #: Length in seconds of the random windows of each waveform that the multi-period discriminator
    #: judges (one window per batch row, the same span of target and output); 0 = the whole segment,
    #: as the authors. HiFi-GAN trains its MPD on 0.37 s windows. On a CPU the MPD's convolutions are
    #: most of a step: 29.1 CPU s at batch 4 x 2 s, 7.9 s with 0.5 s windows, 0.8 s without the MPD
    #: (bench/results/mpd_crop_speed.md).
    mpd_crop_seconds: float = 0.0

    #: Fields that may change when a run is resumed (they do not change what is learnt).
    #: ``precision`` too: weights and optimiser state are fp32 in every precision (autocast only
    #: changes how the network's arithmetic runs; leaving fp16 drops its loss scaler, entering it
    #: starts a new one), so a run started with bf16 on a CPU that has bf16 hardware can go on in
    #: fp32 on one that has not. The continuation is not bit-identical; the trainer says so.
    RESUMABLE = ("steps", "workers", "threads", "device", "precision", "val_every", "ckpt_every", "log_every",
                 "val_clean_dirs", "val_noise_dirs", "val_rir_dirs", "val_files", "val_max_seconds", "grad_checkpoint",
                 "low_memory", "keep_weights", "pesq_workers")

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        if not self.clean_dirs:
            raise ValueError("at least one --clean folder is needed")
        for name in ("steps", "batch_size", "ckpt_every", "val_every", "log_every", "lr_decay_every_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.segment_seconds <= 0.05:
            raise ValueError(f"segment_seconds must be above 0.05 s, got {self.segment_seconds}")
        if self.metric_disc_degraded and self.losses.metric <= 0:
            raise ValueError("--metric-disc-degraded trains the PESQ discriminator, which this recipe leaves out: "
                             "add --metric-disc or --loss metric=W")
        if self.pesq_workers < 0:
            raise ValueError(f"--pesq-workers must be 0 (score in the training process) or more, got {self.pesq_workers}")
        if self.pesq_workers > 0 and self.losses.metric <= 0:
            raise ValueError("--pesq-workers scores the PESQ discriminator's targets, which this recipe leaves out: "
                             "add --metric-disc or --loss metric=W")
        if self.mpd_crop_seconds != 0 and not 0.05 <= self.mpd_crop_seconds < self.segment_seconds:
            raise ValueError(f"--mpd-crop-seconds must be 0 (the whole segment) or from 0.05 s to below the segment "
                             f"({self.segment_seconds:g} s), got {self.mpd_crop_seconds:g}")
        if self.mpd_crop_seconds > 0 and self.losses.mpd <= 0:
            raise ValueError("--mpd-crop-seconds sets what the multi-period discriminator judges, which this recipe "
                             "leaves out: add --mpd or --loss mpd=W")
        if self.degrade.reverb_noise_prob > 0 and self.task != "dereverb":
            # Silently ignoring it would train another recipe than the one asked for.
            raise ValueError(f"--reverb-noise is for --task dereverb (got --task {self.task}; universal draws its "
                             "own noise + reverberation cases)")

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.degrade.sample_rate_hz))

    @property
    def mpd_crop_samples(self) -> int:
        """Samples per window the MPD judges; 0 = the whole segment."""
        return int(round(self.mpd_crop_seconds * self.degrade.sample_rate_hz))

    @property
    def reads_canonical_polarity(self) -> bool:
        return self.task == "phase" if self.canonical_polarity is None else self.canonical_polarity

    @property
    def mode(self) -> str:
        return "phase_retrieval" if self.task == "phase" else "enhance"

    def to_dict(self) -> dict:
        d = asdict(self)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for k in ("clean_dirs", "noise_dirs", "rir_dirs", "val_clean_dirs", "val_noise_dirs", "val_rir_dirs", "betas"):
            if k in values:
                values[k] = tuple(values[k])
        if isinstance(values.get("losses"), dict):
            values["losses"] = LossWeights.from_dict(values["losses"])
        if isinstance(values.get("degrade"), dict):
            d = dict(values["degrade"])
            for k in ("snr_range_db", "level_range_dbfs", "bwe_cutoffs_hz", "bwe_rolloff_fraction", "bwe_rolloff_orders",
                      "reverb_noise_snr_range_db", "speed_range"):
                if k in d:
                    d[k] = tuple(d[k])
            values["degrade"] = DegradeConfig(**d)
        return cls(**values)

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(path.read_text()))

    def differences(self, other: "TrainConfig") -> list[str]:
        """Fields that differ and may not change on resume, as 'name: old -> new'.

        A resume may leave out ``--init-weights`` and ``--init-critic``: the run continues from its own
        last.pt, and its saved config keeps naming the files it started from (so they need not exist any more).
        """
        a, b = self.to_dict(), other.to_dict()
        return [describe_change(k, a[k], b.get(k)) for k in a if k not in self.RESUMABLE and a[k] != b.get(k)
                and not (k in ("init_weights", "init_critic") and not b.get(k))]

    def with_resumable(self, other: "TrainConfig") -> "TrainConfig":
        """This config with the resumable fields taken from ``other``."""
        return replace(self, **{k: getattr(other, k) for k in self.RESUMABLE})

    def resumable_changes(self, other: "TrainConfig") -> dict[str, tuple[Any, Any]]:
        """Resumable fields that differ: {name: (old, new)} (what a resume changes)."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in self.RESUMABLE if a[k] != b[k]}


def describe_change(name: str, old: Any, new: Any) -> str:
    """'name: old -> new', as run-dir messages print a setting that differs."""
    return f"{name}: {old!r} -> {new!r}"


LOSS_RECIPES = ("auto", "target", "spectral")


def default_losses(task: str, metric_disc: bool | None = None, mpd: bool | None = None,
                   arch: str = "gre", recipe_name: str = "auto") -> LossWeights:
    """The task's recipe, with the discriminators switched on/off when asked (None: the recipe's choice).

    ``recipe_name``: ``auto`` picks the architecture's own loss: mask-estimation networks
    (``arch="masknet"``) train on their target's loss (``mask``) alone, plus a discriminator only
    when asked explicitly; every other network on the authors' spectral recipe. ``target`` forces
    the mask loss (masknet only); ``spectral`` forces the authors' recipe, for any network (a
    masknet then learns its mask through the compressed-magnitude, complex and time losses). Phase
    retrieval has no mask loss: every network, a MaskNet with the phase target too, trains on the
    authors' phase recipe."""
    if recipe_name not in LOSS_RECIPES:
        raise ValueError(f"unknown --loss-recipe {recipe_name!r}; known: {', '.join(LOSS_RECIPES)}")
    if recipe_name == "target" and arch != "masknet":
        raise ValueError("--loss-recipe target needs a mask-estimation network (--arch masknet)")
    if recipe_name == "target" and task == "phase":
        raise ValueError("--loss-recipe target: phase retrieval has no mask target; use auto or spectral")
    # Phase retrieval has one recipe for every network (a MaskNet then learns the phase target).
    if arch == "masknet" and recipe_name != "spectral" and task != "phase":
        w = mask_recipe()
        if metric_disc:
            w = replace(w, metric=0.05)
        if mpd:
            w = replace(w, mpd=0.05)
        return w
    w = recipe(task)
    if metric_disc is not None:
        w = replace(w, metric=(0.05 if metric_disc else 0.0))
    if mpd is not None:
        w = replace(w, mpd=((1.0 if task == "phase" else 0.05) if mpd else 0.0))
    return w
