"""The glossary (data/glossary.toml) and the links from the words on a page to it; standard library and indicators.present.text only.

Sentences stay plain text (indicators.present.text and the page word modules make them); the place that
puts them into Markdown (the app) or HTML (the static site) calls `markdown` or `html`, which escape the
text and link the first use on the page of each glossary term to its entry on the About page. `seen`, one
set per page, keeps a term from being linked twice.
"""

from __future__ import annotations

import html as html_lib
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from indicators.config import DATA_DIR
from indicators.present.text import md_escape

GLOSSARY_FILE = "glossary.toml"
# Where the app's About page is, relative to any page of the app (Streamlit serves pages at /<url path>).
APP_ABOUT = "about"
_ID = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Term:
    id: str
    term: str
    matches: tuple[str, ...]
    definition: str


@lru_cache(maxsize=4)
def terms(path: Path | None = None) -> tuple[Term, ...]:
    """The glossary's entries, in the file's order; a malformed entry is a ValueError naming it."""
    path = path or DATA_DIR / GLOSSARY_FILE
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out, ids = [], set()
    for n, entry in enumerate(data.get("term", []), start=1):
        ident = str(entry.get("id", ""))
        if not _ID.match(ident) or ident in ids or not entry.get("term") or not entry.get("definition") \
                or not entry.get("matches"):
            raise ValueError(f"{path}: entry {n} ({ident or 'no id'}) needs a new lower-case id, a term, matches "
                             "and a definition")
        ids.add(ident)
        definition = " ".join(str(entry["definition"]).split())
        out.append(Term(ident, str(entry["term"]), tuple(str(m) for m in entry["matches"]), definition))
    return tuple(out)


@lru_cache(maxsize=4)
def _pattern(entries: tuple[Term, ...]) -> tuple[re.Pattern, dict[str, Term]]:
    by_match = {m: t for t in entries for m in t.matches}
    spellings = sorted(by_match, key=len, reverse=True)  # the longest first: '99.8% limits' before '99.8%'
    # Whole words only: no letter or digit just before or after a match ('ONS' not in 'ONSITE', 'φ' alone).
    pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(s) for s in spellings) + r")(?![\w])")
    return pattern, by_match


def segments(text: str, seen: set[str] | None = None,
             entries: Iterable[Term] | None = None) -> list[tuple[str, Term | None]]:
    """`text` cut into (piece, term) pairs: term is the glossary entry the piece links to, at its first use (not
    yet in `seen`, which is updated), else None. Joining the pieces gives `text` back."""
    entries = tuple(entries) if entries is not None else terms()
    if not entries or not text:
        return [(text, None)] if text else []
    seen = set() if seen is None else seen
    pattern, by_match = _pattern(entries)
    out: list[tuple[str, Term | None]] = []
    last = 0
    for match in pattern.finditer(text):
        term = by_match[match.group(1)]
        if term.id in seen:
            continue
        seen.add(term.id)
        if match.start() > last:
            out.append((text[last:match.start()], None))
        out.append((match.group(1), term))
        last = match.end()
    if last < len(text):
        out.append((text[last:], None))
    return out


def anchor(ident: str) -> str:
    """The id of a term's entry on the About page (the app's and the static site's)."""
    return f"glossary-{ident}"


# A command in a sentence is written between backticks (`uv run indicators build`): shown as code, never linked.
_CODE = re.compile(r"`([^`\n]+)`")


def _code_split(plain: str) -> list[tuple[str, bool]]:
    """`plain` cut into (piece, is_code) pairs at its backtick-quoted commands."""
    out, last = [], 0
    for match in _CODE.finditer(plain):
        if match.start() > last:
            out.append((plain[last:match.start()], False))
        out.append((match.group(1), True))
        last = match.end()
    if last < len(plain):
        out.append((plain[last:], False))
    return out


def markdown(text: object, seen: set[str] | None = None, about: str = APP_ABOUT) -> str:
    """Plain `text` as Markdown for st.markdown: escaped (text.md_escape), a backtick-quoted command as code, and
    the first use of each glossary term a link to its entry on the About page (`about#glossary-<id>`)."""
    seen = set() if seen is None else seen
    out = []
    for part, is_code in _code_split("" if text is None else str(text)):
        if is_code:
            out.append(f"`{part}`")
            continue
        out.extend(f"[{md_escape(piece)}]({about}#{anchor(term.id)})" if term else md_escape(piece)
                   for piece, term in segments(part, seen))
    return "".join(out)


def html(text: object, seen: set[str] | None = None,
         href: Callable[[str], str] = lambda name: f"{APP_ABOUT}#{name}") -> str:
    """Plain `text` as HTML: escaped, the first use of each glossary term a link to `href(anchor(id))` (the static
    site gives its own About page's address)."""
    seen = set() if seen is None else seen
    out = []
    for part, is_code in _code_split("" if text is None else str(text)):
        if is_code:
            out.append(f"<code>{html_lib.escape(part)}</code>")
            continue
        out.extend(f'<a class="ind-glossary" href="{html_lib.escape(href(anchor(term.id)))}">'
                   f'{html_lib.escape(piece)}</a>' if term else html_lib.escape(piece)
                   for piece, term in segments(part, seen))
    return "".join(out)


def linker(about: str = APP_ABOUT) -> Callable[[object], str]:
    """`markdown` with one `seen` set for a whole page: each term is linked at its first use on the page only."""
    seen: set[str] = set()
    return lambda text: markdown(text, seen, about)
