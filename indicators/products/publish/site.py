"""What every static page generator shares: the open warehouse, the build's choices, links to the app and between pages, and the blocks for downloads and embeds; depends on pandas, indicators.present and indicators.products.

Generators read only through indicators.products.queries (and the library functions the app calls),
cached here per publish run, so a figure read by two pages is read once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from indicators.present import mapview, text, twins
from indicators.present.state import Choices, make_choices
from indicators.products import downloads, queries
from indicators.products.publish.layout import Shell, e, href

ACCESSED = "[the date you read this page]"
EMBED_NOTE = ("Copy this into your page's HTML. The embedded page needs no script and loads nothing from anywhere "
              "but this site.")


@dataclass
class Site:
    """One publish run: the warehouse connection and what pages share."""
    con: object
    shell: Shell
    app_base: str
    all_periods: bool
    build: Mapping
    folder: Path | None = None  # where the site is being written
    catalogue: pd.DataFrame = field(init=False)
    choices: Choices = field(init=False)

    def __post_init__(self) -> None:
        self.catalogue = queries.indicators(self.con)
        self.choices = make_choices(self.catalogue, queries.indicator_periods(self.con),
                                    queries.upper_tier_areas(self.con))
        self.meta = {r["indicator_id"]: r for r in self.catalogue.to_dict("records")}
        self.q = cache(self._query)  # arguments are strings and tuples
        self._projected: mapview.Boundaries | None = None

    def _query(self, name: str, *args):
        return getattr(queries, name)(self.con, *args)

    @property
    def build_id(self) -> str:
        return self.shell.build_id

    @property
    def build_date(self) -> str:
        return self.shell.build_date

    def boundaries(self) -> mapview.Boundaries:
        """The map's boundaries projected once per run."""
        if self._projected is None:
            self._projected = mapview.project(self.q("map_geojson"))
        return self._projected

    def latest(self, indicator_id: str) -> str | None:
        periods = self.choices.periods.get(indicator_id, ())
        return periods[-1] if periods else None

    def app(self, page: str, **params: str | None) -> str:
        """The same view in the app."""
        return twins.app_url(self.app_base, page, {k: v for k, v in params.items() if v})

    def page_url(self, path: str) -> str:
        """The address to quote for a page: absolute when the site's address is known, else site-relative."""
        return self.shell.absolute(path) or path

    def citation(self, title: str, path: str, indicator_ids: list[str] | None = None) -> str:
        return downloads.citation(self.con, title, self.page_url(path), indicator_ids=indicator_ids,
                                  accessed=ACCESSED)


def indicator_title(meta: Mapping) -> str:
    return str(meta.get("short_title") or meta.get("title") or meta.get("indicator_id"))


def download_list(page_path: str, items: list[tuple[str, str, str]]) -> str:
    """A list of files: (site-relative path, label, what it holds)."""
    lis = "".join(f'<li><a href="{e(href(page_path, path))}" download>{e(label)}</a>'
                  + (f": {e(what)}" if what else "") + "</li>" for path, label, what in items)
    return f'<ul class="files">{lis}</ul>'


def cite_block(citation: str) -> str:
    return f'<h3>Cite this page</h3><pre class="snippet"><code>{e(citation)}</code></pre>'


def embed_block(site: Site, page_path: str, embed_path: str, title: str, height: int) -> str:
    """The iframe snippet of an embed page, and a link to preview it."""
    url = site.page_url(embed_path)
    snippet = (f'<iframe src="{e(url)}" title="{e(title)}" width="100%" height="{height}" '
               f'style="border:0" loading="lazy"></iframe>')
    relative = "" if site.shell.site_url else (
        " The address is relative to this site's root: put the site's own address in front of it (publish with "
        "--site-url to have it written here).")
    return (f"<p>{e(EMBED_NOTE)}{e(relative)}</p>"
            f'<pre class="snippet"><code>{e(snippet)}</code></pre>'
            f'<p><a href="{e(href(page_path, embed_path))}">Preview the embedded version</a></p>')


def source_line(site: Site, page_path: str, full_path: str, publishers: str, what: str) -> str:
    """The line under an embedded chart: sources, build, and a link back to the full page."""
    return (f'<p class="source">Source: {e(publishers)}. Data build {e(site.build_date)} (build id '
            f'{e(site.build_id)}). <a href="{e(href(page_path, full_path))}" target="_blank" rel="noopener">'
            f"{e(what)}</a></p>")


def paragraph(sentence: str, css: str = "") -> str:
    return f'<p{f" class={chr(34)}{css}{chr(34)}" if css else ""}>{e(sentence)}</p>'


def bullets(sentences: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{e(s)}</li>" for s in sentences) + "</ul>" if sentences else ""


def period_label(period: str | None) -> str:
    return text.period_display(period) if period else "no period"
