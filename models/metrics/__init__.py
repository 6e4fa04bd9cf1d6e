"""Speech-quality metrics, one module per family, and their specifications.

    pesq_metrics    pesq_wb, pesq_nb           (`pesq` package, 16 / 8 kHz)
    intelligibility stoi, estoi                (pystoi's algorithm, shared preprocessing)
    sdr             si_sdr, snr                (dB, capped at +-100)
    composite       csig, cbak, covl           (MP-SENet/CMGAN compute_metrics.py)
    phase           pd, wopd                   (GRE paper, models.stft 400/100)
    spectral        lsd, lsd_hb                (log-spectral distance, full / high band)
    dnsmos          dnsmos_sig/bak/ovrl/p808   (speechmos ONNX models; optional extra)

:mod:`models.metrics.suite` computes any subset for one pair; :mod:`models.evaluate` runs it over
directories.
"""
from __future__ import annotations

from models.metrics.base import MetricError, MetricSpec

#: Every file is decoded and resampled to this rate once; metrics at other rates resample from it.
ANALYSIS_RATE_HZ = 16_000

_SPECS = (
    MetricSpec("pesq_wb", "pesq", 16_000, True, "MOS", True, "wide-band PESQ (P.862.2)"),
    MetricSpec("pesq_nb", "pesq", 8_000, True, "MOS", True, "narrow-band PESQ (P.862.1) at 8 kHz"),
    MetricSpec("stoi", "intelligibility", 16_000, True, "", True, "short-time objective intelligibility"),
    MetricSpec("estoi", "intelligibility", 16_000, True, "", True, "extended STOI"),
    MetricSpec("si_sdr", "sdr", 16_000, True, "dB", True, "scale-invariant SDR"),
    MetricSpec("snr", "sdr", 16_000, True, "dB", True, "signal-to-noise ratio"),
    MetricSpec("csig", "composite", 16_000, True, "MOS", True, "composite signal distortion"),
    MetricSpec("cbak", "composite", 16_000, True, "MOS", True, "composite background intrusiveness"),
    MetricSpec("covl", "composite", 16_000, True, "MOS", True, "composite overall quality"),
    MetricSpec("pd", "phase", 16_000, False, "deg", True, "magnitude-weighted phase distance"),
    MetricSpec("wopd", "phase", 16_000, False, "rad", True, "weighted omni-directional phase difference"),
    MetricSpec("lsd", "spectral", 16_000, False, "B", True, "log-spectral distance"),
    MetricSpec("lsd_hb", "spectral", 16_000, False, "B", True, "log-spectral distance above the cut-off"),
    MetricSpec("dnsmos_sig", "dnsmos", 16_000, True, "MOS", False, "DNSMOS P.835 speech quality"),
    MetricSpec("dnsmos_bak", "dnsmos", 16_000, True, "MOS", False, "DNSMOS P.835 background quality"),
    MetricSpec("dnsmos_ovrl", "dnsmos", 16_000, True, "MOS", False, "DNSMOS P.835 overall quality"),
    MetricSpec("dnsmos_p808", "dnsmos", 16_000, True, "MOS", False, "DNSMOS P.808 MOS"),
)

#: name -> spec, in the order tables and files list them.
METRICS: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}
ALL_METRICS: tuple[str, ...] = tuple(METRICS)


def parse_metric_list(text: str | None, dnsmos_installed: bool) -> tuple[tuple[str, ...], list[str]]:
    """Metric names from "all", a family name or a comma list -> (names, notes).

    Accepts JSON names (``pesq_wb``), family names (``pesq``, ``composite``, ``dnsmos``) and
    ``all``. DNSMOS metrics are dropped with a note when the extra is not installed. Unknown names
    raise ValueError listing the known ones.
    """
    families = {spec.family for spec in _SPECS}
    items = [t.strip().lower() for t in (text or "all").split(",") if t.strip()]
    chosen: list[str] = []
    for item in items:
        if item == "all":
            names = list(ALL_METRICS)
        elif item in METRICS:
            names = [item]
        elif item in families:
            names = [s.name for s in _SPECS if s.family == item]
        else:
            raise ValueError(f"unknown metric {item!r}; known: all, {', '.join(sorted(families))}, "
                             f"{', '.join(ALL_METRICS)}")
        chosen.extend(n for n in names if n not in chosen)
    notes = []
    if not dnsmos_installed and any(METRICS[n].family == "dnsmos" for n in chosen):
        from models.metrics.dnsmos import INSTALL_HINT

        chosen = [n for n in chosen if METRICS[n].family != "dnsmos"]
        notes.append(f"dnsmos skipped: not installed ({INSTALL_HINT})")
    ordered = tuple(n for n in ALL_METRICS if n in chosen)
    return ordered, notes


__all__ = ["ALL_METRICS", "ANALYSIS_RATE_HZ", "METRICS", "MetricError", "MetricSpec", "parse_metric_list"]
