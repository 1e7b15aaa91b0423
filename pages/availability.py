"""Data availability: for every area and each family, what is published openly and for which period (map, table, national summary)."""

import streamlit as st

from indicators.present import text
from indicators.present.charts import GEO_PLOT_CONFIG
from indicators.products import availability as av
from ui import foi, frame


URL_NAMES = ("area", "family")  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)

    st.title("Data availability")
    st.markdown("The dashboard puts treatment completions next to drug-related deaths, hepatitis C treatment and "
                "take-home naloxone. Only some of these are published for each local authority: where figures are "
                "missing, that gap is itself part of the postcode lottery. This page is built from the data loaded "
                "now, so it changes as data arrive.")

    families = ctx.wh.q("families")
    matrix = ctx.wh.q("availability_matrix")
    summary = av.national_summary(matrix, families)
    titles = av.family_titles(families)
    geojson = ctx.wh.q("map_geojson")

    st.subheader("England at a glance")
    st.markdown("\n".join(f"- {sentence}" for sentence in summary))

    family = frame.page_choice(ctx, "family", "Family", av.side_by_side(families), titles.get, page="availability")
    st.plotly_chart(av.availability_map(matrix, geojson, family, titles[family]), width="stretch",
                    config=GEO_PLOT_CONFIG)
    st.markdown("\n".join(f"- {av.STATUS_SYMBOLS[s]} **{av.STATUS_LABELS[s]}**: {av.STATUS_DESCRIPTIONS[s]}"
                          for s in av.STATUSES))

    listed = av.family_sources(ctx.catalogue, family)
    if not listed.empty:
        with st.expander(f"Where {titles[family].lower()} figures exist"):
            st.dataframe(listed[["short_title", "source", "status", "geography", "period", "url", "note"]],
                         hide_index=True, width="stretch",
                         column_config={"url": st.column_config.LinkColumn("URL")})
    foi.availability_section(ctx, family)

    st.subheader("Every area, every family")
    table = av.availability_table(matrix, families)
    chosen = ctx.state.area
    if chosen and table["Code"].eq(chosen).any():
        st.markdown(f"The area chosen in the Area box, **{text.md_escape(ctx.area_name(chosen))}**, is listed first.")
        table = table.sort_values("Code", key=lambda codes: codes.ne(chosen), kind="stable")
    st.dataframe(table, hide_index=True, width="stretch")
    st.subheader("What the build warned about")
    warnings = ctx.wh.q("build_warnings")
    st.markdown(text.build_warnings_sentence(len(warnings)))
    if len(warnings):
        st.markdown("\n".join(f"- {text.md_escape(message)}" for message in warnings["message"]))

    fetched = av.fetch_status_table(ctx.wh.q("fetch_status"))
    if not fetched.empty:
        st.subheader("The last fetch of each source")
        st.markdown("What happened when this build's files were last fetched from the publishers. A source that "
                    "could not be fetched is retried with the command shown, then `uv run indicators build`.")
        if fetched["Status"].eq(av.NO_FETCH_RECORDED).any():
            st.markdown(av.NO_FETCH_EXPLAINED)
        st.dataframe(fetched, hide_index=True, width="stretch")
    frame.download_buttons(ctx, matrix, [], "data-availability", "Data availability", key="availability",
                           name=["all-families", "data-availability"])


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
