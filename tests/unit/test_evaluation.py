"""Monthly evaluation of units and areas on a hand-made October 2026 (every figure computed by hand below).

The city: sub-district 香港中路街道 → communities 湛山社区 / 八大关社区 → one station each (湛山站, 八大关站); units
环卫一队 (U1), 绿化养护中心 (U2), 市政设施维护处 (U3). Judged as of 2026-11-05 00:00.

- case 1 (湛山站): U1 signs in 0.5 h (due 1 h), handles in 24 h (on time), closed, 满意.
- case 2 (湛山站): U2 is dispatched, sends it back after 2 h (late: the deadline span is 1 h); U1 gets it, signs
  2 h after dispatch (late), handles, is reworked once, handles again on time; closed, 不满意.
- case 3 (八大关站): U1 signs in 0.75 h; escalated; still in hand, handling deadline passed (overdue).
- case 4 (八大关站): accepted, never dispatched, first-response deadline passed.
- case 5 (八大关站): dispatched to U3 on 10-31, nothing due yet (left out of every rate).
- case 11 (八大关站): U2 signs in 20 min, handles 2 days late, closed, 基本满意.
- case 12: outside the map (only the city row counts it), nothing due yet.
- left out: case 6 不予立案, case 7 merged, case 9 another city, case 10 November; case 8 is September (U1, perfect).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from cogov.insight import evaluation as E
from cogov.insight import store

CITY = 1
AS_OF = dt.datetime(2026, 11, 5)
S1, C1, C2, T1, T2 = 10, 20, 21, 30, 31
U1, U2, U3 = 1, 2, 3
AREA = {T1: (S1, C1, T1), T2: (S1, C2, T2), None: (None, None, None)}


def t(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%m-%d %H:%M").replace(year=2026)


def add_case(con, cid, *, station, reported, state, history=(), handler=None, rating="", city=CITY, merged=None,
             frd=None, hdue=None, moderation="ok"):
    """Insert a case and its events; ``history`` is [(action, 'MM-DD HH:MM', unit_id or None), ...]."""
    sub, com, sta = AREA[station]
    times: dict[str, dt.datetime] = {}
    seq = 1
    con.execute("INSERT INTO events VALUES (?, ?, 'report', ?, 'citizen', 'reported', NULL)",
                [cid, seq, t(reported)])
    for action, at, unit in history:
        seq += 1
        con.execute("INSERT INTO events VALUES (?, ?, ?, ?, 'x', 'x', ?)", [cid, seq, action, t(at), unit])
        times[action] = t(at)  # the case row keeps the latest of each
    row = dict(id=cid, city_id=city, number=f"N{cid}", category_id=1, category_code="c", category_name="类别",
               category_kind="matter", major_code="", urgency="normal", source="citizen", lon=120.3, lat=36.0,
               district_id=1, subdistrict_id=sub, community_id=com, station_id=sta, handler_unit_id=handler,
               state=state, level="community", max_level="community", rework_count=0, return_count=0,
               extension_count=0, rating=rating, merged_into_id=merged, moderation=moderation,
               reported_at=t(reported), accepted_at=times.get("accept"), dispatched_at=times.get("dispatch"),
               acknowledged_at=times.get("acknowledge"), handled_at=times.get("handle"),
               closed_at=times.get("close"), escalated_at=times.get("escalate"),
               first_response_due=frd and t(frd), handling_due=hdue and t(hdue), unit_path="")
    con.execute(f"INSERT INTO cases ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def build_october(con) -> None:
    """Fill an empty store (``store.create_schema``) with the city and the cases described at the top."""
    con.executemany("INSERT INTO units VALUES (?, 1, ?, ?, ?, ?, '')", [
        (S1, "subdistrict", "370202001", "香港中路街道", None),
        (C1, "community", "370202001001", "湛山社区", S1), (C2, "community", "370202001002", "八大关社区", S1),
        (T1, "station", "37020200100101", "湛山站", C1), (T2, "station", "37020200100201", "八大关站", C2)])
    con.executemany("INSERT INTO service_units VALUES (?, 1, ?, ?, 'sanitation')",
                    [(U1, "U1", "环卫一队"), (U2, "U2", "绿化养护中心"), (U3, "U3", "市政设施维护处")])
    add_case(con, 1, station=T1, reported="10-01 08:00", state="closed", handler=U1, rating="satisfied",
             frd="10-01 10:00", hdue="10-04 09:00",
             history=[("accept", "10-01 08:10", None), ("dispatch", "10-01 09:00", U1),
                      ("acknowledge", "10-01 09:30", U1), ("handle", "10-02 09:00", U1),
                      ("verify", "10-02 11:00", None), ("close", "10-02 12:00", None), ("rate", "10-03 08:00", None)])
    add_case(con, 2, station=T1, reported="10-03 08:00", state="closed", handler=U1, rating="dissatisfied",
             frd="10-03 13:00", hdue="10-06 12:00",
             history=[("accept", "10-03 08:30", None), ("dispatch", "10-03 09:00", U2),
                      ("return", "10-03 11:00", None),  # the store may leave unit_id empty: the holder is known
                      ("dispatch", "10-03 12:00", U1), ("acknowledge", "10-03 14:00", U1),
                      ("handle", "10-05 12:00", U1), ("rework", "10-05 15:00", None),
                      ("handle", "10-06 10:00", U1), ("verify", "10-06 10:30", None), ("close", "10-06 11:00", None)])
    add_case(con, 3, station=T2, reported="10-10 08:00", state="acknowledged", handler=U1,
             frd="10-10 10:00", hdue="10-13 09:00",
             history=[("accept", "10-10 08:30", None), ("dispatch", "10-10 09:00", U1),
                      ("acknowledge", "10-10 09:45", U1), ("escalate", "10-20 09:00", None)])
    add_case(con, 4, station=T2, reported="10-30 08:00", state="accepted", frd="10-30 09:00",
             history=[("accept", "10-30 08:20", None)])
    add_case(con, 5, station=T2, reported="10-31 20:00", state="dispatched", handler=U3,
             frd="11-06 09:00", hdue="11-10 09:00",
             history=[("accept", "10-31 20:30", None), ("dispatch", "10-31 21:00", U3)])
    add_case(con, 6, station=T1, reported="10-05 08:00", state="not_accepted", frd="10-05 09:00",
             history=[("reject", "10-05 08:30", None)])
    add_case(con, 7, station=T1, reported="10-06 08:00", state="merged", merged=1, frd="10-06 09:00",
             history=[("merge", "10-06 08:30", None)])
    add_case(con, 8, station=T1, reported="09-15 08:00", state="closed", handler=U1, rating="satisfied",
             frd="09-15 10:00", hdue="09-18 09:00",
             history=[("accept", "09-15 08:10", None), ("dispatch", "09-15 09:00", U1),
                      ("acknowledge", "09-15 09:20", U1), ("handle", "09-16 09:00", U1),
                      ("verify", "09-16 10:00", None), ("close", "09-16 11:00", None)])
    add_case(con, 9, station=T1, reported="10-08 08:00", state="closed", handler=U1, rating="satisfied", city=2,
             frd="10-08 10:00", hdue="10-09 09:00",
             history=[("dispatch", "10-08 09:00", U1), ("acknowledge", "10-08 09:10", U1)])
    add_case(con, 10, station=T1, reported="11-01 00:00", state="reported", frd="11-01 09:00")
    add_case(con, 11, station=T2, reported="10-15 08:00", state="closed", handler=U2, rating="basically_satisfied",
             frd="10-15 10:00", hdue="10-18 09:00",
             history=[("accept", "10-15 08:30", None), ("dispatch", "10-15 09:00", U2),
                      ("acknowledge", "10-15 09:20", U2), ("handle", "10-20 09:00", U2),
                      ("verify", "10-20 09:30", None), ("close", "10-20 10:00", None)])
    add_case(con, 12, station=None, reported="10-20 08:00", state="reported", frd="11-20 09:00")


@pytest.fixture()
def con():
    con = duckdb.connect()
    store.create_schema(con)
    build_october(con)
    return con


@pytest.fixture()
def result(con):
    return E.monthly(con, city_id=CITY, month="2026-10", as_of=AS_OF)


def by_name(rows):
    return {r["name"]: r for r in rows}


def test_units_three_rates_and_attribution(result):
    units = by_name(result["unit"])
    u1, u2, u3 = units["环卫一队"], units["绿化养护中心"], units["市政设施维护处"]
    # U1: dispatched cases 1, 2 (second dispatch), 3 — on time 1 and 3
    assert (u1["cases"], u1["dispatches"], u1["response_due"], u1["responded"]) == (3, 3, 3, 2)
    assert u1["response_rate"] == pytest.approx(2 / 3)
    assert (u1["held"], u1["resolution_due"], u1["resolved"]) == (3, 3, 2)  # case 3 overdue, unresolved
    assert (u1["rated"], u1["satisfied"], u1["satisfaction_rate"]) == (2, 1, 0.5)
    assert (u1["ontime_due"], u1["ontime"]) == (3, 2)
    assert (u1["handled"], u1["reworked"], u1["rework_rate"]) == (2, 1, 0.5)
    assert (u1["returns"], u1["escalations"]) == (0, 1)
    assert u1["score"] == pytest.approx(100 * (0.30 * 2 / 3 + 0.35 * 2 / 3 + 0.35 * 0.5))
    # U2 returned case 2 (charged to U2 though U1 finished it and is its handler now), late; case 11 on time
    assert (u2["cases"], u2["dispatches"], u2["response_due"], u2["responded"]) == (2, 2, 2, 1)
    assert (u2["returns"], u2["return_rate"]) == (1, 0.5)
    assert (u2["held"], u2["resolved"], u2["resolution_rate"]) == (1, 1, 1.0)
    assert (u2["satisfaction_rate"], u2["ontime_due"], u2["ontime"], u2["ontime_rate"]) == (1.0, 1, 0, 0.0)
    assert (u2["handled"], u2["reworked"], u2["rework_rate"]) == (1, 0, 0.0)
    assert u2["score"] == pytest.approx(85.0)
    # U3: case 5, nothing due yet: no rate, no score, no rank
    assert (u3["cases"], u3["held"], u3["response_due"], u3["resolution_due"], u3["rated"]) == (1, 1, 0, 0, 0)
    assert u3["response_rate"] is None and u3["score"] is None and u3["rank"] is None
    assert [(r["name"], r["rank"]) for r in result["unit"]] == [("绿化养护中心", 1), ("环卫一队", 2),
                                                                 ("市政设施维护处", None)]


def test_unit_times_mean_and_p90(result):
    units = by_name(result["unit"])
    u1, u2 = units["环卫一队"], units["绿化养护中心"]
    # response: 0.5, 2.0, 0.75 h; p90 (linear) = 0.75 + 0.8 × 1.25
    assert u1["response_hours_avg"] == pytest.approx(3.25 / 3)
    assert u1["response_hours_p90"] == pytest.approx(1.75)
    # handling (current dispatch → handled): 24 h and 70 h
    assert u1["handling_hours_avg"] == pytest.approx(47.0)
    assert u1["handling_hours_p90"] == pytest.approx(24 + 0.9 * 46)
    assert u2["response_hours_avg"] == pytest.approx((2 + 1 / 3) / 2)
    assert u2["response_hours_p90"] == pytest.approx(1 / 3 + 0.9 * (2 - 1 / 3))
    assert u2["handling_hours_p90"] == pytest.approx(120.0)


def test_stations_communities_subdistrict_city(result):
    t1, t2 = by_name(result["station"])["湛山站"], by_name(result["station"])["八大关站"]
    assert (t1["cases"], t1["response_due"], t1["responded"]) == (2, 2, 1)  # case 2: U2 was late
    assert (t1["resolution_rate"], t1["satisfaction_rate"], t1["ontime_rate"], t1["rework_rate"]) == (1, .5, 1, .5)
    assert (t1["returns"], t1["escalations"], t1["parent"]) == (1, 0, "湛山社区")
    assert t1["response_hours_avg"] == pytest.approx(3.75) and t1["response_hours_p90"] == pytest.approx(5.55)
    assert t1["handling_hours_avg"] == pytest.approx(49.5) and t1["handling_hours_p90"] == pytest.approx(69.1)
    assert t1["score"] == pytest.approx(67.5)
    # T2: case 4 undispatched and late counts as not responded; case 5 is not due anywhere
    assert (t2["cases"], t2["response_due"], t2["responded"]) == (4, 3, 2)
    assert (t2["resolution_due"], t2["resolved"], t2["rated"], t2["satisfied"]) == (3, 1, 1, 1)
    assert (t2["ontime_due"], t2["ontime"], t2["handled"], t2["reworked"]) == (2, 0, 1, 0)
    assert (t2["returns"], t2["escalations"]) == (0, 1)
    assert t2["response_hours_avg"] == pytest.approx((1.75 + 4 / 3) / 2)
    assert t2["handling_hours_avg"] == pytest.approx(121.0)
    assert t2["score"] == pytest.approx(100 * (0.30 * 2 / 3 + 0.35 / 3 + 0.35))
    assert [(r["name"], r["rank"]) for r in result["station"]] == [("湛山站", 1), ("八大关站", 2)]
    assert {r["name"]: r["cases"] for r in result["community"]} == {"湛山社区": 2, "八大关社区": 4}
    (s1,) = result["subdistrict"]
    assert (s1["name"], s1["cases"], s1["responded"], s1["response_due"], s1["resolved"], s1["resolution_due"]) == (
        "香港中路街道", 6, 3, 5, 3, 5)
    assert (s1["satisfied"], s1["rated"], s1["ontime"], s1["ontime_due"], s1["returns"]) == (2, 3, 2, 4, 1)
    (city,) = result["city"]
    assert city["cases"] == 7 and city["responded"] == 3 and city["response_due"] == 5  # case 12 off the map


def test_previous_month_comparison(result):
    u1 = by_name(result["unit"])["环卫一队"]
    assert (u1["prev_cases"], u1["prev_response_rate"], u1["prev_score"], u1["prev_rank"]) == (1, 1.0, 100.0, 1)
    assert by_name(result["unit"])["绿化养护中心"]["prev_cases"] is None
    assert result["city"][0]["prev_cases"] == 1 and result["unit"][0]["prev_month"] == "2026-09"


def test_not_yet_due_depends_on_as_of(con):
    early = E.monthly(con, city_id=CITY, month="2026-10", as_of=dt.datetime(2026, 10, 30, 8, 30))
    t2 = by_name(early["station"])["八大关站"]
    # case 4's first-response deadline (10-30 09:00) has not passed yet
    assert (t2["response_due"], t2["responded"]) == (2, 2)


def test_empty_month_and_bad_month(con):
    empty = E.monthly(con, city_id=CITY, month="2026-12", as_of=AS_OF)
    assert all(empty[level] == [] for level in E.LEVELS)
    assert empty["city"][0]["cases"] == 0 and empty["city"][0]["response_rate"] is None
    assert empty["city"][0]["prev_cases"] == 1  # November: case 10
    for bad in ("2026-13", "2026-1", "10/2026", "", "2026-00"):
        with pytest.raises(E.EvaluationError, match="YYYY-MM"):
            E.monthly(con, city_id=CITY, month=bad)


def test_month_bounds_cross_years():
    assert E.month_bounds("2026-01") == (dt.datetime(2025, 12, 1), dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1))
    assert E.month_bounds("2026-12")[2] == dt.datetime(2027, 1, 1)
    assert E.previous_month("2026-03") == "2026-02"


def test_confirmed_duplicates_merges_and_follows(con):
    """重复反映: case 7 was merged into case 1 (湛山站); people followed case 1 twice and case 3 (八大关站) once in
    October; a follow in November, a follow of another city's case 9 and a September follow do not count."""
    con.executemany('INSERT INTO follows VALUES (?, ?)', [
        (1, t("10-01 12:00")), (1, t("10-02 08:00")), (3, t("10-11 09:00")),
        (3, t("11-02 09:00")), (9, t("10-08 10:00")), (8, t("09-15 12:00")), (8, t("10-01 07:00"))])
    got = E.confirmed_duplicates(con, city_id=CITY, month="2026-10")
    stations = by_name(got["station"])
    zhan, bada = stations["湛山站"], stations["八大关站"]
    # 湛山站: cases 1, 2, 6, 7 (6 not accepted still counts as a report; 8 is September) — 7 merged, 2 follows
    # of case 1 and one made on 1 October of September's case 8 (a follow counts in the month it was made)
    assert (zhan["reports"], zhan["merged"], zhan["follows"], zhan["confirmed"]) == (4, 1, 3, 4)
    assert zhan["share"] == pytest.approx(4 / 7)
    # 八大关站: cases 3, 4, 5, 11 — 1 follow in October
    assert (bada["reports"], bada["merged"], bada["follows"], bada["confirmed"]) == (4, 0, 1, 1)
    assert [r["name"] for r in got["station"]] == ["湛山站", "八大关站"]  # most confirmed first
    assert by_name(got["subdistrict"])["香港中路街道"]["confirmed"] == 5
    city = got["city"][0]
    # the city row also holds case 12 (no station) — 9 reports, 1 merged, 4 follows
    assert (city["reports"], city["merged"], city["follows"], city["confirmed"]) == (9, 1, 4, 5)
    empty = E.confirmed_duplicates(con, city_id=CITY, month="2026-07")
    assert empty["station"] == [] and empty["city"][0]["confirmed"] == 0 and empty["city"][0]["share"] is None
