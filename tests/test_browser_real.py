"""Issue 4's "done when", walked in Debian's Chromium on the warehouse built from the real published files in
../shared/data/raw: the map drawn with every area, an indicator switched by keyboard, an area clicked, its
URL shared and the same view back, a download of what the page shows, and every page without an exception.

Skips with the reason when ../shared (or Chromium) is absent; the invented warehouse's browser tests are in
test_browser.py.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EXCEPTION,
    MAP_DRAWN,
    SETTLED,
    build_real_warehouse,
    sidebar_input,
    streamlit_server,
)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def real(shared_raw, tmp_path_factory):
    """(base URL, warehouse path) of a server on the warehouse built from ../shared/data/raw."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    work = tmp_path_factory.mktemp("real")
    db = build_real_warehouse(work, shared_raw)
    try:
        with streamlit_server(db, work / "streamlit.log") as server:
            yield server.base, db
    except RuntimeError as exc:  # the server did not start; the message carries its log
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _settled(page) -> None:
    page.wait_for_function(SETTLED, timeout=TIMEOUT)
    assert page.locator(EXCEPTION).count() == 0
    assert "Traceback" not in page.inner_text("body")


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _wait_for_params(page, **wanted: str) -> None:
    """The app writes the URL as its run ends: wait until it holds `wanted`."""
    page.wait_for_function("w => Object.entries(w).every(([k, v]) => new URLSearchParams(location.search).get(k) === v)",
                           arg=wanted, timeout=TIMEOUT)


def _mapped_areas(db: Path, indicator: str, period: str) -> dict[str, str]:
    """Area code -> name of the areas the map should draw: those of the view that have a boundary."""
    import sys

    from conftest import REPO

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from indicators.products import queries

    con = queries.connect(db)
    try:
        values = queries.map_values(con, indicator, period)
        with_boundary = {f["properties"]["area_code"] for f in queries.map_geojson(con)["features"]}
    finally:
        con.close()
    return {c: n for c, n in zip(values["area_code"], values["area_name"]) if c in with_boundary}


def test_done_when_on_the_real_build(real, browser):
    base, db = real
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    try:
        # The map, with every area of the view, each a named link.
        page.goto(base + "/")
        page.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
        _settled(page)
        assert urlsplit(page.url).query == ""  # the address the visitor came with is left alone (Back works)
        state = _params(re.search(r"link to this view: (\S+)", page.inner_text("body")).group(1))
        assert state["indicator"] == "deaths_drug_misuse"
        expected = _mapped_areas(db, state["indicator"], state["period"])
        assert len(expected) >= 140  # England's upper-tier areas with a boundary
        links = page.locator(".ind-map-main a")
        assert links.count() == len(expected)
        named = links.evaluate_all("links => links.map(a => [a.getAttribute('href'), a.getAttribute('aria-label'), "
                                   "a.querySelector('title').textContent])")
        by_code = {re.search(r"area=(\w+)", href).group(1): (label, tip) for href, label, tip in named}
        assert set(by_code) == set(expected)
        for code, (label, tip) in by_code.items():  # the accessible name and the tooltip both start with the name
            assert label.startswith(expected[code] + ". ") and tip.split("\n")[0] == expected[code], code

        # Switch indicator by keyboard.
        box = page.locator(sidebar_input("Indicator"))
        box.focus()
        box.fill("Drug-poisoning deaths")
        page.locator("[role='option']").filter(has_text="Drug-poisoning deaths").first.wait_for(timeout=TIMEOUT)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Deaths related to drug "
                               "poisoning')", timeout=TIMEOUT)
        _settled(page)
        _wait_for_params(page, indicator="deaths_drug_poisoning")

        # Click an area: its profile opens, keeping the indicator.
        page.locator(".ind-map-main a[href*='area=E06000009']").click()
        page.wait_for_url(re.compile(r"/area\?"), timeout=TIMEOUT)
        page.wait_for_function("() => document.querySelector('h1')?.innerText === 'Blackpool'", timeout=TIMEOUT)
        _settled(page)
        _wait_for_params(page, area="E06000009", indicator="deaths_drug_poisoning")
        body = page.inner_text("body")
        assert "Blackpool’s drug-poisoning death rate" in body
        assert page.locator(sidebar_input("Indicator")).input_value() == "Drug-poisoning deaths"

        # Share the URL: another visitor gets the same view.
        shared = page.url
        other = browser.new_context(viewport=VIEWPORT).new_page()
        try:
            other.goto(shared)
            other.wait_for_function("() => document.querySelector('h1')?.innerText === 'Blackpool'", timeout=TIMEOUT)
            _settled(other)
            assert other.locator(sidebar_input("Area")).input_value() == "Blackpool"
            assert other.locator(sidebar_input("Indicator")).input_value() == "Drug-poisoning deaths"
            other.wait_for_function("url => location.href === url", arg=shared, timeout=TIMEOUT)
        finally:
            other.context.close()

        # Download what the profile shows: Blackpool's rows, stamped with this build.
        with page.expect_download(timeout=TIMEOUT) as info:
            page.get_by_role("button", name="Download CSV").click()
        frame = pd.read_csv(io.BytesIO(Path(info.value.path()).read_bytes()))
        assert set(frame["area_code"]) >= {"E06000009"}
        assert "deaths_drug_poisoning" in set(frame["indicator_id"])
        assert frame["build_id"].nunique() == 1 and re.fullmatch(r"\d{8}-\w+", frame["build_id"].iloc[0])
    finally:
        context.close()


@pytest.mark.parametrize("path, title", [("/lottery", "The postcode lottery"), ("/compare", "Compare areas"),
                                         ("/availability", "Data availability"), ("/about", "About the data"),
                                         ("/?colour=value&indicator=completion_opiate",
                                          "Successful completion of drug treatment: opiate users")])
def test_every_page_on_the_real_build(real, browser, path, title):
    base, _ = real
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(base + path)
        page.wait_for_function("t => document.querySelector('h1')?.innerText === t", arg=title, timeout=TIMEOUT)
        _settled(page)
    finally:
        context.close()


def test_thin_edges_on_the_real_build(real, browser):
    """Issue 13 in Chromium on the real build: Cumberland's profile shows its 91 drug-misuse deaths (a count
    re-aggregated from its districts, with no rate) in the summary, the spine chart and the table; Barnet's map
    label gives the real reason it is not compared (England's figure is missing), beside its interval."""
    base, _ = real
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(base + "/area?area=E06000063&indicator=deaths_drug_misuse")
        page.wait_for_function("() => document.querySelector('h1')?.innerText === 'Cumberland'", timeout=TIMEOUT)
        _settled(page)
        body = page.inner_text("body")
        assert "Cumberland: 91 drug-misuse deaths in 2019–21, a count with no rate." in body
        assert "12 of 12 indicators have no figure" not in body
        assert "count only: 91, no rate" in page.locator("figure.ind-spine").inner_text()
        row = page.locator("table", has_text="Cumberland, its region and England").locator(
            "tr", has_text="Drug-misuse deaths").first.text_content()  # in a closed expander: its text, not drawn
        assert "91" in row and "Count only, no rate" in row

        page.goto(base + "/?indicator=completion_opiate&period=2020/21")
        page.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
        _settled(page)
        label = page.locator(".ind-map-main a[href*='area=E09000003']").get_attribute("aria-label")
        assert "95% interval:" in label and "Not compared (no England figure for this period)" in label
        assert "no interval" not in label
    finally:
        context.close()
