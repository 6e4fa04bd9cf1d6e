"""The corpus recipe as plain data: which Debian packages, which files, which split.

Everything the recipe builds is described here (the rest of the recipe only executes it), so the
split rules can be read, tested and printed in one place. Sources follow
``shared/docs/data_sources.md`` section 6: train and held-out are disjoint by package AND by
speaker, with the known same-speaker traps (Asterisk en = es = Allison Smith; CMU SLT / BDL in
several TTS engines) expressed as shared speaker ids.

Splits: ``train``; ``heldout`` (wideband, the main held-out numbers); ``heldout_nb`` (speech whose
content stops near 4 kHz: only for narrowband / band-limited evaluation, kept out of ``heldout`` so
a validation set of "clean" references is never band-limited).

Run as a script, it prints what ``build_corpus.sh`` needs (``packages``) or checks the tables
(``check``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

SPLITS = ("train", "heldout", "heldout_nb")
TIERS = ("full", "ci")
# Sources are fetched/converted in two groups so the small packages are ready first; "0ad" is the
# 1.4 GB 0ad-data package (its zip is extracted, the audio kept, the zip deleted).
GROUPS = ("base", "0ad")


@dataclass(frozen=True)
class Package:
    """One Debian package: what to extract from it and under which licence its audio is."""

    name: str
    licence: str
    members: tuple[str, ...] = ()  # tar wildcard patterns to extract; empty = the whole package
    group: str = "base"


@dataclass(frozen=True)
class Source:
    """A set of audio files from one package, all in one split.

    ``root`` is relative to the package's extraction folder; ``pattern`` is a regular expression
    matched (``re.search``) against the path relative to ``root``. ``speakers`` are ids that must
    never appear in two splits (use the same id for the same person across packages).
    ``max_floor_dbfs`` drops files whose quietest 20 ms frame is louder than that (hiss / room noise).
    """

    name: str
    kind: str  # "speech" | "noise"
    split: str
    package: str
    root: str
    pattern: str
    speakers: tuple[str, ...] = ()
    exclude: str | None = None  # regex on the relative path
    max_floor_dbfs: float | None = None
    min_seconds: float = 0.3
    max_rate_hz: int = 48_000  # KLettres has files mis-tagged at 128 kHz: their true rate is unknown
    note: str = ""


@dataclass(frozen=True)
class RoomRange:
    """Shoebox rooms drawn uniformly in these ranges; ``method`` is "ism" or "hybrid"."""

    count: int
    method: str
    length_m: tuple[float, float]
    width_m: tuple[float, float]
    height_m: tuple[float, float]
    rt60_s: tuple[float, float]
    max_order: int = 60  # image-source order cap (ism); the hybrid method uses order 3 + rays


@dataclass(frozen=True)
class RealRir:
    """A measured impulse response shipped in a package (``channel`` of a possibly stereo file)."""

    name: str
    package: str
    path: str
    channel: int = 0


@dataclass(frozen=True)
class Tier:
    name: str
    packages: tuple[Package, ...]
    sources: tuple[Source, ...]
    rooms: dict[str, RoomRange] = field(default_factory=dict)  # split -> rooms
    real_rirs: tuple[RealRir, ...] = ()  # always held-out
    synthetic_noise: dict[str, int] = field(default_factory=dict)  # split -> number of 30 s files

    def package(self, name: str) -> Package:
        for p in self.packages:
            if p.name == name:
                return p
        raise KeyError(f"{name}: not a package of tier {self.name}")


# --- packages ---------------------------------------------------------------------------------

ASTERISK = "./usr/share/asterisk/sounds"
FILLETS = "./usr/share/games/fillets-ng/sound"

PACKAGES = {p.name: p for p in (
    Package("asterisk-core-sounds-en-g722", "CC-BY-SA-3.0"),
    Package("asterisk-core-sounds-es-g722", "CC-BY-SA-3.0"),
    Package("asterisk-core-sounds-fr-g722", "CC-BY-SA-3.0"),
    Package("asterisk-core-sounds-it-g722", "CC-BY-3.0"),  # Carlo Flora; the doc table says CC-BY-SA
    Package("asterisk-core-sounds-ru-g722", "CC-BY-3.0"),
    Package("asterisk-prompt-it-menardi-wav", "CC-BY-SA-3.0-IT"),
    Package("fillets-ng-data-cs", "GPL-2+"),
    Package("fillets-ng-data-nl", "GPL-2+"),
    Package("klettres-data", "GPL-2+"),
    Package("hedgewars-data", "GPL-2 (package); see its copyright file",
            ("./usr/share/games/hedgewars/Data/Sounds/voices/*", "./usr/share/doc/hedgewars-data/*")),
    Package("megaglest-data", "CC-BY-SA-3.0",
            ("./usr/share/games/megaglest/techs/megapack/factions/*", "./usr/share/doc/megaglest-data/*")),
    Package("0ad-data", "CC-BY-SA-3.0",
            ("./usr/share/games/0ad/mods/public/public.zip", "./usr/share/doc/0ad-data/*"), group="0ad"),
    Package("lincity-ng-data", "GPL-2+"),
    Package("colobot-common-sounds", "GPL-3+"),
    Package("supertuxkart-data", "per file: CC0 / CC-BY / CC-BY-SA / GPL (see its copyright file)",
            ("./usr/share/games/supertuxkart/data/sfx/*", "./usr/share/doc/supertuxkart-data/*")),
    Package("wesnoth-1.16-data", "GPL-2+",
            ("./usr/share/games/wesnoth/1.16/data/core/sounds/ambient/*", "./usr/share/doc/wesnoth-1.16-data/*")),
    Package("sonic-pi-samples", "mostly CC0 (per file; see its copyright file)"),
    Package("widelands-data", "GPL-2+",
            ("./usr/share/games/widelands/data/sound/*", "./usr/share/doc/widelands-data/*")),
    # 1.3 GB of aircraft models; only the sound folders are extracted.
    Package("flightgear-data-base", "GPL-2+",
            ("./usr/share/games/flightgear/Sounds/*", "./usr/share/games/flightgear/Aircraft/c172p/Sounds/*",
             "./usr/share/doc/flightgear-data-base/*")),
    Package("asterisk-moh-opsound-g722", "CC-BY-SA-3.0"),
    Package("guitarix-common", "GPL-2+ (see its copyright file)",
            ("./usr/share/gx_head/sounds/greathall.wav", "./usr/share/doc/guitarix-common/*")),
    Package("jconvolver-config-files", "GPL-2+ (see its copyright file)"),
)}

# --- speech -----------------------------------------------------------------------------------

# Asterisk "silence/" holds digital-silence prompts; not speech.
_NO_SILENCE = r"(^|/)silence/"
# Megaglest voice lines are the units' acknowledgements and selection calls; these units are
# animals, monsters or machines, not people.
_MEGAGLEST_NOT_VOICES = (r"/units/(chicken|bull|thunderbird|behemoth|dragon|evil_dragon|wild_sow|mummy|"
                         r"flying_carpet)/")

SPEECH_FULL = (
    # TRAIN
    Source("asterisk-en", "speech", "train", "asterisk-core-sounds-en-g722", f"{ASTERISK}/en_US_f_Allison",
           r"\.g722$", speakers=("asterisk:allison",), exclude=_NO_SILENCE),
    Source("asterisk-es", "speech", "train", "asterisk-core-sounds-es-g722", f"{ASTERISK}/es_MX_f_Allison",
           r"\.g722$", speakers=("asterisk:allison",), exclude=_NO_SILENCE,
           note="same speaker as asterisk-en (Allison Smith)"),
    Source("asterisk-ru", "speech", "train", "asterisk-core-sounds-ru-g722", f"{ASTERISK}/ru_RU_f_IvrvoiceRU",
           r"\.g722$", speakers=("asterisk:ru-f",), exclude=_NO_SILENCE),
    Source("fillets-cs", "speech", "train", "fillets-ng-data-cs", FILLETS, r"(^|/)cs/[^/]+\.ogg$",
           speakers=("fillets:cs-actors",), max_floor_dbfs=-55.0,
           note="Czech voice actors (two fish + minor characters); hissy files dropped by the floor filter"),
    Source("megaglest", "speech", "train", "megaglest-data", "./usr/share/games/megaglest/techs/megapack/factions",
           r"_(ack|select)\d*\.(wav|ogg)$", speakers=("megaglest:units",), exclude=_MEGAGLEST_NOT_VOICES),
    Source("0ad-voice", "speech", "train", "0ad-data", "./0ad/audio/voice", r"\.(ogg|wav)$",
           speakers=("0ad:voices",), exclude=r"^global/", note="global/ holds dog barks, not voices"),
    # HELD-OUT (wideband)
    Source("asterisk-fr", "speech", "heldout", "asterisk-core-sounds-fr-g722", f"{ASTERISK}/fr_CA_f_June",
           r"\.g722$", speakers=("asterisk:june",), exclude=_NO_SILENCE),
    Source("asterisk-it", "speech", "heldout", "asterisk-core-sounds-it-g722", f"{ASTERISK}/it_IT_m_Carlo",
           r"\.g722$", speakers=("asterisk:carlo",), exclude=_NO_SILENCE,
           note="light room noise (floor about -53 dBFS); kept unfiltered as in the doc's EVAL-A"),
    Source("klettres", "speech", "heldout", "klettres-data", "./usr/share/klettres", r"\.(ogg|wav)$",
           speakers=("klettres:voices",), max_floor_dbfs=-55.0),
    Source("hedgewars", "speech", "heldout", "hedgewars-data", "./usr/share/games/hedgewars/Data/Sounds/voices",
           r"\.(ogg|wav)$", speakers=("hedgewars:voices",), max_floor_dbfs=-55.0),
    # HELD-OUT narrowband (content below about 4 kHz)
    Source("fillets-nl", "speech", "heldout_nb", "fillets-ng-data-nl", FILLETS, r"(^|/)nl/[^/]+\.ogg$",
           speakers=("fillets:nl-actors",), note="effectively band-limited to about 4 kHz"),
    Source("asterisk-it-menardi", "speech", "heldout_nb", "asterisk-prompt-it-menardi-wav",
           f"{ASTERISK}/it_IT_f_Menardi", r"\.wav$", speakers=("asterisk:menardi",), exclude=_NO_SILENCE,
           note="8 kHz recordings"),
)

# --- noise ------------------------------------------------------------------------------------

NOISE_FULL = (
    Source("0ad-ambient", "noise", "train", "0ad-data", "./0ad/audio/ambient", r"\.(ogg|wav)$", min_seconds=0.5),
    Source("lincity", "noise", "train", "lincity-ng-data", "./usr/share/games/lincity-ng/sounds", r"\.(wav|ogg)$",
           min_seconds=0.5, note="mostly 11.025 kHz: no energy above about 5 kHz"),
    Source("colobot", "noise", "train", "colobot-common-sounds", "./usr/share/games/colobot",
           r"^(sounds|music)/.*\.(wav|ogg)$", min_seconds=0.5, note="machinery effects and music"),
    # Workshop, farm, tavern and animal effects; interface sounds and the two military calls
    # (horns / alarms of the game, not environments) are left out.
    Source("widelands", "noise", "train", "widelands-data", "./usr/share/games/widelands/data/sound", r"\.ogg$",
           exclude=r"^(click|create_construction_site|lobby_|message_)|^military/", min_seconds=0.5,
           note="workshop, farm, tavern and animal effects"),
    # Engines, propellers, fan, rain, wind, 400 Hz hum, radio noise. Sounds/mk-viii/ holds spoken
    # cockpit call-outs (speech, so not noise); the c172p folder adds engine, tyre and water loops.
    Source("flightgear", "noise", "train", "flightgear-data-base", "./usr/share/games/flightgear",
           r"^(Sounds/[^/]+|Aircraft/c172p/Sounds/(engine|tires|water)[^/]*)\.wav$", min_seconds=0.5,
           note="8-48 kHz: some files hold nothing above 4-5.5 kHz"),
    Source("asterisk-moh", "noise", "train", "asterisk-moh-opsound-g722", "./usr/share/asterisk/moh", r"\.g722$",
           note="music on hold (five tracks)"),
    Source("supertuxkart-sfx", "noise", "heldout", "supertuxkart-data", "./usr/share/games/supertuxkart/data/sfx",
           r"\.ogg$", min_seconds=0.5, max_rate_hz=96_000, note="two effects are recorded at 96 kHz"),
    Source("wesnoth-ambient", "noise", "heldout", "wesnoth-1.16-data",
           "./usr/share/games/wesnoth/1.16/data/core/sounds/ambient", r"\.(ogg|wav)$", min_seconds=0.5),
    Source("sonic-pi", "noise", "heldout", "sonic-pi-samples", "./usr/share/sonic-pi/samples", r"\.flac$",
           min_seconds=0.5),
)

REAL_RIRS = (
    RealRir("greathall", "guitarix-common", "./usr/share/gx_head/sounds/greathall.wav"),
    RealRir("street2-L", "jconvolver-config-files",
            "./usr/share/jconvolver/config-files/demo-reverbs/street2-L.wav"),
    RealRir("street2-R", "jconvolver-config-files",
            "./usr/share/jconvolver/config-files/demo-reverbs/street2-R.wav"),
)

ROOMS_TRAIN = RoomRange(2000, "ism", (3.0, 10.0), (3.0, 8.0), (2.5, 4.0), (0.2, 1.0))
# Held-out rooms come from a different simulator (image sources of order 3 + ray tracing, with air
# absorption) and larger rooms / longer reverberation, so held-out numbers test generalisation.
ROOMS_HELDOUT = RoomRange(500, "hybrid", (8.0, 15.0), (6.0, 12.0), (3.0, 5.0), (0.4, 1.5))


def _tier_full() -> Tier:
    sources = SPEECH_FULL + NOISE_FULL
    names = sorted({s.package for s in sources} | {r.package for r in REAL_RIRS})
    return Tier("full", tuple(PACKAGES[n] for n in names), sources,
                rooms={"train": ROOMS_TRAIN, "heldout": ROOMS_HELDOUT}, real_rirs=REAL_RIRS)


def _tier_ci() -> Tier:
    """The small fixture tier (doc section 6d): two Asterisk packs, sonic-pi, guitarix, few RIRs.

    sonic-pi is the only real noise here, so it is the TRAIN noise; held-out noise is synthetic
    (coloured noise made by the recipe), which keeps the noise splits package-disjoint.
    """
    by_name = {s.name: s for s in SPEECH_FULL}
    sources = (
        by_name["asterisk-en"],
        by_name["asterisk-it"],
        Source("sonic-pi", "noise", "train", "sonic-pi-samples", "./usr/share/sonic-pi/samples", r"\.flac$",
               min_seconds=0.5),
    )
    rooms = {"train": RoomRange(20, "ism", (3.0, 10.0), (3.0, 8.0), (2.5, 4.0), (0.2, 1.0), max_order=20),
             "heldout": RoomRange(5, "hybrid", (8.0, 15.0), (6.0, 12.0), (3.0, 5.0), (0.4, 1.5))}
    names = sorted({s.package for s in sources} | {"guitarix-common"})
    return Tier("ci", tuple(PACKAGES[n] for n in names), sources, rooms=rooms, real_rirs=REAL_RIRS[:1],
                synthetic_noise={"heldout": 6})


def tier(name: str) -> Tier:
    """The recipe for ``name`` ("full" or "ci"), checked with :func:`check_splits`."""
    if name not in TIERS:
        raise ValueError(f"unknown tier {name!r}; use one of {', '.join(TIERS)}")
    t = _tier_full() if name == "full" else _tier_ci()
    check_splits(t.sources)
    return t


def side(split: str) -> str:
    """Train or held-out side of a split (``heldout`` and ``heldout_nb`` are both held-out)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return "train" if split == "train" else "heldout"


