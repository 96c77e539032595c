"""The one domain error type (领域错误): a stable code and a message people can read."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken by the caller's input; the edges turn this into a 4xx with ``code``.

    ``status`` is the HTTP status the edge should use: 400 bad input, 403 not allowed, 404 not found
    (also for things outside the caller's area: invisible, not forbidden), 409 conflict with the state.
    """

    def __init__(self, code: str, message: str, *, status: int = 400, detail: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail or {}

    def as_dict(self) -> dict:
        """The JSON body for the edge."""
        body = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body
