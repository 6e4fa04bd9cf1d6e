"""Simulated room impulse responses of the corpus recipe: deterministic for a seed."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
pytest.importorskip("pyroomacoustics", reason="pyroomacoustics (the 'train' extra) is not installed")
import corpus_rirs as cr  # noqa: E402
from corpus_sources import RoomRange  # noqa: E402

TINY_ISM = RoomRange(1, "ism", (3.0, 3.5), (3.0, 3.5), (2.5, 2.7), (0.2, 0.25), max_order=6)
TINY_HYBRID = RoomRange(1, "hybrid", (3.0, 3.5), (3.0, 3.5), (2.5, 2.7), (0.2, 0.25))


@pytest.mark.parametrize("rooms", [TINY_ISM, TINY_HYBRID], ids=["ism", "hybrid"])
def test_same_seed_same_rir(rooms):
    a, info_a = cr.simulate_rir(rooms, seed=3, split="train", index=5)
    b, info_b = cr.simulate_rir(rooms, seed=3, split="train", index=5)
    assert info_a == info_b
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.ndim == 1
    assert np.max(np.abs(a)) == pytest.approx(1.0)


def test_rir_depends_on_seed_split_and_index():
    base, info = cr.simulate_rir(TINY_ISM, seed=3, split="train", index=0)
    for kwargs in ({"seed": 4, "split": "train", "index": 0}, {"seed": 3, "split": "heldout", "index": 0},
                   {"seed": 3, "split": "train", "index": 1}):
        other, other_info = cr.simulate_rir(TINY_ISM, **kwargs)
        assert other_info != info or not np.array_equal(other, base)


def test_rooms_and_positions_stay_in_range():
    for i in range(4):
        _, info = cr.simulate_rir(TINY_ISM, seed=11, split="train", index=i)
        assert 3.0 <= info.length_m <= 3.5 and 3.0 <= info.width_m <= 3.5 and 2.5 <= info.height_m <= 2.7
        assert 0.2 <= info.rt60_target_s <= 0.25
        assert info.source_mic_distance_m >= cr.MIN_DISTANCE_M
        assert 0.0 < info.seconds <= cr.MAX_SECONDS_AFTER_PEAK + 0.1


def test_trim_keeps_the_energy_and_normalises():
    rate = 16_000
    rng = np.random.default_rng(0)
    t = np.arange(3 * rate) / rate
    h = np.concatenate([np.zeros(40), rng.standard_normal(3 * rate) * np.exp(-t * 6.9 / 0.5)])  # RT60 0.5 s
    h[40] = 5.0
    out = cr.trim_rir(h, rate)
    assert np.max(np.abs(out)) == pytest.approx(1.0)
    assert len(out) < len(h)  # the silent tail beyond -60 dB is gone
    kept = np.sum((out * 5.0) ** 2) / np.sum(h ** 2)
    assert kept > 1 - 1e-5  # only the last millionth of the energy may go
