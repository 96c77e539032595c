"""URL map: the API, the admin, and the start page."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from cogov.api import api
from cogov.intake.views import public_photo


def home(request):
    """A plain landing page until the citizen and staff pages arrive."""
    return HttpResponse(
        "<!doctype html><html lang='zh-Hans'><meta charset='utf-8'><title>cogov 共治</title>"
        "<body style='font-family: system-ui, \"PingFang SC\", \"Microsoft YaHei\", \"Noto Sans CJK SC\", sans-serif'>"
        "<h1>cogov 共治 · 城市共治平台</h1><ul>"
        "<li><a href='/admin/'>管理后台 Admin</a></li>"
        "<li><a href='/api/v1/docs'>接口文档 API docs</a> · <a href='/api/v1/openapi.json'>OpenAPI</a></li>"
        "</ul></body></html>"
    )


def health(request):
    """Liveness: a trivial endpoint (also the benchmarks' baseline)."""
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = "cogov 共治 · 管理后台"
admin.site.site_title = "cogov 共治"

urlpatterns = [
    path("", home),
    path("healthz", health),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("photos/<int:photo_id>/public.jpg", public_photo, {"variant": "public"}),
    path("photos/<int:photo_id>/thumb.jpg", public_photo, {"variant": "thumb"}),
    path("open311/v2/", include("cogov.cases.open311")),
]
