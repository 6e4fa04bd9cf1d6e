"""Python API: load a model by registry name or file, and enhance waveforms.

    >>> from models import api
    >>> model = api.load_model("gre-tiny-random")
    >>> out = api.enhance(wave, sample_rate=44100, model=model)   # same shape and rate as wave

Device and precision are decided in :mod:`models.device`, nowhere else.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from models.architectures import build_network, named_config
from models.chain import ChainedEnhancer, split_chain
from models.checkpoint import CheckpointError, LoadedCheckpoint, load_checkpoint, read_metadata
from models.config import STFTConfig
from models.device import module_device, resolve_device
from models.enhancer import Enhancer, ModelInfo, accepts_groups, check_atten_lim, limit_attenuation
from models.registry import default_model_for, get_entry, sha256_of


def _stft_of(config: object) -> STFTConfig:
    stft_cfg = getattr(config, "stft", None)
    return stft_cfg if isinstance(stft_cfg, STFTConfig) else STFTConfig()


def _from_loaded(ckpt: LoadedCheckpoint, name: str) -> Enhancer:
    network = build_network(ckpt.arch, ckpt.config)
    try:
        network.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0:3]
        raise CheckpointError(f"{name}: weights do not fit the {ckpt.arch} network: {' '.join(first)}") from None
    info = ModelInfo(name=name, arch=ckpt.arch, config_name=ckpt.config_name, tasks=ckpt.tasks,
                     mode=ckpt.mode, sample_rate_hz=ckpt.sample_rate_hz, source=ckpt.source)
    return Enhancer(network, _stft_of(network.cfg if hasattr(network, "cfg") else None), ckpt.mode, info)


def load_model(name_or_path: str | Path | None = None, *, task: str | None = None,
               device: str = "cpu") -> torch.nn.Module:
    """Load a registered model by name, or a checkpoint file (ours or the authors').

    With neither, the default model of ``task`` is loaded. "a+b" (names or files joined by "+")
    loads a :class:`~models.chain.ChainedEnhancer` that gives ``a``'s output to ``b``. Returns the
    model in eval mode on ``device`` ("auto", "cpu", "cuda", "cuda:N").
    """
    if name_or_path is None:
        if task is None:
            raise ValueError("give a model name, a checkpoint path or a task")
        name_or_path = default_model_for(task)
    stages = split_chain(str(name_or_path))
    if stages is not None:
        model = ChainedEnhancer([_load_one(stage) for stage in stages])
    else:
        model = _load_one(name_or_path)
    return model.eval().to(resolve_device(device))


def _load_one(name_or_path: str | Path) -> torch.nn.Module:
    """One model: a checkpoint file (or a router file), or a registered name."""
    path = Path(name_or_path)
    if path.suffix in (".safetensors", ".pt", ".pth", ".ckpt") or path.is_file():
        if _is_router_file(path):
            return _router(path, str(path))
        return _from_loaded(load_checkpoint(path), str(path))
    return _from_registry(str(name_or_path))


def _is_router_file(path: Path) -> bool:
    from models.router import ROUTER_KIND

    return read_metadata(path).get("kind") == ROUTER_KIND


def _router(path: Path, name: str, stage_names: tuple[str, ...] = (), info: ModelInfo | None = None) -> torch.nn.Module:
    """A :class:`~models.router.RoutedEnhancer` from a router file; ``stage_names`` (a registry entry's) take the
    place of the ones the file names."""
    from models.router import RoutedEnhancer
    from models.train.degradation import load_router_file

    classifier, named = load_router_file(path)
    dereverb, denoise, bwe = (_from_registry(stage) for stage in (stage_names or named))
    info = info or ModelInfo(name=name, arch="router", config_name="+".join(stage_names or named),
                             tasks=("universal",), mode="enhance", sample_rate_hz=classifier.cfg.sample_rate_hz,
                             source=f"router file {path}")
    return RoutedEnhancer(classifier, dereverb, denoise, bwe, info)


def _from_registry(name: str) -> torch.nn.Module:
    entry = get_entry(name)
    if entry.arch == "classical":
        from models.classical import CLASSICAL_MODELS

        return CLASSICAL_MODELS[entry.name]()
    if entry.arch == "router":
        _check_weights_file(entry)
        return _router(entry.weights_path, entry.name, entry.stages, ModelInfo(
            name=entry.name, arch=entry.arch, config_name=entry.config_name, tasks=entry.tasks, mode=entry.mode,
            sample_rate_hz=entry.sample_rate_hz, source=entry.source))
    if entry.stages:
        stages = [_from_registry(stage) for stage in entry.stages]
        return ChainedEnhancer(stages, ModelInfo(
            name=entry.name, arch=entry.arch, config_name=entry.config_name, tasks=entry.tasks, mode=entry.mode,
            sample_rate_hz=entry.sample_rate_hz, source=entry.source))
    if entry.weights_path is None:
        # Seeded random initialisation: deterministic, for tests and smoke runs.
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(0)
        config = named_config(entry.arch, entry.config_name)
        network = build_network(entry.arch, config)
        torch.random.set_rng_state(generator_state)
        info = ModelInfo(name=entry.name, arch=entry.arch, config_name=entry.config_name, tasks=entry.tasks,
                         mode=entry.mode, sample_rate_hz=entry.sample_rate_hz, source=entry.source)
        return Enhancer(network, _stft_of(config), entry.mode, info)
    path = _check_weights_file(entry)
    model = _from_loaded(load_checkpoint(path), name)
    model.info = replace(model.info, source=entry.source)
    return model


def _check_weights_file(entry) -> Path:
    """The entry's weights file, after checking that it is installed and matches its sha256."""
    path = entry.weights_path
    if not path.is_file():
        raise CheckpointError(f"{entry.name}: weights file {path} is missing from the installation; reinstall gre")
    if entry.sha256 and sha256_of(path) != entry.sha256:
        raise CheckpointError(f"{entry.name}: weights file {path} does not match its sha256; reinstall gre")
    return path


@torch.inference_mode()
def enhance(wave: np.ndarray, sample_rate: int, model: torch.nn.Module | str | None = None, *,
            task: str | None = None, out_sample_rate: int | None = None,
            upsampled_floor: bool = True, atten_lim_db: float | None = None) -> np.ndarray:
    """Enhance one signal. ``wave`` is [N] or [C, N] float at ``sample_rate``; returns [N'] or [C, N']
    at ``out_sample_rate`` (default: ``sample_rate``, N' = N). Each channel is enhanced on its own (a router
    sends all of them along one route);
    the whole signal is processed at once (for long files use the chunked pipeline in
    :mod:`models.overlap_add`).

    Bandwidth extension of narrowband input needs ``out_sample_rate=16000`` (the model's rate):
    at the input's rate the band the model made is resampled away again. (`gre enhance` does this
    by itself for bwe and universal models.) Input below the model's rate gets, once resampled, a
    16-bit noise floor as in `gre enhance` (:class:`models.audio_resample.UpsampledFloor`;
    ``upsampled_floor=False`` leaves it out). ``atten_lim_db``: attenuate nothing by more than this
    many dB (the input mixed back in, :func:`models.enhancer.limit_attenuation`; not for phase
    retrieval)."""
    from models.audio_resample import UpsampledFloor, resample
    from models.stft import SILENCE_MEAN_SQUARE

    if model is None or isinstance(model, (str, Path)):
        model = load_model(model, task=task)
    check_atten_lim(model, atten_lim_db)
    x = np.asarray(wave, dtype=np.float32)
    mono = x.ndim == 1
    x2 = x[None] if mono else x
    device = module_device(model)
    x_model = resample(x2, sample_rate, model.sample_rate_hz)
    if upsampled_floor and sample_rate < model.sample_rate_hz and x_model.shape[-1]:
        silent = np.mean(np.square(x_model, dtype=np.float64), axis=-1) <= SILENCE_MEAN_SQUARE
        x_model = UpsampledFloor()(x_model, silent)  # digital silence stays silence, as in gre enhance
    x_in = torch.from_numpy(np.ascontiguousarray(x_model)).to(device)
    if accepts_groups(model):  # a router: the channels of one signal take one route
        y = model(x_in, None, torch.zeros(x_in.shape[0], dtype=torch.long, device=device))
    else:
        y = model(x_in)
    if atten_lim_db is not None:
        y = limit_attenuation(x_in, y.float(), atten_lim_db)
    y = y.cpu().numpy()
    rate_out = sample_rate if out_sample_rate is None else int(out_sample_rate)
    if rate_out <= 0:
        raise ValueError(f"out_sample_rate must be a positive rate in Hz, got {out_sample_rate}")
    y = resample(y, model.sample_rate_hz, rate_out)
    y = _fit_length(y, int(round(x2.shape[-1] * rate_out / sample_rate)))
    return y[0] if mono else y


def _fit_length(y: np.ndarray, length: int) -> np.ndarray:
    if y.shape[-1] >= length:
        return y[..., :length]
    return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
