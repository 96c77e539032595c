"""Station pages (三长一站 online): the station channel, the station head's console and the heads' phone view.

* ``/work/station/<id>/channel/`` — 服务站频道, replacing the WeChat group: every event of every case in the station's
  area, newest first; new ones arrive without reload (HTMX polls ``channel/feed?after=<last event id>`` every 3 s
  and prepends what is newer; a missed poll loses nothing, the next asks from the same id). Each line carries the
  buttons the viewer may use now (dispatch with the suggestion, accept; a crew acknowledges = 第一时间应答, then
  handles with an after-photo; the head verifies) and a reply box: a reply is a ``comment`` event of that case —
  nothing lives only in the channel. Who is in the channel, and what each member reads of a line, is decided by
  ``selectors.station_channel_member`` / ``station_channel_events``. The reporter's contact is never in the
  channel, for anyone: it is on the case page, for staff holding a role on the case.
* ``/work/station/<id>/`` — 站长工作台: intake queue (accept, reject with reason, dispatch with the routing
  suggestion or override with a reason), possible duplicates within 200 m with one-click merge, the overdue
  board and the escalations received. Forms post to the case action endpoint with ``next`` back here.
* ``/work/head/`` — 三长巡查 on a phone: the head's open cases, the most urgent light first (red, yellow, green, then
  by deadline), and those closed in the last 7 days folded below; and reporting a
  problem found on patrol in two taps (position from the browser's GPS, then one of the most used categories;
  a photo optional), filed with ``case_report`` as the head in his head role, source 三长巡查.
"""

from __future__ import annotations

import datetime as dt
import math

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _t

from cogov import clock
from cogov.cases import deadlines, selectors, services
from cogov.errors import DomainError
from cogov.geo import coords
from cogov.geo import selectors as geo
from cogov.intake.photos import PhotoError, PhotoLimits, store_photos
from cogov.people.permissions import HEAD_ROLES, STAFF_ROLES, Actor
from cogov.web.auth import actor_of, city_of, staff_required
from cogov.web.display import LIGHT_URGENCY, duration_formats, duration_text, light_name
from cogov.web.staff import (
    EVENT_LABELS,
    STATE_LABELS,
    Failed,
    build_form,
    db_int,
    not_found,
    role_label,
)

#: The buttons a channel line offers (the rest is on the case page).
CHANNEL_ACTIONS = ("accept", "dispatch", "acknowledge", "handle", "verify", "rework", "close", "comment")
#: The source of a case a head files on patrol: the model's 三长巡查 ("head").
PATROL_SOURCE = "head"
#: Who reports on patrol from the phone view: the heads, and station heads who walk their area too.
PATROL_ROLES = tuple(sorted(HEAD_ROLES)) + ("station_head",)
#: Kinds that name the place of a case best, most precise first.
PLACE_KINDS = ("building", "courtyard", "street", "area", "community")
POLL_SECONDS = 3
#: How far back the heads' phone view lists closed cases (days).
RECENTLY_CLOSED_DAYS = 7
#: States in which a case is over: listed apart, below the open ones.
DONE_STATES = ("closed", "not_accepted", "merged")


def channel_forms(actor: Actor, case, *, failed: Failed | None = None, actions=None, units=None) -> list:
    """The action forms of a channel line (the channel's subset of what the viewer may do now)."""
    allowed = actions if actions is not None else selectors.case_actions_for(actor, case)
    chosen = [a for a in CHANNEL_ACTIONS if a in allowed]
    if "dispatch" in chosen and units is None:
        units = selectors.dispatch_unit_choices(case)
    forms = [build_form(case, a, failed=failed, units=units) for a in chosen]
    for f in forms:
        if f.action == "acknowledge":
            f.label = _t("第一时间应答")
        elif f.action == "comment":
            f.label = _t("回复")
    return forms


def _place(case, names: dict) -> str:
    unit_ids = case.units or {}
    for kind in PLACE_KINDS:
        unit = names.get(unit_ids.get(kind))
        if unit is not None:
            return f"{case.address} · {unit.name}" if case.address else unit.name
    return case.address or (case.community.name if case.community_id else "")


