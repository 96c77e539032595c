"""Reads of cases: what an actor may see, calendars for deadlines, and the community/sub-district shares."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from cogov.cases import config, deadlines
from cogov.cases.models import Case, Category
from cogov.errors import DomainError
from cogov.people.permissions import Actor, case_not_found, roles_on_case, visible_cases


def work_calendar(city_id: int) -> deadlines.WorkCalendar:
    """The official calendar from the library, overlaid with the days and years the bureau entered.

    Cached per process and re-read when the city's configuration version moves on (cogov/cases/config.py):
    ``holidays_import`` and every save of a calendar row bump it.
    """
    return config.work_calendar(city_id)


def case_list_for_actor(actor: Actor) -> QuerySet[Case]:
    """The cases ``actor`` may see, newest first (cases elsewhere are simply not there)."""
    return (
        Case.objects.filter(visible_cases(actor))
        .select_related("category", "handler_unit", "district", "subdistrict", "community", "station")
        .order_by("-reported_at", "-id")
    )


def case_get_for_actor(actor: Actor, number: str) -> Case:
    """One case by number if ``actor`` may see it; otherwise 404 — whether it exists or not."""
    case = (
        Case.objects.filter(city_id=actor.city_id, number=number)
        .select_related("category", "handler_unit", "reporter", "district", "subdistrict", "community", "station")
        .first()
    )
    if case is None or not roles_on_case(actor, case):
        raise case_not_found(number)
    return case


def category_list(city_id: int, *, active_only: bool = True) -> QuerySet[Category]:
    """The city's categories with their limits."""
    qs = Category.objects.filter(city_id=city_id).prefetch_related("limits").order_by("edition", "code")
    return qs.filter(active=True) if active_only else qs


def level_shares(city_id: int, *, under_path: str = "", under_paths=(), closed_from=None, closed_to=None) -> dict:
    """小事不出社区、大事不出街道: of closed cases, the share never escalated past the community / sub-district.

    ``under_path`` keeps the cases under one unit path, ``under_paths`` those under any of several (an empty path:
    the whole city); ``closed_from`` / ``closed_to`` (aware datetimes, the end excluded) keep the cases closed
    in that period.
    """
    qs = Case.objects.filter(city_id=city_id, state="closed")
    if under_path:
        qs = qs.filter(unit_path__startswith=under_path)
    paths = list(under_paths)
    if paths and "" not in paths:
        within = Q(pk__in=[])
        for path in paths:
            within |= Q(unit_path__startswith=path)
        qs = qs.filter(within)
    if closed_from is not None:
        qs = qs.filter(closed_at__gte=closed_from)
    if closed_to is not None:
        qs = qs.filter(closed_at__lt=closed_to)
    agg = qs.aggregate(
        closed=Count("id"),
        in_community=Count("id", filter=Q(max_level="community")),
        in_subdistrict=Count("id", filter=Q(max_level__in=["community", "subdistrict"])),
    )
    closed = agg["closed"] or 0
    return {
        "closed": closed,
        "closed_in_community": agg["in_community"],
        "closed_in_subdistrict": agg["in_subdistrict"],
        "community_share": (agg["in_community"] / closed) if closed else None,
        "subdistrict_share": (agg["in_subdistrict"] / closed) if closed else None,
    }


# --- Staff pages: the case page, the station channel (服务站频道), the station head's console, heads' view ---
# (reads for cogov/web/staff.py and cogov/web/station.py; imported here so the block stays self-contained)

import dataclasses  # noqa: E402
import math  # noqa: E402

from cogov import clock  # noqa: E402
from cogov.cases import workflow  # noqa: E402
from cogov.cases.models import Attachment, CaseEvent  # noqa: E402
from cogov.people.permissions import HEAD_ROLES, UNIT_ROLES  # noqa: E402

#: Actions no page offers (the system escalates; reporting is its own form).
PAGE_HIDDEN_ACTIONS = frozenset({"report", "escalate"})
#: States in which the first-response clock runs (签收 stops it).
FIRST_RESPONSE_STATES = ("reported", "accepted", "dispatched")
#: States in which the handling clock runs.
HANDLING_STATES = ("dispatched", "acknowledged")
SUPERVISOR_ROLES = frozenset({"subdistrict_supervisor", "district_supervisor", "city_supervisor"})


