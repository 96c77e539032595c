"""The closed loop on the database, told as the city lives it."""

from __future__ import annotations

import datetime as dt

import pytest

from cogov import clock
from cogov.cases import workflow
from cogov.cases.models import Case, CaseEvent
from cogov.cases.services import case_act, case_report
from cogov.errors import DomainError
from cogov.notify.models import OutboxMessage

from tests.conftest import IN_BUILDING, IN_COURTYARD, ON_STREET, OUTSIDE_CITY


def report(city, who, code, point, **kw):
    actor = city.actor(who) if who else None
    return case_report(city=city.city, actor=actor, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], **kw)


def act(city, who, case, action, **data):
    return case_act(city_id=city.city.pk, number=case.number, actor=city.actor(who), action=action, data=data)


def test_citizen_reports_litter_on_the_street_and_the_loop_closes(small_city):
    c = small_city
    case = report(c, "citizen", "06010", ON_STREET, description="路边有一堆暴露垃圾", contact_phone="13800000000")
    assert case.state == "reported"
    assert case.head_id == c.people["street_head"].pk and case.head_role == "street_head"
    assert case.suggested_unit_id == c.service_units["sanitation"].pk
    assert any("街巷长" in r for r in case.routing_reasons)
    assert case.first_response_due > case.reported_at
    assert case.number.startswith("2026")

    act(c, "station_a", case, "accept")
    act(c, "station_a", case, "dispatch", unit=c.service_units["sanitation"].pk)
    case = act(c, "sanitation_crew", case, "acknowledge")
    assert case.handling_due is not None
    act(c, "sanitation_crew", case, "handle", note="已清运")
    # 06010 is a matter the reporter verifies, and the reporter has an account
    with pytest.raises(DomainError) as e:
        act(c, "street_head", case, "verify")
    assert e.value.status == 403
    act(c, "citizen", case, "verify", note="确实干净了")
    case = act(c, "station_a", case, "close")
    assert case.state == "closed" and case.closed_at is not None
    case = act(c, "citizen", case, "rate", rating="satisfied")
    assert case.rating == "satisfied"

    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [e.action for e in events] == ["report", "accept", "dispatch", "acknowledge", "handle", "verify",
                                          "close", "rate"]
    assert all(e.prev_hash == (events[i - 1].hash if i else "") for i, e in enumerate(events))
    assert workflow.replay((e.action, e.role, e.data) for e in events).state == case.state
    # no personal data in the hashed history
    assert "13800000000" not in str([e.data for e in events])
    # the dispatch told the sanitation crew, in the same transaction
    assert OutboxMessage.objects.filter(channel="inapp", recipient=str(c.people["sanitation_crew"].pk)).exists()


def test_inside_a_building_goes_to_its_building_head(small_city):
    case = report(small_city, "citizen", "Q0301", IN_BUILDING)
    assert case.head_id == small_city.people["building_head"].pk
    assert case.suggested_unit_id == small_city.service_units["property"].pk


def test_courtyard_goes_to_the_courtyard_head(small_city):
    case = report(small_city, None, "Q0205", IN_COURTYARD)
    assert case.head_id == small_city.people["courtyard_head"].pk
    assert case.reported_by_id is None


def test_point_outside_the_city_is_refused_and_nothing_is_written(small_city):
    with pytest.raises(DomainError) as e:
        report(small_city, "citizen", "06010", OUTSIDE_CITY)
    assert e.value.code == "outside_city" and e.value.status == 400
    assert Case.objects.count() == 0


def test_unit_returns_a_case_that_is_not_its_duty_and_it_is_redispatched(small_city):
    c = small_city
    case = report(c, "citizen", "06010", ON_STREET)
    act(c, "station_a", case, "accept")
    with pytest.raises(DomainError) as e:
        act(c, "station_a", case, "dispatch", unit=c.service_units["enforcement"].pk)
    assert e.value.code == "override_needs_reason"
    act(c, "station_a", case, "dispatch", unit=c.service_units["enforcement"].pk, reason="涉及占道经营")
    case = act(c, "enforcement_crew", case, "return", reason="属环卫职责")
    assert case.state == "accepted" and case.handler_unit_id is None and case.return_count == 1
    # the unit no longer sees it
    with pytest.raises(DomainError) as e:
        act(c, "enforcement_crew", case, "comment", text="?")
    assert e.value.status == 404


def test_reopen_only_within_the_window(small_city, settings):
    c = small_city
    case = report(c, "citizen", "Q0101", ON_STREET)
    for who, action, data in [("station_a", "accept", {}),
                              ("station_a", "dispatch", {"unit": c.service_units["sanitation"].pk}),
                              ("sanitation_crew", "acknowledge", {}), ("sanitation_crew", "handle", {"note": "ok"}),
                              ("citizen", "verify", {}), ("station_a", "close", {})]:
        act(c, who, case, action, **data)
    clock.freeze(clock.now() + dt.timedelta(days=settings.COGOV_REOPEN_DAYS + 1))
    with pytest.raises(DomainError) as e:
        act(c, "citizen", case, "reopen", reason="又脏了")
    assert e.value.code == "reopen_window_passed"
