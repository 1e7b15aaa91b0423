"""Every dashboard page, headless with Streamlit's AppTest, on the invented warehouse of tests/support.py:
normal data, an indicator without rows, an area whose figures are all suppressed or missing, hostile URL
parameters, and no warehouse at all. No page may show an exception."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from browser_support import MARKUP_COMPONENT
from conftest import REPO
from streamlit.testing.v1 import AppTest
from support import SQUARES, VALUES, make_warehouse, read_html_tables

from indicators.present import text as text_module

DASHBOARD = str(REPO / "dashboard.py")
PAGES = ["pages/map.py", "pages/lottery.py", "pages/area.py", "pages/compare.py", "pages/about.py",
         "pages/availability.py", "pages/downloads.py"]
TITLES = {"pages/map.py": "Deaths related to drug misuse", "pages/lottery.py": "The postcode lottery",
          "pages/area.py": "Area profile", "pages/compare.py": "Compare areas", "pages/about.py": "About the data",
          "pages/availability.py": "Data availability", "pages/downloads.py": "Download the data"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return make_warehouse(tmp_path_factory.mktemp("pages") / "fixture.duckdb")


@pytest.fixture(scope="module")
def suppressed_warehouse(tmp_path_factory):
    """Camden (E09000007): every figure suppressed or missing."""
    values = []
    for row in VALUES:
        if row[1] == "E09000007":
            row = row[:3] + (None,) * 7 + (row[0].startswith("deaths"),
                                           "Value suppressed: small numbers" if row[0].startswith("deaths")
                                           else "No figure for this area and period in the source files used "
                                                "for this build.", "not compared", "not compared")
        values.append(row)
    return make_warehouse(tmp_path_factory.mktemp("suppressed") / "suppressed.duckdb", values=values)


@pytest.fixture(scope="module")
def restricted_warehouse(tmp_path_factory):
    """The fixture plus an indicator that is not published for areas (restricted), with no rows."""
    path = make_warehouse(tmp_path_factory.mktemp("restricted") / "restricted.duckdb")
    con = duckdb.connect(str(path))
    try:
        con.execute("""INSERT INTO published.indicators BY NAME
                       SELECT 'naloxone_clients' AS indicator_id, 'naloxone' AS family,
                              'People in treatment issued naloxone' AS title, 'Naloxone (clients)' AS short_title,
                              'Invented.' AS definition, '' AS caveats, '%' AS unit, 'proportion' AS value_type,
                              100.0 AS multiplier, 'high_is_good' AS polarity, 'wilson' AS ci_method,
                              'financial year' AS period_type, '' AS suppression, 'OHID' AS publisher,
                              'none' AS publisher_id, 'ndtms' AS source_ids, 'counts' AS reaggregate,
                              'restricted' AS publication_status,
                              'Commissioners receive it in restricted reports.' AS status_note""")
    finally:
        con.close()
    return path


def run(monkeypatch, db, page: str | None = None, params: dict | None = None) -> AppTest:
    monkeypatch.setenv("INDICATORS_DB", str(db))
    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    if page and page != "pages/map.py":
        at.switch_page(page)
    return at.run()


# A link to the glossary on the About page (indicators.present.glossary): its label is what the reader sees.
GLOSSARY_LINK = re.compile(r"(?<!\\)\[((?:[^\]\\]|\\.)*)\]\(about#glossary-[a-z0-9-]+\)")


def plain(markdown: str) -> str:
    """Markdown source as the words a reader sees, for text from the data that the page escaped (text.md_escape)
    and the glossary links it made."""
    return re.sub(r"\\(.)", r"\1", GLOSSARY_LINK.sub(r"\1", markdown))


def markups(at: AppTest) -> list[str]:
    """The markup the page put in with ui.markup (the map, its legend and the London inset), in page order."""
    return [json.loads(e.proto.json) for e in at.get("bidi_component") if e.proto.component_name == MARKUP_COMPONENT]


def tables(at: AppTest) -> list:
    """The page's HTML tables (indicators.present.htmltable, put in with ui.markup) as frames of cell text."""
    return [t for m in markups(at) for t in read_html_tables(m)]


