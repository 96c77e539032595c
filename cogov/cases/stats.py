"""Figures for supervisors' dashboards and the professional units' console (统计) — read only, computed in SQL.

Every function takes a :class:`Scope` (built only by :func:`dashboard_scope` from the actor's grants, so a
dashboard cannot ask about cases outside the supervisor's area) or the actor itself (the unit console), and
returns plain values for the pages: counts, durations, rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import models
from django.db.models import Count, F, Min, Q, QuerySet, Window
from django.db.models.functions import Coalesce, CumeDist, TruncDate

from cogov import clock
from cogov.cases import deadlines, workflow
from cogov.cases.models import Case
from cogov.cases.selectors import case_list_for_actor, level_shares
from cogov.errors import DomainError
from cogov.people.permissions import UNIT_ROLES, Actor

#: Who has a dashboard: supervisors of their area, a station head for the station, the admin for the city.
DASHBOARD_ROLES = ("station_head", "subdistrict_supervisor", "district_supervisor", "city_supervisor", "admin")
#: Kinds of unit a dashboard can be drilled down to (the case keeps a link to each).
DRILL_KINDS = ("district", "subdistrict", "community", "station")
#: The next level down, for the breakdown and the map.
CHILD_KIND = {"city": "district", "district": "subdistrict", "subdistrict": "community", "community": "station"}
#: States in which a deadline runs and the sweep escalates (handled cases wait on verification).
RUNNING = ("reported", "accepted", "dispatched", "acknowledged")
#: Longest period a dashboard covers (days).
MAX_PERIOD_DAYS = 731


@dataclass(frozen=True)
class Area:
    """One unit a scope covers (``path`` "" and ``kind`` "city": the whole city)."""

    unit_id: int | None
    code: str
    name: str
    kind: str
    path: str

    def q(self) -> Q:
        """The cases inside the area: under its path (as permissions decide), found through the indexed link
        to the unit where the case keeps one."""
        q = Q(unit_path__startswith=self.path) if self.path else Q()
        if self.kind in DRILL_KINDS and self.unit_id is not None:
            # the unit belongs to the city; leaving city_id out lets SQLite pick this narrower index
            return q & Q(**{f"{self.kind}_id": self.unit_id})
        return q & Q(city_id=self.city_id)


@dataclass(frozen=True)
class Scope:
    """The part of the city a dashboard counts: the union of its areas (never more)."""

    city_id: int
    areas: tuple[Area, ...]

    @property
    def whole_city(self) -> bool:
        """Whether the scope is the whole city."""
        return any(a.path == "" for a in self.areas)

    @property
    def single(self) -> Area | None:
        """The one area, if the scope is one area."""
        return self.areas[0] if len(self.areas) == 1 else None

    def covers(self, path: str) -> bool:
        """Whether a unit or case path lies inside the scope."""
        return any(path.startswith(a.path) for a in self.areas)

    def cases(self) -> QuerySet[Case]:
        """Every case of the scope (the one filter every figure starts from)."""
        if self.whole_city:
            return Case.objects.filter(city_id=self.city_id)
        return Case.objects.filter(reduce(or_, (a.q() for a in self.areas)))


@dataclass(frozen=True)
class Period:
    """A period of whole local days (Asia/Shanghai): ``start`` included, ``end`` excluded, both aware."""

    kind: str
    first_day: dt.date
    last_day: dt.date

    @property
    def start(self) -> dt.datetime:
        """Local midnight starting the first day."""
        return dt.datetime.combine(self.first_day, dt.time(), tzinfo=clock.LOCAL_TZ)

    @property
    def end(self) -> dt.datetime:
        """Local midnight after the last day."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), tzinfo=clock.LOCAL_TZ)

    @property
    def days(self) -> list[dt.date]:
        """Every day of the period."""
        return [self.first_day + dt.timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]


#: The rolling periods: kind → days (the last N days, today included).
ROLLING_DAYS = {"30d": 30, "90d": 90}


