"""Most-similar-area peers: distances worked by hand, and the real warehouse's peers."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from indicators.pipeline.peers import similar_areas


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


def test_real_warehouse_peers(shared_raw, tmp_path_factory):
    from indicators.pipeline.build import build
    from indicators.pipeline.fetch import fetch_all

    root = tmp_path_factory.mktemp("peers")
    fetch_all(root / "raw", mirror=shared_raw, progress=False)
    build(root / "raw", root / "w.duckdb")
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    rows = con.execute("""SELECT peer_name, distance FROM published.peer_similar
                          WHERE area_code = 'E06000009' ORDER BY rank""").fetchall()
    assert len(rows) == 10
    assert [d for _, d in rows] == sorted(d for _, d in rows)
    # Blackpool's most similar areas by these open variables are other coastal/northern towns
    # with high prevalence and deaths; Middlesbrough and Hartlepool lead on the 2021 data.
    assert {"Middlesbrough", "Hartlepool"} <= {name for name, _ in rows[:3]}
    # Symmetric distances: Blackpool -> Middlesbrough equals Middlesbrough -> Blackpool.
    d1 = con.execute("SELECT distance FROM published.peer_similar WHERE area_code='E06000009' AND peer_code='E06000002'").fetchall()
    d2 = con.execute("SELECT distance FROM published.peer_similar WHERE area_code='E06000002' AND peer_code='E06000009'").fetchall()
    if d2:
        assert d1[0][0] == pytest.approx(d2[0][0], abs=1e-12)
    trends = dict(con.execute("SELECT trend, count(*) FROM published.recent_trends GROUP BY ALL").fetchall())
    assert set(trends) <= {"increasing", "decreasing", "no significant change", "cannot be calculated"}
