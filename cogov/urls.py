"""URL map: the API, the admin, and the start page."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from cogov.api import api
from cogov.intake.views import public_photo


def health(request):
    """Liveness: a trivial endpoint (also the benchmarks' baseline)."""
    return HttpResponse("ok", content_type="text/plain")


admin.site.site_header = "cogov 共治 · 管理后台"
admin.site.site_title = "cogov 共治"

urlpatterns = [
    path("healthz", health),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("photos/<int:photo_id>/public.jpg", public_photo, {"variant": "public"}),
    path("photos/<int:photo_id>/thumb.jpg", public_photo, {"variant": "thumb"}),
    path("open311/v2/", include("cogov.cases.open311")),
    path("", include("cogov.web.urls")),
]
