"""ui.data in one long-running process while the warehouse is rebuilt in place: new runs read the new file,
a run that began on the old one reads the old one to its end, and the old file is closed once unused."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from conftest import REPO
from streamlit.testing.v1 import AppTest
from support import make_warehouse

from ui import data


def _swap_in(db: Path, build_id: str) -> None:
    """What `indicators build` does: a new file written beside the warehouse, then renamed over it."""
    tmp = db.with_name(f".{db.name}.new")
    make_warehouse(tmp, build_id=build_id)
    os.replace(tmp, db)


def _open_deleted_files() -> list[str]:
    """Files this process holds open that were deleted (the old warehouse after a swap, while it is open)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [t for t in targets if t.endswith("(deleted)")]


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = make_warehouse(tmp_path / "warehouse.duckdb", build_id="20261101-aaaaaaaaaa")
    monkeypatch.setenv("INDICATORS_DB", str(path))
    return path


def test_a_new_run_reads_the_rebuilt_file_and_the_old_one_is_closed_when_unused(db):
    old, problem = data.open_warehouse()
    assert problem is None and old.build_id == "20261101-aaaaaaaaaa"
    assert old.q("build_info")["build_id"] == "20261101-aaaaaaaaaa"

    _swap_in(db, "20261101-bbbbbbbbbb")
    new, problem = data.open_warehouse()
    assert problem is None and new.build_id == "20261101-bbbbbbbbbb"
    assert new.q("build_info")["build_id"] == "20261101-bbbbbbbbbb"
    # The run that began before the swap still reads the build it started with, query caches included.
    assert old.q("build_info")["build_id"] == "20261101-aaaaaaaaaa"
    # and so does a read that no cache answers, on the old run's own snapshot
    assert data._read(old._snapshot, lambda cursor: cursor.execute("SELECT build_id FROM published.build_info")
                      .fetchall()) == [("20261101-aaaaaaaaaa",)]
    assert any(str(db) in t for t in _open_deleted_files())

    snapshot = old._snapshot
    del old
    gc.collect()
    assert snapshot.closed
    assert not any(str(db) in t for t in _open_deleted_files())
    # The current one stays open for the runs to come.
    assert not new._snapshot.closed
    again, _ = data.open_warehouse()
    assert again._snapshot is new._snapshot


def test_an_unchanged_file_is_opened_once(db):
    first, _ = data.open_warehouse()
    second, _ = data.open_warehouse()
    assert first._snapshot is second._snapshot
    del first
    gc.collect()
    assert not second._snapshot.closed


def test_a_file_that_is_not_a_warehouse_is_reported(tmp_path, monkeypatch):
    bogus = tmp_path / "not.duckdb"
    bogus.write_bytes(b"not a database")
    monkeypatch.setenv("INDICATORS_DB", str(bogus))
    wh, problem = data.open_warehouse()
    assert wh is None and "not a warehouse" in problem and str(bogus) in problem


def test_the_dashboard_shows_the_rebuilt_warehouse_in_a_new_session(db):
    def footer() -> str:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60).run()
        assert not at.exception
        return " ".join(m.value.replace("\\", "") for m in at.markdown if "Data build" in m.value)

    assert "20261101-aaaaaaaaaa" in footer()
    _swap_in(db, "20261101-bbbbbbbbbb")
    assert "20261101-bbbbbbbbbb" in footer()
