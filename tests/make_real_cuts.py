"""Make the vendored cuts of the real published files (tests/fixtures/real_cuts) from ../shared/data/raw; depends on openpyxl, python_calamine and the standard library.

The cuts keep a few areas of every real file (see KEEP below: Cumbria's split in 2023, North Yorkshire's
same-footprint change, Dorset's 2019 boundary change, and areas the Fingertips and NDTMS samples hold),
so that the end-to-end build and the bad-input corpus run on a clone without ../shared. Rows are
dropped, never edited: a row is kept whole or not at all, headers, titles and notes stay. Workbooks
are rewritten cell value by cell value with openpyxl (formatting is not kept); the one legacy .xls
edition becomes an .xlsx of the same name stem. Run from the repository:

    uv run python tests/make_real_cuts.py [--shared ../shared/data/raw] [--out tests/fixtures/real_cuts]

It rewrites the output folder and its PROVENANCE.md (source file, sha256 of the original, what was kept).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data" / "raw"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "real_cuts"

# Current upper-tier areas kept, with the historic areas and 2014 districts behind them.
KEEP_CURRENT = {
    "E06000001": "Hartlepool", "E06000002": "Middlesbrough", "E06000009": "Blackpool",
    "E06000063": "Cumberland", "E06000064": "Westmorland and Furness", "E06000065": "North Yorkshire",
    "E10000034": "Worcestershire", "E10000032": "West Sussex", "E09000001": "City of London",
    "E09000003": "Barnet", "E09000012": "Hackney", "E06000058": "Bournemouth, Christchurch and Poole",
    "E06000059": "Dorset",
}
KEEP_HISTORIC = {"E10000006": "Cumbria", "E10000023": "North Yorkshire", "E06000028": "Bournemouth",
                 "E06000029": "Poole", "E10000009": "Dorset"}
KEEP_DISTRICTS = {
    "E07000026", "E07000027", "E07000028", "E07000029", "E07000030", "E07000031",  # Cumbria
    "E07000163", "E07000164", "E07000165", "E07000166", "E07000167", "E07000168", "E07000169",  # North Yorkshire
    "E07000234", "E07000235", "E07000236", "E07000237", "E07000238", "E07000239",  # Worcestershire
    "E07000223", "E07000224", "E07000225", "E07000226", "E07000227", "E07000228", "E07000229",  # West Sussex
    "E07000048", "E07000049", "E07000050", "E07000051", "E07000052", "E07000053",  # Dorset
}
KEEP_REGIONS = {"E12000001", "E12000002", "E12000003", "E12000005", "E12000007", "E12000008", "E12000009"}
KEEP_COUNTRIES = {"E92000001", "K04000001", "K03000001", "K02000001"}
KEEP_CODES = set(KEEP_CURRENT) | set(KEEP_HISTORIC) | KEEP_DISTRICTS | KEEP_REGIONS | KEEP_COUNTRIES
KEEP_NAMES = {n.lower() for n in [*KEEP_CURRENT.values(), *KEEP_HISTORIC.values()]}
NDTMS_PERIODS = {"2017/18", "2018/19", "2019/20", "2020/21", "2021/22"}

GSS = re.compile(r"^[EKWSN]\d{8}$")
PREVALENCE_AREA = re.compile(r"^(PCC\d+|[0-9A-Z]{4})$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- CSV

def _read_csv(path: Path) -> tuple[str, list[list[str]], str]:
    raw = path.read_bytes()
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    text = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text else "\n"
    return bom, list(csv.reader(io.StringIO(text, newline=""))), newline


def _write_csv(path: Path, bom: str, rows: list[list[str]], newline: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    path.write_bytes((bom + buffer.getvalue()).encode("utf-8"))


def cut_csv(src: Path, dest: Path, keep_row) -> str:
    """Keep the header and the rows `keep_row(header, row)` accepts; says how many were kept."""
    bom, rows, newline = _read_csv(src)
    header, body = rows[0], rows[1:]
    kept = [r for r in body if keep_row(header, r)]
    _write_csv(dest, bom, [header, *kept], newline)
    return f"{len(kept)} of {len(body)} data rows"


def _column(header: list[str], name: str) -> int:
    return [h.strip().lower() for h in header].index(name.lower())


def keep_fingertips(header, row) -> bool:
    return row[_column(header, "Area Code")] in KEEP_CODES


def keep_ltla_utla(header, row) -> bool:
    utla = next(i for i, h in enumerate(header) if re.fullmatch(r"UTLA\d\dCD", h.strip().lstrip("\ufeff")))
    return row[utla] in KEEP_CODES


def keep_ltla14(header, row) -> bool:
    return row[_column(header, "ltlacd")] in KEEP_CODES


def keep_ndtms(header, row) -> bool:
    """A few reporting periods, both sexes together and all ages (the only rows the build reads)."""
    def cell(prefix: str) -> str:
        return next(row[i] for i, h in enumerate(header) if h.lower().startswith(prefix)).strip().lower()
    return row[[h.lower().startswith("reportingperiod") for h in header].index(True)] in NDTMS_PERIODS \
        and cell("sex" if "sex" in [h.lower() for h in header] else "gender") == "total" \
        and cell("age") == "total"


def keep_ons_sdg(header, row) -> bool:
    code, name = row[_column(header, "GeoCode")], row[_column(header, "Local Authority")]
    decile = row[_column(header, "Deprivation decile")]
    return code in KEEP_CODES or name.lower() in KEEP_NAMES or (not code and not name) or bool(decile)


def cut_changes(src: Path, dest: Path) -> str:
    """The code changes of the kept areas, followed through (a new code of a kept area is kept too)."""
    bom, rows, newline = _read_csv(src)
    header, body = rows[0], rows[1:]
    old, new = _column(header, "oldcd"), _column(header, "newcd")
    keep = set(KEEP_CODES)
    changed = True
    while changed:
        changed = False
        for row in body:
            if row[old] in keep and row[new] and row[new] not in keep:
                keep.add(row[new])
                changed = True
    kept = [r for r in body if r[old] in keep]
    _write_csv(dest, bom, [header, *kept], newline)
    return f"{len(kept)} of {len(body)} data rows"


# --------------------------------------------------------------------------- workbooks

def cut_workbook(src: Path, dest: Path, drop_row) -> str:
    """Every sheet, cell values only, without the rows `drop_row(row)` rejects; says how many rows were kept."""
    import openpyxl
    from python_calamine import CalamineWorkbook

    source = CalamineWorkbook.from_path(str(src))
    book = openpyxl.Workbook()
    book.remove(book.active)
    dropped = total = 0
    for name in source.sheet_names:
        sheet = book.create_sheet(name)
        for row in source.get_sheet_by_name(name).to_python():
            total += 1
            if drop_row(row):
                dropped += 1
                continue
            sheet.append([None if cell == "" else cell for cell in row])
    book.save(dest)
    _fix_timestamps(dest)
    return f"{total - dropped} of {total} rows in {len(source.sheet_names)} sheets"


FIXED_TIME = "2026-12-04T00:00:00Z"


def _fix_timestamps(path: Path) -> None:
    """Make the .xlsx bytes depend on the cell values only: fixed document dates and zip entry times
    (openpyxl stamps both with the time of saving)."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_TIME.encode(), data)
            target.writestr(zipfile.ZipInfo(name, date_time=(2026, 12, 4, 0, 0, 0)), data,
                            compress_type=zipfile.ZIP_DEFLATED)
    path.write_bytes(buffer.getvalue())


