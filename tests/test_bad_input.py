"""Bad-input corpus: realistic corruptions of the real files, each run through `indicators build`; and fetch faults.

Every corruption is applied to a copy of the vendored cuts of the real files (tests/fixtures/real_cuts,
via the `real_cuts` fixture: the same formats and file names as ../shared/data/raw, a few areas each, so
the corpus runs on a bare clone and quickly; the legacy .xls edition is an .xlsx there). The build must exit 2 with one message naming the file and what was
expected, print no traceback, leave the previous warehouse byte-identical and leave no temp
files beside it. The fetch-fault tests use a local HTTP server on 127.0.0.1 only.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from indicators.cli import main
from indicators.errors import FetchError, InputError
from indicators.pipeline.fetch import Downloader, FetchPolicy, fetch_all, read_manifest
from indicators.pipeline.sources import all_sources, get_source, ons_deaths

XLSX_2021 = "ons_deaths/2021localauthorities.xlsx"
XLS_2019 = "ons_deaths/2019localauthorities1.xlsx"  # an .xls in ../shared; the cut is an .xlsx
FT_OCU = "fingertips/indicator-93517_unmet_need_ocu_sample.csv"
FT_ALCOHOL = "fingertips/indicator-93532_unmet_need_alcohol_sample.csv"
NDTMS_LAS = "ndtms/ViewIt Export Data_LAs.csv"
LOOKUP_2022 = ("lookups/Lower_Tier_Local_Authority_to_Upper_Tier_Local_Authority_(December_2022)"
               "_Lookup_in_England_and_Wales.csv")
CHANGES = "lookups/onsvisual_uk-topojson_changes.csv"
GEOJSON = "boundaries/Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC.geojson"
TOPOJSON = "boundaries/onsvisual_uk_topo_2014-2025.topojson.json"
PREVALENCE = "prevalence/OpiateCrackUsePrevalenceEstimates2016to2017.xlsx"

HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>\n"
                   b"<body><h1>Service Unavailable</h1><p>Please try again later.</p></body></html>\n")

# The Fingertips all_data CSV header, newer (2023-) layout, as in the real files.
FINGERTIPS_HEADER = [
    "Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name", "Area Type",
    "Sex", "Age", "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit",
    "Upper CI 95.0 limit", "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator",
    "Value note", "Recent Trend", "Compared to England value or percentiles", "Column not used",
    "Time period Sortable", "New data", "Compared to goal", "Time period range",
]


# --------------------------------------------------------------------------- helpers

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict[str, str]], header: list[str], bom: bool = False) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def _edit_csv(path: Path, edit: Callable[[list[str], list[dict[str, str]]], tuple[list[str], list[dict]]],
              bom: bool = False) -> None:
    rows = _read_rows(path)
    header = list(rows[0])
    header, rows = edit(header, rows)
    _write_rows(path, rows, header, bom=bom)


def _fingertips_row(**values: str) -> dict[str, str]:
    """One invented Fingertips row for indicator 90244 (opiate completions), financial year 2021/22."""
    row = dict.fromkeys(FINGERTIPS_HEADER, "")
    row.update({"Indicator ID": "90244", "Indicator Name": "Successful completion of drug treatment: opiate users",
                "Parent Code": "E92000001", "Parent Name": "England", "Area Type": "Counties & UAs (from Apr 2023)",
                "Sex": "Persons", "Age": "18+ yrs", "Time period": "2021/22", "Recent Trend": "Cannot be calculated",
                "Compared to England value or percentiles": "Not compared", "Column not used": "Not compared",
                "Time period Sortable": "20210000", "Time period range": "1y"})
    row.update(values)
    return row


# --------------------------------------------------------------------------- corruptions
# Each takes the copied raw folder, corrupts one file, and returns that file's name.

def truncated_xlsx(raw: Path) -> str:
    path = raw / XLSX_2021
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 3])
    return path.name


def truncated_xls(raw: Path) -> str:
    """The older edition cut short (half its bytes)."""
    path = raw / XLS_2019
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return path.name


def workbook_without_3yr_tables(raw: Path) -> str:
    import openpyxl

    path = raw / XLSX_2021
    workbook = openpyxl.load_workbook(path)
    for name in [f"Table {i}" for i in range(3, 9)]:
        del workbook[name]
    workbook.save(path)
    return path.name


def zero_byte_lookup(raw: Path) -> str:
    path = raw / LOOKUP_2022
    path.write_bytes(b"")
    return path.name


def html_as_fingertips_csv(raw: Path) -> str:
    path = raw / FT_OCU
    path.write_bytes(HTML_ERROR_PAGE)
    return path.name


def html_as_ndtms_csv(raw: Path) -> str:
    path = raw / NDTMS_LAS
    path.write_bytes(HTML_ERROR_PAGE)
    return path.name


def html_as_prevalence_xlsx(raw: Path) -> str:
    path = raw / PREVALENCE
    path.write_bytes(HTML_ERROR_PAGE)
    return path.name


def fingertips_without_value(raw: Path) -> str:
    path = raw / FT_OCU

    def edit(header, rows):
        header = [h for h in header if h != "Value"]
        return header, [{k: v for k, v in r.items() if k != "Value"} for r in rows]
    _edit_csv(path, edit)
    return path.name


def ndtms_without_in_treatment(raw: Path) -> str:
    path = raw / NDTMS_LAS

    def edit(header, rows):
        header = [h for h in header if h != "intreatment_allintx"]
        return header, [{k: v for k, v in r.items() if k != "intreatment_allintx"} for r in rows]
    _edit_csv(path, edit)
    return path.name


def lookup_code_column_renamed(raw: Path) -> str:
    path = raw / LOOKUP_2022
    text = path.read_text(encoding="utf-8-sig")
    path.write_text(text.replace("LTLA22CD", "LAD22CD", 1), encoding="utf-8-sig")
    return path.name


def numerator_above_denominator(raw: Path) -> str:
    """An invented 90244 file (a proportion) in which one area's Count exceeds its Denominator."""
    path = raw / "fingertips" / "indicator-90244.csv"
    rows = [
        _fingertips_row(**{"Parent Code": "", "Parent Name": "", "Area Code": "E92000001", "Area Name": "England",
                           "Area Type": "England", "Value": "5.0", "Count": "6500", "Denominator": "130000"}),
        _fingertips_row(**{"Area Code": "E09000003", "Area Name": "Barnet", "Value": "112.5",
                           "Count": "900", "Denominator": "800"}),
    ]
    _write_rows(path, rows, FINGERTIPS_HEADER)
    return path.name


