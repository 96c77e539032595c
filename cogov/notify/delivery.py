"""Deliver the outbox (投递): claim due messages, send each outside any transaction, record the outcome.

Two workers never send one message twice: a short transaction claims a batch
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the IMMEDIATE transaction serialises
writers) and every claim is a conditional ``UPDATE … WHERE id = ? AND attempts = ? AND
next_attempt_at = ?`` whose row count is checked, which holds on both databases even without row
locks. A claim is a lease: a worker that dies mid-batch leaves its messages due again once the lease
runs out, and the receiver recognises the repeat by the ``X-Cogov-Dedup-Key`` header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F

from cogov import clock
from cogov.notify.models import InAppMessage, OutboxMessage

logger = logging.getLogger("cogov.notify")

DEDUP_HEADER = "X-Cogov-Dedup-Key"
#: 企业微信群机器人 refuses markdown content over 4096 bytes.
WECOM_MAX_BYTES = 4096
#: 钉钉 robot text limit (bytes), with a margin.
DINGTALK_MAX_BYTES = 18000


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "COGOV_OUTBOX_LEASE_SECONDS", 300))


def _timeout() -> float:
    return float(getattr(settings, "COGOV_OUTBOX_TIMEOUT_SECONDS", 5))


class DeliveryError(Exception):
    """Sending failed; the message is retried with back-off."""


class ReceiverUnreachable(DeliveryError):
    """No answer at all (refused, timed out): other messages to the same receiver wait for the next pass."""


class PermanentDeliveryError(DeliveryError):
    """The message can never be delivered as written (bad address, person gone): give up at once."""


@dataclass
class DeliveryStats:
    """What one pass did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: Claimed but handed back untried (receiver unreachable earlier in the pass, or the worker stopping).
    released: int = 0
    #: Seen due but claimed by another worker first.
    lost: int = 0

    def add(self, other: DeliveryStats) -> None:
        """Accumulate ``other`` into this."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Claim:
    message: OutboxMessage
    #: ``next_attempt_at`` before the claim, to hand the message back untried.
    due_at: dt.datetime


def deliver_due(*, limit: int = 100, now: dt.datetime | None = None,
                stop: threading.Event | None = None) -> DeliveryStats:
    """Deliver up to ``limit`` due outbox messages, oldest due first; a dead receiver holds up nothing else.

    Claims in chunks small enough that a chunk is sent well within the lease even if every receiver times out.
    ``stop`` (set by a signal) ends the pass after the current message; the rest of the chunk is handed back.
    ``now`` fixes the time for the whole pass (else the one clock is asked each time).
    """
    stats = DeliveryStats()
    chunk = max(1, int(_lease().total_seconds() / (2 * _timeout())))
    unreachable: set[str] = set()
    more = True
    while more and stats.claimed + stats.lost < limit and not (stop and stop.is_set()):
        size = min(chunk, limit - stats.claimed - stats.lost)
        claims, lost = _claim(now=now or clock.now(), size=size)
        stats.claimed += len(claims)
        stats.lost += lost
        more = len(claims) + lost == size  # a short chunk: nothing else was due
        for i, claim in enumerate(claims):
            if stop and stop.is_set():
                for rest in claims[i:]:
                    _release(rest, next_attempt_at=rest.due_at, note="")
                    stats.released += 1
                break
            _deliver_one(claim, now=now, unreachable=unreachable, stats=stats)
    return stats


def _claim(*, now: dt.datetime, size: int) -> tuple[list[_Claim], int]:
    """Claim up to ``size`` due messages in one short transaction; returns (claims, lost to others)."""
    with transaction.atomic():
        due = OutboxMessage.objects.filter(
            sent_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        return claim_rows(list(due[:size]), now=now)


def claim_rows(candidates: list[OutboxMessage], *, now: dt.datetime) -> tuple[list[_Claim], int]:
    """Claim ``candidates`` as read (possibly stale): a row changed since it was read is lost, not claimed."""
    lease_until = now + _lease()
    claims, lost = [], 0
    for m in candidates:
        won = OutboxMessage.objects.filter(
            pk=m.pk, attempts=m.attempts, next_attempt_at=m.next_attempt_at,
            sent_at__isnull=True, failed_at__isnull=True,
        ).update(attempts=F("attempts") + 1, next_attempt_at=lease_until)
        if won != 1:
            lost += 1
            continue
        due_at = m.next_attempt_at
        m.attempts += 1
        m.next_attempt_at = lease_until
        claims.append(_Claim(message=m, due_at=due_at))
    return claims, lost


def _mine(claim: _Claim):
    """The message row as long as it is still under this worker's claim."""
    m = claim.message
    return OutboxMessage.objects.filter(pk=m.pk, attempts=m.attempts, next_attempt_at=m.next_attempt_at,
                                        sent_at__isnull=True, failed_at__isnull=True)


