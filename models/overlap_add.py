"""Chunked overlap-add for long inputs: pure functions, no I/O, no device policy.

A signal of N samples is cut into chunks of exactly ``chunk`` samples that overlap by at least
``overlap`` samples; the network runs on the chunks (batched), and the outputs are cross-faded
back into one signal: each chunk is weighted by a window with raised-cosine ramps of length
``overlap``, the weighted outputs are summed and the sum is divided by the summed weights.

Why every chunk has exactly ``chunk`` samples (the last one starts at N - chunk and overlaps its
neighbour by more): the GRE network normalises statistics over each input's whole (T, F) map, so
zero padding a chunk would change what the network sees. For the same reason a signal of at most
``chunk`` samples is processed whole, as a single "chunk" of its own length, and the loudness
gain is computed once per signal and handed to every chunk.

Shapes: signals [C, N] (channels are independent rows), chunk outputs [C, chunk]. The
accumulator is float64 and only as long as one chunk plus one hop (:class:`OverlapAdder`
releases samples as soon as no later chunk touches them), so a 60-minute file never needs a
full-length buffer here.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ChunkPlan:
    """Where the chunks of a signal of ``length`` samples start.

    ``chunk`` equals ``length`` when the signal is processed whole (``len(starts) == 1``).
    """

    length: int
    chunk: int
    overlap: int
    starts: tuple[int, ...]

    @property
    def num_chunks(self) -> int:
        return len(self.starts)

    @property
    def whole(self) -> bool:
        return self.num_chunks == 1


def plan_chunks(length: int, chunk_samples: int, overlap_samples: int) -> ChunkPlan:
    """Chunk layout for ``length`` samples.

    ``chunk_samples <= 0`` or ``length <= chunk_samples``: one whole-signal chunk. Otherwise
    chunks start every ``chunk_samples - overlap_samples`` samples and the last chunk is the final
    ``chunk_samples`` samples. Requires ``0 <= overlap_samples <= chunk_samples // 2`` so that the
    fade-in and fade-out ramps of one chunk never overlap.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if chunk_samples <= 0 or length <= chunk_samples:
        return ChunkPlan(length, length, 0, (0,))
    if not 0 <= overlap_samples <= chunk_samples // 2:
        raise ValueError(f"overlap ({overlap_samples} samples) must be between 0 and half a chunk "
                         f"({chunk_samples // 2} samples); choose a shorter overlap or a longer chunk")
    hop = chunk_samples - overlap_samples
    starts = list(range(0, length - chunk_samples, hop)) + [length - chunk_samples]
    return ChunkPlan(length, chunk_samples, overlap_samples, tuple(starts))


def crossfade_window(chunk: int, overlap: int) -> np.ndarray:
    """Window [chunk] (float64): raised-cosine ramps of ``overlap`` samples at both ends, 1 between.

    The ramps are sampled at half-sample offsets, so every weight is > 0 (the sum of weights is
    never zero) and a fade-out plus the next chunk's fade-in add up to exactly 1 where two chunks
    overlap by ``overlap`` samples.
    """
    w = np.ones(chunk, dtype=np.float64)
    if overlap > 0:
        ramp = np.sin(0.5 * math.pi * (np.arange(overlap) + 0.5) / overlap) ** 2
        w[:overlap] = ramp
        w[chunk - overlap:] = ramp[::-1]
    return w


