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
