"""Map data and hovers for every map, and the Plotly figures of the lottery, compare and availability pages (choropleth, funnel, balance scatter, bivariate map, league table), with the spine chart's positions; depends on numpy, pandas, plotly and indicators.present.text.

The home map and the area profile's charts are SVG drawn on the server (indicators.present.svgmap, indicators.present.svgcharts)
from the same colours, symbols and hover lines.

Figures take frames from indicators.products.queries and never query anything themselves. Colour never
carries meaning alone: every category has a legend entry with words, every hover says the
comparison in words, and markers also differ by symbol.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from indicators.catalogue import load_minimums
from indicators.present import text
from indicators.present.text import (
    CATEGORY_LABELS,
    format_bare,
    format_count,
    format_interval,
    format_value,
    is_missing,
)

# Colour-blind-safe: blue / orange for better / worse (never red / green), purple / teal for
# higher / lower without polarity; greys and white for the states without a comparison.
CATEGORY_COLOURS = {
    "better": "#1a64a8",
    "similar": "#f3e3b5",
    "worse": "#e66100",
    "higher": "#6a3d9a",
    "lower": "#1b9e9e",
    "not compared": "#9a9a9a",
    "suppressed": "#4d4d4d",
    "not calculated": "#d4b9a7",
    "not published": "#f1b6da",
    "count only": "#b8c4c9",
    "network figure": "#d8cce8",  # pale lilac: a figure, but the network's, never coloured as the area's own
    "no data": "#eeeeee",
}
CATEGORY_SYMBOLS = {
    "better": "circle", "similar": "diamond", "worse": "square", "higher": "triangle-up",
    "lower": "triangle-down", "not compared": "x", "suppressed": "x", "not calculated": "x", "not published": "x",
    "count only": "x", "network figure": "x", "no data": "x",
}
# Viridis, five classes from its light end to indigo (its near-black end is left out so that no class
# looks like the dark grey of 'suppressed'): colour-blind-safe and ordered in lightness.
VALUE_COLOURS = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487")
NO_DATA_COLOUR = "#eeeeee"
BIVARIATE_NO_DATA = "#9a9a9a"  # the palette's low/low cell is itself a light grey
PLOT_CONFIG = {"displaylogo": False, "displayModeBar": False}
OUTLINE = "#555555"
# Joshua Stevens' 3x3 bivariate palette (teal along x, pink-purple along y), keyed (x_class, y_class).
BIVARIATE_COLOURS = {
    (1, 1): "#e8e8e8", (2, 1): "#ace4e4", (3, 1): "#5ac8c8",
    (1, 2): "#dfb0d6", (2, 2): "#a5add3", (3, 2): "#5698b9",
    (1, 3): "#be64ac", (2, 3): "#8c62aa", (3, 3): "#3b4994",
}
TERTILE_WORDS = {1: "low", 2: "middle", 3: "high"}
# Thirds of fewer areas say nothing: the minimum every spread statistic needs (data/methods.toml).
BIVARIATE_MIN_AREAS = load_minimums().areas_for_spread
ROLE_STYLES = {"area": ("#1a64a8", "solid"), "region": ("#6a3d9a", "dash"), "England": ("#222222", "dot")}
LONDON_PREFIX = "E09"
# plotly.js fetches a base-map topojson (world_110m) from cdn.plot.ly for every geo plot, even with the
# base map hidden. The dashboard must work offline and make no third-party requests, so the plot
# config points topojsonURL at an empty topology inlined as a data: URL (what follows '#' is ignored).
EMPTY_TOPOJSON = '{"type":"Topology","objects":{},"arcs":[]}'
GEO_PLOT_CONFIG = {"topojsonURL": "data:application/json;charset=utf-8," + quote(EMPTY_TOPOJSON) + "#",
                   "displaylogo": False, "scrollZoom": False, "displayModeBar": False}
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13, color="#1f1f1f")


def _layout(fig: go.Figure, **kwargs) -> go.Figure:
    fig.update_layout(template="none", font=FONT, paper_bgcolor="white", plot_bgcolor="white",
                      hoverlabel=dict(bgcolor="white", font=dict(color="#111111")), **kwargs)
    return fig


# --------------------------------------------------------------------------- map data

def value_classes(values: pd.Series, unit: object = "", n_classes: int = 5) -> tuple[pd.Series, list[str]]:
    """Quantile classes of the non-missing values (up to `n_classes`; fewer with fewer distinct values).

    Returns one label per row (NaN where the value is missing) and the labels in ascending order.
    """
    v = pd.to_numeric(values, errors="coerce")
    present = v.dropna()
    if present.empty:
        return pd.Series(np.nan, index=v.index, dtype=object), []
    n_classes = min(n_classes, int(present.nunique()))  # never more classes than distinct values
    edges = np.unique(np.quantile(present, np.linspace(0, 1, n_classes + 1)))
    if len(edges) == 1:
        label = f"{format_bare(edges[0], unit)}"
        return pd.Series(np.where(v.notna(), label, None), index=v.index, dtype=object), [label]
    labels = [f"{format_bare(lo, unit)} to {format_bare(hi, unit)}" for lo, hi in zip(edges[:-1], edges[1:])]
    index = np.clip(np.searchsorted(edges, v.to_numpy(float), side="right") - 1, 0, len(labels) - 1)
    out = pd.Series([labels[i] if ok else None for i, ok in zip(index, v.notna())], index=v.index, dtype=object)
    return out, labels


def hover_lines(row: Mapping, indicator: Mapping) -> list[str]:
    """An area's description in plain text, one line each: name, value with unit, 95% interval, count and
    denominator, period, comparison, and the note (last, when there is one)."""
    unit = indicator.get("unit")
    name = row.get("area_name")
    lines = ["" if is_missing(name) else str(name)]
    cat = row.get("category") or text.category(row, indicator.get("publication_status"))
    if not is_missing(row.get("value")):
        lines.append(text.format_figure(row["value"], indicator))
        lines.append(f"95% interval: {format_interval(row.get('lower_ci_95'), row.get('upper_ci_95'), unit)}")
    count = row.get("numerator")
    denominator = row.get("denominator")
    if not is_missing(count) or not is_missing(denominator):
        lines.append(f"Count: {format_count(count)}" + (
            "" if is_missing(denominator) else f" of {format_count(denominator)}"))
    period = text.period_display(row.get("period_label"))
    if period:
        lines.append(f"Period: {period}")
    lines.append(text.category_label(row, indicator.get("publication_status")) if cat == "not compared"
                 else CATEGORY_LABELS.get(cat, cat))
    note = row.get("value_note")
    if not is_missing(note) and str(note).strip():
        lines.append(str(note).strip())  # whole: a label cut short ('... and cannot be') says something else
    return lines


def hover_text(row: Mapping, indicator: Mapping) -> str:
    """The Plotly hover label of one area: hover_lines with the name in bold and the note in italics."""
    lines = hover_lines(row, indicator)
    note = row.get("value_note")
    has_note = not is_missing(note) and bool(str(note).strip())
    marked = [f"<b>{text.hover_escape(lines[0])}</b>"] + [text.hover_escape(line) for line in lines[1:]]
    if has_note:
        marked[-1] = f"<i>{marked[-1]}</i>"
    return "<br>".join(marked)


def map_frame(values: pd.DataFrame, indicator: Mapping, colour_mode: str = "comparison",
              period_label: str | None = None) -> tuple[pd.DataFrame, list[tuple[str, str, str]]]:
    """Categories, colour classes and hover text for each area; also the legend (key, label, colour) in order.

    In 'comparison' mode the classes are the categories of `indicators.present.text.category`; in 'value'
    mode the values fall into quantile classes and areas without a value keep their own category.
    """
    frame = values.copy()
    status = indicator.get("publication_status")
    if "period_label" in frame.columns and period_label:
        frame["period_label"] = frame["period_label"].fillna(period_label)
    frame["category"] = [text.category(r, status) for r in frame.to_dict("records")]
    frame["category_label"] = [text.category_label(r, status) for r in frame.to_dict("records")]
    frame["hover"] = [hover_text(r, indicator) for r in frame.to_dict("records")]
    legend: list[tuple[str, str, str]] = []
    if colour_mode == "value":
        has_value = frame["category"].isin(text.COMPARISON_CATEGORIES + ("not compared",))
        classes, labels = value_classes(frame["value"].where(has_value), indicator.get("unit"))
        colours = _spread(VALUE_COLOURS, len(labels))
        frame["colour_class"] = np.where(has_value, classes, frame["category"])
        legend = [(label, label, colour) for label, colour in zip(labels, colours)]
    else:
        frame["colour_class"] = frame["category"]
    for key in text.CATEGORIES:
        if colour_mode == "value" and key in text.COMPARISON_CATEGORIES + ("not compared",):
            continue
        if (frame["colour_class"] == key).any():
            legend.append((key, CATEGORY_LABELS[key], CATEGORY_COLOURS[key]))
    colour_of = {key: colour for key, _, colour in legend}
    frame["colour"] = frame["colour_class"].map(colour_of)
    return frame, legend


def _spread(palette: tuple[str, ...], n: int) -> list[str]:
    if n <= 0:
        return []
    if n >= len(palette):
        return list(palette[:n])
    picks = np.round(np.linspace(0, len(palette) - 1, n)).astype(int)
    return [palette[i] for i in picks]


def _subset(geojson: Mapping, codes) -> dict:
    wanted = set(codes)
    return {"type": "FeatureCollection",
            "features": [f for f in geojson["features"] if f["properties"]["area_code"] in wanted]}


def _geo_layout(fig: go.Figure, height: int, title: str | None, legend: bool) -> go.Figure:
    fig.update_geos(fitbounds="locations", visible=False, projection_type="mercator", bgcolor="white")
    return _layout(fig, height=height, margin=dict(l=0, r=0, t=36 if title else 4, b=0),
                   title=dict(text=title, x=0.01, font=dict(size=15)) if title else None,
                   showlegend=legend, dragmode=False, clickmode="event+select",
                   legend=dict(title=dict(text="Legend"), x=0.0, y=0.98, xanchor="left", yanchor="top",
                               bgcolor="rgba(255,255,255,0.9)", bordercolor="#999999", borderwidth=1,
                               itemclick=False, itemdoubleclick=False))


def choropleth(frame: pd.DataFrame, legend: list[tuple[str, str, str]], geojson: Mapping, *,
               title: str | None = None, height: int = 640, show_legend: bool = True,
               highlight: str | None = None, legend_title: str = "Legend") -> go.Figure:
    """A choropleth with one trace per legend class (so the legend names every colour, including 'no data').

    Only areas with a boundary are drawn; each trace carries only its own features. customdata is
    [area_code, hover text], so a click tells the page which area was chosen.
    """
    with_shape = {f["properties"]["area_code"] for f in geojson["features"]}
    frame = frame[frame["area_code"].isin(with_shape)]
    fig = go.Figure()
    for key, label, colour in legend:
        part = frame[frame["colour_class"] == key]
        if part.empty:
            continue
        line_colour = OUTLINE if colour != NO_DATA_COLOUR else "#333333"
        fig.add_trace(go.Choropleth(
            geojson=_subset(geojson, part["area_code"]), featureidkey="properties.area_code",
            locations=part["area_code"].tolist(), z=[0] * len(part), zmin=0, zmax=1,
            colorscale=[[0, colour], [1, colour]], showscale=False, showlegend=show_legend,
            name=f"{label} ({len(part)})", legendgroup=key,
            customdata=list(zip(part["area_code"], part["hover"])),
            hovertemplate="%{customdata[1]}<extra></extra>",
            marker=dict(line=dict(color=line_colour, width=0.6)),
            selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    if highlight and highlight in set(frame["area_code"]):
        part = frame[frame["area_code"] == highlight]
        fig.add_trace(go.Choropleth(
            geojson=_subset(geojson, part["area_code"]), featureidkey="properties.area_code",
            locations=part["area_code"].tolist(), z=[0], zmin=0, zmax=1,
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False,
            showlegend=show_legend, name=f"Chosen area: {part['area_name'].iloc[0]}",
            customdata=list(zip(part["area_code"], part["hover"])),
            hovertemplate="%{customdata[1]}<extra></extra>",
            marker=dict(line=dict(color="#000000", width=3))))
    fig = _geo_layout(fig, height, title, show_legend)
    fig.update_layout(legend_title_text=legend_title)
    return fig


def figure_size(fig: go.Figure) -> int:
    """Bytes of the figure's JSON, as Streamlit sends it to the browser."""
    return len(fig.to_json().encode("utf-8"))


