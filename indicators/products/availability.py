"""What exists openly, per area and family, worked out from what the warehouse holds; status words and colours for every view; the ODN caption; what the build could not fetch; depends on pandas, plotly, indicators.catalogue (per-area status) and the FOI label and Markdown escaping of indicators.present.text, never on Streamlit or on SQL.

The families the dashboard puts side by side (`side_by_side` in data/families.toml: completions,
deaths, hcv, naloxone) are not equally published: deaths and completions are open per area,
naloxone only in a charity's FOI surveys, HCV only per operational delivery network (ODN).
`availability_matrix` says, for every current upper-tier area and family, which status applies.
Its inputs are frames the query layer reads (indicators.products.queries.availability_matrix:
published.indicator_values, published.indicators with its availability JSON, public rows of
local.values and published.network_figures), so it stays true as data arrive.

Statuses, in the order they are decided:
- 'open figure': an official or published-survey figure (value or count) in some period;
- 'FOI figure': no such figure, but the council's reply to a Freedom of Information request, loaded
  with `indicators import` (a public local row with a `foi_reference`; not official statistics);
- 'local data only': no such figure, but a public local-data row (not official statistics);
- 'suppressed': the publisher has rows for the area but withheld every figure;
- 'network-level figure': no figure for the area, but one for the HCV operational delivery network it
  belongs to (labelled 'figure for <network> (covers N areas)', never apportioned to the areas);
- 'no data': the family is published per area, but the files used for the build hold nothing
  for this area;
- 'not published': nobody publishes the family openly per area (restricted, FOI-only or ODN-only).
"""

from __future__ import annotations

import json
import re

import pandas as pd

from indicators.catalogue import STATUS_RANK, per_area_status
from indicators.present.text import foi_label, format_value, md_escape, network_label, period_display

OPEN_FIGURE = "open figure"
FOI_FIGURE = "FOI figure"
NETWORK_FIGURE = "network-level figure"
LOCAL_ONLY = "local data only"
SUPPRESSED = "suppressed"
NO_DATA = "no data"
NOT_PUBLISHED = "not published"
STATUSES = (OPEN_FIGURE, FOI_FIGURE, LOCAL_ONLY, SUPPRESSED, NETWORK_FIGURE, NO_DATA, NOT_PUBLISHED)

# Words every view uses; "not published", "suppressed" and "no data" never share wording.
STATUS_LABELS = {
    OPEN_FIGURE: "Open figure",
    FOI_FIGURE: "FOI figure (council's reply, not official statistics)",
    LOCAL_ONLY: "Local data only (not official statistics)",
    SUPPRESSED: "Suppressed by the publisher",
    NETWORK_FIGURE: "Network-level figure only (not this area's own)",
    NO_DATA: "No data in the files used",
    NOT_PUBLISHED: "Not published for this area",
}
STATUS_DESCRIPTIONS = {
    OPEN_FIGURE: "An official figure, or one published from a Freedom of Information survey, exists for at "
                 "least one period.",
    FOI_FIGURE: "No published figure, but the council's reply to a Freedom of Information request has been loaded; "
                "each figure is labelled with the request's reference and the reply's date.",
    LOCAL_ONLY: "No published figure, but local or community data has been loaded and marked public; it is not "
                "official statistics.",
    SUPPRESSED: "The publisher reports this area but withheld its figures, usually because the numbers are small.",
    NETWORK_FIGURE: "No figure is published for this area alone; one is published for the network of areas it belongs "
                    "to (an HCV operational delivery network), for all of them together and never split between them.",
    NO_DATA: "The publisher covers areas like this one, but the published files the dashboard uses hold no figure "
             "for it.",
    NOT_PUBLISHED: "Nobody publishes this openly per local authority: the figures are restricted to commissioners, "
                   "exist only in FOI surveys, or only for larger areas.",
}
# Colour-blind-safe and distinct in lightness: Okabe-Ito blue, orange and sky blue for the three kinds of
# figure; the dashboard's dark grey and pink (indicators.present.charts.CATEGORY_COLOURS) for suppressed
# and not published, and a pale grey for no data. Each status also has its own symbol and words,
# so colour is never the only signal.
STATUS_COLOURS = {
    OPEN_FIGURE: "#0072B2",      # blue
    FOI_FIGURE: "#E69F00",       # orange
    LOCAL_ONLY: "#56B4E9",       # sky blue
    SUPPRESSED: "#4d4d4d",       # dark grey
    NETWORK_FIGURE: "#d8cce8",   # pale lilac: the network's figure, never an area's own colour
    NO_DATA: "#e6e6e6",          # pale grey: never read as a value
    NOT_PUBLISHED: "#f1b6da",    # pink
}
STATUS_SYMBOLS = {OPEN_FIGURE: "●", FOI_FIGURE: "◆", LOCAL_ONLY: "◐", SUPPRESSED: "✱", NETWORK_FIGURE: "◇", NO_DATA: "○",
                  NOT_PUBLISHED: "⊘"}


