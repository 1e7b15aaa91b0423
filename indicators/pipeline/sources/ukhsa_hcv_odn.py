"""Parser for UKHSA hepatitis C treatment figures per operational delivery network (ODN) and a local authority -> ODN lookup; depends on pandas and indicators.errors (and release_foi.read_rows).

UKHSA's 'Hepatitis C in England' data tables give HCV treatment per ODN, not per local
authority. This source stages them at ODN level only, with a lookup of which upper-tier areas
each ODN covers, so pages can say "HCV treatment in your ODN (N areas: ...)" and never present
an ODN figure as an area's own. Two kinds of file, told apart by their header (CSV, or the
first sheet of an .xlsx), both required:

- the ODN table: a header with 'ODN name' (or 'Operational delivery network'), optionally
  'ODN code' and 'Risk group', then one column per financial year ('2021/22', '2021-22');
  cells are numbers of people starting treatment; '*', '[c]', '[x]', ':' and '..' mark values
  withheld by UKHSA (kept missing and flagged suppressed); blank is missing.
  With a 'Risk group' column, rows whose group mentions injecting are kept (people who inject
  drugs); without one the figures cover everyone treated and the note says so.
- the lookup: a header with 'area_code' and 'odn_name' (optionally 'area_name', 'odn_code').

Staged tables: `hcv_odn_values` (odn_code, odn_name, period_label, period_start, period_end,
value, numerator, denominator, is_suppressed, value_note, population, source_id, source_file)
and `la_odn` (area_code, area_name, odn_code, odn_name, source_file).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from indicators.errors import InputError, require_unique_columns
from indicators.pipeline.sources.numbers import finite
from indicators.pipeline.sources.release_foi import read_rows

SOURCE_ID = "ukhsa_hcv_odn"
HCV_ODN_COLUMNS = ["odn_code", "odn_name", "period_label", "period_start", "period_end", "value", "numerator",
                   "denominator", "is_suppressed", "value_note", "population", "source_id", "source_file"]
LA_ODN_COLUMNS = ["area_code", "area_name", "odn_code", "odn_name", "source_file"]

_FINANCIAL_YEAR = re.compile(r"^(20\d\d)\s*[-/]\s*(\d\d)$")
_GSS = re.compile(r"^E\d{8}$")
_SUPPRESSED = {"*", "[c]", "[x]", ":", "..", "c", "x"}
_HEADER_SEARCH_ROWS = 20
_TABLE_EXPECTED = "a UKHSA ODN table (ODN name, year columns such as 2021/22) or a lookup (area_code, odn_name)"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", str(text).lower().replace("&", " and ")).split())


def odn_slug(name: str) -> str:
    """A stable code for an ODN given by name only: 'North & East London' -> 'odn:north-and-east-london'."""
    return "odn:" + _norm(name).replace(" ", "-")


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """`hcv_odn_values` and `la_odn` from the supplied ODN table(s) and lookup(s); both kinds required."""
    tables, lookups = [], []
    for path in map(Path, files):
        kind, parsed = parse_file(path)
        (tables if kind == "table" else lookups).append(parsed)
    names = ", ".join(Path(p).name for p in files)
    if not tables or not lookups:
        missing = ("an ODN table (ODN name and year columns)" if not tables
                   else "a local authority to ODN lookup (area_code, odn_name)")
        raise InputError(names, f"{SOURCE_ID} needs two files and {missing} is missing",
                         expected="both an ODN table and a local authority to ODN lookup")
    lookup = pd.concat(lookups, ignore_index=True).drop_duplicates(["area_code", "odn_name"], ignore_index=True)
    twice = lookup.loc[lookup.duplicated("area_code", keep=False)]
    if not twice.empty:
        first = twice.iloc[0]
        raise InputError(" and ".join(sorted(set(twice["source_file"]))),
                         f"area {first['area_code']} is in more than one ODN",
                         expected="each area in exactly one ODN")
    values = pd.concat(tables, ignore_index=True)
    by_name = {}
    for code, name in lookup[["odn_code", "odn_name"]].itertuples(index=False):
        by_name.setdefault(_norm(name), code)
    missing_code = values["odn_code"].eq("")
    values.loc[missing_code, "odn_code"] = [by_name.get(_norm(n)) or odn_slug(n)
                                           for n in values.loc[missing_code, "odn_name"]]
    table_codes = {_norm(n): c for n, c in zip(values["odn_name"], values["odn_code"])}
    empty_code = lookup["odn_code"].eq("")
    lookup.loc[empty_code, "odn_code"] = [table_codes.get(_norm(n)) or odn_slug(n)
                                          for n in lookup.loc[empty_code, "odn_name"]]
    repeated = values.duplicated(["odn_code", "period_label"], keep=False)
    if repeated.any():
        first = values.loc[repeated].iloc[0]
        raise InputError(" and ".join(sorted(set(values.loc[repeated, "source_file"]))),
                         f"{first['odn_name']} {first['period_label']} appears more than once",
                         expected="one figure per ODN and year")
    return {"hcv_odn_values": values[HCV_ODN_COLUMNS].reset_index(drop=True),
            "la_odn": lookup[LA_ODN_COLUMNS].reset_index(drop=True)}


def parse_file(path: Path) -> tuple[str, pd.DataFrame]:
    """('table', hcv_odn_values rows) or ('lookup', la_odn rows), decided by the header."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)", expected=_TABLE_EXPECTED)
    rows = read_rows(path, _TABLE_EXPECTED)
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        cells = [_norm(c) for c in row]
        if "area code" in cells and any(c in ("odn name", "odn") for c in cells):
            require_unique_columns(path, row, where=f"row {i + 1} (the header)")
            return "lookup", _parse_lookup(path, rows, i)
        if any(c in ("odn name", "odn", "operational delivery network") for c in cells) \
                and any(_FINANCIAL_YEAR.match(c.strip()) for c in row):
            require_unique_columns(path, row, where=f"row {i + 1} (the header)")
            return "table", _parse_table(path, rows, i)
    raise InputError(path, "no header row of an ODN table or an area to ODN lookup",
                     where=f"rows 1-{_HEADER_SEARCH_ROWS}", expected=_TABLE_EXPECTED)


