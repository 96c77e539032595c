"""Pages: citizens (全民城管 · 点·靓) — report a problem in a minute, "already reported?", sign in with a mobile
number, my reports (timeline, rating, reopen), the public case list, map and case page, the city's boundaries.

Views parse, call a service or selector, render. Public pages never show a reporter's contact, and never a case
held for moderation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import secrets
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cogov import clock
from cogov.cases import deadlines, services, workflow
from cogov.cases import selectors as cases
from cogov.cases.suggest import suggest
from cogov.errors import DomainError
from cogov.geo import selectors as geo
from cogov.intake import idempotency, photos, ratelimit
from cogov.intake.models import IdempotencyRecord
from cogov.people import services as people
from cogov.web import display
from cogov.web.auth import actor_of, city_of

SESSION_REPORTS = "cogov_reports"
SESSION_DEVICE = "cogov_device"
SESSION_UPLOAD_TOKEN = "cogov_upload_token"
#: Which field of the report form a refusal of the services belongs next to.
FIELD_OF_CODE = {
    "bad_point": "point", "outside_city": "point", "unknown_category": "category", "bad_phone": "contact_phone",
}
NUMBER_RE = re.compile(r"[0-9A-Za-z-]{1,20}")
MY_ACTIONS = ("rate", "reopen", "verify", "rework")
RATING_CHOICES = display.RATING_CHOICES


def citizen_page(view):
    """Render the "no city configured yet" page instead of failing when the platform has no city."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except DomainError as err:
            if err.code != "no_city":
                raise
            if request.path.endswith(".json"):
                return JsonResponse(err.as_dict(), status=err.status, json_dumps_params={"ensure_ascii": False})
            return render(request, "web/citizen/no_city.html", {"message": err.message}, status=err.status)

    return wrapped


def _device_key(request) -> str:
    """A random key of this browser session (anonymous follows are counted once per device)."""
    key = request.session.get(SESSION_DEVICE)
    if not key:
        key = request.session[SESSION_DEVICE] = secrets.token_urlsafe(18)
    return key


def _session_numbers(request) -> list[str]:
    return [str(n) for n in request.session.get(SESSION_REPORTS, [])]


def _remember_report(request, number: str) -> None:
    numbers = [n for n in _session_numbers(request) if n != number]
    request.session[SESSION_REPORTS] = ([number] + numbers)[:50]


def _number(number: str) -> str:
    """A case number from the path; anything that cannot be one is simply not found."""
    if not NUMBER_RE.fullmatch(number or ""):
        raise Http404(_("案件不存在"))
    return number


def _person_id(request) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def _float(value) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value) -> int | None:
    """A database id from a form field (None when it is not one)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


# --- Home ----------------------------------------------------------------------------------------------------


@require_GET
@citizen_page
def home(request):
    """首页 — what the platform is, the big report button, the public cases and my reports."""
    city = city_of(request)
    return render(request, "web/citizen/home.html", {
        "closed_recent": cases.cases_closed_recent_count(city.pk, days=30),
        "open_count": cases.cases_public(city.pk, status="open").count(),
    })


# --- Report ----------------------------------------------------------------------------------------------------


def _category_groups(categories) -> list[tuple[str, list]]:
    """The select's option groups: matters (what people report) by major class, then components."""
    groups: dict[tuple[int, str], list] = {}
    for c in categories:
        label = (c.major_name or c.major_code or _("其他")) + (_("（部件）") if c.kind == "component" else "")
        groups.setdefault((0 if c.kind == "matter" else 1, label), []).append(c)
    return [(label, items) for (_, label), items in sorted(groups.items(), key=lambda kv: kv[0][0])]


def _report_context(request, city, values: dict, errors: dict) -> dict:
    categories = list(cases.category_list(city.pk))
    return {
        "values": values,
        "errors": errors,
        "category_groups": _category_groups(categories),
        "bbox": json.dumps([city.min_lon, city.min_lat, city.max_lon, city.max_lat])
        if city.min_lon is not None else "",
        "max_photos": photos.PhotoLimits.from_settings().max_count,
        "signed_in": _person_id(request) is not None,
    }


def _render_report(request, city, values: dict, errors: dict, status: int = 200):
    values = {**values, "form_key": secrets.token_urlsafe(18)}  # a fresh key for the next attempt
    return render(request, "web/citizen/report.html", _report_context(request, city, values, errors),
                  status=status)


