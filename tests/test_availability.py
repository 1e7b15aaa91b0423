"""Data availability per area and family: the matrix on the invented warehouse and on the one built from the real files, ODN figures, the page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from support import make_warehouse, read_html_tables

from indicators.pipeline.build import publish_network_figures
from indicators.pipeline.sources import ukhsa_hcv_odn
from indicators.products import availability as av
from indicators.products import local_data as ld
from indicators.products import queries

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    """The invented warehouse with the harm families, both local-data fixtures imported and the ODN tables staged."""
    db = make_warehouse(tmp_path_factory.mktemp("availability") / "warehouse.duckdb", harm_families=True)
    ld.import_file(db, FIXTURES / "local_data" / "restricted_ndtms_2021-22.csv")
    ld.import_file(db, FIXTURES / "local_data" / "community_naloxone_public.csv")
    staged = ukhsa_hcv_odn.stage(sorted((FIXTURES / "ukhsa_hcv_odn").iterdir()))
    con = duckdb.connect(str(db))
    try:  # as the build publishes them
        for name, published in (("hcv_odn_values", "hcv_odn_values"), ("la_odn", "hcv_odn_areas")):
            con.register("_f", staged[name])
            con.execute(f"CREATE TABLE published.{published} AS SELECT * FROM _f")
            con.unregister("_f")
        publish_network_figures(con)
    finally:
        con.close()
    return db


@pytest.fixture
def con(fixture_db):
    connection = duckdb.connect(str(fixture_db), read_only=True)
    yield connection
    connection.close()


# Worked out by hand from tests/support.py (VALUES, HARM_VALUES) and the two local-data fixtures.
# HCV: every area in the ODN lookup has its network's figure (network-level); North Yorkshire is in none.
NET = "network-level figure"
EXPECTED = {
    # area: (completions, deaths, hcv, naloxone)
    "E06000009": ("open figure", "open figure", NET, "open figure"),                    # Blackpool: Release 2017/18
    "E09000007": ("open figure", "open figure", NET, "local data only"),                # Camden: public local row
    "E06000063": ("no data", "open figure", NET, "not published"),                      # Cumberland: count only
    "E09000012": ("suppressed", "open figure", NET, "local data only"),                 # Hackney
    "E08000003": ("open figure", "open figure", NET, "not published"),                  # Manchester: restricted only
    "E06000065": ("no data", "no data", "not published", "not published"),              # North Yorkshire
    "E09000033": ("open figure", "open figure", NET, "local data only"),                # Westminster
}


FAMILIES = ["completions", "deaths", "hcv", "naloxone"]


def test_matrix_statuses_on_the_fixture_warehouse(con):
    matrix = queries.availability_matrix(con)
    assert list(matrix.columns) == av.MATRIX_COLUMNS
    assert len(matrix) == 7 * 4
    assert av.side_by_side(queries.families(con)) == FAMILIES  # data/families.toml
    got = {code: tuple(part.set_index("family").loc[FAMILIES, "status"])
           for code, part in matrix.groupby("area_code")}
    assert got == EXPECTED
    assert list(matrix["area_name"].drop_duplicates()) == ["Blackpool", "Camden", "Cumberland", "Hackney",
                                                           "Manchester", "North Yorkshire", "Westminster"]
    assert (matrix["status_label"] == matrix["status"].map(av.STATUS_LABELS)).all()


def test_matrix_details(con):
    m = queries.availability_matrix(con).set_index(["area_code", "family"])
    blackpool = m.loc[("E06000009", "naloxone")]
    assert (blackpool["latest_open_period"], blackpool["sources"], blackpool["figure_status"]) == (
        "2017/18", "release_foi", "foi")
    assert "Freedom of Information survey; licence not stated" in blackpool["note"]
    assert m.loc[("E06000009", "completions"), "latest_open_period"] == "2020/21"   # newest of 2019/20, 2020/21
    assert m.loc[("E06000063", "deaths"), "latest_open_period"] == "2019-21"       # a count without a rate
    camden = m.loc[("E09000007", "naloxone")]
    assert (camden["has_open_figure"], camden["latest_local_period"], camden["sources"]) == (
        False, "2022/23", "local:community_naloxone_public")
    # Manchester's restricted naloxone and HCV rows are not public: they do not count.
    assert m.loc[("E08000003", "naloxone"), "latest_local_period"] == ""
    assert m.loc[("E08000003", "hcv"), "per_area_status"] == "restricted"
    assert m.loc[("E06000009", "naloxone"), "per_area_status"] == "foi"
    assert m.loc[("E09000007", "deaths"), "per_area_status"] == "open"
    # HCV: open only per ODN; the note gives the network's latest figure, labelled as the network's.
    assert m.loc[("E09000007", "hcv"), "note"] == (
        "Figure for Fixture Network London (covers 3 areas): 80 in 2021/22 (latest), for the whole network, never "
        "split between its areas.")
    assert m.loc[("E09000007", "hcv"), "has_open_figure"] == False  # noqa: E712 (not the area's own figure)
    assert "network" not in m.loc[("E06000065", "hcv"), "note"]


def test_national_summary_sentences(con):
    assert av.national_summary(queries.availability_matrix(con), queries.families(con)) == [
        "4 of 7 areas have any open treatment-completion figure (latest period 2020/21; 1 is suppressed; "
        "2 have no data in the files used).",
        "6 of 7 areas have any open drug-related deaths figure (latest period 2019-21; 1 has no data in the files used).",
        "0 of 7 areas have any open hepatitis C figure (6 have only their HCV network's figure, for all the "
        "network's areas; 1 is not published openly per area).",
        "1 of 7 areas has any open naloxone figure (1 of them only from a Freedom of Information survey, licence "
        "not stated; latest period 2017/18; 3 have local data only; 3 are not published openly per area).",
    ]


def test_statuses_are_worded_and_drawn_distinctly():
    for mapping in (av.STATUS_LABELS, av.STATUS_COLOURS, av.STATUS_SYMBOLS, av.STATUS_DESCRIPTIONS):
        assert set(mapping) == set(av.STATUSES)
        assert len(set(mapping.values())) == len(av.STATUSES)
    for a, b in ((av.NOT_PUBLISHED, av.SUPPRESSED), (av.NOT_PUBLISHED, av.NO_DATA), (av.SUPPRESSED, av.NO_DATA)):
        assert av.STATUS_LABELS[a].split()[0] != av.STATUS_LABELS[b].split()[0]
        assert av.STATUS_COLOURS[a] != av.STATUS_COLOURS[b]


def test_per_area_status_ignores_odn_regional_and_national_sources():
    items = [{"source": "ukhsa", "status": "open", "geography": "HCV operational delivery network"},
             {"source": "uam", "status": "open", "geography": "region"},
             {"source": "ndtms", "status": "restricted", "geography": "upper-tier local authority"}]
    assert av.per_area_status("open", items) == "restricted"
    assert av.per_area_status("open", []) == "open"
    assert av.per_area_status("foi", items[:2]) == "not collected"


def test_odn_values_for_an_area_list_the_member_areas(con):
    camden = queries.odn_values_for_area(con, "E09000007")
    assert list(camden.columns) == av.ODN_COLUMNS
    assert list(camden["period_label"]) == ["2020/21", "2021/22"]
    assert camden["value"].isna().tolist() == [True, False] and camden["is_suppressed"].tolist() == [True, False]
    assert camden["value"].iloc[1] == 80.0
    assert set(camden["n_member_areas"]) == {3}
    assert set(camden["member_area_names"]) == {"Camden, Hackney, Westminster"}
    assert av.odn_caption(camden) == (
        "HCV treatment starts in your area's HCV network: figure for Fixture Network London (covers 3 areas: Camden, "
        "Hackney, Westminster). A figure for the whole network, never split between its areas and not this area's own.")
    north = queries.odn_values_for_area(con, "E06000063")
    assert list(north["value"]) == [120.0, 150.0] and set(north["member_area_codes"]) == {
        "E06000009, E06000063, E08000003"}
    assert queries.odn_values_for_area(con, "E06000065").empty
    assert av.odn_caption(queries.odn_values_for_area(con, "E06000065")) == ""


def test_odn_values_are_empty_without_the_network_tables(tmp_path):
    db = make_warehouse(tmp_path / "plain.duckdb")
    plain = duckdb.connect(str(db), read_only=True)
    try:
        frame = queries.odn_values_for_area(plain, "E09000007")
        matrix = queries.availability_matrix(plain)
    finally:
        plain.close()
    assert frame.empty and list(frame.columns) == av.ODN_COLUMNS
    # Without the harm families in its catalogue the warehouse knows nothing of them: "no data", not a guess.
    assert set(matrix.loc[matrix["family"].isin(["hcv", "naloxone"]), "status"]) == {"no data"}


def test_map_has_one_trace_per_status_with_fixed_colours(con):
    matrix = queries.availability_matrix(con)
    geojson = {"type": "FeatureCollection", "features": []}
    fig = av.availability_map(matrix, geojson, "naloxone", "Take-home naloxone")
    assert [t.name.rsplit(" (", 1)[0] for t in fig.data] == [f"{av.STATUS_SYMBOLS[s]} {av.STATUS_LABELS[s]}"
                                                         for s in av.STATUSES]
    by_status = {s: t for s, t in zip(av.STATUSES, fig.data)}
    assert list(by_status[av.OPEN_FIGURE].locations) == ["E06000009"]
    assert sorted(by_status[av.LOCAL_ONLY].locations) == ["E09000007", "E09000012", "E09000033"]
    assert len(by_status[av.NOT_PUBLISHED].locations) == 3
    # Statuses no area has still appear in the legend, with a count of 0.
    assert by_status[av.NO_DATA].type == "scattergeo" and by_status[av.NO_DATA].name.endswith("(0)")
    assert by_status[av.NO_DATA].marker.color == av.STATUS_COLOURS[av.NO_DATA]
    for status in (av.OPEN_FIGURE, av.LOCAL_ONLY, av.SUPPRESSED, av.NOT_PUBLISHED):
        if by_status[status].type == "choropleth":
            assert by_status[status].colorscale[0][1] == av.STATUS_COLOURS[status]


def test_table_has_a_column_per_family(con):
    table = av.availability_table(queries.availability_matrix(con), queries.families(con))
    assert list(table.columns) == ["Area", "Code", "Region", "Successful completions", "Drug-related deaths",
                                   "Hepatitis C treatment", "Take-home naloxone"]
    hackney = table.set_index("Code").loc["E09000012"]
    assert hackney["Successful completions"] == "✱ Suppressed by the publisher"
    assert hackney["Take-home naloxone"] == "◐ Local data only (not official statistics) (2022/23)"
    assert hackney["Hepatitis C treatment"] == "◇ Network-level figure only (not this area's own)"
    assert table.set_index("Code").loc["E06000065", "Hepatitis C treatment"] == "⊘ Not published for this area"


def test_family_sources_come_from_the_catalogue(con):
    hcv = av.family_sources(queries.indicators(con), "hcv")
    assert set(hcv["source"]) == {"ndtms", "ukhsa_hcv_odn"}
    assert hcv.set_index("source").loc["ukhsa_hcv_odn", "geography"] == "HCV operational delivery network"


# --------------------------------------------------------------------------- the real files

@pytest.fixture(scope="module")
def real_db(real_raw, tmp_path_factory) -> Path:
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    root = tmp_path_factory.mktemp("real_availability")
    fetch_all(root / "raw", mirror=real_raw, progress=False)
    build(root / "raw", root / "warehouse.duckdb")
    return root / "warehouse.duckdb"


def test_availability_of_the_real_warehouse(real_db, shared_raw_is_whole):
    n = 153 if shared_raw_is_whole else 13  # the vendored cuts hold 13 current areas
    con = duckdb.connect(str(real_db), read_only=True)
    try:
        matrix = queries.availability_matrix(con)
        summary = av.national_summary(matrix, queries.families(con))
        # An independent count of areas with any completions figure, straight from the published values.
        (completions,) = con.execute("""
            SELECT count(DISTINCT v.area_code) FROM published.indicator_values v
            JOIN published.indicators i USING (indicator_id) JOIN published.areas a USING (area_code)
            WHERE i.family = 'completions' AND (v.value IS NOT NULL OR v.numerator IS NOT NULL)
              AND a.valid_to IS NULL AND a.area_type IN ('county','unitary','metropolitan district','london borough')
        """).fetchall()[0]
    finally:
        con.close()
    assert matrix["area_code"].nunique() == n and len(matrix) == n * 4
    deaths = matrix.loc[matrix["family"].eq("deaths")]
    assert deaths["has_open_figure"].all() and set(deaths["latest_open_period"]) == {"2019-21"}
    for family in ("hcv", "naloxone"):
        part = matrix.loc[matrix["family"].eq(family)]
        assert not part["has_open_figure"].any()
        assert set(part["status"]) == {"not published"}
    assert int(matrix.loc[matrix["family"].eq("completions"), "has_open_figure"].sum()) == completions
    assert summary[1].startswith(f"{n} of {n} areas have any open drug-related deaths figure")
    assert summary[2] == f"0 of {n} areas have any open hepatitis C figure ({n} are not published openly per area)."
    assert summary[3] == f"0 of {n} areas have any open naloxone figure ({n} are not published openly per area)."


# --------------------------------------------------------------------------- the page

def _page(db: Path, monkeypatch, page: str, area: str | None = None):
    """AppTest of the dashboard on warehouse `db`, switched to `page` (with `area` in the URL), run once."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("INDICATORS_DB", str(db))
    monkeypatch.syspath_prepend(str(REPO))
    app = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    if area:
        app.query_params["area"] = area
    app.switch_page(page)
    return app.run()


