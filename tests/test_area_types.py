"""Completions over time (issue 14, item 6): Fingertips fetched at every upper-tier area type an indicator has, the
types' overlapping rows resolved (the newer type wins), and the older types' areas harmonised onto current areas.

The end-to-end test serves the synthetic files (tests/synthetic_data.py) from a local stand-in for the Fingertips
API on 127.0.0.1, fetches them with the real fetch plan and builds; no request leaves the machine.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import httpx
import pandas as pd
import pytest

from indicators.catalogue import Indicator
from indicators.errors import InputError
from indicators.pipeline.build import build, harmonise
from indicators.pipeline.fetch import Downloader, FetchPolicy, fetch_all, read_manifest
from indicators.pipeline.sources import fingertips, get_source

HEADER = ("Indicator ID,Indicator Name,Parent Code,Parent Name,Area Code,Area Name,Area Type,Sex,Age,Category Type,"
          "Category,Time period,Value,Lower CI 95.0 limit,Upper CI 95.0 limit,Lower CI 99.8 limit,Upper CI 99.8 limit,"
          "Count,Denominator,Value note,Recent Trend,Compared to England value or percentiles,Column not used,"
          "Time period Sortable,New data,Compared to goal,Time period range\n")


def csv_row(code: str, period: str, count: float, denominator: float, area_type: str = "County & UA") -> str:
    value = count / denominator * 100
    return (f"90244,Opiate completions,E92000001,England,{code},Area {code},{area_type},Persons,18+ yrs,,,{period},"
            f"{value},,,,,{count},{denominator},,,,,{period[:4]}0000,,,1y\n")


# --------------------------------------------------------------------------- staging: the types' overlap

def test_the_newer_area_type_wins_an_overlap_and_says_so(tmp_path):
    newest = tmp_path / "indicator-90244.csv"
    older = tmp_path / "indicator-90244_area_type_402.csv"
    oldest = tmp_path / "indicator-90244_area_type_102.csv"
    newest.write_text(HEADER + csv_row("E06000001", "2020/21", 50, 1000) + csv_row("E06000002", "2020/21", 10, 100))
    older.write_text(HEADER + csv_row("E06000001", "2020/21", 50, 1000) + csv_row("E06000002", "2020/21", 12, 100)
                     + csv_row("E06000001", "2019/20", 40, 900))
    oldest.write_text(HEADER + csv_row("E06000001", "2019/20", 41, 900) + csv_row("E06000001", "2017/18", 30, 800))
    staged = fingertips.stage([newest, oldest, older])  # any order: the ages come from the file names
    obs = staged["observations"].set_index(["area_code", "period_label"])
    assert len(obs) == 4
    assert obs.loc[("E06000002", "2020/21"), ["numerator", "source_file"]].tolist() == [10, newest.name]
    assert obs.loc[("E06000001", "2019/20"), ["numerator", "source_file"]].tolist() == [40, older.name]
    assert obs.loc[("E06000001", "2017/18"), "source_file"] == oldest.name
    assert list(staged["warnings"]["warning"]) == [
        "2 row(s) published at an earlier area type differ from the newer type's figure for the same area and "
        "period; the newer type's figure is used"]


def test_age_follows_the_start_dates_in_area_types_json(tmp_path):
    """With area_types.json, a type is older by the dates in its name, not by its id."""
    (tmp_path / "area_types.json").write_text(json.dumps([
        {"Id": 502, "Name": "Upper tier local authorities (post 4/23)"},
        {"Id": 301, "Name": "Upper tier local authorities (4/21-3/23)"},
        {"Id": 402, "Name": "Upper tier local authorities (pre 4/19)"}]))
    a = tmp_path / "indicator-90244_area_type_301.csv"
    b = tmp_path / "indicator-90244_area_type_402.csv"
    a.write_text(HEADER + csv_row("E06000001", "2018/19", 5, 100))
    b.write_text(HEADER + csv_row("E06000001", "2018/19", 6, 100))
    staged = fingertips.stage([tmp_path / "area_types.json", a, b])
    assert staged["observations"]["numerator"].tolist() == [5]  # 301 (from 2021) is newer than 402 (before 2019)


def test_a_contradiction_within_one_area_type_is_still_an_error(tmp_path):
    first = tmp_path / "indicator-90244_area_type_402.csv"
    second = tmp_path / "indicator-90244_area_type_402_resent.csv"  # no type suffix at the end: the newest type
    first.write_text(HEADER + csv_row("E06000001", "2019/20", 40, 900))
    second.write_text(HEADER + csv_row("E06000001", "2019/20", 41, 900))
    assert fingertips.area_type_of_file(second) == fingertips.NEWEST
    third = tmp_path / "indicator-90244_copy_area_type_402.csv"
    third.write_text(HEADER + csv_row("E06000001", "2019/20", 41, 900))
    with pytest.raises(InputError) as info:
        fingertips.stage([first, third])
    assert "contradicts indicator-90244_area_type_402.csv data row 1" in str(info.value)
    assert info.value.file == third.name


# --------------------------------------------------------------------------- harmonising upper-tier figures

def _indicator(reaggregate: str = "counts") -> Indicator:
    return Indicator(id="completion_opiate", family="completions", title="t", short_title="t", definition="d",
                     caveats=(), unit="%", value_type="proportion", multiplier=100.0, polarity="high_is_good",
                     ci_method="wilson", period_type="financial year", suppression="", publisher="p",
                     publisher_id="90244", source_ids=("fingertips",), reaggregate=reaggregate, sql="")


def _rows(values: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame([dict(indicator_id="completion_opiate", area_code=code, area_name=code, period_label="2018/19",
                              period_start=date(2018, 4, 1), period_end=date(2019, 3, 31), value=n / d * 100,
                              lower_ci_95=None, upper_ci_95=None, lower_ci_998=None, upper_ci_998=None, numerator=n,
                              denominator=d, is_suppressed=False, value_note="", source_id="fingertips",
                              source_file="indicator-90244_area_type_102.csv", edition="", publisher_comparison="")
                         for code, (n, d) in values.items()])


AREAS = pd.DataFrame([
    ("E06000901", "Newtown", "unitary", date(2019, 4, 1), None),
    ("E06000801", "Old East", "unitary", None, date(2019, 3, 31)),
    ("E06000802", "Old West", "unitary", None, date(2019, 3, 31)),
    ("E06000902", "North Half", "unitary", date(2019, 4, 1), None),
    ("E06000903", "South Half", "unitary", date(2019, 4, 1), None),
    ("E10000801", "Old County", "county", None, date(2019, 3, 31)),
], columns=["area_code", "area_name", "area_type", "valid_from", "valid_to"])
REORGS = pd.DataFrame([
    ("E06000801", "Old East", "E06000901", "Newtown", "merged", date(2019, 4, 1)),
    ("E06000802", "Old West", "E06000901", "Newtown", "merged", date(2019, 4, 1)),
    ("E10000801", "Old County", "E06000902", "North Half", "split", date(2019, 4, 1)),
    ("E10000801", "Old County", "E06000903", "South Half", "split", date(2019, 4, 1)),
], columns=["old_code", "old_name", "new_code", "new_name", "relation", "effective"])
NO_DISTRICTS = pd.DataFrame(columns=["ltla_code", "utla_code", "valid_from", "valid_to"])


def test_a_merger_re_aggregates_the_old_areas_counts_and_a_split_says_it_cannot():
    rows = _rows({"E06000801": (30, 400), "E06000802": (12, 100), "E10000801": (80, 1000)})
    out = harmonise(rows, [_indicator()], AREAS, REORGS, NO_DISTRICTS).set_index("area_code")
    newtown = out.loc["E06000901"]
    assert (newtown["numerator"], newtown["denominator"]) == (42.0, 500.0)  # 30 + 12 of 400 + 100
    assert newtown["harmonisation"] == "re-aggregated from areas: E06000801,E06000802"
    assert newtown["value_note"] == "Newtown did not exist in this period; the count is the sum of its 2 former areas."
    for half in ("E06000902", "E06000903"):
        assert pd.isna(out.loc[half, "numerator"]) and out.loc[half, "harmonisation"] == "not derivable"
        assert "figures for the old areas (Old County) cannot be re-derived" in out.loc[half, "value_note"]
    # A merger with one old area missing cannot be summed, and says so.
    out = harmonise(_rows({"E06000801": (30, 400)}), [_indicator()], AREAS, REORGS, NO_DISTRICTS).set_index("area_code")
    assert pd.isna(out.loc["E06000901", "numerator"]) and out.loc["E06000901", "harmonisation"] == "not derivable"
    # An indicator whose figures must not be summed is not.
    out = harmonise(rows, [_indicator("none")], AREAS, REORGS, NO_DISTRICTS).set_index("area_code")
    assert pd.isna(out.loc["E06000901", "numerator"]) and "cannot be re-derived" in out.loc["E06000901", "value_note"]


# --------------------------------------------------------------------------- fetched from a stand-in API

class StandIn(BaseHTTPRequestHandler):
    """The Fingertips API as far as the fetch plan uses it, answering from the synthetic files in `StandIn.folder`:
    area_types, available_data (the types a file exists for), the alcohol indicator's metadata, and all_data CSVs
    (a header only for an indicator or type without a file)."""

    folder: Path = Path()
    requests: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        StandIn.requests.append(self.path)
        if url.path == "/api/area_types":
            self._send((self.folder / "area_types.json").read_bytes(), "application/json")
        elif url.path == "/api/available_data":
            indicator = int(query["indicator_id"])
            types = [502] + [fingertips.area_type_of_file(p) for p in self.folder.glob(f"indicator-{indicator}_*.csv")]
            body = [{"IndicatorId": indicator, "AreaTypeId": t} for t in types]
            self._send(json.dumps(body).encode(), "application/json")
        elif url.path == "/api/indicator_metadata/by_indicator_id":
            body = {"92447": {"Descriptive": {"Name": "Successful completion of alcohol treatment"}}}
            self._send(json.dumps(body).encode(), "application/json")
        elif url.path == "/api/all_data/csv/by_indicator_id":
            indicator, area_type = int(query["indicator_ids"]), int(query["child_area_type_id"])
            path = self.folder / fingertips.area_type_file_name(indicator, None if area_type == 502 else area_type)
            self._send(path.read_bytes() if path.exists() else HEADER.encode(), "text/csv")
        else:
            self.send_response(404)
            self.end_headers()

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Loopback(httpx.HTTPTransport):
    """Every request, whatever its host, goes to the stand-in on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return super().handle_request(request)


