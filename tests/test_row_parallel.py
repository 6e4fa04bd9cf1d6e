"""RowParallel: a batch split over concurrent one-thread streams gives the rows of one direct call."""
from __future__ import annotations

import threading

import pytest
import torch

from models.api import load_model
from models.row_parallel import RowParallel, default_streams

CPU = torch.device("cpu")


class Recorder(torch.nn.Module):
    """Scales each row by its gain and its index-free content; records what each call saw."""

    def __init__(self):
        super().__init__()
        self.calls: list[dict] = []
        self.lock = threading.Lock()

    def forward(self, x, gain):
        with self.lock:
            self.calls.append({"rows": x.shape[0], "thread": threading.current_thread().name,
                               "threads": torch.get_num_threads(), "inference": torch.is_inference_mode_enabled(),
                               "autocast": torch.is_autocast_enabled("cpu")})
        return (x * gain[:, None]).float()


def test_rows_keep_their_order_and_values():
    model = Recorder()
    runner = RowParallel(model, streams=3, precision="fp32", device=CPU)
    x = torch.arange(7 * 5, dtype=torch.float32).view(7, 5)
    gain = torch.arange(1, 8, dtype=torch.float32)
    try:
        y = runner(x, gain)
    finally:
        runner.close()
    torch.testing.assert_close(y, x * gain[:, None], rtol=0, atol=0)
    assert sorted(c["rows"] for c in model.calls) == [2, 2, 3]
    assert all(c["thread"].startswith("gre-stream") for c in model.calls)
    assert all(c["threads"] == 1 and c["inference"] and not c["autocast"] for c in model.calls)


def test_each_stream_enters_the_precision_autocast():
    model = Recorder()
    runner = RowParallel(model, streams=2, precision="bf16", device=CPU)
    try:
        runner(torch.ones(2, 4), torch.ones(2))
    finally:
        runner.close()
    assert len(model.calls) == 2 and all(c["autocast"] for c in model.calls)


def test_one_stream_or_one_row_calls_the_model_in_the_callers_thread():
    for streams, rows in ((1, 4), (4, 1)):
        model = Recorder()
        runner = RowParallel(model, streams=streams, precision="fp32", device=CPU)
        runner(torch.ones(rows, 3), torch.ones(rows))
        runner.close()
        assert [c["thread"] for c in model.calls] == [threading.current_thread().name]
        assert model.calls[0]["inference"]


def test_model_errors_reach_the_caller():
    class Broken(torch.nn.Module):
        def forward(self, x, gain):
            raise RuntimeError("boom")

    runner = RowParallel(Broken(), streams=2, precision="fp32", device=CPU)
    with pytest.raises(RuntimeError, match="boom"):
        runner(torch.ones(4, 3), torch.ones(4))
    runner.close()


@pytest.mark.parametrize("name", ["gre-tiny-random", "masknet-psm-denoise"])
def test_streams_equal_one_batched_call_on_real_networks(name):
    model = load_model(name).eval()
    torch.manual_seed(0)
    x = torch.randn(4, 16_000) * 0.1
    gain = torch.full((4,), 3.0)
    with torch.inference_mode():
        direct = model(x, gain)
    runner = RowParallel(model, streams=2, precision="fp32", device=CPU)
    try:
        streamed = runner(x, gain)
    finally:
        runner.close()
    torch.testing.assert_close(streamed, direct, rtol=1e-4, atol=1e-5)


def test_default_streams_follow_the_device():
    from models.batch_enhance import EnhanceOptions

    assert default_streams(CPU) == torch.get_num_threads()
    assert default_streams(torch.device("cuda")) == 1
    assert EnhanceOptions(streams=3).stream_count(CPU) == 3
    assert EnhanceOptions(streams=3).stream_count(torch.device("cuda")) == 1


def test_without_gain_each_row_is_called_without_one():
    seen = []

    class NoGain(torch.nn.Module):
        def forward(self, x, gain=None):
            seen.append(gain)
            return x * 2

    runner = RowParallel(NoGain(), streams=2, precision="fp32", device=CPU)
    try:
        y = runner(torch.ones(4, 3))
    finally:
        runner.close()
    torch.testing.assert_close(y, torch.full((4, 3), 2.0))
    assert seen == [None, None]


def test_rows_of_one_group_stay_in_one_stream_and_the_model_gets_their_group_ids():
    from models.row_parallel import _part_sizes

    # Without groups: the sizes tensor_split gives (as before groups existed).
    assert _part_sizes(0, 3, None) == []
    for rows in range(1, 9):
        assert _part_sizes(rows, 3, None) == [len(t) for t in torch.arange(rows).tensor_split(min(3, rows))]
    # Stereo chunks (pairs): no cut inside a pair, as even as the pairs allow.
    pairs = torch.arange(5).repeat_interleave(2)
    assert _part_sizes(10, 2, pairs) == [4, 6]  # the cut at row 5 moves to the nearer pair boundary below
    assert _part_sizes(10, 3, pairs) == [4, 2, 4]
    # One group only: one part, whatever the streams.
    assert _part_sizes(4, 2, torch.zeros(4, dtype=torch.long)) == [4]

    seen = []

    class Grouped(torch.nn.Module):
        routes_rows_in_groups = True

        def forward(self, x, gain, groups):
            seen.append(groups.tolist())
            return x + groups[:, None].float()

    runner = RowParallel(Grouped(), streams=2, precision="fp32", device=CPU)
    x = torch.zeros(6, 3)
    groups = torch.tensor([7, 7, 7, 8, 8, 9])
    try:
        y = runner(x, torch.ones(6), groups)
    finally:
        runner.close()
    torch.testing.assert_close(y, groups[:, None].float().expand(6, 3))
    assert sorted(seen) == [[7, 7, 7], [8, 8, 9]]
