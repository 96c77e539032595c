"""The locate index (定位索引): every unit containing a point, without a database."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cogov.geo.locate import KINDS, LocateIndex

# A street corner in Shinan district; every unit of the city is a square around it, each inside the last.
LON, LAT = 120.38, 36.07
HALF = {kind: 0.05 / 2**i for i, kind in enumerate(KINDS)}  # district 0.05° … building 0.0004°


def square(half: float, lon: float = LON, lat: float = LAT) -> shapely.Polygon:
    return shapely.box(lon - half, lat - half, lon + half, lat + half)


def nested_city() -> list[tuple[int, str, object]]:
    """One unit of every kind, district ⊃ sub-district ⊃ … ⊃ building, ids 1…8."""
    return [(i + 1, kind, square(HALF[kind])) for i, kind in enumerate(KINDS)]


def test_a_point_in_a_building_lies_in_all_eight_kinds():
    index = LocateIndex.build(nested_city(), version=3)
    assert index.locate(LON, LAT) == {kind: i + 1 for i, kind in enumerate(KINDS)}
    assert index.version == 3
    assert len(index) == 8


def test_a_point_in_the_courtyard_but_outside_the_building_stops_at_the_courtyard():
    index = LocateIndex.build(nested_city())
    found = index.locate(LON + HALF["courtyard"] * 0.9, LAT)
    assert set(found) == set(KINDS) - {"building"}


def test_a_point_outside_the_city_is_in_nothing():
    index = LocateIndex.build(nested_city())
    assert index.locate(LON + 1, LAT) == {}
    assert index.locate(float("nan"), LAT) == {}
    assert index.locate_many([LON + 1, float("nan")], [LAT, LAT]) == [{}, {}]


def test_a_point_on_a_boundary_counts_as_inside():
    index = LocateIndex.build(nested_city())
    h = HALF["building"]
    on_edge = index.locate(LON + h, LAT)
    on_corner = index.locate(LON - h, LAT - h)
    assert on_edge["building"] == 8 and on_corner["building"] == 8
    assert index.locate(LON + HALF["district"], LAT + HALF["district"]) == {"district": 1}
    assert index.locate_exact(LON + h, LAT) == on_edge


def test_of_overlapping_units_of_one_kind_the_smallest_wins():
    big = (10, "building", square(0.002))
    small = (11, "building", square(0.001, LON + 0.0005))
    index = LocateIndex.build([big, small])
    assert index.locate(LON + 0.0005, LAT) == {"building": 11}
    assert index.locate(LON - 0.0015, LAT) == {"building": 10}
    # Equal areas: the smaller id, whatever the order of the rows.
    twin_a = (21, "courtyard", square(0.001))
    twin_b = (20, "courtyard", square(0.001, LON + 0.0005))
    for rows in ([twin_a, twin_b], [twin_b, twin_a]):
        assert LocateIndex.build(rows).locate(LON + 0.0003, LAT) == {"courtyard": 20}


def test_geometries_come_as_shapely_wkb_wkt_or_geojson():
    shape = square(0.01)
    forms = [
        shape,
        shapely.to_wkb(shape),
        memoryview(shapely.to_wkb(shape)),  # PostgreSQL bytea through Django
        shapely.to_wkb(shape, hex=True),
        shapely.to_wkt(shape),
        shapely.to_geojson(shape),
        json.loads(shapely.to_geojson(shape)),
    ]
    index = LocateIndex.build([(i + 1, KINDS[i % 8], g) for i, g in enumerate(forms)])
    assert len(index) == len(forms)
    found = index.locate(LON, LAT)
    assert len(found) == len({KINDS[i % 8] for i in range(len(forms))})
    assert index.bounds() == pytest.approx(shape.bounds)


def test_empty_geometries_are_skipped_and_an_empty_index_finds_nothing():
    index = LocateIndex.build([(1, "district", None), (2, "district", shapely.Polygon())])
    assert len(index) == 0
    assert index.bounds() is None
    assert index.locate(LON, LAT) == {}
    assert index.locate_many([LON], [LAT]) == [{}]


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError):
        LocateIndex.build([(1, "planet", square(1))])


def test_bounds_cover_everything_indexed():
    index = LocateIndex.build(nested_city())
    assert index.bounds() == pytest.approx(square(HALF["district"]).bounds)


# ---------------------------------------------------------------- the fast path equals the exact path


def random_city(seed: int, n_sub: int, n_buildings: int) -> list[tuple[int, str, object]]:
    """A district cut into Voronoi sub-districts (shared boundaries), with crowds of small, overlapping
    buildings and a few long thin streets: enough to make the grid split its cells deep."""
    rng = np.random.default_rng(seed)
    district = shapely.Polygon(
        [(LON + 0.02 * math.cos(a), LAT + 0.015 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 23)[:-1]]
    )
    rows: list[tuple[int, str, object]] = [(1, "district", district)]
    seeds = shapely.points(
        rng.uniform(LON - 0.02, LON + 0.02, n_sub), rng.uniform(LAT - 0.015, LAT + 0.015, n_sub)
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=district))
    for cell in shapely.intersection(cells, district):
        if shapely.get_type_id(cell) in (3, 6) and not cell.is_empty:
            rows.append((len(rows) + 1, "subdistrict", cell))
    # Buildings in a few clusters, many overlapping; some exactly on a grid so that edges coincide.
    for _ in range(n_buildings):
        cx = LON + rng.normal(0, 0.004)
        cy = LAT + rng.normal(0, 0.003)
        if rng.random() < 0.3:
            cx, cy = round(cx, 4), round(cy, 4)
        w, h = rng.uniform(0.00005, 0.0008, 2)
        rows.append((len(rows) + 1, "building", shapely.box(cx, cy, cx + w, cy + h)))
    for _ in range(5):
        x0, y0, x1, y1 = rng.uniform(-1, 1, 4)
        line = shapely.LineString([(LON + 0.02 * x0, LAT + 0.015 * y0), (LON + 0.02 * x1, LAT + 0.015 * y1)])
        rows.append((len(rows) + 1, "street", line.buffer(0.0001, cap_style="flat")))
    return rows


def probe_points(rows, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform over the city and just beyond, on vertices, on edges and a hair off edges."""
    geoms = np.array([g for _i, _k, g in rows], dtype=object)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    pad = 0.1 * (x1 - x0)
    xs = [rng.uniform(x0 - pad, x1 + pad, n)]
    ys = [rng.uniform(y0 - pad, y1 + pad, n)]
    coords = shapely.get_coordinates(shapely.boundary(geoms))
    pick = coords[rng.integers(0, len(coords), n)]
    xs.append(pick[:, 0])
    ys.append(pick[:, 1])
    rings = shapely.boundary(geoms[rng.integers(0, len(geoms), n)])
    on = shapely.get_coordinates(shapely.line_interpolate_point(rings, rng.random(n), normalized=True))
    xs.append(on[:, 0])
    ys.append(on[:, 1])
    for eps in (1e-12, 1e-9):
        xs.append(on[:, 0] + rng.choice([-eps, 0.0, eps], n))
        ys.append(on[:, 1] + rng.choice([-eps, 0.0, eps], n))
    return np.concatenate(xs), np.concatenate(ys)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_sub=st.integers(2, 12), n_buildings=st.integers(0, 300))
