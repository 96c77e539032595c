"""Photo endpoints of /api/v1/: upload before reporting (or handling), and the original for staff."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.http import FileResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from cogov.cases.api import PhotoOut, _actor, errors, photo_out
from cogov.cases.models import Attachment
from cogov.errors import DomainError
from cogov.intake import photos, ratelimit
from cogov.people.permissions import roles_on_case

router = Router()


class UploadOut(Schema):
    #: Give it back with the report (``upload_token`` + ``photos``): only the uploader may attach these photos.
    upload_token: str
    photos: list[PhotoOut]


@router.post("/photos", response={201: UploadOut, **errors(400, 401, 403, 413, 415, 422, 429)}, tags=["photos"],
             summary="上传照片（JPEG/PNG/WebP）")
def upload_photos(request, files: list[UploadedFile] = File(...), kind: str = "report"):
    """Upload up to six photos; then report with their ids. Metadata (GPS included) never reaches the public."""
    actor, city = _actor(request, required=False)
    if actor is None or not actor.is_staff:
        ratelimit.enforce_public_limits(request, phone=None)
    if kind == "after" and (actor is None or not actor.is_staff):
        raise DomainError("role_not_allowed", "处置后照片只能由工作人员上传", status=403)
    limit = photos.PhotoLimits.from_settings()
    for i, f in enumerate(files):
        if f.size is not None and f.size > limit.max_bytes:  # refuse before reading it into memory
            raise photos.PhotoError("photo_too_large", f"第 {i + 1} 张照片超过 {limit.max_bytes // (1024 * 1024)} MB",
                                    detail={"index": i})
    token = "" if actor and actor.person_id else secrets.token_urlsafe(24)
    rows = photos.store_photos(city_id=city.pk, files=[f.read() for f in files], kind=kind,
                               uploaded_by_id=actor.person_id if actor else None, upload_token=token)
    return Status(201, UploadOut(upload_token=token, photos=[photo_out(a) for a in rows]))


@router.get("/photos/{photo_id}/original", response={200: None, **errors(401, 404)}, tags=["photos"],
            summary="原图（仅限有权限的工作人员）")
def photo_original(request, photo_id: int):
    """The original as uploaded (with its metadata) — staff with a role on the case only; else 404."""
    actor, city = _actor(request, required=True)
    a = Attachment.objects.select_related("case").filter(pk=photo_id, city=city).first()
    roles = roles_on_case(actor, a.case) - {"reporter"} if a is not None and a.case_id else set()
    if not roles:
        raise DomainError("photo_not_found", "照片不存在或无权查看", status=404)
    return FileResponse(open(Path(settings.MEDIA_ROOT) / a.original, "rb"), content_type=a.content_type)
