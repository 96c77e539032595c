"""The hash chain of a case's events (事件哈希链): canonical JSON and SHA-256, plain Python.

hash = sha256(prev_hash + canonical_json(event without its hash)); canonical = UTF-8, sorted keys, no spaces,
times in UTC ISO 8601. No personal data goes into an event, so erasing a reporter never breaks the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Mapping


def canonical_time(at: dt.datetime) -> str:
    """An aware instant as UTC ISO 8601 with microseconds and a Z."""
    if at.tzinfo is None:
        raise ValueError("event times must be aware")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_body(
    *,
    case_number: str,
    seq: int,
    action: str,
    actor_ref: str,
    role: str,
    at: dt.datetime,
    from_state: str,
    to_state: str,
    data: Mapping,
) -> dict:
    """The hashed fields of an event."""
    return {
        "case": case_number,
        "seq": seq,
        "action": action,
        "actor": actor_ref,
        "role": role,
        "at": canonical_time(at),
        "from": from_state,
        "to": to_state,
        "data": data,
    }


def event_hash(prev_hash: str, body: Mapping) -> str:
    """The chain link: sha256 over the previous hash and the canonical body."""
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()