@pytest.fixture
def stand_in(synthetic_warehouse):
    StandIn.folder = synthetic_warehouse.raw / "fingertips"
    StandIn.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    policy = FetchPolicy(attempts=2, backoff=0.01, sleep=lambda s: None)
    downloader = Downloader(policy, client=httpx.Client(transport=Loopback(server.server_address[1])))
    yield downloader
    downloader.close()
    server.shutdown()
    server.server_close()


def test_fetched_at_every_area_type_and_built_onto_current_areas(synthetic_warehouse, stand_in, tmp_path):
    raw = tmp_path / "raw"
    for folder in synthetic_warehouse.raw.iterdir():
        if folder.name != "fingertips":
            shutil.copytree(folder, raw / folder.name)
    report = fetch_all(raw, sources=[get_source("fingertips")], downloader=stand_in, progress=False)
    fetched = set(report.fetched["fingertips"])
    assert {"indicator-90244.csv", "indicator-90244_area_type_402.csv", "indicator-90244_area_type_102.csv",
            "indicator-92447_area_type_102.csv"} <= fetched
    assert "indicator-92432_area_type_402.csv" not in fetched  # no data at 402 for that indicator: not asked
    manifest = read_manifest(raw / "fingertips")["files"]
    assert manifest["indicator-90245_area_type_402.csv"]["url"] == fingertips.indicator_csv_url(90245, 402)
    for name in ("indicator-90244.csv", "indicator-90244_area_type_402.csv", "indicator-90244_area_type_102.csv"):
        assert (raw / "fingertips" / name).read_bytes() == (synthetic_warehouse.raw / "fingertips" / name).read_bytes()

    build(raw, tmp_path / "w.duckdb")
    query = """SELECT indicator_id, area_code, period_label, value, numerator, denominator, value_note
               FROM published.indicator_values WHERE indicator_id LIKE 'completion_%' ORDER BY ALL"""
    fetched_db = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    expected_db = duckdb.connect(str(synthetic_warehouse.db), read_only=True)
    try:
        got, expected = fetched_db.execute(query).df(), expected_db.execute(query).df()
        provenance = fetched_db.execute("""SELECT area_code, period_label, source_file, harmonisation
            FROM published.value_provenance WHERE indicator_id = 'completion_opiate'""").df()
    finally:
        fetched_db.close()
        expected_db.close()
    pd.testing.assert_frame_equal(got, expected)
    periods = sorted(got["period_label"].unique())
    assert periods == [f"{y}/{(y + 1) % 100:02d}" for y in range(2016, 2023)]  # not just the 502 type's three
    prov = provenance.set_index(["area_code", "period_label"])
    assert prov.loc[("E92000001", "2016/17"), "source_file"] == "indicator-90244_area_type_102.csv"
    assert prov.loc[("E92000001", "2020/21"), "source_file"] == "indicator-90244.csv"  # the newer type's copy
    assert prov.loc[("E06000065", "2018/19"), "harmonisation"] == "carried from E10000023"
