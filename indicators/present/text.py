"""The dashboard's words: number formats, map categories, plain-language sentences generated from data, and the methods text; standard library, math and pandas only.

Sentences are built from a row of the published contract and its catalogue entry; they say
"significantly" only for a 95% comparison, give the direction (higher/lower) from the numbers
and the judgement (better/worse) only where the indicator has a polarity.

Longer than 500 lines on purpose: the words shared by the pages and the static site (formats, categories, notes, the
methods) are in one place, to be read and changed together; a page's own sentences are in its module
(indicators.present.lottery, mapview, profile).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import pandas as pd

# Map and table categories, in legend order. Comparison words come from the published
# compared_to_england column (indicators.stats.compare); the rest are states without one, each a
# different thing (published value_status, indicators.pipeline.schema.VALUE_STATUSES): withheld by the
# publisher, not calculated by the publisher, a count without a rate for new boundaries, no open
# per-area series, nothing in the files used.
COMPARISON_CATEGORIES = ("better", "similar", "worse", "higher", "lower")
CATEGORIES = COMPARISON_CATEGORIES + ("not compared", "suppressed", "not calculated", "not published", "count only",
                                      "network figure", "no data")
CATEGORY_LABELS = {
    "better": "Better than England",
    "similar": "Similar to England",
    "worse": "Worse than England",
    "higher": "Higher than England",
    "lower": "Lower than England",
    "not compared": "Not compared",
    "suppressed": "Withheld by the publisher",
    "not calculated": "Not calculated by the publisher",
    "not published": "Not published for areas",
    "count only": "Count only, no rate (boundary change)",
    "network figure": "Network-level figure only, not this area's own",
    "no data": "No data",
}
CATEGORY_MEANINGS = {
    "better": "England's value lies outside the area's 95% interval, on the side that is worse.",
    "similar": "England's value lies inside the area's 95% interval.",
    "worse": "England's value lies outside the area's 95% interval, on the side that is better.",
    "higher": "The area's 95% interval lies above England's value (no better or worse for this indicator).",
    "lower": "The area's 95% interval lies below England's value (no better or worse for this indicator).",
    "not compared": ("There is a value but no comparison: it has no valid 95% interval, or there is no England "
                     "figure for that period. Each area's label says which."),
    "suppressed": "The publisher has the figure but withheld it, usually because the numbers are small.",
    "not calculated": ("Nothing was withheld: the publisher gives the count but calculated no rate from it, "
                       "usually because the count is too small (ONS calculates no rate from fewer than 10 deaths). "
                       "Each area's label gives its count and the reason."),
    "not published": "No open figure is published for individual areas.",
    "count only": ("A count is published but no rate for these boundaries: the area was created after the "
                   "period, so the publisher's rate covers the old areas only."),
    "network figure": ("No figure is published for this area; the one shown is for the whole network of areas it "
                       "belongs to (an HCV operational delivery network), never split between them or compared."),
    "no data": "No published file this dashboard uses has a figure for this area and period.",
}
# published.indicator_values.value_status -> the category of a row without a value.
_STATUS_CATEGORIES = {"suppressed": "suppressed", "not calculated": "not calculated", "count only": "count only",
                      "no data": "no data"}
OPEN_STATUS = "open"
NO_FIGURE_NOTE = "No figure for this area and period"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
_YEAR_RANGE = re.compile(r"(?<=\d)-(?=\d)")


def is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def md_escape(text: object) -> str:
    """Text from the data made literal for st.markdown (no links, emphasis or HTML from data)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if is_missing(text) else str(text))