def case_actions_for(actor: Actor, case: Case) -> list[str]:
    """The actions ``actor`` may take on ``case`` now, judged as ``case_act`` will judge them.

    The workflow table's roles, narrowed where the case decides: verification by the reporter when the category
    asks for it, extension answers only while a request is pending. Never ``report`` or ``escalate``.
    """
    roles = roles_on_case(actor, case)
    if not roles:
        return []
    verifiers = set(workflow.verifier_roles(reporter_verifies=case.category.reporter_verifies,
                                            reporter_has_account=bool(case.reported_by_id)))
    out = []
    for action in workflow.allowed_actions(case.state, roles):
        if action in PAGE_HIDDEN_ACTIONS or action in out:
            continue
        if action in ("verify", "rework") and not roles & verifiers:
            continue
        if action in ("approve_extension", "refuse_extension") and not case.extension_pending:
            continue
        if action == "request_extension" and case.extension_pending:
            continue
        out.append(action)
    return out


def station_not_found(station_unit_id) -> DomainError:
    """One answer for a station that does not exist and one the caller may not open (no existence leak)."""
    return DomainError("station_not_found", f"服务站 {station_unit_id} 不存在或不在您的管辖范围内", status=404)


def station_get(actor: Actor, station_unit_id: int):
    """The station unit ``station_unit_id`` of the actor's city (404 when there is none)."""
    from cogov.geo.models import Unit

    if not isinstance(station_unit_id, int) or not 0 < station_unit_id < 2**63:  # beyond any key: not there
        raise station_not_found(station_unit_id)
    station = Unit.objects.filter(city_id=actor.city_id, pk=station_unit_id, kind="station").first()
    if station is None:
        raise station_not_found(station_unit_id)
    return station


def _service_area_paths(service_unit_ids) -> dict[int, list[str]]:
    """The paths of the units each professional unit serves (an empty list: the whole city)."""
    from cogov.people.models import ServiceUnit

    ids = set(service_unit_ids)
    paths: dict[int, list[str]] = {i: [] for i in ids}
    links = ServiceUnit.service_area.through.objects.filter(serviceunit_id__in=ids)
    for su_id, path in links.values_list("serviceunit_id", "unit__path"):
        paths[su_id].append(path)
    return paths


def _serves(paths: dict[int, list[str]], station) -> bool:
    """Whether one of these professional units serves the station's area: its service area is the whole city
    (no area), contains the station, or lies inside it."""
    return any(not area or any(station.path.startswith(p) or p.startswith(station.path) for p in area)
               for area in paths.values())


def station_channel_member(actor: Actor, station, *, _paths: dict | None = None) -> bool:
    """三长一站 — who is in a station's channel: the station's head(s), the heads (楼院长、街巷长、区片长) whose
    unit lies inside the station's area, and the members of professional units serving that area."""
    if actor.city_id != station.city_id:
        return False
    units = []
    for g in actor.grants:
        if g.role == "station_head" and (g.scope_unit_id == station.pk or g.scope_path == station.path):
            return True
        if g.role in HEAD_ROLES and g.scope_path and g.scope_path.startswith(station.path):
            return True
        if g.role in UNIT_ROLES and g.service_unit_id is not None:
            units.append(g.service_unit_id)
    return bool(units) and _serves(_paths if _paths is not None else _service_area_paths(units), station)


def station_console_allowed(actor: Actor, station) -> bool:
    """站长工作台 — the station's head(s), and supervisors (and admins) whose area contains the station."""
    if actor.city_id != station.city_id:
        return False
    for g in actor.grants:
        if g.role == "station_head" and (g.scope_unit_id == station.pk or g.scope_path == station.path):
            return True
        if g.role == "admin" or (g.role == "city_supervisor" and not g.scope_path):
            return True
        if g.role in SUPERVISOR_ROLES and g.scope_path and station.path.startswith(g.scope_path):
            return True
    return False


