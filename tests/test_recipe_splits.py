"""The corpus recipe's split rules: no package and no speaker on both sides of train / held-out."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "debian"))
import corpus_build as cb  # noqa: E402
import corpus_sources as cs  # noqa: E402


@pytest.mark.parametrize("name", cs.TIERS)
def test_shipped_tiers_are_disjoint_by_package_and_speaker(name):
    t = cs.tier(name)
    splits = cs.assign_splits(t.sources)
    side_of = {s.name: cs.side(splits[s.name]) for s in t.sources}
    train = [s for s in t.sources if side_of[s.name] == "train"]
    held = [s for s in t.sources if side_of[s.name] == "heldout"]
    assert train and held
    assert not {s.package for s in train} & {s.package for s in held}
    assert not {spk for s in train for spk in s.speakers} & {spk for s in held for spk in s.speakers}
    # Measured IRs are held-out only: their packages give no training audio.
    assert not {r.package for r in t.real_rirs} & {s.package for s in train}


def test_full_tier_follows_the_doc_split():
    splits = cs.assign_splits(cs.tier("full").sources)
    assert splits["asterisk-en"] == splits["asterisk-es"] == "train"  # both are Allison Smith
    assert splits["asterisk-fr"] == splits["asterisk-it"] == "heldout"
    assert splits["fillets-cs"] == "train" and splits["fillets-nl"] == "heldout_nb"
    assert {splits[n] for n in ("klettres", "hedgewars")} == {"heldout"}
    assert {splits[n] for n in ("0ad-ambient", "lincity", "colobot", "widelands", "flightgear",
                                "asterisk-moh")} == {"train"}
    assert {splits[n] for n in ("supertuxkart-sfx", "wesnoth-ambient", "sonic-pi")} == {"heldout"}


def _listed(source, rels, root):
    """The paths of ``rels`` (relative to ``root``) that the recipe's own file lister picks for ``source``."""
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    return {p.relative_to(root).as_posix() for p in cb.list_inputs(root, source)}


def test_noise_sources_leave_out_speech_and_interface_sounds(tmp_path):
    by_name = {s.name: s for s in cs.tier("full").sources}
    fg = ["Sounds/rain.wav", "Aircraft/c172p/Sounds/engine-idle.wav",
          "Sounds/mk-viii/pull-up.wav", "Aircraft/c172p/Sounds/checklist1.wav"]  # spoken call-outs, checklist
    assert _listed(by_name["flightgear"], fg, tmp_path / "fg") == set(fg[:2])
    wl = ["barbarians/taverns/inn_00.ogg", "animals/bird1_00.ogg",
          "click.ogg", "lobby_chat.ogg", "message_00.ogg", "military/under_attack.ogg"]
    assert _listed(by_name["widelands"], wl, tmp_path / "wl") == set(wl[:2])


def _moved(sources, name, split):
    return [dataclasses.replace(s, split=split) if s.name == name else s for s in sources]


def test_same_speaker_trap_is_caught():
    # Allison records both the English and the Spanish prompts: holding out Spanish leaks her voice.
    sources = _moved(cs.tier("full").sources, "asterisk-es", "heldout")
    with pytest.raises(ValueError, match="asterisk:allison"):
        cs.assign_splits(sources)


def test_same_speaker_trap_counts_narrowband_heldout_too():
    sources = _moved(cs.tier("full").sources, "asterisk-es", "heldout_nb")
    with pytest.raises(ValueError, match="speaker"):
        cs.check_splits(sources)


def test_package_on_both_sides_is_caught():
    t = cs.tier("full")
    lincity = next(s for s in t.sources if s.name == "lincity")
    extra = dataclasses.replace(lincity, name="lincity-heldout", split="heldout")
    with pytest.raises(ValueError, match="lincity-ng-data"):
        cs.check_splits(list(t.sources) + [extra])


def test_speech_without_speakers_and_duplicate_names_are_refused():
    t = cs.tier("ci")
    en = t.sources[0]
    with pytest.raises(ValueError, match="speaker ids"):
        cs.check_splits([dataclasses.replace(en, speakers=())])
    with pytest.raises(ValueError, match="used twice"):
        cs.check_splits([en, en])


def test_unknown_split_and_tier_are_refused():
    with pytest.raises(ValueError, match="split"):
        cs.side("validation")
    with pytest.raises(ValueError, match="tier"):
        cs.tier("huge")