def not_possible(at: AppTest):
    """The area profile's table of comparisons that cannot be made, indexed by indicator."""
    return [t for t in tables(at) if list(t.columns) == ["Indicator", "Period", "Why"]][0].set_index("Indicator")


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                  "error") for e in getattr(at, kind)] + markups(at)
    return plain("\n".join(str(p) for p in parts))  # as read, without Markdown escapes and glossary links


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(monkeypatch, warehouse, page):
    at = run(monkeypatch, warehouse, page)
    no_exception(at)
    assert at.title[0].value == TITLES[page]
    assert not at.error
    body = texts(at)
    assert "Open Government Licence v3.0" in body
    assert "Data build 2026-11-01" in body and "20261101-fixture0001" in body
    assert "Office for National Statistics" in body
    assert [s.label for s in at.sidebar.selectbox] == ["Indicator", "Period", "Area"]
    assert not any("Downloads are unavailable" in w.value for w in at.warning)


def test_map_writes_and_restores_its_state(monkeypatch, warehouse):
    params = {"indicator": "completion_opiate", "period": "2019/20", "area": "E06000009", "colour": "value"}
    at = run(monkeypatch, warehouse, "pages/map.py", params)
    no_exception(at)
    assert not at.warning
    assert plain(at.title[0].value) == "Successful completion of drug treatment: opiate users"
    assert at.sidebar.selectbox(key="w_indicator").value == "completion_opiate"
    assert at.sidebar.selectbox(key="w_period").value == "2019/20"
    assert at.sidebar.selectbox(key="w_area").value == "E06000009"
    assert at.radio[0].value == "value"
    assert at.query_params == params
    assert "England, 2019/20" in texts(at)
    assert any(link.label == "Open the profile of Blackpool" for link in at.get("page_link"))
    at.sidebar.selectbox(key="w_indicator").set_value("deaths_drug_misuse").run()
    no_exception(at)
    assert at.query_params == {"indicator": "deaths_drug_misuse", "period": "2019-21", "area": "E06000009",
                               "colour": "value"}


def test_map_markup(monkeypatch, warehouse):
    """The map, its legend and the London inset, as the page sends them (ui.markup): one link per area with a
    boundary, named with its value, interval and comparison; London's boroughs alone in the inset."""
    at = run(monkeypatch, warehouse, "pages/map.py", {"indicator": "deaths_drug_misuse", "period": "2019-21",
                                                      "area": "E06000009"})
    no_exception(at)
    legend_above, main, legend, inset = markups(at)  # the legend twice: above the map on a phone, beside it
    assert legend_above == legend
    assert main.startswith('<a class="ind-skip" href="#ind-map-end">Skip the map</a><figure class="ind-map '
                           'ind-map-main"><svg')
    assert main.endswith('</svg></figure><span id="ind-map-end" class="ind-map-end" tabindex="-1"></span>')
    links = re.findall(r'<a href="area\?([^"]*)" target="_self" aria-label="([^"]*)">', main)
    assert sorted(re.search(r"area=(\w+)", href).group(1) for href, _ in links) == sorted(SQUARES)
    blackpool = next(label for href, label in links if href.endswith("area=E06000009"))
    assert blackpool.startswith("Blackpool. 19.4 per 100,000. 95% interval: ") and "Worse than England" in blackpool
    assert main.count('class="ind-map-chosen"') == 1  # the chosen area outlined
    tags = [re.sub(r'"[^"]*"', '""', tag) for tag in re.findall(r"<[^>]*>", main)]
    assert not [tag for tag in tags if tag.startswith("<script") or re.search(r"\son\w*=", tag)]  # no script
    assert legend.startswith('<ul class="ind-map-legend"') and "Worse than England (" in legend
    # The inset repeats London's boroughs: clickable, but out of the tab order and hidden from screen readers.
    assert inset.startswith('<figure class="ind-map ind-map-london" aria-hidden="true">')
    assert sorted(re.findall(r"area=(\w+)", inset)) == ["E09000007", "E09000012", "E09000033"]
    assert len(re.findall(r'<a href="[^"]*" target="_self" aria-label="[^"]*" tabindex="-1">', inset)) == 3


