"""Time limits over working days (工作日), official holidays and adjusted workdays (调休).

A pure module: standard library and ``chinese_calendar`` only, no Django, so the rules are unit-tested
without a database and the same arithmetic serves deadlines, suspensions and evaluation.

Working time is office hours on workdays, counted in local wall-clock time (``Asia/Shanghai`` unless told
otherwise); results are aware UTC datetimes. Years no calendar knows fall back to Monday–Friday and are
reported in ``Deadline.fallback_years`` so the UI can flag the deadline.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from chinese_calendar import constants as _official

__all__ = [
    "UNITS",
    "Deadline",
    "OfficeHours",
    "WorkCalendar",
    "add_working_time",
    "library_calendar",
    "traffic_light",
    "working_seconds_between",
]

UNITS = ("working_hours", "working_days", "hours", "calendar_days")

SHANGHAI = ZoneInfo("Asia/Shanghai")

_MICROS_PER_SECOND = 1_000_000
_MICROS_PER_DAY = 86_400 * _MICROS_PER_SECOND
_ONE_DAY = dt.timedelta(days=1)


def _check_plain_dates(dates: Iterable[dt.date], what: str) -> frozenset[dt.date]:
    """The dates as a frozenset; a datetime would never equal a date in a set lookup, so refuse it."""
    result = frozenset(dates)
    for d in result:
        if isinstance(d, dt.datetime) or not isinstance(d, dt.date):
            raise TypeError(f"{what} must hold datetime.date values, got {d!r}")
    return result


@dataclass(frozen=True)
class WorkCalendar:
    """Official days off and adjusted workdays (调休) per year, plus which years are known.

    ``days_off`` and ``extra_workdays`` are single-day facts and always apply; ``known_years`` says for which
    years the list is complete. A day with no entry is a workday from Monday to Friday.
    """

    days_off: frozenset[dt.date] = frozenset()
    extra_workdays: frozenset[dt.date] = frozenset()
    known_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        days_off = _check_plain_dates(self.days_off, "days_off")
        extra = _check_plain_dates(self.extra_workdays, "extra_workdays")
        both = days_off & extra
        if both:
            raise ValueError(f"dates both off and worked: {sorted(both)}")
        # Accept any iterable but store frozensets, so the calendar stays hashable and immutable.
        object.__setattr__(self, "days_off", days_off)
        object.__setattr__(self, "extra_workdays", extra)
        object.__setattr__(self, "known_years", frozenset(int(y) for y in self.known_years))

    def is_known(self, year: int) -> bool:
        """Whether the official list of days off and adjusted workdays is known for ``year``."""
        return year in self.known_years

    def is_workday(self, d: dt.date) -> bool:
        """Whether ``d`` is worked: an adjusted workday, else not a day off and Monday–Friday."""
        if isinstance(d, dt.datetime):
            raise TypeError("is_workday() takes a date, not a datetime")
        if d in self.extra_workdays:
            return True
        if d in self.days_off:
            return False
        return d.weekday() < 5

    def merged(
        self,
        *,
        days_off: Iterable[dt.date] = (),
        extra_workdays: Iterable[dt.date] = (),
        years: Iterable[int] = (),
    ) -> WorkCalendar:
        """A new calendar with the bureau's entries on top of this one.

        An entry overrides: a date entered as a workday leaves ``days_off`` and a date entered as off leaves
        ``extra_workdays``. The ``years`` given become known (the bureau imported that year's notice); a lone
        entry does not make its year known, so a single typhoon day off in 2027 keeps 2027 flagged.
        """
        new_off = _check_plain_dates(days_off, "days_off")
        new_work = _check_plain_dates(extra_workdays, "extra_workdays")
        both = new_off & new_work
        if both:
            raise ValueError(f"dates entered both as off and as worked: {sorted(both)}")
        return WorkCalendar(
            days_off=(self.days_off - new_work) | new_off,
            extra_workdays=(self.extra_workdays - new_off) | new_work,
            known_years=self.known_years | frozenset(int(y) for y in years),
        )


@functools.cache
def library_calendar() -> WorkCalendar:
    """The official calendar shipped by chinese_calendar (it knows years up to 2026)."""
    days_off = frozenset(_official.holidays)
    extra = frozenset(_official.workdays)
    years = frozenset(d.year for d in days_off | extra)
    return WorkCalendar(days_off=days_off, extra_workdays=extra, known_years=years)


def _time_offset(t: dt.time) -> int:
    """Microseconds since midnight of a wall-clock time."""
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _MICROS_PER_SECOND + t.microsecond


@dataclass(frozen=True)
class OfficeHours:
    """The daily office periods (办公时间), in local wall-clock time, sorted and not overlapping."""

    periods: tuple[tuple[dt.time, dt.time], ...] = (
        (dt.time(9), dt.time(12)),
        (dt.time(13, 30), dt.time(17, 30)),
    )
    _offsets: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        periods = tuple((opens, closes) for opens, closes in self.periods)
        if not periods:
            raise ValueError("office hours need at least one period")
        offsets = []
        previous_end = -1
        for opens, closes in periods:
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError("office hours are local wall-clock times without tzinfo")
            a, b = _time_offset(opens), _time_offset(closes)
            if not a < b:
                raise ValueError(f"office period {opens}–{closes} must open before it closes")
            if a < previous_end:
                raise ValueError("office periods must be sorted and must not overlap")
            offsets.append((a, b))
            previous_end = b
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "_offsets", tuple(offsets))

    @property
    def daily_seconds(self) -> float:
        """Office seconds in one workday (25,200 for 9:00–12:00 and 13:30–17:30)."""
        return self._daily_micros / _MICROS_PER_SECOND

    @property
    def _daily_micros(self) -> int:
        return sum(b - a for a, b in self._offsets)


@dataclass(frozen=True)
class Deadline:
    """When a time limit (时限) runs out, and which years had to be guessed as Monday–Friday."""

    due: dt.datetime
    fallback_years: tuple[int, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when some year crossed has no known calendar: show the deadline as provisional."""
        return bool(self.fallback_years)


def _require_aware(value: dt.datetime, name: str) -> None:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")


def _local_position(instant: dt.datetime, tz: dt.tzinfo) -> tuple[dt.date, int]:
    """The local date and microseconds since local midnight of an aware instant."""
    local = instant.astimezone(tz)
    return local.date(), _time_offset(local.time())


def _instant(day: dt.date, offset: int, tz: dt.tzinfo) -> dt.datetime:
    """The aware UTC instant of a local date plus microseconds since midnight."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=tz) + dt.timedelta(microseconds=offset)
    return local.astimezone(dt.UTC)


def add_working_time(
    start: dt.datetime,
    amount: float,
    unit: str,
    calendar: WorkCalendar,
    office_hours: OfficeHours = OfficeHours(),
    tz: ZoneInfo = SHANGHAI,
) -> Deadline:
    """The deadline ``amount`` ``unit``s after ``start``.

    ``working_hours`` and ``working_days`` count only office time on workdays (one working day is one
    day's office time, so Monday 10:00 + 1 working day is Tuesday 10:00); time outside office hours does
    not count and a zero amount moves ``start`` to the next moment the office is open. When the time runs
    out exactly as a period closes, the deadline is that closing time. ``hours`` and ``calendar_days`` are
    plain elapsed time and never flagged.
    """
    _require_aware(start, "start")
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise TypeError(f"amount must be a number, got {type(amount).__name__}")
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"amount must be a finite number >= 0, got {amount!r}")

    try:
        # In UTC, so a zone with summer time still adds elapsed time, not wall-clock time.
        if unit == "hours":
            return Deadline(due=start.astimezone(dt.UTC) + dt.timedelta(hours=amount))
        if unit == "calendar_days":
            return Deadline(due=start.astimezone(dt.UTC) + dt.timedelta(days=amount))
    except OverflowError as exc:
        raise ValueError(f"{amount} {unit} after {start} is beyond the supported range") from exc

    daily = office_hours._daily_micros
    per_unit = 3600 * _MICROS_PER_SECOND if unit == "working_hours" else daily
    remaining = round(amount * per_unit)

    day, position = _local_position(start, tz)
    if remaining > (dt.date.max - day).days * daily:  # fail fast instead of walking towards year 9999
        raise ValueError(f"{amount} {unit} after {start} is beyond the supported range")
    try:
        due, unknown = _walk(day, position, remaining, calendar, office_hours)
        return Deadline(due=_instant(due[0], due[1], tz), fallback_years=unknown)
    except OverflowError as exc:
        raise ValueError(f"{amount} {unit} after {start} is beyond the supported range") from exc


def _walk(
    day: dt.date, position: int, remaining: int, calendar: WorkCalendar, office_hours: OfficeHours
) -> tuple[tuple[dt.date, int], tuple[int, ...]]:
    """The local (date, offset) where ``remaining`` office microseconds run out, and unknown years seen."""
    periods = office_hours._offsets
    daily = office_hours._daily_micros
    unknown: set[int] = set()
    checked_year = -1
    while True:
        if day.year != checked_year:
            checked_year = day.year
            if not calendar.is_known(checked_year):
                unknown.add(checked_year)
        if calendar.is_workday(day):
            if position == 0 and remaining > daily:
                remaining -= daily  # a whole working day at once
            else:
                for opens, closes in periods:
                    if position >= closes:
                        continue
                    begin = max(position, opens)
                    available = closes - begin
                    if remaining <= available:
                        return (day, begin + remaining), tuple(sorted(unknown))
                    remaining -= available
                    position = closes
        day += _ONE_DAY
        position = 0


def working_seconds_between(
    start: dt.datetime,
    end: dt.datetime,
    calendar: WorkCalendar,
    office_hours: OfficeHours = OfficeHours(),
    tz: ZoneInfo = SHANGHAI,
) -> float:
    """Office seconds on workdays between two instants (0 if end <= start).

    Used to leave suspended time out of a limit and for evaluation; the inverse of ``working_hours``.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end <= start:
        return 0.0
    first_day, first_position = _local_position(start, tz)
    last_day, last_position = _local_position(end, tz)
    periods = office_hours._offsets
    daily = office_hours._daily_micros

    total = 0
    day = first_day
    while day <= last_day:
        if calendar.is_workday(day):
            lower = first_position if day == first_day else 0
            upper = last_position if day == last_day else _MICROS_PER_DAY
            if lower == 0 and upper == _MICROS_PER_DAY:
                total += daily
            else:
                for opens, closes in periods:
                    overlap = min(closes, upper) - max(opens, lower)
                    if overlap > 0:
                        total += overlap
        day += _ONE_DAY
    return total / _MICROS_PER_SECOND


def traffic_light(start: dt.datetime, due: dt.datetime, now: dt.datetime) -> str:
    """'green' while elapsed ≤ 80% of the limit, 'yellow' ≤ 100%, 'red' after.

    Elapsed time and the limit are wall-clock durations (``now - start`` against ``due - start``); a limit of
    zero or less is green until ``due`` and red after it.
    """
    _require_aware(start, "start")
    _require_aware(due, "due")
    _require_aware(now, "now")
    limit = due - start
    if limit <= dt.timedelta(0):
        return "red" if now > due else "green"
    elapsed = now - start
    # Integer timedelta arithmetic keeps "exactly 80%" exact.
    if elapsed * 5 <= limit * 4:
        return "green"
    if elapsed <= limit:
        return "yellow"
    return "red"
