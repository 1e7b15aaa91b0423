"""The static site's scorecard (scorecard/): every current area against England in one table, by name, with its CSV; depends on indicators.present and indicators.products.

The same table, words and CSV as the dashboard's scorecard page (indicators.present.scorecard over
queries.scorecard) in its default view: every region, areas by name. Ordering by a column and filtering by
region are the app's (the page links there); each area's name links to its static profile.
"""

from __future__ import annotations

from collections.abc import Iterator

from indicators.present import scorecard as sc
from indicators.present.state import SORT_DEFAULT
from indicators.products import downloads
from indicators.products.publish import site as common
from indicators.products.publish.areas import area_path
from indicators.products.publish.layout import Page, href

PATH = "scorecard/"
TITLE = "Scorecard: the postcode lottery in one table"


def csv_name(site: common.Site) -> str:
    return downloads.download_name(None, site.build_date, "scorecard", "csv")


def metadata_name(site: common.Site) -> str:
    return downloads.download_name(None, site.build_date, "scorecard-metadata", "md")


def pages(site: common.Site) -> Iterator[Page]:
    data = site.q("scorecard")
    if data.empty:
        return
    rows = sc.chosen(data, None, SORT_DEFAULT)
    orders = sc.sort_options(data)
    ids = sc.indicator_ids(rows)
    files = {csv_name(site): downloads.view_csv(sc.csv_rows(rows), build_id=site.build_id),
             metadata_name(site): downloads.view_metadata(site.con, ids, site.page_url(PATH))}
    body = [f"<h1>{common.e(TITLE)}</h1>", common.paragraph(sc.INTRO),
            "<h2>How much of the lottery can be seen today</h2>", common.bullets(sc.summary(data)),
            sc.table_html(rows, lambda code: href(PATH, area_path(code)), sc.caption(None, orders[SORT_DEFAULT])),
            common.paragraph(sc.STATIC_HELP), sc.legend_html(),
            common.download_list(PATH, [(PATH + csv_name(site), "CSV", "every cell's figure, interval, count, "
                                         "England's value and note, one row per area and column"),
                                        (PATH + metadata_name(site), "Definitions and sources", "")]),
            common.cite_block(site.citation(TITLE, PATH, ids))]
    yield Page(PATH, TITLE, "Every upper-tier area of England against England: treatment completions, drug-related "
               "deaths, hepatitis C and naloxone side by side, and where the figures are missing.", "".join(body),
               site.app("scorecard"), section=PATH, files=files)
