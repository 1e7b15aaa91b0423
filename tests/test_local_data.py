"""Local and community data: the template, strict validation with row-and-field messages, import, and the restricted-rows rule."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import PHStatsMethods as ph
import pytest
from support import make_warehouse

from indicators.catalogue import load_catalogue
from indicators.cli import main
from indicators.errors import IndicatorsError, WarehouseMissing
from indicators.pipeline.schema import table_exists
from indicators.products import local_data as ld
from indicators.products import queries

FIXTURES = Path(__file__).parent / "fixtures" / "local_data"
RESTRICTED = FIXTURES / "restricted_ndtms_2021-22.csv"
PUBLIC = FIXTURES / "community_naloxone_public.csv"
TEMPLATE_HEADER = ",".join(ld.COLUMNS)
# The header of a file written before the template had its optional FOI columns: such files still import.
HEADER = ",".join(c for c in ld.COLUMNS if c not in ld.OPTIONAL_COLUMNS)
GOOD_PUBLIC = ("naloxone_opiate_clients_issued,E09000012,2022/23,45,150,,,,Invented survey,Invented group,"
               "2023-05-02,Survey of people in treatment,CC BY 4.0,public")
GOOD_RESTRICTED = ("naloxone_opiate_clients_issued,E08000003,2021/22,412,1530,,,,Invented report,Invented team,"
                   "2022-06-15,,,restricted")


@pytest.fixture(scope="module")
def fixture_warehouse(tmp_path_factory) -> Path:
    return make_warehouse(tmp_path_factory.mktemp("local_data") / "warehouse.duckdb", harm_families=True)


@pytest.fixture
def db(tmp_path, fixture_warehouse) -> Path:
    """A fresh copy of the invented warehouse (with the naloxone and HCV families) for each test."""
    return Path(shutil.copyfile(fixture_warehouse, tmp_path / "warehouse.duckdb"))


def ro(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def warehouse_parts(db: Path):
    con = ro(db)
    try:
        areas = con.execute("SELECT area_code, area_name, valid_to FROM published.areas").df()
        catalogue = con.execute("SELECT * FROM published.indicators").df()
        reorganisations = con.execute("SELECT * FROM staged.reorganisations").df()
    finally:
        con.close()
    return areas, catalogue, reorganisations


def errors_for(db: Path, path: Path) -> list[str]:
    frame, errors = ld.validate(path, *warehouse_parts(db), today=date(2024, 1, 1))
    return errors


# --------------------------------------------------------------------------- template

def test_template_is_the_header_and_a_readme_that_documents_every_column(tmp_path):
    written = ld.write_template(tmp_path / "mine.csv")
    assert written == [tmp_path / "mine.csv", tmp_path / "mine.README.md"]
    assert (tmp_path / "mine.csv").read_bytes() == (TEMPLATE_HEADER + "\n").encode()
    readme = (tmp_path / "mine.README.md").read_text(encoding="utf-8")
    for column in ld.COLUMNS:
        assert f"| `{column}` |" in readme
    assert "never in any download or export" in readme
    assert "do not\n  survive a rebuild" in readme
    with pytest.raises(IndicatorsError, match="already exists"):
        ld.write_template(tmp_path / "mine.csv")
    ld.write_template(tmp_path / "mine.csv", overwrite=True)


def test_the_readme_example_rows_pass_validation(tmp_path, db):
    readme = ld.template_readme()
    block = re.search(r"```csv\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "example.csv"
    path.write_text(block, encoding="utf-8")
    frame, errors = ld.validate(path, *warehouse_parts(db), today=date(2024, 1, 1))
    assert errors == []
    assert sorted(frame["access"]) == ["public", "public", "restricted"]
    assert frame["foi_reference"].dropna().tolist() == ["FOI-naloxone-E06000009-20230601"]


def test_cli_template_then_import(tmp_path, db, capsys):
    out = tmp_path / "tpl" / "local.csv"
    assert main(["template", "--out", str(out)]) == 0
    assert out.read_text() == TEMPLATE_HEADER + "\n"
    assert main(["template", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    filled = write(tmp_path, "local.csv", HEADER, GOOD_RESTRICTED)
    assert main(["import", str(filled), "--db", str(db)]) == 0
    printed = capsys.readouterr().out
    assert "imported 1 row(s)" in printed and "(0 public, 1 restricted)" in printed
    assert "never exported" in printed and "import again after each build" in printed


def test_cli_import_of_a_bad_file_prints_row_and_field(tmp_path, db, capsys):
    bad = write(tmp_path, "bad.csv", HEADER, GOOD_RESTRICTED.replace("E08000003", "E08999999"))
    assert main(["import", str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 2, field area_code: unknown area code 'E08999999'" in err
    assert "nothing was imported" in err


# --------------------------------------------------------------------------- the two fixture files

def test_restricted_fixture_imports_with_wilson_limits_and_mapped_codes(db):
    report = ld.import_file(db, RESTRICTED, now=pd.Timestamp("2024-01-02T03:04:05Z").to_pydatetime())
    assert (report.rows_loaded, report.rows_public, report.rows_restricted, report.rows_replaced) == (4, 0, 4, 0)
    assert report.source_id == "local:restricted_ndtms_2021-22"
    assert report.notes == ["Given for North Yorkshire (E10000023), which covered the same area as "
                            "North Yorkshire (E06000065)."]
    con = ro(db)
    try:
        rows = queries.local_values(con, include_restricted=True).set_index(["indicator_id", "area_code"])
        assert queries.local_values(con, include_restricted=False).empty
        assert ld.exportable_local_values(con).empty
        assert ld.restricted_row_count(con) == 4
    finally:
        con.close()
    assert len(rows) == 4
    # E10000023 is a former code whose area continues as E06000065 (same footprint): stored under the new code.
    assert ("hcv_test_offered_accepted", "E10000023") not in rows.index
    nyorks = rows.loc[("hcv_test_offered_accepted", "E06000065")]
    assert nyorks["value"] == pytest.approx(30.0)            # 90 / 300 x 100
    assert "Given for North Yorkshire (E10000023)" in nyorks["value_note"]
    manc = rows.loc[("naloxone_opiate_clients_issued", "E08000003")]
    assert manc["value"] == pytest.approx(412 / 1530 * 100, rel=1e-12)
    # PHStatsMethods (GPL, tests only) as the independent oracle for the Wilson limits.
    for level, suffix in ((0.95, "95"), (0.998, "998")):
        assert manc[f"lower_ci_{suffix}"] == pytest.approx(ph.wilson_lower(412, 1530, level) * 100, rel=1e-9)
        assert manc[f"upper_ci_{suffix}"] == pytest.approx(ph.wilson_upper(412, 1530, level) * 100, rel=1e-9)
    assert manc["access"] == "restricted" and not manc["is_official"]
    assert manc["source_id"] == "local:restricted_ndtms_2021-22"
    assert manc["value_note"].startswith(ld.LOCAL_NOTE_PREFIX)
    assert manc["value_note"].endswith("Restricted: shown only on the computer that imported it, never exported.")
    assert manc["compared_to_england"] == "not compared"      # no England figure for 2021/22
    assert manc["collection_date"] == pd.Timestamp("2022-06-15")
    assert str(manc["imported_at"]) == "2024-01-02 03:04:05"
    # "RESTRICTED" in the file is read as restricted.
    assert rows.loc[("hcv_test_offered_accepted", "E06000065"), "access"] == "restricted"


def test_public_fixture_imports_and_is_the_only_thing_exported(db):
    ld.import_file(db, RESTRICTED)
    report = ld.import_file(db, PUBLIC)
    # The file repeats Camden's row identically: kept once.
    assert (report.rows_loaded, report.rows_public, report.rows_restricted) == (3, 3, 0)
    con = ro(db)
    try:
        exported = ld.exportable_local_values(con)
        shown = queries.local_values(con, include_restricted=True)
    finally:
        con.close()
    assert list(exported.columns) == ld.EXPORT_COLUMNS
    assert len(shown) == 7
    assert list(exported["area_code"]) == ["E09000007", "E09000033", "E09000012"]
    assert set(exported["access"]) == {"public"}
    assert not exported["is_official"].any()
    assert all(n.startswith("Local data, not official statistics: ") for n in exported["value_note"])
    assert not exported["source_id"].str.contains("restricted").any()
    by_area = exported.set_index("area_code")
    camden = by_area.loc["E09000007"]
    assert camden["value"] == 31.0 and pd.isna(camden["lower_ci_95"])     # ci_method none, no limits given
    westminster = by_area.loc["E09000033"]
    assert (westminster["lower_ci_95"], westminster["upper_ci_95"]) == (20.1, 30.9)   # as given
    assert pd.isna(westminster["lower_ci_998"])
    hackney = by_area.loc["E09000012"]
    assert hackney["value"] == pytest.approx(30.0)
    assert hackney["lower_ci_95"] == pytest.approx(ph.wilson_lower(45, 150, 0.95) * 100, rel=1e-9)
    assert hackney["collected_by"] == "Invented peer group, Hackney"
    assert hackney["licence"] == "CC BY 4.0"


def test_restricted_rows_never_leave_through_the_exports(tmp_path, db):
    from indicators.products import downloads

    ld.import_file(db, RESTRICTED)
    ld.import_file(db, PUBLIC)
    con = ro(db)
    try:
        payload = b"".join([downloads.bulk_zip(con)] + [downloads.table_csv(con, t) for t in downloads.BULK_TABLES])
        exported = ld.exportable_local_values(con).to_csv(index=False).encode()
    finally:
        con.close()
    for secret in (b"restricted_ndtms", b"1530", b"Invented NDTMS"):
        assert secret not in payload and secret not in exported


def test_public_local_rows_are_in_every_bulk_export_marked_and_restricted_rows_are_not(tmp_path, db,
                                                                                        fixture_warehouse):
    """indicators export --format csv, parquet and zip carry the public local rows in local_values.csv/.parquet
    (is_official false, the note saying so, listed in the README as not official statistics); the restricted
    rows stay out, as from every export."""
    import io
    import zipfile

    ld.import_file(db, RESTRICTED)
    ld.import_file(db, PUBLIC)
    outputs = {}
    for fmt in ("csv", "parquet", "zip"):
        (tmp_path / fmt).mkdir()  # an existing folder: the zip goes into it under its download name
        assert main(["export", "--db", str(db), "--out", str(tmp_path / fmt), "--format", fmt]) == 0
        outputs[fmt] = {p.name: p.read_bytes() for p in (tmp_path / fmt).iterdir()}
    local_csv = next(data for name, data in outputs["csv"].items() if "local_values" in name)
    frame = pd.read_csv(io.BytesIO(local_csv), dtype=str)
    assert list(frame["area_code"]) == ["E09000007", "E09000033", "E09000012"]
    assert set(frame["access"]) == {"public"} and set(frame["is_official"]) == {"false"}
    assert all(n.startswith("Local data, not official statistics: ") for n in frame["value_note"])
    readme = next(data for name, data in outputs["csv"].items() if name.endswith(".md")).decode()
    assert "local_values" in readme and "NOT OFFICIAL STATISTICS" in readme
    parquet = next(data for name, data in outputs["parquet"].items() if "local_values" in name)
    table = pd.read_parquet(io.BytesIO(parquet))
    assert list(table["area_code"]) == ["E09000007", "E09000033", "E09000012"] and not table["is_official"].any()
    (archive,) = outputs["zip"].values()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.read("local_values.csv") == local_csv
    everything = b"".join(data for files in outputs.values() for data in files.values())
    for secret in (b"restricted_ndtms", b"1530", b"Invented NDTMS"):
        assert secret not in everything
    # The official tables are exactly those of the same warehouse without local rows; only the README and
    # local_values are added.
    assert main(["export", "--db", str(fixture_warehouse), "--out", str(tmp_path / "plain")]) == 0
    plain = {p.name: p.read_bytes() for p in (tmp_path / "plain").iterdir()}
    assert {n: d for n, d in outputs["csv"].items() if "local_values" not in n and not n.endswith(".md")} == {
        n: d for n, d in plain.items() if not n.endswith(".md")}


def test_warehouse_copy_export_has_no_restricted_rows(tmp_path, db):
    from indicators.products import downloads

    ld.import_file(db, RESTRICTED)
    copy = downloads.copy_warehouse(db, tmp_path / "copy.duckdb")
    con = ro(copy)
    try:
        assert queries.local_values(con, include_restricted=True)["access"].eq("public").all()
        assert ld.restricted_row_count(con) == 0
    finally:
        con.close()


def test_reimporting_a_file_replaces_its_rows(tmp_path, db):
    first = ld.import_file(db, PUBLIC)
    again = ld.import_file(db, PUBLIC)
    assert (first.rows_replaced, again.rows_replaced, again.rows_loaded) == (0, 3, 3)
    smaller = write(tmp_path, PUBLIC.name, HEADER, GOOD_PUBLIC)
    third = ld.import_file(db, smaller)
    assert (third.rows_replaced, third.rows_loaded) == (3, 1)
    ld.import_file(db, RESTRICTED)
    con = ro(db)
    try:
        counts = dict(con.execute('SELECT source_id, count(*) FROM "local"."values" GROUP BY ALL').fetchall())
    finally:
        con.close()
    assert counts == {"local:community_naloxone_public": 1, "local:restricted_ndtms_2021-22": 4}


@pytest.mark.parametrize("text", ["1" + "0" * 400, "1e309", "inf", "nan"])
def test_numbers_that_are_not_finite_are_rejected(tmp_path, db, text):
    """Issue 13: an overflowing, infinite or NaN number in `indicators import` names the file, row and field."""
    path = write(tmp_path, "huge.csv", HEADER, GOOD_RESTRICTED.replace("412,1530", f"{text},1530"))
    errors = errors_for(db, path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}: row 2, field numerator: '{text}' is not a ")
    with pytest.raises(ld.ImportRejected):
        ld.import_file(db, path)


def test_local_rows_never_replace_englands_figure(tmp_path, db):
    """Issue 13: a local row for England is kept as local data but is never the benchmark. Manchester's 92 of
    2,000 (4.6%, Wilson 95% 3.8 to 5.6) is similar to the published England 5.0% for 2020/21, not 'worse' than
    the local file's England 20%; without a published England figure (naloxone, 2021/22) it is not compared."""
    completion = ("completion_opiate,{code},2020/21,{num},{den},,,,Invented report,Invented team,2022-06-15,,,"
                  "restricted")
    path = write(tmp_path, "with_england.csv", HEADER,
                 completion.format(code="E92000001", num=20000, den=100000),
                 completion.format(code="E08000003", num=92, den=2000),
                 GOOD_RESTRICTED.replace("E08000003", "E92000001").replace("412,1530", "50000,100000"),
                 GOOD_RESTRICTED)
    ld.import_file(db, path)
    con = ro(db)
    try:
        rows = ld.local_values(con, include_restricted=True).set_index(["indicator_id", "area_code"])
        published = con.execute("SELECT value FROM published.indicator_values WHERE indicator_id = "
                                "'completion_opiate' AND area_code = 'E92000001' AND period_label = '2020/21'"
                                ).fetchall()
    finally:
        con.close()
    assert published == [(5.0,)]                                   # the official figure is untouched
    manchester = rows.loc[("completion_opiate", "E08000003")]
    assert manchester["compared_to_england"] == "similar" == manchester["compared_to_england_998"]
    assert pd.isna(manchester["comparison_note"])
    assert rows.loc[("completion_opiate", "E92000001"), "value"] == 20.0   # kept, as local data
    naloxone = rows.loc[("naloxone_opiate_clients_issued", "E08000003")]
    assert naloxone["compared_to_england"] == "not compared" and naloxone["comparison_note"] == "no benchmark"
    assert pd.isna(rows.loc[("naloxone_opiate_clients_issued", "E92000001"), "compared_to_england"])


