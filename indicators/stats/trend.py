"""Fingertips' "recent trend": a chi-squared test for linear trend over an area's last 5 points; depends on numpy, pandas and scipy.

The answer is about the direction of the numbers ('increasing' / 'decreasing'), not
about whether that is good: turning it into "getting better" needs the indicator's
polarity and is the caller's business.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc

INCREASING = "increasing"
DECREASING = "decreasing"
NO_CHANGE = "no significant change"
CANNOT = "cannot be calculated"
TREND_LABELS = (INCREASING, DECREASING, NO_CHANGE, CANNOT)

RECENT_POINTS = 5


def trend_test(numerators, denominators, kind: str = "proportion") -> dict:
    """Chi-squared test for linear trend across ordered groups scored 0, 1, 2, ...

    Proportions (Cochran-Armitage): with p = sum(O)/sum(N),
    T = sum(x_i (O_i - N_i p)), V = p(1-p) (sum(N_i x_i^2) - (sum(N_i x_i))^2 / sum(N)).
    Rates / counts over person-time (Poisson score test): with E_i = N_i sum(O)/sum(N),
    T = sum(x_i (O_i - E_i)), V = sum(x_i^2 E_i) - (sum(x_i E_i))^2 / sum(E).
    chi2 = T^2 / V on 1 degree of freedom; the sign of T gives the direction.
    Returns dict(chi2, p_value, slope_sign); chi2 and p_value are NaN when V is 0
    (no events, or every case an event).

    References: Armitage P. Tests for linear trends in proportions and frequencies.
    Biometrics 1955;11:375-86. Cochran WG. Some methods for strengthening the common
    chi-squared tests. Biometrics 1954;10:417-51. Breslow NE, Day NE. Statistical
    methods in cancer research, volume II. Lyon: IARC; 1987 (test for trend in rates).
    """
    o = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    x = np.arange(o.size, dtype=float)
    if kind == "proportion":
        p = o.sum() / n.sum()
        t = float((x * (o - n * p)).sum())
        v = float(p * (1 - p) * ((n * x * x).sum() - (n * x).sum() ** 2 / n.sum()))
    elif kind == "rate":
        e = n * o.sum() / n.sum()
        t = float((x * (o - e)).sum())
        v = float((x * x * e).sum() - (x * e).sum() ** 2 / e.sum()) if e.sum() > 0 else 0.0
    else:
        raise ValueError(f"kind must be 'proportion' or 'rate', got {kind!r}")
    if not v > 0:
        return {"chi2": np.nan, "p_value": np.nan, "slope_sign": 0}
    statistic = t * t / v
    return {"chi2": statistic, "p_value": float(chdtrc(1, statistic)), "slope_sign": int(np.sign(t))}


def recent_trend(numerators, denominators, periods, kind: str = "proportion",
                 confidence: float = 0.998, points: int = RECENT_POINTS) -> str:
    """'increasing', 'decreasing', 'no significant change' or 'cannot be calculated'.

    Sorts the points by `periods` (any sortable labels, e.g. '2019/20' or
    period_start dates), keeps the last `points` (5, as Fingertips) and runs `trend_test` on them with equally
    spaced scores 0..4 (the points are consecutive publications, gaps in the calendar
    are not weighted). Significant at `confidence` (99.8%, as Fingertips) means
    p < 1 - confidence. 'cannot be calculated' with fewer than 5 points or when any of
    the last 5 lacks a usable numerator or denominator (missing, negative, zero
    denominator, or numerator above denominator for a proportion); 'no significant
    change' also when the test has no variance (no events at all).

    References: Armitage 1955; Cochran 1954 (as `trend_test`); Public Health England.
    Fingertips technical guidance, "Recent trends".
    """
    frame = pd.DataFrame({"o": pd.to_numeric(pd.Series(list(np.atleast_1d(numerators))), errors="coerce"),
                          "n": pd.to_numeric(pd.Series(list(np.atleast_1d(denominators))), errors="coerce"),
                          "period": list(np.atleast_1d(periods))})
    if len(frame) < points or frame["period"].isna().any():
        return CANNOT
    last = frame.sort_values("period", kind="stable").tail(points)
    o, n = last["o"].to_numpy(float), last["n"].to_numpy(float)
    usable = np.isfinite(o) & np.isfinite(n) & (o >= 0) & (n > 0)
    if kind == "proportion":
        usable &= o <= n
    if not usable.all():
        return CANNOT
    result = trend_test(o, n, kind)
    if not np.isfinite(result["p_value"]) or result["p_value"] >= 1 - confidence:
        return NO_CHANGE
    return INCREASING if result["slope_sign"] > 0 else DECREASING
