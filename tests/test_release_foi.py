"""Release's take-home naloxone FOI survey tables and UKHSA's HCV figures per ODN: parsers, declarations, and the build with them."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pytest

from indicators.errors import InputError
from indicators.pipeline.sources import get_source, release_foi, ukhsa_hcv_odn

FIXTURES = Path(__file__).parent / "fixtures"
RELEASE = FIXTURES / "release_foi" / "release_naloxone_2017-18.csv"
ODN_DIR = FIXTURES / "ukhsa_hcv_odn"
HEADER = ("Local authority,Provision of take-home naloxone,Number of take-home naloxone kits dispensed,"
          "Estimated number of people using opiates,Kits per 100 people using opiates")


def ocu_rows(frame):
    part = frame.loc[frame["series"].eq(release_foi.SERIES_OCU)].set_index("area_name")
    return part


def test_fixture_table_parses_by_hand():
    frame = release_foi.parse_table(RELEASE)
    ocu = ocu_rows(frame)
    assert list(ocu.index) == ["England", "Blackpool", "Manchester", "Camden", "Hackney", "Westminster",
                               "Bristol, City of"]
    assert set(frame["source_id"]) == {"release_foi"} and set(frame["period_label"]) == {"2017/18"}
    assert str(frame["period_start"].iloc[0].date()) == "2017-04-01"
    assert str(frame["period_end"].iloc[0].date()) == "2018-03-31"
    assert set(frame["area_code"]) == {""}                       # names only: the build resolves codes
    assert (ocu.loc["England", "value"], ocu.loc["England", "numerator"], ocu.loc["England", "denominator"]) == (
        16.0, 32000.0, 200000.0)                                  # "32,000" and "200,000" read as numbers
    assert (ocu.loc["Blackpool", "value"], ocu.loc["Blackpool", "numerator"]) == (20.0, 200.0)
    assert ocu.loc["Manchester", "value"] == 15.0                 # blank: 450 / 3000 x 100
    assert "computed here from the kits" in ocu.loc["Manchester", "value_note"]
    assert math.isnan(ocu.loc["Camden", "value"]) and ocu.loc["Camden", "denominator"] == 1200.0
    assert "'Not provided'" in ocu.loc["Camden", "value_note"]
    assert math.isnan(ocu.loc["Hackney", "value"])
    assert "No response to Release's FOI request." in ocu.loc["Hackney", "value_note"]
    assert ocu.loc["Westminster", "value"] == 0.0
    assert ocu.loc["Westminster", "value_note"].startswith("Take-home naloxone provision: No.")
    assert all(n.endswith("Release states no licence.") for n in frame["value_note"])
    assert not frame["is_suppressed"].any()
    clients = frame.loc[frame["series"].eq(release_foi.SERIES_CLIENTS)].set_index("area_name")
    assert clients.loc["Manchester", "value"] == 22.5             # 450 / 2000 x 100
    assert clients.loc["Blackpool", "value"] == 33.0               # as published (200 / 600 x 100 = 33.3)


def test_xlsx_with_a_title_row_and_a_year_column(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Take-home naloxone in England (invented test table)"])
    sheet.append([])
    sheet.append(["Year", "Local Authority", "Provision of THN", "Number of THN kits dispensed",
                  "Estimated number of people using opiates", "Kits per 100 people using opiates"])
    sheet.append(["2016/17", "Blackpool", "Yes", 120, 1000, 12])
    sheet.append(["2016/17", "Manchester", "Planned", None, 3000, None])
    path = tmp_path / "release.xlsx"
    workbook.save(path)
    ocu = ocu_rows(release_foi.parse_table(path))
    assert list(ocu.index) == ["Blackpool", "Manchester"]
    assert set(ocu["period_label"]) == {"2016/17"}
    assert ocu.loc["Blackpool", "value"] == 12.0 and ocu.loc["Blackpool", "numerator"] == 120.0
    assert math.isnan(ocu.loc["Manchester", "value"])
    assert ocu.loc["Manchester", "value_note"].startswith("Take-home naloxone provision: Planned. No number of kits")


@pytest.mark.parametrize("name, content, message", [
    ("release_2017-18.csv", HEADER + "\nBlackpool,Yes,lots,1000,\n",
     "row 2, column 'Number of take-home naloxone kits dispensed': 'lots' is not a number"),
    ("release_2017-18.csv", HEADER + "\nBlackpool,Maybe,10,1000,1\n",
     "row 2, column 'Provision of take-home naloxone': 'Maybe' is not a provision answer"),
    ("release_2017-18.csv", HEADER + "\nBlackpool,Yes,-10,1000,1\n", "row 2, column 'Number of take-home naloxone kits dispensed': '-10' is negative"),
    ("release_2017-18.csv", HEADER.replace(",Kits per 100 people using opiates", "") + "\nBlackpool,Yes,1,2\n",
     "row 1: the header has no column for Kits per 100 people using opiates"),
    ("release.csv", HEADER + "\nBlackpool,Yes,10,1000,1\n", "row 2: no financial year in a Year column or in the file name"),
    ("release_2017-18.csv", "Area,Kits\nBlackpool,1\n", "rows 1-20: no header row with a 'Local authority' column"),
    ("release_2017-18.csv", HEADER + "\n", "after row 1: the table has a header but no local authority rows"),
    ("release_2017-18.csv", "<!DOCTYPE html><html><body>Not found</body></html>", "line 1: the file is a web page (HTML)"),
    ("release_2017-18.csv", "", "the file is empty (0 bytes)"),
    ("release_2017-18.csv", HEADER + "\nBlackpool,Yes,1e309,1000,1\n",
     "row 2, column 'Number of take-home naloxone kits dispensed': '1e309' is not a finite number"),
    ("release_2017-18.csv", HEADER + "\nBlackpool,Yes,10,nan,1\n",
     "row 2, column 'Estimated number of people using opiates': 'nan' is not a finite number"),
    ("release_2017-18.csv", HEADER + "\nBlackpool,Yes,10,1000,inf\n",
     "row 2, column 'Kits per 100 people using opiates': 'inf' is not a finite number"),
])
def test_bad_release_tables_name_the_row_and_column(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        release_foi.parse_table(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_two_copies_of_one_survey_are_refused(tmp_path):
    shutil.copyfile(RELEASE, tmp_path / "a_2017-18.csv")
    shutil.copyfile(RELEASE, tmp_path / "b_2017-18.csv")
    with pytest.raises(InputError, match="England 2017/18 appears more than once"):
        release_foi.stage([tmp_path / "a_2017-18.csv", tmp_path / "b_2017-18.csv"])


def test_sources_are_declared_without_files_and_flagged():
    release = get_source("release_foi")
    assert release.licence == release_foi.LICENCE == "unclear (FOI responses published by Release)"
    assert release.files == () and release.parser == "indicators.pipeline.sources.release_foi"
    assert not hasattr(release.module(), "plan_downloads")    # nothing is fetched
    odn = get_source("ukhsa_hcv_odn")
    assert odn.files == () and odn.licence == "Open Government Licence v3.0"


def test_the_build_skips_the_sources_when_their_folders_are_empty(tmp_path):
    from indicators.pipeline.build import BuildReport, stage_sources

    report = BuildReport(db_path=tmp_path / "w.duckdb")
    tables = stage_sources(tmp_path, [get_source("release_foi"), get_source("ukhsa_hcv_odn")], report)
    assert tables == {} and report.sources_missing == ["release_foi", "ukhsa_hcv_odn"]


def test_the_naloxone_indicator_is_flagged_foi_in_the_catalogue():
    from indicators.catalogue import load_catalogue

    by_id = {i.id: i for i in load_catalogue()}
    kits = by_id["naloxone_kits_per_100_ocu"]
    assert kits.publication_status == "foi" and kits.source_ids == ("release_foi",)
    assert kits.series == ("release_foi:kits_per_100_ocu",) and kits.sql_template == "first_series"
    assert {a["source"]: a["status"] for a in kits.availability}["release_foi"] == "foi"
    assert {a.get("url") for a in kits.availability} >= {"https://www.release.org.uk/blog/take-home-naloxone-england",
                                                         "https://www.release.org.uk/naloxone-2017-18"}
    assert by_id["naloxone_opiate_clients_issued"].publication_status == "restricted"
    assert by_id["hcv_test_offered_accepted"].ci_method == "wilson"
    assert by_id["hcv_treatment_starts_pwid"].publication_status == "open"
    assert not by_id["hcv_treatment_starts_pwid"].sql                    # ODN level: never in indicator_values
    for ind in by_id.values():
        if ind.family in ("hcv", "naloxone"):
            assert ind.availability and ind.status_note


# --------------------------------------------------------------------------- UKHSA ODN table

def test_odn_table_and_lookup_stage():
    staged = ukhsa_hcv_odn.stage(sorted(ODN_DIR.iterdir()))
    values = staged["hcv_odn_values"].set_index(["odn_name", "period_label"])
    assert list(staged["hcv_odn_values"].columns) == ukhsa_hcv_odn.HCV_ODN_COLUMNS
    assert len(values) == 4                                       # the 'All' rows are left out
    assert values.loc[("Fixture Network North", "2021/22"), "value"] == 150.0
    london = values.loc[("Fixture Network London", "2020/21")]
    assert math.isnan(london["value"]) and london["is_suppressed"]
    assert london["value_note"].startswith("Withheld by UKHSA (marker '*').")
    assert set(values["population"]) == {"people who inject drugs"}
    lookup = staged["la_odn"].set_index("area_code")
    assert lookup.loc["E09000007", "odn_code"] == "odn:fixture-network-london"
    assert set(staged["hcv_odn_values"]["odn_code"]) == {"odn:fixture-network-north", "odn:fixture-network-london"}


def test_odn_table_without_risk_groups_covers_everyone(tmp_path):
    table = tmp_path / "odn.csv"
    table.write_text("ODN name,2021/22\nFixture Network North,300\n", encoding="utf-8")
    staged = ukhsa_hcv_odn.stage([table, ODN_DIR / "la_odn_lookup.csv"])
    row = staged["hcv_odn_values"].iloc[0]
    assert row["population"] == "everyone treated" and "covers everyone treated" in row["value_note"]


def test_odn_files_must_come_in_pairs_and_be_well_formed(tmp_path):
    with pytest.raises(InputError, match=r"needs two files and a local authority to ODN lookup \(area_code, odn_name\) is missing"):
        ukhsa_hcv_odn.stage([ODN_DIR / "hcv_treatment_by_odn.csv"])
    with pytest.raises(InputError, match="needs two files and an ODN table .* is missing"):
        ukhsa_hcv_odn.stage([ODN_DIR / "la_odn_lookup.csv"])
    bad = tmp_path / "lookup.csv"
    bad.write_text("area_code,odn_name\nBlackpool,North\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, column area_code: 'Blackpool' is not an English GSS area code"):
        ukhsa_hcv_odn.parse_file(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text("area_code,odn_name\nE06000009,North\nE06000009,South\n", encoding="utf-8")
    with pytest.raises(InputError, match="area E06000009 is in more than one ODN"):
        ukhsa_hcv_odn.stage([ODN_DIR / "hcv_treatment_by_odn.csv", twice])
    words = tmp_path / "words.csv"
    words.write_text("ODN name,2021/22\nNorth,many\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2, column '2021/22': 'many' is not a number"):
        ukhsa_hcv_odn.parse_file(words)
    for text in ("1e309", "inf", "nan"):
        words.write_text(f"ODN name,2021/22\nNorth,{text}\n", encoding="utf-8")
        with pytest.raises(InputError, match=rf"row 2, column '2021/22': '{text}' is not a finite number"):
            ukhsa_hcv_odn.parse_file(words)


# --------------------------------------------------------------------------- the build with both sources

@pytest.fixture(scope="module")
def built(shared_raw, tmp_path_factory):
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    root = tmp_path_factory.mktemp("release_build")
    raw = root / "raw"
    fetch_all(raw, mirror=shared_raw, progress=False)
    (raw / "release_foi").mkdir()
    shutil.copyfile(RELEASE, raw / "release_foi" / RELEASE.name)
    shutil.copytree(ODN_DIR, raw / "ukhsa_hcv_odn")
    report = build(raw, root / "warehouse.duckdb")
    return report, duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)


def test_the_build_publishes_the_release_figures(built):
    report, con = built
    assert report.sources_used["release_foi"] == [RELEASE.name]
    rows = dict(con.execute("""
        SELECT area_code, value FROM published.indicator_values
        WHERE indicator_id = 'naloxone_kits_per_100_ocu' AND value IS NOT NULL""").fetchall())
    # Names resolved to codes by the build: England, Blackpool, Manchester, Westminster and "Bristol, City of".
    assert rows == {"E92000001": 16.0, "E06000009": 20.0, "E08000003": 15.0, "E09000033": 0.0, "E06000023": 20.0}
    (n_rows,) = con.execute("""SELECT count(*) FROM published.indicator_values v JOIN published.areas a USING (area_code)
        WHERE indicator_id = 'naloxone_kits_per_100_ocu' AND a.valid_to IS NULL
          AND a.area_type IN ('county','unitary','metropolitan district','london borough')""").fetchall()[0]
    assert n_rows == 153                                       # every current area has an explicit row
    licences = {r[0] for r in con.execute(
        "SELECT licence FROM published.sources WHERE source_id = 'release_foi'").fetchall()}
    assert licences == {"unclear (FOI responses published by Release)"}
    status = con.execute("SELECT publication_status FROM published.indicators "
                         "WHERE indicator_id = 'naloxone_kits_per_100_ocu'").fetchall()[0][0]
    assert status == "foi"


def test_availability_with_the_release_and_odn_files(built):
    from indicators.products import availability as av
    from indicators.products import queries

    _, con = built
    matrix = queries.availability_matrix(con)
    naloxone = matrix.loc[matrix["family"].eq("naloxone")].set_index("area_code")
    open_codes = sorted(naloxone.index[naloxone["has_open_figure"]])
    assert open_codes == ["E06000009", "E06000023", "E08000003", "E09000033"]
    assert set(naloxone.loc[open_codes, "figure_status"]) == {"foi"}
    assert naloxone.loc["E09000007", "status"] == "not published"          # Camden: no number of kits
    assert av.national_summary(matrix, queries.families(con))[3] == (
        "4 of 153 areas have any open naloxone figure (4 of them only from a Freedom of Information survey, "
        "licence not stated; latest period 2017/18; 149 are not published openly per area).")
    hcv = matrix.loc[matrix["family"].eq("hcv")].set_index("area_code")
    assert not hcv["has_open_figure"].any()
    assert hcv.loc["E06000063", "status"] == "network-level figure"
    assert hcv.loc["E06000063", "note"] == ("Figure for Fixture Network North (covers 3 areas): 150 in 2021/22 (latest), "
                                            "for the whole network, never split between its areas.")
    cumberland = queries.odn_values_for_area(con, "E06000063")
    assert list(cumberland["value"]) == [120.0, 150.0]
    assert set(cumberland["member_area_names"]) == {"Blackpool, Cumberland, Manchester"}
