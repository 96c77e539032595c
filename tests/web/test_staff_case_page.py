"""The staff case page and its action endpoint, told as the station works a case."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from cogov.cases.models import Attachment, Case, CaseEvent
from cogov.cases.services import case_act, case_report
from tests.conftest import IN_B_COMMUNITY, ON_STREET

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg(colour=(30, 140, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buf, "JPEG")
    return buf.getvalue()


def report(city, code="06010", point=ON_STREET, who=None, **kw):
    actor = city.actor(who) if who else None
    kw.setdefault("contact_phone", PHONE)
    return case_report(city=city.city, actor=actor, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], description="路边一堆暴露垃圾", **kw)


def act(city, who, case, action, **data):
    return case_act(city_id=city.city.pk, number=case.number, actor=city.actor(who), action=action, data=data)


def login(client, city, who):
    client.force_login(city.people[who])
    return client


def main(response) -> str:
    """The page's <main> (the rest carries a fresh CSRF token each time)."""
    html = response.content.decode()
    return html[html.index("<main"):html.index("</main>")]


def url(case, action=None):
    return f"/work/cases/{case.number}/" + (f"act/{action}" if action else "")


def test_station_head_sees_the_whole_case_with_contact_suggestion_deadline_and_forms(client, small_city):
    case = report(small_city)
    r = login(client, small_city, "station_a").get(url(case))
    assert r.status_code == 200
    html = r.content.decode()
    assert "暴露垃圾" in html and case.number in html and "已上报" in html
    assert PHONE in html  # staff in scope see the reporter's contact
    assert "市南区环卫所" in html and "香港中路" in html  # suggested unit with its reasons; the street
    assert any(reason in html for reason in case.routing_reasons)
    assert "light-green" in html  # the first-response clock just started
    # exactly the actions the station head may take now: accept, reject (merge needs a target: its own form)
    assert f'action="/work/cases/{case.number}/act/accept"' in html
    assert f'action="/work/cases/{case.number}/act/reject"' in html
    assert "/act/dispatch" not in html and "/act/acknowledge" not in html and "/act/escalate" not in html


