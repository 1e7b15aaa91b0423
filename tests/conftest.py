"""Shared test fixtures: paths to the real published files in ../shared and to our own fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_RAW = Path(os.environ.get("INDICATORS_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))


@pytest.fixture(scope="session")
def shared_raw() -> Path:
    """The real published files (../shared/data/raw); skips when they are not beside the repo."""
    if not SHARED_RAW.is_dir():
        pytest.skip(f"real published files not found at {SHARED_RAW} (set INDICATORS_SHARED_RAW)")
    return SHARED_RAW


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
