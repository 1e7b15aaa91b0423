"""Local and community data: a tidy CSV format, its template, strict validation and loading into the warehouse's `local` schema; depends on duckdb, pandas, indicators.errors/schema/stats, the Fingertips period parser and the FOI label of indicators.present.text, never on Streamlit.

A commissioner, a charity or a user group can put figures that are not openly published (for
example their own restricted NDTMS figures for naloxone or hepatitis C testing, or a
community survey) next to the official ones. One CSV row is one figure for one indicator,
area and period; the columns are `COLUMNS`, documented in `COLUMN_HELP` and in the README
that `indicators template` writes beside the template.

Rules the code enforces:
- Every imported row is flagged as local data, not official statistics (`is_official` false,
  `source_id` 'local:<file stem>', and a value note beginning "Local data, not official
  statistics:"), in every view and export.
- Rows marked `access = restricted` are stored only in the warehouse file on the computer that
  imported them. They are shown only by views that ask for them (`local_values(con,
  include_restricted=True)`) and never leave through `exportable_local_values`, the one
  function exports use.
- `indicators build` always writes a fresh warehouse from the official files: local rows do
  not survive a rebuild and must be imported again. That is also why a build meant for
  publication can never contain restricted rows.
- Re-importing a file replaces the rows an earlier import of the same file name loaded, in one
  transaction; a warehouse locked by a running dashboard gives a clear message.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from indicators.catalogue import method_rule
from indicators.config import DATA_DIR, ENGLAND_CODE
from indicators.errors import IndicatorsError, InputError, WarehouseMissing, writing
from indicators.pipeline.schema import INDICATOR_VALUE_COLUMNS, table_exists, value_status_sql
from indicators.present.text import foi_label

LOCAL_NOTE_PREFIX = "Local data, not official statistics: "
ACCESS_VALUES = ("public", "restricted")
TEMPLATE_NAME = "local_data_template.csv"

COLUMNS_FILE = DATA_DIR / "local_data" / "columns.toml"
# The README's section on Freedom of Information replies (words kept with the FOI request wording).
FOI_REPLIES_FILE = DATA_DIR / "foi" / "replies.md"


def _template_columns(path: Path = COLUMNS_FILE) -> tuple[dict, ...]:
    """The template's columns as data/local_data/columns.toml declares them (also read by the FOI requests)."""
    with path.open("rb") as fh:
        columns = tuple(tomllib.load(fh)["column"])
    for column in columns:
        missing = {"name", "required", "definition", "example", "foi"} - set(column)
        if missing or column["foi"] not in FOI_ROLES:
            raise InputError(path, f"column {column.get('name')!r} is incomplete",
                             expected=f"name, required, definition, example and foi (one of {', '.join(FOI_ROLES)})")
    return columns


# The columns' part in a Freedom of Information reply (see data/local_data/columns.toml).
FOI_ROLES = ("prefilled", "figure", "council", "blank")
TEMPLATE_COLUMNS = _template_columns()
# The CSV columns, in template order.
COLUMNS = tuple(c["name"] for c in TEMPLATE_COLUMNS)
# Columns a file may leave out (files written before they existed still import).
OPTIONAL_COLUMNS = frozenset(c["name"] for c in TEMPLATE_COLUMNS if c.get("optional_in_header"))
FOI_COLUMNS = ("foi_reference", "foi_response_date")

# column -> (when it is required, what it holds, an example)
COLUMN_HELP: dict[str, tuple[str, str, str]] = {
    c["name"]: (c["required"], c["definition"] + (f"; {c['readme_note']}" if c.get("readme_note") else ""),
                c["example"]) for c in TEMPLATE_COLUMNS}

LOCAL_VALUE_COLUMNS: list[str] = [*INDICATOR_VALUE_COLUMNS, "source", "collected_by", "collection_date", "method",
                                  "licence", "access", *FOI_COLUMNS, "is_official", "imported_at"]
EXPORT_COLUMNS: list[str] = [c for c in LOCAL_VALUE_COLUMNS if c != "imported_at"]

