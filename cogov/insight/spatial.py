"""Hotspots in place and time, recurrence (回潮), broken-window warnings (破窗预警) and the weekly patrol list.

Every per-case step is SQL run by DuckDB over the analytics store (``cogov/insight/store.py``); Python only
touches per-cell and per-hour aggregates (the statistics are in ``cogov/insight/hotspots.py``).

**H3 cells without the DuckDB h3 extension.** h3-py converts one point per call (≈1 µs: 10 s for 10 M cases),
so the cell is found in two steps: DuckDB computes, for every case, H3's own face-IJK lattice coordinates
(the nearest icosahedron face, the gnomonic projection onto it, and the hex-lattice rounding of H3's
``_hex2dToCoordIJK``) as one BIGINT key; points with the same key lie in the same H3 cell, so h3-py is called
once per distinct key on one of its points (a few thousand calls). Agreement with ``h3.latlng_to_cell`` is
checked point by point in tests/integration/test_spatial.py.

Cases analysed: ``merged_into_id IS NULL AND moderation = 'ok'`` of the city; times are the store's local
wall-clock times; ``since`` is inclusive and ``until`` exclusive (dates mean local midnight).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager

import h3
import numpy as np

from cogov.insight import hotspots as H

VALID = "c.merged_into_id IS NULL AND c.moderation = 'ok'"

#: Major codes of the matter categories counted as "small problems" for the broken-window warning:
#: 06 市容环境, 07 宣传广告, 09 街面秩序 (GB/T 47678.5 管理事项).
SMALL_MAJORS = ("06", "07", "09")

_counter = itertools.count()

# H3's icosahedron: face centres (unit vectors) and the azimuth of each face's Class II i-axis (faceijk.c).
_FACES = (
    (0.2199307791404606, 0.6583691780274996, 0.7198475378926182, 5.619958268523939882),
    (-0.2139234834501421, 0.1478171829550703, 0.9656017935214205, 5.760339081714187279),
    (0.1092625278784797, -0.4811951572873210, 0.8697775121287253, 0.780213654393430055),
    (0.7428567301586791, -0.3593941678278028, 0.5648005936517033, 0.430469363979999913),
    (0.8112534709140969, 0.3448953237639384, 0.4721387736413930, 6.130269123335111400),
    (-0.1055498149613921, 0.9794457296411413, 0.1718874610009365, 2.692877706530642877),
    (-0.8075407579970092, 0.1533552485898818, 0.5695261994882688, 2.982963003477243874),
    (-0.2846148069787907, -0.8644080972654206, 0.4144792552473539, 3.532912002790141181),
    (0.7405621473854482, -0.6673299564565524, -0.0789837646326737, 3.494305004259568154),
    (0.8512303986474293, 0.4722343788582681, -0.2289137388687808, 3.003214169499538391),
    (-0.7405621473854481, 0.6673299564565524, 0.0789837646326737, 5.930472956509811562),
    (-0.8512303986474292, -0.4722343788582682, 0.2289137388687808, 0.138378484090254847),
    (0.1055498149613919, -0.9794457296411413, -0.1718874610009365, 0.448714947059150361),
    (0.8075407579970092, -0.1533552485898819, -0.5695261994882688, 0.158629650112549365),
    (0.2846148069787908, 0.8644080972654204, -0.4144792552473539, 5.891865957979238535),
    (-0.7428567301586791, 0.3593941678278027, -0.5648005936517033, 2.711123289609793325),
    (-0.8112534709140971, -0.3448953237639382, -0.4721387736413930, 3.294508837434268316),
    (-0.2199307791404607, -0.6583691780274996, -0.7198475378926182, 3.804819692245439833),
    (0.2139234834501420, -0.1478171829550704, -0.9656017935214205, 3.664438879055192436),
    (-0.1092625278784796, 0.4811951572873210, -0.8697775121287253, 2.361378999196363184),
)
_INV_RES0_U_GNOMONIC = 2.61803398874989588842
_AP7_ROT_RADS = 0.333473172251832115336090755351601070065900389
_RSIN60 = 1.1547005383792515290182975610039149112953


def _candidate_faces(lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> list[int]:
    """The icosahedron faces that can be nearest to some point of the box (all 20 when unsure).

    Every point of the box lies within ρ ≤ Δlat + Δlon·max cos(lat) (radians) of its centre c, so a face can
    win only if its angle to c is within 2ρ of the best face's.
    """
    la0, la1, lo0, lo1 = (math.radians(v) for v in (lat_min, lat_max, lon_min, lon_max))
    if lo1 - lo0 > math.pi / 2 or la1 - la0 > math.pi / 4:
        return list(range(20))
    lc, oc = (la0 + la1) / 2, (lo0 + lo1) / 2
    maxcos = 1.0 if la0 <= 0 <= la1 else max(math.cos(la0), math.cos(la1))
    rho = (la1 - la0) / 2 + (lo1 - lo0) / 2 * maxcos
    c = (math.cos(lc) * math.cos(oc), math.cos(lc) * math.sin(oc), math.sin(lc))
    ang = [math.acos(max(-1.0, min(1.0, c[0] * x + c[1] * y + c[2] * z))) for x, y, z, _ in _FACES]
    best = min(ang)
    return [f for f, a in enumerate(ang) if a <= best + 2 * rho + 1e-9]


def _plane(face: int, res: int) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Vectors a, b with hex2d (x, y) = (a·p, b·p) / (f·p) for a unit vector p nearest to face f.

    H3 projects p gnomonically onto the face's tangent plane: distance tan(angle) = |q| with q = p / (f·p) −
    f, azimuth az from north, then θ = az_i − az (the face's i-axis azimuth; minus the aperture-7 rotation on
    Class III resolutions) and (x, y) = scale · |q| · (cos θ, sin θ). With the north and east unit vectors N,
    E at f this is linear in p: x = scale (cos c · N + sin c · E)·p / (f·p), y = scale (sin c · N − cos c ·
    E)·p / (f·p), c = az_i — no trigonometry per case beyond the point's own sin and cos.
    """
    fx, fy, fz, az_i = _FACES[face]
    clat, clng = math.asin(fz), math.atan2(fy, fx)
    east = (-math.sin(clng), math.cos(clng), 0.0)
    north = (-math.sin(clat) * math.cos(clng), -math.sin(clat) * math.sin(clng), math.cos(clat))
    c = az_i - (_AP7_ROT_RADS if res % 2 else 0.0)
    scale = _INV_RES0_U_GNOMONIC * 7 ** (res / 2)
    a = tuple(scale * (math.cos(c) * n + math.sin(c) * e) for n, e in zip(north, east))
    b = tuple(scale * (math.sin(c) * n - math.cos(c) * e) for n, e in zip(north, east))
    return a, b  # type: ignore[return-value]