def drop_area_row(row: list) -> bool:
    """ONS workbooks: a row whose first cell is a GSS code of an area not kept."""
    first = str(row[0]).strip() if row else ""
    return bool(GSS.match(first)) and first not in KEEP_CODES


def drop_prevalence_row(row: list) -> bool:
    """The prevalence workbook: a row of a drug action team area (PCC or DAT code first) whose name is not kept,
    or a row of the front sheet's list naming an area not kept."""
    cells = [str(c).strip() for c in row[:4]]
    if not cells or not cells[0]:
        return False
    if PREVALENCE_AREA.match(cells[0]) or (len(cells) > 1 and PREVALENCE_AREA.match(cells[1] or "")):
        return not any(c.lower() in KEEP_NAMES for c in cells)
    return False


# --------------------------------------------------------------------------- JSON

def cut_geojson(src: Path, dest: Path) -> str:
    document = json.loads(src.read_bytes())
    features = document["features"]
    field = next(k for k in features[0]["properties"] if re.fullmatch(r"CTYUA\d\dCD", k))
    document["features"] = [f for f in features if f["properties"][field] in KEEP_CURRENT]
    dest.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    return f"{len(document['features'])} of {len(features)} features"


def cut_topojson(src: Path, dest: Path) -> str:
    """The utla and rgn layers only, their kept areas only, and only the arcs those use (renumbered)."""
    topology = json.loads(src.read_bytes())
    keep = {"utla": set(KEEP_CURRENT) | set(KEEP_HISTORIC), "rgn": KEEP_REGIONS}
    objects = {}
    total = 0
    for layer, codes in keep.items():
        geometries = topology["objects"][layer]["geometries"]
        total += len(geometries)
        objects[layer] = dict(topology["objects"][layer],
                              geometries=[g for g in geometries if g["properties"]["areacd"] in codes])
    used: dict[int, int] = {}

    def renumber(arcs):
        if isinstance(arcs, int):
            index = arcs if arcs >= 0 else ~arcs
            used.setdefault(index, len(used))
            return used[index] if arcs >= 0 else ~used[index]
        return [renumber(a) for a in arcs]

    for layer in objects.values():
        for geometry in layer["geometries"]:
            geometry["arcs"] = renumber(geometry["arcs"])
    arcs = [None] * len(used)
    for old, new in used.items():
        arcs[new] = topology["arcs"][old]
    out = {k: v for k, v in topology.items() if k not in ("objects", "arcs")}
    out.update(objects=objects, arcs=arcs)
    dest.write_text(json.dumps(out, separators=(",", ":")), encoding="utf-8")
    kept = sum(len(v["geometries"]) for v in objects.values())
    return f"{kept} of {total} utla and rgn geometries, {len(arcs)} of {len(topology['arcs'])} arcs"


