"""ONS drug-poisoning deaths by local authority workbooks -> observations; depends on pandas, python_calamine, indicators.

Each edition (.xls before 2020, .xlsx after) holds single-year registration counts
(Tables 1-2, drug poisoning and drug misuse) and 3-year pooled deaths with
age-standardised rates per 100,000 (2013 European Standard Population) and 95%
confidence limits (Tables 3-8, persons/males/females). Tables are found by their
title and header content, never by sheet name or fixed row, because header rows,
table ranges and suppression markers move between editions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from indicators.errors import InputError
from indicators.pipeline.schema import conform_observations, empty_observations
from indicators.pipeline.sources.numbers import finite
from indicators.pipeline.sources.workbook import column_letter, read_sheets

SOURCE_ID = "ons_deaths"

SERIES_REGISTRATIONS = {"poisoning": "ons_deaths:poisoning_registrations",
                        "misuse": "ons_deaths:misuse_registrations"}
SERIES_3YR = {"poisoning": "ons_deaths:poisoning_3yr", "misuse": "ons_deaths:misuse_3yr"}

OBSERVATION_KEY = ["series", "area_code", "period_label", "sex", "age"]

# Wording from the workbooks' own footnotes: "Rates are not calculated when the number of
# deaths are fewer than ten. Rates when deaths are between 10 and 19 are considered
# unreliable as the number of deaths are small." Notes are plain words: the marker itself is
# not repeated (a reader does not know what ':' means), only what it says.
_RATE_RULE = "ONS does not calculate a rate from fewer than 10 deaths"
_LOW_RELIABILITY_RATE = "low reliability: ONS considers a rate from 10 to 19 deaths unreliable"
_LOW_RELIABILITY = "ONS marks this figure as of low reliability"
_UNRELIABLE_FLAG = "ONS flags this figure as unreliable (small numbers)"

# Markers that replace a figure, with what they say (after "is"). In a count column the figure is
# withheld (null, is_suppressed). In a rate column, with the deaths published, a marker other than
# a confidentiality one means ONS did not calculate the rate (null, not suppressed: nothing was
# withheld, the count is there); see `_three_year_records`.
_SUPPRESSION_MARKERS: dict[str, str] = {
    ":": "not available",
    "..": "not available",
    "*": "withheld by ONS",
    "-": "not available or nil (not read as zero)",
    "\u2013": "not available or nil (not read as zero)",
    "x": "not available",
    "[x]": "not available",
    "c": "withheld by ONS to protect confidentiality",
    "[c]": "withheld by ONS to protect confidentiality",
    "z": "not applicable",
    "[z]": "not applicable",
    "[w]": "nil or negligible",
    "[low]": "less than half the last digit shown",
}
# In a rate or confidence-limit column these markers mean the rate was not calculated.
_RATE_RULE_MARKERS = {":", "..", "*", "-", "\u2013", "x", "[x]"}
# Markers that withhold a figure ONS has (confidentiality), as opposed to one it did not calculate.
_WITHHELD_MARKERS = {"c", "[c]"}
# Markers that qualify a figure which is still published (kept, with a note); also
# accepted written after the number ("12 u", "5.1 [u]", "7.2*").
_QUALIFYING_MARKERS = {"u", "[u]"}
_SUFFIX_QUALIFYING_MARKERS = {"u", "[u]", "*"}

_KNOWN_MARKERS = sorted(set(_SUPPRESSION_MARKERS) | _QUALIFYING_MARKERS)

_GSS_CODE = re.compile(r"^[EKWSN]\d{8}$")
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[-+]?\.\d+$")
_NUMBER_WITH_SUFFIX = re.compile(
    r"^(?P<number>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(?P<marker>\[[a-z]+\]|[a-z]+|\*|:)$")
_PERIOD = re.compile(r"^\s*(?P<start>(?:19|20)\d{2})\s*(?:-|\u2013|\u2014|to)\s*(?P<end>\d{4}|\d{2})\b",
                     re.IGNORECASE)
_YEAR_TEXT = re.compile(r"^\s*(?P<year>(?:19|20)\d{2})(?:\s*\[note\s*\d+\])?(?:\s+\d+(?:\s*,\s*\d+)*)?\s*$")
_NOTE_SUFFIX = re.compile(r"(\s*\[note\s*\d+\])+\s*$", re.IGNORECASE)
_FOOTNOTE_DIGITS = re.compile(r"\s+\d{1,2}(?:\s*,\s*\d{1,2})*\s*$")
_SUPERSCRIPTS = "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079"

_HEADER_SEARCH_ROWS = 60
_SUBHEADER_SEARCH_ROWS = 3


@dataclass(frozen=True)
class _Cell:
    """One parsed cell: a number, or a marker with its note, or blank."""

    number: float | None = None
    note: str = ""
    suppressed: bool = False
    blank: bool = False
    withheld: bool = False  # a confidentiality marker: ONS has the figure and withheld it


@dataclass
class _PeriodBlock:
    label: str
    start_year: int
    end_year: int
    deaths: int | None = None
    rate: int | None = None
    lower: int | None = None
    upper: int | None = None
    flags: list[int] = field(default_factory=list)


@dataclass
class _Table:
    sheet: str
    title: str
    cause: str           # "poisoning" or "misuse"
    sex: str
    kind: str            # "registrations" or "3yr"
    header_row: int      # 0-based
    first_data_row: int  # 0-based
    code_col: int
    first_value_col: int
    years: list[tuple[int, int]] = field(default_factory=list)       # (column, year)
    blocks: list[_PeriodBlock] = field(default_factory=list)


def parse_workbook(path: Path) -> pd.DataFrame:
    """Every area x period x sex observation in one edition, in the observation schema.

    Raises InputError (naming the file, sheet/row/cell and what was expected) for a file
    that is not a readable workbook, has no drug-deaths table, a table without an
    "Area Codes" header, a cell that is neither a number nor a known marker, or an area
    listed twice in one table with different figures.
    """
    path = Path(path)
    sheets = _read_sheets(path)
    tables: list[tuple[_Table, list[list]]] = []
    for name, rows in sheets.items():
        table = _find_table(path, name, rows)
        if table is not None:
            tables.append((table, rows))
    if not tables:
        raise InputError(path, "no drug-deaths table found in any sheet",
                         expected="a sheet titled 'Number of deaths related to drug poisoning/misuse ... "
                                  "registered in each year' or '... age-standardised mortality rate ...' "
                                  "above an 'Area Codes' / 'Area Names' header row")
    seen_tables: dict[tuple[str, str, str], str] = {}
    for table, _ in tables:
        key = (table.cause, table.sex, table.kind)
        if key in seen_tables:
            raise InputError(path, f"two sheets hold the same table ({table.kind} drug {table.cause}, "
                                   f"{table.sex.lower()}): {seen_tables[key]!r} and {table.sheet!r}",
                             where=f"sheet {table.sheet!r}", expected="each table once per workbook")
        seen_tables[key] = table.sheet
    records: list[dict] = []
    for table, rows in tables:
        records.extend(_table_records(path, table, rows))
    edition = _edition(path, [t for t, _ in tables], records)
    if not records:
        return empty_observations()
    frame = pd.DataFrame.from_records(records)
    frame["source_id"] = SOURCE_ID
    frame["source_file"] = path.name
    frame["edition"] = edition
    frame["age"] = "All ages"
    frame = frame.sort_values(["series", "sex", "area_code", "period_start"], kind="stable")
    return conform_observations(frame)


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """Parse every edition; where editions overlap on series x area x period x sex x age the newest wins.

    The `edition` column says which edition each row came from. The newest edition must hold
    every table an older one holds: one that lost a table (a sheet dropped or retitled by the
    publisher) would otherwise silently fall back to older figures.
    """
    frames = [parse_workbook(Path(f)) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return {"observations": empty_observations()}
    _check_newest_edition_is_complete(frames)
    combined = pd.concat(frames, ignore_index=True)
    combined["_edition_year"] = combined["edition"].map(_edition_year)
    combined = combined.sort_values(["_edition_year", "edition", "source_file"], ascending=False, kind="stable")
    combined = combined.drop_duplicates(subset=OBSERVATION_KEY, keep="first")
    combined = combined.drop(columns="_edition_year")
    combined = combined.sort_values(["series", "sex", "area_code", "period_start"], kind="stable")
    return {"observations": conform_observations(combined)}


# --- reading -------------------------------------------------------------------------


def _read_sheets(path: Path) -> dict[str, list[list]]:
    return read_sheets(path, "an Excel workbook (.xls or .xlsx) as published by ONS")


# --- finding tables by content -------------------------------------------------------


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_text(row: list) -> str:
    for value in row:
        if value is not None and value != "":
            return _text(value)
    return ""


def _label(value) -> str:
    """A header label, lower-case, without footnote markers ("Rate 1" -> "rate")."""
    text = _text(value)
    text = _NOTE_SUFFIX.sub("", text)
    text = _FOOTNOTE_DIGITS.sub("", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _is_title(text: str) -> bool:
    low = text.lower()
    return ("drug poisoning" in low or "drug misuse" in low) and "deaths" in low and (
        "age-standardised" in low or "age standardised" in low or "each year" in low or "registered" in low)


def _classify_title(text: str) -> tuple[str, str, str] | None:
    """(cause, sex, kind) for a drug-deaths table title; None for a table this parser does not read."""
    low = text.lower()
    if "drug misuse" in low:
        cause = "misuse"
    elif "drug poisoning" in low:
        cause = "poisoning"
    else:
        return None
    if "age-standardised" in low or "age standardised" in low:
        kind = "3yr"
    elif "each year" in low:
        kind = "registrations"
    else:
        return None
    if re.search(r"\bfemales?\b", low):
        sex = "Females"
    elif re.search(r"\bmales?\b", low):
        sex = "Males"
    else:
        sex = "Persons"
    return cause, sex, kind


def _find_header_row(rows: list[list]) -> tuple[int, int] | None:
    """(row, column) of the cell reading "Area Codes", searched in the top of the sheet."""
    for r, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        for c, value in enumerate(row):
            if _label(value) in ("area codes", "area code"):
                return r, c
    return None


def _find_table(path: Path, sheet: str, rows: list[list]) -> _Table | None:
    header = _find_header_row(rows)
    if header is None:
        # A table title opening its row, with no header below it, is a broken table. Titles
        # after a sheet name in the same row, or several titles, make a contents sheet.
        titles = [_first_text(row) for row in rows[:_HEADER_SEARCH_ROWS]]
        titles = [t for t in titles if _is_title(t) and _classify_title(t) is not None]
        if len(titles) == 1:
            raise InputError(path, "table title found but no header row with 'Area Codes'",
                             where=f"sheet {sheet!r}",
                             expected="a header row with 'Area Codes' and 'Area Names' below the title")
        return None
    header_row, code_col = header
    title = ""
    for r in range(header_row - 1, -1, -1):
        found = [_text(v) for v in rows[r] if _is_title(_text(v))]
        if found:
            title = found[0]
            break
    if not title:
        return None
    classified = _classify_title(title)
    if classified is None:
        return None  # e.g. the 2019 edition's registration-delay table
    cause, sex, kind = classified
    head = rows[header_row]
    if not any(_label(v) in ("area names", "area name") for v in head):
        raise InputError(path, "header row has 'Area Codes' but no 'Area Names'",
                         where=f"sheet {sheet!r}, row {header_row + 1}",
                         expected="'Area Codes' and 'Area Names' on the same header row")
    table = _Table(sheet=sheet, title=title, cause=cause, sex=sex, kind=kind, header_row=header_row,
                   first_data_row=header_row + 1, code_col=code_col, first_value_col=len(head))
    if kind == "registrations":
        _map_year_columns(path, table, head)
    else:
        _map_period_blocks(path, table, rows)
    return table


def _year_of(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        if float(value).is_integer() and 1900 <= value <= 2100:
            return int(value)
        return None
    match = _YEAR_TEXT.match(_text(value))
    return int(match.group("year")) if match else None


def _map_year_columns(path: Path, table: _Table, head: list) -> None:
    for c, value in enumerate(head):
        if c <= table.code_col:
            continue
        year = _year_of(value)
        if year is not None:
            table.years.append((c, year))
    if not table.years:
        raise InputError(path, "no year columns on the header row",
                         where=f"sheet {table.sheet!r}, row {table.header_row + 1}",
                         expected="single-year columns such as 2021 to the right of 'Area Names'")
    table.first_value_col = min(c for c, _ in table.years)


def _period_of(value) -> tuple[str, int, int] | None:
    match = _PERIOD.match(_text(value))
    if not match:
        return None
    start = int(match.group("start"))
    end_text = match.group("end")
    if len(end_text) == 2:
        end = (start // 100) * 100 + int(end_text)
        if end < start:
            end += 100
    else:
        end = int(end_text)
    if not start < end <= start + 10:
        return None
    return f"{start}-{end % 100:02d}", start, end


def _measure_of(label: str) -> str | None:
    if not label:
        return None
    if "lower" in label:
        return "lower"
    if "upper" in label:
        return "upper"
    if "rate" in label:
        return "rate"
    if "deaths" in label or label in ("number", "count"):
        return "deaths"
    return None


def _map_period_blocks(path: Path, table: _Table, rows: list[list]) -> None:
    head = rows[table.header_row]
    # A period label starts a block; the block runs to the next different label. Newer
    # layouts repeat the label in every cell ("2019 to 2021 Deaths", "2019 to 2021 Rate").
    starts: list[tuple[int, tuple[str, int, int]]] = []
    for c, value in enumerate(head):
        if c <= table.code_col:
            continue
        period = _period_of(value)
        if period is not None and (not starts or starts[-1][1][0] != period[0]):
            starts.append((c, period))
    where = f"sheet {table.sheet!r}, row {table.header_row + 1}"
    if not starts:
        raise InputError(path, "no 3-year period columns on the header row", where=where,
                         expected="period labels such as '2019\u201321' to the right of 'Area Names'")
    labels = [label for _, (label, _, _) in starts]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError(path, f"period {repeated[0]} appears in two separate places on the header row",
                         where=where, expected="each 3-year period once")
    # Sub-headers (Deaths, Rate, Lower/Upper Confidence Limit) sit on a row just below the
    # period labels, or in the same cell as the label in newer layouts.
    sub_row = None
    for r in range(table.header_row + 1, min(len(rows), table.header_row + 1 + _SUBHEADER_SEARCH_ROWS)):
        if any(_measure_of(_label(v)) for v in rows[r][starts[0][0]:]):
            sub_row = r
            break
    sub = rows[sub_row] if sub_row is not None else []
    table.first_data_row = (sub_row if sub_row is not None else table.header_row) + 1
    width = max(len(head), len(sub))
    for i, (start_col, (label, start, end)) in enumerate(starts):
        end_col = starts[i + 1][0] if i + 1 < len(starts) else width
        block = _PeriodBlock(label=label, start_year=start, end_year=end)
        for c in range(start_col, end_col):
            text = _label(sub[c]) if c < len(sub) else ""
            if not text and c < len(head):
                text = _PERIOD.sub("", _label(head[c])).strip()
            measure = _measure_of(text)
            if measure is None:
                if not text:
                    block.flags.append(c)
                continue
            if getattr(block, measure) is not None:
                raise InputError(path, f"period {label} has two {measure!r} columns",
                                 where=f"sheet {table.sheet!r}, column {column_letter(c)}",
                                 expected="one each of Deaths, Rate, Lower and Upper Confidence Limit per period")
            setattr(block, measure, c)
        missing = [m for m in ("deaths", "rate", "lower", "upper") if getattr(block, m) is None]
        if missing:
            raise InputError(path, f"period {label} has no column for {', '.join(missing)}",
                             where=f"sheet {table.sheet!r}, rows {table.header_row + 1}-{table.first_data_row}",
                             expected="sub-headers 'Deaths', 'Rate', 'Lower Confidence Limit', "
                                      "'Upper Confidence Limit' under every period label")
        table.blocks.append(block)
    table.first_value_col = starts[0][0]


# --- reading cells --------------------------------------------------------------------


def _suppression_note(key: str, rate_like: bool) -> str:
    """What a marker that replaces a figure says, in words: 'ONS does not calculate a rate from fewer than 10
    deaths' for a rate, 'the number is not available in the ONS table' for a count."""
    if rate_like and key in _RATE_RULE_MARKERS:
        return _RATE_RULE
    what = "the rate" if rate_like else "the number"
    return f"{what} is {_SUPPRESSION_MARKERS[key]} in the ONS table"


