"""The scorecard's words, cells, orders and rows: every current area against England in one table, one column per family or headline indicator, for the app and the static site; depends on pandas and indicators.present (text, htmltable, state, charts' colours), never on Streamlit.

Its input is queries.scorecard (published.scorecard, made by indicators.pipeline.scorecard): one row per area
and column with a `state` (value, withheld, not calculated, network-level figure, FOI only, not published,
no data). Each cell says its state or comparison in words, with a colour beside the words, never instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlencode

import pandas as pd

from indicators.present import htmltable, text
from indicators.present.charts import CATEGORY_COLOURS
from indicators.present.htmltable import Cell, Column
from indicators.present.state import BEST_SUFFIX, SORT_DEFAULT

VALUE = "value"
INTRO = ("The mission in one table: for every upper-tier local authority, treatment completions next to drug-related "
         "deaths, hepatitis C treatment and take-home naloxone, each at its latest period and compared with England "
         "(95% confidence). Where a figure is missing the cell says why: withheld, not calculated, published only "
         "for a network of areas, obtainable only by a Freedom of Information request, not published, or not in "
         "the files used. The gaps are part of the postcode lottery.")
TABLE_HELP = ("Each area's name opens its profile. A column's figures are all from the period in its heading; the "
              "colour beside each cell repeats its words. The CSV below has every cell's figure, interval, count, "
              "England's value and note for the areas shown, in this order.")
STATIC_HELP = ("Each area's name opens its profile. A column's figures are all from the period in its heading; the "
               "colour beside each cell repeats its words. To order the areas by a column or show one region, open "
               "the scorecard in the dashboard.")
ASK_HELP = ("For an area whose hepatitis C or naloxone figures are not published, its council can be asked under the "
            "Freedom of Information Act 2000 and must answer within 20 working days. Choose an area for the request, "
            "ready to send.")
STATE_WORDS = {
    "withheld": "Withheld by the publisher",
    "not calculated": "Not calculated: a count but no rate",
    "network-level figure": "Network-level figure, not this area's own",
    "FOI only": "FOI only: not published, ask the council",
    "not published": "Not published for areas",
    "no data": "No data in the files used",
}
SUMMARY_WORDS = {
    "withheld": "withheld by the publisher",
    "not calculated": "a count but no rate",
    "network-level figure": "only their HCV network's figure",
    "FOI only": "FOI only (not published; the council can be asked)",
    "not published": "not published",
    "no data": "no data in the files used",
}
STATE_MEANINGS = {
    "withheld": "The publisher has a figure for the area but withheld it, usually because the numbers are small.",
    "not calculated": "The area's count is known but there is no rate: the publisher calculates none from so few "
                      "events (ONS: fewer than 10 deaths), or the area was made after the period and the publisher's "
                      "rate covers the old areas only.",
    "network-level figure": "Published only for the HCV operational delivery network the area belongs to: the "
                            "whole network's figure, never split between its areas and never compared.",
    "FOI only": "Nobody publishes it per area; the council holds the figures and must answer a Freedom of "
                "Information request for them (the page offers the request).",
    "not published": "Nobody publishes it per area: it is restricted to commissioners or not collected.",
    "no data": "Published for areas like this one, but the files used for this build have nothing for it.",
}
STATE_COLOURS = {
    "withheld": CATEGORY_COLOURS["suppressed"],
    "not calculated": CATEGORY_COLOURS["count only"],
    "network-level figure": CATEGORY_COLOURS["network figure"],
    "FOI only": "#ffffff",
    "not published": CATEGORY_COLOURS["not published"],
    "no data": CATEGORY_COLOURS["no data"],
}
# Comparison words, worst to best, for ordering a column (a cell without a figure comes after every figure).
_WORST_FIRST = {"worse": 0, "similar": 1, "better": 2}
CSV_COLUMNS = ["area_code", "area_name", "region_name", "column_id", "column_title", "indicator_id", "period_label",
               "state", "value_status", "value", "lower_ci_95", "upper_ci_95", "numerator", "denominator", "compared_to_england",
               "england_value", "unit", "figure_status", "network_name", "network_member_areas", "network_value",
               "value_note", "source_id"]


def columns(frame: pd.DataFrame) -> list[dict]:
    """The scorecard's columns in order: column_id, title, family, period_label (of the column's figures), unit."""
    out = []
    for column_id, part in frame.sort_values("column_order").groupby("column_id", sort=False):
        periods = part.loc[part["state"].ne("network-level figure"), "period_label"].replace("", pd.NA).dropna()
        out.append(dict(column_id=column_id, title=part["column_title"].iloc[0], family=part["family"].iloc[0],
                        period_label=periods.iloc[0] if len(periods) else "", unit=part["unit"].iloc[0]))
    return out


def category(row: dict) -> str:
    """The cell's category: its comparison with England (better, similar, worse, higher, lower, not compared) when
    it has a figure, else its state."""
    if row["state"] == VALUE:
        word = row.get("compared_to_england")
        return str(word) if not text.is_missing(word) and str(word) in text.CATEGORY_LABELS else "not compared"
    return str(row["state"])


def cell_words(row: dict) -> tuple[str, str]:
    """The cell's words: the figure (or state) and, below it, its comparison with England or what the state means
    for this cell ('Figure for <network> (covers N areas), 2021/22')."""
    state = row["state"]
    if state == VALUE:
        figure = text.format_figure(row["value"], row)
        cat = category(row)
        words = text.CATEGORY_LABELS[cat]
        if cat == "not compared":
            words = f"{words} ({text.not_compared_reason(row)})"
        if row.get("figure_status") == "foi":
            words = f"{words}; from an FOI survey"
        return figure, words
    if state == "network-level figure":
        label = text.network_label(row.get("network_name"), row.get("network_member_areas"))
        figure = ("withheld by the publisher" if text.is_missing(row.get("network_value"))
                  else text.format_value(row["network_value"], row.get("unit"), 0))
        return STATE_WORDS[state], f"{label[:1].upper()}{label[1:]}: {figure}, {text.period_display(row['period_label'])}"
    if state == "not calculated":
        why = ("the publisher calculates none from so few" if row.get("value_status") == "not calculated"
               else "no rate for boundaries made after the period")
        return STATE_WORDS[state], f"count {text.format_count(row.get('numerator'))}; {why}"
    return STATE_WORDS[state], ""


def cell(row: dict) -> Cell:
    figure, words = cell_words(row)
    cat = category(row)
    colour = CATEGORY_COLOURS.get(cat) if row["state"] == VALUE else STATE_COLOURS[row["state"]]
    return Cell(figure, sub=words, colour=colour)


def sort_options(frame: pd.DataFrame) -> dict[str, str]:
    """URL value -> label of every order the scorecard offers (state.SORT_DEFAULT first)."""
    options = {SORT_DEFAULT: "Area name (A to Z)", "region": "Region, then area name"}
    for column in columns(frame):
        options[column["column_id"]] = f"{column['title']}: worst first"
        options[column["column_id"] + BEST_SUFFIX] = f"{column['title']}: best first"
    return options


def _rank(part: pd.DataFrame, best_first: bool) -> pd.Series:
    """Sort keys for one column's cells: figures first (by comparison, worst first, then by value, the worse end
    first by the indicator's polarity; highest first without one), then the states in STATE_WORDS order."""
    polarity = str(part["polarity"].iloc[0]) if len(part) else ""
    values = part["value"].astype(float)
    worse_high = polarity != "high_is_good"   # low_is_good, and no polarity: highest first
    key = values if worse_high else -values
    comparison = part["compared_to_england"].map(_WORST_FIRST).fillna(1.5)
    has = part["state"].eq(VALUE)
    states = part["state"].map({s: i for i, s in enumerate(STATE_WORDS)}).fillna(len(STATE_WORDS))
    if best_first:
        comparison, key = -comparison, -key
    rank = pd.DataFrame({"has": (~has).astype(int), "comparison": comparison.where(has, 0),
                         "value": (-key).where(has, 0.0), "state": states.where(~has, 0)}, index=part.index)
    return rank


