"""Registry of named models: plain data, one entry per shipped (or test) model.

A weights file is looked up in ``models/weights/`` (shipped inside the package) and verified
against its sha256 before use. An entry without a weights file is a seeded random
initialisation, for tests and smoke runs (never a default for a task), or a chain (``arch``
"chain"): registered models run one after another, named in ``stages``. A router (``arch`` "router",
:mod:`models.router`) has a weights file (its degradation classifier) and names its dereverb, denoise and
bwe models in ``stages``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
TASKS = ("denoise", "dereverb", "bwe", "phase", "universal")


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    arch: str
    config_name: str
    tasks: tuple[str, ...]
    mode: str  # "enhance" | "phase_retrieval"
    sample_rate_hz: int = 16_000
    weights_file: str | None = None  # file name in WEIGHTS_DIR
    sha256: str | None = None
    source: str = ""
    stages: tuple[str, ...] = ()  # a chain's models, in the order they run; a router's dereverb, denoise, bwe

    @property
    def weights_path(self) -> Path | None:
        return WEIGHTS_DIR / self.weights_file if self.weights_file else None

    @property
    def available(self) -> bool:
        own = self.weights_path is None or self.weights_path.is_file()
        if self.stages:
            return own and all(s in REGISTRY and REGISTRY[s].available for s in self.stages)
        return own


REGISTRY: dict[str, RegistryEntry] = {}

#: Task -> registry name of the default model for that task.
DEFAULT_FOR_TASK: dict[str, str] = {}


def register(entry: RegistryEntry, default_for: tuple[str, ...] = ()) -> None:
    REGISTRY[entry.name] = entry
    for task in default_for:
        DEFAULT_FOR_TASK[task] = entry.name


register(RegistryEntry(
    name="gre-tiny-random", arch="gre", config_name="tiny", tasks=TASKS, mode="enhance",
    source="random init (seed 0), for tests only",
))
register(RegistryEntry(
    name="gre-tiny-random-phase", arch="gre", config_name="tiny", tasks=("phase",), mode="phase_retrieval",
    source="random init (seed 0), for tests only",
))

# Classical references: no weights, always available. Until trained GRE weights ship for a task,
# Griffin-Lim is the default for phase retrieval and the Wiener filter for denoising.
register(RegistryEntry(
    name="griffin-lim", arch="classical", config_name="fast, 100 iterations", tasks=("phase",),
    mode="phase_retrieval", source="classical (fast Griffin-Lim, no weights)",
), default_for=("phase",))
register(RegistryEntry(
    name="pghi-griffin-lim", arch="classical", config_name="fast, 100 iterations, PGHI start", tasks=("phase",),
    mode="phase_retrieval", source="classical (fast Griffin-Lim from a phase-gradient heap integration, no weights)",
))
register(RegistryEntry(
    name="wiener", arch="classical", config_name="decision-directed", tasks=("denoise",), mode="enhance",
    source="classical (Wiener filter, no weights)",
), default_for=("denoise",))
register(RegistryEntry(
    name="wpe", arch="classical", config_name="10 taps, delay 3, 3 iterations", tasks=("dereverb",), mode="enhance",
    source="classical (weighted prediction error, no weights)",
))

# Shipped weights are registered from models/weights/shipped.py when that file exists.
try:  # pragma: no cover - depends on shipped weights
    from models.weights import shipped as _shipped  # noqa: F401
except ModuleNotFoundError:
    pass


def get_entry(name: str) -> RegistryEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}") from None


def default_model_for(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    try:
        return DEFAULT_FOR_TASK[task]
    except KeyError:
        raise ValueError(
            f"no shipped default model for task {task!r} yet; pass --model NAME or --checkpoint PATH "
            f"(known models: {', '.join(sorted(REGISTRY))})"
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
