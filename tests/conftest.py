"""Shared test fixtures: paths to the real published files in ../shared, to our own fixtures, and the synthetic full-coverage warehouse."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_RAW = Path(os.environ.get("INDICATORS_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
# Small cuts of the real files, vendored with their provenance (tests/make_real_cuts.py makes them from ../shared).
REAL_CUTS = FIXTURES / "real_cuts"


def has_shared_raw() -> bool:
    """Whether the whole real files are beside the repository (an empty or missing folder means no)."""
    return SHARED_RAW.is_dir() and any(p.is_dir() for p in SHARED_RAW.iterdir())


@pytest.fixture(scope="session")
def shared_raw() -> Path:
    """The whole real published files (../shared/data/raw); skips when they are not beside the repo.

    Only for tests whose assertions need the whole files (golden values of rows the cuts leave out, every
    area of England); end-to-end builds use `real_raw`, which never skips."""
    if not has_shared_raw():
        pytest.skip(f"the whole real published files are not at {SHARED_RAW} (set INDICATORS_SHARED_RAW); "
                    "the vendored cuts in tests/fixtures/real_cuts cover the end-to-end tests")
    return SHARED_RAW


@pytest.fixture(scope="session")
def real_raw() -> Path:
    """The real published files: the whole set in ../shared/data/raw when it is there, else the vendored cuts."""
    return SHARED_RAW if has_shared_raw() else real_cuts_folder()


def real_cuts_folder() -> Path:
    """The vendored cuts; a missing folder fails the test rather than skipping it."""
    if not (REAL_CUTS / "PROVENANCE.md").is_file():
        pytest.fail(f"the vendored cuts of the real files are missing from {REAL_CUTS} "
                    "(remake them with `uv run python tests/make_real_cuts.py`)")
    return REAL_CUTS


@pytest.fixture(scope="session")
def shared_raw_is_whole() -> bool:
    """True when `real_raw` is the whole set of real files, False when it is the vendored cuts."""
    return has_shared_raw()


@pytest.fixture(scope="session")
def real_cuts() -> Path:
    """The vendored cuts of the real files (tests/fixtures/real_cuts), whether or not ../shared is present."""
    return real_cuts_folder()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@dataclass(frozen=True)
class SyntheticWarehouse:
    """A warehouse built from tests/synthetic_data.py's files: `db` (open it read-only), `raw` (the raw cache it
    was built from), `data` (the generator's SyntheticData: truth, current areas, networks) and the build report."""
    db: Path
    raw: Path
    data: object
    report: object

    @property
    def current(self) -> list[str]:
        """Every current upper-tier area code of the geography used (153 with ../shared)."""
        return self.data.current

    @property
    def full_geography(self) -> bool:
        """True when the area list is the whole of England's (the real boundary file from ../shared)."""
        return self.data.full_geography


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory) -> SyntheticWarehouse:
    """The full-coverage synthetic warehouse, built once per session (marked synthetic in published.build_info).

    Its areas come from the real boundary and lookup files: every current upper-tier area of England with
    ../shared/data/raw, the 13 areas of the vendored cuts without it (`full_geography` says which).
    """
    import synthetic_data

    from indicators.pipeline.build import build

    root = tmp_path_factory.mktemp("synthetic")
    data = synthetic_data.generate(root / "raw", SHARED_RAW if has_shared_raw() else real_cuts_folder())
    report = build(root / "raw", root / "warehouse.duckdb")
    return SyntheticWarehouse(db=root / "warehouse.duckdb", raw=root / "raw", data=data, report=report)


@pytest.fixture(scope="session")
def real_warehouse(real_raw, tmp_path_factory) -> Path:
    """A warehouse built once per session from `real_raw` (the whole real files, or the vendored cuts); open it
    read-only."""
    from indicators.pipeline.build import build

    db = tmp_path_factory.mktemp("real_warehouse") / "warehouse.duckdb"
    build(real_raw, db)
    return db
