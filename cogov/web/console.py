"""Pages: the professional unit's console (专业单位工作台) — the unit's cases by deadline, with quick actions.

Thin: the lists come from ``cogov.cases.stats`` (the cases the actor's units hold, from his visible cases); the
buttons post to the staff case page's action endpoint (``/work/cases/<number>/act/<action>``, which calls
``case_act``) with ``next`` pointing back here.
"""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from cogov import clock
from cogov.cases import stats, workflow
from cogov.people.permissions import UNIT_ROLES
from cogov.web.auth import actor_of, staff_required
from cogov.web.dashboard import case_url
from cogov.web.display import duration_text, light_name, state_name

TABS = ("todo", "waiting", "closed")
#: The actions the console offers as buttons (the rest are on the case page).
QUICK_ACTIONS = ("acknowledge", "handle", "return", "request_extension")


def _due_text(deadline, now) -> str:
    if deadline is None:
        return _("无时限")
    if deadline >= now:
        return _("剩余 %(t)s") % {"t": duration_text(deadline - now)}
    return _("已超时 %(t)s") % {"t": duration_text(now - deadline)}


@staff_required
def unit_console(request):
    """GET /work/unit/?tab=todo|waiting|closed"""
    actor = actor_of(request)
    if not actor.roles & UNIT_ROLES:
        if actor.roles & set(stats.DASHBOARD_ROLES):
            return redirect("/work/dashboard/")
        return redirect("/work/")
    tab = request.GET.get("tab", "todo")
    tab = tab if tab in TABS else "todo"
    now = clock.now()
    roles = actor.roles & UNIT_ROLES
    queue = stats.unit_queue(actor, now=now)
    waiting = stats.unit_waiting(actor)
    closed = stats.unit_closed_recently(actor, now=now)
    back = f"/work/unit/?tab={tab}"
    items = []
    for c in queue:
        actions = [a for a in workflow.allowed_actions(c.state, roles) if a in QUICK_ACTIONS]
        if c.extension_pending and "request_extension" in actions:
            actions.remove("request_extension")
        items.append({
            "case": c, "url": case_url(c.number), "light": c.light, "light_name": light_name(c.light),
            "state_name": state_name(c.state),
            "deadline_kind": _("签收时限") if c.state == "dispatched" and c.first_response_due else _("处置时限"),
            "due_text": _due_text(c.deadline, now), "actions": set(actions),
            "act": f"/work/cases/{c.number}/act/",
        })
    units = stats.unit_names(actor)
    context = {
        "tab": tab,
        "tabs": [("todo", _("我的待办"), len(queue)), ("waiting", _("待核查"), len(waiting)),
                 ("closed", _("近30天结案"), len(closed))],
        "items": items,
        "waiting": [{"case": c, "url": case_url(c.number), "state_name": state_name(c.state)}
                    for c in waiting],
        "closed": [{"case": c, "url": case_url(c.number)} for c in closed],
        "units": units,
        "many_units": len(units) > 1,
        "next": back,
    }
    return render(request, "web/console/index.html", context)


urlpatterns = [
    path("work/unit/", unit_console, name="unit_console"),
]
