"""The static site's about page (definitions, freshness, sources, methods, what is not published) and its downloads page; depends on indicators.present and indicators.products.

The about page takes its words and rows from indicators.present.about, as the dashboard's does; the
downloads are the files `indicators export` writes (indicators.products.downloads.export), so the
site's files are byte for byte the command's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indicators.present import about as words
from indicators.present import text
from indicators.present.htmltable import Column, html_table
from indicators.products import downloads, queries
from indicators.products.publish import site as common
from indicators.products.publish.layout import Page, e, href

DOWNLOADS = "downloads/"


def _fields_table(rows: list[dict], caption: str) -> str:
    return html_table(rows, [Column("Field", "Field"), Column("Value", "Value")], caption=caption)


def about(site: common.Site) -> Iterator[Page]:
    path = "about/"
    catalogue = site.catalogue
    fresh = words.freshness(site.q("indicator_summary"))
    parts = ["<h1>About the data</h1>", common.paragraph(words.INTRO, "lead"),
             "<h2>Indicators and their definitions</h2>"]
    for row in catalogue.to_dict("records"):
        caveats = text.caveat_list(row.get("caveats"))
        parts.append(f'<details id="{e(row["indicator_id"])}"><summary>{e(words.heading(row))}</summary>'
                     + common.paragraph(row.get("definition") or "")
                     + (f"<p><strong>Caveats:</strong></p>{common.bullets(caveats)}" if caveats else "")
                     + _fields_table(words.definition_fields(row, fresh.get(row["indicator_id"], {})),
                                     f"{row['title']}: catalogue entry")
                     + "</details>")
    parts.append("<h2>How fresh each indicator is</h2>")
    parts.append(html_table(words.freshness_rows(catalogue, fresh), [
        Column("Indicator", "Indicator"), Column("Latest period", "Latest period"),
        Column("Periods", "Periods", "count"), Column("Areas with a value (latest)", "Areas with a value (latest)",
                                                      "count")], caption="Latest period of each indicator"))
    parts.append("<h2>Sources and licences</h2>")
    # The app's table of the same rows, as a list here: a file's name links to where it was downloaded from, and the
    # long names and checksums wrap on a phone.
    items = []
    for row in words.source_rows(site.q("source_summary")).to_dict("records"):
        name = e(row.get("File") or "")
        link = f'<a href="{e(row["Url"])}">{name}</a>' if row.get("Url") else name
        items.append(f"<li><strong>{e(row.get('Publisher'))}</strong>: {e(row.get('Title'))}. File {link}; "
                     f"{e(row.get('Licence'))}; retrieved {e(row.get('Retrieved'))}; sha256 "
                     f"<code>{e(row.get('Sha256'))}</code></li>")
    parts.append(f'<ul class="sources">{"".join(items)}</ul>')
    parts.append(common.paragraph(words.LICENCE))
    parts.append("<h2>Methods</h2>")
    for name, description, reference in text.METHODS:
        parts.append(f"<p><strong>{e(name)}.</strong> {e(description)}<br><em>{e(reference)}</em></p>")
    parts.append("<h2>What is not published, and why</h2><ul>")
    for title, status, why in words.not_published(catalogue, queries.families(site.con)):
        parts.append(f"<li><strong>{e(title)}</strong>" + (f" ({e(status)})" if status else "") + f": {e(why)}</li>")
    parts.append("</ul>" + common.paragraph(words.MISSING_WORDS))
    parts.append(f'<h2 id="{words.GLOSSARY_ANCHOR}">{e(words.GLOSSARY_HEAD)}</h2>'
                 + common.paragraph(words.GLOSSARY_INTRO) + '<dl class="glossary">'
                 + "".join(f'<dt id="{e(anchor)}">{e(term)}</dt><dd>{e(definition)}</dd>'
                           for anchor, term, definition in words.glossary_entries()) + "</dl>")
    parts.append("<h2>How to cite</h2>")
    parts.append(f'<pre class="snippet"><code>{e(site.citation("About the data", path))}</code></pre>')
    parts.append(common.paragraph(words.build_line(site.build_id, site.build)))
    yield Page(path, "About the data", "Definitions, sources, licences, methods and what is not published, for the "
               "drug-treatment postcode-lottery figures.", "".join(parts), site.app("about"), section="about/")


def write_downloads(db_path: Path, folder: Path, indicator_ids: list[str]) -> list[Path]:
    """Every download into `folder`: per indicator its CSVs and README, and for all indicators the CSVs, the bulk
    zip and Parquet, each by indicators.products.downloads.export."""
    written = []
    for indicator_id in indicator_ids:
        written += downloads.export(db_path, folder, indicator_id, "csv")
        written += downloads.export(db_path, folder, indicator_id, "zip")
    for fmt in ("csv", "zip", "parquet"):
        written += downloads.export(db_path, folder, None, fmt)
    return written


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{max(n / 1000, 0.1):.1f} kB"


def downloads_page(site: common.Site, folder: Path) -> Iterator[Page]:
    """The list of the files in `folder` (written by write_downloads), by indicator."""
    path = DOWNLOADS
    names = sorted(p.name for p in folder.iterdir() if p.is_file())

    def items(prefix: str) -> list[tuple[str, str, str]]:
        return [(path + n, n, _size((folder / n).stat().st_size)) for n in names if n.startswith(prefix + "_")]

    parts = ["<h1>Downloads</h1>",
             common.paragraph("The published figures, with definitions, areas and sources: the same files as the "
                              "dashboard's download buttons and the command indicators export. CSV files are UTF-8, "
                              "comma-separated; each README describes every column. Restricted local data are never "
                              "included.", "lead"),
             f'<h2 id="{downloads.ALL_INDICATORS}">Every indicator</h2>',
             common.download_list(path, items(downloads.ALL_INDICATORS))]
    for indicator_id, meta in site.meta.items():
        parts.append(f'<h2 id="{e(indicator_id)}">{e(meta["title"])}</h2>')
        parts.append(f'<p><a href="{e(href(path, f"map/{indicator_id}/"))}">Map</a> · '
                     f'<a href="{e(href(path, "about/"))}#{e(indicator_id)}">Definition</a></p>')
        parts.append(common.download_list(path, items(indicator_id)))
    yield Page(path, "Downloads", "CSV, Parquet and zip downloads of every indicator, with definitions and sources.",
               "".join(parts), site.app("about"), section=DOWNLOADS)