def negative_value(raw: Path) -> str:
    path = raw / FT_OCU

    def edit(header, rows):
        rows[1]["Value"] = "-" + rows[1]["Value"]
        return header, rows
    _edit_csv(path, edit)
    return path.name


def negative_count_ndtms(raw: Path) -> str:
    path = raw / NDTMS_LAS

    def edit(header, rows):
        row = next(r for r in rows if r["sex"].lower() == "total" and r["age_group"].lower() == "total"
                   and r["drug_group"].lower() == "total" and r["exits_died_allintx"] not in ("", "NULL"))
        row["exits_died_allintx"] = "-5"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def non_numeric_fingertips(raw: Path) -> str:
    path = raw / FT_ALCOHOL

    def edit(header, rows):
        rows[2]["Count"] = "about 40"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def non_numeric_ndtms(raw: Path) -> str:
    path = raw / NDTMS_LAS

    def edit(header, rows):
        row = next(r for r in rows if r["sex"].lower() == "total" and r["age_group"].lower() == "total")
        row["exits_successfulcompletion_allintx"] = "n/a"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def conflicting_duplicate_rows(raw: Path) -> str:
    """A second file repeating one row of the real file with a different value."""
    source = raw / FT_OCU
    rows = _read_rows(source)
    header = list(rows[0])
    row = dict(rows[0])
    row["Value"] = "99.5" if row["Value"] != "99.5" else "99.6"
    extra = raw / "fingertips" / "indicator-93517_resent.csv"
    _write_rows(extra, [row], header)
    return extra.name


