"""The analytics store a running server reads (分析库): the city's cases copied into DuckDB once per process and
refreshed when older than ``COGOV_INSIGHT_REFRESH_SECONDS`` (default 600), so a page of analyses costs SQL over
an in-memory copy, not a reload of the operational database.

Each request works on its own cursor; a supervisor's cursor sees only the cases of their area (temporary views
named like the store's tables shadow them for that cursor alone), so every analysis written against the store's
tables is scoped without knowing it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from cogov import clock

_lock = threading.Lock()
#: city id → (connection, monotonic time loaded, local time of the data)
_stores: dict[int, tuple[object, float, dt.datetime]] = {}


def refresh_seconds() -> float:
    """How old a loaded store may get before the next request reloads it."""
    try:
        return max(0.0, float(os.environ.get("COGOV_INSIGHT_REFRESH_SECONDS", "600")))
    except ValueError:
        return 600.0


def store_for(city_id: int) -> tuple[object, dt.datetime]:
    """The city's loaded store and the local time its data were read (loading it when missing or stale)."""
    from cogov.insight import store

    with _lock:
        held = _stores.get(city_id)
        if held is not None and time.monotonic() - held[1] <= refresh_seconds():
            return held[0], held[2]
        con = store.open_store(city_id=city_id)
        as_of = clock.now().astimezone(clock.LOCAL_TZ).replace(tzinfo=None, microsecond=0)
        _stores[city_id] = (con, time.monotonic(), as_of)
        if held is not None:
            held[0].close()  # type: ignore[attr-defined]
        return con, as_of


def forget(city_id: int | None = None) -> None:
    """Drop the loaded store of a city (or of every city): the next request reloads it."""
    with _lock:
        for key in [city_id] if city_id is not None else list(_stores):
            held = _stores.pop(key, None)
            if held is not None:
                held[0].close()  # type: ignore[attr-defined]


@contextmanager
def scoped(con, paths: Sequence[str]) -> Iterator[object]:
    """A cursor on ``con`` that sees only the cases under the unit ``paths`` (all cases when a path is "" or
    none is given), their events and their follows."""
    cur = con.cursor()
    try:
        paths = list(paths)
        if paths and all(paths):
            catalog = cur.execute("SELECT current_database()").fetchone()[0]
            # views cannot take parameters: the paths are quoted as SQL literals (codes and '/', checked)
            literal = [_quote(p) for p in paths]
            where = " OR ".join(f"starts_with(unit_path, {q})" for q in literal)
            cur.execute(f'CREATE TEMP VIEW cases AS SELECT * FROM "{catalog}".main.cases WHERE {where}')
            cur.execute(f'CREATE TEMP VIEW events AS SELECT e.* FROM "{catalog}".main.events e '
                        f'WHERE e.case_id IN (SELECT id FROM cases)')
            cur.execute(f'CREATE TEMP VIEW follows AS SELECT f.* FROM "{catalog}".main.follows f '
                        f'WHERE f.case_id IN (SELECT id FROM cases)')
        yield cur
    finally:
        cur.close()


def _quote(value: str) -> str:
    """A unit path as an SQL string literal."""
    if any(ch < " " for ch in value):
        raise ValueError("unit path with control characters")
    return "'" + value.replace("'", "''") + "'"


def against_the_city(con, city_id: int, cells: list[dict], stations: set, *, since, until, category,
                     week_start) -> tuple[list[dict], list[dict]]:
    """An area's hotspots and patrol list judged against the whole city, shown for the area only.

    Gi* compares a cell with the study area: computed on a sub-district alone, a street that is the city's
    busiest is "ordinary" when its whole sub-district is busy, and a quiet area's small cluster is "hot". So the
    significance (z, p, level) and the patrol places come from the city's cases (``con``, the whole store), and
    only the area's cells (``cells``: its own hotspot rows, computed on its cases) and its ``stations`` are kept,
    each cell with the area's own count — no figure of another area is shown. A border cell with most of its
    cases next door is the neighbour's place. Returns (hotspot rows, patrol rows)."""
    from cogov.insight import spatial

    with scoped(con, []) as everything:
        city = spatial.hotspots(everything, city_id=city_id, since=since, until=until, category_code=category)
        city_patrol = spatial.patrol_list(everything, city_id=city_id, week_start=week_start)
    own = {c["cell"]: c for c in cells}
    judged = [{**c, "count": own[c["cell"]]["count"], "total": own[c["cell"]].get("total", c.get("total"))}
              for c in city if c["cell"] in own and 2 * own[c["cell"]]["count"] >= c["count"]]
    return judged, [p for p in city_patrol if p.get("station_id") in stations]