def _lines(actor: Actor, items: list) -> list[dict]:
    """Channel items as the template shows them."""
    names = geo.units_by_id({int(v) for i in items for v in (i.case.units or {}).values()})
    now = clock.now()
    units = None
    out = []
    for item in items:
        if "dispatch" in item.actions and units is None:
            from cogov.people.models import ServiceUnit

            units = list(ServiceUnit.objects.filter(city_id=actor.city_id).order_by("name", "id"))
        case, e = item.case, item.event
        ordered = None
        if units is not None and "dispatch" in item.actions:
            ordered = sorted(units, key=lambda u: u.pk != case.suggested_unit_id)
        who = role_label(e.role)
        if e.role in STAFF_ROLES and e.actor_id:
            who = f"{who} {e.actor}"
        text = ""
        if item.detail:
            data = e.data or {}
            text = data.get("text") or data.get("note") or data.get("reason") or ""
            if e.action == "report":
                text = case.description or case.title
        out.append({
            "item": item, "case": case, "event": e,
            "label": EVENT_LABELS.get(e.action, e.action), "who": who, "text": text,
            "unit_name": (e.data or {}).get("unit_name", ""),
            "state_label": STATE_LABELS.get(case.state, case.state),
            "place": _place(case, names),
            "due_text": duration_text(case.first_response_due - now)
            if item.minutes_left is not None and case.first_response_due else "",
            "forms": channel_forms(actor, case, actions=item.actions, units=ordered) if item.latest else [],
        })
    return out


def _station(request: HttpRequest, station_unit_id: int):
    actor = actor_of(request)
    return actor, selectors.station_get(actor, station_unit_id)


@staff_required
def channel(request: HttpRequest, station_unit_id: int) -> HttpResponse:
    """服务站频道 — the live feed of the station's area."""
    try:
        actor, station = _station(request, station_unit_id)
        items = selectors.station_channel_events(actor, station)
    except DomainError as e:
        return not_found(request, e.message, status=e.status)
    return render(request, "web/station/channel.html", {
        "station": station, "lines": _lines(actor, items),
        "last_id": max((i.event.pk for i in items), default=0),
        "console": selectors.station_console_allowed(actor, station),
        "now": clock.now(), "poll_seconds": POLL_SECONDS, "duration_formats": duration_formats(),
    })


@staff_required
def channel_feed(request: HttpRequest, station_unit_id: int) -> HttpResponse:
    """The channel's newer lines (``after`` = the last event id the page has); 204 when there is nothing new."""
    try:
        after = int(request.GET.get("after", "0"))
        if not 0 <= after < 2**63:
            raise ValueError(after)
    except (TypeError, ValueError):
        return HttpResponse(_t("after 必须是整数（事件编号）"), status=400, content_type="text/plain; charset=utf-8")
    try:
        actor, station = _station(request, station_unit_id)
        items = selectors.station_channel_events(actor, station, after=after)
    except DomainError as e:
        return HttpResponse(e.message, status=e.status, content_type="text/plain; charset=utf-8")
    if not items:
        return HttpResponse(status=204)
    last_id = max(i.event.pk for i in items)
    stale = selectors.station_channel_older_events(station, {i.case.pk for i in items}, up_to=after)
    return render(request, "web/station/_feed.html", {
        "station": station, "lines": _lines(actor, items), "last_id": last_id, "stale": stale,
        "poll_seconds": POLL_SECONDS,
    })


