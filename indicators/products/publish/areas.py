"""The static site's area profiles (area/<GSS code>/ for every current upper-tier area), their chart embeds, and the list of areas; depends on indicators.present and indicators.products.

A profile is composed by indicators.present.profile from the same queries as the dashboard's area
page, so the sentences, charts and tables are the app's. Where the app lets the reader pick a peer
group, the static page shows the app's default view (the first group compared with the area) and
lists the other groups' members with a link to their comparison in the app.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from indicators.present import profile as words
from indicators.present import svgcharts, text
from indicators.present.state import PEER_GROUP_LABELS
from indicators.products import availability, downloads, queries
from indicators.products.publish import site as common
from indicators.products.publish.layout import Page, e, href

SPINE_ROW_HEIGHT = 30  # px per indicator row of the spine chart at a 640 px wide frame, for the suggested iframe height
TREND_EMBED_HEIGHT = 480


INDEX = "areas/"


def metadata_name(site: common.Site) -> str:
    """The profiles' definitions and sources, one file beside the list of areas (every profile has every indicator)."""
    return downloads.download_name(None, site.build_date, "area-profile-metadata", "md")


def area_path(code: str) -> str:
    return f"area/{code}/"


class _Profile:
    """One area's data, read once for its page and its embeds."""

    def __init__(self, site: common.Site, code: str) -> None:
        self.code = code
        self.info = site.q("area", code) or {}
        self.name = site.choices.areas.get(code, code)
        self.profile = site.q("area_profile", code)
        self.names = words.trend_names(self.name, self.info)
        self.trends, self.single = words.trends(self.profile, lambda i: site.q("trend_series", i, code), self.names)
        self.spine = svgcharts.spine_svg(self.profile, self.name)


def _glance(p: _Profile) -> str:
    items = []
    for england, region in words.glance(p.name, p.profile, p.info.get("region_name")):
        items.append(f"<li>{e(england)}" + (f"<ul><li>{e(region)}</li></ul>" if region else "") + "</li>")
    out = [common.paragraph(words.GLANCE_INTRO), f"<ul>{''.join(items)}</ul>" if items else ""]
    missing = words.missing_sentence(p.name, p.profile)
    if missing:
        out.append(common.paragraph(missing))
    return "".join(out)


def _peers(site: common.Site, p: _Profile) -> str:
    """The app's default view of the peer groups (pages/area.py): the first group with members compared; the others
    listed, each with a link to its comparison in the app (a comparison is a query per group and indicator, not worth
    a page for every area)."""
    peers = site.q("peer_groups", p.code)
    available = words.peer_groups_available(peers)
    with_members = [g for g in available if (peers["peer_group"] == g).any()]
    if not with_members:
        return common.paragraph(words.NO_PEERS, "notice")
    out = [common.paragraph(words.PEER_GROUP_HELP)]
    default = with_members[0]
    for group in [default] + [g for g in available if g != default]:
        members = peers[peers["peer_group"] == group]
        label = PEER_GROUP_LABELS.get(group, group)
        if members.empty:
            out.append(f'<details class="peer-group"><summary>{e(label)}</summary>'
                       f"{common.paragraph(text.peer_group_missing(group))}</details>")
        elif group == default:
            comparison = site.q("peer_comparison", p.code, group)
            sentences = words.peer_sentences(p.name, comparison, lambda i: site.meta.get(i, {}))
            lead = words.peer_lead(p.name) if sentences else text.no_peer_figures(p.name)
            out.append(f"<h3>{e(label)}</h3>"
                       f'<div class="columns"><div>{"".join(words.peers_tables(members))}</div><div>'
                       f"{common.paragraph(lead)}{common.bullets(sentences)}"
                       f"<details><summary>Table: against the peer group</summary>"
                       f"{words.peer_comparison_table(comparison, p.name, group)}</details></div></div>")
        else:
            link = site.app("area", area=p.code, peers=group)
            out.append(f'<details class="peer-group"><summary>{e(label)}</summary>{"".join(words.peers_tables(members))}'
                       f'<p><a href="{e(link)}">{e(p.name)} against this group, in the interactive dashboard</a></p>'
                       "</details>")
    return "".join(out)


def _trends(site: common.Site, p: _Profile, page_path: str) -> str:
    out = []
    sections = []
    for chart in p.trends:
        embed = f"embed/{page_path}trend/{chart.indicator_id}/"
        sections.append(f"<section>{chart.svg}{common.paragraph(chart.caption)}"
                        f"<details><summary>Table (the same data as the chart)</summary>{chart.table}</details>"
                        f"<details><summary>Embed this chart</summary>"
                        f"{common.embed_block(site, page_path, embed, f'{p.name}: {chart.short_title}', TREND_EMBED_HEIGHT)}"
                        "</details></section>")
    if sections:
        out.append(f'<div class="trends">{"".join(sections)}</div>')
    if p.single:
        out.append(common.paragraph(words.single_period_sentence(p.single)))
    if not p.trends and not p.single:
        out.append(common.paragraph(words.no_trends_sentence(p.name), "notice"))
    return "".join(out)


def _other_figures(site: common.Site, p: _Profile) -> str:
    odn = queries.odn_values_for_area(site.con, p.code)
    # A publication: never the restricted rows (a rebuild drops local rows anyway).
    local = queries.local_values(site.con, False)
    local = local[local["area_code"] == p.code]
    out = []
    if odn.empty and local.empty:
        out.append(common.paragraph(words.no_other_figures(p.name)))
    if not odn.empty:
        out += [f"<p><strong>{e(availability.odn_caption(odn))}</strong></p>", words.odn_table(odn)]
    if not local.empty:
        titles = {i: common.indicator_title(m) for i, m in site.meta.items()}
        out += [f"<p><strong>{e(words.LOCAL_HEAD)}</strong> {e(words.local_sentence(local))}</p>",
                words.local_table(local, titles, p.name)]
    return "".join(out)


