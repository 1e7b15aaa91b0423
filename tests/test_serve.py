"""`indicators serve` as a service manager runs it: stopped by a signal, and serving while the warehouse is rebuilt in place.

Each test starts the real command (`python -m indicators serve`, which runs Streamlit as a child) on a
free loopback port against a warehouse the test builds itself from the small fixture files.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SETTLED, free_port
from conftest import REPO
from support import make_raw

from indicators.cli import main


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _start_serve(db: Path, port: int, log: Path) -> subprocess.Popen:
    """`indicators serve` in its own session (so a signal reaches only the process it is sent to)."""
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "indicators", "serve", "--db", str(db), "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                                   env=dict(os.environ, INDICATORS_MIRROR=""))
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"serve did not start: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    raw = make_raw(root / "raw")
    db = root / "warehouse.duckdb"
    assert main(["build", "--raw", str(raw), "--db", str(db)]) == 0
    return raw, db


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_streamlit_and_frees_the_port(signum, small_db, tmp_path):
    _, db = small_db
    port = free_port()
    serve = _start_serve(db, port, tmp_path / "serve.log")
    try:
        children = _children(serve.pid)
        assert children, "serve runs Streamlit as a child process"
        assert _listening(port)
        os.kill(serve.pid, signum)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (_listening(port) or any(_alive(c) for c in children)):
            time.sleep(0.1)
        assert not _listening(port), f"port {port} still listening 5 s after {signum.name}"
        assert not any(_alive(c) for c in children), "the Streamlit child outlived serve's stop"
        assert serve.wait(timeout=5) == 0
    finally:
        _kill_group(serve)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever is left of the process group a test started (serve and its Streamlit child)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _build_id(raw: Path, db: Path) -> str:
    """`indicators build` as a separate process, as an operator runs it; the new build id it reports."""
    done = subprocess.run([sys.executable, "-m", "indicators", "build", "--raw", str(raw), "--db", str(db)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    return re.search(r"\((\d{8}-[0-9a-f]{10})\)", done.stdout).group(1)


def _footer_build_id(context, base: str) -> str:
    page = context.new_page()
    page.goto(base + "/", wait_until="domcontentloaded")
    page.wait_for_function(SETTLED, timeout=60_000)
    footer = page.get_by_text("Data build").last.inner_text()
    return re.search(r"build id (\S+)", footer).group(1)


@pytest.mark.browser
def test_a_rebuild_in_place_reaches_new_sessions_without_a_restart(tmp_path):
    """Serve a warehouse, rebuild it in place with the CLI while serving (the raw cache gained a file), and a
    new browser session shows the new build id; the session opened before it shows the new one on reload."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    raw, db = make_raw(tmp_path / "raw"), tmp_path / "warehouse.duckdb"
    first = _build_id(raw, db)
    serve = _start_serve(db, free_port(), tmp_path / "serve.log")
    base = f"http://127.0.0.1:{serve.args[serve.args.index('--port') + 1]}"
    try:
        with sync_api.sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                before = chromium.new_context()
                assert _footer_build_id(before, base) == first
                make_raw(raw, fingertips=True)
                second = _build_id(raw, db)
                assert second != first
                assert _footer_build_id(chromium.new_context(), base) == second
                assert _footer_build_id(before, base) == second
            finally:
                chromium.close()
    finally:
        _kill_group(serve)
