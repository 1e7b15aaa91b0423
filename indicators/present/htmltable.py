"""Small tables as plain, accessible HTML (a caption, column and row headers, numbers formatted and right-aligned).

The area profile's tables (its charts' twins, the peers and their reasons, what cannot be compared)
are a few dozen rows at most. As st.dataframe each one needs Streamlit's data-grid JavaScript
(about 1.2 MB with its Arrow formatting), and the page is not drawn until that has arrived: about
a second on the project's machine for a visitor opening a shared link. As HTML they arrive with the
page, are read by screen readers as tables, and can be copied. Every cell is escaped (html.escape);
the table sits in a focusable, labelled region that scrolls sideways when it is wider than the
column. The full-precision figures are in the page's CSV download.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from indicators.present import text

TABLE_CSS = """
.ind-table-wrap { overflow-x: auto; margin: 0.25rem 0 0.75rem 0; }
.ind-table-wrap:focus-visible { outline: 2px solid #1a64a8; outline-offset: 2px; }
.ind-table { border-collapse: collapse; font-size: 0.875rem; line-height: 1.35; min-width: 60%; }
.ind-table caption { text-align: left; font-weight: 600; padding: 0 0 0.35rem 0; caption-side: top; }
.ind-table th, .ind-table td { border-bottom: 1px solid #e6e6e6; padding: 0.3rem 0.6rem; text-align: left;
  vertical-align: top; }
.ind-table thead th { background: #f0f2f6; border-bottom: 1px solid #c8c8c8; font-weight: 600; }
.ind-table tbody th { font-weight: 400; }
.ind-table .ind-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ind-table .ind-nowrap { white-space: nowrap; }
.ind-table .ind-prose { overflow-wrap: anywhere; min-width: 10em; }
.ind-table .ind-swatch { display: inline-block; width: 0.75em; height: 0.75em; margin-right: 0.35em;
  border: 1px solid #555555; vertical-align: -0.05em; }
.ind-table .ind-sub { display: block; color: #4d4d4d; font-size: 0.8rem; }
.ind-table a { color: #1a64a8; }
.ind-table.ind-sticky tbody th, .ind-table.ind-sticky thead th:first-child { position: sticky; left: 0; z-index: 1;
  background: #ffffff; box-shadow: 1px 0 0 #e6e6e6; }
.ind-table.ind-sticky thead th:first-child { background: #f0f2f6; }
"""
KINDS = ("text", "prose", "number", "count", "period", "interval")
_CLASSES = {"number": ' class="ind-num"', "count": ' class="ind-num"', "period": ' class="ind-nowrap"',
            "interval": ' class="ind-nowrap"', "prose": ' class="ind-prose"'}


@dataclass(frozen=True)
class Column:
    """One column: the field it shows, its header, and how to write its values.

    kind: 'text' (as it is), 'prose' (sentences that may name a long file: long words break, so the column fits a
    phone), 'number' (`decimals` places, thousands separated), 'count' (whole numbers
    unless fractional), 'period' (year ranges with an en dash) or 'interval' (text kept on one line, such
    as '8.0 to 14.7'). Missing values are '–' in number columns and empty in text columns."""
    key: str
    header: str
    kind: str = "text"
    decimals: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def cell(self, value: object) -> str:
        if self.kind == "number":
            return text.format_number(value, self.decimals)
        if self.kind == "count":
            return text.format_count(value)
        if self.kind == "period":
            return text.period_display(value)
        return "" if text.is_missing(value) else str(value)


@dataclass(frozen=True)
class Cell:
    """A cell with more than text: words (always shown), a second line in smaller type, a colour swatch beside the
    words (never instead of them) and a link. Every part is escaped where it is written."""
    text: str
    sub: str = ""
    colour: str | None = None
    href: str | None = None

    def html(self) -> str:
        e = html.escape
        swatch = f'<span class="ind-swatch" style="background:{e(self.colour)}" aria-hidden="true"></span>' \
            if self.colour else ""
        words = f'<a href="{e(self.href)}">{e(self.text)}</a>' if self.href else e(self.text)
        sub = f'<span class="ind-sub">{e(self.sub)}</span>' if self.sub else ""
        return f"{swatch}{words}{sub}"


def html_table(rows: pd.DataFrame | Iterable[Mapping], columns: Sequence[Column], *, caption: str,
               row_headers: bool = True, sticky_first: bool = False) -> str:
    """The rows as an HTML table under `caption`; the first column heads each row when `row_headers`. A value that
    is a Cell is drawn as one (words, swatch, link); any other by its column's kind. `sticky_first` keeps the first
    column in view while a wide table scrolls sideways (on a phone)."""
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    e = html.escape
    classes = [_CLASSES.get(c.kind, "") for c in columns]
    head = "".join(f'<th scope="col"{cls}>{e(c.header)}</th>' for c, cls in zip(columns, classes))
    body = []
    for record in records:
        cells = []
        for i, (column, cls) in enumerate(zip(columns, classes)):
            tag = "th" if row_headers and i == 0 else "td"
            scope = ' scope="row"' if tag == "th" else ""
            value = record.get(column.key)
            content = value.html() if isinstance(value, Cell) else e(column.cell(value))
            cells.append(f"<{tag}{scope}{cls}>{content}</{tag}>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="ind-table-wrap" role="region" aria-label="{e(caption)}" tabindex="0">'
            f'<table class="ind-table{" ind-sticky" if sticky_first else ""}"><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')
