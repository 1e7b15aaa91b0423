"""The dashboard's pages: one st.Page per page module's render function, by URL path; depends on streamlit and pages/.

Page modules are imported here, not in dashboard.py, so that a page can link to another
(`nav.page("area")`) without importing the entry script.
"""

from __future__ import annotations

import streamlit as st

from pages import about, area, availability, compare, lottery, map as map_page

# url path -> (render function, title, icon); the first is the home page (served at "/").
PAGES = {
    "map": (map_page.render, "Map", ":material/map:"),
    "lottery": (lottery.render, "Postcode lottery", ":material/balance:"),
    "area": (area.render, "Area profile", ":material/location_on:"),
    "compare": (compare.render, "Compare areas", ":material/leaderboard:"),
    "availability": (availability.render, "Data availability", ":material/grid_view:"),
    "about": (about.render, "About the data", ":material/info:"),
}
HOME = "map"


def pages() -> list:
    """The st.Page objects, built anew each run (Streamlit keys them by url path, so they are equal across runs)."""
    return [page(name) for name in PAGES]


def page(url_path: str):
    """The st.Page of one page, for st.navigation and st.page_link."""
    render, title, icon = PAGES[url_path]
    return st.Page(render, title=title, icon=icon, url_path=url_path, default=url_path == HOME)
