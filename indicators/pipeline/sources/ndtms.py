"""Parser for NDTMS ViewIt adult-treatment CSV exports (manual downloads); depends on pandas and indicators.errors/schema.

Two layouts are recognised by their columns:
- the local-authority export ("all indicators for all local authorities"): `ReportingPeriod,
  Area, sex, age_group, drug_group, intreatment_allintx, ..., exits_successfulcompletion_allintx,
  exits_died_allintx, ..., scnr_*`; area names only, counts rounded to the nearest 5, `NULL`
  where a field was not collected;
- the England export: `ReportingPeriod_Data, Area_Data, DrugGroup_Data, Gender_Data,
  AgeGroup_Data, Num_InTreatment_AllInTx, ...` (numbers in treatment only, unrounded).
Only persons (sex Total) and all ages (age group Total) rows are staged; "Total" and "TOTAL"
are the same label written differently in different reporting years.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pandas as pd

from indicators.config import ENGLAND_CODE
from indicators.errors import InputError, csv_header, require_unique_columns
from indicators.pipeline.schema import conform_observations, empty_observations
from indicators.pipeline.sources.numbers import finite_series

SOURCE_ID = "ndtms"
OBSERVATION_KEY = ["series", "area_code", "area_name", "period_label", "sex", "age"]
ROUNDING_NOTE = "counts rounded to the nearest 5 by NDTMS"
NULL_NOTE = "not collected for this period (NULL in the NDTMS export)"
ZERO_DENOMINATOR_NOTE = "no one in treatment, so no percentage"

# ViewIt drug-group labels (either layout, any case) -> series suffix.
DRUG_GROUPS = {
    "total": "total",
    "opiate": "opiate",
    "opiates": "opiate",
    "non-opiate only": "non_opiate",
    "non-opiates only": "non_opiate",
    "alcohol only": "alcohol",
    "non-opiate & alcohol": "non_opiate_and_alcohol",
    "alcohol & non-opiates": "non_opiate_and_alcohol",
}

# Column roles per layout: period, area, sex, age, drug group.
LA_LAYOUT = {"period": "ReportingPeriod", "area": "Area", "sex": "sex", "age": "age_group",
             "group": "drug_group"}
ENGLAND_LAYOUT = {"period": "ReportingPeriod_Data", "area": "Area_Data", "sex": "Gender_Data",
                  "age": "AgeGroup_Data", "group": "DrugGroup_Data"}
LA_COUNTS = ["intreatment_allintx", "exits_successfulcompletion_allintx", "exits_died_allintx"]
# Successful completions that did not re-present within 6 months (the PHOF C19 numerator) and
# the matching in-treatment population; optional, since older exports may lack them.
LA_SCNR_COUNTS = ["scnr_intreatment_allintx", "scnr_scrn_allintx"]
ENGLAND_COUNTS = ["Num_InTreatment_AllInTx"]

_PERIOD = re.compile(r"^(\d{4})\s*[-/]\s*(\d{2}|\d{4})$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)$")


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """Observations from every ViewIt export; identical repeats kept once, contradictions raise InputError."""
    frames = [_parse(Path(p)) for p in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return {"observations": empty_observations()}
    observations = _drop_identical_duplicates(pd.concat(frames, ignore_index=True))
    return {"observations": conform_observations(observations.drop(columns=["_row"]))}


def parse_csv(path: Path) -> pd.DataFrame:
    """One ViewIt export as observations (schema.OBSERVATION_COLUMNS)."""
    return conform_observations(_parse(Path(path)).drop(columns=["_row"]))


def _parse(path: Path) -> pd.DataFrame:
    raw = _read(path)
    columns = set(raw.columns)
    if set(LA_LAYOUT.values()) <= columns:
        layout, counts = LA_LAYOUT, LA_COUNTS
        counts = counts + [c for c in LA_SCNR_COUNTS if c in columns]
    elif set(ENGLAND_LAYOUT.values()) <= columns:
        layout, counts = ENGLAND_LAYOUT, ENGLAND_COUNTS
    else:
        raise InputError(path, "neither ViewIt layout recognised", where="header row",
                         expected="columns " + ", ".join(LA_LAYOUT.values()) + " (local-authority export) or "
                         + ", ".join(ENGLAND_LAYOUT.values()) + " (England export)")
    missing = [c for c in counts if c not in columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", where="header row",
                         expected="the ViewIt export columns " + ", ".join(counts))

    rows = pd.Series(range(1, len(raw) + 1), index=raw.index)
    persons = raw[layout["sex"]].str.strip().str.lower().eq("total") & \
        raw[layout["age"]].str.strip().str.lower().eq("total")
    raw, rows = raw.loc[persons], rows.loc[persons]
    if raw.empty:
        return _empty()

    number = {c: _numbers(path, raw[c], rows, c) for c in counts}
    rounded = all(((s.dropna() % 5) == 0).all() for s in number.values())
    groups = _groups(path, raw[layout["group"]], rows)
    periods = _periods(path, raw[layout["period"]], rows)
    area_name = raw[layout["area"]].str.strip()
    area_code = area_name.where(area_name.str.lower().ne("england"), ENGLAND_CODE)
    area_code = area_code.where(area_code.eq(ENGLAND_CODE), "")

    base = pd.DataFrame({
        "source_id": SOURCE_ID, "source_file": path.name, "edition": "",
        "area_code": area_code, "area_name": area_name,
        "period_label": [p[0] for p in periods],
        "period_start": pd.to_datetime([p[1] for p in periods]),
        "period_end": pd.to_datetime([p[2] for p in periods]),
        "sex": "Persons", "age": "All ages", "_row": rows, "_group": groups,
    }, index=raw.index)
    rounding = ROUNDING_NOTE if rounded else ""

    parts = []
    if layout is LA_LAYOUT:
        parts.append(_percentage(base, "successful_completion", number["exits_successfulcompletion_allintx"],
                                 number["intreatment_allintx"], rounding))
        if set(LA_SCNR_COUNTS) <= set(number):
            parts.append(_percentage(base, "successful_completion_no_representation",
                                     number["scnr_scrn_allintx"], number["scnr_intreatment_allintx"], rounding))
        parts.append(_count(base, "deaths_in_treatment", number["exits_died_allintx"], rounding))
        parts.append(_count(base, "in_treatment", number["intreatment_allintx"], rounding))
    else:
        parts.append(_count(base, "in_treatment", number["Num_InTreatment_AllInTx"], rounding))
    out = pd.concat(parts, ignore_index=True).drop(columns=["_group"])
    return _drop_identical_duplicates(out)


def _empty() -> pd.DataFrame:
    return empty_observations().assign(_row=pd.Series(dtype="int64"))


def _read(path: Path) -> pd.DataFrame:
    try:
        head = path.read_bytes()[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror})") from None
    if not head:
        raise InputError(path, "the file is empty", expected="a ViewIt CSV export with a header row")
    if head[:1] == b"<":
        raise InputError(path, "the file is an HTML or XML page, not CSV", where="start of file",
                         expected="a ViewIt CSV export")
    try:
        require_unique_columns(path, csv_header(path))
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         expected="a UTF-8 ViewIt CSV export") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"not a readable CSV ({str(exc).strip()})", expected="a ViewIt CSV export") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _numbers(path: Path, text: pd.Series, rows: pd.Series, column: str) -> pd.Series:
    text = text.str.strip()
    missing = text.eq("") | text.str.upper().eq("NULL")
    bad = ~missing & ~text.str.match(_NUMBER)
    if bad.any():
        raise InputError(path, f"{text[bad].iloc[0]!r} is not a count", where=f"data row {rows[bad].iloc[0]}, "
                         f"column {column!r}", expected="a number, NULL or an empty cell")
    numbers = text.where(~missing).astype("float64")  # float(): an overflowing number reads as inf, caught below
    finite_series(path, numbers, text.where(~missing, ""), rows, column)
    negative = numbers < 0
    if negative.any():
        raise InputError(path, f"{text[negative].iloc[0]!r} is a negative count",
                         where=f"data row {rows[negative].iloc[0]}, column {column!r}",
                         expected="a count of 0 or more, NULL or an empty cell")
    return numbers


def _groups(path: Path, labels: pd.Series, rows: pd.Series) -> pd.Series:
    keys = labels.str.strip().str.lower().str.split().str.join(" ")
    unknown = ~keys.isin(list(DRUG_GROUPS))
    if unknown.any():
        raise InputError(path, f"drug group {labels[unknown].iloc[0]!r} is not one this parser knows",
                         where=f"data row {rows[unknown].iloc[0]}", expected="one of " + ", ".join(DRUG_GROUPS))
    return keys.map(DRUG_GROUPS)


def financial_year(text: str) -> tuple[str, date, date] | None:
    """"2021-22", "2021/22" or "2021-2022" -> ("2021/22", 1 Apr 2021, 31 Mar 2022); None otherwise."""
    m = _PERIOD.match(str(text).strip())
    if not m:
        return None
    start = int(m[1])
    if len(m[2]) == 4:
        end = int(m[2])
    else:
        end = start + 1 if (start + 1) % 100 == int(m[2]) else None
    if end != start + 1:
        return None
    return f"{start}/{end % 100:02d}", date(start, 4, 1), date(end, 3, 31)


def _periods(path: Path, labels: pd.Series, rows: pd.Series) -> list[tuple[str, date, date]]:
    known: dict[str, tuple[str, date, date]] = {}
    for label, row in zip(labels, rows):
        if label not in known:
            period = financial_year(label)
            if period is None:
                raise InputError(path, f"reporting period {label!r} is not a financial year",
                                 where=f"data row {row}", expected="a financial year such as 2021-22 or 2021/22")
            known[label] = period
    return [known[label] for label in labels]


def _percentage(base: pd.DataFrame, measure: str, numerator: pd.Series, denominator: pd.Series,
                rounding: str) -> pd.DataFrame:
    """100 x numerator / denominator, on NDTMS's percentage scale."""
    out = base.copy()
    out["series"] = "ndtms:" + measure + "_" + out["_group"]
    out["numerator"] = numerator
    out["denominator"] = denominator
    missing = numerator.isna() | denominator.isna()
    zero = ~missing & denominator.eq(0)
    out["value"] = (100 * numerator / denominator).where(~missing & ~zero)
    out["value_note"] = _notes(missing, zero, rounding)
    return out


