"""Hotspots, hours, recurrence, broken windows and the patrol list on a synthetic DuckDB store (no Django)."""

from __future__ import annotations

import datetime as dt

import duckdb
import h3
import numpy as np
import pytest

from cogov.insight import spatial, store

CITY = 7
TODAY = dt.date(2026, 3, 2)  # a Monday
WEST, EAST = 101, 102


def _centre(lat: float, lon: float) -> tuple[float, float]:
    """The centre of the res-9 cell of a point: planted cases jittered around it stay in that cell."""
    return h3.cell_to_latlng(h3.latlng_to_cell(lat, lon, 9))


HOT = _centre(36.0800, 120.3700)     # planted hotspot (west station), 周三 9 时
RECUR = (36.0600, 120.4000)          # planted recurrence of category B (east station)
RISING = _centre(36.0500, 120.3600)  # small problems piling up (west)
FLAT = _centre(36.0900, 120.4100)    # as many small problems as before (east)

CATS = {"A": (1, "A", "占道经营", "matter", "09"), "B": (2, "B", "井盖破损", "component", "01"),
        "C": (3, "C", "乱贴小广告", "matter", "07")}


def insert_cases(con, rows: list[dict]) -> None:
    """Insert cases given as dicts (only the columns that matter; the rest get plain defaults)."""
    start = con.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
    cols: dict[str, list] = {name: [] for name in
                             ("id", "city_id", "number", "category_id", "category_code", "category_name",
                              "category_kind", "major_code", "urgency", "lon", "lat", "community_id", "station_id",
                              "state", "reported_at", "closed_at", "moderation", "merged_into_id", "unit_path")}
    for k, r in enumerate(rows, start + 1):
        cid, code, name, kind, major = CATS[r.get("cat", "A")]
        closed = r.get("closed_at")
        vals = dict(id=k, city_id=r.get("city", CITY), number=f"N{k}", category_id=cid, category_code=code,
                    category_name=name, category_kind=kind, major_code=major, urgency=r.get("urgency", "normal"),
                    lon=r["lon"], lat=r["lat"], station_id=r.get("station", WEST if r["lon"] < 120.385 else EAST),
                    community_id=r.get("community", 201 if r["lon"] < 120.385 else 202),
                    state=r.get("state", "closed" if closed else "accepted"), reported_at=r["at"], closed_at=closed,
                    moderation=r.get("moderation", "ok"), merged_into_id=r.get("merged_into"),
                    unit_path=r.get("path", ""))
        for name_, v in vals.items():
            cols[name_].append(v)
    names = list(cols)
    select = ", ".join(f"unnest(${i + 1}) AS {n}" for i, n in enumerate(names))
    con.execute(f"""INSERT INTO cases BY NAME SELECT *, '' AS source, NULL::INTEGER AS district_id,
                    NULL::INTEGER AS subdistrict_id, NULL::INTEGER AS handler_unit_id, 'community' AS level,
                    'community' AS max_level, 0 AS rework_count, 0 AS return_count, 0 AS extension_count,
                    '' AS rating FROM (SELECT {select})""", [cols[n] for n in names])


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute)


def _jitter(rng, point, metres=30.0):
    return point[0] + rng.uniform(-1, 1) * metres / 111_000, point[1] + rng.uniform(-1, 1) * metres / 90_000


