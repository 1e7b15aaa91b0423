"""The scorecard (issue 14, item 3): published.scorecard on the invented warehouse, worked out by hand from
tests/support.py; its cells, orders, region filter, summary and CSV; the page; the static site's page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from support import make_warehouse, read_html_tables

from indicators.pipeline.build import publish_network_figures
from indicators.pipeline.scorecard import publish_scorecard
from indicators.pipeline.sources import ukhsa_hcv_odn
from indicators.present import scorecard as sc
from indicators.products import downloads, queries

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    """The invented warehouse with the harm families and the HCV network tables, published as the build does."""
    db = make_warehouse(tmp_path_factory.mktemp("scorecard") / "warehouse.duckdb", harm_families=True)
    staged = ukhsa_hcv_odn.stage(sorted((FIXTURES / "ukhsa_hcv_odn").iterdir()))
    con = duckdb.connect(str(db))
    try:
        for name, published in (("hcv_odn_values", "hcv_odn_values"), ("la_odn", "hcv_odn_areas")):
            con.register("_f", staged[name])
            con.execute(f"CREATE TABLE published.{published} AS SELECT * FROM _f")
            con.unregister("_f")
        publish_network_figures(con)
        publish_scorecard(con)
    finally:
        con.close()
    return db


@pytest.fixture
def card(fixture_db):
    con = duckdb.connect(str(fixture_db), read_only=True)
    yield queries.scorecard(con)
    con.close()


# Worked out by hand from tests/support.py (VALUES, HARM_VALUES, the HCV network fixture): (state, value, comparison).
EXPECTED = {
    ("E06000009", "completion_opiate"): ("value", 3.0, "worse"),
    ("E09000007", "completion_opiate"): ("value", 7.5, "better"),
    ("E06000063", "completion_opiate"): ("no data", None, ""),       # no row for Cumberland
    ("E09000012", "completion_opiate"): ("withheld", None, ""),      # Hackney suppressed
    ("E06000063", "deaths_drug_misuse"): ("not calculated", None, ""),  # a count, no rate (boundary change)
    ("E09000012", "deaths_drug_misuse"): ("withheld", None, ""),
    ("E09000033", "deaths_drug_misuse"): ("value", 3.0, "better"),
    ("E06000009", "hcv"): ("network-level figure", None, ""),         # the network's figure: never in `value`
    ("E09000007", "hcv"): ("network-level figure", None, ""),
    ("E06000065", "hcv"): ("not published", None, ""),                # in no network; the ODN series is not per area
    ("E06000009", "naloxone"): ("value", 20.0, "not compared"),       # Release's FOI survey, no interval
    ("E09000007", "naloxone"): ("FOI only", None, ""),
    ("E06000065", "completion_alcohol"): ("no data", None, ""),       # no alcohol figures in the build at all
}


def test_published_scorecard_states(card):
    assert list(card["column_id"].drop_duplicates()) == ["completion_opiate", "completion_alcohol",
                                                         "deaths_drug_misuse", "hcv", "naloxone"]
    assert card["area_code"].nunique() == 7 and len(card) == 35   # every current area, every column
    cells = card.set_index(["area_code", "column_id"])
    for key, (state, value, compared) in EXPECTED.items():
        row = cells.loc[key]
        assert row["state"] == state, key
        assert (row["value"] == value) if value is not None else row["value"] != row["value"], key
        assert row["compared_to_england"] == compared, key
    assert set(card.loc[card["column_id"].eq("completion_opiate"), "period_label"]) == {"2020/21"}
    assert cells.loc[("E06000009", "naloxone"), "figure_status"] == "foi"
    north = cells.loc[("E06000063", "hcv")]
    assert (north["network_name"], north["network_member_areas"], north["network_value"], north["period_label"]) == (
        "Fixture Network North", 3, 150.0, "2021/22")
    assert cells.loc[("E09000007", "hcv"), "network_value"] == 80.0
    assert cells.loc[("E06000009", "completion_opiate"), "england_value"] == pytest.approx(5.0)


def test_cells_say_their_state_in_words(card):
    cells = card.set_index(["area_code", "column_id"])
    assert sc.cell_words(cells.loc[("E06000009", "completion_opiate")].to_dict()) == ("3.0%", "Worse than England")
    assert sc.cell_words(cells.loc[("E09000012", "completion_opiate")].to_dict()) == ("Withheld by the publisher", "")
    assert sc.cell_words(cells.loc[("E06000009", "hcv")].to_dict()) == (
        "Network-level figure, not this area's own", "Figure for Fixture Network North (covers 3 areas): 150 people starting treatment, 2021/22")
    naloxone = sc.cell_words(cells.loc[("E06000009", "naloxone")].to_dict())
    assert naloxone[1] == "Not compared (no interval for this kind of figure); from an FOI survey"
    cell = sc.cell(cells.loc[("E09000007", "naloxone")].to_dict())
    assert (cell.text, cell.colour) == ("FOI only: not published, ask the council", sc.STATE_COLOURS["FOI only"])
    # Every state and comparison has its own words and colour.
    words = [w for _, w, _ in sc.legend_items()]
    colours = [c for c, _, _ in sc.legend_items()]
    assert len(set(words)) == len(words) == 12 and len(set(colours)) == len(colours)


def test_orders_and_region(card):
    by_deaths = sc.chosen(card, None, "deaths_drug_misuse")
    # Worse first (Blackpool 19.4 before Manchester 9.0: low is good), then similar, better; no figure last.
    assert list(by_deaths["area_name"].drop_duplicates()) == [
        "Blackpool", "Manchester", "Camden", "Westminster", "Hackney", "Cumberland", "North Yorkshire"]
    best = sc.chosen(card, None, "deaths_drug_misuse-best")
    assert list(best["area_name"].drop_duplicates())[:4] == ["Westminster", "Camden", "Manchester", "Blackpool"]
    by_completion = sc.chosen(card, None, "completion_opiate")
    assert list(by_completion["area_name"].drop_duplicates())[:4] == ["Blackpool", "Manchester", "Westminster",
                                                                      "Camden"]
    london = sc.chosen(card, "E12000007", "area")
    assert list(london["area_name"].drop_duplicates()) == ["Camden", "Hackney", "Westminster"]
    assert list(sc.chosen(card, None, "region")["region_name"].drop_duplicates()) == ["London", "North West",
                                                                                      "Yorkshire and The Humber"]
    assert sc.regions(card) == {"E12000007": "London", "E12000002": "North West",
                                "E12000003": "Yorkshire and The Humber"}


def test_summary_says_how_much_can_be_seen(card):
    assert sc.summary(card) == [
        "Completions (opiate): a figure for 4 of 7 areas (2020/21); 1 withheld by the publisher; 2 no data in the "
        "files used.",
        "Completions (alcohol): a figure for 0 of 7 areas; 7 no data in the files used.",
        "Drug-misuse deaths: a figure for 4 of 7 areas (2019–21); 1 withheld by the publisher; 1 a count but no rate; "
        "1 no data in the files used.",
        "Hepatitis C treatment: a figure for 0 of 7 areas; 6 only their HCV network's figure; 1 not published.",
        "Take-home naloxone: a figure for 1 of 7 areas (2017/18), 1 of them from a Freedom of Information survey; "
        "6 FOI only (not published; the council can be asked).",
        "0 of 7 areas have a figure of their own in every column.",
    ]


def test_table_links_every_area_to_its_profile(card):
    markup = sc.table_html(sc.chosen(card, "E12000007", "area"), sc.app_area_link, "London")
    (table,) = read_html_tables(markup)
    assert list(table.columns) == ["Area", "Completions (opiate) (2020/21)", "Completions (alcohol)",
                                   "Drug-misuse deaths (2019–21)", "Hepatitis C treatment", "Take-home naloxone (2017/18)"]
    assert len(table) == 3
    assert re.findall(r'<a href="([^"]+)">', markup) == ["area?area=E09000007", "area?area=E09000012",
                                                         "area?area=E09000033"]
    assert "7.5%Better than England" in table.iloc[0, 1].replace("London", "")


# London by drug-misuse deaths, worst first (Camden similar, Westminster better, Hackney withheld), from support.py.
ODN_NOTE = '"Figure for the whole ODN, not for any one local authority; people who inject drugs."'
DEATHS_UNIT = '"per 100,000 (age-standardised)"'
NALOXONE_UNIT = "kits per 100 people using opiates"
EXPECTED_CSV = "\n".join([
    "indicator_id,area_code,area_name,period_label,value,lower_ci_95,upper_ci_95,numerator,denominator,value_note,"
    "compared_to_england,source_id,value_status,region_name,column_id,column_title,state,england_value,unit,figure_status,"
    "network_name,network_member_areas,network_value,build_id",
    "completion_opiate,E09000007,Camden,2020/21,7.5,6.0,9.3,75.0,1000.0,,better,fingertips,value,London,completion_opiate,"
    "Completions (opiate),value,5.0,%,open,,,,b1",
    "completion_alcohol,E09000007,Camden,,,,,,,,,,,London,completion_alcohol,Completions (alcohol),no data,,%,,,,,b1",
    "deaths_drug_misuse,E09000007,Camden,2019-21,4.0,2.9,5.4,40.0,,,similar,ons_deaths,value,London,deaths_drug_misuse,"
    f"Drug-misuse deaths,value,5.1,{DEATHS_UNIT},open,,,,b1",
    f"hcv_treatment_starts_pwid,E09000007,Camden,2021/22,,,,,,{ODN_NOTE},,,,London,hcv,Hepatitis C treatment,"
    "network-level figure,,people starting treatment,network,Fixture Network London,3,80.0,b1",
    "naloxone_kits_per_100_ocu,E09000007,Camden,2017/18,,,,,,,,,,London,naloxone,Take-home naloxone,FOI only,16.0,"
    f"{NALOXONE_UNIT},,,,,b1",
    "completion_opiate,E09000033,Westminster,2020/21,5.2,4.0,6.7,52.0,1000.0,,similar,fingertips,value,London,"
    "completion_opiate,Completions (opiate),value,5.0,%,open,,,,b1",
    "completion_alcohol,E09000033,Westminster,,,,,,,,,,,London,completion_alcohol,Completions (alcohol),no data,,%,,,,,"
    "b1",
    "deaths_drug_misuse,E09000033,Westminster,2019-21,3.0,2.0,4.3,28.0,,,better,ons_deaths,value,London,deaths_drug_misuse,"
    f"Drug-misuse deaths,value,5.1,{DEATHS_UNIT},open,,,,b1",
    f"hcv_treatment_starts_pwid,E09000033,Westminster,2021/22,,,,,,{ODN_NOTE},,,,London,hcv,Hepatitis C treatment,"
    "network-level figure,,people starting treatment,network,Fixture Network London,3,80.0,b1",
    "naloxone_kits_per_100_ocu,E09000033,Westminster,2017/18,,,,,,,,,,London,naloxone,Take-home naloxone,FOI only,"
    f"16.0,{NALOXONE_UNIT},,,,,b1",
    "completion_opiate,E09000012,Hackney,2020/21,,,,,,Value suppressed: small numbers,,fingertips,suppressed,London,"
    "completion_opiate,Completions (opiate),withheld,5.0,%,,,,,b1",
    "completion_alcohol,E09000012,Hackney,,,,,,,,,,,London,completion_alcohol,Completions (alcohol),no data,,%,,,,,b1",
    "deaths_drug_misuse,E09000012,Hackney,2019-21,,,,,,Value suppressed for disclosure control,,ons_deaths,suppressed,London,"
    f"deaths_drug_misuse,Drug-misuse deaths,withheld,5.1,{DEATHS_UNIT},,,,,b1",
    f"hcv_treatment_starts_pwid,E09000012,Hackney,2021/22,,,,,,{ODN_NOTE},,,,London,hcv,Hepatitis C treatment,"
    "network-level figure,,people starting treatment,network,Fixture Network London,3,80.0,b1",
    "naloxone_kits_per_100_ocu,E09000012,Hackney,2017/18,,,,,,,,,,London,naloxone,Take-home naloxone,FOI only,16.0,"
    f"{NALOXONE_UNIT},,,,,b1",
]) + "\n"


def test_csv_of_what_the_scorecard_shows(card):
    rows = sc.csv_rows(sc.chosen(card, "E12000007", "deaths_drug_misuse"))
    assert downloads.view_csv(rows, build_id="b1") == EXPECTED_CSV.encode("utf-8")


def test_indicator_ids_and_asks(card):
    rows = sc.chosen(card, None, "area")
    assert sc.indicator_ids(rows)[:3] == ["completion_opiate", "completion_alcohol", "deaths_drug_misuse"]
    assert sc.areas_without_open_figures(rows, ["naloxone"]) == [
        "E09000007", "E06000063", "E09000012", "E08000003", "E06000065", "E09000033"]


def test_page(fixture_db, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = Path(shutil.copyfile(fixture_db, tmp_path / "page.duckdb"))
    monkeypatch.setenv("INDICATORS_DB", str(db))
    monkeypatch.syspath_prepend(str(REPO))
    app = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=90)
    for name, value in (("region", "E12000007"), ("sort", "deaths_drug_misuse"), ("area", "E09000007")):
        app.query_params[name] = value
    app.switch_page("pages/scorecard.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "Scorecard: the postcode lottery in one table"
    selects = {s.label: s.value for s in app.selectbox}
    assert selects["Region"] == "E12000007" and selects["Order"] == "deaths_drug_misuse"
    markup = [json.loads(e.proto.json) for e in app.get("bidi_component")]
    (table,) = [t for m in markup for t in read_html_tables(m) if "Area" in t.columns]
    assert [a.split("London")[0] for a in table["Area"]] == ["Camden", "Westminster", "Hackney"]
    assert list(table.columns)[:2] == ["Area", "Drug-misuse deaths (2019–21)"]  # the sorted column beside the name
    # Camden has no open naloxone or HCV figure: the request to its council is offered.
    assert [h.value for h in app.header] == ["Ask for this data", "Choose"]
    assert any(b.label == "Download CSV" for b in app.get("download_button"))
    assert app.query_params == {"region": "E12000007", "sort": "deaths_drug_misuse", "area": "E09000007"}
    app.selectbox(key="w_sort_scorecard").set_value("area").run()
    (table,) = [t for m in [json.loads(e.proto.json) for e in app.get("bidi_component")]
                for t in read_html_tables(m) if "Area" in t.columns]
    assert [a.split("London")[0] for a in table["Area"]] == ["Camden", "Hackney", "Westminster"]
    assert "sort" not in app.query_params
