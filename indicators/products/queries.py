"""Read-only, parameterised queries over the published warehouse: the only way pages and exports read data.

Depends on duckdb, pandas, shapely, indicators.config/pipeline.schema and indicators.products.availability/
local_data (their column lists and the availability rules); never on Streamlit, never on the statistics package:
every statistic is computed in the build and only read here. User input reaches SQL only as bound parameters;
identifiers are never built from input.

Longer than 500 lines on purpose: every read a page makes is in this one module, so a number's path is
page -> a function here -> a published table -> the catalogue entry -> the source file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import shapely
import shapely.geometry

from indicators.config import COMPARATOR_GROUPS, ENGLAND_CODE, REGION_PREFIX, UPPER_TIER_TYPES
from indicators.errors import WarehouseMissing
from indicators.pipeline import schema
from indicators.products import availability, local_data

_UPPER_TIER_SQL = "(" + ", ".join(f"'{t}'" for t in UPPER_TIER_TYPES) + ")"


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; a clear error when it is missing or not a warehouse."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise WarehouseMissing(
            f"no warehouse at {db_path}. Build one with `uv run indicators build` "
            "(after `uv run indicators fetch`, or `--mirror DIR` offline), or start with `uv run indicators serve`.")
    try:
        con = duckdb.connect(str(db_path), read_only=True)
        con.execute("SELECT 1 FROM published.indicator_values LIMIT 1").fetchall()
    except duckdb.Error as exc:
        raise WarehouseMissing(f"{db_path} is not a warehouse built by `indicators build` ({exc})") from None
    return con


SNAPSHOT_CATALOG = "warehouse"


def connect_snapshot(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file as it is now, read-only, in a DuckDB instance of its own (for long-running readers).

    `duckdb.connect(path)` hands back the instance already open on that path in this process, if any: a
    dashboard that keeps a connection would go on reading the file it opened first after a rebuild replaced
    it (the build swaps a new file in). An in-memory instance that attaches the file opens the file that is
    at the path now, independently of every other instance. Read through `snapshot_cursor`."""
    db_path = Path(db_path)
    if not db_path.exists():
        connect(db_path)  # raises the usual WarehouseMissing
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH ? AS {SNAPSHOT_CATALOG} (READ_ONLY)", [str(db_path)])
        snapshot_cursor(con).execute("SELECT 1 FROM published.indicator_values LIMIT 1").fetchall()
    except duckdb.Error as exc:
        con.close()
        raise WarehouseMissing(f"{db_path} is not a warehouse built by `indicators build` ({exc})") from None
    return con


def snapshot_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of a `connect_snapshot` connection that reads the attached warehouse (a cursor starts in memory)."""
    cursor = con.cursor()
    cursor.execute(f"USE {SNAPSHOT_CATALOG}")
    return cursor


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def build_info(con) -> dict:
    rows = _df(con, "SELECT * FROM published.build_info")
    return rows.iloc[0].to_dict() if not rows.empty else {}


def families(con) -> pd.DataFrame:
    """The indicator families (data/families.toml as built) in display order: family, title, noun, sort_order,
    side_by_side, not_published_title, not_published_note."""
    return _df(con, "SELECT * FROM published.families ORDER BY sort_order")


def indicators(con) -> pd.DataFrame:
    """The catalogue, in display order (family, then id), with the periods each indicator has and its family's
    title (`family_title`)."""
    return _df(con, """
        SELECT i.*, coalesce(p.n_periods, 0) AS n_periods, p.latest_period, p.latest_period_end,
               coalesce(f.title, i.family) AS family_title
        FROM published.indicators i
        LEFT JOIN published.families f USING (family)
        LEFT JOIN (
            SELECT indicator_id, count(DISTINCT period_label) AS n_periods,
                   arg_max(period_label, period_end) AS latest_period, max(period_end) AS latest_period_end
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL) p USING (indicator_id)
        ORDER BY f.sort_order NULLS LAST, i.indicator_id
    """)


def indicator(con, indicator_id: str) -> dict | None:
    rows = _df(con, "SELECT * FROM published.indicators WHERE indicator_id = ?", [indicator_id])
    return rows.iloc[0].to_dict() if not rows.empty else None


def periods(con, indicator_id: str) -> list[str]:
    """Periods with at least one value (or count), oldest first."""
    rows = con.execute("""
        SELECT period_label FROM published.indicator_values
        WHERE indicator_id = ? AND (value IS NOT NULL OR numerator IS NOT NULL)
        GROUP BY period_label ORDER BY min(period_end), period_label
    """, [indicator_id]).fetchall()
    return [r[0] for r in rows]


def areas(con, current_only: bool = True) -> pd.DataFrame:
    sql = "SELECT * FROM published.areas"
    if current_only:
        sql += " WHERE valid_to IS NULL"
    return _df(con, sql + " ORDER BY area_name")


def upper_tier_areas(con) -> pd.DataFrame:
    """Current upper-tier local authorities (the areas a user can pick)."""
    return _df(con, f"""
        SELECT area_code, area_name, area_type, region_code, region_name FROM published.areas
        WHERE valid_to IS NULL AND area_type IN {_UPPER_TIER_SQL}
        ORDER BY area_name
    """)


def area(con, area_code: str) -> dict | None:
    rows = _df(con, "SELECT * FROM published.areas WHERE area_code = ?", [area_code])
    return rows.iloc[0].to_dict() if not rows.empty else None


VALUE_COLUMNS = """v.indicator_id, v.area_code, v.area_name, v.period_label, v.period_start, v.period_end,
       v.value, v.lower_ci_95, v.upper_ci_95, v.lower_ci_998, v.upper_ci_998, v.numerator,
       v.denominator, v.is_suppressed, v.value_note, v.compared_to_england,
       v.compared_to_england_998, v.source_id, v.value_status"""


def area_values(con, indicator_id: str, period_label: str) -> pd.DataFrame:
    """One row per current upper-tier area for an indicator and period, with the area's region."""
    return _df(con, f"""
        SELECT {VALUE_COLUMNS}, a.area_type, a.region_code, a.region_name
        FROM published.indicator_values v
        JOIN published.areas a USING (area_code)
        WHERE v.indicator_id = ? AND v.period_label = ? AND a.valid_to IS NULL
          AND a.area_type IN {_UPPER_TIER_SQL}
        ORDER BY v.area_name
    """, [indicator_id, period_label])


