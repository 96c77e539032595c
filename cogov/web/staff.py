"""Staff pages (工作人员): the landing ``/work/``, the case page and the one action endpoint every staff page posts to.

The case page shows a case to staff in scope (``selectors.case_get_for_actor``: a case outside the area is the same
404 as a missing number) with the reporter's contact, the photos (originals for staff), the routing suggestion and
its reasons, the deadlines with their traffic light, the timeline, and a form for each action this person may take
now (``selectors.case_actions_for``). ``POST /work/cases/<number>/act/<action>`` takes the form fields of the JSON
API's ``ActionIn`` (and photo files for ``handle``), calls ``services.case_act``, and:

* on success redirects to ``next`` (a local URL) or the case page with a message (已派遣 …); an HTMX request gets
  the refreshed fragment instead: ``fragment=case`` (default) the case panel, ``fragment=channel`` a station
  channel item's action block;
* on a ``DomainError`` re-renders the form with the message next to its field and the typed values kept, with the
  error's status (400/403/404/409; 413/415 for a refused photo) — never a 500.

Photos go with ``handle`` only (处置后照片): ``case_act``'s ``comment`` takes ``text`` alone, so a comment carries
no photo; progress pictures are attached when the crew marks the case handled.
"""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from cogov import clock
from cogov.cases import deadlines, selectors, services, workflow
from cogov.cases.models import Case
from cogov.errors import DomainError
from cogov.geo import selectors as geo
from cogov.geo.models import KINDS
from cogov.intake.photos import PhotoError, PhotoLimits, store_photos
from cogov.people.permissions import HEAD_ROLES, STAFF_ROLES, UNIT_ROLES, Actor, roles_on_case
from cogov.web.auth import actor_of, staff_required
from cogov.web.display import light_name
from cogov.web.display import role_name as display_role_name

ACTION_LABELS = {
    "accept": _("立案"),
    "reject": _("不予立案"),
    "dispatch": _("派遣"),
    "acknowledge": _("签收（第一时间应答）"),
    "return": _("退回"),
    "handle": _("处置完毕"),
    "verify": _("核查通过"),
    "rework": _("返工"),
    "close": _("结案"),
    "request_extension": _("申请延期"),
    "approve_extension": _("批准延期"),
    "refuse_extension": _("驳回延期"),
    "suspend": _("挂账"),
    "resume": _("恢复办理"),
    "merge": _("合并"),
    "reopen": _("重新打开"),
    "comment": _("留言"),
    "rate": _("评价"),
}
#: The timeline's words for what happened.
EVENT_LABELS = {**ACTION_LABELS, "report": _("上报"), "acknowledge": _("签收"), "handle": _("处置"),
                "escalate": _("升级")}
DONE_MESSAGES = {
    "accept": _("已立案"),
    "reject": _("已不予立案"),
    "dispatch": _("已派遣"),
    "acknowledge": _("已签收"),
    "return": _("已退回"),
    "handle": _("已处置"),
    "verify": _("已核查"),
    "rework": _("已返工"),
    "close": _("已结案"),
    "request_extension": _("已申请延期"),
    "approve_extension": _("已批准延期"),
    "refuse_extension": _("已驳回延期"),
    "suspend": _("已挂账"),
    "resume": _("已恢复办理"),
    "merge": _("已合并"),
    "reopen": _("已重新打开"),
    "comment": _("已留言"),
    "rate": _("已评价"),
}
STATE_LABELS = {
    "reported": _("已上报"),
    "not_accepted": _("不予立案"),
    "accepted": _("已立案"),
    "dispatched": _("已派遣"),
    "acknowledged": _("处置中"),
    "handled": _("已处置"),
    "verified": _("已核查"),
    "closed": _("已结案"),
    "suspended": _("已挂账"),
    "merged": _("已合并"),
}
LEVEL_LABELS = {"community": _("社区"), "subdistrict": _("街道"), "district": _("区")}
RATING_LABELS = {"satisfied": _("满意"), "basically_satisfied": _("基本满意"), "dissatisfied": _("不满意")}
FIELD_LABELS = {
    "unit": _("专业单位"),
    "into": _("合并到（案件编号）"),
    "days": _("延期工作日数"),
    "rating": _("评价"),
    "text": _("留言"),
    "note": _("说明"),
    "reason": _("理由"),
    "photos": _("处置后照片"),
}
FIELD_ORDER = ("unit", "into", "days", "rating", "text", "note", "reason", "photos")
#: Longest values, as the JSON API's ActionIn allows them.
MAX_LENGTHS = {"reason": 500, "note": 2000, "text": 2000, "into": 20}
#: The actions the pages offer (the JSON API's list: everything but report and escalate).
PAGE_ACTIONS = tuple(a for a in services.ACTION_FIELDS if a not in selectors.PAGE_HIDDEN_ACTIONS)
#: Which field a domain error belongs next to, when its detail does not name one.
ERROR_FIELDS = {"unknown_case": "into", "bad_merge_target": "into", "unknown_unit": "unit", "bad_days": "days",
                "override_needs_reason": "reason", "bad_rating": "rating", "photo_not_found": "photos",
                "photo_too_many": "photos"}


