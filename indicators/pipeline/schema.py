"""Column contracts shared by parsers, the build and the query layer, and the one warehouse-table test; depends on pandas.

Every source parser returns observations in `OBSERVATION_COLUMNS` order: one row per
publisher series x area x period x sex x age, on the publisher's own scale, with
missing values as nulls and the reason in `value_note`.
"""

from __future__ import annotations

import pandas as pd

# The staged long format every parser of indicator values returns.
OBSERVATION_COLUMNS: dict[str, str] = {
    "source_id": "str",          # folder name of the source, e.g. "ons_deaths"
    "source_file": "str",        # file name inside the raw cache folder
    "edition": "str",            # publisher's edition or extract date, e.g. "2021"
    "series": "str",             # publisher's series key, e.g. "fingertips:90244", "ons_deaths:misuse_3yr"
    "area_code": "str",          # GSS code as published
    "area_name": "str",
    "period_label": "str",       # as published, normalised dash: "2019-21", "2021/22", "2021"
    "period_start": "datetime64[ms]",
    "period_end": "datetime64[ms]",
    "sex": "str",                # "Persons", "Males", "Females"
    "age": "str",                # "All ages" or the publisher's band
    "value": "float64",
    "lower_ci_95": "float64",
    "upper_ci_95": "float64",
    "lower_ci_998": "float64",
    "upper_ci_998": "float64",
    "numerator": "float64",
    "denominator": "float64",
    "is_suppressed": "bool",     # the publisher withheld the value (marker or note)
    "value_note": "str",         # why a value is missing or qualified; "" when nothing to say
    "publisher_comparison": "str",  # publisher's own comparison column, kept only as a cross-check
}

# The published contract (README "Published contract"): column order is stable.
INDICATOR_VALUE_COLUMNS: list[str] = [
    "indicator_id", "area_code", "area_name", "period_label", "period_start", "period_end",
    "value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998",
    "numerator", "denominator", "is_suppressed", "value_note",
    "compared_to_england", "compared_to_england_998", "source_id", "comparison_note", "value_status",
]

# What a row of published.indicator_values holds (its `value_status`), one word each; the words on pages come
# from indicators.present.text. A row of an indicator that is not published for areas has no row at all
# (published.indicators.publication_status says so).
VALUE_STATUSES: dict[str, str] = {
    "value": "a value",
    "suppressed": "the publisher withheld the value (is_suppressed)",
    "not calculated": "the publisher gives the count but calculated no value from it (ONS calculates no rate from "
                      "fewer than 10 deaths); value_note says why",
    "count only": "a count re-aggregated to boundaries the publisher's rate does not cover (an area created after "
                  "the period), so no rate",
    "no data": "no figure in the source files used for the build (value_note says which files lacked it)",
}


def value_status_sql(harmonisation: str | None = "harmonisation") -> str:
    """The SQL expression of `value_status` over a row with value, is_suppressed, numerator and, when named, the
    build's harmonisation column (a count re-aggregated from districts is 'count only'; any other count without a
    value came from the publisher without one: 'not calculated')."""
    count_only = (f"WHEN numerator IS NOT NULL AND starts_with(coalesce({harmonisation}, ''), 're-aggregated') "
                  "THEN 'count only' " if harmonisation else "")
    return ("CASE WHEN value IS NOT NULL THEN 'value' "
            "WHEN coalesce(is_suppressed, false) THEN 'suppressed' "
            f"{count_only}"
            "WHEN numerator IS NOT NULL THEN 'not calculated' "
            "ELSE 'no data' END")


def empty_observations() -> pd.DataFrame:
    """An empty frame with the observation columns and dtypes."""
    return conform_observations(pd.DataFrame(columns=list(OBSERVATION_COLUMNS)))


def conform_observations(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with exactly the observation columns, in order, with their dtypes.

    Missing optional columns are added as nulls (numbers), "" (text) or False (flags).
    """
    out = pd.DataFrame(index=frame.index)
    for column, dtype in OBSERVATION_COLUMNS.items():
        if column in frame.columns:
            series = frame[column]
        elif dtype == "float64":
            series = pd.Series(float("nan"), index=frame.index)
        elif dtype == "bool":
            series = pd.Series(False, index=frame.index)
        elif dtype.startswith("datetime"):
            series = pd.Series(pd.NaT, index=frame.index)
        else:
            series = pd.Series("", index=frame.index)
        if dtype == "str":
            series = series.fillna("").astype(str)
        elif dtype == "bool":
            series = series.fillna(False).astype(bool)
        elif dtype.startswith("datetime"):
            series = pd.to_datetime(series).astype(dtype)
        else:
            series = pd.to_numeric(series, errors="raise").astype(dtype)
        out[column] = series
    return out.reset_index(drop=True)


def table_exists(con, schema: str, table: str) -> bool:
    """Whether `schema.table` exists on the DuckDB connection `con` (optional tables: peer_cipfa, local.values...)."""
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                       [schema, table]).fetchall()[0][0] > 0
