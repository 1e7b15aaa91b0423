"""The home map as inline SVG drawn on the server: one link per area, so the map needs no charting library in the browser.

Why not Plotly here: plotly.js is 4.7 MB of JavaScript that a new visitor's browser must fetch,
compile and run, then project 153 polygons, before the map appears (about 2 s of the time to map
on the project's machine). Pre-projected SVG paths, put into the page by ui.markup, need none of that, and
the map is more accessible: every area is a link with an accessible name (name, value, interval,
comparison), reachable by keyboard, with a native tooltip, that opens the area's profile in the same
tab. Everything from the data is escaped (html.escape) before it goes into the markup, and the
markup has no script. (A srcdoc iframe draws a little faster, but Streamlit sandboxes it so that its
links cannot open a page in the app's own tab.)

`map_paths(geojson)` projects the boundaries once per build (spherical Mercator, fitted to a
viewBox); `svg_map(...)` draws one view from those paths and the map table of
`indicators.present.charts.map_frame`; `legend_html(...)` is its legend with swatches and counts.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from indicators.present.text import is_missing

VIEW_WIDTH = 1000  # viewBox units across; one unit is about 0.6 km across England
OUTLINE = "#555555"
HIGHLIGHT = "#000000"
# ui.markup adds this CSS with the map: the SVG fills its column up to a height, keeping its
# proportions; hover and keyboard focus outline the area.
MAP_CSS = """
.ind-map { margin: 0; }
.ind-map svg { width: 100%; height: auto; display: block; }
.ind-map-main svg { max-height: 640px; }
.ind-map a path { stroke: #555555; stroke-width: 0.8; vector-effect: non-scaling-stroke; }
.ind-map a:hover path, .ind-map a:focus path, .ind-map a:focus-visible path {
  stroke: #000000; stroke-width: 2.5; }
.ind-map a:focus { outline: none; }
.ind-map a:focus-visible path { stroke-width: 3; }
.ind-map .ind-map-chosen { fill: none; stroke: #000000; stroke-width: 3; vector-effect: non-scaling-stroke;
  pointer-events: none; }
.ind-skip { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden; }
.ind-skip:focus { position: static; width: auto; height: auto; display: inline-block; margin: 0 0 0.4rem 0;
  padding: 0.3rem 0.6rem; background: #ffffff; color: #1a64a8; border: 2px solid #1a64a8; border-radius: 0.3rem; }
.ind-map-end:focus { outline: none; }
"""
SKIP_TEXT = "Skip the map"
MAP_END_ID = "ind-map-end"
SWATCH_STYLE = ("display:inline-block;width:1rem;height:1rem;margin-right:0.45rem;vertical-align:-0.15rem;"
                "border:1px solid #555555")


@dataclass(frozen=True)
class Projected:
    """Boundaries in SVG coordinates: area code -> path data, in a viewBox of width x height."""
    paths: dict[str, str]
    width: int
    height: int

    def subset(self, codes: Iterable[str]) -> Projected:
        wanted = set(codes)
        return Projected({c: d for c, d in self.paths.items() if c in wanted}, self.width, self.height)


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, 85.0), -85.0)
    return math.radians(lon), math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _rings(geometry: Mapping) -> list[list]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        return list(coords)
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    return []


def map_paths(geojson: Mapping, codes: Iterable[str] | None = None, width: int = VIEW_WIDTH,
              margin: float = 4.0) -> Projected:
    """Project the features (all, or those in `codes`) and fit them to a viewBox `width` units across.

    Path data use integer coordinates, a relative move and relative line segments per ring, and
    drop points that round onto the previous one, which keeps the markup small.
    """
    wanted = None if codes is None else set(codes)
    features = [(f["properties"]["area_code"], _rings(f.get("geometry") or {}))
                for f in geojson.get("features", [])
                if wanted is None or f["properties"]["area_code"] in wanted]
    projected = [(code, [[_mercator(x, y) for x, y, *_ in ring] for ring in rings]) for code, rings in features]
    points = [p for _, rings in projected for ring in rings for p in ring]
    if not points:
        return Projected({}, width, width)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    scale = (width - 2 * margin) / max(x1 - x0, 1e-12)
    height = int(math.ceil((y1 - y0) * scale + 2 * margin))
    paths: dict[str, str] = {}
    for code, rings in projected:
        parts = []
        for ring in rings:
            pts = [(round(margin + (x - x0) * scale), round(margin + (y1 - y) * scale)) for x, y in ring]
            cleaned = [pts[0]] if pts else []
            for p in pts[1:]:
                if p != cleaned[-1]:
                    cleaned.append(p)
            if len(cleaned) > 1 and cleaned[-1] == cleaned[0]:
                cleaned.pop()
            if len(cleaned) < 3:
                continue
            start = cleaned[0]
            steps = " ".join(f"{b[0] - a[0]} {b[1] - a[1]}" for a, b in zip(cleaned, cleaned[1:]))
            parts.append(f"M{start[0]} {start[1]}l{steps}z")
        if parts:
            paths[code] = "".join(parts)
    return Projected(paths, width, height)


def plain_hover(row: Mapping, describe: Callable[[Mapping], list[str]]) -> str:
    return "\n".join(line for line in describe(row) if line)


def svg_map(table: pd.DataFrame, projected: Projected, *, title: str, describe: Callable[[Mapping], list[str]],
            href: Callable[[str], str], highlight: str | None = None, css_class: str = "",
            target: str = "_self", skip_link: bool = False, focusable: bool = True) -> str:
    """The map of one view as an SVG string wrapped in a <figure>.

    `table` has area_code, area_name and colour (from charts.map_frame); `describe(row)` gives the
    plain-text lines of an area's tooltip, the first being its name; `href(code)` the link of an
    area, opened in `target` ('_blank' in an embedded map, so a click leaves the host page alone). Areas
    without a boundary are left out (the table twin lists every area).

    With `skip_link`, a "Skip the map" link comes first (shown when it has keyboard focus) and leads past the
    area links to an empty focusable point after the map (#ind-map-end). With `focusable=False` (the London
    inset, whose boroughs are also on the main map) the links stay clickable but are out of the tab order and
    the figure is hidden from screen readers, so keyboard and screen-reader users meet each area once.
    """
    e = html.escape
    out = [f'<a class="ind-skip" href="#{MAP_END_ID}">{SKIP_TEXT}</a>' if skip_link else "",
           f'<figure class="ind-map {e(css_class)}"' + ("" if focusable else ' aria-hidden="true"') + ">",
           f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {projected.width} {projected.height}"'
           f' preserveAspectRatio="xMidYMid meet" role="group" aria-label="{e(title)}">']
    tab = "" if focusable else ' tabindex="-1"'

    chosen = None
    for row in table.to_dict("records"):
        code = row.get("area_code")
        path = projected.paths.get(code)
        if path is None:
            continue
        lines = describe(row)
        label = ". ".join(line.rstrip(".") for line in lines if line) + ". Open its profile."
        colour = row.get("colour")
        colour = "#eeeeee" if is_missing(colour) else str(colour)
        out.append(f'<a href="{e(href(code))}" target="{e(target)}" aria-label="{e(label)}"{tab}>'
                   f'<title>{e(plain_hover(row, describe))}</title>'
                   f'<path d="{path}" fill="{e(colour)}"/></a>')
        if highlight and code == highlight:
            chosen = path
    if chosen:
        out.append(f'<path class="ind-map-chosen" d="{chosen}" aria-hidden="true"/>')
    out.append("</svg></figure>")
    if skip_link:
        out.append(f'<span id="{MAP_END_ID}" class="ind-map-end" tabindex="-1"></span>')
    return "".join(out)


def legend_html(legend: list[tuple[str, str, str]], counts: Mapping[str, int], title: str = "Legend") -> str:
    """The legend as a list: a swatch, the label and the number of areas in each class (words, not colour alone)."""
    e = html.escape
    items = "".join(f'<li style="list-style:none;margin:0.15rem 0">'
                    f'<span style="{SWATCH_STYLE};background:{e(colour)}" aria-hidden="true"></span>'
                    f'{e(label)} ({int(counts.get(key, 0))})</li>' for key, label, colour in legend)
    return f'<ul class="ind-map-legend" aria-label="{e(title)}" style="padding-left:0;margin:0.25rem 0">{items}</ul>'
