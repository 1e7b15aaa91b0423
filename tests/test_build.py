"""The build, end to end: the real published files (../shared, or the vendored cuts without it), invented fixtures, and atomicity."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from indicators.cli import main
from indicators.errors import BuildError, IndicatorsError
from indicators.pipeline.build import build, normalise_name
from indicators.pipeline.fetch import fetch_all
from indicators.pipeline.sources.ons_deaths import parse_workbook

ENGLAND = "E92000001"
# The vendored cuts' current areas (tests/make_real_cuts.py KEEP_CURRENT) and the historic ones behind them.
CUT_CURRENT = 13
CUT_HISTORIC = ("E10000006", "E10000023", "E10000009", "E06000028", "E06000029")


@pytest.fixture(scope="module")
def real_build(real_raw, shared_raw_is_whole, tmp_path_factory):
    """One warehouse built from the real files (the whole shared mirror, or the vendored cuts), shared by the tests below."""
    root = tmp_path_factory.mktemp("real")
    raw = root / "raw"
    fetch_all(raw, mirror=real_raw, progress=False)
    db = root / "warehouse.duckdb"
    started = time.perf_counter()
    report = build(raw, db)
    return dict(raw=raw, db=db, report=report, seconds=time.perf_counter() - started, mirror=real_raw,
                whole=shared_raw_is_whole, con=duckdb.connect(str(db), read_only=True))


def q(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def test_build_is_fast_and_reports(real_build):
    assert real_build["seconds"] < 60
    assert real_build["report"].build_id
    assert real_build["report"].row_counts["indicator_values"] > 1000


def test_current_areas_are_the_153_of_2024(real_build):
    con = real_build["con"]
    (n,) = q(con, """SELECT count(*) FROM published.areas WHERE valid_to IS NULL
                     AND area_type IN ('county','unitary','metropolitan district','london borough')""")[0]
    assert n == (153 if real_build["whole"] else CUT_CURRENT)
    historic = dict(q(con, "SELECT area_code, valid_to FROM published.areas WHERE valid_to IS NOT NULL"))
    expected = ("E10000006", "E10000023", "E10000027", "E10000021", "E10000002", "E10000009") \
        if real_build["whole"] else CUT_HISTORIC
    for code in expected:
        assert code in historic, code


def test_deaths_misuse_latest_period_for_every_current_area(real_build):
    con = real_build["con"]
    rows = q(con, """
        SELECT a.area_code, v.value, v.numerator, v.value_note
        FROM published.areas a LEFT JOIN published.indicator_values v
          ON v.area_code = a.area_code AND v.indicator_id = 'deaths_drug_misuse' AND v.period_label = '2019-21'
        WHERE a.valid_to IS NULL AND a.area_type IN ('county','unitary','metropolitan district','london borough')""")
    assert len(rows) == (153 if real_build["whole"] else CUT_CURRENT)
    missing_row = [r[0] for r in rows if r[1] is None and r[2] is None and not r[3]]
    assert missing_row == []


def test_deaths_equal_ons_where_unchanged(real_build):
    con = real_build["con"]
    ons = parse_workbook(real_build["mirror"] / "ons_deaths" / "2021localauthorities.xlsx")
    ons = ons[(ons["series"] == "ons_deaths:misuse_3yr") & (ons["sex"] == "Persons")
              & (ons["period_label"] == "2019-21")].set_index("area_code")
    published = {r[0]: r[1:] for r in q(con, """
        SELECT area_code, value, lower_ci_95, upper_ci_95, numerator FROM published.indicator_values
        WHERE indicator_id = 'deaths_drug_misuse' AND period_label = '2019-21'""")}
    compared = 0
    for code, (value, lower, upper, deaths) in published.items():
        if code not in ons.index:
            continue
        row = ons.loc[code]
        assert deaths == row["numerator"] or (deaths is None and row["numerator"] != row["numerator"]), code
        if row["value"] == row["value"]:
            assert (value, lower, upper) == (row["value"], row["lower_ci_95"], row["upper_ci_95"]), code
        compared += 1
    assert compared > (150 if real_build["whole"] else 18)
    # Golden values read by hand from Table 6 of the 2021 edition.
    assert published[ENGLAND][:4] == (5.1, 5.0, 5.2, 8361.0)


def test_same_footprint_carried_split_reaggregated(real_build):
    con = real_build["con"]
    get = lambda code: q(con, """SELECT value, lower_ci_95, upper_ci_95, numerator, value_note
        FROM published.indicator_values WHERE indicator_id = 'deaths_drug_misuse'
        AND period_label = '2019-21' AND area_code = ?""", [code])[0]
    # North Yorkshire (E06000065) has the old county's footprint: the figures are carried.
    assert get("E06000065")[:4] == get("E10000023")[:4]
    assert "North Yorkshire" in get("E06000065")[4]
    if real_build["whole"]:  # Somerset is not in the vendored cuts
        assert get("E06000066")[:4] == get("E10000027")[:4]
    # Cumberland: the sum of Allerdale, Carlisle and Copeland's deaths; no rate.
    districts = q(con, """SELECT sum(numerator) FROM staged.observations WHERE series = 'ons_deaths:misuse_3yr'
        AND sex = 'Persons' AND period_label = '2019-21'
        AND area_code IN ('E07000026', 'E07000028', 'E07000029')""")[0][0]
    value, lower, upper, deaths, note = get("E06000063")
    assert (value, lower, upper) == (None, None, None)
    assert deaths == districts
    assert "cannot be re-derived" in note
    # The historic county keeps its own row.
    assert get("E10000006")[0] is not None


def test_england_comparisons_present(real_build):
    con = real_build["con"]
    rows = dict(q(con, """SELECT area_code, compared_to_england FROM published.indicator_values
        WHERE indicator_id = 'deaths_drug_misuse' AND period_label = '2019-21'"""))
    assert rows[ENGLAND] is None
    assert rows["E06000009"] == "worse"  # Blackpool: 95% interval well above England's 5.1
    assert rows["E06000063"] == "not compared"


def test_sources_and_provenance(real_build):
    con = real_build["con"]
    sources = q(con, "SELECT source_id, file, licence, sha256 FROM published.sources")
    files = {(s, f) for s, f, _, _ in sources}
    assert ("ons_deaths", "2021localauthorities.xlsx") in files
    assert all(len(sha) == 64 for *_, sha in sources)
    editions = dict(q(con, """SELECT period_label, any_value(edition) FROM published.value_provenance
        WHERE indicator_id = 'deaths_drug_misuse' AND area_code = ? GROUP BY ALL""", [ENGLAND]))
    assert editions["2019-21"] == "2021"
    assert editions["2017-19"] == "2021"  # both editions hold 2017-19: the newer one wins


def test_check_and_list_commands(real_build, capsys):
    assert main(["check", "--db", str(real_build["db"])]) == 0
    out = capsys.readouterr().out
    assert "ok    indicator_values key is unique" in out
    assert main(["list", "--db", str(real_build["db"])]) == 0
    assert "deaths_drug_misuse" in capsys.readouterr().out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_build_leaves_previous_warehouse_untouched(real_build, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(real_build["raw"], raw)
    db = tmp_path / "warehouse.duckdb"
    shutil.copyfile(real_build["db"], db)
    before = _digest(db)
    (raw / "ons_deaths" / "2021localauthorities.xlsx").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(IndicatorsError) as info:
        build(raw, db)
    assert "2021localauthorities.xlsx" in str(info.value)
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "warehouse.duckdb"]


def test_cli_build_error_is_one_line_no_traceback(real_build, tmp_path, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(real_build["raw"], raw)
    (raw / "ons_deaths" / "2021localauthorities.xlsx").write_bytes(b"")
    assert main(["build", "--raw", str(raw), "--db", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "2021localauthorities.xlsx" in err and "empty" in err
    assert not (tmp_path / "w.duckdb").exists()


def test_missing_raw_folder(tmp_path):
    with pytest.raises(BuildError, match="indicators fetch"):
        build(tmp_path / "nope", tmp_path / "w.duckdb")


def test_fingertips_counts_only_get_both_wilson_levels(real_build, fixtures, tmp_path):
    """A Fingertips response with counts, denominators and only 95% limits: after the build
    both levels are Wilson limits and the England comparisons follow from them."""
    from indicators.stats.intervals import wilson

    raw = tmp_path / "raw"
    shutil.copytree(real_build["raw"], raw)
    shutil.copyfile(fixtures / "fingertips" / "indicator-90244.csv", raw / "fingertips" / "indicator-90244.csv")
    db = tmp_path / "w.duckdb"
    build(raw, db)
    con = duckdb.connect(str(db), read_only=True)
    rows = q(con, """SELECT area_code, value, numerator, denominator, lower_ci_95, upper_ci_95,
                            lower_ci_998, upper_ci_998, compared_to_england, compared_to_england_998
                     FROM published.indicator_values WHERE indicator_id = 'completion_opiate'
                       AND numerator IS NOT NULL AND period_label = '2021'""")
    invented = {"E09000007", "E09000033", "E09000012", "E06000009", "E08000003", "E06000063"}
    published = {r[0] for r in q(con, "SELECT area_code FROM published.areas")}
    assert len(rows) == 1 + len(invented & published)  # England and the invented areas the geography has
    england = {r[0]: r for r in rows}[ENGLAND]
    for code, value, num, den, l95, u95, l998, u998, c95, c998 in rows:
        (el95, eu95), (el998, eu998) = wilson(num, den, 0.95, 100), wilson(num, den, 0.998, 100)
        assert l95 == pytest.approx(float(el95), abs=1e-9) and u95 == pytest.approx(float(eu95), abs=1e-9)
        assert l998 == pytest.approx(float(el998), abs=1e-9) and u998 == pytest.approx(float(eu998), abs=1e-9)
        if code == ENGLAND:
            assert c95 is None
            continue
        expected = "similar" if l95 <= england[1] <= u95 else ("better" if l95 > england[1] else "worse")
        assert c95 == expected
        expected = "similar" if l998 <= england[1] <= u998 else ("better" if l998 > england[1] else "worse")
        assert c998 == expected


@pytest.mark.parametrize("name, expected", [
    ("Bristol, City of", "bristol"),
    ("Herefordshire, County of", "herefordshire"),
    ("Brighton & Hove", "brighton and hove"),
    ("City of London", "city of london"),
    ("St. Helens", "st helens"),
])
def test_normalise_name(name, expected):
    assert normalise_name(name) == expected


def test_the_gap_over_time_rests_on_one_set_of_areas(real_build):
    """Drug-misuse deaths: the areas the gap is compared on over time are exactly the current upper-tier areas with
    a value and a positive 95% interval in every period in which at least 10 areas have one (counted here in SQL),
    and every period's gap measures use all of them; with the whole shared mirror that is all 19 three-year
    periods, and whether the gap has changed is tested."""
    from indicators.config import UPPER_TIER_TYPES
    from indicators.products import queries

    con = real_build["con"]
    periods, areas = q(con, """
        WITH ok AS (SELECT v.area_code, v.period_label FROM published.indicator_values v
                    JOIN published.areas a USING (area_code)
                    WHERE v.indicator_id = 'deaths_drug_misuse' AND a.valid_to IS NULL
                      AND list_contains(?, a.area_type) AND NOT coalesce(v.is_suppressed, false)
                      AND v.value > 0 AND v.lower_ci_95 > 0 AND v.upper_ci_95 > v.lower_ci_95),
             enough AS (SELECT period_label FROM ok GROUP BY 1 HAVING count(*) >= 10)
        SELECT (SELECT count(*) FROM enough),
               (SELECT count(*) FROM (SELECT area_code FROM ok WHERE period_label IN (SELECT period_label FROM enough)
                                      GROUP BY 1 HAVING count(*) = (SELECT count(*) FROM enough)))""",
                      [list(UPPER_TIER_TYPES)])[0]
    over = queries.gap_over_time(con, "deaths_drug_misuse")
    assert over["n_periods"] == periods
    assert over["n_areas"] == areas
    if areas >= 10:
        assert set(over["periods"]["n_areas"]) == {areas} and len(over["periods"]) == periods
    if real_build["whole"]:
        assert periods == 19 and areas >= 100
        assert over["tested"] and over["change"] in ("widened", "narrowed", "not changed significantly")
