"""The postcode-lottery page's words: the gap, the funnel plot and the balance view of completions against deaths, as plain text; depends on indicators.present.text.

pages/lottery.py (the dashboard) takes every sentence it shows from here and escapes it for Markdown
(indicators.present.glossary links the terms); nothing here is Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from indicators.present import text

TITLE = "The postcode lottery"
INTRO = ("How far apart are areas, is the gap more than chance, and do high completion rates go with high death "
         "rates?")
FUNNEL_HEAD = "Funnel plot"
ADJUST_LABEL = "Widen the limits for over-dispersion (Spiegelhalter)"
ADJUST_HELP = ("When areas differ more than chance allows, the plain limits flag too many areas. The adjustment widens "
               "them by √φ; the chart title says which is shown.")
NO_AREA_VALUES = "No area has a value for this period."
BALANCE_HEAD = "The balance view: completions against deaths"
BALANCE_WHY = ("Critics of completion targets warn that a service can complete people quickly while deaths rise. Each "
               "area’s latest figure of each indicator is shown, so the periods can differ.")
BIVARIATE_HEAD = "The same as a map"
BIVARIATE_KEY = ("Thirds of the areas that have both figures: across, completions (low to high); up, deaths (low to "
                 "high). Top right (H/H, dark blue) is high completions with high deaths. Mid grey: not enough data.")
COMPLETION_LABEL = "Completions indicator"
GAP_CHANGE_HEAD = "Is the gap widening?"


def gap_lead(meta: Mapping, period: str) -> str:
    """The line under the gap heading: which indicator and period, over which areas."""
    return f"{meta.get('title')}, {text.period_display(period)}; current upper-tier areas."


def gap_head(meta: Mapping) -> str:
    return f"How big is the gap: {meta.get('short_title', 'no indicator')}"


def gap_change_sentence(over: Mapping | None) -> str:
    """Whether the gap between areas has widened, narrowed or not changed significantly since the first period
    compared (published.gap_change, indicators.stats.gaps.gap_change), with the areas it rests on and the test;
    where the build tested nothing, why, and no claim of a change. `over` is queries.gap_over_time's dict."""
    if not over or not over.get("indicator_id"):
        return "Whether the gap between areas has changed cannot be said: this indicator has no figures in the published files the dashboard uses."
    if not over.get("available"):
        return f"Whether the gap between areas has changed cannot be said: {over.get('reason')}."
    first, last = text.period_display(over["first_period"]), text.period_display(over["last_period"])
    if not over.get("tested"):
        since = f" since {first}" if int(over["n_periods"]) > 1 else ""
        return f"Whether the gap between areas has changed{since} is not tested: {over.get('reason')}."
    n, latest = int(over["n_areas"]), int(over.get("n_areas_latest") or 0)
    areas = f"the {n} areas with a value in all {int(over['n_periods'])} periods compared"
    if latest > n:
        areas += f", of {latest} with one in {last}"
    verb = {"widened": "has widened", "narrowed": "has narrowed"}.get(over["change"], "has not changed significantly")
    periods = over.get("periods")
    ratios = ""
    if periods is not None and len(periods) and not text.is_missing(periods["tau_p90_p10_ratio"].iloc[0]) \
            and not text.is_missing(periods["tau_p90_p10_ratio"].iloc[-1]):
        ratios = (f"; with chance removed, the 90th/10th percentile ratio was "
                  f"{text.format_number(periods['tau_p90_p10_ratio'].iloc[0], 2)} in {first} and "
                  f"{text.format_number(periods['tau_p90_p10_ratio'].iloc[-1], 2)} in {last}")
    p = over["p_value"]
    p_text = "p < 0.001" if p < 0.001 else f"p = {text.format_number(p, 3)}"
    return (f"The gap between areas {verb} since {first} ({areas}{ratios}; trend test on the variance between areas "
            f"beyond chance at 95%: {p_text}).")


def gap_chart_note() -> str:
    """How to read the chart of the gap over time (svgcharts.gap_time_svg) and what its test does not cover."""
    return ("Each line is how many times higher the area at the 90th percentile is than the area at the 10th (1 would "
            "mean no gap). The dashed line uses the published values; the solid line leaves out the part of the "
            "spread that chance alone would make, and the test follows the variance behind it. The test asks "
            "whether the gap grew or shrank steadily over the whole span; a turn in the latest periods is not "
            "tested on its own.")