def h3_key_sql(src: str, res: int, faces: list[int]) -> str:
    """SQL adding ``_key`` (BIGINT) to the rows of ``src`` (which has ``lat``, ``lon`` in degrees).

    The key packs H3's face and the IJ lattice coordinates of the cell at ``res`` on that face: equal keys
    mean the same H3 cell, and on one face different keys mean different cells (a cell across a face edge has
    one key per face).
    """
    fs = [(f, _FACES[f]) for f in faces]
    dcols = ", ".join(f"_x * {x!r} + _y * {y!r} + _z * {z!r} AS _d{f}" for f, (x, y, z, _) in fs)
    dn = ", ".join(f"_d{f}" for f, _ in fs)
    s = f"SELECT s.*, cos(radians(lat)) AS _cl, radians(lon) AS _lo, sin(radians(lat)) AS _z FROM ({src}) s"
    s = f"SELECT * EXCLUDE (_cl, _lo), _cl * cos(_lo) AS _x, _cl * sin(_lo) AS _y FROM ({s})"
    s = f"SELECT *, {dcols} FROM ({s})"
    if len(fs) == 1:
        f = fs[0][0]
        (ax, ay, az), (bx, by, bz) = _plane(f, res)
        s = (f"SELECT * EXCLUDE (_x, _y, _z, _d{f}), {f} AS _face, "
             f"(_x * {ax!r} + _y * {ay!r} + _z * {az!r}) / _d{f} AS _hx, "
             f"(_x * {bx!r} + _y * {by!r} + _z * {bz!r}) / _d{f} AS _hy FROM ({s})")
    else:
        case_face = "CASE " + " ".join(f"WHEN _d{f} = _g THEN {f}" for f, _ in fs) + " END"
        consts = ", ".join(f"({f}, {', '.join(repr(c) for v in _plane(f, res) for c in v)})" for f, _ in fs)
        s = f"SELECT *, greatest({dn}) AS _g FROM ({s})"
        s = f"SELECT * EXCLUDE ({dn}), {case_face} AS _face FROM ({s})"
        s = (f"SELECT f.* EXCLUDE (_x, _y, _z, _g), (_x * _ax + _y * _ay + _z * _az) / _g AS _hx, "
             f"(_x * _bx + _y * _by + _z * _bz) / _g AS _hy "
             f"FROM ({s}) f JOIN (VALUES {consts}) fc(_fc, _ax, _ay, _az, _bx, _by, _bz) ON fc._fc = f._face")
    s = f"SELECT *, abs(_hx) + abs(_hy) * {_RSIN60} / 2 AS _x1, abs(_hy) * {_RSIN60} AS _x2 FROM ({s})"
    s = (f"SELECT * EXCLUDE (_x1, _x2), floor(_x1) AS _m1, floor(_x2) AS _m2, _x1 - floor(_x1) AS _r1, "
         f"_x2 - floor(_x2) AS _r2 FROM ({s})")
    # H3's _hex2dToCoordIJK: round into the hex lattice, then fold across the axes by the signs of x and y
    i = ("CASE WHEN _r1 < 0.5 THEN (CASE WHEN _r1 < 1.0 / 3 THEN _m1 WHEN (1 - _r1) <= _r2 AND _r2 < 2 * _r1 "
         "THEN _m1 + 1 ELSE _m1 END) WHEN _r1 < 2.0 / 3 THEN (CASE WHEN (2 * _r1 - 1) < _r2 AND _r2 < (1 - _r1) "
         "THEN _m1 ELSE _m1 + 1 END) ELSE _m1 + 1 END")
    j = ("CASE WHEN _r1 < 1.0 / 3 THEN (CASE WHEN _r2 < (1 + _r1) / 2 THEN _m2 ELSE _m2 + 1 END) "
         "WHEN _r1 < 2.0 / 3 THEN (CASE WHEN _r2 < 1 - _r1 THEN _m2 ELSE _m2 + 1 END) "
         "ELSE (CASE WHEN _r2 < _r1 / 2 THEN _m2 ELSE _m2 + 1 END) END")
    s = (f"SELECT * EXCLUDE (_m1, _m2, _r1, _r2), CAST({i} AS BIGINT) AS _i0, CAST({j} AS BIGINT) AS _j0 "
         f"FROM ({s})")
    # x < 0: i ← j − i (H3's two parity cases reduce to this); then y < 0: i ← i − j, j ← −j
    s = f"SELECT * EXCLUDE (_i0), CASE WHEN _hx < 0 THEN _j0 - _i0 ELSE _i0 END AS _i1 FROM ({s})"
    return (f"SELECT * EXCLUDE (_hx, _hy, _i1, _j0, _face), CAST(_face AS BIGINT) * 281474976710656 "
            f"+ (CASE WHEN _hy < 0 THEN _i1 - _j0 ELSE _i1 END + 8388608) * 16777216 "
            f"+ (CASE WHEN _hy < 0 THEN -_j0 ELSE _j0 END + 8388608) AS _key FROM ({s})")


