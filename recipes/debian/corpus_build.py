"""The Python steps of ``build_corpus.sh``: convert sources, build RIR banks, write the manifest.

Each step records what it made in ``OUT/meta/*.tsv`` and a stamp ``OUT/meta/.done-<step>``
holding a fingerprint of its recipe; a step whose stamp matches is skipped, so re-running the
build is cheap and a changed recipe rebuilds only what changed.

    python corpus_build.py convert OUT --tier full --kind speech --split train --group base --jobs 2
    python corpus_build.py rirs OUT --tier full --split train --seed 20261121 --jobs 2
    python corpus_build.py real-rirs OUT --tier full
    python corpus_build.py synth-noise OUT --tier ci --seed 20261121
    python corpus_build.py synth-heldout-noise OUT --seed 20261121
    python corpus_build.py tts OUT --tier full --seed 20261121 --jobs 2 --lines-per-voice 300
    python corpus_build.py manifest OUT --tier full --seed 20261121
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import corpus_audio as ca
import corpus_tts as tts
from corpus_sources import SPLITS, TIERS, RoomRange, Source, Tier, check_splits, tier

RECIPE_VERSION = 1
BATCH = 24  # files per worker task (and per ffmpeg call for G.722)
LAYOUT = {
    "speech": "speech/<split>/<source>/*.wav (16 kHz mono PCM_16)",
    "noise": "noise/<split>/<source>__<file>.wav (16 kHz mono PCM_16)",
    "rir": "rir/<split>/*.wav (16 kHz mono float32, peak 1)",
    "meta": "meta/*.tsv (one row per input file: kept or why dropped)",
}


def log(msg: str) -> None:
    print(f"[corpus] {msg}", file=sys.stderr, flush=True)


# --- stamps -----------------------------------------------------------------------------------

def fingerprint(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stamp_path(out: Path, step: str) -> Path:
    return out / "meta" / f".done-{step}"


def is_done(out: Path, step: str, fp: str) -> bool:
    p = stamp_path(out, step)
    return p.is_file() and p.read_text().strip() == fp


def mark_done(out: Path, step: str, fp: str) -> None:
    p = stamp_path(out, step)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(fp + "\n")


def write_tsv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    tmp.replace(path)


def read_tsv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


# --- packages ---------------------------------------------------------------------------------

def raw_dir(out: Path, package: str) -> Path:
    return out / "cache" / "raw" / package


def deb_file(out: Path, package: str) -> Path:
    debs = sorted((out / "cache" / "debs").glob(f"{package}_*.deb"))
    if not debs:
        raise FileNotFoundError(f"{out}/cache/debs: no .deb for {package}; run build_corpus.sh (it downloads them)")
    return debs[-1]


def deb_version(deb: Path) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                          check=True).stdout.strip()


# --- conversion -------------------------------------------------------------------------------

def list_inputs(root: Path, source: Source) -> list[Path]:
    """Files under ``root`` matching the source's pattern and not its exclusion, sorted."""
    pat = re.compile(source.pattern)
    excl = re.compile(source.exclude) if source.exclude else None
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and pat.search(rel) and not (excl and excl.search(rel)):
            out.append(p)
    return out


def output_name(rel: str) -> str:
    """``a/b c/d.ogg`` -> ``a__b_c__d.wav``: flat, readable, unique within a source."""
    stem = rel.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__")) + ".wav"


Job = tuple[str, str, str, "float | None", float, int]  # src, dst, rel, max floor, min s, max rate


def convert_batch(jobs: list[Job]) -> list[dict]:
    """Convert a batch of files (G.722 files decoded by one ffmpeg call); one metadata row each."""
    g722 = [j for j in jobs if j[0].lower().endswith(".g722")]
    decoded: dict[str, ca.Decoded | ca.DecodeError] = dict(
        zip([j[0] for j in g722], ca.decode_g722_batch([j[0] for j in g722])))
    rows = []
    for job in jobs:
        d = decoded.get(job[0])
        if d is None:
            try:
                d = ca.decode(job[0])
            except ca.DecodeError as err:
                d = err
        rows.append(convert_decoded(job, d))
    return rows


