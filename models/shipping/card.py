"""The model card (``weights/<name>.md``) of a shipped model, rendered from what was measured.

Every figure comes from the run directory (config.json, log.jsonl, last.pt) or from the
:class:`~models.shipping.eval_sets.SetScores` the shipping run computed; nothing is typed in.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.metrics import METRICS
from models.shipping.eval_sets import EnhanceRun, SetScores
from models.shipping.heldout import HeldoutSpec
from models.shipping.manifest import atomic_write_text
from models.shipping.run_info import WEIGHT_FILES, Hardware, RunInfo

#: Decimals per metric, as `gre evaluate` prints them.
DECIMALS = {"si_sdr": 2, "snr": 2, "pd": 2}
#: Validation log names -> printed names.
VAL_COLUMNS = (("pesq", "PESQ-WB"), ("stoi", "STOI"), ("sisdr", "SI-SDR [dB]"), ("pd", "PD [deg]"), ("lsd", "LSD"))
METRIC_LABELS = {"pesq_wb": "PESQ-WB", "stoi": "STOI", "si_sdr": "SI-SDR", "pd": "PD", "lsd": "LSD"}
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class CardFigures:
    """What every card shows of a model's measurement: what it serves, its scores, how they were made."""

    name: str
    parameters: int
    tasks: tuple[str, ...]
    default_for: tuple[str, ...]
    sample_rate_hz: int
    scores: tuple[SetScores, ...]
    eval_root: Path
    enhance_run: EnhanceRun
    notes: str = ""
    heldout: HeldoutSpec | None = None
    heldout_notes: tuple[str, ...] = ()
    command: str = ""
    written_utc: str = ""
    git_commit: str = ""
    heldout_degradation: str = "the run's degradation settings"


@dataclass(frozen=True, kw_only=True)
class CardData(CardFigures):
    """Everything the card of a trained run's weights shows."""

    arch: str
    config_name: str
    config: dict[str, Any]
    named_config_matches: bool
    mode: str
    weights_file: str
    weights_bytes: int
    sha256: str
    which_weights: str  # "best" | "last" | "averaged"
    run: RunInfo
    hardware: Hardware


@dataclass(frozen=True, kw_only=True)
class ChainCardData(CardFigures):
    """Everything the card of a chain shows: its models (``stages``, run in that order) and the
    figures measured on the chain as a whole. It has no weights or training of its own."""

    stages: tuple[str, ...]
    stage_sources: tuple[str, ...]
    heldout_degradation: str = ("the recipe's default settings, `DegradeConfig()`, as `bench/heldout_compare.py` "
                                "degrades: a chain has no run of its own")


@dataclass(frozen=True, kw_only=True)
class RouterCardData(CardFigures):
    """Everything the card of a router shows (:mod:`models.router`): its classifier (weights file, how it was
    trained, its validation accuracy) and the models it routes to, then the figures of the router as a whole."""

    stages: tuple[str, ...]  # dereverb, denoise, bwe
    stage_sources: tuple[str, ...]
    weights_file: str
    weights_bytes: int
    sha256: str
    train_config: dict[str, Any]
    train_report: dict[str, Any]
    heldout_degradation: str = ("the recipe's default settings, `DegradeConfig()`, as `bench/heldout_compare.py` "
                                "degrades: a router has no run of its own")


def shown_path(path: Path | str) -> str:
    """A path as the card prints it: relative to the repository root when it is near it."""
    path = Path(path).resolve()
    try:
        path.relative_to(REPO_ROOT.parent)
    except ValueError:
        return str(path)
    return os.path.relpath(path, REPO_ROOT)


def cell(mean: float | None, ci: float | None, metric: str) -> str:
    """``mean ± ci`` with `gre evaluate`'s decimals; "-" when no file was scored."""
    if mean is None:
        return "-"
    d = DECIMALS.get(metric, 3)
    return f"{mean:.{d}f}" + (f" ± {ci:.{d}f}" if ci is not None else "")


def _or_unknown(value: object) -> str:
    return "unknown" if value is None else str(value)


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.2f} h ({seconds:,.0f} s)"