def test_map_table_twin_on_request(monkeypatch, warehouse):
    """The sortable table of every area appears when asked for, with the same rows as the map."""
    at = run(monkeypatch, warehouse, "pages/map.py", {"indicator": "deaths_drug_misuse", "period": "2019-21"})
    no_exception(at)
    assert not at.dataframe  # nothing heavy before the map is drawn
    at.toggle(key="map_table").set_value(True).run()
    no_exception(at)
    table = at.dataframe[0].value
    value = "Value, per 100,000 (age-standardised)"
    assert len(table) == 6 and list(table.columns[:5]) == ["Area", "Region", value, "95% lower", "95% upper"]
    blackpool = table.set_index("Area").loc["Blackpool"]
    assert blackpool[value] == pytest.approx(19.4)
    assert blackpool["Compared with England"] == "Worse than England"
    assert blackpool["Period"] == "2019–21"


def test_permalink_to_an_area(monkeypatch, warehouse):
    at = run(monkeypatch, warehouse, "pages/area.py", {"area": "E06000009", "peers": "cipfa"})
    no_exception(at)
    assert at.title[0].value == "Blackpool"
    body = texts(at)
    assert ("Blackpool’s drug-misuse death rate, 19.4 per 100,000 in 2019–21 (95% interval 16.0 to 23.3), is "
            "significantly higher than England’s 5.1") in body
    # The rest of the North West is Manchester alone: no regional figure, and the page says why.
    assert ("No comparison with the rest of North West: only 1 of the group's 2 other areas has a value for this "
            "period; a group figure needs at least 3.") in body
    assert "North West’s" not in body
    assert at.radio[0].value == "cipfa"
    assert at.query_params["area"] == "E06000009" and at.query_params["peers"] == "cipfa"
    # Drawn on the server (indicators.present.svgcharts, indicators.present.htmltable): no plotly.js and no data grid
    # for the page people share. No spine chart: no indicator has 10 areas with a value here.
    assert "no spine chart" in body
    charts = [m for m in markups(at) if m.startswith("<figure")]
    assert all(c.startswith('<figure class="ind-chart ind-trend">') for c in charts) and len(charts) >= 1
    assert not at.get("plotly_chart") and not at.dataframe
    spine = [t for t in tables(at) if t.attrs["caption"].startswith("Blackpool, its region and England")][0]
    deaths = spine.set_index("Indicator").loc["Drug-misuse deaths"]
    assert (deaths["Period"], deaths["Blackpool"], deaths["England"], deaths["Rest of region"],
            deaths["Compared with England"]) == ("2019–21", "19.4", "5.1", "–", "Worse than England")
    peers = [t for t in tables(at) if list(t.columns) == ["Peer", "Why"]][0]
    assert peers.attrs["caption"] == "1 peer, and why it is one"
    assert peers["Why"].tolist() == ["CIPFA nearest neighbour, rank 1 of the 15 most similar"]
    # One CIPFA peer is not a group: no figure, and the reason.
    assert ("Drug-misuse deaths: no comparison with the peer group: only 1 of the group's 1 other area has a value "
            "for this period; a group figure needs at least 3.") in body
    assert "the peer group’s" not in body
    assert "Completions (alcohol)" in not_possible(at).index
    trend = [t for t in tables(at) if t.attrs["caption"] == "Completions (opiate) over time (%)"][0]
    assert list(trend.columns) == ["Period", "Blackpool", "Blackpool: 95% interval", "Blackpool: count",
                                   "North West", "North West: 95% interval", "England", "England: 95% interval"]


def test_area_with_enough_areas_has_its_spine_region_and_peers(monkeypatch, tmp_path):
    from support import make_spread_warehouse

    db = make_spread_warehouse(tmp_path / "spread.duckdb", n_areas=24)
    at = run(monkeypatch, db, "pages/area.py", {"area": "E06000905", "peers": "region"})
    no_exception(at)
    body = texts(at)
    charts = [m for m in markups(at) if m.startswith("<figure")]
    assert charts[0].startswith('<figure class="ind-chart ind-spine"') and "Area 05:" in charts[0]
    assert "Area 05’s figure for “successful completion of drug treatment: opiate users”" in body
    assert re.search(r"than (the rest of Region One|the peer group)’s \d", body)
    spine = [t for t in tables(at) if t.attrs["caption"].startswith("Area 05, its region and England")][0]
    assert spine.set_index("Indicator").loc["Drug-misuse deaths", "Rest of region"] != "–"


