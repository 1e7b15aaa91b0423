"""About the data: definitions, sources and licences, freshness, methods, what is not published, and how to cite."""

import streamlit as st

from indicators.present import about as words
from indicators.present import text
from ui import frame


URL_NAMES = ("indicator",)  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)
    md = text.md_escape

    st.title("About the data")
    st.markdown(words.INTRO)

    st.header("Indicators and their definitions")
    catalogue = ctx.catalogue
    fresh = words.freshness(ctx.wh.q("indicator_summary"))
    for row in catalogue.to_dict("records"):
        with st.expander(md(words.heading(row))):
            st.markdown(md(row.get("definition") or ""))
            caveats = text.caveat_list(row.get("caveats"))
            if caveats:
                st.markdown("**Caveats:**\n" + "\n".join(f"- {md(c)}" for c in caveats))
            st.dataframe(words.definition_fields(row, fresh.get(row["indicator_id"], {})), hide_index=True,
                         width="stretch")
            deciles = ctx.wh.q("deprivation_deciles", row["indicator_id"])
            if not deciles.empty:
                st.markdown(md(words.deprivation_sentence(deciles, row.get("unit"))))
                st.dataframe(words.deprivation_rows(deciles, row.get("unit")), hide_index=True, width="stretch")

    st.header("How fresh each indicator is")
    st.dataframe(words.freshness_rows(catalogue, fresh), hide_index=True, width="stretch")

    st.header("Sources and licences")
    st.dataframe(words.source_rows(ctx.wh.q("source_summary")), hide_index=True, width="stretch",
                 column_config={"Url": st.column_config.LinkColumn("URL")})
    st.markdown(md(words.LICENCE))

    st.header("Methods")
    for name, description, reference in text.METHODS:
        st.markdown(f"**{md(name)}.** {md(description)}  \n*{md(reference)}*")

    st.header("What is not published, and why")
    for title, status, why in words.not_published(catalogue, ctx.wh.q("families")):
        st.markdown(f"- **{md(title)}**" + (f" ({md(status)})" if status else "") + f": {md(why)}")
    st.markdown(md(words.MISSING_WORDS))

    st.header(words.GLOSSARY_HEAD, anchor=words.GLOSSARY_ANCHOR)
    st.markdown(md(words.GLOSSARY_INTRO))
    for anchor, term, definition in words.glossary_entries():
        st.subheader(md(term), anchor=anchor)
        st.markdown(md(definition))


    st.header("How to add data")
    for what, commands in words.ADDING_DATA:
        st.markdown(md(what))
        st.code(commands, language="bash")

    st.header("How to cite")
    st.code(frame.citation(ctx, "About the data"), language=None, wrap_lines=True)
    st.markdown(md(words.build_line(ctx.wh.build_id, ctx.wh.build)))


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
