"""SI-SDR and SNR against known answers."""
from __future__ import annotations

import numpy as np
import pytest

from models.metrics.base import MetricError
from models.metrics.sdr import CAP_DB, si_sdr, snr
from test_metrics_signals import speechlike, white_noise_at_snr


@pytest.fixture(scope="module")
def ref():
    x = speechlike(4.0, seed=11)
    return x - x.mean()


def test_scaled_copy_hits_the_cap(ref):
    assert si_sdr(ref, 0.37 * ref) == CAP_DB
    assert si_sdr(ref, ref.copy()) == CAP_DB
    assert snr(ref, ref.copy()) == CAP_DB


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 25.0])
def test_additive_white_noise_gives_the_set_snr(ref, snr_db):
    est = ref + white_noise_at_snr(ref, snr_db, seed=int(snr_db) + 100)
    assert si_sdr(ref, est) == pytest.approx(snr_db, abs=0.1)
    assert snr(ref, est) == pytest.approx(snr_db, abs=1e-9)


def test_noise_orthogonal_to_the_reference_is_exact(ref):
    noise = white_noise_at_snr(ref, 7.0)
    noise -= noise.mean()
    noise -= np.dot(noise, ref) / np.dot(ref, ref) * ref  # exactly orthogonal, zero mean
    noise *= np.sqrt(np.dot(ref, ref) / np.dot(noise, noise) / 10 ** 0.7)
    assert si_sdr(ref, 3.0 * (ref + noise)) == pytest.approx(7.0, abs=1e-9)


def test_si_sdr_is_scale_invariant_and_snr_is_not(ref):
    est = ref + white_noise_at_snr(ref, 5.0)
    assert si_sdr(ref, 0.1 * est) == pytest.approx(si_sdr(ref, est), abs=1e-9)
    assert snr(ref, 0.1 * est) < 1.0


def test_undefined_cases_are_failures(ref):
    with pytest.raises(MetricError, match="estimate is silent"):
        si_sdr(ref, np.zeros_like(ref))
    with pytest.raises(MetricError, match="reference is silent"):
        si_sdr(np.zeros_like(ref), ref)
    with pytest.raises(MetricError, match="length mismatch"):
        snr(ref, ref[:-5])
    assert snr(ref, np.zeros_like(ref)) == pytest.approx(0.0, abs=1e-12)