# --------------------------------------------------------------------------- funnel plot

def funnel_figure(data: Mapping, indicator: Mapping, highlight: str | None = None) -> go.Figure:
    """Areas against their denominator with England's value and the 95% / 99.8% control limits (stats.funnel)."""
    unit = indicator.get("unit")
    limits, points = data["limits"], data["points"]
    polarity = indicator.get("polarity")
    fig = go.Figure()
    for level, dash, width in (("998", "dash", 1.6), ("95", "dot", 1.4)):
        label = "99.8%" if level == "998" else "95%"
        for side in ("upper", "lower"):
            fig.add_trace(go.Scatter(
                x=limits["denominator"], y=limits[f"{side}_{level}"], mode="lines",
                line=dict(color="#333333", dash=dash, width=width), name=f"{label} limits",
                legendgroup=level, showlegend=side == "upper", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=limits["denominator"], y=limits["benchmark"], mode="lines",
                             line=dict(color="#000000", width=1.5),
                             name=f"England {format_bare(data['benchmark'], unit)}", hoverinfo="skip"))
    styles = _position_styles(polarity)
    for position, (colour, symbol, word) in styles.items():
        part = points[points["position"] == position]
        if part.empty:
            continue
        hover = [f"<b>{text.hover_escape(r['area_name'])}</b><br>{format_value(r['value'], unit)}"
                 f"<br>x: {format_count(round(r['x']))}<br>{text.hover_escape(position)} ({word})"
                 for r in part.to_dict("records")]
        fig.add_trace(go.Scatter(
            x=part["x"], y=part["value"], mode="markers", name=f"{position}: {word} ({len(part)})",
            marker=dict(color=colour, symbol=symbol, size=9, line=dict(color="#222222", width=0.8)),
            customdata=list(zip(part["area_code"], hover)), hovertemplate="%{customdata[1]}<extra></extra>"))
    if highlight and highlight in set(points["area_code"]):
        row = points[points["area_code"] == highlight].iloc[0]
        fig.add_annotation(x=np.log10(row["x"]), y=row["value"], text=text.hover_escape(row["area_name"]),
                           showarrow=True, arrowhead=2, ax=30, ay=-30, bgcolor="white")
    note = ("Limits adjusted for over-dispersion (Spiegelhalter, φ = "
            f"{text.format_number(data['phi'], 2)})" if data.get("adjusted") else "Unadjusted limits")
    # The legend sits between the title and the plot, where it pushes the plot down as far as its rows need (one or
    # two on a desktop, seven on a phone); below the plot it printed over the axis title on a narrow screen.
    # Long titles are broken into lines that fit a phone.
    height, title = FUNNEL_HEIGHT, "Funnel plot around England<br>" + _lines(note, 40)
    fig = _layout(fig, height=height, margin=dict(l=60, r=20, t=40, b=60),
                  title=dict(text=title, x=0.01, y=1 - 24 / height, yref="container", yanchor="top",
                             font=dict(size=15)),
                  xaxis=dict(title=_lines(data.get("x_label") or "", 40), type="log", showgrid=True,
                             gridcolor="#eeeeee", automargin=True),
                  yaxis=dict(title=text.unit_short(unit) or "value", showgrid=True, gridcolor="#eeeeee",
                             rangemode="tozero"),
                  legend=dict(orientation="h", x=0, yref="container", yanchor="top",
                              y=1 - (16 + 22 * (title.count("<br>") + 1)) / height))
    return fig


