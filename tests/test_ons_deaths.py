"""Tests for indicators.pipeline.sources.ons_deaths: real editions (golden values read by hand), invented fixtures, bad input."""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from indicators.errors import InputError
from indicators.pipeline.schema import OBSERVATION_COLUMNS
from indicators.pipeline.sources import ons_deaths

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "ons_deaths"
_spec = importlib.util.spec_from_file_location("ons_deaths_workbooks", FIXTURE_DIR / "workbooks.py")
workbooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(workbooks)

MISUSE_3YR = "ons_deaths:misuse_3yr"
POISONING_3YR = "ons_deaths:poisoning_3yr"
MISUSE_COUNTS = "ons_deaths:misuse_registrations"
POISONING_COUNTS = "ons_deaths:poisoning_registrations"


def one(frame: pd.DataFrame, series: str, area_code: str, period_label: str, sex: str = "Persons") -> pd.Series:
    rows = frame[(frame.series == series) & (frame.area_code == area_code)
                 & (frame.period_label == period_label) & (frame.sex == sex)]
    assert len(rows) == 1, f"expected one row for {series} {area_code} {period_label} {sex}, got {len(rows)}"
    return rows.iloc[0]


def real_file(shared_raw: Path, name: str) -> Path:
    path = shared_raw / "ons_deaths" / name
    if not path.is_file():
        pytest.skip(f"real edition {path} not present")
    return path


@pytest.fixture(scope="module")
def ed2021(shared_raw) -> pd.DataFrame:
    return ons_deaths.parse_workbook(real_file(shared_raw, "2021localauthorities.xlsx"))


@pytest.fixture(scope="module")
def ed2019(shared_raw) -> pd.DataFrame:
    return ons_deaths.parse_workbook(real_file(shared_raw, "2019localauthorities1.xls"))


@pytest.fixture(scope="module")
def staged(shared_raw) -> pd.DataFrame:
    files = [real_file(shared_raw, "2019localauthorities1.xls"), real_file(shared_raw, "2021localauthorities.xlsx")]
    return ons_deaths.stage(files)["observations"]


# --- (a) real editions ------------------------------------------------------------------


def test_real_2021_schema_and_edition(ed2021):
    assert list(ed2021.columns) == list(OBSERVATION_COLUMNS)
    assert set(ed2021.source_id) == {"ons_deaths"}
    assert set(ed2021.source_file) == {"2021localauthorities.xlsx"}
    assert set(ed2021.edition) == {"2021"}  # "... registered ... between 2001 and 2021"
    assert set(ed2021.series) == {MISUSE_3YR, POISONING_3YR, MISUSE_COUNTS, POISONING_COUNTS}
    assert set(ed2021.age) == {"All ages"}
    assert set(ed2021[ed2021.series == MISUSE_3YR].sex) == {"Persons", "Males", "Females"}
    assert set(ed2021[ed2021.series == MISUSE_COUNTS].sex) == {"Persons"}
    # 19 rolling periods 2001-03 .. 2019-21 (the label spans six columns per period)
    periods = sorted(set(ed2021[ed2021.series == MISUSE_3YR].period_label))
    assert len(periods) == 19 and periods[0] == "2001-03" and periods[-1] == "2019-21"
    years = sorted(set(ed2021[ed2021.series == MISUSE_COUNTS].period_label))
    assert years[0] == "1993" and years[-1] == "2021" and len(years) == 29
    key = ed2021[ons_deaths.OBSERVATION_KEY]
    assert not key.duplicated().any()


def test_real_2021_england_misuse_3yr(ed2021):
    # Table 6 row 7: E92000001 ENGLAND, 2019–21: Deaths 8361, Rate 5.1, limits 5.0 and 5.2
    row = one(ed2021, MISUSE_3YR, "E92000001", "2019-21")
    assert row.area_name == "ENGLAND"
    assert row.numerator == 8361 and row.value == 5.1
    assert row.lower_ci_95 == 5.0 and row.upper_ci_95 == 5.2
    assert row.period_start == pd.Timestamp("2019-01-01") and row.period_end == pd.Timestamp("2021-12-31")
    assert not row.is_suppressed and row.value_note == ""


