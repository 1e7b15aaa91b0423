"""Cached, read-only access to the warehouse for the Streamlit pages; depends on streamlit and indicators.queries.

The connection is a st.cache_resource (one read-only DuckDB connection per warehouse file and
modification time, so a rebuilt warehouse gets a new one); each query runs on its own cursor
(thread safety across sessions) and its result is a st.cache_data keyed by the warehouse path,
its build id and the query's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import streamlit as st

from indicators import queries
from indicators.config import default_db_path
from indicators.errors import WarehouseMissing
from indicators.text import is_missing

# The query-layer functions pages may call through `Warehouse.q` (a fixed list: names never come from input).
QUERIES = frozenset({
    "indicators", "indicator_periods", "upper_tier_areas", "area", "map_values", "map_geojson",
    "benchmark_value", "area_profile", "peer_groups", "league_table", "gap_summary", "funnel_data",
    "balance_values", "balance_view", "peer_comparison", "trend_series", "sources_by_publisher", "source_summary",
    "indicator_summary",
    "build_info", "table_exists",
})


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str, mtime_ns: int) -> duckdb.DuckDBPyConnection:
    return queries.connect(Path(path))


@st.cache_data(show_spinner=False, max_entries=512)
def _run(path: str, mtime_ns: int, build_id: str, name: str, args: tuple):
    cursor = _connection(path, mtime_ns).cursor()
    try:
        return getattr(queries, name)(cursor, *args)
    finally:
        cursor.close()


@dataclass(frozen=True)
class Warehouse:
    path: str
    mtime_ns: int
    build_id: str
    build: dict

    def q(self, name: str, *args):
        """Run the query-layer function `name` with `args` (cached per build)."""
        if name not in QUERIES:
            raise ValueError(f"not a dashboard query: {name}")
        return _run(self.path, self.mtime_ns, self.build_id, name, tuple(args))

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The shared read-only connection; call .cursor() on it before use from another thread."""
        return _connection(self.path, self.mtime_ns)


def open_warehouse() -> tuple[Warehouse | None, str | None]:
    """The warehouse named by INDICATORS_DB (default data/warehouse.duckdb), or None and why not."""
    path = Path(default_db_path())
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        return None, f"There is no data warehouse at `{path}` yet."
    try:
        cursor = _connection(str(path), mtime_ns).cursor()
    except WarehouseMissing as exc:
        return None, str(exc)
    try:
        build = queries.build_info(cursor)
    except duckdb.Error as exc:
        return None, f"`{path}` is not a warehouse built by `indicators build` ({type(exc).__name__})."
    finally:
        cursor.close()
    build = {k: (None if is_missing(v) else v) for k, v in build.items()} if build else {}
    return Warehouse(str(path), mtime_ns, str(build.get("build_id") or "unknown"), build), None
