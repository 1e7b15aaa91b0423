"""Freedom of Information requests for figures no one publishes: the request to one council, the campaign pack for every council and the statutory due date; depends on duckdb, pandas, the catalogue and indicators.products.local_data/availability, never on Streamlit.

Wherever a family has no open figure for an area, anyone can ask the council for it under the
Freedom of Information Act 2000. The words live in data/, not here:

- data/foi/request.toml: the letter, in plain English, with placeholders;
- data/foi/<family>.toml: the figures a request asks for, each mapped to a catalogue indicator and
  to the template columns (`value`, or `numerator` and `denominator`) it fills;
- data/local_data/columns.toml: the import template's columns and their definitions, which every
  request quotes (so a change to the template changes the requests);
- data/foi/bank-holidays.json: the UK bank holidays, in GOV.UK's format, for the due dates.

A reply comes back through `indicators import`: the table a request carries is the import template,
already filled in with the figure, area, year and the request's reference (`foi_reference`), so the
rows it loads are labelled as FOI responses (indicators.products.local_data).

Due dates follow the Act, section 10: the reply is due no later than the twentieth working day
following the date of receipt, where a working day is any day other than a Saturday, a Sunday,
Christmas Day, Good Friday or a bank holiday under the Banking and Financial Dealings Act 1971 *in any
part of the United Kingdom* (s.10(6)). So a Scottish or Northern Irish bank holiday (2 January, St
Patrick's Day, the Battle of the Boyne, St Andrew's Day, Scotland's August bank holiday) also stops
the clock for an English council; the ICO's guidance says the same. The table covers whole years; a
date outside them is an error, never a guess.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from indicators.config import DATA_DIR
from indicators.errors import IndicatorsError, InputError
from indicators.products import local_data

FOI_DIR = DATA_DIR / "foi"
BANK_HOLIDAYS_FILE = FOI_DIR / "bank-holidays.json"
BANK_HOLIDAYS_SOURCE = "GOV.UK, UK bank holidays, https://www.gov.uk/bank-holidays.json"
DIVISIONS = ("england-and-wales", "scotland", "northern-ireland")
WORKING_DAYS = 20  # Freedom of Information Act 2000, s.10(1)
TRACKING_COLUMNS = ("area_code", "council", "request_reference", "date_sent", "due_date", "status")
TRACKING_FIRST_STATUS = "not sent"
FIGURE_COLUMNS = tuple(c["name"] for c in local_data.TEMPLATE_COLUMNS if c["foi"] == "figure")


class OutsideHolidayTable(IndicatorsError):
    """A date falls outside the years the bank-holiday table covers."""


# --------------------------------------------------------------------------- bank holidays and due dates

@dataclass(frozen=True)
class BankHolidays:
    """The UK bank holidays by date (every division), and the whole years the table covers."""
    days: dict[date, tuple[str, ...]]  # date -> "title (division)" for each division that has it
    years: frozenset[int]  # years with holidays listed for every division
    path: Path

    def check(self, day: date) -> None:
        """Raise OutsideHolidayTable when `day` is in a year the table does not cover."""
        if day.year not in self.years:
            span = f"{min(self.years)} to {max(self.years)}" if self.years else "no year"
            raise OutsideHolidayTable(
                f"{self.path}: the bank-holiday table covers {span}, so {day.isoformat()} is outside it and no due "
                f"date is computed rather than guessed (add that year's dates from {BANK_HOLIDAYS_SOURCE.split(', ')[-1]})")

    def is_working_day(self, day: date) -> bool:
        """Freedom of Information Act 2000, s.10(6): not a Saturday, Sunday, Christmas Day, Good Friday or a bank
        holiday in any part of the United Kingdom."""
        self.check(day)
        return day.weekday() < 5 and (day.month, day.day) != (12, 25) and day not in self.days


def load_bank_holidays(path: Path = BANK_HOLIDAYS_FILE) -> BankHolidays:
    """Read a bank-holiday file in GOV.UK's bank-holidays.json format (a fresh download can replace ours)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not readable as JSON ({exc})", expected="GOV.UK's bank-holidays.json format") from None
    days: dict[date, list[str]] = {}
    years_by_division = []
    for division in DIVISIONS:
        events = (data.get(division) or {}).get("events") if isinstance(data, dict) else None
        if not isinstance(events, list) or not events:
            raise InputError(path, f"no events for {division!r}", where=division,
                             expected="the divisions england-and-wales, scotland and northern-ireland, each with events")
        years = set()
        for i, event in enumerate(events):
            try:
                day = date.fromisoformat(event["date"])
            except (KeyError, TypeError, ValueError):
                raise InputError(path, f"event {i + 1} has no valid date: {event!r}", where=division,
                                 expected='{"title": ..., "date": "YYYY-MM-DD"}') from None
            days.setdefault(day, []).append(f"{event.get('title', '')} ({division})")
            years.add(day.year)
        years_by_division.append(years)
    covered = frozenset(set.intersection(*years_by_division))
    return BankHolidays({d: tuple(t) for d, t in days.items()}, covered, path)