def _profile_page(site: common.Site, p: _Profile) -> Page:
    path = area_path(p.code)
    parts = [f"<h1>{e(p.name)}</h1>", common.paragraph(words.area_line(p.info, p.code), "lead"),
             "<h2>At a glance</h2>", _glance(p), "<h2>Against England and the region</h2>"]
    if p.spine is not None:
        parts += [p.spine, common.paragraph(words.SPINE_EXPLAINED),
                  "<details><summary>Embed this chart</summary>"
                  + common.embed_block(site, path, f"embed/{path}spine/", f"{p.name}: against England and the region",
                                       _spine_height(p.profile))
                  + "</details>"]
    else:
        parts.append(common.paragraph(words.NO_SPINE, "notice"))
    parts += ["<details><summary>Table: this area, its region and England</summary>",
              words.spine_table(p.profile, p.name), "</details>",
              "<h2>Against a peer group</h2>", _peers(site, p),
              "<h2>Over time</h2>", _trends(site, p, path),
              "<h2>Other figures: networks and local data</h2>", _other_figures(site, p),
              "<h2>Comparisons that are not possible, and why</h2>"]
    missing = words.not_possible_table(p.profile, p.name)
    parts.append(missing if missing else common.paragraph(words.ALL_COMPARED))

    ids = list(p.profile["indicator_id"])
    csv_name = downloads.download_name(None, site.build_date, "area-profile", "csv")
    frame = p.profile.assign(area_code=p.code, area_name=p.name)
    files = {csv_name: downloads.view_csv(frame, build_id=site.build_id)}
    parts += ["<h2>Download and cite</h2>",
              common.download_list(path, [(path + csv_name, "CSV of this profile", "every indicator at its latest "
                                           "period, with England, the region and the spread of areas"),
                                          (INDEX + metadata_name(site), "Definitions and sources",
                                           "of every indicator, the same for every area")]),
              common.cite_block(site.citation(f"Area profile: {p.name}", path, ids))]
    description = (f"{p.name}: drug-treatment completions, drug-related deaths, hepatitis C and naloxone against "
                   "England, its region and similar areas, with uncertainty, sources and dates.")
    return Page(path, f"{p.name}: area profile", description, "".join(parts), site.app("area", area=p.code),
                section=INDEX, files=files)


def _spine_height(profile: pd.DataFrame) -> int:
    return 200 + SPINE_ROW_HEIGHT * len(profile)


def _embeds(site: common.Site, p: _Profile) -> Iterator[Page]:
    full = area_path(p.code)
    publishers = "; ".join(site.shell.sources)
    if p.spine is not None:
        path = f"embed/{full}spine/"
        body = (f"<h1>{e(p.name)}: against England and the region</h1>{p.spine}"
                + common.source_line(site, path, full, publishers, f"Full profile of {p.name}"))
        yield Page(path, f"{p.name}: against England and the region",
                   f"Embeddable spine chart of {p.name} against England and its region.", body,
                   site.app("area", area=p.code), embed=True)
    for chart in p.trends:
        path = f"embed/{full}trend/{chart.indicator_id}/"
        publisher = str(site.meta.get(chart.indicator_id, {}).get("publisher") or "")
        body = (f"{chart.svg}{common.paragraph(chart.caption)}"
                + common.source_line(site, path, full, publisher, f"Full profile of {p.name}"))
        yield Page(path, f"{p.name}: {chart.short_title} over time",
                   f"Embeddable trend chart of {chart.short_title} for {p.name}.", f"<h1>{e(p.name)}</h1>{body}",
                   site.app("area", area=p.code, indicator=chart.indicator_id), embed=True)


def codes(site: common.Site) -> list[str]:
    """The current upper-tier areas, each a profile (the unit publish shares out between processes)."""
    return sorted(site.choices.areas)


def pages(site: common.Site, some: list[str] | None = None) -> Iterator[Page]:
    """Every current upper-tier area's profile and its chart embeds (or those of `some` areas)."""
    for code in codes(site) if some is None else some:
        p = _Profile(site, code)
        yield _profile_page(site, p)
        yield from _embeds(site, p)


def index(site: common.Site) -> Iterator[Page]:
    """Every area, by region, linked to its profile."""
    areas = site.q("upper_tier_areas")
    parts = ["<h1>Area profiles</h1>",
             common.paragraph(f"The {len(areas)} upper-tier local authorities of England (counties, unitary "
                              "authorities, metropolitan districts and London boroughs), by region.")]
    for region, group in areas.groupby(areas["region_name"].fillna("England"), sort=True):
        links = "".join(f'<li><a href="{e(href(INDEX, area_path(r["area_code"])))}">{e(r["area_name"])}</a></li>'
                        for r in group.sort_values("area_name").to_dict("records"))
        parts.append(f'<h2>{e(region)}</h2><ul class="link-list">{links}</ul>')
    ids = list(site.meta)
    files = {metadata_name(site): downloads.view_metadata(site.con, ids, site.page_url(INDEX))}
    parts.append(common.download_list(INDEX, [(INDEX + metadata_name(site), "Definitions and sources",
                                               "of every indicator in the profiles")]))
    yield Page(INDEX, "Area profiles", "Every upper-tier local authority in England, linked to its profile.",
               "".join(parts), site.app("area"), section=INDEX, files=files)
