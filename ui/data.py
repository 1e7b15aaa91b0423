"""Cached, read-only access to the warehouse for the Streamlit pages; depends on streamlit and indicators.products.queries.

A rebuild swaps a new warehouse file in while the dashboard runs, and new sessions must see it without a
restart. Each version of the file (device, inode, size, modification time) is read through a snapshot of
its own: a read-only DuckDB instance opened on the file that was at the path when the version was first
seen (queries.connect_snapshot; a plain duckdb.connect would hand back the instance already open on the
old file). Each script run's Warehouse holds a lease on its snapshot, so a run, or a download made later
from its page, reads one build to the end; a snapshot is closed once a newer version is open and no
Warehouse refers to it any more (the old file's disk space is then freed). Each query runs on its own
cursor (thread safety across sessions) and its result is a st.cache_data keyed by the warehouse path,
its modification time, its build id and the query's parameters.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import streamlit as st

from indicators.config import default_db_path
from indicators.errors import WarehouseMissing
from indicators.present.text import is_missing
from indicators.products import queries

# The query-layer functions pages may call through `Warehouse.q` (a fixed list: names never come from input).
QUERIES = frozenset({
    "indicators", "indicator_periods", "upper_tier_areas", "area", "map_values", "map_geojson",
    "benchmark_value", "area_profile", "peer_groups", "league_table", "gap_summary", "funnel_data",
    "balance_values", "balance_view", "peer_comparison", "trend_series", "sources_by_publisher", "source_summary",
    "indicator_summary", "coverage", "build_warnings",
    "build_info", "table_exists", "families", "availability_matrix", "odn_values_for_area", "local_values",
    "areas_to_ask", "fetch_status", "fetch_notice", "minimums", "group_comparison", "gap_over_time",
    "place_names", "postcodes_loaded", "find_area", "comparator_rows",
    "deprivation_deciles", "scorecard",
})


def _version(path: str) -> tuple[int, int, int, int]:
    """What tells one version of the file from another: a rebuild is a new file (new inode), an import
    rewrites it in place (new size or modification time)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


class _Snapshot:
    """One version of the warehouse file, open read-only in a DuckDB instance of its own."""

    def __init__(self, path: str, version: tuple[int, int, int, int]) -> None:
        self.path, self.version, self.mtime_ns = path, version, version[3]
        self.con = queries.connect_snapshot(Path(path))
        self._lock = threading.Lock()
        self._leases = 0
        self._retired = False
        self.closed = False

    def lease(self) -> None:
        with self._lock:
            self._leases += 1

    def release(self) -> None:
        with self._lock:
            self._leases -= 1
            self._close_if_unused()

    def retire(self) -> None:
        """A newer version is open: close as soon as nothing refers to this one."""
        with self._lock:
            self._retired = True
            self._close_if_unused()

    def _close_if_unused(self) -> None:
        if self._retired and self._leases <= 0 and not self.closed:
            self.closed = True
            self.con.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self.closed:  # only a caller without a lease (a bug) can get here
                raise RuntimeError(f"the snapshot of {self.path} read by this run was closed")
            return queries.snapshot_cursor(self.con)


class _Snapshots:
    """The current snapshot of each warehouse path, opened anew when the file at the path changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, _Snapshot] = {}

    def lease_current(self, path: str) -> _Snapshot:
        """The snapshot of the file now at `path`, leased to the caller (who must release it); raises
        OSError when there is no file and WarehouseMissing when it is not a warehouse."""
        with self._lock:
            version = _version(path)
            snapshot = self._current.get(path)
            if snapshot is None or snapshot.version != version:
                fresh = self._open(path, version)
                if snapshot is not None:
                    snapshot.retire()
                self._current[path] = snapshot = fresh
            snapshot.lease()
            return snapshot

    @staticmethod
    def _open(path: str, version: tuple[int, int, int, int]) -> _Snapshot:
        # The file may be swapped between the stat and the open: the snapshot is labelled with the version
        # that was at the path both before and after it was opened.
        for _ in range(5):
            snapshot = _Snapshot(path, version)
            now = _version(path)
            if now == version:
                return snapshot
            snapshot.retire()
            version = now
        raise WarehouseMissing(f"{path} keeps changing while it is opened; reload the page in a moment")


_SNAPSHOTS = _Snapshots()


def _read(snapshot: _Snapshot, func, *args, **kwargs):
    """`func(cursor, *args, **kwargs)` on its own cursor of the snapshot."""
    cursor = snapshot.cursor()
    try:
        return func(cursor, *args, **kwargs)
    finally:
        cursor.close()


@st.cache_data(show_spinner=False, max_entries=512)
def _run(path: str, mtime_ns: int, build_id: str, name: str, args: tuple, _snapshot: _Snapshot):
    return _read(_snapshot, getattr(queries, name), *args)


@st.cache_resource(show_spinner=False, max_entries=4)
def _projected(path: str, mtime_ns: int, build_id: str, _snapshot: _Snapshot):
    """The map's boundaries projected to SVG paths, once per build (indicators.present.mapview.project)."""
    from indicators.present import mapview

    return mapview.project(_run(path, mtime_ns, build_id, "map_geojson", (), _snapshot))


