"""Audio file I/O on soundfile: validated block reading, clipped atomic writing, stdin/stdout.

Reading yields float32 blocks [C, n] (channels first, full scale 1.0) from any format soundfile
reads; every block is checked for NaN/Inf and the total length is checked against the header.
Writing keeps the input's format and subtype, clips explicitly so that integer subtypes never
wrap (PCM_16: [-1, 1 - 2**-15]), and is atomic: data goes to a uniquely named temporary file in
the output folder (``.NAME.gre-tmp-HOST-PID-TOKEN``), which is renamed over the final name only
when complete. A killed run leaves at most such a temporary file, never a partial output; the
next writer of the same name removes temporaries whose process is gone.

``"-"`` stands for stdin (read fully, any format soundfile detects) or stdout (always WAV,
written only when complete).

Every failure is an :class:`AudioError` whose message is one line naming the file and what to do.
"""
from __future__ import annotations

import errno
import io
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

STDIO = "-"
#: Bits of the integer subtypes; a value written must stay within [-1, 1 - 2**-(bits-1)].
INT_SUBTYPE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
#: Subtypes stored as floats: no clipping is needed to avoid wrapping (and none is done).
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
#: Lossy or companded subtypes (VORBIS, OPUS, MPEG, ULAW, ...) are clipped like 16-bit PCM.
DEFAULT_CLIP_BITS = 16
TEMP_MARK = ".gre-tmp-"
_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


class AudioError(Exception):
    """A file that cannot be read or written; ``str(err)`` is one line naming the file."""


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file. ``format``/``subtype`` are soundfile's names (WAV, PCM_16)."""

    frames: int
    sample_rate_hz: int
    channels: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz if self.sample_rate_hz else 0.0


