"""Stand-ins for the publishers `indicators fetch` talks to, serving the real files of ../shared/data/raw.

One tests/standin.StandIn per publisher, and INDICATORS_URL_<SOURCE_ID> pointing each source at its
publisher's stand-in:

- fingertips_api (OHID's Fingertips API): fingertips and cipfa_neighbours. The API's metadata answers are
  the JSON fixtures of tests/fixtures/fingertips/api; indicators 93517 and 93532 are the real CSV extracts
  of ../shared/data/raw/fingertips; every other indicator is answered with the API's header row and no
  rows (what Fingertips sends for an indicator without data at an area type), so no figure is invented.
  The CIPFA lists are tests/fixtures/cipfa_neighbours (a 404 for areas without one: those files are optional).
  `available_data` says every indicator has data at the newest upper-tier type (502) only, so the plan asks for
  one file per indicator.
- ons (www.ons.gov.uk): ons_deaths and population, the real workbooks.
- geoportal (ONS Open Geography Portal): boundaries, the real GeoJSON and TopoJSON (INDICATORS_URL_ is per
  source, so this stand-in also answers the TopoJSON's GitHub path).
- github (raw.githubusercontent.com): lookups, the real CSVs (its third file is put in by hand, never asked for),
  and ons_sdg, the real ONS SDG 3.5.1 CSV at its pinned path.

Bodies are gzip-encoded when the client accepts it, as the real servers do, and ETags are honoured.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from standin import Reply, Seen, StandIn

from indicators.pipeline.sources import URL_OVERRIDE_PREFIX, get_source

SOURCES = {
    "fingertips_api": ("fingertips", "cipfa_neighbours"),
    "ons": ("ons_deaths", "population"),
    "geoportal": ("boundaries",),
    "github": ("lookups", "ons_sdg"),
}
SAMPLES = {93517: "indicator-93517_unmet_need_ocu_sample.csv", 93532: "indicator-93532_unmet_need_alcohol_sample.csv"}


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _declared_files(stand_in: StandIn, source_id: str, raw: Path) -> None:
    """Serve every declared file of a source that ../shared/data/raw holds, at its official path."""
    for item in get_source(source_id).files:
        path = raw / source_id / item.name
        if path.is_file():
            stand_in.route(_target(item.url), path.read_bytes(), content_type="application/octet-stream")


def fingertips_api(raw: Path, fixtures: Path) -> StandIn:
    api = fixtures / "fingertips" / "api"
    stand_in = StandIn(name="fingertips_api")
    as_json = dict(content_type="application/json")
    stand_in.route("/api/area_types", (api / "area_types.json").read_bytes(), **as_json)
    stand_in.route("/api/indicator_metadata/by_indicator_id?indicator_ids=92447",
                   (api / "indicator_metadata_92447.json").read_bytes(), **as_json)
    stand_in.route("/api/nearest_neighbour_types", (api / "nearest_neighbour_types.json").read_bytes(), **as_json)
    stand_in.route("/api/areas/by_area_type", (api / "areas_by_area_type_502.json").read_bytes(), **as_json)
    samples = {i: (raw / "fingertips" / name).read_bytes() for i, name in SAMPLES.items()}
    header = samples[93517].splitlines(keepends=True)[0]

    def indicator_csv(seen: Seen) -> Reply:
        indicator = int(seen.query.get("indicator_ids", "0"))
        return Reply(samples.get(indicator, header), "text/csv")

    def neighbours(seen: Seen) -> Reply | None:
        code = seen.query.get("parent_area_code", "").rsplit("-", 1)[-1]
        path = fixtures / "cipfa_neighbours" / f"nn-{code}.json"
        return Reply(path.read_bytes(), "application/json") if path.is_file() else None

    def available(seen: Seen) -> Reply:
        indicator = int(seen.query.get("indicator_id", "0"))
        return Reply(json.dumps([{"IndicatorId": indicator, "AreaTypeId": 502}]).encode(), "application/json")

    stand_in.route("/api/all_data/csv/by_indicator_id", indicator_csv)
    stand_in.route("/api/available_data", available)
    stand_in.route("/api/areas/by_parent_area_code", neighbours)
    return stand_in


def publishers(raw: Path, fixtures: Path) -> dict[str, StandIn]:
    """The four stand-ins (not started)."""
    stand_ins = {"fingertips_api": fingertips_api(raw, fixtures)}
    for name in ("ons", "geoportal", "github"):
        stand_ins[name] = StandIn(name=name)
        for source_id in SOURCES[name]:
            _declared_files(stand_ins[name], source_id, raw)
    return stand_ins


@contextlib.contextmanager
def running(raw: Path, fixtures: Path) -> Iterator[dict[str, StandIn]]:
    """Start every stand-in; stop them all however the block ends."""
    stand_ins = publishers(raw, fixtures)
    with contextlib.ExitStack() as stack:
        for stand_in in stand_ins.values():
            stack.enter_context(stand_in)
        yield stand_ins


def environment(stand_ins: dict[str, StandIn]) -> dict[str, str]:
    """INDICATORS_URL_<SOURCE_ID> for every source a stand-in serves."""
    return {URL_OVERRIDE_PREFIX + source_id.upper(): stand_ins[name].url
            for name, source_ids in SOURCES.items() for source_id in source_ids}
