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
PAIRWISE_UP_TO = 40   # groups up to this size are ranked by comparing every pair, larger ones by sorting


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
    out = pd.DataFrame({"rank": np.nan, "rank_lower": np.nan, "rank_upper": np.nan}, index=range(value.size))
    idx = np.flatnonzero(np.isfinite(value))
    if idx.size == 0:
        return out
    draws = simulate_values(value, lower95, upper95, kind, multiplier, n_sim, seed)
    rank, low, high = ranks_within(simulated_order(draws, polarity), value[idx], [np.arange(idx.size)], polarity)
    out.loc[idx, "rank"] = rank[0]
    out.loc[idx, "rank_lower"] = low[0]
    out.loc[idx, "rank_upper"] = high[0]
    return out


def simulate_values(values, lower95, upper95, kind: str = "rate", multiplier: float = 100, n_sim: int = 1000,
                    seed: int = DEFAULT_SEED) -> np.ndarray:
    """`rank_intervals`' simulation: n_sim draws (rows) of each area WITH a value (columns, in input order) on the
    value scale, from a normal on the transformed scale whose 2.5th and 97.5th percentiles are the area's limits;
    an area without a usable interval stays at its value. The same seed gives the same draws, so ranks within
    any subset of the areas (a peer group) can be read from one simulation. References: as `rank_intervals`."""
    value = np.asarray(values, dtype=float)
    lower = np.asarray(lower95, dtype=float)
    upper = np.asarray(upper95, dtype=float)
    present = np.isfinite(value)
    forward, inside = _scale(kind, multiplier)

    has_interval = present & np.isfinite(lower) & np.isfinite(upper) & (lower <= upper)
    with np.errstate(divide="ignore", invalid="ignore"):
        transformed = has_interval & inside(lower) & inside(upper)
        placeholder = {"rate": 1.0, "proportion": multiplier / 2, "identity": 0.0}[kind]
        t_lower = np.where(transformed, forward(np.where(transformed, lower, placeholder)), lower)
        t_upper = np.where(transformed, forward(np.where(transformed, upper, placeholder)), upper)

    idx = np.flatnonzero(present)
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
    return back


def simulated_order(draws: np.ndarray, polarity: str) -> np.ndarray:
    """Each simulation's order of the simulated areas, best first, as whole numbers 0..n-1 (n_sim x areas): a stable
    sort, so ties (possible only between areas simulated at a fixed value) keep the column order. Read ranks within
    any groups of the areas from it with `ranks_within`. References: as `rank_intervals`."""
    sign = -1.0 if polarity == "low_is_good" else 1.0
    order = (-(sign * draws)).argsort(axis=1, kind="stable")
    position = np.empty(order.shape, dtype=np.int16 if order.shape[1] < 2 ** 15 else np.int32)
    np.put_along_axis(position, order, np.arange(order.shape[1], dtype=position.dtype)[None, :], axis=1)
    return position


def ranks_within(order: np.ndarray, values, groups: list[np.ndarray], polarity: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed ranks and 95% rank intervals within groups of the simulated areas, as `rank_intervals`.

    `order` from `simulated_order`, `values` the areas' values (its columns), `groups` index arrays into the
    columns, in column order, all of one length k. Returns (rank, rank_lower, rank_upper), each groups x k.
    An area's simulated rank within a group is the number of members ahead of it: every pair is compared in small
    groups (numpy sorts many short rows slowly), large ones are sorted. References: as `rank_intervals`.
    """
    sign = -1.0 if polarity == "low_is_good" else 1.0
    index = np.asarray(groups, dtype=int).reshape(len(groups), -1)
    size = index.shape[1]
    key = -(sign * np.asarray(values, dtype=float)[index])
    rank = (key[:, None, :] < key[:, :, None]).sum(axis=2) + 1.0   # ties share the lowest rank
    n_sim, n_areas = order.shape
    dtype = np.int8 if size < 2 ** 7 else np.int16 if size < 2 ** 15 else np.int32
    if size == n_areas and (index == np.arange(n_areas)).all():
        sim_ranks = order.T[None].astype(dtype)                    # all the areas: the order is the rank
    else:
        sim_key = np.ascontiguousarray(order.T[index])              # groups x k x n_sim
        if size > PAIRWISE_UP_TO:
            sim_ranks = sim_key.argsort(axis=1).argsort(axis=1).astype(dtype)
        else:
            sim_ranks = np.zeros(sim_key.shape, dtype=dtype)
            for member in range(size):
                sim_ranks += sim_key[:, member:member + 1, :] < sim_key
    # The 2.5th ('lower') and 97.5th ('higher') percentiles of each area's simulated ranks: the simulated ranks at
    # sorted positions floor(0.025 (n - 1)) and ceil(0.975 (n - 1)), as numpy's percentile methods take them
    # (small whole numbers: numpy's stable sort is a radix sort for them).
    low_at, high_at = int(np.floor(0.025 * (n_sim - 1))), int(np.ceil(0.975 * (n_sim - 1)))
    ordered = np.sort(sim_ranks, axis=-1, kind="stable")
    return rank, ordered[..., low_at] + 1.0, ordered[..., high_at] + 1.0
