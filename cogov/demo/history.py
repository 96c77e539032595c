"""A year of cases for the demo city (历史案件), written in memory exactly as the services would write them.

Calling ``case_report``/``case_act`` 150,000 times takes many minutes, so the history is *imported*: every
event is made with the same pure functions the services use — ``workflow.step`` for the state,
``permissions.role_for_action`` for the role, ``routing.route`` for the head and the suggested unit,
``deadlines.add_working_time`` over the city's calendar for the due dates, ``chain.event_body``/``event_hash``
for the hash chain — and the rows are then bulk-inserted. ``CaseSim`` mirrors the services field by field;
``tests/integration/test_demo.py`` runs one story through both and compares every field and every hash.

History is imported, not announced: no outbox rows are written for it.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Q

from cogov import clock
from cogov.cases import chain, deadlines, routing, workflow
from cogov.cases.models import Case, CaseEvent, Category, CategoryLimit, Reporter
from cogov.cases.selectors import work_calendar
from cogov.cases.services import (
    ACTION_FIELDS,
    DEFAULT_LIMITS,
    ESCALATING_STATES,
    REPORT_ROLES,
    _snapshot,
    _store_snapshot,
    apply_times,
)
from cogov.errors import DomainError
from cogov.geo import selectors as geo
from cogov.geo.models import KINDS, Unit
from cogov.insight.duplicates import EVENT_LIKE
from cogov.insight.duplicates import distance_m as duplicates_distance
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.permissions import HEAD_ROLES, Actor, Grant, role_for_action, roles_on_case, system_actor

#: The reason the escalation sweep writes (cases_escalate_overdue).
ESCALATION_REASON = "超过处置时限未办结，自动升级"
SECOND = dt.timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------------------------
# The facts a service reads from the database, loaded once


@dataclass(frozen=True)
class UnitFacts:
    """A unit as routing and paths need it (no geometry)."""

    id: int
    kind: str
    code: str
    name: str
    path: str
    parent_id: int | None


@dataclass(frozen=True)
class ServiceUnitFacts:
    """A professional unit and the unit ids of its service area."""

    id: int
    code: str
    name: str
    duty_type: str
    duty_categories: tuple[str, ...]
    area: frozenset[int]


@dataclass(frozen=True)
class CategoryFacts:
    """A category with its limits per urgency: {urgency: ((amount, unit), (amount, unit))}."""

    id: int
    code: str
    name: str
    edition: str
    kind: str
    scope: str
    duty_type: str
    reporter_verifies: bool
    limits: Mapping[str, tuple[tuple[float, str], tuple[float, str]]]


@dataclass
class Facts:
    """Everything ``case_report``/``case_act`` read from the database for one city, held in memory."""

    city_id: int
    units: dict[int, UnitFacts]
    heads: dict[int, list[routing.Head]]
    service_units: dict[int, ServiceUnitFacts]
    services_by_unit: dict[int, tuple[int, ...]]
    whole_city_services: tuple[int, ...]
    categories: dict[int, CategoryFacts]
    calendar: deadlines.WorkCalendar
    actors: dict[int, Actor]
    index: Any
    reopen_days: int
    grace_days: int
    cases: dict[str, CaseSim] = field(default_factory=dict)

    @classmethod
    def load(cls, city_id: int, *, at: dt.datetime | None = None) -> Facts:
        """Read the city's units, heads, professional units, categories, calendar and role holders."""
        at = at or clock.now()
        units = {
            pk: UnitFacts(pk, kind, code, name, path, parent)
            for pk, kind, code, name, path, parent in Unit.objects.filter(city_id=city_id).values_list(
                "id", "kind", "code", "name", "path", "parent_id"
            )
        }
        active = Q(valid_from__lte=at) & (Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        names = {
            pk: display or username
            for pk, display, username in Person.objects.filter(city_id=city_id).values_list(
                "id", "display_name", "username"
            )
        }
        heads: dict[int, list[routing.Head]] = defaultdict(list)
        grants: dict[int, list[Grant]] = defaultdict(list)
        rows = RoleAssignment.objects.filter(active, city_id=city_id).values_list(
            "person_id", "role", "scope_unit_id", "scope_path", "service_unit_id", "person__display_name",
            "person__username",
        )
        for person, role, scope, path, service, display, username in rows:
            kind = units[scope].kind if scope in units else ""
            grants[person].append(Grant(role, scope, path, service, kind))
            names.setdefault(person, display or username)
            if scope is not None and role in HEAD_ROLES | {"station_head"}:
                heads[scope].append(routing.Head(person, role, display or username))
        superusers = set(Person.objects.filter(city_id=city_id, is_superuser=True).values_list("id", flat=True))
        actors = {}
        for person, name in names.items():
            g = tuple(grants.get(person, ()))
            if person in superusers and not any(x.role == "admin" for x in g):
                g += (Grant("admin", None, "", None),)
            actors[person] = Actor(person_id=person, city_id=city_id, grants=g, name=name)
        areas: dict[int, set[int]] = defaultdict(set)
        through = ServiceUnit.service_area.through
        for su, unit in through.objects.filter(serviceunit__city_id=city_id).values_list("serviceunit_id", "unit_id"):
            areas[su].add(unit)
        service_units = {
            pk: ServiceUnitFacts(pk, code, name, duty, tuple(cats or ()), frozenset(areas.get(pk, ())))
            for pk, code, name, duty, cats in ServiceUnit.objects.filter(city_id=city_id).values_list(
                "id", "code", "name", "duty_type", "duty_categories"
            )
        }
        by_unit: dict[int, list[int]] = defaultdict(list)
        for su in service_units.values():
            for unit in su.area:
                by_unit[unit].append(su.id)
        limits: dict[int, dict] = defaultdict(dict)
        for cat, urgency, fa, fu, ha, hu in CategoryLimit.objects.filter(category__city_id=city_id).values_list(
            "category_id", "urgency", "first_response_amount", "first_response_unit", "handling_amount",
            "handling_unit",
        ):
            limits[cat][urgency] = ((fa, fu), (ha, hu))
        categories = {
            pk: CategoryFacts(pk, code, name, edition, kind, scope, duty, verifies, limits.get(pk, {}))
            for pk, code, name, edition, kind, scope, duty, verifies in Category.objects.filter(
                city_id=city_id, active=True
            ).values_list("id", "code", "name", "edition", "kind", "scope", "duty_type", "reporter_verifies")
        }
        return cls(
            city_id=city_id,
            units=units,
            heads=dict(heads),
            service_units=service_units,
            services_by_unit={u: tuple(s) for u, s in by_unit.items()},
            whole_city_services=tuple(s.id for s in service_units.values() if not s.area),
            categories=categories,
            calendar=work_calendar(city_id),
            actors=actors,
            index=geo.locate_index(city_id),
            reopen_days=settings.COGOV_REOPEN_DAYS,
            grace_days=settings.COGOV_ESCALATION_GRACE_DAYS,
        )

    def actor(self, person_id: int | None) -> Actor | None:
        """The actor of a person (None: anonymous)."""
        if person_id is None:
            return None
        return self.actors.get(person_id) or Actor(person_id=person_id, city_id=self.city_id)

    def limit(self, category: CategoryFacts, urgency: str, which: str) -> tuple[float, str]:
        """services._limit without the query."""
        lim = category.limits.get(urgency) or category.limits.get("normal")
        if lim is None:
            return DEFAULT_LIMITS[which]
        return lim[0] if which == "first_response" else lim[1]

    def due(self, start: dt.datetime, amount: float, unit: str) -> deadlines.Deadline:
        """services._due over the calendar read once."""
        return deadlines.add_working_time(start, amount, unit, self.calendar)

    def route(self, located: Mapping[str, int], category: CategoryFacts) -> routing.Routing:
        """services._routing_facts without the queries: the same facts handed to ``routing.route``.

        Only units whose service area holds a located unit (or that serve the whole city) are handed over;
        the others would be candidates with ``covers_point=False``, which ``route`` never chooses.
        """
        places = {k: routing.Place(uid, self.units[uid].name) for k, uid in located.items() if uid in self.units}
        heads = {uid: self.heads[uid] for uid in located.values() if uid in self.heads}
        depth = {uid: KINDS.index(k) + 1 for k, uid in located.items()}
        ids = {s for uid in located.values() for s in self.services_by_unit.get(uid, ())}
        ids.update(self.whole_city_services)
        candidates = []
        for sid in sorted(ids):
            su = self.service_units[sid]
            covering = [depth[u] for u in su.area if u in depth]
            candidates.append(routing.Candidate(
                id=su.id, name=su.name, duty_type=su.duty_type, duty_categories=su.duty_categories,
                covers_point=not su.area or bool(covering), specificity=max(covering, default=0),
            ))
        return routing.route(located=places, scope=category.scope, duty_type=category.duty_type,
                             category_code=category.code, heads=heads, candidates=candidates)


# ---------------------------------------------------------------------------------------------------------------
# One case, moved as the services move it


class CaseSim:
    """A case and its events in memory: ``report`` mirrors ``case_report``, ``act`` mirrors ``case_act``."""

    def __init__(self, facts: Facts, case: Case, category: CategoryFacts, reporter: Reporter | None) -> None:
        self.facts = facts
        self.case = case
        self.category = category
        self.reporter = reporter
        self.events: list[CaseEvent] = []
        self.last_at: dt.datetime = case.reported_at
        self._extension_days: int | None = None

    # -- report ---------------------------------------------------------------------------------------------

    @classmethod
    def report(
        cls,
        facts: Facts,
        *,
        case_id: int,
        number: str,
        at: dt.datetime,
        actor: Actor | None,
        category_id: int,
        lon: float,
        lat: float,
        located: Mapping[str, int] | None = None,
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
    ) -> CaseSim:
        """上报 — as ``case_report``; ``located`` may be passed when the caller located points in bulk."""
        actor = actor or Actor(person_id=None, city_id=facts.city_id)
        if role not in REPORT_ROLES or (role != "citizen" and role not in actor.roles):
            raise DomainError("role_not_allowed", f"不能以「{role}」身份上报", status=403)
        category = facts.categories.get(category_id)
        if category is None:
            raise DomainError("unknown_category", f"类别 {category_id} 不存在或已停用")
        if urgency not in ("normal", "urgent", "emergency"):
            raise DomainError("bad_urgency", "紧急程度只能是 normal / urgent / emergency")
        lon, lat = float(lon), float(lat)
        located = dict(located) if located is not None else facts.index.locate(lon, lat)
        if "district" not in located:
            raise DomainError("outside_city", f"该位置（{lon:.6f}, {lat:.6f}）不在辖区内")
        decision = facts.route(located, category)
        deepest = next(located[k] for k in reversed(KINDS) if k in located)
        first = facts.due(at, *facts.limit(category, urgency, "first_response"))
        reporter = None
        if contact_name or contact_phone or contact_email or contact_device or actor.person_id:
            reporter = Reporter(city_id=facts.city_id, person_id=actor.person_id, name=contact_name,
                                phone=contact_phone, email=contact_email, device_id=contact_device)
        data = {"category": category.code, "edition": category.edition, "source": source, "urgency": urgency,
                "point": [round(lon, 7), round(lat, 7)], "units": located, "routing": decision.reasons}
        snap = workflow.step(workflow.Snapshot(), "report", role, data)
        case = Case(
            id=case_id, city_id=facts.city_id, number=number, category_id=category.id, urgency=urgency,
            source=source, title=title, description=description, address=address, lon=lon, lat=lat,
            units=located, district_id=located.get("district"), subdistrict_id=located.get("subdistrict"),
            community_id=located.get("community"), station_id=located.get("station"),
            unit_path=facts.units[deepest].path, head_id=decision.head_person, head_role=decision.head_role,
            suggested_unit_id=decision.service_unit, routing_reasons=decision.reasons,
            reported_by_id=actor.person_id, token=secrets.token_hex(16), reported_at=at,
            first_response_due=first.due,
            deadline_fallback_years=list(first.fallback_years),
        )
        _store_snapshot(case, snap)
        sim = cls(facts, case, category, reporter)
        sim._append("report", actor, role, at, "", data)
        facts.cases[number] = sim
        return sim

    # -- act ------------------------------------------------------------------------------------------------

    def act(self, at: dt.datetime, actor: Actor, action: str, data: Mapping | None = None) -> None:
        """Take ``action`` at ``at`` as ``actor``: as ``case_act`` (checks, role, state, times, one event)."""
        data = dict(data or {})
        if action not in ACTION_FIELDS:
            raise DomainError("unknown_action", f"未知操作：{action}")
        unknown = sorted(set(data) - ACTION_FIELDS[action])
        if unknown:
            raise DomainError("unknown_fields", f"「{workflow.ACTIONS[action]}」不接受这些字段：{', '.join(unknown)}")
        if at < self.last_at:
            raise ValueError(f"case {self.case.number}: {action} at {at} before the last event ({self.last_at})")
        case = self.case
        allowed = None
        if action in ("verify", "rework"):
            allowed = workflow.verifier_roles(reporter_verifies=self.category.reporter_verifies,
                                              reporter_has_account=bool(case.reported_by_id))
        role = "system" if actor.system else role_for_action(actor, case, action, allowed=allowed)
        data = self._prepare(action, data, actor, at)
        from_state = case.state
        _store_snapshot(case, workflow.step(_snapshot(case), action, role, data))
        self._apply_times(action, data, at)
        self._append(action, actor, role, at, from_state, data)

    def _prepare(self, action: str, data: dict, actor: Actor, at: dt.datetime) -> dict:
        """services._prepare against the facts in memory."""
        case = self.case
        if action == "dispatch":
            try:
                unit_id = int(data["unit"])
            except (KeyError, TypeError, ValueError):
                raise DomainError("missing_fields", "「派遣」需要填写：unit（专业单位编号）") from None
            unit = self.facts.service_units.get(unit_id)
            if unit is None:
                raise DomainError("unknown_unit", f"专业单位 {data['unit']} 不存在")
            if case.suggested_unit_id and unit.id != case.suggested_unit_id and not data.get("reason"):
                raise DomainError("override_needs_reason", "改派到非推荐单位时必须说明理由")
            data = {**data, "unit": unit.id, "unit_name": unit.name}
        elif action == "merge":
            target = self.facts.cases.get(str(data.get("into", "")))
            # merges are the station's and supervisors' (CENTRE): what they see of a case depends on its place
            if target is None or target.case.id == case.id or target.case.reported_at > at or not (
                    actor.system or roles_on_case(actor, target.case)):
                raise DomainError("unknown_case", "合并目标案件不存在（或就是本案件）")
            if target.state_at(at) in workflow.TERMINAL:
                raise DomainError("bad_merge_target", "不能合并到已合并或不予立案的案件", status=409)
            data = {**data, "into": target.case.id, "into_number": target.case.number}
        elif action == "reopen":
            if case.closed_at and at > case.closed_at + dt.timedelta(days=self.facts.reopen_days):
                raise DomainError("reopen_window_passed", "结案超过期限，不能重新打开", status=409)
        elif action == "request_extension":
            try:
                days = int(data.get("days"))
            except (TypeError, ValueError):
                days = 0
            if not 1 <= days <= 30:
                raise DomainError("bad_days", "延期天数必须是 1 到 30 的整数（工作日）")
            data = {**data, "days": days}
        return data

    def _apply_times(self, action: str, data: Mapping, at: dt.datetime) -> None:
        """services.apply_times; the last requested extension is remembered instead of queried."""
        if action == "request_extension":
            self._extension_days = data["days"]
        apply_times(
            self.case, action, data, at, due=self.facts.due,
            limit=lambda which: self.facts.limit(self.category, self.case.urgency, which),
            requested_extension_days=lambda: self._extension_days if self._extension_days is not None else 1,
        )

    def _append(self, action: str, actor: Actor, role: str, at: dt.datetime, from_state: str, data: Mapping) -> None:
        """services._append_event without the insert."""
        case = self.case
        seq = case.event_count + 1
        actor_ref = "system" if actor.system else (f"person:{actor.person_id}" if actor.person_id else "anonymous")
        body = chain.event_body(case_number=case.number, seq=seq, action=action, actor_ref=actor_ref, role=role,
                                at=at, from_state=from_state, to_state=case.state, data=data)
        event = CaseEvent(city_id=case.city_id, case_id=case.id, seq=seq, action=action, actor_id=actor.person_id,
                          actor_ref=actor_ref, role=role, at=at, from_state=from_state, to_state=case.state,
                          data=dict(data), prev_hash=case.head_hash, hash=chain.event_hash(case.head_hash, body))
        self.events.append(event)
        case.event_count = seq
        case.head_hash = event.hash
        self.last_at = at

    # -- the escalation sweep -------------------------------------------------------------------------------

    def escalation_due(self, now: dt.datetime) -> str | None:
        """The level ``cases_escalate_overdue`` would raise this case to if it ran at ``now`` (None: leave it)."""
        case = self.case
        if case.state not in ESCALATING_STATES or case.level not in ("community", "subdistrict"):
            return None
        due = case.handling_due or case.first_response_due
        if due is None or not due < now:
            return None
        if case.level == "community":
            return "subdistrict"
        if self.facts.due(due, self.facts.grace_days, "working_days").due < now:
            return "district"
        return None

    def sweep(self, until: dt.datetime, *,
              on_escalate: Callable[[CaseSim, str, dt.datetime], None] | None = None) -> None:
        """The worker's sweep, run every minute from the last event until ``until`` (exclusive)."""
        system = system_actor(self.facts.city_id)
        while True:
            case = self.case
            if case.state not in ESCALATING_STATES or case.level not in ("community", "subdistrict"):
                return
            due = case.handling_due or case.first_response_due
            if due is None:
                return
            if case.level == "subdistrict":
                due = self.facts.due(due, self.facts.grace_days, "working_days").due
            tick = _next_tick(max(due, self.last_at))
            if tick >= until:
                return
            to = self.escalation_due(tick)
            if to is None:  # pragma: no cover - the tick is past the due time by construction
                return
            self.act(tick, system, "escalate", {"to_level": to, "reason": ESCALATION_REASON})
            if on_escalate is not None:
                on_escalate(self, to, until)

    def state_at(self, at: dt.datetime) -> str:
        """The state after the last event at or before ``at`` ("" before the report)."""
        state = ""
        for ev in self.events:
            if ev.at > at:
                break
            state = ev.to_state
        return state


def awake(at: dt.datetime, rng: np.random.Generator) -> dt.datetime:
    """``at`` (aware) moved into the day, 7:00–22:00 local, when people report and answer: a night time becomes
    a random moment of the next morning's first two hours (UTC)."""
    local = at.astimezone(LOCAL)
    if local.hour < 7:
        local = local.replace(hour=7, minute=0) + dt.timedelta(minutes=float(rng.uniform(0, 120)))
    elif local.hour >= 22:
        local = (local + dt.timedelta(days=1)).replace(hour=7, minute=0) + dt.timedelta(
            minutes=float(rng.uniform(0, 120)))
    return local.astimezone(dt.UTC)


def _next_tick(after: dt.datetime) -> dt.datetime:
    """The first sweep strictly after ``after``: the worker sweeps at the start of every minute (+ a second)."""
    base = after.replace(second=0, microsecond=0)
    return base + dt.timedelta(minutes=1, seconds=1)


# ---------------------------------------------------------------------------------------------------------------
# The year: what happens where and when


LOCAL = clock.LOCAL_TZ

#: Month multipliers (Jan … Dec) of the seasons some matters follow.
SEASONS = {
    "flat": (1,) * 12,
    "warm": (0.7, 0.7, 0.85, 1.0, 1.1, 1.2, 1.3, 1.3, 1.15, 1.0, 0.85, 0.75),
    "summer": (0.3, 0.3, 0.5, 0.8, 1.3, 1.7, 2.0, 2.0, 1.4, 0.9, 0.4, 0.3),
    "snow": (1.8, 1.2, 0.15, 0, 0, 0, 0, 0, 0, 0, 0.3, 1.6),
    "heating": (1.6, 1.3, 1.0, 0.3, 0, 0, 0, 0, 0, 0.2, 1.6, 1.8),
    "storm": (0.6, 0.6, 0.8, 1.0, 1.0, 1.3, 1.9, 2.1, 1.2, 1.0, 0.8, 0.6),
    "cleanup": (1.3, 1.4, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 0.9, 1.1, 1.0, 1.1),  # Spring Festival, moving house
}

#: (code, kind, weight, season, favoured sources) — the skewed mix a Qingdao station sees in a year.
MIX: tuple[tuple[str, str, float, str, tuple[str, ...]], ...] = (
    ("06010", "matter", 14.0, "cleanup", ("head", "volunteer")),  # 暴露垃圾
    ("07001", "matter", 11.0, "flat", ("head", "volunteer")),  # 非法小广告
    ("09009", "matter", 9.0, "flat", ("citizen", "hotline")),  # 机动车乱停放
    ("09006", "matter", 7.5, "summer", ("head", "merchant_group")),  # 占道经营
    ("06036", "matter", 6.5, "cleanup", ("head",)),  # 乱堆杂物
    ("Q0101", "matter", 3.5, "flat", ("merchant_group", "head")),  # 门前五包·垃圾扫一扫
    ("Q0102", "matter", 2.5, "flat", ("merchant_group", "head")),
    ("Q0103", "matter", 2.0, "flat", ("merchant_group", "head")),
    ("Q0104", "matter", 1.2, "warm", ("merchant_group", "head")),
    ("Q0105", "matter", 1.8, "flat", ("merchant_group", "head")),
    ("Q0301", "matter", 6.0, "cleanup", ("head", "citizen")),  # 楼道堆物
    ("Q0302", "matter", 1.5, "flat", ("citizen", "head")),  # 楼道灯不亮
    ("Q0303", "matter", 0.8, "heating", ("citizen", "hotline")),  # 楼内管道漏水
    ("Q0202", "matter", 2.0, "warm", ("head", "citizen")),  # 飞线充电
    ("Q0205", "matter", 2.0, "cleanup", ("head",)),  # 乱堆乱放
    ("Q0304", "matter", 2.5, "summer", ("head", "citizen")),  # 小区垃圾桶满溢
    ("Q0204", "matter", 0.9, "warm", ("head", "hotline")),  # 违章搭建
    ("Q0203", "matter", 2.0, "storm", ("citizen", "hotline", "head")),  # 路面下沉
    ("Q0201", "matter", 2.5, "flat", ("head", "volunteer")),  # 小广告
    ("06042", "matter", 3.0, "summer", ("head", "citizen")),  # 垃圾站（箱）满溢
    ("06012", "matter", 2.0, "cleanup", ("head",)),  # 道路不洁
    ("06007", "matter", 1.4, "warm", ("head",)),  # 沿街晾挂
    ("06001", "matter", 0.9, "warm", ("head", "hotline")),  # 私搭乱建
    ("06013", "matter", 1.0, "storm", ("citizen", "head")),  # 道路破损
    ("06029", "matter", 1.0, "summer", ("hotline", "citizen")),  # 露天烧烤
    ("06028", "matter", 0.8, "summer", ("hotline", "citizen")),  # 噪声扰民
    ("06027", "matter", 0.6, "warm", ("hotline", "citizen")),  # 油烟污染
    ("06017", "matter", 1.0, "warm", ("head", "volunteer")),  # 绿地脏乱
    ("06045", "matter", 0.4, "warm", ("head",)),  # 非法占绿毁绿
    ("06030", "matter", 0.5, "summer", ("head", "citizen")),  # 乱倒乱排污水
    ("09010", "matter", 2.5, "warm", ("head", "volunteer")),  # 非机动车乱停放
    ("09011", "matter", 2.0, "warm", ("head", "citizen")),  # 共享单车乱象
    ("09005", "matter", 1.6, "summer", ("head", "merchant_group")),  # 店外经营
    ("09001", "matter", 1.0, "summer", ("head", "inspector")),  # 无照经营游商
    ("09012", "matter", 0.6, "flat", ("citizen", "hotline")),  # 占用消防通道
    ("01037", "matter", 1.5, "flat", ("citizen", "hotline")),  # 路灯异常
    ("01003", "matter", 0.6, "storm", ("citizen", "head")),  # 雨水井盖异常
    ("01001", "matter", 0.5, "flat", ("citizen", "head")),  # 供水井盖异常
    ("01011", "matter", 0.3, "flat", ("citizen", "hotline")),  # 燃气井盖异常
    ("01010", "matter", 0.2, "heating", ("citizen", "hotline")),  # 热力井盖异常
    ("01061", "matter", 0.2, "heating", ("hotline",)),  # 露天供热管道异常
    ("01007", "matter", 0.3, "flat", ("head",)),  # 通信井盖异常
    ("01005", "matter", 0.2, "flat", ("head",)),  # 电力井盖异常
    ("04002", "matter", 1.0, "storm", ("citizen", "head")),  # 行道树异常
    ("06021", "matter", 0.5, "summer", ("head",)),  # 病虫害
    ("03001", "matter", 0.5, "summer", ("citizen", "hotline")),  # 公共厕所异常
    ("10001", "matter", 0.6, "snow", ("head", "citizen")),  # 道路积雪、结冰
)
#: Share of each source in a plain day's reports (三长巡查 most of all).
SOURCES = {"head": 0.52, "citizen": 0.17, "hotline": 0.11, "merchant_group": 0.07, "volunteer": 0.08,
           "inspector": 0.05}
#: When people report (local hours, weight): heads patrol in the morning and the evening.
HOURS = {
    "head": ((7.0, 9.5, 0.50), (14.0, 17.0, 0.20), (18.0, 20.5, 0.30)),
    "citizen": ((7.0, 10.0, 0.35), (11.5, 13.5, 0.15), (17.0, 21.5, 0.40), (6.0, 23.0, 0.10)),
    "volunteer": ((7.5, 10.5, 0.55), (15.0, 18.0, 0.45)),
    "merchant_group": ((8.0, 10.0, 0.45), (16.0, 20.0, 0.55)),
    "hotline": ((8.0, 12.0, 0.45), (13.0, 18.0, 0.35), (18.0, 22.0, 0.20)),
    "inspector": ((9.0, 11.5, 0.55), (14.0, 17.0, 0.45)),
}
#: Categories the unit can rarely finish in time and may shelve (挂账) or ask more time for.
HARD = frozenset({"06001", "Q0204", "Q0203", "06013", "06045", "01061", "06030"})
URGENT_PRONE = frozenset({"01011", "01010", "01061", "Q0203", "01003", "01001", "Q0303", "10001", "04002"})
#: Shares of street-side and in-courtyard reports that happen at the hot spots.
HOT_STREET_SHARE = 0.12
HOT_COURTYARD_SHARE = 0.15
#: Where a unit that returns a case thinks it belongs.
ALTERNATIVE_DUTY = {"sanitation": "enforcement", "enforcement": "municipal", "property": "enforcement",
                    "municipal": "water", "greening": "municipal", "water": "municipal", "gas": "municipal",
                    "heating": "municipal", "power": "municipal", "telecom": "power"}

DESCRIPTIONS = {
    "06010": ("路边有一堆暴露垃圾，已经放了一天了", "垃圾桶旁边堆满了垃圾袋，有异味", "绿化带里有人扔了好几袋生活垃圾",
              "早市散了以后地上全是菜叶和塑料袋"),
    "07001": ("电线杆上贴满了小广告", "墙上喷涂了办证电话", "楼道口又贴了开锁、疏通下水道的小广告",
              "公交站牌被贴了小广告"),
    "Q0201": ("单元门上贴满小广告", "路边配电箱上又被贴了小广告"),
    "09009": ("机动车停在人行道上，行人只能走机动车道", "车辆长期停在路口，影响转弯视线", "有车堵住了小区出入口",
              "僵尸车停了好几个月没人挪"),
    "09006": ("有流动摊贩在路边占道卖水果", "早市摊位摆到了机动车道上", "烧烤摊占用人行道经营",
              "菜贩在路口占道，交通拥堵"),
    "06036": ("人行道上堆放了大量杂物", "路边堆着旧家具和装修垃圾", "店门口堆满了纸箱"),
    "Q0101": ("商户门前有垃圾未清扫", "门店前烟头、纸屑较多"),
    "Q0102": ("商户门前堆放货物", "店外堆放啤酒箱"),
    "Q0103": ("门店玻璃上张贴招贴", "店门口乱贴促销海报"),
    "Q0104": ("商户门前晾晒衣物", "临街晾晒被褥"),
    "Q0105": ("商户门前车辆乱停", "店门口电动车停放杂乱"),
    "Q0301": ("楼道里堆了很多纸箱和旧家具，影响通行和消防安全", "楼梯间放了电动车和杂物", "楼道堆放装修材料"),
    "Q0302": ("楼道灯坏了好几天，晚上上下楼看不见", "三楼声控灯不亮"),
    "Q0303": ("楼道里的水管漏水，地面积水", "楼上管道渗水到楼道"),
    "Q0202": ("有人从楼上拉电线给电动车充电", "飞线充电，电线横穿小区道路"),
    "Q0205": ("小区空地堆放大量杂物", "楼前堆放废旧家具"),
    "Q0304": ("小区垃圾桶满了没人清运", "垃圾桶满溢，垃圾散落一地"),
    "Q0204": ("有住户在楼顶私自搭建彩钢房", "一楼住户在院子里私搭棚子"),
    "Q0203": ("路面出现下沉，有积水坑", "井盖周边路面塌陷", "路面下沉形成坑洼，电动车容易摔倒"),
    "06042": ("垃圾箱满溢，周边堆满垃圾", "垃圾站满了没有及时清运"),
    "06012": ("路面有大片油污和泥土", "道路上有遗撒的渣土"),
    "06007": ("沿街阳台外晾挂衣物", "临街窗外晾晒被子"),
    "06001": ("有人在绿地上私搭乱建", "沿街私自搭建雨棚"),
    "06013": ("人行道地砖破损松动", "道路破损有坑"),
    "06029": ("夜间露天烧烤，油烟很大", "路边有人露天烧烤"),
    "06028": ("夜间施工噪声扰民", "广场舞音响声音太大"),
    "06027": ("饭店油烟直排，熏到楼上住户",),
    "06017": ("绿地里有很多垃圾", "草坪上有人倾倒垃圾"),
    "06045": ("有人在绿地里种菜", "绿化带被踩踏毁坏"),
    "06030": ("有人往雨水口倒污水", "洗车污水直接排到路面"),
    "09010": ("非机动车乱停放，堵住盲道", "电动车停满人行道"),
    "09011": ("共享单车堆在地铁口", "共享单车倒了一地"),
    "09005": ("商户在店外摆摊经营", "饭店在门外摆桌"),
    "09001": ("无照游商在路口兜售", "流动摊贩沿街叫卖"),
    "09012": ("车辆占用消防通道", "消防通道被杂物堵塞"),
    "01037": ("路灯不亮", "路灯白天一直亮着", "一排路灯都不亮"),
    "01003": ("雨水井盖缺失，很危险", "雨水箅子堵塞，下雨积水"),
    "01001": ("供水井盖破损", "井盖松动，车辆经过有响声"),
    "01011": ("燃气井盖破损，有异味",),
    "01010": ("热力井盖冒热气", "热力井盖破损"),
    "01061": ("供热管道保温层破损", "露天供热管道漏汽"),
    "01007": ("通信井盖缺失",),
    "01005": ("电力井盖破损",),
    "04002": ("行道树倾斜，可能倒伏", "台风过后树枝折断挂在树上", "行道树缺株"),
    "06021": ("行道树有美国白蛾", "绿化带树木病虫害严重"),
    "03001": ("公厕卫生差，没有纸", "公厕门坏了"),
    "10001": ("路面结冰，行人容易滑倒", "人行道积雪没有清扫"),
}
HANDLE_NOTES = {
    "sanitation": ("已清运干净", "已清理完毕，现场整洁", "已安排保洁员清扫"),
    "enforcement": ("已劝离并规范经营", "已责令当事人整改，现场已恢复", "已依法清理", "已拆除"),
    "property": ("物业已清理完毕", "已通知业主搬离并清理", "已维修"),
    "municipal": ("已修复", "已回填压实", "已更换"),
    "water": ("已更换井盖", "已维修管道"),
    "gas": ("已更换井盖并检测，无泄漏",),
    "heating": ("已维修保温层", "已更换井盖"),
    "greening": ("已扶正加固", "已修剪清理", "已喷药防治"),
    "power": ("已维修恢复照明", "已更换灯具"),
    "telecom": ("已补装井盖",),
}
REJECT_REASONS = ("经现场核实，问题不存在", "不属于城市管理范围，已告知上报人向相关部门反映", "照片与描述不符，无法核实",
                  "属于物业内部管理事项，已转物业协调")
RETURN_REASONS = ("经核实不属于本单位职责范围", "该设施产权不属于本单位", "现场核实为其他单位管养设施")
EXTENSION_REASONS = ("需协调多部门联合处置", "需采购配件", "当事人拒不配合，需立案调查", "连续降雨无法施工")
SUSPEND_REASONS = ("需纳入年度道路维修计划统一处置", "涉及历史遗留问题，需区级联合执法", "待产权单位确认责任主体",
                   "冬季停工期，待开春施工")
REWORK_REASONS = ("现场仍有残留，未处置彻底", "问题反弹，需重新处置", "只处理了一部分")
REOPEN_REASONS = ("问题又出现了", "处理不彻底，没过几天又恢复原样")
DISSATISFIED = ("处理太慢", "没有彻底解决", "处置人员态度一般")

#: Share of reports whose problem 1–3 more people report (see ``Year._duplicates``).
DUPLICATE_SHARE = 0.014
#: A new report of a standing category (not ``duplicates.EVENT_LIKE``) this close to an open case of the same
#: category (and in the same building or courtyard) is a re-report of that problem (see ``Year._re_report``).
SAME_SPOT_METRES = 50.0
#: States in which a case is open to a re-report (reported … verified; not suspended).
_OPEN = frozenset({"reported", "accepted", "dispatched", "acknowledged", "handled", "verified"})
#: How other people put a problem in their own words: kind → (codes, titles, descriptions); {p} is the place.
PARAPHRASE_KINDS: dict[str, tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]] = {
    "garbage": (frozenset({"06010", "06042", "Q0304", "Q0101", "06017", "06012"}),
                ("{p}有一堆垃圾", "{p}垃圾没人清理", "{p}垃圾成堆", "反映{p}的垃圾问题", "{p}卫生太差了"),
                ("垃圾堆了好几天没人管，味道很大", "这里的垃圾一直没人收拾，苍蝇乱飞", "好几袋垃圾扔在路边，请环卫来清一下",
                 "垃圾满出来了，散了一地，大家都绕着走", "又脏又臭，希望尽快清运")),
    "ads": (frozenset({"07001", "Q0201", "Q0103"}),
            ("{p}牛皮癣广告", "{p}到处贴广告", "{p}乱贴乱画", "{p}的小广告"),
            ("墙上、电线杆上全是办证贷款的广告", "新贴的广告一层盖一层，很难看", "有人到处喷涂电话号码",
             "广告贴得到处都是，影响市容")),
    "parking": (frozenset({"09009", "Q0105", "09012"}),
                ("{p}乱停车", "{p}车辆违停", "{p}有车堵路", "{p}停车太乱"),
                ("有辆车停在人行道上，推婴儿车过不去", "车乱停把路堵了，进出很不方便", "一辆车停了好几天没动，挡住了通道",
                 "违停的车太多，消防车都进不来")),
    "bikes": (frozenset({"09010", "09011"}),
              ("{p}电动车乱停", "{p}单车堆成堆", "{p}自行车乱放"),
              ("电动车和自行车停得横七竖八，盲道都占了", "共享单车堆在路边，走路都没地方", "单车倒了一片没人管")),
    "vending": (frozenset({"09006", "09005", "09001"}),
                ("{p}有人摆摊", "{p}占道摆摊", "{p}小贩堵路", "{p}马路市场"),
                ("每天都有人在路边摆摊卖东西，人都走不过去", "摊贩把人行道占满了，还很吵", "店家把货摆到外面，占了半条路")),
    "clutter": (frozenset({"06036", "Q0102", "Q0205", "Q0301"}),
                ("{p}堆满杂物", "{p}乱堆东西", "{p}杂物堵路", "{p}东西堆得乱七八糟"),
                ("有人把旧家具和纸箱堆在这里，好久没人清", "杂物堆得太多，进出不方便，也不安全",
                 "一堆装修垃圾和废品堆着没人管")),
    "building": (frozenset({"06001", "Q0204"}),
                 ("{p}有人私搭乱建", "{p}违建", "{p}乱搭棚子"),
                 ("有人搭了个棚子，占了公共的地方", "新盖了一间彩钢房，不知道有没有手续")),
    "road": (frozenset({"06013", "Q0203"}),
             ("{p}路面坏了", "{p}路上有坑", "{p}地面塌了"),
             ("路面塌了一块，骑车很危险", "地砖碎了好多，老人容易绊倒", "路上有个大坑，下雨全是水")),
    "covers": (frozenset({"01001", "01003", "01005", "01007", "01010", "01011"}),
               ("{p}井盖有问题", "{p}井盖坏了", "{p}井盖危险"),
               ("井盖坏了一角，晚上看不清很危险", "井盖松了，车一压就响", "井盖不见了，赶紧处理一下")),
    "lights": (frozenset({"01037", "Q0302"}),
               ("{p}灯不亮", "{p}晚上太黑", "{p}照明坏了"),
               ("灯坏了好几天了，晚上黑乎乎的", "晚上这里一片漆黑，走路很不安全")),
    "water": (frozenset({"Q0303"}), ("{p}漏水", "{p}水管坏了"),
              ("水管一直在滴水，地上都湿了", "漏水好几天了，墙都泡了")),
    "wires": (frozenset({"Q0202"}), ("{p}私拉电线充电", "{p}电线乱拉"),
              ("有人从窗户拉电线下来给电动车充电，太危险了", "电线挂在半空给电瓶车充电，怕出事")),
    "smoke": (frozenset({"06029", "06027", "06028"}), ("{p}烧烤油烟大", "{p}晚上太吵", "{p}扰民"),
              ("晚上烟熏火燎的，窗户都不敢开", "每天晚上都很吵，休息不好")),
    "trees": (frozenset({"04002", "06021"}), ("{p}的树有问题", "{p}大树危险"),
              ("树歪得厉害，怕砸到人", "树上好多虫子，叶子都被吃光了")),
    "drying": (frozenset({"06007", "Q0104"}), ("{p}晾衣服", "{p}晒被子"), ("衣服被子晒到街上，很不美观",)),
    "toilet": (frozenset({"03001"}), ("{p}厕所太脏", "{p}公厕没人管"), ("公厕脏得进不去，也没人打扫",)),
    "snow": (frozenset({"10001"}), ("{p}路面结冰", "{p}路滑"), ("路上结了冰没人清，已经有人滑倒了",)),
    "sewage": (frozenset({"06030"}), ("{p}乱倒污水", "{p}污水横流"), ("有人往路边倒脏水，味道难闻",)),
    "green": (frozenset({"06045"}), ("{p}绿地被破坏", "{p}绿化带毁了"), ("绿化带被人挖了种菜",)),
}
#: Where a reporter says it is when the place has no name he knows.
LANDMARKS = ("小区门口", "路口", "公交站旁边", "超市门口", "菜市场边上", "学校门口", "我家楼下", "银行旁边")


