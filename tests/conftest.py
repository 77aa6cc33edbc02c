"""Shared fixtures. Real data lives in ../shared/data (or $LEVELSET_DATA); tests that
need it skip with a reason when it is absent (a user's fresh clone has none)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The GUI's recovery copies (app/autosave.py) go to a scratch folder during tests, never
# into the user's app-data folder (subprocesses inherit it).
os.environ.setdefault("LEVELSET_STUDIO_RECOVERY", tempfile.mkdtemp(prefix="levelset-test-recovery-"))


def shared_data_dir() -> Path | None:
    env = os.environ.get("LEVELSET_DATA")
    cand = Path(env) if env else ROOT.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("real data not found: set LEVELSET_DATA or place it at ../shared/data")
    return d


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of tiny tensors: on a shared, oversubscribed 2-core
    machine two OpenMP threads were measured ~5x slower per step than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
