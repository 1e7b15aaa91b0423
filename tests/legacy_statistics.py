"""The per-request statistics the query layer computed before they moved into the build (indicators/products/
queries.py at commit f91a6e8), kept as an independent implementation: tests check that the published tables equal
what this code gives on the same warehouse. Only the reads it makes go through today's query layer; the
value_type substring rules are the old ones, on purpose."""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.config import ENGLAND_CODE
from indicators.products.queries import benchmark_value, indicator, map_values
from indicators.stats.compare import compare
from indicators.stats.funnel import adjusted_funnel_limits, funnel_limits, overdispersion
from indicators.stats.gaps import gap_measures
from indicators.stats.ranks import rank_intervals
from indicators.stats.trend import recent_trend

FUNNEL_POSITIONS = ("within 95% limits", "outside 95% limits (high)", "outside 95% limits (low)",
                    "outside 99.8% limits (high)", "outside 99.8% limits (low)")


def _ranks_kind(value_type: str) -> str:
    value_type = (value_type or "").lower()
    if "proportion" in value_type or value_type in ("percentage", "percent"):
        return "proportion"
    if "rate" in value_type or "ratio" in value_type:
        return "rate"
    return "identity"


def group_value(frame: pd.DataFrame, meta: dict) -> dict:
    present = frame[pd.to_numeric(frame["value"], errors="coerce").notna()]
    if present.empty:
        return {"value": float("nan"), "method": "none", "n_areas": 0}
    counts = present[["numerator", "denominator"]].apply(pd.to_numeric, errors="coerce")
    poolable = (meta.get("ci_method") in ("wilson", "byars_rate", "byars_count")
                and counts.notna().all().all() and (counts["denominator"] > 0).all())
    if poolable:
        value = float(counts["numerator"].sum() / counts["denominator"].sum() * float(meta["multiplier"]))
        return {"value": value, "method": "pooled", "n_areas": int(len(present))}
    return {"value": float(present["value"].astype(float).mean()), "method": "mean", "n_areas": int(len(present))}


def league_table(con, indicator_id: str, period_label: str, area_codes: list[str] | None = None) -> pd.DataFrame:
    frame = map_values(con, indicator_id, period_label)
    if area_codes is not None:
        frame = frame[frame["area_code"].isin(list(area_codes))].reset_index(drop=True)
    meta = indicator(con, indicator_id) or {}
    ranks = rank_intervals(frame["value"].astype(float), frame["lower_ci_95"].astype(float),
                           frame["upper_ci_95"].astype(float), meta.get("polarity") or "no_polarity",
                           kind=_ranks_kind(meta.get("value_type", "")), multiplier=float(meta.get("multiplier") or 100))
    return pd.concat([frame, ranks.set_index(frame.index)], axis=1)


def gap_summary(con, indicator_id: str, period_label: str) -> dict | None:
    meta = indicator(con, indicator_id)
    frame = map_values(con, indicator_id, period_label)
    if meta is None or frame["value"].notna().sum() == 0:
        return None
    frame["multiplier"] = float(meta["multiplier"])
    # The old gap_measures pooled when every row's ci_method was wilson or byars_rate.
    result = gap_measures(frame, polarity=meta["polarity"], poolable=meta["ci_method"] in ("wilson", "byars_rate"))
    return result


def funnel_data(con, indicator_id: str, period_label: str, adjusted: bool = False) -> dict:
    meta = indicator(con, indicator_id)
    value_type = (meta.get("value_type") or "").lower()
    multiplier = float(meta["multiplier"])
    england = benchmark_value(con, indicator_id, period_label)
    frame = map_values(con, indicator_id, period_label)
    frame = frame[frame["value"].notna()].copy()
    if "proportion" in value_type:
        kind, x = "proportion", frame["denominator"]
    elif "standardised" in value_type:
        kind, x = "rate", frame["numerator"] / frame["value"] * multiplier
    else:
        kind, x = "rate", frame["denominator"]
    frame["x"] = pd.to_numeric(x, errors="coerce")
    frame = frame[frame["x"].notna() & (frame["x"] > 0)].reset_index(drop=True)
    benchmark = float(england["value"])
    disp = overdispersion(frame["value"], frame["x"], benchmark, kind=kind, multiplier=multiplier)
    phi = float(disp["phi"]) if adjusted and np.isfinite(disp.get("phi", np.nan)) else None
    grid = np.geomspace(frame["x"].min() * 0.8, frame["x"].max() * 1.25, 120)

    def limits(at):
        if phi is not None:
            return adjusted_funnel_limits(benchmark, at, kind=kind, multiplier=multiplier, phi=phi)
        return funnel_limits(benchmark, at, kind=kind, multiplier=multiplier)

    at_points = limits(frame["x"].to_numpy())
    value = frame["value"].to_numpy(float)
    position = np.full(len(frame), FUNNEL_POSITIONS[0], dtype=object)
    position[value > at_points["upper_95"].to_numpy()] = FUNNEL_POSITIONS[1]
    position[value < at_points["lower_95"].to_numpy()] = FUNNEL_POSITIONS[2]
    position[value > at_points["upper_998"].to_numpy()] = FUNNEL_POSITIONS[3]
    position[value < at_points["lower_998"].to_numpy()] = FUNNEL_POSITIONS[4]
    frame["position"] = position
    return {"points": frame, "limits": limits(grid), "overdispersion": disp, "phi": phi, "benchmark": benchmark}


def recent_trends(con, indicator_id: str, area_code: str) -> str:
    """The old build's published.recent_trends rule: the last 5 periods with a value or a count."""
    rows = con.execute("""SELECT numerator, denominator, period_end FROM published.indicator_values
                          WHERE indicator_id = ? AND area_code = ? AND (value IS NOT NULL OR numerator IS NOT NULL)
                          ORDER BY period_end""", [indicator_id, area_code]).df().tail(5)
    kind = {"wilson": "proportion", "byars_rate": "rate"}[indicator(con, indicator_id)["ci_method"]]
    return recent_trend(rows["numerator"], rows["denominator"], rows["period_end"], kind=kind)


def compared_to_group(lower: float, upper: float, value: float, polarity: str) -> str:
    return compare(lower, upper, value, polarity)


__all__ = ["ENGLAND_CODE", "compared_to_group", "funnel_data", "gap_summary", "group_value", "league_table",
           "recent_trends"]
