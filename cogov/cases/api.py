"""Case endpoints of /api/v1/: report, list, read, act; categories; locate; level shares."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from cogov.cases import config, selectors, services, workflow
from cogov.cases.models import Attachment, Case
from cogov.errors import DomainError
from cogov.geo import coords
from cogov.geo import selectors as geo
from cogov.geo.models import City, Unit
from cogov.intake import idempotency, ratelimit
from cogov.people.auth import person_for_token
from cogov.people.permissions import Actor, actor_for, area_paths, roles_on_case

router = Router()


class Strict(Schema):
    """Request bodies refuse unknown fields, so a typo is an error and not a silently ignored value."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    code: str
    message: str
    detail: dict | None = None


def errors(*statuses: int) -> dict:
    """The documented error answers of an operation: each one an ``ErrorOut``.

    400 and 422 are always among them: any request may be malformed (a path parameter of the wrong type, a NUL
    character, a body that is not JSON), and the API answers that with one of them.
    """
    return {status: ErrorOut for status in sorted({400, 422, *statuses})}


def _person(request: HttpRequest):
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, key = auth.partition(" ")
        person = person_for_token(key.strip()) if scheme.lower() == "bearer" else None
        if person is None:
            raise DomainError("unauthorized", "令牌无效或已撤销", status=401)
        return person
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _city(person) -> City:
    # the city row from the per-process cache (re-read at most every 2 s, cogov/cases/config.py)
    if person is not None and person.city_id:
        return config.city_get(person.city_id) or person.city
    city = config.city_default()
    if city is None:
        raise DomainError("no_city", "平台尚未配置城市（请先运行 cogov demo 或导入辖区）", status=404)
    return city


def _actor(request: HttpRequest, *, required: bool) -> tuple[Actor | None, City]:
    person = _person(request)
    if person is None and required:
        raise DomainError("unauthorized", "需要登录或提供令牌（Authorization: Bearer …）", status=401)
    city = _city(person)
    return (actor_for(person, city_id=city.pk) if person is not None else None), city


class LimitOut(Schema):
    urgency: str
    first_response_amount: float
    first_response_unit: str
    handling_amount: float
    handling_unit: str


class CategoryOut(Schema):
    id: int
    edition: str
    code: str
    name: str
    kind: str
    major_code: str
    major_name: str
    scope: str
    duty_type: str
    reporter_verifies: bool
    limits: list[LimitOut]


@router.get("/categories", response={200: list[CategoryOut], **errors(401, 404)}, tags=["categories"],
            summary="类别列表")
def list_categories(request, edition: str | None = None):
    """The city's active categories with their time limits."""
    _, city = _actor(request, required=False)
    qs = selectors.category_list(city.pk)
    if edition:
        qs = qs.filter(edition=edition)
    return [
        CategoryOut(id=c.id, edition=c.edition, code=c.code, name=c.name, kind=c.kind, major_code=c.major_code,
                    major_name=c.major_name, scope=c.scope, duty_type=c.duty_type,
                    reporter_verifies=c.reporter_verifies,
                    limits=[LimitOut(urgency=lim.urgency, first_response_amount=lim.first_response_amount,
                                     first_response_unit=lim.first_response_unit,
                                     handling_amount=lim.handling_amount, handling_unit=lim.handling_unit)
                            for lim in c.limits.all()])
        for c in qs
    ]


class UnitOut(Schema):
    kind: str
    id: int
    code: str
    name: str


class LocateOut(Schema):
    lon: float
    lat: float
    units: list[UnitOut]


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("必须是有限数值")
    return v


class LocateQuery(Strict):
    lon: float = Field(..., ge=-180, le=180, description="经度")
    lat: float = Field(..., ge=-90, le=90, description="纬度")
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"

    _check = field_validator("lon", "lat")(_finite)


@router.get("/locate", response={200: LocateOut, **errors(400, 401, 404, 422)}, tags=["geo"],
            summary="定位：包含该点的所有辖区单元")
def locate(request, q: Query[LocateQuery]):
    """Every unit of the city containing the point, district to building."""
    _, city = _actor(request, required=False)
    lon, lat = coords.to_wgs84(q.lon, q.lat, q.coord_system)
    found = geo.locate(city.pk, lon, lat)
    if "district" not in found:
        raise DomainError("outside_city", f"该位置不在{city.name}辖区内")
    units = geo.units_by_id(found.values())
    order = {k: i for i, k in enumerate(["district", "subdistrict", "community", "station", "area", "street",
                                         "courtyard", "building"])}
    out = sorted((UnitOut(kind=u.kind, id=u.id, code=u.code, name=u.name) for u in units.values()),
                 key=lambda u: order[u.kind])
    return LocateOut(lon=lon, lat=lat, units=out)