def period_for(kind: str = "", date_from: str = "", date_to: str = "", *, now: dt.datetime | None = None,
               default: str = "30d") -> Period:
    """The period a page asked for: ``month`` (this month), ``30d`` / ``90d`` (the last 30 / 90 days; an empty
    kind is ``default``) or ``custom`` from/to dates (YYYY-MM-DD, both included). Bad input raises a 400 domain
    error."""
    today = (now or clock.now()).astimezone(clock.LOCAL_TZ).date()
    kind = kind or default
    if kind == "month":
        return Period("month", today.replace(day=1), today)
    if kind in ROLLING_DAYS:
        return Period(kind, today - dt.timedelta(days=ROLLING_DAYS[kind] - 1), today)
    if kind != "custom":
        raise DomainError("bad_period", "统计周期只能是：本月、近30天或自定义日期")
    try:
        first = dt.date.fromisoformat(date_from.strip())
        last = dt.date.fromisoformat(date_to.strip()) if date_to.strip() else today
    except ValueError:
        raise DomainError("bad_period", "日期格式应为 年-月-日（例如 2026-11-01）") from None
    if first > last:
        raise DomainError("bad_period", "开始日期不能晚于结束日期")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise DomainError("bad_period", f"统计周期最长 {MAX_PERIOD_DAYS} 天")
    return Period("custom", first, last)


def _outside() -> DomainError:
    return DomainError("outside_area", "该单元不存在或不在您的管辖范围内", status=403)


def dashboard_scope(actor: Actor, *, under: str = "") -> Scope:
    """The area ``actor`` supervises (the union of the grants' areas), or the unit ``under`` (a unit code)
    inside it. Raises 403 for an actor without a dashboard role and for a unit outside the area."""
    from cogov.geo.models import City, Unit

    grants = [g for g in actor.grants if g.role in DASHBOARD_ROLES]
    if not grants:
        raise DomainError("no_dashboard", "您没有监管看板的权限", status=403)
    if any(g.role == "admin" or (g.role == "city_supervisor" and not g.scope_path) for g in grants):
        city = City.objects.filter(pk=actor.city_id).values_list("code", "name").first() or ("", "")
        scope = Scope(actor.city_id, (Area(None, city[0], city[1], "city", ""),))
    else:
        paths = sorted({g.scope_path for g in grants if g.scope_path})
        # a grant inside another grant's area adds nothing
        paths = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
        if not paths:
            raise DomainError("no_dashboard", "您没有监管看板的权限", status=403)
        unit_of = {g.scope_path: g.scope_unit_id for g in grants if g.scope_path in paths}
        units = {u[0]: u for u in Unit.objects.filter(city_id=actor.city_id, pk__in=[i for i in unit_of.values() if i])
                 .values_list("id", "code", "name", "kind")}
        # the grant's path is what permissions check; the unit only names it
        areas = tuple(Area(*units[unit_of[p]], path=p) if unit_of[p] in units else Area(None, "", p, "", p)
                      for p in paths)
        scope = Scope(actor.city_id, areas)
    under = (under or "").strip()
    if not under:
        return scope
    if len(under) > 40 or any(ch < " " for ch in under):  # no NUL for PostgreSQL, no absurd codes
        raise _outside()
    unit = (Unit.objects.filter(city_id=actor.city_id, code=under, kind__in=DRILL_KINDS)
            .values_list("id", "code", "name", "kind", "path").first())
    if unit is None or not scope.covers(unit[4]):
        raise _outside()
    return Scope(actor.city_id, (Area(*unit),))


def breadcrumbs(actor_scope: Scope, scope: Scope) -> list[Area]:
    """The units from the actor's own area down to a drilled-down ``scope`` (for the links back up)."""
    from cogov.geo.models import Unit

    here = scope.single
    if here is None or here.kind == "city" or scope == actor_scope:
        return []
    codes = [c for c in here.path.split("/") if c]
    prefixes = ["/".join(codes[: i + 1]) + "/" for i in range(len(codes) - 1)]
    rows = Unit.objects.filter(city_id=scope.city_id, path__in=prefixes).values_list("id", "code", "name", "kind",
                                                                                      "path")
    chain = sorted((Area(*r) for r in rows if actor_scope.covers(r[4])), key=lambda a: len(a.path))
    return chain


