"""The build's statistics pass over the published values: recent trends, gap measures (each period, and over time on
one set of areas), the illustrative deaths figure and funnel plots, each into its own `published` table, so the
query layer only reads.

Depends on numpy, pandas, duckdb, indicators.catalogue (method rules, minimums), indicators.config and
indicators.stats (the methods, each cited there); comparator groups and rank intervals are in
indicators.pipeline.comparators. Every statistic uses only usable rows: a value the publisher withheld
(`is_suppressed`) is never used, even where its row carries a count and denominator; below a statistic's minimum
(data/methods.toml) the row says what is missing instead of holding a number.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from indicators.catalogue import Minimums, load_minimums, method_rule
from indicators.config import ENGLAND_CODE, UPPER_TIER_TYPES
from indicators.pipeline import comparators
from indicators.stats.funnel import funnel_limits, overdispersion, widen_limits
from indicators.stats.gaps import gap_change, gap_measures, illustrative_fewer_deaths
from indicators.stats.trend import CANNOT, recent_trend

NOT_TESTED = "not tested"
FUNNEL_POSITIONS = ("within 95% limits", "outside 95% limits (high)", "outside 95% limits (low)",
                    "outside 99.8% limits (high)", "outside 99.8% limits (low)")
FUNNEL_GRID_POINTS = 120
ILLUSTRATED_FAMILY = "deaths"   # the family whose counts the illustrative excess-deaths figure scales
FUNNEL_X_LABELS = {"proportion": "Denominator (people in the indicator's base)",
                   "rate": "Population (denominator)",
                   "dsr": "Effective population (count ÷ rate; rates are age-standardised)"}
GAP_COLUMNS = ["indicator_id", "period_label", "period_end", "available", "reason", "n_areas", "area_codes",
               "polarity", "best_fifth_value", "worst_fifth_value", "fifth_ratio", "fifth_difference", "fifth_method",
               "p90_p10_ratio", "n_compared", "n_worse_than_england", "n_better_than_england",
               "n_higher_than_england", "n_lower_than_england",
               "share_worse_than_england", "tau2_log", "i2", "q", "n_with_interval", "tau_p90_p10_ratio",
               "area_min", "area_q25", "area_median", "area_q75", "area_max"]
GAP_TIME_COLUMNS = ["indicator_id", "period_label", "period_end", "n_areas", "best_fifth_value", "worst_fifth_value",
                    "fifth_ratio", "fifth_method", "p90_p10_ratio", "n_compared", "n_worse_than_england",
                    "n_better_than_england", "n_higher_than_england", "n_lower_than_england", "tau2_log", "i2",
                    "tau_p90_p10_ratio"]
GAP_CHANGE_COLUMNS = ["indicator_id", "available", "tested", "reason", "first_period", "last_period", "n_periods",
                      "n_areas", "n_areas_latest", "slope_per_year", "slope_lower", "slope_upper", "t", "df",
                      "p_value", "change"]
TREND_COLUMNS = ["indicator_id", "area_code", "trend", "first_period", "last_period", "n_points",
                 "periods_with_counts", "reason"]
ILLUSTRATIVE_COLUMNS = ["indicator_id", "period_label", "available", "reason", "period_years", "england_deaths",
                        "england_rate", "n_areas", "deaths_in_areas", "n_without_rate", "deaths_without_rate",
                        "tau2_log", "mean_rate", "best_quarter_rate", "best_quarter_rate_unshrunk", "fewer_than_best",
                        "areas_above_best", "fewer_than_england", "areas_above_england"]
FUNNEL_COLUMNS = ["indicator_id", "period_label", "available", "reason", "funnel", "kind", "x_label", "benchmark",
                  "n_areas", "phi", "chi2", "p_value", "overdispersed", "tau2"]
FUNNEL_POINT_COLUMNS = ["indicator_id", "period_label", "area_code", "x", "position", "position_adjusted"]
FUNNEL_LIMIT_COLUMNS = ["indicator_id", "period_label", "adjusted", "x", "lower_95", "upper_95", "lower_998",
                        "upper_998"]


def publish_statistics(con: duckdb.DuckDBPyConnection, n_sim: int = 1000) -> None:
    """Every published statistic from published.indicator_values, .areas, .indicators and the peer tables.

    Writes published.minimums, recent_trends, gap_measures, gap_over_time, gap_change, illustrative_deaths, funnels,
    funnel_points, funnel_limits (here) and peer_groups, group_comparisons, rank_intervals
    (indicators.pipeline.comparators).
    The build calls it once the values are published; tests call it on a warehouse they write.
    """
    minimums = load_minimums()
    catalogue = con.execute("SELECT indicator_id, family, ci_method, polarity, multiplier FROM published.indicators"
                            ).df().set_index("indicator_id")
    values = usable_values(con)
    write(con, "published.minimums", minimums_frame(minimums))
    write(con, "published.recent_trends", recent_trends(values, catalogue, minimums))
    current = values.loc[values["is_current"]]
    write(con, "published.gap_measures", gap_table(current, catalogue, minimums))
    over_time, change = gap_over_time(current, catalogue, minimums)
    write(con, "published.gap_over_time", over_time)
    write(con, "published.gap_change", change)
    write(con, "published.illustrative_deaths", illustrative_deaths(values, catalogue, minimums))
    funnels, points, limits = funnel_tables(values, catalogue, minimums)
    write(con, "published.funnels", funnels)
    write(con, "published.funnel_points", points)
    write(con, "published.funnel_limits", limits)
    comparators.publish(con, values, catalogue, minimums, n_sim=n_sim)


def write(con: duckdb.DuckDBPyConnection, qualified: str, frame: pd.DataFrame) -> None:
    con.register("_statistics_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {qualified} AS SELECT * FROM _statistics_frame")
    finally:
        con.unregister("_statistics_frame")


def usable_values(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every published value row with `usable` (a finite value the publisher did not withhold), `counts_usable`
    (a count and a positive denominator, not withheld), `is_current` (a current upper-tier area) and the area's
    region, in the order the pages list areas (by name)."""
    types = list(UPPER_TIER_TYPES)
    frame = con.execute("""
        SELECT v.indicator_id, v.area_code, v.area_name, v.period_label, v.period_start, v.period_end, v.value,
               v.lower_ci_95, v.upper_ci_95, v.lower_ci_998, v.upper_ci_998, v.numerator, v.denominator,
               coalesce(v.is_suppressed, false) AS is_suppressed, v.compared_to_england,
               coalesce(a.valid_to IS NULL AND list_contains(?, a.area_type), false) AS is_current,
               a.region_code, a.region_name
        FROM published.indicator_values v LEFT JOIN published.areas a USING (area_code)
        ORDER BY v.indicator_id, v.period_end, v.period_label, v.area_name, v.area_code""", [types]).df()
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["is_suppressed"] = frame["is_suppressed"].astype(bool)
    withheld = frame["is_suppressed"]
    frame["usable"] = ~withheld & np.isfinite(frame["value"])
    frame["counts_usable"] = (~withheld & np.isfinite(frame["numerator"]) & np.isfinite(frame["denominator"])
                              & (frame["numerator"] >= 0) & (frame["denominator"] > 0))
    return frame


