"""Fetch every declared source into the raw cache, from the publishers or from a local mirror.

Layout: <raw>/<source_id>/<file> plus <raw>/<source_id>/manifest.json (URL, retrieval time, size,
sha256 and the publisher's ETag / Last-Modified per file), and <raw>/fetch_status.json: the last
attempt per source (fetched, unchanged, failed or skipped; for a failure the file, URL, the
publisher's answer or the network error, and the time), which the build copies into the warehouse.

Sources are fetched independently: one that fails is recorded and the others go on. A source's files
are first downloaded into a private staging folder and moved into place only when every required file
arrived, so a failed fetch leaves that source's previous files untouched. Requests are conditional
where the publisher gave an ETag or Last-Modified, so an unchanged file is not downloaded again.
Depends on httpx, tqdm, indicators.config and indicators.pipeline.sources; never on Streamlit.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TextIO
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

from indicators import config
from indicators.config import USER_AGENT
from indicators.errors import FetchError, IndicatorsError, InputError
from indicators.pipeline.sources import MANIFEST, Download, Source, all_sources, fetch_url, unsafe_file_name

STATUS_FILE = "fetch_status.json"
HTML_SIGNATURES = (b"<!doctype html", b"<html", b"<?xml version=\"1.0\"?><html")
FETCHED, UNCHANGED, FAILED, SKIPPED = "fetched", "unchanged", "failed", "skipped"
_REDIRECTS = (301, 302, 303, 307, 308)
_TAGS = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass
class FetchPolicy:
    """How hard to try: per-request timeouts (seconds), attempts, backoff, and the largest file accepted."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    attempts: int = 4
    backoff: float = 1.5  # seconds before the 2nd attempt; doubles each time
    max_bytes: int = field(default_factory=config.max_download_bytes)  # per file, after decompression
    max_redirects: int = 10
    give_up_after: int = 3  # optional files failing in a row for a network reason: the rest are skipped
    sleep: Callable[[float], None] = time.sleep


# The policy a Downloader uses when given none (tests put a short one here for whole-command runs).
DEFAULT_POLICY: FetchPolicy | None = None


# --------------------------------------------------------------------------- errors

class DownloadFailed(FetchError):
    """One address could not be fetched: `url`, and `answer`, the publisher's answer or the network error."""

    def __init__(self, message: str, *, url: str, answer: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.answer = answer
        self.unreachable = unreachable  # the host did not answer at all (timeouts, refused connections)


class LocalWriteError(FetchError):
    """The raw cache cannot be written (full disk, no permission, not a folder): the whole fetch stops."""

    def __init__(self, path: Path | str, exc: OSError) -> None:
        condition = os.strerror(exc.errno) if exc.errno else str(exc)
        hint = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
                errno.EACCES: "check the folder's permissions or choose another with --raw",
                errno.EPERM: "check the folder's permissions or choose another with --raw",
                errno.EROFS: "choose a writable folder with --raw",
                errno.ENOTDIR: "choose a folder with --raw"}.get(exc.errno, "check the folder")
        super().__init__(f"cannot write {path}: {condition}. The raw cache was left as it was; {hint} "
                         "and fetch again.")
        self.path = str(path)
        self.os_error = exc


class _Retryable(Exception):
    """A transient failure worth another attempt; `answer` says what the publisher did."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


# --------------------------------------------------------------------------- small helpers

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def looks_like_html(path: Path) -> bool:
    """True when a file that should be data starts like an HTML page (an error page saved as data)."""
    with path.open("rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(head.startswith(sig) for sig in HTML_SIGNATURES)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB" if n >= 1000 else f"{n} B"


def parse_duration(text: str) -> timedelta:
    """'90m', '12h', '7d', '2w' (also 's' for seconds) as a timedelta; ValueError otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration (expected a number and a unit: 30m, 12h, 7d or 2w)")
    return timedelta(**{_DURATION_UNITS[m[2].lower()]: float(m[1])})


def _answer_of(response: httpx.Response) -> str:
    """'HTTP 503 Service Unavailable: <the first words of the body>' (tags removed, at most 160 characters)."""
    head = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= 4096:
                break
    except (httpx.HTTPError, httpx.StreamError):
        pass
    words = " ".join(_TAGS.sub(" ", body[:4096].decode("utf-8", "replace")).split())
    if words.lower().replace(str(response.status_code), "").strip() in head.lower():
        words = ""  # the body only repeats the status line
    return f"{head}: {words[:160]}" if words else head


# --------------------------------------------------------------------------- HTTP

