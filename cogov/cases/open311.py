"""Open311 GeoReport v2 (开放诉求接口) under /open311/v2/: services, requests and tokens, in JSON and XML.

Endpoints (the format is the suffix, ``.json`` or ``.xml``; anything else is a 400)::

    GET  services.{fmt}                  the city's active categories
    GET  services/{service_code}.{fmt}   a service definition (attributes where a category needs them)
    GET  requests.{fmt}                  public cases: service_request_id, service_code, start_date, end_date, status
    POST requests.{fmt}                  file a case (form-encoded as the spec says; a JSON object body is accepted too)
    GET  requests/{id}.{fmt}             one public case (id = the case number)
    GET  tokens/{token}.{fmt}            the case a token stands for

Mapping decisions (GeoReport v2 ↔ cogov):

- ``service_code`` is the category code for a matter (事项, ``06010``) and ``C`` + the code for a component
  (部件, ``C01001``): the national table numbers both alike. If two active editions of a city share a code, the
  first in (edition, matters before components, code) order is the service; the other is not offered.
- ``jurisdiction_id`` is optional (one city per installation): absent, it is the default city
  (``COGOV_DEFAULT_CITY``); given, it must be a city's code (``3702``) or ``COGOV_OPEN311_JURISDICTION``
  (e.g. ``qingdao.gov.cn``, meaning the default city), else 404 as the spec says.
- ``status`` is ``closed`` for 已结案, 不予立案 and 已合并, ``open`` for every other state (挂账 too);
  ``status_notes`` names the state and the latest public step, never free text — except the reason a staff
  member gave for 不予立案. ``agency_responsible`` is the handling unit, else the station; ``expected_datetime``
  the handling deadline, else the first-response one (none once 不予立案/已合并); ``updated_datetime`` the close
  time of a closed case, else the case's last change. Dates are ISO 8601 in Beijing time (``+08:00``).
- Public output holds public cases only (``moderation == "ok"``) and never the reporter (name, phone, email,
  device): the Reporter row is not even read here.
- POST: ``api_key`` is required when ``COGOV_OPEN311_REQUIRE_KEY`` is set (production); an unknown key is a 403
  always. The city needs coordinates: ``lat`` and ``long`` (WGS-84) are required; ``address_string`` is kept
  as the address; ``address_id`` is not supported. ``account_id`` and ``media_url`` are accepted and ignored
  for now. A created public case answers with its ``service_request_id``; a case held for review answers with
  a ``token`` instead (the spec's batch answer), which turns into the id once the case is public.
- Errors are the spec's list of ``code``/``description``; ``code`` is the HTTP status: 400 bad input, 403
  api_key, 404 unknown service/request/token/jurisdiction, 405 wrong method.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import validate_email
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from cogov import clock
from cogov.cases import catalog, services, workflow
from cogov.cases.models import CATEGORY_KIND_CHOICES, Case, CaseEvent, Category
from cogov.errors import DomainError
from cogov.intake import idempotency, ratelimit
from cogov.intake.ratelimit import retry_after_headers
from cogov.geo.models import City

FORMATS = ("json", "xml")
#: The spec's default window and the most requests one answer holds ("servers may limit").
WINDOW = dt.timedelta(days=90)
DEFAULT_MAX_REQUESTS = 1000
MAX_DESCRIPTION = 4000
CLOSED_STATES = frozenset({"closed", "not_accepted", "merged"})
#: Steps of a case worth telling the public (comments, ratings, extension requests and escalation are internal).
PUBLIC_STEPS = ("report", "accept", "reject", "dispatch", "acknowledge", "return", "handle", "verify", "rework",
                "close", "approve_extension", "suspend", "resume", "merge", "reopen")
#: Whose written reasons may be shown: the centre's, never a reporter's.
STAFF_REASON_ROLES = frozenset(workflow.CENTRE)
#: XML 1.0 cannot carry these characters at all; they are dropped from XML output.
_XML_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Control characters refused in any input (NUL breaks PostgreSQL; the others have no place in a report).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,19}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: ``+08:00`` sent unencoded in a query string arrives as `` 08:00``.
_LOST_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")
#: Dates a filter may name (beyond them the database's conversions to UTC overflow).
_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)
#: For XML: the element of each item of a list-valued field.
_ITEM_TAGS = {"attributes": "attribute", "values": "value"}


class Open311Error(Exception):
    """An answer in the spec's error format: HTTP ``status`` and a description the user may read."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def as_list(self) -> list[dict]:
        """The body: the spec's list of errors (one here)."""
        return [{"code": self.status, "description": self.description}]


