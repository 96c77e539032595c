"""The closed loop of a case (案件闭环): states, actions, who may act and what they must give — as data.

report → accept (立案) → dispatch (派遣) → acknowledge (签收) → handle (处置) → verify (核查) → close (结案) → rate (评价),
with the side flows: not accepted (不予立案), returned as not our duty (退回), rework (返工), extension (延期),
suspension (挂账), merge of duplicates (合并), reopen by the reporter (重新打开), escalation (升级) and comments.

This module is plain Python: the services use ``step`` to move a case, and ``replay`` rebuilds a case from its
events with the very same function, so the stored state can always be proved against the history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from cogov.errors import DomainError

STATES = {
    "reported": "已上报",
    "not_accepted": "不予立案",
    "accepted": "已立案",
    "dispatched": "已派遣",
    "acknowledged": "处置中",
    "handled": "已处置",
    "verified": "已核查",
    "closed": "已结案",
    "suspended": "已挂账",
    "merged": "已合并",
}
STATE_CHOICES = list(STATES.items())
INITIAL = "reported"
TERMINAL = frozenset({"not_accepted", "merged"})
#: States in which a case is still being worked on (deadlines run, escalation applies).
OPEN = frozenset({"reported", "accepted", "dispatched", "acknowledged", "handled", "verified"})

SAME = "="  # the action leaves the state as it is

SUPERVISORS = ("subdistrict_supervisor", "district_supervisor", "city_supervisor", "admin")
CENTRE = ("station_head",) + SUPERVISORS
UNIT = ("unit_dispatcher", "unit_crew")
HEADS = ("building_head", "street_head", "area_head")
VERIFIERS = ("reporter",) + HEADS + CENTRE
REPORTERS = ("citizen", "volunteer", "reporter", "station_head") + HEADS + UNIT + SUPERVISORS
EVERYONE = tuple(dict.fromkeys(REPORTERS + VERIFIERS))

ACTIONS = {
    "report": "上报",
    "accept": "立案",
    "reject": "不予立案",
    "dispatch": "派遣",
    "acknowledge": "签收",
    "return": "退回",
    "handle": "处置",
    "verify": "核查通过",
    "rework": "返工",
    "close": "结案",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "refuse_extension": "驳回延期",
    "suspend": "挂账",
    "resume": "恢复办理",
    "merge": "合并",
    "reopen": "重新打开",
    "escalate": "升级",
    "comment": "留言",
    "rate": "评价",
}


@dataclass(frozen=True)
class Transition:
    """One row of the table: from these states, the action leads to ``to`` if a role in ``roles`` acts."""

    action: str
    sources: tuple[str, ...]
    to: str
    roles: tuple[str, ...]
    required: tuple[str, ...] = ()


TABLE: tuple[Transition, ...] = (
    Transition("report", ("",), "reported", REPORTERS + ("system",), ("category",)),
    Transition("accept", ("reported",), "accepted", CENTRE),
    Transition("reject", ("reported",), "not_accepted", CENTRE, ("reason",)),
    Transition("dispatch", ("accepted",), "dispatched", CENTRE, ("unit",)),
    Transition("acknowledge", ("dispatched",), "acknowledged", UNIT),
    Transition("return", ("dispatched", "acknowledged"), "accepted", UNIT, ("reason",)),
    Transition("handle", ("acknowledged",), "handled", UNIT, ("note",)),
    Transition("verify", ("handled",), "verified", VERIFIERS),
    Transition("rework", ("handled",), "acknowledged", VERIFIERS, ("reason",)),
    Transition("close", ("verified",), "closed", CENTRE),
    Transition("request_extension", ("dispatched", "acknowledged"), SAME, UNIT, ("reason", "days")),
    Transition("approve_extension", ("dispatched", "acknowledged"), SAME, CENTRE),
    Transition("refuse_extension", ("dispatched", "acknowledged"), SAME, CENTRE, ("reason",)),
    Transition("suspend", ("accepted", "dispatched", "acknowledged"), "suspended", CENTRE, ("reason",)),
    Transition("resume", ("suspended",), "accepted", CENTRE),
    Transition("merge", ("reported", "accepted"), "merged", CENTRE, ("into",)),
    Transition("reopen", ("closed",), "accepted", ("reporter",) + SUPERVISORS, ("reason",)),
    Transition("escalate", tuple(sorted(OPEN)), SAME, ("system",), ("to_level",)),
    Transition("comment", tuple(sorted(OPEN | {"suspended"})), SAME, EVERYONE, ("text",)),
    Transition("rate", ("closed",), SAME, ("reporter",), ("rating",)),
)
TRANSITIONS: dict[tuple[str, str], Transition] = {(s, t.action): t for t in TABLE for s in t.sources}
LEVELS = ("community", "subdistrict", "district")
RATINGS = ("satisfied", "basically_satisfied", "dissatisfied")


class WorkflowError(DomainError):
    """A workflow rule refused the action."""


@dataclass(frozen=True)
class Snapshot:
    """What the history says a case is now; the services store exactly this on the case row."""

    state: str = ""
    level: str = "community"
    max_level: str = "community"
    handler_unit: int | None = None
    extension_pending: bool = False
    rework_count: int = 0
    return_count: int = 0
    extension_count: int = 0
    rating: str = ""
    merged_into: int | None = None


def transition_for(state: str, action: str) -> Transition:
    """The table row for ``action`` in ``state``; a 409 domain error if the action is not possible there."""
    if action not in ACTIONS:
        raise WorkflowError("unknown_action", f"未知操作：{action}", status=400)
    t = TRANSITIONS.get((state, action))
    if t is None:
        raise WorkflowError(
            "action_not_allowed_in_state",
            f"案件当前状态为「{STATES.get(state, state or '无')}」，不能执行「{ACTIONS[action]}」",
            status=409,
        )
    return t


def allowed_actions(state: str, roles: Iterable[str]) -> list[str]:
    """The actions any of ``roles`` may take in ``state`` (for buttons and API hints)."""
    roles = set(roles)
    return [t.action for (s, _), t in TRANSITIONS.items() if s == state and roles & set(t.roles)]


def verifier_roles(*, reporter_verifies: bool, reporter_has_account: bool) -> tuple[str, ...]:
    """Who verifies the result: the reporter when the category asks and the reporter can be reached, else heads."""
    if reporter_verifies and reporter_has_account:
        return ("reporter",) + SUPERVISORS
    return tuple(r for r in VERIFIERS if r != "reporter")


def step(snap: Snapshot, action: str, role: str, data: Mapping) -> Snapshot:
    """Apply one action: check the table (state, role, required data) and return the next snapshot."""
    t = transition_for(snap.state, action)
    if role not in t.roles:
        raise WorkflowError(
            "role_not_allowed", f"当前角色无权执行「{ACTIONS[action]}」", status=403, detail={"role": role}
        )
    missing = [f for f in t.required if data.get(f) in (None, "", [], {})]
    if missing:
        raise WorkflowError(
            "missing_fields", f"「{ACTIONS[action]}」需要填写：{', '.join(missing)}", detail={"fields": missing}
        )
    new = replace(snap, state=snap.state if t.to == SAME else t.to)
    if action == "dispatch":
        new = replace(new, handler_unit=int(data["unit"]))
    elif action == "return":
        new = replace(new, handler_unit=None, return_count=snap.return_count + 1, extension_pending=False)
    elif action == "rework":
        new = replace(new, rework_count=snap.rework_count + 1)
    elif action == "request_extension":
        if snap.extension_pending:
            raise WorkflowError("extension_pending", "已有延期申请待审批", status=409)
        new = replace(new, extension_pending=True)
    elif action in ("approve_extension", "refuse_extension"):
        if not snap.extension_pending:
            raise WorkflowError("no_extension_pending", "没有待审批的延期申请", status=409)
        new = replace(
            new,
            extension_pending=False,
            extension_count=snap.extension_count + (1 if action == "approve_extension" else 0),
        )
    elif action == "suspend":
        new = replace(new, extension_pending=False)
    elif action == "merge":
        new = replace(new, merged_into=int(data["into"]))
    elif action == "reopen":
        new = replace(new, handler_unit=None, rating="")
    elif action == "escalate":
        to = data["to_level"]
        if to not in LEVELS or LEVELS.index(to) <= LEVELS.index(snap.level):
            raise WorkflowError("bad_escalation", f"不能从「{snap.level}」升级到「{to}」", status=409)
        new = replace(new, level=to, max_level=max(snap.max_level, to, key=LEVELS.index))
    elif action == "rate":
        if data["rating"] not in RATINGS:
            raise WorkflowError("bad_rating", f"评价只能是：{', '.join(RATINGS)}")
        new = replace(new, rating=data["rating"])
    if action in ("resume", "reopen"):
        new = replace(new, handler_unit=None)
    return new


def replay(events: Iterable[tuple[str, str, Mapping]]) -> Snapshot:
    """Rebuild a case from its events ``(action, role, data)`` in order."""
    snap = Snapshot()
    for action, role, data in events:
        snap = step(snap, action, role, data)
    return snap


def mermaid() -> str:
    """The state diagram drawn from the table (docs/workflow.md)."""
    lines = ["stateDiagram-v2", "    [*] --> reported: report 上报"]
    for t in TABLE:
        if t.action == "report" or t.to == SAME:
            continue
        for s in t.sources:
            lines.append(f"    {s} --> {t.to}: {t.action} {ACTIONS[t.action]}")
    lines += ["    closed --> [*]", "    not_accepted --> [*]", "    merged --> [*]"]
    return "\n".join(lines)


def markdown_table() -> str:
    """The table as Markdown (docs/workflow.md)."""
    rows = ["| 可在状态 from | 操作 action | 新状态 to | 角色 roles | 必填 required |", "|---|---|---|---|---|"]
    for t in TABLE:
        sources = ", ".join(s or "（新案件）" for s in t.sources)
        to = "（不变）" if t.to == SAME else t.to
        rows.append(f"| {sources} | `{t.action}` {ACTIONS[t.action]} | {to} | {', '.join(t.roles)} | "
                    f"{', '.join(t.required) or '—'} |")
    return "\n".join(rows)