def paraphrase(category: CategoryFacts, spot: Spot | None, rng: np.random.Generator) -> tuple[str, str]:
    """A title and a description of a problem as another person writes it (their own words, their own place)."""
    _, titles, texts = next((v for v in PARAPHRASE_KINDS.values() if category.code in v[0]),
                            (None, ("{p}" + category.name, "关于{p}" + category.name + "的反映"),
                             (f"{category.name}，请尽快处理", "这个问题好几天了，希望有人管管")))
    if spot is not None and spot.kind in ("street", "courtyard") and rng.random() < 0.7:
        place = spot.name + ("", "口", "附近", "这边")[int(rng.integers(4))]
    else:
        place = LANDMARKS[int(rng.integers(len(LANDMARKS)))]
    return titles[int(rng.integers(len(titles)))].format(p=place), texts[int(rng.integers(len(texts)))]


@dataclass
class Spot:
    """A place a case can happen: a unit, its station and a geometry to draw points in."""

    unit_id: int
    kind: str
    name: str
    station_id: int
    geometry: Any
    weight: float = 1.0
    buildings: list[Spot] = field(default_factory=list)


@dataclass
class Territory:
    """The demo city's places for the story: stations with their streets, areas and courtyards."""

    stations: list[int]
    station_weight: np.ndarray
    streets: list[Spot]
    areas: list[Spot]
    courtyards: list[Spot]
    district_of: dict[int, str]
    hot_streets: list[Spot]
    hot_courtyards: list[Spot]

    @classmethod
    def load(cls, facts: Facts, rng: np.random.Generator, *, scale: float, urban: tuple[str, ...]) -> Territory:
        """Places with geometry from the database; weights make the dense old town busier than the villages."""
        rows = list(Unit.objects.filter(city_id=facts.city_id, kind__in=["station", "street", "area", "courtyard",
                                                                         "building"], valid_to__isnull=True)
                    .values_list("id", "kind", "geometry"))
        geoms = shapely.from_wkb(np.array([bytes(g) for _, _, g in rows], dtype=object))
        geom_of = {pk: g for (pk, _, _), g in zip(rows, geoms, strict=True)}
        units = facts.units

        def up(pk: int, kind: str) -> int:
            while units[pk].kind != kind:
                pk = units[pk].parent_id  # type: ignore[assignment]
            return pk

        stations = sorted(pk for pk, k, _ in rows if k == "station")
        district_of = {s: units[up(s, "district")].code for s in stations}
        weight = station_weights([district_of[s] for s in stations], [shapely.area(geom_of[s]) for s in stations])
        weight *= rng.lognormal(0.0, 0.35, len(stations))
        weight /= weight.sum()
        streets, areas, courtyards, yards = [], [], [], {}
        for pk, kind, _ in sorted(rows, key=lambda r: (KINDS.index(r[1]), r[0])):
            if kind == "station":
                continue
            if kind == "building":
                parent = units[pk].parent_id
                if parent in yards:
                    yard = yards[parent]
                    yard.buildings.append(Spot(pk, kind, units[pk].name, yard.station_id, geom_of[pk]))
                continue
            spot = Spot(pk, kind, units[pk].name, up(pk, "station"), geom_of[pk], float(rng.lognormal(0.0, 0.8)))
            {"street": streets, "area": areas, "courtyard": courtyards}[kind].append(spot)
            if kind == "courtyard":
                yards[pk] = spot
        # hot spots: market streets and old courtyards of the busy districts
        urban_streets = [s for s in streets if district_of[s.station_id] in urban] or streets
        hot_streets = [urban_streets[i] for i in rng.permutation(len(urban_streets))[: max(2, round(12 * scale))]]
        urban_yards = [c for c in courtyards if district_of[c.station_id] in urban and c.buildings] or courtyards
        hot_yards = [urban_yards[i] for i in rng.permutation(len(urban_yards))[: max(2, round(8 * scale))]]
        return cls(
            stations=stations, station_weight=weight, streets=streets, areas=areas, courtyards=courtyards,
            district_of=district_of, hot_streets=hot_streets, hot_courtyards=hot_yards,
        )


