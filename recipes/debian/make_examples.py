"""Build ``examples/`` (small audio we may redistribute) from a corpus's HELD-OUT material.

    python recipes/debian/make_examples.py /work/data/gre-corpus examples [--seed 7]

Speech is Asterisk fr (June Wallack, CC-BY-SA-3.0) and it (Carlo Flora, CC-BY-3.0); noise is three
CC0 recordings from the held-out noise packages; reverberation uses held-out simulated rooms (made
by this recipe). Every output is 16 kHz mono PCM_16 with its clean reference in
``examples/clean/<same name>.wav``; ``examples/README.md`` is written with each file's provenance.
Deterministic for a corpus and a seed.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_audio as ca  # noqa: E402

RATE = ca.SAMPLE_RATE_HZ
DENOISE_SECONDS = 3.6
OTHER_SECONDS = 3.0
EARLY_MS = 50.0  # dereverberation target: direct path + the first 50 ms of reflections
PEAK = 0.7  # input files peak here (the clean reference gets the same gain)


@dataclass(frozen=True)
class Voice:
    source: str  # corpus source name (held-out)
    tag: str
    speaker: str
    licence: str
    attribution: str


VOICES = {
    "fr": Voice("asterisk-fr", "fr_june", "June Wallack (fr-CA, female)", "CC-BY-SA-3.0",
                "Recorded by June Wallack; French translation by Clod Patry, Kristopher Lalletti and June Wallack "
                "(asterisk-core-sounds)"),
    "it": Voice("asterisk-it", "it_carlo", "Carlo Flora (it-IT, male)", "CC-BY-3.0",
                "Recorded by Carlo Flora; translated by Silvia Petrin (asterisk-core-sounds)"),
}


@dataclass(frozen=True)
class Noise:
    file: str  # under noise/heldout/
    tag: str
    package: str
    original: str
    credit: str


# Chosen for a clear per-file licence (CC0, as stated in each package's copyright file).
NOISES = (
    Noise("supertuxkart-sfx__lenautile_restaurant.wav", "restaurant", "supertuxkart-data",
          "data/sfx/lenautile_restaurant.ogg", '2015 "Alcappuccino", CC0 (freesound 263528)'),
    Noise("supertuxkart-sfx__river_loop.wav", "river", "supertuxkart-data", "data/sfx/river_loop.ogg",
          "2012 Adam Newns, CC0 (freesound 166310)"),
    Noise("sonic-pi__vinyl_hiss.wav", "vinylhiss", "sonic-pi-samples", "etc/samples/vinyl_hiss.flac",
          "2011 veezay, CC0 (freesound 130393)"),
)


def read_tsv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def pick_utterances(corpus: Path, voice: Voice, seconds: float, count: int,
                    rng: np.random.Generator) -> list[dict]:
    """``count`` kept prompts of ``voice`` lasting between ``seconds`` - 0.5 and ``seconds`` + 0.8 s."""
    rows = [r for r in read_tsv(corpus / "meta" / f"speech-heldout-{voice.source}.tsv")
            if r["kept"] == "1" and seconds - 0.5 <= float(r["seconds"]) <= seconds + 0.8]
    if len(rows) < count:
        raise SystemExit(f"{corpus}: too few {voice.source} prompts of about {seconds} s; build the corpus first")
    idx = rng.choice(len(rows), size=count, replace=False)
    return [rows[i] for i in sorted(idx)]


def load_clip(corpus: Path, voice: Voice, row: dict, seconds: float) -> np.ndarray:
    x, rate = sf.read(corpus / "speech" / "heldout" / voice.source / row["file"], dtype="float64")
    assert rate == RATE
    n = int(round(seconds * RATE))
    x = np.pad(x, (0, max(0, n - len(x))))[:n]
    fade = int(0.02 * RATE)  # no click where a longer prompt is cut
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    return x


def scaled_pair(inp: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both signals times the gain that puts the input's peak at ``PEAK`` (SNRs stay as made)."""
    g = PEAK / max(np.max(np.abs(inp)), 1e-9)
    return inp * g, ref * g


def noise_clip(corpus: Path, noise: Noise, n: int, rng: np.random.Generator) -> np.ndarray:
    x, rate = sf.read(corpus / "noise" / "heldout" / noise.file, dtype="float64")
    assert rate == RATE
    if len(x) < n:
        x = np.tile(x, n // len(x) + 1)
    start = int(rng.integers(0, len(x) - n + 1))
    return x[start:start + n]


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    ps, pn = np.mean(speech ** 2), np.mean(noise ** 2)
    return speech + noise * np.sqrt(ps / (pn * 10 ** (snr_db / 10)))


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean ** 2) / np.sum((noisy - clean) ** 2)))


