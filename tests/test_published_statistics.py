"""The statistics the build publishes: equal to what the query layer used to compute per request
(tests/legacy_statistics.py) on the same warehouse, and held to issue 13's rules: a minimum of areas for every
spread statistic, at least 3 other members for a group figure, an area never in its own group, withheld rows used
nowhere, and the trend test over the most recent periods that have counts. Warehouses are invented
(tests/support.py)."""

from __future__ import annotations

import math

import duckdb
import legacy_statistics as legacy
import numpy as np
import pandas as pd
import pytest
from support import make_spread_warehouse

from indicators.products import queries

SUPPRESSED = ("E06000903", "E06000910")


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    """24 invented areas, 12 in each region: every statistic has enough areas."""
    path = make_spread_warehouse(tmp_path_factory.mktemp("spread") / "spread.duckdb", n_areas=24)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def nine(tmp_path_factory):
    path = make_spread_warehouse(tmp_path_factory.mktemp("nine") / "nine.duckdb", n_areas=9)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def withheld(tmp_path_factory):
    """12 areas; two of them withheld in the latest period although their rows keep count and denominator, and a
    further completions period with no figure for anyone."""
    path = make_spread_warehouse(tmp_path_factory.mktemp("withheld") / "withheld.duckdb", n_areas=12,
                                 suppressed=SUPPRESSED, empty_last_period=True)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def periods(con, indicator_id: str) -> list[str]:
    return queries.periods(con, indicator_id)


# --------------------------------------------------------------------------- equal to the per-request code

GAP_FIELDS = ("best_fifth_value", "worst_fifth_value", "fifth_ratio", "fifth_difference", "p90_p10_ratio",
              "n_compared", "n_worse_than_england", "n_better_than_england", "share_worse_than_england",
              "tau2_log", "i2", "q", "n_with_interval", "tau_p90_p10_ratio")


@pytest.mark.parametrize("indicator_id", ["completion_opiate", "deaths_drug_misuse"])
def test_gap_measures_equal_the_per_request_code(spread, indicator_id):
    for period in periods(spread, indicator_id):
        old = legacy.gap_summary(spread, indicator_id, period)
        new = queries.gap_summary(spread, indicator_id, period)
        assert new["available"] and new["n_areas"] == old["n_areas"] == 24
        assert new["fifth_method"] == old["fifth_method"] == (
            "pooled" if indicator_id == "completion_opiate" else "mean")
        for field in GAP_FIELDS:
            assert new[field] == pytest.approx(old[field], rel=1e-12, abs=1e-12), (period, field)
        if indicator_id == "deaths_drug_misuse":   # the illustration is new in issue 19: tests/test_words.py
            assert new["illustrative_deaths"]["available"]
        else:
            assert "illustrative_deaths" not in new


@pytest.mark.parametrize("indicator_id", ["completion_opiate", "deaths_drug_misuse"])
@pytest.mark.parametrize("adjusted", [False, True])
def test_funnels_equal_the_per_request_code(spread, indicator_id, adjusted):
    period = periods(spread, indicator_id)[-1]
    old = legacy.funnel_data(spread, indicator_id, period, adjusted)
    new = queries.funnel_data(spread, indicator_id, period, adjusted)
    assert new["available"] and new["adjusted"] == (old["phi"] is not None) == adjusted
    assert new["benchmark"] == old["benchmark"]
    points = new["points"].set_index("area_code").loc[old["points"]["area_code"]]
    assert points["x"].to_numpy() == pytest.approx(old["points"]["x"].to_numpy(), rel=1e-12)
    assert points["position"].tolist() == old["points"]["position"].tolist()
    for column in ("lower_95", "upper_95", "lower_998", "upper_998"):
        assert new["limits"][column].to_numpy() == pytest.approx(old["limits"][column].to_numpy(), rel=1e-9)
    assert new["limits"]["denominator"].to_numpy() == pytest.approx(old["limits"]["denominator"].to_numpy())
    for field in ("phi", "chi2", "p_value", "tau2"):
        assert new["overdispersion"][field] == pytest.approx(old["overdispersion"][field], rel=1e-12)


@pytest.mark.parametrize("indicator_id", ["completion_opiate", "deaths_drug_misuse"])
def test_england_rank_intervals_equal_the_per_request_code(spread, indicator_id):
    for period in periods(spread, indicator_id):
        old = legacy.league_table(spread, indicator_id, period).set_index("area_code")
        new, info = queries.league_table(spread, indicator_id, period)
        assert info["ranked"] and info["group"] is None
        new = new.set_index("area_code").loc[old.index]
        for column in ("rank", "rank_lower", "rank_upper"):
            assert new[column].tolist() == old[column].tolist(), (period, column)