MATRIX_COLUMNS = ["area_code", "area_name", "region_name", "family", "family_title", "status", "status_label",
                  "has_open_figure", "latest_open_period", "sources", "figure_status", "per_area_status",
                  "latest_local_period", "note"]
ODN_COLUMNS = ["odn_code", "odn_name", "period_label", "period_start", "period_end", "value", "numerator",
               "denominator", "is_suppressed", "value_note", "population", "source_id", "source_file",
               "n_member_areas", "member_area_codes", "member_area_names"]


def _availability(text) -> list[dict]:
    try:
        items = json.loads(text) if text else []
    except (TypeError, ValueError):
        return []
    return [i for i in items if isinstance(i, dict)]


def side_by_side(families: pd.DataFrame) -> list[str]:
    """The families the availability views put side by side, in display order (published.families)."""
    return [f for f, shown in zip(families["family"], families["side_by_side"]) if shown]


def family_titles(families: pd.DataFrame) -> dict[str, str]:
    return dict(zip(families["family"], families["title"]))


def _catalogue(catalogue: pd.DataFrame) -> pd.DataFrame:
    cat = catalogue.copy()
    if "availability" not in cat:
        cat["availability"] = "[]"
    if "publication_status" not in cat:
        cat["publication_status"] = "open"
    if "status_note" not in cat:
        cat["status_note"] = ""
    cat["_availability"] = [_availability(t) for t in cat["availability"]]
    cat["_per_area"] = [per_area_status(s, a) for s, a in zip(cat["publication_status"], cat["_availability"])]
    return cat