class LocalDate(models.Func):
    """The local (Asia/Shanghai) calendar day of a timestamp.

    PostgreSQL: Django's TruncDate (``AT TIME ZONE``). SQLite: the built-in ``date()`` shifted by the zone's
    offset — Django's TruncDate calls a Python function per row there, seconds on a year of a city's cases.
    China keeps no summer time since 1991, so the offset is one number.
    """

    output_field = models.DateField()

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(TruncDate(*self.get_source_expressions(), tzinfo=clock.LOCAL_TZ))

    def as_sqlite(self, compiler, connection, **extra_context):
        offset = int(clock.now().astimezone(clock.LOCAL_TZ).utcoffset().total_seconds())
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"date({sql}, '{offset:+d} seconds')", params


class SecondsBetween(models.Func):
    """Seconds from ``start`` to ``end``, in the database's own arithmetic (no Python function per row)."""

    output_field = models.FloatField()

    def _parts(self, compiler):
        (s_sql, s_params), (e_sql, e_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return s_sql, e_sql, [*e_params, *s_params]

    def as_sql(self, compiler, connection, **extra_context):  # PostgreSQL
        start, end, params = self._parts(compiler)
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::float", params

    def as_sqlite(self, compiler, connection, **extra_context):
        start, end, params = self._parts(compiler)
        return f"((julianday({end}) - julianday({start})) * 86400.0)", params


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start, f"{field}__lt": period.end})


def _overdue(now: dt.datetime) -> Q:
    """Open and past its running deadline — the same test as the escalation sweep."""
    return Q(state__in=RUNNING) & (Q(handling_due__lt=now) | Q(handling_due__isnull=True, first_response_due__lt=now))


def overview(scope: Scope, period: Period, *, now: dt.datetime | None = None, top: int = 10) -> dict:
    """The headline counts, the counts by state and by category, and the breakdown one level down, from four
    grouped queries (each on its own index, so a year of a whole city is read once, not once per figure):

    ``summary``: reported and closed in the period, handled on time (``on_time`` of ``timed``), open and overdue
    now, escalated in the period; ``states``: cases reported in the period by their state now, ``(state, 中文名,
    n)`` in the workflow's order; ``categories``: the ``top`` categories reported, ``(code, name, n)``;
    ``breakdown``: ``{area, reported, closed, open, overdue, escalated}`` for each unit one level down (or each
    of the scope's areas), ``escalated`` being those open above the community.
    """
    now = now or clock.now()
    kind, units = _children(scope)
    key = f"{kind}_id" if kind in DRILL_KINDS and units else None
    group = [key] if key else []
    cases = scope.cases()
    empty = {"reported": 0, "closed": 0, "open": 0, "overdue": 0, "escalated": 0}
    parts: dict = {u.unit_id: dict(empty) for u in units} if key else {}
    summary = {"reported": 0, "closed": 0, "timed": 0, "on_time": 0, "open": 0, "overdue": 0}
    states: dict[str, int] = {}
    categories: dict[tuple[str, str], int] = {}

    def grouped(qs: QuerySet[Case], **aggregates) -> list[dict]:
        if not group:  # values() without fields would group by every column
            return [qs.aggregate(**aggregates)]
        return list(qs.values(*group).annotate(**aggregates).order_by())

    def add(row: dict) -> None:
        part = parts.get(row.pop(key)) if key else None
        for k, v in row.items():
            summary[k] += v
            if part is not None and k in part:
                part[k] += v

    reported = (cases.filter(_in("reported_at", period))
                .values("state", "category__code", "category__name", *group).annotate(reported=Count("id")).order_by())
    for row in reported:
        state, code, name = row.pop("state"), row.pop("category__code"), row.pop("category__name")
        states[state] = states.get(state, 0) + row["reported"]
        categories[(code, name)] = categories.get((code, name), 0) + row["reported"]
        add(row)
    timed = Q(handling_due__isnull=False, handled_at__isnull=False)
    for row in grouped(cases.filter(_in("closed_at", period), state="closed"), closed=Count("id"),
                       timed=Count("id", filter=timed),
                       on_time=Count("id", filter=timed & Q(handled_at__lte=F("handling_due")))):
        add(row)
    for row in grouped(cases.filter(state__in=workflow.OPEN), open=Count("id"),
                       overdue=Count("id", filter=_overdue(now)), escalated=Count("id", filter=~Q(level="community"))):
        row_escalated = row.pop("escalated")
        part = parts.get(row[key]) if key else None
        if part is not None:
            part["escalated"] += row_escalated
        add(row)
    summary["escalated"] = cases.filter(_in("escalated_at", period)).count()
    summary["on_time_rate"] = summary["on_time"] / summary["timed"] if summary["timed"] else None
    ranked = sorted(categories.items(), key=lambda kv: (-kv[1], kv[0][0]))[:top]
    return {
        "summary": summary,
        "states": [(st, label, states[st]) for st, label in workflow.STATES.items() if states.get(st)],
        "categories": [(code, name, n) for (code, name), n in ranked],
        "breakdown": [{"area": u, **parts[u.unit_id]} for u in units] if key else [],
    }


