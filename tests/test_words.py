"""Issue 19: every generated sentence true for every area, in plain words; the states a missing figure can be in.

Built from the real files (`real_raw`: ../shared/data/raw, or the vendored cuts without it) and checked against
the ONS workbook's own cells where the whole files are there.
"""

from __future__ import annotations

import math
import re

import duckdb
import pytest

from indicators.present import text
from indicators.products import queries

ENGLAND, SCILLY, CITY = "E92000001", "E06000053", "E09000001"


@pytest.fixture(scope="module")
def con(real_warehouse):
    connection = duckdb.connect(str(real_warehouse), read_only=True)
    yield connection
    connection.close()


def _row(con, indicator_id: str, area_code: str, period: str) -> dict:
    frame = queries.map_values(con, indicator_id, period)
    return frame.set_index("area_code").loc[area_code].to_dict()


def test_a_rate_ons_did_not_calculate_is_not_suppressed(con, shared_raw_is_whole):
    """ONS calculates no rate from fewer than 10 deaths: nothing is withheld, the count is published. The Isles of
    Scilly had 0 drug-misuse deaths in 2019-21 (Table 6 of the 2021 workbook: deaths 0, rate ':'); the City of
    London, in the vendored cuts too, had fewer than 10."""
    area = SCILLY if shared_raw_is_whole else CITY
    for indicator_id in ("deaths_drug_misuse", "deaths_drug_poisoning"):
        row = con.execute("""SELECT value, numerator, is_suppressed, value_status, value_note, comparison_note
                             FROM published.indicator_values WHERE indicator_id = ? AND area_code = ?
                             AND period_label = '2019-21'""", [indicator_id, area]).fetchone()
        value, count, suppressed, status, note, comparison = row
        assert value is None and count is not None and count < 10
        assert suppressed is False and status == "not calculated"
        assert note == "ONS does not calculate a rate from fewer than 10 deaths"
        assert comparison == "no value"
    # The words: the count, and why there is no rate; never 'suppressed' or 'withheld'.
    meta = queries.indicator(con, "deaths_drug_misuse")
    row = _row(con, "deaths_drug_misuse", area, "2019-21")
    assert text.category(row) == "not calculated"
    sentence = text.comparison_sentence(row["area_name"], meta, row, 5.1)
    name = "Isles of Scilly" if shared_raw_is_whole else "City of London"
    count = 0 if shared_raw_is_whole else int(row["numerator"])
    assert sentence == (f"{name}: {count} drug-misuse deaths in 2019–21, and no rate. ONS does not calculate a rate "
                        "from fewer than 10 deaths.")
    assert text.category_label(row) == "Not calculated by the publisher"
    assert "withheld" not in sentence and "suppress" not in sentence


def test_no_ons_row_is_withheld_in_the_real_editions(con):
    """Neither real ONS edition withholds a figure (it leaves rates uncalculated): no deaths row is suppressed, and
    every state in the build is one of the five."""
    counts = dict(con.execute("""SELECT value_status, count(*) FROM published.indicator_values
                                 WHERE indicator_id LIKE 'deaths_%' GROUP BY ALL""").fetchall())
    assert counts.get("suppressed", 0) == 0 and counts["not calculated"] > 0 and counts["value"] > 0
    statuses = {r[0] for r in con.execute("SELECT DISTINCT value_status FROM published.indicator_values").fetchall()}
    assert statuses <= {"value", "suppressed", "not calculated", "count only", "no data"}
    raw = con.execute("""SELECT count(*) FROM published.indicator_values
                         WHERE value_note LIKE '%= %' OR value_note LIKE ':%' OR value_note LIKE 'U %'""").fetchone()
    assert raw[0] == 0  # no publisher's marker ('" = ', 'U = low reliability') reaches a note


# --------------------------------------------------------------------------- the glossary

