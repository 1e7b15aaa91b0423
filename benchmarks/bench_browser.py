"""Time to map, indicator-switch time and map payload of the dashboard in Debian's Chromium (Playwright); appends a block to RESULTS.md and prints a JSON line last.

Usage: [INDICATORS_DB=PATH] uv run python benchmarks/bench_browser.py [--repeats 5] [--switches 5] [--area CODE]
       [--no-append]

Without INDICATORS_DB the warehouse is built first from ../shared/data/raw into a temporary folder.
Starts `streamlit run dashboard.py` headless on a free loopback port and measures:
- time to map: from `page.goto('/')` until the first area of the SVG map is in the page. `time_to_map_cold_s`
  is the first visit after the server starts (it also pays for the server's imports and empty caches) and
  doubles as the warm-up; `time_to_map_s` is the median over `--repeats` further visits, each in a fresh
  browser context (a first-time visitor: empty HTTP cache, so the browser downloads and compiles
  Streamlit's JavaScript; the home map needs no charting library, see indicators/present/svgmap.py). `time_to_map_returning_s`: a new tab of a browser that has
  visited before (HTTP cache warm).
- area profile: a first-time visitor (fresh context) opening a shared link to an area's profile
  (`--area`, default Blackpool), from `page.goto` until its spine chart and trend charts are drawn and the
  run has settled; median over `--repeats` visits. Reported, no target.
- indicator switch: from pressing Enter on another indicator, chosen by keyboard in the sidebar's
  Indicator box, until the main map shows the new indicator's data, the script run has settled (footer
  drawn, running indicator gone, no stale element left) and the browser has painted twice; median of
  `--switches` switches alternating between two indicators with data (labels read from the page).
- the server's share of each: from the browser sending the request for a script run to its receiving the
  message that the run finished, with Chrome DevTools Protocol timestamps of the WebSocket frames
  (`*_server_s`); the rest is the browser (loading Streamlit's JavaScript, drawing).
- map payload: the SVG map markup the server sent for the home page (main map + London inset), taken
  from the WebSocket frames the page received and decoded with Streamlit's protobuf messages; the total
  bytes of all frames of that page load are reported beside it. Sizes are uncompressed (Streamlit's
  WebSocket compression is off by default). 1 MB = 1,000,000 bytes.
Depends on playwright, the indicators package, tests/browser_support.py and benchmarks/run.py (machine
description); run by `benchmarks/run.py --browser`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from browser_support import (  # noqa: E402 (tests/ is put on the path just above)
    CHROMIUM,
    CHROMIUM_ARGS,
    MAP_DRAWN,
    MAP_SIGNATURE,
    PAINTED,
    SETTLED,
    SHARED_RAW,
    VIEWPORT,
    Frames,
    Reruns,
    build_real_warehouse,
    sidebar_input,
    streamlit_server,
)

RESULTS = HERE / "RESULTS.md"
HEADER = ("# Benchmark results\n\n"
          "Blocks are appended by the scripts in `benchmarks/` (newest last); do not edit old blocks.\n")
PREFERRED = ("Drug-misuse deaths", "Drug-poisoning deaths")
TARGETS = {"time_to_map_s": 2.0, "indicator_switch_s": 0.3, "map_payload_mb": 0.25}
MB = 1_000_000
TIMEOUT = 60_000  # ms, for every wait in the browser
PROFILE_AREA = "E06000009"  # Blackpool: a figure for most indicators, and long series
# The area profile is drawn: its spine chart and a trend chart (waited for with SETTLED, so every element of the
# run is in the page by then).
PROFILE_DRAWN = """() => !!document.querySelector('.ind-spine svg')
    && document.querySelectorAll('.ind-trend svg').length > 0"""


def _machine() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.machine_info()


def _watch(context, page) -> tuple[Frames, Reruns]:
    """Start counting what the server sends to `page` and timing its script runs (before navigating)."""
    frames, reruns = Frames(), Reruns()
    frames.listen(page)
    cdp = context.new_cdp_session(page)
    reruns.listen(cdp)
    cdp.send("Network.enable")
    return frames, reruns


def _server_share(page, reruns: Reruns, runs: int) -> float:
    """The last script run's time at the network layer, once `runs` runs have been seen (events may trail the DOM)."""
    deadline = time.monotonic() + 10
    while len(reruns.durations) < runs:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_browser: saw {len(reruns.durations)} finished script runs, expected {runs}")
        page.wait_for_timeout(20)
    return reruns.durations[-1]


def _visit(browser, base: str) -> tuple[float, Frames, float]:
    """One first-time visitor: seconds from navigation to the first map shape, the frames of the whole load
    and the server's share (the first script run at the network layer)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        frames, reruns = _watch(context, page)
        start = time.perf_counter()
        page.goto(base + "/", timeout=TIMEOUT)
        page.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
        seconds = time.perf_counter() - start
        page.wait_for_function(SETTLED, timeout=TIMEOUT)
        return seconds, frames, _server_share(page, reruns, 1)
    finally:
        context.close()


def _visit_profile(browser, base: str, area: str) -> float:
    """A first-time visitor opening a shared link to an area profile: seconds until its spine chart and every
    trend chart are drawn and the run has settled."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(f"{base}/area?area={area}", timeout=TIMEOUT)
        page.wait_for_function(f"() => ({PROFILE_DRAWN})() && ({SETTLED})()", timeout=TIMEOUT)
        return time.perf_counter() - start
    finally:
        context.close()


