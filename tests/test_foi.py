"""Freedom of Information requests: the bank-holiday table against the statutory rules, due dates worked out by
hand, the request to one council, the campaign pack and its command, and a reply coming back through the import
to the availability page and the map."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
from dateutil.easter import easter
from support import make_warehouse, read_html_tables

from indicators.catalogue import load_catalogue
from indicators.cli import main
from indicators.pipeline.build import catalogue_frame
from indicators.products import availability as av
from indicators.products import foi
from indicators.products import local_data as ld
from indicators.products import queries

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 12, 4)  # a Friday: the window runs over Christmas and New Year
FOI_IDS = [f.indicator_id for family in foi.request_families() for f in foi.family_request(family).figures]
PACK_DAY = date(2026, 10, 5)  # the round trip's pack; the replies come in November 2026 (not in the future)
# The three areas whose councils "reply" in the round trip (none has an open naloxone figure in the fixture).
REPLIES = {"E08000003": ("Manchester", 1204, 1), "E09000007": ("Camden", 388, 2), "E06000063": ("Cumberland", 97, 3)}


# --------------------------------------------------------------------------- bank holidays

def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _first_monday(year: int, month: int) -> date:
    return _monday_on_or_after(date(year, month, 1))


def _last_monday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=last.weekday())


def _substitute(day: date, taken: set[date]) -> date:
    """A holiday on a weekend moves to the next weekday not already a holiday."""
    while day.weekday() >= 5 or day in taken:
        day += timedelta(days=1)
    return day


def _statutory(year: int, division: str) -> set[date]:
    """The bank holidays of one year, derived from the Banking and Financial Dealings Act 1971 (Schedule 1), the
    yearly proclamations (New Year's Day, Early May) and the usual substitute days: an independent oracle for the
    table written into data/foi/bank-holidays.json."""
    good_friday = easter(year) - timedelta(days=2)
    days = {good_friday, _first_monday(year, 5), _last_monday(year, 5)}
    taken = set(days)
    new_year = _substitute(date(year, 1, 1), taken)
    taken.add(new_year)
    if division == "scotland":
        taken.add(_substitute(date(year, 1, 2), taken))
        taken.add(_first_monday(year, 8))
        taken.add(_substitute(date(year, 11, 30), taken))
    else:
        taken.add(easter(year) + timedelta(days=1))
        taken.add(_last_monday(year, 8))
    if division == "northern-ireland":
        taken.add(_substitute(date(year, 3, 17), taken))
        taken.add(_substitute(date(year, 7, 12), taken))
    christmas = _substitute(date(year, 12, 25), taken)
    taken.add(christmas)
    taken.add(_substitute(date(year, 12, 26), taken))
    return taken


def test_the_bank_holiday_table_matches_the_statutory_rules_for_2024_to_2028():
    data = json.loads(foi.BANK_HOLIDAYS_FILE.read_text(encoding="utf-8"))
    table = foi.load_bank_holidays()
    assert table.years == frozenset(range(2024, 2029))
    for division in foi.DIVISIONS:
        listed = {date.fromisoformat(e["date"]) for e in data[division]["events"]}
        expected = set().union(*(_statutory(y, division) for y in range(2024, 2029)))
        assert listed == expected, (division, sorted(listed ^ expected))
        for event in data[division]["events"]:
            day = date.fromisoformat(event["date"])
            assert day.weekday() < 5, event
            assert (event["notes"] == "Substitute day") == (
                "Good Friday" not in event["title"] and "Easter Monday" not in event["title"]
                and "bank holiday" not in event["title"] and day.day not in _nominal_days(event["title"])), event


def _nominal_days(title: str) -> set[int]:
    """The day of the month a fixed-date holiday has when it is not moved."""
    return {"New Year’s Day": {1}, "2nd January": {2}, "St Patrick’s Day": {17}, "St Andrew’s Day": {30},
            "Battle of the Boyne (Orangemen’s Day)": {12}, "Christmas Day": {25}, "Boxing Day": {26}}[title]


def test_a_few_dates_checked_against_gov_uk_by_eye():
    """Dates as GOV.UK lists them, one per rule that is easy to get wrong."""
    table = foi.load_bank_holidays()
    for day in (date(2026, 12, 28),   # Boxing Day on a Saturday: Monday
                date(2027, 12, 27), date(2027, 12, 28),  # Christmas Saturday, Boxing Day Sunday
                date(2028, 1, 3),     # New Year's Day on a Saturday
                date(2027, 1, 4),     # Scotland: 2 January on a Saturday
                date(2025, 7, 14),    # Northern Ireland: 12 July on a Saturday
                date(2024, 12, 2),    # Scotland: St Andrew's Day on a Saturday
                date(2027, 3, 26), date(2027, 3, 29)):  # Easter 2027
        assert day in table.days, day
    assert date(2026, 12, 26) not in table.days and not table.is_working_day(date(2026, 12, 26))


# Worked by hand, one working day at a time (W = counted; the receipt day itself is not counted).
DUE_DATES = [
    # Fri 4 Dec 2026: W 7-11, 14-18, 21-24 Dec (14); 25 Christmas, 28 Boxing Day (substitute); W 29-31 Dec (17);
    # 1 Jan New Year; 4 Jan 2027 Scotland's 2 January (substitute); W 5, 6, 7 Jan (20).
    (date(2026, 12, 4), date(2027, 1, 7)),
    # Fri 13 Dec 2024: W 16-20, 23, 24, 27, 30, 31 Dec (10); 1 Jan; 2 Jan (Scotland); W 3, 6-10, 13-16 Jan (20).
    (date(2024, 12, 13), date(2025, 1, 16)),
    # Tue 1 Apr 2025: W 2-4, 7-11, 14-17 Apr (12); 18 Good Friday, 21 Easter Monday; W 22-25, 28-30 Apr, 1 May (20).
    (date(2025, 4, 1), date(2025, 5, 1)),
    # Fri 20 Mar 2026: W 23-27, 30, 31 Mar, 1, 2 Apr (9); 3 Good Friday, 6 Easter Monday; W 7-10, 13-17, 20, 21 Apr.
    (date(2026, 3, 20), date(2026, 4, 21)),
    # Fri 14 Mar 2025: 17 Mar is St Patrick's Day (Northern Ireland); W 18-21, 24-28 Mar, 31 Mar-4, 7-11, 14 Apr.
    (date(2025, 3, 14), date(2025, 4, 14)),
    # Received on Saturday 6 Jun 2026: W 8-12, 15-19, 22-26 Jun, 29, 30 Jun, 1-3 Jul (20).
    (date(2026, 6, 6), date(2026, 7, 3)),
]


@pytest.mark.parametrize("received, due", DUE_DATES, ids=[d.isoformat() for d, _ in DUE_DATES])
def test_due_dates_across_christmas_new_year_easter_and_a_weekend(received, due):
    assert foi.due_date(received) == due


def test_the_due_date_leaves_out_scottish_and_northern_irish_bank_holidays_too():
    """FOIA s.10(6): a bank holiday in any part of the UK is not a working day. With England and Wales's alone the
    first date of DUE_DATES would be a day earlier."""
    table = foi.load_bank_holidays()
    england_only = foi.BankHolidays({d: t for d, t in table.days.items()
                                     if any("(england-and-wales)" in x for x in t)}, table.years, table.path)
    assert foi.due_date(DAY, england_only) == date(2027, 1, 6)
    assert foi.due_date(DAY, table) == date(2027, 1, 7)


@pytest.mark.parametrize("received, shown", [(date(2028, 12, 15), "2029-01-01"), (date(2023, 12, 1), "2023-12-01")])
def test_a_date_outside_the_table_fails_clearly(received, shown):
    with pytest.raises(foi.OutsideHolidayTable) as caught:
        foi.due_date(received)
    message = str(caught.value)
    assert f"covers 2024 to 2028, so {shown} is outside it" in message
    assert "bank-holidays.json" in message and "rather than guessed" in message


def test_a_bank_holiday_file_missing_a_division_is_named(tmp_path):
    path = tmp_path / "bank-holidays.json"
    path.write_text(json.dumps({"england-and-wales": {"events": [{"title": "x", "date": "2024-01-01"}]}}))
    with pytest.raises(ld.InputError, match="no events for 'scotland'"):
        foi.load_bank_holidays(path)


# --------------------------------------------------------------------------- the request

def test_financial_years_asked_for_are_the_last_complete_ones():
    assert foi.financial_years(DAY, 3) == ["2023/24", "2024/25", "2025/26"]
    assert foi.financial_years(date(2026, 3, 31), 3) == ["2022/23", "2023/24", "2024/25"]
    assert foi.financial_years(date(2026, 4, 1), 1) == ["2025/26"]


def test_the_request_for_blackpool_and_naloxone():
    request = foi.build_request("naloxone", "E06000009", "Blackpool", DAY)
    body = request.body
    assert request.reference == "FOI-naloxone-E06000009-20261204"
    assert "This is a request to the council for Blackpool under the Freedom of Information Act 2000." in body
    assert "take-home naloxone in Blackpool, for each of the financial years 2023/24, 2024/25 and 2025/26" in body
    assert "Blackpool Council" not in body and "Borough" not in body   # no formal title guessed
    # Every template column, with its definition from data/local_data/columns.toml, and what to do with it.
    for column in ld.TEMPLATE_COLUMNS:
        assert f"- {column['name']}: {column['definition']}." in body, column["name"]
    # Every figure with its precise definition, in the columns it fills.
    spec = foi.family_request("naloxone")
    assert [f.indicator_id for f in spec.figures] == ["naloxone_kits_issued", "naloxone_kits_to_people_using_opioids",
                                                      "naloxone_kits_to_family_friends",
                                                      "naloxone_opiate_clients_issued"]
    for figure in spec.figures:
        for column, definition in figure.columns:
            assert f"   {column}: {definition}" in body
    # The table: the template's header, one started row per figure and year, ready for `indicators import`.
    table = body.split("\nTHE TABLE\n\n", 1)[1].split("\n\n")[0]
    assert table + "\n" == request.table
    rows = list(csv.DictReader(io.StringIO(request.table)))
    assert list(rows[0]) == list(ld.COLUMNS)
    assert [(r["indicator_id"], r["period_label"]) for r in rows] == [
        (f.indicator_id, p) for f in spec.figures for p in ("2023/24", "2024/25", "2025/26")]
    assert {(r["area_code"], r["access"], r["foi_reference"]) for r in rows} == {
        ("E06000009", "public", "FOI-naloxone-E06000009-20261204")}
    assert {r["source"] for r in rows} == {"Freedom of Information reply to request FOI-naloxone-E06000009-20261204"}
    assert all(r[c] == "" for r in rows for c in ("value", "numerator", "denominator", "foi_response_date"))
    # The 20-working-day duty, the reference, and plain text with nothing left to fill in.
    assert "no later than the 20th working day after you receive this request (section 10" in body
    assert "My reference for this request is FOI-naloxone-E06000009-20261204." in body
    assert not re.search(r"[\[\]{}<>]", body), "placeholders or brackets left in the letter"
    assert request.text().startswith(f"Subject: {request.subject}\n\nDear Freedom of Information officer,")
    assert request.subject == ("Freedom of Information request: take-home naloxone figures for Blackpool "
                               "(FOI-naloxone-E06000009-20261204)")


def test_the_mailto_link_has_subject_and_body_and_no_address():
    request = foi.build_request("hcv", "E09000012", "Hackney & City", DAY, signature="  Ann   Example ")
    link = urlsplit(request.mailto())
    assert link.scheme == "mailto" and link.path == ""
    fields = parse_qs(link.query, strict_parsing=True)
    assert fields == {"subject": [request.subject], "body": [request.body]}
    assert "the council for Hackney & City" in request.body
    assert request.body.endswith("Yours faithfully,\nAnn Example\n")


def test_a_change_to_the_template_changes_the_requests(monkeypatch):
    columns = [dict(c) for c in ld.TEMPLATE_COLUMNS]
    next(c for c in columns if c["name"] == "method")["definition"] = "how the figure was counted, reworded"
    columns.append(dict(name="extra_note", required="no", definition="a column added to the template", example="",
                        foi="council"))
    monkeypatch.setattr(ld, "TEMPLATE_COLUMNS", tuple(columns))
    monkeypatch.setattr(ld, "COLUMNS", tuple(c["name"] for c in columns))
    body = foi.build_request("naloxone", "E06000009", "Blackpool", DAY).body
    assert "- method: how the figure was counted, reworded. Please fill in." in body
    assert "- extra_note: a column added to the template. Please fill in." in body
    assert ",foi_response_date,extra_note\n" in body


def test_every_figure_asked_for_is_a_catalogue_indicator_the_import_accepts():
    catalogue = {i.id: i for i in load_catalogue()}
    assert foi.request_families() == ("hcv", "naloxone")
    for family in foi.request_families():
        for figure in foi.family_request(family).figures:
            ind = catalogue[figure.indicator_id]
            assert ind.family == family and ind.period_type == "financial year"
            columns = [c for c, _ in figure.columns]
            assert columns == (["numerator", "denominator"] if ind.value_type == "proportion" else ["value"])


def test_a_figure_that_names_no_template_column_is_refused(tmp_path):
    (tmp_path / "naloxone.toml").write_text(
        'family = "naloxone"\ntopic = "x"\n[[figure]]\nindicator_id = "naloxone_kits_issued"\nvalue = "kits"\n'
        'kits_given = "a column the template does not have"\n', encoding="utf-8")
    with pytest.raises(ld.InputError, match="kits_given is not a template column a figure fills"):
        foi.family_request("naloxone", tmp_path)


# --------------------------------------------------------------------------- the warehouse with the FOI figures

def foi_warehouse(path: Path) -> Path:
    """The invented warehouse with the harm families and the catalogue rows of every figure a request asks for."""
    make_warehouse(path, harm_families=True)
    rows = catalogue_frame([i for i in load_catalogue() if i.id in FOI_IDS])
    con = duckdb.connect(str(path))
    try:
        con.register("_f", rows)
        con.execute("INSERT INTO published.indicators BY NAME SELECT * FROM _f")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    return foi_warehouse(tmp_path_factory.mktemp("foi") / "warehouse.duckdb")


@pytest.fixture
def db(tmp_path, fixture_db) -> Path:
    return Path(shutil.copyfile(fixture_db, tmp_path / "warehouse.duckdb"))


CURRENT = ["E06000009", "E09000007", "E06000063", "E09000012", "E08000003", "E06000065", "E09000033"]  # by name


def test_the_campaign_pack_has_a_request_per_current_area_and_due_dates_over_the_holidays(db, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["foi-pack", "--family", "naloxone", "--out", str(out), "--db", str(db), "--date", "2026-12-04"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 7 request(s)" in printed and "due 2027-01-07" in printed
    requests = sorted(p.name for p in (out / "requests").iterdir())
    assert requests == sorted(f"{c}-{n}.txt" for c, n in zip(CURRENT, [
        "blackpool", "camden", "cumberland", "hackney", "manchester", "north-yorkshire", "westminster"]))
    assert sorted(p.name for p in (out / "replies").iterdir()) == [r.replace(".txt", ".csv") for r in requests]
    tracking = list(csv.DictReader((out / "tracking.csv").open(encoding="utf-8")))
    assert list(tracking[0]) == ["area_code", "council", "request_reference", "date_sent", "due_date", "status"]
    assert [t["area_code"] for t in tracking] == CURRENT
    for row in tracking:
        assert row["request_reference"] == f"FOI-naloxone-{row['area_code']}-20261204"
        assert (row["date_sent"], row["due_date"], row["status"]) == ("2026-12-04", "2027-01-07", "not sent")
        letter = (out / "requests" / f"{row['area_code']}-{foi.slug(row['council'])}.txt").read_text(encoding="utf-8")
        assert f"the council for {row['council']} under" in letter and row["request_reference"] in letter
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "every council (7 areas" in readme and "due\nby 2027-01-07" in readme
    # The same pack again is refused, then replaced with --force; a date outside the table writes nothing.
    assert main(["foi-pack", "--family", "naloxone", "--out", str(out), "--db", str(db)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert main(["foi-pack", "--family", "naloxone", "--out", str(out), "--db", str(db), "--date", "2027-03-01",
                 "--force"]) == 0
    # Mon 1 Mar 2027: W 2-5, 8-12, 15, 16 (11); 17 St Patrick's Day; W 18, 19, 22-25 (17); 26 Good Friday,
    # 29 Easter Monday; W 30, 31 Mar, 1 Apr (20).
    assert {t["due_date"] for t in csv.DictReader((out / "tracking.csv").open())} == {"2027-04-01"}
    late = tmp_path / "late"
    assert main(["foi-pack", "--family", "naloxone", "--out", str(late), "--db", str(db), "--date", "2028-12-20"]) == 2
    assert "covers 2024 to 2028" in capsys.readouterr().err and not late.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_pack_zip_holds_the_same_files(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        areas = queries.upper_tier_areas(con)[["area_code", "area_name", "region_name"]]
    finally:
        con.close()
    files = foi.campaign_pack(areas, "hcv", DAY)
    data = foi.pack_zip(files, foi.pack_name("hcv", DAY), DAY)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == [f"foi-pack-hcv-2026-12-04/{n}" for n in files]
        assert archive.read("foi-pack-hcv-2026-12-04/tracking.csv") == files["tracking.csv"]
    assert len([n for n in files if n.startswith("requests/")]) == len(areas) == 7
    assert foi.pack_zip(files, foi.pack_name("hcv", DAY), DAY) == data


def fill_replies(pack: Path, replies: dict[str, tuple[str, int, int]]) -> Path:
    """What a requester does with three councils' replies: the pack's reply tables, numbers and the council's
    details filled in (invented figures), rows the council did not answer deleted, saved as one CSV."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ld.COLUMNS), lineterminator="\n")
    writer.writeheader()
    for code, (name, kits, day) in replies.items():
        table = pack / "replies" / f"{code}-{foi.slug(name)}.csv"
        for row in csv.DictReader(table.open(encoding="utf-8")):
            if row["period_label"] != "2025/26" or row["indicator_id"] not in ("naloxone_kits_issued",
                                                                                "naloxone_opiate_clients_issued"):
                continue
            if row["indicator_id"] == "naloxone_kits_issued":
                row["value"] = str(kits)
            else:
                row["numerator"], row["denominator"] = "45", "150"
            row.update(collected_by=f"{name} public health team (invented)", collection_date=f"2026-11-0{day}",
                       method="Kits recorded by the commissioned services (invented)",
                       licence="Open Government Licence v3.0", foi_response_date=f"2026-11-0{day + 1}")
            writer.writerow(row)
    path = pack.parent / "naloxone-replies.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def replied_db(tmp_path_factory, fixture_db) -> Path:
    """After the pack for naloxone: three councils' replies imported with `indicators import`."""
    root = tmp_path_factory.mktemp("replied")
    db = Path(shutil.copyfile(fixture_db, root / "warehouse.duckdb"))
    assert main(["foi-pack", "--family", "naloxone", "--out", str(root / "pack"), "--db", str(db),
                 "--date", PACK_DAY.isoformat()]) == 0
    assert main(["import", str(fill_replies(root / "pack", REPLIES)), "--db", str(db)]) == 0
    return db


def test_the_imported_replies_are_foi_responses(replied_db):
    con = duckdb.connect(str(replied_db), read_only=True)
    try:
        replies = ld.foi_responses(con)
        exported = ld.exportable_local_values(con)
    finally:
        con.close()
    assert len(replies) == 6 and set(replies["area_code"]) == set(REPLIES)
    manchester = replies.set_index(["area_code", "indicator_id"]).loc[("E08000003", "naloxone_kits_issued")]
    assert manchester["value"] == 1204 and manchester["foi_reference"] == "FOI-naloxone-E08000003-20261005"
    assert manchester["foi_label"] == "FOI response to request FOI-naloxone-E08000003-20261005, reply of 2 November 2026"
    assert manchester["value_note"] == (
        "Local data, not official statistics: FOI response to request FOI-naloxone-E08000003-20261005, reply of "
        "2 November 2026; collected by Manchester public health team (invented) on 2026-11-01.")
    assert list(exported.columns[-3:]) == ["foi_reference", "foi_response_date", "is_official"]
    assert set(exported["foi_reference"]) == {f"FOI-naloxone-{c}-20261005" for c in REPLIES}


def test_the_availability_matrix_counts_them_as_foi_figures(replied_db):
    con = duckdb.connect(str(replied_db), read_only=True)
    try:
        matrix = queries.availability_matrix(con)
        families = queries.families(con)
        summary = av.national_summary(matrix, families)
    finally:
        con.close()
    naloxone = matrix.loc[matrix["family"].eq("naloxone")].set_index("area_code")
    assert naloxone["status"].to_dict() == {
        "E06000009": "open figure",  # Release's 2017/18 survey figure: published, so still counted as open
        "E08000003": "FOI figure", "E09000007": "FOI figure", "E06000063": "FOI figure",
        "E09000012": "not published", "E06000065": "not published", "E09000033": "not published"}
    assert not naloxone.loc[list(REPLIES), "has_open_figure"].any()
    assert naloxone.loc["E09000007", "note"] == ("Latest figure 2025/26: FOI response to request "
                                                 "FOI-naloxone-E09000007-20261005, reply of 3 November 2026; not "
                                                 "official statistics.")
    assert summary[3] == ("1 of 7 areas has any open naloxone figure (1 of them only from a Freedom of Information "
                          "survey, licence not stated; latest period 2017/18; 3 have FOI figures only (the councils' "
                          "replies); 3 are not published openly per area).")
    table = av.availability_table(matrix, families).set_index("Code")
    assert table.loc["E06000063", "Take-home naloxone"] == ("◆ FOI figure (council's reply, not official statistics) "
                                                            "(2025/26)")


def test_the_map_shows_their_values_labelled_as_foi_responses(replied_db):
    from indicators.present import charts

    con = duckdb.connect(str(replied_db), read_only=True)
    try:
        periods = queries.indicator_periods(con)
        values = queries.map_values(con, "naloxone_kits_issued", "2025/26")
        release = queries.map_values(con, "naloxone_kits_per_100_ocu", "2017/18")
        meta = queries.indicator(con, "naloxone_kits_issued")
    finally:
        con.close()
    assert periods["naloxone_kits_issued"] == ["2025/26"] and periods["naloxone_opiate_clients_issued"] == ["2025/26"]
    assert "foi_reference" not in release.columns  # no reply for that indicator: the frame is as before
    by_code = values.set_index("area_code")
    assert by_code.loc[list(REPLIES), "value"].tolist() == [1204.0, 388.0, 97.0]
    assert by_code["value"].notna().sum() == 3
    table, legend = charts.map_frame(values, meta, "value", "2025/26")
    table = table.set_index("area_code")
    assert table.loc[list(REPLIES), "category"].tolist() == ["not compared"] * 3
    assert table.loc["E09000033", "category"] == "not published"
    camden = charts.hover_lines(table.loc["E09000007"].to_dict() | {"area_name": "Camden"}, meta)
    assert camden[:2] == ["Camden", "388 kits"]  # a count indicator's value is a whole number (text.format_figure)
    assert camden[-1].startswith("Local data, not official statistics: FOI response to request "
                                 "FOI-naloxone-E09000007-20261005, reply of 3 November 2026")


# --------------------------------------------------------------------------- the pages

def _app(db: Path, monkeypatch, page: str, params: dict | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INDICATORS_DB", str(db))
    monkeypatch.syspath_prepend(str(REPO))
    app = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    for key, value in (params or {}).items():
        app.query_params[key] = value
    if page != "pages/map.py":
        app.switch_page(page)
    return app.run()


def _letter(app) -> str:
    """The request the page shows (the only code block that is a letter; the citation is another)."""
    codes = [c.value for c in app.code]
    letters = [i for i, c in enumerate(codes) if c.startswith("Dear Freedom of Information officer,")]
    assert len(letters) == 1, codes
    return f"Subject: {codes[letters[0] - 1]}\n\n{codes[letters[0]]}"


def test_availability_page_counts_the_replies_and_asks_for_the_rest(replied_db, tmp_path, monkeypatch):
    db = Path(shutil.copyfile(replied_db, tmp_path / "page.duckdb"))
    app = _app(db, monkeypatch, "pages/availability.py", {"area": "E09000012"})
    assert not app.exception, [e.value for e in app.exception]
    app.radio(key="w_family_availability").set_value("naloxone").run()
    assert not app.exception, [e.value for e in app.exception]
    body = " ".join(m.value for m in app.markdown)
    assert "3 have FOI figures only (the councils' replies)" in body
    assert "**FOI figure (council's reply, not official statistics)**" in body
    table = app.dataframe[-1].value.set_index("Code")
    assert table.loc[list(REPLIES), "Take-home naloxone"].str.startswith("◆ FOI figure").all()
    # Ask for this data: the sidebar's area (Hackney) first among the areas still lacking figures.
    assert "Ask for this data" in [s.value for s in app.subheader]
    chooser = app.selectbox(key="foi_area_naloxone")
    assert chooser.value == "E09000012"
    assert len(chooser.options) == 7  # every area lacks some figure-year: the replies gave one year of two figures
    letter = _letter(app)
    assert letter.startswith("Subject: Freedom of Information request: take-home naloxone figures for Hackney")
    assert "This is a request to the council for Hackney under the Freedom of Information Act 2000." in letter
    labels = [b.proto.label for b in app.get("download_button")]
    assert "Download the request (.txt)" in labels and "Download the reply table (.csv)" in labels
    assert "Download a request to every council (7), with a tracking sheet (.zip)" in labels
    mail = [b for b in app.get("link_button") if b.proto.label == "Open in your email program"][0]
    body = parse_qs(urlsplit(mail.proto.url).query)["body"][0]
    assert body.rstrip("\n") == letter.split("\n\n", 1)[1].rstrip("\n")  # st.code drops the final newline
    app.text_input(key="foi_name_availability_naloxone").input("Ann Example").run()
    assert _letter(app).rstrip("\n").endswith("Yours faithfully,\nAnn Example")


def test_area_profile_offers_a_request_for_each_family_it_lacks(replied_db, tmp_path, monkeypatch):
    db = Path(shutil.copyfile(replied_db, tmp_path / "area.duckdb"))
    app = _app(db, monkeypatch, "pages/area.py", {"area": "E06000009"})
    assert not app.exception, [e.value for e in app.exception]
    assert "Ask for this data" in [h.value for h in app.header]
    expanders = [e.label for e in app.expander if e.label.startswith("Ask ")]
    assert expanders == ["Ask Blackpool for the hepatitis C testing and treatment figures",
                         "Ask Blackpool for the take-home naloxone figures"]
    letters = [c.value for c in app.code]
    assert any("hepatitis C testing and treatment for people in drug treatment in Blackpool" in c for c in letters)
    # Manchester's profile lists its reply among the local figures, labelled as an FOI response.
    app = _app(db, monkeypatch, "pages/area.py", {"area": "E08000003"})
    assert not app.exception
    markup = [json.loads(e.proto.json) for e in app.get("bidi_component")]
    local = [t for m in markup for t in read_html_tables(m) if "Access" in t.columns][0]
    assert sorted(local["Access"]) == ["FOI response to request FOI-naloxone-E08000003-20261005, reply of "
                                       "2 November 2026"] * 2


def test_the_map_page_draws_the_replies(replied_db, tmp_path, monkeypatch):
    from browser_support import MARKUP_COMPONENT

    db = Path(shutil.copyfile(replied_db, tmp_path / "map.duckdb"))
    app = _app(db, monkeypatch, "pages/map.py", {"indicator": "naloxone_kits_issued", "period": "2025/26",
                                                 "colour": "value"})
    assert not app.exception, [e.value for e in app.exception]
    svg = [m for m in (json.loads(e.proto.json) for e in app.get("bidi_component")
                       if e.proto.component_name == MARKUP_COMPONENT) if "ind-map-main" in m][0]
    labels = dict(re.findall(r'href="area\?[^"]*area=(E\d+)[^"]*"[^>]*aria-label="([^"]*)"', svg))
    assert "1,204 kits" in labels["E08000003"]
    assert "FOI response to request FOI-naloxone-E08000003-20261005" in labels["E08000003"]
    assert "388 kits" in labels["E09000007"] and "97 kits" in labels["E06000063"]
    assert "FOI response" not in labels["E09000033"]
    shown = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in app.markdown))  # as read, without escapes
    assert ("3 areas’ figures are FOI responses: councils’ replies to a Freedom of Information request, not official "
            "statistics.") in shown


