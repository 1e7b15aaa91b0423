"""The area profile's sentences, charts and tables, as the app and the static site show them; depends on pandas and indicators.present.

pages/area.py (the dashboard) and indicators.products.publish (the static site) both compose the
profile from these functions, so the two say the same words about the same numbers. Sentences are
plain text: each caller escapes them for its medium (Markdown or HTML). Tables and charts are
markup from indicators.present.htmltable and svgcharts, with everything from the data escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from indicators.catalogue import load_minimums
from indicators.present import htmltable, svgcharts, text
from indicators.present.htmltable import Column
from indicators.present.state import PEER_GROUP_LABELS, PEER_GROUPS

CHOOSE_AREA = ("Choose an area: type a place, council, code or postcode in the Area box, or select the area on the "
               "map.")
GLANCE_INTRO = ("Each indicator at its latest published period, against England and against the rest of the region "
                "(the region's other areas, pooled where counts allow), at 95%.")
# The spread of areas (range, quartiles) is published only where this many areas have a value (data/methods.toml).
SPREAD_MIN_AREAS = load_minimums().areas_for_spread
SPINE_EXPLAINED = ("Each row: England at the centre line; light bar, the range of the areas with a value (how many is "
                   "given at the end of the row), drawn only where at least "
                   f"{SPREAD_MIN_AREAS} areas have one; dark bar, the middle half of them (25th to 75th percentile); "
                   "the marker is this area, shaped, coloured and labelled by its comparison with England; the open "
                   "diamond is the rest of the region. For indicators without a better or worse direction, lower "
                   "values are on the left.")
NO_SPINE = (f"No indicator has both a value for England and a spread of at least {SPREAD_MIN_AREAS} areas, so there "
            "is no spine chart.")
NO_PEERS = "No peer group is known for this area (no shared borders, CIPFA neighbours or regional neighbours)."
PEER_GROUP_HELP = ("Geographic neighbours share a border, topped up with the nearest areas to at least five; CIPFA "
                   "nearest neighbours are the areas most similar on CIPFA's socio-economic model; the most similar "
                   "areas are closest on population, opiate/crack use and drug-death history, never on the figures "
                   "they are compared on (the reasons list the distances).")
TREND_BANDS = "Shaded bands: 95% intervals."
LOCAL_HEAD = "Local and community figures: not official statistics."
ALL_COMPARED = "Every indicator could be compared."


AREA_TYPES = {"unitary": "A unitary authority", "county": "A county council area",
              "metropolitan district": "A metropolitan district", "london borough": "A London borough"}


def _in_region(region: str) -> str:
    """'the North West', 'the East of England', 'London', 'Yorkshire and The Humber'."""
    return f"the {region}" if region.split(" ", 1)[0] in ("North", "South", "East", "West") else region


def area_line(info: Mapping, code: str) -> str:
    """'A unitary authority in the North West · area code E06000009' ('A London borough · ...' in London)."""
    kind = AREA_TYPES.get(str(info.get("area_type") or "").lower(), "An area")
    region = str(info.get("region_name") or "")
    where = "" if not region or region in kind else f" in {_in_region(region)}"
    return f"{kind}{where} · area code {code}"


def rest_of_region(region_name: str | None) -> str:
    """How sentences name the region an area is compared with: the rest of it, never including the area."""
    return f"the rest of {region_name}" if region_name else "the rest of the region"


def glance(name: str, profile: pd.DataFrame, region_name: str | None) -> list[tuple[str, str | None]]:
    """Each indicator with a figure: the sentence against England and against the rest of its region (the other
    areas of the region: published.group_comparisons), or why there is no regional comparison."""
    benchmark = rest_of_region(region_name)
    out = []
    for row in profile.to_dict("records"):
        if not text.has_figure(row):
            if row.get("network_label") and not text.is_missing(row.get("network_label")):
                out.append((f"{row.get('short_title') or row.get('title')}: {text.network_sentence(row)}", None))
            continue
        region = None
        if not text.is_missing(row.get("value")) and not text.is_missing(row.get("region_value")):
            region = text.comparison_sentence(name, row, row, row["region_value"], benchmark_name=benchmark,
                                              compared=row.get("compared_to_region"))
        elif not text.is_missing(row.get("value")) and row.get("region_reason"):
            region = f"No comparison with {benchmark}: {row['region_reason']}."
        out.append((text.comparison_sentence(name, row, row, row.get("england_value")), region))
    return out


MISUSE, POISONING = "deaths_drug_misuse", "deaths_drug_poisoning"
DEATHS_DEFINITIONS = ("Drug-misuse deaths are the part of drug-poisoning deaths that involve drug abuse or dependence "
                      "or a drug controlled under the Misuse of Drugs Act. Areas record that part differently, so an "
                      "area can compare differently with England on the two.")


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def deaths_caveat(name: str, profile: pd.DataFrame) -> str | None:
    """Where the profile shows both death indicators: what separates them, the share of the area's drug-poisoning
    deaths recorded as misuse (and England's, where the profile has England's counts), and, when the area is better
    than England on one and worse on the other, that both are as ONS publishes them. None without both."""
    rows = {r["indicator_id"]: r for r in profile.to_dict("records")}
    misuse, poisoning = rows.get(MISUSE), rows.get(POISONING)
    if not misuse or not poisoning or not (text.has_figure(misuse) and text.has_figure(poisoning)):
        return None
    out = [DEATHS_DEFINITIONS]
    name = text.plain_name(name)
    period = misuse.get("period_label")
    same_period = not text.is_missing(period) and period == poisoning.get("period_label")
    counts = [misuse.get("numerator"), poisoning.get("numerator")]
    if same_period and not any(text.is_missing(c) for c in counts) and float(counts[1]) > 0:
        sentence = (f"Of {text.possessive(name)} {text.format_count(counts[1])} drug-poisoning deaths in "
                    f"{text.period_display(period)}, "
                    f"{text.format_count(counts[0])} ({_share(*counts)}) were recorded as drug misuse")
        england = [misuse.get("england_numerator"), poisoning.get("england_numerator")]
        if not any(text.is_missing(c) for c in england) and float(england[1]) > 0:
            sentence += (f"; in England, {text.format_count(england[0])} of {text.format_count(england[1])} "
                         f"({_share(*england)})")
        out.append(sentence + ".")
    words = (misuse.get("compared_to_england"), poisoning.get("compared_to_england"))
    if same_period and set(words) == {"better", "worse"}:
        out.append(f"So {name} is {words[0]} than England on drug-misuse deaths and {words[1]} on drug-poisoning "
                   "deaths, both exactly as ONS publishes them.")
    return " ".join(out)


def missing_sentence(name: str, profile: pd.DataFrame) -> str | None:
    """How many indicators have no figure for the area (None when all have one)."""
    records = profile.to_dict("records")
    missing = len(records) - sum(text.has_figure(r) for r in records)
    name = text.plain_name(name)
    if not missing:
        return None
    if missing == len(records):
        which = "The indicator has" if missing == 1 else f"None of the {missing} indicators has"
        return f"{which} a figure for {name}; the last section says why."
    return (f"{missing} of {len(records)} indicators {'has' if missing == 1 else 'have'} no figure for {name}; the "
            "last section says why.")


def spine_table(profile: pd.DataFrame, name: str) -> str:
    """The spine chart's twin: this area, its region and England for each indicator."""
    records = profile.to_dict("records")
    table = profile.assign(
        category=[text.category_label(r, r.get("publication_status")) for r in records])
    return htmltable.html_table(table, [
        Column("short_title", "Indicator"), Column("period_label", "Period", "period"),
        Column("value", name, "number"), Column("lower_ci_95", "95% lower", "number"),
        Column("upper_ci_95", "95% upper", "number"), Column("numerator", "Count", "count"),
        Column("england_value", "England", "number"), Column("region_value", "Rest of region", "number"),
        Column("category", "Compared with England"), Column("compared_to_region", "Compared with rest of region"),
        Column("n_areas", "Areas with a value", "count"), Column("area_min", "Lowest area", "number"),
        Column("area_q25", "25th percentile", "number"),
        Column("area_median", "Median", "number"), Column("area_q75", "75th percentile", "number"),
        Column("area_max", "Highest area", "number"), Column("unit", "Unit")],
        caption=f"{name}, its region and England: each indicator at its latest period")


