"""ONS SDG 3.5.1 (alcohol treatment met need): the parser on invented rows and on the real file, and the build's
`alcohol_treatment_met_need` against the file (every area unchanged by reorganisation has the file's figures)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from indicators.catalogue import load_catalogue
from indicators.cli import main
from indicators.errors import InputError
from indicators.pipeline.build import build
from indicators.pipeline.fetch import fetch_all
from indicators.pipeline.sources import ons_sdg
from indicators.products import queries

HEADER = "Year,Series,Units,Local Authority,Deprivation decile,Unit multiplier,Unit measure,GeoCode,Value\n"
TREATED, ESTIMATED, MET = "Alcohol - People in treatment", "Alcohol - Estimated prevalence", "Alcohol - Met need"
REAL = "ons_sdg/indicator_3-5-1.csv"


def rows(*lines: tuple) -> str:
    out = []
    for year, series, name, decile, code, value in lines:
        units = "Percentage (%)" if series == MET else "Number"
        out.append(f'{year},{series},{units},"{name}",{decile},Units,{units},{code},{value}')
    return HEADER + "\n".join(out) + "\n"


def write(tmp_path: Path, text: str, name: str = "indicator_3-5-1.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- invented rows

def test_one_observation_per_area_and_year(tmp_path):
    path = write(tmp_path, rows(
        ("2018/19", TREATED, "", "", "", "100"), ("2018/19", ESTIMATED, "", "", "", "400"),
        ("2018/19", MET, "", "", "", "25.0"),
        ("2018/19", TREATED, "Hartlepool", "", "E06000001", "30"),
        ("2018/19", ESTIMATED, "Hartlepool", "", "E06000001", "120.5"),
        ("2018/19", MET, "Hartlepool", "", "E06000001", "24.896265560165975"),
        ("2018/19", TREATED, "Cumbria", "", "", "996"),
        ("2018/19", TREATED, "Cornwall & Isles of Scilly", "", "", "50"),
        ("2018/19", ESTIMATED, "Cornwall & Isles of Scilly", "", "", "200"),
        ("2018/19", MET, "Cornwall & Isles of Scilly", "", "", "25"),
        ("2010/11", TREATED, "Bedfordshire (Discontinued)", "", "", "610"),
        ("2018/19", MET, "", "Decile 10 (most deprived)", "", "16.5"),
        ("2018/19", TREATED, "", "Decile 10 (most deprived)", "", "33"),
        ("2018/19", ESTIMATED, "", "Decile 10 (most deprived)", "", "200"),
        ("2018/19", MET, "", "Decile 1 (least deprived)", "", "18"),
    ))
    staged = ons_sdg.stage([path])
    obs = staged["observations"].set_index("area_name")
    assert (obs.loc["England", "area_code"], obs.loc["England", "value"]) == ("E92000001", 25.0)
    assert (obs.loc["England", "numerator"], obs.loc["England", "denominator"]) == (100, 400)
    hartlepool = obs.loc["Hartlepool"]
    assert (hartlepool["area_code"], hartlepool["numerator"], hartlepool["denominator"]) == ("E06000001", 30, 120.5)
    assert hartlepool["period_start"] == pd.Timestamp(2018, 4, 1) and hartlepool["series"] == ons_sdg.SERIES
    # A county without a code is left for the build to match by name; no met need without an estimate.
    assert obs.loc["Cumbria", "area_code"] == "" and math.isnan(obs.loc["Cumbria", "value"])
    assert "no estimate of dependent adults" in obs.loc["Cumbria", "value_note"]
    # The combined figure is staged under its published name; the build puts it on Cornwall (combined areas).
    assert obs.loc["Cornwall & Isles of Scilly", "value"] == 25
    assert obs.loc["Cornwall & Isles of Scilly", "area_code"] == ""
    assert "Bedfordshire" not in obs.index and "Bedfordshire (Discontinued)" not in obs.index
    assert list(staged["warnings"]["warning"]) == [
        "Bedfordshire: left out: marked '(Discontinued)' by ONS (abolished before the areas this build knows)"]
    deciles = staged["deprivation_deciles"]
    assert list(deciles["decile"]) == [1, 10]
    assert list(deciles["decile_label"]) == ["Decile 1 (least deprived)", "Decile 10 (most deprived)"]
    assert (deciles.iloc[1]["value"], deciles.iloc[1]["numerator"], deciles.iloc[1]["denominator"]) == (16.5, 33, 200)


def test_repeated_rows_differing_by_rounding_keep_the_derived_one(tmp_path):
    path = write(tmp_path, rows(
        ("2015/16", TREATED, "", "", "", "113222"), ("2015/16", ESTIMATED, "", "", "", "595856"),
        ("2015/16", MET, "", "", "", "19.001475181209"), ("2015/16", MET, "", "", "", "19.0015708493327"),
    ))
    england = ons_sdg.stage([path])["observations"].iloc[0]
    assert england["value"] == 19.0015708493327  # = 113222 / 595856 x 100; the other differs in the 4th decimal


@pytest.mark.parametrize("second, words", [
    ("19.5", "two rows of the same year and series disagree (19.0 in data row 1, 19.5 here)"),
])
def test_repeated_rows_that_disagree_are_an_error(tmp_path, second, words):
    path = write(tmp_path, rows(("2015/16", MET, "", "", "", "19.0"), ("2015/16", MET, "", "", "", second)))
    with pytest.raises(InputError) as info:
        ons_sdg.stage([path])
    assert words in str(info.value) and info.value.where == "data row 2, column 'Value'"


@pytest.mark.parametrize("text, words, where", [
    (rows(("2018/19", MET, "Hartlepool", "", "E06000001", "about 20")), "'about 20' is not a number",
     "data row 1, column 'Value'"),
    (rows(("2018/19", MET, "Hartlepool", "", "E06000001", "-3")), "'-3' is negative", "data row 1, column 'Value'"),
    (rows(("2018-2019", MET, "Hartlepool", "", "E06000001", "3")), "year '2018-2019' is not a financial year",
     "data row 1, column 'Year'"),
    (rows(("2018/19", MET, "Hartlepool", "", "00EB", "3")), "GeoCode '00EB' is not an English GSS code",
     "data row 1, column 'GeoCode'"),
    (HEADER.replace("GeoCode,", ""), "missing column(s) 'GeoCode'", "header row"),
    ("<!DOCTYPE html><html><body>Not found</body></html>", "web page (HTML)", "start of file"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, words, where):
    with pytest.raises(InputError) as info:
        ons_sdg.stage([write(tmp_path, text)])
    assert words in str(info.value) and info.value.where == where
    assert "indicator_3-5-1.csv" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- the real file

def test_real_file_golden_values(shared_raw):
    staged = ons_sdg.stage([shared_raw / REAL])
    obs = staged["observations"]
    # 151 areas (Cornwall & Isles of Scilly one of them) and England, each year
    assert obs.groupby("period_label").size().to_dict() == {f"{y}/{(y + 1) % 100:02d}": 152 for y in range(2010, 2019)}
    england = obs.loc[obs["area_code"].eq("E92000001")].set_index("period_label")
    # Read by hand from the file: England 2018/19 and the repeated 2015/16 met need.
    assert (england.loc["2018/19", "numerator"], england.loc["2018/19", "denominator"]) == (104153.0, 590578.6667)
    assert england.loc["2018/19", "value"] == 17.63575386
    assert england.loc["2015/16", "value"] == 19.0015708493327
    assert sorted(staged["warnings"]["warning"].str.split(":").str[0]) == ["Bedfordshire", "Cheshire"]
    deciles = staged["deprivation_deciles"]
    assert list(deciles["decile"]) == list(range(1, 11)) and set(deciles["period_label"]) == {"2018/19"}
    assert deciles.set_index("decile").loc[10, "value"] == 16.173006223827798


def _file_rows(path: Path) -> dict[tuple[str, str], dict]:
    """The file read independently: (GeoCode or name, year) -> {series: value} for local authority rows."""
    out: dict[tuple[str, str], dict] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Local Authority"] and not row["Deprivation decile"]:
                key = (row["GeoCode"] or row["Local Authority"], row["Year"])
                out.setdefault(key, {})[row["Series"]] = float(row["Value"])
    return out


@pytest.fixture(scope="module")
def met_need_build(real_raw, tmp_path_factory):
    root = tmp_path_factory.mktemp("met_need")
    fetch_all(root / "raw", mirror=real_raw, progress=False)
    build(root / "raw", root / "w.duckdb")
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    yield real_raw, con, root / "w.duckdb"
    con.close()


def test_published_for_current_areas_with_the_files_figures(met_need_build, shared_raw_is_whole):
    real_raw, con, _ = met_need_build
    published = con.execute("""
        SELECT v.area_code, a.area_name, v.period_label, v.value, v.numerator, v.denominator, v.lower_ci_95,
               v.compared_to_england, p.harmonisation
        FROM published.indicator_values v JOIN published.areas a USING (area_code)
        JOIN published.value_provenance p USING (indicator_id, area_code, period_label)
        WHERE v.indicator_id = 'alcohol_treatment_met_need' AND a.valid_to IS NULL
          AND a.area_type NOT IN ('country', 'region')""").df()
    latest = published.loc[published["period_label"].eq("2018/19")]
    assert latest["value"].notna().sum() >= (140 if shared_raw_is_whole else 6)
    assert latest["lower_ci_95"].isna().all() and set(latest["compared_to_england"]) == {"not compared"}
    truth = _file_rows(real_raw / REAL)
    compared = 0
    for row in published.itertuples(index=False):
        if row.harmonisation:  # carried from or not derivable for an older area: compared below
            continue
        figures = truth.get((row.area_code, row.period_label)) or truth.get((row.area_name, row.period_label))
        if figures is None or MET not in figures:
            continue
        assert row.value == figures[MET], (row.area_code, row.period_label)
        assert row.numerator == figures[TREATED] and row.denominator == figures[ESTIMATED]
        compared += 1
    assert compared >= (140 * 9 - 60 if shared_raw_is_whole else 40)
    # North Yorkshire's 2023 unitary carries the county's figures (same footprint); Cumberland cannot.
    ny = published.set_index(["area_code", "period_label"])
    assert ny.loc[("E06000065", "2018/19"), "value"] == truth[("North Yorkshire", "2018/19")][MET]
    assert ny.loc[("E06000065", "2018/19"), "harmonisation"] == "carried from E10000023"
    assert math.isnan(ny.loc[("E06000063", "2018/19"), "value"])


def test_deprivation_deciles_are_published(met_need_build):
    _, con, _ = met_need_build
    deciles = queries.deprivation_deciles(con, "alcohol_treatment_met_need")
    assert list(deciles["decile"]) == list(range(1, 11))
    assert deciles.iloc[-1]["decile_label"] == "Decile 10 (most deprived)"
    assert deciles.iloc[-1]["value"] == pytest.approx(16.173006223827798)
    assert queries.deprivation_deciles(con, "completion_opiate").empty


def test_catalogue_keeps_it_apart_from_unmet_need():
    catalogue = {i.id: i for i in load_catalogue()}
    met, unmet = catalogue["alcohol_treatment_met_need"], catalogue["unmet_need_alcohol"]
    assert met.source_ids == ("ons_sdg",) and unmet.publisher_id == "93532"
    assert any("93532" in c and "never combined" in c for c in met.caveats)
    assert met.ci_method == "none" and any("No confidence interval" in c for c in met.caveats)


def test_a_name_that_matches_no_area_stops_the_build(real_cuts, tmp_path, capsys):
    raw = tmp_path / "raw"
    fetch_all(raw, mirror=real_cuts, progress=False)
    path = raw / REAL
    path.write_text(path.read_text(encoding="utf-8").replace(",Cumbria,", ",Cumbria and Atlantis,"), encoding="utf-8")
    assert main(["build", "--raw", str(raw), "--db", str(tmp_path / "w.duckdb")]) == 2
    stderr = capsys.readouterr().err
    err = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "Traceback" not in stderr
    assert "indicator_3-5-1.csv" in err[0] and "'Cumbria and Atlantis' matches no upper-tier area" in err[0]
    assert not (tmp_path / "w.duckdb").exists()


def test_source_declares_the_pinned_official_file():
    from indicators.pipeline.sources import get_source

    source = get_source("ons_sdg")
    (download,) = source.files
    assert download.name == "indicator_3-5-1.csv"
    assert download.url.startswith("https://raw.githubusercontent.com/ONSdigital/sdg-data/b8ec4507")
    assert source.matching_files(Path(__file__).parent / "fixtures" / "real_cuts" / "ons_sdg") != []


def test_deprivation_sentence_and_rows():
    from indicators.present import about

    deciles = pd.DataFrame({"period_label": ["2018/19"] * 3, "decile": [1, 2, 10],
                            "decile_label": ["Decile 1 (least deprived)", "Decile 2", "Decile 10 (most deprived)"],
                            "value": [18.2, 19.14, 16.17], "numerator": [5848.0, 10.0, 12655.0],
                            "denominator": [32192.0, 50.0, 78247.67]})
    assert about.deprivation_sentence(deciles, "%") == (
        "England by deprivation decile, 2018/19 (no intervals: the denominators are estimates): 16.2% in Decile 10 "
        "(most deprived), 18.2% in Decile 1 (least deprived); lowest in Decile 10 (most deprived), 16.2%; highest in "
        "Decile 2, 19.1%.")
    assert about.deprivation_rows(deciles, "%")[2] == {"Period": "2018/19", "Decile": "Decile 10 (most deprived)",
                                                       "Value": "16.2%", "Numerator": "12,655",
                                                       "Denominator": "78,248"}
    assert about.deprivation_sentence(deciles.iloc[0:0], "%") == ""


def test_about_page_shows_the_gradient(met_need_build, monkeypatch):
    from conftest import REPO
    from streamlit.testing.v1 import AppTest

    _, _, db = met_need_build
    monkeypatch.setenv("INDICATORS_DB", str(db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=90)
    at.switch_page("pages/about.py")
    at.run()
    assert not at.exception
    sentences = [m.value for m in at.markdown if m.value.startswith("England by deprivation decile")]
    assert len(sentences) == 1 and "Decile 10 \\(most deprived\\)" in sentences[0]
