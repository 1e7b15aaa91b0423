"""Most-similar-area peers: distances worked by hand, and the real warehouse's peers."""

from __future__ import annotations

import json
import math
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.pipeline.peers import geographic_peers, similar_areas, similar_sets


def test_distances_by_hand():
    # Population is the same everywhere (no spread: the variable drops out), deaths_past is
    # missing everywhere. OCU 0, 2, 4 -> z = -1.2247, 0, 1.2247 (sd = sqrt(8/3)); deaths 1, 1, 4
    # -> z = -0.7071, -0.7071, 1.4142 (sd = sqrt(2)). A-B: sqrt((1.5 + 0) / 2) = 0.8660;
    # A-C: sqrt((6 + 4.5) / 2) = 2.2913; B-C: sqrt((1.5 + 4.5) / 2) = 1.7321.
    profile = pd.DataFrame({"area_code": ["A", "B", "C"], "area_name": ["Ay", "Bee", "Cee"],
                            "population": [100.0] * 3, "ocu_prevalence": [0.0, 2.0, 4.0],
                            "deaths_recent": [1.0, 1.0, 4.0], "deaths_past": [np.nan] * 3})
    peers = similar_areas(profile)
    a = peers[peers.area_code == "A"].set_index("peer_code")
    assert list(a.index) == ["B", "C"]
    assert a.loc["B", "distance"] == pytest.approx(math.sqrt(0.75), abs=1e-12)
    assert a.loc["C", "distance"] == pytest.approx(math.sqrt(5.25), abs=1e-12)
    b = peers[peers.area_code == "B"].set_index("peer_code")
    assert b.loc["C", "distance"] == pytest.approx(math.sqrt(3), abs=1e-12)
    assert a.loc["B", "n_variables"] == 2
    assert "1.22 SD apart" in a.loc["B", "reasons"] and "0.00 SD apart" in a.loc["B", "reasons"]


def test_too_few_shared_variables_means_no_peer():
    profile = pd.DataFrame({"area_code": ["A", "B", "C"], "area_name": ["A", "B", "C"],
                            "population": [10.0, 20.0, np.nan], "ocu_prevalence": [1.0, 2.0, 3.0],
                            "deaths_recent": [np.nan] * 3, "deaths_past": [np.nan] * 3})
    peers = similar_areas(profile)
    assert set(peers[peers.area_code == "C"].peer_code) == set()
    assert set(peers[peers.area_code == "A"].peer_code) == {"B"}


def test_an_area_with_no_figure_has_no_peer_and_no_warning():
    """D has none of the variables: it shares none with any area, so it is nobody's peer and has none itself, and
    working that out takes no mean of an empty set (numpy's 'Mean of empty slice' warning is an error here)."""
    profile = pd.DataFrame({"area_code": ["A", "B", "C", "D"], "area_name": ["A", "B", "C", "D"],
                            "population": [10.0, 20.0, 40.0, np.nan], "ocu_prevalence": [1.0, 2.0, 4.0, np.nan],
                            "deaths_recent": [np.nan] * 4, "deaths_past": [np.nan] * 4})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        peers = similar_areas(profile)
    assert set(peers[peers.area_code == "D"].peer_code) == set()
    assert "D" not in set(peers.peer_code)
    assert set(peers[peers.area_code == "A"].peer_code) == {"B", "C"}


def test_real_warehouse_peers(shared_raw, tmp_path_factory):
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    root = tmp_path_factory.mktemp("peers")
    fetch_all(root / "raw", mirror=shared_raw, progress=False)
    build(root / "raw", root / "w.duckdb")
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    rows = con.execute("""SELECT peer_name, distance FROM published.peer_similar
                          WHERE area_code = 'E06000009' AND family = 'completions' ORDER BY rank""").fetchall()
    assert len(rows) == 10
    assert [d for _, d in rows] == sorted(d for _, d in rows)
    # Blackpool's most similar areas by these open variables are other coastal/northern towns
    # with high prevalence and deaths; Middlesbrough and Hartlepool lead on the 2021 data.
    assert {"Middlesbrough", "Hartlepool"} <= {name for name, _ in rows[:3]}
    # Symmetric distances: Blackpool -> Middlesbrough equals Middlesbrough -> Blackpool.
    d1 = con.execute("SELECT distance FROM published.peer_similar WHERE area_code='E06000009' AND peer_code='E06000002' "
                     "AND family = 'completions'").fetchall()
    d2 = con.execute("SELECT distance FROM published.peer_similar WHERE area_code='E06000002' AND peer_code='E06000009' "
                     "AND family = 'completions'").fetchall()
    if d2:
        assert d1[0][0] == pytest.approx(d2[0][0], abs=1e-12)
    trends = dict(con.execute("SELECT trend, count(*) FROM published.recent_trends GROUP BY ALL").fetchall())
    assert set(trends) <= {"increasing", "decreasing", "no significant change", "cannot be calculated", "not tested"}


