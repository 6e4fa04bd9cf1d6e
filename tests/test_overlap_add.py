"""Chunked overlap-add: exact identity, chunk layout, batching independence, short inputs whole."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models import api
from models.overlap_add import (OverlapAdder, crossfade_window, enhance_chunked, overlap_add, plan_chunks,
                                split_chunks)

CHUNK, OVERLAP = 1000, 250


@pytest.fixture(autouse=True)
def one_thread():
    # Small tensors: one thread avoids OpenMP stalls on a shared, busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def identity(rows: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    return rows.clone()


@pytest.mark.parametrize("length", [1, 7, 999, 1000, 1001, 1750, 1751, 2500, 4 * 750 + 250, 4 * 750 + 251, 12345])
@pytest.mark.parametrize("overlap", [0, 1, OVERLAP, CHUNK // 2])
def test_identity_network_returns_the_input_exactly(length, overlap):
    x = np.random.default_rng(length).standard_normal((3, length)).astype(np.float32)
    y = enhance_chunked(x, identity, CHUNK, overlap, batch_size=5)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.array_equal(y, x)


@pytest.mark.parametrize("length", [1001, 1750, 1751, 5000, 12345])
def test_plan_uses_full_length_chunks_that_cover_the_signal(length):
    plan = plan_chunks(length, CHUNK, OVERLAP)
    assert plan.chunk == CHUNK and plan.starts[0] == 0 and plan.starts[-1] == length - CHUNK
    assert all(b - a <= CHUNK - OVERLAP for a, b in zip(plan.starts, plan.starts[1:]))  # overlap >= OVERLAP
    assert all(b > a for a, b in zip(plan.starts, plan.starts[1:]))
    chunks = split_chunks(np.arange(length, dtype=np.float32)[None], plan)
    assert chunks.shape == (plan.num_chunks, 1, CHUNK)  # never padded


@pytest.mark.parametrize("length", [0, 1, 999, 1000])
def test_signals_up_to_one_chunk_are_one_whole_chunk(length):
    plan = plan_chunks(length, CHUNK, OVERLAP)
    assert plan.whole and plan.chunk == length and plan.starts == (0,)
    assert plan_chunks(10**6, 0, 0).whole  # chunk 0: always whole


def test_window_ramps_are_positive_and_complementary():
    w = crossfade_window(CHUNK, OVERLAP)
    assert (w > 0).all() and w.max() == 1.0
    np.testing.assert_allclose(w[CHUNK - OVERLAP:] + w[:OVERLAP], 1.0, atol=1e-12)


def test_overlap_longer_than_half_a_chunk_is_refused():
    with pytest.raises(ValueError, match="half a chunk"):
        plan_chunks(5000, CHUNK, CHUNK // 2 + 1)


def test_streaming_adder_holds_about_one_chunk_and_refuses_disorder():
    length = 50_000
    plan = plan_chunks(length, CHUNK, OVERLAP)
    x = np.random.default_rng(0).standard_normal((2, length)).astype(np.float32)
    adder = OverlapAdder(plan, 2)
    with pytest.raises(ValueError, match="out of order"):
        adder.add(1, x[:, :CHUNK])
    out = []
    for k, chunk in enumerate(split_chunks(x, plan)):
        out.append(adder.add(k, chunk))
        assert adder._weight.shape[0] <= CHUNK  # buffered samples never exceed one chunk
    assert adder.done and np.array_equal(np.concatenate(out, axis=1), x)


def test_pure_overlap_add_crossfades_two_constant_chunks():
    plan = plan_chunks(1750, CHUNK, OVERLAP)
    chunks = np.stack([np.zeros((1, CHUNK)), np.ones((1, CHUNK))]).astype(np.float32)
    y = overlap_add(chunks, plan)[0]
    assert np.all(y[:750] == 0) and np.all(y[1000:] == 1)
    assert np.all(np.diff(y[750:1000]) >= 0)  # a monotone cross-fade, no step


@pytest.fixture(scope="module")
def tiny():
    return api.load_model("gre-tiny-random")


def test_batched_equals_one_at_a_time_with_a_real_network(tiny):
    x = (0.1 * np.random.default_rng(1).standard_normal((2, 5 * 1600 + 37))).astype(np.float32)
    fn = lambda rows, gain: tiny(rows, gain)  # noqa: E731
    with torch.inference_mode():
        one = enhance_chunked(x, fn, 1600, 400, batch_size=1)
        batched = enhance_chunked(x, fn, 1600, 400, batch_size=7)
    assert np.abs(one - batched).max() <= 1e-4


def test_short_input_is_identical_to_whole_file_processing(tiny):
    x = (0.1 * np.random.default_rng(2).standard_normal((2, 1500))).astype(np.float32)
    with torch.inference_mode():
        whole = tiny(torch.from_numpy(x)).numpy()
        chunked = enhance_chunked(x, lambda rows, gain: tiny(rows, gain), 1600, 400, batch_size=4)
    assert np.array_equal(whole, chunked)


def test_gain_is_computed_once_per_signal_not_per_chunk():
    x = np.concatenate([np.full(2000, 0.01), np.full(2000, 1.0)]).astype(np.float32)[None]
    seen = []

    def record(rows, gain):
        seen.extend(gain.tolist())
        return rows

    enhance_chunked(x, record, 1000, 200)
    assert len(set(seen)) == 1  # one factor for every chunk: the loud half does not change the quiet half's gain
