"""'Ask for this data' in Debian's Chromium: after the naloxone pack and three councils' replies imported, the data
availability page counts them as FOI figures and gives a request ready to send (its mailto link and .txt file), and
the map names the replies' values as FOI responses; screenshots at desktop and phone size for a person to look at."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED, streamlit_server
from test_foi import PACK_DAY, REPLIES, fill_replies, foi_warehouse

from indicators.cli import main
from indicators.products import foi

pytestmark = pytest.mark.browser
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("browser_foi")
    db = foi_warehouse(root / "warehouse.duckdb")
    assert main(["foi-pack", "--family", "naloxone", "--out", str(root / "pack"), "--db", str(db),
                 "--date", PACK_DAY.isoformat()]) == 0
    assert main(["import", str(fill_replies(root / "pack", REPLIES)), "--db", str(db)]) == 0
    try:
        with streamlit_server(db, root / "streamlit.log") as running:
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


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("INDICATORS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settle(page) -> None:
    page.wait_for_selector("text=Data build", timeout=60_000)
    page.wait_for_function(SETTLED, timeout=60_000)


@pytest.mark.parametrize("size", list(SIZES))
def test_ask_for_this_data_after_three_replies(server, browser, shots, size, tmp_path):
    context = browser.new_context(viewport=SIZES[size], accept_downloads=True,
                                  is_mobile=size == "phone", has_touch=size == "phone")
    page = context.new_page()
    try:
        page.goto(f"{server}/availability?area=E09000012")
        settle(page)
        page.get_by_text("Take-home naloxone", exact=True).first.click()
        settle(page)
        assert page.locator("[data-testid='stException']").count() == 0
        body = page.inner_text("body")
        assert "3 have FOI figures only (the councils' replies)" in body
        heading = page.get_by_role("heading", name="Ask for this data")
        heading.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / f"foi-availability-{size}.png"))
        # The request for the sidebar's area, as the person sees it, emails it and downloads it.
        request = foi.build_request("naloxone", "E09000012", "Hackney", date.today())
        letter = page.locator("[data-testid='stCode']").filter(has_text="Dear Freedom of Information officer")
        assert page.locator("[data-testid='stCode']").filter(has_text=request.subject).count() == 1  # on its own
        assert "This is a request to the council for Hackney under the Freedom of Information Act 2000." in \
            re.sub(r"\s+", " ", letter.inner_text())
        href = page.get_by_role("link", name="Open in your email program").get_attribute("href")
        link = urlsplit(href)
        assert link.scheme == "mailto" and link.path == ""
        assert parse_qs(link.query) == {"subject": [request.subject], "body": [request.body]}
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the request (.txt)").click()
        saved = tmp_path / "request.txt"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "foi-request-naloxone-E09000012-hackney.txt"
        assert saved.read_text(encoding="utf-8") == request.text()
        letter.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / f"foi-letter-{size}.png"))
        # The map of kits issued: the three replies drawn, each named as an FOI response.
        page.goto(f"{server}/?indicator=naloxone_kits_issued&period=2025%2F26&colour=value")
        settle(page)
        labels = {code: page.locator(f".ind-map-main a[href*='area={code}']").get_attribute("aria-label")
                  for code in (*REPLIES, "E09000033")}
        for code, (name, kits, _) in REPLIES.items():
            assert labels[code].startswith(f"{name}. {kits:,}") and "FOI response to request" in labels[code]
        assert "FOI response" not in labels["E09000033"]
        assert "3 areas’ figures are FOI responses: councils’ replies" in page.inner_text("body")
        page.screenshot(path=str(shots / f"foi-map-{size}.png"))
    finally:
        context.close()
