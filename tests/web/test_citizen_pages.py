"""Citizen pages (全民城管 · 点·靓), told as citizens use them: report with a photo, "already reported?",
sign in with a text-message code, follow the case, rate it; the public sees cases but never who reported them."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from PIL import Image
from shapely.geometry import shape

from cogov import clock
from cogov.cases.models import Attachment, Case, CaseFollow
from cogov.cases.services import case_act, case_report
from cogov.people import sms
from cogov.people.models import Person, PhoneCode
from tests.conftest import IN_B_COMMUNITY, ON_STREET, OUTSIDE_CITY

LITTER = "06010"  # 暴露垃圾: a matter the reporter verifies


@pytest.fixture(autouse=True)
def media_and_sms(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.COGOV_SMS_BACKEND = "memory"
    sms.sent.clear()
    yield
    sms.sent.clear()


def jpeg(colour=(30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(buf, "JPEG")
    return buf.getvalue()


def upload(data: bytes, name="photo.jpg"):
    f = io.BytesIO(data)
    f.name = name
    return f


def form(city, *, point=ON_STREET, code=LITTER, key="key-1", **extra):
    data = {"form_key": key, "category": str(city.categories[code].pk) if code else "",
            "lon": str(point[0]) if point else "", "lat": str(point[1]) if point else "",
            "description": "路边有很多垃圾没人清理", "address": "香港中路口", "contact_phone": ""}
    data.update(extra)
    return data


def report(city, who, point=ON_STREET, code=LITTER, **kw):
    actor = city.actor(who) if who else None
    return case_report(city=city.city, actor=actor, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], **kw)


def act(city, who, case, action, **data):
    return case_act(city_id=city.city.pk, number=case.number, actor=city.actor(who), action=action, data=data)


def to_handled(city, case):
    act(city, "station_a", case, "accept")
    act(city, "station_a", case, "dispatch", unit=city.service_units["sanitation"].pk)
    act(city, "sanitation_crew", case, "acknowledge")
    return act(city, "sanitation_crew", case, "handle", note="已清运")


def html(response) -> str:
    return response.content.decode()


# --- home and reporting ---------------------------------------------------------------------------------------


def test_home_says_what_it_is_and_counts_recently_closed_cases(client, small_city):
    case = to_handled(small_city, report(small_city, "citizen"))
    act(small_city, "citizen", case, "verify")
    act(small_city, "station_a", case, "close")
    r = client.get("/")
    assert r.status_code == 200
    body = html(r)
    assert 'href="/report/"' in body and "我要上报" in body
    assert 'href="/cases/"' in body and 'href="/my/"' in body and 'href="/cases/map/"' in body
    assert re.search(r"<strong>1</strong>\s*件问题在最近 30 天内办结", body)


def test_anonymous_citizen_reports_with_a_photo_and_a_point(client, small_city):
    r = client.get("/report/")
    assert r.status_code == 200
    body = html(r)
    assert 'type="file"' in body and 'accept="image/*"' in body and "capture" in body and "multiple" in body
    key = re.search(r'name="form_key" value="([^"]+)"', body).group(1)

    data = form(small_city, key=key, contact_phone="13912345678", photos=[upload(jpeg())])
    r = client.post("/report/", data)
    assert r.status_code == 302, html(r)
    case = Case.objects.get()
    assert r["Location"] == f"/report/done/{case.number}/"
    assert case.category_id == small_city.categories[LITTER].pk
    assert (round(case.lon, 6), round(case.lat, 6)) == ON_STREET
    assert case.reported_by_id is None and case.reporter.phone == "13912345678"
    assert case.description == "路边有很多垃圾没人清理"
    photo = Attachment.objects.get()
    assert photo.case_id == case.pk and photo.kind == "report"

    done = client.get(r["Location"])
    assert done.status_code == 200 and case.number in html(done)
    assert f'href="/cases/{case.number}/"' in html(done)
    # the browser remembers it: "my reports" lists it read-only
    my = html(client.get("/my/"))
    assert case.number in my and "手机号登录" in my and "/rate/" not in my
    # the public case page shows the photo's public copy
    page = html(client.get(f"/cases/{case.number}/"))
    assert f"/photos/{photo.pk}/thumb.jpg" in page and f"/photos/{photo.pk}/public.jpg" in page
    # the reporter's own browser is not offered to follow it; anybody else is
    assert "这是您上报的案件" in page and "我也遇到了（关注）" not in page
    assert client.post(f"/cases/{case.number}/follow/").status_code == 302
    assert not CaseFollow.objects.exists()
    from django.test import Client

    assert "我也遇到了（关注）" in html(Client().get(f"/cases/{case.number}/"))
    assert client.get(f"/photos/{photo.pk}/public.jpg").status_code == 200


def test_a_stranger_cannot_open_someone_elses_done_page(client, small_city):
    case = report(small_city, None)
    assert client.get(f"/report/done/{case.number}/").status_code == 404


def test_missing_fields_keep_what_was_typed_and_say_what_is_missing(client, small_city):
    r = client.post("/report/", form(small_city, point=None, code=None, description="井盖不见了，很危险",
                                     contact_phone="12345"))
    assert r.status_code == 400
    body = html(r)
    assert "请选择问题类别" in body
    assert "请选择位置" in body
    assert "请输入正确的 11 位手机号" in body
    assert "井盖不见了，很危险" in body and 'value="12345"' in body and 'value="香港中路口"' in body
    assert 'id="category-error"' in body and 'id="point-error"' in body and 'id="contact_phone-error"' in body
    assert Case.objects.count() == 0


def test_a_point_outside_the_city_is_refused_next_to_the_place(client, small_city):
    r = client.post("/report/", form(small_city, point=OUTSIDE_CITY, description="这里有个坑"))
    assert r.status_code == 400
    body = html(r)
    assert "不在青岛市辖区内" in body
    assert re.search(r'id="point-error"[^>]*>[^<]*不在青岛市辖区内', body)
    assert f'value="{OUTSIDE_CITY[0]}"' in body and "这里有个坑" in body
    # the chosen category stays selected
    assert f'value="{small_city.categories[LITTER].pk}" selected' in body
    assert Case.objects.count() == 0


def test_a_file_that_is_not_a_photo_is_refused_and_good_photos_are_kept_for_the_retry(client, small_city):
    r = client.post("/report/", form(small_city, photos=[upload(b"not a picture at all", "x.jpg")]))
    assert r.status_code in (400, 415)
    body = html(r)
    assert 'id="photos-error"' in body and "路边有很多垃圾没人清理" in body
    assert Case.objects.count() == 0

    # a good photo with a bad point: the photo is stored and carried to the next attempt
    r = client.post("/report/", form(small_city, point=OUTSIDE_CITY, photos=[upload(jpeg())]))
    assert r.status_code == 400
    kept = re.findall(r'name="kept_photo" value="(\d+)"', html(r))
    assert len(kept) == 1
    r = client.post("/report/", form(small_city, key="key-2", kept_photo=kept))
    assert r.status_code == 302
    assert list(Case.objects.get().attachments.values_list("pk", flat=True)) == [int(kept[0])]


def test_someone_elses_photo_cannot_be_smuggled_in(client, small_city):
    from django.test import Client

    other = Client()
    r = other.post("/report/", form(small_city, point=OUTSIDE_CITY, photos=[upload(jpeg((1, 2, 3)))]))
    stolen = re.findall(r'name="kept_photo" value="(\d+)"', html(r))
    r = client.post("/report/", form(small_city, kept_photo=stolen))
    assert r.status_code == 404 and 'id="photos-error"' in html(r)
    assert Case.objects.count() == 0


def test_a_double_tap_files_one_case(client, small_city):
    first = client.post("/report/", form(small_city, key="same-key", photos=[upload(jpeg())]))
    second = client.post("/report/", form(small_city, key="same-key", photos=[upload(jpeg())]))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Case.objects.count() == 1
    # a new form (new key) is a new report
    client.post("/report/", form(small_city, key="other-key"))
    assert Case.objects.count() == 2


def test_reports_are_rate_limited_per_address_like_the_api(client, small_city, settings):
    settings.COGOV_RATE_PER_ADDRESS = "2/600"
    for i in range(2):
        assert client.post("/report/", form(small_city, key=f"k{i}")).status_code == 302
    r = client.post("/report/", form(small_city, key="k3"))
    assert r.status_code == 429 and "提交过于频繁" in html(r) and r["Retry-After"]
    assert "路边有很多垃圾没人清理" in html(r)
    assert Case.objects.count() == 2


def test_a_text_too_long_is_refused_next_to_the_description(client, small_city):
    r = client.post("/report/", form(small_city, description="脏" * 4001))
    assert r.status_code == 400 and 'id="description-error"' in html(r)


# --- suggestions and "already reported?" -------------------------------------------------------------------------


@pytest.mark.parametrize("text, code", [("路边有很多垃圾没人清理", LITTER), ("电动车飞线充电", "Q0202"),
                                        ("楼道里堆了很多杂物", "Q0301")])
def test_suggestions_offer_the_likely_category_as_a_button(client, small_city, text, code):
    r = client.post("/report/suggest/", {"description": text})
    assert r.status_code == 200
    ids = re.findall(r'data-category="(\d+)"', html(r))
    assert 1 <= len(ids) <= 3
    assert ids[0] == str(small_city.categories[code].pk)


def test_a_trained_model_comes_before_the_keyword_rules(client, small_city, monkeypatch):
    from cogov.insight import classify

    chosen = small_city.categories["Q0301"]
    seen = {}

    def model(text, *, city_id=None, top=3):
        seen.update(text=text, city_id=city_id)
        return [classify.ModelSuggestion(chosen.pk, chosen.code, chosen.name, 0.91, ("杂物",)),
                classify.ModelSuggestion(None, "X99", "不在本市的类别", 0.05, ())]

    monkeypatch.setattr(classify, "suggest_categories", model)
    r = client.post("/report/suggest/", {"description": "路边有很多垃圾没人清理"})
    assert re.findall(r'data-category="(\d+)"', html(r)) == [str(chosen.pk)]
    assert seen == {"text": "路边有很多垃圾没人清理", "city_id": small_city.city.pk}
    monkeypatch.setattr(classify, "suggest_categories", lambda text, *, city_id=None, top=3: [])
    r = client.post("/report/suggest/", {"description": "路边有很多垃圾没人清理"})
    assert re.findall(r'data-category="(\d+)"', html(r))[0] == str(small_city.categories[LITTER].pk)


def test_no_suggestion_for_an_empty_text(client, small_city):
    r = client.post("/report/suggest/", {"description": ""})
    assert r.status_code == 200 and "data-category" not in html(r)


def test_already_reported_nearby_lists_the_open_case_and_following_counts_once(client, small_city):
    existing = report(small_city, "citizen", description="垃圾堆在路边")
    near = (ON_STREET[0] + 0.001, ON_STREET[1])  # about 90 m east
    q = {"lon": near[0], "lat": near[1], "category": small_city.categories[LITTER].pk}
    r = client.get("/report/nearby/", q)
    assert r.status_code == 200 and existing.number in html(r) and "我也遇到了" in html(r)
    # not for another category, nor 1 km away
    assert existing.number not in html(client.get("/report/nearby/", {**q, "category":
                                                                      small_city.categories["Q0202"].pk}))
    assert existing.number not in html(client.get("/report/nearby/", {**q, "lon": ON_STREET[0] + 0.012}))
    assert existing.number not in html(client.get("/report/nearby/", {"lon": IN_B_COMMUNITY[0],
                                                                      "lat": IN_B_COMMUNITY[1],
                                                                      "category": q["category"]}))

    # an anonymous visitor follows, twice: once
    for _ in range(2):
        r = client.post(f"/cases/{existing.number}/follow/", HTTP_HX_REQUEST="true")
        assert r.status_code == 200 and "1 人也遇到了" in html(r)
    # a signed-in neighbour follows, twice: once more
    from django.test import Client

    neighbour = Client()
    neighbour.force_login(small_city.people["citizen2"])
    for _ in range(2):
        r = neighbour.post(f"/cases/{existing.number}/follow/")
        assert r.status_code == 302
    assert CaseFollow.objects.filter(case=existing).count() == 2
    assert CaseFollow.objects.filter(case=existing, person=small_city.people["citizen2"]).count() == 1
    assert "2 人也遇到了" in html(client.get(f"/cases/{existing.number}/"))
    assert "已关注" in html(client.get("/report/nearby/", q))
    # the reporter does not follow his own case
    me = Client()
    me.force_login(small_city.people["citizen"])
    r = me.post(f"/cases/{existing.number}/follow/", HTTP_HX_REQUEST="true")
    assert "自己上报" in html(r)
    assert CaseFollow.objects.filter(case=existing).count() == 2


def test_nearby_leaves_out_closed_and_held_cases(client, small_city):
    held = report(small_city, None, description="加微信 abc8888 领红包 www.spam-site.com")
    assert held.moderation == "held"
    closed = to_handled(small_city, report(small_city, "citizen"))
    act(small_city, "citizen", closed, "verify")
    act(small_city, "station_a", closed, "close")
    body = html(client.get("/report/nearby/", {"lon": ON_STREET[0], "lat": ON_STREET[1],
                                                "category": small_city.categories[LITTER].pk}))
    assert held.number not in body and closed.number not in body
    assert client.post(f"/cases/{held.number}/follow/").status_code == 404


# --- phone sign-in ------------------------------------------------------------------------------------------------


def send_code(client, phone="13912345678"):
    r = client.post("/login/phone/", {"phone": phone})
    return r, (sms.sent[-1][1] if sms.sent else None)


def test_a_citizen_signs_in_with_a_text_message_code(client, small_city):
    assert client.get("/login/phone/").status_code == 200
    r, code = send_code(client, "139 1234 5678")
    assert r.status_code == 200 and 'name="code"' in html(r)
    assert sms.sent == [("13912345678", code)] and re.fullmatch(r"\d{6}", code)
    row = PhoneCode.objects.get()
    assert code not in row.code_hash  # only a keyed hash is kept

    wrong = "000000" if code != "000000" else "111111"
    r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": wrong})
    assert r.status_code == 400 and "验证码不正确" in html(r)
    r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": code, "next": "/my/"})
    assert r.status_code == 302 and r["Location"] == "/my/"
    person = Person.objects.get(username="phone-13912345678")
    assert person.phone == "13912345678" and not person.has_usable_password() and person.city == small_city.city
    assert client.session["_auth_user_id"] == str(person.pk)
    # the code works once
    client.logout()
    r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": code})
    assert r.status_code == 400 and "_auth_user_id" not in client.session


def test_an_existing_citizen_with_that_phone_is_signed_in_not_a_new_account(client, small_city):
    citizen = small_city.people["citizen"]
    citizen.phone = "13800001111"
    citizen.save()
    _, code = send_code(client, "13800001111")
    client.post("/login/phone/", {"step": "code", "phone": "13800001111", "code": code})
    assert client.session["_auth_user_id"] == str(citizen.pk)


def test_a_staff_account_is_never_signed_in_by_a_text_message(client, small_city):
    station = small_city.people["station_a"]
    station.phone = "13800002222"
    station.save()
    _, code = send_code(client, "13800002222")
    client.post("/login/phone/", {"step": "code", "phone": "13800002222", "code": code})
    assert client.session["_auth_user_id"] != str(station.pk)
    assert Person.objects.get(pk=int(client.session["_auth_user_id"])).username == "phone-13800002222"


def test_a_bad_number_is_refused(client, small_city):
    r = client.post("/login/phone/", {"phone": "12345678901"})
    assert r.status_code == 400 and "11 位手机号" in html(r) and 'value="12345678901"' in html(r)
    assert sms.sent == []


def test_a_code_expires_after_five_minutes(client, small_city):
    _, code = send_code(client)
    clock.freeze(clock.now() + dt.timedelta(minutes=5, seconds=1))
    r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": code})
    assert r.status_code == 400 and "已过期" in html(r)
    assert "_auth_user_id" not in client.session


def test_five_wrong_tries_kill_the_code(client, small_city):
    _, code = send_code(client)
    wrong = "000000" if code != "000000" else "111111"
    for i in range(5):
        r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": wrong})
    assert r.status_code == 429 and "错误次数过多" in html(r)
    r = client.post("/login/phone/", {"step": "code", "phone": "13912345678", "code": code})
    assert r.status_code == 429 and "_auth_user_id" not in client.session
    assert PhoneCode.objects.get().tries == 5


def test_at_most_five_codes_per_phone_per_hour(client, small_city):
    for _ in range(5):
        r, _code = send_code(client)
        assert r.status_code == 200
    r, _code = send_code(client)
    assert r.status_code == 429 and "过于频繁" in html(r)
    assert len(sms.sent) == 5
    clock.freeze(clock.now() + dt.timedelta(hours=1, seconds=1))
    assert send_code(client)[0].status_code == 200


def test_the_console_channel_prints_the_code(settings, capsys, db):
    settings.COGOV_SMS_BACKEND = "console"
    sms.send_code("13912345678", "123456")
    assert "【cogov】验证码 123456" in capsys.readouterr().out


def test_the_webhook_channel_posts_json(settings, monkeypatch, db):
    seen = {}

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(request, timeout):
        seen["url"], seen["body"] = request.full_url, json.loads(request.data)
        return Answer()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    settings.COGOV_SMS_BACKEND = "webhook"
    settings.COGOV_SMS_WEBHOOK_URL = "http://sms.gov.local/send"
    sms.send_code("13912345678", "654321")
    assert seen["url"] == "http://sms.gov.local/send"
    assert seen["body"]["phone"] == "13912345678" and seen["body"]["code"] == "654321"


# --- my reports: follow, verify, rate, reopen ----------------------------------------------------------------------


def test_signed_in_citizen_follows_own_report_verifies_and_rates_it(client, small_city):
    c = small_city
    client.force_login(c.people["citizen"])
    r = client.post("/report/", form(c))
    assert r.status_code == 302
    case = Case.objects.get()
    assert case.reported_by_id == c.people["citizen"].pk  # the citizen holds the reporter role on it

    my = html(client.get("/my/"))
    assert case.number in my and "上报" in my and "/verify/" not in my
    assert "响应时限" in my and "light-green" in my

    to_handled(c, case)
    my = html(client.get("/my/"))
    assert f"/my/{case.number}/verify/" in my and f"/my/{case.number}/rework/" in my
    assert "市南区环卫所" in my  # the handling unit, never the crew member's name
    assert "吴师傅" not in my and "王站长" not in my
    r = client.post(f"/my/{case.number}/verify/", {"note": "干净了"})
    assert r.status_code == 302
    act(c, "station_a", case, "close")

    my = html(client.get("/my/"))
    assert f"/my/{case.number}/rate/" in my and f"/my/{case.number}/reopen/" in my
    r = client.post(f"/my/{case.number}/rate/", {"rating": "satisfied", "reason": "很及时"})
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.rating == "satisfied"
    my = html(client.get("/my/"))
    assert "您的评价" in my and "满意" in my and f"/my/{case.number}/rate/" not in my


def test_a_bad_rating_is_refused_next_to_the_form(client, small_city):
    c = small_city
    case = to_handled(c, report(c, "citizen"))
    act(c, "citizen", case, "verify")
    act(c, "station_a", case, "close")
    client.force_login(c.people["citizen"])
    r = client.post(f"/my/{case.number}/rate/", {"rating": "great", "reason": "我写的理由"})
    assert r.status_code == 400 and f'id="error-{case.number}"' in html(r) and "我写的理由" in html(r)


def test_nobody_rates_someone_elses_case(client, small_city):
    c = small_city
    case = to_handled(c, report(c, "citizen"))
    act(c, "citizen", case, "verify")
    act(c, "station_a", case, "close")
    client.force_login(c.people["citizen2"])
    r = client.post(f"/my/{case.number}/rate/", {"rating": "dissatisfied"})
    assert r.status_code == 404 and "不是您上报的" in html(r)
    # nor staff through the citizen's page
    client.force_login(c.people["station_a"])
    r = client.post(f"/my/{case.number}/reopen/", {"reason": "x"})
    assert r.status_code == 404
    case.refresh_from_db()
    assert case.rating == "" and case.state == "closed"
    # an anonymous visitor is sent to sign in
    client.logout()
    r = client.post(f"/my/{case.number}/rate/", {"rating": "satisfied"})
    assert r.status_code == 302 and r["Location"].startswith("/login/phone/")


def test_reopen_within_the_window_and_not_after(client, small_city, settings):
    c = small_city
    case = to_handled(c, report(c, "citizen"))
    act(c, "citizen", case, "verify")
    act(c, "station_a", case, "close")
    client.force_login(c.people["citizen"])
    r = client.post(f"/my/{case.number}/reopen/", {"reason": ""})
    assert r.status_code == 400 and f'id="error-{case.number}"' in html(r)
    clock.freeze(clock.now() + dt.timedelta(days=settings.COGOV_REOPEN_DAYS + 1))
    assert f"/my/{case.number}/reopen/" not in html(client.get("/my/"))
    r = client.post(f"/my/{case.number}/reopen/", {"reason": "又脏了"})
    assert r.status_code == 409 and "不能重新打开" in html(r)
    clock.freeze(clock.now() - dt.timedelta(days=settings.COGOV_REOPEN_DAYS))
    r = client.post(f"/my/{case.number}/reopen/", {"reason": "又脏了"})
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.state == "accepted"


def test_the_after_photos_show_on_my_page(client, small_city):
    from cogov.intake.photos import store_photos

    c = small_city
    case = report(c, "citizen")
    act(c, "station_a", case, "accept")
    act(c, "station_a", case, "dispatch", unit=c.service_units["sanitation"].pk)
    act(c, "sanitation_crew", case, "acknowledge")
    after = store_photos(city_id=c.city.pk, files=[jpeg((0, 200, 0))], kind="after",
                         uploaded_by_id=c.people["sanitation_crew"].pk)
    act(c, "sanitation_crew", case, "handle", note="已清运", photos=[after[0].pk])
    client.force_login(c.people["citizen"])
    my = html(client.get("/my/"))
    assert "处置后照片" in my and f"/photos/{after[0].pk}/thumb.jpg" in my


# --- public pages -------------------------------------------------------------------------------------------------


def test_public_pages_never_show_who_reported(client, small_city):
    c = small_city
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories[LITTER].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], description="垃圾", contact_name="张三丰",
                       contact_phone="13912345678", contact_email="zsf@example.com", contact_device="dev-42")
    pages = [client.get("/cases/"), client.get("/cases/map/"), client.get("/cases/map.json"),
             client.get(f"/cases/{case.number}/")]
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    for p in pages:
        body = html(p)
        for secret in ("张三丰", "13912345678", "zsf@example.com", "dev-42", "市民小林"):
            assert secret not in body
    assert case.number in html(pages[0]) and case.number in html(pages[3])
    points = pages[2].json()["points"]
    assert points == [{"lon": round(ON_STREET[0], 6), "lat": round(ON_STREET[1], 6), "label": points[0]["label"],
                       "url": f"/cases/{case.number}/", "light": "green"}]


def test_held_cases_are_absent_from_public_pages(client, small_city):
    held = report(small_city, None, description="加微信 abc8888 领红包 www.spam-site.com")
    shown = report(small_city, None, description="路边垃圾")
    assert held.moderation == "held"
    listing, data = html(client.get("/cases/")), html(client.get("/cases/map.json"))
    assert shown.number in listing and held.number not in listing
    assert shown.number in data and held.number not in data
    r = client.get(f"/cases/{held.number}/")
    assert r.status_code == 404 and "尚未公开" in html(r)


def test_public_list_filters_and_pages(client, small_city, settings):
    settings.COGOV_PUBLIC_PAGE_SIZE = 2
    c = small_city
    litter = [report(c, None) for _ in range(3)]
    wiring = report(c, None, code="Q0202", point=IN_B_COMMUNITY)
    closed = to_handled(c, litter[0])
    act(c, "street_head", closed, "verify")  # an anonymous report: the street head verifies
    act(c, "station_a", closed, "close")

    body = html(client.get("/cases/", {"category": c.categories["Q0202"].pk}))
    assert wiring.number in body and litter[1].number not in body
    body = html(client.get("/cases/", {"status": "closed"}))
    assert closed.number in body and litter[1].number not in body and wiring.number not in body
    first = html(client.get("/cases/"))
    assert "共 4 件" in first and 'rel="next"' in first
    second = html(client.get("/cases/", {"page": 2}))
    assert len(set(re.findall(r"/cases/(\d{11})/", first)) & set(re.findall(r"/cases/(\d{11})/", second))) == 0
    district = c.units["370202"].pk
    assert "共 4 件" in html(client.get("/cases/", {"district": district}))
    assert "共 0 件" in html(client.get("/cases/", {"district": district + 999}))
    data = client.get("/cases/map.json", {"status": "open"}).json()["points"]
    assert {p["url"] for p in data} == {f"/cases/{x.number}/" for x in (litter[1], litter[2], wiring)}


def test_case_page_shows_the_timeline_by_unit_and_the_follow_button(client, small_city):
    c = small_city
    case = report(c, "citizen")
    act(c, "station_a", case, "accept")
    act(c, "station_a", case, "dispatch", unit=c.service_units["sanitation"].pk)
    body = html(client.get(f"/cases/{case.number}/"))
    for text in ("上报", "立案", "派遣", "湛山社区城市治理服务站", "市南区环卫所", "我也遇到了（关注）"):
        assert text in body
    assert "人也遇到了" not in body  # nobody yet: just the button, no "0 人"
    assert "王站长" not in body
    assert 'data-cogov-map="auto"' in body and "cogov/map.js" in body


def test_boundaries_are_geojson_of_the_citys_own_units(client, small_city):
    r = client.get("/geo/boundaries.json", {"kind": "community"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/geo+json")
    doc = json.loads(r.content)
    assert doc["type"] == "FeatureCollection" and len(doc["bbox"]) == 4
    assert {f["properties"]["name"] for f in doc["features"]} == {"湛山社区", "八大关社区"}
    for f in doc["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        geom = shape(f["geometry"])
        assert geom.is_valid and not geom.is_empty
    assert len(json.loads(client.get("/geo/boundaries.json").content)["features"]) == 1  # district by default
    assert client.get("/geo/boundaries.json", {"kind": "building"}).status_code == 400


def test_map_page_draws_without_any_outside_resource(client, small_city, settings):
    body = html(client.get("/cases/map/"))
    assert 'data-boundaries="/geo/boundaries.json?kind=district"' in body and 'data-tile-url=""' in body
    assert "http://" not in body and "https://" not in body
    settings.COGOV_TILE_URL = "http://tiles.gov.local/{z}/{x}/{y}.png"
    assert 'data-tile-url="http://tiles.gov.local/{z}/{x}/{y}.png"' in html(client.get("/cases/map/"))


def test_the_scripts_are_served_from_the_platform(client, small_city):
    for name in ("map.js", "report.js"):
        r = client.get(f"/static/cogov/{name}")
        assert r.status_code == 200
        text = b"".join(r.streaming_content).decode() if r.streaming else html(r)
        assert "http://" not in text.replace("http://tiles.gov.local", "") and "https://" not in text
    assert "attributionControl: false" in b"".join(client.get("/static/cogov/map.js").streaming_content).decode()


# --- no city yet --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/report/", "/cases/", "/cases/map/", "/my/", "/login/phone/",
                                 "/cases/2026000001/"])
def test_pages_without_a_city_say_so_instead_of_failing(client, db, url):
    r = client.get(url)
    assert r.status_code == 404
    assert "平台尚未配置城市" in html(r)


def test_boundaries_without_a_city_answer_json(client, db):
    r = client.get("/geo/boundaries.json")
    assert r.status_code == 404 and r.json()["code"] == "no_city"


def test_odd_input_never_fails_the_pages(client, small_city):
    r = client.post("/report/", form(small_city, key="bad\x00key", category="9" * 40, lon="nan", lat="1e999",
                                     address="路口\x00", description="\x00"))
    assert r.status_code == 400 and "经纬度必须是数字" in html(r) and "请选择问题类别" in html(r)
    r = client.post("/report/", form(small_city, key="k\x00", description="垃圾\x00"))
    assert r.status_code == 302 and Case.objects.get().description == "垃圾"
    for url in ("/cases/?category=99999999999999999999999&district=x&page=zz", "/cases/map.json?district=-1",
                "/report/nearby/?lon=inf&lat=1&category=1", "/cases/%00/"):
        assert client.get(url).status_code in (200, 404)
    assert client.post("/login/phone/", {"phone": "139\x001234"}).status_code == 400


def test_a_closed_case_page_has_no_follow_count_nor_button_and_its_map_fits_the_community(client, small_city):
    c = small_city
    case = to_handled(c, report(c, "citizen"))
    assert client.post(f"/cases/{case.number}/follow/", HTTP_HX_REQUEST="true").status_code == 200
    assert "1 人也遇到了" in html(client.get(f"/cases/{case.number}/"))
    act(c, "citizen", case, "verify")
    act(c, "station_a", case, "close")
    body = html(client.get(f"/cases/{case.number}/"))
    assert "已结案" in body and "人也遇到了" not in body and "我也遇到了" not in body and "/follow/" not in body
    case.refresh_from_db()
    # no tile server: the small map fits the case's community, so that the neighbours' outlines show
    assert case.community_id and f'data-fit-unit="{case.community_id}"' in body
    assert 'data-boundaries="/geo/boundaries.json?kind=community"' in body


def test_browser_typed_coordinates_zoom_to_the_pin_and_a_case_map_shows_its_community(pages, small_city):
    """Typed lon/lat take the report map there like the GPS button; the case page's map (no tile server) fits the
    case's community instead of zooming in on a few boundary lines."""
    c = small_city
    case = report(c, "citizen")
    page = pages.open()
    page.goto("/report/")
    page.wait_for_function("() => document.getElementById('report-map').cogovMap")
    zoom = "document.getElementById('report-map').cogovMap.map.getZoom()"
    before = page.evaluate(zoom)
    page.locator("#id_lon").fill(f"{IN_B_COMMUNITY[0]:.6f}")
    page.locator("#id_lat").fill(f"{IN_B_COMMUNITY[1]:.6f}")
    page.locator("#id_lat").dispatch_event("change")
    page.wait_for_function(f"() => {zoom} === 17")
    centre = page.evaluate("document.getElementById('report-map').cogovMap.center()")
    assert before < 17
    assert abs(centre["lon"] - IN_B_COMMUNITY[0]) < 1e-4 and abs(centre["lat"] - IN_B_COMMUNITY[1]) < 1e-4

    page.goto(f"/cases/{case.number}/")
    page.wait_for_function("() => document.querySelectorAll('#case-map path.leaflet-interactive').length > 0")
    page.wait_for_timeout(300)
    view = page.evaluate("""() => { const m = document.getElementById('case-map').cogovMap.map, b = m.getBounds();
        return {zoom: m.getZoom(), w: b.getWest(), e: b.getEast(), s: b.getSouth(), n: b.getNorth()}; }""")
    case.refresh_from_db()
    from cogov.geo.models import Unit
    from shapely import from_wkb

    west, south, east, north = from_wkb(bytes(Unit.objects.get(pk=case.community_id).geometry)).bounds
    assert view["w"] <= west and view["e"] >= east and view["s"] <= south and view["n"] >= north, view
    assert view["zoom"] < 16
