"""The training loop of `gre train`: data, generator (+ optional critics), checkpoints, validation.

One step: a batch of degraded crops -> STFT -> network (under autocast) -> waveform; the
discriminators (if any) are updated first on the detached output, then the generator on the
weighted sum of its loss components. Everything a step depends on is in ``last.pt``, so a run
resumed from it continues exactly as if it had never stopped.

DDP: launch with ``torchrun --nproc-per-node N -m gre_cli.main train ...`` (gloo on CPU, nccl on
CUDA); the global batch is split over the processes; rank 0 writes the run directory.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from torch.utils.data import DataLoader

from models import losses as L
from models import stft as S
from models.architectures import build_network, named_config
from models.checkpoint import save_checkpoint
from models.data import degrade as D
from models.data.dataset import CropSpec, DegradedCrops, StepBatchSampler
from models.data.files import scan_cached
from models.data.rirs import RoomSimConfig, cached_simulated_rirs, load_rirs
from models.device import check_precision, precision_warning, resolve_device
from models.train.config import TrainConfig, describe_change
from models.train.logs import RunLog, plot_curves
from models.train.state import load_state, rng_state, save_state, set_rng_state


def _ignore_stop_signals(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's worker_init_fn signature
    """Loader workers ignore Ctrl-C and SIGTERM: the trainer stops them itself after saving.

    A terminal's Ctrl-C, ``timeout`` or a job scheduler signals the whole process group. A worker that
    died of the signal would make the trainer's next batch fail before it could save its checkpoint.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class RunDirError(ValueError):
    """A run directory that does not fit the requested run; the message says what to do."""


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best: float | None
    stopped_early: bool


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size())


def _barrier(d: _Dist) -> None:
    if d.world > 1:
        dist.barrier()


def _first_missing_folder(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet, or None if it exists."""
    path = path.absolute()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


class PeerSetUpError(RuntimeError):
    """On a DDP rank other than 0: rank 0 could not set up the run (its corpus scan failed)."""


def _share_scan_outcome(d: _Dist, error: BaseException | None = None) -> str | None:
    """Rank 0 tells every rank whether its corpus scan worked; returns rank 0's error message or None.

    A collective in place of a barrier (every rank calls it once). Rank 0 scans alone while the
    others wait: with a bare barrier, a failed scan left them with a torn connection and a gloo
    error instead of the reason; this way each rank stops with rank 0's one-line message."""
    if d.world <= 1:
        return None
    box = [None if error is None else str(error)]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _checkpointed(module: torch.nn.Module) -> None:
    forward = module.forward
    module.forward = lambda *args: checkpoint(forward, *args, use_reentrant=False)


#: Modules recomputed in backward by --grad-checkpoint: the GRE network's convolution modules
#: (each MPICM, at full time-frequency resolution) and sequence blocks (each time / frequency HADF).
CHECKPOINT_MODULES = ("MPICM", "HADF")


def enable_grad_checkpointing(network: torch.nn.Module) -> int:
    """Recompute the network's blocks in the backward pass instead of keeping their activations.

    Wrapped: every MPICM and HADF (for other networks: each block of ``network.bottleneck``).
    Only each block's input is kept, and one block's activations exist at a time during the
    backward pass, for the price of one more forward pass. Wrapping is per instance, so module
    names and state-dict keys do not change. Returns the number of wrapped blocks.
    """
    blocks = [m for m in network.modules() if type(m).__name__ in CHECKPOINT_MODULES]
    if not blocks:
        blocks = list(getattr(network, "bottleneck", []))
    for block in blocks:
        _checkpointed(block)
    return len(blocks)


def prepare_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool) -> tuple[TrainConfig, bool, dict]:
    """Check ``run_dir`` against ``cfg``. Returns (config to use, whether a checkpoint exists, the
    resumable settings this resume changes: {name: (old, new)})."""
    config_path, last = run_dir / "config.json", run_dir / "last.pt"
    has_ckpt = last.is_file()
    if has_ckpt and not resume:
        raise RunDirError(f"{run_dir}: already holds a training run (last.pt); pass --resume to continue it "
                          "or choose a new --run-dir")
    if has_ckpt and config_path.is_file():
        # Only a run with a checkpoint binds its config; a dir with a config but no checkpoint
        # (a run that failed before its first save) is simply reused.
        try:
            saved = TrainConfig.load(config_path)
        except (ValueError, TypeError, KeyError) as err:
            raise RunDirError(f"{config_path}: unreadable run config ({err}); use a new --run-dir") from None
        diff = saved.differences(cfg)
        if diff:
            raise RunDirError(f"{run_dir}: made by another config ({'; '.join(diff[:4])}); use the same options "
                              "to resume it, or a new --run-dir")
        changes = saved.resumable_changes(cfg)
        return saved.with_resumable(cfg), has_ckpt, changes
    return cfg, has_ckpt, {}


