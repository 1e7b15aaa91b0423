"""Times the one-pass SQL statistics step against PHStatsMethods on the same rows and appends the result to RESULTS.md.

Usage: uv run python benchmarks/bench_intervals.py [--db PATH] [--indicators 10 --areas 160 --periods 15]

With --db, rows come from the warehouse's published.indicator_values (ci_method,
multiplier and polarity from the indicator catalogue), keeping the rows whose method
both sides compute; otherwise a synthetic table of counts and denominators is built.
PHStatsMethods (GPL-3) is a test/benchmark-only dependency and is never imported by
the `indicators` package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from indicators.stats.sql import apply_statistics, register_macros

ENGLAND = "E92000001"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = ("# Benchmark results\n\n"
          "Blocks are appended by the scripts in `benchmarks/` (newest last); do not edit old blocks.\n")
LIMITS = ["lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998"]


def synthetic(n_indicators: int, n_areas: int, n_periods: int, seed: int = 20261122) -> pd.DataFrame:
    """Counts and denominators shaped like the dashboard's: proportions, crude rates and counts."""
    rng = np.random.default_rng(seed)
    kinds = ["wilson"] * 6 + ["byars_rate"] * 3 + ["byars_count"]
    polarities = ["high_is_good", "low_is_good", "no_polarity"]
    frames = []
    for i in range(n_indicators):
        method = kinds[i % len(kinds)]
        areas = [f"E06{a:06d}" for a in range(n_areas - 1)]
        for p in range(n_periods):
            if method == "wilson":
                den = rng.integers(15, 6000, n_areas - 1).astype(float)
                num = rng.binomial(den.astype(int), rng.beta(30, 45, n_areas - 1)).astype(float)
            else:
                den = rng.integers(80_000, 1_500_000, n_areas - 1).astype(float)
                num = rng.poisson(den * rng.gamma(20, 0.5 / 20, n_areas - 1) * 1e-4).astype(float)
            frame = pd.DataFrame({"area_code": areas, "numerator": num, "denominator": den})
            frame.loc[len(frame)] = {"area_code": ENGLAND, "numerator": num.sum(), "denominator": den.sum()}
            frame["indicator_id"] = f"indicator_{i:02d}"
            frame["period_label"] = f"{2008 + p}/{(9 + p) % 100:02d}"
            frame["ci_method"] = method
            frame["multiplier"] = 100.0 if method == "wilson" else (100000.0 if method == "byars_rate" else 1.0)
            frame["polarity"] = polarities[i % 3]
            frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for column in ["value", *LIMITS]:
        out[column] = np.nan
    out["area_name"] = "Area " + out["area_code"]
    return out[["indicator_id", "area_code", "area_name", "period_label", "value", *LIMITS,
                "numerator", "denominator", "ci_method", "multiplier", "polarity"]]


def from_warehouse(path: Path) -> pd.DataFrame | None:
    """Rows of published.indicator_values with counts, joined to the catalogue's method; None if unusable."""
    from indicators.catalogue import load_catalogue

    con = duckdb.connect(str(path), read_only=True)
    try:
        exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'published' "
                             "AND table_name = 'indicator_values'").fetchall()[0][0]
        if not exists:
            return None
        rows = con.execute("SELECT indicator_id, area_code, area_name, period_label, value, lower_ci_95, "
                           "upper_ci_95, lower_ci_998, upper_ci_998, numerator, denominator "
                           "FROM published.indicator_values").df()
    finally:
        con.close()
    meta = pd.DataFrame([{"indicator_id": i.id, "ci_method": i.ci_method, "multiplier": i.multiplier,
                          "polarity": i.polarity} for i in load_catalogue()])
    rows = rows.merge(meta, on="indicator_id", how="inner")
    rows = rows[rows["ci_method"].isin(["wilson", "byars_rate", "byars_count"])
                & rows["numerator"].notna() & (rows["numerator"] >= 0)
                & ((rows["ci_method"] == "byars_count") | (rows["denominator"] > 0))]
    rows = rows[(rows["ci_method"] != "wilson") | (rows["numerator"] <= rows["denominator"])]
    rows = rows.drop_duplicates(["indicator_id", "area_code", "period_label"])
    # Both sides recompute everything from the counts.
    rows[["value", *LIMITS]] = np.nan
    return rows.reset_index(drop=True) if len(rows) else None


