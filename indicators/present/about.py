"""The about page's words and rows (definitions, freshness, sources, what is not published), as the app and the static site show them; depends on pandas and indicators.present.text.

pages/about.py (the dashboard) and indicators.products.publish (the static site) both take their
sentences and table rows from here; each escapes them for its medium. The methods are text.METHODS.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from indicators.present import glossary, text

INTRO = ("Every figure here comes from an official publication, is shown with its 95% interval where one exists, and "
         "is labelled when it is suppressed, missing or not published. Nothing is estimated to fill a gap.")
LICENCE = ("Contains public sector information licensed under the Open Government Licence v3.0. sha256 is the checksum "
           "of the exact file the dashboard read.")
DOWNLOADS_LICENCE = ("Contains public sector information licensed under the Open Government Licence v3.0. Each source "
                     "file the figures come from is listed, with its licence and the sha256 checksum of the exact file "
                     "the dashboard read, under Sources and licences on the About page.")
DOWNLOADS_SOURCES_LINK = "Sources and licences (About the data)"
MISSING_WORDS = ("Where a figure is missing the dashboard says which of these it is: withheld by the publisher "
                 "(suppressed), not calculated by the publisher (the count is published but the publisher calculates "
                 "no rate from so few: ONS gives none below 10 deaths), count only (a count for an area whose "
                 "boundaries the published rate does not cover), no data (not in the published files the dashboard "
                 "uses), not published (no open per-area series) or not compared (a value without a valid interval).")
GLOSSARY_HEAD = "Words used on this site"
GLOSSARY_ANCHOR = "glossary"
GLOSSARY_INTRO = ("What the less familiar words on these pages mean. Where a page first uses one of them, it links "
                  "here.")
DOWNLOADS_INTRO = ("Every published figure at once, with its definition, confidence limits, the counts behind it, how it "
                   "compares with England, and where it comes from. Each page's own download button gives just what "
                   "that page shows.")
DOWNLOADS_PARQUET = ("The same four tables as Parquet files, with their column types (numbers, dates, true/false) and "
                     "the same README: for R, Python, DuckDB or any tool that reads Parquet.")
DOWNLOADS_DUCKDB = ("The database behind the dashboard: the published figures and everything around them (areas and "
                    "their boundaries, peer groups, build warnings and provenance), to query with SQL in DuckDB.")
TABLE_FILES = {"indicator_values": "every figure (one row per indicator, area and period)",
               "indicators": "the definition of each indicator", "areas": "England, its regions and every area",
               "sources": "the official files used, with licence and checksum",
               "local_values": "figures loaded locally, marked as not official statistics"}
POLARITY_WORDS = {"high_is_good": "higher is better", "low_is_good": "lower is better",
                  "no_polarity": "neither higher nor lower is better"}
SOURCE_COLUMNS = ("publisher", "title", "file", "url", "licence", "retrieved", "sha256")


def freshness(summary: pd.DataFrame) -> dict[str, dict]:
    """indicators.products.queries.indicator_summary by indicator id."""
    return {r["indicator_id"]: r for r in summary.to_dict("records")}


def heading(row: Mapping) -> str:
    """'Drug-related deaths: Deaths related to drug misuse'."""
    return f"{row.get('family_title') or row['family']}: {row['title']}"


def definition_fields(row: Mapping, fresh: Mapping) -> list[dict[str, str]]:
    """The catalogue entry of one indicator as Field/Value rows."""
    return [
        {"Field": "Unit", "Value": row.get("unit")},
        {"Field": "Type", "Value": row.get("value_type")},
        {"Field": "Direction", "Value": POLARITY_WORDS.get(row.get("polarity"), row.get("polarity"))},
        {"Field": "Interval method", "Value": row.get("ci_method")},
        {"Field": "Period type", "Value": row.get("period_type")},
        {"Field": "Suppression", "Value": row.get("suppression")},
        {"Field": "Publisher", "Value": f"{row.get('publisher')} ({row.get('publisher_id')})"},
        {"Field": "Publication status", "Value": row.get("publication_status")},
        {"Field": "Periods", "Value": (
            f"{fresh.get('first_period')} to {fresh.get('latest_period')} ({fresh.get('n_periods')})"
            if fresh.get("n_periods") else "no data")},
        {"Field": "Areas with a value in the latest period", "Value": str(fresh.get("n_areas_with_value", 0))},
        {"Field": "Indicator id", "Value": row.get("indicator_id")},
    ]


def deprivation_sentence(deciles: pd.DataFrame, unit: object) -> str:
    """'England by deprivation decile, 2018/19 (...): 16.2% in Decile 10 (most deprived), 18.2% in Decile 1 (least
    deprived); lowest in ..., highest in ...' (deciles as the publisher labels them) for the latest period of
    indicators.products.queries.deprivation_deciles; '' when there are none."""
    if deciles.empty:
        return ""
    period = deciles["period_label"].iloc[-1]
    rows = deciles.loc[deciles["period_label"].eq(period) & deciles["value"].notna()].sort_values("decile")
    if rows.empty:
        return ""
    ends = [rows.iloc[-1], rows.iloc[0]] if len(rows) > 1 else [rows.iloc[0]]
    low, high = rows.loc[rows["value"].idxmin()], rows.loc[rows["value"].idxmax()]
    return (f"England by deprivation decile, {text.period_display(period)} (no intervals: the denominators are "
            f"estimates): " + ", ".join(f"{text.format_value(r['value'], unit)} in {r['decile_label']}" for r in ends)
            + f"; lowest in {low['decile_label']}, {text.format_value(low['value'], unit)}; highest in "
            f"{high['decile_label']}, {text.format_value(high['value'], unit)}.")


def deprivation_rows(deciles: pd.DataFrame, unit: object) -> list[dict[str, str]]:
    """The deciles as rows of a small table: Period, Decile (as published), Value, In treatment, Estimated."""
    return [{"Period": text.period_display(r["period_label"]), "Decile": r["decile_label"],
             "Value": text.format_value(r["value"], unit),
             "Numerator": text.format_number(r["numerator"], 0) if not text.is_missing(r["numerator"]) else "–",
             "Denominator": text.format_number(r["denominator"], 0) if not text.is_missing(r["denominator"]) else "–"}
            for r in deciles.to_dict("records")]


def freshness_rows(catalogue: pd.DataFrame, fresh: Mapping[str, Mapping]) -> list[dict]:
    """How fresh each indicator is: latest period, number of periods and areas with a value."""
    rows = []
    for r in catalogue.to_dict("records"):
        f = fresh.get(r["indicator_id"], {})
        rows.append({"Indicator": r["title"],
                     "Latest period": text.period_display(f.get("latest_period")) or "no data",
                     "Periods": int(f.get("n_periods") or 0),
                     "Areas with a value (latest)": int(f.get("n_areas_with_value") or 0)})
    return rows


def source_rows(sources: pd.DataFrame) -> pd.DataFrame:
    """indicators.products.queries.source_summary's columns shown, headed with capitals."""
    return sources[[c for c in SOURCE_COLUMNS if c in sources.columns]].rename(columns=str.capitalize)