def test_page_renders_map_table_and_summary(fixture_db, tmp_path, monkeypatch):
    db = Path(shutil.copyfile(fixture_db, tmp_path / "page.duckdb"))
    app = _page(db, monkeypatch, "pages/availability.py", area="E06000009")
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "Data availability"
    assert app.dataframe[-1].value.iloc[0]["Code"] == "E06000009"  # the sidebar's area first
    assert any(b.label == "Download CSV" for b in app.get("download_button"))
    text = " ".join(m.value for m in app.markdown)
    assert "0 of 7 areas have any open hepatitis C figure" in text
    assert "**Not published for this area**" in text and "**Suppressed by the publisher**" in text
    assert len(app.get("plotly_chart")) == 1
    table = app.dataframe[-1].value
    assert len(table) == 7 and "Take-home naloxone" in table.columns
    app.radio(key="w_family_availability").set_value("naloxone").run()
    assert not app.exception
    assert "Take-home naloxone: what is published per area" in app.get("plotly_chart")[0].proto.spec


def test_page_without_a_warehouse_says_so(tmp_path, monkeypatch):
    app = _page(tmp_path / "missing.duckdb", monkeypatch, "pages/availability.py")
    assert not app.exception
    assert "has no data to show" in app.error[0].value


def test_area_profile_shows_the_network_and_flags_local_rows(fixture_db, tmp_path, monkeypatch):
    """Blackpool's profile lists its ODN's HCV figures with the member areas, and its restricted local row
    marked as such (shown in this local session only)."""
    db = Path(shutil.copyfile(fixture_db, tmp_path / "profile.duckdb"))
    app = _page(db, monkeypatch, "pages/area.py", area="E06000009")
    assert not app.exception, [e.value for e in app.exception]
    body = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in app.markdown))  # as read, without escapes
    assert ("HCV treatment starts in your area's HCV network: figure for Fixture Network North (covers 3 areas: "
            "Blackpool, Cumberland, Manchester)") in body
    assert "1 row is restricted: shown only in this local session, never in a download or export" in body
    markup = [json.loads(e.proto.json) for e in app.get("bidi_component")]
    local = [t for m in markup for t in read_html_tables(m) if "Access" in t.columns][0]
    assert local["Access"].tolist() == ["restricted (local session only)"]
    assert local["Value"].tolist() == ["30.0"] and local["Count"].tolist() == ["300"]
    odn = [t for m in markup for t in read_html_tables(m) if t.attrs["caption"].startswith("HCV figures")][0]
    assert list(odn.columns) == ["Period", "Value", "Count", "Denominator", "Note", "Source"] and len(odn) >= 1