@require_http_methods(["GET", "POST"])
@citizen_page
def report(request):
    """我要上报 — photos, the place (GPS or a pin), the category (with suggestions), a description, a phone."""
    city = city_of(request)
    if request.method == "GET":
        values = {"category": request.GET.get("category", ""), "lon": "", "lat": "", "description": "",
                  "address": "", "contact_phone": "", "kept_photos": []}
        return _render_report(request, city, values, {})
    return _report_post(request, city)


def _report_post(request, city):
    actor = actor_of(request)
    post = request.POST
    values = {k: post.get(k, "").strip() for k in ("category", "lon", "lat", "description", "address",
                                                    "contact_phone")}
    values["description"] = post.get("description", "")
    kept = [i for i in (_int(v) for v in post.getlist("kept_photo")) if i is not None][:12]
    values["kept_photos"] = kept
    errors: dict[str, str] = {}

    try:  # the same per-address (and per-phone) limits as the JSON API, before anything is written
        ratelimit.enforce_public_limits(request, phone=values["contact_phone"] or None)
    except DomainError as err:
        errors["form"] = err.message
        response = _render_report(request, city, values, errors, status=err.status)
        for header, value in ratelimit.retry_after_headers(err).items():
            response[header] = value
        return response

    category_id = _int(values["category"])
    if category_id is None:
        errors["category"] = _("请选择问题类别")
    lon, lat = _float(values["lon"]), _float(values["lat"])
    if not values["lon"] and not values["lat"]:
        errors["point"] = _("请选择位置：点“使用我的位置”、在地图上点选，或填写经纬度")
    elif lon is None or lat is None:
        errors["point"] = _("经纬度必须是数字，例如 经度 120.38、纬度 36.07")
    phone = ""
    if values["contact_phone"]:
        try:
            phone = people.phone_normalize(values["contact_phone"])
        except DomainError as err:
            errors["contact_phone"] = err.message

    # photos first: stored even when something else is wrong, so the citizen need not pick them again
    person_id = actor.person_id if actor else None
    token = ""
    if person_id is None:
        token = request.session.get(SESSION_UPLOAD_TOKEN) or secrets.token_urlsafe(24)
        request.session[SESSION_UPLOAD_TOKEN] = token
    scope = f"web:report:person:{person_id}" if person_id else "web:report:anon"
    form_key = post.get("form_key", "").strip()
    form_key = form_key if idempotency.KEY_RE.fullmatch(form_key) else None  # a mangled key: no key
    files = request.FILES.getlist("photos")
    limits = photos.PhotoLimits.from_settings()
    contents: list[bytes] = []
    try:
        if len(files) + len(kept) > limits.max_count:
            raise photos.PhotoError("photo_too_many", _("最多 %(n)d 张照片") % {"n": limits.max_count})
        for i, f in enumerate(files):
            if f.size is not None and f.size > limits.max_bytes:  # refused before it is read into memory
                raise photos.PhotoError(
                    "photo_too_large",
                    _("第 %(i)d 张照片超过 %(mb)d MB") % {"i": i + 1, "mb": limits.max_bytes // (1024 * 1024)})
            contents.append(f.read())
    except photos.PhotoError as err:
        errors["photos"] = err.message
    digests = sorted(hashlib.sha256(c).hexdigest() for c in contents)
    fingerprint = idempotency.fingerprint({
        "category": category_id, "lon": lon, "lat": lat, "description": values["description"],
        "address": values["address"], "phone": phone, "photos": digests, "kept": sorted(kept),
    })
    # a second tap of the same form is answered from the first: its photos are not stored twice
    repeated = bool(form_key) and IdempotencyRecord.objects.filter(city_id=city.pk, scope=scope,
                                                                   key=form_key).exists()
    if contents and not errors.get("photos") and not repeated:
        try:
            rows = photos.store_photos(city_id=city.pk, files=contents, kind="report", uploaded_by_id=person_id,
                                       upload_token=token)
            kept = list(dict.fromkeys(kept + [a.pk for a in rows]))
            values["kept_photos"] = kept
        except photos.PhotoError as err:
            errors["photos"] = err.message
    if errors:
        return _render_report(request, city, values, errors, status=400)

    def produce():
        case = services.case_report(
            city=city, actor=actor, category_id=category_id, lon=lon, lat=lat, source="citizen", role="citizen",
            description=values["description"], address=values["address"], contact_phone=phone,
            contact_device=f"web:{_device_key(request)}", photo_ids=kept, upload_token=token,
        )
        return 201, case.number, "text/plain; charset=utf-8", case.pk

    try:
        _status, number, _ct, _replayed = idempotency.idempotent(
            city_id=city.pk, scope=scope, key=form_key, request_fingerprint=fingerprint, produce=produce,
            render_error=lambda exc: None,  # a refusal is not remembered: the citizen corrects and sends again
        )
    except DomainError as err:
        field = FIELD_OF_CODE.get(err.code)
        if err.code.startswith("photo_"):
            field = "photos"
        elif err.code == "text_too_long":
            field = err.detail.get("field") if err.detail.get("field") in ("description", "address") else "form"
        errors[field or "form"] = err.message
        return _render_report(request, city, values, errors, status=err.status)
    _remember_report(request, number)
    return redirect("citizen-report-done", number=number)


@require_GET
@citizen_page
def report_done(request, number: str):
    """上报成功 — the case number and where to follow it."""
    number = _number(number)
    city = city_of(request)
    if number not in _session_numbers(request):
        raise Http404(_("没有找到这次上报"))
    case = cases.cases_of_citizen(city.pk, person_id=None, numbers=[number])
    if not case:
        raise Http404(_("没有找到这次上报"))
    return render(request, "web/citizen/report_done.html", {"case": case[0]})


@require_POST
@citizen_page
def report_suggest(request):
    """HTMX: the three categories the description most likely means, as buttons."""
    city = city_of(request)
    text = request.POST.get("description", "")[:2000]
    categories = {c.pk: c for c in cases.category_list(city.pk).only("id", "name", "keywords", "kind",
                                                                      "major_name")}
    found: list = []
    if text.strip():
        # the city's trained model when one is configured (COGOV_INSIGHT_MODEL), else the keyword rules
        from cogov.insight.classify import suggest_categories

        found = [m for m in suggest_categories(text, city_id=city.pk, top=3) if m.category_id in categories]
        found = found or suggest(text, categories.values(), limit=3)
    items = [{"category": categories[s.category_id], "words": s.words} for s in found]
    return render(request, "web/citizen/_suggestions.html", {"items": items, "text": text.strip()})


def _followed_ids(request, case_ids) -> set[int]:
    return cases.case_ids_followed(case_ids, person_id=_person_id(request),
                                   device_key=request.session.get(SESSION_DEVICE, ""))


@require_GET
@citizen_page
def report_nearby(request):
    """HTMX: open public cases of the chosen category within ~200 m — follow one instead of reporting again."""
    city = city_of(request)
    lon, lat = _float(request.GET.get("lon")), _float(request.GET.get("lat"))
    category_id = _int(request.GET.get("category"))
    near: list = []
    if lon is not None and lat is not None and category_id is not None:
        near = cases.cases_open_nearby(city.pk, lon, lat, category_id, settings.COGOV_NEARBY_RADIUS_M)
    followed = _followed_ids(request, [c.pk for c, _d in near])
    items = [{"case": c, "distance": round(d), "followed": c.pk in followed} for c, d in near]
    return render(request, "web/citizen/_nearby.html", {"items": items, "asked": category_id is not None
                                                        and lon is not None and lat is not None})


# --- Following a case -----------------------------------------------------------------------------------------


@require_POST
@citizen_page
def case_follow(request, number: str):
    """我也遇到了（关注）— HTMX answers the follow box; a plain form goes back to the case page."""
    number = _number(number)
    city = city_of(request)
    message = ""
    try:
        case = cases.case_public_get(city.pk, number)
        if number in _session_numbers(request):
            raise DomainError("own_case", _("这是您自己上报的案件，无需关注"), status=409)
        services.case_follow(case_id=case.pk, person_id=_person_id(request), device_key=_device_key(request))
    except DomainError as err:
        if err.status == 404:
            raise Http404(err.message) from None
        message = err.message
        case = cases.case_public_get(city.pk, number)
    if request.headers.get("HX-Request"):
        return render(request, "web/citizen/_follow.html", {
            "case": case, "follow_count": cases.case_follow_count(case.pk), "followed": not message,
            "message": message})
    if message:
        messages.error(request, message)
    else:
        messages.success(request, _("已关注：处理进展会在案件页公开"))
    return redirect("citizen-case", number=number)


# --- Phone sign-in ------------------------------------------------------------------------------------------------


def _safe_next(request, default: str = "/my/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return default


@require_http_methods(["GET", "POST"])
@citizen_page
def phone_login(request):
    """手机号登录 — a 6-digit code by text message; the citizen's own account is found or made."""
    city = city_of(request)
    ctx = {"phone": "", "step": "phone", "errors": {}, "next": _safe_next(request)}
    if request.method == "GET":
        return render(request, "web/citizen/phone_login.html", ctx)
    ctx["phone"] = request.POST.get("phone", "").strip()[:30]
    status = 200
    if request.POST.get("step") == "code":
        ctx["step"] = "code"
        try:
            person = people.phone_code_verify(city=city, phone=ctx["phone"], code=request.POST.get("code", ""))
        except DomainError as err:
            ctx["errors"]["code"] = err.message
            if err.code == "bad_phone":
                ctx["step"] = "phone"
                ctx["errors"] = {"phone": err.message}
            return render(request, "web/citizen/phone_login.html", ctx, status=err.status)
        login(request, person, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("已登录。以后上报的案件会记在您的名下，可以评价和核查。"))
        return redirect(ctx["next"])
    try:
        ratelimit.enforce_public_limits(request, phone=None)
        expires = people.phone_code_send(city=city, phone=ctx["phone"])
    except DomainError as err:
        ctx["errors"]["phone"] = err.message
        response = render(request, "web/citizen/phone_login.html", ctx, status=err.status)
        for header, value in ratelimit.retry_after_headers(err).items():
            response[header] = value
        return response
    ctx.update(step="code", phone=people.phone_normalize(ctx["phone"]), expires=expires)
    return render(request, "web/citizen/phone_login.html", ctx, status=status)


# --- My reports ---------------------------------------------------------------------------------------------


def _lights(case, timeline: list[dict], now: dt.datetime) -> list[dict]:
    """The running deadlines of an open case, each with its traffic light."""
    out = []

    def last(*actions):
        return next((e["at"] for e in reversed(timeline) if e["action"] in actions), case.reported_at)

    if case.state in ("reported", "accepted") and case.first_response_due:
        start = last("report", "dispatch", "return", "resume", "reopen")
        out.append({"label": _("响应时限"), "due": case.first_response_due,
                    "light": deadlines.traffic_light(min(start, case.first_response_due), case.first_response_due,
                                                     now)})
    if case.state in ("dispatched", "acknowledged") and case.handling_due:
        start = last("dispatch")
        out.append({"label": _("处置时限"), "due": case.handling_due,
                    "light": deadlines.traffic_light(min(start, case.handling_due), case.handling_due, now)})
    return out


def _my_item(case, person_id: int | None, now: dt.datetime) -> dict:
    timeline = display.public_timeline_labels(cases.case_public_timeline(case, with_notes=True))
    mine = person_id is not None and case.reported_by_id == person_id
    verifiers = workflow.verifier_roles(reporter_verifies=case.category.reporter_verifies,
                                        reporter_has_account=bool(case.reported_by_id))
    reopen_until = (case.closed_at + dt.timedelta(days=settings.COGOV_REOPEN_DAYS)) if case.closed_at else None
    return {
        "case": case,
        "mine": mine,
        "timeline": timeline,
        "lights": _lights(case, timeline, now),
        "photos": cases.case_public_photos(case) if case.moderation == "ok" else {"report": [], "after": []},
        "can_rate": mine and case.state == "closed" and not case.rating,
        "rating_name": display.rating_name(case.rating) if case.rating else "",
        "can_reopen": mine and case.state == "closed" and reopen_until is not None and now <= reopen_until,
        "reopen_until": reopen_until,
        "can_verify": mine and case.state == "handled" and "reporter" in verifiers,
        "state_name": display.state_name(case.state),
    }


def _render_my(request, city, *, errors: dict | None = None, values: dict | None = None, status: int = 200):
    person_id = _person_id(request)
    now = clock.now()
    found = cases.cases_of_citizen(city.pk, person_id=person_id, numbers=_session_numbers(request))
    errors, values = errors or {}, values or {}
    items = [_my_item(c, person_id, now) for c in found]
    for it in items:  # a refused action shows its message and the text typed next to its own form
        it["error"] = errors.get(it["case"].number)
        it["typed"] = values.get(it["case"].number, {}) if it["error"] else {}
    listed = {it["case"].number for it in items}
    page_errors = [e["message"] for n, e in errors.items() if n not in listed]
    return render(request, "web/citizen/my.html", {
        "items": items, "page_errors": page_errors, "signed_in": person_id is not None,
        "rating_choices": RATING_CHOICES, "reopen_days": settings.COGOV_REOPEN_DAYS,
    }, status=status)


@require_GET
@citizen_page
def my_reports(request):
    """我的上报 — the signed-in citizen's reports and this browser's anonymous ones, with their progress."""
    return _render_my(request, city_of(request))


@require_POST
@citizen_page
def my_act(request, number: str, action: str):
    """Rate (评价), reopen (重新打开), verify (核查通过) or send back (返工) one of my own cases."""
    number = _number(number)
    city = city_of(request)
    if action not in MY_ACTIONS:
        raise Http404(_("未知操作"))
    actor = actor_of(request)
    values = {number: {k: request.POST.get(k, "").strip() for k in ("rating", "reason", "note")}}
    if actor is None or actor.person_id is None:
        return redirect(f"/login/phone/?next=/my/%23case-{number}")
    data = {k: v for k, v in values[number].items() if v and k in services.ACTION_FIELDS[action]}
    try:
        own = cases.cases_of_citizen(city.pk, person_id=actor.person_id, numbers=[])
        if not any(c.number == number and c.reported_by_id == actor.person_id for c in own):
            raise DomainError("case_not_found", _("案件 %(n)s 不存在或不是您上报的") % {"n": number}, status=404)
        services.case_act(city_id=city.pk, number=number, actor=actor, action=action, data=data)
    except DomainError as err:
        return _render_my(request, city, errors={number: {"action": action, "message": err.message}},
                          values=values, status=err.status)
    done = {"rate": _("感谢评价"), "reopen": _("案件已重新打开，服务站会重新办理"),
            "verify": _("已确认处理结果"), "rework": _("已退回返工")}[action]
    messages.success(request, f"{number}：{done}")
    return redirect(f"/my/#case-{number}")


# --- Public cases -------------------------------------------------------------------------------------------------


def _public_filters(request, city) -> tuple[dict, dict]:
    """The filters of the public list and map: (the values as typed, the selector's arguments)."""
    typed = {k: request.GET.get(k, "").strip() for k in ("category", "status", "district")}
    args = {"category_id": _int(typed["category"]),
            "status": typed["status"] if typed["status"] in cases.PUBLIC_STATUS else None,
            "district_id": _int(typed["district"])}
    return typed, args


def _filter_context(city, typed: dict) -> dict:
    categories = list(cases.category_list(city.pk).only("id", "code", "name", "kind", "major_name", "major_code"))
    return {"filters": typed, "category_groups": _category_groups(categories),
            "districts": geo.units_of_kind(city.pk, "district"),
            "status_choices": [("", _("全部")), ("open", _("办理中")), ("closed", _("已结案"))]}


def _light_of(case, now: dt.datetime) -> str:
    if case.state == "closed":
        return "closed"
    if case.state not in cases.PUBLIC_STATUS["open"]:
        return "other"
    due = case.handling_due or case.first_response_due
    start = case.dispatched_at if case.handling_due and case.dispatched_at else case.reported_at
    if due is None:
        return "green"
    return deadlines.traffic_light(min(start, due), due, now)


@require_GET
@citizen_page
def public_list(request):
    """案件公开 — every publicly shown case, filtered by category, status and district, page by page."""
    city = city_of(request)
    typed, args = _public_filters(request, city)
    page = Paginator(cases.cases_public(city.pk, **args), settings.COGOV_PUBLIC_PAGE_SIZE).get_page(
        request.GET.get("page"))
    now = clock.now()
    rows = [{"case": c, "state_name": display.state_name(c.state), "light": _light_of(c, now)}
            for c in page.object_list]
    query = "&".join(f"{k}={v}" for k, v in typed.items() if v)
    return render(request, "web/citizen/public_list.html", {
        "page": page, "rows": rows, "query": query, **_filter_context(city, typed)})


@require_GET
@citizen_page
def public_map(request):
    """案件地图 — the same filters on the city's own map."""
    city = city_of(request)
    typed, _args = _public_filters(request, city)
    query = "&".join(f"{k}={v}" for k, v in typed.items() if v)
    return render(request, "web/citizen/public_map.html", {
        "query": query, "bbox": json.dumps([city.min_lon, city.min_lat, city.max_lon, city.max_lat])
        if city.min_lon is not None else "", **_filter_context(city, typed)})


@require_GET
@citizen_page
def public_map_data(request):
    """The map's points: place, number and category, state and light, the case page — nothing about reporters."""
    city = city_of(request)
    _typed, args = _public_filters(request, city)
    now = clock.now()
    limit = 1000
    rows = list(cases.cases_public(city.pk, **args)[:limit])
    points = [{"lon": round(c.lon, 6), "lat": round(c.lat, 6),
               "label": f"{c.number} {c.category.name} · {display.state_name(c.state)}",
               "url": f"/cases/{c.number}/", "light": _light_of(c, now)} for c in rows]
    return JsonResponse({"points": points, "truncated": len(rows) >= limit},
                        json_dumps_params={"ensure_ascii": False})


@require_GET
@citizen_page
def public_case(request, number: str):
    """公开案件页 — shareable: what, where, the progress by unit, the photos, how many met it too."""
    number = _number(number)
    city = city_of(request)
    try:
        case = cases.case_public_get(city.pk, number)
    except DomainError as err:
        return render(request, "web/citizen/not_found.html", {"message": err.message}, status=404)
    followed = bool(_followed_ids(request, [case.pk]))
    light = _light_of(case, clock.now())
    person_id = _person_id(request)
    mine = case.number in _session_numbers(request) or (person_id is not None and case.reported_by_id == person_id)
    return render(request, "web/citizen/public_case.html", {
        "case": case, "state_name": display.state_name(case.state),
        "timeline": display.public_timeline_labels(cases.case_public_timeline(case)), "photos": cases.case_public_photos(case),
        "follow_count": cases.case_follow_count(case.pk), "followed": followed,
        "open_case": case.state in services.FOLLOWABLE_STATES,
        "followable": case.state in services.FOLLOWABLE_STATES and not mine,
        "mine": mine,
        "light": light,
        "points": [{"lon": case.lon, "lat": case.lat, "label": f"{case.number} {case.category.name}", "url": "",
                    "light": light}],
    })


# --- The city's boundaries --------------------------------------------------------------------------------------


@require_GET
@citizen_page
def boundaries(request):
    """``/geo/boundaries.json?kind=district|subdistrict|community`` — GeoJSON of the city's own units."""
    city = city_of(request)
    kind = request.GET.get("kind", "district")
    if kind not in geo.BOUNDARY_KINDS:
        return JsonResponse({"code": "bad_kind", "message": _("kind 只能是 %(kinds)s") % {"kinds": "、".join(geo.BOUNDARY_KINDS)}},
                            status=400, json_dumps_params={"ensure_ascii": False})
    body = json.dumps(geo.boundaries_geojson(city.pk, kind), ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body, content_type="application/geo+json; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response

urlpatterns = [
    path("", home, name="citizen-home"),
    path("report/", report, name="citizen-report"),
    path("report/suggest/", report_suggest, name="citizen-report-suggest"),
    path("report/nearby/", report_nearby, name="citizen-report-nearby"),
    path("report/done/<str:number>/", report_done, name="citizen-report-done"),
    path("login/phone/", phone_login, name="citizen-phone-login"),
    path("my/", my_reports, name="citizen-my"),
    path("my/<str:number>/<str:action>/", my_act, name="citizen-my-act"),
    path("cases/", public_list, name="citizen-cases"),
    path("cases/map/", public_map, name="citizen-map"),
    path("cases/map.json", public_map_data, name="citizen-map-data"),
    path("cases/<str:number>/", public_case, name="citizen-case"),
    path("cases/<str:number>/follow/", case_follow, name="citizen-case-follow"),
    path("geo/boundaries.json", boundaries, name="geo-boundaries"),
]
