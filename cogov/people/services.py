"""Writes to people and duty (人员服务): accounts and role assignments."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from cogov import clock
from cogov.errors import DomainError
from cogov.geo.models import City, Unit
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.roles import ROLES

#: The unit kind each territorial role is assigned to.
ROLE_SCOPE_KINDS = {
    "volunteer": (),
    "station_head": ("station",),
    "building_head": ("building", "courtyard"),
    "street_head": ("street",),
    "area_head": ("area",),
    "subdistrict_supervisor": ("subdistrict",),
    "district_supervisor": ("district",),
    "city_supervisor": (),
}


def person_create_admin(*, username: str, password: str, city_code: str | None = None) -> Person:
    """Create or reset an administrator (superuser, 系统管理员)."""
    city = City.objects.filter(code=city_code).first() if city_code else None
    person, _ = Person.objects.get_or_create(username=username)
    person.is_staff = person.is_superuser = True
    person.city = city or person.city
    person.display_name = person.display_name or "系统管理员"
    person.set_password(password)
    person.save()
    return person


def role_assign(
    *,
    person: Person,
    role: str,
    scope_unit: Unit | None = None,
    service_unit: ServiceUnit | None = None,
    valid_from: dt.datetime | None = None,
    valid_to: dt.datetime | None = None,
) -> RoleAssignment:
    """岗位任命 — assign ``role`` to ``person`` over ``scope_unit`` (or in ``service_unit``) for a time."""
    if role not in ROLES or role == "citizen":
        raise DomainError("bad_role", f"未知岗位：{role}")
    if role in ("unit_dispatcher", "unit_crew"):
        if service_unit is None:
            raise DomainError("missing_fields", "专业单位岗位需要指定专业单位")
        city_id = service_unit.city_id
    elif role == "admin":
        city_id = person.city_id
    else:
        kinds = ROLE_SCOPE_KINDS[role]
        if kinds and (scope_unit is None or scope_unit.kind not in kinds):
            raise DomainError("bad_scope", f"{role} 必须任命到：{'、'.join(kinds)}")
        city_id = scope_unit.city_id if scope_unit else person.city_id
    if city_id is None:
        raise DomainError("missing_fields", "无法确定所属城市")
    valid_from = valid_from or clock.now()
    if valid_to is not None and valid_to <= valid_from:
        raise DomainError("bad_period", "结束时间必须晚于开始时间")
    with transaction.atomic():
        return RoleAssignment.objects.create(
            city_id=city_id, person=person, role=role, scope_unit=scope_unit,
            scope_path=scope_unit.path if scope_unit else "", service_unit=service_unit,
            valid_from=valid_from, valid_to=valid_to,
        )
