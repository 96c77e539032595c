"""The one clock (时钟): every piece of code asks here for the time, so tests can freeze it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

_frozen: dt.datetime | None = None
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    """The current aware UTC time, or the frozen one in tests."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def freeze(at: dt.datetime | None) -> None:
    """Freeze the clock at ``at`` (aware); ``None`` lets it run again."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at