@lru_cache(maxsize=4)
def bank_holidays(path: Path = BANK_HOLIDAYS_FILE) -> BankHolidays:
    return load_bank_holidays(path)


def due_date(received: date, holidays: BankHolidays | None = None, working_days: int = WORKING_DAYS) -> date:
    """The `working_days`th working day following the date of receipt (FOIA s.10(1)); the date of receipt
    itself may be any day and is not counted. Raises OutsideHolidayTable rather than guess."""
    table = holidays or bank_holidays()
    table.check(received)
    day, counted = received, 0
    while counted < working_days:
        day += timedelta(days=1)
        if table.is_working_day(day):
            counted += 1
    return day


# --------------------------------------------------------------------------- the words, from data/

@dataclass(frozen=True)
class Figure:
    """One figure a request asks for: a catalogue indicator and what goes in each template column it fills."""
    indicator_id: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (template column, what goes in it), in template order


@dataclass(frozen=True)
class FamilyRequest:
    family: str
    topic: str
    short: str  # e.g. "take-home naloxone figures"
    about: str
    financial_years: int
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class Wording:
    subject: str
    body: str
    figure: str
    figure_column: str
    column: str
    roles: dict[str, str]
    prefill: dict[str, str]


def _toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None


@lru_cache(maxsize=2)
def wording(path: Path = FOI_DIR / "request.toml") -> Wording:
    raw = _toml(path)
    try:
        words = Wording(raw["subject"], raw["body"], raw["figure"], raw["figure_column"], raw["column"],
                        dict(raw["roles"]), dict(raw["prefill"]))
    except KeyError as exc:
        raise InputError(path, f"missing {exc.args[0]!r}",
                         expected="subject, body, figure, figure_column, column, [roles] and [prefill]") from None
    missing = set(local_data.FOI_ROLES) - set(words.roles)
    if missing:
        raise InputError(path, f"no words for the column part(s) {', '.join(sorted(missing))}", where="roles")
    return words


def request_families(foi_dir: Path = FOI_DIR) -> tuple[str, ...]:
    """The families a request can be written for (a data/foi/<family>.toml each), in the dashboard's family order."""
    from indicators.catalogue import load_families

    names = {p.stem for p in foi_dir.glob("*.toml") if p.stem != "request"}
    order = list(load_families())
    return tuple(sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n)))


@lru_cache(maxsize=8)
def family_request(family: str, foi_dir: Path = FOI_DIR) -> FamilyRequest:
    """The figures of data/foi/<family>.toml, checked against the catalogue and the template's columns."""
    from indicators.catalogue import load_catalogue

    path = foi_dir / f"{family}.toml"
    if family not in request_families(foi_dir):
        raise IndicatorsError(f"no Freedom of Information request is defined for {family!r}; "
                              f"defined: {', '.join(request_families(foi_dir)) or 'none'} (data/foi/<family>.toml)")
    raw = _toml(path)
    catalogue = {i.id: i for i in load_catalogue()}
    figures = []
    for n, item in enumerate(raw.get("figure", []), start=1):
        where = f"figure {n}"
        ind = catalogue.get(item.get("indicator_id"))
        if ind is None or ind.family != raw.get("family"):
            raise InputError(path, f"indicator_id {item.get('indicator_id')!r} is not a {raw.get('family')!r} indicator "
                             "in data/indicators/", where=where)
        unknown = set(item) - {"indicator_id", "name", *FIGURE_COLUMNS}
        if unknown:
            raise InputError(path, f"{', '.join(sorted(unknown))} is not a template column a figure fills", where=where,
                             expected=f"name and some of {', '.join(FIGURE_COLUMNS)} (data/local_data/columns.toml)")
        # A figure whose method computes its limits from counts needs them (data/methods.toml), others a value.
        from_counts = ind.rule.limits in ("wilson", "byars_rate")
        needed = {"numerator", "denominator"} if from_counts else {"value"}
        if not needed <= set(item):
            raise InputError(path, f"{ind.id}'s limits are {ind.rule.name.lower()}, so the request must say what "
                             f"goes in {' and '.join(sorted(needed))}", where=where)
        columns = tuple((c, " ".join(str(item[c]).split())) for c in FIGURE_COLUMNS if c in item)
        figures.append(Figure(ind.id, str(item.get("name") or ind.short_title), columns))
    if not figures:
        raise InputError(path, "no [[figure]] entries", expected="at least one figure to ask for")
    return FamilyRequest(raw.get("family", family), raw["topic"], raw.get("short", f"{raw['topic']} figures"),
                         " ".join(str(raw.get("about", "")).split()),
                         int(raw.get("financial_years", 3)), tuple(figures))