def _required(action: str) -> set[str]:
    return {f for t in workflow.TABLE if t.action == action for f in t.required}


def action_fields(action: str) -> list[str]:
    """The form fields of ``action`` in display order (those ``case_act`` accepts)."""
    accepted = services.ACTION_FIELDS.get(action, set())
    return [f for f in FIELD_ORDER if f in accepted]


@dataclasses.dataclass
class FormField:
    """One field of an action form, with what the person typed and the error next to it."""

    name: str
    label: str
    kind: str
    dom_id: str = ""
    required: bool = False
    value: str = ""
    error: str = ""
    help: str = ""
    choices: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ActionForm:
    """A form for one action on one case."""

    action: str
    label: str
    fields: list[FormField]
    error: str = ""
    multipart: bool = False

    @property
    def one_click(self) -> bool:
        """No field must be filled: a single button does (optional fields fold away)."""
        return not any(f.required for f in self.fields)

    @property
    def has_errors(self) -> bool:
        """Whether this form came back with an error."""
        return bool(self.error or any(f.error for f in self.fields))


@dataclasses.dataclass
class Failed:
    """A refused submission: the action, the values typed, the errors by field and the message."""

    action: str
    values: dict
    errors: dict
    error: str = ""
    status: int = 400


def build_form(case: Case, action: str, *, failed: Failed | None = None, units=None) -> ActionForm:
    """The form of ``action`` on ``case``; with ``failed``, the values and errors of the refused submission."""
    mine = failed if failed is not None and failed.action == action else None
    values = mine.values if mine else {}
    errors = mine.errors if mine else {}
    required = _required(action)
    fields = []
    for name in action_fields(action):
        f = FormField(name=name, label=str(FIELD_LABELS[name]), kind="text", dom_id=f"f-{case.number}-{action}-{name}",
                      required=name in required,
                      value=str(values.get(name, "") or ""), error=errors.get(name, ""))
        if name == "unit":
            f.kind = "select"
            chosen = f.value or (str(case.suggested_unit_id) if case.suggested_unit_id else "")
            units = units if units is not None else selectors.dispatch_unit_choices(case)
            recommended = _t("%(unit)s（推荐）")
            f.choices = [(str(u.pk), recommended % {"unit": u.name} if u.pk == case.suggested_unit_id else u.name,
                          str(u.pk) == chosen) for u in units]
        elif name == "rating":
            f.kind = "select"
            f.choices = [(k, str(v), f.value == k) for k, v in RATING_LABELS.items()]
        elif name == "days":
            f.kind = "number"
        elif name in ("text", "note"):
            f.kind = "textarea"
        elif name == "photos":
            f.kind = "file"
            f.value = str(values.get("photo_ids", "") or "")
            f.help = _t("可拍照或从相册选择，最多 6 张；上传后附在“处置”记录上")
        if action == "dispatch" and name == "reason":
            f.label = _t("改派理由")
            f.help = _t("不选推荐单位时必填")
        fields.append(f)
    return ActionForm(action=action, label=str(ACTION_LABELS.get(action, action)), fields=fields,
                      error=mine.error if mine else "", multipart="photos" in action_fields(action))