def _ts(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(f"需要日期或时间：{value!r}")


class Located:
    """Cases with their cell: ``name`` is a temporary table of the chosen columns plus ``cell`` (BIGINT).

    ``cell`` is an opaque id to group and join on in SQL; ``hex(cell)`` gives the H3 cell (hex string) and
    ``value(hex)`` the id of an H3 cell (None if no case lies in it).
    """

    def __init__(self, name: str, to_hex: dict[int, str]):
        self.name = name
        self._hex = to_hex
        self._value = {h: v for v, h in to_hex.items()}

    def __str__(self) -> str:
        return self.name

    def hex(self, cell: int) -> str:
        return self._hex[int(cell)]

    def value(self, hex_cell: str) -> int | None:
        return self._value.get(hex_cell)


def _case_columns(con) -> set[str]:
    return {d[0] for d in con.execute("SELECT * FROM cases LIMIT 0").description}


@contextmanager
def located(con, *, where: str, params: list, res: int, columns: str,
            group_by: str | None = None) -> Iterator[Located]:
    """The cases matching ``where`` (alias ``c``) with their H3 cell at ``res``, as a temporary table.

    ``columns`` is the select list kept (``c.id`` must be in it). With ``group_by`` (names from ``columns``)
    the table holds one row per cell and group with the number of cases ``n`` instead of one row per case.
    When the cases lie on one icosahedron face (a city always does) the face-IJK key is the cell id itself, so
    no per-case join is needed; otherwise the keys are mapped to H3 indexes by a join with a small table. When
    the store carries the key (``cases.h3_9`` / ``h3_10``, filled by ``store.with_h3_keys``) for every chosen
    case it is read instead of computed — the same key. The tables are dropped on exit.
    """
    n = next(_counter)
    t, m, v, w = f"_cogov_loc_{n}", f"_cogov_cellmap_{n}", f"_cogov_located_{n}", f"_cogov_view_{n}"
    stored = f"h3_{res}" if f"h3_{res}" in _case_columns(con) else None
    missing = f", count(*) FILTER (WHERE c.{stored} IS NULL)" if stored else ""
    box = con.execute(f"SELECT min(lat), max(lat), min(lon), max(lon){missing} FROM cases c WHERE {where}",
                      params).fetchone()
    faces = [0] if box[0] is None else _candidate_faces(*box[:4])
    if stored and box[4] == 0:  # every case carries its key (store.with_h3_keys): the same key, no arithmetic
        keyed = f"SELECT {columns}, c.lat, c.lon, c.{stored} AS _key FROM cases c WHERE {where}"
    else:
        keyed = h3_key_sql(f"SELECT {columns}, c.lat, c.lon FROM cases c WHERE {where}", res, faces)
    rid = "id"
    if group_by:
        keyed = (f"SELECT _key, {group_by}, count(*) AS n, min(id) AS _rid, arg_min(lat, id) AS lat, "
                 f"arg_min(lon, id) AS lon FROM ({keyed}) GROUP BY ALL")
        rid = "_rid"
    try:
        con.execute(f"CREATE TEMP TABLE {t} AS {keyed}", params)
        reps = con.execute(f"SELECT _key, arg_min(lat, {rid}), arg_min(lon, {rid}) FROM {t} GROUP BY _key").fetchall()
        hexes = {int(r[0]): h3.latlng_to_cell(r[1], r[2], res) for r in reps}
        if len(faces) == 1:
            con.execute(f"CREATE TEMP VIEW {w} AS SELECT * EXCLUDE (lat, lon) RENAME (_key AS cell) FROM {t}")
            yield Located(w, hexes)
        else:
            keys = np.fromiter(hexes, dtype=np.int64, count=len(hexes))
            cells = np.fromiter((h3.str_to_int(h) for h in hexes.values()), dtype=np.int64, count=len(hexes))
            con.execute(f"CREATE TEMP TABLE {m} AS SELECT unnest($1) AS _key, unnest($2) AS cell", [keys, cells])
            con.execute(f"CREATE TEMP TABLE {v} AS SELECT t.* EXCLUDE (_key, lat, lon), m.cell "
                        f"FROM {t} t JOIN {m} m USING (_key)")
            con.execute(f"DROP TABLE {t}")
            yield Located(v, {h3.str_to_int(h): h for h in hexes.values()})
    finally:
        con.execute(f"DROP VIEW IF EXISTS {w}")
        for table in (v, m, t):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _where(city_id: int, category_code: str | None, extra: str = "", params: list | None = None) -> tuple[str, list]:
    sql = f"c.city_id = ? AND {VALID}"
    p: list = [city_id]
    if category_code:
        sql += " AND c.category_code = ?"
        p.append(category_code)
    if extra:
        sql += " AND " + extra
        p += params or []
    return sql, p


def _unit_names(con, ids) -> dict[int, str]:
    ids = sorted({int(i) for i in ids if i is not None})
    if not ids:
        return {}
    return dict(con.execute("SELECT id, name FROM units WHERE id IN (SELECT unnest($1))", [ids]).fetchall())


def _neighbour_lists(cells: list[str]) -> list[list[int]]:
    index = {c: i for i, c in enumerate(cells)}
    out = []
    for c in cells:
        ring = (index.get(d) for d in h3.grid_disk(c, 1))
        out.append([i for i in ring if i is not None])
    return out


def hotspots(con, *, city_id: int, since, until, resolution: int = 9, category_code: str | None = None,
             alpha: float = 0.05) -> list[dict]:
    """Getis–Ord Gi* hotspots per H3 cell (热点): hot99 cells first, then hot95, hot90, the rest, cold ones
    last; within a level the busiest cell first (Gi* also marks the quiet neighbours of a busy cell).

    Study area: every cell with at least one case of any category in [since, until); the value of a cell is
    its number of cases (of ``category_code`` when given — cells of the area without that category count 0).
    Weights: binary, the cell and its k = 1 ring (``grid_disk(cell, 1)``) within the area. Each row: cell (hex
    string), lat, lon (the cell centre), count, total (all categories), gi_z, p_value (two-sided, normal),
    level, fdr (Benjamini–Hochberg at ``alpha`` on the two-sided p), q_value, station_id, station_name,
    community_id, community_name, zone_name (区片), street_name (街巷) — each the most common in the cell
    ('' when none).
    """
    where, params = _where(city_id, None, "c.reported_at >= ? AND c.reported_at < ?", [_ts(since), _ts(until)])
    hit = f"c.category_code = {_sql_str(category_code)}" if category_code else "TRUE"
    with located(con, where=where, params=params, res=resolution, group_by="station_id, community_id, unit_path, hit",
                 columns=f"c.id, c.station_id, c.community_id, c.unit_path, {hit} AS hit") as v:
        rows = con.execute(
            f"""
            WITH t AS (SELECT cell, sum(n) AS total, coalesce(sum(n) FILTER (WHERE hit), 0) AS hits
                       FROM {v} GROUP BY cell),
                 s AS (SELECT cell, arg_max(station_id, (n, -station_id)) AS station_id FROM
                         (SELECT cell, station_id, sum(n) AS n FROM {v} WHERE station_id IS NOT NULL GROUP BY ALL)
                       GROUP BY cell),
                 cm AS (SELECT cell, arg_max(community_id, (n, -community_id)) AS community_id FROM
                         (SELECT cell, community_id, sum(n) AS n FROM {v} WHERE community_id IS NOT NULL GROUP BY ALL)
                        GROUP BY cell)
            SELECT t.cell, t.total, t.hits, s.station_id, cm.community_id
            FROM t LEFT JOIN s USING (cell) LEFT JOIN cm USING (cell) ORDER BY t.cell
            """).fetchall()
        places = _zones_and_streets(con, v)
    if not rows:
        return []
    cells = [v.hex(r[0]) for r in rows]
    y = np.array([float(r[2]) for r in rows])
    z, p_one = H.getis_ord_gi_star(y, _neighbour_lists(cells))
    p = H.two_sided(p_one)
    q, rejected = H.benjamini_hochberg(p, alpha)
    names = _unit_names(con, [r[3] for r in rows] + [r[4] for r in rows])
    out = []
    for k, r in enumerate(rows):
        lat, lon = h3.cell_to_latlng(cells[k])
        out.append({
            "cell": cells[k], "lat": lat, "lon": lon, "count": int(r[2]), "total": int(r[1]),
            "gi_z": float(z[k]), "p_value": float(p[k]), "level": H.gi_level(float(z[k])),
            "fdr": bool(rejected[k]), "q_value": float(q[k]),
            "station_id": r[3], "station_name": names.get(r[3], ""),
            "community_id": r[4], "community_name": names.get(r[4], ""),
            "zone_name": places.get((r[0], "area"), ""), "street_name": places.get((r[0], "street"), ""),
        })
    out.sort(key=lambda d: (-_LEVEL_ORDER[d["level"]], -d["count"], -d["gi_z"], d["cell"]))
    return out


#: Sort order of the hotspot list: hot99 first, then hot95, hot90, not significant, cold90 … cold99.
_LEVEL_ORDER = {"hot99": 6, "hot95": 5, "hot90": 4, "ns": 3, "cold90": 2, "cold95": 1, "cold99": 0}


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _zones_and_streets(con, v: Located) -> dict[tuple[int, str], str]:
    """{(cell, 'area' | 'street'): name} — the 区片 and the 街巷 holding most of a cell's cases.

    A case's ``unit_path`` is the path of the deepest unit at intake; every prefix of it is a unit above.
    """
    rows = con.execute(
        f"""
        WITH up AS (SELECT cell, string_split(rtrim(unit_path, '/'), '/') AS parts, sum(n) AS n
                    FROM {v} WHERE unit_path <> '' GROUP BY cell, unit_path),
             pre AS (SELECT cell, n, array_to_string(parts[1:k], '/') || '/' AS prefix
                     FROM (SELECT cell, n, parts, unnest(generate_series(1, len(parts))) AS k FROM up)),
             hit AS (SELECT p.cell, u.kind, u.name, sum(p.n) AS n FROM pre p
                     JOIN units u ON u.path = p.prefix AND u.kind IN ('area', 'street') GROUP BY ALL)
        SELECT cell, kind, arg_min(name, (-n, name)) FROM hit GROUP BY ALL  -- ties: the first name
        """).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}