def assign_splits(sources: tuple[Source, ...] | list[Source]) -> dict[str, str]:
    """Source name -> split, after checking the split rules (see :func:`check_splits`)."""
    check_splits(sources)
    return {s.name: s.split for s in sources}


def check_splits(sources: tuple[Source, ...] | list[Source]) -> None:
    """Raise ``ValueError`` if a package or a speaker is on both the train and the held-out side.

    Package-disjointness holds for speech and noise alike; speaker-disjointness for speech.
    A held-out source whose speakers are also in train (e.g. Asterisk es, which is Allison, put in
    held-out while Asterisk en trains) is exactly the leak this exists to stop.
    """
    names = [s.name for s in sources]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"source names used twice: {', '.join(dup)}")
    package_side: dict[str, tuple[str, str]] = {}
    speaker_side: dict[str, tuple[str, str]] = {}
    for s in sources:
        if s.kind not in ("speech", "noise"):
            raise ValueError(f"{s.name}: kind must be speech or noise, not {s.kind!r}")
        where = side(s.split)
        seen = package_side.setdefault(s.package, (where, s.name))
        if seen[0] != where:
            raise ValueError(f"package {s.package} is in {seen[0]} ({seen[1]}) and {where} ({s.name}); "
                             "a package must stay on one side of the split")
        if s.kind == "speech" and not s.speakers:
            raise ValueError(f"{s.name}: speech source without speaker ids; name its speakers")
        for spk in s.speakers:
            seen = speaker_side.setdefault(spk, (where, s.name))
            if seen[0] != where:
                raise ValueError(f"speaker {spk} is in {seen[0]} ({seen[1]}) and {where} ({s.name}); "
                                 "the same voice must not be both trained on and held out")


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("packages", help="print 'name<TAB>member patterns' for apt-get download + dpkg-deb")
    p.add_argument("--tier", default="full", choices=TIERS)
    p.add_argument("--group", choices=GROUPS)
    c = sub.add_parser("check", help="check the split rules of a tier")
    c.add_argument("--tier", default="full", choices=TIERS)
    args = ap.parse_args(argv)
    t = tier(args.tier)
    if args.cmd == "packages":
        for pkg in t.packages:
            if args.group is None or pkg.group == args.group:
                print(pkg.name + "\t" + " ".join(pkg.members))
    else:
        for s in t.sources:
            print(f"{s.kind:6s} {s.split:10s} {s.name:22s} {s.package}")
        print(f"tier {t.name}: split rules hold", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
