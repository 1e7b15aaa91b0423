"""ONS mid-year population estimates (MYE2 sheets) -> staged "population" table; depends on pandas, python_calamine, indicators.

Sheets are found by content: a header row reading Code, Name, Geography, All ages, 0,
1, ... 90+ under a title such as "MYE2: Persons by single year of age and sex for local
authorities in the UK, mid-2020". One row per area x year x sex x age band.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from indicators.errors import InputError
from indicators.pipeline.sources.numbers import finite
from indicators.pipeline.sources.workbook import column_letter, read_sheets

SOURCE_ID = "population"

POPULATION_COLUMNS: dict[str, str] = {
    "area_code": "str",
    "area_name": "str",
    "geography": "str",     # as published, e.g. "Unitary Authority"
    "year": "int64",        # mid-year of the estimate
    "sex": "str",           # "Persons", "Males", "Females"
    "age": "str",           # "All ages", "0" .. "89", "90+"
    "age_from": "int64",
    "age_to": "Int64",      # null for the open-ended band and for all ages
    "population": "float64",
}

_HEADER_SEARCH_ROWS = 40
_GSS_CODE = re.compile(r"^[EKWSN]\d{8}$")
_AGE = re.compile(r"^(?P<from>\d{1,3})(?:\s*(?P<plus>\+)|\s*(?:-|\u2013|to)\s*(?P<to>\d{1,3}))?$")
_MID_YEAR = re.compile(r"mid[-\s]?((?:19|20)\d{2})", re.IGNORECASE)
_EXPECTED_HEADER = "a header row with Code, Name, Geography, All ages, 0, 1, ... 90+"


def parse_workbook(path: Path) -> pd.DataFrame:
    """Every area x sex x single-year-of-age estimate in the workbook, in POPULATION_COLUMNS order."""
    path = Path(path)
    sheets = _read_sheets(path)
    frames = []
    for name, rows in sheets.items():
        header_row = _find_header_row(rows)
        if header_row is None:
            continue
        frames.append(_parse_sheet(path, name, rows, header_row))
    if not frames:
        raise InputError(path, "no sheet holds a population-by-single-year-of-age table",
                         expected=_EXPECTED_HEADER)
    return _conform(pd.concat(frames, ignore_index=True))


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """All files' estimates; where two files give the same area x year x sex x age, the file sorted last wins."""
    frames = [parse_workbook(Path(f)) for f in sorted(files, key=lambda p: Path(p).name)]
    if not frames:
        return {"population": _conform(pd.DataFrame(columns=list(POPULATION_COLUMNS)))}
    combined = pd.concat(frames, ignore_index=True)
    combined = combined.drop_duplicates(subset=["area_code", "year", "sex", "age"], keep="last")
    return {"population": _conform(combined)}


def _conform(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column, dtype in POPULATION_COLUMNS.items():
        out[column] = frame[column].astype(dtype) if column in frame.columns else pd.Series(dtype=dtype)
    return out.reset_index(drop=True)


def _read_sheets(path: Path) -> dict[str, list[list]]:
    return read_sheets(path, "an Excel workbook (.xls or .xlsx) as published by ONS")


def _label(value) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return str(int(value)) if float(value).is_integer() else str(value)
    return re.sub(r"\s+", " ", value.strip()) if isinstance(value, str) else ""


def _age_band(label: str) -> tuple[str, int, int | None] | None:
    if label.lower() == "all ages":
        return "All ages", 0, None
    match = _AGE.match(label)
    if not match:
        return None
    start = int(match.group("from"))
    if match.group("plus"):
        return f"{start}+", start, None
    if match.group("to"):
        end = int(match.group("to"))
        return f"{start}-{end}", start, end
    return str(start), start, start


def _find_header_row(rows: list[list]) -> int | None:
    for r, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        labels = [_label(v).lower() for v in row]
        if {"code", "name", "geography", "all ages"} <= set(labels) and "0" in labels:
            return r
    return None


def _sex(path: Path, sheet: str, rows: list[list], header_row: int) -> str:
    texts = [_label(v) for row in rows[:header_row] for v in row if isinstance(v, str)] + [sheet]
    for text in texts:
        low = text.lower()
        if re.search(r"\bfemales?\b", low):
            return "Females"
        if re.search(r"\bmales?\b", low):
            return "Males"
        if re.search(r"\bpersons?\b", low):
            return "Persons"
    raise InputError(path, "cannot tell whether the table is persons, males or females",
                     where=f"sheet {sheet!r}", expected="'Persons', 'Males' or 'Females' in the title or sheet name")


def _year(path: Path, sheet: str, rows: list[list], header_row: int) -> int:
    texts = [_label(v) for row in rows[:header_row] for v in row if isinstance(v, str)] + [sheet, path.name]
    for text in texts:
        match = _MID_YEAR.search(text)
        if match:
            return int(match.group(1))
    raise InputError(path, "cannot tell the year of the estimates", where=f"sheet {sheet!r}",
                     expected="'mid-YYYY' in the title, sheet name or file name")


def _parse_sheet(path: Path, sheet: str, rows: list[list], header_row: int) -> pd.DataFrame:
    head = [_label(v) for v in rows[header_row]]
    lower = [h.lower() for h in head]
    code_col, name_col, geo_col = lower.index("code"), lower.index("name"), lower.index("geography")
    bands = []
    for c, label in enumerate(head):
        band = _age_band(label)
        if band is not None:
            bands.append((c, *band))
    sex = _sex(path, sheet, rows, header_row)
    year = _year(path, sheet, rows, header_row)
    records = []
    seen: dict[str, int] = {}
    for r in range(header_row + 1, len(rows)):
        row = rows[r]
        code = row[code_col].strip() if code_col < len(row) and isinstance(row[code_col], str) else ""
        if not _GSS_CODE.match(code):
            continue  # blank, note and footnote rows
        if code in seen:
            raise InputError(path, f"area {code} appears twice (rows {seen[code] + 1} and {r + 1})",
                             where=f"sheet {sheet!r}, row {r + 1}", expected="each area code once per sheet")
        seen[code] = r
        name = row[name_col].strip() if isinstance(row[name_col], str) else _label(row[name_col])
        geography = row[geo_col].strip() if isinstance(row[geo_col], str) else _label(row[geo_col])
        for c, age, age_from, age_to in bands:
            value = row[c] if c < len(row) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(value, float) and math.isnan(value)):
                raise InputError(path, f"cell holds {value!r}, not a number",
                                 where=f"sheet {sheet!r}, row {r + 1}, cell {column_letter(c)}{r + 1} (age {age})",
                                 expected="a population count in every age column")
            finite(path, float(value), value,
                   f"sheet {sheet!r}, row {r + 1}, cell {column_letter(c)}{r + 1} (age {age})")
            records.append((code, name, geography, year, sex, age, age_from, age_to, float(value)))
    frame = pd.DataFrame.from_records(records, columns=list(POPULATION_COLUMNS))
    frame["age_to"] = frame["age_to"].astype("Int64")
    return frame
