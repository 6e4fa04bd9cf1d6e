"""Loss components on known cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models import losses as L
from models import stft as S
from models.config import STFTConfig
from models.discriminators import (MetricDiscriminator, MultiPeriodDiscriminator, feature_matching_loss,
                                   hinge_discriminator_loss, hinge_generator_loss, metric_critic_loss, pesq_targets)

CFG = STFTConfig()


def _spectra(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    wave = torch.randn(2, 4000, generator=g) * 0.1
    mag, phase = S.analyse(wave, CFG)
    return wave, mag, phase


def test_all_components_are_zero_for_identical_inputs():
    wave, mag, phase = _spectra()
    com = L.compressed_complex(mag, phase)
    assert float(L.magnitude_loss(mag, mag)) == 0
    assert float(L.phase_loss(phase, phase)) == 0
    assert float(L.complex_loss(com, com)) == 0
    assert float(L.time_loss(wave, wave)) == 0
    assert float(L.wop_loss(phase, phase, mag)) == 0


def test_phase_losses_ignore_2pi_offsets():
    _, mag, phase = _spectra(1)
    k = torch.randint(-3, 4, phase.shape, generator=torch.Generator().manual_seed(2)).float()
    shifted = phase + 2 * math.pi * k
    assert all(float(v) < 1e-4 for v in L.phase_losses(shifted, phase))
    assert float(L.wop_loss(shifted, phase, mag)) < 1e-4


def test_anti_wrap_is_distance_to_nearest_multiple_of_2pi():
    x = torch.tensor([0.0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi + 0.1, -2 * math.pi - 0.2])
    expected = torch.tensor([0.0, math.pi / 2, math.pi, math.pi / 2, 0.1, 0.2])
    torch.testing.assert_close(L.anti_wrap(x), expected, atol=1e-5, rtol=0)


def test_phase_losses_known_constant_offset():
    _, _, phase = _spectra(3)
    ip, gd, iaf = L.phase_losses(phase + 0.5, phase)
    assert abs(float(ip) - 0.5) < 1e-5  # a constant offset is an instantaneous-phase error only
    assert float(gd) < 1e-4 and float(iaf) < 1e-4


def test_consistency_of_a_consistent_spectrum_is_about_zero():
    wave, mag, phase = _spectra(4)
    com = L.compressed_complex(mag, phase)
    resynth = S.analyse(S.synthesise(mag, phase, CFG, wave.shape[-1]), CFG)
    assert float(L.consistency_loss(com, L.compressed_complex(*resynth))) < 1e-6
    # An inconsistent one (random phase) is not.
    random_phase = torch.rand(phase.shape, generator=torch.Generator().manual_seed(5)) * 6.28
    com_bad = L.compressed_complex(mag, random_phase)
    resynth_bad = S.analyse(S.synthesise(mag, random_phase, CFG, wave.shape[-1]), CFG)
    assert float(L.consistency_loss(com_bad, L.compressed_complex(*resynth_bad))) > 1e-3


def test_wop_weights_errors_by_clean_magnitude():
    _, mag, phase = _spectra(6)
    noisy_phase = phase + 0.3 * torch.randn(phase.shape, generator=torch.Generator().manual_seed(7))
    full = float(L.wop_loss(noisy_phase, phase, mag))
    assert full > 0
    assert float(L.wop_loss(noisy_phase, phase, torch.zeros_like(mag))) == 0
    assert abs(float(L.wop_loss(noisy_phase, phase, 2 * mag)) - 2 * full) < 1e-5


def test_recipes_match_the_authors():
    w = L.recipe("denoise")
    assert (w.magnitude, w.phase, w.complex, w.consistency, w.time, w.metric, w.wop) == (0.9, 0.3, 0.1, 0.1, 0.2, 0.05, 0)
    p = L.recipe("phase")
    assert p.wop == 2e4 and p.mpd == 1.0 and p.magnitude == 0 and p.metric == 0
    assert L.recipe("universal").mpd == 0.05


def test_discriminators_shapes_and_hinge_losses():
    d = MetricDiscriminator()
    _, mag, _ = _spectra(8)
    score = d(mag, mag)
    assert score.shape == (2,) and bool(((score >= 0) & (score <= 1)).all())
    mpd = MultiPeriodDiscriminator()
    wave = torch.randn(2, 3001) * 0.1
    scores, feats = mpd(wave)
    assert len(scores) == 5 and all(s.shape[0] == 2 for s in scores)
    assert float(feature_matching_loss(feats, feats).detach()) == 0
    big = [torch.full((2, 3), 5.0)]
    assert float(hinge_discriminator_loss(big, [-b for b in big])) == 0
    assert float(hinge_generator_loss(big)) == 0


def test_pesq_targets_fail_row_by_row_and_the_critic_learns_from_the_rest():
    from test_train_fixtures import speechlike

    clean = np.stack([speechlike(32_000, seed) for seed in (1, 2, 3)])
    clean[1] = 0.0  # silence: PESQ finds no utterance
    noisy = clean + 0.01 * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    targets = pesq_targets(clean, noisy)
    assert targets.shape == (3,) and math.isnan(float(targets[1]))
    assert all(0.0 < float(targets[i]) < 1.0 for i in (0, 2))
    # The same clean row scored against itself is near the top of the scale, and noise lowers it.
    assert float(pesq_targets(clean[:1], clean[:1])[0]) > float(targets[0])
    scores = torch.tensor([0.5, 0.9, 0.2], requires_grad=True)
    loss = metric_critic_loss(scores, targets)
    expected = ((0.5 - targets[0]) ** 2 + (0.2 - targets[2]) ** 2) / 2
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    loss.backward()
    assert float(scores.grad[1]) == 0.0 and float(scores.grad[0]) != 0.0
    # No usable row: a zero loss that still backpropagates (the step goes on with the real-pair term).
    none = metric_critic_loss(scores, torch.full((3,), float("nan")))
    assert float(none) == 0.0 and none.requires_grad


def test_pesq_pool_scores_exactly_as_the_training_process_does():
    """--pesq-workers: the rows scored in a pool of processes, failed rows included, are the very numbers
    scored one by one here, in the order given."""
    from test_train_fixtures import speechlike

    from models.metrics.pesq_batch import PesqBatch

    rng = np.random.default_rng(3)
    clean = np.stack([speechlike(32_000, seed) for seed in range(5)])
    clean[2] = 0.0
    noisy = clean + rng.uniform(0.003, 0.05, (5, 1)) * rng.standard_normal(clean.shape)
    serial = pesq_targets(clean, noisy)
    with PesqBatch(16_000, workers=2) as pool:
        pooled = pesq_targets(clean, noisy, scorer=pool)
        assert torch.equal(torch.isnan(pooled), torch.isnan(serial)) and math.isnan(float(pooled[2]))
        assert torch.equal(torch.nan_to_num(pooled), torch.nan_to_num(serial))
        assert len(set(serial[~torch.isnan(serial)].tolist())) == 4  # the rows differ, so order is checked
        with pytest.raises(ValueError, match="8000 Hz"):
            pesq_targets(clean[:, ::2], noisy[:, ::2], 8_000, scorer=pool)
    with pytest.raises(ValueError, match="workers must be 0"):
        PesqBatch(16_000, workers=-1)


def test_log_magnitude_loss_counts_errors_relative_to_the_bin_level():
    loud = torch.full((1, 4, 5), 2.0)
    faint = torch.full((1, 4, 5), 0.2)
    assert float(L.log_magnitude_loss(loud, loud)) == 0
    # the same factor of 2 (linear |X| x 2**(1/0.3)) costs about the same in a loud and a faint bin ...
    loud_err = float(L.log_magnitude_loss(2 * loud, loud))
    faint_err = float(L.log_magnitude_loss(2 * faint, faint))
    f = L.LOG_MAGNITUDE_FLOOR
    assert loud_err == pytest.approx(math.log((4 + f) / (2 + f)) ** 2, rel=1e-5)
    assert faint_err == pytest.approx(loud_err, rel=0.2)
    # ... while the compressed MSE punishes the loud bin 100x more
    assert float(L.magnitude_loss(2 * loud, loud)) == pytest.approx(100 * float(L.magnitude_loss(2 * faint, faint)))
    # below the floor nothing counts; negative estimates count as zero
    silent = torch.zeros(1, 4, 5)
    assert float(L.log_magnitude_loss(silent + 1e-6, silent)) < 1e-3
    assert float(L.log_magnitude_loss(-silent - 1.0, silent)) == 0


def test_over_magnitude_loss_counts_over_estimates_only():
    mag = torch.full((1, 3, 4), 1.0)
    assert float(L.over_magnitude_loss(mag - 0.5, mag)) == 0
    assert float(L.over_magnitude_loss(mag + 0.5, mag)) == pytest.approx(0.25)
    mixed = mag.clone()
    mixed[0, 0] += 0.5  # one row of 3 too high, one too low
    mixed[0, 1] -= 0.5
    assert float(L.over_magnitude_loss(mixed, mag)) == pytest.approx(0.25 / 3)
    # with the symmetric MSE beside it (weight b), over-estimating costs (1 + b) x under-estimating
    b = 3.0
    over = float(L.magnitude_loss(mag + 0.5, mag) + b * L.over_magnitude_loss(mag + 0.5, mag))
    under = float(L.magnitude_loss(mag - 0.5, mag) + b * L.over_magnitude_loss(mag - 0.5, mag))
    assert over == pytest.approx((1 + b) * under)


def test_loss_overrides_set_one_weight_and_refuse_unknown_names():
    w = L.parse_loss_overrides(L.mask_recipe(), ["log_magnitude=1.5", "time=0.2"])
    assert (w.mask, w.log_magnitude, w.time, w.magnitude) == (1.0, 1.5, 0.2, 0)
    assert L.parse_loss_overrides(L.mask_recipe(), []) == L.mask_recipe()
    for bad, why in (("spectral=1", "NAME one of"), ("time", "NAME=WEIGHT"), ("time=x", "not a number"),
                     ("time=-1", ">= 0"), ("time=nan", ">= 0")):
        with pytest.raises(ValueError, match=why):
            L.parse_loss_overrides(L.mask_recipe(), [bad])
