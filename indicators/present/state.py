"""A dashboard view's state and its permalink: parse and validate URL query parameters, choose defaults; standard library, pandas and indicators.config.

Every page writes its state to the URL and restores it from there. Anything a URL can hold is
untrusted: unknown ids, other areas' codes, SQL fragments, megabyte strings. `parse_params`
accepts only values from the build's own lists and returns, for everything it had to replace,
a notice a person can read (never echoing more than a short, sanitised excerpt of the input).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pandas as pd

from indicators.config import COMPARATOR_GROUPS

PARAM_NAMES = ("indicator", "period", "area", "peers", "colour", "completion", "adjusted", "family", "region",
               "sort")
MAX_PARAM_LENGTH = 64
PEER_GROUPS = COMPARATOR_GROUPS
PEER_GROUP_LABELS = {"neighbours": "Geographic neighbours (bordering, then nearest)",
                     "cipfa": "CIPFA nearest neighbours", "similar": "Most similar areas (open data)",
                     "region": "Same region"}
COLOUR_MODES = ("comparison", "value")
COLOUR_MODE_LABELS = {"comparison": "Compared with England", "value": "Value (fifths of areas)"}
PREFERRED_INDICATOR = "deaths_drug_misuse"
PREFERRED_COMPLETION = "completion_opiate"
BALANCE_DEATHS = "deaths_drug_misuse"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SAFE = re.compile(r"[^A-Za-z0-9 _./-]")
# The scorecard's orders: by area name (the default), by region, or by a column's figures, worst or best first
# ("<column>" or "<column>-best"; a column is an indicator or a family id).
SORT_DEFAULT = "area"
BEST_SUFFIX = "-best"


@dataclass(frozen=True)
class Choices:
    """What a URL may ask for in this build."""

    indicators: tuple[str, ...] = ()
    periods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    areas: Mapping[str, str] = field(default_factory=dict)
    titles: Mapping[str, str] = field(default_factory=dict)
    default_indicator: str | None = None
    completions: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    regions: Mapping[str, str] = field(default_factory=dict)
    sorts: tuple[str, ...] = (SORT_DEFAULT,)


@dataclass(frozen=True)
class State:
    indicator: str | None = None
    period: str | None = None
    area: str | None = None
    peers: str | None = None
    colour: str = "comparison"
    completion: str | None = None
    adjusted: bool = False
    family: str | None = None
    region: str | None = None
    sort: str = SORT_DEFAULT


def default_indicator(indicator_ids, periods: Mapping[str, tuple[str, ...]]) -> str | None:
    """Drug-misuse deaths when it has data (the one series every area has), else the first indicator with data."""
    indicator_ids = list(indicator_ids)
    if periods.get(PREFERRED_INDICATOR):
        return PREFERRED_INDICATOR
    for indicator_id in indicator_ids:
        if periods.get(indicator_id):
            return indicator_id
    return indicator_ids[0] if indicator_ids else None


def default_period(periods: tuple[str, ...] | list[str] | None) -> str | None:
    """The latest period (periods come oldest first), or None when there is none."""
    return periods[-1] if periods else None


def make_choices(catalogue: pd.DataFrame, periods: Mapping[str, list[str]], areas: pd.DataFrame) -> Choices:
    """Choices from the query layer's catalogue (in display order), its periods and the pickable areas."""
    ids = tuple(str(i) for i in catalogue["indicator_id"]) if len(catalogue) else ()
    per = {i: tuple(periods.get(i, ())) for i in ids}
    titles = dict(zip(catalogue["indicator_id"], catalogue["title"])) if len(catalogue) else {}
    completions = tuple(i for i, fam in zip(catalogue["indicator_id"], catalogue["family"])
                        if fam == "completions") if len(catalogue) else ()
    area_names = dict(zip(areas["area_code"], areas["area_name"])) if len(areas) else {}
    families = tuple(dict.fromkeys(str(f) for f in catalogue["family"])) if len(catalogue) else ()
    regions = ({c: n for c, n in sorted(zip(areas["region_code"], areas["region_name"]), key=lambda cn: str(cn[1]))
                if isinstance(c, str) and c} if len(areas) and "region_code" in areas else {})
    columns = list(ids) + list(families)
    sorts = (SORT_DEFAULT, "region") + tuple(c + suffix for c in columns for suffix in ("", BEST_SUFFIX))
    return Choices(indicators=ids, periods=per, areas=area_names, titles=titles,
                   default_indicator=default_indicator(ids, per), completions=completions, families=families,
                   regions=regions, sorts=sorts)


def default_completion(choices: Choices) -> str | None:
    """Opiate completions when it has data (the headline series), else the first completions indicator with data."""
    if choices.periods.get(PREFERRED_COMPLETION) and PREFERRED_COMPLETION in choices.completions:
        return PREFERRED_COMPLETION
    for indicator_id in choices.completions:
        if choices.periods.get(indicator_id):
            return indicator_id
    return choices.completions[0] if choices.completions else None


