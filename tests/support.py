"""A small invented warehouse in the published contract, for page, query and download tests; and a small raw cache to build from.

Every number here is made up for tests; nothing is a published figure. The shapes follow
the published contract in README.md exactly. `make_raw` lays out the small fixture files of
tests/fixtures as a raw cache that `indicators build` turns into a warehouse in well under a second
(no ../shared needed).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from indicators.pipeline.build import families_frame, methods_frame
from indicators.pipeline.scorecard import publish_scorecard
from indicators.pipeline.statistics import publish_statistics

ENGLAND = "E92000001"

AREAS = [
    # code, name, type, region code, region name, valid_from, valid_to
    (ENGLAND, "England", "country", None, None, None, None),
    ("E12000007", "London", "region", "E12000007", "London", None, None),
    ("E12000002", "North West", "region", "E12000002", "North West", None, None),
    ("E09000007", "Camden", "london borough", "E12000007", "London", None, None),
    ("E09000033", "Westminster", "london borough", "E12000007", "London", None, None),
    ("E09000012", "Hackney", "london borough", "E12000007", "London", None, None),
    ("E06000009", "Blackpool", "unitary", "E12000002", "North West", None, None),
    ("E08000003", "Manchester", "metropolitan district", "E12000002", "North West", None, None),
    ("E06000063", "Cumberland", "unitary", "E12000002", "North West", date(2023, 4, 1), None),
    ("E10000006", "Cumbria", "county", "E12000002", "North West", None, date(2023, 3, 31)),
]

# Other names the area search finds (as published.place_names): a former district and a former county.
PLACES = [
    ("Carlisle", "E07000028", "former district", "E06000063", "Cumberland", "Cumbria"),
    ("Cumbria", "E10000006", "former county", "E06000063", "Cumberland", None),
]

# A rough square per current area (lon, lat of its south-west corner), so maps have something to draw.
SQUARES = {
    "E09000007": (-0.16, 51.53), "E09000033": (-0.17, 51.50), "E09000012": (-0.08, 51.53),
    "E06000009": (-3.06, 53.78), "E08000003": (-2.26, 53.44), "E06000063": (-3.40, 54.50),
}

INDICATORS = [
    dict(indicator_id="completion_opiate", family="completions",
         title="Successful completion of drug treatment: opiate users", short_title="Completions (opiate)",
         definition="Invented definition for tests.", caveats="A caveat.", unit="%", value_type="proportion",
         multiplier=100.0, polarity="high_is_good", ci_method="wilson", period_type="financial year",
         suppression="Small numbers withheld.", publisher="OHID Fingertips", publisher_id="90244",
         source_ids="fingertips", reaggregate="counts", publication_status="open", status_note="", availability="[]"),
    dict(indicator_id="deaths_drug_misuse", family="deaths", title="Deaths related to drug misuse",
         short_title="Drug-misuse deaths", definition="Invented definition for tests.", caveats="",
         unit="per 100,000 (age-standardised)", value_type="directly standardised rate", multiplier=100000.0,
         polarity="low_is_good", ci_method="published_dsr", period_type="3 calendar years",
         suppression="No rate below 10 deaths.", publisher="Office for National Statistics",
         publisher_id="ONS", source_ids="ons_deaths", reaggregate="counts", publication_status="open",
         status_note="", availability="[]"),
    dict(indicator_id="completion_alcohol", family="completions", title="Successful completion of alcohol treatment",
         short_title="Completions (alcohol)", definition="Invented definition for tests.", caveats="", unit="%",
         value_type="proportion", multiplier=100.0, polarity="high_is_good", ci_method="wilson",
         period_type="financial year", suppression="", publisher="OHID Fingertips", publisher_id="92447",
         source_ids="fingertips", reaggregate="counts", publication_status="open", status_note="", availability="[]"),
]

# indicator, area, period, value, l95, u95, l998, u998, num, den, suppressed, note, cmp95, cmp998
VALUES = [
    ("completion_opiate", ENGLAND, "2020/21", 5.0, 4.9, 5.1, 4.8, 5.2, 7000.0, 140000.0, False, "", None, None),
    ("completion_opiate", "E12000007", "2020/21", 6.0, 5.5, 6.5, 5.2, 6.8, 900.0, 15000.0, False, "", "better", "better"),
    ("completion_opiate", "E12000002", "2020/21", 4.0, 3.6, 4.4, 3.4, 4.7, 600.0, 15000.0, False, "", "worse", "worse"),
    ("completion_opiate", "E09000007", "2020/21", 7.5, 6.0, 9.3, 5.3, 10.4, 75.0, 1000.0, False, "", "better", "better"),
    ("completion_opiate", "E09000033", "2020/21", 5.2, 4.0, 6.7, 3.5, 7.6, 52.0, 1000.0, False, "", "similar", "similar"),
    ("completion_opiate", "E09000012", "2020/21", None, None, None, None, None, None, None, True, "Value suppressed: small numbers", "not compared", "not compared"),
    ("completion_opiate", "E06000009", "2020/21", 3.0, 2.2, 4.1, 1.8, 4.8, 36.0, 1200.0, False, "", "worse", "similar"),
    ("completion_opiate", "E08000003", "2020/21", 4.6, 3.9, 5.5, 3.5, 6.1, 92.0, 2000.0, False, "", "similar", "similar"),
    ("completion_opiate", "E06000063", "2020/21", None, None, None, None, None, None, None, False, "No figure for this area and period in the source files used for this build.", "not compared", "not compared"),
    ("completion_opiate", ENGLAND, "2019/20", 5.4, 5.3, 5.5, 5.2, 5.6, 7500.0, 139000.0, False, "", None, None),
    ("completion_opiate", "E09000007", "2019/20", 7.0, 5.6, 8.7, 4.9, 9.8, 70.0, 1000.0, False, "", "better", "similar"),
    ("completion_opiate", "E06000009", "2019/20", 3.5, 2.6, 4.7, 2.2, 5.4, 42.0, 1200.0, False, "", "worse", "worse"),
    ("deaths_drug_misuse", ENGLAND, "2019-21", 5.1, 5.0, 5.2, None, None, 8361.0, None, False, "", None, None),
    ("deaths_drug_misuse", "E12000007", "2019-21", 3.0, 2.8, 3.2, None, None, 800.0, None, False, "", "better", "not compared"),
    ("deaths_drug_misuse", "E12000002", "2019-21", 8.0, 7.6, 8.4, None, None, 1500.0, None, False, "", "worse", "not compared"),
    ("deaths_drug_misuse", "E09000007", "2019-21", 4.0, 2.9, 5.4, None, None, 40.0, None, False, "", "similar", "not compared"),
    ("deaths_drug_misuse", "E09000033", "2019-21", 3.0, 2.0, 4.3, None, None, 28.0, None, False, "", "better", "not compared"),
    ("deaths_drug_misuse", "E09000012", "2019-21", None, None, None, None, None, 8.0, None, True, "Value suppressed for disclosure control", "not compared", "not compared"),
    ("deaths_drug_misuse", "E06000009", "2019-21", 19.4, 16.0, 23.3, None, None, 110.0, None, False, "", "worse", "not compared"),
    ("deaths_drug_misuse", "E08000003", "2019-21", 9.0, 7.9, 10.2, None, None, 230.0, None, False, "", "worse", "not compared"),
    ("deaths_drug_misuse", "E06000063", "2019-21", None, None, None, None, None, 60.0, None, False, "Cumberland did not exist in this period; the count is the sum of its 3 former districts.", "not compared", "not compared"),
    ("deaths_drug_misuse", "E10000006", "2019-21", 9.5, 8.2, 11.0, None, None, 150.0, None, False, "", "worse", "not compared"),
]

PERIODS = {"2020/21": (date(2020, 4, 1), date(2021, 3, 31)), "2019/20": (date(2019, 4, 1), date(2020, 3, 31)),
           "2019-21": (date(2019, 1, 1), date(2021, 12, 31))}


# Optional content for make_warehouse(harm_families=True): the naloxone and HCV families, one
# area that continues under a new code, and the reorganisations table. Invented, like the rest.
HARM_AREAS = [
    ("E06000065", "North Yorkshire", "unitary", "E12000003", "Yorkshire and The Humber", date(2023, 4, 1), None),
    ("E10000023", "North Yorkshire", "county", "E12000003", "Yorkshire and The Humber", None, date(2023, 3, 31)),
    ("E12000003", "Yorkshire and The Humber", "region", "E12000003", "Yorkshire and The Humber", None, None),
]
HARM_SQUARES = {"E06000065": (-1.50, 54.10)}
_HARM_COMMON = dict(caveats="A caveat.", suppression="Not published openly.", reaggregate="none")
HARM_INDICATORS = [
    dict(indicator_id="naloxone_kits_per_100_ocu", family="naloxone",
         title="Take-home naloxone kits dispensed per 100 people using opiates",
         short_title="Naloxone kits per 100 opiate users", definition="Invented definition for tests.",
         caveats=_HARM_COMMON["caveats"], unit="kits per 100 people using opiates", value_type="crude rate",
         multiplier=100.0, polarity="high_is_good", ci_method="none", period_type="financial year",
         suppression=_HARM_COMMON["suppression"], publisher="Release", publisher_id="Release THN survey",
         source_ids="release_foi", reaggregate="none", publication_status="foi", status_note="Only FOI surveys.",
         availability=json.dumps([
             {"source": "release_foi", "status": "foi", "geography": "upper-tier local authority",
              "url": "https://www.release.org.uk/naloxone-2017-18", "note": "FOI survey."},
             {"source": "ndtms", "status": "restricted", "geography": "upper-tier local authority",
              "url": "https://www.ndtms.net/", "note": "Commissioners only."}], sort_keys=True)),
    dict(indicator_id="naloxone_opiate_clients_issued", family="naloxone",
         title="People in treatment for opiates who were issued take-home naloxone",
         short_title="Opiate clients issued naloxone", definition="Invented definition for tests.",
         caveats=_HARM_COMMON["caveats"], unit="%", value_type="proportion", multiplier=100.0,
         polarity="high_is_good", ci_method="wilson", period_type="financial year",
         suppression=_HARM_COMMON["suppression"], publisher="OHID NDTMS (restricted)", publisher_id="NDTMS",
         source_ids="local", reaggregate="counts", publication_status="restricted",
         status_note="Restricted to commissioners.",
         availability=json.dumps([{"source": "ndtms", "status": "restricted",
                                   "geography": "upper-tier local authority", "url": "https://www.ndtms.net/",
                                   "note": "Commissioners only."}], sort_keys=True)),
    dict(indicator_id="hcv_test_offered_accepted", family="hcv",
         title="Eligible people in drug treatment offered and accepting a hepatitis C test",
         short_title="HCV test offered and accepted", definition="Invented definition for tests.",
         caveats=_HARM_COMMON["caveats"], unit="%", value_type="proportion", multiplier=100.0,
         polarity="high_is_good", ci_method="wilson", period_type="financial year",
         suppression=_HARM_COMMON["suppression"], publisher="OHID NDTMS (restricted)", publisher_id="NDTMS",
         source_ids="local", reaggregate="counts", publication_status="restricted",
         status_note="Restricted to commissioners.",
         availability=json.dumps([{"source": "ndtms", "status": "restricted",
                                   "geography": "upper-tier local authority", "url": "https://www.ndtms.net/",
                                   "note": "Commissioners only."}], sort_keys=True)),
    dict(indicator_id="hcv_treatment_starts_pwid", family="hcv",
         title="Hepatitis C treatment starts among people who inject drugs, per operational delivery network",
         short_title="HCV treatment starts (ODN)", definition="Invented definition for tests.",
         caveats=_HARM_COMMON["caveats"], unit="people starting treatment", value_type="count", multiplier=1.0,
         polarity="no_polarity", ci_method="none", period_type="financial year",
         suppression=_HARM_COMMON["suppression"], publisher="UKHSA", publisher_id="UKHSA HCV by ODN",
         source_ids="ukhsa_hcv_odn", reaggregate="none", publication_status="open",
         status_note="Open only per ODN.",
         availability=json.dumps([{"source": "ukhsa_hcv_odn", "status": "open",
                                   "geography": "HCV operational delivery network",
                                   "url": "https://www.gov.uk/", "note": "Per ODN."}], sort_keys=True)),
]
HARM_PERIODS = {"2017/18": (date(2017, 4, 1), date(2018, 3, 31))}
# indicator, area, period, value, numerator, denominator, note (source release_foi, no limits)
HARM_VALUES = [
    ("naloxone_kits_per_100_ocu", ENGLAND, "2017/18", 16.0, 32000.0, 200000.0, "Invented England total."),
    ("naloxone_kits_per_100_ocu", "E06000009", "2017/18", 20.0, 200.0, 1000.0, "Take-home naloxone provision: Yes."),
    ("naloxone_kits_per_100_ocu", "E08000003", "2017/18", None, None, 3000.0, "No response to Release's FOI request."),
]
HARM_REORGANISATIONS = [
    ("E10000006", "Cumbria", "E06000063", "Cumberland", "split", date(2023, 4, 1)),
    ("E10000006", "Cumbria", "E06000064", "Westmorland and Furness", "split", date(2023, 4, 1)),
    ("E10000023", "North Yorkshire", "E06000065", "North Yorkshire", "same_footprint", date(2023, 4, 1)),
]


FIXTURES = Path(__file__).resolve().parent / "fixtures"
# raw cache path -> fixture file: the boundaries and lookups every build needs, and one Fingertips indicator.
RAW_FILES = {
    "boundaries/ctyua_2023_small.geojson": "geography/ctyua_2023_small.geojson",
    "boundaries/uk_topo_small.topojson.json": "geography/uk_topo_small.topojson.json",
    "lookups/ltla_utla_2019_small.csv": "geography/ltla_utla_2019_small.csv",
    "lookups/changes_small.csv": "geography/changes_small.csv",
    "lookups/ltla14_small.csv": "geography/ltla14_small.csv",
}
FINGERTIPS_FILE = ("fingertips/indicator-90244.csv", "fingertips/indicator-90244.csv")


def make_raw(raw: Path, *, fingertips: bool = False) -> Path:
    """A raw cache at `raw` from the small fixture files (boundaries and lookups; with `fingertips`, one indicator)."""
    files = dict(RAW_FILES)
    if fingertips:
        files[FINGERTIPS_FILE[0]] = FINGERTIPS_FILE[1]
    for target, fixture in files.items():
        (raw / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / fixture, raw / target)
    return raw


def _square(lon: float, lat: float, size: float = 0.05) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_warehouse(path: Path, *, values: list[tuple] | None = None, build_id: str = "20261101-fixture0001",
                   harm_families: bool = False) -> Path:
    """Write the invented warehouse to `path` and return it.

    harm_families=True adds HARM_AREAS, HARM_INDICATORS, HARM_VALUES and staged.reorganisations;
    without it the warehouse is exactly as before.
    """
    values = VALUES if values is None else values
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA published; CREATE SCHEMA staged;")
        areas = pd.DataFrame(AREAS, columns=["area_code", "area_name", "area_type", "region_code", "region_name",
                                             "valid_from", "valid_to"])
        areas["valid_from"] = pd.to_datetime(areas["valid_from"]).dt.date
        areas["valid_to"] = pd.to_datetime(areas["valid_to"]).dt.date
        rows = []
        for (ind, code, period, value, l95, u95, l998, u998, num, den, sup, note, c95, c998) in values:
            start, end = PERIODS[period]
            name = next(a[1] for a in AREAS if a[0] == code)
            source = "ons_deaths" if ind.startswith("deaths") else "fingertips"
            rows.append(dict(indicator_id=ind, area_code=code, area_name=name, period_label=period,
                             period_start=start, period_end=end, value=value, lower_ci_95=l95, upper_ci_95=u95,
                             lower_ci_998=l998, upper_ci_998=u998, numerator=num, denominator=den,
                             is_suppressed=sup, value_note=note, compared_to_england=c95,
                             compared_to_england_998=c998, source_id=source,
                             comparison_note=_comparison_note(code, value, sup, c95),
                             value_status=_value_status(value, num, sup, note)))
        frames = {
            "areas": areas,
            "indicator_values": pd.DataFrame(rows, columns=[
                "indicator_id", "area_code", "area_name", "period_label", "period_start", "period_end", "value",
                "lower_ci_95", "upper_ci_95", "lower_ci_998", "upper_ci_998", "numerator", "denominator",
                "is_suppressed", "value_note", "compared_to_england", "compared_to_england_998", "source_id",
                "comparison_note", "value_status"]),
            "indicators": pd.DataFrame(INDICATORS),
            "families": families_frame(),
            "methods": methods_frame(),
            "sources": pd.DataFrame([
                dict(source_id="fingertips", title="Fingertips API", publisher="OHID", file="indicator-90244.csv",
                     url="https://fingertips.phe.org.uk/api/all_data/csv/by_indicator_id?indicator_ids=90244",
                     landing_page="https://fingertips.phe.org.uk/", licence="Open Government Licence v3.0",
                     licence_url="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
                     attribution="Contains public sector information licensed under the Open Government Licence v3.0.",
                     retrieved="2026-11-01T00:00:00+00:00", sha256="0" * 64, size_bytes=100),
                dict(source_id="ons_deaths", title="Deaths related to drug poisoning by local authority",
                     publisher="Office for National Statistics", file="2021localauthorities.xlsx",
                     url="https://www.ons.gov.uk/", landing_page="https://www.ons.gov.uk/",
                     licence="Open Government Licence v3.0",
                     licence_url="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
                     attribution="Source: Office for National Statistics licensed under the Open Government Licence v.3.0",
                     retrieved="2026-11-01T00:00:00+00:00", sha256="1" * 64, size_bytes=200),
            ]),
            "boundaries": pd.DataFrame([dict(area_code=c, area_name=next(a[1] for a in AREAS if a[0] == c),
                                             geometry=json.dumps(_square(*xy))) for c, xy in SQUARES.items()]),
            "neighbours": pd.DataFrame([("E09000007", "E09000033", 3.1), ("E09000033", "E09000007", 3.1),
                                        ("E09000007", "E09000012", 1.2), ("E09000012", "E09000007", 1.2)],
                                       columns=["area_code", "neighbour_code", "shared_border_km"]),
            "peer_cipfa": pd.DataFrame([("E06000009", "E08000003", "Manchester", 1)],
                                       columns=["area_code", "neighbour_code", "neighbour_name", "rank"]),
            "place_names": pd.DataFrame(PLACES, columns=["place_name", "place_code", "place_kind", "area_code",
                                                         "area_name", "formerly"]),
            "build_info": pd.DataFrame([dict(build_id=build_id, built_at="2026-11-01T00:00:00+00:00",
                                             build_date="2026-11-01", raw_dir="tests", warnings="[]")]),
        }
        if harm_families:
            _add_harm_families(frames)
        for name, frame in frames.items():
            con.register("_f", frame)
            con.execute(f"CREATE TABLE published.{name} AS SELECT * FROM _f")
            con.unregister("_f")
        if harm_families:
            reorganisations = pd.DataFrame(HARM_REORGANISATIONS, columns=[
                "old_code", "old_name", "new_code", "new_name", "relation", "effective"])
            con.register("_f", reorganisations)
            con.execute("CREATE TABLE staged.reorganisations AS SELECT * FROM _f")
            con.unregister("_f")
        con.execute("""CREATE TABLE published.value_provenance AS
            SELECT indicator_id, area_code, period_label, source_id, '' AS source_file, '' AS edition,
                   '' AS publisher_comparison, '' AS harmonisation,
                   lower_ci_95 AS pub_lower_ci_95, upper_ci_95 AS pub_upper_ci_95,
                   lower_ci_998 AS pub_lower_ci_998, upper_ci_998 AS pub_upper_ci_998
            FROM published.indicator_values""")
        publish_statistics(con)
        publish_scorecard(con)
    finally:
        con.close()
    return path


def make_spread_warehouse(path: Path, n_areas: int = 12, *, periods: int = 6, suppressed: tuple[str, ...] = (),
                          empty_last_period: bool = False, seed: int = 7) -> Path:
    """An invented warehouse of `n_areas` unitary areas in two invented regions, with `periods` financial years of
    completion_opiate (counts: Wilson limits) and 3-year periods of deaths_drug_misuse (published limits and
    death counts), built through the statistics pass, for the statistics that need many areas.

    Areas are E06000901.. named 'Area 01'..; odd-numbered areas are in region E12000901, even in E12000902; each
    area borders the next. Rows of the areas in `suppressed` are withheld by the publisher in the latest period but
    keep their count and denominator. With `empty_last_period`, a further completion period has a row for every
    area with no figure. Every number is made up by a seeded generator.
    """
    import numpy as np

    from indicators.stats.sql import apply_statistics

    rng = np.random.default_rng(seed)
    codes = [f"E06000{901 + i}" for i in range(n_areas)]
    names = {c: f"Area {i + 1:02d}" for i, c in enumerate(codes)}
    region = {c: ("E12000901", "Region One") if i % 2 == 0 else ("E12000902", "Region Two")
              for i, c in enumerate(codes)}
    areas = [(ENGLAND, "England", "country", None, None, None, None),
             ("E12000901", "Region One", "region", "E12000901", "Region One", None, None),
             ("E12000902", "Region Two", "region", "E12000902", "Region Two", None, None)]
    areas += [(c, names[c], "unitary", *region[c], None, None) for c in codes]
    rows = []
    completions = [(f"{2014 + k}/{15 + k:02d}", date(2014 + k, 4, 1), date(2015 + k, 3, 31)) for k in range(periods)]
    deaths = [(f"{2013 + k}-{15 + k:02d}", date(2013 + k, 1, 1), date(2015 + k, 12, 31)) for k in range(periods)]
    for k, (label, start, end) in enumerate(completions):
        total_n = total_d = 0.0
        for i, code in enumerate(codes):
            d = float(rng.integers(200, 2000))
            n = float(rng.binomial(int(d), 0.05 + 0.01 * (i % 5) + 0.003 * k))
            total_n, total_d = total_n + n, total_d + d
            withheld = code in suppressed and k == periods - 1
            rows.append(("completion_opiate", code, label, start, end, None, None, None, n, d, withheld,
                         "Value suppressed for disclosure control" if withheld else ""))
        rows.append(("completion_opiate", ENGLAND, label, start, end, None, None, None, total_n, total_d, False, ""))
    if empty_last_period:
        label, start, end = (f"{2014 + periods}/{15 + periods:02d}", date(2014 + periods, 4, 1),
                             date(2015 + periods, 3, 31))
        for code in [ENGLAND] + codes:
            rows.append(("completion_opiate", code, label, start, end, None, None, None, None, None, False,
                         "No figure for this area and period in the source files used for this build."))
    for k, (label, start, end) in enumerate(deaths):
        for i, code in enumerate(codes + [ENGLAND]):
            deaths_n = float(rng.integers(15, 120)) if code != ENGLAND else 4000.0
            rate = 3.0 + 0.8 * (i % 7) + 0.1 * k if code != ENGLAND else 5.0 + 0.1 * k
            half = 1.96 * rate / np.sqrt(deaths_n)
            withheld = code in suppressed and k == periods - 1
            rows.append(("deaths_drug_misuse", code, label, start, end,
                         None if withheld else rate, None if withheld else rate - half,
                         None if withheld else rate + half, deaths_n, None, withheld,
                         "Rate withheld by the publisher" if withheld else ""))
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA published; CREATE SCHEMA staged;")
        frame = pd.DataFrame(rows, columns=["indicator_id", "area_code", "period_label", "period_start", "period_end",
                                            "value", "lower_ci_95", "upper_ci_95", "numerator", "denominator",
                                            "is_suppressed", "value_note"])
        for column in ("value", "lower_ci_95", "upper_ci_95", "numerator", "denominator"):
            frame[column] = frame[column].astype("float64")
        frame["lower_ci_998"] = np.nan
        frame["upper_ci_998"] = np.nan
        all_names = {a[0]: a[1] for a in areas}
        frame["area_name"] = frame["area_code"].map(all_names)
        frame["source_id"] = np.where(frame["indicator_id"].str.startswith("deaths"), "ons_deaths", "fingertips")
        methods = {"completion_opiate": ("wilson", 100.0, "high_is_good"),
                   "deaths_drug_misuse": ("published", 100000.0, "low_is_good")}
        frame["ci_method"] = frame["indicator_id"].map(lambda i: methods[i][0])
        frame["multiplier"] = frame["indicator_id"].map(lambda i: methods[i][1])
        frame["polarity"] = frame["indicator_id"].map(lambda i: methods[i][2])
        con.register("_rows", frame)
        apply_statistics(con, "_rows", "staged.indicator_values")
        con.unregister("_rows")
        from indicators.pipeline.schema import INDICATOR_VALUE_COLUMNS, value_status_sql

        columns = [f"{value_status_sql(None)} AS value_status" if c == "value_status" else c
                   for c in INDICATOR_VALUE_COLUMNS]
        con.execute(f"CREATE TABLE published.indicator_values AS SELECT {', '.join(columns)} "
                    "FROM staged.indicator_values ORDER BY indicator_id, area_code, period_start")
        area_frame = pd.DataFrame(areas, columns=["area_code", "area_name", "area_type", "region_code", "region_name",
                                                  "valid_from", "valid_to"])
        area_frame["valid_from"] = pd.to_datetime(area_frame["valid_from"]).dt.date
        area_frame["valid_to"] = pd.to_datetime(area_frame["valid_to"]).dt.date
        indicators = pd.DataFrame([i for i in INDICATORS if i["indicator_id"] in methods])
        tables = {
            "areas": area_frame, "indicators": indicators, "families": families_frame(), "methods": methods_frame(),
            "sources": pd.DataFrame(columns=["source_id", "title", "publisher", "file", "url", "landing_page",
                                             "licence", "licence_url", "attribution", "retrieved", "sha256",
                                             "size_bytes"]),
            "boundaries": pd.DataFrame([dict(area_code=c, area_name=names[c],
                                             geometry=json.dumps(_square(-2.0 + 0.06 * i, 52.0)))
                                        for i, c in enumerate(codes)]),
            "neighbours": pd.DataFrame([(a, b, 1.0) for a, b in zip(codes, codes[1:])]
                                       + [(b, a, 1.0) for a, b in zip(codes, codes[1:])],
                                       columns=["area_code", "neighbour_code", "shared_border_km"]),
            "build_info": pd.DataFrame([dict(build_id="20261101-spread0001", built_at="2026-11-01T00:00:00+00:00",
                                             build_date="2026-11-01", raw_dir="tests", warnings="[]")]),
        }
        for name, table in tables.items():
            con.register("_f", table)
            con.execute(f"CREATE TABLE published.{name} AS SELECT * FROM _f")
            con.unregister("_f")
        con.execute("""CREATE TABLE published.value_provenance AS
            SELECT indicator_id, area_code, period_label, source_id, '' AS source_file, '' AS edition,
                   '' AS publisher_comparison, '' AS harmonisation, lower_ci_95 AS pub_lower_ci_95,
                   upper_ci_95 AS pub_upper_ci_95, lower_ci_998 AS pub_lower_ci_998, upper_ci_998 AS pub_upper_ci_998
            FROM published.indicator_values""")
        publish_statistics(con)
    finally:
        con.close()
    return path


def _value_status(value, numerator, suppressed: bool, note: str) -> str:
    """The build's value_status (indicators.pipeline.schema.value_status_sql) of an invented row: a count with the
    boundary-change note is re-aggregated ('count only'); any other count without a value 'not calculated'."""
    if value is not None:
        return "value"
    if suppressed:
        return "suppressed"
    if numerator is not None:
        return "count only" if "did not exist in this period" in note else "not calculated"
    return "no data"


def _comparison_note(code: str, value, suppressed: bool, compared: str | None) -> str | None:
    """The stats pass's reason for 'not compared' (indicators.stats.sql), from an invented row."""
    if code == ENGLAND:
        return None
    if suppressed:
        return "suppressed"
    if value is None:
        return "no value"
    return "no interval" if compared == "not compared" else None


