"""Routing (分拨): who should take a report, and why — the reasons are kept on the case.

三长一站: inside a building → its building head (楼院长); the courtyard → 楼院长; outside → the street head (街巷长),
else the area head (区片长); always the community's station (城市治理服务站). The category's duty goes to the
professional unit whose service area contains the point (the most specific one); when no unit has that duty, the
territory handles it (属地管理). Plain Python: the service gathers the facts, this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from cogov.people.roles import DUTY_NAMES, ROLE_NAMES

KIND_NAMES = {
    "district": "区（市）",
    "subdistrict": "街道",
    "community": "社区",
    "station": "服务站",
    "area": "区片",
    "street": "街巷",
    "courtyard": "楼院",
    "building": "楼",
}
SCOPE_NAMES = {"building": "楼内", "courtyard": "楼院内", "outside": "街面"}

#: For each scope, the (unit kind, head role) pairs tried in order.
HEAD_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "building": (("building", "building_head"), ("courtyard", "building_head")),
    "courtyard": (("courtyard", "building_head"), ("building", "building_head")),
    "outside": (("street", "street_head"), ("area", "area_head")),
}


@dataclass(frozen=True)
class Place:
    """A located unit: its id and name."""

    id: int
    name: str


@dataclass(frozen=True)
class Head:
    """A head currently assigned to a unit."""

    person_id: int
    role: str
    name: str


@dataclass(frozen=True)
class Candidate:
    """A professional unit that might take the case."""

    id: int
    name: str
    duty_type: str
    duty_categories: tuple[str, ...] = ()
    covers_point: bool = True
    #: Depth of the smallest unit of its service area that contains the point (0 = the whole city).
    specificity: int = 0


@dataclass(frozen=True)
class Routing:
    """The decision: the head, the station, the professional unit, and the reasons in plain words."""

    head_person: int | None
    head_role: str
    head_unit: int | None
    station: int | None
    service_unit: int | None
    reasons: list[str] = field(default_factory=list)


def route(
    *,
    located: Mapping[str, Place],
    scope: str,
    duty_type: str,
    category_code: str,
    heads: Mapping[int, Sequence[Head]],
    candidates: Sequence[Candidate],
) -> Routing:
    """Choose the handler of a report located at ``located`` (kind → unit) for a category of ``scope``/``duty``."""
    reasons: list[str] = []
    station = located.get("station")
    head: Head | None = None
    head_unit: Place | None = None
    for kind, role in HEAD_ORDER.get(scope, HEAD_ORDER["outside"]):
        place = located.get(kind)
        if place is None:
            continue
        found = [h for h in heads.get(place.id, ()) if h.role == role]
        if found:
            head, head_unit = min(found, key=lambda h: h.person_id), place
            reasons.append(
                f"问题位于{SCOPE_NAMES.get(scope, scope)}，地点属{KIND_NAMES[kind]}「{place.name}」，"
                f"由{ROLE_NAMES[role]}{head.name}负责"
            )
            break
        reasons.append(f"{KIND_NAMES[kind]}「{place.name}」暂无{ROLE_NAMES[role]}")
    if head is None and station is not None:
        found = [h for h in heads.get(station.id, ()) if h.role == "station_head"]
        if found:
            head, head_unit = min(found, key=lambda h: h.person_id), station
            reasons.append(f"由服务站「{station.name}」站长{head.name}兜底负责")
    if station is not None:
        reasons.append(f"所属服务站：「{station.name}」")
    else:
        reasons.append("地点不在任何服务站范围内，由街道受理")

    chosen: Candidate | None = None
    if duty_type or category_code:
        fitting = [
            c
            for c in candidates
            if c.covers_point and (c.duty_type == duty_type or category_code in c.duty_categories)
        ]
        if fitting:
            chosen = min(fitting, key=lambda c: (-c.specificity, c.id))
            why = "职责类别" if chosen.duty_type == duty_type else "职责事项清单"
            reasons.append(
                f"按{why}「{DUTY_NAMES.get(duty_type, duty_type) or category_code}」，"
                f"服务范围覆盖该地点的专业单位：{chosen.name}"
            )
        else:
            reasons.append(
                f"没有服务范围覆盖该地点的「{DUTY_NAMES.get(duty_type, duty_type)}」专业单位，按属地管理由社区处置"
            )
    return Routing(
        head_person=head.person_id if head else None,
        head_role=head.role if head else "",
        head_unit=head_unit.id if head_unit else None,
        station=station.id if station else None,
        service_unit=chosen.id if chosen else None,
        reasons=reasons,
    )
