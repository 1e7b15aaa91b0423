"""Is the gap widening? indicators.stats.gaps.gap_change checked by hand and against an independent
implementation, the build's published.gap_over_time and published.gap_change on invented warehouses
(tests/support.py: one set of areas in every period, too few areas, too few periods), the one sentence that
reports it, and the lottery page's section (AppTest)."""

from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pytest
from conftest import REPO
from scipy import stats
from streamlit.testing.v1 import AppTest
from support import make_spread_warehouse
from test_pages import markups, no_exception, run, tables, texts

from indicators.present import lottery, text
from indicators.products import queries
from indicators.stats.gaps import gap_change, gap_measures
from indicators.stats.intervals import Z95

SE = 0.05   # every area's standard error on the log scale in the hand-worked cases


def limits(logs, se=SE):
    """Values and 95% limits whose log-scale standard error is `se`: (value, lower, upper)."""
    logs = np.asarray(logs, dtype=float)
    return np.exp(logs), np.exp(logs - Z95 * se), np.exp(logs + Z95 * se)


# --------------------------------------------------------------------------- the test, by hand

def test_three_areas_two_periods_by_hand():
    """Equal standard errors make the DerSimonian-Laird variance the sample variance of the logs minus se²:
    period 1 logs -0.1, 0, 0.1 (variance 0.01), period 2 -0.2, 0, 0.2 (0.04), so the variance beyond chance goes
    from 0.0075 to 0.0375, a slope of 0.03 a year. Each area's slope is k/(k-1) times the change in its squared
    deviation: 1.5 x (0.03, 0, 0.03) = (0.045, 0, 0.045); mean 0.03, sd 0.025981, se 0.015, t = 2 on 2 degrees of
    freedom, whose two-sided p is 1 - 2/sqrt(6) = 0.18350 (the t distribution with 2 df in closed form) and whose
    97.5% quantile is 4.302653."""
    result = gap_change(*limits([[-0.1, -0.2], [0.0, 0.0], [0.1, 0.2]]), years=[0, 1])
    assert result["slope_per_year"] == pytest.approx(0.03)
    assert result["t"] == pytest.approx(2.0)
    assert result["df"] == 2
    assert result["p_value"] == pytest.approx(1 - 2 / math.sqrt(6))
    assert result["slope_lower"] == pytest.approx(0.03 - 4.302653 * 0.015, abs=1e-6)
    assert result["slope_upper"] == pytest.approx(0.03 + 4.302653 * 0.015, abs=1e-6)
    assert result["change"] == "not changed significantly"


LOGS = [[-0.1, -0.2], [0.1, 0.2], [-0.1, -0.3], [0.1, 0.3], [-0.1, -0.2], [0.1, 0.2]]


def test_six_areas_spreading_out_have_widened_and_the_reverse_narrowed():
    """Means stay 0; each area's slope is 6/5 x (its squared log in period 2 - in period 1):
    1.2 x (0.03, 0.03, 0.08, 0.08, 0.03, 0.03). scipy's one-sample t test of those gives t and p."""
    slopes = [1.2 * (b ** 2 - a ** 2) for a, b in LOGS]
    expected = stats.ttest_1samp(slopes, 0.0)
    wider = gap_change(*limits(LOGS), years=[2001, 2002])
    assert wider["slope_per_year"] == pytest.approx(np.mean(slopes))
    assert wider["t"] == pytest.approx(expected.statistic) and wider["p_value"] == pytest.approx(expected.pvalue)
    assert wider["p_value"] < 0.05 and wider["change"] == "widened"
    narrower = gap_change(*limits([row[::-1] for row in LOGS]), years=[2001, 2002])
    assert narrower["slope_per_year"] == pytest.approx(-np.mean(slopes))
    assert narrower["p_value"] == pytest.approx(expected.pvalue) and narrower["change"] == "narrowed"
    # a year is the unit: the same change over two years is half the slope, equally significant
    slower = gap_change(*limits(LOGS), years=[2001, 2003])
    assert slower["slope_per_year"] == pytest.approx(np.mean(slopes) / 2)
    assert slower["p_value"] == pytest.approx(expected.pvalue)