def benchmark_value(con, indicator_id: str, period_label: str, area_code: str = ENGLAND_CODE) -> dict | None:
    rows = _df(con, f"""SELECT {VALUE_COLUMNS} FROM published.indicator_values v
                        WHERE indicator_id = ? AND period_label = ? AND area_code = ?""",
               [indicator_id, period_label, area_code])
    return rows.iloc[0].to_dict() if not rows.empty else None


def series(con, indicator_id: str, area_codes: list[str]) -> pd.DataFrame:
    """Every period of an indicator for the given areas (e.g. an area, its region and England)."""
    if not area_codes:
        return _df(con, f"SELECT {VALUE_COLUMNS} FROM published.indicator_values v WHERE false")
    return _df(con, f"""
        SELECT {VALUE_COLUMNS} FROM published.indicator_values v
        WHERE indicator_id = ? AND list_contains(?, area_code)
        ORDER BY area_code, period_end
    """, [indicator_id, area_codes])


def latest_values_for_area(con, area_code: str) -> pd.DataFrame:
    """For one area: each indicator's latest period that has any figure, with England's value then."""
    return _df(con, f"""
        WITH latest AS (
            SELECT indicator_id, arg_max(period_label, period_end) AS period_label
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL)
        SELECT {VALUE_COLUMNS}, e.value AS england_value
        FROM latest l
        JOIN published.indicator_values v USING (indicator_id, period_label)
        LEFT JOIN published.indicator_values e
          ON e.indicator_id = v.indicator_id AND e.period_label = v.period_label AND e.area_code = ?
        WHERE v.area_code = ?
    """, [ENGLAND_CODE, area_code])


DEPRIVATION_COLUMNS = ["indicator_id", "period_label", "period_start", "period_end", "decile", "decile_label",
                       "value", "numerator", "denominator", "value_note", "source_id", "source_file"]


def deprivation_deciles(con, indicator_id: str) -> pd.DataFrame:
    """England by deprivation decile for one indicator, as the publisher gives it (published.deprivation_deciles):
    one row per period and decile; decile numbers and labels as published (read `decile_label` for which end is
    the most deprived). Empty when the indicator has none or the warehouse predates the table."""
    if not table_exists(con, "deprivation_deciles"):
        return pd.DataFrame(columns=DEPRIVATION_COLUMNS)
    return _df(con, f"""SELECT {', '.join(DEPRIVATION_COLUMNS)} FROM published.deprivation_deciles
                        WHERE indicator_id = ? ORDER BY period_end, decile""", [indicator_id])


def boundaries_geojson(con) -> dict:
    """The simplified boundaries of the current areas as a GeoJSON FeatureCollection."""
    rows = con.execute("SELECT area_code, area_name, geometry FROM published.boundaries ORDER BY area_code").fetchall()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": code, "properties": {"area_code": code, "area_name": name},
         "geometry": json.loads(geometry)} for code, name, geometry in rows]}


def indicator_summary(con) -> pd.DataFrame:
    return _df(con, """
        WITH v AS (SELECT * FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL),
        latest AS (SELECT indicator_id, max(period_end) AS period_end FROM v GROUP BY ALL)
        SELECT i.indicator_id,
               count(DISTINCT v.period_label) AS n_periods,
               arg_min(v.period_label, v.period_end) AS first_period,
               arg_max(v.period_label, v.period_end) AS latest_period,
               count(DISTINCT CASE WHEN v.period_end = l.period_end AND v.value IS NOT NULL
                                   AND v.area_code <> ? AND NOT starts_with(v.area_code, ?)
                                   THEN v.area_code END) AS n_areas_with_value
        FROM published.indicators i LEFT JOIN v USING (indicator_id) LEFT JOIN latest l USING (indicator_id)
        GROUP BY i.indicator_id ORDER BY i.indicator_id
    """, [ENGLAND_CODE, REGION_PREFIX])


def coverage(con) -> pd.DataFrame:
    """Per indicator: its latest period with any figure, how many current upper-tier areas have a value then
    (n_with_value), how many more only a count (n_with_count_only), and how many current areas there are."""
    return _df(con, f"""
        WITH ut AS (SELECT area_code FROM published.areas WHERE valid_to IS NULL AND area_type IN {_UPPER_TIER_SQL}),
        latest AS (SELECT indicator_id, arg_max(period_label, period_end) AS latest_period
                   FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL GROUP BY ALL)
        SELECT i.indicator_id, i.publication_status, l.latest_period,
               count(v.value) AS n_with_value,
               count(CASE WHEN v.value IS NULL AND v.numerator IS NOT NULL THEN 1 END) AS n_with_count_only,
               (SELECT count(*) FROM ut) AS n_current
        FROM published.indicators i
        LEFT JOIN published.families f USING (family)
        LEFT JOIN latest l USING (indicator_id)
        LEFT JOIN published.indicator_values v
          ON v.indicator_id = i.indicator_id AND v.period_label = l.latest_period
         AND v.area_code IN (SELECT area_code FROM ut)
        GROUP BY i.indicator_id, i.family, f.sort_order, i.publication_status, l.latest_period
        ORDER BY f.sort_order NULLS LAST, i.indicator_id
    """)


def build_warnings(con) -> pd.DataFrame:
    """The build's warnings (kind, source_id, message); empty for a warehouse built before they were kept."""
    if not table_exists(con, "build_warnings"):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ("kind", "source_id", "message")})
    return _df(con, "SELECT kind, source_id, message FROM published.build_warnings ORDER BY kind, source_id, message")


def source_summary(con) -> pd.DataFrame:
    return _df(con, "SELECT * FROM published.sources ORDER BY source_id, file")


# The source files of the given indicators (two bound parameters, both the list of ids): the files
# their values came from (published.value_provenance), or, for an indicator with no such files,
# every file of its declared sources. `t` is published.sources.
SOURCES_OF_INDICATORS = """(
    EXISTS (SELECT 1 FROM published.value_provenance p
            WHERE list_contains(?, p.indicator_id) AND p.source_id = t.source_id AND p.source_file = t.file)
    OR t.source_id IN (
        SELECT trim(unnest(string_split(i.source_ids, ','))) FROM published.indicators i
        WHERE list_contains(?, i.indicator_id) AND NOT EXISTS (
            SELECT 1 FROM published.value_provenance p JOIN published.sources s
              ON s.source_id = p.source_id AND s.file = p.source_file
            WHERE p.indicator_id = i.indicator_id)))"""


