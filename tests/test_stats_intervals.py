"""Interval formulas (indicators.stats.intervals) against hand-worked references and PHStatsMethods as an oracle."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import PHStatsMethods as ph
from indicators.stats.intervals import (
    ESP2013, Z95, Z998, byars_count, dobson, dobson_grouped, exact_poisson, rate, wilson, z_for,
)

RTOL = 1e-9


def close(a, b, scale=1.0):
    return np.allclose(a, b, rtol=RTOL, atol=1e-12 * scale, equal_nan=True)


def test_z_constants_are_the_normal_quantiles():
    assert Z95 == norm.ppf(0.975)
    assert Z998 == norm.ppf(0.999)
    assert z_for(0.95) == Z95 and z_for(0.998) == Z998
    assert z_for(0.9) == pytest.approx(1.6448536269514722, abs=1e-15)


# --- hand-worked references --------------------------------------------------

def test_wilson_81_of_263_matches_newcombe_1998():
    # Newcombe RG. Stat Med 1998;17:857-72, Table II example 81/263, method 3 (score
    # interval without continuity correction): 0.2553 to 0.3662. By the formula
    # (2r + z^2 -/+ z sqrt(z^2 + 4 r (1 - r/n))) / (2 (n + z^2)) with z = 1.96:
    # (162 + 3.8415 -/+ 1.96 * sqrt(3.8415 + 324 * 182/263)) / (2 * 266.8415).
    lower, upper = wilson(81, 263, 0.95, multiplier=1)
    assert round(lower, 4) == 0.2553
    assert round(upper, 4) == 0.3662
    lower100, upper100 = wilson(81, 263)
    assert lower100 == pytest.approx(lower * 100, rel=1e-12)
    assert upper100 == pytest.approx(upper * 100, rel=1e-12)


def test_byar_count_25_by_hand():
    # Breslow & Day 1987, Byar's approximation, O = 25, z = 1.959964:
    # lower = 25 (1 - 1/225 - 1.959964/15)^3 = 25 * 0.8648913^3 = 16.1743
    # upper = 26 (1 - 1/234 + 1.959964/(3 sqrt 26))^3 = 26 * 1.1238533^3 = 36.9065
    lower, upper = byars_count(25)
    assert round(lower, 4) == 16.1743
    assert round(upper, 4) == 36.9065
    # A crude rate: 25 events in 50,000 person-years per 100,000.
    rate_lower, rate_upper = rate(25, 50000)
    assert rate_lower == pytest.approx(lower * 2, rel=1e-12)
    assert rate_upper == pytest.approx(upper * 2, rel=1e-12)


def test_exact_poisson_for_zero_events_by_hand():
    # With 0 events the exact upper limit solves exp(-mu) = alpha/2: mu = -ln(0.025) = 3.6889
    # (chi-squared with 2 d.f. is exponential); the lower limit is 0 (Ulm 1990).
    lower, upper = byars_count(0)
    assert lower == 0.0
    assert upper == pytest.approx(-math.log(0.025), rel=1e-12)
    assert byars_count(0, 0.998)[1] == pytest.approx(-math.log(0.001), rel=1e-12)


# --- PHStatsMethods as oracle ------------------------------------------------

def wilson_cases():
    cases = [(r, n) for n in range(1, 11) for r in range(0, n + 1)]
    cases += [(0, 2500), (2500, 2500), (1, 2500), (1234, 2500), (99999, 100000), (1, 1000000)]
    cases += [(1352.333333, 2585.333333), (0.5, 1.0), (2.25, 7.75), (159112.3333, 305118)]
    return cases


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_wilson_matches_phstatsmethods(confidence):
    cases = wilson_cases()
    r = np.array([c[0] for c in cases], dtype=float)
    n = np.array([c[1] for c in cases], dtype=float)
    lower, upper = wilson(r, n, confidence, multiplier=100)
    expected_lower = np.array([ph.wilson_lower(a, b, confidence) for a, b in cases]) * 100
    expected_upper = np.array([ph.wilson_upper(a, b, confidence) for a, b in cases]) * 100
    assert close(lower, expected_lower, 100)
    assert close(upper, expected_upper, 100)


def test_wilson_matches_ph_proportion_both_levels():
    cases = wilson_cases()
    frame = pd.DataFrame({"num": [float(c[0]) for c in cases], "den": [float(c[1]) for c in cases]})
    oracle = ph.ph_proportion(frame, "num", "den", confidence=[0.95, 0.998], multiplier=100)
    for confidence, suffix in ((0.95, "95"), (0.998, "99_8")):
        lower, upper = wilson(frame["num"], frame["den"], confidence)
        assert close(lower, oracle[f"lower_{suffix}_ci"], 100)
        assert close(upper, oracle[f"upper_{suffix}_ci"], 100)


def test_wilson_edges_zero_and_all():
    lower, upper = wilson([0, 7], [7, 7])
    assert lower[0] == 0.0 and upper[1] == 100.0
    assert 0 < upper[0] < 100 and 0 < lower[1] < 100


COUNTS = [0.5, 1, 2, 3, 4.75, 5, 7, 8.2, 9, 9.5, 9.999, 10, 10.5, 11, 25, 99, 1000, 123456.7]


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_byars_count_matches_phstatsmethods(confidence):
    counts = np.array(COUNTS)
    lower, upper = byars_count(counts, confidence)
    expected_lower = [ph.byars_lower(c, confidence) for c in COUNTS]
    expected_upper = [ph.byars_upper(c, confidence) for c in COUNTS]
    assert close(lower, expected_lower, 1e5)
    assert close(upper, expected_upper, 1e5)
    # Below 10 the oracle's branch is the exact method; ours must be too.
    small = counts < 10
    assert close(lower[small], [ph.exact_lower(c, confidence) for c in counts[small]])
    assert close(upper[small], [ph.exact_upper(c, confidence) for c in counts[small]])


def test_byars_count_zero_differs_from_oracle_only_where_it_refuses():
    # PHStatsMethods: exact_lower(0) is NaN (chi-squared with 0 d.f.) and byars_upper(0) raises;
    # Fingertips shows 0 and the exact upper limit, as we do.
    assert np.isnan(ph.exact_lower(0, 0.95))
    with pytest.raises(ValueError):
        ph.byars_upper(0, 0.95)
    lower, upper = byars_count(0)
    assert lower == 0 and upper == pytest.approx(ph.exact_upper(0, 0.95), rel=1e-12)


def test_byars_wrapper_in_oracle_inverts_confidence():
    # Documented quirk: PHStatsMethods.byars(x, 0.95) returns the 5% interval.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        narrow = ph.byars(25, 0.95)
    assert narrow[0] > byars_count(25)[0]
    assert narrow[0] == pytest.approx(ph.byars_lower(25, 0.05), rel=1e-12)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_rate_matches_ph_rate(confidence):
    frame = pd.DataFrame({"num": [1.0, 3, 9, 9.5, 10, 11, 25, 250, 12345.5],
                          "den": [1.0, 10, 5000, 12000, 100000, 3, 56000, 1e6, 5.6e7]})
    oracle = ph.ph_rate(frame, "num", "den", confidence=confidence, multiplier=100000)
    suffix = "95" if confidence == 0.95 else "99_8"
    lower, upper = rate(frame["num"], frame["den"], 100000, confidence)
    assert close(lower, oracle[f"lower_{suffix}_ci"], 1e5)
    assert close(upper, oracle[f"upper_{suffix}_ci"], 1e5)


def test_invalid_rows_give_nan_never_an_exception():
    lower, upper = wilson([5, -1, 11, np.nan, 3, 3], [10, 10, 10, 10, 0, np.nan])
    assert np.isfinite(lower[0]) and np.isfinite(upper[0])
    assert np.isnan(lower[1:]).all() and np.isnan(upper[1:]).all()
    lower, upper = byars_count([-1, np.nan, np.inf])
    assert np.isnan(lower).all() and np.isnan(upper).all()
    lower, upper = rate([5, 5, 5], [0, -10, np.nan])
    assert np.isnan(lower).all() and np.isnan(upper).all()
    assert isinstance(wilson(1, 2)[0], float)
    assert isinstance(byars_count(3)[1], float)


def test_exact_poisson_is_the_chi_squared_form():
    from scipy.stats import chi2

    for x in (1, 2.5, 9):
        lower, upper = exact_poisson(x, 0.95)
        assert lower == pytest.approx(chi2.ppf(0.025, 2 * x) / 2, rel=1e-10)
        assert upper == pytest.approx(chi2.ppf(0.975, 2 * x + 2) / 2, rel=1e-10)


# --- Dobson -----------------------------------------------------------------

def esp_frame(counts, pops, area="A"):
    return pd.DataFrame({"area": area, "age": range(19), "num": counts, "pop": pops,
                         "esp": [float(w) for w in ESP2013]})


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_dobson_matches_ph_dsr(confidence):
    rng = np.random.default_rng(7)
    frames = []
    for i, scale in enumerate((1, 3, 20)):
        pops = rng.integers(2000, 40000, 19).astype(float)
        counts = rng.poisson(np.linspace(0.2, 6, 19) * scale).astype(float)
        frames.append(esp_frame(counts, pops, f"A{i}"))
    data = pd.concat(frames, ignore_index=True)
    oracle = ph.ph_dsr(data, "num", "pop", "esp", group_cols="area", confidence=confidence,
                       euro_standard_pops=False).set_index("area")
    suffix = "95" if confidence == 0.95 else "99_8"
    ours = dobson_grouped(data, "area", "num", "pop", "esp", confidence=confidence).set_index("area")
    for area in ours.index:
        assert ours.loc[area, "total_count"] >= 10
        assert close(ours.loc[area, "value"], oracle.loc[area, "Value"], 1e5)
        assert close(ours.loc[area, "lower"], oracle.loc[area, f"lower_{suffix}_ci"], 1e5)
        assert close(ours.loc[area, "upper"], oracle.loc[area, f"upper_{suffix}_ci"], 1e5)


def test_dobson_needs_ten_events():
    pops = [10000.0] * 19
    counts = [0.0] * 18 + [9.0]
    result = dobson(counts, pops, ESP2013)
    assert np.isnan(result.value) and np.isnan(result.lower) and "fewer than 10" in result.reason
    result = dobson([0.0] * 18 + [10.0], pops, ESP2013)
    assert np.isfinite(result.value) and result.lower < result.value < result.upper and result.reason == ""
    assert "population" in dobson([1.0] * 19, [0.0] + pops[1:], ESP2013).reason


# --- properties ---------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=10**6), share=st.floats(min_value=0, max_value=1))
def test_wilson_contains_value_and_998_contains_95(n, share):
    r = round(n * share)
    value = r / n * 100
    lower, upper = wilson(r, n)
    lower998, upper998 = wilson(r, n, 0.998)
    tol = 1e-9
    assert 0 <= lower998 <= lower + tol and lower <= value + tol
    assert value <= upper + tol and upper <= upper998 + tol and upper998 <= 100 + tol


@settings(max_examples=200, deadline=None)
@given(count=st.floats(min_value=0, max_value=1e7, allow_nan=False),
       denominator=st.floats(min_value=1, max_value=1e8, allow_nan=False))
def test_byars_contains_count_and_998_contains_95(count, denominator):
    lower, upper = byars_count(count)
    lower998, upper998 = byars_count(count, 0.998)
    assert 0 <= lower998 <= lower <= count <= upper <= upper998
    rl, ru = rate(count, denominator)
    value = count / denominator * 100000
    assert rl <= value * (1 + 1e-12) and value <= ru * (1 + 1e-12)
