"""Benchmark comparison (similar / better / worse) in Python and as a SQL expression; depends on numpy only.

The rule is Fingertips' "compared with benchmark, confidence intervals overlap" method
applied to the area's interval only: an area is *similar* when the benchmark value lies
inside its interval (bounds inclusive); otherwise *better* or *worse* according to the
indicator's polarity, or *higher* / *lower* where the indicator has no polarity (or an
unknown one). Without a valid interval or without a benchmark value the answer is
*not compared*.

The same words are used at 95% and at 99.8%: the confidence level is carried by the
column (`compared_to_england` vs `compared_to_england_998`), not by the word. A page
that wants Fingertips' wording may call a 99.8% 'better' / 'worse' *best* / *worst*.
"""

from __future__ import annotations

import re

import numpy as np

SIMILAR = "similar"
BETTER = "better"
WORSE = "worse"
HIGHER = "higher"
LOWER = "lower"
NOT_COMPARED = "not compared"
COMPARISON_LABELS = (BETTER, SIMILAR, WORSE, HIGHER, LOWER, NOT_COMPARED)

POLARITIES = ("high_is_good", "low_is_good", "no_polarity")

_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def compare(lower, upper, benchmark, polarity):
    """Compare each area's interval [lower, upper] with a benchmark value.

    Returns a string for scalar input, else a numpy array of strings: 'similar' if
    lower <= benchmark <= upper; 'better'/'worse' by polarity ('high_is_good',
    'low_is_good'), 'higher'/'lower' for 'no_polarity' or any other polarity;
    'not compared' when a limit or the benchmark is missing or not finite, or when
    lower > upper.

    Reference: Public Health England. Fingertips technical guidance: "Comparing with
    the benchmark" (significance judged from the area's 95% / 99.8% confidence interval;
    Wilson 1927, Byar 1987 and Dobson 1991 intervals as in `indicators.stats.intervals`).
    """
    scalar = all(np.ndim(x) == 0 for x in (lower, upper, benchmark, polarity))
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    bench = np.asarray(benchmark, dtype=float)
    pol = np.asarray(polarity, dtype=object)
    lo, hi, bench, pol = np.broadcast_arrays(lo, hi, bench, pol)
    valid = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(bench) & (lo <= hi)
    area_higher = valid & (bench < lo)
    area_lower = valid & (bench > hi)
    high_good = pol == "high_is_good"
    low_good = pol == "low_is_good"
    out = np.full(lo.shape, NOT_COMPARED, dtype=object)
    out[valid] = SIMILAR
    out[area_higher] = HIGHER
    out[area_lower] = LOWER
    out[area_higher & high_good] = BETTER
    out[area_higher & low_good] = WORSE
    out[area_lower & high_good] = WORSE
    out[area_lower & low_good] = BETTER
    return str(out[()]) if scalar else out


def _name(expr: str) -> str:
    if not isinstance(expr, str) or not _SQL_NAME.match(expr):
        raise ValueError(f"not a plain (optionally qualified) SQL column name: {expr!r}")
    return expr


def compare_sql_expr(lower: str, upper: str, benchmark: str, polarity: str) -> str:
    """The SQL CASE expression of `compare` for four column names (plain or table-qualified).

    Only column names are accepted (checked), never values: user input reaches SQL as
    bound parameters elsewhere. Reference: as `compare` (Fingertips technical guidance).
    """
    lo, hi, b, p = (_name(x) for x in (lower, upper, benchmark, polarity))
    return _compare_case(lo, hi, b, p)


def _compare_case(lo: str, hi: str, b: str, p: str) -> str:
    return (
        f"CASE WHEN {lo} IS NULL OR {hi} IS NULL OR {b} IS NULL "
        f"OR NOT isfinite({lo}) OR NOT isfinite({hi}) OR NOT isfinite({b}) OR {lo} > {hi} "
        f"THEN '{NOT_COMPARED}' "
        f"WHEN {b} >= {lo} AND {b} <= {hi} THEN '{SIMILAR}' "
        f"WHEN {b} < {lo} THEN CASE {p} WHEN 'high_is_good' THEN '{BETTER}' "
        f"WHEN 'low_is_good' THEN '{WORSE}' ELSE '{HIGHER}' END "
        f"ELSE CASE {p} WHEN 'high_is_good' THEN '{WORSE}' "
        f"WHEN 'low_is_good' THEN '{BETTER}' ELSE '{LOWER}' END END"
    )
