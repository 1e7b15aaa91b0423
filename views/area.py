"""Area profile: every indicator for one area against England, its region and a chosen peer group, with trends and what cannot be compared."""

import streamlit as st

from indicators import availability, charts, local_data, text
from indicators.state import PEER_GROUP_LABELS, PEER_GROUPS
from ui import frame

ctx = frame.context(("area", "indicator", "period", "peers"))
code = ctx.state.area

if not code:
    st.title("Area profile")
    st.info("Choose an area: type its name in the **Area** box in the sidebar, or click it on the map.")
else:
    info = ctx.wh.q("area", code) or {}
    name = ctx.area_name(code)
    st.title(name)
    st.markdown(f"{text.md_escape(info.get('area_type', '')).capitalize()} in "
               f"{text.md_escape(info.get('region_name') or 'England')} · code {text.md_escape(code)}")
    profile = ctx.wh.q("area_profile", code)
    records = profile.to_dict("records")

    st.header("At a glance")
    st.markdown("Each indicator at its latest period in this build, against England and the region (95%).")
    with_figure = [row for row in records if text.has_figure(row)]
    region_name = info.get("region_name") or "the region"
    for row in with_figure:
        lines = [f"- {text.md_escape(text.comparison_sentence(name, row, row, row.get('england_value')))}"]
        if not text.is_missing(row.get("value")) and not text.is_missing(row.get("region_value")):
            lines.append("    - " + text.md_escape(text.comparison_sentence(
                name, row, row, row["region_value"], benchmark_name=region_name,
                compared=row.get("compared_to_region"))))
        st.markdown("\n".join(lines))
    missing = len(records) - len(with_figure)
    if missing:
        st.markdown(f"{missing} of {len(records)} indicators {'has' if missing == 1 else 'have'} no figure for "
                    f"{text.md_escape(name)} in this build; the last section says why.")

    st.header("Against England and the region")
    positions = charts.spine_positions(profile)
    if positions["pos_worst"].notna().any():
        st.plotly_chart(charts.spine_figure(profile, name), theme=None, config=charts.PLOT_CONFIG, key="spine")
        st.markdown("Each row: England at the centre line; light bar, the range of areas (worst on the left); dark "
                   "bar, the middle half of areas (25th to 75th percentile); the marker is this area, shaped, "
                   "coloured and labelled by its comparison with England; the open diamond is the region. For "
                   "indicators without a better or worse direction, lower values are on the left.")
    else:
        st.info("No indicator has both a value for England and a spread of areas in this build, so there is no "
                "spine chart.")
    with frame.table_expander("Table: this area, its region and England"):
        table = profile.assign(
            period=[text.period_display(p) for p in profile["period_label"]],
            category=[text.CATEGORY_LABELS[text.category(r, r.get("publication_status"))] for r in records])
        st.dataframe(table[["short_title", "period", "value", "lower_ci_95", "upper_ci_95", "numerator",
                            "england_value", "region_value", "compared_to_region", "category", "area_min",
                            "area_q25", "area_median", "area_q75", "area_max", "unit"]].rename(columns={
            "short_title": "Indicator", "period": "Period", "value": name, "lower_ci_95": "95% lower",
            "upper_ci_95": "95% upper", "numerator": "Count", "england_value": "England",
            "region_value": "Region", "compared_to_region": "Compared with region",
            "category": "Compared with England", "area_min": "Lowest area", "area_q25": "25th percentile",
            "area_median": "Median", "area_q75": "75th percentile", "area_max": "Highest area", "unit": "Unit"}),
            hide_index=True, width="stretch")

    st.header("Against a peer group")
    peers = ctx.wh.q("peer_groups", code)
    available = [g for g in PEER_GROUPS if (peers["peer_group"] == g).any()]
    if not available:
        st.info("No peer group is known for this area in this build (no shared borders, CIPFA neighbours or "
                "regional neighbours).")
    else:
        group = frame.page_choice(ctx, "peers", "Peer group", available, PEER_GROUP_LABELS.get,
                                  default=available[0], page="area",
                                  help="Geographic neighbours share a border; CIPFA nearest neighbours are the "
                                       "areas most similar on CIPFA's socio-economic model; the most similar "
                                       "areas are closest on population, opiate/crack use and drug-death "
                                       "history (the reasons list the distances).")
        members = peers[peers["peer_group"] == group]
        left, right = st.columns([2, 3])
        with left:
            st.markdown(f"**{len(members)} {'peer' if len(members) == 1 else 'peers'}** and why each is one:")
            st.dataframe([{"Peer": r["area_name"], "Why": text.peer_reason(r)} for r in members.to_dict("records")],
                         hide_index=True, width="stretch")
        with right:
            comparison = ctx.wh.q("peer_comparison", code, tuple(members["area_code"]))
            st.markdown(f"{text.md_escape(name)} against the group's value (pooled over the area and its peers "
                        "where counts allow, otherwise the average of their values):")
            for row in [r for r in comparison.to_dict("records") if text.has_figure(r)]:
                meta = ctx.indicator(row["indicator_id"])
                st.markdown("- " + text.md_escape(text.comparison_sentence(
                    name, meta, row, row["group_value"],
                    benchmark_name="the peer group", compared=row["compared_to_group"])))
            with frame.table_expander("Table: against the peer group"):
                st.dataframe(comparison.drop(columns=["indicator_id", "is_suppressed"]).rename(columns={
                    "short_title": "Indicator", "unit": "Unit", "period_label": "Period", "value": name,
                    "lower_ci_95": "95% lower", "upper_ci_95": "95% upper", "group_value": "Group value",
                    "group_method": "Group value method", "group_n_areas": "Areas with a value",
                    "compared_to_group": "Compared with group", "value_note": "Note"}),
                    hide_index=True, width="stretch")

    st.header("Over time")
    shown, single = 0, []
    columns = st.columns(2)
    for row in records:
        if text.is_missing(row.get("period_label")):
            continue
        series, trends = ctx.wh.q("trend_series", row["indicator_id"], code)
        n_points = int(series[series["role"] == "area"]["value"].notna().sum())
        if n_points < 2:
            single.extend([row["short_title"]] if n_points == 1 else [])
            continue
        names = {"area": name, "region": info.get("region_name") or "Region", "England": "England"}
        with columns[shown % 2]:
            st.plotly_chart(charts.trend_figure(series, row, names), theme=None, config=charts.PLOT_CONFIG,
                            key=f"trend_{row['indicator_id']}")
            if len(set(trends.values())) == 1:
                st.markdown(text.md_escape(text.trend_sentence("Recent trend", next(iter(trends.values())), row))
                            + ". Shaded bands: 95% intervals.")
            else:
                st.markdown(" · ".join(text.md_escape(text.trend_sentence(names[r], t, row))
                                       for r, t in trends.items())
                            + ". Shaded bands: 95% intervals.")
            with frame.table_expander():
                st.dataframe(series.assign(who=series["role"].map(names))[
                    ["who", "period_label", "value", "lower_ci_95", "upper_ci_95", "numerator", "denominator",
                     "value_note"]].rename(columns={"who": "Area", "period_label": "Period", "value": "Value",
                                                    "lower_ci_95": "95% lower", "upper_ci_95": "95% upper",
                                                    "numerator": "Count", "denominator": "Denominator",
                                                    "value_note": "Note"}), hide_index=True, width="stretch")
        shown += 1
    if single:
        st.markdown(f"Only one period in this build, so no line: {text.md_escape(', '.join(single))}.")
    if not shown and not single:
        st.info(f"No indicator has a value for {name} in this build, so there are no trends to draw.")

    st.header("Other figures: networks and local data")
    odn = ctx.wh.read(availability.odn_values_for_area, code)
    local = ctx.wh.read(local_data.local_values, True)  # this local session may show its restricted rows
    local = local[local["area_code"] == code]
    if odn.empty and local.empty:
        st.markdown(f"None for {text.md_escape(name)} in this build. Hepatitis C treatment is published openly "
                    "only for operational delivery networks (groups of areas), and naloxone supply only in "
                    "Freedom of Information surveys; *Data availability* shows what exists for every area, and "
                    "`indicators import` loads local or community figures.")
    if not odn.empty:
        st.markdown(f"**{text.md_escape(availability.odn_caption(odn))}**")
        st.dataframe(odn[["period_label", "value", "numerator", "denominator", "value_note", "source_id"]].rename(
            columns={"period_label": "Period", "value": "Value", "numerator": "Count", "denominator": "Denominator",
                     "value_note": "Note", "source_id": "Source"}), hide_index=True, width="stretch")
    if not local.empty:
        restricted = local["access"].ne("public")
        st.markdown("**Local and community figures: not official statistics.** Loaded with `indicators import`; "
                    "each row says who collected it, when and how."
                    + (f" {int(restricted.sum())} {'row is' if restricted.sum() == 1 else 'rows are'} "
                       "**restricted**: shown only in this local session, never in a download or export."
                       if restricted.any() else ""))
        titles = {r["indicator_id"]: r.get("short_title") or r["title"] for r in ctx.catalogue.to_dict("records")}
        st.dataframe(local.assign(
            indicator=local["indicator_id"].map(titles).fillna(local["indicator_id"]),
            shown=["restricted (local session only)" if a != "public" else "public" for a in local["access"]])[
            ["indicator", "period_label", "value", "lower_ci_95", "upper_ci_95", "numerator", "denominator",
             "source", "collected_by", "collection_date", "method", "shown"]].rename(columns={
                 "indicator": "Indicator", "period_label": "Period", "value": "Value", "lower_ci_95": "95% lower",
                 "upper_ci_95": "95% upper", "numerator": "Count", "denominator": "Denominator", "source": "Source",
                 "collected_by": "Collected by", "collection_date": "Collected", "method": "Method",
                 "shown": "Access"}), hide_index=True, width="stretch")

    st.header("Comparisons that are not possible, and why")
    missing = text.not_possible(profile)
    if missing:
        st.dataframe([{"Indicator": m["indicator"], "Period": m["period"], "Why": m["reason"]} for m in missing],
                     hide_index=True, width="stretch")
    else:
        st.markdown("Every indicator could be compared.")
    frame.download_buttons(ctx, profile.assign(area_code=code, area_name=name), list(profile["indicator_id"]),
                           "area-profile", f"Area profile: {name}", key="area")