def _header(c: CardData) -> list[str]:
    step = c.run.weights_step(c.which_weights)
    best = c.run.best_val
    origin = f"`{shown_path(c.run.run_dir / WEIGHT_FILES[c.which_weights])}`"
    if c.which_weights == "best" and best is not None:
        key = c.run.selection_key
        label = "PD" if key == "pd" else "PESQ-WB"
        origin += f" (best validation {label} {best.get(key, float('nan')):.3f}, step {step})"
    elif c.which_weights == "averaged":
        of_run = " of this run" if c.run.averaged_checkpoints_of_run() else ""
        origin += f" ({c.run.describe_weights('averaged')}{of_run}, made by `gre average-weights`)"
    elif step is not None:
        origin += f" (last checkpoint, step {step})"
    named = "" if c.named_config_matches else " (differs from the named config of that name: see below)"
    lines = [
        *_title(c),
        f"| architecture | `{c.arch}`, config `{c.config_name}`{named}, {c.parameters:,} parameters |",
        f"| mode | {c.mode} |",
        *_serving_rows(c),
        f"| weights | `{c.weights_file}`, {c.weights_bytes:,} bytes, sha256 `{c.sha256}` |",
        f"| from | {origin} |",
        _written_row(c),
        "",
    ]
    return lines + _notes(c)


def _title(c: CardFigures) -> list[str]:
    return [f"# Model card: {c.name}", "", "| | |", "|---|---|", f"| registry name | `{c.name}` |"]


def _serving_rows(c: CardFigures) -> list[str]:
    return [f"| tasks | {', '.join(c.tasks)} |", f"| default for | {', '.join(c.default_for) or '-'} |",
            f"| sample rate | {c.sample_rate_hz} Hz |"]


def _written_row(c: CardFigures) -> str:
    return (f"| card written | {c.written_utc} by `bench/ship_model.py`"
            + (f" at commit `{c.git_commit}`" if c.git_commit else "") + " |")


def _notes(c: CardFigures) -> list[str]:
    return ["## Notes", "", c.notes.strip(), ""] if c.notes else []


def _folders(values: Any) -> str:
    items = list(values or [])
    return ", ".join(f"`{shown_path(v)}`" for v in items) if items else "-"


def _initial_weights(source: str | None) -> str:
    """The card's row for ``--init-weights``: a fine-tune's steps and times count that run only."""
    if not source:
        return "random (trained from scratch)"
    if Path(source).is_file():
        return (f"`{shown_path(source)}` (a fine-tune: the steps and times in this table are this run's only; "
                "the starting weights' own training is not included)")
    return (f"registered model `{source}` (a fine-tune: the steps and times in this table are this run's only; "
            "the starting weights' own training is in that model's card)")


def _training(c: CardData) -> list[str]:
    cfg, run = c.run.config, c.run
    threads = cfg.get("threads", 0)
    speed = f"{run.steps_per_second:.4f} steps/s (median of the logged rates)" if run.steps_per_second else "unknown"
    shipped = (f"shipped weights: {run.describe_weights('averaged')}" if c.which_weights == "averaged" else
               f"shipped weights from step {_or_unknown(run.weights_step(c.which_weights))}")
    lines = [
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| run directory | `{shown_path(run.run_dir)}` |",
        f"| task | {cfg.get('task')} |",
        f"| steps | {_or_unknown(run.step_reached)} reached of {cfg.get('steps')} configured; {shipped} |",
        f"| batch | {cfg.get('batch_size')} x {cfg.get('segment_seconds')} s segments |",
        f"| optimiser | AdamW, lr {cfg.get('lr')}, x{cfg.get('lr_decay')} every {cfg.get('lr_decay_every_steps')} "
        f"steps, betas {cfg.get('betas')}, weight decay {cfg.get('weight_decay')}, grad clip {cfg.get('grad_clip')} |",
        f"| loss weights | `{json.dumps(cfg.get('losses', {}), sort_keys=True)}` |",
        f"| initial weights | {_initial_weights(cfg.get('init_weights'))} |",
        f"| precision, device | {cfg.get('precision')}, {cfg.get('device')} |",
        f"| seed | {cfg.get('seed')} |",
        f"| time in training steps | {_hours(run.train_seconds)} (`last.pt` elapsed_s, summed over resumes) |",
        f"| log span | {_hours(run.log_span_seconds)} (first to last `log.jsonl` record: includes validation, "
        "checkpoints and pauses between resumes) |",
        f"| speed | {speed} |",
        f"| hardware | {c.hardware.cpu_model}, {c.hardware.logical_cpus} logical CPUs, {c.hardware.machine} "
        "(the machine that ran `bench/ship_model.py`; the run directory does not record where it trained); "
        f"torch threads in training: {threads if threads else 'torch default'} |",
        "",
        "Training data: the corpus built from Debian packages by `recipes/debian/build_corpus.sh` "
        "(see `recipes/debian/README.md`: real speech from voice-prompt, game and education packages, "
        "real noise from game packages, simulated rooms plus measured impulse responses; split by package "
        "and speaker). Audio is degraded on the fly for the task (`models/data/degrade.py`).",
        "",
        "| role | folders | files kept | hours |",
        "|---|---|---|---|",
    ]
    scans = {s.get("what"): s for s in run.scans}
    roles = (("clean speech", "clean_dirs", "clean"), ("noise", "noise_dirs", "noise"),
             ("room impulse responses", "rir_dirs", "rir"), ("validation speech", "val_clean_dirs", "val"),
             ("validation noise", "val_noise_dirs", None), ("validation RIRs", "val_rir_dirs", None))
    for label, key, scan_name in roles:
        folders = cfg.get(key) or []
        scan = scans.get(scan_name) if scan_name else None
        if not folders and scan is None:
            if key == "rir_dirs" and cfg.get("task") in ("dereverb", "universal"):
                lines.append(f"| {label} | none: rooms simulated with pyroomacoustics | - | - |")
            continue
        kept = str(scan.get("kept")) if scan else "-"
        hours = f"{scan['hours']:.2f}" if scan and isinstance(scan.get("hours"), (int, float)) else "-"
        lines.append(f"| {label} | {_folders(folders)} | {kept} | {hours} |")
    lines.append("")
    tts = _synthetic_share(run.run_dir / "files_clean.json")
    if tts is not None:
        lines += [f"Of the clean speech, {tts[0]} files ({tts[1]:.2f} h) are synthetic: the TTS voices of "
                  "`build_corpus.sh --with-tts` (folders `tts-*`). Held-out and validation speech is all real.", ""]
    return lines


