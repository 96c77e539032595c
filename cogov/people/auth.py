"""Authentication helpers (身份认证): API tokens for staff."""

from __future__ import annotations

import secrets

from cogov.people.models import ApiToken, Person


def token_issue(*, person: Person, label: str = "") -> str:
    """Create a new API token for ``person`` and return it (only its hash is stored)."""
    key = "cg_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(person=person, key_hash=ApiToken.hash_key(key), label=label)
    return key


def person_for_token(key: str) -> Person | None:
    """The active person a token belongs to, or None."""
    if not key or len(key) > 200:
        return None
    tok = (
        ApiToken.objects.select_related("person")
        .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True, person__is_active=True)
        .first()
    )
    return tok.person if tok else None
