"""Synthetic training speech (``build_corpus.sh --with-tts``): English TTS voices of Debian main.

Why: the real training speech has few speakers and almost no English read speech (Allison Smith in
Asterisk en/es, game actors). TTS adds speakers and read English sentences for variety, as
``shared/docs/data_sources.md`` section 2 recommends. TTS is only ever *train* speech: every
held-out number stays on real recordings.

Voices (``VOICES``): flite's four built-in voices and festival's two English voices of Debian main
(``flite``, ``festival`` + ``festvox-kallpc16k``, ``festvox-us-slt-hts``). Their speaker ids follow
the voices' sources: flite ``kal16`` and festival ``kal_diphone`` are both Kevin Lenzo, flite ``slt``
and the HTS voice are both CMU ARCTIC SLT. The non-free voices of the doc (mbrola, pico, RHVoice)
are left out so that the recipe needs nothing beyond Debian main.

Text: the English dialogue lines of Fish Fillets (``fillets-ng-data``,
``script/*/dialogs_en.lua``; GPL-2+), shuffled with the corpus seed and dealt out so that each
voice speaks different lines. Each utterance gets its own speaking rate (and, for flite, mean
pitch), drawn from the seed, so one voice does not always sound the same.

Each file is resampled to 16 kHz, trimmed to the speech (TTS leading and trailing silence is digital
zero), set to one active level and written as PCM_16 with TPDF dither: TTS pauses are exact zeros,
which no microphone produces (the doc warns that a model would learn "zero means silence"); the
dither leaves a floor at the 16-bit noise level instead.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from shutil import which

import numpy as np

import corpus_audio as ca

#: Debian package whose ``script/*/dialogs_en.lua`` files are the sentences.
TEXT_PACKAGE = "fillets-ng-data"
TEXT_MEMBERS = ("./usr/share/games/fillets-ng/script/*/dialogs_en.lua", "./usr/share/doc/fillets-ng-data/*")
TEXT_ROOT = "./usr/share/games/fillets-ng/script"
#: Speaking-rate factor (duration stretch) and flite mean-pitch factor, uniform per utterance.
STRETCH_RANGE = (0.85, 1.2)
PITCH_RANGE = (0.85, 1.15)
#: Active level of every written file (dBFS); training rescales levels anyway.
LEVEL_DBFS = -26.0
#: Trim: keep from 50 ms before the first to 50 ms after the last 10 ms frame within 50 dB of the peak.
TRIM_BELOW_PEAK_DB = 50.0
TRIM_MARGIN_S = 0.05
MIN_WORDS = 3


@dataclass(frozen=True)
class Voice:
    """One TTS voice: ``name`` is its folder under speech/train; ``speaker`` its speaker id."""

    name: str
    engine: str  # "flite" | "festival"
    voice: str  # flite -voice NAME, or festival's voice function without parentheses
    package: str  # the Debian package (main) that provides the voice
    speaker: str
    pitch: float  # flite's default int_f0_target_mean (Hz); 0 = not varied (festival)
    licence: str


_FLITE_LICENCE = "CMU free licence (BSD-like; a few files GPL-2); see the package's copyright file"
VOICES = (
    Voice("tts-flite-kal16", "flite", "kal16", "flite", "cmu:kal", 95.0, _FLITE_LICENCE),
    Voice("tts-flite-awb", "flite", "awb", "flite", "cmu:awb", 125.0, _FLITE_LICENCE),
    Voice("tts-flite-rms", "flite", "rms", "flite", "cmu:rms", 110.0, _FLITE_LICENCE),
    Voice("tts-flite-slt", "flite", "slt", "flite", "cmu:slt", 160.0, _FLITE_LICENCE),
    Voice("tts-festival-kal", "festival", "voice_kal_diphone", "festvox-kallpc16k", "cmu:kal", 0.0,
          "CMU/OGI free licence (BSD-like); see the package's copyright file"),
    Voice("tts-festival-slt-hts", "festival", "voice_cmu_us_slt_arctic_hts", "festvox-us-slt-hts", "cmu:slt", 0.0,
          "EST and BSD-3-clause; see the package's copyright file"),
)
#: The Debian packages the voices need (installed, not just downloaded: they are programs).
ENGINE_PACKAGES = ("flite", "festival", "festvox-kallpc16k", "festvox-us-slt-hts")

_DIALOG = re.compile(r'dialogId\(\s*"(?:[^"\\]|\\.)*"\s*,\s*"(?:[^"\\]|\\.)*"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)')


class SynthesisError(RuntimeError):
    """A TTS engine failed on one line (the line is skipped and counted, not fatal)."""


def dialog_lines(lua_text: str) -> list[str]:
    """The spoken strings of one ``dialogs_en.lua`` file, cleaned for a TTS engine.

    Typographic quotes become ASCII ones (flite reads ``’`` as a letter name), escapes are undone,
    whitespace is collapsed, and lines of fewer than ``MIN_WORDS`` words (exclamations, "Hmm") or
    without letters are dropped.
    """
    lines = []
    for m in _DIALOG.finditer(lua_text):
        s = m.group(1).replace('\\"', '"').replace("\\n", " ").replace("\\", "")
        s = s.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2026": "..."}))
        s = " ".join(s.split())
        if len(s.split()) >= MIN_WORDS and re.search(r"[A-Za-z]", s):
            lines.append(s)
    return lines


def collect_lines(script_root: Path) -> list[str]:
    """All distinct lines of ``script_root/*/dialogs_en.lua``, in a fixed (sorted-file) order."""
    seen: dict[str, None] = {}
    for lua in sorted(script_root.glob("*/dialogs_en.lua")):
        for line in dialog_lines(lua.read_text(encoding="utf-8", errors="replace")):
            seen.setdefault(line, None)
    return list(seen)


