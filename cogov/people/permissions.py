"""Who may see and do what (权限) — decided here only, from role assignments, their area and the workflow.

Staff see the cases inside their area (a station head: the station's; a supervisor: the sub-district's or
district's; a head: the cases located in his building, courtyard, street or area); a professional unit sees
the cases it currently handles; a reporter sees his own. Everything else is invisible (404), not forbidden.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from cogov import clock
from cogov.cases import workflow

AREA_ROLES = frozenset({"station_head", "subdistrict_supervisor", "district_supervisor", "city_supervisor"})
HEAD_ROLES = frozenset({"building_head", "street_head", "area_head"})
UNIT_ROLES = frozenset({"unit_dispatcher", "unit_crew"})
STAFF_ROLES = AREA_ROLES | HEAD_ROLES | UNIT_ROLES | {"admin"}


@dataclass(frozen=True)
class Grant:
    """One role a person holds now, and where."""

    role: str
    scope_unit_id: int | None
    scope_path: str
    service_unit_id: int | None
    scope_kind: str = ""


@dataclass(frozen=True)
class Actor:
    """Someone acting: a person with the grants valid now, or the system (escalation sweep)."""

    person_id: int | None
    city_id: int
    grants: tuple[Grant, ...] = ()
    system: bool = False
    name: str = ""

    @property
    def roles(self) -> frozenset[str]:
        """Every role the actor holds somewhere."""
        return frozenset(g.role for g in self.grants)

    @property
    def is_staff(self) -> bool:
        """Whether the actor holds any staff role (sees staff views, may see reporter contacts in scope)."""
        return self.system or bool(self.roles & STAFF_ROLES)


def actor_for(person, *, city_id: int | None = None, at: dt.datetime | None = None) -> Actor:
    """The actor for ``person`` with the assignments valid at ``at`` (default now) in ``city_id``."""
    from cogov.people.models import RoleAssignment

    at = at or clock.now()
    city_id = city_id or person.city_id
    rows = (
        RoleAssignment.objects.filter(person=person, city_id=city_id, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .values_list("role", "scope_unit_id", "scope_path", "service_unit_id", "scope_unit__kind")
    )
    grants = tuple(Grant(r, u, p, s, k or "") for r, u, p, s, k in rows)
    if person.is_superuser and not any(g.role == "admin" for g in grants):
        grants += (Grant("admin", None, "", None),)
    return Actor(person_id=person.pk, city_id=city_id, grants=grants, name=str(person))


def system_actor(city_id: int) -> Actor:
    """The platform itself (deadline sweep)."""
    return Actor(person_id=None, city_id=city_id, system=True, name="系统")


def _covers(grant: Grant, unit_path: str, unit_ids: set[int]) -> bool:
    if grant.role == "admin" or (grant.role == "city_supervisor" and not grant.scope_path):
        return True
    if grant.role in HEAD_ROLES:  # a head's area is the unit itself: the case must be located in it
        return grant.scope_unit_id in unit_ids
    return bool(grant.scope_path) and unit_path.startswith(grant.scope_path)


def roles_on_case(actor: Actor, case) -> set[str]:
    """The roles ``actor`` holds on this very case (empty: the case is invisible to the actor)."""
    if actor.city_id != case.city_id:
        return set()
    if actor.system:
        return {"system"}
    unit_ids = {int(v) for v in (case.units or {}).values()}
    roles = set()
    for g in actor.grants:
        if g.role in UNIT_ROLES:
            if g.service_unit_id is not None and g.service_unit_id == case.handler_unit_id:
                roles.add(g.role)
        elif _covers(g, case.unit_path, unit_ids):
            roles.add(g.role)
    if actor.person_id is not None and actor.person_id == case.reported_by_id:
        roles.add("reporter")
    return roles


def case_not_found(number: str) -> workflow.WorkflowError:
    """The one answer for a case that does not exist and for one outside the caller's area (no existence leak)."""
    return workflow.WorkflowError("case_not_found", f"案件 {number} 不存在或不在您的管辖范围内", status=404)


def role_for_action(actor: Actor, case, action: str, *, allowed: tuple[str, ...] | None = None) -> str:
    """The role in which ``actor`` takes ``action`` on ``case``; raises 404 if invisible, 403 if not allowed."""
    roles = roles_on_case(actor, case)
    if not roles:
        raise case_not_found(case.number)
    t = workflow.transition_for(case.state, action)
    permitted = allowed if allowed is not None else t.roles
    for role in permitted:  # the table's order: the most specific role first
        if role in roles:
            return role
    raise workflow.WorkflowError(
        "role_not_allowed",
        f"您在此案件上的角色（{'、'.join(sorted(roles))}）无权执行「{workflow.ACTIONS[action]}」",
        status=403,
    )


def area_paths(actor: Actor) -> list[str] | None:
    """The unit paths of the areas whose statistics ``actor`` may read (station heads and supervisors: their
    grants' areas; ``[""]``: the whole city, for an admin or a city supervisor without an area); None when the
    actor holds no such role. A path inside another of the actor's paths is dropped (it adds nothing)."""
    if actor.system or any(g.role == "admin" or (g.role == "city_supervisor" and not g.scope_path)
                           for g in actor.grants):
        return [""]
    grants = [g for g in actor.grants if g.role in AREA_ROLES]
    if not grants:
        return None
    paths = sorted({g.scope_path for g in grants if g.scope_path})  # an area without a path is no area
    return [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]


def visible_cases(actor: Actor) -> Q:
    """A filter for the cases ``actor`` may see (use with Case.objects.filter(city_id=…))."""
    if actor.system or any(g.role == "admin" for g in actor.grants):
        return Q(city_id=actor.city_id)
    q = Q(pk__in=[])
    for g in actor.grants:
        if g.role in UNIT_ROLES and g.service_unit_id is not None:
            q |= Q(handler_unit_id=g.service_unit_id)
        elif g.role == "city_supervisor" and not g.scope_path:
            return Q(city_id=actor.city_id)
        elif g.role in HEAD_ROLES and g.scope_unit_id is not None and g.scope_kind:
            q |= Q(**{f"units__{g.scope_kind}": g.scope_unit_id})
        elif g.scope_path:
            q |= Q(unit_path__startswith=g.scope_path)
    if actor.person_id is not None:
        q |= Q(reported_by_id=actor.person_id)
    return Q(city_id=actor.city_id) & q
