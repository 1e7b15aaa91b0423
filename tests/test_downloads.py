"""Tests for indicators.products.downloads: exact CSV bytes, pandas and DuckDB round trips, zip, Parquet, names, citation, CLI."""

from __future__ import annotations

import ast
import io
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ENGLAND, VALUES, make_warehouse

from indicators.cli import main
from indicators.errors import IndicatorsError
from indicators.pipeline.schema import INDICATOR_VALUE_COLUMNS
from indicators.products import downloads
from indicators.products import queries
from indicators.products.queries import connect

BUILD_ID = "20261101-fixture0001"
GOLDEN = Path(__file__).parent / "fixtures" / "downloads" / "indicator_values.csv"
TEXT_COLUMNS = ["indicator_id", "area_code", "area_name", "period_label", "value_note",
                "compared_to_england", "compared_to_england_998", "source_id"]
PUBLISHED_SQL = ("SELECT * FROM published.indicator_values "
                 "ORDER BY indicator_id, area_code, period_start, period_label")

# Awkward but valid rows for the round trips: full-precision doubles, an exponent-sized value, a
# fractional count, quotes, commas and a line break in a note, and a note that needs neutralising.
TRICKY_VALUES = [
    ("completion_opiate", ENGLAND, "2020/21", 1 / 3, 1e-05, 0.30000000000000004, 1e-07, 0.7,
     2.5, 1e16, False, "", None, None),
    ("completion_opiate", "E09000007", "2020/21", 123456789.12345678, -1.5, 2e300, None, None,
     0.1, 3.0, False, 'Fewer than 10, so "withheld"\nsee the notes', "better", "not compared"),
    ("completion_opiate", "E09000012", "2020/21", None, None, None, None, None, None, None, True,
     "-5 recoded by the publisher", "not compared", "not compared"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("downloads") / "warehouse.duckdb")


@pytest.fixture()
def con(warehouse):
    connection = connect(warehouse)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def tricky(tmp_path_factory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("tricky") / "warehouse.duckdb", values=TRICKY_VALUES,
                          build_id="20261101-tricky")


def _text_filled(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    return frame


# --------------------------------------------------------------------------- view_csv

def test_view_csv_exact_bytes_with_formula_injection_and_numbers_untouched():
    frame = pd.DataFrame({
        "value": [-1.5, 0.00001, None, 7000.0, 1e16, 0.1 + 0.2],
        "area_name": ['=HYPERLINK("http://evil.example","x")', "+1", "-x", "@x", "\tx", "\rx"],
        "area_code": ["E09000007", "E09000033", "E09000012", "E06000009", "E08000003", "E06000063"],
        "rank": [1, 2, 3, 4, 5, 6],
        "period_end": pd.to_datetime(["2021-03-31"] * 6),
        "is_suppressed": [False, False, True, False, False, False],
        "value_note": ["", "a, b", 'say "hi"', "line\nbreak", "", "\u00a9 Crown"],
    })
    # Worked out by hand: published columns first in the published order (area_code, area_name,
    # period_end, value, is_suppressed, value_note), then the other column (rank), then build_id.
    # Text cells starting with = + - @ tab CR gain a leading ' and are quoted only when they hold
    # a comma, a quote, LF or CR; -1.5 in the numeric column stays -1.5; 1e-05 and 1e16 are
    # written out in full; 0.1 + 0.2 keeps all 17 significant digits; None is an empty cell;
    # "\u00a9" is UTF-8 (c2 a9) and there is no byte-order mark.
    expected = (
        b"area_code,area_name,period_end,value,is_suppressed,value_note,rank,build_id\n"
        b"E09000007,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",2021-03-31,-1.5,false,,1,b1\n"
        b"E09000033,'+1,2021-03-31,0.00001,false,\"a, b\",2,b1\n"
        b"E09000012,'-x,2021-03-31,,true,\"say \"\"hi\"\"\",3,b1\n"
        b"E06000009,'@x,2021-03-31,7000.0,false,\"line\nbreak\",4,b1\n"
        b"E08000003,'\tx,2021-03-31,10000000000000000.0,false,,5,b1\n"
        b"E06000063,\"'\rx\",2021-03-31,0.30000000000000004,false,\xc2\xa9 Crown,6,b1\n"
    )
    assert downloads.view_csv(frame, build_id="b1") == expected


def test_view_csv_neutralises_text_only_never_numbers():
    frame = pd.DataFrame({"value": [-2.0, -0.5], "lower_ci_95": [-3.25, -1e-06], "area_name": ["-2", "ok"],
                          "numerator": pd.array([-4, None], dtype="Int64")})
    assert downloads.view_csv(frame, build_id="b") == (
        b"area_name,value,lower_ci_95,numerator,build_id\n"
        b"'-2,-2.0,-3.25,-4,b\n"
        b"ok,-0.5,-0.000001,,b\n")


def test_view_csv_build_id_from_attrs_or_column_and_required():
    frame = pd.DataFrame({"area_code": ["E1"], "value": [1.0]})
    with pytest.raises(ValueError, match="build id"):
        downloads.view_csv(frame)
    frame.attrs["build_id"] = "from-attrs"
    assert downloads.view_csv(frame) == b"area_code,value,build_id\nE1,1.0,from-attrs\n"
    with_column = pd.DataFrame({"build_id": ["from-column"], "value": [2.0], "area_code": ["E2"]})
    assert downloads.view_csv(with_column) == b"area_code,value,build_id\nE2,2.0,from-column\n"
    with pytest.raises(ValueError, match="differs"):
        downloads.view_csv(with_column, build_id="other")


def test_view_csv_dates_times_and_empty_frame():
    frame = pd.DataFrame({
        "period_start": [date(2020, 4, 1), None],
        "fetched_at": pd.to_datetime(["2026-11-01 10:30:00", None]),
        "flag": [True, None],
    })
    assert downloads.view_csv(frame, build_id="b") == (
        b"period_start,fetched_at,flag,build_id\n"
        b"2020-04-01,2026-11-01T10:30:00,true,b\n"
        b",,,b\n")
    empty = pd.DataFrame(columns=["value", "area_code"])
    assert downloads.view_csv(empty, build_id="b") == b"area_code,value,build_id\n"


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_double_is_written_in_plain_notation_and_reads_back_exactly(x):
    body = downloads.view_csv(pd.DataFrame({"value": [x]}), build_id="b").decode()
    cell = body.splitlines()[1].split(",")[0]
    assert "e" not in cell.lower()
    assert float(cell) == x
    assert cell.startswith("-") == (str(x).startswith("-"))


def test_view_of_exportable_values_matches_the_bulk_csv(con):
    frame = downloads.exportable_values(con).df()
    assert list(frame.columns) == INDICATOR_VALUE_COLUMNS
    assert downloads.view_csv(frame, build_id=BUILD_ID) == downloads.table_csv(con, "indicator_values")


# --------------------------------------------------------------------------- indicator_values.csv

def test_indicator_values_csv_matches_golden_file(con):
    """The golden file was written once by `table_csv(con, "indicator_values")` on tests.support's warehouse.

    Checked by hand against tests/support.VALUES: the header is INDICATOR_VALUE_COLUMNS plus
    build_id; rows are sorted by indicator, area code, period start (so completion_alcohol, which
    has no rows, is absent and Blackpool 2019/20 precedes 2020/21); the two rows below were
    compared field by field with their tuples in VALUES (Hackney's suppressed completion row: all
    numbers empty, true, its note, 'not compared' twice, comparison_note 'suppressed'; England's deaths row: 5.1, 5.0, 5.2, no
    99.8% limits, 8361.0 with no denominator, empty comparisons because England is the benchmark).
    """
    data = downloads.table_csv(con, "indicator_values")
    assert data == GOLDEN.read_bytes()
    lines = data.decode().split("\n")
    assert lines[0] == ",".join(INDICATOR_VALUE_COLUMNS + ["build_id"])
    assert len(lines) == len(VALUES) + 2 and lines[-1] == ""
    assert ("completion_opiate,E09000012,Hackney,2020/21,2020-04-01,2021-03-31,,,,,,,,true,"
            "Value suppressed: small numbers,not compared,not compared,fingertips,suppressed,suppressed,"
            "20261101-fixture0001") in lines
    assert ("deaths_drug_misuse,E92000001,England,2019-21,2019-01-01,2021-12-31,5.1,5.0,5.2,,,8361.0,,false,"
            ",,,ons_deaths,,value,20261101-fixture0001") in lines
    assert lines.index("completion_opiate,E06000009,Blackpool,2019/20,2019-04-01,2020-03-31,3.5,2.6,4.7,2.2,5.4,"
                       "42.0,1200.0,false,,worse,worse,fingertips,,value,20261101-fixture0001") == 1


def test_exportable_values_one_indicator_and_unknown_id(con):
    rows = downloads.exportable_values(con, "deaths_drug_misuse").fetchall()
    assert len(rows) == sum(1 for v in VALUES if v[0] == "deaths_drug_misuse") == 10
    assert {r[0] for r in rows} == {"deaths_drug_misuse"}
    with pytest.raises(IndicatorsError, match="completion_alcohol, completion_opiate, deaths_drug_misuse"):
        downloads.exportable_values(con, "no_such_indicator")


@pytest.mark.parametrize("fixture_name", ["warehouse", "tricky"])
def test_csv_round_trip_through_pandas(fixture_name, request, tmp_path):
    db = request.getfixturevalue(fixture_name)
    with connect(db) as c:
        data = downloads.table_csv(c, "indicator_values")
        published = c.sql(PUBLISHED_SQL).df()
        build_id, _ = downloads.build_stamp(c)
    back = pd.read_csv(io.BytesIO(data), parse_dates=["period_start", "period_end"])
    assert list(back.columns) == INDICATOR_VALUE_COLUMNS + ["build_id"]
    assert set(back.pop("build_id")) == {build_id}
    assert back["is_suppressed"].dtype == bool
    expected = _text_filled(published)
    if fixture_name == "tricky":
        # Rows sort by area code: Camden, Hackney, England. Hackney's note begins with '-', so it
        # comes back with the quote the export adds, and only that changes.
        assert list(back["area_code"]) == ["E09000007", "E09000012", ENGLAND]
        assert back.loc[1, "value_note"] == "'-5 recoded by the publisher"
        expected.loc[1, "value_note"] = "'-5 recoded by the publisher"
        assert back.loc[2, "denominator"] == 1e16 and back.loc[0, "upper_ci_95"] == 2e300
        assert back.loc[2, "value"] == 1 / 3 and back.loc[0, "value"] == 123456789.12345678
    pd.testing.assert_frame_equal(_text_filled(back), expected, check_dtype=False, check_exact=True)


@pytest.mark.parametrize("fixture_name", ["warehouse", "tricky"])
def test_csv_round_trip_through_duckdb(fixture_name, request, tmp_path):
    db = request.getfixturevalue(fixture_name)
    path = tmp_path / "indicator_values.csv"
    with connect(db) as c:
        path.write_bytes(downloads.table_csv(c, "indicator_values"))
        types = dict((r[0], r[1]) for r in c.execute("DESCRIBE SELECT * FROM read_csv(?)", [str(path)]).fetchall())
        back = c.execute("SELECT * EXCLUDE (build_id) FROM read_csv(?)", [str(path)]).fetchall()
        published = c.execute(PUBLISHED_SQL).fetchall()
    assert types["period_start"] == "DATE" and types["value"] == "DOUBLE"
    assert types["numerator"] == "DOUBLE" and types["is_suppressed"] == "BOOLEAN"
    text_positions = [INDICATOR_VALUE_COLUMNS.index(c) for c in TEXT_COLUMNS]

    def normal(row):
        return tuple("" if i in text_positions and v is None else v for i, v in enumerate(row))

    expected = [normal(r) for r in published]
    if fixture_name == "tricky":
        note = INDICATOR_VALUE_COLUMNS.index("value_note")
        expected[1] = expected[1][:note] + ("'" + expected[1][note],) + expected[1][note + 1:]
    assert [normal(r) for r in back] == expected


# --------------------------------------------------------------------------- bulk zip

def test_bulk_zip_is_deterministic_and_complete(con, tmp_path):
    first = downloads.bulk_zip(con)
    assert downloads.bulk_zip(con) == first
    with connect(make_warehouse(tmp_path / "again.duckdb")) as other:
        assert downloads.bulk_zip(other) == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    names = [info.filename for info in archive.infolist()]
    assert names == ["README.md", "areas.csv", "indicator_values.csv", "indicators.csv", "sources.csv"]
    for info in archive.infolist():
        assert info.date_time == (2026, 11, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED
    assert BUILD_ID in archive.comment.decode()
    assert archive.read("indicator_values.csv") == GOLDEN.read_bytes()
    readme = archive.read("README.md").decode()
    files_section = readme.split("## Files", 1)[1].split("\n## ", 1)[0]
    for name in names:
        assert f"`{name}`" in files_section
    for table in downloads.BULK_TABLES:
        frame = pd.read_csv(io.BytesIO(archive.read(f"{table}.csv")))
        assert set(frame["build_id"]) == {BUILD_ID}
        assert f"`{table}.csv` ({len(frame)} rows)" in files_section
    assert len(pd.read_csv(io.BytesIO(archive.read("indicators.csv")))) == 3
    assert "Contains public sector information licensed under the Open Government Licence v3.0." in readme
    assert "Source: Office for National Statistics licensed under the Open Government Licence v.3.0" in readme
    assert "A successful completion is not the same as recovery" in readme
    assert BUILD_ID in readme and "2026-11-01" in readme
    assert "not compared" in readme and "is_suppressed" in readme and "No data" in readme
    assert "No description recorded" not in readme


def test_bulk_zip_for_one_indicator(con):
    archive = zipfile.ZipFile(io.BytesIO(downloads.bulk_zip(con, indicator="deaths_drug_misuse")))
    values = pd.read_csv(io.BytesIO(archive.read("indicator_values.csv")))
    assert set(values["indicator_id"]) == {"deaths_drug_misuse"} and len(values) == 10
    assert list(pd.read_csv(io.BytesIO(archive.read("indicators.csv")))["indicator_id"]) == ["deaths_drug_misuse"]
    assert list(pd.read_csv(io.BytesIO(archive.read("sources.csv")))["source_id"]) == ["ons_deaths"]
    assert len(pd.read_csv(io.BytesIO(archive.read("areas.csv")))) == 10


def test_every_fixture_column_is_documented(con):
    for table in downloads.BULK_TABLES:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'published' "
            "AND table_name = ?", [table]).fetchall()]
        assert set(columns) <= set(downloads.COLUMN_DOCS[table]), table
    assert list(downloads.COLUMN_DOCS["indicator_values"]) == INDICATOR_VALUE_COLUMNS


def test_sources_of_an_indicator_are_the_files_its_values_came_from(tmp_path):
    db = make_warehouse(tmp_path / "provenance.duckdb")
    with duckdb.connect(str(db)) as writable:
        writable.execute("""INSERT INTO published.sources
            SELECT * REPLACE ('indicator-92447.csv' AS file, '2' * 64 AS sha256)
            FROM published.sources WHERE source_id = 'fingertips'""")
        writable.execute("""UPDATE published.value_provenance SET source_file = 'indicator-90244.csv'
                            WHERE indicator_id = 'completion_opiate'""")
    with connect(db) as c:
        def files(indicator):
            return [r[3] for r in downloads.table_relation(c, "sources", indicator).fetchall()]

        assert files("completion_opiate") == ["indicator-90244.csv"]
        # No values, so no provenance: every file of its declared source.
        assert files("completion_alcohol") == ["indicator-90244.csv", "indicator-92447.csv"]
        assert files("deaths_drug_misuse") == ["2021localauthorities.xlsx"]
        metadata = downloads.view_metadata(c, ["completion_opiate"], "https://dash.example/").decode()
        assert "indicator-90244.csv" in metadata and "indicator-92447.csv" not in metadata
        assert "Data: OHID." in downloads.citation(c, "Completions", "https://dash.example/",
                                                   indicator_ids=["completion_opiate"])


# --------------------------------------------------------------------------- Parquet and the warehouse copy

def test_parquet_round_trip(con, tmp_path):
    paths = downloads.write_parquet(con, tmp_path)
    assert [p.name for p in paths] == [f"all_indicators_{t}_2026-11-01.parquet" for t in downloads.BULK_TABLES]
    values = pd.read_parquet(paths[0])
    assert list(values.columns) == INDICATOR_VALUE_COLUMNS + ["build_id"]
    assert set(values.pop("build_id")) == {BUILD_ID}
    published = con.sql(PUBLISHED_SQL).df()
    for column in ("period_start", "period_end"):
        values[column] = pd.to_datetime(values[column])
    pd.testing.assert_frame_equal(values, published, check_dtype=False, check_exact=True)
    assert values.loc[values["area_code"] == ENGLAND, "compared_to_england"].isna().all()
    assert pq.read_schema(paths[0]).metadata[b"build_id"] == BUILD_ID.encode()
    types = dict((r[0], r[1]) for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(paths[0])]).fetchall())
    assert types["period_start"] == "DATE" and types["is_suppressed"] == "BOOLEAN" and types["value"] == "DOUBLE"
    assert downloads.table_parquet(con, "indicator_values") == paths[0].read_bytes()
    sources = pd.read_parquet(paths[3])
    assert list(sources["sha256"]) == ["0" * 64, "1" * 64]