class _Picker:
    """Weighted choice among spots, with the station's weight folded in (one searchsorted per draw)."""

    def __init__(self, spots: list[Spot], station_weight: Mapping[int, float]) -> None:
        self.spots = spots
        w = np.array([s.weight * station_weight[s.station_id] for s in spots], dtype=float)
        # a station's weight is shared among its spots of this kind
        per_station: dict[int, int] = defaultdict(int)
        for s in spots:
            per_station[s.station_id] += 1
        w /= np.array([per_station[s.station_id] for s in spots], dtype=float)
        self.cum = np.cumsum(w / w.sum())

    def pick(self, rng: np.random.Generator) -> Spot:
        i = int(np.searchsorted(self.cum, rng.random(), side="right"))
        return self.spots[min(i, len(self.spots) - 1)]


#: Residents (10,000s) of each district, and how much more its residents report (the old town most).
DISTRICT_PEOPLE = {"370202": (56, 2.0), "370203": (110, 1.6), "370211": (200, 1.0), "370212": (55, 1.3),
                   "370213": (74, 1.4), "370214": (112, 1.0), "370215": (135, 0.8), "370281": (100, 0.7),
                   "370283": (114, 0.6), "370285": (72, 0.6)}


def station_weights(districts: list[str], areas: list[float]) -> np.ndarray:
    """How busy each station is: its district's residents and reporting habit, shared among the district's
    stations so that small (dense) stations get more than large rural ones."""
    dense = 1.0 / np.sqrt(np.maximum(np.asarray(areas, dtype=float), 1e-12))
    out = np.zeros(len(districts))
    for code in set(districts):
        idx = np.array([i for i, d in enumerate(districts) if d == code])
        people, habit = DISTRICT_PEOPLE.get(code, (50, 1.0))
        out[idx] = people * habit * dense[idx] / dense[idx].sum()
    return out / out.sum()


