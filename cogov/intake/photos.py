"""Photos of a report (上报照片): checked by content, stripped of metadata, kept durably.

A photo arrives as bytes from a phone. ``process_photo`` decides what it is from its bytes alone (the file
name and the declared content type are never consulted), decodes it fully under a pixel limit, and makes
the two copies the public may see: an upright JPEG without any metadata (EXIF with GPS, XMP, ICC, comments)
and a thumbnail. The original is kept byte for byte, for staff only.

``store_photos`` writes the three files and the ``Attachment`` rows; ``attach_photos`` links photos uploaded
before the case existed. The checking half imports no Django at module level (settings are read lazily),
so it also runs in a bench or a worker without a database.

Decisions:

- Public copy and thumbnail are always baseline JPEG in sRGB with no embedded profile: an embedded ICC
  profile is converted to sRGB with LittleCMS (CMYK included) and then dropped; transparency is flattened on
  white. One output format keeps the paths fixed (``.pub.jpg``, ``.thumb.jpg``) and every browser shows it.
- The pixel limit is checked from the header before any decoding (PNG and WebP even before Pillow opens
  them: libwebp allocates its canvas on open), and never exceeds Pillow's own ``Image.MAX_IMAGE_PIXELS``,
  so whatever Pillow warns about as a possible bomb is refused as one.
- Orientation is applied after the downscale: the bounding box is square, so rotating first or last gives
  the same picture, and the full-size decoded image is never copied.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageFile

from cogov.errors import DomainError

try:  # LittleCMS ships in Pillow's wheels; a source build may lack it: colours are then converted naively.
    from PIL import ImageCms
except ImportError:  # pragma: no cover
    ImageCms = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from cogov.cases.models import Attachment, Case

KINDS = ("report", "after")

#: What the magic bytes name: (Pillow plugin to open with, Pillow formats accepted, content type, extension).
#: MPO is the multi-picture JPEG some phones write; its first picture is an ordinary JPEG.
_JPEG = ("JPEG", ("JPEG", "MPO"), "image/jpeg", "jpg")
_PNG = ("PNG", ("PNG",), "image/png", "png")
_WEBP = ("WEBP", ("WEBP",), "image/webp", "webp")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

#: EXIF orientation → the transposition that makes the picture upright (as ``ImageOps.exif_transpose``).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_STATUS = {
    "photo_too_large": 413,
    "photo_unsupported": 415,
    "photo_corrupt": 400,
    "photo_bomb": 400,
    "photo_too_many": 400,
    "photo_kind_unknown": 400,
    "photo_not_found": 404,
}

#: What Pillow and its decoders raise on a broken file once the format is known.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


class PhotoError(DomainError):
    """照片错误 — a photo refused; the status follows from the code (413 too large, 415 not a photo, else 4xx)."""

    def __init__(self, code: str, message: str, *, detail: dict | None = None) -> None:
        super().__init__(code, message, status=_STATUS.get(code, 400), detail=detail)


@dataclass(frozen=True)
class PhotoLimits:
    """照片限制 — sizes a photo and a batch must keep to."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_count: int = 6
    public_max_side: int = 1600
    thumb_side: int = 320
    public_quality: int = 85
    thumb_quality: int = 80

    @classmethod
    def from_settings(cls) -> PhotoLimits:
        """The limits from Django settings (``COGOV_PHOTO_*``), the defaults where unset."""
        from django.conf import settings

        d = cls()
        return cls(
            max_bytes=int(getattr(settings, "COGOV_PHOTO_MAX_BYTES", d.max_bytes)),
            max_pixels=int(getattr(settings, "COGOV_PHOTO_MAX_PIXELS", d.max_pixels)),
            max_count=int(getattr(settings, "COGOV_PHOTO_MAX_COUNT", d.max_count)),
            public_max_side=int(getattr(settings, "COGOV_PHOTO_PUBLIC_MAX_SIDE", d.public_max_side)),
            thumb_side=int(getattr(settings, "COGOV_PHOTO_THUMB_SIDE", d.thumb_side)),
        )


