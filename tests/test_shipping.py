"""Shipping a training run (models.shipping, bench/ship_model.py): weights + sha256, registration
through the generated shipped.py, model card figures, manifest updates. Tiny run, tiny fake eval
root, temporary weights folder (never the real models/weights)."""
from __future__ import annotations

import importlib.util
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models import registry
from models.shipping import ShipError, ShipRequest, ship_model
from models.shipping.card import cell
from models.shipping.eval_sets import shared_eval_sets
from models.shipping.heldout import HeldoutSpec
from models.shipping.run_info import RunDirProblem
from models.train import TrainConfig, train
from models.train.config import default_losses

from test_train_fixtures import RATE, make_corpus, make_router_file, speechlike

REPO = Path(__file__).resolve().parents[1]
#: set -> (degraded dir, reference dir), as in ../shared/eval.
SETS = {"vbd": ("noisy", "clean"), "vbd-snr": ("noisy", "clean"), "dns": ("noisy", "clean"),
        "reverb": ("reverb", "clean"), "bwe-4k": ("narrowband", "wideband"), "bwe-8k": ("narrowband", "wideband")}


def _degrade(name: str, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if name == "reverb":
        rir = np.r_[1.0, 0.4 * rng.standard_normal(1200) * np.exp(-np.arange(1200) / 300)]
        return np.convolve(clean, rir)[: len(clean)].astype(np.float32)
    if name.startswith("bwe"):
        spec = np.fft.rfft(clean)
        spec[int(len(spec) * (4000 if name == "bwe-8k" else 2000) / (RATE / 2)):] = 0
        return np.fft.irfft(spec, len(clean)).astype(np.float32)
    return (clean + 0.03 * rng.standard_normal(len(clean))).astype(np.float32)


@pytest.fixture(scope="module")
def eval_root(tmp_path_factory) -> Path:
    """Two short synthetic pairs per set, laid out like ../shared/eval."""
    root = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(3)
    for k, (name, (degraded, reference)) in enumerate(SETS.items()):
        for sub in (degraded, reference):
            (root / name / sub).mkdir(parents=True)
        for i in range(2):
            clean = speechlike(int(0.8 * RATE) + 301 * i + 17, 40 + 2 * k + i)
            sf.write(root / name / reference / f"u{i}.wav", clean, RATE)
            sf.write(root / name / degraded / f"u{i}.wav", _degrade(name, clean, rng), RATE)
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished tiny denoise run with validation (best.safetensors, model.safetensors, log, last.pt)."""
    corpus = make_corpus(tmp_path_factory.mktemp("corpus"), n_clean=3, seconds=1.0)
    cfg = TrainConfig(task="denoise", clean_dirs=(str(corpus["clean"]),), noise_dirs=(str(corpus["noise"]),),
                      val_clean_dirs=(str(corpus["val"]),), config_name="tiny", steps=2, batch_size=1,
                      segment_seconds=0.5, workers=0, threads=1, ckpt_every=1, log_every=1, val_every=1,
                      val_files=2, keep_weights=True, losses=default_losses("denoise", metric_disc=False))
    run = tmp_path_factory.mktemp("run") / "denoise"
    with pytest.MonkeyPatch.context() as patch:  # curves.png is not needed and costs seconds
        patch.setattr("models.train.loop.plot_curves", lambda run_dir: False)
        train(cfg, run, quiet=False)  # quiet=True would write no log.jsonl
    return run


@pytest.fixture()
def weights_dir(tmp_path, monkeypatch) -> Path:
    """A temporary models/weights with a private copy of the registry tables."""
    d = tmp_path / "weights"
    d.mkdir()
    monkeypatch.setattr(registry, "WEIGHTS_DIR", d)
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    monkeypatch.setattr(registry, "DEFAULT_FOR_TASK", dict(registry.DEFAULT_FOR_TASK))
    return d


def _register_shipped(weights_dir: Path) -> None:
    """What `import models.registry` does with the real folder: run the generated shipped.py."""
    runpy.run_path(str(weights_dir / "shipped.py"))


def _manifest(weights_dir: Path) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads((weights_dir / "shipped.json").read_text())["models"]}


def _ship_script():
    spec = importlib.util.spec_from_file_location("ship_model_script", REPO / "bench" / "ship_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _card_row(card: str, set_label: str, system: str) -> list[str]:
    for line in card.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 3 and cells[0] == set_label and cells[1] == system:
            return cells[3:]
    raise AssertionError(f"no row {set_label} / {system} in the card")


def test_ship_registers_the_weights_and_the_card_has_the_measured_figures(run_dir, eval_root, weights_dir, tmp_path):
    from models import api
    from models.evaluate import evaluate

    name = "gre-denoise-test"
    kept = tmp_path / "kept"
    result = ship_model(ShipRequest(run_dir=run_dir, name=name, tasks=("denoise",), default_for=("denoise",),
                                    eval_root=eval_root, notes="Trial shipment for the tests.", keep_outputs=kept),
                        weights_dir)

    # Weights: a byte copy of best.safetensors, its sha256 recorded.
    target = weights_dir / f"{name}.safetensors"
    assert result.weights_path == target
    assert target.read_bytes() == (run_dir / "best.safetensors").read_bytes()
    entry = _manifest(weights_dir)[name]
    assert entry["sha256"] == registry.sha256_of(target) == result.entry.sha256
    assert entry["default_for"] == ["denoise"] and entry["tasks"] == ["denoise"]
    assert not list(weights_dir.glob(".*.tmp"))

    # Registration: the generated shipped.py makes it the denoise default, loadable by name.
    _register_shipped(weights_dir)
    assert registry.default_model_for("denoise") == name
    model = api.load_model(name)
    assert model.info.name == name and model.info.config_name == "tiny"
    assert api.load_model(task="denoise").info.name == name

    # The kept outputs are the model's: the public API on a file gives the same signal.
    noisy, rate = sf.read(eval_root / "vbd" / "noisy" / "u1.wav", dtype="float32")
    shipped_out, _ = sf.read(kept / "vbd" / name / "u1.wav", dtype="float32")
    np.testing.assert_allclose(shipped_out, api.enhance(noisy, rate, model), atol=2e-4)

    # Card: every figure equals an independent evaluate call on the same files.
    card = (weights_dir / f"{name}.md").read_text()
    assert card == result.card
    assert "Trial shipment for the tests." in card and "recipes/debian/build_corpus.sh" in card
    assert f"--model {name}" in card and "gre evaluate --ref" in card
    best_step = [json.loads(r) for r in (run_dir / "log.jsonl").read_text().splitlines()
                 if '"best": true' in r][-1]["step"]
    assert f"| **best** | {best_step} |" in card and f"shipped weights from step {best_step}" in card
    assert "| initial weights | random (trained from scratch) |" in card
    metrics = ("pesq_wb", "stoi", "si_sdr")
    for label in ("vbd", "vbd-snr", "dns"):
        res = evaluate(eval_root / label / "clean", [kept / label / name, eval_root / label / "noisy"],
                       metrics=",".join(metrics), jobs=1)
        for system, row in ((res.systems[name], f"**{name}**"), (res.systems["noisy"], "noisy (input)")):
            assert _card_row(card, label, row) == [cell(system.mean[m], system.ci95[m], m) for m in metrics]
        assert entry["eval"][label]["model"]["mean"]["pesq_wb"] == pytest.approx(res.systems[name].mean["pesq_wb"])


def test_card_names_the_weights_a_fine_tune_started_from(tmp_path):
    from models.shipping.card import _initial_weights

    assert _initial_weights("") == "random (trained from scratch)"
    registered = _initial_weights("masknet-psm-denoise")
    assert registered.startswith("registered model `masknet-psm-denoise`") and "this run's only" in registered
    start = tmp_path / "start.safetensors"
    start.write_bytes(b"x")
    from_file = _initial_weights(str(start))
    # the path as cards print it (relative when near the repository): its file name is always there
    assert from_file.startswith("`") and f"{start.name}` (a fine-tune" in from_file and "not included" in from_file


def test_card_counts_the_synthetic_speech_a_run_trained_on(tmp_path):
    from models.shipping.card import _synthetic_share

    files = [{"path": "/c/speech/train/asterisk-en/a.wav", "frames": 32000, "source_rate_hz": 16000},
             {"path": "/c/speech/train/tts-flite-awb/tts-flite-awb_0001.wav", "frames": 48000, "source_rate_hz": 16000},
             {"path": "/c/speech/train/tts-festival-kal/b.wav", "frames": 24000, "source_rate_hz": 16000}]
    listing = tmp_path / "files_clean.json"
    listing.write_text(json.dumps({"files": files}))
    count, hours = _synthetic_share(listing)
    assert count == 2 and hours == pytest.approx(72000 / 16000 / 3600)
    listing.write_text(json.dumps({"files": files[:1]}))
    assert _synthetic_share(listing) is None  # real speech only: no sentence about TTS
    assert _synthetic_share(tmp_path / "missing.json") is None


def test_second_model_is_added_and_the_same_name_replaced(run_dir, eval_root, weights_dir):
    first = ship_model(ShipRequest(run_dir=run_dir, name="gre-a", tasks=("dereverb",), default_for=("dereverb",),
                                   eval_root=eval_root), weights_dir)
    # The second one through the script, as the lead engineer will run it.
    args = ["--run-dir", str(run_dir), "--name", "gre-b", "--weights", "last", "--tasks", "dereverb",
            "--eval-root", str(eval_root), "--weights-dir", str(weights_dir)]
    code = _ship_script().main(args)
    assert code == 0
    shipped = _manifest(weights_dir)
    assert sorted(shipped) == ["gre-a", "gre-b"]
    assert shipped["gre-a"]["sha256"] == first.entry.sha256
    assert shipped["gre-b"]["sha256"] == registry.sha256_of(run_dir / "model.safetensors")
    assert "last weights" in shipped["gre-b"]["source"]
    assert (weights_dir / "gre-a.md").is_file() and (weights_dir / "gre-b.md").is_file()
    assert "python bench/ship_model.py --run-dir" in (weights_dir / "gre-b.md").read_text()

    # Shipping gre-b again as the dereverb default: one gre-b entry, gre-a kept but no longer default.
    ship_model(ShipRequest(run_dir=run_dir, name="gre-b", tasks=("dereverb",), default_for=("dereverb",),
                           eval_root=eval_root, notes="second version"), weights_dir)
    shipped = _manifest(weights_dir)
    assert sorted(shipped) == ["gre-a", "gre-b"]
    assert shipped["gre-b"]["default_for"] == ["dereverb"] and shipped["gre-a"]["default_for"] == []
    card_a = (weights_dir / "gre-a.md").read_text()
    assert "| default for | - (the dereverb default until " in card_a and "replaced by `gre-b`) |" in card_a
    assert card_a.count("| default for |") == 1 and "| reverb |" in card_a  # the rest as it was
    assert "second version" in (weights_dir / "gre-b.md").read_text()
    assert (weights_dir / "shipped.py").read_text().count("register(RegistryEntry(") == 2
    _register_shipped(weights_dir)
    assert registry.default_model_for("dereverb") == "gre-b"
    assert registry.get_entry("gre-a").available and registry.get_entry("gre-b").available


def test_averaged_weights_ship_and_the_card_names_the_averaged_steps(run_dir, eval_root, weights_dir, tmp_path,
                                                                     capsys):
    import shutil

    from models.weights_average import average_checkpoints

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    args = ["--run-dir", str(run), "--name", "gre-avg", "--weights", "averaged", "--tasks", "denoise",
            "--eval-root", str(eval_root), "--weights-dir", str(weights_dir)]
    assert _ship_script().main(args) == 2
    assert "averaged.safetensors: missing (write it with gre average-weights" in capsys.readouterr().err
    average_checkpoints(sorted((run / "weights").iterdir()), run / "averaged.safetensors")
    assert _ship_script().main(args) == 0
    entry = _manifest(weights_dir)["gre-avg"]
    assert entry["sha256"] == registry.sha256_of(run / "averaged.safetensors")
    assert "averaged weights (the average of 2 checkpoints (steps 1, 2))" in entry["source"]
    card = (weights_dir / "gre-avg.md").read_text()
    assert "the average of 2 checkpoints (steps 1, 2) of this run" in card
    assert "configured; shipped weights: the average of 2 checkpoints (steps 1, 2) |" in card
    # An average of whole weight files (a model and its fine-tune: no steps) is not called checkpoints of the run.
    from models.checkpoint import load_checkpoint, save_checkpoint

    weight_files = []
    for i, step_file in enumerate(sorted((run / "weights").iterdir())):
        ckpt = load_checkpoint(step_file)  # re-saved without its step, as a registered model's file is
        weight_files.append(tmp_path / f"model-{i}.safetensors")
        save_checkpoint(weight_files[-1], ckpt.state_dict, arch=ckpt.arch, config=ckpt.config,
                        config_name=ckpt.config_name, sample_rate_hz=ckpt.sample_rate_hz, tasks=ckpt.tasks)
    average_checkpoints(weight_files, run / "averaged.safetensors")
    assert _ship_script().main([*args[:3], "gre-soup", *args[4:]]) == 0
    card = (weights_dir / "gre-soup.md").read_text()
    assert ("(the average of 2 weight files (model-0.safetensors, model-1.safetensors), made by `gre average-weights`)"
            in card)
    assert "of this run" not in card and "checkpoints (steps" not in card


def test_phase_retrieval_model_is_scored_on_clean_input_next_to_griffin_lim(run_dir, eval_root, weights_dir,
                                                                            tmp_path):
    from models.checkpoint import load_checkpoint, save_checkpoint

    # A phase-retrieval "run": the tiny weights re-exported in phase-retrieval mode.
    phase_run = tmp_path / "phase-run"
    phase_run.mkdir()
    config = json.loads((run_dir / "config.json").read_text())
    (phase_run / "config.json").write_text(json.dumps({**config, "task": "phase", "noise_dirs": []}))
    ck = load_checkpoint(run_dir / "model.safetensors")
    save_checkpoint(phase_run / "model.safetensors", ck.state_dict, arch=ck.arch, config=ck.config,
                    config_name=ck.config_name, sample_rate_hz=ck.sample_rate_hz, tasks=("phase",),
                    mode="phase_retrieval")
    result = ship_model(ShipRequest(run_dir=phase_run, name="gre-phase-test", weights="last",
                                    default_for=("phase",), eval_root=eval_root), weights_dir)
    assert result.entry.mode == "phase_retrieval" and result.entry.tasks == ("phase",)
    (scores,) = result.scores
    assert scores.spec.input_dir == eval_root / "vbd" / "clean" and scores.baseline.name == "griffin-lim"
    assert set(scores.model.mean) == {"pesq_wb", "stoi", "si_sdr", "pd"}
    assert len(_card_row(result.card, "vbd-phase", "griffin-lim (baseline)")) == 4
    assert "--model griffin-lim" in result.card
    _register_shipped(weights_dir)
    assert registry.default_model_for("phase") == "gre-phase-test"


def test_unusable_requests_are_refused_before_anything_is_written(run_dir, eval_root, weights_dir, tmp_path):
    def ship(**kw):
        return ship_model(ShipRequest(**{"run_dir": run_dir, "name": "gre-x", "eval_root": eval_root, **kw}),
                          weights_dir)

    with pytest.raises(ShipError, match="phase-retrieval model"):
        ship(tasks=("denoise", "phase"))
    with pytest.raises(ShipError, match="must be among --tasks"):
        ship(tasks=("denoise",), default_for=("bwe",))
    with pytest.raises(ShipError, match="built-in"):
        ship(name="wiener")
    with pytest.raises(ShipError, match="--name"):
        ship(name="Bad Name")
    with pytest.raises(ValueError, match="evaluation folder"):
        ship(eval_root=tmp_path / "nowhere")
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    (empty_run / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(RunDirProblem, match="best.safetensors: missing"):
        ship(run_dir=empty_run)
    assert list(weights_dir.iterdir()) == []


def test_evaluation_plan_per_task(eval_root):
    labels = lambda tasks: [s.label for s in shared_eval_sets(tasks, eval_root)]  # noqa: E731
    assert labels(("universal",)) == ["vbd", "vbd-snr", "dns", "reverb", "bwe-4k", "bwe-8k"]
    assert labels(("denoise", "universal")) == labels(("universal",))
    (bwe4, bwe8) = shared_eval_sets(("bwe",), eval_root)
    assert (bwe4.input_name, bwe4.reference_name, bwe4.metrics) == ("narrowband", "wideband",
                                                                    ("pesq_wb", "stoi", "si_sdr", "lsd"))
    (phase,) = shared_eval_sets(("phase",), eval_root)
    assert phase.input_dir == phase.reference_dir == eval_root / "vbd" / "clean" and "pd" in phase.metrics


def test_the_real_weights_folder_is_a_valid_manifest():
    """models/weights/shipped.py is the generated text of models/weights/shipped.json."""
    from models.shipping.manifest import read_manifest, render_python

    real = Path(__file__).resolve().parents[1] / "models" / "weights"
    assert (real / "shipped.py").read_text() == render_python(read_manifest(real))
    for entry in read_manifest(real):
        assert (real / f"{entry.name}.md").is_file()
        if entry.stages:  # a chain or router: every model it runs is registered
            assert all(s in registry.REGISTRY for s in entry.stages)
        if entry.arch == "chain":  # no file of its own
            assert entry.weights_file is None
        else:  # a model, or a router's classifier
            assert (real / entry.weights_file).is_file()


SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def _real_entries():
    from models.shipping.manifest import read_manifest

    return read_manifest(Path(__file__).resolve().parents[1] / "models" / "weights")


@pytest.mark.parametrize("entry", _real_entries(), ids=lambda e: e.name)
def test_each_shipped_model_is_intact_registered_and_loads(entry):
    """The file matches its sha256 (a chain: the files of its models), the registry serves it for its
    tasks, and it enhances."""
    import torch

    from models import api, registry

    own = [entry] if entry.weights_file else []  # a router has a file of its own and models
    for part in own + [registry.get_entry(s) for s in entry.stages]:
        if part.weights_file:  # a classical stage (Wiener) has none
            assert registry.sha256_of(registry.WEIGHTS_DIR / part.weights_file) == part.sha256
    assert registry.get_entry(entry.name).sha256 == entry.sha256
    assert registry.get_entry(entry.name).stages == entry.stages
    for task in entry.default_for:
        assert registry.default_model_for(task) == entry.name
    model = api.load_model(entry.name)
    wave = torch.randn(1, 12345) * 0.05
    out = model(wave)
    assert out.shape == wave.shape and torch.isfinite(out).all()


@pytest.mark.skipif(not SHARED_EVAL.is_dir(), reason="needs ../shared/eval")
@pytest.mark.parametrize("entry", _real_entries(), ids=lambda e: e.name)
def test_each_shipped_model_reproduces_its_cards_first_figure(entry, tmp_path):
    """Regression: the first ../shared/eval set of the card, enhanced again, gives the card's PESQ-WB."""
    from models import api
    from models.evaluate import evaluate
    from models.shipping.eval_sets import enhance_dir

    name, scores = next((k, v) for k, v in entry.eval.items() if v["group"] == "shared")
    set_dir = SHARED_EVAL / name
    degraded = "clean" if entry.mode == "phase_retrieval" else next(
        d for d in ("noisy", "reverb", "narrowband") if (set_dir / d).is_dir())
    reference = "wideband" if (set_dir / "wideband").is_dir() else "clean"
    enhance_dir(api.load_model(entry.name), set_dir / degraded, tmp_path / "out")
    result = evaluate(set_dir / reference, [tmp_path / "out"], metrics="pesq_wb", jobs=1)
    summary = next(iter(result.systems.values()))
    assert summary.mean["pesq_wb"] == pytest.approx(scores["model"]["mean"]["pesq_wb"], abs=2e-3)


def test_a_ship_that_finishes_during_another_keeps_both_entries(run_dir, eval_root, weights_dir):
    """Two ships at once (each evaluates for minutes): the one that writes last re-reads the registry
    instead of writing the list it read at its start, so the other's entry survives."""
    started = []

    def finish_another_ship_meanwhile(message: str) -> None:
        if not started:  # the first progress message: this ship has read the registry and is evaluating
            started.append(message)
            ship_model(ShipRequest(run_dir=run_dir, name="gre-other", tasks=("dereverb",), default_for=("dereverb",),
                                   eval_root=eval_root), weights_dir)

    ship_model(ShipRequest(run_dir=run_dir, name="gre-late", tasks=("dereverb",), default_for=("dereverb",),
                           eval_root=eval_root), weights_dir, progress=finish_another_ship_meanwhile)
    shipped = _manifest(weights_dir)
    assert started and sorted(shipped) == ["gre-late", "gre-other"]
    assert shipped["gre-late"]["default_for"] == ["dereverb"] and shipped["gre-other"]["default_for"] == []
    assert "replaced by `gre-late`" in (weights_dir / "gre-other.md").read_text()


def test_heldout_dereverb_pairs_with_background_noise(tmp_path):
    """build_heldout_set with reverb noise: needs a noise folder, and adds the noise at the asked SNR
    to the input only (a unit-impulse room, so reverberant speech = target)."""
    from models.data.degrade import DegradeConfig, active_power
    from models.shipping.heldout import HeldoutSpec, build_heldout_set

    dirs = make_corpus(tmp_path / "corpus")
    rir_dir = tmp_path / "rir"
    rir_dir.mkdir()
    impulse = np.zeros(400, np.float32)
    impulse[0] = 1.0
    sf.write(rir_dir / "dry.wav", impulse, RATE)
    cfg = DegradeConfig(reverb_noise_prob=1.0, reverb_noise_snr_range_db=(10.0, 10.0))
    spec = HeldoutSpec((str(dirs["val"]),), rir_dirs=(str(rir_dir),), files=2)
    evs, why = build_heldout_set(spec, "dereverb", cfg, tmp_path / "out")
    assert evs is None and "--heldout-noise" in why
    spec = HeldoutSpec((str(dirs["val"]),), noise_dirs=(str(dirs["noise"]),), rir_dirs=(str(rir_dir),), files=2)
    evs, why = build_heldout_set(spec, "dereverb", cfg, tmp_path / "out")
    assert why is None
    pairs = sorted(evs.input_dir.glob("*.wav"))
    assert len(pairs) == 2
    for path in pairs:
        x, _ = sf.read(path, dtype="float32")
        y, _ = sf.read(evs.reference_dir / path.name, dtype="float32")
        snr = 10 * np.log10(active_power(y) / np.mean((x - y).astype(np.float64) ** 2))
        assert snr == pytest.approx(10.0, abs=0.5)


def test_a_chain_ships_without_weights_registers_its_models_and_its_card_has_the_measured_figures(
        eval_root, weights_dir, tmp_path):
    from models import api
    from models.chain import ChainedEnhancer
    from models.evaluate import evaluate
    from models.shipping import ChainShipRequest, ship_chain

    name, stages = "wiener-then-tiny", ("wiener", "gre-tiny-random")
    kept = tmp_path / "kept"
    corpus = make_corpus(tmp_path / "corpus", n_clean=3, seconds=1.0)
    heldout = HeldoutSpec(
        (str(corpus["val"]),), noise_dirs=(str(corpus["noise"]),), files=2)
    result = ship_chain(ChainShipRequest(stages=stages, name=name, tasks=("denoise",), default_for=("denoise",),
                                         eval_root=eval_root, heldout=heldout, notes="A trial chain.",
                                         keep_outputs=kept), weights_dir)
    assert result.weights_path is None and not list(weights_dir.glob("*.safetensors"))
    entry = _manifest(weights_dir)[name]
    assert entry["stages"] == list(stages) and entry["weights_file"] is None and entry["arch"] == "chain"
    assert entry["config_name"] == "wiener+gre-tiny-random" and entry["default_for"] == ["denoise"]

    _register_shipped(weights_dir)
    assert registry.default_model_for("denoise") == name
    model = api.load_model(task="denoise")
    assert isinstance(model, ChainedEnhancer) and model.info.name == name and model.info.tasks == ("denoise",)
    assert [s.info.name for s in model.stages] == list(stages)
    noisy, rate = sf.read(eval_root / "vbd" / "noisy" / "u1.wav", dtype="float32")
    shipped_out, _ = sf.read(kept / "vbd" / name / "u1.wav", dtype="float32")
    np.testing.assert_allclose(shipped_out, api.enhance(noisy, rate, "wiener+gre-tiny-random"), atol=2e-4)

    card = (weights_dir / f"{name}.md").read_text()
    assert card == result.card and "A trial chain." in card and "--model wiener+gre-tiny-random" in card
    assert "| 1 | `wiener` |" in card and "| 2 | `gre-tiny-random` |" in card
    assert "`DegradeConfig()`" in card and "heldout-denoise" in card
    metrics = ("pesq_wb", "stoi", "si_sdr")
    res = evaluate(eval_root / "dns" / "clean", [kept / "dns" / name, eval_root / "dns" / "noisy"],
                   metrics=",".join(metrics), jobs=1)
    assert _card_row(card, "dns", f"**{name}**") == [cell(res.systems[name].mean[m], res.systems[name].ci95[m], m)
                                                     for m in metrics]


def test_unusable_chains_are_refused_before_anything_is_written(eval_root, weights_dir):
    from models.shipping import ChainShipRequest, ship_chain

    def ship(stages, **kw):
        request = {"stages": stages, "name": "chain-x", "tasks": ("denoise",), "eval_root": eval_root, **kw}
        return ship_chain(ChainShipRequest(**request), weights_dir)

    for stages, needle in [(("wiener",), "at least two"), (("wiener", "no-such-model"), "not a registered model"),
                           (("wiener", "griffin-lim"), "phase_retrieval model"),
                           (("wiener", "chain-x"), "not a registered model")]:
        with pytest.raises(ShipError, match=needle):
            ship(stages)
    with pytest.raises(ShipError, match="--tasks"):
        ship(("wiener", "gre-tiny-random"), tasks=())
    with pytest.raises(ShipError, match="must be among --tasks"):
        ship(("wiener", "gre-tiny-random"), default_for=("bwe",))
    registry.register(registry.RegistryEntry(name="a-chain", arch="chain", config_name="wiener+wiener",
                                             tasks=("denoise",), mode="enhance", stages=("wiener", "wiener")))
    with pytest.raises(ShipError, match="itself a chain"):
        ship(("wiener", "a-chain"))
    with pytest.raises(ShipError, match="one of the chain's models"):
        ship(("wiener", "gre-tiny-random"), name="gre-tiny-random")
    assert list(weights_dir.iterdir()) == []


def test_a_router_ships_with_its_classifier_registers_its_models_and_its_card_has_the_measured_figures(
        eval_root, weights_dir, tmp_path):
    from models import api
    from models.evaluate import evaluate
    from models.router import RoutedEnhancer
    from models.shipping import RouterShipRequest, ship_router

    router, report = make_router_file(tmp_path / "r")
    name, kept = "router-x", tmp_path / "kept"
    result = ship_router(RouterShipRequest(router_file=router, name=name, default_for=("universal",),
                                           eval_root=eval_root, notes="A trial router.", keep_outputs=kept),
                         weights_dir)
    entry = _manifest(weights_dir)[name]
    assert entry["arch"] == "router" and entry["tasks"] == ["universal"] and entry["default_for"] == ["universal"]
    assert entry["stages"] == ["gre-tiny-random"] * 3 and entry["weights_file"] == f"{name}.safetensors"
    assert registry.sha256_of(result.weights_path) == entry["sha256"] == registry.sha256_of(router)

    _register_shipped(weights_dir)
    assert registry.default_model_for("universal") == name and registry.get_entry(name).available
    model = api.load_model(task="universal")
    assert isinstance(model, RoutedEnhancer) and model.info.name == name
    noisy, rate = sf.read(eval_root / "vbd" / "noisy" / "u1.wav", dtype="float32")
    shipped_out, _ = sf.read(kept / "vbd" / name / "u1.wav", dtype="float32")
    np.testing.assert_allclose(shipped_out, api.enhance(noisy, rate, router), atol=2e-4)

    card = (weights_dir / f"{name}.md").read_text()
    assert card == result.card and "A trial router." in card and "## The classifier" in card
    assert f"noise {report['val_accuracy']['noise']:.3f}" in card and "| denoise | `gre-tiny-random` |" in card
    metrics = ("pesq_wb", "stoi", "si_sdr")
    res = evaluate(eval_root / "dns" / "clean", [kept / "dns" / name, eval_root / "dns" / "noisy"],
                   metrics=",".join(metrics), jobs=1)
    assert _card_row(card, "dns", f"**{name}**")[:3] == [cell(res.systems[name].mean[m], res.systems[name].ci95[m], m)
                                                     for m in metrics]


def test_unusable_routers_are_refused_before_anything_is_written(eval_root, weights_dir, tmp_path, run_dir):
    from models.shipping import RouterShipRequest, ship_router
    from models.train.degradation import ClassifierTrainConfig, load_router_file, save_router

    router, _ = make_router_file(tmp_path / "r")
    classifier, _ = load_router_file(router)
    unknown = tmp_path / "unknown.safetensors"
    save_router(classifier, unknown, ("gre-tiny-random", "no-such-model", "masknet-map-bwe"),
                ClassifierTrainConfig((), (), ()), {})

    def ship(path, **kw):
        return ship_router(RouterShipRequest(router_file=path, **{"name": "router-x", "eval_root": eval_root, **kw}),
                           weights_dir)

    for path, kw, needle in [(run_dir / "best.safetensors", {}, "not a router file"),
                             (unknown, {}, "not a registered model"),
                             (router, {"tasks": ("phase",)}, "phase-retrieval model"),
                             (router, {"name": "gre-tiny-random"}, "one of the router's models")]:
        with pytest.raises(ShipError, match=needle):
            ship(path, **kw)
    assert list(weights_dir.iterdir()) == []


def test_ship_script_refuses_a_chain_with_a_run_dir_or_weights_or_without_tasks(run_dir, capsys):
    script = _ship_script()
    for argv in (["--chain", "wiener", "gre-tiny-random", "--run-dir", str(run_dir), "--name", "x1", "--tasks",
                  "denoise"],
                 ["--chain", "wiener", "gre-tiny-random", "--weights", "last", "--name", "x1", "--tasks", "denoise"],
                 ["--chain", "wiener", "gre-tiny-random", "--name", "x1"]):
        with pytest.raises(SystemExit) as exit_info:
            script.main(argv)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err and "has none of its own" in err and "needs --tasks" in err
