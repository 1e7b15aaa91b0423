"""The "Ask for this data" flow: a Freedom of Information request for figures no one publishes, to copy, download or email, and the campaign pack; depends on streamlit and indicators.products.foi.

For any page that shows an area without a figure: `ask_for_data(ctx, area_code, family, key)` draws the
whole flow for one area and family (the data availability page, the area profile and the scorecard
call it), `area_section(ctx, area_code)` the section for every family an area lacks, and
`availability_section(ctx, family)` the data availability page's part (an area to choose, and the
campaign pack for every area). The words of the requests live in data/foi/, not here.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from indicators.present import text
from indicators.products import foi

# The letter is long (every figure and column defined, the table): a box of its own that scrolls, so that the
# rest of the page stays a few swipes away on a phone.
LETTER_HEIGHT = 420
SEND_TO = ("No email address is filled in, and none is guessed: add the council's Freedom of Information address "
           "(on its website), or send the request through a public Freedom of Information website of your choice.")


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def ask_for_data(ctx, area_code: str, family: str, key: str) -> None:
    """The request to the council of `area_code` for `family`'s figures: the letter to copy, a .txt download, the
    reply table (CSV), a mailto: link with the subject and body filled in, and when the reply is due."""
    council = ctx.area_name(area_code)
    today = date.today()
    signature = st.text_input("Your name, to sign the letter (optional; it is not stored)", key=f"foi_name_{key}",
                              help="The Freedom of Information Act requires a request to give the requester's real "
                                   "name; if you leave this empty, the name on your email must show it.")
    request = foi.build_request(family, area_code, council, today, signature)
    try:
        due = f"it must reply by **{_day(request.due())}**"
    except foi.OutsideHolidayTable:
        due = "it must reply within 20 working days (the due date cannot be worked out for today's date)"
    st.markdown(f"A request under the Freedom of Information Act 2000 to the council for **{text.md_escape(council)}**, "
                f"for the figures on {text.md_escape(foi.family_request(family).topic)} in the financial years "
                f"{text.md_escape(', '.join(request.periods))}. If the council receives it today, {due} (20 working "
                f"days, not counting weekends and bank holidays). {SEND_TO}")
    columns = st.columns(3)
    columns[0].link_button("Open in your email program", request.mailto(), icon=":material/mail:", width="stretch")
    columns[1].download_button("Download the request (.txt)", request.text().encode("utf-8"),
                               file_name=f"foi-request-{family}-{request.file_stem}.txt", mime="text/plain",
                               key=f"foi_txt_{key}", on_click="ignore", icon=":material/description:",
                               width="stretch")
    columns[2].download_button("Download the reply table (.csv)", request.table.encode("utf-8"),
                               file_name=f"foi-reply-{family}-{request.file_stem}.csv", mime="text/csv",
                               key=f"foi_csv_{key}", on_click="ignore", icon=":material/table:", width="stretch")
    st.caption("To send it yourself, copy the subject line and the letter, each with the button at its top right "
               "(on a phone, tap the text to show the button). Some email programs cut a long link short; if the "
               "email is incomplete, paste the copied letter instead.")
    st.code(request.subject, language=None, wrap_lines=True)
    st.code(request.body, language=None, wrap_lines=True, height=LETTER_HEIGHT)


def area_section(ctx, area_code: str) -> None:
    """For an area: one "Ask for this data" per family whose requested figures it lacks (nothing when it has them all)."""
    today = date.today()
    families = [f for f in foi.request_families() if _missing(ctx, f, today).get(area_code, False)]
    if not families:
        return
    name = text.md_escape(ctx.area_name(area_code))
    st.header("Ask for this data")
    st.markdown(f"No one publishes these figures for {name}. Its council can be asked for them under the Freedom of "
                "Information Act 2000, and must answer within 20 working days. Each request below asks for exactly "
                "the figures this dashboard can load, with their definitions; a reply, once loaded (About the data "
                "says how), is shown as an FOI figure.")
    for family in families:
        with st.expander(f"Ask {name} for the {foi.family_request(family).short}", icon=":material/mail:"):
            ask_for_data(ctx, area_code, family, key=f"area_{family}")


def availability_section(ctx, family: str) -> None:
    """The data availability page's part for one family: an area without the figures to ask, and the campaign pack."""
    if family not in foi.request_families():
        return
    today = date.today()
    missing = _missing(ctx, family, today)
    codes = [code for code, lacking in missing.items() if lacking]
    short = foi.family_request(family).short
    st.subheader("Ask for this data")
    lacking = (f"No area has all the {short} a council can be asked for" if len(codes) == len(missing) else
               f"{len(codes)} of {len(missing)} areas lack some of the {short} a council can be asked for")
    st.markdown(f"{lacking}. Anyone can ask under the Freedom of Information Act 2000: download a request to every "
                "council at once, or choose an area for a request ready to send.")
    campaign_pack_button(ctx, family, key=f"availability_{family}")
    if codes:
        chosen = ctx.state.area if ctx.state.area in codes else codes[0]
        code = st.selectbox("Area to ask", codes, index=codes.index(chosen), key=f"foi_area_{family}",
                            format_func=ctx.area_name)
        ask_for_data(ctx, code, family, key=f"availability_{family}")


def campaign_pack_button(ctx, family: str, key: str) -> None:
    """One click: a zip with a request to every current area's council, their reply tables and a tracking CSV."""
    today = date.today()
    try:
        due = foi.due_date(today)
    except foi.OutsideHolidayTable as exc:
        st.warning(f"The campaign pack needs due dates, and {exc}")
        return
    areas = ctx.wh.q("upper_tier_areas")
    folder = foi.pack_name(family, today)
    st.download_button(
        f"Download a request to every council ({len(areas)}), with a tracking sheet (.zip)",
        lambda: foi.pack_zip(foi.campaign_pack(areas, family, today), folder, today),
        file_name=f"{folder}.zip", mime="application/zip", key=f"foi_pack_{key}", on_click="ignore",
        icon=":material/folder_zip:")
    st.caption(f"For a national survey, as the charity Release ran for naloxone: each request, its reply table, and "
               f"tracking.csv with a due date for each ({_day(due)} if sent today). The command line writes the same "
               f"pack: `indicators foi-pack --family {family} --out DIR`.")


def _missing(ctx, family: str, today: date) -> dict[str, bool]:
    """area code -> whether it lacks any of the family's requested figures (in area-name order)."""
    frame = ctx.wh.q("areas_to_ask", family, today)
    return dict(zip(frame["area_code"], frame["missing"]))