def station_channels_for_actor(actor: Actor, *, limit: int = 20) -> list:
    """The stations whose channel ``actor`` may open (for menus), by name; at most ``limit``."""
    from cogov.geo.models import Unit

    head_paths = [g.scope_path for g in actor.grants if g.role in HEAD_ROLES and g.scope_path]
    station_ids = {g.scope_unit_id for g in actor.grants if g.role == "station_head" and g.scope_unit_id}
    has_unit = any(g.role in UNIT_ROLES and g.service_unit_id for g in actor.grants)
    if not (head_paths or station_ids or has_unit):
        return []
    stations = Unit.objects.filter(city_id=actor.city_id, kind="station").order_by("name", "id")
    if not has_unit:  # heads: the stations whose path is a prefix of their unit's path
        stations = stations.filter(Q(pk__in=station_ids) | Q(path__in=[a for p in head_paths for a in _prefixes(p)]))
    paths = _service_area_paths(g.service_unit_id for g in actor.grants if g.role in UNIT_ROLES and g.service_unit_id)
    found = []
    for station in stations.only("id", "city_id", "name", "path"):  # a city has hundreds of stations, not more
        if station_channel_member(actor, station, _paths=paths):
            found.append(station)
            if len(found) == limit:
                break
    return found


def _prefixes(path: str) -> list[str]:
    """Every ancestor path of ``path`` ("a/b/c/" → "a/", "a/b/", "a/b/c/")."""
    parts = [p for p in path.split("/") if p]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


@dataclasses.dataclass
class ChannelItem:
    """One line of a station's channel: an event of a case in the station's area, as this viewer sees it.

    ``detail``: the viewer holds a role on the case (the case page opens for him), so the texts (description,
    notes, reasons, comments) are shown and ``actions`` are offered; other members see what happened, where and
    in which state — not the words. The reporter's contact is never part of an item.
    """

    event: CaseEvent
    case: Case
    detail: bool
    actions: list[str]
    latest: bool
    minutes_left: int | None
    late: bool
    thumbnail_id: int | None
    after_photo_ids: list[int]


def station_channel_events(actor: Actor, station, *, after: int | None = None, limit: int = 50) -> list[ChannelItem]:
    """服务站频道 — what happens in the station's area (every event of every case located in it), newest first.

    ``after`` (an event id, 0 for "from the start"): only events with a larger id — the oldest ``limit`` of them, so
    a client that missed polls catches up in order; ``None``: the newest ``limit``. Who may open the channel is ``station_channel_member``; anyone
    else gets the 404 of a station that does not exist. Every line is a case event: nothing lives only in the
    channel, and a reply in it is a ``comment`` on the case.
    """
    if not station_channel_member(actor, station):
        raise station_not_found(station.pk)
    qs = CaseEvent.objects.filter(city_id=actor.city_id, case__station_id=station.pk).select_related(
        "case", "case__category", "case__community", "case__station", "case__handler_unit",
        "case__suggested_unit", "actor")
    if after is not None:
        events = list(qs.filter(pk__gt=after).order_by("pk")[:limit])[::-1]
    else:
        events = list(qs.order_by("-pk")[:limit])
    if not events:
        return []
    cases = {e.case_id: e.case for e in events}
    thumbs: dict[int, int] = {}
    for case_id, photo_id in (Attachment.objects.filter(case_id__in=list(cases), kind="report")
                              .order_by("pk").values_list("case_id", "pk")):
        thumbs.setdefault(case_id, photo_id)
    now = clock.now()
    seen: set[int] = set()
    items = []
    for e in events:
        case = cases[e.case_id]
        detail = bool(roles_on_case(actor, case))
        latest = e.case_id not in seen
        seen.add(e.case_id)
        minutes_left = None
        if case.state in FIRST_RESPONSE_STATES and case.first_response_due:
            minutes_left = math.floor((case.first_response_due - now).total_seconds() / 60)
        public = case.moderation == "ok"
        items.append(ChannelItem(
            event=e, case=case, detail=detail,
            actions=case_actions_for(actor, case) if detail and latest else [],
            latest=latest, minutes_left=minutes_left, late=minutes_left is not None and minutes_left < 0,
            thumbnail_id=thumbs.get(case.pk) if public else None,
            after_photo_ids=[int(i) for i in (e.data.get("photos") or [])] if public and e.action == "handle" else [],
        ))
    return items