def test_real_2021_areas(ed2021):
    # Table 6 row 29: Blackpool (unitary authority) 76 deaths, 19.4 (15.2-24.3)
    blackpool = one(ed2021, MISUSE_3YR, "E06000009", "2019-21")
    assert (blackpool.area_name, blackpool.numerator, blackpool.value) == ("Blackpool", 76, 19.4)
    assert (blackpool.lower_ci_95, blackpool.upper_ci_95) == (15.2, 24.3)
    # Table 8 row 29: Blackpool females 23 deaths, 12.2 (7.7-18.4)
    females = one(ed2021, MISUSE_3YR, "E06000009", "2019-21", sex="Females")
    assert (females.numerator, females.value, females.lower_ci_95, females.upper_ci_95) == (23, 12.2, 7.7, 18.4)
    # Table 6 row 254: Camden (London borough) 43 deaths, 5.9 (4.2-8.0)
    camden = one(ed2021, MISUSE_3YR, "E09000007", "2019-21")
    assert (camden.area_name, camden.numerator, camden.value, camden.upper_ci_95) == ("Camden", 43, 5.9, 8.0)
    # Table 6 row 55: Lancashire (county) 138 deaths, 4.1 (3.4-4.8)
    lancashire = one(ed2021, MISUSE_3YR, "E10000017", "2019-21")
    assert (lancashire.numerator, lancashire.value, lancashire.lower_ci_95) == (138, 4.1, 3.4)


def test_real_2021_markers(ed2021):
    # Table 6 row 40: Eden (district) 5 deaths, rate ':' -> null and not suppressed (ONS did not calculate a rate
    # from 5 deaths; nothing was withheld), deaths kept, the reason in words
    eden = one(ed2021, MISUSE_3YR, "E07000030", "2019-21")
    assert math.isnan(eden.value) and math.isnan(eden.lower_ci_95) and math.isnan(eden.upper_ci_95)
    assert not eden.is_suppressed and eden.numerator == 5
    assert eden.value_note == "ONS does not calculate a rate from fewer than 10 deaths"
    # Table 6: the Isles of Scilly, 0 deaths in 2019-21, rate ':' -> not calculated, not suppressed
    scilly = one(ed2021, MISUSE_3YR, "E06000053", "2019-21")
    assert scilly.numerator == 0 and math.isnan(scilly.value) and not scilly.is_suppressed
    assert scilly.value_note == "ONS does not calculate a rate from fewer than 10 deaths"
    # Table 6 row 56: Burnley 16 deaths, 6.3 with 'U' in the unlabelled column -> kept with a note
    burnley = one(ed2021, MISUSE_3YR, "E07000117", "2019-21")
    assert (burnley.numerator, burnley.value, burnley.lower_ci_95, burnley.upper_ci_95) == (16, 6.3, 3.6, 10.3)
    assert not burnley.is_suppressed
    assert burnley.value_note == "Low reliability: ONS considers a rate from 10 to 19 deaths unreliable"
    # Table 6 row 190, 2003–05: Wyre Forest 10 deaths, rate cell blank, 'U', limits blank
    wyre = one(ed2021, MISUSE_3YR, "E07000239", "2003-05")
    assert wyre.numerator == 10 and math.isnan(wyre.value) and not wyre.is_suppressed
    assert wyre.value_note == ("The rate is blank in the ONS table; low reliability: ONS considers a rate from 10 to "
                               "19 deaths unreliable")
    # No marker anywhere is read as a number: every null rate has a reason; no raw marker reaches a note
    rates = ed2021[ed2021.series.isin([MISUSE_3YR, POISONING_3YR])]
    assert (rates[rates.value.isna()].value_note != "").all()
    assert not rates.value_note.str.contains(r"^\W|= ", regex=True).any()
    # the 2021 edition withholds nothing: every missing rate has its deaths, so none is suppressed
    assert rates.value.isna().sum() > 1000 and not rates.is_suppressed.any()


