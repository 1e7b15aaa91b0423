"""Finding an area by any place name: the build's place names (districts past and present, former councils), the optional
postcode lookup, queries.find_area and the search's words."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from support import make_raw

from indicators.errors import InputError
from indicators.pipeline import geography
from indicators.pipeline.build import build
from indicators.pipeline.sources import get_source
from indicators.pipeline.sources import postcodes as postcode_source
from indicators.present import places as words
from indicators.products import queries

# The lookups of the real files that changed after the 2022 LTLA->UTLA lookup (Cumbria, North Yorkshire and
# Somerset were replaced in April 2023): their districts now lie in other upper-tier areas.
REPLACED_2023 = {"E10000006", "E10000023", "E10000027"}


def _staged(raw: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for source_id in ("boundaries", "lookups"):
        source = get_source(source_id)
        tables.update(source.module().stage(source.matching_files(raw / source_id)))
    return tables


@pytest.fixture(scope="module")
def real_places(real_raw) -> pd.DataFrame:
    t = _staged(real_raw)
    return geography.place_names(t["boundaries"], t["ltla_utla"], t["code_changes"], t["ltla14"])


def _rows(places: pd.DataFrame, name: str) -> list[tuple]:
    part = places[places["place_name"] == name]
    return [(r["place_kind"], r["area_code"], r["area_name"], None if pd.isna(r["formerly"]) else r["formerly"])
            for r in part.to_dict("records")]


def test_real_lookups_carlisle_and_cumbria(real_places):
    """Carlisle (abolished 2023) lies in Cumberland and was in Cumbria; Cumbria itself lies in its two successors."""
    assert _rows(real_places, "Carlisle") == [("former district", "E06000063", "Cumberland", "Cumbria")]
    assert _rows(real_places, "Cumbria") == [("former county", "E06000063", "Cumberland", None),
                                             ("former county", "E06000064", "Westmorland and Furness", None)]
    assert words.place_label(real_places[real_places["place_name"] == "Carlisle"].iloc[0]) == \
        "Carlisle → Cumberland (formerly Cumbria)"
    # A name equal to its current area's is not a place of its own (the area is found by its name).
    assert not ((real_places["place_name"] == real_places["area_name"])).any()


def test_real_lookups_every_district_lies_where_the_ons_lookup_puts_it(real_raw, real_places):
    """Independent check against the ONS LTLA->UTLA (December 2022) lookup file read with the csv module: every
    English district there whose county was not replaced in 2023 is a place in that same upper-tier area."""
    path = next((real_raw / "lookups").glob("Lower_Tier_Local_Authority_to_Upper_Tier*"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["LTLA22CD"].startswith("E07")]
    assert rows
    found = {(r["place_code"], r["area_code"]) for r in real_places.to_dict("records")}
    for r in rows:
        if r["UTLA22CD"] not in REPLACED_2023:
            assert (r["LTLA22CD"], r["UTLA22CD"]) in found, r
            assert _rows(real_places, r["LTLA22NM"])[0][:2] == ("district", r["UTLA22CD"])


def test_whole_real_lookups_preston_harrogate(real_places, shared_raw_is_whole):
    if not shared_raw_is_whole:
        pytest.skip("Preston and Harrogate are not in the vendored cuts; the whole files are not at ../shared")
    assert _rows(real_places, "Preston") == [("district", "E10000017", "Lancashire", None)]
    assert words.place_label(real_places[real_places["place_name"] == "Preston"].iloc[0]) == "Preston → Lancashire"
    # North Yorkshire's new code kept the county's name: no "formerly".
    assert _rows(real_places, "Harrogate") == [("former district", "E06000065", "North Yorkshire", None)]
    assert _rows(real_places, "Christchurch") == [
        ("former district", "E06000058", "Bournemouth, Christchurch and Poole", "Dorset")]
    assert ("former unitary authority", "E06000058", "Bournemouth, Christchurch and Poole", None) in \
        _rows(real_places, "Bournemouth")


POSTCODE_ROWS = [  # an invented lookup in the layout of ONS's postcode to LAD extract, for the small geography
    {"pcd7": "AB1 2CD", "pcd8": "AB1  2CD", "pcds": "AB1 2CD", "dointr": "198001", "doterm": "", "ladcd": "E07000901"},
    {"pcd7": "AB1 9ZZ", "pcd8": "AB1  9ZZ", "pcds": "AB1 9ZZ", "dointr": "198001", "doterm": "202001",
     "ladcd": "E07000902"},
    {"pcd7": "AB1 9ZZ", "pcd8": "AB1  9ZZ", "pcds": "AB1 9ZZ", "dointr": "202002", "doterm": "", "ladcd": "E06000901"},
    {"pcd7": "CF101AA", "pcd8": "CF10 1AA", "pcds": "CF10 1AA", "dointr": "198001", "doterm": "", "ladcd": "W06000901"},
    {"pcd7": "GIR 0AA", "pcd8": "GIR 0AA", "pcds": "GIR 0AA", "dointr": "198001", "doterm": "", "ladcd": "E06000901"},
    {"pcd7": "ZZ9 9ZZ", "pcd8": "ZZ9  9ZZ", "pcds": "ZZ9 9ZZ", "dointr": "198001", "doterm": "", "ladcd": "E07000999"},
]


def _write_postcodes(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Warehouses from the small invented geography: without and with a postcode lookup."""
    work = tmp_path_factory.mktemp("places")
    raw = make_raw(work / "raw")
    without = work / "without.duckdb"
    build(raw, without)
    _write_postcodes(raw / "postcodes" / "PCD_OA21_LSOA21_MSOA21_LAD_MAY24_UK_LU.csv", POSTCODE_ROWS)
    with_postcodes = work / "with.duckdb"
    report = build(raw, with_postcodes)
    return without, with_postcodes, report