FUNNEL_HEIGHT = 600


def _lines(label: str, limit: int) -> str:
    """A chart title or axis title broken at spaces into lines of at most `limit` characters (Plotly's <br>); the text
    is escaped for Plotly's HTML-like labels."""
    words, lines = str(label).split(), []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(text.hover_escape(line) for line in lines)


def _position_styles(polarity: object) -> dict[str, tuple[str, str, str]]:
    if polarity in ("high_is_good", "low_is_good"):
        high_word = "better" if polarity == "high_is_good" else "worse"
        low_word = "worse" if polarity == "high_is_good" else "better"
    else:
        high_word, low_word = "higher", "lower"
    colour = {"better": CATEGORY_COLOURS["better"], "worse": CATEGORY_COLOURS["worse"],
              "higher": CATEGORY_COLOURS["higher"], "lower": CATEGORY_COLOURS["lower"]}
    return {
        "within 95% limits": ("#bdbdbd", "circle", "similar to England"),
        "outside 95% limits (high)": (colour[high_word], "triangle-up-open", high_word),
        "outside 95% limits (low)": (colour[low_word], "triangle-down-open", low_word),
        "outside 99.8% limits (high)": (colour[high_word], "triangle-up", f"{high_word} (99.8%)"),
        "outside 99.8% limits (low)": (colour[low_word], "triangle-down", f"{low_word} (99.8%)"),
    }