def _count(base: pd.DataFrame, measure: str, count: pd.Series, rounding: str) -> pd.DataFrame:
    out = base.copy()
    out["series"] = "ndtms:" + measure + "_" + out["_group"]
    out["value"] = count
    out["numerator"] = count
    out["value_note"] = _notes(count.isna(), pd.Series(False, index=count.index), rounding)
    return out


def _notes(missing: pd.Series, zero: pd.Series, rounding: str) -> pd.Series:
    notes = pd.Series(rounding, index=missing.index, dtype="str")
    notes = notes.where(~zero, "; ".join(filter(None, [ZERO_DENOMINATOR_NOTE, rounding])))
    return notes.where(~missing, NULL_NOTE)


def _drop_identical_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one of several identical rows for one key; raise when their numbers differ."""
    repeated = frame.duplicated(OBSERVATION_KEY, keep=False)
    if not repeated.any():
        return frame
    for key, group in frame.loc[repeated].groupby(OBSERVATION_KEY, sort=False):
        first = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            if not all(_same(first[c], other[c]) for c in ("value", "numerator", "denominator")):
                raise InputError(
                    other["source_file"],
                    f"contradicts {first['source_file']} data row {first['_row']}: "
                    f"{key[0]}, {key[2]}, {key[3]} is {other['numerator']} here and {first['numerator']} there",
                    where=f"data row {other['_row']}", expected="one count per series, area and period")
    return frame.drop_duplicates(OBSERVATION_KEY, keep="first")


def _same(a: float, b: float) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    return not (pd.isna(a) or pd.isna(b)) and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