def truncated_geojson(raw: Path) -> str:
    path = raw / GEOJSON
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 3])
    return path.name


def empty_feature_collection(raw: Path) -> str:
    path = raw / GEOJSON
    document = json.loads(path.read_bytes())
    document["features"] = []
    path.write_text(json.dumps(document), encoding="utf-8")
    return path.name


def ltla_in_two_utlas(raw: Path) -> str:
    path = raw / LOOKUP_2022

    def edit(header, rows):
        row = dict(next(r for r in rows if r["LTLA22CD"] == "E07000026"))  # Allerdale -> Cumbria
        row.update(UTLA22CD="E06000063", UTLA22NM="Cumberland", ObjectId="9999")
        return header, rows + [row]
    _edit_csv(path, edit, bom=True)
    return path.name


def topojson_bad_arc_index(raw: Path) -> str:
    path = raw / TOPOJSON
    topology = json.loads(path.read_bytes())
    geometry = topology["objects"]["utla"]["geometries"][0]
    first_ring = geometry["arcs"][0][0] if geometry["type"] == "MultiPolygon" else geometry["arcs"][0]
    first_ring[1] = len(topology["arcs"]) + 500
    path.write_text(json.dumps(topology), encoding="utf-8")
    return path.name


def unknown_change_type(raw: Path) -> str:
    path = raw / CHANGES

    def edit(header, rows):
        rows[3]["type"] = "boundary_tweak"
        return header, rows
    _edit_csv(path, edit)
    return path.name


OVERFLOW_DIGITS = "1" + "0" * 400  # a plain run of digits too large for a double: it reads as infinity


def fingertips_value_overflows(raw: Path) -> str:
    path = raw / FT_OCU

    def edit(header, rows):
        rows[0]["Value"] = "1e309"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def fingertips_count_infinite(raw: Path) -> str:
    path = raw / FT_ALCOHOL

    def edit(header, rows):
        rows[1]["Count"] = "inf"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def fingertips_denominator_nan(raw: Path) -> str:
    path = raw / FT_ALCOHOL

    def edit(header, rows):
        rows[2]["Denominator"] = "nan"
        return header, rows
    _edit_csv(path, edit)
    return path.name


def ndtms_count_overflows(raw: Path) -> str:
    path = raw / NDTMS_LAS

    def edit(header, rows):
        row = next(r for r in rows if r["sex"].lower() == "total" and r["age_group"].lower() == "total")
        row["exits_successfulcompletion_allintx"] = OVERFLOW_DIGITS
        return header, rows
    _edit_csv(path, edit)
    return path.name


def _first_number_cell(sheet, min_row: int = 1):
    for row in sheet.iter_rows(min_row=min_row):
        for cell in row:
            if isinstance(cell.value, float) and not cell.value.is_integer():
                return cell
    raise AssertionError(f"no fractional number in sheet {sheet.title!r}")


def ons_rate_overflows(raw: Path) -> str:
    import openpyxl

    path = raw / XLSX_2021
    workbook = openpyxl.load_workbook(path)
    _first_number_cell(workbook["Table 6"]).value = OVERFLOW_DIGITS
    workbook.save(path)
    return path.name


@dataclass(frozen=True)
class Case:
    corrupt: Callable[[Path], str]
    words: tuple[str, ...]  # lower-case phrases the message must contain, besides the file name
    absent: tuple[str, ...] = ()  # lower-case phrases it must not contain (e.g. innocent files)


