"""Area profile: every indicator for one area against England, its region and a chosen peer group, with trends and what cannot be compared."""

import streamlit as st

from indicators.present import htmltable, svgcharts, text
from indicators.present.htmltable import Column
from indicators.present.state import PEER_GROUP_LABELS, PEER_GROUPS
from indicators.products import availability, local_data
from ui import frame, markup


def render() -> None:
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
        spine = svgcharts.spine_svg(profile, name)
        if spine is not None:
            markup.show(spine, key="spine")  # SVG from indicators.present.svgcharts: data escaped, no script
            st.markdown("Each row: England at the centre line; light bar, the range of areas (worst on the left); dark "
                       "bar, the middle half of areas (25th to 75th percentile); the marker is this area, shaped, "
                       "coloured and labelled by its comparison with England; the open diamond is the region. For "
                       "indicators without a better or worse direction, lower values are on the left.")
        else:
            st.info("No indicator has both a value for England and a spread of areas in this build, so there is no "
                    "spine chart.")
        with frame.table_expander("Table: this area, its region and England"):
            table = profile.assign(
                category=[text.CATEGORY_LABELS[text.category(r, r.get("publication_status"))] for r in records])
            markup.show(htmltable.html_table(table, [
                Column("short_title", "Indicator"), Column("period_label", "Period", "period"),
                Column("value", name, "number"), Column("lower_ci_95", "95% lower", "number"),
                Column("upper_ci_95", "95% upper", "number"), Column("numerator", "Count", "count"),
                Column("england_value", "England", "number"), Column("region_value", "Region", "number"),
                Column("category", "Compared with England"), Column("compared_to_region", "Compared with region"),
                Column("area_min", "Lowest area", "number"), Column("area_q25", "25th percentile", "number"),
                Column("area_median", "Median", "number"), Column("area_q75", "75th percentile", "number"),
                Column("area_max", "Highest area", "number"), Column("unit", "Unit")],
                caption=f"{name}, its region and England: each indicator at its latest period"), key="table_spine")

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
                markup.show(htmltable.html_table(
                    [{"peer": r["area_name"], "why": text.peer_reason(r)} for r in members.to_dict("records")],
                    [Column("peer", "Peer"), Column("why", "Why")],
                    caption=f"{len(members)} {'peer' if len(members) == 1 else 'peers'} and why each is one"),
                    key="table_peers")
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
                    markup.show(htmltable.html_table(comparison, [
                        Column("short_title", "Indicator"), Column("period_label", "Period", "period"),
                        Column("value", name, "number"), Column("lower_ci_95", "95% lower", "number"),
                        Column("upper_ci_95", "95% upper", "number"), Column("group_value", "Group value", "number"),
                        Column("group_method", "Group value method"),
                        Column("group_n_areas", "Areas with a value", "count"),
                        Column("compared_to_group", "Compared with group"), Column("unit", "Unit"),
                        Column("value_note", "Note")],
                        caption=f"{name} against the peer group ({PEER_GROUP_LABELS.get(group, group)})"),
                        key="table_peer_comparison")

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
                markup.show(svgcharts.trend_svg(series, row, names), key=f"trend_{row['indicator_id']}")
                if len(set(trends.values())) == 1:
                    st.markdown(text.md_escape(text.trend_sentence("Recent trend", next(iter(trends.values())), row))
                                + ". Shaded bands: 95% intervals.")
                else:
                    st.markdown(" · ".join(text.md_escape(text.trend_sentence(names[r], t, row))
                                           for r, t in trends.items())
                                + ". Shaded bands: 95% intervals.")
                with frame.table_expander():
                    trend_rows, trend_columns = svgcharts.trend_table(series, names)
                    markup.show(htmltable.html_table(
                        trend_rows, trend_columns,
                        caption=f"{row['short_title']} over time ({text.unit_short(row.get('unit'))})"),
                        key=f"table_trend_{row['indicator_id']}")
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
            markup.show(htmltable.html_table(odn, [
                Column("period_label", "Period", "period"), Column("value", "Value", "number"),
                Column("numerator", "Count", "count"), Column("denominator", "Denominator", "count"),
                Column("value_note", "Note"), Column("source_id", "Source")],
                caption="HCV figures of the network, by period"), key="table_odn")
        if not local.empty:
            restricted = local["access"].ne("public")
            st.markdown("**Local and community figures: not official statistics.** Loaded with `indicators import`; "
                        "each row says who collected it, when and how."
                        + (f" {int(restricted.sum())} {'row is' if restricted.sum() == 1 else 'rows are'} "
                           "**restricted**: shown only in this local session, never in a download or export."
                           if restricted.any() else ""))
            titles = {r["indicator_id"]: r.get("short_title") or r["title"] for r in ctx.catalogue.to_dict("records")}
            markup.show(htmltable.html_table(local.assign(
                indicator=local["indicator_id"].map(titles).fillna(local["indicator_id"]),
                shown=["restricted (local session only)" if a != "public" else "public" for a in local["access"]]), [
                Column("indicator", "Indicator"), Column("period_label", "Period", "period"),
                Column("value", "Value", "number"), Column("lower_ci_95", "95% lower", "number"),
                Column("upper_ci_95", "95% upper", "number"), Column("numerator", "Count", "count"),
                Column("denominator", "Denominator", "count"), Column("source", "Source"),
                Column("collected_by", "Collected by"), Column("collection_date", "Collected"),
                Column("method", "Method"), Column("shown", "Access")],
                caption=f"Local and community figures for {name}"), key="table_local")

        st.header("Comparisons that are not possible, and why")
        missing = text.not_possible(profile)
        if missing:
            markup.show(htmltable.html_table(missing, [
                Column("indicator", "Indicator"), Column("period", "Period"), Column("reason", "Why")],
                caption=f"Indicators that cannot be compared for {name}, and why"), key="table_not_possible")
        else:
            st.markdown("Every indicator could be compared.")
        frame.download_buttons(ctx, profile.assign(area_code=code, area_name=name), list(profile["indicator_id"]),
                               "area-profile", f"Area profile: {name}", key="area")


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
