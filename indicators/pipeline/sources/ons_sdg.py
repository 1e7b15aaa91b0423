"""Parser for ONS's UK SDG indicator 3.5.1 data file (alcohol treatment: people in treatment, estimated dependent adults, met need); depends on pandas and indicators.errors/schema.

The file (`indicator_3-5-1.csv` of ONS's SDG data platform) is long: one row per year, series, area
and deprivation decile, with columns `Year, Series, Units, Local Authority, Deprivation decile,
Unit multiplier, Unit measure, GeoCode, Value`, found by name. Three series, each ONS's own:
'Alcohol - People in treatment' (adults in alcohol treatment, NDTMS), 'Alcohol - Estimated prevalence'
(estimated alcohol-dependent adults, a modelled estimate) and 'Alcohol - Met need' (the first as a
percentage of the second). They become one observation per area and year (series
`ons_sdg:alcohol_met_need`: value = met need, numerator = people in treatment, denominator = the
estimate). England's rows have neither area nor decile; its rows with a decile (2018/19 only) go to
the staged table `deprivation_deciles` instead.

Quirks handled: shire counties and a few unitaries have no `GeoCode`, so they are matched by name by
the build (NAMES_MUST_MATCH: a name that matches no area stops the build); 'Cornwall & Isles of
Scilly' is one figure for both, which the build puts on Cornwall as it does every combined area
declared in data/combined_areas.toml; areas marked '(Discontinued)' (Bedfordshire and Cheshire counties, abolished in 2009,
before the 2014 geography the build knows) are left out and listed; rows repeated with values that
differ only in the fourth decimal (England 2015/16) keep the one equal to in treatment / estimate
x 100; any larger disagreement is an InputError.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pandas as pd

from indicators.errors import InputError
from indicators.pipeline.schema import conform_observations, empty_observations

SOURCE_ID = "ons_sdg"
SERIES = "ons_sdg:alcohol_met_need"
NAMES_MUST_MATCH = True  # the build fails on an area name that matches no upper-tier area
ENGLAND_CODE = "E92000001"

REQUIRED = ("Year", "Series", "Local Authority", "Deprivation decile", "GeoCode", "Value")
TREATED = "alcohol - people in treatment"
ESTIMATED = "alcohol - estimated prevalence"
MET_NEED = "alcohol - met need"
KNOWN_SERIES = {TREATED: "numerator", ESTIMATED: "denominator", MET_NEED: "value"}

DISCONTINUED = re.compile(r"\s*\(discontinued\)\s*$", re.IGNORECASE)
DECILE = re.compile(r"^decile\s+(\d{1,2})\b", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
# Repeated rows may differ by rounding: met need to 1e-3 percentage points, counts not at all.
_VALUE_TOLERANCE = 1e-3

DECILE_COLUMNS = ["series", "period_label", "period_start", "period_end", "decile", "decile_label", "value",
                  "numerator", "denominator", "value_note", "source_id", "source_file"]
DISCONTINUED_NOTE = "left out: marked '(Discontinued)' by ONS"


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """`observations` (met need per area and year) and `deprivation_deciles` (England by decile) from every file."""
    observations, deciles = [], []
    for path in map(Path, files):
        obs, dec = parse_file(path)
        observations.append(obs)
        deciles.append(dec)
    obs = pd.concat(observations, ignore_index=True) if observations else empty_observations()
    left_out = sorted({name for o in observations for name in o.attrs.get("left_out", [])})
    key = ["area_code", "area_name", "period_label"]
    repeated = obs.loc[obs.duplicated(key, keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise InputError(" and ".join(sorted(set(repeated["source_file"]))),
                         f"{first['area_name'] or first['area_code']} {first['period_label']} appears in more than one file",
                         expected="one ONS SDG 3.5.1 file, or files covering different years")
    warnings = [f"{name}: {DISCONTINUED_NOTE} (abolished before the areas this build knows)" for name in left_out]
    return {"observations": conform_observations(obs),
            "deprivation_deciles": pd.concat(deciles, ignore_index=True) if deciles
            else pd.DataFrame(columns=DECILE_COLUMNS),
            "warnings": pd.DataFrame({"warning": warnings}, dtype="str")}


def _period(path: Path, text: str, row: int) -> tuple[str, date, date]:
    m = _YEAR.match(text.strip())
    if not m or (int(m[1]) + 1) % 100 != int(m[2]):
        raise InputError(path, f"year {text!r} is not a financial year", where=f"data row {row}, column 'Year'",
                         expected="e.g. 2018/19")
    start = int(m[1])
    return f"{start}/{m[2]}", date(start, 4, 1), date(start + 1, 3, 31)


def _read(path: Path) -> pd.DataFrame:
    head = path.read_bytes()[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype", b"<html")):
        raise InputError(path, "the file is a web page (HTML), not CSV", where="start of file",
                         expected="the ONS SDG 3.5.1 CSV (Year, Series, ..., GeoCode, Value)")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"not a readable CSV ({exc})", expected="the ONS SDG 3.5.1 CSV") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(map(repr, missing))}", where="header row",
                         expected="the ONS SDG 3.5.1 columns " + ", ".join(REQUIRED))
    return raw


def parse_file(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observations, deprivation_deciles) from one ONS SDG 3.5.1 CSV."""
    path = Path(path)
    raw = _read(path)
    cells: dict[tuple, dict] = {}   # (area_code, area_name, decile_label, period) -> field -> (value, row)
    periods: dict[str, tuple[str, date, date]] = {}
    left_out: set[str] = set()
    for i, r in enumerate(raw.itertuples(index=False), start=1):
        row = dict(zip(raw.columns, r))
        series = " ".join(row["Series"].lower().split())
        field = KNOWN_SERIES.get(series)
        if field is None:
            continue  # another series of the same indicator (none in the 2023 file): not this dataset
        if row["Year"] not in periods:
            periods[row["Year"]] = _period(path, row["Year"], i)
        name, code = row["Local Authority"].strip(), row["GeoCode"].strip()
        decile = row["Deprivation decile"].strip()
        if DISCONTINUED.search(name):
            left_out.add(DISCONTINUED.sub("", name))
            continue
        if code and not re.fullmatch(r"E\d{8}", code):
            raise InputError(path, f"GeoCode {code!r} is not an English GSS code", where=f"data row {i}, column 'GeoCode'",
                             expected="a code such as E06000001, or blank")
        if not name and not code and not decile:
            code, name = ENGLAND_CODE, "England"
        text = row["Value"].strip()
        try:
            value = float(text) if text else math.nan
        except ValueError:
            raise InputError(path, f"{text!r} is not a number", where=f"data row {i}, column 'Value'",
                             expected="a number or an empty cell") from None
        if value < 0:
            raise InputError(path, f"{text!r} is negative", where=f"data row {i}, column 'Value'",
                             expected="a count or percentage of 0 or more")
        key = (code, name, decile, periods[row["Year"]][0])
        entry = cells.setdefault(key, {})
        if field in entry:
            entry[field] = _resolve_repeat(path, entry, field, value, entry[field], i, name or code)
        else:
            entry[field] = (value, i)
    observations, deciles = [], []
    for (code, name, decile, label), entry in cells.items():
        _, start, end = next(p for p in periods.values() if p[0] == label)
        value, numerator, denominator = (entry.get(f, (math.nan, 0))[0] for f in ("value", "numerator", "denominator"))
        note = _note(value, numerator, denominator)
        base = dict(value=value, numerator=numerator, denominator=denominator, source_id=SOURCE_ID,
                    source_file=path.name, period_label=label, period_start=pd.Timestamp(start),
                    period_end=pd.Timestamp(end))
        if decile:
            m = DECILE.match(decile)
            if not m or not 1 <= int(m[1]) <= 10:
                raise InputError(path, f"deprivation decile {decile!r} is not 'Decile 1' to 'Decile 10'",
                                 where=f"data row {entry['value'][1] if 'value' in entry else '?'}, "
                                       "column 'Deprivation decile'", expected="e.g. 'Decile 10 (most deprived)'")
            deciles.append(dict(base, series=SERIES, decile=int(m[1]), decile_label=decile, value_note=note))
            continue
        observations.append(dict(base, series=SERIES, area_code=code, area_name=name, edition="2023",
                                 sex="Persons", age="18+ yrs", value_note=note))
    obs = conform_observations(pd.DataFrame(observations)) if observations else empty_observations()
    obs.attrs["left_out"] = sorted(left_out)
    frame = pd.DataFrame(deciles, columns=DECILE_COLUMNS)
    frame["decile"] = frame["decile"].astype("int64")
    return obs, frame.sort_values(["period_label", "decile"], ignore_index=True)


