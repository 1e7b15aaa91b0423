"""`indicators publish`: the static site of the invented warehouse (tests/support.py) and of the build from ../shared/data/raw.

Every current area has a profile, every indicator a map; every link and every file a page refers to
resolves inside the site (fragments included); no page has a script or loads anything from elsewhere;
every page has its title, description and Open Graph tags, the build id, the sources and a link to the
same view in the app; the site is swapped in whole and a failed publish leaves the previous one. The
static area profile says the same sentences and shows the same numbers as the app's (AppTest).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from support import AREAS, INDICATORS, make_warehouse, read_html_tables

from indicators import cli
from indicators.errors import IndicatorsError
from indicators.products import publish
from indicators.products.publish import maps

APP = "https://app.example.org/"
SITE = "https://site.example.org/lottery/"
CURRENT = sorted(code for code, _, kind, *_, valid_to in AREAS if valid_to is None and kind not in ("country", "region"))


class Links(HTMLParser):
    """Every href and src of a page, the ids it defines, and its head's meta tags."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()
        self.meta: dict[str, str] = {}
        self.tags: set[str] = set()
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.refs.append((tag, attrs[name]))
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "meta" and attrs.get("content") is not None:
            self.meta[attrs.get("name") or attrs.get("property") or attrs.get("http-equiv")] = attrs["content"]
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


def walk(root: Path, app: str, site_url: str | None = None) -> dict[str, Links]:
    """Follow every link from every page: each relative one must name a file in the site (a folder: its index.html)
    and, with a fragment, an id in that page; absolute ones are plain links (to the app, or to a publisher from the
    sources table) or the page's own canonical address. Returns the parsed pages by site-relative path."""
    pages = {str(p.relative_to(root)): parse(p) for p in root.rglob("*.html")}
    problems = []
    for rel, links in pages.items():
        base = "http://site.invalid/" + rel
        for tag, ref in links.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https"):
                if tag == "link" and site_url and ref == site_url + rel.removesuffix("index.html"):
                    continue  # rel="canonical"
                if tag != "a":
                    problems.append(f"{rel}: <{tag}> loads {ref} from elsewhere")
                elif not ref.startswith(app) and "/embed/" in rel:
                    problems.append(f"{rel}: embed links outside the site and the app: {ref}")
                continue
            if parts.scheme or ref.startswith("/"):
                problems.append(f"{rel}: {ref} is not a relative link")
                continue
            target = urlsplit(urljoin(base, ref))
            if not target.path.startswith("/"):
                problems.append(f"{rel}: {ref}")
                continue
            path = root / unquote(target.path.lstrip("/"))
            if path.is_dir():
                path = path / "index.html"
            if not path.resolve().is_relative_to(root.resolve()):
                problems.append(f"{rel}: {ref} leaves the site")
            elif not path.is_file():
                problems.append(f"{rel}: {ref} -> {path.relative_to(root)} does not exist")
            elif target.fragment:
                page = pages.get(str(path.relative_to(root)))
                if page is None or target.fragment not in page.ids:
                    problems.append(f"{rel}: {ref}: no id {target.fragment!r} there")
    assert not problems, problems[:20]
    return pages


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return make_warehouse(tmp_path_factory.mktemp("publish") / "fixture.duckdb", harm_families=True)


