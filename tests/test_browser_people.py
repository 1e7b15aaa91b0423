"""Issue 16's "done when", in Debian's Chromium at phone (390x844) and desktop (1366x900) size, on the warehouse built
from the real published files in ../shared/data/raw: the area search finds Preston and Carlisle, Back after the
page links leaves the page, and a shared data availability link restores its family.

Skips with the reason when ../shared or Chromium is absent.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EXCEPTION,
    INLINE_PAGE_LINKS,
    PAGE_LINKS,
    SETTLED,
    build_real_warehouse,
    streamlit_server,
)

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
TIMEOUT = 60_000
# Below Streamlit's 768 px breakpoint the sidebar is folded away and the choices are drawn in the page (ui.choices).
INPUT = {"phone": ".st-key-inline_choices input[aria-label='{label}']",
         "desktop": "[data-testid='stSidebar'] input[aria-label='{label}']"}


@pytest.fixture(scope="module")
def real(shared_raw, tmp_path_factory):
    """(base URL, warehouse path) of a server on the warehouse built from ../shared/data/raw."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    work = tmp_path_factory.mktemp("people")
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


@pytest.fixture(params=list(SIZES))
def tab(request, browser):
    size = request.param
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone",
                                  accept_downloads=True)
    page = context.new_page()
    page.size = size
    yield page
    context.close()


def settled(page) -> None:
    page.wait_for_selector("text=Data build", timeout=TIMEOUT)
    page.wait_for_function(SETTLED, timeout=TIMEOUT)
    assert page.locator(EXCEPTION).count() == 0
    assert "Traceback" not in page.inner_text("body")


def params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_for_param(page, name: str, value: str) -> None:
    page.wait_for_function("([k, v]) => new URLSearchParams(location.search).get(k) === v", arg=[name, value],
                           timeout=TIMEOUT)


def wait_for_title(page, title: str) -> None:
    page.wait_for_function("t => document.querySelector('h1')?.innerText === t", arg=title, timeout=TIMEOUT)


def choice(page, label: str):
    box = page.locator(INPUT[page.size].format(label=label))
    box.wait_for(state="visible", timeout=TIMEOUT)
    return box


def search(page, typed: str, option: str) -> None:
    """Type in the Area box, see `option` offered, choose it with the keyboard."""
    box = choice(page, "Area")
    box.click()
    box.fill(typed)
    listed = page.get_by_role("option", name=option, exact=True)
    listed.wait_for(timeout=TIMEOUT)
    listed.click()


def test_search_finds_districts_past_and_present(real, tab):
    base, _ = real
    tab.goto(base + "/")
    settled(tab)
    search(tab, "Preston", "Preston → Lancashire")
    wait_for_param(tab, "area", "E10000017")
    settled(tab)
    assert choice(tab, "Area").input_value() == "Lancashire"
    assert tab.get_by_text("Preston is in Lancashire.").first.is_visible()
    search(tab, "carlisle", "Carlisle → Cumberland (formerly Cumbria)")
    wait_for_param(tab, "area", "E06000063")
    settled(tab)
    assert choice(tab, "Area").input_value() == "Cumberland"
    assert tab.get_by_text("Carlisle is in Cumberland (formerly in Cumbria).").first.is_visible()
    # A GSS code typed and entered.
    box = choice(tab, "Area")
    box.click()
    box.fill("E07000123")
    tab.keyboard.press("Enter")
    wait_for_param(tab, "area", "E10000017")
    settled(tab)
    # Without a postcode lookup in the build, a postcode is answered with what it needs.
    box = choice(tab, "Area")
    box.click()
    box.fill("PR1 2RL")
    tab.keyboard.press("Enter")
    tab.get_by_text("postcodes need the ONS postcode to local authority lookup").first.wait_for(timeout=TIMEOUT)
    assert params(tab)["area"] == "E10000017"


