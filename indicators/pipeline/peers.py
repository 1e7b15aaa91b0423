"""Peer groups computed from open data: "most similar areas" per indicator family, and geographic peers.

Depends on numpy, pandas and shapely (the build passes in frames). Shared borders come from
indicators.pipeline.geography and CIPFA neighbours from the Fingertips API; this module adds a
transparent similarity measure a commissioner can check by hand, and tops up an area's bordering
areas with the nearest others so that every geographic group has at least GEOGRAPHIC_MINIMUM.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely
import shapely.geometry

# Each variable: the column in the profile frame, a plain label, how to transform it, and the catalogue
# indicator it is taken from (None: not an indicator). A family's set of most similar areas is chosen
# without the variables taken from that family's own indicators, so areas are never grouped on the very
# figure they are then compared on (deaths are compared within areas chosen without deaths).
SIMILARITY_VARIABLES: tuple[tuple[str, str, str, str | None], ...] = (
    ("population", "population (log scale)", "log", None),
    ("ocu_prevalence", "estimated opiate/crack use per 1,000 aged 15-64", "identity", "ocu_prevalence"),
    ("deaths_recent", "drug-misuse death rate, latest period", "identity", "deaths_drug_misuse"),
    ("deaths_past", "drug-misuse death rate, ten years earlier", "identity", "deaths_drug_misuse"),
)
N_PEERS = 10
MIN_SHARED_VARIABLES = 2
GEOGRAPHIC_MINIMUM = 5
GEOGRAPHIC_COLUMNS = ["area_code", "neighbour_code", "rank", "relation", "shared_border_km", "distance_km"]
SIMILAR_COLUMNS = ["area_code", "peer_code", "peer_name", "rank", "distance", "n_variables", "reasons", "family",
                   "variables"]


def similar_areas(profile: pd.DataFrame, n_peers: int = N_PEERS, exclude: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Nearest areas by standardised Euclidean distance over the similarity variables.

    `profile`: one row per area, columns `area_code`, `area_name` and the variables in
    SIMILARITY_VARIABLES (NaN where an area has no figure). Each variable is transformed,
    then standardised to mean 0 and standard deviation 1 across areas (z-scores). The
    distance between two areas is the root mean square of their z-score differences over
    the variables both have (at least MIN_SHARED_VARIABLES), so a missing figure neither
    counts as zero nor disqualifies an area. This is the "statistical neighbours" approach
    of e.g. the CIPFA and DfE models (Euclidean distance on standardised indicators),
    with fewer, openly published variables.

    `exclude`: profile columns left out of the distance (see `similar_sets`).

    Returns area_code, peer_code, peer_name, rank (1 = most similar), distance,
    n_variables and `reasons`: per variable "label: this area X, peer Y (d SD apart)".
    """
    variables = [v for v in SIMILARITY_VARIABLES if v[0] not in exclude]
    frame = profile.set_index("area_code")
    z = pd.DataFrame(index=frame.index)
    shown = pd.DataFrame(index=frame.index)
    for column, _, transform, _ in variables:
        raw = pd.to_numeric(frame.get(column), errors="coerce").astype(float)
        values = np.log(raw.where(raw > 0)) if transform == "log" else raw
        spread = values.std(ddof=0)
        z[column] = (values - values.mean()) / spread if spread and spread > 0 else np.nan
        shown[column] = raw
    codes = list(z.index)
    matrix = z.to_numpy(dtype=float)
    shown_values = shown.to_numpy(dtype=float)  # plain arrays: row lookups in pandas here cost ~1 s a build
    names = frame["area_name"].tolist()
    rows = []
    for i, code in enumerate(codes):
        diff = matrix - matrix[i]
        present = ~np.isnan(diff)
        shared = present.sum(axis=1)
        # The mean over the shared variables only; an area sharing none (or too few) with this one is no peer
        # (infinite distance), said explicitly rather than by a mean of nothing.
        squares = np.where(present, diff, 0.0) ** 2
        distance = np.full(len(codes), np.inf)
        enough = (shared >= MIN_SHARED_VARIABLES) & (np.arange(len(codes)) != i)
        distance[enough] = np.sqrt(squares[enough].sum(axis=1) / shared[enough])
        order = [j for j in np.argsort(distance, kind="stable") if np.isfinite(distance[j])][:n_peers]
        for rank, j in enumerate(order, start=1):
            reasons = []
            for k, (column, label, _, _) in enumerate(variables):
                if np.isnan(diff[j, k]):
                    continue
                a, b = float(shown_values[i, k]), float(shown_values[j, k])
                reasons.append(f"{label}: {_fmt(a)} vs {_fmt(b)} ({abs(diff[j, k]):.2f} SD apart)")
            rows.append({"area_code": code, "peer_code": codes[j], "peer_name": names[j],
                         "rank": rank, "distance": float(distance[j]), "n_variables": int(shared[j]),
                         "reasons": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=["area_code", "peer_code", "peer_name", "rank", "distance",
                                       "n_variables", "reasons"])


def similar_sets(profile: pd.DataFrame, families: dict[str, str], n_peers: int = N_PEERS) -> pd.DataFrame:
    """Most similar areas for each indicator family, never chosen on that family's own indicators.

    `families`: indicator_id -> family, from the catalogue. For each family, the variables taken from
    an indicator of that family are left out (deaths are compared within areas chosen on population and
    opiate/crack use only; need within areas chosen on population and deaths; completions, hepatitis C
    and naloxone on all four). Returns SIMILAR_COLUMNS: `similar_areas`' columns plus `family` and
    `variables`, the plain labels of the variables used.
    """
    frames, cache = [], {}
    for family in sorted(set(families.values())):
        exclude = frozenset(column for column, _, _, indicator_id in SIMILARITY_VARIABLES
                            if indicator_id is not None and families.get(indicator_id) == family)
        if exclude not in cache:
            cache[exclude] = similar_areas(profile, n_peers, exclude)
        used = "; ".join(label for column, label, _, _ in SIMILARITY_VARIABLES if column not in exclude)
        frames.append(cache[exclude].assign(family=family, variables=used))
    if not frames:
        return pd.DataFrame(columns=SIMILAR_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SIMILAR_COLUMNS]


def geographic_peers(shapes: pd.DataFrame, neighbours: pd.DataFrame,
                     minimum: int = GEOGRAPHIC_MINIMUM) -> pd.DataFrame:
    """Each current area's bordering areas, topped up with the nearest others until there are `minimum`.

    `shapes`: area_code and geometry (GeoJSON text, EPSG:4326) of the current areas; `neighbours`:
    area_code, neighbour_code, shared_border_km (geography.geographic_neighbours). Bordering areas come
    first, longest border first (relation 'border', distance 0); then areas that do not border it, nearest
    first by the shortest distance between their boundaries in British National Grid metres (relation
    'nearest', distance_km), until the group has `minimum` members. Blackpool borders only Lancashire, so
    its group adds Sefton across the Ribble estuary, then Westmorland and Furness, Wigan and Blackburn with
    Darwen; the Isles of Scilly, an island, get Cornwall and the nearest of Devon. Returns GEOGRAPHIC_COLUMNS.
    """
    if shapes.empty:
        return pd.DataFrame(columns=GEOGRAPHIC_COLUMNS)
    codes = shapes["area_code"].astype(str).tolist()
    geoms = np.array([shapely.geometry.shape(json.loads(g)) if isinstance(g, str) else shapely.geometry.shape(g)
                      for g in shapes["geometry"]], dtype=object)
    metric = shapely.transform(geoms, _to_british_national_grid, include_z=False)
    borders = {code: group.sort_values(["shared_border_km", "neighbour_code"], ascending=[False, True])
               for code, group in neighbours.groupby("area_code")}
    rows = []
    for i, code in enumerate(codes):
        own = borders.get(code, pd.DataFrame(columns=["neighbour_code", "shared_border_km"]))
        members = [(n, "border", float(km), 0.0) for n, km in zip(own["neighbour_code"], own["shared_border_km"])]
        if len(members) < minimum:
            taken = {code, *(m[0] for m in members)}
            distance = shapely.distance(metric[i], metric) / 1000.0
            for j in np.argsort(distance, kind="stable"):
                if len(members) >= minimum:
                    break
                if codes[j] not in taken:
                    members.append((codes[j], "nearest", float("nan"), round(float(distance[j]), 1)))
        rows += [{"area_code": code, "neighbour_code": n, "rank": rank, "relation": relation,
                  "shared_border_km": km, "distance_km": km_apart}
                 for rank, (n, relation, km, km_apart) in enumerate(members, start=1)]
    return pd.DataFrame(rows, columns=GEOGRAPHIC_COLUMNS)


def _to_british_national_grid(coords: np.ndarray) -> np.ndarray:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def _fmt(value: float) -> str:
    if value != value:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}"