def test_glossary_entries_are_whole_and_their_spellings_unique():
    from indicators.present import glossary

    entries = glossary.terms()
    assert len(entries) >= 25 and len({t.id for t in entries}) == len(entries)
    spellings = [m for t in entries for m in t.matches]
    assert len(spellings) == len(set(spellings))  # one spelling links to one entry
    for term in ("φ", "I²", "over-dispersion", "Spiegelhalter", "99.8% limits", "effective population", "OCU", "ODN",
                 "NDTMS", "unitary authority", "low reliability"):
        assert term in spellings, term
    assert all(t.definition.endswith(".") and "  " not in t.definition for t in entries)


def test_glossary_links_the_first_use_on_a_page_only():
    from indicators.present import glossary

    say = glossary.linker()
    first = say("Areas vary more than chance allows (over-dispersion φ = 3.21); Spiegelhalter’s adjustment (× √φ).")
    assert first == ("Areas vary more than chance allows \\([over\\-dispersion](about#glossary-over-dispersion) φ = "
                     "3\\.21\\); [Spiegelhalter’s adjustment](about#glossary-spiegelhalter) \\(× √φ\\)\\.")
    assert say("over-dispersion again, and ONS") == "over\\-dispersion again, and [ONS](about#glossary-ons)"
    # whole words only, commands stay commands, and the text comes back whole
    assert glossary.markdown("ONSITE and `uv run indicators fetch --source ons_deaths`") == (
        "ONSITE and `uv run indicators fetch --source ons_deaths`")
    sentence = "An OCU figure; a unitary authority in the North West; 99.8% limits and 99.8%."
    assert "".join(piece for piece, _ in glossary.segments(sentence)) == sentence
    assert glossary.html("I² = 85% <b>", set(), lambda a: f"../about/#{a}") == (
        '<a class="ind-glossary" href="../about/#glossary-i-squared">I²</a> = 85% &lt;b&gt;')


def test_about_page_holds_every_glossary_entry(monkeypatch, tmp_path):
    """Every link's target exists: the About page has a heading with each entry's anchor."""
    import support
    from test_pages import no_exception, run

    from indicators.present import glossary

    at = run(monkeypatch, support.make_warehouse(tmp_path / "w.duckdb"), "pages/about.py")
    no_exception(at)
    anchors = {h.proto.anchor for h in at.subheader}
    assert {glossary.anchor(t.id) for t in glossary.terms()} <= anchors


# --------------------------------------------------------------------------- sentences, one kind at a time

def test_a_benchmark_and_a_limit_never_print_the_same_beside_a_difference():
    """Salford's case: a group value of 7.28 against a lower limit of 7.30 printed as 7.3 twice next to
    'significantly higher'. Enough decimals are shown to see the difference."""
    meta = {"short_title": "Drug-misuse deaths", "title": "Deaths related to drug misuse", "value_type": "directly "
            "standardised rate", "unit": "per 100,000 (age-standardised)", "polarity": "low_is_good",
            "publication_status": "open"}
    row = {"value": 9.4, "lower_ci_95": 7.30, "upper_ci_95": 12.0, "period_label": "2019-21", "numerator": 60}
    sentence = text.comparison_sentence("Salford", meta, row, 7.28, "the peer group", compared="worse")
    assert sentence == ("Salford’s drug-misuse death rate, 9.4 per 100,000 in 2019–21 (95% interval 7.30 to 12.00), "
                        "is significantly higher than the peer group’s 7.28: worse than the peer group, since a lower "
                        "value is better.")
    assert "(95% interval 7.3 to 12.0)" in text.comparison_sentence("Salford", meta, row, 6.9, compared="worse")