@pytest.fixture(scope="module")
def con():
    rng = np.random.default_rng(2026)
    c = duckdb.connect()
    store.create_schema(c)
    c.execute("INSERT INTO units VALUES (101, ?, 'station', 'S1', '八大峡服务站', NULL, ''), "
              "(102, ?, 'station', 'S2', '云南路服务站', NULL, ''), (201, ?, 'community', 'C1', '西岭社区', NULL, ''), "
              "(202, ?, 'community', 'C2', '东园社区', NULL, ''), "
              "(301, ?, 'area', 'Q1', '团岛片区', 101, '3702/S1/Q1/'), (302, ?, 'street', 'J1', '西藏路', 101, '3702/S1/J1/'), "
              "(303, ?, 'courtyard', 'Y1', '一号院', 301, '3702/S1/Q1/Y1/')", [CITY] * 7)
    rows = []
    start = TODAY - dt.timedelta(days=56)
    for _ in range(3000):  # background over 8 weeks in a 6 km box, some closed after 1–5 days
        day = start + dt.timedelta(days=int(rng.integers(0, 56)))
        at = _at(day, int(rng.integers(6, 22)), int(rng.integers(0, 60)))
        closed = at + dt.timedelta(days=int(rng.integers(1, 6))) if rng.random() < 0.7 else None
        if closed and closed.date() >= TODAY:
            closed = None
        rows.append(dict(lat=36.04 + rng.random() * 0.06, lon=120.34 + rng.random() * 0.08, at=at,
                         cat=str(rng.choice(["A", "B", "C"])), closed_at=closed))
    for week in range(8):  # the planted hotspot: every Wednesday 9 h, 20 reports
        day = start + dt.timedelta(days=7 * week + 2)
        for _ in range(20):
            lat, lon = _jitter(rng, HOT)
            rows.append(dict(lat=lat, lon=lon, at=_at(day, 9, int(rng.integers(0, 60))), cat="A",
                             urgency="urgent", path="3702/S1/Q1/Y1/" if _ % 4 else "3702/S1/J1/"))  # open and urgent: neither a recurrence nor a small problem
    t = _at(start, 10)
    for _ in range(6):  # the planted recurrence: closed after 2 days, back 3 days later
        rows.append(dict(lat=RECUR[0], lon=RECUR[1], at=t, cat="B", closed_at=t + dt.timedelta(days=2)))
        t += dt.timedelta(days=5)
    for k in range(9):  # rising: 1 small report in the previous window, 8 open ones in the last
        day = TODAY - dt.timedelta(days=20 if k == 0 else k + 1)
        lat, lon = _jitter(rng, RISING, 10)
        rows.append(dict(lat=lat, lon=lon, at=_at(day, 14), cat="C"))
    for k in range(10):  # flat: 5 and 5, all open
        day = TODAY - dt.timedelta(days=(16 + k) if k < 5 else (k - 3))
        lat, lon = _jitter(rng, FLAT, 10)
        rows.append(dict(lat=lat, lon=lon, at=_at(day, 14), cat="C"))
    # noise that must be ignored: another city, merged and held cases at the hotspot
    rows.append(dict(lat=HOT[0], lon=HOT[1], at=_at(TODAY - dt.timedelta(days=3), 9), city=8))
    rows.append(dict(lat=HOT[0], lon=HOT[1], at=_at(TODAY - dt.timedelta(days=3), 9), merged_into=1))
    rows.append(dict(lat=HOT[0], lon=HOT[1], at=_at(TODAY - dt.timedelta(days=3), 9), moderation="held"))
    insert_cases(c, rows)
    return c


def _cell(point, res):
    return h3.latlng_to_cell(point[0], point[1], res)


def test_sql_cells_equal_h3_point_by_point():
    """The SQL face-IJK keys give h3's own cell for every point, across faces and resolutions."""
    rng = np.random.default_rng(5)
    c = duckdb.connect()
    store.create_schema(c)
    n = 4000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    insert_cases(c, [dict(lat=float(a), lon=float(b), at=dt.datetime(2026, 1, 1)) for a, b in zip(lat, lon)])
    for res in (5, 9, 10):
        with spatial.located(c, where="c.city_id = ?", params=[CITY], res=res, columns="c.id") as v:
            got = {i: v.hex(cell) for i, cell in c.execute(f"SELECT id, cell FROM {v}").fetchall()}
        assert got == {k + 1: h3.latlng_to_cell(a, b, res) for k, (a, b) in enumerate(zip(lat, lon))}
    # a city needs one face only: the single-face SQL path, checked on 3,000 points around Qingdao
    assert spatial._candidate_faces(35.9, 36.5, 119.9, 120.7) == [5]
    c.execute("DELETE FROM cases")
    lat, lon = 35.9 + rng.random(3000) * 0.6, 119.9 + rng.random(3000) * 0.8
    insert_cases(c, [dict(lat=float(a), lon=float(b), at=dt.datetime(2026, 1, 1)) for a, b in zip(lat, lon)])
    for res in (9, 10):
        with spatial.located(c, where="c.city_id = ?", params=[CITY], res=res, columns="c.id") as v:
            pairs = c.execute(f"SELECT id, cell FROM {v}").fetchall()
        assert {i: v.hex(cell) for i, cell in pairs} == {
            k + 1: h3.latlng_to_cell(a, b, res) for k, (a, b) in enumerate(zip(lat, lon))}
        # on one face the SQL key is the cell: one key per cell
        keys = {cell for _, cell in pairs}
        assert len({v.hex(k) for k in keys}) == len(keys) and v.value(v.hex(next(iter(keys)))) in keys
    assert c.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal").fetchone()[0] == 0


