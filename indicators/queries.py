"""Read-only, parameterised queries over the published warehouse: the only way pages and exports read data.

Depends on duckdb and pandas; never on Streamlit. User input reaches SQL only as bound
parameters; identifiers are never built from input.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from indicators.config import ENGLAND_CODE
from indicators.errors import WarehouseMissing

UPPER_TIER_TYPES = ("county", "unitary", "metropolitan district", "london borough")


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


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def build_info(con) -> dict:
    rows = _df(con, "SELECT * FROM published.build_info")
    return rows.iloc[0].to_dict() if not rows.empty else {}


def indicators(con) -> pd.DataFrame:
    """The catalogue, in display order, with the periods each indicator has."""
    return _df(con, """
        SELECT i.*, coalesce(p.n_periods, 0) AS n_periods, p.latest_period, p.latest_period_end
        FROM published.indicators i
        LEFT JOIN (
            SELECT indicator_id, count(DISTINCT period_label) AS n_periods,
                   arg_max(period_label, period_end) AS latest_period, max(period_end) AS latest_period_end
            FROM published.indicator_values WHERE value IS NOT NULL OR numerator IS NOT NULL
            GROUP BY ALL) p USING (indicator_id)
        ORDER BY CASE i.family WHEN 'completions' THEN 1 WHEN 'deaths' THEN 2 WHEN 'hcv' THEN 3
                 WHEN 'naloxone' THEN 4 WHEN 'need' THEN 5 ELSE 6 END, i.indicator_id
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
    return _df(con, """
        SELECT area_code, area_name, area_type, region_code, region_name FROM published.areas
        WHERE valid_to IS NULL AND area_type IN ('county','unitary','metropolitan district','london borough')
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
          AND a.area_type IN ('county','unitary','metropolitan district','london borough')
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
                                   AND v.area_code NOT IN ('E92000001') AND NOT starts_with(v.area_code, 'E12')
                                   THEN v.area_code END) AS n_areas_with_value
        FROM published.indicators i LEFT JOIN v USING (indicator_id) LEFT JOIN latest l USING (indicator_id)
        GROUP BY i.indicator_id ORDER BY i.indicator_id
    """)


def source_summary(con) -> pd.DataFrame:
    return _df(con, "SELECT * FROM published.sources ORDER BY source_id, file")
