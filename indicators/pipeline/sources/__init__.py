"""Source declarations: each official source is one TOML file in data/sources/ naming its parser module.

A parser module (indicators.pipeline.sources.<id>) exposes
    stage(files: list[Path]) -> dict[str, pandas.DataFrame]
returning staged tables by name ("observations" in schema.OBSERVATION_COLUMNS order, or
source-specific tables such as "population"), and optionally
    plan_downloads(client) -> list[Download]
for sources whose file list is discovered at fetch time (e.g. the Fingertips API).
Every address a source is fetched from can be redirected to a caching proxy or an internal mirror
with INDICATORS_URL_<SOURCE_ID> (see `fetch_url`).
Depends on: the standard library, indicators.config and indicators.errors.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from indicators.config import SOURCES_DIR
from indicators.errors import IndicatorsError, InputError

MANIFEST = "manifest.json"
URL_OVERRIDE_PREFIX = "INDICATORS_URL_"
_SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Download:
    """One file to fetch: where from, and the name it takes in the raw cache folder."""

    name: str
    url: str
    optional: bool = False  # an optional file that fails does not fail the fetch
    manual: bool = False  # put in the raw folder by hand: `url` says where to find it, the fetch never asks it


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    publisher: str
    licence: str
    licence_url: str
    attribution: str
    landing_page: str
    parser: str
    file_patterns: tuple[str, ...]
    files: tuple[Download, ...] = field(default_factory=tuple)
    notes: str = ""
    provides: str = ""  # what the dashboard loses without it, besides the indicators that name it

    def module(self) -> ModuleType:
        return importlib.import_module(self.parser)

    def matching_files(self, folder: Path) -> list[Path]:
        """Files in `folder` that this source parses, sorted by name; ignores manifests and temp files."""
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
            and any(fnmatch.fnmatch(p.name.lower(), pat.lower()) for pat in self.file_patterns)
        )


def unsafe_file_name(name: object) -> str | None:
    """Why `name` cannot be a file in a source's raw folder (a path, `..`, hidden, the manifest), or None."""
    if not isinstance(name, str) or not name.strip():
        return "it is empty"
    if "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        return "it is a path, not a plain file name"
    if name.startswith("."):
        return "it starts with a dot (hidden and temporary files are never data)"
    if name == MANIFEST:
        return f"{MANIFEST} is the fetch's own record"
    return None


def load_source(path: Path) -> Source:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    source_id = raw.get("id")
    if not isinstance(source_id, str) or not _SOURCE_ID.match(source_id):
        raise InputError(path, f"source id {source_id!r} is not usable as a folder name", where="id",
                         expected="lower-case letters, digits and underscores, starting with a letter")
    for i, f in enumerate(raw.get("files", [])):
        problem = unsafe_file_name(f.get("name"))
        if problem:
            raise InputError(path, f"file name {f.get('name')!r} is refused: {problem}", where=f"files[{i}].name",
                             expected="a plain file name such as data.csv")
    files = tuple(Download(name=f["name"], url=f["url"], optional=f.get("optional", False),
                           manual=f.get("manual", False)) for f in raw.pop("files", []))
    patterns = tuple(raw.pop("file_patterns"))
    return Source(files=files, file_patterns=patterns, **raw)


def url_override(source_id: str) -> str | None:
    """The base address from INDICATORS_URL_<SOURCE_ID> (no trailing slash), or None when it is not set."""
    name = URL_OVERRIDE_PREFIX + source_id.upper()
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise IndicatorsError(f"{name}={value!r} is not a base address (expected http:// or https://, a host "
                              "and optionally a path, such as http://proxy.internal:8080/ons)")
    return value.rstrip("/")


def fetch_url(source_id: str, url: str) -> str:
    """Where to fetch `url` from: with INDICATORS_URL_<SOURCE_ID> set, its scheme and host (and any path
    prefix) replace the official ones, keeping the official path and query; otherwise `url` itself."""
    base = url_override(source_id)
    if base is None:
        return url
    parts = urlsplit(url)
    return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def all_sources(sources_dir: Path = SOURCES_DIR) -> list[Source]:
    """Every declared source, in build order (the `order` is the file name's)."""
    return [load_source(p) for p in sorted(sources_dir.glob("*.toml"))]


def get_source(source_id: str, sources_dir: Path = SOURCES_DIR) -> Source:
    for source in all_sources(sources_dir):
        if source.id == source_id:
            return source
    raise KeyError(f"no source declared with id {source_id!r} in {sources_dir}")
