"""Funnel-plot control limits and Spiegelhalter's over-dispersion estimate and adjustment; depends on numpy, scipy, pandas and intervals.py.

Limits are drawn around a benchmark (usually England's value) as a function of an
area's denominator: for proportions the observed proportions whose Wilson interval
just touches the benchmark (Fingertips' method, as PHStatsMethods'
`calculate_funnel_limits`), for crude rates the exact Poisson counts whose interval
just touches the expected count. When areas vary more than chance allows
(over-dispersion), `overdispersion` estimates by how much and `adjusted_funnel_limits`
widens the limits; a chart that uses them must say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaincinv, gdtrib
from scipy.special import chdtrc

from indicators.stats.intervals import z_for

KINDS = ("proportion", "rate")


def level_label(level: float) -> str:
    """Column suffix for a confidence level: 0.95 -> '95', 0.998 -> '998'."""
    return f"{level * 100:g}".replace(".", "")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _proportion_limits(p0: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    # Solve Wilson_upper(r, n) = p0 (lower limit) and Wilson_lower(r, n) = p0 (upper limit)
    # for r: both are the roots of (1+a) r^2 - (2c+a) r + (c^2 - a^2/4) = 0,
    # with a = z^2/n and c = p0 (1+a) - a/2.
    a = z * z / n
    c = p0 * (1 + a) - a / 2
    b = 2 * c + a
    disc = np.sqrt(np.maximum(b * b - 4 * (1 + a) * (c * c - a * a / 4), 0.0))
    lower = (b - disc) / (2 * (1 + a))
    upper = (b + disc) / (2 * (1 + a))
    return np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def _rate_limits(expected: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    # Lower control count: the count O whose exact upper limit, gammaincinv(O+1, 1-alpha/2), equals the
    # expected count E, i.e. P(O+1, E) = 1-alpha/2 with P the regularised lower incomplete gamma function
    # (0 when even O = 0 has an upper limit above E). Upper control count: the O whose exact lower limit,
    # gammaincinv(O, alpha/2), equals E, i.e. P(O, E) = alpha/2. Both are solved for the shape on the
    # continuous scale by scipy.special.gdtrib (the gamma CDF inverted in its shape parameter, rate 1).
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        lower = np.maximum(gdtrib(1.0, 1 - alpha / 2, expected) - 1, 0.0)
        upper = gdtrib(1.0, alpha / 2, expected)
    lower = np.where(expected <= gammaincinv(1.0, 1 - alpha / 2), 0.0, lower)
    return lower, upper


def funnel_limits(benchmark, denominators, kind: str = "proportion", multiplier: float = 100,
                  levels=(0.95, 0.998)) -> pd.DataFrame:
    """Control limits around `benchmark` at each denominator, on the multiplier scale.

    `benchmark` is one value, or one per denominator (several funnels in one call, as the build does).

    Returns one row per denominator with columns denominator, benchmark and
    lower_<level>, upper_<level> for each level (lower_95, upper_95, lower_998,
    upper_998 by default). Missing or non-positive denominators give NaN limits.

    kind='proportion': `benchmark` is a proportion on the multiplier scale (e.g. 45.2
    with multiplier 100); the limits are the observed proportions r/n whose Wilson
    score interval has the benchmark as its upper (lower limit) or lower (upper limit)
    bound, clipped to [0, multiplier]. Equals PHStatsMethods' `sigma_adjustment`.

    kind='rate': `benchmark` is a crude rate per `multiplier` and the denominators are
    populations (person-years); with expected count E = benchmark / multiplier * n the
    limits are O_L / n and O_U / n times the multiplier, where O_L is the count whose
    exact Poisson upper limit is E and O_U the count whose exact lower limit is E
    (continuous in O; O_L = 0 when E is below the upper limit of a zero count). Byar's
    approximation converges to these for large counts; the exact form is the one
    PHStatsMethods' `poisson_funnel` uses.

    References: Spiegelhalter DJ. Funnel plots for comparing institutional performance.
    Stat Med 2005;24:1185-1202. Public Health England. Fingertips technical guidance,
    "Funnel plots"; APHO. Technical briefing 2: commonly used public health statistics
    and their confidence intervals, 2008. Wilson EB 1927; Ulm K 1990.
    """
    _check_kind(kind)
    n = np.atleast_1d(np.asarray(denominators, dtype=float))
    bench = np.broadcast_to(np.asarray(benchmark, dtype=float), n.shape)
    ok = np.isfinite(n) & (n > 0)
    ns = np.where(ok, n, 1.0)
    good_bench = np.isfinite(bench) & (bench >= 0)
    if kind == "proportion":
        good_bench &= bench <= multiplier
    safe = np.where(good_bench, bench, 0.0)
    out = pd.DataFrame({"denominator": n, "benchmark": bench})
    for level in levels:
        z = z_for(level)
        if kind == "proportion":
            lower, upper = _proportion_limits(safe / multiplier, ns, z)
            lower, upper = lower * multiplier, upper * multiplier
        else:
            expected = safe / multiplier * ns
            lower_count, upper_count = _rate_limits(expected, level)
            lower, upper = lower_count / ns * multiplier, upper_count / ns * multiplier
        label = level_label(level)
        valid = ok & good_bench
        out[f"lower_{label}"] = np.where(valid, lower, np.nan)
        out[f"upper_{label}"] = np.where(valid, upper, np.nan)
    return out


def _z_scores(values, denominators, benchmark, kind, multiplier):
    y = np.asarray(values, dtype=float) / multiplier
    n = np.asarray(denominators, dtype=float)
    theta = float(benchmark) / multiplier
    keep = np.isfinite(y) & np.isfinite(n) & (n > 0)
    y, n = y[keep], n[keep]
    variance = theta * (1 - theta) if kind == "proportion" else theta
    s = np.sqrt(variance / n)
    return (y - theta) / s, s * multiplier


def overdispersion(values, denominators, benchmark: float, kind: str = "proportion",
                   multiplier: float = 100, winsorise: float = 0.1, significance: float = 0.05) -> dict:
    """Spiegelhalter's over-dispersion estimate from winsorised z-scores.

    z_i = (y_i - b) / s_i with s_i = sqrt(b(1-b)/n_i) for proportions and sqrt(b/n_i)
    for rates (y and b on the unit scale); the `winsorise` fraction (10%) of z-scores at
    each end are pulled in to the 10th / 90th percentiles (numpy's linear quantiles);
    phi = mean(z_w^2). Under no over-dispersion n*phi ~ chi-squared on n-1 degrees of
    freedom (the benchmark being estimated from the same areas): `p_value` is its
    upper tail and `overdispersed` is p_value < significance. tau2 is the additive
    between-area variance on the value (multiplier) scale, DerSimonian-Laird style:
    max(0, (n*phi - (n-1)) / (sum w - sum w^2 / sum w)) with w_i = 1 / s_i^2.
    Areas with a missing value or denominator are left out; `n` counts the rest.

    Returns dict(phi, n, chi2, p_value, overdispersed, tau2).

    References: Spiegelhalter DJ. Funnel plots for comparing institutional performance.
    Stat Med 2005;24:1185-1202. Spiegelhalter DJ. Handling over-dispersion of
    performance indicators. Qual Saf Health Care 2005;14:347-51. Spiegelhalter D,
    Sherlaw-Johnson C, Bardsley M, et al. Statistical methods for healthcare regulation:
    rating, screening and surveillance. J R Stat Soc A 2012;175:1-47.
    DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-88.
    """
    _check_kind(kind)
    z, s = _z_scores(values, denominators, benchmark, kind, multiplier)
    count = int(z.size)
    empty = {"phi": np.nan, "n": count, "chi2": np.nan, "p_value": np.nan,
             "overdispersed": False, "tau2": np.nan}
    if count < 2 or not np.all(np.isfinite(z)):
        return empty
    low, high = np.quantile(z, [winsorise, 1 - winsorise])
    zw = np.clip(z, low, high)
    phi = float(np.mean(zw ** 2))
    statistic = count * phi
    p_value = float(chdtrc(count - 1, statistic))
    w = 1 / s ** 2
    tau2 = max(0.0, (statistic - (count - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    return {"phi": phi, "n": count, "chi2": float(statistic), "p_value": p_value,
            "overdispersed": bool(p_value < significance), "tau2": float(tau2)}


def adjusted_funnel_limits(benchmark: float, denominators, kind: str = "proportion",
                           multiplier: float = 100, levels=(0.95, 0.998), phi: float = 1.0) -> pd.DataFrame:
    """`funnel_limits` widened multiplicatively for over-dispersion: distance from the benchmark times sqrt(phi).

    Each limit L becomes b + sqrt(phi) (L - b), the exact-limit analogue of
    b +/- z sqrt(phi V(b) / n); phi below 1 is treated as 1 (limits are never
    narrowed), and limits are clipped to [0, multiplier] for proportions and at 0 for
    rates. Columns as `funnel_limits`, plus `phi`.

    References: Spiegelhalter DJ. Funnel plots for comparing institutional performance.
    Stat Med 2005;24:1185-1202 (section 6, multiplicative over-dispersion);
    Spiegelhalter DJ. Qual Saf Health Care 2005;14:347-51.
    """
    return widen_limits(funnel_limits(benchmark, denominators, kind, multiplier, levels), benchmark, phi, kind,
                        multiplier)


def widen_limits(limits: pd.DataFrame, benchmark: float, phi: float, kind: str = "proportion",
                 multiplier: float = 100) -> pd.DataFrame:
    """`funnel_limits`' output widened by sqrt(phi) around the benchmark, as `adjusted_funnel_limits` (which calls
    it): for a build that already has the plain limits. `benchmark` and `phi` may be one value or one per row.
    References: as `adjusted_funnel_limits`."""
    _check_kind(kind)
    out = limits.copy()
    factor = np.sqrt(np.maximum(np.asarray(phi, dtype=float), 1.0))
    factor = np.where(np.isfinite(factor), factor, 1.0)
    top = multiplier if kind == "proportion" else np.inf
    bench = np.asarray(benchmark, dtype=float)
    for column in out.columns:
        if column.startswith(("lower_", "upper_")):
            out[column] = np.clip(bench + factor * (out[column].to_numpy(float) - bench), 0.0, top)
    out["phi"] = phi
    return out
