"""DuckDB macros for the interval formulas and the one-pass statistics step of the build; depends on duckdb and intervals.py.

`register_macros(con)` creates temporary SQL macros (wilson_lower/upper, byars_lower/upper,
compare_to_benchmark) and the small table `stats_poisson_exact` of exact Poisson limits
the Byar macros look up below 10 events (DuckDB has no chi-squared quantile function).
`apply_statistics(con, source, target)` computes values, both levels of limits and the
England comparisons for every row of a table in one SQL statement.
"""

from __future__ import annotations

import re

import numpy as np

from indicators.config import ENGLAND_CODE
from indicators.stats.compare import _compare_case
from indicators.stats.intervals import SMALL_COUNT, Z95, Z998, exact_poisson

REQUIRED_COLUMNS = (
    "indicator_id", "area_code", "period_label", "value", "lower_ci_95", "upper_ci_95",
    "lower_ci_998", "upper_ci_998", "numerator", "denominator", "ci_method", "multiplier", "polarity",
)
COMPARISON_COLUMNS = ("compared_to_england", "compared_to_england_998", "comparison_note")
# Why a row is 'not compared' with England (NULL where it is compared, and on England's own rows).
COMPARISON_NOTES = ("suppressed", "no value", "not calculated", "no interval", "no benchmark")
# The methods that give a row an interval (computed or as published); 'none' and unknown methods do not.
INTERVAL_METHODS = ("wilson", "byars_rate", "byars_count", "dobson", "published")

# (confidence, z) pairs the exact-Poisson table holds; macros called with another z
# return NULL below 10 events.
EXACT_LEVELS = ((0.95, Z95), (0.998, Z998))
# Tolerance for matching a macro's z argument to the table's z.
_Z_TOLERANCE = 1e-9

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _relation_name(name: str) -> str:
    """Quote a table or view name given as `name` or `schema.name` (plain identifiers only)."""
    parts = name.split(".") if isinstance(name, str) else []
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(f"not a plain table name (identifier or schema.identifier): {name!r}")
    return ".".join(f'"{p}"' for p in parts)


def _exact_rows(counts) -> list[tuple[float, float, float, float, float]]:
    rows = []
    for confidence, z in EXACT_LEVELS:
        lower, upper = exact_poisson(np.asarray(counts, dtype=float), confidence)
        rows += [(float(c), confidence, z, float(lo), float(hi))
                 for c, lo, hi in zip(counts, np.atleast_1d(lower), np.atleast_1d(upper))]
    return rows


