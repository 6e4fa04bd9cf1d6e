"""Degradations: SNR, band limit, direct-path target, universal cases."""
from __future__ import annotations

import numpy as np
import pytest

from models.data import degrade as D

from test_train_fixtures import synthetic_rir

RATE = 16_000


def _speechlike(n: int, rng: np.random.Generator, gaps: bool = False) -> np.ndarray:
    t = np.arange(n) / RATE
    phase = 2 * np.pi * np.cumsum(130 + 20 * np.sin(2 * np.pi * 0.7 * t)) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 25)) + 0.01 * rng.standard_normal(n)
    if gaps:
        x = x * (np.sin(2 * np.pi * 1.5 * t) > 0)
    return (0.1 * x).astype(np.float32)


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.5, 15.0])
@pytest.mark.parametrize("gaps", [False, True])
def test_add_noise_hits_requested_snr_over_active_speech(snr_db, gaps):
    rng = np.random.default_rng(1)
    speech = _speechlike(RATE * 2 + 37, rng, gaps)
    noise = rng.standard_normal(len(speech)).astype(np.float32) * 3.0
    mix = D.add_noise(speech, noise, snr_db)
    added = mix.astype(np.float64) - speech
    active = D.active_mask(speech)
    assert 0.3 < active.mean() <= 1.0
    if not gaps:
        assert active.mean() > 0.99
    measured = 10 * np.log10(np.mean(speech[active].astype(np.float64) ** 2) / np.mean(added**2))
    assert abs(measured - snr_db) < 0.5


def test_add_noise_with_silent_speech_or_noise_is_identity():
    x = np.zeros(1000, np.float32)
    assert np.array_equal(D.add_noise(x, np.ones(1000, np.float32), 0.0), x)
    y = np.ones(1000, np.float32)
    assert np.array_equal(D.add_noise(y, np.zeros(1000, np.float32), 0.0), y)


@pytest.mark.parametrize("cutoff_hz", [2000.0, 4000.0])
def test_band_limit_removes_energy_above_cutoff(cutoff_hz):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(RATE).astype(np.float32)
    y = D.band_limit(x, cutoff_hz)
    assert y.shape == x.shape and y.dtype == x.dtype
    spec_x = np.abs(np.fft.rfft(x)) ** 2
    spec_y = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    above = freqs > cutoff_hz * 1.05
    below = freqs < cutoff_hz * 0.9
    assert spec_y[above].sum() < 1e-4 * spec_x[above].sum()  # > 40 dB down
    assert 0.9 < spec_y[below].sum() / spec_x[below].sum() < 1.1  # pass band kept


def test_band_limit_at_nyquist_is_identity():
    x = np.random.default_rng(3).standard_normal(500).astype(np.float32)
    assert np.array_equal(D.band_limit(x, 8000.0), x)


def test_reverb_target_is_direct_path_aligned_with_input():
    rng = np.random.default_rng(4)
    clean = (0.1 * rng.standard_normal(RATE)).astype(np.float32)  # white: a sharp correlation peak
    delay = 123
    rir = synthetic_rir(delay, rng)
    reverberant, target = D.reverberate(clean, rir)
    assert reverberant.shape == target.shape == clean.shape
    # The direct path of this RIR is a unit impulse at the peak: after the shift the target is the clean.
    np.testing.assert_allclose(target, clean, atol=1e-5)
    # Input and target line up: their cross-correlation peaks at lag 0.
    lags = np.arange(-50, 51)
    corr = [np.dot(np.roll(reverberant, -k), target) for k in lags]
    assert lags[int(np.argmax(corr))] == 0
    # And the input really is reverberant (energy after the direct sound).
    assert np.mean((reverberant - target) ** 2) > 0.05 * np.mean(target**2)


def test_direct_path_keeps_peak_plus_five_samples():
    h = np.zeros(100)
    h[10] = 1.0
    h[30] = 0.5
    direct, peak = D.direct_path(h)
    assert peak == 10 and len(direct) == 16


