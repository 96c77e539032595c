"""Time limits over the 2026 official calendar (工作日, 调休): hand-computed deadlines and properties.

Office hours are the default 9:00–12:00 and 13:30–17:30, so one working day is 7 working hours.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import timeit
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cogov.cases import deadlines
from cogov.cases.deadlines import (
    UNITS,
    Deadline,
    OfficeHours,
    WorkCalendar,
    add_working_time,
    library_calendar,
    traffic_light,
    working_seconds_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICIAL = library_calendar()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def due(start: datetime, amount: float, unit: str, calendar: WorkCalendar = OFFICIAL) -> datetime:
    deadline = add_working_time(start, amount, unit, calendar)
    assert deadline.due.tzinfo is UTC
    return deadline.due


# --- the official 2026 calendar ------------------------------------------------------------------------


def test_library_calendar_holds_the_2026_notice_as_published():
    off_2026 = {d for d in OFFICIAL.days_off if d.year == 2026}
    worked_2026 = {d for d in OFFICIAL.extra_workdays if d.year == 2026}

    def span(first: date, last: date) -> set[date]:
        return {first + timedelta(days=i) for i in range((last - first).days + 1)}

    assert off_2026 == (
        span(date(2026, 1, 1), date(2026, 1, 3))  # 元旦
        | span(date(2026, 2, 15), date(2026, 2, 23))  # 春节
        | span(date(2026, 4, 4), date(2026, 4, 6))  # 清明
        | span(date(2026, 5, 1), date(2026, 5, 5))  # 劳动节
        | span(date(2026, 6, 19), date(2026, 6, 21))  # 端午
        | span(date(2026, 9, 25), date(2026, 9, 27))  # 中秋
        | span(date(2026, 10, 1), date(2026, 10, 7))  # 国庆
    )
    assert worked_2026 == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }


def test_library_calendar_knows_2026_but_not_2027():
    assert OFFICIAL.is_known(2026)
    assert OFFICIAL.is_known(2004)
    assert not OFFICIAL.is_known(2027)
    assert library_calendar() is OFFICIAL


def test_is_workday_follows_days_off_and_adjusted_workdays():
    assert OFFICIAL.is_workday(date(2026, 9, 30))  # Wed
    assert not OFFICIAL.is_workday(date(2026, 10, 1))  # 国庆
    assert not OFFICIAL.is_workday(date(2026, 9, 25))  # 中秋, a Friday
    assert OFFICIAL.is_workday(date(2026, 9, 20))  # Sunday 调休
    assert OFFICIAL.is_workday(date(2026, 10, 10))  # Saturday 调休
    assert not OFFICIAL.is_workday(date(2026, 10, 11))  # plain Sunday
    # 2027 is unknown: Monday–Friday
    assert OFFICIAL.is_workday(date(2027, 1, 1))
    assert not OFFICIAL.is_workday(date(2027, 1, 2))


def test_is_workday_refuses_a_datetime():
    with pytest.raises(TypeError):
        OFFICIAL.is_workday(datetime(2026, 9, 30, 10))


def test_bureau_entries_override_the_library():
    calendar = OFFICIAL.merged(days_off=[date(2026, 10, 10)], extra_workdays=[date(2026, 10, 1)])
    assert not calendar.is_workday(date(2026, 10, 10))
    assert date(2026, 10, 10) not in calendar.extra_workdays
    assert calendar.is_workday(date(2026, 10, 1))
    assert date(2026, 10, 1) not in calendar.days_off
    # the original is untouched
    assert OFFICIAL.is_workday(date(2026, 10, 10))
    assert not OFFICIAL.is_workday(date(2026, 10, 1))


def test_merged_years_become_known_but_lone_entries_do_not_make_a_year_known():
    with_entry = OFFICIAL.merged(days_off=[date(2027, 1, 1)])
    assert not with_entry.is_workday(date(2027, 1, 1))
    assert not with_entry.is_known(2027)
    assert OFFICIAL.merged(years=[2027]).is_known(2027)


def test_a_date_cannot_be_both_off_and_worked():
    with pytest.raises(ValueError):
        OFFICIAL.merged(days_off=[date(2027, 1, 1)], extra_workdays=[date(2027, 1, 1)])
    with pytest.raises(ValueError):
        WorkCalendar(frozenset({date(2027, 1, 1)}), frozenset({date(2027, 1, 1)}), frozenset())
    with pytest.raises(TypeError):
        OFFICIAL.merged(days_off=[datetime(2027, 1, 1)])


# --- working days ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        # Mon 10:00 + 1 working day → Tue 10:00
        (local(2026, 9, 14, 10), 1, local(2026, 9, 15, 10)),
        # Wed Sep 30 (6 h) | Oct 1–7 off | Thu Oct 8 (7 h) | Fri Oct 9 (7 h) | Sat Oct 10 调休 (1 h) → 10:00
        (local(2026, 9, 30, 10), 3, local(2026, 10, 10, 10)),
        # Wed 16:00 before 国庆 → the next workday 16:00
        (local(2026, 9, 30, 16), 1, local(2026, 10, 8, 16)),
        # Fri Sep 18 10:00: Sat off, Sun Sep 20 is a 调休 workday → Sun 10:00
        (local(2026, 9, 18, 10), 1, local(2026, 9, 20, 10)),
        # Thu Sep 24 16:00: 中秋 Fri 25–Sun 27 off → Mon Sep 28 16:00
        (local(2026, 9, 24, 16), 1, local(2026, 9, 28, 16)),
        # Mon Sep 21 9:00, five whole days: Mon–Thu, then (中秋) Mon Sep 28, ending as the office closes
        (local(2026, 9, 21, 9), 5, local(2026, 9, 28, 17, 30)),
        # Thu Sep 17 14:00 + 10: Sep 18, 20, 21, 22, 23, 24, 28, 29, 30, Oct 8 → Thu Oct 8 14:00
        (local(2026, 9, 17, 14), 10, local(2026, 10, 8, 14)),
        # half a day = 3.5 working hours: 9:00–12:00, then 13:30–14:00
        (local(2026, 9, 14, 9), 0.5, local(2026, 9, 14, 14)),
        # starting on a holiday: the whole of Thu Oct 8
        (local(2026, 10, 1, 10), 1, local(2026, 10, 8, 17, 30)),
    ],
)
def test_working_days_over_the_2026_calendar(start, amount, expected):
    deadline = add_working_time(start, amount, "working_days", OFFICIAL)
    assert deadline.due == expected
    assert deadline.due.tzinfo is UTC
    assert deadline.fallback_years == ()
    assert not deadline.flagged


def test_three_working_days_from_30_september_is_saturday_10_october_in_utc():
    assert due(local(2026, 9, 30, 10), 3, "working_days") == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)


# --- working hours --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        # across lunch: 11:00–12:00, 13:30–16:30
        (local(2026, 9, 14, 11), 4, local(2026, 9, 14, 16, 30)),
        # across the evening: 16:00–17:30, then Tue 9:00–11:30
        (local(2026, 9, 14, 16), 4, local(2026, 9, 15, 11, 30)),
        # across lunch and evening, running out exactly as the office closes for lunch
        (local(2026, 9, 14, 11), 8, local(2026, 9, 15, 12)),
        (local(2026, 9, 14, 10), 2, local(2026, 9, 14, 12)),
        # starting at lunch counts from 13:30
        (local(2026, 9, 14, 12, 30), 1, local(2026, 9, 14, 14, 30)),
        # starting on a holiday: from Thu Oct 8 9:00
        (local(2026, 10, 1, 10), 4, local(2026, 10, 8, 14, 30)),
        # starting at 23:00
        (local(2026, 9, 14, 23), 2, local(2026, 9, 15, 11)),
        (local(2026, 9, 30, 23), 2, local(2026, 10, 8, 11)),
        (local(2026, 9, 18, 23), 1, local(2026, 9, 20, 10)),  # Sunday 调休
        # a 20-minute limit
        (local(2026, 9, 14, 11, 50), 1 / 3, local(2026, 9, 14, 13, 40)),
    ],
)
def test_working_hours_over_the_2026_calendar(start, amount, expected):
    assert due(start, amount, "working_hours") == expected


def test_a_start_given_in_utc_is_counted_in_shanghai_time():
    # 15:00 UTC on Monday is 23:00 in Shanghai
    start = datetime(2026, 9, 14, 15, 0, tzinfo=UTC)
    assert due(start, 2, "working_hours") == local(2026, 9, 15, 11)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (local(2026, 9, 14, 10), local(2026, 9, 14, 10)),
        (local(2026, 9, 14, 12), local(2026, 9, 14, 13, 30)),
        (local(2026, 9, 14, 12, 30), local(2026, 9, 14, 13, 30)),
        (local(2026, 9, 14, 17, 30), local(2026, 9, 15, 9)),
        (local(2026, 9, 14, 7), local(2026, 9, 14, 9)),
        (local(2026, 9, 19, 8), local(2026, 9, 20, 9)),  # Saturday → the Sunday 调休
        (local(2026, 10, 3, 8), local(2026, 10, 8, 9)),
    ],
)
def test_zero_amount_clips_to_the_next_office_moment(start, expected):
    assert due(start, 0, "working_hours") == expected
    assert due(start, 0, "working_days") == expected


def test_custom_office_hours():
    long_day = OfficeHours(periods=((time(8), time(18)),))
    assert long_day.daily_seconds == 36_000
    assert OfficeHours().daily_seconds == 25_200
    deadline = add_working_time(local(2026, 9, 14, 12), 1, "working_days", OFFICIAL, long_day)
    assert deadline.due == local(2026, 9, 15, 12)


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(12), time(9)),),
        ((time(9), time(9)),),
        ((time(13), time(17)), (time(9), time(12))),
        ((time(9), time(13)), (time(12), time(17))),
    ],
)
def test_office_hours_must_be_sorted_positive_periods(periods):
    with pytest.raises(ValueError):
        OfficeHours(periods=periods)


# --- years no calendar knows ---------------------------------------------------------------------------


def test_2027_falls_back_to_monday_to_friday_and_is_flagged():
    deadline = add_working_time(local(2027, 3, 1, 10), 5, "working_days", OFFICIAL)
    assert deadline.due == local(2027, 3, 8, 10)
    assert deadline.fallback_years == (2027,)
    assert deadline.flagged
    # a Saturday start waits for Monday
    assert due(local(2027, 3, 6, 10), 1, "working_hours") == local(2027, 3, 8, 10)


def test_a_deadline_from_late_december_2026_into_2027_is_flagged():
    deadline = add_working_time(local(2026, 12, 31, 10), 1, "working_days", OFFICIAL)
    assert deadline.due == local(2027, 1, 1, 10)  # New Year's Day assumed worked: unknown
    assert deadline.fallback_years == (2027,)
    assert deadline.flagged


def test_a_deadline_ending_on_31_december_does_not_look_at_2027():
    deadline = add_working_time(local(2026, 12, 31, 9), 1, "working_days", OFFICIAL)
    assert deadline.due == local(2026, 12, 31, 17, 30)
    assert not deadline.flagged


def test_the_bureau_imports_2027_and_the_flag_goes():
    calendar = OFFICIAL.merged(days_off=[date(2027, 1, 1)], years=[2027])
    deadline = add_working_time(local(2026, 12, 31, 10), 1, "working_days", calendar)
    # Fri Jan 1 off, Sat–Sun weekend → Mon Jan 4
    assert deadline.due == local(2027, 1, 4, 10)
    assert deadline.fallback_years == ()
    assert not deadline.flagged
    assert not add_working_time(local(2027, 3, 1, 10), 5, "working_days", calendar).flagged


def test_a_lone_entry_skips_the_day_but_keeps_the_flag():
    calendar = OFFICIAL.merged(days_off=[date(2027, 1, 1)])
    deadline = add_working_time(local(2026, 12, 31, 10), 1, "working_days", calendar)
    assert deadline.due == local(2027, 1, 4, 10)
    assert deadline.fallback_years == (2027,)


def test_bureau_overrides_move_deadlines():
    no_saturday = OFFICIAL.merged(days_off=[date(2026, 10, 10)])
    assert due(local(2026, 9, 30, 10), 3, "working_days", no_saturday) == local(2026, 10, 12, 10)
    first_worked = OFFICIAL.merged(extra_workdays=[date(2026, 10, 1)])
    assert due(local(2026, 9, 30, 16), 1, "working_days", first_worked) == local(2026, 10, 1, 16)


def test_an_empty_calendar_is_monday_to_friday_and_flags_every_year():
    deadline = add_working_time(local(2026, 9, 30, 16), 1, "working_days", WorkCalendar())
    assert deadline.due == local(2026, 10, 1, 16)
    assert deadline.fallback_years == (2026,)


# --- plain time -----------------------------------------------------------------------------------------


def test_hours_and_calendar_days_are_plain_elapsed_time():
    start = local(2026, 9, 30, 10)
    assert due(start, 48, "hours") == local(2026, 10, 2, 10)
    assert due(start, 3, "calendar_days") == local(2026, 10, 3, 10)
    assert due(start, 1.5, "calendar_days") == local(2026, 10, 1, 22)
    assert due(start, 0, "hours") == start
    late = add_working_time(local(2027, 6, 5, 23), 2, "calendar_days", OFFICIAL)
    assert late.due == local(2027, 6, 7, 23)
    assert late.fallback_years == ()


# --- bad input ------------------------------------------------------------------------------------------


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        add_working_time(datetime(2026, 9, 30, 10), 1, "working_days", OFFICIAL)


@pytest.mark.parametrize("amount", [-1, -0.001, math.nan, math.inf])
def test_a_negative_or_non_finite_amount_is_refused(amount):
    with pytest.raises(ValueError):
        add_working_time(local(2026, 9, 30, 10), amount, "working_hours", OFFICIAL)


@pytest.mark.parametrize("unit", ["weeks", "working_weeks", "", "Hours"])
def test_an_unknown_unit_is_refused(unit):
    with pytest.raises(ValueError, match="unit"):
        add_working_time(local(2026, 9, 30, 10), 1, unit, OFFICIAL)


def test_an_amount_beyond_the_calendar_is_a_value_error():
    with pytest.raises(ValueError):
        add_working_time(local(2026, 9, 30, 10), 1e9, "working_days", OFFICIAL)
    with pytest.raises(ValueError):
        add_working_time(local(2026, 9, 30, 10), 1e9, "calendar_days", OFFICIAL)


def test_naive_datetimes_are_refused_everywhere():
    naive, aware = datetime(2026, 9, 30, 10), local(2026, 9, 30, 10)
    with pytest.raises(ValueError):
        working_seconds_between(naive, aware, OFFICIAL)
    with pytest.raises(ValueError):
        working_seconds_between(aware, naive, OFFICIAL)
    with pytest.raises(ValueError):
        traffic_light(aware, aware, naive)


# --- working seconds between ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (local(2026, 9, 14), local(2026, 9, 15), 7),
        (local(2026, 9, 14, 11), local(2026, 9, 14, 14), 1.5),
        (local(2026, 9, 14, 12), local(2026, 9, 14, 13, 30), 0),
        (local(2026, 9, 30, 10), local(2026, 10, 8, 10), 7),  # across 国庆
        (local(2026, 9, 24, 16), local(2026, 9, 28, 16), 7),  # across 中秋
        (local(2026, 9, 19), local(2026, 9, 21), 7),  # the Sunday 调休 counts
        (local(2026, 9, 15), local(2026, 9, 14), 0),
        (local(2026, 9, 14, 10), local(2026, 9, 14, 10), 0),
    ],
)
def test_working_seconds_between(start, end, hours):
    assert working_seconds_between(start, end, OFFICIAL) == hours * 3600


# --- traffic light --------------------------------------------------------------------------------------


def test_traffic_light_boundaries():
    start = local(2026, 9, 14, 9)
    limit = timedelta(hours=10)
    end = start + limit
    tick = timedelta(microseconds=1)
    assert traffic_light(start, end, start) == "green"
    assert traffic_light(start, end, start - timedelta(hours=1)) == "green"
    assert traffic_light(start, end, start + limit * 0.8) == "green"  # exactly 80%
    assert traffic_light(start, end, start + limit * 0.8 + tick) == "yellow"
    assert traffic_light(start, end, end) == "yellow"  # exactly due
    assert traffic_light(start, end, end + tick) == "red"


def test_traffic_light_with_a_limit_of_zero_or_less():
    at = local(2026, 9, 14, 9)
    assert traffic_light(at, at, at) == "green"
    assert traffic_light(at, at, at + timedelta(seconds=1)) == "red"
    earlier = at - timedelta(hours=1)
    assert traffic_light(at, earlier, earlier) == "green"
    assert traffic_light(at, earlier, at) == "red"


# --- speed and purity -----------------------------------------------------------------------------------


def test_a_twenty_working_day_deadline_is_well_under_a_millisecond():
    start = local(2026, 9, 1, 10)
    runs = 200
    best = min(
        timeit.repeat(lambda: add_working_time(start, 20, "working_days", OFFICIAL), number=runs, repeat=5)
    )
    assert best / runs < 0.001


def test_deadlines_imports_only_the_standard_library_and_chinese_calendar():
    tree = ast.parse(Path(deadlines.__file__).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"chinese_calendar"}


def test_deadlines_imports_without_django():
    code = "import sys, cogov.cases.deadlines; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- properties -----------------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, SHANGHAI]),
)
working_units = st.sampled_from(["working_hours", "working_days"])


@st.composite
def starts_in_office_hours(draw) -> datetime:
    day = draw(
        st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)).filter(OFFICIAL.is_workday)
    )
    opens, closes = draw(st.sampled_from(OfficeHours().periods))
    begin = datetime.combine(day, opens, tzinfo=SHANGHAI)
    length = datetime.combine(day, closes, tzinfo=SHANGHAI) - begin
    offset = draw(st.integers(0, length // timedelta(microseconds=1) - 1))
    return begin + timedelta(microseconds=offset)


@settings(max_examples=300)
@given(start=starts, amount=st.floats(0, 200), unit=st.sampled_from(UNITS))
def test_due_is_never_before_start(start, amount, unit):
    deadline = add_working_time(start, amount, unit, OFFICIAL)
    assert deadline.due >= start
    assert deadline.due.tzinfo is UTC


@settings(max_examples=300)
@given(start=starts, amounts=st.tuples(st.floats(0, 100), st.floats(0, 100)), unit=st.sampled_from(UNITS))
def test_due_is_monotonic_in_amount(start, amounts, unit):
    smaller, larger = sorted(amounts)
    earlier = add_working_time(start, smaller, unit, OFFICIAL).due
    assert earlier <= add_working_time(start, larger, unit, OFFICIAL).due


@settings(max_examples=300)
@given(start=starts_in_office_hours(), hours=st.floats(0, 300))
def test_working_seconds_between_inverts_working_hours(start, hours):
    end = add_working_time(start, hours, "working_hours", OFFICIAL).due
    assert abs(working_seconds_between(start, end, OFFICIAL) - hours * 3600) <= 1


@settings(max_examples=200)
@given(start=starts, hours=st.floats(0, 300))
def test_working_seconds_between_inverts_working_hours_from_any_start(start, hours):
    end = add_working_time(start, hours, "working_hours", OFFICIAL).due
    assert abs(working_seconds_between(start, end, OFFICIAL) - hours * 3600) <= 1


@given(start=starts, days=st.floats(0, 40))
def test_a_working_day_is_a_days_office_hours(start, days):
    by_days = add_working_time(start, days, "working_days", OFFICIAL).due
    by_hours = add_working_time(start, days * 7, "working_hours", OFFICIAL).due
    assert abs(by_days - by_hours) <= timedelta(microseconds=1)


@given(start=starts, amount=st.floats(0, 100), unit=working_units)
def test_due_falls_in_office_hours_on_a_workday(start, amount, unit):
    moment = add_working_time(start, amount, unit, OFFICIAL).due.astimezone(SHANGHAI)
    assert OFFICIAL.is_workday(moment.date())
    assert any(opens <= moment.time() <= closes for opens, closes in OfficeHours().periods)


@given(start=starts, amount=st.floats(0, 100), unit=working_units)
def test_fallback_years_are_exactly_the_unknown_years_crossed(start, amount, unit):
    deadline = add_working_time(start, amount, unit, OFFICIAL)
    first, last = start.astimezone(SHANGHAI).year, deadline.due.astimezone(SHANGHAI).year
    assert deadline.fallback_years == tuple(y for y in range(first, last + 1) if y >= 2027)
    assert deadline.flagged == bool(deadline.fallback_years)


def test_deadline_flag():
    at = datetime(2027, 1, 1, tzinfo=UTC)
    assert Deadline(at, (2027,)).flagged
    assert not Deadline(at, ()).flagged