def build_forms(actor: Actor, case: Case, *, failed: Failed | None = None, only=None) -> list[ActionForm]:
    """The forms for exactly the actions ``actor`` may take on ``case`` now (``only``: a subset, in that order)."""
    actions = selectors.case_actions_for(actor, case)
    if only is not None:
        actions = [a for a in only if a in actions]
    units = selectors.dispatch_unit_choices(case) if "dispatch" in actions else None
    return [build_form(case, a, failed=failed, units=units) for a in actions]


# --- reading the form ---------------------------------------------------------------------------------


def parse_action_post(action: str, post, files) -> tuple[dict, dict, dict, list]:
    """The data for ``case_act`` from a submitted form: ``(data, values, errors, uploads)``.

    Only the action's own fields are read (the page's hidden ``next``/``fragment`` and anything else are ignored);
    texts are trimmed and length-checked, ``unit``/``days`` must be integers, ``photo_ids`` (photos stored by an
    earlier, refused attempt) a comma list of integers. Never raises.
    """
    data: dict = {}
    values: dict = {}
    errors: dict = {}
    uploads: list = []
    for name in action_fields(action):
        if name == "photos":
            raw_ids = str(post.get("photo_ids", "") or "").strip()
            values["photo_ids"] = raw_ids
            ids = []
            for part in filter(None, (p.strip() for p in raw_ids.split(","))):
                try:
                    ids.append(db_int(part))
                except ValueError:
                    errors["photos"] = _t("照片编号无效，请重新选择照片")
                    break
            if ids:
                data["photos"] = ids
            uploads = [f for f in files.getlist("photos") if getattr(f, "size", 1)]
            continue
        raw = post.get(name, "")
        raw = raw.strip() if isinstance(raw, str) else ""
        values[name] = raw
        if "\x00" in raw:
            errors[name] = _t("不能包含空字符")
            continue
        if not raw:
            continue
        if name in MAX_LENGTHS and len(raw) > MAX_LENGTHS[name]:
            errors[name] = _t("不能超过 %(n)s 个字") % {"n": MAX_LENGTHS[name]}
        elif name in ("unit", "days"):
            try:
                number = db_int(raw)
            except ValueError:
                errors[name] = _t("请选择专业单位") if name == "unit" else _t("请输入 1 到 30 的整数")
                continue
            if name == "days" and not 1 <= number <= 30:
                errors[name] = _t("请输入 1 到 30 的整数")
            else:
                data[name] = number
        elif name == "rating" and raw not in workflow.RATINGS:
            errors[name] = _t("请选择评价")
        else:
            data[name] = raw
    return data, values, errors, uploads


def db_int(raw) -> int:
    """A positive integer that fits a database key (ValueError otherwise: 'abc', '-1', 10**30)."""
    value = int(str(raw).strip())
    if not 0 < value < 2**63:
        raise ValueError(raw)
    return value


def error_field(action: str, e: DomainError) -> str | None:
    """The field a domain error belongs next to (None: the form as a whole)."""
    fields = action_fields(action)
    for name in (e.detail or {}).get("fields") or ():
        if name in fields:
            return name
    name = ERROR_FIELDS.get(e.code) or ("photos" if isinstance(e, PhotoError) else None)
    return name if name in fields else None


def _failed(action: str, values: dict, e: DomainError) -> Failed:
    name = error_field(action, e)
    message = e.message
    if e.code == "missing_fields" and name:  # the workflow names the field in English; the form says it in words
        message = _t("请填写「%(f)s」") % {"f": FIELD_LABELS[name]}
    return Failed(action=action, values=values, errors={name: message} if name else {},
                  error="" if name else message, status=e.status)


def safe_next(request: HttpRequest, value: str | None) -> str:
    """``value`` if it is a local URL of this site, else ''."""
    if value and value.startswith("/") and value.isprintable() and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def is_htmx(request: HttpRequest) -> bool:
    """Whether HTMX sent the request (it then wants a fragment)."""
    return request.headers.get("HX-Request") == "true"


# --- the case page -------------------------------------------------------------------------------------


def _place_names(case: Case) -> list[str]:
    units = geo.units_by_id([int(v) for v in (case.units or {}).values()])
    order = {k: i for i, k in enumerate(KINDS)}
    return [u.name for u in sorted(units.values(), key=lambda u: order.get(u.kind, 99))]