def test_universal_draws_the_six_cases_about_equally():
    rng = np.random.default_rng(5)
    cfg = D.DegradeConfig()
    cases = [D.draw_case("universal", cfg, rng) for _ in range(3000)]
    counts = {c: sum(d.case == c for d in cases) for c in D.UNIVERSAL_CASES}
    assert all(400 < n < 600 for n in counts.values()), counts
    bl = [d.cutoff_hz for d in cases if d.case == "only_bandlimit"]
    assert set(bl) == {2000.0, 4000.0} and 0.4 < np.mean(np.array(bl) == 2000.0) < 0.6
    assert all(d.cutoff_hz == 4000.0 for d in cases if d.case in ("noise_bandlimit", "noise_reverb_bandlimit"))
    assert all(d.reverb == ("reverb" in d.case) for d in cases)
    assert all((d.snr_db is not None) == ("noise" in d.case) for d in cases)
    assert all(-5 <= d.snr_db <= 15 for d in cases if d.snr_db is not None)


def test_apply_phase_task_is_identity_and_bwe_only_touches_input():
    rng = np.random.default_rng(6)
    cfg = D.DegradeConfig()
    clean = _speechlike(8000, rng)
    x, y = D.apply(clean, D.draw_case("phase", cfg, rng), None, None, cfg)
    assert np.array_equal(x, clean) and np.array_equal(y, clean)
    x, y = D.apply(clean, D.Degradation("only_bandlimit", cutoff_hz=2000.0), None, None, cfg)
    assert np.array_equal(y, clean) and not np.allclose(x, clean)


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="unknown task"):
        D.draw_case("sing", D.DegradeConfig(), np.random.default_rng(0))


@pytest.mark.parametrize("alpha", [-1.0, 0.0, 1.0, 2.0])
def test_colored_noise_has_the_asked_spectral_slope(alpha):
    rng = np.random.default_rng(3)
    x = D.colored_noise(1 << 16, alpha, rng)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-5)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.arange(len(power))
    bands = [(f >= lo) & (f < 2 * lo) for lo in (256, 512, 1024, 2048, 4096, 8192)]
    octave_db = [10 * np.log10(power[b].mean()) for b in bands]
    # Power per bin falls by 10 log10(2^alpha) = 3.01 alpha dB per octave.
    slope = np.polyfit(np.arange(len(octave_db)), octave_db, 1)[0]
    assert slope == pytest.approx(-3.01 * alpha, abs=0.3)


def test_mix_at_level_puts_the_second_signal_below_the_first():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(16000), 5 * rng.standard_normal(16000)
    mixed = D.mix_at_level(a, b, 6.0)
    added = mixed - a
    assert 10 * np.log10(np.mean(a**2) / np.mean(added**2)) == pytest.approx(6.0, abs=1e-9)
    assert D.mix_at_level(a, np.zeros(16000), 6.0) is a


def _crops(tmp_path, **augment):
    from dataclasses import replace

    from models.data.dataset import CropSpec, DegradedCrops
    from models.data.files import scan_folders
    from test_train_fixtures import make_corpus

    dirs = make_corpus(tmp_path)
    scan = dict(sample_rate_hz=16000, min_seconds=0.25)
    clean = scan_folders([str(dirs["clean"])], what="clean", **scan)[0]
    noise = scan_folders([str(dirs["noise"])], what="noise", **scan)[0]
    spec = CropSpec("denoise", 8000, 5, replace(D.DegradeConfig(snr_range_db=(5.0, 5.0)), **augment))
    return DegradedCrops(spec, clean, noise)


def test_noise_augmentation_off_draws_the_plain_recipe(tmp_path):
    crops = _crops(tmp_path)
    assert not crops.spec.degrade.augments_noise
    x, y, _ = crops.sample(3)
    noise = x - y
    # The noise files are white Gaussian: without augmentation the added noise stays white.
    power = np.abs(np.fft.rfft(noise)) ** 2
    assert power[:1000].mean() / power[3000:].mean() == pytest.approx(1.0, abs=0.3)