def hour_of_week(con, *, city_id: int, since, until, category_code: str | None = None,
                 station_id: int | None = None, alpha: float = 0.05) -> dict:
    """Cases by hour of the week (7 × 24, 周一 0 时 first) and which hours stand out (时段热点).

    Test: Gi* on the circular 168-hour week, each hour with its neighbours ±1 h (Sunday 23 h next to Monday 0 h),
    self included — the same statistic as the spatial hotspots, so an hour is "hot" when it and its two
    neighbours hold more than their share; p two-sided (normal), FDR over the 168 hours. ``expected`` is the
    uniform share (total / 168).
    """
    extra, ep = "c.reported_at >= ? AND c.reported_at < ?", [_ts(since), _ts(until)]
    if station_id is not None:
        extra, ep = extra + " AND c.station_id = ?", ep + [station_id]
    where, params = _where(city_id, category_code, extra, ep)
    counts = np.zeros(168)
    for how, n in con.execute(f"SELECT (isodow(c.reported_at) - 1) * 24 + hour(c.reported_at) AS how, count(*) "
                              f"FROM cases c WHERE {where} GROUP BY how", params).fetchall():
        counts[int(how)] = n
    z, p_one = H.getis_ord_gi_star(counts, H.ring_neighbours(168))
    p = H.two_sided(p_one)
    q, rejected = H.benjamini_hochberg(p, alpha)
    total = float(counts.sum())
    levels = [H.gi_level(float(v)) for v in z]
    grid = lambda a: [list(a[d * 24:(d + 1) * 24]) for d in range(7)]  # noqa: E731
    day, hour, _ = H.peak_window(counts, 2)
    return {
        "total": int(total), "expected": total / 168, "counts": grid([int(v) for v in counts]),
        "z": grid([float(v) for v in z]), "p": grid([float(v) for v in p]), "level": grid(levels),
        "fdr": grid([bool(v) for v in rejected]),
        "hot_hours": [{"weekday": i // 24, "hour": i % 24, "count": int(counts[i]), "z": float(z[i]),
                       "level": levels[i], "fdr": bool(rejected[i])}
                      for i in np.argsort(-z, kind="stable") if levels[i].startswith("hot")],
        "peak": {"weekday": day, "start_hour": hour, "text": H.window_text(day, hour)} if total else None,
        "method": "Gi*（168 小时环，±1 小时邻接，含自身），双侧正态 p，BH 校正",
    }


