"""One map view (an indicator and period) as the app and the static site show it: SVG, legend, inset, words and table; depends on pandas and indicators.present.

The dashboard's map page (pages/map.py through ui/data.py, cached per build) and the static site
(indicators.products.publish) both call these functions, so an area's colour, link text, legend count
and every sentence about the map are the same in both. Only the address an area links to differs,
given by the caller as `href(area_code)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from indicators.present import charts, svgmap, text
from indicators.present.htmltable import Column

INTRO = ("This dashboard puts the results of drug and alcohol treatment in each local authority in England next to "
         "drug-related deaths and other harms, every figure with its uncertainty, source and date, to show how much "
         "depends on where you live. The colours follow the legend; select an area on the map, or type a town or "
         "council in the Area box, for its full profile.")
MAP_HELP = ("Select an area (click it, or Tab to it and press Enter) to open its profile. Point at an area for its "
            "value, 95% interval, count and period. The table below lists every area.")
INSET_TITLE = "London boroughs, enlarged"
NO_DATA_CONSEQUENCE = "the map has nothing to colour (no area is drawn as zero)"
VALUE_CLASS_MEANING = "a fifth of the areas with a value, by value."
NO_INDICATORS = "There are no indicators to map yet."
DEFINITION_HEAD = "What this indicator measures, and its caveats"
COLOUR_LABEL = "Colour areas by"
COLOUR_HELP = "Compared with England: significance at 95%. Value: fifths of the areas with a value."
MEANINGS_HEAD = "What the colours mean"
TABLE_HEAD = "The same data as a table"
TABLE_TOGGLE = "Show the table of every area (sortable)"
TABLE_HELP = "Area, region, value, 95% interval, count, comparison with England, period and notes."
TABLE_INSTEAD = ("Each area on the map is also a link that names its value, interval and comparison, so the map can "
                 "be read with a screen reader or the keyboard. The CSV below has every column.")
OTHER_COLOURING = "colour by value instead, or see the table"


@dataclass(frozen=True)
class Boundaries:
    """The map's boundaries projected to SVG paths once per build: every area, and London's boroughs on their own."""
    england: svgmap.Projected
    london: svgmap.Projected


@dataclass(frozen=True)
class MapView:
    """The map of one view: its data, legend and SVG markup (shared between sessions in the app: read-only)."""
    values: pd.DataFrame
    table: pd.DataFrame
    legend: list
    main: str
    inset: str | None
    legend_html: str
    title: str


def project(geojson: Mapping) -> Boundaries:
    """Project indicators.products.queries.map_geojson's features for `map_view`."""
    codes = [f["properties"]["area_code"] for f in geojson["features"]]
    return Boundaries(svgmap.map_paths(geojson),
                      svgmap.map_paths(geojson, [c for c in codes if str(c).startswith(charts.LONDON_PREFIX)]))


def map_title(meta: Mapping, indicator_id: str, period: str) -> str:
    """The map's accessible name."""
    when = f", {text.period_display(period)}" if period else ""
    return f"Map of {meta.get('title', indicator_id)}{when}, upper-tier local authorities in England"


def map_view(values: pd.DataFrame, meta: Mapping, indicator_id: str, period: str, colour: str,
             boundaries: Boundaries, href: Callable[[str], str], highlight: str | None = None,
             target: str = "_self") -> MapView:
    """The map of `values` (indicators.products.queries.map_values) coloured by `colour` ('comparison' or 'value');
    each area links to `href(area_code)`, opened in `target`."""
    table, legend = charts.map_frame(values, meta, colour, period)

    def describe(row) -> list[str]:
        return charts.hover_lines(row, meta)

    title = map_title(meta, indicator_id, period)
    main = svgmap.svg_map(table, boundaries.england, title=title, describe=describe, href=href, highlight=highlight,
                          css_class="ind-map-main", target=target, skip_link=True)
    in_london = table[table["area_code"].isin(boundaries.london.paths)]
    inset = (svgmap.svg_map(in_london, boundaries.london, title=INSET_TITLE, describe=describe, href=href,
                            highlight=highlight, css_class="ind-map-london", target=target, focusable=False)
             if len(in_london) else None)
    counts = table["colour_class"].value_counts().to_dict()
    return MapView(values, table, legend, main, inset, svgmap.legend_html(legend, counts), title)


