"""Hotspot maths (cogov/insight/hotspots.py) against PySAL's esda, and its small helpers."""

from __future__ import annotations

import warnings

import h3
import numpy as np
import pytest

from cogov.insight import hotspots as H


def _city_cells(seed: int = 7):
    """A few hundred res-9 cells around 市南区 with Poisson counts and a planted hot cluster."""
    rng = np.random.default_rng(seed)
    centre = h3.latlng_to_cell(36.067, 120.383, 9)
    cells = sorted(h3.grid_disk(centre, 9))
    rng.shuffle(cells)
    cells = cells[:200]
    index = {c: i for i, c in enumerate(cells)}
    neighbours = [[index[d] for d in h3.grid_disk(c, 1) if d in index and d != c] for c in cells]
    y = rng.poisson(3.0, len(cells)).astype(float)
    for d in h3.grid_disk(centre, 1):
        if d in index:
            y[index[d]] += 25
    return cells, neighbours, y


@pytest.mark.parametrize("seed", [7, 11])
def test_gi_star_equals_esda(seed):
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    cells, neighbours, y = _city_cells(seed)
    w = libpysal.weights.W({i: nb for i, nb in enumerate(neighbours)}, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(y, w, star=True, transform="B", permutations=0)
    z, p = H.getis_ord_gi_star(y, neighbours)
    np.testing.assert_allclose(z, g.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p, g.p_norm, rtol=0, atol=1e-12)
    # listing the unit itself among its neighbours changes nothing (Gi*: self always included)
    z2, _ = H.getis_ord_gi_star(y, [nb + [i] for i, nb in enumerate(neighbours)])
    np.testing.assert_allclose(z2, z, atol=1e-12)


def test_planted_cluster_is_hot_and_far_cells_are_not():
    cells, neighbours, y = _city_cells()
    z, p = H.getis_ord_gi_star(y, neighbours)
    centre = cells.index(h3.latlng_to_cell(36.067, 120.383, 9))
    assert H.gi_level(z[centre]) == "hot99"
    q, reject = H.benjamini_hochberg(H.two_sided(p))
    assert reject[centre]
    assert (np.array([H.gi_level(v) for v in z]) == "hot99").sum() < 30


def test_degenerate_inputs_give_zero_not_nan():
    z, p = H.getis_ord_gi_star([2, 2, 2, 2], [[1], [0, 2], [1, 3], [2]])
    assert (z == 0).all() and (p == 0.5).all()
    z, p = H.getis_ord_gi_star([5], [[]])
    assert z.tolist() == [0.0] and p.tolist() == [0.5]
    z, p = H.getis_ord_gi_star([0, 0, 0], [[1], [0], []])
    assert (z == 0).all()


def test_levels_use_two_sided_critical_values():
    assert H.gi_level(2.6) == "hot99" and H.gi_level(2.0) == "hot95" and H.gi_level(1.7) == "hot90"
    assert H.gi_level(1.6) == "ns" and H.gi_level(-2.0) == "cold95" and H.gi_level(-3) == "cold99"
    assert H.two_sided(0.025).item() == pytest.approx(0.05)


def test_benjamini_hochberg_matches_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    q, reject = H.benjamini_hochberg(p, alpha=0.05)
    # sorted p: .005 .01 .03 .04 .5 → p·m/rank: .025 .025 .05 .05 .5
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.5])
    assert reject.tolist() == [True, True, True, True, False]
    assert H.benjamini_hochberg([])[1].size == 0


def test_hour_ring_wraps_the_week_and_finds_the_peak():
    ring = H.ring_neighbours(168)
    assert ring[0] == [1, 167] and ring[167] == [0, 166]
    counts = np.full(168, 10.0)
    counts[2 * 24 + 9: 2 * 24 + 12] = 60  # 周三 09–12
    z, _ = H.getis_ord_gi_star(counts, ring)
    assert H.gi_level(z[2 * 24 + 10]) == "hot99" and H.gi_level(z[5 * 24]) == "ns"
    day, hour, total = H.peak_window(counts, 2)
    assert (day, hour, total) == (2, 9, 120.0)
    assert H.window_text(day, hour) == "周三 09:00–11:00"
    assert H.window_text(6, 23) == "周日 23:00–01:00"
    with pytest.raises(ValueError):
        H.peak_window([1, 2, 3])


def test_rising_p_is_a_one_sided_binomial():
    p = H.rising_p([8, 3, 0], [1, 3, 0])
    assert p[0] == pytest.approx(sum(__import__("math").comb(9, k) for k in (8, 9)) / 2**9)
    assert p[1] > 0.5 and p[2] == 1.0


def test_peak_window_prefers_the_window_starting_at_the_busy_hour():
    counts = np.zeros(168)
    counts[2 * 24 + 9] = 12
    assert H.peak_window(counts, 2)[:2] == (2, 9)