def financial_years(today: date, n: int) -> list[str]:
    """The last `n` complete financial years (1 April to 31 March) before `today`, oldest first."""
    last_end = today.year if today >= date(today.year, 4, 1) else today.year - 1  # year of the last 31 March passed
    return [f"{y - 1}/{y % 100:02d}" for y in range(last_end - n + 1, last_end + 1)]


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def reference(family: str, area_code: str, day: date) -> str:
    """The requester's reference: FOI-<family>-<area code>-<YYYYMMDD>."""
    return f"FOI-{family}-{area_code}-{day:%Y%m%d}"


# --------------------------------------------------------------------------- one request

@dataclass(frozen=True)
class Request:
    family: str
    area_code: str
    council: str
    reference: str
    day: date  # the date the request is written for (sent and, by email, received)
    periods: tuple[str, ...]
    subject: str
    body: str
    table: str  # the reply template as CSV text (also inside the body)

    @property
    def file_stem(self) -> str:
        return f"{self.area_code}-{slug(self.council)}"

    def text(self) -> str:
        """The request as one plain-text file: the subject line, then the letter."""
        return f"Subject: {self.subject}\n\n{self.body}"

    def mailto(self) -> str:
        """A mailto: link with the subject and body filled in and no address (the person adds the council's)."""
        return f"mailto:?subject={quote(self.subject, safe='')}&body={quote(self.body, safe='')}"

    def due(self, holidays: BankHolidays | None = None) -> date:
        return due_date(self.day, holidays)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "area"


def reply_rows(family: FamilyRequest, area_code: str, periods: list[str], ref: str) -> list[dict[str, str]]:
    """The reply template's rows: one per figure and year, with the prefilled columns filled in."""
    words = wording()
    prefill = {name: value.format(reference=ref) for name, value in words.prefill.items()}
    rows = []
    for figure in family.figures:
        for period in periods:
            row = dict.fromkeys(local_data.COLUMNS, "")
            row.update(prefill, indicator_id=figure.indicator_id, area_code=area_code, period_label=period,
                       foi_reference=ref)
            rows.append(row)
    return rows


def _csv(rows: list[dict[str, str]], columns) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def build_request(family: str, area_code: str, council: str, day: date | None = None, signature: str = "") -> Request:
    """The request to the council of one area for one family's figures, written for `day` (default today).

    `council` is the area's name as the area list gives it; `signature` the requester's name (may be empty)."""
    day = day or date.today()
    spec = family_request(family)
    words = wording()
    periods = financial_years(day, spec.financial_years)
    ref = reference(spec.family, area_code, day)
    table = _csv(reply_rows(spec, area_code, periods, ref), local_data.COLUMNS)
    figures = []
    for number, figure in enumerate(spec.figures, start=1):
        lines = [words.figure.format(number=number, name=figure.name, indicator_id=figure.indicator_id)]
        lines += [words.figure_column.format(column=c, text=t) for c, t in figure.columns]
        figures.append("\n".join(lines))
    columns = [words.column.format(name=c["name"], definition=c["definition"], role=words.roles[c["foi"]])
               for c in local_data.TEMPLATE_COLUMNS]
    fields = dict(council=council, topic=spec.topic, periods=_and_list(periods),
                  about=f"\n{spec.about}" if spec.about else "", figures="\n\n".join(figures),
                  columns="\n".join(columns), table=table, reference=ref, days=WORKING_DAYS,
                  signature=" ".join(signature.split()))
    body = words.body.format(**fields).rstrip() + "\n"
    return Request(spec.family, area_code, council, ref, day, tuple(periods),
                   words.subject.format(**fields), body, table)


# --------------------------------------------------------------------------- which areas lack the figures

def areas_to_ask(con, family: str, day: date | None = None) -> pd.DataFrame:
    """Every current upper-tier area with how many of the request's figures (figure x year) it already has
    (published, or a public local or FOI row) and whether anything is missing: area_code, area_name,
    region_name, n_asked, n_held, missing."""
    from indicators.products.queries import upper_tier_areas

    spec = family_request(family)
    periods = financial_years(day or date.today(), spec.financial_years)
    ids = [f.indicator_id for f in spec.figures]
    areas = upper_tier_areas(con)[["area_code", "area_name", "region_name"]]
    held = con.execute("""
        SELECT DISTINCT area_code, indicator_id, period_label FROM published.indicator_values
        WHERE list_contains(?, indicator_id) AND list_contains(?, period_label)
          AND (value IS NOT NULL OR numerator IS NOT NULL)
    """, [ids, periods]).df()
    if local_data.has_local_values(con):
        local = con.execute("""
            SELECT DISTINCT area_code, indicator_id, period_label FROM "local"."values"
            WHERE access = 'public' AND list_contains(?, indicator_id) AND list_contains(?, period_label)
              AND (value IS NOT NULL OR numerator IS NOT NULL)
        """, [ids, periods]).df()
        held = pd.concat([held, local]).drop_duplicates()
    counts = held.groupby("area_code").size()
    frame = areas.assign(n_asked=len(ids) * len(periods),
                         n_held=areas["area_code"].map(counts).fillna(0).astype(int))
    frame["missing"] = frame["n_held"] < frame["n_asked"]
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- the campaign pack