def reverberate(x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reverberant, early-reflection target), both aligned with the RIR's direct path."""
    peak = int(np.argmax(np.abs(h)))
    early = h[:peak + int(EARLY_MS / 1000 * RATE)]
    return fftconvolve(x, h)[:len(x)], fftconvolve(x, early)[:len(x)]


def band_limit(x: np.ndarray, cutoff_hz: int = 4000) -> np.ndarray:
    """Down to 2 * ``cutoff_hz`` and back: nothing left above ``cutoff_hz``."""
    y = ca.to_rate(ca.to_rate(x.astype(np.float32), RATE, 2 * cutoff_hz), 2 * cutoff_hz, RATE).astype(np.float64)
    return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]


def write_pair(out: Path, task: str, name: str, inp: np.ndarray, ref: np.ndarray) -> None:
    for path, x in ((out / task / name, inp), (out / "clean" / name, ref)):
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.clip(x, -1.0, 1.0).astype(np.float32), RATE, subtype="PCM_16")


def make_examples(corpus: Path, out: Path, seed: int) -> list[dict]:
    """Write all examples; returns one provenance record per example."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    versions = {k: v["version"] for k, v in manifest["packages"].items()}
    rng = np.random.default_rng(seed)
    for sub in ("denoise", "dereverb", "bwe", "phase", "clean"):
        for old in (out / sub).glob("*.wav"):
            old.unlink()
    utts = {
        "fr": pick_utterances(corpus, VOICES["fr"], OTHER_SECONDS, 4, rng)
        + pick_utterances(corpus, VOICES["fr"], DENOISE_SECONDS, 2, rng),
        "it": pick_utterances(corpus, VOICES["it"], OTHER_SECONDS, 3, rng)
        + pick_utterances(corpus, VOICES["it"], DENOISE_SECONDS, 1, rng),
    }
    records: list[dict] = []

    def record(task: str, name: str, lang: str, row: dict, degradation: str, **extra: str) -> None:
        v = VOICES[lang]
        pkg = f"asterisk-core-sounds-{lang}-g722"
        records.append({"task": task, "name": name, "speaker": v.speaker, "speech_package": pkg,
                        "speech_version": versions[pkg], "speech_file": row["input"], "licence": v.licence,
                        "attribution": v.attribution, "degradation": degradation, **extra})

    # Denoise: three CC0 noises at 0, 5 and 10 dB.
    for (lang, row), noise, snr in zip((("fr", utts["fr"][4]), ("it", utts["it"][3]), ("fr", utts["fr"][5])),
                                       NOISES, (0.0, 5.0, 10.0)):
        s = load_clip(corpus, VOICES[lang], row, DENOISE_SECONDS)
        noisy = mix_at_snr(s, noise_clip(corpus, noise, len(s), rng), snr)
        noisy, s = scaled_pair(noisy, s)
        name = f"{VOICES[lang].tag}_{noise.tag}_snr{int(snr)}.wav"
        write_pair(out, "denoise", name, noisy, s)
        record("denoise", name, lang, row, f"{noise.tag} noise at {measured_snr_db(s, noisy):.1f} dB SNR",
               noise=f"{noise.package} {versions[noise.package]} {noise.original}: {noise.credit}")

    # Dereverb: two held-out simulated rooms (hybrid simulator), moderate and long reverberation.
    rirs = read_tsv(corpus / "meta" / "rir-heldout-sim.tsv")
    for (lang, row), (lo, hi) in zip((("it", utts["it"][0]), ("fr", utts["fr"][0])), ((0.6, 0.9), (1.1, 1.6))):
        cands = [r for r in rirs if lo <= float(r["rt60_measured_s"]) <= hi]
        rir = cands[int(rng.integers(len(cands)))]
        h, rate = sf.read(corpus / "rir" / "heldout" / rir["file"], dtype="float64")
        s = load_clip(corpus, VOICES[lang], row, OTHER_SECONDS)
        rev, target = reverberate(s, h)
        rev, target = scaled_pair(rev, target)
        rt = float(rir["rt60_measured_s"])
        name = f"{VOICES[lang].tag}_room_rt60_{rt:.1f}s.wav"
        write_pair(out, "dereverb", name, rev, target)
        dims = f"{float(rir['length_m']):.1f} x {float(rir['width_m']):.1f} x {float(rir['height_m']):.1f} m"
        record("dereverb", name, lang, row,
               f"simulated room {dims}, measured RT60 {rt:.2f} s, source-mic {float(rir['source_mic_distance_m']):.1f} m "
               f"(held-out RIR {rir['file']}); reference = direct path + first {EARLY_MS:.0f} ms")

    # Bandwidth extension: band-limited to 4 kHz.
    for lang, row in (("fr", utts["fr"][1]), ("it", utts["it"][1])):
        s = load_clip(corpus, VOICES[lang], row, OTHER_SECONDS)
        nb, s = scaled_pair(band_limit(s), s)
        name = f"{VOICES[lang].tag}_lowpass4k.wav"
        write_pair(out, "bwe", name, nb, s)
        record("bwe", name, lang, row, "band-limited to 4 kHz (16 -> 8 -> 16 kHz with soxr)")

    # Phase retrieval: the input is clean speech (the model keeps only its magnitude).
    for lang, row in (("it", utts["it"][2]), ("fr", utts["fr"][2])):
        s = load_clip(corpus, VOICES[lang], row, OTHER_SECONDS)
        s, _ = scaled_pair(s, s)
        name = f"{VOICES[lang].tag}_clean.wav"
        write_pair(out, "phase", name, s, s)
        record("phase", name, lang, row, "none (clean; phase retrieval discards the input phase)")
    return records


README_HEAD = """# Example audio