def _qualifying_note(marker: str, rate_like: bool) -> str:
    if marker == "*":
        return _UNRELIABLE_FLAG
    return _LOW_RELIABILITY_RATE if rate_like else _LOW_RELIABILITY


_BLANK = _Cell(blank=True)


def _read_cell(value, *, path: Path, sheet: str, row: int, col: int, rate_like: bool) -> _Cell:
    """A data cell as a number, a suppression/qualifying marker with its note, or blank."""
    if value is None or value == "":
        return _BLANK
    kind = type(value)
    where = f"sheet {sheet!r}, cell {column_letter(col)}{row + 1}"
    if kind is float:
        return _BLANK if math.isnan(value) else _Cell(number=finite(path, value, value, where))
    if kind is int:
        return _Cell(number=finite(path, float(value), value, where))
    if kind is str:
        cell = _read_text(value, rate_like)
        if cell is not None:
            if cell.number is not None:
                finite(path, cell.number, value, where)
            return cell
    raise _bad_cell(path, sheet, row, col, value)


@lru_cache(maxsize=4096)
def _read_text(value: str, rate_like: bool) -> _Cell | None:
    """A text cell as blank, marker, number or number with a marker; None when it is none of these."""
    text = value.strip()
    if not text:
        return _BLANK
    key = re.sub(r"\s+", " ", text).lower()
    if key in _SUPPRESSION_MARKERS:
        return _Cell(note=_suppression_note(key, rate_like), suppressed=True, withheld=key in _WITHHELD_MARKERS)
    if key in _QUALIFYING_MARKERS:
        return _Cell(note=_qualifying_note(text, rate_like))
    if _NUMBER.match(text):
        return _Cell(number=float(text.replace(",", "")))
    match = _NUMBER_WITH_SUFFIX.match(key)
    if match:
        marker = match.group("marker")
        number = float(match.group("number").replace(",", ""))
        if marker in _SUFFIX_QUALIFYING_MARKERS:
            return _Cell(number=number, note=_qualifying_note(marker, rate_like))
        if marker in _SUPPRESSION_MARKERS:
            note = _suppression_note(marker, rate_like)
            return _Cell(note=f"{note} (the table shows ‘{text}’)", suppressed=True,
                         withheld=marker in _WITHHELD_MARKERS)
    return None