@st.cache_resource(show_spinner=False, max_entries=96)
def _map_view(path: str, mtime_ns: int, build_id: str, indicator_id: str, period: str, colour: str,
              highlight: str | None, link_params: tuple, _snapshot: _Snapshot):
    # Shared between sessions (not copied): callers treat the result as read-only.
    from urllib.parse import urlencode

    from indicators.present import mapview

    catalogue = _run(path, mtime_ns, build_id, "indicators", (), _snapshot)
    rows = catalogue[catalogue["indicator_id"] == indicator_id]
    meta = rows.iloc[0].to_dict() if len(rows) else {}
    values = _run(path, mtime_ns, build_id, "map_values", (indicator_id, period), _snapshot)
    base = dict(link_params)

    def href(code: str) -> str:
        return "area?" + urlencode({**base, "area": code})

    return mapview.map_view(values, meta, indicator_id, period, colour,
                            _projected(path, mtime_ns, build_id, _snapshot), href, highlight)


@st.cache_data(show_spinner=False, max_entries=256)
def _citation(path: str, mtime_ns: int, build_id: str, page_title: str, link: str, day: str,
              _snapshot: _Snapshot) -> str:
    from indicators.products import downloads

    return _read(_snapshot, downloads.citation, page_title, link, accessed=date.fromisoformat(day))


@dataclass(frozen=True)
class Warehouse:
    """One script run's view of the warehouse: one version of the file, read to the end of the run (and by
    the downloads its page offers) even if a rebuild swaps a new file in meanwhile."""
    path: str
    mtime_ns: int
    build_id: str
    build: dict
    _snapshot: _Snapshot = field(repr=False, compare=False)

    def q(self, name: str, *args):
        """Run the query-layer function `name` with `args` (cached per build)."""
        if name not in QUERIES:
            raise ValueError(f"not a dashboard query: {name}")
        return _run(self.path, self.mtime_ns, self.build_id, name, tuple(args), self._snapshot)

    def map_view(self, indicator_id: str, period: str, colour: str, highlight: str | None,
                 link_params: dict[str, str]):
        """The map's table, legend and SVG (cached per build and view; treat as read-only). Each area links
        to its profile with `link_params` and its own code as `area`."""
        params = tuple(sorted((k, str(v)) for k, v in link_params.items() if k != "area"))
        return _map_view(self.path, self.mtime_ns, self.build_id, indicator_id, period, colour, highlight, params,
                         self._snapshot)

    def metadata(self, indicator_ids: list[str], link: str) -> bytes:
        """indicators.products.downloads.view_metadata of a view (made when the button is pressed; its reads go
        through indicators.products.queries)."""
        from indicators.products import downloads

        return _read(self._snapshot, downloads.view_metadata, indicator_ids, link)

    def export_tables(self) -> tuple[str, ...]:
        """The tables the whole-dataset zip holds (indicators.products.downloads.export_tables)."""
        from indicators.products import downloads

        return _read(self._snapshot, downloads.export_tables)

    def bulk_zip(self, indicator: str | None = None) -> bytes:
        """The whole dataset, or one indicator, as a zip of CSV files with its README (downloads.bulk_zip; made
        when the button is pressed, from this run's version of the warehouse)."""
        from indicators.products import downloads

        return _read(self._snapshot, downloads.bulk_zip, indicator=indicator)

    def bulk_parquet_zip(self) -> bytes:
        """The whole dataset as Parquet files with the README, zipped (downloads.bulk_parquet_zip)."""
        from indicators.products import downloads

        return _read(self._snapshot, downloads.bulk_parquet_zip)

    def citation(self, page_title: str, link: str) -> str:
        """indicators.products.downloads.citation of a view, accessed today (cached per build, view and day)."""
        return _citation(self.path, self.mtime_ns, self.build_id, page_title, link, date.today().isoformat(),
                         self._snapshot)


def open_warehouse() -> tuple[Warehouse | None, str | None]:
    """The warehouse named by INDICATORS_DB (default data/warehouse.duckdb), or None and why not.

    One stat() per run; a snapshot is opened, and the build's facts read, once per version of the file."""
    path = str(Path(default_db_path()))
    try:
        snapshot = _SNAPSHOTS.lease_current(path)
    except OSError:
        return None, f"There is no data warehouse at `{path}` yet."
    except WarehouseMissing as exc:
        return None, str(exc)
    try:
        build, problem = _build_info(path, snapshot.version, snapshot)
    except BaseException:
        snapshot.release()
        raise
    if problem is not None:
        snapshot.release()
        return None, problem
    wh = Warehouse(path, snapshot.mtime_ns, str(build.get("build_id") or "unknown"), build, snapshot)
    weakref.finalize(wh, snapshot.release)
    return wh, None


@st.cache_resource(show_spinner=False, max_entries=4)
def _build_info(path: str, version: tuple, _snapshot: _Snapshot) -> tuple[dict, str | None]:
    try:
        build = _read(_snapshot, queries.build_info)
    except duckdb.Error as exc:
        return {}, f"`{path}` is not a warehouse built by `indicators build` ({type(exc).__name__})."
    return {k: (None if is_missing(v) else v) for k, v in build.items()} if build else {}, None
