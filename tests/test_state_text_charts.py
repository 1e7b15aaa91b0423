"""The dashboard's Streamlit-free layer: URL state (indicators.present.state), words (indicators.present.text), figures
(indicators.present.charts) and the dashboard queries, on the invented warehouse of tests/support.py."""

from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from support import ENGLAND, VALUES, make_warehouse

from indicators.present import charts, lottery, svgmap, text
from indicators.present.state import (
    MAX_PARAM_LENGTH,
    Choices,
    State,
    make_choices,
    parse_params,
    safe_excerpt,
    to_params,
    with_indicator,
)
from indicators.pipeline.statistics import FUNNEL_POSITIONS
from indicators.products import queries

MAX_MAP_BYTES = 250_000


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = make_warehouse(tmp_path_factory.mktemp("wh") / "fixture.duckdb")
    connection = queries.connect(path)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def choices(con) -> Choices:
    return make_choices(queries.indicators(con), queries.indicator_periods(con), queries.upper_tier_areas(con))


def _row(indicator_id: str, area_code: str, period: str) -> dict:
    for v in VALUES:
        if v[0] == indicator_id and v[1] == area_code and v[2] == period:
            keys = ["indicator_id", "area_code", "period_label", "value", "lower_ci_95", "upper_ci_95",
                    "lower_ci_998", "upper_ci_998", "numerator", "denominator", "is_suppressed", "value_note",
                    "compared_to_england", "compared_to_england_998"]
            return dict(zip(keys, v))
    raise KeyError((indicator_id, area_code, period))


# --------------------------------------------------------------------------- state

def test_choices_from_the_fixture(choices):
    assert choices.indicators == ("completion_alcohol", "completion_opiate", "deaths_drug_misuse")
    assert choices.periods["completion_opiate"] == ("2019/20", "2020/21")
    assert choices.periods["completion_alcohol"] == ()
    assert choices.default_indicator == "deaths_drug_misuse"
    assert set(choices.areas) == {"E09000007", "E09000033", "E09000012", "E06000009", "E08000003", "E06000063"}
    assert "E10000006" not in choices.areas  # Cumbria ended in 2023: not pickable
    assert choices.completions == ("completion_alcohol", "completion_opiate")


def test_valid_params_round_trip(choices):
    params = {"indicator": "completion_opiate", "period": "2019/20", "area": "E06000009", "peers": "cipfa",
              "colour": "value", "completion": "completion_opiate", "adjusted": "true"}
    state, notices = parse_params(params, choices)
    assert notices == []
    assert state == State("completion_opiate", "2019/20", "E06000009", "cipfa", "value", "completion_opiate", True)
    assert to_params(state) == params
    assert parse_params(to_params(state), choices)[0] == state


def test_defaults_without_params(choices):
    state, notices = parse_params({}, choices)
    assert notices == []
    assert state == State(indicator="deaths_drug_misuse", period="2019-21", area=None, peers=None,
                          colour="comparison", completion="completion_opiate", adjusted=False)
    assert to_params(state, ("indicator", "period", "area", "colour")) == {
        "indicator": "deaths_drug_misuse", "period": "2019-21"}


@pytest.mark.parametrize("name, value, expected_field, expected", [
    ("indicator", "'; DROP TABLE published.indicators; --", "indicator", "deaths_drug_misuse"),
    ("indicator", "completion_opiate' OR '1'='1", "indicator", "deaths_drug_misuse"),
    ("period", "2099/00", "period", "2019-21"),
    ("area", "E99999999", "area", None),
    ("area", "E10000006", "area", None),
    ("peers", "everyone", "peers", None),
    ("colour", "<script>alert(1)</script>", "colour", "comparison"),
    ("completion", "deaths_drug_misuse", "completion", "completion_opiate"),
    ("adjusted", "maybe", "adjusted", False),
])
def test_invalid_params_fall_back_with_a_notice(choices, name, value, expected_field, expected):
    state, notices = parse_params({name: value}, choices)
    assert getattr(state, expected_field) == expected
    assert len(notices) == 1
    assert f"`{name}`" in notices[0] and "instead" in notices[0]
    echoed = notices[0].split(f"`{name}` (", 1)[1].split(")", 1)[0]
    assert echoed == safe_excerpt(value)
    assert not set(echoed) & set("<>;'()[]`=")


def test_huge_param_is_ignored_without_echo(choices):
    huge = "A" * 10_000
    state, notices = parse_params({"area": huge, "indicator": huge}, choices)
    assert state.area is None and state.indicator == "deaths_drug_misuse"
    assert len(notices) == 2
    assert all("too long (10,000 characters)" in n for n in notices)
    assert all(len(n) < 200 for n in notices)
    assert MAX_PARAM_LENGTH < 100


def test_period_of_another_indicator_is_replaced(choices):
    state, notices = parse_params({"indicator": "completion_opiate", "period": "2019-21"}, choices)
    assert state.period == "2020/21"
    assert "latest period (2020/21)" in notices[0]


