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
