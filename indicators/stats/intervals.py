"""Confidence intervals Fingertips uses (Wilson, Byar/exact Poisson, Dobson), vectorised; depends on numpy, scipy and pandas.

Every function takes scalars or array-likes, never raises for a bad row and returns NaN
limits where the input cannot carry an interval (missing, negative, a denominator of
zero or less, a numerator above its denominator). Conventions follow PHE's Fingertips
technical guidance and the PHEindicatormethods / PHStatsMethods packages, which the
tests use as an independent oracle; the differences are listed per function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaincinv, ndtri

# norm.ppf(0.975) and norm.ppf(0.999): two-sided 95% and 99.8% normal quantiles.
Z95 = 1.959963984540054
Z998 = 3.090232306167813

# Fewer events than this: no Byar's approximation (exact Poisson instead) and no DSR.
SMALL_COUNT = 10

# The 2013 European Standard Population (Eurostat 2013), 19 five-year bands ending 90+.
ESP2013_AGE_BANDS = ("0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44",
                     "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89",
                     "90+")
ESP2013 = (5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
           7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000)


def z_for(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level (0.95 -> 1.95996...), exact for 0.95 and 0.998."""
    if confidence == 0.95:
        return Z95
    if confidence == 0.998:
        return Z998
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return float(ndtri(1 - (1 - confidence) / 2))