@dataclass(frozen=True)
class AudioSource:
    """A path, or the bytes read from stdin (``name`` is then "-")."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> sf.SoundFile:
        return sf.SoundFile(io.BytesIO(self.data)) if self.data is not None else sf.SoundFile(self.path)


def source(path: str | Path) -> AudioSource:
    """An :class:`AudioSource` for ``path``; ``"-"`` reads all of stdin now."""
    if str(path) == STDIO:
        return AudioSource(STDIO, data=sys.stdin.buffer.read())
    return AudioSource(str(path), path=Path(path))


def _describe(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    # soundfile prefixes "Error opening '<name>': "; the file is named by us already.
    return re.sub(r"^Error opening .*?: ", "", text)


def _open(src: AudioSource) -> sf.SoundFile:
    if src.path is not None:
        try:
            size = src.path.stat().st_size
        except OSError as err:
            raise AudioError(f"{src.name}: cannot access ({err.strerror or err}); check that the file exists") from None
        if size == 0:
            raise AudioError(f"{src.name}: empty file (0 bytes); re-export or remove it")
    elif not src.data:
        raise AudioError(f"{src.name}: no data on stdin; pipe a WAV file in, e.g. `gre enhance - - < in.wav`")
    try:
        return src.open()
    except PermissionError:
        raise AudioError(f"{src.name}: permission denied; make the file readable (chmod +r)") from None
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as err:
        raise AudioError(f"{src.name}: not a readable audio file ({_describe(err)}); "
                         f"check the file is complete and in a format soundfile reads (wav, flac, ogg, ...)") from None


def probe(src: AudioSource) -> AudioInfo:
    """Header of ``src`` without reading the samples."""
    with _open(src) as f:
        info = AudioInfo(frames=f.frames, sample_rate_hz=f.samplerate, channels=f.channels,
                         format=f.format, subtype=f.subtype)
    if info.frames <= 0:
        raise AudioError(f"{src.name}: contains no samples; re-export or remove it")
    if info.sample_rate_hz <= 0:
        raise AudioError(f"{src.name}: invalid sample rate {info.sample_rate_hz} in the header; re-export the file")
    return info


def iter_blocks(src: AudioSource, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """Yield float32 blocks [C, n] of ``src`` in order, validated.

    Raises :class:`AudioError` on NaN/Inf samples, read errors, or fewer samples than the header
    promises (a truncated file).
    """
    with _open(src) as f:
        expected, read = f.frames, 0
        try:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    second = (read + int(np.argmax(~np.isfinite(block).all(axis=1)))) / f.samplerate
                    raise AudioError(f"{src.name}: contains NaN or Inf samples (first at {second:.3f} s); "
                                     f"repair or remove the file")
                read += block.shape[0]
                yield np.ascontiguousarray(block.T)
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise AudioError(f"{src.name}: read failed after {read} samples ({_describe(err)}); "
                             f"the file may be damaged") from None
    if read < expected:
        raise AudioError(f"{src.name}: truncated: the header promises {expected} samples but only {read} "
                         f"could be read; re-export or repair the file")


def read_audio(path: str | Path | AudioSource) -> tuple[np.ndarray, AudioInfo]:
    """Whole file -> (float32 [C, N], info). For long files prefer :func:`iter_blocks`."""
    src = path if isinstance(path, AudioSource) else source(path)
    info = probe(src)
    blocks = list(iter_blocks(src))
    return np.concatenate(blocks, axis=1), info


def clip_limits(subtype: str) -> tuple[float, float] | None:
    """(low, high) a value must stay within for ``subtype`` not to wrap; None for float subtypes."""
    if subtype in FLOAT_SUBTYPES:
        return None
    bits = INT_SUBTYPE_BITS.get(subtype, DEFAULT_CLIP_BITS)
    return -1.0, 1.0 - 2.0 ** -(bits - 1)


def clip_for_subtype(wave: np.ndarray, subtype: str) -> np.ndarray:
    """float64 copy of ``wave`` clipped to what ``subtype`` holds (float64 so that 1 - 2**-31 is exact)."""
    out = np.asarray(wave, dtype=np.float64)
    limits = clip_limits(subtype)
    return np.clip(out, *limits) if limits else out.copy()


def output_format(info: AudioInfo, path: str | Path) -> tuple[str, str]:
    """(format, subtype) to write ``path``: WAV on stdout, else the input's format (or the one the
    output's extension names); the input's subtype when that format takes it, else its default."""
    if str(path) == STDIO:
        fmt = "WAV"
    else:
        ext = Path(path).suffix.lstrip(".").upper()
        fmt = info.format if ext not in sf.available_formats() or ext == info.format else ext
        fmt = {"OGA": "OGG", "OPUS": "OGG"}.get(fmt, fmt)
    subtype = info.subtype if sf.check_format(fmt, info.subtype) else sf.default_subtype(fmt)
    return fmt, subtype


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: Path) -> int:
    """Remove temporaries of ``final`` left by dead processes of this host; returns how many."""
    removed = 0
    pattern = re.compile(re.escape("." + final.name + TEMP_MARK) + re.escape(_HOST) + r"-(\d+)-[0-9a-f]+$")
    try:
        names = os.listdir(final.parent)
    except OSError:
        return 0
    for name in names:
        m = pattern.match(name)
        if m and not _pid_alive(int(m.group(1))):
            try:
                os.unlink(final.parent / name)
                removed += 1
            except OSError:
                pass
    return removed


def remove_temporaries(paths: set[Path]) -> None:
    """Delete these temporaries (those already renamed into place or never created are gone) and
    empty the set."""
    for temp in list(paths):
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        paths.discard(temp)


def _write_failed(name: str, err: BaseException) -> AudioError:
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return AudioError(f"{name}: disk full while writing; free space and run again (nothing was left behind)")
    if isinstance(err, PermissionError):
        return AudioError(f"{name}: cannot write here (permission denied); choose a writable output folder")
    return AudioError(f"{name}: write failed ({_describe(err)}); check the output folder and free space")


class AtomicWriter:
    """Block-by-block writer that only makes the final file appear when :meth:`commit` succeeds.

        with AtomicWriter(path, rate, channels, "WAV", "PCM_16") as w:
            w.write(block)        # [C, n] float, clipped to the subtype here
            w.commit()            # rename into place; leaving the block without commit removes the temporary

    ``path == "-"`` buffers in memory and copies to stdout on commit.

    ``pending``: a set the temporary's path joins *before* the file is created and leaves once it is
    committed or removed. A signal (Ctrl-C) can land inside this constructor, after the file exists
    but before the caller holds the writer to abort it; the owner of the set then deletes what is
    left with :func:`remove_temporaries`.
    """

    def __init__(self, path: str | Path, sample_rate_hz: int, channels: int, format: str, subtype: str, *,
                 pending: set[Path] | None = None):
        self.name = str(path)
        self.subtype = subtype
        self.frames = 0
        self._stdout = self.name == STDIO
        self._final = None if self._stdout else Path(path)
        self._temp: Path | None = None
        self._pending = pending if pending is not None else set()
        try:
            if self._stdout:
                self._file = io.BytesIO()
            else:
                self._final.parent.mkdir(parents=True, exist_ok=True)
                remove_stale_temporaries(self._final)
                token = secrets.token_hex(4)
                temp = self._final.parent / f".{self._final.name}{TEMP_MARK}{_HOST}-{os.getpid()}-{token}"
                self._pending.add(temp)
                self._temp = temp
                self._file = open(self._temp, "xb")  # exclusive: no two writers share a temporary
            self._sf = sf.SoundFile(self._file, "w", samplerate=sample_rate_hz, channels=channels,
                                    format=format, subtype=subtype)
        except Exception as err:  # noqa: BLE001 - every failure becomes one clear line
            self.abort()
            raise _write_failed(self.name, err) from None

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` [C, n] (float, any scale; clipped to the subtype's range)."""
        if block.shape[-1] == 0:
            return
        try:
            self._sf.write(clip_for_subtype(block, self.subtype).T)
            self.frames += block.shape[-1]
        except Exception as err:  # noqa: BLE001
            self.abort()
            raise _write_failed(self.name, err) from None

    def commit(self) -> None:
        """Finish the file and move it into place (or copy it to stdout)."""
        try:
            self._sf.close()
            if self._stdout:
                sys.stdout.buffer.write(self._file.getvalue())
                sys.stdout.buffer.flush()
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temp, self._final)
            self._pending.discard(self._temp)
            self._temp = None
        except Exception as err:  # noqa: BLE001
            self.abort()
            raise _write_failed(self.name, err) from None

    def abort(self) -> None:
        """Drop everything written so far; nothing is left behind."""
        for closer in (getattr(self, "_sf", None), getattr(self, "_file", None)):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001 - already failing; cleaning up is all that is left
                pass
        if self._temp is not None:
            remove_temporaries({self._temp})
            self._pending.discard(self._temp)
            self._temp = None

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self._temp is not None:
            self.abort()


def write_audio(path: str | Path, wave: np.ndarray, sample_rate_hz: int, format: str = "WAV",
                subtype: str = "PCM_16") -> None:
    """Write ``wave`` [C, N] (or [N]) atomically with explicit clipping."""
    wave = np.asarray(wave)
    wave = wave[None] if wave.ndim == 1 else wave
    with AtomicWriter(path, sample_rate_hz, wave.shape[0], format, subtype) as writer:
        writer.write(wave)
        writer.commit()
