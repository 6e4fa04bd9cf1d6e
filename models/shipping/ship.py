"""Ship a finished training run as a registered model: weights, scores, model card, registration.

    >>> from models.shipping import ShipRequest, ship_model
    >>> result = ship_model(ShipRequest(run_dir=Path("runs/denoise"), name="gre-denoise-x",
    ...                                 tasks=("denoise",), default_for=("denoise",)))
    >>> result.card_path        # models/weights/gre-denoise-x.md

Order of work: read and check the run, score the weights on ../shared/eval (and optional held-out
pairs), then write ``<name>.safetensors``, ``<name>.md`` and the manifest (``shipped.json`` +
``shipped.py``), each atomically. A failure before the last step leaves the manifest as it was.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from models import registry
from models.shipping.card import REPO_ROOT, CardData, mark_default_taken, render_card
from models.shipping.eval_sets import EnhanceRun, EvalSet, SetScores, score_set, shared_eval_sets
from models.shipping.heldout import HeldoutSpec, build_heldout_set
from models.shipping.manifest import ShippedModel, atomic_copy, atomic_write_text, read_manifest, upsert, write_manifest
from models.shipping.run_info import read_run, this_machine, weights_path

if TYPE_CHECKING:
    from models.data.degrade import DegradeConfig

DEFAULT_EVAL_ROOT = REPO_ROOT.parent / "shared" / "eval"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class ShipError(ValueError):
    """A request that cannot be shipped; the message says what to change."""


@dataclass(frozen=True, kw_only=True)
class ShipSettings:
    """What every ship request says: the name, the tasks, and how to score and document it."""

    name: str
    tasks: tuple[str, ...] = ()
    default_for: tuple[str, ...] = ()
    eval_root: Path = DEFAULT_EVAL_ROOT
    heldout: HeldoutSpec | None = None
    notes: str = ""
    threads: int = 1  # torch threads while enhancing
    jobs: int = 1  # evaluation worker processes
    keep_outputs: Path | None = None  # keep enhanced files (and held-out pairs) here
    command: str = ""  # the command line, printed in the card


@dataclass(frozen=True, kw_only=True)
class ShipRequest(ShipSettings):
    """Ship the weights of a training run. ``tasks`` empty: the run's own task."""

    run_dir: Path
    weights: str = "best"  # "best" (best.safetensors), "last" (model.safetensors) or "averaged" (averaged.safetensors)


@dataclass(frozen=True)
class ShipResult:
    entry: ShippedModel
    weights_path: Path | None  # None for a chain (no weights of its own)
    card_path: Path
    scores: tuple[SetScores, ...]
    card: str


def _check_request(req: ShipSettings, run_task: str, mode: str, manifest_names: set[str]) -> tuple[str, ...]:
    if not NAME_PATTERN.match(req.name):
        raise ShipError(f"--name {req.name!r}: use 2-64 lower-case letters, digits, '.', '_' or '-'")
    known = registry.REGISTRY.get(req.name)
    if known is not None and known.weights_file is None and req.name not in manifest_names:
        raise ShipError(f"--name {req.name!r} is a built-in registry model; choose another name")
    tasks = tuple(dict.fromkeys(req.tasks or (run_task,)))
    unknown = [t for t in tasks + tuple(req.default_for) if t not in registry.TASKS]
    if unknown:
        raise ShipError(f"unknown task(s) {', '.join(unknown)}; tasks: {', '.join(registry.TASKS)}")
    if not set(req.default_for) <= set(tasks):
        raise ShipError(f"--default-for {' '.join(req.default_for)} must be among --tasks {' '.join(tasks)}")
    if mode == "phase_retrieval" and tasks != ("phase",):
        raise ShipError(f"the weights are a phase-retrieval model: it serves --tasks phase only, not {' '.join(tasks)}")
    if mode != "phase_retrieval" and "phase" in tasks:
        raise ShipError("--tasks phase needs a phase-retrieval model (a run trained with --task phase)")
    return tasks


def _named_config_matches(arch: str, config_name: str, config: dict) -> bool:
    from models.architectures import config_from_stored, named_config

    try:
        return config_from_stored(arch, config) == named_config(arch, config_name)
    except ValueError:
        return False


