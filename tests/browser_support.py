"""Shared pieces for driving the dashboard in Debian's Chromium (tests/test_load.py, benchmarks/bench_browser.py); depends on the indicators package, streamlit's protobuf messages and the standard library.

Nothing here imports pytest or Playwright at module level, so a benchmark script can use it too:
the real warehouse built from the official files, `streamlit run dashboard.py` on a free loopback
port, the selectors and in-page checks that say a script run has settled, the sizes of the
WebSocket messages the server sends, and the resident memory of a process.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_RAW = Path(os.environ.get("INDICATORS_SHARED_RAW", REPO.parent / "shared" / "data" / "raw"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}

# The home page's map: inline SVG (indicators.present.svgmap), one link per area.
MARKUP_COMPONENT = "indicators_markup"  # ui.markup.NAME (not imported: that module needs a Streamlit runtime)
MAP_DRAWN = "() => !!document.querySelector('.ind-map-main a path')"
EXCEPTION = "[data-testid='stException']"
# A run has settled when the footer is drawn, the running indicator is gone and no element of an earlier
# run is still shown greyed out (Streamlit marks those data-stale="true" until the run reaches or drops them).
SETTLED = """() => document.body.textContent.includes('Data build')
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-stale="true"]')"""
# Resolves once the browser has painted twice more (the frame after the DOM change is on screen).
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"
# What the main map currently shows: the hover texts of its traces (they name the value, interval and period).
MAP_SIGNATURE = """() => { const map = document.querySelector('.ind-map-main');
    return map ? [...map.querySelectorAll('a')].map(a => a.textContent).join('|') : ''; }"""
TITLE = "() => { const h = document.querySelector('h1'); return h ? h.innerText : ''; }"


# The sidebar's page links (ui.nav.links: they replace Streamlit's own page menu), and their row in the page on
# narrow screens (below 768 px, where the sidebar is folded away), with short titles.
PAGE_LINKS = "[data-testid='stSidebar'] .st-key-page_links a"
INLINE_PAGE_LINKS = ".st-key-inline_page_links a"


def sidebar_input(label: str) -> str:
    """Selector of a sidebar select box's text input, by its accessible label."""
    return f"[data-testid='stSidebar'] input[aria-label='{label}']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_real_warehouse(work: Path, mirror: Path = SHARED_RAW) -> Path:
    """Copy the official files from `mirror` into a raw cache under `work` and build a warehouse there."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    raw, db = work / "raw", work / "warehouse.duckdb"
    fetch_all(raw, mirror=mirror, progress=False)
    build(raw, db)
    return db


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def streamlit_server(db: Path, log: Path, start_timeout: float = 60.0) -> Iterator[Server]:
    """`streamlit run dashboard.py` on 127.0.0.1 against warehouse `db`; terminated on exit however the block ends."""
    port = free_port()
    env = dict(os.environ, INDICATORS_DB=str(db))
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard.py"), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(base + "/_stcore/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"streamlit did not start within {start_timeout:.0f} s: "
                                       f"{log.read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.2)
        yield Server(base, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def vm_rss(pid: int) -> int:
    """Resident set size of process `pid` in bytes, from /proc/<pid>/status (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


@dataclass
class Frames:
    """What the server sent over the page's WebSocket: every frame's size and, decoded with Streamlit's own
    protobuf messages, the Plotly figure JSON of each chart, the SVG map markup and how many script runs finished."""

    total_bytes: int = 0
    frames: int = 0
    plotly_spec_bytes: list[int] = field(default_factory=list)
    map_markup_bytes: list[int] = field(default_factory=list)
    runs_finished: int = 0

    def received(self, payload: bytes | str) -> None:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        self.total_bytes += len(data)
        self.frames += 1
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        message = ForwardMsg()
        try:
            message.ParseFromString(data)
        except Exception:  # a frame that is not a ForwardMsg still counts towards the bytes
            return
        kind = message.WhichOneof("type")
        if kind == "script_finished":
            self.runs_finished += 1
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "plotly_chart":
                self.plotly_spec_bytes.append(len(element.plotly_chart.spec.encode("utf-8")))
            elif element.WhichOneof("type") == "bidi_component" and element.bidi_component.component_name == \
                    MARKUP_COMPONENT:
                # maps and legend (ui.markup): the markup as sent, a JSON string
                self.map_markup_bytes.append(len(element.bidi_component.json.encode("utf-8")))

    def listen(self, page) -> None:
        """Count the frames of every WebSocket `page` opens from now on (sync or async Playwright page)."""
        page.on("websocket", lambda ws: ws.on("framereceived", self.received))


@dataclass
class Reruns:
    """Script runs as the browser's network stack saw them: from the BackMsg asking for a run (`rerun_script`)
    to the ForwardMsg saying it finished, using Chrome DevTools Protocol timestamps (taken in the browser
    process, so they do not wait for a busy page's JavaScript). This is the server's share of a step."""

    durations: list[float] = field(default_factory=list)
    _requested: float | None = None

    def _payload(self, params: dict) -> bytes | None:
        frame = params.get("response") or {}
        if frame.get("opcode") != 2:  # Streamlit's messages are binary frames
            return None
        return base64.b64decode(frame.get("payloadData") or "")

    def sent(self, params: dict) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        data = self._payload(params)
        if data is None:
            return
        message = BackMsg()
        message.ParseFromString(data)
        if message.WhichOneof("type") == "rerun_script" and self._requested is None:
            self._requested = params["timestamp"]

    def received(self, params: dict) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        data = self._payload(params)
        if data is None or self._requested is None:
            return
        message = ForwardMsg()
        message.ParseFromString(data)
        if message.WhichOneof("type") == "script_finished" and message.script_finished in (
                ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
            self.durations.append(params["timestamp"] - self._requested)
            self._requested = None

    def listen(self, cdp) -> None:
        """Subscribe to a CDP session's WebSocket frame events; the caller sends `Network.enable` on it."""
        cdp.on("Network.webSocketFrameSent", self.sent)
        cdp.on("Network.webSocketFrameReceived", self.received)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process `pid` has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
