"""Ideal masks and cIRM compression (models.masks)."""
from __future__ import annotations

import pytest
import torch

from models.masks import (MASK_KINDS, MaskConfig, apply_mask, compress_cirm, decompress_cirm, ideal_mask,
                          oracle_spectrum, oracle_waveform)


def _spectra(seed: int = 0, shape=(201, 50), dtype=torch.complex128):
    gen = torch.Generator().manual_seed(seed)
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    s = torch.complex(torch.randn(shape, generator=gen, dtype=real), torch.randn(shape, generator=gen, dtype=real))
    n = torch.complex(torch.randn(shape, generator=gen, dtype=real), torch.randn(shape, generator=gen, dtype=real))
    return s, 0.8 * n


def test_ibm_is_one_exactly_where_speech_dominates():
    s, n = _spectra()
    mask = ideal_mask("ibm", s, n)
    dominates = s.abs() > n.abs()
    assert torch.equal(mask == 1, dominates) and torch.equal(mask == 0, ~dominates)
    assert 0.2 < float(mask.mean()) < 0.8
    stricter = ideal_mask("ibm", s, n, MaskConfig(ibm_threshold_db=6.0))
    assert torch.equal(stricter == 1, s.abs() ** 2 > n.abs() ** 2 * 10 ** 0.6)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_cirm_compress_decompress_identity(dtype):
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    gen = torch.Generator().manual_seed(3)
    m = torch.complex((torch.rand(4000, generator=gen, dtype=real) * 2 - 1) * 9.9,
                      (torch.rand(4000, generator=gen, dtype=real) * 2 - 1) * 9.9)
    assert torch.allclose(decompress_cirm(compress_cirm(m)), m, rtol=0, atol=1e-5)
    # and the other way round: any compressed value within +-9.9 is reached exactly
    assert torch.allclose(compress_cirm(decompress_cirm(m)), m, rtol=0, atol=1e-5)
    assert float(compress_cirm(m).real.abs().max()) < 10.0


def test_cirm_compression_formula_and_clip():
    cfg = MaskConfig()
    m = torch.tensor([-50.0, -1.0, 0.0, 2.0, 30.0], dtype=torch.float64)
    expected = cfg.cirm_k * (1 - torch.exp(-cfg.cirm_c * m)) / (1 + torch.exp(-cfg.cirm_c * m))
    assert torch.allclose(compress_cirm(m), expected, atol=1e-12)
    beyond = decompress_cirm(torch.tensor([10.0, -12.0], dtype=torch.float64))
    assert torch.isfinite(beyond).all()
    assert torch.allclose(beyond.abs(), decompress_cirm(torch.tensor([9.9], dtype=torch.float64)).abs())


def test_orm_equals_irm_when_speech_and_noise_are_orthogonal():
    s, _ = _spectra(seed=5)
    gen = torch.Generator().manual_seed(6)
    n = 1j * s * torch.rand(s.shape, generator=gen, dtype=torch.float64) * 2  # Re(S N*) = 0 in every bin
    assert torch.allclose((s * n.conj()).real, torch.zeros(s.shape, dtype=torch.float64), atol=1e-12)
    orm = ideal_mask("orm", s, n)
    assert torch.allclose(orm, ideal_mask("irm", s, n, MaskConfig(irm_beta=1.0)), atol=1e-12)
    assert torch.allclose(orm.sqrt(), ideal_mask("irm", s, n), atol=1e-12)  # default beta = 0.5


def test_mask_relations():
    s, n = _spectra(seed=7)
    y = s + n
    iam, psm, orm = ideal_mask("iam", s, n), ideal_mask("psm", s, n), ideal_mask("orm", s, n)
    assert torch.allclose(iam, s.abs() / y.abs())
    untruncated = ideal_mask("psm", s, n, MaskConfig(psm_min=-1e9, psm_max=1e9))
    assert torch.allclose(untruncated, iam * torch.cos(s.angle() - y.angle()), atol=1e-12)
    assert torch.allclose(orm, untruncated, atol=1e-9)  # both minimise |S - M Y|^2 over real M
    assert float(psm.min()) >= 0.0 and float(psm.max()) <= 1.0
    irm = ideal_mask("irm", s, n)
    assert float(irm.min()) >= 0.0 and float(irm.max()) <= 1.0
    assert torch.allclose(apply_mask(ideal_mask("cirm", s, n), y), s, atol=1e-12)


def test_oracle_spectrum_of_each_kind():
    s, n = _spectra(seed=8)
    for kind in MASK_KINDS:
        out = oracle_spectrum(kind, s, n)
        assert out.shape == s.shape and out.is_complex() and torch.isfinite(out.real).all()
    cirm = oracle_spectrum("cirm", s, n)
    small = ideal_mask("cirm", s, n).abs() < 20  # inside the compression clip the cIRM is exact
    assert torch.allclose(cirm[small], s[small], atol=1e-9)


def test_oracle_waveform_keeps_the_length_and_recovers_clean_speech_from_a_clean_mix():
    from models.config import STFTConfig

    gen = torch.Generator().manual_seed(3)
    clean = 0.1 * torch.randn(16_037, generator=gen, dtype=torch.float64)
    noise = 0.1 * torch.randn(16_037, generator=gen, dtype=torch.float64)
    for kind in ("irm", "iam", "psm", "orm", "cirm"):
        out = oracle_waveform(kind, clean, clean, STFTConfig())  # no noise: every mask is 1
        assert out.shape == clean.shape and torch.allclose(out, clean, atol=1e-6), kind
    noisy = oracle_waveform("psm", clean + noise, clean, STFTConfig())
    assert (noisy - clean).pow(2).mean() < 0.5 * noise.pow(2).mean()


def test_empty_bins_get_zero_and_unknown_kind_fails():
    zero = torch.zeros(3, 4, dtype=torch.complex128)
    for kind in MASK_KINDS:
        mask = ideal_mask(kind, zero, zero)
        assert torch.count_nonzero(mask) == 0
    with pytest.raises(ValueError, match="unknown mask"):
        ideal_mask("wiener", zero, zero)