# --------------------------------------------------------------------------- network-level figures (issue 14, item 7)

def test_network_figures_are_labelled_and_never_apportioned(con):
    from indicators.products import queries

    network = queries.network_figures(con).set_index("area_code")
    assert list(queries.network_figures(con).columns) == queries.NETWORK_COLUMNS
    assert sorted(network.index) == ["E06000009", "E06000063", "E08000003", "E09000007", "E09000012", "E09000033"]
    camden = network.loc["E09000007"]
    assert (camden["network_label"], camden["value"], camden["period_label"]) == (
        "figure for Fixture Network London (covers 3 areas)", 80.0, "2021/22")
    assert camden["indicator_id"] == "hcv_treatment_starts_pwid"
    # Every member area gets the whole network's figure, never a share of it.
    assert network.loc[["E06000009", "E06000063", "E08000003"], "value"].tolist() == [150.0] * 3
    assert list(queries.network_figures(con, "E06000065").index) == []
    profile = queries.area_profile(con, "E09000007").set_index("indicator_id")
    hcv = profile.loc["hcv_treatment_starts_pwid"]
    assert pd.isna(hcv["value"]) and hcv["network_value"] == 80.0 and hcv["network_period"] == "2021/22"
    assert hcv["network_label"] == "figure for Fixture Network London (covers 3 areas)"
    assert pd.isna(profile.loc["completion_opiate", "network_label"])


