"""The locate index (定位索引): every unit of the governed city that contains a point, in memory.

Pure: shapely and numpy, no Django. Built from ``(unit_id, kind, geometry)`` rows; a process keeps one index per
geography version and builds a new one when the city's version moves on.

Two paths give the same answer:

- the exact path, :meth:`LocateIndex.locate_exact`: one STRtree query with the ``intersects`` predicate (a point
  on a boundary counts as inside), then per kind the unit with the smallest area (ties: the smallest id);
- the fast path, :meth:`LocateIndex.locate` and :meth:`LocateIndex.locate_many`: an adaptive grid over the
  city, filled lazily. The first point that falls in a cell classifies the units that may touch it (from the
  STRtree for a root cell, from the parent's candidates below): those containing the whole cell make its
  answer (a dict shared between cells), those whose boundary crosses it its candidates; a cell with more than
  a few candidates becomes 4 × 4 children, filled in turn when a point falls in them. Afterwards a lookup in
  that cell is a few integer operations, a copy of the answer and one GEOS point-in-polygon test per
  candidate (at most a handful). Building the index does no grid work, so it stays fast; the first lookups
  in each part of the city pay for their cells (tens of microseconds each, about twice an exact query).

Exactness of the grid: a unit joins a cell's answer only if it contains the cell's box grown by a margin
properly (no boundary point inside the grown box), and is dropped only if it misses the grown box; the margin
(a millionth of the cell, at least 1024 units in the last place of the coordinates) is far larger than the
rounding of the cell arithmetic, so every point that the arithmetic sends to a cell lies inside its grown box.
Everything else is a candidate and is tested exactly, with the same GEOS predicate as the exact path.

Threads: filling a cell builds it aside and publishes it with one list store, so concurrent lookups see either
nothing (and fill the same cell again, harmlessly) or the whole cell.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

KINDS = (
    "district",
    "subdistrict",
    "community",
    "station",
    "area",
    "street",
    "courtyard",
    "building",
)  # coarse → fine
_KIND_INDEX = {kind: i for i, kind in enumerate(KINDS)}

#: Children per side when a cell is split (4 × 4 = 16 children; a power of two keeps the arithmetic exact).
_FANOUT = 4
#: A leaf may keep at most this many candidates before it is split …
_MAX_CANDIDATES = 4
#: … unless it is this many levels below the root grid.
_MAX_DEPTH = 5
#: Cells in the root grid per indexed unit (at least 1, at most _MAX_ROOT_CELLS).
_ROOT_CELLS_PER_UNIT = 0.25
_MAX_ROOT_CELLS = 1 << 18
#: locate_many sorts the points by grid cells this many times finer than the root grid, from this many points.
_SORT_CELLS = 64
_SORT_FROM = 64
#: At most this many cells are filled (about half a kilobyte each); past that, lookups in cells not yet filled
#: take the exact path. Bounds the memory of a process that sees points from the whole city.
_MAX_CELLS = 250_000
#: Prepare geometries with more coordinates than this.
_PREPARE_FROM = 16

# shapely ≥ 2.1 has scalar fast paths (no numpy ufunc set-up per call); fall back to the public ufuncs.
_intersects_xy = getattr(shapely.lib, "intersects_xy_scalar", None) or (
    lambda geom, x, y: bool(shapely.intersects_xy(geom, x, y))
)
_intersects = getattr(shapely.lib, "intersects_scalar", None) or (lambda a, b: bool(shapely.intersects(a, b)))
_contains_properly = getattr(shapely.lib, "contains_properly_scalar", None) or (
    lambda a, b: bool(shapely.contains_properly(a, b))
)


def _to_geometry(value: Any) -> Any:
    """A shapely geometry from a shapely geometry, WKB (bytes, memoryview, hex), WKT or GeoJSON (str or dict)."""
    if isinstance(value, shapely.Geometry):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return shapely.from_wkb(bytes(value))
    if isinstance(value, dict):
        return shapely.geometry.shape(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            return shapely.from_geojson(text)
        if text and all(c in "0123456789abcdefABCDEF" for c in text[:16]) and len(text) % 2 == 0:
            return shapely.from_wkb(text)
        return shapely.from_wkt(text)
    raise TypeError(f"not a geometry: {type(value).__name__}")


class LocateIndex:
    """Every unit containing a point, from an STRtree (no database query per point).

    Build with :meth:`build`; then :meth:`locate` (one point), :meth:`locate_many` (arrays of points) and
    :meth:`bounds`. Its answers never change once built; threads may share it (see the module's notes).
    """

    version: int

    def __init__(self) -> None:
        # Everything is set by build(); the constructor exists for typing only.
        self.version = 0
        self._ids: list[int] = []
        self._kinds: list[str] = []
        self._geoms = np.empty(0, dtype=object)
        self._rank_unit = np.empty(0, dtype=np.int64)
        self._tree: shapely.STRtree | None = None
        self._bounds: tuple[float, float, float, float] | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, units: Iterable[tuple[int, str, object]], version: int = 0) -> LocateIndex:
        """Index ``(unit_id, kind, geometry)`` rows; geometry as shapely, WKB, WKT or GeoJSON. Empty ones are skipped."""
        ids: list[int] = []
        kinds: list[str] = []
        raw: list[object] = []
        for unit_id, kind, geometry in units:
            if kind not in _KIND_INDEX:
                raise ValueError(f"unknown unit kind {kind!r}; expected one of {KINDS}")
            if geometry is None:
                continue
            ids.append(int(unit_id))
            kinds.append(kind)
            raw.append(geometry)
        geoms = _parse_all(raw)
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not keep.all():
            idx = np.flatnonzero(keep)
            ids = [ids[i] for i in idx]
            kinds = [kinds[i] for i in idx]
            geoms = geoms[idx]

        self = cls()
        self.version = version
        self._ids = ids
        self._kinds = kinds
        self._geoms = geoms
        if not len(geoms):
            return self
        # Invalid polygons (self-crossing rings) give predicates without a stable meaning; repair them once.
        bad = ~shapely.is_valid(geoms)
        if bad.any():
            geoms[bad] = shapely.make_valid(geoms[bad])
        # Prepared geometries (an index of the edges) pay off for long rings only; small ones stay lean.
        shapely.prepare(geoms[shapely.get_num_coordinates(geoms) > _PREPARE_FROM])
        self._tree = shapely.STRtree(geoms)
        area = shapely.area(geoms)
        # Rank: position when sorted by (area, id); the smallest rank of a kind wins.
        order = np.lexsort((np.asarray(ids, dtype=np.int64), area))
        rank = np.empty(len(geoms), dtype=np.int64)
        rank[order] = np.arange(len(geoms))
        self._rank = rank
        self._rank_unit = order
        self._kind_code = np.fromiter((_KIND_INDEX[k] for k in kinds), dtype=np.int8, count=len(kinds))
        unit_bounds = shapely.bounds(geoms)
        self._bounds = (
            float(unit_bounds[:, 0].min()),
            float(unit_bounds[:, 1].min()),
            float(unit_bounds[:, 2].max()),
            float(unit_bounds[:, 3].max()),
        )
        self._init_grid(unit_bounds)
        return self

    def _init_grid(self, unit_bounds: np.ndarray) -> None:
        """The root grid of the fast path; its cells are filled when a point first falls in them."""
        n_units = len(self._geoms)
        x_min, y_min, x_max, y_max = self._bounds  # type: ignore[misc]
        width = max(x_max - x_min, 1e-9)
        height = max(y_max - y_min, 1e-9)
        target = min(max(n_units * _ROOT_CELLS_PER_UNIT, 1.0), _MAX_ROOT_CELLS)
        cell = math.sqrt(width * height / target)
        cell = max(cell, width / 4096, height / 4096)
        # A spare column and row, so that the rounding of the top edge still lands inside the grid.
        self._n_cols = int(width / cell) + 2
        self._n_rows = int(height / cell) + 2
        self._cell = cell
        self._scale = 1.0 / cell
        self._x0, self._y0 = x_min, y_min
        magnitude = max(abs(x_min), abs(x_max), abs(y_min), abs(y_max), 1.0)
        self._abs_margin = 1024 * math.ulp(magnitude)
        self._root: list[Any] = [None] * (self._n_cols * self._n_rows)
        self._bounds_list = [tuple(b) for b in unit_bounds.tolist()]
        self._none = n_units
        self._answer_cache: dict[tuple[int, ...], dict[str, int]] = {}
        self._geom_list = list(self._geoms)
        self._rank_list = self._rank.tolist()
        self._kind_list = self._kind_code.tolist()
        self._rank_unit_list = self._rank_unit.tolist()
        self._fills = 0

    def _fill(
        self, ci: int, cj: int, depth: int, base: tuple[int, ...] | None, parent: list[int] | None
    ) -> Any:
        """Classify the units that may touch one cell: a leaf ``(answer, candidates)``, or a node when crowded.

        Called the first time a point falls in the cell. A unit joins the answer only if it contains the cell
        grown by the margin properly; it is dropped only if it misses the grown cell; otherwise it is a candidate.
        """
        self._fills += 1
        size = self._cell / _FANOUT**depth
        margin = max(size * 1e-6, self._abs_margin)
        bx0 = self._x0 + ci * size - margin
        by0 = self._y0 + cj * size - margin
        bx1 = self._x0 + (ci + 1) * size + margin
        by1 = self._y0 + (cj + 1) * size + margin
        box = shapely.box(bx0, by0, bx1, by1)
        ub = self._bounds_list
        if parent is None:
            units = self._tree.query(box).tolist()  # type: ignore[union-attr]
            best = [self._none] * len(KINDS)
        else:
            units = [
                u
                for u in parent
                if ub[u][0] <= bx1 and ub[u][2] >= bx0 and ub[u][1] <= by1 and ub[u][3] >= by0
            ]
            best = list(base)  # type: ignore[arg-type]
        rank, kind, geoms = self._rank_list, self._kind_list, self._geom_list
        touching: list[int] = []
        for u in units:
            x0, y0, x1, y1 = ub[u]
            if x0 <= bx0 and y0 <= by0 and x1 >= bx1 and y1 >= by1 and _contains_properly(geoms[u], box):
                best[kind[u]] = min(best[kind[u]], rank[u])
            elif _intersects(geoms[u], box):
                touching.append(u)
        # A candidate larger than the cell's own unit of its kind can never win.
        cands = [u for u in touching if rank[u] < best[kind[u]]]
        if len(cands) > _MAX_CANDIDATES and depth < _MAX_DEPTH:
            node: list[Any] = [None] * (_FANOUT * _FANOUT)
            node.append((ci, cj, depth, tuple(best), cands))
            return node
        key = tuple(best)
        answer = self._answer_cache.get(key)
        if answer is None:
            ids, ru, none = self._ids, self._rank_unit_list, self._none
            answer = {KINDS[k]: ids[ru[r]] for k, r in enumerate(best) if r != none}
            self._answer_cache[key] = answer
        # Largest first: a later hit (smaller) overrides an earlier one of the same kind.
        cands.sort(key=rank.__getitem__, reverse=True)
        kinds, ids = self._kinds, self._ids
        return (answer, tuple((geoms[u], kinds[u], ids[u]) for u in cands))

    def _child(self, node: list[Any], k: int) -> Any:
        """Fill child k of a node."""
        ci, cj, depth, base, cands = node[-1]
        child = self._fill(ci * _FANOUT + k // _FANOUT, cj * _FANOUT + k % _FANOUT, depth + 1, base, cands)
        node[k] = child
        return child

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        """How many units are indexed."""
        return len(self._ids)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of everything indexed, or None when nothing is."""
        return self._bounds

    def locate(self, lon: float, lat: float) -> dict[str, int]:
        """Kind → unit id of every unit containing the point (on the boundary counts); smallest area per kind."""
        b = self._bounds
        if b is None or not (b[0] <= lon <= b[2] and b[1] <= lat <= b[3]):
            return {}  # also for NaN
        v = (lon - self._x0) * self._scale
        w = (lat - self._y0) * self._scale
        i, j = int(v), int(w)
        cell = self._root[i * self._n_rows + j]
        if cell is None:
            if self._fills >= _MAX_CELLS:  # memory budget spent: answer exactly, store nothing
                return self.locate_exact(lon, lat)
            cell = self._root[i * self._n_rows + j] = self._fill(i, j, 0, None, None)
        f = 1
        while cell.__class__ is list:
            f *= _FANOUT
            k = (int(v * f) % _FANOUT) * _FANOUT + int(w * f) % _FANOUT
            nxt = cell[k]
            if nxt is None:
                if self._fills >= _MAX_CELLS:
                    return self.locate_exact(lon, lat)
                nxt = self._child(cell, k)
            cell = nxt
        answer, cands = cell
        result = answer.copy()
        for geom, kind, unit_id in cands:
            if _intersects_xy(geom, lon, lat):
                result[kind] = unit_id
        return result

    def locate_exact(self, lon: float, lat: float) -> dict[str, int]:
        """The reference answer without the grid: one STRtree query (slower; for checks and tests)."""
        if self._tree is None:
            return {}
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return self._pick(hits.tolist())

    def _pick(self, hits: Sequence[int]) -> dict[str, int]:
        """Per kind the unit with the smallest rank among `hits` (unit positions)."""
        best: dict[str, int] = {}
        rank = self._rank
        for u in hits:
            kind = self._kinds[u]
            cur = best.get(kind)
            if cur is None or rank[u] < rank[cur]:
                best[kind] = u
        return {kind: self._ids[u] for kind, u in best.items()}

    def locate_many(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> list[dict[str, int]]:
        """:meth:`locate` for arrays of points; one fresh dict per point, in order.

        The points are visited in grid order (one sort), so that neighbours share cells, candidates and
        geometries while these are in the processor's cache; each answer equals :meth:`locate`'s.
        """
        xs = np.asarray(lons, dtype=np.float64).ravel()
        ys = np.asarray(lats, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError("lons and lats differ in length")
        loc = self.locate
        if self._bounds is None or len(xs) < _SORT_FROM:
            return [loc(x, y) for x, y in zip(xs.tolist(), ys.tolist())]
        x_min, y_min, x_max, y_max = self._bounds
        inside = (xs >= x_min) & (xs <= x_max) & (ys >= y_min) & (ys <= y_max)  # NaN is outside
        out: list[dict[str, int]] = [{} if not ok else None for ok in inside.tolist()]  # type: ignore[misc]
        idx = np.flatnonzero(inside)
        fine = self._scale * _SORT_CELLS
        key = np.floor((xs[idx] - self._x0) * fine) * (self._n_rows * _SORT_CELLS) + np.floor(
            (ys[idx] - self._y0) * fine
        )
        order = idx[np.argsort(key, kind="stable")]
        for i, x, y in zip(order.tolist(), xs[order].tolist(), ys[order].tolist()):
            out[i] = loc(x, y)
        return out


def _parse_all(raw: list[object]) -> np.ndarray:
    """Geometries from mixed inputs; WKB bytes in bulk (the common case: rows from the database)."""
    out = np.empty(len(raw), dtype=object)
    wkb_idx = [i for i, g in enumerate(raw) if isinstance(g, bytes)]
    if wkb_idx:
        out[wkb_idx] = shapely.from_wkb(np.array([raw[i] for i in wkb_idx], dtype=object))
    for i, g in enumerate(raw):
        if not isinstance(g, bytes):
            out[i] = _to_geometry(g)
    return out
