"""Pages: data analysis for supervisors (数据分析) — hotspots on the map, the hours of the week, 回潮 places,
broken-window warnings, next week's patrol list, and the monthly evaluation of units with its bulletin.

Thin: the scope is the dashboard's (``cogov.cases.stats.dashboard_scope``); every figure comes from
``cogov.insight`` over the analytics store (``cogov.insight.live``: loaded once per process, refreshed every
few minutes), through a cursor that sees only the scope's cases.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import h3
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cogov import clock
from cogov.cases import stats
from cogov.insight import evaluation, live, spatial
from cogov.web import charts
from cogov.web.auth import staff_required
from cogov.web.dashboard import _clean, requested_period, scopes_or_refusal

#: Hotspot levels as drawn on the map (the colour and the words; the legend says both).
LEVEL_FILL = {"hot99": "#99000d", "hot95": "#cb181d", "hot90": "#fb6a4a",
              "cold99": "#084594", "cold95": "#2171b5", "cold90": "#6baed6"}
WEEKDAYS = (gettext_lazy("周一"), gettext_lazy("周二"), gettext_lazy("周三"), gettext_lazy("周四"),
            gettext_lazy("周五"), gettext_lazy("周六"), gettext_lazy("周日"))


def place_name(row: dict) -> str:
    """Where an H3 cell lies, in words: its street (街巷) or zone (区片), and its station."""
    near = row.get("street_name") or row.get("zone_name") or ""
    station = row.get("station_name") or row.get("community_name") or ""
    return " · ".join(x for x in (near, station) if x) or "—"


def with_places(rows: list[dict]) -> list[dict]:
    """The rows with ``place`` (``place_name``); where two different cells of a table read alike (one street, one
    station), each gets its number among them — 「银川中路 · 中云站（第 2 格）」 — so that the rows do not look
    like one place listed twice (the map shows where each cell is)."""
    cells_of: dict[str, list[str]] = {}
    for r in rows:
        cells = cells_of.setdefault(place_name(r), [])
        if r.get("cell") not in cells:
            cells.append(r.get("cell"))
    out = []
    for r in rows:
        name = place_name(r)
        cells = cells_of[name]
        out.append({**r, "place": name if len(cells) == 1 else
                    _("%(place)s（第 %(n)d 格）") % {"place": name, "n": cells.index(r.get("cell")) + 1}})
    return out


def close_up(rings: list, margin: float = 0.15, least: float = 0.01, share: float = 0.8) -> tuple | None:
    """The box (min lon, min lat, max lon, max lat) around the middle ``share`` of the cells (by their centres,
    on each axis), with a margin: the map shows where most hotspots are, not a city-wide outline with specks on
    it; a lone far cell is left outside (the table below still lists it). None when there is no cell."""
    centres = [(sum(x for x, _ in r) / len(r), sum(y for _, y in r) / len(r)) for r in rings if r]
    if not centres:
        return None
    cut = int(len(centres) * (1 - share) / 2)
    xs = sorted(x for x, _ in centres)
    ys = sorted(y for _, y in centres)
    x0, x1 = xs[cut], xs[len(xs) - 1 - cut]
    y0, y1 = ys[cut], ys[len(ys) - 1 - cut]
    dx, dy = max(x1 - x0, least) * margin + 0.003, max(y1 - y0, least) * margin + 0.003
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def ends(rows: list[dict], n: int = 10) -> list[dict]:
    """The first and last ``n`` of a ranking (all of it when short); the bulletin has every row."""
    return rows if len(rows) <= 2 * n else rows[:n] + [{"gap": len(rows) - 2 * n}] + rows[-n:]


def _paths(scope: stats.Scope) -> list[str]:
    return [] if scope.whole_city else [a.path for a in scope.areas]


def last_month(today: dt.date) -> str:
    """The last whole month before ``today`` as 'YYYY-MM'."""
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _month(value: str, today: dt.date) -> tuple[str, str]:
    """(month, error): a 'YYYY-MM' no later than this month, or last month and a message."""
    value = _clean(value, 7)
    if not value:
        return last_month(today), ""
    try:
        when = dt.date.fromisoformat(value + "-01")
    except ValueError:
        return last_month(today), _("月份格式应为 年-月，如 2026-10")
    if when > today.replace(day=1):
        return last_month(today), _("不能选择未来的月份")
    try:
        evaluation.month_bounds(value)  # the evaluation's own limits (no year before 1900)
    except evaluation.EvaluationError:
        return last_month(today), _("月份超出范围")
    return value, ""


@staff_required
def insight(request):
    """GET /work/insight/?period=&from=&to=&under=&category=&month="""
    actor, own, scope = scopes_or_refusal(request)
    if own is None:
        return scope
    now = clock.now()
    today = now.astimezone(clock.LOCAL_TZ).date()
    kind, date_from, date_to, period, period_error = requested_period(request, now=now, default="90d")
    kind = kind or "90d"
    category = _clean(request.GET.get("category", ""), 20)
    month, month_error = _month(request.GET.get("month", ""), today)
    since = dt.datetime.combine(period.first_day, dt.time())
    until = dt.datetime.combine(period.last_day + dt.timedelta(days=1), dt.time())

    con, as_of = live.store_for(actor.city_id)
    with live.scoped(con, _paths(scope)) as cur:
        categories = cur.execute(
            "SELECT category_code, any_value(category_name), count(*) AS n FROM cases "
            "WHERE reported_at >= ? AND reported_at < ? GROUP BY 1 ORDER BY n DESC, 1 LIMIT 30",
            [since, until]).fetchall()
        if category and category not in {c for c, _n, _k in categories}:
            category = ""
        cat = category or None
        cells = spatial.hotspots(cur, city_id=actor.city_id, since=since, until=until, category_code=cat)
        hours = spatial.hour_of_week(cur, city_id=actor.city_id, since=since, until=until, category_code=cat)
        recurrent = spatial.recurrence(cur, city_id=actor.city_id, since=since, until=until, category_code=cat)
        warnings = spatial.broken_windows(cur, city_id=actor.city_id, today=today)
        week_start = today + dt.timedelta(days=7 - today.weekday())
        # an area's patrol list is judged against the whole city (below)
        patrol = spatial.patrol_list(cur, city_id=actor.city_id, week_start=week_start) if scope.whole_city else []
        ranking = evaluation.monthly(cur, city_id=actor.city_id, month=month)
        confirmed = evaluation.confirmed_duplicates(cur, city_id=actor.city_id, month=month)
        mine_stations = {r[0] for r in cur.execute("SELECT DISTINCT station_id FROM cases").fetchall()}
    if not scope.whole_city:
        cells, patrol = live.against_the_city(con, actor.city_id, cells, mine_stations, since=since, until=until,
                                              category=cat, week_start=week_start)

    hot = [c for c in cells if c.get("level", "ns") != "ns"]
    shapes = stats.map_shapes(scope)
    areas = [charts.MapArea(s["area"].name, s["rings"], s["label_at"])
             for s in (shapes["children"] or shapes["outline"])]
    rings = []
    for c in hot[:400]:
        ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(c["cell"])]
        rings.append(ring)
        areas.append(charts.MapArea(
            _("热点") if c["level"].startswith("hot") else _("冷点"), [ring], None,
            note=_("%(n)d 件，z=%(z).2f") % {"n": c["count"], "z": c["gi_z"]}, fill=LEVEL_FILL.get(c["level"], "")))
    hot_rows = with_places([c for c in hot if c["level"].startswith("hot")][:20])

    counts = hours["counts"]
    marked = [[lvl.startswith("hot") for lvl in row] for row in hours["level"]]
    hour_labels = [f"{h}" for h in range(24)]
    peak = sorted(((counts[d][h], d, h) for d in range(7) for h in range(24) if marked[d][h]), reverse=True)[:10]

    def link(**extra) -> str:
        query = {"period": period.kind, "under": scope.single.code if scope != own and scope.single else ""}
        if period.kind == "custom":
            query.update({"from": period.first_day.isoformat(), "to": period.last_day.isoformat()})
        return "?" + urlencode({k: v for k, v in {**query, **extra}.items() if v})

    context = {
        "scope": scope, "own": own, "here": scope.single, "drilled": scope != own,
        "period": period, "period_kind": kind, "date_from": date_from, "date_to": date_to,
        "period_error": period_error, "as_of": as_of,
        "categories": [(code, name, n) for code, name, n in categories], "category": category,
        "month": month, "month_error": month_error,
        "hot_rows": hot_rows, "hot_total": sum(1 for c in hot if c["level"].startswith("hot")),
        "map_chart": mark_safe(charts.map_chart(areas, [], title=_("热点网格（Getis-Ord Gi*）"), ident="chart-hot",
                                                empty_text=_("暂无地图数据"), bounds=close_up(rings))),
        "hours_chart": mark_safe(charts.heatmap_chart(
            [str(d) for d in WEEKDAYS], hour_labels, counts, marked=marked, title=_("一周各时段上报量"),
            ident="chart-hours", empty_text=_("暂无数据"))),
        "hour_rows": [(str(WEEKDAYS[d]), h, n) for n, d, h in peak],
        "hours_method": hours.get("method", ""),
        "recurrent": with_places(recurrent[:20]),
        "warnings": with_places([w for w in warnings if w.get("warned")][:20]),
        "patrol": with_places(patrol[:50]),
        "week_start": week_start,
        "ranking": {level: ends(ranking.get(level, [])) for level in ("unit", "station", "community", "subdistrict")},
        "confirmed_total": confirmed["city"][0],
        "confirmed_rows": [r for r in confirmed["station"] if r["confirmed"]][:10],
        "bulletin_xlsx": f"bulletin/{month}.xlsx{link()}",
        "bulletin_pdf": f"bulletin/{month}.pdf{link()}",
        "link": link,
    }
    return render(request, "web/insight/index.html", context)


#: The bulletin's file formats and their media types.
BULLETIN_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "pdf": "application/pdf"}


@staff_required
def bulletin(request, month: str, fmt: str):
    """GET /work/insight/bulletin/<YYYY-MM>.<xlsx|pdf>?under= — the monthly bulletin (通报) of the scope."""
    from cogov.geo.models import City
    from cogov.insight import bulletin as writer

    if fmt not in BULLETIN_TYPES:
        raise Http404(fmt)
    actor, own, scope = scopes_or_refusal(request)
    if own is None:
        return scope
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    month_ok, error = _month(month, today)
    if error or month_ok != month:
        raise Http404(error or month)
    con, _as_of = live.store_for(actor.city_id)
    with live.scoped(con, _paths(scope)) as cur:
        result = evaluation.monthly(cur, city_id=actor.city_id, month=month)
    city = City.objects.filter(pk=actor.city_id).values_list("name", flat=True).first() or ""
    name = city if scope.whole_city else "、".join(a.name for a in scope.areas)
    with tempfile.TemporaryDirectory(prefix="cogov-bulletin-") as out:
        files = dict(zip(("xlsx", "pdf"), writer.write_bulletin(result, city_name=name, month=month,
                                                                 out_dir=Path(out))))
        chosen = Path(files[fmt])
        body = chosen.read_bytes()
    response = HttpResponse(body, content_type=BULLETIN_TYPES[fmt])
    response["Content-Disposition"] = content_disposition_header(True, chosen.name)
    return response


urlpatterns = [
    path("work/insight/", insight, name="insight"),
    path("work/insight/bulletin/<str:month>.<str:fmt>", bulletin, name="insight-bulletin"),
]
