"""The full-coverage synthetic build in Chromium (issue 14, item 2): the balance view plots and the scorecard lists
at least 140 areas, and every page of the dashboard says the figures are synthetic test data."""

from __future__ import annotations

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED, streamlit_server

from indicators.pipeline.synthetic import NOTICE
from ui.nav import PAGES

# The balance chart is the one plotly chart with this annotation (indicators.present.charts.balance_figure); its
# areas are the markers of its quadrant traces.
BALANCE_POINTS = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.textContent.includes('High completions, high deaths'));
  if (plots.length !== 1) return -1;
  return plots[0].querySelectorAll('.scatterlayer .trace .points path.point').length;
}"""
SCORECARD_ROWS = """() => {
  const tables = [...document.querySelectorAll('table.ind-table')]
    .filter(t => t.caption && t.caption.textContent.startsWith('Every area against England'));
  if (tables.length !== 1) return [-1, -1];
  const rows = [...tables[0].tBodies[0].rows];
  const opiate = [...tables[0].tHead.rows[0].cells].findIndex(c => c.textContent.startsWith('Completions (opiate)'));
  const withFigure = rows.filter(r => /\\d%/.test(r.cells[opiate].textContent)).length;
  return [rows.length, withFigure];
}"""


@pytest.fixture(scope="module")
def synthetic_server(synthetic_warehouse, tmp_path_factory):
    if not synthetic_warehouse.full_geography:
        pytest.skip("needs ../shared/data/raw: without the real boundary file the synthetic build has 13 areas, "
                    "not England's 153")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    log = tmp_path_factory.mktemp("synthetic_server") / "streamlit.log"
    try:
        with streamlit_server(synthetic_warehouse.db, log) as running:
            yield running.base
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("text=Data build", timeout=90_000)
    page.wait_for_function(SETTLED, timeout=90_000)
    return context, page


def test_the_balance_view_plots_every_area_with_both_figures(synthetic_server, browser, synthetic_warehouse):
    context, page = _open(browser, synthetic_server + "/lottery?completion=completion_opiate")
    try:
        page.wait_for_function(f"({BALANCE_POINTS})() > 0", timeout=60_000)
        points = page.evaluate(BALANCE_POINTS)
        assert points >= 140, points
        # Every point is an area with both figures: no more points than current areas.
        assert points <= len(synthetic_warehouse.current)
    finally:
        context.close()


def test_the_scorecard_lists_every_area(synthetic_server, browser, synthetic_warehouse):
    context, page = _open(browser, synthetic_server + "/scorecard")
    try:
        rows, with_figure = page.evaluate(SCORECARD_ROWS)
        assert rows == len(synthetic_warehouse.current) >= 140
        assert with_figure >= 140, with_figure  # opiate completions for nearly every area
    finally:
        context.close()


@pytest.mark.parametrize("path", [f"/{name}" if name != "map" else "/" for name in PAGES])
def test_every_page_says_the_figures_are_synthetic(synthetic_server, browser, path):
    url = synthetic_server + path + ("?area=E06000009" if path == "/area" else "")
    context, page = _open(browser, url)
    try:
        banner = page.get_by_test_id("stAlertContentError").get_by_text(NOTICE)  # the banner, above the page
        assert banner.count() == 1 and banner.is_visible()
        assert page.get_by_text("build id synthetic-").count() >= 1
    finally:
        context.close()
