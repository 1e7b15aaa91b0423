"""Scorecard: every current area against England in one table (completion rates, drug-misuse deaths, hepatitis C, naloxone), or why a figure is missing; how much of the lottery can be seen."""

import streamlit as st

from indicators.present import scorecard as sc
from indicators.present import text
from indicators.products import foi as requests
from ui import foi, frame, markup


URL_NAMES = ("area", "region", "sort")  # what this page writes to its address


def render() -> None:
    ctx = frame.context(URL_NAMES)
    st.title("Scorecard: the postcode lottery in one table")
    data = ctx.wh.q("scorecard")
    if data.empty:
        st.info("This warehouse has no scorecard: it was built before the scorecard existed. Rebuild it with "
                "`uv run indicators build`.")
        return
    st.markdown(sc.INTRO)
    st.subheader("How much of the lottery can be seen today")
    st.markdown("\n".join(f"- {text.md_escape(sentence)}" for sentence in sc.summary(data)))

    regions = sc.regions(data)
    orders = sc.sort_options(data)
    left, right = st.columns(2)
    with left:
        region = frame.page_select(ctx, "region", "Region", [""] + list(regions), default="", page="scorecard",
                                   format_func=lambda c: regions.get(c, "Every region"))
    with right:
        sort = frame.page_select(ctx, "sort", "Order", list(orders), format_func=orders.get, default="area",
                                 page="scorecard", help="By a column: its figures worst or best first (by the "
                                                        "comparison with England, then the value); areas "
                                                        "without a figure last.")
    rows = sc.chosen(data, region or None, sort)
    markup.show(sc.table_html(rows, sc.app_area_link, sc.caption(regions.get(region), orders[sort]),
                              lead=sc.sorted_column(sort)), key="scorecard_table")
    st.markdown(text.md_escape(sc.TABLE_HELP))
    with st.expander("What the cells say"):
        markup.show(sc.legend_html(), key="scorecard_legend")

    asks = sc.areas_without_open_figures(rows, requests.request_families())
    if asks:
        st.subheader("Ask a council for what it does not publish")
        st.markdown(text.md_escape(sc.ASK_HELP))
        default = ctx.state.area if ctx.state.area in asks else None
        names = dict(zip(rows["area_code"], rows["area_name"]))
        code = st.selectbox("Area", list(asks), index=list(asks).index(default) if default else None,
                            format_func=lambda c: names.get(c, c), placeholder="Choose an area",
                            key="scorecard_ask")
        if code:
            foi.area_section(ctx, code)
    frame.download_buttons(ctx, sc.csv_rows(rows), sc.indicator_ids(rows), "scorecard", "Scorecard", key="scorecard")


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