def test_indicator_without_data_has_no_period(choices):
    state, notices = parse_params({"indicator": "completion_alcohol"}, choices)
    assert notices == [] and state.indicator == "completion_alcohol" and state.period is None
    state, notices = parse_params({"indicator": "completion_alcohol", "period": "2020/21"}, choices)
    assert state.period is None and "this indicator has no data" in notices[0]


def test_repeated_params_use_the_last_value(choices):
    state, _ = parse_params({"area": ["E06000009", "E08000003"]}, choices)
    assert state.area == "E08000003"


def test_with_indicator_keeps_a_valid_period(choices):
    state = State(indicator="completion_opiate", period="2019/20")
    assert with_indicator(state, "deaths_drug_misuse", choices).period == "2019-21"
    assert with_indicator(State("deaths_drug_misuse", "2019-21"), "completion_opiate", choices).period == "2020/21"


def test_safe_excerpt():
    assert safe_excerpt("<img src=x onerror=alert(1)>") == "img srcx onerroralert1…"
    assert safe_excerpt("[link](http://evil)") == "linkhttp//evil"
    assert safe_excerpt("E06000009") == "E06000009"


# --------------------------------------------------------------------------- words

DEATHS = {"title": "Deaths related to drug misuse", "short_title": "Drug-misuse deaths",
          "unit": "per 100,000 (age-standardised)", "value_type": "directly standardised rate",
          "polarity": "low_is_good", "publication_status": "open"}
COMPLETIONS = {"title": "Successful completion of drug treatment: opiate users", "short_title": "Completions (opiate)",
               "unit": "%", "value_type": "proportion", "polarity": "high_is_good", "publication_status": "open"}


def test_blackpool_deaths_sentence():
    row = _row("deaths_drug_misuse", "E06000009", "2019-21")
    assert text.comparison_sentence("Blackpool", DEATHS, row, 5.1) == (
        "Blackpool’s drug-misuse death rate, 19.4 per 100,000 in 2019–21 (95% interval 16.0 to 23.3), is "
        "significantly higher than England’s 5.1: worse than England, since a lower value is better.")


def test_polarity_words():
    low_completion = _row("completion_opiate", "E06000009", "2020/21")
    assert text.comparison_sentence("Blackpool", COMPLETIONS, low_completion, 5.0) == (
        "Blackpool’s figure for “successful completion of drug treatment: opiate users”, 3.0% in 2020/21 (95% interval "
        "2.2% to 4.1%), is significantly lower than England’s 5.0%: worse than England, since a higher value is better.")
    high_completion = _row("completion_opiate", "E09000007", "2020/21")
    assert "significantly higher than England’s 5.0%: better than England, since a higher value is better." in \
        text.comparison_sentence("Camden", COMPLETIONS, high_completion, 5.0)
    better_deaths = _row("deaths_drug_misuse", "E09000033", "2019-21")
    assert text.comparison_sentence("Westminster", DEATHS, better_deaths, 5.1).endswith(
        "is significantly lower than England’s 5.1: better than England, since a lower value is better.")
    no_polarity = dict(COMPLETIONS, polarity="no_polarity")
    sentence = text.comparison_sentence("Camden", no_polarity, dict(high_completion, compared_to_england="higher"), 5.0)
    assert sentence.endswith("is significantly higher than England’s 5.0%.")
    assert "better" not in sentence and "worse" not in sentence


def test_similar_not_compared_and_missing_sentences():
    similar = _row("deaths_drug_misuse", "E09000007", "2019-21")
    assert text.comparison_sentence("Camden", DEATHS, similar, 5.1).endswith(
        "is not significantly different from England’s 5.1 (95% confidence).")
    no_interval = dict(similar, lower_ci_95=None, upper_ci_95=None, compared_to_england="not compared")
    assert text.comparison_sentence("Camden", DEATHS, no_interval, 5.1).endswith(
        "cannot be compared with England’s 5.1: it has no valid 95% interval.")
    suppressed = _row("deaths_drug_misuse", "E09000012", "2019-21")
    assert text.comparison_sentence("Hackney", DEATHS, suppressed, 5.1) == (
        "Hackney’s drug-misuse death rate for 2019–21 was withheld by the publisher. "
        "Value suppressed for disclosure control.")
    boundary = _row("deaths_drug_misuse", "E06000063", "2019-21")
    assert text.comparison_sentence("Cumberland", DEATHS, boundary, 5.1) == (
        "Cumberland: 60 drug-misuse deaths in 2019–21, a count with no rate. Cumberland did not exist in this "
        "period; the count is the sum of its 3 former districts.")
    assert text.comparison_sentence("Blackpool", DEATHS, _row("deaths_drug_misuse", "E06000009", "2019-21"),
                                    None).endswith("cannot be compared: there is no England figure.")
    not_published = dict(DEATHS, title="Take-home naloxone kits", publication_status="foi",
                         status_note="Only FOI surveys.")
    assert text.comparison_sentence("Blackpool", not_published, {}, None) == (
        "Take-home naloxone kits is not published for individual areas: Only FOI surveys.")
    assert text.comparison_sentence("Blackpool", DEATHS, {"period_label": None}, None) == (
        "There is no drug-misuse death rate for any area in the published files this dashboard uses.")


