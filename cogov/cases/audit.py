"""Audit of the event chains (审计): recompute every link and compare with what the case row says."""

from __future__ import annotations

from dataclasses import dataclass

from cogov.cases import chain, workflow
from cogov.cases.models import Case, CaseEvent


@dataclass(frozen=True)
class Finding:
    """One broken place in the history: which case, which event (seq), what is wrong."""

    case_number: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"事件 #{self.seq}" if self.seq is not None else "案件"
        return f"案件 {self.case_number} {where}：{self.problem}"


def audit_city(city_id: int, *, batch: int = 2000) -> tuple[int, int, list[Finding]]:
    """Check every case of a city: returns (cases checked, events checked, findings)."""
    findings: list[Finding] = []
    cases = events = 0
    case_rows = Case.objects.filter(city_id=city_id).order_by("id").values_list(
        "id", "number", "event_count", "head_hash", "state"
    )
    ids = list(case_rows)
    for start in range(0, len(ids), batch):
        chunk = ids[start: start + batch]
        by_case: dict[int, list] = {cid: [] for cid, *_ in chunk}
        for ev in CaseEvent.objects.filter(case_id__in=list(by_case)).order_by("case_id", "seq").values(
            "case_id", "seq", "action", "actor_ref", "role", "at", "from_state", "to_state", "data", "prev_hash",
            "hash",
        ):
            by_case[ev["case_id"]].append(ev)
        for cid, number, event_count, head_hash, state in chunk:
            cases += 1
            evs = by_case[cid]
            events += len(evs)
            findings.extend(_check_case(number, evs, event_count, head_hash, state))
    return cases, events, findings


def _check_case(number: str, evs: list[dict], event_count: int, head_hash: str, state: str) -> list[Finding]:
    out: list[Finding] = []
    prev = ""
    expected_seq = 1
    for ev in evs:
        if ev["seq"] != expected_seq:
            out.append(Finding(number, expected_seq, f"事件缺失（下一条为 #{ev['seq']}）：记录被删除"))
            expected_seq = ev["seq"]
        body = chain.event_body(case_number=number, seq=ev["seq"], action=ev["action"], actor_ref=ev["actor_ref"],
                                role=ev["role"], at=ev["at"], from_state=ev["from_state"],
                                to_state=ev["to_state"], data=ev["data"])
        if ev["prev_hash"] != prev:
            out.append(Finding(number, ev["seq"], "前序哈希不符：之前的事件被改动或删除"))
        if chain.event_hash(ev["prev_hash"], body) != ev["hash"]:
            out.append(Finding(number, ev["seq"], "哈希不符：事件内容被改动"))
        prev = ev["hash"]
        expected_seq += 1
    if len(evs) != event_count or prev != head_hash:
        out.append(Finding(number, event_count if len(evs) < event_count else None,
                           f"案件记录有 {event_count} 条事件，实际 {len(evs)} 条：末尾事件被删除或链头被改动"))
    if not out:
        try:
            snap = workflow.replay((e["action"], e["role"], e["data"]) for e in evs)
        except workflow.WorkflowError as e:
            out.append(Finding(number, None, f"事件序列不符合流程：{e.message}"))
        else:
            if snap.state != state:
                out.append(Finding(number, None, f"状态「{state}」与事件重放结果「{snap.state}」不符"))
    return out