def _dl_untruncated(value, lower, upper) -> float:
    """DerSimonian-Laird between-area variance on the log scale, written out area by area, not truncated at 0."""
    y = [math.log(v) for v in value]
    w = [1 / ((math.log(u) - math.log(lo)) / (2 * 1.959963984540054)) ** 2 for lo, u in zip(lower, upper)]
    mean = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    q = sum(wi * (yi - mean) ** 2 for wi, yi in zip(w, y))
    return (q - (len(y) - 1)) / (sum(w) - sum(wi ** 2 for wi in w) / sum(w))


def test_the_slope_is_the_trend_of_each_periods_variance_beyond_chance():
    """With unequal standard errors and uneven years: the slope equals the least-squares slope of the per-period
    DerSimonian-Laird variance (computed separately above, and equal to gap_measures' where it is positive)."""
    rng = np.random.default_rng(11)
    k, years = 40, np.array([2010.0, 2011.0, 2013.0, 2014.0, 2017.0])
    spread = np.linspace(0.2, 0.45, years.size)
    logs = rng.normal(0, 1, (k, 1)) * spread + rng.normal(0, 0.05, (k, years.size)) + 2.0
    se = rng.uniform(0.03, 0.2, (k, years.size))
    value, lower, upper = np.exp(logs), np.exp(logs - Z95 * se), np.exp(logs + Z95 * se)
    per_period = [_dl_untruncated(value[:, t], lower[:, t], upper[:, t]) for t in range(years.size)]
    result = gap_change(value, lower, upper, years)
    assert result["slope_per_year"] == pytest.approx(np.polyfit(years, per_period, 1)[0])
    assert result["change"] == "widened" and result["df"] == k - 1
    for t in range(years.size):
        measures = gap_measures(_frame(value[:, t], lower[:, t], upper[:, t]))
        assert measures["tau2_log"] == pytest.approx(per_period[t])


def _frame(value, lower, upper):
    import pandas as pd

    return pd.DataFrame({"area_code": [f"E06{i:06d}" for i in range(len(value))], "value": value,
                         "lower_ci_95": lower, "upper_ci_95": upper})


def test_too_little_to_test_is_no_answer():
    one_period = gap_change(*limits([[0.1], [0.2], [0.3]]), years=[2001])
    assert one_period["change"] is None and math.isnan(one_period["p_value"])
    same_change = gap_change(*limits([[-0.1, -0.2], [0.1, 0.2]]), years=[0, 1])   # both areas' slopes equal
    assert same_change["change"] is None
    value, lower, upper = limits([[0.1, 0.2], [0.3, 0.1]])
    upper[0, 1] = np.nan
    with pytest.raises(ValueError, match="positive value and 95% limits"):
        gap_change(value, lower, upper, years=[0, 1])


# --------------------------------------------------------------------------- published by the build

def _open(path):
    return duckdb.connect(str(path), read_only=True)


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    path = make_spread_warehouse(tmp_path_factory.mktemp("gap") / "spread.duckdb", n_areas=24)
    con = _open(path)
    yield con
    con.close()