def test_the_fast_path_answers_exactly_as_the_strtree(seed, n_sub, n_buildings):
    rows = random_city(seed, n_sub, n_buildings)
    index = LocateIndex.build(rows)
    xs, ys = probe_points(rows, np.random.default_rng(seed), 300)
    exact = [index.locate_exact(x, y) for x, y in zip(xs.tolist(), ys.tolist())]
    fast = [index.locate(x, y) for x, y in zip(xs.tolist(), ys.tolist())]
    assert fast == exact
    # A fresh index, queried in a batch first (cells are filled in another order), agrees too.
    assert LocateIndex.build(rows).locate_many(xs, ys) == exact


@settings(max_examples=50, deadline=None)
@given(
    lon=st.floats(LON - 0.06, LON + 0.06, allow_nan=False),
    lat=st.floats(LAT - 0.06, LAT + 0.06, allow_nan=False),
)
def test_any_point_near_the_nested_city(lon, lat):
    index = LocateIndex.build(nested_city())
    expected = {
        kind: i + 1 for i, kind in enumerate(KINDS) if square(HALF[kind]).covers(shapely.Point(lon, lat))
    }
    assert index.locate(lon, lat) == expected == index.locate_exact(lon, lat)


def test_locate_many_equals_locate_for_random_points():
    rows = random_city(7, 8, 400)
    index = LocateIndex.build(rows)
    rng = np.random.default_rng(1)
    xs, ys = probe_points(rows, rng, 2000)
    assert index.locate_many(xs, ys) == [index.locate(x, y) for x, y in zip(xs.tolist(), ys.tolist())]
    assert index.locate_many([], []) == []
    with pytest.raises(ValueError):
        index.locate_many([LON], [])


def test_past_its_memory_budget_the_index_still_answers_exactly(monkeypatch):
    import cogov.geo.locate as locate_module

    monkeypatch.setattr(locate_module, "_MAX_CELLS", 5)
    rows = random_city(11, 6, 200)
    index = LocateIndex.build(rows)
    xs, ys = probe_points(rows, np.random.default_rng(2), 200)
    assert index.locate_many(xs, ys) == [index.locate_exact(x, y) for x, y in zip(xs.tolist(), ys.tolist())]
    assert index._fills <= 5


def test_answers_are_fresh_dicts():
    index = LocateIndex.build(nested_city())
    first = index.locate(LON, LAT)
    first["building"] = -1
    assert index.locate(LON, LAT)["building"] == 8
