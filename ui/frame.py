"""The frame every page shares: URL state in and out, the sidebar, notices, the footer and the download buttons; depends on streamlit and indicators.

dashboard.py calls `start` before the page and `finish` after it; a page calls `context` to get
the warehouse, the build's choices and the current state, and the small widget helpers here for
the state it owns (peer group, colour mode, ...), so that every piece of state round-trips
through the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from indicators import config
from indicators.pipeline.synthetic import NOTICE as SYNTHETIC_NOTICE
from indicators.present import text, twins
from indicators.present.state import (
    PARAM_NAMES,
    Choices,
    State,
    default_period,
    make_choices,
    parse_params,
    present_params,
    to_params,
)
from indicators.products import downloads
from ui import choices as main_choices
from ui.data import Warehouse, open_warehouse

CTX_KEY = "_dashboard_context"
SEEN_KEY = "_dashboard_url_seen"
# Page widgets; like the sidebar's, their values are kept across pages in `keep_<name>`.
PAGE_PARAMS = {"peers": None, "colour": "comparison", "completion": None, "adjusted": False, "family": None,
               "region": None, "sort": "area"}
HOW_TO_BUILD = (
    "Build it with `uv run indicators build` (after `uv run indicators fetch`; offline, point `--raw` at a "
    "folder of the official files, e.g. `uv run indicators build --raw ../shared/data/raw`), or start "
    "everything with `uv run indicators serve`. Set `INDICATORS_DB` to use a warehouse file elsewhere.")


@dataclass(frozen=True)
class BuildFacts:
    """What every run needs from the build, worked out once per build and shared between sessions (read-only)."""
    catalogue: pd.DataFrame
    choices: Choices
    meta: Mapping[str, dict]  # indicator id -> its catalogue row
    labels: Mapping[str, str]  # indicator id -> its label in the sidebar
    families: str  # the families in display order, for the Indicator box's help
    sources: tuple[str, ...]  # the footer's sources, one line per publisher
    fetch_notice: str = ""  # Markdown naming the sources the build could not fetch ("" when all arrived)


@st.cache_resource(show_spinner=False, max_entries=4)
def _build_facts(path: str, mtime_ns: int, build_id: str, _wh: Warehouse) -> BuildFacts:
    catalogue = _wh.q("indicators")
    choices = make_choices(catalogue, _wh.q("indicator_periods"), _wh.q("upper_tier_areas"))
    records = catalogue.to_dict("records")
    meta = {row["indicator_id"]: row for row in records}
    families = text.md_escape(", ".join(dict.fromkeys(catalogue["family_title"])))
    sources = tuple(text.footer_sources(_wh.q("sources_by_publisher")))
    return BuildFacts(catalogue, choices, meta, _indicator_labels(records, choices), families, sources,
                      _wh.q("fetch_notice"))


@dataclass
class Context:
    wh: Warehouse
    choices: Choices
    state: State
    facts: BuildFacts
    notices: list[str] = field(default_factory=list)
    url_names: tuple[str, ...] = ("indicator", "period", "area")
    nav_slot: object = None  # the sidebar's place for the page links (ui.nav.links), at its top
    inline_nav_slot: object = None  # their place in the page on narrow screens (ui.choices)

    @property
    def catalogue(self) -> pd.DataFrame:
        """The indicator catalogue in display order (shared between sessions: read-only)."""
        return self.facts.catalogue

    def indicator(self, indicator_id: str | None) -> dict:
        """The catalogue row of an indicator as a dict (empty when unknown)."""
        return dict(self.facts.meta.get(indicator_id, {})) if indicator_id else {}

    def area_name(self, area_code: str | None) -> str:
        return self.choices.areas.get(area_code, area_code or "")

    def periods(self, indicator_id: str | None) -> tuple[str, ...]:
        return self.choices.periods.get(indicator_id, ()) if indicator_id else ()


def _url_key(params: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in params.items()))


def _sync_from_url(choices: Choices) -> tuple[State, list[str]]:
    """Apply the URL's parameters to the widgets when the URL came from outside this session's last run."""
    params = st.query_params.to_dict()
    state, notices = parse_params(params, choices)
    if st.session_state.get(SEEN_KEY) == _url_key(params):
        return state, []
    for name in present_params(params):
        if name in ("indicator", "period", "area"):
            main_choices.set_choice(name, getattr(state, name))
        else:
            st.session_state[f"keep_{name}"] = getattr(state, name)
    return state, notices


def _indicator_labels(records: list[dict], choices: Choices) -> dict[str, str]:
    labels = {}
    for row in records:
        label = str(row.get("short_title") or row["title"])
        status = row.get("publication_status")
        if not text.is_missing(status) and status != text.OPEN_STATUS:
            label += " (not published)"
        elif not choices.periods.get(row["indicator_id"]):
            label += " (no data)"
        labels[row["indicator_id"]] = label
    return labels


def _choices(ctx: Context) -> State:
    """The sidebar's page links slot and main choices (ui.choices), and the page-owned state kept across pages."""
    ctx.nav_slot = st.sidebar.container(key="page_links")
    state = main_choices.draw(ctx)
    # A page-owned value is in the state (and so in links to other pages) only once a visitor or a link chose it:
    # each page fills in its own default without writing it to the address (see page_choice).
    keep = {name: st.session_state.get(f"keep_{name}", default) for name, default in PAGE_PARAMS.items()}
    return replace(state, **keep)


