"""The area profile's spine chart and trend charts as SVG drawn on the server, like the home map (indicators.present.svgmap).

Why not Plotly here: the area profile is the page people share (a permalink to one area), and
plotly.js is 4.7 MB of JavaScript a first-time visitor's browser must fetch, compile and run before
any chart appears (about 2.5 s after the page's text on the project's machine). These charts are
simple shapes: drawn here, they arrive with the page. Each mark has a native tooltip (<title>) with
its figures in words; the chart as a whole is an image with an accessible name, and every chart on
the page has a table twin. Everything from the data is escaped (html.escape); the markup has no
script. `CHART_CSS` is added to the page with the markup (ui.markup).

`spine_svg(profile, area_name)` takes indicators.products.queries.area_profile; `trend_svg(series, indicator,
names)` takes the frame of indicators.products.queries.trend_series; `gap_time_svg(periods, indicator)` (the
lottery page's "Is the gap widening?") takes the `periods` of indicators.products.queries.gap_over_time.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from indicators.present import text
from indicators.present.charts import (
    CATEGORY_COLOURS,
    CATEGORY_SYMBOLS,
    ROLE_STYLES,
    spine_positions,
)
from indicators.present.htmltable import Column, html_table
from indicators.present.text import (
    CATEGORY_LABELS,
    format_bare,
    format_interval,
    format_value,
    is_missing,
)

CHART_CSS = """
.ind-chart { margin: 0 0 0.5rem 0; }
.ind-chart svg { width: 100%; height: auto; display: block; font-family: inherit; }
.ind-chart text { fill: #1f1f1f; }
.ind-chart .ind-muted { fill: #555555; }
.ind-spine { container-type: inline-size; }
.ind-spine .ind-spine-narrow { display: none; }
@container (max-width: 600px) {
  .ind-spine .ind-spine-wide { display: none; }
  .ind-spine .ind-spine-narrow { display: block; }
}
"""
INK = "#111111"
RANGE_COLOUR = "#d9d9d9"
IQR_COLOUR = "#8c8c8c"
GRID = "#e6e6e6"
DASHES = {"solid": "", "dash": "7 4", "dot": "2 3"}
CHAR_WIDTH = 0.52  # average advance of Source Sans Pro, in ems, to lay out labels and legends


def _e(value: object) -> str:
    return html.escape("" if is_missing(value) else str(value))


def _num(value: float) -> str:
    """Coordinates with at most one decimal place (smaller markup, no visible difference)."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if not float(value).is_integer() else str(int(value))


def text_width(label: str, size: float) -> float:
    return len(label) * size * CHAR_WIDTH


def wrap(label: str, limit: int) -> list[str]:
    """`label` in lines of at most `limit` characters, broken at spaces (a longer word stays whole)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def marker(shape: str, x: float, y: float, size: float, fill: str, stroke: str = INK, width: float = 1.2) -> str:
    """An SVG marker of Plotly's symbol names (circle, diamond, square, triangle-up/-down, x; '-open' unfilled)."""
    open_ = shape.endswith("-open")
    shape = shape.removesuffix("-open")
    r = size / 2
    paint = (f' fill="none" stroke="{_e(fill)}" stroke-width="{_num(width)}"' if open_ else
             f' fill="{_e(fill)}" stroke="{_e(stroke)}" stroke-width="{_num(width)}"')
    if shape == "circle":
        return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}"{paint}/>'
    if shape == "square":
        return f'<rect x="{_num(x - r)}" y="{_num(y - r)}" width="{_num(size)}" height="{_num(size)}"{paint}/>'
    if shape == "diamond":
        d = r * 1.25
        points = [(x, y - d), (x + d, y), (x, y + d), (x - d, y)]
    elif shape == "triangle-up":
        points = [(x, y - r * 1.15), (x + r * 1.15, y + r * 0.85), (x - r * 1.15, y + r * 0.85)]
    elif shape == "triangle-down":
        points = [(x, y + r * 1.15), (x + r * 1.15, y - r * 0.85), (x - r * 1.15, y - r * 0.85)]
    else:  # "x": a cross of two strokes, in the fill colour with a dark edge
        a = r * 0.9
        cross = (f"M{_num(x - a)} {_num(y - a)}L{_num(x + a)} {_num(y + a)}"
                 f"M{_num(x - a)} {_num(y + a)}L{_num(x + a)} {_num(y - a)}")
        return "".join(f'<path d="{cross}" stroke="{_e(colour)}" stroke-width="{w}" stroke-linecap="round"/>'
                       for colour, w in ((stroke, 4), (fill, 2)))
    return f'<polygon points="{" ".join(f"{_num(px)},{_num(py)}" for px, py in points)}"{paint}/>'


def _legend(items: Sequence[tuple[str, str]], x0: float, y0: float, width: float, size: float = 12,
            swatch: float = 26, gap: float = 18, line_height: float = 22) -> tuple[str, float]:
    """Legend items (swatch markup drawn at the origin, label) flowed in lines across `width`; (markup, height)."""
    out, x, y = [], x0, y0
    for swatch_markup, label in items:
        item_width = swatch + 6 + text_width(label, size)
        if x > x0 and x + item_width > x0 + width:
            x, y = x0, y + line_height
        out.append(f'<g transform="translate({_num(x)},{_num(y)})">{swatch_markup}'
                   f'<text x="{_num(swatch + 6)}" y="4" font-size="{_num(size)}">{_e(label)}</text></g>')
        x += item_width + gap
    return "".join(out), (y - y0) + line_height if items else 0.0


# --------------------------------------------------------------------------- spine chart

SPINE_WIDTH = 900
SPINE_LABEL_WIDTH = 250
SPINE_ROW = 46
SPINE_TOP = 34


def _spans(n: object) -> str:
    """How many areas a row's range spans: '152 areas'."""
    n = 0 if is_missing(n) else int(n)
    return "1 area" if n == 1 else f"{n} areas"


def spine_svg(profile: pd.DataFrame, area_name: str) -> str | None:
    """Fingertips-style spine chart (England at the centre line, worst on the left) as an SVG figure; None when no
    indicator has England's value and a spread of areas. Markers are shaped and coloured as in charts.CATEGORY_SYMBOLS and CATEGORY_COLOURS."""
    data = spine_positions(profile)
    data = data[data["pos_worst"].notna()].reset_index(drop=True)
    if data.empty:
        return None
    left, right = SPINE_LABEL_WIDTH + 20, SPINE_WIDTH - 80
    centre, half = (left + right) / 2, (right - left) / 2 / 1.1

    def x_of(pos: float) -> float:
        return centre + float(pos) * half

    rows, categories, any_region = [], [], False
    for i, r in enumerate(data.to_dict("records")):
        y = SPINE_TOP + SPINE_ROW * i + SPINE_ROW / 2
        unit = r.get("unit")
        label = f"{r.get('short_title') or r.get('title')} ({text.period_display(r['period_label'])})"
        lines = wrap(label, 36)
        label_markup = "".join(
            f'<tspan x="{SPINE_LABEL_WIDTH}" dy="{0 if j == 0 else 15}">{_e(line)}</tspan>' for j, line in enumerate(lines))
        parts = [f'<text x="{SPINE_LABEL_WIDTH}" y="{_num(y + 4 - 7.5 * (len(lines) - 1))}" font-size="13" '
                 f'text-anchor="end">{label_markup}</text>']
        worst, best = x_of(r["pos_worst"]), x_of(r["pos_best"])
        parts.append(f'<rect x="{_num(min(worst, best))}" y="{_num(y - 8)}" width="{_num(abs(best - worst))}" '
                     f'height="16" fill="{RANGE_COLOUR}"/>')
        spans = _spans(r.get("n_areas"))
        parts.append(f'<text x="{_num(right + 6)}" y="{_num(y + 4)}" font-size="11" class="ind-muted">'
                     f'{_e(spans)}</text>')
        if not (is_missing(r["pos_area_q25"]) or is_missing(r["pos_area_q75"])):
            lo, hi = sorted([x_of(r["pos_area_q25"]), x_of(r["pos_area_q75"])])
            parts.append(f'<rect x="{_num(lo)}" y="{_num(y - 8)}" width="{_num(hi - lo)}" height="16" '
                         f'fill="{IQR_COLOUR}"/>')
        if not is_missing(r.get("pos_region_value")):
            any_region = True
            parts.append(marker("diamond-open", x_of(r["pos_region_value"]), y, 11, INK, width=2))
        cat = text.category(r)
        if not is_missing(r.get("pos_value")):
            categories.append(cat)
            mx = x_of(r["pos_value"])
            parts.append(marker(CATEGORY_SYMBOLS[cat], mx, y, 14, CATEGORY_COLOURS[cat]))
            # The word above the marker, clear of the bars and the region's diamond, with a white halo.
            parts.append(f'<text x="{_num(mx)}" y="{_num(y - 11)}" font-size="11" text-anchor="middle" '
                         f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{_e(cat)}</text>')
        elif cat in ("count only", "not calculated", "suppressed"):
            # No marker, but the row says what the area has: its count without a rate, or that it was withheld.
            said = text.spine_missing_label(r)
            parts.append(f'<text x="{_num(centre + 8)}" y="{_num(y - 11)}" font-size="11" '
                         f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{_e(said)}</text>')
        count = ([f"Count: {text.format_count(r.get('numerator'))} (no rate)"]
                 if is_missing(r.get("value")) and not is_missing(r.get("numerator")) else [])
        tip = "\n".join([f"{label}", f"{area_name}: {text.format_figure(r.get('value'), r)}", *count,
                         f"England: {format_value(r.get('england_value'), unit)}",
                         f"Rest of the region: {format_value(r.get('region_value'), unit)}",
                         f"Range of {spans}: {format_bare(r.get('area_min'), unit)} to "
                         f"{format_bare(r.get('area_max'), unit)}",
                         text.category_label(r)])
        rows.append(f'<g><title>{_e(tip)}</title>{"".join(parts)}</g>')
    bottom = SPINE_TOP + SPINE_ROW * len(data)
    header = (f'<text x="{_num(x_of(-1.05))}" y="18" font-size="12" class="ind-muted">← worst</text>'
              f'<text x="{_num(centre)}" y="18" font-size="12" text-anchor="middle">England</text>'
              f'<text x="{_num(x_of(1.05))}" y="18" font-size="12" text-anchor="end" class="ind-muted">best →</text>'
              f'<line class="ind-spine-england" x1="{_num(centre)}" y1="{SPINE_TOP - 6}" x2="{_num(centre)}" '
              f'y2="{_num(bottom + 4)}" stroke="#000000" stroke-width="2"/>')
    items = [(f'<rect x="0" y="-6" width="26" height="12" fill="{RANGE_COLOUR}"/>', "Range of areas (worst to best)"),
             (f'<rect x="0" y="-6" width="26" height="12" fill="{IQR_COLOUR}"/>', "25th to 75th percentile")]
    items += [(marker(CATEGORY_SYMBOLS[c], 13, 0, 12, CATEGORY_COLOURS[c]),
               f"{area_name}: {CATEGORY_LABELS[c][0].lower()}{CATEGORY_LABELS[c][1:]}")
              for c in text.CATEGORIES if c in categories]
    if any_region:
        items.append((marker("diamond-open", 13, 0, 10, INK, width=2), "Rest of the region"))
    legend, legend_height = _legend(items, 20, bottom + 28, SPINE_WIDTH - 40)
    height = math.ceil(bottom + 28 + legend_height)
    name = (f"Spine chart: {area_name} against England, its region and the range of the areas with a value, for "
            f"{len(data)} {'indicator' if len(data) == 1 else 'indicators'}. The table below the chart gives the same "
            "figures.")
    # Two drawings of one chart: labels beside the bars, and for a narrow column (a phone) labels above them, so
    # that the whole chart, England's line included, fits without scrolling sideways. CSS (a container query on
    # the figure's width) shows one; the other is display: none, out of the accessibility tree too.
    return (f'<figure class="ind-chart ind-spine" role="group" aria-label="Spine chart">'
            f'<svg xmlns="http://www.w3.org/2000/svg" class="ind-spine-wide" '
            f'viewBox="0 0 {SPINE_WIDTH} {height}" role="img" aria-label="{_e(name)}">'
            f'{header}{"".join(rows)}{legend}</svg>{_spine_narrow(data, area_name, items, name)}</figure>')


SPINE_NARROW_WIDTH = 360
SPINE_NARROW_LABEL = 13
SPINE_NARROW_LINE = 16


def _spine_narrow(data: pd.DataFrame, area_name: str, legend_items: list, name: str) -> str:
    """The spine chart for a narrow column: each indicator's label (with the comparison's word) above its bar, the bars
    across the whole width, England's line through them all."""
    left, right = 12, SPINE_NARROW_WIDTH - 12
    centre, half = (left + right) / 2, (right - left) / 2 / 1.1

    def x_of(pos: float) -> float:
        return centre + float(pos) * half

    out, y = [], SPINE_TOP
    for r in data.to_dict("records"):
        cat = text.category(r)
        label = (f"{r.get('short_title') or r.get('title')} ({text.period_display(r['period_label'])}, "
                 f"{_spans(r.get('n_areas'))})")
        has_marker = not is_missing(r.get("pos_value"))
        said = cat if has_marker else (text.spine_missing_label(r) if cat in ("count only", "not calculated",
                                                                             "suppressed") else "")
        lines = wrap(f"{label}: {said}" if said else label, 46)
        parts = [f'<text x="{left}" y="{_num(y + SPINE_NARROW_LABEL + SPINE_NARROW_LINE * j)}" '
                 f'font-size="{SPINE_NARROW_LABEL}">{_e(line)}</text>' for j, line in enumerate(lines)]
        bar = y + SPINE_NARROW_LINE * len(lines) + 14
        worst, best = x_of(r["pos_worst"]), x_of(r["pos_best"])
        parts.append(f'<rect x="{_num(min(worst, best))}" y="{_num(bar - 7)}" width="{_num(abs(best - worst))}" '
                     f'height="14" fill="{RANGE_COLOUR}"/>')
        if not (is_missing(r["pos_area_q25"]) or is_missing(r["pos_area_q75"])):
            lo, hi = sorted([x_of(r["pos_area_q25"]), x_of(r["pos_area_q75"])])
            parts.append(f'<rect x="{_num(lo)}" y="{_num(bar - 7)}" width="{_num(hi - lo)}" height="14" '
                         f'fill="{IQR_COLOUR}"/>')
        if not is_missing(r.get("pos_region_value")):
            parts.append(marker("diamond-open", x_of(r["pos_region_value"]), bar, 10, INK, width=2))
        # England's line across this bar, over it (the labels between the bars stay clear of it).
        parts.append(f'<line class="ind-spine-england" x1="{_num(centre)}" y1="{_num(bar - 11)}" x2="{_num(centre)}" '
                     f'y2="{_num(bar + 11)}" stroke="#000000" stroke-width="2"/>')
        if has_marker:
            parts.append(marker(CATEGORY_SYMBOLS[cat], x_of(r["pos_value"]), bar, 13, CATEGORY_COLOURS[cat]))
        out.append(f'<g>{"".join(parts)}</g>')
        y = bar + 7 + 14
    header = (f'<text x="{left}" y="18" font-size="12" class="ind-muted">← worst</text>'
              f'<text x="{_num(centre)}" y="18" font-size="12" text-anchor="middle">England</text>'
              f'<text x="{right}" y="18" font-size="12" text-anchor="end" class="ind-muted">best →</text>')

    legend, legend_height = _legend(legend_items, left, y + 14, SPINE_NARROW_WIDTH - 2 * left, size=12, gap=12,
                                    line_height=20)
    height = math.ceil(y + 14 + legend_height)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="ind-spine-narrow" '
            f'viewBox="0 0 {SPINE_NARROW_WIDTH} {height}" role="img" aria-label="{_e(name)}">'
            f'{header}{"".join(out)}{legend}</svg>')


# --------------------------------------------------------------------------- trend chart

TREND_WIDTH = 480
ROLES = ("area", "region", "England")  # the series of a trend chart, in legend order
TREND_HEIGHT = 330


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high], about `count` intervals."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high - step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    ticks.append(round(value, 10))
    return ticks


def _tick_label(value: float, step: float) -> str:
    decimals = 0 if float(step).is_integer() else min(3, max(1, -math.floor(math.log10(step)) + 1))
    return f"{value:,.{decimals}f}"


def trend_svg(series: pd.DataFrame, indicator: Mapping, names: Mapping[str, str]) -> str:
    """Lines for the area, its region and England over time, each with its 95% interval as a band (y from zero),
    as an SVG figure; line colours and dashes are charts.ROLE_STYLES."""
    unit = indicator.get("unit")
    title = str(indicator.get("short_title") or indicator.get("title") or "")
    shown = series[series["value"].notna()]
    periods = list(dict.fromkeys(shown["period_label"]))
    highs = [v for v in list(shown["value"]) + list(shown["upper_ci_95"].dropna()) if not is_missing(v)]
    lows = [v for v in list(shown["value"]) + list(shown["lower_ci_95"].dropna()) if not is_missing(v)]
    ticks = nice_ticks(min(0.0, min(lows, default=0.0)), max(highs, default=1.0))
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    roles = [r for r in ROLES if (shown["role"] == r).any()]
    items = [(f'<line x1="0" y1="0" x2="26" y2="0" stroke="{ROLE_STYLES[r][0]}" stroke-width="2.2"'
              + (f' stroke-dasharray="{DASHES[ROLE_STYLES[r][1]]}"' if DASHES[ROLE_STYLES[r][1]] else "")
              + f'/><circle cx="13" cy="0" r="3.5" fill="{ROLE_STYLES[r][0]}"/>', names.get(r, r)) for r in roles]
    legend, legend_height = _legend(items, 10, 42, TREND_WIDTH - 20, size=12, gap=14, line_height=20)

    label_size = 11
    longest = max((len(text.period_display(p)) for p in periods), default=4)
    bottom_margin = 18 + longest * label_size * CHAR_WIDTH * 0.71  # labels at -45 degrees
    left, right = 58, TREND_WIDTH - 14
    top, bottom = 42 + legend_height, TREND_HEIGHT - bottom_margin
    y0, y1 = ticks[0], ticks[-1]

    def x_of(period) -> float:
        i = periods.index(period)
        return left + (right - left) * (i + 0.5) / max(len(periods), 1)

    def y_of(value) -> float:
        return bottom - (bottom - top) * (float(value) - y0) / ((y1 - y0) or 1.0)

    out = [f'<text x="10" y="20" font-size="14" font-weight="600">{_e(title)}</text>']
    for t in ticks:
        y = y_of(t)
        out.append(f'<line x1="{left}" y1="{_num(y)}" x2="{right}" y2="{_num(y)}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{_num(y + 4)}" font-size="11" text-anchor="end" '
                   f'class="ind-muted">{_e(_tick_label(t, step))}</text>')
    axis_title = text.unit_short(unit)
    if axis_title:
        mid = (top + bottom) / 2
        out.append(f'<text x="14" y="{_num(mid)}" font-size="12" text-anchor="middle" '
                   f'transform="rotate(-90 14 {_num(mid)})">{_e(axis_title)}</text>')
    every = max(1, math.ceil(len(periods) / 12))
    for i, p in enumerate(periods):
        if i % every and i != len(periods) - 1:
            continue
        x = x_of(p)
        out.append(f'<text x="{_num(x)}" y="{_num(bottom + 14)}" font-size="{label_size}" text-anchor="end" '
                   f'transform="rotate(-45 {_num(x)} {_num(bottom + 14)})">{_e(text.period_display(p))}</text>')
    out.append(f'<line x1="{left}" y1="{_num(bottom)}" x2="{right}" y2="{_num(bottom)}" stroke="#999999"/>')

    for role in reversed(roles):  # England underneath, the area on top
        colour, dash = ROLE_STYLES[role]
        part = shown[shown["role"] == role]
        band = part.dropna(subset=["lower_ci_95", "upper_ci_95"])
        if len(band) > 1:
            upper = [(x_of(p), y_of(v)) for p, v in zip(band["period_label"], band["upper_ci_95"])]
            lower = [(x_of(p), y_of(v)) for p, v in zip(band["period_label"], band["lower_ci_95"])]
            points = " ".join(f"{_num(x)},{_num(y)}" for x, y in upper + lower[::-1])
            out.append(f'<polygon points="{points}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        line = " ".join(f"{_num(x_of(p))},{_num(y_of(v))}" for p, v in zip(part["period_label"], part["value"]))
        dashes = f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else ""
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2.2"{dashes}/>')
        who = names.get(role, role)
        for r in part.to_dict("records"):
            tip = (f"{who}, {text.period_display(r['period_label'])}\n{format_value(r['value'], unit)}\n"
                   f"95% interval: {format_interval(r.get('lower_ci_95'), r.get('upper_ci_95'), unit)}")
            out.append(f'<circle cx="{_num(x_of(r["period_label"]))}" cy="{_num(y_of(r["value"]))}" r="3.5" '
                       f'fill="{colour}"><title>{_e(tip)}</title></circle>')
    first, last = text.period_display(periods[0]) if periods else "", text.period_display(periods[-1]) if periods else ""
    name = (f"Line chart: {title}, {first} to {last}, for {', '.join(names.get(r, r) for r in roles)}, with 95% "
            f"intervals. The table below the chart gives the same figures.")
    return (f'<figure class="ind-chart ind-trend"><svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {TREND_WIDTH} {TREND_HEIGHT}" role="img" aria-label="{_e(name)}">'
            f'{"".join(out)}{legend}</svg></figure>')


def trend_table(series: pd.DataFrame, names: Mapping[str, str]) -> tuple[list[dict], list[Column]]:
    """The trend chart's twin, one row per period (oldest first): each role's value and 95% interval, and the
    area's count where there is one; rows and columns for indicators.present.htmltable.html_table."""
    roles = [r for r in ROLES if (series["role"] == r).any()]
    periods = list(dict.fromkeys(series["period_label"]))
    by_key = {(r["role"], r["period_label"]): r for r in series.to_dict("records")}
    rows = []
    for period in periods:
        row = {"period": period}
        for role in roles:
            r = by_key.get((role, period), {})
            row[f"{role}_value"] = r.get("value")
            row[f"{role}_interval"] = format_interval(r.get("lower_ci_95"), r.get("upper_ci_95"))
            if role == "area":
                row["area_count"] = r.get("numerator")
        rows.append(row)
    columns = [Column("period", "Period", "period")]
    for role in roles:
        who = names.get(role, role)
        columns += [Column(f"{role}_value", who, "number"), Column(f"{role}_interval", f"{who}: 95% interval", "interval")]
        if role == "area" and "numerator" in series and series.loc[series["role"] == "area", "numerator"].notna().any():
            columns.append(Column("area_count", f"{who}: count", "count"))
    return rows, columns


# --------------------------------------------------------------------------- is the gap widening?

GAP_LINES = (("p90_p10_ratio", "90th/10th percentile ratio of the values", "#8c8c8c", "dash"),
             ("tau_p90_p10_ratio", "The same with chance removed", "#1a64a8", "solid"))


def gap_time_svg(periods: pd.DataFrame, indicator: Mapping) -> str:
    """The gap between areas in every period, on one set of areas (queries.gap_over_time's `periods`): the
    90th/10th percentile ratio of the areas' values and the same ratio with chance removed (from the between-area
    variance beyond chance, which the sentence's test follows), as an SVG line chart whose y axis starts at 1
    (no gap)."""
    title = f"Gap between areas: {indicator.get('short_title') or indicator.get('title') or ''}"
    labels = list(periods["period_label"])
    lines = [(key, name, colour, dash) for key, name, colour, dash in GAP_LINES if periods[key].notna().any()]
    figures = [float(v) for key, *_ in lines for v in periods[key] if not is_missing(v)]
    ticks = nice_ticks(1.0, max(figures, default=2.0))
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    items = [(f'<line x1="0" y1="0" x2="26" y2="0" stroke="{colour}" stroke-width="2.2"'
              + (f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else "")
              + f'/><circle cx="13" cy="0" r="3.5" fill="{colour}"/>', name) for _, name, colour, dash in lines]
    legend, legend_height = _legend(items, 10, 42, TREND_WIDTH - 20, size=12, gap=14, line_height=20)
    label_size = 11
    longest = max((len(text.period_display(p)) for p in labels), default=4)
    left, right = 58, TREND_WIDTH - 14
    top, bottom = 42 + legend_height, TREND_HEIGHT - (18 + longest * label_size * CHAR_WIDTH * 0.71)
    y0, y1 = ticks[0], ticks[-1]

    def x_of(i: int) -> float:
        return left + (right - left) * (i + 0.5) / max(len(labels), 1)

    def y_of(value) -> float:
        return bottom - (bottom - top) * (float(value) - y0) / ((y1 - y0) or 1.0)

    out = [f'<text x="10" y="20" font-size="14" font-weight="600">{_e(title)}</text>']
    for t in ticks:
        out.append(f'<line x1="{left}" y1="{_num(y_of(t))}" x2="{right}" y2="{_num(y_of(t))}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{_num(y_of(t) + 4)}" font-size="11" text-anchor="end" '
                   f'class="ind-muted">{_e(_tick_label(t, step))}</text>')
    mid = (top + bottom) / 2
    out.append(f'<text x="14" y="{_num(mid)}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {_num(mid)})">Ratio (1 = no gap)</text>')
    every = max(1, math.ceil(len(labels) / 12))
    for i, p in enumerate(labels):
        if i % every and i != len(labels) - 1:
            continue
        out.append(f'<text x="{_num(x_of(i))}" y="{_num(bottom + 14)}" font-size="{label_size}" text-anchor="end" '
                   f'transform="rotate(-45 {_num(x_of(i))} {_num(bottom + 14)})">{_e(text.period_display(p))}</text>')
    out.append(f'<line x1="{left}" y1="{_num(bottom)}" x2="{right}" y2="{_num(bottom)}" stroke="#999999"/>')
    for key, name, colour, dash in lines:
        points = [(i, v) for i, v in enumerate(periods[key]) if not is_missing(v)]
        dashes = f' stroke-dasharray="{DASHES[dash]}"' if DASHES[dash] else ""
        out.append(f'<polyline points="{" ".join(f"{_num(x_of(i))},{_num(y_of(v))}" for i, v in points)}" '
                   f'fill="none" stroke="{colour}" stroke-width="2.2"{dashes}/>')
        for i, v in points:
            tip = f"{name}, {text.period_display(labels[i])}: {format_bare(v, '', 2)}"
            out.append(f'<circle cx="{_num(x_of(i))}" cy="{_num(y_of(v))}" r="3.5" fill="{colour}">'
                       f'<title>{_e(tip)}</title></circle>')
    first, last = (text.period_display(labels[0]), text.period_display(labels[-1])) if labels else ("", "")
    n = int(periods["n_areas"].iloc[0]) if len(periods) else 0
    name = (f"Line chart: {title}, {first} to {last}, on the same {n} areas in every period: "
            f"{', '.join(label for _, label, *_ in lines).lower()}. The table below the chart gives the same figures.")
    return (f'<figure class="ind-chart ind-trend"><svg xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {TREND_WIDTH} {TREND_HEIGHT}" role="img" aria-label="{_e(name)}">'
            f'{"".join(out)}{legend}</svg></figure>')


def gap_time_table(periods: pd.DataFrame, indicator: Mapping) -> str:
    """The gap chart's twin: every period's gap measures on the one set of areas, as an HTML table."""
    unit = text.unit_short(indicator.get("unit"))
    # An indicator without a better or worse direction counts the areas significantly higher and lower instead.
    judged = indicator.get("polarity") in ("high_is_good", "low_is_good")
    first, second = (("n_worse_than_england", "n_better_than_england") if judged else
                     ("n_higher_than_england", "n_lower_than_england"))
    rows = [dict(r, compared=(f"{int(r[first])} / {int(r[second])} of {int(r['n_compared'])}"
                              if not is_missing(r.get("n_compared")) and not is_missing(r.get(first)) else ""))
            for r in periods.to_dict("records")]
    columns = [Column("period_label", "Period", "period"),
               Column("best_fifth_value", "Best fifth" if judged else "Highest fifth", "number"),
               Column("worst_fifth_value", "Worst fifth" if judged else "Lowest fifth", "number"),
               Column("fifth_ratio", "Ratio of the fifths", "number", 2),
               Column("p90_p10_ratio", "90th/10th ratio", "number", 2),
               Column("tau2_log", "Variance beyond chance (log)", "number", 3),
               Column("tau_p90_p10_ratio", "90th/10th, chance removed", "number", 2),
               Column("compared", ("Worse / better" if judged else "Higher / lower") + " than England (95%)",
                      "interval")]
    n = int(periods["n_areas"].iloc[0]) if len(periods) else 0
    values = f"; values {unit}" if unit else ""
    return html_table(rows, columns, caption=f"The gap in every period, on the same {n} areas{values}")
