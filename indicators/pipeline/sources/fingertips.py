"""Parser and fetch plan for OHID Fingertips API CSV downloads; depends on pandas and indicators.catalogue/errors/schema/sources.

One CSV per indicator from `all_data/csv/by_indicator_id` (the layout changed around
2022: older files have `Compared to Region value or percentiles`, newer ones `Column not
used` and `Time period range`), so every column is found by its name. Breakdown rows (a
non-empty `Category`) are left out; empty values stay null with the publisher's
`Value note`. The upper-tier area type id changes with each reorganisation (102, 202,
302, 402, 502, ...), so the fetch plan discovers the types from `area_types` by name, and asks
for each indicator at every upper-tier type it has data for (`available_data`): periods published
only at an earlier type (before the areas of the newest one existed) are otherwise missing. The
indicator ids it downloads are those the catalogue's series name (`fingertips:<id>`), never a list in
code. The newest type's file is `indicator-<id>.csv`, an earlier type's
`indicator-<id>_area_type_<type id>.csv`. Where two types publish the same area and period, the newer
type's figure is the publisher's current one and wins (a difference is counted in a warning); the
build carries or re-aggregates the older types' areas onto current areas (see README, "Reorganisations").
"""

from __future__ import annotations

import calendar
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from indicators.catalogue import Indicator, load_catalogue
from indicators.errors import FetchError, InputError, csv_header, require_unique_columns
from indicators.pipeline.schema import conform_observations, empty_observations
from indicators.pipeline.sources import Download
from indicators.pipeline.sources.numbers import finite_series

log = logging.getLogger(__name__)

SOURCE_ID = "fingertips"
API = "https://fingertips.phe.org.uk/api/"
AREA_TYPES_FILE = "area_types.json"
PARENT_AREA_TYPE_ENGLAND = 15

OBSERVATION_KEY = ["series", "area_code", "period_label", "sex", "age"]
VALUE_COLUMNS = ["value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998",
                 "numerator", "denominator"]

REQUIRED_COLUMNS = [
    "Indicator ID", "Indicator Name", "Area Code", "Area Name", "Area Type", "Sex", "Age",
    "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit",
    "Upper CI 95.0 limit", "Count", "Denominator", "Value note",
]
# Publisher column -> observation column; numbers (empty -> null).
NUMBER_COLUMNS = {
    "Value": "value",
    "Lower CI 95.0 limit": "lower_ci_95",
    "Upper CI 95.0 limit": "upper_ci_95",
    "Lower CI 99.8 limit": "lower_ci_998",
    "Upper CI 99.8 limit": "upper_ci_998",
    "Count": "numerator",
    "Denominator": "denominator",
}
COMPARED_TO_ENGLAND = "Compared to England value or percentiles"
SORTABLE = "Time period Sortable"

