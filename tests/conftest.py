"""Shared test fixtures: paths to ../shared (present on developer machines and in CI) and the gre entry point."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE_PR = SHARED / "reference" / "renet_phase_retrieval.pt"

torch.set_num_threads(min(2, torch.get_num_threads()))


def gre_executable() -> str:
    """The installed `gre` console script of this interpreter's environment."""
    exe = Path(sys.executable).parent / "gre"
    if not exe.exists():
        pytest.fail(f"the gre entry point is not installed next to {sys.executable}; run pip install -e .")
    return str(exe)


@pytest.fixture
def one_torch_thread():
    """In-process runs use one torch thread: on a loaded shared machine, 2 spinning OpenMP threads
    make every small op wait for a descheduled partner (10-50x slower, measured).
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def gre() -> str:
    return gre_executable()


def require_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the project checkout)")
    return path
