"""Load: ten concurrent real browser sessions against one `streamlit run dashboard.py` on the warehouse built from ../shared/data/raw.

One Debian Chromium, one browser context per session, driven together with Playwright's async API
(loopback only). Each session opens the map, switches indicator twice by keyboard, opens an area
profile by permalink, then the compare and lottery pages from the sidebar; no step may show an
exception, a traceback or a JavaScript error. The same script runs once alone first (a baseline on the
just-started server, which also warms its caches). Every wait has a timeout and the whole test a budget
of four minutes. Printed, and appended to benchmarks/RESULTS.md when INDICATORS_RECORD_LOAD=1: the p95 of
the step times as a visitor sees them and of the server's script runs (CDP timestamps of the WebSocket
frames), and the server's memory per session (VmRSS from /proc).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EXCEPTION,
    MAP_DRAWN,
    MAP_SIGNATURE,
    PAGE_LINKS,
    REPO,
    SETTLED,
    TITLE,
    VIEWPORT,
    Reruns,
    build_real_warehouse,
    cpu_seconds,
    sidebar_input,
    streamlit_server,
    vm_rss,
)

pytestmark = pytest.mark.load

SESSIONS = 10
BUDGET = 240.0  # seconds for the whole test, the build included
WAIT = 120_000  # ms, for every single wait in the browser (ten first-time page loads share two cores)
POLL = 100  # ms between checks of an in-page condition (ten pages share two cores)
PREFERRED = ("Drug-misuse deaths", "Drug-poisoning deaths")
AREA_CODE, AREA_NAME = "E06000009", "Blackpool"
STEPS = ("map", "switch 1", "switch 2", "area permalink", "compare", "lottery")
MB = 1_000_000
RESULTS = REPO / "benchmarks" / "RESULTS.md"
MAP_CHANGED = (f"old => ({MAP_SIGNATURE})() !== old && ({MAP_DRAWN})() && ({SETTLED})()")
TITLED = f"want => ({TITLE})() === want && ({SETTLED})()"


@dataclass
class Session:
    name: str
    times: dict[str, float] = field(default_factory=dict)  # step -> seconds from its action to the settled page
    server: dict[str, float] = field(default_factory=dict)  # step -> seconds of its script run(s), network layer
    problems: list[str] = field(default_factory=list)
    reruns: Reruns = field(default_factory=Reruns)

    async def finish(self, page, name: str, seconds: float, runs_before: int) -> None:
        """Record a step once its script run has been seen at the network layer, then look for errors."""
        for _ in range(100):
            if len(self.reruns.durations) > runs_before:
                break
            await asyncio.sleep(0.05)
        else:
            self.problems.append(f"{self.name}, {name}: no finished script run was seen")
        self.times[name] = seconds
        self.server[name] = sum(self.reruns.durations[runs_before:])
        self.problems += await _problems(page, f"{self.name}, {name}")


def p95(values: list[float]) -> float:
    """95th percentile by the nearest-rank method (the smallest value with 95% of the values at or below it)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _switch_pair(db: Path) -> tuple[str, str]:
    """Two indicators with data, as the sidebar labels them (the deaths pair when the build has both)."""
    from indicators.products import queries

    con = queries.connect(db)
    try:
        catalogue = queries.indicators(con)
    finally:
        con.close()
    titles = [str(t) for t in catalogue[catalogue["n_periods"] > 0]["short_title"]]
    if all(t in titles for t in PREFERRED):
        return PREFERRED
    assert len(titles) >= 2, f"the real build has fewer than two indicators with data: {titles}"
    return titles[0], titles[1]


