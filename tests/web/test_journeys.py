"""Whole journeys in a real browser (Debian's Chromium through Playwright) against the live server.

1. A citizen signs in with a one-time code, reports litter with a photo and a pin on the map on a 360-px phone →
   the station channel, already open on the station head's phone, shows it without a reload → the head accepts and
   dispatches it → the sanitation crew claims it in the channel and handles it with an after-photo → the head
   verifies and closes it → the citizen sees the timeline in "my reports" and rates it.
2. A case nobody handles passes its deadline, the escalation sweep lifts it to the sub-district, and it appears
   on the sub-district supervisor's board.

Each step leaves a screenshot under test-artifacts/screens/<test name>/; the ``pages`` fixture fails the test if
any page asked for something outside the server or got a 5xx.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from cogov import clock
from cogov.cases.models import Attachment, Case, CaseEvent
from tests.conftest import IN_COURTYARD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def jpeg(path, colour):
    """A small real photo (JPEG) on disk, as a phone's camera would hand it to the file input."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue())
    return str(path)


def sign_in(pages, username, *, phone=True):
    """A staff member signs in with account and password on a fresh browser."""
    page = pages.open(phone=phone)
    page.goto("/login/")
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(f"pw-{username}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/work/**")
    return page


def act_on_case_page(page, number, action, *, fields=None, files=None):
    """On the staff case page, fill the form of ``action`` and submit it; wait for the page to settle."""
    page.goto(f"/work/cases/{number}/")
    form = page.locator(f"form.staff-act-{action}").first
    for name, value in (fields or {}).items():
        control = form.locator(f"[name={name}]")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(str(value))
        else:
            control.fill(str(value))
    if files:
        form.locator("input[type=file]").set_input_files(files)
    # wait for the POST's answer itself: "networkidle" alone can be reached before a slow submit has started
    with page.expect_response(lambda r: f"/act/{action}" in r.url and r.request.method == "POST"):
        form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def state(number):
    return Case.objects.get(number=number).state


