"""Every sentence the library makes about a warehouse, composed as the pages compose them, and the rules they must keep; for tests/test_words.py.

`collect(con)` walks every indicator (its latest period) and every current area through the same library
functions the pages call (indicators.present.text, mapview, lottery, profile and the query layer), and
returns each sentence with where it was made. `problems(said)` lists the sentences that break a rule:
empty clauses, broken endings, '1 areas', raw publisher markers, unexplained jargon, causal claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from indicators.present import charts, glossary, lottery, mapview, profile, svgcharts, text
from indicators.products import queries


@dataclass(frozen=True)
class Said:
    where: str
    text: str
    facts: dict = field(default_factory=dict, compare=False)


# (pattern, what is wrong). Applied to each sentence on its own.
RULES = [
    (re.compile(r"\(\s*\)"), "empty brackets"),
    (re.compile(r"\s[,.;:](?!\d)"), "a space before punctuation (an empty word)"),
    (re.compile(r"[,;:]\s*[.;:,]"), "an empty clause"),
    (re.compile(r"\b(?:be|a|an|the|and|or|for|to|with|from|than|by|is|are|has)\s*\.(?:\s|$)"
                r"|(?<!, City )(?<!, County )\bof\s*\.(?:\s|$)"),
     "a broken ending ('... and cannot be .', '... a.')"),
    (re.compile(r"\S\s{2,}\S"), "a double space"),
    (re.compile(r"\b1 (?:areas|peers|indicators|periods|deaths|warnings|rows|files|others)\b"), "'1' with a plural"),
    (re.compile(r"\b(\d+) of \1 indicators have\b"), "'N of N' for none"),
    (re.compile(r"\b(?:nan|NaN|None|<NA>|NaT|inf)\b"), "a missing number printed as code"),
    (re.compile(r": = |\bU = |\[(?:x|c|u|z|w|low)\]"), "a raw publisher's marker"),
    (re.compile(r"would not have happened|would have been avoided|caused by", re.IGNORECASE), "a claim of cause"),
    (re.compile(r"\.\.(?!\.)|\.\s*\."), "a double full stop"),
    (re.compile(r"interval –|interval\s*\)"), "an interval without numbers"),
    (re.compile(r"\b(?:DerSimonian|winsorised|quintile|DSR|ASMR|τ|z-score)\b"), "jargon with no glossary entry"),
    (re.compile(r"\b(?:Unitary|County|Metropolitan district|London borough) in\b"), "an area type as a label"),
    (re.compile(r"’s’|s’s\b(?<!Scilly’s)"), "a broken possessive"),
]
# Words that need a direction (a polarity): never said of an indicator without one.
DIRECTION = re.compile(r"\b(?:better|worse|best|worst)\b", re.IGNORECASE)
# Terms a member of the public would not know: wherever a sentence uses one, the glossary must explain it.
JARGON = ("φ", "I²", "Spiegelhalter", "over-dispersion", "99.8%", "effective population", "OCU", "ODN", "NDTMS",
          "age-standardised", "percentile", "CIPFA", "pooled", "low reliability")


def problems(said: list[Said]) -> list[str]:
    """Each rule a sentence breaks, as 'where: what is wrong: the sentence'."""
    out = []
    for item in said:
        for pattern, what in RULES:
            if pattern.search(item.text):
                out.append(f"{item.where}: {what}: {item.text!r}")
        if item.facts.get("polarity") == "no_polarity" and DIRECTION.search(item.text):
            out.append(f"{item.where}: better or worse for an indicator without a direction: {item.text!r}")
        for term in JARGON:
            if term in item.text and not any(term in m and m in item.text for m in _spellings()):
                out.append(f"{item.where}: '{term}' is not in the glossary: {item.text!r}")
    return out


def _spellings() -> set[str]:
    return {m for t in glossary.terms() for m in t.matches}


def _add(out: list[Said], where: str, sentence: object, **facts) -> None:
    if sentence is None:
        return
    if isinstance(sentence, (list, tuple)):
        for s in sentence:
            _add(out, where, s, **facts)
        return
    out.append(Said(where, str(sentence), facts))


def collect(con, areas: list[str] | None = None) -> list[Said]:
    """Every sentence for every indicator and current area (or `areas`), as the pages make them."""
    out: list[Said] = []
    catalogue = queries.indicators(con)
    current = queries.upper_tier_areas(con)
    codes = list(current["area_code"]) if areas is None else areas
    for meta in catalogue.to_dict("records"):
        _indicator_sentences(con, meta, out)
    _balance_sentences(con, catalogue, out)
    for code in codes:
        _profile_sentences(con, code, out)
    return out


def _indicator_sentences(con, meta: dict, out: list[Said]) -> None:
    ident = meta["indicator_id"]
    periods = queries.periods(con, ident)
    period = periods[-1] if periods else None
    where = f"map {ident} {period}"
    england = queries.benchmark_value(con, ident, period) if period else None
    _add(out, where, mapview.map_notice(england, meta, period, mapview.OTHER_COLOURING))
    lead = mapview.england_sentence(england, meta, period)
    if lead:
        _add(out, where, " ".join(lead))
    _add(out, where, mapview.map_title(meta, ident, period or ""))
    _add(out, where, [meta.get("definition") or "", *text.caveat_list(meta.get("caveats")), mapview.more_line(meta)])
    if period is None:
        _add(out, f"lottery {ident}", text.no_data_message(meta, "there is no gap to measure"))
        return
    values = queries.map_values(con, ident, period)
    table, legend = charts.map_frame(values, meta, "comparison", period)
    _add(out, where, [meaning for _, meaning in mapview.colour_meanings(legend)])
    _add(out, where, mapview.foi_note(values) or None)
    for row in table.to_dict("records"):
        label = ". ".join(line.rstrip(".") for line in charts.hover_lines(row, meta) if line) + "."
        _add(out, f"{where} {row['area_code']}", label, value=row.get("value"), count=row.get("numerator"),
             unit=meta.get("unit"), indicator=ident, area=row["area_code"], period=period, kind="map label")
    gaps = queries.gap_summary(con, ident, period)
    _add(out, f"lottery {ident} {period}", lottery.gap_lead(meta, period))
    if gaps is not None:
        _add(out, f"lottery {ident} {period}", text.gap_sentences(gaps, meta, period), polarity=meta.get("polarity"))
        figure = gaps.get("illustrative_deaths")
        _add(out, f"lottery {ident} {period} deaths", lottery.deaths_statement(figure, meta), kind="deaths statement",
             figure=figure, indicator=ident, period=period)
    _add(out, f"lottery {ident} over time", [lottery.gap_change_sentence(queries.gap_over_time(con, ident)),
                                             lottery.gap_chart_note()])
    for adjusted in (False, True):
        funnel = queries.funnel_data(con, ident, period, adjusted)
        if funnel["available"]:
            _add(out, f"funnel {ident} {period}", text.overdispersion_sentence(funnel["overdispersion"],
                                                                              funnel["adjusted"]))
            _add(out, f"funnel {ident} {period}", lottery.funnel_counts(funnel["points"], meta, funnel["adjusted"]))
        else:
            _add(out, f"funnel {ident} {period}", lottery.no_funnel(funnel["reason"]))


def _balance_sentences(con, catalogue: pd.DataFrame, out: list[Said]) -> None:
    deaths = catalogue[catalogue["indicator_id"] == "deaths_drug_misuse"]
    completions = catalogue[catalogue["family"] == "completions"]
    if deaths.empty or completions.empty:
        _add(out, "balance", lottery.balance_needs())
        return
    y_meta = deaths.iloc[0].to_dict()
    for x_meta in completions.to_dict("records"):
        view = queries.balance_view(con, x_meta["indicator_id"], "deaths_drug_misuse")
        both = view["frame"].dropna(subset=["x_value", "y_value"])
        where = f"balance {x_meta['indicator_id']}"
        _add(out, where, [lottery.BALANCE_WHY, lottery.balance_periods(x_meta, y_meta, view),
                          lottery.balance_lines(x_meta, y_meta, view["england"])])
        if both.empty:
            _add(out, where, lottery.balance_nothing(x_meta, y_meta))
            continue
        counts = lottery.quadrant_counts(charts.balance_quadrants(both), charts.QUADRANT_NAMES.values())
        if counts:
            _add(out, where, counts)
        if len(both) < charts.BIVARIATE_MIN_AREAS:
            _add(out, where, [lottery.balance_too_few(len(both)),
                              lottery.bivariate_too_few(charts.BIVARIATE_MIN_AREAS, len(both))])


def _profile_sentences(con, code: str, out: list[Said]) -> None:
    info = queries.area(con, code) or {}
    name = info.get("area_name") or code
    where = f"profile {code}"
    frame = queries.area_profile(con, code)
    _add(out, where, profile.area_line(info, code))
    records = {r["indicator_id"]: r for r in frame.to_dict("records")}
    _add(out, where, profile.GLANCE_INTRO)
    # The at-a-glance list: each row with a figure, and each with only its HCV network's figure (said as the
    # network's, never checked as the area's own value).
    listed = [r for r in records.values()
              if text.has_figure(r) or (r.get("network_label") and not text.is_missing(r.get("network_label")))]
    for (england, region), row in zip(profile.glance(name, frame, info.get("region_name")), listed):
        _add(out, f"{where} {row['indicator_id']}", england, value=row.get("value"), count=row.get("numerator"),
             unit=row.get("unit"), indicator=row["indicator_id"], area=code, period=row.get("period_label"),
             england=row.get("england_value"), kind="glance" if text.has_figure(row) else "network glance",
             status=row.get("publication_status"))
        _add(out, f"{where} {row['indicator_id']} region", region)
    _add(out, where, [profile.deaths_caveat(name, frame), profile.missing_sentence(name, frame)])
    _add(out, where, profile.SPINE_EXPLAINED if svgcharts.spine_svg(frame, name) else profile.NO_SPINE)
    for row in frame.to_dict("records"):
        if text.category(row) in ("count only", "not calculated", "suppressed"):
            _add(out, f"{where} spine {row['indicator_id']}", text.spine_missing_label(row))
    for reason in text.not_possible(frame):
        _add(out, f"{where} not possible", f"{reason['indicator']}, {reason['period']}: {reason['reason']}")
    peers = queries.peer_groups(con, code)
    for group in profile.peer_groups_available(peers):
        members = peers[peers["peer_group"] == group]
        if members.empty:
            _add(out, f"{where} peers {group}", text.peer_group_missing(group))
            continue
        comparison = queries.peer_comparison(con, code, group)
        sentences = profile.peer_sentences(name, comparison, lambda i: queries.indicator(con, i))
        _add(out, f"{where} peers {group}", [profile.peer_lead(name) if sentences else text.no_peer_figures(name),
                                             *sentences])
        _add(out, f"{where} peers {group}", [text.peer_reason(r) for r in members.to_dict("records")])
    names = profile.trend_names(name, info)
    charts_, single = profile.trends(frame, lambda i: queries.trend_series(con, i, code), names)
    _add(out, f"{where} trends", [c.caption for c in charts_])
    if single:
        _add(out, f"{where} trends", profile.single_period_sentence(single))
    if not charts_ and not single:
        _add(out, f"{where} trends", profile.no_trends_sentence(name))


def number_mismatches(said: list[Said]) -> list[str]:
    """Each sentence whose figures are not the warehouse's: a map label or an at-a-glance sentence must print its
    row's value (in the unit, as text.format_value does) or, without one, its count (an indicator not published for
    areas says so instead of a figure); the deaths statement must print
    England's own total and the illustration rounded to two significant figures."""
    out = []
    for item in said:
        facts = item.facts
        if facts.get("kind") in ("map label", "glance") and facts.get("status", text.OPEN_STATUS) == text.OPEN_STATUS:
            value, count = facts.get("value"), facts.get("count")
            if not text.is_missing(value):
                shown = text.format_value(value, facts.get("unit"))
                if shown not in item.text and text.format_number(value) not in item.text:
                    out.append(f"{item.where}: the value {value} is not printed as {shown!r}: {item.text!r}")
            elif not text.is_missing(count) and text.format_count(count) not in item.text:
                out.append(f"{item.where}: the count {count} is not printed: {item.text!r}")
        elif facts.get("kind") == "deaths statement":
            figure = facts["figure"]
            wanted = [f"about {text.format_count(text.round_significant(figure['fewer_than_best']))} fewer deaths"]
            if not text.is_missing(figure.get("england_deaths")):
                wanted.append(f"England recorded {text.format_count(figure['england_deaths'])} ")
            out += [f"{item.where}: {w!r} is not in {item.text!r}" for w in wanted if w not in item.text]
    return out