def convert_decoded(job: Job, d: "ca.Decoded | ca.DecodeError") -> dict:
    """Check, resample to 16 kHz and write one decoded file; returns its metadata row."""
    src, dst, rel, max_floor, min_seconds, max_rate = job
    row = {"file": Path(dst).name, "input": rel, "rate_hz": 0, "seconds": 0.0, "floor_dbfs": "",
           "gain": 1.0, "kept": 0, "reason": ""}
    if isinstance(d, ca.DecodeError):
        row["reason"] = "undecodable"
        log(str(d))
        return row
    row["rate_hz"] = d.rate_hz
    if d.rate_hz > max_rate or d.rate_hz < 8000:
        row["reason"] = "bad_rate"  # e.g. KLettres files tagged 128 kHz: their real rate is unknown
        return row
    x = ca.to_rate(d.samples, d.rate_hz)
    row["seconds"] = round(len(x) / ca.SAMPLE_RATE_HZ, 4)
    floor = ca.noise_floor_dbfs(x, ca.SAMPLE_RATE_HZ)
    row["floor_dbfs"] = round(floor, 2) if np.isfinite(floor) else ""
    if len(x) < min_seconds * ca.SAMPLE_RATE_HZ:
        row["reason"] = "too_short"
    elif ca.peak_level_dbfs(x, ca.SAMPLE_RATE_HZ) < ca.SILENT_DBFS:
        row["reason"] = "silent"
    elif max_floor is not None and not floor < max_floor:
        row["reason"] = "noisy_floor"
    else:
        row["gain"] = round(ca.write_pcm16(dst, x), 4)
        row["kept"] = 1
    return row


def tally(rows: list[dict]) -> tuple[list[dict], float, dict[str, int]]:
    """(kept rows, their minutes, count of dropped rows per reason) of freshly made metadata rows."""
    kept = [r for r in rows if r["kept"]]
    dropped: dict[str, int] = {}
    for r in rows:
        if not r["kept"]:
            dropped[r["reason"]] = dropped.get(r["reason"], 0) + 1
    return kept, sum(float(r["seconds"]) for r in kept) / 60, dropped


def source_out_dir(out: Path, s: Source) -> Path:
    # Noise is flat under noise/<split>/ (the trainer globs noise/<split>/*.wav); the source name
    # prefixes each file instead.
    return out / s.kind / s.split / s.name if s.kind == "speech" else out / s.kind / s.split


def convert_source(out: Path, t: Tier, s: Source, jobs: int) -> None:
    deb = deb_file(out, s.package)
    fp = fingerprint({"v": RECIPE_VERSION, "source": asdict(s), "deb": deb.name})
    step = f"{s.kind}-{s.split}-{s.name}"
    if is_done(out, step, fp):
        log(f"{step}: already built")
        return
    root = raw_dir(out, s.package) / s.root
    if not root.is_dir():
        raise SystemExit(f"{root}: not found; the package {s.package} was not extracted (re-run build_corpus.sh)")
    inputs = list_inputs(root, s)
    if not inputs:
        raise SystemExit(f"{root}: no files match {s.pattern!r} for source {s.name}; check the recipe table")
    dest = source_out_dir(out, s)
    prefix = "" if s.kind == "speech" else f"{s.name}__"
    if s.kind == "speech" and dest.exists():
        shutil.rmtree(dest)  # a rebuilt source must not keep files its new filter drops
    elif dest.exists():
        for old in dest.glob(f"{prefix}*.wav"):
            old.unlink()
    t0 = time.time()
    job_list = [(str(p), str(dest / (prefix + output_name(p.relative_to(root).as_posix()))),
                 p.relative_to(root).as_posix(), s.max_floor_dbfs, s.min_seconds, s.max_rate_hz) for p in inputs]
    batches = [job_list[i:i + BATCH] for i in range(0, len(job_list), BATCH)]
    with mp.get_context("fork").Pool(jobs) as pool:
        rows = [row for batch in pool.imap(convert_batch, batches) for row in batch]
    write_tsv(out / "meta" / f"{step}.tsv", rows)
    kept, minutes, dropped = tally(rows)
    log(f"{step}: {len(kept)}/{len(rows)} files kept, {minutes:.1f} min, dropped {dropped or 'none'} "
        f"({time.time() - t0:.0f} s)")
    mark_done(out, step, fp)


