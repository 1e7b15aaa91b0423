"""One command for the performance evidence (build time, query latency, map payload, intervals, browser timings); appends a dated block to RESULTS.md.

Usage: uv run python benchmarks/run.py [--quick] [--browser] [--mirror DIR] [--no-append]

Depends on the `indicators` package (CLI, queries, charts), duckdb and the standard library;
runs benchmarks/bench_intervals.py (and benchmarks/bench_browser.py with --browser, when that
file exists) as subprocesses. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
HEADER = ("# Benchmark results\n\n"
          "Blocks are appended by the scripts in `benchmarks/` (newest last); do not edit old blocks.\n")
DEFAULT_MIRROR = REPO.parent / "shared" / "data" / "raw"
ENGLAND = "E92000001"
MB = 1_000_000  # payload sizes are in decimal megabytes

TARGETS = {  # measure -> (limit, unit)
    "build": (10.0, "s"),
    "time_to_map": (2.0, "s"),
    "indicator_switch": (0.3, "s"),
    "payload": (0.25, "MB"),
}


# --------------------------------------------------------------------------- machine

def machine_info() -> dict[str, str]:
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": str(os.cpu_count()),
            "memory": memory, "python": platform.python_version(), "duckdb": duckdb.__version__, "load": load}


# --------------------------------------------------------------------------- build

def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "indicators", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)


def fetch_and_build(mirror: Path, work: Path, runs: int) -> dict:
    """Copy the mirror into a fresh raw cache, then time `indicators build` end to end (`runs` times)."""
    raw, db = work / "raw", work / "warehouse.duckdb"
    start = time.perf_counter()
    fetched = _cli("fetch", "--mirror", str(mirror), "--raw", str(raw))
    fetch_seconds = time.perf_counter() - start
    if fetched.returncode != 0:
        raise SystemExit(f"fetch from {mirror} failed:\n{fetched.stderr}")
    walls, internals = [], []
    for _ in range(runs):
        start = time.perf_counter()
        built = _cli("build", "--raw", str(raw), "--db", str(db))
        walls.append(time.perf_counter() - start)
        if built.returncode != 0:
            raise SystemExit(f"build failed:\n{built.stderr}")
        match = re.search(r" in ([\d.]+) s:", built.stdout)
        if match:
            internals.append(float(match.group(1)))
    files = [p for p in raw.rglob("*") if p.is_file() and p.name != "manifest.json"]
    return {"raw": raw, "db": db, "fetch_seconds": fetch_seconds, "walls": walls, "internals": internals,
            "n_files": len(files), "raw_bytes": sum(p.stat().st_size for p in files),
            "db_bytes": db.stat().st_size}


# --------------------------------------------------------------------------- queries

def page_calls(con) -> tuple[list[tuple[str, Callable]], dict]:
    """The query-layer calls a page makes, with arguments taken from the warehouse itself."""
    from indicators.products import queries

    catalogue = queries.indicators(con)
    with_data = catalogue[catalogue["n_periods"] > 0]
    row = (with_data if len(with_data) else catalogue).iloc[0]
    indicator_id, period = row["indicator_id"], row["latest_period"]
    values = queries.area_values(con, indicator_id, period) if period else None
    if values is not None and len(values):
        chosen = values.dropna(subset=["value"]) if values["value"].notna().any() else values
        area_code, region = chosen.iloc[0]["area_code"], chosen.iloc[0]["region_code"]
    else:
        area_code, region = ENGLAND, None
    codes = [c for c in (area_code, region, ENGLAND) if c]
    calls = [
        ("indicators()", lambda c: queries.indicators(c)),
        ("periods(indicator)", lambda c: queries.periods(c, indicator_id)),
        ("area_values(indicator, period)", lambda c: queries.area_values(c, indicator_id, period)),
        ("latest_values_for_area(area)", lambda c: queries.latest_values_for_area(c, area_code)),
        ("series(indicator, [area, region, England])", lambda c: queries.series(c, indicator_id, codes)),
        ("boundaries_geojson()", lambda c: queries.boundaries_geojson(c)),
    ]
    for name, call in (("map_values", lambda c: queries.map_values(c, indicator_id, period)),
                       ("map_geojson", lambda c: queries.map_geojson(c))):
        if hasattr(queries, name):
            label = "map_values(indicator, period)" if name == "map_values" else "map_geojson()"
            calls.append((label, call))
    return calls, {"indicator_id": indicator_id, "period": period, "area_code": area_code}


def query_latency(db: Path, warm_repeats: int) -> tuple[list[dict], dict, float]:
    """Per call: cold = first call on a freshly opened database (no other connection open),
    warm = median of `warm_repeats` calls on one connection after a warm-up call."""
    from indicators.products import queries

    start = time.perf_counter()
    con = queries.connect(db)
    connect_seconds = time.perf_counter() - start
    calls, chosen = page_calls(con)
    con.close()
    rows = []
    for name, call in calls:
        con = queries.connect(db)
        start = time.perf_counter()
        call(con)
        cold = time.perf_counter() - start
        timings = []
        for _ in range(warm_repeats):
            start = time.perf_counter()
            call(con)
            timings.append(time.perf_counter() - start)
        con.close()
        rows.append({"call": name, "cold": cold, "warm": statistics.median(timings), "worst": max(timings)})
    return rows, chosen, connect_seconds


# --------------------------------------------------------------------------- payload

def _json_bytes(document: object) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode("utf-8"))


def map_payload(db: Path, chosen: dict) -> dict:
    """Bytes of the boundaries GeoJSON and of the map markup the home page sends: the SVG map of every
    area and the London inset (indicators.present.svgmap), built exactly as ui/data.py builds them."""
    from urllib.parse import urlencode

    from indicators.present import charts, svgmap
    from indicators.products import queries

    con = queries.connect(db)
    try:
        out: dict = {"boundaries_geojson": _json_bytes(queries.boundaries_geojson(con))}
        geojson = queries.map_geojson(con)
        out["map_geojson"] = _json_bytes(geojson)
        meta = queries.indicator(con, chosen["indicator_id"])
        values = queries.map_values(con, chosen["indicator_id"], chosen["period"])
        start = time.perf_counter()
        england = svgmap.map_paths(geojson)
        london = svgmap.map_paths(geojson, [f["properties"]["area_code"] for f in geojson["features"]
                                            if f["properties"]["area_code"].startswith(charts.LONDON_PREFIX)])
        out["projection_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        frame, legend = charts.map_frame(values, meta, "comparison", chosen["period"])
        params = {"indicator": chosen["indicator_id"], "period": chosen["period"]}

        def draw(paths, rows):
            return svgmap.svg_map(rows, paths, title="Map", describe=lambda r: charts.hover_lines(r, meta),
                                  href=lambda code: "area?" + urlencode({**params, "area": code}),
                                  highlight=chosen["area_code"])
        main = draw(england, frame)
        inset = draw(london, frame[frame["area_code"].isin(london.paths)])
        out["figure_seconds"] = time.perf_counter() - start
        out["choropleth_figure"] = len(main.encode("utf-8"))
        out["london_inset_figure"] = len(inset.encode("utf-8"))
        out["map_page_figures"] = out["choropleth_figure"] + out["london_inset_figure"]
        return out
    finally:
        con.close()


# --------------------------------------------------------------------------- subprocess benchmarks

def run_intervals(quick: bool) -> tuple[int, list[str]]:
    """benchmarks/bench_intervals.py (it appends its own block to RESULTS.md); its summary lines."""
    command = [sys.executable, str(HERE / "bench_intervals.py")]
    if quick:  # every method still present, a fifth of the rows
        command += ["--periods", "3"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    lines = [line[2:] for line in done.stdout.splitlines() if line.startswith("- ") and "machine:" not in line]
    if done.returncode not in (0, 1) or not lines:
        lines = [f"bench_intervals.py failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"]
    return done.returncode, lines


def run_browser(db: Path) -> tuple[str, dict]:
    """benchmarks/bench_browser.py, if another helper has written it: (status text, timings found)."""
    script = HERE / "bench_browser.py"
    if not script.exists():
        return "skipped: benchmarks/bench_browser.py does not exist yet", {}
    env = dict(os.environ, INDICATORS_DB=str(db))
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, text=True,
                              timeout=900, check=False, env=env)
    except subprocess.TimeoutExpired:
        return "bench_browser.py did not finish within 900 s", {}
    timings: dict = {}
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            candidate = json.loads(line)
        except ValueError:
            continue
        if isinstance(candidate, dict):
            timings = candidate
            break
    status = f"bench_browser.py exit {done.returncode}"
    if done.returncode != 0:
        status += f": {done.stderr.strip()[-300:]}"
    return status, timings


# --------------------------------------------------------------------------- report

def verdict(measure: str, value: float | None) -> str:
    limit, _ = TARGETS[measure]
    if value is None:
        return "NOT MEASURED"
    return "PASS" if value <= limit else "FAIL"


def _target(measure: str) -> str:
    limit, unit = TARGETS[measure]
    return f"<= {limit:g} {unit}"


def report(args: argparse.Namespace, info: dict, built: dict, latency: list[dict], chosen: dict,
           connect_seconds: float, payload: dict, intervals: list[str], browser_status: str,
           browser: dict) -> str:
    build_median = statistics.median(built["walls"])
    payload_bytes = payload.get("map_page_figures")
    time_to_map = browser.get("time_to_map_s")
    switch = browser.get("indicator_switch_s")
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    runs = len(built["walls"])
    lines = [
        f"\n## run.py, {stamp}{' (--quick)' if args.quick else ''}",
        "",
        f"- machine: {info['platform']}, {info['machine']}, {info['cpus']} CPUs, {info['memory']} RAM, "
        f"Python {info['python']}, duckdb {info['duckdb']}; load average at start {info['load']} "
        "(other processes share the CPUs)",
        f"- data: {args.mirror} ({built['n_files']} files, {built['raw_bytes'] / MB:.1f} MB) -> warehouse "
        f"{built['db_bytes'] / MB:.1f} MB; `indicators fetch --mirror` took {built['fetch_seconds']:.1f} s",
        "",
        "| measure | result | target | verdict |",
        "|---|---|---|---|",
        f"| build: `indicators build` wall time, median of {runs} | {build_median:.2f} s "
        f"(runs {', '.join(f'{w:.2f}' for w in built['walls'])}; build() itself "
        f"{', '.join(f'{s:.1f}' for s in built['internals']) or 'n/a'} s) | {_target('build')} | "
        f"{verdict('build', build_median)} |",
        f"| time to map in Chromium | {f'{time_to_map:.2f} s' if time_to_map is not None else browser_status} | "
        f"{_target('time_to_map')} | {verdict('time_to_map', time_to_map)} |",
        f"| indicator switch in Chromium | {f'{switch:.2f} s' if switch is not None else browser_status} | "
        f"{_target('indicator_switch')} | {verdict('indicator_switch', switch)} |",
    ]
    if payload_bytes is not None:
        lines.append(
            f"| map payload: home-page SVG map markup (all areas {payload['choropleth_figure']:,} B + London inset "
            f"{payload.get('london_inset_figure', 0):,} B) | {payload_bytes / MB:.3f} MB | {_target('payload')} | "
            f"{verdict('payload', payload_bytes / MB)} |")
    else:
        lines.append(f"| map payload (indicators.present.charts has no choropleth builder) | not measured | "
                     f"{_target('payload')} | NOT MEASURED |")
    lines += [
        "",
        f"Payload detail: boundaries_geojson() {payload['boundaries_geojson']:,} B"
        + (f"; map_geojson() (rounded coordinates) {payload['map_geojson']:,} B" if "map_geojson" in payload else "")
        + (f"; projecting the boundaries to SVG paths (once per build) {payload['projection_seconds'] * 1000:.0f} ms"
           f"; drawing one view's SVG in Python {payload['figure_seconds'] * 1000:.0f} ms"
           if "figure_seconds" in payload else "") + ".",
        "",
        f"Query latency in ms for `{chosen['indicator_id']}`, period {chosen['period']}, area {chosen['area_code']}; "
        f"opening the warehouse read-only: {connect_seconds * 1000:.1f} ms. Cold = first call on a freshly "
        f"opened database (OS file cache warm); warm = median of {args.warm} calls on one connection.",
        "",
        "| call | cold | warm (median) | warm (worst) |",
        "|---|---:|---:|---:|",
    ]
    for row in latency:
        lines.append(f"| {row['call']} | {row['cold'] * 1000:.1f} | {row['warm'] * 1000:.1f} | "
                     f"{row['worst'] * 1000:.1f} |")
    lines += ["", "Intervals (benchmarks/bench_intervals.py, full block appended separately):"]
    lines += [f"- {line}" for line in intervals]
    if not args.browser:
        lines += ["", "Browser timings not run (pass --browser)."]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one build, 5 warm repeats, an intervals table of 3 periods instead of 15")
    parser.add_argument("--browser", action="store_true",
                        help="also run benchmarks/bench_browser.py (time to map, indicator switch) if it exists")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR,
                        help="folder with the official files, laid out <source_id>/<file> (default ../shared/data/raw)")
    parser.add_argument("--no-append", action="store_true",
                        help="print the block but append nothing to RESULTS.md (skips bench_intervals.py, "
                             "which always appends)")
    args = parser.parse_args(argv)
    args.warm = 5 if args.quick else 20
    if not args.mirror.is_dir():
        print(f"no mirror at {args.mirror}: pass --mirror DIR (a folder laid out as <source_id>/<file>)",
              file=sys.stderr)
        return 2

    info = machine_info()
    with tempfile.TemporaryDirectory(prefix="indicators-bench-") as tmp:
        print("fetching from the mirror and building ...", file=sys.stderr)
        built = fetch_and_build(args.mirror, Path(tmp), runs=1 if args.quick else 3)
        print("timing queries ...", file=sys.stderr)
        latency, chosen, connect_seconds = query_latency(built["db"], args.warm)
        payload = map_payload(built["db"], chosen)
        if args.no_append:  # bench_intervals.py always appends its own block, so it is left out here
            intervals = ["not run (--no-append)"]
        else:
            print("running bench_intervals.py ...", file=sys.stderr)
            _, intervals = run_intervals(args.quick)
        browser_status, browser = "not run (pass --browser)", {}
        if args.browser:
            print("running bench_browser.py ...", file=sys.stderr)
            browser_status, browser = run_browser(built["db"])
            print(browser_status, file=sys.stderr)
    block = report(args, info, built, latency, chosen, connect_seconds, payload, intervals,
                   browser_status, browser)
    print(block)
    if not args.no_append:
        if not RESULTS.exists():
            RESULTS.write_text(HEADER, encoding="utf-8")
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
