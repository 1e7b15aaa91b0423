"""Hostile input, one table of cases: source files, imported files, CLI arguments and operating-system faults
through `indicators ...`, and URL parameters through every page.

Every command case starts from a raw cache and a warehouse the test makes itself (tests/support.make_raw: the
small fixture files, no ../shared needed), applies one hostile change, runs the command and asserts: the exit
status, one message naming the file or argument and the problem, no traceback, and the previous warehouse
byte-identical with nothing left beside it. Cases that could crash the interpreter itself (a workbook that
made the reader abort) run in a child process. The bad-input corpus on the real files is tests/test_bad_input.py;
this suite adds what that one cannot reach without them, and the faults of the issue-12 red-team pass.

URL cases: a hostile parameter on any page gives a notice naming the parameter, never an exception.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO
from support import make_raw, make_warehouse

from indicators.cli import main
from indicators.present.state import safe_excerpt

FT = "fingertips/indicator-90244.csv"
LOOKUP = "lookups/ltla_utla_2019_small.csv"
CHANGES = "lookups/changes_small.csv"
GEOJSON = "boundaries/ctyua_2023_small.geojson"
TOPOJSON = "boundaries/uk_topo_small.topojson.json"
LOCAL_HEADER = ("indicator_id,area_code,period_label,numerator,denominator,value,lower_ci_95,upper_ci_95,source,"
                "collected_by,collection_date,method,licence,access")
LOCAL_ROW = ("naloxone_kits_per_100_ocu,E06000950,2022/23,,,31,,,Invented audit,Invented group,2023-05-02,"
             "Invented method,CC BY 4.0,public")


# --------------------------------------------------------------------------- what a case gets to work with

@dataclass
class Work:
    raw: Path  # a copy of the small raw cache
    db: Path  # a copy of the warehouse built from it, in a folder of its own
    tmp: Path  # anything else
    mount: Callable[..., Path]  # a small or read-only file system (tmpfs), see `mounted`

    def write(self, relative: str, data: bytes | str) -> Path:
        path = self.raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def edit_csv(self, relative: str, edit: Callable[[list[list[str]]], list[list[str]]]) -> Path:
        path = self.raw / relative
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(edit(rows))
        return self.write(relative, out.getvalue())

    def local_csv(self, *lines: str, name: str = "local.csv") -> Path:
        path = self.tmp / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


def _duplicate_column(rows: list[list[str]], column: str) -> list[list[str]]:
    i = [c.strip().lstrip("\ufeff") for c in rows[0]].index(column)
    return [row + [row[i]] for row in rows]


def _xlsx(cells: dict[str, object], *, dimension: str | None = None) -> bytes:
    """A workbook with `cells` on its one sheet; `dimension` rewrites the sheet's <dimension ref> as given."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for ref, value in cells.items():
        book.active[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    if dimension is None:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = data.index(b'<dimension ref="')
                end = data.index(b'"', start + 16)
                data = data[:start] + f'<dimension ref="{dimension}'.encode() + data[end:]
            dst.writestr(item, data)
    return out.getvalue()


def _fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def _db_on_full_disk(w: Work) -> Path:
    folder = w.mount("full", size=f"{w.db.stat().st_size // 1024 + 1024}k")
    db = Path(shutil.copyfile(w.db, folder / "warehouse.duckdb"))
    _fill(folder)
    return db


def _db_in_read_only_folder(w: Work) -> Path:
    folder = w.mount("ro", size="16m")
    db = Path(shutil.copyfile(w.db, folder / "warehouse.duckdb"))
    w.mount.remount_read_only(folder)
    return db


# --------------------------------------------------------------------------- the cases

@dataclass(frozen=True)
class Case:
    run: Callable[[Work], tuple[list[str], Path | None]]  # the argv, and the warehouse that must not change
    words: tuple[str, ...]  # lower-case phrases the one-line message must contain (the file or argument first)
    code: int = 2
    child_process: bool = False  # run as `python -m indicators` (a crash must not take pytest down)


def build(w: Work, db: Path | None = None) -> tuple[list[str], Path]:
    db = db or w.db
    return ["build", "--raw", str(w.raw), "--db", str(db)], db


def source(change: Callable[[Work], object]) -> Callable[[Work], tuple[list[str], Path]]:
    def run(w: Work) -> tuple[list[str], Path]:
        change(w)
        return build(w)
    return run


def imported(*lines: str, name: str = "local.csv", raw_bytes: bytes | None = None):
    def run(w: Work) -> tuple[list[str], Path]:
        path = w.tmp / name
        if raw_bytes is not None:
            path.write_bytes(raw_bytes)
        else:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ["import", str(path), "--db", str(w.db)], w.db
    return run


def command(*argv: str):
    """A command whose arguments may name {db}, {raw} and {tmp}."""
    def run(w: Work) -> tuple[list[str], Path]:
        return [a.format(db=w.db, raw=w.raw, tmp=w.tmp) for a in argv], w.db
    return run


def _export_to(fmt: str, where: Callable[[Work], Path]):
    def run(w: Work) -> tuple[list[str], Path]:
        return ["export", "--db", str(w.db), "--out", str(where(w)), "--format", fmt], w.db
    return run


def _read_only(w: Work) -> Path:
    folder = w.mount("ro_out", size="1m")
    w.mount.remount_read_only(folder)
    return folder / "out"


def _full(w: Work) -> Path:
    folder = w.mount("full_out", size="64k")
    _fill(folder)
    return folder / "out"


CASES: dict[str, Case] = {
    # ---- source files (indicators build)
    "workbook with cells at A1 and XFD1048576": Case(
        source(lambda w: w.write("ons_deaths/2021localauthorities.xlsx", _xlsx({"A1": 1, "XFD1048576": 1}))),
        ("2021localauthorities.xlsx", "1,048,576 rows by 16,384 columns", "more than the 5,000,000"),
        child_process=True),
    "workbook whose dimension claims the whole grid": Case(
        source(lambda w: w.write("ons_deaths/2021localauthorities.xlsx",
                                 _xlsx({"A1": "x", "B2": 2}, dimension="A1:XFD1048576"))),
        ("2021localauthorities.xlsx", "xl/worksheets/sheet1.xml", "16,384 columns"), child_process=True),
    "Release table as a workbook with a far cell": Case(
        source(lambda w: w.write("release_foi/release_naloxone_2017-18.xlsx", _xlsx({"A1": "Local authority",
                                                                                      "ZZZ900000": 1}))),
        ("release_naloxone_2017-18.xlsx", "more than the 5,000,000"), child_process=True),
    "prevalence workbook that is a zip of something else": Case(
        source(lambda w: w.write("prevalence/estimates.xlsx", _zip({"readme.txt": b"not a workbook"}))),
        ("estimates.xlsx", "cannot be read as a workbook")),
    "ONS workbook that is an HTML page": Case(
        source(lambda w: w.write("ons_deaths/2021localauthorities.xlsx", b"<!DOCTYPE html><html>503</html>")),
        ("2021localauthorities.xlsx", "html")),
    "population workbook cut short": Case(
        source(lambda w: w.write("population/ukpopestimatesmid2021.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)),
        ("ukpopestimatesmid2021.xls", "cannot be read as a workbook")),
    "Fingertips CSV with the Value column twice": Case(
        source(lambda w: w.edit_csv(FT, lambda rows: _duplicate_column(rows, "Value"))),
        ("indicator-90244.csv", "column 'value' appears twice", "header row")),
    "Fingertips CSV with Area Code twice, differently cased": Case(
        source(lambda w: w.edit_csv(FT, lambda rows: [row + ([" area code "] if n == 0 else [row[4]])
                                                      for n, row in enumerate(rows)])),
        ("indicator-90244.csv", "appears twice")),
    "lookup CSV with a column twice": Case(
        source(lambda w: w.edit_csv(LOOKUP, lambda rows: _duplicate_column(rows, rows[0][0].lstrip("\ufeff")))),
        ("ltla_utla_2019_small.csv", "appears twice")),
    "code-changes CSV with a column twice": Case(
        source(lambda w: w.edit_csv(CHANGES, lambda rows: _duplicate_column(rows, "newcd"))),
        ("changes_small.csv", "column 'newcd' appears twice")),
    "NDTMS export with a column twice": Case(
        source(lambda w: (w.write("ndtms/ViewIt Export Data_LAs.csv",
                                  (FIXTURES / "ndtms" / "ViewIt Export Data_LAs.csv").read_bytes()),
                          w.edit_csv("ndtms/ViewIt Export Data_LAs.csv",
                                     lambda rows: _duplicate_column(rows, "intreatment_allintx")))),
        ("viewit export data_las.csv", "column 'intreatment_allintx' appears twice")),
    "Release table with a column twice": Case(
        source(lambda w: w.write("release_foi/release_naloxone_2017-18.csv",
                                 (FIXTURES / "release_foi" / "release_naloxone_2017-18.csv").read_text()
                                 .replace("Local authority,", "Local authority,Local authority,", 1)
                                 .replace("\nEngland,", "\nEngland,England,"))),
        ("release_naloxone_2017-18.csv", "column 'local authority' appears twice")),
    "UKHSA lookup with a column twice": Case(
        source(lambda w: w.write("ukhsa_hcv_odn/la_odn_lookup.csv",
                                 "area_code,area_name,odn_name,area_code\nE06000901,Alpha,Net,E06000901\n")),
        ("la_odn_lookup.csv", "column 'area_code' appears twice")),
    "Fingertips CSV that is an HTML error page": Case(
        source(lambda w: w.write(FT, "<!DOCTYPE html><html><body>Service Unavailable</body></html>")),
        ("indicator-90244.csv", "html")),
    "Fingertips CSV of 0 bytes": Case(source(lambda w: w.write(FT, b"")), ("indicator-90244.csv", "empty")),
    "Fingertips CSV in Latin-1": Case(
        source(lambda w: w.write(FT, (FIXTURES / FT).read_bytes().replace(b"Camden", b"Camd\xe9n"))),
        ("indicator-90244.csv", "not utf-8")),
    "Fingertips CSV without its Value column": Case(
        source(lambda w: w.edit_csv(FT, lambda rows: [r[:12] + r[13:] for r in rows])),
        ("indicator-90244.csv", "missing column", "'value'")),
    "GeoJSON cut short": Case(
        source(lambda w: w.write(GEOJSON, (FIXTURES / "geography" / "ctyua_2023_small.geojson").read_bytes()[:300])),
        ("ctyua_2023_small.geojson", "json")),
    "TopoJSON that is not JSON": Case(source(lambda w: w.write(TOPOJSON, "{not json")),
                                      ("uk_topo_small.topojson.json", "json")),
    "lookup CSV of 0 bytes": Case(source(lambda w: w.write(LOOKUP, b"")), ("ltla_utla_2019_small.csv", "empty")),
    # ---- imported files (indicators import)
    "import with a column twice": Case(imported(LOCAL_HEADER + ",source", LOCAL_ROW + ",again"),
                                       ("local.csv", "column 'source' appears twice")),
    "import with a NUL byte": Case(imported(raw_bytes=f"{LOCAL_HEADER}\n{LOCAL_ROW}\n".replace("Invented audit",
                                                                                                "Inv\0ented").encode()),
                                   ("local.csv", "row 2", "nul character")),
    "import of an HTML page": Case(imported(raw_bytes=b"<!doctype html><html><body>login</body></html>"),
                                   ("local.csv", "web page")),
    "import of an Excel workbook": Case(imported(raw_bytes=b"PK\x03\x04" + b"\0" * 64, name="local.xlsx"),
                                        ("local.xlsx", "excel workbook")),
    "import of an empty file": Case(imported(raw_bytes=b""), ("local.csv", "empty")),
    "import in Latin-1": Case(imported(raw_bytes=f"{LOCAL_HEADER}\n{LOCAL_ROW}\n".replace("audit", "audít")
                                       .encode("latin-1")), ("local.csv", "not utf-8")),
    "import of an unknown indicator": Case(imported(LOCAL_HEADER, LOCAL_ROW.replace("naloxone_kits_per_100_ocu",
                                                                                    "made_up_rate")),
                                           ("local.csv", "row 2", "made_up_rate")),
    "import of an unknown area": Case(imported(LOCAL_HEADER, LOCAL_ROW.replace("E06000950", "E06999999")),
                                      ("local.csv", "row 2", "unknown area code 'e06999999'")),
    "import with a count above its denominator": Case(
        imported(LOCAL_HEADER, LOCAL_ROW.replace(",,,31,", ",900,100,,").replace("naloxone_kits_per_100_ocu",
                                                                                   "naloxone_opiate_clients_issued")),
        ("local.csv", "row 2", "numerator")),
    "import of a file that is not there": Case(command("import", "{tmp}/missing.csv", "--db", "{db}"),
                                               ("missing.csv", "does not exist")),
    "import into a warehouse that is not there": Case(command("import", "{tmp}/missing.csv", "--db", "{tmp}/none.duckdb"),
                                                      ("none.duckdb", "no warehouse")),
    # ---- CLI arguments and operating-system faults
    "build from a raw folder that does not exist": Case(command("build", "--raw", "{tmp}/nope", "--db", "{db}"),
                                                        ("{tmp}/nope", "does not exist")),
    "build onto a full disk": Case(lambda w: build(w, _db_on_full_disk(w)),
                                   ("warehouse.duckdb", "no space left on device", "previous warehouse is unchanged")),
    "build into a read-only folder": Case(lambda w: build(w, _db_in_read_only_folder(w)),
                                          ("warehouse.duckdb", "read-only file system")),
    "build where the warehouse folder cannot be made": Case(
        lambda w: (build(w, _read_only(w).parent / "sub" / "warehouse.duckdb")[0], w.db),
        ("ro_out/sub", "read-only file system")),
    "export CSV into a read-only folder": Case(_export_to("csv", _read_only), ("ro_out", "read-only file system")),
    "export Parquet onto a full disk": Case(_export_to("parquet", _full), ("full_out/out", "no space left on device")),
    "export zip onto a full disk": Case(_export_to("zip", _full), ("full_out/out", "no space left on device")),
    "export the warehouse file onto a full disk": Case(_export_to("duckdb", _full),
                                                       ("full_out/out", "no space left on device")),
    "export to a path that is a file": Case(command("export", "--db", "{db}", "--out", "{db}"),
                                            ("warehouse.duckdb", "is a file", "--out must be a folder")),
    "export of an unknown indicator": Case(command("export", "--db", "{db}", "--out", "{tmp}/o", "--indicator", "nope"),
                                           ("nope",)),
    "export of one indicator as a warehouse file": Case(
        command("export", "--db", "{db}", "--out", "{tmp}/o", "--format", "duckdb", "--indicator", "completion_opiate"),
        ("--indicator", "--format")),
    "export from a warehouse that is not there": Case(command("export", "--db", "{tmp}/none.duckdb", "--out", "{tmp}/o"),
                                                      ("none.duckdb", "no warehouse")),
    "template into a read-only folder": Case(lambda w: (["template", "--out", str(_read_only(w) / "t.csv")], w.db),
                                             ("ro_out/out", "read-only file system")),
    "template over an existing file": Case(command("template", "--out", "{db}"), ("warehouse.duckdb", "already exists",
                                                                                   "--force")),
    "check a file that is not a warehouse": Case(
        lambda w: (["check", "--db", str(Path(shutil.copyfile(FIXTURES / FT, w.tmp / "not.duckdb")))], w.db),
        ("not.duckdb", "not a warehouse")),
    "list a warehouse that is not there": Case(command("list", "--db", "{tmp}/none.duckdb"), ("none.duckdb", "no warehouse")),
    "fetch an unknown source": Case(command("fetch", "--raw", "{raw}", "--source", "../../etc"),
                                    ("../../etc", "unknown source id")),
}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


# --------------------------------------------------------------------------- running them

def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_good")
    raw = make_raw(root / "raw", fingertips=True)
    db = root / "warehouse.duckdb"
    assert main(["build", "--raw", str(raw), "--db", str(db)]) == 0
    return raw, db


class Mounts:
    """tmpfs mounts for a test (as root; skipped with the reason elsewhere), unmounted afterwards."""

    def __init__(self, root: Path) -> None:
        self.root, self.paths = root, []

    def __call__(self, name: str, size: str = "1m") -> Path:
        if os.geteuid() != 0:
            pytest.skip("a full or read-only file system is made with a tmpfs mount, which needs root "
                        "(the development machines and CI run as root)")
        path = self.root / name
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.paths.append(path)
        return path

    def remount_read_only(self, path: Path) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)

    def close(self) -> None:
        for path in reversed(self.paths):
            subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def work(good, tmp_path):
    raw, db = good
    (tmp_path / "db").mkdir()
    mounts = Mounts(tmp_path)
    w = Work(raw=Path(shutil.copytree(raw, tmp_path / "raw")), db=Path(shutil.copyfile(db, tmp_path / "db" / db.name)),
             tmp=tmp_path / "tmp", mount=mounts)
    w.tmp.mkdir()
    yield w
    mounts.close()


def _run(argv: list[str], child_process: bool, capsys) -> tuple[int, str, str]:
    if child_process:
        done = subprocess.run([sys.executable, "-m", "indicators", *argv], capture_output=True, text=True,
                              cwd=REPO, timeout=300)
        return done.returncode, done.stdout, done.stderr
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_fails_cleanly(name, work, capsys):
    case = CASES[name]
    argv, kept = case.run(work)
    before = {p.name: _digest(p) for p in kept.parent.iterdir() if p.name != "filler"}

    code, out, err = _run(argv, case.child_process, capsys)

    assert "Traceback" not in out + err and "panicked" not in err and "This is a bug" not in err, err
    assert code == case.code, (code, err)
    message = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(message) == 1, err
    for words in case.words:
        assert words.format(tmp=work.tmp).lower() in err.lower(), (words, err)
    after = {p.name: _digest(p) for p in kept.parent.iterdir() if p.name != "filler"}
    assert after == before  # the previous warehouse byte-identical, nothing left beside it


def test_the_suite_is_big_enough():
    assert len(CASES) + len(URL_CASES) >= 40


# --------------------------------------------------------------------------- URL parameters

# (page, parameters, the parameter the notice must name); hostile values are never echoed as they are.
URL_CASES = [
    ("pages/map.py", {"indicator": "no_such_indicator"}, "indicator"),
    ("pages/map.py", {"indicator": "![t](http://127.0.0.1:9/t.png)"}, "indicator"),
    ("pages/map.py", {"period": "9999/00"}, "period"),
    ("pages/map.py", {"period": "<script>alert(1)</script>"}, "period"),
    ("pages/area.py", {"area": "E99999999"}, "area"),
    ("pages/area.py", {"area": "[click](javascript:alert(1))"}, "area"),
    ("pages/area.py", {"area": "E09000007\x00"}, "area"),
    ("pages/compare.py", {"peers": "everyone"}, "peers"),
    ("pages/area.py", {"peers": "../../etc/passwd"}, "peers"),
    ("pages/map.py", {"colour": "red"}, "colour"),
    ("pages/lottery.py", {"completion": "deaths_drug_misuse"}, "completion"),
    ("pages/lottery.py", {"adjusted": "perhaps"}, "adjusted"),
    ("pages/map.py", {"indicator": "x" * 10_000}, "indicator"),
    ("pages/about.py", {"area": "' OR 1=1 --"}, "area"),
]


@pytest.fixture(scope="module")
def url_db(tmp_path_factory):
    return make_warehouse(tmp_path_factory.mktemp("hostile_url") / "warehouse.duckdb")


@pytest.mark.parametrize("page, params, name", URL_CASES, ids=[f"{p[6:-3]}-{n}-{i}" for i, (p, _, n) in enumerate(URL_CASES)])
def test_hostile_url_parameter_gives_a_notice_naming_it(page, params, name, url_db, monkeypatch):
    from streamlit.testing.v1 import AppTest

    before = _digest(url_db)
    monkeypatch.setenv("INDICATORS_DB", str(url_db))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    if page != "pages/map.py":
        at.switch_page(page)
    at.run()
    assert not at.exception
    notices = [w.value for w in at.warning if w.value.startswith("The link's")]
    assert len(notices) == 1 and f"`{name}`" in notices[0], notices
    value = next(iter(params.values()))
    # The value is echoed only as a short excerpt of letters, digits and _./- (never markup), or not at all.
    assert f"({safe_excerpt(value) or 'empty'})" in notices[0] or "is too long" in notices[0], notices[0]
    assert _digest(url_db) == before


# --------------------------------------------------------------------------- a build killed half-way

def _kill_build_half_way(raw: Path, db: Path) -> int:
    """Start `indicators build`, SIGKILL it while its temporary warehouse exists; its pid."""
    for _ in range(10):
        process = subprocess.Popen([sys.executable, "-m", "indicators", "build", "--raw", str(raw), "--db", str(db)],
                                   cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        temporary = db.with_name(f".{db.name}.{process.pid}.tmp")
        while process.poll() is None and not temporary.exists():
            pass
        if process.poll() is None:
            process.kill()
            process.wait()
            return process.pid
    pytest.fail("every build finished before it could be killed")


def test_the_next_build_removes_what_a_killed_build_left_and_nothing_of_a_running_one(good, tmp_path):
    raw, good_db = good
    db = Path(shutil.copyfile(good_db, tmp_path / "warehouse.duckdb"))
    killed = _kill_build_half_way(raw, db)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "warehouse.duckdb")
    assert f".warehouse.duckdb.{killed}.tmp" in left  # what a kill -9 leaves behind
    # A build that is still running (a live pid), and one in another process namespace (a pid that means nothing
    # here, but whose file is locked, as DuckDB locks a database it has open): both are left alone.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.lockf(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"),
        str(tmp_path / ".warehouse.duckdb.999999999.tmp")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        running = tmp_path / f".warehouse.duckdb.{sleeper.pid}.tmp"
        running.write_bytes(b"a build in progress")
        assert main(["build", "--raw", str(raw), "--db", str(db)]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["warehouse.duckdb", running.name, ".warehouse.duckdb.999999999.tmp"])
    finally:
        sleeper.kill()
        holder.kill()
        sleeper.wait()
        holder.wait()


def test_nul_characters_from_a_source_file_never_reach_a_csv_export(good, tmp_path):
    """An official file with a NUL in a note builds (the figure is fine), and every CSV export drops the NUL."""
    raw, _ = good
    raw = Path(shutil.copytree(raw, tmp_path / "raw"))
    text = (raw / FT).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    note = rows[0].index("Value note")
    rows[1][note] = "Revised\0 figure"  # England's row (the small geography has England and two areas)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    (raw / FT).write_text(out.getvalue(), encoding="utf-8")
    db = tmp_path / "warehouse.duckdb"
    assert main(["build", "--raw", str(raw), "--db", str(db)]) == 0
    for fmt in ("csv", "zip"):
        (tmp_path / fmt).mkdir()  # an existing folder: the zip goes into it under its download name
        assert main(["export", "--db", str(db), "--out", str(tmp_path / fmt), "--format", fmt]) == 0
    exported = {p.name: p.read_bytes() for fmt in ("csv", "zip") for p in (tmp_path / fmt).iterdir()}
    values = next(data for name, data in exported.items() if "indicator_values" in name)
    assert b"Revised figure" in values
    archive = next(name for name in exported if name.endswith(".zip"))
    with zipfile.ZipFile(io.BytesIO(exported.pop(archive))) as z:
        exported.update({f"{archive}/{n}": z.read(n) for n in z.namelist()})
    assert len(exported) == 10 and not [name for name, data in exported.items() if b"\0" in data]


# --------------------------------------------------------------------------- a failed clean-up

def test_a_failed_clean_up_never_hides_the_first_error(work, capsys, monkeypatch):
    """A build whose new warehouse fails a check, and whose unfinished file then cannot be removed: the message is
    the check's, with the file left behind named on the same line; the previous warehouse is unchanged."""
    from indicators.pipeline import build as build_module
    from indicators.pipeline.checks import CheckResult

    monkeypatch.setattr(build_module, "run_checks", lambda con: CheckResult(
        passed=[], warnings=[], failures=["numerators within denominators: invented failure"]))
    before = _digest(work.db)
    real_unlink = Path.unlink

    def refuse(path, missing_ok=False):
        if ".tmp" in path.name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    code, out, err = _run(build(work)[0], False, capsys)
    assert code == 2 and "Traceback" not in err
    assert "\nerror: the new warehouse failed its checks" in err and "invented failure" in err
    assert "could not remove the unfinished warehouse" in err and ".warehouse.duckdb." in err
    assert _digest(work.db) == before
