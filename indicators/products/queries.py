"""Read-only, parameterised queries over the published warehouse: the only way pages and exports read data.

Depends on duckdb, numpy, pandas, shapely and (inside the dashboard functions) indicators.stats; never
on Streamlit. User input reaches SQL only as bound parameters; identifiers are never built from input.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from indicators.catalogue import method_rule
from indicators.config import ENGLAND_CODE, REGION_PREFIX, UPPER_TIER_TYPES
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
       v.compared_to_england_998, v.source_id"""


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
    odn = {}
    if table_exists(con, "hcv_odn_values") and table_exists(con, "hcv_odn_areas"):
        rows = con.execute("""
            SELECT l.area_code, arg_max(v.odn_name, v.period_end), arg_max(v.period_label, v.period_end)
            FROM published.hcv_odn_areas l JOIN published.hcv_odn_values v USING (odn_code)
            WHERE v.value IS NOT NULL GROUP BY l.area_code""").fetchall()
        odn = {code: (name, period) for code, name, period in rows}
    catalogue = _df(con, "SELECT * FROM published.indicators")
    areas = upper_tier_areas(con)[["area_code", "area_name", "region_name"]]
    return availability.availability_matrix(areas, catalogue, figures, local, odn, families(con))


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
# statistics come from indicators.stats, the words from indicators.present.text.

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
               v.comparison_note, v.indicator_id IS NOT NULL AS has_row
        FROM published.areas a
        LEFT JOIN published.indicator_values v
          ON v.area_code = a.area_code AND v.indicator_id = ? AND v.period_label = ?
        WHERE a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL}
        ORDER BY a.area_name
    """, [indicator_id, period_label])
    return _with_foi_responses(con, frame, indicator_id, period_label)


_FOI_OVERLAY = ["period_label", "value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator",
                "denominator", "value_note", "compared_to_england", "compared_to_england_998", "foi_reference"]


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


def area_profile(con, area_code: str) -> pd.DataFrame:
    """One row per catalogue indicator for one area at the indicator's latest period (the latest with any
    figure for any area): the area's row (has_row False when it has none), England's and the region's
    values and 95% limits, the spread of current upper-tier areas (n_areas, area_min, area_q25,
    area_median, area_q75, area_max) and `compared_to_region` (stats.compare, 95%).
    """
    from indicators.stats.compare import compare

    info = area(con, area_code)
    region_code = (info or {}).get("region_code") or ""
    frame = _df(con, f"""
        WITH latest AS (
            SELECT indicator_id, arg_max(period_label, period_end) AS period_label
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL),
        ut AS (SELECT area_code FROM published.areas
               WHERE valid_to IS NULL AND area_type IN {_UPPER_TIER_SQL}),
        dist AS (
            SELECT v.indicator_id, count(v.value) AS n_areas, min(v.value) AS area_min,
                   quantile_cont(v.value, 0.25) AS area_q25, median(v.value) AS area_median,
                   quantile_cont(v.value, 0.75) AS area_q75, max(v.value) AS area_max
            FROM latest l JOIN published.indicator_values v USING (indicator_id, period_label)
            JOIN ut USING (area_code)
            WHERE v.value IS NOT NULL GROUP BY ALL)
        SELECT i.indicator_id, i.family, i.title, i.short_title, i.unit, i.value_type, i.multiplier,
               i.polarity, i.ci_method, i.publication_status, i.status_note, l.period_label,
               a.value, a.lower_ci_95, a.upper_ci_95, a.lower_ci_998, a.upper_ci_998,
               a.numerator, a.denominator, coalesce(a.is_suppressed, false) AS is_suppressed,
               coalesce(a.value_note, '') AS value_note, a.compared_to_england, a.compared_to_england_998,
               a.comparison_note, a.indicator_id IS NOT NULL AS has_row,
               e.value AS england_value, e.lower_ci_95 AS england_lower_ci_95,
               e.upper_ci_95 AS england_upper_ci_95,
               r.value AS region_value, r.lower_ci_95 AS region_lower_ci_95,
               r.upper_ci_95 AS region_upper_ci_95,
               coalesce(d.n_areas, 0) AS n_areas, d.area_min, d.area_q25, d.area_median, d.area_q75, d.area_max
        FROM published.indicators i
        LEFT JOIN published.families f USING (family)
        LEFT JOIN latest l USING (indicator_id)
        LEFT JOIN published.indicator_values a
          ON a.indicator_id = i.indicator_id AND a.period_label = l.period_label AND a.area_code = ?
        LEFT JOIN published.indicator_values e
          ON e.indicator_id = i.indicator_id AND e.period_label = l.period_label AND e.area_code = ?
        LEFT JOIN published.indicator_values r
          ON r.indicator_id = i.indicator_id AND r.period_label = l.period_label AND r.area_code = ?
        LEFT JOIN dist d USING (indicator_id)
        ORDER BY f.sort_order NULLS LAST, i.indicator_id
    """, [area_code, ENGLAND_CODE, region_code])
    if frame.empty:
        frame["compared_to_region"] = pd.Series(dtype="str")
        return frame
    frame["compared_to_region"] = compare(frame["lower_ci_95"].astype(float), frame["upper_ci_95"].astype(float),
                                          frame["region_value"].astype(float), frame["polarity"].astype(object))
    frame["region_code"] = region_code
    frame["region_name"] = (info or {}).get("region_name") or ""
    return frame


def peer_groups(con, area_code: str, family: str | None = None) -> pd.DataFrame:
    """The area's peers with what makes each a peer: one row per (peer_group, area).

    peer_group 'neighbours' (bordering areas, longest border first, topped up with the nearest others to at
    least five: published.peer_geographic, with relation 'border' or 'nearest', shared_border_km and
    distance_km; published.neighbours alone in an older warehouse), 'cipfa' (CIPFA nearest neighbours,
    cipfa_rank; only when published.peer_cipfa exists), 'similar' (most similar areas on open variables,
    similar_rank, similar_distance and similar_reasons, one set per indicator family chosen without that
    family's own indicators: similar_family, similar_variables; only `family`'s set when it is given) and
    'region' (other current upper-tier areas in the same region).
    """
    columns = ["peer_group", "area_code", "area_name", "relation", "shared_border_km", "distance_km", "cipfa_rank",
               "similar_rank", "similar_distance", "similar_reasons", "similar_family", "similar_variables",
               "region_name"]
    if table_exists(con, "peer_geographic"):
        parts = [_df(con, f"""
            SELECT 'neighbours' AS peer_group, g.neighbour_code AS area_code, a.area_name, g.relation,
                   g.shared_border_km, g.distance_km, a.region_name
            FROM published.peer_geographic g JOIN published.areas a ON a.area_code = g.neighbour_code
            WHERE g.area_code = ? AND a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL}
            ORDER BY g.rank""", [area_code])]
    else:
        parts = [_df(con, f"""
            SELECT 'neighbours' AS peer_group, n.neighbour_code AS area_code, a.area_name, 'border' AS relation,
                   n.shared_border_km, CAST(NULL AS INTEGER) AS cipfa_rank, a.region_name
            FROM published.neighbours n JOIN published.areas a ON a.area_code = n.neighbour_code
            WHERE n.area_code = ? AND a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL}
            ORDER BY n.shared_border_km DESC, a.area_name""", [area_code])]
    if table_exists(con, "peer_cipfa"):
        parts.append(_df(con, """
            SELECT 'cipfa' AS peer_group, c.neighbour_code AS area_code,
                   coalesce(a.area_name, c.neighbour_name) AS area_name,
                   CAST(NULL AS DOUBLE) AS shared_border_km, CAST(c.rank AS INTEGER) AS cipfa_rank, a.region_name
            FROM published.peer_cipfa c LEFT JOIN published.areas a ON a.area_code = c.neighbour_code
            WHERE c.area_code = ? ORDER BY c.rank""", [area_code]))
    if table_exists(con, "peer_similar"):
        has_family = "family" in [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'published' "
            "AND table_name = 'peer_similar'").fetchall()]
        family_sql = ("s.family AS similar_family, s.variables AS similar_variables" if has_family
                      else "CAST(NULL AS VARCHAR) AS similar_family, CAST(NULL AS VARCHAR) AS similar_variables")
        where, params = "s.area_code = ?", [area_code]
        if has_family and family is not None:
            where, params = where + " AND s.family = ?", params + [family]
        parts.append(_df(con, f"""
            SELECT 'similar' AS peer_group, s.peer_code AS area_code, coalesce(a.area_name, s.peer_name) AS area_name,
                   CAST(s.rank AS INTEGER) AS similar_rank, CAST(s.distance AS DOUBLE) AS similar_distance,
                   s.reasons AS similar_reasons, {family_sql}, a.region_name
            FROM published.peer_similar s LEFT JOIN published.areas a ON a.area_code = s.peer_code
            WHERE {where} ORDER BY {'s.family, ' if has_family else ''}s.rank""", params))
    parts.append(_df(con, f"""
        SELECT 'region' AS peer_group, a.area_code, a.area_name, CAST(NULL AS DOUBLE) AS shared_border_km,
               CAST(NULL AS INTEGER) AS cipfa_rank, a.region_name
        FROM published.areas a
        JOIN published.areas me ON me.area_code = ? AND me.region_code = a.region_code
        WHERE a.valid_to IS NULL AND a.area_type IN {_UPPER_TIER_SQL} AND a.area_code <> me.area_code
        ORDER BY a.area_name""", [area_code]))
    frames = [p.reindex(columns=columns) for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pd.concat(frames, ignore_index=True)


def group_members(peers: pd.DataFrame, group: str, family: str | None) -> list[str]:
    """The codes of one peer group from a `peer_groups` frame; for 'similar', the set for `family` (the group a
    figure of that family is compared with)."""
    members = peers[peers["peer_group"] == group]
    if group == "similar" and "similar_family" in members and members["similar_family"].notna().any():
        members = members[members["similar_family"] == family]
    return list(dict.fromkeys(members["area_code"]))


def _ranks_kind(ci_method: str) -> str:
    return {"logit": "proportion", "log": "rate"}.get(method_rule(ci_method).rank_scale, "identity")


def group_value(frame: pd.DataFrame, indicator: dict) -> dict:
    """A peer group's benchmark value for the areas in `frame` (one indicator and period).

    Pooled, sum(numerator) / sum(denominator) * multiplier, when the indicator's limits are
    computed from counts (ci_method wilson, byars_rate, byars_count) and every area with a value
    has both counts; otherwise the unweighted mean of the areas' values (always for DSRs and
    published figures). Returns dict(value, method 'pooled'|'mean'|'none', n_areas). The same rule
    as `indicators.stats.gaps.gap_measures` uses for its fifths.
    """
    present = frame[pd.to_numeric(frame["value"], errors="coerce").notna()]
    if present.empty:
        return {"value": float("nan"), "method": "none", "n_areas": 0}
    counts = present[["numerator", "denominator"]].apply(pd.to_numeric, errors="coerce")
    poolable = (method_rule(indicator.get("ci_method")).poolable
                and counts.notna().all().all() and (counts["denominator"] > 0).all())
    if poolable:
        value = float(counts["numerator"].sum() / counts["denominator"].sum() * float(indicator["multiplier"]))
        return {"value": value, "method": "pooled", "n_areas": int(len(present))}
    return {"value": float(present["value"].astype(float).mean()), "method": "mean", "n_areas": int(len(present))}


def league_table(con, indicator_id: str, period_label: str | None, area_codes: list[str] | None = None,
                 n_sim: int = 1000) -> tuple[pd.DataFrame, dict]:
    """Areas ranked for one indicator and period, with 95% rank intervals (stats.ranks) among the areas shown.

    `area_codes` limits the table to a peer group (None: every current upper-tier area). Returns the
    frame (map_values columns plus rank, rank_lower, rank_upper and, for a group, compared_to_group)
    sorted by rank with unranked areas last, and the group benchmark dict from `group_value`
    (None without a group).
    """
    from indicators.stats.compare import compare
    from indicators.stats.ranks import rank_intervals

    frame = map_values(con, indicator_id, period_label)
    if area_codes is not None:
        frame = frame[frame["area_code"].isin(list(area_codes))].reset_index(drop=True)
    meta = indicator(con, indicator_id) or {}
    polarity = meta.get("polarity") or "no_polarity"
    ranks = rank_intervals(frame["value"].astype(float), frame["lower_ci_95"].astype(float),
                           frame["upper_ci_95"].astype(float), polarity, n_sim=n_sim,
                           kind=_ranks_kind(meta.get("ci_method")),
                           multiplier=float(meta.get("multiplier") or 100))
    frame = pd.concat([frame, ranks.set_index(frame.index)], axis=1)
    benchmark = None
    if area_codes is not None:
        benchmark = group_value(frame, meta)
        frame["compared_to_group"] = compare(frame["lower_ci_95"].astype(float), frame["upper_ci_95"].astype(float),
                                             benchmark["value"], polarity) if len(frame) else []
    frame = frame.sort_values(["rank", "area_name"], na_position="last", kind="stable").reset_index(drop=True)
    return frame, benchmark


def gap_summary(con, indicator_id: str, period_label: str | None) -> dict | None:
    """stats.gaps.gap_measures over the current upper-tier areas (plus, for deaths with counts, the
    illustrative excess deaths against the best quartile); None when there are no values."""
    from indicators.stats.gaps import excess_deaths_vs_best_quartile, gap_measures

    meta = indicator(con, indicator_id)
    frame = map_values(con, indicator_id, period_label)
    if meta is None or frame["value"].notna().sum() == 0:
        return None
    frame["multiplier"] = float(meta["multiplier"])
    frame["ci_method"] = meta["ci_method"]
    frame["polarity"] = meta["polarity"]
    result = gap_measures(frame, polarity=meta["polarity"])
    if meta.get("family") == "deaths" and frame["numerator"].notna().any():
        excess = excess_deaths_vs_best_quartile(frame["value"].astype(float), frame["numerator"].astype(float))
        excess.pop("per_area", None)
        result["excess_deaths"] = excess
    return result


NOT_TESTED = "not tested"
FUNNEL_POSITIONS = ("within 95% limits", "outside 95% limits (high)", "outside 95% limits (low)",
                    "outside 99.8% limits (high)", "outside 99.8% limits (low)")


def funnel_data(con, indicator_id: str, period_label: str | None, adjusted: bool = False) -> dict:
    """Points and control limits for a funnel plot around England's value (stats.funnel).

    x is the denominator for proportions and crude rates. For directly standardised rates, which
    have no single denominator, x is the effective population numerator / value * multiplier (the
    approach of PHEindicatormethods' funnel functions for rate_type 'dsr'); the chart says so.
    Returns dict(available, reason, kind, x_label, benchmark, points, limits, overdispersion,
    adjusted, phi). `points` has area_code, area_name, value, x, numerator, position (FUNNEL_POSITIONS).
    """
    from indicators.stats.funnel import (
        adjusted_funnel_limits,
        funnel_limits,
        overdispersion,
    )

    meta = indicator(con, indicator_id)
    out = {"available": False, "reason": "", "kind": None, "x_label": "", "benchmark": None,
           "points": pd.DataFrame(), "limits": pd.DataFrame(), "overdispersion": {}, "adjusted": False,
           "phi": None}
    if meta is None or not period_label:
        out["reason"] = "no data in this build"
        return out
    funnel_kind = method_rule(meta.get("ci_method")).funnel
    multiplier = float(meta["multiplier"])
    england = benchmark_value(con, indicator_id, period_label)
    if england is None or pd.isna(england.get("value")):
        out["reason"] = "England's value for this period is not in this build"
        return out
    frame = map_values(con, indicator_id, period_label)
    frame = frame[frame["value"].notna()].copy()
    if funnel_kind == "proportion":
        kind, x, x_label = "proportion", frame["denominator"], "Denominator (people in the indicator's base)"
    elif funnel_kind == "dsr":
        kind = "rate"
        x = frame["numerator"] / frame["value"] * multiplier
        x_label = "Effective population (count ÷ rate; rates are age-standardised)"
    elif funnel_kind == "rate":
        kind, x, x_label = "rate", frame["denominator"], "Population (denominator)"
    else:
        out["reason"] = (f"a funnel plot needs a proportion or a rate with counts; this indicator is a "
                         f"{meta.get('value_type')} with {method_rule(meta.get('ci_method')).name.lower()}")
        return out
    frame["x"] = pd.to_numeric(x, errors="coerce")
    frame = frame[frame["x"].notna() & (frame["x"] > 0)].reset_index(drop=True)
    if len(frame) < 3:
        out["reason"] = "too few areas with both a value and a count to draw a funnel"
        return out
    benchmark = float(england["value"])
    disp = overdispersion(frame["value"], frame["x"], benchmark, kind=kind, multiplier=multiplier)
    phi = float(disp["phi"]) if adjusted and np.isfinite(disp.get("phi", np.nan)) else None
    grid = np.geomspace(frame["x"].min() * 0.8, frame["x"].max() * 1.25, 120)

    def limits(at):
        if phi is not None:
            return adjusted_funnel_limits(benchmark, at, kind=kind, multiplier=multiplier, phi=phi)
        return funnel_limits(benchmark, at, kind=kind, multiplier=multiplier)

    at_points = limits(frame["x"].to_numpy())
    value = frame["value"].to_numpy(float)
    position = np.full(len(frame), FUNNEL_POSITIONS[0], dtype=object)
    position[value > at_points["upper_95"].to_numpy()] = FUNNEL_POSITIONS[1]
    position[value < at_points["lower_95"].to_numpy()] = FUNNEL_POSITIONS[2]
    position[value > at_points["upper_998"].to_numpy()] = FUNNEL_POSITIONS[3]
    position[value < at_points["lower_998"].to_numpy()] = FUNNEL_POSITIONS[4]
    frame["position"] = position
    out.update(available=True, kind=kind, x_label=x_label, benchmark=benchmark,
               points=frame[["area_code", "area_name", "region_name", "value", "lower_ci_95", "upper_ci_95",
                             "x", "numerator", "denominator", "position"]],
               limits=limits(grid), overdispersion=disp, adjusted=phi is not None, phi=phi)
    return out


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
    England), oldest first, and each role's recent trend (stats.trend.recent_trend, 99.8%; NOT_TESTED for
    indicators without counts and denominators, such as age-standardised or published rates)."""
    from indicators.stats.trend import recent_trend

    info = area(con, area_code) or {}
    codes = [("area", area_code), ("region", info.get("region_code")), ("England", ENGLAND_CODE)]
    codes = [(role, code) for role, code in codes if code]
    frame = series(con, indicator_id, [code for _, code in codes])
    role_of = {code: role for role, code in codes}
    frame["role"] = frame["area_code"].map(role_of)
    frame = frame.sort_values(["period_end", "area_code"]).reset_index(drop=True)
    meta = indicator(con, indicator_id) or {}
    # The test needs counts and denominators: proportions (Wilson) and crude rates (Byar) only, as the build's
    # published.recent_trends.
    kind = {"proportion": "proportion", "rate": "rate"}.get(method_rule(meta.get("ci_method")).trend)
    trends = {}
    for role, code in codes:
        part = frame[frame["area_code"] == code]
        trends[role] = (recent_trend(part["numerator"], part["denominator"], part["period_end"], kind=kind)
                        if kind else NOT_TESTED)
    return frame, trends


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


def peer_comparison(con, area_code: str, peer_codes: list[str], peer_group: str | None = None) -> pd.DataFrame:
    """For one area and a peer group: each indicator at its latest period, the group's value (`group_value`
    over the area and its peers) and the area compared with it (stats.compare, 95%). With `peer_group`
    'similar', each indicator uses the most similar areas chosen without its own family (`peer_codes` ignored).

    Columns: indicator_id, short_title, unit, period_label, value, lower_ci_95, upper_ci_95, is_suppressed,
    value_note, group_value, group_method, group_n_areas, compared_to_group.
    """
    from indicators.stats.compare import compare

    profile = area_profile(con, area_code)
    codes = [area_code] + [c for c in peer_codes if c != area_code]
    peers = peer_groups(con, area_code) if peer_group == "similar" else None
    rows = []
    for row in profile.to_dict("records"):
        if pd.isna(row.get("period_label")):
            continue
        if peers is not None:  # most similar areas: the set chosen without this indicator's family
            codes = [area_code] + [c for c in group_members(peers, "similar", row.get("family")) if c != area_code]
        values = map_values(con, row["indicator_id"], row["period_label"])
        group = group_value(values[values["area_code"].isin(codes)], row)
        rows.append({"indicator_id": row["indicator_id"], "short_title": row["short_title"], "unit": row["unit"],
                     "period_label": row["period_label"], "value": row["value"],
                     "lower_ci_95": row["lower_ci_95"], "upper_ci_95": row["upper_ci_95"],
                     "is_suppressed": row["is_suppressed"], "value_note": row["value_note"],
                     "group_value": group["value"], "group_method": group["method"],
                     "group_n_areas": group["n_areas"],
                     "compared_to_group": compare(row["lower_ci_95"], row["upper_ci_95"], group["value"],
                                                  row["polarity"])})
    columns = ["indicator_id", "short_title", "unit", "period_label", "value", "lower_ci_95", "upper_ci_95",
               "is_suppressed", "value_note", "group_value", "group_method", "group_n_areas", "compared_to_group"]
    return pd.DataFrame(rows, columns=columns)