@dataclass(frozen=True)
class Attribute:
    """An extra field a service asks for (GeoReport service definition ``attribute``)."""

    code: str
    datatype: str  # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool
    description: str
    #: Short label written before the value into the case description.
    label: str
    datatype_description: str = ""
    values: tuple[tuple[str, str], ...] = ()
    max_length: int = 100
    #: For a list: the case urgency each key sets (the first chosen value decides).
    urgency: Mapping[str, str] = field(default_factory=dict)


SHOP_NAME = Attribute(
    code="shop_name", datatype="string", required=False, label="门店",
    description="门前五包责任商户的店名（招牌上的名称），便于服务站联系商户自律小组",
    datatype_description="不超过 50 个字", max_length=50,
)
SEVERITY = Attribute(
    code="severity", datatype="singlevaluelist", required=True, label="严重程度",
    description="路面下沉的严重程度，决定处置时限：严重按紧急、危险按特急办理",
    values=(("minor", "轻微：有下沉迹象"), ("serious", "严重：明显坑洼，影响通行"), ("dangerous", "危险：已塌陷，危及安全")),
    urgency={"minor": "normal", "serious": "urgent", "dangerous": "emergency"},
)
#: Service definitions as data: (edition, kind, code) → attributes, in the order shown to the user.
SERVICE_ATTRIBUTES: dict[tuple[str, str, str], tuple[Attribute, ...]] = {
    **{(catalog.CITY_EDITION, "matter", code): (SHOP_NAME,)
       for code in ("Q0101", "Q0102", "Q0103", "Q0104", "Q0105")},  # 门前五包
    (catalog.CITY_EDITION, "matter", "Q0203"): (SEVERITY,),  # 路面下沉
}


def service_code(category: Category) -> str:
    """The Open311 code of a category: the code of a matter, ``C`` + the code of a component."""
    return ("C" if category.kind == "component" else "") + category.code


def _service_q(*codes: str) -> Q:
    components = [c[1:] for c in codes if c.startswith("C") and len(c) > 1]
    return Q(kind="matter", code__in=codes) | Q(kind="component", code__in=components)


def _category_ids(city: City, codes: list[str]) -> list[int]:
    """Every category (active or not: old cases keep theirs) behind the service codes; 400 for an unknown code."""
    if len(codes) > 500:
        raise Open311Error(400, "service_code 至多 500 个（at most 500 service codes）")
    rows = Category.objects.filter(_service_q(*codes), city=city).values_list("id", "kind", "code")
    known = {("C" if kind == "component" else "") + code for _, kind, code in rows}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Open311Error(400, f"service_code {', '.join(u[:40] for u in unknown[:5])} 不存在（unknown service_code）")
    return [pk for pk, _, _ in rows]


def _attributes(category: Category) -> tuple[Attribute, ...]:
    return SERVICE_ATTRIBUTES.get((category.edition, category.kind, category.code), ())


def _media_url(case: Case) -> str:
    """The public photo of a case (photos come later: none yet)."""
    return ""


# --- rendering -----------------------------------------------------------------------------------------------


def _w3(at: dt.datetime | None) -> str | None:
    return at.astimezone(clock.LOCAL_TZ).isoformat(timespec="seconds") if at else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_ILLEGAL.sub("", str(value))


