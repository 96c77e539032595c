"""Photos on disk and in the database: a citizen uploads; staff keep the original, the public a copy."""

from __future__ import annotations

import io
import os
import stat

import pytest
from PIL import Image

from cogov.cases.models import Attachment
from cogov.cases.services import case_report
from cogov.errors import DomainError
from cogov.geo.services import city_ensure
from cogov.intake.photos import PhotoError, attach_photos, store_photos
from tests.conftest import ON_STREET
from tests.unit.test_photos import MAKE, encode, phone_jpeg, quadrants


@pytest.fixture
def media(settings, tmp_path):
    """MEDIA_ROOT in a fresh temporary directory (created by the first write)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def litter_case(small_city):
    c = small_city
    return case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], description="路边有一堆暴露垃圾")


def files_under(root) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_citizen_uploads_three_photos_and_each_gets_three_files_and_a_row(small_city, media):
    gps_jpeg = phone_jpeg(orientation=6)
    png = encode(quadrants(40, 20), "PNG")
    webp = encode(quadrants(30, 30), "WEBP")

    rows = store_photos(city_id=small_city.city.pk, files=[gps_jpeg, png, webp])

    assert [r.content_type for r in rows] == ["image/jpeg", "image/png", "image/webp"]
    assert [r.size for r in rows] == [len(gps_jpeg), len(png), len(webp)]
    assert [(r.width, r.height) for r in rows] == [(32, 64), (40, 20), (30, 30)]
    assert Attachment.objects.filter(city=small_city.city, case__isnull=True, kind="report").count() == 3
    for row, data, ext in zip(rows, [gps_jpeg, png, webp], ["jpg", "png", "webp"], strict=True):
        row.refresh_from_db()
        assert row.case_id is None and row.created_at is not None
        prefix = f"photos/2026/11/{row.sha256[:2]}/{row.sha256}"  # the frozen clock: November 2026
        assert (row.original, row.public, row.thumbnail) == (f"{prefix}.orig.{ext}", f"{prefix}.pub.jpg",
                                                             f"{prefix}.thumb.jpg")
        assert (media / row.original).read_bytes() == data  # the original for staff, byte for byte
        public = (media / row.public).read_bytes()
        assert Image.open(io.BytesIO(public)).format == "JPEG"
        assert dict(Image.open(io.BytesIO(public)).getexif()) == {}
        assert Image.open(media / row.thumbnail).format == "JPEG"
        # the original (with its GPS) is readable by the service only; the copies by a web server too
        assert stat.S_IMODE(os.stat(media / row.original).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(media / row.public).st_mode) == 0o644
    assert MAKE.encode() in (media / rows[0].original).read_bytes()
    assert MAKE.encode() not in (media / rows[0].public).read_bytes()
    assert Image.open(media / rows[0].public).size == (32, 64)  # upright
    assert len(files_under(media)) == 9
    assert not [f for f in files_under(media) if os.path.basename(f).startswith(".")]  # no temp files left


def test_one_bad_photo_in_a_batch_stores_nothing(small_city, media):
    good = phone_jpeg()
    truncated = phone_jpeg(width=200, height=100)[:600]
    with pytest.raises(PhotoError) as e:
        store_photos(city_id=small_city.city.pk, files=[good, truncated, encode(quadrants(), "PNG")])
    assert (e.value.code, e.value.status, e.value.detail["index"]) == ("photo_corrupt", 400, 1)
    assert Attachment.objects.count() == 0
    assert files_under(media) == []


def test_a_pdf_among_photos_is_refused_with_415_and_stores_nothing(small_city, media):
    with pytest.raises(PhotoError) as e:
        store_photos(city_id=small_city.city.pk, files=[phone_jpeg(), encode(quadrants(), "PDF")])
    assert (e.value.status, e.value.detail["index"]) == (415, 1)
    assert Attachment.objects.count() == 0 and files_under(media) == []


def test_too_many_photos_are_refused_before_any_is_read(small_city, media, settings):
    settings.COGOV_PHOTO_MAX_COUNT = 2
    with pytest.raises(PhotoError) as e:
        store_photos(city_id=small_city.city.pk, files=[b"junk"] * 3)
    assert (e.value.code, e.value.status) == ("photo_too_many", 400)
    assert Attachment.objects.count() == 0 and files_under(media) == []


def test_unknown_kind_is_refused(small_city, media):
    with pytest.raises(PhotoError) as e:
        store_photos(city_id=small_city.city.pk, files=[phone_jpeg()], kind="selfie")
    assert e.value.code == "photo_kind_unknown"


def test_an_empty_batch_stores_nothing(small_city, media):
    assert store_photos(city_id=small_city.city.pk, files=[]) == []
    assert files_under(media) == []


def test_every_write_is_fsynced_file_and_directory(small_city, media, monkeypatch):
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def spy(fd):
        st = os.fstat(fd)
        synced.append((st.st_dev, st.st_ino))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    [row] = store_photos(city_id=small_city.city.pk, files=[phone_jpeg()])

    def key(path):
        st = os.stat(path)
        return st.st_dev, st.st_ino

    for rel in (row.original, row.public, row.thumbnail):
        assert key(media / rel) in synced, rel  # the rename keeps the inode that was fsynced
    # the directory holding the new files, and the parent of every directory made on the way (media/ too)
    leaf = media / os.path.dirname(row.original)
    dirs = [d for d in [leaf, *leaf.parents] if d == media.parent or media.parent in d.parents]
    assert [str(d.relative_to(media.parent)) for d in dirs][-3:] == ["media/photos", "media", "."]
    for d in dirs:
        assert key(d) in synced, d


def test_a_failed_write_leaves_no_temp_file_and_no_row(small_city, media, monkeypatch):
    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        store_photos(city_id=small_city.city.pk, files=[phone_jpeg()])
    assert files_under(media) == [] and Attachment.objects.count() == 0


def test_identical_photos_are_stored_once_per_case_and_kind(small_city, media, litter_case):
    city_id, photo = small_city.city.pk, phone_jpeg()
    [first] = store_photos(city_id=city_id, files=[photo, photo], case=litter_case)
    [again] = store_photos(city_id=city_id, files=[photo], case=litter_case)
    assert again.pk == first.pk and again.case_id == litter_case.pk
    [after] = store_photos(city_id=city_id, files=[photo], kind="after", case=litter_case)
    assert after.pk != first.pk and after.kind == "after"
    assert Attachment.objects.filter(case=litter_case).count() == 2
    assert len(files_under(media)) == 3  # content-addressed: one set of files


def test_photo_of_another_citys_case_is_refused(small_city, media, litter_case):
    other = city_ensure(code="3701", name="济南市")
    with pytest.raises(DomainError) as e:
        store_photos(city_id=other.pk, files=[phone_jpeg()], case=litter_case)
    assert e.value.status == 404
    assert Attachment.objects.count() == 0 and files_under(media) == []


def test_photos_uploaded_first_are_attached_to_the_case_later(small_city, media, litter_case):
    rows = store_photos(city_id=small_city.city.pk, files=[phone_jpeg(), encode(quadrants(), "PNG")],
                        upload_token="tok-1")
    # someone else (no token, or another token) cannot take them
    for token in ("", "tok-2"):
        with pytest.raises(PhotoError):
            attach_photos(case=litter_case, attachment_ids=[rows[0].pk], upload_token=token)
    attached = attach_photos(case=litter_case, attachment_ids=[rows[1].pk, rows[0].pk], upload_token="tok-1")
    assert [a.pk for a in attached] == [rows[1].pk, rows[0].pk]
    assert set(litter_case.attachments.values_list("pk", flat=True)) == {rows[0].pk, rows[1].pk}

    # already attached: not again, not to another case
    with pytest.raises(PhotoError) as e:
        attach_photos(case=litter_case, attachment_ids=[rows[0].pk], upload_token="tok-1")
    assert (e.value.code, e.value.status, e.value.detail["ids"]) == ("photo_not_found", 404, [rows[0].pk])


def test_attach_is_all_or_nothing_and_only_within_the_city(small_city, media, litter_case):
    [mine] = store_photos(city_id=small_city.city.pk, files=[phone_jpeg()], upload_token="tok-1")
    other = city_ensure(code="3701", name="济南市")
    [theirs] = store_photos(city_id=other.pk, files=[encode(quadrants(), "PNG")])
    with pytest.raises(PhotoError) as e:
        attach_photos(case=litter_case, attachment_ids=[mine.pk, theirs.pk, 999_999], upload_token="tok-1")
    assert e.value.status == 404 and e.value.detail["ids"] == [theirs.pk, 999_999]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.case_id is None and theirs.case_id is None
    assert attach_photos(case=litter_case, attachment_ids=[]) == []


def test_attach_too_many_is_refused(small_city, media, litter_case, settings):
    settings.COGOV_PHOTO_MAX_COUNT = 1
    with pytest.raises(PhotoError) as e:
        attach_photos(case=litter_case, attachment_ids=[1, 2])
    assert e.value.code == "photo_too_many"