def initial_critic(source: str, metric_weight: float) -> dict[str, torch.Tensor]:
    """The metric critic's state dict that ``--init-critic SOURCE`` (a run's ``last.pt``) starts a run from.

    A RunDirError in one line when the run has no metric loss, the file is unreadable, holds no metric critic,
    or holds one of another shape than :class:`models.discriminators.MetricDiscriminator`.
    """
    from models import discriminators as DS

    if metric_weight <= 0:
        raise RunDirError(f"--init-critic {source}: this run has no metric critic; add --loss metric=W")
    path = Path(source)
    if not path.is_file():
        raise RunDirError(f"--init-critic {source}: file not found; give a run's last.pt")
    try:
        state = load_state(path)
    except RuntimeError as err:
        raise RunDirError(f"--init-critic {err}") from None
    critic = state.get("discriminators", {}).get("metric") if isinstance(state, dict) else None
    if not isinstance(critic, dict):
        raise RunDirError(f"--init-critic {source}: holds no metric critic; give the last.pt of a run trained "
                          "with --loss metric=W")
    expected = {k: v.shape for k, v in DS.MetricDiscriminator().state_dict().items()}
    if {k: getattr(v, "shape", None) for k, v in critic.items()} != expected:
        raise RunDirError(f"--init-critic {source}: its metric critic is not of this version's shape")
    return critic


def initial_weights(source: str, arch: str, net_cfg) -> dict[str, torch.Tensor]:
    """The state dict that ``--init-weights SOURCE`` starts a run from.

    ``source``: a gre checkpoint file or a registered model name. Its architecture must be the
    run's, and so must its network config, except for the fields the architecture lists in
    ``warm_start_free_fields`` (a MaskNet's mask target: a PSM network is a good start for an IAM one
    of the same shape) as long as every parameter keeps its name and shape, and for the fields in
    ``warm_start_stages`` (a MaskNet's refinement stages): then the run's network may have more
    parameters than the file, all in the stages whose fields changed, which keep their initialisation
    (the caller loads the returned state non-strictly). Otherwise a RunDirError names the file and what it holds.
    """
    from dataclasses import asdict

    from models.checkpoint import CheckpointError, load_checkpoint
    from models.registry import get_entry

    path = Path(source)
    if not path.is_file():
        try:
            entry = get_entry(source)
        except ValueError:
            raise RunDirError(f"--init-weights {source}: neither a checkpoint file nor a registered model "
                              "(gre models lists them)") from None
        if entry.stages:
            raise RunDirError(f"--init-weights {source} is a chain of models ({entry.config_name}); start from one "
                              "of them")
        if entry.weights_path is None or not entry.weights_path.is_file():
            raise RunDirError(f"--init-weights {source}: the registered model has no weights file here")
        path = entry.weights_path
    try:
        loaded = load_checkpoint(path)
    except CheckpointError as err:
        raise RunDirError(f"--init-weights: {err}") from None
    from models.architectures import config_from_stored

    def as_stored(config) -> dict:  # tuples become lists, as in a checkpoint's metadata
        return json.loads(json.dumps(asdict(config)))

    wanted = as_stored(net_cfg)
    mismatch = RunDirError(f"--init-weights {path}: holds a {loaded.arch} network (config {loaded.config_name!r}) "
                           f"that is not this run's --arch {arch} config; fine-tune with the same --arch and --config")
    if loaded.arch != arch:
        raise mismatch
    try:  # through the config class, so that fields added since the file was written take their defaults
        have = as_stored(config_from_stored(arch, loaded.config))
    except ValueError:
        raise mismatch from None
    if have == wanted:
        return loaded.state_dict
    net = build_network(arch, net_cfg)
    free = set(getattr(net, "warm_start_free_fields", ()))
    stages: dict[str, tuple[str, ...]] = getattr(net, "warm_start_stages", {})
    differ = {k for k in set(have) | set(wanted) if have.get(k) != wanted.get(k)}
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    loaded_shapes = {k: tuple(v.shape) for k, v in loaded.state_dict.items()}
    # Every tensor of the file must fit the run's network. A stage whose config fields changed may
    # only be added whole, starting as the identity: the file may hold none of it (adding a layer to
    # a trained stage, or dilating its trained kernels differently, would not keep what it learnt).
    grown = tuple(prefix for prefix, stage_fields in stages.items() if differ & set(stage_fields))
    stage_fields_all = {f for stage_fields in stages.values() for f in stage_fields}
    stage_in_file = any(k.startswith(grown) for k in loaded_shapes)  # False when nothing grows
    new_only_in_grown = all(k.startswith(grown) for k in set(shapes) - set(loaded_shapes))
    fits = all(shapes.get(k) == v for k, v in loaded_shapes.items()) and new_only_in_grown
    if not differ <= free | stage_fields_all or not fits or stage_in_file:
        raise mismatch
    return loaded.state_dict