def _zipf(n: int, s: float = 0.8) -> np.ndarray:
    """Weights 1, 1/2^s, 1/3^s … normalised: the first hot spot is the hottest."""
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def points_in(geometry: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random (lon, lat) points inside a polygon."""
    minx, miny, maxx, maxy = geometry.bounds
    fill = max(geometry.area / max((maxx - minx) * (maxy - miny), 1e-18), 0.005)
    out: list[np.ndarray] = []
    missing = n
    for _ in range(200):
        m = min(int(missing / fill * 1.5) + 8, 100_000)
        xs, ys = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
        inside = shapely.contains_xy(geometry, xs, ys)
        batch = np.column_stack([xs[inside], ys[inside]])[:missing]
        out.append(batch)
        missing -= len(batch)
        if missing <= 0:
            break
    else:  # pragma: no cover - a sliver: fall back to a point on its surface
        p = geometry.representative_point()
        out.append(np.array([[p.x, p.y]] * missing))
    return np.concatenate(out)


@dataclass
class People:
    """Who acts in the story, by place and unit (person ids)."""

    station_head: dict[int, int]
    supervisors: dict[int, list[int]]  # sub-district or district unit id → supervisors
    members: dict[int, dict[str, list[int]]]  # service unit id → role → people
    units_of_district: dict[str, dict[str, int]]  # district code → duty → service unit id
    citizens: list[int]
    citizens_by_station: dict[int, list[int]]
    volunteers: set[int]
    merchants: set[int]
    citizen_names: dict[int, tuple[str, str]]  # id → (name, phone)

    @classmethod
    def load(cls, facts: Facts, citizens: Mapping[int, tuple[int, str, str, str]]) -> People:
        """Role holders from the facts; ``citizens``: id → (home station, name, phone, kind)."""
        station_head, supervisors, members = {}, defaultdict(list), defaultdict(lambda: defaultdict(list))
        for pid, actor in sorted(facts.actors.items()):
            for g in actor.grants:
                if g.role == "station_head" and g.scope_unit_id not in station_head:
                    station_head[g.scope_unit_id] = pid
                elif g.role in ("subdistrict_supervisor", "district_supervisor"):
                    supervisors[g.scope_unit_id].append(pid)
                elif g.role in ("unit_dispatcher", "unit_crew"):
                    members[g.service_unit_id][g.role].append(pid)
        units_of_district: dict[str, dict[str, int]] = defaultdict(dict)
        for su in facts.service_units.values():
            if su.duty_type != "property":
                for uid in su.area:
                    if facts.units[uid].kind == "district":
                        units_of_district[facts.units[uid].code][su.duty_type] = su.id
        by_station: dict[int, list[int]] = defaultdict(list)
        for pid, (station, _, _, _) in sorted(citizens.items()):
            by_station[station].append(pid)
        return cls(
            station_head=station_head, supervisors=dict(supervisors),
            members={k: dict(v) for k, v in members.items()}, units_of_district=dict(units_of_district),
            citizens=sorted(citizens), citizens_by_station=dict(by_station),
            volunteers={p for p, c in citizens.items() if c[3] == "volunteer"},
            merchants={p for p, c in citizens.items() if c[3] == "merchant"},
            citizen_names={p: (c[1], c[2]) for p, c in citizens.items()},
        )


#: Small problems of different kinds that pile up in a neglected lane (``Year._broken_windows``): 暴露垃圾,
#: 乱张贴小广告, 乱堆物堆料, 乱晾晒, 非机动车乱停放, 店外经营 (GB/T 47678.5 matters of majors 06, 07, 09).
BROKEN_WINDOW_KINDS = ("06010", "07001", "06036", "06007", "09010", "09005")


@dataclass
class Plan:
    """One report to be: when, what, where, by whom, and how its story goes."""

    at: dt.datetime
    source: str
    category: CategoryFacts
    spot: Spot | None
    point: tuple[float, float] | None = None
    located: dict | None = None
    flow: str = "normal"
    stop: str = ""
    duplicate_of: Plan | None = None
    recurring: bool = False
    #: A second reporter's own words (duplicates); empty: the patroller's title and a stock description.
    title: str = ""
    description: str = ""
    number: str = ""
    id: int = 0


class Year:
    """The story generator: plans the reports of a year, then plays each case through ``CaseSim``."""

    def __init__(self, facts: Facts, territory: Territory, people: People, *, seed: int, scale: float,
                 now: dt.datetime, slow_units: set[int], progress: Callable | None = None) -> None:
        self.facts = facts
        self.t = territory
        self.p = people
        self.rng = np.random.default_rng([seed, 7])
        self.seed = seed
        self.scale = scale
        self.now = now
        # the sweep ran until half a day ago: the demo's own worker finds overdue cases to raise at once
        self.cutoff = now - dt.timedelta(hours=12)
        self.slow_units = slow_units
        self.progress = progress
        self.skipped = 0
        by_code = {(c.code, c.kind): c for c in facts.categories.values()}
        self.mix = [(by_code[(code, kind)], w, season, fav) for code, kind, w, season, fav in MIX
                    if (code, kind) in by_code]
        sw = dict(zip(territory.stations, territory.station_weight.tolist(), strict=True))
        self.pick_street = _Picker(territory.streets, sw)
        self.pick_area = _Picker(territory.areas, sw)
        self.pick_yard = _Picker([c for c in territory.courtyards if c.buildings] or territory.courtyards, sw)
        self._cat_p: dict[tuple[str, int], np.ndarray] = {}
        self._hot = {kind: (spots, _zipf(len(spots))) for kind, spots in
                     (("street", territory.hot_streets), ("courtyard", territory.hot_courtyards))}
        self.staff = {pid for pid, actor in facts.actors.items() if actor.grants}

    # -- planning ------------------------------------------------------------------------------------------

    def plan(self, total: int) -> list[Plan]:
        """``total`` ordinary reports over the year, the weekly return of small ads, duplicates; by time."""
        rng = self.rng
        start = (self.now.astimezone(LOCAL) - dt.timedelta(days=365)).date()
        today = self.now.astimezone(LOCAL).date()
        days = [start + dt.timedelta(days=i) for i in range((today - start).days + 1)]
        w = np.array([self._day_weight(d) for d in days])
        elapsed = (self.now.astimezone(LOCAL) - dt.datetime.combine(today, dt.time(), LOCAL)).total_seconds()
        w[-1] *= elapsed / 86400
        counts = rng.multinomial(total, w / w.sum())
        plans: list[Plan] = []
        sources, src_p = list(SOURCES), np.array(list(SOURCES.values()))
        for day, n in zip(days, counts.tolist(), strict=True):
            workday = self.facts.calendar.is_workday(day)
            p = src_p
            if not workday:
                p = p * np.array([0.55 if s in ("head", "inspector") else 1.3 for s in sources])
            p = p / p.sum()
            for _ in range(n):
                source = sources[int(rng.choice(len(sources), p=p))]
                category = self._category(source, day.month)
                at = self._time_of_day(day, source)
                if at >= self.now:
                    continue
                plans.append(Plan(at=at, source=source, category=category, spot=None))
        plans += self._recurring(start, today)
        for plan in plans:
            if plan.spot is None:
                plan.spot = self._spot(plan.category)
        self._locate(plans)
        plans += self._duplicates(plans)
        plans.sort(key=lambda pl: pl.at)
        self._flows(plans)
        planted = self._broken_windows(today)
        if planted:
            plans = sorted(plans + planted, key=lambda pl: pl.at)
        return plans

    def _broken_windows(self, today: dt.date) -> list[Plan]:
        """破窗: in a few back lanes (streets that are not hot spots) small problems of different kinds — a pile, a
        poster, clutter, washing, bikes, goods outside a shop — are reported more and more often over the last
        two weeks and left where the station accepted them (nobody dispatched), none in the two weeks before:
        what the broken-window warning is for. One cluster within ~20 m; kinds all different (they are not one
        problem reported twice). Own random stream ``[seed, 11]``: the rest of the planning does not move."""
        rng = np.random.default_rng([self.seed, 11])
        by_code = {c.code: c for c, *_ in self.mix}
        kinds = [by_code[c] for c in BROKEN_WINDOW_KINDS if c in by_code]
        hot = {id(s) for s in self.t.hot_streets}
        lanes = [s for s in self.t.streets if id(s) not in hot]
        if len(kinds) < 4 or not lanes:
            return []
        plans = []
        for k in rng.permutation(len(lanes))[: max(2, round(3 * self.scale))].tolist():
            lane = lanes[k]
            lon, lat = points_in(lane.geometry, 1, rng)[0]
            n = len(kinds)
            # rising: the i-th of the n reports is (1 − √((i + 1) / n)) of 12 days before yesterday — ever closer
            for i, kind in enumerate(rng.permutation(kinds).tolist()):
                days_ago = 1 + int(12 * (1 - ((i + 1) / n) ** 0.5))
                at = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(), LOCAL) + dt.timedelta(
                    hours=float(rng.uniform(8, 18)))
                at = at.astimezone(dt.UTC)
                if at >= self.now:
                    continue
                jitter = rng.normal(0, 8, 2) / np.array([111_320 * math.cos(math.radians(lat)), 110_540])
                point = (float(lon + jitter[0]), float(lat + jitter[1]))
                located = self.facts.index.locate(*point)
                if "district" not in located:
                    continue
                plans.append(Plan(at=at, source="citizen", category=kind, spot=lane, point=point, located=located,
                                  stop="accepted"))
        return plans

    def _day_weight(self, day: dt.date) -> float:
        season = 1.0 + 0.18 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 196) / 365.25)
        return season * (1.0 if self.facts.calendar.is_workday(day) else 0.8)

    def _category(self, source: str, month: int) -> CategoryFacts:
        key = (source, month)
        p = self._cat_p.get(key)
        if p is None:
            p = np.array([w * SEASONS[season][month - 1] * (2.5 if source in fav else 1.0)
                          for _, w, season, fav in self.mix])
            if source == "merchant_group":
                p *= np.array([3.0 if c.code.startswith("Q01") or c.code in ("09005", "09006") else 0.3
                               for c, *_ in self.mix])
            if source == "inspector":
                p *= np.array([2.0 if c.duty_type == "enforcement" else 0.05 for c, *_ in self.mix])
            p = self._cat_p[key] = p / p.sum()
        return self.mix[int(self.rng.choice(len(self.mix), p=p))][0]

    def _time_of_day(self, day: dt.date, source: str) -> dt.datetime:
        windows = HOURS[source]
        weights = np.array([w for *_, w in windows])
        a, b, _ = windows[int(self.rng.choice(len(windows), p=weights / weights.sum()))]
        seconds = self.rng.uniform(a * 3600, b * 3600)
        local = dt.datetime.combine(day, dt.time(), LOCAL) + dt.timedelta(seconds=int(seconds))
        return local.astimezone(dt.UTC)

    def _spot(self, category: CategoryFacts) -> Spot:
        rng = self.rng
        if category.scope in ("building", "courtyard"):
            yard = self._hot_spot("courtyard", HOT_COURTYARD_SHARE) or self.pick_yard.pick(rng)
            if category.scope == "building" and yard.buildings:
                return yard.buildings[int(rng.integers(len(yard.buildings)))]
            return yard
        if rng.random() < 0.72:
            return self._hot_spot("street", HOT_STREET_SHARE) or self.pick_street.pick(rng)
        return self.pick_area.pick(rng)

    def _hot_spot(self, kind: str, share: float) -> Spot | None:
        spots, p = self._hot[kind]
        if not spots or self.rng.random() >= share:
            return None
        return spots[int(self.rng.choice(len(spots), p=p))]

    def _recurring(self, start: dt.date, today: dt.date) -> list[Plan]:
        """回潮: small ads come back every week at the same poles of a few busy streets."""
        code = next((c for c, *_ in self.mix if c.code == "07001"), None)
        if code is None:
            return []
        plans = []
        for spot in self.t.hot_streets[: max(1, round(6 * self.scale))]:
            lon, lat = points_in(spot.geometry, 1, self.rng)[0]
            weekday = int(self.rng.integers(0, 5))
            day = start + dt.timedelta(days=(weekday - start.weekday()) % 7)
            while day <= today:
                at = dt.datetime.combine(day, dt.time(7, 20), LOCAL) + dt.timedelta(
                    seconds=int(self.rng.uniform(0, 5400)))
                at = at.astimezone(dt.UTC)
                if at < self.now:
                    plans.append(Plan(at=at, source="head", category=code, spot=spot, point=(float(lon), float(lat)),
                                      recurring=True))
                day += dt.timedelta(days=int(self.rng.choice([6, 7, 7, 7, 8])))
        return plans

    def _locate(self, plans: list[Plan]) -> None:
        """A point inside each plan's unit, located with the city's index; street-side reports never fall in a
        courtyard, and every point is inside the city."""
        todo = [p for p in plans if p.point is None]
        for p in plans:
            if p.point is not None:
                p.located = self.facts.index.locate(*p.point)
        for _ in range(8):
            if not todo:
                return
            for p in todo:
                p.point = tuple(float(v) for v in points_in(p.spot.geometry, 1, self.rng)[0])  # type: ignore[union-attr]
            found = self.facts.index.locate_many([p.point[0] for p in todo], [p.point[1] for p in todo])
            again = []
            for p, located in zip(todo, found, strict=True):
                bad = "district" not in located or (p.category.scope == "outside" and "courtyard" in located)
                if bad:
                    again.append(p)
                else:
                    p.located = located
            todo = again
        for p in todo:  # an area filled with courtyards: take the point anyway, it is inside the city
            p.located = self.facts.index.locate(*p.point)  # type: ignore[misc]
            if "district" not in p.located:
                raise RuntimeError(f"no point inside the city for unit {p.spot.unit_id}")  # type: ignore[union-attr]

    def _duplicates(self, plans: list[Plan]) -> list[Plan]:
        """Some problems are reported by several people (a neighbour calls 12345 too, a passer-by uses the app):
        1–3 more reports within hours to two days, pins 5–60 m from the first, in their own words, now and
        then under a related category. The station merges them into the first report (the ground truth of
        ``cogov insight duplicates --eval``)."""
        rng, out = self.rng, []
        for p in plans:
            if p.recurring or rng.random() >= DUPLICATE_SHARE:
                continue
            extra = 1 + int(rng.choice(3, p=(0.6, 0.28, 0.12)))
            for _ in range(extra):
                u = rng.random()
                if p.category.code in EVENT_LIKE:  # the same occurrence: the car, the stall is there for hours
                    hours = rng.uniform(0.15, 4) if u < 0.75 else rng.uniform(4, 10)
                else:
                    hours = (rng.uniform(0.15, 6) if u < 0.55 else rng.uniform(6, 24) if u < 0.85
                             else rng.uniform(24, 48))
                at = self._awake(p.at + dt.timedelta(hours=float(hours)))
                if at >= self.now - dt.timedelta(hours=2):
                    continue
                category = self._related_category(p.category) if rng.random() < 0.15 else p.category
                point, located = self._pin_near(p, category)
                src = "hotline" if rng.random() < 0.45 else "citizen"
                title, description = paraphrase(category, p.spot, rng)
                out.append(Plan(at=at, source=src, category=category, spot=p.spot, point=point, located=located,
                                flow="merge", duplicate_of=p, title=title, description=description))
        return out

    def _awake(self, at: dt.datetime) -> dt.datetime:
        """Moved into the day (7:00–22:00) when people report."""
        return awake(at, self.rng)

    def _related_category(self, category: CategoryFacts) -> CategoryFacts:
        """A neighbouring category of the same kind and scope (another person files it elsewhere), or itself."""
        group = next((g for g in PARAPHRASE_KINDS.values() if category.code in g[0]), None)
        if group is None:
            return category
        choices = [c for c, *_ in self.mix if c.code in group[0] and c.code != category.code
                   and c.scope == category.scope]
        return choices[int(self.rng.integers(len(choices)))] if choices else category

    def _pin_near(self, p: Plan, category: CategoryFacts) -> tuple[tuple[float, float], dict]:
        """A pin 5–60 m from the first report's, in the same station (and courtyard, or outside any; and building
        for a building's problem)."""
        lon, lat = p.point  # type: ignore[misc]
        for _ in range(6):
            metres, angle = self.rng.uniform(5, 60), self.rng.uniform(0, 2 * math.pi)
            point = (float(lon) + metres * math.sin(angle) / (111_320 * math.cos(math.radians(lat))),
                     float(lat) + metres * math.cos(angle) / 111_320)
            located = self.facts.index.locate(*point)
            same_yard = located.get("courtyard") == (p.located or {}).get("courtyard")
            if category.scope == "building":  # a stairwell is in one building
                same_yard = same_yard and located.get("building") == (p.located or {}).get("building")
            if ("district" in located and located.get("station") == (p.located or {}).get("station")
                    and (same_yard if category.scope != "outside" else "courtyard" not in located)):
                return point, located
        return p.point, dict(p.located or {})  # type: ignore[return-value]

    def _flows(self, plans: list[Plan]) -> None:
        """Choose each story: most cases run the plain loop; some are rejected, returned, reworked, extended,
        shelved or reopened; some recent ones stop where they are today."""
        rng = self.rng
        recent = self.now - dt.timedelta(days=21)
        originals = {id(p.duplicate_of) for p in plans if p.duplicate_of is not None}
        for p in plans:
            if p.flow == "merge":
                continue
            code = p.category.code
            r = rng.random()
            if p.recurring:
                p.flow = "normal"
            elif id(p) not in originals and r < (0.06 if p.source == "hotline" else 0.022):
                p.flow = "reject"
            elif r < 0.06:
                p.flow = "return"
            elif r < 0.10:
                p.flow = "rework"
            elif r < (0.13 if p.category.duty_type == "enforcement" or code in HARD else 0.108):
                p.flow = "extension"
            elif code in HARD and r < 0.20 or r < 0.113:
                p.flow = "suspend" if rng.random() < 0.45 else "suspend_resume"
            elif r < 0.125 and p.source in ("citizen", "volunteer", "merchant_group"):
                p.flow = "reopen"
            if p.at > recent and p.flow not in ("reject",) and rng.random() < 0.10:
                p.stop = str(rng.choice(["accepted", "dispatched", "acknowledged", "handled", "verified"]))
        # make sure the consoles show every open state, even in a small demo
        candidates = [p for p in plans if recent < p.at < self.now - dt.timedelta(days=1) and p.flow == "normal"
                      and not p.recurring and id(p) not in originals]
        wanted = ["reported", "accepted", "dispatched", "acknowledged", "handled", "verified", "suspended"]
        picks = rng.permutation(len(candidates))[: 3 * len(wanted)].tolist()
        for i, idx in enumerate(picks):
            state = wanted[i % len(wanted)]
            p = candidates[idx]
            if state == "suspended":
                p.flow = "suspend"
            else:
                p.stop = state

    # -- playing ---------------------------------------------------------------------------------------------

    def play(self, plans: list[Plan], *, first_id: int, numbers: list[str]) -> list[CaseSim]:
        """Report and move every planned case, in order of report."""
        sims = []
        bar = self.progress(total=len(plans), desc="案件 cases", unit="件") if self.progress else None
        originals = {id(p.duplicate_of) for p in plans if p.duplicate_of is not None}
        standing: dict[tuple[str, int, int], list[tuple[Plan, CaseSim]]] = defaultdict(list)
        for i, plan in enumerate(plans):
            plan.id, plan.number = first_id + i, numbers[i]
            flow, target = plan.flow, None
            if plan.flow != "merge" and not plan.recurring and not plan.stop and id(plan) not in originals:
                target = self._re_report(plan, standing)
            sim = self._report(plan)
            if target is not None and sim is not None and self._own_find(sim, target):
                plan.flow, plan.duplicate_of = flow, None  # the patroller's own second find: another pile
            if sim is not None:
                _Story(self, plan, sim).run()
                sims.append(sim)
                if plan.flow != "merge" and plan.category.code not in EVENT_LIKE and plan.point is not None:
                    standing[(plan.category.code, *self._cell(plan.point))].append((plan, sim))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return sims

    @staticmethod
    def _cell(point: tuple[float, float]) -> tuple[int, int]:
        """A grid cell of about 55 m × 45 m (the same-spot search looks at the 3 × 3 cells around)."""
        return int(math.floor(point[1] / 0.0005)), int(math.floor(point[0] / 0.0005))

    def _own_find(self, sim: CaseSim, target: Plan) -> bool:
        """Both reported on patrol by the same person (head or inspector)."""
        other = self.facts.cases.get(target.number)
        return (other is not None and sim.case.source in ("head", "inspector") and sim.case.source == other.case.source
                and sim.case.reported_by_id is not None and sim.case.reported_by_id == other.case.reported_by_id)

    def _re_report(self, plan: Plan, standing: dict[tuple[str, int, int], list[tuple[Plan, CaseSim]]]) -> Plan | None:
        """Keep the story physically consistent: a report of a standing category (a pile, a full bin, a broken
        cover — not ``EVENT_LIKE``) within ``SAME_SPOT_METRES`` of an open case of the same category, in the same
        building or courtyard, is that problem reported again — the station merges it (a labelled duplicate).
        Returns the open case (None: an independent report). Two finds of one patroller (the same head or
        inspector reported both, ``_own_find``) stay separate: he knows what he reported."""
        if plan.category.code in EVENT_LIKE or plan.point is None:
            return None
        row, col = self._cell(plan.point)
        lon, lat = plan.point
        best, best_m = None, SAME_SPOT_METRES
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                bucket = standing.get((plan.category.code, row + dr, col + dc))
                if not bucket:
                    continue
                keep = []
                for other, sim in bucket:
                    state = sim.state_at(plan.at)
                    if state in workflow.TERMINAL or (state == "closed" and sim.events[-1].to_state == "closed"):
                        continue  # closed for good: forget it
                    keep.append((other, sim))
                    if state not in _OPEN or other.at >= plan.at or other.flow == "reject":
                        continue
                    loc, oloc = plan.located or {}, other.located or {}
                    if loc.get("courtyard") != oloc.get("courtyard") or loc.get("station") != oloc.get("station"):
                        continue
                    if plan.category.scope == "building" and plan.spot is not other.spot:
                        continue
                    metres = duplicates_distance(lon, lat, *other.point)  # type: ignore[misc]
                    if metres <= best_m:
                        best, best_m = other, metres
                bucket[:] = keep
        if best is None:
            return None
        plan.flow, plan.duplicate_of = "merge", best
        if plan.source not in ("head", "inspector"):
            plan.title, plan.description = paraphrase(plan.category, plan.spot, self.rng)
        return best

    def _report(self, plan: Plan) -> CaseSim | None:
        rng, facts = self.rng, self.facts
        located = plan.located or {}
        station = located.get("station")
        role, person, source = "citizen", None, plan.source
        contact_name = contact_phone = ""
        if source == "head":  # the head of the place on patrol, now and then the station head
            decision = facts.route(located, plan.category)
            if decision.head_person is not None and rng.random() < 0.8:
                person, role = decision.head_person, decision.head_role
            elif station in self.p.station_head:
                person, role = self.p.station_head[station], "station_head"
            else:
                source = "citizen"
        if source == "inspector":
            su = self.p.units_of_district.get(self._district_code(located), {}).get("enforcement")
            crew = self.p.members.get(su, {}).get("unit_crew") if su else None
            if crew:
                person, role = crew[int(rng.integers(len(crew)))], "unit_crew"
            else:
                source = "hotline"
        if source in ("citizen", "volunteer", "merchant_group"):
            pool = self._citizens_for(station, source)
            if pool and rng.random() < 0.93:
                person = pool[int(rng.integers(len(pool)))]
                contact_name, contact_phone = self.p.citizen_names[person]
            elif rng.random() < 0.5:
                contact_phone = _phone(rng)
        if source == "hotline":
            contact_name = _surname(rng) + ("女士" if rng.random() < 0.55 else "先生")
            contact_phone = _phone(rng)
        urgency = "normal"
        u = rng.random()
        if plan.category.code in URGENT_PRONE:
            urgency = "emergency" if u < 0.05 else "urgent" if u < 0.3 else "normal"
        elif u < 0.03:
            urgency = "urgent"
        texts = DESCRIPTIONS.get(plan.category.code, (f"{plan.category.name}，请尽快处理",))
        description = plan.description or texts[int(rng.integers(len(texts)))]
        try:
            return CaseSim.report(
                facts, case_id=plan.id, number=plan.number, at=plan.at, actor=facts.actor(person),
                category_id=plan.category.id, lon=plan.point[0], lat=plan.point[1],  # type: ignore[index]
                located=located, source=source, role=role, title=self._title(plan), description=description,
                address=self._address(located), urgency=urgency, contact_name=contact_name,
                contact_phone=contact_phone,
            )
        except DomainError:
            self.skipped += 1
            return None

    def _title(self, plan: Plan) -> str:
        """The case title: what and where, as a patroller writes it (a second reporter's own words if any)."""
        if plan.title:
            return plan.title
        where = plan.spot.name if plan.spot is not None and plan.spot.kind in ("street", "courtyard") else ""
        return f"{where}{plan.category.name}" if where else plan.category.name

    def _district_code(self, located: Mapping[str, int]) -> str:
        d = located.get("district")
        return self.facts.units[d].code if d in self.facts.units else ""

    def _citizens_for(self, station: int | None, source: str) -> list[int]:
        pool = self.p.citizens_by_station.get(station, []) if station is not None else []
        if source == "volunteer":
            pool = [c for c in pool if c in self.p.volunteers] or list(pool)
        elif source == "merchant_group":
            pool = [c for c in pool if c in self.p.merchants] or list(pool)
        if not pool or self.rng.random() < 0.08:
            pool = self.p.citizens
        return pool

    def _address(self, located: Mapping[str, int]) -> str:
        u = self.facts.units
        parts = [u[located[k]].name for k in ("district", "subdistrict", "community") if k in located]
        if "courtyard" in located:
            parts.append(u[located["courtyard"]].name)
            if "building" in located:
                parts.append(u[located["building"]].name)
        elif "street" in located:
            parts.append(u[located["street"]].name + "附近")
        return "".join(parts)


class _Story:
    """One case's life after its report; every step goes through ``CaseSim.act`` (and the sweep before it)."""

    def __init__(self, year: Year, plan: Plan, sim: CaseSim) -> None:
        self.y = year
        self.plan = plan
        self.sim = sim
        self.rng = year.rng
        self.stopped = False
        case = sim.case
        self.station_head = year.p.station_head.get(case.station_id) if case.station_id else None
        district = year._district_code(case.units)
        self.district_units = year.p.units_of_district.get(district, {})
        self.slow = False

    # time helpers

    def wt(self, start: dt.datetime, hours: float) -> dt.datetime:
        """``hours`` working hours after ``start`` (staff act in office time)."""
        return self.y.facts.due(start, max(hours, 0.0), "working_hours").due + dt.timedelta(
            seconds=int(self.rng.integers(0, 50)))

    def later(self, start: dt.datetime, hours: float) -> dt.datetime:
        """``hours`` of plain time after ``start``, moved into the day (7:00–22:00) when people are awake."""
        return awake(start + dt.timedelta(hours=hours), self.rng)

    def do(self, at: dt.datetime, person: int | None, action: str, data: Mapping | None = None) -> bool:
        """Take one step unless the story stops here (today reached, or the case waits where it is)."""
        if self.stopped:
            return False
        at = max(at, self.sim.last_at + SECOND)
        if at >= self.y.now or (self.plan.stop and self.sim.case.state == self.plan.stop):
            self.stopped = True
            return False
        actor = self.y.facts.actor(person)
        if actor is None:
            self.stopped = True
            return False
        self.sim.sweep(min(at, self.y.cutoff), on_escalate=self._on_escalate)
        try:
            self.sim.act(at, actor, action, data)
        except DomainError:
            self.y.skipped += 1
            self.stopped = True
            return False
        return True

    def _on_escalate(self, sim: CaseSim, level: str, until: dt.datetime) -> None:
        """A supervisor sometimes leaves a word after an escalation (督办)."""
        if self.rng.random() < 0.35:
            scope = sim.case.subdistrict_id if level == "subdistrict" else sim.case.district_id
            sups = self.y.p.supervisors.get(scope, [])
            if sups:
                at = sim.last_at + dt.timedelta(minutes=float(self.rng.uniform(5, 90)))
                if at < until:
                    text = "街道已督办，请加快处置" if level == "subdistrict" else "区级督办：请责任单位立即处置并反馈"
                    sim.act(at, self.y.facts.actor(sups[0]), "comment", {"text": text})  # type: ignore[arg-type]

    # the story

    def run(self) -> None:
        """Play the story, then let the sweep do what it did until the cut-off."""
        self._run()
        self.sim.sweep(self.y.cutoff, on_escalate=self._on_escalate)

    def _run(self) -> None:
        plan, rng, case = self.plan, self.rng, self.sim.case
        head = self.station_head
        t0 = case.reported_at
        # the station answers within the first-response limit (1 working hour; less when urgent)
        limit, unit_of_limit = self.y.facts.limit(self.sim.category, case.urgency, "first_response")
        hours = limit if unit_of_limit in ("working_hours", "hours") else limit * 7

        def answer(frac: float) -> dt.datetime:
            return self.y.facts.due(t0, limit * frac, unit_of_limit).due + dt.timedelta(
                seconds=int(rng.integers(0, 20)))

        if plan.flow == "merge":
            target = plan.duplicate_of
            at = answer(rng.uniform(0.05, 0.5))
            if rng.random() < 0.3:
                self.do(at, head, "accept")
                at += dt.timedelta(minutes=float(rng.uniform(1, 20)))
            self.do(at, head, "merge", {"into": target.number, "note": f"与案件 {target.number} 为同一问题"})  # type: ignore[union-attr]
            return
        slow_station = rng.random() < 0.015
        ta = answer(rng.uniform(1.2, 6.0) if slow_station else rng.uniform(0.03, 0.55))
        if plan.flow == "reject":
            self.do(ta, head, "reject", {"reason": REJECT_REASONS[int(rng.integers(len(REJECT_REASONS)))]})
            return
        if not self.do(ta, head, "accept", {"note": "已核实，予以立案"} if rng.random() < 0.2 else {}):
            return
        unit = case.suggested_unit_id or self._fallback_unit()
        if unit is None:
            return
        self.slow = unit in self.y.slow_units
        td = ta + dt.timedelta(seconds=float(rng.uniform(20, max(60.0, hours * 3600 * 0.3))))
        if not self._dispatch(td, unit):
            return
        if plan.flow == "return":
            if rng.random() < 0.5:
                self.do(self.wt(case.dispatched_at, rng.uniform(0.05, 0.5)), self._dispatcher(unit), "acknowledge")
            at = self.wt(self.sim.last_at, rng.uniform(0.1, 1.0))
            if not self.do(at, self._dispatcher(unit), "return",
                           {"reason": RETURN_REASONS[int(rng.integers(len(RETURN_REASONS)))]}):
                return
            other = self._alternative(unit)
            if other is None:
                return
            unit = other
            self.slow = unit in self.y.slow_units
            gap = rng.uniform(10, 50) if rng.random() < 0.7 else rng.uniform(120, 3600)
            if not self._dispatch(self.sim.last_at + dt.timedelta(seconds=float(gap)), unit,
                                  reason=f"经核实属{self.y.facts.service_units[unit].name}职责，改派"):
                return
        if plan.flow in ("suspend", "suspend_resume"):
            if not self.do(self.wt(case.dispatched_at, rng.uniform(0.05, 0.8)), self._dispatcher(unit), "acknowledge"):
                return
            at = self.wt(self.sim.last_at, rng.uniform(2, 30))
            if not self.do(at, head, "suspend", {"reason": SUSPEND_REASONS[int(rng.integers(len(SUSPEND_REASONS)))]}):
                return
            if plan.flow == "suspend":
                return
            at = self.wt(self.sim.last_at + dt.timedelta(days=float(rng.uniform(10, 60))), rng.uniform(0, 2))
            if not self.do(at, head, "resume", {"note": "条件具备，恢复办理"}):
                return
            if not self._dispatch(self.sim.last_at + dt.timedelta(seconds=float(rng.uniform(5, 40))), unit):
                return
        self._work(unit)

    def _dispatch(self, at: dt.datetime, unit: int, reason: str = "") -> bool:
        case = self.sim.case
        data: dict[str, Any] = {"unit": unit}
        if reason or (case.suggested_unit_id and unit != case.suggested_unit_id):
            data["reason"] = reason or "无物业管理，按属地管理交由专业单位处置"
        return self.do(at, self.station_head, "dispatch", data)

    def _work(self, unit: int) -> None:
        """Acknowledge, (extension), handle, verify (rework), close, rate, (reopen and once more)."""
        plan, rng, sim = self.plan, self.rng, self.sim
        case = sim.case
        ack = self.wt(case.dispatched_at, rng.uniform(0.3, 3.0) if self.slow else rng.uniform(0.03, 0.8))
        if not self.do(ack, self._dispatcher(unit), "acknowledge"):
            return
        amount, kind = self.y.facts.limit(sim.category, case.urgency, "handling")
        if plan.flow == "extension":
            half = self.y.facts.due(case.dispatched_at, amount * rng.uniform(0.3, 0.7), kind).due
            days = int(rng.integers(3, 11)) if sim.category.duty_type == "enforcement" else int(rng.integers(1, 6))
            if not self.do(max(half, self.sim.last_at + SECOND), self._crew(unit), "request_extension",
                           {"reason": EXTENSION_REASONS[int(rng.integers(len(EXTENSION_REASONS)))], "days": days}):
                return
            decide = self.wt(self.sim.last_at, rng.uniform(0.2, 3.0))
            if rng.random() < 0.75:
                self.do(decide, self.station_head, "approve_extension", {"note": "同意延期"})
            else:
                self.do(decide, self.station_head, "refuse_extension", {"reason": "可在时限内处置，不予延期"})
        rounds = 2 if plan.flow == "rework" else 1
        for n in range(rounds):
            if not self._handle(unit, again=n > 0):
                return
            if not self._verify(rework=n < rounds - 1):
                return
        close = self.wt(self.sim.last_at, rng.uniform(0.05, 1.5))
        if not self.do(close, self.station_head, "close", {"note": "经核查已处置到位，予以结案"} if rng.random() < 0.2 else {}):
            return
        if plan.flow == "reopen" and case.reported_by_id:
            at = self.later(case.closed_at, rng.uniform(20, 24 * 5))
            if not self.do(at, case.reported_by_id, "reopen",
                           {"reason": REOPEN_REASONS[int(rng.integers(len(REOPEN_REASONS)))]}):
                return
            if not self._dispatch(self.wt(self.sim.last_at, rng.uniform(0.1, 2.0)), unit):
                return
            plan.flow = "normal"
            self._work(unit)
            return
        self._rate()

    def _handle(self, unit: int, *, again: bool) -> bool:
        rng, case, sim = self.rng, self.sim.case, self.sim
        amount, kind = self.y.facts.limit(sim.category, case.urgency, "handling")
        if again:
            at = self.wt(sim.last_at, rng.uniform(0.3, 6.0))
        else:
            r, grace = rng.random(), self.y.facts.grace_days
            late, very_late = (0.45, 0.12) if self.slow else (0.04, 0.007)
            if r < very_late:  # past the grace: the district steps in
                at = self.y.facts.due(case.handling_due, grace + rng.uniform(0.2, 3.0), "working_days").due
            elif r < late:  # overdue: the sub-district steps in
                at = self.y.facts.due(case.handling_due, grace * rng.uniform(0.05, 0.9), "working_days").due
            else:
                at = self.y.facts.due(case.dispatched_at, amount * rng.uniform(0.1, 0.95), kind).due
            if case.extension_count and case.handling_due and rng.random() < 0.8:
                at = max(at, case.handling_due - dt.timedelta(hours=float(rng.uniform(1, 30))))
            at = max(at, sim.last_at + dt.timedelta(minutes=float(rng.uniform(5, 40))))
            if case.reported_by_id and case.reported_by_id not in self.y.staff and rng.random() < 0.5 \
                    and at - case.dispatched_at > dt.timedelta(days=2):
                # the reporter asks after a slow case (催办)
                self.do(self.later(case.dispatched_at, (at - case.dispatched_at).total_seconds() / 7200),
                        case.reported_by_id, "comment", {"text": "怎么还没处理？请尽快解决"})
        notes = HANDLE_NOTES.get(self.y.facts.service_units[unit].duty_type, ("已处置完毕",))
        return self.do(at, self._crew(unit), "handle", {"note": notes[int(rng.integers(len(notes)))]})

    def _verifier(self) -> int | None:
        case, sim = self.sim.case, self.sim
        if sim.category.reporter_verifies and case.reported_by_id:
            return case.reported_by_id
        return case.head_id or self.station_head

    def _verify(self, *, rework: bool) -> bool:
        rng, case = self.rng, self.sim.case
        who = self._verifier()
        if who == case.reported_by_id and who not in self.y.staff:
            at = self.later(self.sim.last_at, rng.uniform(0.3, 30))  # a citizen looks when he passes by
        else:
            at = self.later(self.sim.last_at, rng.uniform(0.2, 16))
        if rework:
            return self.do(at, who, "rework", {"reason": REWORK_REASONS[int(rng.integers(len(REWORK_REASONS)))]})
        return self.do(at, who, "verify", {"note": "现场已恢复"} if rng.random() < 0.3 else {})

    def _rate(self) -> None:
        rng, case = self.rng, self.sim.case
        if not case.reported_by_id or rng.random() > (0.75 if case.reported_by_id not in self.y.staff else 0.15):
            return
        overdue = case.max_level != "community" or case.rework_count > 0
        r = rng.random()
        if overdue:
            rating = "dissatisfied" if r < 0.3 else "basically_satisfied" if r < 0.65 else "satisfied"
        else:
            rating = "dissatisfied" if r < 0.03 else "basically_satisfied" if r < 0.12 else "satisfied"
        data = {"rating": rating}
        if rating == "dissatisfied":
            data["reason"] = DISSATISFIED[int(rng.integers(len(DISSATISFIED)))]
        self.do(self.later(case.closed_at, rng.uniform(0.2, 48)), case.reported_by_id, "rate", data)

    # who

    def _dispatcher(self, unit: int) -> int | None:
        m = self.y.p.members.get(unit, {})
        return (m.get("unit_dispatcher") or m.get("unit_crew") or [None])[0]

    def _crew(self, unit: int) -> int | None:
        m = self.y.p.members.get(unit, {})
        crew = m.get("unit_crew") or m.get("unit_dispatcher") or [None]
        return crew[int(self.rng.integers(len(crew)))]

    def _fallback_unit(self) -> int | None:
        """No unit's area covers the point for this duty (a courtyard without property management):
        the territory handles it through the district's enforcement (属地管理)."""
        return self.district_units.get("enforcement") or next(iter(self.district_units.values()), None)

    def _alternative(self, unit: int) -> int | None:
        duty = self.y.facts.service_units[unit].duty_type
        other = self.district_units.get(ALTERNATIVE_DUTY.get(duty, "municipal"))
        return other if other and other != unit else self.district_units.get("municipal")


SURNAMES = (
    "王" * 9 + "张" * 7 + "李" * 7 + "刘" * 6 + "孙" * 5 + "杨" * 4 + "于" * 4 + "姜" * 4 + "赵" * 3 + "陈" * 3 + "徐" * 3
    + "高" * 3 + "马" * 2 + "宋" * 2 + "董" * 2 + "郭" * 2 + "周" * 2 + "吴" * 2 + "曲" * 2 + "林" * 2 + "韩" * 2 + "邵"
    + "隋" + "崔" * 2 + "薛" + "宫" + "逄" + "臧" + "纪" + "毛" + "谭" + "栾" + "修" + "袁" + "范" + "杜" + "孔" + "丁"
    + "冯" + "曹" + "郑" + "朱" + "胡" + "何" + "梁" + "许" + "程" + "邢" + "鞠" + "盛" + "矫" + "衣" + "初" + "蓝" + "房"
)
GIVEN_FIRST = "建志海晓国立文春秀玉丽永明宏学俊子思雨欣家佳一梓浩宇红桂淑凤德金长新世云"
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰国东文振成兵庆福"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲丹萍红梅琳莉婷雪慧颖倩洁晶佳欣璐彤悦兰凤英秀春华"
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                  "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186",
                  "187", "188", "189", "191", "198", "199")


def _surname(rng: np.random.Generator) -> str:
    return SURNAMES[int(rng.integers(len(SURNAMES)))]


def person_name(rng: np.random.Generator) -> str:
    """A plausible Chinese name: a (Shandong-weighted) family name and one or two given characters."""
    pool = GIVEN_MALE if rng.random() < 0.52 else GIVEN_FEMALE
    second = pool[int(rng.integers(len(pool)))]
    if rng.random() < 0.3:
        return _surname(rng) + second
    return _surname(rng) + GIVEN_FIRST[int(rng.integers(len(GIVEN_FIRST)))] + second


def _phone(rng: np.random.Generator) -> str:
    return PHONE_PREFIXES[int(rng.integers(len(PHONE_PREFIXES)))] + f"{int(rng.integers(0, 10**8)):08d}"


def phones(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct mainland mobile numbers."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        p = _phone(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
