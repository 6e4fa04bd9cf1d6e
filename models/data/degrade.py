"""Degradations applied on the fly to clean 16 kHz speech, as pure numpy functions.

Every function takes float waveforms [N] and, where it draws anything, a
``numpy.random.Generator``; none keeps state, so a sample is a function of its seed only.

Each task returns a pair (degraded input, training target), both [N] and time-aligned:
- noise: input = clean + noise scaled to a signal-to-noise ratio in dB, target = clean;
- reverberation: input = clean * RIR, target = clean * direct path of the RIR (up to its
  first peak + 5 samples, as the authors do), both shifted by the same onset delay;
- band limit: input resampled down to 2 x cut-off and back up (soxr), target unchanged;
  applied last, to the input only;
- phase retrieval: input = target = clean (the trainer zeroes the input phase);
- universal: the authors' six equally likely cases (see ``UNIVERSAL_CASES``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

SAMPLE_RATE_HZ = 16_000
#: Frames used to find the active (speech) part of a signal: 20 ms, active if within 40 dB
#: of the loudest frame and above an absolute floor (-80 dBFS).
ACTIVE_FRAME_S = 0.02
ACTIVE_RANGE_DB = 40.0
ACTIVE_FLOOR_DB = -80.0
#: Samples kept after the RIR's main peak for the direct path (the authors' value).
DIRECT_PATH_EXTRA_SAMPLES = 5

#: Limits of ``DegradeConfig.speed_range``: beyond an octave either way speech stops sounding human.
MIN_SPEED, MAX_SPEED = 0.5, 2.0

#: The authors' universal training mixture: six equally likely cases.
UNIVERSAL_CASES = ("only_noise", "only_reverb", "only_bandlimit", "noise_reverb", "noise_bandlimit",
                   "noise_reverb_bandlimit")
TASKS = ("denoise", "dereverb", "bwe", "phase", "universal")


@dataclass(frozen=True)
class DegradeConfig:
    """What the degradations draw from. Units in the names."""

    snr_range_db: tuple[float, float] = (-5.0, 15.0)
    #: Level randomisation of the mixture (RMS over active speech, dBFS). The trainer normalises
    #: every input to unit RMS, so this matters only for clipping-like effects; kept as authors.
    level_range_dbfs: tuple[float, float] = (-35.0, -15.0)
    #: Cut-off frequencies for the bwe task (the input is resampled to 2 x cut-off and back). A
    #: cut-off at the Nyquist frequency leaves the input wideband (``gre train --bwe-cutoff 8000``):
    #: such samples teach an extender to leave wideband input alone.
    bwe_cutoffs_hz: tuple[float, ...] = (2000.0, 4000.0)
    sample_rate_hz: int = SAMPLE_RATE_HZ
    #: Noise augmentation (all off by default, the authors' recipe; ``gre train --noise-augment``
    #: turns them on): with these probabilities the noise of a sample is replaced by babble (a sum
    #: of 3-6 other speech crops of the training set), by coloured Gaussian noise (power spectrum
    #: ~ f^-alpha, alpha uniform in [-1, 2]), or gets a second recording mixed in 0-10 dB below it.
    #: A small noise corpus is memorised quickly; these add variety it does not have. With
    #: ``hum_prob`` (``gre train --hum-noise P``) the noise is mains hum (see :func:`mains_hum`):
    #: field recordings often have it, and game and ambience recordings do not.
    babble_prob: float = 0.0
    colored_noise_prob: float = 0.0
    second_noise_prob: float = 0.0
    hum_prob: float = 0.0
    #: Band-limit augmentation (off by default, the authors' recipe; ``gre train --band-limit-augment``
    #: turns it on): with this probability the input first goes through a zero-phase low-pass of
    #: random steepness (Butterworth magnitude, order in ``bwe_rolloff_orders``) at a random fraction
    #: (``bwe_rolloff_fraction``) of the cut-off, then through the resampling as usual. Real narrowband
    #: audio (telephone channels, codecs, other resamplers) rolls off below its Nyquist frequency;
    #: a model that has only seen one brick-wall filter mistakes that band for missing content.
    bwe_rolloff_prob: float = 0.0
    bwe_rolloff_fraction: tuple[float, float] = (0.75, 1.0)
    bwe_rolloff_orders: tuple[int, int] = (4, 24)
    #: With this probability the band-limited input is rounded to 16-bit PCM at a level drawn from
    #: ``level_range_dbfs``: real files are 16-bit, and their quantisation noise fills the empty band
    #: (a model trained on float input only mistakes that noise for content and degrades it).
    bwe_quantize_prob: float = 0.0
    #: With this probability a training sample is left undegraded (input = target = the clean
    #: speech; ``gre train --clean-fraction``). A model that has only seen degraded input learns to
    #: always take something away, which harms the clean files of a corpus run through it.
    #: Validation ignores it: clean input is scored on its own.
    clean_prob: float = 0.0
    #: dereverb: with this probability a sample also gets background noise, added after the
    #: reverberation at an SNR (dB, against the reverberant speech) drawn from
    #: ``reverb_noise_snr_range_db``; the target stays the noise-free direct path (``gre train
    #: --reverb-noise``). Real rooms have a noise floor (ventilation, traffic, the microphone's own
    #: hiss): a model that has only seen noise-free reverberation treats that floor as reverberation
    #: and keeps whatever of it does not look like a decaying copy of speech. Off by default.
    reverb_noise_prob: float = 0.0
    reverb_noise_snr_range_db: tuple[float, float] = (10.0, 30.0)
    #: Speaker augmentation (off by default, the authors' recipe; ``gre train --speed-perturb P``):
    #: with this probability the clean speech of a sample is played faster or slower by a factor drawn
    #: uniformly from ``speed_range`` (resampled, so pitch and formants move with the tempo: the speed
    #: perturbation of Ko et al., Interspeech 2015). Both input and target are made from the changed
    #: speech. The corpus has about ten real talkers; each factor makes another voice of them. Training
    #: only: validation reads its files as they are.
    speed_perturb_prob: float = 0.0
    speed_range: tuple[float, float] = (0.85, 1.15)

    def __post_init__(self):
        if not 0.0 <= self.clean_prob < 1.0:
            raise ValueError(f"the clean fraction must be in [0, 1), got {self.clean_prob:g}")
        shares = {"babble": self.babble_prob, "coloured-noise": self.colored_noise_prob, "hum-noise": self.hum_prob,
                  "second-noise": self.second_noise_prob}
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"the {name} probability must be in [0, 1], got {share:g}")
        if sum(shares.values()) > 1.0 + 1e-9:
            # One draw picks at most one kind per sample: shares past 1 would silently never happen.
            raise ValueError(f"the noise-augmentation shares add up to {sum(shares.values()):g} "
                             f"({', '.join(f'{k} {v:g}' for k, v in shares.items() if v)}); keep their sum <= 1")
        if not 0.0 <= self.reverb_noise_prob <= 1.0:
            raise ValueError(f"the reverb-noise probability must be in [0, 1], got {self.reverb_noise_prob:g}")
        lo, hi = self.reverb_noise_snr_range_db
        if not lo <= hi:
            raise ValueError(f"the reverb-noise SNR range must be LO <= HI, got {lo:g} {hi:g}")
        if not 0.0 <= self.speed_perturb_prob <= 1.0:
            raise ValueError(f"the speed-perturb probability must be in [0, 1], got {self.speed_perturb_prob:g}")
        lo, hi = self.speed_range
        if not MIN_SPEED <= lo <= hi <= MAX_SPEED:
            raise ValueError(f"the speed range must be {MIN_SPEED:g} <= LO <= HI <= {MAX_SPEED:g}, got {lo:g} {hi:g}")
        nyquist = self.sample_rate_hz / 2
        if not self.bwe_cutoffs_hz or any(not 0 < c <= nyquist for c in self.bwe_cutoffs_hz):
            raise ValueError(f"bwe cut-offs must be in (0, {nyquist:g}] Hz, got {list(self.bwe_cutoffs_hz)} "
                             f"({nyquist:g} Hz = the Nyquist frequency: the input passes unchanged)")

    @property
    def augments_noise(self) -> bool:
        return self.babble_prob > 0 or self.colored_noise_prob > 0 or self.second_noise_prob > 0 or self.hum_prob > 0


#: The probabilities `gre train --noise-augment` sets. Hum is not among them but has an option of
#: its own (``--hum-noise P``): a run saved before hum existed would otherwise not resume with the
#: same options (its saved config reads hum_prob as 0).
NOISE_AUGMENT = dict(babble_prob=0.15, colored_noise_prob=0.1, second_noise_prob=0.3)
#: What `gre train --band-limit-augment` sets.
BAND_LIMIT_AUGMENT = dict(bwe_rolloff_prob=0.75, bwe_quantize_prob=0.75)


def draw_speed(cfg: DegradeConfig, rng: np.random.Generator) -> float:
    """The speed factor of a sample's clean speech (1.0: unchanged). Draws nothing from ``rng`` when
    speed perturbation is off, so runs without it keep their data."""
    if cfg.speed_perturb_prob <= 0.0 or rng.random() >= cfg.speed_perturb_prob:
        return 1.0
    return float(rng.uniform(*cfg.speed_range))


def change_speed(x: np.ndarray, factor: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """``x`` [N] played ``factor`` times faster: [round(N / factor)] samples, every frequency times
    ``factor`` (read as if recorded at ``factor`` x the rate, then resampled back to it)."""
    if factor == 1.0:
        return x
    return soxr.resample(x, sample_rate_hz * factor, sample_rate_hz).astype(np.float32)


def colored_noise(n: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise [n] whose power spectrum falls as f^-alpha (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = f[1] if len(f) > 1 else 1.0
    y = np.fft.irfft(spec * f ** (-alpha / 2), n)
    rms = np.sqrt(np.mean(y**2))
    return (y / rms if rms > 0 else y).astype(np.float32)


def mains_hum(n: int, rng: np.random.Generator, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """[n] samples of mains hum, unit RMS: a 50 or 60 Hz fundamental (off by up to 0.5 %, as grids
    drift) and its harmonics up to 4 kHz, each harmonic k at k^-beta (beta uniform in [0.3, 2]: a
    soft hum to a harsh buzz) times a random factor (0.5-2), odd harmonics raised by 0-12 dB in half
    the draws (rectifier buzz), random phases, a slow 0-20 % amplitude wobble, over a white floor
    15-40 dB below it."""
    f0 = float(rng.choice((50.0, 60.0))) * (1 + float(rng.uniform(-0.005, 0.005)))
    t = np.arange(n, dtype=np.float64) / sample_rate_hz
    beta = float(rng.uniform(0.3, 2.0))
    odd_gain = 10 ** (float(rng.uniform(0.0, 12.0)) / 20) if rng.random() < 0.5 else 1.0
    y = np.zeros(n, np.float64)
    for k in range(1, int(4000 // f0) + 1):
        amp = k ** -beta * float(rng.uniform(0.5, 2.0)) * (odd_gain if k % 2 else 1.0)
        y += amp * np.sin(2 * np.pi * f0 * k * t + float(rng.uniform(0, 2 * np.pi)))
    wobble_hz, depth = float(rng.uniform(0.1, 2.0)), float(rng.uniform(0.0, 0.2))
    y *= 1 + depth * np.sin(2 * np.pi * wobble_hz * t + float(rng.uniform(0, 2 * np.pi)))
    y /= np.sqrt(np.mean(y**2))
    y += rng.standard_normal(n) * 10 ** (-float(rng.uniform(15.0, 40.0)) / 20)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def mix_at_level(a: np.ndarray, b: np.ndarray, below_db: float) -> np.ndarray:
    """``a`` + ``b`` scaled so that b's mean power is ``below_db`` dB under a's (a returned when either is silent)."""
    pa, pb = float(np.mean(np.square(a, dtype=np.float64))), float(np.mean(np.square(b, dtype=np.float64)))
    if pa <= 0 or pb <= 0:
        return a
    return (a + b * np.sqrt(pa / pb * 10 ** (-below_db / 10))).astype(a.dtype, copy=False)


def active_mask(x: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Boolean [N]: samples in 20 ms frames within 40 dB of the loudest frame (and above -80 dBFS)."""
    n = len(x)
    frame = max(1, int(ACTIVE_FRAME_S * sample_rate_hz))
    n_frames = -(-n // frame)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[:n] = x
    energy = (padded.reshape(n_frames, frame) ** 2).mean(axis=1)
    if energy.max() <= 0:
        return np.zeros(n, dtype=bool)
    level_db = 10 * np.log10(energy + 1e-20)
    active = (level_db > level_db.max() - ACTIVE_RANGE_DB) & (level_db > ACTIVE_FLOOR_DB)
    return np.repeat(active, frame)[:n]


def active_power(x: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> float:
    """Mean square of ``x`` over its active part (0 for silence)."""
    mask = active_mask(x, sample_rate_hz)
    if not mask.any():
        return 0.0
    return float(np.mean(np.asarray(x, dtype=np.float64)[mask] ** 2))


def fit_length(x: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop of ``x`` to ``length`` samples, or ``x`` tiled (from a random offset) when shorter."""
    if len(x) >= length:
        start = int(rng.integers(0, len(x) - length + 1))
        return x[start:start + length]
    reps = -(-length // len(x)) + 1
    start = int(rng.integers(0, len(x)))
    return np.tile(x, reps)[start:start + length]


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float,
              sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """speech + noise scaled so that 10 log10(P_speech_active / P_noise) = ``snr_db``.

    ``noise`` must have the length of ``speech`` (see :func:`fit_length`). The speech power is
    measured over its active part, the noise power over the whole segment. Silent speech or
    silent noise: the speech is returned unchanged.
    """
    p_speech = active_power(speech, sample_rate_hz)
    p_noise = float(np.mean(np.asarray(noise, dtype=np.float64) ** 2))
    if p_speech <= 0 or p_noise <= 0:
        return speech.copy()
    scale = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    return (speech + scale * noise).astype(speech.dtype, copy=False)


def direct_path(rir: np.ndarray) -> tuple[np.ndarray, int]:
    """(RIR up to its main peak + 5 samples, index of the peak)."""
    peak = int(np.argmax(np.abs(rir)))
    return rir[:peak + DIRECT_PATH_EXTRA_SAMPLES + 1], peak


def _convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)
    return y[:n]


def reverberate(clean: np.ndarray, rir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reverberant input, direct-path target), both [N] and aligned with ``clean``.

    Both are convolutions of ``clean`` with (parts of) the same RIR, shifted left by the RIR's
    peak index so that the direct sound lines up with the dry signal; the RIR is normalised to a
    unit peak, so the target keeps about the clean level.
    """
    rir = np.asarray(rir, dtype=np.float64)
    peak_value = np.max(np.abs(rir))
    if peak_value <= 0:
        raise ValueError("room impulse response is all zeros")
    rir = rir / peak_value
    direct, peak = direct_path(rir)
    n = len(clean)
    x = np.asarray(clean, dtype=np.float64)
    reverberant = _convolve(x, rir)[peak:peak + n]
    target = _convolve(x, direct)[peak:peak + n]
    pad = lambda y: np.pad(y, (0, n - len(y))) if len(y) < n else y  # noqa: E731 - tiny RIRs
    return pad(reverberant).astype(clean.dtype), pad(target).astype(clean.dtype)


def low_pass(x: np.ndarray, corner_hz: float, order: int, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Zero-phase low-pass of ``x`` [N]: gain 1 / sqrt(1 + (f / corner)^(2 order)) (a Butterworth
    magnitude, -3 dB at ``corner_hz``) applied in the frequency domain of the whole signal."""
    n = len(x)
    size = 1 << max(n - 1, 1).bit_length()  # zero padding keeps the circular wrap negligible
    f = np.fft.rfftfreq(size, 1.0 / sample_rate_hz)
    gain = 1.0 / np.sqrt(1.0 + (f / corner_hz) ** (2 * order))
    y = np.fft.irfft(np.fft.rfft(np.asarray(x, dtype=np.float64), size) * gain, size)[:n]
    return y.astype(x.dtype, copy=False)


def quantize_16bit(x: np.ndarray, level_dbfs: float, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """``x`` as a 16-bit PCM file at active level ``level_dbfs`` would hold it: scaled to the level,
    clipped to full scale, rounded to the 16-bit grid, scaled back (same level as ``x``)."""
    power = active_power(x, sample_rate_hz)
    if power <= 0:
        return x.copy()
    gain = 10 ** (level_dbfs / 20) / np.sqrt(power)
    q = np.round(np.clip(np.asarray(x, dtype=np.float64) * gain, -1.0, 32767 / 32768) * 32768) / 32768
    return (q / gain).astype(x.dtype, copy=False)


def band_limit(x: np.ndarray, cutoff_hz: float, sample_rate_hz: int = SAMPLE_RATE_HZ,
               rolloff: tuple[float, int] | None = None) -> np.ndarray:
    """Resample ``x`` down to 2 x ``cutoff_hz`` and back (soxr, very high quality); same length.

    ``rolloff`` (corner in Hz, order): first a :func:`low_pass` there (see DegradeConfig.bwe_rolloff_prob).
    A cut-off at or above the Nyquist frequency returns ``x`` unchanged.
    """
    if rolloff is not None:
        x = low_pass(x, rolloff[0], rolloff[1], sample_rate_hz)
    low_rate = 2 * cutoff_hz
    if low_rate >= sample_rate_hz:
        return x.copy()
    down = soxr.resample(np.asarray(x, dtype=np.float64), sample_rate_hz, low_rate, quality="VHQ")
    up = soxr.resample(down, low_rate, sample_rate_hz, quality="VHQ")
    n = len(x)
    up = up[:n] if len(up) >= n else np.pad(up, (0, n - len(up)))
    return up.astype(x.dtype, copy=False)


def random_level(input_: np.ndarray, target: np.ndarray, cfg: DegradeConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scale input and target by one random gain so that the input's active RMS is in the level range."""
    power = active_power(input_, cfg.sample_rate_hz)
    if power <= 0:
        return input_, target
    level_db = rng.uniform(*cfg.level_range_dbfs)
    gain = 10 ** (level_db / 20) / np.sqrt(power)
    return (input_ * gain).astype(input_.dtype), (target * gain).astype(target.dtype)


@dataclass(frozen=True)
class Degradation:
    """One drawn degradation: what was applied (for logs and tests)."""

    case: str
    snr_db: float | None = None
    cutoff_hz: float | None = None
    reverb: bool = False
    #: (corner Hz, order) of the extra low-pass before band limiting, or None.
    rolloff: tuple[float, int] | None = None
    #: Active level (dBFS) at which the input is rounded to 16-bit PCM, or None (kept as float).
    quantize_level_dbfs: float | None = None


def draw_case(task: str, cfg: DegradeConfig, rng: np.random.Generator) -> Degradation:
    """Which degradation a sample of ``task`` gets; universal draws one of the six cases."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    snr = lambda: float(rng.uniform(*cfg.snr_range_db))  # noqa: E731
    # Drawn only when asked for, so that runs without it keep their exact sample sequence.
    if task != "phase" and cfg.clean_prob > 0 and rng.random() < cfg.clean_prob:
        return Degradation("clean")
    if task == "denoise":
        return Degradation("only_noise", snr_db=snr())
    if task == "dereverb":
        # Drawn only when asked for, as the clean fraction above.
        if cfg.reverb_noise_prob > 0 and rng.random() < cfg.reverb_noise_prob:
            return Degradation("noise_reverb", snr_db=float(rng.uniform(*cfg.reverb_noise_snr_range_db)), reverb=True)
        return Degradation("only_reverb", reverb=True)
    if task == "bwe":
        cutoff = float(rng.choice(cfg.bwe_cutoffs_hz))
        rolloff, quantize = draw_band_limit_augment(cutoff, cfg, rng)
        return Degradation("only_bandlimit", cutoff_hz=cutoff, rolloff=rolloff, quantize_level_dbfs=quantize)
    if task == "phase":
        return Degradation("clean")
    case = UNIVERSAL_CASES[int(rng.integers(0, len(UNIVERSAL_CASES)))]
    return {
        "only_noise": lambda: Degradation(case, snr_db=snr()),
        "only_reverb": lambda: Degradation(case, reverb=True),
        "only_bandlimit": lambda: Degradation(case, cutoff_hz=2000.0 if rng.random() < 0.5 else 4000.0),
        "noise_reverb": lambda: Degradation(case, snr_db=snr(), reverb=True),
        "noise_bandlimit": lambda: Degradation(case, snr_db=snr(), cutoff_hz=4000.0),
        "noise_reverb_bandlimit": lambda: Degradation(case, snr_db=snr(), cutoff_hz=4000.0, reverb=True),
    }[case]()


def draw_band_limit_augment(cutoff_hz: float, cfg: DegradeConfig, rng: np.random.Generator
                            ) -> tuple[tuple[float, int] | None, float | None]:
    """(extra low-pass (corner Hz, order) or None, 16-bit rounding level dBFS or None) of a
    band-limited sample; an augmentation that is off draws nothing from ``rng``."""
    rolloff = quantize = None
    if cfg.bwe_rolloff_prob > 0 and rng.random() < cfg.bwe_rolloff_prob:
        corner = cutoff_hz * float(rng.uniform(*cfg.bwe_rolloff_fraction))
        rolloff = corner, int(rng.integers(cfg.bwe_rolloff_orders[0], cfg.bwe_rolloff_orders[1] + 1))
    if cfg.bwe_quantize_prob > 0 and rng.random() < cfg.bwe_quantize_prob:
        quantize = float(rng.uniform(*cfg.level_range_dbfs))
    return rolloff, quantize


def needs_noise(task: str, cfg: DegradeConfig | None = None) -> bool:
    """Whether samples of ``task`` (degraded as ``cfg`` says) draw from a noise corpus."""
    return task in ("denoise", "universal") or (task == "dereverb" and cfg is not None and cfg.reverb_noise_prob > 0)


def needs_rir(task: str) -> bool:
    return task in ("dereverb", "universal")


def apply(clean: np.ndarray, deg: Degradation, noise: np.ndarray | None, rir: np.ndarray | None,
          cfg: DegradeConfig) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``deg`` to ``clean`` [N]: reverb, then noise, then band limit (input only).

    ``noise`` must already be cut to len(clean); ``rir`` is any length. Returns (input, target).
    """
    target = clean
    x = clean
    if deg.reverb:
        if rir is None:
            raise ValueError("this degradation needs a room impulse response")
        x, target = reverberate(clean, rir)
    if deg.snr_db is not None:
        if noise is None:
            raise ValueError("this degradation needs a noise signal")
        x = add_noise(x, noise, deg.snr_db, cfg.sample_rate_hz)
    if deg.cutoff_hz is not None:
        x = band_limit(x, deg.cutoff_hz, cfg.sample_rate_hz, deg.rolloff)
    if deg.quantize_level_dbfs is not None:
        x = quantize_16bit(x, deg.quantize_level_dbfs, cfg.sample_rate_hz)
    return x, target