def station_channel_older_events(station, case_ids, *, up_to: int) -> list[int]:
    """Ids of the channel's events (id ≤ ``up_to``) of these cases: their buttons are stale once newer come."""
    return list(CaseEvent.objects.filter(case__station_id=station.pk, case_id__in=list(case_ids), pk__lte=up_to)
                .values_list("pk", flat=True))


def station_console(actor: Actor, station) -> dict:
    """站长工作台 — the station's intake queue, overdue board and escalations received.

    ``queue``: reported (to accept or reject) and accepted (to dispatch) cases, oldest first; ``overdue``: open
    cases past their first-response deadline (not yet acknowledged) or their handling deadline; ``escalated``:
    open cases of the station's area whose level is above the community. 404 for anyone not allowed.
    """
    if not station_console_allowed(actor, station):
        raise station_not_found(station.pk)
    now = clock.now()
    base = (Case.objects.filter(city_id=actor.city_id, station_id=station.pk)
            .select_related("category", "handler_unit", "suggested_unit", "community", "station"))
    late = (Q(state__in=FIRST_RESPONSE_STATES, first_response_due__lt=now)
            | Q(state__in=HANDLING_STATES, handling_due__lt=now))
    return {
        # follow_count: people who followed the case (我也遇到了) — confirmed duplicate reports, shown as a badge
        "queue": list(base.filter(state__in=["reported", "accepted"]).annotate(follow_count=Count("follows"))
                      .order_by("reported_at", "id")[:100]),
        "overdue": list(base.filter(late).order_by("first_response_due", "id")[:100]),
        "escalated": list(base.filter(level__in=["subdistrict", "district"],
                                      state__in=sorted(workflow.OPEN | {"suspended"}))
                          .order_by("-escalated_at", "-id")[:100]),
    }


def case_duplicates_near(actor: Actor, case: Case, *, radius_m: float = 200, limit: int = 5,
                         threshold: float | None = None) -> list[tuple]:
    """Possible duplicates (疑似重复) of ``case`` worth a one-click merge: open cases of the same or a related
    category within ``radius_m`` and ``duplicates.MAX_DAYS`` that the actor may see and that score at least
    ``threshold`` (default ``duplicates.THRESHOLD``), best first, as ``(case, metres, match)`` — ``match.score``
    (0–1) and ``match.reasons`` (相距 35 米, 同类, 文字相似 0.72, 照片相同 …). See ``cases_duplicates_near``."""
    return cases_duplicates_near(actor, [case], radius_m=radius_m, limit=limit, threshold=threshold)[case.pk]


#: The open cases one case is scored against at the most (the nearest box is small; a city never has more).
DUPLICATE_POOL = 200


