"""Issue 13, the data and the build: honest numbers where data are thin, through a full build of the real files.

One warehouse is built from ../shared/data/raw plus an invented Fingertips file for indicator 90244 in
which Camden's value is "suppressed for disclosure control" although the row carries Count 3 and
Denominator 4. Everything else is the real published files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from indicators.cli import main
from indicators.pipeline.fetch import fetch_all
from indicators.pipeline.sources.prevalence import stage as stage_prevalence
from indicators.products import downloads, queries

ENGLAND = "E92000001"
CAMDEN, WESTMINSTER, BLACKPOOL = "E09000007", "E09000033", "E06000009"
CORNWALL, SCILLY = "E06000052", "E06000053"
HEADER = ["Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name", "Area Type",
          "Sex", "Age", "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit",
          "Upper CI 95.0 limit", "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator",
          "Value note", "Recent Trend", "Compared to England value or percentiles", "Column not used",
          "Time period Sortable", "New data", "Compared to goal", "Time period range"]


def _fingertips_row(code: str, name: str, value: str, count: str, denominator: str, note: str = "") -> dict:
    row = dict.fromkeys(HEADER, "")
    row.update({"Indicator ID": "90244", "Indicator Name": "Successful completion of drug treatment: opiate users",
                "Parent Code": "" if code == ENGLAND else ENGLAND, "Parent Name": "" if code == ENGLAND else "England",
                "Area Code": code, "Area Name": name, "Area Type": "England" if code == ENGLAND else
                "Counties & UAs (from Apr 2023)", "Sex": "Persons", "Age": "18+ yrs", "Time period": "2021/22",
                "Value": value, "Count": count, "Denominator": denominator, "Value note": note,
                "Recent Trend": "Cannot be calculated", "Compared to England value or percentiles": "Not compared",
                "Column not used": "Not compared", "Time period Sortable": "20210000", "Time period range": "1y"})
    return row


def write_suppressed_fingertips(path: Path) -> None:
    """Invented: England 5.0% (6,500 of 130,000); Camden withheld "for disclosure control" but with Count 3 of 4;
    Westminster 4.0% (40 of 1,000); Blackpool 2.5% (25 of 1,000)."""
    rows = [_fingertips_row(ENGLAND, "England", "5.0", "6500", "130000"),
            _fingertips_row(CAMDEN, "Camden", "", "3", "4", "Value suppressed for disclosure control"),
            _fingertips_row(WESTMINSTER, "Westminster", "4.0", "40", "1000"),
            _fingertips_row(BLACKPOOL, "Blackpool", "2.5", "25", "1000")]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def built(shared_raw, tmp_path_factory):
    root = tmp_path_factory.mktemp("thin_edges")
    raw = root / "raw"
    fetch_all(raw, mirror=shared_raw, progress=False)
    write_suppressed_fingertips(raw / "fingertips" / "indicator-90244.csv")
    db = root / "warehouse.duckdb"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["build", "--raw", str(raw), "--db", str(db)])
    assert code == 0, err.getvalue()
    con = duckdb.connect(str(db), read_only=True)
    yield dict(raw=raw, db=db, con=con, stdout=out.getvalue(), stderr=err.getvalue())
    con.close()


def one(con, sql: str, params=()) -> dict:
    frame = con.execute(sql, list(params)).df()
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


def value_row(con, indicator: str, code: str, period: str) -> dict:
    return one(con, """SELECT v.*, p.source_file, p.harmonisation FROM published.indicator_values v
                       JOIN published.value_provenance p USING (indicator_id, area_code, period_label)
                       WHERE indicator_id = ? AND area_code = ? AND period_label = ?""", (indicator, code, period))


# --------------------------------------------------------------------------- item 1: withheld stays withheld

def test_suppressed_row_with_counts_is_not_computed_by_the_build(built):
    con = built["con"]
    camden = value_row(con, "completion_opiate", CAMDEN, "2021/22")
    assert camden["is_suppressed"]
    for column in ("value", "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998"):
        assert pd.isna(camden[column]), column                      # 3 of 4 would have been 75.0 (30.1-95.4)
    assert (camden["numerator"], camden["denominator"]) == (3.0, 4.0)   # the counts as the publisher gave them
    assert camden["compared_to_england"] == "not compared" == camden["compared_to_england_998"]
    assert camden["comparison_note"] == "suppressed"
    assert camden["value_note"] == "Value suppressed for disclosure control"
    # The others are computed and compared as before: Westminster 40 of 1,000 (Wilson 2.9 to 5.4) is similar to
    # England's 5.0, Blackpool 25 of 1,000 (1.7 to 3.7) worse.
    westminster = value_row(con, "completion_opiate", WESTMINSTER, "2021/22")
    assert westminster["value"] == pytest.approx(4.0) and westminster["compared_to_england"] == "similar"
    assert value_row(con, "completion_opiate", BLACKPOOL, "2021/22")["compared_to_england"] == "worse"


def test_suppressed_row_stays_empty_in_the_downloads_and_league_table(built):
    con = built["con"]
    data = downloads.table_csv(con, "indicator_values", "completion_opiate").decode()
    line = next(r for r in data.splitlines() if r.startswith(f"completion_opiate,{CAMDEN},Camden,2021/22,"))
    fields = next(csv.reader([line]))
    assert fields[6:11] == ["", "", "", "", ""] and fields[11:14] == ["3.0", "4.0", "true"]
    table, _ = queries.league_table(con, "completion_opiate", "2021/22")
    camden = table.set_index("area_code").loc[CAMDEN]
    assert pd.isna(camden["value"]) and pd.isna(camden["rank"])


def test_check_fails_on_a_warehouse_edited_to_hold_a_withheld_value(built, tmp_path, capsys):
    db = tmp_path / "edited.duckdb"
    shutil.copyfile(built["db"], db)
    capsys.readouterr()
    assert main(["check", "--db", str(db)]) == 0
    assert "ok    suppressed rows carry no value" in capsys.readouterr().out
    con = duckdb.connect(str(db))
    con.execute("""UPDATE published.indicator_values SET value = 75.0, lower_ci_95 = 30.1, upper_ci_95 = 95.4
                   WHERE indicator_id = 'completion_opiate' AND area_code = ? AND period_label = '2021/22'""",
                [CAMDEN])
    con.close()
    assert main(["check", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  suppressed rows carry no value: 1 row(s) break it" in out
    assert f"area_code={CAMDEN}" in out and "value=75.0" in out


# --------------------------------------------------------------------------- item 2: empty rows name no source

def test_no_empty_row_names_a_source(built):
    con = built["con"]
    claimed = con.execute("""SELECT count(*) FROM published.indicator_values
                             WHERE value IS NULL AND numerator IS NULL AND NOT is_suppressed
                               AND source_id IS NOT NULL""").fetchall()[0][0]
    assert claimed == 0
    files = con.execute("""SELECT count(*) FROM published.value_provenance
                           WHERE harmonisation = 'no data' AND source_file IS NOT NULL""").fetchall()[0][0]
    assert files == 0
    added = con.execute("""SELECT count(*) FROM published.value_provenance WHERE harmonisation = 'no data'
                           """).fetchall()[0][0]
    assert added > 6000                                                  # the empty NDTMS years, among others


def test_an_added_row_says_which_files_lack_it(built):
    con = built["con"]
    # Manchester is in neither the invented 90244 file nor the NDTMS export for 2021/22.
    manchester = value_row(con, "completion_opiate", "E08000003", "2021/22")
    assert manchester["source_id"] is None and manchester["source_file"] is None
    assert manchester["value_note"] == (
        "No figure for this area and period: it is not in the Fingertips file for indicator 90244 "
        "(indicator-90244.csv) or the NDTMS ViewIt export (ViewIt Export Data_LAs.csv), the published files this "
        "dashboard uses.")
    unmet = value_row(con, "unmet_need_opiate_crack", "E08000003", "2020/21")
    assert unmet["value_note"].endswith("not in the Fingertips file for indicator 93517 "
                                        "(indicator-93517_unmet_need_ocu_sample.csv), the published files this "
                                        "dashboard uses.")


# --------------------------------------------------------------------------- item 3: combined areas

def test_cornwall_ocu_prevalence_is_published_with_its_note(built, shared_raw):
    con = built["con"]
    workbook = stage_prevalence([shared_raw / "prevalence" / "OpiateCrackUsePrevalenceEstimates2016to2017.XLSX"])
    obs = workbook["observations"]
    published = obs[(obs["series"] == "prevalence:ocu") & (obs["area_name"] == "Cornwall and Isles of Scilly")]
    assert len(published) == 1
    cornwall = value_row(con, "ocu_prevalence", CORNWALL, "2016/17")
    assert cornwall["value"] == pytest.approx(published.iloc[0]["value"], rel=1e-12)
    assert cornwall["numerator"] == published.iloc[0]["numerator"]
    assert cornwall["source_id"] == "prevalence"
    assert cornwall["value_note"].startswith("Covers Cornwall and the Isles of Scilly together")
    scilly = value_row(con, "ocu_prevalence", SCILLY, "2016/17")
    assert pd.isna(scilly["value"]) and pd.isna(scilly["numerator"]) and scilly["source_id"] is None
    assert scilly["value_note"] == ("Published only together with Cornwall: the figure shown for Cornwall covers "
                                    "Cornwall and the Isles of Scilly together.")
    # Never duplicated: one value across the pair.
    values = con.execute("""SELECT count(value) FROM published.indicator_values WHERE indicator_id = 'ocu_prevalence'
                            AND period_label = '2016/17' AND area_code IN (?, ?)""", [CORNWALL, SCILLY]).fetchall()
    assert values == [(1,)]


def test_combined_areas_are_declared_data_not_code():
    from indicators.pipeline.combined import load_combined

    pairs = {(p.larger, p.smaller): p for p in load_combined()}
    assert set(pairs) == {(CORNWALL, SCILLY), ("E09000012", "E09000001")}
    assert "Cornwall and Isles of Scilly" in pairs[(CORNWALL, SCILLY)].names


def test_combined_figure_written_twice_is_kept_once(tmp_path):
    """A source that gives Cornwall and the Isles of Scilly the same figure (one combined figure written under
    both codes): kept on Cornwall with the note, the Isles of Scilly's copy dropped."""
    from indicators.pipeline.combined import load_combined, merge_duplicated_pairs

    rows = pd.DataFrame([
        dict(indicator_id="x", area_code=CORNWALL, period_label="2021", value=7.5, numerator=30.0, value_note=""),
        dict(indicator_id="x", area_code=SCILLY, period_label="2021", value=7.5, numerator=30.0, value_note=""),
        dict(indicator_id="x", area_code=SCILLY, period_label="2020", value=1.0, numerator=1.0, value_note=""),
        dict(indicator_id="x", area_code=CORNWALL, period_label="2020", value=7.0, numerator=29.0, value_note=""),
    ])
    warnings = []
    out = merge_duplicated_pairs(rows, load_combined(), {CORNWALL: "Cornwall", SCILLY: "Isles of Scilly"},
                                 lambda source, message: warnings.append(message))
    assert sorted(zip(out["area_code"], out["period_label"])) == [(CORNWALL, "2020"), (CORNWALL, "2021"),
                                                                   (SCILLY, "2020")]
    note = out.set_index(["area_code", "period_label"]).loc[(CORNWALL, "2021"), "value_note"]
    assert note.startswith("Covers Cornwall and the Isles of Scilly together")
    assert len(warnings) == 1


