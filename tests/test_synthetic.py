"""The synthetic full-coverage data set (tests/synthetic_data.py): deterministic, in the publishers' formats, marked in
every file, and a warehouse built from it says it is synthetic in build_info, on every page and in every download."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import zipfile

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import synthetic_data
from conftest import REPO
from streamlit.testing.v1 import AppTest
from support import make_warehouse

from indicators.pipeline.build import build
from indicators.pipeline.sources import fingertips, release_foi, ukhsa_hcv_odn
from indicators.pipeline.synthetic import MARKER, NOTICE
from indicators.products import downloads

ENGLAND = "E92000001"
COMPLETIONS = {"completion_opiate": 5.0, "completion_non_opiate": 30.0, "completion_alcohol": 35.0}
PAGES = ["pages/map.py", "pages/lottery.py", "pages/area.py", "pages/compare.py", "pages/about.py",
         "pages/availability.py"]


@pytest.fixture(scope="module")
def con(synthetic_warehouse):
    connection = duckdb.connect(str(synthetic_warehouse.db), read_only=True)
    yield connection
    connection.close()


def q(con, sql, params=()):
    return con.execute(sql, list(params)).df()


# --------------------------------------------------------------------------- the files

def test_generator_is_deterministic(synthetic_warehouse, tmp_path):
    again = synthetic_data.generate(tmp_path / "raw", synthetic_warehouse.data.real_raw)
    first = {p.relative_to(synthetic_warehouse.raw): p.read_bytes() for p in synthetic_warehouse.data.files}
    second = {p.relative_to(again.raw): p.read_bytes() for p in again.files}
    assert first == second
    assert len(first) == 14


def test_every_file_and_every_row_carries_the_marker(synthetic_warehouse):
    for path in synthetic_warehouse.data.files:
        text = path.read_text(encoding="utf-8")
        assert MARKER in text, path.name
        if path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text)))
            data_rows = [r for r in rows[2:] if any(r)] if "fingertips" not in str(path) else rows[1:]
            assert data_rows and all(any(MARKER in cell for cell in r) for r in data_rows), path.name


def test_never_written_into_data(synthetic_warehouse):
    with pytest.raises(ValueError, match="never goes into"):
        synthetic_data.generate(REPO / "data" / "raw_synthetic", synthetic_warehouse.data.real_raw)
    assert not (REPO / "data" / "raw_synthetic").exists()


def test_files_parse_with_the_real_parsers(synthetic_warehouse):
    raw = synthetic_warehouse.raw
    staged = fingertips.stage(sorted((raw / "fingertips").iterdir()))
    obs = staged["observations"]
    assert set(obs["series"]) == {"fingertips:90244", "fingertips:90245", "fingertips:92447"}
    assert staged["fingertips_area_type"]["area_type_id"].tolist() == [502]
    # Breakdown rows (deprivation deciles) are left out: one England row per indicator and year.
    england = obs.loc[obs["area_code"].eq(ENGLAND)]
    assert len(england) == 3 * 7
    older = fingertips.parse_csv(raw / "fingertips" / "indicator-90245_area_type_402.csv")
    assert {"E10000006", "E10000023"} <= set(older["area_code"])  # Cumbria and North Yorkshire counties
    assert not {"E06000063", "E06000065"} & set(older["area_code"])
    with (raw / "fingertips" / "indicator-90245_area_type_402.csv").open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert "Compared to Region value or percentiles" in header and "Time period range" not in header
    hcv = ukhsa_hcv_odn.stage(sorted((raw / "ukhsa_hcv_odn").iterdir()))
    assert set(hcv["la_odn"]["area_code"]) == set(synthetic_warehouse.current)
    assert hcv["hcv_odn_values"]["is_suppressed"].any()
    naloxone = release_foi.stage(sorted((raw / "release_foi").iterdir()))["observations"]
    assert set(naloxone["period_label"]) == {"2016/17", "2017/18"}


# --------------------------------------------------------------------------- the warehouse it builds

def test_build_records_that_it_is_synthetic(synthetic_warehouse, con):
    info = q(con, "SELECT * FROM published.build_info").iloc[0]
    assert bool(info["synthetic"]) is True
    assert info["build_id"].startswith("synthetic-")
    assert len(json.loads(info["synthetic_files"])) == 14
    sources = q(con, "SELECT source_id, file, title, publisher, licence FROM published.sources")
    marked = sources.loc[sources["publisher"].eq("Synthetic test data (not real figures)")]
    assert set(marked["source_id"]) == {"fingertips", "release_foi", "ukhsa_hcv_odn"}
    assert marked["title"].str.startswith(MARKER).all()
    real = sources.loc[~sources.index.isin(marked.index)]
    assert set(real["source_id"]) >= {"boundaries", "lookups", "ons_deaths"}


def test_the_mark_survives_a_rename(synthetic_warehouse, tmp_path):
    """The marker is in the content: a synthetic file under another name, in another source's folder, still marks the build."""
    raw = tmp_path / "raw"
    for source_id in ("boundaries", "lookups"):
        shutil.copytree(synthetic_warehouse.raw / source_id, raw / source_id)
    (raw / "release_foi").mkdir()
    shutil.copyfile(synthetic_warehouse.raw / "release_foi" / "release_naloxone_2017-18.csv",
                    raw / "release_foi" / "naloxone_official_2017-18.csv")
    report = build(raw, tmp_path / "w.duckdb")
    assert report.build_id.startswith("synthetic-")
    assert report.synthetic_files == ["release_foi/naloxone_official_2017-18.csv"]
    # The same folders without the synthetic file build an unmarked warehouse.
    (raw / "release_foi" / "naloxone_official_2017-18.csv").unlink()
    (raw / "release_foi").rmdir()
    report = build(raw, tmp_path / "w.duckdb")
    assert not report.build_id.startswith("synthetic-") and report.synthetic_files == []
    connection = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert connection.execute("SELECT synthetic FROM published.build_info").fetchall() == [(False,)]
    finally:
        connection.close()