def cmd_convert(args: argparse.Namespace) -> None:
    t = tier(args.tier)
    for s in t.sources:
        if ((args.kind is None or s.kind == args.kind) and (args.split is None or s.split == args.split)
                and (args.group is None or t.package(s.package).group == args.group)
                and (args.source is None or s.name == args.source)):
            convert_source(args.out, t, s, args.jobs)


# --- RIRs -------------------------------------------------------------------------------------

def _rir_job(job: tuple[str, int, str, int, str]) -> dict:
    import corpus_rirs

    rooms_json, seed, split, index, dst = job
    rooms = RoomRange(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(rooms_json).items()})
    h, info = corpus_rirs.simulate_rir(rooms, seed, split, index, ca.SAMPLE_RATE_HZ)
    ca.write_atomic(dst, h, ca.SAMPLE_RATE_HZ, "FLOAT")
    return {"file": Path(dst).name, **asdict(info)}


def build_rirs(out: Path, rooms: RoomRange, split: str, seed: int, jobs: int) -> None:
    """Simulate ``rooms.count`` RIRs into ``out/rir/<split>/sim_<split>_<i>.wav`` (skipped if built)."""
    fp = fingerprint({"v": RECIPE_VERSION, "rooms": asdict(rooms), "seed": seed})
    step = f"rir-{split}-sim"
    if is_done(out, step, fp):
        log(f"{step}: already built")
        return
    dest = out / "rir" / split
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("sim_*.wav"):
        old.unlink()
    t0 = time.time()
    rooms_json = json.dumps(asdict(rooms))
    job_list = [(rooms_json, seed, split, i, str(dest / f"sim_{split}_{i:05d}.wav")) for i in range(rooms.count)]
    with mp.get_context("fork").Pool(jobs) as pool:
        rows = list(pool.imap(_rir_job, job_list, chunksize=4))
    write_tsv(out / "meta" / f"{step}.tsv", rows)
    rt = np.array([r["rt60_measured_s"] for r in rows], dtype=float)
    log(f"{step}: {len(rows)} RIRs ({rooms.method}), measured RT60 mean {np.nanmean(rt):.2f} s "
        f"({time.time() - t0:.0f} s)")
    mark_done(out, step, fp)


def cmd_rirs(args: argparse.Namespace) -> None:
    build_rirs(args.out, tier(args.tier).rooms[args.split], args.split, args.seed, args.jobs)


def write_real_rirs(out: Path, t: Tier) -> None:
    """The tier's measured IRs, resampled to 16 kHz, into ``out/rir/heldout/real_<name>.wav``."""
    import corpus_rirs

    rows = []
    for r in t.real_rirs:
        path = raw_dir(out, r.package) / r.path
        d, rate = _read_channel(path, r.channel)
        h = corpus_rirs.prepare_real_rir(ca.to_rate(d.astype(np.float32), rate), ca.SAMPLE_RATE_HZ)
        dst = out / "rir" / "heldout" / f"real_{r.name}.wav"
        ca.write_atomic(dst, h, ca.SAMPLE_RATE_HZ, "FLOAT")
        rows.append({"file": dst.name, "package": r.package, "input": r.path, "rate_hz": rate,
                     "seconds": round(len(h) / ca.SAMPLE_RATE_HZ, 4)})
    if rows:
        write_tsv(out / "meta" / "rir-heldout-real.tsv", rows)
    log(f"rir-heldout-real: {len(rows)} measured IRs")