def cases_duplicates_near(actor: Actor, cases: list[Case], *, radius_m: float = 200, limit: int = 5,
                          threshold: float | None = None) -> dict[int, list[tuple]]:
    """``case_duplicates_near`` of several cases at once (a station's queue): ``{case.pk: [(case, metres,
    match), …]}``. Two queries whatever the number of cases — the open cases in any of the cases' boxes (its
    related categories, ``radius_m``, ``MAX_DAYS``), then their photos — and each case is scored in Python
    against those in its own box (cogov/insight/duplicates.py), at most ``DUPLICATE_POOL`` of them, newest first.
    The same as one case at a time unless the boxes together hold more than ``DUPLICATE_POOL`` × (cases + 1)
    open cases."""
    import datetime as dt

    from cogov.insight import duplicates as dup

    out: dict[int, list[tuple]] = {c.pk: [] for c in cases}
    if not cases:
        return out
    threshold = dup.THRESHOLD if threshold is None else threshold
    radius_m = min(float(radius_m), dup.MAX_METRES)
    dlat = math.degrees(radius_m / dup.EARTH_RADIUS_M)
    window = dt.timedelta(days=dup.MAX_DAYS)

    def dlon(lat: float) -> float:
        return dlat / max(math.cos(math.radians(lat)), 0.01)

    # each case's own box, window and related categories, OR-ed: one query, no case outside every box
    boxes = Q(pk__in=[])
    for c in cases:
        dx = dlon(c.lat)
        boxes |= Q(category__code__in=sorted(dup.related_categories(c.category.code)),
                   lat__gte=c.lat - dlat, lat__lte=c.lat + dlat, lon__gte=c.lon - dx, lon__lte=c.lon + dx,
                   reported_at__gte=c.reported_at - window, reported_at__lte=c.reported_at + window)
    pool = list(Case.objects.filter(visible_cases(actor), boxes, category__city_id=cases[0].city_id,
                                    state__in=sorted(workflow.OPEN))
                .select_related("category").order_by("-reported_at", "-id")[:DUPLICATE_POOL * (len(cases) + 1)])
    if not pool:
        return out
    photos: dict[int, list[str]] = {}
    phashes: dict[int, list[str]] = {}
    ids = {c.pk for c in cases} | {c.pk for c in pool}
    for case_id, sha, phash in Attachment.objects.filter(case_id__in=sorted(ids), kind="report").values_list(
            "case_id", "sha256", "phash"):
        photos.setdefault(case_id, []).append(sha)
        if phash:
            phashes.setdefault(case_id, []).append(phash)

    def record(c: Case) -> dup.Report:
        return dup.Report(key=str(c.pk), category=c.category.code, lon=c.lon, lat=c.lat, reported_at=c.reported_at,
                          text=f"{c.title} {c.description}", photos=tuple(photos.get(c.pk, ())),
                          phashes=tuple(phashes.get(c.pk, ())), patroller=dup.patroller_of(c.source, c.reported_by_id),
                          building=dup.building_of(c.units, c.category.scope),
                          courtyard=dup.courtyard_of(c.units, c.category.scope), source=c.source)

    records = {c.pk: record(c) for c in pool}
    for case in cases:
        related, dx = dup.related_categories(case.category.code), dlon(case.lat)
        near = [c for c in pool if c.pk != case.pk and c.category.code in related
                and abs(c.lat - case.lat) <= dlat and abs(c.lon - case.lon) <= dx
                and abs(c.reported_at - case.reported_at) <= window][:DUPLICATE_POOL]
        by_key = {str(c.pk): c for c in near}
        # all open cases of the box go in: how many share the category near the report is part of the score
        scored = dup.candidates(records.get(case.pk) or record(case), [records[c.pk] for c in near], threshold)
        found = [(by_key[r.key], round(m.metres), m) for r, m in scored if m.metres <= radius_m]
        found.sort(key=lambda cmm: (-cmm[2].score, cmm[1], cmm[0].reported_at))
        out[case.pk] = found[:limit]
    return out


def case_timeline(case: Case) -> list[CaseEvent]:
    """The case's events in order, with their actors."""
    return list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("seq"))


def case_photos(case: Case) -> list[Attachment]:
    """The case's photos, report photos first."""
    return list(Attachment.objects.filter(case=case).order_by("kind", "pk"))


def dispatch_unit_choices(case: Case) -> list:
    """The professional units a case may be dispatched to: the suggested one first, then by name."""
    from cogov.people.models import ServiceUnit

    units = list(ServiceUnit.objects.filter(city_id=case.city_id).order_by("name", "id"))
    units.sort(key=lambda u: u.pk != case.suggested_unit_id)
    return units


#: What heads find most on patrol when their area has no history yet (暴露垃圾、非法小广告、占道经营、乱堆杂物、楼道堆物、飞线充电).
PATROL_USUAL_CODES = ("06010", "07001", "09006", "06036", "Q0301", "Q0202")


def categories_most_used(actor: Actor, *, limit: int = 6) -> list[Category]:
    """The categories most reported in the actor's area (for heads' one-tap patrol report), then matters by code."""
    counts = (Case.objects.filter(visible_cases(actor)).values("category_id").annotate(n=Count("id"))
              .order_by("-n", "category_id")[:limit])
    ids = [row["category_id"] for row in counts]
    chosen = {c.pk: c for c in Category.objects.filter(pk__in=ids, active=True)}
    out = [chosen[i] for i in ids if i in chosen]
    if len(out) < limit:
        usual = {c.code: c for c in Category.objects.filter(city_id=actor.city_id, active=True, kind="matter",
                                                            code__in=PATROL_USUAL_CODES)}
        out += [usual[code] for code in PATROL_USUAL_CODES if code in usual and usual[code] not in out]
    if len(out) < limit:
        more = (Category.objects.filter(city_id=actor.city_id, active=True, kind="matter")
                .exclude(pk__in=[c.pk for c in out]).order_by("code")[: limit - len(out)])
        out += list(more)
    return out[:limit]