# --------------------------------------------------------------------------- balance view

QUADRANT_NAMES = {
    (True, True): "High completions, high deaths",
    (True, False): "High completions, low deaths",
    (False, True): "Low completions, high deaths",
    (False, False): "Low completions, low deaths",
}
QUADRANT_STYLES = {
    "High completions, high deaths": ("#e66100", "square"),
    "High completions, low deaths": ("#1a64a8", "circle"),
    "Low completions, high deaths": ("#6a3d9a", "diamond"),
    "Low completions, low deaths": ("#1b9e9e", "triangle-up"),
    "No England value to compare with": ("#6a6a6a", "cross"),
    "Not enough data": ("#9a9a9a", "x"),
}


def balance_quadrants(frame: pd.DataFrame) -> pd.Series:
    """Each area's quadrant relative to England's value in the same period (x: completions, y: deaths);
    'Not enough data' without both values, 'No England value to compare with' without England's."""
    out = []
    for r in frame.to_dict("records"):
        if is_missing(r.get("x_value")) or is_missing(r.get("y_value")):
            out.append("Not enough data")
        elif is_missing(r.get("x_england")) or is_missing(r.get("y_england")):
            out.append("No England value to compare with")
        else:
            out.append(QUADRANT_NAMES[(r["x_value"] > r["x_england"], r["y_value"] > r["y_england"])])
    return pd.Series(out, index=frame.index, dtype=object)