# --------------------------------------------------------------------------- the cuts

LOOKUP_2022 = ("Lower_Tier_Local_Authority_to_Upper_Tier_Local_Authority_(December_2022)_Lookup_in_England_and_"
               "Wales.csv")
# (source folder, original file, cut file, how, what is kept)
CUTS = [
    ("boundaries", "Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC.geojson", None, cut_geojson,
     "the features of the kept current areas, geometry unchanged"),
    ("boundaries", "onsvisual_uk_topo_2014-2025.topojson.json", None, cut_topojson,
     "layers utla (kept current and historic areas) and rgn (kept regions) only, with the arcs they use "
     "(renumbered, coordinates unchanged)"),
    ("lookups", LOOKUP_2022, None, lambda s, d: cut_csv(s, d, keep_ltla_utla),
     "rows whose upper-tier area is kept"),
    ("lookups", "onsvisual_uk-topojson_changes.csv", None, cut_changes,
     "rows whose old code is a kept area or district, or a code one of them became"),
    ("lookups", "onsvisual_uk-topojson_ltla14-lookup.csv", None, lambda s, d: cut_csv(s, d, keep_ltla14),
     "rows of the kept 2014 districts"),
    ("ons_deaths", "2021localauthorities.xlsx", None, lambda s, d: cut_workbook(s, d, drop_area_row),
     "every sheet; area rows (GSS code first) of kept areas, districts, regions and countries only"),
    ("ons_deaths", "2019localauthorities1.xls", "2019localauthorities1.xlsx",
     lambda s, d: cut_workbook(s, d, drop_area_row),
     "every sheet; area rows of kept areas, districts, regions and countries only; written as .xlsx"),
    ("population", "ukpopestimatesmid2020on2021geography.xls", "ukpopestimatesmid2020on2021geography.xlsx",
     lambda s, d: cut_workbook(s, d, drop_area_row),
     "every sheet; area rows of kept areas, districts, regions and countries only; written as .xlsx"),
    ("prevalence", "OpiateCrackUsePrevalenceEstimates2016to2017.XLSX", "OpiateCrackUsePrevalenceEstimates2016to2017.xlsx",
     lambda s, d: cut_workbook(s, d, drop_prevalence_row),
     "every sheet; drug action team rows of kept areas (by name), region and England rows"),
    ("fingertips", "indicator-93517_unmet_need_ocu_sample.csv", None, lambda s, d: cut_csv(s, d, keep_fingertips),
     "rows of England and kept areas"),
    ("fingertips", "indicator-93532_unmet_need_alcohol_sample.csv", None, lambda s, d: cut_csv(s, d, keep_fingertips),
     "rows of England and kept areas"),
    ("ndtms", "ViewIt Export Data_LAs.csv", None, lambda s, d: cut_csv(s, d, keep_ndtms),
     f"reporting periods {min(NDTMS_PERIODS)} to {max(NDTMS_PERIODS)}, sex and age group Total"),
    ("ndtms", "ViewIt Export Data_England.csv", None, lambda s, d: cut_csv(s, d, keep_ndtms),
     f"reporting periods {min(NDTMS_PERIODS)} to {max(NDTMS_PERIODS)}, gender and age group Total"),
    ("ons_sdg", "indicator_3-5-1.csv", None, lambda s, d: cut_csv(s, d, keep_ons_sdg),
     "rows of England, its deprivation deciles and the kept areas (by code or name)"),
]