def ordered_areas(frame: pd.DataFrame, sort: str) -> list[str]:
    """The area codes in the order `sort` asks for (unknown orders: by name)."""
    areas = frame.drop_duplicates("area_code")[["area_code", "area_name", "region_name"]]
    by_name = areas.sort_values(["area_name", "area_code"])
    if sort == "region":
        return list(areas.sort_values(["region_name", "area_name", "area_code"])["area_code"])
    part = frame.loc[frame["column_id"].eq(sorted_column(sort))]
    if part.empty:
        return list(by_name["area_code"])
    rank = _rank(part, sort.endswith(BEST_SUFFIX))
    rank["area_code"], rank["area_name"] = part["area_code"], part["area_name"]
    return list(rank.sort_values(["has", "comparison", "value", "state", "area_name", "area_code"])["area_code"])


def chosen(frame: pd.DataFrame, region: str | None, sort: str) -> pd.DataFrame:
    """The scorecard's rows for one region (every region when None), areas in the order `sort` asks for."""
    part = frame.loc[frame["region_code"].eq(region)] if region else frame
    order = {code: i for i, code in enumerate(ordered_areas(part, sort))}
    return (part.assign(_order=part["area_code"].map(order)).sort_values(["_order", "column_order"])
            .drop(columns="_order").reset_index(drop=True))


