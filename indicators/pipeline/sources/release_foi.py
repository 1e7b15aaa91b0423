"""Parser for the charity Release's take-home naloxone FOI survey tables (one row per local authority); depends on pandas, python_calamine and indicators.errors/schema.

Release asked all 152 English local authorities, under the Freedom of Information Act, whether
they supply take-home naloxone (THN) and how many kits were dispensed in a financial year
('Take-home Naloxone in England: 2016/17', https://www.release.org.uk/blog/take-home-naloxone-england;
'Finding a Needle in a Haystack: Take-Home Naloxone in England 2017/18',
https://www.release.org.uk/naloxone-2017-18), and published per-authority provision and
coverage (kits per 100 people using opiates; in 2017/18 also per opiate client in treatment).
Release publishes these as maps and dashboards, not as a download, so this parser reads the
per-authority table in the layout below (CSV, or the first sheet with the header of an .xlsx),
which a user transcribes or receives from Release. Columns are found by name, case-insensitive,
in a header row within the first 20 rows:

    Local authority                                   required; Release's name for the authority
    Area code                                         optional; GSS code ("ONS code", "LA code" also accepted)
    Year                                              optional; "2017/18" (else taken from the file name)
    Provision of take-home naloxone                   required; Yes / No / Planned / No response
    Number of take-home naloxone kits dispensed       required (may be blank)
    Estimated number of people using opiates          required (may be blank)
    Kits per 100 people using opiates                 required (may be blank; computed from the two above when blank)
    Number of opiate clients in treatment             optional
    Kits per 100 opiate clients in treatment          optional

Blank cells and "-", "n/a", "not provided", "no response", "unknown" are missing values, each
with a note; any other text in a number column is an InputError naming the row and column.
Names are matched to codes by the build (exact normalised name); the licence of Release's data
is not stated, so every observation's note says so.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import date
from pathlib import Path

import pandas as pd

from indicators.errors import InputError, require_unique_columns
from indicators.pipeline.schema import conform_observations, empty_observations
from indicators.pipeline.sources.numbers import finite

SOURCE_ID = "release_foi"
SERIES_OCU = "release_foi:kits_per_100_ocu"
SERIES_CLIENTS = "release_foi:kits_per_100_opiate_clients"
LICENCE = "unclear (FOI responses published by Release)"
NOTE_SUFFIX = "Local authority's FOI answer to Release, not official statistics; Release states no licence."

_HEADER_SEARCH_ROWS = 20
_MISSING = {"", "-", "--", "n/a", "na", "not provided", "no response", "unknown", "not known", "*", ".."}
_FINANCIAL_YEAR = re.compile(r"(?<!\d)(20\d\d)\s*[-_/ ]\s*(\d\d)(?!\d)")
_GSS = re.compile(r"^E\d{8}$")
_PROVISION = {"yes": "Yes", "y": "Yes", "no": "No", "n": "No", "planned": "Planned", "plans": "Planned",
              "no response": "No response", "": ""}

# field -> predicate on the normalised header cell
_COLUMNS = {
    "area_name": lambda c: c in ("local authority", "local authority name", "local authority area"),
    "area_code": lambda c: c in ("area code", "ons code", "la code", "gss code"),
    "year": lambda c: c in ("year", "financial year", "period"),
    "provision": lambda c: c.startswith("provision"),
    "kits": lambda c: "kits" in c and "per 100" not in c and ("dispensed" in c or "number" in c),
    "ocu": lambda c: "opiate" in c and "per 100" not in c and "client" not in c
                     and ("estimate" in c or "people using" in c),
    "per_100_ocu": lambda c: "per 100" in c and "client" not in c and "opiate" in c,
    "clients": lambda c: "client" in c and "per 100" not in c,
    "per_100_clients": lambda c: "per 100" in c and "client" in c,
}
_REQUIRED = ("area_name", "provision", "kits", "ocu", "per_100_ocu")
_HEADER_NAMES = {
    "area_name": "Local authority", "provision": "Provision of take-home naloxone",
    "kits": "Number of take-home naloxone kits dispensed", "ocu": "Estimated number of people using opiates",
    "per_100_ocu": "Kits per 100 people using opiates",
}


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """`observations` for the kits-per-100 series from every Release table; one edition per period."""
    frames = [parse_table(Path(p)) for p in files]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_observations()
    key = ["series", "area_code", "area_name", "period_label"]
    repeated = frame.duplicated(key, keep=False)
    if repeated.any():
        first = frame.loc[repeated].iloc[0]
        raise InputError(" and ".join(sorted(set(frame.loc[repeated, "source_file"]))),
                         f"{first['area_name']} {first['period_label']} appears more than once",
                         expected="one row per local authority and year (two copies of the same survey?)")
    return {"observations": conform_observations(frame)}


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def read_rows(path: Path, expected: str) -> list[list[str]]:
    """All rows of a CSV, or of the first sheet of an .xlsx/.xls, as text cells."""
    path = Path(path)
    head = path.read_bytes()[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise InputError(path, "the file is a web page (HTML), not a table", where="line 1", expected=expected)
    if path.suffix.lower() in (".xlsx", ".xls", ".xlsm"):
        from python_calamine import CalamineWorkbook

        from indicators.pipeline.sources.workbook import check_bounds

        check_bounds(path, expected)
        try:
            workbook = CalamineWorkbook.from_path(str(path))
            rows = workbook.get_sheet_by_index(0).to_python()
        except Exception as exc:  # calamine raises its own error types for non-workbooks
            raise InputError(path, f"not a readable Excel workbook ({type(exc).__name__}: {exc})",
                             expected=expected) from None
        return [[_cell(c) for c in row] for row in rows]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")
    return [[_text(c) for c in row] for row in csv.reader(io.StringIO(text))]


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _find_columns(path: Path, rows: list[list[str]]) -> tuple[int, dict[str, int]]:
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        cells = [c.lower() for c in row]
        found: dict[str, int] = {}
        for field, matches in _COLUMNS.items():
            for j, cell in enumerate(cells):
                if j not in found.values() and matches(cell):
                    found[field] = j
                    break
        if "area_name" in found:
            missing = [_HEADER_NAMES[f] for f in _REQUIRED if f not in found]
            if missing:
                raise InputError(path, f"the header has no column for {', '.join(missing)}", where=f"row {i + 1}",
                                 expected="the Release survey layout (see indicators.pipeline.sources.release_foi)")
            return i, found
    raise InputError(path, "no header row with a 'Local authority' column", where=f"rows 1-{_HEADER_SEARCH_ROWS}",
                     expected="the Release survey layout: Local authority, Provision of take-home naloxone, "
                              "Number of take-home naloxone kits dispensed, Estimated number of people using "
                              "opiates, Kits per 100 people using opiates")


def _period_from(text: str) -> tuple[str, date, date] | None:
    m = _FINANCIAL_YEAR.search(text)
    if not m or (int(m[1]) + 1) % 100 != int(m[2]):
        return None
    start = int(m[1])
    return f"{start}/{m[2]}", date(start, 4, 1), date(start + 1, 3, 31)


def _number(path: Path, row_number: int, column: str, text: str) -> tuple[float, str]:
    """(number or NaN, note for a missing marker); InputError for any other text."""
    cleaned = text.replace(",", "").strip()
    if cleaned.lower() in _MISSING:
        return float("nan"), ("" if not cleaned else f"{column}: '{text}'")
    try:
        number = float(cleaned)
    except ValueError:
        raise InputError(path, f"{text!r} is not a number", where=f"row {row_number}, column '{column}'",
                         expected="a number, blank, or one of: " + ", ".join(sorted(m for m in _MISSING if m))) from None
    finite(path, number, text, f"row {row_number}, column '{column}'")
    if number < 0:
        raise InputError(path, f"{text!r} is negative", where=f"row {row_number}, column '{column}'",
                         expected="a count or rate of 0 or more")
    return number, ""


def parse_table(path: Path) -> pd.DataFrame:
    """Observations (schema.OBSERVATION_COLUMNS) from one Release survey table."""
    path = Path(path)
    expected = "a Release take-home naloxone survey table (.csv or .xlsx)"
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty (0 bytes)", expected=expected)
    rows = read_rows(path, expected)
    header_index, columns = _find_columns(path, rows)
    header = rows[header_index]
    require_unique_columns(path, header, where=f"row {header_index + 1} (the header)")
    file_period = _period_from(path.stem)
    out = []
    for offset, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        cells = row + [""] * (len(header) - len(row))
        name = cells[columns["area_name"]]
        if not name or not any(cells):
            continue
        period = file_period
        if "year" in columns and cells[columns["year"]]:
            period = _period_from(cells[columns["year"]])
            if period is None:
                raise InputError(path, f"{cells[columns['year']]!r} is not a financial year",
                                 where=f"row {offset}, column '{header[columns['year']]}'", expected="e.g. 2017/18")
        if period is None:
            raise InputError(path, "no financial year in a Year column or in the file name", where=f"row {offset}",
                             expected="a Year column (e.g. 2017/18) or a file name such as "
                                      "release_naloxone_2017-18.csv")
        code = cells[columns["area_code"]] if "area_code" in columns else ""
        if code and not _GSS.match(code):
            raise InputError(path, f"{code!r} is not an English GSS code",
                             where=f"row {offset}, column '{header[columns['area_code']]}'",
                             expected="a code such as E06000001, or blank")
        provision_text = cells[columns["provision"]]
        provision = _PROVISION.get(provision_text.lower())
        if provision is None:
            raise InputError(path, f"{provision_text!r} is not a provision answer",
                             where=f"row {offset}, column '{header[columns['provision']]}'",
                             expected="Yes, No, Planned, No response or blank")
        numbers, notes = {}, []
        for field in ("kits", "ocu", "per_100_ocu", "clients", "per_100_clients"):
            if field in columns:
                numbers[field], note = _number(path, offset, header[columns[field]], cells[columns[field]])
                if note:
                    notes.append(note)
            else:
                numbers[field] = float("nan")
        label, start, end = period
        base = dict(source_id=SOURCE_ID, source_file=path.name, edition=label, area_code=code, area_name=name,
                    period_label=label, period_start=pd.Timestamp(start), period_end=pd.Timestamp(end),
                    sex="Persons", age="All ages", is_suppressed=False, publisher_comparison="")
        for series, value_field, denominator_field in ((SERIES_OCU, "per_100_ocu", "ocu"),
                                                        (SERIES_CLIENTS, "per_100_clients", "clients")):
            if series == SERIES_CLIENTS and "per_100_clients" not in columns and "clients" not in columns:
                continue
            value, note = _coverage(numbers[value_field], numbers["kits"], numbers[denominator_field],
                                    provision, notes)
            out.append({**base, "series": series, "value": value, "numerator": numbers["kits"],
                        "denominator": numbers[denominator_field], "value_note": note})
    if not out:
        raise InputError(path, "the table has a header but no local authority rows",
                         where=f"after row {header_index + 1}", expected="one row per local authority")
    return conform_observations(pd.DataFrame(out))


def _coverage(published: float, kits: float, denominator: float, provision: str,
              markers: list[str]) -> tuple[float, str]:
    """(kits per 100, note): Release's figure, else kits / denominator x 100 when both are known."""
    known = not (math.isnan(kits) or math.isnan(denominator)) and denominator > 0
    computed = kits / denominator * 100 if known else float("nan")
    parts = [f"Take-home naloxone provision: {provision}." if provision else ""]
    if markers:
        parts.append(f"Markers: {'; '.join(markers)}.")
    value = published
    if math.isnan(value) and known:
        value = computed
        parts.append("Kits per 100 computed here from the kits and the denominator Release reported.")
    elif known and abs(value - computed) > 1.0:
        parts.append(f"Release's figure differs from kits / denominator x 100 ({computed:.1f}).")
    if math.isnan(value):
        parts.append("No response to Release's FOI request." if provision == "No response"
                     else "No number of kits given in the answer to Release.")
    parts.append(NOTE_SUFFIX)
    return value, " ".join(p for p in parts if p)