# --- Public pages and the citizen's own reports (公开与我的上报) ---------------------------------------------

from cogov.cases import workflow as _workflow

#: What the public status filter means.
PUBLIC_STATUS = {"open": sorted(_workflow.OPEN | {"suspended"}), "closed": ["closed"]}
RATING_NAMES = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
# one haversine for the whole project, in the Django-free duplicates module
from cogov.insight.duplicates import EARTH_RADIUS_M, distance_m  # noqa: E402,F401


def cases_public(city_id: int, *, category_id: int | None = None, status: str | None = None,
                 district_id: int | None = None) -> QuerySet[Case]:
    """Cases shown to everyone (moderation ``ok``), newest first, with the filters of the public list."""
    qs = (Case.objects.filter(city_id=city_id, moderation="ok")
          .select_related("category", "district", "subdistrict", "community", "handler_unit")
          .order_by("-reported_at", "-id"))
    if category_id:
        qs = qs.filter(category_id=category_id)
    if status in PUBLIC_STATUS:
        qs = qs.filter(state__in=PUBLIC_STATUS[status])
    if district_id:
        qs = qs.filter(district_id=district_id)
    return qs


def case_public_get(city_id: int, number: str) -> Case:
    """One publicly shown case by number; 404 ``case_not_found`` when missing or held for moderation."""
    case = (Case.objects.filter(city_id=city_id, number=number, moderation="ok")
            .select_related("category", "district", "subdistrict", "community", "station", "handler_unit",
                            "merged_into")
            .first())
    if case is None:
        raise DomainError("case_not_found", f"案件 {number} 不存在或尚未公开", status=404)
    return case


def cases_closed_recent_count(city_id: int, *, days: int = 30) -> int:
    """Publicly shown cases closed in the last ``days`` days."""
    import datetime as dt

    from cogov import clock

    since = clock.now() - dt.timedelta(days=days)
    return Case.objects.filter(city_id=city_id, moderation="ok", state="closed", closed_at__gte=since).count()


def case_follow_count(case_id: int) -> int:
    """How many people follow the case (我也遇到了)."""
    from cogov.cases.models import CaseFollow

    return CaseFollow.objects.filter(case_id=case_id).count()


def case_confirmed_duplicates(actor: Actor, case: Case) -> dict:
    """同一问题的重复反映 confirmed so far: people who followed the case on the citizen page (我也遇到了, each a
    duplicate report the citizen confirmed) and the reports the station merged into it (a duplicate the station
    head confirmed). ``{"follows": n, "merged": [case, …]}`` — the merged cases the actor may see, oldest first,
    and ``merged_total`` counting those outside the actor's view too (a number, never their content)."""
    from cogov.cases.models import CaseFollow

    merged = Case.objects.filter(merged_into_id=case.pk)
    return {
        "follows": CaseFollow.objects.filter(case_id=case.pk).count(),
        "merged": list(merged.filter(visible_cases(actor)).select_related("category").order_by("reported_at", "id")),
        "merged_total": merged.count(),
    }


def cases_open_nearby(city_id: int, lon: float, lat: float, category_id: int, radius_m: float = 200,
                      *, limit: int = 10) -> list[tuple[Case, float]]:
    """Open, publicly shown cases of the category within ``radius_m`` of the point, nearest first, as
    ``(case, metres)``; each case carries ``follow_count``. A bounding box in SQL, the exact distance here."""
    import math

    radius_m = max(1.0, float(radius_m))
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.01, math.cos(math.radians(lat)))
    rows = (Case.objects.filter(city_id=city_id, category_id=category_id, moderation="ok",
                                state__in=PUBLIC_STATUS["open"], lon__gte=lon - dlon, lon__lte=lon + dlon,
                                lat__gte=lat - dlat, lat__lte=lat + dlat)
            .select_related("category", "community").annotate(follow_count=Count("follows"))
            .order_by("-reported_at")[:200])
    near = [(c, distance_m(lon, lat, c.lon, c.lat)) for c in rows]
    near = [(c, d) for c, d in near if d <= radius_m]
    near.sort(key=lambda cd: (cd[1], cd[0].pk))
    return near[:limit]


