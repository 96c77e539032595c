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


@register.filter
def percent(value) -> str:
    """``{{ 0.9234|percent }}`` → 92.3%; a dash when nothing was counted."""
    return display.percent_text(value)


@register.filter
def eval_level(value) -> str:
    """``{{ "unit"|eval_level }}`` → 专业单位 (the levels of the monthly evaluation)."""
    return display.eval_level_name(value)


@register.filter
def hot_level(value) -> str:
    """``{{ "hot95"|hot_level }}`` → 热点（95%）."""
    return display.hot_level_name(value)
