"""三长一站 online: the station channel, the station head's console and the heads' phone view."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from cogov.cases.models import Attachment, Case, CaseEvent
from cogov.cases.services import case_act, case_report
from tests.conftest import IN_B_COMMUNITY, IN_COURTYARD, ON_STREET

PHONE = "13912345678"
NEAR_STREET = (120.3205, 36.0612)  # about 60 m from ON_STREET


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (120, 90, 30)).save(buf, "JPEG")
    return buf.getvalue()


def report(city, code="06010", point=ON_STREET, **kw):
    kw.setdefault("contact_phone", PHONE)
    kw.setdefault("description", "路边一堆暴露垃圾")
    return case_report(city=city.city, actor=None, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], **kw)


def act(city, who, case, action, **data):
    return case_act(city_id=city.city.pk, number=case.number, actor=city.actor(who), action=action, data=data)


def station(city, which="a"):
    return city.units["37020200100101" if which == "a" else "37020200100201"].pk


def channel(which, city):
    return f"/work/station/{station(city, which)}/channel/"


def feed(which, city, after=0):
    return f"/work/station/{station(city, which)}/channel/feed?after={after}"


def as_(client, city, who):
    client.force_login(city.people[who])
    return client


def htmx_post(client, path, data, **extra):
    return client.post(path, data, HTTP_HX_REQUEST="true", **extra)


def act_url(case, action):
    return f"/work/cases/{case.number}/act/{action}"


def last_event_id(html: str) -> int:
    return max(int(i) for i in re.findall(r'data-event="(\d+)"', html))


def test_a_report_in_station_a_reaches_a_channel_only(client, small_city):
    case = report(small_city)
    r = as_(client, small_city, "station_a").get(feed("a", small_city))
    assert r.status_code == 200 and case.number in r.content.decode() and "暴露垃圾" in r.content.decode()
    assert client.get(channel("a", small_city)).status_code == 200

    as_(client, small_city, "station_b")
    r = client.get(feed("b", small_city))
    assert r.status_code == 204  # nothing happened in station B's area
    assert client.get(channel("a", small_city)).status_code == 404
    assert client.get(feed("a", small_city)).status_code == 404
    b_case = report(small_city, point=IN_B_COMMUNITY)
    html = client.get(feed("b", small_city)).content.decode()
    assert b_case.number in html and case.number not in html


def test_feed_after_returns_only_newer_events_and_moves_the_poller(client, small_city):
    first = report(small_city)
    as_(client, small_city, "station_a")
    page = client.get(channel("a", small_city)).content.decode()
    assert first.number in page
    last = last_event_id(page)
    assert f"feed?after={last}" in page and 'hx-trigger="every 3s"' in page and 'hx-swap="afterbegin"' in page
    assert client.get(feed("a", small_city, last)).status_code == 204

    second = report(small_city, code="07001")
    r = client.get(feed("a", small_city, last))
    html = r.content.decode()
    assert r.status_code == 200 and second.number in html and first.number not in html
    newest = last_event_id(html)
    assert f"feed?after={newest}" in html and 'hx-swap-oob="true"' in html
    # a missed poll loses nothing: asking again from the old id gives the same lines
    assert second.number in client.get(feed("a", small_city, last)).content.decode()
    assert client.get(feed("a", small_city, newest)).status_code == 204
    # the station head accepting the first case is a new line; the first case's old buttons are cleared
    act(small_city, "station_a", first, "accept")
    html = client.get(feed("a", small_city, newest)).content.decode()
    assert first.number in html and "立案" in html
    first_report = CaseEvent.objects.get(case=first, action="report")
    assert f'<div id="acts-{first_report.pk}" hx-swap-oob="innerHTML"></div>' in html


@pytest.mark.parametrize("after", ["abc", "-1", "1e3", "99999999999999999999999", "\x00"])
def test_feed_with_a_garbage_after_is_400(client, small_city, after):
    as_(client, small_city, "station_a")
    assert client.get(f"/work/station/{station(small_city)}/channel/feed", {"after": after}).status_code == 400


@pytest.mark.parametrize("who, a, b", [
    ("station_a", 200, 404),
    ("station_b", 404, 200),
    ("street_head", 200, 404),       # a head inside station A's area
    ("building_head", 200, 404),
    ("sanitation_crew", 200, 200),   # serves the whole district
    ("property_crew", 200, 404),     # serves a courtyard inside station A
    ("enforcement_crew", 200, 200),  # no service area: the whole city
    ("subdistrict_sup", 404, 404),   # not in the group: supervisors have their dashboard
])
def test_who_is_in_which_channel(client, small_city, who, a, b):
    as_(client, small_city, who)
    assert client.get(channel("a", small_city)).status_code == a
    assert client.get(channel("b", small_city)).status_code == b


def test_the_reporters_phone_is_never_in_the_channel(client, small_city):
    """Decision: the channel is a group view — the reporter's contact stays on the case page (staff in scope)."""
    case = report(small_city)
    for who in ("station_a", "street_head", "sanitation_crew"):
        html = as_(client, small_city, who).get(channel("a", small_city)).content.decode()
        assert case.number in html and PHONE not in html
    act(small_city, "station_a", case, "accept")
    act(small_city, "station_a", case, "dispatch", unit=small_city.service_units["sanitation"].pk)
    html = as_(client, small_city, "sanitation_crew").get(channel("a", small_city)).content.decode()
    assert PHONE not in html
    assert PHONE in client.get(f"/work/cases/{case.number}/").content.decode()


