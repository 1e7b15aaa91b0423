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


def gap_lead(meta: Mapping, period: str) -> str:
    """The line under the gap heading: which indicator and period, over which areas."""
    return f"{meta.get('title')}, {text.period_display(period)}; current upper-tier areas."


def gap_head(meta: Mapping) -> str:
    return f"How big is the gap: {meta.get('short_title', 'no indicator')}"


def no_funnel(reason: object) -> str:
    return f"No funnel plot for this indicator and period: {reason}."


def balance_needs() -> str:
    return ("The balance view needs a completions indicator and drug-misuse deaths, and this build has not got "
            "both.")


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
    sentence = (f"This build has no England figure for {' or '.join(missing)}, so no area is placed in a quadrant "
                "(high or low against England)")
    if has:
        name, value, meta, period = has[0]
        return sentence + f"; the one dashed line is England’s {name}, {figure(value, meta, period)}."
    return sentence + " and no line is drawn."


def balance_too_few(n: int) -> str:
    """Fewer areas with both figures than any pattern needs."""
    areas = "Only 1 area has" if n == 1 else f"Only {n} areas have"
    return (f"{areas} both figures in this build: too few to say anything about the pattern across England. The other "
            "areas have no completions figure in the files used for this build (no data, not zeros).")


def balance_nothing(x_meta: Mapping, y_meta: Mapping) -> str:
    return (f"No area has both {x_meta.get('short_title')} and {y_meta.get('short_title')} in this build (no data, not "
            "zeros), so there is nothing to plot.")


def bivariate_too_few(minimum: int, n: int) -> str:
    return (f"The map divides areas into thirds on each measure; it needs at least {minimum} areas with both figures, "
            f"and this build has {n}.")