def _bad_cell(path: Path, sheet: str, row: int, col: int, value) -> InputError:
    return InputError(path, f"cell holds {value!r}, which is neither a number nor a known marker",
                      where=f"sheet {sheet!r}, cell {column_letter(col)}{row + 1}",
                      expected=f"a number or one of the markers {', '.join(repr(m) for m in _KNOWN_MARKERS)}")


# --- rows to observations -------------------------------------------------------------


_MARKER_NAME = re.compile(r"\s*(\[(?:note\s*\d+|[a-z])\]|[*\u2020\u2021]+)\s*$", re.IGNORECASE)


def _clean_area_name(name: str) -> str:
    """Strip whitespace and trailing footnote markers ("Cornwall 3", "Hackney [note 2]", "Leeds\u00b9")."""
    text = name.strip()
    previous = None
    while previous != text:
        previous = text
        text = _MARKER_NAME.sub("", text)
        text = _NOTE_SUFFIX.sub("", text)
        text = _FOOTNOTE_DIGITS.sub("", text)
        text = text.rstrip(_SUPERSCRIPTS).strip()
    return text


def _area_name(row: list, table: _Table) -> str:
    for c in range(table.code_col + 1, min(table.first_value_col, len(row))):
        text = _text(row[c])
        if text:
            return _clean_area_name(text)
    return ""


