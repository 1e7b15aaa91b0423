"""Addresses of one view in the dashboard and in the static site (`indicators publish`), so each can link to the other; standard library only.

The static site has a page per indicator map (latest period at map/<indicator>/, other periods at
map/<indicator>/<period>/ when published with --all-periods), per area profile (area/<GSS code>/),
and the about page; the app has the same views at its page paths with the state in the query string.
Both sides build their links here, so a path changes in one place.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

# The app's url path of each page the static site has a twin of (ui/nav.py; "" is the app's home, the map).
APP_PATHS = {"map": "", "area": "area", "about": "about", "scorecard": "scorecard"}


def period_slug(period: str) -> str:
    """A period label as a path segment: '2020/21' -> '2020-21', '2019-21' stays."""
    return re.sub(r"[^A-Za-z0-9]+", "-", str(period)).strip("-")


def app_url(base: str, page: str, params: dict[str, str] | None = None) -> str:
    """The address of a view in the app at `base` (e.g. https://dashboard.example.org/)."""
    query = urlencode({k: v for k, v in (params or {}).items() if v})
    return f"{base.rstrip('/')}/{APP_PATHS[page]}" + (f"?{query}" if query else "")


def static_path(page: str, *, indicator: str | None = None, period: str | None = None, latest: str | None = None,
                area: str | None = None, all_periods: bool = False) -> str | None:
    """The site-relative folder of a view's static twin ('area/E06000009/'), or None when the site has none.

    A map of another period than the latest has its own page only in a site published with --all-periods;
    otherwise its twin is the indicator's latest map."""
    if page == "map" and indicator:
        if period and period != latest and all_periods:
            return f"map/{indicator}/{period_slug(period)}/"
        return f"map/{indicator}/"
    if page == "area" and area:
        return f"area/{area}/"
    if page in ("about", "scorecard"):
        return f"{page}/"
    return None


def site_url(base: str, path: str) -> str:
    """An absolute address in the published site at `base`."""
    return f"{base.rstrip('/')}/{path}"


def iframe_snippet(url: str, title: str, height: int) -> str:
    """The HTML to embed a page of the static site (as its own pages offer it: full width, no border, lazy)."""
    e = html.escape
    return (f'<iframe src="{e(url)}" title="{e(title)}" width="100%" height="{int(height)}" style="border:0" '
            'loading="lazy"></iframe>')