def peer_groups_available(peers: pd.DataFrame) -> list[str]:
    """The peer groups the area has (indicators.products.queries.peer_groups), in PEER_GROUPS order; CIPFA nearest
    neighbours always, so that a build without them says so (text.peer_group_missing) rather than hiding them."""
    return [g for g in PEER_GROUPS if (peers["peer_group"] == g).any() or g == "cipfa"]


def peers_table(members: pd.DataFrame, caption: str | None = None) -> str:
    return htmltable.html_table(
        [{"peer": r["area_name"], "why": text.peer_reason(r)} for r in members.to_dict("records")],
        [Column("peer", "Peer"), Column("why", "Why")],
        caption=caption or ("1 peer, and why it is one" if len(members) == 1 else
                            f"{len(members)} peers, and why each is one"))


def peers_tables(members: pd.DataFrame, family_titles: Mapping[str, str] | None = None) -> list[str]:
    """One table of the group's members; for the most similar areas, one per set of variables used, captioned with
    the variables and the families it serves (each family's set is chosen without its own figures);
    `family_titles` names the families (queries.families)."""
    family_titles = family_titles or {}
    if "similar_variables" not in members or members["similar_variables"].isna().all():
        return [peers_table(members)]
    return [peers_table(part.drop_duplicates("area_code"),
                        text.similar_set_caption(variables, [family_titles.get(f, f).lower() for f in
                                                             sorted(set(part["similar_family"].dropna()))]))
            for variables, part in members.groupby("similar_variables", sort=False)]


