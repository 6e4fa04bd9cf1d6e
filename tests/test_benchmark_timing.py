"""The benchmark's timing loop: warm-up and repeat counts, RTF from the recorded times (fake clock)."""
from __future__ import annotations

import numpy as np
import pytest

from models.bench import BenchmarkOptions, run_benchmark
from models.bench.timing import bench_signal, time_point
from models.bench.worker import SpeedJob, run_speed


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingModel:
    """Advances the fake wall clock by the next duration on each call; counts calls and prepares."""

    def __init__(self, clock: FakeClock, durations: list[float], cpu: FakeClock | None = None):
        self.clock, self.durations, self.cpu = clock, durations, cpu
        self.calls = self.prepares = 0
        self.shapes = []

    def prepare(self) -> None:
        self.prepares += 1
        self.clock.now += 1000.0  # untimed work: must not show in the times

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.shapes.append(x.shape)
        self.clock.now += self.durations[self.calls]
        if self.cpu is not None:
            self.cpu.now += 2 * self.durations[self.calls]
        self.calls += 1
        return x


def test_warmup_and_repeats_are_honoured_and_rtf_is_the_median_of_timed_calls():
    clock, cpu = FakeClock(), FakeClock()
    model = CountingModel(clock, [50.0, 40.0, 3.0, 9.0, 6.0], cpu)  # two warm-up calls, then 3 timed
    point = time_point(model, batch_size=1, seconds=2.0, warmup=2, repeats=3, clock=clock, cpu_clock=cpu)
    assert model.calls == 5 and model.prepares == 5
    assert point.times_s == (3.0, 9.0, 6.0)  # warm-up calls and prepare() excluded
    assert point.cpu_s == (6.0, 18.0, 12.0)
    assert point.median_s == 6.0
    assert point.rtf == pytest.approx(6.0 / 2.0)
    assert point.cpu_per_audio_s == pytest.approx(12.0 / 2.0)
    assert point.throughput == pytest.approx(2.0 / 6.0)
    assert model.shapes == [(1, 32_000)] * 5  # one signal of 2 s at 16 kHz


def test_throughput_counts_every_row_of_the_batch():
    clock = FakeClock()
    model = CountingModel(clock, [1.0, 2.0, 2.0])
    point = time_point(model, batch_size=4, seconds=0.5, warmup=0, repeats=3, clock=clock)
    assert model.calls == 3 and model.shapes[0] == (4, 8_000)
    assert point.throughput == pytest.approx(4 * 0.5 / 2.0)
    assert point.rtf == pytest.approx(2.0 / 2.0)


def test_run_speed_reports_the_fake_models_times():
    clock = FakeClock()
    model = CountingModel(clock, [7.0, 1.0, 5.0, 3.0])
    model.info = None
    out = run_speed(SpeedJob("model", "fake", "fp32", "cpu", 1, 4.0, 1, 3), system=model, clock=clock)
    assert model.calls == 4
    assert out["point"]["times_s"] == [1.0, 5.0, 3.0]
    assert out["point"]["rtf"] == pytest.approx(3.0 / 4.0)
    assert out["macs_per_second"] is None


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        time_point(CountingModel(FakeClock(), [1.0]), 1, 1.0, warmup=0, repeats=0)


def test_bench_signal_is_deterministic_and_bounded():
    a, b = bench_signal(2, 1234, seed=3), bench_signal(2, 1234, seed=3)
    assert a.shape == (2, 1234) and a.dtype == np.float32
    assert np.array_equal(a, b) and np.max(np.abs(a)) <= 0.3 + 1e-6 and not np.array_equal(a[0], a[1])


def test_runner_calls_each_setting_warmup_plus_repeats_times(monkeypatch):
    """Through run_benchmark (in process): every setting gets warm-up + repeats calls."""
    import models.bench.systems as systems

    made = []
    real = systems.load_system

    def counting_load(kind, spec, precision="fp32", device="cpu"):
        inner = real(kind, spec, precision, device)
        counter = {"calls": 0, "shapes": []}

        class Wrapped:
            info, module, device = inner.info, getattr(inner, "module", None), getattr(inner, "device", None)

            def prepare(self):
                inner.prepare()

            def __call__(self, x):
                counter["calls"] += 1
                counter["shapes"].append(x.shape)
                return inner(x)

        made.append(counter)
        return Wrapped()

    monkeypatch.setattr(systems, "load_system", counting_load)
    result = run_benchmark(BenchmarkOptions(models=("gre-tiny-random",), peers=("none",), device="cpu", seconds=0.5,
                                            batch_sizes=(1, 2), chunk_seconds=(0.25,), warmup=2, repeats=3,
                                            threads=1, isolate=False))
    assert [c["calls"] for c in made] == [5, 5, 5]  # whole signal, b1 x 0.25 s, b2 x 0.25 s
    assert [c["shapes"][0] for c in made] == [(1, 8000), (1, 4000), (2, 4000)]
    row = result.speed[0]
    assert len(row.whole.times_s) == 3 and row.whole.warmup == 2
    assert row.whole.rtf == pytest.approx(float(np.median(row.whole.times_s)) / 0.5)
    assert [(p.batch_size, p.seconds) for p in row.throughput] == [(1, 0.25), (2, 0.25)]
    assert result.macs["gre-tiny-random"] > 0
