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
