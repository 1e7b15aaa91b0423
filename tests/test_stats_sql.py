"""DuckDB macros and the one-pass apply_statistics (indicators.stats.sql) against the numpy functions and real Fingertips comparisons."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.stats.compare import compare
from indicators.stats.intervals import Z95, Z998, byars_count, rate, wilson
from indicators.stats.sql import apply_statistics, register_macros

ENGLAND = "E92000001"
COLUMNS = ["indicator_id", "area_code", "period_label", "value", "lower_ci_95", "upper_ci_95",
           "lower_ci_998", "upper_ci_998", "numerator", "denominator", "ci_method", "multiplier", "polarity"]


@pytest.fixture()
def con():
    connection = duckdb.connect()
    register_macros(connection)
    yield connection
    connection.close()


def make_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    numeric = ["value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998",
               "numerator", "denominator", "multiplier"]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def run(con, frame: pd.DataFrame, target: str = "out") -> pd.DataFrame:
    con.register("frame_view", frame)
    con.execute("CREATE OR REPLACE TABLE src AS SELECT * FROM frame_view")
    con.unregister("frame_view")
    apply_statistics(con, "src", target)
    return con.execute(f"SELECT * FROM {target}").df()


def close(a, b) -> bool:
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9, atol=1e-9, equal_nan=True)


# --- macros ------------------------------------------------------------------

def test_macros_equal_numpy_on_random_rows(con):
    rng = np.random.default_rng(11)
    n = 400
    den = np.concatenate([rng.integers(1, 11, 100), rng.integers(1000, 50000, 300)]).astype(float)
    num = np.floor(den * rng.uniform(0, 1, n))
    num[:20] = 0
    num[20:40] = den[20:40]
    num[40:80] += rng.uniform(0, 1, 40).round(3)
    num = np.minimum(num, den)
    counts = np.concatenate([np.arange(0, 12, 0.25), rng.uniform(0, 10, 52).round(2),
                             rng.integers(10, 100000, 300)]).astype(float)
    frame = pd.DataFrame({"num": num, "den": den, "cnt": counts})
    from indicators.stats.sql import add_exact_counts

    add_exact_counts(con, counts)
    con.register("frame_view", frame)
    got = con.execute(f"""
        SELECT wilson_lower(num, den, {Z95!r}, 100), wilson_upper(num, den, {Z95!r}, 100),
               wilson_lower(num, den, {Z998!r}, 100), wilson_upper(num, den, {Z998!r}, 100),
               byars_lower(cnt, {Z95!r}), byars_upper(cnt, {Z95!r}),
               byars_lower(cnt, {Z998!r}), byars_upper(cnt, {Z998!r})
        FROM frame_view""").df().to_numpy()
    for i, (confidence) in enumerate((0.95, 0.998)):
        lower, upper = wilson(num, den, confidence)
        assert close(got[:, 2 * i], lower) and close(got[:, 2 * i + 1], upper)
        lower, upper = byars_count(counts, confidence)
        assert close(got[:, 4 + 2 * i], lower) and close(got[:, 5 + 2 * i], upper)


def test_macros_null_for_invalid_input(con):
    row = con.execute(f"""SELECT wilson_lower(11, 10, {Z95!r}, 100), wilson_upper(-1, 10, {Z95!r}, 100),
        wilson_lower(1, 0, {Z95!r}, 100), wilson_upper(NULL, 10, {Z95!r}, 100),
        byars_lower(-1, {Z95!r}), byars_upper(NULL, {Z95!r}), byars_upper(3, 2.5)""").fetchall()[0]
    assert row == (None,) * 7


def test_macros_work_on_a_read_only_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    connection = duckdb.connect(str(path), read_only=True)
    register_macros(connection)
    assert connection.execute(f"SELECT byars_upper(0, {Z95!r})").fetchall()[0][0] == pytest.approx(3.6888794541139354)
    connection.close()


# --- apply_statistics ----------------------------------------------------------

def reference(frame: pd.DataFrame) -> pd.DataFrame:
    """The documented rules, row by row, with the numpy functions."""
    out = frame.copy()
    values, limits = [], {k: [] for k in ("l95", "u95", "l998", "u998")}
    for row in frame.itertuples(index=False):
        num, den, mult, method = row.numerator, row.denominator, row.multiplier, row.ci_method
        suppressed = bool(getattr(row, "is_suppressed", False))
        ok = not suppressed and {"wilson": num >= 0 and den > 0 and num <= den,
                                 "byars_rate": num >= 0 and den > 0,
                                 "byars_count": num >= 0}.get(method, False)
        value = np.nan if suppressed else row.value
        if np.isnan(value) and ok:
            value = num if method == "byars_count" else num / den * mult
        values.append(value)
        for confidence, lo_name, hi_name, pub_lo, pub_hi in (
                (0.95, "l95", "u95", row.lower_ci_95, row.upper_ci_95),
                (0.998, "l998", "u998", row.lower_ci_998, row.upper_ci_998)):
            if ok and method == "wilson":
                lo, hi = wilson(num, den, confidence, mult)
            elif ok and method == "byars_rate":
                lo, hi = rate(num, den, mult, confidence)
            elif ok and method == "byars_count":
                lo, hi = byars_count(num, confidence)
            elif method in ("wilson", "byars_rate", "byars_count", "dobson", "published"):
                lo, hi = pub_lo, pub_hi
            else:
                lo, hi = np.nan, np.nan
            if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(value) and lo <= value <= hi):
                lo, hi = np.nan, np.nan
            limits[lo_name].append(lo)
            limits[hi_name].append(hi)
    out["value"] = values
    out["lower_ci_95"], out["upper_ci_95"] = limits["l95"], limits["u95"]
    out["lower_ci_998"], out["upper_ci_998"] = limits["l998"], limits["u998"]
    england = out[out["area_code"] == ENGLAND].set_index(["indicator_id", "period_label"])["value"]
    bench = [england.get((i, p), np.nan) for i, p in zip(out["indicator_id"], out["period_label"])]
    for column, lo, hi in (("compared_to_england", "lower_ci_95", "upper_ci_95"),
                           ("compared_to_england_998", "lower_ci_998", "upper_ci_998")):
        labels = compare(out[lo].to_numpy(), out[hi].to_numpy(), np.asarray(bench, float),
                         out["polarity"].to_numpy(object))
        out[column] = np.where(out["area_code"] == ENGLAND, None, labels)
    suppressed = out["is_suppressed"] if "is_suppressed" in out else pd.Series(False, index=out.index)
    notes = []
    for i, row in enumerate(out.itertuples(index=False)):
        if row.area_code == ENGLAND:
            notes.append(None)
        elif suppressed.iloc[i]:
            notes.append("suppressed")
        elif np.isnan(row.value):
            notes.append("no value")
        elif row.ci_method not in ("wilson", "byars_rate", "byars_count", "dobson", "published"):
            notes.append("not calculated")
        elif np.isnan(row.lower_ci_95):
            notes.append("no interval")
        elif np.isnan(bench[i]):
            notes.append("no benchmark")
        else:
            notes.append(None)
    out["comparison_note"] = notes
    return out


def random_source(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    records = []
    methods = ["wilson", "byars_rate", "byars_count", "published", "dobson", "none"]
    polarities = ["high_is_good", "low_is_good", "no_polarity"]
    for i in range(rows):
        method = methods[i % len(methods)]
        indicator = f"ind_{method}_{i % 2}"
        area = ENGLAND if i % 25 == 0 else f"E06{rng.integers(0, 999999):06d}"
        den = float(rng.choice([rng.integers(1, 11), rng.integers(1000, 90000)]))
        num = float(rng.binomial(int(den), rng.uniform(0.01, 0.9)))
        if i % 7 == 0:
            num += 0.333333
        if method == "byars_count":
            num = float(rng.choice([rng.integers(0, 10), rng.integers(0, 500), 10]))
        mult = 100.0 if method == "wilson" else 100000.0
        value = np.nan if i % 3 else (num / den * mult if method != "byars_count" else num)
        published = (value * 0.9, value * 1.1, value * 0.8, value * 1.2) if i % 5 else (np.nan,) * 4
        if i % 11 == 0:
            published = (value * 1.05, value * 1.1, np.nan, value * 1.2)  # lower above value: invalid
        if i % 13 == 0:
            num = den + 1  # numerator above denominator: not a valid proportion
        if i % 17 == 0:
            num = np.nan
        records.append({
            "indicator_id": indicator, "area_code": area, "period_label": f"20{10 + i % 4}",
            "value": value, "lower_ci_95": published[0], "upper_ci_95": published[1],
            "lower_ci_998": published[2], "upper_ci_998": published[3],
            "numerator": num, "denominator": den, "ci_method": method, "multiplier": mult,
            "polarity": polarities[i % 3], "area_name": f"Area {i}", "is_suppressed": bool(i % 2),
        })
    frame = make_frame(records)
    return frame.drop_duplicates(subset=["indicator_id", "area_code", "period_label"]).reset_index(drop=True)


def test_apply_statistics_equals_numpy_reference_on_random_rows(con):
    frame = random_source(600, seed=5)
    got = run(con, frame)
    expected = reference(frame)
    assert list(got.columns) == list(frame.columns) + ["compared_to_england", "compared_to_england_998",
                                                       "comparison_note"]
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998"):
        assert close(got[column], expected[column]), column
    for column in ("compared_to_england", "compared_to_england_998", "comparison_note"):
        assert got[column].fillna("<null>").tolist() == expected[column].fillna("<null>").tolist(), column
    assert got.loc[frame["is_suppressed"], ["value", "lower_ci_95", "upper_ci_998"]].isna().all().all()
    for column in ("area_name", "is_suppressed", "numerator", "denominator", "ci_method", "polarity"):
        assert got[column].tolist() == frame[column].tolist() or close(got[column], frame[column]), column
    assert set(got["compared_to_england"].dropna()) >= {"similar", "better", "worse", "not compared"}


def test_end_to_end_counts_and_95_only():
    con = duckdb.connect()
    # Counts, denominators and publisher 95% limits only; the 99.8% limits are blank.
    rows = [
        {"area_code": ENGLAND, "numerator": 50000, "denominator": 100000},
        {"area_code": "E06000001", "numerator": 81, "denominator": 263},    # 30.8%: below England
        {"area_code": "E06000002", "numerator": 535, "denominator": 1000},  # 53.5%: above England at 95%
        {"area_code": "E06000003", "numerator": 49, "denominator": 100},    # similar
        {"area_code": "E06000004", "numerator": None, "denominator": 100},  # no counts, no limits
    ]
    frame = make_frame([{**r, "indicator_id": "completion", "period_label": "2021/22", "ci_method": "wilson",
                         "multiplier": 100, "polarity": "high_is_good", "lower_ci_95": 1.0,
                         "upper_ci_95": 99.0} for r in rows])
    frame.loc[4, ["lower_ci_95", "upper_ci_95"]] = np.nan
    got = run(con, frame).set_index("area_code")
    for code, num, den in ((ENGLAND, 50000, 100000), ("E06000001", 81, 263), ("E06000002", 535, 1000)):
        for confidence, lo, hi in ((0.95, "lower_ci_95", "upper_ci_95"), (0.998, "lower_ci_998", "upper_ci_998")):
            expected = wilson(num, den, confidence)
            assert got.loc[code, lo] == pytest.approx(expected[0], rel=1e-12)
            assert got.loc[code, hi] == pytest.approx(expected[1], rel=1e-12)
        assert got.loc[code, "value"] == pytest.approx(num / den * 100, rel=1e-12)
    # Wilson 81/263 is 25.53 to 36.62 (Newcombe 1998), 22.80 to 40.14 at 99.8%: England's 50 is
    # above both, so worse at both levels.
    assert got.loc["E06000001", "compared_to_england"] == "worse"
    assert got.loc["E06000001", "compared_to_england_998"] == "worse"
    # 535 of 1000: 95% interval 50.40 to 56.57 excludes 50, 99.8% interval 48.62 to 58.32 does not.
    assert got.loc["E06000002", "compared_to_england"] == "better"
    assert got.loc["E06000002", "compared_to_england_998"] == "similar"
    assert got.loc["E06000003", "compared_to_england"] == "similar"
    assert got.loc["E06000004", "compared_to_england"] == "not compared"
    assert pd.isna(got.loc[ENGLAND, "compared_to_england"]) and pd.isna(got.loc[ENGLAND, "compared_to_england_998"])


def test_not_compared_without_england_row_and_published_limits_kept(con):
    frame = make_frame([
        {"indicator_id": "deaths", "area_code": "E06000001", "period_label": "2019-21", "value": 9.5,
         "lower_ci_95": 7.0, "upper_ci_95": 12.0, "ci_method": "dobson", "multiplier": 100000,
         "polarity": "low_is_good", "numerator": 40},
        {"indicator_id": "deaths", "area_code": "E06000002", "period_label": "2019-21", "value": 9.5,
         "lower_ci_95": 10.0, "upper_ci_95": 12.0, "ci_method": "published", "multiplier": 100000,
         "polarity": "low_is_good"},
        {"indicator_id": "deaths", "area_code": ENGLAND, "period_label": "2020-22", "value": 8.0,
         "lower_ci_95": 7.9, "upper_ci_95": 8.1, "ci_method": "dobson", "multiplier": 100000,
         "polarity": "low_is_good"},
        {"indicator_id": "deaths", "area_code": "E06000001", "period_label": "2020-22", "value": 11.0,
         "lower_ci_95": 9.0, "upper_ci_95": 13.0, "lower_ci_998": 8.0, "upper_ci_998": 15.0,
         "ci_method": "published", "multiplier": 100000, "polarity": "low_is_good"},
        {"indicator_id": "deaths", "area_code": "E06000003", "period_label": "2020-22", "value": 11.0,
         "lower_ci_95": 9.0, "upper_ci_95": 13.0, "ci_method": "none", "multiplier": 100000,
         "polarity": "low_is_good"},
    ])
    got = run(con, frame)
    assert got.loc[0, "lower_ci_95"] == 7.0 and got.loc[0, "upper_ci_95"] == 12.0  # kept, not recomputed
    assert got.loc[0, "compared_to_england"] == "not compared"                  # no England row for 2019-21
    assert pd.isna(got.loc[1, "lower_ci_95"]) and pd.isna(got.loc[1, "upper_ci_95"])  # lower > value: dropped
    assert got.loc[1, "compared_to_england"] == "not compared"
    assert got.loc[3, "compared_to_england"] == "worse"                         # 8 < 9, low is good
    assert got.loc[3, "compared_to_england_998"] == "similar"                   # 8 inside [8, 15]
    assert pd.isna(got.loc[4, "lower_ci_95"]) and got.loc[4, "compared_to_england"] == "not compared"


def test_byars_rate_and_count_rows(con):
    frame = make_frame([
        {"indicator_id": "r", "area_code": ENGLAND, "period_label": "2021", "numerator": 4000,
         "denominator": 5.6e7, "ci_method": "byars_rate", "multiplier": 100000, "polarity": "low_is_good"},
        {"indicator_id": "r", "area_code": "E06000001", "period_label": "2021", "numerator": 3.5,
         "denominator": 90000, "ci_method": "byars_rate", "multiplier": 100000, "polarity": "low_is_good"},
        {"indicator_id": "r", "area_code": "E06000002", "period_label": "2021", "numerator": 0,
         "denominator": 90000, "ci_method": "byars_rate", "multiplier": 100000, "polarity": "low_is_good"},
        {"indicator_id": "c", "area_code": "E06000002", "period_label": "2021", "numerator": 10,
         "ci_method": "byars_count", "multiplier": 1, "polarity": "no_polarity"},
    ])
    got = run(con, frame)
    lower, upper = rate(3.5, 90000, 100000)                       # fractional count below 10: exact
    assert got.loc[1, "lower_ci_95"] == pytest.approx(lower, rel=1e-12)
    assert got.loc[1, "upper_ci_95"] == pytest.approx(upper, rel=1e-12)
    assert got.loc[2, "lower_ci_95"] == 0.0 and got.loc[2, "value"] == 0.0
    assert got.loc[2, "upper_ci_95"] == pytest.approx(3.6888794541139354 / 90000 * 100000, rel=1e-12)
    assert got.loc[3, "value"] == 10 and got.loc[3, "lower_ci_998"] == pytest.approx(byars_count(10, 0.998)[0])


def test_existing_comparison_columns_are_replaced_and_names_checked(con):
    frame = make_frame([{"indicator_id": "x", "area_code": ENGLAND, "period_label": "2021", "value": 1.0,
                         "ci_method": "none", "multiplier": 1, "polarity": "no_polarity"}])
    frame["compared_to_england"] = "stale"
    got = run(con, frame)
    assert list(got.columns).count("compared_to_england") == 1 and pd.isna(got.loc[0, "compared_to_england"])
    con.execute("CREATE SCHEMA IF NOT EXISTS published")
    apply_statistics(con, "src", "published.indicator_values")
    assert con.execute("SELECT count(*) FROM published.indicator_values").fetchall()[0][0] == 1
    for bad in ("src; DROP TABLE src", "a.b.c", "src--", '"src"', ""):
        with pytest.raises(ValueError):
            apply_statistics(con, bad, "out")
        with pytest.raises(ValueError):
            apply_statistics(con, "src", bad)
    con.execute("CREATE TABLE thin AS SELECT 1 AS indicator_id")
    with pytest.raises(ValueError, match="lacks column"):
        apply_statistics(con, "thin", "out")


def test_comparisons_match_fingertips_on_real_files(shared_raw, con):
    checked, labels = 0, set()
    for name in ("indicator-93517_unmet_need_ocu_sample.csv", "indicator-93532_unmet_need_alcohol_sample.csv"):
        raw = pd.read_csv(shared_raw / "fingertips" / name)
        raw = raw[raw["Category"].isna()]
        frame = make_frame([{
            "indicator_id": str(r["Indicator ID"]), "area_code": r["Area Code"], "period_label": r["Time period"],
            "value": r["Value"], "lower_ci_95": r["Lower CI 95.0 limit"], "upper_ci_95": r["Upper CI 95.0 limit"],
            "lower_ci_998": r["Lower CI 99.8 limit"], "upper_ci_998": r["Upper CI 99.8 limit"],
            "numerator": r["Count"], "denominator": r["Denominator"], "ci_method": "published",
            "multiplier": 100, "polarity": "low_is_good",
            "publisher_comparison": r["Compared to England value or percentiles"],
        } for _, r in raw.iterrows()])
        got = run(con, frame)
        areas = got[got["area_code"] != ENGLAND]
        ours = areas["compared_to_england"].str.lower().tolist()
        theirs = areas["publisher_comparison"].str.lower().tolist()
        assert ours == theirs, name
        checked += len(areas)
        labels |= set(ours)
        # Published limits are kept as published (99.8% blank stays blank).
        assert close(got["lower_ci_95"], frame["lower_ci_95"]) and got["lower_ci_998"].isna().all()
    # 26 area rows, including 'better' (Middlesbrough 2019/20, 41.1 with England 52.1) and
    # 'not compared' where the sample has no England row (2018/19).
    assert checked == 26
    assert labels == {"better", "similar", "not compared"}


def test_suppressed_row_with_counts_gets_no_value_and_says_why(con):
    """Issue 13: a row the publisher withheld stays withheld, even when it carries a count and denominator
    (3 of 4 would otherwise come out as 75.0, 30.1 to 95.4); each 'not compared' says its reason."""
    common = {"indicator_id": "c", "period_label": "2021/22", "ci_method": "wilson", "multiplier": 100,
              "polarity": "high_is_good"}
    frame = make_frame([
        {**common, "area_code": ENGLAND, "numerator": 500, "denominator": 1000},
        {**common, "area_code": "E06000001", "numerator": 3, "denominator": 4, "is_suppressed": True,
         "lower_ci_95": 30.1, "upper_ci_95": 95.4},
        {**common, "area_code": "E06000002", "numerator": 30, "denominator": 40},
        {**common, "area_code": "E06000003"},
        {**common, "area_code": "E06000004", "value": 40.0},
        {**common, "area_code": "E06000005", "value": 40.0, "ci_method": "none"},
        {**common, "area_code": "E06000006", "numerator": 30, "denominator": 40, "period_label": "2020/21"},
    ])
    frame["is_suppressed"] = frame["is_suppressed"].fillna(False).astype(bool)
    got = run(con, frame).set_index("area_code")
    withheld = got.loc["E06000001"]
    assert withheld[["value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998"]].isna().all()
    assert (withheld["numerator"], withheld["denominator"]) == (3, 4)            # the counts as published
    assert withheld["compared_to_england"] == "not compared" == withheld["compared_to_england_998"]
    assert got.loc["E06000002", "value"] == 75.0 and got.loc["E06000002", "compared_to_england"] == "better"
    assert got["comparison_note"].fillna("").to_dict() == {
        ENGLAND: "", "E06000001": "suppressed", "E06000002": "", "E06000003": "no value",
        "E06000004": "no interval", "E06000005": "not calculated", "E06000006": "no benchmark"}
