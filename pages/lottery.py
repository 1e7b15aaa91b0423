"""The postcode lottery: gap measures, whether the gap is widening and a funnel plot for the chosen indicator, and the balance view of completions against drug-misuse deaths."""

import streamlit as st

from indicators.present import charts, glossary, svgcharts, text
from indicators.present import lottery as words
from indicators.present.state import BALANCE_DEATHS, default_completion
from indicators.products import downloads
from ui import frame, markup

NOT_IN_BUILD = "not available"


URL_NAMES = ("indicator", "period", "area", "completion", "adjusted")  # what this page writes to its address

def render() -> None:
    ctx = frame.context(URL_NAMES)
    meta = ctx.indicator(ctx.state.indicator)
    say = glossary.linker()  # a sentence as Markdown, its terms linked to the glossary at their first use

    st.title(words.TITLE)
    st.markdown(say(words.INTRO))

    indicator_id, period = ctx.state.indicator, ctx.state.period
    st.header(f"How big is the gap: {text.md_escape(meta.get('short_title', 'no indicator'))}")
    if not meta or period is None:
        st.info(text.md_escape(text.no_data_message(meta, "there is no gap to measure")))
    else:
        st.markdown(f"{text.md_escape(meta['title'])}, {text.period_display(period)}; current upper-tier areas.")
        gaps = ctx.wh.q("gap_summary", indicator_id, period)
        if gaps is None:
            st.info("No area has a value for this period.")
        elif not gaps["available"]:
            st.info(text.gap_sentences(gaps, meta, period)[0])
        else:
            for sentence in text.gap_sentences(gaps, meta, period):
                st.markdown(f"- {text.md_escape(sentence)}")
            statement = words.deaths_statement(gaps.get("illustrative_deaths"), meta)
            if statement:
                st.markdown(say(statement))

        st.subheader(words.GAP_CHANGE_HEAD)
        over = ctx.wh.q("gap_over_time", indicator_id)
        st.markdown(say(words.gap_change_sentence(over)))
        if not over["periods"].empty:
            left, right = st.columns([3, 2])
            with left:
                markup.show(svgcharts.gap_time_svg(over["periods"], meta), key="gap_time")
            with right:
                st.markdown(say(words.gap_chart_note()))
            with frame.table_expander():
                markup.show(svgcharts.gap_time_table(over["periods"], meta), key="table_gap_time")

        st.subheader("Funnel plot")
        adjusted = frame.page_toggle(ctx, "adjusted", "Widen the limits for over-dispersion (Spiegelhalter)",
                                     page="lottery",
                                     help="When areas differ more than chance allows, the plain limits flag too many "
                                          "areas. The adjustment widens them by √φ; the chart title says which is "
                                          "shown.")
        funnel = ctx.wh.q("funnel_data", indicator_id, period, bool(adjusted))
        if not funnel["available"]:
            st.info(f"No funnel plot for this indicator and period: {funnel['reason']}.")
        else:
            st.markdown(say(text.overdispersion_sentence(funnel["overdispersion"], funnel["adjusted"])))
            st.markdown(say(words.funnel_counts(funnel["points"], meta, funnel["adjusted"])))
            st.plotly_chart(charts.funnel_figure(funnel, meta, ctx.state.area), theme=None, config=charts.PLOT_CONFIG,
                            key="funnel")
            with frame.table_expander():
                points = funnel["points"].rename(columns={
                    "area_name": "Area", "region_name": "Region", "value": f"Value, {meta['unit']}",
                    "lower_ci_95": "95% lower", "upper_ci_95": "95% upper", "x": funnel["x_label"],
                    "numerator": "Count", "denominator": "Denominator", "position": "Position in the funnel",
                    "area_code": "Code"})
                st.dataframe(points, hide_index=True, width="stretch")

    st.header(words.BALANCE_HEAD)
    deaths = ctx.indicator(BALANCE_DEATHS)
    completions = list(ctx.choices.completions)
    if not deaths or not completions:
        st.info(say(words.balance_needs()))
    else:
        completion = frame.page_choice(ctx, "completion", words.COMPLETION_LABEL, completions,
                                       lambda c: ctx.indicator(c).get("short_title", c),
                                       default=default_completion(ctx.choices),
                                       page="lottery")
        x_meta = ctx.indicator(completion)
        view = ctx.wh.q("balance_view", completion, BALANCE_DEATHS)
        balance = view["frame"]
        both = balance.dropna(subset=["x_value", "y_value"])
        st.markdown(say(words.BALANCE_WHY))
        st.markdown(say(words.balance_periods(x_meta, deaths, view)))
        st.markdown(say(words.balance_lines(x_meta, deaths, view["england"])))
        if both.empty:
            st.info(say(words.balance_nothing(x_meta, deaths)))
        else:
            if len(both) < charts.BIVARIATE_MIN_AREAS:
                st.warning(say(words.balance_too_few(len(both))))
            st.plotly_chart(charts.balance_figure(balance, x_meta, deaths, view["england"], ctx.state.area), theme=None,
                            config=charts.PLOT_CONFIG, key="balance")
            counts = words.quadrant_counts(charts.balance_quadrants(both), charts.QUADRANT_NAMES.values())
            if counts:
                st.markdown(say(counts))
            with frame.table_expander():
                st.dataframe(both.assign(quadrant=charts.balance_quadrants(both)).rename(columns={
                    "area_name": "Area", "region_name": "Region", "x_period": "Completions period",
                    "x_value": "Completions", "x_lower_ci_95": "Completions 95% lower",
                    "x_upper_ci_95": "Completions 95% upper", "x_compared_to_england": "Completions vs England",
                    "x_england": "England completions", "y_period": "Deaths period", "y_value": "Deaths",
                    "y_lower_ci_95": "Deaths 95% lower", "y_upper_ci_95": "Deaths 95% upper",
                    "y_compared_to_england": "Deaths vs England", "y_england": "England deaths",
                    "quadrant": "Quadrant", "area_code": "Code"}), hide_index=True, width="stretch")

            st.subheader(words.BIVARIATE_HEAD)
            if len(both) < charts.BIVARIATE_MIN_AREAS:
                st.info(say(words.bivariate_too_few(charts.BIVARIATE_MIN_AREAS, len(both))))
            else:
                classes = charts.bivariate_classes(balance)
                left, right = st.columns([3, 1])
                with left:
                    st.plotly_chart(charts.bivariate_map(classes, ctx.wh.q("map_geojson"), x_meta, deaths), theme=None,
                                    config=charts.GEO_PLOT_CONFIG, key="bivariate")
                with right:
                    st.plotly_chart(charts.bivariate_legend(x_meta, deaths, charts.bivariate_cuts(balance)),
                                    theme=None, config=charts.PLOT_CONFIG, key="bivariate_legend")
                    st.markdown(say(words.BIVARIATE_KEY))
                with frame.table_expander():
                    st.dataframe(classes[["area_name", "x_value", "y_value", "bivariate_class"]].rename(columns={
                        "area_name": "Area", "x_value": "Completions", "y_value": "Deaths",
                        "bivariate_class": "Class (thirds)"}), hide_index=True, width="stretch")
            frame.download_buttons(ctx, downloads.with_comparators(balance, downloads.balance_england_row(
                                       view["england"])), [completion, BALANCE_DEATHS], "balance", "The balance view",
                                   key="balance", name=[completion, "vs", BALANCE_DEATHS, "balance", "latest-periods"])


if __name__ == "__main__":  # a fresh server's first request for this URL (see dashboard.py)
    import dashboard

    dashboard.main()
