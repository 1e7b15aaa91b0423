"""Ranks of areas with 95% rank intervals by simulation from each area's confidence interval; depends on numpy and pandas.

A league table hides how uncertain a position is; the rank interval says "somewhere
between 12th and 61st". Rank 1 is the best area by polarity (the highest value where
the indicator has no polarity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.stats.intervals import Z95

DEFAULT_SEED = 20261122


def _scale(kind: str, multiplier: float):
    """Forward transform for a kind of statistic and the domain it is defined on."""
    if kind == "rate":
        return np.log, lambda v: v > 0
    if kind == "proportion":
        def logit(v):
            p = v / multiplier
            return np.log(p / (1 - p))
        return logit, lambda v: (v > 0) & (v < multiplier)
    if kind == "identity":
        return (lambda v: v), (lambda v: np.isfinite(v))
    raise ValueError(f"kind must be 'rate', 'proportion' or 'identity', got {kind!r}")


def rank_intervals(values, lower95, upper95, polarity: str, n_sim: int = 1000, seed: int = DEFAULT_SEED,
                   kind: str = "rate", multiplier: float = 100) -> pd.DataFrame:
    """Observed rank and a 95% rank interval for each area.

    Each area's value is simulated n_sim times from a normal distribution on a
    transformed scale whose 2.5th and 97.5th percentiles are the area's 95% limits:
    mean = (t(lower) + t(upper)) / 2, sd = (t(upper) - t(lower)) / (2 * 1.96), with t the
    log for kind='rate' (and other ratio-scale values), the logit of value/multiplier for
    kind='proportion', or the identity. The transform is used only where both limits
    lie strictly inside its domain (rates > 0, proportions inside (0, multiplier));
    otherwise that area falls back to the identity scale. The interval, not the point
    value, fixes the distribution, so asymmetric limits are honoured.
    Areas with a value but no usable interval stay at their value in every
    simulation (their own rank interval then reflects only the others' uncertainty).
    Areas without a value are left out and get NaN.

    Ranks: 1 = best, i.e. the largest value for 'high_is_good' and 'no_polarity', the
    smallest for 'low_is_good'; `rank` is the observed rank (ties share the lowest rank);
    rank_lower / rank_upper are the 2.5th / 97.5th percentiles of the simulated ranks,
    taken as the simulated rank at or just outside each percentile (numpy's 'lower' and
    'higher' methods) so both are whole ranks and the interval is never narrower than
    95%. The same seed gives the same output.

    References: Goldstein H, Spiegelhalter DJ. League tables and their limitations:
    statistical issues in comparisons of institutional performance. J R Stat Soc A
    1996;159:385-443. Marshall EC, Spiegelhalter DJ. Reliability of league tables of in
    vitro fertilisation clinics: retrospective analysis of live birth rates. BMJ
    1998;316:1701-5.
    """
    value = np.asarray(values, dtype=float)
    lower = np.asarray(lower95, dtype=float)
    upper = np.asarray(upper95, dtype=float)
    present = np.isfinite(value)
    sign = -1.0 if polarity == "low_is_good" else 1.0
    forward, inside = _scale(kind, multiplier)

    has_interval = present & np.isfinite(lower) & np.isfinite(upper) & (lower <= upper)
    with np.errstate(divide="ignore", invalid="ignore"):
        transformed = has_interval & inside(lower) & inside(upper)
        placeholder = {"rate": 1.0, "proportion": multiplier / 2, "identity": 0.0}[kind]
        t_lower = np.where(transformed, forward(np.where(transformed, lower, placeholder)), lower)
        t_upper = np.where(transformed, forward(np.where(transformed, upper, placeholder)), upper)

    idx = np.flatnonzero(present)
    out = pd.DataFrame({"rank": np.nan, "rank_lower": np.nan, "rank_upper": np.nan}, index=range(value.size))
    if idx.size == 0:
        return out

    key = sign * value[idx]
    order_key = pd.Series(-key)
    out.loc[idx, "rank"] = order_key.rank(method="min").to_numpy()

    rng = np.random.default_rng(seed)
    mean = (t_lower[idx] + t_upper[idx]) / 2
    sd = np.where(has_interval[idx], (t_upper[idx] - t_lower[idx]) / (2 * Z95), 0.0)
    mean = np.where(has_interval[idx], mean, value[idx])
    draws = rng.standard_normal((n_sim, idx.size)) * sd + mean
    # Back on the value scale only the order matters: the transforms are increasing,
    # but areas on different scales must be compared on the value scale.
    t_used = transformed[idx]
    back = draws.copy()
    if kind == "rate":
        back[:, t_used] = np.exp(draws[:, t_used])
    elif kind == "proportion":
        back[:, t_used] = multiplier / (1 + np.exp(-draws[:, t_used]))
    sim_key = -(sign * back)
    sim_ranks = sim_key.argsort(axis=1, kind="stable").argsort(axis=1, kind="stable") + 1
    out.loc[idx, "rank_lower"] = np.percentile(sim_ranks, 2.5, axis=0, method="lower")
    out.loc[idx, "rank_upper"] = np.percentile(sim_ranks, 97.5, axis=0, method="higher")
    return out