def test_back_after_the_page_links_leaves_the_page(real, tab):
    """Each page link adds one history entry: Back returns to the page it was followed from, with its state. On a
    phone the links are a row in the page (the sidebar is folded away), with short titles."""
    base, _ = real
    tab.goto(base + "/?indicator=deaths_drug_poisoning&area=E10000017")
    settled(tab)
    phone = tab.size == "phone"
    tab.locator(INLINE_PAGE_LINKS if phone else PAGE_LINKS).first.wait_for(state="visible", timeout=TIMEOUT)
    assert not tab.locator(PAGE_LINKS if phone else INLINE_PAGE_LINKS).first.is_visible()
    for link, short, title in (("Compare areas", "Compare", "Compare areas"), ("Area profile", "Area", "Lancashire"),
                               ("Postcode lottery", "Lottery", "The postcode lottery")):
        before_params, before_title = params(tab), tab.locator("h1").first.inner_text()
        before = tab.evaluate("history.length")
        links = tab.locator(INLINE_PAGE_LINKS if phone else PAGE_LINKS)
        links.filter(has_text=short if phone else link).first.click()
        wait_for_title(tab, title)
        settled(tab)
        tab.wait_for_timeout(500)  # the address is written as the run ends
        assert tab.evaluate("history.length") == before + 1, link
        assert params(tab)["area"] == "E10000017" and params(tab)["indicator"] == "deaths_drug_poisoning"
        tab.go_back()
        wait_for_title(tab, before_title)
        settled(tab)
        # The same view (Streamlit may complete the address in place: a replaced entry, not a new one).
        assert params(tab).items() >= before_params.items()
        tab.go_forward()
        wait_for_title(tab, title)
        settled(tab)


def test_shared_availability_link_restores_the_family(real, tab):
    base, _ = real
    tab.goto(base + "/availability?family=hcv")
    settled(tab)
    hcv = tab.get_by_role("radio", name="Hepatitis C treatment")
    assert hcv.is_checked()
    assert tab.get_by_text("Where hepatitis c treatment figures exist").count() + \
        tab.get_by_text("Ask for this data").count() >= 1
    tab.get_by_text("Take-home naloxone", exact=True).first.click()
    wait_for_param(tab, "family", "naloxone")
    settled(tab)
    shared = tab.url
    tab.goto("about:blank")
    tab.goto(shared)
    settled(tab)
    assert tab.get_by_role("radio", name="Take-home naloxone").is_checked()


def test_spine_chart_england_line_visible_without_scrolling_sideways(real, tab):
    """The area profile's spine chart fits the column: on a phone the narrow drawing (labels above the bars), on a
    desktop the wide one; England's line is inside the window and nothing scrolls sideways."""
    base, _ = real
    tab.goto(base + "/area?area=E10000017")
    wait_for_title(tab, "Lancashire")
    settled(tab)
    shown = "ind-spine-narrow" if tab.size == "phone" else "ind-spine-wide"
    hidden = "ind-spine-wide" if tab.size == "phone" else "ind-spine-narrow"
    chart = tab.locator(f"figure.ind-spine svg.{shown}")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible() and not tab.locator(f"figure.ind-spine svg.{hidden}").is_visible()
    # (A vertical line's box is 0 wide, which Playwright never calls visible: its box is checked instead.)
    line = chart.locator("line.ind-spine-england").first
    box, width = line.bounding_box(), SIZES[tab.size]["width"]
    assert box is not None and 0 < box["x"] < width and box["height"] > 10
    assert line.evaluate("l => getComputedStyle(l).visibility === 'visible' && getComputedStyle(l).display !== 'none'")
    assert tab.locator("figure.ind-spine").evaluate("f => f.scrollWidth <= f.clientWidth")
    assert tab.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    chart_box = chart.bounding_box()
    assert chart_box["x"] >= 0 and chart_box["x"] + chart_box["width"] <= width
    # The table of comparisons that are not possible names long file names in sentences: they break, so it fits.
    reasons = tab.locator("table.ind-table", has_text="Indicators that cannot be compared for Lancashire")
    assert "_unmet_need_" in reasons.inner_text()
    assert reasons.evaluate("t => t.scrollWidth <= t.closest('.ind-table-wrap').clientWidth")