def test_a_rejected_file_changes_nothing(tmp_path, db):
    bad = write(tmp_path, "bad.csv", HEADER, GOOD_PUBLIC, GOOD_PUBLIC.replace(",public", ",open"))
    before = db.read_bytes()
    with pytest.raises(ld.ImportRejected) as caught:
        ld.import_file(db, bad)
    assert caught.value.errors == [f"{bad}: row 3, field access: 'open' is not an access level "
                                   "(expected public or restricted)"]
    con = ro(db)
    try:
        assert not table_exists(con, "local", "values")
    finally:
        con.close()
    assert db.read_bytes() == before


def test_import_needs_a_warehouse(tmp_path):
    with pytest.raises(WarehouseMissing, match="build one first"):
        ld.import_file(tmp_path / "nope.duckdb", PUBLIC)


def test_a_locked_warehouse_gives_a_clear_message(db):
    holder = subprocess.Popen([sys.executable, "-c",
                               "import duckdb, sys, time\n"
                               f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
                               "print('open', flush=True)\n"
                               "time.sleep(30)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(IndicatorsError, match="open in another program .*dashboard.*stop that program"):
            ld.import_file(db, PUBLIC)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    time.sleep(0.1)
    assert ld.import_file(db, PUBLIC).rows_loaded == 3


# --------------------------------------------------------------------------- validation messages

BAD_ROWS = [
    # (name, data rows, expected fragment of the first message)
    ("unknown_area", [GOOD_PUBLIC.replace("E09000012", "E06999999")],
     "row 2, field area_code: unknown area code 'E06999999'"),
    ("split_area", [GOOD_PUBLIC.replace("E09000012", "E10000006")],
     "row 2, field area_code: E10000006 (Cumbria) ended on 2023-03-31: on 2023-04-01 it was split into "
     "E06000063 (Cumberland), E06000064 (Westmorland and Furness), so its figures cannot be carried"),
    ("unknown_indicator", [GOOD_PUBLIC.replace("naloxone_opiate_clients_issued", "naloxone_kits")],
     "row 2, field indicator_id: 'naloxone_kits' is not in the catalogue (expected one of: completion_alcohol"),
    ("numerator_over_denominator", [GOOD_PUBLIC.replace("45,150", "151,150")],
     "row 2, field numerator: 151 is more than the denominator 150"),
    ("bad_period", [GOOD_PUBLIC.replace("2022/23", "2022/24")],
     "row 2, field period_label: '2022/24' is not a period (expected a calendar year (2021), pooled years "
     "(2019-21) or a financial year (2021/22))"),
    ("words_period", [GOOD_PUBLIC.replace("2022/23", "last year")],
     "row 2, field period_label: 'last year' is not a period"),
    ("public_without_licence", [GOOD_PUBLIC.replace("CC BY 4.0", "")],
     "row 2, field licence: empty on a public row"),
    ("public_without_method", [GOOD_PUBLIC.replace("Survey of people in treatment", "")],
     "row 2, field method: empty on a public row"),
    ("bad_access", [GOOD_PUBLIC.replace(",public", ",private")],
     "row 2, field access: 'private' is not an access level (expected public or restricted)"),
    ("conflicting_duplicate", [GOOD_PUBLIC, GOOD_PUBLIC.replace("45,150", "46,150")],
     "row 3, field value, numerator: conflicts with row 2: both give naloxone_opiate_clients_issued for "
     "E09000012 in 2022/23 with different value, numerator"),
    ("same_figure_other_access", [GOOD_RESTRICTED, GOOD_RESTRICTED.replace("restricted", "public")
                                  .replace(",,,public", ",Extract,OGL v3,public")],
     "row 3, field access: conflicts with row 2"),
    ("percent_sign", [GOOD_PUBLIC.replace("45,150,", "45,150,30%")],
     "row 2, field value: '30%' is not a number (expected a plain number"),
    ("thousands_separator", [GOOD_PUBLIC.replace("45,150", '45,"1,150"')],
     "row 2, field denominator: '1,150' is not a number"),
    ("negative", [GOOD_PUBLIC.replace("45,150", "-45,150")], "row 2, field numerator: -45 is negative"),
    ("zero_denominator", [GOOD_PUBLIC.replace("45,150", "0,0")], "row 2, field denominator: is 0"),
    ("value_disagrees_with_counts", [GOOD_PUBLIC.replace("45,150,", "45,150,31.0")],
     "row 2, field value: 31.0 does not match numerator / denominator x 100 = 30"),
    ("nothing_to_show", [GOOD_PUBLIC.replace("45,150,", ",,")],
     "row 2, field value: empty, and numerator and denominator are not both given"),
    ("one_limit", [GOOD_PUBLIC.replace("45,150,,,", ",,30,25,")],
     "row 2, field upper_ci_95: empty while the other limit is given"),
    ("limits_miss_value", [GOOD_PUBLIC.replace("45,150,,,", ",,30,31,35")],
     "row 2, field lower_ci_95: the limits 31 to 35 do not surround the value 30"),
    ("percent_over_100", [GOOD_PUBLIC.replace("45,150,,,", ",,130,,")],
     "row 2, field value: 130 is more than 100"),
    ("future_date", [GOOD_PUBLIC.replace("2023-05-02", "2031-01-01")],
     "row 2, field collection_date: 2031-01-01 is in the future"),
    ("bad_date", [GOOD_PUBLIC.replace("2023-05-02", "02/05/2023")],
     "row 2, field collection_date: '02/05/2023' is not a date (expected YYYY-MM-DD"),
    ("missing_source", [GOOD_PUBLIC.replace("Invented survey", "")], "row 2, field source: empty"),
    ("short_row", [GOOD_PUBLIC.rsplit(",", 1)[0]], "row 2: has 13 fields but the header has 14"),
]


@pytest.mark.parametrize("name, rows, expected", BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_rows_are_named_by_row_and_field(tmp_path, db, name, rows, expected):
    path = write(tmp_path, f"{name}.csv", HEADER, *rows)
    errors = errors_for(db, path)
    assert errors, name
    assert errors[0].startswith(f"{path}: "), errors[0]
    assert expected in errors[0], errors[0]


def test_every_problem_in_a_file_is_reported(tmp_path, db):
    path = write(tmp_path, "several.csv", HEADER,
                 GOOD_PUBLIC.replace("E09000012", "X1").replace("2022/23", "soon"),
                 GOOD_PUBLIC.replace("CC BY 4.0", ""))
    errors = errors_for(db, path)
    assert [e.split(": ")[1] for e in errors] == ["row 2, field period_label", "row 2, field area_code",
                                                  "row 3, field licence"]


FILE_PROBLEMS = [
    ("empty", b"", "row 1: the file is empty (0 bytes) (expected a CSV whose first row is the header: indicator_id,"),
    ("blank", b"\n\n", "row 1: the file is empty"),
    ("html", b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n",
     "row 1: the file is a web page (HTML), not a CSV"),
    ("xlsx", b"PK\x03\x04rest-of-a-zip", "row 1: the file is an Excel workbook, not a CSV"),
    ("latin1", (HEADER + "\n" + GOOD_PUBLIC.replace("Invented group", "Caf\u00e9 group") + "\n").encode("latin-1"),
     "row 2: byte 0xe9 is not UTF-8 text"),
    ("header_only", (HEADER + "\n").encode(), "row 2: the file has a header but no data rows"),
    ("missing_column", (HEADER.replace(",method", "") + "\n").encode(), "row 1, field method: missing column"),
    ("unknown_column", (HEADER + ",comment\n").encode(), "row 1, column 15: unknown column 'comment'"),
]


@pytest.mark.parametrize("name, content, expected", FILE_PROBLEMS, ids=[c[0] for c in FILE_PROBLEMS])
def test_unreadable_files_are_named_with_row_one(tmp_path, db, name, content, expected):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    errors = errors_for(db, path)
    assert len(errors) >= 1
    assert errors[0] == f"{path}: {expected}" or errors[0].startswith(f"{path}: {expected}"), errors[0]


def test_validate_takes_plain_codes_and_the_repository_catalogue(tmp_path):
    path = write(tmp_path, "plain.csv", HEADER, GOOD_PUBLIC, GOOD_RESTRICTED)
    frame, errors = ld.validate(path, ["E09000012", "E08000003"], load_catalogue(), today=date(2024, 1, 1))
    assert errors == []
    assert list(frame["area_code"]) == ["E09000012", "E08000003"]
    assert list(frame.columns) == ld.LOCAL_VALUE_COLUMNS


def test_identical_repeats_are_kept_once(tmp_path, db):
    path = write(tmp_path, "twice.csv", HEADER, GOOD_PUBLIC, " " + GOOD_PUBLIC.replace("2023-05-02", "2023-05-02"))
    frame, errors = ld.validate(path, *warehouse_parts(db), today=date(2024, 1, 1))
    assert errors == [] and len(frame) == 1


def test_add_cli_rejects_other_verbs():
    import argparse

    with pytest.raises(ValueError, match="template"):
        ld.add_cli(argparse.ArgumentParser().add_subparsers(), "export")