def _event_details(e) -> list[tuple[str, str]]:
    data = e.data or {}
    out = []
    if e.action == "report":
        source = dict(Case._meta.get_field("source").choices).get(data.get("source"), data.get("source", ""))
        out.append((_t("来源"), str(source)))
    if data.get("unit_name"):
        out.append((_t("派往"), data["unit_name"]))
    if data.get("into_number"):
        out.append((_t("合并到"), data["into_number"]))
    if data.get("days"):
        out.append((_t("延期"), _t("%(n)s 个工作日") % {"n": data["days"]}))
    if data.get("to_level"):
        out.append((_t("升级到"), str(LEVEL_LABELS.get(data["to_level"], data["to_level"]))))
    if data.get("rating"):
        out.append((_t("评价"), str(RATING_LABELS.get(data["rating"], data["rating"]))))
    for key, label in (("text", _t("留言")), ("note", _t("说明")), ("reason", _t("理由"))):
        if data.get(key):
            out.append((label, str(data[key])))
    return out


def role_label(role: str) -> str:
    """The role's name in the page's language ('system' and 'reporter' included)."""
    return display_role_name(role)


def timeline(case: Case) -> list[dict]:
    """The case's events for display: when, what, who (staff by name; citizens as their role), details, photos."""
    out = []
    for e in selectors.case_timeline(case):
        staff = e.role in STAFF_ROLES
        who = role_label(e.role)
        if staff and e.actor_id:
            who = f"{who} {e.actor}"
        out.append({"event": e, "label": str(EVENT_LABELS.get(e.action, e.action)), "who": who,
                    "details": _event_details(e),
                    "photo_ids": [int(i) for i in (e.data or {}).get("photos") or []],
                    "is_comment": e.action == "comment"})
    return out


def _deadline_start(case: Case, events: list[dict]) -> object:
    for line in reversed(events):
        if line["event"].action in ("report", "dispatch", "return", "resume", "reopen"):
            return line["event"].at
    return case.reported_at


def deadline_lights(case: Case, events: list[dict]) -> list[dict]:
    """The deadlines with their traffic light (green/yellow/red) while their clock runs, and the words for it."""
    now = clock.now()
    out = []
    if case.first_response_due:
        running = case.state in selectors.FIRST_RESPONSE_STATES
        light = deadlines.traffic_light(_deadline_start(case, events), case.first_response_due, now) if running \
            else ""
        out.append({"label": _t("响应时限"), "due": case.first_response_due, "light": light,
                    "light_label": light_name(light), "flagged": bool(case.deadline_fallback_years)})
    if case.handling_due:
        running = case.state in selectors.HANDLING_STATES
        light = deadlines.traffic_light(case.dispatched_at or case.reported_at, case.handling_due, now) if running \
            else ""
        done = case.state in ("handled", "verified", "closed")
        out.append({"label": _t("处置时限"), "due": case.handling_due, "light": light,
                    "light_label": light_name(light) if running else (_t("已处置") if done else ""),
                    "flagged": bool(case.deadline_fallback_years)})
    return out


def reporter_contact(case: Case) -> dict | None:
    """The reporter's name, phone and e-mail as given with the report, else from their account."""
    r = case.reporter if case.reporter_id else None
    if r is None:
        return None
    person = r.person if r.person_id else None
    contact = {"name": r.name or (str(person) if person else ""), "phone": r.phone or (person.phone if person else ""),
               "email": r.email}
    return contact if any(contact.values()) else None


