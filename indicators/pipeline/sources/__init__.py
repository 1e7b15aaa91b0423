"""Source declarations: each official source is one TOML file in data/sources/ naming its parser module.

A parser module (indicators.pipeline.sources.<id>) exposes
    stage(files: list[Path]) -> dict[str, pandas.DataFrame]
returning staged tables by name ("observations" in schema.OBSERVATION_COLUMNS order, or
source-specific tables such as "population"), and optionally
    plan_downloads(client) -> list[Download]
for sources whose file list is discovered at fetch time (e.g. the Fingertips API).
Depends on: the standard library and indicators.config.
"""

from __future__ import annotations

import fnmatch
import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from indicators.config import SOURCES_DIR


@dataclass(frozen=True)
class Download:
    """One file to fetch: where from, and the name it takes in the raw cache folder."""

    name: str
    url: str
    optional: bool = False  # an optional file that fails does not fail the fetch


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

    def module(self) -> ModuleType:
        return importlib.import_module(self.parser)

    def matching_files(self, folder: Path) -> list[Path]:
        """Files in `folder` that this source parses, sorted by name; ignores manifests and temp files."""
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".")
            and any(fnmatch.fnmatch(p.name.lower(), pat.lower()) for pat in self.file_patterns)
        )


def load_source(path: Path) -> Source:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    files = tuple(Download(name=f["name"], url=f["url"], optional=f.get("optional", False))
                  for f in raw.pop("files", []))
    patterns = tuple(raw.pop("file_patterns"))
    return Source(files=files, file_patterns=patterns, **raw)


def all_sources(sources_dir: Path = SOURCES_DIR) -> list[Source]:
    """Every declared source, in build order (the `order` is the file name's)."""
    return [load_source(p) for p in sorted(sources_dir.glob("*.toml"))]


def get_source(source_id: str, sources_dir: Path = SOURCES_DIR) -> Source:
    for source in all_sources(sources_dir):
        if source.id == source_id:
            return source
    raise KeyError(f"no source declared with id {source_id!r} in {sources_dir}")