_DDL = """
CREATE SCHEMA IF NOT EXISTS "local";
CREATE TABLE IF NOT EXISTS "local"."values" (
    indicator_id VARCHAR NOT NULL, area_code VARCHAR NOT NULL, area_name VARCHAR,
    period_label VARCHAR NOT NULL, period_start DATE, period_end DATE,
    value DOUBLE, lower_ci_95 DOUBLE, upper_ci_95 DOUBLE, lower_ci_998 DOUBLE, upper_ci_998 DOUBLE,
    numerator DOUBLE, denominator DOUBLE, is_suppressed BOOLEAN, value_note VARCHAR,
    compared_to_england VARCHAR, compared_to_england_998 VARCHAR, source_id VARCHAR NOT NULL,
    comparison_note VARCHAR, value_status VARCHAR, source VARCHAR, collected_by VARCHAR, collection_date DATE, method VARCHAR, licence VARCHAR,
    access VARCHAR NOT NULL CHECK (access IN ('public', 'restricted')),
    is_official BOOLEAN NOT NULL CHECK (NOT is_official), imported_at TIMESTAMP,
    foi_reference VARCHAR, foi_response_date DATE
);
ALTER TABLE "local"."values" ADD COLUMN IF NOT EXISTS foi_reference VARCHAR;
ALTER TABLE "local"."values" ADD COLUMN IF NOT EXISTS foi_response_date DATE;
ALTER TABLE "local"."values" ADD COLUMN IF NOT EXISTS value_status VARCHAR;
"""

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PERIOD_EXPECTED = "a calendar year (2021), pooled years (2019-21) or a financial year (2021/22)"
_NUMBER_EXPECTED = "a plain number such as 12 or 12.5 (no thousands separators, % signs or words)"
_NUMERIC_FIELDS = ("numerator", "denominator", "value", "lower_ci_95", "upper_ci_95")
_RELATION_WORDS = {"split": "split", "merged": "merged", "boundary_change": "redrawn"}


class ImportRejected(InputError):
    """A local-data file failed validation; `errors` holds every row-and-field message."""

    def __init__(self, file: str | Path, errors: list[str]) -> None:
        shown = errors[:25]
        more = f"\n  ... and {len(errors) - 25} more" if len(errors) > 25 else ""
        super().__init__(file, f"{len(errors)} problem(s), nothing was imported:\n  - " + "\n  - ".join(shown) + more)
        self.errors = errors


@dataclass
class ImportReport:
    file: Path
    db_path: Path
    source_id: str
    rows_loaded: int = 0
    rows_public: int = 0
    rows_restricted: int = 0
    rows_replaced: int = 0
    rows_foi: int = 0
    indicators: list[str] = field(default_factory=list)
    foi_references: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- template

def write_template(path: Path, *, overwrite: bool = False) -> list[Path]:
    """Write a header-only CSV at `path` and `<stem>.README.md` beside it; returns both paths.

    A CSV cannot hold comments, so the column descriptions and a worked example live in the
    README; the template itself is only the header, ready to fill in.
    """
    path = Path(path)
    readme = path.with_name(f"{path.stem}.README.md")
    if not overwrite:
        for target in (path, readme):
            if target.exists():
                raise IndicatorsError(f"{target} already exists; choose another --out or pass --force to replace it")
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path):
        path.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    with writing(readme):
        readme.write_text(template_readme(path.name), encoding="utf-8")
    return [path, readme]


