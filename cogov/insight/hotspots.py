"""The statistics behind hotspots, hours of the week, recurrence and broken-window warnings (热点统计).

Plain numpy/scipy over per-cell or per-hour aggregates — no Django, no database — so the maths is unit-tested
on its own and compared with PySAL's ``esda`` (tests/unit/test_hotspots.py).

Getis–Ord Gi* is computed exactly as ``esda.G_Local(y, w, star=True, transform='B')``: binary weights with the
unit itself included (w_ii = 1), n = the number of units, the sample mean and the population variance (divided
by n) of all values, and

    G*_i = Σ_j w_ij y_j / Σ_j y_j
    E[G*_i] = W_i / n                                    (W_i = Σ_j w_ij, the neighbourhood size)
    Var[G*_i] = W_i (n − W_i) / (n − 1) / n² · s² / ȳ²
    z_i = (G*_i − E[G*_i]) / √Var[G*_i]

``p`` is esda's ``p_norm``: the normal tail beyond |z| on one side (``norm.sf(|z|)``). The confidence levels
(hot99/hot95/hot90, cold…) are read off z with the two-sided critical values 2.576 / 1.960 / 1.645, as
ArcGIS's Hot Spot Analysis does; ``two_sided(p)`` gives the matching two-sided p-value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse, stats

#: Two-sided critical values of the standard normal for 99 %, 95 % and 90 % confidence.
Z99, Z95, Z90 = (float(stats.norm.isf(a / 2)) for a in (0.01, 0.05, 0.10))

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def binary_weights(neighbours: Sequence[Sequence[int]], n: int | None = None) -> sparse.csr_matrix:
    """The n×n binary weight matrix of neighbour lists (index lists), with the diagonal set to 1 (Gi*)."""
    n = len(neighbours) if n is None else n
    rows = np.repeat(np.arange(len(neighbours)), [len(nb) for nb in neighbours])
    cols = np.fromiter((j for nb in neighbours for j in nb), dtype=np.int64, count=len(rows))
    diag = np.arange(n)
    w = sparse.csr_matrix((np.ones(len(rows) + n), (np.concatenate([rows, diag]), np.concatenate([cols, diag]))),
                          shape=(n, n))
    w.data[:] = 1.0  # duplicates (a unit listing itself, or a neighbour twice) stay binary
    return w


def getis_ord_gi_star(values: Sequence[float] | np.ndarray,
                      neighbours: Sequence[Sequence[int]] | sparse.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Getis–Ord Gi* z-scores and their normal p-values (esda's ``Zs`` and ``p_norm``).

    ``neighbours[i]`` lists the indices of unit i's neighbours (itself may be listed or not: it is always
    included), or a ready binary sparse matrix (its diagonal is set to 1). Degenerate inputs (fewer than two
    units, all values equal, or a unit whose neighbourhood is the whole area) give z = 0, p = 0.5 instead of NaN.
    """
    y = np.asarray(values, dtype=float).ravel()
    n = len(y)
    if sparse.issparse(neighbours):
        w = sparse.csr_matrix(neighbours, dtype=float, copy=True)
        w.setdiag(1.0)
        w.data[:] = 1.0
    else:
        w = binary_weights(neighbours, n)  # type: ignore[arg-type]
    if n < 2 or y.sum() <= 0:
        return np.zeros(n), np.full(n, 0.5)
    mean = y.mean()
    var = (y**2).mean() - mean**2
    card = np.asarray(w.sum(axis=1)).ravel()
    g = (w @ y) / y.sum()
    expected = card / n
    variance = card * (n - card) / (n - 1) / n**2 * var / mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (g - expected) / np.sqrt(variance)
    z = np.where(np.isfinite(z) & (variance > 0), z, 0.0)
    return z, stats.norm.sf(np.abs(z))


def two_sided(p_one: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value from esda's one-tail ``p_norm``."""
    return np.minimum(1.0, 2.0 * np.asarray(p_one, dtype=float))


def gi_level(z: float) -> str:
    """'hot99' | 'hot95' | 'hot90' | 'cold99' | 'cold95' | 'cold90' | 'ns' by the two-sided critical values."""
    a = abs(z)
    side = "hot" if z > 0 else "cold"
    if a >= Z99:
        return side + "99"
    if a >= Z95:
        return side + "95"
    if a >= Z90:
        return side + "90"
    return "ns"


LEVEL_NAMES = {"hot99": "热点（99%）", "hot95": "热点（95%）", "hot90": "热点（90%）", "cold99": "冷点（99%）",
               "cold95": "冷点（95%）", "cold90": "冷点（90%）", "ns": "不显著"}


def benjamini_hochberg(p: Sequence[float] | np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg false discovery rate: (q-values, rejected at ``alpha``), in the input order."""
    p = np.asarray(p, dtype=float).ravel()
    m = len(p)
    if m == 0:
        return np.zeros(0), np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="mergesort")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q, q <= alpha


def ring_neighbours(n: int, k: int = 1) -> list[list[int]]:
    """Neighbours on a circle of n slots (±1…±k), e.g. the 168 hours of a week (Sunday 23h next to Monday 0h)."""
    return [sorted({(i + d) % n for d in range(-k, k + 1) if d}) for i in range(n)]


def rising_p(recent: Sequence[int] | np.ndarray, previous: Sequence[int] | np.ndarray) -> np.ndarray:
    """Conditional binomial test of a rising count (two equal windows, one-sided).

    Given n = recent + previous reports, equal rates mean recent ~ Binomial(n, ½); p = P(X ≥ recent).
    """
    r = np.asarray(recent, dtype=np.int64)
    n = r + np.asarray(previous, dtype=np.int64)
    return np.where(n > 0, stats.binom.sf(r - 1, np.maximum(n, 1), 0.5), 1.0)


def peak_window(counts: Sequence[float] | np.ndarray, width: int = 2) -> tuple[int, int, float]:
    """The busiest ``width`` consecutive hours of a 168-hour week profile: (weekday 0=周一, start hour, count).

    Windows may run past midnight into the next day (circularly); among equal sums the window whose first hour
    is busier wins (so reports all at 9 h give 09:00–11:00, not 08:00–10:00), then the earliest.
    """
    c = np.asarray(counts, dtype=float).ravel()
    if len(c) != 168:
        raise ValueError("需要 168 个小时的计数")
    sums = sum(np.roll(c, -d) for d in range(width))
    best = int(np.lexsort((np.arange(168), -c, -sums))[0])
    return best // 24, best % 24, float(sums[best])


def window_text(weekday: int, start_hour: int, width: int = 2) -> str:
    """'周三 09:00–11:00' (a window crossing midnight ends on the next day's hour)."""
    end = (start_hour + width) % 24
    return f"{WEEKDAYS[weekday]} {start_hour:02d}:00–{end:02d}:00"