def test_small_geography_places_by_hand(small):
    """tests/fixtures/geography: Upper Dale and Lower Dale (districts of Betashire) merged into New Dale in 2020."""
    con = queries.connect(small[0])
    try:
        places = queries.place_names(con)
        assert [tuple(r) for r in places.itertuples(index=False)] == [
            ("Betashire", "E10000901", "former county", "E06000950", "New Dale", None),
            ("Lower Dale, The", "E07000902", "former district", "E06000950", "New Dale", "Betashire"),
            ("Upper Dale", "E07000901", "former district", "E06000950", "New Dale", "Betashire")]
        assert not queries.postcodes_loaded(con)
        found = queries.find_area(con, "upper dale")
        assert found["kind"] == "name" and [m["area_code"] for m in found["matches"]] == ["E06000950"]
        assert queries.find_area(con, "E07000902")["matches"][0]["place_name"] == "Lower Dale, The"
        assert [m["area_name"] for m in queries.find_area(con, "e06000950")["matches"]] == ["New Dale"]
        # "dale" is in the area's own name and in two places: the area first, then the places by name.
        assert [(m["place_name"], m["area_name"]) for m in queries.find_area(con, "Dale")["matches"]] == [
            (None, "New Dale"), ("Lower Dale, The", "New Dale"), ("Upper Dale", "New Dale")]
        assert queries.find_area(con, "AB1 2CD") == {"kind": "postcode", "matches": [], "postcodes_loaded": False}
        assert queries.find_area(con, "'; DROP TABLE published.areas; --")["matches"] == []
        assert queries.find_area(con, "   ")["matches"] == []
    finally:
        con.close()


def test_postcode_lookup_is_optional_and_found(small):
    """With the postcode file: postcodes (any case and spacing) find their district's current area; a live row wins
    over a terminated one; Welsh and malformed rows are left out; an unknown district is a build warning."""
    _, db, report = small
    con = queries.connect(db)
    try:
        assert queries.postcodes_loaded(con)
        rows = con.execute("SELECT * FROM published.postcodes ORDER BY postcode").fetchall()
        assert rows == [("AB12CD", "E07000901", "E06000950", False), ("AB19ZZ", "E06000901", "E06000901", False)]
        found = queries.find_area(con, " ab12cd ")
        assert found["kind"] == "postcode" and [m["area_name"] for m in found["matches"]] == ["New Dale"]
        assert queries.find_area(con, "AB1 9ZZ")["matches"][0]["area_code"] == "E06000901"
        assert queries.find_area(con, "AB9 9AA")["matches"] == []
    finally:
        con.close()
    assert any("postcodes: 1 postcode(s) name a district code the lookups do not know (e.g. E07000999)" in w
               for w in report.warnings)


def test_postcode_file_that_is_not_one(tmp_path):
    path = _write_postcodes(tmp_path / "pc.csv", [{"code": "AB1 2CD", "name": "x"}])
    with pytest.raises(InputError, match=r"pc.csv: header row: not a postcode lookup .*expected a postcode column"):
        postcode_source.stage([path])
    path = _write_postcodes(tmp_path / "pc2.csv", [{"pcds": "CF10 1AA", "ladcd": "W06000015"}])
    with pytest.raises(InputError, match="no row has an English postcode and district"):
        postcode_source.stage([path])
    # ONSPD's own layout: pcd and oslaua.
    path = _write_postcodes(tmp_path / "onspd.csv", [{"pcd": "PR1 2RL", "doterm": "", "oslaua": "E07000123"}])
    assert postcode_source.stage([path])["postcodes"].values.tolist() == [["PR12RL", "E07000123", False]]


def test_search_words():
    carlisle = {"place_name": "Carlisle", "place_code": "E07000028", "place_kind": "former district",
                "area_code": "E06000063", "area_name": "Cumberland", "formerly": "Cumbria"}
    cumbria = {"place_name": "Cumbria", "place_code": "E10000006", "place_kind": "former county",
               "area_code": "E06000064", "area_name": "Westmorland and Furness", "formerly": None}
    assert words.place_label(carlisle) == "Carlisle → Cumberland (formerly Cumbria)"
    assert words.place_label(cumbria) == "Cumbria (former county) → Westmorland and Furness"
    assert words.found_sentence(carlisle) == "Carlisle is in Cumberland (formerly in Cumbria)."
    assert words.found_sentence(cumbria, ["Cumberland", "Westmorland and Furness"]) == \
        "Cumbria (former county) overlaps what are now Cumberland and Westmorland and Furness: showing " \
        "Westmorland and Furness."
    assert words.no_match_sentence("Kendal", "name", False) == (
        "No area matches “Kendal”. Type a council’s or a district’s name (for example Preston or Carlisle) or a "
        "GSS code.")
    assert "postcodes need the ONS postcode to local authority lookup" in \
        words.no_match_sentence("PR1 2RL", "postcode", False)
    assert words.no_match_sentence("<script>", "name", True).startswith("No area matches “script”")
    assert words.split_place_key(words.place_key("E07000028", "E06000063")) == ("E07000028", "E06000063")
    assert words.split_place_key("E06000063") is None
