"""Tests for the Fingertips CSV parser, its fetch plan and the CIPFA nearest-neighbour parser."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from indicators.catalogue import load_catalogue
from indicators.errors import FetchError, InputError
from indicators.pipeline.schema import OBSERVATION_COLUMNS
from indicators.pipeline.sources import cipfa_neighbours, fingertips
from indicators.pipeline.sources.fingertips import parse_csv, parse_period, stage

API = "https://fingertips.phe.org.uk/api/"
OCU_SAMPLE = "fingertips/indicator-93517_unmet_need_ocu_sample.csv"
ALCOHOL_SAMPLE = "fingertips/indicator-93532_unmet_need_alcohol_sample.csv"


def row(frame: pd.DataFrame, area_code: str, period: str, series: str | None = None) -> pd.Series:
    match = frame.loc[frame["area_code"].eq(area_code) & frame["period_label"].eq(period)]
    if series is not None:
        match = match.loc[match["series"].eq(series)]
    assert len(match) == 1, match
    return match.iloc[0]


# --------------------------------------------------------------------------- real samples

def test_real_ocu_sample_golden_values(shared_raw: Path) -> None:
    obs = parse_csv(shared_raw / OCU_SAMPLE)
    assert list(obs.columns) == list(OBSERVATION_COLUMNS)
    assert len(obs) == 13  # 13 data rows, no breakdowns in this sample
    assert set(obs["series"]) == {"fingertips:93517"}
    west_sussex = row(obs, "E10000032", "2018/19")
    assert west_sussex["area_name"] == "West Sussex"
    assert west_sussex["value"] == pytest.approx(52.30789067)
    assert west_sussex["lower_ci_95"] == pytest.approx(26.4612326)
    assert west_sussex["upper_ci_95"] == pytest.approx(65.26434407)
    assert pd.isna(west_sussex["lower_ci_998"]) and pd.isna(west_sussex["upper_ci_998"])
    assert west_sussex["numerator"] == pytest.approx(1352.333333)  # fractional counts kept
    assert west_sussex["denominator"] == pytest.approx(2585.333333)
    assert west_sussex["period_start"] == pd.Timestamp(2018, 4, 1)
    assert west_sussex["period_end"] == pd.Timestamp(2019, 3, 31)
    assert (west_sussex["sex"], west_sussex["age"]) == ("Persons", "15-64 yrs")
    assert west_sussex["publisher_comparison"] == "Not compared"
    assert not west_sussex["is_suppressed"] and west_sussex["value_note"] == ""
    england = row(obs, "E92000001", "2020/21")
    assert england["value"] == pytest.approx(52.10317309)
    assert england["numerator"] == pytest.approx(158976.3333)
    assert england["denominator"] == pytest.approx(305118.3333)
    assert row(obs, "E06000002", "2019/20")["publisher_comparison"] == "Better"
    assert sorted(obs["period_label"].unique()) == ["2018/19", "2019/20", "2020/21"]
    assert obs["edition"].eq("").all() and obs["source_id"].eq("fingertips").all()


def test_real_alcohol_sample_golden_values(shared_raw: Path) -> None:
    obs = parse_csv(shared_raw / ALCOHOL_SAMPLE)
    assert len(obs) == 17
    stockton = row(obs, "E06000004", "2019/20")
    assert stockton["value"] == 80
    assert (stockton["lower_ci_95"], stockton["upper_ci_95"]) == pytest.approx((74.91961415, 84.51356717))
    assert (stockton["numerator"], stockton["denominator"]) == (1872, 2340)
    assert stockton["age"] == "18+ yrs"
    assert row(obs, "E06000003", "2019/20")["publisher_comparison"] == "Better"
    assert obs["area_code"].eq("E92000001").sum() == 2


def test_real_samples_stage_together(shared_raw: Path) -> None:
    staged = stage([shared_raw / OCU_SAMPLE, shared_raw / ALCOHOL_SAMPLE])
    obs = staged["observations"]
    assert len(obs) == 30
    assert obs.groupby("series").size().to_dict() == {"fingertips:93517": 13, "fingertips:93532": 17}


# --------------------------------------------------------------------------- invented fixtures

def test_newer_layout_fixture_for_90244(fixtures: Path) -> None:
    obs = parse_csv(fixtures / "fingertips" / "indicator-90244.csv")
    assert len(obs) == 7
    assert set(obs["series"]) == {"fingertips:90244"}
    camden = row(obs, "E09000007", "2021")
    assert camden["value"] == pytest.approx(100 * 45 / 800)
    assert (camden["numerator"], camden["denominator"]) == (45, 800)
    assert pd.isna(camden["lower_ci_998"]) and pd.isna(camden["upper_ci_998"])
    assert camden["lower_ci_95"] < camden["value"] < camden["upper_ci_95"]
    assert camden["period_start"] == pd.Timestamp(2021, 1, 1)
    assert camden["period_end"] == pd.Timestamp(2021, 12, 31)


def test_older_layout_fixture(fixtures: Path) -> None:
    obs = parse_csv(fixtures / "fingertips" / "layouts" / "indicator-90245_older_layout.csv")
    # 8 records: one deprivation-decile breakdown left out; two indicators in one file.
    assert len(obs) == 7
    assert obs.groupby("series").size().to_dict() == {"fingertips:90245": 4, "fingertips:92432": 3}
    england = row(obs, "E92000001", "2020", "fingertips:90245")
    assert england["value"] == 32.5  # the headline row, not the decile's 28.1
    camden = row(obs, "E09000007", "2020")
    assert (camden["numerator"], camden["denominator"]) == (90.5, pytest.approx(301.666667))
    assert camden["value_note"] == "Aggregated from all known lower geography values"
    assert not camden["is_suppressed"]
    assert (camden["lower_ci_998"], camden["upper_ci_998"]) == (23.4, 37.3)
    assert camden["publisher_comparison"] == "Similar"
    city = row(obs, "E09000001", "2020")
    assert pd.isna(city["value"]) and pd.isna(city["numerator"]) and pd.isna(city["lower_ci_95"])
    assert city["is_suppressed"]
    assert city["value_note"] == "Value suppressed for disclosure control due to small count"
    blackpool = row(obs, "E06000009", "2020")
    assert pd.isna(blackpool["value"]) and not blackpool["is_suppressed"]
    assert blackpool["value_note"] == "Data not available"
    deaths = obs.loc[obs["series"].eq("fingertips:92432") & obs["area_code"].eq("E06000009")]
    assert sorted(deaths["sex"]) == ["Males", "Persons"]
    assert set(deaths["period_label"]) == {"2018-20"}
    assert set(deaths["period_start"]) == {pd.Timestamp(2018, 1, 1)}
    assert set(deaths["period_end"]) == {pd.Timestamp(2020, 12, 31)}


def test_quoted_newline_in_indicator_name_keeps_rows_whole(fixtures: Path) -> None:
    source = fixtures / "fingertips" / "layouts" / "indicator-90245_older_layout.csv"
    assert '"Successful completion of drug treatment:\nnon-opiate users"' in source.read_text()
    obs = parse_csv(source)
    assert obs["area_code"].str.match(r"^E\d{8}$").all()
    assert obs["sex"].isin(["Persons", "Males"]).all()


# --------------------------------------------------------------------------- periods

@pytest.mark.parametrize("text, label, start, end", [
    ("2021", "2021", date(2021, 1, 1), date(2021, 12, 31)),
    ("2019 - 21", "2019-21", date(2019, 1, 1), date(2021, 12, 31)),
    ("1999 - 01", "1999-01", date(1999, 1, 1), date(2001, 12, 31)),
    ("2018/19", "2018/19", date(2018, 4, 1), date(2019, 3, 31)),
    ("1999/00", "1999/00", date(1999, 4, 1), date(2000, 3, 31)),
    ("2020/21 - 22/23", "2020/21-22/23", date(2020, 4, 1), date(2023, 3, 31)),
    ("2016/17 - 20/21", "2016/17-20/21", date(2016, 4, 1), date(2021, 3, 31)),
    ("2021 Q2", "2021 Q2", date(2021, 4, 1), date(2021, 6, 30)),
    ("2021/22 Q1", "2021/22 Q1", date(2021, 4, 1), date(2021, 6, 30)),
    ("2021/22 Q4", "2021/22 Q4", date(2022, 1, 1), date(2022, 3, 31)),
])
def test_parse_period(text: str, label: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.label, period.start, period.end) == (label, start, end)


@pytest.mark.parametrize("text", ["2018/20", "2019 - 19", "21/22", "Q1 2021", "", "2021/22 - 22/24"])
def test_parse_period_rejects_unknown_forms(text: str) -> None:
    assert parse_period(text) is None


# --------------------------------------------------------------------------- bad input

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _fixture_with(fixtures: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (fixtures / "fingertips" / "indicator-90244.csv").read_text()
    assert old in text
    return _write(tmp_path, name, text.replace(old, new, 1))


def test_html_error_page_saved_as_csv(fixtures: Path, tmp_path: Path) -> None:
    path = tmp_path / "indicator-90244.csv"
    shutil.copy(fixtures / "fingertips" / "bad" / "indicator-error-page.csv", path)
    with pytest.raises(InputError, match="HTML") as info:
        parse_csv(path)
    assert info.value.file == str(path) and info.value.where == "start of file"


def test_missing_required_columns(fixtures: Path, tmp_path: Path) -> None:
    path = _fixture_with(fixtures, tmp_path, "indicator-1.csv", "Time period,Value,", "Period,Value,")
    with pytest.raises(InputError, match="'Time period'") as info:
        parse_csv(path)
    assert info.value.where == "header row"


def test_non_numeric_value(fixtures: Path, tmp_path: Path) -> None:
    path = _fixture_with(fixtures, tmp_path, "indicator-2.csv", ",2021,5.625,", ",2021,5.6x,")
    with pytest.raises(InputError, match="'5.6x' is not a number") as info:
        parse_csv(path)
    assert info.value.where == "data row 2, column 'Value'"


def test_unknown_period_form(fixtures: Path, tmp_path: Path) -> None:
    path = _fixture_with(fixtures, tmp_path, "indicator-3.csv", ",2021,5.625,", ",Spring 2021,5.625,")
    with pytest.raises(InputError, match="'Spring 2021'"):
        parse_csv(path)


def test_sortable_key_must_agree_with_period(fixtures: Path, tmp_path: Path) -> None:
    path = _fixture_with(fixtures, tmp_path, "indicator-4.csv", "Not compared,20210000", "Not compared,20200000")
    with pytest.raises(InputError, match="sortable"):
        parse_csv(path)


def test_identical_duplicates_across_files_are_kept_once(fixtures: Path, tmp_path: Path) -> None:
    first = fixtures / "fingertips" / "indicator-90244.csv"
    second = tmp_path / "indicator-90244-copy.csv"
    shutil.copy(first, second)
    assert len(stage([first, second])["observations"]) == 7


def test_conflicting_duplicates_name_both_files(fixtures: Path, tmp_path: Path) -> None:
    first = fixtures / "fingertips" / "indicator-90244.csv"
    second = _fixture_with(fixtures, tmp_path, "indicator-90244-changed.csv", ",2021,5.625,", ",2021,5.7,")
    with pytest.raises(InputError) as info:
        stage([first, second])
    message = str(info.value)
    assert "indicator-90244-changed.csv" in message and "indicator-90244.csv data row 2" in message
    assert "E09000007" in message and "2021" in message


# --------------------------------------------------------------------------- fetch plan (no network)

def _api(fixtures: Path, name: str) -> object:
    return json.loads((fixtures / "fingertips" / "api" / name).read_text())


class FakeApi:
    """Answers recorded-shape JSON for known URLs; any other URL fails like the real client does."""

    def __init__(self, responses: dict[str, object]) -> None:
        self.responses = responses
        self.calls: list[str] = []

    def __call__(self, url: str) -> object:
        self.calls.append(url)
        if url not in self.responses:
            raise FetchError(f"{url}: HTTP 404 (not retried)")
        return self.responses[url]


def _responses(fixtures: Path) -> dict[str, object]:
    return {
        API + "area_types": _api(fixtures, "area_types.json"),
        API + "indicator_metadata/by_indicator_id?indicator_ids=92447": _api(fixtures, "indicator_metadata_92447.json"),
        API + "areas/by_area_type?area_type_id=502": _api(fixtures, "areas_by_area_type_502.json"),
        API + "nearest_neighbour_types": _api(fixtures, "nearest_neighbour_types.json"),
    }


ALL_IDS = (90244, 90245, 92447, 92432, 93517, 93532, 91117)


def _available(indicator_id: int, *area_types: int) -> list[dict]:
    """An `available_data?indicator_id=` answer: one {IndicatorId, AreaTypeId} per area type with data."""
    return [{"IndicatorId": indicator_id, "AreaTypeId": t} for t in area_types]


def test_plan_downloads_discovers_area_type_and_alcohol_id(fixtures: Path) -> None:
    responses = _responses(fixtures)
    for i in ALL_IDS:  # every indicator at the newest type only, and lower-tier districts (ignored)
        responses[f"{API}available_data?indicator_id={i}"] = _available(i, 502, 501)
    api = FakeApi(responses)
    plan = fingertips.plan_downloads(api)
    # The ids the catalogue's series name, in catalogue order (family, then indicator id).
    assert [d.name for d in plan] == ["area_types.json", "indicator-92447.csv", "indicator-90245.csv",
                                      "indicator-90244.csv", "indicator-92432.csv", "indicator-91117.csv",
                                      "indicator-93532.csv", "indicator-93517.csv"]
    assert plan[0].url == API + "area_types"
    assert plan[1].url == (API + "all_data/csv/by_indicator_id?indicator_ids=92447"
                           "&child_area_type_id=502&parent_area_type_id=15")
    assert all("child_area_type_id=502&" in d.url for d in plan[1:])
    assert not any(d.optional for d in plan)
    assert API + "indicator_metadata/by_indicator_id?indicator_ids=92447" in api.calls


def test_plan_asks_for_every_upper_tier_area_type_an_indicator_has(fixtures: Path) -> None:
    """Periods published only at an earlier upper-tier type (402, 302, 202, 102) are fetched at that type."""
    responses = _responses(fixtures)
    for i in ALL_IDS:
        responses[f"{API}available_data?indicator_id={i}"] = _available(i, 502)
    responses[f"{API}available_data?indicator_id=90244"] = _available(90244, 102, 401, 402, 502, 6)
    plan = fingertips.plan_downloads(FakeApi(responses))
    names = [d.name for d in plan]
    assert names[8:] == ["indicator-90244_area_type_402.csv", "indicator-90244_area_type_102.csv"]
    assert plan[8].url.endswith("indicator_ids=90244&child_area_type_id=402&parent_area_type_id=15")
    assert plan[9].url.endswith("indicator_ids=90244&child_area_type_id=102&parent_area_type_id=15")


def test_plan_asks_every_upper_tier_type_when_the_available_data_lookup_fails(fixtures: Path, caplog) -> None:
    responses = _responses(fixtures)
    for i in ALL_IDS[1:]:
        responses[f"{API}available_data?indicator_id={i}"] = _available(i, 502)
    with caplog.at_level(logging.WARNING):
        per_type = fingertips.downloads_per_area_type(
            FakeApi(responses), list(ALL_IDS), fingertips.upper_tier_area_types(_api(fixtures, "area_types.json")))
    assert list(per_type) == [502, 402, 302, 202, 102]
    assert [d.name for d in per_type[502]] == [f"indicator-{i}.csv" for i in ALL_IDS]
    for older in (402, 302, 202, 102):
        assert [d.name for d in per_type[older]] == [f"indicator-90244_area_type_{older}.csv"]
    assert "could not list the area types of Fingertips indicator 90244" in caplog.text


def test_newest_upper_tier_is_chosen_by_date_not_by_id() -> None:
    types = [
        {"Id": 502, "Name": "Upper tier local authorities (post 4/23)"},
        {"Id": 45, "Name": "Counties & UAs (from Apr 2025)"},
        {"Id": 901, "Name": "Lower tier local authorities (post 4/25)"},
        {"Id": 999, "Name": "Upper tier local authorities (pre 4/19)"},
    ]
    assert fingertips.choose_upper_tier_area_type(types) == (45, "Counties & UAs (from Apr 2025)")


def test_open_ended_area_type_beats_ended_one_with_same_start() -> None:
    types = [
        {"Id": 602, "Name": "Upper tier local authorities (4/23-3/24)"},
        {"Id": 502, "Name": "Counties & UAs (from Apr 2023)"},
        {"Id": 402, "Name": "Upper tier local authorities (4/21-3/23)"},
    ]
    assert fingertips.choose_upper_tier_area_type(types)[0] == 502


def test_no_upper_tier_area_type_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no upper-tier area type"):
        fingertips.choose_upper_tier_area_type([{"Id": 15, "Name": "England"}])


def test_alcohol_id_is_resolved_by_name_when_the_expected_id_is_renamed(fixtures: Path) -> None:
    responses = _responses(fixtures)
    metadata_url = API + "indicator_metadata/by_indicator_id?indicator_ids="
    responses[metadata_url + "92447"] = {"92447": {"IID": 92447, "Descriptive": {"Name": "Something else"}}}
    responses[API + "indicator_search?search_text=successful%20completion%20of%20alcohol%20treatment"] = {
        "502": [92447, 99123], "402": [99123]}
    responses[metadata_url + "92447,99123"] = {
        "92447": {"IID": 92447, "Descriptive": {"Name": "Something else"}},
        "99123": {"IID": 99123, "Descriptive": {"Name": "Successful completion of alcohol treatment"}},
    }
    name = "Successful completion of alcohol treatment"
    assert fingertips.resolve_id_by_name(FakeApi(responses), 92447, name) == 99123
    plan = fingertips.plan_downloads(FakeApi(responses))
    assert "indicator-99123.csv" in [d.name for d in plan] and "indicator-92447.csv" not in [d.name for d in plan]


def test_alcohol_id_falls_back_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="indicators.pipeline.sources.fingertips"):
        assert fingertips.resolve_id_by_name(FakeApi({}), 92447, "Successful completion of alcohol treatment") == 92447
    assert "keeping 92447" in caplog.text


def test_plan_downloads_reads_the_ids_from_the_catalogue(fixtures: Path, tmp_path: Path) -> None:
    """A catalogue entry's `fingertips:<id>` series is all it takes to fetch an indicator; other sources' series and
    entries without series add nothing."""
    (tmp_path / "new_measure.toml").write_text(NEW_INDICATOR_TOML.format(series='["fingertips:12345", "ndtms:x"]'))
    (tmp_path / "local_only.toml").write_text(NEW_INDICATOR_TOML.replace("new_measure", "local_only")
                                              .format(series="[]").replace('sql_template = "first_series"\n', ""))
    responses = _responses(fixtures)
    responses[f"{API}available_data?indicator_id=12345"] = _available(12345, 502)
    plan = fingertips.plan_downloads(FakeApi(responses), load_catalogue(tmp_path))
    assert [d.name for d in plan] == ["area_types.json", "indicator-12345.csv"]


def test_a_series_that_is_not_a_fingertips_id_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "new_measure.toml").write_text(NEW_INDICATOR_TOML.format(series='["fingertips:C19a"]'))
    with pytest.raises(InputError, match=r"new_measure\.toml.*'fingertips:C19a' is not a Fingertips indicator id"):
        fingertips.plan_downloads(FakeApi({}), load_catalogue(tmp_path))


NEW_INDICATOR_TOML = """id = "new_measure"
family = "treatment"
title = "A new measure"
short_title = "New measure"
definition = "Invented for a test."
unit = "%"
value_type = "proportion"
multiplier = 100
polarity = "high_is_good"
ci_method = "wilson"
period_type = "financial year"
suppression = "None."
publisher = "OHID Fingertips"
publisher_id = "12345"
source_ids = ["fingertips"]
reaggregate = "counts"
series = {series}
sql_template = "first_series"
"""


def test_area_types_file_is_staged_with_the_chosen_type(fixtures: Path, tmp_path: Path) -> None:
    area_types = tmp_path / "area_types.json"
    shutil.copy(fixtures / "fingertips" / "api" / "area_types.json", area_types)
    staged = stage([area_types, fixtures / "fingertips" / "indicator-90244.csv"])
    assert staged["fingertips_area_type"].to_dict("records") == [
        {"area_type_id": 502, "area_type_name": "Upper tier local authorities (post 4/23)"}]
    assert len(staged["observations"]) == 7


# --------------------------------------------------------------------------- CIPFA neighbours

def test_cipfa_plan_downloads_one_optional_file_per_area(fixtures: Path) -> None:
    plan = cipfa_neighbours.plan_downloads(FakeApi(_responses(fixtures)))
    assert [d.name for d in plan] == ["nn-E06000063.json", "nn-E09000007.json", "nn-E09000033.json"]
    assert plan[1].url == (API + "areas/by_parent_area_code?area_type_id=502&parent_area_code=nn-1-E09000007")
    assert all(d.optional for d in plan)


def test_cipfa_plan_warns_when_cipfa_is_not_listed_for_the_area_type(
        fixtures: Path, caplog: pytest.LogCaptureFixture) -> None:
    responses = _responses(fixtures)
    responses[API + "nearest_neighbour_types"] = [
        {"NeighbourTypeId": 1, "Name": "CIPFA nearest neighbours", "ApplicableAreaTypes": [{"Id": 102}]}]
    with caplog.at_level(logging.WARNING, logger="indicators.pipeline.sources.cipfa_neighbours"):
        plan = cipfa_neighbours.plan_downloads(FakeApi(responses))
    assert len(plan) == 3 and "not 502" in caplog.text


def test_cipfa_stage_ranks_neighbours_in_published_order(fixtures: Path) -> None:
    folder = fixtures / "cipfa_neighbours"
    peers = cipfa_neighbours.stage(sorted(folder.glob("nn-*.json")))["peer_cipfa"]
    assert list(peers.columns) == ["area_code", "neighbour_code", "neighbour_name", "rank"]
    assert len(peers) == 5  # Cumberland's list is empty
    assert set(peers["area_code"]) == {"E09000007"}
    assert peers["neighbour_code"].tolist() == ["E09000019", "E09000012", "E09000033", "E09000020", "E09000028"]
    assert peers["rank"].tolist() == [1, 2, 3, 4, 5]
    assert peers.iloc[3]["neighbour_name"] == "Kensington and Chelsea"


@pytest.mark.parametrize("name, body, match", [
    ("nn-E09000007.json", '{"Code": "E09000019"}', "not a list"),
    ("nn-E09000007.json", '[{"Name": "Islington"}]', "no valid area code"),
    ("nn-E09000007.json", "<html>error</html>", "not readable JSON"),
    ("neighbours.json", "[]", "does not name an area"),
])
def test_cipfa_bad_files(tmp_path: Path, name: str, body: str, match: str) -> None:
    path = _write(tmp_path, name, body)
    with pytest.raises(InputError, match=match):
        cipfa_neighbours.stage([path])
