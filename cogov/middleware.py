"""Checks of every API request before its view."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse

NUL = "\x00"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _nul_in(request: HttpRequest) -> bool:
    if NUL in request.path or any(_has_nul(k) or _has_nul(v) for k, v in request.GET.lists()):
        return True
    if request.content_type == "application/json" and request.body:
        try:
            return _has_nul(json.loads(request.body))
        except ValueError:
            return False  # not JSON: the view answers that
    return False


def refuse_nul_characters(get_response):
    """空字符 — a NUL (U+0000) in an API request's path, query or JSON body is a 400 ``invalid_request``.

    PostgreSQL's text and jsonb cannot hold it: psycopg or the server refuses it, and the request would end in a
    500 wherever the value reaches a query. No one types it; Django's form fields refuse it too. Uploaded files
    may hold any byte and are not looked at.
    """

    def middleware(request: HttpRequest):
        if request.path.startswith("/api/") and _nul_in(request):
            return JsonResponse({"code": "invalid_request", "message": "请求无效：含有空字符（U+0000）"}, status=400,
                                json_dumps_params={"ensure_ascii": False})
        return get_response(request)

    return middleware
