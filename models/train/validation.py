"""Validation: held-out clean files degraded once with a fixed seed, scored by PESQ-WB, STOI,
SI-SDR and phase distance (PD, degrees) of the model's output against the clean target."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from models import stft as S
from models.config import STFTConfig
from models.data import degrade as D
from models.data.dataset import unit_rms
from models.data.files import AudioFile, read_mono
from models.enhancer import Enhancer

#: Offset of the validation seeds from the training sample indices (never reached by training).
VAL_SEED_OFFSET = 1_000_003


@dataclass
class ValItem:
    name: str
    input: np.ndarray  # unit RMS
    target: np.ndarray
    case: str


def build_val_set(files: list[AudioFile], task: str, cfg: D.DegradeConfig, seed: int, count: int,
                  max_seconds: float, noise: list[AudioFile] | None, rirs: list[np.ndarray] | None) -> list[ValItem]:
    """Up to ``count`` files spread over ``files``, the first ``max_seconds`` of each, degraded
    deterministically (the same items at every validation and on resume). Every item is degraded:
    the training-only ``clean_prob`` is ignored (clean input is scored on its own). Each file is read
    in its scanned polarity, as training reads it."""
    rate = cfg.sample_rate_hz
    cfg = replace(cfg, clean_prob=0.0)
    picks = files if len(files) <= count else [files[int(i)] for i in np.linspace(0, len(files) - 1, count)]
    items = []
    for k, f in enumerate(picks):
        rng = np.random.default_rng([seed, VAL_SEED_OFFSET, k])
        clean = f.polarity * read_mono(f.path, rate, 0, int(max_seconds * rate))
        deg = D.draw_case(task, cfg, rng)
        noise_x = None
        if deg.snr_db is not None:
            nf = noise[int(rng.integers(0, len(noise)))]
            noise_x = D.fit_length(read_mono(nf.path, rate), len(clean), rng)
        rir = rirs[int(rng.integers(0, len(rirs)))] if deg.reverb else None
        x, y = D.apply(clean, deg, noise_x, rir, cfg)
        x, y = unit_rms(x, y)
        items.append(ValItem(f.path, x.astype(np.float32), y.astype(np.float32), deg.case))
    return items


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    ref = ref.astype(np.float64) - ref.mean()
    est = est.astype(np.float64) - est.mean()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + 1e-12)
    target = alpha * ref
    return float(10 * np.log10((np.sum(target**2) + 1e-12) / (np.sum((est - target) ** 2) + 1e-12)))


def phase_distance_deg(ref: np.ndarray, est: np.ndarray, cfg: STFTConfig) -> float:
    """Magnitude-weighted anti-wrapped phase error in degrees (clean |S| as weights, uncompressed)."""
    r = S.stft(torch.from_numpy(ref).double()[None], cfg)[0]
    e = S.stft(torch.from_numpy(est).double()[None], cfg)[0]
    w = r.abs()
    d = torch.angle(e) - torch.angle(r)
    d = torch.abs(d - 2 * np.pi * torch.round(d / (2 * np.pi)))
    return float((w * d).sum() / w.sum().clamp_min(1e-12) * 180 / np.pi)


#: Our log names -> `models.metrics` names (the same metrics `gre evaluate` reports).
METRIC_NAMES = {"pesq": "pesq_wb", "stoi": "stoi", "sisdr": "si_sdr", "pd": "pd", "lsd": "lsd"}


def score(ref: np.ndarray, est: np.ndarray, cfg: STFTConfig) -> dict[str, float]:
    """PESQ-WB, STOI, SI-SDR (dB), PD (degrees) and LSD of ``est`` against ``ref`` (NaN where one fails).

    Uses :mod:`models.metrics` (as `gre evaluate` does) when it is installed, else the `pesq`
    and `pystoi` packages and the local SI-SDR / PD (LSD then omitted).
    """
    try:
        from models.metrics.suite import SuiteConfig, score_pair
    except ImportError:
        return _score_fallback(ref, est, cfg)
    result = score_pair(ref.astype(np.float64), est.astype(np.float64), SuiteConfig(tuple(METRIC_NAMES.values())))
    return {ours: float(result.values.get(theirs, float("nan"))) for ours, theirs in METRIC_NAMES.items()}


def _score_fallback(ref: np.ndarray, est: np.ndarray, cfg: STFTConfig) -> dict[str, float]:
    from pesq import pesq
    from pystoi import stoi

    rate = cfg.sample_rate_hz
    out = {"sisdr": si_sdr(ref, est), "pd": phase_distance_deg(ref, est, cfg)}
    try:
        out["pesq"] = float(pesq(rate, ref, est, "wb"))
    except Exception:  # no utterance detected etc.
        out["pesq"] = float("nan")
    out["stoi"] = float(stoi(ref, est, rate, extended=False))
    return out


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else []
    out = {}
    for k in keys:
        values = [r[k] for r in rows if not np.isnan(r[k])]
        out[k] = float(np.mean(values)) if values else float("nan")
    return out


@torch.no_grad()
def evaluate(network: torch.nn.Module, items: list[ValItem], stft_cfg: STFTConfig, mode: str,
             device: torch.device) -> dict[str, float]:
    """Mean metrics of the network's outputs over ``items`` (the network is left in eval mode)."""
    was_training = network.training
    network.eval()
    enhancer = Enhancer(network, stft_cfg, mode)
    rows = []
    for item in items:
        x = torch.from_numpy(item.input)[None].to(device)
        y_hat = enhancer(x, torch.ones(1)).cpu().numpy()[0]
        rows.append(score(item.target, y_hat, stft_cfg))
    network.train(was_training)
    return mean_scores(rows)


def input_scores(items: list[ValItem], stft_cfg: STFTConfig, mode: str) -> dict[str, float]:
    """The same metrics for the degraded inputs (for phase retrieval: clean magnitude, zero phase)."""
    rows = []
    for item in items:
        x = item.input
        if mode == "phase_retrieval":
            mag, _ = S.analyse(torch.from_numpy(x)[None], stft_cfg)
            x = S.synthesise(mag, torch.zeros_like(mag), stft_cfg, len(x)).numpy()[0]
        rows.append(score(item.target, x, stft_cfg))
    return mean_scores(rows)