def _parse_lookup(path: Path, rows: list[list[str]], header_index: int) -> pd.DataFrame:
    cells = [_norm(c) for c in rows[header_index]]
    col = {name: cells.index(name) for name in ("area code", "area name", "odn code", "odn name", "odn")
           if name in cells}
    name_col = col.get("odn name", col.get("odn"))
    out = []
    for number, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        row = row + [""] * (len(cells) - len(row))
        if not any(row):
            continue
        code, odn_name = row[col["area code"]], row[name_col]
        if not _GSS.match(code):
            raise InputError(path, f"{code!r} is not an English GSS area code", where=f"row {number}, column area_code",
                             expected="an upper-tier code such as E06000001")
        if not odn_name:
            raise InputError(path, "no ODN name", where=f"row {number}, column odn_name", expected="the ODN's name")
        out.append(dict(area_code=code, area_name=row[col["area name"]] if "area name" in col else "",
                        odn_code=row[col["odn code"]] if "odn code" in col else "", odn_name=odn_name,
                        source_file=path.name))
    if not out:
        raise InputError(path, "the lookup has a header but no rows", where=f"after row {header_index + 1}",
                         expected="one row per area")
    return pd.DataFrame(out, columns=LA_ODN_COLUMNS)


def _parse_table(path: Path, rows: list[list[str]], header_index: int) -> pd.DataFrame:
    header = rows[header_index]
    cells = [_norm(c) for c in header]
    name_col = next(i for i, c in enumerate(cells) if c in ("odn name", "odn", "operational delivery network"))
    code_col = cells.index("odn code") if "odn code" in cells else None
    group_col = cells.index("risk group") if "risk group" in cells else None
    periods = {}
    for j, text in enumerate(header):
        m = _FINANCIAL_YEAR.match(text.strip())
        if m:
            if (int(m[1]) + 1) % 100 != int(m[2]):
                raise InputError(path, f"{text!r} is not a financial year", where=f"row {header_index + 1}, column {j + 1}",
                                 expected="e.g. 2021/22")
            start = int(m[1])
            periods[j] = (f"{start}/{m[2]}", date(start, 4, 1), date(start + 1, 3, 31))
    out = []
    for number, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        row = row + [""] * (len(header) - len(row))
        name = row[name_col]
        if not name:
            continue
        group = row[group_col] if group_col is not None else ""
        if group_col is not None and "inject" not in group.lower():
            continue
        population = "people who inject drugs" if group_col is not None else "everyone treated"
        for j, (label, start, end) in periods.items():
            text = row[j].replace(",", "").strip()
            suppressed = text.lower() in _SUPPRESSED
            value = float("nan")
            if text and not suppressed:
                try:
                    value = float(text)
                except ValueError:
                    raise InputError(path, f"{row[j]!r} is not a number", where=f"row {number}, column '{header[j]}'",
                                     expected="a number of people, blank, or a suppression marker "
                                              "(*, [c], [x], :, ..)") from None
                finite(path, value, row[j], f"row {number}, column '{header[j]}'")
                if value < 0:
                    raise InputError(path, f"{row[j]!r} is negative", where=f"row {number}, column '{header[j]}'",
                                     expected="a count of 0 or more")
            note = ("Figure for the whole ODN, not for any one local authority"
                    + ("; people who inject drugs." if group_col is not None
                       else "; the table does not separate people who inject drugs, so it covers everyone treated."))
            if suppressed:
                note = f"Withheld by UKHSA (marker '{row[j]}'). " + note
            out.append(dict(odn_code=row[code_col] if code_col is not None else "", odn_name=name,
                            period_label=label, period_start=pd.Timestamp(start), period_end=pd.Timestamp(end),
                            value=value, numerator=value, denominator=float("nan"), is_suppressed=suppressed,
                            value_note=note, population=population, source_id=SOURCE_ID, source_file=path.name))
    if not out:
        for_whom = " for people who inject drugs" if group_col is not None else ""
        raise InputError(path, f"the ODN table has no rows{for_whom}",
                         where=f"after row {header_index + 1}", expected="one row per ODN")
    return pd.DataFrame(out, columns=HCV_ODN_COLUMNS)
