"""Idempotent submissions (幂等提交): a retry with the same ``Idempotency-Key`` gets the first answer, never a
second case — also when the two requests arrive at the same moment on two server processes.

How: the first request *claims* the key by inserting an ``IdempotencyRecord`` without an answer (status
NULL, "in progress") in its own committed transaction; the unique constraint (city, scope, key) lets exactly
one request win, in whichever process. The winner then runs ``produce()`` inside a transaction that also
writes the answer onto the record, so the case and its record commit together or not at all (a crash can
never leave a case without its record, nor a record pointing at a case that was rolled back). A loser waits
(short sleeps, up to ``COGOV_IDEMPOTENCY_WAIT_SECONDS``, default 10) until the record has an answer and
returns it, marked as replayed.

A claim whose process died before answering (no answer after ``COGOV_IDEMPOTENCY_LEASE_SECONDS``, default
60) is abandoned: the next request with that key deletes it and claims anew. Should the first process still
be running after all, its completion finds the record gone and its transaction rolls back — no second case.

Records older than 24 hours may be pruned (``prune_idempotency``): a key is a promise for one day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, router, transaction

from cogov import clock
from cogov.errors import DomainError
from cogov.intake.models import IdempotencyRecord

logger = logging.getLogger(__name__)

Answer = tuple[int, str, str]
#: (status, body, content_type, case id or None) — what ``produce`` returns.
Produced = tuple[int, str, str, int | None]

#: 1–200 printable ASCII characters, no space at either end (UUIDs, ULIDs, client counters …).
KEY_RE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?")
#: Refusals that may be different next time (credentials, conflicts, limits): never remembered.
RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 423, 425, 429})
JSON = "application/json; charset=utf-8"


def is_remembered(status: int) -> bool:
    """Whether an answer with ``status`` is kept for retries: successes and refusals of the input, not 5xx,
    nor refusals that may change (``RETRYABLE_STATUSES``)."""
    return status < 400 or (status < 500 and status not in RETRYABLE_STATUSES)


def fingerprint(data: object) -> bytes:
    """请求指纹 — sha256 of the canonical JSON of a parsed request body (key order and spacing do not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def render_json_error(exc: Exception) -> Answer | None:
    """The answer to remember for an exception from ``produce``: a ``DomainError`` as the API's JSON error
    body; ``None`` (nothing remembered) for anything else."""
    if isinstance(exc, DomainError):
        return exc.status, json.dumps(exc.as_dict(), ensure_ascii=False), JSON
    return None


class _ClaimLost(Exception):
    """Our claim was taken over as abandoned while we worked: roll back, then wait for the new owner."""


class _NotRemembered(Exception):
    def __init__(self, produced: Produced) -> None:
        self.produced = produced


def _validate(scope: str, key: str) -> None:
    if not scope or len(scope) > IdempotencyRecord._meta.get_field("scope").max_length:
        raise ValueError("scope must be 1–200 characters")
    if not KEY_RE.fullmatch(key):
        raise DomainError("bad_idempotency_key", "Idempotency-Key 须为 1–200 个可打印 ASCII 字符")


def _run(produce: Callable[[], Produced]) -> Produced:
    with transaction.atomic(using=router.db_for_write(IdempotencyRecord), durable=True):
        return produce()


def _claim(*, city_id: int, scope: str, key: str, request_hash: str) -> int | None:
    """Insert the in-progress record in its own committed transaction; ``None`` when the key is taken."""
    try:
        with transaction.atomic(using=router.db_for_write(IdempotencyRecord), durable=True):
            record = IdempotencyRecord.objects.create(city_id=city_id, scope=scope, key=key,
                                                      request_hash=request_hash, created_at=clock.now())
    except IntegrityError:
        return None
    return record.pk


def _release(record_id: int) -> None:
    """Give the key back; if even that fails the claim is abandoned and taken over after the lease."""
    try:
        IdempotencyRecord.objects.filter(pk=record_id, status__isnull=True).delete()
    except Exception:
        logger.exception("idempotency: could not release claim %s", record_id)


def _remember(record_id: int, answer: Answer, case_id: int | None = None) -> int:
    status, body, content_type = answer
    return IdempotencyRecord.objects.filter(pk=record_id, status__isnull=True).update(
        status=status, body=body, content_type=content_type, case_id=case_id)


def _produce_as_winner(record_id: int, produce: Callable[[], Produced],
                       render_error: Callable[[Exception], Answer | None]) -> Produced:
    """Run ``produce`` and write its answer onto the claim in one transaction (see ``idempotent``)."""
    alias = router.db_for_write(IdempotencyRecord)
    try:
        with transaction.atomic(using=alias, durable=True):
            produced = produce()
            status, body, content_type, case_id = produced
            if not is_remembered(status):
                raise _NotRemembered(produced)
            if _remember(record_id, (status, body, content_type), case_id) != 1:
                raise _ClaimLost
        return produced
    except _NotRemembered as e:
        _release(record_id)
        return e.produced
    except _ClaimLost:
        raise
    except BaseException as exc:
        answer = None
        if isinstance(exc, Exception):
            try:
                answer = render_error(exc)
            except Exception:
                logger.exception("idempotency: render_error failed")
        if answer is not None and is_remembered(answer[0]):
            try:
                with transaction.atomic(using=alias, durable=True):
                    _remember(record_id, answer)
            except Exception:
                logger.exception("idempotency: could not remember the refusal of claim %s", record_id)
                _release(record_id)
        else:
            _release(record_id)
        raise


def idempotent(
    *,
    city_id: int,
    scope: str,
    key: str | None,
    request_fingerprint: bytes,
    produce: Callable[[], Produced],
    render_error: Callable[[Exception], Answer | None] = render_json_error,
) -> tuple[int, str, str, bool]:
    """幂等 — answer a submission at most once per ``(city_id, scope, key)``; returns
    ``(status, body, content_type, replayed)``.

    ``scope`` names the door and the client the key belongs to (``"api:report:person:7"``,
    ``"open311:client:3"``); ``request_fingerprint`` is the request's canonical body or its hash
    (``fingerprint(payload)``) — the same key with a different fingerprint is refused with 422
    ``idempotency_key_reused``. Without a key, ``produce`` simply runs (in the same kind of transaction).
    A key that is not 1–200 printable ASCII characters is refused with 400 ``bad_idempotency_key``.

    The contract of ``produce() -> (status, body, content_type, case_id | None)``:

    - It runs at most once per key, in the process that won the claim, **inside a
      ``transaction.atomic()`` opened here** — the answer is written onto the record in that same
      transaction, after ``produce`` returns. So call ``idempotent`` outside any transaction (it refuses to
      run nested: durable blocks); inside ``produce`` the services' own ``transaction.atomic()`` nest as
      savepoints and their ``transaction.on_commit`` side effects (outbox) run after the joint commit.
      ``produce`` must not open a ``durable=True`` block, and should do no slow work (on SQLite the write
      lock is held while it runs).
    - It returns the final answer, body already serialised (e.g. ``CaseOut.model_dump_json()``), and the
      id of the case it created (kept on the record) or ``None``. An answer that ``is_remembered`` refuses
      (5xx, or a status in ``RETRYABLE_STATUSES``) is returned once, but its transaction is rolled back and
      the claim released.
    - It raises to refuse (``DomainError``, or the door's own error type). The exception is always
      re-raised this time, so the edge renders it as usual; ``render_error(exc)`` says what a retry gets:
      an answer ``(status, body, content_type)`` that ``is_remembered`` (a 4xx refusal of the input: 400,
      404, 422 …) is kept and replayed with ``replayed=True``; ``None`` — the default for anything but a
      ``DomainError`` — or a refusal that may change (401, 403, 408, 409, 423, 425, 429) is not kept: the
      claim is released and a retry runs ``produce`` again. Pass a ``render_error`` that renders your
      door's error body exactly as the edge does (the default is the API's JSON ``{code, message}``).

    A request that finds the key claimed by another one still at work waits for its answer; after
    ``COGOV_IDEMPOTENCY_WAIT_SECONDS`` it is refused with 409 ``idempotency_in_progress`` (with
    ``detail.retry_after``, for a ``Retry-After`` header).
    """
    if key is None:
        status, body, content_type, _ = _run(produce)
        return status, body, content_type, False
    _validate(scope, key)
    request_hash = hashlib.sha256(request_fingerprint).hexdigest()
    wait = float(getattr(settings, "COGOV_IDEMPOTENCY_WAIT_SECONDS", 10))
    lease = dt.timedelta(seconds=float(getattr(settings, "COGOV_IDEMPOTENCY_LEASE_SECONDS", 60)))
    deadline = time.monotonic() + wait
    pause = 0.02
    vanished = 0
    while True:
        record_id = _claim(city_id=city_id, scope=scope, key=key, request_hash=request_hash)
        if record_id is not None:
            try:
                status, body, content_type, _ = _produce_as_winner(record_id, produce, render_error)
            except _ClaimLost:
                continue
            return status, body, content_type, False
        while True:
            record = (IdempotencyRecord.objects.filter(city_id=city_id, scope=scope, key=key)
                      .values("pk", "request_hash", "status", "body", "content_type", "created_at").first())
            if record is None:
                # the winner gave up (its claim was released): try to claim it ourselves
                vanished += 1
                if vanished > 50:
                    raise RuntimeError("idempotency claim keeps failing without a record (foreign key?)")
                break
            if record["request_hash"] != request_hash:
                raise DomainError("idempotency_key_reused", "该 Idempotency-Key 已用于另一内容不同的请求",
                                  status=422)
            if record["status"] is not None:
                return record["status"], record["body"], record["content_type"], True
            if record["created_at"] < clock.now() - lease:
                IdempotencyRecord.objects.filter(pk=record["pk"], status__isnull=True,
                                                 created_at=record["created_at"]).delete()
                break
            if time.monotonic() >= deadline:
                raise DomainError("idempotency_in_progress", "相同 Idempotency-Key 的请求正在处理，请稍后重试",
                                  status=409, detail={"retry_after": 1})
            time.sleep(pause)
            pause = min(pause * 2, 0.25)


def prune_idempotency(*, older_than: dt.timedelta = dt.timedelta(hours=24),
                      now: dt.datetime | None = None) -> int:
    """清理 — delete records created more than ``older_than`` ago; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=(now or clock.now()) - older_than).delete()
    return deleted
