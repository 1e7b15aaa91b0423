"""The static site against the app, in one run on this machine: publish time, site size, time to map in Chromium (static page, a bare page with the same SVG, the app) and a load test of the static site; appends a block to RESULTS.md and prints a JSON line last.

Usage: [INDICATORS_DB=PATH] uv run python benchmarks/bench_static.py [--repeats 7] [--clients 100] [--seconds 20]
       [--no-app] [--no-append]

Without INDICATORS_DB the warehouse is built first from ../shared/data/raw into a temporary folder. Then:
- `indicators publish` is timed end to end (the command, as a user runs it), and the site's size and files counted.
- The site is served by nginx (Debian's package: `apt-get install nginx-light`), a static server people deploy,
  on a free loopback port with a generated configuration (sendfile, keep-alive, no access log, no compression:
  the files as written).
- Time to map: from navigation until the first area of the map is in the page and the browser has painted twice
  more, each visit in a fresh browser context (a first-time visitor, empty cache): the static map page of the
  default indicator; a bare HTML page holding only the same SVG and the map's CSS (the floor for drawing that
  SVG, served by the same nginx); and the app's home page (`streamlit run dashboard.py`, the same map, after one
  warm-up visit). The three are measured interleaved, `--repeats` each; medians and their ratios are reported.
- Load: wrk (Debian's package) with `--clients` concurrent connections for `--seconds` against a rotation of the
  site's pages (home, every map, every area profile, the stylesheet), with keep-alive, then again with a new
  connection per request (`Connection: close`, as many visitors arriving at once); requests per second, p50/p95/
  p99 latency and errors from wrk's own report.
The machine's load average (uptime) is recorded before each part: other agents share the 2 cores.
Depends on playwright, nginx, wrk, the indicators package and tests/browser_support.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from browser_support import (  # noqa: E402 (tests/ is put on the path just above)
    CHROMIUM,
    CHROMIUM_ARGS,
    MAP_DRAWN,
    PAINTED,
    SHARED_RAW,
    VIEWPORT,
    build_real_warehouse,
    free_port,
    streamlit_server,
)

RESULTS = HERE / "RESULTS.md"
TIMEOUT = 60_000  # ms
BARE = "__bench/bare-map.html"
TARGET_RATIO = 1.5  # the static map page within 1.5 times the bare page's time
NGINX_CONF = """daemon off;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    keepalive_requests 100000;
    open_file_cache max=10000 inactive=60s;
    client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {site};
        index index.html;
        location /__bench/ {{ alias {bench}/; }}
    }}
}}
"""
WRK_SCRIPT = """
local paths = {{{paths}}}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {{{headers}}})
end
done = function(summary, latency, requests)
  io.write(string.format("WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"bytes\\": %d, "
    .. "\\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, "
    .. "\\"p50_ms\\": %.3f, \\"p95_ms\\": %.3f, \\"p99_ms\\": %.3f, \\"max_ms\\": %.3f}}\\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def _machine() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.machine_info()


def _uptime() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def publish_site(db: Path, out: Path) -> dict:
    """`indicators publish` as a user runs it, timed; the site's pages, files and bytes."""
    load = _uptime()
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "indicators", "publish", "--db", str(db), "--out", str(out),
                          "--app-url", "http://127.0.0.1:8501/"], cwd=REPO, capture_output=True, text=True,
                         check=False, timeout=1800)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"bench_static: indicators publish failed:\n{run.stderr}")
    files = [p for p in out.rglob("*") if p.is_file()]
    html = [p for p in files if p.suffix == ".html"]
    match = re.search(r"(\d+) pages, (\d+) embeds", run.stdout)
    return {"publish_s": seconds, "publish_load": load, "files": len(files), "html_files": len(html),
            "bytes": sum(p.stat().st_size for p in files), "html_bytes": sum(p.stat().st_size for p in html),
            "downloads_bytes": sum(p.stat().st_size for p in (out / "downloads").iterdir()),
            "pages": int(match.group(1)), "embeds": int(match.group(2)), "publish_output": run.stdout.strip()}


def bare_page(site: Path, bench: Path, map_page: str) -> None:
    """A page holding only the static map page's SVG and the map's CSS: the floor for drawing that SVG."""
    from indicators.present.svgmap import MAP_CSS

    page = (site / map_page / "index.html").read_text(encoding="utf-8")
    svg = re.search(r'<figure class="ind-map ind-map-main">.*?</figure>', page, re.S).group(0)
    bench.mkdir(parents=True, exist_ok=True)
    (bench / Path(BARE).name).write_text(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>bare "
                                         f"map</title><style>{MAP_CSS}</style></head><body>{svg}</body></html>",
                                         encoding="utf-8")


