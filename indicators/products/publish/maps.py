"""The static site's map pages: one per indicator at its latest period (each period with --all-periods), their embeds, and the home page; depends on indicators.present and indicators.products.

Each map is indicators.present.mapview's, as on the dashboard's home page: the same colours, legend,
link text and sentences. What the app shows on request (the table of every area) is here on the page.
"""

from __future__ import annotations

from collections.abc import Iterator

from indicators.present import mapview, text, twins
from indicators.present.htmltable import html_table
from indicators.products import downloads
from indicators.products.publish import site as common
from indicators.products.publish.layout import Page, e, href

EMBED_HEIGHT = 760
OTHER_COLOURING = "see the table below, or colour the areas by value in the interactive dashboard"


def map_path(indicator_id: str, period: str | None, latest: str | None) -> str:
    return twins.static_path("map", indicator=indicator_id, period=period, latest=latest, all_periods=True)


def _view(site: common.Site, indicator_id: str, period: str | None, page_path: str, target: str = "_self"):
    meta = site.meta[indicator_id]
    values = site.q("map_values", indicator_id, period)

    def area_href(code: str) -> str:
        return href(page_path, f"area/{code}/")

    return meta, mapview.map_view(values, meta, indicator_id, period, "comparison", site.boundaries(), area_href,
                                  target=target)


def _definition(meta, page_path: str) -> str:
    caveats = text.caveat_list(meta.get("caveats"))
    return ("<details><summary>What this indicator measures, and its caveats</summary>"
            + common.paragraph(meta.get("definition") or "") + common.bullets(caveats)
            + f'<p>{e(mapview.source_line(meta))} More in <a href="{e(href(page_path, "about/"))}">About the data</a>.'
              "</p></details>")


def map_body(site: common.Site, indicator_id: str, period: str | None, page_path: str, *,
             heading: str = "h1") -> tuple[str, dict[str, bytes], str]:
    """The map page's HTML, the files beside it (the view's CSV and metadata) and its description."""
    meta, view = _view(site, indicator_id, period, page_path)
    latest = site.latest(indicator_id)
    england = site.q("benchmark_value", indicator_id, period) if period else None
    notice = mapview.map_notice(england, meta, period, OTHER_COLOURING)
    lead = mapview.england_sentence(england, meta, period)
    parts = [f"<{heading}>{e(meta['title'])}</{heading}>",
             common.paragraph((f"{text.period_display(period)} · " if period else "")
                              + "upper-tier local authorities in England"
                              + (" · the latest period published" if period and period == latest else
                                 "" if period else " · no figures yet"), "lead")]
    if notice:
        parts.append(common.paragraph(notice, "notice"))
    elif lead:
        parts.append(f"<p><strong>{e(lead[0])}</strong> {e(lead[1])}</p>")
    parts.append(_definition(meta, page_path))
    side = [view.legend_html]
    if view.inset is not None:
        side += [f"<h3>{e(mapview.INSET_TITLE)}</h3>", view.inset]
    side.append("<details><summary>What the colours mean</summary><ul>"
                + "".join(f"<li><strong>{e(label)}</strong>: {e(meaning)}</li>"
                          for label, meaning in mapview.colour_meanings(view.legend))
                + "</ul></details>")
    parts.append(f'<div class="map-layout"><div>{view.main}{common.paragraph(mapview.MAP_HELP)}</div>'
                 f'<div class="map-side">{"".join(side)}</div></div>')

    parts.append("<h2>The same data as a table</h2><details><summary>Table of every area: value, 95% interval, "
                 "count, comparison with England and notes</summary>")
    parts.append(html_table(mapview.table_rows(view.table), mapview.table_columns(meta, view.table),
                            caption=f"{meta['title']}, {common.period_label(period)}: every area") + "</details>")

    csv_name = downloads.download_name(indicator_id, site.build_date, "map", "csv")
    md_name = downloads.download_name(indicator_id, site.build_date, "map-metadata", "md")
    values = view.values.assign(indicator_id=indicator_id)
    files = {csv_name: downloads.view_csv(values, build_id=site.build_id),
             md_name: downloads.view_metadata(site.con, [indicator_id], site.page_url(page_path))}
    parts.append("<h2>Download and cite</h2>")
    parts.append(common.download_list(page_path, [
        (page_path + csv_name, "CSV of this map", "every area, with its interval, count, comparison and note"),
        (page_path + md_name, "Definitions and sources", "the indicator's definition, method, caveats and sources"),
        (f"downloads/#{indicator_id}", "Every period of this indicator", "CSV, Parquet and zip")]))
    parts.append(common.cite_block(site.citation(meta["title"], page_path, [indicator_id])))

    embed = f"embed/{map_path(indicator_id, period, latest)}"
    parts.append("<h2>Embed this map</h2>")
    parts.append(common.embed_block(site, page_path, embed, f"Map: {meta['title']}", EMBED_HEIGHT))
    parts.append(_other_maps(site, indicator_id, period, page_path))
    description = (f"Map of {meta['title']} for every upper-tier local authority in England, "
                   f"{common.period_label(period)}, compared with England, with the table, data and sources.")
    return "".join(parts), files, description