def _source_statuses(cat: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(indicator_id, source_id) -> status from the catalogue's availability entries."""
    out = {}
    for ind, items in zip(cat["indicator_id"], cat["_availability"]):
        for item in items:
            out.setdefault((ind, item.get("source", "")), item.get("status", ""))
    return out


def availability_matrix(areas: pd.DataFrame, catalogue: pd.DataFrame, figures: pd.DataFrame, local: pd.DataFrame,
                        network: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    """One row per current upper-tier area x side-by-side family; columns MATRIX_COLUMNS.

    `areas`: the current upper-tier areas (area_code, area_name, region_name); `catalogue`: published.indicators;
    `figures`: every value row's indicator_id, area_code, period_label, period_end, source_id, has_figure,
    is_suppressed; `local`: public local rows with a figure (indicator_id, area_code, period_label, period_end,
    source_id, foi_reference, foi_response_date); `network`: queries.network_figures (each area's network's latest
    figure, per network-only indicator);
    `families`: published.families.
    """
    shown = side_by_side(families)
    titles = family_titles(families)
    cat = _catalogue(catalogue)
    cat = cat.loc[cat["family"].isin(shown)]
    family_of = dict(zip(cat["indicator_id"], cat["family"]))
    source_status = _source_statuses(cat)
    values = figures.loc[figures["indicator_id"].isin(family_of)].copy()
    values["family"] = values["indicator_id"].map(family_of)
    values["figure_status"] = [
        "foi" if source_status.get((i, s)) == "foi" else "open"
        for i, s in zip(values["indicator_id"], values["source_id"])]
    local = local.loc[local["indicator_id"].isin(family_of)].copy()
    local["family"] = local["indicator_id"].map(family_of)
    network = network.loc[network["indicator_id"].map(family_of).eq("hcv")].drop_duplicates("area_code")
    network = network.set_index("area_code")

    family_status = {}
    family_note = {}
    for family in shown:
        part = cat.loc[cat["family"].eq(family)].sort_values("indicator_id")
        ranked = sorted(part["_per_area"], key=lambda s: STATUS_RANK.get(s, 9))
        family_status[family] = ranked[0] if ranked else ""
        family_note[family] = " ".join(dict.fromkeys(n for n in part["status_note"].fillna("") if n))

    by_key = {key: group for key, group in values.groupby(["area_code", "family"], sort=False)}
    local_by_key = ({key: group for key, group in local.groupby(["area_code", "family"], sort=False)}
                    if not local.empty else {})
    rows = []
    for area in areas.itertuples(index=False):
        for family in shown:
            group = by_key.get((area.area_code, family))
            figures = group.loc[group["has_figure"]] if group is not None else None
            local_rows = local_by_key.get((area.area_code, family))
            foi_rows = (local_rows.loc[local_rows["foi_reference"].notna()]
                        if local_rows is not None else None)
            row = dict(area_code=area.area_code, area_name=area.area_name, region_name=area.region_name,
                       family=family, family_title=titles[family], has_open_figure=False,
                       latest_open_period="", sources="", figure_status="",
                       per_area_status=family_status[family], latest_local_period="", note="")
            if local_rows is not None:
                latest = local_rows.sort_values(["period_end", "period_label"]).iloc[-1]
                row["latest_local_period"] = latest["period_label"]
            if figures is not None and not figures.empty:
                latest = figures.sort_values(["period_end", "period_label"]).iloc[-1]
                sources = sorted(set(figures["source_id"]))
                only_foi = set(figures["figure_status"]) == {"foi"}
                row.update(status=OPEN_FIGURE, has_open_figure=True, latest_open_period=latest["period_label"],
                           sources=", ".join(sources), figure_status="foi" if only_foi else "open",
                           note=f"Latest figure {latest['period_label']} ({', '.join(sources)})."
                                + (" From a Freedom of Information survey; licence not stated; not official statistics."
                                   if only_foi else ""))
            elif foi_rows is not None and not foi_rows.empty:
                latest = foi_rows.sort_values(["period_end", "period_label"]).iloc[-1]
                row.update(status=FOI_FIGURE, sources=", ".join(sorted(set(foi_rows["source_id"]))),
                           figure_status="foi response", latest_local_period=latest["period_label"],
                           note=f"Latest figure {latest['period_label']}: "
                                f"{foi_label(latest['foi_reference'], latest['foi_response_date'])}; "
                                "not official statistics.")
            elif local_rows is not None:
                row.update(status=LOCAL_ONLY, sources=", ".join(sorted(set(local_rows["source_id"]))),
                           note=f"Only local data (not official statistics), latest {row['latest_local_period']}.")
            elif group is not None and group["is_suppressed"].any():
                row.update(status=SUPPRESSED, note="The publisher withheld this area's figures (small numbers).")
            elif family_status[family] == "open":
                row.update(status=NO_DATA, note="Published for areas like this one, but the published files the "
                                                "dashboard uses have no figure for it.")
            elif family_status[family] == "":
                row.update(status=NO_DATA, note="This warehouse's catalogue has no indicator in this family.")
            else:
                row.update(status=NOT_PUBLISHED, note=family_note[family] or "Not published openly per local authority.")
            if family == "hcv" and area.area_code in network.index:
                figure = network.loc[area.area_code]
                said = ("withheld by the publisher" if bool(figure["is_suppressed"])
                        else format_value(figure["value"], "", 0))
                sentence = (f"{figure['network_label'][:1].upper()}{figure['network_label'][1:]}: {said} in "
                            f"{period_display(figure['period_label'])} (latest), for the whole network, never split "
                            "between its areas.")
                if row["status"] in (NO_DATA, NOT_PUBLISHED):
                    row.update(status=NETWORK_FIGURE, note=sentence)
                else:
                    row["note"] = f"{row['note']} {sentence}".strip()
            row["status_label"] = STATUS_LABELS[row["status"]]
            rows.append(row)
    return pd.DataFrame(rows, columns=MATRIX_COLUMNS)


def national_summary(matrix: pd.DataFrame, families: pd.DataFrame) -> list[str]:
    """One sentence per side-by-side family, e.g. "0 of 153 areas have any open naloxone figure; ..."."""
    nouns = dict(zip(families["family"], families["noun"]))
    total = matrix["area_code"].nunique()
    sentences = []
    for family in side_by_side(families):
        part = matrix.loc[matrix["family"].eq(family)]
        counts = part["status"].value_counts()
        n_open = int(part["has_open_figure"].sum())
        text = f"{n_open} of {total} areas {'has' if n_open == 1 else 'have'} any open {nouns[family]} figure"
        n_foi = int((part["has_open_figure"] & part["figure_status"].eq("foi")).sum())
        details = []
        if n_foi:
            details.append(f"{n_foi} of them only from a Freedom of Information survey, licence not stated")
        if n_open:
            latest = part.loc[part["has_open_figure"], "latest_open_period"]
            details.append(f"latest period {latest.mode().iloc[0]}")
        for status, one, many in ((FOI_FIGURE, "has an FOI figure only (the council's reply)",
                                   "have FOI figures only (the councils' replies)"),
                                  (LOCAL_ONLY, "has local data only", "have local data only"),
                                  (SUPPRESSED, "is suppressed", "are suppressed"),
                                  (NETWORK_FIGURE, "has only its HCV network's figure, for all the network's areas",
                                   "have only their HCV network's figure, for all the network's areas"),
                                  (NO_DATA, "has no data in the files used", "have no data in the files used"),
                                  (NOT_PUBLISHED, "is not published openly per area",
                                   "are not published openly per area")):
            n = int(counts.get(status, 0))
            if n:
                details.append(f"{n} {one if n == 1 else many}")
        sentences.append(text + (" (" + "; ".join(details) + ")." if details else "."))
    return sentences


def odn_caption(odn_values: pd.DataFrame) -> str:
    """'HCV treatment starts in your area's HCV network: figure for <name> (covers N areas: a, b, c). ...' for the
    frame odn_values_for_area returned; '' if empty."""
    if odn_values.empty:
        return ""
    first = odn_values.iloc[-1]
    label = network_label(first["odn_name"], int(first["n_member_areas"]))
    return (f"HCV treatment starts in your area's HCV network: {label[:-1]}: {first['member_area_names']}). "
            "A figure for the whole network, never split between its areas and not this area's own.")


def family_sources(catalogue: pd.DataFrame, family: str) -> pd.DataFrame:
    """Where figures for a family exist, per indicator and source: status, geography, URL, note (from the catalogue)."""
    cat = _catalogue(catalogue)
    rows = []
    for rec in cat.loc[cat["family"].eq(family)].sort_values("indicator_id").to_dict("records"):
        for item in rec["_availability"]:
            rows.append(dict(indicator_id=rec["indicator_id"], short_title=rec["short_title"],
                             source=item.get("source", ""), status=item.get("status", ""),
                             geography=item.get("geography", "upper-tier local authority"),
                             period=item.get("period", ""), url=item.get("url", ""), note=item.get("note", "")))
    return pd.DataFrame(rows, columns=["indicator_id", "short_title", "source", "status", "geography", "period",
                                       "url", "note"])


def availability_table(matrix: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    """Wide table for display: one row per area, one column per family holding symbol + words + latest period."""
    cell = [f"{STATUS_SYMBOLS[s]} {STATUS_LABELS[s]}" + (f" ({p})" if p else "")
            for s, p in zip(matrix["status"], matrix["latest_open_period"].where(matrix["has_open_figure"],
                                                                               matrix["latest_local_period"]))]
    wide = (matrix.assign(cell=cell)
            .pivot_table(index=["area_name", "area_code", "region_name"], columns="family", values="cell",
                         aggfunc="first", sort=False)
            .reindex(columns=[f for f in side_by_side(families) if f in set(matrix["family"])]))
    titles = family_titles(families)
    wide.columns = [titles[f] for f in wide.columns]
    return wide.reset_index().rename(columns={"area_name": "Area", "area_code": "Code", "region_name": "Region"})


def availability_map(matrix: pd.DataFrame, geojson: dict, family: str, family_title: str):
    """Choropleth of one family's status per area: fixed colours per status, every status in the legend."""
    import plotly.graph_objects as go

    part = matrix.loc[matrix["family"].eq(family)]
    fig = go.Figure()
    for status in STATUSES:
        rows = part.loc[part["status"].eq(status)]
        name = f"{STATUS_SYMBOLS[status]} {STATUS_LABELS[status]} ({len(rows)})"
        if rows.empty:
            # Plotly leaves an empty choropleth out of the legend; an empty marker trace keeps every
            # status listed, with its count of 0.
            fig.add_trace(go.Scattergeo(lon=[None], lat=[None], mode="markers", name=name, showlegend=True,
                                        marker=dict(symbol="square", size=12, color=STATUS_COLOURS[status],
                                                    line=dict(color="#555555", width=0.6)),
                                        hoverinfo="skip"))
            continue
        fig.add_trace(go.Choropleth(
            geojson=geojson, featureidkey="properties.area_code",
            locations=list(rows["area_code"]), z=[1] * len(rows),
            colorscale=[[0, STATUS_COLOURS[status]], [1, STATUS_COLOURS[status]]], showscale=False,
            marker_line_color="#555555", marker_line_width=0.4, name=name, showlegend=True,
            customdata=list(zip(rows["area_name"], rows["status_label"], rows["latest_open_period"], rows["note"])),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]} %{customdata[2]}<br>%{customdata[3]}<extra></extra>",
        ))
    bounds = _bounds(geojson)
    if bounds:
        west, south, east, north = bounds
        fig.update_geos(lonaxis_range=[west, east], lataxis_range=[south, north], projection_type="mercator")
    fig.update_geos(visible=False)
    fig.update_layout(title=f"{family_title}: what is published per area",
                      margin=dict(l=0, r=0, t=40, b=0), height=620,
                      legend=dict(title="Status", orientation="v", yanchor="top", y=0.98, xanchor="left", x=0.0))
    return fig


def _bounds(geojson: dict) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of every coordinate in a FeatureCollection; None when it has none."""
    lons, lats = [], []

    def walk(coords) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(coords[0])
            lats.append(coords[1])
        else:
            for part in coords or ():
                walk(part)

    for feature in geojson.get("features", []):
        walk((feature.get("geometry") or {}).get("coordinates"))
    if not lons:
        return None
    return min(lons), min(lats), max(lons), max(lats)


# --------------------------------------------------------------------------- sources that could not be fetched

NO_FETCH_RECORDED = "No fetch recorded"
NO_FETCH_EXPLAINED = ("“No fetch recorded”: the files were put in the raw folder by hand (for example copied from "
                      "another copy of the dashboard), so there is no fetch to report; the files used are counted all "
                      "the same.")
FETCH_STATUS_WORDS = {"fetched": "Fetched", "unchanged": "Unchanged since the last fetch", "failed": "Could not be fetched",
                      "skipped": "Nothing to fetch (files are added by hand)", "": NO_FETCH_RECORDED}


FETCH_STATUS_COLUMNS = ["source_id", "title", "publisher", "status", "attempted_at", "file", "url", "answer", "error",
                        "files_in_build", "retrieved", "indicators_without_figures", "indicators_from_other_sources",
                        "provides", "retry"]


def _when(stamp: object) -> str:
    """'4 Dec 2026 at 20:07 UTC' from an ISO 8601 time; the text itself when it is not one."""
    try:
        moment = pd.Timestamp(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC")
    return f"{moment.day} {moment:%b %Y} at {moment:%H:%M} UTC"


def _publisher(name: object) -> str:
    """The publisher's short name: 'OHID' from 'Office for Health Improvement and Disparities (OHID)'."""
    match = re.search(r"\(([A-Z][^()]*)\)\s*$", str(name or ""))
    return match[1] if match else str(name or "")


def _names(ids: object, titles: dict[str, str]) -> str:
    return ", ".join(md_escape(titles.get(i, i)) for i in str(ids or "").split(",") if i)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def fetch_notice_text(failed: pd.DataFrame, titles: dict[str, str]) -> str:
    """Markdown for the one notice naming the sources that could not be fetched: when, what the publishers
    answered, what this build lacks because of it, and the command that retries; kept short enough for a
    phone (the availability page has the details). Text from the data is escaped."""
    rows = failed.to_dict("records")
    times = sorted({_when(r.get("attempted_at")) for r in rows})
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        key = (_publisher(r.get("publisher")), str(r.get("answer") or "").strip()[:80],
               "" if len(times) == 1 else _when(r.get("attempted_at")))
        groups.setdefault(key, []).append(f"`{r['source_id']}`")
    tried = [_and(ids) + f" ({md_escape(publisher)}" + (f": {md_escape(answer)}" if answer else "") + ")"
             + (f" on {md_escape(when)}" if when else "") for (publisher, answer, when), ids in groups.items()]
    head = "**Some official data could not be fetched for this build**" + (
        f" (tried {md_escape(times[0])})" if len(times) == 1 else "") + ": " + "; ".join(tried) + "."
    without, partial, provides, stale = [], [], [], []
    for r in rows:
        if int(r.get("files_in_build") or 0):
            when = f"retrieved {md_escape(_when(r['retrieved']))}" if r.get("retrieved") else "it had before"
            stale.append(f"`{r['source_id']}` keeps the files {when}")
            continue
        without += [i for i in str(r.get("indicators_without_figures") or "").split(",") if i and i not in without]
        partial += [i for i in str(r.get("indicators_from_other_sources") or "").split(",") if i and i not in partial]
        if r.get("provides"):
            provides.append(md_escape(r["provides"]))
    lacking = [f"no figures for {_names(','.join(without), titles)}" if without else "",
               f"only other sources' figures for {_names(','.join(partial), titles)}" if partial else "",
               f"missing {_and(provides)}" if provides else ""]
    lacking = [part for part in lacking if part]
    lines = [head]
    if lacking:
        lines.append("In this build: " + "; ".join(lacking) + ".")
    if stale:
        lines.append(_and(stale) + ".")
    ids = " ".join(f"--source {r['source_id']}" for r in rows)
    lines.append(f"To retry: `uv run indicators fetch {ids}`, then `uv run indicators build`.")
    return "\n\n".join(lines)


def fetch_status_table(status: pd.DataFrame) -> pd.DataFrame:
    """Every source's last fetch (indicators.products.queries.fetch_status) for display: source, status in words,
    when, files in this build, what happened."""
    return pd.DataFrame({
        "Source": status["source_id"],
        "Status": status["status"].map(lambda s: FETCH_STATUS_WORDS.get(s, s)),
        "Last attempt": status["attempted_at"].map(lambda t: _when(t) if t else ""),
        "Files used": status["files_in_build"],
        "What happened": status["error"].where(status["error"].ne(""), status["answer"]),
        "Retry with": status["retry"],
    })