@pytest.mark.parametrize("kind", ["babble_prob", "colored_noise_prob", "second_noise_prob", "hum_prob"])
def test_each_noise_augmentation_keeps_the_asked_snr(tmp_path, kind):
    crops = _crops(tmp_path, **{kind: 1.0})
    for index in range(3):
        x, y, deg = crops.sample(index)
        assert deg.snr_db == 5.0
        measured = 10 * np.log10(D.active_power(y) / np.mean((x - y).astype(np.float64) ** 2))
        assert measured == pytest.approx(5.0, abs=0.5)
    if kind == "babble_prob":
        # Babble is speech: far from the white noise files, its spectrum is strongly coloured.
        noise = crops.sample(0)[0] - crops.sample(0)[1]
        power = np.abs(np.fft.rfft(noise)) ** 2
        assert power[:1000].mean() / power[3000:].mean() > 3.0
    if kind == "hum_prob":
        # Hum, not the white noise files: most of the added power sits on harmonics of 50 or 60 Hz.
        noise = (crops.sample(0)[0] - crops.sample(0)[1]).astype(np.float64)
        assert _harmonic_share(noise) > 0.8


def _harmonic_share(x: np.ndarray, rate: int = D.SAMPLE_RATE_HZ) -> float:
    """Largest share of x's power near the harmonics of one fundamental within 1 % of 50 or 60 Hz
    (grids drift, and the 80th harmonic of 50.25 Hz is 20 Hz off that of 50 Hz)."""
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    tolerance = max(3.0, 3 * rate / len(x))  # the window's main lobe for short signals
    best = 0.0
    for f0 in np.concatenate([np.arange(49.5, 50.5, 0.02), np.arange(59.4, 60.6, 0.02)]):
        near = (np.abs(f - f0 * np.round(f / f0)) <= tolerance) & (f > f0 / 2)
        best = max(best, float(power[near].sum() / power.sum()))
    return best


def test_mains_hum_is_unit_rms_and_harmonic_with_a_faint_floor():
    fundamentals = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        hum = D.mains_hum(4 * D.SAMPLE_RATE_HZ, rng)
        x = hum.astype(np.float64)
        assert hum.dtype == np.float32 and np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-5)
        assert _harmonic_share(x) > 0.95
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / D.SAMPLE_RATE_HZ)
        assert power[f > 4200].sum() / power.sum() < 0.05  # harmonics stop at 4 kHz: above, only the floor
        low = (f > 30) & (f < 75)
        fundamentals.add(round(float(f[low][np.argmax(power[low])]) / 10) * 10)
    assert fundamentals == {50, 60}  # both grids are drawn
    again = D.mains_hum(16000, np.random.default_rng(3))
    assert np.array_equal(again, D.mains_hum(16000, np.random.default_rng(3)))


def test_noise_augmentation_shares_out_of_range_or_past_one_are_refused():
    with pytest.raises(ValueError, match="hum-noise probability must be in"):
        D.DegradeConfig(hum_prob=1.5)
    with pytest.raises(ValueError, match="babble probability must be in"):
        D.DegradeConfig(babble_prob=-0.1)
    with pytest.raises(ValueError, match="add up to 1.1"):
        D.DegradeConfig(**D.NOISE_AUGMENT, hum_prob=0.55)
    assert D.DegradeConfig(**D.NOISE_AUGMENT, hum_prob=0.05).augments_noise
    assert D.DegradeConfig(hum_prob=0.05).augments_noise and not D.DegradeConfig().augments_noise


def _band_energy(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / D.SAMPLE_RATE_HZ)
    return float(spec[(f >= lo_hz) & (f < hi_hz)].sum())