def _xml_element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_xml_element(k, v))
    elif isinstance(value, list):
        for item in value:
            el.append(_xml_element(_ITEM_TAGS.get(tag, "item"), item))
    else:
        el.text = _text(value)
    return el


def _render(fmt: str, status: int, body: Any, *, root: str, item: str | None = None) -> HttpResponse:
    """One answer: JSON as it is, XML under ``root`` (each list item an ``item`` element)."""
    if fmt == "json":
        return HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type="application/json; charset=utf-8")
    el = ET.Element(root)
    if isinstance(body, list):
        for entry in body:
            el.append(_xml_element(item or "item", entry))
    else:
        for k, v in body.items():
            el.append(_xml_element(k, v))
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(el, encoding="unicode")
    return HttpResponse(text.encode("utf-8"), status=status, content_type="text/xml; charset=utf-8")


def _errors(fmt: str, status: int, errors: list[dict]) -> HttpResponse:
    return _render(fmt, status, errors, root="errors", item="error")


def _error(fmt: str, status: int, description: str) -> HttpResponse:
    return _errors(fmt, status, Open311Error(status, description).as_list())


def _endpoint(*methods: str) -> Callable:
    """Format check, method check, and every error as the spec's error list (CSRF-exempt: machine clients)."""

    def wrap(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def inner(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            fmt = fmt.lower()
            if fmt not in FORMATS:
                return _error("xml", 400, f"不支持的格式 .{fmt}（format must be json or xml）")
            if request.method not in methods:
                resp = _error(fmt, 405, f"不支持 {request.method} 方法（method not allowed; use {', '.join(methods)}）")
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                return view(request, fmt, **kwargs)
            except Open311Error as exc:
                return _errors(fmt, exc.status, exc.as_list())
            except DomainError as exc:
                resp = _error(fmt, exc.status if exc.status in PASSED_THROUGH else 400, exc.message)
                for name, value in retry_after_headers(exc).items():
                    resp[name] = value
                return resp

        return inner

    return wrap


# --- parsing -------------------------------------------------------------------------------------------------


def _clean(name: str, value: str) -> str:
    if _CONTROL.search(name) or _CONTROL.search(value):
        raise Open311Error(400, f"参数 {_CONTROL.sub('?', name)} 含有控制字符（control characters are not allowed）")
    return value.strip()


def _query(request: HttpRequest) -> dict[str, str]:
    """The query string: a parameter given several times is one comma-separated list; empty is absent."""
    out = {}
    for key in request.GET:
        values = [_clean(key, v) for v in request.GET.getlist(key)]
        joined = ",".join(v for v in values if v)
        if joined:
            out[key] = joined
    return out


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _city(jurisdiction_id: str) -> City:
    """The city a request is about (see the module docstring)."""
    jid = jurisdiction_id.strip()
    configured = getattr(settings, "COGOV_OPEN311_JURISDICTION", "")
    if not jid or (configured and jid == configured):
        city = City.objects.filter(code=settings.COGOV_DEFAULT_CITY).first() or City.objects.order_by("id").first()
        if city is None:
            raise Open311Error(404, "平台尚未配置城市（no jurisdiction is configured）")
        return city
    city = City.objects.filter(code=jid[:12]).first() if len(jid) <= 12 else None
    if city is None:
        raise Open311Error(404, f"jurisdiction_id {jid[:60]} 不存在（jurisdiction_id provided was not found）")
    return city


def _category(city: City, code: str) -> Category:
    """The active category offered as service ``code`` (the same one the services list shows)."""
    category = (Category.objects.filter(_service_q(code), city=city, active=True)
                .order_by("edition", "-kind", "code").first())
    if category is None:
        raise Open311Error(404, f"service_code {code[:40]} 不存在（service_code provided was not found）")
    return category


def _parse_when(name: str, value: str, *, end: bool) -> dt.datetime:
    """A w3 date-time with a time zone, or a date (local midnight; as end_date: the whole day)."""
    v = _LOST_PLUS.sub(r"+\1", value.strip())
    try:
        if _DATE_ONLY.match(v):
            day = dt.date.fromisoformat(v)
            at = dt.datetime.combine(day, dt.time(), tzinfo=clock.LOCAL_TZ)
            if end:
                at += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        else:
            at = dt.datetime.fromisoformat(v)
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{name} 不是 ISO 8601 时间：{value[:40]}（use e.g. 2026-11-24T00:00:00+08:00）"
                           ) from None
    if at.tzinfo is None:
        raise Open311Error(400, f"{name} 缺少时区（{name} must include Z or an offset such as +08:00）")
    if not _EARLIEST <= at <= _LATEST:
        raise Open311Error(400, f"{name} 超出范围（date out of range: {_EARLIEST.year}–{_LATEST.year}）")
    return at


def _window(params: Mapping[str, str]) -> tuple[dt.datetime, dt.datetime | None]:
    """[start, end] of requested_datetime: the spec's default is the last 90 days, a range at most 90 days."""
    start = _parse_when("start_date", params["start_date"], end=False) if "start_date" in params else None
    end = _parse_when("end_date", params["end_date"], end=True) if "end_date" in params else None
    if start is None and end is None:
        return clock.now() - WINDOW, None
    if start is None:
        start = end - WINDOW
    elif end is None:
        end = start + WINDOW
    if start > end:
        raise Open311Error(400, "start_date 晚于 end_date（start_date is after end_date）")
    if end - start > WINDOW + dt.timedelta(days=1):  # a day of slack: plain dates count whole days
        raise Open311Error(400, "查询范围不能超过 90 天（start_date and end_date may not span more than 90 days）")
    return start, end


# --- output of services and requests -------------------------------------------------------------------------


def _service_out(c: Category) -> dict:
    kind = dict(CATEGORY_KIND_CHOICES).get(c.kind, c.kind)
    keywords = ", ".join(w for w in re.split(r"[\s,，、]+", c.keywords) if w)
    return {
        "service_code": service_code(c),
        "service_name": c.name,
        "description": f"{c.name}（{c.edition} {kind} {c.code}）",
        "metadata": bool(_attributes(c)),
        "type": "realtime",
        "keywords": keywords or None,
        "group": c.major_name or None,
    }


def _attribute_out(a: Attribute, order: int) -> dict:
    out: dict[str, Any] = {
        "variable": True,
        "code": a.code,
        "datatype": a.datatype,
        "required": a.required,
        "datatype_description": a.datatype_description or None,
        "order": order,
        "description": a.description,
    }
    if a.values:
        out["values"] = [{"key": k, "name": n} for k, n in a.values]
    return out


def _public_cases(city: City) -> QuerySet[Case]:
    """Cases the public may see: the city's, not held or rejected by moderation (the reporter is never joined)."""
    last_step = CaseEvent.objects.filter(case_id=OuterRef("pk"), action__in=PUBLIC_STEPS).order_by("-seq")
    return (
        Case.objects.filter(city=city, moderation="ok")
        .select_related("category", "handler_unit", "station", "community", "subdistrict", "district", "city")
        .annotate(last_step_id=Subquery(last_step.values("pk")[:1]))
    )


def _status_notes(case: Case, step: CaseEvent | None, public_numbers: set[str]) -> str:
    name = workflow.STATES.get(case.state, case.state)
    if case.state == "not_accepted":
        reason = ""
        if step is not None and step.action == "reject" and step.role in STAFF_REASON_ROLES:
            reason = str(step.data.get("reason") or "").strip()[:200]
        return f"{name}：{reason}" if reason else name
    if case.state == "merged":
        into = str(step.data.get("into_number") or "") if step is not None and step.action == "merge" else ""
        return f"{name}：与案件 {into} 合并处理" if into in public_numbers else name
    if step is None:
        return name
    at = step.at.astimezone(clock.LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    return f"{name}；最近进展：{workflow.ACTIONS.get(step.action, step.action)}（{at}）"


def _address(case: Case) -> str:
    if case.address:
        return case.address
    parts = [u.name for u in (case.community, case.subdistrict, case.district) if u is not None]
    return ", ".join(parts + [case.city.name])


def _request_out(case: Case, step: CaseEvent | None, public_numbers: set[str]) -> dict:
    if case.handler_unit_id:
        agency = case.handler_unit.name
    else:
        agency = case.station.name if case.station_id else ""
    expected = None
    if case.state not in workflow.TERMINAL:
        expected = case.handling_due or case.first_response_due
    updated = case.closed_at if case.state == "closed" and case.closed_at else case.updated_at
    return {
        "service_request_id": case.number,
        "status": "closed" if case.state in CLOSED_STATES else "open",
        "status_notes": _status_notes(case, step, public_numbers),
        "service_name": case.category.name,
        "service_code": service_code(case.category),
        "description": case.description or case.title or None,
        "agency_responsible": agency or None,
        "service_notice": None,
        "requested_datetime": _w3(case.reported_at),
        "updated_datetime": _w3(updated),
        "expected_datetime": _w3(expected),
        "address": _address(case),
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": _media_url(case) or None,
    }


def _requests_out(cases: list[Case], city: City) -> list[dict]:
    steps = CaseEvent.objects.in_bulk([c.last_step_id for c in cases if c.last_step_id])
    into = {str(s.data.get("into_number")) for s in steps.values() if s.action == "merge"}
    public = set(Case.objects.filter(city=city, moderation="ok", number__in=into).values_list("number", flat=True))
    return [_request_out(c, steps.get(c.last_step_id), public) for c in cases]


# --- views ---------------------------------------------------------------------------------------------------


@_endpoint("GET", "HEAD")
def services_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET services — the city's active categories (GB/T 47678.5-2026 and the city's extension)."""
    city = _city(_query(request).get("jurisdiction_id", ""))
    seen: dict[str, dict] = {}
    for c in Category.objects.filter(city=city, active=True).order_by("edition", "-kind", "code"):
        seen.setdefault(service_code(c), _service_out(c))
    return _render(fmt, 200, list(seen.values()), root="services", item="service")


@_endpoint("GET", "HEAD")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    """GET services/{code} — the attributes a service asks for (none for most)."""
    city = _city(_query(request).get("jurisdiction_id", ""))
    category = _category(city, code)
    body = {"service_code": service_code(category),
            "attributes": [_attribute_out(a, i) for i, a in enumerate(_attributes(category), start=1)]}
    return _render(fmt, 200, body, root="service_definition")


@_endpoint("GET", "HEAD", "POST")
def requests_endpoint(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET requests — public cases with the spec's filters; POST requests — file a case."""
    if request.method == "POST":
        return _post(request, fmt)
    params = _query(request)
    city = _city(params.get("jurisdiction_id", ""))
    limit = int(getattr(settings, "COGOV_OPEN311_MAX_REQUESTS", DEFAULT_MAX_REQUESTS))
    qs = _public_cases(city)
    if "service_request_id" in params:  # overrides all other arguments
        qs = qs.filter(number__in=[n[:40] for n in _csv(params["service_request_id"])[:limit]])
    else:
        if "service_code" in params:
            qs = qs.filter(category_id__in=_category_ids(city, _csv(params["service_code"])))
        if "status" in params:
            statuses = set(_csv(params["status"]))
            if not statuses <= {"open", "closed"}:
                raise Open311Error(400, "status 只能是 open 或 closed（status must be open or closed）")
            if statuses == {"open"}:
                qs = qs.exclude(state__in=CLOSED_STATES)
            elif statuses == {"closed"}:
                qs = qs.filter(state__in=CLOSED_STATES)
        start, end = _window(params)
        qs = qs.filter(reported_at__gte=start)
        if end is not None:
            qs = qs.filter(reported_at__lte=end)
    cases = list(qs.order_by("-reported_at", "-id")[:limit])
    return _render(fmt, 200, _requests_out(cases, city), root="service_requests", item="request")


@_endpoint("GET", "HEAD")
def request_detail(request: HttpRequest, fmt: str, number: str) -> HttpResponse:
    """GET requests/{id} — one public case by its number."""
    city = _city(_query(request).get("jurisdiction_id", ""))
    case = _public_cases(city).filter(number=number[:40]).first()
    if case is None:
        raise Open311Error(404, f"service_request_id {number[:40]} 不存在（service_request_id was not found）")
    return _render(fmt, 200, _requests_out([case], city), root="service_requests", item="request")


@_endpoint("GET", "HEAD")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """GET tokens/{token} — the case number behind a token; none yet while the case waits for review."""
    city = _city(_query(request).get("jurisdiction_id", ""))
    row = (Case.objects.filter(city=city, token=token[:40]).exclude(token="")
           .values("number", "moderation", "token").first())
    if row is None or row["moderation"] == "rejected":
        raise Open311Error(404, f"token {token[:40]} 不存在（token was not found）")
    number = row["number"] if row["moderation"] == "ok" else None
    return _render(fmt, 200, [{"service_request_id": number, "token": row["token"]}],
                   root="service_requests", item="request")


@csrf_exempt
def unknown_resource(request: HttpRequest, rest: str) -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the spec's format (JSON if the path ends in .json)."""
    fmt = "json" if rest.lower().endswith(".json") else "xml"
    return _error(fmt, 404, "没有这个资源（resource not found）")


# --- POST ----------------------------------------------------------------------------------------------------


def _post_fields(request: HttpRequest) -> dict[str, Any]:
    """The POST parameters: the body (form-encoded, multipart or a JSON object) over the query string.

    ``attribute[code]=v`` (and ``attribute[code][]=v`` for lists) become ``fields["attribute"][code]``.
    """
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}

    def put(key: str, values: list[Any]) -> None:
        if not isinstance(key, str):
            raise Open311Error(400, "参数名必须是字符串（parameter names must be strings）")
        cleaned = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise Open311Error(400, f"参数 {key[:40]} 必须是文本（{key[:40]} must be a string）")
            cleaned.append(_clean(key, str(v)))
        m = _ATTRIBUTE_KEY.match(key)
        if m:
            attributes[m.group(1)] = cleaned if m.group(2) else (cleaned[-1] if cleaned else "")
        elif cleaned and cleaned[-1]:
            fields[key] = cleaned[-1]

    try:
        if request.content_type == "application/json":
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise Open311Error(400, "JSON 请求体必须是对象（JSON body must be an object）")
            for key, value in body.items():
                if key == "attribute" and isinstance(value, dict):
                    for code, v in value.items():
                        put(f"attribute[{code}][]" if isinstance(v, list) else f"attribute[{code}]",
                            v if isinstance(v, list) else [v])
                elif value is not None:
                    put(key, [value])
        else:
            for key in request.POST:
                put(key, request.POST.getlist(key))
        body_attributes = set(attributes)
        for key in request.GET:
            m = _ATTRIBUTE_KEY.match(key)
            if key not in fields and not (m and m.group(1) in body_attributes):
                put(key, request.GET.getlist(key))
    except (ValueError, UnicodeDecodeError, MultiPartParserError, SuspiciousOperation):
        raise Open311Error(400, "请求体无法解析（the request body could not be parsed）") from None
    fields["attribute"] = attributes
    return fields