def no_funnel(reason: object) -> str:
    return f"No funnel plot for this indicator and period: {reason}."


def balance_needs() -> str:
    return ("The balance view needs a completions indicator and drug-misuse deaths, and the published files the "
            "dashboard uses do not have both.")


def _periods(periods: Iterable[str]) -> str:
    shown = [text.period_display(p) for p in periods]
    return ", ".join(shown) or "no period"


def balance_periods(x_meta: Mapping, y_meta: Mapping, view: Mapping) -> str:
    """Which periods the areas' figures come from."""
    return (f"{x_meta.get('short_title')}: {_periods(view.get('x_periods', []))}. "
            f"{y_meta.get('short_title')}: {_periods(view.get('y_periods', []))}.")


def balance_lines(x_meta: Mapping, y_meta: Mapping, england: Mapping) -> str:
    """What the dashed lines are, true whichever England figures the build has: a line only where England has a
    figure, and quadrants only where it has both."""
    ex, ey = england.get("x"), england.get("y")
    x_name, y_name = x_meta.get("short_title"), y_meta.get("short_title")

    def figure(value, meta, period):
        return f"{text.format_value(value, meta.get('unit'))} in {text.period_display(period)}"

    if not text.is_missing(ex) and not text.is_missing(ey):
        return (f"The dashed lines are England’s figures in the latest periods ({x_name} "
                f"{figure(ex, x_meta, england.get('x_period'))}; {y_name} {figure(ey, y_meta, england.get('y_period'))}). "
                "Each area’s quadrant compares it with England’s figures in that area’s own periods.")
    missing = [name for name, value in ((x_name, ex), (y_name, ey)) if text.is_missing(value)]
    has = [(name, value, meta, england.get(f"{axis}_period"))
           for axis, name, value, meta in (("x", x_name, ex, x_meta), ("y", y_name, ey, y_meta))
           if not text.is_missing(value)]
    sentence = (f"There is no England figure for {' or '.join(missing)}, so no area is placed in a quadrant "
                "(high or low against England)")
    if has:
        name, value, meta, period = has[0]
        return sentence + f"; the one dashed line is England’s {name}, {figure(value, meta, period)}."
    return sentence + " and no line is drawn."


def quadrant_counts(quadrants: Iterable[str], names: Iterable[str]) -> str | None:
    """How many areas are in each quadrant, `names` (charts.QUADRANT_NAMES' values) in their order, from each area's
    quadrant (charts.balance_quadrants); None when no area is in one (no England figure to compare with), since
    balance_lines already says why."""
    counts: dict[str, int] = {}
    for quadrant in quadrants:
        counts[quadrant] = counts.get(quadrant, 0) + 1
    placed = [f"{name} ({counts[name]})" for name in names if counts.get(name)]
    return "Areas in each quadrant: " + " · ".join(placed) + "." if placed else None


def balance_too_few(n: int) -> str:
    """Fewer areas with both figures than any pattern needs."""
    areas = "Only 1 area has" if n == 1 else f"Only {n} areas have"
    return (f"{areas} both figures: too few to say anything about the pattern across England. The other areas have no "
            "completions figure in the published files the dashboard uses (no data, not zeros).")


def balance_nothing(x_meta: Mapping, y_meta: Mapping) -> str:
    return (f"No area has both {x_meta.get('short_title')} and {y_meta.get('short_title')} (no data, not zeros), so "
            "there is nothing to plot.")


def bivariate_too_few(minimum: int, n: int) -> str:
    return (f"The map divides areas into thirds on each measure; it needs at least {minimum} areas with both figures, "
            f"and {'only 1 area has' if n == 1 else f'{n} areas have'} them.")


_YEAR_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def _about(value: float) -> str:
    """A figure to two significant figures, as 'about 3,700'."""
    return f"about {text.format_count(text.round_significant(value, 2))}"


def _per_year(value: float, years: int | None) -> str:
    if not years or years < 2:
        return ""
    return f" (about {text.format_count(text.round_significant(value / years, 2))} a year)"


def _deaths(n: float) -> str:
    return f"{text.format_count(n)} {'death' if n == 1 else 'deaths'}"