class Trainer:
    """Holds the run's modules, optimisers and data; :meth:`run` trains to ``cfg.steps``."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool = False, quiet: bool = False):
        self.device = resolve_device(cfg.device)
        check_precision(cfg.precision, self.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.dist = _init_distributed(self.device)
        if self.dist.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        self.run_dir = Path(run_dir)
        # The folders made here (the run dir, and any parents it lacked) are removed again when the
        # set-up fails (a wrong corpus folder, a bad --init-weights): a failed start must not leave
        # a folder behind that looks like a run.
        made = _first_missing_folder(self.run_dir) if self.dist.main else None
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        _barrier(self.dist)
        try:
            self._set_up(cfg, resume, quiet)
        except BaseException:
            if getattr(self, "log", None) is not None:
                self.log.close()
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
            raise

    def _set_up(self, cfg: TrainConfig, resume: bool, quiet: bool) -> None:
        """Everything of :meth:`__init__` after the run dir exists: config check, data, network,
        optimisers, and the checkpoint or initial weights."""
        cfg, has_ckpt, changes = prepare_run_dir(cfg, self.run_dir, resume)
        self.cfg = cfg
        self.net_cfg = named_config(cfg.arch, cfg.config_name)
        # Checked before the corpus scan: a network that cannot serve the task, or a wrong
        # --init-weights, fails at once.
        check_task = getattr(self.net_cfg, "check_task", None)
        if check_task is not None:
            check_task(cfg.task)
        init_state = (initial_weights(cfg.init_weights, cfg.arch, self.net_cfg)
                      if cfg.init_weights and not has_ckpt else None)
        critic_state = initial_critic(cfg.init_critic, cfg.losses.metric) if cfg.init_critic and not has_ckpt else None
        self.log = RunLog(self.run_dir, cfg.steps, 0, enabled=self.dist.main and not quiet)
        if changes:
            self.log.message(f"resuming with {'; '.join(describe_change(k, *v) for k, v in changes.items())}"
                             + (" (not bit-identical to an uninterrupted run)" if "precision" in changes else ""))
        warning = precision_warning(cfg.precision, self.device)
        if warning:
            self.log.message(f"warning: {warning}")
        self.stft_cfg = self.net_cfg.stft
        self._build_data()
        if self.dist.main:
            cfg.save(self.run_dir / "config.json")
        torch.manual_seed(cfg.seed)
        self.net = build_network(cfg.arch, self.net_cfg).to(self.device)
        self.optim = torch.optim.AdamW(self.net.parameters(), cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.optim, gamma=cfg.lr_decay)
        self.discs: dict[str, torch.nn.Module] = {}
        self.disc_optims: dict[str, torch.optim.Optimizer] = {}
        self.disc_scheds: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        from models import discriminators as DS

        if cfg.losses.metric > 0:
            self.discs["metric"] = DS.MetricDiscriminator().to(self.device)
        if cfg.losses.mpd > 0:
            self.discs["mpd"] = DS.MultiPeriodDiscriminator().to(self.device)
        for name, disc in self.discs.items():
            self.disc_optims[name] = torch.optim.AdamW(disc.parameters(), cfg.lr, betas=cfg.betas,
                                                       weight_decay=cfg.weight_decay)
            self.disc_scheds[name] = torch.optim.lr_scheduler.ExponentialLR(self.disc_optims[name], gamma=cfg.lr_decay)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        self.step = 0
        self.best: float | None = None
        self.elapsed_s = 0.0
        if has_ckpt:
            self._load(self.run_dir / "last.pt")
        elif init_state is not None:
            # Not strict: a grown network (initial_weights checked it) keeps its new layers' init.
            _, unexpected = self.net.load_state_dict(init_state, strict=False)
            if unexpected:
                raise RunDirError(f"--init-weights {cfg.init_weights}: tensors this network lacks: {unexpected[:3]}")
        if critic_state is not None:
            self.discs["metric"].load_state_dict(critic_state)
            self.log.message(f"metric critic from {cfg.init_critic}")
        if not has_ckpt and resume and self.dist.main:
            self.log.message(f"{self.run_dir}: no checkpoint yet, starting from step 0")
        if cfg.grad_checkpoint:
            enable_grad_checkpointing(self.net)
        if cfg.low_memory:
            from models.train.memory import limit_heap_fragmentation

            limit_heap_fragmentation()
        self.model = self.net
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # Phase retrieval leaves the magnitude head out of the loss.
            self.model = DDP(self.net, device_ids=ids, find_unused_parameters=cfg.task == "phase")
            self.disc_models = {k: DDP(v, device_ids=ids) for k, v in self.discs.items()}
        else:
            self.disc_models = dict(self.discs)
        self._stop = False
        self._pesq = None

    # ------------------------------------------------------------------ data
    def _scan_corpus(self, scan: dict) -> tuple[dict, list[np.ndarray] | None]:
        """Scan the corpus folders (cached in the run dir) and load or simulate the rooms.

        Returns ({name: (files, report)}, room impulse responses or None)."""
        cfg, rate = self.cfg, self.cfg.degrade.sample_rate_hz
        polarity = dict(estimate_polarity=cfg.reads_canonical_polarity)
        lists = {"clean": scan_cached(list(cfg.clean_dirs), self.run_dir / "files_clean.json", what="clean", **scan,
                                      **polarity)}
        if D.needs_noise(cfg.task, cfg.degrade):
            if not cfg.noise_dirs:
                why = " (--reverb-noise)" if cfg.task == "dereverb" else ""
                raise ValueError(f"task {cfg.task} adds noise{why}: pass --noise DIR (a folder of noise recordings)")
            lists["noise"] = scan_cached(list(cfg.noise_dirs), self.run_dir / "files_noise.json", what="noise", **scan)
        if D.needs_rir(cfg.task) and cfg.rir_dirs:
            lists["rir"] = scan_cached(list(cfg.rir_dirs), self.run_dir / "files_rir.json", what="rir",
                                       sample_rate_hz=rate, min_seconds=0.0)
        if cfg.val_clean_dirs and self.dist.main:
            lists["val"] = scan_cached(list(cfg.val_clean_dirs), self.run_dir / "files_val.json", what="val-clean",
                                       **scan, **polarity)
        rirs = None
        if D.needs_rir(cfg.task):
            if "rir" in lists:
                rirs = load_rirs(lists["rir"][0], rate)
            else:
                self.log.message("no --rir folder: simulating rooms with pyroomacoustics")
                rirs = cached_simulated_rirs(self.run_dir / "rirs_simulated.npz",
                                             RoomSimConfig(), rate, cfg.seed)
        return lists, rirs

    def _build_data(self) -> None:
        cfg, rate = self.cfg, self.cfg.degrade.sample_rate_hz
        scan = dict(sample_rate_hz=rate, min_seconds=cfg.min_file_seconds)
        # Rank 0 scans and writes the caches in the run dir, and builds the validation set; the other
        # ranks wait for its outcome, then read the caches.
        if not self.dist.main:
            failed = _share_scan_outcome(self.dist)
            if failed is not None:
                raise PeerSetUpError(f"rank {self.dist.rank} stops: rank 0 could not set up the run: {failed}")
        try:
            lists, rirs = self._scan_corpus(scan)
            noise = lists.get("noise", (None,))[0]
            self.val_items = self._build_val_set(lists, noise, rirs, scan) if self.dist.main and "val" in lists else []
        except Exception as err:
            if self.dist.main:
                _share_scan_outcome(self.dist, err)
            raise
        if self.dist.main:
            _share_scan_outcome(self.dist)
        for name, (_, report) in lists.items():
            self.log.message(report.summary(name))
            self.log.record({"kind": "scan", "what": name, "kept": report.kept, "hours": report.seconds / 3600,
                             "skipped": report.skipped, "flipped": report.flipped})
        self.scan_reports = {k: v[1] for k, v in lists.items()}
        spec = CropSpec(cfg.task, cfg.segment_samples, cfg.seed, cfg.degrade)
        self.dataset = DegradedCrops(spec, lists["clean"][0], noise, rirs)

    def _build_val_set(self, lists: dict, noise, rirs, scan: dict) -> list:
        """Rank 0's validation items, from the scanned --val-clean files and their own noise and rooms (or
        the training ones)."""
        from models.train.validation import build_val_set

        cfg, rate = self.cfg, self.cfg.degrade.sample_rate_hz
        val_noise, val_rirs = noise, rirs
        if cfg.val_noise_dirs and D.needs_noise(cfg.task, cfg.degrade):
            val_noise = scan_cached(list(cfg.val_noise_dirs), self.run_dir / "files_val_noise.json",
                                    what="val-noise", **scan)[0]
        if cfg.val_rir_dirs and D.needs_rir(cfg.task):
            val_rirs = load_rirs(scan_cached(list(cfg.val_rir_dirs), self.run_dir / "files_val_rir.json",
                                             what="val-rir", sample_rate_hz=rate, min_seconds=0.0)[0], rate)
        return build_val_set(lists["val"][0], cfg.task, cfg.degrade, cfg.seed, cfg.val_files,
                             cfg.val_max_seconds, val_noise, val_rirs)

    def _loader(self) -> DataLoader:
        sampler = StepBatchSampler(self.step, self.cfg.steps, self.cfg.batch_size, self.dist.rank, self.dist.world)
        # Its own generator: creating the loader must not draw from the global torch RNG,
        # or a resumed run would see different dropout masks than an uninterrupted one.
        generator = torch.Generator().manual_seed(self.cfg.seed + self.step)
        return DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.cfg.workers, generator=generator,
                          pin_memory=self.device.type == "cuda", persistent_workers=False,
                          prefetch_factor=4 if self.cfg.workers > 0 else None,
                          worker_init_fn=_ignore_stop_signals if self.cfg.workers > 0 else None)

    # ------------------------------------------------------------------ state
    def _state(self) -> dict:
        rngs = rng_state()
        if self.dist.world > 1:
            gathered = [None] * self.dist.world
            dist.all_gather_object(gathered, rngs)
            rngs = {"per_rank": gathered}
        return {
            "format": "gre-train-1",
            "step": self.step,
            "model": self.net.state_dict(),
            "optimizer": self.optim.state_dict(),
            "scheduler": self.sched.state_dict(),
            "discriminators": {k: v.state_dict() for k, v in self.discs.items()},
            "disc_optimizers": {k: v.state_dict() for k, v in self.disc_optims.items()},
            "disc_schedulers": {k: v.state_dict() for k, v in self.disc_scheds.items()},
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "rng": rngs,
            "best": self.best if self.best is not None else float("nan"),
            "elapsed_s": self.elapsed_s,
            "config": self.cfg.to_dict(),
        }

    def _load(self, path: Path) -> None:
        state = load_state(path)
        self.net.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        for k, disc in self.discs.items():
            if k not in state["discriminators"]:
                raise RunDirError(f"{path}: has no {k} discriminator state; resume with the options it was made with")
            disc.load_state_dict(state["discriminators"][k])
            self.disc_optims[k].load_state_dict(state["disc_optimizers"][k])
            self.disc_scheds[k].load_state_dict(state["disc_schedulers"][k])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        rngs = state["rng"]
        if "per_rank" in rngs:
            rngs = rngs["per_rank"][min(self.dist.rank, len(rngs["per_rank"]) - 1)]
        set_rng_state(rngs)
        self.step = int(state["step"])
        best = float(state.get("best", float("nan")))
        self.best = None if math.isnan(best) else best
        self.elapsed_s = float(state.get("elapsed_s", 0.0))
        self.log.message(f"resumed {path} at step {self.step}")

    def export(self, name: str) -> Path:
        """Write the network's weights to ``run_dir/name`` with its config and the current step."""
        path = self.run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, self.net.state_dict(), arch=self.cfg.arch, config=self.net_cfg,
                        config_name=self.cfg.config_name, sample_rate_hz=self.stft_cfg.sample_rate_hz,
                        tasks=(self.cfg.task,), mode=self.cfg.mode, extra_metadata={"step": str(self.step)})
        return path

    def save(self) -> None:
        state = self._state()  # collective in DDP: every rank takes part
        if self.dist.main:
            save_state(self.run_dir / "last.pt", state)
            self.export("model.safetensors")
            if self.cfg.keep_weights:
                self.export(f"weights/step-{self.step:07d}.safetensors")

    # ------------------------------------------------------------------ one step
    def _autocast(self):
        from models.device import autocast

        return autocast(self.cfg.precision, self.device)

    def _generate(self, x_spec: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                     torch.Tensor | None, torch.Tensor | None]:
        """(in_mag, mag_hat, phase_hat, wave_hat, mask estimate) for the input STFT [B, F, T] of a batch
        of ``length`` samples; wave_hat is None when no loss needs the waveform, the estimate None
        unless the mask loss is on."""
        in_mag, in_phase = S.mag_phase(x_spec, self.stft_cfg)
        if self.cfg.task == "phase":
            in_phase = torch.zeros_like(in_phase)
        estimate = None
        with self._autocast():
            if self.cfg.losses.mask > 0:
                mag_hat, phase_hat, estimate = self.model(in_mag, in_phase, return_estimate=True)
            else:
                mag_hat, phase_hat = self.model(in_mag, in_phase)
        mag_hat, phase_hat = mag_hat.float(), phase_hat.float()
        out_mag = in_mag if self.cfg.task == "phase" else mag_hat
        w = self.cfg.losses
        needs_wave = w.time > 0 or w.consistency > 0 or w.metric > 0 or w.mpd > 0
        wave_hat = S.synthesise(out_mag, phase_hat, self.stft_cfg, length) if needs_wave else None
        return in_mag, mag_hat, phase_hat, wave_hat, estimate

    def _pesq_scorer(self):
        """The metric critic's PESQ scorer, with its pool of ``cfg.pesq_workers`` processes started on first use."""
        if self._pesq is None:
            from models.metrics.pesq_batch import PesqBatch

            self._pesq = PesqBatch(self.stft_cfg.sample_rate_hz, self.cfg.pesq_workers)
        return self._pesq

    def close(self) -> None:
        """Stops the PESQ pool, if one was started (the log is closed by :meth:`run`)."""
        if self._pesq is not None:
            self._pesq.close()
            self._pesq = None

    def _mpd_windows(self, y: torch.Tensor, wave_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(target, output) [B, N] cut to one random window [B, L] per row, the same span of both
        (``cfg.mpd_crop_seconds``); unchanged when that is 0 or not shorter than the waveforms. The
        offsets come from torch's generator, whose state the checkpoint keeps (resume stays exact)."""
        n, length = y.shape[-1], self.cfg.mpd_crop_samples
        if length <= 0 or length >= n:
            return y, wave_hat
        start = torch.randint(0, n - length + 1, (y.shape[0], 1))
        index = (start + torch.arange(length)).to(y.device)
        return torch.gather(y, 1, index), torch.gather(wave_hat, 1, index)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One optimisation step on (input, target) [B, N]; returns the loss components."""
        from models import discriminators as DS

        w = self.cfg.losses
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        # Each STFT once per step: the mask loss reuses the spectra the network input and targets come from.
        x_spec, y_spec = S.stft(x, self.stft_cfg), S.stft(y, self.stft_cfg)
        ref_mag, ref_phase = S.mag_phase(y_spec, self.stft_cfg)
        in_mag, mag_hat, phase_hat, wave_hat, estimate = self._generate(x_spec, x.shape[-1])
        out: dict[str, float] = {}
        resynth = None
        if w.consistency > 0 or w.metric > 0:
            resynth = S.analyse(wave_hat, self.stft_cfg)

        # What the multi-period discriminator judges: the whole waveforms, or one random window of each.
        mpd_real, mpd_fake = (self._mpd_windows(y, wave_hat) if w.mpd > 0 else (y, wave_hat))

        # Critics first, on the detached output (as the authors).
        if "metric" in self.discs:
            d, opt = self.disc_models["metric"], self.disc_optims["metric"]
            # The output's and the input's PESQ in one call, so a pool scores all rows at once.
            waves = [wave_hat.detach().cpu().numpy()] + ([x.cpu().numpy()] if self.cfg.metric_disc_degraded else [])
            targets = DS.pesq_targets(np.concatenate([y.cpu().numpy()] * len(waves)), np.concatenate(waves),
                                      self.stft_cfg.sample_rate_hz, scorer=self._pesq_scorer()).to(self.device)
            opt.zero_grad(set_to_none=True)
            b = y.shape[0]
            fake = resynth[0].detach()
            pairs = [ref_mag, fake] + ([in_mag] if self.cfg.metric_disc_degraded else [])
            scores = d(torch.cat([ref_mag] * len(pairs)), torch.cat(pairs))
            loss_d = F.mse_loss(scores[:b], torch.ones(b, device=self.device))
            loss_d = loss_d + DS.metric_critic_loss(scores[b:2 * b], targets[:b])
            if self.cfg.metric_disc_degraded:
                loss_d = loss_d + DS.metric_critic_loss(scores[2 * b:], targets[b:])
            loss_d.backward()
            opt.step()
            out["disc_metric"] = float(loss_d.detach())
        if "mpd" in self.discs:
            d, opt = self.disc_models["mpd"], self.disc_optims["mpd"]
            opt.zero_grad(set_to_none=True)
            b = y.shape[0]
            scores, _ = d(torch.cat([mpd_real, mpd_fake.detach()]))
            loss_d = DS.hinge_discriminator_loss([s[:b] for s in scores], [s[b:] for s in scores])
            loss_d.backward()
            if self.cfg.disc_grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.discs["mpd"].parameters(), self.cfg.disc_grad_clip)
            opt.step()
            out["disc_mpd"] = float(loss_d.detach())

        terms: dict[str, torch.Tensor] = {}
        if w.magnitude > 0:
            terms["magnitude"] = L.magnitude_loss(mag_hat, ref_mag)
        if w.log_magnitude > 0:
            terms["log_magnitude"] = L.log_magnitude_loss(mag_hat, ref_mag)
        if w.over_magnitude > 0:
            terms["over_magnitude"] = L.over_magnitude_loss(mag_hat, ref_mag)
        if w.phase > 0:
            terms["phase"] = L.phase_loss(phase_hat, ref_phase)
        com_hat = L.compressed_complex(mag_hat, phase_hat) if (w.complex > 0 or w.consistency > 0) else None
        if w.complex > 0:
            terms["complex"] = L.complex_loss(com_hat, L.compressed_complex(ref_mag, ref_phase))
        if w.consistency > 0:
            terms["consistency"] = L.consistency_loss(com_hat, L.compressed_complex(*resynth))
        if w.time > 0:
            terms["time"] = L.time_loss(wave_hat, y)
        if w.wop > 0:
            terms["wop"] = L.wop_loss(phase_hat, ref_phase, ref_mag)
        if w.mask > 0:
            # The ideal mask of the batch, from the input's and target's STFTs (same loudness scaling).
            terms["mask"] = self.net.mask_loss(estimate, x_spec, y_spec)
        # Adversarial terms through the bare critics with frozen weights: no critic gradients.
        if w.metric > 0:
            d = self.discs["metric"]
            d.requires_grad_(False)
            terms["metric"] = F.mse_loss(d(ref_mag, resynth[0]), torch.ones(y.shape[0], device=self.device))
            d.requires_grad_(True)
        if w.mpd > 0:
            d = self.discs["mpd"]
            d.requires_grad_(False)
            fake_scores, fake_feats = d(mpd_fake)
            with torch.no_grad():
                _, real_feats = d(mpd_real)
            terms["mpd"] = DS.feature_matching_loss(real_feats, fake_feats) + DS.hinge_generator_loss(fake_scores)
            d.requires_grad_(True)
        loss = sum(getattr(w, k) * v for k, v in terms.items())

        self.optim.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optim)
        else:
            loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optim)
            self.scaler.update()
        else:
            self.optim.step()
        self.step += 1
        if self.step % self.cfg.lr_decay_every_steps == 0:
            self.sched.step()
            for s in self.disc_scheds.values():
                s.step()
        out.update({k: float(v.detach()) for k, v in terms.items()})
        out["loss"] = float(loss.detach())
        return out

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float] | None:
        if not self.dist.main or not self.val_items:
            return None
        from models.train.validation import evaluate

        t0 = time.time()
        scores = evaluate(self.net, self.val_items, self.stft_cfg, self.cfg.mode, self.device)
        # Best model: highest PESQ-WB; for phase retrieval, lowest phase distance.
        key, better = ("pd", lambda a, b: a < b) if self.cfg.task == "phase" else ("pesq", lambda a, b: a > b)
        value = scores.get(key, float("nan"))
        improved = not math.isnan(value) and (self.best is None or better(value, self.best))
        if improved:
            self.best = value
            self.export("best.safetensors")
        self.log.record({"kind": "val", "step": self.step, **scores, "best": improved, "val_s": time.time() - t0})
        self.log.message(f"validation at step {self.step}: " + " ".join(f"{k} {v:.3f}" for k, v in scores.items())
                         + (" (best)" if improved else ""))
        return scores

    # ------------------------------------------------------------------ loop
    def _request_stop(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self._stop = True

    def run(self) -> TrainResult:
        cfg = self.cfg
        handlers = {}
        if self.dist.world == 1:
            try:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    handlers[sig] = signal.signal(sig, self._request_stop)
            except ValueError:  # not the main thread
                handlers = {}
        try:
            return self._run()
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            self.close()
            self.log.close()

    def _run(self) -> TrainResult:
        cfg = self.cfg
        if self.dist.main and self.val_items and self.step == 0:
            from models.train.validation import input_scores

            base = input_scores(self.val_items, self.stft_cfg, cfg.mode)
            self.log.record({"kind": "val_input", "step": 0, **base})
            self.log.message("validation input: " + " ".join(f"{k} {v:.3f}" for k, v in base.items()))
        self.net.train()
        for d in self.discs.values():
            d.train()
        window: dict[str, list[float]] = {}
        t_window, n_window = time.time(), 0
        t_last = time.time()
        for x, y in self._loader():
            comps = self.train_step(x, y)
            now = time.time()
            self.elapsed_s += now - t_last
            t_last = now
            for k, v in comps.items():
                window.setdefault(k, []).append(v)
            n_window += 1
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                rate = n_window / max(time.time() - t_window, 1e-9)
                means = {k: float(np.mean(v)) for k, v in window.items()}
                lr = self.optim.param_groups[0]["lr"]
                self.log.record({"kind": "train", "step": self.step, "lr": lr, "steps_per_s": rate, **means})
                parts = " ".join(f"{k} {v:.4f}" for k, v in means.items() if k != "loss")
                self.log.progress(self.step, f"loss {means['loss']:.4f} ({parts}) {rate:.3f} steps/s lr {lr:.2e}")
                window, t_window, n_window = {}, time.time(), 0
            stop = self._stop
            if self.dist.world > 1:
                flag = torch.tensor([1.0 if stop else 0.0])
                dist.all_reduce(flag)
                stop = bool(flag.item() > 0)
            last = self.step == cfg.steps
            if self.step % cfg.ckpt_every == 0 or last or stop:
                self.save()
            if self.step % cfg.val_every == 0 or last:
                self.validate()
                if self.dist.main:
                    plot_curves(self.run_dir)
            if stop:
                self.log.message(f"stopped at step {self.step}; checkpoint saved, continue with --resume")
                return TrainResult(self.run_dir, self.step, self.best, True)
            t_last = time.time()
        if self.dist.main:
            plot_curves(self.run_dir)
        return TrainResult(self.run_dir, self.step, self.best, False)


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, quiet: bool = False) -> TrainResult:
    """Train ``cfg`` in ``run_dir`` up to ``cfg.steps`` (continuing from ``last.pt`` with ``resume``)."""
    trainer = Trainer(cfg, Path(run_dir), resume=resume, quiet=quiet)
    if trainer.step >= trainer.cfg.steps:
        trainer.log.message(f"{run_dir}: already at step {trainer.step} >= --steps {trainer.cfg.steps}; nothing to do")
        trainer.log.close()
        return TrainResult(trainer.run_dir, trainer.step, trainer.best, False)
    return trainer.run()
