"""Train the degradation classifier of the universal router (:mod:`models.nets.degradation`) from corpus folders.

Examples are drawn from the training corpus as the universal task draws them (gre_net.md section 4): a random crop
of clean speech gets, with equal odds, nothing, noise, reverberation, or both (noise at -5..20 dB SNR, a room
from the RIR folder), and then, half of the time, a band limit at 2 or 4 kHz (the router must not take a missing
band for either). Labels: noise yes/no, reverberation yes/no. The clean files are split by name into training
and validation (every 10th), so the reported accuracy is on files the classifier did not see (speakers may appear
in both: the split is by file, not by speaker).

    python -m models.train.degradation --clean C/speech/train --noise C/noise/train --rir C/rir/train \
        --out router.safetensors      # then: gre enhance in/ out/ --checkpoint router.safetensors

The file is a router (:mod:`models.router`): the classifier plus the names of the registered models it routes to
(``--stages``, by default the dereverb, denoise and bwe defaults of the day).

Deterministic for a given seed and folders (about 3 minutes on one CPU core for the defaults). Crops are drawn and
turned into features 1,024 at a time, so memory does not grow with --examples beyond the features (1 kB a crop).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from models.data import degrade as D
from models.data.files import AudioFile, read_mono, scan_folders
from models.data.rirs import load_rirs
from models.nets.degradation import DegradationClassifier, DegradationClassifierConfig

#: The four label combinations, drawn with equal odds: (noise, reverb).
COMBINATIONS = ((False, False), (True, False), (False, True), (True, True))


@dataclass(frozen=True)
class ClassifierTrainConfig:
    """Corpus folders, how many examples of how many seconds, and the optimiser. SNR in dB, cut-offs in Hz."""

    clean_dirs: tuple[str, ...]
    noise_dirs: tuple[str, ...]
    rir_dirs: tuple[str, ...]
    examples: int = 8000
    val_examples: int = 800
    seconds: float = 3.0
    snr_range_db: tuple[float, float] = (-5.0, 20.0)
    band_limit_prob: float = 0.5
    cutoffs_hz: tuple[float, ...] = (2000.0, 4000.0)
    #: Share of the crops without the noise label that still get a faint noise floor (at ``faint_snr_range_db``),
    #: as real "clean" recordings have one: the label says whether the noise is worth removing.
    faint_noise_prob: float = 0.0
    faint_snr_range_db: tuple[float, float] = (30.0, 45.0)
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0


#: Crops drawn (and turned into features) at a time: memory holds this many waveforms, not all of them. A
#: multiple of the feature batch, so the feature batches are the same however many blocks there are.
DRAW_BLOCK = 1024
FEATURE_BATCH = 256


def draw_examples(files: list[AudioFile], noise: list[AudioFile], rirs: list[np.ndarray], count: int,
                  cfg: ClassifierTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` degraded crops [count, seconds * 16000] (float32) and labels [count, 2] (noise, reverb), drawn
    from ``rng`` (drawing n crops and then m more gives the same crops as drawing n + m at once)."""
    rate = 16_000
    length = int(cfg.seconds * rate)
    waves = np.zeros((count, length), dtype=np.float32)
    labels = np.zeros((count, 2), dtype=np.float32)
    degrade_cfg = D.DegradeConfig()
    for i in range(count):
        f = files[int(rng.integers(0, len(files)))]
        clean = D.fit_length(f.polarity * read_mono(f.path, rate), length, rng)
        has_noise, has_reverb = COMBINATIONS[int(rng.integers(0, len(COMBINATIONS)))]
        cutoff = float(rng.choice(cfg.cutoffs_hz)) if rng.random() < cfg.band_limit_prob else None
        snr = float(rng.uniform(*cfg.snr_range_db)) if has_noise else None
        # Drawn only when asked for, so that crops without it keep their exact sequence.
        if not has_noise and cfg.faint_noise_prob > 0 and rng.random() < cfg.faint_noise_prob:
            snr = float(rng.uniform(*cfg.faint_snr_range_db))
        noise_x = None
        if snr is not None:
            nf = noise[int(rng.integers(0, len(noise)))]
            noise_x = D.fit_length(read_mono(nf.path, rate), length, rng)
        rir = rirs[int(rng.integers(0, len(rirs)))] if has_reverb else None
        deg = D.Degradation("classifier", snr_db=snr, cutoff_hz=cutoff, reverb=has_reverb)
        x, _ = D.apply(clean, deg, noise_x, rir, degrade_cfg)
        waves[i] = x[:length]
        labels[i] = (has_noise, has_reverb)
    return waves, labels