@dataclass(frozen=True)
class Utterance:
    """One file to synthesise: which voice says which line, how fast and at which pitch."""

    voice: Voice
    index: int
    text: str
    stretch: float
    pitch_factor: float

    @property
    def file_name(self) -> str:
        return f"{self.voice.name}_{self.index:04d}.wav"


def plan(lines: list[str], voices: tuple[Voice, ...], per_voice: int, seed: int) -> list[Utterance]:
    """Deal ``per_voice`` distinct lines to each voice (no line said twice while lines last).

    Deterministic in ``seed``: the lines are shuffled once and dealt round-robin, so adding voices
    or lines does not reshuffle what the first voices say for a given list.
    """
    if not lines:
        raise ValueError("no TTS text lines: is fillets-ng-data extracted?")
    rng = np.random.default_rng([seed, 7071])
    order = rng.permutation(len(lines))
    out = []
    for k in range(per_voice * len(voices)):
        voice = voices[k % len(voices)]
        line = lines[int(order[k % len(lines)])]
        out.append(Utterance(voice, k // len(voices), line, float(rng.uniform(*STRETCH_RANGE)),
                             float(rng.uniform(*PITCH_RANGE))))
    return out


def synthesize(u: Utterance) -> tuple[np.ndarray, int]:
    """Run the voice's engine on ``u.text``; returns (mono float32 samples, rate in Hz)."""
    with tempfile.TemporaryDirectory(prefix="gre-tts-") as tmp:
        wav = Path(tmp) / "out.wav"
        if u.voice.engine == "flite":
            cmd = ["flite", "-voice", u.voice.voice, "--setf", f"duration_stretch={u.stretch:.3f}",
                   "--setf", f"int_f0_target_mean={u.voice.pitch * u.pitch_factor:.1f}", "-t", u.text, "-o", str(wav)]
        elif u.voice.engine == "festival":
            txt = Path(tmp) / "in.txt"
            txt.write_text(u.text + "\n", encoding="utf-8")
            cmd = ["text2wave", "-eval", f"({u.voice.voice})", "-eval",
                   f"(Parameter.set 'Duration_Stretch {u.stretch:.3f})", str(txt), "-o", str(wav)]
        else:
            raise ValueError(f"{u.voice.name}: unknown engine {u.voice.engine!r}")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise SynthesisError(f"{cmd[0]} not found; apt-get install {' '.join(ENGINE_PACKAGES)}") from None
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"{u.file_name}: {cmd[0]} timed out") from None
        if proc.returncode != 0 or not wav.is_file():
            raise SynthesisError(f"{u.file_name}: {cmd[0]} failed: {proc.stderr.strip()[:200]}")
        d = ca.decode(wav)
    return d.samples, d.rate_hz


