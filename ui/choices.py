"""The main choices (indicator, period, area) in the sidebar and, on narrow screens, at the top of the page, with the area
search (places, GSS codes, postcodes); depends on streamlit, indicators.present and ui.data.

Each choice is drawn twice: in the sidebar (`w_<name>`) and in a container at the top of the page
(`wi_<name>`) that CSS shows only below Streamlit's mobile breakpoint (768 px), where the sidebar is
folded away behind its toggle. The two widgets hold one value: each one's callback copies its new value
to the other and to `keep_<name>` (which survives page changes), so whichever a visitor uses, both show
the same. Only one of the two is ever displayed (`display: none` also takes the other out of the
accessibility tree).

The Area box lists the current areas and, after them, every other name the build knows for a place
in one (indicators.products.queries.place_names: districts past and present, former counties and
unitary authorities), labelled 'Preston → Lancashire', 'Carlisle → Cumberland (formerly Cumbria)'.
Anything else typed and entered (a GSS code, a postcode, a name) is looked up with
queries.find_area and replaced by the area it finds; the box says what it found or why it found
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import streamlit as st

from indicators.present import places as words
from indicators.present import text
from indicators.present.state import Choices, State, default_period
from ui.data import Warehouse

PREFIXES = ("w", "wi")  # sidebar, in the page
INLINE_KEY = "inline_choices"
MESSAGE_KEY = "_area_search_message"
# Streamlit folds the sidebar away below its "md" breakpoint (768 px): the choices are then drawn in the page.
# The sidebar's page links are hidden there too: a page link, unlike Streamlit's own menu, leaves the folded-out
# sidebar covering the page it opens on a phone; the page's own row of links takes their place. Below 640 px,
# where Streamlit stacks columns, the map's legend is drawn above the map (pages/map.py draws it twice). On a touch
# screen a table's toolbar (search, download, full screen) is always shown, 44 px above the table, over the heading
# or sentence before it: tables get that much room above them there.
NARROW_CSS = f"""<style>
@media (min-width: 768px) {{ .st-key-{INLINE_KEY} {{ display: none; }} }}
@media (max-width: 767.98px) {{ .st-key-page_links {{ display: none; }} }}
.st-key-{INLINE_KEY} {{ border-bottom: 1px solid #d6d6d6; padding-bottom: 0.5rem; }}
.st-key-inline_page_links {{ column-gap: 0.25rem; row-gap: 0; }}
@media (min-width: 640px) {{ .st-key-map_legend_narrow {{ display: none; }} }}
@media (max-width: 639.98px) {{ .st-key-map_legend_wide {{ display: none; }} }}
.st-key-map_legend_narrow .ind-map-legend li {{ display: inline-block; margin-right: 0.8rem !important; }}
@media (hover: none) {{ [data-testid="stElementContainer"]:has([data-testid="stDataFrame"]) {{ margin-top: 2.5rem; }} }}
</style>"""


@dataclass(frozen=True)
class AreaSearch:
    """The Area box's options and labels for one build (shared between sessions: read-only)."""
    options: tuple[str, ...]          # current area codes by name, then place keys by label
    labels: Mapping[str, str]         # option -> its label
    places: Mapping[str, dict]        # place key -> its row of queries.place_names
    targets: Mapping[str, tuple[str, ...]]  # place code -> the names of every current area it lies in
    postcodes_loaded: bool

    def resolve(self, value: object, find: Callable[[str], dict]) -> tuple[str | None, str | None, bool]:
        """(area code, message, changed) for a value of the Area box: an area code as it is; a place option as
        its area, with a sentence naming both; anything typed through `find` (queries.find_area). changed is
        False when nothing usable was found (the box then goes back to the area it had)."""
        if value is None:
            return None, None, True
        value = str(value)
        if value in self.labels and value not in self.places:
            return value, None, True
        if value in self.places:
            place = self.places[value]
            return place["area_code"], words.found_sentence(place, self.targets.get(place["place_code"], ())), True
        found = find(value)
        matches = found["matches"]
        areas = list(dict.fromkeys(m["area_code"] for m in matches))
        if len(areas) == 1:
            match = matches[0]
            if match.get("place_name"):
                return areas[0], words.found_sentence(match), True
            if found["kind"] == "postcode":
                return areas[0], words.postcode_sentence(value, match["area_name"]), True
            return areas[0], None, True
        if len(areas) > 1:
            return None, words.several_sentence(value, [m["area_name"] for m in matches]), False
        return None, words.no_match_sentence(value, found["kind"], found["postcodes_loaded"]), False


@st.cache_resource(show_spinner=False, max_entries=4)
def _area_search(path: str, mtime_ns: int, build_id: str, _wh: Warehouse, _choices: Choices) -> AreaSearch:
    areas = sorted(_choices.areas, key=lambda c: _choices.areas[c].casefold())
    labels: dict[str, str] = {code: _choices.areas[code] for code in areas}
    places: dict[str, dict] = {}
    targets: dict[str, list[str]] = {}
    for row in _wh.q("place_names").to_dict("records"):
        if row["area_code"] not in _choices.areas:
            continue
        key = words.place_key(row["place_code"], row["area_code"])
        places[key] = row
        labels[key] = words.place_label(row)
        targets.setdefault(row["place_code"], []).append(row["area_name"])
    ordered = sorted(places, key=lambda k: (labels[k].casefold(), k))
    return AreaSearch(tuple(areas + ordered), labels, places, {k: tuple(v) for k, v in targets.items()},
                      bool(_wh.q("postcodes_loaded")))


def set_choice(name: str, value) -> None:
    """Give both widgets of choice `name` and its kept value `value` (a URL or a search chose it)."""
    for prefix in PREFIXES:
        st.session_state[f"{prefix}_{name}"] = value
    st.session_state[f"keep_{name}"] = value


def _copy(name: str, source: str) -> None:
    set_choice(name, st.session_state.get(source))


def _area_changed(source: str, search: AreaSearch, wh: Warehouse) -> None:
    code, message, changed = search.resolve(st.session_state.get(source), lambda typed: wh.q("find_area", typed))
    set_choice("area", code if changed else st.session_state.get("keep_area"))
    st.session_state[MESSAGE_KEY] = message


def _restore(name: str, valid, fallback) -> None:
    """Give the widgets of `name` their kept value when Streamlit dropped it (e.g. on a page change) or it is not valid."""
    kept = st.session_state.get(f"keep_{name}")
    for prefix in PREFIXES:
        key = f"{prefix}_{name}"
        if key not in st.session_state or st.session_state[key] not in valid:
            st.session_state[key] = kept if kept in valid else fallback


def _widgets(ctx, prefix: str, search: AreaSearch, message: str | None, row=None) -> None:
    """The three boxes; `row`, when given, is a horizontal container for the indicator and period (in the page)."""
    choices, labels = ctx.choices, ctx.facts.labels
    indicator = st.session_state.get(f"{prefix}_indicator")
    with row if row is not None else st.container():
        _indicator_and_period(ctx, prefix, choices, labels, indicator, narrow=row is not None)
    st.selectbox("Area", search.options, key=f"{prefix}_area", index=None,
                 placeholder="Place, council, code or postcode",
                 format_func=lambda option: search.labels.get(option, str(option)), accept_new_options=True,
                 filter_mode="contains", on_change=_area_changed, args=(f"{prefix}_area", search, ctx.wh),
                 help=words.search_help(search.postcodes_loaded))
    if message:
        st.caption(text.md_escape(message))


def _indicator_and_period(ctx, prefix: str, choices: Choices, labels: Mapping[str, str], indicator, narrow: bool):
    if choices.indicators:
        indicator = st.selectbox("Indicator", choices.indicators, key=f"{prefix}_indicator",
                                 format_func=lambda i: labels.get(i, i), on_change=_copy,
                                 args=("indicator", f"{prefix}_indicator"),
                                 help=f"Grouped by family: {ctx.facts.families}. The page title gives the full name.")
    else:
        st.markdown("There are no indicators to choose from.")
    periods = ctx.periods(indicator)
    if periods:
        st.selectbox("Period", list(reversed(periods)), key=f"{prefix}_period", format_func=text.period_display,
                     on_change=_copy, args=("period", f"{prefix}_period"), width=120 if narrow else "stretch",
                     help="Latest first. Periods differ between indicators.")
    elif indicator:
        st.markdown("This indicator has no figures yet, so there is no period to choose.")


def draw(ctx) -> State:
    """Draw the choices in the sidebar and in the page (shown on narrow screens); the state they give."""
    choices, state = ctx.choices, ctx.state
    search = _area_search(ctx.wh.path, ctx.wh.mtime_ns, ctx.wh.build_id, ctx.wh, choices)
    indicator = None
    if choices.indicators:
        _restore("indicator", choices.indicators, choices.default_indicator)
        indicator = st.session_state["w_indicator"]
    periods = ctx.periods(indicator)
    if periods:
        _restore("period", periods, default_period(periods))
    _restore("area", choices.areas, None)
    message = st.session_state.pop(MESSAGE_KEY, None)
    with st.sidebar:
        st.header("Choose")
        _widgets(ctx, "w", search, message)
    st.html(NARROW_CSS)
    with st.container(key=INLINE_KEY):
        ctx.inline_nav_slot = st.container(key="inline_page_links", horizontal=True, gap="small")
        _widgets(ctx, "wi", search, message, row=st.container(horizontal=True, gap="small"))
    period = st.session_state.get("w_period") if periods else None
    area = st.session_state.get("w_area")
    area = area if area in choices.areas else None
    for name, value in (("indicator", indicator), ("period", period), ("area", area)):
        st.session_state[f"keep_{name}"] = value
    return replace(state, indicator=indicator, period=period, area=area)