def test_real_2021_single_year_counts(ed2021):
    # Table 2 row 8: ENGLAND drug misuse 2021 = 2846; Table 1 row 30: Blackpool poisoning 2021 = 33
    england = one(ed2021, MISUSE_COUNTS, "E92000001", "2021")
    assert england.value == 2846 and england.numerator == 2846
    assert england.period_start == pd.Timestamp("2021-01-01") and england.period_end == pd.Timestamp("2021-12-31")
    assert one(ed2021, POISONING_COUNTS, "E06000009", "2021").value == 33
    assert one(ed2021, POISONING_COUNTS, "K04000001", "2021").value == 4859
    # Table 1 row 133: Oadby and Wigston 2021 is blank (no observation), 2020 is 3
    oadby = ed2021[(ed2021.series == POISONING_COUNTS) & (ed2021.area_code == "E07000135")]
    assert "2021" not in set(oadby.period_label)
    assert one(ed2021, POISONING_COUNTS, "E07000135", "2020").value == 3


def test_real_2021_geography(ed2021):
    counts = ed2021[ed2021.series == MISUSE_COUNTS].groupby(ed2021.area_code.str[:3]).area_code.nunique()
    assert (counts["E06"], counts["E08"], counts["E09"], counts["E10"]) == (59, 36, 33, 24)
    assert counts["E07"] == 181 and counts["W06"] == 22
    for prefix in ("K04", "E92", "E12", "E11", "E13", "W92"):
        assert prefix in counts.index
    names = set(ed2021.area_name)
    assert "Cumbria" in names and "Cumbria " not in names  # trailing space stripped


def test_real_2019_edition(ed2019):
    assert set(ed2019.edition) == {"2019"}
    assert set(ed2019.source_file) == {"2019localauthorities1.xls"}
    # Table 6: ENGLAND 2017–19 Deaths 7665, Rate 4.7 (4.6-4.8); Northamptonshire 91, 4.2 (3.4-5.2)
    england = one(ed2019, MISUSE_3YR, "E92000001", "2017-19")
    assert (england.numerator, england.value, england.lower_ci_95, england.upper_ci_95) == (7665, 4.7, 4.6, 4.8)
    northants = one(ed2019, MISUSE_3YR, "E10000021", "2017-19")
    assert (northants.area_name, northants.numerator, northants.value) == ("Northamptonshire", 91, 4.2)
    assert (northants.lower_ci_95, northants.upper_ci_95) == (3.4, 5.2)
    # Table 8: Camden females 2017–19 14 deaths, 4.1 'U' (2.2-6.9)
    camden = one(ed2019, MISUSE_3YR, "E09000007", "2017-19", sex="Females")
    assert (camden.numerator, camden.value, camden.lower_ci_95, camden.upper_ci_95) == (14, 4.1, 2.2, 6.9)
    assert "Low reliability" in camden.value_note
    assert max(ed2019[ed2019.series == MISUSE_3YR].period_label) == "2017-19"
    counts = ed2019[ed2019.series == MISUSE_COUNTS].groupby(ed2019.area_code.str[:3]).area_code.nunique()
    assert (counts["E06"], counts["E08"], counts["E09"], counts["E10"]) == (57, 36, 33, 25)
    # Table 9 (registration delays) is not one of the four series
    assert set(ed2019.series) == {MISUSE_3YR, POISONING_3YR, MISUSE_COUNTS, POISONING_COUNTS}


def test_real_stage_newest_edition_wins(staged, ed2021):
    key = ons_deaths.OBSERVATION_KEY
    assert not staged[key].duplicated().any()
    # England 2017-19 is in both editions: the 2021 edition wins
    assert one(staged, MISUSE_3YR, "E92000001", "2017-19").edition == "2021"
    # Northamptonshire (E10000021, abolished 2021) is only in the 2019 edition, so that edition is kept
    northants = one(staged, MISUSE_3YR, "E10000021", "2017-19")
    assert (northants.edition, northants.value) == ("2019", 4.2)
    # Every key the 2021 edition publishes comes from 2021; the 2019 edition supplies only the
    # Northamptonshire county and its seven districts, which the 2021 edition no longer has
    assert len(staged[staged.edition == "2021"]) == len(ed2021)
    from_2019 = set(staged[staged.edition == "2019"].area_code)
    assert from_2019 == {"E10000021", "E07000150", "E07000151", "E07000152", "E07000153",
                         "E07000154", "E07000155", "E07000156"}


# --- (b) invented fixtures in the real layout -----------------------------------------


@pytest.fixture(scope="module")
def fixture_2022(tmp_path_factory) -> pd.DataFrame:
    path = workbooks.edition_2022(tmp_path_factory.mktemp("ons") / "2022localauthorities.xlsx")
    return ons_deaths.parse_workbook(path)