def recurrence(con, *, city_id: int, since, until, days: int = 7, resolution: int = 10,
               category_code: str | None = None, top: int | None = None) -> list[dict]:
    """Places where a problem comes back (回潮): per (H3 cell, category), most recurrent first.

    A closed case (state ``closed``, closed_at in [since, until)) *recurs* when a new case of the same category
    is reported in the same cell after closed_at and within ``days`` days (and before ``until``: cases closed
    in the last ``days`` days have a shorter window). Found with one sort of the cases by (cell, category,
    report time): the next report is the first one after the closing unless it came while the case was still
    open — for those few an ASOF join finds the first report after the closing. Rows with at least one
    recurrence: cell, lat, lon, category_id/code/name, closed, recurred, rate, mean_days (closing → next
    report), p_value (binomial: recurred or more of ``closed`` at the
    category's city-wide rate), station_id/name (most common in the cell), rank.
    """
    from scipy import stats

    s, u = _ts(since), _ts(until)
    where, params = _where(city_id, category_code,
                           "c.reported_at < ? AND (c.reported_at >= ? OR c.closed_at >= ?)", [u, s, s])
    cols = "c.id, c.category_id, c.station_id, c.state = 'closed' AS is_closed, c.reported_at, c.closed_at"
    limit = f"LIMIT {int(top)}" if top else ""
    with located(con, where=where, params=params, res=resolution, columns=cols) as v:
        # one BIGINT sort key for (cell, category) when it fits (sorting a HUGEINT is several times slower)
        c0, c1, k0, k1 = con.execute(
            f"SELECT min(cell), max(cell), min(category_id), max(category_id) FROM {v}").fetchone()
        if c0 is not None and (c1 - c0 + 1) * (k1 - k0 + 1) < 2**62:
            pack = f"(cell - {c0}) * {k1 - k0 + 1} + (category_id - {k0})"
        else:
            pack = "CAST(cell AS HUGEINT) * 4294967296 + category_id"
        rows = con.execute(
            f"""
            WITH s AS (SELECT cell, category_id, reported_at, closed_at,
                              is_closed AND closed_at >= $1 AND closed_at < $2 AS eligible, {pack} AS k FROM {v}),
                 -- one sort: the next report of the same place and category (by report time)
                 l AS (SELECT k, cell, category_id, eligible, closed_at, lead(k) OVER w AS nk,
                              lead(reported_at) OVER w AS nxt
                       FROM s WINDOW w AS (ORDER BY k, reported_at)),
                 closed AS MATERIALIZED (SELECT k, cell, category_id, closed_at, nk = k AS more, nxt
                                         FROM l WHERE eligible),
                 -- the next report came after the closing: it is the first one after it
                 easy AS (SELECT k, epoch(nxt - closed_at) / 86400.0 AS gap FROM closed WHERE more AND nxt > closed_at),
                 -- it came while the case was open: find the first report after the closing (ASOF)
                 hard AS MATERIALIZED (SELECT k, closed_at FROM closed WHERE more AND nxt <= closed_at),
                 rep AS (SELECT k, reported_at FROM s WHERE reported_at >= $1 AND k IN (SELECT k FROM hard)),
                 back AS (SELECT k, gap FROM easy WHERE gap <= $3
                          UNION ALL
                          SELECT c.k, epoch(r.reported_at - c.closed_at) / 86400.0 AS gap
                          FROM hard c ASOF JOIN rep r ON c.k = r.k AND r.reported_at > c.closed_at
                          WHERE r.reported_at <= c.closed_at + to_days(CAST($3 AS INTEGER))),
                 rec AS MATERIALIZED (SELECT k, count(*) AS recurred, avg(gap) AS mean_days FROM back GROUP BY k),
                 agg AS MATERIALIZED (
                         SELECT k, any_value(cell) AS cell, any_value(category_id) AS category_id, count(*) AS closed
                         FROM closed WHERE k IN (SELECT k FROM rec) GROUP BY k),
                 base AS (SELECT category_id, (SELECT coalesce(sum(r.recurred), 0) FROM rec r JOIN agg a USING (k)
                                               WHERE a.category_id = c.category_id) / count(*) AS base_rate
                          FROM closed c WHERE category_id IN (SELECT category_id FROM agg) GROUP BY category_id),
                 top AS (SELECT a.cell, a.category_id, a.closed, r.recurred, r.mean_days FROM agg a JOIN rec r USING (k)
                         ORDER BY recurred DESC, recurred / closed DESC, closed DESC, cell, category_id {limit}),
                 st AS (SELECT cell, arg_max(station_id, (n, -station_id)) AS station_id FROM
                          (SELECT cell, station_id, count(*) AS n FROM {v}
                           WHERE station_id IS NOT NULL AND cell IN (SELECT cell FROM top) GROUP BY ALL)
                        GROUP BY cell),
                 cat AS (SELECT category_id, any_value(category_code) AS code, any_value(category_name) AS name
                         FROM cases WHERE category_id IN (SELECT category_id FROM top) GROUP BY ALL)
            SELECT a.cell, a.category_id, cat.code, cat.name, a.closed, a.recurred, a.mean_days, base.base_rate,
                   st.station_id
            FROM top a JOIN base USING (category_id) JOIN cat USING (category_id) LEFT JOIN st USING (cell)
            ORDER BY a.recurred DESC, a.recurred / a.closed DESC, a.closed DESC, a.cell, a.category_id
            """, [s, u, int(days)]).fetchall()
    if not rows:
        return []
    names = _unit_names(con, [r[8] for r in rows])
    closed = np.array([r[4] for r in rows])
    recurred = np.array([r[5] for r in rows])
    p = stats.binom.sf(recurred - 1, closed, np.minimum(1.0, np.array([float(r[7]) for r in rows])))
    out = []
    for rank, r in enumerate(rows, 1):
        cell = v.hex(r[0])
        lat, lon = h3.cell_to_latlng(cell)
        out.append({
            "rank": rank, "cell": cell, "lat": lat, "lon": lon, "category_id": r[1], "category_code": r[2],
            "category_name": r[3], "closed": int(r[4]), "recurred": int(r[5]), "rate": r[5] / r[4],
            "mean_days": float(r[6]), "base_rate": float(r[7]), "p_value": float(p[rank - 1]),
            "station_id": r[8], "station_name": names.get(r[8], ""),
        })
    return out


