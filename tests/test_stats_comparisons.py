"""Benchmark comparison (indicators.stats.compare): every branch, Python and SQL agreeing."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.stats.compare import compare, compare_sql_expr
from indicators.stats.sql import register_macros


@pytest.mark.parametrize(("lower", "upper", "benchmark", "polarity", "expected"), [
    (10, 20, 15, "high_is_good", "similar"),
    (10, 20, 10, "high_is_good", "similar"),        # bounds are inclusive
    (10, 20, 20, "low_is_good", "similar"),
    (10, 20, 9.99, "high_is_good", "better"),       # area above the benchmark
    (10, 20, 9.99, "low_is_good", "worse"),
    (10, 20, 9.99, "no_polarity", "higher"),
    (10, 20, 20.01, "high_is_good", "worse"),       # area below the benchmark
    (10, 20, 20.01, "low_is_good", "better"),
    (10, 20, 20.01, "no_polarity", "lower"),
    (10, 20, 25, None, "lower"),                    # unknown polarity: no judgement
    (np.nan, 20, 15, "high_is_good", "not compared"),
    (10, None, 15, "high_is_good", "not compared"),
    (10, 20, np.nan, "high_is_good", "not compared"),
    (20, 10, 15, "high_is_good", "not compared"),   # lower above upper is not an interval
    (10, np.inf, 15, "high_is_good", "not compared"),
])
def test_compare_branches(lower, upper, benchmark, polarity, expected):
    assert compare(lower, upper, benchmark, polarity) == expected


def test_compare_vectorised_with_scalar_polarity_and_benchmark():
    out = compare(np.array([1, 3, 9]), np.array([3, 5, 11]), 4, "low_is_good")
    assert out.tolist() == ["better", "similar", "worse"]
    out = compare([1, 5], [3, 7], [0.5, 8], ["high_is_good", "no_polarity"])
    assert out.tolist() == ["better", "lower"]


def test_sql_expression_and_macro_agree_with_python():
    rng = np.random.default_rng(3)
    n = 500
    lower = rng.uniform(0, 50, n)
    upper = lower + rng.uniform(0, 20, n)
    bench = rng.uniform(0, 70, n)
    bench[:25] = lower[:25]
    bench[25:50] = upper[25:50]
    lower[50:60] = np.nan
    bench[60:70] = np.nan
    polarity = np.array(["high_is_good", "low_is_good", "no_polarity", None, "odd"], dtype=object)[np.arange(n) % 5]
    frame = pd.DataFrame({"lo": lower, "hi": upper, "b": bench, "pol": polarity})
    con = duckdb.connect()
    register_macros(con)
    con.register("t", frame)
    expr = compare_sql_expr("t.lo", "t.hi", "t.b", "t.pol")
    got = con.execute(f"SELECT {expr} AS c, compare_to_benchmark(lo, hi, b, pol) AS m FROM t").df()
    expected = compare(lower, upper, bench, polarity)
    assert got["c"].tolist() == expected.tolist()
    assert got["m"].tolist() == expected.tolist()
    assert set(expected) == {"better", "worse", "similar", "higher", "lower", "not compared"}


@pytest.mark.parametrize("bad", ["lo; DROP TABLE t", "lo)", "'x'", "1", "lo hi", ""])
def test_sql_expression_accepts_column_names_only(bad):
    with pytest.raises(ValueError):
        compare_sql_expr(bad, "hi", "b", "pol")