def test_group_sentence_uses_the_given_word():
    row = _row("deaths_drug_misuse", "E06000009", "2019-21")
    sentence = text.comparison_sentence("Blackpool", DEATHS, row, 14.2, benchmark_name="the peer group",
                                        compared="worse")
    assert sentence.endswith("significantly higher than the peer group’s 14.2: worse than the peer group, "
                             "since a lower value is better.")


@pytest.mark.parametrize("row, status, expected", [
    ({"value": 3.0, "compared_to_england": "worse", "is_suppressed": False}, "open", "worse"),
    ({"value": 3.0, "compared_to_england": "higher", "is_suppressed": False}, "open", "higher"),
    ({"value": 3.0, "compared_to_england": "not compared", "is_suppressed": False}, "open", "not compared"),
    ({"value": 3.0, "compared_to_england": None, "is_suppressed": False}, "open", "not compared"),
    ({"value": None, "compared_to_england": "not compared", "is_suppressed": True}, "open", "suppressed"),
    ({"value": None, "compared_to_england": "not compared", "is_suppressed": False}, "open", "no data"),
    ({"has_row": False, "value": None, "is_suppressed": False}, "open", "no data"),
    ({"value": 3.0, "compared_to_england": "better", "is_suppressed": False}, "foi", "not published"),
    ({"value": float("nan"), "compared_to_england": None, "is_suppressed": float("nan")}, "open", "no data"),
])
def test_categories(row, status, expected):
    assert text.category(row, status) == expected