def make_cuts(shared: Path, out: Path) -> list[str]:
    if out.exists():
        shutil.rmtree(out)
    lines = []
    for folder, name, cut_name, how, what in CUTS:
        src = shared / folder / name
        if not src.is_file():
            raise SystemExit(f"{src} not found: point --shared at a copy of ../shared/data/raw")
        dest = out / folder / (cut_name or name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        count = how(src, dest)
        size = dest.stat().st_size
        lines.append(f"### {folder}/{dest.name}\n"
                     f"- Cut from: `{folder}/{name}` ({src.stat().st_size:,} bytes), sha256 `{sha256(src)}`; its "
                     f"provenance (publisher, official URL, licence) is in ../shared/data/PROVENANCE.md.\n"
                     f"- Kept: {what}.\n"
                     f"- Count: {count} kept; the cut is {size:,} bytes, sha256 "
                     f"`{sha256(dest)}`.\n")
    return lines


HEADER = """# Vendored cuts of the real published files

Small cuts of the official files in `../shared/data/raw`, so that the end-to-end build and the bad-input
corpus run on a clone without `../shared`. Made by `tests/make_real_cuts.py` (run it again to remake them
from the originals; it rewrites this file). Rows were dropped, never edited. Workbooks were rewritten
value by value with openpyxl, so their formatting is gone; the legacy `.xls` editions are written as
`.xlsx` under the same name stem.

Licence: Open Government Licence v3.0 (Crown copyright; ONS boundary files also: contains OS data ©
Crown copyright and database right 2024). The publishers, official URLs and the repositories the originals
were taken from are recorded in `../shared/data/PROVENANCE.md`.

Areas kept (current): {current}. Historic: {historic}. With their 2014 districts, their regions, England
and the countries above it.

"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    lines = make_cuts(args.shared, args.out)
    header = HEADER.format(current=", ".join(f"{n} ({c})" for c, n in KEEP_CURRENT.items()),
                           historic=", ".join(f"{n} ({c})" for c, n in KEEP_HISTORIC.items()))
    (args.out / "PROVENANCE.md").write_text(header + "\n".join(lines), encoding="utf-8")
    print(f"wrote {len(lines)} cuts to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