@pytest.fixture(scope="module")
def load_server(shared_raw, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    pytest.importorskip("playwright.async_api")
    began = time.monotonic()
    work = tmp_path_factory.mktemp("load")
    db = build_real_warehouse(work, shared_raw)
    pair = _switch_pair(db)
    with streamlit_server(db, work / "streamlit.log") as server:
        yield server, pair, began


class MemorySampler:
    """The peak VmRSS of a process, sampled every 0.1 s on a background thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, vm_rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, vm_rss(self.pid))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, vm_rss(self.pid))


async def _problems(page, where: str) -> list[str]:
    found = []
    if await page.locator(EXCEPTION).count():
        found.append(f"{where}: an exception is shown: {(await page.locator(EXCEPTION).first.inner_text())[:300]}")
    if "Traceback" in await page.inner_text("body", timeout=WAIT):
        found.append(f"{where}: 'Traceback' is on the page")
    return found


async def _switch(page, label: str) -> float:
    """Choose `label` in the sidebar's Indicator box by keyboard; seconds from Enter to the new map, run settled."""
    box = page.locator(sidebar_input("Indicator"))
    await box.focus()
    await box.fill(label)
    await page.locator("[role='option']").filter(has_text=label).first.wait_for(timeout=WAIT)
    before = await page.evaluate(MAP_SIGNATURE)
    start = time.perf_counter()
    await page.keyboard.press("Enter")
    await page.wait_for_function(MAP_CHANGED, arg=before, polling=POLL, timeout=WAIT)
    seconds = time.perf_counter() - start
    assert await box.input_value() == label
    return seconds


async def _navigate(page, link_text: str, title: str) -> float:
    start = time.perf_counter()
    await page.locator(PAGE_LINKS).filter(has_text=link_text).first.click(timeout=WAIT)
    await page.wait_for_function(TITLED, arg=title, polling=POLL, timeout=WAIT)
    return time.perf_counter() - start


async def _session(browser, base: str, name: str, pair: tuple[str, str]) -> Session:
    """One visitor's bounded script; every step timed from its action to the settled page."""
    session = Session(name)
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: session.problems.append(f"{name}: JavaScript error {error}"))
        cdp = await context.new_cdp_session(page)
        session.reruns.listen(cdp)
        await cdp.send("Network.enable")

        runs, start = len(session.reruns.durations), time.perf_counter()
        await page.goto(base + "/", timeout=WAIT)
        await page.wait_for_function(MAP_DRAWN, timeout=WAIT)
        await page.wait_for_function(SETTLED, polling=POLL, timeout=WAIT)
        await session.finish(page, "map", time.perf_counter() - start, runs)

        current = await page.locator(sidebar_input("Indicator")).input_value()
        first = pair[1] if current == pair[0] else pair[0]
        for name, label in (("switch 1", first), ("switch 2", pair[0] if first == pair[1] else pair[1])):
            runs = len(session.reruns.durations)
            await session.finish(page, name, await _switch(page, label), runs)

        runs, start = len(session.reruns.durations), time.perf_counter()
        await page.goto(f"{base}/area?area={AREA_CODE}", timeout=WAIT)
        await page.wait_for_function(TITLED, arg=AREA_NAME, polling=POLL, timeout=WAIT)
        await session.finish(page, "area permalink", time.perf_counter() - start, runs)

        for name, link, title in (("compare", "Compare areas", "Compare areas"),
                                  ("lottery", "Postcode lottery", "The postcode lottery")):
            runs = len(session.reruns.durations)
            await session.finish(page, name, await _navigate(page, link, title), runs)
    finally:
        await context.close()
    return session


async def _drive(base: str, pair: tuple[str, str], pid: int, budget: float) -> tuple[Session, list, dict]:
    """One session alone first (the baseline, and it warms the server's caches), then SESSIONS together."""
    from playwright.async_api import async_playwright

    memory = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            alone = await asyncio.wait_for(_session(browser, base, "the session alone", pair), timeout=budget / 3)
            memory["warm"], cpu = vm_rss(pid), cpu_seconds(pid)
            with MemorySampler(pid) as sampler:
                start = time.perf_counter()
                sessions = await asyncio.wait_for(
                    asyncio.gather(*(_session(browser, base, f"session {n}", pair) for n in range(SESSIONS)),
                                   return_exceptions=True), timeout=budget * 2 / 3)
                memory["wall"] = time.perf_counter() - start
            memory["peak"], memory["cpu"] = sampler.peak, cpu_seconds(pid) - cpu
        finally:
            await browser.close()
    await asyncio.sleep(3)
    memory["after"] = vm_rss(pid)
    return alone, sessions, memory


def _machine() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.machine_info()


