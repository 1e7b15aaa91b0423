"""England's upper-tier geography: current and historic areas, reorganisations, district lookups, map shapes, neighbours; depends on pandas, pyarrow, shapely, geopandas.

Pure functions over the staged `boundaries`, `ltla_utla`, `code_changes` and `ltla14`
tables. The history of upper-tier areas is rebuilt from the 2014 district lookup by
replaying the ONSvisual change list year by year; each area's footprint is the set of
2014 districts it covers, so "same footprint", "split" and "merged" are decided by set
algebra on districts, never by name. The replay is cross-checked against the ONS
district lookup(s), the TopoJSON start/end years and the codes in the newest boundary file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from indicators.config import ENGLAND_CODE
from indicators.errors import BuildError

BASE_YEAR = 2014  # the ONSvisual ltla14 lookup describes April 2014 - March 2015
# English local government reorganisations take effect on 1 April of the change year.
CHANGE_MONTH, CHANGE_DAY = 4, 1

AREA_TYPES = {
    "E92": "country",
    "E12": "region",
    "E10": "county",
    "E06": "unitary",
    "E08": "metropolitan district",
    "E09": "london borough",
}
UNITARY_PREFIXES = ("E06", "E08", "E09")  # a district that is its own upper tier

AREA_COLUMNS = ["area_code", "area_name", "area_type", "region_code", "region_name", "valid_from", "valid_to"]
REORGANISATION_COLUMNS = ["old_code", "old_name", "new_code", "new_name", "relation", "effective"]
LTLA_CURRENT_COLUMNS = ["ltla_code", "ltla_name", "utla_code", "valid_from", "valid_to"]
NEIGHBOUR_COLUMNS = ["area_code", "neighbour_code", "shared_border_km"]
PLACE_COLUMNS = ["place_name", "place_code", "place_kind", "area_code", "area_name", "formerly"]

BRITISH_NATIONAL_GRID = 27700
WGS84 = 4326
SIMPLIFY_TOLERANCE_M = 200.0  # Visvalingam-Whyatt: about the square root of the triangle areas removed
COORDINATE_DECIMALS = 4       # 1e-4 degrees is about 11 m north-south, 7 m east-west in England
NEIGHBOUR_SNAP_M = 1.0        # borders closer than this count as shared
NEIGHBOUR_MIN_KM = 0.01       # shorter contacts (corner points) are not shared borders

_DATE = pd.ArrowDtype(pa.date32())


@dataclass(frozen=True)
class Geography:
    """Everything the build publishes about places (see build_geography)."""

    areas: pd.DataFrame
    reorganisations: pd.DataFrame
    ltla_current_utla: pd.DataFrame
    boundaries: pd.DataFrame
    neighbours: pd.DataFrame
    later_changes: pd.DataFrame
    places: pd.DataFrame


def build_geography(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                    ltla14: pd.DataFrame) -> Geography:
    """All geography tables at once.

    `boundaries` here is one row per map shape: area_code, area_name, layer ('utla' for the
    153 current areas, 'region' for region outlines dissolved from them) and geometry_geojson
    (compact GeoJSON geometry, simplified, EPSG:4326).
    """
    history = _history(boundaries, ltla_utla, code_changes, ltla14)
    current = current_boundaries(boundaries)
    areas = _areas(history, boundaries)
    return Geography(
        areas=areas,
        reorganisations=_changes_between(history, range(BASE_YEAR + 1, history.vintage_year + 1)),
        ltla_current_utla=_ltla_current(history),
        boundaries=boundary_shapes(simplify_boundaries(current), areas),
        neighbours=geographic_neighbours(current),
        later_changes=_changes_between(history, range(history.vintage_year + 1, max(history.states) + 1)),
        places=_places(history, areas, ltla_utla),
    )


# --------------------------------------------------------------------------- history replay

@dataclass(frozen=True)
class _History:
    vintage_year: int
    states: dict[int, dict[str, str]]           # year -> {ltla_code: utla_code}, England
    footprints: dict[str, frozenset[str]]       # ltla or utla code -> 2014 districts it covers
    ltla_names: dict[str, str]
    utla_names: dict[str, str]
    region_of: dict[str, str]                   # 2014 district -> region code
    region_names: dict[str, str]
    country_name: str

    def utlas(self, year: int) -> set[str]:
        return set(self.states[year].values())

    def utla_footprint(self, code: str, year: int) -> frozenset[str]:
        return frozenset().union(*(self.footprints[ltla] for ltla, utla in self.states[year].items() if utla == code))


def _newest_vintage(boundaries: pd.DataFrame) -> str:
    numeric = sorted(v for v in boundaries.loc[boundaries["layer"].eq("utla"), "vintage"].unique()
                     if re.fullmatch(r"\d{4}", str(v)))
    if not numeric:
        raise BuildError("boundaries: no dated boundary vintage (e.g. CTYUA24CD, vintage 2024) was staged")
    return numeric[-1]


def _history(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
             ltla14: pd.DataFrame) -> _History:
    """Replay the change list from the 2014 lookup, year by year, and cross-check the result."""
    england = ltla14.loc[ltla14["country_code"].eq(ENGLAND_CODE)]
    if england.empty:
        raise BuildError(f"ltla14 lookup: no district in England ({ENGLAND_CODE})")
    state: dict[str, str] = {}
    footprints: dict[str, frozenset[str]] = {}
    ltla_names: dict[str, str] = {}
    utla_names: dict[str, str] = {}
    for row in england.itertuples(index=False):
        utla = row.county_code if isinstance(row.county_code, str) else row.ltla_code
        state[row.ltla_code] = utla
        footprints[row.ltla_code] = frozenset([row.ltla_code])
        ltla_names[row.ltla_code] = row.ltla_name
        utla_names[utla] = row.county_name if isinstance(row.county_code, str) else row.ltla_name
    region_of = dict(zip(england["ltla_code"], england["region_code"]))
    region_names = dict(zip(england["region_code"], england["region_name"]))

    vintage_year = int(_newest_vintage(boundaries))
    changes = code_changes.loc[code_changes["old_code"].str.startswith("E")
                               & code_changes["change_type"].ne("new_geo")]
    last_year = max([vintage_year, *changes["year"].dropna().astype(int)])
    states = {BASE_YEAR: dict(state)}
    for year in range(BASE_YEAR + 1, last_year + 1):
        state = _apply_year(state, changes.loc[changes["year"].eq(year)], year, footprints,
                            ltla_names, utla_names)
        states[year] = dict(state)

    history = _History(vintage_year, states, footprints, ltla_names, utla_names, region_of, region_names,
                       england["country_name"].iloc[0])
    for code in {u for s in states.values() for u in s.values()}:
        years = [y for y, s in states.items() if code in s.values()]
        footprints.setdefault(code, history.utla_footprint(code, years[0]))
    _cross_check(history, boundaries, ltla_utla)
    return history


def _apply_year(state: dict[str, str], rows: pd.DataFrame, year: int, footprints: dict[str, frozenset[str]],
                ltla_names: dict[str, str], utla_names: dict[str, str]) -> dict[str, str]:
    """One April's changes: district mergers and new codes, then county terminations."""
    before = dict(state)
    state = dict(state)
    utlas_before = set(before.values())
    for row in rows.loc[rows["change_type"].isin(["merger", "new_code"])].itertuples(index=False):
        old, new = row.old_code, row.new_code
        if old in before:
            utla = before[old]
            if new.startswith(UNITARY_PREFIXES):
                target = new
            elif utla == old:
                raise BuildError(f"code changes {year}: unitary {old} becomes district {new}, "
                                 "which has no county to sit in")
            else:
                target = utla
            if new in state and state[new] != target:
                raise BuildError(f"code changes {year}: {new} would belong to both {state[new]} and {target}")
            del state[old]
            state[new] = target
            footprints[new] = footprints.get(new, frozenset()) | footprints[old]
            ltla_names[new] = row.new_name
            utla_names[target] = row.new_name if target == new else utla_names[target]
        elif old in utlas_before:  # an upper-tier code change without a district change
            for ltla, utla in list(state.items()):
                if utla == old:
                    state[ltla] = new
            utla_names[new] = row.new_name
        elif old[:3] in ("E06", "E07", "E08", "E09", "E10"):
            raise BuildError(f"code changes {year}: {old} ({row.old_name}) changes to {new}, but no such "
                             "district or upper-tier area existed then in the replayed lookups")
    for row in rows.loc[rows["change_type"].eq("termination")].itertuples(index=False):
        left = sorted(ltla for ltla, utla in state.items() if utla == row.old_code)
        if row.old_code not in utlas_before:
            raise BuildError(f"code changes {year}: termination of {row.old_code} ({row.old_name}), "
                             "which was not an upper-tier area in the replayed lookups")
        if left:
            raise BuildError(f"code changes {year}: {row.old_code} ({row.old_name}) is terminated but its "
                             f"districts {', '.join(left)} were not moved anywhere")
    return state


