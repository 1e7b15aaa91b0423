"""Contract checks on a warehouse, declared as data (name, SQL returning offending rows, severity); depends on duckdb and indicators.config.

Each check's SQL returns the offending rows (at most a few are quoted in the message); an
empty result passes. `fail` checks stop a build; `warn` checks are reported by `indicators
check` (e.g. differences between our limits and the publisher's beyond rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from indicators.config import UPPER_TIER_TYPES

UPPER_TIER_SQL = "(" + ", ".join(f"'{t}'" for t in UPPER_TIER_TYPES) + ")"


@dataclass(frozen=True)
class Check:
    name: str
    severity: str  # "fail" | "warn"
    sql: str
    expected: str


@dataclass
class CheckResult:
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


V = "published.indicator_values"
P = "published.value_provenance"

CHECKS: tuple[Check, ...] = (
    Check("indicator_values key is unique", "fail", f"""
        SELECT indicator_id, area_code, period_label, count(*) AS n FROM {V}
        GROUP BY ALL HAVING count(*) > 1""",
        "one row per indicator_id, area_code and period_label"),
    Check("indicator_values key is not null", "fail", f"""
        SELECT indicator_id, area_code, period_label FROM {V}
        WHERE indicator_id IS NULL OR area_code IS NULL OR period_label IS NULL
           OR period_start IS NULL OR period_end IS NULL OR period_end < period_start""",
        "indicator_id, area_code, period_label and a valid period_start <= period_end on every row"),
    Check("area codes are known", "fail", f"""
        SELECT DISTINCT v.area_code FROM {V} v LEFT JOIN published.areas a USING (area_code)
        WHERE a.area_code IS NULL""",
        "every area_code in published.areas"),
    Check("indicator ids are catalogued", "fail", f"""
        SELECT DISTINCT v.indicator_id FROM {V} v LEFT JOIN published.indicators i USING (indicator_id)
        WHERE i.indicator_id IS NULL""",
        "every indicator_id in published.indicators"),
    Check("95% limits surround the value", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.lower_ci_95, v.value, v.upper_ci_95, p.source_file
        FROM {V} v JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE v.value IS NOT NULL AND (v.lower_ci_95 > v.value + 1e-9 OR v.upper_ci_95 < v.value - 1e-9)""",
        "lower_ci_95 <= value <= upper_ci_95"),
    Check("99.8% limits contain the 95% limits", "fail", f"""
        SELECT indicator_id, area_code, period_label, lower_ci_998, lower_ci_95, upper_ci_95, upper_ci_998
        FROM {V}
        WHERE (lower_ci_998 > lower_ci_95 + 1e-9) OR (upper_ci_998 < upper_ci_95 - 1e-9)""",
        "lower_ci_998 <= lower_ci_95 and upper_ci_95 <= upper_ci_998"),
    Check("numerators within denominators for proportions", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.numerator, v.denominator, p.source_file
        FROM {V} v JOIN published.indicators i USING (indicator_id) JOIN published.methods m USING (ci_method)
        JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE m.bounded AND v.numerator > v.denominator + 1e-9""",
        "numerator <= denominator"),
    Check("no negative values or counts", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.value, v.numerator, v.denominator, p.source_file
        FROM {V} v JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE v.value < 0 OR v.numerator < 0 OR v.denominator < 0""",
        "values, numerators and denominators >= 0"),
    Check("percentages within 0-100", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.value, p.source_file
        FROM {V} v JOIN published.indicators i USING (indicator_id)
        JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE i.unit = '%' AND (v.value > 100 + 1e-9)""",
        "percentages on the publisher's 0-100 scale"),
    Check("comparison categories are valid", "fail", f"""
        SELECT indicator_id, area_code, period_label, compared_to_england, compared_to_england_998 FROM {V}
        WHERE coalesce(compared_to_england, 'x') NOT IN ('better','similar','worse','higher','lower','not compared','x')
           OR coalesce(compared_to_england_998, 'x') NOT IN ('better','similar','worse','higher','lower','not compared','x')""",
        "better/similar/worse, higher/similar/lower or not compared"),
    Check("suppressed rows carry no value", "fail", f"""
        SELECT indicator_id, area_code, period_label, value, lower_ci_95, upper_ci_95 FROM {V}
        WHERE is_suppressed AND (value IS NOT NULL OR lower_ci_95 IS NOT NULL OR upper_ci_95 IS NOT NULL
                                 OR lower_ci_998 IS NOT NULL OR upper_ci_998 IS NOT NULL
                                 OR coalesce(compared_to_england, 'not compared') <> 'not compared')""",
        "a value the publisher withheld stays withheld: no value, no limits, not compared"),
    Check("each row's state is one of the known states and fits its figures", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.value_status, v.value, v.numerator, v.is_suppressed
        FROM {V} v
        WHERE v.value_status IS NULL
           OR v.value_status NOT IN ('value', 'suppressed', 'not calculated', 'count only', 'no data')
           OR (v.value_status = 'value') <> (v.value IS NOT NULL)
           OR (v.value_status = 'suppressed') <> (v.value IS NULL AND coalesce(v.is_suppressed, false))
           OR (v.value_status IN ('not calculated', 'count only') AND v.numerator IS NULL)
           OR (v.value_status = 'no data' AND v.numerator IS NOT NULL)""",
        "value_status: value (a value), suppressed (withheld), not calculated or count only (a count, no value), "
        "no data"),
    Check("empty rows name no source", "fail", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.source_id, p.source_file FROM {V} v
        LEFT JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE v.value IS NULL AND v.numerator IS NULL AND NOT coalesce(v.is_suppressed, false)
          AND (v.source_id IS NOT NULL OR (p.source_file IS NOT NULL AND p.harmonisation = 'no data'))""",
        "a row without any figure has no source_id, and an added row claims no file"),
    Check("every current area has a row in each indicator's latest period", "fail", f"""
        WITH latest AS (SELECT indicator_id, max(period_end) AS period_end FROM {V} GROUP BY ALL)
        SELECT l.indicator_id, a.area_code FROM latest l
        CROSS JOIN (SELECT area_code FROM published.areas WHERE valid_to IS NULL
                    AND area_type IN {UPPER_TIER_SQL}) a
        WHERE NOT EXISTS (SELECT 1 FROM {V} v WHERE v.indicator_id = l.indicator_id
                          AND v.area_code = a.area_code AND v.period_end = l.period_end)""",
        "a row (perhaps empty, with a note) for every current upper-tier area"),
    Check("areas are unique", "fail", """
        SELECT area_code, count(*) FROM published.areas GROUP BY ALL HAVING count(*) > 1""",
        "one row per area_code in published.areas"),
    Check("current areas have a region", "fail", """
        SELECT area_code, area_name FROM published.areas
        WHERE valid_to IS NULL AND area_type NOT IN ('country') AND region_code IS NULL""",
        "region_code on every current area"),
    Check("our limits agree with the publisher's", "warn", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, p.source_file,
               v.lower_ci_95, p.pub_lower_ci_95, v.upper_ci_95, p.pub_upper_ci_95
        FROM {V} v JOIN {P} p USING (indicator_id, area_code, period_label)
        JOIN published.indicators i USING (indicator_id) JOIN published.methods m USING (ci_method)
        WHERE m.limits <> 'published' AND (
              abs(v.lower_ci_95 - p.pub_lower_ci_95) > 0.05 + 1e-6 * abs(v.lower_ci_95)
           OR abs(v.upper_ci_95 - p.pub_upper_ci_95) > 0.05 + 1e-6 * abs(v.upper_ci_95)
           OR abs(v.lower_ci_998 - p.pub_lower_ci_998) > 0.05 + 1e-6 * abs(v.lower_ci_998)
           OR abs(v.upper_ci_998 - p.pub_upper_ci_998) > 0.05 + 1e-6 * abs(v.upper_ci_998))""",
        "computed limits within rounding (0.05) of the publisher's"),
    Check("our England comparison agrees with the publisher's", "warn", f"""
        SELECT v.indicator_id, v.area_code, v.period_label, v.compared_to_england, p.publisher_comparison
        FROM {V} v JOIN {P} p USING (indicator_id, area_code, period_label)
        WHERE p.publisher_comparison <> '' AND v.compared_to_england IS NOT NULL
          AND v.compared_to_england <> 'not compared'
          AND lower(p.publisher_comparison) NOT IN ('not compared', '')
          AND NOT contains(lower(p.publisher_comparison), v.compared_to_england)""",
        "the same better/similar/worse as the publisher's own comparison column"),
)


def run_checks(con: duckdb.DuckDBPyConnection, checks: tuple[Check, ...] = CHECKS) -> CheckResult:
    result = CheckResult()
    for check in checks:
        try:
            cur = con.execute(check.sql)
            names = [d[0] for d in cur.description]
            bad = cur.fetchall()
        except duckdb.Error as exc:
            result.failures.append(f"{check.name}: could not run ({exc})")
            continue
        if not bad:
            result.passed.append(check.name)
            continue
        sample = "; ".join(", ".join(f"{n}={v}" for n, v in zip(names, row)) for row in bad[:3])
        message = f"{check.name}: {len(bad)} row(s) break it (expected {check.expected}); e.g. {sample}"
        (result.failures if check.severity == "fail" else result.warnings).append(message)
    return result