CASES = {
    "truncated xlsx workbook": Case(truncated_xlsx, ("cannot be read as a workbook", "excel workbook")),
    "truncated older workbook": Case(truncated_xls, ("cannot be read as a workbook", "excel workbook")),
    "xlsx without the 3-year tables": Case(workbook_without_3yr_tables, (
        "has no table of 3-year age-standardised rates of deaths related to drug misuse (persons, males, females); "
        "3-year age-standardised rates of deaths related to drug poisoning (persons, males, females)",
        "older 2019 edition (2019localauthorities1.xlsx)", "every table an older edition holds")),
    "zero-byte lookup": Case(zero_byte_lookup, ("empty", "0 bytes")),
    "html page as fingertips csv": Case(html_as_fingertips_csv, ("html", "fingertips csv")),
    "html page as ndtms csv": Case(html_as_ndtms_csv, ("html", "viewit csv export")),
    "html page as prevalence xlsx": Case(html_as_prevalence_xlsx, ("html", "not a workbook", "prevalence .xlsx")),
    "fingertips without Value": Case(fingertips_without_value, ("missing column", "'value'")),
    "ndtms without intreatment_allintx": Case(ndtms_without_in_treatment, ("missing column", "intreatment_allintx")),
    "lookup with LTLA22CD renamed": Case(lookup_code_column_renamed, ("lookup layout", "ltlayycd")),
    "numerator above denominator": Case(numerator_above_denominator, (
        "previous one was kept", "numerators within denominators", "expected numerator <= denominator",
        "area_code=e09000003", "numerator=900.0, denominator=800.0")),
    "negative fingertips value": Case(negative_value, ("previous one was kept", "no negative values",
                                                       "values, numerators and denominators >= 0")),
    "negative ndtms count": Case(negative_count_ndtms, ("'-5' is a negative count", "column 'exits_died_allintx'",
                                                        "a count of 0 or more")),
    "non-numeric fingertips count": Case(non_numeric_fingertips, ("'about 40' is not a number", "column 'count'")),
    "non-numeric ndtms count": Case(non_numeric_ndtms, ("'n/a' is not a count", "exits_successfulcompletion_allintx")),
    "conflicting duplicate fingertips rows": Case(conflicting_duplicate_rows, (
        "indicator-93517_unmet_need_ocu_sample.csv: data row 1: contradicts indicator-93517_resent.csv data row 1",
        " here and 99.5 there", "one value per indicator, area, period")),
    "truncated geojson": Case(truncated_geojson, ("not valid json", "geojson")),
    "empty feature collection": Case(empty_feature_collection, ("no features", "one feature per")),
    "ltla mapped to two utlas": Case(ltla_in_two_utlas, ("e07000026 is mapped to e06000063 and e10000006",
                                                         "one upper-tier authority per district"),
                                     absent=("onsvisual_uk-topojson_changes.csv",)),
    "topojson bad arc index": Case(topojson_bad_arc_index, ("arc index", "out of range")),
    "unknown code-change type": Case(unknown_change_type, ("boundary_tweak", "merger")),
    "fingertips value 1e309": Case(fingertips_value_overflows, (
        "data row 1, column 'value': '1e309' is not a finite number", "overflows")),
    "fingertips count inf": Case(fingertips_count_infinite, ("data row 2, column 'count'", "'inf'")),
    "fingertips denominator nan": Case(fingertips_denominator_nan, ("data row 3, column 'denominator'", "'nan'")),
    "ndtms count overflows": Case(ndtms_count_overflows, (
        "column 'exits_successfulcompletion_allintx'", "is not a finite number", "data row")),
    "ons rate overflows": Case(ons_rate_overflows, ("sheet 'table 6', cell", "is not a finite number")),
}


# --------------------------------------------------------------------------- the corpus

def _remembering(stage: Callable, cache: dict, source_id: str) -> Callable:
    def remembered(files: list[Path]) -> dict:
        key = (source_id, tuple((Path(p).name, _digest(Path(p))) for p in files))
        if key not in cache:
            cache[key] = stage(files)
        return {name: frame.copy() for name, frame in cache[key].items()}
    return remembered


@pytest.fixture(scope="module")
def parse_unchanged_files_once():
    """Each parser's `stage` remembers its tables per list of input files (name and sha256), so a
    case re-parses only the source it corrupted. Parsing is a pure function of the bytes and
    names, so the build sees exactly what it would have parsed; it only runs faster."""
    cache: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        for source in all_sources():
            module = source.module()
            patch.setattr(module, "stage", _remembering(module.stage, cache, source.id))
        yield


