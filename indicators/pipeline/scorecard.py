"""published.scorecard: for every current upper-tier area, each scorecard column's latest figure and its comparison with England, or the state that stands in for a figure; depends on duckdb, pandas and indicators.catalogue;
reads only published tables (indicators, families, areas, indicator_values, network_figures).

The columns are the side-by-side families of data/families.toml: a family that lists `scorecard` indicators
gets one column per indicator (the three completion rates, drug-misuse deaths), any other one column (HCV,
naloxone) filled from the first of its catalogue indicators that has a figure in this build. A column shows
its indicator's latest period (the latest with a figure for any area), the same period for every area, so
that a row reads against the others.

States, in the order they are decided for an area and column:
- 'value': a figure, with its comparison with England as the build made it (`compared_to_england`);
- 'withheld': the publisher withheld the area's figure (the row is suppressed);
- 'not calculated': a count but no value: the publisher calculated none (ONS, from fewer than 10 deaths), or
  the rate cannot be re-derived for boundaries made after the period (`value_status` says which);
- 'network-level figure': no figure for the area, but one for the HCV network it belongs to
  (published.network_figures): the whole network's figure, in `network_value`, never in the area's `value`;
- 'FOI only': nobody publishes the figure per area; councils hold it and must answer a Freedom of
  Information request (the indicators' per-area status is 'foi');
- 'not published': nobody publishes it per area, and it is restricted or not collected;
- 'no data': published per area, but the files used for this build have nothing for this area.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from indicators.catalogue import STATUS_RANK, per_area_status
from indicators.config import ENGLAND_CODE, FAMILIES_FILE, UPPER_TIER_TYPES
from indicators.errors import InputError

VALUE = "value"
WITHHELD = "withheld"
NOT_CALCULATED = "not calculated"
NETWORK = "network-level figure"
FOI_ONLY = "FOI only"
NOT_PUBLISHED = "not published"
NO_DATA = "no data"
STATES = (VALUE, WITHHELD, NOT_CALCULATED, NETWORK, FOI_ONLY, NOT_PUBLISHED, NO_DATA)

COLUMNS = ["area_code", "area_name", "region_code", "region_name", "column_id", "column_title", "column_order",
           "family", "indicator_id", "state", "period_label", "value", "lower_ci_95", "upper_ci_95", "numerator",
           "denominator", "compared_to_england", "comparison_note", "england_value", "unit", "polarity",
           "figure_status", "value_status", "value_note", "source_id", "network_name", "network_member_areas",
           "network_value"]


def scorecard_columns(indicators: pd.DataFrame, families: pd.DataFrame) -> list[dict]:
    """The scorecard's columns in order: column_id, title, family and the candidate indicator ids (catalogue
    order), from published.indicators and published.families (its `scorecard`: comma-separated indicator ids)."""
    indicators = indicators.sort_values("indicator_id")
    family_of = dict(zip(indicators["indicator_id"], indicators["family"]))
    titles = dict(zip(indicators["indicator_id"], indicators["short_title"]))
    columns = []
    for family in families.sort_values("sort_order").to_dict("records"):
        if not family["side_by_side"]:
            continue
        # An id this warehouse's catalogue lacks gets no column; one of another family is a mistake in the file.
        own = [i for i in str(family.get("scorecard") or "").split(",") if i in family_of]
        for indicator_id in own:
            if family_of[indicator_id] != family["family"]:
                raise InputError(FAMILIES_FILE, f"family {family['family']!r} lists scorecard indicator "
                                 f"{indicator_id!r}, which is not one of its catalogue entries",
                                 where=f"[[family]] {family['family']}",
                                 expected="ids of indicators in data/indicators/ whose family is this one")
        if own:
            columns += [dict(column_id=i, title=titles[i], family=family["family"], candidates=[i]) for i in own]
        else:
            candidates = [i for i, f in family_of.items() if f == family["family"]]
            columns.append(dict(column_id=family["family"], title=family["title"], family=family["family"],
                                candidates=candidates))
    return columns


def _availability(text: object) -> list[dict]:
    try:
        items = json.loads(text) if isinstance(text, str) and text else []
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)]


def build_scorecard(areas: pd.DataFrame, values: pd.DataFrame, network: pd.DataFrame, indicators: pd.DataFrame,
                    families: pd.DataFrame) -> pd.DataFrame:
    """The scorecard's rows (COLUMNS): `areas` the current upper-tier areas (area_code, area_name, region_code,
    region_name); `values` published.indicator_values; `network` published.network_figures (may be empty);
    `indicators` and `families` published.indicators and published.families."""
    meta = {r["indicator_id"]: r for r in indicators.to_dict("records")}
    availability = {i: _availability(r.get("availability")) for i, r in meta.items()}
    status = {i: per_area_status(str(r.get("publication_status") or "open"), availability[i]) for i, r in meta.items()}
    has_figure = values["value"].notna() | values["numerator"].notna()
    figures = values.loc[has_figure]
    keyed = values.set_index(["indicator_id", "area_code", "period_label"]).sort_index()
    networks = {(r["indicator_id"], r["area_code"]): r for r in network.to_dict("records")}
    rows = []
    for order, column in enumerate(scorecard_columns(indicators, families), start=1):
        candidates = column["candidates"]
        chosen = next((i for i in candidates if (figures["indicator_id"] == i).any()), None)
        latest = None
        if chosen is not None:
            mine = figures.loc[figures["indicator_id"] == chosen]
            latest = mine.sort_values(["period_end", "period_label"]).iloc[-1]["period_label"]
        indicator = meta[chosen or candidates[0]] if candidates else None
        statuses = [status[i] for i in candidates]
        fallback = min(statuses, key=lambda s: STATUS_RANK.get(s, 9)) if statuses else "not collected"
        england = (keyed.loc[(chosen, ENGLAND_CODE, latest)] if chosen is not None
                   and (chosen, ENGLAND_CODE, latest) in keyed.index else None)
        source_status = ({str(item.get("source", "")): str(item.get("status", ""))
                          for item in availability[indicator["indicator_id"]]} if indicator is not None else {})
        for area in areas.to_dict("records"):
            row = {c: None for c in COLUMNS}
            row.update(area_code=area["area_code"], area_name=area["area_name"], region_code=area["region_code"],
                       region_name=area["region_name"], column_id=column["column_id"], column_title=column["title"],
                       column_order=order, family=column["family"],
                       indicator_id=indicator["indicator_id"] if indicator is not None else "",
                       period_label=latest or "", unit=indicator["unit"] if indicator is not None else "",
                       polarity=indicator["polarity"] if indicator is not None else "",
                       england_value=None if england is None else england["value"],
                       figure_status="", value_status="", value_note="", source_id="", compared_to_england="",
                       comparison_note="")
            key = (chosen, area["area_code"], latest)
            mine = keyed.loc[key] if chosen is not None and key in keyed.index else None
            if mine is not None:
                row["value_status"] = mine["value_status"] or ""
            if mine is not None and (bool(mine["is_suppressed"]) or mine["value_status"] == "suppressed"):
                row.update(state=WITHHELD, value_note=mine["value_note"] or "", source_id=mine["source_id"] or "")
            elif mine is not None and pd.notna(mine["value"]):
                row.update(state=VALUE, **{c: mine[c] for c in ("value", "lower_ci_95", "upper_ci_95", "numerator",
                                                                 "denominator")},
                           compared_to_england=mine["compared_to_england"] or "not compared",
                           comparison_note=mine["comparison_note"] or "", value_note=mine["value_note"] or "",
                           source_id=mine["source_id"] or "",
                           figure_status="foi" if source_status.get(mine["source_id"]) == "foi" else "open")
            elif mine is not None and pd.notna(mine["numerator"]):
                row.update(state=NOT_CALCULATED, numerator=mine["numerator"], value_note=mine["value_note"] or "",
                           source_id=mine["source_id"] or "")
            elif (net := next((networks[(i, area["area_code"])] for i in candidates
                               if (i, area["area_code"]) in networks), None)) is not None:
                row.update(state=NETWORK, indicator_id=net["indicator_id"], period_label=net["period_label"],
                           network_value=None if bool(net["is_suppressed"]) else net["value"],
                           unit=meta[net["indicator_id"]]["unit"], network_name=net["odn_name"],
                           network_member_areas=int(net["n_member_areas"]), value_note=net["value_note"] or "",
                           figure_status="withheld" if bool(net["is_suppressed"]) else "network")
            else:
                row["state"] = {"open": NO_DATA, "foi": FOI_ONLY}.get(fallback, NOT_PUBLISHED)
                if mine is not None:
                    row["value_note"] = mine["value_note"] or ""
            rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("value", "lower_ci_95", "upper_ci_95", "numerator", "denominator", "england_value", "network_value"):
        frame[column] = pd.to_numeric(frame[column]).astype("float64")
    frame["network_member_areas"] = pd.to_numeric(frame["network_member_areas"]).astype("Int64")
    frame["column_order"] = frame["column_order"].astype("int64")
    return frame


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'published' AND table_name = ?",
                       [table]).fetchall()[0][0] > 0


def publish_scorecard(con: duckdb.DuckDBPyConnection) -> None:
    """published.scorecard, from published.indicators, families, areas, indicator_values and network_figures."""
    areas = con.execute("""
        SELECT area_code, area_name, region_code, region_name FROM published.areas
        WHERE valid_to IS NULL AND list_contains(?, area_type) ORDER BY area_name, area_code""",
                        [list(UPPER_TIER_TYPES)]).df()
    values = con.execute("""
        SELECT indicator_id, area_code, period_label, period_end, value, lower_ci_95, upper_ci_95, numerator,
               denominator, coalesce(is_suppressed, false) AS is_suppressed, value_status, value_note,
               compared_to_england, comparison_note, source_id
        FROM published.indicator_values""").df()
    network = (con.execute("SELECT * FROM published.network_figures").df() if _exists(con, "network_figures")
               else pd.DataFrame(columns=["area_code", "indicator_id", "odn_name", "n_member_areas", "period_label",
                                          "value", "is_suppressed", "value_note"]))
    indicators = con.execute("SELECT * FROM published.indicators").df()
    families = con.execute("SELECT * FROM published.families").df()
    frame = build_scorecard(areas, values, network, indicators, families)
    con.register("_scorecard", frame)
    try:
        con.execute("CREATE OR REPLACE TABLE published.scorecard AS SELECT * FROM _scorecard")
    finally:
        con.unregister("_scorecard")
