"""The escalation sweep with a frozen clock: 小事不出社区、大事不出街道."""

from __future__ import annotations

import datetime as dt

from cogov import clock
from cogov.cases.models import Case, CaseEvent
from cogov.cases.selectors import level_shares
from cogov.cases.services import case_act, case_report, cases_escalate_overdue
from cogov.notify.models import OutboxMessage
from tests.conftest import ON_STREET


def test_overdue_case_rises_to_subdistrict_then_district(small_city, settings):
    c = small_city
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1])
    for who, action, data in [("station_a", "accept", {}),
                              ("station_a", "dispatch", {"unit": c.service_units["sanitation"].pk}),
                              ("sanitation_crew", "acknowledge", {})]:
        case = case_act(city_id=c.city.pk, number=case.number, actor=c.actor(who), action=action, data=data)
    # dispatched Tue 2026-11-24 10:00 local; 暴露垃圾 has 4 working hours → 2 h before lunch (10–12), 2 h after (13:30–15:30)
    assert case.handling_due == dt.datetime(2026, 11, 24, 7, 30, tzinfo=dt.UTC)
    clock.freeze(case.handling_due - dt.timedelta(minutes=1))
    assert cases_escalate_overdue(city_id=c.city.pk) == []

    clock.freeze(case.handling_due + dt.timedelta(minutes=1))
    assert cases_escalate_overdue(city_id=c.city.pk) == [case.number]
    case.refresh_from_db()
    assert (case.level, case.max_level) == ("subdistrict", "subdistrict")
    ev = CaseEvent.objects.get(case=case, action="escalate")
    assert ev.role == "system" and ev.data["to_level"] == "subdistrict"
    assert OutboxMessage.objects.filter(payload__action="escalate").exists()
    # the next sweep within the grace period does nothing
    assert cases_escalate_overdue(city_id=c.city.pk) == []

    # grace: 2 working days after the due time → Thu 26th 15:30 local; then it goes to the district
    clock.freeze(dt.datetime(2026, 11, 26, 7, 31, tzinfo=dt.UTC))
    assert cases_escalate_overdue(city_id=c.city.pk) == [case.number]
    case.refresh_from_db()
    assert case.level == "district"
    assert cases_escalate_overdue(city_id=c.city.pk) == []


def test_handled_cases_wait_for_verification_and_are_not_escalated(small_city):
    c = small_city
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1])
    for who, action, data in [("station_a", "accept", {}),
                              ("station_a", "dispatch", {"unit": c.service_units["sanitation"].pk}),
                              ("sanitation_crew", "acknowledge", {}), ("sanitation_crew", "handle", {"note": "清"})]:
        case = case_act(city_id=c.city.pk, number=case.number, actor=c.actor(who), action=action, data=data)
    clock.freeze(clock.now() + dt.timedelta(days=30))
    assert cases_escalate_overdue(city_id=c.city.pk) == []


def test_unaccepted_report_escalates_after_its_first_response_deadline(small_city):
    c = small_city
    case = case_report(city=c.city, actor=None, category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1])
    clock.freeze(case.first_response_due + dt.timedelta(seconds=1))
    assert cases_escalate_overdue(city_id=c.city.pk) == [case.number]


def test_shares_of_cases_closed_in_the_community_and_subdistrict(small_city):
    c = small_city
    numbers = []
    for _ in range(3):
        case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["Q0101"].pk,
                           lon=ON_STREET[0], lat=ON_STREET[1])
        numbers.append(case.number)
    # one of the three escalates before it is worked on
    clock.freeze(Case.objects.get(number=numbers[0]).first_response_due + dt.timedelta(seconds=1))
    cases_escalate_overdue(city_id=c.city.pk)
    for n in numbers:
        for who, action, data in [("station_a", "accept", {}),
                                  ("station_a", "dispatch", {"unit": c.service_units["sanitation"].pk}),
                                  ("sanitation_crew", "acknowledge", {}),
                                  ("sanitation_crew", "handle", {"note": "ok"}),
                                  ("citizen", "verify", {}), ("station_a", "close", {})]:
            case_act(city_id=c.city.pk, number=n, actor=c.actor(who), action=action, data=data)
    shares = level_shares(c.city.pk)
    assert shares["closed"] == 3
    assert shares["closed_in_community"] == 0  # all three were escalated by the same sweep
    assert shares["subdistrict_share"] == 1.0