def test_group_rank_intervals_agree_with_a_separate_simulation(spread):
    """Within a group the build reads ranks from England's simulation; the old code simulated the group alone.
    Same observed ranks; the intervals, from different random draws, within one place of each other."""
    checked = 0
    for code in ("E06000901", "E06000914"):
        members = [code] + queries.peer_groups(spread, code).query("peer_group == 'region'")["area_code"].tolist()
        for period in periods(spread, "deaths_drug_misuse"):
            old = legacy.league_table(spread, "deaths_drug_misuse", period, members).set_index("area_code")
            new, info = queries.league_table(spread, "deaths_drug_misuse", period, code, "region")
            assert info["ranked"] and len(new) == 12
            new = new.set_index("area_code").loc[old.index]
            assert new["rank"].tolist() == old["rank"].tolist()
            assert (new["rank_lower"] - old["rank_lower"]).abs().max() <= 1
            assert (new["rank_upper"] - old["rank_upper"]).abs().max() <= 1
            checked += 1
    assert checked == 12


@pytest.mark.parametrize("indicator_id", ["completion_opiate", "deaths_drug_misuse"])
def test_group_figures_equal_the_per_request_rule_without_the_area(spread, indicator_id):
    meta = queries.indicator(spread, indicator_id)
    period = periods(spread, indicator_id)[-1]
    values = queries.map_values(spread, indicator_id, period).set_index("area_code")
    compared = 0
    for code in values.index:
        for group in ("region", "neighbours"):
            members = queries.peer_groups(spread, code).query("peer_group == @group")["area_code"].tolist()
            published = queries.group_comparison(spread, indicator_id, period, code, group)
            assert code not in published["member_codes"]
            old = legacy.group_value(values.loc[members].reset_index(), meta)
            if len(members) < 3:
                assert math.isnan(published["group_value"]) and published["compared_to_group"] == "not compared"
                assert "a group figure needs at least 3" in published["reason"]
                continue
            assert published["group_value"] == pytest.approx(old["value"], rel=1e-12)
            assert published["group_method"] == old["method"] and published["n_with_value"] == old["n_areas"]
            area = values.loc[code]
            assert published["compared_to_group"] == legacy.compared_to_group(
                area["lower_ci_95"], area["upper_ci_95"], old["value"], meta["polarity"])
            compared += 1
    assert compared == 24    # every area against the rest of its region; chains of neighbours are too short


def test_trends_equal_the_old_build_where_every_period_has_counts(spread):
    for code in ("E06000901", "E06000917", "E92000001"):
        _, trends = queries.trend_series(spread, "completion_opiate", code)
        assert trends["area"] == legacy.recent_trends(spread, "completion_opiate", code)
    _, trends = queries.trend_series(spread, "deaths_drug_misuse", "E06000901")
    assert set(trends.values()) == {"not tested"}    # age-standardised rates: no counts and denominators


def test_spread_for_the_spine_chart_is_the_linear_quartiles(spread):
    profile = queries.area_profile(spread, "E06000905").set_index("indicator_id")
    period = profile.loc["deaths_drug_misuse", "period_label"]
    values = queries.map_values(spread, "deaths_drug_misuse", period)["value"].dropna().to_numpy()
    row = profile.loc["deaths_drug_misuse"]
    assert [row["area_min"], row["area_q25"], row["area_median"], row["area_q75"], row["area_max"]] == pytest.approx(
        list(np.percentile(values, [0, 25, 50, 75, 100])))
    assert row["n_areas"] == 24


# --------------------------------------------------------------------------- minimums

def test_nine_areas_have_no_spread_statistic_and_say_why(nine):
    for indicator_id in ("completion_opiate", "deaths_drug_misuse"):
        period = periods(nine, indicator_id)[-1]
        gaps = queries.gap_summary(nine, indicator_id, period)
        assert not gaps["available"] and gaps["n_areas"] == 9
        assert gaps["reason"] == "9 areas have a value for this period; gap measures need at least 10"
        assert all(pd.isna(gaps[f]) for f in ("fifth_ratio", "p90_p10_ratio", "i2", "area_median"))
        assert "illustrative_deaths" not in gaps
        funnel = queries.funnel_data(nine, indicator_id, period)
        assert not funnel["available"] and "a funnel plot needs at least 10" in funnel["reason"]
        table, info = queries.league_table(nine, indicator_id, period)
        assert not info["ranked"] and table["rank"].isna().all() and table["rank_lower"].isna().all()
        assert info["rank_reason"] == "rank intervals need at least 10 areas with a value; 9 have one here"
    assert nine.execute("SELECT count(*) FROM published.rank_intervals").fetchall()[0][0] == 0
    assert nine.execute("SELECT count(*) FROM published.funnel_points").fetchall()[0][0] == 0


def test_the_minimums_are_stated_once_and_published(nine):
    from indicators.catalogue import load_minimums

    assert queries.minimums(nine) == {"areas_for_spread": 10, "others_in_group": 3, "periods_for_trend": 5,
                                      "periods_for_gap_change": 3}
    assert queries.minimums(nine) == vars(load_minimums())


