"""About the data: definitions, sources and licences, freshness, methods, what is not published, and how to cite."""

import streamlit as st

from indicators.catalogue import FAMILY_TITLES
from indicators.present import text
from ui import frame

POLARITY_WORDS = {"high_is_good": "higher is better", "low_is_good": "lower is better",
                  "no_polarity": "neither higher nor lower is better"}


def render() -> None:
    ctx = frame.context(("indicator",))

    st.title("About the data")
    st.markdown("Every figure here comes from an official publication, is shown with its 95% interval where one "
                "exists, and is labelled when it is suppressed, missing or not published. Nothing is estimated to "
                "fill a gap.")

    st.header("Indicators and their definitions")
    catalogue = ctx.catalogue
    summary = ctx.wh.q("indicator_summary")
    freshness = {r["indicator_id"]: r for r in summary.to_dict("records")}
    for row in catalogue.to_dict("records"):
        fresh = freshness.get(row["indicator_id"], {})
        with st.expander(f"{FAMILY_TITLES.get(row['family'], row['family'])}: {row['title']}"):
            st.markdown(text.md_escape(row.get("definition") or ""))
            caveats = text.caveat_list(row.get("caveats"))
            if caveats:
                st.markdown("**Caveats:**\n" + "\n".join(f"- {text.md_escape(c)}" for c in caveats))
            st.dataframe([
                {"Field": "Unit", "Value": row.get("unit")},
                {"Field": "Type", "Value": row.get("value_type")},
                {"Field": "Direction", "Value": POLARITY_WORDS.get(row.get("polarity"), row.get("polarity"))},
                {"Field": "Interval method", "Value": row.get("ci_method")},
                {"Field": "Period type", "Value": row.get("period_type")},
                {"Field": "Suppression", "Value": row.get("suppression")},
                {"Field": "Publisher", "Value": f"{row.get('publisher')} ({row.get('publisher_id')})"},
                {"Field": "Publication status", "Value": row.get("publication_status")},
                {"Field": "Periods in this build", "Value": (
                    f"{fresh.get('first_period')} to {fresh.get('latest_period')} ({fresh.get('n_periods')})"
                    if fresh.get("n_periods") else "no data in this build")},
                {"Field": "Areas with a value in the latest period", "Value": str(fresh.get("n_areas_with_value", 0))},
                {"Field": "Indicator id", "Value": row.get("indicator_id")},
            ], hide_index=True, width="stretch")

    st.header("How fresh each indicator is")
    st.dataframe([{"Indicator": r["title"],
                   "Latest period": text.period_display(freshness.get(r["indicator_id"], {}).get("latest_period"))
                   or "no data in this build",
                   "Periods": int(freshness.get(r["indicator_id"], {}).get("n_periods") or 0),
                   "Areas with a value (latest)": int(freshness.get(r["indicator_id"], {}).get("n_areas_with_value") or 0)}
                  for r in catalogue.to_dict("records")], hide_index=True, width="stretch")

    st.header("Sources and licences")
    sources = ctx.wh.q("source_summary")
    wanted = ["publisher", "title", "file", "url", "licence", "retrieved", "sha256"]
    st.dataframe(sources[[c for c in wanted if c in sources.columns]].rename(columns=str.capitalize),
                 hide_index=True, width="stretch",
                 column_config={"Url": st.column_config.LinkColumn("URL")})
    st.markdown("Contains public sector information licensed under the Open Government Licence v3.0. "
               "sha256 is the checksum of the exact file this build read.")

    st.header("Methods")
    for name, description, reference in text.METHODS:
        st.markdown(f"**{text.md_escape(name)}.** {text.md_escape(description)}  \n*{text.md_escape(reference)}*")

    st.header("What is not published, and why")
    families = set(catalogue["family"])
    statuses = catalogue[catalogue["publication_status"].fillna("open") != text.OPEN_STATUS]
    for row in statuses.to_dict("records"):
        st.markdown(f"- **{text.md_escape(row['title'])}** ({text.md_escape(row['publication_status'])}): "
                    f"{text.md_escape(row.get('status_note') or '')}")
    open_with_note = catalogue[(catalogue["publication_status"].fillna("open") == text.OPEN_STATUS)
                               & (catalogue["status_note"].fillna("").str.strip() != "")]
    for row in open_with_note.to_dict("records"):
        st.markdown(f"- **{text.md_escape(row['title'])}** (open, but not per local authority): "
                    f"{text.md_escape(row['status_note'])}")
    for family, (title, why) in text.NOT_PUBLISHED_FAMILIES.items():
        if family not in families:
            st.markdown(f"- **{text.md_escape(title)}**: {text.md_escape(why)}")
    st.markdown("Where a figure is missing the dashboard says which of these it is: *suppressed* (withheld by the "
                "publisher), *no data* (not in the files used for this build), *not published* (no open per-area "
                "series) or *not compared* (a value without a valid interval).")

    st.header("How to cite")
    build = ctx.wh.build
    st.code(frame.citation(ctx, "About the data"), language=None, wrap_lines=True)
    st.markdown(f"Build {text.md_escape(ctx.wh.build_id)}, built {text.md_escape(build.get('built_at') or 'unknown')}.")


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