def _cross_check(history: _History, boundaries: pd.DataFrame, ltla_utla: pd.DataFrame) -> None:
    """The replay must agree with every independent record of the same facts, or nothing is trusted."""
    vintage = str(history.vintage_year)
    current = boundaries.loc[boundaries["vintage"].eq(vintage) & boundaries["layer"].eq("utla")
                             & boundaries["area_code"].str.startswith("E"), "area_code"]
    replayed = history.utlas(history.vintage_year)
    if set(current) != replayed:
        raise BuildError(f"the replayed {vintage} upper-tier areas differ from the {vintage} boundary file: "
                         f"only in the file {sorted(set(current) - replayed)}, "
                         f"only in the replay {sorted(replayed - set(current))}")
    for lookup_vintage, group in ltla_utla.groupby("vintage"):
        year = int(lookup_vintage)
        if year not in history.states:
            continue
        published = dict(zip(group["ltla_code"], group["utla_code"]))
        published = {k: v for k, v in published.items() if k.startswith("E")}
        replayed_state = history.states[year]
        if published != replayed_state:
            diff = sorted(set(published.items()) ^ set(replayed_state.items()))[:6]
            raise BuildError(f"the {lookup_vintage} LTLA->UTLA lookup disagrees with the replayed change list, "
                             f"e.g. {diff}")
    topo = boundaries.loc[boundaries["vintage"].eq("topo") & boundaries["layer"].eq("utla")
                          & boundaries["area_code"].str.startswith("E")]
    for row in topo.itertuples(index=False):
        years = [y for y in history.states if row.area_code in history.states[y].values()]
        if not years:
            raise BuildError(f"TopoJSON area {row.area_code} ({row.area_name}) never appears in the replay")
        first, last = years[0], years[-1]
        start = BASE_YEAR if pd.isna(row.start_year) else int(row.start_year)
        end = max(history.states) if pd.isna(row.end_year) else int(row.end_year)
        if (start, end) != (first, last):
            raise BuildError(f"TopoJSON years for {row.area_code} ({row.start_year}-{row.end_year}) disagree "
                             f"with the change list ({first}-{last})")


