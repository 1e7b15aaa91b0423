"""Parser and fetch plan for CIPFA nearest-neighbour lists served by the Fingertips API; depends on pandas, indicators.errors/sources and the fingertips module's area-type discovery.

Fingertips serves each upper-tier authority's CIPFA nearest neighbours (15 per area, most
similar first) at `areas/by_parent_area_code?area_type_id=<t>&parent_area_code=nn-1-<code>`
as a JSON list of areas ({"Code", "Name", "Short", "AreaTypeId", ...}). One file per
authority, `nn-<area_code>.json`; the position in the list is the neighbour's rank.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from indicators.errors import FetchError, InputError
from indicators.pipeline.sources import Download
from indicators.pipeline.sources.fingertips import API, discover_upper_tier_area_type

log = logging.getLogger(__name__)

SOURCE_ID = "cipfa_neighbours"
PEER_COLUMNS = ["area_code", "neighbour_code", "neighbour_name", "rank"]
CIPFA_NEIGHBOUR_TYPE_ID = 1  # Fingertips' NearestNeighbourTypeIds.Cipfa

_FILE_NAME = re.compile(r"^nn-(?P<code>[A-Za-z]\d{8})\.json$", re.IGNORECASE)
_GSS_CODE = re.compile(r"^[EKWSN]\d{8}$")


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """`peer_cipfa`: one row per area and neighbour (area_code, neighbour_code, neighbour_name, rank)."""
    frames = [_parse(Path(p)) for p in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return {"peer_cipfa": _empty()}
    return {"peer_cipfa": pd.concat(frames, ignore_index=True)}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"area_code": pd.Series(dtype="str"), "neighbour_code": pd.Series(dtype="str"),
                         "neighbour_name": pd.Series(dtype="str"), "rank": pd.Series(dtype="int64")})


def _parse(path: Path) -> pd.DataFrame:
    match = _FILE_NAME.match(path.name)
    if not match:
        raise InputError(path, "the file name does not name an area", where="file name",
                         expected="nn-<GSS area code>.json, e.g. nn-E09000007.json")
    area_code = match["code"].upper()
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not readable JSON ({exc})",
                         expected="the Fingertips by_parent_area_code JSON list") from None
    if not isinstance(document, list):
        raise InputError(path, f"the response is a JSON {type(document).__name__}, not a list",
                         where="top level", expected="a JSON list of areas with Code and Name")
    rows = []
    for rank, item in enumerate(document, start=1):
        code = item.get("Code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not _GSS_CODE.match(code.strip()):
            raise InputError(path, f"neighbour {rank} has no valid area code ({code!r})", where=f"item {rank}",
                             expected="an object with Code (a GSS code) and Name")
        rows.append({"area_code": area_code, "neighbour_code": code.strip(),
                     "neighbour_name": str(item.get("Name") or "").strip(), "rank": rank})
    if not rows:
        return _empty()
    frame = pd.DataFrame(rows, columns=PEER_COLUMNS)
    repeated = frame["neighbour_code"].duplicated()
    if repeated.any():
        item = frame.loc[repeated].iloc[0]
        raise InputError(path, f"neighbour {item['neighbour_code']} is listed twice", where=f"item {item['rank']}",
                         expected="each neighbour once")
    frame["rank"] = frame["rank"].astype("int64")
    return frame


def cipfa_neighbour_type_id(get_json: Callable[[str], object], area_type_id: int) -> int:
    """The CIPFA neighbour type id from `nearest_neighbour_types` (1 when the list cannot be read).

    Warns when Fingertips does not list CIPFA neighbours for `area_type_id` (from April 2023
    Fingertips may use a different peer model for the newest upper-tier type): the nn files
    may then come back empty, and the dashboard shows no CIPFA peers rather than other ones.
    """
    url = API + "nearest_neighbour_types"
    try:
        types = get_json(url)
        cipfa = [t for t in types if isinstance(t, dict) and "cipfa" in str(t.get("Name", "")).lower()]
        if not cipfa:
            log.warning("%s lists no CIPFA neighbour type; asking for type %s", url, CIPFA_NEIGHBOUR_TYPE_ID)
            return CIPFA_NEIGHBOUR_TYPE_ID
        chosen = cipfa[0]
        applicable = chosen.get("ApplicableAreaTypes")
        if isinstance(applicable, list) and applicable:
            ids = {int(a["Id"]) for a in applicable if isinstance(a, dict) and "Id" in a}
            if area_type_id not in ids:
                log.warning("Fingertips lists CIPFA nearest neighbours for area types %s, not %s; "
                            "the nn-*.json files may be empty", sorted(ids), area_type_id)
        return int(chosen["NeighbourTypeId"])
    except (FetchError, LookupError, TypeError, ValueError) as exc:
        log.warning("could not read %s (%s); asking for neighbour type %s", url, exc, CIPFA_NEIGHBOUR_TYPE_ID)
        return CIPFA_NEIGHBOUR_TYPE_ID


def plan_downloads(get_json: Callable[[str], object]) -> list[Download]:
    """One optional `nn-<code>.json` per English area of the newest upper-tier area type."""
    area_type_id, _ = discover_upper_tier_area_type(get_json)
    neighbour_type = cipfa_neighbour_type_id(get_json, area_type_id)
    url = f"{API}areas/by_area_type?area_type_id={area_type_id}"
    areas = get_json(url)
    if not isinstance(areas, list):
        raise InputError(url, "the area list is not a JSON list", expected="a JSON list of areas with Code")
    codes = sorted({str(a.get("Code", "")).strip() for a in areas if isinstance(a, dict)})
    codes = [c for c in codes if _GSS_CODE.match(c) and c.startswith("E")]
    if not codes:
        raise InputError(url, f"no English area codes for area type {area_type_id}",
                         expected="a JSON list of areas with Code such as E09000007")
    return [Download(name=f"nn-{code}.json",
                     url=(f"{API}areas/by_parent_area_code?area_type_id={area_type_id}"
                          f"&parent_area_code=nn-{neighbour_type}-{code}"),
                     optional=True)
            for code in codes]