def similarity_profile(areas: pd.DataFrame, values: pd.DataFrame, population: pd.DataFrame | None,
                       ltla_current_utla: pd.DataFrame) -> pd.DataFrame:
    """The open variables per current upper-tier area, for `similar_areas`.

    `values`: published indicator rows (indicator_id, area_code, period_end, value).
    Population is ONS's latest all-ages persons estimate; an area created after that
    estimate gets the sum of its former districts' populations (counts re-aggregate).
    """
    current = areas.loc[areas["valid_to"].isna() & areas["area_type"].isin(
        ["county", "unitary", "metropolitan district", "london borough"]), ["area_code", "area_name"]]
    profile = current.copy()

    if population is not None and not population.empty:
        pop = population.loc[(population["age"] == "All ages") & (population["sex"] == "Persons")]
        pop = pop.loc[pop["year"] == pop["year"].max()].set_index("area_code")["population"]
        by_district = ltla_current_utla.assign(population=ltla_current_utla["ltla_code"].map(pop))
        summed = by_district.loc[by_district["ltla_code"] != by_district["utla_code"]] \
            .groupby("utla_code")["population"].sum(min_count=1)
        profile["population"] = profile["area_code"].map(pop)
        profile["population"] = profile["population"].fillna(profile["area_code"].map(summed))
    else:
        profile["population"] = np.nan

    def latest(indicator_id: str, years_before: int = 0) -> pd.Series:
        rows = values.loc[(values["indicator_id"] == indicator_id) & values["value"].notna()].copy()
        if rows.empty:
            return pd.Series(dtype=float)
        rows["period_end"] = pd.to_datetime(rows["period_end"])
        target = rows["period_end"].max() - pd.DateOffset(years=years_before)
        rows = rows.loc[rows["period_end"] <= target]
        rows = rows.loc[rows["period_end"] == rows["period_end"].max()]
        return rows.set_index("area_code")["value"]

    profile["ocu_prevalence"] = profile["area_code"].map(latest("ocu_prevalence"))
    profile["deaths_recent"] = profile["area_code"].map(latest("deaths_drug_misuse"))
    profile["deaths_past"] = profile["area_code"].map(latest("deaths_drug_misuse", years_before=10))
    return profile.reset_index(drop=True)