class ReportIn(Strict):
    category_id: int = Field(..., description="类别编号（见 /categories）")
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = Field("wgs84", description="手机定位多为 gcj02")
    title: str = Field("", max_length=100)
    description: str = Field("", max_length=2000)
    address: str = Field("", max_length=200)
    urgency: Literal["normal", "urgent", "emergency"] = "normal"
    source: Literal["citizen", "head", "merchant_group", "inspector", "hotline", "volunteer"] = "citizen"
    role: str = Field("citizen", max_length=30, description="上报身份：citizen 或本人持有的岗位")
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=20, pattern=r"^(\+?86)?1[3-9]\d{9}$|^$")
    photos: list[int] = Field([], max_length=6, description="先上传到 /photos 得到的照片编号")
    upload_token: str = Field("", max_length=64, description="匿名上传照片时返回的令牌")

    _check = field_validator("lon", "lat")(_finite)


class EventOut(Schema):
    seq: int
    action: str
    action_name: str
    role: str
    at: dt.datetime
    from_state: str
    to_state: str
    data: dict


class PhotoOut(Schema):
    id: int
    kind: str
    width: int
    height: int
    public_url: str
    thumbnail_url: str


def photo_out(a: Attachment) -> PhotoOut:
    """The public description of a photo (no original, no metadata)."""
    return PhotoOut(id=a.pk, kind=a.kind, width=a.width, height=a.height,
                    public_url=f"/photos/{a.pk}/public.jpg", thumbnail_url=f"/photos/{a.pk}/thumb.jpg")


class CaseOut(Schema):
    number: str
    state: str
    state_name: str
    category_code: str
    category_name: str
    urgency: str
    source: str
    title: str
    description: str
    address: str
    lon: float
    lat: float
    district: str | None
    subdistrict: str | None
    community: str | None
    station: str | None
    level: str
    handler_unit: str | None
    suggested_unit: str | None = None
    routing_reasons: list[str] = []
    reported_at: dt.datetime
    first_response_due: dt.datetime | None
    handling_due: dt.datetime | None
    deadline_flagged: bool
    closed_at: dt.datetime | None
    allowed_actions: list[str] = []
    #: Staff in scope only: the reporter's contact (never in public output).
    reporter_name: str | None = None
    reporter_phone: str | None = None
    photos: list[PhotoOut] = []
    events: list[EventOut] | None = None


def _case_out(case: Case, actor: Actor | None, *, with_events: bool = False) -> CaseOut:
    roles = roles_on_case(actor, case) if actor else set()
    staff_roles = roles - {"reporter", "citizen"}
    out = CaseOut(
        number=case.number, state=case.state, state_name=workflow.STATES[case.state],
        category_code=case.category.code, category_name=case.category.name, urgency=case.urgency,
        source=case.source, title=case.title, description=case.description, address=case.address,
        lon=case.lon, lat=case.lat,
        district=case.district.name if case.district_id else None,
        subdistrict=case.subdistrict.name if case.subdistrict_id else None,
        community=case.community.name if case.community_id else None,
        station=case.station.name if case.station_id else None,
        level=case.level, handler_unit=case.handler_unit.name if case.handler_unit_id else None,
        reported_at=case.reported_at, first_response_due=case.first_response_due,
        handling_due=case.handling_due, deadline_flagged=bool(case.deadline_fallback_years),
        closed_at=case.closed_at,
        photos=[photo_out(a) for a in case.attachments.all()] if case.moderation == "ok" or staff_roles else [],
        allowed_actions=[a for a in workflow.allowed_actions(case.state, roles) if a not in ("escalate", "report")],
    )
    if staff_roles:
        out.suggested_unit = case.suggested_unit.name if case.suggested_unit_id else None
        out.routing_reasons = list(case.routing_reasons)
        if case.reporter_id:
            out.reporter_name = case.reporter.name
            out.reporter_phone = case.reporter.phone
    if with_events:
        out.events = [
            EventOut(seq=e.seq, action=e.action, action_name=workflow.ACTIONS.get(e.action, e.action), role=e.role,
                     at=e.at, from_state=e.from_state, to_state=e.to_state,
                     data={k: v for k, v in e.data.items() if k != "units"})
            for e in case.events.order_by("seq")
        ]
    return out


@router.post("/cases", response={201: CaseOut, **errors(400, 401, 403, 404, 409, 422, 429)},
             tags=["cases"], summary="上报案件")