@contextlib.contextmanager
def _manifest_lock(weights_dir: Path):
    """Exclusive lock for the read-modify-write of ``shipped.json`` (two ships at once on one machine)."""
    import fcntl

    with open(weights_dir / ".shipped.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _measure(req: ShipSettings, model_spec: str, tasks: tuple[str, ...], plan: list[EvalSet],
             degrade: DegradeConfig, min_file_seconds: float,
             say: Callable[[str], None]) -> tuple[int, list[SetScores], list[str]]:
    """Load ``model_spec`` (a weights file or a chain) on the CPU with ``req.threads`` torch threads,
    score it on ``plan`` (../shared/eval sets) and on held-out pairs of ``tasks`` degraded by
    ``degrade`` (when ``req.heldout`` is set). Returns (parameters, scores, held-out notes)."""
    from models.api import load_model

    threads_before = torch.get_num_threads()
    torch.set_num_threads(req.threads)
    try:
        model = load_model(model_spec, device="cpu")
        parameters = sum(p.numel() for p in model.parameters())
        with tempfile.TemporaryDirectory(prefix="gre-ship-") as tmp:
            out_root = Path(req.keep_outputs) if req.keep_outputs else Path(tmp)
            out_root.mkdir(parents=True, exist_ok=True)
            heldout, notes = [], []
            for task in tasks if req.heldout is not None else ():
                say(f"held-out {task}: generating pairs")
                spec, note = build_heldout_set(req.heldout, task, degrade, out_root, min_file_seconds)
                heldout += [spec] if spec is not None else []
                if note:
                    notes.append(note)
                    say(note)
            scores = []
            run = EnhanceRun(threads=req.threads, jobs=req.jobs)
            for spec in plan + heldout:
                say(f"{spec.label}: enhancing {spec.input_dir} and scoring {', '.join(spec.metrics)}")
                scores.append(score_set(model, req.name, spec, out_root, run))
    finally:
        torch.set_num_threads(threads_before)
    return parameters, scores, notes


