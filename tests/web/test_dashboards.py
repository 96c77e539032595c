"""Supervisors' dashboards: only their area is counted, the numbers are right, drill-down stays inside the area,
escalated cases show up on the sub-district's board, and bad query strings never give a 500."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import xml.etree.ElementTree as ET

import pytest

from cogov import clock
from cogov.cases.models import Case
from cogov.cases.services import case_act, case_report, cases_escalate_overdue
from tests.conftest import IN_B_COMMUNITY, IN_BUILDING, IN_COURTYARD, ON_STREET, rect

URL = "/work/dashboard/"
IN_NORTH = (120.35, 36.15)  # in the second district (市北区), added below
LOCAL = clock.LOCAL_TZ


@pytest.fixture
def city(small_city):
    """The small city with a second district north of 市南区 (its own sub-district, community and station),
    a city supervisor and the admin."""
    from cogov.geo import selectors
    from cogov.geo.services import units_import
    from cogov.people.models import Person
    from cogov.people.services import role_assign

    report = units_import(city=small_city.city, rows=[
        {"kind": "district", "code": "370203", "name": "市北区", "parent": "", "geometry": rect(120.30, 36.10, 120.40, 36.20)},
        {"kind": "subdistrict", "code": "370203001", "name": "辽宁路街道", "parent": "370203",
         "geometry": rect(120.30, 36.10, 120.40, 36.20)},
        {"kind": "community", "code": "370203001001", "name": "华阳路社区", "parent": "370203001",
         "geometry": rect(120.30, 36.10, 120.40, 36.20)},
        {"kind": "station", "code": "37020300100101", "name": "华阳路社区城市治理服务站", "parent": "370203001001",
         "geometry": rect(120.30, 36.10, 120.40, 36.20)},
    ])
    assert report.ok, report.rejected
    selectors.forget_index()
    from cogov.geo.models import Unit

    small_city.units.update({u.code: u for u in Unit.objects.filter(city=small_city.city)})
    for username, name in [("city_sup", "卫处长"), ("station_north", "蒋站长")]:
        small_city.people[username] = Person.objects.create_user(
            username=username, password="pw-" + username, city=small_city.city, display_name=name)
    role_assign(person=small_city.people["city_sup"], role="city_supervisor")
    role_assign(person=small_city.people["station_north"], role="station_head",
                scope_unit=small_city.units["37020300100101"])
    small_city.people["admin"] = Person.objects.create_superuser(username="admin", password="pw-admin",
                                                                city=small_city.city)
    return small_city


def report(c, point, code="06010", who="citizen"):
    return case_report(city=c.city, actor=c.actor(who), category_id=c.categories[code].pk, lon=point[0],
                       lat=point[1], description="测试案件")


def act(c, who, case, action, **data):
    return case_act(city_id=c.city.pk, number=case.number, actor=c.actor(who), action=action, data=data)


def run(c, case, steps):
    for who, action, data in steps:
        case = act(c, who, case, action, **data)
    return case


def at(*args):
    """Freeze the clock at a local (Beijing) time."""
    moment = dt.datetime(*args, tzinfo=LOCAL)
    clock.freeze(moment.astimezone(dt.UTC))
    return moment


def open_dashboard(client, c, who, query=""):
    client.force_login(c.people[who])
    return client.get(URL + query)


def kpi(html: str, name: str) -> str:
    m = re.search(rf'id="kpi-{name}"[^>]*>([^<]*)<', html)
    assert m, name
    return m.group(1).strip()


def dispatch_to(c, case, unit="sanitation", station="station_a"):
    return run(c, case, [(station, "accept", {}),
                         (station, "dispatch", {"unit": c.service_units[unit].pk, "reason": "测试"})])


def test_subdistrict_supervisor_counts_only_his_area(client, city):
    c = city
    mine = [report(c, ON_STREET), report(c, IN_COURTYARD, "Q0301"), report(c, IN_B_COMMUNITY)]
    elsewhere = report(c, IN_NORTH)
    assert elsewhere.district_id == c.units["370203"].pk

    r = open_dashboard(client, c, "subdistrict_sup")
    assert r.status_code == 200
    html = r.content.decode()
    assert r.context["summary"]["reported"] == 3 and kpi(html, "reported") == "3"
    assert r.context["summary"]["open"] == 3
    assert sum(n for _, _, n in r.context["categories"]) == 3
    assert elsewhere.number not in html
    assert all(m.number in html for m in mine)  # the open cases' table under the map
    assert "香港中路街道" in html
    # the breakdown by community: 湛山 2, 八大关 1
    rows = {row["area"].code: row["reported"] for row in r.context["rows"]}
    assert rows == {"370202001001": 2, "370202001002": 1}

    # the district supervisor of 市南区 sees the same three; the city supervisor and the admin all four
    assert open_dashboard(client, c, "district_sup").context["summary"]["reported"] == 3
    assert open_dashboard(client, c, "city_sup").context["summary"]["reported"] == 4
    assert open_dashboard(client, c, "admin").context["summary"]["reported"] == 4
    # a station head sees his station only
    north = open_dashboard(client, c, "station_north")
    assert north.status_code == 200 and north.context["summary"]["reported"] == 1
    assert elsewhere.number in north.content.decode() and mine[0].number not in north.content.decode()
    assert open_dashboard(client, c, "station_b").context["summary"]["reported"] == 1


def test_drill_down_inside_the_area_and_refused_outside(client, city):
    c = city
    report(c, ON_STREET)
    report(c, IN_B_COMMUNITY)
    report(c, IN_NORTH)
    r = open_dashboard(client, c, "subdistrict_sup", "?under=370202001001")
    assert r.status_code == 200
    assert r.context["summary"]["reported"] == 1
    assert r.context["here"].name == "湛山社区"
    html = r.content.decode()
    assert "本人辖区" in html and 'name="under" value="370202001001"' in html
    # a station under the community: still inside
    assert open_dashboard(client, c, "subdistrict_sup", "?under=37020200100201").context["summary"]["reported"] == 1

    for query in ["?under=370203", "?under=370203001001", "?under=370202", "?under=NOPE", "?under=%00",
                  "?under=" + "9" * 300, "?under=37020200100101C001"]:
        r = open_dashboard(client, c, "subdistrict_sup", query)
        assert r.status_code == 403, query
        assert "不在您的管辖范围内" in r.content.decode()
        assert "市北区" not in r.content.decode()
    # the district supervisor may look into his sub-district, the city supervisor into 市北区
    assert open_dashboard(client, c, "district_sup", "?under=370202001").status_code == 200
    assert open_dashboard(client, c, "district_sup", "?under=370203").status_code == 403
    r = open_dashboard(client, c, "city_sup", "?under=370203")
    assert r.status_code == 200 and r.context["summary"]["reported"] == 1


def test_who_may_open_the_dashboard(client, city):
    c = city
    assert client.get(URL).status_code == 302  # signed out → sign-in
    client.force_login(c.people["citizen"])
    r = client.get(URL)  # a signed-in citizen: to his own reports, told why (not a sign-in page again)
    assert r["Location"] == "/my/"
    assert "工作台仅供工作人员使用" in client.get("/my/").content.decode()
    client.force_login(c.people["sanitation_crew"])
    assert client.get(URL)["Location"] == "/work/unit/"
    client.force_login(c.people["building_head"])
    r = client.get(URL)
    assert r.status_code == 403 and "没有监管看板的权限" in r.content.decode()


@pytest.mark.parametrize("query", [
    "?period=custom&from=2026-13-45&to=2026-11-24",
    "?period=custom&from=yesterday",
    "?period=custom&from=2026-11-24&to=2026-11-01",
    "?period=custom&from=2000-01-01&to=2026-11-24",
    "?period=custom",
    "?period=quarter",
    "?period=custom&from=%00&to=%00",
    "?period=30d&from=x&to=y&under=&foo=bar",
    "?period=month&under=%E2%80%AE",
])
def test_bad_query_strings_give_a_message_never_a_500(client, city, query):
    report(city, ON_STREET)
    r = open_dashboard(client, city, "subdistrict_sup", query)
    assert r.status_code in (200, 403)
    if r.status_code == 200:
        period_error = r.context["period_error"]
        if "period=30d" not in query and "period=month" not in query:
            assert period_error
            assert period_error in r.content.decode()
            assert r.context["period"].kind == "30d"  # fell back to the default
        assert r.context["summary"]["reported"] == 1


def test_escalated_case_appears_on_the_subdistrict_board(client, city):
    c = city
    case = report(c, ON_STREET)
    case = run(c, case, [("station_a", "accept", {}),
                         ("station_a", "dispatch", {"unit": c.service_units["sanitation"].pk}),
                         ("sanitation_crew", "acknowledge", {})])
    quiet = report(c, IN_B_COMMUNITY)  # never answered: the same sweep escalates it
    outside = report(c, IN_NORTH)  # escalated as well, in another district

    r = open_dashboard(client, c, "subdistrict_sup")
    section = re.search(r'<section id="escalated".*?</section>', r.content.decode(), re.DOTALL).group(0)
    assert case.number not in section and "暂无升级案件" in section

    clock.freeze(case.handling_due + dt.timedelta(minutes=1))
    assert case.number in cases_escalate_overdue(city_id=c.city.pk)
    r = open_dashboard(client, c, "subdistrict_sup")
    html = r.content.decode()
    section = re.search(r'<section id="escalated".*?</section>', html, re.DOTALL).group(0)
    assert "升级案件" in section
    assert f'href="/work/cases/{case.number}/"' in section
    assert "街道" in section
    assert quiet.number in section
    assert Case.objects.get(pk=outside.pk).level == "subdistrict" and outside.number not in html
    assert r.context["summary"]["escalated"] == 2 and r.context["escalated_total"] == 2
    assert {e["case"].number for e in r.context["escalated"]} == {case.number, quiet.number}
    # the station head of 市北区 has no escalated cases of 市南区
    north = open_dashboard(client, c, "station_north")
    assert case.number not in north.content.decode()


def test_the_numbers_equal_counts_made_independently(client, city):
    """Cases in several states over two months; each figure is recomputed here from the rows."""
    from cogov.people.models import RoleAssignment

    c = city
    RoleAssignment.objects.update(valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))  # in post since January
    sanitation = ("sanitation_crew", "sanitation")
    cases = []
    # October: one case reported on 31 Oct late evening (local) — outside "this month", inside the last 30 days
    at(2026, 10, 31, 23, 30)
    cases.append(report(c, ON_STREET))
    at(2026, 10, 10, 9, 30)  # before the last 30 days
    old = report(c, IN_COURTYARD, "Q0301")
    # November: a loop closed on time, one closed late, one returned, some open
    at(2026, 11, 2, 9, 10)
    on_time = report(c, ON_STREET)
    at(2026, 11, 2, 9, 40)
    on_time = dispatch_to(c, on_time)
    on_time = run(c, on_time, [(sanitation[0], "acknowledge", {}), (sanitation[0], "handle", {"note": "清运"})])
    at(2026, 11, 2, 16, 0)
    on_time = run(c, on_time, [("citizen", "verify", {}), ("station_a", "close", {})])
    at(2026, 11, 3, 9, 0)
    late = report(c, IN_B_COMMUNITY)
    at(2026, 11, 3, 11, 0)
    late = dispatch_to(c, late, station="station_b")
    late = act(c, sanitation[0], late, "acknowledge")
    at(2026, 11, 10, 10, 0)  # long after its deadline
    late = run(c, late, [(sanitation[0], "handle", {"note": "迟了"}), ("citizen", "verify", {}),
                         ("station_b", "close", {})])
    at(2026, 11, 20, 14, 0)
    returned = dispatch_to(c, report(c, IN_BUILDING, "Q0301"), unit="enforcement")
    returned = act(c, "enforcement_crew", returned, "return", reason="非本单位职责")
    at(2026, 11, 23, 10, 0)
    waiting = dispatch_to(c, report(c, ON_STREET))
    at(2026, 11, 24, 9, 0)
    fresh = report(c, IN_B_COMMUNITY, "Q0101")
    at(2026, 11, 24, 9, 30)
    rejected = act(c, "station_b", report(c, IN_B_COMMUNITY), "reject", reason="重复")
    outside = report(c, IN_NORTH)
    at(2026, 11, 24, 10, 0)
    cases += [old, on_time, late, returned, waiting, fresh, rejected, outside]
    now = clock.now()

    r = open_dashboard(client, c, "subdistrict_sup")
    assert r.status_code == 200
    ctx, html = r.context, r.content.decode()
    path = c.units["370202001"].path
    start = dt.datetime(2026, 10, 26, tzinfo=LOCAL)  # the last 30 days: 26 Oct … 24 Nov
    end = dt.datetime(2026, 11, 25, tzinfo=LOCAL)
    rows = list(Case.objects.filter(unit_path__startswith=path))
    assert len(rows) == 8
    in_period = [x for x in rows if start <= x.reported_at < end]
    closed = [x for x in rows if x.state == "closed" and start <= x.closed_at < end]
    assert len(in_period) == 7 and len(closed) == 2
    s = ctx["summary"]
    assert s["reported"] == len(in_period) and kpi(html, "reported") == "7"
    assert s["closed"] == len(closed) == 2
    assert s["on_time"] == sum(1 for x in closed if x.handled_at <= x.handling_due) == 1
    assert kpi(html, "on-time") == "50.0%"
    open_states = {"reported", "accepted", "dispatched", "acknowledged", "handled", "verified"}
    assert s["open"] == sum(1 for x in rows if x.state in open_states)
    overdue = [x for x in rows if x.state in ("reported", "accepted", "dispatched", "acknowledged")
               and ((x.handling_due or x.first_response_due) < now)]
    assert s["overdue"] == len(overdue) and len(overdue) >= 2  # the October ones were never answered
    states = {code: n for code, _, n in ctx["states"]}
    expected = {}
    for x in in_period:
        expected[x.state] = expected.get(x.state, 0) + 1
    assert states == expected
    cats = {code: n for code, _, n in ctx["categories"]}
    expected = {}
    for x in in_period:
        expected[x.category.code] = expected.get(x.category.code, 0) + 1
    assert cats == expected
    # 小事不出社区: both closed cases stayed in the community
    assert ctx["inside"]["closed"] == 2 and ctx["inside"]["closed_in_community"] == 2
    assert kpi(html, "community") == "100.0%"
    # first response (上报→立案) in minutes: median and p90 by nearest rank
    waits = sorted((x.accepted_at - x.reported_at).total_seconds() for x in in_period if x.accepted_at)
    n = len(waits)
    assert ctx["times"]["accept"]["n"] == n == 4
    assert waits == [0, 0, 30 * 60, 120 * 60]
    assert ctx["times"]["accept"]["median"] == f"{round(statistics.median_low(waits) / 60)} 分钟" == "0 分钟"
    assert ctx["times"]["accept"]["p90"] == "2.0 小时"  # nearest rank: the 4th of 4
    # the trend: per local day; 31 Oct 23:30 local belongs to 31 Oct, not to 1 Nov
    trend = {d: (rep, clo) for d, rep, clo in ctx["trend_rows"]}
    assert len(trend) == 30
    assert trend[dt.date(2026, 10, 31)] == (1, 0) and trend[dt.date(2026, 11, 1)] == (0, 0)
    assert trend[dt.date(2026, 11, 2)] == (1, 1)
    assert sum(v[0] for v in trend.values()) == 7 and sum(v[1] for v in trend.values()) == 2
    # the open cases on the map: one dot per open case in the area, none from 市北区
    svg = ET.fromstring(str(ctx["map_chart"]))
    dots = [el for el in svg.iter("{http://www.w3.org/2000/svg}circle")]
    assert len(dots) == s["open"]
    assert outside.number not in str(ctx["map_chart"])
    assert {"湛山社区", "八大关社区"} <= {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    red = [d for d in dots if d.get("class") == "dot red"]
    assert len(red) == len(overdue)

    # this month: the 31 Oct case is out (local midnight, not UTC)
    r = open_dashboard(client, c, "subdistrict_sup", "?period=month")
    assert r.context["summary"]["reported"] == 6
    # a custom period from 1 Oct counts the old case too, and keeps the dates typed
    r = open_dashboard(client, c, "subdistrict_sup", "?period=custom&from=2026-10-01&to=2026-11-24")
    assert r.context["summary"]["reported"] == 8
    assert 'value="2026-10-01"' in r.content.decode()
    assert len(r.context["trend_rows"]) == 55


def test_charts_and_tables_are_on_the_page_and_escape_names(client, city):
    from cogov.geo.models import Unit

    Unit.objects.filter(code="370202001001").update(name="<script>alert(1)</script>湛山")
    report(city, ON_STREET)
    r = open_dashboard(client, city, "subdistrict_sup")
    html = r.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;湛山" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 4
    for key in ("state_chart", "category_chart", "trend_chart", "map_chart"):
        ET.fromstring(str(r.context[key]))  # each chart is well-formed on its own
    assert html.count("<details>") >= 4  # a data table beside each chart


def test_a_person_with_two_areas_sees_both_and_nothing_between(client, city):
    from cogov.people.services import role_assign

    c = city
    role_assign(person=c.people["station_a"], role="station_head", scope_unit=c.units["37020300100101"])
    a, north = report(c, ON_STREET), report(c, IN_NORTH)
    b = report(c, IN_B_COMMUNITY)  # station B's, between the two in the list of the city's stations
    r = open_dashboard(client, c, "station_a")
    assert r.status_code == 200
    assert r.context["summary"]["reported"] == 2
    html = r.content.decode()
    assert a.number in html and north.number in html and b.number not in html
    # several areas: the breakdown lists the areas themselves
    assert {row["area"].code: row["reported"] for row in r.context["rows"]} == {"37020200100101": 1,
                                                                              "37020300100101": 1}
    svg = ET.fromstring(str(r.context["map_chart"]))
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}path")) == 2  # both stations outlined
    assert open_dashboard(client, c, "station_a", "?under=37020300100101").context["summary"]["reported"] == 1
    assert open_dashboard(client, c, "station_a", "?under=37020200100201").status_code == 403


def test_the_dashboard_asks_a_fixed_number_of_queries(client, city):
    """Aggregates in SQL: more cases do not mean more queries (the demo city has 20,000 of them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = city
    client.force_login(c.people["district_sup"])
    report(c, ON_STREET)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for point in (IN_COURTYARD, IN_B_COMMUNITY, IN_BUILDING, ON_STREET):
        dispatch_to(c, report(c, point), station="station_b" if point == IN_B_COMMUNITY else "station_a")
    clock.freeze(clock.now() + dt.timedelta(days=3))
    cases_escalate_overdue(city_id=c.city.pk)
    with CaptureQueriesContext(connection) as many:
        r = client.get(URL)
    assert r.context["summary"]["reported"] == 5 and r.context["escalated_total"] == 5
    assert len(many.captured_queries) == len(few.captured_queries) <= 30
