"""Comparator groups in the build: who is in each area's groups (geographic neighbours, CIPFA nearest neighbours,
most similar areas, the rest of its region), each group's figure with the area compared to it, and ranks with
95% rank intervals in England and within each group, into `published` tables.

Depends on numpy, pandas, duckdb, indicators.catalogue (method rules, minimums), indicators.config and
indicators.stats (group_value, compare, ranks); called by indicators.pipeline.statistics.publish_statistics.
An area is never a member of its own comparator group; a group figure needs `others_in_group` members with a
usable value other than the area, rank intervals `areas_for_spread` areas with a value (data/methods.toml).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from indicators.catalogue import Minimums, method_rule
from indicators.config import COMPARATOR_GROUPS, UPPER_TIER_TYPES
from indicators.pipeline.schema import table_exists
from indicators.stats.compare import NOT_COMPARED, compare
from indicators.stats.ranks import ranks_within, simulate_values, simulated_order

ENGLAND_SCOPE = "england"
RANK_KINDS = {"logit": "proportion", "log": "rate", "identity": "identity"}
MEMBER_COLUMNS = ["area_code", "peer_group", "family", "member_code", "member_name", "member_order", "relation",
                  "shared_border_km", "distance_km", "cipfa_rank", "similar_rank", "similar_distance",
                  "similar_reasons", "similar_family", "similar_variables", "member_region_name"]
COMPARISON_COLUMNS = ["indicator_id", "period_label", "area_code", "peer_group", "n_members", "n_with_value",
                      "member_codes", "group_value", "group_method", "compared_to_group", "compared_to_group_998",
                      "reason"]
RANK_COLUMNS = ["indicator_id", "period_label", "peer_group", "group_area_code", "area_code", "rank", "rank_lower",
                "rank_upper", "n_ranked"]


def publish(con: duckdb.DuckDBPyConnection, values: pd.DataFrame, catalogue: pd.DataFrame, minimums: Minimums,
            n_sim: int = 1000) -> None:
    """published.peer_groups, published.group_comparisons and published.rank_intervals (see each function)."""
    from indicators.pipeline.statistics import write

    members = group_members(con)
    write(con, "published.peer_groups", members)
    write(con, "published.group_comparisons", group_comparisons(values, catalogue, members, minimums))
    write(con, "published.rank_intervals", rank_table(values, catalogue, members, minimums, n_sim))


def group_members(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """published.peer_groups: one row per current upper-tier area, comparator group and member, with why the member
    is in it: 'neighbours' (bordering areas, topped up with the nearest: published.peer_geographic, or the shared
    borders alone in a warehouse without it), 'cipfa' (CIPFA's nearest neighbours, their rank; only when the build
    has them), 'similar' (most similar areas on open variables: one set per indicator family, chosen without that
    family's own indicators, `family` naming it; '' in a warehouse with one set) and 'region' (the other current
    upper-tier areas of the area's region). `family` is '' for groups that serve every family. Never the area."""
    types = list(UPPER_TIER_TYPES)
    current = "SELECT area_code FROM published.areas WHERE valid_to IS NULL AND list_contains($types, area_type)"
    nothing = ("NULL::DOUBLE AS distance_km, NULL::INTEGER AS cipfa_rank, NULL::INTEGER AS similar_rank, "
               "NULL::DOUBLE AS similar_distance, NULL::VARCHAR AS similar_reasons, NULL::VARCHAR AS similar_family, "
               "NULL::VARCHAR AS similar_variables")
    if table_exists(con, "published", "peer_geographic"):
        neighbours = f"""
        SELECT g.area_code, 'neighbours' AS peer_group, '' AS family, g.neighbour_code AS member_code,
               a.area_name AS member_name, CAST(g.rank AS BIGINT) AS member_order, g.relation,
               CAST(g.shared_border_km AS DOUBLE) AS shared_border_km, CAST(g.distance_km AS DOUBLE) AS distance_km,
               NULL::INTEGER AS cipfa_rank, NULL::INTEGER AS similar_rank, NULL::DOUBLE AS similar_distance,
               NULL::VARCHAR AS similar_reasons, NULL::VARCHAR AS similar_family, NULL::VARCHAR AS similar_variables,
               a.region_name AS member_region_name
        FROM published.peer_geographic g JOIN published.areas a ON a.area_code = g.neighbour_code
        WHERE g.area_code IN ({current}) AND g.neighbour_code IN ({current})"""
    else:
        neighbours = f"""
        SELECT n.area_code, 'neighbours' AS peer_group, '' AS family, n.neighbour_code AS member_code,
               a.area_name AS member_name,
               row_number() OVER (PARTITION BY n.area_code ORDER BY n.shared_border_km DESC, a.area_name)
                   AS member_order,
               'border' AS relation, CAST(n.shared_border_km AS DOUBLE) AS shared_border_km, {nothing},
               a.region_name AS member_region_name
        FROM published.neighbours n JOIN published.areas a ON a.area_code = n.neighbour_code
        WHERE n.area_code IN ({current}) AND n.neighbour_code IN ({current})"""
    parts = [neighbours]
    if table_exists(con, "published", "peer_cipfa"):
        parts.append(f"""
        SELECT c.area_code, 'cipfa', '', c.neighbour_code, coalesce(a.area_name, c.neighbour_name),
               row_number() OVER (PARTITION BY c.area_code ORDER BY c.rank), 'cipfa', NULL, NULL,
               CAST(c.rank AS INTEGER), NULL, NULL, NULL, NULL, NULL, a.region_name
        FROM published.peer_cipfa c LEFT JOIN published.areas a ON a.area_code = c.neighbour_code
        WHERE c.area_code IN ({current})""")
    if table_exists(con, "published", "peer_similar"):
        columns = {r[0] for r in con.execute("""SELECT column_name FROM information_schema.columns
            WHERE table_schema = 'published' AND table_name = 'peer_similar'""").fetchall()}
        family, variables = (("s.family", "s.variables") if {"family", "variables"} <= columns
                             else ("''", "NULL::VARCHAR"))
        parts.append(f"""
        SELECT s.area_code, 'similar', {family}, s.peer_code, coalesce(a.area_name, s.peer_name),
               row_number() OVER (PARTITION BY s.area_code, {family} ORDER BY s.rank), 'similar', NULL, NULL, NULL,
               CAST(s.rank AS INTEGER), CAST(s.distance AS DOUBLE), s.reasons, nullif({family}, ''), {variables},
               a.region_name
        FROM published.peer_similar s LEFT JOIN published.areas a ON a.area_code = s.peer_code
        WHERE s.area_code IN ({current})""")
    parts.append(f"""
        SELECT me.area_code, 'region', '', a.area_code, a.area_name,
               row_number() OVER (PARTITION BY me.area_code ORDER BY a.area_name), 'region', NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, a.region_name
        FROM published.areas a JOIN published.areas me ON me.region_code = a.region_code
        WHERE a.area_code IN ({current}) AND me.area_code IN ({current}) AND a.area_code <> me.area_code""")
    order = ", ".join(f"'{g}'" for g in COMPARATOR_GROUPS)
    frame = con.execute(f"""
        SELECT * FROM ({' UNION ALL '.join(parts)})
        WHERE member_code <> area_code
        ORDER BY area_code, list_position([{order}], peer_group), family, member_order""", {"types": types}).df()
    frame.columns = MEMBER_COLUMNS
    return frame


def _rules(catalogue: pd.DataFrame) -> dict[str, tuple[bool, float, str, str]]:
    """indicator -> (poolable, multiplier, polarity, rank kind)."""
    return {i: (method_rule(m).poolable, float(mult), pol, RANK_KINDS[method_rule(m).rank_scale])
            for i, m, mult, pol in zip(catalogue.index, catalogue["ci_method"], catalogue["multiplier"],
                                       catalogue["polarity"])}


def group_comparisons(values: pd.DataFrame, catalogue: pd.DataFrame, members: pd.DataFrame,
                      minimums: Minimums) -> pd.DataFrame:
    """published.group_comparisons: for every indicator and period, every current upper-tier area and each of its
    comparator groups, the group's figure over the members with a usable value (never the area itself) and the
    area compared with it at 95% and 99.8% (indicators.stats.compare).

    The figure is pooled where the indicator's method pools and every member used has its counts, otherwise the
    unweighted mean of their values (the rule of indicators.stats.gaps.group_value, applied to every group at once). With fewer than
    `others_in_group` members with a value there is no figure, the comparison is 'not compared' and `reason`
    says how many there are; `member_codes` lists the members used.
    """
    rules = _rules(catalogue)
    frame_rules = pd.DataFrame([(i, r[0], r[1], r[2], f) for (i, r), f in zip(rules.items(), catalogue["family"])],
                               columns=["indicator_id", "poolable", "multiplier", "polarity", "family"])
    current = values.loc[values["is_current"], ["indicator_id", "period_label", "area_code", "value", "numerator",
                                                "denominator", "usable", "counts_usable", "lower_ci_95",
                                                "upper_ci_95", "lower_ci_998", "upper_ci_998"]]
    con = duckdb.connect()
    try:
        con.register("current_values", current)
        con.register("members", members[["area_code", "peer_group", "family", "member_code"]])
        con.register("rules", frame_rules)
        # The rule of indicators.stats.gaps.group_value, for every group at once: pooled counts where the method
        # pools and every member used has its counts, otherwise the mean of the members' values.
        frame = con.execute("""
            WITH used AS (
                SELECT indicator_id, period_label, area_code AS member_code, value, numerator, denominator,
                       counts_usable
                FROM current_values WHERE usable),
            sizes AS (SELECT area_code, peer_group, family, count(*) AS n_members FROM members GROUP BY ALL),
            periods AS (SELECT DISTINCT indicator_id, period_label FROM current_values),
            grid AS (  -- each indicator with the groups that serve its family (a family's own similar set)
                SELECT p.indicator_id, p.period_label, s.area_code, s.peer_group, s.family, s.n_members
                FROM periods p JOIN rules r USING (indicator_id)
                JOIN sizes s ON s.family = '' OR s.family = r.family),
            figures AS (
                SELECT g.indicator_id, g.period_label, g.area_code, g.peer_group, count(*) AS n_with_value,
                       list(m.member_code ORDER BY m.member_code) AS member_codes, avg(u.value) AS mean_value,
                       sum(u.numerator) AS num, sum(u.denominator) AS den, bool_and(u.counts_usable) AS all_counts
                FROM grid g
                JOIN members m ON m.area_code = g.area_code AND m.peer_group = g.peer_group AND m.family = g.family
                JOIN used u ON u.indicator_id = g.indicator_id AND u.period_label = g.period_label
                           AND u.member_code = m.member_code
                GROUP BY ALL)
            SELECT s.indicator_id, s.period_label, s.area_code, s.peer_group, s.n_members,
                   coalesce(f.n_with_value, 0) AS n_with_value, coalesce(f.member_codes, []) AS member_codes,
                   CASE WHEN coalesce(f.n_with_value, 0) >= ? THEN
                       CASE WHEN r.poolable AND f.all_counts THEN f.num / f.den * r.multiplier ELSE f.mean_value END
                   END AS group_value,
                   CASE WHEN coalesce(f.n_with_value, 0) >= ? THEN
                       CASE WHEN r.poolable AND f.all_counts THEN 'pooled' ELSE 'mean' END ELSE '' END AS group_method,
                   r.polarity, coalesce(o.usable, false) AS usable, o.lower_ci_95, o.upper_ci_95, o.lower_ci_998,
                   o.upper_ci_998
            FROM grid s
            JOIN rules r USING (indicator_id)
            LEFT JOIN figures f ON f.indicator_id = s.indicator_id AND f.period_label = s.period_label
                 AND f.area_code = s.area_code AND f.peer_group = s.peer_group
            LEFT JOIN current_values o ON o.indicator_id = s.indicator_id AND o.period_label = s.period_label
                 AND o.area_code = s.area_code
            ORDER BY s.indicator_id, s.period_label, s.area_code, s.peer_group""",
                            [minimums.others_in_group, minimums.others_in_group]).df()
    finally:
        con.close()
    enough = frame["n_with_value"].to_numpy() >= minimums.others_in_group
    mine = frame["usable"].to_numpy(bool)
    for level, column in (("95", "compared_to_group"), ("998", "compared_to_group_998")):
        words = compare(frame[f"lower_ci_{level}"].astype(float), frame[f"upper_ci_{level}"].astype(float),
                        frame["group_value"].astype(float), frame["polarity"].astype(object))
        frame[column] = np.where(enough & mine, words, NOT_COMPARED)
    frame["reason"] = [_reason(n, size, ok, has, word, minimums.others_in_group)
                       for n, size, ok, has, word in zip(frame["n_with_value"], frame["n_members"], enough, mine,
                                                         frame["compared_to_group"])]
    frame["group_value"] = frame["group_value"].astype("float64")
    return frame[COMPARISON_COLUMNS]


def _reason(n: int, size: int, enough: bool, has_value: bool, word: str, minimum: int) -> str:
    """Why an area is not compared with a group ('' when it is)."""
    if not enough:
        others = f"{size} other area" + ("" if size == 1 else "s")
        have = (f"none of the group's {others} has" if n == 0 else
                f"only {n} of the group's {others} {'has' if n == 1 else 'have'}")
        return f"{have} a value for this period; a group figure needs at least {minimum}"
    if not has_value:
        return "this area has no value for this period"
    if word == NOT_COMPARED:
        return "this area's value has no valid 95% interval"
    return ""


def rank_table(values: pd.DataFrame, catalogue: pd.DataFrame, members: pd.DataFrame, minimums: Minimums,
               n_sim: int = 1000) -> pd.DataFrame:
    """published.rank_intervals: ranks and 95% rank intervals (indicators.stats.ranks, 1,000 seeded simulations
    from each area's interval on its method's scale) among all current upper-tier areas with a value
    (peer_group 'england') and within each area's comparator groups, the area and its members (peer_group and
    group_area_code). Only where `areas_for_spread` areas have a value: a rank among fewer is not published.

    England's ranks are `rank_intervals`' for the period's areas in name order; within a group the ranks are read
    from the same simulation, so an area's simulated values are the same in every table it appears in.
    """
    rules = _rules(catalogue)
    minimum = minimums.areas_for_spread
    current = values.loc[values["is_current"] & values["usable"]]
    groups = {key: [key[0]] + list(part["member_code"])
              for key, part in members.groupby(["area_code", "peer_group", "family"], sort=False)}
    family_of = dict(zip(catalogue.index, catalogue["family"]))
    frames = []
    for (indicator_id, period_label), part in current.groupby(["indicator_id", "period_label"], sort=False):
        if len(part) < minimum:
            continue
        _, multiplier, polarity, kind = rules[indicator_id]
        draws = simulate_values(part["value"], part["lower_ci_95"], part["upper_ci_95"], kind, multiplier, n_sim)
        order = simulated_order(draws, polarity)
        values = part["value"].to_numpy(float)
        codes = part["area_code"].to_numpy()
        rank, lower, upper = ranks_within(order, values, [np.arange(len(part))], polarity)
        frames.append(pd.DataFrame({"indicator_id": indicator_id, "period_label": period_label,
                                    "peer_group": ENGLAND_SCOPE, "group_area_code": "", "area_code": codes,
                                    "rank": rank[0], "rank_lower": lower[0], "rank_upper": upper[0],
                                    "n_ranked": len(part)}))
        serving = {(area, group): codes for (area, group, family), codes in groups.items()
                   if family in ("", family_of[indicator_id])}
        frames += _group_ranks(part, serving, minimum, order, polarity)
    if not frames:
        return pd.DataFrame(columns=RANK_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[RANK_COLUMNS]
    for column in ("rank", "rank_lower", "rank_upper"):
        out[column] = out[column].astype("float64")
    return out


def _group_ranks(part: pd.DataFrame, groups: dict, minimum: int, order: np.ndarray, polarity: str
                 ) -> list[pd.DataFrame]:
    """Ranks within every group of one indicator and period with at least `minimum` members with a value, from
    the period's simulation (`order`, indicators.stats.ranks.simulated_order); groups of one size are ranked
    together."""
    position = {code: i for i, code in enumerate(part["area_code"])}
    by_size: dict[int, dict[tuple[int, ...], list[tuple[str, str]]]] = {}
    for (area_code, group), codes in groups.items():
        index = tuple(sorted(position[c] for c in codes if c in position))   # area-name order, as the tables
        if len(index) >= minimum:
            by_size.setdefault(len(index), {}).setdefault(index, []).append((area_code, group))
    if not by_size:
        return []
    values = part["value"].to_numpy(float)
    codes = part["area_code"].to_numpy()
    columns: dict[str, list] = {c: [] for c in ("peer_group", "group_area_code", "area_code", "rank", "rank_lower",
                                                "rank_upper", "n_ranked")}
    for size, sets in by_size.items():
        index = list(sets)
        rank, lower, upper = ranks_within(order, values, [np.array(i) for i in index], polarity)
        for k, members in enumerate(index):
            for area_code, group in sets[members]:
                columns["peer_group"] += [group] * size
                columns["group_area_code"] += [area_code] * size
                columns["area_code"] += list(codes[list(members)])
                columns["rank"] += list(rank[k])
                columns["rank_lower"] += list(lower[k])
                columns["rank_upper"] += list(upper[k])
                columns["n_ranked"] += [size] * size
    return [pd.DataFrame({"indicator_id": part["indicator_id"].iloc[0], "period_label": part["period_label"].iloc[0],
                          **columns})]