def _percentiles(qs: QuerySet[Case], start: str, end: str, ps: tuple[float, ...]) -> dict:
    """Nearest-rank percentiles of ``end - start`` over ``qs`` in one query: the p-th is the least duration whose
    cumulative share (CUME_DIST) reaches p. ``{"n": count, p: timedelta | None, …}``."""
    ranked = (qs.filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
              .annotate(took=SecondsBetween(F(start), F(end))).values("took")
              .annotate(share=Window(CumeDist(), order_by=F("took").asc())))
    agg = ranked.aggregate(n=Count("took"), **{f"p{i}": Min("took", filter=Q(share__gte=p)) for i, p in enumerate(ps)})
    out: dict = {"n": agg["n"]}
    for i, p in enumerate(ps):
        value = agg[f"p{i}"]
        out[p] = dt.timedelta(seconds=round(value)) if value is not None else None
    return out


def response_times(scope: Scope, period: Period, ps: tuple[float, ...] = (0.5, 0.9)) -> dict:
    """How fast the cases reported in the period were answered: ``accept`` (上报→立案, the station's first
    response) and ``acknowledge`` (派遣→签收, the unit's), each ``{"n": count, p: timedelta | None, …}``.

    One query each (two windows in one query sort slower on SQLite than two queries)."""
    reported = scope.cases().filter(_in("reported_at", period))
    return {
        "accept": _percentiles(reported, "reported_at", "accepted_at", ps),
        "acknowledge": _percentiles(reported, "dispatched_at", "acknowledged_at", ps),
    }


def closed_inside(scope: Scope, period: Period) -> dict:
    """小事不出社区、大事不出街道 for the cases closed in the period (selectors.level_shares for each area)."""
    total = {"closed": 0, "closed_in_community": 0, "closed_in_subdistrict": 0}
    for area in scope.areas:
        part = level_shares(scope.city_id, under_path=area.path, closed_from=period.start, closed_to=period.end)
        for k in total:
            total[k] += part[k]
    closed = total["closed"]
    total["community_share"] = total["closed_in_community"] / closed if closed else None
    total["subdistrict_share"] = total["closed_in_subdistrict"] / closed if closed else None
    return total


