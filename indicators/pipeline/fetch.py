"""Fetch every declared source into the raw cache, from the publishers or from a local mirror.

Layout: <raw>/<source_id>/<file> plus <raw>/<source_id>/manifest.json (URL, retrieval time,
size, sha256 per file). A source's files are first downloaded into a private staging folder
and moved into place only when every required file arrived, so a failed fetch leaves the
previous files untouched. Depends on httpx, tqdm and indicators.pipeline.sources; never on Streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlparse

import httpx
from tqdm import tqdm

from indicators.config import USER_AGENT
from indicators.errors import FetchError
from indicators.pipeline.sources import Download, Source, all_sources

MANIFEST = "manifest.json"
HTML_SIGNATURES = (b"<!doctype html", b"<html", b"<?xml version=\"1.0\"?><html")


@dataclass
class FetchPolicy:
    """How hard to try: per-request timeouts (seconds), attempts and backoff."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    attempts: int = 4
    backoff: float = 1.5  # seconds before the 2nd attempt; doubles each time
    sleep: Callable[[float], None] = time.sleep


@dataclass
class FetchReport:
    fetched: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # source id -> reason
    warnings: list[str] = field(default_factory=list)


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


class Downloader:
    """A retrying HTTP client: bounded attempts with exponential backoff, timeouts, no partial files."""

    def __init__(self, policy: FetchPolicy | None = None, client: httpx.Client | None = None,
                 progress: bool = True) -> None:
        self.policy = policy or FetchPolicy()
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
        )
        self.progress = progress

    def close(self) -> None:
        self.client.close()

    def _retrying(self, url: str, action: Callable[[], object]) -> object:
        last: Exception | None = None
        delay = self.policy.backoff
        for attempt in range(1, self.policy.attempts + 1):
            try:
                return action()
            except _Retryable as exc:
                last = exc.__cause__ or exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last = exc
            if attempt < self.policy.attempts:
                self.policy.sleep(delay)
                delay *= 2
        raise FetchError(_describe_failure(url, last, self.policy.attempts))

    def get_json(self, url: str) -> object:
        def action() -> object:
            response = self.client.get(url)
            _raise_for_status(url, response)
            try:
                return response.json()
            except ValueError as exc:
                raise FetchError(f"{url}: the response is not JSON (starts {response.text[:60]!r})") from exc
        return self._retrying(url, action)

    def download(self, url: str, dest: Path) -> None:
        """Stream `url` into `dest` (a temp file first, renamed only when complete)."""
        dest.parent.mkdir(parents=True, exist_ok=True)

        def action() -> None:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, self.client.stream("GET", url) as response:
                    _raise_for_status(url, response)
                    expected = response.headers.get("Content-Length")
                    total = int(expected) if expected and expected.isdigit() else None
                    received = 0
                    with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name[:40],
                              disable=not self.progress, file=sys.stderr, leave=False) as bar:
                        for chunk in response.iter_bytes(1 << 16):
                            out.write(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                    if total is not None and received != total:
                        raise _Retryable(f"{url}: body cut short ({received} of {total} bytes)") \
                            from httpx.RemoteProtocolError(f"received {received} of {total} bytes")
                if looks_like_html(tmp) and not dest.name.lower().endswith((".html", ".htm")):
                    raise FetchError(f"{url}: the server sent an HTML page where {dest.name} "
                                     "(data) was expected; the publisher may have moved the file")
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        self._retrying(url, action)


class _Retryable(Exception):
    """A transient failure worth another attempt."""


def _raise_for_status(url: str, response: httpx.Response) -> None:
    if response.status_code >= 500 or response.status_code == 429:
        raise _Retryable(f"{url}: HTTP {response.status_code}") from httpx.HTTPStatusError(
            f"HTTP {response.status_code}", request=response.request, response=response)
    if response.status_code >= 400:
        raise FetchError(f"{url}: HTTP {response.status_code} (not retried: the address is wrong "
                         "or the file was withdrawn)")


def _describe_failure(url: str, exc: Exception | None, attempts: int) -> str:
    host = urlparse(url).netloc or url
    if isinstance(exc, (httpx.ConnectError,)) or (exc and "Name or service not known" in str(exc)):
        return (f"could not reach {host} after {attempts} attempts ({type(exc).__name__}). "
                "This machine looks offline. Fetch the files on a machine that is online, or "
                "point at a local copy with --mirror DIR (or INDICATORS_MIRROR=DIR), a folder laid "
                "out as <source_id>/<file>.")
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{url}: the download was cut short {attempts} times ({exc}); the connection is unreliable, try again later"
    if isinstance(exc, httpx.TimeoutException):
        return f"{url}: timed out {attempts} times; the publisher's server is slow or down, try again later"
    return f"{url}: failed after {attempts} attempts: {exc}"


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.exists():
        return {"files": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json_atomic(path: Path, payload: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def _entry(path: Path, url: str, origin: str) -> dict:
    return {
        "url": url,
        "origin": origin,
        "retrieved_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "size": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _install(staging: Path, folder: Path, entries: dict[str, dict]) -> list[str]:
    """Move every staged file into `folder` and merge the manifest; each move is an atomic rename."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder)
    for name in entries:
        os.replace(staging / name, folder / name)
    manifest["files"].update(entries)
    _write_json_atomic(folder / MANIFEST, manifest)
    return sorted(entries)


def fetch_source_from_mirror(source: Source, mirror: Path, raw_dir: Path) -> list[str]:
    """Copy a source's files from `mirror/<source_id>/` (same layout as the raw cache)."""
    src_folder = mirror / source.id
    files = source.matching_files(src_folder)
    if not files:
        return []
    declared = {d.name: d.url for d in source.files}
    folder = raw_dir / source.id
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{source.id}-", dir=raw_dir))
    try:
        entries = {}
        for path in files:
            shutil.copyfile(path, staging / path.name)
            entries[path.name] = _entry(staging / path.name, declared.get(path.name, ""), f"mirror:{path}")
        return _install(staging, folder, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def plan(source: Source, downloader: Downloader) -> list[Download]:
    planned = list(source.files)
    module = source.module()
    if hasattr(module, "plan_downloads"):
        planned.extend(module.plan_downloads(downloader.get_json))
    return planned


def fetch_source_from_network(source: Source, raw_dir: Path, downloader: Downloader,
                              report: FetchReport) -> list[str]:
    downloads = plan(source, downloader)
    if not downloads:
        return []
    folder = raw_dir / source.id
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{source.id}-", dir=raw_dir))
    try:
        entries = {}
        items: Iterable[Download] = downloads
        if downloader.progress and len(downloads) > 3:
            items = tqdm(downloads, desc=source.id, unit="file", file=sys.stderr)
        for item in items:
            try:
                downloader.download(item.url, staging / item.name)
            except FetchError as exc:
                if item.optional:
                    report.warnings.append(f"{source.id}/{item.name}: skipped ({exc})")
                    continue
                raise FetchError(f"{source.id}: {exc}. The raw cache for {source.id} was left as it was.") from None
            entries[item.name] = _entry(staging / item.name, item.url, "network")
        return _install(staging, folder, entries)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_all(raw_dir: Path, mirror: Path | None = None, sources: list[Source] | None = None,
              downloader: Downloader | None = None, progress: bool = True) -> FetchReport:
    """Fetch every declared source. With a mirror, nothing touches the network."""
    sources = sources if sources is not None else all_sources()
    raw_dir.mkdir(parents=True, exist_ok=True)
    report = FetchReport()
    if mirror is not None:
        if not mirror.is_dir():
            raise FetchError(f"mirror folder {mirror} does not exist (expected a folder laid out as "
                             "<source_id>/<file>, like ../shared/data/raw)")
        for source in tqdm(sources, desc="copying from mirror", unit="source",
                           disable=not progress, file=sys.stderr):
            names = fetch_source_from_mirror(source, mirror, raw_dir)
            if names:
                report.fetched[source.id] = names
            else:
                report.skipped[source.id] = f"no files in {mirror / source.id}"
        return report
    own = downloader is None
    downloader = downloader or Downloader(progress=progress)
    try:
        for source in sources:
            names = fetch_source_from_network(source, raw_dir, downloader, report)
            if names:
                report.fetched[source.id] = names
            else:
                report.skipped[source.id] = source.notes.splitlines()[0] if source.notes else "nothing to download"
    finally:
        if own:
            downloader.close()
    return report
