"""Template context shared by every page: the city, the visitor's roles and the navigation they may use."""

from __future__ import annotations

from django.conf import settings


def site(request) -> dict:
    """``city_name``, ``visitor_roles``, ``is_staff_visitor`` and ``tile_url`` for the base template."""
    from cogov.errors import DomainError
    from cogov.people.permissions import STAFF_ROLES
    from cogov.web.auth import actor_of, city_of

    try:
        city_name = city_of(request).name
        actor = actor_of(request)
    except DomainError:  # no city configured yet: the pages still render their message
        city_name, actor = "", None
    roles = set(actor.roles) if actor else set()
    return {
        "city_name": city_name,
        "visitor_roles": roles,
        "is_staff_visitor": bool(roles & STAFF_ROLES),
        "tile_url": settings.COGOV_TILE_URL,
    }