Small examples for trying gre, built by `recipes/debian/make_examples.py` from the **held-out** part
of the Debian corpus (`recipes/debian/README.md`), so no model trained by the recipe has heard these
voices, noises or rooms. Regenerate with:

    python recipes/debian/make_examples.py /work/data/gre-corpus examples

| folder | input | reference |
|---|---|---|
| `denoise/` | speech + real noise, 0 / 5 / 10 dB SNR, {denoise_s} s | `clean/<same name>.wav` |
| `dereverb/` | speech in a simulated held-out room, {other_s} s | `clean/<same name>.wav` = direct path + first {early} ms |
| `bwe/` | speech band-limited to 4 kHz, {other_s} s | `clean/<same name>.wav` (full 8 kHz band) |
| `phase/` | clean speech, {other_s} s (the model discards its phase) | `clean/<same name>.wav` (the same signal) |

All files are 16 kHz mono 16-bit PCM WAV. Input and reference share one gain (input peak {peak}).
The speech is Asterisk's G.722 prompt audio (64 kbit/s sub-band ADPCM), so the references carry
mild codec colouring above about 4 kHz.

## Licences

Each file is a derivative of the speech recording it contains and is distributed under **that
recording's licence**, with the attribution below; the noise recordings are CC0 and the simulated
rooms are made by this recipe.

* **CC-BY-SA-3.0** (share-alike: derivatives must keep this licence and the attribution) — files
  named `fr_june_*`: Asterisk French prompts. Copyright 2006-2008 June Wallack. Recorded by June
  Wallack; translated into French by Clod Patry, Kristopher Lalletti and June Wallack; financial
  contributions by Digium, Inc., Unlimitel and BGM Informatique. Licence:
  https://creativecommons.org/licenses/by-sa/3.0/
* **CC-BY-3.0** — files named `it_carlo_*`: Asterisk Italian prompts. Copyright 2012 Carlo Flora
  (http://www.carloflora.com); translated by Silvia Petrin. Licence:
  https://creativecommons.org/licenses/by/3.0/
* Noise (CC0, no conditions): `lenautile_restaurant.ogg` 2015 "Alcappuccino" and `river_loop.ogg`
  2012 Adam Newns (both from Debian `supertuxkart-data`), `vinyl_hiss.flac` 2011 veezay (Debian
  `sonic-pi-samples`), as stated in those packages' copyright files.

The licence notes come from the Debian packages' `copyright` files (the project's research notes
list the Italian voice as CC-BY-SA; the package says CC-BY-3.0).

## Files
"""


def write_readme(out: Path, records: list[dict]) -> None:
    lines = [README_HEAD.format(denoise_s=DENOISE_SECONDS, other_s=OTHER_SECONDS, early=int(EARLY_MS), peak=PEAK)]
    lines.append("| file | speaker | source (Debian package, version: file) | degradation | licence |")
    lines.append("|---|---|---|---|---|")
    for r in records:
        src = f"`{r['speech_package']}` {r['speech_version']}: `{r['speech_file']}`"
        deg = r["degradation"] + (f"; noise: `{r['noise']}`" if "noise" in r else "")
        lines.append(f"| `{r['task']}/{r['name']}` | {r['speaker']} | {src} | {deg} | {r['licence']} |")
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, help="a corpus built by build_corpus.sh (full tier)")
    ap.add_argument("out", type=Path, help="the examples folder to (re)write")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if not (args.corpus / "manifest.json").is_file():
        raise SystemExit(f"{args.corpus}: no manifest.json; build the corpus first (build_corpus.sh)")
    records = make_examples(args.corpus, args.out, args.seed)
    write_readme(args.out, records)
    total = sum(p.stat().st_size for p in args.out.rglob("*.wav"))
    print(f"{len(records)} examples, {total / 1e6:.2f} MB of WAV in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