def peer_lead(name: str) -> str:
    return (f"{name} against its peers' value (pooled over the peers where counts allow, otherwise the average of "
            f"their values; never including {name} itself):")


def peer_sentences(name: str, comparison: pd.DataFrame, indicator: Callable[[str], Mapping]) -> list[str]:
    """One sentence per indicator with a figure against the peers' value, or why there is none;
    `indicator(id)` is its catalogue row."""
    out = []
    for row in comparison.to_dict("records"):
        if not text.has_figure(row):
            continue
        if text.is_missing(row.get("group_value")) and row.get("reason"):
            out.append(f"{row['short_title']}: no comparison with the peer group: {row['reason']}.")
            continue
        out.append(text.comparison_sentence(name, indicator(row["indicator_id"]), row, row["group_value"],
                                            benchmark_name="the peer group", compared=row["compared_to_group"]))
    return out


def peer_comparison_table(comparison: pd.DataFrame, name: str, group: str) -> str:
    return htmltable.html_table(comparison, [
        Column("short_title", "Indicator"), Column("period_label", "Period", "period"),
        Column("value", name, "number"), Column("lower_ci_95", "95% lower", "number"),
        Column("upper_ci_95", "95% upper", "number"), Column("group_value", "Group value", "number"),
        Column("group_method", "Group value method"), Column("group_n_areas", "Peers with a value", "count"),
        Column("compared_to_group", "Compared with group"), Column("reason", "Why not compared"),
        Column("unit", "Unit"), Column("value_note", "Note")],
        caption=f"{name} against the peer group ({PEER_GROUP_LABELS.get(group, group)})")


@dataclass(frozen=True)
class Trend:
    """One indicator's trend chart for the area: the SVG, the sentence under it and its table twin."""
    indicator_id: str
    short_title: str
    svg: str
    caption: str
    table: str


def trend_names(name: str, info: Mapping) -> dict[str, str]:
    return {"area": name, "region": info.get("region_name") or "Region", "England": "England"}