FAMILIES = {"ocu_prevalence": "need", "unmet_need_opiate_crack": "need", "deaths_drug_misuse": "deaths",
            "deaths_drug_poisoning": "deaths", "completion_opiate": "completions"}


def test_a_family_is_never_grouped_on_its_own_figures():
    """Issue 13: deaths are compared within areas chosen without the death rates, need within areas chosen
    without OCU prevalence. A and B are alike on deaths only, A and C on population and OCU only. Worked by
    hand (z-scores over the three areas): on population and OCU (the deaths set) A-B is 2.16 SD apart, A-C
    0.08, so A's nearest is C; on population and the two death rates (the need set) A-B is 1.25, A-C 1.74,
    so B."""
    profile = pd.DataFrame({"area_code": ["A", "B", "C"], "area_name": ["A", "B", "C"],
                            "population": [100.0, 1000.0, 110.0], "ocu_prevalence": [5.0, 20.0, 5.5],
                            "deaths_recent": [10.0, 10.2, 30.0], "deaths_past": [8.0, 8.1, 20.0]})
    sets = similar_sets(profile, FAMILIES)
    first = {f: g.loc[(g.area_code == "A") & (g["rank"] == 1), "peer_code"].item()
             for f, g in sets.groupby("family")}
    assert (first["deaths"], first["need"]) == ("C", "B")
    deaths = sets[sets.family == "deaths"]
    assert set(deaths["variables"]) == {"population (log scale); estimated opiate/crack use per 1,000 aged 15-64"}
    assert not deaths["reasons"].str.contains("death rate").any()
    need = sets[sets.family == "need"]
    assert not need["variables"].str.contains("opiate/crack").any() and not need["reasons"].str.contains("opiate").any()
    assert (sets[sets.family == "completions"]["n_variables"] == 4).all()


def _square(x: float, y: float, size: float = 0.1) -> str:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_geographic_peers_are_topped_up_with_the_nearest_areas():
    """Issue 13: bordering areas first (longest border first), then the nearest others by boundary distance
    until there are at least five. Six 0.1-degree squares in a row along latitude 53 (about 6.7 km wide):
    B borders A and C; the others are 1, 2, 3 squares further east."""
    codes = ["A", "B", "C", "D", "E", "F"]
    shapes = pd.DataFrame({"area_code": codes, "geometry": [_square(-2.0 + 0.1 * i, 53.0) for i in range(6)]})
    neighbours = pd.DataFrame({"area_code": ["A", "B", "B", "C"], "neighbour_code": ["B", "A", "C", "B"],
                               "shared_border_km": [11.1, 11.1, 11.1, 11.1]})
    peers = geographic_peers(shapes, neighbours)
    b = peers[peers.area_code == "B"]
    assert list(b["neighbour_code"]) == ["A", "C", "D", "E", "F"]
    assert list(b["relation"]) == ["border", "border", "nearest", "nearest", "nearest"]
    # D is one square (0.1 degrees of longitude at 53 N, about 6.7 km) beyond B's eastern edge.
    assert b["distance_km"].iloc[2] == pytest.approx(6.7, abs=0.2)
    assert list(peers[peers.area_code == "F"]["neighbour_code"]) == ["E", "D", "C", "B", "A"]
    assert peers.groupby("area_code").size().min() == 5 and not (peers.area_code == peers.neighbour_code).any()


def test_real_geographic_and_similar_peers(shared_raw, tmp_path_factory):
    """Blackpool borders only Lancashire: its geographic group adds the nearest areas to five. The deaths set
    is chosen on population and OCU prevalence only."""
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    root = tmp_path_factory.mktemp("geo_peers")
    fetch_all(root / "raw", mirror=shared_raw, progress=False)
    build(root / "raw", root / "w.duckdb")
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    rows = con.execute("""SELECT a.area_name, g.relation FROM published.peer_geographic g
                          JOIN published.areas a ON a.area_code = g.neighbour_code
                          WHERE g.area_code = 'E06000009' ORDER BY g.rank""").fetchall()
    assert rows[0] == ("Lancashire", "border") and len(rows) == 5
    assert {r for r, _ in rows[1:]} == {"Sefton", "Westmorland and Furness", "Wigan", "Blackburn with Darwen"}
    smallest = con.execute("SELECT min(n) FROM (SELECT count(*) AS n FROM published.peer_geographic GROUP BY area_code)")
    assert smallest.fetchall()[0][0] >= 5
    variables = con.execute("SELECT DISTINCT variables FROM published.peer_similar WHERE family = 'deaths'").fetchall()
    assert variables == [("population (log scale); estimated opiate/crack use per 1,000 aged 15-64",)]