def start() -> Context | None:
    """Open the warehouse, restore the state from the URL, draw the sidebar; None (and an error) without a warehouse."""
    wh, problem = open_warehouse()
    if wh is None:
        st.session_state[CTX_KEY] = None
        st.error(f"**The dashboard has no data to show.** {problem} {HOW_TO_BUILD}")
        return None
    if is_synthetic(wh):
        st.error(f"**{SYNTHETIC_NOTICE}**", icon="⚠️")
    facts = _build_facts(wh.path, wh.mtime_ns, wh.build_id, wh)
    choices = facts.choices
    state, notices = _sync_from_url(choices)
    ctx = Context(wh=wh, choices=choices, state=state, facts=facts, notices=notices)
    ctx.state = _choices(ctx)
    if facts.fetch_notice:  # one notice on every page, however many sources failed
        st.warning(facts.fetch_notice, icon="⚠️")
    for notice in notices:
        st.warning(notice, icon="⚠️")
    st.session_state[CTX_KEY] = ctx
    return ctx


def is_synthetic(wh: Warehouse) -> bool:
    """Whether the warehouse was built from synthetic test data (published.build_info.synthetic)."""
    return bool(wh.build.get("synthetic"))


def context(url_names: tuple[str, ...] = ("indicator", "period", "area")) -> Context | None:
    """The current run's context for a page, declaring which state the page writes to the URL."""
    ctx = st.session_state.get(CTX_KEY)
    if ctx is not None:
        ctx.url_names = tuple(n for n in url_names if n in PARAM_NAMES)
    return ctx


def page_choice(ctx: Context, name: str, label: str, options: list, format_func=str, default=None,
                horizontal: bool = True, help: str | None = None, page: str = ""):
    """A radio for page-owned state `name` (peers, colour, completion, family) whose value is shared by every page
    that shows it and survives page changes: `keep_<name>` holds it, each page's widget follows it.

    Until a visitor (or a link) chooses, the radio shows `default` (else the first option) but the state, and
    so the address, leaves `name` out: a link from another page then gives exactly the address this page
    writes, and arriving adds one browser history entry, not two. A shared address without `name` shows the
    same default."""
    key = f"w_{name}_{page}"
    kept = st.session_state.get(f"keep_{name}")
    st.session_state[key] = kept if kept in options else (default if default in options else options[0])

    def remember() -> None:
        st.session_state[f"keep_{name}"] = st.session_state[key]

    # A radio's option labels are Markdown: labels made from data (area names) are escaped here, once.
    value = st.radio(label, options, key=key, format_func=lambda option: text.md_escape(format_func(option)),
                     horizontal=horizontal, help=help, on_change=remember)
    ctx.state = replace(ctx.state, **{name: value if kept in options else PAGE_PARAMS.get(name)})
    return value


def page_select(ctx: Context, name: str, label: str, options: list, format_func=str, default=None,
                help: str | None = None, page: str = ""):
    """A select box for page-owned state `name` (region, sort), remembered like page_choice's; the option "" stands
    for no choice (state None)."""
    key = f"w_{name}_{page}"
    kept = st.session_state.get(f"keep_{name}")
    st.session_state[key] = kept if kept in options else (default if default in options else options[0])

    def remember() -> None:
        st.session_state[f"keep_{name}"] = st.session_state[key]

    value = st.selectbox(label, options, key=key, format_func=format_func, help=help, on_change=remember)
    st.session_state[f"keep_{name}"] = value
    ctx.state = replace(ctx.state, **{name: value if value != "" else None})
    return value


def page_toggle(ctx: Context, name: str, label: str, help: str | None = None, page: str = "") -> bool:
    key = f"w_{name}_{page}"
    st.session_state[key] = bool(st.session_state.get(f"keep_{name}", getattr(ctx.state, name)))

    def remember() -> None:
        st.session_state[f"keep_{name}"] = st.session_state[key]

    value = st.toggle(label, key=key, help=help, on_change=remember)
    st.session_state[f"keep_{name}"] = value
    ctx.state = replace(ctx.state, **{name: value})
    return value


def params_for(ctx: Context, **changes) -> dict[str, str]:
    """The URL parameters of the current state with some changes (for links to another page)."""
    return to_params(replace(ctx.state, **changes), PARAM_NAMES)


