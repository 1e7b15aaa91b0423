"""The static site (`indicators publish`) in Debian's Chromium: axe-core on every kind of page, the map's links by
keyboard, nothing loaded from elsewhere, and screenshots at desktop and phone size for a person to look at.

The site of the invented warehouse (tests/support.py), with that of a 12-area invented warehouse under spread/ for
the spine embed (the first has too few areas for a spine chart), is served from 127.0.0.1 by Python's http.server
in a thread (enough for one browser; the speed of a real server is measured in benchmarks/bench_static.py).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from support import make_spread_warehouse, make_warehouse
from test_browser import AXE_TAGS, _axe_source

from indicators.products import publish

pytestmark = pytest.mark.browser

APP = "http://127.0.0.1:9/"  # a port nothing listens on: the app's links are followed by no test here
SPREAD = "spread"  # a second site, of an invented warehouse with enough areas for a spine chart (10 with a value)
PAGES = {"home": "", "map": "map/completion_opiate/", "map-period": "map/completion_opiate/2019-20/",
         "map-not-published": "map/naloxone_opiate_clients_issued/", "area": "area/E06000009/",
         "area-suppressed": "area/E09000012/", "areas": "areas/", "about": "about/", "downloads": "downloads/",
         "embed-map": "embed/map/deaths_drug_misuse/", "embed-spine": f"{SPREAD}/embed/area/E06000901/spine/",
         "embed-trend": "embed/area/E06000009/trend/completion_opiate/"}

SERVED: dict[str, Path] = {}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    work = tmp_path_factory.mktemp("static")
    db = make_warehouse(work / "fixture.duckdb", harm_families=True)
    site = work / "site"
    publish.publish(db, site, app_url=APP, all_periods=True)
    publish.publish(make_spread_warehouse(work / "spread.duckdb", n_areas=12), site / SPREAD, app_url=APP)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SERVED["site"] = site  # for a test that adds a host page of its own
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("INDICATORS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, java_script_enabled=False)
    tab = context.new_page()
    tab.requests = []
    tab.on("request", lambda r: tab.requests.append(r.url))
    yield tab
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_kind_of_page_is_accessible(browser, base, shots, name):
    """No serious or critical axe-core violation (WCAG 2.x A/AA) on each kind of page, read without JavaScript;
    nothing requested from anywhere but the site; a screenshot at desktop and at phone size."""
    for label, viewport in (("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})):
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        tab = context.new_page()
        requests = []
        tab.on("request", lambda r: requests.append(r.url))
        try:
            response = tab.goto(base + PAGES[name])
            assert response.status == 200
            assert tab.locator("h1").count() == 1
            assert not [u for u in requests if not u.startswith(base)], requests
            tab.screenshot(path=str(shots / f"static-{name}-{label}.png"), full_page=False)
        finally:
            context.close()
    # axe itself is a script, which the pages' own policy forbids: the check alone bypasses it
    context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    try:
        tab.goto(base + PAGES[name])
        tab.add_script_tag(content=_axe_source())
        result = tab.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        serious = [(v["id"], v["help"], [n["html"][:120] for n in v["nodes"]][:3])
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, serious
    finally:
        context.close()


def test_the_maps_links_work_by_keyboard(page, base):
    """Tab from the top of the page into the map, then Enter: the area's profile opens."""
    page.goto(base + PAGES["map"])
    for _ in range(80):
        page.keyboard.press("Tab")
        inside = page.evaluate("() => !!document.activeElement.closest('.ind-map-main')")
        if inside:
            break
    assert inside, "Tab never reached the map"
    label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    name = label.split(". ")[0]
    page.keyboard.press("Enter")
    page.wait_for_url("**/area/E*/", timeout=10_000)
    assert page.locator("h1").inner_text() == name
    # and on to the next area by keyboard: every area is a focusable link
    page.go_back()
    links = page.locator(".ind-map-main a")
    assert links.count() == 7
    links.nth(3).focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.ind-map-main') !== null")


def test_embedded_map_in_an_iframe(page, base):
    """The snippet's iframe, in a host page at the site's root: the map is drawn in it and its links leave the host
    page alone (they open a new tab)."""
    page.goto(base + PAGES["map"])
    snippet = page.locator("pre.snippet code").last.inner_text()
    assert snippet.startswith('<iframe src="embed/map/completion_opiate/"')
    (SERVED["site"] / "newspaper.html").write_text(
        f"<!doctype html><title>A newspaper</title><h1>A newspaper</h1>{snippet}", encoding="utf-8")
    page.goto(base + "newspaper.html")
    frame = page.frame_locator("iframe")
    frame.locator(".ind-map-main a path").first.wait_for(state="attached", timeout=10_000)
    assert frame.locator(".ind-map-main a[target='_blank']").count() == 7
    box = page.locator("iframe").bounding_box()
    assert box["height"] >= 700