def template_readme(csv_name: str = TEMPLATE_NAME) -> str:
    """The README written beside the template: every column, when it is required, and the rules."""
    lines = [
        f"# Local and community data: `{csv_name}`",
        "",
        "Fill in one row per figure: one indicator, one area, one period. Save as CSV (UTF-8), keep the",
        "header row exactly as it is, then load the file with",
        "",
        "    uv run indicators import FILE [--db PATH]",
        "",
        "The import checks every row and loads nothing if any row is wrong; each problem names the row",
        "(the header is row 1) and the field. Importing the same file name again replaces its earlier rows.",
        "",
        "## Columns",
        "",
        "| column | required | what it holds | example |",
        "|---|---|---|---|",
    ]
    for column in COLUMNS:
        when, what, example = COLUMN_HELP[column]
        lines.append(f"| `{column}` | {when} | {what} | {example and f'`{example}`'} |")
    example_rows = [
        ",".join(COLUMNS),
        "naloxone_opiate_clients_issued,E08000003,2021/22,412,1530,,,,NDTMS commissioner report Q4 2021/22,"
        "Manchester City Council public health team,2022-06-15,,,restricted,,",
        "naloxone_kits_per_100_ocu,E06000009,2022/23,,,31,,,Blackpool naloxone audit 2022/23,"
        "Blackpool Harm Reduction Group,2023-05-02,Kits recorded by the three services / published OCU "
        "estimate x 100,CC BY 4.0,public,,",
        "naloxone_opiate_clients_issued,E06000009,2022/23,310,1120,,,,Freedom of Information reply,"
        "Blackpool drug and alcohol commissioning team,2023-06-28,Adults in opiate treatment with a naloxone "
        "issue recorded in NDTMS,Open Government Licence v3.0,public,FOI-naloxone-E06000009-20230601,2023-07-03",
    ]
    lines += [
        "",
        "## An example (invented figures; this block is not part of the template)",
        "",
        "```csv",
        *example_rows,
        "```",
        "",
        "## Rules",
        "",
        "- Give `value`, or `numerator` and `denominator` (the value is then computed). For a proportion the",
        "  numerator may not exceed the denominator; 95% and 99.8% Wilson limits are computed from the counts.",
        "  Without counts, limits are shown only if you give both `lower_ci_95` and `upper_ci_95` around the value.",
        "- Numbers are plain: `1530`, `26.9` - no thousands separators, `%` signs or words.",
        "- Two rows for the same indicator, area and period must not disagree.",
        "- `access` is `public` or `restricted`. Public rows need a `licence` and a `method`.",
        "",
        "## What happens to the figures",
        "",
        "- Every imported figure is labelled **Local data, not official statistics** in every view and",
        "  download, with who collected it and when.",
        "- **Restricted** rows are stored only in the warehouse file on this computer. They appear only in",
        "  a dashboard session on this computer that reads that file, and never in any download or export.",
        "- `indicators build` always starts a fresh warehouse from the official files, so local rows do not",
        "  survive a rebuild: import the file again after each build. A warehouse built for publication",
        "  therefore never contains restricted rows.",
        "",
        FOI_REPLIES_FILE.read_text(encoding="utf-8").rstrip("\n"),
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- validation

@dataclass(frozen=True)
class _IndicatorInfo:
    value_type: str
    unit: str
    multiplier: float
    ci_method: str
    polarity: str


def _catalogue_info(catalogue) -> dict[str, _IndicatorInfo]:
    """Accepts a list of catalogue.Indicator or a published.indicators frame."""
    if isinstance(catalogue, pd.DataFrame):
        records = catalogue.to_dict("records")
        get = dict.get
        id_key = "indicator_id"
    else:
        records = list(catalogue)
        get = getattr
        id_key = "id"
    return {get(r, id_key): _IndicatorInfo(get(r, "value_type"), get(r, "unit"), float(get(r, "multiplier")),
                                           get(r, "ci_method"), get(r, "polarity")) for r in records}


def _area_info(known_areas) -> dict[str, tuple[str, object]]:
    """code -> (name, valid_to or None), from a published.areas frame or an iterable of codes."""
    if isinstance(known_areas, pd.DataFrame):
        valid_to = known_areas["valid_to"] if "valid_to" in known_areas else pd.Series(None, index=known_areas.index)
        names = known_areas["area_name"] if "area_name" in known_areas else pd.Series("", index=known_areas.index)
        return {code: (name, None if pd.isna(end) else end)
                for code, name, end in zip(known_areas["area_code"], names, valid_to)}
    return {code: ("", None) for code in known_areas}


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


class _Row:
    """Collects one row's parsed fields and its error messages."""

    def __init__(self, path: Path, number: int, cells: dict[str, str], errors: list[str]) -> None:
        self.path, self.row_number, self.cells, self.errors = path, number, cells, errors
        self.failed = False

    def error(self, field_name: str, problem: str, expected: str | None = None) -> None:
        self.failed = True
        self.errors.append(str(InputError(self.path, problem, where=f"row {self.row_number}, field {field_name}",
                                          expected=expected)))

    def text(self, name: str) -> str:
        return self.cells.get(name, "").strip()

    def number(self, name: str) -> float | None:
        text = self.text(name)
        if not text:
            return None
        if not _NUMBER.match(text):
            self.error(name, f"{text!r} is not a number", _NUMBER_EXPECTED)
            return None
        number = float(text)
        if not math.isfinite(number):
            self.error(name, f"{text!r} is not a finite number (it overflows)", _NUMBER_EXPECTED)
            return None
        if number < 0:
            self.error(name, f"{text} is negative", "0 or more")
            return None
        return number


def _day(value) -> str:
    return pd.Timestamp(value).date().isoformat()


def _map_area(row: _Row, code: str, areas: dict, reorganisations: pd.DataFrame | None) -> tuple[str, str] | None:
    """(current code, note) for a known code; None (with an error) for unknown or unmappable codes."""
    if code not in areas:
        row.error("area_code", f"unknown area code {code!r}",
                  "a GSS code of a current or former upper-tier area, a region or England (e.g. E06000001)")
        return None
    name, valid_to = areas[code]
    original = (code, name)
    seen = set()
    while valid_to is not None and code not in seen:
        seen.add(code)
        successors = (reorganisations.loc[reorganisations["old_code"] == code]
                      if reorganisations is not None and not reorganisations.empty else pd.DataFrame())
        if successors.empty:
            row.error("area_code", f"{code} ({name}) ended on {_day(valid_to)} and no reorganisation record says which "
                      "current area covers it", "a current area code")
            return None
        relations = set(successors["relation"])
        if len(successors) != 1 or relations != {"same_footprint"}:
            first = successors.iloc[0]
            new = ", ".join(f"{c} ({n})" for c, n in successors[["new_code", "new_name"]].itertuples(index=False))
            how = " / ".join(sorted(_RELATION_WORDS.get(r, r.replace("_", " ")) for r in relations))
            row.error("area_code", f"{code} ({name}) ended on {_day(valid_to)}: on {_day(first['effective'])} it was "
                      f"{how} into {new}, so its figures cannot be carried to a current area",
                      "a current area code, or a former code whose area continues unchanged under a new code")
            return None
        code, new_name = successors.iloc[0][["new_code", "new_name"]]
        name, valid_to = areas.get(code, (new_name, None))
    if code == original[0]:
        return code, ""
    return code, (f"Given for {original[1]} ({original[0]}), which covered the same area as {name} ({code}).")


def _parse_period(text: str):
    from indicators.pipeline.sources.fingertips import parse_period

    return parse_period(text)


def _read_csv(path: Path, errors: list[str]) -> list[list[str]] | None:
    def fail(problem: str, expected: str | None = None, where: str = "row 1") -> None:
        errors.append(str(InputError(path, problem, where=where, expected=expected)))

    header_expected = "a CSV whose first row is the header: " + ",".join(COLUMNS)
    if not path.is_file():
        fail("the file does not exist", "a local-data CSV (see `indicators template`)", where="file")
        return None
    raw = path.read_bytes()
    if not raw.strip():
        fail("the file is empty" + (" (0 bytes)" if not raw else ""), header_expected)
        return None
    head = raw[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")):
        fail("the file is a web page (HTML), not a CSV (was it saved from a browser?)", header_expected)
        return None
    if raw[:4] == b"PK\x03\x04" or raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        fail("the file is an Excel workbook, not a CSV", "the sheet saved as 'CSV UTF-8 (comma delimited)'")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        fail(f"byte {exc.object[exc.start]:#x} is not UTF-8 text", "the file saved as CSV UTF-8", where=f"row {line}")
        return None
    if "\x00" in text:  # refused, not dropped: a NUL in a text file means it was damaged or is not text
        line = text[:text.index("\x00")].count("\n") + 1
        fail("a NUL character (byte 0x00): the file is damaged or not plain text", "the file saved as CSV UTF-8",
             where=f"row {line}")
        return None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        fail(f"not readable as CSV ({exc})", header_expected, where="file")
        return None


def validate(path: Path, known_areas, catalogue, reorganisations: pd.DataFrame | None = None,
             *, today: date | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Check a local-data CSV strictly; return (valid rows in the local.values shape, error messages).

    `known_areas`: a published.areas frame (area_code, area_name, valid_to) or an iterable of
    codes; `catalogue`: catalogue.Indicator objects or a published.indicators frame;
    `reorganisations`: staged.reorganisations (old_code, old_name, new_code, new_name,
    relation, effective). Each message names the file, the row (the header is row 1), the
    field and what was expected. The limits are the 95% limits as given; `import_file` runs the rows
    through the build's statistics pass (indicators.stats.sql.apply_statistics), which computes
    the limits from the counts where the indicator's method does and compares with England.
    """
    path = Path(path)
    today = today or date.today()
    errors: list[str] = []
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in LOCAL_VALUE_COLUMNS})
    rows = _read_csv(path, errors)
    if rows is None:
        return empty, errors
    header = [h.strip().lstrip("\ufeff").lower() for h in rows[0]]
    for i, name in enumerate(header):
        if name not in COLUMNS:
            errors.append(str(InputError(path, f"unknown column {rows[0][i]!r}", where=f"row 1, column {i + 1}",
                                         expected="only the template's columns: " + ",".join(COLUMNS))))
        elif header.index(name) != i:
            errors.append(str(InputError(path, f"column {name!r} appears twice", where=f"row 1, column {i + 1}",
                                         expected="each column once")))
    for name in COLUMNS:
        if name not in header and name not in OPTIONAL_COLUMNS:
            errors.append(str(InputError(path, "missing column", where=f"row 1, field {name}",
                                         expected="the template's header: " + ",".join(COLUMNS))))
    if errors:
        return empty, errors
    data = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not data:
        errors.append(str(InputError(path, "the file has a header but no data rows", where="row 2",
                                     expected="one row per figure under the header")))
        return empty, errors

    info = _catalogue_info(catalogue)
    areas = _area_info(known_areas)
    records = []
    for number, cells in data:
        if len(cells) != len(header):
            errors.append(str(InputError(path, f"has {len(cells)} fields but the header has {len(header)}",
                                         where=f"row {number}", expected="one value per column (quote text with commas)")))
            continue
        row = _Row(path, number, dict(zip(header, cells)), errors)
        rec = _validate_row(row, info, areas, reorganisations, today)
        if rec is not None and not row.failed:
            records.append(rec)
    records = _drop_duplicates(path, records, errors)
    if not records:
        return empty, errors

    frame = pd.DataFrame(records)
    frame["lower_ci_95"] = frame.pop("given_lower")
    frame["upper_ci_95"] = frame.pop("given_upper")
    frame["lower_ci_998"] = None
    frame["upper_ci_998"] = None
    frame["compared_to_england"] = None
    frame["compared_to_england_998"] = None
    frame["comparison_note"] = None
    frame["value_status"] = np.where(frame["value"].notna(), "value",
                                     np.where(frame["numerator"].notna(), "not calculated", "no data"))
    frame["imported_at"] = pd.NaT
    return frame[LOCAL_VALUE_COLUMNS].reset_index(drop=True), errors


def _date_field(row: _Row, name: str, today: date) -> date | None:
    """A YYYY-MM-DD field that is not in the future; None (with an error if it is not empty) otherwise."""
    text = row.text(name)
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        row.error(name, f"{text!r} is not a date", "YYYY-MM-DD, e.g. 2022-06-15")
    elif day > today:
        row.error(name, f"{text} is in the future", f"a date on or before {today.isoformat()}")
        return None
    return day


def _validate_row(row: _Row, info: dict[str, _IndicatorInfo], areas: dict,
                  reorganisations: pd.DataFrame | None, today: date) -> dict | None:
    for name in ("indicator_id", "area_code", "period_label", "source", "collected_by", "collection_date", "access"):
        if not row.text(name):
            row.error(name, "empty", COLUMN_HELP[name][1])
    indicator_id = row.text("indicator_id")
    ind = info.get(indicator_id)
    if indicator_id and ind is None:
        row.error("indicator_id", f"{indicator_id!r} is not in the catalogue",
                  "one of: " + ", ".join(sorted(info)))
    access = row.text("access").lower()
    if access and access not in ACCESS_VALUES:
        row.error("access", f"{row.text('access')!r} is not an access level", "public or restricted")
    if access == "public":
        for name in ("licence", "method"):
            if not row.text(name):
                row.error(name, "empty on a public row",
                          "the licence the figure may be shared under (e.g. Open Government Licence v3.0)"
                          if name == "licence" else "how the figure was produced, in a sentence")
    collected = _date_field(row, "collection_date", today)
    foi_reference, foi_date = row.text("foi_reference"), _date_field(row, "foi_response_date", today)
    if foi_reference and not row.text("foi_response_date"):
        row.error("foi_response_date", "empty while foi_reference is given", "the date of the council's reply, YYYY-MM-DD")
    if row.text("foi_response_date") and not foi_reference:
        row.error("foi_reference", "empty while foi_response_date is given",
                  "the reference of the Freedom of Information request the figure answers")
    if foi_reference and access == "restricted":
        row.error("access", "restricted on a Freedom of Information reply",
                  "public (a reply under the Freedom of Information Act is public information)")
    period = None
    if row.text("period_label"):
        period = _parse_period(row.text("period_label"))
        if period is None:
            row.error("period_label", f"{row.text('period_label')!r} is not a period", _PERIOD_EXPECTED)
    mapped = None
    if row.text("area_code"):
        mapped = _map_area(row, row.text("area_code").upper(), areas, reorganisations)

    nums = {name: row.number(name) for name in _NUMERIC_FIELDS}
    num, den, value = nums["numerator"], nums["denominator"], nums["value"]
    lower, upper = nums["lower_ci_95"], nums["upper_ci_95"]
    if row.failed and any(row.text(n) and nums[n] is None for n in _NUMERIC_FIELDS):
        return None
    if den is not None and den == 0:
        row.error("denominator", "is 0", "a denominator of more than 0")
        den = None
    if den is not None and num is None:
        row.error("numerator", "empty while denominator is given", "the count the denominator belongs to")
    if value is None and (num is None or den is None):
        row.error("value", "empty, and numerator and denominator are not both given",
                  "a value, or a numerator and a denominator")
    if ind is None:
        return None
    multiplier = ind.multiplier
    rule = method_rule(ind.ci_method)
    if rule.bounded and num is not None and den is not None and num > den:
        row.error("numerator", f"{row.text('numerator')} is more than the denominator {row.text('denominator')}",
                  "a numerator no larger than its denominator (this indicator is a proportion)")
        return None
    computed = num / den * multiplier if num is not None and den is not None else None
    if value is not None and computed is not None:
        tolerance = 0.5 * 10 ** -_decimals(row.text("value")) + 1e-9
        if abs(value - computed) > tolerance:
            row.error("value", f"{row.text('value')} does not match numerator / denominator x {multiplier:g} "
                      f"= {computed:.4g}", "the value computed from the counts, or leave value empty")
            return None
    final = computed if computed is not None and rule.limits == "wilson" else (value if value is not None else computed)
    if (rule.bounded or ind.unit == "%") and final is not None and final > multiplier + 1e-9:
        row.error("value", f"{final:g} is more than {multiplier:g}", f"a proportion between 0 and {multiplier:g}")
    if (lower is None) != (upper is None):
        row.error("lower_ci_95" if lower is None else "upper_ci_95", "empty while the other limit is given",
                  "both 95% limits or neither")
    elif lower is not None and final is not None and not lower <= final <= upper:
        row.error("lower_ci_95" if lower > final else "upper_ci_95",
                  f"the limits {row.text('lower_ci_95')} to {row.text('upper_ci_95')} do not surround the value {final:g}",
                  "lower_ci_95 <= value <= upper_ci_95")
    if row.failed:
        return None
    code, area_note = mapped
    source = row.text("source")
    note = (f"{LOCAL_NOTE_PREFIX}{foi_label(foi_reference, foi_date) if foi_reference else source}; "
            f"collected by {row.text('collected_by')} on {collected.isoformat()}."
            + (f" {area_note}" if area_note else "")
            + (" Restricted: shown only on the computer that imported it, never exported."
               if access == "restricted" else ""))
    return dict(
        indicator_id=indicator_id, area_code=code, area_name=areas.get(code, ("", None))[0],
        period_label=period.label, period_start=period.start, period_end=period.end,
        value=final, numerator=num, denominator=den, is_suppressed=False, value_note=note,
        given_lower=lower, given_upper=upper,
        source_id=f"local:{row.path.stem}", source=source, collected_by=row.text("collected_by"),
        collection_date=collected, method=row.text("method"), licence=row.text("licence"), access=access,
        foi_reference=foi_reference or None, foi_response_date=foi_date, is_official=False, _row=row.row_number,
    )


def _drop_duplicates(path: Path, records: list[dict], errors: list[str]) -> list[dict]:
    """Identical repeats are kept once; repeats with different figures or access are errors naming both rows."""
    seen: dict[tuple, dict] = {}
    kept = []
    compared = ("value", "numerator", "denominator", "given_lower", "given_upper", "access")
    for rec in records:
        key = (rec["indicator_id"], rec["area_code"], rec["period_label"])
        first = seen.get(key)
        if first is None:
            seen[key] = rec
            kept.append(rec)
            continue
        differs = [c for c in compared if not _same(first[c], rec[c])]
        if differs:
            fields = ", ".join("lower_ci_95" if c == "given_lower" else "upper_ci_95" if c == "given_upper" else c
                               for c in differs)
            errors.append(str(InputError(
                path, f"conflicts with row {first['_row']}: both give {key[0]} for {key[1]} in {key[2]} "
                f"with different {fields}", where=f"row {rec['_row']}, field {fields}",
                expected="one figure per indicator, area and period")))
            if first in kept:
                kept.remove(first)
    return kept


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return a == b


# --------------------------------------------------------------------------- warehouse

def _open_for_writing(db_path: Path) -> duckdb.DuckDBPyConnection:
    if not db_path.exists():
        raise WarehouseMissing(f"no warehouse at {db_path}: build one first with `uv run indicators build`, "
                               "then import the file")
    try:
        return duckdb.connect(str(db_path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise IndicatorsError(
                f"{db_path} is open in another program (probably the dashboard, `indicators serve`), so it "
                "cannot be written: stop that program and run the import again") from None
        raise IndicatorsError(f"{db_path}: cannot open the warehouse ({exc})") from None
    except duckdb.Error as exc:
        raise IndicatorsError(f"{db_path}: cannot open the warehouse ({exc})") from None


def _statistics(con, frame: pd.DataFrame, catalogue: pd.DataFrame) -> pd.DataFrame:
    """Values, limits and England comparisons from the build's statistics pass (apply_statistics).

    Each row goes through with its indicator's `limits` rule (data/methods.toml): computed from the counts for
    wilson, byars_rate and byars_count, otherwise the limits as given ('published'). The benchmark is only
    ever the published England figure of the same indicator and period, never a row of the file.
    """
    from indicators.stats.sql import apply_statistics   # only an import needs it: views of local rows do not

    limits = {i: method_rule(m).limits for i, m in zip(catalogue["indicator_id"], catalogue["ci_method"])}
    rows = frame.assign(
        _position=range(len(frame)),
        ci_method=[limits.get(i, "none") if limits.get(i, "none") != "none" else "published"
                   for i in frame["indicator_id"]],
        multiplier=frame["indicator_id"].map(dict(zip(catalogue["indicator_id"], catalogue["multiplier"]))),
        polarity=frame["indicator_id"].map(dict(zip(catalogue["indicator_id"], catalogue["polarity"]))))
    rows = rows[["_position", "indicator_id", "area_code", "period_label", "value", "lower_ci_95", "upper_ci_95",
                 "lower_ci_998", "upper_ci_998", "numerator", "denominator", "is_suppressed", "ci_method",
                 "multiplier", "polarity"]]
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator",
                   "multiplier"):
        rows[column] = pd.to_numeric(rows[column]).astype("float64")
    con.register("_local_rows", rows)
    try:
        con.execute(f"""CREATE OR REPLACE TEMP VIEW _local_benchmarks AS
                        SELECT indicator_id, period_label, value FROM published.indicator_values
                        WHERE area_code = '{ENGLAND_CODE}' AND NOT coalesce(is_suppressed, false)""")
        apply_statistics(con, "_local_rows", "_local_statistics", benchmarks="_local_benchmarks")
        done = con.execute("SELECT * FROM _local_statistics ORDER BY _position").df()
    finally:
        con.unregister("_local_rows")
        con.execute("DROP VIEW IF EXISTS _local_benchmarks")
        con.execute("DROP TABLE IF EXISTS _local_statistics")
    frame = frame.copy()
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "compared_to_england",
                   "compared_to_england_998", "comparison_note"):
        frame[column] = done[column].to_numpy()
    return frame


def import_file(db_path: Path, path: Path, *, now: datetime | None = None) -> ImportReport:
    """Validate `path` against the warehouse and load it into local.values in one transaction.

    Known areas, reorganisations and the catalogue come from the warehouse itself
    (published.areas, staged.reorganisations, published.indicators). Rows of an earlier
    import of the same file name (source_id 'local:<stem>') are replaced.
    """
    db_path, path = Path(db_path), Path(path)
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    con = _open_for_writing(db_path)
    try:
        if not table_exists(con, "published", "areas") or not table_exists(con, "published", "indicators"):
            raise WarehouseMissing(f"{db_path} is not a warehouse built by `indicators build`")
        areas = con.execute("SELECT area_code, area_name, valid_to FROM published.areas").df()
        catalogue = con.execute("SELECT * FROM published.indicators").df()
        reorganisations = (con.execute("SELECT * FROM staged.reorganisations").df()
                           if table_exists(con, "staged", "reorganisations") else None)
        frame, errors = validate(path, areas, catalogue, reorganisations)
        if errors:
            raise ImportRejected(path, errors)
        frame = _statistics(con, frame, catalogue)
        frame["imported_at"] = now
        for c in ("period_start", "period_end", "collection_date", "foi_response_date"):
            frame[c] = pd.to_datetime(frame[c]).dt.date
        for c in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator"):
            frame[c] = pd.to_numeric(frame[c]).astype("float64")
        source_id = f"local:{path.stem}"
        report = ImportReport(file=path, db_path=db_path, source_id=source_id)
        con.begin()
        try:
            con.execute(_DDL)
            report.rows_replaced = con.execute('SELECT count(*) FROM "local"."values" WHERE source_id = ?',
                                               [source_id]).fetchall()[0][0]
            con.execute('DELETE FROM "local"."values" WHERE source_id = ?', [source_id])
            con.register("_local_frame", frame)
            con.execute('INSERT INTO "local"."values" BY NAME SELECT * FROM _local_frame')
            con.unregister("_local_frame")
            con.commit()
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):  # a failed rollback must not hide why the import failed
                con.rollback()
            raise IndicatorsError(f"{db_path}: the import of {path} failed and nothing was changed ({exc})") from None
    finally:
        with contextlib.suppress(duckdb.Error):
            con.close()
    report.rows_loaded = len(frame)
    report.rows_public = int(frame["access"].eq("public").sum())
    report.rows_restricted = int(frame["access"].eq("restricted").sum())
    report.indicators = sorted(set(frame["indicator_id"]))
    report.rows_foi = int(frame["foi_reference"].notna().sum())
    report.foi_references = sorted(set(frame["foi_reference"].dropna()))
    report.notes = list(dict.fromkeys(n[n.index("Given for "):].split(" Restricted:")[0]
                                      for n in frame["value_note"] if "Given for " in n))
    return report


def _empty_local(columns: list[str]) -> pd.DataFrame:
    dtypes = {"value": "float64", "lower_ci_95": "float64", "upper_ci_95": "float64", "lower_ci_998": "float64",
              "upper_ci_998": "float64", "numerator": "float64", "denominator": "float64", "is_suppressed": "bool",
              "is_official": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})


def local_values(con, include_restricted: bool) -> pd.DataFrame:
    """Local rows for views: public ones, and restricted ones only when `include_restricted` (a local session)."""
    if not table_exists(con, "local", "values"):
        return _empty_local(LOCAL_VALUE_COLUMNS)
    columns = _select_list(con, LOCAL_VALUE_COLUMNS)
    return con.execute(f"""
        SELECT {columns} FROM "local"."values"
        WHERE NOT is_official AND (access = 'public' OR ?)
        ORDER BY indicator_id, area_code, period_start, period_label, source_id
    """, [bool(include_restricted)]).df()


def _local_columns(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'local' "
                                      "AND table_name = 'values'").fetchall()}


def _select_list(con, columns: list[str]) -> str:
    """`columns` for a SELECT from local.values; NULL for the FOI columns of a table loaded before they existed."""
    have = _local_columns(con)
    missing = {c: f"NULL AS {c}" for c in FOI_COLUMNS}
    missing["value_status"] = f"{value_status_sql(None)} AS value_status"  # a table imported before the column
    return ", ".join(c if c in have or c not in missing else missing[c] for c in columns)


def has_local_values(con) -> bool:
    """Whether the warehouse holds a local.values table (created by the first `indicators import`)."""
    return table_exists(con, "local", "values")


def foi_responses(con, indicator_id: str | None = None, period_label: str | None = None) -> pd.DataFrame:
    """Public rows loaded from Freedom of Information replies (a `foi_reference`), optionally for one indicator
    and period, with `foi_label` saying so; LOCAL_VALUE_COLUMNS + foi_label. Empty when none were loaded."""
    columns = [*LOCAL_VALUE_COLUMNS, "foi_label"]
    if not table_exists(con, "local", "values") or "foi_reference" not in _local_columns(con):
        return _empty_local(columns)
    frame = con.execute(f"""
        SELECT {_select_list(con, LOCAL_VALUE_COLUMNS)} FROM "local"."values"
        WHERE access = 'public' AND NOT is_official AND foi_reference IS NOT NULL
          AND (indicator_id = ? OR ? IS NULL) AND (period_label = ? OR ? IS NULL)
        ORDER BY indicator_id, area_code, period_start, period_label, source_id
    """, [indicator_id, indicator_id, period_label, period_label]).df()
    frame["foi_label"] = [foi_label(r, d) for r, d in zip(frame["foi_reference"], frame["foi_response_date"])]
    return frame


def restricted_row_count(con) -> int:
    """How many restricted local rows the warehouse holds (0 without a local schema); a file copy must not carry them."""
    if not table_exists(con, "local", "values"):
        return 0
    return con.execute('SELECT count(*) FROM "local"."values" WHERE access <> \'public\'').fetchall()[0][0]


def exportable_local_values(con) -> pd.DataFrame:
    """The only local rows any export may contain: public rows, is_official false, value_note flagged as local data."""
    if not table_exists(con, "local", "values"):
        return _empty_local(EXPORT_COLUMNS)
    columns = _select_list(con, EXPORT_COLUMNS)
    frame = con.execute(f"""
        SELECT {columns} FROM "local"."values"
        WHERE access = 'public' AND NOT is_official
        ORDER BY indicator_id, area_code, period_start, period_label, source_id
    """).df()
    frame["is_official"] = False
    frame["value_note"] = [n if str(n).startswith(LOCAL_NOTE_PREFIX) else LOCAL_NOTE_PREFIX + str(n or "")
                           for n in frame["value_note"]]
    return frame


# --------------------------------------------------------------------------- command line

def add_cli(subparsers, name: str) -> None:
    """Register the `template` or the `import` verb (one per call) on the CLI's subparsers."""
    if name == "template":
        p = subparsers.add_parser("template", help="write the CSV template for local and community data, with a README")
        p.add_argument("--out", type=Path, default=Path(TEMPLATE_NAME),
                       help=f"where to write the template (default ./{TEMPLATE_NAME}; the README goes beside it)")
        p.add_argument("--force", action="store_true", help="replace existing files")
        p.set_defaults(handler=cmd_template)
    elif name == "import":
        p = subparsers.add_parser("import", help="validate a local-data CSV and load it into the warehouse "
                                                 "(flagged as local data; restricted rows are never exported)")
        p.add_argument("file", type=Path, help="the filled-in template (CSV)")
        p.add_argument("--db", type=Path, default=None,
                       help="warehouse file (default data/warehouse.duckdb, or INDICATORS_DB)")
        p.set_defaults(handler=cmd_import)
    else:
        raise ValueError(f"indicators.products.local_data has no verb {name!r} (it has 'template' and 'import')")


def cmd_template(args: argparse.Namespace) -> int:
    written = write_template(args.out, overwrite=args.force)
    print(f"wrote {written[0]} (header only) and {written[1]} (what each column means, with an example)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from indicators.config import default_db_path

    report = import_file(args.db or default_db_path(), args.file)
    replaced = f"; replaced {report.rows_replaced} row(s) of an earlier import" if report.rows_replaced else ""
    print(f"imported {report.rows_loaded} row(s) from {report.file} into {report.db_path} as {report.source_id} "
          f"({report.rows_public} public, {report.rows_restricted} restricted{replaced}): "
          f"{', '.join(report.indicators)}")
    for note in report.notes:
        print(f"note: {note}")
    if report.rows_foi:
        print(f"{report.rows_foi} row(s) marked as Freedom of Information responses "
              f"({', '.join(report.foi_references)}): shown as 'FOI figure', not as open data.")
    print("Shown as local data, not official statistics. Restricted rows stay in this warehouse file and are "
          "never exported. `indicators build` starts a fresh warehouse: import again after each build.")
    return 0