def test_formats():
    assert text.period_display("2019-21") == "2019–21"
    assert text.period_display("2020/21") == "2020/21"
    assert text.format_value(19.44, "per 100,000 (age-standardised)") == "19.4 per 100,000"
    assert text.format_value(45.25, "%") == "45.2%"
    assert text.format_value(None, "%") == "–"
    assert text.format_interval(16.0, 23.3, "per 100,000") == "16.0 to 23.3"
    assert text.format_count(8361.0) == "8,361" and text.format_count(12.5) == "12.5"
    assert text.md_escape("a*b_[c](d)") == r"a\*b\_\[c\]\(d\)"
    assert text.hover_escape("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_no_data_message():
    assert text.no_data_message(DEATHS, "nothing to rank") == (
        "No data for “Deaths related to drug misuse” (no figures in the published files this dashboard uses, not "
        "zeros), so nothing to rank.")
    restricted = dict(DEATHS, title="HCV tests", publication_status="restricted", status_note="Commissioners only.")
    assert text.no_data_message(restricted, "nothing to rank") == (
        "“HCV tests” is not published for individual areas (Commissioners only), so nothing to rank.")


def test_caveat_list():
    assert text.caveat_list("First.\nSecond.\n") == ["First.", "Second."]
    assert text.caveat_list(["A", " B "]) == ["A", "B"]
    assert text.caveat_list(None) == [] and text.caveat_list(float("nan")) == []


def test_peer_reasons():
    assert text.peer_reason({"peer_group": "neighbours", "shared_border_km": 3.14}) == "shares a border of 3.1 km"
    assert text.peer_reason({"peer_group": "cipfa", "cipfa_rank": 1}) == (
        "CIPFA nearest neighbour, rank 1 of the 15 most similar")
    assert text.peer_reason({"peer_group": "region", "region_name": "North West"}) == "in the same region (North West)"
    assert text.peer_reason({"peer_group": "similar", "similar_rank": 2, "similar_distance": 1.044,
                             "similar_reasons": "population: 138,381 vs 93,836"}) == (
        "statistically similar, rank 2 (distance 1.04): population: 138,381 vs 93,836")


def test_trend_wording_uses_polarity():
    assert text.trend_sentence("Blackpool", "increasing", DEATHS) == (
        "Blackpool: increasing, getting worse (recent trend, 99.8%)")
    assert text.trend_sentence("Blackpool", "increasing", COMPLETIONS) == (
        "Blackpool: increasing, getting better (recent trend, 99.8%)")
    assert "getting" not in text.trend_sentence("X", "decreasing", dict(DEATHS, polarity="no_polarity"))


# --------------------------------------------------------------------------- queries for the pages

def test_map_values_keep_every_current_area(con, tmp_path):
    frame = queries.map_values(con, "deaths_drug_misuse", "2019-21")
    assert len(frame) == 6 and frame["has_row"].all()
    no_row = [v for v in VALUES if not (v[0] == "completion_opiate" and v[1] == "E06000063")]
    other = queries.connect(make_warehouse(tmp_path / "gap.duckdb", values=no_row))
    try:
        frame = queries.map_values(other, "completion_opiate", "2020/21").set_index("area_code")
    finally:
        other.close()
    assert not frame.loc["E06000063", "has_row"]
    assert text.category(frame.loc["E06000063"].to_dict()) == "no data"


def test_area_profile_against_the_rest_of_the_region_and_the_spread(con):
    """The invented warehouse is too thin for a regional figure or a spread: the profile says why, not a number.
    (The statistics themselves, on enough areas: tests/test_published_statistics.py.)"""
    profile = queries.area_profile(con, "E06000009").set_index("indicator_id")
    deaths = profile.loc["deaths_drug_misuse"]
    assert deaths["england_value"] == 5.1
    # The rest of the North West is Manchester alone (Cumberland has a count, no rate): no figure from one area.
    assert np.isnan(deaths["region_value"]) and deaths["region_n_areas"] == 1
    assert deaths["compared_to_region"] == "not compared"
    assert deaths["region_reason"] == ("only 1 of the group's 2 other areas has a value for this period; a group "
                                       "figure needs at least 3")
    assert deaths["n_areas"] == 4 and np.isnan(deaths["area_median"])
    assert deaths["spread_reason"] == "4 areas have a value for this period; gap measures need at least 10"
    assert not profile.loc["completion_alcohol", "has_row"]
    reasons = {r["indicator"]: r["reason"] for r in text.not_possible(profile.reset_index())}
    assert reasons["Completions (alcohol)"] == "no data for any area"
    assert reasons["Drug-misuse deaths"] == ("no comparison with the rest of the region: only 1 of the group's 2 "
                                             "other areas has a value for this period; a group figure needs at "
                                             "least 3")


def test_peer_groups_and_group_values(con):
    peers = queries.peer_groups(con, "E09000007")
    assert peers[peers["peer_group"] == "neighbours"]["area_code"].tolist() == ["E09000033", "E09000012"]
    assert set(peers[peers["peer_group"] == "region"]["area_code"]) == {"E09000033", "E09000012"}
    cipfa = queries.peer_groups(con, "E06000009")
    assert cipfa[cipfa["peer_group"] == "cipfa"]["area_code"].tolist() == ["E08000003"]
    table, info = queries.league_table(con, "completion_opiate", "2020/21", "E09000007", "neighbours")
    assert table["area_code"].tolist() == ["E09000007", "E09000033", "E09000012"]   # by value, none withheld first
    assert table["rank"].isna().all() and not info["ranked"]                         # 2 areas with a value
    group = info["group"]
    assert group["member_codes"] == ["E09000033"] and np.isnan(group["group_value"])  # Hackney is withheld
    assert table.set_index("area_code")["compared_to_group"].tolist() == ["not compared", None, None]
    comparison = queries.peer_comparison(con, "E06000009", "cipfa").set_index("indicator_id")
    assert comparison.loc["deaths_drug_misuse", "compared_to_group"] == "not compared"
    assert comparison.loc["deaths_drug_misuse", "reason"].startswith("only 1 of the group's 1 other area has a value")


def test_balance_view_uses_each_latest_period(con):
    view = queries.balance_view(con, "completion_opiate", "deaths_drug_misuse")
    frame = view["frame"].set_index("area_code")
    assert frame.loc["E06000009", "x_period"] == "2020/21" and frame.loc["E06000009", "x_value"] == 3.0
    assert frame.loc["E06000009", "y_period"] == "2019-21" and frame.loc["E06000009", "x_england"] == 5.0
    assert view["england"] == {"x": 5.0, "x_period": "2020/21", "y": 5.1, "y_period": "2019-21"}
    quadrants = charts.balance_quadrants(frame.reset_index()).tolist()
    assert quadrants[frame.index.get_loc("E06000009")] == "Low completions, high deaths"
    assert quadrants[frame.index.get_loc("E09000007")] == "High completions, low deaths"
    assert quadrants[frame.index.get_loc("E09000012")] == "Not enough data"
    no_england = frame.reset_index().assign(x_england=np.nan)
    assert charts.balance_quadrants(no_england).iloc[frame.index.get_loc("E06000009")] == (
        "No England value to compare with")


def test_balance_without_an_england_figure_counts_no_quadrant(con):
    view = queries.balance_view(con, "completion_opiate", "deaths_drug_misuse")
    x_meta, y_meta = {"short_title": "Completions (opiate)", "unit": "%"}, {"short_title": "Deaths", "unit": "per 100,000"}
    both = view["frame"].dropna(subset=["x_value", "y_value"])
    names = charts.QUADRANT_NAMES.values()
    assert lottery.quadrant_counts(charts.balance_quadrants(both), names) == (
        "Areas in each quadrant: High completions, low deaths (2) · Low completions, high deaths (2).")
    no_england = both.assign(x_england=np.nan)
    assert lottery.quadrant_counts(charts.balance_quadrants(no_england), names) is None
    lines = lottery.balance_lines(x_meta, y_meta, {**view["england"], "x": None})
    assert lines.startswith("There is no England figure for Completions (opiate), so no area is placed in a quadrant")
    assert "build" not in lines
    assert "build" not in lottery.balance_needs() and "build" not in lottery.gap_change_sentence(None)


def test_funnel_needs_ten_areas_and_says_so(con, tmp_path):
    funnel = queries.funnel_data(con, "completion_opiate", "2020/21")
    assert not funnel["available"] and funnel["kind"] == "proportion" and funnel["benchmark"] == 5.0
    assert funnel["reason"] == ("4 areas have both a value and a denominator for this period; a funnel plot needs at "
                                "least 10")
    empty = queries.funnel_data(con, "completion_alcohol", None)
    assert not empty["available"] and empty["reason"] == "no data"


def test_funnel_points_and_note(tmp_path):
    from support import make_spread_warehouse

    con = queries.connect(make_spread_warehouse(tmp_path / "spread.duckdb", n_areas=12))
    try:
        funnel = queries.funnel_data(con, "completion_opiate", "2019/20")
        adjusted = queries.funnel_data(con, "completion_opiate", "2019/20", adjusted=True)
    finally:
        con.close()
    assert funnel["available"] and funnel["kind"] == "proportion" and len(funnel["points"]) == 12
    assert set(funnel["points"]["position"]) <= set(FUNNEL_POSITIONS)
    assert adjusted["adjusted"] and adjusted["phi"] == pytest.approx(funnel["overdispersion"]["phi"])
    figure = charts.funnel_figure(adjusted, COMPLETIONS)
    assert "adjusted for over-dispersion (Spiegelhalter" in figure.layout.title.text.replace("<br>", " ")
    assert "Unadjusted" in charts.funnel_figure(funnel, COMPLETIONS).layout.title.text


# --------------------------------------------------------------------------- figures

def test_legend_categories_are_distinct():
    colours = [charts.CATEGORY_COLOURS[c] for c in text.CATEGORIES]
    labels = [text.CATEGORY_LABELS[c] for c in text.CATEGORIES]
    assert len(set(colours)) == len(colours) and len(set(labels)) == len(labels)
    assert charts.CATEGORY_COLOURS["no data"] not in charts.VALUE_COLOURS
    assert not set(charts.VALUE_COLOURS) & set(charts.CATEGORY_COLOURS.values())
    assert "#00ff00" not in colours and "#ff0000" not in colours


def test_map_frame_and_figures(con):
    meta = queries.indicator(con, "deaths_drug_misuse")
    values = queries.map_values(con, "deaths_drug_misuse", "2019-21")
    frame, legend = charts.map_frame(values, meta, "comparison", "2019-21")
    by_code = frame.set_index("area_code")
    assert by_code.loc["E06000009", "category"] == "worse"
    assert by_code.loc["E09000012", "category"] == "suppressed"
    assert by_code.loc["E06000063", "category"] == "count only"  # a re-aggregated count, no rate
    assert [key for key, _, _ in legend] == ["better", "similar", "worse", "suppressed", "count only"]
    hover = by_code.loc["E06000009", "hover"]
    for part in ("Blackpool", "19.4 per 100,000", "95% interval: 16.0 to 23.3", "Count: 110", "Period: 2019–21",
                 "Worse than England"):
        assert part in hover
    geojson = queries.map_geojson(con)
    figure = charts.choropleth(frame, legend, geojson, highlight="E06000009")
    names = [trace.name for trace in figure.data]
    assert names == ["Better than England (1)", "Similar to England (1)", "Worse than England (2)",
                     "Withheld by the publisher (1)", "Count only, no rate (boundary change) (1)",
                     "Chosen area: Blackpool"]
    assert sum(len(t.locations) for t in figure.data[:-1]) == 6  # every area with a shape, once
    assert charts.figure_size(figure) < MAX_MAP_BYTES
    assert figure.layout.geo.fitbounds == "locations" and figure.layout.geo.visible is False


def test_svg_paths_are_projected_and_fitted():
    """Two one-degree squares side by side on the equator, projected by spherical Mercator by hand:
    x = radians(lon), y = ln tan(pi/4 + radians(lat)/2); 2 degrees across fill 1000 - 2*4 units."""
    square = lambda x0: {"type": "Polygon", "coordinates": [[[x0, 0], [x0 + 1, 0], [x0 + 1, 1], [x0, 1], [x0, 0]]]}
    geojson = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"area_code": "A"}, "geometry": square(0)},
        {"type": "Feature", "properties": {"area_code": "B"},
         "geometry": {"type": "MultiPolygon", "coordinates": [square(1)["coordinates"]]}}]}
    projected = svgmap.map_paths(geojson)
    scale = 992 / math.radians(2)
    top = math.log(math.tan(math.pi / 4 + math.radians(1) / 2)) * scale  # 496.0 units
    assert projected.width == 1000 and projected.height == math.ceil(top + 8) == 505
    bottom, side = round(4 + top), round(4 + math.radians(1) * scale)  # 500, 500
    assert projected.paths["A"] == f"M4 {bottom}l{side - 4} 0 0 {4 - bottom} {4 - side} 0z"
    assert projected.paths["B"].startswith(f"M{side} {bottom}l")
    assert set(projected.subset(["B"]).paths) == {"B"}


