"""Audio helpers of the corpus recipe: decode anything, measure the noise floor, write 16 kHz WAV.

Only numpy, soundfile and soxr are needed here (ffmpeg for G.722, which libsndfile cannot read).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE_HZ = 16_000
FLOOR_FRAME_MS = 20.0
#: A file whose loudest 20 ms frame is below this (dBFS) holds nothing usable.
SILENT_DBFS = -60.0


class DecodeError(RuntimeError):
    """A file that neither soundfile nor ffmpeg could decode."""


@dataclass(frozen=True)
class Decoded:
    """Mono float32 samples at the file's own rate."""

    samples: np.ndarray  # [N] float32 in [-1, 1]
    rate_hz: int


def decode(path: str | Path) -> Decoded:
    """Decode ``path`` to mono float32 at its native rate.

    G.722 (Asterisk ``.g722``) goes through ``ffmpeg -f g722`` (16 kHz output by definition of the
    codec); everything else through soundfile, with ffmpeg as the fallback for formats libsndfile
    does not read.
    """
    path = Path(path)
    if path.suffix.lower() == ".g722":
        return Decoded(_ffmpeg(path, ["-f", "g722"], SAMPLE_RATE_HZ), SAMPLE_RATE_HZ)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        info = _ffprobe_rate(path)
        return Decoded(_ffmpeg(path, [], info), info)
    return Decoded(data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0], int(rate))


def decode_g722_batch(paths: list[str | Path]) -> list[Decoded | DecodeError]:
    """Decode many G.722 files with one ffmpeg process (starting ffmpeg costs far more than decoding).

    Returns one :class:`Decoded` per path, or the :class:`DecodeError` for a file that failed (the
    batch is then retried file by file so one bad file does not sink the others).
    """
    if not paths:
        return []
    with tempfile.TemporaryDirectory(prefix="g722-") as tmp:
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        for p in paths:
            cmd += ["-f", "g722", "-i", str(p)]
        for i in range(len(paths)):
            cmd += ["-map", f"{i}:a", "-ac", "1", "-ar", str(SAMPLE_RATE_HZ), "-c:a", "pcm_s16le",
                    os.path.join(tmp, f"{i}.wav")]
        try:
            ok = subprocess.run(cmd, capture_output=True).returncode == 0
        except FileNotFoundError:
            raise DecodeError("ffmpeg not found; apt-get install ffmpeg") from None
        if ok:
            out: list[Decoded | DecodeError] = []
            for i in range(len(paths)):
                data, rate = sf.read(os.path.join(tmp, f"{i}.wav"), dtype="float32")
                out.append(Decoded(data, int(rate)))
            return out
    results: list[Decoded | DecodeError] = []
    for p in paths:
        try:
            results.append(decode(p))
        except DecodeError as err:
            results.append(err)
    return results


def _ffmpeg(path: Path, input_args: list[str], rate_hz: int) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", *input_args, "-i", str(path), "-f", "s16le", "-ac", "1",
           "-ar", str(rate_hz), "-"]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise DecodeError("ffmpeg not found; apt-get install ffmpeg") from None
    except subprocess.CalledProcessError as err:
        raise DecodeError(f"{path}: ffmpeg failed: {err.stderr.decode(errors='replace').strip()[:200]}") from None
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


def _ffprobe_rate(path: Path) -> int:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate",
           "-of", "csv=p=0", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True, text=True).stdout.strip()
        return int(out.splitlines()[0])
    except (FileNotFoundError, subprocess.CalledProcessError, ValueError, IndexError):
        raise DecodeError(f"{path}: cannot decode (neither soundfile nor ffmpeg read it)") from None


def to_rate(x: np.ndarray, rate_in_hz: int, rate_out_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Resample [N] float32 with soxr (VHQ); identity when the rates match."""
    if rate_in_hz == rate_out_hz:
        return x.astype(np.float32, copy=False)
    return soxr.resample(x.astype(np.float32, copy=False), rate_in_hz, rate_out_hz, quality="VHQ").astype(np.float32)


def frame_levels_dbfs(x: np.ndarray, rate_hz: int, frame_ms: float = FLOOR_FRAME_MS,
                      skip_digital_zero: bool = True) -> np.ndarray:
    """RMS level (dBFS, full-scale square wave = 0) of each complete non-overlapping frame.

    Frames that are exactly zero (digital silence, e.g. padding) carry no information about the
    recording's noise and are left out when ``skip_digital_zero``.
    """
    frame = max(1, int(round(rate_hz * frame_ms / 1000.0)))
    n = len(x) // frame
    if n == 0:
        return np.zeros(0)
    frames = x[:n * frame].astype(np.float64).reshape(n, frame)
    power = (frames ** 2).mean(axis=1)
    if skip_digital_zero:
        power = power[np.any(frames != 0.0, axis=1)]
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def noise_floor_dbfs(x: np.ndarray, rate_hz: int, frame_ms: float = FLOOR_FRAME_MS) -> float:
    """The level of the quietest non-zero ``frame_ms`` frame (dBFS); -inf if there is none.

    This is the doc's "floor": in a recording with pauses, the quietest frame is the background
    (hiss, room noise), so lower means cleaner.
    """
    levels = frame_levels_dbfs(x, rate_hz, frame_ms)
    return float(levels.min()) if levels.size else float("-inf")


def peak_level_dbfs(x: np.ndarray, rate_hz: int, frame_ms: float = FLOOR_FRAME_MS) -> float:
    """The level of the loudest ``frame_ms`` frame (dBFS); -inf for an empty or all-zero signal."""
    levels = frame_levels_dbfs(x, rate_hz, frame_ms, skip_digital_zero=False)
    return float(levels.max()) if levels.size and levels.max() > -200 else float("-inf")


def passes_floor(x: np.ndarray, rate_hz: int, max_floor_dbfs: float | None) -> bool:
    """True when the file is quiet enough between sounds (no limit when ``max_floor_dbfs`` is None)."""
    return max_floor_dbfs is None or noise_floor_dbfs(x, rate_hz) < max_floor_dbfs


def write_pcm16(path: str | Path, x: np.ndarray, rate_hz: int = SAMPLE_RATE_HZ) -> float:
    """Write mono PCM_16 WAV atomically; peaks above full scale are scaled down (not clipped).

    Returns the gain applied (1.0 when none was needed).
    """
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    gain = 0.99 / peak if peak > 0.99 else 1.0
    write_atomic(path, (x * gain).astype(np.float32), rate_hz, "PCM_16")
    return gain


def write_atomic(path: str | Path, x: np.ndarray, rate_hz: int, subtype: str) -> None:
    """Write a WAV through a temporary name so a killed build never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.wav")
    sf.write(str(tmp), x, rate_hz, subtype=subtype)
    os.replace(tmp, path)