def test_low_pass_is_3_db_down_at_its_corner_and_steep_above():
    t = np.arange(D.SAMPLE_RATE_HZ) / D.SAMPLE_RATE_HZ
    rms = lambda y: np.sqrt(np.mean(y[2000:-2000] ** 2))  # noqa: E731 - away from the edges
    for freq, expected in ((500.0, 1.0), (3000.0, 1 / np.sqrt(2)), (4500.0, 1 / np.sqrt(1 + 1.5 ** 16))):
        x = np.sin(2 * np.pi * freq * t).astype(np.float32)
        assert rms(D.low_pass(x, 3000.0, 8)) / rms(x) == pytest.approx(expected, rel=0.02, abs=1e-3), freq


def test_band_limit_rolloff_removes_more_below_the_cutoff_and_nothing_passes_above():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(D.SAMPLE_RATE_HZ).astype(np.float32)
    plain = D.band_limit(x, 4000.0)
    rolled = D.band_limit(x, 4000.0, rolloff=(3000.0, 12))
    assert _band_energy(rolled, 4100, 8000) < 1e-6 * _band_energy(x, 4100, 8000)
    # Between the corner and the cut-off the roll-off removes most of what plain band limiting keeps.
    assert _band_energy(rolled, 3300, 3900) < 0.1 * _band_energy(plain, 3300, 3900)
    assert _band_energy(rolled, 100, 2500) == pytest.approx(_band_energy(plain, 100, 2500), rel=0.02)


def test_band_limit_augment_draws_within_its_ranges_and_off_changes_no_draw():
    on = D.DegradeConfig(**D.BAND_LIMIT_AUGMENT)
    draws = [D.draw_case("bwe", on, np.random.default_rng(i)) for i in range(400)]
    rolled = [d for d in draws if d.rolloff is not None]
    assert 0.65 < len(rolled) / len(draws) < 0.85  # probability 0.75
    for d in rolled:
        corner, order = d.rolloff
        assert 0.75 * d.cutoff_hz <= corner <= d.cutoff_hz and 4 <= order <= 24
    # Off (the default): no roll-off and the generator advances exactly as before the option existed.
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    assert D.draw_case("bwe", D.DegradeConfig(), a).rolloff is None
    b.choice(D.DegradeConfig().bwe_cutoffs_hz)
    assert a.random() == b.random()


def test_quantize_16bit_puts_the_input_on_the_16_bit_grid_at_the_asked_level():
    rng = np.random.default_rng(4)
    x = (0.01 * rng.standard_normal(8000)).astype(np.float32)
    y = D.quantize_16bit(x, -30.0)
    gain = 10 ** (-30.0 / 20) / np.sqrt(D.active_power(x))
    steps = y.astype(np.float64) * gain * 32768
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)  # integer PCM codes at that level
    assert np.sqrt(np.mean((y - x) ** 2)) * gain == pytest.approx(1 / 32768 / np.sqrt(12), rel=0.1)
    draws = [D.draw_case("bwe", D.DegradeConfig(**D.BAND_LIMIT_AUGMENT), np.random.default_rng(i)) for i in range(200)]
    levels = [d.quantize_level_dbfs for d in draws if d.quantize_level_dbfs is not None]
    assert 0.6 < len(levels) / len(draws) < 0.9 and all(-35.0 <= v <= -15.0 for v in levels)


def test_bwe_cutoff_at_nyquist_leaves_the_input_wideband_and_bad_cutoffs_are_refused():
    from dataclasses import replace

    cfg = replace(D.DegradeConfig(), bwe_cutoffs_hz=(8000.0,))
    rng = np.random.default_rng(0)
    clean = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    case = D.draw_case("bwe", cfg, rng)
    assert case.cutoff_hz == 8000.0
    x, target = D.apply(clean, case, None, None, cfg)
    np.testing.assert_array_equal(x, clean)
    np.testing.assert_array_equal(target, clean)
    mixed = replace(D.DegradeConfig(), bwe_cutoffs_hz=(4000.0, 8000.0))
    drawn = {D.draw_case("bwe", mixed, rng).cutoff_hz for _ in range(50)}
    assert drawn == {4000.0, 8000.0}
    for bad in ((), (0.0,), (9000.0,), (4000.0, -1.0)):
        with pytest.raises(ValueError, match="cut-offs"):
            replace(D.DegradeConfig(), bwe_cutoffs_hz=bad)


