"""Downloads and citation: byte-stable CSV, Markdown metadata, bulk zip, Parquet, warehouse copy, the `export` verb.

Depends on duckdb, pyarrow, pandas and indicators.config/errors/queries/schema; never on Streamlit.
Reads are parameterised queries on a read-only connection; every file write is atomic. The
dashboard's download buttons and `indicators export` call the same functions, so they give the
same bytes for the same warehouse.

CSV format (every CSV this module writes; also stated in each README):
UTF-8 without a byte-order mark; comma-separated; one header row; every line ends with "\\n";
a field is quoted with '"' only when it holds a comma, a double quote, "\\n" or "\\r" (RFC 4180
quoting, quotes doubled); numbers unrounded, in plain decimal notation with the fewest digits
that read back to exactly the stored double (repr(float), with exponents expanded: 0.00001,
never 1e-05; 7000.0 keeps its ".0"); nulls and empty text as empty cells; booleans as
true/false; dates as YYYY-MM-DD (timestamps as ISO 8601); text cells beginning with "=", "+",
"-", "@", tab or carriage return get a leading "'" (OWASP CSV injection guidance), numbers never
do; a constant `build_id` column is the last column of every file.

Without a BOM, Excel on Windows opened by double-click misreads non-ASCII text (e.g. "©");
with one, base R's read.csv, Python's csv module and shell tools see a stray character in the
first column name. The data columns are almost all ASCII, so the files have no BOM (as Our World
in Data and Datasette) and the README tells Excel users to use Data > From Text/CSV.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import numbers
import os
import re
import secrets
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from indicators import config
from indicators.catalogue import load_methods
from indicators.config import ENGLAND_CODE
from indicators.errors import IndicatorsError, discard, writing
from indicators.pipeline import synthetic
from indicators.pipeline.schema import INDICATOR_VALUE_COLUMNS
from indicators.products import queries
from indicators.products.queries import connect

DASHBOARD_NAME = "Drug-treatment postcode lottery dashboard"
LINE_END = "\n"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "parquet", "zip", "duckdb")
BULK_TABLES = ("indicator_values", "indicators", "areas", "sources")
# Public local and community rows (indicators import), in a table of their own beside the official ones: only in
# exports of a warehouse that holds some, each row marked is_official false with a value note saying so.
# Restricted rows never leave (local_data.exportable_local_values is the only way they are read for an export).
LOCAL_TABLE = "local_values"
ALL_INDICATORS = "all_indicators"
ACCESSED_PLACEHOLDER = "[the date you downloaded this file]"

TABLE_DOCS = {
    "indicator_values": "One row per indicator, area and period: the value, its 95% and 99.8% confidence "
                        "limits, the counts behind it, whether it was suppressed, a note, and how the area "
                        "compares with England.",
    LOCAL_TABLE: "LOCAL AND COMMUNITY DATA, NOT OFFICIAL STATISTICS: one row per figure loaded into this warehouse "
                 "with `indicators import` and marked public (is_official is false; value_note begins 'Local data, "
                 "not official statistics'), with who collected it, when, how and under which licence. Figures "
                 "marked restricted are never exported.",
    "indicators": "One row per indicator: its definition, unit, polarity, confidence-interval method, "
                  "caveats, suppression rule and publisher.",
    "areas": "One row per area (England, regions and upper-tier local authorities, including former ones): "
             "its GSS code, name, type, region and the dates it existed.",
    "sources": "One row per official source file used for this build: publisher, URL, licence, "
               "attribution statement, retrieval date and SHA-256 checksum.",
}

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "indicator_values": {
        "indicator_id": "Stable id of the indicator (see indicators.csv); never reused.",
        "area_code": "GSS code of the area: E92000001 England, E12 regions, E06/E08/E09/E10 upper-tier "
                     "local authorities.",
        "area_name": "Name of the area.",
        "period_label": "The period as the publisher labels it, e.g. 2021/22 (financial year), 2019-21 "
                        "(three calendar years pooled), 2021 (calendar year).",
        "period_start": "First day of the period (YYYY-MM-DD).",
        "period_end": "Last day of the period (YYYY-MM-DD).",
        "value": "The indicator's value in the unit given in indicators.csv, unrounded; empty when there "
                 "is no value (suppressed or no data).",
        "lower_ci_95": "Lower 95% confidence limit of value; empty when there is no valid interval.",
        "upper_ci_95": "Upper 95% confidence limit of value; empty when there is no valid interval.",
        "lower_ci_998": "Lower 99.8% confidence limit of value; empty when there is no valid interval.",
        "upper_ci_998": "Upper 99.8% confidence limit of value; empty when there is no valid interval.",
        "numerator": "The count the value is based on (people, completions, deaths); can be fractional "
                     "where the publisher publishes pooled or modelled counts; empty when not published.",
        "denominator": "The population or cohort the count is divided by; empty when not published "
                       "(e.g. for age-standardised rates).",
        "is_suppressed": "true when the publisher withheld the value (small numbers or its disclosure rule).",
        "value_note": "Why a value is missing or qualified; empty when there is nothing to say.",
        "compared_to_england": "The area's 95% interval against England's value for the same period: "
                               "similar, better, worse (higher, lower where neither direction is better) "
                               "or not compared; empty on England's own rows.",
        "compared_to_england_998": "As compared_to_england, using the 99.8% interval.",
        "source_id": "The source the row comes from (see sources.csv); empty on a row that only says no "
                     "source file used for this build has a figure for that area and period.",
        "comparison_note": "Why compared_to_england is 'not compared': suppressed (the publisher withheld the "
                           "value), no value, not calculated (no interval for this kind of figure), no interval, "
                           "or no benchmark (no England figure for that period); empty where the row is compared "
                           "and on England's own rows.",
        "value_status": "What the row holds: value; suppressed (the publisher withheld the value); not calculated "
                        "(the publisher gives the count but calculated no value from it, e.g. ONS calculates no "
                        "rate from fewer than 10 deaths; value_note says why); count only (a count added up for an "
                        "area created after the period, for which the publisher's rate cannot be re-derived); no "
                        "data (no figure in the source files used; value_note says which).",
    },
    "indicators": {
        "indicator_id": "Stable id of the indicator; never reused.",
        "family": "Group of indicators: completions, deaths, hcv, naloxone, need or treatment.",
        "title": "Full title.",
        "short_title": "Short title used on charts.",
        "definition": "What is counted and how the value is calculated.",
        "caveats": "Plain-language caveats, one per line.",
        "unit": "Unit of value and its confidence limits.",
        "value_type": "Kind of statistic: proportion, crude rate, directly standardised rate, count...",
        "multiplier": "Scale of value: 100 for a percentage, 100000 for a rate per 100,000.",
        "polarity": "high_is_good, low_is_good or no_polarity: which direction is better.",
        "ci_method": "How the confidence limits were obtained, and so which statistics the figures support: "
                     "wilson, byars_rate, byars_count, published_dsr, published_rate, published_proportion (the "
                     "publisher's limits) or none (data/methods.toml).",
        "period_type": "What a period is (financial year, pooled calendar years...).",
        "suppression": "The publisher's rule for withholding values.",
        "publisher": "Who publishes the underlying figures.",
        "publisher_id": "The publisher's own id for the indicator or table.",
        "source_ids": "The sources the indicator is built from, comma-separated (see sources.csv).",
        "reaggregate": "counts when counts for reorganised areas are re-added from districts; none otherwise.",
        "publication_status": "open, foi (from freedom-of-information replies), restricted or not collected.",
        "status_note": "Why the indicator is not openly published, when it is not.",
        "availability": "Where figures for the indicator exist, per source: a JSON list of objects with "
                        "source, status (open, foi, restricted, not collected), url and note.",
    },
    "areas": {
        "area_code": "GSS code of the area.",
        "area_name": "Name of the area.",
        "area_type": "country, region, county, unitary, metropolitan district or london borough.",
        "region_code": "GSS code of the area's region; empty for England.",
        "region_name": "Name of the area's region; empty for England.",
        "valid_from": "First day the area existed with this code; empty if before the data begin.",
        "valid_to": "Last day the area existed with this code; empty for current areas.",
    },
    "sources": {
        "source_id": "Id of the source (as in indicator_values.csv and indicators.csv).",
        "title": "Title of the publication.",
        "publisher": "Who publishes it.",
        "file": "Name of the file used.",
        "url": "Where the file was downloaded from.",
        "landing_page": "The publication's web page.",
        "licence": "Licence of the file.",
        "licence_url": "Link to the licence text.",
        "attribution": "The attribution statement the licence asks re-users to include.",
        "retrieved": "When the file was downloaded (ISO 8601).",
        "sha256": "SHA-256 checksum of the file used.",
        "size_bytes": "Size of the file in bytes.",
        "fetch_status": "The source's last fetch before this build: fetched, unchanged, failed or skipped "
                        "(empty when not recorded, e.g. files copied in by hand).",
        "fetch_attempted_at": "When that fetch was attempted (ISO 8601).",
        "fetch_error": "Why that fetch failed; empty unless fetch_status is failed (the file used is then an "
                       "older copy).",
    },
}
COLUMN_DOCS[LOCAL_TABLE] = {
    **COLUMN_DOCS["indicator_values"],
    "value_note": "Begins 'Local data, not official statistics:', then who gave the figure and any note.",
    "source_id": "'local:' and the name of the file it was imported from.",
    "source": "Where the figure comes from (report, system or survey), as given by whoever supplied it.",
    "collected_by": "The organisation or group that collected or extracted the figure.",
    "collection_date": "The date the figure was collected or extracted (ISO 8601).",
    "method": "How the figure was produced, as given.",
    "licence": "The licence the figure may be shared under, as given.",
    "access": "Always public: restricted figures are never exported.",
    "is_official": "Always false: these are not official statistics.",
}
BUILD_ID_DOC = "Id of the warehouse build the rows come from; the same on every row."

SORT_KEYS = {
    "indicator_values": ("indicator_id", "area_code", "period_start", "period_label"),
    "indicators": ("indicator_id",),
    "areas": ("area_code", "valid_from", "valid_to"),
    "sources": ("source_id", "file"),
}

POLARITY_TEXT = {
    "high_is_good": "Higher is better.",
    "low_is_good": "Lower is better.",
    "no_polarity": "Neither direction is better; comparisons say higher or lower.",
}

# method: (name, plain description, reference), from data/methods.toml
CI_METHOD_TEXT = {m.ci_method: (m.name, m.description, m.reference) for m in load_methods().values()}

COMPARISON_NOTES = (
    "similar: England's value lies inside the area's confidence interval.",
    "better / worse: the whole interval lies on one side of England's value; which side is better "
    "follows the indicator's polarity.",
    "higher / lower: as better / worse, for indicators where neither direction is better.",
    "not compared: the area has no valid interval, or England has no value for that period. "
    "This is not the same as similar.",
    "empty: the row is England itself.",
    "compared_to_england uses the 95% interval; compared_to_england_998 uses the stricter 99.8% interval. "
    "(Method: Public Health England, Fingertips technical guidance, 'Comparing with the benchmark'.)",
)

ROW_NOTES = (
    "Suppressed (is_suppressed is true): the publisher withheld the value, usually because the count is "
    "small enough to identify people or to be unreliable. value and its limits are empty; a count may "
    "still be given; value_note says why.",
    "Not calculated (value_status 'not calculated'): nothing was withheld; the publisher gives the count "
    "(numerator) but calculated no value from it, usually because the count is too small (ONS calculates no "
    "rate from fewer than 10 deaths: the Isles of Scilly's 0 deaths in 2019-21 have no rate). value_note says "
    "why.",
    "Count only (value_status 'count only'): the area was created after the period; its count is the sum of "
    "its former districts, and the publisher's rate for the old areas cannot be re-derived for it.",
    "No data (value_status 'no data'): there is no figure for that area and period in the "
    "source files used for this build, or the area did not exist then and the figure cannot be "
    "re-derived for its boundaries; value_note says which. No data is not zero.",
    "Not compared (compared_to_england is 'not compared'): see the comparison categories above.",
)

GENERAL_CAVEATS = (
    "A successful completion is not the same as recovery, and a low completion rate is not in itself poor "
    "care: people on opioid substitution treatment are protected from overdose while they stay in "
    "treatment. Read completions next to drug-related deaths.",
    "Differences between areas mean something only with their uncertainty: use the confidence limits and "
    "the comparison columns, not the order of unrounded values.",
    "Values are unrounded; the dashboard rounds only for display, so a figure here can have more digits "
    "than on screen.",
    "Where an area's boundaries changed (the 2019-2023 reorganisations), figures for earlier periods are "
    "re-added from districts where the counts allow it and left empty where they cannot be re-derived; "
    "value_note says which.",
    "A missing figure is not zero.",
)

FORMAT_NOTES = (
    "Encoding: UTF-8 without a byte-order mark. pandas, R (readr, data.table) and DuckDB read the files "
    "directly. In Excel, open them with Data > From Text/CSV and file origin 65001: Unicode (UTF-8), so "
    "that characters such as the copyright sign display correctly.",
    "Comma-separated, one header row, every line ends with a line feed; a field is enclosed in double "
    "quotes only when it holds a comma, a double quote or a line break (RFC 4180 quoting).",
    "The column order is fixed: the order listed below.",
    "Numbers are unrounded, in plain decimal notation with the fewest digits that read back to exactly "
    "the stored value (0.00001, never 1e-05); decimal columns keep a trailing .0 on whole numbers "
    "(counts can be fractional).",
    "An empty cell is a missing value; text columns also use an empty cell for empty text.",
    "Yes/no columns hold true or false; dates are YYYY-MM-DD.",
    "Spreadsheet safety: a text cell that would begin with =, +, -, @, a tab or a carriage return starts "
    "with a single quote (') added by this export, so that spreadsheets do not run it as a formula (OWASP "
    "CSV injection guidance). Numeric columns are never changed. The Parquet files and the DuckDB "
    "warehouse hold the text unchanged.",
    "Every CSV ends with a build_id column naming the warehouse build the rows come from.",
)


class UnsafeFileName(IndicatorsError, ValueError):
    """A part of a download file name is empty or has characters other than the safe ones."""


# --------------------------------------------------------------------------- CSV cells

def _number(x: float) -> str:
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = repr(x)
    if "e" in text:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text


def _text(text: str) -> str:
    # NUL characters are dropped, not refused: a NUL is not text (no name or note means anything by it), and many
    # CSV readers stop at it or reject the whole file (Excel truncates the cell, R and older Python csv fail), so
    # a cell with one must not make the download unreadable, nor make it unavailable.
    text = text.replace("\x00", "")
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _cell(value: object) -> str:
    """One CSV field: the type of the value decides, so numbers are never treated as text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        return "" if value.is_nan() else format(value, "f")
    if isinstance(value, numbers.Real):
        return _number(float(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return _cell(pd.Timestamp(value))
    return _text(str(value))


def _csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    lines = [",".join(_text(str(c)) for c in columns)]
    lines.extend(",".join(_cell(v) for v in row) for row in rows)
    return (LINE_END.join(lines) + LINE_END).encode("utf-8")


def _column_cells(series: pd.Series) -> list[object]:
    """A frame column as Python values; datetimes that are all midnight become dates."""
    if series.dtype.kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
        present = series.dropna()
        naive = not isinstance(series.dtype, pd.DatetimeTZDtype)
        if naive and (present == present.dt.normalize()).all():
            return [None if pd.isna(v) else v.date() for v in series]
        return [None if pd.isna(v) else v.isoformat() for v in series]
    return series.tolist()


def view_column_order(columns: Iterable[str]) -> list[str]:
    """row_kind first when there is one, the published value columns in their published order, then any others in the
    given order, then build_id."""
    columns = [str(c) for c in columns]
    first = [c for c in (ROW_KIND,) if c in columns]
    known = [c for c in INDICATOR_VALUE_COLUMNS if c in columns]
    others = [c for c in columns if c not in INDICATOR_VALUE_COLUMNS and c not in ("build_id", ROW_KIND)]
    return first + known + others + ["build_id"]


ROW_KIND = "row_kind"
ROW_KINDS = {
    "area": "a row of the view: an area it shows",
    "England": "England's figure for the same indicator and period: the benchmark every area is compared with",
    "region": "the figure published for the area's whole region, for the same indicator and period (the area "
              "profile compares an area with the rest of its region: its rows' region_value)",
    "peer group": "the value of the peer group the view compares the chosen area with, over its peers and never the "
                  "area itself (group_method: pooled, or the average of the peers' values; group_n_areas: how many "
                  "peers have a value), for the same indicator and period",
}


def with_comparators(view: pd.DataFrame, england: pd.DataFrame | None = None, region: pd.DataFrame | None = None,
                     group: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of a view followed by the rows it is compared with, each row marked in `row_kind` (ROW_KINDS):
    'area' for the view's own rows, then 'England', 'region' and 'peer group' rows where given."""
    parts = [view.assign(**{ROW_KIND: "area"})]
    for kind, rows in (("England", england), ("region", region), ("peer group", group)):
        if rows is not None and len(rows):
            if kind != "peer group":  # the view's own columns, so that every row has the same ones
                rows = rows[[c for c in rows.columns if c in view.columns]]
            parts.append(rows.assign(**{ROW_KIND: kind}))
    parts = [p.dropna(axis=1, how="all") if i else p for i, p in enumerate(parts)]  # no all-empty columns to concat
    frame = pd.concat(parts, ignore_index=True, sort=False)
    frame.attrs.update(view.attrs)
    return frame


def view_pairs(frame: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """The (indicator_id, period_label) pairs of a view's rows that have a period, in order, once each."""
    pairs = zip(frame["indicator_id"], frame["period_label"]) if len(frame) else []
    return tuple(dict.fromkeys((str(i), str(p)) for i, p in pairs if isinstance(p, str) and p))


def balance_england_row(england: dict) -> pd.DataFrame:
    """England's row of the balance view (queries.balance_view's `england`: each indicator's latest value)."""
    return pd.DataFrame([{"area_code": ENGLAND_CODE, "area_name": "England", "x_period": england.get("x_period"),
                          "x_value": england.get("x"), "y_period": england.get("y_period"),
                          "y_value": england.get("y")}])


def group_value_row(indicator_id: str, period_label: str, group: dict, label: str) -> pd.DataFrame:
    """The peer group row for with_comparators from queries.group_comparison's dict (group_value, group_method,
    n_with_value)."""
    return group_rows(pd.DataFrame([{"indicator_id": indicator_id, "period_label": period_label,
                                     "group_value": group.get("group_value"), "group_method": group.get("group_method"),
                                     "group_n_areas": group.get("n_with_value")}]), label)


def group_rows(comparison: pd.DataFrame, label: str) -> pd.DataFrame:
    """Peer group rows for with_comparators from a frame with indicator_id, period_label, group_value, group_method
    and group_n_areas (queries.peer_comparison), named `label`."""
    return pd.DataFrame({"indicator_id": comparison["indicator_id"], "area_name": label,
                         "period_label": comparison["period_label"], "value": comparison["group_value"],
                         "group_method": comparison["group_method"], "group_n_areas": comparison["group_n_areas"]})


def view_csv(frame: pd.DataFrame, *, build_id: str | None = None) -> bytes:
    """CSV bytes of exactly the rows and columns a view shows (row order kept, index dropped).

    Columns follow `view_column_order`; the build id comes from `build_id`, else
    `frame.attrs["build_id"]`, else a constant `build_id` column of the frame.
    """
    if frame.columns.duplicated().any():
        raise ValueError(f"view_csv: duplicate column names {sorted(set(frame.columns[frame.columns.duplicated()]))}")
    frame = frame.rename(columns=str)
    stamp = build_id or frame.attrs.get("build_id")
    if "build_id" in frame.columns:
        present = set(frame["build_id"].dropna().astype(str))
        if stamp is None and len(present) == 1:
            stamp = present.pop()
        elif present - {stamp}:
            raise ValueError(f"view_csv: the frame's build_id column {sorted(present)} differs from {stamp!r}")
    if not stamp:
        raise ValueError("view_csv needs the build id: pass build_id=queries.build_info(con)['build_id'] "
                         "or set frame.attrs['build_id']")
    order = view_column_order(frame.columns)
    cells = [_column_cells(frame[c]) for c in order[:-1]]
    rows = (list(row) + [stamp] for row in zip(*cells)) if cells else ([stamp] for _ in range(len(frame)))
    return _csv_bytes(order, rows)


# --------------------------------------------------------------------------- warehouse reads

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def build_stamp(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """(build_id, build_date) of the warehouse (queries.build_info), checked."""
    info = queries.build_info(con)
    if not info.get("build_id"):
        raise IndicatorsError("the warehouse has no build id (published.build_info should hold one row); "
                              "rebuild it with `uv run indicators build`")
    build_id, build_date = str(info["build_id"]), str(info.get("build_date"))[:10]
    try:
        date.fromisoformat(build_date)
    except ValueError:
        raise IndicatorsError(f"published.build_info has build_date {info.get('build_date')!r}; expected "
                              "YYYY-MM-DD") from None
    return build_id, build_date


def is_synthetic(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse was built from synthetic test data (published.build_info.synthetic; older
    warehouses without the column were not). Every download of such a warehouse says so."""
    value = queries.build_info(con).get("synthetic")
    return value is not None and not pd.isna(value) and bool(value)


def _synthetic_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [f"**{synthetic.NOTICE}**", ""] if is_synthetic(con) else []


def indicator_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(queries.indicators(con)["indicator_id"])


def check_indicator(con: duckdb.DuckDBPyConnection, indicator: str | None) -> None:
    """Raise IndicatorsError naming the valid ids when `indicator` is not in the warehouse."""
    if indicator is None:
        return
    valid = indicator_ids(con)
    if indicator not in valid:
        raise IndicatorsError(f"unknown indicator id {indicator!r}; valid ids: {', '.join(valid) or '(none)'}")


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    present = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'published' "
        "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
    if not present:
        raise IndicatorsError(f"the warehouse has no published.{table} table; rebuild it with `uv run indicators build`")
    if table == "indicator_values":
        missing = [c for c in INDICATOR_VALUE_COLUMNS if c not in present]
        if missing:
            raise IndicatorsError(f"published.indicator_values lacks column(s) {', '.join(missing)}; "
                                  "rebuild the warehouse with `uv run indicators build`")
    documented = [c for c in COLUMN_DOCS[table] if c in present]
    return documented + [c for c in present if c not in COLUMN_DOCS[table] and c != "build_id"]


def _select(con: duckdb.DuckDBPyConnection, table: str, where: str = "", params: list | None = None):
    columns = _table_columns(con, table)
    keys = [c for c in SORT_KEYS[table] if c in columns]
    order = ", ".join([f"{_ident(c)} NULLS FIRST" for c in keys] + [_ident(c) for c in columns if c not in keys])
    sql = (f"SELECT {', '.join(_ident(c) for c in columns)} FROM published.{_ident(table)} AS t {where} "
           f"ORDER BY {order}")
    return con.sql(sql, params=params or [])


def exportable_values(con: duckdb.DuckDBPyConnection, indicator: str | None = None) -> duckdb.DuckDBPyRelation:
    """The published value rows every export offers, in the published column order, sorted; one indicator or all."""
    check_indicator(con, indicator)
    if indicator is None:
        return _select(con, "indicator_values")
    return _select(con, "indicator_values", "WHERE indicator_id = ?", [indicator])


def table_relation(con: duckdb.DuckDBPyConnection, table: str, indicator: str | None = None) -> duckdb.DuckDBPyRelation:
    """The rows of one bulk table as exported; with `indicator`, only what concerns that indicator (areas: all)."""
    if table not in BULK_TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(BULK_TABLES)}")
    if table == "indicator_values":
        return exportable_values(con, indicator)
    check_indicator(con, indicator)
    if indicator is None or table == "areas":
        return _select(con, table)
    if table == "indicators":
        return _select(con, table, "WHERE indicator_id = ?", [indicator])
    return _select(con, table, f"WHERE {queries.SOURCES_OF_INDICATORS}", [[indicator], [indicator]])


def local_frame(con: duckdb.DuckDBPyConnection, indicator: str | None = None) -> pd.DataFrame:
    """The public local rows an export carries (local_data.exportable_local_values), of one indicator or all."""
    from indicators.products.local_data import exportable_local_values

    frame = exportable_local_values(con)
    if indicator is not None:
        frame = frame.loc[frame["indicator_id"] == indicator]
    return frame.reset_index(drop=True)


def export_tables(con: duckdb.DuckDBPyConnection, indicator: str | None = None) -> tuple[str, ...]:
    """The tables a bulk export writes: BULK_TABLES, and LOCAL_TABLE when there are public local rows to carry."""
    return BULK_TABLES + ((LOCAL_TABLE,) if len(local_frame(con, indicator)) else ())


def _table_export(con, table: str, indicator: str | None) -> tuple[list[str], list[tuple]]:
    if table == LOCAL_TABLE:
        frame = local_frame(con, indicator)
        columns = [str(c) for c in frame.columns]
        return columns, list(zip(*(_column_cells(frame[c]) for c in columns)))
    relation = table_relation(con, table, indicator)
    return list(relation.columns), relation.fetchall()


def table_csv(con: duckdb.DuckDBPyConnection, table: str, indicator: str | None = None) -> bytes:
    """One bulk table as CSV bytes (the zip's `<table>.csv`), with the build_id column last."""
    build_id, _ = build_stamp(con)
    columns, rows = _table_export(con, table, indicator)
    return _csv_bytes(columns + ["build_id"], (row + (build_id,) for row in rows))


# --------------------------------------------------------------------------- names and citation

_SLUG = re.compile(r"[a-z0-9][a-z0-9_]*")
_WHAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_EXT = re.compile(r"[a-z0-9]{1,10}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def filename_part(text: str) -> str:
    """`text` made safe for a file name: runs of other characters become '-', e.g. '2020/21' -> '2020-21'."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", str(text)).strip("-_")


def view_file_name(parts: Sequence[str], build_date: str, ext: str, *, synthetic_data: bool = False) -> str:
    """The file name of a view's download saying what is in it: its parts (indicator id, period, what the view is,
    area name and code...) made safe and joined by '_', then the build date, e.g.
    'deaths_drug_misuse_2019-21_map_2026-12-04.csv'; 'synthetic_' in front for synthetic test data."""
    safe = [filename_part(str(part))[:60] for part in parts if part is not None and str(part).strip()]
    what = "_".join(p for p in safe if p) or "view"
    return download_name(None, build_date, what, ext, synthetic_data=synthetic_data).replace(f"{ALL_INDICATORS}_", "", 1)


def download_name(indicator_id: str | None, build_date: str, what: str, ext: str, *, synthetic_data: bool = False) -> str:
    """'<indicator id or all_indicators>_<what>_<build date>.<ext>', with 'synthetic_' in front for a warehouse built
    from synthetic test data; raises UnsafeFileName on unsafe parts."""
    if indicator_id is not None and (not isinstance(indicator_id, str) or not _SLUG.fullmatch(indicator_id)
                                     or len(indicator_id) > 80):
        raise UnsafeFileName(f"indicator id {indicator_id!r} is not a safe file-name part "
                             "(lower-case letters, digits and '_', starting with a letter or digit)")
    if not isinstance(build_date, str) or not _ISO_DATE.fullmatch(build_date):
        raise UnsafeFileName(f"build date {build_date!r} is not YYYY-MM-DD")
    try:
        date.fromisoformat(build_date)
    except ValueError:
        raise UnsafeFileName(f"build date {build_date!r} is not a real date") from None
    if not isinstance(what, str) or not _WHAT.fullmatch(what) or len(what) > 80:
        raise UnsafeFileName(f"{what!r} is not a safe file-name part (letters, digits, '_' and '-'; "
                             "use filename_part() for labels like '2020/21')")
    if not isinstance(ext, str) or not _EXT.fullmatch(ext):
        raise UnsafeFileName(f"extension {ext!r} is not 1-10 lower-case letters or digits")
    prefix = "synthetic_" if synthetic_data else ""
    return f"{prefix}{indicator_id or ALL_INDICATORS}_{what}_{build_date}.{ext}"


def _and_join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _citation_text(title: str, publishers: list[str], build_id: str, build_date: str,
                   permalink: str | None, accessed: str, synthetic_data: bool = False) -> str:
    data = f" Data: {_and_join(publishers)}." if publishers else ""
    where = f" Available at {permalink} (accessed {accessed})." if permalink else f" Accessed {accessed}."
    mark = f"{synthetic.NOTICE} " if synthetic_data else ""
    return (f"{mark}{title.strip().rstrip('.')}.{data} {DASHBOARD_NAME}, data build of {build_date} "
            f"(build id {build_id}).{where}")


def citation(con: duckdb.DuckDBPyConnection, page_title: str, permalink: str, *,
             indicator_ids: list[str] | None = None, accessed: date | str | None = None) -> str:
    """'Cite this' text: page title, publishers of the data, this dashboard, build date and id, permalink, access date.

    Publishers are those of the given indicators' sources, else of every source; `accessed`
    defaults to today (a static page, read on a day it cannot know, passes words such as ACCESSED_PLACEHOLDER).
    """
    if not isinstance(page_title, str) or not page_title.strip():
        raise ValueError("citation needs a page title")
    build_id, build_date = build_stamp(con)
    when = accessed if isinstance(accessed, str) else (accessed or date.today()).isoformat()
    return _citation_text(page_title, queries.publishers_of(con, indicator_ids), build_id, build_date, permalink, when,
                          is_synthetic(con))


# --------------------------------------------------------------------------- Markdown

def _bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items]


def _caveat_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").split("\n") if line.strip()]


def _method_lines(method: str) -> list[str]:
    name, description, reference = CI_METHOD_TEXT.get(
        method, (f"method {method}", "No description recorded for this method.", ""))
    lines = [f"{name} (`{method}`): {description}"]
    if reference:
        lines += ["", f"Reference: {reference}"]
    return lines


def _source_lines(sources: list[dict]) -> list[str]:
    lines = []
    for s in sources:
        lines.append(f"- {s.get('title') or s['source_id']} ({s.get('publisher') or 'publisher not recorded'}; "
                     f"source id `{s['source_id']}`): file `{s.get('file') or ''}` from {s.get('url') or 'no URL'}, "
                     f"retrieved {s.get('retrieved') or 'unknown'}, SHA-256 `{s.get('sha256') or 'unknown'}`; "
                     f"licence: {s.get('licence') or 'not recorded'}"
                     + (f" ({s['licence_url']})" if s.get("licence_url") else "") + ".")
    return lines or ["- No source files are recorded for this build."]


def _attribution_lines(sources: list[dict]) -> list[str]:
    seen: list[tuple[str, str, str]] = []
    for s in sources:
        key = (s.get("attribution") or "", s.get("licence") or "", s.get("licence_url") or "")
        if key[0] and key not in seen:
            seen.append(key)
    if not seen:
        return ["No attribution statements are recorded for this build."]
    lines = ["If you re-publish these figures, include these attribution statements:", ""]
    for attribution, licence, url in seen:
        lines.append(f"- {attribution} ({licence}" + (f", {url}" if url else "") + ")")
    return lines


def _availability_lines(text: str | None) -> list[str]:
    try:
        entries = json.loads(text or "[]")
    except ValueError:
        return []
    lines = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("source"):
            line = f"- {entry['source']}: {entry.get('status') or 'status not recorded'}"
            line += f" ({entry['url']})" if entry.get("url") else ""
            line += f". {entry['note']}" if entry.get("note") else ""
            lines.append(line)
    return lines


def _markdown(lines: list[str]) -> bytes:
    text = "\n".join(lines).rstrip("\n") + "\n"
    return text.encode("utf-8")


def view_metadata(con: duckdb.DuckDBPyConnection, indicator_ids: list[str], permalink: str) -> bytes:
    """A Markdown file describing the indicators of a view: definitions, methods, sources, licence, build, citation."""
    ids = list(dict.fromkeys(indicator_ids))
    for indicator_id in ids:
        check_indicator(con, indicator_id)
    build_id, build_date = build_stamp(con)
    rows = {r["indicator_id"]: r for r in queries.indicator_rows(con, ids)}
    indicators = [rows[i] for i in ids]
    titles = "; ".join(i["title"] for i in indicators) or DASHBOARD_NAME
    lines = [f"# Metadata: {titles}", "", *_synthetic_lines(con),
             f"From the {DASHBOARD_NAME}.", "",
             f"- Permalink: {permalink}",
             f"- Build id: `{build_id}`",
             f"- Build date: {build_date}", ""]
    for ind in indicators:
        status = ind.get("publication_status") or "open"
        lines += [f"## {ind['title']} (`{ind['indicator_id']}`)", "",
                  f"- Definition: {ind.get('definition') or 'not recorded'}",
                  f"- Unit: {ind.get('unit') or 'not recorded'}",
                  f"- Value type: {ind.get('value_type') or 'not recorded'}",
                  f"- Polarity: {POLARITY_TEXT.get(ind.get('polarity'), ind.get('polarity') or 'not recorded')}",
                  f"- Period type: {ind.get('period_type') or 'not recorded'}",
                  f"- Suppression: {ind.get('suppression') or 'no suppression rule recorded'}",
                  f"- Publisher: {ind.get('publisher') or 'not recorded'} "
                  f"(publisher's id: {ind.get('publisher_id') or 'none'})",
                  f"- Publication status: {status}" + (f" ({ind['status_note']})" if ind.get("status_note") else ""),
                  "", "### Confidence intervals", ""]
        lines += _method_lines(ind.get("ci_method") or "none")
        lines += ["", "### Caveats", ""]
        lines += _bullets(_caveat_lines(ind.get("caveats"))) or ["- None recorded."]
        lines += ["", "### Sources", ""]
        lines += _source_lines(queries.sources_of(con, [ind["indicator_id"]]))
        availability = _availability_lines(ind.get("availability"))
        if availability:
            lines += ["", "### Where figures exist", ""] + availability
        lines.append("")
    lines += ["## The rows", "", f"The CSV's first column, `{ROW_KIND}`, says what each row is:", ""]
    lines += [f"- {kind}: {meaning}." for kind, meaning in ROW_KINDS.items()] + [""]
    lines += ["## Comparison with England", ""] + _bullets(COMPARISON_NOTES) + [""]
    lines += ["## What empty values mean", ""] + _bullets(ROW_NOTES) + [""]
    lines += ["## Licence and attribution", ""] + _attribution_lines(queries.sources_of(con, ids)) + [""]
    cite = _citation_text(titles, queries.publishers_of(con, ids), build_id, build_date, permalink, ACCESSED_PLACEHOLDER,
                          is_synthetic(con))
    lines += ["## How to cite", "", cite]
    return _markdown(lines)


def bulk_readme(con: duckdb.DuckDBPyConnection, files: dict[str, str], *, indicator: str | None = None) -> bytes:
    """README.md for a bulk export whose tables are written under the names in `files` (table -> file name)."""
    build_id, build_date = build_stamp(con)
    tables = [t for t in export_tables(con, indicator) if t in files]
    exports = {table: _table_export(con, table, indicator) for table in tables}
    readme_name = files.get("README", "README.md")
    scope = f"the indicator `{indicator}`" if indicator else "every indicator"
    lines = [f"# {DASHBOARD_NAME}: data download", "", *_synthetic_lines(con),
             f"The published figures for {scope}, with their definitions, areas and sources.", "",
             f"- Build id: `{build_id}`",
             f"- Build date: {build_date}", "",
             "## Files", "",
             f"- `{readme_name}`: this file."]
    for table in tables:
        lines.append(f"- `{files[table]}` ({len(exports[table][1])} rows): {TABLE_DOCS[table]}")
    lines += ["", "## Format", ""] + _bullets(FORMAT_NOTES) + ["", "## Columns", ""]
    for table in tables:
        lines += [f"### {files[table]}", ""]
        columns = exports[table][0] + ["build_id"]
        for n, column in enumerate(columns, start=1):
            doc = BUILD_ID_DOC if column == "build_id" else COLUMN_DOCS[table].get(
                column, "No description recorded for this column.")
            lines.append(f"{n}. `{column}`: {doc}")
        lines.append("")
    lines += ["## Comparison with England", ""] + _bullets(COMPARISON_NOTES) + [""]
    lines += ["## What the rows mean", ""] + _bullets(ROW_NOTES) + [""]
    lines += ["## Caveats", ""] + _bullets(GENERAL_CAVEATS) + [""]
    names = exports["indicators"][0]
    for row in exports["indicators"][1]:
        ind = dict(zip(names, row))
        caveats = _caveat_lines(ind.get("caveats"))
        if caveats:
            lines += [f"### {ind['title']} (`{ind['indicator_id']}`)", ""] + _bullets(caveats) + [""]
    source_names = exports["sources"][0]
    sources = [dict(zip(source_names, row)) for row in exports["sources"][1]]
    lines += ["## Licence and attribution", ""] + _attribution_lines(sources) + [""]
    title = f"{DASHBOARD_NAME}: data for {indicator}" if indicator else f"{DASHBOARD_NAME}: all data"
    cite = _citation_text(title, sorted({s["publisher"] for s in sources if s.get("publisher")}),
                          build_id, build_date, None, ACCESSED_PLACEHOLDER, is_synthetic(con))
    lines += ["## How to cite", "", cite]
    return _markdown(lines)


# --------------------------------------------------------------------------- zip and Parquet

def _zip_bytes(members: dict[str, bytes], build_date: str, comment: str) -> bytes:
    stamp = date.fromisoformat(build_date)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(max(stamp.year, 1980), stamp.month, stamp.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, members[name], compresslevel=9)
        archive.comment = comment.encode("utf-8")
    return buffer.getvalue()


def bulk_zip(con: duckdb.DuckDBPyConnection, *, indicator: str | None = None) -> bytes:
    """The bulk download: README.md and the four tables as CSV, as a deterministic zip.

    Entries are sorted by name and stamped with the build date at midnight, mode 0644, so the
    same warehouse gives the same bytes (with the same zlib).
    """
    check_indicator(con, indicator)
    build_id, build_date = build_stamp(con)
    files = {table: f"{table}.csv" for table in export_tables(con, indicator)}
    members = {files[table]: table_csv(con, table, indicator) for table in files}
    members["README.md"] = bulk_readme(con, files, indicator=indicator)
    mark = f" {synthetic.NOTICE}" if is_synthetic(con) else ""
    return _zip_bytes(members, build_date, f"{DASHBOARD_NAME}, build {build_id} ({build_date}).{mark}")


def bulk_parquet_zip(con: duckdb.DuckDBPyConnection, *, indicator: str | None = None) -> bytes:
    """The four bulk tables as Parquet files (table_parquet) with the README, as a deterministic zip (as bulk_zip)."""
    check_indicator(con, indicator)
    build_id, build_date = build_stamp(con)
    files = {table: f"{table}.parquet" for table in BULK_TABLES}
    members = {files[table]: table_parquet(con, table, indicator) for table in BULK_TABLES}
    members["README.md"] = bulk_readme(con, files, indicator=indicator)
    mark = f" {synthetic.NOTICE}" if is_synthetic(con) else ""
    return _zip_bytes(members, build_date, f"{DASHBOARD_NAME}, build {build_id} ({build_date}), Parquet.{mark}")


def warehouse_bytes(db_path: Path) -> bytes:
    """The warehouse file as copy_warehouse makes it for download (never any restricted local rows), as bytes."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="indicators-warehouse-") as folder:
        return copy_warehouse(Path(db_path), Path(folder) / "warehouse.duckdb").read_bytes()


def table_parquet(con: duckdb.DuckDBPyConnection, table: str, indicator: str | None = None) -> bytes:
    """One bulk table as Parquet bytes: the CSV's columns with their types, text unchanged, build id in the metadata too."""
    build_id, build_date = build_stamp(con)
    if table == LOCAL_TABLE:
        arrow = pa.Table.from_pandas(local_frame(con, indicator), preserve_index=False)
    else:
        arrow = table_relation(con, table, indicator).to_arrow_table()
    arrow = arrow.append_column("build_id", pa.array([build_id] * arrow.num_rows, type=pa.string()))
    metadata = {"build_id": build_id, "build_date": build_date, "producer": DASHBOARD_NAME}
    if is_synthetic(con):
        metadata["synthetic"] = synthetic.NOTICE
    arrow = arrow.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    return sink.getvalue().to_pybytes()


# --------------------------------------------------------------------------- files

def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and os.replace."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with writing(path, tmp):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        discard(tmp)
    return path


def _out_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise IndicatorsError(f"{out_dir} is a file; --out must be a folder")
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def write_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path, *, indicator: str | None = None) -> list[Path]:
    """The four bulk tables as Parquet files in `out_dir`, named by `download_name`."""
    check_indicator(con, indicator)
    _, build_date = build_stamp(con)
    out_dir = _out_dir(out_dir)
    mark = is_synthetic(con)
    return [write_atomic(out_dir / download_name(indicator, build_date, table, "parquet", synthetic_data=mark),
                         table_parquet(con, table, indicator)) for table in export_tables(con, indicator)]


def copy_warehouse(db_path: Path, out_path: Path) -> Path:
    """A copy of the DuckDB warehouse for download (atomic), WITHOUT restricted local rows.

    The copy is rebuilt table by table rather than copied byte for byte: rows deleted from a
    DuckDB file can survive in its free blocks, so restricted local data must never be in the
    file at all. Every schema but `local` is copied whole; `local.values` keeps public rows only.
    """
    db_path, out_path = Path(db_path), Path(out_path)
    con = connect(db_path)
    try:
        build_id, _ = build_stamp(con)
    finally:
        con.close()
    if out_path.exists() and out_path.resolve() == db_path.resolve():
        raise IndicatorsError(f"{out_path} is the warehouse itself; choose another --out")
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with writing(out_path, tmp, f"{tmp}.wal"):
            return _copy_into(db_path, tmp, out_path, build_id)
    finally:
        discard(tmp, f"{tmp}.wal")


def _copy_into(db_path: Path, tmp: Path, out_path: Path, build_id: str) -> Path:
    """Copy the warehouse table by table into the new file `tmp`, then move it to `out_path`."""
    copied = duckdb.connect(str(tmp))
    try:
        copied.execute("ATTACH ? AS src (READ_ONLY)", [str(db_path)])
        tables = copied.execute("""SELECT table_schema, table_name FROM information_schema.tables
                                   WHERE table_catalog = 'src' AND table_type = 'BASE TABLE'
                                   ORDER BY table_schema, table_name""").fetchall()
        for schema, table in tables:
            q_schema, q_table = _quote_identifier(schema), _quote_identifier(table)
            copied.execute(f"CREATE SCHEMA IF NOT EXISTS {q_schema}")
            where = " WHERE access = 'public'" if schema == "local" else ""
            copied.execute(f"CREATE TABLE {q_schema}.{q_table} AS SELECT * FROM src.{q_schema}.{q_table}{where}")
        copied.execute("DETACH src")
        copied_id = copied.execute("SELECT build_id FROM published.build_info").fetchall()[0][0]
        copied.execute("CHECKPOINT")
    except BaseException:
        with contextlib.suppress(Exception):  # closing a failed database must not hide why it failed
            copied.close()
        raise
    copied.close()
    if copied_id != build_id:
        raise IndicatorsError(f"the copy of {db_path} has build id {copied_id!r}, not {build_id!r}; "
                              "was the warehouse rebuilt during the copy? Try again.")
    os.replace(tmp, out_path)
    return out_path


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _single_file(out: Path, default_name: str) -> Path:
    """Where a one-file export (zip, duckdb) goes: into `out` under `default_name` when `out` is an existing
    folder, else to the file `out` itself (its folder created if missing)."""
    out = Path(out)
    if out.is_dir():
        return out / default_name
    with writing(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def export(db_path: Path, out: Path, indicator: str | None, fmt: str) -> list[Path]:
    """Write the downloads for `indicator` (or all) in format csv, parquet, zip or duckdb.

    csv and parquet write several files into the folder `out` (created if missing). zip and duckdb write one
    file: into `out` under its download name when `out` is an existing folder, else to the file `out`
    (`--out bulk.zip` writes bulk.zip)."""
    if fmt not in FORMATS:
        raise IndicatorsError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "duckdb" and indicator is not None:
        raise IndicatorsError("the warehouse file always holds every indicator; drop --indicator, "
                              "or choose --format csv, parquet or zip")
    con = connect(db_path)
    try:
        check_indicator(con, indicator)
        _, build_date = build_stamp(con)
        mark = is_synthetic(con)
        if fmt == "zip":
            return [write_atomic(_single_file(out, download_name(indicator, build_date, "data", "zip",
                                                                 synthetic_data=mark)),
                                 bulk_zip(con, indicator=indicator))]
        if fmt == "parquet":
            return write_parquet(con, out, indicator=indicator)
        if fmt == "csv":
            out = _out_dir(out)
            tables = export_tables(con, indicator)
            files = {table: download_name(indicator, build_date, table, "csv", synthetic_data=mark)
                     for table in tables}
            files["README"] = download_name(indicator, build_date, "README", "md", synthetic_data=mark)
            written = [write_atomic(out / files[table], table_csv(con, table, indicator)) for table in tables]
            written.append(write_atomic(out / files["README"], bulk_readme(con, files, indicator=indicator)))
            return written
        target = _single_file(out, download_name(None, build_date, "warehouse", "duckdb", synthetic_data=mark))
    finally:
        con.close()
    return [copy_warehouse(db_path, target)]


def _run_export(args: argparse.Namespace) -> int:
    paths = export(args.db or config.default_db_path(), args.out, args.indicator, args.format)
    for path in paths:
        print(path)
    return 0


def add_cli(subparsers, name: str = "export") -> argparse.ArgumentParser:
    """Register `indicators export [--db PATH] --out PATH [--indicator ID] [--format csv|parquet|zip|duckdb]`."""
    p = subparsers.add_parser(
        name, help="write the downloads (CSV + README, Parquet, zip or the warehouse file)",
        description="Write the same files the dashboard's download buttons offer. File names carry the "
                    "indicator id (or all_indicators) and the data build date.")
    p.add_argument("--db", type=Path, default=None,
                   help="warehouse file (default data/warehouse.duckdb, or INDICATORS_DB)")
    p.add_argument("--out", type=Path, required=True,
                   help="csv, parquet: the folder to write into (created if missing); zip, duckdb: the file to "
                        "write (e.g. bulk.zip), or an existing folder to write it into under its download name")
    p.add_argument("--indicator", default=None, help="only this indicator id (default: every indicator)")
    p.add_argument("--format", choices=FORMATS, default="csv",
                   help="csv: the four tables and a README; parquet: the four tables; zip: the bulk zip; "
                        "duckdb: a copy of the warehouse (default csv)")
    p.set_defaults(handler=_run_export)
    return p
