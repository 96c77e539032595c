"""Queue notifications in the outbox (发件箱), inside the caller's transaction; the worker delivers them."""

from __future__ import annotations

from cogov import clock
from cogov.cases import config
from cogov.cases.workflow import ACTIONS, STATES
from cogov.notify.models import OutboxMessage

#: Which actions tell whom, beside the robots: "head" the routed head, "unit" the handler unit's members,
#: "station" the station's heads, "reporter" the reporter's account.
AUDIENCE = {
    "report": ("head", "station"),
    "dispatch": ("unit",),
    "return": ("station",),
    "handle": ("head", "station"),
    "rework": ("unit",),
    "request_extension": ("station",),
    "approve_extension": ("unit",),
    "refuse_extension": ("unit",),
    "close": ("reporter",),
    "reject": ("reporter",),
    "escalate": ("station", "unit"),
    "reopen": ("station",),
}


def outbox_enqueue_case_event(*, case, event, recipients: dict[str, list[int]]) -> int:
    """Write the outbox rows announcing ``event`` of ``case``: in-app messages and the matching robots.

    ``recipients`` maps an audience ("head", "unit", "station", "reporter") to person ids. Returns the number
    of rows written. No personal data of the reporter goes into a payload.
    """
    at = clock.now()
    title = f"【{ACTIONS.get(event.action, event.action)}】案件 {case.number} · {case.category.name}"
    body = (
        f"状态：{STATES.get(case.state, case.state)}；地点：{case.address or '—'}；"
        f"处置时限：{case.handling_due.astimezone(clock.LOCAL_TZ):%Y-%m-%d %H:%M}"
        if case.handling_due
        else f"状态：{STATES.get(case.state, case.state)}；地点：{case.address or '—'}"
    )
    payload = {"title": title, "body": body, "case": case.number, "action": event.action, "seq": event.seq}
    rows = []
    people: set[int] = set()
    for audience in AUDIENCE.get(event.action, ()):
        people.update(recipients.get(audience, ()))
    for pid in sorted(people):
        rows.append(
            OutboxMessage(
                city_id=case.city_id,
                channel="inapp",
                recipient=str(pid),
                payload=payload,
                dedup_key=f"{case.city_id}:{case.number}:{event.seq}:inapp:{pid}",
                next_attempt_at=at,
                created_at=at,
            )
        )
    # the active endpoints from the per-process cache (cogov/cases/config.py: re-read when they change)
    for ep in config.endpoints(case.city_id):
        if ep.scope_path is not None and not case.unit_path.startswith(ep.scope_path):
            continue
        if ep.actions and event.action not in ep.actions:
            continue
        rows.append(
            OutboxMessage(
                city_id=case.city_id,
                channel=ep.channel,
                recipient=ep.target,
                payload=payload,
                dedup_key=f"{case.city_id}:{case.number}:{event.seq}:ep{ep.id}",
                next_attempt_at=at,
                created_at=at,
            )
        )
    if rows:  # one INSERT for all of them
        OutboxMessage.objects.bulk_create(rows)
    return len(rows)