def test_fixture_layout_found_by_content(fixture_2022):
    frame = fixture_2022
    assert set(frame.edition) == {"2022"}
    assert set(frame.series) == {MISUSE_3YR, MISUSE_COUNTS, POISONING_COUNTS}
    assert set(frame[frame.series == MISUSE_3YR].period_label) == {"2020-22", "2019-21"}
    england = one(frame, MISUSE_3YR, "E92000001", "2019-21")
    assert (england.numerator, england.value, england.lower_ci_95, england.upper_ci_95) == (8800, 5.4, 5.3, 5.5)
    # header on row 9 in Table 8 (females), row 6 in Table 2
    assert one(frame, MISUSE_3YR, "E06000009", "2020-22", sex="Females").value == 11.8
    assert one(frame, MISUSE_COUNTS, "E06000009", "2022").value == 19
    # area names: footnote marker stripped, indentation columns read
    assert one(frame, MISUSE_3YR, "E06000009", "2020-22").area_name == "Blackpool"
    assert one(frame, MISUSE_3YR, "E07000117", "2020-22").area_name == "Burnley"
    # numbers stored as text are read as numbers
    lancashire = one(frame, MISUSE_3YR, "E10000017", "2019-21")
    assert (lancashire.value, lancashire.lower_ci_95, lancashire.upper_ci_95) == (4.1, 3.4, 4.8)
    # identical duplicate row kept once; stray marker-only row and footnotes dropped
    assert len(frame[(frame.area_code == "E09000007") & (frame.series == MISUSE_3YR)]) == 2
    assert set(frame.area_code) <= {"K04000001", "E92000001", "E12000002", "E06000009", "E10000017",
                                    "E07000117", "E07000119", "E07000120", "E07000121", "E07000122",
                                    "E07000123", "E09000007"}


RATE_RULE = "ONS does not calculate a rate from fewer than 10 deaths"
LOW = "low reliability: ONS considers a rate from 10 to 19 deaths unreliable"


@pytest.mark.parametrize(("area", "period", "numerator", "value", "suppressed", "note"), [
    ("E07000117", "2020-22", 15, 12.5, False, "L" + LOW[1:]),
    ("E07000117", "2019-21", 14, 11.9, False, "L" + LOW[1:]),
    # a rate ONS did not calculate, with the deaths given: not suppressed (nothing withheld)
    ("E07000119", "2020-22", 6, None, False, RATE_RULE),
    ("E07000119", "2019-21", 4, None, False, RATE_RULE),
    # withheld for confidentiality, deaths too: suppressed
    ("E07000120", "2020-22", None, None, True,
     "The rate is withheld by ONS to protect confidentiality in the ONS table; "
     "the number of deaths is withheld by ONS to protect confidentiality in the ONS table"),
    ("E07000120", "2019-21", 9, None, False, RATE_RULE),
    ("E07000121", "2020-22", 3, None, False, RATE_RULE),
    ("E07000121", "2019-21", 2, None, False, RATE_RULE),
    ("E07000122", "2020-22", 11, None, False, f"The rate is not applicable in the ONS table; {LOW}"),
    ("E07000123", "2020-22", 30, None, False, f"The rate is blank in the ONS table; {LOW}"),
])
def test_fixture_rate_markers(fixture_2022, area, period, numerator, value, suppressed, note):
    row = one(fixture_2022, MISUSE_3YR, area, period)
    assert (row.numerator == numerator) if numerator is not None else math.isnan(row.numerator)
    assert (row.value == value) if value is not None else math.isnan(row.value)
    assert bool(row.is_suppressed) is suppressed
    assert row.value_note == note


def test_fixture_all_blank_period_is_no_observation(fixture_2022):
    pendle = fixture_2022[(fixture_2022.area_code == "E07000122") & (fixture_2022.series == MISUSE_3YR)]
    assert list(pendle.period_label) == ["2020-22"]


