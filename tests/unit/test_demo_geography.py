"""The demo city's geography (青岛市辖区): real districts and sub-districts, made-up units that nest and tile."""

from __future__ import annotations

import csv
import time
from collections import Counter, defaultdict

import pytest
import shapely

from cogov.demo.geography import DATA_DIR, KINDS, UnitSpec, build_geography

QINGDAO = {
    "370202": "市南区",
    "370203": "市北区",
    "370211": "黄岛区",
    "370212": "崂山区",
    "370213": "李沧区",
    "370214": "城阳区",
    "370215": "即墨区",
    "370281": "胶州市",
    "370283": "平度市",
    "370285": "莱西市",
}
TOWNS_KEPT = {"古岘镇", "仁兆镇", "南村镇", "姜山镇", "夏格庄镇", "院上镇", "日庄镇", "南墅镇"}
PARENT_KIND = {
    "subdistrict": "district",
    "community": "subdistrict",
    "station": "community",
    "area": "station",
    "street": "station",
    "courtyard": "station",
    "building": "courtyard",
}
TILING_KINDS = ("subdistrict", "community", "station", "area")
# 1e-12 square degrees is about 0.01 m² at Qingdao's latitude: float noise, not geometry.
NOISE = 1e-12


@pytest.fixture(scope="module")
def small() -> list[UnitSpec]:
    return build_geography(seed=2026, scale=0.1)


@pytest.fixture(scope="module")
def full() -> tuple[list[UnitSpec], float]:
    started = time.perf_counter()
    units = build_geography(seed=2026, scale=1.0)
    return units, time.perf_counter() - started


def children_of(units: list[UnitSpec]) -> dict[str, list[UnitSpec]]:
    out: dict[str, list[UnitSpec]] = defaultdict(list)
    for unit in units:
        if unit.parent_code:
            out[unit.parent_code].append(unit)
    return out


def test_the_ten_real_districts_with_their_codes_and_names(small):
    districts = {u.code: u.name for u in small if u.kind == "district"}
    assert districts == QINGDAO
    assert all(u.parent_code is None for u in small if u.kind == "district")


def test_sub_districts_are_every_real_jiedao_and_a_few_towns_of_county_cities(small):
    with open(DATA_DIR / "qingdao_subdistricts.csv", encoding="utf-8") as f:
        real = {row["code"]: (row["name"], row["areaCode"]) for row in csv.DictReader(f)}
    subs = [u for u in small if u.kind == "subdistrict"]
    assert all(real[u.code] == (u.name, u.parent_code) for u in subs)
    jiedao = {code for code, (name, _) in real.items() if name.endswith("街道")}
    assert jiedao <= {u.code for u in subs}
    assert {u.name for u in subs if not u.name.endswith("街道")} == TOWNS_KEPT
    assert len(subs) == 98 + len(TOWNS_KEPT)


def test_codes_are_unique_and_nest_in_the_parent_code(small):
    assert len({u.code for u in small}) == len(small)
    by_code = {u.code: u for u in small}
    for unit in small:
        if unit.kind == "district":
            assert len(unit.code) == 6
            continue
        parent = by_code[unit.parent_code]
        assert parent.kind == PARENT_KIND[unit.kind]
        assert unit.code.startswith(parent.code) and len(unit.code) > len(parent.code)


def test_parents_come_before_children(small):
    seen: set[str] = set()
    for unit in small:
        assert unit.parent_code is None or unit.parent_code in seen
        seen.add(unit.code)


def test_every_kind_is_present_and_every_parent_has_each_kind_of_child(small):
    assert set(Counter(u.kind for u in small)) == set(KINDS)
    children = children_of(small)
    for unit in small:
        expected = {kind for kind, parent in PARENT_KIND.items() if parent == unit.kind}
        assert {c.kind for c in children[unit.code]} == expected, unit


def test_geometries_are_valid_non_empty_polygons(small):
    geometries = [u.geometry for u in small]
    assert all(shapely.is_valid(geometries))
    assert not any(shapely.is_empty(geometries))
    assert {g.geom_type for g in geometries} <= {"Polygon", "MultiPolygon"}
    assert min(shapely.area(geometries)) > 0


def test_every_unit_lies_within_its_parent(small):
    by_code = {u.code: u for u in small}
    children = [u for u in small if u.parent_code]
    parents = [by_code[u.parent_code].geometry for u in children]
    outside = shapely.area(shapely.difference([u.geometry for u in children], parents))
    worst = max(zip(outside, (u.code for u in children), strict=True))
    assert worst[0] < NOISE, worst


