"""Room impulse responses: read from a folder, or simulated with pyroomacoustics (train extra)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.files import AudioFile, read_mono

#: RIRs longer than this are cut (the tail beyond ~1.5 s carries no useful energy at 16 kHz).
MAX_RIR_SECONDS = 1.5


@dataclass(frozen=True)
class RoomSimConfig:
    """Shoebox rooms drawn uniformly; absorption from the RT60 by Sabine's formula."""

    count: int = 200
    rt60_range_s: tuple[float, float] = (0.2, 1.0)
    length_range_m: tuple[float, float] = (3.0, 10.0)
    width_range_m: tuple[float, float] = (3.0, 8.0)
    height_range_m: tuple[float, float] = (2.5, 4.0)
    max_image_order: int = 17


def load_rirs(files: list[AudioFile], sample_rate_hz: int) -> list[np.ndarray]:
    """Read RIR files fully (mono, float32), trimmed to ``MAX_RIR_SECONDS`` after the peak."""
    out = []
    for f in files:
        h = read_mono(f.path, sample_rate_hz)
        peak = int(np.argmax(np.abs(h)))
        out.append(h[:peak + int(MAX_RIR_SECONDS * sample_rate_hz)].astype(np.float32))
    return out


def simulate_rirs(cfg: RoomSimConfig, sample_rate_hz: int, seed: int) -> list[np.ndarray]:
    """``cfg.count`` simulated RIRs (deterministic for a seed). Needs pyroomacoustics."""
    try:
        import pyroomacoustics as pra
    except ModuleNotFoundError:
        raise RuntimeError("no --rir folder given and pyroomacoustics is not installed; pass --rir DIR or "
                           "pip install 'gre[train]'") from None
    rng = np.random.default_rng([seed, 7_919])
    out = []
    while len(out) < cfg.count:
        dims = np.array([rng.uniform(*cfg.length_range_m), rng.uniform(*cfg.width_range_m),
                         rng.uniform(*cfg.height_range_m)])
        rt60 = rng.uniform(*cfg.rt60_range_s)
        try:
            absorption, order = pra.inverse_sabine(rt60, dims)
        except ValueError:  # the room is too small for this RT60
            continue
        room = pra.ShoeBox(dims, fs=sample_rate_hz, materials=pra.Material(absorption),
                           max_order=min(order, cfg.max_image_order))
        margin = 0.5
        src = [rng.uniform(margin, d - margin) for d in dims]
        mic = [rng.uniform(margin, d - margin) for d in dims]
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float32)
        peak = int(np.argmax(np.abs(h)))
        out.append(h[:peak + int(MAX_RIR_SECONDS * sample_rate_hz)])
    return out


def cached_simulated_rirs(cache: Path | None, cfg: RoomSimConfig, sample_rate_hz: int,
                          seed: int) -> list[np.ndarray]:
    """:func:`simulate_rirs`, kept in ``cache`` (.npz) so a resumed run uses the same rooms."""
    if cache is not None and cache.is_file():
        with np.load(cache) as data:
            return [data[k] for k in sorted(data.files, key=lambda k: int(k[4:]))]
    rirs = simulate_rirs(cfg, sample_rate_hz, seed)
    if cache is not None:
        tmp = cache.with_name(f".{cache.stem}.tmp.npz")
        np.savez(tmp, **{f"rir_{i}": h for i, h in enumerate(rirs)})
        tmp.replace(cache)
    return rirs