def test_overdispersion_in_plain_words_first():
    assert text.overdispersion_sentence({"phi": 3.214, "p_value": 0.0001, "overdispersed": True}, True) == (
        "The areas vary more than chance alone would explain (over-dispersion φ = 3.21, p < 0.001), so the limits "
        "shown are widened to allow for it (Spiegelhalter’s adjustment, × √φ): an area outside them is unusual "
        "even so.")
    assert text.overdispersion_sentence({"phi": 1.1, "p_value": 0.21, "overdispersed": False}, False).startswith(
        "The areas vary no more than chance would explain (over-dispersion φ = 1.10, p = 0.210)")
    assert "too few areas" in text.overdispersion_sentence({"phi": None}, False)


def test_area_line_and_counts_in_words():
    from indicators.present import profile

    assert profile.area_line({"area_type": "unitary", "region_name": "North West"}, "E06000009") == (
        "A unitary authority in the North West · area code E06000009")
    assert profile.area_line({"area_type": "london borough", "region_name": "London"}, "E09000003") == (
        "A London borough · area code E09000003")
    assert profile.area_line({"area_type": "county", "region_name": "Yorkshire and The Humber"}, "E10000023") == (
        "A county council area in Yorkshire and The Humber · area code E10000023")
    import pandas as pd
    empty = pd.DataFrame([{"value": None, "numerator": None, "is_suppressed": False}] * 12)
    assert profile.missing_sentence("Bristol, City of", empty) == (
        "None of the 12 indicators has a figure for Bristol; the last section says why.")
    assert text.plain_name("Kingston upon Hull, City of") == "Kingston upon Hull"


def test_the_two_death_measures_side_by_side(con, shared_raw_is_whole):
    """Where a profile shows both death indicators it says what separates them and the area's share; Lancashire is
    better than England on drug-misuse deaths (4.1) and worse on drug-poisoning deaths (10.8), as ONS publishes."""
    from indicators.present import profile

    if not shared_raw_is_whole:
        blackpool = profile.deaths_caveat("Blackpool", queries.area_profile(con, "E06000009"))
        assert blackpool.startswith(profile.DEATHS_DEFINITIONS)
        return
    lancashire = profile.deaths_caveat("Lancashire", queries.area_profile(con, "E10000017"))
    # ONS 2021 workbook, Tables 4 and 6 (2019-21, persons): poisoning 364 deaths, 10.8; misuse 138, 4.1
    assert "Of Lancashire’s 364 drug-poisoning deaths in 2019–21, 138 (38%) were recorded as drug misuse" in lancashire
    assert lancashire.endswith("So Lancashire is better than England on drug-misuse deaths and worse on "
                               "drug-poisoning deaths, both exactly as ONS publishes them.")
    scilly = profile.deaths_caveat("Isles of Scilly", queries.area_profile(con, SCILLY))
    assert scilly == profile.DEATHS_DEFINITIONS  # 0 deaths of each: no share to give


# --------------------------------------------------------------------------- the illustrative deaths statement

def _independent_fewer_deaths(rows: list[dict], england_rate: float) -> tuple[float, float, float]:
    """The illustration worked out again in plain Python from the areas' published rows, without numpy or the
    library: DerSimonian-Laird on log rates, each log rate shrunk towards the random-effects mean, the quarter of
    areas with the lowest shrunken rates (the lowest ceil(N/4), which is what PHE's quartile formula gives when N/4
    is not whole), the mean of their shrunken rates; then deaths x (1 - benchmark / rate) over the areas above."""
    y = [math.log(r["value"]) for r in rows]
    v = [((math.log(r["upper_ci_95"]) - math.log(r["lower_ci_95"])) / (2 * 1.959963984540054)) ** 2 for r in rows]
    w = [1 / x for x in v]
    mean = sum(a * b for a, b in zip(w, y)) / sum(w)
    q = sum(a * (b - mean) ** 2 for a, b in zip(w, y))
    tau2 = max(0.0, (q - (len(y) - 1)) / (sum(w) - sum(a * a for a in w) / sum(w)))
    ws = [1 / (x + tau2) for x in v]
    mu = sum(a * b for a, b in zip(ws, y)) / sum(ws)
    shrunk = sorted(math.exp(mu + tau2 / (tau2 + x) * (b - mu)) for x, b in zip(v, y))
    best = sum(shrunk[: math.ceil(len(shrunk) / 4)]) / math.ceil(len(shrunk) / 4)

    def fewer(benchmark):
        return sum(r["numerator"] * (1 - benchmark / r["value"]) for r in rows if r["value"] > benchmark)

    return best, fewer(best), fewer(england_rate)