# --------------------------------------------------------------------------- item 11: warnings kept, coverage said

def test_build_warnings_are_kept_in_the_warehouse(built):
    con = built["con"]
    warnings = queries.build_warnings(con)
    kinds = dict(zip(warnings["message"], warnings["kind"]))
    combined = [m for m, k in kinds.items() if k == "combined area"]
    assert sorted(combined) == [
        "ons_sdg: 'Cornwall & Isles of Scilly' is one figure for two areas; it is shown on Cornwall (E06000052) with "
        "a note, and Isles of Scilly points to it",
        "prevalence: 'Cornwall and Isles of Scilly' is one figure for two areas; it is shown on "
        "Cornwall (E06000052) with a note, and Isles of Scilly points to it"]
    assert any(k == "no files" and m.startswith("cipfa_neighbours:") and "indicators fetch --source cipfa_neighbours"
               in m for m, k in kinds.items())
    assert all(message in built["stderr"] for message in combined)


def test_build_check_and_serve_print_coverage(built, capsys, monkeypatch):
    total = 153
    loud = (f"completion_opiate: WARNING only 2 of {total} areas have a value in 2021/22 (latest period), "
            "1 more a count only")
    assert loud in built["stdout"]
    assert f"ocu_prevalence: 146 of {total} areas have a value in 2016/17 (latest period)" in built["stdout"]
    capsys.readouterr()
    main(["check", "--db", str(built["db"])])
    assert loud in capsys.readouterr().out
    import indicators.cli as cli

    monkeypatch.setattr(cli, "run_forwarding_signals", lambda *a, **k: 0)  # no Streamlit: only the lines printed
    assert main(["serve", "--db", str(built["db"])]) == 0
    assert loud in capsys.readouterr().out


# --------------------------------------------------------------------------- item 5: the real reason

def test_barnet_is_not_compared_because_englands_figure_is_missing(built):
    """Barnet's 2020/21 opiate completions have a valid interval; England has no figure for that period in these
    files, so the map label must say so, not 'no interval'."""
    from indicators.present.charts import hover_lines

    con = built["con"]
    barnet = value_row(con, "completion_opiate", "E09000003", "2020/21")
    assert not pd.isna(barnet["lower_ci_95"]) and barnet["comparison_note"] == "no benchmark"
    row = queries.map_values(con, "completion_opiate", "2020/21").set_index("area_code").loc["E09000003"]
    lines = hover_lines(dict(row, area_code="E09000003"), {"unit": "%", "publication_status": "open"})
    assert "Not compared (no England figure for this period)" in lines
    assert any(line.startswith("95% interval: ") and line != "95% interval: –" for line in lines)
