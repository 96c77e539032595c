"""Reads of the governed city: the locate index (cached per process) and unit look-ups."""

from __future__ import annotations

import threading
import time

from cogov.geo.locate import LocateIndex
from cogov.geo.models import City, Unit

_lock = threading.Lock()
_indexes: dict[int, LocateIndex] = {}
_checked: dict[int, float] = {}
#: How often (seconds) a process asks the database whether the geography changed.
VERSION_CHECK_SECONDS = 2.0


def city_by_code(code: str) -> City:
    """The tenant with this code (raises City.DoesNotExist)."""
    return City.objects.get(code=code)


def locate_index(city_id: int) -> LocateIndex:
    """The city's index, rebuilt when its geography version moved on (checked at most every 2 s)."""
    now = time.monotonic()
    index = _indexes.get(city_id)
    if index is not None and now - _checked.get(city_id, 0) < VERSION_CHECK_SECONDS:
        return index
    version = City.objects.filter(pk=city_id).values_list("geo_version", flat=True).first() or 0
    if index is None or index.version != version:
        with _lock:
            index = _indexes.get(city_id)
            if index is None or index.version != version:
                rows = Unit.objects.filter(city_id=city_id, geometry__isnull=False, valid_to__isnull=True)
                index = LocateIndex.build(
                    ((u, k, bytes(g)) for u, k, g in rows.values_list("id", "kind", "geometry").iterator()),
                    version=version,
                )
                _indexes[city_id] = index
    _checked[city_id] = now
    return index


def forget_index(city_id: int | None = None) -> None:
    """Drop cached indexes (after a geography change in this process, and in tests)."""
    with _lock:
        if city_id is None:
            _indexes.clear()
            _checked.clear()
        else:
            _indexes.pop(city_id, None)
            _checked.pop(city_id, None)


def locate(city_id: int, lon: float, lat: float) -> dict[str, int]:
    """Every unit of the city containing the point: {kind: unit id}."""
    return locate_index(city_id).locate(lon, lat)


def units_by_id(ids) -> dict[int, Unit]:
    """Units by id, one query (geometry deferred)."""
    return {u.id: u for u in Unit.objects.filter(pk__in=list(ids)).defer("geometry")}


#: Kinds the public maps draw, and the simplification of their outlines (degrees; about 20 m).
BOUNDARY_KINDS = ("district", "subdistrict", "community")
BOUNDARY_TOLERANCE_DEG = 0.0002
_boundaries: dict[tuple[int, str], tuple[int, dict]] = {}


def boundaries_geojson(city_id: int, kind: str) -> dict:
    """The city's current units of ``kind`` as a GeoJSON FeatureCollection (WGS-84, outlines simplified to
    about 20 m, coordinates to 6 decimals), with the city's ``bbox``; cached per process and geo_version."""
    import shapely
    from shapely.geometry import mapping

    if kind not in BOUNDARY_KINDS:
        raise ValueError(f"kind must be one of {BOUNDARY_KINDS}")
    city = City.objects.filter(pk=city_id).values("geo_version", "min_lon", "min_lat", "max_lon", "max_lat").first()
    if city is None:
        raise ValueError("unknown city")
    key = (city_id, kind)
    cached = _boundaries.get(key)
    if cached is not None and cached[0] == city["geo_version"]:
        return cached[1]
    features = []
    rows = (Unit.objects.filter(city_id=city_id, kind=kind, geometry__isnull=False, valid_to__isnull=True)
            .order_by("code").values_list("id", "code", "name", "geometry"))
    for unit_id, code, name, wkb in rows.iterator():
        geom = shapely.from_wkb(bytes(wkb))
        simple = geom.simplify(BOUNDARY_TOLERANCE_DEG, preserve_topology=True)
        if simple.is_empty:
            simple = geom
        simple = shapely.set_precision(simple, 1e-6)
        features.append({"type": "Feature", "id": unit_id, "geometry": mapping(simple),
                         "properties": {"id": unit_id, "code": code, "name": name, "kind": kind}})
    box = [city["min_lon"], city["min_lat"], city["max_lon"], city["max_lat"]]
    collection: dict = {"type": "FeatureCollection", "features": features}
    if None not in box:
        collection["bbox"] = box
    with _lock:
        _boundaries[key] = (city["geo_version"], collection)
    return collection


def units_of_kind(city_id: int, kind: str) -> list[Unit]:
    """The city's current units of one kind by code (geometry deferred) — e.g. the districts of a filter."""
    return list(Unit.objects.filter(city_id=city_id, kind=kind, valid_to__isnull=True).defer("geometry")
                .order_by("code"))