@dataclass(frozen=True)
class ProcessedPhoto:
    """一张已检查的照片 — the original and its two public copies, with what the database keeps about it.

    ``width`` and ``height`` are the original's, as displayed (after its EXIF orientation).
    """

    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    original: bytes = field(repr=False)
    public: bytes = field(repr=False)
    public_width: int
    public_height: int
    thumbnail: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes of the original."""
        return len(self.original)


def sniff(data: bytes) -> tuple[str, tuple[str, ...], str, str] | None:
    """The format the first bytes announce (JPEG, PNG, WebP), or None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return _JPEG
    if data[:8] == _PNG_SIGNATURE:
        return _PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as a PNG's IHDR or a WebP's first chunk declares them; None if not readable so."""
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP" or len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24-bit minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def process_photo(data: bytes, *, limits: PhotoLimits | None = None) -> ProcessedPhoto:
    """Check ``data`` is a whole JPEG, PNG or WebP photo and make its public copy and thumbnail.

    Raises ``PhotoError``: ``photo_too_large`` (413), ``photo_unsupported`` (415, by content),
    ``photo_corrupt`` (truncated or undecodable), ``photo_bomb`` (too many pixels, refused before decoding).
    Pure: no database; reads settings only when ``limits`` is not given.
    """
    limits = limits or PhotoLimits.from_settings()
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise PhotoError("photo_too_large", f"照片不能超过 {limits.max_bytes // (1024 * 1024)} MB",
                         detail={"max_bytes": limits.max_bytes, "size": len(data)})
    kind = sniff(data)
    if kind is None:
        raise PhotoError("photo_unsupported", "只接受 JPEG、PNG 或 WebP 格式的照片")
    fmt, pillow_formats, content_type, extension = kind

    img = _open_checked(data, fmt, pillow_formats, limits)
    try:
        public = _public_image(img, limits)
        width, height = (img.height, img.width) if public.upright_swapped else (img.width, img.height)
    finally:
        img.close()

    thumb = public.image.copy()
    thumb.thumbnail((limits.thumb_side, limits.thumb_side), Image.Resampling.LANCZOS)
    return ProcessedPhoto(
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        original=data,
        public=_jpeg(public.image, limits.public_quality),
        public_width=public.image.width,
        public_height=public.image.height,
        thumbnail=_jpeg(thumb, limits.thumb_quality),
    )


def _open_checked(data: bytes, fmt: str, pillow_formats: tuple[str, ...], limits: PhotoLimits) -> Image.Image:
    """Open with the one plugin the magic bytes named, refuse a bomb from the header, then decode it all."""
    corrupt = PhotoError("photo_corrupt", "照片文件已损坏或不完整，请重新拍摄或选择")
    bomb_limit = limits.max_pixels
    if Image.MAX_IMAGE_PIXELS is not None:
        bomb_limit = min(bomb_limit, Image.MAX_IMAGE_PIXELS)
    declared = header_size(data)
    if declared is not None and declared[0] * declared[1] > bomb_limit:
        raise _bomb(declared, bomb_limit)
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # the warning arrives as an exception only where warnings are errors; otherwise bomb_limit catches it
        raise _bomb(None, bomb_limit) from None
    except (*_DECODE_ERRORS, Warning):  # Warning: Pillow's "Corrupt EXIF" etc. where warnings are errors
        raise corrupt from None
    if img.format not in pillow_formats:  # pragma: no cover - formats=[fmt] already forbids it
        img.close()
        raise PhotoError("photo_unsupported", "只接受 JPEG、PNG 或 WebP 格式的照片")
    if img.width < 1 or img.height < 1:
        img.close()
        raise corrupt
    if img.width * img.height > bomb_limit:
        size = img.size
        img.close()
        raise _bomb(size, bomb_limit)
    # A truncated file must fail, not come back grey at the bottom, whatever another module set.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img.load()
    except (*_DECODE_ERRORS, Warning):
        img.close()
        raise corrupt from None
    if fmt == "PNG" and _PNG_IEND not in data:
        img.close()
        raise corrupt
    return img


def _bomb(size: tuple[int, int] | None, limit: int) -> PhotoError:
    detail: dict = {"max_pixels": limit}
    if size is not None:
        detail["width"], detail["height"] = size
    return PhotoError("photo_bomb", f"照片像素过多（上限 {limit // 1_000_000} 百万像素）", detail=detail)


@dataclass
class _Public:
    image: Image.Image
    upright_swapped: bool


def _public_image(img: Image.Image, limits: PhotoLimits) -> _Public:
    """The picture only: 8-bit, downscaled, upright, sRGB, no alpha, and a fresh image with no metadata."""
    orientation = _orientation(img)
    icc = img.info.get("icc_profile")
    work = _eight_bit(img)
    side = limits.public_max_side
    if max(work.size) > side:
        work = work.resize(_fit(work.size, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    elif work is img:
        work = img.copy()
    if orientation in _UPRIGHT:
        work = work.transpose(_UPRIGHT[orientation])
    work = _to_srgb(work, icc)
    if work.mode == "RGBA":
        flat = Image.new("RGB", work.size, (255, 255, 255))
        flat.paste(work, mask=work.getchannel("A"))
        work = flat
    elif work.mode not in ("RGB", "L"):
        work = work.convert("RGB")
    # Rebuilt from the pixels alone: no info, no EXIF, no XMP, no profile can ride along into the encoder.
    clean = Image.frombytes(work.mode, work.size, work.tobytes())
    return _Public(image=clean, upright_swapped=orientation in (5, 6, 7, 8))


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    scale = side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _orientation(img: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1 when absent or unreadable: metadata is dropped anyway."""
    try:
        value = img.getexif().get(0x0112, 1)
        return int(value)
    except (*_DECODE_ERRORS, KeyError, UserWarning):  # mangled EXIF must not refuse an otherwise good photo
        return 1


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in img.info