@pytest.fixture(scope="module")
def good(real_cuts, tmp_path_factory, parse_unchanged_files_once):
    """The vendored cuts fetched once as a mirror, and a good warehouse built from them."""
    root = tmp_path_factory.mktemp("good")
    raw = root / "raw"
    fetch_all(raw, mirror=real_cuts, progress=False)
    db = root / "warehouse.duckdb"
    assert main(["build", "--raw", str(raw), "--db", str(db)]) == 0
    return raw, db


# The cases that ran to the end in this session (see test_corpus_is_big_enough).
PASSED: set[str] = set()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_cleanly(name, good, tmp_path, capsys):
    good_raw, good_db = good
    case = CASES[name]
    raw = tmp_path / "raw"
    shutil.copytree(good_raw, raw)
    file_name = case.corrupt(raw)
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "warehouse.duckdb"
    shutil.copyfile(good_db, db)
    before = _digest(db)
    capsys.readouterr()

    code = main(["build", "--raw", str(raw), "--db", str(db)])

    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, err
    message = err.lower()
    assert file_name.lower() in message, err
    for words in case.words:
        assert words in message, err
    for words in case.absent:
        assert words not in message, err
    assert _digest(db) == before
    assert [p.name for p in folder.iterdir()] == ["warehouse.duckdb"]
    PASSED.add(name)


