"""models.evaluate: pairing, every edge case as a recorded failure, JSON/CSV schema, jobs equality, oracle, align."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from models.evaluate import EvaluationError, evaluate, mean_ci95
from test_metrics_signals import RATE, speechlike, white_noise_at_snr, write

FAST = "pesq_wb,pesq_nb,stoi,estoi,si_sdr,snr,csig,cbak,covl,pd,wopd,lsd,lsd_hb"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """ref/ and two systems with every awkward case the issue lists."""
    root = tmp_path_factory.mktemp("eval")
    good = {f"spk{i}/utt{i}": speechlike(1.2 + 0.1 * i, seed=i) for i in range(3)}
    for key, x in good.items():
        write(root / "ref" / f"{key}.wav", x)
        write(root / "sysA" / f"{key}.wav", x + white_noise_at_snr(x, 5.0, seed=len(key)))
        write(root / "sysB" / f"{key}.flac", 0.8 * x + white_noise_at_snr(x, 15.0, seed=3), subtype="PCM_16")
        write(root / "noisy" / f"{key}.wav", x + white_noise_at_snr(x, 0.0, seed=9))
    x = speechlike(1.0, seed=20)
    write(root / "ref" / "silent_ref.wav", np.zeros(RATE))
    write(root / "sysA" / "silent_ref.wav", x)
    write(root / "ref" / "short.wav", x[:3200])  # 0.2 s
    write(root / "sysA" / "short.wav", x[:3200])
    write(root / "ref" / "zero_est.wav", x)
    write(root / "sysA" / "zero_est.wav", np.zeros(RATE))
    write(root / "ref" / "length.wav", x)
    write(root / "sysA" / "length.wav", x[:-1234] + white_noise_at_snr(x[:-1234], 10.0))
    with_nan = x.copy()
    with_nan[100] = np.nan
    write(root / "ref" / "nan.wav", x)
    write(root / "sysA" / "nan.wav", with_nan, subtype="FLOAT")
    write(root / "ref" / "broken.wav", x)
    (root / "sysA" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    write(root / "ref" / "only_ref.wav", x)
    write(root / "sysA" / "only_est.wav", x)
    return root


@pytest.fixture(scope="module")
def result(tree):
    return evaluate(tree / "ref", [tree / "sysA", tree / "sysB"], metrics=FAST, jobs=1)


def _row(result, system, key):
    return next(r for r in result.files if r.system == system and r.file == key)


def test_pairing_lists_missing_and_extra(result):
    a, b = result.systems["sysA"], result.systems["sysB"]
    assert a.missing == ["only_ref"] and a.extra == ["only_est"]
    assert "spk0/utt0" not in b.missing and len(b.missing) == 7  # flac paired by stem
    assert b.n == 3 and b.failed == 0
    assert a.n == 9


def test_good_files_have_every_metric(result):
    for key in ("spk0/utt0", "spk1/utt1", "spk2/utt2", "length"):
        row = _row(result, "sysA", key)
        assert not row.errors, row.errors
        assert all(isinstance(row.values[m], float) for m in result.metrics)


@pytest.mark.parametrize("key, metric, reason", [
    ("silent_ref", "pesq_wb", "NoUtterancesError"),
    ("silent_ref", "stoi", "reference is silent"),
    ("silent_ref", "si_sdr", "reference is silent"),
    ("short", "pesq_wb", "BufferTooShortError"),
    ("short", "stoi", "too little speech"),
    ("short", "csig", "BufferTooShortError"),
    ("zero_est", "pesq_wb", "estimate is silent"),
    ("zero_est", "si_sdr", "estimate is silent"),
    ("nan", "pesq_wb", "NaN"),
    ("nan", "lsd", "NaN"),
    ("broken", "stoi", "cannot read estimate"),
])
def test_edge_cases_are_recorded_failures(result, key, metric, reason):
    row = _row(result, "sysA", key)
    assert row.values[metric] is None
    assert reason in row.errors[metric]


def test_edge_cases_keep_what_is_defined(result):
    assert isinstance(_row(result, "sysA", "short").values["si_sdr"], float)
    assert _row(result, "sysA", "zero_est").values["snr"] == pytest.approx(0.0, abs=1e-9)


def test_summary_counts_failures_with_reasons(result):
    a = result.systems["sysA"]
    assert a.failed == 5  # silent_ref, short, zero_est, nan, broken
    assert sum(a.failures["pesq_wb"].values()) == 5
    assert any("NoUtterancesError" in reason for reason in a.failures["pesq_wb"])
    good = [r.values["pesq_wb"] for r in result.files if r.system == "sysA" and r.values["pesq_wb"] is not None]
    assert a.mean["pesq_wb"] == pytest.approx(np.mean(good))
    assert result.any_failure


def test_json_schema(result, tmp_path):
    path = tmp_path / "scores.json"
    result.write_json(path)
    data = json.loads(path.read_text())
    assert set(data["systems"]) == {"sysA", "sysB"}
    for summary in data["systems"].values():
        assert isinstance(summary["n"], int) and isinstance(summary["failed"], int)
        assert set(summary["mean"]) == set(result.metrics) == set(summary["ci95"])
        assert all(v is None or isinstance(v, float) for v in summary["mean"].values())
    for row in data["files"]:
        assert {"system", "file", *result.metrics} <= set(row)
    broken = next(r for r in data["files"] if r["file"] == "broken")
    assert broken["pesq_wb"] is None and "cannot read" in broken["errors"]["pesq_wb"]


def test_csv_rows(result, tmp_path):
    path = tmp_path / "scores.csv"
    result.write_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(result.files) == 12
    good = next(r for r in rows if r["system"] == "sysB" and r["file"] == "spk1/utt1")
    assert float(good["pesq_wb"]) == _row(result, "sysB", "spk1/utt1").values["pesq_wb"]  # repr round-trips
    assert next(r for r in rows if r["file"] == "nan")["pesq_wb"] == ""


def test_jobs_2_equals_jobs_1(tree, result):
    parallel = evaluate(tree / "ref", [tree / "sysA", tree / "sysB"], metrics=FAST, jobs=2)
    assert parallel.to_dict() == result.to_dict()


def test_oracle_masks_as_systems(tree):
    res = evaluate(tree / "ref", [tree / "sysA"], tree / "noisy", metrics="pesq_wb,si_sdr,pd", jobs=1, oracle=True)
    names = list(res.systems)
    assert names == ["sysA", "oracle_ibm", "oracle_irm", "oracle_iam", "oracle_psm", "oracle_cirm", "oracle_orm"]
    cirm, irm, ibm = (res.systems[f"oracle_{k}"] for k in ("cirm", "irm", "ibm"))
    assert cirm.n == 3 and cirm.failed == 0
    assert cirm.mean["si_sdr"] > 40 and cirm.mean["pd"] < 0.5  # near-perfect reconstruction
    assert irm.mean["pesq_wb"] > res.systems["sysA"].mean["pesq_wb"]
    assert ibm.mean["pd"] > 1.0  # real masks keep the noisy phase
    assert len(res.systems["oracle_ibm"].missing) == 7


def test_align_removes_a_constant_delay(tmp_path):
    x = speechlike(1.5, seed=30)
    write(tmp_path / "ref" / "a.wav", x)
    write(tmp_path / "late" / "a.wav", np.concatenate([np.zeros(320), x]))  # 20 ms late
    plain = evaluate(tmp_path / "ref", [tmp_path / "late"], metrics="si_sdr", jobs=1)
    aligned = evaluate(tmp_path / "ref", [tmp_path / "late"], metrics="si_sdr", jobs=1, align=True)
    assert plain.systems["late"].mean["si_sdr"] < 0
    assert aligned.systems["late"].mean["si_sdr"] > 40
    assert aligned.files[0].delay_ms == pytest.approx(20.0)


def test_other_sample_rates_are_resampled(tmp_path):
    x = speechlike(1.5, seed=31)
    write(tmp_path / "ref" / "a.wav", x)
    import soxr

    write(tmp_path / "sys48" / "a.wav", soxr.resample(x, RATE, 48_000), rate=48_000)
    res = evaluate(tmp_path / "ref", [tmp_path / "sys48"], metrics="pesq_wb,si_sdr", jobs=1)
    assert res.systems["sys48"].mean["si_sdr"] > 30 and res.systems["sys48"].mean["pesq_wb"] > 4.4


def test_usage_errors(tree):
    with pytest.raises(EvaluationError, match="needs --degraded"):
        evaluate(tree / "ref", [tree / "sysA"], oracle=True)
    with pytest.raises(EvaluationError, match="unknown metric"):
        evaluate(tree / "ref", [tree / "sysA"], metrics="pesq,mosnet")
    with pytest.raises(EvaluationError, match="does not exist"):
        evaluate(tree / "nope", [tree / "sysA"])


def test_mean_ci95_matches_student_t():
    mean, ci = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert ci == pytest.approx(3.182446305284263 * np.std([1, 2, 3, 4], ddof=1) / 2)  # t(0.975, 3)
    assert mean_ci95([5.0]) == (5.0, None) and mean_ci95([]) == (None, None)