def test_members_without_a_role_on_the_case_see_what_and_where_not_the_words(client, small_city):
    case = report(small_city, description="三单元门口有人乱倒装修垃圾")
    html = as_(client, small_city, "property_crew").get(channel("a", small_city)).content.decode()
    assert case.number in html and "暴露垃圾" in html and "香港中路" in html
    assert "乱倒装修垃圾" not in html and "/act/" not in html
    html = as_(client, small_city, "station_a").get(channel("a", small_city)).content.decode()
    assert "乱倒装修垃圾" in html


def test_first_response_countdown_turns_red_when_late(client, small_city):
    import datetime as dt

    from cogov import clock

    case = report(small_city)
    html = as_(client, small_city, "station_a").get(channel("a", small_city)).content.decode()
    assert re.search(r'countdown light-green"[^>]*>响应剩余 \d+ 分钟', html)
    clock.freeze(case.first_response_due + dt.timedelta(minutes=7))
    html = client.get(channel("a", small_city)).content.decode()
    assert re.search(r'countdown light-red"[^>]*>响应超时 7 分钟', html)


def test_the_loop_in_the_channel_dispatch_claim_handle_with_photo_verify_comment(client, small_city):
    case = report(small_city)
    sanitation = small_city.service_units["sanitation"]
    # the station head accepts and dispatches from the channel, the suggestion preselected
    as_(client, small_city, "station_a")
    html = client.get(channel("a", small_city)).content.decode()
    assert act_url(case, "accept") in html
    r = htmx_post(client, act_url(case, "accept"), {"fragment": "channel"})
    assert r.status_code == 200 and "已立案" in r.content.decode()
    assert f'<option value="{sanitation.pk}" selected>市南区环卫所（推荐）</option>' in r.content.decode()
    r = htmx_post(client, act_url(case, "dispatch"), {"fragment": "channel", "unit": str(sanitation.pk)})
    assert r.status_code == 200 and "已派遣" in r.content.decode()

    # the sanitation crew claims it: 第一时间应答 (acknowledge)
    as_(client, small_city, "sanitation_crew")
    html = client.get(channel("a", small_city)).content.decode()
    assert "第一时间应答" in html and act_url(case, "acknowledge") in html
    r = htmx_post(client, act_url(case, "acknowledge"), {"fragment": "channel"})
    assert r.status_code == 200 and "已签收" in r.content.decode()
    assert act_url(case, "handle") in r.content.decode() and 'enctype="multipart/form-data"' in r.content.decode()
    # … and marks it handled with an after-photo
    r = htmx_post(client, act_url(case, "handle"),
                  {"fragment": "channel", "note": "已清运完毕", "photos": [io.BytesIO(jpeg())]})
    assert r.status_code == 200 and "已处置" in r.content.decode(), r.content.decode()
    after = Attachment.objects.get(case=case, kind="after")
    html = client.get(channel("a", small_city)).content.decode()
    assert f"/photos/{after.pk}/thumb.jpg" in html and "已清运完毕" in html

    # the street head verifies in the channel, and replies there: a comment on the case
    as_(client, small_city, "street_head")
    html = client.get(channel("a", small_city)).content.decode()
    assert act_url(case, "verify") in html
    assert htmx_post(client, act_url(case, "verify"), {"fragment": "channel"}).status_code == 200
    assert Case.objects.get(pk=case.pk).state == "verified"
    r = htmx_post(client, act_url(case, "comment"), {"fragment": "channel", "text": "街面已恢复整洁"})
    assert r.status_code == 200 and "已留言" in r.content.decode()
    comment = CaseEvent.objects.get(case=case, action="comment")
    assert comment.data == {"text": "街面已恢复整洁"} and comment.actor_id == small_city.people["street_head"].pk
    html = client.get(channel("a", small_city)).content.decode()
    assert "街面已恢复整洁" in html
    assert [e.action for e in CaseEvent.objects.filter(case=case).order_by("seq")] == [
        "report", "accept", "dispatch", "acknowledge", "handle", "verify", "comment"]


