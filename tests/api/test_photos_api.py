"""Photos through the API: upload, report with them, public copies only, originals for staff in scope."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cogov.cases.models import Attachment, Case
from cogov.people.auth import token_issue
from tests.conftest import ON_STREET


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (36.0, 3.0, 40.0), 3: "E", 4: (120.0, 19.0, 12.0)}
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 50, 50)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def upload(client, data: bytes, name="p.jpg", **headers):
    return client.post("/api/v1/photos", {"files": [io.BytesIO(data)]}, **headers)


def test_citizen_uploads_then_reports_and_the_public_sees_only_the_clean_copy(client, small_city):
    r = upload(client, jpeg_with_gps())
    assert r.status_code == 201, r.content
    body = r.json()
    token, photo_id = body["upload_token"], body["photos"][0]["id"]
    r = client.post("/api/v1/cases", {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0],
                                      "lat": ON_STREET[1], "photos": [photo_id], "upload_token": token},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    assert [p["id"] for p in r.json()["photos"]] == [photo_id]
    public = client.get(f"/photos/{photo_id}/public.jpg")
    assert public.status_code == 200
    data = b"".join(public.streaming_content)
    assert Image.open(io.BytesIO(data)).getexif() == {} and b"Exif" not in data
    # the original (with GPS) is for staff with a role on the case, not for the public or other staff
    assert client.get(f"/api/v1/photos/{photo_id}/original").status_code == 401
    other = token_issue(person=small_city.people["station_b"])
    assert client.get(f"/api/v1/photos/{photo_id}/original",
                      HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404
    mine = token_issue(person=small_city.people["station_a"])
    r = client.get(f"/api/v1/photos/{photo_id}/original", HTTP_AUTHORIZATION=f"Bearer {mine}")
    assert r.status_code == 200 and b"".join(r.streaming_content) == jpeg_with_gps()


def test_a_photo_cannot_be_attached_without_its_upload_token(client, small_city):
    photo_id = upload(client, jpeg_with_gps()).json()["photos"][0]["id"]
    r = client.post("/api/v1/cases", {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0],
                                      "lat": ON_STREET[1], "photos": [photo_id], "upload_token": "guess"},
                    content_type="application/json")
    assert r.status_code == 404 and r.json()["code"] == "photo_not_found"
    assert Case.objects.count() == 0  # nothing half-written
    assert Attachment.objects.get(pk=photo_id).case_id is None


@pytest.mark.parametrize("photo_id", [0, -1, 2**63, 2**64 + 5])
def test_a_photo_id_no_row_can_have_is_not_found_not_a_crash(client, small_city, photo_id):
    r = client.post("/api/v1/cases", {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0],
                                      "lat": ON_STREET[1], "photos": [photo_id], "upload_token": "x"},
                    content_type="application/json")
    assert r.status_code == 404 and r.json()["code"] == "photo_not_found"
    assert Case.objects.count() == 0


@pytest.mark.parametrize("data,status,code", [
    (b"%PDF-1.4 not a photo", 415, "photo_unsupported"),
    (jpeg_with_gps()[:200], 400, "photo_corrupt"),
])
def test_bad_files_are_refused_with_a_clear_4xx(client, small_city, data, status, code):
    r = upload(client, data)
    assert r.status_code == status and r.json()["code"] == code


def test_held_cases_do_not_show_their_photos(client, small_city):
    body = upload(client, jpeg_with_gps()).json()
    r = client.post("/api/v1/cases", {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0],
                                      "lat": ON_STREET[1], "photos": [body["photos"][0]["id"]],
                                      "upload_token": body["upload_token"],
                                      "description": "加微信 abc123 领取彩金 www.bet-888.top"},
                    content_type="application/json")
    assert r.status_code == 201
    assert Case.objects.get().moderation == "held"
    assert client.get(f"/photos/{body['photos'][0]['id']}/public.jpg").status_code == 404


def test_crew_handles_with_an_after_photo(client, small_city):
    from cogov.cases.services import case_act, case_report

    c = small_city
    case = case_report(city=c.city, actor=None, category_id=c.categories["Q0101"].pk, lon=ON_STREET[0],
                       lat=ON_STREET[1])
    case_act(city_id=c.city.pk, number=case.number, actor=c.actor("station_a"), action="accept")
    case_act(city_id=c.city.pk, number=case.number, actor=c.actor("station_a"), action="dispatch",
             data={"unit": c.service_units["sanitation"].pk})
    case_act(city_id=c.city.pk, number=case.number, actor=c.actor("sanitation_crew"), action="acknowledge")
    crew = {"HTTP_AUTHORIZATION": f"Bearer {token_issue(person=c.people['sanitation_crew'])}"}
    r = client.post("/api/v1/photos?kind=after", {"files": [io.BytesIO(jpeg_with_gps())]}, **crew)
    assert r.status_code == 201, r.content
    photo_id = r.json()["photos"][0]["id"]
    r = client.post(f"/api/v1/cases/{case.number}/actions/handle", {"note": "已清扫", "photos": [photo_id]},
                    content_type="application/json", **crew)
    assert r.status_code == 200, r.content
    assert Attachment.objects.get(pk=photo_id).case_id == case.pk
    assert Attachment.objects.get(pk=photo_id).kind == "after"
    # an anonymous citizen may not upload after-photos
    assert upload(client, jpeg_with_gps(), ).status_code == 201
    assert client.post("/api/v1/photos?kind=after", {"files": [io.BytesIO(jpeg_with_gps())]}).status_code == 403
