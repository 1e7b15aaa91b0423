"""The static site's page shell: head (title, description, Open Graph), header navigation, footer (build, sources, the same view in the app); standard library only.

Pages are plain HTML with inline SVG and one stylesheet, no script. Every link between pages is
relative (`up(path)` climbs from a page's folder to the site root), so the folder works from any
path on any host. Text from the data is escaped by the caller before it reaches a body; everything
this module puts into the shell is escaped here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from importlib import resources
from string import Template

SITE_NAME = "Drug treatment: the postcode lottery"
STYLESHEET = "site.css"
FAVICON = "favicon.svg"
# The site's own policy, for hosts that honour it from the page: nothing from elsewhere, no script at all.
CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; base-uri 'none'"


def e(value: object) -> str:
    """Escape text for HTML (element content and quoted attributes)."""
    return html.escape("" if value is None else str(value))


def up(path: str) -> str:
    """The relative prefix from the folder of the page at site-relative `path` ('area/E06000009/') to the root."""
    depth = path.count("/")
    return "../" * depth if depth else "./"


def href(from_path: str, to_path: str) -> str:
    """A relative link from the page at `from_path` to the page or file at `to_path` (both site-relative)."""
    return up(from_path) + to_path if to_path else up(from_path)


@dataclass
class Page:
    """One page of the site: its folder (written as index.html), words for the head, the HTML of <main>, and the
    address of the same view in the app. `embed` pages are bare (no header or navigation), sized for an iframe."""
    path: str
    title: str
    description: str
    body: str
    app_link: str | None = None
    embed: bool = False
    section: str | None = None  # the NAV entry to mark as current
    files: dict[str, bytes] = field(default_factory=dict)  # downloads that live beside the page, by file name


@dataclass(frozen=True)
class Shell:
    """What every page's shell says: the build, the sources, and where the site and the app are."""
    build_id: str
    build_date: str
    sources: tuple[str, ...]
    site_url: str | None
    nav: tuple[tuple[str, str], ...] = ()  # header links: (site-relative folder, label); "" is the home page
    warning: str | None = None  # said at the top of every page, e.g. that the figures are synthetic test data

    def absolute(self, path: str) -> str | None:
        return f"{self.site_url.rstrip('/')}/{path}" if self.site_url else None


def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def _head_links(shell: Shell, page: Page) -> str:
    meta = [f'<meta property="og:title" content="{e(page.title)}">',
            f'<meta property="og:description" content="{e(page.description)}">',
            '<meta property="og:type" content="website">',
            f'<meta property="og:site_name" content="{e(SITE_NAME)}">',
            '<meta name="twitter:card" content="summary">']
    here = shell.absolute(page.path)
    if here:
        meta += [f'<meta property="og:url" content="{e(here)}">', f'<link rel="canonical" href="{e(here)}">']
    if page.embed:
        meta.append('<meta name="robots" content="noindex">')
    return "\n".join(meta)


def _nav(shell: Shell, page: Page) -> str:
    items = []
    for target, label in shell.nav:
        current = ' aria-current="page"' if page.section == target else ""
        items.append(f'<li><a href="{e(href(page.path, target))}"{current}>{e(label)}</a></li>')
    return f'<nav aria-label="Site"><ul>{"".join(items)}</ul></nav>'


def _footer(shell: Shell, page: Page) -> str:
    sources = "; ".join(e(s) for s in shell.sources) if shell.sources else "none recorded"
    app = (f' · <a href="{e(page.app_link)}">this view in the interactive dashboard</a>' if page.app_link else "")
    return (f"<p><strong>Sources:</strong> {sources}.</p>"
            "<p>Contains public sector information licensed under the Open Government Licence v3.0.</p>"
            f"<p>Data build {e(shell.build_date)} · build id {e(shell.build_id)}{app}</p>")


def render(shell: Shell, page: Page) -> str:
    """The whole HTML document of `page`."""
    root = up(page.path)
    values = dict(title=e(page.title if page.embed or page.path == "" else f"{page.title} · {SITE_NAME}"),
                  description=e(page.description), csp=e(CSP), meta=_head_links(shell, page),
                  css=e(root + STYLESHEET), icon=e(root + FAVICON), footer=_footer(shell, page),
                  body=(f'<p class="warning" role="note"><strong>{e(shell.warning)}</strong></p>' if shell.warning
                        else "") + page.body,
                  home=e(root), site=e(SITE_NAME), nav=_nav(shell, page))
    return _template("embed.html" if page.embed else "page.html").substitute(values)