def broken_windows(con, *, city_id: int, today, window_days: int = 14, resolution: int = 9, min_open: int = 3,
                   alpha: float = 0.05, small_majors: tuple[str, ...] = SMALL_MAJORS,
                   category_code: str | None = None, station_id: int | None = None,
                   include_all: bool = False) -> list[dict]:
    """Broken-window warning (破窗预警): cells where small open problems pile up and are rising.

    Small problem: urgency ``normal``, a matter (管理事项) category whose major code is in ``small_majors``
    (default 06 市容环境, 07 宣传广告, 09 街面秩序). As of ``today`` 00:00: open = reported before and not
    closed by then (not_accepted and merged cases excluded); recent = reported in the last ``window_days``
    days, previous = in the ``window_days`` before. Warned when open ≥ ``min_open``, recent > previous and the
    conditional binomial test (recent ~ Bin(recent + previous, ½) under equal rates, one-sided) gives
    p < ``alpha``. Rows (warned only, unless ``include_all``): cell, lat, lon, open, recent, previous, p_value,
    warned, categories (most frequent first), station_id/name; lowest p first.
    """
    t = _ts(today)
    w = dt.timedelta(days=window_days)
    extra = ("c.urgency = 'normal' AND c.category_kind = 'matter' AND list_contains(?, c.major_code) "
             "AND c.state NOT IN ('not_accepted', 'merged') AND c.reported_at < ? "
             "AND (c.reported_at >= ? OR c.closed_at IS NULL OR c.closed_at >= ?)")
    where, params = _where(city_id, category_code, extra, [list(small_majors), t, t - 2 * w, t])
    cols = "c.id, c.station_id, c.category_name, c.reported_at, c.closed_at"
    with located(con, where=where, params=params, res=resolution, columns=cols) as v:
        rows = con.execute(
            f"""
            WITH agg AS (SELECT cell,
                           count(*) FILTER (WHERE closed_at IS NULL OR closed_at >= $1) AS open,
                           count(*) FILTER (WHERE reported_at >= $2) AS recent,
                           count(*) FILTER (WHERE reported_at >= $3 AND reported_at < $2) AS previous
                         FROM {v} GROUP BY cell),
                 st AS (SELECT cell, arg_max(station_id, (n, -station_id)) AS station_id FROM
                          (SELECT cell, station_id, count(*) AS n FROM {v} WHERE station_id IS NOT NULL GROUP BY ALL)
                        GROUP BY cell),
                 cats AS (SELECT cell, list(category_name ORDER BY n DESC, category_name) AS names FROM
                          (SELECT cell, category_name, count(*) AS n FROM {v}
                           WHERE closed_at IS NULL OR closed_at >= $1 GROUP BY ALL) GROUP BY cell)
            SELECT agg.cell, open, recent, previous, st.station_id, cats.names
            FROM agg LEFT JOIN st USING (cell) LEFT JOIN cats USING (cell)
            WHERE open > 0 OR recent > 0 ORDER BY agg.cell
            """, [t, t - w, t - 2 * w]).fetchall()
    if station_id is not None:
        rows = [r for r in rows if r[4] == station_id]
    if not rows:
        return []
    p = H.rising_p([r[2] for r in rows], [r[3] for r in rows])
    names = _unit_names(con, [r[4] for r in rows])
    out = []
    for k, r in enumerate(rows):
        warned = r[1] >= min_open and r[2] > r[3] and p[k] < alpha
        if not (warned or include_all):
            continue
        cell = v.hex(r[0])
        lat, lon = h3.cell_to_latlng(cell)
        out.append({"cell": cell, "lat": lat, "lon": lon, "open": int(r[1]), "recent": int(r[2]),
                    "previous": int(r[3]), "p_value": float(p[k]), "warned": bool(warned),
                    "categories": list(r[5] or []), "station_id": r[4], "station_name": names.get(r[4], "")})
    out.sort(key=lambda d: (not d["warned"], d["p_value"], -d["open"], d["cell"]))
    return out