def test_area_page_without_an_area_asks_for_one(monkeypatch, warehouse):
    at = run(monkeypatch, warehouse, "pages/area.py")
    no_exception(at)
    assert "Choose an area" in at.info[0].value


def test_area_whose_figures_are_all_suppressed_or_missing(monkeypatch, suppressed_warehouse):
    for page in ("pages/area.py", "pages/map.py", "pages/compare.py", "pages/lottery.py"):
        at = run(monkeypatch, suppressed_warehouse, page, {"area": "E09000007", "peers": "neighbours"})
        no_exception(at)
    at = run(monkeypatch, suppressed_warehouse, "pages/area.py", {"area": "E09000007"})
    body = texts(at)
    assert "Camden’s drug-misuse death rate for 2019–21 was withheld by the publisher" in body
    assert "No indicator has a value for Camden, so there are no trends to draw." in body
    assert not_possible(at).loc["Drug-misuse deaths", "Why"].startswith("withheld by the publisher")


@pytest.mark.parametrize("page", ["pages/map.py", "pages/lottery.py", "pages/compare.py", "pages/area.py"])
def test_indicator_without_rows(monkeypatch, warehouse, page):
    at = run(monkeypatch, warehouse, page, {"indicator": "completion_alcohol", "area": "E06000009"})
    no_exception(at)
    assert not at.warning or page == "pages/lottery.py"
    body = texts(at)
    if page != "pages/area.py":
        assert "No data for “Successful completion of alcohol treatment”" in body or "no data" in body
    assert at.sidebar.selectbox(key="w_indicator").value == "completion_alcohol"
    assert "w_period" not in [s.key for s in at.sidebar.selectbox]


HOSTILE = {"indicator": "'; DROP TABLE published.indicators; --", "period": "<script>alert(1)</script>",
           "area": "X" * 10_000, "peers": "1 OR 1=1", "colour": "red", "completion": "../../etc/passwd",
           "adjusted": "perhaps"}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_params_fall_back_with_notices(monkeypatch, warehouse, page):
    at = run(monkeypatch, warehouse, page, HOSTILE)
    no_exception(at)
    notices = [w.value for w in at.warning]
    assert any("is not an indicator of this dashboard" in n for n in notices)
    assert any("too long (10,000 characters)" in n for n in notices)
    assert any("`peers`" in n for n in notices) and any("`colour`" in n for n in notices)
    echoed = [m for n in notices for m in re.findall(r"`\w+` \(([^)]*)\)", n)]
    assert echoed and not set("".join(echoed)) & set("<>;'=`[]")  # echoes of the input are sanitised
    assert at.query_params.get("indicator") in (None, "deaths_drug_misuse")
    assert "area" not in at.query_params
    at.run()  # the next interaction: the URL is now the app's own, so the notices are gone
    no_exception(at)
    assert not any("The link's" in w.value for w in at.warning)


@pytest.mark.parametrize("page", PAGES)
def test_missing_warehouse(monkeypatch, tmp_path, page):
    at = run(monkeypatch, tmp_path / "nowhere.duckdb", page)
    no_exception(at)
    assert "The dashboard has no data to show" in at.error[0].value
    assert "uv run indicators build" in at.error[0].value


def test_file_that_is_not_a_warehouse(monkeypatch, tmp_path):
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_text("not a database")
    at = run(monkeypatch, bogus)
    no_exception(at)
    assert "not a warehouse built by" in at.error[0].value or "no data to show" in at.error[0].value


def test_indicator_not_published_for_areas(monkeypatch, restricted_warehouse):
    at = run(monkeypatch, restricted_warehouse, "pages/map.py", {"indicator": "naloxone_clients", "area": "E06000009"})
    no_exception(at)
    assert "is not published for individual areas (Commissioners receive it in restricted reports)" in \
        plain(at.info[0].value)
    assert "Not published for areas (6)</li>" in texts(at)  # the legend
    at = run(monkeypatch, restricted_warehouse, "pages/area.py", {"area": "E06000009"})
    no_exception(at)
    assert not_possible(at).loc["Naloxone (clients)", "Why"].startswith("not published for individual areas")


