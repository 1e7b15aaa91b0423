"""Compare areas: a league table with 95% intervals and rank intervals, for all areas or a chosen area's peer group."""

from dataclasses import replace

import streamlit as st

from indicators.present import charts, text
from indicators.present.state import PEER_GROUP_LABELS, PEER_GROUPS
from indicators.products import downloads
from ui import frame

ALL = "all"


URL_NAMES = ("indicator", "period", "area", "peers")  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)
    meta = ctx.indicator(ctx.state.indicator)

    st.title("Compare areas")
    indicator_id, period, code = ctx.state.indicator, ctx.state.period, ctx.state.area
    if not meta or period is None:
        st.info(text.md_escape(text.no_data_message(meta, "there is nothing to rank")))
    else:
        st.markdown(f"**{text.md_escape(meta['title'])}**, {text.period_display(period)}. Rank 1 is the best "
                    f"({'highest' if meta['polarity'] != 'low_is_good' else 'lowest'} value). The 95% rank interval "
                    "says where an area could rank once chance is allowed for.")
        peers = ctx.wh.q("peer_groups", code, meta.get("family")) if code else None
        options = [ALL] + ([g for g in PEER_GROUPS if (peers["peer_group"] == g).any() or g == "cipfa"]
                           if peers is not None else [])
        labels = {ALL: "All areas in England"}
        labels.update({g: f"{PEER_GROUP_LABELS[g]} of {ctx.area_name(code)}" for g in PEER_GROUPS})
        # Without an area there is nothing to choose between: no one-option radio, the sentence below says why.
        choice = (frame.page_choice(ctx, "peers", "Show", options, labels.get, default=ALL, page="compare")
                  if len(options) > 1 else ALL)
        if choice == ALL:
            ctx.state = replace(ctx.state, peers=None)
        if not code:
            st.markdown("Choose an area in the Area box to compare it with its peers and highlight it.")
        members = peers[peers["peer_group"] == choice] if choice != ALL else None
        if members is not None and members.empty:
            st.info(text.peer_group_missing(choice))
        if members is not None and choice == "similar" and members["similar_variables"].notna().any():
            family = meta.get("family_title") or meta.get("family") or ""
            st.markdown(text.md_escape(text.similar_set_caption(members["similar_variables"].iloc[0],
                                                                [family.lower()])) + ".")
        grouped = members is not None
        table, info = ctx.wh.q("league_table", indicator_id, period, code if grouped else None,
                               choice if grouped else None)
        group = info["group"]
        england = ctx.wh.q("benchmark_value", indicator_id, period)
        name = text.md_escape(ctx.area_name(code)) if code else ""
        if group is not None and not text.is_missing(group["group_value"]):
            st.markdown(f"The peers' value: **{text.format_figure(group['group_value'], meta)}** "
                        f"({'pooled' if group['group_method'] == 'pooled' else 'average of their values'}, "
                        f"{group['n_with_value']} of {group['n_members']} peers with a value; {name} itself is not "
                        f"part of it). {name} compared with it at 95%: "
                        f"**{text.md_escape(group['compared_to_group'])}**.")
        elif group is not None:
            st.info(f"No value for {name}'s peers, so no comparison with them: {text.md_escape(group['reason'])}.")
        if not info["ranked"] and info["n_with_value"]:
            st.info(f"No ranks: {text.md_escape(info['rank_reason'])}. The table is in order of value.")
        ranked = table[table["value"].notna()]
        if ranked.empty:
            st.info("No area in this selection has a value for this period.")
        else:
            line = group if group is not None and not text.is_missing(group["group_value"]) else None
            rows, focus = (charts.league_shortlist(table, code, peers, PEER_GROUPS) if choice == ALL
                           else (table, None))
            if len(rows) < len(ranked):  # all of England is a very long chart: a shortlist first, all on request
                if st.toggle(f"Show all {len(ranked)} areas in the chart", key="league_all"):
                    rows = table
                else:
                    st.markdown(text.md_escape(text.league_shortlist_sentence(
                        len(rows), len(ranked), ctx.area_name(code) if focus else None,
                        PEER_GROUP_LABELS.get(focus), charts.LEAGUE_EDGE)))
            st.plotly_chart(charts.league_figure(rows, meta, (england or {}).get("value"), line, code), theme=None,
                            config=charts.PLOT_CONFIG, key="league")
        reasons = {}
        if members is not None:
            reasons = {r["area_code"]: text.peer_reason(r) for r in members.to_dict("records")}
            reasons[code] = "the chosen area"
        shown = table.assign(
            rank_interval=[f"{int(lo)} to {int(hi)}" if not (text.is_missing(lo) or text.is_missing(hi)) else "–"
                           for lo, hi in zip(table["rank_lower"], table["rank_upper"])],
            compared=[text.category_label(r, meta.get("publication_status")) for r in table.to_dict("records")],
            why=[reasons.get(c, "") for c in table["area_code"]])
        # Rank and area first and pinned, then the figures: on a phone the table scrolls sideways under them.
        columns = {"rank": "Rank", "area_name": "Area", "value": "Value", "lower_ci_95": "95% lower",
                   "upper_ci_95": "95% upper", "compared": "Compared with England",
                   "rank_interval": "95% rank interval", "region_name": "Region", "numerator": "Count",
                   "denominator": "Denominator"}
        if grouped:
            columns["compared_to_group"] = "Compared with its peers"
            columns["why"] = "Why a peer"
        columns["value_note"] = "Note"
        columns = {k: v for k, v in columns.items() if k not in ("numerator", "denominator") or shown[k].notna().any()}
        st.subheader("League table")
        st.dataframe(shown[list(columns)].rename(columns=columns), hide_index=True, width="stretch",
                     column_config={"Rank": st.column_config.NumberColumn(format="%d", pinned=True, width=48),
                                    "Area": st.column_config.TextColumn(pinned=True),
                                    "Value": st.column_config.NumberColumn(help=f"Unit: {meta['unit']}",
                                                                           format=text.value_column_format(meta),
                                                                           width="small"),
                                    **{c: st.column_config.NumberColumn(format=text.value_column_format(meta))
                                       for c in ("95% lower", "95% upper")}})
        group_row = (downloads.group_value_row(indicator_id, period, group, labels[choice])
                     if group is not None and not text.is_missing(group["group_value"]) else None)
        view = downloads.with_comparators(table.assign(indicator_id=indicator_id),
                                          ctx.wh.q("comparator_rows", ((indicator_id, period),)), group=group_row)
        frame.download_buttons(ctx, view, [indicator_id], "league-table", f"Compare areas: {meta['title']}",
                               key="compare", name=[indicator_id, period, "league-table",
                                                    *([ctx.area_name(code), code, choice] if grouped else [])])


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
