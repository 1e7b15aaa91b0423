"""The first run on a connected machine with publishers down: `indicators serve` against a local stand-in for
each publisher (tests/publishers.py), OHID's Fingertips API answering 500 to everything and ONS never
answering, builds from the others and serves; every page carries one notice naming the failed sources (AppTest,
and once in Chromium); a later fetch with the publishers healthy and a rebuild clear it. A second fetch
against stand-ins that honour If-None-Match downloads nothing and reports every file unchanged."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import REPO
from publishers import SOURCES, environment, running

from indicators import cli
from indicators.pipeline import fetch
from indicators.pipeline.fetch import FetchPolicy, read_fetch_status
from indicators.products import queries

FAILED = ("fingertips", "cipfa_neighbours", "ons_deaths", "population")
ARRIVED = ("boundaries", "lookups")
NOTICE = "Some official data could not be fetched for this build"
# Short enough for a fast suite; the stalled ONS stand-in costs two read timeouts, then is not asked again.
POLICY = FetchPolicy(attempts=2, backoff=0.01, read_timeout=1.0, connect_timeout=1.0, sleep=lambda s: None)


@contextlib.contextmanager
def pointed_at(stand_ins):
    with pytest.MonkeyPatch.context() as mp:
        for name, value in environment(stand_ins).items():
            mp.setenv(name, value)
        mp.delenv("INDICATORS_MIRROR", raising=False)
        mp.setattr(fetch, "DEFAULT_POLICY", POLICY)
        yield mp


def command(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def statuses(table: str) -> dict[str, str]:
    """source -> status from the end-of-run table `indicators fetch` prints."""
    rows = [line.split() for line in table.splitlines()]
    return {r[0]: r[1] for r in rows if len(r) > 1 and r[1] in ("fetched", "unchanged", "failed", "skipped")}


@pytest.fixture(scope="module")
def stand_ins(shared_raw, fixtures):
    with running(shared_raw, fixtures) as started:
        yield started


@pytest.fixture(scope="module")
def served(stand_ins, tmp_path_factory):
    """`indicators serve` on a fresh machine while Fingertips answers 500 and ONS does not answer."""
    work = tmp_path_factory.mktemp("first-run")
    calls = []
    stand_ins["fingertips_api"].mode, stand_ins["ons"].mode = "down", "stall"
    try:
        with pointed_at(stand_ins) as mp:
            mp.setattr(cli, "run_forwarding_signals", lambda command, env, cwd: calls.append(env["INDICATORS_DB"]) or 0)
            code, out, err = command(["serve", "--db", str(work / "warehouse.duckdb"), "--raw", str(work / "raw")])
    finally:
        stand_ins["fingertips_api"].mode = stand_ins["ons"].mode = "normal"
    hits = {name: list(s.hits()) for name, s in stand_ins.items()}
    for s in stand_ins.values():
        s.clear()
    return dict(work=work, db=work / "warehouse.duckdb", raw=work / "raw", code=code, out=out, err=err,
                calls=calls, hits=hits)


def test_serve_builds_from_what_arrived_and_serves(served):
    assert served["code"] == 0, served["err"][-2000:]
    assert served["calls"] == [str(served["db"].resolve())]  # Streamlit was started on the new warehouse
    table = statuses(served["out"])
    assert {s: table[s] for s in FAILED + ARRIVED} == {**{s: "failed" for s in FAILED}, **{s: "fetched" for s in ARRIVED}}
    assert "retry the failed sources with: uv run indicators fetch --source fingertips --source cipfa_neighbours " \
           "--source ons_deaths --source population" in served["out"]
    assert "Traceback" not in served["err"]
    # The stalled publisher was asked twice (two attempts), then not again in this run.
    assert len(served["hits"]["ons"]) == 2
    assert all(s.status == 500 for s in served["hits"]["fingertips_api"])
    record = read_fetch_status(served["raw"])
    assert record["fingertips"]["answer"].startswith("HTTP 500 Internal Server Error")
    assert record["ons_deaths"]["answer"] == "no answer within the time limit (ReadTimeout)"
    assert record["ons_deaths"]["file"] == "2021localauthorities.xlsx"
    assert record["ons_deaths"]["url"].startswith("http://127.0.0.1:")
    assert record["ons_deaths"]["url"].endswith("/2021localauthorities.xlsx")


def test_the_warehouse_records_the_failed_fetches(served):
    con = duckdb.connect(str(served["db"]), read_only=True)
    try:
        rows = {r[0]: r[1:] for r in con.execute("""
            SELECT source_id, status, files_in_build, indicators_without_figures, provides, retry, answer
            FROM published.fetch_status""").fetchall()}
        sources = con.execute("SELECT DISTINCT source_id, fetch_status, fetch_error FROM published.sources").fetchall()
        notice = re.sub(r"\\(.)", r"\1", queries.fetch_notice(con))  # as read, without Markdown escapes
    finally:
        con.close()
    assert {s for s, r in rows.items() if r[0] == "failed"} == set(FAILED)
    assert rows["fingertips"][1] == 0 and "unmet_need_alcohol" in rows["fingertips"][2].split(",")
    assert rows["ons_deaths"][2].split(",") == ["deaths_drug_misuse", "deaths_drug_poisoning"]
    assert rows["population"][3] == "the population figures behind the most-similar-areas comparison"
    assert rows["cipfa_neighbours"][4] == "uv run indicators fetch --source cipfa_neighbours"
    assert {(s, status) for s, status, _ in sources} == {("boundaries", "fetched"), ("lookups", "fetched"),
                                                        ("ons_sdg", "fetched")}  # github stand-in is up
    assert NOTICE in notice
    when = r"\d+ \w{3} \d{4} at \d\d:\d\d UTC"
    assert re.search(rf"could not be fetched for this build\*\*( \(tried {when}\))?: `cipfa_neighbours` and "
                     rf"`fingertips` \(OHID: HTTP 500 Internal Server Error\)( on {when})?; `ons_deaths` and "
                     rf"`population` \(ONS: no answer within the time limit \(ReadTimeout\)\)( on {when})?\.", notice)
    assert ("In this build: no figures for Completions (alcohol), Completions (non-opiate), Completions (opiate), "
            "Drug-misuse deaths, OCU prevalence, Unmet need (alcohol), Unmet need (opiate/crack), Drug-poisoning "
            "deaths; missing the CIPFA nearest-neighbour peer groups and the population figures behind the "
            "most-similar-areas comparison.") in notice
    assert "`uv run indicators fetch --source cipfa_neighbours --source fingertips --source ons_deaths " \
           "--source population`, then `uv run indicators build`" in notice


def _app(monkeypatch, db: Path, page: str | None = None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INDICATORS_DB", str(db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=90)
    if page:
        at.switch_page(page)
    return at.run()


def _fetch_notices(at) -> list[str]:
    return [w.value for w in at.warning if NOTICE in w.value]


@pytest.mark.parametrize("page", [None, "pages/area.py", "pages/availability.py"])
def test_every_page_carries_one_notice(served, monkeypatch, page):
    at = _app(monkeypatch, served["db"], page)
    assert not at.exception, [e.value for e in at.exception]
    notice, = _fetch_notices(at)
    plain = re.sub(r"\\(.)", r"\1", notice)
    for source_id in FAILED:
        assert f"`{source_id}`" in plain
    assert "(OHID: HTTP 500 Internal Server Error)" in plain and "(ONS: no answer within the time limit" in plain
    assert "no figures for Completions (alcohol)" in plain
    assert "uv run indicators fetch --source cipfa_neighbours --source fingertips" in plain
    if page == "pages/availability.py":
        table = [t.value for t in at.dataframe if "Retry with" in t.value.columns][0]
        failed = table.loc[table["Status"].eq("Could not be fetched"), "Source"]
        assert sorted(failed) == sorted(FAILED)


@pytest.mark.browser
def test_the_notice_in_chromium(served, tmp_path):
    from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED, streamlit_server

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with streamlit_server(served["db"], tmp_path / "streamlit.log") as server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport)
                page.goto(server.base + "/")
                page.wait_for_selector("text=Data build", timeout=60_000)
                page.wait_for_function(SETTLED, timeout=60_000)
                alert = page.locator("[data-testid='stAlertContentWarning']").filter(has_text=NOTICE)
                assert alert.count() == 1
                text = alert.inner_text()
                for source_id in FAILED:
                    assert source_id in text
                assert "no figures for Completions (alcohol)" in text
                assert "uv run indicators fetch --source cipfa_neighbours" in text
                assert alert.is_visible()
                page.screenshot(path=str(tmp_path / f"notice-{name}.png"))
                page.close()
        finally:
            browser.close()


def test_a_later_fetch_with_healthy_publishers_and_a_rebuild_clear_it(served, stand_ins, tmp_path, monkeypatch):
    raw, db = tmp_path / "raw", tmp_path / "warehouse.duckdb"
    shutil.copytree(served["raw"], raw)
    shutil.copy2(served["db"], db)
    before = _app(monkeypatch, db)  # the dashboard has this warehouse open, with the notice
    assert len(_fetch_notices(before)) == 1
    with pointed_at(stand_ins):
        code, out, err = command(["fetch", "--raw", str(raw), *[a for s in FAILED for a in ("--source", s)]])
        assert code == 0, err
        assert statuses(out) == {s: "fetched" for s in FAILED}
        code, out, err = command(["build", "--raw", str(raw), "--db", str(db)])
        assert code == 0, err
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert queries.fetch_notice(con) == ""
        assert con.execute("SELECT count(*) FROM published.fetch_status WHERE status = 'failed'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM published.indicator_values WHERE source_id = 'ons_deaths' "
                           "AND value IS NOT NULL").fetchall()[0][0] > 1000
    finally:
        con.close()
    at = _app(monkeypatch, db)  # a new session in the same process: no restart
    assert not at.exception and _fetch_notices(at) == []


def test_a_second_fetch_downloads_nothing_and_reports_every_file_unchanged(stand_ins, tmp_path):
    raw = tmp_path / "raw"
    with pointed_at(stand_ins):
        code, out, err = command(["fetch", "--raw", str(raw)])
        assert code == 0, err
        first = statuses(out)
        assert {s for s, status in first.items() if status == "fetched"} == {s for v in SOURCES.values() for s in v}
        for s in stand_ins.values():
            s.clear()
        code, out, err = command(["fetch", "--raw", str(raw)])
    assert code == 0, err
    assert {s: status for s, status in statuses(out).items() if status != "skipped"} == \
        {s: "unchanged" for s in first if first[s] == "fetched"}
    held = {s: [p.name for p in (raw / s).iterdir() if p.name != "manifest.json"] for s in statuses(out)
            if (raw / s).is_dir()}
    for source_id, names in held.items():
        for name in names:
            assert f"  {name}: unchanged" in err
    for name, stand_in in stand_ins.items():
        for seen in stand_in.hits():
            if seen.conditional:
                assert seen.status == 304 and seen.body_bytes == 0, (name, seen.target)
            else:  # only the Fingertips API's answers that decide the file list are asked unconditionally
                assert name == "fingertips_api" and not seen.path.startswith("/api/all_data"), (name, seen.target)
    files = sum(len(v) for v in held.values())
    assert sum(s.conditional for st in stand_ins.values() for s in st.hits()) == files
