"""Parser for upper-tier boundary files (ONS geoportal CTYUA GeoJSON, ONSvisual TopoJSON); depends on shapely and pandas.

Staged table `boundaries`: one row per area per file and layer, geometry as WKB in
EPSG:4326. The geoportal file renames its code field each vintage (CTYUA24CD, CTYUA23CD,
...), so the field and the vintage are discovered from the properties. The TopoJSON
(all UTLAs 2014-2025 with `start`/`end` years) is decoded here: quantised, delta-encoded
arcs are turned into rings and rings into polygons, as the TopoJSON specification says.
The download URLs (an ArcGIS REST query for the current vintage, the ONSvisual file) are
declared in data/sources/30_boundaries.toml.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from indicators.errors import InputError

BOUNDARY_COLUMNS = ["area_code", "area_name", "vintage", "start_year", "end_year", "geometry_wkb", "layer"]

# TopoJSON layers kept, and the name each takes in the `layer` column.
TOPOJSON_LAYERS = {"utla": "utla", "rgn": "rgn"}
TOPOJSON_VINTAGE = "topo"

CODE_FIELD = re.compile(r"^CTYUA(\d{2})CD$", re.IGNORECASE)

_WGS84_NAMES = {"epsg:4326", "urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:epsg::4326", "crs84"}


def stage(files: list[Path]) -> dict[str, pd.DataFrame]:
    """Stage every boundary file into one `boundaries` table (see BOUNDARY_COLUMNS)."""
    frames = []
    for path in files:
        document = _read_json(path)
        kind = document.get("type") if isinstance(document, dict) else None
        if kind == "Topology":
            frames.append(_stage_topojson(path, document))
        elif kind == "FeatureCollection":
            frames.append(_stage_geojson(path, document))
        else:
            raise InputError(path, f"top-level type is {kind!r}", where="JSON root",
                             expected='a GeoJSON "FeatureCollection" or a TopoJSON "Topology"')
    if not frames:
        return {"boundaries": _frame([])}
    out = pd.concat(frames, ignore_index=True)
    dup = out.loc[out.duplicated(["vintage", "layer", "area_code"], keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        raise InputError(", ".join(p.name for p in files),
                         f"area {first['area_code']} appears twice in vintage {first['vintage']}, layer {first['layer']}",
                         expected="one feature per area per boundary vintage")
    return {"boundaries": out}


def _read_json(path: Path) -> object:
    try:
        with Path(path).open("rb") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid JSON ({exc})", expected="a GeoJSON or TopoJSON document") from None


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=BOUNDARY_COLUMNS)
    for column in ("area_code", "area_name", "vintage", "layer"):
        frame[column] = frame[column].astype("str")
    for column in ("start_year", "end_year"):
        frame[column] = pd.array(frame[column].tolist(), dtype="Int64")
    frame["geometry_wkb"] = frame["geometry_wkb"].astype(object)
    return frame


# --------------------------------------------------------------------------- GeoJSON (geoportal)

def _stage_geojson(path: Path, document: dict) -> pd.DataFrame:
    _check_crs(path, document.get("crs"))
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise InputError(path, "the FeatureCollection has no features", where="features",
                         expected="one feature per county or unitary authority")
    first_props = features[0].get("properties") or {}
    code_fields = [k for k in first_props if CODE_FIELD.match(k)]
    if len(code_fields) != 1:
        raise InputError(path, f"found code fields {code_fields or 'none'} in {sorted(first_props)}",
                         where="features[0].properties",
                         expected="exactly one property named like CTYUA24CD")
    code_field = code_fields[0]
    yy = CODE_FIELD.match(code_field).group(1)
    name_field = next((k for k in first_props if k.upper() == f"CTYUA{yy}NM"), None)
    if name_field is None:
        raise InputError(path, f"no name field beside {code_field}", where="features[0].properties",
                         expected=f"a property CTYUA{yy}NM")
    vintage = f"20{yy}"
    rows = []
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        props = feature.get("properties") or {}
        code, name = props.get(code_field), props.get(name_field)
        if not isinstance(code, str) or not code.strip() or not isinstance(name, str) or not name.strip():
            raise InputError(path, f"missing {code_field} or {name_field}", where=f"{where}.properties",
                             expected="a GSS code and a name on every feature")
        raw = feature.get("geometry")
        if not raw:
            raise InputError(path, f"area {code} has no geometry", where=f"{where}.geometry",
                             expected="a Polygon or MultiPolygon")
        try:
            geom = shape(raw)
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
            raise InputError(path, f"area {code}: unreadable geometry ({exc})", where=f"{where}.geometry",
                             expected="a GeoJSON Polygon or MultiPolygon") from None
        geom = _polygonal(path, geom, f"{where} ({code})")
        _check_lon_lat(path, geom, f"{where} ({code})")
        rows.append({"area_code": code.strip(), "area_name": name.strip(), "vintage": vintage,
                     "start_year": None, "end_year": None, "geometry_wkb": shapely.to_wkb(geom),
                     "layer": "utla"})
    return _frame(rows)


def _check_crs(path: Path, crs: object) -> None:
    if crs is None:
        return  # RFC 7946: GeoJSON without a crs member is WGS 84 longitude/latitude
    name = ""
    if isinstance(crs, dict):
        name = str((crs.get("properties") or {}).get("name", ""))
    if name.lower() not in _WGS84_NAMES:
        raise InputError(path, f"coordinates are in {name or crs!r}", where="crs",
                         expected="EPSG:4326 longitude/latitude (ask the REST service for outSR=4326)")


def _check_lon_lat(path: Path, geom, where: str) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(path, f"coordinates {geom.bounds} are not longitude/latitude", where=where,
                         expected="EPSG:4326 degrees")


def _polygonal(path: Path, geom, where: str):
    """The geometry as a valid Polygon/MultiPolygon, repaired with make_valid when needed."""
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(path, f"geometry is {'empty' if geom.is_empty else geom.geom_type}", where=where,
                         expected="a non-empty Polygon or MultiPolygon")
    if geom.is_valid:
        return geom
    # "structure": shells unioned, holes subtracted -- the reading GIS polygons are drawn for (and faster)
    repaired = shapely.make_valid(geom, method="structure")
    parts = [p for p in shapely.get_parts(repaired) if p.geom_type in ("Polygon", "MultiPolygon")]
    polygons = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    if not polygons:
        raise InputError(path, f"invalid geometry ({shapely.is_valid_reason(geom)}) that make_valid cannot "
                         "turn into a polygon", where=where, expected="a valid Polygon or MultiPolygon")
    fixed = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    if not fixed.is_valid or fixed.area < 0.5 * geom.area:
        raise InputError(path, f"invalid geometry ({shapely.is_valid_reason(geom)}) that make_valid cannot "
                         "repair without losing area", where=where, expected="a valid Polygon or MultiPolygon")
    return fixed


# --------------------------------------------------------------------------- TopoJSON (ONSvisual)

def _stage_topojson(path: Path, topology: dict) -> pd.DataFrame:
    objects = topology.get("objects") or {}
    missing = [name for name in TOPOJSON_LAYERS if name not in objects]
    if missing:
        raise InputError(path, f"no {', '.join(missing)} object in the topology (has {sorted(objects)})",
                         where="objects", expected="layers " + ", ".join(TOPOJSON_LAYERS))
    arcs = _decode_arcs(path, topology)
    rows = []
    for layer, layer_name in TOPOJSON_LAYERS.items():
        geometries = objects[layer].get("geometries") or []
        if not geometries:
            raise InputError(path, f"layer {layer} is empty", where=f"objects.{layer}",
                             expected="one geometry per area")
        for i, item in enumerate(geometries):
            where = f"objects.{layer}.geometries[{i}]"
            props = item.get("properties") or {}
            code, name = props.get("areacd"), props.get("areanm")
            if not isinstance(code, str) or not code.strip() or not isinstance(name, str) or not name.strip():
                raise InputError(path, "missing areacd or areanm", where=f"{where}.properties",
                                 expected="areacd and areanm on every geometry")
            geom = _topo_geometry(path, item, arcs, f"{where} ({code})")
            geom = _polygonal(path, geom, f"{where} ({code})")
            _check_lon_lat(path, geom, f"{where} ({code})")
            rows.append({"area_code": code.strip(), "area_name": name.strip(), "vintage": TOPOJSON_VINTAGE,
                         "start_year": _year(path, props.get("start"), f"{where}.properties.start"),
                         "end_year": _year(path, props.get("end"), f"{where}.properties.end"),
                         "geometry_wkb": shapely.to_wkb(geom), "layer": layer_name})
    return _frame(rows)


def _year(path: Path, value: object, where: str) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d{4}", text):
        raise InputError(path, f"{value!r} is not a year", where=where, expected="a four-digit year")
    return int(text)


def _decode_arcs(path: Path, topology: dict) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat positions of every arc (delta-decoded and de-quantised when there is a transform)."""
    raw_arcs = topology.get("arcs")
    if not isinstance(raw_arcs, list):
        raise InputError(path, "no arcs array", where="arcs", expected="a TopoJSON topology with arcs")
    transform = topology.get("transform")
    try:
        if transform:
            (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        decoded = []
        for arc in raw_arcs:
            points = []
            if transform:
                x = y = 0
                for position in arc:
                    x += position[0]
                    y += position[1]
                    points.append((x * sx + tx, y * sy + ty))
            else:
                points = [(float(p[0]), float(p[1])) for p in arc]
            decoded.append(points)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise InputError(path, f"unreadable arcs or transform ({exc!r})", where="arcs/transform",
                         expected="arcs of [x, y] positions and a transform with scale and translate") from None
    return decoded


def _ring(path: Path, indexes: list[int], arcs: list, where: str) -> list[tuple[float, float]]:
    """Join arcs into one ring; a negative index ~i means arc i reversed; shared end points appear once."""
    ring: list[tuple[float, float]] = []
    for index in indexes:
        if not isinstance(index, int) or not -len(arcs) <= index < len(arcs):
            raise InputError(path, f"arc index {index!r} out of range", where=where,
                             expected=f"indexes into the {len(arcs)} arcs")
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(points[1:] if ring else points)
    if len(ring) < 4 or ring[0] != ring[-1] or any(not math.isfinite(c) for p in ring for c in p):
        raise InputError(path, "a ring is not closed or has fewer than 4 positions", where=where,
                         expected="closed rings")
    return ring


def _topo_geometry(path: Path, item: dict, arcs: list, where: str):
    kind, parts = item.get("type"), item.get("arcs")
    try:
        if kind == "Polygon":
            polygons = [parts]
        elif kind == "MultiPolygon":
            polygons = list(parts)
        else:
            raise InputError(path, f"geometry type {kind!r}", where=where, expected="Polygon or MultiPolygon")
        built = []
        for polygon in polygons:
            rings = [_ring(path, r, arcs, where) for r in polygon]
            if rings:
                built.append(Polygon(rings[0], rings[1:]))
    except TypeError as exc:
        raise InputError(path, f"malformed arcs ({exc})", where=where, expected="lists of arc indexes") from None
    if not built:
        raise InputError(path, "geometry has no rings", where=where, expected="a Polygon or MultiPolygon")
    return built[0] if len(built) == 1 else MultiPolygon(built)