def _check_api_key(city: City, key: str) -> Any:
    """The API client of ``key``; 403 for an unknown key, and for none when keys are required."""
    from cogov.intake.models import ApiClient

    if not key:
        if getattr(settings, "COGOV_OPEN311_REQUIRE_KEY", False):
            raise Open311Error(403, "缺少 api_key（api_key was not provided）")
        return None
    client = None
    if len(key) <= 200:
        digest = hashlib.sha256(key.encode()).hexdigest()
        client = ApiClient.objects.filter(city=city, key_hash=digest, active=True).first()
    if client is None:
        raise Open311Error(403, "api_key 无效（invalid api_key received -- can't proceed with create_request）")
    return client


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise Open311Error(400, f"{name} 必须是数字（{name} must be a number）") from None
    if not math.isfinite(number):
        raise Open311Error(400, f"{name} 必须是有限数值（{name} must be finite）")
    return number


def _location(fields: Mapping[str, Any]) -> tuple[float, float]:
    lat, lon = fields.get("lat"), fields.get("long")
    if lat and lon:
        return _number("long", lon), _number("lat", lat)
    if lat or lon:
        raise Open311Error(400, "lat 与 long 必须同时提供（lat and long must both be sent）")
    if fields.get("address_id"):
        raise Open311Error(400, "不支持 address_id，请提供坐标 lat/long（address_id is not supported; send lat and long）")
    if fields.get("address_string"):
        raise Open311Error(400, "本市需要坐标：请提供 lat 与 long（WGS-84），address_string 仅作地址说明"
                                "（this city needs coordinates: send lat and long, WGS-84）")
    raise Open311Error(400, "缺少位置：请提供 lat 与 long（a location is required: lat and long）")