@dataclass
class Outcome:
    """What one download did: 'fetched' (bytes written) or 'unchanged' (the publisher answered 304)."""

    status: str
    bytes: int = 0
    etag: str = ""
    last_modified: str = ""


class Downloader:
    """A retrying HTTP client: bounded attempts with exponential backoff, timeouts, checked redirects,
    conditional requests, a size limit, and no partial files."""

    def __init__(self, policy: FetchPolicy | None = None, client: httpx.Client | None = None) -> None:
        self.policy = policy or DEFAULT_POLICY or FetchPolicy()
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            headers={"User-Agent": USER_AGENT},
        )
        self.unreachable: dict[str, str] = {}  # host -> why it did not answer earlier in this run

    def close(self) -> None:
        self.client.close()

    def _open(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """GET `url` as a stream, following at most max_redirects redirects, only to http(s) addresses."""
        current = url
        for _ in range(self.policy.max_redirects + 1):
            try:
                request = self.client.build_request("GET", current, headers=headers)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise DownloadFailed(f"{url}: {current} is not a usable address ({exc})", url=url,
                                     answer=f"not a usable address: {current}") from None
            if request.url.scheme not in ("http", "https"):
                raise DownloadFailed(f"{url}: {current} is not an http(s) address: refused", url=url,
                                     answer=f"not an http(s) address: {current}")
            response = self.client.send(request, stream=True, follow_redirects=False)
            if response.status_code not in _REDIRECTS or "Location" not in response.headers:
                return response
            location = response.headers["Location"]
            response.close()
            try:
                target = response.url.join(location)
            except httpx.InvalidURL as exc:
                raise DownloadFailed(f"{url}: redirected to {location!r}, which is not an address ({exc})",
                                     url=url, answer=f"HTTP {response.status_code} to {location!r}") from None
            if target.scheme not in ("http", "https"):
                raise DownloadFailed(f"{url}: the server redirected to {location}, which is not an http(s) "
                                     "address: refused", url=url,
                                     answer=f"HTTP {response.status_code} redirect to {location}")
            current = str(target)
        raise DownloadFailed(f"{url}: more than {self.policy.max_redirects} redirects (the last to {current})",
                             url=url, answer=f"more than {self.policy.max_redirects} redirects")

    def _retrying(self, url: str, action: Callable[[], object]) -> object:
        host = urlsplit(url).netloc
        if host in self.unreachable:
            raise DownloadFailed(f"{url}: not tried, {host} did not answer earlier in this run "
                                 f"({self.unreachable[host]})", url=url, answer=self.unreachable[host],
                                 unreachable=True)
        last: Exception | None = None
        delay = self.policy.backoff
        for attempt in range(1, self.policy.attempts + 1):
            try:
                return action()
            except _Retryable as exc:
                last = exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                last = exc
            if attempt < self.policy.attempts:
                self.policy.sleep(delay)
                delay *= 2
        message, answer, unreachable = _describe_failure(url, last, self.policy.attempts)
        if unreachable:
            self.unreachable[host] = answer
        raise DownloadFailed(message, url=url, answer=answer, unreachable=unreachable)

    def _check(self, url: str, response: httpx.Response) -> None:
        code = response.status_code
        if code >= 500 or code == 429:
            raise _Retryable(_answer_of(response))
        if code >= 400:
            raise DownloadFailed(f"{url}: HTTP {code} (not retried: the address is wrong or the file was "
                                 "withdrawn)", url=url, answer=_answer_of(response))
        if code != 200:
            raise DownloadFailed(f"{url}: HTTP {code} where 200 was expected", url=url, answer=_answer_of(response))

    def get_json(self, url: str) -> object:
        def action() -> object:
            response = self._open(url, {})
            try:
                self._check(url, response)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.policy.max_bytes:
                        raise DownloadFailed(_too_large(url, self.policy.max_bytes), url=url,
                                             answer="larger than the size limit")
            finally:
                response.close()
            try:
                return json.loads(bytes(body).decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError):
                start = bytes(body[:60]).decode("utf-8", "replace")
                raise DownloadFailed(f"{url}: the response is not JSON (starts {start!r})", url=url,
                                     answer=f"HTTP 200, not JSON: {start!r}") from None
        return self._retrying(url, action)

    def download(self, url: str, dest: Path, *, validators: dict[str, str] | None = None,
                 on_bytes: Callable[[int, int | None], None] | None = None,
                 expected: int | None = None) -> Outcome:
        """Stream `url` into `dest` (a temp file beside it first, renamed only when complete and plausible).

        With `validators` (the ETag and Last-Modified of the copy already held) the request is conditional
        and a 304 answer returns 'unchanged' without writing. `on_bytes(received, total)` reports progress;
        `expected` is the size to report while the publisher does not say.
        """
        headers = {}
        if validators and validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators and validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        limit = self.policy.max_bytes

        def action() -> Outcome:
            response = self._open(url, headers)
            try:
                if response.status_code == 304 and headers:
                    return Outcome(UNCHANGED, 0, response.headers.get("ETag", validators.get("etag", "")),
                                   response.headers.get("Last-Modified", validators.get("last_modified", "")))
                self._check(url, response)
                length = response.headers.get("Content-Length", "")
                wire_total = int(length) if length.isdigit() else None
                identity = response.headers.get("Content-Encoding", "identity").lower() in ("", "identity")
                total = wire_total if identity else expected
                if identity and wire_total is not None and wire_total > limit:
                    raise DownloadFailed(_too_large(url, limit, wire_total), url=url,
                                         answer=f"Content-Length {wire_total}")
                received = _stream_to(response, dest, url, limit, total, wire_total, on_bytes)
                return Outcome(FETCHED, received, response.headers.get("ETag", ""),
                               response.headers.get("Last-Modified", ""))
            finally:
                response.close()
        return self._retrying(url, action)


def _too_large(url: str, limit: int, declared: int | None = None) -> str:
    size = f"declares {_mb(declared)}" if declared is not None else "goes on past it"
    return (f"{url}: refused, the file {size}, over the {_mb(limit)} limit for one file (a wrong or hostile "
            "answer; if the publisher's files really are this large, raise INDICATORS_MAX_DOWNLOAD_MB)")


def _stream_to(response: httpx.Response, dest: Path, url: str, limit: int, total: int | None,
               wire_total: int | None, on_bytes: Callable[[int, int | None], None] | None) -> int:
    """Write the decoded body to `dest` through a temp file, renamed only when complete and not an HTML
    page; stop at `limit` bytes. Returns the size.

    Completeness is checked on the bytes received from the network: Content-Length (`wire_total`) counts
    those, compressed when Content-Encoding says so, not the decoded bytes written."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise LocalWriteError(dest.parent, exc) from None
    tmp = Path(tmp_name)
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes(1 << 16):
                received += len(chunk)
                if received > limit:
                    raise DownloadFailed(_too_large(url, limit), url=url,
                                         answer=f"more than {limit} bytes after decompression")
                out.write(chunk)
                if on_bytes:
                    on_bytes(received, total)
            out.flush()
            os.fsync(out.fileno())
        if wire_total is not None and response.num_bytes_downloaded != wire_total:
            raise _Retryable(f"body cut short ({response.num_bytes_downloaded} of {wire_total} bytes)")
        if looks_like_html(tmp) and not dest.name.lower().endswith((".html", ".htm")):
            raise DownloadFailed(f"{url}: the server sent an HTML page where {dest.name} (data) was expected; "
                                 "the publisher may have moved the file", url=url, answer="HTTP 200 with an HTML page")
        os.replace(tmp, dest)
    except OSError as exc:  # only the file system raises OSError here (httpx raises its own errors)
        raise LocalWriteError(tmp, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
    return received


def _describe_failure(url: str, exc: Exception | None, attempts: int) -> tuple[str, str, bool]:
    """(one-line message, the answer or error, whether the host did not answer at all)."""
    host = urlsplit(url).netloc or url
    if isinstance(exc, httpx.ConnectError) or (exc and "Name or service not known" in str(exc)):
        answer = f"{type(exc).__name__}: {exc}"
        return (f"could not reach {host} after {attempts} attempts ({type(exc).__name__}). "
                "This machine looks offline. Fetch the files on a machine that is online, or "
                "point at a local copy with --mirror DIR (or INDICATORS_MIRROR=DIR), a folder laid "
                "out as <source_id>/<file>.", answer, True)
    if isinstance(exc, httpx.TimeoutException):
        return (f"{url}: timed out {attempts} times; the publisher's server is slow or down, try again later",
                f"no answer within the time limit ({type(exc).__name__})", True)
    if isinstance(exc, httpx.RemoteProtocolError) or (isinstance(exc, _Retryable) and "cut short" in str(exc)):
        return (f"{url}: the download was cut short {attempts} times ({exc}); the connection is unreliable, "
                "try again later", f"cut short: {exc}", False)
    if isinstance(exc, httpx.DecodingError):
        return (f"{url}: the compressed answer could not be decoded {attempts} times ({exc})",
                f"undecodable body: {exc}", False)
    answer = getattr(exc, "answer", None) or f"{type(exc).__name__}: {exc}"
    return f"{url}: failed after {attempts} attempts: {answer}", answer, isinstance(exc, httpx.NetworkError)


# --------------------------------------------------------------------------- manifests and status

def read_manifest(folder: Path) -> dict:
    """A source folder's manifest.json ({"files": {name: entry}}); InputError naming it when it is corrupt."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"files": {}}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot be read ({exc})", expected="the manifest `indicators fetch` writes") from None
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise InputError(path, f"is not valid JSON ({exc})",
                         expected=f"the manifest `indicators fetch` writes; run `indicators fetch --source "
                                  f"{folder.name}` to replace it") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict) or \
            not all(isinstance(e, dict) for e in manifest.get("files", {}).values()):
        raise InputError(path, "does not have the manifest's shape",
                         expected='{"files": {"<file>": {"url": ..., "sha256": ...}}}; run `indicators fetch '
                                  f'--source {folder.name}` to replace it')
    manifest.setdefault("files", {})
    return manifest