def _resolve_repeat(path: Path, entry: dict, field: str, value: float, first: tuple[float, int], row: int,
                    area: str) -> tuple[float, int]:
    """Keep one of two rows for the same year, series and area: identical, or met need differing by rounding
    (the one equal to in treatment / estimate x 100 wins); otherwise an InputError."""
    old, old_row = first
    if old == value or (math.isnan(old) and math.isnan(value)):
        return first
    if field == "value" and abs(old - value) <= _VALUE_TOLERANCE:
        numerator = entry.get("numerator", (math.nan, 0))[0]
        denominator = entry.get("denominator", (math.nan, 0))[0]
        if denominator and not math.isnan(numerator) and not math.isnan(denominator):
            derived = numerator / denominator * 100
            return (value, row) if abs(value - derived) < abs(old - derived) else first
        return first
    raise InputError(path, f"{area or 'England'}: two rows of the same year and series disagree ({old} in data row "
                           f"{old_row}, {value} here)", where=f"data row {row}, column 'Value'",
                     expected="one value per year, series and area")


def _note(value: float, numerator: float, denominator: float) -> str:
    if math.isnan(value) and not math.isnan(numerator) and math.isnan(denominator):
        return "ONS gives the number in treatment but no estimate of dependent adults for this year, so no met need."
    if math.isnan(value):
        return "No met-need figure in the ONS file for this area and year."
    return ""