@pytest.fixture(scope="module")
def site(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    report = publish.publish(warehouse, out, app_url=APP, site_url=SITE, all_periods=True)
    assert report.out == out and report.pages > 0 and report.embeds > 0
    return out


def test_every_area_and_indicator_has_its_page_and_every_link_resolves(site):
    pages = walk(site, APP, SITE)
    for code in CURRENT + ["E06000065"]:
        assert f"area/{code}/index.html" in pages, code
    assert "area/E10000006/index.html" not in pages  # Cumbria no longer exists
    for row in INDICATORS:
        assert f"map/{row['indicator_id']}/index.html" in pages
    # --all-periods: the earlier period of opiate completions has its own page, linked from the latest one
    assert "map/completion_opiate/2019-20/index.html" in pages
    assert ("a", "../../map/completion_opiate/2019-20/") in pages["map/completion_opiate/index.html"].refs
    for name in ("index.html", "about/index.html", "areas/index.html", "downloads/index.html", "scorecard/index.html",
                 "embed/map/deaths_drug_misuse/index.html",
                 "embed/area/E06000009/trend/completion_opiate/index.html"):
        assert name in pages, name
    # No spine chart, so no spine embed: no indicator of this invented warehouse has the 10 areas with a value
    # the spread needs (data/methods.toml).
    assert "embed/area/E06000009/spine/index.html" not in pages


def test_no_script_and_nothing_from_elsewhere(site):
    for path in site.rglob("*.html"):
        page = parse(path)
        assert "script" not in page.tags and "iframe" not in page.tags, path
        canonical = SITE + path.relative_to(site).as_posix().removesuffix("index.html")
        assert not [r for t, r in page.refs if t != "a" and urlsplit(r).scheme and r != canonical], path
        assert "default-src 'none'" in page.meta["Content-Security-Policy"]
    css = (site / "site.css").read_text()
    assert "@import" not in css and "url(" not in css
    assert ".ind-map a path" in css and ".ind-table" in css and ".ind-spine" in css  # the app's own rules


def test_the_map_page_has_the_apps_skip_link_and_its_inset_is_out_of_the_tab_order(site):
    """As on the dashboard (svgmap's skip_link and focusable=False): a 'Skip the map' link comes before the first
    area link and leads to a focusable point after the map; the London inset repeats boroughs the main map has, so
    its figure is hidden from screen readers and none of its links is in the tab order."""
    css = (site / "site.css").read_text()
    assert ".ind-skip:focus" in css
    for rel in ("index.html", "map/deaths_drug_misuse/index.html"):
        page = (site / rel).read_text(encoding="utf-8")
        skip = page.index('<a class="ind-skip" href="#ind-map-end">Skip the map</a>')
        main = page.index('<figure class="ind-map ind-map-main">')
        assert skip < main < page.index('id="ind-map-end"'), rel
        inset = re.search(r'<figure class="ind-map ind-map-london" aria-hidden="true">(.*?)</figure>', page, re.S)
        assert inset, rel
        links = re.findall(r"<a [^>]*>", inset.group(1))
        assert links and all('tabindex="-1"' in link for link in links), rel
        main_links = re.findall(r"<a [^>]*>", page[main:page.index("</figure>", main)])
        assert main_links and not any("tabindex" in link for link in main_links), rel


def test_every_page_has_its_head_footer_and_app_link(site):
    for path in site.rglob("*.html"):
        rel = path.relative_to(site).as_posix()
        page = parse(path)
        text = path.read_text(encoding="utf-8")
        assert page.title.strip() and page.meta.get("description"), rel
        assert page.meta["og:title"] and page.meta["og:description"], rel
        assert page.meta["og:url"] == SITE + rel.removesuffix("index.html"), rel
        if not rel.startswith("embed/"):
            assert [r for t, r in page.refs if t == "a" and r.startswith(APP)], f"{rel}: no link to the app"
            assert "build id 20261101-fixture0001" in text, rel
            assert "Office for National Statistics" in text, rel  # the sources, in the footer
        else:
            assert "(build id 20261101-fixture0001)" in text and 'target="_blank"' in text, rel


def test_links_to_the_same_view_in_the_app(site):
    def app_links(rel):
        return [r for t, r in parse(site / rel).refs if t == "a" and r.startswith(APP)]

    # the footer's link is the page's last; an area's other peer groups link to their comparison in the app
    assert app_links("area/E06000009/index.html") == [APP + "area?area=E06000009&peers=region",
                                                      APP + "area?area=E06000009"]
    assert app_links("map/deaths_drug_misuse/index.html") == [APP + "?indicator=deaths_drug_misuse&period=2019-21"]
    assert app_links("map/completion_opiate/2019-20/index.html") == [
        APP + "?indicator=completion_opiate&period=2019%2F20"]
    assert app_links("about/index.html") == [APP + "about"]


def test_sitemap_lists_every_page_but_the_embeds(site):
    tree = ET.parse(site / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in tree.getroot().findall("s:url/s:loc", ns)}
    pages = {SITE + p.relative_to(site).as_posix().removesuffix("index.html") for p in site.rglob("index.html")
             if not p.relative_to(site).as_posix().startswith("embed/")}
    assert locs == pages and SITE in locs and SITE + "area/E06000009/" in locs
    assert "Sitemap: " + SITE + "sitemap.xml" in (site / "robots.txt").read_text()


def test_embeds_and_their_snippets(site):
    page = (site / "map/deaths_drug_misuse/index.html").read_text()
    snippet = re.search(r"&lt;iframe src=&quot;([^&]*)&quot;", page)
    assert snippet and snippet.group(1) == SITE + "embed/map/deaths_drug_misuse/"
    embed = (site / "embed/map/deaths_drug_misuse/index.html").read_text()
    assert embed.count('target="_blank"') >= 7  # every area opens outside the host's page, and the link back
    assert 'href="../../../map/deaths_drug_misuse/" target="_blank"' in embed
    assert "Source: Office for National Statistics" in embed
    assert 'name="robots" content="noindex"' in embed


def test_downloads_are_the_export_commands_files(site, warehouse, tmp_path):
    from indicators.products import downloads

    exported = downloads.export(warehouse, tmp_path, None, "zip")[0]
    assert (site / "downloads" / exported.name).read_bytes() == exported.read_bytes()
    for name in ("deaths_drug_misuse_indicator_values_2026-11-01.csv", "deaths_drug_misuse_README_2026-11-01.md",
                 "all_indicators_indicator_values_2026-11-01.parquet"):
        assert (site / "downloads" / name).is_file(), name
    csv = (site / "map/deaths_drug_misuse/deaths_drug_misuse_map_2026-11-01.csv").read_text().splitlines()
    assert csv[0].startswith("indicator_id,") and csv[0].endswith(",build_id") and len(csv) == 1 + 7


def test_a_failed_publish_leaves_the_previous_site(warehouse, tmp_path, monkeypatch):
    out = tmp_path / "site"
    publish.publish(warehouse, out, app_url=APP)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    marker = (out / "index.html").read_bytes()

    def broken(site):
        yield from maps.home(site)
        raise RuntimeError("disk full")

    sections = tuple(publish.Section(s.name, broken if s.name == "home" else s.pages, s.nav)
                     for s in publish.SECTIONS)
    monkeypatch.setattr(publish, "SECTIONS", sections)
    with pytest.raises(RuntimeError, match="disk full"):
        publish.publish(warehouse, out, app_url=APP)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert (out / "index.html").read_bytes() == marker
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # the half-written folder is gone


def test_a_new_publish_replaces_the_site_whole(warehouse, tmp_path):
    out = tmp_path / "site"
    publish.publish(warehouse, out, app_url=APP)
    (out / "area" / "E99999999").mkdir()
    (out / "area" / "E99999999" / "index.html").write_text("stale")
    publish.publish(warehouse, out, app_url=APP)
    assert not (out / "area" / "E99999999").exists()
    assert (out / "area" / "E06000009" / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_refuses_a_folder_it_did_not_write(warehouse, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(IndicatorsError, match="did not write"):
        publish.publish(warehouse, tmp_path / "mine", app_url=APP)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndicatorsError, match="is a file"):
        publish.publish(warehouse, tmp_path / "file", app_url=APP)


def test_cli(warehouse, tmp_path, capsys):
    assert cli.main(["publish", "--db", str(warehouse), "--out", str(tmp_path / "site")]) == 0
    captured = capsys.readouterr()
    assert re.search(r"published .*site \(build 20261101-fixture0001\) in [\d.]+ s: \d+ pages, \d+ embeds", captured.out)
    assert "no --app-url" in captured.err and "no --site-url" in captured.err
    page = (tmp_path / "site" / "area" / "E06000009" / "index.html").read_text()
    assert 'href="http://127.0.0.1:8501/area?area=E06000009"' in page
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    assert cli.main(["publish", "--db", str(warehouse), "--out", str(tmp_path / "other")]) == 2
    assert "did not write" in capsys.readouterr().err


def test_a_hostile_area_code_stops_the_publish(tmp_path):
    import duckdb

    db = make_warehouse(tmp_path / "hostile.duckdb")
    con = duckdb.connect(str(db))
    con.execute("UPDATE published.areas SET area_code = '../../x' WHERE area_code = 'E06000009'")
    con.close()
    with pytest.raises(IndicatorsError, match="not a safe relative folder"):
        publish.publish(db, tmp_path / "site", app_url=APP)
    assert not (tmp_path / "site").exists() and not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- the same words and numbers as the app

def _static_tables(path: Path) -> dict[str, object]:
    return {t.attrs["caption"]: t for t in read_html_tables(path.read_text(encoding="utf-8"))}


def test_static_profile_says_what_the_app_says(site, warehouse, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_pages import DASHBOARD, markups, texts

    monkeypatch.setenv("INDICATORS_DB", str(warehouse))
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.query_params["area"] = "E06000009"
    at.switch_page("pages/area.py")
    at.run()
    assert not at.exception
    app_text = texts(at)
    app_tables = {t.attrs["caption"]: t for m in markups(at) for t in read_html_tables(m)}
    static = site / "area/E06000009/index.html"
    static_text = re.sub(r"\s+", " ", __import__("html").unescape(re.sub(r"<[^>]+>", " ", static.read_text())))
    static_tables = _static_tables(static)

    # sentences: every comparison sentence of the app's "At a glance" and peer group, word for word
    sentences = [s for s in re.split(r"\n|- ", app_text) if s.startswith("Blackpool’s ")]
    assert len(sentences) >= 2   # against England; its region and peers are too thin here for a figure
    for sentence in sentences:
        assert sentence.strip() in static_text, sentence
    # values and comparisons: the tables the app draws, cell for cell
    shared = [c for c in app_tables if c in static_tables]
    assert "Blackpool, its region and England: each indicator at its latest period" in shared
    assert "Indicators that cannot be compared for Blackpool, and why" in shared
    assert "Completions (opiate) over time (%)" in shared
    for caption in shared:
        assert app_tables[caption].equals(static_tables[caption]), caption
    spine = static_tables["Blackpool, its region and England: each indicator at its latest period"]
    deaths = spine.set_index("Indicator").loc["Drug-misuse deaths"]
    assert (deaths["Blackpool"], deaths["England"], deaths["Compared with England"]) == ("19.4", "5.1",
                                                                                         "Worse than England")
    # the charts: the same SVG
    app_charts = [m for m in markups(at) if m.startswith("<figure")]
    page = static.read_text()
    for chart in app_charts:
        assert chart in page


def test_static_scorecard_is_the_apps(site, warehouse, monkeypatch):
    """The static scorecard shows the app's default view: the same table and sentences, every area linked to its
    static profile, and the CSV the app's download gives for that view."""
    import json

    from streamlit.testing.v1 import AppTest
    from test_pages import DASHBOARD

    from indicators.present import scorecard as sc
    from indicators.products import downloads, queries

    monkeypatch.setenv("INDICATORS_DB", str(warehouse))
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.switch_page("pages/scorecard.py")
    at.run()
    assert not at.exception
    app_tables = [t for e in at.get("bidi_component") for t in read_html_tables(json.loads(e.proto.json))]
    static = read_html_tables((site / "scorecard" / "index.html").read_text(encoding="utf-8"))
    assert static[0].equals(app_tables[0]) and len(static[0]) == len(CURRENT) + 1
    links = parse(site / "scorecard" / "index.html").refs
    names = {code: name for code, name, *_ in AREAS} | {"E06000065": "North Yorkshire"}
    assert [ref for tag, ref in links if ref.startswith("../area/")] == [
        f"../area/{c}/" for c in sorted(CURRENT + ["E06000065"], key=lambda c: names[c])]
    con = queries.connect(warehouse)
    try:
        rows = sc.chosen(queries.scorecard(con), None, "area")
        build_id = queries.build_info(con)["build_id"]
    finally:
        con.close()
    (csv,) = (site / "scorecard").glob("*_scorecard_*.csv")
    assert csv.read_bytes() == downloads.view_csv(sc.csv_rows(rows), build_id=build_id)
    page = (site / "scorecard" / "index.html").read_text(encoding="utf-8")
    for sentence in sc.summary(queries.scorecard(queries.connect(warehouse))):
        assert html.escape(sentence, quote=False) in page


def test_static_map_is_the_apps_map(site, warehouse, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_pages import DASHBOARD, markups

    monkeypatch.setenv("INDICATORS_DB", str(warehouse))
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.query_params["indicator"] = "deaths_drug_misuse"
    at.run()
    legend_above, main, legend, inset = markups(at)  # the legend twice: above the map on a phone, beside it wider
    assert legend_above == legend
    page = (site / "map/deaths_drug_misuse/index.html").read_text()

    def unlinked(markup):
        return re.sub(r'href="[^"]*"', "", markup)

    # the same areas, colours, names and link texts; only the addresses differ (the app's ?area=, the site's folders)
    static_main = re.search(r'<figure class="ind-map ind-map-main">.*?</figure>', page, re.S).group(0)
    app_main = re.search(r'<figure class="ind-map ind-map-main">.*?</figure>', main, re.S).group(0)  # (the app
    assert unlinked(static_main) == unlinked(app_main)  # also has a skip link before it and its target after it)
    assert legend in page
    assert re.findall(r'href="([^"]*)"', static_main)[0].startswith("../../area/E")


# --------------------------------------------------------------------------- the build from the official files

@pytest.fixture(scope="module")
def real_site(shared_raw, tmp_path_factory):
    from browser_support import build_real_warehouse

    work = tmp_path_factory.mktemp("real")
    db = build_real_warehouse(work, shared_raw)
    out = work / "site"
    publish.publish(db, out, app_url=APP, workers=2)
    return db, out


def test_real_build_every_area_and_indicator_and_every_link(real_site):
    from indicators.products import queries

    db, out = real_site
    con = queries.connect(db)
    try:
        areas = queries.upper_tier_areas(con)["area_code"].tolist()
        indicators = queries.indicators(con)["indicator_id"].tolist()
    finally:
        con.close()
    assert len(areas) >= 150
    pages = walk(out, APP)
    assert not [c for c in areas if f"area/{c}/index.html" not in pages]
    assert not [i for i in indicators if f"map/{i}/index.html" not in pages]
    scorecard = read_html_tables((out / "scorecard" / "index.html").read_text(encoding="utf-8"))[0]
    assert len(scorecard) == len(areas)  # one row per current area


@pytest.mark.parametrize("page, params, twin", [
    ("pages/area.py", {"area": "E06000009"}, "area/E06000009/"),
    ("pages/map.py", {"indicator": "deaths_drug_misuse"}, "map/deaths_drug_misuse/"),
    ("pages/map.py", {"indicator": "completion_opiate", "period": "2019/20"}, "map/completion_opiate/"),
    ("pages/about.py", {}, "about/"),
    ("pages/scorecard.py", {}, "scorecard/"),
    ("pages/lottery.py", {}, None),
    ("pages/area.py", {}, None),
])
def test_app_pages_link_to_their_static_twins(site, warehouse, monkeypatch, page, params, twin):
    """With the site's address configured, the app's footer links to the static page of the same view, which exists."""
    from streamlit.testing.v1 import AppTest
    from test_pages import DASHBOARD

    monkeypatch.setenv("INDICATORS_DB", str(warehouse))
    monkeypatch.setenv("INDICATORS_SITE_URL", SITE)
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    if page != "pages/map.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    lines = [m.value for m in at.markdown if "as a static page" in m.value]
    if twin is None:
        assert not lines
        return
    assert len(lines) == 1 and re.findall(r"\(<([^>]*)>\)", lines[0]) == [SITE + twin]
    assert (site / twin / "index.html").is_file()
    monkeypatch.delenv("INDICATORS_SITE_URL")
    at.run()
    assert not [m for m in at.markdown if "as a static page" in m.value]


def test_worker_processes_write_the_same_site(warehouse, tmp_path):
    """The area profiles shared out between two processes: the same files, byte for byte, as one process writes."""
    one, two = tmp_path / "one", tmp_path / "two"
    publish.publish(warehouse, one, app_url=APP, workers=1)
    report = publish.publish(warehouse, two, app_url=APP, workers=2)
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert [f for f in files if (one / f).read_bytes() != (two / f).read_bytes()] == []
    assert report.files == len(files) and "area/E06000009/index.html" in {f.as_posix() for f in files}


def test_a_synthetic_warehouse_says_so_on_every_page(tmp_path):
    """A warehouse built from synthetic test data (published.build_info.synthetic) publishes a site that says so at the
    top of every page, embeds included, and in its downloads."""
    import duckdb

    from indicators.pipeline.synthetic import NOTICE

    db = make_warehouse(tmp_path / "synthetic.duckdb")
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE published.build_info ADD COLUMN synthetic BOOLEAN DEFAULT true")
    con.execute("UPDATE published.build_info SET synthetic = true")
    con.close()
    out = tmp_path / "site"
    publish.publish(db, out, app_url=APP)
    pages = list(out.rglob("*.html"))
    assert len(pages) > 15
    for path in pages:
        body = path.read_text(encoding="utf-8")
        assert re.search(r'<main id="main">\s*<p class="warning" role="note"><strong>' + re.escape(NOTICE), body), path
    assert "synthetic" in (out / "map/deaths_drug_misuse/deaths_drug_misuse_map-metadata_2026-11-01.md").read_text().lower()
