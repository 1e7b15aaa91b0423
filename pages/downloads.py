"""Download the data: every published figure at once, as a zip of CSV files with a README, as Parquet, or as the DuckDB warehouse."""

import streamlit as st

from indicators.present import about as words
from indicators.present import text
from indicators.products import downloads
from ui import frame, nav

URL_NAMES = ("indicator",)  # what this page writes to its address


def render() -> None:
    ctx = frame.context(URL_NAMES)
    md = text.md_escape
    build_date = str(ctx.wh.build.get("build_date") or "")
    mark = frame.is_synthetic(ctx.wh)

    st.title("Download the data")
    st.markdown(md(words.DOWNLOADS_INTRO))
    try:
        files = ctx.wh.export_tables()
        st.subheader("Every indicator, as CSV files")
        st.markdown(md(words.downloads_zip_sentence(files)))
        st.download_button("Download the zip (CSV files and README)", lambda: ctx.wh.bulk_zip(),
                           file_name=downloads.download_name(None, build_date, "data", "zip", synthetic_data=mark),
                           mime="application/zip", key="dl_bulk_zip", on_click="ignore", type="primary")
        st.subheader("Every indicator, as Parquet")
        st.markdown(md(words.DOWNLOADS_PARQUET))
        st.download_button("Download the Parquet files (zip)", lambda: ctx.wh.bulk_parquet_zip(),
                           file_name=downloads.download_name(None, build_date, "parquet", "zip", synthetic_data=mark),
                           mime="application/zip", key="dl_bulk_parquet", on_click="ignore")
        st.subheader("The whole warehouse, as a DuckDB file")
        st.markdown(md(words.DOWNLOADS_DUCKDB))
        st.download_button("Download the DuckDB file", lambda: downloads.warehouse_bytes(ctx.wh.path),
                           file_name=downloads.download_name(None, build_date, "warehouse", "duckdb",
                                                             synthetic_data=mark),
                           mime="application/octet-stream", key="dl_bulk_duckdb", on_click="ignore")
        indicator = ctx.state.indicator
        if indicator:
            st.subheader("One indicator")
            st.markdown(md(words.downloads_one_sentence(ctx.indicator(indicator).get("title", indicator))))
            st.download_button("Download this indicator (zip)",
                               lambda: ctx.wh.bulk_zip(indicator),
                               file_name=downloads.download_name(indicator, build_date, "data", "zip",
                                                                 synthetic_data=mark),
                               mime="application/zip", key="dl_one_zip", on_click="ignore")
    except Exception as exc:  # a downloads bug must not take the page down; say so instead
        st.warning(f"Downloads are unavailable ({type(exc).__name__}).")
    st.subheader("Licence and how to cite")
    st.markdown(md(words.DOWNLOADS_LICENCE))
    st.page_link(nav.page("about"), label=words.DOWNLOADS_SOURCES_LINK, icon=":material/info:")
    st.code(frame.citation(ctx, "Download the data"), language=None, wrap_lines=True)


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