def _synthetic_share(files_json: Path) -> tuple[int, float] | None:
    """(files, hours) of TTS speech (a ``tts-*`` folder) among a run's training files; None if it has none."""
    try:
        files = json.loads(files_json.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    tts = [f for f in files if any(part.startswith("tts-") for part in Path(f["path"]).parts[:-1])]
    if not tts:
        return None
    return len(tts), sum(f["frames"] / f.get("source_rate_hz", 16000) for f in tts) / 3600


def _validation(c: CardData) -> list[str]:
    run, cfg = c.run, c.run.config
    lines = ["## Validation curve", ""]
    if not run.val_rows:
        return lines + ["The run logged no validation (no `--val-clean`).", ""]
    key = run.selection_key
    lines += [
        f"{len(run.val_rows)} validations (every {cfg.get('val_every')} steps) on up to {cfg.get('val_files')} "
        f"validation files (first {cfg.get('val_max_seconds')} s, degraded once with the run's seed), from "
        f"`log.jsonl`. best.safetensors is chosen by {'lowest PD' if key == 'pd' else 'highest PESQ-WB'}.",
        "",
    ]
    present = [(k, label) for k, label in VAL_COLUMNS
               if any(isinstance(r.get(k), (int, float)) for r in run.val_rows + [run.val_input or {}])]
    lines += ["| | step | " + " | ".join(label for _, label in present) + " |",
              "|---|---|" + "---|" * len(present)]
    picks: list[tuple[str, dict]] = []
    if run.val_input:
        picks.append(("input (degraded)", run.val_input))
    picks.append(("first", run.val_rows[0]))
    if run.best_val is not None:
        picks.append(("**best**", run.best_val))
    picks.append(("last", run.val_rows[-1]))
    for label, row in picks:
        values = [f"{row[k]:.3f}" if isinstance(row.get(k), (int, float)) else "-" for k, _ in present]
        lines.append(f"| {label} | {row.get('step', '-')} | " + " | ".join(values) + " |")
    lines.append("")
    return lines


def _column(metric: str) -> str:
    """Table heading of a metric: name, unit (MOS left out) and which way is better."""
    spec = METRICS[metric]
    unit = f" [{spec.unit}]" if spec.unit not in ("", "MOS") else ""
    return f"{METRIC_LABELS.get(metric, metric)}{unit} {'↑' if spec.higher_is_better else '↓'}"


def _score_table(scores: list[SetScores]) -> list[str]:
    """One row per (set, system): the model in bold, then what it is compared to."""
    metrics = [m for m in METRICS if any(m in s.spec.metrics for s in scores)]
    head = " | ".join(_column(m) for m in metrics)
    lines = [f"| set | system | files | {head} |", "|---|---|---|" + "---|" * len(metrics)]
    for s in scores:
        rows = ((s.model, f"**{system_label(s, 'model')}**"), (s.baseline, system_label(s, "baseline")))
        for system, label in rows:
            cells = [cell(system.mean.get(m), system.ci95.get(m), m) if m in s.spec.metrics else "" for m in metrics]
            files = str(system.n) + (f" ({system.failed} failed)" if system.failed else "")
            lines.append(f"| {s.spec.label} | {label} | {files} | " + " | ".join(cells) + " |")
    return lines


def system_label(s: SetScores, role: str) -> str:
    """The name a system has in the card's tables (the model's name, or what it is compared to)."""
    if role == "model":
        return s.model.name
    if s.spec.baseline_model:
        return f"{s.spec.baseline_model} (baseline)"
    return f"{s.spec.input_name} (input)"


def enhance_command(s: SetScores, name: str, run: EnhanceRun, out_dir: str) -> str:
    return (f"gre enhance {shown_path(s.spec.input_dir)} {out_dir} --model {name} --device cpu "
            f"--threads {run.threads} --workers 0 --quiet")


def reproduce_commands(c: CardFigures) -> list[str]:
    """One `gre enhance ... && gre evaluate ...` line per ../shared/eval set (run from the repository root)."""
    lines = []
    for s in c.scores:
        if s.spec.group != "shared":
            continue
        out = f"enhanced/{c.name}/{s.spec.label}/{c.name}"
        steps = [enhance_command(s, c.name, c.enhance_run, out)]
        baseline = shown_path(s.spec.input_dir)
        if s.spec.baseline_model:
            baseline = f"enhanced/{c.name}/{s.spec.label}/{s.spec.baseline_model}"
            steps.append(enhance_command(s, s.spec.baseline_model, c.enhance_run, baseline))
        steps.append(f"gre evaluate --ref {shown_path(s.spec.reference_dir)} --est {out} --est {baseline} "
                     f"--metrics {','.join(s.spec.metrics)}")
        lines.append(" && ".join(steps))
    return lines


def _evaluation(c: CardFigures) -> list[str]:
    shared = [s for s in c.scores if s.spec.group == "shared"]
    heldout = [s for s in c.scores if s.spec.group == "heldout"]
    lines = [
        f"## Evaluation on `{shown_path(c.eval_root)}`",
        "",
        "Real benchmark pairs (see the README there); mean ± 95 % CI half-width over the files, scored by "
        "`models.evaluate` (the code of `gre evaluate`; each file cut to the common length). The bold row is "
        "this model; the row under it is the degraded input scored as is"
        + (", or for phase retrieval (input: the clean file, whose magnitude is kept and phase retrieved) "
           "the classical fast Griffin-Lim" if any(s.spec.baseline_model for s in shared) else "") + ".",
        "",
    ]
    lines += _score_table(shared) if shared else ["No ../shared/eval set was scored."]
    lines.append("")
    if heldout or c.heldout_notes:
        lines += ["## Evaluation on held-out corpus pairs", ""]
        if heldout:
            h = c.heldout
            source = "" if h is None else (
                f" from clean speech {_folders(h.clean_dirs)}, noise {_folders(h.noise_dirs)}, "
                f"impulse responses {_folders(h.rir_dirs)}: up to {h.files} files per task, the first "
                f"{h.max_seconds:g} s of each, seed {h.seed}")
            lines += [f"Pairs generated by `models/shipping/heldout.py`{source}; degraded for the task as training "
                      f"validation degrades ({c.heldout_degradation}), unit RMS, 32-bit float. "
                      "`--keep-outputs DIR` keeps them (`DIR/heldout-<task>/{degraded,clean}`) and the outputs.",
                      ""]
            lines += _score_table(heldout) + [""]
        lines += [f"- {note}" for note in c.heldout_notes] + ([""] if c.heldout_notes else [])
    lines += ["## Reproduce", "",
              "From the repository root, with this model shipped (registered as "
              f"`{c.name}`); each line prints the table the figures above come from:", "", "```bash"]
    lines += reproduce_commands(c)
    lines += ["```", ""]
    if c.command:
        made = "weights, registration and every figure" if isinstance(c, CardData) else "registration and every figure"
        lines += [f"This card ({made}) was made by:", "", "```bash", c.command, "```", ""]
    return lines


def render_card(c: CardData) -> str:
    lines = _header(c) + _training(c) + _validation(c) + _evaluation(c)
    lines += ["## Network configuration", "", f"`{c.arch}` config `{c.config_name}` as stored in the weights file:",
              "", "```json", json.dumps(c.config, indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)


def render_chain_card(c: ChainCardData) -> str:
    """The card of a chain: its models with their cards, then the figures of the chain as a whole."""
    lines = [
        *_title(c),
        f"| architecture | a chain of {len(c.stages)} registered models, run in this order (each one's output is "
        f"the next one's input; `models/chain.py`), {c.parameters:,} parameters in all |",
        "| mode | enhance |",
        *_serving_rows(c),
        "| weights | none of its own: those of its models, each checked against its sha256 when loaded |",
        f"| same as | `gre enhance --model {'+'.join(c.stages)}` |",
        _written_row(c),
        "",
        *_notes(c),
    ]
    lines += ["## Models, in order", "", "| # | model | what it is |", "|---|---|---|"]
    for i, (stage, source) in enumerate(zip(c.stages, c.stage_sources), 1):
        lines.append(f"| {i} | `{stage}` | {source} |")
    lines += ["", "Their training (data, steps, hardware, validation) is in their own cards.", ""]
    return "\n".join(lines + _evaluation(c))


def render_router_card(c: RouterCardData) -> str:
    """The card of a router: what routes where, its classifier's training and accuracy, its models with their
    cards, then the figures of the router as a whole."""
    dereverb, denoise, bwe = c.stages
    report, cfg = c.train_report, c.train_config
    accuracy = ", ".join(f"{label} {value:.3f}" for label, value in report.get("val_accuracy", {}).items())
    lines = [
        *_title(c),
        "| architecture | a router (`models/router.py`): a degradation classifier says whether each chunk has "
        f"noise and whether it has reverberation, and the chunk goes through `{dereverb}` if reverberant, then "
        f"`{denoise}` if noisy, then `{bwe}`; {c.parameters:,} parameters in all |",
        "| mode | enhance |",
        *_serving_rows(c),
        f"| weights | `{c.weights_file}` (the classifier, {c.weights_bytes:,} bytes, sha256 `{c.sha256}`); the "
        "models' own files, each checked against its sha256 when loaded |",
        _written_row(c),
        "",
        *_notes(c),
        "## The classifier", "",
        "A multilayer perceptron on per-band statistics over time of a 48-band log-mel spectrogram "
        "(`models/nets/degradation.py`), trained by `python -m models.train.degradation` on crops drawn from the "
        f"training corpus: clean speech {_folders(cfg.get('clean_dirs', ()))}, noise {_folders(cfg.get('noise_dirs', ()))}, "
        f"rooms {_folders(cfg.get('rir_dirs', ()))}. Each crop ({cfg.get('seconds', '?')} s) gets, with equal odds, "
        f"nothing, noise ({cfg.get('snr_range_db', ['?', '?'])[0]:g}..{cfg.get('snr_range_db', ['?', '?'])[1]:g} dB SNR), "
        "reverberation, or both; half of them are then band-limited at 2 or 4 kHz. "
        + (f"Of the crops labelled noise-free, {cfg['faint_noise_prob']:.0%} still get a faint noise floor "
           f"({cfg.get('faint_snr_range_db', ['?', '?'])[0]:g}..{cfg.get('faint_snr_range_db', ['?', '?'])[1]:g} dB "
           "SNR), as real recordings have one. " if cfg.get("faint_noise_prob") else "") +
        f"{cfg.get('examples', '?'):,} training crops from {report.get('train_files', '?'):,} files; "
        f"{cfg.get('val_examples', '?'):,} validation crops from {report.get('val_files', '?'):,} other files "
        "(every 10th by name).", "",
        f"Validation accuracy: {accuracy} (chance 0.5 each); both right: {report.get('val_both_right', 0):.3f}. "
        f"Trained in {report.get('wall_s', 0):.0f} s on one CPU core.", "",
        "## Models it routes to", "", "| role | model | what it is |", "|---|---|---|",
    ]
    for role, stage, source in zip(("dereverb", "denoise", "bwe"), c.stages, c.stage_sources):
        lines.append(f"| {role} | `{stage}` | {source} |")
    lines += ["", "Their training (data, steps, hardware, validation) is in their own cards.", ""]
    return "\n".join(lines + _evaluation(c))


def mark_default_taken(card_path: Path, remaining: tuple[str, ...], taken: tuple[str, ...], by: str, date: str) -> bool:
    """Rewrite the "default for" row of an existing card whose model lost the defaults ``taken`` to
    model ``by``; the rest of the card (its measured figures) is left as written. Returns whether
    the card had such a row."""
    if not card_path.is_file():
        return False
    text = card_path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("| default for |"):
            now = ", ".join(remaining) or "-"
            lines[i] = (f"| default for | {now} (the {', '.join(taken)} default until {date}, "
                        f"replaced by `{by}`) |")
            atomic_write_text(card_path, "\n".join(lines))
            return True
    return False