def trends(profile: pd.DataFrame, series_of: Callable[[str], tuple[pd.DataFrame, dict]],
           names: Mapping[str, str]) -> tuple[list[Trend], list[str]]:
    """The trend charts of every indicator with at least two periods for the area, and the short titles of those with
    one (no line to draw). `series_of(indicator_id)` is indicators.products.queries.trend_series for the area."""
    charts, single = [], []
    for row in profile.to_dict("records"):
        if text.is_missing(row.get("period_label")):
            continue
        series, found = series_of(row["indicator_id"])
        n_points = int(series[series["role"] == "area"]["value"].notna().sum())
        if n_points < 2:
            single.extend([row["short_title"]] if n_points == 1 else [])
            continue
        if len(set(found.values())) == 1:
            caption = text.trend_sentence("Recent trend", next(iter(found.values())), row)
        else:
            caption = " · ".join(text.trend_sentence(names[r], t, row) for r, t in found.items())
        rows, columns = svgcharts.trend_table(series, names)
        table = htmltable.html_table(rows, columns,
                                     caption=f"{row['short_title']} over time ({text.unit_short(row.get('unit'))})")
        charts.append(Trend(row["indicator_id"], row["short_title"], svgcharts.trend_svg(series, row, names),
                            f"{caption}. {TREND_BANDS}", table))
    return charts, single


def single_period_sentence(single: Sequence[str]) -> str:
    return f"Only one period is published, so no line: {', '.join(single)}."


def no_trends_sentence(name: str) -> str:
    return f"No indicator has a value for {name}, so there are no trends to draw."


def no_other_figures(name: str) -> str:
    return (f"None for {name}. Hepatitis C treatment is published openly only for operational delivery networks "
            "(groups of areas), and naloxone supply only in Freedom of Information surveys; the data availability page "
            "shows what exists for every area, and how local or community figures can be added.")


def odn_table(odn: pd.DataFrame) -> str:
    return htmltable.html_table(odn, [
        Column("period_label", "Period", "period"), Column("value", "Value", "number"),
        Column("numerator", "Count", "count"), Column("denominator", "Denominator", "count"),
        Column("value_note", "Note"), Column("source_id", "Source")],
        caption="HCV figures of the network, by period")


def local_sentence(local: pd.DataFrame) -> str:
    """What the local rows are, and how many are restricted (shown only in a local session)."""
    restricted = int(local["access"].ne("public").sum())
    return ("Local or community figures, not official statistics; each row says who collected it, when and how."
            + (f" {restricted} {'row is' if restricted == 1 else 'rows are'} restricted: shown only in this local "
               "session, never in a download or export." if restricted else ""))


def local_table(local: pd.DataFrame, titles: Mapping[str, str], name: str) -> str:
    """The area's local and community rows; `titles` maps indicator ids to their short titles."""
    rows = local.assign(
        indicator=local["indicator_id"].map(titles).fillna(local["indicator_id"]),
        shown=[text.access_label(a, r, d) for a, r, d in zip(
            local["access"], local.get("foi_reference", pd.Series(None, index=local.index)),
            local.get("foi_response_date", pd.Series(None, index=local.index)))])
    return htmltable.html_table(rows, [
        Column("indicator", "Indicator"), Column("period_label", "Period", "period"),
        Column("value", "Value", "number"), Column("lower_ci_95", "95% lower", "number"),
        Column("upper_ci_95", "95% upper", "number"), Column("numerator", "Count", "count"),
        Column("denominator", "Denominator", "count"), Column("source", "Source"),
        Column("collected_by", "Collected by"), Column("collection_date", "Collected"),
        Column("method", "Method"), Column("shown", "Access")],
        caption=f"Local and community figures for {name}")


def not_possible_table(profile: pd.DataFrame, name: str) -> str | None:
    """The comparisons that cannot be made and why (text.not_possible), or None when every one can."""
    missing = text.not_possible(profile)
    if not missing:
        return None
    return htmltable.html_table(missing, [Column("indicator", "Indicator"), Column("period", "Period"),
                                          Column("reason", "Why", "prose")],
                                caption=f"Indicators that cannot be compared for {name}, and why")
