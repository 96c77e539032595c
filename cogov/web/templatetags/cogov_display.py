"""Template filters for the one vocabulary of ``cogov.web.display``: ``light_name`` and ``duration``."""

from __future__ import annotations

from django import template

from cogov.web import display

register = template.Library()


@register.filter
def light_name(light) -> str:
    """``{{ "red"|light_name }}`` → 超时."""
    return display.light_name(light)


@register.filter
def duration(value) -> str:
    """``{{ timedelta|duration }}`` → 16.5 天 (sign dropped)."""
    return display.duration_text(value)
