"""Reads of cases: what an actor may see, calendars for deadlines, and the community/sub-district shares."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from cogov.cases import deadlines
from cogov.cases.models import CalendarDay, CalendarYear, Case, Category
from cogov.errors import DomainError
from cogov.people.permissions import Actor, case_not_found, roles_on_case, visible_cases

_LIBRARY = None


def work_calendar(city_id: int) -> deadlines.WorkCalendar:
    """The official calendar from the library, overlaid with the days and years the bureau entered."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = deadlines.library_calendar()
    days = list(CalendarDay.objects.filter(city_id=city_id).values_list("date", "is_workday"))
    years = list(CalendarYear.objects.filter(city_id=city_id).values_list("year", flat=True))
    if not days and not years:
        return _LIBRARY
    return _LIBRARY.merged(
        days_off=[d for d, w in days if not w], extra_workdays=[d for d, w in days if w], years=years
    )


def case_list_for_actor(actor: Actor) -> QuerySet[Case]:
    """The cases ``actor`` may see, newest first (cases elsewhere are simply not there)."""
    return (
        Case.objects.filter(visible_cases(actor))
        .select_related("category", "handler_unit", "district", "subdistrict", "community", "station")
        .order_by("-reported_at", "-id")
    )


def case_get_for_actor(actor: Actor, number: str) -> Case:
    """One case by number if ``actor`` may see it; otherwise 404 — whether it exists or not."""
    case = (
        Case.objects.filter(city_id=actor.city_id, number=number)
        .select_related("category", "handler_unit", "reporter", "district", "subdistrict", "community", "station")
        .first()
    )
    if case is None or not roles_on_case(actor, case):
        raise case_not_found(number)
    return case


def category_list(city_id: int, *, active_only: bool = True) -> QuerySet[Category]:
    """The city's categories with their limits."""
    qs = Category.objects.filter(city_id=city_id).prefetch_related("limits").order_by("edition", "code")
    return qs.filter(active=True) if active_only else qs


def level_shares(city_id: int, *, under_path: str = "") -> dict:
    """小事不出社区、大事不出街道: of closed cases, the share never escalated past the community / sub-district."""
    qs = Case.objects.filter(city_id=city_id, state="closed")
    if under_path:
        qs = qs.filter(unit_path__startswith=under_path)
    agg = qs.aggregate(
        closed=Count("id"),
        in_community=Count("id", filter=Q(max_level="community")),
        in_subdistrict=Count("id", filter=Q(max_level__in=["community", "subdistrict"])),
    )
    closed = agg["closed"] or 0
    return {
        "closed": closed,
        "closed_in_community": agg["in_community"],
        "closed_in_subdistrict": agg["in_subdistrict"],
        "community_share": (agg["in_community"] / closed) if closed else None,
        "subdistrict_share": (agg["in_subdistrict"] / closed) if closed else None,
    }
