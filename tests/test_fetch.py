"""Fetch: mirror copies, and real HTTP against a local server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from indicators.errors import FetchError
from indicators.pipeline.fetch import Downloader, FetchPolicy, fetch_all, read_manifest
from indicators.pipeline.sources import Download, Source

CSV_BODY = b"Indicator ID,Area Code,Value\n90244,E92000001,5.0\n"


class Handler(BaseHTTPRequestHandler):
    """Routes: /ok.csv, /flaky.csv (503 twice then ok), /down.csv (always 500), /stall.csv (sleeps past
    the timeout), /short.csv (Content-Length larger than the body), /html.csv (an HTML error page),
    /missing.csv (404)."""

    hits: dict[str, int] = {}

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        Handler.hits[path] = Handler.hits.get(path, 0) + 1
        if path == "/ok.csv" or (path == "/flaky.csv" and Handler.hits[path] > 2):
            self._send(200, CSV_BODY)
        elif path == "/flaky.csv" or path == "/down.csv":
            self._send(503 if path == "/flaky.csv" else 500, b"busy")
        elif path == "/stall.csv":
            time.sleep(1.5)
            self._send(200, CSV_BODY)
        elif path == "/short.csv":
            self.send_response(200)
            self.send_header("Content-Length", str(len(CSV_BODY) + 100))
            self.end_headers()
            self.wfile.write(CSV_BODY)
            self.wfile.flush()
            self.connection.shutdown(1)
        elif path == "/html.csv":
            self._send(200, b"<!DOCTYPE html><html><body>Service unavailable</body></html>")
        elif path == "/areas.json":
            self._send(200, json.dumps([{"Id": 502, "Name": "Upper tier"}]).encode())
        else:
            self._send(404, b"not found")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def reset_hits():
    Handler.hits.clear()


def downloader(**policy) -> Downloader:
    settings = dict(attempts=3, backoff=0.01, read_timeout=0.5, connect_timeout=0.5, sleep=lambda s: None)
    settings.update(policy)
    return Downloader(FetchPolicy(**settings))


def source(files: list[Download], source_id: str = "demo") -> Source:
    return Source(id=source_id, title="Demo", publisher="Test", licence="OGL", licence_url="", attribution="",
                  landing_page="", parser="indicators.pipeline.sources", file_patterns=("*.csv",), files=tuple(files))


def test_download_writes_file_and_manifest(server, tmp_path):
    report = fetch_all(tmp_path, sources=[source([Download("a.csv", f"{server}/ok.csv")])],
                       downloader=downloader(), progress=False)
    assert report.fetched == {"demo": ["a.csv"]}
    assert (tmp_path / "demo" / "a.csv").read_bytes() == CSV_BODY
    entry = read_manifest(tmp_path / "demo")["files"]["a.csv"]
    assert entry["sha256"] == hashlib.sha256(CSV_BODY).hexdigest()
    assert entry["size"] == len(CSV_BODY)
    assert entry["url"] == f"{server}/ok.csv"
    assert entry["retrieved_at"].endswith("+00:00")


def test_transient_errors_are_retried(server, tmp_path):
    fetch_all(tmp_path, sources=[source([Download("a.csv", f"{server}/flaky.csv")])],
              downloader=downloader(attempts=3), progress=False)
    assert Handler.hits["/flaky.csv"] == 3
    assert (tmp_path / "demo" / "a.csv").read_bytes() == CSV_BODY


def test_backoff_doubles_between_attempts(server, tmp_path):
    waits: list[float] = []
    with pytest.raises(FetchError):
        downloader(attempts=4, backoff=0.5, sleep=waits.append).download(f"{server}/down.csv", tmp_path / "x.csv")
    assert waits == [0.5, 1.0, 2.0]
    assert Handler.hits["/down.csv"] == 4


@pytest.mark.parametrize("route, words", [
    ("/down.csv", "failed after 3 attempts"),
    ("/stall.csv", "timed out 3 times"),
    ("/short.csv", "cut short"),
    ("/html.csv", "HTML page"),
    ("/missing.csv", "HTTP 404"),
])
def test_failures_leave_the_cache_intact(server, tmp_path, route, words):
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"previous good file")
    (folder / "manifest.json").write_text('{"files": {"a.csv": {"sha256": "old"}}}')
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    report = fetch_all(tmp_path, sources=[source([Download("a.csv", f"{server}{route}")])],
                       downloader=downloader(), progress=False)
    assert words in report.failed["demo"]
    assert "left as it was" in report.failed["demo"]
    assert report.nothing_usable
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging")]


def test_one_failed_file_keeps_the_whole_source_unchanged(server, tmp_path):
    files = [Download("a.csv", f"{server}/ok.csv"), Download("b.csv", f"{server}/down.csv")]
    report = fetch_all(tmp_path, sources=[source(files)], downloader=downloader(), progress=False)
    assert list(report.failed) == ["demo"]
    assert not (tmp_path / "demo" / "a.csv").exists()


def test_optional_file_failure_is_a_warning(server, tmp_path):
    files = [Download("a.csv", f"{server}/ok.csv"), Download("b.csv", f"{server}/missing.csv", optional=True)]
    report = fetch_all(tmp_path, sources=[source(files)], downloader=downloader(), progress=False)
    assert report.fetched == {"demo": ["a.csv"]}
    assert "b.csv" in report.warnings[0]


def test_offline_message_says_how_to_get_the_data(tmp_path):
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    report = fetch_all(tmp_path, sources=[source([Download("a.csv", "http://127.0.0.1:9/a.csv")])],
                       downloader=downloader(), progress=False)
    assert "--mirror" in report.failed["demo"]
    assert "offline" in report.failed["demo"]


def test_get_json(server):
    assert downloader().get_json(f"{server}/areas.json") == [{"Id": 502, "Name": "Upper tier"}]


def test_mirror_copies_matching_files_with_provenance(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "demo").mkdir(parents=True)
    (mirror / "demo" / "x.csv").write_bytes(CSV_BODY)
    (mirror / "demo" / "notes.txt").write_text("not a data file")
    raw = tmp_path / "raw"
    declared = source([Download("x.csv", "https://example.org/x.csv")])
    report = fetch_all(raw, mirror=mirror, sources=[declared], progress=False)
    assert report.fetched == {"demo": ["x.csv"]}
    assert sorted(p.name for p in (raw / "demo").iterdir()) == ["manifest.json", "x.csv"]
    entry = read_manifest(raw / "demo")["files"]["x.csv"]
    assert entry["url"] == "https://example.org/x.csv"
    assert entry["origin"].startswith("mirror:")


def test_missing_mirror_is_a_clear_error(tmp_path):
    with pytest.raises(FetchError, match="does not exist"):
        fetch_all(tmp_path, mirror=tmp_path / "nope", sources=[source([])], progress=False)


def test_shared_mirror_layout_matches_declared_sources(shared_raw, tmp_path):
    from indicators.pipeline.sources import all_sources

    report = fetch_all(tmp_path, mirror=shared_raw, sources=all_sources(), progress=False)
    assert {"ons_deaths", "boundaries", "lookups"} <= set(report.fetched)
    for source_id, names in report.fetched.items():
        for name in names:
            assert (tmp_path / source_id / name).read_bytes() == (shared_raw / source_id / name).read_bytes()