def _cell(row: list, col: int | None):
    if col is None or col >= len(row):
        return None
    return row[col]


def _join_notes(notes: list[str]) -> str:
    """The notes of one row as one plain sentence without its full stop: 'Low reliability: ...; the rate is ...'."""
    seen: list[str] = []
    for note in notes:
        if note and note not in seen:
            seen.append(note)
    joined = "; ".join(seen)
    return joined[:1].upper() + joined[1:]


def _table_records(path: Path, table: _Table, rows: list[list]) -> list[dict]:
    records: list[dict] = []
    seen: dict[str, tuple[int, list]] = {}
    value_cols = ([c for c, _ in table.years] if table.kind == "registrations"
                  else [c for b in table.blocks for c in (b.deaths, b.rate, b.lower, b.upper)])
    for r in range(table.first_data_row, len(rows)):
        row = rows[r]
        code = _text(_cell(row, table.code_col))
        if not _GSS_CODE.match(code):
            # Blank, note and footnote rows carry no figures; a row of figures needs an area code.
            if any(isinstance(_cell(row, c), (int, float)) and not isinstance(_cell(row, c), bool)
                   for c in value_cols):
                raise InputError(path, f"row has figures but no GSS area code (found {code!r})",
                                 where=f"sheet {table.sheet!r}, row {r + 1}",
                                 expected="a 9-character GSS code such as E06000009 in the 'Area Codes' column")
            continue
        name = _area_name(row, table)
        if table.kind == "registrations":
            row_records = _registration_records(path, table, row, r, code, name)
        else:
            row_records = _three_year_records(path, table, row, r, code, name)
        signature = [_cell(row, c) for c in range(table.first_value_col, len(row))]
        if code in seen:
            first_row, first_signature = seen[code]
            if first_signature != signature:
                raise InputError(path, f"area {code} appears twice with different figures "
                                       f"(rows {first_row + 1} and {r + 1})",
                                 where=f"sheet {table.sheet!r}, row {r + 1}",
                                 expected="each area code once per table")
            continue
        seen[code] = (r, signature)
        records.extend(row_records)
    return records


@lru_cache(maxsize=512)
def _year_bounds(start_year: int, end_year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """1 January of the first year and 31 December of the last: registrations are by calendar year."""
    return pd.Timestamp(start_year, 1, 1), pd.Timestamp(end_year, 12, 31)


def _registration_records(path: Path, table: _Table, row: list, r: int, code: str, name: str) -> list[dict]:
    out = []
    for c, year in table.years:
        period_start, period_end = _year_bounds(year, year)
        cell = _read_cell(_cell(row, c), path=path, sheet=table.sheet, row=r, col=c, rate_like=False)
        if cell.blank:
            continue  # a blank cell is no observation; it must not hide another edition's figure
        out.append({
            "series": SERIES_REGISTRATIONS[table.cause],
            "area_code": code,
            "area_name": name,
            "period_label": str(year),
            "period_start": period_start,
            "period_end": period_end,
            "sex": table.sex,
            "value": cell.number,
            "numerator": cell.number,
            "is_suppressed": cell.suppressed,
            "value_note": _join_notes([cell.note]),
        })
    return out


def _three_year_records(path: Path, table: _Table, row: list, r: int, code: str, name: str) -> list[dict]:
    out = []
    width = len(row)

    def read(col: int | None, rate_like: bool) -> _Cell:
        value = row[col] if col is not None and col < width else None
        if value is None or value == "":
            return _BLANK  # the common cases first: this runs for every cell of every table
        if type(value) is float and math.isfinite(value):
            return _Cell(number=value)
        return _read_cell(value, path=path, sheet=table.sheet, row=r, col=col, rate_like=rate_like)

    for block in table.blocks:
        period_start, period_end = _year_bounds(block.start_year, block.end_year)
        deaths = read(block.deaths, False)
        rate = read(block.rate, True)
        lower = read(block.lower, True)
        upper = read(block.upper, True)
        flags = [read(c, True) for c in block.flags]
        for flag, c in zip(flags, block.flags):
            if flag.number is not None:
                raise InputError(path, f"unlabelled column holds the number {flag.number!r}",
                                 where=f"sheet {table.sheet!r}, cell {column_letter(c)}{r + 1}",
                                 expected="a blank cell or a marker such as 'u' between the labelled columns")
        if all(c.blank for c in (deaths, rate, lower, upper, *flags)):
            continue  # no figures for this area and period: no observation
        notes = [rate.note]
        if rate.blank:
            notes.append("the rate is blank in the ONS table")
        notes += [f.note for f in flags if f.note]
        if deaths.note:
            notes.append(deaths.note.replace("the number", "the number of deaths", 1))
        elif deaths.blank:
            notes.append("the number of deaths is blank in the ONS table")
        for limit in (lower, upper):
            if limit.note and limit.note != rate.note:
                notes.append(limit.note.replace("the rate", "the confidence limits", 1).replace(" is ", " are ", 1))
        if rate.number is not None and (lower.blank or upper.blank):
            notes.append("the confidence limits are blank in the ONS table")
        # Nothing withheld when ONS gives the deaths and only the rate is missing: it did not calculate one
        # (fewer than 10 deaths, or a rate it does not give); the row is then not suppressed, and the build
        # calls it 'not calculated'. A confidentiality marker, or no published count, is withheld.
        suppressed = rate.suppressed and (rate.withheld or deaths.number is None)
        out.append({
            "series": SERIES_3YR[table.cause],
            "area_code": code,
            "area_name": name,
            "period_label": block.label,
            "period_start": period_start,
            "period_end": period_end,
            "sex": table.sex,
            "value": rate.number,
            "lower_ci_95": lower.number,
            "upper_ci_95": upper.number,
            "numerator": deaths.number,
            "is_suppressed": suppressed,
            "value_note": _join_notes(notes),
        })
    return out


# --- editions -------------------------------------------------------------------------


def _edition(path: Path, tables: list[_Table], records: list[dict]) -> str:
    """The latest registration year named in the table titles, else in the file name, else in the data."""
    years: list[int] = []
    for table in tables:
        low = table.title.lower()
        position = low.find("registered")
        if position >= 0:
            years += [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", low[position:])]
    if years:
        return str(max(years))
    from_name = [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", path.name)]
    if from_name:
        return str(max(from_name))
    ends = [rec["period_end"].year for rec in records]
    if ends:
        return str(max(ends))
    raise InputError(path, "cannot tell which edition this is",
                     expected="'registered ... between YYYY and YYYY' in a table title or a year in the file name")


_TABLE_KINDS = {"registrations": "single-year registrations", "3yr": "3-year age-standardised rates"}
_SEX_ORDER = {"Persons": 0, "Males": 1, "Females": 2}


def _describe_tables(keys: list[tuple[str, str]]) -> str:
    """'3-year age-standardised rates of deaths related to drug misuse (persons, males)' per series."""
    by_series: dict[str, list[str]] = {}
    for series, sex in keys:
        by_series.setdefault(series, []).append(sex)
    parts = []
    for series, sexes in sorted(by_series.items()):
        cause, _, kind = series.removeprefix(f"{SOURCE_ID}:").partition("_")
        listed = ", ".join(s.lower() for s in sorted(sexes, key=lambda s: (_SEX_ORDER.get(s, 9), s)))
        parts.append(f"{_TABLE_KINDS.get(kind, kind)} of deaths related to drug {cause} ({listed})")
    return "; ".join(parts)


def _check_newest_edition_is_complete(frames: list[pd.DataFrame]) -> None:
    """InputError when the newest edition lacks a table (series and sex) that an older edition has."""
    if len(frames) < 2:
        return
    ordered = sorted(frames, key=lambda f: (_edition_year(f["edition"].iloc[0]), f["edition"].iloc[0],
                                            f["source_file"].iloc[0]), reverse=True)
    newest, older = ordered[0], ordered[1:]
    def tables(frame: pd.DataFrame) -> set[tuple[str, str]]:
        pairs = frame[["series", "sex"]].drop_duplicates()  # a few dozen rows, not one per figure
        return set(zip(pairs["series"], pairs["sex"]))

    have = tables(newest)
    for frame in older:
        missing = sorted(tables(frame) - have)
        if missing:
            raise InputError(newest["source_file"].iloc[0],
                             f"the {newest['edition'].iloc[0]} edition has no table of {_describe_tables(missing)}, "
                             f"although the older {frame['edition'].iloc[0]} edition "
                             f"({frame['source_file'].iloc[0]}) has",
                             where="all sheets",
                             expected="every table an older edition holds (Tables 1-2 single-year registrations, "
                                      "Tables 3-8 3-year age-standardised rates), titled as ONS titles them")


@lru_cache(maxsize=256)
def _edition_year(edition: str) -> int:
    digits = re.findall(r"\d{4}", edition)
    return int(digits[-1]) if digits else -1