class OverlapAdder:
    """Streaming overlap-add: feed chunk outputs in order, get finished samples back.

        adder = OverlapAdder(plan, channels)
        for k in range(plan.num_chunks):
            done = adder.add(k, out_k)        # [C, n_k] float32, possibly n_k == 0
        # the concatenation of all `done` is the full [C, plan.length] signal

    Samples are returned as soon as no later chunk covers them, so memory stays at about one
    chunk whatever the signal length.
    """

    def __init__(self, plan: ChunkPlan, channels: int):
        self.plan = plan
        self.channels = channels
        self.window = crossfade_window(plan.chunk, plan.overlap)
        self.next_index = 0
        self._base = 0  # first sample not yet returned
        self._acc = np.zeros((channels, 0), dtype=np.float64)
        self._weight = np.zeros(0, dtype=np.float64)

    @property
    def done(self) -> bool:
        return self.next_index == self.plan.num_chunks

    def add(self, index: int, chunk_out: np.ndarray) -> np.ndarray:
        """Add the output [C, chunk] of chunk ``index`` (must be the next one); return finished samples."""
        plan = self.plan
        if index != self.next_index:
            raise ValueError(f"chunk {index} added out of order (expected {self.next_index})")
        if chunk_out.shape != (self.channels, plan.chunk):
            raise ValueError(f"chunk output has shape {tuple(chunk_out.shape)}, expected {(self.channels, plan.chunk)}")
        start = plan.starts[index] - self._base
        end = start + plan.chunk
        if end > self._weight.shape[0]:
            grow = end - self._weight.shape[0]
            self._acc = np.concatenate([self._acc, np.zeros((self.channels, grow))], axis=1)
            self._weight = np.concatenate([self._weight, np.zeros(grow)])
        self._acc[:, start:end] += self.window * chunk_out.astype(np.float64)
        self._weight[start:end] += self.window
        self.next_index += 1
        final_upto = plan.starts[self.next_index] if not self.done else plan.length
        n = final_upto - self._base
        out = (self._acc[:, :n] / self._weight[:n]).astype(np.float32)
        self._acc = self._acc[:, n:]
        self._weight = self._weight[n:]
        self._base = final_upto
        return out


def split_chunks(wave: np.ndarray, plan: ChunkPlan) -> np.ndarray:
    """Signal [C, N] -> chunks [K, C, chunk] following ``plan``."""
    return np.stack([wave[:, s:s + plan.chunk] for s in plan.starts])


def overlap_add(chunks_out: np.ndarray, plan: ChunkPlan) -> np.ndarray:
    """Chunk outputs [K, C, chunk] -> cross-faded signal [C, N] (float32)."""
    adder = OverlapAdder(plan, chunks_out.shape[1])
    parts = [adder.add(k, chunks_out[k]) for k in range(plan.num_chunks)]
    return np.concatenate(parts, axis=1)


ChunkFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def enhance_chunked(wave: np.ndarray, fn: ChunkFn, chunk_samples: int, overlap_samples: int,
                    batch_size: int = 8, gain: np.ndarray | None = None) -> np.ndarray:
    """Run ``fn(rows [B, L], gain [B]) -> [B, L]`` over ``wave`` [C, N] chunk by chunk.

    ``gain`` [C] is the per-channel loudness factor shared by all chunks of the signal (computed
    from the whole signal with :func:`models.stft.loudness_gain` when omitted). Rows (one channel
    of one chunk each) are batched ``batch_size`` at a time; all rows of a signal have the same
    length, so nothing is padded and the result does not depend on ``batch_size``.
    """
    from models.stft import loudness_gain

    wave = np.asarray(wave, dtype=np.float32)
    channels = wave.shape[0]
    if gain is None:
        gain = loudness_gain(torch.from_numpy(wave)).numpy()
    plan = plan_chunks(wave.shape[1], chunk_samples, overlap_samples)
    rows = split_chunks(wave, plan).reshape(plan.num_chunks * channels, plan.chunk)
    row_gain = np.tile(np.asarray(gain, dtype=np.float32), plan.num_chunks)
    outs = []
    for i in range(0, rows.shape[0], batch_size):
        y = fn(torch.from_numpy(rows[i:i + batch_size]), torch.from_numpy(row_gain[i:i + batch_size]))
        outs.append(y.detach().float().cpu().numpy())
    chunks_out = np.concatenate(outs).reshape(plan.num_chunks, channels, plan.chunk)
    return overlap_add(chunks_out, plan)