def test_svg_map_links_labels_and_escapes(con):
    meta = queries.indicator(con, "deaths_drug_misuse")
    values = queries.map_values(con, "deaths_drug_misuse", "2019-21")
    values.loc[values["area_code"] == "E09000007", "area_name"] = '<script>alert("x")</script> & Co'
    frame, legend = charts.map_frame(values, meta, "comparison", "2019-21")
    projected = svgmap.map_paths(queries.map_geojson(con))
    markup = svgmap.svg_map(frame, projected, title="Map of deaths", describe=lambda r: charts.hover_lines(r, meta),
                            href=lambda code: f"area?indicator=deaths_drug_misuse&area={code}",
                            highlight="E06000009")
    assert markup.count("<a ") == 6 == len(projected.paths)  # every area with a boundary, once
    assert 'href="area?indicator=deaths_drug_misuse&amp;area=E06000009"' in markup
    assert ('aria-label="Blackpool. 19.4 per 100,000. 95% interval: 16.0 to 23.3. Count: 110. Period: 2019–21. '
            'Worse than England. Open its profile."') in markup
    assert "<title>Blackpool\n19.4 per 100,000\n95% interval: 16.0 to 23.3" in markup
    assert "<script>" not in markup and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in markup
    assert f'fill="{charts.CATEGORY_COLOURS["worse"]}"' in markup
    assert markup.count('class="ind-map-chosen"') == 1
    legend_markup = svgmap.legend_html(legend, frame["colour_class"].value_counts().to_dict())
    assert "Worse than England (2)</li>" in legend_markup and "Count only, no rate (boundary change) (1)" in legend_markup


