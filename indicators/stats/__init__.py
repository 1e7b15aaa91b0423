"""The statistical methods Fingertips uses, each one documented function with its reference; depends on numpy, scipy, pandas and duckdb.

intervals: Wilson, Byar/exact Poisson and Dobson limits (vectorised, NaN-safe).
sql:       the same formulas as DuckDB macros and the one-pass `apply_statistics` build step.
compare:   similar / better / worse against a benchmark.
funnel:    funnel-plot limits and Spiegelhalter's over-dispersion adjustment.
gaps:      how large the gap between areas is, whether it has changed, and a group of areas' figure (pooled or
           mean).
ranks:     ranks with 95% rank intervals, in all areas or within groups of them.
trend:     the recent-trend chi-squared test.
"""

from indicators.stats.compare import compare, compare_sql_expr
from indicators.stats.funnel import adjusted_funnel_limits, funnel_limits, overdispersion, widen_limits
from indicators.stats.gaps import (
    can_pool, fewer_deaths, gap_change, gap_measures, gap_table, group_value, illustrative_fewer_deaths,
    quantile_groups, shrunken_rates,
)
from indicators.stats.intervals import (
    DSR, ESP2013, Z95, Z998, byars_count, dobson, dobson_grouped, exact_poisson, rate, wilson,
)
from indicators.stats.ranks import rank_intervals, ranks_within, simulate_values, simulated_order
from indicators.stats.sql import apply_statistics, register_macros
from indicators.stats.trend import recent_trend, trend_test

__all__ = [
    "DSR", "ESP2013", "Z95", "Z998", "adjusted_funnel_limits", "apply_statistics", "byars_count", "can_pool",
    "compare", "compare_sql_expr", "dobson", "dobson_grouped", "exact_poisson", "fewer_deaths",
    "funnel_limits", "gap_change", "gap_measures", "gap_table", "group_value", "illustrative_fewer_deaths",
    "overdispersion", "quantile_groups", "rank_intervals", "ranks_within", "rate", "recent_trend", "register_macros",
    "shrunken_rates", "simulate_values",
    "simulated_order", "trend_test", "widen_limits", "wilson",
]
