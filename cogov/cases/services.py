"""The only writers of cases (案件服务): each call is one transaction that checks the workflow table,
writes the new state, appends a hash-chained event and queues the notifications in the outbox."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from typing import Any, Mapping

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from cogov import clock
from cogov.cases import chain, config, deadlines, routing, workflow
from cogov.cases.models import Case, CaseCounter, CaseEvent, Category, Reporter
from cogov.cases.selectors import work_calendar
from cogov.errors import DomainError
from cogov.geo import selectors as geo
from cogov.geo.models import KINDS, City, Unit
from cogov.intake.photos import attach_photos
from cogov.intake.text import normalize, spam_reasons
from cogov.notify.services import AUDIENCE, outbox_enqueue_case_event
from cogov.people.models import RoleAssignment, ServiceUnit
from cogov.people.permissions import Actor, case_not_found, role_for_action, roles_on_case, system_actor

DEFAULT_LIMITS = {"first_response": (1.0, "working_hours"), "handling": (3.0, "working_days")}
#: The data each action may carry (anything else is refused, so typos never pass silently).
ACTION_FIELDS: dict[str, set[str]] = {
    "accept": {"note"},
    "reject": {"reason"},
    "dispatch": {"unit", "reason", "note"},
    "acknowledge": {"note"},
    "return": {"reason"},
    "handle": {"note", "photos"},
    "verify": {"note"},
    "rework": {"reason"},
    "close": {"note"},
    "request_extension": {"reason", "days"},
    "approve_extension": {"note"},
    "refuse_extension": {"reason"},
    "suspend": {"reason"},
    "resume": {"note"},
    "merge": {"into", "note"},
    "reopen": {"reason"},
    "escalate": {"to_level", "reason"},
    "comment": {"text"},
    "rate": {"rating", "reason"},
}
REPORT_ROLES = ("citizen", "volunteer", "station_head", "building_head", "street_head", "area_head",
                "unit_dispatcher", "unit_crew", "subdistrict_supervisor", "district_supervisor",
                "city_supervisor", "admin")


def _limit(category: Category, urgency: str, which: str) -> tuple[float, str]:
    # the limits as last saved, from the per-process cache (cogov/cases/config.py): no query per report
    limits = config.category_limits(category.city_id, category.pk)
    lim = limits.get(urgency) or limits.get("normal")
    if lim is None:
        return DEFAULT_LIMITS[which]
    first_amount, first_unit, handling_amount, handling_unit = lim
    if which == "first_response":
        return first_amount, first_unit
    return handling_amount, handling_unit


def _due(city_id: int, start: dt.datetime, amount: float, unit: str) -> deadlines.Deadline:
    return deadlines.add_working_time(start, amount, unit, work_calendar(city_id))


def _next_number(city_id: int, at: dt.datetime) -> str:
    """The next case number of the city's year (year + 7 digits), taken inside the caller's transaction.

    PostgreSQL: ``nextval`` of a sequence per city and year. It holds no lock until commit, so concurrent
    reports commit side by side and share WAL flushes (the counter row's lock made every report of a city wait
    for the previous one's commit); a report that rolls back leaves a gap in the numbers. SQLite: the counter
    row (SQLite runs one writer at a time anyway).
    """
    year = at.astimezone(clock.LOCAL_TZ).year
    if connection.vendor == "postgresql":
        return f"{year}{_sequence_next(city_id, year):07d}"
    counter, _ = CaseCounter.objects.select_for_update().get_or_create(city_id=city_id, year=year)
    counter.value += 1
    counter.save(update_fields=["value"])
    return f"{year}{counter.value:07d}"


def case_number_sequence(city_id: int, year: int) -> str:
    """The PostgreSQL sequence numbering a city's cases of one year."""
    return f"cogov_case_number_{int(city_id)}_{int(year)}"


def _sequence_next(city_id: int, year: int) -> int:
    name = case_number_sequence(city_id, year)
    with connection.cursor() as cur:
        # one statement when the sequence exists (the ::text defers the name lookup to run time)
        cur.execute("SELECT CASE WHEN to_regclass(%s) IS NOT NULL THEN nextval(%s::text) END", [name, name])
        value = cur.fetchone()[0]
        if value is not None:
            return value
        # the year's first report: start after every number already given (the counter, imported history)
        try:
            with transaction.atomic():
                cur.execute(
                    "SELECT GREATEST("
                    "COALESCE((SELECT value FROM cases_casecounter WHERE city_id = %s AND year = %s), 0),"
                    " COALESCE((SELECT MAX(RIGHT(number, 7)::bigint) FROM cases_case"
                    " WHERE city_id = %s AND number LIKE %s), 0))",
                    [city_id, year, city_id, f"{year}%"],
                )
                cur.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START WITH {cur.fetchone()[0] + 1}")
        except IntegrityError:
            pass  # another report created it at the same moment
        cur.execute("SELECT nextval(%s::text)", [name])
        return cur.fetchone()[0]


def case_numbers_set(*, city_id: int, year: int, value: int) -> None:
    """Set the last case number of a city's year (imports, the demo's history); the next one is value + 1."""
    CaseCounter.objects.update_or_create(city_id=city_id, year=year, defaults={"value": value})
    if connection.vendor == "postgresql":
        name = case_number_sequence(city_id, year)
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if cur.fetchone()[0]:
                cur.execute("SELECT setval(%s::text, %s, %s)", [name, max(value, 1), value > 0])


def _snapshot(case: Case) -> workflow.Snapshot:
    return workflow.Snapshot(
        state=case.state,
        level=case.level,
        max_level=case.max_level,
        handler_unit=case.handler_unit_id,
        extension_pending=case.extension_pending,
        rework_count=case.rework_count,
        return_count=case.return_count,
        extension_count=case.extension_count,
        rating=case.rating,
        merged_into=case.merged_into_id,
    )


def _store_snapshot(case: Case, snap: workflow.Snapshot) -> None:
    case.state = snap.state
    case.level = snap.level
    case.max_level = snap.max_level
    case.handler_unit_id = snap.handler_unit
    case.extension_pending = snap.extension_pending
    case.rework_count = snap.rework_count
    case.return_count = snap.return_count
    case.extension_count = snap.extension_count
    case.rating = snap.rating
    case.merged_into_id = snap.merged_into


def _new_event(case: Case, *, action: str, actor: Actor, role: str, at: dt.datetime, from_state: str,
               data: Mapping) -> CaseEvent:
    """The case's next event, not yet saved; the case's event count and head hash move on to it."""
    seq = case.event_count + 1
    actor_ref = "system" if actor.system else (f"person:{actor.person_id}" if actor.person_id else "anonymous")
    body = chain.event_body(case_number=case.number, seq=seq, action=action, actor_ref=actor_ref, role=role,
                            at=at, from_state=from_state, to_state=case.state, data=data)
    event = CaseEvent(city_id=case.city_id, case=case, seq=seq, action=action, actor_id=actor.person_id,
                      actor_ref=actor_ref, role=role, at=at, from_state=from_state, to_state=case.state,
                      data=dict(data), prev_hash=case.head_hash, hash=chain.event_hash(case.head_hash, body))
    case.event_count = seq
    case.head_hash = event.hash
    return event


def _append_event(case: Case, *, action: str, actor: Actor, role: str, at: dt.datetime, from_state: str,
                  data: Mapping) -> CaseEvent:
    event = _new_event(case, action=action, actor=actor, role=role, at=at, from_state=from_state, data=data)
    event.save(force_insert=True)
    return event


def _recipients(case: Case, action: str) -> dict[str, list[int]]:
    wanted = set(AUDIENCE.get(action, ()))
    out: dict[str, list[int]] = {}
    now = clock.now()
    active = Q(valid_from__lte=now) & (Q(valid_to__isnull=True) | Q(valid_to__gt=now))
    if "head" in wanted and case.head_id:
        out["head"] = [case.head_id]
    if "unit" in wanted and case.handler_unit_id:
        out["unit"] = list(RoleAssignment.objects.filter(active, service_unit_id=case.handler_unit_id)
                           .values_list("person_id", flat=True))
    if "station" in wanted and case.station_id:
        out["station"] = list(RoleAssignment.objects.filter(active, role="station_head", scope_unit_id=case.station_id)
                              .values_list("person_id", flat=True))
    if "reporter" in wanted and case.reported_by_id:
        out["reporter"] = [case.reported_by_id]
    return out


def _check_point(city: City, lon: Any, lat: Any) -> tuple[float, float]:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise DomainError("bad_point", "经纬度必须是数字") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise DomainError("bad_point", "经纬度超出范围（WGS-84：经度 -180~180，纬度 -90~90）")
    return lon, lat


def _routing_facts(city_id: int, located: dict[str, int], category: Category,
                   units: Mapping[int, Unit]) -> tuple[routing.Routing, dict[int, list[routing.Head]]]:
    """The routing decision, and the current heads of the located units (the station's among them)."""
    places = {k: routing.Place(uid, units[uid].name) for k, uid in located.items() if uid in units}
    now = clock.now()
    # the heads appointed to the located units, from the per-process cache (re-read when an appointment or a
    # name changes); which appointments hold is judged now
    appointed = config.heads(city_id)
    heads: dict[int, list[routing.Head]] = {}
    for unit_id in located.values():
        for h in appointed.get(unit_id, ()):
            if h.current(now):
                heads.setdefault(unit_id, []).append(routing.Head(h.person_id, h.role, h.name))
    depth = {uid: KINDS.index(k) + 1 for k, uid in located.items()}
    # the professional units and their service areas from the per-process cache (cogov/cases/config.py); of
    # each unit, the depth of the smallest located unit its area lists (0 = none: it does not cover the point)
    service_units = config.service_units(city_id)
    covering: dict[int, int] = {}
    for unit_id, d in depth.items():
        for su_id in service_units.serving.get(unit_id, ()):
            covering[su_id] = max(covering.get(su_id, 0), d)
    candidates = [  # only those whose duty fits: routing would pass over the others
        routing.Candidate(id=r.id, name=r.name, duty_type=r.duty_type, duty_categories=r.duty_categories,
                          covers_point=not r.has_area or r.id in covering, specificity=covering.get(r.id, 0))
        for r in service_units.fitting(category.duty_type, category.code)
    ]
    decision = routing.route(located=places, scope=category.scope, duty_type=category.duty_type,
                             category_code=category.code, heads=heads, candidates=candidates)
    return decision, heads


@config.one_version()  # one look at the city's configuration version per report, all reads from one snapshot
def case_report(
    *,
    city: City,
    actor: Actor | None,
    category_id: int,
    lon: float,
    lat: float,
    source: str = "citizen",
    role: str = "citizen",
    title: str = "",
    description: str = "",
    address: str = "",
    urgency: str = "normal",
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    contact_device: str = "",
    photo_ids: list[int] | None = None,
    upload_token: str = "",
) -> Case:
    """上报 — file a new case: locate it, route it, set its first-response deadline, write event and outbox."""
    actor = actor or Actor(person_id=None, city_id=city.pk)
    title = normalize(title, max_length=100, field="title")
    description = normalize(description, max_length=4000, multiline=True, field="description")
    address = normalize(address, max_length=200, field="address")
    contact_name = normalize(contact_name, max_length=50, field="contact_name")
    # links or spam: held for a person to allow before anything is shown publicly
    held_for = spam_reasons("\n".join((title, description, address, contact_name)))
    if role not in REPORT_ROLES or (role != "citizen" and role not in actor.roles):
        raise DomainError("role_not_allowed", f"不能以「{role}」身份上报", status=403)
    try:
        category = config.category(city.pk, int(category_id))
    except (TypeError, ValueError):
        category = None
    if category is None or not category.active:
        raise DomainError("unknown_category", f"类别 {category_id} 不存在或已停用")
    if urgency not in ("normal", "urgent", "emergency"):
        raise DomainError("bad_urgency", "紧急程度只能是 normal / urgent / emergency")
    lon, lat = _check_point(city, lon, lat)
    located = geo.locate(city.pk, lon, lat)
    if "district" not in located:
        raise DomainError("outside_city", f"该位置（{lon:.6f}, {lat:.6f}）不在{city.name}辖区内",
                          detail={"lon": lon, "lat": lat})
    units = config.units(city.pk, located.values())
    decision, heads = _routing_facts(city.pk, located, category, units)
    deepest = next(located[k] for k in reversed(KINDS) if k in located)
    at = clock.now()
    first = _due(city.pk, at, *_limit(category, urgency, "first_response"))
    # Inside a caller's transaction (the API's idempotency block) no savepoint unless photos are attached:
    # nothing else in this block refuses a report, so any error here must roll the caller's transaction back
    # anyway — and two round trips fewer per report. Outside one, this is the transaction (BEGIN … COMMIT).
    with transaction.atomic(savepoint=bool(photo_ids)):
        reporter = None
        if contact_name or contact_phone or contact_email or contact_device or actor.person_id:
            reporter = Reporter.objects.create(city=city, person_id=actor.person_id, name=contact_name,
                                               phone=contact_phone, email=contact_email, device_id=contact_device)
        data = {"category": category.code, "edition": category.edition, "source": source, "urgency": urgency,
                "point": [round(lon, 7), round(lat, 7)], "units": located, "routing": decision.reasons}
        snap = workflow.step(workflow.Snapshot(), "report", role, data)
        # the located units themselves, not their ids: the answer names them without another read
        case = Case(
            city=city, number=_next_number(city.pk, at), category=category, urgency=urgency, source=source,
            title=title, description=description, address=address, lon=lon, lat=lat, units=located,
            district=units.get(located.get("district")), subdistrict=units.get(located.get("subdistrict")),
            community=units.get(located.get("community")), station=units.get(located.get("station")),
            unit_path=units[deepest].path,
            head_id=decision.head_person, head_role=decision.head_role, suggested_unit_id=decision.service_unit,
            routing_reasons=decision.reasons, reporter=reporter, reported_by_id=actor.person_id,
            token=secrets.token_hex(16), moderation="held" if held_for else "ok", moderation_reasons=held_for,
            reported_at=at, first_response_due=first.due, deadline_fallback_years=list(first.fallback_years),
        )
        _store_snapshot(case, snap)
        # hashed before the case is written, so the case row is written once, complete
        event = _new_event(case, action="report", actor=actor, role=role, at=at, from_state="", data=data)
        case.save(force_insert=True)
        event.save(force_insert=True)
        if photo_ids:
            attach_photos(case=case, attachment_ids=photo_ids, uploaded_by_id=actor.person_id,
                          upload_token=upload_token, kind="report")
        station_heads = [h.person_id for h in heads.get(case.station_id, ()) if h.role == "station_head"]
        recipients = {"head": [case.head_id] if case.head_id else [], "station": station_heads}
        outbox_enqueue_case_event(case=case, event=event, recipients=recipients)
    return case


def _prepare(case: Case, action: str, data: dict, actor: Actor, at: dt.datetime) -> dict:
    """Check and complete the data of an action against the case (rules beyond the plain table)."""
    if action == "dispatch":
        try:
            unit_id = int(data["unit"])
        except (KeyError, TypeError, ValueError):
            raise DomainError("missing_fields", "「派遣」需要填写：unit（专业单位编号）", detail={"fields": ["unit"]}) from None
        unit = ServiceUnit.objects.filter(city_id=case.city_id, pk=unit_id).first()
        if unit is None:
            raise DomainError("unknown_unit", f"专业单位 {data['unit']} 不存在")
        if case.suggested_unit_id and unit.pk != case.suggested_unit_id and not data.get("reason"):
            raise DomainError("override_needs_reason", "改派到非推荐单位时必须说明理由", detail={"fields": ["reason"]})
        data = {**data, "unit": unit.pk, "unit_name": unit.name}
    elif action == "merge":
        target = Case.objects.filter(city_id=case.city_id, number=str(data.get("into", ""))).first()
        # a target outside the actor's area is treated as missing: merging must not reveal that it exists
        if target is None or target.pk == case.pk or not (actor.system or roles_on_case(actor, target)):
            raise DomainError("unknown_case", "合并目标案件不存在（或就是本案件）")
        if target.state in workflow.TERMINAL:
            raise DomainError("bad_merge_target", "不能合并到已合并或不予立案的案件", status=409)
        data = {**data, "into": target.pk, "into_number": target.number}
    elif action == "reopen":
        if case.closed_at and at > case.closed_at + dt.timedelta(days=settings.COGOV_REOPEN_DAYS):
            raise DomainError("reopen_window_passed", f"结案超过 {settings.COGOV_REOPEN_DAYS} 天，不能重新打开",
                              status=409)
    elif action == "request_extension":
        try:
            days = int(data.get("days"))
        except (TypeError, ValueError):
            days = 0
        if not 1 <= days <= 30:
            raise DomainError("bad_days", "延期天数必须是 1 到 30 的整数（工作日）")
        data = {**data, "days": days}
    return data


def case_act(*, city_id: int, number: str, actor: Actor, action: str, data: Mapping | None = None) -> Case:
    """Take a workflow ``action`` on case ``number`` as ``actor``: one transaction, one event."""
    data = dict(data or {})
    if action not in ACTION_FIELDS:
        raise DomainError("unknown_action", f"未知操作：{action}")
    unknown = sorted(set(data) - ACTION_FIELDS[action])
    if unknown:
        raise DomainError("unknown_fields", f"「{workflow.ACTIONS[action]}」不接受这些字段：{', '.join(unknown)}",
                          detail={"fields": unknown})
    at = clock.now()
    with transaction.atomic():
        case = (Case.objects.select_for_update(of=("self",)).select_related("category").filter(city_id=city_id, number=number)
                .first())
        if case is None:
            raise case_not_found(number)
        allowed = None
        if action in ("verify", "rework"):
            has_account = bool(case.reported_by_id)
            allowed = workflow.verifier_roles(reporter_verifies=case.category.reporter_verifies,
                                              reporter_has_account=has_account)
        role = "system" if actor.system else role_for_action(actor, case, action, allowed=allowed)
        data = _prepare(case, action, data, actor, at)
        if data.get("photos"):  # after-photos of 处置, uploaded by the crew member who acts
            attach_photos(case=case, attachment_ids=data["photos"], uploaded_by_id=actor.person_id, kind="after")
            data = {**data, "photos": [int(i) for i in data["photos"]]}
        from_state = case.state
        _store_snapshot(case, workflow.step(_snapshot(case), action, role, data))
        _apply_times(case, action, data, at)
        event = _append_event(case, action=action, actor=actor, role=role, at=at, from_state=from_state, data=data)
        case.save()
        outbox_enqueue_case_event(case=case, event=event, recipients=_recipients(case, action))
    return case


def apply_times(case, action: str, data: Mapping, at: dt.datetime, *, due, limit, requested_extension_days) -> None:
    """Timestamps and deadlines that follow from an action (no database: the demo's history uses it too).

    ``due(start, amount, unit) -> Deadline``, ``limit(which) -> (amount, unit)`` for "first_response"/"handling",
    ``requested_extension_days() -> int`` (the days of the pending extension request).
    """
    if action == "accept":
        case.accepted_at = at
    elif action == "dispatch":
        case.dispatched_at = at
        first, handling = due(at, *limit("first_response")), due(at, *limit("handling"))
        case.first_response_due, case.handling_due = first.due, handling.due
        case.deadline_fallback_years = sorted(set(first.fallback_years) | set(handling.fallback_years))
    elif action == "acknowledge":
        case.acknowledged_at = at
    elif action == "handle":
        case.handled_at = at
    elif action == "close":
        case.closed_at = at
    elif action == "approve_extension" and case.handling_due:
        extended = due(case.handling_due, requested_extension_days(), "working_days")
        case.handling_due = extended.due
        case.deadline_fallback_years = sorted(set(case.deadline_fallback_years) | set(extended.fallback_years))
    elif action == "escalate":
        case.escalated_at = at
    elif action in ("return", "resume", "reopen"):
        case.dispatched_at = case.acknowledged_at = case.handled_at = None
        case.handling_due = None
        # back in the station's queue: a fresh first-response deadline for re-dispatching
        case.first_response_due = due(at, *limit("first_response")).due
        if action == "reopen":
            case.closed_at = None


def _apply_times(case: Case, action: str, data: Mapping, at: dt.datetime) -> None:
    def requested_days() -> int:
        last = (CaseEvent.objects.filter(case=case, action="request_extension").order_by("-seq")
                .values_list("data", flat=True).first() or {})
        return int(last.get("days", 1))

    apply_times(case, action, data, at, due=lambda start, amount, unit: _due(case.city_id, start, amount, unit),
                limit=lambda which: _limit(case.category, case.urgency, which),
                requested_extension_days=requested_days)


#: States in which the escalation sweep looks at deadlines (a handled case waits on verification, not the unit).
ESCALATING_STATES = ("reported", "accepted", "dispatched", "acknowledged")


def cases_escalate_overdue(*, city_id: int) -> list[str]:
    """The sweep (超期升级): an overdue case rises community → sub-district, then after the grace → district."""
    now = clock.now()
    cal = work_calendar(city_id)
    grace = settings.COGOV_ESCALATION_GRACE_DAYS
    overdue = Case.objects.filter(city_id=city_id, state__in=ESCALATING_STATES, level__in=["community", "subdistrict"])
    overdue = overdue.filter(Q(handling_due__lt=now) | Q(handling_due__isnull=True, first_response_due__lt=now))
    escalated = []
    actor = system_actor(city_id)
    for number, level, handling_due, first_due in overdue.values_list(
        "number", "level", "handling_due", "first_response_due"
    ):
        due = handling_due or first_due
        if level == "community":
            to = "subdistrict"
        elif deadlines.add_working_time(due, grace, "working_days", cal).due < now:
            to = "district"
        else:
            continue
        try:
            case_act(city_id=city_id, number=number, actor=actor, action="escalate",
                     data={"to_level": to, "reason": "超过处置时限未办结，自动升级"})
        except DomainError:
            continue  # the case moved on meanwhile; the next sweep sees it afresh
        escalated.append(number)
    return escalated


def categories_load(*, city: City, specs) -> tuple[int, int]:
    """Load categories (and their default limits) into a city; existing codes are left as the bureau set them.

    Returns (created, skipped).
    """
    from cogov.cases import catalog
    from cogov.cases.models import CategoryLimit

    specs = list(specs)
    with transaction.atomic():
        have = set(Category.objects.filter(city=city).values_list("edition", "kind", "code"))
        new = [
            Category(city=city, edition=s.edition, code=s.code, name=s.name, kind=s.kind, major_code=s.major_code,
                     major_name=s.major_name, scope=s.scope, duty_type=s.duty_type,
                     reporter_verifies=s.reporter_verifies, keywords=s.keywords)
            for s in specs
            if (s.edition, s.kind, s.code) not in have
        ]
        Category.objects.bulk_create(new, batch_size=500)
        created = {(c.edition, c.kind, c.code): c for c in Category.objects.filter(
            city=city, code__in=[c.code for c in new])}
        limits = []
        for c in new:
            cat = created[(c.edition, c.kind, c.code)]
            for urgency in ("normal", "urgent", "emergency"):
                (fa, fu), (ha, hu) = catalog.limits_for(c.duty_type, urgency)
                limits.append(CategoryLimit(category=cat, urgency=urgency, first_response_amount=fa,
                                            first_response_unit=fu, handling_amount=ha, handling_unit=hu))
        CategoryLimit.objects.bulk_create(limits, batch_size=1000)
        config.config_changed(city.pk)  # bulk inserts send no signals: every process re-reads its cache
    return len(new), len(specs) - len(new)


def holidays_import(*, city: City, year: int, content: str, source: str = "") -> int:
    """Enter a year's official calendar (CSV rows ``date,is_workday[,name]``); the year becomes known.

    All rows must belong to ``year``; any bad row refuses the whole file. Re-importing a year replaces it.
    """
    import csv
    import io

    from cogov.cases.models import CalendarDay, CalendarYear

    if not 2000 <= int(year) <= 2100:
        raise DomainError("bad_year", "年份必须在 2000–2100 之间")
    rows, problems = [], []
    for n, row in enumerate(csv.reader(io.StringIO(content)), start=1):
        if not row or not row[0].strip() or row[0].strip().lower() == "date":
            continue
        try:
            day = dt.date.fromisoformat(row[0].strip())
        except ValueError:
            problems.append(f"第 {n} 行日期无法识别：{row[0]!r}")
            continue
        if day.year != year:
            problems.append(f"第 {n} 行日期 {day} 不属于 {year} 年")
            continue
        flag = (row[1].strip().lower() if len(row) > 1 else "0")
        if flag not in ("0", "1", "true", "false", "上班", "放假"):
            problems.append(f"第 {n} 行 is_workday 只能是 0/1：{flag!r}")
            continue
        rows.append((day, flag in ("1", "true", "上班"), row[2].strip() if len(row) > 2 else ""))
    if problems:
        raise DomainError("bad_calendar", "；".join(problems[:10]), detail={"problems": problems})
    if len({d for d, _, _ in rows}) != len(rows):
        raise DomainError("bad_calendar", "同一日期出现多次")
    with transaction.atomic():
        CalendarDay.objects.filter(city=city, date__year=year).delete()
        CalendarDay.objects.bulk_create([CalendarDay(city=city, date=d, is_workday=w, name=nm) for d, w, nm in rows])
        CalendarYear.objects.update_or_create(city=city, year=year, defaults={"source": source})
        config.config_changed(city.pk)  # bulk inserts send no signals: every process re-reads its cache
    return len(rows)


#: States in which a case may still be followed (我也遇到了): it is being worked on.
FOLLOWABLE_STATES = workflow.OPEN | {"suspended"}


def case_follow(*, case_id: int, person_id: int | None, device_key: str = ""):
    """关注（我也遇到了）— follow a public, open case instead of reporting it again; idempotent.

    One follow per case and person (signed in) or per case and device (an anonymous browser); a device's
    anonymous follow becomes the person's when they follow again signed in. Returns the ``CaseFollow``.
    Refused: a case not shown publicly (404), one no longer open (409), one's own report (409).
    """
    from cogov.cases.models import CaseFollow

    device_key = (device_key or "")[:64]
    if person_id is None and not device_key:
        raise DomainError("missing_fields", "关注需要登录或浏览器会话")
    case = Case.objects.filter(pk=case_id).only("id", "city_id", "number", "state", "moderation",
                                                "reported_by_id").first()
    if case is None or case.moderation != "ok":
        raise DomainError("case_not_found", "案件不存在或尚未公开", status=404)
    if case.state not in FOLLOWABLE_STATES:
        raise DomainError("case_not_open", f"案件已{workflow.STATES[case.state]}，无需再关注", status=409)
    if person_id is not None and person_id == case.reported_by_id:
        raise DomainError("own_case", "这是您自己上报的案件，无需关注", status=409)
    for _ in range(3):  # a concurrent follow of the same person or device wins the unique index: read it back
        try:
            with transaction.atomic():
                mine = Q(person_id=person_id) if person_id is not None else Q(pk__in=[])
                if device_key:
                    mine |= Q(device_key=device_key)
                existing = CaseFollow.objects.select_for_update().filter(mine, case_id=case.pk).order_by("id")
                found = list(existing)
                if person_id is not None:
                    for row in found:
                        if row.person_id == person_id:
                            return row
                    anonymous = next((r for r in found if r.person_id is None), None)
                    if anonymous is not None:  # the same browser followed before signing in
                        anonymous.person_id = person_id
                        anonymous.save(update_fields=["person"])
                        return anonymous
                elif found:
                    return found[0]
                return CaseFollow.objects.create(
                    city_id=case.city_id, case_id=case.pk, person_id=person_id,
                    device_key="" if (person_id is not None and any(r.device_key == device_key for r in found))
                    else device_key,
                    created_at=clock.now())
        except IntegrityError:
            continue
    raise DomainError("follow_conflict", "关注失败，请重试", status=409)