def test_the_pack_on_the_warehouse_built_from_the_real_files(real_raw, shared_raw_is_whole, tmp_path):
    """One request per current upper-tier area of the real build (153; 13 in the vendored cuts), each addressed by
    its name in the area list."""
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    fetch_all(tmp_path / "raw", mirror=real_raw, progress=False)
    db = build(tmp_path / "raw", tmp_path / "warehouse.duckdb").db_path
    assert main(["foi-pack", "--family", "naloxone", "--out", str(tmp_path / "pack"), "--db", str(db),
                 "--date", DAY.isoformat()]) == 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        areas = con.execute("""SELECT area_code, area_name FROM published.areas WHERE valid_to IS NULL
                               AND area_type IN ('county', 'unitary', 'metropolitan district', 'london borough')
                               ORDER BY area_name, area_code""").fetchall()
    finally:
        con.close()
    n = 153 if shared_raw_is_whole else 13
    assert len(areas) == n
    tracking = list(csv.DictReader((tmp_path / "pack" / "tracking.csv").open(encoding="utf-8")))
    assert [(t["area_code"], t["council"]) for t in tracking] == areas
    assert {t["due_date"] for t in tracking} == {"2027-01-07"}
    assert len(list((tmp_path / "pack" / "requests").iterdir())) == n
    for code, name in areas:
        letter = (tmp_path / "pack" / "requests" / f"{code}-{foi.slug(name)}.txt").read_text(encoding="utf-8")
        assert f"This is a request to the council for {name} under the Freedom of Information Act 2000." in letter
