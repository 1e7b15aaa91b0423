"""Tests for indicators.pipeline.sources.population: the real mid-2020 workbook (golden values read by hand), a fixture, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from indicators.errors import InputError
from indicators.pipeline.sources import population

REAL_NAME = "ukpopestimatesmid2020on2021geography.xls"


def one(frame: pd.DataFrame, area_code: str, age: str, sex: str = "Persons") -> pd.Series:
    rows = frame[(frame.area_code == area_code) & (frame.age == age) & (frame.sex == sex)]
    assert len(rows) == 1, f"expected one row for {area_code} {age} {sex}, got {len(rows)}"
    return rows.iloc[0]


@pytest.fixture(scope="module")
def real(shared_raw) -> pd.DataFrame:
    path = shared_raw / "population" / REAL_NAME
    if not path.is_file():
        pytest.skip(f"real population workbook {path} not present")
    return population.stage([path])["population"]


def test_real_columns_and_shape(real):
    assert list(real.columns) == list(population.POPULATION_COLUMNS)
    assert str(real.age_to.dtype) == "Int64" and real.year.dtype == "int64"
    assert set(real.year) == {2020}  # "MYE2: Persons ... mid-2020"
    assert set(real.sex) == {"Persons", "Males", "Females"}
    ages = list(real[(real.area_code == "E92000001") & (real.sex == "Persons")].age)
    assert ages == ["All ages"] + [str(a) for a in range(90)] + ["90+"]
    # 420 areas (UK, countries, regions, counties, every LA) x 92 age columns x 3 sexes
    assert real.area_code.nunique() == 420
    assert len(real) == 420 * 92 * 3
    assert not real[["area_code", "year", "sex", "age"]].duplicated().any()


def test_real_golden_values(real):
    # MYE2 - Persons row 12: E92000001 ENGLAND Country, All ages 56550138, age 0 601913, 90+ 521067
    england = one(real, "E92000001", "All ages")
    assert (england.area_name, england.geography, england.population) == ("ENGLAND", "Country", 56550138)
    assert england.age_from == 0 and pd.isna(england.age_to)
    assert one(real, "E92000001", "0").population == 601913
    oldest = one(real, "E92000001", "90+")
    assert (oldest.population, oldest.age_from) == (521067, 90) and pd.isna(oldest.age_to)
    # MYE2 - Males / Females: England all ages 27982818 and 28567320, which sum to the persons figure
    males = one(real, "E92000001", "All ages", "Males").population
    females = one(real, "E92000001", "All ages", "Females").population
    assert (males, females) == (27982818, 28567320) and males + females == england.population
    # Blackpool (upper-tier unitary authority) all ages 138381, age 0 1524
    blackpool = one(real, "E06000009", "All ages")
    assert (blackpool.area_name, blackpool.geography, blackpool.population) == (
        "Blackpool", "Unitary Authority", 138381)
    age0 = one(real, "E06000009", "0")
    assert (age0.population, age0.age_from, age0.age_to) == (1524, 0, 0)
    # Lancashire (county) all ages 1227076; Tower Hamlets (London borough) 331969
    assert one(real, "E10000017", "All ages").population == 1227076
    assert one(real, "E09000030", "All ages").geography == "London Borough"
    assert one(real, "E09000030", "All ages").population == 331969


def test_real_single_years_sum_to_all_ages(real):
    persons = real[real.sex == "Persons"]
    by_age = persons[persons.age != "All ages"].groupby("area_code").population.sum()
    total = persons[persons.age == "All ages"].set_index("area_code").population
    assert (by_age - total.loc[by_age.index]).abs().max() == 0


def _write(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _mye2_sheet(sex: str, year: int, rows: list[list]) -> list[list]:
    """The MYE2 layout with invented figures: title, feedback rows, header lower down, ages as numbers."""
    return [
        [f"MYE2: {sex} by single year of age and sex for local authorities in the UK, mid-{year}"],
        ["This worksheet contains one table."],
        ["This met my needs, please produce it next year"],
        [],
        ["Code", "Name", "Geography", "All ages", 0, 1, 2, "3+"],
        *rows,
        [],
        ["Source: Office for National Statistics"],
    ]


def test_fixture_workbook(tmp_path):
    path = _write(tmp_path / "ukpopestimatesmid2019.xlsx", {
        "Contents": [["Table of contents"], ["MYE2 - Males", "Males by single year of age, mid-2019"]],
        "MYE3": [["MYE3: Components of population change, mid-2019"], [],
                 ["Code", "Name", "Geography", "Births", "Deaths"], ["E92000001", "ENGLAND", "Country", 10, 9]],
        "Sheet A": _mye2_sheet("Males", 2019, [
            ["E92000001", "ENGLAND", "Country", 1000, 300, 300, 200, 200],
            ["E06000009", " Blackpool ", "Unitary Authority", 100.0, 30.0, 25.0, 25.0, 20.0],
        ]),
    })
    frame = population.stage([path])["population"]
    assert set(frame.sex) == {"Males"} and set(frame.year) == {2019}
    assert len(frame) == 2 * 5
    blackpool = one(frame, "E06000009", "3+", "Males")
    assert (blackpool.area_name, blackpool.geography, blackpool.population) == ("Blackpool", "Unitary Authority", 20.0)
    assert blackpool.age_from == 3 and pd.isna(blackpool.age_to)
    assert one(frame, "E06000009", "1", "Males").age_to == 1
    assert one(frame, "E92000001", "All ages", "Males").population == 1000


def test_workbook_without_expected_header(tmp_path):
    path = _write(tmp_path / "ukpopestimatesmid2020.xlsx", {
        "MYE2 - Persons": [["MYE2: Persons by single year of age, mid-2020"], [],
                           ["Area code", "Area name", "Total"], ["E92000001", "ENGLAND", 56550000]],
    })
    with pytest.raises(InputError) as info:
        population.stage([path])
    assert path.name in str(info.value) and "Code, Name, Geography, All ages" in str(info.value)


def test_non_numeric_population_cell(tmp_path):
    path = _write(tmp_path / "ukpopestimatesmid2019.xlsx", {
        "MYE2 - Persons": _mye2_sheet("Persons", 2019, [
            ["E92000001", "ENGLAND", "Country", 1000, 300, ":", 200, 200]]),
    })
    with pytest.raises(InputError) as info:
        population.parse_workbook(path)
    message = str(info.value)
    assert path.name in message and "row 6" in message and "':'" in message


def test_zero_byte_file(tmp_path):
    path = tmp_path / REAL_NAME
    path.write_bytes(b"")
    with pytest.raises(InputError, match=REAL_NAME):
        population.parse_workbook(path)
