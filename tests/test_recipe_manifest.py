"""The corpus manifest: built from a tiny fake corpus, checked against its schema, deterministic."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
import corpus_build as cb  # noqa: E402
import corpus_sources as cs  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb (Debian) is not available")

RATE = 16_000


def _fake_deb(debs: Path, name: str, version: str) -> None:
    root = debs.parent / f"build-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: gre tests <t@example.org>\n"
        "Description: fake package for the corpus recipe tests\n")
    subprocess.run(["dpkg-deb", "--build", "-Zgzip", str(root), str(debs / f"{name}_{version}_all.deb")],
                   check=True, capture_output=True)


def _tone(seconds: float, f0: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(int(f0))
    return (0.3 * np.sin(2 * np.pi * f0 * t) * (t > 0.2) + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "corpus"
    debs = out / "cache" / "debs"
    debs.mkdir(parents=True)
    _fake_deb(debs, "gre-test-train", "1.0-1")
    _fake_deb(debs, "gre-test-heldout", "2.0-1")
    for pkg, rate in (("gre-test-train", 22_050), ("gre-test-heldout", 44_100)):
        raw = out / "cache" / "raw" / pkg
        (raw / "speech").mkdir(parents=True)
        (raw / "noise").mkdir()
        for i in range(3):
            sf.write(raw / "speech" / f"utt{i}.wav", _tone(1.0 + i * 0.1, 200 + 50 * i, rate), rate)
        sf.write(raw / "noise" / "hum.wav", _tone(2.0, 100, rate), rate)
    sources = (
        cs.Source("spk-a", "speech", "train", "gre-test-train", "speech", r"\.wav$", speakers=("a",)),
        cs.Source("noise-a", "noise", "train", "gre-test-train", "noise", r"\.wav$", min_seconds=0.5),
        cs.Source("spk-b", "speech", "heldout", "gre-test-heldout", "speech", r"\.wav$", speakers=("b",)),
        cs.Source("noise-b", "noise", "heldout", "gre-test-heldout", "noise", r"\.wav$", min_seconds=0.5),
    )
    rooms = cs.RoomRange(2, "ism", (3.0, 3.5), (3.0, 3.5), (2.5, 2.7), (0.2, 0.25), max_order=4)
    t = cs.Tier("ci", (cs.Package("gre-test-train", "CC0"), cs.Package("gre-test-heldout", "CC-BY-SA-3.0")),
                sources, rooms={"train": rooms, "heldout": rooms}, synthetic_noise={"heldout": 1})
    for s in sources:
        cb.convert_source(out, t, s, jobs=1)
    cb.write_synthetic_noise(out, t, seed=5)
    for split in ("train", "heldout"):  # RIR rows as build_rirs writes them (pyroomacoustics not needed)
        cb.write_tsv(out / "meta" / f"rir-{split}-sim.tsv",
                     [{"file": f"sim_{split}_{i:05d}.wav", "rt60_measured_s": 0.3 + 0.1 * i} for i in range(2)])
    return out, t


def test_manifest_schema_and_counts(corpus):
    out, t = corpus
    m = cb.build_manifest(out, t, seed=5)
    cb.validate_manifest(m)
    json.dumps(m)  # plain JSON data
    assert m["packages"]["gre-test-train"]["version"] == "1.0-1"
    assert m["packages"]["gre-test-heldout"]["licence"] == "CC-BY-SA-3.0"
    assert m["splits"]["speech"]["train"]["files"] == 3
    assert m["splits"]["speech"]["heldout"]["minutes"] == pytest.approx((1.0 + 1.1 + 1.2) / 60, abs=0.01)
    assert m["splits"]["noise"]["heldout"]["files"] == 2  # one real + one synthetic
    assert m["sources"]["spk-a"]["native_rates_hz"] == {"22050": 3}
    assert m["rirs"]["train"]["files"] == 2
    for p in (out / "speech" / "train" / "spk-a").glob("*.wav"):
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
    assert sorted(p.name for p in (out / "noise" / "train").glob("*.wav")) == ["noise-a__hum.wav"]


def test_manifest_is_deterministic_and_rebuild_is_skipped(corpus):
    out, t = corpus
    first = cb.build_manifest(out, t, seed=5)
    before = {p: p.stat().st_mtime_ns for p in (out / "speech").rglob("*.wav")}
    for s in t.sources:  # stamps match: nothing is converted again
        cb.convert_source(out, t, s, jobs=1)
    assert {p: p.stat().st_mtime_ns for p in (out / "speech").rglob("*.wav")} == before
    assert cb.build_manifest(out, t, seed=5) == first


def test_manifest_counts_the_heldout_synthetic_noise(corpus, tmp_path):
    out, t = corpus
    copy_out = tmp_path / "corpus"
    shutil.copytree(out, copy_out)
    cb.write_heldout_synthetic_noise(copy_out, seed=5, files=3)
    m = cb.build_manifest(copy_out, t, seed=5)
    cb.validate_manifest(m)  # the second held-out noise condition is a known split of noise only
    assert m["splits"]["noise"][cb.HELDOUT_SYNTHETIC_SPLIT] == {"files": 3, "minutes": 1.5,
                                                               "sources": ["brown", "pink", "white"]}
    m["splits"]["speech"][cb.HELDOUT_SYNTHETIC_SPLIT] = m["splits"]["noise"][cb.HELDOUT_SYNTHETIC_SPLIT]
    with pytest.raises(ValueError, match="unknown split 'heldout-synthetic'"):
        cb.validate_manifest(m)


def test_manifest_counts_tts_voices_as_train_speech(corpus, tmp_path):
    import corpus_tts as tts
    out, t = corpus
    out = Path(shutil.copytree(out, tmp_path / "corpus"))  # the module's corpus stays without TTS
    _fake_deb(out / "cache" / "debs", tts.TEXT_PACKAGE, "1.0.1-1")
    rows = [{"file": f"{v.name}_0000.wav", "voice": v.name, "speaker": v.speaker, "stretch": 1.0, "pitch_factor": "",
             "seconds": 3.0, "kept": 1, "reason": "", "text": f"line {i} of the text"}
            for i, v in enumerate(tts.VOICES)]
    rows.append(dict(rows[0], file="failed.wav", kept=0, reason="engine_failed", seconds=0.0))
    cb.write_tsv(out / "meta" / f"{cb.TTS_STEP}.tsv", rows)
    m = cb.build_manifest(out, t, seed=5)
    cb.validate_manifest(m)
    assert m["splits"]["speech"]["train"]["files"] == 3 + len(tts.VOICES)
    assert m["splits"]["speech"]["train"]["minutes"] == pytest.approx(
        cb.build_manifest(corpus[0], t, seed=5)["splits"]["speech"]["train"]["minutes"] + len(tts.VOICES) * 0.05)
    assert m["tts"]["text"]["version"] == "1.0.1-1" and len(m["tts"]["text"]["sha256"]) == 64
    assert {v["speaker"] for v in m["tts"]["voices"].values()} == set(tts.speakers())
    m["tts"]["voices"][tts.VOICES[0].name]["speaker"] = "b"  # a TTS voice that is also a held-out speaker
    with pytest.raises(ValueError, match="speaker on both sides"):
        cb.validate_manifest(m)


@pytest.mark.parametrize("breakage", ["no_version", "bad_split", "leak", "no_rirs", "bad_rate"])
def test_validation_names_the_problem(corpus, breakage):
    out, t = corpus
    m = copy.deepcopy(cb.build_manifest(out, t, seed=5))
    if breakage == "no_version":
        m["packages"]["gre-test-train"]["version"] = ""
    elif breakage == "bad_split":
        m["sources"]["spk-a"]["split"] = "dev"
    elif breakage == "leak":
        m["sources"]["spk-b"]["speakers"] = ["a"]
    elif breakage == "no_rirs":
        m["rirs"]["heldout"]["files"] = 0
    else:
        m["sample_rate_hz"] = 8000
    with pytest.raises(ValueError, match="manifest.json"):
        cb.validate_manifest(m)
