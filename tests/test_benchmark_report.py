"""Benchmark results: the JSON schema, quality rows (task mapping, random weights), markdown and plot files."""
from __future__ import annotations

import json
import math

import pytest

from models.bench import BenchmarkError, BenchmarkOptions, run_benchmark
from models.bench.quality import discover_sets, set_task
from test_metrics_signals import speechlike, white_noise_at_snr, write


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def quality_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    for i in range(2):
        x = speechlike(1.3, seed=60 + i)
        write(root / "vbd" / "clean" / f"u{i}.wav", x)
        write(root / "vbd" / "noisy" / f"u{i}.wav", x + white_noise_at_snr(x, 5.0, seed=i))
        write(root / "vbd" / "mpsenet" / f"u{i}.wav", x)  # published outputs: ignored
    (root / "not-a-set").mkdir()
    return root


@pytest.fixture(scope="module")
def result(quality_dir):
    return run_benchmark(BenchmarkOptions(threads=1, 
        models=("gre-tiny-random", "wiener"), peers=("griffin-lim",), device="cpu", precisions=("fp32", "bf16"),
        seconds=0.5, batch_sizes=(1, 2), chunk_seconds=(0.25,), warmup=0, repeats=2, quality_dir=quality_dir,
        isolate=False), command="gre benchmark --test")


def test_json_schema(result, tmp_path):
    path = tmp_path / "b.json"
    result.write_json(path)
    data = json.loads(path.read_text())  # strict JSON: no NaN
    assert data["schema"] == "gre-benchmark/1" and data["command"] == "gre benchmark --test"
    assert set(data) == {"schema", "command", "environment", "settings", "notes", "systems", "sets", "speed", "quality"}
    env = data["environment"]
    for key in ("python", "torch", "cpu", "logical_cpus", "threads", "load_average_start", "load_average_end"):
        assert key in env
    assert data["settings"]["repeats"] == 2 and data["settings"]["metrics"] == ["pesq_wb", "stoi", "si_sdr", "pd"]
    assert {"rtf", "memory", "macs", "throughput", "quality"} <= set(data["settings"]["methods"])

    systems = {s["id"]: s for s in data["systems"]}
    assert set(systems) == {"gre-tiny-random", "wiener", "griffin-lim"}
    tiny = systems["gre-tiny-random"]
    assert tiny["random_weights"] is True and tiny["params"] > 0 and tiny["macs_per_second"] > 0
    assert systems["wiener"]["params"] == 0 and systems["wiener"]["macs_per_second"] is None
    assert systems["griffin-lim"]["kind"] == "peer" and systems["griffin-lim"]["params"] is None

    # precisions: networks get both, wiener fp32 only, peers "native"
    assert [(r["system"], r["precision"]) for r in data["speed"]] == [
        ("gre-tiny-random", "fp32"), ("gre-tiny-random", "bf16"), ("wiener", "fp32"), ("griffin-lim", "native")]
    for r in data["speed"]:
        assert r["errors"] == []
        w = r["whole"]
        assert w["batch_size"] == 1 and w["seconds"] == 0.5 and len(w["times_s"]) == 2 and len(w["cpu_s"]) == 2
        assert r["rtf"] == pytest.approx(w["median_s"] / 0.5) and w["peak_rss_mib"] > 0
        assert r["peak_rss_mib"] == w["peak_rss_mib"]
        grid = [(p["batch_size"], p["seconds"]) for p in r["throughput"]]
        assert grid == ([(1, 0.25)] if r["system"] == "griffin-lim" else [(1, 0.25), (2, 0.25)])
        for p in r["throughput"]:
            assert p["throughput"] == pytest.approx(p["batch_size"] * p["seconds"] / p["median_s"])
    assert any("wiener" in n and "fp32 only" in n for n in data["notes"])

    assert data["sets"] == [{"name": "vbd", "task": "denoise", "reference": str(result.sets[0].reference),
                             "degraded": str(result.sets[0].degraded)}]
    q = {(r["system"], r["precision"]): r for r in data["quality"]}
    assert q[("input", "-")]["status"] == "ok" and q[("input", "-")]["n"] == 2
    assert q[("wiener", "fp32")]["status"] == "ok" and q[("wiener", "fp32")]["n"] == 2
    for metric in ("pesq_wb", "stoi", "si_sdr", "pd"):
        assert math.isfinite(q[("wiener", "fp32")]["metrics"][metric])
    # the Wiener filter improves SI-SDR of white noise at 5 dB
    assert q[("wiener", "fp32")]["metrics"]["si_sdr"] > q[("input", "-")]["metrics"]["si_sdr"]
    for prec in ("fp32", "bf16"):
        assert q[("gre-tiny-random", prec)]["status"] == "skipped"
        assert q[("gre-tiny-random", prec)]["reason"] == "random weights, speed only"
    assert q[("griffin-lim", "native")]["status"] == "skipped" and "denoise" in q[("griffin-lim", "native")]["reason"]


def test_markdown_and_plot_are_written(result, tmp_path):
    md, png = tmp_path / "out" / "b.md", tmp_path / "out" / "b.png"
    result.write_markdown(md)
    result.plot(png)
    text = md.read_text()
    assert "`gre benchmark --test`" in text and "Load average" in text
    assert "| system | precision | params M | GMAC/s | RTF |" in text and "vbd PESQ" in text
    assert "random weights, speed only" in text and "## Throughput" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_rich_tables_render(result):
    from rich.console import Console

    from models.bench.report import rich_tables

    console = Console(width=250, record=True)
    for table in rich_tables(result):
        console.print(table)
    out = console.export_text()
    assert "gre-tiny-random" in out and "wiener" in out and "audio s per wall s" in out


def test_set_discovery_and_tasks(quality_dir):
    assert [s.name for s in discover_sets(quality_dir)] == ["vbd"]
    assert set_task("dns", "noisy") == "denoise" and set_task("reverb", "reverb") == "dereverb"
    assert set_task("bwe-4k", "narrowband") == "bwe" and set_task("mine", "narrowband") == "bwe"
    with pytest.raises(ValueError, match="not a quality set"):
        discover_sets(quality_dir, ["not-a-set"])


@pytest.mark.parametrize("options, message", [
    (dict(models=("no-such-model",)), "no-such-model"),
    (dict(models=("gre:nope",)), "gre:nope"),
    (dict(peers=("dfn4",)), "unknown peer"),
    (dict(repeats=0), "--repeats"),
    (dict(precisions=("fp16",)), "CUDA"),
    (dict(sets=("vbd",)), "--sets needs --quality"),
])
def test_usage_errors(options, message):
    base = dict(models=("wiener",), peers=("none",), device="cpu", isolate=False)
    with pytest.raises(BenchmarkError, match=message):
        run_benchmark(BenchmarkOptions(**{**base, **options}))
