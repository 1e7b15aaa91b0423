"""`indicators publish`: the warehouse as a static, embeddable website (plain HTML, inline SVG, one stylesheet, no script), written to a new folder and swapped in whole; depends on indicators.present and indicators.products.

The public pages most people see (a map per indicator, a profile per area, the about page and the
downloads) as files any static host or CDN can serve to any number of readers, while the dashboard
stays the place to explore. Every page is drawn by the same library code as the dashboard's (maps,
charts, tables, sentences), carries the build id and the sources, and links to the same view in the
app; embeds (embed/...) are bare pages sized for an iframe.

The site is the sum of SECTIONS: each entry is a generator of pages (and an optional header link),
so a new kind of page (the scorecard, for one) is one entry there.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from indicators import config
from indicators.errors import IndicatorsError
from indicators.pipeline.synthetic import NOTICE as SYNTHETIC_NOTICE
from indicators.present import text
from indicators.present.htmltable import TABLE_CSS
from indicators.present.svgcharts import CHART_CSS
from indicators.present.svgmap import MAP_CSS
from indicators.products import downloads, queries
from indicators.products.publish import about, areas, layout, maps, scorecard
from indicators.products.publish.layout import Page, Shell
from indicators.products.publish.site import Site

MARKER = ".indicators-site"  # in every site this command writes; an existing --out without it is left alone
LOCAL_APP = "http://127.0.0.1:8501/"  # where `indicators serve` listens
_SAFE_PATH = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.-]*/)*")


@dataclass(frozen=True)
class Section:
    """A kind of page: its generator and, when it has one, its link in the header. A section with `items` (one per
    page or group of pages, such as area codes) can be shared out between processes: `pages(site, some_items)`."""
    name: str
    pages: Callable[..., Iterable[Page]]
    nav: tuple[str, str] | None = None
    items: Callable[[Site], list] | None = None


SECTIONS = (
    Section("home", maps.home, ("", "Map")),
    Section("maps", maps.pages),
    Section("areas", areas.index, (areas.INDEX, "Areas")),
    Section("profiles", areas.pages, items=areas.codes),
    Section("scorecard", scorecard.pages, (scorecard.PATH, "Scorecard")),
    Section("about", about.about, ("about/", "About the data")),
    Section("downloads", lambda site: about.downloads_page(site, site.folder / about.DOWNLOADS),
            (about.DOWNLOADS, "Downloads")),
)


@dataclass(frozen=True)
class Report:
    out: Path
    build_id: str
    pages: int
    embeds: int
    files: int
    bytes: int
    seconds: float
    warnings: tuple[str, ...]


def stylesheet() -> str:
    """The site's one stylesheet: its own rules and those the app adds with the map, charts and tables."""
    base = resources.files(__package__).joinpath(layout.STYLESHEET).read_text(encoding="utf-8")
    return base + MAP_CSS + CHART_CSS + TABLE_CSS


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise IndicatorsError(f"{out} is a file; --out must be a folder (it is replaced by the new site)")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise IndicatorsError(f"{out} is a folder that `indicators publish` did not write (no {MARKER} in it); "
                              "choose another --out, or empty it first: it would be replaced whole")


def _write_page(folder: Path, shell: Shell, page: Page) -> int:
    if not _SAFE_PATH.fullmatch(page.path):
        raise IndicatorsError(f"page path {page.path!r} is not a safe relative folder (letters, digits, '_', '.', "
                              "'-' and '/'); is an area code or indicator id in the warehouse malformed?")
    target = folder / page.path
    target.mkdir(parents=True, exist_ok=True)
    (target / "index.html").write_text(layout.render(shell, page), encoding="utf-8")
    for name, data in page.files.items():
        if "/" in name or name.startswith("."):
            raise IndicatorsError(f"download name {name!r} beside {page.path!r} is not a plain file name")
        (target / name).write_bytes(data)
    return 1 + len(page.files)


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to write its share of a section's pages."""
    db_path: Path
    folder: Path
    shell: Shell
    app_url: str
    all_periods: bool
    build: dict
    section: str


def _write_pages(site: Site, shell: Shell, pages: Iterable[Page]) -> tuple[list[str], int, int]:
    """Write `pages` into the site's folder: (the listed pages' paths, the number of embeds, of files written)."""
    listed, embeds, files = [], 0, 0
    for page in pages:
        files += _write_page(site.folder, shell, page)
        if page.embed:
            embeds += 1
        else:
            listed.append(page.path)
    return listed, embeds, files


def _worker(job: _Job, some: list) -> tuple[list[str], int, int]:
    """In a worker process: the pages of `some` items of one section, on the worker's own read-only connection."""
    con = queries.connect(job.db_path)
    try:
        site = Site(con, job.shell, job.app_url, job.all_periods, job.build, job.folder)
        section = next(s for s in SECTIONS if s.name == job.section)
        return _write_pages(site, job.shell, section.pages(site, some))
    finally:
        con.close()


def _section(site: Site, shell: Shell, section: Section, job: _Job, workers: int) -> tuple[list[str], int, int]:
    if section.items is None or workers <= 1:
        return _write_pages(site, shell, section.pages(site))
    items = section.items(site)
    shares = [items[i::workers] for i in range(workers) if items[i::workers]]
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_worker, [job] * len(shares), shares))
    return [p for r in results for p in r[0]], sum(r[1] for r in results), sum(r[2] for r in results)


