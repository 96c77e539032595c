"""Monthly evaluation of professional units, stations, communities and sub-districts (单位与站点评估, issue 5).

``monthly(con, city_id=…, month="2026-10")`` reads the analytics store (``cogov.insight.store``) and returns,
per level, one row per body with the 三率 of 12345 接诉即办 (响应率, 解决率, 满意率), the on-time and rework rates,
returns, escalations, response and handling times (mean and p90), a composite score and the rank, with the
previous month's figures beside them (环比). Every formula is in docs/insight.md ("单位与站点评估"); all of it is
one DuckDB query, so the same code answers for a demo city and for ten million cases.

Population: the month's **valid cases** — ``reported_at`` in the month, not merged, moderation ``ok``, not
rejected (不予立案). Outcomes are read as they stand in the store; "due" is judged at ``as_of``.
Areas get a case by where it lies. A unit gets a case when it was dispatched to it (events), is charged with
the returns, reworks and escalations that happened while it held the case (events), and with the outcome
(resolution, satisfaction, on-time handling, handling time) of the cases it holds now (``handler_unit_id``).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

LEVELS = ("unit", "station", "community", "subdistrict")

#: Composite score weights of the 三率 (one county's 30/35/35, DOMAIN.md); rates without cases drop out and the
#: remaining weights are rescaled.
WEIGHTS = {"response_rate": 0.30, "resolution_rate": 0.35, "satisfaction_rate": 0.35}

#: Figures carried from the previous month onto each row as ``prev_<name>`` (环比).
COMPARED = ("cases", "response_rate", "resolution_rate", "satisfaction_rate", "ontime_rate", "rework_rate",
            "returns", "escalations", "score", "rank")

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class EvaluationError(ValueError):
    """Bad input to the evaluation (the message is Chinese, for the CLI)."""


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """``(previous month start, month start, next month start)`` of ``'YYYY-MM'``; EvaluationError if
    malformed."""
    m = _MONTH.match(month or "")
    if not m:
        raise EvaluationError(f"月份格式应为 YYYY-MM（如 2026-10），收到：{month!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    if year < 1900:
        raise EvaluationError(f"月份超出范围：{month}")
    start = dt.datetime(year, mon, 1)
    nxt = dt.datetime(year + mon // 12, mon % 12 + 1, 1)
    prev = dt.datetime(year - (mon == 1), (mon - 2) % 12 + 1, 1)
    return prev, start, nxt


def previous_month(month: str) -> str:
    """``'2026-10'`` → ``'2026-09'``."""
    return month_bounds(month)[0].strftime("%Y-%m")


#: The outcome counts of a group of cases (``cf`` rows): an area's cases, or the cases a unit holds now.
_OUTCOMES = """count(*) FILTER (WHERE res_due) AS resolution_due,
           count(*) FILTER (WHERE res_due AND resolved) AS resolved,
           count(*) FILTER (WHERE rated) AS rated,
           count(*) FILTER (WHERE rated AND satisfied) AS satisfied,
           count(*) FILTER (WHERE ot_due) AS ontime_due,
           count(*) FILTER (WHERE ot_due AND ot_ok) AS ontime,"""

# One pass over the two months (mo = 0: the month, 1: the month before). Hours are wall-clock hours.
_SQL = """
WITH
c AS (
    SELECT id, subdistrict_id, community_id, station_id, handler_unit_id, state, rating,
           reported_at, dispatched_at, handled_at, closed_at, escalated_at, first_response_due, handling_due,
           CASE WHEN reported_at >= $m0 THEN 0 ELSE 1 END AS mo
    FROM cases
    WHERE city_id = $city AND reported_at >= $p0 AND reported_at < $m1
      AND merged_into_id IS NULL AND moderation = 'ok' AND state NOT IN ('not_accepted', 'merged')
),
ev AS (
    SELECT case_id, seq, action, "at" AS ts, unit_id
    FROM events
    WHERE case_id BETWEEN $lo AND $hi  -- a constant range first: zone maps skip the other months' row groups
      AND case_id IN (SELECT id FROM c)
      AND action IN ('report', 'dispatch', 'acknowledge', 'return', 'handle', 'rework', 'escalate',
                     'resume', 'reopen')
),
ce AS (  -- one row per case: what its events say
    SELECT case_id,
           count(*) FILTER (WHERE action = 'dispatch') AS n_dispatch,
           count(*) FILTER (WHERE action IN ('return', 'resume', 'reopen')) AS n_reset,
           min(seq) FILTER (WHERE action = 'dispatch') AS first_dseq,
           arg_min(unit_id, seq) FILTER (WHERE action = 'dispatch') AS first_unit,
           min(ts) FILTER (WHERE action = 'acknowledge') AS first_ack_at,
           bool_or(action = 'handle') AS handled_any,
           bool_or(action = 'rework') AS reworked_any,
           bool_or(action = 'escalate') AS escalated_ev,
           count(*) FILTER (WHERE action = 'return') AS returns,
           -- the first-response deadline in force now was set by the latest of these events; it is exact for
           -- the current dispatch and carried, as the same span, to earlier (returned) dispatches, whose own
           -- deadline the store does not keep
           max(ts) FILTER (WHERE action IN ('report', 'dispatch', 'return', 'resume', 'reopen')) AS anchor_at
    FROM ev GROUP BY case_id
),
-- au: the unit an event is charged to — the unit of the dispatch in force (a return, resume or reopen
-- ends it), NULL when no unit held the case. Most cases have one dispatch and no reset: no window needed for them.
ea AS (
    SELECT ev.case_id, ev.seq, ev.action, ev.ts,
           CASE WHEN ev.seq >= ce.first_dseq THEN ce.first_dseq END AS dseq,
           CASE WHEN ev.seq >= ce.first_dseq THEN coalesce(ev.unit_id, ce.first_unit) END AS au
    FROM ev JOIN ce ON ce.case_id = ev.case_id
    WHERE ce.n_dispatch <= 1 AND ce.n_reset = 0
    UNION ALL
    SELECT case_id, seq, action, ts, dseq,
           CASE WHEN action = 'dispatch' THEN unit_id
                WHEN dseq IS NOT NULL AND (rseq IS NULL OR rseq < dseq) THEN coalesce(unit_id, dunit)
           END AS au
    FROM (
        SELECT *,
               max(CASE WHEN action = 'dispatch' THEN seq END) OVER upto AS dseq,
               last_value(CASE WHEN action = 'dispatch' THEN unit_id END IGNORE NULLS) OVER upto AS dunit,
               max(CASE WHEN action IN ('return', 'resume', 'reopen') THEN seq END) OVER before AS rseq
        FROM ev
        WHERE case_id IN (SELECT case_id FROM ce WHERE n_dispatch > 1 OR n_reset > 0)
        WINDOW upto AS (PARTITION BY case_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               before AS (PARTITION BY case_id ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    )
),
reaction AS (  -- a unit's first reaction to a dispatch: it signs for the case or sends it back
    SELECT case_id, dseq, min(ts) AS r_at FROM ea
    WHERE action IN ('acknowledge', 'return') AND au IS NOT NULL GROUP BY case_id, dseq
),
d0 AS (
    SELECT x.case_id, x.seq AS dseq, x.au AS unit, x.ts AS d_at, c.mo, r.r_at,
           x.ts + (c.first_response_due - coalesce(a.anchor_at, c.reported_at)) AS due
    FROM ea x
    JOIN c ON c.id = x.case_id
    LEFT JOIN ce a ON a.case_id = x.case_id
    LEFT JOIN reaction r ON r.case_id = x.case_id AND r.dseq = x.seq
    WHERE x.action = 'dispatch'
),
d AS (
    SELECT *,
           due IS NOT NULL AND (r_at IS NOT NULL OR due < $as_of) AS resp_due,
           coalesce(r_at <= due, false) AS resp_ok,
           date_diff('second', d_at, r_at) / 3600.0 AS resp_h
    FROM d0
),
cf AS (  -- one row per case: the facts every level counts
    SELECT c.id, c.mo, c.subdistrict_id, c.community_id, c.station_id, c.handler_unit_id,
           CASE WHEN ce.first_dseq IS NOT NULL THEN coalesce(fd.resp_due, false)
                ELSE c.state IN ('reported', 'accepted') AND c.first_response_due < $as_of END AS resp_due,
           coalesce(fd.resp_ok, false) AS resp_ok,
           date_diff('second', c.reported_at, ce.first_ack_at) / 3600.0 AS resp_h,
           c.state IN ('verified', 'closed') AS resolved,
           c.state <> 'suspended' AND (c.state IN ('verified', 'closed')
               OR coalesce(c.handling_due, c.first_response_due) < $as_of) AS res_due,
           c.rating <> '' AS rated,
           c.rating IN ('satisfied', 'basically_satisfied') AS satisfied,
           c.handling_due IS NOT NULL AND c.state <> 'suspended'
               AND (c.state IN ('handled', 'verified', 'closed') OR c.handling_due < $as_of) AS ot_due,
           c.state IN ('handled', 'verified', 'closed') AND c.handled_at <= c.handling_due AS ot_ok,
           coalesce(ce.handled_any, false) AS handled_any,
           coalesce(ce.handled_any AND ce.reworked_any, false) AS reworked,
           coalesce(ce.escalated_ev, false) OR c.escalated_at IS NOT NULL AS escalated,
           coalesce(ce.returns, 0) AS returns,
           CASE WHEN c.state IN ('handled', 'verified', 'closed')
                THEN date_diff('second', c.reported_at, c.handled_at) / 3600.0 END AS area_hand_h,
           CASE WHEN c.state IN ('handled', 'verified', 'closed')
                THEN date_diff('second', c.dispatched_at, c.handled_at) / 3600.0 END AS unit_hand_h
    FROM c
    LEFT JOIN ce ON ce.case_id = c.id
    LEFT JOIN d fd ON fd.case_id = c.id AND fd.dseq = ce.first_dseq
),
areas AS (
    SELECT mo,
           CASE WHEN grouping(subdistrict_id) = 0 THEN 'subdistrict'
                WHEN grouping(community_id) = 0 THEN 'community'
                WHEN grouping(station_id) = 0 THEN 'station' ELSE 'city' END AS level,
           coalesce(subdistrict_id, community_id, station_id) AS body_id,
           count(*) AS cases, NULL::BIGINT AS dispatches, NULL::BIGINT AS held,
           count(*) FILTER (WHERE resp_due) AS response_due,
           count(*) FILTER (WHERE resp_due AND resp_ok) AS responded,
           /*outcomes*/
           count(*) FILTER (WHERE handled_any) AS handled,
           count(*) FILTER (WHERE reworked) AS reworked,
           sum(returns) AS returns,
           count(*) FILTER (WHERE escalated) AS escalations,
           avg(resp_h) AS response_hours_avg, quantile_cont(resp_h, 0.9) AS response_hours_p90,
           avg(area_hand_h) AS handling_hours_avg, quantile_cont(area_hand_h, 0.9) AS handling_hours_p90
    FROM cf
    GROUP BY GROUPING SETS ((mo, subdistrict_id), (mo, community_id), (mo, station_id), (mo))
),
u_disp AS (
    SELECT mo, unit, count(DISTINCT case_id) AS cases, count(*) AS dispatches,
           count(*) FILTER (WHERE resp_due) AS response_due,
           count(*) FILTER (WHERE resp_due AND resp_ok) AS responded,
           avg(resp_h) AS response_hours_avg, quantile_cont(resp_h, 0.9) AS response_hours_p90
    FROM d WHERE unit IS NOT NULL GROUP BY mo, unit
),
u_ev AS (
    SELECT c.mo, ea.au AS unit,
           count(*) FILTER (WHERE action = 'return') AS returns,
           count(DISTINCT ea.case_id) FILTER (WHERE action = 'handle') AS handled,
           count(DISTINCT ea.case_id) FILTER (WHERE action = 'rework') AS reworked,
           count(DISTINCT ea.case_id) FILTER (WHERE action = 'escalate') AS escalations
    FROM ea JOIN c ON c.id = ea.case_id
    WHERE ea.au IS NOT NULL AND action IN ('return', 'handle', 'rework', 'escalate')
    GROUP BY c.mo, ea.au
),
u_held AS (
    SELECT mo, handler_unit_id AS unit, count(*) AS held,
           /*outcomes*/
           avg(unit_hand_h) AS handling_hours_avg, quantile_cont(unit_hand_h, 0.9) AS handling_hours_p90
    FROM cf WHERE handler_unit_id IS NOT NULL GROUP BY mo, handler_unit_id
),
u_keys AS (
    SELECT mo, unit FROM u_disp UNION SELECT mo, unit FROM u_ev UNION SELECT mo, unit FROM u_held
),
units_ AS (
    SELECT k.mo, 'unit' AS level, k.unit AS body_id,
           coalesce(a.cases, 0) AS cases, coalesce(a.dispatches, 0) AS dispatches,
           coalesce(h.held, 0) AS held,
           coalesce(a.response_due, 0) AS response_due, coalesce(a.responded, 0) AS responded,
           coalesce(h.resolution_due, 0) AS resolution_due, coalesce(h.resolved, 0) AS resolved,
           coalesce(h.rated, 0) AS rated, coalesce(h.satisfied, 0) AS satisfied,
           coalesce(h.ontime_due, 0) AS ontime_due, coalesce(h.ontime, 0) AS ontime,
           coalesce(e.handled, 0) AS handled, coalesce(e.reworked, 0) AS reworked,
           coalesce(e.returns, 0) AS returns, coalesce(e.escalations, 0) AS escalations,
           a.response_hours_avg, a.response_hours_p90, h.handling_hours_avg, h.handling_hours_p90
    FROM u_keys k
    LEFT JOIN u_disp a ON a.mo = k.mo AND a.unit = k.unit
    LEFT JOIN u_ev e ON e.mo = k.mo AND e.unit = k.unit
    LEFT JOIN u_held h ON h.mo = k.mo AND h.unit = k.unit
),
allb AS (
    SELECT * FROM areas WHERE body_id IS NOT NULL OR level = 'city'
    UNION ALL BY NAME
    SELECT * FROM units_
),
rates AS (
    SELECT *,
           responded / nullif(response_due, 0) AS response_rate,
           resolved / nullif(resolution_due, 0) AS resolution_rate,
           satisfied / nullif(rated, 0) AS satisfaction_rate,
           ontime / nullif(ontime_due, 0) AS ontime_rate,
           reworked / nullif(handled, 0) AS rework_rate,
           returns / nullif(CASE WHEN level = 'unit' THEN dispatches ELSE cases END, 0) AS return_rate
    FROM allb
),
scored AS (
    SELECT *,
           100 * ($w_r * coalesce(response_rate, 0) + $w_s * coalesce(resolution_rate, 0)
                  + $w_m * coalesce(satisfaction_rate, 0))
           / nullif($w_r * (response_rate IS NOT NULL)::INT + $w_s * (resolution_rate IS NOT NULL)::INT
                    + $w_m * (satisfaction_rate IS NOT NULL)::INT, 0) AS score
    FROM rates
)
SELECT s.*,
       CASE WHEN s.score IS NOT NULL AND s.level <> 'city'
            THEN rank() OVER (PARTITION BY s.mo, s.level ORDER BY s.score DESC NULLS LAST) END AS rank,
       CASE WHEN s.level = 'unit' THEN su.name WHEN s.level = 'city' THEN '' ELSE u.name END AS name,
       CASE WHEN s.level = 'unit' THEN su.code ELSE u.code END AS code,
       CASE WHEN s.level = 'unit' THEN su.duty_type ELSE coalesce(p.name, '') END AS parent
FROM scored s
LEFT JOIN service_units su ON s.level = 'unit' AND su.id = s.body_id
LEFT JOIN units u ON s.level NOT IN ('unit', 'city') AND u.id = s.body_id
LEFT JOIN units p ON p.id = u.parent_id
ORDER BY s.mo, s.level, rank NULLS LAST, s.cases DESC, name
""".replace("/*outcomes*/", _OUTCOMES)

#: Columns of each row, in the order of the CSV and the bulletin's data sheets.
COLUMNS = ("level", "id", "code", "name", "parent", "cases", "dispatches", "held",
           "response_due", "responded", "response_rate", "resolution_due", "resolved", "resolution_rate",
           "rated", "satisfied", "satisfaction_rate", "ontime_due", "ontime", "ontime_rate",
           "handled", "reworked", "rework_rate", "returns", "return_rate", "escalations",
           "response_hours_avg", "response_hours_p90", "handling_hours_avg", "handling_hours_p90",
           "score", "rank")


def _local_now() -> dt.datetime:
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None)


def monthly(con, *, city_id: int, month: str, as_of: dt.datetime | None = None) -> dict[str, list[dict]]:
    """The month's evaluation: ``{'unit': [...], 'station': [...], 'community': [...], 'subdistrict': [...],
    'city': [one row]}``, each list in rank order (bodies without a score last).

    ``as_of`` (local, naive; default now): the moment at which "due" is judged — a case whose deadline has not
    passed and that is not done yet leaves the denominator. Each row also holds ``month`` and ``prev_<x>`` for
    the figures in ``COMPARED`` (``None`` when the body had no case the month before).
    """
    p0, m0, m1 = month_bounds(month)
    if as_of is None:
        as_of = _local_now()
    params = {"city": int(city_id), "p0": p0, "m0": m0, "m1": m1, "as_of": as_of,
              "w_r": WEIGHTS["response_rate"], "w_s": WEIGHTS["resolution_rate"],
              "w_m": WEIGHTS["satisfaction_rate"]}
    lo, hi = con.execute("SELECT min(id), max(id) FROM cases WHERE city_id = $city AND reported_at >= $p0 "
                         "AND reported_at < $m1", {k: params[k] for k in ("city", "p0", "m1")}).fetchone()
    params.update(lo=lo if lo is not None else 0, hi=hi if hi is not None else -1)
    cur = con.execute(_SQL, params)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    prev_month = p0.strftime("%Y-%m")
    out: dict[str, list[dict]] = {level: [] for level in LEVELS + ("city",)}
    before: dict[tuple[str, int | None], dict] = {}
    for r in rows:
        r["id"] = r.pop("body_id")
        if r["mo"] == 1:
            before[(r["level"], r["id"])] = r
    for r in rows:
        if r["mo"] != 0:
            continue
        p = before.get((r["level"], r["id"]))
        row = {k: _plain(r[k]) for k in COLUMNS}
        row["month"] = month
        row["prev_month"] = prev_month
        for k in COMPARED:
            row[f"prev_{k}"] = _plain(p[k]) if p else None
        out[r["level"]].append(row)
    if not out["city"]:
        out["city"] = [_empty_city(month, prev_month, before.get(("city", None)))]
    return out


def _plain(v):
    """DuckDB values as plain Python (Decimal sums → int)."""
    if v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() else f


def _empty_city(month: str, prev_month: str, prev: dict | None) -> dict:
    row: dict = {k: None for k in COLUMNS}
    row.update(level="city", name="", code="", parent="", month=month, prev_month=prev_month)
    for k in ("cases", "response_due", "responded", "resolution_due", "resolved", "rated", "satisfied",
              "ontime_due", "ontime", "handled", "reworked", "returns", "escalations"):
        row[k] = 0
    for k in COMPARED:
        row[f"prev_{k}"] = _plain(prev[k]) if prev else None
    return row


def confirmed_duplicates(con, *, city_id: int, month: str) -> dict[str, list[dict]]:
    """重复反映 of the month: how often people reported a problem that was already reported, as the city confirmed
    it — a follow on the citizen page (关注「我也遇到了」: the citizen confirmed it is the same problem) or a report
    merged by the station (the station head confirmed it). Per station, community and sub-district (by where the
    case lies) and the city: ``reports`` (the month's cases, merged ones included, moderation ``ok``), ``merged``,
    ``follows`` (made in the month on any case of the area), ``confirmed`` = merged + follows and ``share`` =
    confirmed / (reports + follows), the part of all reports that were duplicates. Most confirmed first."""
    _p0, m0, m1 = month_bounds(month)
    cur = con.execute(
        """
        WITH c AS (SELECT id, station_id, community_id, subdistrict_id, merged_into_id IS NOT NULL AS merged,
                          reported_at >= $m0 AND reported_at < $m1 AS in_month
                   FROM cases WHERE city_id = $city AND moderation = 'ok'
                     AND (reported_at >= $m0 AND reported_at < $m1
                          OR id IN (SELECT case_id FROM follows WHERE "at" >= $m0 AND "at" < $m1))),
             f AS (SELECT case_id, count(*) AS n FROM follows WHERE "at" >= $m0 AND "at" < $m1 GROUP BY case_id),
             x AS (SELECT c.*, coalesce(f.n, 0) AS follows FROM c LEFT JOIN f ON f.case_id = c.id),
             g AS (SELECT CASE WHEN grouping(station_id) = 0 THEN 'station'
                               WHEN grouping(community_id) = 0 THEN 'community'
                               WHEN grouping(subdistrict_id) = 0 THEN 'subdistrict' ELSE 'city' END AS level,
                          coalesce(station_id, community_id, subdistrict_id) AS body_id,
                          count(*) FILTER (WHERE in_month) AS reports,
                          count(*) FILTER (WHERE in_month AND merged) AS merged,
                          sum(follows) AS follows
                   FROM x GROUP BY GROUPING SETS ((station_id), (community_id), (subdistrict_id), ()))
        SELECT g.level, g.body_id, coalesce(u.name, '') AS name, g.reports, g.merged, g.follows
        FROM g LEFT JOIN units u ON u.id = g.body_id
        WHERE g.level = 'city' OR g.body_id IS NOT NULL
        """, {"city": int(city_id), "m0": m0, "m1": m1})
    out: dict[str, list[dict]] = {level: [] for level in ("station", "community", "subdistrict", "city")}
    for level, body_id, name, reports, merged, follows in cur.fetchall():
        reports, merged, follows = int(reports or 0), int(merged or 0), int(follows or 0)
        total = reports + follows
        out[level].append({"id": body_id, "name": name, "reports": reports, "merged": merged, "follows": follows,
                           "confirmed": merged + follows, "share": (merged + follows) / total if total else None})
    for rows in out.values():
        rows.sort(key=lambda r: (-r["confirmed"], -(r["share"] or 0), r["name"], r["id"] or 0))
    if not out["city"]:
        out["city"] = [{"id": None, "name": "", "reports": 0, "merged": 0, "follows": 0, "confirmed": 0,
                        "share": None}]
    return out
