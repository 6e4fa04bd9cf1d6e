"""The TTS part of the corpus recipe (``build_corpus.sh --with-tts``): text, plan, finishing, engines."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
import corpus_audio as ca  # noqa: E402
import corpus_build as cb  # noqa: E402
import corpus_sources as cs  # noqa: E402
import corpus_tts as tts  # noqa: E402

LUA = r'''
dialogId("1st-v-ven", "font_big", "We should go and have a look outside.")
dialogId("1st-m-proc", "font_small", "Why isn’t anything happening?")
dialogId("x-m-hmm", "font_small", "Hmm.")
dialogId("x-v-quote", "font_big", "He said \"stop\" and left.")
dialogId("x-v-dots", "font_big", "...")
'''


def test_dialog_lines_are_cleaned_and_short_ones_dropped():
    assert tts.dialog_lines(LUA) == ["We should go and have a look outside.", "Why isn't anything happening?",
                                     'He said "stop" and left.']


def test_collect_lines_reads_every_level_once(tmp_path):
    for level in ("b", "a"):
        (tmp_path / level).mkdir()
        (tmp_path / level / "dialogs_en.lua").write_text(LUA, encoding="utf-8")
    (tmp_path / "a" / "dialogs_cs.lua").write_text('dialogId("q", "f", "Tohle je česky řečeno.")', encoding="utf-8")
    assert tts.collect_lines(tmp_path) == tts.dialog_lines(LUA)  # duplicates across levels kept once


def test_plan_deals_distinct_lines_to_voices_deterministically():
    lines = [f"line number {i} here" for i in range(100)]
    a = tts.plan(lines, tts.VOICES, 10, seed=5)
    assert a == tts.plan(lines, tts.VOICES, 10, seed=5)
    assert a != tts.plan(lines, tts.VOICES, 10, seed=6)
    assert len(a) == 10 * len(tts.VOICES)
    assert len({u.text for u in a}) == len(a)  # no line said twice while lines last
    for v in tts.VOICES:
        mine = [u for u in a if u.voice == v]
        assert [u.index for u in mine] == list(range(10))
        assert len({u.file_name for u in mine}) == 10
    assert all(tts.STRETCH_RANGE[0] <= u.stretch <= tts.STRETCH_RANGE[1] for u in a)
    with pytest.raises(ValueError, match="no TTS text"):
        tts.plan([], tts.VOICES, 1, seed=0)


def test_tts_speakers_are_train_only_and_the_trap_is_caught():
    cs.check_splits(cs.tier("full").sources + cb.tts_sources())
    held_out = next(s for s in cs.tier("full").sources if s.split == "heldout")
    bad = replace(held_out, speakers=held_out.speakers + ("cmu:slt",))
    others = tuple(s for s in cs.tier("full").sources if s.name != held_out.name)
    with pytest.raises(ValueError, match="cmu:slt"):
        cs.check_splits(others + (bad,) + cb.tts_sources())


def test_finish_trims_levels_and_leaves_no_digital_silence():
    rate = 22_050
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)  # speech-like on/off
    x = np.concatenate([np.zeros(rate), tone, np.zeros(rate)]).astype(np.float32)
    y = tts.finish(x, rate, np.random.default_rng(0))
    assert abs(len(y) / ca.SAMPLE_RATE_HZ - (0.75 + 2 * tts.TRIM_MARGIN_S)) < 0.03  # leading/trailing zeros cut
    frame = ca.SAMPLE_RATE_HZ // 100
    power = (y[: len(y) // frame * frame].reshape(-1, frame).astype(np.float64) ** 2).mean(axis=1)
    active = power[power >= power.max() * 1e-3]
    assert abs(10 * np.log10(active.mean()) - tts.LEVEL_DBFS) < 0.1
    gap = y[int(0.35 * ca.SAMPLE_RATE_HZ): int(0.5 * ca.SAMPLE_RATE_HZ)]  # the tone's own pause (0.30-0.55 s)
    pcm = np.round(gap * 32768)
    assert np.any(pcm != 0) and np.abs(pcm).max() <= 2  # dither at the 16-bit floor, not exact zeros


@pytest.mark.skipif(tts.missing_engines() != [], reason="flite / festival are not installed")
def test_every_voice_synthesises_a_16k_pcm16_file(tmp_path):
    lines = ["We should go and have a look outside.", "And when you click somewhere, we will try to get there."]
    for u in tts.plan(lines, tts.VOICES, 1, seed=1):
        row = tts.make_file((u, str(tmp_path), 1))
        assert row["kept"] == 1, row
        info = sf.info(str(tmp_path / u.file_name))
        assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
        assert 1.0 < info.duration < 8.0


def test_a_failing_engine_is_counted_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither flite nor text2wave can be found
    u = tts.plan(["one two three four"], tts.VOICES, 1, seed=0)[0]
    row = tts.make_file((u, str(tmp_path), 0))
    assert (row["kept"], row["reason"]) == (0, "engine_failed")
    assert not (tmp_path / u.file_name).exists()