def test_a_refused_channel_action_shows_its_message_in_the_line(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    as_(client, small_city, "station_a")
    r = htmx_post(client, act_url(case, "dispatch"),
                  {"fragment": "channel", "unit": str(small_city.service_units["enforcement"].pk)})
    assert r.status_code == 400
    html = r.content.decode()
    assert "改派到非推荐单位时必须说明理由" in html and "<details open>" in html
    # a unit member on a case not dispatched to it: invisible, the same 404 as anywhere
    as_(client, small_city, "property_crew")
    r = htmx_post(client, act_url(case, "comment"), {"fragment": "channel", "text": "我们来吧"})
    assert r.status_code == 404 and "不在您的管辖范围内" in r.content.decode()
    assert not CaseEvent.objects.filter(case=case, action="comment").exists()


def test_station_head_dispatches_from_the_console_to_the_suggested_unit(client, small_city):
    case = report(small_city)
    console = f"/work/station/{station(small_city)}/"
    as_(client, small_city, "station_a")
    html = client.get(console).content.decode()
    assert case.number in html and act_url(case, "accept") in html and act_url(case, "reject") in html
    assert "市南区环卫所" in html and case.routing_reasons[-1] in html
    r = client.post(act_url(case, "accept"), {"next": console})
    assert r.status_code == 302 and r["Location"] == console
    html = client.get(console).content.decode()
    assert "已立案" in html and act_url(case, "dispatch") in html
    sanitation = small_city.service_units["sanitation"]
    assert f'<option value="{sanitation.pk}" selected>' in html
    r = client.post(act_url(case, "dispatch"), {"unit": str(sanitation.pk), "next": console})
    assert r.status_code == 302 and r["Location"] == console
    case.refresh_from_db()
    assert case.state == "dispatched" and case.handler_unit_id == sanitation.pk
    html = client.get(console).content.decode()
    assert "已派遣" in html and act_url(case, "dispatch") not in html


def test_console_override_without_reason_then_with_reason(client, small_city):
    case = report(small_city)
    act(small_city, "station_a", case, "accept")
    console = f"/work/station/{station(small_city)}/"
    enforcement = small_city.service_units["enforcement"]
    as_(client, small_city, "station_a")
    r = client.post(act_url(case, "dispatch"), {"unit": str(enforcement.pk), "next": console})
    assert r.status_code == 400
    html = r.content.decode()
    at = html.index(f'id="f-{case.number}-dispatch-reason-error"')
    assert "改派到非推荐单位时必须说明理由" in html[at:at + 200]
    assert f'name="next" value="{console}"' in html  # after fixing it, back to the console
    r = client.post(act_url(case, "dispatch"), {"unit": str(enforcement.pk), "reason": "占道归执法", "next": console})
    assert r.status_code == 302 and r["Location"] == console
    assert Case.objects.get(pk=case.pk).handler_unit_id == enforcement.pk


def test_reject_needs_a_reason(client, small_city):
    case = report(small_city)
    as_(client, small_city, "station_a")
    r = client.post(act_url(case, "reject"), {"reason": ""})
    assert r.status_code == 400 and "请填写「理由」" in r.content.decode()
    r = client.post(act_url(case, "reject"), {"reason": "重复上报"})
    assert r.status_code == 302 and Case.objects.get(pk=case.pk).state == "not_accepted"


def test_duplicates_within_200_m_merge_in_one_click(client, small_city):
    older = report(small_city)
    newer = report(small_city, point=NEAR_STREET)
    far = report(small_city, point=(120.33, 36.061))  # ~900 m east
    other_kind = report(small_city, code="07001", point=NEAR_STREET)
    console = f"/work/station/{station(small_city)}/"
    html = as_(client, small_city, "station_a").get(console).content.decode()
    row = html[html.index(f'id="q-{newer.number}"'):]
    row = row[:row.index("</article>")]
    assert "疑似重复" in row and f'value="{older.number}"' in row
    assert far.number not in row and other_kind.number not in row
    r = client.post(act_url(newer, "merge"), {"into": older.number, "next": console})
    assert r.status_code == 302 and r["Location"] == console
    newer.refresh_from_db()
    assert newer.state == "merged" and newer.merged_into_id == older.pk
    assert "已合并" in client.get(console).content.decode()


def test_the_console_finds_the_whole_queues_duplicates_in_a_fixed_number_of_queries(client, small_city):
    """The merge offers of a queue come from two queries (the box around all queued cases, their photos), not
    two per queued case — and each case gets what it would get alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cogov.cases import selectors

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert head.get(console).status_code == 200
        return len(ctx.captured_queries)

    console = f"/work/station/{station(small_city)}/"
    head = as_(client, small_city, "station_a")
    cases = [report(small_city), report(small_city, point=NEAR_STREET)]
    few = queries()
    cases += [report(small_city, point=p, code=code) for p, code in
              ((ON_STREET, "07001"), (NEAR_STREET, "07001"), (IN_COURTYARD, "06010"), (NEAR_STREET, "06010"))]
    assert queries() <= few + 2, "queries grow with the queue"
    actor = small_city.actor("station_a")
    together = selectors.cases_duplicates_near(actor, cases)
    for case in cases:
        alone = selectors.case_duplicates_near(actor, case)
        assert [(c.pk, metres, m.score) for c, metres, m in together[case.pk]] == [
            (c.pk, metres, m.score) for c, metres, m in alone]
    assert any(together.values())  # the street's garbage and ads reports offer each other


def test_the_batched_offers_keep_each_cases_own_pool_when_the_pool_is_capped(small_city, monkeypatch):
    """With the pool capped (here 2 open cases per queued case), each case still gets the newest others of its own
    box — as it would alone."""
    import datetime as dt

    from cogov import clock
    from cogov.cases import selectors

    monkeypatch.setattr(selectors, "DUPLICATE_POOL", 2)
    cases = []
    for i in range(5):
        cases.append(report(small_city, point=(ON_STREET[0], ON_STREET[1] + i * 0.00005)))
        clock.freeze(clock.now() + dt.timedelta(minutes=20))
    actor = small_city.actor("station_a")
    together = selectors.cases_duplicates_near(actor, cases, threshold=0.0)
    for case in cases:
        alone = selectors.case_duplicates_near(actor, case, threshold=0.0)
        assert [c.pk for c, _m, _s in together[case.pk]] == [c.pk for c, _m, _s in alone]
        assert len(alone) == 2 and case.pk not in {c.pk for c, _m, _s in alone}


def test_follows_and_merges_show_as_confirmed_duplicates(client, small_city):
    """我也遇到了 on the citizen page and a merge are both a confirmed duplicate: the console shows the follows on
    the queued case, the case page counts both and links the merged report."""
    from cogov.cases import services

    older = report(small_city)
    newer = report(small_city, point=NEAR_STREET)
    console = f"/work/station/{station(small_city)}/"
    head = as_(client, small_city, "station_a")
    assert "人也遇到了" not in head.get(console).content.decode()
    services.case_follow(case_id=older.pk, person_id=small_city.people["citizen2"].pk)
    services.case_follow(case_id=older.pk, person_id=None, device_key="browser-1")
    head.post(act_url(newer, "merge"), {"into": older.number, "next": console})
    html = head.get(console).content.decode()
    row = html[html.index(f'id="q-{older.number}"'):]
    assert "2 人也遇到了" in row[:row.index("</article>")]
    page = head.get(f"/work/cases/{older.number}/").content.decode()
    card = page[page.index('id="h-confirmed"'):]
    card = card[:card.index("</section>")]
    assert "另有 3 次反映同一问题" in card and "2 人" in card and f">{newer.number}</a>" in card
    # the merged report's own page has no such card (nothing was merged into it, nobody follows it)
    assert 'id="h-confirmed"' not in head.get(f"/work/cases/{newer.number}/").content.decode()


def test_overdue_board_and_escalations(client, small_city):
    import datetime as dt

    from cogov import clock
    from cogov.cases.services import cases_escalate_overdue

    late = report(small_city)
    clock.freeze(late.first_response_due + dt.timedelta(minutes=30))
    fresh = report(small_city, code="07001")
    console = f"/work/station/{station(small_city)}/"
    html = as_(client, small_city, "station_a").get(console).content.decode()
    board = html[html.index('id="overdue"'):html.index('id="escalated"')]
    assert late.number in board and fresh.number not in board and "响应超时" in board
    cases_escalate_overdue(city_id=small_city.city.pk)
    html = client.get(console).content.decode()
    escalated = html[html.index('id="escalated"'):]
    assert late.number in escalated and "已升级到街道" in escalated and fresh.number not in escalated


def test_console_is_for_the_station_head_and_supervisors_over_it(client, small_city):
    console = f"/work/station/{station(small_city)}/"
    assert as_(client, small_city, "station_a").get(console).status_code == 200
    assert as_(client, small_city, "subdistrict_sup").get(console).status_code == 200
    for who in ("station_b", "street_head", "sanitation_crew"):
        assert as_(client, small_city, who).get(console).status_code == 404
    assert as_(client, small_city, "station_a").get("/work/station/99999999999999999999999/").status_code == 404
    assert client.get(f"/work/station/{small_city.units['370202001001'].pk}/").status_code == 404  # a community


def test_head_reports_a_patrol_find_in_two_taps(client, small_city):
    as_(client, small_city, "street_head")
    html = client.get("/work/head/").content.decode()
    litter = small_city.categories["06010"]
    assert f'name="category" value="{litter.pk}"' in html and 'id="locate"' in html
    r = client.post("/work/head/report", {"lon": str(ON_STREET[0]), "lat": str(ON_STREET[1]),
                                          "coord_system": "wgs84", "category": str(litter.pk),
                                          "category_other": "", "role": "street_head",
                                          "photo": io.BytesIO(jpeg())})
    assert r.status_code == 302 and r["Location"] == "/work/head/"
    case = Case.objects.get(reported_by=small_city.people["street_head"])
    assert case.source == "head" and case.category_id == litter.pk  # source 三长巡查
    assert CaseEvent.objects.get(case=case, action="report").role == "street_head"
    assert Attachment.objects.filter(case=case, kind="report").count() == 1
    html = client.get("/work/head/").content.decode()
    assert f"已上报，案件编号 {case.number}" in html and f"/work/cases/{case.number}/" in html


def test_head_patrol_without_photo_and_by_the_other_category_list(client, small_city):
    as_(client, small_city, "courtyard_head")
    cat = small_city.categories["Q0205"]
    r = client.post("/work/head/report", {"lon": str(IN_COURTYARD[0]), "lat": str(IN_COURTYARD[1]),
                                          "category_other": str(cat.pk)})
    assert r.status_code == 302
    case = Case.objects.get(reported_by=small_city.people["courtyard_head"])
    assert case.category_id == cat.pk and case.source == "head"


@pytest.mark.parametrize("data", [
    {},
    {"lon": "east", "lat": "36", "category": "1"},
    {"lon": "nan", "lat": "nan", "category": "1"},
    {"lon": "120.32", "lat": "36.061", "category": "99999999999999999999999"},
    {"lon": "120.32", "lat": "36.061", "category": "abc"},
    {"lon": "120.32", "lat": "36.061", "category": "999999"},
    {"lon": "116.40", "lat": "39.90", "category": "CAT"},
    {"lon": "120.32", "lat": "36.061", "category": "CAT", "role": "station_head"},
    {"lon": "120.32", "lat": "36.061", "category": "CAT", "coord_system": "mars"},
    {"lon": "120.32", "lat": "36.061", "category": "CAT", "description": "\x00"},
    {"lon": "120.32", "lat": "36.061", "category": "CAT", "description": "长" * 501},
])
def test_garbage_patrol_posts_never_give_a_500(client, small_city, data):
    data = {k: (str(small_city.categories["06010"].pk) if v == "CAT" else v) for k, v in data.items()}
    r = as_(client, small_city, "street_head").post("/work/head/report", data)
    assert 400 <= r.status_code < 500, (r.status_code, r.content[:300])
    assert not Case.objects.exists()


def test_a_bad_patrol_photo_is_refused_and_nothing_is_filed(client, small_city):
    r = as_(client, small_city, "street_head").post("/work/head/report", {
        "lon": str(ON_STREET[0]), "lat": str(ON_STREET[1]), "category": str(small_city.categories["06010"].pk),
        "photo": io.BytesIO(b"GIF89a not a jpeg")})
    assert r.status_code == 415 and "只接受 JPEG、PNG 或 WebP" in r.content.decode()
    assert not Case.objects.exists()


def test_heads_view_lists_my_areas_cases_newest_first_and_is_for_heads(client, small_city):
    older = report(small_city)
    newer = report(small_city, code="07001")
    elsewhere = report(small_city, point=IN_B_COMMUNITY)
    html = as_(client, small_city, "street_head").get("/work/head/").content.decode()
    mine = html[html.index('id="h-mine"'):]
    assert mine.index(newer.number) < mine.index(older.number) and elsewhere.number not in mine
    assert "light-green" in mine
    assert f'/work/station/{station(small_city)}/channel/' in html
    assert as_(client, small_city, "sanitation_crew").get("/work/head/").status_code == 403


def _sign_in(page, username):
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_url("**/work/**")


def test_browser_channel_shows_new_cases_live_and_acts_in_place(pages, small_city):
    """Chromium on a phone: a new case appears in the open channel without reload; accept and dispatch in place;
    a refused override shows its message in the line; the crew claims it from its own phone."""
    head = pages.open()
    _sign_in(head, "station_a")
    head.goto(channel("a", small_city))
    assert head.locator("#channel-feed > li").count() == 0
    case = report(small_city, description="公交站旁垃圾堆积")
    item = head.locator(f'#channel-feed > li.ev-report[data-case="{case.number}"]')
    item.wait_for(timeout=10_000)  # polled in, no reload
    assert "公交站旁垃圾堆积" in item.inner_text()
    pages.shot(head, "channel-new-case")
    item.get_by_role("button", name="立案").click()
    item.locator(".notice").filter(has_text="已立案").wait_for()
    # the accept event arrives as a new line on top; the old line's buttons are cleared
    head.locator(f'#channel-feed > li.ev-accept[data-case="{case.number}"]').wait_for(timeout=10_000)
    assert item.locator("form").count() == 0
    line = head.locator(f'#channel-feed > li.ev-accept[data-case="{case.number}"]')
    line.locator("summary", has_text="派遣").click()
    line.locator("select[name=unit]").select_option(str(small_city.service_units["enforcement"].pk))
    line.locator("form.staff-act-dispatch button[type=submit]").click()
    line.locator(".field-error", has_text="改派到非推荐单位时必须说明理由").wait_for()
    pages.shot(head, "channel-override-refused")
    line.locator("select[name=unit]").select_option(str(small_city.service_units["sanitation"].pk))
    line.locator("form.staff-act-dispatch button[type=submit]").click()
    line.locator(".notice", has_text="已派遣").wait_for()
    assert Case.objects.get(pk=case.pk).handler_unit_id == small_city.service_units["sanitation"].pk

    crew = pages.open()
    crew.goto("/login/?next=" + channel("a", small_city))
    crew.fill("#id_username", "sanitation_crew")
    crew.fill("#id_password", "pw-sanitation_crew")
    crew.click("button[type=submit]")
    crew.wait_for_url("**/channel/")
    crew.get_by_role("button", name="第一时间应答").first.click()
    crew.locator(".notice", has_text="已签收").wait_for()
    assert Case.objects.get(pk=case.pk).state == "acknowledged"
    pages.shot(crew, "channel-claimed")
    report(small_city, code="07001", description="电线杆上贴满小广告")
    head.goto(f"/work/station/{station(small_city)}/")
    head.get_by_role("button", name="立案").first.wait_for()
    pages.shot(head, "console")


def test_browser_head_reports_on_patrol_with_the_phones_gps_in_two_taps(pages, small_city):
    """Chromium on a phone that allows its position: ① locate, ② tap a category — the case is filed there."""
    phone = pages.open(geolocation=ON_STREET)
    _sign_in(phone, "street_head")
    assert phone.url.endswith("/work/head/")
    phone.get_by_role("button", name="获取当前位置").click()
    phone.locator("#locate-status", has_text="已定位").wait_for()
    pages.shot(phone, "head-located")
    phone.get_by_role("button", name=small_city.categories["06010"].name).click()
    phone.locator(".messages", has_text="已上报").wait_for()
    case = Case.objects.get(reported_by=small_city.people["street_head"])
    assert case.source == "head" and abs(case.lon - ON_STREET[0]) < 1e-6 and abs(case.lat - ON_STREET[1]) < 1e-6
    assert case.units.get("street") == small_city.units["37020200100101S001"].pk
    pages.shot(phone, "head-reported")
    phone.goto(f"/work/cases/{case.number}/")
    pages.shot(phone, "case-page")


# --- durations in days/hours/minutes, the heads' list by urgency, the station's dashboard -------------------------


def test_overdue_times_are_said_in_days_hours_or_minutes(client, small_city):
    import datetime as dt

    from cogov import clock

    case = report(small_city)
    clock.freeze(case.first_response_due + dt.timedelta(minutes=23711))
    console = f"/work/station/{station(small_city)}/"
    html = as_(client, small_city, "station_a").get(console).content.decode()
    board = html[html.index('id="overdue"'):html.index('id="escalated"')]
    assert case.number in board and "16.5 天" in board and "23711" not in board and "分钟" not in board
    queue = html[html.index(f'id="q-{case.number}"'):]
    assert re.search(r'light-red">响应超时 16\.5 天<', queue[:queue.index("</article>")])

    clock.freeze(case.first_response_due + dt.timedelta(hours=3))
    board = client.get(console).content.decode()
    assert "3.0 小时" in board[board.index('id="overdue"'):board.index('id="escalated"')]


def test_the_channel_countdown_says_hours_past_an_hour_and_gives_the_browser_the_same_words(client, small_city):
    import datetime as dt

    from cogov import clock

    case = report(small_city)
    html = as_(client, small_city, "station_a").get(channel("a", small_city)).content.decode()
    assert re.search(r'countdown light-green"[^>]*>响应剩余 60 分钟<', html)
    clock.freeze(case.first_response_due + dt.timedelta(hours=3))
    html = client.get(channel("a", small_city)).content.decode()
    assert re.search(r'countdown light-red"[^>]*>响应超时 3\.0 小时<', html)
    # staff.js counts down with the patterns of the server's formatter
    for attr in ('data-left="响应剩余 %s"', 'data-late="响应超时 %s"', 'data-minutes="%(n)d 分钟"',
                 'data-hours="%(n).1f 小时"', 'data-days="%(n).1f 天"'):
        assert attr in html, attr


def test_heads_view_lists_open_cases_by_urgency_and_folds_the_recently_closed(client, small_city):
    import datetime as dt

    from cogov import clock

    t0 = clock.now()
    clock.freeze(t0 - dt.timedelta(days=10))
    long_closed = report(small_city, description="十天前的")
    clock.freeze(t0 - dt.timedelta(days=1))
    closed = report(small_city, description="昨天的")
    clock.freeze(t0 - dt.timedelta(hours=2))
    red = report(small_city)  # its hour to respond is long gone
    clock.freeze(t0)
    act(small_city, "station_a", long_closed, "reject", reason="重复上报")  # not accepted: dated by its report
    act(small_city, "station_a", closed, "reject", reason="不属于受理范围")
    yellow = report(small_city, code="07001")
    clock.freeze(t0 + dt.timedelta(minutes=55))  # 55 of its 60 minutes: yellow
    green = report(small_city, code="07001")
    html = as_(client, small_city, "street_head").get("/work/head/").content.decode()
    mine = html[html.index('id="h-mine"'):]
    open_list = mine[mine.index('id="open-cases"'):mine.index("</ul>")]
    order = [open_list.index(c.number) for c in (red, yellow, green)]
    assert order == sorted(order)
    for c, light, word in ((red, "red", "超时"), (yellow, "yellow", "临期"), (green, "green", "正常")):
        row = next(li for li in open_list.split("<li") if c.number in li)
        assert f'light-{light}">{word}<' in row, c.number
    assert closed.number not in open_list and long_closed.number not in mine
    folded = mine[mine.index('<details class="closed-cases"'):]
    assert "近 7 天已结案（1）" in folded and closed.number in folded[:folded.index("</details>")]


def test_the_station_head_reaches_the_stations_dashboard_from_the_console(client, small_city):
    console = f"/work/station/{station(small_city)}/"
    html = as_(client, small_city, "station_a").get(console).content.decode()
    assert 'href="/work/dashboard/"' in html
    assert client.get("/work/dashboard/").status_code == 200
