"""Benchmark of the insight analytics on DuckDB: a synthetic city of N cases, hotspots, recurrence, evaluation.

    .venv/bin/python bench/insight.py --sizes 1000000,3000000,10000000 [--threads 2] [--db FILE]
        [--store parquet|memory] [--keep] [--reuse]
    .venv/bin/python bench/insight.py --load-bench 100000 [--vendor sqlite|postgresql|both]

For each size, two fresh processes (so that each peak RSS is its own):
1. generate — N cases and their events made by SQL inside DuckDB (no Python loop per case) in the store's
   schema (cogov/insight/store.py), a million cases at a time, each chunk written as Parquet and the chunks
   merged into the files ``store.export_parquet`` writes (under ``--work``): the cases renumbered so that ids
   follow report time (as a real city numbers them), sorted by id, the events by (case_id, seq), the cases with
   their H3 keys (``store.with_h3_keys``; an older export reused with ``--reuse`` gets them once, untimed). The city:
   Qingdao's urban bounding box cut into a grid of 10 districts → 140 sub-districts → 2,800 communities, one
   station each; 3,000 "spots" with Zipf popularity (P(k) ∝ 1/k) where 85 % of the reports fall (normal spread
   20–220 m around the spot), the rest anywhere; 150 categories with Zipf frequencies, half of a spot's reports of
   its own category; 12 months (2025-11-01 … 2026-10-31, local time) with an hour-of-day, weekday and season
   profile; 100 professional units (10 duties × 10 districts); states mostly closed, with rejected, merged,
   suspended and held cases, returns (3 %), reworks (4.5 %), extensions (2 %) and escalations where handling ran
   a day past the deadline; about 6 events per case (report, accept, dispatch, acknowledge, handle, close, and
   the extra ones: reject, merge, suspend, return, rework, escalate; verify is not generated).
2. analyse — ``store.open_parquet`` (the "load" column: views over the files with ``--store parquet``, the
   default; the export read into in-memory tables with ``--store memory``), then ``spatial.hotspots`` and
   ``spatial.recurrence`` over the 12 months and ``evaluation.monthly`` of 2026-10, each timed alone (wall and
   CPU seconds); a module not written yet is skipped with a note.

``--load-bench N`` measures ``store.load`` from the operational database instead: N cases with 5 events each
written by SQL (not the services) into a scratch SQLite file or PostgreSQL database ``cogov_bench_store``,
then loaded into DuckDB, rows per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Qingdao's urban area (市南、市北、李沧、崂山、城阳 and the west coast's edge)
LON0, LON1, LAT0, LAT1 = 120.15, 120.60, 35.95, 36.40
COLS, ROWS = 56, 50  # community grid; a sub-district is 4 × 5 communities, a district 7 × 2 sub-districts
SPOTS, CATEGORIES = 3000, 150
DUTIES = ("sanitation", "municipal", "greening", "water", "gas", "heating", "power", "telecom", "enforcement",
          "property")
MAJORS = ("市容环境", "设施管理", "突发事件", "街面秩序", "施工管理", "环卫保洁", "园林绿化", "市政公用", "房屋管理",
          "其他事项")
START = dt.datetime(2025, 11, 1)
DAYS = 365
END = START + dt.timedelta(days=DAYS)  # the data are as of this local time
MONTH = "2026-10"
CITY_ID = 1
CHUNK = 1_000_000  # cases drawn at a time: memory holds one chunk's draws, not all of them
MEMORY_LIMIT = "6GB"  # DuckDB's limit while the export renumbers and sorts (it spills to a temporary directory)
HOURS = (0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.6, 1.5, 3.0, 4.0, 4.0, 3.5, 2.5, 2.8, 3.5, 3.5, 3.2, 2.8, 2.0, 1.6, 1.3,
         1.0, 0.7, 0.5)


def u(salt: int, i: str = "i") -> str:
    """A uniform draw in [0, 1) from the row number: 53 bits of DuckDB's hash of ``i * 64 + salt`` (the
    two-argument hash is strongly correlated across salts; this one is not)."""
    assert 0 <= salt < 64
    return f"((hash({i} * 64 + {salt}) >> 11)::DOUBLE / 9007199254740992.0)"


def expo(salt: int, i: str = "i") -> str:
    """An exponential draw of mean 1."""
    return f"(-ln(1 - {u(salt, i)}))"


def gauss(s1: int, s2: int, i: str = "i") -> str:
    """A standard normal draw (Box–Muller)."""
    return f"(sqrt(-2 * ln(1 - {u(s1, i)})) * cos(2 * pi() * {u(s2, i)}))"


def secs(expr: str) -> str:
    return f"to_microseconds(({expr} * 1e6)::BIGINT)"


def generate(con, n: int, on_chunk=None) -> dict[str, float]:
    """Fill the store's tables of ``con`` with the synthetic city of ``n`` cases (see the module docstring),
    ``CHUNK`` cases at a time; ``on_chunk(start, stop)``, when given, is called after each chunk (to write it
    out and empty the cases and events tables, so that memory holds one chunk)."""
    from cogov.insight import store

    store.create_schema(con)
    cw, ch = (LON1 - LON0) / COLS, (LAT1 - LAT0) / ROWS
    t0 = time.perf_counter()
    # geography: the grid's cells, with their district, sub-district, community and station
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cells AS
        SELECT cx, cy, cx + {COLS} * cy AS cell,
               1 + (cx // 28) + 2 * (cy // 10) AS district_id,
               100 + (cx // 4) + 14 * (cy // 5) AS subdistrict_id,
               10000 + cx + {COLS} * cy AS community_id,
               20000 + cx + {COLS} * cy AS station_id
        FROM range({COLS}) a(cx), range({ROWS}) b(cy)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _codes AS
        SELECT *, '3702' || lpad((district_id)::VARCHAR, 2, '0') AS dcode,
               '3702' || lpad((district_id)::VARCHAR, 2, '0') || lpad((subdistrict_id - 99)::VARCHAR, 3, '0') AS scode,
               '3702' || lpad((district_id)::VARCHAR, 2, '0') || lpad((subdistrict_id - 99)::VARCHAR, 3, '0')
                   || lpad((community_id - 9999)::VARCHAR, 4, '0') AS ccode
        FROM _cells""")
    con.execute("ALTER TABLE _cells ADD COLUMN unit_path VARCHAR")
    con.execute("""UPDATE _cells SET unit_path = k.dcode || '/' || k.scode || '/' || k.ccode || '/' || k.ccode || '01/'
                   FROM _codes k WHERE k.cell = _cells.cell""")
    con.execute(f"""
        INSERT INTO units
        SELECT DISTINCT district_id, {CITY_ID}, 'district', dcode, '第' || district_id || '区', NULL, dcode || '/'
        FROM _codes
        UNION ALL
        SELECT DISTINCT subdistrict_id, {CITY_ID}, 'subdistrict', scode, '第' || (subdistrict_id - 99) || '街道',
               district_id, dcode || '/' || scode || '/' FROM _codes
        UNION ALL
        SELECT community_id, {CITY_ID}, 'community', ccode, '第' || (community_id - 9999) || '社区', subdistrict_id,
               dcode || '/' || scode || '/' || ccode || '/' FROM _codes
        UNION ALL
        SELECT station_id, {CITY_ID}, 'station', ccode || '01', '第' || (community_id - 9999) || '社区服务站',
               community_id, dcode || '/' || scode || '/' || ccode || '/' || ccode || '01/' FROM _codes""")
    duties = ", ".join(f"'{d}'" for d in DUTIES)
    con.execute(f"""
        INSERT INTO service_units
        SELECT 1 + d * 10 + k, {CITY_ID}, upper(left(list_extract([{duties}], d + 1), 3)) || '-' || (k + 1),
               '第' || (k + 1) || '区' || list_extract(['环卫所', '市政所', '园林所', '水务公司', '燃气公司', '热力公司',
               '供电公司', '通信公司', '综合执法局', '物业公司'], d + 1), list_extract([{duties}], d + 1)
        FROM range(10) a(d), range(10) b(k)""")
    majors = ", ".join(f"'{m}'" for m in MAJORS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _categories AS
        SELECT id, lpad((((id - 1) // 15) + 1)::VARCHAR, 2, '0') || lpad(id::VARCHAR, 3, '0') AS code,
               list_extract([{majors}], ((id - 1) // 15) + 1) || '·' || id AS name,
               CASE WHEN id % 5 = 0 THEN 'component' ELSE 'matter' END AS kind,
               lpad((((id - 1) // 15) + 1)::VARCHAR, 2, '0') AS major_code, id % 10 AS duty
        FROM range(1, {CATEGORIES + 1}) r(id)""")
    # spots: 60 % in the old town's dense square, the rest anywhere; a spread and a category of their own
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _spots AS
        SELECT i + 1 AS spot,
               CASE WHEN {u(1)} < 0.6 THEN 120.30 + 0.15 * {u(2)} ELSE {LON0} + {LON1 - LON0} * {u(3)} END AS lon,
               CASE WHEN {u(1)} < 0.6 THEN 36.05 + 0.15 * {u(4)} ELSE {LAT0} + {LAT1 - LAT0} * {u(5)} END AS lat,
               20 + 200 * {u(6)} * {u(6)} AS spread_m,
               least({CATEGORIES}, floor(exp({u(7)} * ln({CATEGORIES + 1})))::INTEGER) AS category
        FROM range({SPOTS}) r(i)""")
    # time slots: every hour of the year, weighted by hour of day, weekday and season; cumulative for an ASOF join
    hours = ", ".join(str(h) for h in HOURS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _slots AS
        WITH w AS (
            SELECT d, h, list_extract([{hours}], h + 1)
                   * CASE isodow(DATE '{START.date()}' + d::INTEGER) WHEN 6 THEN 0.65 WHEN 7 THEN 0.55 ELSE 1.0 END
                   * CASE WHEN month(DATE '{START.date()}' + d::INTEGER) IN (6, 7, 8) THEN 1.25
                          WHEN month(DATE '{START.date()}' + d::INTEGER) IN (12, 1, 2) THEN 0.85 ELSE 1.0 END AS wt
            FROM range({DAYS}) a(d), range(24) b(h))
        SELECT d, h, coalesce(sum(wt) OVER (ORDER BY d, h ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                     / sum(wt) OVER () AS cum
        FROM w""")
    t_setup = time.perf_counter() - t0
    t_draw = t_cases = t_events = t_write = 0.0
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)

        # the cases: where, what, when; then the life of each one, truncated at END (the moment of the data)
        t0 = time.perf_counter()
        ts = f"TIMESTAMP '{START}'"
        end = f"TIMESTAMP '{END}'"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _g AS
            WITH base AS (
                SELECT i, {u(8)} < 0.15 AS background,
                       least({SPOTS}, floor(exp({u(9)} * ln({SPOTS + 1})))::INTEGER) AS spot,
                       {u(10)} AS u_slot
                FROM range({start}, {stop}) r(i)),
            placed AS (
                SELECT b.i, b.u_slot,
                       CASE WHEN b.background THEN {LON0} + {LON1 - LON0} * {u(11)}
                            ELSE s.lon + s.spread_m * {gauss(12, 13)} / 90200 END AS lon0,
                       CASE WHEN b.background THEN {LAT0} + {LAT1 - LAT0} * {u(14)}
                            ELSE s.lat + s.spread_m * {gauss(15, 16)} / 110900 END AS lat0,
                       CASE WHEN NOT b.background AND {u(17)} < 0.5 THEN s.category
                            ELSE least({CATEGORIES}, floor(exp({u(18)} * ln({CATEGORIES + 1})))::INTEGER) END AS category_id
                FROM base b JOIN _spots s ON s.spot = b.spot),
            timed AS (
                SELECT p.*, least(greatest(p.lon0, {LON0}), {LON1 - 1e-9}) AS lon,
                       least(greatest(p.lat0, {LAT0}), {LAT1 - 1e-9}) AS lat,
                       {ts} + to_days(t.d::INTEGER) + to_hours(t.h::INTEGER) + {secs(f'3600 * {u(19)}')} AS reported_at
                FROM placed p ASOF JOIN _slots t ON p.u_slot >= t.cum),
            drawn AS (
                SELECT t.*, c.cell,
                       CASE WHEN {u(20)} < 0.85 THEN 'normal' WHEN {u(20)} < 0.97 THEN 'urgent' ELSE 'emergency' END
                           AS urgency,
                       CASE WHEN {u(21)} < 0.45 THEN 'citizen' WHEN {u(21)} < 0.65 THEN 'head'
                            WHEN {u(21)} < 0.85 THEN 'hotline' WHEN {u(21)} < 0.95 THEN 'inspector'
                            WHEN {u(21)} < 0.98 THEN 'merchant_group' ELSE 'volunteer' END AS source,
                       {u(22)} AS u_fate,
                       (CASE WHEN {u(23)} < 0.03 THEN 1 ELSE 0 END) AS returns,
                       (CASE WHEN {u(24)} < 0.005 THEN 2 WHEN {u(24)} < 0.045 THEN 1 ELSE 0 END) AS reworks,
                       (CASE WHEN {u(25)} < 0.02 THEN 1 ELSE 0 END) AS extensions,
                       c.district_id, c.subdistrict_id, c.community_id, c.station_id, c.unit_path
                FROM timed t JOIN _cells c
                  ON c.cx = least({COLS - 1}, floor((t.lon - {LON0}) / {cw})::INTEGER)
                 AND c.cy = least({ROWS - 1}, floor((t.lat - {LAT0}) / {ch})::INTEGER)),
            life AS (
                SELECT d.*, cat.duty,
                       1 + cat.duty * 10 + (d.district_id - 1) AS unit_id,
                       1 + ((cat.duty + 1 + floor(8 * {u(26)})::INTEGER) % 10) * 10 + (d.district_id - 1) AS wrong_unit_id,
                       CASE d.urgency WHEN 'normal' THEN 3 * 86400 WHEN 'urgent' THEN 86400 ELSE 4 * 3600 END
                           + d.extensions * 3 * 86400 AS limit_s,
                       CASE d.urgency WHEN 'normal' THEN 7200 WHEN 'urgent' THEN 3600 ELSE 1800 END AS response_s,
                       d.reported_at + {secs(f'300 + 3600 * {expo(27)}')} AS t_accept,
                       {secs(f'60 + 1800 * {expo(28)}')} AS d_dispatch,
                       {secs(f'2 * 3600 + 3600 * {expo(29)}')} AS d_return,
                       {secs(f'300 + 3000 * {expo(30)}')} AS d_ack,
                       -- handling: log-normal, median a day (urgent 8 h, emergency 2 h)
                       {secs(f'exp(ln(86400) + 0.9 * {gauss(31, 32)})')}
                           / CASE d.urgency WHEN 'normal' THEN 1 WHEN 'urgent' THEN 3 ELSE 12 END AS d_handle,
                       {secs(f'7200 * {expo(33)}')} AS d_verify,
                       {secs(f'3600 * {expo(34)}')} AS d_close
                FROM drawn d JOIN _categories cat ON cat.id = d.category_id),
            steps AS (
                SELECT l.*,
                       CASE WHEN u_fate < 0.02 THEN 'rejected' WHEN u_fate < 0.035 THEN 'merged'
                            WHEN u_fate < 0.038 THEN 'held' WHEN u_fate < 0.048 THEN 'suspended' ELSE 'loop' END AS fate,
                       t_accept + d_dispatch AS t_dispatch1,
                       t_accept + d_dispatch + returns * (d_return + d_dispatch) AS t_dispatch
                FROM life l),
            handled AS (
                SELECT s.*, t_dispatch + d_ack AS t_ack, t_dispatch + d_ack + d_handle AS t_handle1,
                       t_dispatch + to_seconds(limit_s) AS due,
                       t_dispatch + to_seconds(response_s) AS response_due
                FROM steps s)
            SELECT h.*,
                   -- escalated a day, then three days, after the handling deadline while not yet handled
                   CASE WHEN t_handle1 > due + INTERVAL 3 DAY THEN 2 WHEN t_handle1 > due + INTERVAL 1 DAY THEN 1 ELSE 0
                   END AS escalations,
                   t_handle1 + to_seconds(reworks * 16 * 3600) AS t_handle,
                   t_handle1 + to_seconds(reworks * 16 * 3600) + d_verify AS t_verify,
                   t_handle1 + to_seconds(reworks * 16 * 3600) + d_verify + d_close AS t_close
            FROM handled h""")
        t_draw += time.perf_counter() - t0

        t0 = time.perf_counter()
        ok = lambda col: f"CASE WHEN fate = 'loop' AND {col} <= {end} THEN {col} END"  # noqa: E731
        level = (f"CASE WHEN fate = 'loop' AND escalations = 2 AND due + INTERVAL 3 DAY <= {end} THEN 'district' "
                 f"WHEN fate = 'loop' AND escalations >= 1 AND due + INTERVAL 1 DAY <= {end} THEN 'subdistrict' "
                 "ELSE 'community' END")
        con.execute(f"""
            INSERT INTO cases
            SELECT i + 1, {CITY_ID}, strftime(reported_at, '%Y') || lpad((i + 1)::VARCHAR, 8, '0'), g.category_id,
                   c.code, c.name, c.kind, c.major_code, urgency, source, lon, lat, NULL, NULL,
                   district_id, subdistrict_id, community_id, station_id,
                   CASE WHEN fate = 'loop' AND t_dispatch <= {end} THEN unit_id
                        WHEN fate = 'loop' AND returns = 1 AND t_dispatch1 <= {end} AND
                             t_dispatch1 + d_return > {end} THEN wrong_unit_id END,
                   CASE fate WHEN 'rejected' THEN 'not_accepted' WHEN 'merged' THEN 'merged' WHEN 'held' THEN 'reported'
                       WHEN 'suspended' THEN 'suspended' ELSE CASE
                           WHEN t_close <= {end} THEN 'closed' WHEN t_verify <= {end} THEN 'verified'
                           WHEN t_handle <= {end} THEN 'handled' WHEN t_ack <= {end} THEN 'acknowledged'
                           WHEN t_dispatch <= {end} THEN 'dispatched'
                           WHEN returns = 1 AND t_dispatch1 + d_return <= {end} THEN 'accepted'
                           WHEN t_dispatch1 <= {end} THEN 'dispatched'
                           WHEN t_accept <= {end} THEN 'accepted' ELSE 'reported' END END,
                   {level}, {level},
                   CASE WHEN fate = 'loop' THEN reworks ELSE 0 END,
                   CASE WHEN fate = 'loop' AND t_dispatch1 + d_return <= {end} THEN returns ELSE 0 END,
                   CASE WHEN fate = 'loop' AND t_dispatch <= {end} THEN extensions ELSE 0 END,
                   CASE WHEN fate = 'loop' AND t_close <= {end} THEN
                       CASE WHEN {u(35)} < 0.70 THEN 'satisfied' WHEN {u(35)} < 0.90 THEN 'basically_satisfied'
                            WHEN {u(35)} < 0.95 THEN 'dissatisfied' ELSE '' END ELSE '' END,
                   CASE WHEN fate = 'merged' THEN greatest(1, i - floor(50 * {u(36)})::BIGINT) END,
                   CASE WHEN fate = 'held' THEN 'held' ELSE 'ok' END,
                   reported_at,
                   CASE WHEN fate IN ('loop', 'suspended') AND t_accept <= {end} THEN t_accept END,
                   {ok('t_dispatch')}, {ok('t_ack')}, {ok('t_handle')}, {ok('t_close')},
                   CASE WHEN fate = 'loop' AND escalations = 2 AND due + INTERVAL 3 DAY <= {end} THEN due + INTERVAL 3 DAY
                        WHEN fate = 'loop' AND escalations >= 1 AND due + INTERVAL 1 DAY <= {end} THEN due + INTERVAL 1 DAY
                   END,
                   CASE WHEN fate = 'loop' AND t_dispatch <= {end} THEN response_due END,
                   CASE WHEN fate = 'loop' AND t_dispatch <= {end} THEN due END,
                   unit_path
            FROM _g g JOIN _categories c ON c.id = g.category_id
            ORDER BY i""")
        t_cases += time.perf_counter() - t0

        # events: one INSERT per step; seq from the case's flags (report 1, accept 2, [dispatch, return], dispatch,
        # acknowledge, [escalate ×1–2], handle, [rework, handle]×reworks, close)
        t0 = time.perf_counter()
        r, w, e = "returns", "reworks", "escalations"
        steps = [
            # (seq, action, role, to_state, at, unit, condition)
            ("1", "report", "source_role", "'reported'", "reported_at", "NULL", "TRUE"),
            ("2", "reject", "'station_head'", "'not_accepted'", "t_accept", "NULL", "fate = 'rejected'"),
            ("2", "merge", "'station_head'", "'merged'", "t_accept", "NULL", "fate = 'merged'"),
            ("2", "accept", "'station_head'", "'accepted'", "t_accept", "NULL", "fate IN ('loop', 'suspended')"),
            ("3", "suspend", "'station_head'", "'suspended'", "t_accept + d_dispatch", "NULL", "fate = 'suspended'"),
            ("3", "dispatch", "'station_head'", "'dispatched'", "t_dispatch1", "wrong_unit_id",
             f"fate = 'loop' AND {r} = 1"),
            ("4", "return", "'unit_crew'", "'accepted'", "t_dispatch1 + d_return", "wrong_unit_id",
             f"fate = 'loop' AND {r} = 1"),
            (f"3 + 2 * {r}", "dispatch", "'station_head'", "'dispatched'", "t_dispatch", "unit_id", "fate = 'loop'"),
            (f"4 + 2 * {r}", "acknowledge", "'unit_crew'", "'acknowledged'", "t_ack", "unit_id", "fate = 'loop'"),
            (f"5 + 2 * {r}", "escalate", "'system'", "'acknowledged'", "due + INTERVAL 1 DAY", "NULL",
             f"fate = 'loop' AND {e} >= 1"),
            (f"6 + 2 * {r}", "escalate", "'system'", "'acknowledged'", "due + INTERVAL 3 DAY", "NULL",
             f"fate = 'loop' AND {e} = 2"),
            (f"5 + 2 * {r} + {e}", "handle", "'unit_crew'", "'handled'", "t_handle1", "unit_id", "fate = 'loop'"),
            (f"6 + 2 * {r} + {e}", "rework", "'reporter'", "'acknowledged'", "t_handle1 + INTERVAL 4 HOUR", "unit_id",
             f"fate = 'loop' AND {w} >= 1"),
            (f"7 + 2 * {r} + {e}", "handle", "'unit_crew'", "'handled'", "t_handle1 + INTERVAL 16 HOUR", "unit_id",
             f"fate = 'loop' AND {w} >= 1"),
            (f"8 + 2 * {r} + {e}", "rework", "'reporter'", "'acknowledged'", "t_handle1 + INTERVAL 20 HOUR", "unit_id",
             f"fate = 'loop' AND {w} = 2"),
            (f"9 + 2 * {r} + {e}", "handle", "'unit_crew'", "'handled'", "t_handle1 + INTERVAL 32 HOUR", "unit_id",
             f"fate = 'loop' AND {w} = 2"),
            (f"6 + 2 * {r} + {e} + 2 * {w}", "close", "'station_head'", "'closed'", "t_close", "NULL", "fate = 'loop'"),
        ]
        role = ("CASE source WHEN 'citizen' THEN 'citizen' WHEN 'head' THEN 'street_head' WHEN 'volunteer' THEN "
                "'volunteer' ELSE 'station_head' END")
        selects = []
        for seq, action, who, to_state, at, unit, cond in steps:
            who = role if who == "source_role" else who
            selects.append(f"SELECT i + 1, {seq}, '{action}', {at}, {who}, {to_state}, {unit} FROM _g "
                           f"WHERE {cond} AND {at} <= {end}")
        con.execute("INSERT INTO events " + " UNION ALL ".join(selects))
        t_events += time.perf_counter() - t0
        con.execute("DROP TABLE _g")
        if on_chunk is not None:
            t0 = time.perf_counter()
            on_chunk(start, stop)
            t_write += time.perf_counter() - t0
    for t in ("_slots", "_spots", "_categories", "_cells", "_codes"):
        con.execute(f"DROP TABLE {t}")
    return {"setup": t_setup, "draw": t_draw, "cases": t_cases, "events": t_events, "write": t_write}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def configure(con, threads: int) -> None:
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")


def step_generate(n: int, out: Path, threads: int, db: str | None) -> dict:
    """Process 1: generate the city into DuckDB and export it as Parquet under ``out``."""
    import duckdb

    from cogov.insight import store

    if db:
        Path(db).unlink(missing_ok=True)
    con = duckdb.connect(db or ":memory:")
    configure(con, threads)
    shutil.rmtree(out, ignore_errors=True)
    parts_dir = out / "parts"
    parts_dir.mkdir(parents=True)
    counts = {"cases": 0, "events": 0}
    states: dict[str, int] = {}

    def write_chunk(start: int, stop: int) -> None:
        # each chunk goes to its own Parquet files; the tables are emptied for the next one
        for table in ("cases", "events"):
            counts[table] += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            con.execute(f"COPY {table} TO '{parts_dir}/{table}-{start:09d}.parquet' (FORMAT parquet)")
        for state, k in con.execute("SELECT state, count(*) FROM cases GROUP BY ALL").fetchall():
            states[state] = states.get(state, 0) + k
        con.execute("DROP TABLE events")
        con.execute("DROP TABLE cases")
        store.create_schema(con)

    t0 = time.perf_counter()
    parts = generate(con, n, on_chunk=write_chunk)
    t_gen = time.perf_counter() - t0
    # the export, as store.export_parquet writes it: one file per table
    t0 = time.perf_counter()
    files = store.export_parquet(con, out)  # units and service units; cases and events are empty here
    # ids as a real city has them: cases are numbered as they arrive, so the final id follows (reported_at,
    # drawn id) — one mapping old → new applied to cases.id, merged_into_id (and the number) and events.case_id;
    # the files sorted by id and (case_id, seq), as store.export_parquet writes them, so a month is a narrow id
    # range and its row groups are the only ones read. The sorts spill to disk beyond memory_limit.
    spill = Path(tempfile.mkdtemp(prefix="cogov-bench-spill-"))
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    src = {t: f"read_parquet('{parts_dir}/{t}-*.parquet')" for t in ("cases", "events")}
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ids AS
                    SELECT id AS old, row_number() OVER (ORDER BY reported_at, id) AS new
                    FROM {src['cases']}""")
    number = "strftime(c.reported_at, '%Y') || lpad(m.new::VARCHAR, 8, '0')"
    rows = f"""SELECT c.* REPLACE (m.new AS id, {number} AS number, mm.new AS merged_into_id)
               FROM {src['cases']} c JOIN _ids m ON m.old = c.id
               LEFT JOIN _ids mm ON mm.old = c.merged_into_id"""
    rows = store.with_h3_keys(con, rows)  # each case's H3 keys (cases.h3_9, h3_10), as store.load fills them
    parquet = "(FORMAT parquet, COMPRESSION zstd)"
    con.execute(f"COPY ({rows} ORDER BY id) TO '{out}/cases.parquet' {parquet}")
    rows = f"SELECT e.* REPLACE (m.new AS case_id) FROM {src['events']} e JOIN _ids m ON m.old = e.case_id"
    con.execute(f"COPY ({rows} ORDER BY case_id, seq) TO '{out}/events.parquet' {parquet}")
    con.execute("DROP TABLE _ids")
    shutil.rmtree(parts_dir)
    shutil.rmtree(spill, ignore_errors=True)
    t_export = time.perf_counter() - t0
    counts.update({t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("units", "service_units")})
    con.close()
    if db:
        Path(db).unlink(missing_ok=True)
    return {"n": n, "generate": t_gen, "parts": parts, "export": t_export, "counts": counts, "states": states,
            "parquet_mb": sum(f.stat().st_size for f in files) / 1e6, "gen_rss_mb": peak_rss_mb()}


def step_add_keys(out: Path, threads: int) -> dict:
    """Process: give an export written before ``cases.h3_9``/``h3_10`` existed its cases' H3 keys (rewrites
    cases.parquet once, as a new export would have it)."""
    import duckdb

    from cogov.insight import store

    con = duckdb.connect()
    configure(con, threads)
    path = out / "cases.parquet"
    tmp = out / "cases.parquet.tmp"
    t0, c0 = time.perf_counter(), time.process_time()
    rows = store.with_h3_keys(con, f"SELECT * FROM read_parquet('{path}')")
    con.execute(f"COPY ({rows}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    tmp.replace(path)
    return {"keys": time.perf_counter() - t0, "keys_cpu": time.process_time() - c0}


def has_keys(out: Path) -> bool:
    import duckdb

    names = [d[0] for d in duckdb.connect().execute(
        f"SELECT * FROM read_parquet('{out / 'cases.parquet'}') LIMIT 0").description]
    return all(f"h3_{r}" in names for r in (9, 10))


def step_analyse(out: Path, threads: int, mode: str) -> dict:
    """Process 2: open the export (read into an in-memory store, or views over the files) and time each
    analysis."""
    import importlib

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
    scratch = tempfile.TemporaryDirectory(prefix="cogov-bench-")  # removed when the process ends
    os.environ.setdefault("COGOV_DATA_DIR", scratch.name)
    django.setup()  # in case an analysis reads settings; before any timing
    from cogov.insight import store

    result: dict = {"notes": [], "mode": mode}
    t0, c0 = time.perf_counter(), time.process_time()
    con = store.open_parquet(out, materialize=(mode == "memory"))
    configure(con, threads)
    result["load"] = time.perf_counter() - t0
    result["load_cpu"] = time.process_time() - c0
    since, until = START.date(), END.date()
    calls = [
        ("hotspots", "spatial", "hotspots", dict(city_id=CITY_ID, since=since, until=until)),
        ("recurrence", "spatial", "recurrence", dict(city_id=CITY_ID, since=since, until=until)),
        ("evaluation", "evaluation", "monthly", dict(city_id=CITY_ID, month=MONTH)),
    ]
    import inspect

    for key, module, func, kwargs in calls:
        try:
            mod = importlib.import_module(f"cogov.insight.{module}")
            fn = getattr(mod, func)
        except (ModuleNotFoundError, AttributeError) as exc:
            result["notes"].append(f"{key}: skipped, cogov.insight.{module}.{func} not available ({exc})")
            result[key] = None
            continue
        if "as_of" in inspect.signature(fn).parameters:
            kwargs["as_of"] = END  # the moment of the synthetic data
        t0, c0 = time.perf_counter(), time.process_time()
        answer = fn(con, **kwargs)
        result[key] = time.perf_counter() - t0
        result[f"{key}_cpu"] = time.process_time() - c0  # every thread's CPU: the machine is shared
        result[f"{key}_size"] = len(answer) if hasattr(answer, "__len__") else None
    result["rss_mb"] = peak_rss_mb()
    con.close()
    scratch.cleanup()
    return result


def run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"step failed: {' '.join(args)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def run_sizes(a) -> int:
    work = Path(a.work)
    rows = []
    print(f"# insight bench — {platform.node()} nproc {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, threads {a.threads}", flush=True)
    for n in [int(s) for s in a.sizes.split(",") if s]:
        out = work / f"city-{n}"
        if a.reuse and (out / "cases.parquet").is_file():
            gen = {"n": n, "generate": None, "export": None, "gen_rss_mb": None, "reused": True}
            if not has_keys(out):  # an export of before cases.h3_9/h3_10: add them once (not timed as analysis)
                keys = run_child(["--add-keys", str(out), "--threads", str(a.threads)])
                print(f"H3 keys added to {out}: {json.dumps(keys)}", file=sys.stderr, flush=True)
        else:
            db = f"{a.db}.{n}" if a.db else None
            gen = run_child(["--generate", str(n), "--out", str(out), "--threads", str(a.threads)]
                            + (["--db", db] if db else []))
            print(f"generated {n:,}: {json.dumps(gen, ensure_ascii=False)}", file=sys.stderr, flush=True)
        res = run_child(["--analyse", str(out), "--threads", str(a.threads), "--store", a.store])
        for note in res["notes"]:
            print(f"  note: {note}", file=sys.stderr)
        analyses = sum(res[k] for k in ("hotspots", "recurrence", "evaluation") if res.get(k) is not None)
        rows.append((n, gen, res, analyses, os.getloadavg()[0]))
        print(f"analysed {n:,}: {json.dumps(res, ensure_ascii=False)}", file=sys.stderr, flush=True)
    print(f"\nstore: {a.store}\n")
    print("| cases | events | generate s | export s | load s | hotspots s | recurrence s | evaluation s "
          "| analyses s | load + analyses s | peak RSS MB generate / analyse | load avg (1 min) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, gen, res, analyses, load in rows:
        events = gen.get("counts", {}).get("events")
        print(f"| {n:,} | {f'{events:,}' if events else '—'} | {fmt(gen['generate'])} | {fmt(gen['export'])} | {fmt(res['load'])} | "
              f"{fmt(res['hotspots'])} | {fmt(res['recurrence'])} | {fmt(res['evaluation'])} | {fmt(analyses)} | "
              f"{fmt(analyses + res['load'])} | {fmt(gen['gen_rss_mb'])} / {fmt(res['rss_mb'])} | {load:.1f} |")
    print("\nCPU seconds of the analysing process (all threads; wall time on an idle machine with `--threads` "
          "cores is at least CPU / threads):\n")
    print("| cases | load | hotspots | recurrence | evaluation | analyses | analyses CPU / threads |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, gen, res, analyses, load in rows:
        cpu = [res.get(f"{k}_cpu") for k in ("load", "hotspots", "recurrence", "evaluation")]
        total = sum(c for c in cpu[1:] if c is not None)
        print(f"| {n:,} | {' | '.join(fmt(c) for c in cpu)} | {fmt(total)} | {fmt(total / a.threads)} |")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# -- store.load from the operational database --------------------------------------------------------------

def fill_operational(n: int) -> tuple[int, float]:
    """Write a city of ``n`` cases with 5 events each into Django's database by plain SQL (not the services)."""
    from django.db import connection, transaction

    from cogov.cases import catalog
    from cogov.cases.models import Category
    from cogov.cases.services import categories_load
    from cogov.geo.models import Unit
    from cogov.geo.services import city_ensure, units_import
    from cogov.people.models import ServiceUnit
    from shapely.geometry import box

    city = city_ensure(code="3702", name="青岛市")
    rows = [{"kind": "district", "code": "370202", "name": "市南区", "parent": "",
             "geometry": box(120.30, 36.00, 120.40, 36.10).wkt}]
    for k in range(10):
        rows.append({"kind": "subdistrict", "code": f"370202{k:03d}", "name": f"第{k}街道", "parent": "370202",
                     "geometry": box(120.30 + 0.01 * k, 36.00, 120.31 + 0.01 * k, 36.10).wkt})
    units_import(city=city, rows=rows)
    categories_load(city=city, specs=catalog.national() + catalog.city_extension())
    cats = list(Category.objects.filter(city=city).values_list("pk", flat=True))
    subs = list(Unit.objects.filter(city=city, kind="subdistrict").values_list("pk", "path"))
    district = Unit.objects.get(city=city, kind="district").pk
    sus = [ServiceUnit.objects.create(city=city, code=f"SU{k}", name=f"单位{k}", duty_type="sanitation").pk
           for k in range(20)]
    t0 = time.perf_counter()
    base = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
    case_cols = ("id, city_id, number, category_id, urgency, source, title, description, address, lon, lat, units, "
                 "unit_path, state, level, max_level, head_role, routing_reasons, extension_pending, rework_count, "
                 "return_count, extension_count, rating, reported_at, accepted_at, dispatched_at, acknowledged_at, "
                 "handled_at, closed_at, first_response_due, handling_due, deadline_fallback_years, event_count, "
                 "head_hash, updated_at, district_id, subdistrict_id, handler_unit_id, moderation, "
                 "moderation_reasons, token")
    ev_cols = "case_id, city_id, seq, action, actor_ref, role, at, from_state, to_state, data, prev_hash, hash"
    steps = [("report", "citizen", "", "reported"), ("accept", "station_head", "reported", "accepted"),
             ("dispatch", "station_head", "accepted", "dispatched"),
             ("acknowledge", "unit_crew", "dispatched", "acknowledged"), ("handle", "unit_crew", "acknowledged",
                                                                          "handled")]
    batch = 5000
    ops = connection.ops
    when = ops.adapt_datetimefield_value  # as Django stores them: naive UTC text on SQLite, timestamptz on PG
    js = lambda value: ops.adapt_json_value(value, None)  # noqa: E731
    with transaction.atomic(), connection.cursor() as cur:
        for start in range(0, n, batch):
            crow, erow = [], []
            for i in range(start, min(n, start + batch)):
                at = base + dt.timedelta(seconds=31 * i)
                sub, path = subs[i % len(subs)]
                su = sus[i % len(sus)]
                moments = [at + dt.timedelta(hours=h) for h in (0, 1, 2, 3, 30)]
                times = [when(t) for t in moments]
                crow.append((i + 1, city.pk, f"2025{i + 1:07d}", cats[(i * 7) % len(cats)], "normal", "citizen",
                             "", "路灯不亮", "", 120.3 + (i % 1000) / 1e4, 36.0 + (i % 997) / 1e4, js({}), path,
                             "handled", "community", "community", "", js([]), False, 0, 0, 0, "", *times, None,
                             when(moments[2] + dt.timedelta(hours=2)), when(moments[2] + dt.timedelta(days=3)),
                             js([]), 5, "x" * 64, times[4], district, sub, su, "ok", js([]), ""))
                for seq, ((action, role, frm, to), t) in enumerate(zip(steps, times), start=1):
                    data = js({"unit": su, "unit_name": "单位"} if action == "dispatch" else {"note": "ok"})
                    erow.append((i + 1, city.pk, seq, action, "person:1", role, t, frm, to, data, "0" * 64, "1" * 64))
            if connection.vendor == "postgresql":  # COPY: row-by-row INSERTs would take minutes here
                for table, cols, rows_ in (("cases_case", case_cols, crow), ("cases_caseevent", ev_cols, erow)):
                    with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows_:
                            copy.write_row(row)
            else:
                cur.executemany(f"INSERT INTO cases_case ({case_cols}) VALUES ({', '.join(['%s'] * 41)})", crow)
                cur.executemany(f"INSERT INTO cases_caseevent ({ev_cols}) VALUES ({', '.join(['%s'] * 12)})", erow)
    return city.pk, time.perf_counter() - t0


def compare_ways(city_id: int, vendor: str) -> dict:
    """Other ways of moving the cases table (the widest) from the operational database into DuckDB, timed on
    the same rows as store.load's: client-side CSV (fetchmany + csv.writer + read_csv) and executemany."""
    import csv

    import duckdb
    from django.db import connection

    from cogov.insight import store

    read = next(r for r in store._reads(city_id, vendor) if r.name == "cases")
    exprs = [f"({e} AT TIME ZONE 'UTC')" if k == "TIMESTAMP" and vendor == "postgresql" else e
             for _, k, e in read.columns]
    sql = f"SELECT {', '.join(exprs)} FROM {read.table} WHERE {read.where} ORDER BY {read.order}"
    types = ", ".join(f"{n} {k}" for n, k, _ in read.columns)
    out: dict = {}
    # 1. what store.load does (server or SQLite writes the CSV lines) + read_csv
    con = duckdb.connect()
    con.execute(f"CREATE TABLE raw ({types})")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, connection.cursor() as cur:
        path = Path(tmp) / "cases.csv"
        with open(path, "wb") as f:
            (store._copy_postgresql if vendor == "postgresql" else store._copy_sqlite)(cur, read, f)
        con.execute(f"INSERT INTO raw SELECT * FROM {store._csv_source(path, read)}")
    out["server_csv"] = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    con.execute("DELETE FROM raw")
    # 2. rows into Python (fetchmany), csv.writer to a temporary file, read_csv
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, connection.cursor() as cur:
        path = Path(tmp) / "cases.csv"
        cur.execute(sql)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            while batch := cur.fetchmany(store.BATCH):
                w.writerows(batch)
        con.execute(f"INSERT INTO raw SELECT * FROM {store._csv_source(path, read)}")
    out["client_csv"] = time.perf_counter() - t0
    con.execute("DELETE FROM raw")
    # 3. executemany into DuckDB, on the first 2,000 rows
    with connection.cursor() as cur:
        cur.execute(sql + " LIMIT 2000")
        sample = [tuple(None if v is None else str(v) if isinstance(v, dt.datetime) else v for v in r)
                  for r in cur.fetchall()]
    t0 = time.perf_counter()
    con.executemany(f"INSERT INTO raw VALUES ({', '.join(['?'] * len(read.columns))})", sample)
    out["executemany_per_row"] = (time.perf_counter() - t0) / max(1, len(sample))
    con.close()
    out["rows"] = rows
    return out


def step_load_bench(n: int, vendor: str) -> dict:
    """Process: a scratch operational database of ``n`` cases, then ``store.load`` into DuckDB, timed."""
    tmp = tempfile.mkdtemp(prefix="cogov-bench-load-")
    os.environ["COGOV_DATA_DIR"] = tmp
    if vendor == "postgresql":
        os.environ["COGOV_DATABASE_URL"] = os.environ.get(
            "COGOV_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/cogov_bench_store")
        import psycopg

        url = os.environ["COGOV_DATABASE_URL"]
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    else:
        os.environ.pop("COGOV_DATABASE_URL", None)
    from cogov.cli import _migrate, _setup

    _setup(tmp)
    _migrate()
    import duckdb

    from cogov.insight import store

    city_id, t_fill = fill_operational(n)
    result = {"vendor": vendor, "n": n, "fill": t_fill, "runs": []}
    for _ in range(3):
        con = duckdb.connect()
        configure(con, 2)
        t0 = time.perf_counter()
        counts = store.load(con, city_id=city_id)
        result["runs"].append(time.perf_counter() - t0)
        con.close()
    result["counts"] = counts
    # what was loaded is what was written: every case, its five events, the unit on dispatch, acknowledge, handle
    con = duckdb.connect()
    store.load(con, city_id=city_id)
    assert counts["cases"] == n and counts["events"] == 5 * n, counts
    assert con.execute("SELECT count(unit_id) FROM events").fetchone()[0] == 3 * n
    assert con.execute("SELECT min(reported_at) FROM cases").fetchone()[0] == dt.datetime(2025, 11, 1, 8)
    con.close()
    result["rss_mb"] = peak_rss_mb()
    result["ways"] = compare_ways(city_id, vendor)
    from django.db import connection

    connection.close()
    if vendor == "postgresql":
        import psycopg

        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def run_load_bench(a) -> int:
    vendors = ["sqlite", "postgresql"] if a.vendor == "both" else [a.vendor]
    ways = []
    print("| database | cases | events | fill by SQL s | store.load s (best of 3) | cases + events rows/s | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for v in vendors:
        r = run_child(["--load-one", str(a.load_bench), "--vendor", v])
        best = min(r["runs"])
        rows = r["counts"]["cases"] + r["counts"]["events"]
        print(f"| {v} | {r['counts']['cases']:,} | {r['counts']['events']:,} | {r['fill']:.1f} | {best:.2f} "
              f"(runs {', '.join(f'{x:.2f}' for x in r['runs'])}) | {rows / best:,.0f} | {r['rss_mb']:.0f} |",
              flush=True)
        ways.append((v, r["ways"]))
    print("\nThe cases table alone (32 columns), other ways into DuckDB:\n")
    print("| database | rows | database writes CSV + read_csv (store.load) | fetchmany + csv.writer + read_csv "
          "| executemany into DuckDB (from 2,000 rows) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for v, w in ways:
        print(f"| {v} | {w['rows']:,} | {w['server_csv']:.2f} s ({w['rows'] / w['server_csv']:,.0f}/s) | "
              f"{w['client_csv']:.2f} s ({w['rows'] / w['client_csv']:,.0f}/s) | "
              f"{1 / w['executemany_per_row']:,.0f} rows/s (≈ {w['rows'] * w['executemany_per_row']:.0f} s) |")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000000,3000000,10000000", help="case counts, comma separated")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads (SET threads)")
    p.add_argument("--db", help="generate into this DuckDB file (+ .N) instead of memory")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "cogov-bench-insight"),
                   help="where the Parquet exports go")
    p.add_argument("--store", default="parquet", choices=("memory", "parquet"),
                   help="analyse on views over the Parquet files (default) or on the export read into memory")
    p.add_argument("--reuse", action="store_true", help="reuse an export already in --work")
    p.add_argument("--keep", action="store_true", help="keep the exports (for --reuse)")
    p.add_argument("--load-bench", type=int, help="measure store.load from the operational database with N cases")
    p.add_argument("--vendor", default="both", choices=("sqlite", "postgresql", "both"))
    p.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    p.add_argument("--analyse", help=argparse.SUPPRESS)
    p.add_argument("--load-one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--add-keys", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.generate:
        print(json.dumps(step_generate(a.generate, Path(a.out), a.threads, a.db)))
        return 0
    if a.analyse:
        print(json.dumps(step_analyse(Path(a.analyse), a.threads, a.store), default=str))
        return 0
    if a.add_keys:
        print(json.dumps(step_add_keys(Path(a.add_keys), a.threads)))
        return 0
    if a.load_one:
        print(json.dumps(step_load_bench(a.load_one, a.vendor)))
        return 0
    if a.load_bench:
        return run_load_bench(a)
    return run_sizes(a)


if __name__ == "__main__":
    sys.exit(main())