@pytest.mark.parametrize("indicator_id", ["deaths_drug_misuse", "deaths_drug_poisoning"])
def test_the_illustrative_deaths_equal_an_independent_computation(con, indicator_id):
    from indicators.present import lottery

    period = "2019-21"
    figure = queries.gap_summary(con, indicator_id, period)["illustrative_deaths"]
    frame = queries.map_values(con, indicator_id, period)
    current = set(queries.upper_tier_areas(con)["area_code"])
    rows = [r for r in frame.to_dict("records") if r["area_code"] in current and not text.is_missing(r["value"])]
    england_row = queries.benchmark_value(con, indicator_id, period)
    england, total = england_row["value"], england_row["numerator"]
    best, fewer_best, fewer_england = _independent_fewer_deaths(rows, england)
    assert figure["n_areas"] == len(rows) and figure["period_years"] == 3
    assert figure["england_rate"] == england
    assert figure["best_quarter_rate"] == pytest.approx(best, rel=1e-9)
    assert figure["fewer_than_best"] == pytest.approx(fewer_best, rel=1e-9)
    assert figure["fewer_than_england"] == pytest.approx(fewer_england, rel=1e-9)
    # England's own total, from its row, and the deaths of the current areas without a rate, which it includes
    without = [r for r in frame.to_dict("records") if r["area_code"] in current and text.is_missing(r["value"])]
    assert figure["england_deaths"] == total
    assert figure["n_without_rate"] == len(without)
    assert figure["deaths_without_rate"] == sum(r["numerator"] for r in without if not text.is_missing(r["numerator"]))
    sentence = lottery.deaths_statement(figure, queries.indicator(con, indicator_id))
    assert sentence.startswith(f"England recorded {text.format_count(total)} ")
    assert "in 2019–21, a three-year total" in sentence and "would not have happened" not in sentence
    assert f"about {text.format_count(text.round_significant(fewer_best))} fewer deaths" in sentence


def test_the_lottery_statement_on_the_whole_files(con, shared_raw):
    """The audit's figures (issue 19): 8,361 drug-misuse deaths in England in 2019-21 (ONS 2021 workbook, Table 6),
    8,181 in the 143 areas with a rate; the best quarter's plain mean 2.6 per 100,000 gave 'of the order of 4,150';
    shrunk, about 3,700; England's rate (5.1), about 1,740."""
    from indicators.present import lottery

    figure = queries.gap_summary(con, "deaths_drug_misuse", "2019-21")["illustrative_deaths"]
    assert figure["england_deaths"] == 8361 and figure["deaths_in_areas"] == 8181 and figure["n_areas"] == 143
    assert figure["n_without_rate"] == 10 and figure["deaths_without_rate"] == 180
    assert round(figure["best_quarter_rate_unshrunk"], 1) == 2.6 and round(figure["best_quarter_rate"], 1) == 3.0
    assert round(figure["fewer_than_best"], -2) == 3700 and round(figure["fewer_than_england"], -1) == 1740
    assert lottery.deaths_statement(figure, queries.indicator(con, "deaths_drug_misuse")) == (
        "England recorded 8,361 drug-misuse deaths in 2019–21, a three-year total (about 2,800 a year). Illustrative "
        "only: there would have been about 3,700 fewer deaths in 2019–21 (about 1,200 a year) if every area with a "
        "higher rate had had the rate of the best quarter of areas (3.0 per 100,000, allowing for chance: each "
        "area’s rate is first moved towards the average, the more so the fewer deaths it had); or about 1,700 fewer "
        "(about 580 a year) if every area above England’s own rate of 5.1 per 100,000 had had that rate. Both scale "
        "each area’s deaths by the ratio of age-standardised rates, and treat the benchmark as reachable everywhere: "
        "they show how large the gap is, not what lies behind it. They leave out the 10 areas without a rate (180 "
        "deaths), which are in England’s total.")


