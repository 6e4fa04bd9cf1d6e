"""The same code on every device: enhance, batch, chain and train on CPU and, where one exists, on a GPU.

Each test is parametrised over the devices and precisions; the CUDA cases are skipped on a machine
without a GPU (this project's own machine has none), the CPU cases run everywhere, so the test code
itself is exercised on every run. The reference is always CPU fp32.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models import api
from models.batch_enhance import EnhanceOptions, enhance_paths

from test_train_fixtures import make_corpus, noisy_speechlike

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU on this machine")

#: (device, precision) cases; CUDA ones are skipped without a GPU.
CASES = [
    pytest.param("cpu", "fp32", id="cpu-fp32"),
    pytest.param("cpu", "bf16", id="cpu-bf16"),
    pytest.param("cuda", "fp32", id="cuda-fp32", marks=needs_cuda),
    pytest.param("cuda", "fp16", id="cuda-fp16", marks=needs_cuda),
    pytest.param("cuda", "bf16", id="cuda-bf16", marks=needs_cuda),
]
#: Lowest SNR [dB] of an output against the CPU fp32 output: fp32 differs only by kernel order;
#: half precisions round the network's activations (the STFT and iSTFT stay fp32).
MIN_SNR_DB = {"fp32": 60.0, "bf16": 25.0, "fp16": 35.0}  # CPU bf16 measured: 43-46 dB
MODEL = "masknet-psm-refine-soup-denoise"
CHUNKS = dict(chunk_seconds=1.0, overlap_seconds=0.25)  # several chunks per file, so batches mix files


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.sum((reference.astype(np.float64) - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(error, 1e-30)))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("in")
    for i, seconds in enumerate((2.7, 0.9, 4.3)):
        sf.write(root / f"f{i}.wav", noisy_speechlike(seconds, i), 16000, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def cpu_reference(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref")
    summary = enhance_paths([str(inputs)], str(out), api.load_model(MODEL, device="cpu"),
                            EnhanceOptions(batch_size=1, precision="fp32", **CHUNKS))
    assert summary.ok == 3
    return out


def _outputs(out: Path) -> dict[str, np.ndarray]:
    return {p.name: sf.read(p, dtype="float32")[0] for p in sorted(out.glob("*.wav"))}


@pytest.mark.parametrize("device,precision", CASES)
def test_a_directory_run_on_the_device_matches_cpu_fp32_and_batching_changes_nothing(
        device, precision, inputs, cpu_reference, tmp_path):
    model = api.load_model(MODEL, device=device)
    runs = {}
    for batch in (1, 4):
        out = tmp_path / f"b{batch}"
        options = EnhanceOptions(batch_size=batch, precision=precision, **CHUNKS)
        summary = enhance_paths([str(inputs)], str(out), model, options)
        assert summary.ok == 3 and summary.failed == 0
        runs[batch] = _outputs(out)
    reference = _outputs(cpu_reference)
    for name, ref in reference.items():
        one, four = runs[1][name], runs[4][name]
        assert one.shape == four.shape == ref.shape and np.isfinite(one).all()
        # Batching stacks rows; it must not change a row's result beyond the precision's rounding.
        assert snr_db(one, four) >= (80.0 if precision == "fp32" else MIN_SNR_DB[precision]), name
        assert snr_db(ref, one) >= MIN_SNR_DB[precision], name


@pytest.mark.parametrize("device,precision", CASES)
def test_a_chain_runs_on_the_device_like_its_models_in_turn(device, precision):
    from models.device import autocast
    from models.stft import loudness_gain

    x = torch.from_numpy(noisy_speechlike(1.3, 7))[None]
    chain = api.load_model(f"{MODEL}+masknet-map-bwe", device=device)
    first, second = api.load_model(MODEL, device=device), api.load_model("masknet-map-bwe", device=device)
    dev = torch.device(device)
    with torch.inference_mode(), autocast(precision, dev):
        xd = x.to(dev)
        gain = loudness_gain(xd)
        got = chain(xd).float().cpu().numpy()
        expected = second(first(xd, gain), gain).float().cpu().numpy()
    np.testing.assert_array_equal(got, expected)
    with torch.inference_mode():
        cpu = api.load_model(f"{MODEL}+masknet-map-bwe")(x).numpy()
    assert snr_db(cpu[0], got[0]) >= MIN_SNR_DB[precision]


@pytest.mark.parametrize("device,precision", CASES)
def test_the_universal_router_takes_the_routes_of_cpu_fp32_on_the_device(device, precision):
    """The router's classifier runs in float32 whatever the precision, so each row takes the route it takes on
    the CPU in fp32; the models on the route run at the precision (the rows here take different routes)."""
    from models.device import autocast

    rng = np.random.default_rng(4)
    clean = noisy_speechlike(1.5, 11, noise=0.0)
    reverberant = np.convolve(clean, np.r_[1.0, 0.5 * rng.standard_normal(3000) * np.exp(-np.arange(3000) / 800)])
    rows = np.stack([noisy_speechlike(1.5, 10, noise=0.05), clean, reverberant[: clean.size].astype(np.float32)])
    x = torch.from_numpy(rows)
    dev = torch.device(device)
    router = api.load_model("universal-router-v1", device=device)
    with torch.inference_mode(), autocast(precision, dev):
        got = router(x.to(dev)).float().cpu().numpy()
        routes = router.routes(x.to(dev))
    reference = api.load_model("universal-router-v1")
    with torch.inference_mode():
        expected = reference(x).numpy()
        assert routes == reference.routes(x) and len(set(routes)) > 1, routes
    for row in range(len(rows)):
        assert snr_db(expected[row], got[row]) >= MIN_SNR_DB[precision], row


@pytest.mark.parametrize("device,precision", [c for c in CASES if c.values[1] != "bf16" or c.values[0] == "cuda"])
def test_gre_enhance_and_gre_train_take_the_device_and_precision(device, precision, gre, tmp_path):
    """Through the installed entry point: `gre enhance --device --precision` writes what the API
    writes, and a few steps of `gre train --device --precision` give a finite loss and weights
    that load on the CPU."""
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", noisy_speechlike(2.2, 3), 16000, subtype="FLOAT")
    done = subprocess.run([gre, "enhance", src, tmp_path / "out", "--model", MODEL, "--device", device,
                           "--precision", precision, "--threads", "1", "--workers", "0", "--quiet"],
                          capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    with torch.inference_mode():
        cpu = api.enhance(sf.read(src / "a.wav", dtype="float32")[0], 16000, MODEL)
    assert snr_db(cpu, sf.read(tmp_path / "out" / "a.wav", dtype="float32")[0]) >= MIN_SNR_DB[precision]

    corpus = make_corpus(tmp_path / "corpus", n_clean=3, seconds=1.0)
    run = tmp_path / "run"
    trained = subprocess.run([gre, "train", "--task", "denoise", "--config", "tiny", "--clean", corpus["clean"],
                              "--noise", corpus["noise"], "--run-dir", run, "--steps", "3", "--batch-size", "2",
                              "--segment-seconds", "0.5", "--workers", "0", "--threads", "1", "--log-every", "1",
                              "--no-metric-disc", "--device", device, "--precision", precision],
                             capture_output=True, timeout=600)
    assert trained.returncode == 0, trained.stderr.decode()
    losses = [r["loss"] for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert losses and np.isfinite(losses).all()
    model = api.load_model(str(run / "model.safetensors"), device="cpu")
    with torch.inference_mode():
        assert torch.isfinite(model(torch.from_numpy(noisy_speechlike(0.5, 1))[None])).all()


@needs_cuda
def test_an_unknown_gpu_index_is_one_clear_error(gre, tmp_path):
    index = torch.cuda.device_count()
    done = subprocess.run([gre, "enhance", tmp_path, tmp_path / "out", "--model", MODEL, "--device", f"cuda:{index}"],
                          capture_output=True, timeout=300)
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and f"cuda:{index}" in lines[0]


def test_bf16_is_flagged_only_where_the_cpu_emulates_it(monkeypatch):
    """Without AVX512-BF16 or AMX, bf16 autocast on the CPU runs several times slower than fp32
    (bench/results/train_speed_avx2.md): that, and only that, earns the warning."""
    from models.device import cpu_runs_bf16_natively, precision_warning

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not cpu_runs_bf16_natively()
    warning = precision_warning("bf16", cpu)
    assert "emulated" in warning and "--precision fp32" in warning and "\n" not in warning
    assert precision_warning("fp32", cpu) is None and precision_warning("bf16", cuda) is None
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert cpu_runs_bf16_natively() and precision_warning("bf16", cpu) is None
    # A torch without these probes cannot tell: no warning rather than a false one.
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert cpu_runs_bf16_natively() and precision_warning("bf16", cpu) is None


def test_gre_enhance_warns_of_emulated_bf16_unless_quiet(gre, tmp_path):
    from models.device import precision_warning

    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "a.wav", noisy_speechlike(1.0, 2), 16000, subtype="FLOAT")
    expected = precision_warning("bf16", torch.device("cpu"))  # this machine's answer
    for quiet, out in ((False, "out"), (True, "out-quiet")):
        done = subprocess.run([gre, "enhance", src, tmp_path / out, "--model", MODEL, "--device", "cpu",
                               "--precision", "bf16", "--threads", "1", "--workers", "0", *(["--quiet"] if quiet else [])],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / out / "a.wav").is_file()
        shown = [line for line in done.stderr.splitlines() if "warning:" in line]
        assert shown == ([] if quiet or expected is None else [f"gre enhance: warning: {expected}"]), done.stderr