def read_fetch_status(raw_dir: Path) -> dict[str, dict]:
    """The last fetch attempt per source id from <raw>/fetch_status.json ({} when none was recorded).

    Raises InputError naming the file when it is not the JSON the fetch writes."""
    path = raw_dir / STATUS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"is not readable JSON ({exc})", expected="the record `indicators fetch` writes; "
                         "delete it and fetch again") from None
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, dict) or not all(isinstance(v, dict) for v in sources.values()):
        raise InputError(path, "does not have the shape the fetch writes", expected='{"sources": {...}}')
    return sources


def _write_json_atomic(path: Path, payload: dict) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise LocalWriteError(path.parent, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise LocalWriteError(path, exc) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _record_status(raw_dir: Path, result: SourceResult, report: FetchReport) -> None:
    """Merge one source's result into <raw>/fetch_status.json (other sources' entries are kept)."""
    try:
        status = read_fetch_status(raw_dir)
    except InputError as exc:
        report.warnings.append(f"{exc}; it was replaced")
        status = {}
    status[result.source_id] = result.record()
    _write_json_atomic(raw_dir / STATUS_FILE, {"sources": status})


def _entry(path: Path, url: str, origin: str, fetched_from: str = "", outcome: Outcome | None = None) -> dict:
    now = _now().isoformat()
    entry = {"url": url, "origin": origin, "retrieved_at": now, "checked_at": now,
             "size": path.stat().st_size, "sha256": sha256_file(path)}
    if fetched_from and fetched_from != url:
        entry["fetched_from"] = fetched_from
    if outcome is not None:
        entry.update({k: v for k, v in (("etag", outcome.etag), ("last_modified", outcome.last_modified)) if v})
    return entry


def _validators(path: Path, entry: dict | None, url: str) -> dict[str, str] | None:
    """The ETag / Last-Modified to send for the file held at `path`, when it is the copy its manifest entry
    describes (same official URL, same bytes); None otherwise, so the file is fetched in full."""
    if not entry or entry.get("url") != url or not (entry.get("etag") or entry.get("last_modified")):
        return None
    try:
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return None
    except OSError:
        return None
    return {"etag": str(entry.get("etag") or ""), "last_modified": str(entry.get("last_modified") or "")}


def _install(staging: Path, folder: Path, entries: dict[str, dict], moved: list[str], manifest: dict) -> None:
    """Move the staged files into `folder` and write the merged manifest; each move is an atomic rename."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in moved:
            os.replace(staging / name, folder / name)
    except OSError as exc:
        raise LocalWriteError(folder, exc) from None
    manifest["files"].update(entries)
    _write_json_atomic(folder / MANIFEST, manifest)


def _last_checked(folder: Path) -> datetime | None:
    """When every file of a source folder was last confirmed current (the oldest), or None."""
    try:
        files = read_manifest(folder)["files"]
    except InputError:
        return None
    times = []
    for name, entry in files.items():
        if not (folder / name).is_file():
            continue
        stamps = [entry.get("checked_at"), entry.get("retrieved_at")]
        parsed = [datetime.fromisoformat(s) for s in stamps if isinstance(s, str) and s]
        if parsed:
            times.append(max(parsed))
    return min(times) if times else None


# --------------------------------------------------------------------------- results

@dataclass
class FileResult:
    name: str
    url: str
    status: str  # fetched, unchanged, failed, skipped
    bytes: int = 0  # downloaded in this run
    size: int = 0  # in the raw cache afterwards
    error: str = ""
    index: int = 0  # its place in the source's list, from 1


@dataclass
class SourceResult:
    """One source's fetch: its status, files, and for a failure what failed, where and how."""

    source_id: str
    status: str = SKIPPED
    files: list[FileResult] = field(default_factory=list)
    reason: str = ""  # skipped: why; failed: the one-line error
    file: str = ""  # failed: the file (or "the file list")
    url: str = ""
    answer: str = ""  # failed: the publisher's answer or the network error
    attempted_at: str = ""
    finished_at: str = ""
    origin: str = "network"

    @property
    def downloaded(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def held(self) -> list[FileResult]:
        """The files fetched or confirmed unchanged."""
        return [f for f in self.files if f.status in (FETCHED, UNCHANGED)]

    def record(self) -> dict:
        entry = {"status": self.status, "attempted_at": self.attempted_at, "finished_at": self.finished_at,
                 "origin": self.origin, "files": len(self.held), "bytes": self.downloaded}
        if self.status == FAILED:
            entry.update(error=self.reason, file=self.file, url=self.url, answer=self.answer)
        elif self.status == SKIPPED:
            entry["reason"] = self.reason
        return entry


@dataclass
class FetchReport:
    results: dict[str, SourceResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def _by_status(self, status: str) -> dict[str, SourceResult]:
        return {k: r for k, r in self.results.items() if r.status == status}

    @property
    def fetched(self) -> dict[str, list[str]]:
        """Sources with at least one new file: the names now held."""
        return {k: sorted(f.name for f in r.held) for k, r in self._by_status(FETCHED).items()}

    @property
    def unchanged(self) -> dict[str, list[str]]:
        return {k: sorted(f.name for f in r.held) for k, r in self._by_status(UNCHANGED).items()}

    @property
    def failed(self) -> dict[str, str]:
        return {k: r.reason for k, r in self._by_status(FAILED).items()}

    @property
    def skipped(self) -> dict[str, str]:
        return {k: r.reason for k, r in self._by_status(SKIPPED).items()}

    @property
    def nothing_usable(self) -> bool:
        """Some source was tried and none arrived or was confirmed current."""
        return bool(self.failed) and not (self.fetched or self.unchanged)

    def summary(self) -> str:
        """One line saying what failed (for an error message)."""
        failed = self._by_status(FAILED)
        first = next(iter(failed.values()))
        others = f" (and {len(failed) - 1} more source(s): {', '.join(list(failed)[1:])})" if len(failed) > 1 else ""
        return f"{first.source_id}: {first.reason}{others}"


def retry_command(source_ids: list[str]) -> str:
    return "uv run indicators fetch " + " ".join(f"--source {s}" for s in source_ids)


def format_report(report: FetchReport) -> str:
    """The end-of-run table: every source with its status, files, bytes downloaded and a note."""
    rows = [("source", "status", "files", "downloaded", "note")]
    for r in report.results.values():
        note = r.reason if r.status in (FAILED, SKIPPED) else ""
        if r.status in (FETCHED, UNCHANGED):
            counts = {s: sum(f.status == s for f in r.files) for s in (FETCHED, UNCHANGED, SKIPPED)}
            note = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        files = str(len(r.held)) if r.status != SKIPPED else "-"
        size = _mb(r.downloaded) if r.status != SKIPPED else "-"
        rows.append((r.source_id, r.status, files, size, note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d:>{widths[3]}}  {e}".rstrip()
             for a, b, c, d, e in rows]
    if report.failed:
        lines.append(f"retry the failed sources with: {retry_command(list(report.failed))}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- progress

class FetchProgress:
    """What a fetch reports as it goes; this base reports nothing (tests record the calls)."""

    def source_started(self, source_id: str, index: int, count: int, expected: int | None) -> None:
        pass

    def file_started(self, source_id: str, name: str, index: int, count: int, expected: int | None) -> None:
        pass

    def file_bytes(self, received: int, total: int | None) -> None:
        pass

    def file_finished(self, result: FileResult) -> None:
        pass

    def source_finished(self, result: SourceResult, left_sources: int, left_bytes: int | None) -> None:
        pass


class TextProgress(FetchProgress):
    """Progress a person can follow: a line per source, each file with its bytes (a bar on a terminal,
    lines in a log), and after each source what is left, in bytes and time where the last fetch says."""

    MANY = 12  # sources with more files than this get a line every 25 files in a log, not one per file

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar: tqdm | None = None
        self.started = time.monotonic()
        self.downloaded = 0
        self.files = 0

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def source_started(self, source_id, index, count, expected) -> None:
        size = f" (about {_mb(expected)} by the last fetch)" if expected else ""
        self._say(f"[{index}/{count}] {source_id}{size}")

    def file_started(self, source_id, name, index, count, expected) -> None:
        self.files = count
        if self.tty:
            self.bar = tqdm(total=expected, unit="B", unit_scale=True, desc=f"  {index}/{count} {name[:40]}",
                            file=self.stream, leave=False)

    def file_bytes(self, received, total) -> None:
        if self.bar is not None:
            if total and self.bar.total != total:
                self.bar.total = total
            self.bar.update(received - self.bar.n)

    def file_finished(self, result) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.downloaded += result.bytes
        if self.tty or self.files <= self.MANY or result.status == FAILED or result.index % 25 == 0:
            size = f" {_mb(result.bytes)}" if result.bytes else ""
            self._say(f"  {result.name}: {result.status}{size}" + (f" ({result.error})" if result.error else ""))

    def source_finished(self, result, left_sources, left_bytes) -> None:
        if result.status == FAILED:
            self._say(f"  {result.source_id} failed: {result.reason}")
        elif result.status == SKIPPED:
            self._say(f"  {result.source_id} skipped: {result.reason}")
        else:
            self._say(f"  {result.source_id}: {len(result.held)} file(s), {_mb(result.downloaded)} downloaded")
        if left_sources:
            left = f"left: {left_sources} source{'s' if left_sources != 1 else ''}"
            elapsed = time.monotonic() - self.started
            if left_bytes:
                left += f", about {_mb(left_bytes)} by the last fetch"
                if self.downloaded > 1_000_000 and elapsed > 1:
                    seconds = left_bytes / (self.downloaded / elapsed)
                    left += f" (about {max(1, round(seconds / 60))} min at this run's speed)" if seconds > 90 \
                        else f" (about {max(1, round(seconds))} s at this run's speed)"
            self._say(left)


# --------------------------------------------------------------------------- one source

def _expected_size(raw_dir: Path, source: Source) -> int | None:
    try:
        files = read_manifest(raw_dir / source.id)["files"]
    except InputError:
        return None
    sizes = [e.get("size") for e in files.values() if isinstance(e.get("size"), int)]
    return sum(sizes) if sizes else None


def _copy_without_widening(src: Path, dest: Path) -> None:
    """Copy bytes; the copy is created with the source's permissions, which the umask can only narrow."""
    mode = stat.S_IMODE(src.stat().st_mode) & 0o666
    with src.open("rb") as fin:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                fout.write(chunk)


def fetch_source_from_mirror(source: Source, mirror: Path, raw_dir: Path) -> SourceResult:
    """Copy a source's files from `mirror/<source_id>/` (same layout as the raw cache).

    A symbolic link that leads outside the mirror is refused (the source fails, nothing is copied)."""
    result = SourceResult(source.id, attempted_at=_now().isoformat(), origin="mirror")
    src_folder = mirror / source.id
    files = source.matching_files(src_folder)
    if not files:
        result.reason = f"no files in {src_folder}"
        return result
    root = mirror.resolve()
    for path in files:
        target = path.resolve()
        if not target.is_relative_to(root):
            result.status, result.file, result.url = FAILED, path.name, str(path)
            result.answer = f"symbolic link to {target}"
            result.reason = (f"{path} leads outside the mirror (to {target}): refused; the raw cache for "
                             f"{source.id} was left as it was")
            return result
    declared = {d.name: d.url for d in source.files}
    folder = raw_dir / source.id
    try:
        manifest = read_manifest(folder)
    except InputError:
        manifest = {"files": {}}
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{source.id}-", dir=raw_dir))
    except OSError as exc:
        raise LocalWriteError(raw_dir, exc) from None
    try:
        entries = {}
        for i, path in enumerate(files, 1):
            try:
                _copy_without_widening(path.resolve(), staging / path.name)
            except OSError as exc:
                if exc.filename and str(exc.filename).startswith(str(staging)):
                    raise LocalWriteError(staging / path.name, exc) from None
                result.status, result.file, result.url = FAILED, path.name, str(path)
                result.answer = os.strerror(exc.errno) if exc.errno else str(exc)
                result.reason = f"{path}: cannot be read ({result.answer}); the raw cache for {source.id} was left as it was"
                return result
            entries[path.name] = _entry(staging / path.name, declared.get(path.name, ""), f"mirror:{path}")
            size = entries[path.name]["size"]
            result.files.append(FileResult(path.name, declared.get(path.name, ""), FETCHED, size, size))
        _install(staging, folder, entries, list(entries), manifest)
        result.status = FETCHED
        return result
    finally:
        _remove_tree(staging)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def plan(source: Source, downloader: Downloader) -> list[Download]:
    """The source's declared files (but those put in by hand) plus those its parser discovers (asking through
    INDICATORS_URL_<ID> when set)."""
    planned = [d for d in source.files if not d.manual]
    module = source.module()
    if hasattr(module, "plan_downloads"):
        planned.extend(module.plan_downloads(lambda url: downloader.get_json(fetch_url(source.id, url))))
    return planned


def fetch_source_from_network(source: Source, raw_dir: Path, downloader: Downloader,
                              report: FetchReport, progress: FetchProgress | None = None) -> SourceResult:
    """Fetch one source into the raw cache: all its required files, or nothing (the folder is left as it was)."""
    progress = progress or FetchProgress()
    result = SourceResult(source.id, attempted_at=_now().isoformat())
    try:
        downloads = plan(source, downloader)
    except IndicatorsError as exc:
        return _failed(result, "the file list", getattr(exc, "url", ""), getattr(exc, "answer", str(exc)),
                       f"{exc}. The raw cache for {source.id} was left as it was.")
    if not downloads:
        result.reason = (f"nothing to download: its files are put in {raw_dir / source.id} by hand (its "
                         "declaration in data/sources/ says where to get them)")
        return result
    for item in downloads:
        problem = unsafe_file_name(item.name)
        if problem:
            return _failed(result, repr(item.name), item.url, "", f"file name {item.name!r} is refused: {problem}")
    folder = raw_dir / source.id
    try:
        manifest = read_manifest(folder)
    except InputError as exc:
        report.warnings.append(f"{exc}; every file of {source.id} is fetched again and the manifest replaced")
        manifest = {"files": {}}
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{source.id}-", dir=raw_dir))
    except OSError as exc:
        raise LocalWriteError(raw_dir, exc) from None
    try:
        entries: dict[str, dict] = {}
        moved: list[str] = []
        failing_in_a_row = 0
        for index, item in enumerate(downloads, 1):
            url = fetch_url(source.id, item.url)
            held = manifest["files"].get(item.name)
            validators = _validators(folder / item.name, held, item.url)
            expected = held.get("size") if isinstance(held, dict) and isinstance(held.get("size"), int) else None
            progress.file_started(source.id, item.name, index, len(downloads), expected)
            file_result = FileResult(item.name, item.url, FAILED, index=index)
            if item.optional and failing_in_a_row >= downloader.policy.give_up_after:
                file_result.status, file_result.error = SKIPPED, "not tried after the previous ones failed"
                result.files.append(file_result)
                progress.file_finished(file_result)
                continue
            try:
                outcome = downloader.download(url, staging / item.name, validators=validators,
                                              on_bytes=progress.file_bytes, expected=expected)
            except LocalWriteError as exc:  # name the file being fetched, not its temporary copy
                raise LocalWriteError(folder / item.name, exc.os_error) from None
            except DownloadFailed as exc:
                file_result.error = str(exc)
                result.files.append(file_result)
                progress.file_finished(file_result)
                if item.optional:
                    report.warnings.append(f"{source.id}/{item.name}: skipped ({exc})")
                    failing_in_a_row += 1 if (exc.unreachable or exc.answer.startswith("HTTP 5")) else 0
                    continue
                return _failed(result, item.name, url, exc.answer,
                               f"{exc}. The raw cache for {source.id} was left as it was.")
            failing_in_a_row = 0
            if outcome.status == UNCHANGED:
                entry = dict(held)
                entry["checked_at"] = _now().isoformat()
                entry.update({k: v for k, v in (("etag", outcome.etag), ("last_modified", outcome.last_modified)) if v})
                entries[item.name] = entry
                file_result.status, file_result.size = UNCHANGED, int(held.get("size") or 0)
            else:
                entries[item.name] = _entry(staging / item.name, item.url, "network", url, outcome)
                moved.append(item.name)
                file_result.status, file_result.bytes = FETCHED, outcome.bytes
                file_result.size = entries[item.name]["size"]
            result.files.append(file_result)
            progress.file_finished(file_result)
        if not result.held:
            return _failed(result, "every file", "", "", "no file could be fetched (every one is optional and "
                           "each failed; see the warnings)")
        _install(staging, folder, entries, moved, manifest)
        result.status = FETCHED if moved else UNCHANGED
        return result
    finally:
        _remove_tree(staging)


def _failed(result: SourceResult, file: str, url: str, answer: str, reason: str) -> SourceResult:
    result.status, result.file, result.url, result.answer, result.reason = FAILED, file, url, answer, reason
    for f in result.files:
        if f.status in (FETCHED, UNCHANGED):
            f.status = SKIPPED  # nothing of a failed source is installed
    return result


# --------------------------------------------------------------------------- every source

def fetch_all(raw_dir: Path, mirror: Path | None = None, sources: list[Source] | None = None,
              downloader: Downloader | None = None, progress: bool | FetchProgress = True, *,
              older_than: timedelta | None = None) -> FetchReport:
    """Fetch every declared source, each on its own: a failure is recorded and the others go on.

    With a mirror, nothing touches the network. With `older_than`, a source whose files were all
    fetched or confirmed unchanged more recently than that (and whose last attempt did not fail) is
    skipped. Raises only for what stops every source: an unusable mirror or raw folder (LocalWriteError).
    """
    sources = sources if sources is not None else all_sources()
    reporter = progress if isinstance(progress, FetchProgress) else (TextProgress() if progress else FetchProgress())
    if mirror is not None and not mirror.is_dir():
        raise FetchError(f"mirror folder {mirror} does not exist (expected a folder laid out as "
                         "<source_id>/<file>, like ../shared/data/raw)")
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalWriteError(raw_dir, exc) from None
    report = FetchReport()
    try:
        previous = read_fetch_status(raw_dir)
    except InputError as exc:
        report.warnings.append(f"{exc}; it will be replaced")
        previous = {}
    own = downloader is None and mirror is None
    if own:
        downloader = Downloader()
    expected = {s.id: _expected_size(raw_dir, s) for s in sources}
    try:
        for index, source in enumerate(sources, 1):
            fresh = _fresh(raw_dir, source, previous.get(source.id, {}), older_than)
            reporter.source_started(source.id, index, len(sources), expected[source.id])
            if fresh:
                result = SourceResult(source.id, attempted_at=_now().isoformat(), reason=fresh)
            elif mirror is not None:
                result = fetch_source_from_mirror(source, mirror, raw_dir)
            else:
                result = _isolated(source, raw_dir, downloader, report, reporter)
            result.finished_at = _now().isoformat()
            report.results[source.id] = result
            if not fresh:
                _record_status(raw_dir, result, report)
            left = sources[index:]
            known = [expected[s.id] for s in left if expected[s.id]]
            reporter.source_finished(result, len(left), sum(known) if known else None)
    finally:
        if own:
            downloader.close()
    return report


def _isolated(source: Source, raw_dir: Path, downloader: Downloader, report: FetchReport,
              reporter: FetchProgress) -> SourceResult:
    """One source's network fetch; anything but a local write failure is recorded as its failure."""
    try:
        return fetch_source_from_network(source, raw_dir, downloader, report, reporter)
    except LocalWriteError:
        raise
    except IndicatorsError as exc:
        result = SourceResult(source.id, attempted_at=_now().isoformat())
        return _failed(result, "", getattr(exc, "url", ""), getattr(exc, "answer", ""), str(exc))
    except Exception as exc:  # a parser's file-list bug must not stop the other sources; it is still reported
        if os.environ.get("INDICATORS_DEBUG"):
            raise
        result = SourceResult(source.id, attempted_at=_now().isoformat())
        return _failed(result, "", "", f"{type(exc).__name__}: {exc}",
                       f"unexpected error ({type(exc).__name__}: {exc}); this is a bug, rerun with "
                       f"INDICATORS_DEBUG=1 and report it. The raw cache for {source.id} was left as it was.")


def _fresh(raw_dir: Path, source: Source, last: dict, older_than: timedelta | None) -> str:
    """Why a source need not be fetched under --older-than ('' when it must be)."""
    if older_than is None or last.get("status") == FAILED:
        return ""
    checked = _last_checked(raw_dir / source.id)
    if checked is None:
        return ""
    age = _now() - checked
    if age >= older_than:
        return ""
    hours = age.total_seconds() / 3600
    when = f"{hours:.0f} h ago" if hours >= 1 else f"{age.total_seconds() / 60:.0f} min ago"
    return f"fresh: every file fetched or confirmed {when}, within --older-than"
