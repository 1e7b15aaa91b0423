"""The catalogue is the one registry: a new Fingertips indicator is one TOML file naming a template and its series,
and with a local server on 127.0.0.1 standing in for the Fingertips API (tests/standin.py, reached through
INDICATORS_URL_FINGERTIPS) it is fetched, built and shown, with no code change. The geography is the small invented one in tests/fixtures/geography; every number here is made up."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import FIXTURES, REPO
from standin import Reply, Seen, StandIn
from streamlit.testing.v1 import AppTest

from indicators.catalogue import load_catalogue
from indicators.pipeline.build import build
from indicators.pipeline.fetch import fetch_all
from indicators.pipeline.sources import get_source

NEW_ID = "fingertips_new_measure"
NEW_TOML = f"""id = "{NEW_ID}"
family = "treatment"
title = "People starting treatment within three weeks of referral"
short_title = "Prompt starts"
definition = "Invented for a test: people starting treatment within three weeks of referral, as a percentage of all starts."
unit = "%"
value_type = "proportion"
multiplier = 100
polarity = "high_is_good"
ci_method = "wilson"
period_type = "financial year"
suppression = "None in this invented file."
publisher = "OHID Fingertips (invented for a test)"
publisher_id = "99901"
source_ids = ["fingertips"]
reaggregate = "counts"
series = ["fingertips:99901"]
sql_template = "first_series"
"""
HEADER = ("Indicator ID,Indicator Name,Parent Code,Parent Name,Area Code,Area Name,Area Type,Sex,Age,"
          "Category Type,Category,Time period,Value,Lower CI 95.0 limit,Upper CI 95.0 limit,Lower CI 99.8 limit,"
          "Upper CI 99.8 limit,Count,Denominator,Value note,Recent Trend,Compared to England value or percentiles,"
          "Compared to percentiles,Time period Sortable,New data,Compared to goal,Time period range\n")
# area code, area name, count, denominator (the value and limits are left for the build to compute)
NEW_ROWS = [("E92000001", "England", "60000", "100000"), ("E06000901", "Alpha", "45", "100"),
            ("E06000950", "New Dale", "70", "100")]


def _csv(indicator_id: str) -> bytes:
    rows = []
    if indicator_id == "99901":
        for code, name, count, denominator in NEW_ROWS:
            area_type = "England" if code == "E92000001" else "Counties & UAs (from Apr 2023)"
            rows.append(f'99901,"People starting treatment within three weeks\nof referral",E92000001,England,'
                        f"{code},{name},{area_type},Persons,18+ yrs,,,2022/23,,,,,,{count},{denominator},,,,,"
                        "20220000,,,1y\n")
    return (HEADER + "".join(rows)).encode()


def fingertips_api() -> StandIn:
    """The few Fingertips API endpoints the fetch plan calls, answering as the real API does (tests/standin.py)."""
    def metadata(seen: Seen) -> Reply:
        ids = seen.query["indicator_ids"].split(",")
        return Reply(json.dumps({i: {"IID": int(i), "Descriptive": {
            "Name": "Successful completion of alcohol treatment" if i == "92447" else f"Indicator {i}"}}
            for i in ids}).encode(), "application/json")

    def data(seen: Seen) -> Reply | None:
        if seen.query.get("child_area_type_id") != "502":
            return None
        return Reply(_csv(seen.query["indicator_ids"]), "text/csv")

    return StandIn({
        "/api/area_types": Reply(json.dumps([{"Id": 15, "Name": "England"},
                                             {"Id": 502, "Name": "Upper tier local authorities (post 4/23)"}]).encode(),
                                 "application/json"),
        "/api/indicator_metadata/by_indicator_id": metadata,
        "/api/all_data/csv/by_indicator_id": data,
    }, name="fingertips")


@pytest.fixture
def new_catalogue(tmp_path) -> Path:
    """The repository's catalogue plus one new TOML file: nothing else."""
    folder = tmp_path / "catalogue"
    shutil.copytree(REPO / "data" / "indicators", folder)
    (folder / f"{NEW_ID}.toml").write_text(NEW_TOML, encoding="utf-8")
    return folder