def test_count_only_area_profile(monkeypatch, warehouse):
    """Issue 13: Cumberland's deaths are a count re-aggregated from its districts, with no rate. The summary,
    the spine chart and the tables say so; the count is not denied by 'no figure'."""
    at = run(monkeypatch, warehouse, "pages/area.py", {"area": "E06000063"})
    no_exception(at)
    body = texts(at)
    assert ("Cumberland: 60 drug-misuse deaths in 2019–21, a count with no rate. Cumberland did not exist in this "
            "period; the count is the sum of its 3 former districts.") in body
    assert "2 of 3 indicators have no figure for Cumberland" in body            # opiate and alcohol completions
    # No spine chart: this invented warehouse has fewer than 10 areas with a value (the spread's minimum).
    assert not [m for m in markups(at) if m.startswith('<figure class="ind-chart ind-spine"')]
    table = [t for t in tables(at) if t.attrs["caption"].startswith("Cumberland, its region and England")][0]
    deaths = table.set_index("Indicator").loc["Drug-misuse deaths"]
    assert (deaths["Count"], deaths["Compared with England"]) == ("60", "Count only, no rate (boundary change)")
    assert not_possible(at).loc["Drug-misuse deaths", "Why"].startswith("a count (60) but no rate, so no comparison")


def test_cipfa_peers_not_in_the_build_say_how_to_get_them(monkeypatch, warehouse):
    """Issue 13: Camden has no CIPFA neighbours in this warehouse: the group is still offered and says it is
    not loaded, and where the page that says how to add it is (the command is on About the data), rather than
    vanishing."""
    at = run(monkeypatch, warehouse, "pages/area.py", {"area": "E09000007", "peers": "cipfa"})
    no_exception(at)
    assert "cipfa" in at.radio[0].options or "CIPFA nearest neighbours" in at.radio[0].options
    assert at.query_params["peers"] == "cipfa"
    info = plain(" ".join(i.value for i in at.info))
    assert "CIPFA nearest neighbours are not loaded" in info and "About the data" in info
    assert "indicators fetch" not in info
    at = run(monkeypatch, warehouse, "pages/about.py")
    assert any("uv run indicators fetch --source cipfa_neighbours" in c.value for c in at.code)


def test_lottery_with_nine_areas_shows_no_gap_statistic_and_says_why(monkeypatch, tmp_path):
    from support import make_spread_warehouse

    db = make_spread_warehouse(tmp_path / "nine.duckdb", n_areas=9)
    at = run(monkeypatch, db, "pages/lottery.py", {"indicator": "completion_opiate"})
    no_exception(at)
    infos = [i.value for i in at.info]
    assert "No gap measure for 2019/20: 9 areas have a value for this period; gap measures need at least 10." in infos
    assert ("No funnel plot for this indicator and period: 9 areas have both a value and a denominator for this "
            "period; a funnel plot needs at least 10.") in infos
    body = texts(at)
    assert "times the value" not in body and "Best fifth" not in body and "I²" not in body
    assert "it needs at least 10 areas with both figures, and 9 areas have them" in body


def test_lottery_with_enough_areas_shows_the_gap(monkeypatch, tmp_path):
    from support import make_spread_warehouse

    db = make_spread_warehouse(tmp_path / "twelve.duckdb", n_areas=12)
    at = run(monkeypatch, db, "pages/lottery.py", {"indicator": "deaths_drug_misuse"})
    no_exception(at)
    body = texts(at)
    assert "12 areas have a value for 2018–20." in body and "times the value of the area at the 10th" in body
    assert "Illustrative only" in body
    assert len(at.get("plotly_chart")) >= 2   # the funnel plot and the balance view


def test_compare_never_compares_an_area_with_a_group_of_itself(monkeypatch, warehouse):
    """Blackpool's one CIPFA neighbour is not a group: no group value, no comparison, and the reason."""
    at = run(monkeypatch, warehouse, "pages/compare.py",
             {"indicator": "deaths_drug_misuse", "area": "E06000009", "peers": "cipfa"})
    no_exception(at)
    infos = " ".join(i.value for i in at.info)
    assert "No value for Blackpool's peers, so no comparison with them" in infos
    assert "a group figure needs at least 3" in infos
    table = at.dataframe[0].value.set_index("Area")
    assert table.loc["Blackpool", "Compared with its peers"] == "not compared"
    assert table["Compared with its peers"].isna().sum() == 1   # Manchester: never compared with a group
    assert "No ranks: rank intervals need at least 10 areas with a value; 2 have one here" in infos