def test_value_mode_classes(con):
    meta = queries.indicator(con, "deaths_drug_misuse")
    frame, legend = charts.map_frame(queries.map_values(con, "deaths_drug_misuse", "2019-21"), meta, "value")
    keys = [key for key, _, _ in legend]
    assert keys == ["3.0 to 3.8", "3.8 to 6.5", "6.5 to 11.6", "11.6 to 19.4", "suppressed", "count only"]
    assert frame.set_index("area_code").loc["E06000009", "colour_class"] == "11.6 to 19.4"
    labels, order = charts.value_classes(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, None]))
    assert order == ["1.0 to 2.8", "2.8 to 4.6", "4.6 to 6.4", "6.4 to 8.2", "8.2 to 10.0"]
    assert labels.iloc[0] == order[0] and labels.iloc[9] == order[-1] and labels.iloc[10] is None


def test_map_payload_on_real_boundaries(shared_raw):
    """The map of all current areas plus the London inset stays under 0.25 MB with the real boundaries."""
    from indicators.pipeline import geography
    from indicators.pipeline.sources import boundaries

    files = sorted((shared_raw / "boundaries").glob("*.geojson"))
    if not files:
        pytest.skip("no geoportal GeoJSON in the real boundaries folder")
    staged = boundaries.stage(files)["boundaries"]
    gdf = geography.simplify_boundaries(geography.current_boundaries(staged))
    con = duckdb.connect()
    con.execute("CREATE SCHEMA published")
    shapes = pd.DataFrame({"area_code": gdf["area_code"], "area_name": gdf["area_name"],
                           "geometry": [json.dumps(f["geometry"]) for f in
                                        json.loads(geography.boundaries_geojson(gdf))["features"]]})
    con.register("shapes", shapes)
    con.execute("CREATE TABLE published.boundaries AS SELECT * FROM shapes")
    geojson = queries.map_geojson(con)
    assert [f["properties"]["area_code"] for f in geojson["features"]] == sorted(gdf["area_code"])
    rng = np.random.default_rng(1)
    values = pd.DataFrame({"area_code": gdf["area_code"], "area_name": gdf["area_name"],
                           "period_label": "2019-21", "value": rng.uniform(1, 20, len(gdf))})
    values["lower_ci_95"], values["upper_ci_95"] = values["value"] * 0.8, values["value"] * 1.2
    values["numerator"], values["denominator"] = 100.0, np.nan
    values["is_suppressed"], values["value_note"] = False, ""
    values["compared_to_england"] = rng.choice(["better", "similar", "worse"], len(gdf))
    frame, legend = charts.map_frame(values, DEATHS)
    main = charts.choropleth(frame, legend, geojson)  # the availability page's map
    assert len(gdf) > 140
    assert charts.figure_size(main) < MAX_MAP_BYTES
    # The home page's SVG map (what it really sends): all areas, the London inset and the legend.
    describe = lambda r: charts.hover_lines(r, DEATHS)
    href = lambda code: f"area?indicator=deaths_drug_misuse&period=2019-21&area={code}"
    england = svgmap.svg_map(frame, svgmap.map_paths(geojson), title="Map", describe=describe, href=href)
    london_paths = svgmap.map_paths(geojson, [c for c in gdf["area_code"] if c.startswith("E09")])
    london = svgmap.svg_map(frame, london_paths, title="London", describe=describe, href=href)
    assert england.count("<a ") == len(gdf) and london.count("<a ") == 33
    assert len(england.encode()) + len(london.encode()) < MAX_MAP_BYTES


