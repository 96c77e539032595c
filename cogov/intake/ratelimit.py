"""Rate limits (限流) of public intake: per client address and per phone, in fixed windows, in the database.

One row of ``RateCounter`` per (bucket, window). ``check_rate`` adds one to it with a single atomic upsert
(``INSERT … ON CONFLICT (bucket, window_start) DO UPDATE SET count = count + 1 RETURNING count``), so two
server processes counting the same client at the same moment both see a correct, distinct count (SQLite
≥ 3.35 and PostgreSQL; raw SQL because the ORM has no upsert that returns the new value).

Transactions: called outside any ``transaction.atomic()`` (as the edges do, first thing) the upsert is its
own short transaction, committed at once; on PostgreSQL the counter row is locked only for that statement.
Called inside an outer atomic block it runs in a savepoint of it: the outer block keeps working (a failed
upsert rolls back to the savepoint), but the count then commits — or rolls back — with the outer block, and
on PostgreSQL the counter row stays locked until then, which serialises that client's requests. So call it
before opening the transaction that does the work.

Settings: ``COGOV_RATE_PER_ADDRESS`` (default ``"30/600"``: 30 requests per 10 minutes) and
``COGOV_RATE_PER_PHONE`` (default ``"10/3600"``); ``""`` or ``None`` switches a limit off.
``COGOV_TRUSTED_PROXIES`` lists the reverse proxies (addresses or networks) whose ``X-Forwarded-For`` is
believed. Buckets carry a keyed hash of the address or phone, not the value itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.http import HttpRequest

from cogov import clock
from cogov.errors import DomainError
from cogov.intake.models import RateCounter

DEFAULT_PER_ADDRESS = "30/600"
DEFAULT_PER_PHONE = "10/3600"


@dataclass(frozen=True)
class RateResult:
    """限流结果 — whether this request is within the limit, this window's count, seconds until it ends."""

    allowed: bool
    retry_after: int
    count: int


def _window(now: dt.datetime, window_seconds: int) -> tuple[int, int]:
    """(window start in Unix seconds, seconds until the window ends, at least 1)."""
    ts = now.timestamp()
    start = int(ts // window_seconds) * window_seconds
    return start, max(1, math.ceil(start + window_seconds - ts))


def check_rate(*, bucket: str, limit: int, window_seconds: int, now: dt.datetime | None = None) -> RateResult:
    """计数 — count one request in ``bucket``'s current fixed window (aligned to ``window_seconds``).

    ``allowed`` is false once the window holds more than ``limit`` requests (refused requests are counted
    too); ``retry_after`` is the number of seconds until the window ends (≥ 1). See the module docstring for
    how it behaves inside and outside a transaction.
    """
    if limit < 0 or window_seconds < 1:
        raise ValueError("limit must be ≥ 0 and window_seconds ≥ 1")
    if len(bucket) > RateCounter._meta.get_field("bucket").max_length:
        raise ValueError("bucket name too long")
    start, retry_after = _window(now or clock.now(), window_seconds)
    alias = router.db_for_write(RateCounter)
    conn = connections[alias]
    q = conn.ops.quote_name
    table, count = q(RateCounter._meta.db_table), q("count")
    sql = (
        f"INSERT INTO {table} ({q('bucket')}, {q('window_start')}, {count}) VALUES (%s, %s, 1) "
        f"ON CONFLICT ({q('bucket')}, {q('window_start')}) DO UPDATE SET {count} = {table}.{count} + 1 "
        f"RETURNING {count}"
    )
    with transaction.atomic(using=alias), conn.cursor() as cursor:
        cursor.execute(sql, [bucket, start])
        (n,) = cursor.fetchone()
    return RateResult(allowed=n <= limit, retry_after=retry_after, count=n)


def prune_rates(*, older_than: dt.timedelta = dt.timedelta(days=1), now: dt.datetime | None = None) -> int:
    """清理 — delete counters of windows that started more than ``older_than`` ago (longer than any window)."""
    cutoff = int((now or clock.now()).timestamp() - older_than.total_seconds())
    deleted, _ = RateCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted


def _networks(value) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    nets = []
    for item in value or ():
        item = str(item).strip()
        if item:
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ImproperlyConfigured(f"COGOV_TRUSTED_PROXIES: 无效地址 {item!r}") from None
    return nets


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def client_address(request: HttpRequest) -> str:
    """客户端地址 — the peer's address (``REMOTE_ADDR``); behind a trusted proxy, the client it forwards for.

    ``X-Forwarded-For`` is read only when the peer is listed in ``settings.COGOV_TRUSTED_PROXIES``; it is
    walked from the right, skipping trusted proxies, and the first other address is the client (addresses
    further left were written by the client itself and prove nothing).
    """
    peer = _ip(request.META.get("REMOTE_ADDR", "")) or ipaddress.ip_address("0.0.0.0")
    trusted = _networks(getattr(settings, "COGOV_TRUSTED_PROXIES", ()))
    if not trusted or not any(peer in net for net in trusted):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        ip = _ip(hop)
        if ip is None:
            break  # garbage from here on: the last good hop is the best we know
        peer = ip
        if not any(ip in net for net in trusted):
            break
    return str(peer)


def _parse_limit(name: str, default: str) -> tuple[int, int] | None:
    value = getattr(settings, name, default)
    if value in (None, "", 0, "0"):
        return None
    try:
        if isinstance(value, str):
            limit, _, seconds = value.partition("/")
            parsed = int(limit), int(seconds)
        else:
            parsed = int(value[0]), int(value[1])
    except (TypeError, ValueError, IndexError):
        raise ImproperlyConfigured(f"{name} 应形如 \"30/600\"（次数/秒），而不是 {value!r}") from None
    if parsed[0] < 0 or parsed[1] < 1:
        raise ImproperlyConfigured(f"{name} 应形如 \"30/600\"（次数/秒），而不是 {value!r}")
    return parsed


def _digest(kind: str, value: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()[:32]}"


def _address_key(address: str) -> str:
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # one subscriber holds a whole /64: counting single IPv6 addresses would not limit anybody
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip) if ip else address


def _phone_key(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def enforce_public_limits(request: HttpRequest, *, phone: str | None) -> None:
    """公众受理限流 — count this public submission per client address and per phone (if given).

    Raises ``DomainError("rate_limited", …, status=429, detail={"retry_after": N})`` when either limit is
    exceeded; the edge answers 429 with ``Retry-After`` (see ``retry_after_headers``). Call it before any
    transaction is opened (module docstring).
    """
    checks = []
    per_address = _parse_limit("COGOV_RATE_PER_ADDRESS", DEFAULT_PER_ADDRESS)
    if per_address:
        checks.append((_digest("addr", _address_key(client_address(request))), *per_address))
    per_phone = _parse_limit("COGOV_RATE_PER_PHONE", DEFAULT_PER_PHONE)
    key = _phone_key(phone or "")
    if per_phone and key:
        checks.append((_digest("phone", key), *per_phone))
    now = clock.now()
    for bucket, limit, seconds in checks:
        result = check_rate(bucket=bucket, limit=limit, window_seconds=seconds, now=now)
        if not result.allowed:
            n = result.retry_after
            raise DomainError("rate_limited", f"提交过于频繁，请 {n} 秒后再试", status=429,
                              detail={"retry_after": n})


def retry_after_headers(err: DomainError) -> dict[str, str]:
    """The ``Retry-After`` header of an error that says when to come back (429, 409 in progress), or {}."""
    seconds = err.detail.get("retry_after") if isinstance(err.detail, dict) else None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return {"Retry-After": str(max(1, math.ceil(seconds)))}
    return {}