def test_every_current_area_has_each_completion_in_every_period(synthetic_warehouse, con):
    values = q(con, """SELECT indicator_id, area_code, period_label, value, numerator, denominator, is_suppressed,
                              value_note
                       FROM published.indicator_values WHERE indicator_id LIKE 'completion_%'""")
    current = set(synthetic_warehouse.current)
    for (indicator_id, period), group in values.groupby(["indicator_id", "period_label"]):
        assert current <= set(group["area_code"]), (indicator_id, period)
    latest = values.loc[values["period_label"].eq("2022/23") & values["area_code"].isin(current)]
    for indicator_id, group in latest.groupby("indicator_id"):
        with_value = group.loc[group["value"].notna(), "area_code"]
        # All but the combined areas (City of London, Isles of Scilly), the suppressed rows and the missing area.
        assert len(with_value) >= len(current) - 5, indicator_id
    city = latest.loc[latest["area_code"].eq("E09000001")]
    assert city["value"].isna().all() and city["value_note"].str.contains("combined with Hackney").all()
    rutland = values.loc[values["area_code"].eq("E06000017") & values["indicator_id"].eq("completion_non_opiate")]
    assert rutland["value"].isna().all()
    assert rutland["value_note"].str.startswith("No figure for this area").all()
    assert values["is_suppressed"].sum() >= 3


def test_published_values_are_the_generated_counts(synthetic_warehouse, con):
    truth = synthetic_warehouse.data.truth
    truth = truth.loc[truth["note"].eq("") & ~truth["area_code"].isin(["E09000001", "E09000012", "E06000052",
                                                                        "E06000053"])]
    published = q(con, """SELECT indicator_id, area_code, period_label, value, numerator, denominator
                          FROM published.indicator_values
                          WHERE indicator_id LIKE 'completion_%' AND value IS NOT NULL""")
    merged = published.merge(truth, on=["indicator_id", "area_code", "period_label"], suffixes=("", "_truth"))
    assert len(merged) > 3 * (len(synthetic_warehouse.current) - 6) * 6
    assert (merged["numerator"] == merged["numerator_truth"]).all()
    assert (merged["denominator"] == merged["denominator_truth"]).all()
    assert np.allclose(merged["value"], merged["numerator"] / merged["denominator"] * 100, rtol=1e-7)


def test_england_levels_are_plausible(con):
    england = q(con, """SELECT indicator_id, period_label, value FROM published.indicator_values
                        WHERE area_code = ? AND indicator_id LIKE 'completion_%'""", [ENGLAND])
    for indicator_id, level in COMPLETIONS.items():
        got = england.loc[england["indicator_id"].eq(indicator_id), "value"]
        assert len(got) == 7
        assert ((got > level * 0.85) & (got < level * 1.3)).all(), (indicator_id, got.tolist())


def _dispersion(group: pd.DataFrame, england: float) -> float:
    """Pearson chi-squared against England's proportion, divided by its degrees of freedom (1 = binomial only)."""
    p = england / 100
    z2 = (group["numerator"] - group["denominator"] * p) ** 2 / (group["denominator"] * p * (1 - p))
    return float(z2.sum() / (len(group) - 1))


def test_areas_differ_beyond_chance_and_the_opiate_gap_widens(synthetic_warehouse, con):
    values = q(con, """SELECT v.indicator_id, v.period_label, v.area_code, v.value, v.numerator, v.denominator,
                              e.value AS england
                       FROM published.indicator_values v JOIN published.indicator_values e
                         ON e.indicator_id = v.indicator_id AND e.period_label = v.period_label
                            AND e.area_code = 'E92000001'
                       WHERE v.indicator_id LIKE 'completion_%' AND v.value IS NOT NULL
                         AND v.area_code IN (SELECT area_code FROM published.areas WHERE valid_to IS NULL
                                             AND area_type NOT IN ('country', 'region'))""")
    for (indicator_id, period), group in values.groupby(["indicator_id", "period_label"]):
        assert _dispersion(group, group["england"].iloc[0]) > 3, (indicator_id, period)

    def spread(indicator_id, period):
        v = values.loc[values["indicator_id"].eq(indicator_id) & values["period_label"].eq(period), "value"] / 100
        logit = np.log(v / (1 - v))
        return float(logit.quantile(0.9) - logit.quantile(0.1))

    assert spread("completion_opiate", "2022/23") > 1.5 * spread("completion_opiate", "2016/17")
    assert spread("completion_alcohol", "2022/23") < spread("completion_alcohol", "2016/17")