def _effective(year: int) -> dt.date:
    return dt.date(year, CHANGE_MONTH, CHANGE_DAY)


def _ended(last_year: int) -> dt.date:
    return _effective(last_year + 1) - dt.timedelta(days=1)


def _lifespans(history: _History, codes_of) -> dict[str, tuple[int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    for year in sorted(history.states):
        if year > history.vintage_year:
            break
        for code in codes_of(history.states[year]):
            first = spans.get(code, (year, year))[0]
            spans[code] = (first, year)
    return spans


# --------------------------------------------------------------------------- areas

def _area_type(code: str) -> str:
    kind = AREA_TYPES.get(code[:3])
    if kind is None:
        raise BuildError(f"area {code}: unknown kind of upper-tier code (prefix {code[:3]})")
    return kind


def current_areas(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                  ltla14: pd.DataFrame) -> pd.DataFrame:
    """Rows for published.areas: England, its regions, every current and historic upper-tier area since 2014.

    Current areas are the England features of the newest dated boundary vintage; their
    valid_to is null. valid_from is null for areas that already existed in 2014. Every
    upper-tier area gets the region of the 2014 districts it covers (which must be one).
    """
    return _areas(_history(boundaries, ltla_utla, code_changes, ltla14), boundaries)


def _areas(history: _History, boundaries: pd.DataFrame) -> pd.DataFrame:
    vintage = str(history.vintage_year)
    newest = boundaries.loc[boundaries["vintage"].eq(vintage) & boundaries["layer"].eq("utla")]
    current_names = dict(zip(newest["area_code"], newest["area_name"]))
    rows = [{"area_code": ENGLAND_CODE, "area_name": history.country_name, "area_type": "country",
             "region_code": None, "region_name": None, "valid_from": None, "valid_to": None}]
    for code in sorted(history.region_names):
        rows.append({"area_code": code, "area_name": history.region_names[code], "area_type": _area_type(code),
                     "region_code": code, "region_name": history.region_names[code],
                     "valid_from": None, "valid_to": None})
    spans = _lifespans(history, lambda s: set(s.values()))
    for code, (first, last) in sorted(spans.items()):
        regions = {history.region_of[d] for d in history.footprints[code]}
        if len(regions) != 1:
            raise BuildError(f"area {code} covers districts in {len(regions)} regions ({sorted(regions)})")
        region = regions.pop()
        is_current = last == history.vintage_year
        rows.append({
            "area_code": code,
            "area_name": current_names[code] if is_current else history.utla_names[code],
            "area_type": _area_type(code), "region_code": region, "region_name": history.region_names[region],
            "valid_from": None if first == BASE_YEAR else _effective(first),
            "valid_to": None if is_current else _ended(last),
        })
    frame = pd.DataFrame(rows, columns=AREA_COLUMNS)
    for column in ("area_code", "area_name", "area_type", "region_code", "region_name"):
        frame[column] = frame[column].astype("str")
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.array(frame[column].tolist(), dtype=_DATE)
    return frame


# --------------------------------------------------------------------------- reorganisations

def _changes_between(history: _History, years: range) -> pd.DataFrame:
    """Upper-tier areas that disappeared or appeared in each of `years`, linked where their districts overlap."""
    rows = []
    for year in years:
        before, after = history.utlas(year - 1), history.utlas(year)
        gone, new = sorted(before - after), sorted(after - before)
        for code in sorted(before & after):
            if history.utla_footprint(code, year - 1) != history.utla_footprint(code, year):
                raise BuildError(f"{code} keeps its code in {year} but covers different districts; "
                                 "a boundary change should come with a new code")
        foot = {c: history.utla_footprint(c, year - 1) for c in gone}
        foot.update({c: history.utla_footprint(c, year) for c in new})
        links = [(o, n) for o in gone for n in new if foot[o] & foot[n]]
        for o in gone:
            if foot[o] - frozenset().union(*(foot[n] for n in new)):
                raise BuildError(f"part of {o} went to an area that kept its code in {year}")
        for component in _components(links):
            olds = sorted({o for o, _ in component})
            news = sorted({n for _, n in component})
            relation = _relation([foot[o] for o in olds], [foot[n] for n in news])
            for o, n in sorted(component):
                rows.append({"old_code": o, "old_name": history.utla_names[o], "new_code": n,
                             "new_name": history.utla_names[n], "relation": relation,
                             "effective": _effective(year)})
    frame = pd.DataFrame(rows, columns=REORGANISATION_COLUMNS)
    for column in REORGANISATION_COLUMNS[:-1]:
        frame[column] = frame[column].astype("str")
    frame["effective"] = pd.array(frame["effective"].tolist(), dtype=_DATE)
    return frame


def _components(links: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Connected groups of (old, new) links: areas that were reorganised together."""
    groups: list[tuple[set[str], list[tuple[str, str]]]] = []
    for o, n in links:
        touching = [g for g in groups if ("o" + o) in g[0] or ("n" + n) in g[0]]
        nodes, edges = {"o" + o, "n" + n}, [(o, n)]
        for g in touching:
            nodes |= g[0]
            edges += g[1]
            groups.remove(g)
        groups.append((nodes, edges))
    return [edges for _, edges in groups]


def _relation(olds: list[frozenset[str]], news: list[frozenset[str]]) -> str:
    """same_footprint (1 old = 1 new), split (1 old = disjoint union of news), merged (union of olds = 1 new),
    otherwise boundary_change (districts moved between areas as well)."""
    if len(olds) == 1 and len(news) == 1 and olds[0] == news[0]:
        return "same_footprint"
    if len(olds) == 1 and all(n <= olds[0] for n in news) and frozenset().union(*news) == olds[0]:
        return "split"
    if len(news) == 1 and all(o <= news[0] for o in olds) and frozenset().union(*olds) == news[0]:
        return "merged"
    return "boundary_change"


def reorganisations(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                    ltla14: pd.DataFrame) -> pd.DataFrame:
    """Upper-tier areas replaced between 2014 and the newest boundary vintage, one row per (old, new) overlap.

    Old and new areas that share districts form one group, and the whole group gets one relation:
    'same_footprint' (one old, one new, the same districts: the old figures carry over to the
    new code), 'split' (one old area divided into several new ones), 'merged' (several old
    areas joined whole into one new one), or 'boundary_change' (anything else). The one
    boundary change is April 2019 in Dorset: Bournemouth and Poole (unitaries) plus the
    district of Christchurch, taken out of Dorset county, became Bournemouth, Christchurch
    and Poole, and the rest of the county became Dorset unitary. Neither new area is a
    whole old area or a union of whole old areas, so no old rate maps onto either; only
    counts published for the districts (Christchurch's own) can rebuild them.
    """
    history = _history(boundaries, ltla_utla, code_changes, ltla14)
    return _changes_between(history, range(BASE_YEAR + 1, history.vintage_year + 1))


def changes_after_vintage(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                          ltla14: pd.DataFrame) -> pd.DataFrame:
    """Changes in the change list that take effect after the newest boundary vintage (same columns).

    They are not applied to the current areas (the map and the indicators use the newest
    boundary vintage); they are listed so that a source already on the newer codes can be
    recognised, e.g. Barnsley and Sheffield's new codes in April 2025.
    """
    history = _history(boundaries, ltla_utla, code_changes, ltla14)
    return _changes_between(history, range(history.vintage_year + 1, max(history.states) + 1))


def ltla_to_current_utla(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                         ltla14: pd.DataFrame) -> pd.DataFrame:
    """Every England district code in use from 2014 to the newest vintage, with the current upper-tier area containing it.

    Includes abolished districts (Allerdale, Craven, Christchurch, ...), the 2022 lookup's
    districts and unitary areas (which are their own district). valid_from / valid_to give
    the district code's own life (null = before 2014 / still in use), so counts published
    for the districts of a given year can be summed to current areas. Raises if a district
    straddles two current areas.
    """
    return _ltla_current(_history(boundaries, ltla_utla, code_changes, ltla14))


def _ltla_current(history: _History) -> pd.DataFrame:
    current = sorted(history.utlas(history.vintage_year))
    current_foot = {c: history.utla_footprint(c, history.vintage_year) for c in current}
    rows = []
    for code, (first, last) in sorted(_lifespans(history, set).items()):
        holders = [c for c in current if history.footprints[code] & current_foot[c]]
        if len(holders) != 1 or not history.footprints[code] <= current_foot[holders[0]]:
            raise BuildError(f"district {code} ({history.ltla_names[code]}) lies in {len(holders)} current "
                             f"upper-tier areas ({holders}); its counts cannot be re-aggregated")
        rows.append({"ltla_code": code, "ltla_name": history.ltla_names[code], "utla_code": holders[0],
                     "valid_from": None if first == BASE_YEAR else _effective(first),
                     "valid_to": None if last == history.vintage_year else _ended(last)})
    frame = pd.DataFrame(rows, columns=LTLA_CURRENT_COLUMNS)
    for column in ("ltla_code", "ltla_name", "utla_code"):
        frame[column] = frame[column].astype("str")
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.array(frame[column].tolist(), dtype=_DATE)
    return frame


# --------------------------------------------------------------------------- place names

def place_names(boundaries: pd.DataFrame, ltla_utla: pd.DataFrame, code_changes: pd.DataFrame,
                ltla14: pd.DataFrame) -> pd.DataFrame:
    """Names people search by that are not a current upper-tier area's name, each with the current area it lies in.

    One row per (place, current area), columns PLACE_COLUMNS: every district since 2014, current or
    abolished ('district', 'former district'), each former upper-tier area ('former county', 'former
    unitary', ...; one row per current area it overlaps, so a split county gives several), and older names
    of current areas ('other name'). `formerly` names the upper-tier area(s) a district was in before,
    when their name differs from the current area's (Carlisle: Cumberland, formerly Cumbria). A name equal
    to its current area's name is left out: the area itself is found by that name.
    """
    history = _history(boundaries, ltla_utla, code_changes, ltla14)
    return _places(history, _areas(history, boundaries), ltla_utla)


def _places(history: _History, areas: pd.DataFrame, ltla_utla: pd.DataFrame) -> pd.DataFrame:
    vintage = history.vintage_year
    current = sorted(history.utlas(vintage))
    current_foot = {c: history.utla_footprint(c, vintage) for c in current}
    names = dict(zip(areas["area_code"], areas["area_name"]))
    other_names: dict[str, list[str]] = {}
    for code, name in zip(ltla_utla["ltla_code"], ltla_utla["ltla_name"]):
        if isinstance(name, str) and name.strip():
            other_names.setdefault(code, []).append(name.strip())
    rows = []

    def add(name: str, code: str, kind: str, target: str, formerly: str | None = None) -> None:
        if name.strip().casefold() != names[target].strip().casefold():
            rows.append({"place_name": name, "place_code": code, "place_kind": kind, "area_code": target,
                         "area_name": names[target], "formerly": formerly})

    for code, (_, last) in sorted(_lifespans(history, set).items()):
        holders = [c for c in current if history.footprints[code] <= current_foot[c]]
        if len(holders) != 1:  # ltla_current_utla raises on this; nothing to add here
            continue
        target = holders[0]
        if code in history.utla_names:  # a unitary area is its own district: found as an upper-tier area below
            continue
        before = [history.utla_names[history.states[y][code]] for y in sorted(history.states)
                  if y <= vintage and code in history.states[y] and history.states[y][code] != target]
        earlier = [n for n in dict.fromkeys(before) if n.casefold() != names[target].casefold()]
        # A district's name can differ between the lookups (E07000083 is North Gloucestershire in the 2014 one,
        # Tewkesbury in ONS's 2022 one): each name finds it.
        for name in dict.fromkeys([history.ltla_names[code], *other_names.get(code, [])]):
            add(name, code, "district" if last == vintage else "former district", target, " and ".join(earlier) or None)
    for code, (_, last) in sorted(_lifespans(history, lambda s: set(s.values())).items()):
        if last == vintage:
            if history.utla_names[code] != names[code]:
                add(history.utla_names[code], code, "other name", code)
            continue
        kind = f"former {_area_type(code).replace('unitary', 'unitary authority')}"
        for target in current:
            if history.footprints[code] & current_foot[target]:
                add(history.utla_names[code], code, kind, target)
    frame = pd.DataFrame(rows, columns=PLACE_COLUMNS).drop_duplicates(["place_name", "place_code", "area_code"])
    frame = frame.sort_values(["place_name", "area_name"], key=lambda c: c.str.casefold(), kind="stable")
    return frame.astype({c: "str" for c in PLACE_COLUMNS if c != "formerly"}).reset_index(drop=True)


# --------------------------------------------------------------------------- shapes

def current_boundaries(boundaries: pd.DataFrame) -> gpd.GeoDataFrame:
    """England's current upper-tier areas (newest dated vintage) as a GeoDataFrame in EPSG:4326."""
    vintage = _newest_vintage(boundaries)
    rows = boundaries.loc[boundaries["vintage"].eq(vintage) & boundaries["layer"].eq("utla")
                          & boundaries["area_code"].str.startswith("E")].sort_values("area_code")
    geometry = shapely.from_wkb(rows["geometry_wkb"].tolist())
    return gpd.GeoDataFrame({"area_code": rows["area_code"].to_numpy(), "area_name": rows["area_name"].to_numpy()},
                            geometry=geometry, crs=WGS84)


def simplify_boundaries(gdf: gpd.GeoDataFrame, tolerance: float = SIMPLIFY_TOLERANCE_M,
                        decimals: int = COORDINATE_DECIMALS) -> gpd.GeoDataFrame:
    """Coverage-preserving simplification for web maps: neighbours keep identical shared borders.

    Visvalingam-Whyatt on the whole coverage (GEOS CoverageSimplifier via shapely's
    coverage_simplify) in British National Grid metres, then coordinates snapped to a
    10^-decimals degree grid (GEOS snap-rounding; tests check the result is still a valid coverage).
    Only England areas are kept. Reference: Visvalingam, M. & Whyatt, J. D. (1993), "Line
    generalisation by repeated elimination of points", The Cartographic Journal 30(1), 46-51.
    """
    england = gdf.loc[gdf["area_code"].str.startswith("E")]
    metric = england.to_crs(BRITISH_NATIONAL_GRID).geometry.to_numpy()
    if not shapely.coverage_is_valid(metric):
        raise BuildError("the current boundary file is not a clean coverage (areas overlap or shared edges "
                         "do not match vertex for vertex), so it cannot be simplified without gaps")
    simplified = shapely.coverage_simplify(metric, tolerance)
    back = gpd.GeoSeries(simplified, crs=BRITISH_NATIONAL_GRID).to_crs(WGS84).to_numpy()
    snapped = shapely.set_precision(back, 10.0 ** -decimals)
    return gpd.GeoDataFrame({"area_code": england["area_code"].to_numpy(),
                             "area_name": england["area_name"].to_numpy()}, geometry=snapped, crs=WGS84)


def _rounded(coords, decimals: int):
    if coords and isinstance(coords[0], float):
        return [round(c, decimals) for c in coords]
    return [_rounded(c, decimals) for c in coords]


def _geometry_json(geom, decimals: int = COORDINATE_DECIMALS) -> dict:
    mapping = shapely.geometry.mapping(geom)
    return {"type": mapping["type"], "coordinates": _rounded(_as_lists(mapping["coordinates"]), decimals)}


def _as_lists(coords):
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [float(c) for c in coords]
    return [_as_lists(c) for c in coords]


def boundaries_geojson(gdf: gpd.GeoDataFrame, decimals: int = COORDINATE_DECIMALS) -> str:
    """Compact GeoJSON FeatureCollection (no whitespace), properties area_code and area_name only."""
    features = [{"type": "Feature", "properties": {"area_code": code, "area_name": name},
                 "geometry": _geometry_json(geom, decimals)}
                for code, name, geom in zip(gdf["area_code"], gdf["area_name"], gdf.geometry)]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"),
                      ensure_ascii=False)


def boundary_shapes(simplified: gpd.GeoDataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Rows for published.boundaries: each current area ('utla') and each region outline ('region', dissolved
    from its areas so the borders coincide), geometry as compact GeoJSON text."""
    rows = [{"area_code": c, "area_name": n, "layer": "utla",
             "geometry_geojson": json.dumps(_geometry_json(g), separators=(",", ":"))}
            for c, n, g in zip(simplified["area_code"], simplified["area_name"], simplified.geometry)]
    region_of = dict(zip(areas["area_code"], areas["region_code"]))
    names = dict(zip(areas["area_code"], areas["area_name"]))
    by_region: dict[str, list] = {}
    for code, geom in zip(simplified["area_code"], simplified.geometry):
        by_region.setdefault(region_of[code], []).append(geom)
    for region in sorted(by_region):
        outline = shapely.set_precision(shapely.union_all(by_region[region]),
                                        10.0 ** -COORDINATE_DECIMALS)
        rows.append({"area_code": region, "area_name": names[region], "layer": "region",
                     "geometry_geojson": json.dumps(_geometry_json(outline), separators=(",", ":"))})
    return pd.DataFrame(rows, columns=["area_code", "area_name", "layer", "geometry_geojson"]).astype("str")


def geographic_neighbours(gdf: gpd.GeoDataFrame, snap_m: float = NEIGHBOUR_SNAP_M,
                          min_km: float = NEIGHBOUR_MIN_KM) -> pd.DataFrame:
    """Pairs of England areas sharing a land border, both ways round, with the border length in km.

    Lengths are measured in British National Grid (EPSG:27700) metres: the part of each
    area's boundary within `snap_m` of the other area, averaged over the two directions so
    the table is symmetric. Contacts shorter than `min_km` (corner points) are dropped.
    Islands (Isle of Wight, Isles of Scilly) have no land neighbour, and borders with Wales
    and Scotland are not listed (England only).
    """
    england = gdf.loc[gdf["area_code"].str.startswith("E")]
    metric = england.to_crs(BRITISH_NATIONAL_GRID)
    geoms = metric.geometry.to_numpy()
    codes = metric["area_code"].to_numpy()
    buffered = shapely.buffer(geoms, snap_m)
    edges = shapely.boundary(geoms)
    left, right = shapely.STRtree(buffered).query(buffered, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    one_way = shapely.length(shapely.intersection(edges[left], buffered[right]))
    other_way = shapely.length(shapely.intersection(edges[right], buffered[left]))
    km = (one_way + other_way) / 2 / 1000.0
    shared = km >= min_km
    pairs = pd.DataFrame({"area_code": codes[left[shared]], "neighbour_code": codes[right[shared]],
                          "shared_border_km": np.round(km[shared], 3)})
    mirrored = pairs.rename(columns={"area_code": "neighbour_code", "neighbour_code": "area_code"})
    out = pd.concat([pairs, mirrored], ignore_index=True)[NEIGHBOUR_COLUMNS]
    out = out.sort_values(["area_code", "neighbour_code"], ignore_index=True)
    out["area_code"] = out["area_code"].astype("str")
    out["neighbour_code"] = out["neighbour_code"].astype("str")
    return out
