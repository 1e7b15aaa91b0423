"""Funnel limits, over-dispersion, gap measures, rank intervals and the recent-trend test, against hand computations and PHStatsMethods."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

import PHStatsMethods as ph
from PHStatsMethods.utils_funnel import poisson_funnel, sigma_adjustment
from indicators.stats.funnel import adjusted_funnel_limits, funnel_limits, overdispersion
from indicators.stats.gaps import (
    fewer_deaths, gap_measures, gap_table, illustrative_fewer_deaths, quantile_groups, shrunken_rates,
)
from indicators.stats.intervals import Z95, Z998, exact_poisson, wilson
from indicators.stats.ranks import rank_intervals
from indicators.stats.trend import recent_trend, trend_test


# --- funnel limits -------------------------------------------------------------

def test_proportion_funnel_at_one_half_by_hand():
    # At p0 = 1/2 the Wilson-inversion quadratic factorises: the limits are exactly
    # 1/2 +/- z / (2 sqrt(n)). For n = 100: 50 -/+ 100 * 1.959964 / 20 = 40.2002 and 59.7998.
    f = funnel_limits(50, [100, 400], "proportion", 100)
    assert f.loc[0, "lower_95"] == pytest.approx(50 - 100 * Z95 / 20, rel=1e-12)
    assert f.loc[0, "upper_95"] == pytest.approx(50 + 100 * Z95 / 20, rel=1e-12)
    assert f.loc[1, "lower_998"] == pytest.approx(50 - 100 * Z998 / 40, rel=1e-12)
    assert round(f.loc[0, "lower_95"], 4) == 40.2002
    assert np.allclose(f["lower_95"] + f["upper_95"], 100, rtol=1e-12)        # symmetric about 1/2
    assert np.allclose(f["lower_998"] + f["upper_998"], 100, rtol=1e-12)


def test_proportion_funnel_matches_phstatsmethods_and_round_trips():
    denominators = np.array([5, 10, 37, 100, 1000, 25000], dtype=float)
    for b in (0.02, 0.3, 0.97):
        f = funnel_limits(b * 100, denominators, "proportion", 100)
        for i, n in enumerate(denominators):
            for p, label in ((0.975, "95"), (0.999, "998")):
                assert f.loc[i, f"lower_{label}"] == pytest.approx(
                    max(0, sigma_adjustment(p, n, b, "low", 100)), rel=1e-9, abs=1e-12)
                assert f.loc[i, f"upper_{label}"] == pytest.approx(
                    min(100, sigma_adjustment(p, n, b, "high", 100)), rel=1e-9, abs=1e-12)
        # An area exactly on the lower 95% limit has the benchmark as its Wilson upper limit.
        inside = (f["lower_95"] > 0).to_numpy()
        r = f["lower_95"].to_numpy()[inside] / 100 * denominators[inside]
        assert np.allclose(wilson(r, denominators[inside])[1], b * 100, rtol=1e-9)


def test_proportion_funnel_large_n_is_the_normal_approximation():
    n = 1e7
    f = funnel_limits(30, [n], "proportion", 100)
    half = 100 * Z95 * math.sqrt(0.3 * 0.7 / n)
    assert f.loc[0, "lower_95"] == pytest.approx(30 - half, rel=1e-5)
    assert f.loc[0, "upper_95"] == pytest.approx(30 + half, rel=1e-5)


def test_rate_funnel_matches_phstatsmethods_poisson_funnel():
    rate_per_100k = 50.0
    av = rate_per_100k / 100000
    for obs in (1, 3, 9, 10, 50, 500):
        for p, level, label in ((0.025, 0.95, "95"), (0.001, 0.998, "998")):
            pop_lower = poisson_funnel(obs, p, "high") / av      # population where obs is the lower limit
            f = funnel_limits(rate_per_100k, [pop_lower], "rate", 100000, levels=(level,))
            assert f.loc[0, f"lower_{label}"] == pytest.approx(obs / pop_lower * 100000, rel=1e-5)
            pop_upper = poisson_funnel(obs, p, "low") / av
            f = funnel_limits(rate_per_100k, [pop_upper], "rate", 100000, levels=(level,))
            assert f.loc[0, f"upper_{label}"] == pytest.approx(obs / pop_upper * 100000, rel=1e-5)


def test_rate_funnel_round_trip_and_zero_floor():
    pops = np.array([1000.0, 50000, 2e6])
    f = funnel_limits(50, pops, "rate", 100000)
    expected = 50 / 100000 * pops
    lower_counts = f["lower_95"].to_numpy() / 100000 * pops
    upper_counts = f["upper_95"].to_numpy() / 100000 * pops
    assert lower_counts[0] == 0.0                     # E = 0.5 < 3.689: even 0 events is inside
    assert np.allclose(exact_poisson(lower_counts[1:], 0.95)[1], expected[1:], rtol=1e-9)
    assert np.allclose(exact_poisson(upper_counts, 0.95)[0], expected, rtol=1e-9)
    half = Z95 * math.sqrt(expected[2]) / pops[2] * 100000
    assert f.loc[2, "lower_95"] == pytest.approx(50 - half, rel=2e-3)
    assert f.loc[2, "upper_95"] == pytest.approx(50 + half, rel=2e-3)


def test_funnel_bad_denominators_are_nan():
    f = funnel_limits(30, [0, -5, np.nan, 10], "proportion", 100)
    assert f.loc[:2, "lower_95"].isna().all() and np.isfinite(f.loc[3, "lower_95"])
    with pytest.raises(ValueError):
        funnel_limits(30, [10], "ratio")


# --- over-dispersion -------------------------------------------------------------

def test_overdispersion_by_hand():
    # z-scores -2..2 at theta = 0.3: 10% winsorising pulls the ends to the 10th/90th
    # percentiles -1.6 and 1.6 (linear interpolation between -2 and -1), so
    # phi = (1.6^2 + 1 + 0 + 1 + 1.6^2) / 5 = 1.424, chi2 = 5 phi = 7.12 on 4 d.f.
    # With s_i = sqrt(0.21 / n_i) * 100, w_i = n_i / 2100: sum w = 31/21, sum w^2 / sum w = 11/21,
    # tau2 = (7.12 - 4) / (20/21) = 3.276.
    theta, n = 0.3, np.array([100, 200, 400, 800, 1600], dtype=float)
    z = np.array([-2, -1, 0, 1, 2], dtype=float)
    values = (theta + z * np.sqrt(theta * (1 - theta) / n)) * 100
    result = overdispersion(values, n, 30, "proportion", 100)
    assert result["phi"] == pytest.approx(1.424, rel=1e-12)
    assert result["chi2"] == pytest.approx(7.12, rel=1e-12)
    assert result["p_value"] == pytest.approx(chi2.sf(7.12, 4), rel=1e-12)
    assert result["tau2"] == pytest.approx(3.276, rel=1e-12)
    assert result["n"] == 5 and not result["overdispersed"]


def test_overdispersion_detects_extra_variation():
    rng = np.random.default_rng(4)
    n = rng.integers(200, 3000, 150)
    plain = rng.binomial(n, 0.4) / n * 100
    result = overdispersion(plain, n, 40, "proportion")
    assert not result["overdispersed"] and result["tau2"] == 0.0
    extra = rng.binomial(n, rng.beta(40, 60, size=n.size)) / n * 100
    result = overdispersion(extra, n, 40, "proportion")
    assert result["overdispersed"] and result["phi"] > 2 and result["tau2"] > 0
    rates = rng.poisson(n * 0.01) / n * 100000
    assert not overdispersion(rates, n, 1000, "rate", 100000)["overdispersed"]


def test_adjusted_limits_scale_by_root_phi():
    base = funnel_limits(40, [100, 1000], "proportion", 100)
    wider = adjusted_funnel_limits(40, [100, 1000], "proportion", 100, phi=4.0)
    assert np.allclose(wider["upper_95"] - 40, 2 * (base["upper_95"] - 40), rtol=1e-12)
    assert np.allclose(wider["lower_998"] - 40, 2 * (base["lower_998"] - 40), rtol=1e-12)
    same = adjusted_funnel_limits(40, [100, 1000], "proportion", 100, phi=0.5)
    assert np.allclose(same["upper_95"], base["upper_95"], rtol=1e-12)
    clipped = adjusted_funnel_limits(40, [5], "proportion", 100, phi=100.0)
    assert clipped.loc[0, "lower_95"] == 0.0 and clipped.loc[0, "upper_95"] == 100.0


# --- ranks -----------------------------------------------------------------------

def test_ranks_reproducible_and_ordered_by_polarity():
    rng = np.random.default_rng(9)
    values = rng.uniform(5, 20, 40)
    lower, upper = values * 0.8, values * 1.25
    first = rank_intervals(values, lower, upper, "low_is_good")
    again = rank_intervals(values, lower, upper, "low_is_good")
    pd.testing.assert_frame_equal(first, again)
    other = rank_intervals(values, lower, upper, "low_is_good", seed=1)
    assert not first.equals(other)
    assert first.loc[np.argmin(values), "rank"] == 1
    assert rank_intervals(values, lower, upper, "high_is_good").loc[np.argmax(values), "rank"] == 1
    assert rank_intervals(values, lower, upper, "no_polarity").loc[np.argmax(values), "rank"] == 1
    assert (first["rank_lower"] <= first["rank"]).all() and (first["rank"] <= first["rank_upper"]).all()


def test_rank_intervals_reflect_overlap():
    # Three well separated narrow intervals: no doubt about the order.
    sharp = rank_intervals([10, 20, 30], [9.9, 19.9, 29.9], [10.1, 20.1, 30.1], "high_is_good")
    assert sharp["rank"].tolist() == [3, 2, 1]
    assert sharp["rank_lower"].tolist() == [3, 2, 1] and sharp["rank_upper"].tolist() == [3, 2, 1]
    # Identical intervals: every position is plausible for every area.
    same = rank_intervals([10, 10, 10], [5, 5, 5], [20, 20, 20], "high_is_good", kind="rate")
    assert same["rank_lower"].tolist() == [1, 1, 1] and same["rank_upper"].tolist() == [3, 3, 3]


def test_ranks_handle_missing_and_edge_intervals():
    out = rank_intervals([40, np.nan, 0, 100, 60], [30, np.nan, 0, 95, np.nan], [50, np.nan, 3, 100, np.nan],
                         "high_is_good", kind="proportion", multiplier=100)
    assert out.loc[1].isna().all()
    assert out.loc[3, "rank"] == 1 and out.loc[2, "rank"] == 4
    assert out[["rank_lower", "rank_upper"]].drop(index=1).notna().all().all()


# --- recent trend ------------------------------------------------------------------

def test_trend_statistic_by_hand():
    # Cochran-Armitage, O = 10..50 of 100 each, scores 0..4: p = 0.3, T = sum x (O - 30) = 100,
    # V = 0.21 (3000 - 1000^2 / 500) = 210, chi2 = 10000 / 210 = 47.619.
    result = trend_test([10, 20, 30, 40, 50], [100] * 5, "proportion")
    assert result["chi2"] == pytest.approx(10000 / 210, rel=1e-12) and result["slope_sign"] == 1
    # Poisson score test, same counts over 1000 person-years each: E = 30, V = 900 - 300^2 / 150 = 300.
    result = trend_test([10, 20, 30, 40, 50], [1000] * 5, "rate")
    assert result["chi2"] == pytest.approx(10000 / 300, rel=1e-12)


def test_recent_trend_on_constructed_series():
    periods = ["2015/16", "2016/17", "2017/18", "2018/19", "2019/20", "2020/21", "2021/22"]
    rising = [300, 310, 320, 360, 400, 440, 480]
    assert recent_trend(rising, [1000] * 7, periods) == "increasing"
    assert recent_trend(rising[::-1], [1000] * 7, periods) == "decreasing"
    # Shuffled input is sorted by period first.
    order = [3, 0, 6, 1, 5, 2, 4]
    assert recent_trend([rising[i] for i in order], [1000] * 7, [periods[i] for i in order]) == "increasing"
    # Only the last 5 points count: a fall before them is ignored.
    assert recent_trend([900, 800, 400, 401, 399, 400, 402], [1000] * 7, periods) == "no significant change"
    # Significant at 95% but not at 99.8%: no significant change.
    modest = [100, 107, 114, 121, 128]
    result = trend_test(modest, [400] * 5)
    assert 0.002 < result["p_value"] < 0.05
    assert recent_trend(modest, [400] * 5, periods[:5]) == "no significant change"
    assert recent_trend(modest, [400] * 5, periods[:5], confidence=0.95) == "increasing"
    assert recent_trend([10, 20, 30, 40, 50], [1000] * 5, [1, 2, 3, 4, 5], kind="rate") == "increasing"


def test_recent_trend_cannot_be_calculated():
    assert recent_trend([1, 2, 3, 4], [10] * 4, [1, 2, 3, 4]) == "cannot be calculated"
    assert recent_trend([1, 2, np.nan, 4, 5], [10] * 5, [1, 2, 3, 4, 5]) == "cannot be calculated"
    assert recent_trend([1, 2, 3, 4, 11], [10] * 5, [1, 2, 3, 4, 5]) == "cannot be calculated"
    assert recent_trend([1, 2, 3, 4, 5], [10, 10, 0, 10, 10], [1, 2, 3, 4, 5]) == "cannot be calculated"
    assert recent_trend([0] * 5, [10] * 5, [1, 2, 3, 4, 5]) == "no significant change"


# --- gaps --------------------------------------------------------------------------

@pytest.mark.parametrize("count", [5, 7, 12, 150])
def test_quantile_groups_match_phstatsmethods(count):
    rng = np.random.default_rng(count)
    values = rng.integers(0, count // 2 + 2, count).astype(float)   # with ties
    oracle = ph.ph_quantile(pd.DataFrame({"v": values}), "v", nquantiles=5, invert=False)
    assert quantile_groups(values, 5).tolist() == oracle["quantile"].tolist()


def area_frame(values, numerators, denominators, labels=None):
    frame = pd.DataFrame({"area_code": [f"E06{i:06d}" for i in range(len(values))], "value": values,
                          "numerator": numerators, "denominator": denominators, "multiplier": 100.0,
                          "ci_method": "wilson", "polarity": "high_is_good"})
    if labels is not None:
        frame["compared_to_england"] = labels
    return frame


def test_gap_measures_by_hand():
    values = [10.0, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    num = [10.0, 20, 30, 40, 50, 60, 70, 80, 900, 100]
    den = [100.0] * 8 + [1000, 100]
    labels = ["worse"] * 3 + ["similar"] * 4 + ["better", "better", "not compared"]
    frame = area_frame(values, num, den, labels)
    frame.loc[len(frame)] = {"area_code": "E92000001", "value": 55.0, "numerator": 1, "denominator": 2,
                             "multiplier": 100.0, "ci_method": "wilson", "polarity": "high_is_good",
                             "compared_to_england": None}
    g = gap_measures(frame, poolable=True)
    assert g["n_areas"] == 10                                  # England row ignored
    # Best fifth: the areas at 90 (900/1000) and 100 (100/100): pooled 1000/1100 = 90.909%,
    # worst fifth: 10 and 20 of 100 each: pooled 30/200 = 15%.
    assert g["fifth_method"] == "pooled"
    assert g["best_fifth_value"] == pytest.approx(100 * 1000 / 1100, rel=1e-12)
    assert g["worst_fifth_value"] == pytest.approx(15.0, rel=1e-12)
    assert g["fifth_ratio"] == pytest.approx(1000 / 1100 / 0.15, rel=1e-12)
    assert g["fifth_difference"] == pytest.approx(100 * 1000 / 1100 - 15, rel=1e-12)
    # Unweighted means instead: (90 + 100) / 2 = 95 and 15.
    unweighted = gap_measures(frame, pooled=False)
    assert unweighted["best_fifth_value"] == 95.0 and unweighted["fifth_method"] == "mean"
    # P90 / P10 with linear interpolation: 91 / 19.
    assert g["p90_p10_ratio"] == pytest.approx(91 / 19, rel=1e-12)
    assert g["n_compared"] == 9 and g["n_worse_than_england"] == 3 and g["n_better_than_england"] == 2
    assert g["share_worse_than_england"] == pytest.approx(3 / 9)
    low = gap_measures(frame.assign(polarity="low_is_good"), poolable=True)
    assert gap_measures(frame)["fifth_method"] == "mean"       # a method that does not pool: the mean
    assert low["best_fifth_value"] == pytest.approx(15.0) and low["fifth_ratio"] == pytest.approx(g["fifth_ratio"])


def test_gap_dersimonian_laird_by_hand():
    # Two areas, log values 0 and 1, each with se 0.5 on the log scale (interval exp(y -/+ 1.96 * 0.5)):
    # w = 4 each, mean 0.5, Q = 2 * 4 * 0.25 = 2, tau2 = (2 - 1) / (8 - 32 / 8) = 0.25, I^2 = 0.5.
    y = np.array([0.0, 1.0])
    frame = pd.DataFrame({"value": np.exp(y), "lower_ci_95": np.exp(y - Z95 * 0.5),
                          "upper_ci_95": np.exp(y + Z95 * 0.5), "polarity": "low_is_good"})
    g = gap_measures(frame)
    assert g["q"] == pytest.approx(2.0, rel=1e-12)
    assert g["tau2_log"] == pytest.approx(0.25, rel=1e-12)
    assert g["i2"] == pytest.approx(0.5, rel=1e-12)
    assert g["tau_p90_p10_ratio"] == pytest.approx(math.exp(2 * 1.2815515655446004 * 0.5), rel=1e-12)
    assert g["fifth_method"] == "too few areas"
    same = pd.DataFrame({"value": [5.0] * 4, "lower_ci_95": [4.0] * 4, "upper_ci_95": [6.0] * 4})
    assert gap_measures(same)["tau2_log"] == 0.0


def test_gap_table_groups_by_indicator_and_period():
    frame = pd.concat([area_frame(np.arange(1.0, 11), np.arange(1.0, 11), [100.0] * 10).assign(
        indicator_id=i, period_label=p) for i in ("a", "b") for p in ("2020", "2021")])
    table = gap_table(frame)
    assert len(table) == 4 and table["n_areas"].tolist() == [10] * 4


def test_shrunken_rates_and_fewer_deaths_by_hand():
    """Four areas with rates e^0..e^3 and equal standard errors s on the log scale, s^2 = 2/3. With equal weights
    DerSimonian-Laird's tau^2 is the sample variance of the log rates less s^2: 5/3 - 2/3 = 1; the mean is 1.5 and
    each log rate keeps B = 1 / (1 + 2/3) = 0.6 of its distance from it: 0.6, 1.2, 1.8, 2.4. The best quarter of
    four areas is the lowest one (PHE quartiles), so the benchmark is e^0.6, not the unshrunk e^0 = 1."""
    s = math.sqrt(2 / 3)
    logs = np.array([0.0, 1.0, 2.0, 3.0])
    rates, lower, upper = np.exp(logs), np.exp(logs - Z95 * s), np.exp(logs + Z95 * s)
    shrunk = shrunken_rates(rates, lower, upper)
    assert shrunk["tau2_log"] == pytest.approx(1.0)
    assert shrunk["mean_rate"] == pytest.approx(math.exp(1.5))
    assert shrunk["rates"] == pytest.approx(np.exp([0.6, 1.2, 1.8, 2.4]))
    deaths = [10, 20, 30, 40]
    result = illustrative_fewer_deaths(rates, lower, upper, deaths, england_rate=math.exp(1.5))
    assert result["best_quarter_rate"] == pytest.approx(math.exp(0.6))
    assert result["best_quarter_rate_unshrunk"] == pytest.approx(1.0)
    # Areas above e^0.6: the last three; each would have deaths x (1 - e^0.6 / rate) fewer.
    assert result["fewer_than_best"] == pytest.approx(
        20 * (1 - math.exp(-0.4)) + 30 * (1 - math.exp(-1.4)) + 40 * (1 - math.exp(-2.4)))
    assert result["areas_above_best"] == 3
    # England's rate e^1.5: the two areas above it.
    assert result["fewer_than_england"] == pytest.approx(30 * (1 - math.exp(-0.5)) + 40 * (1 - math.exp(-1.5)))
    assert result["areas_above_england"] == 2
    assert result["n_areas"] == 4 and result["deaths_in_areas"] == 100
    # No spread beyond chance (tau^2 = 0): every rate moves all the way to the mean.
    flat = shrunken_rates([5.0, 5.0, 5.0], [4.0, 4.0, 4.0], [6.0, 6.0, 6.0])
    assert flat["tau2_log"] == 0.0 and flat["rates"] == pytest.approx([5.0, 5.0, 5.0])
    # A rate without a count or a positive value is left out; too few areas for a quarter: no figure.
    assert fewer_deaths([2.0, 4.0, np.nan, 0.0], [10, 20, 5, 5], 2.0) == {"fewer": 10.0, "areas_above": 1}
    assert np.isnan(illustrative_fewer_deaths([1.0, 2.0], [0.5, 1.0], [2.0, 4.0], [3, 4])["fewer_than_best"])
    assert np.isnan(illustrative_fewer_deaths(rates, lower, upper, deaths)["fewer_than_england"])