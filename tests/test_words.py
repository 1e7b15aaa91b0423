"""Issue 19: every generated sentence true for every area, in plain words; the states a missing figure can be in.

Built from the real files (`real_raw`: ../shared/data/raw, or the vendored cuts without it) and checked against
the ONS workbook's own cells where the whole files are there.
"""

from __future__ import annotations

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
        "None of the 12 indicators has a figure for Bristol in this build; the last section says why.")
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