def test_skip_link_moves_focus_past_the_map(real, tab):
    """The first stop of the map is "Skip the map" (shown when focused); Enter moves focus past the 153 area links, the
    next Tab reaches what follows the map, and the London inset's repeated links are not tab stops."""
    base, _ = real
    tab.goto(base + "/")
    tab.wait_for_function("() => !!document.querySelector('.ind-map-main a path')", timeout=TIMEOUT)
    settled(tab)
    skip = tab.locator("a.ind-skip")
    assert skip.count() == 1 and not skip.is_visible() or skip.bounding_box()["width"] <= 1
    skip.focus()
    assert skip.is_visible() and skip.inner_text() == "Skip the map"
    before = tab.url
    tab.keyboard.press("Enter")
    tab.wait_for_function("() => document.activeElement?.id === 'ind-map-end'", timeout=TIMEOUT)
    assert tab.url == before  # no #fragment, no history entry
    tab.keyboard.press("Tab")
    assert tab.evaluate("() => !document.activeElement.closest('.ind-map') && document.activeElement !== document.body")
    # Going back from the skip link itself: Shift+Tab leaves the map too; forward from it, the map's own links follow.
    skip.focus()
    tab.keyboard.press("Tab")
    assert tab.evaluate("() => !!document.activeElement.closest('.ind-map-main')")
    assert tab.locator(".ind-map-london a:not([tabindex='-1'])").count() == 0
    assert tab.locator(".ind-map-london a").count() >= 30


def test_whole_dataset_zip_downloads_in_the_browser(real, tab):
    """The downloads page gives the whole dataset: the zip holds README.md and the files it documents, the Parquet zip
    the same tables, and the DuckDB file is a warehouse with the same build id."""
    import io
    import zipfile

    import duckdb

    base, db = real
    tab.goto(base + "/downloads")
    wait_for_title(tab, "Download the data")
    settled(tab)
    with tab.expect_download(timeout=TIMEOUT) as info:
        tab.get_by_role("button", name="Download the zip (CSV files and README)").click()
    download = info.value
    con = duckdb.connect(str(db), read_only=True)
    try:
        build_id, build_date = con.execute("SELECT build_id, build_date FROM published.build_info").fetchall()[0]
    finally:
        con.close()
    assert download.suggested_filename == f"all_indicators_data_{build_date}.zip"
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    names = archive.namelist()
    assert names == ["README.md", "areas.csv", "indicator_values.csv", "indicators.csv", "sources.csv"]
    readme = archive.read("README.md").decode()
    assert all(f"`{name}`" in readme for name in names) and f"Build id: `{build_id}`" in readme
    values = archive.read("indicator_values.csv").decode().splitlines()
    assert values[0].startswith("indicator_id,area_code,area_name,period_label") and len(values) > 10_000
    if tab.size == "desktop":  # the other two once are enough
        with tab.expect_download(timeout=TIMEOUT) as info:
            tab.get_by_role("button", name="Download the Parquet files (zip)").click()
        parquet = zipfile.ZipFile(io.BytesIO(open(info.value.path(), "rb").read()))
        assert parquet.namelist() == ["README.md", "areas.parquet", "indicator_values.parquet", "indicators.parquet",
                                      "sources.parquet"]
        with tab.expect_download(timeout=TIMEOUT) as info:
            tab.get_by_role("button", name="Download the DuckDB file").click()
        assert info.value.suggested_filename == f"all_indicators_warehouse_{build_date}.duckdb"
        copy = duckdb.connect(info.value.path(), read_only=True)
        try:
            assert copy.execute("SELECT build_id FROM published.build_info").fetchall()[0][0] == build_id
            assert copy.execute("SELECT count(*) FROM published.indicator_values").fetchall()[0][0] == len(values) - 1
        finally:
            copy.close()


def test_table_toolbars_leave_the_text_above_them_readable(real, tab):
    """On a touch screen Streamlit always shows a table's toolbar, 44 px above the table: the text before each visible
    table (here About's headings, such as 'Sources and licences') ends above its toolbar."""
    if tab.size != "phone":
        pytest.skip("a desktop shows a table's toolbar only while the pointer is over the table")
    base, _ = real
    tab.goto(base + "/about")
    wait_for_title(tab, "About the data")
    settled(tab)
    tab.wait_for_selector("[data-testid='stDataFrame'] [data-testid='stElementToolbar']", state="attached",
                          timeout=TIMEOUT)
    overlaps = tab.evaluate("""() => [...document.querySelectorAll('[data-testid=stElementToolbar]')]
        .filter(bar => bar.closest('[data-testid=stDataFrame]').getBoundingClientRect().height > 0)
        .map(bar => {
            let before = bar.closest('[data-testid=stElementContainer]').previousElementSibling;
            while (before && before.getBoundingClientRect().height === 0) before = before.previousElementSibling;
            return before ? before.getBoundingClientRect().bottom - bar.getBoundingClientRect().top : -1;
        })""")
    assert len(overlaps) >= 2 and [o for o in overlaps if o > 0.5] == []