REASONS = {"hotspot": "热点", "recurrence": "回潮", "broken_window": "破窗预警"}


def patrol_list(con, *, city_id: int, week_start, station_id: int | None = None, lookback_days: int = 56,
                resolution: int = 9, days: int = 7, window_days: int = 14, min_recurred: int = 2, top: int =
                10, min_profile: int = 8, alpha: float = 0.05) -> list[dict]:
    """Next week's patrol list (巡查清单) per station, built from the ``lookback_days`` before ``week_start``.

    A place (H3 cell at ``resolution``) is listed for: 热点 — Gi* level hot95 or hot99 over all categories and
    a count of its own above the mean cell's (Poisson upper tail < ``alpha``: Gi* also marks the quiet
    neighbours of a busy cell); 回潮 — a category recurred ≥ ``min_recurred`` times within ``days`` days of
    closing, more often than the category's city-wide rate explains (binomial p < ``alpha``); 破窗预警 — warned
    by ``broken_windows`` as of ``week_start``. Score = the sum over the reasons of their evidence,
    min(3, −log10 p) (the Gi* p, the best recurrence's binomial p, the warning's rising p); the best ``top``
    places of each station, highest score first, then most reports. Suggested
    time: the busiest 2-hour window of the week in the place's own reports (≥ ``min_profile`` of them), else
    its station's, else the city's. Rows: station_id, station_name, rank, cell, lat, lon, reasons (codes),
    reason_labels, reason_text (Chinese), score, weekday (0 = 周一), start_hour, end_hour, when (e.g.
    '周三 09:00–11:00'), time_basis (本格 / 本站 / 全市), community_name, week_start.
    """
    week = _ts(week_start)
    since = week - dt.timedelta(days=lookback_days)
    weeks = max(1, round(lookback_days / 7))
    places: dict[str, dict] = {}

    def place(cell: str, row: dict) -> dict:
        p = places.get(cell)
        if p is None:
            p = places[cell] = {"cell": cell, "lat": row["lat"], "lon": row["lon"], "station_id": row.get("station_id"),
                                "station_name": row.get("station_name", ""),
                                "community_name": row.get("community_name", ""),
                                "zone_name": row.get("zone_name", ""), "street_name": row.get("street_name",
                                ""), "reasons": [], "texts": [],
                                "score": 0.0, "count": 0}
        return p

    from scipy import stats

    hot = hotspots(con, city_id=city_id, since=since, until=week, resolution=resolution)
    mean = sum(r["count"] for r in hot) / max(1, len(hot))
    for r in hot:
        # Gi* also marks the quiet neighbours of a busy cell: list a hot cell only if it is busy itself
        if r["level"] in ("hot99", "hot95") and stats.poisson.sf(r["count"] - 1, mean) < alpha:
            p = place(r["cell"], r)
            p["reasons"].append("hotspot")
            level = H.LEVEL_NAMES[r["level"]]
            p["texts"].append(f"{level}：近{weeks}周 {r['count']} 件，Gi* z={r['gi_z']:.1f}")
            p["score"] += _evidence(r["p_value"])
            p["count"] = r["count"]
    best_recurrence: dict[str, float] = {}
    for r in recurrence(con, city_id=city_id, since=since, until=week, days=days, resolution=resolution):
        if r["recurred"] < min_recurred or r["p_value"] >= alpha:
            continue
        p = place(r["cell"], r)
        if "recurrence" not in p["reasons"]:
            p["reasons"].append("recurrence")
        p["texts"].append(f"回潮：{r['category_name']} 结案后{days}天内又报 {r['recurred']}/{r['closed']} 次")
        best_recurrence[r["cell"]] = max(best_recurrence.get(r["cell"], 0.0), _evidence(r["p_value"]))
    for cell, e in best_recurrence.items():
        places[cell]["score"] += e
    for r in broken_windows(con, city_id=city_id, today=week.date(), window_days=window_days, resolution=resolution):
        p = place(r["cell"], r)
        p["reasons"].append("broken_window")
        cats = "、".join(r["categories"][:3])
        p["texts"].append(f"破窗预警：未结小问题 {r['open']} 件（{cats}），近{window_days}天 {r['recent']} 件，"
                          f"前{window_days}天 {r['previous']} 件，p={r['p_value']:.3f}")
        p["score"] += _evidence(r["p_value"])
    if station_id is not None:
        places = {c: p for c, p in places.items() if p["station_id"] == station_id}
    if not places:
        return []
    profiles = _profiles(con, city_id=city_id, since=since, until=week, resolution=resolution,
                         cells=list(places))
    by_station: dict = {}
    for p in places.values():
        by_station.setdefault(p["station_id"], []).append(p)
    out = []
    for sid in sorted(by_station, key=lambda s: (s is None, s if s is not None else 0)):
        chosen = sorted(by_station[sid], key=lambda p: (-p["score"], -p["count"], p["cell"]))[:top]
        for rank, p in enumerate(chosen, 1):
            counts, basis = profiles["cell"].get(p["cell"]), "本格"
            if counts is None or counts.sum() < min_profile:
                counts, basis = profiles["station"].get(sid), "本站"
            if counts is None or counts.sum() < min_profile:
                counts, basis = profiles["city"], "全市"
            day, hour, _ = H.peak_window(counts, 2)
            out.append({
                "station_id": sid, "station_name": p["station_name"], "rank": rank, "cell": p["cell"],
                "lat": p["lat"], "lon": p["lon"], "community_name": p["community_name"],
                "zone_name": p["zone_name"], "street_name": p["street_name"],
                "reasons": p["reasons"], "reason_labels": [REASONS[x] for x in p["reasons"]],
                "reason_text": "；".join(p["texts"]), "score": round(p["score"], 2),
                "weekday": day, "weekday_name": H.WEEKDAYS[day], "start_hour": hour,
                "end_hour": (hour + 2) % 24, "when": H.window_text(day, hour), "time_basis": basis,
                "week_start": week.date().isoformat(),
            })
    return out