def register_macros(con) -> None:
    """Create the temporary macros and the exact-Poisson lookup table on a DuckDB connection.

    Macros (all NULL-safe: invalid input gives NULL, never an error):
      wilson_lower(n, d, z, multiplier), wilson_upper(n, d, z, multiplier)
          Wilson score limits for n of d on the multiplier scale (Wilson 1927;
          Newcombe 1998 method 3); NULL unless 0 <= n <= d and d > 0.
      byars_lower(x, z), byars_upper(x, z)
          Limits of a count: Byar's approximation for x >= 10 (Breslow & Day 1987),
          exact Poisson below (Ulm 1990) read from `stats_poisson_exact`, which holds
          the counts 0..9 at 95% and 99.8% (z = Z95 or Z998; other z give NULL below 10).
          Fractional counts below 10 need their own rows: `add_exact_counts` adds them
          (apply_statistics does so for the counts in its source), matching the
          continuous chi-squared limits PHStatsMethods uses.
      compare_to_benchmark(lower, upper, benchmark, polarity)
          'similar' / 'better' / 'worse' / 'higher' / 'lower' / 'not compared', as
          `indicators.stats.compare.compare`.
    Temporary objects live only in this connection, so a read-only warehouse works too.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stats_poisson_exact "
        "(count DOUBLE, confidence DOUBLE, zscore DOUBLE, lower DOUBLE, upper DOUBLE)"
    )
    add_exact_counts(con, range(SMALL_COUNT))
    con.execute("""
        CREATE OR REPLACE TEMP MACRO wilson_lower(n, d, z, multiplier) AS
        CASE WHEN n >= 0 AND d > 0 AND n <= d AND isfinite(n) AND isfinite(d) THEN
            CASE WHEN n = 0 THEN 0.0 ELSE
            (2 * n + z * z - z * sqrt(greatest(z * z + 4 * n * (1 - n / d), 0.0)))
                / (2 * (d + z * z)) * multiplier END
        END
    """)
    con.execute("""
        CREATE OR REPLACE TEMP MACRO wilson_upper(n, d, z, multiplier) AS
        CASE WHEN n >= 0 AND d > 0 AND n <= d AND isfinite(n) AND isfinite(d) THEN
            CASE WHEN n = d THEN 1.0 * multiplier ELSE
            (2 * n + z * z + z * sqrt(greatest(z * z + 4 * n * (1 - n / d), 0.0)))
                / (2 * (d + z * z)) * multiplier END
        END
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP MACRO byars_lower(x, z) AS
        CASE WHEN x >= {SMALL_COUNT} AND isfinite(x) THEN
            x * pow(1 - 1 / (9 * x) - z / (3 * sqrt(x)), 3)
        WHEN x >= 0 THEN
            (SELECT max(e.lower) FROM stats_poisson_exact e
             WHERE e.count = x AND abs(e.zscore - z) < {_Z_TOLERANCE})
        END
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP MACRO byars_upper(x, z) AS
        CASE WHEN x >= {SMALL_COUNT} AND isfinite(x) THEN
            (x + 1) * pow(1 - 1 / (9 * (x + 1)) + z / (3 * sqrt(x + 1)), 3)
        WHEN x >= 0 THEN
            (SELECT max(e.upper) FROM stats_poisson_exact e
             WHERE e.count = x AND abs(e.zscore - z) < {_Z_TOLERANCE})
        END
    """)
    con.execute(
        "CREATE OR REPLACE TEMP MACRO compare_to_benchmark(lo, hi, bench, pol) AS "
        + _compare_case("lo", "hi", "bench", "pol")
    )


def add_exact_counts(con, counts) -> None:
    """Add exact Poisson limits (95% and 99.8%) for counts 0 <= x < 10 not yet in `stats_poisson_exact`.

    Reference: Ulm K. Am J Epidemiol 1990;131:373-5 (via `intervals.exact_poisson`).
    """
    wanted = sorted({float(c) for c in counts if c is not None and np.isfinite(c) and 0 <= c < SMALL_COUNT})
    if not wanted:
        return
    have = {row[0] for row in con.execute("SELECT DISTINCT count FROM stats_poisson_exact").fetchall()}
    missing = [c for c in wanted if c not in have]
    if missing:
        con.executemany("INSERT INTO stats_poisson_exact VALUES (?, ?, ?, ?, ?)", _exact_rows(missing))


def _columns(con, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def apply_statistics(con, source: str, target: str, benchmarks: str | None = None) -> None:
    """Create `target` from `source` with values, 95% and 99.8% limits and England comparisons filled in.

    `source` is a table or view with at least REQUIRED_COLUMNS; every other column is
    carried through unchanged and in place. Per row, by `ci_method`:

    - 'wilson' with 0 <= numerator <= denominator, denominator > 0: value (if null) =
      numerator / denominator * multiplier; both levels of Wilson limits are computed,
      replacing any the publisher gave (Wilson 1927; Newcombe 1998).
    - 'byars_rate' with numerator >= 0 and denominator > 0: value (if null) = the crude
      rate; limits = Byar/exact limits of the count / denominator * multiplier
      (Breslow & Day 1987; Ulm 1990).
    - 'byars_count' with numerator >= 0: value (if null) = numerator; limits of the count.
    - the three methods above without usable counts, 'dobson' and 'published': the
      publisher's limits are kept (a DSR cannot be recomputed from one aggregate row).
    - 'none' or an unknown method: no limits.
    - a row the publisher withheld (`is_suppressed` true, where the column exists): no value and
      no limits whatever counts it carries, so a withheld figure is never re-derived from them;
      its counts are carried through as published.
    An interval that is incomplete, not finite or does not contain the value
    (lower > value or upper < value) is set to NULL, per level.

    `compared_to_england` / `compared_to_england_998` compare the row's 95% / 99.8%
    interval with the value of the England row (area_code E92000001) of the same
    indicator_id and period_label, as `compare.compare`; 'not compared' without a valid
    interval or without an England value (also when the England rows of that indicator
    and period disagree, e.g. an unexpected breakdown); NULL on England's own rows.
    `comparison_note` says why a row is 'not compared' at 95%: 'suppressed', 'no value',
    'not calculated' (the indicator's ci_method gives no interval), 'no interval' (missing,
    not finite or not containing the value) or 'no benchmark' (no single England value for
    that indicator and period); NULL where the row is compared and on England's own rows.
    With `benchmarks` (a table or view of indicator_id, period_label, value), England's values
    come from it instead of from `source` (the local-data import compares with the published
    England figure, never with a row of the file).
    Existing comparison columns in `source` are replaced.

    One SQL statement (after adding any fractional counts below 10 to the exact table).
    """
    src = _relation_name(source)
    dst = _relation_name(target)
    columns = _columns(con, src)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{source} lacks column(s) {', '.join(missing)}")
    if not con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stats_poisson_exact' AND temporary"
    ).fetchall()[0][0]:
        register_macros(con)
    fractional = con.execute(
        f"SELECT DISTINCT CAST(numerator AS DOUBLE) FROM {src} "
        f"WHERE ci_method IN ('byars_rate', 'byars_count') AND numerator >= 0 AND numerator < {SMALL_COUNT} "
        f"AND numerator <> floor(numerator)"
    ).fetchall()
    add_exact_counts(con, [row[0] for row in fractional])

    interval_methods = ", ".join(f"'{m}'" for m in INTERVAL_METHODS)

    def level(z: float, lower: str, upper: str) -> tuple[str, str]:
        exprs = []
        for side, published in (("lower", lower), ("upper", upper)):
            exprs.append(f"""CASE
                WHEN _method = 'wilson' AND _counts_ok THEN wilson_{side}(_num, _den, {z!r}::DOUBLE, _mult)
                WHEN _method = 'byars_rate' AND _counts_ok THEN byars_{side}(_num, {z!r}::DOUBLE) / _den * _mult
                WHEN _method = 'byars_count' AND _counts_ok THEN byars_{side}(_num, {z!r}::DOUBLE)
                WHEN _method IN ({interval_methods}) THEN CAST("{published}" AS DOUBLE)
                END""")
        return exprs[0], exprs[1]

    suppressed = ("coalesce(TRY_CAST(is_suppressed AS BOOLEAN), FALSE)" if "is_suppressed" in columns
                  else "FALSE")

    l95, u95 = level(Z95, "lower_ci_95", "upper_ci_95")
    l998, u998 = level(Z998, "lower_ci_998", "upper_ci_998")

    def valid(lo: str, hi: str) -> str:
        return (f"({lo} IS NOT NULL AND {hi} IS NOT NULL AND _value IS NOT NULL "
                f"AND isfinite({lo}) AND isfinite({hi}) AND isfinite(_value) "
                f"AND {lo} <= _value AND _value <= {hi})")

    replaced = {
        "value": "_value",
        "lower_ci_95": "CASE WHEN _ok95 THEN _l95 END",
        "upper_ci_95": "CASE WHEN _ok95 THEN _u95 END",
        "lower_ci_998": "CASE WHEN _ok998 THEN _l998 END",
        "upper_ci_998": "CASE WHEN _ok998 THEN _u998 END",
        "compared_to_england": (
            f"CASE WHEN area_code = '{ENGLAND_CODE}' THEN NULL "
            f"WHEN NOT _ok95 THEN 'not compared' "
            f"ELSE compare_to_benchmark(_l95, _u95, _england, polarity) END"),
        "compared_to_england_998": (
            f"CASE WHEN area_code = '{ENGLAND_CODE}' THEN NULL "
            f"WHEN NOT _ok998 THEN 'not compared' "
            f"ELSE compare_to_benchmark(_l998, _u998, _england, polarity) END"),
        "comparison_note": (
            f"CASE WHEN area_code = '{ENGLAND_CODE}' THEN NULL "
            f"WHEN _suppressed THEN 'suppressed' "
            f"WHEN _value IS NULL THEN 'no value' "
            f"WHEN _method NOT IN ({interval_methods}) THEN 'not calculated' "
            f"WHEN NOT _ok95 THEN 'no interval' "
            f"WHEN _england IS NULL THEN 'no benchmark' END"),
    }
    out_columns = [c for c in columns if c not in COMPARISON_COLUMNS] + list(COMPARISON_COLUMNS)
    select_list = ",\n    ".join(
        f'{replaced[c]} AS "{c}"' if c in replaced else f'"{c}"' for c in out_columns
    )
    england_sql = (f"""
    SELECT indicator_id, period_label,
        CASE WHEN count(DISTINCT _value) = 1 THEN min(_value) END AS _england
    FROM stats_checked
    WHERE area_code = '{ENGLAND_CODE}' AND _value IS NOT NULL
    GROUP BY indicator_id, period_label""" if benchmarks is None else f"""
    SELECT indicator_id, period_label,
        CASE WHEN count(DISTINCT CAST(value AS DOUBLE)) = 1 THEN min(CAST(value AS DOUBLE)) END AS _england
    FROM {_relation_name(benchmarks)} WHERE value IS NOT NULL
    GROUP BY indicator_id, period_label""")
    sql = f"""