def with_phstatsmethods(frame: pd.DataFrame) -> pd.DataFrame:
    """The same values, limits and England comparisons computed with PHStatsMethods and pandas."""
    import PHStatsMethods as ph

    out = frame.copy()
    out["row"] = np.arange(len(out))
    parts = []
    for method, part in out.groupby("ci_method", sort=False):
        part = part.copy()
        if method == "wilson":
            for multiplier, sub in part.groupby("multiplier"):
                res = ph.ph_proportion(sub[["numerator", "denominator"]], "numerator", "denominator",
                                       confidence=[0.95, 0.998], multiplier=int(multiplier), metadata=False)
                part.loc[sub.index, "value"] = res["Value"].to_numpy()
                for level, suffix in (("95", "95"), ("998", "99_8")):
                    part.loc[sub.index, f"lower_ci_{level}"] = res[f"lower_{suffix}_ci"].to_numpy()
                    part.loc[sub.index, f"upper_ci_{level}"] = res[f"upper_{suffix}_ci"].to_numpy()
        elif method == "byars_rate":
            # PHStatsMethods refuses a count of 0 (byars_upper); those rows use its exact_upper(0).
            positive = part[part["numerator"] > 0]
            for multiplier, sub in positive.groupby("multiplier"):
                res = ph.ph_rate(sub[["numerator", "denominator"]], "numerator", "denominator",
                                 confidence=[0.95, 0.998], multiplier=int(multiplier), metadata=False)
                part.loc[sub.index, "value"] = res["Value"].to_numpy()
                for level, suffix in (("95", "95"), ("998", "99_8")):
                    part.loc[sub.index, f"lower_ci_{level}"] = res[f"lower_{suffix}_ci"].to_numpy()
                    part.loc[sub.index, f"upper_ci_{level}"] = res[f"upper_{suffix}_ci"].to_numpy()
            zero = part.index[part["numerator"] == 0]
            part.loc[zero, "value"] = 0.0
            for level, confidence in (("95", 0.95), ("998", 0.998)):
                part.loc[zero, f"lower_ci_{level}"] = 0.0
                part.loc[zero, f"upper_ci_{level}"] = (ph.exact_upper(0, confidence) / part.loc[zero, "denominator"]
                                                       * part.loc[zero, "multiplier"])
        elif method == "byars_count":
            part["value"] = part["numerator"]
            for level, confidence in (("95", 0.95), ("998", 0.998)):
                part[f"lower_ci_{level}"] = part["numerator"].apply(
                    lambda x, c=confidence: 0.0 if x == 0 else ph.byars_lower(x, c))
                part[f"upper_ci_{level}"] = part["numerator"].apply(
                    lambda x, c=confidence: ph.exact_upper(0, c) if x == 0 else ph.byars_upper(x, c))
        parts.append(part)
    out = pd.concat(parts).sort_values("row")
    england = (out[out["area_code"] == ENGLAND][["indicator_id", "period_label", "value"]]
               .rename(columns={"value": "england_value"}))
    out = out.merge(england, on=["indicator_id", "period_label"], how="left")
    for column, level in (("compared_to_england", "95"), ("compared_to_england_998", "998")):
        lo, hi, b = out[f"lower_ci_{level}"], out[f"upper_ci_{level}"], out["england_value"]
        higher_word = np.select([out["polarity"] == "high_is_good", out["polarity"] == "low_is_good"],
                                ["better", "worse"], "higher")
        lower_word = np.select([out["polarity"] == "high_is_good", out["polarity"] == "low_is_good"],
                               ["worse", "better"], "lower")
        label = np.select([lo.isna() | hi.isna() | b.isna(), (b >= lo) & (b <= hi), b < lo],
                          ["not compared", "similar", higher_word], lower_word)
        out[column] = np.where(out["area_code"] == ENGLAND, None, label)
    return out.drop(columns=["row", "england_value"]).reset_index(drop=True)


def time_sql(frame: pd.DataFrame, repeats: int = 3) -> tuple[float, pd.DataFrame]:
    con = duckdb.connect()
    con.register("frame_view", frame)
    con.execute("CREATE TABLE source_rows AS SELECT * FROM frame_view")
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        register_macros(con)
        apply_statistics(con, "source_rows", "with_statistics")
        timings.append(time.perf_counter() - start)
    result = con.execute("SELECT * FROM with_statistics").df()
    con.close()
    return statistics.median(timings), result


def check(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[bool, float]:
    worst = 0.0
    for column in ["value", *LIMITS]:
        a, b = ours[column].to_numpy(float), theirs[column].to_numpy(float)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return False, np.inf
        both = ~np.isnan(a)
        relative = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1.0)
        worst = max(worst, float(relative.max(initial=0.0)))
    same_labels = all(ours[c].fillna("").tolist() == theirs[c].fillna("").tolist()
                      for c in ("compared_to_england", "compared_to_england_998"))
    return same_labels and worst <= 1e-9, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="warehouse to read published.indicator_values from")
    parser.add_argument("--indicators", type=int, default=10)
    parser.add_argument("--areas", type=int, default=160)
    parser.add_argument("--periods", type=int, default=15)
    args = parser.parse_args(argv)

    frame, source = None, "synthetic"
    if args.db and args.db.exists():
        frame = from_warehouse(args.db)
        source = f"warehouse {args.db.name}" if frame is not None else source
    if frame is None:
        frame = synthetic(args.indicators, args.areas, args.periods)
        source = f"synthetic ({args.indicators} indicators x {args.areas} areas x {args.periods} periods)"

    sql_seconds, ours = time_sql(frame)
    start = time.perf_counter()
    theirs = with_phstatsmethods(frame)
    oracle_seconds = time.perf_counter() - start
    ok, worst = check(ours, theirs)
    ratio = oracle_seconds / sql_seconds

    block = "\n".join([
        f"\n## bench_intervals.py, {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "",
        f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}",
        f"- rows: {len(frame):,} from {source}; methods "
        + ", ".join(f"{k} {v:,}" for k, v in frame["ci_method"].value_counts().items()),
        f"- apply_statistics (one SQL pass, both levels, England comparisons; median of 3): {sql_seconds:.3f} s",
        f"- PHStatsMethods + pandas on the same rows: {oracle_seconds:.3f} s",
        f"- ratio: {ratio:.1f}x faster (target >= 5x)",
        f"- identical to 1e-9: {'yes' if ok else 'NO'} (largest relative difference {worst:.2e}; "
        "comparison labels equal)",
        "",
    ])
    print(block)
    if not RESULTS.exists():
        RESULTS.write_text(HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(block)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