def permalink(ctx: Context) -> str:
    """The address of this view (relative when the app does not know its own URL)."""
    query = urlencode(to_params(ctx.state, ctx.url_names))
    base = st.context.url or ""
    return f"{base}?{query}" if query else (base or "?")


def finish(ctx: Context | None, page: str | None = None) -> None:
    """After the page (`page`: its url path in ui.nav): write its state to the URL and draw the footer.

    Each write adds a browser history entry (Streamlit pushes the new address), so the address a visitor
    arrived with is left as it is on the session's first run when it needed no correction: it already
    gives this view (defaults fill what it leaves out), and rewriting it would make the Back button
    return to the same view instead of to the page the visitor came from. (Moving to another page with the
    navigation adds two entries whatever this function does: Streamlit pushes the page, then its query.)
    The footer's permalink and "Cite this view" always give the full address."""
    if ctx is None:
        return
    params = to_params(ctx.state, ctx.url_names)
    current = st.query_params.to_dict()
    landing = SEEN_KEY not in st.session_state and not ctx.notices
    if landing or current == params:
        st.session_state[SEEN_KEY] = _url_key(current)
    else:
        st.query_params.from_dict(params)
        st.session_state[SEEN_KEY] = _url_key(params)
    footer(ctx, page)


def static_twin(ctx: Context, page: str | None) -> str | None:
    """The address of this view's page in the static site (`indicators publish`), when the site's address is
    configured (INDICATORS_SITE_URL) and the site has such a page."""
    site = config.default_site_url()
    if not site or not page:
        return None
    state = ctx.state
    path = twins.static_path(page, indicator=state.indicator, period=state.period,
                             latest=default_period(ctx.periods(state.indicator)), area=state.area)
    return twins.site_url(site, path) if path is not None else None


def footer(ctx: Context, page: str | None = None) -> None:
    st.divider()
    lines = ctx.facts.sources
    st.markdown("**Sources:** " + ("; ".join(text.md_escape(line) for line in lines) if lines else
                                  "none recorded") + ".")
    st.markdown("Contains public sector information licensed under the Open Government Licence v3.0.")
    build = ctx.wh.build
    st.markdown(f"Data build {text.md_escape(build.get('build_date') or 'unknown date')} · build id "
               f"{text.md_escape(ctx.wh.build_id)} · link to this view: {text.md_escape(permalink(ctx))}")
    twin = static_twin(ctx, page)
    if twin:
        st.markdown(f"The same view as a static page, quick to open and share: [{text.md_escape(twin)}](<{twin}>)")


def download_buttons(ctx: Context, frame: pd.DataFrame, indicator_ids: list[str], what: str,
                     page_title: str, key: str, name: list | None = None) -> None:
    """CSV, metadata and citation for what the page shows (indicators.products.downloads); the files are made on click.

    `name` lists what the file names say the files hold (indicator, period, the view, area name and code...,
    downloads.view_file_name); without it they are '<indicator or all_indicators>_<what>_<build date>'."""
    build_date = str(ctx.wh.build.get("build_date") or "")
    one = indicator_ids[0] if len(indicator_ids) == 1 else None
    mark = is_synthetic(ctx.wh)
    link = permalink(ctx)
    cols = st.columns(3)

    def file_name(suffix: str, ext: str) -> str:
        if name:
            return downloads.view_file_name([*name[:-1], f"{name[-1]}{suffix}"], build_date, ext, synthetic_data=mark)
        return downloads.download_name(one, build_date, f"{what}{suffix}", ext, synthetic_data=mark)

    try:
        frame = frame.copy()
        frame.attrs["build_id"] = ctx.wh.build_id
        cols[0].download_button("Download CSV", lambda: downloads.view_csv(frame), file_name=file_name("", "csv"),
                                mime="text/csv", key=f"dl_csv_{key}", on_click="ignore")
        cols[1].download_button("Download definitions and sources",
                                lambda: ctx.wh.metadata(indicator_ids, link),
                                file_name=file_name("-metadata", "md"),
                                mime="text/markdown", key=f"dl_meta_{key}", on_click="ignore")
        cite = citation(ctx, page_title)
        with cols[2].popover("Cite this view"):
            st.code(cite, language=None, wrap_lines=True)
    except Exception as exc:  # a downloads bug must not take the page down; say so instead
        st.warning(f"Downloads are unavailable for this view ({type(exc).__name__}).")


def table_expander(label: str = "Table (the same data as the chart)"):
    """The accessible twin of a chart."""
    return st.expander(label, expanded=False)


def citation(ctx: Context, page_title: str) -> str:
    """The "Cite this" text of a view (indicators.products.downloads.citation)."""
    return ctx.wh.citation(page_title, permalink(ctx))