def sorted_column(sort: str) -> str | None:
    """The column an order sorts by ('deaths_drug_misuse' for 'deaths_drug_misuse-best'); None for name or region."""
    if sort in (SORT_DEFAULT, "region"):
        return None
    return sort[: -len(BEST_SUFFIX)] if sort.endswith(BEST_SUFFIX) else sort


def table_html(frame: pd.DataFrame, area_href: Callable[[str], str], caption: str, lead: str | None = None) -> str:
    """One row per area (its name linking to its profile, `area_href(code)`), one cell per column: frame as
    `chosen` returned it. The column `lead` (the one the rows are ordered by) comes first, beside the area's name,
    so that a phone shows it without scrolling sideways."""
    heads = columns(frame)
    heads = [c for c in heads if c["column_id"] == lead] + [c for c in heads if c["column_id"] != lead]
    records = []
    for code, part in frame.groupby("area_code", sort=False):
        first = part.iloc[0]
        record = {"area": Cell(str(first["area_name"]), sub=str(first["region_name"] or ""), href=area_href(code))}
        for row in part.to_dict("records"):
            record[row["column_id"]] = cell(row)
        records.append(record)
    table_columns = [Column("area", "Area")] + [
        Column(c["column_id"], f"{c['title']} ({text.period_display(c['period_label'])})" if c["period_label"]
               else c["title"]) for c in heads]
    return htmltable.html_table(records, table_columns, caption=caption, sticky_first=True)


def legend_items() -> list[tuple[str, str, str]]:
    """(colour, words, meaning) for every category a cell can have, comparisons first."""
    items = [(CATEGORY_COLOURS[c], text.CATEGORY_LABELS[c], text.CATEGORY_MEANINGS.get(c, ""))
             for c in ("better", "similar", "worse", "higher", "lower", "not compared")]
    return items + [(STATE_COLOURS[s], STATE_WORDS[s], STATE_MEANINGS[s]) for s in STATE_WORDS]


def legend_html() -> str:
    return htmltable.html_table(
        [{"colour": Cell(words, colour=colour), "meaning": meaning} for colour, words, meaning in legend_items()],
        [Column("colour", "What a cell says"), Column("meaning", "What it means")],
        caption="What the cells say (the colour is beside the words, never instead of them)")


def summary(frame: pd.DataFrame) -> list[str]:
    """How much of the lottery can be seen: one sentence per column, then how many areas have a figure in every
    column. True for any build: counts come from the frame."""
    n = frame["area_code"].nunique()
    out = []
    for column in columns(frame):
        part = frame.loc[frame["column_id"].eq(column["column_id"])]
        counts = part["state"].value_counts()
        n_value = int(counts.get(VALUE, 0))
        head = f"{column['title']}: a figure for {n_value} of {n} areas"
        if n_value:
            head += f" ({text.period_display(column['period_label'])})"
            foi = int((part["state"].eq(VALUE) & part["figure_status"].eq("foi")).sum())
            if foi:
                head += f", {foi} of them from a Freedom of Information survey"
        others = [f"{int(counts[s])} {SUMMARY_WORDS[s]}" for s in STATE_WORDS if int(counts.get(s, 0))]
        out.append(head + ("; " + "; ".join(others) if others else "") + ".")
    by_area = frame.groupby("area_code")["state"].apply(lambda s: bool(s.eq(VALUE).all()))
    every = int(by_area.sum())
    out.append(f"{every} of {n} areas have a figure of their own in every column.")
    return out


def csv_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the CSV download holds: the frame as `chosen` returned it, in its order, with CSV_COLUMNS."""
    return frame[CSV_COLUMNS].reset_index(drop=True)


def regions(frame: pd.DataFrame) -> dict[str, str]:
    """Region code -> name, by name."""
    pairs = frame.drop_duplicates("region_code")[["region_code", "region_name"]].dropna()
    return dict(sorted(zip(pairs["region_code"], pairs["region_name"]), key=lambda cn: str(cn[1])))


def app_area_link(code: str) -> str:
    """The dashboard's address of an area's profile, relative to any page of the app."""
    return "area?" + urlencode({"area": code})


def caption(region_name: str | None, order: str) -> str:
    where = f"Areas in {region_name}" if region_name else "Every area"
    return f"{where} against England; order: {order}"


def areas_without_open_figures(frame: pd.DataFrame, families: Iterable[str]) -> list[str]:
    """The area codes (in the frame's order) with no figure of their own in a column of one of `families` (those a
    Freedom of Information request can ask for)."""
    wanted = set(families)
    part = frame.loc[frame["family"].isin(wanted) & frame["state"].ne(VALUE)]
    return list(dict.fromkeys(part["area_code"]))


def indicator_ids(frame: pd.DataFrame) -> list[str]:
    """The indicators the frame's cells come from, in column order (for the download's definitions)."""
    return [i for i in dict.fromkeys(frame.sort_values("column_order", kind="stable")["indicator_id"]) if i]