def sitemap(paths: list[str], site_url: str | None, build_date: str) -> str:
    """sitemap.xml of the pages (not the embeds); addresses are absolute with `site_url`, else site-relative."""
    base = site_url.rstrip("/") + "/" if site_url else ""
    urls = "".join(f"<url><loc>{xml_escape(base + p)}</loc><lastmod>{build_date}</lastmod></url>\n"
                   for p in sorted(paths))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')


def _exchange(new: Path, old: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(new)), at_fdcwd, os.fsencode(str(old)), rename_exchange) == 0


def _swap_in(new: Path, out: Path) -> None:
    """Put the finished site at `out`: readers see the old site or the new one, never a mixture."""
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new)  # now the old site
        return
    # Elsewhere: two renames, with `out` missing for the instant between them.
    old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
    os.rename(out, old)
    os.rename(new, out)
    shutil.rmtree(old)


def publish(db_path: Path, out: Path, *, app_url: str | None = None, site_url: str | None = None,
            all_periods: bool = False, workers: int = 1) -> Report:
    """Write the static site of the warehouse at `db_path` to the folder `out` (replaced whole, atomically), the area
    profiles shared out between `workers` processes."""
    started = time.perf_counter()
    out = Path(out)
    _check_out(out)
    warnings = []
    if not app_url:
        app_url = LOCAL_APP
        warnings.append(f"no --app-url (or INDICATORS_APP_URL): pages link to the dashboard at {LOCAL_APP}; pass "
                        "the app's public address for a public site")
    if not site_url:
        warnings.append("no --site-url: sitemap.xml, the iframe snippets and the citations hold addresses relative "
                        "to the site's root; pass the site's public address to have them absolute")
    con = queries.connect(Path(db_path))
    out.parent.mkdir(parents=True, exist_ok=True)
    new = out.with_name(f".{out.name}.new-{secrets.token_hex(4)}")
    new.mkdir()
    try:
        build_id, build_date = downloads.build_stamp(con)
        build = queries.build_info(con)
        nav = tuple(s.nav for s in SECTIONS if s.nav)
        shell = Shell(build_id, build_date, tuple(text.footer_sources(queries.sources_by_publisher(con))),
                      site_url, nav, SYNTHETIC_NOTICE if downloads.is_synthetic(con) else None)
        site = Site(con, shell, app_url, all_periods, build, new)
        about.write_downloads(Path(db_path), new / about.DOWNLOADS, list(site.meta))
        files, listed, embeds = 0, [], 0
        for section in SECTIONS:
            job = _Job(Path(db_path), new, shell, app_url, all_periods, build, section.name)
            paths, n_embeds, n_files = _section(site, shell, section, job, workers)
            listed += paths
            embeds += n_embeds
            files += n_files
        (new / layout.STYLESHEET).write_text(stylesheet(), encoding="utf-8")
        (new / layout.FAVICON).write_bytes(resources.files(__package__).joinpath(layout.FAVICON).read_bytes())
        (new / "sitemap.xml").write_text(sitemap(listed, site_url, build_date), encoding="utf-8")
        robots = "User-agent: *\nDisallow: /embed/\n" + (
            f"Sitemap: {site_url.rstrip('/')}/sitemap.xml\n" if site_url else "")
        (new / "robots.txt").write_text(robots, encoding="utf-8")
        (new / MARKER).write_text(f"{build_id}\n", encoding="utf-8")
        all_files = [p for p in new.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in all_files)
        _swap_in(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        con.close()
    return Report(out, build_id, len(listed), embeds, len(all_files), size, time.perf_counter() - started,
                  tuple(warnings))


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise IndicatorsError(f"--workers is {args.workers}; expected 1 or more")
    report = publish(args.db or config.default_db_path(), args.out, app_url=args.app_url or config.default_app_url(),
                     site_url=args.site_url or config.default_site_url(), all_periods=args.all_periods,
                     workers=args.workers)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"published {report.out} (build {report.build_id}) in {report.seconds:.1f} s: {report.pages} pages, "
          f"{report.embeds} embeds, {report.files} files, {report.bytes / 1_000_000:.1f} MB")
    return 0


def add_cli(subparsers, name: str = "publish") -> argparse.ArgumentParser:
    """Register `indicators publish [--db PATH] --out DIR [--app-url URL] [--site-url URL] [--all-periods]
    [--workers N]`."""
    p = subparsers.add_parser(
        name, help="write the static, embeddable website of the warehouse to a folder (swapped in whole)",
        description="Write the public pages (a map per indicator, a profile per area, about, downloads, embeds) as "
                    "static HTML for any web server or CDN. The folder is built beside --out and swapped in when "
                    "complete, so a failed publish leaves the previous site as it was.")
    p.add_argument("--db", type=Path, default=None,
                   help="warehouse file (default data/warehouse.duckdb, or INDICATORS_DB)")
    p.add_argument("--out", type=Path, required=True, help="the site's folder (replaced whole)")
    p.add_argument("--app-url", default=None,
                   help="the dashboard's public address, for each page's link to the same view in the app "
                        f"(default INDICATORS_APP_URL, else {LOCAL_APP})")
    p.add_argument("--site-url", default=None,
                   help="the site's own public address, for sitemap.xml, Open Graph addresses and iframe snippets "
                        "(default INDICATORS_SITE_URL; without it they are relative to the site's root)")
    p.add_argument("--all-periods", action="store_true",
                   help="a map page for every period of every indicator (default: the latest period only)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes drawing the area profiles (default: the number of CPUs)")
    p.set_defaults(handler=_run)
    return p
