"""'Embed this' under the map and the area profile's charts: the iframe code of their pages in the published static site
(`indicators publish` writes embed/...), when the dashboard knows the site's address (INDICATORS_SITE_URL); depends on
streamlit, indicators.config, indicators.present and the publish package's layout constants.

Without the site's address there is no page to point at, so nothing is offered (README: "The static site").
"""

from __future__ import annotations

import streamlit as st

from indicators import config
from indicators.present import text, twins
from indicators.products.publish import areas as site_areas
from indicators.products.publish import maps as site_maps
from indicators.products.publish.site import EMBED_NOTE

LATEST_ONLY = "The embedded map shows the latest period, {latest}: the site has a page for each period only when it is "\
              "published with every period."


def _offer(label: str, path: str | None, title: str, height: int, note: str = "") -> None:
    site = config.default_site_url()
    if not site or path is None:
        return
    url = twins.site_url(site, f"embed/{path}")
    with st.expander(label, icon=":material/code:"):
        st.markdown(text.md_escape(" ".join(s for s in (EMBED_NOTE, note) if s)))
        st.code(twins.iframe_snippet(url, title, height), language="html", wrap_lines=True)
        st.markdown(f"[Preview the embedded version](<{url}>)")


def map_embed(meta: dict, indicator_id: str, period: str | None, latest: str | None) -> None:
    """Embed this map (the indicator's latest map: the one the static site always has)."""
    path = twins.static_path("map", indicator=indicator_id, period=period, latest=latest)
    note = LATEST_ONLY.format(latest=text.period_display(latest)) if period and latest and period != latest else ""
    _offer("Embed this map", path, f"Map: {meta.get('title', indicator_id)}", site_maps.EMBED_HEIGHT, note)


def spine_embed(area_code: str, area_name: str, n_rows: int) -> None:
    path = twins.static_path("area", area=area_code)
    _offer("Embed this chart", f"{path}spine/" if path else None, f"{area_name}: against England and the region",
           200 + site_areas.SPINE_ROW_HEIGHT * n_rows)


def trend_embed(area_code: str, area_name: str, indicator_id: str, short_title: str) -> None:
    path = twins.static_path("area", area=area_code)
    _offer("Embed this chart", f"{path}trend/{indicator_id}/" if path else None, f"{area_name}: {short_title}",
           site_areas.TREND_EMBED_HEIGHT)