def cases_of_citizen(city_id: int, *, person_id: int | None, numbers=()) -> list[Case]:
    """The citizen's reports: filed while signed in (``person_id``) or from this browser (``numbers``),
    newest first; each case carries ``mine`` (the signed-in person reported it) and ``follow_count``."""
    q = Q(number__in=[str(n) for n in numbers][:200])
    if person_id is not None:
        q |= Q(reported_by_id=person_id)
    rows = (Case.objects.filter(q, city_id=city_id)
            .select_related("category", "district", "subdistrict", "community", "station", "handler_unit")
            .annotate(follow_count=Count("follows")).order_by("-reported_at", "-id")[:100])
    cases = list(rows)
    for c in cases:
        c.mine = person_id is not None and c.reported_by_id == person_id
    return cases


def _who(case: Case, role: str, unit_name: str | None) -> str:
    """The unit (never a person) that acted in ``role`` on ``case``."""
    from cogov.people.roles import ROLE_NAMES

    if role in ("unit_crew", "unit_dispatcher"):
        return unit_name or "专业单位"
    if role == "station_head":
        return case.station.name if case.station_id else "城市治理服务站"
    if role == "subdistrict_supervisor":
        return case.subdistrict.name if case.subdistrict_id else "街道"
    if role == "district_supervisor":
        return case.district.name if case.district_id else "区"
    if role in ("citizen", "reporter"):
        return "上报人"
    if role == "system":
        return "系统"
    return ROLE_NAMES.get(role, role)


def case_public_timeline(case: Case, *, with_notes: bool = False) -> list[dict]:
    """The case's history for citizens: action name, time, the acting unit — no staff names, no contacts.

    ``with_notes`` adds the reasons and notes (the reporter's own page); comments are never shown.
    """
    out = []
    unit_name: str | None = None
    for e in case.events.order_by("seq").only("seq", "action", "role", "at", "data", "to_state"):
        data = e.data or {}
        acting_unit = unit_name
        if e.action == "dispatch":
            unit_name = data.get("unit_name") or unit_name
            acting_unit = unit_name
        elif e.action in ("return", "resume", "reopen"):
            unit_name = None
        entry = {"seq": e.seq, "action": e.action, "action_name": _workflow.ACTIONS.get(e.action, e.action),
                 "at": e.at, "who": _who(case, e.role, acting_unit), "state_name": _workflow.STATES.get(e.to_state, ""),
                 "note": "", "unit_name": data.get("unit_name", "") if e.action == "dispatch" else ""}
        if e.action == "rate":
            entry["note"] = RATING_NAMES.get(data.get("rating", ""), "")
            if with_notes and data.get("reason"):
                entry["note"] += f"：{data['reason']}"
        elif e.action == "escalate":
            entry["note"] = {"subdistrict": "升级到街道", "district": "升级到区"}.get(data.get("to_level"), "")
        elif e.action == "merge":
            entry["note"] = f"合并到 {data.get('into_number', '')}"
        elif with_notes and e.action not in ("comment", "dispatch"):  # a dispatch's reason is the staff's own
            entry["note"] = str(data.get("reason") or data.get("note") or "")
        out.append(entry)
    return out


def case_public_photos(case: Case) -> dict[str, list]:
    """The case's photos by kind (``report``, ``after``), oldest first."""
    from cogov.cases.models import Attachment

    photos: dict[str, list] = {"report": [], "after": []}
    for a in Attachment.objects.filter(case=case).order_by("created_at", "id"):
        photos.setdefault(a.kind, []).append(a)
    return photos


def case_ids_followed(case_ids, *, person_id: int | None, device_key: str = "") -> set[int]:
    """Which of ``case_ids`` this person (or, anonymous, this device) follows."""
    from cogov.cases.models import CaseFollow

    ids = list(case_ids)
    if not ids or (person_id is None and not device_key):
        return set()
    q = Q(person_id=person_id) if person_id is not None else Q(pk__in=[])
    if device_key:
        q |= Q(device_key=device_key)
    return set(CaseFollow.objects.filter(q, case_id__in=ids).values_list("case_id", flat=True))
