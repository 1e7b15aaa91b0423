"""Cached, read-only access to the warehouse for the Streamlit pages; depends on streamlit and indicators.products.queries.

The connection is a st.cache_resource (one read-only DuckDB connection per warehouse file and
modification time, so a rebuilt warehouse gets a new one); each query runs on its own cursor
(thread safety across sessions) and its result is a st.cache_data keyed by the warehouse path,
its build id and the query's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    "indicator_summary",
    "build_info", "table_exists",
})


@st.cache_resource(show_spinner=False, max_entries=4)
def _connection(path: str, mtime_ns: int) -> duckdb.DuckDBPyConnection:
    return queries.connect(Path(path))


def _read(path: str, mtime_ns: int, func, *args, **kwargs):
    """`func(cursor, *args, **kwargs)` on its own cursor of the shared connection."""
    cursor = _connection(path, mtime_ns).cursor()
    try:
        return func(cursor, *args, **kwargs)
    finally:
        cursor.close()


@st.cache_data(show_spinner=False, max_entries=512)
def _run(path: str, mtime_ns: int, build_id: str, name: str, args: tuple):
    return _read(path, mtime_ns, getattr(queries, name), *args)


@st.cache_resource(show_spinner=False, max_entries=4)
def _projected(path: str, mtime_ns: int, build_id: str):
    """The map's boundaries projected to SVG paths, once per build: all areas, and London's boroughs on their own."""
    from indicators.present import svgmap
    from indicators.present.charts import LONDON_PREFIX

    geojson = _run(path, mtime_ns, build_id, "map_geojson", ())
    codes = [f["properties"]["area_code"] for f in geojson["features"]]
    return (svgmap.map_paths(geojson),
            svgmap.map_paths(geojson, [c for c in codes if str(c).startswith(LONDON_PREFIX)]))


@st.cache_resource(show_spinner=False, max_entries=96)
def _map_view(path: str, mtime_ns: int, build_id: str, indicator_id: str, period: str, colour: str,
              highlight: str | None, link_params: tuple) -> MapView:
    # Shared between sessions (not copied): callers treat the result as read-only.
    from urllib.parse import urlencode

    from indicators.present import charts, svgmap

    catalogue = _run(path, mtime_ns, build_id, "indicators", ())
    rows = catalogue[catalogue["indicator_id"] == indicator_id]
    meta = rows.iloc[0].to_dict() if len(rows) else {}
    values = _run(path, mtime_ns, build_id, "map_values", (indicator_id, period))
    table, legend = charts.map_frame(values, meta, colour, period)
    england, london = _projected(path, mtime_ns, build_id)
    base = dict(link_params)

    def href(code: str) -> str:
        return "area?" + urlencode({**base, "area": code})

    def describe(row) -> list[str]:
        return charts.hover_lines(row, meta)

    from indicators.present.text import period_display

    title = f"Map of {meta.get('title', indicator_id)}, {period_display(period)}, upper-tier local authorities in England"
    main = svgmap.svg_map(table, england, title=title, describe=describe, href=href, highlight=highlight,
                          css_class="ind-map-main")
    in_london = table[table["area_code"].isin(london.paths)]
    inset = (svgmap.svg_map(in_london, london, title="London boroughs, enlarged", describe=describe, href=href,
                            highlight=highlight, css_class="ind-map-london") if len(in_london) else None)
    counts = table["colour_class"].value_counts().to_dict()
    return MapView(values, table, legend, main, inset, svgmap.legend_html(legend, counts), title)


@st.cache_data(show_spinner=False, max_entries=256)
def _citation(path: str, mtime_ns: int, build_id: str, page_title: str, link: str, day: str) -> str:
    from indicators.products import downloads

    return _read(path, mtime_ns, downloads.citation, page_title, link, accessed=date.fromisoformat(day))


@dataclass(frozen=True)
class MapView:
    """The home map of one view: its data, legend and SVG markup (shared between sessions: read-only)."""
    values: object
    table: object
    legend: list
    main: str
    inset: str | None
    legend_html: str
    title: str


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

    def map_view(self, indicator_id: str, period: str, colour: str, highlight: str | None,
                 link_params: dict[str, str]) -> MapView:
        """The map's table, legend and SVG (cached per build and view; treat as read-only). Each area links
        to its profile with `link_params` and its own code as `area`."""
        params = tuple(sorted((k, str(v)) for k, v in link_params.items() if k != "area"))
        return _map_view(self.path, self.mtime_ns, self.build_id, indicator_id, period, colour, highlight, params)

    def read(self, func, *args):
        """`func(cursor, *args)` on a cursor of the shared connection (uncached): for library reads outside
        indicators.products.queries, such as the availability matrix or local rows."""
        return _read(self.path, self.mtime_ns, func, *args)

    def citation(self, page_title: str, link: str) -> str:
        """indicators.products.downloads.citation of a view, accessed today (cached per build, view and day)."""
        return _citation(self.path, self.mtime_ns, self.build_id, page_title, link, date.today().isoformat())

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The shared read-only connection; call .cursor() on it before use from another thread."""
        return _connection(self.path, self.mtime_ns)


def open_warehouse() -> tuple[Warehouse | None, str | None]:
    """The warehouse named by INDICATORS_DB (default data/warehouse.duckdb), or None and why not.

    One stat() per run; the build's facts are read once per warehouse file and modification time."""
    path = Path(default_db_path())
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        return None, f"There is no data warehouse at `{path}` yet."
    return _open(str(path), mtime_ns)


@st.cache_resource(show_spinner=False, max_entries=4)
def _open(path: str, mtime_ns: int) -> tuple[Warehouse | None, str | None]:
    try:
        cursor = _connection(path, mtime_ns).cursor()
    except WarehouseMissing as exc:
        return None, str(exc)
    try:
        build = queries.build_info(cursor)
    except duckdb.Error as exc:
        return None, f"`{path}` is not a warehouse built by `indicators build` ({type(exc).__name__})."
    finally:
        cursor.close()
    build = {k: (None if is_missing(v) else v) for k, v in build.items()} if build else {}
    return Warehouse(path, mtime_ns, str(build.get("build_id") or "unknown"), build), None