def _as_float(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _scalar_or_array(result: np.ndarray, *inputs):
    """Return a Python float when every input was a scalar, else the array."""
    if all(np.ndim(x) == 0 for x in inputs):
        return float(result)
    return result


def wilson(numerator, denominator, confidence: float = 0.95, multiplier: float = 100):
    """Wilson score interval for a proportion, on the multiplier scale (100 gives percentages).

    lower, upper = (2r + z^2 -/+ z*sqrt(z^2 + 4r(1 - r/n))) / (2(n + z^2)) for r of n.

    0 of n gives a lower limit of exactly 0 and n of n an upper limit of exactly
    `multiplier`. Non-integer counts are allowed (Fingertips publishes fractional
    counts for pooled or modelled numerators). NaN limits where the numerator is
    missing or negative, the denominator is missing or not positive, or the numerator
    exceeds the denominator (PHStatsMethods raises for these; a row here only gets NaN).

    References: Wilson EB. Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc 1927;22:209-12. Newcombe RG. Two-sided confidence
    intervals for the single proportion: comparison of seven methods. Stat Med
    1998;17:857-72 (method 3).
    """
    z = z_for(confidence)
    r = _as_float(numerator)
    n = _as_float(denominator)
    r, n = np.broadcast_arrays(r, n)
    valid = (r >= 0) & (n > 0) & (r <= n) & np.isfinite(r) & np.isfinite(n)
    rs = np.where(valid, r, 0.0)
    ns = np.where(valid, n, 1.0)
    root = z * np.sqrt(np.maximum(z * z + 4 * rs * (1 - rs / ns), 0.0))
    base = 2 * rs + z * z
    scale = 2 * (ns + z * z)
    lower = np.where(valid, (base - root) / scale * multiplier, np.nan)
    upper = np.where(valid, (base + root) / scale * multiplier, np.nan)
    lower = np.where(valid & (rs == 0), 0.0, lower)
    upper = np.where(valid & (rs == ns), float(multiplier), upper)
    return (_scalar_or_array(lower, numerator, denominator),
            _scalar_or_array(upper, numerator, denominator))


def exact_poisson(count, confidence: float = 0.95):
    """Exact Poisson limits for an observed count via the chi-squared (gamma) quantiles.

    lower = chi2_{alpha/2}(2x) / 2, upper = chi2_{1-alpha/2}(2x + 2) / 2, computed as
    gamma quantiles so that non-integer counts get the continuous extension (as
    PHStatsMethods does with scipy's chi2). A count of 0 has lower limit 0.

    References: Ulm K. A simple method to calculate the confidence interval of a
    standardized mortality ratio. Am J Epidemiol 1990;131:373-5. Armitage P, Berry G,
    Matthews JNS. Statistical methods in medical research (4th edn). Oxford: Blackwell; 2002.
    """
    alpha = 1 - confidence
    x = _as_float(count)
    valid = np.isfinite(x) & (x >= 0)
    xs = np.where(valid, x, 1.0)
    lower = np.where(xs > 0, gammaincinv(np.where(xs > 0, xs, 1.0), alpha / 2), 0.0)
    # For vanishingly small counts the quantile underflows to NaN; its limit is 0.
    lower = np.where(np.isnan(lower), 0.0, lower)
    upper = gammaincinv(xs + 1, 1 - alpha / 2)
    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    return _scalar_or_array(lower, count), _scalar_or_array(upper, count)


def byars_count(count, confidence: float = 0.95):
    """Limits for an observed count: Byar's approximation from 10 events, exact Poisson below.

    lower = O(1 - 1/(9O) - z/(3 sqrt(O)))^3, upper = (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3
    for O >= 10; `exact_poisson` for 0 <= O < 10 (so 0 events give lower 0 and upper
    3.689 at 95%). Fractional counts below 10 use the continuous exact limits, as
    PHStatsMethods does. NaN for missing or negative counts (PHStatsMethods raises;
    its `byars_upper` also refuses 0, where this returns the exact upper limit).

    References: Breslow NE, Day NE. Statistical methods in cancer research, volume II:
    the design and analysis of cohort studies. Lyon: IARC; 1987 (Byar's method, p. 69).
    Ulm K. Am J Epidemiol 1990;131:373-5 (exact limits from chi-squared quantiles).
    """
    z = z_for(confidence)
    o = _as_float(count)
    valid = np.isfinite(o) & (o >= 0)
    big = valid & (o >= SMALL_COUNT)
    ob = np.where(big, o, SMALL_COUNT)
    byar_lower = ob * (1 - 1 / (9 * ob) - z / (3 * np.sqrt(ob))) ** 3
    byar_upper = (ob + 1) * (1 - 1 / (9 * (ob + 1)) + z / (3 * np.sqrt(ob + 1))) ** 3
    exact_lower, exact_upper = exact_poisson(np.where(big, 0.0, o), confidence)
    lower = np.where(big, byar_lower, exact_lower)
    upper = np.where(big, byar_upper, exact_upper)
    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    return _scalar_or_array(lower, count), _scalar_or_array(upper, count)


def rate(count, denominator, multiplier: float = 100000, confidence: float = 0.95):
    """Crude rate limits: the count's Byar/exact limits divided by the denominator, times the multiplier.

    NaN where the count is missing or negative or the denominator is missing or not positive.

    References: Breslow NE, Day NE 1987 (Byar's method); Ulm K 1990 (exact Poisson),
    as in `byars_count`; PHE Fingertips technical guidance, "crude rates".
    """
    n = _as_float(denominator)
    lower, upper = byars_count(count, confidence)
    ok = np.isfinite(n) & (n > 0)
    ns = np.where(ok, n, 1.0)
    lower = np.where(ok, np.asarray(lower) / ns * multiplier, np.nan)
    upper = np.where(ok, np.asarray(upper) / ns * multiplier, np.nan)
    return _scalar_or_array(lower, count, denominator), _scalar_or_array(upper, count, denominator)


@dataclass(frozen=True)
class DSR:
    """A directly standardised rate with its Dobson limits, or NaN and the reason it is missing."""

    value: float
    lower: float
    upper: float
    total_count: float
    confidence: float
    reason: str = ""


def dobson(counts, populations, standard_populations, multiplier: float = 100000,
           confidence: float = 0.95) -> DSR:
    """Directly standardised rate for one area from age-specific counts, with Dobson limits.

    DSR = sum(w_i O_i / n_i) / sum(w_i) * multiplier, var = sum(O_i (w_i / n_i)^2) / sum(w_i)^2,
    limits = DSR + sqrt(var / O) * (O_L - O) * multiplier with O = sum(O_i) and O_L the
    Byar/exact limit of O (`byars_count`). Missing age-specific counts count as 0 (as
    in PHStatsMethods). No DSR (NaN with a reason) below 10 events in total, or where a
    band's population is missing or not positive, or a count is negative.

    References: Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for
    weighted sums of Poisson parameters. Stat Med 1991;10:457-62. Breslow NE, Day NE
    1987 (Byar's method). Eurostat. Revision of the European Standard Population 2013.
    """
    o = _as_float(counts)
    n = _as_float(populations)
    w = _as_float(standard_populations)
    if not (o.shape == n.shape == w.shape) or o.ndim != 1:
        return DSR(np.nan, np.nan, np.nan, np.nan, confidence,
                   "counts, populations and standard populations differ in length")
    o = np.where(np.isnan(o), 0.0, o)
    total = float(o.sum())
    if np.any(o < 0):
        return DSR(np.nan, np.nan, np.nan, total, confidence, "negative count")
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        return DSR(np.nan, np.nan, np.nan, total, confidence, "population missing or not positive in a band")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        return DSR(np.nan, np.nan, np.nan, total, confidence, "standard population missing or negative")
    if total < SMALL_COUNT:
        return DSR(np.nan, np.nan, np.nan, total, confidence,
                   f"fewer than {SMALL_COUNT} events: a DSR is not calculated")
    value = float((o * w / n).sum() / w.sum() * multiplier)
    var = float((o * (w / n) ** 2).sum() / w.sum() ** 2)
    o_lower, o_upper = byars_count(total, confidence)
    spread = np.sqrt(var / total) * multiplier
    return DSR(value, value + spread * (o_lower - total), value + spread * (o_upper - total),
               total, confidence)


def dobson_grouped(frame, group_cols, count_col: str, population_col: str, standard_col: str,
                   multiplier: float = 100000, confidence: float = 0.95):
    """`dobson` for every group of age-specific rows in a DataFrame.

    Returns one row per group with the group columns and value, lower, upper,
    total_count, reason. References: as `dobson` (Dobson et al. Stat Med 1991;10:457-62).
    """
    keys = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    rows = []
    for key, part in frame.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        result = dobson(part[count_col], part[population_col], part[standard_col], multiplier, confidence)
        rows.append({**dict(zip(keys, key)), "value": result.value, "lower": result.lower,
                     "upper": result.upper, "total_count": result.total_count, "reason": result.reason})
    return pd.DataFrame(rows, columns=[*keys, "value", "lower", "upper", "total_count", "reason"])
