"""Text from the data never becomes markup: every page, on a warehouse whose names, titles, notes and sources carry
Markdown images and links, raw HTML, a script and Streamlit's own directives (tests/support.HOSTILE).

AppTest: every string the page sends to the browser is walked; where Streamlit renders it as Markdown (bodies,
headings, alerts, widget and expander labels, radio options, help) no hostile text may arrive unescaped; where
it is HTML (the server-drawn SVG and tables, Plotly's hover labels) no hostile tag may arrive as it is. Plain-text
fields (select box options, code blocks) may carry it as it is: that is how it is shown, literally.
Chromium: no request leaves for the hostile host, and no hostile element is in the page. A bare address in the
text is still shown as a link to itself (GitHub-flavoured Markdown's autolinks work on the text after escapes are
read): visible and not deceptive, so allowed; a link whose words hide where it goes is not.
"""

from __future__ import annotations

import re

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED, streamlit_server
from conftest import REPO
from google.protobuf.message import Message
from streamlit.testing.v1 import AppTest
from support import HOSTILE, HOSTILE_HOST, make_hostile_warehouse

from indicators.present.text import md_escape

PAGES = ["pages/map.py", "pages/lottery.py", "pages/area.py", "pages/compare.py", "pages/about.py",
         "pages/availability.py"]
# The current areas of the invented warehouse in code order: area i carries HOSTILE[i], so together they carry each.
AREAS = {"E06000009": "Blackpool", "E06000063": "Cumberland", "E06000065": "North Yorkshire",
         "E08000003": "Manchester", "E09000007": "Camden", "E09000012": "Hackney"}
# (proto message, field) pairs Streamlit shows as plain text, and those it treats as HTML.
PLAIN_FIELDS = {("Selectbox", "options"), ("Selectbox", "raw_value"), ("Selectbox", "default"),
                ("Radio", "raw_value"), ("Code", "code_text")}
HTML_FIELDS = {("BidiComponent", "json"), ("PlotlyChart", "spec")}


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    return make_hostile_warehouse(tmp_path_factory.mktemp("hostile") / "hostile.duckdb")


def _strings(message: Message):
    """(message type, field name, text) for every string in a protobuf message, nested ones included."""
    for field, value in message.ListFields():
        for item in (value if field.is_repeated else [value]):
            if isinstance(item, Message):
                yield from _strings(item)
            elif isinstance(item, str):
                yield type(message).__name__, field.name, item


def _protos(node):
    if getattr(node, "proto", None) is not None:
        yield node.proto
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        yield from _protos(child)


def _leaks(at: AppTest) -> list[tuple[str, str, str]]:
    leaks = []
    for proto in _protos(at._tree):
        for kind, name, value in _strings(proto):
            if (kind, name) in PLAIN_FIELDS:
                continue
            dangerous = [p for p in HOSTILE if "<" in p] if (kind, name) in HTML_FIELDS else HOSTILE
            leaks += [(kind, name, payload) for payload in dangerous if payload in value]
    return leaks


@pytest.mark.parametrize("area", list(AREAS))
@pytest.mark.parametrize("page", PAGES)
def test_no_hostile_text_reaches_the_page_as_markup(page, area, hostile_db, monkeypatch):
    monkeypatch.setenv("INDICATORS_DB", str(hostile_db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    at.query_params["area"] = area
    if page != "pages/map.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    assert _leaks(at) == []
    texts = [value for proto in _protos(at._tree) for _, _, value in _strings(proto)]
    hostile_name = next(n for n in texts if n.startswith(AREAS[area] + " ") and any(p in n for p in HOSTILE))
    if page == "pages/area.py":  # the title is the area's name, shown literally
        assert [h.value for h in at.title] == [md_escape(hostile_name)]
    assert re.search(r"build id", " ".join(m.value for m in at.markdown))  # the frame was drawn


@pytest.mark.browser
def test_the_browser_fetches_nothing_from_hostile_text(hostile_db, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    with streamlit_server(hostile_db, tmp_path / "streamlit.log") as server, sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page()
            page.on("request", lambda request: requests.append(request.url))
            for path in ("map", "lottery", "area", "compare", "about", "availability"):
                for area in ("E06000009", "E06000065", "E08000003"):  # image, <img> and <script> in their names
                    page.goto(f"{server.base}/{path}?area={area}", wait_until="domcontentloaded")
                    page.wait_for_function(SETTLED, timeout=60_000)
                    found = page.evaluate("""host => ({
                        images: [...document.querySelectorAll('img, image, source, iframe')]
                            .map(e => e.getAttribute('src') || e.getAttribute('href') || '')
                            .filter(src => src.includes(host)),
                        links: [...document.querySelectorAll('a')]
                            .filter(a => (a.getAttribute('href') || '').includes(host))
                            .filter(a => a.textContent.trim() !== decodeURI(a.getAttribute('href')))
                            .map(a => a.outerHTML),
                        scripts: [...document.querySelectorAll('script')].filter(s => s.text.includes(host)).length,
                    })""", HOSTILE_HOST)
                    assert found == {"images": [], "links": [], "scripts": 0}, (path, area)
                    if path == "area":
                        assert HOSTILE[[*AREAS].index(area)] in page.locator("h1").first.inner_text()
        finally:
            chromium.close()
    assert [url for url in requests if HOSTILE_HOST in url] == []
    assert all(url.startswith(server.base) or url.startswith(("blob:", "data:")) for url in requests), requests


@pytest.mark.parametrize("page, params", [("pages/map.py", {"indicator": "nope", "period": "nope"}),
                                          ("pages/lottery.py", {"completion": "nope", "adjusted": "nope"}),
                                          ("pages/compare.py", {"peers": "nope", "area": "nope"})])
def test_notices_about_a_bad_link_escape_the_titles_they_name(page, params, hostile_db, monkeypatch):
    """A notice names the indicator shown instead of the link's (its title comes from the data)."""
    monkeypatch.setenv("INDICATORS_DB", str(hostile_db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    if page != "pages/map.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    assert len([w for w in at.warning if w.value.startswith("The link's")]) == len(params)
    assert _leaks(at) == []