def test_sub_districts_communities_stations_and_areas_tile_their_parent(small):
    by_code = {u.code: u for u in small}
    for parent_code, kids in children_of(small).items():
        parent_area = by_code[parent_code].geometry.area
        for kind in TILING_KINDS:
            tiles = [k.geometry for k in kids if k.kind == kind]
            if not tiles:
                continue
            union = shapely.union_all(tiles).area
            assert sum(t.area for t in tiles) == pytest.approx(union, rel=1e-9), (parent_code, kind)
            assert union == pytest.approx(parent_area, rel=1e-9), (parent_code, kind)


def test_sibling_sub_districts_do_not_overlap(small):
    subs = [u.geometry for u in small if u.kind == "subdistrict"]
    tree = shapely.STRtree(subs)
    left, right = tree.query(subs, predicate="intersects")
    pairs = left < right
    overlaps = shapely.area(shapely.intersection(tree.geometries[left[pairs]], tree.geometries[right[pairs]]))
    assert overlaps.max() < NOISE


def test_courtyards_keep_apart_and_so_do_buildings(small):
    for kids in children_of(small).values():
        for kind in ("courtyard", "building"):
            shapes = [k.geometry for k in kids if k.kind == kind]
            for i, a in enumerate(shapes):
                assert all(not a.intersects(b) for b in shapes[i + 1 :])


def test_names_read_like_qingdao(small):
    by_code = {u.code: u for u in small}
    communities = [u.name for u in small if u.kind == "community"]
    assert all(n.endswith("社区") for n in communities)
    assert len(set(communities)) == len(communities)
    assert "湛山社区" in communities  # a sub-district's first community takes its name
    for unit in small:
        parent = by_code.get(unit.parent_code or "")
        if unit.kind == "station":
            assert unit.name.startswith(parent.name) and unit.name.endswith("城市治理服务站")
        elif unit.kind == "area":
            assert unit.name.endswith("区片") and "第" in unit.name
        elif unit.kind == "street":
            assert unit.name[-1] in "路街巷"
        elif unit.kind == "courtyard":
            assert unit.name.endswith(("小区", "苑", "花园", "家园"))
        elif unit.kind == "building":
            assert unit.name.endswith("号楼")


def test_the_same_seed_builds_the_same_city_and_another_seed_another(small):
    again = build_geography(seed=2026, scale=0.1)
    assert [(u.kind, u.code, u.name, u.parent_code) for u in again] == [
        (u.kind, u.code, u.name, u.parent_code) for u in small
    ]
    assert all(a.geometry.equals_exact(b.geometry, 0) for a, b in zip(again, small, strict=True))
    other = {u.code: u.geometry for u in build_geography(seed=7, scale=0.1)}
    subs = [u for u in small if u.kind == "subdistrict"]
    assert sum(not other[u.code].equals(u.geometry) for u in subs) > len(subs) / 2


def test_progress_reports_every_sub_district():
    calls = []
    units = build_geography(scale=0.05, progress=lambda step, done, total: calls.append((step, done, total)))
    n_subs = sum(u.kind == "subdistrict" for u in units)
    assert calls[0] == ("districts", 10, 10)
    assert calls[-1] == ("subdistricts", n_subs, n_subs)
    assert [c[1] for c in calls[1:]] == list(range(1, n_subs + 1))


def test_full_scale_matches_the_reference_city_ratios(full):
    units, seconds = full
    n = Counter(u.kind for u in units)
    assert n["district"] == 10 and n["subdistrict"] == 106
    # Reference city: 947 communities, 1,152 stations (1.22 per community).
    assert 2.7 <= n["community"] / n["subdistrict"] <= 3.3
    assert 1.1 <= n["station"] / n["community"] <= 1.35
    assert 1.8 <= n["area"] / n["station"] <= 2.2
    assert 2.7 <= n["street"] / n["station"] <= 3.3
    assert 3.5 <= n["courtyard"] / n["station"] <= 4.2
    buildings = Counter(u.parent_code for u in units if u.kind == "building")
    assert set(buildings.values()) <= {2, 3, 4, 5}


def test_scale_multiplies_the_count_of_every_kind_below_sub_districts(full):
    units, _ = full
    half = Counter(u.kind for u in build_geography(scale=0.5))
    n = Counter(u.kind for u in units)
    assert half["subdistrict"] == n["subdistrict"]
    for kind in KINDS[2:]:
        assert half[kind] / n[kind] == pytest.approx(0.5, abs=0.06), kind