@pytest.mark.parametrize(("area", "year", "value", "suppressed", "note"), [
    ("E06000009", "2022", 1234.0, False, ""),
    ("E06000009", "2021", 33.0, False, ""),
    ("E07000117", "2022", 5.0, False, "ONS marks this figure as of low reliability"),
    ("E07000119", "2022", None, True, "The number is not available or nil (not read as zero) in the ONS table"),
    ("E07000119", "2021", 0.0, False, ""),
    ("E07000120", "2022", None, True, "The number is not available in the ONS table"),
    ("K04000001", "2022", 4900.0, False, ""),
])
def test_fixture_count_markers(fixture_2022, area, year, value, suppressed, note):
    row = one(fixture_2022, POISONING_COUNTS, area, year)
    assert (row.value == value) if value is not None else math.isnan(row.value)
    assert (row.numerator == value) if value is not None else math.isnan(row.numerator)
    assert bool(row.is_suppressed) is suppressed
    assert row.value_note == note


def test_fixture_blank_count_is_no_observation(fixture_2022):
    hyndburn = fixture_2022[(fixture_2022.area_code == "E07000120") & (fixture_2022.series == POISONING_COUNTS)]
    assert list(hyndburn.period_label) == ["2022"]


def test_fixture_stage_newest_wins(tmp_path):
    new = workbooks.edition_2022(tmp_path / "2022localauthorities.xlsx")
    old = workbooks.edition_2021(tmp_path / "2021localauthorities.xlsx")
    staged = ons_deaths.stage([new, old])["observations"]
    # 2019-21 is in both: the 2022 edition's 5.4 (8800 deaths) beats the 2021 edition's 5.3 (8700)
    england = one(staged, MISUSE_3YR, "E92000001", "2019-21")
    assert (england.edition, england.value, england.numerator) == ("2022", 5.4, 8800)
    assert england.source_file == "2022localauthorities.xlsx"
    # 2018-20 only in the older edition
    assert one(staged, MISUSE_3YR, "E92000001", "2018-20").edition == "2021"
    assert one(staged, MISUSE_3YR, "E10000021", "2019-21").edition == "2021"
    assert not staged[ons_deaths.OBSERVATION_KEY].duplicated().any()
    # file order does not matter
    reversed_order = ons_deaths.stage([old, new])["observations"]
    pd.testing.assert_frame_equal(staged, reversed_order)


def test_fixture_combined_header_layout(tmp_path):
    frame = ons_deaths.parse_workbook(workbooks.combined_header_edition(tmp_path / "2023localauthorities.xlsx"))
    assert set(frame.edition) == {"2023"}
    england = one(frame, POISONING_3YR, "E92000001", "2020-22", sex="Males")
    assert (england.numerator, england.value, england.lower_ci_95, england.upper_ci_95) == (8800, 10.9, 10.7, 11.1)
    hartlepool = one(frame, POISONING_3YR, "E06000001", "2020-22", sex="Males")
    # 8 deaths, rate '[x]': ONS did not calculate a rate; nothing withheld
    assert hartlepool.area_name == "Hartlepool" and not hartlepool.is_suppressed and math.isnan(hartlepool.value)
    assert hartlepool.numerator == 8 and hartlepool.value_note == "ONS does not calculate a rate from fewer than 10 deaths"
    assert one(frame, POISONING_3YR, "E06000001", "2021-23", sex="Males").value == 31.5


def test_stage_of_nothing_is_empty():
    out = ons_deaths.stage([])["observations"]
    assert out.empty and list(out.columns) == list(OBSERVATION_COLUMNS)


# --- (c) bad input ----------------------------------------------------------------------


def raises_naming_file(path: Path, *fragments: str) -> InputError:
    with pytest.raises(InputError) as info:
        ons_deaths.parse_workbook(path)
    message = str(info.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_zero_byte_file(tmp_path):
    path = tmp_path / "2021localauthorities.xlsx"
    path.write_bytes(b"")
    raises_naming_file(path, "empty (0 bytes)")


def test_html_saved_as_xlsx(tmp_path):
    path = tmp_path / "2021localauthorities.xlsx"
    path.write_text("<!DOCTYPE html><html><head><title>Page not found</title></head><body></body></html>")
    raises_naming_file(path, "HTML")


def test_truncated_workbook(tmp_path):
    whole = workbooks.edition_2022(tmp_path / "whole.xlsx").read_bytes()
    path = tmp_path / "2022localauthorities.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    raises_naming_file(path, "cannot be read as a workbook")


def test_no_table_found(tmp_path):
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {
        "Contents": workbooks.contents_sheet({"Table 1": workbooks.registrations_title("misuse", 2021)}, 2021)})
    raises_naming_file(path, "no drug-deaths table found")


