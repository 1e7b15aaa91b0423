"""Area profile: every indicator for one area against England, its region and a chosen peer group, with trends and what cannot be compared."""

import streamlit as st

from indicators.present import glossary, svgcharts, text
from indicators.present import profile as words
from indicators.present.state import PEER_GROUP_LABELS
from indicators.products import availability, downloads
from ui import embed, foi, frame, markup


URL_NAMES = ("area", "indicator", "period", "peers")  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)
    code = ctx.state.area
    md = text.md_escape
    say = glossary.linker()  # a sentence as Markdown, its terms linked to the glossary at their first use

    if not code:
        st.title("Area profile")
        st.info(say(words.CHOOSE_AREA))
    else:
        info = ctx.wh.q("area", code) or {}
        name = ctx.area_name(code)
        st.title(md(name))
        st.markdown(say(words.area_line(info, code)))
        profile = ctx.wh.q("area_profile", code)

        st.header("At a glance")
        st.markdown(say(words.GLANCE_INTRO))
        for england, region in words.glance(name, profile, info.get("region_name")):
            st.markdown(f"- {say(england)}" + (f"\n    - {say(region)}" if region else ""))
        caveat = words.deaths_caveat(name, profile)
        if caveat:
            st.markdown(say(caveat))
        missing = words.missing_sentence(name, profile)
        if missing:
            st.markdown(say(missing))

        st.header("Against England and the region")
        spine = svgcharts.spine_svg(profile, name)
        if spine is not None:
            markup.show(spine, key="spine")  # SVG from indicators.present.svgcharts: data escaped, no script
            st.markdown(say(words.SPINE_EXPLAINED))
            embed.spine_embed(code, name, len(profile))
        else:
            st.info(words.NO_SPINE)
        with frame.table_expander("Table: this area, its region and England"):
            markup.show(words.spine_table(profile, name), key="table_spine")

        st.header("Against a peer group")
        group_view = None  # the group's values, for the CSV
        peers = ctx.wh.q("peer_groups", code)
        available = words.peer_groups_available(peers)
        with_members = [g for g in available if (peers["peer_group"] == g).any()]
        if not with_members:
            st.info(words.NO_PEERS)
        else:
            group = frame.page_choice(ctx, "peers", "Peer group", available, PEER_GROUP_LABELS.get,
                                      default=with_members[0], page="area", help=words.PEER_GROUP_HELP)
            members = peers[peers["peer_group"] == group]
            if members.empty:
                st.info(say(text.peer_group_missing(group)))
            else:
                left, right = st.columns([2, 3])
                with left:
                    titles = dict(zip(ctx.catalogue["family"], ctx.catalogue["family_title"]))
                    for i, table in enumerate(words.peers_tables(members, titles)):
                        markup.show(table, key=f"table_peers_{i}")
                with right:
                    comparison = ctx.wh.q("peer_comparison", code, group)
                    group_view = downloads.group_rows(comparison, f"{PEER_GROUP_LABELS[group]} of {name}")
                    sentences = words.peer_sentences(name, comparison, ctx.indicator)
                    st.markdown(say(words.peer_lead(name) if sentences else text.no_peer_figures(name)))
                    for sentence in sentences:
                        st.markdown(f"- {say(sentence)}")
                    with frame.table_expander("Table: against the peer group"):
                        markup.show(words.peer_comparison_table(comparison, name, group),
                                    key="table_peer_comparison")

        st.header("Over time")
        names = words.trend_names(name, info)
        charts, single = words.trends(profile, lambda i: ctx.wh.q("trend_series", i, code), names)
        columns = st.columns(2)
        for n, chart in enumerate(charts):
            with columns[n % 2]:
                markup.show(chart.svg, key=f"trend_{chart.indicator_id}")
                st.markdown(say(chart.caption))
                with frame.table_expander():
                    markup.show(chart.table, key=f"table_trend_{chart.indicator_id}")
                embed.trend_embed(code, name, chart.indicator_id, chart.short_title)
        if single:
            st.markdown(say(words.single_period_sentence(single)))
        if not charts and not single:
            st.info(say(words.no_trends_sentence(name)))

        st.header("Other figures: networks and local data")
        odn = ctx.wh.q("odn_values_for_area", code)
        local = ctx.wh.q("local_values", True)  # this local session may show its restricted rows
        local = local[local["area_code"] == code]
        if odn.empty and local.empty:
            st.markdown(say(words.no_other_figures(name)))
        if not odn.empty:
            st.markdown(f"**{md(availability.odn_caption(odn))}**")
            markup.show(words.odn_table(odn), key="table_odn")
        if not local.empty:
            st.markdown(f"**{md(words.LOCAL_HEAD)}** {say(words.local_sentence(local))}")
            titles = {r["indicator_id"]: r.get("short_title") or r["title"] for r in ctx.catalogue.to_dict("records")}
            markup.show(words.local_table(local, titles, name), key="table_local")

        st.header("Comparisons that are not possible, and why")
        missing_table = words.not_possible_table(profile, name)
        if missing_table:
            markup.show(missing_table, key="table_not_possible")
        else:
            st.markdown(words.ALL_COMPARED)
        foi.area_section(ctx, code)
        pairs = downloads.view_pairs(profile)
        view = downloads.with_comparators(
            profile.assign(area_code=code, area_name=name), ctx.wh.q("comparator_rows", pairs),
            ctx.wh.q("comparator_rows", pairs, (info.get("region_code"),)) if info.get("region_code") else None,
            group_view)
        frame.download_buttons(ctx, view, list(profile["indicator_id"]), "area-profile", f"Area profile: {name}",
                               key="area", name=[name, code, "area-profile", "latest-periods"])


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