@staff_required
def console(request: HttpRequest, station_unit_id: int) -> HttpResponse:
    """站长工作台 — intake queue with suggestions and duplicates, overdue board, escalations received."""
    try:
        actor, station = _station(request, station_unit_id)
        board = selectors.station_console(actor, station)
    except DomainError as e:
        return not_found(request, e.message, status=e.status)
    now = clock.now()
    here = reverse("station_console", args=[station.pk])
    units = None
    queue = []
    actions_of = {case.pk: selectors.case_actions_for(actor, case) for case in board["queue"]}
    # the merge offers of the whole queue in two queries (not two per queued case)
    duplicates = selectors.cases_duplicates_near(actor, [c for c in board["queue"] if "merge" in actions_of[c.pk]])
    for case in board["queue"]:
        actions = actions_of[case.pk]
        if "dispatch" in actions and units is None:
            units = selectors.dispatch_unit_choices(case)
        ordered = sorted(units, key=lambda u: u.pk != case.suggested_unit_id) if units is not None else None
        forms = [build_form(case, a, units=ordered) for a in ("accept", "dispatch", "reject") if a in actions]
        queue.append({
            "case": case, "forms": forms, "state_label": STATE_LABELS.get(case.state, case.state),
            "can_merge": "merge" in actions,
            "duplicates": duplicates.get(case.pk, []),
            "late": bool(case.first_response_due and case.first_response_due < now),
            "due_text": duration_text(case.first_response_due - now) if case.first_response_due else "",
        })
    overdue = []
    for case in board["overdue"]:
        first_late = case.state in selectors.FIRST_RESPONSE_STATES and case.first_response_due \
            and case.first_response_due < now
        due = case.first_response_due if first_late else case.handling_due
        overdue.append({"case": case, "which": _t("响应超时") if first_late else _t("处置超时"),
                        "late_text": duration_text(max(now - due, dt.timedelta(0))),
                        "state_label": STATE_LABELS.get(case.state, "")})
    return render(request, "web/station/console.html", {
        "station": station, "queue": queue, "overdue": overdue,
        "escalated": [{"case": c, "state_label": STATE_LABELS.get(c.state, ""),
                       "level_label": {"subdistrict": _t("街道"), "district": _t("区")}.get(c.level, c.level)}
                      for c in board["escalated"]],
        "here": here, "channel_url": reverse("station_channel", args=[station.pk]),
        "dashboard_url": "/work/dashboard/",
    })


# --- heads' phone view ---------------------------------------------------------------------------------


def running_clock(case) -> tuple | None:
    """(start, due) of the deadline running on a case now, or None when no clock runs."""
    if case.state in selectors.FIRST_RESPONSE_STATES and case.first_response_due:
        start, due = (case.dispatched_at if case.state == "dispatched" and case.dispatched_at
                      else case.reported_at), case.first_response_due
    elif case.state in selectors.HANDLING_STATES and case.handling_due:
        start, due = case.dispatched_at or case.reported_at, case.handling_due
    else:
        return None
    return min(start, due), due


def case_light(case, now) -> str:
    """The traffic light of the clock running on a case now ('' when none runs)."""
    clock_ = running_clock(case)
    return deadlines.traffic_light(clock_[0], clock_[1], now) if clock_ else ""


def _head_row(case, now) -> dict:
    light = case_light(case, now)
    return {"case": case, "state_label": STATE_LABELS.get(case.state, case.state), "light": light,
            "light_label": light_name(light)}


def head_cases(actor: Actor, now) -> tuple[list[dict], list[dict]]:
    """The head's cases for the phone: (open ones, most urgent first — red, yellow, green, then those with no
    clock running — each group by deadline; those closed in the last ``RECENTLY_CLOSED_DAYS`` days, newest first)."""
    from django.db.models import Q

    mine = selectors.case_list_for_actor(actor)
    open_rows = [_head_row(c, now) for c in mine.exclude(state__in=DONE_STATES)[:200]]
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

    def urgency(row):
        clock_ = running_clock(row["case"])
        return (LIGHT_URGENCY.get(row["light"], len(LIGHT_URGENCY)), clock_[1] if clock_ else far,
                -row["case"].reported_at.timestamp())

    open_rows.sort(key=urgency)
    since = now - dt.timedelta(days=RECENTLY_CLOSED_DAYS)
    # not accepted and merged cases have no closed_at: their report date stands in for it
    done = list(mine.filter(state__in=DONE_STATES)
                .filter(Q(closed_at__gte=since) | Q(closed_at__isnull=True, reported_at__gte=since))[:100])
    done.sort(key=lambda c: (c.closed_at or c.reported_at, c.pk), reverse=True)
    return open_rows, [_head_row(c, now) for c in done[:50]]


def _head_context(actor: Actor, *, values=None, errors=None, error: str = "") -> dict:
    now = clock.now()
    open_rows, closed_rows = head_cases(actor, now)
    roles = [r for r in PATROL_ROLES if r in actor.roles]
    return {
        "cases": open_rows, "closed": closed_rows, "closed_days": RECENTLY_CLOSED_DAYS,
        "categories": selectors.categories_most_used(actor),
        "all_categories": selectors.category_list(actor.city_id).filter(kind="matter"),
        "roles": [(r, role_label(r)) for r in roles],
        "channels": selectors.station_channels_for_actor(actor),
        "values": values or {}, "errors": errors or {}, "error": error,
    }


