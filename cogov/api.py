"""The JSON API under /api/v1/ (django-ninja): thin — parse, call a service or selector, render.

Every error is a 4xx JSON body ``{"code": …, "message": …}`` with a stable code; nothing answers 500 for bad input.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer

from cogov.cases.api import router as cases_router
from cogov.errors import DomainError
from cogov.intake.api import router as photos_router
from cogov.intake.ratelimit import retry_after_headers
from cogov.people.auth import person_for_token

class ReadableJSON(JSONRenderer):
    """UTF-8 JSON with Chinese as Chinese, not \\u escapes (smaller, and readable in logs and curl)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=ReadableJSON(),
    title="cogov 共治 API",
    version="1",
    description="城市共治平台接口：上报、查询、办理案件，类别与定位。错误统一返回 {code, message}。",
    urls_namespace="api-v1",
)


class TokenAuth(HttpBearer):
    """Staff API token: ``Authorization: Bearer <token>``."""

    def authenticate(self, request: HttpRequest, token: str):
        person = person_for_token(token)
        if person is None:
            raise AuthenticationError(401, "令牌无效或已撤销")
        request.user = person
        return person


@api.exception_handler(DomainError)
def _domain_error(request, exc: DomainError):
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    for name, value in retry_after_headers(exc).items():
        response[name] = value
    return response


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    fields = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query", "path", "file")]
        fields.append({"field": ".".join(loc), "message": str(err.get("msg", "")), "type": err.get("type", "")})
    summary = "；".join(f"{f['field'] or '请求体'}：{f['message']}" for f in fields[:5])
    return api.create_response(
        request, {"code": "invalid_request", "message": f"请求无效：{summary}", "detail": {"errors": fields}},
        status=422,
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc: AuthenticationError):
    return api.create_response(request, {"code": "unauthorized", "message": str(exc.message or "需要登录")},
                               status=401)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api.create_response(request, {"code": "http_error", "message": str(exc)}, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"code": "not_found", "message": "不存在"}, status=404)


api.add_router("/", cases_router)
api.add_router("/", photos_router)
