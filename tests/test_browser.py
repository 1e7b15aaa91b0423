"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `streamlit run dashboard.py`
on the invented warehouse (loopback only). Screenshots go to a temporary folder for a person to look at.

axe-core (accessibility rules) is taken from a cache outside the repository, filled once with `npm pack
axe-core`; without npm or the registry the accessibility check is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, MAP_DRAWN, PAGE_LINKS, SETTLED, streamlit_server
from support import make_warehouse

from ui import nav

pytestmark = pytest.mark.browser

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _serve(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    db = make_warehouse(tmp_path_factory.mktemp("browser") / "fixture.duckdb")
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    try:
        with streamlit_server(db, log) as running:
            yield running.base
    except RuntimeError as exc:  # the server did not start; the message carries its log
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _serve(tmp_path_factory)


@pytest.fixture()
def fresh_server(tmp_path_factory):
    """A server that has not yet served any page (a permalink is its first request)."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
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
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    tab.requests = requests
    yield tab
    context.close()


def settle(page, timeout: float = 30_000) -> None:
    """Wait until the script run has finished: the footer is drawn, the running indicator is gone and no element
    of an earlier run is still shown as stale (browser_support.SETTLED)."""
    page.wait_for_selector("text=Data build", timeout=timeout)
    page.wait_for_function(SETTLED, timeout=timeout)


def assert_no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


def shoot(page, folder: Path, name: str) -> None:
    height = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height + 40, 1000), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(folder / f"{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def sidebar_input(page, label: str):
    return page.locator(f"[data-testid='stSidebar'] input[aria-label='{label}']")


def choose(page, label: str, option: str) -> None:
    """Pick an option of a sidebar select box by keyboard: focus it, type to filter, Enter."""
    box = sidebar_input(page, label)
    box.focus()
    box.fill(option)
    page.locator("[role='option']").filter(has_text=option).first.wait_for(timeout=10_000)
    page.keyboard.press("Enter")


def test_home_map_switch_and_click(server, page, shots):
    start = time.perf_counter()
    page.goto(server + "/")
    page.wait_for_function(MAP_DRAWN, timeout=30_000)
    map_seconds = time.perf_counter() - start
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "Deaths related to drug misuse"
    the_map = page.locator(".ind-map-main")
    assert the_map.locator("a path").count() == 6  # every area of the fixture
    blackpool = the_map.locator("a[href*='area=E06000009']")
    assert blackpool.get_attribute("aria-label").startswith("Blackpool. ")
    assert "Period: 2019–21" in blackpool.locator("title").text_content()
    assert "Worse than England (2)" in page.inner_text("body")
    # data: URLs and the blob: URL of ui.markup's script module are made in the page, not fetched
    assert not [u for u in page.requests if not u.startswith((server, "data:", f"blob:{server}/"))], \
        "the page made requests beyond the dashboard"
    shoot(page, shots, "map")

    start = time.perf_counter()
    choose(page, "Indicator", "Completions (opiate)")
    page.wait_for_function("() => document.querySelector('h1').innerText.startsWith('Successful completion')")
    switch_seconds = time.perf_counter() - start
    settle(page)
    assert_no_exception(page)
    # The app writes the URL when the run ends (a message after the last element): wait for it, then check.
    page.wait_for_function("() => location.search.includes('indicator=completion_opiate')", timeout=10_000)
    assert "indicator=completion_opiate" in page.url and "period=2020%2F21" in page.url
    again = page.context.new_page()
    start = time.perf_counter()
    again.goto(server + "/")
    again.wait_for_function(MAP_DRAWN, timeout=30_000)
    warm_seconds = time.perf_counter() - start
    again.close()
    print(f"\nmap drawn {map_seconds:.2f} s after navigation (first session of the server), "
          f"{warm_seconds:.2f} s (next session); indicator switch {switch_seconds:.2f} s")

    inset = page.locator(".ind-map-london")
    first = inset.locator("a").first
    first.focus()  # by keyboard: each area is a link
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/area\?"), timeout=20_000)
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() in ("Camden", "Hackney", "Westminster")
    assert "area=E09" in page.url and "indicator=completion_opiate" in page.url


def test_permalink_restores_the_view(server, page, shots):
    link = server + "/area?area=E06000009&indicator=completion_opiate&period=2019%2F20&peers=cipfa"
    page.goto(link)
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == "Blackpool"
    assert sidebar_input(page, "Area").input_value() == "Blackpool"
    assert sidebar_input(page, "Indicator").input_value() == "Completions (opiate)"
    assert sidebar_input(page, "Period").input_value() == "2019/20"
    checked = page.locator("[data-testid='stRadio'] input:checked").first
    assert checked.evaluate("e => e.closest('label').innerText") == "CIPFA nearest neighbours"
    parts = ("area=E06000009", "indicator=completion_opiate", "period=2019%2F20", "peers=cipfa")
    page.wait_for_function("parts => parts.every(p => location.search.includes(p))", arg=list(parts),
                           timeout=10_000)  # the app writes the URL as its run ends
    for part in parts:
        assert part in page.url
    shoot(page, shots, "area_permalink")
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    settle(other)
    assert other.locator("h1").first.inner_text() == "Blackpool"
    other.wait_for_function("url => location.href === url", arg=shared, timeout=10_000)
    assert other.url == shared


@pytest.mark.parametrize("path, title", [("/lottery", "The postcode lottery"),
                                         ("/compare?area=E09000007&peers=neighbours", "Compare areas"),
                                         ("/about", "About the data"), ("/area", "Area profile"),
                                         ("/availability", "Data availability"),
                                         ("/?indicator=%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D1%3E&area="
                                          + "A" * 3000, "Deaths related to drug misuse")])
def test_every_page_without_exceptions(server, page, shots, path, title):
    page.goto(server + path)
    settle(page)
    assert_no_exception(page)
    assert page.locator("h1").first.inner_text() == title
    name = path.strip("/").split("?")[0] or "hostile"
    shoot(page, shots, name)
    if name == "hostile":
        assert "is not an indicator of this dashboard" in page.inner_text("body")
        assert page.evaluate("() => typeof window.__xss") == "undefined"


def _axe_source() -> str:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "indicators" / "axe"
    script = cache / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so axe-core cannot be fetched into the cache")
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([npm, "pack", "axe-core", "--pack-destination", str(cache)], capture_output=True,
                                text=True, timeout=120)
        tarballs = sorted(cache.glob("axe-core-*.tgz"))
        if result.returncode != 0 or not tarballs:
            pytest.skip(f"npm pack axe-core failed (offline?): {result.stderr.strip()[-300:]}")
        with tarfile.open(tarballs[-1]) as tar:
            member = tar.extractfile("package/axe.min.js")
            script.write_bytes(member.read())
    return script.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/", "/lottery", "/area?area=E06000009", "/compare", "/about",
                                  "/availability", "/scorecard"])
def test_accessibility(server, page, path):
    """No serious or critical axe-core violation of WCAG 2.x A/AA rules anywhere on the page."""
    source = _axe_source()
    page.goto(server + path)
    settle(page)
    page.add_script_tag(content=source)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    serious = [(v["id"], v["help"], [(n["html"][:100], (n.get("any") or [{}])[0].get("data")) for n in v["nodes"]][:3])
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, serious


FIRST_REQUESTS = [("/?indicator=deaths_drug_misuse", "Deaths related to drug misuse"),
                  ("/lottery", "The postcode lottery"), ("/area?area=E06000009", "Blackpool"),
                  ("/compare", "Compare areas"), ("/availability", "Data availability"),
                  ("/downloads", "Download the data"), ("/about", "About the data"),
                  ("/scorecard?region=E12000007&sort=completion_opiate", "Scorecard: the postcode lottery in one table")]


@pytest.mark.parametrize("path,title", FIRST_REQUESTS, ids=[p.split("?")[0].strip("/") or "home" for p, _ in FIRST_REQUESTS])
def test_every_page_as_first_request(fresh_server, browser, path, title):
    """A server's first request is a shared link to any page. Streamlit starts in its legacy multipage mode
    because pages/ sits beside dashboard.py, and runs pages/<name>.py as __main__ for that first run; the
    page module's guard hands over to dashboard.main(), so the frame and navigation are there."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(fresh_server + path)
        settle(page)
        assert page.locator("h1").first.inner_text() == title
        assert page.get_by_text("Page not found").count() == 0
        page.locator(PAGE_LINKS).nth(6).wait_for(state="attached", timeout=30_000)  # drawn as the run ends
        assert page.locator(PAGE_LINKS).count() == len(nav.PAGES)  # the navigation (ui.nav.links), every page
        assert page.get_by_text("Data build").count() >= 1  # the shared footer
        if "area=" in path:
            assert sidebar_input(page, "Area").input_value() == "Blackpool"
    finally:
        context.close()


def test_download_csv_of_what_the_map_shows(server, page):
    """The map page's "Download CSV" gives, in the browser, exactly the areas of the view with the build id."""
    import io

    import pandas as pd

    page.goto(server + "/?indicator=deaths_drug_misuse&period=2019-21")
    settle(page)
    with page.expect_download(timeout=20_000) as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == "deaths_drug_misuse_2019-21_map_2026-11-01.csv"
    content = Path(download.path()).read_bytes()
    frame = pd.read_csv(io.BytesIO(content))
    # The six areas of the view, then England's row (the benchmark), marked in row_kind.
    assert list(frame["row_kind"]) == ["area"] * 6 + ["England"] and list(frame.columns)[0] == "row_kind"
    assert frame.iloc[-1]["area_code"] == "E92000001" and frame.iloc[-1]["value"] == pytest.approx(5.1)
    frame = frame[frame["row_kind"] == "area"]
    assert len(frame) == 6 and set(frame["area_code"]) >= {"E06000009", "E09000007"}
    assert set(frame["indicator_id"]) == {"deaths_drug_misuse"} and set(frame["period_label"]) == {"2019-21"}
    assert set(frame["build_id"]) == {"20261101-fixture0001"}
    assert frame.set_index("area_code").loc["E06000009", "value"] == pytest.approx(19.4)
    assert list(frame.columns)[-1] == "build_id"


def test_back_returns_from_a_clicked_area_to_the_map(server, page):
    """An area's link is a plain link, so the browser's Back button returns to the map the visitor came from."""
    page.goto(server + "/?indicator=completion_opiate&period=2019%2F20&colour=value")
    page.wait_for_function(MAP_DRAWN, timeout=30_000)
    settle(page)
    page.locator(".ind-map-main a[href*='area=E06000009']").click()
    page.wait_for_function("() => document.querySelector('h1')?.innerText === 'Blackpool'", timeout=30_000)
    settle(page)
    page.go_back()
    page.wait_for_function(MAP_DRAWN, timeout=30_000)
    settle(page)
    assert page.locator("h1").first.inner_text() == "Successful completion of drug treatment: opiate users"
    assert "colour=value" in page.url and "period=2019%2F20" in page.url
