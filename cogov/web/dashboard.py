"""Pages: the supervisors' dashboard (监管看板) — figures of the supervisor's area over a period, drawn as SVG.

Thin: the scope (the area from the grants, or a unit inside it via ``?under=``) and every figure come from
``cogov.cases.stats``; this module parses the query, turns figures into charts and renders.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.urls import path
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from cogov import clock
from cogov.cases import stats
from cogov.errors import DomainError
from cogov.people.permissions import UNIT_ROLES
from cogov.web import charts
from cogov.web.auth import actor_of, staff_required
from cogov.web.display import duration_text, level_name, light_name, percent_text, state_name


def case_url(number: str) -> str:
    """The staff case page (built by the staff pages)."""
    return f"/work/cases/{number}/"


def _clean(value: str, limit: int = 40) -> str:
    """A query value without control characters (a NUL would upset PostgreSQL), cut to ``limit``."""
    return "".join(ch for ch in (value or "") if ch >= " ")[:limit].strip()


def scopes_or_refusal(request):
    """(actor, the area the actor supervises, the area shown — the same, or the unit ``?under=`` inside it), or
    (actor, None, a response): units go to their console, others without a dashboard role get 403, a unit
    outside the area gets the same refusal. Shared by the dashboard and the data-analysis page."""
    actor = actor_of(request)
    try:
        own = stats.dashboard_scope(actor)
    except DomainError as e:
        if actor.roles & UNIT_ROLES:
            return actor, None, redirect("/work/unit/")
        return actor, None, render(request, "web/dashboard/denied.html", {"error": e.message}, status=e.status)
    under = request.GET.get("under", "").strip()  # dashboard_scope refuses control characters itself
    try:
        scope = stats.dashboard_scope(actor, under=under) if under else own
    except DomainError as e:
        return actor, None, render(request, "web/dashboard/denied.html", {"error": e.message, "back": True},
                                   status=e.status)
    return actor, own, scope


def requested_period(request, *, now, default: str = "30d") -> tuple[str, str, str, stats.Period, str]:
    """The period the query asks for (``period``, ``from``, ``to``): the three as typed, the ``stats.Period``, and
    the error message of a bad query — then the ``default`` period is used, and the page says why."""
    kind = _clean(request.GET.get("period", ""), 10)
    date_from, date_to = _clean(request.GET.get("from", ""), 10), _clean(request.GET.get("to", ""), 10)
    try:
        return kind, date_from, date_to, stats.period_for(kind, date_from, date_to, now=now, default=default), ""
    except DomainError as e:
        return kind, date_from, date_to, stats.period_for(default, now=now), e.message


@staff_required
def dashboard(request):
    """GET /work/dashboard/?period=month|30d|custom&from=&to=&under=<unit code>"""
    _actor, own, scope = scopes_or_refusal(request)
    if own is None:
        return scope
    now = clock.now()

    kind, date_from, date_to, period, period_error = requested_period(request, now=now)
    period_query = {"period": period.kind}
    if period.kind == "custom":
        period_query.update({"from": period.first_day.isoformat(), "to": period.last_day.isoformat()})

    def link(**extra) -> str:
        return "?" + urlencode({**period_query, **{k: v for k, v in extra.items() if v}})

    figures = stats.overview(scope, period, now=now)
    summary, states, categories, rows = (figures[k] for k in ("summary", "states", "categories", "breakdown"))
    times = stats.response_times(scope, period)
    inside = stats.closed_inside(scope, period)
    days, reported, closed = stats.daily_trend(scope, period)
    escalated, escalated_total = stats.escalated_open(scope)
    points, open_total = stats.open_points(scope, now=now)
    shapes = stats.map_shapes(scope)

    top_open = max((r["open"] for r in rows), default=0)
    open_by_unit = {r["area"].unit_id: r["open"] for r in rows}
    drillable = bool(shapes["children"]) or len(scope.areas) > 1  # not a link to the page itself
    areas = [
        charts.MapArea(s["area"].name, s["rings"], s["label_at"],
                       href=link(under=s["area"].code) if drillable and s["area"].kind in stats.DRILL_KINDS else "",
                       note=_("未结 %(n)d 件") % {"n": open_by_unit.get(s["area"].unit_id, 0)},
                       shade=(open_by_unit.get(s["area"].unit_id, 0) / top_open) if top_open else 0.0)
        for s in (shapes["children"] or shapes["outline"])
    ]
    for p in points:
        p["light_name"] = light_name(p["light"])
        p["state_name"] = state_name(p["state"])
    dots = [charts.MapDot(p["lon"], p["lat"], p["light"],
                          f"{p['number']} {p['category']} · {p['state_name']} · {p['light_name']}",
                          href=case_url(p["number"]))
            for p in points]
    empty = _("暂无数据")
    trend_rows = list(zip(days, reported, closed))
    state_rows = [(code, state_name(code), n) for code, _label, n in states]
    context = {
        "scope": scope,
        "own": own,
        "here": scope.single,
        "crumbs": stats.breadcrumbs(own, scope) if scope != own else [],
        "drilled": scope != own,
        "period": period,
        "period_kind": kind if kind in ("month", "30d", "custom") else period.kind,
        "date_from": date_from,
        "date_to": date_to,
        "period_error": period_error,
        "home_link": link(),
        "summary": summary,
        "on_time_rate": percent_text(summary["on_time_rate"]),
        "times": {
            "accept": {"n": times["accept"]["n"], "median": duration_text(times["accept"][0.5]),
                       "p90": duration_text(times["accept"][0.9])},
            "acknowledge": {"n": times["acknowledge"]["n"], "median": duration_text(times["acknowledge"][0.5]),
                            "p90": duration_text(times["acknowledge"][0.9])},
        },
        "inside": inside,
        "community_share": percent_text(inside["community_share"]),
        "subdistrict_share": percent_text(inside["subdistrict_share"]),
        "states": state_rows,
        "categories": categories,
        "trend_rows": trend_rows,
        "escalated": [
            {"case": c, "url": case_url(c.number), "level": level_name(c.level),
             "state": state_name(c.state)}
            for c in escalated
        ],
        "escalated_total": escalated_total,
        "points": points[:200],
        "points_shown": len(points),
        "open_total": open_total,
        "rows": [{**r, "link": link(under=r["area"].code)} for r in rows],
        "state_chart": mark_safe(charts.bar_chart([(label, n) for _c, label, n in state_rows],
                                                  title=_("本期上报案件的当前状态"), ident="chart-states",
                                                  empty_text=empty)),
        "category_chart": mark_safe(charts.bar_chart([(name, n) for _c, name, n in categories],
                                                     title=_("本期上报最多的类别（前 10）"), ident="chart-categories",
                                                     empty_text=empty)),
        "trend_chart": mark_safe(charts.line_chart(
            [d.strftime("%m-%d") for d in days], [(_("上报"), reported), (_("结案"), closed)],
            title=_("每日上报与结案"), ident="chart-trend", empty_text=empty, total_label=_("合计"))),
        "map_chart": mark_safe(charts.map_chart(areas, dots, title=_("未结案件分布（红黄绿灯）"), ident="chart-map",
                                                empty_text=_("暂无地图数据"))),
    }
    return render(request, "web/dashboard/index.html", context)


urlpatterns = [
    path("work/dashboard/", dashboard, name="dashboard"),
]
