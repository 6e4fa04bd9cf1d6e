"""PD and WOPD: known answers on synthetic phases, and WOPD against the convolution form of the paper's script."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.metrics.base import MetricError
from models.metrics.phase import phase_distance_from_spectra, phase_distances
from test_metrics_signals import speechlike


def _rotate_phase(x: np.ndarray, theta: float) -> np.ndarray:
    """x with every positive-frequency component's phase advanced by theta (analytic-signal rotation)."""
    spec = np.fft.rfft(x)
    spec[1:-1] *= np.exp(1j * theta)
    return np.fft.irfft(spec, n=x.size)


def test_identical_phases_give_zero():
    x = speechlike(2.0, seed=3)
    got = phase_distances(x, x.copy())
    assert got["pd"] == 0.0 and got["wopd"] == 0.0


def test_pd_of_identical_phase_with_other_magnitude_is_zero():
    x = speechlike(2.0, seed=3)
    got = phase_distances(x, 0.25 * x)
    # only near-empty bins move, through the authors' atan2 offsets (1e-5 on the real part)
    assert got["pd"] == pytest.approx(0.0, abs=0.02) and got["wopd"] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("theta_deg", [10.0, 60.0, 135.0])
def test_constant_phase_offset_gives_the_offset(theta_deg):
    x = speechlike(2.0, seed=4)
    got = phase_distances(x, _rotate_phase(x, math.radians(theta_deg)))
    assert got["pd"] == pytest.approx(theta_deg, abs=0.5)


@pytest.mark.parametrize("theta_deg", [10.0, 60.0, 135.0, 200.0])
def test_constant_phase_offset_on_spectra_is_exact(theta_deg):
    gen = torch.Generator().manual_seed(1)
    f, t = 201, 40
    mag = 0.5 + torch.rand(f, t, generator=gen, dtype=torch.float64)
    phase = (torch.rand(f, t, generator=gen, dtype=torch.float64) - 0.5) * 2 * math.pi
    theta = math.radians(theta_deg)
    ref, est = torch.polar(mag, phase), torch.polar(mag, phase + theta)
    got = phase_distance_from_spectra(ref, est)
    wrapped = abs(theta - 2 * math.pi * round(theta / (2 * math.pi)))
    assert got["pd"] == pytest.approx(math.degrees(wrapped), abs=1e-3)  # 1e-3 deg: the atan2 offsets
    # Neighbour differences cancel a constant offset except where the neighbour is the zero
    # padding; the identity direction keeps the whole offset.
    weight = torch.sqrt(mag ** 2 + 1e-9)
    border = torch.zeros(f, t, dtype=torch.float64)
    for df in (-1, 0, 1):
        for dt in (-1, 0, 1):
            if (df, dt) == (0, 0):
                continue
            outside = torch.zeros(f + 2, t + 2, dtype=torch.bool)
            outside[0, :] = outside[-1, :] = outside[:, 0] = outside[:, -1] = True
            border += outside[1 + df: 1 + df + f, 1 + dt: 1 + dt + t].double()
    expected = float(torch.sum(weight * (1 + border)) * wrapped / (9 * torch.sum(weight)))
    assert got["wopd"] == pytest.approx(expected, rel=1e-4)


def test_offsets_wrap_to_the_shortest_angle():
    x = speechlike(2.0, seed=4)
    assert phase_distances(x, _rotate_phase(x, math.radians(270.0)))["pd"] == pytest.approx(90.0, abs=0.5)


def test_wopd_equals_the_convolution_definition():
    gen = torch.Generator().manual_seed(0)
    f, t = 201, 57
    spec_ref = torch.complex(torch.randn(f, t, generator=gen), torch.randn(f, t, generator=gen))
    spec_est = torch.complex(torch.randn(f, t, generator=gen), torch.randn(f, t, generator=gen))
    got = phase_distance_from_spectra(spec_ref, spec_est)

    mag = torch.sqrt(spec_ref.real ** 2 + spec_ref.imag ** 2 + 1e-9)
    phase = lambda s: torch.atan2(s.imag + 1e-10, s.real + 1e-5)  # noqa: E731
    kernels = torch.zeros(9, 1, 3, 3)
    positions = [(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    for k, (i, j) in enumerate(positions):
        kernels[k, 0, 1, 1], kernels[k, 0, i, j] = 1.0, -1.0
    kernels[8, 0, 1, 1] = 1.0
    conv = lambda p: torch.nn.functional.conv2d(p[None, None], kernels, padding="same")[0]  # noqa: E731
    diff = conv(phase(spec_est)) - conv(phase(spec_ref))
    aw = torch.abs(diff - 2 * math.pi * torch.round(diff / (2 * math.pi)))
    expected = float(torch.sum(mag[None] * aw) / (torch.sum(mag) * 9 + 1e-9))
    d = phase(spec_est) - phase(spec_ref)
    pd = float(torch.sum(mag * torch.abs(d - 2 * math.pi * torch.round(d / (2 * math.pi)))) * 180 / math.pi / torch.sum(mag))
    assert got["wopd"] == pytest.approx(expected, rel=1e-5)
    assert got["pd"] == pytest.approx(pd, rel=1e-5)


def test_silent_reference_is_a_failure():
    x = speechlike(1.0)
    with pytest.raises(MetricError, match="reference is silent"):
        phase_distances(np.zeros_like(x), x)