def _deliver_one(claim: _Claim, *, now: dt.datetime | None, unreachable: set[str],
                 stats: DeliveryStats) -> None:
    m = claim.message
    receiver = _receiver(m)
    if receiver in unreachable:
        _release(claim, next_attempt_at=(now or clock.now()) + _backoff(1),
                 note="未尝试：接收方在本轮投递中无响应 (receiver unreachable earlier in this pass)")
        stats.released += 1
        return
    try:
        send(m)
    except DeliveryError as e:
        if isinstance(e, ReceiverUnreachable):
            unreachable.add(receiver)
        _record_failure(claim, e, at=now or clock.now(), permanent=isinstance(e, PermanentDeliveryError),
                        stats=stats)
        return
    except Exception as e:  # a bug in one sender must not stop the other messages
        logger.exception("outbox %s: unexpected error sending via %s", m.pk, m.channel)
        _record_failure(claim, e, at=now or clock.now(), permanent=False, stats=stats)
        return
    # Sent: mark it even if our lease ran out meanwhile (the receiver de-duplicates a second copy).
    sent = OutboxMessage.objects.filter(pk=m.pk, sent_at__isnull=True)
    sent.update(sent_at=now or clock.now(), last_error="")
    stats.sent += 1


def _receiver(m: OutboxMessage) -> str:
    """Who answers for this message: the robot's URL, or the one mail server for every address."""
    return f"smtp:{settings.EMAIL_HOST}:{settings.EMAIL_PORT}" if m.channel == "email" else m.recipient


def _backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: the configured first back-off, doubling each time."""
    return dt.timedelta(seconds=settings.COGOV_OUTBOX_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))


def _record_failure(claim: _Claim, error: BaseException, *, at: dt.datetime, permanent: bool,
                    stats: DeliveryStats) -> None:
    m = claim.message
    text = f"{type(error).__name__}: {error}"[:2000]
    logger.warning("outbox %s (%s → %s) attempt %s failed: %s",
                   m.pk, m.channel, redact(m.recipient), m.attempts, text)
    if permanent or m.attempts >= settings.COGOV_OUTBOX_MAX_ATTEMPTS:
        _mine(claim).update(failed_at=at, next_attempt_at=at, last_error=text)
        stats.failed += 1
    else:
        _mine(claim).update(next_attempt_at=at + _backoff(m.attempts), last_error=text)
        stats.retried += 1


def _release(claim: _Claim, *, next_attempt_at: dt.datetime, note: str) -> None:
    """Hand a claimed message back untried: the attempt is not counted."""
    m = claim.message
    fields: dict = {"attempts": m.attempts - 1, "next_attempt_at": next_attempt_at}
    if note:
        fields["last_error"] = note
    _mine(claim).update(**fields)


def redact(recipient: str) -> str:
    """A recipient fit for logs and lists: a webhook without its query (the token), a mailbox without name."""
    if "://" in recipient:
        parts = urlsplit(recipient)
        return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")
    if "@" in recipient:
        return "…@" + recipient.rsplit("@", 1)[1]
    return recipient


def outbox_retry_now(*, message_ids: list[int]) -> int:
    """Give failed or waiting messages a fresh start (attempts from zero, due now); sent ones stay."""
    return OutboxMessage.objects.filter(pk__in=message_ids, sent_at__isnull=True).update(
        failed_at=None, attempts=0, next_attempt_at=clock.now(), last_error=""
    )


# Channels ------------------------------------------------------------------------------------------------


def send(message: OutboxMessage) -> None:
    """Send one message through its channel; raises DeliveryError (or a subclass) when it did not arrive."""
    sender = SENDERS.get(message.channel)
    if sender is None:
        raise PermanentDeliveryError(f"未知渠道 unknown channel {message.channel!r}")
    sender(message)


def _title(m: OutboxMessage) -> str:
    return " ".join(str(m.payload.get("title") or "cogov 通知").split())


def _body(m: OutboxMessage) -> str:
    body = str(m.payload.get("body") or "")
    if m.payload.get("url"):
        body += f"\n\n[查看案件]({m.payload['url']})"
    return body


def _cut(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[: max_bytes - 3].decode("utf-8", "ignore") + "…"


def send_inapp(m: OutboxMessage) -> None:
    """站内消息: one InAppMessage per dedup_key, so a repeat after a crash adds nothing."""
    from cogov.people.models import Person

    try:
        person_id = int(m.recipient)
    except ValueError:
        raise PermanentDeliveryError(f"站内消息接收人不是人员编号：{m.recipient!r}") from None
    if not Person.objects.filter(pk=person_id).exists():
        raise PermanentDeliveryError(f"人员 {person_id} 不存在")
    InAppMessage.objects.get_or_create(
        dedup_key=m.dedup_key,
        defaults={
            "city_id": m.city_id, "person_id": person_id, "title": _title(m)[:200], "body": _body(m),
            "case_number": str(m.payload.get("case") or "")[:20], "created_at": clock.now(),
        },
    )


def send_email(m: OutboxMessage) -> None:
    """电子邮件 through Django's mail backend (settings.EMAIL_*); the Message-ID is stable per dedup_key."""
    if "@" not in m.recipient:
        raise PermanentDeliveryError(f"不是邮件地址：{m.recipient!r}")
    digest = hashlib.sha256(m.dedup_key.encode()).hexdigest()[:32]
    mail = EmailMessage(
        subject=_title(m), body=_body(m), to=[m.recipient],
        headers={DEDUP_HEADER: m.dedup_key, "Message-ID": f"<{digest}@cogov.invalid>"},
        connection=get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or _timeout()),
    )
    try:
        mail.send()
    except (ConnectionError, TimeoutError, socket.gaierror) as e:
        raise ReceiverUnreachable(f"邮件服务器无响应：{e}") from e
    except OSError as e:  # smtplib.SMTPException is an OSError
        raise DeliveryError(f"邮件发送失败：{e}") from e


