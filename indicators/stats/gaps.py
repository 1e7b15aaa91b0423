"""How big is the postcode lottery, and is it widening: gap measures across areas for one indicator and period, and the
test of their change over time; depends on numpy, pandas, scipy.special and intervals.py.

Every measure here is descriptive and comes with its caveat in the docstring; pages
should show them next to the uncertainty (rank intervals, funnel plots), never alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit

from indicators.config import ENGLAND_CODE
from indicators.stats.compare import BETTER, HIGHER, LOWER, NOT_COMPARED, WORSE
from indicators.stats.intervals import Z95

# Normal quantile at 0.9: the 90th/10th percentile ratio of a log-normal with sd tau is exp(2 * 1.2816 * tau).
_Z90 = 1.2815515655446004


def quantile_groups(values, n_groups: int, ascending: bool = True) -> np.ndarray:
    """PHE quantile groups (1 = lowest values when ascending) for the non-missing values; NaN elsewhere.

    group = floor((q + 1) - ceil(((N + 1) - rank) / (N / q))), rank by value with ties
    at the lowest rank, group 0 set to 1; all NaN when fewer than q values.

    Reference: Public Health England. PHEindicatormethods::calculate_quantiles /
    PHStatsMethods.ph_quantile (Fingertips quantile method).
    """
    v = pd.Series(np.asarray(values, dtype=float))
    present = v.notna()
    count = int(present.sum())
    out = np.full(v.size, np.nan)
    if count < n_groups:
        return out
    rank = v[present].rank(method="min", ascending=ascending).to_numpy()
    group = np.floor((n_groups + 1) - np.ceil(((count + 1) - rank) / (count / n_groups)))
    out[present.to_numpy()] = np.where(group == 0, 1, group)
    return out


def can_pool(part: pd.DataFrame, poolable: bool) -> bool:
    """Whether a group of areas' figure may be pooled: the indicator's method allows it (`poolable`, the
    method's rule in data/methods.toml) and every area has a numerator and a positive denominator."""
    if not poolable or part.empty or not {"numerator", "denominator"} <= set(part.columns):
        return False
    counts = part[["numerator", "denominator"]].apply(pd.to_numeric, errors="coerce")
    return bool(counts.notna().all().all() and (counts["denominator"] > 0).all())


def group_value(part: pd.DataFrame, pooled: bool, multiplier: float) -> float:
    """The figure of a group of areas: pooled, sum(numerator) / sum(denominator) * multiplier (the group's actual
    proportion or rate: areas weighted by size), or the unweighted mean of the areas' values. The one rule for
    every group figure (fifths, regions, peer groups); `can_pool` says which applies.

    Reference: Public Health England. Fingertips technical guidance (aggregating areas from counts).
    """
    if pooled:
        return float(part["numerator"].astype(float).sum() / part["denominator"].astype(float).sum() * multiplier)
    return float(part["value"].astype(float).mean())


def _dersimonian_laird_log(value, lower, upper) -> dict:
    v, lo, hi = (np.asarray(x, dtype=float) for x in (value, lower, upper))
    ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (v > 0) & (hi > lo)
    k = int(ok.sum())
    if k < 2:
        return {"tau2_log": np.nan, "i2": np.nan, "q": np.nan, "n_with_interval": k,
                "tau_p90_p10_ratio": np.nan}
    y = np.log(v[ok])
    se = (np.log(hi[ok]) - np.log(lo[ok])) / (2 * Z95)
    w = 1 / se ** 2
    mean = (w * y).sum() / w.sum()
    q = float((w * (y - mean) ** 2).sum())
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    return {"tau2_log": float(tau2), "i2": float(i2), "q": q, "n_with_interval": k,
            "tau_p90_p10_ratio": float(np.exp(2 * _Z90 * np.sqrt(tau2)))}


def gap_measures(df: pd.DataFrame, polarity: str | None = None, pooled: bool | None = None,
                 poolable: bool = False) -> dict:
    """Gap measures across the areas of ONE indicator and period.

    `df` has one row per area with `value` and, where available, lower_ci_95,
    upper_ci_95, numerator, denominator, multiplier, ci_method, polarity and
    compared_to_england; an England row (area_code E92000001) is ignored. Returns:

    - n_areas: areas with a value.
    - best_fifth_value, worst_fifth_value: the value of the best and the worst fifth
      of areas (PHE quintile groups by value, `quantile_groups`; best = highest values
      for 'high_is_good' and 'no_polarity', lowest for 'low_is_good'). A group's value
      is POOLED (`group_value`), sum(numerator) / sum(denominator) * multiplier, when
      `pooled` is True or (None) when the indicator's method pools (`poolable`: proportions
      and crude rates from counts) and every area in both groups has its counts: pooling
      weights areas by size, so the figure is the group's actual rate. Otherwise it is
      the unweighted mean of the areas' values (always for DSRs and published
      figures, where counts do not reproduce the value). `fifth_method` says which.
    - fifth_ratio, fifth_difference: the higher of the two group values divided by /
      minus the lower (>= 1 and >= 0 whichever end is best).
    - p90_p10_ratio: the 90th over the 10th percentile of area values (numpy linear
      quantiles); NaN when the 10th percentile is not positive.
    - n_compared, n_worse_than_england, n_better_than_england,
      share_worse_than_england: from `compared_to_england` (95%); the share is over
      the areas that were compared (not 'not compared'). n_higher_than_england and
      n_lower_than_england: the same for an indicator without a better direction.
    - tau2_log, i2, q, n_with_interval, tau_p90_p10_ratio: between-area variance
      beyond chance, DerSimonian-Laird on the log scale with each area's standard
      error taken from its 95% interval, se = (log upper - log lower) / (2 * 1.96); I^2
      = share of the spread not due to chance; tau_p90_p10_ratio = exp(2 * 1.2816 * tau),
      the 90th/10th percentile ratio of the underlying area values once chance is
      removed. Only areas with positive limits enter.

    References: Public Health England. Fingertips technical guidance (quintiles;
    PHEindicatormethods::calculate_quantiles). DerSimonian R, Laird N. Meta-analysis in
    clinical trials. Control Clin Trials 1986;7:177-88. Higgins JPT, Thompson SG.
    Quantifying heterogeneity in a meta-analysis. Stat Med 2002;21:1539-58.
    Spiegelhalter DJ. Handling over-dispersion of performance indicators. Qual Saf
    Health Care 2005;14:347-51 (the same additive-variance idea on the counts scale:
    `funnel.overdispersion`).
    """
    frame = df.copy()
    if "area_code" in frame.columns:
        frame = frame[frame["area_code"] != ENGLAND_CODE]
    if polarity is None:
        known = frame["polarity"].dropna().unique() if "polarity" in frame.columns else []
        polarity = str(known[0]) if len(known) else "no_polarity"
    frame = frame[pd.to_numeric(frame["value"], errors="coerce").notna()].reset_index(drop=True)
    values = frame["value"].astype(float).to_numpy()
    result: dict = {"n_areas": int(values.size), "polarity": polarity}

    groups = quantile_groups(values, 5, ascending=True)
    best_group, worst_group = (1, 5) if polarity == "low_is_good" else (5, 1)
    best = frame[groups == best_group]
    worst = frame[groups == worst_group]
    if pooled is None:
        pooled = "multiplier" in frame.columns and can_pool(pd.concat([best, worst]), poolable)
    multiplier = float(frame["multiplier"].iloc[0]) if "multiplier" in frame.columns and len(frame) else 1.0
    if len(best) and len(worst):
        best_value = group_value(best, pooled, multiplier)
        worst_value = group_value(worst, pooled, multiplier)
        high, low = max(best_value, worst_value), min(best_value, worst_value)
        ratio = high / low if low > 0 else np.nan
        result.update(best_fifth_value=best_value, worst_fifth_value=worst_value,
                      fifth_ratio=ratio, fifth_difference=high - low,
                      fifth_method="pooled" if pooled else "mean")
    else:
        result.update(best_fifth_value=np.nan, worst_fifth_value=np.nan, fifth_ratio=np.nan,
                      fifth_difference=np.nan, fifth_method="too few areas")

    if values.size:
        p10, p90 = np.percentile(values, [10, 90])
        result["p90_p10_ratio"] = float(p90 / p10) if p10 > 0 else np.nan
    else:
        result["p90_p10_ratio"] = np.nan

    if "compared_to_england" in frame.columns:
        label = frame["compared_to_england"]
        compared = label.notna() & (label != NOT_COMPARED)
        n_compared = int(compared.sum())
        n_worse = int((label == WORSE).sum())
        result.update(n_compared=n_compared, n_worse_than_england=n_worse,
                      n_better_than_england=int((label == BETTER).sum()),
                      n_higher_than_england=int((label == HIGHER).sum()),
                      n_lower_than_england=int((label == LOWER).sum()),
                      share_worse_than_england=n_worse / n_compared if n_compared else np.nan)
    if {"lower_ci_95", "upper_ci_95"} <= set(frame.columns):
        result.update(_dersimonian_laird_log(values, frame["lower_ci_95"], frame["upper_ci_95"]))
    return result


def gap_table(df: pd.DataFrame, poolable: bool = False) -> pd.DataFrame:
    """`gap_measures` for every indicator_id and period_label in `df`, one row each.

    References: as `gap_measures`.
    """
    rows = []
    for (indicator_id, period_label), part in df.groupby(["indicator_id", "period_label"], sort=True):
        rows.append({"indicator_id": indicator_id, "period_label": period_label,
                     **gap_measures(part, poolable=poolable)})
    return pd.DataFrame(rows)


def gap_change(values, lowers, uppers, years) -> dict:
    """Has the between-area variance beyond chance changed over time, on ONE set of areas?

    `values`, `lowers`, `uppers`: arrays of shape (areas, periods), every area with a positive value and 95%
    limits in every period (the same areas throughout); `years`: each period's position in time (its end, in
    years). The measure is the DerSimonian-Laird between-area variance on the log scale (`gap_measures`' tau2_log,
    here not truncated at zero). Each area's share of it in period t is
    d_it = (w_it (y_it - ybar_t)^2 - (k - 1) / k) / (S1_t - S2_t / S1_t), with y = log value, w = 1 / se^2,
    se = (log upper - log lower) / (2 * 1.96), ybar_t the weighted mean, S1, S2 the sums of w and w^2, so that
    sum_i d_it is the period's variance. The test is a summary-measures test (Matthews et al. 1990): each area's
    least-squares slope of k * d_it on time, b_i, whose mean is the slope of the variance on time; a one-sample t
    test of the b_i (k - 1 degrees of freedom) against zero. An area's figures in different periods may be
    correlated (overlapping 3-year periods share deaths); the test only assumes areas are independent of one
    another. It is approximate: the weights and the yearly mean are estimated, and the b_i are skewed.

    Returns slope_per_year (of tau2_log), slope_lower, slope_upper (its 95% interval), t, df, p_value (two-sided)
    and change: 'widened' or 'narrowed' where p < 0.05, otherwise 'not changed significantly'; NaNs and change
    None when fewer than 2 areas or 2 periods, or when the slopes do not vary.

    References: DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-88.
    Matthews JNS, Altman DG, Campbell MJ, Royston P. Analysis of serial measurements in medical research. BMJ
    1990;300:230-5.
    """
    v, lo, hi = (np.asarray(a, dtype=float) for a in (values, lowers, uppers))
    x = np.asarray(years, dtype=float)
    out = {"slope_per_year": np.nan, "slope_lower": np.nan, "slope_upper": np.nan, "t": np.nan, "df": np.nan,
           "p_value": np.nan, "change": None}
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 2 or x.size != v.shape[1]:
        return out
    if not (np.isfinite(v).all() and np.isfinite(lo).all() and np.isfinite(hi).all()
            and (v > 0).all() and (lo > 0).all() and (hi > lo).all()):
        raise ValueError("gap_change needs a positive value and 95% limits for every area in every period")
    k = v.shape[0]
    y = np.log(v)
    w = 1 / ((np.log(hi) - np.log(lo)) / (2 * Z95)) ** 2
    s1, s2 = w.sum(axis=0), (w ** 2).sum(axis=0)
    mean = (w * y).sum(axis=0) / s1
    share = (w * (y - mean) ** 2 - (k - 1) / k) / (s1 - s2 / s1)
    centred = x - x.mean()
    if not (centred ** 2).sum() > 0:
        return out
    slopes = k * (share * centred).sum(axis=1) / (centred ** 2).sum()
    slope = float(slopes.mean())
    se = float(slopes.std(ddof=1) / np.sqrt(k))
    if not se > 1e-9 * float(np.abs(slopes).max()):   # slopes all equal (to rounding): nothing to test against
        return out
    df = k - 1
    t = slope / se
    half = float(stdtrit(df, 0.975)) * se
    p = float(2 * stdtr(df, -abs(t)))
    change = ("widened" if slope > 0 else "narrowed") if p < 0.05 else "not changed significantly"
    out.update(slope_per_year=slope, slope_lower=slope - half, slope_upper=slope + half, t=float(t), df=df,
               p_value=p, change=change)
    return out


def shrunken_rates(values, lower, upper) -> dict:
    """Each area's rate moved towards the average by as much as chance could explain (empirical Bayes).

    On the log scale, y = log(rate) with standard error se = (log upper - log lower) / (2 * 1.96) from the 95%
    interval; tau^2 is the DerSimonian-Laird between-area variance (as `gap_measures`), mu the random-effects mean
    sum(y w) / sum(w) with w = 1 / (se^2 + tau^2), and each area's shrunken log rate is
    mu + B (y - mu) with B = tau^2 / (tau^2 + se^2): an area with few events (a wide interval) moves most. Rows
    without a positive rate and interval get NaN. Returns dict(rates (the shrunken rates, one per input row),
    tau2_log, mean_rate (exp(mu)), n_with_interval).

    References: Morris CN. Parametric empirical Bayes inference: theory and applications. J Am Stat Assoc
    1983;78:47-55. DerSimonian R, Laird N. Control Clin Trials 1986;7:177-88. Spiegelhalter DJ, Abrams KR, Myles JP.
    Bayesian approaches to clinical trials and health-care evaluation. Wiley 2004, ch. 3 (shrinkage of
    institutional rates).
    """
    v, lo, hi = (np.asarray(x, dtype=float) for x in (values, lower, upper))
    ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (v > 0) & (hi > lo)
    out = np.full(v.size, np.nan)
    disp = _dersimonian_laird_log(v, lo, hi)
    if disp["n_with_interval"] < 2:
        return {"rates": out, "tau2_log": np.nan, "mean_rate": np.nan, "n_with_interval": disp["n_with_interval"]}
    y = np.log(v[ok])
    se2 = ((np.log(hi[ok]) - np.log(lo[ok])) / (2 * Z95)) ** 2
    tau2 = disp["tau2_log"]
    w = 1 / (se2 + tau2)
    mu = float((w * y).sum() / w.sum())
    out[ok] = np.exp(mu + tau2 / (tau2 + se2) * (y - mu))
    return {"rates": out, "tau2_log": tau2, "mean_rate": float(np.exp(mu)), "n_with_interval": int(ok.sum())}


def fewer_deaths(rates, deaths, benchmark: float) -> dict:
    """How many fewer deaths had every area with a rate above `benchmark` had that rate instead (areas at or below
    it unchanged): for each such area, deaths x (1 - benchmark / rate). Returns dict(fewer, areas_above).

    An illustration, never a count of deaths caused or preventable: it scales an area's observed deaths by a ratio
    of age-standardised rates (assuming deaths move in proportion to the rate) and treats the benchmark as
    reachable everywhere. Rows without a positive rate or a count are left out.
    """
    rate, death = np.asarray(rates, dtype=float), np.asarray(deaths, dtype=float)
    ok = np.isfinite(rate) & np.isfinite(death) & (rate > 0) & (death >= 0)
    above = ok & (rate > benchmark) if np.isfinite(benchmark) else np.zeros(rate.size, dtype=bool)
    return {"fewer": float((death[above] * (1 - benchmark / rate[above])).sum()), "areas_above": int(above.sum())}


def illustrative_fewer_deaths(rates, lower, upper, deaths, england_rate: float = np.nan) -> dict:
    """The gap in deaths between areas as two illustrations, over the areas with a rate and a count.

    - best_quarter_rate: the rate of the best quarter of areas once chance is allowed for: the unweighted mean of
      the shrunken rates (`shrunken_rates`) of the quarter of areas with the lowest shrunken rates (PHE quartile
      groups, `quantile_groups`). Without shrinkage the best quarter is partly best by chance (areas with few
      deaths have the most extreme rates), which pulls the benchmark down and the figure up;
      best_quarter_rate_unshrunk is that plain mean, for comparison.
    - fewer_than_best, areas_above_best: `fewer_deaths` at best_quarter_rate (with the areas' observed rates).
    - fewer_than_england, areas_above_england: the same at England's own rate, a second, conservative figure.
    - n_areas, deaths_in_areas: the areas used and their deaths; tau2_log and mean_rate from the shrinkage.

    Every figure is NaN with fewer than 4 areas with a rate, count and interval (no quarter to take).

    References: as `shrunken_rates` and `quantile_groups`. The framing (deaths if every area matched a benchmark)
    follows the preventable-mortality gap in: Marmot M, et al. Fair society, healthy lives (The Marmot Review).
    London; 2010.
    """
    rate, lo, hi, death = (np.asarray(x, dtype=float) for x in (rates, lower, upper, deaths))
    used = np.isfinite(rate) & (rate > 0) & np.isfinite(death) & (death >= 0)
    shrunk = shrunken_rates(np.where(used, rate, np.nan), lo, hi)
    result = {"n_areas": int(used.sum()), "deaths_in_areas": float(death[used].sum()),
              "tau2_log": shrunk["tau2_log"], "mean_rate": shrunk["mean_rate"], "england_rate": float(england_rate)}
    groups = quantile_groups(shrunk["rates"], 4, ascending=True)
    plain = quantile_groups(np.where(np.isfinite(shrunk["rates"]), rate, np.nan), 4, ascending=True)
    if not (groups == 1).any():
        result.update(best_quarter_rate=np.nan, best_quarter_rate_unshrunk=np.nan, fewer_than_best=np.nan,
                      areas_above_best=0, fewer_than_england=np.nan, areas_above_england=0)
        return result
    best = float(shrunk["rates"][groups == 1].mean())
    at_best = fewer_deaths(np.where(used, rate, np.nan), death, best)
    at_england = fewer_deaths(np.where(used, rate, np.nan), death, float(england_rate))
    result.update(best_quarter_rate=best, best_quarter_rate_unshrunk=float(rate[plain == 1].mean()),
                  fewer_than_best=at_best["fewer"], areas_above_best=at_best["areas_above"],
                  fewer_than_england=at_england["fewer"] if np.isfinite(england_rate) else np.nan,
                  areas_above_england=at_england["areas_above"])
    return result
