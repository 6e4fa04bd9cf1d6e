"""Loader side of a directory run: decode, resample to the model rate and cut chunks.

Runs inside torch DataLoader worker processes (or in the main process with ``--workers 0``).
For every file it yields, in order::

    FileStart (header facts, per-channel loudness gain, chunk plan)
    ChunkData x plan.num_chunks     (each [C, chunk] float32 at the model rate)
or, at any point, FileFailed (one-line reason) after which nothing more comes for that file.

Files are streamed in blocks, so memory does not grow with file length. The loudness gain needs
the whole file before the first chunk can be run, so long files are read twice (first pass:
validate every sample and measure the level; second pass: cut chunks). Files whose model-rate
signal fits in ``cache_samples`` are kept from the first pass instead of being read again.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soxr
import torch
from torch.utils.data import IterableDataset, get_worker_info

from models.audio_io import AudioError, AudioInfo, AudioSource, iter_blocks, probe
from models.audio_resample import UpsampledFloor
from models.overlap_add import ChunkPlan, plan_chunks
from models.stft import SILENCE_MEAN_SQUARE, loudness_gain


@dataclass(frozen=True)
class LoadSettings:
    """What the loader needs to know about the model and the chunking (all lengths in samples
    at the model rate)."""

    model_rate_hz: int
    chunk_samples: int
    overlap_samples: int
    mono: bool = False
    #: Add a 16-bit noise floor to audio resampled up to the model rate (models.audio_resample.UpsampledFloor).
    upsampled_floor: bool = True
    block_frames: int = 1 << 16
    #: Model-rate samples (all channels) kept from the first pass; longer files are read twice.
    cache_samples: int = 1 << 23


@dataclass
class FileStart:
    job: int
    info: AudioInfo
    channels: int  # channels enhanced (1 with --mono)
    model_length: int  # samples at the model rate
    gain: np.ndarray  # [channels] float32, one loudness factor per channel for the whole file
    plan: ChunkPlan
    silent: np.ndarray  # [channels] bool: digital silence, passed through without the model


@dataclass
class ChunkData:
    job: int
    index: int
    data: np.ndarray  # [channels, plan.chunk] float32


@dataclass
class FileFailed:
    job: int
    error: str


LoaderItem = FileStart | ChunkData | FileFailed


def model_rate_blocks(src: AudioSource, info: AudioInfo, settings: LoadSettings) -> Iterator[np.ndarray]:
    """Validated blocks [C, n] of ``src`` at the model rate (downmixed with ``mono``).

    soxr's streaming resampler gives exactly the same samples as resampling the whole file at once.
    """
    channels = 1 if settings.mono else info.channels
    stream = None
    if info.sample_rate_hz != settings.model_rate_hz:
        stream = soxr.ResampleStream(info.sample_rate_hz, settings.model_rate_hz, channels,
                                     dtype="float32", quality="HQ")
    for block in iter_blocks(src, settings.block_frames):
        if settings.mono and block.shape[0] > 1:
            block = block.mean(axis=0, keepdims=True, dtype=np.float32)
        if stream is None:
            yield block
        else:
            out = stream.resample_chunk(np.ascontiguousarray(block.T), last=False)
            if out.shape[0]:
                yield np.ascontiguousarray(out.T)
    if stream is not None:
        out = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
        if out.shape[0]:
            yield np.ascontiguousarray(out.T)


def _gain_from_mean_square(mean_square: np.ndarray) -> np.ndarray:
    """Same rule as :func:`models.stft.loudness_gain`, from float64 mean squares [C]."""
    silent = mean_square <= SILENCE_MEAN_SQUARE
    return np.where(silent, 1.0, 1.0 / np.sqrt(np.maximum(mean_square, SILENCE_MEAN_SQUARE))).astype(np.float32)


def _cut(blocks: Iterator[np.ndarray], plan: ChunkPlan, channels: int, name: str) -> Iterator[tuple[int, np.ndarray]]:
    """Chunks of ``plan`` from a stream of blocks, holding about one chunk plus one block."""
    buf = np.zeros((channels, 0), dtype=np.float32)
    base = 0  # model-rate index of buf[:, 0]
    for k, start in enumerate(plan.starts):
        while base + buf.shape[1] < start + plan.chunk:
            try:
                buf = np.concatenate([buf, next(blocks)], axis=1)
            except StopIteration:
                raise AudioError(f"{name}: the file changed while it was being read; run again") from None
        yield k, np.ascontiguousarray(buf[:, start - base:start - base + plan.chunk])
        keep_from = plan.starts[k + 1] if k + 1 < plan.num_chunks else start + plan.chunk
        buf = buf[:, keep_from - base:]
        base = keep_from


def load_file(job: int, src: AudioSource, settings: LoadSettings) -> Iterator[LoaderItem]:
    """Items for one file (see the module docstring). Never raises for a bad file."""
    try:
        info = probe(src)
        channels = 1 if settings.mono else info.channels
        # First pass: validate, measure the level, keep the samples when they are few.
        floored = settings.upsampled_floor and info.sample_rate_hz < settings.model_rate_hz
        sum_sq = np.zeros(channels, dtype=np.float64)  # of the file as resampled
        sum_sq_floored = np.zeros(channels, dtype=np.float64)  # of what the model will get
        floor = UpsampledFloor()
        length = 0
        cache: list[np.ndarray] | None = []
        for block in model_rate_blocks(src, info, settings):
            sum_sq += np.square(block, dtype=np.float64).sum(axis=1)
            if floored:
                sum_sq_floored += np.square(floor(block), dtype=np.float64).sum(axis=1)
            length += block.shape[1]
            if cache is not None:
                cache.append(block)
                if length * channels > settings.cache_samples:
                    cache = None
        silent = sum_sq / max(length, 1) <= SILENCE_MEAN_SQUARE
        if floored:
            sum_sq = np.where(silent, sum_sq, sum_sq_floored)
        plan = plan_chunks(length, settings.chunk_samples, settings.overlap_samples)
        if cache is not None:
            whole = np.concatenate(cache, axis=1) if cache else np.zeros((channels, 0), np.float32)
            if floored:  # the same noise as block by block: it depends only on each sample's place
                whole = UpsampledFloor()(whole, silent)
            # Exactly the gain whole-file processing computes (Enhancer.forward with gain=None).
            gain = loudness_gain(torch.from_numpy(whole)).numpy() if length else np.ones(channels, np.float32)
        else:
            whole = None
            gain = _gain_from_mean_square(sum_sq / max(length, 1))
        yield FileStart(job, info, channels, length, gain, plan, silent)
        if length == 0:
            return
        if whole is not None:
            for k, start in enumerate(plan.starts):
                yield ChunkData(job, k, np.ascontiguousarray(whole[:, start:start + plan.chunk]))
        else:
            # Second pass over the file for long inputs: memory stays at about one chunk.
            blocks = model_rate_blocks(src, info, settings)
            if floored:
                second = UpsampledFloor()
                blocks = (second(block, silent) for block in blocks)
            for k, data in _cut(blocks, plan, channels, src.name):
                yield ChunkData(job, k, data)
    except AudioError as err:
        yield FileFailed(job, str(err))
    except Exception as err:  # noqa: BLE001 - one bad file must never stop the batch
        yield FileFailed(job, f"{src.name}: unexpected error while loading ({type(err).__name__}: {err}); "
                              f"please report this with the file")


class ChunkStream(IterableDataset):
    """IterableDataset over ``[(job index, source), ...]``; each worker takes every n-th file."""

    def __init__(self, sources: list[tuple[int, AudioSource]], settings: LoadSettings):
        super().__init__()
        self.sources = sources
        self.settings = settings

    def __iter__(self) -> Iterator[LoaderItem]:
        worker = get_worker_info()
        mine = self.sources if worker is None else self.sources[worker.id::worker.num_workers]
        for job, src in mine:
            yield from load_file(job, src, self.settings)
