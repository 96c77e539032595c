"""Imports of people and duty (名单导入): what the database knows for checking a sheet, and the writers.

The checks are in ``cogov.people.rosters`` (pure); the writers here go through the existing services
(``create_user``, ``role_assign``), one transaction for the whole file: all rows or none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from cogov import clock
from cogov.errors import DomainError
from cogov.geo.models import KIND_CHOICES, City, Unit
from cogov.people import rosters
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.services import ROLE_SCOPE_KINDS, role_assign


def _local_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_default_timezone())


def _last_day(valid_to: dt.datetime | None) -> dt.date | None:
    """The last day in post of an appointment ending at ``valid_to`` (the next day's midnight, local)."""
    if valid_to is None:
        return None
    local = timezone.localtime(valid_to, timezone.get_default_timezone())
    return (local - dt.timedelta(microseconds=1)).date()


def _active() -> Q:
    return Q(valid_to__isnull=True) | Q(valid_to__gt=clock.now())


def roster_known(*, city: City, table: rosters.Table) -> rosters.RosterKnown:
    """What the database holds about the units, professional units and accounts a roster mentions."""
    unit_codes, service_codes, usernames = rosters.roster_codes(table)
    lowered = {u.lower() for u in usernames}
    people = {}
    for username, name, phone, city_id in (
        Person.objects.annotate(lname=Lower("username")).filter(lname__in=lowered)
        .values_list("username", "display_name", "phone", "city_id")
    ):
        people[username.lower()] = rosters.PersonInfo(username, name, phone,
                                                      other_city=city_id not in (None, city.pk))
    assignments = {}
    for username, role, scope, service, valid_to in (
        RoleAssignment.objects.filter(city=city, person__username__in=[p.username for p in people.values()])
        .filter(_active()).values_list("person__username", "role", "scope_unit__code", "service_unit__code",
                                       "valid_to")
    ):
        assignments[(username.lower(), role, scope or "", service or "")] = _last_day(valid_to)
    return rosters.RosterKnown(
        units={c: (k, n) for c, k, n in Unit.objects.filter(city=city, code__in=unit_codes)
               .values_list("code", "kind", "name")},
        unit_kind_names=dict(KIND_CHOICES),
        service_units=dict(ServiceUnit.objects.filter(city=city, code__in=service_codes)
                           .values_list("code", "name")),
        people=people,
        assignments=assignments,
        scope_kinds=ROLE_SCOPE_KINDS,
        today=timezone.localdate(clock.now()),
    )


@dataclass
class RosterResult:
    """What a roster import wrote."""

    people_created: int = 0
    people_updated: int = 0
    assigned: int = 0
    ended: int = 0
    unchanged: int = 0


def roster_import(*, city: City, records: list[dict]) -> RosterResult:
    """名单导入 — create or update people and appoint them, all rows in one transaction (or none).

    ``records`` are the ``data`` of a checked roster (``rosters.parse_roster``). A person is found by username
    (new ones are created with ``create_user``: the initial password, else none usable); name and phone are
    updated when given. An appointment the person already holds is kept; a given last day ends it then.
    Appointments the sheet does not mention are left alone.
    """
    result = RosterResult()
    with transaction.atomic():
        units = {u.code: u for u in Unit.objects.filter(
            city=city, code__in={r["scope_unit_code"] for r in records if r["scope_unit_code"]})}
        services = {s.code: s for s in ServiceUnit.objects.filter(
            city=city, code__in={r["service_unit_code"] for r in records if r["service_unit_code"]})}
        people: dict[str, Person] = {}
        for r in records:
            person = people.get(r["username"])
            if person is None:
                person = Person.objects.select_for_update().filter(username=r["username"]).first()
                if person is None:
                    person = Person.objects.create_user(
                        username=r["username"], password=r["password"] or None, city=city,
                        display_name=r["display_name"], phone=r["phone"])
                    result.people_created += 1
                else:
                    if person.city_id not in (None, city.pk):
                        raise DomainError("other_city", f"账号「{person.username}」属于其他城市")
                    changed = [f for f in ("display_name", "phone") if r[f] and getattr(person, f) != r[f]]
                    for f in changed:
                        setattr(person, f, r[f])
                    if person.city_id is None:
                        person.city = city
                        changed.append("city")
                    if changed:
                        person.save(update_fields=changed)
                        result.people_updated += 1
                people[r["username"]] = person
            if not r["role"]:
                continue
            scope = units.get(r["scope_unit_code"]) if r["scope_unit_code"] else None
            service = services.get(r["service_unit_code"]) if r["service_unit_code"] else None
            if (r["scope_unit_code"] and scope is None) or (r["service_unit_code"] and service is None):
                raise DomainError("unknown_code", f"账号「{r['username']}」的辖区或专业单位编码已不存在")
            end = _local_start(r["valid_to"] + dt.timedelta(days=1)) if r["valid_to"] else None
            held = (RoleAssignment.objects.select_for_update()
                    .filter(city=city, person=person, role=r["role"], scope_unit=scope, service_unit=service)
                    .filter(_active()).order_by("valid_from").first())
            if held is None:
                start = _local_start(r["valid_from"]) if r["valid_from"] else None
                role_assign(person=person, role=r["role"], scope_unit=scope, service_unit=service,
                            valid_from=start, valid_to=end)
                result.assigned += 1
            elif end is not None and held.valid_to != end:
                if end <= held.valid_from:
                    raise DomainError("bad_period", f"账号「{r['username']}」的结束日期早于任命开始")
                held.valid_to = end
                held.save(update_fields=["valid_to"])
                result.ended += 1
            else:
                result.unchanged += 1
    return result


def service_units_known(*, city: City, table: rosters.Table) -> rosters.ServiceUnitKnown:
    """What the database holds about the codes a professional-unit sheet mentions."""
    from cogov.cases.models import Category

    unit_codes, cat_codes = rosters.service_unit_codes(table)
    codes = {rosters.text(cells.get("code")) for _n, cells in table.rows}
    return rosters.ServiceUnitKnown(
        units={c: (k, n) for c, k, n in Unit.objects.filter(city=city, code__in=unit_codes)
               .values_list("code", "kind", "name")},
        service_units=dict(ServiceUnit.objects.filter(city=city, code__in=codes).values_list("code", "name")),
        category_codes=frozenset(Category.objects.filter(city=city, code__in=cat_codes)
                                 .values_list("code", flat=True)),
    )


def service_units_import(*, city: City, records: list[dict]) -> tuple[int, int]:
    """专业单位导入 — create or update professional units by code, with their service area; one transaction.

    Returns (created, updated).
    """
    created = updated = 0
    with transaction.atomic():
        units = dict(Unit.objects.filter(city=city, code__in={c for r in records for c in r["service_area"]})
                     .values_list("code", "id"))
        for r in records:
            missing = [c for c in r["service_area"] if c not in units]
            if missing:
                raise DomainError("unknown_code", f"服务范围编码已不存在：{'、'.join(missing)}")
            unit, was_created = ServiceUnit.objects.select_for_update().update_or_create(
                city=city, code=r["code"],
                defaults={"name": r["name"], "duty_type": r["duty_type"],
                          "duty_categories": r["duty_categories"]},
            )
            unit.service_area.set([units[c] for c in r["service_area"]])
            created += was_created
            updated += not was_created
    return created, updated
