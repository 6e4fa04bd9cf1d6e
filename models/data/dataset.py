"""Random training crops degraded on the fly, addressed by a global sample index.

Sample ``i`` is a pure function of (seed, i): its random generator is
``numpy.random.default_rng([seed, i])``. The batch of step ``s`` holds the indices
``s * global_batch + k``; so the data of any step is the same whatever the number of loader
workers or DDP processes, and ``--resume`` continues with exactly the batches an uninterrupted
run would have seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from models.data import degrade as D
from models.data.files import AudioFile, read_mono

#: A crop is redrawn (up to this many times) when less than this fraction of it is active speech.
MIN_ACTIVE_FRACTION = 0.2
MAX_REDRAWS = 8


@dataclass(frozen=True)
class CropSpec:
    task: str
    segment_samples: int
    seed: int
    degrade: D.DegradeConfig


def unit_rms(input_: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale input to unit RMS and the target by the same gain (the authors' normalisation)."""
    ms = float(np.mean(input_.astype(np.float64) ** 2))
    if ms <= 1e-12:
        return input_, target
    g = 1.0 / np.sqrt(ms)
    return (input_ * g).astype(np.float32), (target * g).astype(np.float32)


class _Picker:
    """Draw a file with probability proportional to its length (at least one segment)."""

    def __init__(self, files: list[AudioFile], segment: int):
        self.files = files
        self.cum = np.cumsum([max(f.frames, segment) for f in files], dtype=np.float64)

    def __call__(self, rng: np.random.Generator) -> AudioFile:
        k = int(np.searchsorted(self.cum, rng.random() * self.cum[-1], side="right"))
        return self.files[min(k, len(self.files) - 1)]


class DegradedCrops(Dataset):
    """Map-style dataset: ``ds[i]`` -> (input [N], target [N]) float32 tensors, unit-RMS input.

    ``noise`` files and ``rirs`` (arrays) are needed by tasks that use them (see
    :func:`models.data.degrade.needs_noise`, ``needs_rir``).
    """

    def __init__(self, spec: CropSpec, clean: list[AudioFile], noise: list[AudioFile] | None = None,
                 rirs: list[np.ndarray] | None = None):
        self.spec = spec
        self.clean = _Picker(clean, spec.segment_samples)
        self.noise = _Picker(noise, spec.segment_samples) if noise else None
        self.rirs = rirs or []

    def __len__(self) -> int:  # indices are unbounded; the sampler decides
        return 2**62

    def _clean_crop(self, rng: np.random.Generator, speed: float = 1.0) -> np.ndarray:
        """A crop [N] of a clean file drawn by length, sign-corrected; with ``speed`` != 1 a crop of
        about N x speed samples played ``speed`` times faster (see :func:`degrade.change_speed`)."""
        n, rate = self.spec.segment_samples, self.spec.degrade.sample_rate_hz
        m = n if speed == 1.0 else int(np.ceil(n * speed))  # samples to read for N after the change
        x, sign = np.zeros(n, np.float32), 1
        for _ in range(MAX_REDRAWS):
            f = self.clean(rng)
            sign = f.polarity
            try:
                if f.frames >= m:
                    start = int(rng.integers(0, f.frames - m + 1))
                    x = read_mono(f.path, rate, start, m)
                else:
                    x = read_mono(f.path, rate)
            except Exception:  # the file changed or vanished since the scan: draw another
                x = np.zeros(n, np.float32)
                continue
            x = D.change_speed(x, speed, rate)
            if len(x) < n:  # shorter files are zero-padded at the end, as the authors do
                x = np.pad(x, (0, n - len(x)))
            if D.active_mask(x[:n], rate).mean() >= MIN_ACTIVE_FRACTION * min(1.0, f.frames / m):
                break
        return (sign * x[:n]).astype(np.float32)

    def _noise_crop(self, rng: np.random.Generator) -> np.ndarray:
        n, rate = self.spec.segment_samples, self.spec.degrade.sample_rate_hz
        for _ in range(MAX_REDRAWS):
            f = self.noise(rng)
            try:
                if f.frames > n:
                    start = int(rng.integers(0, f.frames - n + 1))
                    return read_mono(f.path, rate, start, n)
                return D.fit_length(read_mono(f.path, rate), n, rng)
            except Exception:  # the file changed or vanished since the scan: draw another
                continue
        return np.zeros(n, np.float32)  # no readable noise: add_noise leaves the speech clean

    def _augment_noise(self, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Babble, coloured noise, mains hum or a second recording instead of / on top of ``noise`` (see
        DegradeConfig)."""
        cfg, n = self.spec.degrade, self.spec.segment_samples
        u = rng.random()
        if u < cfg.babble_prob:
            talkers = [self._clean_crop(rng) for _ in range(int(rng.integers(3, 7)))]
            babble = np.zeros(n, np.float64)
            for t in talkers:  # equal active power per talker
                p = D.active_power(t, cfg.sample_rate_hz)
                if p > 0:
                    babble += t / np.sqrt(p)
            return babble.astype(np.float32) if babble.any() else noise
        if u < cfg.babble_prob + cfg.colored_noise_prob:
            return D.colored_noise(n, float(rng.uniform(-1.0, 2.0)), rng)
        # Hum's share comes after the older kinds' shares and before that of a second recording, so
        # that with hum_prob = 0 every draw is what it was before hum existed.
        if u < cfg.babble_prob + cfg.colored_noise_prob + cfg.hum_prob:
            return D.mains_hum(n, rng, cfg.sample_rate_hz)
        if u < cfg.babble_prob + cfg.colored_noise_prob + cfg.hum_prob + cfg.second_noise_prob:
            return D.mix_at_level(noise, self._noise_crop(rng), float(rng.uniform(0.0, 10.0)))
        return noise

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray, D.Degradation]:
        """(input, target, what was applied) for global sample ``index``, before normalisation."""
        rng = np.random.default_rng([self.spec.seed, index])
        deg = D.draw_case(self.spec.task, self.spec.degrade, rng)
        clean = self._clean_crop(rng, D.draw_speed(self.spec.degrade, rng))
        noise = self._noise_crop(rng) if deg.snr_db is not None else None
        if noise is not None and self.spec.degrade.augments_noise:
            noise = self._augment_noise(noise, rng)
        rir = self.rirs[int(rng.integers(0, len(self.rirs)))] if deg.reverb else None
        x, y = D.apply(clean, deg, noise, rir, self.spec.degrade)
        x, y = D.random_level(x, y, self.spec.degrade, rng)
        return x, y, deg

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y, _ = self.sample(int(index))
        x, y = unit_rms(x, y)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), \
            torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))


class StepBatchSampler(Sampler[list[int]]):
    """Yields, for each step in [start_step, end_step), this process's share of the global batch."""

    def __init__(self, start_step: int, end_step: int, global_batch: int, rank: int = 0, world_size: int = 1):
        if global_batch % world_size:
            raise ValueError(f"batch size {global_batch} is not divisible by the {world_size} processes")
        self.start, self.end = start_step, end_step
        self.global_batch, self.local = global_batch, global_batch // world_size
        self.offset = rank * self.local

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self):
        for step in range(self.start, self.end):
            base = step * self.global_batch + self.offset
            yield list(range(base, base + self.local))