def test_earlier_area_types_are_harmonised(con):
    rows = q(con, """SELECT area_code, period_label, value, numerator, value_note FROM published.indicator_values
                     WHERE indicator_id = 'completion_opiate'""").set_index(["area_code", "period_label"])
    # North Yorkshire: the 402-era county's figure carried to the 2023 unitary with the same footprint.
    assert rows.loc[("E06000065", "2019/20"), "numerator"] == rows.loc[("E10000023", "2019/20"), "numerator"]
    assert "North Yorkshire (E10000023)" in rows.loc[("E06000065", "2019/20"), "value_note"]
    # Buckinghamshire (not in the vendored cuts): the pre-2019 county (102 era) carried to the 2020 unitary.
    if ("E06000060", "2016/17") in rows.index:
        assert rows.loc[("E06000060", "2016/17"), "numerator"] == rows.loc[("E10000002", "2016/17"), "numerator"]
    # Cumberland before 2020/21 (only Cumbria was published) and BCP before 2018/19: not derivable, said so.
    assert math.isnan(rows.loc[("E06000063", "2019/20"), "value"])
    assert "Cumbria" in rows.loc[("E06000063", "2019/20"), "value_note"]
    assert math.isnan(rows.loc[("E06000058", "2017/18"), "value"])
    assert "cannot be split" in rows.loc[("E06000058", "2017/18"), "value_note"]
    # Cumbria itself is published until its area type ends, and equals its two successors added together.
    assert rows.loc[("E10000006", "2020/21"), "numerator"] == (
        rows.loc[("E06000063", "2020/21"), "numerator"] + rows.loc[("E06000064", "2020/21"), "numerator"])


def test_networks_and_naloxone_cover_every_area(synthetic_warehouse, con):
    lookup = q(con, "SELECT area_code, odn_name FROM staged.la_odn")
    assert sorted(lookup["area_code"]) == sorted(synthetic_warehouse.current)
    assert lookup.groupby("odn_name").size().max() <= 7
    naloxone = q(con, """SELECT period_label, count(value) AS n FROM published.indicator_values
                         WHERE indicator_id = 'naloxone_kits_per_100_ocu' GROUP BY ALL""").set_index("period_label")
    assert (naloxone["n"] >= 0.8 * len(synthetic_warehouse.current)).all()


# --------------------------------------------------------------------------- pages and downloads

@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_synthetic_banner(synthetic_warehouse, monkeypatch, page):
    monkeypatch.setenv("INDICATORS_DB", str(synthetic_warehouse.db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=90)
    if page != "pages/map.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error][:1] == [f"**{NOTICE}**"]
    assert "build id synthetic\\-" in " ".join(m.value for m in at.markdown)  # the footer (Markdown-escaped)


def test_a_real_warehouse_shows_no_banner(tmp_path, monkeypatch):
    monkeypatch.setenv("INDICATORS_DB", str(make_warehouse(tmp_path / "w.duckdb")))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    assert not [e for e in at.error if NOTICE in e.value]


def test_every_download_carries_the_mark(synthetic_warehouse, con, tmp_path):
    frame = q(con, "SELECT * FROM published.indicator_values WHERE indicator_id = 'completion_opiate' LIMIT 5")
    build_id = q(con, "SELECT build_id FROM published.build_info").iloc[0, 0]
    view = list(csv.DictReader(io.StringIO(downloads.view_csv(frame, build_id=build_id).decode())))
    assert len(view) == 5 and all(r["build_id"].startswith("synthetic-") for r in view)
    assert NOTICE in downloads.view_metadata(con, ["completion_opiate"], "http://x/?a=1").decode()
    assert downloads.citation(con, "Map", "http://x/").startswith(NOTICE)
    archive = zipfile.ZipFile(io.BytesIO(downloads.bulk_zip(con, indicator="completion_opiate")))
    assert NOTICE in archive.read("README.md").decode() and NOTICE in archive.comment.decode()
    table = next(csv.DictReader(io.StringIO(archive.read("indicator_values.csv").decode())))
    assert table["build_id"].startswith("synthetic-")
    parquet = pq.read_table(io.BytesIO(downloads.table_parquet(con, "indicator_values", "completion_opiate")))
    assert parquet.schema.metadata[b"synthetic"].decode() == NOTICE
    for fmt in downloads.FORMATS:
        indicator = None if fmt == "duckdb" else "completion_opiate"
        (tmp_path / fmt).mkdir()  # an existing folder: one-file formats go into it under their download name
        paths = downloads.export(synthetic_warehouse.db, tmp_path / fmt, indicator, fmt)
        assert paths and all(p.name.startswith("synthetic_") for p in paths), fmt
    assert downloads.download_name("completion_opiate", "2026-12-04", "map", "csv", synthetic_data=True) == \
        "synthetic_completion_opiate_map_2026-12-04.csv"