# --------------------------------------------------------------------------- one rule for the funnel's counts

@pytest.mark.parametrize("adjusted", [False, True])
def test_the_funnel_sentence_counts_as_its_legend_does(con, shared_raw_is_whole, adjusted):
    """The sentence above the funnel plot and its legend count the same points by the same positions; the gap
    section's count (each area's own interval against England) is said to be a different rule. The audit's case:
    the legend's 38 better (13 + 25) against the gap sentence's 37."""
    from indicators.present import charts, lottery

    meta = queries.indicator(con, "deaths_drug_misuse")
    funnel = queries.funnel_data(con, "deaths_drug_misuse", "2019-21", adjusted)
    legend = {}
    for trace in charts.funnel_figure(funnel, meta).data:
        match = re.fullmatch(r"(?:outside (?:95|99\.8)% limits \((?:high|low)\)|within 95% limits): "
                             r"(better|worse|similar to England)(?: \(99\.8%\))? \((\d+)\)", trace.name or "")
        if match:
            legend[match.group(1)] = legend.get(match.group(1), 0) + int(match.group(2))
    sentence = lottery.funnel_counts(funnel["points"], meta, funnel["adjusted"])
    limits = "widened limits" if funnel["adjusted"] else "limits"
    assert f"{legend['similar to England']} areas within the 95% {limits}" in sentence
    for word in ("better", "worse"):
        if legend.get(word):
            assert f"{legend[word]} areas outside them on the {word} side" in sentence
    assert "each area’s own 95% interval with England’s value instead" in sentence
    gaps = queries.gap_summary(con, "deaths_drug_misuse", "2019-21")
    assert "(each area’s own 95% interval against England’s value)" in " ".join(text.gap_sentences(gaps, meta,
                                                                                                     "2019-21"))
    if shared_raw_is_whole and not adjusted:
        assert legend == {"similar to England": 62, "better": 38, "worse": 43}
        assert (gaps["n_better_than_england"], gaps["n_worse_than_england"]) == (37, 43)


# --------------------------------------------------------------------------- the spine chart's range of areas

def test_the_spine_range_needs_enough_areas_and_says_how_many(con):
    """Unmet need has a sample extract of a few areas in this build: no range is drawn for it (the minimum in
    data/methods.toml), and each range drawn says how many areas it spans."""
    from indicators.catalogue import load_minimums
    from indicators.present import profile, svgcharts

    minimum = load_minimums().areas_for_spread
    current = list(queries.upper_tier_areas(con)["area_code"])
    frame = queries.area_profile(con, "E10000017" if "E10000017" in current else current[0])
    svg = svgcharts.spine_svg(frame, "Area")
    for row in frame.to_dict("records"):
        title = f"{row['short_title']} ({text.period_display(row['period_label'])})"
        if row["n_areas"] < minimum:
            assert text.is_missing(row["area_min"]) and title not in svg
        elif not text.is_missing(row["england_value"]):
            assert f"Range of {row['n_areas']} areas:" in svg and f">{row['n_areas']} areas</text>" in svg
    unmet = frame.set_index("indicator_id").filter(like="unmet", axis=0)
    assert not unmet.empty and (unmet["n_areas"] < minimum).all() and unmet["area_min"].isna().all()
    assert str(minimum) in profile.SPINE_EXPLAINED and "how many is given at the end of the row" in (
        profile.SPINE_EXPLAINED)