def balance_figure(frame: pd.DataFrame, x_indicator: Mapping, y_indicator: Mapping,
                   england: Mapping, highlight: str | None = None) -> go.Figure:
    """Completions (x) against deaths (y) with 95% intervals as error bars and quadrant lines at England's values."""
    data = frame.dropna(subset=["x_value", "y_value"]).copy()
    data["quadrant"] = balance_quadrants(data)
    xu, yu = x_indicator.get("unit"), y_indicator.get("unit")
    fig = go.Figure()
    for quadrant, (colour, symbol) in QUADRANT_STYLES.items():
        part = data[data["quadrant"] == quadrant]
        if part.empty:
            continue
        hover = [f"<b>{text.hover_escape(r['area_name'])}</b><br>{text.hover_escape(x_indicator.get('short_title'))}: "
                 f"{format_value(r['x_value'], xu)} ({format_interval(r['x_lower_ci_95'], r['x_upper_ci_95'], xu)}), "
                 f"{text.period_display(r['x_period'])}<br>{text.hover_escape(y_indicator.get('short_title'))}: "
                 f"{format_value(r['y_value'], yu)} ({format_interval(r['y_lower_ci_95'], r['y_upper_ci_95'], yu)}), "
                 f"{text.period_display(r['y_period'])}<br>{quadrant}" for r in part.to_dict("records")]
        fig.add_trace(go.Scatter(
            x=part["x_value"], y=part["y_value"], mode="markers", name=f"{quadrant} ({len(part)})",
            marker=dict(color=colour, symbol=symbol, size=9, line=dict(color="#222222", width=0.7)),
            error_x=dict(type="data", array=(part["x_upper_ci_95"] - part["x_value"]).fillna(0),
                         arrayminus=(part["x_value"] - part["x_lower_ci_95"]).fillna(0),
                         color="rgba(80,80,80,0.35)", thickness=1, width=0),
            error_y=dict(type="data", array=(part["y_upper_ci_95"] - part["y_value"]).fillna(0),
                         arrayminus=(part["y_value"] - part["y_lower_ci_95"]).fillna(0),
                         color="rgba(80,80,80,0.35)", thickness=1, width=0),
            customdata=list(zip(part["area_code"], hover)), hovertemplate="%{customdata[1]}<extra></extra>"))
    ex, ey = england.get("x"), england.get("y")
    if not is_missing(ex):
        fig.add_vline(x=ex, line=dict(color="#000000", dash="dash", width=1),
                      annotation_text=f"England {format_bare(ex, xu)}", annotation_position="bottom right")
    if not is_missing(ey):
        fig.add_hline(y=ey, line=dict(color="#000000", dash="dash", width=1),
                      annotation_text=f"England {format_bare(ey, yu)}", annotation_position="top left")
    if not is_missing(ex) and not is_missing(ey) and len(data):
        fig.add_annotation(x=1, y=1, xref="paper", yref="paper", xanchor="right", yanchor="top",
                           text="<b>High completions, high deaths</b><br>"
                                "the pattern critics of completion targets warn about",
                           showarrow=False, bgcolor="rgba(255,255,255,0.85)", bordercolor="#e66100", borderwidth=1)
    if highlight and highlight in set(data["area_code"]):
        row = data[data["area_code"] == highlight].iloc[0]
        fig.add_annotation(x=row["x_value"], y=row["y_value"], text=text.hover_escape(row["area_name"]),
                           showarrow=True, arrowhead=2, ax=-40, ay=-30, bgcolor="white")
    return _layout(fig, height=560, margin=dict(l=60, r=20, t=30, b=60),
                   xaxis=dict(title=f"{x_indicator.get('short_title')} ({text.unit_short(xu)})", showgrid=True,
                              gridcolor="#eeeeee", zeroline=False),
                   yaxis=dict(title=f"{y_indicator.get('short_title')} ({text.unit_short(yu)})", showgrid=True,
                              gridcolor="#eeeeee", zeroline=False),
                   legend=dict(orientation="h", y=-0.18, x=0))


