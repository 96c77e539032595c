"""The professional unit's console: the unit's own cases, the nearest deadline first, with buttons that post to
the staff action endpoint and come back here."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from cogov import clock
from cogov.cases.services import case_act, case_report
from tests.conftest import IN_B_COMMUNITY, IN_BUILDING, IN_COURTYARD, ON_STREET

URL = "/work/unit/"


def report(c, point, code="06010"):
    return case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories[code].pk, lon=point[0],
                       lat=point[1], description="测试")


def act(c, who, case, action, **data):
    return case_act(city_id=c.city.pk, number=case.number, actor=c.actor(who), action=action, data=data)


def dispatch(c, case, unit, station="station_a"):
    act(c, station, case, "accept")
    return act(c, station, case, "dispatch", unit=c.service_units[unit].pk, reason="测试")


def later(minutes):
    clock.freeze(clock.now() + dt.timedelta(minutes=minutes))


@pytest.fixture
def cases(small_city):
    """Sanitation holds three cases (one dispatched late but reported first); property and enforcement one each."""
    c = small_city
    first_reported = report(c, IN_B_COMMUNITY)  # reported first, dispatched last
    later(5)
    early = dispatch(c, report(c, ON_STREET), "sanitation")
    later(60)
    acknowledged = act(c, "sanitation_crew", dispatch(c, report(c, IN_COURTYARD), "sanitation"), "acknowledge")
    later(60)
    last = dispatch(c, first_reported, "sanitation", station="station_b")
    property_case = dispatch(c, report(c, IN_BUILDING, "Q0301"), "property")
    enforcement_case = dispatch(c, report(c, IN_COURTYARD), "enforcement")
    later(10)
    return {"early": early, "acknowledged": acknowledged, "last": last, "property": property_case,
            "enforcement": enforcement_case}


def positions(html, numbers):
    return [html.index(f'id="case-{n}"') for n in numbers]


def test_unit_sees_only_its_cases_nearest_deadline_first(client, small_city, cases):
    c = small_city
    client.force_login(c.people["sanitation_crew"])
    r = client.get(URL)
    assert r.status_code == 200
    html = r.content.decode()
    shown = [it["case"].number for it in r.context["items"]]
    assert set(shown) == {cases["early"].number, cases["acknowledged"].number, cases["last"].number}
    assert cases["property"].number not in html and cases["enforcement"].number not in html
    deadlines = [it["case"].deadline for it in r.context["items"]]
    assert deadlines == sorted(deadlines)
    # dispatched: 1 working hour to claim; claimed: 4 working hours to handle (from dispatch). The case reported
    # first but dispatched last follows the one dispatched first: the order is the deadline's, not the report's
    assert shown == [cases["early"].number, cases["last"].number, cases["acknowledged"].number]
    assert cases["last"].reported_at < cases["early"].reported_at
    assert deadlines[0] == cases["early"].first_response_due
    assert deadlines[2] == cases["acknowledged"].handling_due
    a, b, z = positions(html, [shown[0], shown[1], shown[2]])
    assert a < b < z
    assert "市南区环卫所" in html
    # the property crew sees its own case only
    client.force_login(c.people["property_crew"])
    r = client.get(URL)
    assert [it["case"].number for it in r.context["items"]] == [cases["property"].number]


def test_buttons_post_to_the_staff_action_endpoint_and_come_back(client, small_city, cases):
    c = small_city
    client.force_login(c.people["sanitation_crew"])
    html = client.get(URL).content.decode()
    dispatched, acknowledged = cases["early"].number, cases["acknowledged"].number

    def forms_of(number):
        start = html.index(f'id="case-{number}"')
        block = html[start: html.index("</li>", start)]
        return dict(re.findall(r'<form method="post" action="/work/cases/' + number + r'/act/(\w+)"[^>]*>(.*?)</form>',
                               block, re.DOTALL))

    f = forms_of(dispatched)
    assert set(f) == {"acknowledge", "return", "request_extension"}  # not handled before it is claimed
    assert 'name="next" value="/work/unit/?tab=todo"' in f["acknowledge"]
    assert 'name="csrfmiddlewaretoken"' in f["acknowledge"]
    assert 'name="reason"' in f["return"]
    assert 'name="days"' in f["request_extension"] and 'name="reason"' in f["request_extension"]
    f = forms_of(acknowledged)
    assert set(f) == {"handle", "return", "request_extension"}
    assert 'name="note"' in f["handle"] and 'type="file"' in f["handle"] and 'name="photos"' in f["handle"]
    assert f'href="/work/cases/{acknowledged}/"' in html  # the full form on the case page
    assert 'enctype="multipart/form-data"' in html

    # once an extension is asked for, the button goes away
    act(c, "sanitation_crew", cases["acknowledged"], "request_extension", days=2, reason="材料未到")
    html = client.get(URL).content.decode()
    start = html.index(f'id="case-{acknowledged}"')
    block = html[start: html.index("</li>", start)]
    assert "/act/request_extension" not in block and "延期待审批" in block


def test_deadline_lights_follow_the_clock(client, small_city, cases):
    c = small_city
    client.force_login(c.people["sanitation_crew"])
    item = next(it for it in client.get(URL).context["items"] if it["case"].number == cases["acknowledged"].number)
    assert item["light"] == "green"
    clock.freeze(item["case"].handling_due + dt.timedelta(minutes=5))
    r = client.get(URL)
    item = next(it for it in r.context["items"] if it["case"].number == cases["acknowledged"].number)
    assert item["light"] == "red" and "已超时" in item["due_text"]
    assert "light-red" in r.content.decode()


def test_waiting_and_recently_closed_tabs(client, small_city, cases):
    c = small_city
    case = act(c, "sanitation_crew", cases["acknowledged"], "handle", note="已清理")
    client.force_login(c.people["sanitation_crew"])
    r = client.get(URL)
    assert case.number not in [it["case"].number for it in r.context["items"]]
    r = client.get(URL + "?tab=waiting")
    assert r.status_code == 200 and case.number in r.content.decode()
    assert r.context["tab"] == "waiting"
    assert 'aria-current="page"' in r.content.decode()
    act(c, "citizen", case, "verify")
    act(c, "station_a", case, "close")
    r = client.get(URL + "?tab=closed")
    html = r.content.decode()
    assert case.number in html and "按期" in html
    assert cases["property"].number not in html
    assert client.get(URL + "?tab=waiting").context["waiting"] == []
    # an unknown tab falls back to the to-do list
    assert client.get(URL + "?tab=%00nonsense").context["tab"] == "todo"


def test_returned_case_leaves_the_unit(client, small_city, cases):
    c = small_city
    act(c, "sanitation_crew", cases["early"], "return", reason="非本单位职责")
    client.force_login(c.people["sanitation_crew"])
    html = client.get(URL).content.decode()
    assert f'id="case-{cases["early"].number}"' not in html


def test_only_unit_staff_use_the_console(client, small_city):
    c = small_city
    assert client.get(URL)["Location"].startswith("/login/")
    client.force_login(c.people["citizen"])
    assert client.get(URL)["Location"] == "/my/"
    client.force_login(c.people["subdistrict_sup"])
    assert client.get(URL)["Location"] == "/work/dashboard/"
    client.force_login(c.people["building_head"])
    assert client.get(URL)["Location"] == "/work/"
    client.force_login(c.people["enforcement_crew"])
    r = client.get(URL)
    assert r.status_code == 200 and "暂无待办案件" in r.content.decode()


def test_claiming_from_the_console_goes_through_the_case_action_and_back(client, small_city, cases):
    """The console's own form, posted as the browser would, reaches case_act and returns to the console."""
    from cogov.cases.models import Case

    c = small_city
    client.force_login(c.people["sanitation_crew"])
    number = cases["early"].number
    html = client.get(URL).content.decode()
    start = html.index(f'id="case-{number}"')
    block = html[start: html.index("</li>", start)]
    action, form = re.search(r'<form method="post" action="([^"]+/act/acknowledge)"[^>]*>(.*?)</form>', block,
                             re.DOTALL).groups()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    r = client.post(action, fields)
    assert r.status_code == 302 and r["Location"] == "/work/unit/?tab=todo"
    assert Case.objects.get(number=number).state == "acknowledged"
    # now it offers 处置; asking for an extension posts days and reason the same way
    r = client.post(f"/work/cases/{number}/act/request_extension",
                    {"days": "2", "reason": "需要协调", "next": "/work/unit/?tab=todo"})
    assert r.status_code == 302 and r["Location"] == "/work/unit/?tab=todo"
    assert Case.objects.get(number=number).extension_pending