def send_wecom(m: OutboxMessage) -> None:
    """企业微信群机器人 (markdown message)."""
    content = _cut(f"### {_title(m)}\n{_body(m)}", WECOM_MAX_BYTES)
    post_json(m.recipient, {"msgtype": "markdown", "markdown": {"content": content}}, dedup_key=m.dedup_key)


def send_dingtalk(m: OutboxMessage) -> None:
    """钉钉群机器人 (markdown message)."""
    title = _title(m)
    text = _cut(f"### {title}\n\n{_body(m)}", DINGTALK_MAX_BYTES)
    post_json(m.recipient, {"msgtype": "markdown", "markdown": {"title": title, "text": text}},
              dedup_key=m.dedup_key)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: urllib would resend a POST as a bodiless GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, body: dict, *, dedup_key: str) -> None:
    """POST ``body`` as JSON; success is a 2xx reply whose JSON (if any) has no ``errcode`` other than 0."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PermanentDeliveryError(f"不是 http(s) 地址：{url!r}")
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", DEDUP_HEADER: dedup_key,
                 "User-Agent": "cogov-notify/1"},
    )
    try:
        with _opener.open(request, timeout=_timeout()) as reply:
            status, raw = reply.status, reply.read(65536)
    except urllib.error.HTTPError as e:
        e.close()
        raise DeliveryError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise ReceiverUnreachable(f"无法连接：{e.reason}") from None
    except (TimeoutError, ConnectionError) as e:
        raise ReceiverUnreachable(f"无响应：{e!r}") from None
    except OSError as e:
        raise DeliveryError(f"{e!r}") from None
    except Exception as e:  # http.client.HTTPException and friends: a broken reply
        raise DeliveryError(f"{e!r}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return  # a plain receiver answering 2xx without JSON has it
    if isinstance(answer, dict) and answer.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(f"机器人拒绝：errcode {answer.get('errcode')} {answer.get('errmsg', '')}".strip())


SENDERS: dict[str, Callable[[OutboxMessage], None]] = {
    "inapp": send_inapp,
    "email": send_email,
    "wecom": send_wecom,
    "dingtalk": send_dingtalk,
}