def test_corpus_is_big_enough(request):
    """At least 14 cases, and every case this run selected really ran and passed: a corpus whose cases were all
    skipped (no data to corrupt) fails here instead of passing quietly."""
    assert len(CASES) >= 14
    selected = {item.callspec.params["name"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_bad_input_fails_cleanly"}
    if not selected:
        pytest.skip("no case of the corpus was selected in this run (-k or a node id left them out)")
    assert selected <= PASSED, f"cases that did not run to the end: {sorted(selected - PASSED)}"


def _ons_workbooks():
    spec = importlib.util.spec_from_file_location("ons_deaths_workbooks",
                                                  Path(__file__).parent / "fixtures" / "ons_deaths" / "workbooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_newest_ons_edition_missing_a_table_is_an_input_error(tmp_path):
    """Invented workbooks: a 2022 edition with only registrations, after a 2021 edition with the
    persons 3-year misuse table. Falling back to the older edition's rates would hide the change."""
    workbooks = _ons_workbooks()
    old = workbooks.edition_2021(tmp_path / "2021localauthorities.xlsx")
    title = workbooks.registrations_title("misuse", 2022)
    new = workbooks.write_workbook(tmp_path / "2022localauthorities.xlsx", {
        "Table 2": workbooks.registrations_sheet(title, [2022, 2021], [("E06000009", "Blackpool", 1, [18, 29])])})
    with pytest.raises(InputError) as info:
        ons_deaths.stage([new, old])
    assert info.value.file == "2022localauthorities.xlsx"
    assert "has no table of 3-year age-standardised rates of deaths related to drug misuse (persons)" in str(info.value)
    assert "older 2021 edition (2021localauthorities.xlsx)" in str(info.value)
    # The other way round is fine: a newer edition may add tables the older one lacked.
    newest = workbooks.edition_2022(tmp_path / "2023localauthorities.xlsx")
    assert not ons_deaths.stage([newest, old])["observations"].empty


def test_negative_ndtms_count_is_an_input_error(tmp_path):
    """An invented ViewIt local-authority export (real column names) with one negative count."""
    from indicators.pipeline.sources import ndtms

    path = tmp_path / "ViewIt Export Data_LAs.csv"
    path.write_text("ReportingPeriod,Area,sex,age_group,drug_group,intreatment_allintx,"
                    "exits_successfulcompletion_allintx,exits_died_allintx\r\n"
                    "2021-22,Camden,Total,Total,Total,1200,150,5\r\n"
                    "2021-22,Camden,Total,Total,Opiate,800,-10,5\r\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        ndtms.stage([path])
    assert info.value.where == "data row 2, column 'exits_successfulcompletion_allintx'"
    assert "'-10' is a negative count" in str(info.value)


# --------------------------------------------------------------------------- fetch faults

AREA_TYPES = [{"Id": 402, "Name": "Upper tier local authorities (4/21-3/23)"},
              {"Id": 502, "Name": "Upper tier local authorities (post 4/23)"}]
INDICATOR_CSV = ",".join(FINGERTIPS_HEADER) + "\r\n"


class FaultyApi(BaseHTTPRequestHandler):
    """A stand-in for the Fingertips API whose behaviour per test is set in `FaultyApi.mode`:
    'area_types_503' (area_types always 503), 'area_types_html' (an HTML page with 200),
    'stall' (area_types sleeps past the timeout), 'csv_500' (one indicator CSV always 500),
    'ok' (everything answers)."""

    mode = "ok"
    hits: dict[str, int] = {}

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        query = self.path.partition("?")[2]
        FaultyApi.hits[path] = FaultyApi.hits.get(path, 0) + 1
        mode = FaultyApi.mode
        if path == "/api/area_types":
            if mode == "area_types_503":
                self._send(503, b"Service Unavailable", "text/plain")
            elif mode == "area_types_html":
                self._send(200, HTML_ERROR_PAGE, "text/html")
            elif mode == "stall":
                threading.Event().wait(1.0)
                self._send(200, json.dumps(AREA_TYPES).encode(), "application/json")
            else:
                self._send(200, json.dumps(AREA_TYPES).encode(), "application/json")
        elif path == "/api/available_data":  # 90244 also at the earlier upper-tier type 402
            indicator = int(query.partition("indicator_id=")[2])
            body = [{"IndicatorId": indicator, "AreaTypeId": t} for t in ([502, 402] if indicator == 90244 else [502])]
            self._send(200, json.dumps(body).encode(), "application/json")
        elif path == "/api/indicator_metadata/by_indicator_id":
            body = {"92447": {"Descriptive": {"Name": "Successful completion of alcohol treatment"}}}
            self._send(200, json.dumps(body).encode(), "application/json")
        elif path == "/api/all_data/csv/by_indicator_id":
            if mode == "csv_500" and "indicator_ids=91117" in query:
                self._send(500, b"Internal Server Error", "text/plain")
            else:
                self._send(200, INDICATOR_CSV.encode(), "text/csv")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


class LoopbackTransport(httpx.HTTPTransport):
    """Sends every request, whatever its host, to the local test server: no request leaves 127.0.0.1."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def api_port():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FaultyApi)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def api(api_port):
    """A Downloader wired to the local server: 3 attempts, no real waiting, 0.5 s read timeout."""
    FaultyApi.hits.clear()
    FaultyApi.mode = "ok"
    policy = FetchPolicy(attempts=3, backoff=0.01, read_timeout=0.5, connect_timeout=0.5, sleep=lambda s: None)
    client = httpx.Client(transport=LoopbackTransport(api_port),
                          timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout))
    downloader = Downloader(policy, client=client)
    yield downloader
    downloader.close()


@pytest.fixture
def cached(tmp_path):
    """A raw cache holding a previous Fingertips download; returns (raw dir, snapshot of its files)."""
    raw = tmp_path / "raw"
    folder = raw / "fingertips"
    folder.mkdir(parents=True)
    (folder / "indicator-90244.csv").write_text(INDICATOR_CSV, encoding="utf-8")
    (folder / "manifest.json").write_text('{"files": {"indicator-90244.csv": {"sha256": "previous"}}}\n')
    return raw, _snapshot(raw)


def _snapshot(raw: Path) -> dict[str, bytes]:
    return {str(p.relative_to(raw)): p.read_bytes() for p in sorted(raw.rglob("*")) if p.is_file()}


def _assert_cache_intact(raw: Path, before: dict[str, bytes]) -> None:
    assert _snapshot(raw) == before
    leftovers = [p for p in raw.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging")]
    assert leftovers == []


def test_get_json_html_page_with_200_is_a_clear_error(api):
    FaultyApi.mode = "area_types_html"
    with pytest.raises(FetchError) as info:
        api.get_json("https://fingertips.phe.org.uk/api/area_types")
    message = str(info.value)
    assert "https://fingertips.phe.org.uk/api/area_types" in message
    assert "not JSON" in message and "<!DOCTYPE html>" in message
    assert FaultyApi.hits["/api/area_types"] == 1  # an HTML page is not retried: it will not turn into JSON


def test_get_json_stall_times_out_after_bounded_retries(api):
    FaultyApi.mode = "stall"
    with pytest.raises(FetchError, match="timed out 3 times"):
        api.get_json("https://fingertips.phe.org.uk/api/area_types")
    assert FaultyApi.hits["/api/area_types"] == 3


@pytest.mark.parametrize("mode, words", [
    ("area_types_503", ("area_types", "failed after 3 attempts", "HTTP 503")),
    ("area_types_html", ("area_types", "not JSON")),
    ("csv_500", ("indicator_ids=91117", "failed after 3 attempts", "HTTP 500", "left as it was")),
])
def test_fingertips_plan_faults_leave_the_cache_unchanged(api, cached, mode, words):
    raw, before = cached
    FaultyApi.mode = mode
    report = fetch_all(raw, sources=[get_source("fingertips")], downloader=api, progress=False)
    for word in words:
        assert word in report.failed["fingertips"]
    (raw / "fetch_status.json").unlink()  # the record of the failed attempt, beside the source folders
    _assert_cache_intact(raw, before)
    if mode == "area_types_503":
        assert FaultyApi.hits == {"/api/area_types": 3}


def test_fingertips_plan_against_the_local_api_installs_every_file(api, cached):
    raw, _ = cached
    report = fetch_all(raw, sources=[get_source("fingertips")], downloader=api, progress=False)
    expected = ["area_types.json"] + [f"indicator-{i}.csv" for i in (90244, 90245, 92447, 92432, 93517, 93532, 91117)]
    expected.append("indicator-90244_area_type_402.csv")
    assert report.fetched == {"fingertips": sorted(expected)}
    manifest = read_manifest(raw / "fingertips")["files"]
    assert manifest["indicator-91117.csv"]["url"].endswith(
        "indicator_ids=91117&child_area_type_id=502&parent_area_type_id=15")
    assert manifest["indicator-90244_area_type_402.csv"]["url"].endswith(
        "indicator_ids=90244&child_area_type_id=402&parent_area_type_id=15")
    assert manifest["indicator-90244.csv"]["sha256"] == hashlib.sha256(INDICATOR_CSV.encode()).hexdigest()
    assert json.loads((raw / "fingertips" / "area_types.json").read_bytes()) == AREA_TYPES


def test_cli_fetch_failure_is_one_line(api_port, tmp_path, capsys, monkeypatch):
    """`indicators fetch` against an API that is down: exit 2, one message, no traceback, nothing written."""
    FaultyApi.hits.clear()
    FaultyApi.mode = "area_types_503"
    real_init = Downloader.__init__

    def loopback_init(self, policy=None, client=None):
        policy = FetchPolicy(attempts=2, backoff=0.01, read_timeout=0.5, connect_timeout=0.5, sleep=lambda s: None)
        client = httpx.Client(transport=LoopbackTransport(api_port), timeout=httpx.Timeout(0.5))
        real_init(self, policy, client=client)
    monkeypatch.setattr(Downloader, "__init__", loopback_init)
    monkeypatch.delenv("INDICATORS_MIRROR", raising=False)
    raw = tmp_path / "raw"
    code = main(["fetch", "--raw", str(raw), "--source", "fingertips"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert "error: nothing usable arrived: fingertips:" in err and "area_types" in err and "HTTP 503" in err
    assert "fingertips  failed" in out and "--source fingertips" in out
    assert not (raw / "fingertips").exists() or not any((raw / "fingertips").iterdir())


def test_loopback_transport_never_leaves_the_machine(api):
    body = io.BytesIO()
    with api.client.stream("GET", "https://example.org/api/area_types") as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            body.write(chunk)
    assert json.loads(body.getvalue()) == AREA_TYPES
