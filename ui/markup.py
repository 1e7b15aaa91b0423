"""Server-made HTML/SVG put into the page as it is, by a ten-line st.components.v2 component; depends on streamlit.

Used for the home map and its legend (indicators.present.svgmap), the area profile's charts
(indicators.present.svgcharts) and its tables (indicators.present.htmltable). Why not st.markdown(...,
unsafe_allow_html=True), as the map was first drawn: the browser then parses the markup as Markdown,
then as HTML (rehype-raw, a further 190 KB of JavaScript to fetch on a first visit), then builds it
as React elements; for the map's ~110 KB that took about 60 ms of the browser's main thread on every
indicator switch. st.html cannot be used: its sanitiser (DOMPurify with the HTML profile) removes
SVG. This component hands the markup to the browser's own HTML parser (`innerHTML`) and leaves it
alone while it is unchanged, so keyboard focus on an area survives a rerun that does not change the
map.

A "Skip the map" link (svgmap's skip_link) moves keyboard focus past the map here, without changing the
address: followed as a plain #fragment link it would add a browser history entry.

The markup must be trusted: only the output of those three modules, in which every text from the
data is escaped (html.escape) and which hold no script or event handler. The JavaScript is a fixed
string with no data in it; the CSS is theirs. The component sends nothing back.

Links in the markup (the map's areas) are plain links, loading the profile anew. Following them
inside the session instead (the script reporting the click, the page calling st.switch_page) was
tried on 2 December 2026: the profile came 0.2-0.4 s sooner, but Streamlit's page switch adds no
browser history entry, so Back no longer returned to the map.
"""

from __future__ import annotations

import streamlit as st

from indicators.present.htmltable import TABLE_CSS
from indicators.present.svgcharts import CHART_CSS
from indicators.present.svgmap import MAP_CSS

NAME = "indicators_markup"
JS = """
export default function ({ data, parentElement }) {
  let box = parentElement.querySelector(":scope > div.ind-markup");
  if (!box) {
    box = document.createElement("div");
    box.className = "ind-markup";
    parentElement.appendChild(box);
  }
  if (box.indMarkup !== data) {
    box.innerHTML = typeof data === "string" ? data : "";
    box.indMarkup = data;
  }
  if (!box.indSkip) {
    box.indSkip = true;
    box.addEventListener("click", (event) => {
      const link = event.target.closest("a.ind-skip");
      const target = link && box.querySelector(link.getAttribute("href"));
      if (target) {
        event.preventDefault();
        target.focus();
      }
    });
  }
}
"""

_component = st.components.v2.component(NAME, js=JS, css=MAP_CSS + CHART_CSS + TABLE_CSS, isolate_styles=False)


def show(markup: str, key: str) -> None:
    """Put trusted `markup` (see the module's docstring) into the page; `key` keeps the element across reruns."""
    _component(data=markup, key=key)
