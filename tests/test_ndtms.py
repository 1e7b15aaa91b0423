"""Tests for the NDTMS ViewIt export parser: real exports (golden values read by hand) and invented fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from indicators.errors import InputError
from indicators.pipeline.schema import OBSERVATION_COLUMNS
from indicators.pipeline.sources.ndtms import (
    NULL_NOTE,
    ROUNDING_NOTE,
    financial_year,
    parse_csv,
    stage,
)

LA_EXPORT = "ndtms/ViewIt Export Data_LAs.csv"
ENGLAND_EXPORT = "ndtms/ViewIt Export Data_England.csv"


def one(frame: pd.DataFrame, series: str, period: str, area_name: str | None = None) -> pd.Series:
    match = frame.loc[frame["series"].eq(series) & frame["period_label"].eq(period)]
    if area_name is not None:
        match = match.loc[match["area_name"].eq(area_name)]
    assert len(match) == 1, match
    return match.iloc[0]


# --------------------------------------------------------------------------- real exports

def test_real_la_export_golden_values(shared_raw: Path) -> None:
    obs = parse_csv(shared_raw / LA_EXPORT)
    assert list(obs.columns) == list(OBSERVATION_COLUMNS)
    # 13 reporting periods x 5 drug groups x 4 measures (completion, completion without
    # re-presentation, deaths in treatment, numbers in treatment), persons and all ages only.
    assert len(obs) == 13 * 5 * 4
    assert set(obs["area_name"]) == {"Barnet"} and set(obs["area_code"]) == {""}
    assert set(obs["sex"]) == {"Persons"} and set(obs["age"]) == {"All ages"}

    opiate = one(obs, "ndtms:successful_completion_opiate", "2019/20")
    assert (opiate["numerator"], opiate["denominator"]) == (50, 540)
    assert opiate["value"] == pytest.approx(100 * 50 / 540)
    assert opiate["value_note"] == ROUNDING_NOTE
    assert opiate["period_start"] == pd.Timestamp(2019, 4, 1)
    assert opiate["period_end"] == pd.Timestamp(2020, 3, 31)
    total = one(obs, "ndtms:successful_completion_total", "2019/20")
    assert (total["numerator"], total["denominator"]) == (265, 1105)
    alcohol = one(obs, "ndtms:successful_completion_alcohol", "2021/22")  # a "TOTAL/TOTAL" year
    assert (alcohol["numerator"], alcohol["denominator"]) == (140, 440)
    both = one(obs, "ndtms:successful_completion_non_opiate_and_alcohol", "2009/10")
    assert (both["numerator"], both["denominator"]) == (40, 160)

    no_rep = one(obs, "ndtms:successful_completion_no_representation_opiate", "2019/20")
    assert (no_rep["numerator"], no_rep["denominator"]) == (30, 525)
    latest = one(obs, "ndtms:successful_completion_no_representation_total", "2021/22")
    assert pd.isna(latest["value"]) and latest["value_note"] == NULL_NOTE and not latest["is_suppressed"]

    deaths = one(obs, "ndtms:deaths_in_treatment_total", "2021/22")
    assert deaths["value"] == deaths["numerator"] == 20 and pd.isna(deaths["denominator"])
    assert one(obs, "ndtms:deaths_in_treatment_non_opiate", "2019/20")["value"] == 0
    in_treatment = one(obs, "ndtms:in_treatment_non_opiate", "2020/21")
    assert in_treatment["value"] == in_treatment["numerator"] == 195


def test_real_england_export_golden_values(shared_raw: Path) -> None:
    obs = parse_csv(shared_raw / ENGLAND_EXPORT)
    assert len(obs) == 13 * 5
    assert obs.groupby("series").size().to_dict() == {
        f"ndtms:in_treatment_{group}": 13
        for group in ("total", "opiate", "non_opiate", "alcohol", "non_opiate_and_alcohol")}
    assert set(obs["area_code"]) == {"E92000001"} and set(obs["area_name"]) == {"England"}
    assert one(obs, "ndtms:in_treatment_total", "2021/22")["value"] == 289215
    assert one(obs, "ndtms:in_treatment_opiate", "2009/10")["value"] == 170032
    assert one(obs, "ndtms:in_treatment_non_opiate_and_alcohol", "2019/20")["value"] == 30262
    assert obs["value_note"].eq("").all()  # the England export is not rounded


def test_real_exports_stage_together(shared_raw: Path) -> None:
    obs = stage([shared_raw / LA_EXPORT, shared_raw / ENGLAND_EXPORT])["observations"]
    assert len(obs) == 260 + 65


def test_real_la_export_completion_columns_mean_what_they_say(shared_raw: Path) -> None:
    """exits_* partition the year's exits; scnr_scrn = completions minus re-presentations within 6 months."""
    raw = pd.read_csv(shared_raw / LA_EXPORT, dtype=str, keep_default_na=False)
    persons = raw.loc[raw["sex"].str.lower().eq("total") & raw["age_group"].str.lower().eq("total")
                      & raw["ReportingPeriod"].ne("2021/22")]
    number = persons.apply(lambda c: pd.to_numeric(c, errors="coerce"))
    gap = number["scnr_completion_allintx"] - number["scnr_representation_allintx"] - number["scnr_scrn_allintx"]
    assert gap.abs().le(5).all()  # equal up to NDTMS's rounding to 5
    exits = number[[c for c in raw.columns if c.startswith("exits_")]].sum(axis=1)
    assert (number["exits_successfulcompletion_allintx"] <= exits).all()
    assert (exits <= number["intreatment_allintx"]).all()


