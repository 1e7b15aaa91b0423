"""Tests for the opiate and crack cocaine prevalence workbook parser: the real 2016-17 workbook and invented ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from indicators.errors import InputError
from indicators.pipeline.schema import OBSERVATION_COLUMNS
from indicators.pipeline.sources.prevalence import stage

WORKBOOK = "prevalence/OpiateCrackUsePrevalenceEstimates2016to2017.XLSX"
CI = ["Lower bound  95% CI", "Upper bound  95% CI"]
SUBHEADINGS = ["OCU", *CI, "Opiates", CI[0], "Upper bound   95% CI", "Crack cocaine", *CI]


def one(frame: pd.DataFrame, series: str, area_name: str) -> pd.Series:
    match = frame.loc[frame["series"].eq(series) & frame["area_name"].eq(area_name)]
    assert len(match) == 1, match
    return match.iloc[0]


# --------------------------------------------------------------------------- the real workbook

@pytest.fixture(scope="module")
def real(shared_raw: Path) -> dict[str, pd.DataFrame]:
    return stage([shared_raw / WORKBOOK])


def test_real_england_golden_values(real: dict[str, pd.DataFrame]) -> None:
    obs = real["observations"]
    assert list(obs.columns) == list(OBSERVATION_COLUMNS)
    ocu = one(obs, "prevalence:ocu", "ENGLAND")
    assert ocu["area_code"] == "E92000001"
    assert ocu["numerator"] == 313971 and ocu["denominator"] == 35457660
    assert ocu["value"] == pytest.approx(8.854814446300178)
    assert ocu["value"] == pytest.approx(1000 * 313971 / 35457660)
    assert (ocu["lower_ci_95"], ocu["upper_ci_95"]) == pytest.approx((8.721444111089113, 9.22779450194965))
    assert pd.isna(ocu["lower_ci_998"])
    assert (ocu["period_label"], ocu["period_start"], ocu["period_end"]) == (
        "2016/17", pd.Timestamp(2016, 4, 1), pd.Timestamp(2017, 3, 31))
    assert (ocu["sex"], ocu["age"]) == ("Persons", "15-64")
    assert one(obs, "prevalence:crack", "ENGLAND")["numerator"] == 180748
    assert one(obs, "prevalence:opiate", "ENGLAND")["numerator"] == 261294


def test_real_local_authority_golden_values(real: dict[str, pd.DataFrame]) -> None:
    obs = real["observations"]
    barnet = one(obs, "prevalence:ocu", "Barnet")
    assert barnet["area_code"] == ""  # the build maps names to GSS codes
    assert (barnet["numerator"], barnet["denominator"]) == (1583, 253252)
    assert barnet["value"] == pytest.approx(1000 * 1583 / 253252)
    assert (barnet["lower_ci_95"], barnet["upper_ci_95"]) == pytest.approx((3.482697076429801, 9.156887211157265))
    crack = one(obs, "prevalence:crack", "Derby")
    assert crack["numerator"] == 979 and crack["value"] == pytest.approx(5.951006017871254)
    london = one(obs, "prevalence:opiate", "London")
    assert london["area_code"] == "" and london["numerator"] == 43823


def test_real_row_counts_and_dat_codes(real: dict[str, pd.DataFrame]) -> None:
    obs = real["observations"]
    # 151 DAT areas + 9 regions + England, three series each.
    assert obs["area_name"].nunique() == 161
    assert len(obs) == 161 * 3
    assert obs["is_suppressed"].sum() == 0 and obs["value"].notna().all()
    codes = real["prevalence_dat_codes"]
    assert list(codes.columns) == ["dat_code", "area_name"]
    assert len(codes) == 151
    assert codes.set_index("dat_code").loc["H12B", "area_name"] == "Barnet"
    assert codes.set_index("dat_code").loc["E05B", "area_name"] == "Derby"
    assert "Cornwall and Isles of Scilly" in set(codes["area_name"])


# --------------------------------------------------------------------------- invented workbooks

def _workbook(path: Path, rows: list[list], *, header: bool = True,
              sheet: str = "2016-17 Prevalence Estimates") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["", "", "Invented prevalence estimates per 1,000 population aged 15 to 64 - 2016-17"])
    ws.append([])
    if header:
        ws.append(["PCC Code", "DAT (UTLA) Code", "Region", "Local authority", "15-64 population",
                   "Number of users", *[""] * 8, "Rate of use per thousand of the population"])
        ws.append(["", "", "", "", "", *SUBHEADINGS, *SUBHEADINGS])
        ws.append([])
    for row in rows:
        ws.append(row)
    ws2 = wb.create_sheet("OCU")
    ws2.append(["DAT (UTLA) Code", "Region", "Local authority", "2010-11"])
    wb.save(path)
    return path


def _area(pcc: str, dat: str, region: str, name: str, population: float, users: list,
          rates: list | None = None) -> list:
    """users: [ocu, lo, hi, opiates, lo, hi, crack, lo, hi]; rates default to 1,000 x users / population."""
    if rates is None:
        rates = [None if u is None or isinstance(u, str) else 1000 * u / population for u in users]
    return [pcc, dat, region, name, population, *users, *rates]


def test_invented_workbook(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "prevalence.xlsx", [
        _area("PCC01", "Z01B", "North West", "Blackpool", 80000, [800, 700, 950, 700, 600, 800, 400, 300, 500]),
        _area("PCC02", "Z02B", "London", "Camden", 160000, [1200, 1000, 1500, 1000, 900, 1100, "*", "*", "*"]),
        [],
        _area("London", "London", "London", "London", 6000000, [50000, 48000, 52000, 40000, 39000, 41000,
                                                                 30000, 29000, 31000]),
        _area("National", "National", "ENGLAND", "ENGLAND", 35000000, [300000, 295000, 310000, 250000, 245000,
                                                                         255000, 180000, 175000, 185000]),
        ["Source: invented for tests"],
    ])
    staged = stage([path])
    obs = staged["observations"]
    assert len(obs) == 4 * 3
    blackpool = one(obs, "prevalence:ocu", "Blackpool")
    assert blackpool["value"] == pytest.approx(10.0)
    assert (blackpool["lower_ci_95"], blackpool["upper_ci_95"]) == pytest.approx((8.75, 11.875))
    assert (blackpool["numerator"], blackpool["denominator"]) == (800, 80000)
    crack = one(obs, "prevalence:crack", "Camden")
    assert pd.isna(crack["value"]) and pd.isna(crack["numerator"]) and crack["value_note"] == "no estimate published"
    assert one(obs, "prevalence:ocu", "ENGLAND")["area_code"] == "E92000001"
    assert staged["prevalence_dat_codes"].to_dict("records") == [
        {"dat_code": "Z01B", "area_name": "Blackpool"}, {"dat_code": "Z02B", "area_name": "Camden"}]


def test_workbook_without_the_expected_header(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "prevalence.xlsx", [["x", "Z01B", "North West", "Blackpool", 80000]], header=False)
    with pytest.raises(InputError, match="no sheet has the prevalence estimates header") as info:
        stage([path])
    assert info.value.file == str(path)


def test_rate_that_does_not_match_the_number_of_users(tmp_path: Path) -> None:
    users = [800, 700, 950, 700, 600, 800, 400, 300, 500]
    rates = [1000 * u / 80000 for u in users]
    rates[0] = 12.0
    path = _workbook(tmp_path / "prevalence.xlsx", [_area("PCC01", "Z01B", "North West", "Blackpool", 80000,
                                                          users, rates)])
    with pytest.raises(InputError, match="ocu rate 12.000") as info:
        stage([path])
    assert info.value.where == "sheet '2016-17 Prevalence Estimates', row 6"


def test_text_where_a_number_belongs(tmp_path: Path) -> None:
    users = [800, 700, 950, 700, 600, 800, "about 400", 300, 500]
    path = _workbook(tmp_path / "prevalence.xlsx", [_area("PCC01", "Z01B", "North West", "Blackpool", 80000,
                                                          users, [10.0] * 9)])
    with pytest.raises(InputError, match="'about 400' is not a number"):
        stage([path])


@pytest.mark.parametrize("text", ["1e309", "inf", "nan", "1" + "0" * 400])
def test_number_that_is_not_finite(tmp_path: Path, text: str) -> None:
    """Issue 13: an overflowing, infinite or NaN number is rejected with the file, row and column, never kept."""
    users = [800, 700, 950, 700, 600, 800, text, 300, 500]
    path = _workbook(tmp_path / "prevalence.xlsx", [_area("PCC01", "Z01B", "North West", "Blackpool", 80000,
                                                          users, [10.0] * 9)])
    with pytest.raises(InputError, match="is not a finite number") as info:
        stage([path])
    assert info.value.file == str(path)
    assert info.value.where == "sheet '2016-17 Prevalence Estimates', row 6, number_crack"


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "prevalence.xlsx"
    path.write_text("<html>moved</html>")
    with pytest.raises(InputError, match="HTML/XML page, not a workbook"):
        stage([path])