def england_sentence(england: Mapping | None, meta: Mapping, period: str | None) -> tuple[str, str] | None:
    """England's figure above the map as (lead, rest), e.g. ('England, 2019–21:', '5.1 per 100,000 (95% interval 5.0
    to 5.2). Unit: ...'), without the interval where England's figure has none; None when there is nothing to say
    (no period, or no England figure: see `map_notice`)."""
    if period is None or not england or text.is_missing(england.get("value")):
        return None
    unit = meta.get("unit")
    lower, upper = england.get("lower_ci_95"), england.get("upper_ci_95")
    interval = ("" if text.is_missing(lower) or text.is_missing(upper)
                else f" (95% interval {text.format_interval(lower, upper, unit)})")
    return (f"England, {text.period_display(period)}:",
            f"{text.format_figure(england['value'], meta)}{interval}. Unit: {unit}.")


def map_notice(england: Mapping | None, meta: Mapping, period: str | None, other_colouring: str) -> str | None:
    """Why the map cannot be coloured by comparison (no data, or no England figure); None when it can.
    `other_colouring` says what the reader can do instead (the app offers colouring by value)."""
    if period is None:
        return text.no_data_message(meta, NO_DATA_CONSEQUENCE)
    if not england or text.is_missing(england.get("value")):
        return (f"There is no figure for England for {text.period_display(period)}, so no area can be "
                f"compared with England: {other_colouring}.")
    return None


def foi_note(values: pd.DataFrame) -> str:
    """The sentence for figures that are councils' replies to Freedom of Information requests (the rows of
    queries.map_values with a `foi_reference`; only a dashboard with replies loaded has them); '' when none."""
    if "foi_reference" not in values.columns:
        return ""
    n = int(values["foi_reference"].notna().sum())
    if not n:
        return ""
    what = ("1 area’s figure is an FOI response: a council’s reply" if n == 1 else
            f"{n} areas’ figures are FOI responses: councils’ replies")
    return (f"{what} to a Freedom of Information request, not official statistics. "
            "Each such area names the request’s reference and the reply’s date.")


def source_line(meta: Mapping) -> str:
    """Who publishes the indicator's figures, under its definition and caveats."""
    return f"Source: {meta.get('publisher')}."


def more_line(meta: Mapping) -> str:
    """The source line and where to read more, in the app."""
    return f"{source_line(meta)} More in About the data."


def profile_link(area_name: str) -> str:
    """The link from the map to the chosen area's profile."""
    return f"Open the profile of {area_name}"


def colour_meanings(legend: list) -> list[tuple[str, str]]:
    """What each legend entry means: (label, meaning)."""
    return [(label, text.CATEGORY_MEANINGS.get(key, VALUE_CLASS_MEANING)) for key, label, _ in legend]


def table_columns(meta: Mapping, table: pd.DataFrame) -> list[Column]:
    """The columns of the map's table twin (count and denominator only when some area has one)."""
    columns = [Column("area_name", "Area"), Column("region_name", "Region"),
               Column("value", f"Value, {meta.get('unit')}", "number"), Column("lower_ci_95", "95% lower", "number"),
               Column("upper_ci_95", "95% upper", "number"), Column("numerator", "Count", "count"),
               Column("denominator", "Denominator", "count"), Column("compared", "Compared with England"),
               Column("period", "Period", "period"), Column("value_note", "Note"), Column("area_code", "Code")]
    return [c for c in columns if c.key not in ("numerator", "denominator") or table[c.key].notna().any()]


def table_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The map table with the twin's derived columns (`compared` in words, `period` as displayed)."""
    return table.assign(compared=table["category_label"],
                        period=[text.period_display(p) for p in table["period_label"]])
