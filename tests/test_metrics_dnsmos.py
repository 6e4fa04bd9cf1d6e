"""DNSMOS through speechmos (optional extra): skipped when not installed."""
from __future__ import annotations

import numpy as np
import pytest

from models.metrics import parse_metric_list
from models.metrics.base import MetricError
from models.metrics.dnsmos import DNSMOS_METRICS, dnsmos_available, dnsmos_scores
from test_metrics_signals import RATE, speechlike, white_noise_at_snr


def test_not_installed_means_skipped_with_a_note():
    names, notes = parse_metric_list("all", dnsmos_installed=False)
    assert not any(n.startswith("dnsmos") for n in names)
    assert len(notes) == 1 and "dnsmos" in notes[0]
    names, notes = parse_metric_list("pesq,dnsmos", dnsmos_installed=True)
    assert names == ("pesq_wb", "pesq_nb", *DNSMOS_METRICS) and notes == []


@pytest.mark.skipif(not dnsmos_available(), reason="speechmos/onnxruntime/librosa not installed (extra 'dnsmos')")
def test_scores_are_mos_and_deterministic():
    x = speechlike(3.0, seed=2)
    clean = dnsmos_scores(x)
    assert set(clean) == set(DNSMOS_METRICS)
    assert all(1.0 <= v <= 5.0 for v in clean.values())
    assert dnsmos_scores(x) == clean
    noisy = dnsmos_scores(x + white_noise_at_snr(x, -5.0))
    assert noisy["dnsmos_bak"] < clean["dnsmos_bak"]
    with pytest.raises(MetricError, match="silent"):
        dnsmos_scores(np.zeros(RATE))