def cmd_real_rirs(args: argparse.Namespace) -> None:
    write_real_rirs(args.out, tier(args.tier))


def _read_channel(path: Path, channel: int) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return data[:, min(channel, data.shape[1] - 1)], int(rate)


# --- synthetic noise --------------------------------------------------------------------------

SYNTHETIC_SECONDS = 30
NOISE_COLOURS = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0, "violet": 2.0}


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose power spectrum goes as f**exponent; unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    x = np.fft.irfft(spec * f ** (exponent / 2), n)
    return x / np.sqrt(np.mean(x ** 2))


def synthetic_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """[n] samples of a noise ``kind`` (a key of NOISE_COLOURS, or "hum50" / "hum60": mains hum
    with 7 harmonics falling as 1/k over a faint white floor); unit RMS."""
    if kind.startswith("hum"):
        f0 = float(kind[3:])
        tt = np.arange(n) / ca.SAMPLE_RATE_HZ
        x = sum(np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
        x = x + 0.05 * rng.standard_normal(n)
        return x / np.sqrt(np.mean(x ** 2))
    return coloured_noise(n, NOISE_COLOURS[kind], rng)


def write_synthetic_noise(out: Path, t: Tier, seed: int) -> None:
    """The tier's synthetic noise files (30 s each): coloured noises and mains hum with harmonics."""
    for split, count in t.synthetic_noise.items():
        dest = out / "noise" / split
        rng = np.random.default_rng([seed, 4242])
        names = list(NOISE_COLOURS) + ["hum50", "hum60"]
        for i in range(count):
            kind = names[i % len(names)]
            x = synthetic_noise(kind, SYNTHETIC_SECONDS * ca.SAMPLE_RATE_HZ, rng)
            ca.write_pcm16(dest / f"synthetic__{kind}_{i:02d}.wav", (0.1 * x).astype(np.float32))
        log(f"noise-{split}-synthetic: {count} files of {SYNTHETIC_SECONDS} s")


# --- the second held-out noise condition: steady noise and babble ----------------------------

#: Folder (under noise/) of the held-out noise the game packages lack: steady noise (coloured,
#: hum) and babble of held-out talkers. Kept apart from noise/heldout, which validation and the
#: earlier held-out comparisons use, so that those stay comparable; pass it to
#: ``bench/heldout_compare.py --heldout-noise`` as a second condition.
HELDOUT_SYNTHETIC_SPLIT = "heldout-synthetic"
#: One cycle of kinds; the files go round it, so babble is 5 of every 12 files.
HELDOUT_SYNTHETIC_KINDS = (*NOISE_COLOURS, "hum50", "hum60", "babble", "babble", "babble", "babble", "babble")
HELDOUT_SYNTHETIC_FILES = 24
BABBLE_TALKERS = 6


def babble(speech: dict[str, list[Path]], n: int, talkers: int, rng: np.random.Generator) -> np.ndarray:
    """[n] samples of ``talkers`` voices talking at once, unit RMS. ``speech``: speech files by source
    (one source, one voice or set of voices). Each talker is one source, drawn without replacement
    while sources last, whose files (in random order) are laid end to end to fill n samples; every
    talker gets the same active power."""
    import soundfile as sf

    names = sorted(speech)
    order = rng.permutation(len(names))
    x = np.zeros(n)
    for j in range(talkers):
        files = speech[names[int(order[j % len(names)])]]
        track, filled = np.zeros(n), 0
        while filled < n:
            y, _ = sf.read(str(files[int(rng.integers(0, len(files)))]), dtype="float64")
            take = min(len(y), n - filled)
            track[filled:filled + take] = y[:take]
            filled += take
        active = track[np.abs(track) > 1e-4]
        if active.size:
            x += track / np.sqrt(np.mean(active ** 2))
    rms = np.sqrt(np.mean(x ** 2))
    return x / rms if rms > 0 else x


def write_heldout_synthetic_noise(out: Path, seed: int, files: int = HELDOUT_SYNTHETIC_FILES) -> None:
    """``files`` noise files of 30 s in ``out/noise/heldout-synthetic`` (skipped if built): the
    kinds of HELDOUT_SYNTHETIC_KINDS in turn; babble is made from ``out/speech/heldout``."""
    step = f"noise-{HELDOUT_SYNTHETIC_SPLIT}"
    fp = fingerprint({"v": RECIPE_VERSION, "kinds": HELDOUT_SYNTHETIC_KINDS, "files": files, "seed": seed,
                      "talkers": BABBLE_TALKERS, "seconds": SYNTHETIC_SECONDS})
    if is_done(out, step, fp):
        log(f"{step}: already built")
        return
    speech: dict[str, list[Path]] = {}
    for f in sorted((out / "speech" / "heldout").rglob("*.wav")):
        speech.setdefault(f.parent.name, []).append(f)
    if not speech:
        raise SystemExit(f"corpus_build: {out / 'speech' / 'heldout'} has no speech for the babble; "
                         "build the held-out speech first (build_corpus.sh does)")
    dest = out / "noise" / HELDOUT_SYNTHETIC_SPLIT
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.wav"):
        old.unlink()
    rng = np.random.default_rng([seed, 4243])
    n = SYNTHETIC_SECONDS * ca.SAMPLE_RATE_HZ
    rows = []
    for i in range(files):
        kind = HELDOUT_SYNTHETIC_KINDS[i % len(HELDOUT_SYNTHETIC_KINDS)]
        x = babble(speech, n, BABBLE_TALKERS, rng) if kind == "babble" else synthetic_noise(kind, n, rng)
        name = f"synthetic__{kind}_{i:02d}.wav"
        ca.write_pcm16(dest / name, (0.1 * x).astype(np.float32))
        rows.append({"file": name, "kind": kind, "seconds": SYNTHETIC_SECONDS})
    write_tsv(out / "meta" / f"{step}.tsv", rows)
    log(f"{step}: {files} files of {SYNTHETIC_SECONDS} s ({sum(r['kind'] == 'babble' for r in rows)} babble)")
    mark_done(out, step, fp)


def cmd_synth_heldout(args: argparse.Namespace) -> None:
    write_heldout_synthetic_noise(args.out, args.seed)


def cmd_synth_noise(args: argparse.Namespace) -> None:
    write_synthetic_noise(args.out, tier(args.tier), args.seed)


# --- TTS (--with-tts) ---------------------------------------------------------------------------

TTS_STEP = "speech-train-tts"


def tts_sources() -> tuple[Source, ...]:
    """The TTS voices as train speech sources, so the split rules check their speakers too."""
    return tuple(Source(v.name, "speech", "train", v.package, "", "", speakers=(v.speaker,)) for v in tts.VOICES)


def build_tts(out: Path, t: Tier, seed: int, jobs: int, lines_per_voice: int) -> None:
    """Synthesise ``lines_per_voice`` utterances per voice into ``speech/train/<voice>/`` (see corpus_tts)."""
    check_splits(t.sources + tts_sources())
    missing = tts.missing_engines()
    if missing:
        raise SystemExit(f"{', '.join(missing)} not found; apt-get install {' '.join(tts.ENGINE_PACKAGES)}")
    script_root = raw_dir(out, tts.TEXT_PACKAGE) / tts.TEXT_ROOT
    if not script_root.is_dir():
        raise SystemExit(f"{script_root}: not found; the package {tts.TEXT_PACKAGE} was not extracted "
                         "(re-run build_corpus.sh --with-tts)")
    lines = tts.collect_lines(script_root)
    fp = fingerprint({"v": RECIPE_VERSION, "voices": [asdict(v) for v in tts.VOICES], "lines": lines,
                      "per_voice": lines_per_voice, "seed": seed, "engines": tts.engine_versions(),
                      "text_deb": deb_file(out, tts.TEXT_PACKAGE).name, "level": tts.LEVEL_DBFS,
                      "stretch": tts.STRETCH_RANGE, "pitch": tts.PITCH_RANGE})
    if is_done(out, TTS_STEP, fp):
        log(f"{TTS_STEP}: already built")
        return
    dest_root = out / "speech" / "train"
    for v in tts.VOICES:
        shutil.rmtree(dest_root / v.name, ignore_errors=True)
        (dest_root / v.name).mkdir(parents=True)
    utterances = tts.plan(lines, tts.VOICES, lines_per_voice, seed)
    t0 = time.time()
    job_list = [(u, str(dest_root / u.voice.name), seed) for u in utterances]
    with mp.get_context("fork").Pool(jobs) as pool:
        rows = list(pool.imap(tts.make_file, job_list, chunksize=8))
    write_tsv(out / "meta" / f"{TTS_STEP}.tsv", rows)
    kept, minutes, dropped = tally(rows)
    log(f"{TTS_STEP}: {len(kept)}/{len(rows)} files from {len(lines)} distinct lines, {minutes:.1f} min, "
        f"dropped {dropped or 'none'} ({time.time() - t0:.0f} s)")
    mark_done(out, TTS_STEP, fp)


def cmd_tts(args: argparse.Namespace) -> None:
    build_tts(args.out, tier(args.tier), args.seed, args.jobs, args.lines_per_voice)


def tts_manifest(out: Path) -> dict | None:
    """The manifest's ``tts`` section (voices, engines, text package), or None if TTS was not built."""
    tsv = out / "meta" / f"{TTS_STEP}.tsv"
    if not tsv.is_file():
        return None
    rows = read_tsv(tsv)
    voices = {}
    for v in tts.VOICES:
        kept = [r for r in rows if r["voice"] == v.name and r["kept"] == "1"]
        voices[v.name] = {"engine": v.engine, "voice": v.voice, "package": v.package, "speaker": v.speaker,
                          "licence": v.licence, "files": len(kept),
                          "minutes": round(sum(float(r["seconds"]) for r in kept) / 60, 2)}
    deb = deb_file(out, tts.TEXT_PACKAGE)
    return {"split": "train", "voices": voices, "engines": tts.engine_versions(),
            "text": {"package": tts.TEXT_PACKAGE, "version": deb_version(deb), "deb": deb.name,
                     "sha256": sha256(deb), "licence": "GPL-2+", "files": "script/*/dialogs_en.lua"},
            "lines": len({r["text"] for r in rows})}


# --- manifest ---------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_manifest(out: Path, t: Tier, seed: int) -> dict:
    """Everything the corpus is made of, in a deterministic form (no dates, no timings)."""
    packages = {}
    for p in t.packages:
        deb = deb_file(out, p.name)
        packages[p.name] = {"version": deb_version(deb), "deb": deb.name, "bytes": deb.stat().st_size,
                            "sha256": sha256(deb), "licence": p.licence}
    sources = {}
    splits: dict[str, dict[str, dict]] = {"speech": {}, "noise": {}}
    for s in t.sources:
        rows = read_tsv(out / "meta" / f"{s.kind}-{s.split}-{s.name}.tsv")
        kept = [r for r in rows if r["kept"] == "1"]
        dropped: dict[str, int] = {}
        for r in rows:
            if r["kept"] != "1":
                dropped[r["reason"]] = dropped.get(r["reason"], 0) + 1
        rates: dict[str, int] = {}
        for r in kept:
            rates[r["rate_hz"]] = rates.get(r["rate_hz"], 0) + 1
        minutes = round(sum(float(r["seconds"]) for r in kept) / 60, 2)
        sources[s.name] = {"kind": s.kind, "split": s.split, "package": s.package,
                           "licence": packages[s.package]["licence"], "speakers": list(s.speakers),
                           "files": len(kept), "minutes": minutes, "inputs": len(rows), "dropped": dropped,
                           "native_rates_hz": dict(sorted(rates.items(), key=lambda kv: int(kv[0]))),
                           "max_floor_dbfs": s.max_floor_dbfs, "note": s.note}
        agg = splits[s.kind].setdefault(s.split, {"files": 0, "minutes": 0.0, "sources": []})
        agg["files"] += len(kept)
        agg["minutes"] = round(agg["minutes"] + minutes, 2)
        agg["sources"].append(s.name)
    for split, count in t.synthetic_noise.items():
        agg = splits["noise"].setdefault(split, {"files": 0, "minutes": 0.0, "sources": []})
        agg["files"] += count
        agg["minutes"] = round(agg["minutes"] + count * SYNTHETIC_SECONDS / 60, 2)
        agg["sources"].append("synthetic")
    synth_rows = out / "meta" / f"noise-{HELDOUT_SYNTHETIC_SPLIT}.tsv"
    if synth_rows.is_file():
        rows = read_tsv(synth_rows)
        splits["noise"][HELDOUT_SYNTHETIC_SPLIT] = {
            "files": len(rows), "minutes": round(sum(float(r["seconds"]) for r in rows) / 60, 2),
            "sources": sorted({r["kind"] for r in rows})}
    tts_section = tts_manifest(out)
    if tts_section is not None:
        agg = splits["speech"].setdefault("train", {"files": 0, "minutes": 0.0, "sources": []})
        for name, v in tts_section["voices"].items():
            agg["files"] += v["files"]
            agg["minutes"] = round(agg["minutes"] + v["minutes"], 2)
            agg["sources"].append(name)
    rirs = {}
    for split, rooms in t.rooms.items():
        rows = read_tsv(out / "meta" / f"rir-{split}-sim.tsv")
        rt = np.array([float(r["rt60_measured_s"]) for r in rows])
        rirs[split] = {"simulated": len(rows), "rooms": asdict(rooms),
                       "rt60_measured_s": {"mean": round(float(np.nanmean(rt)), 3),
                                           "min": round(float(np.nanmin(rt)), 3),
                                           "max": round(float(np.nanmax(rt)), 3)},
                       "real": []}
    if t.real_rirs:
        rirs.setdefault("heldout", {"simulated": 0, "real": []})["real"] = [
            {"file": f"real_{r.name}.wav", "package": r.package, "path": r.path} for r in t.real_rirs]
    for split in rirs:
        rirs[split]["files"] = rirs[split]["simulated"] + len(rirs[split]["real"])
    return {"recipe": "gre recipes/debian", "recipe_version": RECIPE_VERSION, "tier": t.name, "seed": seed,
            "sample_rate_hz": ca.SAMPLE_RATE_HZ, "layout": LAYOUT, "splits": splits, "rirs": rirs,
            "sources": sources, "packages": packages, **({"tts": tts_section} if tts_section else {}),
            "split_rules": "train and held-out (heldout, heldout_nb) share no package and no speaker"}


def validate_manifest(m: dict) -> None:
    """Raise ``ValueError`` naming the first problem if ``m`` is not a well-formed corpus manifest."""
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"manifest.json: {what}")

    for key in ("recipe", "recipe_version", "tier", "seed", "sample_rate_hz", "layout", "splits", "rirs", "sources",
                "packages"):
        need(key in m, f"missing key {key!r}")
    need(m["tier"] in TIERS, f"unknown tier {m['tier']!r}")
    need(isinstance(m["seed"], int), "seed is not an integer")
    need(m["sample_rate_hz"] == ca.SAMPLE_RATE_HZ, "sample_rate_hz is not 16000")
    for name, p in m["packages"].items():
        need(isinstance(p.get("version"), str) and p["version"] != "", f"package {name} has no version")
        need(re.fullmatch(r"[0-9a-f]{64}", p.get("sha256", "")) is not None, f"package {name} has no sha256")
        need(isinstance(p.get("bytes"), int) and p["bytes"] > 0, f"package {name} has no size")
        need(bool(p.get("licence")), f"package {name} has no licence")
    sides: dict[str, dict[str, set]] = {"package": {}, "speaker": {}}
    for name, s in m["sources"].items():
        need(s.get("split") in SPLITS, f"source {name} has an unknown split {s.get('split')!r}")
        need(s.get("kind") in ("speech", "noise"), f"source {name} has an unknown kind")
        need(s.get("package") in m["packages"], f"source {name} names a package missing from 'packages'")
        need(isinstance(s.get("files"), int) and s["files"] >= 0, f"source {name} has no file count")
        need(isinstance(s.get("minutes"), (int, float)) and s["minutes"] >= 0, f"source {name} has no minutes")
        where = "train" if s["split"] == "train" else "heldout"
        for what, keys in (("package", [s["package"]]), ("speaker", s.get("speakers", []))):
            for k in keys:
                sides[what].setdefault(k, set()).add(where)
    for name, v in m.get("tts", {}).get("voices", {}).items():
        need(bool(v.get("speaker")), f"TTS voice {name} has no speaker id")
        sides["speaker"].setdefault(v["speaker"], set()).add("train")
    for what, seen in sides.items():
        both = sorted(k for k, w in seen.items() if len(w) > 1)
        need(not both, f"{what} on both sides of the split: {', '.join(both)}")
    for kind in ("speech", "noise"):
        for split, agg in m["splits"].get(kind, {}).items():
            known = split in SPLITS or (kind == "noise" and split == HELDOUT_SYNTHETIC_SPLIT)
            need(known, f"splits.{kind} has an unknown split {split!r}")
            files = sum(m["sources"][n]["files"] for n in agg["sources"] if n in m["sources"])
            need(files <= agg["files"], f"splits.{kind}.{split} counts fewer files than its sources")
    need("train" in m["splits"].get("speech", {}), "no train speech")
    for split in ("train", "heldout"):
        need(split in m["rirs"] and m["rirs"][split]["files"] > 0, f"no {split} RIRs")