def trim(x: np.ndarray, rate_hz: int) -> np.ndarray:
    """``x`` from 50 ms before its first to 50 ms after its last 10 ms frame within 50 dB of its loudest."""
    frame = rate_hz // 100
    levels = ca.frame_levels_dbfs(x, rate_hz, 10.0, skip_digital_zero=False)
    if levels.size == 0:
        return x
    if levels.max() <= -200:  # all digital zero
        return x[:0]
    loud = np.flatnonzero(levels >= levels.max() - TRIM_BELOW_PEAK_DB)
    margin = int(TRIM_MARGIN_S * rate_hz)
    return x[max(0, loud[0] * frame - margin): min(len(x), (loud[-1] + 1) * frame + margin)]


def finish(x: np.ndarray, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """Resample to 16 kHz, trim, set the active level to ``LEVEL_DBFS`` and add 16-bit TPDF dither."""
    y = trim(ca.to_rate(x, rate_hz), ca.SAMPLE_RATE_HZ).astype(np.float64)
    if len(y) == 0:
        return y.astype(np.float32)
    levels = ca.frame_levels_dbfs(y, ca.SAMPLE_RATE_HZ, 10.0, skip_digital_zero=False)
    if levels.size == 0:  # shorter than one frame
        levels = np.array([10 * np.log10(max(np.mean(y ** 2), 1e-20))])
    active = levels[levels >= levels.max() - 30.0]  # frames within 30 dB of the loudest: the speech
    y *= 10 ** (LEVEL_DBFS / 20) / np.sqrt(np.mean(10 ** (active / 10)))
    lsb = 1.0 / 32768
    y += (rng.random(len(y)) - rng.random(len(y))) * lsb
    return y.astype(np.float32)


def make_file(job: tuple[Utterance, str, int]) -> dict:
    """Synthesise, finish and write one utterance; its metadata row (``kept`` 0 with the reason if it failed)."""
    u, dest_dir, seed = job
    row = {"file": u.file_name, "voice": u.voice.name, "speaker": u.voice.speaker, "stretch": round(u.stretch, 3),
           "pitch_factor": round(u.pitch_factor, 3) if u.voice.pitch else "", "seconds": 0.0, "kept": 0,
           "reason": "", "text": u.text}
    try:
        x, rate = synthesize(u)
    except SynthesisError as err:
        row["reason"] = "engine_failed"
        print(f"[corpus] {err}", flush=True)
        return row
    rng = np.random.default_rng([seed, u.index, sum(map(ord, u.voice.name))])
    y = finish(x, rate, rng)
    row["seconds"] = round(len(y) / ca.SAMPLE_RATE_HZ, 4)
    if len(y) < 0.3 * ca.SAMPLE_RATE_HZ:
        row["reason"] = "too_short"
        return row
    ca.write_pcm16(Path(dest_dir) / u.file_name, y)
    row["kept"] = 1
    return row


def engine_versions() -> dict[str, str]:
    """Installed version of each package in ``ENGINE_PACKAGES`` ("" when not installed)."""
    out = {}
    for pkg in ENGINE_PACKAGES:
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True,
                               timeout=30).stdout.strip()
        except (FileNotFoundError, subprocess.TimeoutExpired):
            v = ""
        out[pkg] = v
    return out


def missing_engines() -> list[str]:
    """The programs the voices need that are not on PATH."""
    return [p for p in ("flite", "text2wave") if which(p) is None]


def speakers() -> tuple[str, ...]:
    """Every speaker id the TTS voices use (all on the train side)."""
    return tuple(sorted({v.speaker for v in VOICES}))


def _main(argv: list[str]) -> int:
    """``packages``: print what build_corpus.sh downloads (text) and installs (engines)."""
    if argv[:1] == ["packages"]:
        print(TEXT_PACKAGE + "\t" + " ".join(TEXT_MEMBERS))
        return 0
    if argv[:1] == ["engines"]:
        print(" ".join(ENGINE_PACKAGES))
        return 0
    print("usage: corpus_tts.py packages|engines", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