def campaign_pack(areas: pd.DataFrame, family: str, day: date | None = None, signature: str = "") -> dict[str, bytes]:
    """Every file of the campaign pack by relative path: a request and a reply table per area in `areas`
    (area_code, area_name), the tracking CSV and a README. Raises OutsideHolidayTable before writing anything."""
    day = day or date.today()
    spec = family_request(family)
    due = due_date(day)
    files: dict[str, bytes] = {}
    tracking = []
    for code, name in areas[["area_code", "area_name"]].itertuples(index=False):
        request = build_request(family, code, name, day, signature)
        files[f"requests/{request.file_stem}.txt"] = request.text().encode("utf-8")
        files[f"replies/{request.file_stem}.csv"] = request.table.encode("utf-8")
        tracking.append(dict(area_code=code, council=name, request_reference=request.reference,
                             date_sent=day.isoformat(), due_date=due.isoformat(), status=TRACKING_FIRST_STATUS))
    files["tracking.csv"] = _csv(tracking, TRACKING_COLUMNS).encode("utf-8")
    readme = (FOI_DIR / "pack-readme.txt").read_text(encoding="utf-8")
    files["README.txt"] = readme.format(topic=spec.topic, n=len(tracking), sent=day.isoformat(),
                                        due=due.isoformat()).encode("utf-8")
    return dict(sorted(files.items()))


def pack_name(family: str, day: date) -> str:
    return f"foi-pack-{family}-{day.isoformat()}"


def pack_zip(files: dict[str, bytes], folder: str, day: date) -> bytes:
    """The pack as a zip with every file under `folder`/, stamped with `day` (the same pack gives the same bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(day.year, day.month, day.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return out.getvalue()


def write_pack(out_dir: Path, files: dict[str, bytes], overwrite: bool = False) -> Path:
    """Write the pack's files into `out_dir` all at once: into a temporary folder beside it, then moved into
    place, so an interrupted run leaves no half-written pack."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        if not overwrite:
            raise IndicatorsError(f"{out_dir} already exists and is not empty; choose another --out or pass --force "
                                  "to replace it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, content in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


# --------------------------------------------------------------------------- command line

def add_cli(subparsers, name: str) -> None:
    """Register the `foi-pack` verb on the CLI's subparsers."""
    if name != "foi-pack":
        raise ValueError(f"indicators.products.foi has no verb {name!r} (it has 'foi-pack')")
    p = subparsers.add_parser("foi-pack", help="write a Freedom of Information request to every current area's "
                                               "council for a family's figures, with a tracking CSV")
    p.add_argument("--family", required=True, choices=request_families(),
                   help="the figures to ask for (data/foi/<family>.toml)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the pack into (must be new or empty)")
    p.add_argument("--date", type=date.fromisoformat, default=None,
                   help="the day the requests will be sent, YYYY-MM-DD (default today): sets the years asked for, "
                        "the references and the due dates")
    p.add_argument("--name", default="", help="your name, to sign every request (the Act requires the requester's "
                                              "real name; without it, your email's name must show it)")
    p.add_argument("--db", type=Path, default=None,
                   help="warehouse file whose current areas to write to (default data/warehouse.duckdb, or INDICATORS_DB)")
    p.add_argument("--force", action="store_true", help="replace a pack already in --out")
    p.set_defaults(handler=cmd_foi_pack)


def cmd_foi_pack(args: argparse.Namespace) -> int:
    from indicators.config import default_db_path
    from indicators.products.queries import connect, upper_tier_areas

    day = args.date or date.today()
    con = connect(args.db or default_db_path())
    try:
        areas = upper_tier_areas(con)[["area_code", "area_name", "region_name"]]
    finally:
        con.close()
    files = campaign_pack(areas, args.family, day, args.name)
    write_pack(args.out, files, overwrite=args.force)
    print(f"wrote {len(areas)} request(s) to {args.out}/requests, their reply tables to {args.out}/replies and "
          f"{args.out}/tracking.csv (sent {day.isoformat()}, due {due_date(day).isoformat()}: 20 working days); "
          f"{args.out}/README.txt says how to send them and load the replies")
    return 0
