"""Deadlines on cases use the official calendar, and the bureau's entries for years no library knows."""

from __future__ import annotations

import datetime as dt

import pytest

from cogov import clock
from cogov.cases.services import case_act, case_report, holidays_import
from cogov.errors import DomainError
from tests.conftest import ON_STREET


def dispatch_on(c, at):
    from cogov.people.models import RoleAssignment

    # the small city's heads were appointed "now"; these stories happen earlier, so appoint them earlier
    RoleAssignment.objects.update(valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    clock.freeze(at)
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06036"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1])
    case_act(city_id=c.city.pk, number=case.number, actor=c.actor("station_a"), action="accept")
    # 乱堆杂物 goes to enforcement (7 working days)
    return case_act(city_id=c.city.pk, number=case.number, actor=c.actor("station_a"), action="dispatch",
                    data={"unit": c.service_units["enforcement"].pk})


def test_national_day_2026_and_its_adjusted_saturday(small_city):
    # Wed 2026-09-30 10:00 local: Sep 30, (Oct 1–7 off), Oct 8, 9, 10 (Sat, worked), 12, 13, 14, 15 → Oct 15 10:00
    case = dispatch_on(small_city, dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC))
    assert case.handling_due == dt.datetime(2026, 10, 15, 2, 0, tzinfo=dt.UTC)
    assert case.deadline_fallback_years == []


def test_a_year_nobody_entered_falls_back_to_monday_to_friday_and_is_flagged(small_city):
    case = dispatch_on(small_city, dt.datetime(2027, 1, 5, 2, 0, tzinfo=dt.UTC))
    assert case.deadline_fallback_years == [2027]
    # Tue Jan 5 + 7 working days (Mon–Fri) → Thu Jan 14 10:00
    assert case.handling_due == dt.datetime(2027, 1, 14, 2, 0, tzinfo=dt.UTC)


def test_the_bureau_imports_a_year_and_deadlines_follow_it(small_city):
    n = holidays_import(city=small_city.city, year=2027,
                        content="date,is_workday,name\n2027-01-06,0,示例假日\n2027-01-09,1,调休上班\n",
                        source="示例通知")
    assert n == 2
    case = dispatch_on(small_city, dt.datetime(2027, 1, 5, 2, 0, tzinfo=dt.UTC))
    assert case.deadline_fallback_years == []
    # Jan 5, (6 off), 7, 8, 9 (Sat worked), 11, 12, 13, 14 → Jan 14 10:00
    assert case.handling_due == dt.datetime(2027, 1, 14, 2, 0, tzinfo=dt.UTC)


def test_a_bad_calendar_file_is_refused_whole(small_city):
    with pytest.raises(DomainError) as e:
        holidays_import(city=small_city.city, year=2027, content="2027-01-06,0\n2028-01-01,0\nnot-a-date,1\n")
    assert "不属于 2027" in e.value.message and "无法识别" in e.value.message
    from cogov.cases.models import CalendarDay, CalendarYear

    assert not CalendarDay.objects.exists() and not CalendarYear.objects.exists()