CREATE OR REPLACE TABLE {dst} AS
WITH stats_source AS (
    SELECT *,
        row_number() OVER () AS _row,
        CAST(ci_method AS VARCHAR) AS _method,
        CAST(numerator AS DOUBLE) AS _num,
        CAST(denominator AS DOUBLE) AS _den,
        CAST(multiplier AS DOUBLE) AS _mult,
        {suppressed} AS _suppressed
    FROM {src}
),
stats_flagged AS (
    SELECT *,
        NOT _suppressed AND coalesce(CASE _method
            WHEN 'wilson' THEN _num >= 0 AND _den > 0 AND _num <= _den
                AND isfinite(_num) AND isfinite(_den) AND isfinite(_mult)
            WHEN 'byars_rate' THEN _num >= 0 AND _den > 0
                AND isfinite(_num) AND isfinite(_den) AND isfinite(_mult)
            WHEN 'byars_count' THEN _num >= 0 AND isfinite(_num)
            END, FALSE) AS _counts_ok
    FROM stats_source
),
stats_computed AS (
    SELECT *,
        CASE WHEN _suppressed THEN NULL
             WHEN value IS NOT NULL AND isfinite(CAST(value AS DOUBLE)) THEN CAST(value AS DOUBLE)
             WHEN _counts_ok AND _method IN ('wilson', 'byars_rate') THEN _num / _den * _mult
             WHEN _counts_ok AND _method = 'byars_count' THEN _num
        END AS _value,
        {l95} AS _l95,
        {u95} AS _u95,
        {l998} AS _l998,
        {u998} AS _u998
    FROM stats_flagged
),
stats_checked AS (
    SELECT *,
        coalesce({valid('_l95', '_u95')}, FALSE) AS _ok95,
        coalesce({valid('_l998', '_u998')}, FALSE) AS _ok998
    FROM stats_computed
),
stats_england AS ({england_sql})
SELECT
    {select_list}
FROM stats_checked
LEFT JOIN stats_england USING (indicator_id, period_label)
ORDER BY _row
"""
    con.execute(sql)