# A value note that says the figure was withheld rather than simply not available.
_SUPPRESSION_NOTE = re.compile(r"suppress|withheld|small number|small count|disclosure", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_INTEGER = re.compile(r"^\d+$")

_YEAR = re.compile(r"^(\d{4})$")
_YEARS = re.compile(r"^(\d{4})\s*-\s*(\d{2}|\d{4})$")
_FINANCIAL_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
_FINANCIAL_YEARS = re.compile(r"^(\d{4})/(\d{2})\s*-\s*(\d{2})/(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})\s*Q([1-4])$", re.IGNORECASE)
_FINANCIAL_QUARTER = re.compile(r"^(\d{4})/(\d{2})\s*Q([1-4])$", re.IGNORECASE)
_PERIOD_FORMS = ("'2021', '2019 - 21', '2018/19', '2020/21 - 22/23', '2021 Q1' or '2021/22 Q1'")


# --------------------------------------------------------------------------- periods

@dataclass(frozen=True)
class Period:
    label: str        # normalised: "2021", "2019-21", "2018/19", "2020/21-22/23", "2021/22 Q1"
    start: date
    end: date
    first_year: int   # the first year written in the label (what `Time period Sortable` encodes)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _following_year(start: int, two_digits: str) -> int:
    """The first year from `start` on whose last two digits are `two_digits`."""
    year = start // 100 * 100 + int(two_digits)
    if year < start:
        year += 100
    return year


def parse_period(text: str) -> Period | None:
    """Read a Fingertips `Time period`; calendar years run Jan-Dec, financial years 1 Apr-31 Mar.

    Returns None for a form this parser does not know (the caller reports it).
    """
    label = " ".join(str(text).replace("\u2013", "-").replace("\u2014", "-").split())
    if m := _YEAR.match(label):
        year = int(m[1])
        return Period(label, date(year, 1, 1), date(year, 12, 31), year)
    if m := _YEARS.match(label):
        start = int(m[1])
        end = int(m[2]) if len(m[2]) == 4 else _following_year(start, m[2])
        if end <= start:
            return None
        return Period(f"{start}-{end % 100:02d}", date(start, 1, 1), date(end, 12, 31), start)
    if m := _FINANCIAL_YEAR.match(label):
        start = int(m[1])
        if (start + 1) % 100 != int(m[2]):
            return None
        return Period(f"{start}/{m[2]}", date(start, 4, 1), date(start + 1, 3, 31), start)
    if m := _FINANCIAL_YEARS.match(label):
        start = int(m[1])
        last = _following_year(start, m[3])
        if (start + 1) % 100 != int(m[2]) or (last + 1) % 100 != int(m[4]) or last <= start:
            return None
        return Period(f"{start}/{m[2]}-{m[3]}/{m[4]}", date(start, 4, 1), date(last + 1, 3, 31), start)
    if m := _QUARTER.match(label):
        year, quarter = int(m[1]), int(m[2])
        first_month = 3 * quarter - 2
        return Period(f"{year} Q{quarter}", date(year, first_month, 1),
                      _last_day(year, first_month + 2), year)
    if m := _FINANCIAL_QUARTER.match(label):
        start, quarter = int(m[1]), int(m[3])
        if (start + 1) % 100 != int(m[2]):
            return None
        # Financial quarters: Q1 Apr-Jun, Q2 Jul-Sep, Q3 Oct-Dec, Q4 Jan-Mar of the next year.
        year = start if quarter < 4 else start + 1
        first_month = 3 * quarter + 1 if quarter < 4 else 1
        return Period(f"{start}/{m[2]} Q{quarter}", date(year, first_month, 1),
                      _last_day(year, first_month + 2), start)
    return None


# --------------------------------------------------------------------------- parsing

def parse_csv(path: Path) -> pd.DataFrame:
    """One Fingertips CSV as observations (schema.OBSERVATION_COLUMNS), breakdown rows left out."""
    return conform_observations(_parse(Path(path)).drop(columns=["_row"]))


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """Observations from every `indicator-*.csv`, and the upper-tier area type named in `area_types.json`.

    Identical duplicates (the same row in two files) are kept once. Rows for the same indicator,
    area, period, sex and age with different values raise InputError when they come from files of
    the same area type; from different area types, the newer type's row wins and the number of
    such rows is reported in the `warnings` table.
    """
    frames = []
    tables: dict[str, pd.DataFrame] = {}
    area_types: object = None
    for path in map(Path, files):
        if path.name.lower() == AREA_TYPES_FILE:
            area_types = _read_json(path)
            area_type_id, area_type_name = choose_upper_tier_area_type(area_types, source=path)
            tables["fingertips_area_type"] = pd.DataFrame(
                {"area_type_id": [area_type_id], "area_type_name": [area_type_name]})
        else:
            frames.append(_parse(path).assign(_area_type=area_type_of_file(path)))
    warnings = []
    if frames:
        observations = pd.concat(frames, ignore_index=True)
        observations["_age"] = _area_type_age(observations["_area_type"], area_types)
        observations, superseded = _resolve_duplicates(observations)
        if superseded:
            warnings.append(f"{superseded} row(s) published at an earlier area type differ from the newer type's "
                            "figure for the same area and period; the newer type's figure is used")
        tables["observations"] = conform_observations(observations.drop(columns=["_row", "_area_type", "_age"]))
    else:
        tables["observations"] = empty_observations()
    tables["warnings"] = pd.DataFrame({"warning": warnings}, dtype="str")
    return tables


_AREA_TYPE_FILE = re.compile(r"_area_type_(\d+)\.csv$", re.IGNORECASE)
NEWEST = -1  # the area type of a file without a suffix: the newest upper-tier type when it was fetched


def area_type_file_name(indicator_id: int, area_type_id: int | None) -> str:
    """'indicator-90244.csv' for the newest upper-tier area type (None), else 'indicator-90244_area_type_402.csv'."""
    suffix = "" if area_type_id is None else f"_area_type_{area_type_id}"
    return f"indicator-{indicator_id}{suffix}.csv"


def area_type_of_file(path: Path) -> int:
    """The area type id in a file name made by area_type_file_name; NEWEST for the newest type's file."""
    m = _AREA_TYPE_FILE.search(Path(path).name)
    return int(m[1]) if m else NEWEST


def _area_type_age(ids: pd.Series, area_types: object) -> pd.Series:
    """0 for the newest type's files, then 1, 2, ... going back: by the start dates in the type names
    (area_types.json), else by id (Fingertips has numbered successive upper-tier types upwards)."""
    starts: dict[int, tuple] = {}
    if isinstance(area_types, list):
        for item in area_types:
            if isinstance(item, dict) and "Id" in item and "Name" in item:
                start, open_ended = _area_type_start(str(item["Name"]))
                starts[int(item["Id"])] = (start, open_ended, int(item["Id"]))
    older = sorted({int(i) for i in ids if i != NEWEST}, key=lambda i: starts.get(i, ((0, 0), False, i)), reverse=True)
    age = {NEWEST: 0, **{i: n + 1 for n, i in enumerate(older)}}
    return ids.map(age)


def _parse(path: Path) -> pd.DataFrame:
    raw = _read_csv(path)
    rows = pd.Series(range(1, len(raw) + 1), index=raw.index)
    breakdown = raw["Category"].str.strip().ne("") | raw["Category Type"].str.strip().ne("")
    raw, rows = raw.loc[~breakdown], rows.loc[~breakdown]
    if raw.empty:
        return empty_observations().assign(_row=pd.Series(dtype="int64"))

    out = pd.DataFrame(index=raw.index)
    out["source_id"] = SOURCE_ID
    out["source_file"] = path.name
    out["edition"] = ""
    out["series"] = "fingertips:" + _indicator_ids(path, raw["Indicator ID"], rows)
    out["area_code"] = raw["Area Code"].str.strip()
    out["area_name"] = raw["Area Name"].str.strip()
    out["sex"] = raw["Sex"].str.strip()
    out["age"] = raw["Age"].str.strip()
    for column, name in NUMBER_COLUMNS.items():
        if column in raw.columns:
            out[name] = _numbers(path, raw[column], rows, column)
        else:
            out[name] = math.nan
    periods = _periods(path, raw, rows)
    out["period_label"] = [p.label for p in periods]
    out["period_start"] = pd.to_datetime([p.start for p in periods])
    out["period_end"] = pd.to_datetime([p.end for p in periods])
    note = raw["Value note"].str.strip()
    out["value_note"] = note
    out["is_suppressed"] = out["value"].isna() & note.str.contains(_SUPPRESSION_NOTE)
    if COMPARED_TO_ENGLAND in raw.columns:
        out["publisher_comparison"] = raw[COMPARED_TO_ENGLAND].str.strip()
    out["_row"] = rows
    blank = out["area_code"].eq("")
    if blank.any():
        raise InputError(path, "a row has no area code", where=f"data row {rows[blank].iloc[0]}, column 'Area Code'",
                         expected="a GSS area code such as E92000001")
    return _drop_identical_duplicates(out)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        head = path.read_bytes()[:512]
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror})") from None
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise InputError(path, "the file is empty", expected="a Fingertips CSV with a header row")
    if start[:1] == b"<":
        raise InputError(path, "the file is an HTML or XML page, not CSV (an error page saved as data?)",
                         where="start of file", expected="a Fingertips CSV starting 'Indicator ID,Indicator Name,...'")
    try:
        require_unique_columns(path, csv_header(path))
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         expected="a UTF-8 Fingertips CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(path, f"not a readable CSV ({str(exc).strip()})",
                         expected="a Fingertips CSV") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(repr(c) for c in missing)}", where="header row",
                         expected="the Fingertips all_data CSV columns (" + ", ".join(REQUIRED_COLUMNS) + ")")
    return raw


