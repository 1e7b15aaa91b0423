"""Home: the map of the chosen indicator and period, by comparison with England or by value, with a London inset and its table twin."""

import streamlit as st

from indicators.present import text
from indicators.present.state import COLOUR_MODE_LABELS, COLOUR_MODES
from ui import frame, markup, nav


def render() -> None:
    ctx = frame.context(("indicator", "period", "area", "colour"))
    meta = ctx.indicator(ctx.state.indicator)

    if not meta:
        st.title("Map")
        st.info("This build has no indicators to map.")
    else:
        indicator_id, period, area = ctx.state.indicator, ctx.state.period, ctx.state.area
        st.title(meta["title"])
        england = ctx.wh.q("benchmark_value", indicator_id, period) if period else None
        if period is None:
            st.info(text.no_data_message(meta, "the map has nothing to colour (no area is drawn as zero)"))
        elif not england or text.is_missing(england.get("value")):
            st.info(f"England’s figure for {text.period_display(period)} is not in this build, so no area can be "
                    "compared with England: colour by value instead, or see the table.")
        else:
            st.markdown(f"**England, {text.period_display(period)}:** {text.format_value(england['value'], meta['unit'])} "
                        f"(95% interval "
                        f"{text.format_interval(england['lower_ci_95'], england['upper_ci_95'], meta['unit'])}). "
                        f"Unit: {text.md_escape(meta['unit'])}.")
        with st.expander("What this indicator measures, and its caveats"):
            st.markdown(text.md_escape(meta.get("definition") or ""))
            caveats = text.caveat_list(meta.get("caveats"))
            if caveats:
                st.markdown("\n".join(f"- {text.md_escape(c)}" for c in caveats))
            st.markdown(f"Source: {text.md_escape(meta.get('publisher'))}. More in *About the data*.")
        colour = frame.page_choice(ctx, "colour", "Colour areas by", list(COLOUR_MODES), COLOUR_MODE_LABELS.get,
                                   default="comparison", page="map",
                                   help="Compared with England: significance at 95%. Value: fifths of the areas "
                                        "with a value (quantile classes).")
        view = ctx.wh.map_view(indicator_id, period, colour, area, frame.params_for(ctx))
        values, table, legend = view.values, view.table, view.legend
        left, right = st.columns([3, 1], gap="small")
        with left:
            markup.show(view.main, key="map_main")  # SVG from indicators.present.svgmap: data escaped, no script
            st.markdown("Select an area (click it, or Tab to it and press Enter) to open its profile. Point at an "
                        "area for its value, 95% interval, count and period. The table below lists every area.")
        with right:
            markup.show(view.legend_html, key="map_legend")
            if view.inset is not None:
                st.markdown("**London boroughs, enlarged**")
                markup.show(view.inset, key="map_inset")
            with st.expander("What the colours mean"):
                st.markdown("\n".join(
                    f"- **{text.md_escape(label)}**: "
                    f"{text.md_escape(text.CATEGORY_MEANINGS.get(key, 'a fifth of the areas with a value, by value.'))}"
                    for key, label, _ in legend))
        if area:
            st.page_link(nav.page("area"), label=f"Open the profile of {ctx.area_name(area)}", icon=":material/location_on:",
                         query_params=frame.params_for(ctx))

        st.subheader("The same data as a table")
        # On request, like Our World in Data's table tab: the sortable table's JavaScript (about 1.3 MB) would
        # otherwise hold back the first drawing of the whole page, map included, by about a second.
        if st.toggle("Show the table of every area (sortable)", key="map_table",
                     help="Area, region, value, 95% interval, count, comparison with England, period and notes."):
            twin = table.assign(compared=table["category_label"],
                                period=[text.period_display(p) for p in table["period_label"]])
            columns = {"area_name": "Area", "region_name": "Region", "value": f"Value, {meta['unit']}",
                       "lower_ci_95": "95% lower", "upper_ci_95": "95% upper", "numerator": "Count",
                       "denominator": "Denominator", "compared": "Compared with England", "period": "Period",
                       "value_note": "Note", "area_code": "Code"}
            columns = {k: v for k, v in columns.items()
                       if k not in ("numerator", "denominator") or twin[k].notna().any()}
            st.dataframe(twin[list(columns)].rename(columns=columns), hide_index=True, width="stretch",
                         column_config={columns["value"]: st.column_config.NumberColumn(format="%.1f"),
                                        "95% lower": st.column_config.NumberColumn(format="%.1f"),
                                        "95% upper": st.column_config.NumberColumn(format="%.1f")})
        else:
            st.markdown("Each area on the map is also a link that names its value, interval and comparison, so "
                        "the map can be read with a screen reader or the keyboard. The CSV below has every column.")
        frame.download_buttons(ctx, values.assign(indicator_id=indicator_id), [indicator_id], "map", meta["title"],
                               key="map")


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