def test_a_group_is_never_the_area_alone(tmp_path):
    """Barnet's case: its peers have no figure, so its 'peer group' would be Barnet alone. Here Camden's neighbours
    (Westminster, Hackney) and region lack completions: no group figure, 'not compared', and why."""
    from support import VALUES, make_warehouse

    values = [v if not (v[0] == "completion_opiate" and v[1] in ("E09000033", "E09000012"))
              else v[:3] + (None,) * 7 + (False, "No figure.", "not compared", "not compared") for v in VALUES]
    con = queries.connect(make_warehouse(tmp_path / "alone.duckdb", values=values))
    try:
        for group in ("neighbours", "region"):
            row = queries.group_comparison(con, "completion_opiate", "2020/21", "E09000007", group)
            assert "E09000007" not in row["member_codes"] and row["n_with_value"] == 0
            assert math.isnan(row["group_value"]) and row["compared_to_group"] == "not compared"
            assert row["reason"] == ("none of the group's 2 other areas has a value for this period; a group "
                                     "figure needs at least 3")
        comparison = queries.peer_comparison(con, "E09000007", "neighbours").set_index("indicator_id")
        assert math.isnan(comparison.loc["completion_opiate", "group_value"])
        assert comparison.loc["completion_opiate", "compared_to_group"] == "not compared"
        members = con.execute("SELECT count(*) FROM published.peer_groups WHERE member_code = area_code").fetchall()
        assert members[0][0] == 0
    finally:
        con.close()


# --------------------------------------------------------------------------- withheld rows and empty periods

def test_withheld_rows_are_used_nowhere(withheld):
    for indicator_id in ("completion_opiate", "deaths_drug_misuse"):
        period = [p for p in periods(withheld, indicator_id)][-1]
        rows = queries.map_values(withheld, indicator_id, period).set_index("area_code")
        assert rows.loc[list(SUPPRESSED), "is_suppressed"].all()
        assert rows.loc[list(SUPPRESSED), "numerator"].notna().all()     # the counts are kept as published
        gaps = queries.gap_summary(withheld, indicator_id, period)
        assert gaps["n_areas"] == 10 and not set(SUPPRESSED) & set(gaps["area_codes"])
        funnel = queries.funnel_data(withheld, indicator_id, period)
        assert not set(SUPPRESSED) & set(funnel["points"]["area_code"])
        table, _ = queries.league_table(withheld, indicator_id, period)
        assert table.set_index("area_code").loc[list(SUPPRESSED), "rank"].isna().all()
        groups = withheld.execute("""SELECT member_codes FROM published.group_comparisons
                                     WHERE indicator_id = ? AND period_label = ?""", [indicator_id, period]).fetchall()
        assert not any(set(SUPPRESSED) & set(codes) for (codes,) in groups)
        assert withheld.execute("""SELECT count(*) FROM published.rank_intervals WHERE indicator_id = ?
                                   AND period_label = ? AND list_contains(?, area_code)""",
                                [indicator_id, period, list(SUPPRESSED)]).fetchall()[0][0] == 0


def test_the_trend_uses_the_most_recent_periods_with_counts(withheld):
    """The latest completions period is empty for everyone, and two areas' figures before it are withheld: the test
    skips both and runs over the five most recent periods that have counts."""
    trends = withheld.execute("""SELECT area_code, trend, first_period, last_period, n_points, periods_with_counts
                                 FROM published.recent_trends WHERE indicator_id = 'completion_opiate'""").df()
    trends = trends.set_index("area_code")
    assert trends.loc["E06000901", ["first_period", "last_period", "n_points"]].tolist() == ["2015/16", "2019/20", 5]
    assert trends.loc["E06000903", ["first_period", "last_period", "n_points"]].tolist() == ["2014/15", "2018/19", 5]
    assert not trends["trend"].eq("cannot be calculated").any()
    one = withheld.execute("""SELECT numerator, denominator FROM published.indicator_values
                              WHERE indicator_id = 'completion_opiate' AND area_code = 'E06000903'
                                AND NOT is_suppressed AND numerator IS NOT NULL ORDER BY period_end""").df()
    from indicators.stats.trend import recent_trend

    assert trends.loc["E06000903", "trend"] == recent_trend(one["numerator"], one["denominator"], range(len(one)))


def test_too_few_periods_with_counts_say_how_many(tmp_path):
    path = make_spread_warehouse(tmp_path / "short.duckdb", n_areas=10, periods=4)
    con = queries.connect(path)
    try:
        row = con.execute("""SELECT trend, reason FROM published.recent_trends
                             WHERE indicator_id = 'completion_opiate' AND area_code = 'E06000901'""").fetchall()[0]
    finally:
        con.close()
    assert row == ("cannot be calculated", "needs 5 periods with counts; 4 have them")


# --------------------------------------------------------------------------- the layers

def test_the_query_layer_only_reads_and_pages_read_only_through_it():
    """Issue 15's checks: queries imports nothing from indicators.stats (not even through another module), and no
    page or ui module reads `staged.` or calls a library read around the query layer."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import REPO

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, indicators.products.queries; "
         "print(sorted(m for m in sys.modules if m.startswith('indicators.stats')))"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
    for folder in ("pages", "ui"):
        for path in sorted((REPO / folder).glob("*.py")):
            source = path.read_text(encoding="utf-8")
            assert "staged." not in source, path
            assert "wh.read(" not in source and "indicators.stats" not in source, path
    assert "indicators.stats" not in Path(queries.__file__).read_text(encoding="utf-8").split('"""', 2)[2]
