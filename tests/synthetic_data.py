"""Synthetic full-coverage test data in the publishers' own formats, made by code (seeded, deterministic); depends on numpy, pandas and the project's boundary and lookup parsers and geography.

Nothing here is a published figure. Every file written carries indicators.pipeline.synthetic.MARKER
in its content (in every row where the format allows), so a warehouse built from it records
`synthetic` in published.build_info and says so on every page and in every download.

`generate(out, real_raw)` reads the area list from the real boundary and lookup files in `real_raw`
(the whole set in ../shared/data/raw, or the vendored cuts in tests/fixtures/real_cuts), copies those
real files and the other real sources present (ONS deaths, population, prevalence, ONS SDG) into `out`,
and writes beside them, for England, its regions and every upper-tier area of each era:

- fingertips/: successful completions (90244 opiate, 90245 non-opiate, 92447 alcohol), Fingertips
  all_data CSVs. `indicator-<id>.csv` is the newest area type (502, 2023 areas, the 2023 column layout)
  for 2020/21-2022/23; `indicator-<id>_area_type_402.csv` (April 2021 areas: Cumbria, North Yorkshire
  and Somerset counties; the older layout with a quoted newline in one indicator name) for
  2018/19-2020/21; `indicator-<id>_area_type_102.csv` (areas before April 2019: Bournemouth, Poole,
  Dorset county, Buckinghamshire county, Northamptonshire) for 2016/17-2017/18; and `area_types.json`.
  2020/21 is in both the 502 and the 402 files, with identical rows for areas whose code did not change.
  Each file has deprivation-decile breakdown rows for England (which the parser leaves out), a few
  suppressed rows (empty value, count and denominator, with Fingertips' note), a combined area (City of
  London's row is empty, its counts are in Hackney's, both noted) and, for non-opiate completions only,
  a missing area (Rutland has no row at all).
- ukhsa_hcv_odn/: HCV treatment starts per synthetic operational delivery network (each region's
  areas split into networks of at most seven), people who inject drugs and everyone treated, 2016/17 to
  2022/23, a few cells withheld ('*'); and the area -> network lookup for every current area.
- release_foi/: take-home naloxone FOI tables for 2016/17 and 2017/18 by area name (the areas of the
  time), with Yes / No / No response answers.

The truth the files were drawn from is returned (`SyntheticData.truth`), so tests can compare what the
build publishes with what was generated. Rates are drawn per area on the logit scale around England
(opiate about 5%, non-opiate about 30%, alcohol about 35%) with a fixed area effect, so areas differ
well beyond chance (overdispersed); the between-area spread of opiate completions widens year by year,
non-opiate stays level and alcohol narrows, so a gap-over-time test has a known answer.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from indicators.config import DATA_DIR
from indicators.pipeline import geography
from indicators.pipeline.sources import boundaries, lookups
from indicators.pipeline.synthetic import MARKER

SEED = 20261204
ENGLAND = "E92000001"
TAG = f"{MARKER} (tests/synthetic_data.py)"
UPPER_TIER = ("county", "unitary", "metropolitan district", "london borough")
REAL_SOURCES = ("boundaries", "lookups", "ons_deaths", "population", "prevalence", "ons_sdg")

FIRST_YEAR, LAST_YEAR = 2016, 2022  # financial years 2016/17 .. 2022/23
# Area type id -> (the day its areas are taken on, its label in the CSV, layout, financial years published).
AREA_TYPES = {
    502: (date(2023, 4, 1), "Counties & UAs (from Apr 2023)", "new", (2020, 2021, 2022)),
    402: (date(2021, 4, 1), "County & UA (4/21-3/23)", "old", (2018, 2019, 2020)),
    102: (date(2019, 3, 31), "County & UA (pre 4/19)", "old", (2016, 2017)),
}
AREA_TYPES_JSON = [
    {"Id": 102, "Name": "Upper tier local authorities (pre 4/19)", "ShortName": "Counties & UAs (pre 4/19)"},
    {"Id": 202, "Name": "Upper tier local authorities (4/19 - 3/20)", "ShortName": "Counties & UAs (4/19-3/20)"},
    {"Id": 302, "Name": "Upper tier local authorities (4/20-3/21)", "ShortName": "Counties & UAs (4/20-3/21)"},
    {"Id": 402, "Name": "Upper tier local authorities (4/21-3/23)", "ShortName": "Counties & UAs (4/21-3/23)"},
    {"Id": 502, "Name": "Upper tier local authorities (post 4/23)", "ShortName": "Counties & UAs (from Apr 2023)"},
    {"Id": 6, "Name": "Government Office Region (E12)", "ShortName": "Region"},
    {"Id": 15, "Name": "England", "ShortName": "England"},
]


@dataclass(frozen=True)
class Completion:
    indicator_id: str       # the catalogue's id
    fingertips_id: int
    name: str
    england_rate: float     # England's proportion in the first year
    yearly_change: float    # change of England's logit per year
    spread: tuple[float, float]  # between-area SD on the logit scale, first and last year
    in_treatment: int       # England's number in treatment in the first year


COMPLETIONS = (
    Completion("completion_opiate", 90244, "Successful completion of drug treatment: opiate users",
               0.055, -0.03, (0.20, 0.50), 135_000),
    Completion("completion_non_opiate", 90245, "Successful completion of drug treatment: non-opiate users",
               0.31, -0.01, (0.30, 0.30), 45_000),
    Completion("completion_alcohol", 92447, "Successful completion of alcohol treatment",
               0.36, 0.0, (0.40, 0.20), 75_000),
)
SUPPRESSED_NOTE = "Value suppressed for disclosure control due to small count"
COMBINED = {"E09000001": "E09000012", "E06000053": "E06000052"}  # City of London -> Hackney, Scilly -> Cornwall
MISSING = ("completion_non_opiate", "E06000017")  # Rutland has no row in the non-opiate files

NEW_HEADER = ["Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code", "Area Name", "Area Type",
              "Sex", "Age", "Category Type", "Category", "Time period", "Value", "Lower CI 95.0 limit",
              "Upper CI 95.0 limit", "Lower CI 99.8 limit", "Upper CI 99.8 limit", "Count", "Denominator",
              "Value note", "Recent Trend", "Compared to England value or percentiles", "Column not used",
              "Time period Sortable", "New data", "Compared to goal", "Time period range"]
OLD_HEADER = [c for c in NEW_HEADER if c not in ("Column not used", "Time period range")]
OLD_HEADER.insert(OLD_HEADER.index("Time period Sortable"), "Compared to Region value or percentiles")
DECILE_TYPE = "County & UA deprivation deciles in England (IMD2019)"


@dataclass
class SyntheticData:
    raw: Path
    real_raw: Path             # where the real boundary and lookup files were read from
    areas: pd.DataFrame        # published.areas as the build will make it (current and historic)
    current: list[str]         # current upper-tier area codes: every one has a row in every period
    full_geography: bool       # True when the area list came from the whole real boundary file (153 areas)
    truth: pd.DataFrame        # indicator_id, area_code, period_label, area_type_id, numerator, denominator, note
    odn: pd.DataFrame          # area_code, odn_name
    files: list[Path] = field(default_factory=list)


def generate(out: Path, real_raw: Path, seed: int = SEED) -> SyntheticData:
    """Write the synthetic raw cache to `out` (a new or empty folder outside the repository's data/)."""
    out = Path(out).resolve()
    if out == DATA_DIR.resolve() or DATA_DIR.resolve() in out.parents:
        raise ValueError(f"synthetic test data never goes into {DATA_DIR}: choose a temporary folder")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    areas, reorganisations = _geography(real_raw)
    for source_id in REAL_SOURCES:
        if (real_raw / source_id).is_dir():
            shutil.copytree(real_raw / source_id, out / source_id,
                            ignore=shutil.ignore_patterns("manifest.json", ".*"))
    rng = np.random.default_rng(seed)
    current = _era(areas, AREA_TYPES[502][0])
    sizes = _sizes(rng, areas.set_index("area_code").loc[current])
    truth = pd.concat([_completion_truth(rng, ind, current, sizes, areas, reorganisations) for ind in COMPLETIONS],
                      ignore_index=True)
    data = SyntheticData(raw=out, real_raw=Path(real_raw), areas=areas, current=current, full_geography=len(current) >= 150,
                         truth=truth, odn=pd.DataFrame())
    folder = out / "fingertips"
    folder.mkdir(parents=True)
    marked = AREA_TYPES_JSON + [{"Id": 0, "Name": TAG, "ShortName": TAG}]
    (folder / "area_types.json").write_text(json.dumps(marked, indent=1), encoding="utf-8")
    data.files.append(folder / "area_types.json")
    for ind in COMPLETIONS:
        for type_id in AREA_TYPES:
            name = f"indicator-{ind.fingertips_id}.csv" if type_id == 502 else \
                f"indicator-{ind.fingertips_id}_area_type_{type_id}.csv"
            path = folder / name
            path.write_bytes(_fingertips_csv(rng, ind, type_id, truth, areas))
            data.files.append(path)
    data.odn = _write_hcv(rng, out / "ukhsa_hcv_odn", areas, current, sizes, data)
    _write_naloxone(rng, out / "release_foi", areas, sizes, reorganisations, data)
    return data


# --------------------------------------------------------------------------- areas

def _geography(real_raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """published.areas and the reorganisations table, from the real boundary and lookup files."""
    staged = lookups.stage(sorted((real_raw / "lookups").glob("*.csv")))
    shapes = boundaries.stage(sorted(p for p in (real_raw / "boundaries").iterdir()
                                     if p.name != "manifest.json" and not p.name.startswith(".")))["boundaries"]
    args = (shapes, staged["ltla_utla"], staged["code_changes"], staged["ltla14"])
    areas = geography.current_areas(*args)
    return areas, geography.reorganisations(*args)


def _era(areas: pd.DataFrame, day: date) -> list[str]:
    """Upper-tier area codes that existed on `day`, sorted."""
    kept = areas["area_type"].isin(UPPER_TIER)
    starts = areas["valid_from"].map(lambda d: pd.isna(d) or d <= day)
    ends = areas["valid_to"].map(lambda d: pd.isna(d) or d >= day)
    return sorted(areas.loc[kept & starts & ends, "area_code"])


def _sizes(rng: np.random.Generator, current: pd.DataFrame) -> pd.Series:
    """A relative size per current area (counties bigger), summing to 1."""
    scale = np.where(current["area_type"].eq("county"), 3.0, 1.0)
    scale = np.where(current.index.isin(list(COMBINED)), 0.02, scale)
    raw = np.exp(rng.normal(0.0, 0.55, len(current))) * scale
    return pd.Series(raw / raw.sum(), index=current.index)


def _periods() -> list[tuple[int, str]]:
    return [(y, f"{y}/{(y + 1) % 100:02d}") for y in range(FIRST_YEAR, LAST_YEAR + 1)]


# --------------------------------------------------------------------------- completions

def _completion_truth(rng: np.random.Generator, ind: Completion, current: list[str], sizes: pd.Series,
                      areas: pd.DataFrame, reorganisations: pd.DataFrame) -> pd.DataFrame:
    """Numerator and denominator per current area and year, then per older area (sums where the footprint allows)."""
    effect = rng.normal(0.0, 1.0, len(current))
    rows = []
    n_years = LAST_YEAR - FIRST_YEAR
    for year, label in _periods():
        t = (year - FIRST_YEAR) / n_years
        spread = ind.spread[0] + (ind.spread[1] - ind.spread[0]) * t
        centre = math.log(ind.england_rate / (1 - ind.england_rate)) + ind.yearly_change * (year - FIRST_YEAR)
        logits = centre + spread * effect + rng.normal(0.0, 0.05, len(current))
        rates = 1 / (1 + np.exp(-logits))
        total = ind.in_treatment * (1 - 0.01 * (year - FIRST_YEAR))
        dens = np.maximum(3, np.round(total * sizes.to_numpy() * np.exp(rng.normal(0, 0.03, len(current)))))
        nums = rng.binomial(dens.astype(int), rates)
        for code, num, den in zip(current, nums, dens):
            rows.append(dict(indicator_id=ind.indicator_id, area_code=code, period_label=label, year=year,
                             numerator=float(num), denominator=float(den)))
    truth = pd.DataFrame(rows)
    # Older areas: the same counts where one old area is one new area or the union of several
    # (same footprint, split); drawn afresh where districts moved between areas (Dorset, 2019).
    extra = []
    for old, group in reorganisations.groupby("old_code"):
        news = list(group["new_code"])
        relation = group["relation"].iloc[0]
        chosen = truth.loc[truth["area_code"].isin(news)]
        if relation in ("same_footprint", "split") and set(news) <= set(current):
            summed = chosen.groupby(["period_label", "year"], as_index=False)[["numerator", "denominator"]].sum()
            extra.append(summed.assign(indicator_id=ind.indicator_id, area_code=old))
        else:
            share = 0.45 if old.startswith("E06") else 0.6
            base = chosen.groupby(["period_label", "year"], as_index=False)[["numerator", "denominator"]].sum()
            den = np.maximum(3, np.round(base["denominator"] * share))
            num = rng.binomial(den.astype(int), np.clip(base["numerator"] / base["denominator"], 0.001, 0.999))
            extra.append(base.assign(indicator_id=ind.indicator_id, area_code=old, numerator=num.astype(float),
                                     denominator=den))
    truth = pd.concat([truth, *extra], ignore_index=True)
    # Suppressed rows: the two smallest numerators of the latest year and the smallest of 2018/19, among
    # areas that are neither combined, missing nor reorganised.
    truth["note"] = ""
    eligible = truth["area_code"].isin(current) & ~truth["area_code"].isin(
        [*COMBINED, *COMBINED.values(), MISSING[1], *reorganisations["new_code"]])
    for label, n in ((f"{LAST_YEAR}/{(LAST_YEAR + 1) % 100:02d}", 2), ("2018/19", 1)):
        chosen = truth.loc[eligible & truth["period_label"].eq(label)]
        truth.loc[chosen.sort_values(["numerator", "area_code"]).head(n).index, "note"] = SUPPRESSED_NOTE
    return truth[["indicator_id", "area_code", "period_label", "year", "numerator", "denominator", "note"]]


def _wilson(num: float, den: float, z: float) -> tuple[float, float]:
    p = num / den
    centre = (p + z * z / (2 * den)) / (1 + z * z / den)
    half = z * math.sqrt(p * (1 - p) / den + z * z / (4 * den * den)) / (1 + z * z / den)
    return max(0.0, centre - half) * 100, min(1.0, centre + half) * 100


Z95, Z998 = 1.959963984540054, 3.090232306167813


def _fmt(x: float) -> str:
    return f"{x:.8g}"


def _fingertips_csv(rng: np.random.Generator, ind: Completion, type_id: int, truth: pd.DataFrame,
                    areas: pd.DataFrame) -> bytes:
    day, type_label, layout, years = AREA_TYPES[type_id]
    header = NEW_HEADER if layout == "new" else OLD_HEADER
    era = _era(areas, day)
    names = dict(zip(areas["area_code"], areas["area_name"]))
    region = dict(zip(areas["area_code"], areas["region_code"]))
    mine = truth.loc[truth["indicator_id"].eq(ind.indicator_id)].set_index(["area_code", "period_label"])
    name = ind.name
    if layout == "old" and ind.fingertips_id == 90245:
        name = name.replace(": ", ":\n")  # the publisher's quoted newline in an indicator name
    name = f"{name} [{TAG}]"
    rows = []
    for year, label in _periods():
        if year not in years:
            continue
        counts = {code: mine.loc[(code, label)] for code in era}
        own = {code: (row["numerator"], row["denominator"]) for code, row in counts.items()}
        numbers = dict(own)  # as published: a combined area's counts are in its host's row
        for guest, host in COMBINED.items():
            if guest in own and host in own:
                numbers[host] = (own[host][0] + own[guest][0], own[host][1] + own[guest][1])
        england = (sum(n for n, _ in own.values()), sum(d for _, d in own.values()))
        e_value = england[0] / england[1] * 100
        base = {"Indicator ID": str(ind.fingertips_id), "Indicator Name": name, "Sex": "Persons", "Age": "18+ yrs",
                "Time period": label, "Recent Trend": "Cannot be calculated", "Compared to goal": "Not compared",
                "Time period Sortable": f"{year}0000", "New data": "", "Column not used": "Not compared",
                "Time period range": "1y", "Compared to Region value or percentiles": "Not compared"}

        def row(code, area_type, parent, num, den, note="", category=("", "")):
            r = dict(base, **{"Area Code": code, "Area Name": names.get(code, code), "Area Type": area_type,
                              "Parent Code": parent, "Parent Name": names.get(parent, "") if parent else "",
                              "Category Type": category[0], "Category": category[1], "Value note": note})
            if num is None:
                r.update({"Value": "", "Lower CI 95.0 limit": "", "Upper CI 95.0 limit": "",
                          "Lower CI 99.8 limit": "", "Upper CI 99.8 limit": "", "Count": "", "Denominator": "",
                          "Compared to England value or percentiles": "Not compared"})
                return r
            l95, u95 = _wilson(num, den, Z95)
            l998, u998 = _wilson(num, den, Z998)
            compared = "Similar" if l95 <= e_value <= u95 else ("Better" if l95 > e_value else "Worse")
            r.update({"Value": _fmt(num / den * 100), "Lower CI 95.0 limit": _fmt(l95),
                      "Upper CI 95.0 limit": _fmt(u95), "Lower CI 99.8 limit": _fmt(l998),
                      "Upper CI 99.8 limit": _fmt(u998), "Count": _fmt(num), "Denominator": _fmt(den),
                      "Compared to England value or percentiles": "Not compared" if code == ENGLAND else compared})
            return r

        rows.append(row(ENGLAND, "England", "", *england))
        for decile in range(1, 11):
            share = 0.085 + 0.003 * decile
            num, den = round(england[0] * share * (0.9 + 0.02 * decile)), round(england[1] * share)
            label_decile = ("Most deprived decile (IMD2019)" if decile == 1 else "Least deprived decile (IMD2019)"
                            if decile == 10 else f"{_ordinal(decile)} more deprived decile (IMD2019)")
            rows.append(row(ENGLAND, "England", "", num, den, category=(DECILE_TYPE, label_decile)))
        for code in sorted({region[c] for c in era}):
            members = [c for c in era if region[c] == code]
            rows.append(row(code, "Region", ENGLAND, sum(own[c][0] for c in members),
                            sum(own[c][1] for c in members)))
        for code in era:
            if (ind.indicator_id, code) == MISSING:
                continue
            num, den = numbers[code]
            note = counts[code]["note"]
            if code in COMBINED:
                rows.append(row(code, type_label, ENGLAND, None, None,
                                f"Data for {names[code]} are combined with {names[COMBINED[code]]}"))
            elif note:
                rows.append(row(code, type_label, ENGLAND, None, None, note))
            elif code in COMBINED.values():
                guest = next(g for g, h in COMBINED.items() if h == code)
                rows.append(row(code, type_label, ENGLAND, num, den,
                                f"Combined value for {names[code]} and {names[guest]}"))
            else:
                rows.append(row(code, type_label, ENGLAND, num, den))
    return _csv(header, rows)


def _ordinal(n: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _csv(header: list[str], rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- HCV networks

def _write_hcv(rng: np.random.Generator, folder: Path, areas: pd.DataFrame, current: list[str], sizes: pd.Series,
               data: SyntheticData) -> pd.DataFrame:
    folder.mkdir(parents=True)
    info = areas.set_index("area_code")
    members: dict[str, list[str]] = {}
    for region_code, codes in pd.Series(current, index=current).groupby(info.loc[current, "region_code"].to_numpy()):
        codes = sorted(codes)
        n_networks = max(1, math.ceil(len(codes) / 7))
        for i in range(n_networks):
            part = codes[i::n_networks]
            members[f"{info.loc[region_code, 'area_name']} network {chr(ord('A') + i)} (synthetic)"] = part
    years = [label for _, label in _periods()]
    table = [[TAG], ["ODN name", "Risk group", *years, "Note"]]
    network_size = {network: sum(sizes[c] for c in codes) for network, codes in members.items()}
    smallest = min(network_size, key=lambda n: (network_size[n], n))
    for network, codes in sorted(members.items()):
        expected = 9000 * network_size[network] * np.linspace(0.6, 1.2, len(years))
        pwid = rng.poisson(expected)
        everyone = pwid + rng.poisson(expected * 0.8)
        cells = [str(v) for v in pwid]
        if network == smallest:  # withheld by the publisher in the first two years
            cells[0], cells[1] = "*", "[c]"
        table.append([network, "People who inject drugs", *cells, TAG])
        table.append([network, "All", *map(str, everyone), TAG])
    path = folder / "hcv_treatment_by_odn.csv"
    _write_rows(path, table)
    names = dict(zip(areas["area_code"], areas["area_name"]))
    lookup = [[TAG], ["area_code", "area_name", "odn_name", "note"]]
    pairs = sorted((c, n) for n, codes in members.items() for c in codes)
    lookup += [[c, names[c], n, TAG] for c, n in pairs]
    _write_rows(folder / "la_odn_lookup.csv", lookup)
    data.files += [path, folder / "la_odn_lookup.csv"]
    return pd.DataFrame(pairs, columns=["area_code", "odn_name"])


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------- naloxone

def _write_naloxone(rng: np.random.Generator, folder: Path, areas: pd.DataFrame, sizes: pd.Series,
                    reorganisations: pd.DataFrame, data: SyntheticData) -> None:
    folder.mkdir(parents=True)
    era = _era(areas, AREA_TYPES[102][0])
    names = dict(zip(areas["area_code"], areas["area_name"]))
    # Sizes of the areas of the time: a current area's own, the sum of its successors, or a share of them.
    size = {}
    for code in era:
        if code in sizes.index:
            size[code] = sizes[code]
        else:
            successors = reorganisations.loc[reorganisations["old_code"].eq(code), "new_code"]
            size[code] = float(sizes.reindex(successors).fillna(0).sum()) * (0.5 if code.startswith("E06") else 1.0)
    rate = {"2016-17": 12.0, "2017-18": 16.0}
    for label, england_rate in rate.items():
        header = ["Local authority", "Provision of take-home naloxone", "Number of take-home naloxone kits dispensed",
                  "Estimated number of people using opiates", "Kits per 100 people using opiates", "Source note"]
        rows = [[TAG], header]
        total_kits = total_ocu = 0
        for code in era:
            ocu = max(20, int(round(260_000 * size[code])))
            answer = rng.choice(["Yes"] * 16 + ["No", "No response"])
            if answer == "Yes":
                kits = int(rng.poisson(ocu * england_rate / 100 * math.exp(rng.normal(0, 0.6))))
                total_kits, total_ocu = total_kits + kits, total_ocu + ocu
                rows.append([names[code], "Yes", str(kits), str(ocu), f"{kits / ocu * 100:.1f}", TAG])
            elif answer == "No":
                rows.append([names[code], "No", "0", str(ocu), "0", TAG])
            else:
                rows.append([names[code], "No response", "", "", "", TAG])
        rows.insert(2, ["England", "Yes", str(total_kits), str(total_ocu), f"{total_kits / total_ocu * 100:.1f}", TAG])
        path = folder / f"release_naloxone_{label}.csv"
        _write_rows(path, rows)
        data.files.append(path)