def sidebar_captions(at: AppTest) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", c.value) for c in at.sidebar.caption]  # as read, without Markdown escapes


def test_area_search_finds_places_codes_and_says_why_not(monkeypatch, warehouse):
    """The Area box lists places after the areas ('Carlisle → Cumberland (formerly Cumbria)'); choosing one, or typing
    a district's GSS code or name, chooses its current area and says so; a postcode without the lookup file, and a
    name that matches nothing, keep the area and say why. The box in the page (for narrow screens) follows."""
    at = run(monkeypatch, warehouse, "pages/map.py", {"area": "E06000009"})
    box = at.sidebar.selectbox(key="w_area")
    assert "E07000028>E06000063" in box.options or "Carlisle → Cumberland (formerly Cumbria)" in box.options
    box.set_value("E07000028>E06000063").run()
    no_exception(at)
    assert at.sidebar.selectbox(key="w_area").value == "E06000063"
    assert at.selectbox(key="wi_area").value == "E06000063"
    assert at.query_params["area"] == "E06000063"
    assert "Carlisle is in Cumberland (formerly in Cumbria)." in sidebar_captions(at)
    at.selectbox(key="wi_area").set_value("E06000009").run()  # the box in the page, as on a phone
    no_exception(at)
    assert at.sidebar.selectbox(key="w_area").value == "E06000009" and at.query_params["area"] == "E06000009"
    assert not sidebar_captions(at)


def test_typed_area_search(warehouse):
    """What the Area box does with typed text (ui.choices.AreaSearch.resolve with queries.find_area): a district's
    GSS code or name chooses its area and says so; a postcode without the lookup file and a name that matches
    nothing keep the area (changed False) and say why."""
    from ui.choices import AreaSearch

    from indicators.products import queries

    search = AreaSearch(options=("E06000063", "E07000028>E06000063"), labels={
        "E06000063": "Cumberland", "E07000028>E06000063": "Carlisle → Cumberland (formerly Cumbria)"},
        places={}, targets={}, postcodes_loaded=False)
    con = queries.connect(warehouse)
    try:
        def find(typed):
            return queries.find_area(con, typed)

        assert search.resolve("e07000028", find) == ("E06000063", "Carlisle is in Cumberland (formerly in Cumbria).",
                                                      True)
        assert search.resolve("blackpool", find) == ("E06000009", None, True)
        assert search.resolve("E06000063", find) == ("E06000063", None, True)
        assert search.resolve(None, find) == (None, None, True)
        code, said, changed = search.resolve("PR1 2RL", find)
        assert (code, changed) == (None, False) and said.startswith(
            "“PR1 2RL” looks like a postcode, but postcodes need the ONS postcode to local authority lookup")
        assert search.resolve("Kendal", find)[1:] == (
            "No area matches “Kendal”. Type a council’s or a district’s name (for example Preston or Carlisle) or a "
            "GSS code.", False)
    finally:
        con.close()


def test_availability_family_is_in_the_address(monkeypatch, warehouse):
    """A shared link to the deaths view of the availability page opens on deaths; choosing a family writes it."""
    at = run(monkeypatch, warehouse, "pages/availability.py", {"family": "deaths"})
    no_exception(at)
    family = at.radio(key="w_family_availability")
    assert family.value == "deaths"
    family.set_value("completions").run()
    no_exception(at)
    assert at.query_params["family"] == "completions"
    at = run(monkeypatch, warehouse, "pages/availability.py")
    assert at.radio(key="w_family_availability").value == "completions" and "family" not in at.query_params


def test_home_page_says_what_the_dashboard_is_for(monkeypatch, warehouse):
    """Issue 16: the map does not open without an introduction: two plain sentences, under the title."""
    at = run(monkeypatch, warehouse, "pages/map.py")
    no_exception(at)
    first = re.sub(r"\\(.)", r"\1", at.markdown[0].value)
    assert first.startswith("This dashboard puts the results of drug and alcohol treatment in each local authority")
    assert first.count(". ") == 1 and "select an area on the map, or type a town or council in the Area box" in first


