"""The words of the area search: option labels for places (districts past and present, former councils) and what the
search says about what was typed; standard library and indicators.present.state only.

Places come from indicators.products.queries.place_names and find_area. Typed text is untrusted: it is
only ever echoed as a short excerpt of letters, digits and _./- (state.safe_excerpt), and callers escape
the sentences for Markdown as for any text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from indicators.present.state import safe_excerpt

PLACE_KEY_SEPARATOR = ">"
POSTCODE_FILE = "the ONS postcode to local authority lookup"


def place_key(place_code: str, area_code: str) -> str:
    """The search option of a place in one current area, e.g. 'E07000028>E06000063' (Carlisle in Cumberland)."""
    return f"{place_code}{PLACE_KEY_SEPARATOR}{area_code}"


def split_place_key(key: object) -> tuple[str, str] | None:
    """(place code, area code) of a place option, or None when `key` is not one."""
    parts = str(key).split(PLACE_KEY_SEPARATOR)
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _missing(value: object) -> bool:
    return value is None or value != value or str(value).strip() == ""


def place_label(place: Mapping) -> str:
    """A place option as listed: 'Preston → Lancashire', 'Carlisle → Cumberland (formerly Cumbria)',
    'Cumbria (former county) → Westmorland and Furness'."""
    name, target = str(place["place_name"]), str(place["area_name"])
    kind = str(place.get("place_kind") or "")
    if kind.startswith("former ") and kind != "former district":
        name = f"{name} ({kind})"
    elif kind == "other name":
        name = f"{name} (earlier name)"
    formerly = place.get("formerly")
    return f"{name} → {target}" + ("" if _missing(formerly) else f" (formerly {formerly})")


def search_help(postcodes_loaded: bool) -> str:
    """The Area box's help."""
    postcodes = ("or a postcode." if postcodes_loaded else
                 f"Postcodes need {POSTCODE_FILE}, which this dashboard was built without.")
    return ("Upper-tier local authorities (counties, unitary authorities, metropolitan districts, London boroughs). "
            "Type a council's name, a district's (Preston, Carlisle, Harrogate: old and new), a GSS code, "
            + postcodes)


def _and(names: Sequence[str]) -> str:
    names = list(dict.fromkeys(names))
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def found_sentence(place: Mapping, targets: Sequence[str] = ()) -> str:
    """What the search says after a place was chosen ('Carlisle is in Cumberland (formerly in Cumbria).');
    `targets` are all the current areas the place lies in, when it lies in more than one."""
    kind = str(place.get("place_kind") or "")
    name, target = str(place["place_name"]), str(place["area_name"])
    if kind == "other name":
        return f"{name} is now called {target}."
    if kind.startswith("former ") and kind != "former district":
        # "overlaps" is true of a merger, a split and Dorset's 2019 boundary change alike.
        if len(set(targets)) > 1:
            return f"{name} ({kind}) overlaps what are now {_and(targets)}: showing {target}."
        return f"{name} ({kind}) overlaps what is now {target}."
    formerly = place.get("formerly")
    return f"{name} is in {target}" + ("" if _missing(formerly) else f" (formerly in {formerly})") + "."


def postcode_sentence(typed: str, area_name: str) -> str:
    """A postcode the search found: 'PR1 2RL is in Lancashire.'"""
    return f"{safe_excerpt(typed.upper(), 10)} is in {area_name}."


def several_sentence(typed: str, area_names: Sequence[str]) -> str:
    """Typed text that names a place in more than one current area."""
    names = list(dict.fromkeys(area_names))
    return f"“{safe_excerpt(typed, 40)}” is in {len(names)} areas now: {_and(names)}. Choose one in the list."


def no_match_sentence(typed: str, kind: str, postcodes_loaded: bool) -> str:
    """Typed text that finds no area: what to type instead (and, for a postcode, what it needs)."""
    shown = safe_excerpt(typed, 40)
    if kind == "postcode" and not postcodes_loaded:
        return (f"“{shown}” looks like a postcode, but postcodes need {POSTCODE_FILE}, which this dashboard was "
                "built without. Type the council’s or the district’s name instead.")
    if kind == "postcode":
        return f"The postcode “{shown}” is not in England’s postcodes in {POSTCODE_FILE}."
    if kind == "code":
        return f"No current or former area or district in England has the code “{shown}”."
    return (f"No area matches “{shown}”. Type a council’s or a district’s name (for example Preston or Carlisle)"
            + (", a GSS code or a postcode." if postcodes_loaded else " or a GSS code."))
