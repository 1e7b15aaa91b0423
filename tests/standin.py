"""A local stand-in for an official publisher's web server, for tests; standard library only.

It behaves like the real publishers do on a bad day as well as a good one: bodies gzip-encoded when the
client accepts it (Content-Length then counts the compressed bytes), chunked transfer, redirects, a slow
first byte, a 503 before success, an HTML error page sent with status 200, and conditional requests
(ETag / If-None-Match and Last-Modified / If-Modified-Since answered with 304). The whole server can be
switched to answering 500 to everything ("down") or to never answering ("stall") and back, so one test can
watch a publisher fail and recover. Point the code under test at it with INDICATORS_URL_<SOURCE_ID>
(`standin.url`), or ask it for the address of a route (`standin.url_of`).

    with StandIn() as ons:
        ons.route("/file?uri=/a/b.xlsx", Path("b.xlsx").read_bytes(), gzip=True)
        ons.route("/api/areas", lambda seen: Reply(json.dumps(...).encode(), "application/json"))
        ons.mode = "down"           # every request: 500
        ons.requests                # what it was asked, and what it answered

A route's path may carry a query string: it then matches that exact set of parameters (order and
percent-encoding aside); a route without one matches any query. A route may be a Reply, bytes, a file
path, or a function of the request (a `Seen`) returning a Reply or None (404).
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# When every file was last modified, unless a route says otherwise (HTTP dates have whole seconds).
LAST_MODIFIED = datetime(2024, 1, 15, 9, 30, tzinfo=timezone.utc)
HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>"
                   b"<body><h1>Sorry, this service is unavailable</h1><p>Please try again later.</p></body></html>\n")
MODES = ("normal", "down", "stall")


@dataclass
class Reply:
    """One answer: the body and how to send it."""

    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    gzip: bool | None = None          # None: when the request accepts gzip; True: always; False: never
    chunked: bool = False             # Transfer-Encoding: chunked instead of Content-Length
    chunk_size: int = 16 * 1024
    redirect: str | None = None       # answer 302 with this Location (absolute, or a path on this server)
    first_byte_delay: float = 0.0     # seconds before the status line
    fail_first: int = 0               # answer 503 this many times before the real answer
    html_error: bool = False          # answer 200 with an HTML error page instead of the body
    etag: bool = True                 # send an ETag and honour If-None-Match
    last_modified: datetime | None = LAST_MODIFIED  # send Last-Modified and honour If-Modified-Since
    precompressed: bool = False       # body is already gzip: send it as is with Content-Encoding: gzip
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """A request the stand-in received, and what it answered."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    sent: dict[str, str] = field(default_factory=dict)  # the response headers
    body_bytes: int = 0               # bytes of body sent (after compression)

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


Route = Reply | bytes | Path | Callable[[Seen], "Reply | None"]


def _query(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))