def daily_trend(scope: Scope, period: Period) -> tuple[list[dt.date], list[int], list[int]]:
    """Reported and closed per local day of the period (days without any count as zero)."""
    qs = scope.cases()
    reported = dict(qs.filter(_in("reported_at", period))
                    .annotate(day=LocalDate("reported_at"))
                    .values("day").annotate(n=Count("id")).values_list("day", "n"))
    closed = dict(qs.filter(_in("closed_at", period), state="closed")
                  .annotate(day=LocalDate("closed_at"))
                  .values("day").annotate(n=Count("id")).values_list("day", "n"))
    days = period.days
    return days, [reported.get(d, 0) for d in days], [closed.get(d, 0) for d in days]


def escalated_open(scope: Scope, *, limit: int = 50) -> tuple[list[Case], int]:
    """升级案件: open cases now above the community level, most recently escalated first; and how many in all."""
    qs = scope.cases().filter(state__in=workflow.OPEN).exclude(level="community")
    rows = list(qs.select_related("category", "handler_unit", "community")
                .order_by(F("escalated_at").desc(nulls_last=True), "-id")[:limit])
    return rows, (qs.count() if len(rows) == limit else len(rows))


def light_of(state: str, *, reported_at, dispatched_at, first_response_due, handling_due, now: dt.datetime) -> str:
    """The traffic light of an open case: its running deadline (handling once dispatched, else first response);
    ``grey`` while it waits on verification or has no deadline."""
    if state not in RUNNING:
        return "grey"
    if state == "dispatched" and first_response_due and dispatched_at:
        return deadlines.traffic_light(dispatched_at, first_response_due, now)
    if handling_due and dispatched_at:
        return deadlines.traffic_light(dispatched_at, handling_due, now)
    if first_response_due and reported_at:
        return deadlines.traffic_light(min(reported_at, first_response_due), first_response_due, now)
    return "grey"


def open_points(scope: Scope, *, now: dt.datetime | None = None, limit: int = 2000) -> tuple[list[dict], int]:
    """The open cases as points ``{number, lon, lat, state, light, title}`` (the most urgent first, at most
    ``limit``) and how many open cases there are in all."""
    now = now or clock.now()
    qs = scope.cases().filter(state__in=workflow.OPEN)
    rows = list(qs.annotate(due=Coalesce("handling_due", "first_response_due"))
                .order_by(F("due").asc(nulls_last=True), "id")
                .values_list("number", "lon", "lat", "state", "reported_at", "dispatched_at", "first_response_due",
                             "handling_due", "category__name")[:limit])
    points = [
        {"number": n, "lon": lon, "lat": lat, "state": s, "category": cat,
         "light": light_of(s, reported_at=r, dispatched_at=d, first_response_due=f, handling_due=h, now=now)}
        for n, lon, lat, s, r, d, f, h, cat in rows
    ]
    return points, (qs.count() if len(rows) == limit else len(rows))


def _children(scope: Scope) -> tuple[str, list[Area]]:
    """The next level down of a one-area scope: ``(kind, units)``; several areas: the areas themselves."""
    from cogov.geo.models import Unit

    area = scope.single
    if area is None:
        kinds = {a.kind for a in scope.areas}
        return (kinds.pop() if len(kinds) == 1 else ""), list(scope.areas)
    kind = CHILD_KIND.get(area.kind, "")
    if not kind:
        return "", []
    qs = Unit.objects.filter(city_id=scope.city_id, kind=kind, valid_to__isnull=True)
    qs = qs.filter(parent__isnull=True) if area.kind == "city" else qs.filter(parent_id=area.unit_id)
    return kind, [Area(*r) for r in qs.order_by("code").values_list("id", "code", "name", "kind", "path")]