def _add_harm_families(frames: dict[str, pd.DataFrame]) -> None:
    """Extend the frames make_warehouse writes with the optional HARM_* content (in place)."""
    extra = pd.DataFrame(HARM_AREAS, columns=list(frames["areas"].columns))
    extra["valid_from"] = pd.to_datetime(extra["valid_from"]).dt.date
    extra["valid_to"] = pd.to_datetime(extra["valid_to"]).dt.date
    frames["areas"] = pd.concat([frames["areas"], extra], ignore_index=True)
    names = dict(zip(frames["areas"]["area_code"], frames["areas"]["area_name"]))
    rows = [dict(indicator_id=ind, area_code=code, area_name=names[code], period_label=period,
                 period_start=HARM_PERIODS[period][0], period_end=HARM_PERIODS[period][1], value=value,
                 lower_ci_95=None, upper_ci_95=None, lower_ci_998=None, upper_ci_998=None, numerator=num,
                 denominator=den, is_suppressed=False, value_note=note,
                 compared_to_england=None if code == ENGLAND else "not compared",
                 compared_to_england_998=None if code == ENGLAND else "not compared", source_id="release_foi",
                 comparison_note=None if code == ENGLAND else "no value" if value is None else "not calculated",
                 value_status=_value_status(value, num, False, note))
            for ind, code, period, value, num, den, note in HARM_VALUES]
    frames["indicator_values"] = pd.concat(
        [frames["indicator_values"], pd.DataFrame(rows, columns=list(frames["indicator_values"].columns))],
        ignore_index=True)
    frames["indicators"] = pd.concat([frames["indicators"], pd.DataFrame(HARM_INDICATORS)], ignore_index=True)
    frames["boundaries"] = pd.concat([frames["boundaries"], pd.DataFrame(
        [dict(area_code=c, area_name=names[c], geometry=json.dumps(_square(*xy))) for c, xy in HARM_SQUARES.items()])],
        ignore_index=True)