def report_case(request, payload: ReportIn):
    """File a case. Anonymous citizens may report; staff report in one of their roles (``role``).

    An ``Idempotency-Key`` header makes a retry return the first answer (header ``Idempotent-Replayed: true``)
    instead of filing a second case. Public intake is rate-limited per address and per phone (429, Retry-After).
    """
    actor, city = _actor(request, required=False)
    if actor is None or payload.role == "citizen":
        ratelimit.enforce_public_limits(request, phone=payload.contact_phone or None)

    def produce():
        lon, lat = coords.to_wgs84(payload.lon, payload.lat, payload.coord_system)
        case = services.case_report(
            city=city, actor=actor, category_id=payload.category_id, lon=lon, lat=lat, source=payload.source,
            role=payload.role, title=payload.title, description=payload.description, address=payload.address,
            urgency=payload.urgency, contact_name=payload.contact_name, contact_phone=payload.contact_phone,
            photo_ids=payload.photos, upload_token=payload.upload_token,
        )
        # case_report hands the case back with its category, units and reporter attached: no second read;
        # and a case just filed without photos has none (the answer need not ask)
        if not payload.photos:
            case._prefetched_objects_cache = {"attachments": case.attachments.none()}
        return 201, _case_out(case, actor).model_dump_json(), idempotency.JSON, case.pk

    scope = f"api:report:person:{actor.person_id}" if actor and actor.person_id else "api:report:anon"
    status, body, content_type, replayed = idempotency.idempotent(
        city_id=city.pk, scope=scope, key=request.headers.get("Idempotency-Key"),
        request_fingerprint=idempotency.fingerprint(payload.dict()), produce=produce,
    )
    response = HttpResponse(body, status=status, content_type=content_type)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class CaseListOut(Schema):
    count: int
    results: list[CaseOut]


class CaseListQuery(Strict):
    state: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=2**31 - 1)


@router.get("/cases", response={200: CaseListOut, **errors(400, 401, 422)}, tags=["cases"], summary="我可见的案件")
def list_cases(request, q: Query[CaseListQuery]):
    """Cases the caller may see, newest first; cases outside the caller's area are simply absent."""
    actor, _ = _actor(request, required=True)
    qs = selectors.case_list_for_actor(actor).select_related("suggested_unit", "reporter")
    if q.state:
        if q.state not in workflow.STATES:
            raise DomainError("bad_state", f"未知状态：{q.state}")
        qs = qs.filter(state=q.state)
    return CaseListOut(count=qs.count(), results=[_case_out(c, actor) for c in qs[q.offset: q.offset + q.limit]])


@router.get("/cases/{number}", response={200: CaseOut, **errors(401, 404)}, tags=["cases"],
            summary="案件详情（含事件）")
def get_case(request, number: str):
    """One case with its history, if the caller may see it (else 404)."""
    actor, _ = _actor(request, required=True)
    return _case_out(selectors.case_get_for_actor(actor, number), actor, with_events=True)


class ActionIn(Strict):
    reason: str | None = Field(None, max_length=500)
    note: str | None = Field(None, max_length=2000)
    unit: int | None = Field(None, description="派遣的专业单位编号")
    days: int | None = Field(None, ge=1, le=30, description="申请延期的工作日数")
    into: str | None = Field(None, max_length=20, description="合并到的案件编号")
    text: str | None = Field(None, max_length=2000)
    photos: list[int] | None = Field(None, max_length=6, description="处置后照片编号（先上传 kind=after）")
    rating: Literal["satisfied", "basically_satisfied", "dissatisfied"] | None = None


API_ACTIONS = tuple(a for a in workflow.ACTIONS if a not in ("report", "escalate"))


@router.post("/cases/{number}/actions/{action}",
             response={200: CaseOut, **errors(400, 401, 403, 404, 409, 422)},
             tags=["cases"], summary="办理：立案、派遣、签收、处置、核查、结案……")
def act_on_case(request, number: str, action: str, payload: ActionIn):
    """Take a workflow action. ``action`` is one of the table's actions (see docs/workflow.md)."""
    if action not in API_ACTIONS:
        raise DomainError("unknown_action", f"未知操作：{action}；可用：{', '.join(API_ACTIONS)}", status=404)
    actor, city = _actor(request, required=True)
    data = {k: v for k, v in payload.dict().items() if v is not None}
    case = services.case_act(city_id=city.pk, number=number, actor=actor, action=action, data=data)
    try:
        return _case_out(selectors.case_get_for_actor(actor, case.number), actor, with_events=True)
    except DomainError:
        # the action handed the case on (退回): answer with what changed, not with what is now out of sight
        return _case_out(case, None)


class SharesOut(Schema):
    closed: int
    closed_in_community: int
    closed_in_subdistrict: int
    community_share: float | None
    subdistrict_share: float | None


@router.get("/stats/levels", response={200: SharesOut, **errors(401, 403, 404)}, tags=["stats"],
            summary="小事不出社区、大事不出街道")
def level_shares(request, under: str | None = None):
    """Of closed cases (in the caller's area), the shares closed without leaving the community / sub-district."""
    actor, city = _actor(request, required=True)
    paths = area_paths(actor)
    if paths is None:
        raise DomainError("forbidden", "仅监管人员可查看", status=403)
    if under:
        unit = Unit.objects.filter(city=city, code=under).first()
        if unit is None:
            raise DomainError("unknown_unit", f"辖区单元 {under} 不存在", status=404)
        if not any(unit.path.startswith(p) for p in paths):
            raise DomainError("forbidden", "超出您的管辖范围", status=403)
        return selectors.level_shares(city.pk, under_path=unit.path)
    return selectors.level_shares(city.pk, under_paths=paths)
