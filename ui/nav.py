"""The dashboard's pages and the links between them: one st.Page per page module's render function, by URL path, and the
sidebar's page links; depends on streamlit, indicators.present.state and pages/.

Page modules are imported here, not in dashboard.py, so that a page can link to another
(`nav.page("area")`, `nav.link_params(ctx, "area")`) without importing the entry script.

Streamlit's own page menu is hidden (st.navigation(position="hidden")) and replaced by `links`: its
menu moves to a page with the old address's query and the page then writes its own, two browser history
entries, so Back stayed on the page once. Each link here carries exactly the query the page it opens
writes (the names in the page module's URL_NAMES, from the current state), so moving to a page adds one
entry and Back leaves it.
"""

from __future__ import annotations

import streamlit as st

from indicators.present.state import to_params
from pages import about, area, availability, compare, downloads, lottery, scorecard
from pages import map as map_page

# url path -> (page module, title, icon, short title for the row of links in the page on narrow screens)
PAGES = {
    "map": (map_page, "Map", ":material/map:", "Map"),
    "lottery": (lottery, "Postcode lottery", ":material/balance:", "Lottery"),
    "scorecard": (scorecard, "Scorecard", ":material/table_view:", "Scorecard"),
    "area": (area, "Area profile", ":material/location_on:", "Area"),
    "compare": (compare, "Compare areas", ":material/leaderboard:", "Compare"),
    "availability": (availability, "Data availability", ":material/grid_view:", "Availability"),
    "downloads": (downloads, "Download the data", ":material/download:", "Download"),
    "about": (about, "About the data", ":material/info:", "About"),
}
HOME = "map"


def pages() -> list:
    """The st.Page objects, built anew each run (Streamlit keys them by url path, so they are equal across runs)."""
    return [page(name) for name in PAGES]


def page(url_path: str):
    """The st.Page of one page, for st.navigation and st.page_link."""
    module, title, icon, _ = PAGES[url_path]
    return st.Page(module.render, title=title, icon=icon, url_path=url_path, default=url_path == HOME)


def url_names(url_path: str) -> tuple[str, ...]:
    """The state a page writes to its address (its module's URL_NAMES)."""
    return PAGES[url_path][0].URL_NAMES


def link_params(ctx, url_path: str, **changes) -> dict[str, str]:
    """The query of a link to page `url_path` from the current state (with `changes`): what that page will write."""
    from dataclasses import replace

    state = replace(ctx.state, **changes) if changes else ctx.state
    return to_params(state, url_names(url_path))


def links(ctx) -> None:
    """The page links, each carrying the state the page it opens shows: at the top of the sidebar (ctx.nav_slot) and,
    with short titles, in the page for narrow screens (ctx.inline_nav_slot, see ui.choices)."""
    slots = [(st.sidebar, False)]
    if ctx is not None and ctx.nav_slot is not None:
        slots = [(ctx.nav_slot, False)] + ([(ctx.inline_nav_slot, True)] if ctx.inline_nav_slot is not None else [])
    for slot, short in slots:
        with slot:
            for url_path, (_, title, icon, short_title) in PAGES.items():
                params = link_params(ctx, url_path) if ctx is not None else {}
                st.page_link(page(url_path), label=short_title if short else title, icon=None if short else icon,
                             query_params=params or None, width="content" if short else "stretch")
