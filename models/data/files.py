"""Corpus folders: scan once, skip and count bad files, cache the list with lengths.

A scan reads every audio file under the given folders (recursively; wav, flac, ogg) once and
keeps those that decode, are long enough and are not silent. Unreadable, too-short and silent
files are skipped and counted, never fatal; an empty or missing folder is one clear error.
On request a scan also notes each file's polarity (:mod:`models.data.polarity`), so that a
phase-retrieval corpus can be read the same way up throughout.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from models.audio_resample import resample
from models.data.polarity import polarity

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: A file whose loudest 20 ms frame is below this level (dBFS) is treated as silent.
SILENCE_DBFS = -70.0


class CorpusError(ValueError):
    """A corpus folder that cannot be used; the message names the folder and what to do."""


@dataclass(frozen=True)
class AudioFile:
    path: str
    frames: int  # at ``sample_rate_hz`` after any resampling
    source_rate_hz: int
    #: Multiply the file's samples by this to read it in the corpus's one polarity (+1 or -1);
    #: always +1 unless the scan estimated polarities.
    polarity: int = 1


@dataclass
class ScanReport:
    """What a scan kept and skipped (counts and a few example paths per reason)."""

    kept: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: Kept files to be read sign-flipped (only counted when the scan estimated polarities).
    flipped: int = 0

    def skip(self, reason: str, path: Path) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 3:
            self.examples[reason].append(str(path))

    def summary(self, what: str) -> str:
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        flipped = f"; {self.flipped} to be read sign-flipped (polarity)" if self.flipped else ""
        return f"{what}: {self.kept} files ({self.seconds / 3600:.2f} h) kept; skipped: {skipped}{flipped}"


def read_mono(path: str | Path, sample_rate_hz: int, start: int = 0, frames: int = -1) -> np.ndarray:
    """Read a file (or ``frames`` samples from ``start``) as float32 mono at ``sample_rate_hz``.

    ``start``/``frames`` count samples at the file's own rate when it differs (then the whole
    file is read and resampled, which is slower but rare for a prepared corpus).
    """
    with sf.SoundFile(str(path)) as f:
        rate = f.samplerate
        if rate == sample_rate_hz:
            f.seek(start)
            data = f.read(frames, dtype="float32", always_2d=True)
        else:
            data = f.read(dtype="float32", always_2d=True)
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate_hz:
        x = resample(x, rate, sample_rate_hz).astype(np.float32)
        if frames >= 0:
            x = x[start:start + frames]
    return x


def _peak_frame_dbfs(x: np.ndarray, sample_rate_hz: int) -> float:
    frame = max(1, sample_rate_hz // 50)
    n = len(x) // frame
    if n == 0:
        energy = float(np.mean(x.astype(np.float64) ** 2)) if len(x) else 0.0
    else:
        energy = float((x[:n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1).max())
    return 10 * np.log10(energy + 1e-20)


def list_audio(folder: Path) -> list[Path]:
    """Audio files under ``folder``, sorted. Raises OSError for a folder or subfolder that cannot be
    listed: ``Path.rglob`` skips those silently, which turned an unreadable corpus folder into
    "no audio files", or quietly trained on part of a corpus."""

    def fail(err: OSError) -> None:
        raise err

    found = []
    for root, _, names in os.walk(folder, onerror=fail):
        found.extend(p for p in (Path(root) / n for n in names) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    return sorted(found)


def scan_folders(folders: list[str | Path], *, sample_rate_hz: int, min_seconds: float, what: str,
                 estimate_polarity: bool = False) -> tuple[list[AudioFile], ScanReport]:
    """Scan ``folders`` for usable audio. Raises :class:`CorpusError` if nothing is usable.

    With ``estimate_polarity`` each kept file's :attr:`AudioFile.polarity` says whether to read it
    sign-flipped (about 15 ms a file)."""
    report = ScanReport()
    files: list[AudioFile] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise CorpusError(f"{folder}: {what} folder not found (or not a folder); pass an existing folder of "
                              "16 kHz audio files")
        try:
            paths = list_audio(folder)
        except OSError as err:
            raise CorpusError(f"{folder}: cannot list the {what} folder ({err}); check its permissions") from None
        for path in paths:
            try:
                x = read_mono(path, sample_rate_hz)
                rate = sf.info(str(path)).samplerate
            except Exception:  # soundfile raises several types for broken files
                report.skip("unreadable", path)
                continue
            if not np.all(np.isfinite(x)):
                report.skip("unreadable", path)
            elif len(x) < min_seconds * sample_rate_hz:
                report.skip("too short", path)
            elif _peak_frame_dbfs(x, sample_rate_hz) < SILENCE_DBFS:
                report.skip("silent", path)
            else:
                sign = polarity(x, sample_rate_hz) if estimate_polarity else 1
                files.append(AudioFile(str(path.resolve()), len(x), rate, sign))
                report.flipped += int(sign < 0)
                report.kept += 1
                report.seconds += len(x) / sample_rate_hz
    if not files:
        names = ", ".join(str(f) for f in folders)
        detail = ", ".join(f"{n} {r}" for r, n in report.skipped.items()) or "no audio files (wav/flac/ogg)"
        raise CorpusError(f"{names}: no usable {what} audio ({detail}); point --{what} at folders of 16 kHz "
                          "speech/noise/RIR files")
    return files, report


def scan_cached(folders: list[str | Path], cache: Path | None, *, sample_rate_hz: int, min_seconds: float,
                what: str, estimate_polarity: bool = False) -> tuple[list[AudioFile], ScanReport]:
    """:func:`scan_folders`, reusing ``cache`` (a JSON file) when it was made for the same folders."""
    key = {"folders": [str(Path(f).resolve()) for f in folders], "sample_rate_hz": sample_rate_hz,
           "min_seconds": min_seconds}
    if estimate_polarity:  # only then, so that the caches of earlier runs stay valid
        key["polarity"] = True
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text())
            if data.get("key") == key:
                report = ScanReport(**data["report"])
                return [AudioFile(**f) for f in data["files"]], report
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache is rebuilt
    files, report = scan_folders(folders, sample_rate_hz=sample_rate_hz, min_seconds=min_seconds, what=what,
                                 estimate_polarity=estimate_polarity)
    if cache is not None:
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "report": asdict(report), "files": [asdict(f) for f in files]}))
        os.replace(tmp, cache)
    return files, report