def minimums_frame(minimums: Minimums) -> pd.DataFrame:
    """published.minimums: the least data each statistic needs (data/methods.toml), one row each."""
    meaning = {
        "areas_for_spread": "areas with a value: gap measures, funnel plots, percentile ratios and spread, rank "
                            "intervals, bivariate classes",
        "others_in_group": "areas with a value other than the area itself: a peer, region or group figure",
        "periods_for_trend": "the most recent periods with counts: the recent-trend test",
        "periods_for_gap_change": "periods with enough areas, compared on one set of areas: whether the gap between "
                                  "areas has changed",
    }
    return pd.DataFrame([{"minimum": name, "value": getattr(minimums, name), "applies_to": meaning[name]}
                         for name in Minimums.__dataclass_fields__])


def _periods(frame: pd.DataFrame):
    """(indicator_id, period_label, period_end, rows) for every period of every indicator, in order."""
    for (indicator_id, period_label), part in frame.groupby(["indicator_id", "period_label"], sort=False):
        yield indicator_id, period_label, part["period_end"].iloc[0], part


# --------------------------------------------------------------------------- recent trends

def recent_trends(values: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums) -> pd.DataFrame:
    """published.recent_trends: one row per indicator and area (England and regions included).

    The chi-squared test for linear trend (indicators.stats.trend, 99.8%) over the most recent
    `periods_for_trend` periods that have counts: a period without usable counts (empty, withheld) is skipped,
    so an empty latest period does not block the test. `not tested` for methods without a trend test (their
    figures have no counts behind them), `cannot be calculated` with fewer periods, and `reason` says why.
    """
    points = minimums.periods_for_trend
    kinds = {i: method_rule(m).trend for i, m in catalogue["ci_method"].items()}
    rows = []
    usable = values.loc[values["counts_usable"]]
    usable = usable.loc[[kinds.get(i) != "proportion" or n <= d for i, n, d in
                         zip(usable["indicator_id"], usable["numerator"], usable["denominator"])]]
    usable = usable.sort_values(["indicator_id", "area_code", "period_end"], kind="stable")
    by_key = {key: part for key, part in usable.groupby(["indicator_id", "area_code"], sort=False)}
    for indicator_id, area_code in values[["indicator_id", "area_code"]].drop_duplicates().itertuples(index=False):
        kind = kinds.get(indicator_id, "none")
        part = by_key.get((indicator_id, area_code))
        n = 0 if part is None else len(part)
        if kind == "none":
            rows.append([indicator_id, area_code, NOT_TESTED, None, None, 0, n,
                         "the recent-trend test needs counts and denominators, which this kind of figure does not "
                         "have"])
            continue
        if n < points:
            rows.append([indicator_id, area_code, CANNOT, None, None, n, n,
                         f"needs {points} periods with counts; {n} {'has' if n == 1 else 'have'} them"])
            continue
        last = part.tail(points)
        labels = last["period_label"].tolist()
        trend = recent_trend(last["numerator"], last["denominator"], np.arange(points), kind=kind, points=points)
        rows.append([indicator_id, area_code, trend, labels[0], labels[-1], points, n, ""])
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