def cmd_manifest(args: argparse.Namespace) -> None:
    t = tier(args.tier)
    m = build_manifest(args.out, t, args.seed)
    validate_manifest(m)
    tmp = args.out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(m, indent=1, sort_keys=False) + "\n")
    tmp.replace(args.out / "manifest.json")
    for kind, per in m["splits"].items():
        for split, agg in per.items():
            log(f"{kind} {split}: {agg['files']} files, {agg['minutes']:.1f} min")
    for split, r in m["rirs"].items():
        log(f"rir {split}: {r['files']} files")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Python steps of recipes/debian/build_corpus.sh")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("out", type=Path)
        p.add_argument("--tier", default="full", choices=TIERS)
        p.add_argument("--seed", type=int, default=20261121)
        p.add_argument("--jobs", type=int, default=2)

    p = sub.add_parser("convert")
    common(p)
    p.add_argument("--kind", choices=("speech", "noise"))
    p.add_argument("--split", choices=SPLITS)
    p.add_argument("--group")
    p.add_argument("--source")
    p.set_defaults(fn=cmd_convert)
    p = sub.add_parser("rirs")
    common(p)
    p.add_argument("--split", required=True, choices=("train", "heldout"))
    p.set_defaults(fn=cmd_rirs)
    p = sub.add_parser("tts")
    common(p)
    p.add_argument("--lines-per-voice", type=int, default=300)
    p.set_defaults(fn=cmd_tts)
    for name, fn in (("real-rirs", cmd_real_rirs), ("synth-noise", cmd_synth_noise),
                     ("synth-heldout-noise", cmd_synth_heldout), ("manifest", cmd_manifest)):
        p = sub.add_parser(name)
        common(p)
        p.set_defaults(fn=fn)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
