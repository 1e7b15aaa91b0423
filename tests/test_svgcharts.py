"""indicators.present.svgcharts and indicators.present.htmltable: the area profile's spine chart, trend chart and tables, drawn on
the server. Coordinates are worked out by hand from the layout constants; the markup is parsed as XML to check its
structure and escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from indicators.present import svgcharts
from indicators.present.charts import CATEGORY_COLOURS

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    """The <svg> of a figure; fails on markup that is not well-formed (an unescaped character from the data)."""
    figure = ET.fromstring(markup)
    assert figure.tag == "figure"
    return figure.find(f"{SVG}svg")


def profile_rows(**overrides) -> pd.DataFrame:
    base = [
        dict(indicator_id="deaths", short_title="Drug-misuse deaths", period_label="2019-21",
             unit="per 100,000 (age-standardised)", polarity="low_is_good", england_value=5.0, area_min=2.0,
             area_q25=4.0, area_q75=7.0, area_max=20.0, value=20.0, region_value=8.0, compared_to_england="worse",
             is_suppressed=False, has_row=True, numerator=50, n_areas=150),
        dict(indicator_id="completion", short_title="Completions (opiate)", period_label="2020/21", unit="%",
             polarity="high_is_good", england_value=50.0, area_min=30.0, area_q25=45.0, area_q75=55.0,
             area_max=60.0, value=55.0, region_value=np.nan, compared_to_england="similar", is_suppressed=False,
             has_row=True, numerator=40, n_areas=1),
        dict(indicator_id="hcv", short_title="HCV", period_label="2020/21", unit="%", polarity="high_is_good",
             england_value=np.nan, area_min=np.nan, area_q25=np.nan, area_q75=np.nan, area_max=np.nan,
             value=np.nan, region_value=np.nan, compared_to_england=np.nan, is_suppressed=False, has_row=False,
             numerator=np.nan, n_areas=0),
    ]
    frame = pd.DataFrame(base)
    for key, value in overrides.items():
        frame[key] = value
    return frame


def test_nice_ticks():
    assert svgcharts.nice_ticks(0, 22.1) == [0, 5, 10, 15, 20, 25]
    assert svgcharts.nice_ticks(0, 7.9) == [0, 2, 4, 6, 8]
    assert svgcharts.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svgcharts.nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert svgcharts.nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]  # nothing to span: zero to one
    assert svgcharts.nice_ticks(0, 27.4) == [0, 10, 20, 30]  # 5.48 a step rounds up to 10
    assert svgcharts.nice_ticks(-3, 4) == [-4, -2, 0, 2, 4]


def test_wrap():
    assert svgcharts.wrap("Unmet need (opiate/crack) (2020/21)", 36) == ["Unmet need (opiate/crack) (2020/21)"]
    assert svgcharts.wrap("Estimated prevalence of opiate and/or crack cocaine use (2016/17)", 36) == [
        "Estimated prevalence of opiate", "and/or crack cocaine use (2016/17)"]
    assert svgcharts.wrap("", 10) == [""]


def test_spine_positions_on_the_page():
    svg = parse(svgcharts.spine_svg(profile_rows(), "Blackpool"))
    rows = [g for g in svg.findall(f"{SVG}g") if g.find(f"{SVG}title") is not None]
    assert len(rows) == 2  # the indicator without England's value or a spread is left out
    # Layout: plot from x=270 to x=820, centre 545, one unit of position = (550 / 2) / 1.1 = 250.
    deaths, completions = rows
    # Deaths (low is good, flipped): the area (20, the highest) is the worst, at position -1 -> x = 295; the
    # 14-unit square of 'worse' is drawn from 288. The region (8): -(8 - 5) / 15 = -0.2 -> x = 495.
    square = deaths.find(f"{SVG}rect[@fill='{CATEGORY_COLOURS['worse']}']")
    assert (square.get("x"), square.get("width")) == ("288", "14")
    region = deaths.find(f"{SVG}polygon[@fill='none']")
    assert region.get("points").split()[0] == "495,50.1"  # the diamond's top: row centre 34 + 23 = 57, minus 6.875
    bars = deaths.findall(f"{SVG}rect")
    assert (bars[0].get("x"), bars[0].get("width")) == ("295", "300")  # range: worst -1 (295) to best +0.2 (595)
    # IQR: 7 -> -2/15 (x = 545 - 33.3 = 511.7) to 4 -> +1/15 (x = 561.7), 50 wide
    assert (bars[1].get("x"), bars[1].get("width")) == ("511.7", "50")
    # Completions (high is good): the furthest area is 30, 20 from England, so 55 is (55 - 50) / 20 = +0.25
    # -> x = 607.5: a 'similar' diamond (half-diagonal 7 x 1.25) whose right corner is at 616.25, on row 2 (y 103).
    diamond = completions.find(f"{SVG}polygon[@fill='{CATEGORY_COLOURS['similar']}']")
    assert diamond.get("points").split()[1] == "616.2,103"
    assert completions.find(f"{SVG}polygon[@fill='none']") is None
    tip = deaths.find(f"{SVG}title").text.split("\n")
    assert tip == ["Drug-misuse deaths (2019–21)", "Blackpool: 20.0 per 100,000", "England: 5.0 per 100,000",
                   "Rest of the region: 8.0 per 100,000", "Range of 150 areas: 2.0 to 20.0", "Worse than England"]
    texts = [t.text for t in svg.iter(f"{SVG}text") if t.text]
    assert {"← worst", "England", "best →", "worse", "similar", "Rest of the region", "Blackpool: worse than England",
            "Blackpool: similar to England", "Range of areas (worst to best)", "25th to 75th percentile",
            "150 areas", "1 area"} <= set(texts)  # how many areas each row's range spans, at its end
    assert svg.get("role") == "img" and svg.get("aria-label").startswith("Spine chart: Blackpool against England")
    figure = ET.fromstring(svgcharts.spine_svg(profile_rows(), "Blackpool"))
    assert (figure.get("role"), figure.get("aria-label")) == ("group", "Spine chart")


def test_spine_for_a_narrow_column_has_labels_above_the_bars():
    """The second drawing (shown by CSS below 600 px of column): 360 units across, so a phone shows all of it, each
    label (with its comparison's word) above its bar, England's line across every bar at the centre."""
    figure = ET.fromstring(svgcharts.spine_svg(profile_rows(), "Blackpool"))
    wide, narrow = figure.findall(f"{SVG}svg")
    assert (wide.get("class"), narrow.get("class")) == ("ind-spine-wide", "ind-spine-narrow")
    assert narrow.get("viewBox").startswith("0 0 360 ") and narrow.get("aria-label") == wide.get("aria-label")
    assert "@container (max-width: 600px)" in svgcharts.CHART_CSS and "container-type: inline-size" in svgcharts.CHART_CSS
    # Plot from x=12 to 348: centre 180, one unit of position (336 / 2) / 1.1 = 152.7.
    deaths, completions = narrow.findall(f"{SVG}g")[:2]
    label = deaths.find(f"{SVG}text")
    assert (label.text, label.get("x"), label.get("y")) == ("Drug-misuse deaths (2019–21, 150 areas): worse", "12",
                                                           "47")
    bars = deaths.findall(f"{SVG}rect")
    # The label's line is 34 + 13; the bar's centre 34 + 16 + 14 = 64, 14 high. Deaths' range: -1 (x 27.3) to +0.2.
    assert (bars[0].get("x"), bars[0].get("y"), bars[0].get("height")) == ("27.3", "57", "14")
    england = [line for line in narrow.iter(f"{SVG}line") if line.get("class") == "ind-spine-england"]
    # The second label takes two lines (16 each): its bar's centre is 85 + 32 + 14 = 131.
    assert [(line.get("x1"), line.get("y1"), line.get("y2")) for line in england] == [("180", "53", "75"),
                                                                                     ("180", "120", "142")]
    assert [t.text for t in completions.findall(f"{SVG}text")] == ["Completions (opiate) (2020/21, 1 area):", "similar"]
    # Everything drawn lies inside the 360 units.
    xs = [float(v) for e in narrow.iter() for k, v in e.attrib.items() if k in ("x", "x1", "x2", "cx")]
    assert 0 <= min(xs) and max(xs) <= 360


def test_spine_escapes_the_data_and_says_when_there_is_nothing():
    markup = svgcharts.spine_svg(profile_rows(short_title='<script>alert("x")</script> & co'), 'A & "B" <i>')
    svg = parse(markup)
    assert "<script" not in markup and "<i>" not in markup
    assert any('<script>alert("x")</script> & co (2019–21)' in (t.text or "") for t in svg.iter(f"{SVG}title"))
    assert svgcharts.spine_svg(profile_rows().iloc[[2]], "Blackpool") is None


def series_rows() -> pd.DataFrame:
    rows = []
    for period, (area, lo, hi), england in [("2017-19", (10.0, 8.0, 12.0), 4.0), ("2018-20", (12.0, 10.0, 14.0), 4.5),
                                            ("2019-21", (np.nan, np.nan, np.nan), 5.0), ("2020-22", (16.0, 13.0, 19.0), 5.5)]:
        rows.append(dict(period_label=period, role="area", value=area, lower_ci_95=lo, upper_ci_95=hi))
        rows.append(dict(period_label=period, role="England", value=england, lower_ci_95=np.nan, upper_ci_95=np.nan))
    return pd.DataFrame(rows)


def test_trend_chart():
    indicator = {"short_title": "Drug-misuse deaths", "unit": "per 100,000 (age-standardised)"}
    svg = parse(svgcharts.trend_svg(series_rows(), indicator, {"area": "Blackpool", "England": "England"}))
    # y from 0 to 20 (the highest upper limit is 19; 19 / 5 = 3.8 a step rounds up to 5): ticks 0, 5, 10, 15, 20.
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end" and "rotate" not in
             (t.get("transform") or "")]
    assert ticks == ["0", "5", "10", "15", "20"]
    periods = [t.text for t in svg.iter(f"{SVG}text") if "rotate(-45" in (t.get("transform") or "")]
    assert periods == ["2017–19", "2018–20", "2019–21", "2020–22"]
    lines = svg.findall(f"{SVG}polyline")
    assert [line.get("stroke") for line in lines] == ["#222222", "#1a64a8"]  # England under the area
    # x: plot from 58 to 466, four periods at (i + 0.5) / 4 of it: 109, 211, 313, 415. The area has no 2019-21
    # point, so its line joins 2018-20 to 2020-22.
    area_x = [float(p.split(",")[0]) for p in lines[1].get("points").split()]
    assert area_x == [109, 211, 415]
    england_y = [float(p.split(",")[1]) for p in lines[0].get("points").split()]
    bottom = float(svg.findall(f"{SVG}line")[-1].get("y1"))  # the x axis
    top = bottom - (bottom - england_y[0]) * 20 / 4  # 4.0 sits at a fifth of the height
    assert england_y[3] == pytest.approx(bottom - (bottom - top) * 5.5 / 20, abs=0.1)
    band = svg.find(f"{SVG}polygon")
    assert band.get("fill") == "#1a64a8" and band.get("fill-opacity") == "0.15" and len(band.get("points").split()) == 6
    tips = [c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle") if c.find(f"{SVG}title") is not None]
    assert len(tips) == 7
    assert "Blackpool, 2020–22\n16.0 per 100,000\n95% interval: 13.0 to 19.0" in tips
    assert "England, 2017–19\n4.0 per 100,000\n95% interval: –" in tips
    assert svg.get("aria-label") == ("Line chart: Drug-misuse deaths, 2017–19 to 2020–22, for Blackpool, England, "
                                     "with 95% intervals. The table below the chart gives the same figures.")
    assert re.search(r">per 100,000</text>", svgcharts.trend_svg(series_rows(), indicator, {}))


def test_trend_labels_thin_out_when_there_are_many_periods():
    rows = pd.DataFrame([dict(period_label=str(2000 + i), role="area", value=float(i), lower_ci_95=np.nan,
                              upper_ci_95=np.nan) for i in range(25)])
    svg = parse(svgcharts.trend_svg(rows, {"short_title": "x", "unit": "%"}, {"area": "A"}))
    periods = [t.text for t in svg.iter(f"{SVG}text") if "rotate(-45" in (t.get("transform") or "")]
    assert periods[:3] == ["2000", "2003", "2006"] and periods[-1] == "2024" and len(periods) == 9


# --------------------------------------------------------------------------- indicators.present.htmltable

def test_html_table_formats_escapes_and_heads_rows():
    from support import read_html_tables

    from indicators.present.htmltable import TABLE_CSS, Column, html_table

    rows = pd.DataFrame([
        dict(area="<b>Blackpool</b> & co", value=19.4444, count=110.0, period="2019-21", note=None),
        dict(area="Camden", value=np.nan, count=2.5, period="2020/21", note='said "no"'),
        dict(area="Big", value=12345.678, count=np.nan, period=None, note=""),
    ])
    columns = [Column("area", "Area"), Column("value", "Rate", "number"), Column("count", "Count", "count"),
               Column("period", "Period", "period"), Column("note", "Note")]
    markup = html_table(rows, columns, caption="Deaths <by> area")
    assert "<b>" not in markup and "&lt;b&gt;Blackpool&lt;/b&gt; &amp; co" in markup
    assert 'role="region" aria-label="Deaths &lt;by&gt; area" tabindex="0"' in markup
    assert markup.count('<th scope="row">') == 3 and markup.count('<th scope="col"') == 5
    assert '<th scope="col" class="ind-num">Rate</th>' in markup and '<td class="ind-num">19.4</td>' in markup
    table = read_html_tables(markup)[0]
    assert table.attrs["caption"] == "Deaths <by> area"
    assert table.to_dict("list") == {"Area": ["<b>Blackpool</b> & co", "Camden", "Big"],
                                     "Rate": ["19.4", "–", "12,346"], "Count": ["110", "2.5", "–"],
                                     "Period": ["2019–21", "2020/21", ""], "Note": ["", 'said "no"', ""]}
    plain = html_table([{"a": 1}], [Column("a", "A", "count")], caption="c", row_headers=False)
    assert "<th scope=\"row\"" not in plain and '<td class="ind-num">1</td>' in plain
    prose = html_table([{"a": "x", "why": "not in a_long_file_name.csv"}], [Column("a", "A"),
                                                                          Column("why", "Why", "prose")], caption="c")
    assert '<td class="ind-prose">not in a_long_file_name.csv</td>' in prose and ".ind-prose {" in TABLE_CSS
    with pytest.raises(ValueError, match="kind 'money' is not one of text, prose, number, count, period, interval"):
        Column("x", "X", "money")


def test_trend_table_has_a_row_per_period():
    from support import read_html_tables

    from indicators.present.htmltable import html_table

    rows, columns = svgcharts.trend_table(series_rows(), {"area": "Blackpool", "England": "England"})
    table = read_html_tables(html_table(rows, columns, caption="t"))[0]
    assert list(table.columns) == ["Period", "Blackpool", "Blackpool: 95% interval", "England",
                                   "England: 95% interval"]  # no counts in these rows, so no count column
    assert table.values.tolist() == [["2017–19", "10.0", "8.0 to 12.0", "4.0", "–"],
                                     ["2018–20", "12.0", "10.0 to 14.0", "4.5", "–"],
                                     ["2019–21", "–", "–", "5.0", "–"],
                                     ["2020–22", "16.0", "13.0 to 19.0", "5.5", "–"]]