def _other_maps(site: common.Site, indicator_id: str, period: str | None, page_path: str) -> str:
    out = []
    periods = site.choices.periods.get(indicator_id, ())
    latest = site.latest(indicator_id)
    if site.all_periods and len(periods) > 1:
        links = []
        for p in reversed(periods):
            label = text.period_display(p) + (" (latest)" if p == latest else "")
            target = map_path(indicator_id, p, latest)
            current = ' aria-current="page"' if p == period else ""
            links.append(f'<li><a href="{e(href(page_path, target))}"{current}>{e(label)}</a></li>')
        out.append(f'<h2>Other periods</h2><ul class="link-list">{"".join(links)}</ul>')
    links = "".join(f'<li><a href="{e(href(page_path, map_path(i, None, None)))}">{e(common.indicator_title(m))}</a>'
                    "</li>" for i, m in site.meta.items() if i != indicator_id)
    out.append(f'<h2>Other maps</h2><ul class="link-list">{links}</ul>')
    return "".join(out)


def _map_page(site: common.Site, indicator_id: str, period: str | None) -> Iterator[Page]:
    latest = site.latest(indicator_id)
    path = map_path(indicator_id, period, latest)
    meta = site.meta[indicator_id]
    body, files, description = map_body(site, indicator_id, period, path)
    title = f"{meta['title']}, {common.period_label(period)}: map"
    yield Page(path, title, description, body, site.app("map", indicator=indicator_id, period=period),
               section="", files=files)
    yield _embed(site, indicator_id, period, path)


def _embed(site: common.Site, indicator_id: str, period: str | None, full_path: str) -> Page:
    path = f"embed/{full_path}"
    meta, view = _view(site, indicator_id, period, path, target="_blank")
    body = (f"<h1>{e(meta['title'])}, {e(common.period_label(period))}</h1>{view.main}{view.legend_html}"
            + common.source_line(site, path, full_path, str(meta.get("publisher") or ""),
                                 "Full map, table and data"))
    return Page(path, f"{meta['title']}, {common.period_label(period)}: map",
                f"Embeddable map of {meta['title']}, {common.period_label(period)}.", body,
                site.app("map", indicator=indicator_id, period=period), embed=True)


def pages(site: common.Site) -> Iterator[Page]:
    """Every indicator's map at its latest period (and every period with --all-periods), each with its embed."""
    for indicator_id in site.meta:
        periods = site.choices.periods.get(indicator_id, ())
        latest = periods[-1] if periods else None
        yield from _map_page(site, indicator_id, latest)
        if site.all_periods:
            for period in periods[:-1]:
                yield from _map_page(site, indicator_id, period)


def home(site: common.Site) -> Iterator[Page]:
    """The home page: the default indicator's map (as the app's home), then every map and the areas."""
    indicator_id = site.choices.default_indicator
    parts = []
    if indicator_id:
        period = site.latest(indicator_id)
        body, files, description = map_body(site, indicator_id, period, "")
        parts.append(body)
    else:
        parts.append("<h1>Drug treatment: the postcode lottery</h1><p>This build has no indicators to map.</p>")
        description, files = "Drug treatment in England, area by area.", {}
    parts.append(f'<h2>Every area</h2><p><a href="areas/">The profile of each of the '
                 f"{len(site.choices.areas)} upper-tier local authorities</a>: every indicator against England, "
                 "its region and similar areas, over time.</p>")
    yield Page("", "Drug treatment: the postcode lottery", description, "".join(parts),
               site.app("map", indicator=indicator_id), section="", files=files)
