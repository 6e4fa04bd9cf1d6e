"""`gre train`: train a network on clean speech degraded on the fly."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

import typer

from models.data.degrade import TASKS


def train_command(
    task: str = typer.Option(..., "--task", help=f"What to learn: {', '.join(TASKS)}."),
    clean: List[Path] = typer.Option(..., "--clean", help="Folder of clean 16 kHz speech (repeatable)."),
    run_dir: Path = typer.Option(..., "--run-dir", help="Where config, checkpoints, logs and exported weights go."),
    noise: List[Path] = typer.Option([], "--noise", help="Folder of noise recordings (denoise, universal)."),
    rir: List[Path] = typer.Option([], "--rir", help="Folder of room impulse responses (dereverb, universal); "
                                   "without it rooms are simulated with pyroomacoustics."),
    val_clean: List[Path] = typer.Option([], "--val-clean", help="Held-out clean speech for validation."),
    val_noise: List[Path] = typer.Option([], "--val-noise", help="Held-out noise for validation (default: --noise)."),
    val_rir: List[Path] = typer.Option([], "--val-rir", help="Held-out RIRs for validation (default: --rir)."),
    arch: str = typer.Option("gre", "--arch", help="Network architecture."),
    config: str = typer.Option("standard", "--config", help="Named network config (standard, small, tiny, ...)."),
    steps: int = typer.Option(100_000, "--steps", help="Train until this many optimisation steps in total."),
    batch_size: int = typer.Option(4, "--batch-size", help="Global batch (split over DDP processes)."),
    segment_seconds: float = typer.Option(2.0, "--segment-seconds", help="Length of the training crops."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --run-dir from last.pt."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 (CPU/GPU autocast) or fp16 (CUDA)."),
    workers: int = typer.Option(1, "--workers", help="Data loader processes (0: load in the training process)."),
    threads: int = typer.Option(0, "--threads", help="torch CPU threads (0: torch's default)."),
    val_every: int = typer.Option(1000, "--val-every", help="Validate every N steps."),
    ckpt_every: int = typer.Option(500, "--ckpt-every", help="Write last.pt and model.safetensors every N steps."),
    log_every: int = typer.Option(10, "--log-every", help="Log training losses every N steps."),
    lr: float = typer.Option(5e-4, "--lr", help="AdamW learning rate."),
    lr_decay: float = typer.Option(0.99, "--lr-decay", help="Learning-rate factor applied every --lr-decay-every steps."),
    lr_decay_every: int = typer.Option(2500, "--lr-decay-every", help="Steps between learning-rate decays."),
    grad_clip: float = typer.Option(-1.0, "--grad-clip", help="Clip the generator's gradient norm (0 off; "
                                    "default: 5 for phase, off otherwise, as the authors)."),
    seed: int = typer.Option(1234, "--seed", help="Seed of the data and the initial weights."),
    snr_range: Tuple[float, float] = typer.Option((-5.0, 15.0), "--snr-range", help="SNR range in dB (LO HI)."),
    metric_disc: Optional[bool] = typer.Option(None, "--metric-disc/--no-metric-disc",
                                               help="MetricGAN+ PESQ discriminator (default: the task's recipe)."),
    metric_disc_degraded: bool = typer.Option(False, "--metric-disc-degraded/--no-metric-disc-degraded",
                                              help="Also train the PESQ discriminator on the degraded input's PESQ, "
                                              "as MetricGAN+ does (needs --metric-disc or --loss metric=W)."),
    pesq_workers: int = typer.Option(0, "--pesq-workers", metavar="N",
                                     help="Processes that score the PESQ discriminator's targets (0: the training "
                                     "process; on a GPU machine give it spare cores: same results, faster steps; per process under torchrun)."),
    mpd: Optional[bool] = typer.Option(None, "--mpd/--no-mpd",
                                       help="HiFi-GAN multi-period discriminator (default: the task's recipe)."),
    mpd_crop_seconds: float = typer.Option(0.0, "--mpd-crop-seconds", metavar="S",
                                           help="Let the multi-period discriminator judge one random S-second window "
                                           "of each waveform (0: the whole segment, the authors'); on a CPU 0.5 makes "
                                           "its share of a step about 4x cheaper (HiFi-GAN uses 0.37 s windows)."),
    noise_augment: bool = typer.Option(False, "--noise-augment/--no-noise-augment",
                                       help="Vary the noise beyond the noise folder: babble from other training "
                                       "speech, coloured Gaussian noise, two recordings mixed (off: the authors' recipe)."),
    hum_noise: float = typer.Option(0.0, "--hum-noise", metavar="P",
                                    help="Share of noisy samples whose noise is mains hum (50/60 Hz and harmonics, "
                                    "soft hum to harsh buzz, over a faint hiss) instead of a noise file, e.g. 0.05 "
                                    "beside --noise-augment (default 0)."),
    band_limit_augment: bool = typer.Option(False, "--band-limit-augment/--no-band-limit-augment",
                                            help="bwe: like real narrowband files, most inputs also get a low-pass "
                                            "of random steepness at 0.75-1 x the cut-off and are rounded to 16-bit "
                                            "PCM (off: the authors' brick-wall resampling of float audio only)."),
    bwe_cutoff: List[float] = typer.Option([], "--bwe-cutoff", metavar="HZ",
                                           help="bwe: band-limit cut-off in Hz, drawn uniformly (repeatable; "
                                           "default 2000 and 4000, the authors'). 8000 leaves some inputs "
                                           "wideband, so the model learns to leave wideband input alone."),
    clean_fraction: float = typer.Option(0.0, "--clean-fraction", metavar="P",
                                         help="Share of training samples left undegraded (input = target), so "
                                         "the model learns to leave clean speech alone; 0 <= P < 1 (default 0, "
                                         "the authors' recipe). Validation is always degraded."),
    reverb_noise: float = typer.Option(0.0, "--reverb-noise", metavar="P",
                                       help="dereverb: share of samples that also get background noise from --noise "
                                       "(added after the room, SNR from --reverb-noise-snr), removed in the target "
                                       "as well: real rooms have a noise floor (default 0: reverberation only)."),
    reverb_noise_snr: Tuple[float, float] = typer.Option((10.0, 30.0), "--reverb-noise-snr",
                                                         help="dereverb: SNR range in dB of --reverb-noise (LO HI)."),
    speed_perturb: float = typer.Option(0.0, "--speed-perturb", metavar="P",
                                        help="Share of samples whose clean speech is played faster or slower by a "
                                        "factor from --speed-range (pitch and formants move with it: more voices "
                                        "from few talkers), e.g. 0.5 (default 0, the authors' recipe)."),
    speed_range: Tuple[float, float] = typer.Option((0.85, 1.15), "--speed-range",
                                                    help="Speed factors of --speed-perturb (LO HI, 0.5-2)."),
    loss_recipe: str = typer.Option("auto", "--loss-recipe",
                                    help="auto: the architecture's own (mask target loss for masknet, the authors' "
                                    "spectral recipe otherwise); target: the mask target's loss; spectral: the "
                                    "authors' magnitude/phase/complex/consistency/time losses."),
    loss: List[str] = typer.Option([], "--loss", metavar="NAME=WEIGHT",
                                   help="Set one loss weight on top of the recipe (repeatable), e.g. "
                                   "--loss log_magnitude=1 or --loss time=0; names: magnitude, phase, complex, "
                                   "consistency, time, wop, metric, mpd, mask, log_magnitude, over_magnitude."),
    grad_checkpoint: bool = typer.Option(False, "--grad-checkpoint/--no-grad-checkpoint",
                                         help="Recompute bottleneck blocks in backward (less memory, more time)."),
    low_memory: bool = typer.Option(False, "--low-memory/--no-low-memory",
                                    help="Return freed tensors to the OS at once (lower peak, ~+50% CPU time)."),
    val_files: int = typer.Option(24, "--val-files", help="Number of held-out files per validation."),
    init_weights: str = typer.Option("", "--init-weights", help="Fine-tune: start from this gre checkpoint or "
                                     "registered model (same --arch and --config) instead of random weights."),
    init_critic: str = typer.Option("", "--init-critic", metavar="LAST_PT",
                                    help="With --loss metric=W: start the metric critic from the one in this run "
                                    "checkpoint (a run's last.pt) instead of from scratch."),
    keep_weights: bool = typer.Option(False, "--keep-weights/--no-keep-weights",
                                      help="Also keep each checkpoint's weights as weights/step-N.safetensors in the "
                                      "run dir, for `gre average-weights`."),
    canonical_polarity: Optional[bool] = typer.Option(
        None, "--canonical-polarity/--keep-polarity",
        help="Read every clean file the same way up: files whose LPC residual is positively skewed are sign-flipped "
        "(a magnitude cannot tell x from -x, so mixed polarity teaches phase retrieval two answers). Default: on for "
        "--task phase only."),
) -> None:
    """Train on clean speech degraded on the fly; resumable, validated, logged to the run dir."""
    from dataclasses import replace

    from models.data.degrade import BAND_LIMIT_AUGMENT, NOISE_AUGMENT, DegradeConfig
    from models.data.files import CorpusError
    from models.losses import parse_loss_overrides
    from models.train import TrainConfig, train
    from models.train.config import default_losses
    from models.train.loop import RunDirError

    try:
        cfg = TrainConfig(
            task=task, clean_dirs=tuple(map(str, clean)), noise_dirs=tuple(map(str, noise)),
            rir_dirs=tuple(map(str, rir)), val_clean_dirs=tuple(map(str, val_clean)),
            val_noise_dirs=tuple(map(str, val_noise)), val_rir_dirs=tuple(map(str, val_rir)),
            arch=arch, config_name=config, steps=steps, batch_size=batch_size, segment_seconds=segment_seconds,
            lr=lr, lr_decay=lr_decay, lr_decay_every_steps=lr_decay_every,
            grad_clip=(5.0 if task == "phase" else 0.0) if grad_clip < 0 else grad_clip, seed=seed,
            precision=precision, device=device, workers=workers, threads=threads, val_every=val_every,
            ckpt_every=ckpt_every, log_every=log_every, val_files=val_files, grad_checkpoint=grad_checkpoint,
            low_memory=low_memory, init_weights=init_weights, init_critic=init_critic, keep_weights=keep_weights,
            canonical_polarity=canonical_polarity, metric_disc_degraded=metric_disc_degraded, pesq_workers=pesq_workers,
            mpd_crop_seconds=mpd_crop_seconds,
            losses=parse_loss_overrides(default_losses(task if task in TASKS else "denoise", metric_disc, mpd, arch=arch,
                                                       recipe_name=loss_recipe), loss),
            degrade=replace(DegradeConfig(), snr_range_db=tuple(snr_range), **(NOISE_AUGMENT if noise_augment else {}),
                            **(BAND_LIMIT_AUGMENT if band_limit_augment else {}),
                            **({"bwe_cutoffs_hz": tuple(bwe_cutoff)} if bwe_cutoff else {}),
                            clean_prob=clean_fraction, hum_prob=hum_noise, reverb_noise_prob=reverb_noise,
                            reverb_noise_snr_range_db=tuple(reverb_noise_snr), speed_perturb_prob=speed_perturb,
                            speed_range=tuple(speed_range)),
        )
        from models.architectures import named_config

        named_config(arch, config)
        result = train(cfg, run_dir, resume=resume)
    except (CorpusError, RunDirError, ValueError, RuntimeError) as err:
        typer.echo(f"gre train: {err}", err=True)
        # Corpus or runtime failures: 1; wrong options or a mismatched run dir: 2.
        usage = isinstance(err, ValueError) and not isinstance(err, CorpusError)
        raise typer.Exit(2 if usage else 1) from None
    best = "" if result.best is None else f" best {result.best:.3f}"
    typer.echo(f"{result.run_dir}: step {result.step}{best}{' (stopped, resume with --resume)' if result.stopped_early else ''}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