def draw_features(model: DegradationClassifier, files: list[AudioFile], noise: list[AudioFile],
                  rirs: list[np.ndarray], count: int, cfg: ClassifierTrainConfig,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's features [count, n_features] and labels [count, 2] of ``count`` crops drawn with
    ``seed``, :data:`DRAW_BLOCK` crops at a time."""
    rng = np.random.default_rng(seed)
    features, labels = [], []
    for start in range(0, count, DRAW_BLOCK):
        waves, y = draw_examples(files, noise, rirs, min(DRAW_BLOCK, count - start), cfg, rng)
        with torch.no_grad():
            features += [model.features(torch.from_numpy(waves[i:i + FEATURE_BATCH]))
                         for i in range(0, len(waves), FEATURE_BATCH)]
        labels.append(torch.from_numpy(y))
    return torch.cat(features), torch.cat(labels)


def train_classifier(cfg: ClassifierTrainConfig, log=print) -> tuple[DegradationClassifier, dict]:
    """Draw the examples, fit the classifier, and return it with a report (accuracy per label on the
    validation files, the number of files and examples, the wall time)."""
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rate = 16_000
    clean, _ = scan_folders(list(cfg.clean_dirs), sample_rate_hz=rate, min_seconds=0.5, what="clean")
    noise, _ = scan_folders(list(cfg.noise_dirs), sample_rate_hz=rate, min_seconds=0.5, what="noise")
    rirs = load_rirs(scan_folders(list(cfg.rir_dirs), sample_rate_hz=rate, min_seconds=0.0, what="rir")[0], rate)
    clean = sorted(clean, key=lambda f: f.path)
    if len(clean) < 2:
        raise ValueError(f"{', '.join(cfg.clean_dirs)}: {len(clean)} usable clean file(s); the classifier needs at "
                         "least 2 (one in ten goes to validation)")
    val_files = clean[::10]
    train_files = [f for k, f in enumerate(clean) if k % 10]
    model = DegradationClassifier(DegradationClassifierConfig())
    log(f"drawing {cfg.examples} training and {cfg.val_examples} validation examples "
        f"({len(train_files)} / {len(val_files)} clean files, {len(noise)} noise files, {len(rirs)} rooms)")
    f_train, t_train = draw_features(model, train_files, noise, rirs, cfg.examples, cfg, cfg.seed)
    f_val, t_val = draw_features(model, val_files, noise, rirs, cfg.val_examples, cfg, cfg.seed + 1)
    model.feature_mean.copy_(f_train.mean(dim=0))
    model.feature_std.copy_(f_train.std(dim=0).clamp_min(1e-3))
    optim = torch.optim.AdamW(model.mlp.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(cfg.seed)

    for epoch in range(cfg.epochs):
        order = torch.randperm(len(f_train), generator=generator)
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = loss_fn(model.classify(f_train[idx]), t_train[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
        if (epoch + 1) % 10 == 0 or epoch + 1 == cfg.epochs:
            with torch.no_grad():
                acc = ((model.classify(f_val) > 0).float() == t_val).float().mean(dim=0)
            log(f"epoch {epoch + 1}: loss {loss.item():.4f}; validation accuracy "
                + ", ".join(f"{label} {float(a):.3f}" for label, a in zip(model.cfg.labels, acc)))
    model.eval()
    with torch.no_grad():
        pred = model.classify(f_val) > 0
    report = {
        "val_accuracy": {label: float((pred[:, k] == t_val[:, k].bool()).float().mean())
                         for k, label in enumerate(model.cfg.labels)},
        "val_both_right": float((pred == t_val.bool()).all(dim=1).float().mean()),
        "train_files": len(train_files), "val_files": len(val_files), "noise_files": len(noise), "rooms": len(rirs),
        "wall_s": time.perf_counter() - started,
    }
    return model, report


def save_router(model: DegradationClassifier, path: Path, stages: tuple[str, str, str], train_cfg: ClassifierTrainConfig,
                report: dict) -> None:
    """A router file: the classifier's weights (with its standardisation buffers) and, as metadata, the
    registered models it routes to (``stages``: dereverb, denoise, bwe), both configs and the report;
    written atomically (:func:`models.checkpoint.write_safetensors`)."""
    from models.checkpoint import write_safetensors
    from models.router import ROUTER_KIND

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"kind": ROUTER_KIND, "stages": json.dumps(list(stages)), "config": json.dumps(asdict(model.cfg)),
            "train_config": json.dumps(asdict(train_cfg)), "report": json.dumps(report)}
    write_safetensors(path, model.state_dict(), meta)


def load_router_file(path: str | Path) -> tuple[DegradationClassifier, list[str]]:
    """(classifier in eval mode, [dereverb, denoise, bwe] registry names) of a file written by :func:`save_router`."""
    from safetensors import safe_open

    from models.router import router_stage_names

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        stages = router_stage_names(meta)
        if stages is None:
            raise ValueError(f"{path}: not a router file (its metadata has no kind {json.dumps('degradation-router')})")
        raw = json.loads(meta["config"])
        cfg = DegradationClassifierConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = DegradationClassifier(cfg)
    model.load_state_dict(state)
    return model.eval(), list(stages)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clean", nargs="+", required=True)
    p.add_argument("--noise", nargs="+", required=True)
    p.add_argument("--rir", nargs="+", required=True)
    p.add_argument("--examples", type=int, default=ClassifierTrainConfig.examples)
    p.add_argument("--val-examples", type=int, default=ClassifierTrainConfig.val_examples)
    p.add_argument("--epochs", type=int, default=ClassifierTrainConfig.epochs)
    p.add_argument("--seed", type=int, default=ClassifierTrainConfig.seed)
    p.add_argument("--faint-noise", type=float, default=0.0, metavar="P",
                   help="share of the crops labelled noise-free that get a faint noise floor (30-45 dB SNR)")
    p.add_argument("--stages", nargs=3, metavar=("DEREVERB", "DENOISE", "BWE"), default=None,
                   help="registered models to route to (default: the dereverb, denoise and bwe defaults)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = ClassifierTrainConfig(tuple(args.clean), tuple(args.noise), tuple(args.rir), examples=args.examples,
                                val_examples=args.val_examples, epochs=args.epochs, seed=args.seed,
                                faint_noise_prob=args.faint_noise)
    if args.stages is None:
        from models.registry import default_model_for

        args.stages = [default_model_for(t) for t in ("dereverb", "denoise", "bwe")]
    try:
        model, report = train_classifier(cfg)
    except ValueError as problem:  # unusable corpus folders (CorpusError is one): one line, exit 2
        print(f"error: {problem}", file=sys.stderr)
        return 2
    save_router(model, args.out, tuple(args.stages), cfg, report)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