def _rings(geometry, tolerance: float) -> list[list[tuple[float, float]]]:
    import shapely

    geometry = shapely.simplify(geometry, tolerance, preserve_topology=True)
    rings = []
    for poly in getattr(geometry, "geoms", [geometry]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            rings.append([(round(x, 6), round(y, 6)) for x, y in ring.coords[:-1]])
    return rings


def map_shapes(scope: Scope) -> dict:
    """Outlines for the map: ``{"outline": [shape], "children": [shape]}``, each shape ``{area, rings,
    label_at}`` in lon/lat, simplified to what a 640-pixel map shows."""
    import shapely

    from cogov.geo.models import Unit

    _, children = _children(scope)
    outline_ids = [a.unit_id for a in scope.areas if a.unit_id is not None]
    ids = outline_ids + [c.unit_id for c in children if c.unit_id is not None]
    geoms = {uid: shapely.from_wkb(bytes(g)) for uid, g in
             Unit.objects.filter(pk__in=ids, geometry__isnull=False).values_list("id", "geometry")}
    if not geoms:
        return {"outline": [], "children": []}
    x0, y0, x1, y1 = shapely.total_bounds(list(geoms.values()))
    tolerance = max(x1 - x0, y1 - y0) / 600

    def shape(area: Area) -> dict | None:
        g = geoms.get(area.unit_id)
        if g is None or g.is_empty:
            return None
        p = g.representative_point()
        return {"area": area, "rings": _rings(g, tolerance), "label_at": (p.x, p.y)}

    outline = [s for s in map(shape, scope.areas) if s]
    kids = [s for s in map(shape, children) if s] if scope.single else []
    return {"outline": outline, "children": kids}


# The professional unit's console (专业单位工作台).

def unit_ids(actor: Actor) -> list[int]:
    """The professional units ``actor`` works for now."""
    return sorted({g.service_unit_id for g in actor.grants if g.role in UNIT_ROLES and g.service_unit_id})


def unit_names(actor: Actor) -> list[tuple[int, str]]:
    """The actor's professional units as ``(id, name)``."""
    from cogov.people.models import ServiceUnit

    return list(ServiceUnit.objects.filter(city_id=actor.city_id, pk__in=unit_ids(actor)).order_by("name")
                .values_list("id", "name"))


def _unit_cases(actor: Actor) -> QuerySet[Case]:
    ids = unit_ids(actor)
    # the actor's visible cases, narrowed to those his units hold (not, say, cases he reported himself)
    return case_list_for_actor(actor).filter(handler_unit_id__in=ids) if ids else Case.objects.none()


def unit_queue(actor: Actor, *, now: dt.datetime | None = None) -> list[Case]:
    """我的待办: cases dispatched to the actor's units and not yet handled, the nearest deadline first; each
    with ``deadline`` (签收时限 while dispatched, then 处置时限) and ``light``."""
    now = now or clock.now()
    deadline = models.Case(
        models.When(state="dispatched", first_response_due__isnull=False, then=F("first_response_due")),
        default=F("handling_due"),
        output_field=models.DateTimeField(),
    )
    rows = list(_unit_cases(actor).filter(state__in=("dispatched", "acknowledged")).annotate(deadline=deadline)
                .order_by(F("deadline").asc(nulls_last=True), "reported_at", "id"))
    for c in rows:
        c.light = light_of(c.state, reported_at=c.reported_at, dispatched_at=c.dispatched_at,
                           first_response_due=c.first_response_due, handling_due=c.handling_due, now=now)
    return rows


def unit_waiting(actor: Actor) -> list[Case]:
    """待核查: cases the actor's units handled that wait for verification or closing, oldest first."""
    return list(_unit_cases(actor).filter(state__in=("handled", "verified")).order_by("handled_at", "id"))


def unit_closed_recently(actor: Actor, *, days: int = 30, now: dt.datetime | None = None) -> list[Case]:
    """近期结案: cases of the actor's units closed in the last ``days`` days, newest first, each with
    ``on_time`` (handled before its handling deadline)."""
    now = now or clock.now()
    rows = list(_unit_cases(actor).filter(state="closed", closed_at__gte=now - dt.timedelta(days=days))
                .order_by("-closed_at", "-id")[:200])
    for c in rows:
        c.on_time = bool(c.handled_at and c.handling_due and c.handled_at <= c.handling_due)
    return rows
