"""`indicators serve` as a service manager runs it: stopped by a signal, and serving while the warehouse is rebuilt in place.

Each test starts the real command (`python -m indicators serve`, which runs Streamlit as a child) on a
free loopback port against a warehouse the test builds itself from the small fixture files.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import free_port
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