def test_planted_hotspot_is_the_hottest_cell(con):
    rows = spatial.hotspots(con, city_id=CITY, since=TODAY - dt.timedelta(days=56), until=TODAY)
    top = rows[0]  # hot99 cells first, the busiest first
    assert top["cell"] == _cell(HOT, 9) and top == max(rows, key=lambda r: r["count"])
    # Gi* spills over: the quiet neighbours of the planted cell are hot too, and may even score higher
    assert max(r["gi_z"] for r in rows) >= top["gi_z"]
    neighbours = [r for r in rows if r["cell"] in h3.grid_ring(_cell(HOT, 9), 1)]
    assert neighbours and all(r["level"] == "hot99" for r in neighbours)
    assert top["level"] == "hot99" and top["fdr"] and top["p_value"] < 0.001
    assert top["count"] >= 160 and top["station_id"] == WEST and top["station_name"] == "八大峡服务站"
    assert top["community_name"] == "西岭社区" and top["zone_name"] == "团岛片区" and top["street_name"] == "西藏路"
    assert abs(top["lat"] - HOT[0]) < 0.005 and abs(top["lon"] - HOT[1]) < 0.005
    assert sum(r["total"] for r in rows) == 3000 + 160 + 6 + 19  # other city, merged and held left out
    assert all(r["level"] in ("ns", "hot90", "hot95", "hot99", "cold90", "cold95", "cold99") for r in rows)
    # per category: the hotspot holds category A only, so it is not a hotspot of B (zeros kept in the area)
    b = {r["cell"]: r for r in spatial.hotspots(con, city_id=CITY, since=TODAY - dt.timedelta(days=56),
                                                   until=TODAY, category_code="B")}
    assert len(b) == len(rows) and b[_cell(HOT, 9)]["level"] != "hot99"


def test_hour_of_week_finds_wednesday_morning(con):
    r = spatial.hour_of_week(con, city_id=CITY, since=TODAY - dt.timedelta(days=56), until=TODAY)
    assert len(r["counts"]) == 7 and all(len(d) == 24 for d in r["counts"])
    assert r["total"] == 3000 + 160 + 6 + 19
    assert r["counts"][2][9] >= 160 and r["level"][2][9] == "hot99" and r["fdr"][2][9]
    assert r["peak"]["weekday"] == 2 and r["peak"]["start_hour"] in (8, 9)
    assert r["level"][6][3] == "ns" or r["level"][6][3].startswith("cold")  # nothing at night
    assert r["hot_hours"][0]["weekday"] == 2
    empty = spatial.hour_of_week(con, city_id=999, since=TODAY, until=TODAY)
    assert empty["total"] == 0 and empty["peak"] is None


def test_planted_recurrence_ranks_first(con):
    rows = spatial.recurrence(con, city_id=CITY, since=TODAY - dt.timedelta(days=56), until=TODAY, days=7)
    top = rows[0]
    assert top["rank"] == 1 and top["cell"] == _cell(RECUR, 10) and top["category_code"] == "B"
    assert (top["closed"], top["recurred"]) == (6, 5) and top["mean_days"] == pytest.approx(3.0)
    assert top["station_id"] == EAST and top["category_name"] == "井盖破损" and top["p_value"] < 0.001
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    # back after 3 days: not a recurrence within 2 days
    short = spatial.recurrence(con, city_id=CITY, since=TODAY - dt.timedelta(days=56), until=TODAY, days=2)
    assert all(r["cell"] != _cell(RECUR, 10) for r in short)
    only_a = spatial.recurrence(con, city_id=CITY, since=TODAY - dt.timedelta(days=56), until=TODAY,
                                category_code="A", top=3)
    assert len(only_a) <= 3 and all(r["category_code"] == "A" for r in only_a)


def test_rising_cluster_is_warned_and_flat_one_is_not(con):
    rows = spatial.broken_windows(con, city_id=CITY, today=TODAY, window_days=14)
    cells = {r["cell"]: r for r in rows}
    w = cells[_cell(RISING, 9)]
    assert w["warned"] and w["open"] >= 8 and w["recent"] >= 8 and w["p_value"] < 0.05
    assert w["categories"][0] == "乱贴小广告" and w["station_id"] == WEST
    assert _cell(FLAT, 9) not in cells
    every = {r["cell"]: r for r in spatial.broken_windows(con, city_id=CITY, today=TODAY, include_all=True)}
    assert every[_cell(FLAT, 9)]["warned"] is False and every[_cell(FLAT, 9)]["open"] >= 10
    # B is a component, not a small problem: nothing of it is counted
    assert not spatial.broken_windows(con, city_id=CITY, today=TODAY, category_code="B", include_all=True)