def test_header_row_missing_area_codes(tmp_path):
    title = workbooks.rates_title("misuse", "persons", 2021)
    rows = workbooks.rates_sheet(title, ["2019\u201321"], [("E92000001", "ENGLAND", 0, [(1, 2, None, 1, 3)])])
    rows[6][0] = "Codes"
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 6": rows})
    raises_naming_file(path, "no header row with 'Area Codes'", "sheet 'Table 6'")


def test_cell_neither_number_nor_marker(tmp_path):
    title = workbooks.rates_title("misuse", "persons", 2021)
    rows = workbooks.rates_sheet(title, ["2019\u201321"], [
        ("E92000001", "ENGLAND", 0, [(8361, 5.1, None, 5.0, 5.2)]),
        ("E06000009", "Blackpool", 1, [(76, "n/a", None, 15.2, 24.3)]),
    ])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 6": rows})
    # header on row 7, sub-headers row 8, blank row 9, England row 10, Blackpool row 11; Rate is column F
    raises_naming_file(path, "'n/a'", "sheet 'Table 6', cell F11", "known marker")


def test_number_in_marker_column(tmp_path):
    title = workbooks.rates_title("misuse", "persons", 2021)
    rows = workbooks.rates_sheet(title, ["2019\u201321"], [("E06000009", "Blackpool", 1, [(76, 19.4, 3, 15.2, 24.3)])])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 6": rows})
    raises_naming_file(path, "cell G10")


def test_duplicate_area_with_conflicting_values(tmp_path):
    title = workbooks.registrations_title("misuse", 2021)
    rows = workbooks.registrations_sheet(title, [2021, 2020], [
        ("E06000009", "Blackpool", 1, [18, 29]),
        ("E06000009", "Blackpool", 1, [18, 30]),
    ])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 2": rows})
    raises_naming_file(path, "E06000009 appears twice", "rows 9 and 10")


def test_row_of_figures_without_area_code(tmp_path):
    title = workbooks.registrations_title("misuse", 2021)
    rows = workbooks.registrations_sheet(title, [2021, 2020], [
        ("E06000009", "Blackpool", 1, [18, 29]),
        ["E0600001", None, "Hartlepool", None, 14, 19],
    ])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 2": rows})
    raises_naming_file(path, "no GSS area code", "row 10")


def test_period_without_rate_column(tmp_path):
    title = workbooks.rates_title("misuse", "persons", 2021)
    rows = workbooks.rates_sheet(title, ["2019\u201321"], [("E92000001", "ENGLAND", 0, [(8361, 5.1, None, 5.0, 5.2)])])
    rows[7][5] = None
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 6": rows})
    raises_naming_file(path, "period 2019-21 has no column for rate")


def test_missing_file(tmp_path):
    raises_naming_file(tmp_path / "2021localauthorities.xlsx", "file not found")


def test_real_file_renamed_keeps_title_edition(shared_raw, tmp_path):
    """The edition comes from the table titles, not the file name, when the titles say it."""
    source = real_file(shared_raw, "2019localauthorities1.xls")
    copy = tmp_path / "drugdeaths.xls"
    shutil.copyfile(source, copy)
    frame = ons_deaths.parse_workbook(copy)
    assert set(frame.edition) == {"2019"} and set(frame.source_file) == {"drugdeaths.xls"}


def test_edition_falls_back_to_file_name(tmp_path):
    title = "Number of deaths related to drug misuse, persons by local authority, in each year"
    rows = workbooks.registrations_sheet(title, [2021, 2020], [("E06000009", "Blackpool", 1, [18, 29])])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 2": rows})
    frame = ons_deaths.parse_workbook(path)
    assert set(frame.edition) == {"2021"} and len(frame) == 2


def test_same_table_twice(tmp_path):
    title = workbooks.registrations_title("misuse", 2021)
    rows = workbooks.registrations_sheet(title, [2021], [("E06000009", "Blackpool", 1, [18])])
    path = workbooks.write_workbook(tmp_path / "2021localauthorities.xlsx", {"Table 2": rows, "Table 2a": rows})
    raises_naming_file(path, "two sheets hold the same table", "'Table 2a'")
