"""The workflow table as data: hypothesis walks it and never reaches what the table forbids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cogov.cases import workflow
from cogov.cases.workflow import ACTIONS, STATES, TABLE, TRANSITIONS, Snapshot, WorkflowError, replay, step

ALL_ROLES = sorted({r for t in TABLE for r in t.roles})
DATA = {"category": "06010", "reason": "理由", "unit": 7, "note": "已处置", "days": 2, "into": 99,
        "to_level": "subdistrict", "text": "留言", "rating": "satisfied"}


def test_every_state_is_reachable_and_every_transition_targets_a_known_state():
    targets = {t.to for t in TABLE} - {workflow.SAME}
    assert targets <= set(STATES)
    assert set(STATES) - {"reported"} <= targets
    assert all(s in STATES or s == "" for s in {s for t in TABLE for s in t.sources})


def test_terminal_states_have_no_way_out():
    for (state, action), t in TRANSITIONS.items():
        assert state not in workflow.TERMINAL, (state, action)


def test_the_happy_path():
    events = [("report", "citizen", {"category": "06010"}), ("accept", "station_head", {}),
              ("dispatch", "station_head", {"unit": 3}), ("acknowledge", "unit_crew", {}),
              ("handle", "unit_crew", {"note": "ok"}), ("verify", "reporter", {}),
              ("close", "station_head", {}), ("rate", "reporter", {"rating": "satisfied"})]
    snap = replay(events)
    assert snap.state == "closed" and snap.handler_unit == 3 and snap.rating == "satisfied"


@pytest.mark.parametrize("state,action,role", [
    ("reported", "dispatch", "station_head"),   # must accept (立案) first
    ("dispatched", "handle", "unit_crew"),      # must acknowledge first
    ("handled", "close", "station_head"),       # must be verified first
    ("closed", "handle", "unit_crew"),
    ("not_accepted", "accept", "station_head"),
])
def test_out_of_order_actions_are_refused_with_409(state, action, role):
    with pytest.raises(WorkflowError) as e:
        step(Snapshot(state=state), action, role, DATA)
    assert e.value.status == 409 and e.value.code == "action_not_allowed_in_state"


def test_wrong_role_is_403_and_missing_reason_is_400():
    with pytest.raises(WorkflowError) as e:
        step(Snapshot(state="reported"), "accept", "unit_crew", {})
    assert e.value.status == 403
    with pytest.raises(WorkflowError) as e:
        step(Snapshot(state="reported"), "reject", "station_head", {"reason": ""})
    assert e.value.status == 400 and e.value.detail["fields"] == ["reason"]


def test_escalation_only_goes_up():
    snap = step(Snapshot(state="accepted"), "escalate", "system", {"to_level": "subdistrict"})
    assert (snap.level, snap.max_level) == ("subdistrict", "subdistrict")
    with pytest.raises(WorkflowError):
        step(snap, "escalate", "system", {"to_level": "community"})


def test_extension_must_be_pending_to_decide_and_only_one_at_a_time():
    snap = Snapshot(state="acknowledged")
    with pytest.raises(WorkflowError):
        step(snap, "approve_extension", "station_head", {})
    snap = step(snap, "request_extension", "unit_crew", {"reason": "雨天", "days": 2})
    with pytest.raises(WorkflowError):
        step(snap, "request_extension", "unit_crew", {"reason": "再延", "days": 2})
    snap = step(snap, "approve_extension", "station_head", {})
    assert snap.extension_count == 1 and not snap.extension_pending


def test_verifier_roles_follow_the_category():
    assert workflow.verifier_roles(reporter_verifies=True, reporter_has_account=True)[0] == "reporter"
    anonymous = workflow.verifier_roles(reporter_verifies=True, reporter_has_account=False)
    assert "reporter" not in anonymous and "street_head" in anonymous


class CaseMachine(RuleBasedStateMachine):
    """Random sequences of (action, role): every accepted step is a table row; every refused one is not."""

    def __init__(self):
        super().__init__()
        self.snap = step(Snapshot(), "report", "citizen", DATA)
        self.history = [("report", "citizen", DATA)]

    @rule(action=st.sampled_from(sorted(ACTIONS)), role=st.sampled_from(ALL_ROLES),
          to_level=st.sampled_from(workflow.LEVELS))
    def act(self, action, role, to_level):
        data = {**DATA, "to_level": to_level}
        before = self.snap
        row = TRANSITIONS.get((before.state, action))
        try:
            after = step(before, action, role, data)
        except WorkflowError:
            return
        assert row is not None and role in row.roles, "a step the table does not allow was taken"
        assert after.state == (before.state if row.to == workflow.SAME else row.to)
        self.snap = after
        self.history.append((action, role, data))

    @invariant()
    def state_is_known_and_replay_agrees(self):
        assert self.snap.state in STATES
        assert replay(self.history) == self.snap

    @invariant()
    def counters_never_go_down(self):
        assert self.snap.rework_count >= 0 and self.snap.extension_count >= 0
        assert workflow.LEVELS.index(self.snap.max_level) >= workflow.LEVELS.index(self.snap.level)


TestCaseMachine = CaseMachine.TestCase
TestCaseMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@given(st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from(ALL_ROLES)), max_size=30))
@settings(max_examples=300, deadline=None)
def test_no_sequence_reaches_a_state_the_table_forbids(seq):
    snap = step(Snapshot(), "report", "citizen", DATA)
    for action, role in seq:
        try:
            new = step(snap, action, role, DATA)
        except WorkflowError:
            continue
        t = TRANSITIONS[(snap.state, action)]
        assert role in t.roles
        assert new.state in STATES
        snap = new
