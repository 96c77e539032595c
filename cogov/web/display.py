"""How every page says a traffic light and a duration (红黄绿灯的叫法、时长的说法) — one vocabulary for the city.

The light keys are those of ``cogov.cases.deadlines.traffic_light`` ("green", "yellow", "red"), plus "grey" (an
open case whose clock has stopped: waiting on verification) and "closed". Templates use the filters of
``{% load cogov_display %}``: ``{{ light|light_name }}`` and ``{{ timedelta|duration }}``.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

#: The words for each light, on every page (public map, consoles, dashboards, the heads' phone view).
LIGHT_NAMES = {
    "green": gettext_lazy("正常"),
    "yellow": gettext_lazy("临期"),
    "red": gettext_lazy("超时"),
    "grey": gettext_lazy("待核查"),
    "closed": gettext_lazy("已结案"),
}
#: Most urgent first: how lists of open cases are ordered.
LIGHT_URGENCY = {"red": 0, "yellow": 1, "green": 2}


def light_name(light: str | None) -> str:
    """The word for a light ('' for no light or an unknown one)."""
    name = LIGHT_NAMES.get(light or "")
    return str(name) if name is not None else ""


def duration_formats() -> dict[str, str]:
    """The translated patterns of ``duration_text`` (``%(n)d`` / ``%(n).1f``), for pages that count down in the
    browser (``data-minutes``, ``data-hours``, ``data-days``)."""
    return {"minutes": _("%(n)d 分钟"), "hours": _("%(n).1f 小时"), "days": _("%(n).1f 天")}


def duration_text(value: dt.timedelta | None) -> str:
    """A duration as people say it: minutes up to an hour, then hours up to two days, then days.

    The sign is dropped (callers say "剩余" or "超时"); ``None`` is a dash. ``static/cogov/staff.js`` counts down
    with the same rule (keep the two in step).
    """
    if value is None:
        return "—"
    seconds = abs(value.total_seconds())
    minutes = round(seconds / 60)
    formats = duration_formats()
    if minutes <= 60:
        return formats["minutes"] % {"n": minutes}
    if seconds < 48 * 3600:
        return formats["hours"] % {"n": seconds / 3600}
    return formats["days"] % {"n": seconds / 86400}


# --- Names of states, actions, roles, ratings and levels (translated at the edge) -----------------------------
# The pure modules (cogov.cases.workflow, cogov.people.roles) keep their Chinese words and import no Django; the
# pages say them through these dicts. Each msgid is exactly the Chinese word the pure module uses, so the English
# catalogue has one entry per word.

STATE_NAMES = {
    "reported": gettext_lazy("已上报"),
    "not_accepted": gettext_lazy("不予立案"),
    "accepted": gettext_lazy("已立案"),
    "dispatched": gettext_lazy("已派遣"),
    "acknowledged": gettext_lazy("处置中"),
    "handled": gettext_lazy("已处置"),
    "verified": gettext_lazy("已核查"),
    "closed": gettext_lazy("已结案"),
    "suspended": gettext_lazy("已挂账"),
    "merged": gettext_lazy("已合并"),
}
ACTION_NAMES = {
    "report": gettext_lazy("上报"),
    "accept": gettext_lazy("立案"),
    "reject": gettext_lazy("不予立案"),
    "dispatch": gettext_lazy("派遣"),
    "acknowledge": gettext_lazy("签收"),
    "return": gettext_lazy("退回"),
    "handle": gettext_lazy("处置"),
    "verify": gettext_lazy("核查通过"),
    "rework": gettext_lazy("返工"),
    "close": gettext_lazy("结案"),
    "request_extension": gettext_lazy("申请延期"),
    "approve_extension": gettext_lazy("批准延期"),
    "refuse_extension": gettext_lazy("驳回延期"),
    "suspend": gettext_lazy("挂账"),
    "resume": gettext_lazy("恢复办理"),
    "merge": gettext_lazy("合并"),
    "reopen": gettext_lazy("重新打开"),
    "escalate": gettext_lazy("升级"),
    "comment": gettext_lazy("留言"),
    "rate": gettext_lazy("评价"),
}
ROLE_NAMES = {
    "citizen": gettext_lazy("市民"),
    "volunteer": gettext_lazy("志愿者"),
    "station_head": gettext_lazy("站长"),
    "building_head": gettext_lazy("楼院长"),
    "street_head": gettext_lazy("街巷长"),
    "area_head": gettext_lazy("区片长"),
    "unit_dispatcher": gettext_lazy("专业单位派单员"),
    "unit_crew": gettext_lazy("专业单位处置人员"),
    "subdistrict_supervisor": gettext_lazy("街道监管员"),
    "district_supervisor": gettext_lazy("区级监管员"),
    "city_supervisor": gettext_lazy("市级监管员"),
    "admin": gettext_lazy("系统管理员"),
    "reporter": gettext_lazy("上报人"),
    "system": gettext_lazy("系统"),
}
RATING_NAMES = {
    "satisfied": gettext_lazy("满意"),
    "basically_satisfied": gettext_lazy("基本满意"),
    "dissatisfied": gettext_lazy("不满意"),
}
#: (value, label) pairs for a rating <select>, best first.
RATING_CHOICES = list(RATING_NAMES.items())
LEVEL_NAMES = {"community": gettext_lazy("社区"), "subdistrict": gettext_lazy("街道"), "district": gettext_lazy("区")}


def _name(names: dict, key: str | None) -> str:
    name = names.get(key or "")
    return str(name) if name is not None else (key or "")


def state_name(state: str | None) -> str:
    """The word for a case state (the key itself if unknown)."""
    return _name(STATE_NAMES, state)


def action_name(action: str | None) -> str:
    """The word for a workflow action (the key itself if unknown)."""
    return _name(ACTION_NAMES, action)


def role_name(role: str | None) -> str:
    """The word for a role ('reporter' and 'system' included; the key itself if unknown)."""
    return _name(ROLE_NAMES, role)


def rating_name(rating: str | None) -> str:
    return _name(RATING_NAMES, rating)


def level_name(level: str | None) -> str:
    return _name(LEVEL_NAMES, level)


#: The bodies the monthly evaluation ranks (cogov.insight.evaluation.monthly's keys).
EVAL_LEVEL_NAMES = {"unit": gettext_lazy("专业单位"), "station": gettext_lazy("城市治理服务站"),
                    "community": gettext_lazy("社区"), "subdistrict": gettext_lazy("街道")}


#: Hotspot levels (cogov.insight.hotspots.gi_level).
HOT_LEVEL_NAMES = {"hot99": gettext_lazy("热点（99%）"), "hot95": gettext_lazy("热点（95%）"),
                   "hot90": gettext_lazy("热点（90%）"), "cold99": gettext_lazy("冷点（99%）"),
                   "cold95": gettext_lazy("冷点（95%）"), "cold90": gettext_lazy("冷点（90%）"),
                   "ns": gettext_lazy("不显著")}


def hot_level_name(level: str | None) -> str:
    return _name(HOT_LEVEL_NAMES, level)


def eval_level_name(level: str | None) -> str:
    return _name(EVAL_LEVEL_NAMES, level)


def percent_text(value: float | None) -> str:
    """A share as a percentage with one decimal, or a dash when nothing was counted."""
    return "—" if value is None else f"{value * 100:.1f}%"


#: The generic "who" words of ``cases.selectors.case_public_timeline`` (the rest are unit/station/area names).
_WHO_WORDS = {
    "上报人": gettext_lazy("上报人"),
    "系统": gettext_lazy("系统"),
    "专业单位": gettext_lazy("专业单位"),
    "城市治理服务站": gettext_lazy("城市治理服务站"),
    "街道": gettext_lazy("街道"),
    "区": gettext_lazy("区"),
}
_CHINESE_ROLE_WORDS = {
    "市民": "citizen", "志愿者": "volunteer", "站长": "station_head", "楼院长": "building_head",
    "街巷长": "street_head", "区片长": "area_head", "专业单位派单员": "unit_dispatcher",
    "专业单位处置人员": "unit_crew", "街道监管员": "subdistrict_supervisor", "区级监管员": "district_supervisor",
    "市级监管员": "city_supervisor", "系统管理员": "admin",
}
_CHINESE_RATING_WORDS = {"满意": "satisfied", "基本满意": "basically_satisfied", "不满意": "dissatisfied"}


def public_timeline_labels(entries: list[dict]) -> list[dict]:
    """Translate the labels of ``cases.selectors.case_public_timeline`` entries in place (and return them):
    action and state names, the generic "who" words, and the notes of rate / escalate / merge. Names from the
    database (units, stations, areas) and the people's own words stay as they are."""
    for e in entries:
        e["action_name"] = action_name(e.get("action"))
        state = next((k for k, v in _workflow_states().items() if v == e.get("state_name")), None)
        if state:
            e["state_name"] = state_name(state)
        who = e.get("who", "")
        if who in _WHO_WORDS:
            e["who"] = str(_WHO_WORDS[who])
        elif who in _CHINESE_ROLE_WORDS:
            e["who"] = role_name(_CHINESE_ROLE_WORDS[who])
        note = e.get("note") or ""
        if not note:
            continue
        if e.get("action") == "rate":
            head, sep, rest = note.partition("：")
            if head in _CHINESE_RATING_WORDS:
                e["note"] = rating_name(_CHINESE_RATING_WORDS[head]) + (_("：") + rest if sep else "")
        elif e.get("action") == "escalate":
            level = {"升级到街道": "subdistrict", "升级到区": "district"}.get(note)
            if level:
                e["note"] = _("升级到%(level)s") % {"level": level_name(level)}
        elif e.get("action") == "merge" and note.startswith("合并到 "):
            e["note"] = _("合并到 %(number)s") % {"number": note[len("合并到 "):]}
    return entries


def _workflow_states() -> dict[str, str]:
    from cogov.cases.workflow import STATES

    return STATES