@pytest.mark.parametrize("indicator_id", ["completion_opiate", "deaths_drug_misuse"])
def test_every_area_in_every_period_gives_the_periods_own_gap_measures(spread, indicator_id):
    """All 24 areas have a value in all 6 periods: the one set of areas is all of them, so every period's row is
    that period's own published gap measures, and the change is the test run on the published values."""
    over = queries.gap_over_time(spread, indicator_id)
    labels = queries.periods(spread, indicator_id)
    assert over["available"] and over["tested"] and over["n_areas"] == 24 and over["n_periods"] == 6
    assert over["first_period"] == labels[0] and over["last_period"] == labels[-1]
    table = over["periods"]
    assert list(table["period_label"]) == labels and set(table["n_areas"]) == {24}
    for row in table.to_dict("records"):
        own = queries.gap_summary(spread, indicator_id, row["period_label"])
        for field in ("best_fifth_value", "worst_fifth_value", "p90_p10_ratio", "tau2_log", "tau_p90_p10_ratio",
                      "n_worse_than_england", "n_compared"):
            assert row[field] == pytest.approx(own[field]), field
    values = spread.execute("""SELECT area_code, period_label, value, lower_ci_95, upper_ci_95
                               FROM published.indicator_values WHERE indicator_id = ? AND area_code LIKE 'E06%'
                               ORDER BY area_code, period_end""", [indicator_id]).df()
    grid = {c: values.pivot(index="area_code", columns="period_label", values=c)[labels]
            for c in ("value", "lower_ci_95", "upper_ci_95")}
    ends = spread.execute("SELECT DISTINCT period_label, period_end FROM published.indicator_values "
                          "WHERE indicator_id = ? ORDER BY period_end", [indicator_id]).fetchall()
    years = [(e.toordinal() - ends[0][1].toordinal()) / 365.25 for _, e in ends]
    expected = gap_change(grid["value"], grid["lower_ci_95"], grid["upper_ci_95"], years)
    assert over["p_value"] == pytest.approx(expected["p_value"])
    assert over["slope_per_year"] == pytest.approx(expected["slope_per_year"])
    assert over["change"] == expected["change"]


def test_areas_missing_in_a_period_leave_the_comparison(tmp_path):
    """Two of 12 areas are withheld in the latest period and a further completions period has no figure at all:
    the empty period is not compared, and the two areas are left out of every period, not just the last."""
    path = make_spread_warehouse(tmp_path / "withheld.duckdb", n_areas=12, suppressed=("E06000903", "E06000910"),
                                 empty_last_period=True)
    con = _open(path)
    try:
        over = queries.gap_over_time(con, "completion_opiate")
        first_own = queries.gap_summary(con, "completion_opiate", over["first_period"])
    finally:
        con.close()
    assert over["n_periods"] == 6 and over["n_areas"] == 10 and over["n_areas_latest"] == 10
    assert set(over["periods"]["n_areas"]) == {10}
    assert first_own["n_areas"] == 12   # that period's own measures still use all 12


def test_nine_areas_say_why_and_claim_nothing(tmp_path):
    con = _open(make_spread_warehouse(tmp_path / "nine.duckdb", n_areas=9))
    try:
        over = queries.gap_over_time(con, "completion_opiate")
    finally:
        con.close()
    assert not over["available"] and over["periods"].empty
    sentence = lottery.gap_change_sentence(over)
    assert sentence == ("Whether the gap between areas has changed cannot be said: no period has 10 areas with a "
                        "value and a 95% interval.")
    assert not re.search(r"widened|narrowed|not changed", sentence)


def test_two_periods_are_shown_but_not_tested(tmp_path):
    con = _open(make_spread_warehouse(tmp_path / "two.duckdb", n_areas=12, periods=2))
    try:
        over = queries.gap_over_time(con, "deaths_drug_misuse")
    finally:
        con.close()
    assert over["available"] and not over["tested"] and len(over["periods"]) == 2
    sentence = lottery.gap_change_sentence(over)
    assert sentence == ("Whether the gap between areas has changed since 2013–15 is not tested: only 2 periods have "
                        "enough areas; saying whether the gap has changed needs at least 3.")
    assert not re.search(r"widened|narrowed|not changed", sentence)


# --------------------------------------------------------------------------- the sentence

def _over(change, p, n=115, latest=143):
    import pandas as pd

    periods = pd.DataFrame({"period_label": ["2001-03", "2019-21"], "tau_p90_p10_ratio": [2.9, 3.42]})
    return dict(indicator_id="deaths_drug_misuse", available=True, tested=True, first_period="2001-03",
                last_period="2019-21", n_periods=19, n_areas=n, n_areas_latest=latest, change=change, p_value=p,
                periods=periods)


