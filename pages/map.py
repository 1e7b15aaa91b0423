"""Home: the map of the chosen indicator and period, by comparison with England or by value, with a London inset and its table twin."""

import streamlit as st

from indicators.present import glossary, mapview, text
from indicators.present.state import COLOUR_MODE_LABELS, COLOUR_MODES, default_period
from indicators.products import downloads
from ui import embed, frame, markup, nav


URL_NAMES = ("indicator", "period", "area", "colour")  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)
    meta = ctx.indicator(ctx.state.indicator)
    say = glossary.linker()  # a sentence as Markdown, its terms linked to the glossary at their first use

    if not meta:
        st.title("Map")
        st.info(mapview.NO_INDICATORS)
    else:
        indicator_id, period, area = ctx.state.indicator, ctx.state.period, ctx.state.area
        st.title(text.md_escape(meta["title"]))
        st.markdown(text.md_escape(mapview.INTRO))
        england = ctx.wh.q("benchmark_value", indicator_id, period) if period else None
        notice = mapview.map_notice(england, meta, period, mapview.OTHER_COLOURING)
        lead = mapview.england_sentence(england, meta, period)
        if notice:
            st.info(say(notice))
        elif lead:
            st.markdown(f"**{text.md_escape(lead[0])}** {say(lead[1])}")
        with st.expander(mapview.DEFINITION_HEAD):
            st.markdown(say(meta.get("definition") or ""))
            caveats = text.caveat_list(meta.get("caveats"))
            if caveats:
                st.markdown("\n".join(f"- {say(c)}" for c in caveats))
            st.markdown(say(mapview.more_line(meta)))
        colour = frame.page_choice(ctx, "colour", mapview.COLOUR_LABEL, list(COLOUR_MODES), COLOUR_MODE_LABELS.get,
                                   default="comparison", page="map", help=mapview.COLOUR_HELP)
        view = ctx.wh.map_view(indicator_id, period, colour, area, nav.link_params(ctx, "area"))
        values, table, legend = view.values, view.table, view.legend
        left, right = st.columns([3, 1], gap="small")
        with left:
            with st.container(key="map_legend_narrow"):  # above the map where the columns stack (a phone)
                markup.show(view.legend_html, key="map_legend_above")
            markup.show(view.main, key="map_main")  # SVG from indicators.present.svgmap: data escaped, no script
            st.markdown(say(mapview.MAP_HELP))
            if foi_note := mapview.foi_note(values):
                st.markdown(say(foi_note))
        with right:
            with st.container(key="map_legend_wide"):
                markup.show(view.legend_html, key="map_legend")
            if view.inset is not None:
                st.markdown(f"**{mapview.INSET_TITLE}**")
                markup.show(view.inset, key="map_inset")
            with st.expander(mapview.MEANINGS_HEAD):
                st.markdown("\n".join(f"- **{text.md_escape(label)}**: {say(meaning)}"
                                       for label, meaning in mapview.colour_meanings(legend)))
        if area:
            st.page_link(nav.page("area"), label=text.md_escape(mapview.profile_link(ctx.area_name(area))),
                         icon=":material/location_on:", query_params=nav.link_params(ctx, "area"))

        st.subheader(mapview.TABLE_HEAD)
        # On request, like Our World in Data's table tab: the sortable table's JavaScript (about 1.3 MB) would
        # otherwise hold back the first drawing of the whole page, map included, by about a second.
        if st.toggle(mapview.TABLE_TOGGLE, key="map_table", help=mapview.TABLE_HELP):
            columns = {c.key: c.header for c in mapview.table_columns(meta, table)}
            value = columns["value"]
            st.dataframe(mapview.table_rows(table)[list(columns)].rename(columns=columns), hide_index=True,
                         width="stretch", column_config={
                             name: st.column_config.NumberColumn(format="%.1f")
                             for name in (value, "95% lower", "95% upper")})
        else:
            st.markdown(say(mapview.TABLE_INSTEAD))
        england_rows = ctx.wh.q("comparator_rows", ((indicator_id, period),)) if period else None
        frame.download_buttons(ctx, downloads.with_comparators(values.assign(indicator_id=indicator_id), england_rows),
                               [indicator_id], "map", meta["title"], key="map", name=[indicator_id, period, "map"])
        embed.map_embed(meta, indicator_id, period, default_period(ctx.periods(indicator_id)))


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