def test_spine_positions_put_worst_on_the_left():
    profile = pd.DataFrame([
        dict(polarity="low_is_good", england_value=5.0, area_min=2.0, area_q25=4.0, area_q75=7.0, area_max=20.0,
             value=20.0, region_value=8.0),
        dict(polarity="high_is_good", england_value=50.0, area_min=30.0, area_q25=45.0, area_q75=55.0,
             area_max=60.0, value=30.0, region_value=np.nan),
    ])
    positions = charts.spine_positions(profile)
    assert positions["pos_worst"].tolist() == [-1.0, -1.0]
    assert positions["pos_value"].tolist() == [-1.0, -1.0]  # both areas are the worst
    assert positions.loc[0, "pos_best"] == pytest.approx(0.2)  # (5 - 2) / 15
    assert positions.loc[1, "pos_best"] == pytest.approx(0.5)  # (60 - 50) / 20


def test_bivariate_classes_are_thirds():
    # Twelve areas with both figures (the thirds' cuts at 4.67 and 8.33 by linear quantiles) and one without.
    frame = pd.DataFrame({"area_code": list("ABCDEFGHIJKLM"), "area_name": list("ABCDEFGHIJKLM"),
                          "x_value": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, np.nan],
                          "y_value": [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 5]})
    classes = charts.bivariate_classes(frame)
    assert classes["x_class"].tolist()[:12] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert classes["y_class"].tolist()[:12] == [3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1]
    assert classes["bivariate_class"].iloc[0] == "low completions, high deaths"
    assert classes["bivariate_class"].iloc[12] == "Not enough data"
    assert classes["colour"].iloc[0] == charts.BIVARIATE_COLOURS[(1, 3)]
    assert len(set(charts.BIVARIATE_COLOURS.values()) | {charts.BIVARIATE_NO_DATA}) == 10
    # Nine areas are too few for thirds (the minimum of every spread statistic is 10): no area gets a class.
    nine = charts.bivariate_classes(frame.iloc[3:])
    assert charts.BIVARIATE_MIN_AREAS == 10 and nine["x_class"].isna().all()
    assert set(nine["bivariate_class"]) == {"Not enough data"} and charts.bivariate_cuts(frame.iloc[3:]) == {
        "x": [], "y": []}


def test_geo_plots_make_no_network_request():
    url = charts.GEO_PLOT_CONFIG["topojsonURL"]
    assert url.startswith("data:application/json") and url.endswith("#")
    assert "cdn.plot.ly" not in json.dumps(charts.GEO_PLOT_CONFIG)


def test_england_row_is_never_in_the_map(con):
    assert ENGLAND not in set(queries.map_values(con, "deaths_drug_misuse", "2019-21")["area_code"])


def test_not_compared_labels_say_the_real_reason():
    """Issue 13: 'not compared' says why: the build's comparison_note, or (older warehouse) what the row shows."""
    from indicators.present.charts import hover_lines

    base = dict(area_name="Barnet", value=4.3, lower_ci_95=2.9, upper_ci_95=6.2, compared_to_england="not compared",
                period_label="2020/21", numerator=25.0, denominator=585.0, has_row=True, is_suppressed=False)
    meta = {"unit": "%", "publication_status": "open"}
    assert text.category_label(dict(base, comparison_note="no benchmark")) == \
        "Not compared (no England figure for this period)"
    assert text.category_label(dict(base, comparison_note="no interval")) == "Not compared (no valid 95% interval)"
    assert text.category_label(dict(base, comparison_note="not calculated")) == \
        "Not compared (no interval for this kind of figure)"
    assert text.category_label(base) == "Not compared (no England figure for this period)"  # interval, no note
    assert text.category_label(dict(base, lower_ci_95=None)) == "Not compared (no valid 95% interval)"
    lines = hover_lines(dict(base, comparison_note="no benchmark"), meta)
    assert "95% interval: 2.9% to 6.2%" in lines and "Not compared (no England figure for this period)" in lines
    assert text.comparison_sentence("Barnet", {"short_title": "Completions (opiate)", "title": "Completions",
                                               "unit": "%"}, dict(base, comparison_note="no benchmark"), 5.0) == (
        "Barnet’s figure for “completions”, 4.3% in 2020/21 (95% interval 2.9% to 6.2%), is not compared with England: there is no single "
        "England figure for 2020/21.")