def test_a_new_fingertips_indicator_is_fetched_built_and_shown(new_catalogue, tmp_path, monkeypatch):
    monkeypatch.setenv("INDICATORS_CATALOGUE", str(new_catalogue))
    raw = tmp_path / "raw"
    for source, names in (("boundaries", ["ctyua_2023_small.geojson", "uk_topo_small.topojson.json"]),
                          ("lookups", ["changes_small.csv", "ltla14_small.csv", "ltla_utla_2019_small.csv"])):
        (raw / source).mkdir(parents=True)
        for name in names:
            shutil.copy(FIXTURES / "geography" / name, raw / source / name)

    with fingertips_api() as api:
        monkeypatch.setenv("INDICATORS_URL_FINGERTIPS", api.url)
        report = fetch_all(raw, sources=[get_source("fingertips")], progress=False)
    assert "indicator-99901.csv" in report.fetched["fingertips"]
    assert any(seen.query.get("indicator_ids") == "99901" and seen.status == 200 for seen in api.requests)

    db = tmp_path / "warehouse.duckdb"
    build(raw, db, catalogue=load_catalogue())
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("""SELECT area_code, value, lower_ci_95, compared_to_england FROM published.indicator_values
                              WHERE indicator_id = ? AND period_label = '2022/23' ORDER BY area_code""",
                           [NEW_ID]).fetchall()
        listed = con.execute("SELECT title FROM published.indicators WHERE indicator_id = ?", [NEW_ID]).fetchall()
    finally:
        con.close()
    assert listed == [("People starting treatment within three weeks of referral",)]
    by_area = {code: (value, lower, word) for code, value, lower, word in rows}
    assert by_area["E06000901"][0] == pytest.approx(45.0) and by_area["E06000950"][0] == pytest.approx(70.0)
    assert by_area["E06000901"][2] == "worse" and by_area["E06000950"][2] == "better"   # England 60% (Wilson)
    assert by_area["E06000901"][1] == pytest.approx(35.6, abs=0.05)   # Wilson 95% lower limit of 45/100

    monkeypatch.setenv("INDICATORS_DB", str(db))
    app = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    app.query_params["indicator"] = NEW_ID
    app = app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "People starting treatment within three weeks of referral"
    assert app.sidebar.selectbox(key="w_indicator").value == NEW_ID
    map_markup = " ".join(json.loads(e.proto.json) for e in app.get("bidi_component"))
    assert re.search(r"Alpha[^<]*45\.0%", map_markup) and re.search(r"New Dale[^<]*70\.0%", map_markup)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace('sql_template = "first_series"', 'sql_template = "no_such_template"'),
     r"sql_template 'no_such_template' is not a template"),
    (lambda t: t.replace('ci_method = "wilson"', 'ci_method = "published"'), r"ci_method is 'published'"),
    (lambda t: t.replace('family = "treatment"', 'family = "housing"'), r"family is 'housing'"),
    (lambda t: t.replace('series = ["fingertips:99901"]', "series = []"), r"none are listed"),
    (lambda t: t.replace('series = ["fingertips:99901"]', 'series = ["90244"]'), r"series is \['90244'\]"),
])
def test_a_wrong_catalogue_entry_is_a_clear_error(tmp_path, change, message):
    from indicators.errors import InputError

    (tmp_path / f"{NEW_ID}.toml").write_text(change(NEW_TOML), encoding="utf-8")
    with pytest.raises(InputError, match=message) as raised:
        load_catalogue(tmp_path)
    assert f"{NEW_ID}.toml" in str(raised.value)


def test_an_entry_with_a_template_and_its_own_sql_is_refused(tmp_path):
    from indicators.errors import InputError

    (tmp_path / f"{NEW_ID}.toml").write_text(NEW_TOML, encoding="utf-8")
    (tmp_path / f"{NEW_ID}.sql").write_text("SELECT 1", encoding="utf-8")
    with pytest.raises(InputError, match="either a template or an own SQL file"):
        load_catalogue(tmp_path)


def test_the_method_rules_cover_every_method_the_catalogue_uses():
    from indicators.catalogue import load_methods

    methods = load_methods()
    assert {i.ci_method for i in load_catalogue(REPO / "data" / "indicators")} <= set(methods)
    # One rule for pooling everywhere: proportions and crude rates from counts pool, published figures do not.
    assert {m for m, rule in methods.items() if rule.poolable} == {"wilson", "byars_rate"}
    assert {m: rule.funnel for m, rule in methods.items() if rule.funnel != "none"} == {
        "wilson": "proportion", "byars_rate": "rate", "published_dsr": "dsr", "published_rate": "rate",
        "published_proportion": "proportion"}
