"""`gre evaluate` reproduces the score table of ../shared/eval/README.md to its printed precision."""
from __future__ import annotations

import re

import pytest

from conftest import require_shared
from models.evaluate import evaluate

COLUMNS = {"PESQ": ("pesq_wb", 3), "STOI": ("stoi", 3), "SI-SDR": ("si_sdr", 2)}


def _tables(text: str) -> list[list[list[str]]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r"-+", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _readme():
    root = require_shared("eval")
    layout, scores = _tables((root / "README.md").read_text())[:2]
    reference = {row[0]: row[2] for row in layout[1:]}
    expected: dict[str, dict[str, dict[str, str]]] = {}
    header = scores[0]
    for row in scores[1:]:
        expected.setdefault(row[0], {})[row[1]] = {COLUMNS[h][0]: row[i] for i, h in enumerate(header) if h in COLUMNS}
    return root, reference, expected


SETS = ["vbd", "vbd-snr", "dns", "reverb", "bwe-4k", "bwe-8k"]


@pytest.mark.parametrize("name", SETS)
def test_reproduces_readme_table(name):
    root, reference, expected = _readme()
    systems = expected[name]
    result = evaluate(root / name / reference[name], [root / name / s for s in systems],
                      metrics="pesq_wb,stoi,si_sdr", jobs=2)
    for system, printed in systems.items():
        summary = result.systems[system]
        assert summary.failed == 0 and not summary.missing
        for metric, text in printed.items():
            decimals = len(text.split(".")[1])
            assert f"{summary.mean[metric]:.{decimals}f}" == text, (name, system, metric)
