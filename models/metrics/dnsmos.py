"""Non-intrusive DNSMOS (P.835 SIG/BAK/OVRL and P.808 MOS) from the ONNX models the `speechmos`
package ships (optional extra ``gre[dnsmos]``: speechmos, onnxruntime, librosa).

Scores the estimate alone at 16 kHz over 9.01 s windows hopped by 1 s (shorter clips are tiled),
as Microsoft's dnsmos_local.py does. Each process loads the two ONNX sessions once, with one
intra-op thread, because evaluation already runs one process per core.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.metrics.base import MetricError, finite

DNSMOS_RATE_HZ = 16_000
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
_KEYS = {"dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_ovrl": "ovrl_mos", "dnsmos_p808": "p808_mos"}
INSTALL_HINT = "pip install 'gre[dnsmos]' (speechmos, onnxruntime, librosa)"


def dnsmos_available() -> bool:
    """True when speechmos and onnxruntime can be imported (without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("speechmos", "onnxruntime", "librosa"))


def prepare() -> None:
    """Import speechmos and run its feature extraction once (librosa's first call takes seconds), so
    that worker processes forked afterwards start ready. The ONNX sessions stay per process."""
    if dnsmos_available():
        import librosa
        import speechmos.dnsmos  # noqa: F401

        # the P.808 model's input features (speechmos DNSMOS.audio_melspec)
        librosa.feature.melspectrogram(y=np.zeros(DNSMOS_RATE_HZ, dtype=np.float32), sr=DNSMOS_RATE_HZ,
                                       n_fft=321, hop_length=160, n_mels=120)


@lru_cache(maxsize=1)
def _scorer():
    import onnxruntime as ort
    from speechmos import dnsmos as sm

    models = Path(sm.__file__).resolve().parent / "dnsmos_models"
    scorer = sm.DNSMOS(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    scorer.onnx_sess = ort.InferenceSession(str(models / "sig_bak_ovr.onnx"), options, providers=providers)
    scorer.p808_onnx_sess = ort.InferenceSession(str(models / "model_v8.onnx"), options, providers=providers)
    return scorer


def dnsmos_scores(est: np.ndarray, sample_rate_hz: int = DNSMOS_RATE_HZ,
                  want: tuple[str, ...] = DNSMOS_METRICS) -> dict[str, float]:
    """{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"} of ``est`` ([N] at 16 kHz)."""
    if sample_rate_hz != DNSMOS_RATE_HZ:
        raise ValueError(f"DNSMOS is computed at {DNSMOS_RATE_HZ} Hz, got {sample_rate_hz} Hz")
    if not dnsmos_available():
        raise MetricError(f"DNSMOS needs the dnsmos extra: {INSTALL_HINT}")
    if est.ndim != 1 or est.size < DNSMOS_RATE_HZ // 4:
        raise MetricError(f"too short for DNSMOS ({est.size} samples)")
    if not np.any(est):
        raise MetricError("estimate is silent (DNSMOS undefined)")
    # The models expect full-scale floats; PCM files are already inside [-1, 1].
    audio = np.clip(est, -1.0, 1.0).astype(np.float64)
    result = _scorer()(audio, DNSMOS_RATE_HZ, False)
    return {name: finite(result[_KEYS[name]], name) for name in want}