def _league(n: int) -> pd.DataFrame:
    """An invented league table of n areas in rank order (A00 best), the last one without a value."""
    return pd.DataFrame({"area_code": [f"A{i:02d}" for i in range(n)], "area_name": [f"Area {i:02d}" for i in range(n)],
                         "value": [10.0 + i for i in range(n - 1)] + [np.nan],
                         "lower_ci_95": [9.0 + i for i in range(n - 1)] + [np.nan],
                         "upper_ci_95": [11.0 + i for i in range(n - 1)] + [np.nan],
                         "compared_to_england": ["similar"] * n, "rank": list(range(1, n)) + [np.nan],
                         "rank_lower": list(range(1, n)) + [np.nan], "rank_upper": list(range(1, n)) + [np.nan]})


def test_league_shortlist_and_axes():
    """A list of all England is drawn first as the chosen area and its first peer group with members (or, without an
    area, the 10 best and 10 worst), the whole on request; a long chart has its value axis at the top and the bottom."""
    table = _league(41)  # 40 with a value
    peers = pd.DataFrame({"peer_group": ["cipfa", "similar", "similar"], "area_code": ["A05", "A30", "A31"]})
    drawn, group = charts.league_shortlist(table, "A20", peers, ("neighbours", "similar", "cipfa"))
    assert group == "similar" and list(drawn["area_code"]) == ["A20", "A30", "A31"]  # in rank order
    drawn, group = charts.league_shortlist(table, None, None, ("neighbours",))
    assert group is None and list(drawn["area_code"]) == [f"A{i:02d}" for i in [*range(10), *range(30, 40)]]
    short = _league(31)  # 30 with a value: drawn whole
    assert charts.league_shortlist(short, "A20", peers, ("similar",))[0] is short
    figure = charts.league_figure(table, COMPLETIONS, 20.0)
    assert figure.layout.xaxis.side == "top" and figure.layout.xaxis2.side == "bottom"
    assert figure.layout.xaxis2.visible and figure.layout.xaxis2.matches == "x"
    assert any(trace.xaxis == "x2" for trace in figure.data)
    small = charts.league_figure(_league(5), COMPLETIONS, 20.0)
    assert not small.layout.xaxis2.visible
    assert text.league_shortlist_sentence(3, 40, "Blackpool", "Most similar areas (open data)") == (
        "The chart shows Blackpool and its most similar areas (open data) (3 of the 40 areas), England’s value as a "
        "line; the table below lists every area.")


def test_funnel_legend_between_title_and_plot():
    """The funnel's legend sits under its title, above the plot (below it, it printed over the axis title on a phone);
    long titles are broken into lines."""
    funnel = {"limits": pd.DataFrame({"denominator": [100.0, 1000.0], "upper_95": [60.0, 55.0],
                                      "lower_95": [40.0, 45.0], "upper_998": [65.0, 57.0], "lower_998": [35.0, 43.0],
                                      "benchmark": [50.0, 50.0]}),
              "points": pd.DataFrame({"area_code": ["A"], "area_name": ["Area"], "x": [500.0], "value": [52.0],
                                      "position": ["within 95% limits"]}),
              "benchmark": 50.0, "x_label": "Effective population (count ÷ rate; rates are age-standardised)",
              "adjusted": False}
    figure = charts.funnel_figure(funnel, COMPLETIONS)
    assert figure.layout.title.text == "Funnel plot around England<br>Unadjusted limits"
    assert figure.layout.xaxis.title.text == "Effective population (count ÷ rate;<br>rates are age-standardised)"
    legend, title = figure.layout.legend, figure.layout.title
    assert (legend.yref, legend.yanchor, title.yref, title.yanchor) == ("container", "top", "container", "top")
    assert legend.y < title.y and legend.y == pytest.approx(1 - (16 + 44) / charts.FUNNEL_HEIGHT)


def test_count_indicators_print_whole_numbers_with_separators():
    """'388 kits', not '388.0 kits': the map's labels (hover_lines) and the area profile's sentence print a count
    indicator's value as a count; a rate keeps its decimal place."""
    kits = {"unit": "kits", "value_type": "count", "short_title": "Naloxone kits", "title": "Naloxone kits issued",
            "publication_status": "open"}
    row = {"area_name": "Blackpool", "value": 388.0, "lower_ci_95": None, "upper_ci_95": None,
           "period_label": "2022/23", "compared_to_england": "not compared"}
    assert charts.hover_lines(row, kits)[1] == "388 kits"
    assert charts.hover_lines({**row, "value": 12034.0}, kits)[1] == "12,034 kits"
    assert text.format_figure(388.0, kits) == "388 kits"
    assert text.format_figure(2.0, {"unit": "%", "value_type": "proportion"}) == "2.0%"
    sentence = text.comparison_sentence("Blackpool", kits, row, None)
    assert "388 kits in 2022/23" in sentence and "388.0" not in sentence
    from indicators.present import mapview
    assert mapview.england_sentence({"value": 388.0}, kits, "2022/23")[1] == "388 kits. Unit: kits."