# --------------------------------------------------------------------------- every sentence, every area

def _check_every_sentence(con) -> list:
    import sentences

    said = sentences.collect(con)
    areas = {s.facts.get("area") for s in said if s.facts.get("kind") == "glance"}
    assert len(areas) == len(queries.upper_tier_areas(con))   # every current area said something
    kinds = {s.facts.get("kind") for s in said}
    assert {"map label", "glance", "deaths statement"} <= kinds
    assert sentences.problems(said) == []
    assert sentences.number_mismatches(said) == []
    return said


def test_every_sentence_for_every_area_on_the_real_build(con, shared_raw_is_whole):
    """Every sentence the pages make, for every indicator (its latest period) and every current area, on the build
    from the real files, keeps the rules of tests/sentences.py and prints the warehouse's numbers."""
    said = _check_every_sentence(con)
    if shared_raw_is_whole:
        scilly = [s.text for s in said if s.where == f"map deaths_drug_misuse 2019-21 {SCILLY}"]
        assert scilly and "Not calculated by the publisher" in scilly[0] and "suppress" not in scilly[0].lower()
        lottery = [s.text for s in said if s.where == "lottery deaths_drug_misuse 2019-21 deaths"]
        assert lottery[0].startswith("England recorded 8,361 drug-misuse deaths in 2019–21, a three-year total")


def test_every_sentence_for_every_area_on_the_synthetic_build(synthetic_warehouse):
    """The same on the full-coverage synthetic build, where every indicator has a figure for every area."""
    connection = duckdb.connect(str(synthetic_warehouse.db), read_only=True)
    try:
        _check_every_sentence(connection)
    finally:
        connection.close()


def test_the_rules_catch_what_the_audit_found():
    """The patterns of issue 19 fail the check, so a passing check means something."""
    import sentences

    bad = ["Illustrative only: of the order of 4,150 of 8,181 deaths would not have happened.",
           "Cumberland (Cumbria) and cannot be .", "Westmorland and Furness (Cumbria) a.",
           "1 peer and why each is one; 1 areas", "12 of 12 indicators have no figure for X.",
           ": = rate not calculated (ONS does not calculate)", "U = low reliability", "Unitary in North West",
           "England, 2019–21: 5.1 (95% interval –).", "value nan per 100,000"]
    found = sentences.problems([sentences.Said(f"case {i}", b) for i, b in enumerate(bad)]
                               + [sentences.Said("case prevalence", "0 of 146 compared areas are significantly worse",
                                                 {"polarity": "no_polarity"})])
    assert {f.split(":")[0] for f in found} == {f"case {i}" for i in range(len(bad))} | {"case prevalence"}


def test_an_indicator_without_a_direction_is_higher_or_lower(con):
    """OCU prevalence has no better or worse direction: the gap section counts areas significantly higher and lower
    than England (it said '0 of 146 compared areas are significantly worse than England and 0 significantly
    better') and names the highest and lowest fifths, not the best and worst."""
    meta = queries.indicator(con, "ocu_prevalence")
    assert meta["polarity"] == "no_polarity"
    period = queries.periods(con, "ocu_prevalence")[-1]
    said = " ".join(text.gap_sentences(queries.gap_summary(con, "ocu_prevalence", period), meta, period))
    frame = queries.map_values(con, "ocu_prevalence", period)
    frame = frame[frame["area_code"].isin(set(queries.upper_tier_areas(con)["area_code"])) & frame["value"].notna()]
    labels = frame["compared_to_england"]
    compared = int((labels.notna() & (labels != "not compared")).sum())
    assert (f"{(labels == 'higher').sum()} of {compared} compared areas are significantly higher than England and "
            f"{(labels == 'lower').sum()} significantly lower") in said
    assert "Highest fifth of areas" in said and "lowest fifth" in said
    assert not re.search(r"\b(?:better|worse|best|worst)\b", said, re.IGNORECASE)