# --------------------------------------------------------------------------- gap measures

def gap_table(current: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums) -> pd.DataFrame:
    """published.gap_measures: one row per indicator and period (every period), over the current upper-tier areas
    with a usable value; `area_codes` lists them, so a later comparison of periods can keep to the areas both
    used. Below `areas_for_spread` areas every measure is empty and `reason` says how many there are.
    Measures: indicators.stats.gaps.gap_measures (fifths pooled where the method pools), and the spread of the
    areas' values (minimum, quartiles by linear interpolation, median, maximum) for the spine chart.
    """
    rows = []
    for indicator_id, period_label, period_end, part in _periods(current):
        meta = catalogue.loc[indicator_id]
        used = part.loc[part["usable"]]
        row = dict.fromkeys(GAP_COLUMNS)
        row.update(indicator_id=indicator_id, period_label=period_label, period_end=period_end,
                   n_areas=len(used), area_codes=sorted(used["area_code"]), polarity=meta["polarity"])
        if len(used) < minimums.areas_for_spread:
            row.update(available=False, reason=_too_few(len(used), minimums.areas_for_spread, "gap measures"))
        else:
            frame = used.assign(multiplier=float(meta["multiplier"]))
            measures = gap_measures(frame, polarity=meta["polarity"], poolable=method_rule(meta["ci_method"]).poolable)
            row.update({k: v for k, v in measures.items() if k in row and k not in ("n_areas", "polarity")})
            spread = np.percentile(used["value"].to_numpy(float), [0, 25, 50, 75, 100])
            row.update(available=True, reason="", area_min=spread[0], area_q25=spread[1], area_median=spread[2],
                       area_q75=spread[3], area_max=spread[4])
        rows.append(row)
    return _frame(rows, GAP_COLUMNS)


