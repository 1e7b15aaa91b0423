"""Tests for indicators.pipeline.geography: an invented four-district world, then the real ONS files (reorganisation facts from DESIGN.md §2)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from indicators.errors import BuildError
from indicators.pipeline import geography
from indicators.pipeline.sources import boundaries, lookups

GEO = Path(__file__).resolve().parent / "fixtures" / "geography"
D = dt.date


def _tables(staged_boundaries, staged_lookups):
    return (staged_boundaries, staged_lookups["ltla_utla"], staged_lookups["code_changes"], staged_lookups["ltla14"])


# --------------------------------------------------------------------------- invented world

@pytest.fixture(scope="module")
def small():
    b = boundaries.stage([GEO / "ctyua_2023_small.geojson", GEO / "uk_topo_small.topojson.json"])["boundaries"]
    return _tables(b, lookups.stage(sorted(GEO.glob("*.csv"))))


def test_small_world_areas(small):
    areas = geography.current_areas(*small).set_index("area_code")
    assert list(areas.index) == ["E92000001", "E12000901", "E06000901", "E06000950", "E10000901"]
    assert areas.loc["E92000001", "area_type"] == "country" and pd.isna(areas.loc["E92000001", "region_code"])
    assert areas.loc["E12000901", "region_code"] == "E12000901"
    assert (areas.loc[["E06000901", "E06000950", "E10000901"], "region_code"] == "E12000901").all()
    assert areas.loc["E06000950", "valid_from"] == D(2020, 4, 1) and pd.isna(areas.loc["E06000950", "valid_to"])
    assert areas.loc["E10000901", "valid_to"] == D(2020, 3, 31) and areas.loc["E10000901", "area_type"] == "county"
    assert pd.isna(areas.loc["E06000901", "valid_from"])


def test_small_world_reorganisation_and_districts(small):
    reorgs = geography.reorganisations(*small)
    assert reorgs.to_dict("records") == [{
        "old_code": "E10000901", "old_name": "Betashire", "new_code": "E06000950", "new_name": "New Dale",
        "relation": "same_footprint", "effective": D(2020, 4, 1)}]
    ltla = geography.ltla_to_current_utla(*small).set_index("ltla_code")
    assert ltla["utla_code"].to_dict() == {"E06000901": "E06000901", "E06000950": "E06000950",
                                           "E07000901": "E06000950", "E07000902": "E06000950"}
    assert ltla.loc["E07000902", "ltla_name"] == "Lower Dale, The"
    assert ltla.loc["E07000901", "valid_to"] == D(2020, 3, 31)


def test_small_world_neighbours(small):
    gdf = geography.current_boundaries(small[0])
    assert list(gdf["area_code"]) == ["E06000901", "E06000950"]  # Wales left out
    pairs = geography.geographic_neighbours(gdf)
    assert list(zip(pairs["area_code"], pairs["neighbour_code"])) == [("E06000901", "E06000950"),
                                                                      ("E06000950", "E06000901")]
    # one degree of latitude along 1 deg W, in National Grid metres: about 111.2 km
    assert pairs["shared_border_km"].iloc[0] == pytest.approx(111.2, rel=0.005)


def _variant(small, changes_rows, current_codes, ltla_utla=None):
    """The invented world with another change list and another current boundary file."""
    b, lookup, _, ltla14 = small
    geoms = [shapely.to_wkb(box(i, 50, i + 1, 51)) for i in range(len(current_codes))]
    current = pd.DataFrame({"area_code": current_codes, "area_name": current_codes, "vintage": "2023",
                            "start_year": pd.array([None] * len(current_codes), dtype="Int64"),
                            "end_year": pd.array([None] * len(current_codes), dtype="Int64"),
                            "geometry_wkb": geoms, "layer": "utla"})
    changes = pd.DataFrame(changes_rows, columns=["old_code", "old_name", "new_code", "new_name", "change_type", "year"])
    changes["year"] = changes["year"].astype("Int64")
    return current, lookup if ltla_utla is None else ltla_utla, changes, ltla14


def test_split_and_boundary_change_are_told_apart(small):
    split = _variant(small, [
        ("E07000901", "Upper Dale", "E06000951", "Upper", "merger", 2020),
        ("E07000902", "Lower Dale, The", "E06000952", "Lower", "merger", 2020),
        ("E10000901", "Betashire", None, None, "termination", 2020)],
        ["E06000901", "E06000951", "E06000952"])
    assert set(geography.reorganisations(*split)["relation"]) == {"split"}
    moved = _variant(small, [
        ("E06000901", "Alpha", "E06000953", "Alpha and Upper", "merger", 2021),
        ("E07000901", "Upper Dale", "E06000953", "Alpha and Upper", "merger", 2021),
        ("E07000902", "Lower Dale, The", "E06000954", "Lower", "merger", 2021),
        ("E10000901", "Betashire", None, None, "termination", 2021)],
        ["E06000953", "E06000954"])
    reorgs = geography.reorganisations(*moved)
    assert sorted(zip(reorgs["old_code"], reorgs["new_code"])) == [
        ("E06000901", "E06000953"), ("E10000901", "E06000953"), ("E10000901", "E06000954")]
    assert set(reorgs["relation"]) == {"boundary_change"}
    assert set(reorgs["effective"]) == {D(2021, 4, 1)}
    merged = _variant(small, [
        ("E06000901", "Alpha", "E06000955", "All", "merger", 2021),
        ("E07000901", "Upper Dale", "E06000955", "All", "merger", 2021),
        ("E07000902", "Lower Dale, The", "E06000955", "All", "merger", 2021),
        ("E10000901", "Betashire", None, None, "termination", 2021)],
        ["E06000955"])
    assert set(geography.reorganisations(*merged)["relation"]) == {"merged"}


def test_inconsistent_inputs_are_refused(small):
    wrong_file = _variant(small, [], ["E06000901", "E06000950"])  # no change, yet the file has the new code
    with pytest.raises(BuildError, match="differ from the 2023 boundary file"):
        geography.current_areas(*wrong_file)
    untidy = _variant(small, [("E10000901", "Betashire", None, None, "termination", 2020)],
                      ["E06000901", "E10000901"])
    with pytest.raises(BuildError, match="districts E07000901, E07000902 were not moved"):
        geography.current_areas(*untidy)
    lookup = small[1].copy()
    lookup.loc[lookup["ltla_code"].eq("E07000902"), "utla_code"] = "E06000901"
    bad_lookup = _variant(small, [], ["E06000901", "E10000901"], ltla_utla=lookup)
    with pytest.raises(BuildError, match="2019 LTLA->UTLA lookup disagrees"):
        geography.current_areas(*bad_lookup)


# --------------------------------------------------------------------------- real files

@pytest.fixture(scope="module")
def real(shared_raw):
    folder = shared_raw / "boundaries"
    b = boundaries.stage([folder / "Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC.geojson",
                          folder / "onsvisual_uk_topo_2014-2025.topojson.json"])["boundaries"]
    return _tables(b, lookups.stage(sorted((shared_raw / "lookups").glob("*.csv"))))


@pytest.fixture(scope="module")
def geo(real):
    return geography.build_geography(*real)


@pytest.fixture(scope="module")
def current_gdf(real):
    return geography.current_boundaries(real[0])


@pytest.fixture(scope="module")
def simplified(current_gdf):
    started = time.perf_counter()
    out = geography.simplify_boundaries(current_gdf)
    out.attrs["seconds"] = time.perf_counter() - started
    return out


CURRENT_KINDS = {"county": 21, "unitary": 63, "metropolitan district": 36, "london borough": 33}


def test_current_areas(geo):
    areas = geo.areas
    assert areas["area_code"].is_unique
    current = areas.loc[areas["valid_to"].isna() & ~areas["area_type"].isin(["country", "region"])]
    assert len(current) == 153
    assert current["area_type"].value_counts().to_dict() == CURRENT_KINDS
    assert current["region_code"].str.match(r"^E12\d{6}$").all()
    by_code = areas.set_index("area_code")
    assert by_code.loc["E92000001", "area_name"] == "England" and by_code.loc["E92000001", "area_type"] == "country"
    regions = areas.loc[areas["area_type"].eq("region")]
    assert len(regions) == 9 and (regions["region_code"] == regions["area_code"]).all()
    assert by_code.loc["E09000007", "region_code"] == "E12000007"  # Camden, London
    assert by_code.loc["E06000063", "region_code"] == "E12000002"  # Cumberland, North West
    assert by_code.loc["E06000065", "region_name"] == "Yorkshire and The Humber"
    assert by_code.loc["E06000058", "region_name"] == "South West"
    assert by_code.loc["E06000060", "region_code"] == "E12000008"  # Buckinghamshire, South East
    assert by_code.loc["E06000061", "region_code"] == "E12000004"  # North Northamptonshire, East Midlands
    # London: the 33 boroughs and nothing else
    assert set(current.loc[current["region_code"].eq("E12000007"), "area_type"]) == {"london borough"}
    assert (current["region_code"].eq("E12000007")).sum() == 33


HISTORIC = {
    "E06000028": D(2019, 3, 31), "E06000029": D(2019, 3, 31), "E10000009": D(2019, 3, 31),
    "E10000002": D(2020, 3, 31), "E10000021": D(2021, 3, 31),
    "E10000006": D(2023, 3, 31), "E10000023": D(2023, 3, 31), "E10000027": D(2023, 3, 31),
}
CREATED = {"E06000058": 2019, "E06000059": 2019, "E06000060": 2020, "E06000061": 2021, "E06000062": 2021,
           "E06000063": 2023, "E06000064": 2023, "E06000065": 2023, "E06000066": 2023}


def test_historic_and_new_areas_dates(geo):
    areas = geo.areas.set_index("area_code")
    ended = areas.loc[areas["valid_to"].notna(), "valid_to"].to_dict()
    assert ended == HISTORIC
    started = areas.loc[areas["valid_from"].notna(), "valid_from"].to_dict()
    assert started == {code: D(year, 4, 1) for code, year in CREATED.items()}
    assert areas.loc["E10000009", "area_name"] == "Dorset" and areas.loc["E10000009", "region_code"] == "E12000009"
    assert areas.loc["E10000006", "area_name"] == "Cumbria"


EXPECTED_REORGANISATIONS = {
    ("E06000028", "E06000058", "boundary_change", D(2019, 4, 1)),
    ("E06000029", "E06000058", "boundary_change", D(2019, 4, 1)),
    ("E10000009", "E06000058", "boundary_change", D(2019, 4, 1)),
    ("E10000009", "E06000059", "boundary_change", D(2019, 4, 1)),
    ("E10000002", "E06000060", "same_footprint", D(2020, 4, 1)),
    ("E10000021", "E06000061", "split", D(2021, 4, 1)),
    ("E10000021", "E06000062", "split", D(2021, 4, 1)),
    ("E10000006", "E06000063", "split", D(2023, 4, 1)),
    ("E10000006", "E06000064", "split", D(2023, 4, 1)),
    ("E10000023", "E06000065", "same_footprint", D(2023, 4, 1)),
    ("E10000027", "E06000066", "same_footprint", D(2023, 4, 1)),
}


def test_reorganisations_match_design_facts(geo):
    reorgs = geo.reorganisations
    assert list(reorgs.columns) == geography.REORGANISATION_COLUMNS
    got = set(zip(reorgs["old_code"], reorgs["new_code"], reorgs["relation"], reorgs["effective"]))
    assert got == EXPECTED_REORGANISATIONS
    names = dict(zip(reorgs["new_code"], reorgs["new_name"]))
    assert names["E06000058"] == "Bournemouth, Christchurch and Poole"
    assert names["E06000064"] == "Westmorland and Furness"


def test_reorganisations_agree_with_the_topojson_shapes(real):
    """Independent check: the ONSvisual shapes of old and new areas show the same relations."""
    topo = real[0].loc[real[0]["vintage"].eq("topo") & real[0]["layer"].eq("utla")].set_index("area_code")
    shape = {c: shapely.from_wkb(w) for c, w in topo["geometry_wkb"].items()}

    def mismatch(old_codes, new_codes):
        old = shapely.union_all([shape[c] for c in old_codes])
        new = shapely.union_all([shape[c] for c in new_codes])
        return old.symmetric_difference(new).area / old.area

    assert mismatch(["E10000002"], ["E06000060"]) < 1e-6
    assert mismatch(["E10000023"], ["E06000065"]) < 1e-6
    assert mismatch(["E10000027"], ["E06000066"]) < 1e-6
    assert mismatch(["E10000006"], ["E06000063", "E06000064"]) < 1e-6
    assert mismatch(["E10000021"], ["E06000061", "E06000062"]) < 1e-6
    assert mismatch(["E06000028", "E06000029", "E10000009"], ["E06000058", "E06000059"]) < 1e-6
    # ... but Dorset county is not Dorset unitary (Christchurch moved), nor is BCP Bournemouth + Poole
    assert mismatch(["E10000009"], ["E06000059"]) > 0.01  # Christchurch is about 2% of Dorset county
    assert mismatch(["E06000028", "E06000029"], ["E06000058"]) > 0.2


def test_changes_after_the_current_vintage(geo):
    later = geo.later_changes
    assert set(zip(later["old_code"], later["new_code"], later["relation"], later["effective"])) == {
        ("E08000016", "E08000038", "same_footprint", D(2025, 4, 1)),
        ("E08000019", "E08000039", "same_footprint", D(2025, 4, 1)),
    }
    areas = geo.areas.set_index("area_code")
    assert pd.isna(areas.loc["E08000016", "valid_to"]) and "E08000038" not in areas.index


def test_districts_to_current_areas(geo, real):
    ltla = geo.ltla_current_utla
    assert ltla["ltla_code"].is_unique
    to_current = ltla.set_index("ltla_code")["utla_code"].to_dict()
    current = set(geo.areas.loc[geo.areas["valid_to"].isna(), "area_code"])
    assert set(to_current.values()) <= current
    assert to_current["E07000026"] == "E06000063"  # Allerdale -> Cumberland
    assert to_current["E07000028"] == "E06000063"  # Carlisle
    assert to_current["E07000029"] == "E06000063"  # Copeland
    assert to_current["E07000027"] == "E06000064"  # Barrow-in-Furness -> Westmorland and Furness
    assert to_current["E07000030"] == "E06000064"  # Eden
    assert to_current["E07000031"] == "E06000064"  # South Lakeland
    assert to_current["E07000163"] == "E06000065"  # Craven -> North Yorkshire
    assert to_current["E07000187"] == "E06000066"  # Mendip -> Somerset
    assert to_current["E07000190"] == "E06000066"  # Taunton Deane (gone 2019) -> Somerset
    assert to_current["E07000048"] == "E06000058"  # Christchurch -> BCP
    assert to_current["E07000049"] == "E06000059"  # East Dorset -> Dorset
    assert to_current["E06000028"] == "E06000058"  # Bournemouth -> BCP
    assert to_current["E07000004"] == "E06000060"  # Aylesbury Vale -> Buckinghamshire
    assert to_current["E07000150"] == "E06000061"  # Corby -> North Northamptonshire
    assert to_current["E07000154"] == "E06000062"  # Northampton -> West Northamptonshire
    assert to_current["E07000244"] == "E10000029"  # East Suffolk (since 2019) -> Suffolk
    assert to_current["E09000001"] == "E09000001"  # City of London is its own upper tier
    # every England district of the 2014 and 2022 lookups is covered
    _, ltla_utla, _, ltla14 = real
    wanted = set(ltla14.loc[ltla14["country_code"].eq("E92000001"), "ltla_code"])
    wanted |= set(ltla_utla.loc[ltla_utla["ltla_code"].str.startswith("E"), "ltla_code"])
    assert wanted <= set(to_current) and len(wanted) == 334
    # districts that are still current map to the 2022 lookup's upper tier unless that tier was replaced
    lookup22 = ltla_utla.loc[ltla_utla["ltla_code"].str.startswith("E")].set_index("ltla_code")["utla_code"]
    replaced = {old for old, *_ in EXPECTED_REORGANISATIONS}
    kept = lookup22.loc[~lookup22.isin(replaced)]
    assert all(to_current[code] == utla for code, utla in kept.items())
    ended = ltla.set_index("ltla_code")
    assert ended.loc["E07000026", "valid_to"] == D(2023, 3, 31)
    assert ended.loc["E07000246", "valid_from"] == D(2019, 4, 1)  # Somerset West and Taunton, 2019-2023
    assert ended.loc["E07000246", "valid_to"] == D(2023, 3, 31)


def test_districts_lie_inside_their_current_area_on_the_map(real, geo, current_gdf):
    """Independent of the lookups: the 2014-lookup districts in the ONSvisual ltla layer are not staged,
    so check the upper-tier shapes instead: every old county lies (almost) inside the union of the current areas
    its districts were mapped to."""
    topo = real[0].loc[real[0]["vintage"].eq("topo") & real[0]["layer"].eq("utla")].set_index("area_code")
    current = current_gdf.set_index("area_code").geometry
    ltla = geo.ltla_current_utla
    ltla14 = real[3].set_index("ltla_code")
    for county in ("E10000006", "E10000023", "E10000027", "E10000009", "E10000021", "E10000002"):
        districts = ltla14.index[ltla14["county_code"].eq(county)]
        targets = set(ltla.loc[ltla["ltla_code"].isin(districts), "utla_code"])
        old = shapely.from_wkb(topo.loc[county, "geometry_wkb"])
        inside = old.intersection(shapely.union_all([current[c] for c in targets])).area / old.area
        assert inside > 0.97, county


def test_simplified_boundaries(current_gdf, simplified):
    text = geography.boundaries_geojson(simplified)
    size = len(text.encode("utf-8"))
    assert size < 300_000
    assert json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) == text  # no whitespace
    assert len(simplified) == 153 and simplified.attrs["seconds"] < 5
    original = current_gdf.geometry.to_numpy()
    geoms = simplified.geometry.to_numpy()
    kept = shapely.area(shapely.intersection(geoms, original)) / shapely.area(original)
    assert kept.min() > 0.9
    assert shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms)
    before = geography.geographic_neighbours(current_gdf)
    after = geography.geographic_neighbours(simplified)
    assert set(zip(before["area_code"], before["neighbour_code"])) == set(zip(after["area_code"], after["neighbour_code"]))
    # London boroughs stay recognisable: the City keeps its shape and every borough keeps > 97% of its area
    london = simplified["area_code"].str.startswith("E09").to_numpy()
    assert kept[london].min() > 0.97
    assert shapely.get_num_coordinates(geoms[london]).min() >= 8


def test_geojson_has_only_code_and_name(simplified):
    doc = json.loads(geography.boundaries_geojson(simplified.head(3)))
    assert [f["properties"] for f in doc["features"]] == [
        {"area_code": "E06000001", "area_name": "Hartlepool"},
        {"area_code": "E06000002", "area_name": "Middlesbrough"},
        {"area_code": "E06000003", "area_name": "Redcar and Cleveland"}]
    first = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert all(round(c, 4) == c for c in first)


def test_published_boundary_shapes(geo):
    shapes = geo.boundaries
    assert shapes["layer"].value_counts().to_dict() == {"utla": 153, "region": 9}
    london = shapely.from_geojson(shapes.set_index("area_code").loc["E12000007", "geometry_geojson"])
    boroughs = [shapely.from_geojson(g) for c, g in zip(shapes["area_code"], shapes["geometry_geojson"])
                if c.startswith("E09")]
    assert london.symmetric_difference(shapely.union_all(boroughs)).area / london.area < 0.001


def test_geographic_neighbours(geo):
    pairs = geo.neighbours
    as_set = set(zip(pairs["area_code"], pairs["neighbour_code"]))
    assert {(b, a) for a, b in as_set} == as_set  # symmetric
    assert pairs["shared_border_km"].gt(0).all()
    assert ("E08000003", "E08000009") in as_set  # Manchester - Trafford
    assert ("E09000007", "E09000033") in as_set  # Camden - Westminster
    assert ("E09000007", "E09000001") in as_set  # Camden - City of London
    assert ("E06000063", "E06000064") in as_set  # Cumberland - Westmorland and Furness
    assert ("E06000058", "E06000059") in as_set  # BCP - Dorset
    # England's shortest county border: North Northamptonshire meets Lincolnshire for a few tens of metres
    short = pairs.set_index(["area_code", "neighbour_code"]).loc[("E06000061", "E10000019"), "shared_border_km"]
    assert 0.01 <= short < 0.1
    # Manchester and Trafford share roughly 19 km of boundary
    assert pairs.set_index(["area_code", "neighbour_code"]).loc[("E08000003", "E08000009"), "shared_border_km"] \
        == pytest.approx(19.5, abs=1.0)
    assert ("E08000003", "E09000007") not in as_set
    codes = set(pairs["area_code"])
    assert "E06000046" not in codes and "E06000053" not in codes  # Isle of Wight, Isles of Scilly
    assert len(codes) == 151
    assert len(as_set) // 2 == 373