def case_context(request: HttpRequest, actor: Actor, case: Case, *, failed: Failed | None = None,
                 notice: str = "", next_url: str = "") -> dict:
    """Everything the case page (and its HTMX panel) shows, for this actor."""
    from cogov.cases.selectors import station_channel_member

    roles = roles_on_case(actor, case)
    staff_roles = roles & STAFF_ROLES
    events = timeline(case)
    photos = selectors.case_photos(case)
    forms = build_forms(actor, case, failed=failed)
    shown = {f.action for f in forms}
    return {
        "case": case,
        "state_label": STATE_LABELS.get(case.state, case.state),
        "level_label": LEVEL_LABELS.get(case.level, case.level),
        "roles": sorted(role_label(r) for r in roles),
        # 上报人联系方式: staff holding a role on this case (the unit it is dispatched to included: crews call
        # reporters to get in); never the public, never the station channel
        "reporter": reporter_contact(case) if staff_roles else None,
        "report_photos": [p for p in photos if p.kind == "report"],
        "after_photos": [p for p in photos if p.kind == "after"],
        "public_photos": case.moderation == "ok",
        "places": _place_names(case),
        "routing_reasons": list(case.routing_reasons or []) if staff_roles else [],
        "confirmed": selectors.case_confirmed_duplicates(actor, case),
        "events": events,
        "lights": deadline_lights(case, events),
        "forms": forms,
        "action_error": failed.error or next(iter(failed.errors.values()), "")
        if failed is not None and failed.action not in shown else "",
        "failed_label": ACTION_LABELS.get(failed.action, "") if failed is not None else "",
        "notice": notice,
        "next_url": next_url,
        "channel_url": reverse("station_channel", args=[case.station_id])
        if case.station_id and case.station and station_channel_member(actor, case.station) else "",
        "photo_limit": PhotoLimits.from_settings().max_count,
    }


def _number(number: str) -> str:
    """A case number as typed in the URL; one no case can have (control characters, too long) finds nothing."""
    return number if number.isprintable() and len(number) <= 20 else "?"


def not_found(request: HttpRequest, message: str, *, status: int = 404) -> HttpResponse:
    """The staff pages' 'not found / not in your area' page (same words for both)."""
    return render(request, "web/staff/not_found.html", {"message": message}, status=status)


@staff_required
def case_page(request: HttpRequest, number: str) -> HttpResponse:
    """案件办理页 — one case for staff in scope (404 otherwise, as for a missing number)."""
    actor = actor_of(request)
    try:
        case = selectors.case_get_for_actor(actor, _number(number))
    except DomainError as e:
        return not_found(request, e.message, status=e.status)
    return render(request, "web/staff/case.html",
                  case_context(request, actor, case, next_url=safe_next(request, request.GET.get("next"))))


# --- the action endpoint -------------------------------------------------------------------------------