def _tables(path) -> dict:
    """Every table of a DuckDB file, as sorted rows: equal content, whatever the file's bytes."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_catalog = current_database() ORDER BY ALL").fetchall()
        return {(s, t): sorted(map(repr, con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall())) for s, t in names}
    finally:
        con.close()


def test_copy_warehouse(warehouse, tmp_path):
    out = downloads.copy_warehouse(warehouse, tmp_path / "copy.duckdb")
    assert _tables(out) == _tables(warehouse)
    with pytest.raises(IndicatorsError, match="no warehouse"):
        downloads.copy_warehouse(tmp_path / "missing.duckdb", tmp_path / "x.duckdb")


# --------------------------------------------------------------------------- names, citation, metadata

def test_download_name():
    assert downloads.download_name("deaths_drug_misuse", "2026-11-01", "2019-21_values", "csv") == \
        "deaths_drug_misuse_2019-21_values_2026-11-01.csv"
    assert downloads.download_name(None, "2026-11-01", "data", "zip") == "all_indicators_data_2026-11-01.zip"
    assert downloads.filename_part("2020/21") == "2020-21"
    assert downloads.filename_part(" 2019 - 21 ") == "2019-21"


@pytest.mark.parametrize("args", [
    ("../etc", "2026-11-01", "values", "csv"),
    ("deaths/drug", "2026-11-01", "values", "csv"),
    ("deaths drug", "2026-11-01", "values", "csv"),
    ("Deaths", "2026-11-01", "values", "csv"),
    ("", "2026-11-01", "values", "csv"),
    ("deaths", "2026-13-01", "values", "csv"),
    ("deaths", "2026/11/01", "values", "csv"),
    ("deaths", "2026-11-01T00:00", "values", "csv"),
    ("deaths", "2026-11-01", "2020/21_values", "csv"),
    ("deaths", "2026-11-01", "my values", "csv"),
    ("deaths", "2026-11-01", "", "csv"),
    ("deaths", "2026-11-01", "..", "csv"),
    ("deaths", "2026-11-01", "values", ".csv"),
    ("deaths", "2026-11-01", "values", "c/v"),
    ("deaths", "2026-11-01", "values", ""),
])
def test_download_name_rejects_unsafe_parts(args):
    with pytest.raises(ValueError):
        downloads.download_name(*args)


def test_citation(con):
    text = downloads.citation(con, "Drug-misuse deaths in Camden", "https://dash.example/?i=deaths&a=E09000007",
                              indicator_ids=["deaths_drug_misuse"], accessed=date(2026, 11, 5))
    assert text == ("Drug-misuse deaths in Camden. Data: Office for National Statistics. "
                    "Drug-treatment postcode lottery dashboard, data build of 2026-11-01 "
                    "(build id 20261101-fixture0001). Available at https://dash.example/?i=deaths&a=E09000007 "
                    "(accessed 2026-11-05).")
    every = downloads.citation(con, "Overview", "https://dash.example/", accessed=date(2026, 11, 5))
    assert "Data: OHID and Office for National Statistics." in every
    assert "2026-11-01" in every and BUILD_ID in every and "https://dash.example/" in every
    assert str(date.today()) in downloads.citation(con, "Overview", "https://dash.example/")
    with pytest.raises(ValueError):
        downloads.citation(con, " ", "https://dash.example/")


def test_view_metadata(con):
    data = downloads.view_metadata(con, ["completion_opiate", "deaths_drug_misuse"], "https://dash.example/?v=1")
    assert data == downloads.view_metadata(con, ["completion_opiate", "deaths_drug_misuse"], "https://dash.example/?v=1")
    text = data.decode("utf-8")
    assert text.startswith("# Metadata: Successful completion of drug treatment: opiate users; "
                           "Deaths related to drug misuse\n")
    for expected in [
        "## Successful completion of drug treatment: opiate users (`completion_opiate`)",
        "- Definition: Invented definition for tests.", "- Unit: %", "- Polarity: Higher is better.",
        "- Polarity: Lower is better.", "Wilson score interval (`wilson`)", "J Am Stat Assoc 1927;22:209-12",
        "Limits as published (age-standardised rate) (`published_dsr`)", "- A caveat.", "- Period type: financial year",
        "- Suppression: Small numbers withheld.", "- Publisher: OHID Fingertips (publisher's id: 90244)",
        "https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id?indicator_ids=90244",
        "retrieved 2026-11-01T00:00:00+00:00", "SHA-256 `" + "0" * 64 + "`",
        "licence: Open Government Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/)",
        "- Contains public sector information licensed under the Open Government Licence v3.0.",
        "- Source: Office for National Statistics licensed under the Open Government Licence v.3.0",
        "- Build id: `20261101-fixture0001`", "- Build date: 2026-11-01", "- Permalink: https://dash.example/?v=1",
        "## How to cite", "Available at https://dash.example/?v=1", "not compared",
    ]:
        assert expected in text, expected
    with pytest.raises(IndicatorsError, match="valid ids"):
        downloads.view_metadata(con, ["nope"], "https://dash.example/")


# --------------------------------------------------------------------------- CLI

def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_cli_export_writes_the_same_bytes_as_the_functions(warehouse, con, tmp_path, capsys):
    for fmt in ("zip", "duckdb"):  # one-file formats write into --out only when it is an existing folder
        (tmp_path / fmt).mkdir()
    for fmt in downloads.FORMATS:
        assert main(["export", "--db", str(warehouse), "--out", str(tmp_path / fmt), "--format", fmt]) == 0
    files = {t: f"all_indicators_{t}_2026-11-01.csv" for t in downloads.BULK_TABLES}
    files["README"] = "all_indicators_README_2026-11-01.md"
    expected_csv = {files[t]: downloads.table_csv(con, t) for t in downloads.BULK_TABLES}
    expected_csv[files["README"]] = downloads.bulk_readme(con, files)
    assert _files(tmp_path / "csv") == expected_csv
    assert _files(tmp_path / "csv")[files["indicator_values"]] == GOLDEN.read_bytes()
    readme = expected_csv[files["README"]].decode()
    assert all(f"`{name}`" in readme for name in expected_csv)
    assert _files(tmp_path / "zip") == {"all_indicators_data_2026-11-01.zip": downloads.bulk_zip(con)}
    assert _files(tmp_path / "parquet") == {f"all_indicators_{t}_2026-11-01.parquet": downloads.table_parquet(con, t)
                                             for t in downloads.BULK_TABLES}
    (copied,) = (tmp_path / "duckdb").iterdir()
    assert copied.name == "all_indicators_warehouse_2026-11-01.duckdb"
    assert _tables(copied) == _tables(warehouse)
    printed = capsys.readouterr().out.splitlines()
    assert str(tmp_path / "zip" / "all_indicators_data_2026-11-01.zip") in printed


def test_cli_export_one_indicator_default_db_and_errors(warehouse, con, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INDICATORS_DB", str(warehouse))
    out = tmp_path / "one"
    assert main(["export", "--out", str(out), "--indicator", "deaths_drug_misuse"]) == 0
    name = "deaths_drug_misuse_indicator_values_2026-11-01.csv"
    assert (out / name).read_bytes() == downloads.table_csv(con, "indicator_values", "deaths_drug_misuse")
    assert main(["export", "--out", str(out), "--indicator", "deaths_drug_misuse", "--format", "zip"]) == 0
    assert (out / "deaths_drug_misuse_data_2026-11-01.zip").read_bytes() == \
        downloads.bulk_zip(con, indicator="deaths_drug_misuse")  # into the folder: it exists
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    capsys.readouterr()

    assert main(["export", "--out", str(out), "--indicator", "nope"]) == 2
    assert "unknown indicator id 'nope'; valid ids: completion_alcohol, completion_opiate, deaths_drug_misuse" \
        in capsys.readouterr().err
    assert main(["export", "--out", str(out), "--indicator", "deaths_drug_misuse", "--format", "duckdb"]) == 2
    assert "drop --indicator" in capsys.readouterr().err
    assert main(["export", "--out", str(out / name)]) == 2
    assert "must be a folder" in capsys.readouterr().err
    assert main(["export", "--db", str(tmp_path / "none.duckdb"), "--out", str(out)]) == 2
    assert "no warehouse" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--out", str(out), "--format", "xlsx"])


def test_cli_export_out_names_the_file_of_a_zip_or_warehouse_copy(warehouse, con, tmp_path, capsys):
    """`--out bulk.zip --format zip` writes the file bulk.zip (its folder made if missing), not a folder of that
    name; the same for the warehouse copy; a folder only when --out is an existing folder."""
    target = tmp_path / "new" / "bulk.zip"
    assert main(["export", "--db", str(warehouse), "--out", str(target), "--format", "zip"]) == 0
    assert target.is_file() and target.read_bytes() == downloads.bulk_zip(con)
    assert zipfile.ZipFile(target).namelist() == ["README.md", "areas.csv", "indicator_values.csv", "indicators.csv",
                                                 "sources.csv"]
    assert capsys.readouterr().out.splitlines() == [str(target)]
    assert [p.name for p in target.parent.iterdir()] == ["bulk.zip"]
    assert main(["export", "--db", str(warehouse), "--out", str(target), "--format", "zip",
                 "--indicator", "deaths_drug_misuse"]) == 0  # an existing file is replaced
    assert target.read_bytes() == downloads.bulk_zip(con, indicator="deaths_drug_misuse")
    copy = tmp_path / "copy.duckdb"
    assert main(["export", "--db", str(warehouse), "--out", str(copy), "--format", "duckdb"]) == 0
    assert copy.is_file() and _tables(copy) == _tables(warehouse)
    assert main(["export", "--db", str(warehouse), "--out", str(warehouse), "--format", "duckdb"]) == 2
    assert "is the warehouse itself" in capsys.readouterr().err


def test_export_overwrites_atomically(warehouse, tmp_path):
    out = tmp_path / "again"
    out.mkdir()
    first = downloads.export(warehouse, out, None, "zip")
    second = downloads.export(warehouse, out, None, "zip")
    assert first == second and [p.name for p in out.iterdir()] == ["all_indicators_data_2026-11-01.zip"]
    with pytest.raises(IndicatorsError, match="unknown format"):
        downloads.export(warehouse, out, None, "xlsx")


def test_library_never_imports_streamlit():
    tree = ast.parse(Path(downloads.__file__).read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "duckdb" in modules and not any(m.split(".")[0] == "streamlit" for m in modules)


# --------------------------------------------------------------------------- views with their comparators

def test_view_csv_carries_england_region_and_group_rows_marked(con):
    """A view's CSV: its own rows ('area'), then England's, the region's and the peer group's, marked in row_kind (the
    first column), with the view's columns; the metadata explains each kind."""
    pairs = (("deaths_drug_misuse", "2019-21"),)
    areas = queries_map_values(con)
    england = queries.comparator_rows(con, pairs)
    region = queries.comparator_rows(con, pairs, ("E12000002",))
    assert list(england["area_code"]) == ["E92000001"] and list(region["area_code"]) == ["E12000002"]
    group = downloads.group_value_row("deaths_drug_misuse", "2019-21", {"group_value": 9.5,
                                                                         "group_method": "pooled", "n_with_value": 3},
                                        "Geographic neighbours of X")
    view = downloads.with_comparators(areas.assign(indicator_id="deaths_drug_misuse"), england, region, group)
    view.attrs["build_id"] = BUILD_ID
    frame = pd.read_csv(io.BytesIO(downloads.view_csv(view)))
    assert list(frame.columns[:4]) == ["row_kind", "indicator_id", "area_code", "area_name"]
    assert list(frame["row_kind"]) == ["area"] * len(areas) + ["England", "region", "peer group"]
    england_row, region_row, group_row = frame.iloc[-3], frame.iloc[-2], frame.iloc[-1]
    assert region_row["area_name"] == "North West" and region_row["value"] == region["value"].iloc[0]
    assert (england_row["area_code"], england_row["value"]) == ("E92000001", 5.1)
    assert pd.isna(england_row["compared_to_england"])  # England is not compared with itself
    assert (group_row["area_name"], group_row["value"], group_row["group_method"], group_row["group_n_areas"]) == (
        "Geographic neighbours of X", 9.5, "pooled", 3)
    assert set(frame.columns) == set(areas.columns) | {"indicator_id", "row_kind", "group_method", "group_n_areas",
                                                       "build_id"}
    metadata = downloads.view_metadata(con, ["deaths_drug_misuse"], "https://dash.example/").decode()
    assert "## The rows" in metadata and "- England: England's figure for the same indicator and period" in metadata


def queries_map_values(con):
    from indicators.products import queries

    return queries.map_values(con, "deaths_drug_misuse", "2019-21")


def test_view_file_names_say_what_is_inside():
    assert downloads.view_file_name(["deaths_drug_misuse", "2019-21", "map"], "2026-11-01", "csv") == \
        "deaths_drug_misuse_2019-21_map_2026-11-01.csv"
    assert downloads.view_file_name(["Bournemouth, Christchurch and Poole", "E06000058", "area-profile",
                                     "latest-periods"], "2026-11-01", "md", synthetic_data=True) == \
        "synthetic_Bournemouth-Christchurch-and-Poole_E06000058_area-profile_latest-periods_2026-11-01.md"
    assert downloads.view_file_name(["completion_opiate", "2020/21", "league-table", "St. Helens", "E08000013",
                                     "neighbours"], "2026-11-01", "csv") == \
        "completion_opiate_2020-21_league-table_St-Helens_E08000013_neighbours_2026-11-01.csv"
    assert downloads.view_file_name(["../../etc/passwd", None, ""], "2026-11-01", "csv") == "etc-passwd_2026-11-01.csv"
