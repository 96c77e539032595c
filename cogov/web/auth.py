"""Who is visiting: the city and the actor (with the role grants valid now), computed once per request."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from cogov.errors import DomainError
from cogov.people.permissions import STAFF_ROLES, Actor, actor_for


def city_of(request: HttpRequest):
    """The city the visitor works in (a staff member's own) or the installation's default city."""
    if not hasattr(request, "_cogov_city"):
        from cogov.geo.models import City

        user = getattr(request, "user", None)
        city = None
        if user is not None and user.is_authenticated and user.city_id:
            city = user.city
        if city is None:
            city = City.objects.filter(code=settings.COGOV_DEFAULT_CITY).first() or City.objects.order_by("id").first()
        if city is None:
            raise DomainError("no_city", _("平台尚未配置城市（请先运行 cogov demo 或导入辖区）"), status=404)
        request._cogov_city = city
    return request._cogov_city


def actor_of(request: HttpRequest) -> Actor | None:
    """The signed-in person as an actor in the city (None for an anonymous visitor)."""
    if not hasattr(request, "_cogov_actor"):
        user = getattr(request, "user", None)
        actor = None
        if user is not None and user.is_authenticated:
            actor = actor_for(user, city_id=city_of(request).pk)
        request._cogov_actor = actor
    return request._cogov_actor


def staff_required(view):
    """Send a visitor who is not signed in to the staff sign-in page (then back); a signed-in citizen (no staff
    role now) to his own reports, told why — not back to a sign-in page that would look as if it had failed."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        actor = actor_of(request)
        if actor is not None and not (actor.roles & STAFF_ROLES):
            from django.contrib import messages

            messages.info(request, _("工作台仅供工作人员使用；您上报的案件在「我的上报」。"))
            return redirect("citizen-my")
        if actor is None:
            return redirect(f"{settings.LOGIN_URL}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapped
