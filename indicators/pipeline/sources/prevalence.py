"""Parser for the PHE/LJMU opiate and crack cocaine use prevalence workbook (2016-17 estimates); depends on pandas, python_calamine and indicators.errors/schema.

The sheet "<yyyy-yy> Prevalence Estimates" holds one row per drug action team area (upper-tier
authority on 2016-17 boundaries), region and England: estimated numbers of users aged 15-64
and rates per 1,000 population aged 15-64, each with lower/upper 95% limits, for OCU
(opiates and/or crack cocaine), opiates and crack cocaine. The header sits a few rows down
under a two-row heading, so it is found by its content. Areas carry old NDTMS DAT codes
(E05B, 00KB, ...) rather than GSS codes: they are staged separately in
`prevalence_dat_codes`, and observations carry names only (England excepted) so the build
can map names to GSS codes and report the ones it cannot.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pandas as pd

from indicators.config import ENGLAND_CODE
from indicators.errors import InputError
from indicators.pipeline.schema import conform_observations, empty_observations
from indicators.pipeline.sources.numbers import finite
from indicators.pipeline.sources.workbook import read_sheets

SOURCE_ID = "prevalence"
AGE_BAND = "15-64"
DRUGS = {"ocu": "ocu", "opiates": "opiate", "crack cocaine": "crack"}
DAT_CODE_COLUMNS = ["dat_code", "area_name"]
OBSERVATION_KEY = ["series", "area_code", "area_name", "period_label", "sex", "age"]

_HEADER_CELLS = ("dat (utla) code", "local authority", "15-64 population")
_NUMBER_GROUP = "number of users"
_RATE_GROUP = "rate"
_DAT_CODE = re.compile(r"^[A-Z0-9]{4}$")
_YEARS = re.compile(r"\b(\d{4})\s*[-/]\s*(\d{2})\b")
_MARKERS = {"*", "-", "..", ":", "x", "[x]", "[c]", "n/a", "na"}
_HEADER_SEARCH_ROWS = 40


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """`observations` (prevalence:ocu, prevalence:opiate, prevalence:crack) and `prevalence_dat_codes`."""
    observations, codes = [], []
    for path in map(Path, files):
        obs, dat = parse_workbook(path)
        observations.append(obs)
        codes.append(dat)
    frame = pd.concat(observations, ignore_index=True) if observations else empty_observations()
    repeated = frame.duplicated(OBSERVATION_KEY, keep=False)
    if repeated.any():
        first = frame.loc[repeated].iloc[0]
        files_named = sorted(set(frame.loc[repeated, "source_file"]))
        raise InputError(" and ".join(files_named),
                         f"{first['series']} for {first['area_name']} {first['period_label']} appears more than once",
                         expected="one estimate per series, area and period (two editions of the same year?)")
    dat_codes = (pd.concat(codes, ignore_index=True).drop_duplicates(ignore_index=True) if codes
                 else pd.DataFrame({c: pd.Series(dtype="str") for c in DAT_CODE_COLUMNS}))
    return {"observations": conform_observations(frame), "prevalence_dat_codes": dat_codes}


def parse_workbook(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observations, dat codes) from one workbook; InputError when no sheet has the expected header."""
    path = Path(path)
    sheets = read_sheets(path, "the opiate and crack cocaine prevalence .xlsx")
    for sheet, rows in sheets.items():
        header = _find_header(rows)
        if header is not None:
            return _parse_sheet(path, sheet, rows, header)
    raise InputError(path, "no sheet has the prevalence estimates header", where="all sheets",
                     expected="a header row with 'DAT (UTLA) Code', 'Local authority', '15-64 population', "
                     "'Number of users' and 'Rate of use per thousand of the population'")


def _find_header(rows: list[list]) -> int | None:
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        cells = [_text(c).lower() for c in row]
        if all(h in cells for h in _HEADER_CELLS) and any(c.startswith(_NUMBER_GROUP) for c in cells) \
                and any(c.startswith(_RATE_GROUP) for c in cells):
            return i
    return None


def _period(path: Path, sheet: str, rows: list[list], header: int) -> tuple[str, date, date]:
    for text in [sheet] + [_text(c) for row in rows[:header] for c in row]:
        m = _YEARS.search(text)
        if m and (int(m[1]) + 1) % 100 == int(m[2]):
            start = int(m[1])
            return f"{start}/{m[2]}", date(start, 4, 1), date(start + 1, 3, 31)
    raise InputError(path, "cannot tell which year the estimates are for", where=f"sheet {sheet!r}, title and name",
                     expected="a financial year such as 2016-17 in the sheet name or title")


def _columns(path: Path, sheet: str, rows: list[list], header: int) -> dict[str, int]:
    """Column index per role: code, name, population, and <group>_<drug>[_lower|_upper]."""
    top = [_text(c).lower() for c in rows[header]]
    below = [_text(c).lower() for c in rows[header + 1]] if header + 1 < len(rows) else []
    columns = {"code": top.index("dat (utla) code"), "name": top.index("local authority"),
               "population": top.index("15-64 population")}
    starts = sorted((i, "number" if c.startswith(_NUMBER_GROUP) else "rate") for i, c in enumerate(top)
                    if c.startswith(_NUMBER_GROUP) or c.startswith(_RATE_GROUP))
    for n, (start, group) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(below)
        drug = None
        for i in range(start, min(end, len(below))):
            label = below[i]
            if label in DRUGS:
                drug = DRUGS[label]
                columns[f"{group}_{drug}"] = i
            elif drug and label.startswith("lower"):
                columns[f"{group}_{drug}_lower"] = i
            elif drug and label.startswith("upper"):
                columns[f"{group}_{drug}_upper"] = i
    needed = [f"{g}_{d}{s}" for g in ("number", "rate") for d in DRUGS.values() for s in ("", "_lower", "_upper")]
    missing = [k for k in needed if k not in columns]
    if missing:
        raise InputError(path, f"sub-headings missing for {', '.join(missing)}",
                         where=f"sheet {sheet!r}, row {header + 2}",
                         expected="OCU, Opiates and Crack cocaine each followed by lower and upper 95% CI, "
                         "under both 'Number of users' and 'Rate of use per thousand'")
    return columns


def _cell(row: list, index: int) -> object:
    return row[index] if index < len(row) else ""


def _number(path: Path, sheet: str, row_number: int, label: str, value: object) -> float | None:
    where = f"sheet {sheet!r}, row {row_number}, {label}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if math.isnan(value) else finite(path, float(value), value, where)
    text = _text(value)
    if text == "" or text.lower() in _MARKERS:
        return None
    try:
        return finite(path, float(text.replace(",", "")), text, where)
    except ValueError:
        raise InputError(path, f"{text!r} is not a number", where=f"sheet {sheet!r}, row {row_number}, {label}",
                         expected="a number, an empty cell or a not-available marker") from None


def _parse_sheet(path: Path, sheet: str, rows: list[list], header: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    columns = _columns(path, sheet, rows, header)
    label, start, end = _period(path, sheet, rows, header)
    records, dat_codes = [], []
    for i in range(header + 2, len(rows)):
        row = rows[i]
        name = _text(_cell(row, columns["name"]))
        if not name:
            continue
        code = _text(_cell(row, columns["code"]))
        row_number = i + 1
        numbers = {key: _number(path, sheet, row_number, key, _cell(row, index)) for key, index in columns.items()
                   if key not in ("code", "name")}
        if all(v is None for v in numbers.values()):
            continue
        if _DAT_CODE.match(code):
            dat_codes.append({"dat_code": code, "area_name": name})
        national = code.lower() == "national" or name.lower() == "england"
        population = numbers["population"]
        for drug in DRUGS.values():
            rate, users = numbers[f"rate_{drug}"], numbers[f"number_{drug}"]
            if rate is not None and users is not None and population:
                implied = 1000 * users / population
                if not math.isclose(rate, implied, rel_tol=5e-3, abs_tol=0.01):
                    raise InputError(path, f"the {drug} rate {rate:.3f} per 1,000 does not match "
                                     f"{users:.0f} users in a population of {population:.0f} ({implied:.3f})",
                                     where=f"sheet {sheet!r}, row {row_number}",
                                     expected="rate = 1,000 x number of users / 15-64 population")
            missing = rate is None
            records.append({
                "source_id": SOURCE_ID, "source_file": path.name, "edition": "",
                "series": f"prevalence:{drug}",
                "area_code": ENGLAND_CODE if national else "", "area_name": name,
                "period_label": label, "period_start": start, "period_end": end,
                "sex": "Persons", "age": AGE_BAND,
                "value": rate, "lower_ci_95": numbers[f"rate_{drug}_lower"],
                "upper_ci_95": numbers[f"rate_{drug}_upper"],
                "numerator": users, "denominator": population,
                "value_note": "no estimate published" if missing else "",
            })
    if not records:
        raise InputError(path, "the prevalence table has no rows", where=f"sheet {sheet!r}, below row {header + 2}",
                         expected="one row per area with numbers and rates")
    observations = conform_observations(pd.DataFrame.from_records(records))
    return observations, pd.DataFrame(dat_codes, columns=DAT_CODE_COLUMNS).astype("str")