def test_citizen_report_to_rating_through_the_station_channel(pages, small_city, settings, tmp_path):
    from cogov.people import sms

    settings.COGOV_SMS_BACKEND = "memory"
    sms.sent.clear()
    station = small_city.units["37020200100101"]

    # the station head keeps the channel open on the phone
    head = sign_in(pages, "station_a")
    head.goto(f"/work/station/{station.pk}/channel/")
    pages.shot(head, "station-channel-before")

    # a citizen signs in with a one-time code …
    citizen = pages.open(phone=True, geolocation=IN_COURTYARD)
    citizen.goto("/login/phone/?next=/report/")
    citizen.get_by_label("手机号").fill("13800138000")
    citizen.get_by_role("button", name="获取验证码").click()
    citizen.get_by_label("6 位验证码").wait_for()
    assert sms.sent and sms.sent[-1][0] == "13800138000"
    citizen.get_by_label("6 位验证码").fill(sms.sent[-1][1])
    citizen.get_by_role("button", name="登录").click()
    citizen.wait_for_url("**/report/")

    # … and reports: a photo, the GPS position, then a pin put on the map by hand, the text, a suggested category
    citizen.locator("#id_photos").set_input_files(jpeg(tmp_path / "litter.jpg", (120, 110, 90)))
    citizen.get_by_role("button", name="使用我的位置（GPS）").click()
    citizen.wait_for_function("document.querySelector('#id_lon').value !== ''")
    box = citizen.locator("#report-map").bounding_box()
    citizen.mouse.click(box["x"] + box["width"] / 2 + 12, box["y"] + box["height"] / 2 + 18)  # the pin
    citizen.locator("#id_description").fill("小区门口垃圾堆积好几天了，没人清理，味道很大")
    suggestion = citizen.locator("#suggestions button").first
    suggestion.wait_for()
    suggestion.click()
    assert citizen.locator("#id_category").input_value() != ""
    pin = (float(citizen.locator("#id_lon").input_value()), float(citizen.locator("#id_lat").input_value()))
    assert pin != IN_COURTYARD and abs(pin[0] - IN_COURTYARD[0]) < 0.004 and abs(pin[1] - IN_COURTYARD[1]) < 0.004
    pages.shot(citizen, "citizen-report-form")
    citizen.get_by_role("button", name="提交上报").click()
    citizen.wait_for_url("**/report/done/**")
    pages.shot(citizen, "citizen-report-done")
    case = Case.objects.get()
    number = case.number
    assert case.reported_by == small_city.people["citizen"] or case.reported_by.phone == "13800138000"
    assert Attachment.objects.filter(case=case, kind="report").count() == 1
    assert case.station_id == station.pk

    # the channel shows it without a reload
    item = head.locator(f"li[data-case='{number}']").first
    item.wait_for(timeout=15_000)
    assert head.evaluate("performance.getEntriesByType('navigation').length") == 1
    pages.shot(head, "station-channel-new-case")

    # the head accepts and dispatches to the suggested unit (the routing's choice)
    act_on_case_page(head, number, "accept")
    assert state(number) == "accepted"
    act_on_case_page(head, number, "dispatch")
    assert state(number) == "dispatched"
    assert Case.objects.get(number=number).handler_unit == small_city.service_units["sanitation"]
    pages.shot(head, "head-dispatched")

    # the sanitation crew claims it in the channel (第一时间应答) …
    crew = sign_in(pages, "sanitation_crew")
    crew.goto(f"/work/station/{station.pk}/channel/")
    claim = crew.locator(f"li[data-case='{number}'] form.staff-act-acknowledge button[type=submit]").first
    claim.click()
    crew.wait_for_function(f"!document.querySelector(\"li[data-case='{number}'] form.staff-act-acknowledge\")"
                           " || document.querySelector('.notice')")
    assert state(number) == "acknowledged"
    pages.shot(crew, "crew-claimed")
    # … and handles it with an after-photo
    act_on_case_page(crew, number, "handle", fields={"note": "已清运干净"},
                     files=[jpeg(tmp_path / "after.jpg", (200, 200, 200))])
    assert state(number) == "handled"
    assert Attachment.objects.filter(case__number=number, kind="after").count() == 1
    pages.shot(crew, "crew-handled")

    # verification (核查): the reporter, when the category asks for it and the reporter has an account; else the head
    if Case.objects.get(number=number).category.reporter_verifies:
        citizen.goto("/my/")
        citizen.locator(f"#case-{number}").get_by_role("button", name="已处理好（核查通过）").click()
        citizen.wait_for_load_state("networkidle")
        pages.shot(citizen, "citizen-verified")
    else:
        act_on_case_page(head, number, "verify")
    assert state(number) == "verified"
    act_on_case_page(head, number, "close")
    assert state(number) == "closed"
    pages.shot(head, "head-closed")

    # the citizen sees the timeline and rates
    citizen.goto("/my/")
    mine = citizen.locator(f"#case-{number}")
    for step in ("上报", "立案", "派遣", "签收", "处置", "核查通过", "结案"):
        assert mine.get_by_text(step, exact=True).count() >= 1, step
    assert mine.locator("img").count() >= 1  # the after-photo
    pages.shot(citizen, "citizen-timeline")
    mine.get_by_label("满意", exact=True).check()
    mine.get_by_role("button", name="提交评价").click()
    citizen.wait_for_load_state("networkidle")
    assert Case.objects.get(number=number).rating == "satisfied"
    assert list(CaseEvent.objects.filter(case__number=number).values_list("action", flat=True)) == [
        "report", "accept", "dispatch", "acknowledge", "handle", "verify", "close", "rate"]
    pages.shot(citizen, "citizen-rated")


def test_an_overdue_case_escalates_to_the_subdistrict_board(pages, small_city):
    from cogov.cases.services import case_act, case_report, cases_escalate_overdue

    litter = next(c for c in small_city.categories.values() if c.kind == "matter")
    case = case_report(city=small_city.city, actor=small_city.actor("citizen"), category_id=litter.pk,
                       lon=IN_COURTYARD[0], lat=IN_COURTYARD[1], description="楼下的垃圾桶满了没人管")
    case_act(city_id=small_city.city.pk, number=case.number, actor=small_city.actor("station_a"), action="accept")
    case_act(city_id=small_city.city.pk, number=case.number, actor=small_city.actor("station_a"),
             action="dispatch", data={"unit": small_city.service_units["sanitation"].pk, "reason": "环卫所负责"})
    case.refresh_from_db()
    clock.freeze(case.handling_due + dt.timedelta(minutes=1))
    assert case.number in cases_escalate_overdue(city_id=small_city.city.pk)
    assert Case.objects.get(pk=case.pk).level == "subdistrict"

    board = sign_in(pages, "subdistrict_sup", phone=False)
    board.goto("/work/dashboard/")
    escalated = board.locator("#escalated")
    escalated.get_by_text(case.number).wait_for()
    pages.shot(board, "subdistrict-board-escalated")
