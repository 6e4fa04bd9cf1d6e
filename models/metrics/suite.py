"""All requested metrics of one (reference, estimate) pair, sharing the work between metrics.

Input: both waveforms decoded once at 16 kHz (float64). Steps: optional delay removal, cut to the
common length, then one call per metric family. Wide-band PESQ is computed once for ``pesq_wb``
and the composite measures, STOI and ESTOI share their preprocessing, PD and WOPD share one STFT.
Any exception inside a family becomes a recorded failure of that family's metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soxr

from models.metrics import ANALYSIS_RATE_HZ, METRICS
from models.metrics.align import DEFAULT_MAX_DELAY_S, apply_delay, estimate_delay
from models.metrics.base import MetricError
from models.metrics.composite import composite_scores
from models.metrics.dnsmos import dnsmos_scores
from models.metrics.intelligibility import stoi_scores
from models.metrics.pesq_metrics import pesq_score
from models.metrics.phase import phase_distances
from models.metrics.sdr import si_sdr, snr
from models.metrics.spectral import DEFAULT_CUTOFF_HZ, lsd_scores


@dataclass(frozen=True)
class SuiteConfig:
    """Which metrics, and how pairs are prepared (delay search range in seconds, LSD cut-off in Hz)."""

    metrics: tuple[str, ...]
    align: bool = False
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    lsd_cutoff_hz: float = DEFAULT_CUTOFF_HZ


@dataclass
class PairScores:
    """Scores of one pair: values of the metrics that worked, one-line reasons for those that failed."""

    values: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    delay_samples: int | None = None


def resample64(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """soxr HQ resampling of a 1-D signal that stays in float64 (identity when the rates match)."""
    if rate_in == rate_out or x.size == 0:
        return x
    return np.asarray(soxr.resample(x, rate_in, rate_out, quality="HQ"), dtype=np.float64)


def _failure_reason(err: Exception) -> str:
    if isinstance(err, MetricError):
        return str(err)
    return f"{type(err).__name__}: {err}".splitlines()[0]


def score_pair(ref: np.ndarray, est: np.ndarray, cfg: SuiteConfig) -> PairScores:
    """Every metric of ``cfg.metrics`` for ``est`` against ``ref`` ([N_ref], [N_est] at 16 kHz)."""
    out = PairScores()
    wanted = [m for m in cfg.metrics if m in METRICS]
    lengths_differed = ref.size != est.size
    if cfg.align:
        out.delay_samples = estimate_delay(ref, est, ANALYSIS_RATE_HZ, cfg.max_delay_s)
        est = apply_delay(est, out.delay_samples)
    n = min(ref.size, est.size)
    ref, est = ref[:n], est[:n]

    def run(names: list[str], compute) -> None:
        names = [m for m in names if m in wanted]
        if not names:
            return
        try:
            result = compute(names)
        except Exception as err:  # a failure of this family, never of the run
            reason = _failure_reason(err)
            out.errors.update({m: reason for m in names})
            return
        out.values.update({m: result[m] for m in names})

    run(["pesq_wb"], lambda names: {"pesq_wb": pesq_score(ref, est, 16_000, "wb")})
    run(["pesq_nb"], lambda names: {"pesq_nb": pesq_score(resample64(ref, ANALYSIS_RATE_HZ, 8_000),
                                                          resample64(est, ANALYSIS_RATE_HZ, 8_000), 8_000, "nb")})
    run(["stoi", "estoi"], lambda names: stoi_scores(ref, est, ANALYSIS_RATE_HZ, tuple(names)))
    run(["si_sdr"], lambda names: {"si_sdr": si_sdr(ref, est)})
    run(["snr"], lambda names: {"snr": snr(ref, est)})
    run(["csig", "cbak", "covl"], lambda names: _composite(ref, est, out, lengths_differed))
    run(["pd", "wopd"], lambda names: phase_distances(ref, est))
    run(["lsd", "lsd_hb"], lambda names: lsd_scores(ref, est, ANALYSIS_RATE_HZ, cfg.lsd_cutoff_hz, tuple(names)))
    run([m for m in wanted if m.startswith("dnsmos_")], lambda names: dnsmos_scores(est, ANALYSIS_RATE_HZ, tuple(names)))
    return out


def _composite(ref: np.ndarray, est: np.ndarray, out: PairScores, lengths_differed: bool) -> dict[str, float]:
    if "pesq_wb" in out.errors:
        raise MetricError(f"needs wide-band PESQ, which failed: {out.errors['pesq_wb']}")
    pesq_wb = out.values.get("pesq_wb")
    if pesq_wb is None:  # composites requested without pesq_wb
        pesq_wb = pesq_score(ref, est, 16_000, "wb")
    return composite_scores(ref, est, ANALYSIS_RATE_HZ, pesq_wb, lengths_differed)