# --------------------------------------------------------------------------- invented fixtures

def test_la_fixture(fixtures: Path) -> None:
    obs = parse_csv(fixtures / "ndtms" / "ViewIt Export Data_LAs.csv")
    # Camden 2020/21 and 2021/22, Blackpool 2020/21; sex F and age 18-29 rows are left out.
    assert len(obs) == 3 * 5 * 4
    camden = one(obs, "ndtms:successful_completion_total", "2020/21", "Camden")
    assert (camden["value"], camden["numerator"], camden["denominator"]) == (25.0, 250, 1000)
    alcohol = one(obs, "ndtms:successful_completion_alcohol", "2020/21", "Camden")
    assert alcohol["value"] == pytest.approx(40.0)
    scnr = one(obs, "ndtms:successful_completion_no_representation_opiate", "2020/21", "Camden")
    assert (scnr["numerator"], scnr["denominator"]) == (35, 490)
    assert one(obs, "ndtms:deaths_in_treatment_total", "2021/22", "Camden")["value"] == 15
    assert one(obs, "ndtms:in_treatment_opiate", "2021/22", "Camden")["value"] == 550
    upper = one(obs, "ndtms:successful_completion_opiate", "2021/22", "Camden")
    assert (upper["numerator"], upper["denominator"]) == (55, 550) and upper["sex"] == "Persons"
    empty = one(obs, "ndtms:successful_completion_non_opiate", "2020/21", "Blackpool")
    assert pd.isna(empty["value"]) and empty["denominator"] == 0
    assert empty["value_note"].startswith("no one in treatment")
    assert set(obs["value_note"]) >= {ROUNDING_NOTE, NULL_NOTE}


def test_england_fixture_accepts_either_case(fixtures: Path) -> None:
    obs = parse_csv(fixtures / "ndtms" / "ViewIt Export Data_England.csv")
    assert len(obs) == 10
    assert one(obs, "ndtms:in_treatment_total", "2020/21")["value"] == 250001
    assert one(obs, "ndtms:in_treatment_non_opiate_and_alcohol", "2021/22")["value"] == 26952
    assert one(obs, "ndtms:in_treatment_alcohol", "2021/22")["value"] == 75024


@pytest.mark.parametrize("text, expected", [
    ("2021-22", ("2021/22", "2021-04-01", "2022-03-31")),
    ("2009/10", ("2009/10", "2009-04-01", "2010-03-31")),
    ("1999-00", ("1999/00", "1999-04-01", "2000-03-31")),
    ("2021-2022", ("2021/22", "2021-04-01", "2022-03-31")),
])
def test_financial_year(text: str, expected: tuple[str, str, str]) -> None:
    label, start, end = financial_year(text)
    assert (label, start.isoformat(), end.isoformat()) == expected


@pytest.mark.parametrize("text", ["2021", "2021-23", "2021/21", "Q1 2021"])
def test_financial_year_rejects(text: str) -> None:
    assert financial_year(text) is None


# --------------------------------------------------------------------------- bad input

def _rewrite(fixtures: Path, tmp_path: Path, old: str, new: str, name: str = "ViewIt Export Data_LAs.csv") -> Path:
    text = (fixtures / "ndtms" / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_missing_count_column(fixtures: Path, tmp_path: Path) -> None:
    path = _rewrite(fixtures, tmp_path, ",exits_died_allintx,", ",exits_deceased_allintx,")
    with pytest.raises(InputError, match="exits_died_allintx") as info:
        parse_csv(path)
    assert info.value.where == "header row"


def test_unknown_layout(fixtures: Path, tmp_path: Path) -> None:
    path = _rewrite(fixtures, tmp_path, "ReportingPeriod,", "Period,")
    with pytest.raises(InputError, match="neither ViewIt layout"):
        parse_csv(path)


def test_non_numeric_count(fixtures: Path, tmp_path: Path) -> None:
    path = _rewrite(fixtures, tmp_path, "2020/21,England,Total,Total,Total,250001,",
                    "2020/21,England,Total,Total,Total,lots,", name="ViewIt Export Data_England.csv")
    with pytest.raises(InputError, match="'lots' is not a count") as info:
        parse_csv(path)
    assert info.value.where == "data row 1, column 'Num_InTreatment_AllInTx'"


def test_unknown_drug_group(fixtures: Path, tmp_path: Path) -> None:
    path = _rewrite(fixtures, tmp_path, "England,opiates,", "England,cannabis,", name="ViewIt Export Data_England.csv")
    with pytest.raises(InputError, match="'cannabis'"):
        parse_csv(path)


def test_conflicting_exports_name_both_files(fixtures: Path, tmp_path: Path) -> None:
    changed = _rewrite(fixtures, tmp_path, "2020/21,England,Total,Total,Total,250001,",
                       "2020/21,England,Total,Total,Total,250101,", name="ViewIt Export Data_England.csv")
    copy = tmp_path / "ViewIt Export Data_England_copy.csv"
    copy.write_text((fixtures / "ndtms" / "ViewIt Export Data_England.csv").read_text())
    with pytest.raises(InputError, match="contradicts") as info:
        stage([copy, changed])
    assert "ViewIt Export Data_England_copy.csv data row 1" in str(info.value)