def test_profile_words_show_the_network_figure_as_the_networks(con):
    from indicators.present import profile as words
    from indicators.present import text
    from indicators.products import queries

    profile = queries.area_profile(con, "E09000007")
    row = profile.set_index("indicator_id").loc["hcv_treatment_starts_pwid"].to_dict()
    assert text.category(row, row["publication_status"]) == "network figure"
    sentence = ("Figure for Fixture Network London (covers 3 areas): 80 people starting treatment in 2021/22; not this "
                "area's own and not compared.")
    assert text.network_sentence(row) == sentence
    assert ("HCV treatment starts (ODN): " + sentence, None) in words.glance("Camden", profile, "London")
    table = read_html_tables(words.spine_table(profile, "Camden"))[0].set_index("Indicator")
    assert table.loc["HCV treatment starts (ODN)", "Compared with England"] == (
        "Network-level figure only, not this area's own: " + sentence)
    assert table.loc["HCV treatment starts (ODN)", "Camden"] == "–"
    reasons = {r["indicator"]: r["reason"] for r in text.not_possible(profile)}
    assert reasons["HCV treatment starts (ODN)"] == (
        "published only for a network of areas, never split between them: " + sentence)


def test_area_page_shows_the_network_figure(fixture_db, tmp_path, monkeypatch):
    db = Path(shutil.copyfile(fixture_db, tmp_path / "network.duckdb"))
    app = _page(db, monkeypatch, "pages/area.py", area="E06000009")
    assert not app.exception, [e.value for e in app.exception]
    body = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in app.markdown))
    body = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", body)  # as read: the glossary's links by their words
    assert ("HCV treatment starts (ODN): Figure for Fixture Network North (covers 3 areas): 150 people starting "
            "treatment in 2021/22; not this area's own and not compared.") in body