@pytest.mark.parametrize("task", ["denoise", "dereverb", "bwe", "universal"])
def test_clean_fraction_leaves_that_share_of_samples_undegraded(task):
    cfg = D.DegradeConfig(clean_prob=0.3)
    draws = [D.draw_case(task, cfg, np.random.default_rng(i)) for i in range(1000)]
    clean = [d for d in draws if d.case == "clean"]
    assert 0.25 < len(clean) / len(draws) < 0.35
    x = _speechlike(8000, np.random.default_rng(1))
    inp, target = D.apply(x, clean[0], None, None, cfg)  # no noise, no room needed
    assert np.array_equal(inp, x) and np.array_equal(target, x)
    # Off (the default): the generator advances exactly as before the option existed.
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    D.draw_case(task, D.DegradeConfig(), a)
    D.draw_case(task, D.DegradeConfig(clean_prob=0.0), b)
    assert a.random() == b.random()


def test_clean_fraction_out_of_range_is_refused():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="clean fraction"):
            D.DegradeConfig(clean_prob=bad)


def test_reverb_noise_adds_noise_at_the_asked_snr_and_keeps_the_target_noise_free():
    cfg = D.DegradeConfig(reverb_noise_prob=0.4, reverb_noise_snr_range_db=(12.0, 20.0))
    draws = [D.draw_case("dereverb", cfg, np.random.default_rng(i)) for i in range(1000)]
    noisy = [d for d in draws if d.snr_db is not None]
    assert 0.35 < len(noisy) / len(draws) < 0.45
    assert all(d.reverb for d in draws) and all(d.case == "noise_reverb" for d in noisy)
    assert all(12.0 <= d.snr_db <= 20.0 for d in noisy)
    rng = np.random.default_rng(2)
    clean = _speechlike(RATE, rng, gaps=True)
    rir = synthetic_rir(50, rng)
    noise = rng.standard_normal(RATE).astype(np.float32)
    x, target = D.apply(clean, noisy[0], noise, rir, cfg)
    reverberant, direct = D.reverberate(clean, rir)
    assert np.array_equal(target, direct)  # the noise is not in the target
    measured = 10 * np.log10(D.active_power(reverberant) / np.mean((x - reverberant).astype(np.float64) ** 2))
    assert measured == pytest.approx(noisy[0].snr_db, abs=0.5)
    with pytest.raises(ValueError, match="needs a noise signal"):
        D.apply(clean, noisy[0], None, rir, cfg)


def test_reverb_noise_off_changes_no_draw_and_decides_whether_dereverb_needs_noise():
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    assert D.draw_case("dereverb", D.DegradeConfig(), a).snr_db is None
    assert a.random() == b.random()  # dereverb without it draws nothing
    assert not D.needs_noise("dereverb") and not D.needs_noise("dereverb", D.DegradeConfig())
    assert D.needs_noise("dereverb", D.DegradeConfig(reverb_noise_prob=0.5))
    assert D.needs_noise("denoise") and not D.needs_noise("bwe", D.DegradeConfig(reverb_noise_prob=0.5))
    for bad in (dict(reverb_noise_prob=-0.1), dict(reverb_noise_prob=1.5)):
        with pytest.raises(ValueError, match="reverb-noise probability"):
            D.DegradeConfig(**bad)
    with pytest.raises(ValueError, match="reverb-noise SNR range"):
        D.DegradeConfig(reverb_noise_snr_range_db=(30.0, 10.0))