def bivariate_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """Tertile classes (1 low .. 3 high) of x and y among areas with both, a colour and words for each area; no
    class for anyone when fewer than BIVARIATE_MIN_AREAS areas have both."""
    out = frame.copy()
    both = out["x_value"].notna() & out["y_value"].notna()
    out["x_class"] = np.nan
    out["y_class"] = np.nan
    for axis in ("x", "y"):
        values = out.loc[both, f"{axis}_value"].astype(float)
        if len(values) >= BIVARIATE_MIN_AREAS:
            cuts = np.quantile(values, [1 / 3, 2 / 3])
            out.loc[both, f"{axis}_class"] = np.searchsorted(cuts, values, side="right") + 1
    out["bivariate_class"] = [
        f"{TERTILE_WORDS[int(x)]} completions, {TERTILE_WORDS[int(y)]} deaths" if not (is_missing(x) or is_missing(y))
        else "Not enough data" for x, y in zip(out["x_class"], out["y_class"])]
    out["colour"] = [BIVARIATE_COLOURS[(int(x), int(y))] if not (is_missing(x) or is_missing(y)) else BIVARIATE_NO_DATA
                     for x, y in zip(out["x_class"], out["y_class"])]
    return out


def bivariate_cuts(frame: pd.DataFrame) -> dict[str, list[float]]:
    both = frame["x_value"].notna() & frame["y_value"].notna()
    return {axis: (list(np.quantile(frame.loc[both, f"{axis}_value"].astype(float), [1 / 3, 2 / 3]))
                   if both.sum() >= BIVARIATE_MIN_AREAS else []) for axis in ("x", "y")}


