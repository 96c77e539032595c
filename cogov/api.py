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


#: pydantic's error types in Chinese (the API's first language); ``{…}`` are filled from the error's context.
#: A type not listed keeps pydantic's own (English) message.
ERROR_TEXTS = {
    "missing": "缺少此项",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "string_too_short": "太短（至少 {min_length} 个字符）",
    "string_too_long": "太长（最多 {max_length} 个字符）",
    "string_pattern_mismatch": "格式不对",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "list_type": "应为列表",
    "too_long": "太多（最多 {max_length} 项）",
    "too_short": "太少（至少 {min_length} 项）",
    "dict_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "不是有效的 JSON",
    "datetime_type": "应为日期时间",
    "datetime_parsing": "日期时间格式不对（例如 2026-11-26T09:30:00+08:00）",
    "datetime_from_date_parsing": "日期时间格式不对（例如 2026-11-26T09:30:00+08:00）",
    "date_parsing": "日期格式不对（例如 2026-11-26）",
    "date_from_datetime_parsing": "日期格式不对（例如 2026-11-26）",
    "value_error": "{error}",
}


def error_text(err: dict) -> str:
    """One validation error as Chinese text (pydantic's message when its type is not in ``ERROR_TEXTS``)."""
    text = ERROR_TEXTS.get(err.get("type", ""))
    if text is None:
        return str(err.get("msg", ""))
    ctx = dict(err.get("ctx") or {})
    if isinstance(ctx.get("expected"), str):  # "'normal', 'urgent' or 'emergency'" → 'normal'、'urgent'、'emergency'
        ctx["expected"] = ctx["expected"].replace(" or ", "、").replace(", ", "、")
    try:
        return text.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return str(err.get("msg", ""))


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    fields = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "payload", "query", "path", "file")]
        fields.append({"field": ".".join(loc), "message": error_text(err), "type": err.get("type", "")})
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