def _eight_bit(img: Image.Image) -> Image.Image:
    """``img`` itself when it is already L, RGB or CMYK; otherwise a converted copy (RGBA where alpha)."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits (a plain convert would clip everything above 255 to white)
        scaled = img.convert("I").point(lambda v: v * (1 / 257))
        return scaled.convert("L")
    if img.mode in ("L", "RGB", "CMYK") and "transparency" not in img.info:
        return img
    if _has_alpha(img):
        return img.convert("RGBA")
    return img.convert("RGB") if img.mode != "1" else img.convert("L")


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Colours converted from an embedded profile to sRGB (the public copy carries no profile)."""
    if icc and ImageCms is not None and img.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(img, source, srgb, outputMode=out_mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: fall back to the plain conversion below
    if img.mode == "CMYK":
        return img.convert("RGB")
    return img


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


# --- storage -------------------------------------------------------------------------------------------


def photo_paths(*, sha256: str, extension: str, year: int, month: int) -> dict[str, str]:
    """The three paths of a photo, relative to MEDIA_ROOT (``photos/yyyy/mm/ab/<sha256>.…``)."""
    base = f"photos/{year:04d}/{month:02d}/{sha256[:2]}/{sha256}"
    return {"original": f"{base}.orig.{extension}", "public": f"{base}.pub.jpg",
            "thumbnail": f"{base}.thumb.jpg"}


def store_photos(
    *, city_id: int, files: list[bytes], kind: str = "report", case: Case | None = None,
    uploaded_by_id: int | None = None, upload_token: str = "",
) -> list[Attachment]:
    """Check every photo, write its three files durably, and record an ``Attachment`` for each.

    Nothing is written when any photo is refused (the error's ``detail["index"]`` names it). Identical
    photos in one batch, or already on ``case`` with the same kind, give the one existing row. Rows come back
    in the order of first appearance; ``case`` may be None and be set later with ``attach_photos``.
    Files are written before the rows: a crash may leave unreferenced files, never a row without its files.
    """
    from django.conf import settings
    from django.db import transaction

    from cogov import clock
    from cogov.cases.models import Attachment, Case
    from cogov.insight.duplicates import perceptual_hash

    limits = PhotoLimits.from_settings()
    if kind not in KINDS:
        raise PhotoError("photo_kind_unknown", f"未知照片类型：{kind}")
    if len(files) > limits.max_count:
        raise PhotoError("photo_too_many", f"一次最多上传 {limits.max_count} 张照片",
                         detail={"max_count": limits.max_count, "count": len(files)})
    if case is not None and case.city_id != city_id:
        raise DomainError("unknown_case", "案件不存在", status=404)

    unique: dict[str, ProcessedPhoto] = {}
    for index, data in enumerate(files):
        try:
            photo = process_photo(data, limits=limits)
        except PhotoError as e:
            e.detail = {**e.detail, "index": index}
            raise
        unique.setdefault(photo.sha256, photo)
    if not unique:
        return []

    at = clock.now()
    local = at.astimezone(clock.LOCAL_TZ)
    root = Path(settings.MEDIA_ROOT)
    planned = [
        (p, photo_paths(sha256=p.sha256, extension=p.extension, year=local.year, month=local.month))
        for p in unique.values()
    ]
    _write_all(root, [
        (paths[which], content, mode)
        for photo, paths in planned
        for which, content, mode in (("original", photo.original, 0o600), ("public", photo.public, 0o644),
                                     ("thumbnail", photo.thumbnail, 0o644))
    ])

    with transaction.atomic():
        existing: dict[str, Attachment] = {}
        if case is not None:
            if not Case.objects.select_for_update().filter(pk=case.pk, city_id=city_id).exists():
                raise DomainError("unknown_case", "案件不存在", status=404)
            same = Attachment.objects.filter(case_id=case.pk, kind=kind, sha256__in=list(unique))
            for row in same.order_by("pk"):
                existing.setdefault(row.sha256, row)
        rows = []
        for photo, paths in planned:
            if photo.sha256 in existing:
                rows.append(existing[photo.sha256])
                continue
            rows.append(Attachment.objects.create(
                city_id=city_id, case=case, kind=kind, content_type=photo.content_type, width=photo.width,
                height=photo.height, size=photo.size, sha256=photo.sha256, original=paths["original"],
                public=paths["public"], thumbnail=paths["thumbnail"], created_at=at,
                uploaded_by_id=uploaded_by_id, upload_token=upload_token,
                phash=perceptual_hash(photo.thumbnail),  # for the duplicate scorer
            ))
    return rows


def attach_photos(
    *, case: Case, attachment_ids: list[int], uploaded_by_id: int | None = None, upload_token: str = "",
    kind: str | None = None,
) -> list[Attachment]:
    """Attach photos uploaded without a case to ``case``: only unattached photos of the case's city that the
    same uploader sent (the person, or the holder of the upload token); of ``kind`` when given.

    All or nothing: any id that is missing, of another city or already attached gives ``photo_not_found``
    (404, ids in ``detail``). Returns the rows in the order of ``attachment_ids``.
    """
    from django.db import transaction

    from cogov.cases.models import Attachment, Case

    limits = PhotoLimits.from_settings()
    ids = list(dict.fromkeys(int(i) for i in attachment_ids))
    if len(ids) > limits.max_count:
        raise PhotoError("photo_too_many", f"一次最多关联 {limits.max_count} 张照片",
                         detail={"max_count": limits.max_count, "count": len(ids)})
    if not ids:
        return []
    with transaction.atomic():
        if not Case.objects.select_for_update().filter(pk=case.pk, city_id=case.city_id).exists():
            raise DomainError("unknown_case", "案件不存在", status=404)
        rows = {
            a.pk: a
            for a in Attachment.objects.select_for_update().filter(
                # an id no database row can have (≤ 0, or past 64 bits) is simply not found
                _owner(uploaded_by_id, upload_token), pk__in=[i for i in ids if 0 < i < 2**63],
                city_id=case.city_id, case__isnull=True,
                **({"kind": kind} if kind else {}),
            )
        }
        missing = [i for i in ids if i not in rows]
        if missing:
            raise PhotoError("photo_not_found", "照片不存在或已关联到其他案件", detail={"ids": missing})
        Attachment.objects.filter(pk__in=ids).update(case=case)
    for row in rows.values():
        row.case = case
    return [rows[i] for i in ids]


def _owner(uploaded_by_id: int | None, upload_token: str):
    """Who may attach an upload: its person, else the bearer of its token; nobody for neither."""
    from django.db.models import Q

    if uploaded_by_id is not None:
        return Q(uploaded_by_id=uploaded_by_id)
    if upload_token:
        return Q(uploaded_by__isnull=True, upload_token=upload_token)
    return Q(pk__in=[])


def _write_all(root: Path, items: list[tuple[str, bytes, int]]) -> None:
    """Write each (relative path, bytes, mode) atomically and durably: temp, fsync, rename, fsync the dirs."""
    dirs: set[Path] = set()
    for rel, content, mode in items:
        path = root / rel
        _make_dirs(path.parent)
        _write_atomic(path, content, mode)
        dirs.add(path.parent)
    for d in sorted(dirs):
        _fsync_dir(d)


def _make_dirs(path: Path) -> None:
    """Create missing directories one by one, each made durable in its parent."""
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:  # pragma: no cover
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
        _fsync_dir(d.parent)


def _write_atomic(path: Path, content: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