def hover_escape(text: object) -> str:
    """Text from the data made literal inside a plotly hover label (which understands a little HTML)."""
    return ("" if is_missing(text) else str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def period_display(label: object) -> str:
    """'2019-21' -> '2019–21' (an en dash between years); other labels unchanged."""
    return "" if is_missing(label) else _YEAR_RANGE.sub("–", str(label))


def unit_short(unit: object) -> str:
    """The unit without its parenthetical: 'per 100,000 (age-standardised)' -> 'per 100,000'."""
    return re.sub(r"\s*\(.*?\)\s*", " ", "" if is_missing(unit) else str(unit)).strip()


def format_number(value: object, decimals: int = 1) -> str:
    if is_missing(value):
        return "–"
    value = float(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def format_count(value: object) -> str:
    """Counts are whole numbers in most sources but can be fractional (re-aggregated or estimated)."""
    if is_missing(value):
        return "–"
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"


def value_decimals(indicator: Mapping | None) -> int:
    """Decimal places for an indicator's values: counts are whole numbers (format_count), every other value has one,
    as format_value prints it."""
    return 0 if (indicator or {}).get("value_type") == "count" else 1


def value_column_format(indicator: Mapping | None) -> str:
    """A table column's number format for an indicator's values, as format_value would print them: trailing zeros
    kept ('2.0', not '2'); counts whole with thousands separated."""
    return "localized" if value_decimals(indicator) == 0 else f"%.{value_decimals(indicator)}f"


def round_significant(value: object, figures: int = 2) -> float:
    """A number to `figures` significant figures, never finer than a whole number: 3,737 -> 3,700; 583 -> 580;
    7.3 -> 7."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(round(value, min(0, figures - 1 - math.floor(math.log10(abs(value))))))


def format_value(value: object, unit: object, decimals: int = 1) -> str:
    """'45.2%' or '19.4 per 100,000'; '–' when missing."""
    if is_missing(value):
        return "–"
    unit = unit_short(unit)
    number = format_number(value, decimals)
    if unit == "%":
        return f"{number}%"
    return f"{number} {unit}".strip()


def format_figure(value: object, indicator: Mapping) -> str:
    """An indicator's value with its unit, as format_value prints it, but a count indicator's (value_type 'count')
    as a count: '388 kits', '1,204 kits', not '388.0 kits'."""
    if value_decimals(indicator) == 0 and not is_missing(value):
        return f"{format_count(value)} {unit_short(indicator.get('unit'))}".strip()
    return format_value(value, indicator.get("unit"))


def format_bare(value: object, unit: object, decimals: int = 1) -> str:
    """A number with a % sign when the unit is a percentage, otherwise the number alone: '5.1', '5.0%'."""
    if is_missing(value):
        return "–"
    return format_number(value, decimals) + ("%" if unit_short(unit) == "%" else "")


def format_interval(lower: object, upper: object, unit: object = "", decimals: int = 1) -> str:
    """'16.0 to 23.3' (with a % sign for percentages); '–' when either limit is missing."""
    if is_missing(lower) or is_missing(upper):
        return "–"
    return f"{format_bare(lower, unit, decimals)} to {format_bare(upper, unit, decimals)}"


def category(row: Mapping, publication_status: object = OPEN_STATUS) -> str:
    """The map category of one area's row: a comparison word, or why there is none.

    Order matters: an indicator that is not published for areas is 'not published' whatever the
    row says, unless the row is a council's reply to a Freedom of Information request (a `foi_reference`,
    queries.map_values); no value but the area's network's figure (an HCV network) is 'network figure'; no row
    is 'no data'; a row without a value takes its state from the build's
    `value_status` (withheld 'suppressed', 'not calculated' by the publisher, 'count only' for an area created
    after the period, 'no data'), or, from a frame without that column, 'suppressed' when withheld, 'count only'
    with a count and 'no data' without one; a value whose comparison is missing or 'not compared' is 'not
    compared'.
    """
    if (not is_missing(publication_status) and str(publication_status) != OPEN_STATUS
            and is_missing(row.get("foi_reference"))):
        return "not published"
    if is_missing(row.get("value")) and not is_missing(row.get("network_label")) and row.get("network_label"):
        return "network figure"
    if not row.get("has_row", True):
        return "no data"
    status = row.get("value_status")
    if is_missing(row.get("value")):
        if not is_missing(status) and str(status) in _STATUS_CATEGORIES:
            return _STATUS_CATEGORIES[str(status)]
        if bool(row.get("is_suppressed")) and not is_missing(row.get("is_suppressed")):
            return "suppressed"
        return "no data" if is_missing(row.get("numerator")) else "count only"
    if bool(row.get("is_suppressed")) and not is_missing(row.get("is_suppressed")):
        return "suppressed"
    word = row.get("compared_to_england")
    if is_missing(word) or str(word) not in COMPARISON_CATEGORIES:
        return "not compared"
    return str(word)


def network_label(network: str, n_areas: int) -> str:
    """'figure for <network> (covers N areas)': how every view labels a figure published only for a group of areas
    (an HCV operational delivery network), which is never apportioned to its areas nor coloured as one's own."""
    return f"figure for {network} (covers {int(n_areas)} area{'s' if int(n_areas) != 1 else ''})"


def network_sentence(row: Mapping) -> str:
    """'Figure for <network> (covers N areas): 160 people starting treatment in 2022/23; not this area's own and not
    compared.' for a profile row with a network figure (queries.area_profile's network_* columns)."""
    label = str(row.get("network_label"))
    figure = ("withheld by the publisher" if bool(row.get("network_suppressed"))
              else format_value(row.get("network_value"), row.get("unit"), 0))
    return (f"{label[:1].upper()}{label[1:]}: {figure} in {period_display(row.get('network_period'))}; "
            "not this area's own and not compared.")


def foi_label(reference: str, response_date) -> str:
    """How every view labels a figure from a council's reply to a Freedom of Information request."""
    day = pd.Timestamp(response_date)
    return f"FOI response to request {reference}, reply of {day.day} {day:%B %Y}"


def access_label(access: str, foi_reference: object = None, foi_response_date: object = None) -> str:
    """How a view labels a local row: an FOI response with its reference and date, public, or restricted."""
    if access != "public":
        return "restricted (local session only)"
    if isinstance(foi_reference, str) and foi_reference:
        return foi_label(foi_reference, foi_response_date)
    return "public"


# Why a value is 'not compared' with England, from the build's comparison_note (indicators.stats.sql).
NOT_COMPARED_REASONS = {
    "no interval": "no valid 95% interval",
    "no benchmark": "no England figure for this period",
    "not calculated": "no interval for this kind of figure",
    "suppressed": "withheld by the publisher",
    "no value": "no value",
}


def not_compared_reason(row: Mapping) -> str:
    """Why a row with a value is not compared with England: the build's comparison_note in words, or, for a
    warehouse without that column, what the row shows (no interval; otherwise no England figure)."""
    note = row.get("comparison_note")
    if not is_missing(note) and str(note) in NOT_COMPARED_REASONS:
        return NOT_COMPARED_REASONS[str(note)]
    if is_missing(row.get("lower_ci_95")) or is_missing(row.get("upper_ci_95")):
        return NOT_COMPARED_REASONS["no interval"]
    return NOT_COMPARED_REASONS["no benchmark"]


def category_label(row: Mapping, publication_status: object = OPEN_STATUS) -> str:
    """The label of one area's category, with the real reason for 'not compared' ('Not compared (no England
    figure for this period)')."""
    cat = category(row, publication_status)
    if cat == "not compared":
        return f"{CATEGORY_LABELS[cat]} ({not_compared_reason(row)})"
    if cat == "network figure":
        return f"{CATEGORY_LABELS[cat]}: {network_sentence(row)}"
    return CATEGORY_LABELS[cat]


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def noun_phrase(indicator: Mapping) -> str:
    """How a sentence names the indicator: 'drug-misuse death rate', or 'figure for “<title>”'."""
    short = str(indicator.get("short_title") or "")
    value_type = str(indicator.get("value_type") or "").lower()
    if "rate" in value_type and short.lower().endswith(" deaths"):
        return _lower_first(short[: -len(" deaths")]) + " death rate"
    return f"figure for “{_lower_first(str(indicator.get('title') or short))}”"


_NAME_SUFFIX = re.compile(r",\s*(City|County) of$")


def plain_name(name: object) -> str:
    """An area's name as a sentence says it: the publishers' 'Bristol, City of' is 'Bristol' (the title and tables
    keep the official name)."""
    return _NAME_SUFFIX.sub("", "" if is_missing(name) else str(name)).strip()


def possessive(name: str) -> str:
    """'Blackpool’s', 'Kingston upon Thames’' (the name as a sentence says it)."""
    name = plain_name(name)
    return f"{name}’" if name.endswith("s") else f"{name}’s"


def comparison_sentence(area_name: str, indicator: Mapping, row: Mapping, benchmark_value: object,
                        benchmark_name: str = "England", compared: object = None) -> str:
    """One plain-language sentence about an area's figure against a benchmark (England, its region, a peer group).

    `row` has value, period_label, is_suppressed, value_note, numerator and (for England)
    compared_to_england; `compared` overrides the comparison word (for a region or a group).
    """
    noun = noun_phrase(indicator)
    unit = indicator.get("unit")
    period = period_display(row.get("period_label"))
    status = indicator.get("publication_status")
    if not is_missing(status) and str(status) != OPEN_STATUS:
        note = str(indicator.get("status_note") or "").strip().rstrip(".")
        return (f"{indicator.get('title')} is not published for individual areas"
                + (f": {note}" if note else "") + ".")
    if not period:
        return f"There is no {noun} for any area in the published files this dashboard uses."
    note = "" if is_missing(row.get("value_note")) else str(row.get("value_note")).strip()
    cat = category(row)
    if cat == "suppressed":
        why = _as_sentences(note)
        return f"{possessive(area_name)} {noun} for {period} was withheld by the publisher." + (
            f" {why}" if why else "")
    if cat == "not calculated":
        return not_calculated_sentence(area_name, indicator, row)
    if cat == "count only":
        return count_only_sentence(area_name, indicator, row)
    if is_missing(row.get("value")):
        count = row.get("numerator")
        extra = f" (count: {format_count(count)})" if not is_missing(count) else ""
        if note.startswith(NOT_IN_BUILD_NOTE):
            return (f"There is no {noun} for {plain_name(area_name)} in {period}{extra}: "
                    f"{_missing_reason(note)} {how_to_get_figure()}")
        why = "" if not note or note.startswith(NO_FIGURE_NOTE) else f" {_as_sentences(note)}"
        return f"There is no {noun} for {plain_name(area_name)} in {period}{extra}.{why}"
    value = float(row["value"])
    word = row.get("compared_to_england") if compared is None else compared
    word = "not compared" if is_missing(word) else str(word)
    lower, upper = row.get("lower_ci_95"), row.get("upper_ci_95")
    decimals = 1
    if word in COMPARISON_CATEGORIES and not is_missing(benchmark_value):
        decimals = comparison_decimals(lower, upper, benchmark_value)
    interval = ("" if is_missing(lower) or is_missing(upper) else
                f" (95% interval {format_interval(lower, upper, unit, decimals)})")
    head = f"{possessive(area_name)} {noun}, {format_figure(value, indicator)} in {period}{interval},"
    if is_missing(benchmark_value):
        return f"{head} cannot be compared: there is no {benchmark_name} figure."
    bench = format_bare(benchmark_value, unit, decimals)
    if word == "similar":
        return (f"{head} is not significantly different from {possessive(benchmark_name)} {bench} "
                f"(95% confidence).")
    if word in ("better", "worse", "higher", "lower"):
        direction = "higher" if value > float(benchmark_value) else "lower"
        sentence = f"{head} is significantly {direction} than {possessive(benchmark_name)} {bench}"
        if word in ("better", "worse"):
            good = "higher" if indicator.get("polarity") == "high_is_good" else "lower"
            sentence += f": {word} than {benchmark_name}, since a {good} value is better"
        return sentence + "."
    reason = (not_compared_reason(row) if compared is None else NOT_COMPARED_REASONS["no interval"])
    if reason == NOT_COMPARED_REASONS["no benchmark"]:
        return f"{head} is not compared with {benchmark_name}: there is no single {benchmark_name} figure for {period}."
    return f"{head} cannot be compared with {possessive(benchmark_name)} {bench}: it has {reason}."


def comparison_decimals(lower: object, upper: object, benchmark: object, most: int = 3) -> int:
    """Decimals enough for a benchmark and the area's 95% limits not to look equal when they are not: 1, or more
    where a limit and the benchmark would print the same (a group value of 7.28 against a lower limit of 7.30 is
    '7.28' and '7.30', not '7.3' twice next to 'significantly higher')."""
    if is_missing(benchmark):
        return 1
    for decimals in range(1, most + 1):
        shown = f"{float(benchmark):.{decimals}f}"
        if all(is_missing(limit) or float(limit) == float(benchmark) or f"{float(limit):.{decimals}f}" != shown
               for limit in (lower, upper)):
            return decimals
    return most


def spine_missing_label(row: Mapping) -> str:
    """The spine chart's words on a row with no marker: 'count only: 91, no rate', 'not calculated: 0, no rate' or
    'withheld by the publisher'."""
    cat = category(row)
    if cat == "count only":
        return f"count only: {format_count(row.get('numerator'))}, no rate"
    if cat == "not calculated":
        return f"not calculated: count {format_count(row.get('numerator'))}, no {_rate_word(row)}"
    return "withheld by the publisher"


def _rate_word(indicator: Mapping) -> str:
    return "percentage" if unit_short(indicator.get("unit")) == "%" else "rate"


def _counted(area_name: str, indicator: Mapping, row: Mapping) -> str:
    """'Cumberland: 91 drug-misuse deaths in 2019–21'."""
    what = _lower_first(str(indicator.get("short_title") or indicator.get("title") or "count"))
    return f"{plain_name(area_name)}: {format_count(row['numerator'])} {what} in {period_display(row.get('period_label'))}"


def _as_sentences(note: object) -> str:
    """A value note as one or more sentences, capitalised and ending in a full stop ('' when empty)."""
    text = "" if is_missing(note) else str(note).strip()
    if not text:
        return ""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def count_only_sentence(area_name: str, indicator: Mapping, row: Mapping) -> str:
    """A count published without a rate (an area created after the period, counts re-aggregated from its
    districts): the count, and why there is no rate."""
    why = _as_sentences(row.get("value_note"))
    return f"{_counted(area_name, indicator, row)}, a count with no rate." + (f" {why}" if why else "")


def not_calculated_sentence(area_name: str, indicator: Mapping, row: Mapping) -> str:
    """A count the publisher gives without calculating a rate from it (ONS: fewer than 10 deaths): the count, and
    the publisher's reason. 'Isles of Scilly: 0 drug-misuse deaths in 2019–21, and no rate: ONS does not calculate
    a rate from fewer than 10 deaths.'"""
    why = _as_sentences(row.get("value_note")) or "The publisher calculated none from this count."
    return f"{_counted(area_name, indicator, row)}, and no {_rate_word(indicator)}. {why}"


def no_data_message(indicator: Mapping, consequence: str) -> str:
    """Why an indicator has nothing to show: not published for areas (with the catalogue's note), or no data."""
    title = indicator.get("title") or "this indicator"
    status = indicator.get("publication_status")
    if not is_missing(status) and str(status) != OPEN_STATUS:
        note = str(indicator.get("status_note") or "").strip().rstrip(".")
        reason = f" ({note})" if note else ""
        return f"“{title}” is not published for individual areas{reason}, so {consequence}."
    return (f"No data for “{title}” (no figures in the published files this dashboard uses, not zeros), "
            f"so {consequence}.")


def caveat_list(caveats: object) -> list[str]:
    """The catalogue's caveats as a list: published.indicators holds them one per line (or as a list)."""
    if caveats is None or (isinstance(caveats, float) and math.isnan(caveats)):
        return []
    items = caveats.splitlines() if isinstance(caveats, str) else [str(c) for c in caveats]
    return [item.strip() for item in items if item.strip()]


def has_figure(row: Mapping) -> bool:
    """Whether a row has something to say: a value, a count without a rate, or a figure the publisher suppressed."""
    suppressed = row.get("is_suppressed")
    return (not is_missing(row.get("value")) or not is_missing(row.get("numerator"))
            or (not is_missing(suppressed) and bool(suppressed)))


def peer_reason(row: Mapping) -> str:
    """Why an area is in a peer group: the shared border, the CIPFA rank, or the region."""
    group = row.get("peer_group")
    if group == "neighbours":
        if row.get("relation") == "nearest":
            km = row.get("distance_km")
            return ("no shared border; among the nearest areas" + ("" if is_missing(km) else
                                                                  f", {format_number(km)} km away"))
        km = row.get("shared_border_km")
        return "shares a border" + ("" if is_missing(km) else f" of {format_number(km)} km")
    if group == "cipfa":
        rank = row.get("cipfa_rank")
        return "CIPFA nearest neighbour" + ("" if is_missing(rank) else f", rank {int(rank)} of the 15 most similar")
    if group == "similar":
        rank, distance = row.get("similar_rank"), row.get("similar_distance")
        head = "statistically similar" + ("" if is_missing(rank) else f", rank {int(rank)}") + (
            "" if is_missing(distance) else f" (distance {format_number(distance, 2)})")
        reasons = row.get("similar_reasons")
        return head + ("" if is_missing(reasons) or not str(reasons) else f": {reasons}")
    if group == "region":
        return f"in the same region ({row.get('region_name') or 'unknown'})"
    return ""


def not_possible(profile: pd.DataFrame) -> list[dict]:
    """For an area profile: each comparison that cannot be made and why (indicator, period, reason)."""
    out = []
    for row in profile.to_dict("records"):
        title = row.get("short_title") or row.get("indicator_id")
        period = period_display(row.get("period_label"))
        note = "" if is_missing(row.get("value_note")) else str(row.get("value_note")).strip()
        status = row.get("publication_status")
        reason = None
        if not is_missing(status) and str(status) != OPEN_STATUS:
            reason = "not published for individual areas" + (
                f" ({row.get('status_note')})" if row.get("status_note") else "")
        elif not is_missing(row.get("network_label")) and row.get("network_label") and is_missing(row.get("value")):
            reason = ("published only for a network of areas, never split between them: "
                      + network_sentence(row))
        elif not period:
            reason = "no data for any area"
        elif category(row) == "suppressed":
            reason = "withheld by the publisher" + (f": {note}" if note else "")
        elif category(row) == "not calculated":
            reason = (f"a count ({format_count(row['numerator'])}) but no {_rate_word(row)}, so no comparison"
                      + (f": {note}" if note else ""))
        elif row.get("has_row") and is_missing(row.get("value")) and not is_missing(row.get("numerator")):
            reason = (f"a count ({format_count(row['numerator'])}) but no rate, so no comparison"
                      + (f": {note}" if note else ""))
        elif not row.get("has_row") or is_missing(row.get("value")):
            reason = "no figure for this area in this period" + (
                f": {_missing_reason(note)} {how_to_get_figure()}" if note.startswith(NOT_IN_BUILD_NOTE) else
                f": {note}" if note and not note.startswith(NO_FIGURE_NOTE) else "")
        elif is_missing(row.get("lower_ci_95")) or is_missing(row.get("upper_ci_95")):
            reason = "no 95% interval, so no comparison with England, the region or peers"
        elif is_missing(row.get("england_value")) or row.get("comparison_note") == "no benchmark":
            reason = "no England figure for this period, so no comparison with England"
        if reason:
            out.append({"indicator": title, "period": period or "–", "reason": reason})
        elif note:
            out.append({"indicator": title, "period": period, "reason": f"compared, with a note: {note}"})
        if reason is None and is_missing(row.get("region_value")) and not is_missing(row.get("value")):
            why = row.get("region_reason") or "no figure for the rest of the region"
            out.append({"indicator": title, "period": period,
                        "reason": f"no comparison with the rest of the region: {why}"})
    return out


def trend_sentence(role_name: str, trend: str, indicator: Mapping) -> str:
    """'Blackpool: increasing (getting worse)' style wording for stats.trend.recent_trend's answer."""
    if trend in ("increasing", "decreasing"):
        polarity = indicator.get("polarity")
        if polarity in ("high_is_good", "low_is_good"):
            better = (trend == "increasing") == (polarity == "high_is_good")
            return f"{role_name}: {trend}, getting {'better' if better else 'worse'} (recent trend, 99.8%)"
        return f"{role_name}: {trend} (recent trend, 99.8%)"
    if trend == "not tested":
        return (f"{role_name}: no recent-trend test (it needs counts and denominators, which this kind of figure "
                "does not have)")
    if trend == "no significant change":
        return f"{role_name}: no significant change over the 5 most recent periods with counts (99.8%)"
    return f"{role_name}: recent trend cannot be calculated (it needs 5 periods with counts)"


def gap_sentences(gaps: Mapping, indicator: Mapping, period_label: str) -> list[str]:
    """Plain-language gap measures (published.gap_measures, indicators.stats.gaps) for one indicator and period; where
    the build published none (too few areas with a value), the one sentence that says so."""
    unit = indicator.get("unit")
    period = period_display(period_label)
    if not gaps.get("available", True):
        return [f"No gap measure for {period}: {gaps.get('reason') or 'too few areas with a value'}."]
    n = int(gaps.get("n_areas", 0) or 0)
    out = [f"{n} {'area has' if n == 1 else 'areas have'} a value for {period}."]
    directed = gaps.get("polarity", indicator.get("polarity")) in ("high_is_good", "low_is_good")
    ratio = gaps.get("fifth_ratio")
    if not is_missing(ratio):
        how = "pooled" if gaps.get("fifth_method") == "pooled" else "average of the areas' values"
        best, worst = ("Best", "worst") if directed else ("Highest", "lowest")  # no direction: best = highest
        out.append(f"{best} fifth of areas: {format_value(gaps['best_fifth_value'], unit)}; {worst} fifth: "
                   f"{format_value(gaps['worst_fifth_value'], unit)} ({how}). The higher is "
                   f"{format_number(ratio, 2)} times the lower, a difference of "
                   f"{format_value(gaps['fifth_difference'], unit)}.")
    else:
        out.append("Too few areas with a value to compare the best and worst fifths.")
    if not is_missing(gaps.get("p90_p10_ratio")):
        out.append(f"The area at the 90th percentile has {format_number(gaps['p90_p10_ratio'], 2)} times the value "
                   f"of the area at the 10th.")
    if gaps.get("n_compared"):
        first, second = ("worse", "better") if directed else ("higher", "lower")
        out.append(f"{gaps[f'n_{first}_than_england']} of {gaps['n_compared']} compared areas are significantly "
                   f"{first} than England and {gaps[f'n_{second}_than_england']} significantly {second} (each "
                   "area’s own 95% interval against England’s value).")
    if not is_missing(gaps.get("i2")):
        out.append(f"Between-area variation beyond chance: I² = {format_number(100 * gaps['i2'], 0)}% of the spread "
                   f"is not explained by chance; with chance removed the 90th/10th percentile ratio would be about "
                   f"{format_number(gaps['tau_p90_p10_ratio'], 2)}.")
    return out



def overdispersion_sentence(disp: Mapping, adjusted: bool) -> str:
    """What the funnel plot's over-dispersion test found and which limits are drawn, in plain words first."""
    phi, p = disp.get("phi"), disp.get("p_value")
    if is_missing(phi):
        return "There are too few areas to tell whether they vary more than chance would explain (over-dispersion)."
    measured = f"over-dispersion φ = {format_number(phi, 2)}, p {'< 0.001' if p < 0.001 else '= ' + format_number(p, 3)}"
    if not disp.get("overdispersed"):
        return (f"The areas vary no more than chance would explain ({measured}), so the limits shown are the plain "
                "95% and 99.8% limits.")
    if adjusted:
        return (f"The areas vary more than chance alone would explain ({measured}), so the limits shown are widened "
                "to allow for it (Spiegelhalter’s adjustment, × √φ): an area outside them is unusual even so.")
    return (f"The areas vary more than chance alone would explain ({measured}); the limits shown are the plain 95% "
            "and 99.8% limits, which do not allow for that, so more areas fall outside them than are unusual.")


def footer_sources(sources: pd.DataFrame) -> list[str]:
    """'Publisher — licence' lines for the page footer, one per publisher and licence."""
    return [f"{row['publisher']} — {row['licence']}" for row in sources.to_dict("records")]


METHODS = (
    ("Proportions", "Wilson score interval at 95% and 99.8%.",
     "Wilson EB. Probable inference, the law of succession, and statistical inference. "
     "J Am Stat Assoc 1927;22:209-12."),
    ("Crude rates and counts", "Byar's approximation when the count is at least 10; the exact Poisson "
     "(chi-squared) interval below that.",
     "Breslow NE, Day NE. Statistical methods in cancer research, vol. II. IARC 1987; "
     "Ulm K. Am J Epidemiol 1990;131:373-5."),
    ("Directly standardised rates and published limits", "Kept as the publisher gives them: an age-standardised "
     "rate cannot be recomputed from the published rows, which have no age-specific counts, and the limits of "
     "estimates (unmet need, prevalence) come from the estimation model. ONS gives no rate below 10 deaths.",
     "The publishers' methodology notes (ONS, OHID)."),
    ("Comparison with a benchmark", "Similar when the benchmark (England, the rest of the region, or a peer group's "
     "pooled or average value) lies inside the area's 95% interval; otherwise better or worse by the indicator's "
     "polarity, or higher or lower where it has none; not compared without a valid interval. A group's value never "
     "includes the area itself and needs at least 3 other areas with a value.",
     "Public Health England. Fingertips technical guidance: comparing with the benchmark."),
    ("Funnel plots", "Control limits at 95% and 99.8% around England's value as a function of the denominator "
     "(Wilson limits for proportions, exact Poisson for rates). Where areas vary more than chance allows, "
     "Spiegelhalter's over-dispersion estimate (winsorised z-scores) can widen the limits; the chart says so.",
     "Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med 2005;24:1185-1202; "
     "Spiegelhalter DJ. Handling over-dispersion of performance indicators. Qual Saf Health Care 2005;14:347-51."),
    ("Rank intervals", "Each area's value is simulated 1,000 times from its 95% interval (seeded); the rank "
     "interval holds the middle 95% of its simulated ranks. Only among at least 10 areas with a value.",
     "Goldstein H, Spiegelhalter DJ. League tables and their limitations. J R Stat Soc A 1996;159:385-443; "
     "Marshall EC, Spiegelhalter DJ. BMJ 1998;316:1701-5."),
    ("Recent trend", "Chi-squared test for linear trend over the 5 most recent periods that have counts, "
     "significant at 99.8%.",
     "Armitage P. Tests for linear trends in proportions and frequencies. Biometrics 1955;11:375-86; "
     "Public Health England. Fingertips technical guidance: recent trends."),
    ("Gap measures", "Best and worst fifth of areas (PHE quintile method), their ratio and difference; the "
     "90th/10th percentile ratio; between-area variance beyond chance (DerSimonian-Laird, I²); for every period, "
     "only where at least 10 areas have a value (as funnel plots, rank intervals and the bivariate map). Figures "
     "the publisher withheld are left out of every statistic, even where their counts are published.",
     "DerSimonian R, Laird N. Control Clin Trials 1986;7:177-88; Higgins JPT, Thompson SG. Stat Med 2002;21:1539-58."),
    ("Illustrative deaths", "How many fewer deaths there would have been had every area with a higher rate had the "
     "rate of the best quarter of areas, and had it had England's rate: each such area's deaths times (1 - benchmark "
     "/ its rate). The best quarter is taken after each area's rate is moved towards the average by as much as "
     "chance could explain (empirical Bayes, with the between-area variance above), since the areas with the "
     "fewest deaths have the most extreme rates. Rounded to two significant figures; an illustration of the gap, "
     "not a count of deaths caused or preventable. England's total is its own published figure.",
     "Morris CN. Parametric empirical Bayes inference. J Am Stat Assoc 1983;78:47-55; Marmot M, et al. Fair "
     "society, healthy lives. 2010."),
    ("Is the gap widening?", "The gap measures of every period on one set of areas: the current areas with a value "
     "and a 95% interval in every period in which at least 10 areas have one (the page says how many), so a change "
     "is not areas coming and going. Whether the gap has changed is a test for a linear trend over time in the "
     "between-area variance beyond chance (DerSimonian-Laird, on the log scale, not truncated at zero): each area's "
     "share of that variance is followed over the periods, its least-squares slope per year taken, and the mean of "
     "those slopes tested against zero by a one-sample t test across areas (a summary-measures analysis), at 95%. "
     "It allows for an area's figures in successive periods being related (3-year periods overlap), treats areas "
     "as independent of each other and is approximate. It needs at least 3 such periods and 10 such areas; "
     "otherwise the page says so and claims no change.",
     "DerSimonian R, Laird N. Control Clin Trials 1986;7:177-88; Matthews JNS, Altman DG, Campbell MJ, Royston P. "
     "Analysis of serial measurements in medical research. BMJ 1990;300:230-5."),
)


# --------------------------------------------------------------------------- notes the build writes into the warehouse
# One function per kind of note, so the words can be changed in one place; the build stores their output in
# value_note and published.build_warnings, and the pages show it.

SOURCE_NAMES = {
    "fingertips": "Fingertips file",
    "ndtms": "NDTMS ViewIt export",
    "ons_deaths": "ONS drug-deaths workbook",
    "prevalence": "opiate and crack cocaine prevalence workbook",
    "population": "ONS population estimates workbook",
    "release_foi": "Release Freedom of Information survey table",
    "ukhsa_hcv_odn": "UKHSA hepatitis C table",
}
_FINGERTIPS_FILE = re.compile(r"indicator-(\d+)")
NOT_IN_BUILD_NOTE = f"{NO_FIGURE_NOTE}: it is not in"


def source_file_phrase(source_id: str, file: str) -> str:
    """'the Fingertips file for indicator 90244 (indicator-90244.csv)', 'the NDTMS ViewIt export (...)'."""
    match = _FINGERTIPS_FILE.search(file or "") if source_id == "fingertips" else None
    name = (f"Fingertips file for indicator {match.group(1)}" if match
            else SOURCE_NAMES.get(source_id, f"{source_id} file"))
    return f"the {name} ({file})" if file else f"the {name}"


def placeholder_note(files: list[tuple[str, str]]) -> str:
    """value_note of a row the build adds for an area that no source file used mentions for that period."""
    where = " or ".join(source_file_phrase(s, f) for s, f in files) or "any source file"
    return f"{NOT_IN_BUILD_NOTE} {where}, the published files this dashboard uses."


def combined_area_note(together: str) -> str:
    """value_note of a figure the publisher gives for two areas together, shown on the larger one."""
    return f"Covers {together} together: the publisher gives one figure for both."


def combined_pointer_note(larger_name: str, together: str) -> str:
    """value_note of the smaller area of a combined pair: where its figure is."""
    return (f"Published only together with {larger_name}: the figure shown for {larger_name} covers {together} "
            "together.")


def combined_area_warning(source_id: str, published_as: str, larger: str, larger_name: str, smaller_name: str) -> str:
    """Build warning: a combined figure was put on the larger area."""
    return (f"{source_id}: {published_as!r} is one figure for two areas; it is shown on {larger_name} ({larger}) "
            f"with a note, and {smaller_name} points to it")


def missing_source_warning(source_id: str) -> str:
    """Build warning: a declared source had no files in the raw cache."""
    return (f"{source_id}: no files in the raw cache, so nothing from this source is in the data (to add it: "
            f"uv run indicators fetch --source {source_id}, then uv run indicators build)")


def _missing_reason(note: str) -> str:
    """The placeholder note without its head: 'it is not in the Fingertips file ..., the published files ...'."""
    rest = note[len(NO_FIGURE_NOTE):].lstrip(": ").strip()
    return rest[:1].lower() + rest[1:] if rest else "it is not in the published files this dashboard uses."


def how_to_get_figure() -> str:
    """What a reader can do about a figure the build's files lack."""
    return ("The publishers' newer files may have it: the Data availability page lists what is published where, "
            "and About the data how to add newer files.")


def coverage_line(row: Mapping) -> str:
    """One line per indicator for `indicators build`/`check`/`serve`: areas with a value in the latest period of
    the current areas; it starts with WARNING when fewer than half have one."""
    ident = str(row.get("indicator_id"))
    total = int(row.get("n_current") or 0)
    if not is_missing(row.get("publication_status")) and str(row.get("publication_status")) != OPEN_STATUS:
        return f"{ident}: not published for individual areas ({row.get('publication_status')})"
    if is_missing(row.get("latest_period")):
        return f"{ident}: WARNING no figure for any area (0 of {total} areas)"
    have = int(row.get("n_with_value") or 0)
    counts = int(row.get("n_with_count_only") or 0)
    warning = "WARNING only " if have * 2 < total else ""
    return (f"{ident}: {warning}{have} of {total} areas {'has' if have == 1 else 'have'} a value in {period_display(row['latest_period'])} "
            f"(latest period)" + (f", {counts} more a count only" if counts else ""))


def build_warnings_sentence(count: int) -> str:
    """The line above the list of the build's warnings on the data availability page."""
    if not count:
        return "The build that made this warehouse raised no warnings."
    return (f"The build that made this warehouse raised {count} {'warning' if count == 1 else 'warnings'}: figures "
            "it could not place, areas published together, sources with no files, and cross-checks that differed.")


def similar_set_caption(variables: object, families: list[str]) -> str:
    """Which variables chose a set of most similar areas and which families it is used for."""
    used = "" if is_missing(variables) else str(variables)
    return (f"Most similar areas for {', '.join(families)}, chosen on: {used or 'the open variables'} "
            "(never on the figures they are compared on)")


def league_shortlist_sentence(n_shown: int, n_total: int, area_name: str | None = None,
                              group_label: str | None = None, edge: int = 10) -> str:
    """What a shortened league chart shows (charts.league_shortlist)."""
    if area_name and group_label:
        what = f"{area_name} and its {group_label[:1].lower()}{group_label[1:]} ({n_shown} of the {n_total} areas)"
    else:
        what = f"the {edge} best and the {edge} worst of the {n_total} areas"
    return f"The chart shows {what}, England’s value as a line; the table below lists every area."


def peer_group_missing(group: str) -> str:
    """A peer group the build has no data for: what it is and the command that gets it."""
    if group == "cipfa":
        return ("CIPFA nearest neighbours are not loaded: their lists come from the Fingertips API (About the data "
                "says how to add them).")
    return "This peer group has no areas for this area."


def no_peer_figures(area_name: str) -> str:
    """The peer section when the area has no figure to compare with a group."""
    return f"{plain_name(area_name)} has no figure to compare with the group."