def _report(alone: Session, sessions: list[Session], memory: dict, pair: tuple[str, str], seconds: float) -> str:
    every = [t for s in sessions for t in s.times.values()]
    server = [t for s in sessions for t in s.server.values()]
    rows = []
    for name in STEPS:
        times, runs = [s.times[name] for s in sessions], [s.server[name] for s in sessions]
        rows.append(f"| {name} | {alone.times[name]:.2f} | {alone.server[name]:.2f} | {statistics.median(times):.2f} | "
                    f"{p95(times):.2f} | {max(times):.2f} | {statistics.median(runs):.2f} | {p95(runs):.2f} | "
                    f"{max(runs):.2f} |")
    growth = memory["peak"] - memory["warm"]
    return "\n".join([
        f"- {SESSIONS} concurrent sessions (one Chromium, one fresh context each, started together), each: map, "
        f"two indicator switches by keyboard ({pair[0]} <-> {pair[1]}), area profile by permalink ({AREA_CODE}), "
        f"compare and lottery from the sidebar; {len(every)} steps in {memory['wall']:.1f} s, no exception, "
        f"traceback or JavaScript error; whole test {seconds:.0f} s (warehouse build and server start included)",
        f"- the same script alone first, on the just-started server (cold caches, which it warms): steps "
        f"{sum(alone.times.values()):.1f} s in all, server runs {sum(alone.server.values()):.1f} s in all",
        f"- step time as a visitor sees it (action to settled page; the ten browsers share the two cores with the "
        f"server): median {statistics.median(every):.2f} s, **p95 {p95(every):.2f} s**, worst {max(every):.2f} s",
        f"- rerun time on the server (request for a script run to `script_finished`, CDP timestamps of the "
        f"WebSocket frames): median {statistics.median(server):.2f} s, **p95 {p95(server):.2f} s**, "
        f"worst {max(server):.2f} s; the server used {memory['cpu']:.0f} s of CPU in the {memory['wall']:.0f} s "
        f"(it also serves Streamlit's 9 MB of JavaScript to each new context, uncompressed)",
        f"- server memory (VmRSS of the streamlit process): {memory['start'] / MB:.0f} MB at start, "
        f"{memory['warm'] / MB:.0f} MB after the baseline session, {memory['peak'] / MB:.0f} MB at peak, "
        f"{memory['after'] / MB:.0f} MB 3 s after the sessions closed (Streamlit keeps disconnected sessions "
        f"for 120 s); **{growth / SESSIONS / MB:.1f} MB per session** (peak minus warm, over {SESSIONS}; each "
        f"visitor holds two Streamlit sessions at the peak, as the permalink is a new page load)",
        "",
        f"| step | alone: visitor (s) | alone: server (s) | {SESSIONS} together: visitor median (s) | visitor p95 (s) "
        "| visitor worst (s) | server median (s) | server p95 (s) | server worst (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ])


def test_ten_concurrent_sessions(load_server, capsys):
    server, pair, began = load_server
    start_rss = vm_rss(server.pid)
    remaining = BUDGET - (time.monotonic() - began) - 20  # room for closing the browser and the server
    assert remaining > 60, f"building and starting took {time.monotonic() - began:.0f} s of the {BUDGET:.0f} s budget"
    alone, results, memory = asyncio.run(_drive(server.base, pair, server.pid, remaining))
    memory["start"] = start_rss
    assert not alone.problems, "\n".join(alone.problems)

    failures = [f"session {n}: {type(r).__name__}: {r}" for n, r in enumerate(results) if isinstance(r, BaseException)]
    assert not failures, "\n".join(failures)
    problems = [p for s in results for p in s.problems]
    assert not problems, "\n".join(problems)
    assert all(tuple(s.times) == STEPS for s in results), [list(s.times) for s in results]
    assert server.process.poll() is None, "the server died under load"
    seconds = time.monotonic() - began
    assert seconds < BUDGET

    text = _report(alone, results, memory, pair, seconds)
    with capsys.disabled():
        print("\n" + text)
    if os.environ.get("INDICATORS_RECORD_LOAD") == "1":
        machine = _machine()
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write("\n".join([
                f"\n## test_load.py, {stamp}", "",
                f"- machine: {machine['platform']}, {machine['machine']}, {machine['cpus']} CPUs, {machine['memory']} "
                f"RAM, Python {machine['python']}; Chromium {CHROMIUM}; load average at start {machine['load']}",
                text, ""]))