def _indicator_ids(path: Path, ids: pd.Series, rows: pd.Series) -> pd.Series:
    ids = ids.str.strip()
    bad = ~ids.str.match(_INTEGER)
    if bad.any():
        raise InputError(path, f"indicator id {ids[bad].iloc[0]!r} is not a whole number",
                         where=f"data row {rows[bad].iloc[0]}, column 'Indicator ID'",
                         expected="a Fingertips indicator id such as 90244")
    return ids.str.lstrip("0")


def _numbers(path: Path, text: pd.Series, rows: pd.Series, column: str) -> pd.Series:
    text = text.str.strip()
    bad = text.ne("") & ~text.str.match(_NUMBER)
    if bad.any():
        raise InputError(path, f"{text[bad].iloc[0]!r} is not a number",
                         where=f"data row {rows[bad].iloc[0]}, column {column!r}",
                         expected="a number or an empty cell")
    numbers = text.where(text.ne("")).astype("float64")  # float(): an overflowing number reads as inf
    return finite_series(path, numbers, text, rows, column)


def _periods(path: Path, raw: pd.DataFrame, rows: pd.Series) -> list[Period]:
    known: dict[str, Period] = {}
    for label, row in zip(raw["Time period"], rows):
        if label not in known:
            period = parse_period(label)
            if period is None:
                raise InputError(path, f"time period {label!r} is not a form this parser knows",
                                 where=f"data row {row}, column 'Time period'", expected=_PERIOD_FORMS)
            known[label] = period
    periods = [known[label] for label in raw["Time period"]]
    if SORTABLE in raw.columns:
        for sortable, period, row in zip(raw[SORTABLE].str.strip(), periods, rows):
            # `Time period Sortable` is YYYY0000-style with the label's first year in front.
            if sortable and (not _INTEGER.match(sortable) or int(sortable) // 10000 != period.first_year):
                raise InputError(path, f"time period {period.label!r} does not agree with its sortable key "
                                 f"{sortable!r}", where=f"data row {row}, column {SORTABLE!r}",
                                 expected=f"a key starting {period.first_year}")
    return periods


def _drop_identical_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one of several identical rows for one key; raise when their values differ."""
    repeated = frame.duplicated(OBSERVATION_KEY, keep=False)
    if not repeated.any():
        return frame
    for key, group in frame.loc[repeated].groupby(OBSERVATION_KEY, sort=False):
        first = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            if not all(_same(first[c], other[c]) for c in VALUE_COLUMNS):
                series, area, period, sex, age = key
                raise InputError(
                    other["source_file"],
                    f"contradicts {first['source_file']} data row {first['_row']}: "
                    f"{series}, area {area}, period {period}, {sex}, {age} has value {other['value']} "
                    f"here and {first['value']} there",
                    where=f"data row {other['_row']}",
                    expected="one value per indicator, area, period, sex and age")
    return frame.drop_duplicates(OBSERVATION_KEY, keep="first")


def _resolve_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per key: the newest area type's (`_age` 0 is newest), the first file's among equals.
    Rows that differ from the kept one raise InputError when they are of the same area type; rows of an
    older type that differ are dropped and counted."""
    repeated = frame.duplicated(OBSERVATION_KEY, keep=False)
    if not repeated.any():
        return frame, 0
    dups = frame.loc[repeated].sort_values([*OBSERVATION_KEY, "_age"], kind="stable")
    group = dups.groupby(OBSERVATION_KEY, sort=False).ngroup()
    leaders = dups.loc[~group.duplicated()]  # the first row of each key: newest type, first file
    kept = leaders.set_index(group.loc[leaders.index].to_numpy()).reindex(group.to_numpy())
    kept.index = dups.index
    same = pd.Series(True, index=dups.index)
    for column in VALUE_COLUMNS:
        a, b = dups[column].astype("float64"), kept[column].astype("float64")
        both_missing = a.isna() & b.isna()
        close = (a - b).abs() <= 1e-12 + 1e-12 * b.abs()
        same &= both_missing | close.fillna(False)
    differ = ~same
    conflict = differ & dups["_age"].eq(kept["_age"])
    if conflict.any():
        other = dups.loc[conflict].iloc[0]
        first = kept.loc[conflict].iloc[0]
        series, area, period, sex, age = (other[c] for c in OBSERVATION_KEY)
        raise InputError(
            other["source_file"],
            f"contradicts {first['source_file']} data row {first['_row']}: "
            f"{series}, area {area}, period {period}, {sex}, {age} has value {other['value']} "
            f"here and {first['value']} there",
            where=f"data row {other['_row']}",
            expected="one value per indicator, area, period, sex and age")
    superseded = int((differ & dups["_age"].gt(kept["_age"])).sum())
    order = frame.assign(_position=range(len(frame))).sort_values([*OBSERVATION_KEY, "_age", "_position"],
                                                                  kind="stable")
    first_rows = order.drop_duplicates(OBSERVATION_KEY, keep="first").sort_values("_position")
    return first_rows.drop(columns="_position"), superseded


def _same(a: float, b: float) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    return not (pd.isna(a) or pd.isna(b)) and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not readable JSON ({exc})", expected="the Fingertips area_types JSON") from None


# --------------------------------------------------------------------------- fetch plan

_UPPER_TIER = re.compile(r"upper[\s-]*tier|\bcount(?:y|ies)\s*(?:&|and)\s*(?:unitary authorit|uas?\b)",
                         re.IGNORECASE)
_NOT_UPPER_TIER = re.compile(r"lower[\s-]*tier|district|combined", re.IGNORECASE)
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTH_YEAR = re.compile(r"\b(?:(\d{1,2})/(\d{2}|\d{4})|([A-Za-z]{3})[a-z]*\.?\s+(\d{4}))\b")
_BEFORE = re.compile(r"\b(?:pre|before|to|until|up to)\s*$", re.IGNORECASE)


def _area_type_start(name: str) -> tuple[tuple[int, int], bool]:
    """(year, month) an area type starts, from qualifiers such as "(4/19 - 3/20)", "(post 4/23)",
    "(from Apr 2023)", "(pre 4/19)"; and whether it is open-ended. Unknown start -> (0, 0)."""
    dates = []
    for m in _MONTH_YEAR.finditer(name):
        if m[1]:
            month, year = int(m[1]), int(m[2])
        else:
            month = _MONTHS.get(m[3].lower())
            year = int(m[4])
            if month is None:
                continue
        if not 1 <= month <= 12:
            continue
        year = year + 2000 if year < 100 else year
        dates.append(((year, month), name[:m.start()]))
    if not dates:
        return (0, 0), True
    (first, before) = dates[0]
    if _BEFORE.search(before):
        return (0, 0), False
    return first, len(dates) == 1


def choose_upper_tier_area_type(area_types: object, source: str | Path = API + "area_types") -> tuple[int, str]:
    """The newest upper-tier (counties and unitary authorities) area type in an `area_types` response.

    Newest = latest start date read from the name; an open-ended type ("post 4/23") beats one
    that has ended with the same start; then the higher id.
    """
    if not isinstance(area_types, list):
        raise InputError(source, "the area types response is not a list", expected="a JSON list of {Id, Name}")
    candidates = []
    for i, item in enumerate(area_types):
        if not isinstance(item, dict) or "Id" not in item or "Name" not in item:
            raise InputError(source, "an area type has no Id or Name", where=f"item {i}",
                             expected="objects with Id and Name")
        name = str(item["Name"])
        if _UPPER_TIER.search(name) and not _NOT_UPPER_TIER.search(name):
            start, open_ended = _area_type_start(name)
            candidates.append((start, open_ended, int(item["Id"]), name))
    if not candidates:
        raise InputError(source, "no upper-tier area type found",
                         expected="a name like 'Upper tier local authorities (post 4/23)' or 'Counties & UAs'")
    _, _, area_type_id, name = max(candidates)
    return area_type_id, name


def discover_upper_tier_area_type(get_json: Callable[[str], object]) -> tuple[int, str]:
    """GET `area_types` and choose the newest upper-tier area type (id, name)."""
    url = API + "area_types"
    return choose_upper_tier_area_type(get_json(url), source=url)


def _metadata_name(metadata: object, indicator_id: int) -> str:
    entry = metadata.get(str(indicator_id)) if isinstance(metadata, dict) else None
    if not isinstance(entry, dict):
        return ""
    descriptive = entry.get("Descriptive") or {}
    return str(descriptive.get("Name") or descriptive.get("NameLong") or "")


def _same_name(found: str, wanted: str) -> bool:
    return " ".join(wanted.lower().split()) in " ".join(found.lower().split())


def resolve_id_by_name(get_json: Callable[[str], object], expected_id: int, name: str) -> int:
    """The Fingertips id of the indicator called `name` (a catalogue entry's `publisher_name`), checked by name.

    Asks the JSON metadata endpoint for `expected_id` (the catalogue's id); when its name does not match,
    searches the indicator names; when the look-up fails or finds no single match, warns and keeps
    `expected_id`.
    """
    metadata_url = API + "indicator_metadata/by_indicator_id?indicator_ids="
    try:
        found_name = _metadata_name(get_json(metadata_url + str(expected_id)), expected_id)
        if _same_name(found_name, name):
            return expected_id
        found = get_json(API + "indicator_search?search_text=" + quote(name.lower()))
        ids = sorted({int(i) for ids in (found.values() if isinstance(found, dict) else [])
                      if isinstance(ids, list) for i in ids})
        if ids:
            metadata = get_json(metadata_url + ",".join(map(str, ids)))
            matches = [i for i in ids if _same_name(_metadata_name(metadata, i), name)]
            if len(matches) == 1:
                log.warning("Fingertips indicator %s is named %r; using %s (%r) for %r",
                            expected_id, found_name, matches[0], _metadata_name(metadata, matches[0]), name)
                return matches[0]
        log.warning("no single Fingertips indicator is named %r (id %s is named %r); keeping %s",
                    name, expected_id, found_name, expected_id)
    except (FetchError, LookupError, TypeError, ValueError, AttributeError) as exc:
        log.warning("could not look up the Fingertips indicator %r by name (%s); keeping %s", name, exc, expected_id)
    return expected_id


def catalogue_indicator_ids(catalogue: list[Indicator]) -> list[tuple[int, str]]:
    """(Fingertips id, publisher_name or '') for every `fingertips:<id>` series a catalogue entry reads, each once."""
    out: dict[int, str] = {}
    for ind in catalogue:
        for text in ind.publisher_ids(SOURCE_ID):
            if not _INTEGER.match(text):
                raise InputError(f"data/indicators/{ind.id}.toml", f"series 'fingertips:{text}' is not a Fingertips "
                                 "indicator id", where="series", expected="'fingertips:' and a whole number, e.g. "
                                 "'fingertips:90244'")
            out.setdefault(int(text), ind.publisher_name)
    return list(out.items())


def indicator_csv_url(indicator_id: int, area_type_id: int) -> str:
    return (f"{API}all_data/csv/by_indicator_id?indicator_ids={indicator_id}"
            f"&child_area_type_id={area_type_id}&parent_area_type_id={PARENT_AREA_TYPE_ENGLAND}")


def upper_tier_area_types(area_types: object, source: str | Path = API + "area_types") -> list[tuple[int, str]]:
    """Every upper-tier area type in an `area_types` response, newest first (as choose_upper_tier_area_type
    orders them)."""
    choose_upper_tier_area_type(area_types, source)  # the same checks and errors for a malformed response
    found = []
    for item in area_types:
        name = str(item["Name"])
        if _UPPER_TIER.search(name) and not _NOT_UPPER_TIER.search(name):
            start, open_ended = _area_type_start(name)
            found.append((start, open_ended, int(item["Id"]), name))
    found.sort(reverse=True)
    return [(area_type_id, name) for _, _, area_type_id, name in found]


def available_area_types(get_json: Callable[[str], object], indicator_id: int) -> set[int] | None:
    """The area type ids Fingertips has data for, for one indicator (`available_data?indicator_id=`);
    None when the look-up fails or says nothing usable (the caller then asks for every upper-tier type)."""
    url = f"{API}available_data?indicator_id={indicator_id}"
    try:
        answer = get_json(url)
    except FetchError as exc:
        log.warning("could not list the area types of Fingertips indicator %s (%s)", indicator_id, exc)
        return None
    ids = set()
    for item in answer if isinstance(answer, list) else []:
        if isinstance(item, dict):
            value = next((v for k, v in item.items() if k.lower() == "areatypeid"), None)
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                ids.add(int(value))
    return ids or None


def downloads_per_area_type(get_json: Callable[[str], object], indicator_ids: list[int],
                            area_types: list[tuple[int, str]]) -> dict[int, list[Download]]:
    """Per upper-tier area type (newest first), the indicator CSVs to fetch at it: every indicator at the newest
    type (`indicator-<id>.csv`), and at each earlier type the indicators Fingertips has data for there
    (`indicator-<id>_area_type_<t>.csv`). When the available-data look-up fails for an indicator, every
    earlier type is asked (a type without data gives a CSV with a header only)."""
    newest = area_types[0][0]
    plan: dict[int, list[Download]] = {type_id: [] for type_id, _ in area_types}
    for indicator_id in indicator_ids:
        available = available_area_types(get_json, indicator_id)
        for type_id, _ in area_types:
            if type_id == newest:
                plan[type_id].append(Download(area_type_file_name(indicator_id, None),
                                              indicator_csv_url(indicator_id, type_id)))
            elif available is None or type_id in available:
                plan[type_id].append(Download(area_type_file_name(indicator_id, type_id),
                                              indicator_csv_url(indicator_id, type_id)))
    return plan


def plan_downloads(get_json: Callable[[str], object], catalogue: list[Indicator] | None = None) -> list[Download]:
    """`area_types.json` plus each Fingertips id the catalogue's series name (the default catalogue:
    data/indicators, or INDICATORS_CATALOGUE) at every upper-tier area type it has data for. An id whose
    catalogue entry gives a `publisher_name` is checked by that name first (`resolve_id_by_name`)."""
    wanted = catalogue_indicator_ids(load_catalogue() if catalogue is None else catalogue)
    url = API + "area_types"
    area_types = upper_tier_area_types(get_json(url), url)
    log.info("Fingertips upper-tier area types, newest first: %s", ", ".join(f"{i} ({n})" for i, n in area_types))
    ids = list(dict.fromkeys(resolve_id_by_name(get_json, i, name) if name else i for i, name in wanted))
    per_type = downloads_per_area_type(get_json, ids, area_types)
    return [Download(name=AREA_TYPES_FILE, url=url)] + [d for type_id, _ in area_types for d in per_type[type_id]]
