"""Public photo files: only the EXIF-free copy and the thumbnail, only of cases shown publicly."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404

from cogov.cases.models import Attachment


def public_photo(request, photo_id: int, variant: str):
    """``/photos/<id>/public.jpg`` or ``thumb.jpg`` of a photo on a case that is public (moderation ``ok``)."""
    a = Attachment.objects.select_related("case").filter(pk=photo_id).first()
    if a is None or a.case_id is None or a.case.moderation != "ok":
        raise Http404("照片不存在")
    rel = a.public if variant == "public" else a.thumbnail
    response = FileResponse(open(Path(settings.MEDIA_ROOT) / rel, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