def deaths_statement(figure: Mapping | None, meta: Mapping) -> str | None:
    """The illustrative deaths statement under the gap measures (published.illustrative_deaths, made by
    indicators.pipeline.statistics.illustrative_deaths), or None where the build has none for this indicator and
    period.

    It names the period and its length, England's own total (its row: the areas without a rate had deaths too),
    two benchmarks (the best quarter of areas once chance is allowed for, and England's own rate, the conservative
    one), rounds the illustrations to two significant figures, and says what the figure is not: a count of deaths
    caused or prevented."""
    if not figure or not figure.get("available") or text.is_missing(figure.get("fewer_than_best")):
        return None
    unit = meta.get("unit")
    noun = str(meta.get("short_title") or meta.get("title") or "deaths")
    noun = noun[:1].lower() + noun[1:] if not noun[:2].isupper() else noun
    period = text.period_display(figure.get("period_label"))
    years = None if text.is_missing(figure.get("period_years")) else int(figure["period_years"])
    england = figure.get("england_deaths")
    length = f", a {_YEAR_WORDS[years]}-year total" if years in _YEAR_WORDS else ""
    if text.is_missing(england):
        n = int(figure.get("n_areas") or 0)
        total = (f"The {n} areas with a rate recorded {text.format_count(figure['deaths_in_areas'])} {noun} in "
                 f"{period}{length}{_per_year(figure['deaths_in_areas'], years)}.")
    else:
        total = f"England recorded {text.format_count(england)} {noun} in {period}{length}{_per_year(england, years)}."
    best = figure["fewer_than_best"]
    said = (f"Illustrative only: there would have been {_about(best)} fewer deaths in {period}"
            f"{_per_year(best, years)} if every area with a higher rate had had the rate of the best quarter of "
            f"areas ({text.format_value(figure['best_quarter_rate'], unit)}, allowing for chance: each area’s rate "
            "is first moved towards the average, the more so the fewer deaths it had)")
    against_england = figure.get("fewer_than_england")
    if not text.is_missing(against_england) and not text.is_missing(figure.get("england_rate")):
        said += (f"; or {_about(against_england)} fewer{_per_year(against_england, years)} if every area above "
                 f"England’s own rate of {text.format_value(figure['england_rate'], unit)} had had that rate")
    said += "."
    caveat = ("Both scale each area’s deaths by the ratio of age-standardised rates, and treat the benchmark as "
              "reachable everywhere: they show how large the gap is, not what lies behind it")
    k = int(figure.get("n_without_rate") or 0)
    if k:
        areas = "the 1 area" if k == 1 else f"the {k} areas"
        caveat += (f". They leave out {areas} without a rate ({_deaths(figure['deaths_without_rate'])}), which "
                   f"{'is' if k == 1 else 'are'} in England’s total")
    return f"{total} {said} {caveat}."


def _areas(n: int) -> str:
    return "1 area" if n == 1 else f"{n} areas"


def funnel_counts(points, meta: Mapping, adjusted: bool) -> str | None:
    """The funnel legend's counts in one sentence, counted from the same points and positions as the legend
    (indicators.present.charts.funnel_figure), and why they can differ from the gap section's count, which compares
    each area's own 95% interval with England's value rather than England's value's limits with the area's."""
    if points is None or len(points) == 0:
        return None
    position = points["position"].fillna("")
    high = int(position.str.contains("(high)", regex=False).sum())
    low = int(position.str.contains("(low)", regex=False).sum())
    high_998 = int(position.str.startswith("outside 99.8%").where(position.str.contains("(high)", regex=False),
                                                                   False).sum())
    low_998 = int(position.str.startswith("outside 99.8%").where(position.str.contains("(low)", regex=False),
                                                                  False).sum())
    within = int((position == "within 95% limits").sum())
    polarity = meta.get("polarity")
    high_word, low_word = {"high_is_good": ("better", "worse"), "low_is_good": ("worse", "better")}.get(
        polarity, ("higher", "lower"))
    limits = "widened limits" if adjusted else "limits"
    parts = [f"{_areas(within)} within the 95% {limits}"]
    for n, n998, word in ((high, high_998, high_word), (low, low_998, low_word)):
        if n:
            beyond = f" ({n998} of them beyond 99.8%)" if n998 else ""
            parts.append(f"{_areas(n)} outside them on the {word} side{beyond}")
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return (f"In the funnel plot: {listed}. The counts in the gap section compare each area’s own 95% interval "
            "with England’s value instead, so an area close to a limit can be counted differently there.")