def bivariate_map(classes: pd.DataFrame, geojson: Mapping, x_indicator: Mapping, y_indicator: Mapping,
                  height: int = 600) -> go.Figure:
    """The balance view as a map: one trace per bivariate class, with the class in words in the legend and hover."""
    frame = classes.copy()
    frame["colour_class"] = frame["bivariate_class"]
    frame["hover"] = [
        f"<b>{text.hover_escape(r['area_name'])}</b><br>{text.hover_escape(x_indicator.get('short_title'))}: "
        f"{format_value(r.get('x_value'), x_indicator.get('unit'))} ({text.period_display(r.get('x_period'))})<br>"
        f"{text.hover_escape(y_indicator.get('short_title'))}: "
        f"{format_value(r.get('y_value'), y_indicator.get('unit'))} "
        f"({text.period_display(r.get('y_period'))})<br>{r['bivariate_class']}" for r in frame.to_dict("records")]
    legend = []
    for (x, y), colour in sorted(BIVARIATE_COLOURS.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        label = f"{TERTILE_WORDS[x]} completions, {TERTILE_WORDS[y]} deaths"
        legend.append((label, label, colour))
    legend.append(("Not enough data", "Not enough data", BIVARIATE_NO_DATA))
    return choropleth(frame, legend, geojson, height=height, legend_title="Completions and deaths (thirds of areas)")


def bivariate_legend(x_indicator: Mapping, y_indicator: Mapping, cuts: Mapping | None = None) -> go.Figure:
    """The 3x3 legend grid: completions thirds across, deaths thirds up, each cell labelled in words (L/M/H)."""
    fig = go.Figure()
    for (x, y), colour in BIVARIATE_COLOURS.items():
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5, fillcolor=colour,
                      line=dict(color="white", width=2))
        fig.add_annotation(x=x, y=y, text=f"{TERTILE_WORDS[x][0].upper()}/{TERTILE_WORDS[y][0].upper()}",
                           showarrow=False, font=dict(size=11, color="#111111" if (x, y) != (3, 3) else "#ffffff"))

    def ticks(axis):
        names = ["low", "middle", "high"]
        if cuts and len(cuts.get(axis, [])) == 2:
            unit = (x_indicator if axis == "x" else y_indicator).get("unit")
            a, b = cuts[axis]
            names = [f"low<br>< {format_bare(a, unit)}", "middle", f"high<br>≥ {format_bare(b, unit)}"]
        return dict(tickvals=[1, 2, 3], ticktext=names, range=[0.5, 3.5], showgrid=False, zeroline=False,
                    tickangle=0, fixedrange=True)

    return _layout(fig, height=300, margin=dict(l=90, r=10, t=10, b=70),
                   xaxis=dict(title=f"{x_indicator.get('short_title')} →", **ticks("x")),
                   yaxis=dict(title=f"{y_indicator.get('short_title')} →", scaleanchor="x", **ticks("y")))


# --------------------------------------------------------------------------- spine chart

def spine_positions(profile: pd.DataFrame) -> pd.DataFrame:
    """Scale each indicator so England sits at 0 and the furthest area at ±1, worst on the left.

    For 'low_is_good' indicators the axis is flipped (high values, the worst, go left); for
    'no_polarity' lower values are on the left. Rows without England's value or a spread of
    areas get NaN positions.
    """
    out = profile.copy()
    eng = out["england_value"].astype(float)
    half = np.maximum((out["area_max"].astype(float) - eng).abs(), (out["area_min"].astype(float) - eng).abs())
    half = half.where(half > 0)
    sign = np.where(out["polarity"] == "low_is_good", -1.0, 1.0)
    for column in ("area_min", "area_q25", "area_q75", "area_max", "value", "region_value"):
        out[f"pos_{column}"] = sign * (out[column].astype(float) - eng) / half
    worst = np.where(sign < 0, out["pos_area_max"], out["pos_area_min"])
    best = np.where(sign < 0, out["pos_area_min"], out["pos_area_max"])
    out["pos_worst"], out["pos_best"] = worst, best
    return out


# --------------------------------------------------------------------------- league table

LEAGUE_SHORT_MAX = 30  # longer lists are first drawn as a shortlist (league_shortlist), the whole on request
LEAGUE_EDGE = 10  # without a chosen area, the shortlist is the best and worst this many


def league_shortlist(table: pd.DataFrame, area_code: str | None, peers: pd.DataFrame | None,
                     groups: tuple[str, ...]) -> tuple[pd.DataFrame, str | None]:
    """The rows of a long league table (queries.league_table, in rank order) to draw first, and the peer group they
    come from: the chosen area with the members of its first peer group in `groups` that has any (peers: queries.
    peer_groups), or without an area the LEAGUE_EDGE best and worst; (table, None) when it is short enough."""
    ranked = table[table["value"].notna()]
    if len(ranked) <= LEAGUE_SHORT_MAX:
        return table, None
    if area_code and peers is not None and len(peers):
        group = next((g for g in groups if (peers["peer_group"] == g).any()), None)
        if group is not None:
            codes = {area_code, *peers.loc[peers["peer_group"] == group, "area_code"]}
            return ranked[ranked["area_code"].isin(codes)], group
    return pd.concat([ranked.head(LEAGUE_EDGE), ranked.tail(LEAGUE_EDGE)]), None