def _indicator_labels(page) -> list[str]:
    """The options of the sidebar's Indicator box, as a person sees them."""
    box = page.locator(sidebar_input("Indicator"))
    box.click()
    options = page.locator("[role='option']")
    options.first.wait_for(timeout=TIMEOUT)
    labels = [text.strip() for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return labels


def _pair(labels: list[str]) -> tuple[str, str]:
    if all(label in labels for label in PREFERRED):
        return PREFERRED
    with_data = [label for label in labels if "(" not in label]
    if len(with_data) < 2:
        raise SystemExit(f"bench_browser: fewer than two indicators with data in the sidebar: {labels}")
    return with_data[0], with_data[1]


def _switch(page, frames: Frames, reruns: Reruns, label: str) -> tuple[float, float]:
    """Choose `label` in the Indicator box by keyboard: seconds from Enter to the new map painted and the run
    settled, and the server's share (that script run at the network layer)."""
    box = page.locator(sidebar_input("Indicator"))
    box.focus()
    box.fill(label)
    page.locator("[role='option']").filter(has_text=label).first.wait_for(timeout=TIMEOUT)
    before = page.evaluate(MAP_SIGNATURE)
    finished, runs = frames.runs_finished, len(reruns.durations)
    start = time.perf_counter()
    page.keyboard.press("Enter")
    page.wait_for_function(f"old => ({MAP_SIGNATURE})() !== old && ({MAP_DRAWN})() "
                           f"&& ({SETTLED})()", arg=before, timeout=TIMEOUT)
    page.evaluate(PAINTED)
    seconds = time.perf_counter() - start
    if frames.runs_finished <= finished:
        raise SystemExit("bench_browser: the map changed but the server reported no finished run")
    if page.locator(sidebar_input("Indicator")).input_value() != label:
        raise SystemExit(f"bench_browser: the Indicator box does not show {label!r} after the switch")
    return seconds, _server_share(page, reruns, runs + 1)


def measure(base: str, repeats: int, switches: int, area: str = PROFILE_AREA) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            version = browser.version
            cold, cold_frames, cold_server = _visit(browser, base)
            visits = [_visit(browser, base) for _ in range(repeats)]
            profiles = [_visit_profile(browser, base, area) for _ in range(repeats)]

            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            frames, reruns = _watch(context, page)
            page.goto(base + "/", timeout=TIMEOUT)
            page.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
            page.wait_for_function(SETTLED, timeout=TIMEOUT)
            returning = []
            for _ in range(repeats):
                tab = context.new_page()
                start = time.perf_counter()
                tab.goto(base + "/", timeout=TIMEOUT)
                tab.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
                returning.append(time.perf_counter() - start)
                tab.wait_for_function(SETTLED, timeout=TIMEOUT)
                tab.close()

            pair = _pair(_indicator_labels(page))
            if page.locator(sidebar_input("Indicator")).input_value() != pair[0]:
                _switch(page, frames, reruns, pair[0])
            timings = [_switch(page, frames, reruns, pair[(i + 1) % 2]) for i in range(switches)]
            switch_payload = frames.map_markup_bytes[-2:]
            context.close()
        finally:
            browser.close()
    payloads = [sum(f.map_markup_bytes) + sum(f.plotly_spec_bytes) for _, f, _ in visits]
    return {
        "time_to_map_s": statistics.median(t for t, _, _ in visits),
        "time_to_map_cold_s": cold,
        "time_to_map_runs_s": [t for t, _, _ in visits],
        "time_to_map_server_s": statistics.median(s for _, _, s in visits),
        "time_to_map_cold_server_s": cold_server,
        "time_to_map_returning_s": statistics.median(returning),
        "indicator_switch_s": statistics.median(t for t, _ in timings),
        "indicator_switch_runs_s": [t for t, _ in timings],
        "indicator_switch_server_s": statistics.median(s for _, s in timings),
        "indicator_switch_server_runs_s": [s for _, s in timings],
        "switch_indicators": list(pair),
        "area_profile_s": statistics.median(profiles),
        "area_profile_runs_s": profiles,
        "area_profile_area": area,
        "map_payload_bytes": max(payloads),
        "map_payload_mb": max(payloads) / MB,
        "map_figures_bytes": visits[-1][1].map_markup_bytes + visits[-1][1].plotly_spec_bytes,
        "map_payload_cold_bytes": sum(cold_frames.map_markup_bytes) + sum(cold_frames.plotly_spec_bytes),
        "home_websocket_bytes": max(f.total_bytes for _, f, _ in visits),
        "home_websocket_frames": visits[-1][1].frames,
        "switch_figures_bytes": switch_payload,
        "chromium_version": version,
        "payload_method": "SVG map markup (the data of ui.markup's component, as sent: a JSON string) and any "
                          "Plotly figure JSON in the WebSocket frames of a home-page load, decoded with "
                          "Streamlit's protobuf; uncompressed",
    }


def _verdict(key: str, value: float) -> str:
    return "PASS" if value <= TARGETS[key] else "FAIL"


def summary(result: dict) -> str:
    runs = ", ".join(f"{t:.2f}" for t in result["time_to_map_runs_s"])
    switch_runs = ", ".join(f"{t:.3f}" for t in result["indicator_switch_runs_s"])
    figures = " + ".join(f"{b:,}" for b in result["map_figures_bytes"])
    return "\n".join([
        f"- time to map, warm server, fresh browser context (median of {len(result['time_to_map_runs_s'])}): "
        f"{result['time_to_map_s']:.2f} s (runs {runs}); target <= 2 s: "
        f"{_verdict('time_to_map_s', result['time_to_map_s'])}",
        f"- time to map, first visit after the server starts (cold): {result['time_to_map_cold_s']:.2f} s; "
        f"returning visitor (HTTP cache warm, median): {result['time_to_map_returning_s']:.2f} s",
        f"- of which the server's script run (request to `script_finished` at the browser's network layer): "
        f"{result['time_to_map_server_s']:.2f} s warm (median), {result['time_to_map_cold_server_s']:.2f} s cold",
        f"- indicator switch by keyboard, {result['switch_indicators'][0]} <-> {result['switch_indicators'][1]} "
        f"(median of {len(result['indicator_switch_runs_s'])}): {result['indicator_switch_s']:.3f} s "
        f"(runs {switch_runs}); target <= 0.3 s: {_verdict('indicator_switch_s', result['indicator_switch_s'])}; "
        f"of which the server's script run {result['indicator_switch_server_s']:.3f} s (median)",
        f"- area profile, first-time visitor opening a shared link (/area?area={result['area_profile_area']}; "
        f"spine chart and trend charts drawn, run settled; median of {len(result['area_profile_runs_s'])}): "
        f"{result['area_profile_s']:.2f} s (runs {', '.join(f'{t:.2f}' for t in result['area_profile_runs_s'])}); "
        "no target, reported",
        f"- map payload: SVG map markup sent for the home page {result['map_payload_bytes']:,} B "
        f"({figures}: main map + London inset) = {result['map_payload_mb']:.3f} MB; target <= 0.25 MB: "
        f"{_verdict('map_payload_mb', result['map_payload_mb'])}; all WebSocket frames of the home-page load "
        f"{result['home_websocket_bytes']:,} B in {result['home_websocket_frames']} frames (uncompressed)",
    ])


def append_block(text: str, result: dict, machine: dict, origin: str) -> None:
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    block = "\n".join([
        f"\n## bench_browser.py, {stamp}",
        "",
        f"- machine: {machine['platform']}, {machine['machine']}, {machine['cpus']} CPUs, {machine['memory']} RAM, "
        f"Python {machine['python']}; Chromium {result['chromium_version']} ({CHROMIUM}); load average at start "
        f"{machine['load']}",
        f"- warehouse: {origin}; server `streamlit run dashboard.py` on 127.0.0.1",
        text,
        "",
    ])
    if not RESULTS.exists():
        RESULTS.write_text(HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh-context visits after the warm-up (default 5)")
    parser.add_argument("--switches", type=int, default=5, help="indicator switches timed (default 5)")
    parser.add_argument("--no-append", action="store_true", help="print only; RESULTS.md untouched")
    parser.add_argument("--area", default=PROFILE_AREA, help=f"area code of the profile visited (default {PROFILE_AREA})")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_browser: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="indicators-bench-browser-") as tmp:
        if os.environ.get("INDICATORS_DB"):
            db = Path(os.environ["INDICATORS_DB"])
            origin = f"{db} (INDICATORS_DB)"
            if not db.exists():
                print(f"bench_browser: no warehouse at {db} (INDICATORS_DB)", file=sys.stderr)
                return 2
        else:
            if not SHARED_RAW.is_dir():
                print(f"bench_browser: INDICATORS_DB is not set and {SHARED_RAW} is missing", file=sys.stderr)
                return 2
            print(f"building the warehouse from {SHARED_RAW} ...", file=sys.stderr)
            db = build_real_warehouse(Path(tmp), SHARED_RAW)
            origin = f"built from {SHARED_RAW} into a temporary folder"
        try:
            with streamlit_server(db, Path(tmp) / "streamlit.log") as server:
                result = measure(server.base, args.repeats, args.switches, args.area)
        except RuntimeError as exc:  # the server did not start; its log is in the message
            print(f"bench_browser: {exc}", file=sys.stderr)
            return 2
    result["load_average_1min"] = os.getloadavg()[0]
    text = summary(result)
    print(text)
    if not args.no_append:
        append_block(text, result, machine, origin)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