@pytest.mark.parametrize("change, p, words", [
    ("widened", 0.0004, "has widened since 2001–03"), ("narrowed", 0.012, "has narrowed since 2001–03"),
    ("not changed significantly", 0.83, "has not changed significantly since 2001–03")])
def test_the_sentence_says_the_change_the_areas_and_the_test(change, p, words):
    sentence = lottery.gap_change_sentence(_over(change, p))
    assert sentence == (f"The gap between areas {words} (the 115 areas with a value in all 19 periods compared, "
                        "of 143 with one in 2019–21; with chance removed, the 90th/10th percentile ratio was 2.90 in "
                        "2001–03 and 3.42 in 2019–21; trend test on the variance between areas beyond chance at "
                        f"95%: {'p < 0.001' if p < 0.001 else f'p = {p:.3f}'}).")


# --------------------------------------------------------------------------- the lottery page

def test_lottery_page_shows_the_gap_over_time(monkeypatch, tmp_path):
    """The section's sentence is the one function's, over the chart and its table twin, on 24 invented areas."""
    db = make_spread_warehouse(tmp_path / "spread.duckdb", n_areas=24)
    con = _open(db)
    try:
        over = queries.gap_over_time(con, "deaths_drug_misuse")
    finally:
        con.close()
    at = run(monkeypatch, db, "pages/lottery.py", {"indicator": "deaths_drug_misuse"})
    no_exception(at)
    assert "Is the gap widening?" in [h.value for h in at.subheader]
    body = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", texts(at))   # the words, without the glossary's links
    assert lottery.gap_change_sentence(over) in body
    charts = [m for m in markups(at) if "<svg" in m and "Gap between areas" in m]
    assert len(charts) == 1 and charts[0].count("<polyline") == 2
    table = [t for t in tables(at) if "90th/10th, chance removed" in t.columns][0]
    assert len(table) == 6
    assert list(table["Period"]) == [text.period_display(p) for p in over["periods"]["period_label"]]
    rows = over["periods"]
    assert list(table["Worse / better than England (95%)"]) == [
        f"{w} / {b} of {c}" for w, b, c in zip(rows["n_worse_than_england"], rows["n_better_than_england"],
                                               rows["n_compared"])]


def test_an_indicator_without_a_direction_counts_higher_and_lower():
    """OCU prevalence has no better or worse: its table names the highest and lowest fifths and counts the areas
    significantly higher and lower than England."""
    import pandas as pd

    from support import read_html_tables

    from indicators.present import svgcharts

    periods = pd.DataFrame([dict(period_label="2016/17", n_areas=12, best_fifth_value=12.0, worst_fifth_value=4.0,
                                 fifth_ratio=3.0, p90_p10_ratio=2.5, tau2_log=0.1, tau_p90_p10_ratio=2.2, n_compared=12,
                                 n_worse_than_england=0, n_better_than_england=0, n_higher_than_england=5,
                                 n_lower_than_england=4)])
    table = read_html_tables(svgcharts.gap_time_table(periods, {"polarity": "no_polarity", "unit": "per 1,000"}))[0]
    assert list(table.columns[:3]) == ["Period", "Highest fifth", "Lowest fifth"]
    assert table["Higher / lower than England (95%)"].tolist() == ["5 / 4 of 12"]


def test_lottery_page_with_nine_areas_says_why(monkeypatch, tmp_path):
    at = run(monkeypatch, make_spread_warehouse(tmp_path / "nine.duckdb", n_areas=9), "pages/lottery.py",
             {"indicator": "deaths_drug_misuse"})
    no_exception(at)
    body = texts(at)
    assert "Whether the gap between areas has changed cannot be said: no period has 10 areas" in body
    assert "Gap between areas" not in body and not re.search(r"has (widened|narrowed|not changed)", body)
