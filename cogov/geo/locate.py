"""The locate index (定位索引): every unit of the governed city that contains a point, in memory.

Pure: shapely and numpy, no Django. Built from ``(unit_id, kind, geometry)`` rows; a process keeps one index per
geography version and rebuilds when the city's version moves on.

Two paths give the same answer:

- the exact path, :meth:`LocateIndex.locate_exact`: one STRtree query with the ``intersects`` predicate (a point
  on a boundary counts as inside), then per kind the unit with the smallest area (ties: the smallest id);
- the fast path, :meth:`LocateIndex.locate` and :meth:`LocateIndex.locate_many`: an adaptive grid built once
  over the city. Every leaf cell knows the units that contain the whole cell (its answer, shared between cells)
  and the few units whose boundary crosses it (its candidates). A lookup is a few integer operations to find
  the leaf, a copy of the leaf's answer and one GEOS point-in-polygon test per candidate.

Exactness of the grid: a unit is put in a cell's answer only if it contains the cell's box grown by a margin
properly (no boundary point inside the grown box), and dropped only if it does not intersect the grown box; the
margin is far larger than the rounding of the cell arithmetic, so every point that the arithmetic sends to a
cell lies inside the grown box. Everything else is a candidate and is tested exactly.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

KINDS = ("district", "subdistrict", "community", "station", "area", "street", "courtyard", "building")  # coarse → fine
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

# shapely ≥ 2.1 has scalar fast paths (no numpy ufunc set-up per call); fall back to the public ufunc.
_intersects_xy = getattr(shapely.lib, "intersects_xy_scalar", None) or (
    lambda geom, x, y: bool(shapely.intersects_xy(geom, x, y))
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
    :meth:`bounds`. An index never changes once built, so threads may share it.
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
        shapely.prepare(geoms)
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
        self._build_grid(unit_bounds)
        return self

    def _build_grid(self, unit_bounds: np.ndarray) -> None:
        """The adaptive grid of the fast path, level by level with array operations."""
        n_units = len(self._geoms)
        geoms, rank, kind_code = self._geoms, self._rank, self._kind_code
        x_min, y_min, x_max, y_max = self._bounds  # type: ignore[misc]
        width = max(x_max - x_min, 1e-9)
        height = max(y_max - y_min, 1e-9)
        target = min(max(n_units * _ROOT_CELLS_PER_UNIT, 1.0), _MAX_ROOT_CELLS)
        cell = math.sqrt(width * height / target)
        cell = max(cell, width / 4096, height / 4096)
        # Root grid: a spare column and row so that the rounding of the top edge stays inside.
        n_cols = int(width / cell) + 2
        n_rows = int(height / cell) + 2
        magnitude = max(abs(x_min), abs(x_max), abs(y_min), abs(y_max), 1.0)
        abs_margin = 1024 * math.ulp(magnitude)
        none = np.int64(n_units)  # "no unit of this kind" sorts after every real rank
        fan = _FANOUT

        # Cells of the current level: integer coordinates, and the base (best rank per kind) known so far.
        ci = np.repeat(np.arange(n_cols, dtype=np.int64), n_rows)
        cj = np.tile(np.arange(n_rows, dtype=np.int64), n_cols)
        base = np.full((len(ci), len(KINDS)), none, dtype=np.int64)
        size = cell
        boxes = _boxes(x_min, y_min, size, ci, cj, max(size * 1e-6, abs_margin))
        pair_cell, pair_unit = self._tree.query(shapely.box(*boxes.T))  # type: ignore[union-attr]

        level_child_base: list[np.ndarray] = []
        level_leaf_base: list[np.ndarray] = []
        level_leaf_cands: list[tuple[np.ndarray, np.ndarray]] = []
        level_sizes: list[int] = []
        depth = 0
        while True:
            n_cells = len(ci)
            margin = max(size * 1e-6, abs_margin)
            boxes = _boxes(x_min, y_min, size, ci, cj, margin)
            # Numeric prefilter: bounding boxes that miss the grown cell cannot touch it.
            pb = boxes[pair_cell]
            ub = unit_bounds[pair_unit]
            hit = (ub[:, 0] <= pb[:, 2]) & (ub[:, 2] >= pb[:, 0]) & (ub[:, 1] <= pb[:, 3]) & (ub[:, 3] >= pb[:, 1])
            pair_cell, pair_unit, pb, ub = pair_cell[hit], pair_unit[hit], pb[hit], ub[hit]
            # A unit can contain the cell only if its bounding box does.
            maybe_in = (ub[:, 0] <= pb[:, 0]) & (ub[:, 1] <= pb[:, 1]) & (ub[:, 2] >= pb[:, 2]) & (ub[:, 3] >= pb[:, 3])
            inside = np.zeros(len(pair_cell), dtype=bool)
            keep = np.ones(len(pair_cell), dtype=bool)
            if maybe_in.any():
                idx = np.flatnonzero(maybe_in)
                box_geoms = shapely.box(*pb[idx].T)
                props = shapely.contains_properly(geoms[pair_unit[idx]], box_geoms)
                inside[idx[props]] = True
                rest = idx[~props]
                if len(rest):
                    keep[rest] = shapely.intersects(geoms[pair_unit[rest]], box_geoms[~props])
            # Units containing the whole cell improve its base.
            if inside.any():
                cu = pair_unit[inside]
                np.minimum.at(base, (pair_cell[inside], kind_code[cu]), rank[cu])
            cand = keep & ~inside
            pair_cell, pair_unit = pair_cell[cand], pair_unit[cand]
            # A candidate larger than the cell's own unit of that kind can never win.
            useful = rank[pair_unit] < base[pair_cell, kind_code[pair_unit]]
            pair_cell, pair_unit = pair_cell[useful], pair_unit[useful]
            counts = np.bincount(pair_cell, minlength=n_cells)
            split = (counts > _MAX_CANDIDATES) if depth < _MAX_DEPTH else np.zeros(n_cells, dtype=bool)
            n_split = int(split.sum())
            child_base = np.full(n_cells, -1, dtype=np.int64)
            child_base[split] = np.arange(n_split, dtype=np.int64) * fan * fan  # relative to the next level
            level_child_base.append(child_base)
            level_sizes.append(n_cells)
            leaf_pairs = ~split[pair_cell]
            level_leaf_base.append(base)
            level_leaf_cands.append((pair_cell[leaf_pairs], pair_unit[leaf_pairs]))
            if not n_split:
                break
            # Children: fan × fan per split cell, inheriting the base; their pairs are the parent's candidates.
            split_idx = np.flatnonzero(split)
            sub = np.arange(fan * fan, dtype=np.int64)
            ci = (ci[split_idx, None] * fan + sub[None, :] // fan).ravel()
            cj = (cj[split_idx, None] * fan + sub[None, :] % fan).ravel()
            base = np.repeat(base[split_idx], fan * fan, axis=0)
            parent_pos = np.full(n_cells, -1, dtype=np.int64)
            parent_pos[split_idx] = np.arange(n_split, dtype=np.int64)
            sp = ~leaf_pairs
            p_cell = parent_pos[pair_cell[sp]]
            p_unit = pair_unit[sp]
            pair_cell = (p_cell[:, None] * fan * fan + sub[None, :]).ravel()
            pair_unit = np.repeat(p_unit, fan * fan)
            size = size / fan
            depth += 1

        self._assemble(level_sizes, level_child_base, level_leaf_base, level_leaf_cands)
        self._x0, self._y0 = x_min, y_min
        self._scale = 1.0 / cell
        self._n_rows = n_rows
        self._n_cols = n_cols

    def _assemble(self, sizes, child_bases, bases, cands) -> None:
        """Flatten the levels into global arrays: child pointers, answer per leaf, candidates per leaf."""
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        total = int(offsets[-1])
        child = np.concatenate(
            [np.where(cb >= 0, cb + offsets[d + 1] if d + 1 < len(sizes) else cb, -1) for d, cb in enumerate(child_bases)]
        )
        all_base = np.concatenate(bases)
        is_leaf = child < 0
        # Answers shared between leaves: unique rows of the per-kind best ranks.
        uniq, inverse = np.unique(all_base[is_leaf], axis=0, return_inverse=True)
        answer_id = np.full(total, -1, dtype=np.int64)
        answer_id[is_leaf] = inverse.ravel()
        n_units = len(self._geoms)
        ids = self._ids
        rank_unit = self._rank_unit.tolist()
        answers: list[dict[str, int]] = []
        for row in uniq.tolist():
            answers.append({KINDS[k]: ids[rank_unit[r]] for k, r in enumerate(row) if r != n_units})
        # Candidates: per leaf, largest first, so that a later hit (smaller) overrides an earlier one.
        c_node = np.concatenate([c + offsets[d] for d, (c, _u) in enumerate(cands)])
        c_unit = np.concatenate([u for (_c, u) in cands])
        order = np.lexsort((-self._rank[c_unit], c_node))
        c_node, c_unit = c_node[order], c_unit[order]
        ptr = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(np.bincount(c_node, minlength=total), out=ptr[1:])

        self._node_child = array("q", child.astype(np.int64).tobytes())
        self._node_answer = array("q", answer_id.tobytes())
        self._node_ptr = array("q", ptr.tobytes())
        self._answers = answers
        geoms_list = list(self._geoms)
        unit_list = c_unit.tolist()
        self._cand_geom = [geoms_list[u] for u in unit_list]
        self._cand_kind = [self._kinds[u] for u in unit_list]
        self._cand_id = [ids[u] for u in unit_list]
        # numpy views for the batched path
        self._np_child = child
        self._np_answer = answer_id
        self._np_ptr = ptr
        self._np_cand_unit = c_unit
        self._n_nodes = total

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
        node = int(v) * self._n_rows + int(w)
        child = self._node_child
        nxt = child[node]
        if nxt >= 0:
            f = 1
            while nxt >= 0:
                f *= _FANOUT
                node = nxt + (int(v * f) % _FANOUT) * _FANOUT + int(w * f) % _FANOUT
                nxt = child[node]
        result = self._answers[self._node_answer[node]].copy()
        ptr = self._node_ptr
        start, end = ptr[node], ptr[node + 1]
        if start != end:
            geom, kind, ids = self._cand_geom, self._cand_kind, self._cand_id
            for k in range(start, end):
                if _intersects_xy(geom[k], lon, lat):
                    result[kind[k]] = ids[k]
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

    def locate_many(self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray) -> list[dict[str, int]]:
        """:meth:`locate` for arrays of points, with array operations; one dict per point, in order."""
        xs = np.asarray(lons, dtype=np.float64).ravel()
        ys = np.asarray(lats, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError("lons and lats differ in length")
        n = len(xs)
        b = self._bounds
        if b is None or n == 0:
            return [{} for _ in range(n)]
        ok = (xs >= b[0]) & (xs <= b[2]) & (ys >= b[1]) & (ys <= b[3])  # NaN fails too
        idx = np.flatnonzero(ok)
        out: list[dict[str, int]] = [{} for _ in range(n)] if len(idx) < n else []
        if not len(idx):
            return out
        x, y = xs[idx], ys[idx]
        v = (x - self._x0) * self._scale
        w = (y - self._y0) * self._scale
        node = v.astype(np.int64) * self._n_rows + w.astype(np.int64)
        child = self._np_child
        nxt = child[node]
        f = 1
        deep = np.flatnonzero(nxt >= 0)
        while len(deep):
            f *= _FANOUT
            node[deep] = (
                nxt[deep]
                + ((v[deep] * f).astype(np.int64) % _FANOUT) * _FANOUT
                + (w[deep] * f).astype(np.int64) % _FANOUT
            )
            nxt_deep = child[node[deep]]
            nxt[deep] = nxt_deep
            deep = deep[nxt_deep >= 0]
        answers = self._answers
        found = [answers[a].copy() for a in self._np_answer[node].tolist()]
        start = self._np_ptr[node]
        count = self._np_ptr[node + 1] - start
        has = np.flatnonzero(count)
        if len(has):
            c = count[has]
            point = np.repeat(has, c)
            first = np.repeat(start[has] - np.cumsum(c) + c, c)
            k = first + np.arange(len(point))
            hit = shapely.intersects_xy(self._geoms[self._np_cand_unit[k]], x[point], y[point])
            kind, ids = self._cand_kind, self._cand_id
            for p, kk in zip(point[hit].tolist(), k[hit].tolist()):
                found[p][kind[kk]] = ids[kk]
        if len(idx) == n:
            return found
        for i, res in zip(idx.tolist(), found):
            out[i] = res
        return out


def _boxes(x0: float, y0: float, size: float, ci: np.ndarray, cj: np.ndarray, margin: float) -> np.ndarray:
    """Grown boxes (minx, miny, maxx, maxy) of the cells with integer coordinates (ci, cj) of the given size."""
    out = np.empty((len(ci), 4))
    out[:, 0] = x0 + ci * size - margin
    out[:, 1] = y0 + cj * size - margin
    out[:, 2] = x0 + (ci + 1) * size + margin
    out[:, 3] = y0 + (cj + 1) * size + margin
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