@contextmanager
def nginx(site: Path, bench: Path, work: Path):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("bench_static: nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, site=site, bench=bench), encoding="utf-8")
    process = subprocess.Popen([binary, "-c", str(conf), "-e", str(work / "nginx-error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/"
    try:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base, timeout=1) as response:
                    if response.status != 200:
                        raise SystemExit(f"bench_static: nginx answered {response.status} for the home page")
                break
            except urllib.error.HTTPError as exc:
                raise SystemExit(f"bench_static: nginx answered {exc.code} for the home page (can its workers read "
                                 f"{site}?)") from None
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"bench_static: nginx did not start: {process.stderr.read().decode()[-500:]}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _visit(browser, url: str) -> float:
    """One first-time visitor: seconds from navigation to the map's first area in the page, painted."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=TIMEOUT)
        page.wait_for_function(MAP_DRAWN, timeout=TIMEOUT)
        page.evaluate(PAINTED)
        return time.perf_counter() - start
    finally:
        context.close()


def time_to_map(urls: dict[str, str], repeats: int) -> dict:
    """Each url visited `repeats` times in fresh contexts, interleaved (after one warm-up visit of each)."""
    from playwright.sync_api import sync_playwright

    runs: dict[str, list[float]] = {name: [] for name in urls}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            version = browser.version
            warmup = {name: _visit(browser, url) for name, url in urls.items()}
            load = _uptime()
            for i in range(repeats):
                order = list(urls) if i % 2 == 0 else list(reversed(urls))
                for name in order:
                    runs[name].append(_visit(browser, urls[name]))
        finally:
            browser.close()
    return {"runs": runs, "median": {n: statistics.median(r) for n, r in runs.items()}, "warmup": warmup,
            "chromium": version, "load": load}


def load_test(base: str, paths: list[str], clients: int, seconds: int, close: bool, work: Path) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench_static: wrk is not installed (apt-get install wrk)")
    script = work / ("close.lua" if close else "keepalive.lua")
    headers = '["Connection"] = "close"' if close else ""
    script.write_text(WRK_SCRIPT.format(paths=", ".join(json.dumps("/" + p) for p in paths), headers=headers),
                      encoding="utf-8")
    load = _uptime()
    run = subprocess.run([wrk, "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), base],
                         capture_output=True, text=True, check=False, timeout=seconds + 120)
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if run.returncode != 0 or line is None:
        raise SystemExit(f"bench_static: wrk failed:\n{run.stdout}\n{run.stderr}")
    result = json.loads(line.removeprefix("WRKJSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    result["load"] = load
    result["connection"] = "close" if close else "keep-alive"
    return result


def summary(result: dict) -> str:
    site, ttm = result["site"], result["time_to_map"]
    med = ttm["median"]

    def runs(name):
        return ", ".join(f"{t:.3f}" for t in ttm["runs"][name])

    lines = [
        f"- `indicators publish` (whole command, {site['pages']} pages and {site['embeds']} embeds): "
        f"{site['publish_s']:.1f} s; load average before it {site['publish_load']}",
        f"- site: {site['files']:,} files, {site['bytes'] / 1e6:.1f} MB ({site['html_files']:,} HTML pages "
        f"{site['html_bytes'] / 1e6:.1f} MB, downloads {site['downloads_bytes'] / 1e6:.1f} MB; uncompressed)",
        f"- time to map, first-time visitor (fresh browser context, to the first area painted; median of "
        f"{len(ttm['runs']['static'])} each, interleaved; load average {ttm['load']}):",
        f"  - static map page `{result['map_page']}` (nginx): **{med['static']:.3f} s** (runs {runs('static')})",
        f"  - bare page with the same SVG (nginx): {med['bare']:.3f} s (runs {runs('bare')}); static / bare = "
        f"**{med['static'] / med['bare']:.2f}** (target <= {TARGET_RATIO}: "
        f"{'PASS' if med['static'] / med['bare'] <= TARGET_RATIO else 'FAIL'})",
    ]
    if "app" in med:
        lines.append(f"  - the app's home map (`streamlit run dashboard.py`, after one warm-up visit): "
                     f"**{med['app']:.3f} s** (runs {runs('app')}); app / static = **{med['app'] / med['static']:.1f}**")
    for test in result["load"]:
        lines.append(
            f"- load, nginx serving the site, {test['clients']} concurrent wrk connections for {test['seconds']} s "
            f"over {test['paths']} pages ({test['connection']}; load average before {test['load']}): "
            f"**{test['rps']:,.0f} requests/s**, latency p50 {test['p50_ms']:.1f} ms, **p95 {test['p95_ms']:.1f} ms**, "
            f"p99 {test['p99_ms']:.1f} ms, max {test['max_ms']:.0f} ms; {test['requests']:,} requests, "
            f"{test['bytes'] / 1e9:.2f} GB, **{test['errors']} errors**")
    return "\n".join(lines)


def append_block(text: str, result: dict, machine: dict, origin: str) -> None:
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    block = "\n".join([
        f"\n## bench_static.py, {stamp}",
        "",
        f"- machine: {machine['platform']}, {machine['machine']}, {machine['cpus']} CPUs, {machine['memory']} RAM, "
        f"Python {machine['python']}; Chromium {result['time_to_map']['chromium']}; {result['nginx']}; "
        f"{result['wrk']}; load average at start {machine['load']} (the 2 cores are shared with other agents' "
        "work: every figure below is slower than on an idle machine)",
        f"- warehouse: {origin}",
        text,
        "",
    ])
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(block)


def _version(command: list[str]) -> str:
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    return (run.stderr or run.stdout).strip().splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="fresh-context visits of each page (default 7)")
    parser.add_argument("--clients", type=int, default=100, help="concurrent connections of the load test")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each load test (default 20)")
    parser.add_argument("--no-app", action="store_true", help="skip the app's time to map")
    parser.add_argument("--no-append", action="store_true", help="print only; RESULTS.md untouched")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"bench_static: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 2
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="indicators-bench-static-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers run as another user, who must read the site
        if os.environ.get("INDICATORS_DB"):
            db, origin = Path(os.environ["INDICATORS_DB"]), f"{os.environ['INDICATORS_DB']} (INDICATORS_DB)"
        else:
            if not SHARED_RAW.is_dir():
                print(f"bench_static: INDICATORS_DB is not set and {SHARED_RAW} is missing", file=sys.stderr)
                return 2
            print(f"building the warehouse from {SHARED_RAW} ...", file=sys.stderr)
            db, origin = build_real_warehouse(work, SHARED_RAW), f"built from {SHARED_RAW} into a temporary folder"
        site = work / "site"
        print("publishing ...", file=sys.stderr)
        result = {"site": publish_site(db, site)}
        from indicators.present.state import PREFERRED_INDICATOR

        map_page = f"map/{PREFERRED_INDICATOR}/"
        result["map_page"] = map_page
        bare_page(site, work / "bench", map_page)
        pages = ([""] + [p.relative_to(site).parent.as_posix() + "/" for p in sorted((site / "map").glob("*/index.html"))]
                 + [p.relative_to(site).parent.as_posix() + "/" for p in sorted((site / "area").glob("*/index.html"))]
                 + ["site.css"])
        with nginx(site, work / "bench", work / "nginx") as base:
            urls = {"static": base + map_page, "bare": base + BARE}
            if args.no_app:
                print("timing the static and bare pages ...", file=sys.stderr)
                result["time_to_map"] = time_to_map(urls, args.repeats)
            else:
                with streamlit_server(db, work / "streamlit.log") as server:
                    urls["app"] = server.base + "/"
                    print("timing the static page, the bare page and the app ...", file=sys.stderr)
                    result["time_to_map"] = time_to_map(urls, args.repeats)
            result["load"] = []
            for close in (False, True):
                print(f"load test ({'new connection per request' if close else 'keep-alive'}) ...", file=sys.stderr)
                test = load_test(base, pages, args.clients, args.seconds, close, work)
                test.update(clients=args.clients, seconds=args.seconds, paths=len(pages))
                result["load"].append(test)
    result["nginx"] = _version([shutil.which("nginx") or "/usr/sbin/nginx", "-v"])
    result["wrk"] = _version(["wrk", "--version"]).split(" Copyright")[0]
    text = summary(result)
    print(text)
    if not args.no_append:
        append_block(text, result, machine, origin)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