def _evidence(p: float) -> float:
    """Weight of a reason in the patrol score: −log10 p, capped at 3 (p ≤ 0.001)."""
    return min(3.0, -math.log10(max(p, 1e-300)))


def _profiles(con, *, city_id: int, since, until, resolution: int, cells: list[str]) -> dict:
    """168-hour report counts of the given cells, of every station and of the city over [since, until)."""
    where, params = _where(city_id, None, "c.reported_at >= ? AND c.reported_at < ?",
                           [_ts(since), _ts(until)])
    how = "(isodow(c.reported_at) - 1) * 24 + hour(c.reported_at)"
    city, station, cell = np.zeros(168), {}, {}
    with located(con, where=where, params=params, res=resolution, columns=f"c.id, c.station_id, {how} AS how",
                 group_by="station_id, how") as v:
        wanted = [x for x in (v.value(c) for c in cells) if x is not None]
        for sid, k, n in con.execute(f"SELECT station_id, how, sum(n) FROM {v} GROUP BY ALL").fetchall():
            station.setdefault(sid, np.zeros(168))[int(k)] += n
            city[int(k)] += n
        for c, k, n in con.execute(f"SELECT cell, how, sum(n) FROM {v} "
                                   f"WHERE list_contains($1, cell) GROUP BY ALL", [wanted]).fetchall():
            cell.setdefault(v.hex(c), np.zeros(168))[int(k)] += n
    return {"city": city, "station": station, "cell": cell}
