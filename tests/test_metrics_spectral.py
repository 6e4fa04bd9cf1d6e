"""Log-spectral distance, full band and high band."""
from __future__ import annotations

import numpy as np
import pytest

from models.metrics.base import MetricError
from models.metrics.spectral import lsd_scores
from test_metrics_signals import RATE


@pytest.fixture(scope="module")
def noise():
    return 0.1 * np.random.default_rng(0).standard_normal(2 * RATE)


def test_identical_spectra_give_zero(noise):
    assert lsd_scores(noise, noise.copy()) == {"lsd": 0.0, "lsd_hb": 0.0}


def test_a_gain_gives_its_log_power_ratio(noise):
    got = lsd_scores(noise, 2.0 * noise)
    # every bin differs by log10(4) in log10-power, so the RMS over bins is log10(4)
    assert got["lsd"] == pytest.approx(np.log10(4.0), rel=1e-6)
    assert got["lsd_hb"] == pytest.approx(np.log10(4.0), rel=1e-6)


def test_high_band_sees_only_the_high_band(noise):
    t = np.arange(noise.size) / RATE
    low_change = noise + 0.5 * np.sin(2 * np.pi * 500 * t)
    got = lsd_scores(noise, low_change, cutoff_hz=4000)
    assert got["lsd"] > 0.1
    assert got["lsd_hb"] < 0.01  # only the two reflect-padded edge frames leak above 4 kHz
    spec = np.fft.rfft(noise)
    spec[np.fft.rfftfreq(noise.size, 1 / RATE) > 4000] = 0  # band-limited to 4 kHz
    lowpassed = np.fft.irfft(spec, n=noise.size)
    got = lsd_scores(noise, lowpassed, cutoff_hz=4000)
    assert got["lsd_hb"] > got["lsd"] > 1.0  # the missing band dominates, the rest is identical


def test_cutoff_above_nyquist_is_a_failure(noise):
    with pytest.raises(MetricError, match="cut-off"):
        lsd_scores(noise, noise, cutoff_hz=9000)
