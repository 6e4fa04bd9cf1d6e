"""Which files a directory run processes, and where each output goes.

Inputs are files, directories (walked recursively, symlinks followed, each directory visited once
so a symlink loop is reported once instead of walked forever) and ``@list.txt`` files (one path
per line; blank lines and lines starting with ``#`` are ignored; relative paths are relative to the
list file). Inputs are deduplicated by resolved path. The input tree is mirrored under the output
folder: a directory argument's files keep their path relative to it, a file argument keeps its
name, and the entries of a list keep their path relative to the deepest folder they share.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from models.audio_io import STDIO, TEMP_MARK

#: File extensions picked up when walking a directory (files named explicitly are always tried).
AUDIO_EXTENSIONS = frozenset({f".{fmt.lower()}" for fmt in sf.available_formats()}
                             | {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".wave"})


@dataclass(frozen=True)
class Job:
    """One input file and its output path (``"-"`` for stdin/stdout)."""

    input: str
    output: str
    key: str  # resolved input path: the identity used for dedupe and sharding


@dataclass(frozen=True)
class InputProblem:
    """An input that cannot even be listed (missing, symlink loop, unreadable folder)."""

    input: str
    error: str


@dataclass
class Discovery:
    jobs: list[Job] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class Shard:
    """``K/N``: the K-th (1-based) of N deterministic, interleaved slices of the sorted inputs."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        try:
            k, n = (int(v) for v in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard must look like K/N (e.g. 3/10), got {text!r}") from None
        if n < 1 or not 1 <= k <= n:
            raise ValueError(f"--shard {text}: need 1 <= K <= N (K counts from 1)")
        return cls(k, n)

    def select(self, jobs: list[Job]) -> list[Job]:
        ordered = sorted(jobs, key=lambda j: j.key)
        return ordered[self.index - 1::self.count]


def _is_audio_name(name: str) -> bool:
    return TEMP_MARK not in name and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _walk(root: Path, exclude: Path | None, problems: list[InputProblem]) -> list[tuple[Path, Path]]:
    """(file, root) pairs under ``root``, symlinks followed.

    A folder reached again through one of its own descendants is a symlink loop: reported once,
    not entered. A folder reached again by another path (a link to a sibling) is skipped quietly,
    its files are already listed.
    """
    found: list[tuple[Path, Path]] = []
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, tuple[tuple[int, int], ...]]] = [(root, ())]
    while stack:
        folder, ancestors = stack.pop()
        try:
            st = folder.stat()
        except OSError as err:
            problems.append(InputProblem(str(folder), f"{folder}: cannot enter ({err.strerror or err}); "
                                         "fix or remove the symlink"))
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in ancestors:
            problems.append(InputProblem(str(folder), f"{folder}: symlink loop (it leads back to a folder above it); "
                                         "not followed, remove the link to silence this"))
            continue
        if ident in seen or (exclude is not None and folder.resolve() == exclude):
            continue  # already listed, or our own output folder: never enhance our outputs
        seen.add(ident)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            problems.append(InputProblem(str(folder), f"{folder}: cannot list ({err.strerror or err}); "
                                         "check its permissions"))
            continue
        subdirs = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir, is_file = entry.is_dir(follow_symlinks=True), entry.is_file(follow_symlinks=True)
            except OSError:  # e.g. ELOOP for a link that points at itself
                is_dir = is_file = False
            if is_dir:
                subdirs.append((path, ancestors + (ident,)))
            elif is_file:
                if _is_audio_name(entry.name):
                    found.append((path, root))
            elif entry.is_symlink():
                try:
                    os.stat(path)
                except OSError as err:
                    if err.errno == errno.ELOOP:
                        problems.append(InputProblem(str(path), f"{path}: symlink loop (the link points to itself); "
                                                     "remove it"))
                    elif _is_audio_name(entry.name):
                        problems.append(InputProblem(str(path), f"{path}: broken symlink; fix or remove it"))
        stack.extend(reversed(subdirs))
    return found


def _read_list(list_file: Path, problems: list[InputProblem]) -> list[Path]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        problems.append(InputProblem(f"@{list_file}", f"@{list_file}: cannot read the list ({err}); check the path"))
        return []
    paths = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line).expanduser()
            paths.append(p if p.is_absolute() else list_file.parent / p)
    return paths


def discover(inputs: list[str], output: str) -> Discovery:
    """Expand ``inputs`` into jobs writing under ``output`` (see the module docstring)."""
    result = Discovery()
    if inputs == [STDIO]:
        result.jobs.append(Job(STDIO, output, STDIO))
        return result
    out_root = Path(output)
    exclude = out_root.resolve() if out_root.exists() else None
    pairs: list[tuple[Path, Path]] = []  # (file, root it is mirrored from)
    for arg in inputs:
        if arg.startswith("@"):
            listed: list[tuple[Path, Path]] = []
            for p in _read_list(Path(arg[1:]), result.problems):
                _add_single(p, p.parent, listed, result.problems)
            if listed:
                common = Path(os.path.commonpath([str(p.parent.absolute()) for p, _ in listed]))
                pairs.extend((p, common) for p, _ in listed)
            continue
        path = Path(arg)
        if path.is_dir():
            pairs.extend(_walk(path, exclude, result.problems))
        else:
            _add_single(path, path.parent, pairs, result.problems)
    seen: dict[str, Job] = {}
    taken: dict[str, str] = {}
    for file, root in pairs:
        key = str(file.resolve())
        if key in seen:
            result.duplicates += 1
            continue
        rel = os.path.relpath(file.absolute(), root.absolute())
        target = str(out_root / rel)
        if target in taken:
            result.problems.append(InputProblem(str(file), f"{file}: its output {target} would overwrite the output of "
                                                f"{taken[target]}; give the inputs from a common folder instead"))
            continue
        taken[target] = str(file)
        seen[key] = Job(str(file), target, key)
    result.jobs = list(seen.values())
    return result


def _add_single(path: Path, root: Path, pairs: list[tuple[Path, Path]], problems: list[InputProblem]) -> None:
    try:
        path.stat()
    except OSError as err:
        reason = "symlink loop" if err.errno == errno.ELOOP else (err.strerror or str(err))
        problems.append(InputProblem(str(path), f"{path}: {reason}; check the path"))
        return
    if path.is_dir():
        problems.append(InputProblem(str(path), f"{path}: is a folder inside a list; list files, or pass the folder"))
        return
    pairs.append((path, root))