def _store_uploads(actor: Actor, uploads: list) -> list[int]:
    """Store the uploaded after-photos (kind 'after', by this person); their ids for ``case_act``."""
    limits = PhotoLimits.from_settings()
    if len(uploads) > limits.max_count:
        raise PhotoError("photo_too_many", _t("一次最多上传 %(n)d 张照片") % {"n": limits.max_count})
    for f in uploads:
        if f.size is not None and f.size > limits.max_bytes:
            raise PhotoError("photo_too_large", _t("照片不能超过 %(mb)d MB") % {"mb": limits.max_bytes // (1024 * 1024)})
    rows = store_photos(city_id=actor.city_id, files=[f.read() for f in uploads], kind="after",
                        uploaded_by_id=actor.person_id)
    return [a.pk for a in rows]


def _answer(request: HttpRequest, actor: Actor, number: str, *, fragment: str, failed: Failed | None = None,
            notice: str = "", next_url: str = "", status: int = 200) -> HttpResponse:
    """The page or fragment after an action, refused (``failed``) or done (``notice``)."""
    try:
        case = selectors.case_get_for_actor(actor, number)
    except DomainError as e:
        if failed is None:  # done, and the action handed the case on (退回): back to where one works
            messages.success(request, notice)
            url = next_url or reverse("work_home")
            return HttpResponse(status=204, headers={"HX-Redirect": url}) if is_htmx(request) else redirect(url)
        return _gone(request, fragment, failed.error or e.message, status)
    if fragment == "channel" and is_htmx(request):
        from cogov.web.station import channel_forms

        forms = channel_forms(actor, case, failed=failed)
        error = failed.error or next(iter(failed.errors.values()), "") if failed else ""
        if failed is not None and failed.action in {f.action for f in forms}:
            error = ""  # shown next to its field
        return render(request, "web/station/_item_actions.html",
                      {"case": case, "forms": forms, "notice": notice, "error": error}, status=status)
    ctx = case_context(request, actor, case, failed=failed, notice=notice, next_url=next_url)
    template = "web/staff/_case_panel.html" if is_htmx(request) else "web/staff/case.html"
    return render(request, template, ctx, status=status)


def _gone(request: HttpRequest, fragment: str, message: str, status: int) -> HttpResponse:
    """A case the person may not see (404): the channel block's message, or the not-found page."""
    if fragment == "channel" and is_htmx(request):
        return render(request, "web/station/_item_actions.html", {"error": message, "forms": []}, status=status)
    return not_found(request, message, status=status)


@staff_required
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """办理 — take ``action`` on case ``number`` from a page's form (see the module docstring)."""
    actor = actor_of(request)
    number = _number(number)
    if request.method != "POST":
        return redirect("staff_case", number=number)
    if action not in PAGE_ACTIONS:
        return not_found(request, _t("未知操作：%(a)s") % {"a": action[:30]})
    fragment = "channel" if request.POST.get("fragment") == "channel" else "case"
    next_url = safe_next(request, request.POST.get("next"))
    try:
        selectors.case_get_for_actor(actor, number)
    except DomainError as e:
        return _gone(request, fragment, e.message, e.status)
    data, values, errors, uploads = parse_action_post(action, request.POST, request.FILES)
    if errors:
        return _answer(request, actor, number, fragment=fragment, next_url=next_url, status=400,
                       failed=Failed(action=action, values=values, errors=errors))
    try:
        if uploads:
            ids = _store_uploads(actor, uploads)
            data["photos"] = list(dict.fromkeys(data.get("photos", []) + ids))
            values["photo_ids"] = ",".join(str(i) for i in data["photos"])
        case = services.case_act(city_id=actor.city_id, number=number, actor=actor, action=action, data=data)
    except DomainError as e:
        return _answer(request, actor, number, fragment=fragment, next_url=next_url, status=e.status,
                       failed=_failed(action, values, e))
    done = str(DONE_MESSAGES.get(action, _t("已完成")))
    if is_htmx(request):
        return _answer(request, actor, number, fragment=fragment, notice=done, next_url=next_url)
    messages.success(request, done)
    if next_url:
        return redirect(next_url)
    if roles_on_case(actor, case):
        return redirect("staff_case", number=case.number)
    return redirect("work_home")  # the action handed the case on (退回): it is out of this person's sight now


# --- /work/ --------------------------------------------------------------------------------------------


def destinations(actor: Actor) -> list[dict]:
    """The pages for the actor's roles: each station head's console, heads' phone view, unit console, dashboards."""
    from cogov.geo.models import Unit

    out = []
    station_ids = [g.scope_unit_id for g in actor.grants if g.role == "station_head" and g.scope_unit_id]
    for station in Unit.objects.filter(city_id=actor.city_id, pk__in=station_ids).order_by("name"):
        out.append({"label": _t("站长工作台 · %(s)s") % {"s": station.name},
                    "url": reverse("station_console", args=[station.pk])})
    if actor.roles & HEAD_ROLES:
        out.append({"label": _t("三长巡查（手机）"), "url": reverse("head_home")})
    if actor.roles & UNIT_ROLES:
        out.append({"label": _t("专业单位工作台"), "url": "/work/unit/"})
    if actor.roles & (selectors.SUPERVISOR_ROLES | {"admin"}):
        out.append({"label": _t("监管看板"), "url": "/work/dashboard/"})
        out.append({"label": _t("数据分析"), "url": "/work/insight/", "secondary": True})
    elif station_ids:
        # the station's own figures: a second page of the station head (his console stays where /work/ leads)
        out.append({"label": _t("监管看板"), "url": "/work/dashboard/", "secondary": True})
        out.append({"label": _t("数据分析"), "url": "/work/insight/", "secondary": True})
    return out


@staff_required
def work_home(request: HttpRequest) -> HttpResponse:
    """工作台 — straight to the page of one's role; a short menu for several."""
    actor = actor_of(request)
    pages = destinations(actor)
    main = [p for p in pages if not p.get("secondary")]
    if len(main) == 1:  # that page links to the secondary ones (the station console to the station's dashboard)
        return redirect(main[0]["url"])
    channels = [{"label": s.name, "url": reverse("station_channel", args=[s.pk])}
                for s in selectors.station_channels_for_actor(actor)]
    return render(request, "web/staff/home.html", {"pages": pages, "channels": channels})


urlpatterns = [
    path("work/", work_home, name="work_home"),
    path("work/cases/<str:number>/", case_page, name="staff_case"),
    path("work/cases/<str:number>/act/<str:action>", case_action, name="staff_case_act"),
]