def test_change_speed_moves_every_frequency_by_the_factor_and_shortens_by_it():
    t = np.arange(RATE) / RATE
    x = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 1700 * t)).astype(np.float32)
    for factor in (0.85, 1.15):
        y = D.change_speed(x, factor)
        assert len(y) == pytest.approx(RATE / factor, abs=1)
        power = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
        f = np.fft.rfftfreq(len(y), 1 / RATE)
        peaks = sorted(f[np.argsort(power)[-2:]])
        assert peaks == pytest.approx([300 * factor, 1700 * factor], abs=2.0)
    assert D.change_speed(x, 1.0) is x


def test_speed_perturb_off_draws_nothing_and_bad_settings_are_refused():
    a, b = np.random.default_rng(4), np.random.default_rng(4)
    assert D.draw_speed(D.DegradeConfig(), a) == 1.0
    assert a.random() == b.random()  # off: the data of older runs is unchanged
    rng = np.random.default_rng(5)
    factors = [D.draw_speed(D.DegradeConfig(speed_perturb_prob=0.5, speed_range=(0.9, 1.2)), rng) for _ in range(400)]
    changed = [s for s in factors if s != 1.0]
    assert 150 < len(changed) < 250 and min(changed) >= 0.9 and max(changed) <= 1.2
    for bad, message in ((dict(speed_perturb_prob=1.5), "speed-perturb probability"),
                         (dict(speed_range=(1.1, 0.9)), "speed range"), (dict(speed_range=(0.3, 1.0)), "speed range"),
                         (dict(speed_range=(1.0, 2.5)), "speed range")):
        with pytest.raises(ValueError, match=message):
            D.DegradeConfig(**bad)


@pytest.mark.parametrize("seconds", [3.0, 0.4])
def test_speed_perturbed_crops_keep_their_length_and_move_the_pitch(tmp_path, seconds):
    """A 250 Hz tone read through the training crops comes out at 250 x the factor, input and target alike,
    the segment's length whether the file is longer or shorter than the samples the factor needs."""
    import soundfile as sf

    from models.data.dataset import CropSpec, DegradedCrops
    from models.data.files import scan_folders

    (tmp_path / "clean").mkdir()
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(tmp_path / "clean" / "tone.wav", (0.3 * np.sin(2 * np.pi * 250 * t)).astype(np.float32), RATE)
    clean = scan_folders([str(tmp_path / "clean")], what="clean", sample_rate_hz=RATE, min_seconds=0.25)[0]
    n = 6000
    for prob, factor in ((0.0, 1.0), (1.0, 0.8), (1.0, 1.2)):
        spec = CropSpec("phase", n, 3, D.DegradeConfig(speed_perturb_prob=prob, speed_range=(factor, factor)))
        x, y, _ = DegradedCrops(spec, clean).sample(2)
        assert len(x) == len(y) == n
        np.testing.assert_array_equal(x, y)
        voiced = y[: min(n, int(len(t) / factor)) - 50]  # a short file ends in zeros
        f = np.fft.rfftfreq(len(voiced), 1 / RATE)
        assert f[np.argmax(np.abs(np.fft.rfft(voiced * np.hanning(len(voiced)))))] == pytest.approx(250 * factor, abs=4)


def test_validation_reads_its_files_at_their_own_speed(tmp_path):
    """Speed perturbation is a training augmentation: the validation set is the same with it on or off."""
    from models.data.files import scan_folders
    from models.train.validation import build_val_set
    from test_train_fixtures import make_corpus

    dirs = make_corpus(tmp_path)
    scan = dict(sample_rate_hz=RATE, min_seconds=0.25)
    val = scan_folders([str(dirs["val"])], what="val", **scan)[0]
    noise = scan_folders([str(dirs["noise"])], what="noise", **scan)[0]
    plain = build_val_set(val, "denoise", D.DegradeConfig(), 3, 2, 1.0, noise, None)
    perturbed = build_val_set(val, "denoise", D.DegradeConfig(speed_perturb_prob=1.0, speed_range=(1.2, 1.2)), 3, 2,
                              1.0, noise, None)
    for a, b in zip(plain, perturbed, strict=True):
        np.testing.assert_array_equal(a.input, b.input)
        np.testing.assert_array_equal(a.target, b.target)