def not_published(catalogue: pd.DataFrame, families: pd.DataFrame) -> list[tuple[str, str | None, str]]:
    """(title, its status or None, why) for every indicator or family that is not published openly per area;
    `families` is indicators.products.queries.families (data/families.toml as built)."""
    out = []
    status = catalogue["publication_status"].fillna("open")
    for row in catalogue[status != text.OPEN_STATUS].to_dict("records"):
        out.append((row["title"], row["publication_status"], str(row.get("status_note") or "")))
    noted = catalogue[(status == text.OPEN_STATUS) & (catalogue["status_note"].fillna("").str.strip() != "")]
    for row in noted.to_dict("records"):
        out.append((row["title"], "open, but not per local authority", str(row["status_note"])))
    listed = set(catalogue["family"])
    for row in families.to_dict("records"):
        if row["not_published_title"] and row["family"] not in listed:
            out.append((row["not_published_title"], None, row["not_published_note"]))
    return out


def build_line(build_id: str, build: Mapping) -> str:
    return f"Build {build_id}, built {build.get('built_at') or 'unknown'}."


def glossary_entries() -> list[tuple[str, str, str]]:
    """(anchor, term, definition) of every glossary entry (data/glossary.toml), in its order."""
    return [(glossary.anchor(t.id), t.term, t.definition) for t in glossary.terms()]


def downloads_zip_sentence(tables) -> str:
    """What the zip of CSV files holds."""
    listed = "; ".join(f"{t}.csv: {TABLE_FILES.get(t, t)}" for t in tables)
    return f"A zip of README.md (what every column means, the methods, licence and how to cite) and {listed}."


def downloads_one_sentence(title: str) -> str:
    """The download of the indicator chosen above."""
    return f"The same zip for the indicator chosen above only: {title}."


# For whoever runs the dashboard: the commands are here and on the data availability page, not in other pages' words.
ADDING_DATA = (
    ("Newer files from the publishers", "uv run indicators fetch\nuv run indicators build"),
    ("CIPFA nearest neighbours (from the Fingertips API)",
     "uv run indicators fetch --source cipfa_neighbours\nuv run indicators build"),
    ("Postcodes in the area search: put the ONS postcode to local authority lookup (ONS Postcode Directory or its "
     "postcode to district extract, a CSV from the ONS Open Geography Portal) in data/raw/postcodes/, then rebuild",
     "uv run indicators build"),
    ("Local or community figures, and councils' replies to Freedom of Information requests: fill in the template, "
     "then import it (not official statistics; restricted rows stay in the local session)",
     "uv run indicators template --out local.csv\nuv run indicators import local.csv"),
    ("Everything as files, from the command line (the same as the Download the data page)",
     "uv run indicators export --out bulk.zip --format zip"),
)