def _may_patrol(actor: Actor) -> bool:
    return bool(actor.roles & set(PATROL_ROLES))


@staff_required
def head_home(request: HttpRequest) -> HttpResponse:
    """三长巡查 — my area's cases and the two-tap patrol report."""
    actor = actor_of(request)
    if not _may_patrol(actor):
        return not_found(request, _t("此页面供楼院长、街巷长、区片长和站长使用"), status=403)
    return render(request, "web/station/head.html", _head_context(actor))


def patrol_category(post) -> str:
    """The category tapped (a button ``category``), else the one chosen under 其他类别 (``category_other``)."""
    for value in [*post.getlist("category"), post.get("category_other", "")]:
        if str(value).strip():
            return str(value).strip()
    return ""


def _parse_patrol(actor: Actor, post) -> tuple[dict, dict]:
    values = {k: str(post.get(k, "") or "").strip() for k in ("lon", "lat", "coord_system", "role", "description")}
    values["category"] = patrol_category(post)
    errors: dict = {}
    data: dict = {}
    try:
        lon, lat = float(values["lon"]), float(values["lat"])
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ValueError
        system = values["coord_system"] or "wgs84"
        if system not in coords.SYSTEMS:
            raise ValueError
        data["lon"], data["lat"] = coords.to_wgs84(lon, lat, system)
    except ValueError:
        errors["position"] = _t("请先获取当前位置（或填写经纬度）")
    try:
        data["category_id"] = db_int(values["category"])
    except ValueError:
        errors["category"] = _t("请选择问题类别")
    roles = [r for r in PATROL_ROLES if r in actor.roles]
    role = values["role"] or (roles[0] if roles else "")
    if role not in roles:
        errors["role"] = _t("请选择上报身份")
    data["role"] = role
    description = values["description"]
    if "\x00" in description or len(description) > 500:
        errors["description"] = _t("补充说明不能超过 500 字")
    data["description"] = description
    return data, errors


@staff_required
def head_report(request: HttpRequest) -> HttpResponse:
    """巡查上报 — file what a head found on patrol (source 三长巡查, role: the head's)."""
    actor = actor_of(request)
    if not _may_patrol(actor):
        return not_found(request, _t("此页面供楼院长、街巷长、区片长和站长使用"), status=403)
    if request.method != "POST":
        return redirect("head_home")
    data, errors = _parse_patrol(actor, request.POST)
    values = {k: request.POST.get(k, "") for k in ("lon", "lat", "coord_system", "role", "description")}
    values["category"] = patrol_category(request.POST)
    if errors:
        return render(request, "web/station/head.html", _head_context(actor, values=values, errors=errors),
                      status=400)
    try:
        uploads = [f for f in request.FILES.getlist("photo") if getattr(f, "size", 1)]
        limits = PhotoLimits.from_settings()
        if any(f.size is not None and f.size > limits.max_bytes for f in uploads):
            raise PhotoError("photo_too_large", _t("照片不能超过 %(mb)d MB") % {"mb": limits.max_bytes // (1024 * 1024)})
        photo_ids = [a.pk for a in store_photos(city_id=actor.city_id, files=[f.read() for f in uploads],
                                                kind="report", uploaded_by_id=actor.person_id)] if uploads else []
        case = services.case_report(city=city_of(request), actor=actor, category_id=data["category_id"],
                                    lon=data["lon"], lat=data["lat"], source=PATROL_SOURCE, role=data["role"],
                                    description=data["description"], photo_ids=photo_ids)
    except DomainError as e:
        return render(request, "web/station/head.html", _head_context(actor, values=values, error=e.message),
                      status=e.status)
    messages.success(request, _t("已上报，案件编号 %(n)s") % {"n": case.number})
    return redirect("head_home")


urlpatterns = [
    path("work/station/<int:station_unit_id>/", console, name="station_console"),
    path("work/station/<int:station_unit_id>/channel/", channel, name="station_channel"),
    path("work/station/<int:station_unit_id>/channel/feed", channel_feed, name="station_channel_feed"),
    path("work/head/", head_home, name="head_home"),
    path("work/head/report", head_report, name="head_report"),
]