def _too_few(n: int, minimum: int, what: str) -> str:
    have = "no area has" if n == 0 else ("1 area has" if n == 1 else f"{n} areas have")
    return f"{have} a value for this period; {what} need at least {minimum}"


_TEXT = {"indicator_id", "period_label", "reason", "polarity", "fifth_method", "funnel", "kind", "x_label",
         "first_period", "last_period", "change"}
_FLAGS = {"available", "overdispersed", "tested"}
_WHOLE = {"n_areas", "n_compared", "n_worse_than_england", "n_better_than_england", "n_higher_than_england",
          "n_lower_than_england", "n_with_interval",
          "period_years", "n_without_rate", "areas_above_best", "areas_above_england", "n_periods", "n_areas_latest",
          "df"}


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame with the same column types whatever the rows hold (a table of periods below the minimum is
    all empty numbers, still DOUBLE in the warehouse)."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in _TEXT:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
        elif column in _FLAGS:
            frame[column] = frame[column].fillna(False).astype(bool)
        elif column in _WHOLE:
            frame[column] = pd.to_numeric(frame[column]).astype("Int64")
        elif column not in ("area_codes", "period_end"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


# --------------------------------------------------------------------------- is the gap widening?

def gap_over_time(current: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """published.gap_over_time (one row per indicator and period) and published.gap_change (one row per
    indicator): the gap measures of every period on ONE set of areas, and whether the gap has changed.

    The periods compared are those in which at least `areas_for_spread` current upper-tier areas have a usable
    value (and, for a method with confidence limits, a positive value and positive 95% limits); the areas are
    those with such a value in every one of those periods, so a change is not an artefact of areas coming and
    going. Below `areas_for_spread` such areas there is no table; below `periods_for_gap_change` periods, or
    without confidence limits (no variance beyond chance), the table is published but no change is tested, and
    `reason` says why. The test: indicators.stats.gaps.gap_change (the trend of the between-area variance beyond
    chance, a summary-measures t test over areas, 95%).
    """
    time_rows, change_rows = [], []
    for indicator_id, part in current.groupby("indicator_id", sort=True):
        meta = catalogue.loc[indicator_id]
        rule = method_rule(meta["ci_method"])
        intervals = rule.limits != "none"
        ok = part["usable"]
        if intervals:
            ok = ok & (part["value"] > 0) & (part["lower_ci_95"] > 0) & (part["upper_ci_95"] > part["lower_ci_95"])
        used = part.loc[ok]
        ends = part.groupby("period_label", sort=False)["period_end"].first().sort_values(kind="stable")
        counts = used.groupby("period_label")["area_code"].nunique()
        periods = [p for p in ends.index if counts.get(p, 0) >= minimums.areas_for_spread]
        row = dict.fromkeys(GAP_CHANGE_COLUMNS)
        row.update(indicator_id=indicator_id, available=False, tested=False, n_periods=len(periods))
        change_rows.append(row)
        what = "a value and a 95% interval" if intervals else "a value"
        if not periods:
            row.update(n_areas=0, reason=f"no period has {minimums.areas_for_spread} areas with {what}")
            continue
        kept = used.loc[used["period_label"].isin(periods)]
        present = kept.groupby("area_code")["period_label"].nunique()
        areas = sorted(present.index[present == len(periods)])
        row.update(first_period=periods[0], last_period=periods[-1], n_areas=len(areas),
                   n_areas_latest=int(counts.get(periods[-1], 0)))
        span = f"{len(periods)} periods" if len(periods) > 1 else "the one period"
        if len(areas) < minimums.areas_for_spread:
            have = "no area has" if not areas else ("1 area has" if len(areas) == 1 else f"{len(areas)} areas have")
            row.update(reason=f"{have} {what} in every one of the {span} with enough areas; comparing the gap "
                              f"over time needs at least {minimums.areas_for_spread}")
            continue
        row["available"] = True
        same = kept.loc[kept["area_code"].isin(areas)].assign(multiplier=float(meta["multiplier"]))
        for period in periods:
            frame = same.loc[same["period_label"] == period]
            measures = gap_measures(frame, polarity=meta["polarity"], poolable=rule.poolable)
            time_rows.append({"indicator_id": indicator_id, "period_label": period, "period_end": ends[period],
                              **{k: measures.get(k) for k in GAP_TIME_COLUMNS[3:]}})
        if len(periods) < minimums.periods_for_gap_change:
            row.update(reason=f"only {len(periods)} {'period has' if len(periods) == 1 else 'periods have'} enough "
                              f"areas; saying whether the gap has changed needs at least "
                              f"{minimums.periods_for_gap_change}")
            continue
        if not intervals:
            row.update(reason="this indicator has no confidence intervals, so the variance between areas beyond "
                              "chance, which the test follows, cannot be estimated")
            continue
        grid = {name: same.pivot(index="area_code", columns="period_label", values=name)[periods]
                for name in ("value", "lower_ci_95", "upper_ci_95")}
        years = np.array([(pd.Timestamp(ends[p]) - pd.Timestamp("2000-01-01")).days / 365.25 for p in periods])
        result = gap_change(grid["value"], grid["lower_ci_95"], grid["upper_ci_95"], years)
        row.update({k: result[k] for k in ("slope_per_year", "slope_lower", "slope_upper", "t", "df", "p_value",
                                           "change")})
        row.update(tested=result["change"] is not None,
                   reason="" if result["change"] is not None else "the areas' changes do not vary, so there is "
                                                                    "nothing to test them against")
    return _frame(time_rows, GAP_TIME_COLUMNS), _frame(change_rows, GAP_CHANGE_COLUMNS)


# --------------------------------------------------------------------------- the illustrative deaths figure

def illustrative_deaths(values: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums) -> pd.DataFrame:
    """published.illustrative_deaths: for each period of a deaths-family indicator with death counts, how many fewer
    deaths there would have been had every area with a higher rate had the rate of the best quarter of areas once
    chance is allowed for, and had it had England's rate (indicators.stats.gaps.illustrative_fewer_deaths), over
    the current areas with a usable rate and count; with England's own total and rate (its row, not a sum over
    areas: areas whose rate the publisher did not calculate still had deaths), the deaths in current areas
    without a rate, and the period's length in whole years. Empty below `areas_for_spread` areas.
    The one place this figure is made; indicators.present.lottery.deaths_statement says it."""
    rows = []
    for indicator_id, period_label, _, part in _periods(values):
        if catalogue.loc[indicator_id, "family"] != ILLUSTRATED_FAMILY or not part["numerator"].notna().any():
            continue
        current = part.loc[part["is_current"]]
        used = current.loc[current["usable"] & current["numerator"].notna()]
        without = current.loc[~current["usable"] & ~current["is_suppressed"] & current["numerator"].notna()]
        england = part.loc[part["area_code"] == ENGLAND_CODE]
        england_deaths = england["numerator"].iloc[0] if len(england) else np.nan
        england_rate = england["value"].iloc[0] if len(england) and bool(england["usable"].iloc[0]) else np.nan
        row = dict.fromkeys(ILLUSTRATIVE_COLUMNS)
        row.update(indicator_id=indicator_id, period_label=period_label, n_areas=len(used),
                   period_years=_years(part["period_start"].iloc[0], part["period_end"].iloc[0]),
                   england_deaths=england_deaths, england_rate=england_rate,
                   deaths_in_areas=float(used["numerator"].sum()), n_without_rate=len(without),
                   deaths_without_rate=float(without["numerator"].sum()))
        if len(used) < minimums.areas_for_spread:
            row.update(available=False, reason=_too_few(len(used), minimums.areas_for_spread, "the illustration"
                                                        " and the gap measures"))
        else:
            result = illustrative_fewer_deaths(used["value"], used["lower_ci_95"], used["upper_ci_95"],
                                               used["numerator"], england_rate)
            row.update({k: v for k, v in result.items() if k in row and k != "england_rate"},
                       available=bool(np.isfinite(result["fewer_than_best"])), reason="")
            if not row["available"]:
                row["reason"] = "too few areas have a rate with a 95% interval to allow for chance"
        rows.append(row)
    return _frame(rows, ILLUSTRATIVE_COLUMNS)


def _years(start, end) -> int | None:
    """A period's length in whole years: 2019-01-01 to 2021-12-31 is 3."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return None
    return max(1, round((pd.Timestamp(end) - pd.Timestamp(start)).days / 365.25))


# --------------------------------------------------------------------------- funnel plots

def funnel_tables(values: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """published.funnels (one row per indicator and period: whether there is a funnel and why not, its kind,
    England's value as the benchmark and Spiegelhalter's over-dispersion estimate), published.funnel_points
    (each current area's x and its position against the plain and the adjusted limits) and published.funnel_limits
    (the limits on a grid of FUNNEL_GRID_POINTS x values, plain and, where phi could be estimated, adjusted).

    x is the denominator for proportions and crude rates; for age-standardised rates (funnel 'dsr'), which have no
    single denominator, the effective population count / rate x multiplier (PHEindicatormethods' approach for
    rate_type 'dsr'). Limits: indicators.stats.funnel, at 95% and 99.8% around England's value.
    """
    heads, point_rows, grids = [], [], []
    for indicator_id, period_label, _, part in _periods(values):
        meta = catalogue.loc[indicator_id]
        funnel = method_rule(meta["ci_method"]).funnel
        if funnel == "none":
            continue
        head = dict.fromkeys(FUNNEL_COLUMNS)
        head.update(indicator_id=indicator_id, period_label=period_label, available=False, funnel=funnel,
                    kind="proportion" if funnel == "proportion" else "rate", x_label=FUNNEL_X_LABELS[funnel])
        heads.append(head)
        multiplier = float(meta["multiplier"])
        england = part.loc[(part["area_code"] == ENGLAND_CODE) & part["usable"], "value"]
        if england.empty:
            head["reason"] = "there is no figure for England for this period"
            continue
        frame = part.loc[part["is_current"] & part["usable"]].copy()
        x = frame["numerator"] / frame["value"] * multiplier if funnel == "dsr" else frame["denominator"]
        frame["x"] = pd.to_numeric(x, errors="coerce")
        frame = frame.loc[np.isfinite(frame["x"]) & (frame["x"] > 0)]
        head.update(benchmark=float(england.iloc[0]), n_areas=len(frame))
        if len(frame) < minimums.areas_for_spread:
            n = len(frame)
            have = "no area has" if n == 0 else ("1 area has" if n == 1 else f"{n} areas have")
            head["reason"] = (f"{have} both a value and a {'count' if funnel == 'dsr' else 'denominator'} for this "
                              f"period; a funnel plot needs at least {minimums.areas_for_spread}")
            continue
        disp = overdispersion(frame["value"], frame["x"], head["benchmark"], kind=head["kind"], multiplier=multiplier)
        head.update(available=True, reason="", phi=disp["phi"], chi2=disp["chi2"], p_value=disp["p_value"],
                    overdispersed=disp["overdispersed"], tau2=disp["tau2"])
        grid = np.geomspace(frame["x"].min() * 0.8, frame["x"].max() * 1.25, FUNNEL_GRID_POINTS)
        point_rows.append(frame[["indicator_id", "period_label", "area_code", "x", "value"]]
                          .assign(benchmark=head["benchmark"], phi=head["phi"], _kind=head["kind"], _mult=multiplier))
        grids.append(pd.DataFrame({"indicator_id": indicator_id, "period_label": period_label, "x": grid,
                                   "value": np.nan, "benchmark": head["benchmark"], "phi": head["phi"],
                                   "_kind": head["kind"], "_mult": multiplier}))
    funnels = _frame(heads, FUNNEL_COLUMNS)
    if not point_rows:
        return (funnels, pd.DataFrame(columns=FUNNEL_POINT_COLUMNS), pd.DataFrame(columns=FUNNEL_LIMIT_COLUMNS))
    points, limits = _limits(pd.concat(point_rows, ignore_index=True), pd.concat(grids, ignore_index=True))
    return funnels, points, limits


def _limits(points: pd.DataFrame, grid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Limits at every point and grid x in one call per kind and multiplier (the exact Poisson limits are the
    costly part of the build's funnels), then each point's position."""
    both = pd.concat([points.assign(_point=True), grid.assign(_point=False)], ignore_index=True)
    plain_parts, adjusted_parts = [], []
    for (kind, multiplier), part in both.groupby(["_kind", "_mult"], sort=False):
        plain = funnel_limits(part["benchmark"].to_numpy(float), part["x"].to_numpy(float), kind=kind,
                              multiplier=multiplier).set_index(part.index)
        adjusted = widen_limits(plain, part["benchmark"].to_numpy(float), part["phi"].to_numpy(float), kind,
                                multiplier)
        adjusted.loc[~np.isfinite(part["phi"].to_numpy(float)), ["lower_95", "upper_95", "lower_998",
                                                                  "upper_998"]] = np.nan
        plain_parts.append(plain)
        adjusted_parts.append(adjusted)
    plain = pd.concat(plain_parts).loc[both.index]
    adjusted = pd.concat(adjusted_parts).loc[both.index]
    columns = ["lower_95", "upper_95", "lower_998", "upper_998"]
    is_point = both["_point"].to_numpy()
    out_points = both.loc[is_point, ["indicator_id", "period_label", "area_code", "x"]].copy()
    out_points["position"] = _positions(both.loc[is_point, "value"], plain.loc[is_point])
    out_points["position_adjusted"] = _positions(both.loc[is_point, "value"], adjusted.loc[is_point])
    grid_rows = both.loc[~is_point, ["indicator_id", "period_label", "x"]]
    limits = pd.concat([
        pd.concat([grid_rows, plain.loc[~is_point, columns]], axis=1).assign(adjusted=False),
        pd.concat([grid_rows, adjusted.loc[~is_point, columns]], axis=1).assign(adjusted=True)
        .dropna(subset=["lower_95"])], ignore_index=True)
    return out_points.reset_index(drop=True)[FUNNEL_POINT_COLUMNS], limits[FUNNEL_LIMIT_COLUMNS]


def _positions(value: pd.Series, limits: pd.DataFrame) -> np.ndarray:
    v = value.to_numpy(float)
    out = np.full(len(v), FUNNEL_POSITIONS[0], dtype=object)
    out[v > limits["upper_95"].to_numpy(float)] = FUNNEL_POSITIONS[1]
    out[v < limits["lower_95"].to_numpy(float)] = FUNNEL_POSITIONS[2]
    out[v > limits["upper_998"].to_numpy(float)] = FUNNEL_POSITIONS[3]
    out[v < limits["lower_998"].to_numpy(float)] = FUNNEL_POSITIONS[4]
    none = ~np.isfinite(limits["lower_95"].to_numpy(float))
    out[none] = None
    return out
