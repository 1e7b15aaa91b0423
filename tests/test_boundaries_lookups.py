"""Tests for the boundaries and lookups parsers: small invented fixtures in the real formats, and the real files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from indicators.errors import InputError
from indicators.pipeline.sources import boundaries, get_source, lookups

GEO = Path(__file__).resolve().parent / "fixtures" / "geography"
REAL_GEOJSON = "Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC.geojson"
REAL_TOPO = "onsvisual_uk_topo_2014-2025.topojson.json"
REAL_LTLA22 = "Lower_Tier_Local_Authority_to_Upper_Tier_Local_Authority_(December_2022)_Lookup_in_England_and_Wales.csv"


def _write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _small_geojson() -> dict:
    return json.loads((GEO / "ctyua_2023_small.geojson").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- boundaries: fixtures

def test_geojson_vintage_and_code_field_are_discovered():
    staged = boundaries.stage([GEO / "ctyua_2023_small.geojson"])["boundaries"]
    assert list(staged.columns) == boundaries.BOUNDARY_COLUMNS
    assert list(staged["area_code"]) == ["E06000901", "E06000950", "W06000901"]
    assert list(staged["area_name"]) == ["Alpha", "New Dale", "Gamma"]
    assert set(staged["vintage"]) == {"2023"} and set(staged["layer"]) == {"utla"}
    assert staged["start_year"].isna().all() and str(staged["start_year"].dtype) == "Int64"
    alpha = shapely.from_wkb(staged.loc[0, "geometry_wkb"])
    assert alpha.equals(box(-2, 50, -1, 51))
    new_dale = shapely.from_wkb(staged.loc[1, "geometry_wkb"])
    assert new_dale.geom_type == "MultiPolygon"
    assert new_dale.area == pytest.approx(1 + 0.25 * 0.25 / 2)  # square plus a right triangle


def test_topojson_arcs_are_decoded_by_hand():
    staged = boundaries.stage([GEO / "uk_topo_small.topojson.json"])["boundaries"]
    utla = staged.loc[staged["layer"].eq("utla")].set_index("area_code")
    # scale (0.5, 0.25), translate (-2, 50): quantised square (0,0)-(2,4) is lon -2..-1, lat 50..51
    assert shapely.from_wkb(utla.loc["E06000901", "geometry_wkb"]).equals(box(-2, 50, -1, 51))
    # the second square uses arc 2 and the shared arc reversed (~0 == -1)
    assert shapely.from_wkb(utla.loc["E06000950", "geometry_wkb"]).equals(box(-1, 50, 0, 51))
    assert utla.loc["E10000901", "end_year"] == 2019 and utla.loc["E06000950", "start_year"] == 2020
    assert (staged["vintage"] == "topo").all()
    region = staged.loc[staged["layer"].eq("rgn")]
    assert list(region["area_code"]) == ["E12000901"]
    assert shapely.from_wkb(region.iloc[0]["geometry_wkb"]).equals(box(-2, 50, 0, 51))


def test_invalid_json(tmp_path):
    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as err:
        boundaries.stage([bad])
    assert "broken.geojson" in str(err.value)


def test_not_geojson_or_topojson(tmp_path):
    with pytest.raises(InputError, match="Topology"):
        boundaries.stage([_write_json(tmp_path / "x.geojson", {"type": "Feature"})])


def test_empty_feature_collection(tmp_path):
    with pytest.raises(InputError, match="no features") as err:
        boundaries.stage([_write_json(tmp_path / "empty.geojson", {"type": "FeatureCollection", "features": []})])
    assert err.value.where == "features"


def test_missing_code_and_name_fields(tmp_path):
    doc = _small_geojson()
    for f in doc["features"]:
        f["properties"]["LAD23CD"] = f["properties"].pop("CTYUA23CD")
    with pytest.raises(InputError, match="CTYUA24CD"):
        boundaries.stage([_write_json(tmp_path / "nocode.geojson", doc)])
    doc = _small_geojson()
    for f in doc["features"]:
        del f["properties"]["CTYUA23NM"]
    with pytest.raises(InputError, match="CTYUA23NM"):
        boundaries.stage([_write_json(tmp_path / "noname.geojson", doc)])
    doc = _small_geojson()
    doc["features"][2]["properties"]["CTYUA23CD"] = " "
    with pytest.raises(InputError, match=r"missing CTYUA23CD") as err:
        boundaries.stage([_write_json(tmp_path / "blank.geojson", doc)])
    assert err.value.where == "features[2].properties"


def test_wrong_crs_is_refused(tmp_path):
    doc = _small_geojson()
    doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}
    with pytest.raises(InputError, match="27700"):
        boundaries.stage([_write_json(tmp_path / "bng.geojson", doc)])


def test_bow_tie_is_repaired_but_a_flat_ring_is_refused(tmp_path):
    doc = _small_geojson()
    doc["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [
        [[-2, 50], [-1, 51], [-1, 50], [-2, 51], [-2, 50]]]}
    staged = boundaries.stage([_write_json(tmp_path / "bowtie.geojson", doc)])["boundaries"]
    repaired = shapely.from_wkb(staged.loc[0, "geometry_wkb"])
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(0.5)  # two triangles of 0.25 each
    doc["features"][0]["geometry"] = {"type": "Polygon", "coordinates": [
        [[-2, 50], [-1, 50], [-1.5, 50], [-2, 50]]]}
    with pytest.raises(InputError, match="make_valid") as err:
        boundaries.stage([_write_json(tmp_path / "flat.geojson", doc)])
    assert "E06000901" in err.value.where


def test_duplicate_area_in_one_vintage(tmp_path):
    doc = _small_geojson()
    doc["features"][1]["properties"]["CTYUA23CD"] = "E06000901"
    with pytest.raises(InputError, match="appears twice"):
        boundaries.stage([_write_json(tmp_path / "dup.geojson", doc)])


def test_topojson_bad_arc_index_and_missing_layer(tmp_path):
    topo = json.loads((GEO / "uk_topo_small.topojson.json").read_text(encoding="utf-8"))
    topo["objects"]["utla"]["geometries"][0]["arcs"] = [[0, 7]]
    with pytest.raises(InputError, match="arc index 7") as err:
        boundaries.stage([_write_json(tmp_path / "t.topojson.json", topo)])
    assert err.value.where.startswith("objects.utla.geometries[0]")
    topo = json.loads((GEO / "uk_topo_small.topojson.json").read_text(encoding="utf-8"))
    del topo["objects"]["rgn"]
    with pytest.raises(InputError, match="no rgn object"):
        boundaries.stage([_write_json(tmp_path / "t.topojson.json", topo)])
    topo = json.loads((GEO / "uk_topo_small.topojson.json").read_text(encoding="utf-8"))
    topo["objects"]["utla"]["geometries"][1]["properties"]["end"] = "soon"
    with pytest.raises(InputError, match="not a year"):
        boundaries.stage([_write_json(tmp_path / "t.topojson.json", topo)])


# --------------------------------------------------------------------------- lookups: fixtures

def test_lookups_are_recognised_by_header_not_name(tmp_path):
    renamed = {}
    for i, path in enumerate(sorted(GEO.glob("*.csv"))):
        renamed[path.name] = tmp_path / f"file{i}.csv"
        renamed[path.name].write_bytes(path.read_bytes())
    staged = lookups.stage(sorted(renamed.values()))
    ltla_utla = staged["ltla_utla"]
    assert list(ltla_utla.columns) == lookups.LTLA_UTLA_COLUMNS
    assert list(ltla_utla["ltla_code"]) == ["E06000901", "E07000901", "E07000902", "W06000901"]
    assert set(ltla_utla["vintage"]) == {"2019"}  # from LTLA19CD, through the byte-order mark
    assert ltla_utla.loc[2, "ltla_name"] == "Lower Dale, The"
    changes = staged["code_changes"]
    assert list(changes.columns) == lookups.CODE_CHANGE_COLUMNS
    assert list(changes["year"]) == [2020, 2020, 2020, 2021] and str(changes["year"].dtype) == "Int64"
    assert changes["new_code"].isna().tolist() == [False, False, True, False]
    ltla14 = staged["ltla14"]
    assert list(ltla14.columns) == lookups.LTLA14_COLUMNS
    assert ltla14.set_index("ltla_code").loc["E07000902", "county_code"] == "E10000901"
    assert ltla14["county_code"].isna().sum() == 2


def test_absent_kinds_come_back_empty():
    staged = lookups.stage([GEO / "changes_small.csv"])
    assert staged["ltla_utla"].empty and list(staged["ltla_utla"].columns) == lookups.LTLA_UTLA_COLUMNS
    assert staged["ltla14"].empty and len(staged["code_changes"]) == 4


def test_conflicting_lookup_rows(tmp_path):
    path = tmp_path / "lookup.csv"
    text = (GEO / "ltla_utla_2019_small.csv").read_text(encoding="utf-8-sig")
    path.write_text(text + "E07000901,Upper Dale,E10000902,Elsewhere,5\r\n", encoding="utf-8-sig")
    with pytest.raises(InputError, match="E07000901 is mapped to E10000901 and E10000902 in the 2019 lookup"):
        lookups.stage([path])
    # the same district in two vintages is not a conflict
    other = tmp_path / "lookup20.csv"
    other.write_text(text.replace("19CD", "20CD").replace("19NM", "20NM").replace("E10000901", "E10000902"),
                     encoding="utf-8-sig")
    staged = lookups.stage([GEO / "ltla_utla_2019_small.csv", other])["ltla_utla"]
    assert sorted(set(staged["vintage"])) == ["2019", "2020"] and len(staged) == 8


def test_unknown_layout_and_missing_columns(tmp_path):
    unknown = tmp_path / "other.csv"
    unknown.write_text("LAD22CD,LAD22NM\nE06000901,Alpha\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown lookup layout") as err:
        lookups.stage([unknown])
    assert err.value.where == "header row"
    missing = tmp_path / "lookup.csv"
    missing.write_text("LTLA22CD,LTLA22NM,UTLA22CD\nE06000901,Alpha,E06000901\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column\\(s\\) UTLA22NM"):
        lookups.stage([missing])
    changes = tmp_path / "changes.csv"
    changes.write_text("oldcd,oldnm,newcd,newnm,type\nE07000901,Upper Dale,E06000950,New Dale,merger\n",
                       encoding="utf-8")
    with pytest.raises(InputError, match="missing column\\(s\\) start"):
        lookups.stage([changes])


def test_bad_change_rows(tmp_path):
    header = "oldcd,oldnm,newcd,newnm,type,start\n"
    path = tmp_path / "changes.csv"
    path.write_text(header + "E07000901,Upper Dale,E06000950,New Dale,boundary,2020\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown change type 'boundary'") as err:
        lookups.stage([path])
    assert err.value.where == "row 2, column type"
    path.write_text(header + "E07000901,Upper Dale,E06000950,New Dale,merger,20/21\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a year"):
        lookups.stage([path])
    path.write_text(header + "E07000901,Upper Dale,,,merger,2020\n", encoding="utf-8")
    with pytest.raises(InputError, match="no new code"):
        lookups.stage([path])


# --------------------------------------------------------------------------- source declarations

def test_source_declarations_match_the_shared_file_names(shared_raw):
    for source_id, expected in (("boundaries", 2), ("lookups", 3)):
        source = get_source(source_id)
        assert source.module().__name__ == f"indicators.pipeline.sources.{source_id}"
        assert source.licence == "Open Government Licence v3.0"
        names = {d.name for d in source.files}
        found = {p.name for p in source.matching_files(shared_raw / source_id)}
        assert found == names and len(found) == expected
    assert "Contains OS data © Crown copyright and database right 2024" in get_source("boundaries").attribution
    optional = {d.name: d.optional for d in get_source("lookups").files}
    assert optional[REAL_LTLA22] is True


# --------------------------------------------------------------------------- real files

@pytest.fixture(scope="module")
def real_boundaries(shared_raw):
    folder = shared_raw / "boundaries"
    return boundaries.stage([folder / REAL_GEOJSON, folder / REAL_TOPO])["boundaries"]


@pytest.fixture(scope="module")
def real_lookups(shared_raw):
    return lookups.stage(sorted((shared_raw / "lookups").glob("*.csv")))


def test_real_boundaries(real_boundaries):
    counts = real_boundaries.groupby(["vintage", "layer"]).size().to_dict()
    assert counts == {("2024", "utla"): 218, ("topo", "utla"): 230, ("topo", "rgn"): 12}
    current = real_boundaries.loc[real_boundaries["vintage"].eq("2024")]
    assert current["area_code"].str.startswith("E").sum() == 153
    geoms = shapely.from_wkb(current["geometry_wkb"].tolist())
    assert shapely.is_valid(geoms).all()
    # Camden's centroid (about 51.55N, 0.16W)
    camden = shapely.from_wkb(current.set_index("area_code").loc["E09000007", "geometry_wkb"])
    assert camden.centroid.y == pytest.approx(51.55, abs=0.02)
    assert camden.centroid.x == pytest.approx(-0.16, abs=0.02)
    topo = real_boundaries.loc[real_boundaries["vintage"].eq("topo")].set_index(["layer", "area_code"])
    assert topo.loc[("utla", "E10000009"), "end_year"] == 2018
    assert topo.loc[("utla", "E06000065"), "start_year"] == 2023
    # the two files draw Cumberland about the same (both from ONS generalised boundaries)
    cumberland_topo = shapely.from_wkb(topo.loc[("utla", "E06000063"), "geometry_wkb"])
    cumberland_2024 = shapely.from_wkb(current.set_index("area_code").loc["E06000063", "geometry_wkb"])
    overlap = cumberland_topo.intersection(cumberland_2024).area / cumberland_2024.area
    assert overlap > 0.9


def test_real_lookups(real_lookups):
    ltla_utla = real_lookups["ltla_utla"]
    assert len(ltla_utla) == 331 and set(ltla_utla["vintage"]) == {"2022"}
    assert ltla_utla["utla_code"].str.startswith("E").sum() == 309
    assert ltla_utla.loc[ltla_utla["utla_code"].str.startswith("E"), "utla_code"].nunique() == 152
    assert ltla_utla.set_index("ltla_code").loc["E07000026", "utla_code"] == "E10000006"  # Allerdale in Cumbria
    changes = real_lookups["code_changes"]
    assert len(changes) == 79 and set(changes["change_type"]) == set(lookups.CHANGE_TYPES)
    dorset = changes.loc[changes["old_code"].eq("E10000009")].iloc[0]
    assert dorset["change_type"] == "termination" and dorset["year"] == 2019 and pd.isna(dorset["new_code"])
    ltla14 = real_lookups["ltla14"]
    assert len(ltla14) == 391
    assert ltla14.set_index("ltla_code").loc["E07000048", "county_code"] == "E10000009"  # Christchurch, Dorset
    assert ltla14.loc[ltla14["country_code"].eq("E92000001"), "region_code"].nunique() == 9