def league_figure(table: pd.DataFrame, indicator: Mapping, england_value: object = None,
                  group: Mapping | None = None, highlight: str | None = None) -> go.Figure:
    """Areas in rank order (best at the top) with 95% intervals, coloured and shaped by comparison with England;
    `group` is the chosen area's comparison with its peers (queries.group_comparison), drawn as a line.

    A long list has its value axis at the top and again at the bottom, so one is on screen wherever the reader is
    (a page cannot keep a chart's axis fixed while it scrolls)."""
    unit = indicator.get("unit")
    data = table[table["value"].notna()].copy()
    data["category"] = [text.category(r, indicator.get("publication_status")) for r in data.to_dict("records")]
    fig = go.Figure()
    for cat in text.CATEGORIES:
        part = data[data["category"] == cat]
        if part.empty:
            continue
        hover = [f"<b>{text.hover_escape(r['area_name'])}</b><br>{format_value(r['value'], unit)} "
                 f"({format_interval(r['lower_ci_95'], r['upper_ci_95'], unit)})<br>"
                 + (f"Rank {int(r['rank'])}, 95% rank interval {int(r['rank_lower'])} to {int(r['rank_upper'])}<br>"
                    if not is_missing(r.get("rank")) else "")
                 + text.category_label(r, indicator.get("publication_status"))
                 for r in part.to_dict("records")]
        fig.add_trace(go.Scatter(
            x=part["value"], y=part["area_name"], mode="markers", name=CATEGORY_LABELS[cat],
            marker=dict(color=CATEGORY_COLOURS[cat], symbol=CATEGORY_SYMBOLS[cat], size=9,
                        line=dict(color="#111111", width=[2.5 if c == highlight else 0.6 for c in part["area_code"]])),
            error_x=dict(type="data", array=(part["upper_ci_95"] - part["value"]).fillna(0),
                         arrayminus=(part["value"] - part["lower_ci_95"]).fillna(0), color="#666666",
                         thickness=1.2, width=0),
            customdata=list(zip(part["area_code"], hover)), hovertemplate="%{customdata[1]}<extra></extra>"))
    order = list(data["area_name"])
    lines = [("England", england_value, dict(color="#000000", width=1.5))]
    if group:
        lines.append(("Peers", group.get("group_value"), dict(color="#6a3d9a", width=1.5, dash="dash")))
    for label, value, style in lines:
        if not is_missing(value):
            fig.add_vline(x=float(value), line=style)
            fig.add_trace(go.Scatter(x=[float(value)], y=[order[0] if order else None], mode="lines", line=style,
                                     name=f"{label} {format_bare(value, unit)}", hoverinfo="skip"))
    long = len(order) > 15
    if long and order:  # a second, matching value axis at the bottom (an axis is drawn only for a trace on it)
        fig.add_trace(go.Scatter(x=[float(data["value"].iloc[0])], y=[order[0]], xaxis="x2", mode="markers",
                                 marker=dict(opacity=0), showlegend=False, hoverinfo="skip"))
    return _layout(fig, height=max(260, 22 * len(data) + (170 if long else 120)),
                   margin=dict(l=10, r=20, t=40, b=40 + (100 if long else 0)),
                   xaxis=dict(title=text.unit_short(unit), showgrid=True, gridcolor="#eeeeee", side="top"),
                   xaxis2=dict(matches="x", overlaying="x", side="bottom", showgrid=False, visible=long,
                               automargin=True),
                   yaxis=dict(categoryorder="array", categoryarray=order, range=[len(order) - 0.5, -0.5],
                              automargin=True),
                   legend=dict(orientation="h", y=-0.02, x=0, yanchor="top", yref="paper") if not long else
                   dict(orientation="h", x=0, y=0, yanchor="bottom", yref="container"))