def ship_model(req: ShipRequest, weights_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> ShipResult:
    """Score, copy, document and register the weights of ``req.run_dir`` as ``req.name``.

    ``weights_dir``: where the weights, card and manifest go (default ``models/weights``).
    ``progress(message)`` is called at each stage. Raises :class:`ShipError` (or the run-dir /
    evaluation errors, all ValueError) before anything is written when the request is unusable.
    """
    from models.checkpoint import load_checkpoint
    from models.train.config import TrainConfig

    say = progress or (lambda message: None)
    weights_dir = Path(weights_dir) if weights_dir is not None else registry.WEIGHTS_DIR
    run = read_run(req.run_dir)
    source = weights_path(req.run_dir, req.weights)
    ckpt = load_checkpoint(source)
    existing = read_manifest(weights_dir)
    tasks = _check_request(req, run.task, ckpt.mode, {e.name for e in existing})
    plan = shared_eval_sets(tasks, req.eval_root)
    run_cfg = TrainConfig.from_dict(run.config)
    parameters, scores, heldout_notes = _measure(req, str(source), tasks, plan, run_cfg.degrade,
                                                 run_cfg.min_file_seconds, say)

    target, sha256 = _copy_weights(source, weights_dir, req.name)
    entry = ShippedModel(
        name=req.name, arch=ckpt.arch, config_name=ckpt.config_name, tasks=tasks, mode=ckpt.mode,
        sample_rate_hz=ckpt.sample_rate_hz, weights_file=target.name, sha256=sha256,
        source=f"gre train run {Path(req.run_dir).resolve().name}, {req.weights} weights "
               f"({run.describe_weights(req.weights)}); model card {req.name}.md",
        default_for=tuple(t for t in tasks if t in req.default_for),
        eval={s.spec.label: s.to_dict() for s in scores},
    )
    card = render_card(CardData(
        arch=ckpt.arch, config_name=ckpt.config_name, config=ckpt.config,
        named_config_matches=_named_config_matches(ckpt.arch, ckpt.config_name, ckpt.config), mode=ckpt.mode,
        weights_file=target.name, weights_bytes=target.stat().st_size, sha256=sha256, which_weights=req.weights,
        run=run, hardware=this_machine(), **_figures(req, entry, parameters, scores, heldout_notes),
    ))
    card_path = weights_dir / f"{req.name}.md"
    atomic_write_text(card_path, card)
    _register(weights_dir, entry)
    say(f"shipped {req.name}: {target} ({sha256[:12]}), card {card_path}")
    return ShipResult(entry, target, card_path, tuple(scores), card)


def _copy_weights(source: Path, weights_dir: Path, name: str) -> tuple[Path, str]:
    """Copy ``source`` to ``weights_dir/<name>.safetensors`` (atomically) and check the copy: (its path, its sha256)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    sha256 = registry.sha256_of(source)
    target = weights_dir / f"{name}.safetensors"
    atomic_copy(source, target)
    if registry.sha256_of(target) != sha256:
        raise RuntimeError(f"{target}: the copy does not match {source} (sha256); the disk may be full")
    return target, sha256


def _figures(req: ShipSettings, entry: ShippedModel, parameters: int, scores: list[SetScores],
             heldout_notes: list[str]) -> dict:
    """The card fields every shipped model has (:class:`~models.shipping.card.CardFigures`)."""
    return dict(name=req.name, parameters=parameters, tasks=entry.tasks, default_for=entry.default_for,
                sample_rate_hz=entry.sample_rate_hz, scores=tuple(scores), eval_root=Path(req.eval_root),
                enhance_run=EnhanceRun(threads=req.threads, jobs=req.jobs), notes=req.notes, heldout=req.heldout,
                heldout_notes=tuple(heldout_notes), command=req.command,
                written_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), git_commit=_git_commit())


def _register(weights_dir: Path, entry: ShippedModel) -> None:
    """Add ``entry`` to the manifest (``shipped.json`` + ``shipped.py``); the cards of models that
    lost a default to it say so (their figures stay as measured)."""
    with _manifest_lock(weights_dir):
        # Read again: another ship may have finished while this one was evaluating (minutes), and
        # writing the list read at the start would drop its entry.
        current = read_manifest(weights_dir)
        updated = upsert(current, entry)
        write_manifest(weights_dir, updated)
        before = {e.name: e.default_for for e in current}
        for e in updated:
            taken = tuple(t for t in before.get(e.name, ()) if t not in e.default_for)
            if e.name != entry.name and taken:
                mark_default_taken(weights_dir / f"{e.name}.md", e.default_for, taken, entry.name,
                                   time.strftime("%Y-%m-%d", time.gmtime()))


@dataclass(frozen=True, kw_only=True)
class ChainShipRequest(ShipSettings):
    """Register registered models run one after another (``stages``: the first one's output is the
    second one's input) as one named model, scored and documented like a run. ``tasks`` is required."""

    stages: tuple[str, ...]


def _check_stages(req: ChainShipRequest) -> None:
    if len(req.stages) < 2:
        raise ShipError("a chain needs at least two --chain models")
    _check_stage_models(req.stages, req.name, "--chain", "chain")
    if not req.tasks:
        raise ShipError("a chain has no run to take its task from: pass --tasks")


def _check_stage_models(stages: tuple[str, ...], own_name: str, option: str, what: str) -> None:
    """Each of ``stages`` (the models of a chain or router) is a registered, installed model that enhances
    and is not itself a chain or router, nor named ``own_name``."""
    from models.chain import CHAIN_SEPARATOR

    for stage in stages:
        entry = registry.REGISTRY.get(stage)
        if entry is None or CHAIN_SEPARATOR in stage:
            raise ShipError(f"{option} {stage!r} is not a registered model; see `gre models`")
        if stage == own_name:
            raise ShipError(f"--name {own_name!r} is one of the {what}'s models; give the {what} a name of its own")
        if entry.stages:
            raise ShipError(f"{option} {stage!r} is itself a chain or router; name its models instead")
        if entry.mode != "enhance":
            raise ShipError(f"{option} {stage!r} is a {entry.mode} model; a {what}'s models must enhance")
        if not entry.available:
            raise ShipError(f"{option} {stage!r}: its weights file is missing; reinstall gre")


def ship_chain(req: ChainShipRequest, weights_dir: Path | None = None,
               progress: Callable[[str], None] | None = None) -> ShipResult:
    """Score, document and register the chain ``req.stages`` as ``req.name`` (no weights of its own:
    the manifest entry names its stages). Held-out pairs are degraded with the recipe's default
    settings (``DegradeConfig()``, as ``bench/heldout_compare.py`` does), there being no run whose
    settings to use. Raises :class:`ShipError` before anything is written when the request is unusable.
    """
    from models.chain import CHAIN_SEPARATOR
    from models.data.degrade import DegradeConfig
    from models.shipping.card import ChainCardData, render_chain_card
    from models.train.config import TrainConfig

    say = progress or (lambda message: None)
    weights_dir = Path(weights_dir) if weights_dir is not None else registry.WEIGHTS_DIR
    _check_stages(req)
    existing = read_manifest(weights_dir)
    tasks = _check_request(req, req.tasks[0], "enhance", {e.name for e in existing})
    plan = shared_eval_sets(tasks, req.eval_root)
    spec_text = CHAIN_SEPARATOR.join(req.stages)
    parameters, scores, heldout_notes = _measure(req, spec_text, tasks, plan, DegradeConfig(),
                                                 TrainConfig.min_file_seconds, say)

    weights_dir.mkdir(parents=True, exist_ok=True)
    stage_entries = [registry.REGISTRY[s] for s in req.stages]
    entry = ShippedModel(
        name=req.name, arch="chain", config_name=spec_text, tasks=tasks, mode="enhance",
        sample_rate_hz=stage_entries[0].sample_rate_hz, weights_file=None, sha256=None,
        source=f"chain: {', then '.join(req.stages)}; model card {req.name}.md",
        default_for=tuple(t for t in tasks if t in req.default_for),
        eval={s.spec.label: s.to_dict() for s in scores}, stages=tuple(req.stages),
    )
    card = render_chain_card(ChainCardData(
        stages=tuple(req.stages), stage_sources=tuple(e.source for e in stage_entries),
        **_figures(req, entry, parameters, scores, heldout_notes),
    ))
    card_path = weights_dir / f"{req.name}.md"
    atomic_write_text(card_path, card)
    _register(weights_dir, entry)
    say(f"shipped chain {req.name} ({spec_text}), card {card_path}")
    return ShipResult(entry, None, card_path, tuple(scores), card)


@dataclass(frozen=True, kw_only=True)
class RouterShipRequest(ShipSettings):
    """Register a router file (``python -m models.train.degradation``: a degradation classifier that names its
    dereverb, denoise and bwe models) as one named model, scored and documented like a run. ``tasks`` empty:
    universal."""

    router_file: Path


def ship_router(req: RouterShipRequest, weights_dir: Path | None = None,
                progress: Callable[[str], None] | None = None) -> ShipResult:
    """Score, copy, document and register the router ``req.router_file`` as ``req.name`` (its classifier is
    the weights file; the manifest entry names its models). Held-out pairs are degraded with the recipe's
    default settings, as for a chain. Raises :class:`ShipError` before anything is written when the request is
    unusable."""
    import json

    from models.checkpoint import read_metadata
    from models.data.degrade import DegradeConfig
    from models.shipping.card import RouterCardData, render_router_card
    from models.train.config import TrainConfig
    from models.train.degradation import load_router_file

    say = progress or (lambda message: None)
    weights_dir = Path(weights_dir) if weights_dir is not None else registry.WEIGHTS_DIR
    source = Path(req.router_file)
    try:
        _, stages = load_router_file(source)
    except Exception as err:  # noqa: BLE001 - not a router file, or not a readable one
        raise ShipError(f"--router {source}: {err}") from None
    stages = tuple(stages)
    _check_stage_models(stages, req.name, "--router's model", "router")
    existing = read_manifest(weights_dir)
    tasks = _check_request(req, "universal", "enhance", {e.name for e in existing})
    plan = shared_eval_sets(tasks, req.eval_root)
    parameters, scores, heldout_notes = _measure(req, str(source), tasks, plan, DegradeConfig(),
                                                 TrainConfig.min_file_seconds, say)

    target, sha256 = _copy_weights(source, weights_dir, req.name)
    stage_entries = [registry.REGISTRY[s] for s in stages]
    entry = ShippedModel(
        name=req.name, arch="router", config_name="+".join(stages), tasks=tasks, mode="enhance",
        sample_rate_hz=stage_entries[0].sample_rate_hz, weights_file=target.name, sha256=sha256,
        source=f"router: a degradation classifier sending each chunk to {', '.join(stages)}; model card {req.name}.md",
        default_for=tuple(t for t in tasks if t in req.default_for),
        eval={s.spec.label: s.to_dict() for s in scores}, stages=stages,
    )
    meta = read_metadata(target)
    card = render_router_card(RouterCardData(
        stages=stages, stage_sources=tuple(e.source for e in stage_entries), weights_file=target.name,
        weights_bytes=target.stat().st_size, sha256=sha256, train_config=json.loads(meta.get("train_config", "{}")),
        train_report=json.loads(meta.get("report", "{}")), **_figures(req, entry, parameters, scores, heldout_notes),
    ))
    card_path = weights_dir / f"{req.name}.md"
    atomic_write_text(card_path, card)
    _register(weights_dir, entry)
    say(f"shipped router {req.name}: {target} ({sha256[:12]}), card {card_path}")
    return ShipResult(entry, target, card_path, tuple(scores), card)