def _attribute_values(category: Category, given: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Check the attributes against the service definition: (urgency, lines for the description)."""
    known = {a.code: a for a in _attributes(category)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise Open311Error(400, f"服务 {service_code(category)} 没有这些属性：{', '.join(u[:40] for u in unknown)}"
                                f"（unknown attribute）")
    urgency, lines = "normal", []
    for a in known.values():
        raw = given.get(a.code)
        values = [v for v in ([raw] if isinstance(raw, str) else list(raw or [])) if v]
        if not values:
            if a.required:
                raise Open311Error(400, f"缺少必填属性 attribute[{a.code}]：{a.label}（attribute {a.code} is required）")
            continue
        if len(values) > 1 and a.datatype != "multivaluelist":
            raise Open311Error(400, f"属性 {a.code} 只能有一个值（attribute {a.code} takes one value）")
        if a.values:
            names = dict(a.values)
            bad = [v for v in values if v not in names]
            if bad:
                raise Open311Error(400, f"属性 {a.code} 的值只能是：{', '.join(names)}（invalid value for {a.code}）")
            shown = "、".join(names[v].split("：")[0] for v in values)
            if a.urgency:
                urgency = a.urgency.get(values[0], urgency)
        elif a.datatype == "number":
            shown = str(_number(f"attribute[{a.code}]", values[0]))
        else:
            if len(values[0]) > a.max_length:
                raise Open311Error(400, f"属性 {a.code} 太长（至多 {a.max_length} 字）")
            shown = values[0]
        lines.append(f"{a.label}：{shown}")
    return urgency, lines


def _contact(fields: Mapping[str, Any]) -> dict[str, str]:
    first, last = fields.get("first_name", ""), fields.get("last_name", "")
    name = f"{last}{first}" if _CJK.search(first + last) else f"{first} {last}".strip()
    phone, email, device = fields.get("phone", ""), fields.get("email", ""), fields.get("device_id", "")
    if len(name) > 50:
        raise Open311Error(400, "姓名太长（first_name + last_name: at most 50 characters）")
    if phone and not _PHONE.match(phone):
        raise Open311Error(400, "电话号码格式不对（phone: digits, at most 20 characters）")
    if email:
        try:
            if len(email) > 200:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            raise Open311Error(400, "邮箱格式不对（email is not a valid address）") from None
    if len(device) > 200:
        raise Open311Error(400, "device_id 太长（at most 200 characters）")
    return {"contact_name": name, "contact_phone": phone, "contact_email": email, "contact_device": device}


def _service_notice(case: Case) -> str:
    due = case.first_response_due.astimezone(clock.LOCAL_TZ).strftime("%Y-%m-%d %H:%M") \
        if case.first_response_due else ""
    if case.moderation != "ok":
        return "已收到，审核通过后公开并办理；请用 token 查询案件编号。"
    return f"已上报，案件编号 {case.number}；服务站将于 {due} 前响应。" if due else f"已上报，案件编号 {case.number}。"


def open311_post(request: HttpRequest, fields: dict[str, Any]) -> tuple[int, list[dict]]:
    """POST Service Request: file a case from parsed ``fields``; (HTTP status, the spec's answer or errors).

    Kept apart from parsing so that idempotency, rate limiting and moderation can wrap it.
    """
    try:
        city = _city(fields.get("jurisdiction_id", ""))
        _check_api_key(city, fields.get("api_key", ""))
        code = fields.get("service_code", "")
        if not code:
            raise Open311Error(400, "缺少 service_code（service_code was not provided）")
        category = _category(city, code)
        lon, lat = _location(fields)
        description = fields.get("description", "")
        if len(description) > MAX_DESCRIPTION:
            raise Open311Error(400, f"描述至多 {MAX_DESCRIPTION} 字（description: at most 4000 characters）")
        address = fields.get("address_string", "")
        if len(address) > 200:
            raise Open311Error(400, "address_string 至多 200 字（address_string: at most 200 characters）")
        urgency, lines = _attribute_values(category, fields.get("attribute") or {})
        if lines:
            description = "\n".join([description, *lines]) if description else "\n".join(lines)
        case = services.case_report(
            city=city, actor=None, category_id=category.pk, lon=lon, lat=lat, source="open311", title="",
            description=description, address=address, urgency=urgency, **_contact(fields),
        )
    except Open311Error as exc:
        return exc.status, exc.as_list()
    except DomainError as exc:
        status = 404 if exc.status == 404 else 400
        return status, Open311Error(status, exc.message).as_list()
    answer: dict[str, Any] = (
        {"service_request_id": case.number} if case.moderation == "ok" else {"token": case.token}
    )
    answer.update(service_notice=_service_notice(case), account_id=None)
    return 200, [answer]


def _post(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST with the public door's guards: rate limits (429 + Retry-After), then ``Idempotency-Key`` replay."""
    fields = _post_fields(request)
    city = _city(fields.get("jurisdiction_id", ""))
    ratelimit.enforce_public_limits(request, phone=fields.get("phone") or None)

    def produce() -> tuple[int, str, str, int | None]:
        status, body = open311_post(request, fields)
        resp = _errors(fmt, status, body) if status >= 400 else _render(fmt, status, body, root="service_requests",
                                                                       item="request")
        return status, resp.content.decode("utf-8"), resp["Content-Type"], None

    client = fields.get("api_key") or "anon"
    scope = f"open311:post:{fmt}:{hashlib.sha256(client.encode()).hexdigest()[:16]}"
    status, body, content_type, replayed = idempotency.idempotent(
        city_id=city.pk, scope=scope, key=request.headers.get("Idempotency-Key"),
        request_fingerprint=idempotency.fingerprint(fields), produce=produce,
    )
    resp = HttpResponse(body.encode("utf-8"), status=status, content_type=content_type)
    if replayed:
        resp["Idempotent-Replayed"] = "true"
    return resp


#: Domain errors whose status the spec's error list keeps (the rest are 400 "bad request").
PASSED_THROUGH = (404, 409, 413, 415, 422, 429)
_FMT = r"\.(?P<fmt>[A-Za-z0-9]+)$"
urlpatterns = [
    re_path(rf"^services{_FMT}", services_list, name="open311-services"),
    re_path(rf"^services/(?P<code>[A-Za-z0-9_-]+){_FMT}", service_definition, name="open311-service"),
    re_path(rf"^requests{_FMT}", requests_endpoint, name="open311-requests"),
    re_path(rf"^requests/(?P<number>[A-Za-z0-9_-]+){_FMT}", request_detail, name="open311-request"),
    re_path(rf"^tokens/(?P<token>[A-Za-z0-9_-]+){_FMT}", token_detail, name="open311-token"),
    re_path(r"^(?P<rest>.*)$", unknown_resource),
]