def read_html_tables(markup: str) -> list[pd.DataFrame]:
    """The tables in `markup` (indicators.present.htmltable's output) as frames of the cells' text, headed by the
    <thead> row; each frame's `attrs["caption"]` is the table's caption."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables: list[dict] = []
            self.row: list[str] | None = None
            self.cell: list[str] | None = None
            self.in_caption = False

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append({"caption": "", "rows": []})
            elif tag == "caption":
                self.in_caption = True
            elif tag == "tr":
                self.row = []
            elif tag in ("th", "td"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag == "caption":
                self.in_caption = False
            elif tag in ("th", "td") and self.cell is not None and self.row is not None:
                self.row.append("".join(self.cell))
                self.cell = None
            elif tag == "tr" and self.row is not None:
                self.tables[-1]["rows"].append(self.row)
                self.row = None

        def handle_data(self, data):
            if self.in_caption:
                self.tables[-1]["caption"] += data
            elif self.cell is not None:
                self.cell.append(data)

    reader = Reader()
    reader.feed(markup)
    frames = []
    for table in reader.tables:
        header, *rows = table["rows"]
        frame = pd.DataFrame(rows, columns=header)
        frame.attrs["caption"] = table["caption"]
        frames.append(frame)
    return frames


# Text that Streamlit would turn into markup if it reached Markdown unescaped: an image and a link (the browser
# would fetch from 127.0.0.1:9, where nothing listens), raw HTML, a script, Streamlit's own colour, icon and
# LaTeX directives, and a heading.
HOSTILE = (
    "![t](http://127.0.0.1:9/t.png)",
    "[click](http://127.0.0.1:9/phish)",
    "<img src=http://127.0.0.1:9/h.png>",
    "<script>fetch('http://127.0.0.1:9/s')</script>",
    ":red[**loud**] :material/warning: $x^2$",
    "\n# heading",
)
HOSTILE_HOST = "127.0.0.1:9"


def make_hostile_warehouse(path: Path) -> Path:
    """make_warehouse(harm_families=True) with a HOSTILE text after every name, title, note and source text.

    Area and region names each get one payload in turn (so they stay distinct); catalogue and source texts get
    them all."""
    make_warehouse(path, harm_families=True)
    everything = " ".join(HOSTILE)
    con = duckdb.connect(str(path))
    try:
        con.create_function("hostile", lambda text, i: f"{text} {HOSTILE[i % len(HOSTILE)]}", [str, int], str)
        names = "(SELECT row_number() OVER (ORDER BY area_code) - 1 AS i, area_code FROM published.areas) n"
        con.execute(f"""UPDATE published.areas a SET area_name = hostile(a.area_name, n.i) FROM {names}
                        WHERE a.area_code = n.area_code""")
        con.execute("""UPDATE published.areas a SET region_name = r.area_name FROM published.areas r
                       WHERE a.region_code = r.area_code""")
        for table in ("indicator_values", "boundaries"):
            con.execute(f"""UPDATE published.{table} t SET area_name = a.area_name FROM published.areas a
                            WHERE t.area_code = a.area_code""")
        con.execute("""UPDATE published.peer_cipfa p SET neighbour_name = a.area_name FROM published.areas a
                       WHERE p.neighbour_code = a.area_code""")
        con.execute("UPDATE published.indicator_values SET value_note = value_note || ' ' || ? WHERE value_note <> ''",
                    [everything])
        for column in ("title", "short_title", "definition", "caveats", "publisher", "status_note", "suppression"):
            con.execute(f"UPDATE published.indicators SET {column} = {column} || ' ' || ?", [everything])
        con.execute("UPDATE published.indicators SET family = family || ' ' || ? "
                    "WHERE indicator_id = 'hcv_test_offered_accepted'", [everything])
        for column in ("title", "publisher", "attribution", "file"):
            con.execute(f"UPDATE published.sources SET {column} = {column} || ' ' || ?", [everything])
    finally:
        con.close()
    return path