class StandIn:
    """A threaded HTTP/1.1 server on 127.0.0.1 with routes; use as a context manager or start()/stop()."""

    def __init__(self, routes: Mapping[str, Route] | None = None, *, name: str = "publisher",
                 stall_seconds: float = 30.0) -> None:
        self.name = name
        self.mode = "normal"
        self.stall_seconds = stall_seconds
        self.requests: list[Seen] = []
        self._routes: dict[tuple[str, tuple | None], Route] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for target, route in (routes or {}).items():
            self.route(target, route)

    # ---------------------------------------------------------------- set-up

    def route(self, target: str, route: Route, **reply: object) -> None:
        """Answer `target` (a path, optionally with a query) with `route`; keyword arguments are Reply fields."""
        parts = urlsplit(target)
        key = (parts.path, tuple(sorted(_query(parts.query).items())) if parts.query else None)
        if reply:
            if isinstance(route, Path):
                route = route.read_bytes()
            if not isinstance(route, bytes):
                raise TypeError("Reply options go with bytes or a file path")
            route = Reply(route, **reply)
        if isinstance(route, Reply) and route.gzip is not False and not route.precompressed:
            _gzip(route.body)  # now, not while a client waits for its first byte
        self._routes[key] = route

    def start(self) -> StandIn:
        stand_in = self

        class Handler(_Handler):
            owner = stand_in

        self._stop.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"standin-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- addresses and records

    @property
    def url(self) -> str:
        """The base address, e.g. http://127.0.0.1:40123 (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"stand-in {self.name} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_of(self, target: str) -> str:
        return self.url + target

    def hits(self, path: str | None = None) -> list[Seen]:
        """The requests received (for one path when given), oldest first."""
        with self._lock:
            return [s for s in self.requests if path is None or s.path == path]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()

    # ---------------------------------------------------------------- answering

    def _find(self, seen: Seen) -> Reply | None:
        route = self._routes.get((seen.path, tuple(sorted(seen.query.items()))))
        if route is None:
            route = self._routes.get((seen.path, None))
        if route is None:
            return None
        if isinstance(route, Reply):
            return route
        if isinstance(route, bytes):
            return Reply(route)
        if isinstance(route, Path):
            return Reply(route.read_bytes())
        return route(seen)

    def _count_failure(self, target: str) -> int:
        with self._lock:
            self._failures[target] = self._failures.get(target, 0) + 1
            return self._failures[target]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: StandIn

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(send_body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        owner = self.owner
        parts = urlsplit(self.path)
        seen = Seen(self.command, self.path, parts.path, _query(parts.query),
                    {k.lower(): v for k, v in self.headers.items()})
        with owner._lock:
            owner.requests.append(seen)
        if owner.mode == "stall":
            owner._stop.wait(owner.stall_seconds)
            self.close_connection = True
            return
        if owner.mode == "down":
            return self._send(seen, 500, b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                              {"Content-Type": "text/html"}, send_body)
        reply = owner._find(seen)
        if reply is None:
            return self._send(seen, 404, b"Not found\n", {"Content-Type": "text/plain"}, send_body)
        if reply.first_byte_delay:
            if owner._stop.wait(reply.first_byte_delay):
                self.close_connection = True
                return
        if reply.fail_first and owner._count_failure(self.path) <= reply.fail_first:
            return self._send(seen, 503, b"Service temporarily unavailable\n",
                              {"Content-Type": "text/plain", "Retry-After": "1"}, send_body)
        if reply.redirect:
            return self._send(seen, 302, b"", {"Location": reply.redirect}, send_body)
        if reply.html_error:
            return self._send(seen, 200, HTML_ERROR_PAGE, {"Content-Type": "text/html; charset=utf-8"}, send_body)
        headers = {"Content-Type": reply.content_type, **reply.headers}
        encoded = reply.precompressed or reply.gzip is True or (
            reply.gzip is None and "gzip" in seen.headers.get("accept-encoding", ""))
        validators = {}
        if reply.etag:
            digest = hashlib.sha256(reply.body).hexdigest()[:20]
            validators["ETag"] = f'W/"{digest}"' if encoded else f'"{digest}"'
        if reply.last_modified is not None:
            validators["Last-Modified"] = format_datetime(reply.last_modified, usegmt=True)
        headers.update(validators)
        if reply.status == 200 and _not_modified(seen.headers, validators, reply):
            return self._send(seen, 304, b"", validators, send_body)
        body = reply.body
        if encoded:
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
            if not reply.precompressed:
                body = _gzip(reply.body)
        self._send(seen, reply.status, body, headers, send_body, chunked=reply.chunked,
                   chunk_size=reply.chunk_size)

    def _send(self, seen: Seen, status: int, body: bytes, headers: Mapping[str, str], send_body: bool,
              chunked: bool = False, chunk_size: int = 16 * 1024) -> None:
        seen.status = status
        seen.sent = dict(headers)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status == 304:
                self.end_headers()
                return
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not send_body:
                return
            if chunked:
                for start in range(0, len(body), chunk_size):
                    piece = body[start:start + chunk_size]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                    time.sleep(0)  # let the client read between chunks
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(body)
            seen.body_bytes = len(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts, size limits)
            self.close_connection = True


_GZIPPED: dict[bytes, bytes] = {}


def _gzip(body: bytes) -> bytes:
    """gzip-encode once per body (compressing a few MB on every request would look like a slow server)."""
    key = hashlib.sha256(body).digest()
    if key not in _GZIPPED:
        _GZIPPED[key] = gzip_module.compress(body, compresslevel=6, mtime=0)
    return _GZIPPED[key]


def _not_modified(request: Mapping[str, str], validators: Mapping[str, str], reply: Reply) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present (weak comparison); else If-Modified-Since."""
    if "if-none-match" in request:
        if "ETag" not in validators:
            return False
        ours = validators["ETag"].removeprefix("W/")
        theirs = [tag.strip().removeprefix("W/") for tag in request["if-none-match"].split(",")]
        return "*" in theirs or ours in theirs
    if "if-modified-since" in request and reply.last_modified is not None:
        try:
            since = parsedate_to_datetime(request["if-modified-since"])
        except (TypeError, ValueError):
            return False
        return reply.last_modified <= since
    return False