def safe_excerpt(text: object, limit: int = 24) -> str:
    """A short excerpt of untrusted input that is safe to show in Markdown: letters, digits and _./- only."""
    cleaned = _SAFE.sub("", str(text)).strip()
    return cleaned[:limit] + ("…" if len(cleaned) > limit or len(str(text)) > limit else "")


def _single(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return str(value)


def parse_params(params: Mapping[str, object], choices: Choices) -> tuple[State, list[str]]:
    """Validate query parameters against the build's choices.

    Returns the state (defaults wherever a parameter is absent or invalid) and a notice for every
    parameter that was present but could not be used. Repeated parameters use their last value.
    """
    notices: list[str] = []
    raw = {name: _single(params.get(name)) for name in PARAM_NAMES}

    def reject(name: str, why: str, fallback: str) -> None:
        notices.append(f"The link's `{name}` ({safe_excerpt(raw[name]) or 'empty'}) {why}; "
                       f"showing {fallback} instead.")

    def usable(name: str) -> str | None:
        value = raw[name]
        if value is None:
            return None
        if len(value) > MAX_PARAM_LENGTH:
            notices.append(f"The link's `{name}` is too long ({len(value):,} characters) to be valid; it was ignored.")
            raw[name] = None
            return None
        return value.strip()

    indicator = usable("indicator")
    fallback_indicator = choices.default_indicator
    if indicator is not None and indicator not in choices.indicators:
        reject("indicator", "is not an indicator of this dashboard",
               _title(choices, fallback_indicator))
        indicator = None
    indicator = indicator or fallback_indicator

    periods = choices.periods.get(indicator, ()) if indicator else ()
    period = usable("period")
    if period is not None and period not in periods:
        latest = default_period(periods)
        reject("period", "is not a period of this indicator",
               f"the latest period ({latest})" if latest else "no period (this indicator has no data)")
        period = None
    period = period or default_period(periods)

    area = usable("area")
    if area is not None and area not in choices.areas:
        reject("area", "is not the code of a current upper-tier area", "no area")
        area = None

    peers = usable("peers")
    if peers is not None and peers not in PEER_GROUPS:
        reject("peers", f"is not one of {', '.join(PEER_GROUPS)}", "the default peer group")
        peers = None

    colour = usable("colour")
    if colour is not None and colour not in COLOUR_MODES:
        reject("colour", f"is not one of {', '.join(COLOUR_MODES)}", "colours by comparison with England")
        colour = None

    completion = usable("completion")
    if completion is not None and completion not in choices.completions:
        fallback = default_completion(choices)
        reject("completion", "is not a completions indicator of this dashboard", _title(choices, fallback))
        completion = None

    adjusted_raw = usable("adjusted")
    adjusted = False
    if adjusted_raw is not None:
        if adjusted_raw.lower() in _TRUE:
            adjusted = True
        elif adjusted_raw.lower() not in _FALSE:
            reject("adjusted", "is not true or false", "unadjusted funnel limits")

    family = usable("family")
    if family is not None and family not in choices.families:
        reject("family", f"is not one of {', '.join(choices.families) or 'the families of this dashboard'}",
               "the first family")
        family = None

    region = usable("region")
    if region is not None and region not in choices.regions:
        reject("region", "is not the code of a region in this build", "every region")
        region = None

    sort = usable("sort")
    if sort is not None and sort not in choices.sorts:
        reject("sort", "is not a column of the scorecard", "areas by name")
        sort = None

    state = State(indicator=indicator, period=period, area=area, peers=peers,
                  colour=colour or "comparison", completion=completion or default_completion(choices),
                  adjusted=adjusted, family=family, region=region, sort=sort or SORT_DEFAULT)
    return state, notices


def present_params(params: Mapping[str, object]) -> set[str]:
    """The known parameter names present in `params` (the ones a URL asks to set)."""
    return {name for name in PARAM_NAMES if name in params}


def to_params(state: State, names=PARAM_NAMES) -> dict[str, str]:
    """The URL query parameters for `state`, limited to `names`; defaults and empty values are left out."""
    values = {"indicator": state.indicator, "period": state.period, "area": state.area, "peers": state.peers,
              "colour": None if state.colour == "comparison" else state.colour,
              "completion": state.completion, "adjusted": "true" if state.adjusted else None,
              "family": state.family, "region": state.region,
              "sort": None if state.sort == SORT_DEFAULT else state.sort}
    return {name: str(values[name]) for name in names if values.get(name)}


def with_indicator(state: State, indicator: str | None, choices: Choices) -> State:
    """`state` with another indicator; the period is kept when the new indicator has it, else its latest."""
    periods = choices.periods.get(indicator, ()) if indicator else ()
    period = state.period if state.period in periods else default_period(periods)
    return replace(state, indicator=indicator, period=period)


def _title(choices: Choices, indicator_id: str | None) -> str:
    if not indicator_id:
        return "no indicator"
    # Notices are Markdown: the title comes from the data, so it is escaped (text.md_escape).
    from indicators.present.text import md_escape

    return f"“{md_escape(choices.titles.get(indicator_id, indicator_id))}”"