def test_embed_codes_point_at_the_static_site(monkeypatch, warehouse, tmp_path):
    """With the static site's address known, the map and the profile's charts offer the iframe code of their embed
    pages (indicators publish writes embed/map/<indicator>/, embed/area/<code>/spine/ and .../trend/<indicator>/);
    without it nothing is offered. (A spine chart needs 10 areas with a value: the invented spread warehouse.)"""
    from support import make_spread_warehouse

    monkeypatch.setenv("INDICATORS_SITE_URL", "https://site.example/")
    at = run(monkeypatch, warehouse, "pages/map.py", {"indicator": "deaths_drug_misuse"})
    no_exception(at)
    codes = [c.value for c in at.code]
    assert ('<iframe src="https://site.example/embed/map/deaths_drug_misuse/" title="Map: Deaths related to drug '
            'misuse" width="100%" height="760" style="border:0" loading="lazy"></iframe>') in codes
    at = run(monkeypatch, make_spread_warehouse(tmp_path / "spread.duckdb", n_areas=12), "pages/area.py",
             {"area": "E06000901"})
    no_exception(at)
    codes = [c.value for c in at.code]
    assert any('src="https://site.example/embed/area/E06000901/spine/"' in c for c in codes)
    assert any('src="https://site.example/embed/area/E06000901/trend/completion_opiate/"' in c for c in codes)
    monkeypatch.delenv("INDICATORS_SITE_URL")
    at = run(monkeypatch, warehouse, "pages/map.py")
    assert not [c for c in at.code if "<iframe" in c.value]


def test_theme_keeps_faded_text_readable():
    """Streamlit draws captions and a table's pinned columns (the league table's Area) in the theme's text colour at
    60% on white: with .streamlit/config.toml's textColor that is at least WCAG AA's 4.5:1 (the default gave 3.9:1)."""
    import tomllib

    theme = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["theme"]
    rgb = [int(theme["textColor"][i:i + 2], 16) for i in (1, 3, 5)]
    faded = [0.6 * c + 0.4 * 255 for c in rgb]

    def luminance(channels):
        lin = [(c / 255 / 12.92) if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    assert (1.05) / (luminance(faded) + 0.05) >= 4.5
    default = [0.6 * c + 0.4 * 255 for c in (0x31, 0x33, 0x3F)]
    assert (1.05) / (luminance(default) + 0.05) < 4.5  # why the colour is set


def test_downloads_licence_points_to_where_the_checksums_are(monkeypatch, warehouse):
    """The Downloads page lists no sources, so its licence line must not speak of 'the' sha256 as if it did: it
    says where the sources and their checksums are, and links there."""
    at = run(monkeypatch, warehouse, "pages/downloads.py")
    assert not at.exception
    said = " ".join(plain(m.value) for m in at.markdown)
    assert "sha256 is the checksum" not in said
    assert "sha256 checksum of the exact file the dashboard read, under Sources and licences on the About page" in said
    assert "Sources and licences (About the data)" in [link.label for link in at.get("page_link")]


def test_league_table_values_keep_the_indicators_decimals(monkeypatch, warehouse):
    """'2.0', not '2': the Value column and its interval show one decimal place, as every other figure does."""
    at = run(monkeypatch, warehouse, "pages/compare.py")
    assert not at.exception
    config = json.loads(at.dataframe[-1].proto.columns)
    for column in ("Value", "95% lower", "95% upper"):
        assert config[column]["type_config"] == {"type": "number", "format": "%.1f"}, column
    assert text_module.value_column_format({"value_type": "count"}) == "localized"
    assert text_module.value_column_format({"value_type": "proportion"}) == "%.1f"


def test_compare_offers_no_one_option_choice_without_an_area(monkeypatch, warehouse):
    """With no area there is only 'All areas in England': no 'Show' radio, and the page says what choosing an area
    would add. With an area, the choice of peer groups is there."""
    at = run(monkeypatch, warehouse, "pages/compare.py")
    assert not at.exception
    assert [r.label for r in at.radio if r.label == "Show"] == []
    assert any("Choose an area in the Area box to compare it with its peers" in m.value for m in at.markdown)
    at = run(monkeypatch, warehouse, "pages/compare.py", {"area": "E06000009"})
    assert not at.exception
    show = [r for r in at.radio if r.label == "Show"]
    assert len(show) == 1 and len(show[0].options) > 1