def test_patrol_list_names_stations_places_reasons_and_times(con):
    rows = spatial.patrol_list(con, city_id=CITY, week_start=TODAY)
    west = [r for r in rows if r["station_id"] == WEST]
    east = [r for r in rows if r["station_id"] == EAST]
    assert west and east and all(r["station_name"] == "八大峡服务站" for r in west)
    hot = next(r for r in west if r["cell"] == _cell(HOT, 9))
    assert "hotspot" in hot["reasons"] and hot["reason_text"].startswith("热点（99%）：近8周")
    assert hot["zone_name"] == "团岛片区"
    assert hot["when"] == "周三 09:00–11:00" and hot["time_basis"] == "本格" and hot["rank"] == 1
    assert (hot["weekday"], hot["start_hour"], hot["end_hour"]) == (2, 9, 11)
    assert any(r["cell"] == _cell(RISING, 9) and "破窗预警" in r["reason_labels"] for r in west)
    rec = next(r for r in east if r["cell"] == _cell(RECUR, 9))
    assert rec["rank"] == 1 and rec["reasons"] == ["recurrence"] and "回潮：井盖破损 结案后7天内又报 5/6 次" in rec["reason_text"]
    only = spatial.patrol_list(con, city_id=CITY, week_start=TODAY, station_id=EAST, top=2)
    assert only and {r["station_id"] for r in only} == {EAST} and len(only) <= 2


def _cli(argv, capsys):
    from cogov.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_cli_reads_an_export_and_prints_chinese_tables(con, tmp_path, capsys):
    store.export_parquet(con.cursor(), tmp_path / "store")
    p = str(tmp_path / "store")
    span = ["--since", (TODAY - dt.timedelta(days=56)).isoformat(), "--until", TODAY.isoformat()]
    code, out, _ = _cli(["insight", "hotspots", "--parquet", p, *span, "--top", "3"], capsys)
    assert code == 0 and "热点（99%）" in out and _cell(HOT, 9) in out and "八大峡服务站" in out
    code, out, _ = _cli(["insight", "hours", "--parquet", p, *span], capsys)
    assert code == 0 and "周三" in out and "最忙的两小时：周三" in out
    code, out, _ = _cli(["insight", "recurrence", "--parquet", p, *span, "--station", "S2"], capsys)
    assert code == 0 and "井盖破损" in out and "八大峡服务站" not in out
    code, out, _ = _cli(["insight", "warnings", "--parquet", p, "--today", TODAY.isoformat()], capsys)
    assert code == 0 and _cell(RISING, 9) in out and "乱贴小广告" in out
    code, out, _ = _cli(["insight", "patrol", "--parquet", p, "--week", TODAY.isoformat(), "--top", "3"], capsys)
    assert code == 0 and "【八大峡服务站】" in out and "【云南路服务站】" in out and "建议 周三 09:00–11:00" in out
    csv_path = tmp_path / "hot.csv"
    code, out, _ = _cli(["insight", "hotspots", "--parquet", p, *span, "--csv", str(csv_path)], capsys)
    assert code == 0 and csv_path.read_text(encoding="utf-8-sig").startswith("cell,lat,lon,count")
    # bad input: a message on stderr and exit code 2
    for argv in (["insight", "hotspots", "--parquet", p, "--since", "2026-13-01"],
                 ["insight", "hotspots", "--parquet", p, "--since", "2026-03-01", "--until", "2026-02-01"],
                 ["insight", "patrol", "--parquet", p, "--station", "无此站"],
                 ["insight", "warnings", "--parquet", str(tmp_path / "nothing")],
                 ["insight", "hotspots", "--parquet", p, "--top", "-3"],
                 ["insight", "recurrence", "--parquet", p, "--category", "ZZZ"]):
        code, _, err = _cli(argv, capsys)
        assert code == 2 and err.startswith("错误：")


def test_recurrence_equals_a_plain_python_count(con):
    """Every (cell, category) count of the SQL equals a case-by-case count, reports during an open case included."""
    since, until = _at(TODAY - dt.timedelta(days=40), 0), _at(TODAY - dt.timedelta(days=3), 0)
    rows = con.execute("SELECT lat, lon, category_id, reported_at, closed_at, state FROM cases "
                       "WHERE city_id = ? AND merged_into_id IS NULL AND moderation = 'ok' AND reported_at < ?",
                       [CITY, until]).fetchall()
    by_place: dict = {}
    for lat, lon, cat, rep, closed, state in rows:
        by_place.setdefault((h3.latlng_to_cell(lat, lon, 9), cat), []).append((rep, closed, state))
    want = {}
    for place, cases in by_place.items():
        reports = sorted(r for r, _, _ in cases if r >= since)
        n = k = 0
        for _, closed, state in cases:
            if state == "closed" and since <= closed < until:
                n += 1
                after = [r for r in reports if r > closed]
                k += bool(after and after[0] <= closed + dt.timedelta(days=5))
        if k:
            want[place] = (n, k)
    got = {(r["cell"], r["category_id"]): (r["closed"], r["recurred"])
           for r in spatial.recurrence(con, city_id=CITY, since=since, until=until, days=5, resolution=9)}
    assert got == want and len(want) > 20
    # the hard path (a report while the case was still open) is exercised by this data
    assert any(c is not None and since <= c < until and any(r0 < r <= c for r, _, _ in cases)
               for cases in by_place.values() for r0, c, _ in cases)