def test_case_outside_the_area_is_the_same_404_as_a_missing_number(client, small_city):
    case = report(small_city)
    login(client, small_city, "station_b")
    r = client.get(url(case))
    assert r.status_code == 404 and "不在您的管辖范围内" in r.content.decode()
    assert PHONE not in r.content.decode()
    missing = client.get("/work/cases/20269999999/")
    assert missing.status_code == 404
    assert main(r).replace(case.number, "N") == main(missing).replace("20269999999", "N")
    # the action endpoint answers the same, and nothing changes
    r = client.post(url(case, "accept"), {"note": "越权"})
    assert r.status_code == 404 and "不在您的管辖范围内" in r.content.decode()
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_wrong_role_is_403_with_the_message_on_the_page(client, small_city):
    case = report(small_city)
    r = login(client, small_city, "street_head").post(url(case, "accept"), {})
    assert r.status_code == 403
    assert "无权执行「立案」" in r.content.decode()
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_dispatch_override_needs_a_reason_next_to_the_field_and_keeps_the_typed_values(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    login(client, small_city, "station_a")
    enforcement = small_city.service_units["enforcement"]
    r = client.post(url(case, "dispatch"), {"unit": str(enforcement.pk), "note": "请执法队处理", "reason": ""})
    assert r.status_code == 400
    html = r.content.decode()
    error_at = html.index(f'id="f-{case.number}-dispatch-reason-error"')
    assert "改派到非推荐单位时必须说明理由" in html[error_at:error_at + 200]
    assert f'<option value="{enforcement.pk}" selected>' in html  # the choice is kept
    assert "请执法队处理" in html
    assert Case.objects.get(pk=case.pk).state == "accepted"

    r = client.post(url(case, "dispatch"), {"unit": str(enforcement.pk), "reason": "占道经营归执法"})
    assert r.status_code == 302 and r["Location"] == url(case)
    case.refresh_from_db()
    assert case.state == "dispatched" and case.handler_unit_id == enforcement.pk
    assert "已派遣" in client.get(r["Location"]).content.decode()


def test_success_goes_back_to_a_local_next_only(client, small_city):
    case = report(small_city)
    login(client, small_city, "station_a")
    r = client.post(url(case, "accept"), {"next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == url(case)
    other = report(small_city)
    r = client.post(url(other, "accept"), {"next": "/work/station/1/"})
    assert r.status_code == 302 and r["Location"] == "/work/station/1/"


def test_crew_handles_with_an_after_photo_and_the_head_verifies_on_the_page(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    act(small_city, "station_a", case, "dispatch", unit=small_city.service_units["sanitation"].pk)
    login(client, small_city, "sanitation_crew")
    page = client.get(url(case)).content.decode()
    assert PHONE in page  # the crew the case is dispatched to may call the reporter to get in
    assert client.post(url(case, "acknowledge"), {}).status_code == 302
    r = client.post(url(case, "handle"), {"note": "已清运", "photos": [io.BytesIO(jpeg())]})
    assert r.status_code == 302, r.content.decode()
    case.refresh_from_db()
    assert case.state == "handled"
    after = Attachment.objects.get(case=case, kind="after")
    handle = CaseEvent.objects.get(case=case, action="handle")
    assert handle.data["photos"] == [after.pk] and handle.data["note"] == "已清运"
    html = client.get(url(case)).content.decode()
    assert f"/api/v1/photos/{after.pk}/original" in html and f"/photos/{after.pk}/thumb.jpg" in html

    login(client, small_city, "street_head")
    assert f"/act/verify" in client.get(url(case)).content.decode()
    assert client.post(url(case, "verify"), {"note": "现场已干净"}).status_code == 302
    assert Case.objects.get(pk=case.pk).state == "verified"


def test_a_bad_photo_is_refused_next_to_the_photo_field_and_nothing_changes(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    act(small_city, "station_a", case, "dispatch", unit=small_city.service_units["sanitation"].pk)
    act(small_city, "sanitation_crew", case, "acknowledge")
    login(client, small_city, "sanitation_crew")
    r = client.post(url(case, "handle"), {"note": "已清运", "photos": [io.BytesIO(b"not a photo")]})
    assert r.status_code == 415
    html = r.content.decode()
    assert f'id="f-{case.number}-handle-photos-error"' in html and "已清运" in html
    assert Case.objects.get(pk=case.pk).state == "acknowledged"


def test_htmx_gets_the_refreshed_panel_with_the_message(client, small_city):
    case = report(small_city)
    login(client, small_city, "station_a")
    r = client.post(url(case, "accept"), {"fragment": "case"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="case-panel"') and "已立案" in html
    assert f"/act/dispatch" in html  # the next step's form
    r = client.post(url(case, "reject"), {"fragment": "case"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 409 and "不能执行「不予立案」" in r.content.decode()


def test_comment_appears_in_the_timeline(client, small_city):
    case = report(small_city)
    login(client, small_city, "station_a")
    assert client.post(url(case, "comment"), {"text": "已联系环卫所"}).status_code == 302
    event = CaseEvent.objects.get(case=case, action="comment")
    assert event.data == {"text": "已联系环卫所"}
    html = client.get(url(case)).content.decode()
    timeline = html[html.index('class="timeline"'):]
    assert "已联系环卫所" in timeline and "王站长" in timeline


@pytest.mark.parametrize("action, data", [
    ("fly", {}),
    ("escalate", {"to_level": "district"}),
    ("report", {}),
    ("dispatch", {"unit": "abc"}),
    ("dispatch", {"unit": "99999999999999999999999999"}),
    ("dispatch", {"unit": "-3"}),
    ("dispatch", {"unit": "999999"}),
    ("merge", {"into": "x" * 40}),
    ("merge", {"into": "bad\x00number"}),
    ("merge", {"into": "20269999999"}),
    ("reject", {"reason": "\x00"}),
    ("reject", {"reason": "长" * 600}),
    ("request_extension", {"days": "soon"}),
    ("rate", {"rating": "wonderful"}),
    ("handle", {"photo_ids": "1,x"}),
    ("comment", {"text": ""}),
    ("accept", {"note": ["a", "b"], "unknown": "field"}),
])
def test_garbage_post_data_never_gives_a_500(client, small_city, action, data):
    case = report(small_city)
    login(client, small_city, "station_a")
    r = client.post(url(case, action), data)
    assert 300 <= r.status_code < 500, (r.status_code, r.content[:300])


def test_garbage_case_numbers_are_404(client, small_city):
    login(client, small_city, "station_a")
    for number in ("x" * 300, "bad%00number", "%E2%80%AE"):
        assert client.get(f"/work/cases/{number}/").status_code == 404
        assert client.post(f"/work/cases/{number}/act/accept", {}).status_code == 404
    assert client.get("/work/cases/1/act/accept").status_code == 302  # a GET goes to the page


def test_citizen_without_staff_role_is_sent_to_his_own_reports(client, small_city):
    case = report(small_city, who="citizen")
    r = login(client, small_city, "citizen").get(url(case))
    assert r.status_code == 302 and r["Location"] == "/my/"
    r = client.post(url(case, "comment"), {"text": "hi"})
    assert r.status_code == 302 and r["Location"] == "/my/"
    assert not CaseEvent.objects.filter(case=case, action="comment").exists()


@pytest.mark.parametrize("who, where", [
    ("station_a", "/work/station/{station_a}/"),
    ("street_head", "/work/head/"),
    ("sanitation_crew", "/work/unit/"),
    ("district_sup", "/work/dashboard/"),
    ("citizen", "/my/"),
])
def test_work_sends_each_person_to_the_page_of_their_role(client, small_city, who, where):
    r = login(client, small_city, who).get("/work/")
    assert r.status_code == 302
    assert r["Location"] == where.format(station_a=small_city.units["37020200100101"].pk)


def test_several_roles_get_a_short_menu(client, small_city):
    from cogov.people.services import role_assign

    role_assign(person=small_city.people["station_a"], role="street_head",
                scope_unit=small_city.units["37020200100101S001"])
    r = login(client, small_city, "station_a").get("/work/")
    assert r.status_code == 200
    html = r.content.decode()
    assert f'/work/station/{small_city.units["37020200100101"].pk}/' in html and "/work/head/" in html
    assert f'/work/station/{small_city.units["37020200100101"].pk}/channel/' in html


def test_b_community_case_is_not_on_station_a_page(client, small_city):
    case = report(small_city, point=IN_B_COMMUNITY)
    assert login(client, small_city, "station_a").get(url(case)).status_code == 404
    assert login(client, small_city, "station_b").get(url(case)).status_code == 200


def test_deadline_light_turns_red_when_the_first_response_is_late(client, small_city):
    import datetime as dt

    from cogov import clock

    case = report(small_city)
    clock.freeze(case.first_response_due + dt.timedelta(minutes=1))
    html = login(client, small_city, "station_a").get(url(case)).content.decode()
    assert re.search(r'响应时限：[^<]*<span class="badge light-red">超时</span>', html)


def test_returning_a_case_sends_the_crew_back_to_work_as_it_leaves_their_sight(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    act(small_city, "station_a", case, "dispatch", unit=small_city.service_units["sanitation"].pk)
    login(client, small_city, "sanitation_crew")
    r = client.post(url(case, "return"), {"reason": "不属于环卫职责", "fragment": "case"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 204 and r["HX-Redirect"] == "/work/"
    case.refresh_from_db()
    assert case.state == "accepted" and case.handler_unit_id is None
    assert client.get(url(case)).status_code == 404


def test_the_station_heads_menu_links_the_stations_dashboard(client, small_city):
    from cogov.people.services import role_assign

    # one page of his own: /work/ still leads straight to the console, which links the dashboard
    assert login(client, small_city, "station_a").get("/work/")["Location"].startswith("/work/station/")
    role_assign(person=small_city.people["station_a"], role="street_head",
                scope_unit=small_city.units["37020200100101S001"])
    html = login(client, small_city, "station_a").get("/work/").content.decode()
    assert 'href="/work/dashboard/"' in html and "监管看板" in html
    assert client.get("/work/dashboard/").status_code == 200