def _records(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def indicator_rows(con, indicator_ids: list[str]) -> list[dict]:
    """The catalogue rows (published.indicators) of the given indicators, as dicts."""
    return _records(con, "SELECT * FROM published.indicators WHERE list_contains(?, indicator_id)",
                    [list(indicator_ids)])


def sources_of(con, indicator_ids: list[str]) -> list[dict]:
    """The published.sources rows (one per file) the given indicators' figures came from (SOURCES_OF_INDICATORS)."""
    ids = list(indicator_ids)
    return _records(con, f"SELECT * FROM published.sources t WHERE {SOURCES_OF_INDICATORS} ORDER BY source_id, file",
                    [ids, ids])


def publishers_of(con, indicator_ids: list[str] | None) -> list[str]:
    """The publishers of the given indicators' sources (else of the indicators themselves), or of every source."""
    if indicator_ids:
        ids = list(indicator_ids)
        rows = con.execute(f"SELECT DISTINCT publisher FROM published.sources t WHERE {SOURCES_OF_INDICATORS} "
                           "ORDER BY publisher", [ids, ids]).fetchall()
        if not rows:
            rows = con.execute("SELECT DISTINCT publisher FROM published.indicators "
                               "WHERE list_contains(?, indicator_id) ORDER BY publisher", [ids]).fetchall()
    else:
        rows = con.execute("SELECT DISTINCT publisher FROM published.sources ORDER BY publisher").fetchall()
    return [r[0] for r in rows if r[0]]


# --------------------------------------------------------------------------- availability, networks, local rows

def availability_matrix(con) -> pd.DataFrame:
    """indicators.products.availability.availability_matrix over what this warehouse holds (public local rows
    included: they change without a rebuild)."""
    figures = _df(con, """
        SELECT indicator_id, area_code, period_label, period_end, source_id,
               (value IS NOT NULL OR numerator IS NOT NULL) AS has_figure, coalesce(is_suppressed, false) AS is_suppressed
        FROM published.indicator_values""")
    local = local_data.local_values(con, include_restricted=False)
    local = local.loc[local["value"].notna() | local["numerator"].notna(),
                      ["indicator_id", "area_code", "period_label", "period_end", "source_id", "foi_reference",
                       "foi_response_date"]]
    catalogue = _df(con, "SELECT * FROM published.indicators")
    areas = upper_tier_areas(con)[["area_code", "area_name", "region_name"]]
    return availability.availability_matrix(areas, catalogue, figures, local, network_figures(con), families(con))


def fetch_status(con) -> pd.DataFrame:
    """published.fetch_status (each source's last fetch), failed sources first; no rows for a warehouse built before
    the table existed."""
    if not table_exists(con, "fetch_status"):
        return pd.DataFrame(columns=availability.FETCH_STATUS_COLUMNS)
    return _df(con, "SELECT * FROM published.fetch_status ORDER BY status <> 'failed', source_id")


def fetch_notice(con) -> str:
    """The notice every page shows when sources could not be fetched for this build ('' when all arrived):
    indicators.products.availability.fetch_notice_text."""
    status = fetch_status(con)
    failed = status.loc[status["status"].eq("failed")]
    if failed.empty:
        return ""
    titles = dict(con.execute("SELECT indicator_id, short_title FROM published.indicators").fetchall())
    return availability.fetch_notice_text(failed, titles)


def odn_values_for_area(con, area_code: str) -> pd.DataFrame:
    """HCV figures of the operational delivery network covering `area_code`, with its member areas
    (availability.ODN_COLUMNS); empty when the build has no ODN tables or the area no network."""
    if not (table_exists(con, "hcv_odn_values") and table_exists(con, "hcv_odn_areas")):
        return pd.DataFrame(columns=availability.ODN_COLUMNS)
    return _df(con, """
        WITH members AS (
            SELECT m.odn_code, count(*) AS n_member_areas,
                   string_agg(m.area_code, ', ' ORDER BY m.area_code) AS member_area_codes,
                   string_agg(coalesce(a.area_name, m.area_name), ', '
                              ORDER BY coalesce(a.area_name, m.area_name)) AS member_area_names
            FROM published.hcv_odn_areas m LEFT JOIN published.areas a USING (area_code) GROUP BY m.odn_code)
        SELECT v.odn_code, v.odn_name, v.period_label, v.period_start, v.period_end, v.value, v.numerator,
               v.denominator, v.is_suppressed, v.value_note, v.population, v.source_id, v.source_file,
               mb.n_member_areas, mb.member_area_codes, mb.member_area_names
        FROM published.hcv_odn_areas l
        JOIN published.hcv_odn_values v USING (odn_code)
        JOIN members mb USING (odn_code)
        WHERE l.area_code = ?
        ORDER BY v.period_end, v.period_label""", [area_code])[availability.ODN_COLUMNS]


def local_values(con, include_restricted: bool) -> pd.DataFrame:
    """Local rows (`indicators import`) for views: public ones, and restricted ones only when `include_restricted`
    (a dashboard session on the computer that imported them). Columns local_data.LOCAL_VALUE_COLUMNS."""
    return local_data.local_values(con, include_restricted)


def areas_to_ask(con, family: str, day=None) -> pd.DataFrame:
    """indicators.products.foi.areas_to_ask: which areas lack the figures a Freedom of Information request for
    `family` asks for (published, or a public local or FOI row)."""
    from indicators.products import foi

    return foi.areas_to_ask(con, family, day)


# --------------------------------------------------------------------------- dashboard queries
# The functions below feed the dashboard pages. They return plain frames and dicts; the
# statistics come from the build's published tables, the words from indicators.present.text.

def table_exists(con, name: str) -> bool:
    """Whether published.<name> exists (older warehouses may lack optional tables such as peer_cipfa)."""
    return schema.table_exists(con, "published", name)


def indicator_periods(con) -> dict[str, list[str]]:
    """Every indicator's periods with at least one figure, oldest first (empty list when it has none)."""
    rows = con.execute("""
        SELECT i.indicator_id, p.period_label, p.period_end
        FROM published.indicators i
        LEFT JOIN (SELECT indicator_id, period_label, min(period_end) AS period_end
                   FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
                   GROUP BY ALL) p USING (indicator_id)
        ORDER BY i.indicator_id, p.period_end, p.period_label
    """).fetchall()
    rows += _foi_periods(con)
    out: dict[str, list[str]] = {}
    ends: dict[str, object] = {}
    for indicator_id, period_label, period_end in rows:
        out.setdefault(indicator_id, [])
        if period_label is not None and period_label not in out[indicator_id]:
            out[indicator_id].append(period_label)
            ends[period_label] = pd.Timestamp(period_end)
    return {i: sorted(labels, key=lambda p: (ends[p], p)) for i, labels in out.items()}


def _foi_periods(con) -> list[tuple]:
    """(indicator_id, period_label, period_end) of every loaded Freedom of Information reply (the map shows them)."""
    from indicators.products.local_data import foi_responses

    replies = foi_responses(con)
    return list(replies[["indicator_id", "period_label", "period_end"]].drop_duplicates().itertuples(index=False))


def map_values(con, indicator_id: str, period_label: str | None) -> pd.DataFrame:
    """Every current upper-tier area with its row for the indicator and period, if any (has_row False: no row);
    where no figure is published, a loaded Freedom of Information reply's (see _with_foi_responses)."""
    frame = _df(con, f"""
        SELECT a.area_code, a.area_name, a.area_type, a.region_code, a.region_name,
               v.period_label, v.value, v.lower_ci_95, v.upper_ci_95, v.lower_ci_998, v.upper_ci_998,
               v.numerator, v.denominator, coalesce(v.is_suppressed, false) AS is_suppressed,
               coalesce(v.value_note, '') AS value_note, v.compared_to_england, v.compared_to_england_998,
               v.comparison_note, coalesce(v.value_status, 'no data') AS value_status,
               v.indicator_id IS NOT NULL AS has_row
        FROM published.areas a
        LEFT JOIN published.indicator_values v
          ON v.area_code = a.area_code AND v.indicator_id = ? AND v.period_label = ?
        WHERE a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL}
        ORDER BY a.area_name
    """, [indicator_id, period_label])
    return _with_foi_responses(con, frame, indicator_id, period_label)


_FOI_OVERLAY = ["period_label", "value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator",
                "denominator", "value_note", "compared_to_england", "compared_to_england_998", "foi_reference",
                "value_status"]


def _with_foi_responses(con, frame: pd.DataFrame, indicator_id: str, period_label: str | None) -> pd.DataFrame:
    """An area with no published figure (and none withheld) takes the figure of a council's reply to a Freedom of
    Information request loaded with `indicators import`, its note saying so; the frame then has a
    `foi_reference` column (None for published rows). Unchanged when no reply was loaded."""
    from indicators.products.local_data import foi_responses

    replies = foi_responses(con, indicator_id, period_label) if period_label else None
    if replies is None or replies.empty:
        return frame
    latest = replies.sort_values(["foi_response_date", "imported_at"]).drop_duplicates("area_code", keep="last")
    latest = latest.set_index("area_code")
    frame = frame.assign(foi_reference=pd.Series([None] * len(frame), index=frame.index, dtype="object"))
    open_slot = (frame["value"].isna() & frame["numerator"].isna() & ~frame["is_suppressed"].astype(bool)
                 & frame["area_code"].isin(latest.index))
    for column in _FOI_OVERLAY:
        frame[column] = frame[column].astype("object")
        frame.loc[open_slot, column] = frame.loc[open_slot, "area_code"].map(latest[column])
    frame.loc[open_slot, "has_row"] = True
    for column in _FOI_OVERLAY[1:8]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


MAP_SIMPLIFY_DEGREES = 0.005   # coverage simplification for the web map: shared borders stay identical
MAP_GRID_DEGREES = 0.001       # snap-rounding grid: about 110 m north-south, 70 m east-west in England


def _coordinates(coords):
    if coords and isinstance(coords[0], (int, float)):
        return [float(coords[0]), float(coords[1])]
    return [_coordinates(c) for c in coords]


def map_geojson(con, simplify: float = MAP_SIMPLIFY_DEGREES, grid: float = MAP_GRID_DEGREES) -> dict:
    """The current boundaries for the web map, made small: only `area_code` kept as a property, the
    coverage simplified further (shapely.coverage_simplify, so neighbours keep identical borders; skipped
    when the shapes are not a clean coverage) and snapped to a `grid`-degree grid (topology-safe
    snap-rounding, shapely.set_precision). The warehouse keeps the full-precision shapes.
    """
    rows = con.execute("SELECT area_code, geometry FROM published.boundaries ORDER BY area_code").fetchall()
    codes, shapes = [], []
    for code, geometry in rows:
        geom = json.loads(geometry) if isinstance(geometry, str) else geometry
        if geom and geom.get("coordinates"):
            codes.append(code)
            shapes.append(shapely.geometry.shape(geom))
    if shapes and simplify and shapely.coverage_is_valid(shapes):
        shapes = list(shapely.coverage_simplify(shapes, simplify))
    if shapes and grid:
        shapes = list(shapely.set_precision(shapes, grid))
    features = []
    for code, geom in zip(codes, shapes):
        if geom.is_empty:
            continue
        mapped = shapely.geometry.mapping(geom)
        features.append({"type": "Feature", "properties": {"area_code": code},
                         "geometry": {"type": mapped["type"], "coordinates": _coordinates(mapped["coordinates"])}})
    return {"type": "FeatureCollection", "features": features}


# --------------------------------------------------------------------------- statistics (computed in the build)
# The build's statistics pass (indicators.pipeline.statistics and comparators) publishes every statistic the
# pages show; the functions below only read those tables and put them in the shapes the pages use.

NOT_TESTED = "not tested"
ENGLAND_SCOPE = "england"


def minimums(con) -> dict[str, int]:
    """The least data each statistic needs, as the build applied them (published.minimums)."""
    return dict(con.execute("SELECT minimum, value FROM published.minimums").fetchall())


NETWORK_COLUMNS = ["area_code", "indicator_id", "odn_code", "odn_name", "n_member_areas", "member_area_names",
                   "period_label", "value", "is_suppressed", "value_note", "network_label"]


def network_figures(con, area_code: str | None = None) -> pd.DataFrame:
    """published.network_figures for every current area in an HCV network (or one area): per network-only
    indicator, the network's latest figure, with `network_label` ('figure for <network> (covers N areas)'). A
    figure for the whole network: never apportioned to its areas, never compared. Empty when the build had no
    network tables."""
    from indicators.present.text import network_label

    if not table_exists(con, "network_figures"):
        return pd.DataFrame(columns=NETWORK_COLUMNS)
    frame = _df(con, """
        SELECT * FROM published.network_figures WHERE ? IS NULL OR area_code = ? ORDER BY area_code, indicator_id""",
                [area_code, area_code])
    frame["network_label"] = [network_label(n, int(k)) for n, k in zip(frame["odn_name"], frame["n_member_areas"])]
    return frame[NETWORK_COLUMNS]


def scorecard(con) -> pd.DataFrame:
    """published.scorecard: per current area and scorecard column, the latest figure and its comparison with England
    or the state that stands in for it (indicators.pipeline.scorecard), areas by name, columns in order. Empty (with
    its columns) for a warehouse built before the table existed."""
    if not table_exists(con, "scorecard"):
        from indicators.pipeline.scorecard import COLUMNS

        return pd.DataFrame(columns=COLUMNS)
    return _df(con, "SELECT * FROM published.scorecard ORDER BY area_name, area_code, column_order")


def area_profile(con, area_code: str) -> pd.DataFrame:
    """One row per catalogue indicator for one area at the indicator's latest period (the latest with any
    figure for any area): the area's row (has_row False when it has none); England's value and 95% limits;
    the rest of its region (`region_value`, `region_method`, `region_n_areas`, `compared_to_region`,
    `region_reason`: published.group_comparisons, the other current areas of the region, never the area itself);
    and the spread of current upper-tier areas (n_areas, area_min, area_q25, area_median, area_q75, area_max,
    `spread_reason`: published.gap_measures, empty below the minimum number of areas).
    """
    info = area(con, area_code)
    frame = _df(con, """
        WITH latest AS (
            SELECT indicator_id, arg_max(period_label, period_end) AS period_label
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL)
        SELECT i.indicator_id, i.family, i.title, i.short_title, i.unit, i.value_type, i.multiplier,
               i.polarity, i.ci_method, i.publication_status, i.status_note, l.period_label,
               a.value, a.lower_ci_95, a.upper_ci_95, a.lower_ci_998, a.upper_ci_998,
               a.numerator, a.denominator, coalesce(a.is_suppressed, false) AS is_suppressed,
               coalesce(a.value_note, '') AS value_note, a.compared_to_england, a.compared_to_england_998,
               a.comparison_note, coalesce(a.value_status, 'no data') AS value_status,
               a.indicator_id IS NOT NULL AS has_row,
               e.value AS england_value, e.lower_ci_95 AS england_lower_ci_95,
               e.upper_ci_95 AS england_upper_ci_95, e.numerator AS england_numerator,
               r.group_value AS region_value, r.group_method AS region_method,
               coalesce(r.n_with_value, 0) AS region_n_areas, r.compared_to_group AS compared_to_region,
               coalesce(r.reason, '') AS region_reason,
               coalesce(g.n_areas, 0) AS n_areas, g.area_min, g.area_q25, g.area_median, g.area_q75, g.area_max,
               coalesce(g.reason, '') AS spread_reason
        FROM published.indicators i
        LEFT JOIN published.families f USING (family)
        LEFT JOIN latest l USING (indicator_id)
        LEFT JOIN published.indicator_values a
          ON a.indicator_id = i.indicator_id AND a.period_label = l.period_label AND a.area_code = ?
        LEFT JOIN published.indicator_values e
          ON e.indicator_id = i.indicator_id AND e.period_label = l.period_label AND e.area_code = ?
        LEFT JOIN published.group_comparisons r
          ON r.indicator_id = i.indicator_id AND r.period_label = l.period_label AND r.area_code = ?
         AND r.peer_group = 'region'
        LEFT JOIN published.gap_measures g
          ON g.indicator_id = i.indicator_id AND g.period_label = l.period_label
        ORDER BY f.sort_order NULLS LAST, i.indicator_id
    """, [area_code, ENGLAND_CODE, area_code])
    frame["region_code"] = (info or {}).get("region_code") or ""
    frame["region_name"] = (info or {}).get("region_name") or ""
    # A figure published only for the area's network: in its own columns, never in the area's value.
    network = network_figures(con, area_code).set_index("indicator_id")
    for column, source in (("network_label", "network_label"), ("network_value", "value"),
                           ("network_period", "period_label"), ("network_suppressed", "is_suppressed")):
        frame[column] = frame["indicator_id"].map(network[source]) if not network.empty else None
    return frame


PEER_COLUMNS = ["peer_group", "area_code", "area_name", "relation", "shared_border_km", "distance_km", "cipfa_rank",
                "similar_rank", "similar_distance", "similar_reasons", "similar_family", "similar_variables",
                "region_name"]
_GROUP_ORDER_SQL = "list_position([" + ", ".join(f"'{g}'" for g in COMPARATOR_GROUPS) + "], peer_group)"


def peer_groups(con, area_code: str, family: str | None = None) -> pd.DataFrame:
    """The area's comparator groups and what makes each member one (published.peer_groups, as the build used them):
    one row per (peer_group, member), area_code being the member, columns PEER_COLUMNS. peer_group 'neighbours'
    (bordering areas, then the nearest others: relation 'border' or 'nearest', shared_border_km, distance_km),
    'cipfa' (cipfa_rank), 'similar' (similar_rank, similar_distance, similar_reasons; one set per indicator
    family chosen without that family's own indicators: similar_family, similar_variables; only `family`'s set
    when it is given) and 'region' (the other current upper-tier areas of its region)."""
    return _df(con, f"""
        SELECT peer_group, member_code AS area_code, member_name AS area_name, relation, shared_border_km, distance_km,
               cipfa_rank, similar_rank, similar_distance, similar_reasons, similar_family, similar_variables,
               member_region_name AS region_name
        FROM published.peer_groups
        WHERE area_code = ? AND (family = '' OR ? IS NULL OR family = ?)
        ORDER BY {_GROUP_ORDER_SQL}, family, member_order""", [area_code, family, family])[PEER_COLUMNS]


def group_members(peers: pd.DataFrame, group: str, family: str | None) -> list[str]:
    """The codes of one peer group from a `peer_groups` frame; for 'similar', the set for `family` (the group a
    figure of that family is compared with)."""
    members = peers[peers["peer_group"] == group]
    if group == "similar" and "similar_family" in members and members["similar_family"].notna().any():
        members = members[members["similar_family"] == family]
    return list(dict.fromkeys(members["area_code"]))


def group_comparison(con, indicator_id: str, period_label: str, area_code: str, peer_group: str) -> dict | None:
    """One area's comparison with one of its groups (published.group_comparisons; for 'similar', the set for the
    indicator's family): group_value, group_method ('pooled' or 'mean'), n_members, n_with_value, member_codes,
    compared_to_group(_998) and reason; None when the area has no such group."""
    rows = _df(con, """SELECT * FROM published.group_comparisons
                       WHERE indicator_id = ? AND period_label = ? AND area_code = ? AND peer_group = ?""",
               [indicator_id, period_label, area_code, peer_group])
    return rows.iloc[0].to_dict() if not rows.empty else None


def league_table(con, indicator_id: str, period_label: str | None, area_code: str | None = None,
                 peer_group: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Areas for one indicator and period with their ranks and 95% rank intervals (published.rank_intervals):
    every current upper-tier area, or, with `area_code` and `peer_group`, the area and that group's members (for
    'similar', the set chosen for the indicator's family).

    Returns the frame (map_values columns plus rank, rank_lower, rank_upper and compared_to_group, filled for the
    chosen area only: an area is never compared with a group it is in), sorted by rank, then by value best first,
    areas without a value last; and a dict: n_with_value, ranked, rank_reason (why there are no rank intervals)
    and group (group_comparison of the chosen area, or None for all of England).
    """
    frame = map_values(con, indicator_id, period_label)
    group = None
    if area_code and peer_group:
        family = (indicator(con, indicator_id) or {}).get("family")
        members = [area_code] + group_members(peer_groups(con, area_code, family), peer_group, family)
        frame = frame[frame["area_code"].isin(members)].reset_index(drop=True)
        group = group_comparison(con, indicator_id, period_label, area_code, peer_group) if period_label else None
    scope, owner = (peer_group, area_code) if group is not None else (ENGLAND_SCOPE, "")
    ranks = _df(con, """SELECT area_code, rank, rank_lower, rank_upper FROM published.rank_intervals
                        WHERE indicator_id = ? AND period_label = ? AND peer_group = ? AND group_area_code = ?""",
                [indicator_id, period_label, scope, owner])
    frame = frame.merge(ranks, on="area_code", how="left")
    frame["compared_to_group"] = None
    if group is not None:
        frame.loc[frame["area_code"] == area_code, "compared_to_group"] = group["compared_to_group"]
    low_is_good = (indicator(con, indicator_id) or {}).get("polarity") == "low_is_good"
    frame["_order"] = frame["value"] if low_is_good else -frame["value"]
    frame = frame.sort_values(["rank", "_order", "area_name"], na_position="last", kind="stable")
    frame = frame.drop(columns="_order").reset_index(drop=True)
    n = int((frame["value"].notna() & ~frame["is_suppressed"].astype(bool)).sum())
    ranked = bool(frame["rank"].notna().any())
    needed = minimums(con).get("areas_for_spread", 0)
    reason = "" if ranked else (
        f"rank intervals need at least {needed} areas with a value; "
        + ("none has one" if n == 0 else f"{'only 1 has' if n == 1 else f'{n} have'} one") + " here")
    return frame, {"n_with_value": n, "ranked": ranked, "rank_reason": reason, "group": group}


def gap_summary(con, indicator_id: str, period_label: str | None) -> dict | None:
    """The gap measures of one indicator and period (published.gap_measures) as a dict, with `illustrative_deaths`
    (published.illustrative_deaths, said by indicators.present.lottery.deaths_statement) for deaths indicators with
    counts; `available` False and `reason` say why
    there are none (fewer areas with a value than the minimum). None when the period has no row at all."""
    rows = _df(con, "SELECT * FROM published.gap_measures WHERE indicator_id = ? AND period_label = ?",
               [indicator_id, period_label])
    if rows.empty:
        return None
    out = rows.iloc[0].to_dict()
    excess = _df(con, "SELECT * FROM published.illustrative_deaths WHERE indicator_id = ? AND period_label = ?",
                 [indicator_id, period_label])
    if not excess.empty and bool(excess["available"].iloc[0]):
        out["illustrative_deaths"] = excess.iloc[0].to_dict()
    return out


def gap_over_time(con, indicator_id: str) -> dict:
    """Is the gap widening? The indicator's row of published.gap_change as a dict (available, tested, reason,
    first_period, last_period, n_periods, n_areas, n_areas_latest, slope_per_year and its 95% interval, t, df,
    p_value, change) and `periods`: published.gap_over_time, the gap measures of every period compared on the one
    set of areas, oldest first (empty where there is no such set). `indicator_id` is None when the build has no
    row for the indicator."""
    change = _df(con, "SELECT * FROM published.gap_change WHERE indicator_id = ?", [indicator_id])
    out = change.iloc[0].to_dict() if not change.empty else {"indicator_id": None, "available": False}
    out["periods"] = _df(con, """SELECT * FROM published.gap_over_time WHERE indicator_id = ?
                                 ORDER BY period_end, period_label""", [indicator_id])
    return out

def funnel_data(con, indicator_id: str, period_label: str | None, adjusted: bool = False) -> dict:
    """A funnel plot around England's value (published.funnels, funnel_points, funnel_limits).

    Returns dict(available, reason, kind, x_label, benchmark, points, limits, overdispersion, adjusted, phi):
    `points` has area_code, area_name, region_name, value, lower_ci_95, upper_ci_95, x, numerator, denominator
    and position (against the adjusted limits when `adjusted` and phi could be estimated); `limits` has
    denominator (the x grid), benchmark and lower/upper_95/998. x is the denominator, or for age-standardised
    rates the effective population (count ÷ rate × multiplier), which the x label says.
    """
    out = {"available": False, "reason": "", "kind": None, "x_label": "", "benchmark": None,
           "points": pd.DataFrame(), "limits": pd.DataFrame(), "overdispersion": {}, "adjusted": False, "phi": None}
    head = _df(con, "SELECT * FROM published.funnels WHERE indicator_id = ? AND period_label = ?",
               [indicator_id, period_label]) if period_label else pd.DataFrame()
    if head.empty:
        meta = indicator(con, indicator_id)
        out["reason"] = ("no data" if meta is None or not period_label else
                         f"a funnel plot needs a proportion or a rate with counts; this indicator is a "
                         f"{meta.get('value_type')} whose limits are {_method_name(con, meta.get('ci_method'))}")
        return out
    row = head.iloc[0].to_dict()
    out.update(kind=row["kind"], x_label=row["x_label"], benchmark=row["benchmark"], reason=row["reason"] or "")
    if not row["available"]:
        return out
    phi = float(row["phi"]) if adjusted and pd.notna(row["phi"]) else None
    points = _df(con, f"""
        SELECT p.area_code, v.area_name, a.region_name, v.value, v.lower_ci_95, v.upper_ci_95, p.x, v.numerator,
               v.denominator, {'p.position_adjusted' if phi is not None else 'p.position'} AS position
        FROM published.funnel_points p
        JOIN published.indicator_values v USING (indicator_id, period_label, area_code)
        LEFT JOIN published.areas a USING (area_code)
        WHERE p.indicator_id = ? AND p.period_label = ? ORDER BY v.area_name""", [indicator_id, period_label])
    limits = _df(con, """
        SELECT x AS denominator, ? AS benchmark, lower_95, upper_95, lower_998, upper_998
        FROM published.funnel_limits WHERE indicator_id = ? AND period_label = ? AND adjusted = ? ORDER BY x""",
                 [row["benchmark"], indicator_id, period_label, phi is not None])
    out.update(available=True, points=points, limits=limits, adjusted=phi is not None, phi=phi,
               overdispersion={k: row[k] for k in ("phi", "chi2", "p_value", "overdispersed", "tau2")}
               | {"n": row["n_areas"]})
    return out


def _method_name(con, ci_method: str | None) -> str:
    rows = con.execute("SELECT name FROM published.methods WHERE ci_method = ?", [ci_method]).fetchall()
    return rows[0][0].lower() if rows else "not recorded"


def balance_values(con, x_indicator: str, y_indicator: str) -> pd.DataFrame:
    """Each current upper-tier area's latest figure of two indicators (for example completions against
    drug-misuse deaths), each at its own latest period with a value, with England's value for that period.

    Columns: area_code, area_name, region_name, and for p in (x, y): p_period, p_value, p_lower_ci_95,
    p_upper_ci_95, p_compared_to_england, p_england.
    """
    select, joins, params = [], [], []
    for prefix, indicator_id in (("x", x_indicator), ("y", y_indicator)):
        select.append(f"""{prefix}.period_label AS {prefix}_period, {prefix}.value AS {prefix}_value,
               {prefix}.lower_ci_95 AS {prefix}_lower_ci_95, {prefix}.upper_ci_95 AS {prefix}_upper_ci_95,
               {prefix}.compared_to_england AS {prefix}_compared_to_england, {prefix}e.value AS {prefix}_england""")
        joins.append(f"""
        LEFT JOIN (SELECT area_code, arg_max(period_label, period_end) AS period_label
                   FROM published.indicator_values WHERE indicator_id = ? AND value IS NOT NULL
                   GROUP BY ALL) {prefix}l ON {prefix}l.area_code = a.area_code
        LEFT JOIN published.indicator_values {prefix}
          ON {prefix}.indicator_id = ? AND {prefix}.area_code = a.area_code
         AND {prefix}.period_label = {prefix}l.period_label
        LEFT JOIN published.indicator_values {prefix}e
          ON {prefix}e.indicator_id = ? AND {prefix}e.area_code = ?
         AND {prefix}e.period_label = {prefix}l.period_label""")
        params += [indicator_id, indicator_id, indicator_id, ENGLAND_CODE]
    return _df(con, f"""
        SELECT a.area_code, a.area_name, a.region_name, {', '.join(select)}
        FROM published.areas a {''.join(joins)}
        WHERE a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL}
        ORDER BY a.area_name""", params)


def trend_series(con, indicator_id: str, area_code: str) -> tuple[pd.DataFrame, dict]:
    """Every period of one indicator for an area, its region and England (column `role`: area, region,
    England), oldest first, and each role's recent trend (published.recent_trends: the test over the most recent
    periods with counts; NOT_TESTED for indicators without counts and denominators)."""
    info = area(con, area_code) or {}
    codes = [("area", area_code), ("region", info.get("region_code")), ("England", ENGLAND_CODE)]
    codes = [(role, code) for role, code in codes if code]
    frame = series(con, indicator_id, [code for _, code in codes])
    role_of = {code: role for role, code in codes}
    frame["role"] = frame["area_code"].map(role_of)
    frame = frame.sort_values(["period_end", "area_code"]).reset_index(drop=True)
    found = dict(con.execute("""SELECT area_code, trend FROM published.recent_trends
                                WHERE indicator_id = ? AND list_contains(?, area_code)""",
                             [indicator_id, [code for _, code in codes]]).fetchall())
    return frame, {role: found.get(code, NOT_TESTED) for role, code in codes}


def sources_by_publisher(con) -> pd.DataFrame:
    """Distinct publisher, licence and attribution of the sources in this build, for page footers."""
    return _df(con, """SELECT publisher, licence, any_value(licence_url) AS licence_url,
                              any_value(attribution) AS attribution, max(retrieved) AS retrieved
                       FROM published.sources GROUP BY publisher, licence ORDER BY publisher""")


def balance_view(con, x_indicator: str, y_indicator: str) -> dict:
    """`balance_values` plus what the chart needs around it: England's value at each indicator's latest
    period (for the quadrant lines) and the periods the areas' figures come from.

    Returns dict(frame, england=dict(x, y, x_period, y_period), x_periods, y_periods).
    """
    frame = balance_values(con, x_indicator, y_indicator)
    england = {}
    for axis, indicator_id in (("x", x_indicator), ("y", y_indicator)):
        known = periods(con, indicator_id)
        latest = known[-1] if known else None
        row = benchmark_value(con, indicator_id, latest) if latest else None
        england[axis] = None if row is None or pd.isna(row.get("value")) else float(row["value"])
        england[f"{axis}_period"] = latest
    return {"frame": frame, "england": england,
            "x_periods": sorted(frame["x_period"].dropna().unique().tolist()),
            "y_periods": sorted(frame["y_period"].dropna().unique().tolist())}


def peer_comparison(con, area_code: str, peer_group: str) -> pd.DataFrame:
    """For one area and one of its groups: each indicator at its latest period, the group's figure over the
    members with a value (never the area itself) and the area compared with it at 95%
    (published.group_comparisons); `reason` says why there is no figure or comparison.

    Columns: indicator_id, short_title, unit, period_label, value, lower_ci_95, upper_ci_95, is_suppressed,
    value_note, group_value, group_method, group_n_areas, compared_to_group, reason.
    """
    return _df(con, """
        WITH latest AS (
            SELECT indicator_id, arg_max(period_label, period_end) AS period_label
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL)
        SELECT i.indicator_id, i.short_title, i.unit, l.period_label, v.value, v.lower_ci_95, v.upper_ci_95,
               coalesce(v.is_suppressed, false) AS is_suppressed, coalesce(v.value_note, '') AS value_note,
               g.group_value, g.group_method, coalesce(g.n_with_value, 0) AS group_n_areas,
               coalesce(g.compared_to_group, 'not compared') AS compared_to_group, coalesce(g.reason, '') AS reason
        FROM published.indicators i
        LEFT JOIN published.families f USING (family)
        JOIN latest l USING (indicator_id)
        LEFT JOIN published.indicator_values v
          ON v.indicator_id = i.indicator_id AND v.period_label = l.period_label AND v.area_code = ?
        LEFT JOIN published.group_comparisons g
          ON g.indicator_id = i.indicator_id AND g.period_label = l.period_label AND g.area_code = ?
         AND g.peer_group = ?
        ORDER BY f.sort_order NULLS LAST, i.indicator_id""", [area_code, area_code, peer_group])


def comparator_rows(con, pairs: tuple[tuple[str, str], ...], area_codes: tuple[str, ...] = (ENGLAND_CODE,)) -> pd.DataFrame:
    """The published rows of `area_codes` (England by default; a region) for each (indicator_id, period_label) in
    `pairs`: what a view compares its areas with, for its downloads."""
    if not pairs or not area_codes:
        return _df(con, "SELECT * FROM published.indicator_values WHERE false")
    return _df(con, """
        SELECT v.* FROM published.indicator_values v
        JOIN (SELECT unnest(?) AS indicator_id, unnest(?) AS period_label) p USING (indicator_id, period_label)
        WHERE list_contains(?, v.area_code)
        ORDER BY list_position(?, v.area_code), v.indicator_id, v.period_end
    """, [[i for i, _ in pairs], [p for _, p in pairs], list(area_codes), list(area_codes)])


# --------------------------------------------------------------------------- finding an area

PLACE_COLUMNS = ["place_name", "place_code", "place_kind", "area_code", "area_name", "formerly"]
GSS_CODE = re.compile(r"^[EKNSW]\d{8}$")
MAX_FOUND = 20


def place_names(con) -> pd.DataFrame:
    """Other names a current area is found by (districts past and present, former counties and unitary authorities),
    each with the current upper-tier area it lies in: published.place_names; empty in a warehouse without it."""
    if not table_exists(con, "place_names"):
        return pd.DataFrame(columns=PLACE_COLUMNS)
    frame = _df(con, f"SELECT {', '.join(PLACE_COLUMNS)} FROM published.place_names "
                     "ORDER BY lower(place_name), lower(area_name)")
    return frame.astype(object).where(frame.notna(), None)


def postcodes_loaded(con) -> bool:
    """Whether the build had a postcode lookup (published.postcodes), so the area search can take postcodes."""
    return table_exists(con, "postcodes")


def find_area(con, typed: str) -> dict:
    """What a person typed in the area search, as current upper-tier areas.

    A GSS code (of a current or former area, or of a district), a postcode (when the build had a postcode
    lookup), or a name: the areas and places of that name (any case), else those whose name contains it.
    Returns {"kind": "code" | "postcode" | "name", "matches": [{area_code, area_name, place_name, place_kind,
    formerly}, ...] (at most MAX_FOUND, exact matches first), "postcodes_loaded": bool}; a match found by
    the area's own name or code has no place_name."""
    from indicators.pipeline.sources.postcodes import is_postcode, normalise_postcode

    text = " ".join(str(typed or "").split())[:64]
    loaded = postcodes_loaded(con)
    current = f"""SELECT area_code, area_name, NULL AS place_name, NULL AS place_kind, NULL AS formerly, 0 AS rank
                  FROM published.areas WHERE valid_to IS NULL AND area_type IN {_UPPER_TIER_SQL}"""
    places = (f"SELECT area_code, area_name, place_name, place_kind, formerly, 1 AS rank, place_code "
              f"FROM published.place_names" if table_exists(con, "place_names") else None)
    if GSS_CODE.fullmatch(text.upper()):
        kind, code = "code", text.upper()
        sql = f"SELECT * EXCLUDE (rank) FROM ({current} AND area_code = ?) "
        params = [code]
        if places:
            sql += f"UNION ALL SELECT * EXCLUDE (rank, place_code) FROM ({places}) WHERE place_code = ? "
            params.append(code)
    elif is_postcode(text):
        kind = "postcode"
        if not loaded:
            return {"kind": kind, "matches": [], "postcodes_loaded": False}
        sql = f"""SELECT a.area_code, a.area_name, NULL AS place_name, NULL AS place_kind, NULL AS formerly
                  FROM published.postcodes p JOIN published.areas a USING (area_code) WHERE p.postcode = ?"""
        params = [normalise_postcode(text)]
    else:
        kind, needle = "name", text.casefold()
        if not needle:
            return {"kind": kind, "matches": [], "postcodes_loaded": loaded}
        union = current + (f" UNION ALL SELECT * EXCLUDE (place_code) FROM ({places})" if places else "")
        sql = f"""SELECT area_code, area_name, place_name, place_kind, formerly FROM ({union})
                  WHERE lower(coalesce(place_name, area_name)) = ? OR contains(lower(coalesce(place_name, area_name)), ?)
                  ORDER BY lower(coalesce(place_name, area_name)) <> ?, rank, lower(coalesce(place_name, area_name)),
                           lower(area_name)"""
        params = [needle, needle, needle]
    found = _df(con, sql + f" LIMIT {MAX_FOUND}", params)
    matches = [{k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else v) for k, v in row.items()}
               for row in found.to_dict("records")]
    return {"kind": kind, "matches": matches, "postcodes_loaded": loaded}
