"""Open311 GeoReport v2 (/open311/v2/) through Django's test client: every endpoint in JSON and XML.

The XML answers are parsed with ElementTree and must carry exactly what the JSON answers carry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.test import Client

from cogov import clock
from cogov.cases.models import Case, Category
from cogov.cases.services import case_act, case_report
from tests.conftest import IN_B_COMMUNITY, ON_STREET, OUTSIDE_CITY

BASE = "/open311/v2"
FORMATS = ("json", "xml")
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
#: The reporter's personal data: posted with every report below, and never to be seen in a public answer.
PERSONAL = {"first_name": "明远", "last_name": "欧阳", "phone": "13912345678",
            "email": "ouyang.private@example.com", "device_id": "DEVICE-7f3a9c-PRIVATE"}
PERSONAL_STRINGS = ["欧阳明远", "明远", "欧阳", "13912345678", "ouyang.private", "DEVICE-7f3a9c-PRIVATE"]


# --- helpers: one reading of an answer for both formats ------------------------------------------------------


def _xml_value(el: ET.Element):
    children = list(el)
    if el.tag in ("attributes", "values"):
        item = {"attributes": "attribute", "values": "value"}[el.tag]
        assert all(c.tag == item for c in children), f"<{el.tag}> holds only <{item}>"
        return [_xml_value(c) for c in children]
    if not children:
        return el.text or ""
    tags = [c.tag for c in children]
    assert len(tags) == len(set(tags)), f"<{el.tag}> repeats a field: {tags}"
    return {c.tag: _xml_value(c) for c in children}


def norm(value):
    """A JSON value as its XML text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    return str(value)


def read(r, fmt: str, root: str, item: str | None = None):
    """The answer's content: JSON as it is; XML parsed (root element, item elements) into strings."""
    if fmt == "json":
        assert r["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(r.content)
    assert r["Content-Type"] == "text/xml; charset=utf-8"
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    tree = ET.fromstring(r.content)
    assert tree.tag == root, r.content[:200]
    if item is None:
        return _xml_value(tree) if list(tree) else {}
    assert all(c.tag == item for c in tree), f"<{root}> holds only <{item}>"
    return [_xml_value(c) for c in tree]


def both(client, path: str, root: str, item: str | None = None, expect: int = 200, **params):
    """GET ``path`` in JSON and XML; check they say the same; return the JSON content."""
    rj = client.get(f"{BASE}/{path}.json", params)
    rx = client.get(f"{BASE}/{path}.xml", params)
    assert rj.status_code == expect, rj.content[:500]
    assert rx.status_code == expect, rx.content[:500]
    j, x = read(rj, "json", root, item), read(rx, "xml", root, item)
    assert norm(j) == x
    return j


def requests_list(client, **params) -> list[dict]:
    return both(client, "requests", "service_requests", "request", **params)


def one(client, number: str) -> dict:
    rows = both(client, f"requests/{number}", "service_requests", "request")
    assert len(rows) == 1
    return rows[0]


def assert_error(r, fmt: str, status: int, *words: str) -> str:
    """An error in the spec's format: a list of one {code, description} with the HTTP status as code."""
    assert r.status_code == status, r.content[:500]
    errors = read(r, fmt, "errors", "error")
    assert len(errors) == 1 and set(errors[0]) == {"code", "description"}, errors
    assert norm(errors[0]["code"]) == str(status) and errors[0]["description"]
    for word in words:
        assert word in errors[0]["description"], errors[0]["description"]
    return errors[0]["description"]


def post(client, fmt: str = "json", **fields):
    """POST requests.{fmt} form-encoded, as the spec writes it; a field set to None is left out."""
    data = {"service_code": "06010", "lat": ON_STREET[1], "long": ON_STREET[0], "description": "路边有暴露垃圾",
            **fields}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"{BASE}/requests.{fmt}", urlencode(data, doseq=True),
                       content_type="application/x-www-form-urlencoded; charset=utf-8")


def report(client, fmt: str = "json", **fields) -> str:
    """A citizen reports through Open311; the new case number."""
    r = post(client, fmt, **fields)
    assert r.status_code == 200, r.content
    answer = read(r, fmt, "service_requests", "request")
    assert len(answer) == 1
    return answer[0]["service_request_id"]


def act(small_city, who: str, number: str, action: str, **data):
    return case_act(city_id=small_city.city.pk, number=number, actor=small_city.actor(who), action=action,
                    data=data)


def close(small_city, number: str) -> Case:
    """Station A takes the case to the sanitation unit and closes it."""
    act(small_city, "station_a", number, "accept")
    act(small_city, "station_a", number, "dispatch", unit=small_city.service_units["sanitation"].pk, reason="环卫")
    act(small_city, "sanitation_crew", number, "acknowledge")
    act(small_city, "sanitation_crew", number, "handle", note="已清理完毕，联系人王五 13600000000")
    act(small_city, "station_a", number, "verify")
    return act(small_city, "station_a", number, "close")


def w3(at):
    return at.astimezone(clock.LOCAL_TZ).isoformat(timespec="seconds")


# --- services ------------------------------------------------------------------------------------------------


def test_services_list_offers_every_active_category_once(client, small_city):
    services = both(client, "services", "services", "service")
    assert services and all(list(s) == SERVICE_FIELDS for s in services)
    codes = [s["service_code"] for s in services]
    assert len(codes) == len(set(codes)) == Category.objects.filter(city=small_city.city, active=True).count()
    by_code = {s["service_code"]: s for s in services}
    # the national table numbers a component and its matter alike: the component carries a "C"
    assert by_code["C01001"]["service_name"] == "供水井盖"
    assert by_code["01001"]["service_name"] == "供水井盖异常"
    litter = by_code["06010"]
    assert litter == {**litter, "service_name": "暴露垃圾", "metadata": False, "type": "realtime",
                      "group": "市容环境类"}
    assert by_code["Q0101"]["metadata"] is True and by_code["Q0101"]["keywords"] == "门前, 垃圾, 清扫, 卫生"
    assert by_code["Q0203"]["metadata"] is True
    assert sum(s["metadata"] for s in services) == 6  # 门前五包 ×5 and 路面下沉


def test_inactive_categories_are_not_offered(client, small_city):
    Category.objects.filter(city=small_city.city, code="06010").update(active=False)
    codes = {s["service_code"] for s in both(client, "services", "services", "service")}
    assert "06010" not in codes and "C06010" not in codes
    assert_error(client.get(f"{BASE}/services/06010.json"), "json", 404, "06010")


def test_service_definitions(client, small_city):
    sinking = both(client, "services/Q0203", "service_definition")
    assert sinking["service_code"] == "Q0203"
    [severity] = sinking["attributes"]
    assert severity == {**severity, "variable": True, "code": "severity", "datatype": "singlevaluelist",
                        "required": True, "order": 1}
    assert [v["key"] for v in severity["values"]] == ["minor", "serious", "dangerous"]
    assert all(v["name"] for v in severity["values"])
    shop = both(client, "services/Q0102", "service_definition")
    [shop_name] = shop["attributes"]
    assert shop_name == {**shop_name, "code": "shop_name", "datatype": "string", "required": False}
    assert "values" not in shop_name
    plain = both(client, "services/C01001", "service_definition")
    assert plain == {"service_code": "C01001", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_is_404(client, small_city, fmt):
    assert_error(client.get(f"{BASE}/services/X9999.{fmt}"), fmt, 404, "service_code")
    assert_error(client.get(f"{BASE}/services/C.{fmt}"), fmt, 404)


# --- POST ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_citizen_posts_form_encoded_request(client, small_city, fmt):
    r = post(client, fmt, address_string="香港中路 18 号门前", account_id="acct-1",
             media_url="http://example.com/a.jpg", **PERSONAL)
    assert r.status_code == 200
    [answer] = read(r, fmt, "service_requests", "request")
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert norm(answer["account_id"]) == ""
    case = Case.objects.select_related("reporter", "category").get(number=answer["service_request_id"])
    assert answer["service_notice"].startswith(f"已上报，案件编号 {case.number}")
    assert (case.source, case.category.code, case.category.kind) == ("open311", "06010", "matter")
    assert (case.lon, case.lat, case.address, case.state) == (ON_STREET[0], ON_STREET[1], "香港中路 18 号门前",
                                                              "reported")
    # kept for the staff, in the reporter row only
    rep = case.reporter
    assert (rep.name, rep.phone, rep.email, rep.device_id) == ("欧阳明远", "13912345678",
                                                               "ouyang.private@example.com", "DEVICE-7f3a9c-PRIVATE")
    assert not any(s in r.content.decode() for s in PERSONAL_STRINGS)


def test_western_names_keep_their_order(client, small_city):
    number = report(client, first_name="John", last_name="Smith")
    assert Case.objects.get(number=number).reporter.name == "John Smith"


def test_post_needs_no_csrf_token(small_city):
    r = post(Client(enforce_csrf_checks=True))
    assert r.status_code == 200, r.content


def test_post_accepts_a_json_body_and_the_component_code(client, small_city):
    body = {"service_code": "C01001", "lat": ON_STREET[1], "long": ON_STREET[0], "description": "井盖松动"}
    r = client.post(f"{BASE}/requests.json", json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.content
    case = Case.objects.select_related("category").get(number=r.json()[0]["service_request_id"])
    assert (case.category.code, case.category.kind) == ("01001", "component")
    assert one(client, case.number)["service_code"] == "C01001"


@pytest.mark.parametrize("style", ["form", "json"])
def test_required_attribute_sets_the_urgency(client, small_city, style):
    point = {"service_code": "Q0203", "lat": ON_STREET[1], "long": ON_STREET[0], "description": "路面塌了"}
    if style == "form":
        r = client.post(f"{BASE}/requests.xml", urlencode({**point, "attribute[severity]": "dangerous"}),
                        content_type="application/x-www-form-urlencoded")
        number = read(r, "xml", "service_requests", "request")[0]["service_request_id"]
        urgency, label = "emergency", "危险"
    else:
        r = client.post(f"{BASE}/requests.json", json.dumps({**point, "attribute": {"severity": "serious"}}),
                        content_type="application/json")
        number = r.json()[0]["service_request_id"]
        urgency, label = "urgent", "严重"
    case = Case.objects.get(number=number)
    assert case.urgency == urgency
    assert case.description == f"路面塌了\n严重程度：{label}"


def test_optional_attribute_goes_into_the_description(client, small_city):
    number = report(client, service_code="Q0101", description="", **{"attribute[shop_name]": "老王烧烤"})
    assert Case.objects.get(number=number).description == "门店：老王烧烤"
    assert one(client, number)["description"] == "门店：老王烧烤"
    number = report(client, service_code="Q0101")
    assert Case.objects.get(number=number).description == "路边有暴露垃圾"


BAD_POSTS = [
    # (fields, status, words in the description)
    ({"service_code": None}, 400, ["service_code"]),
    ({"service_code": "X9999"}, 404, ["service_code"]),
    ({"lat": None, "long": None}, 400, ["lat", "long"]),
    ({"lat": None, "long": None, "address_string": "香港中路 18 号"}, 400, ["坐标", "coordinates"]),
    ({"lat": None, "long": None, "address_id": "545483"}, 400, ["address_id"]),
    ({"long": None}, 400, ["lat", "long"]),
    ({"lat": "north"}, 400, ["lat"]),
    ({"lat": "nan"}, 400, ["lat"]),
    ({"lat": "1e309"}, 400, ["lat"]),
    ({"lat": "95"}, 400, ["纬度"]),
    ({"lat": OUTSIDE_CITY[1], "long": OUTSIDE_CITY[0]}, 400, ["不在青岛市辖区内"]),
    ({"service_code": "Q0203"}, 400, ["severity"]),
    ({"service_code": "Q0203", "attribute[severity]": "huge"}, 400, ["severity"]),
    ({"service_code": "Q0203", "attribute[severity][]": ["minor", "serious"]}, 400, ["severity"]),
    ({"attribute[colour]": "red"}, 400, ["colour"]),
    ({"service_code": "Q0101", "attribute[shop_name]": "店" * 51}, 400, ["shop_name"]),
    ({"description": "长" * 4001}, 400, ["4000"]),
    ({"address_string": "路" * 201}, 400, ["address_string"]),
    ({"email": "not-an-address"}, 400, ["email"]),
    ({"phone": "call me"}, 400, ["phone"]),
    ({"first_name": "名" * 30, "last_name": "姓" * 30}, 400, ["first_name"]),
    ({"device_id": "d" * 201}, 400, ["device_id"]),
    ({"description": "a\x00b"}, 400, ["description"]),
    ({"jurisdiction_id": "sfgov.org"}, 404, ["jurisdiction_id"]),
    ({"api_key": "no-such-key"}, 403, ["api_key"]),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fields,status,words", BAD_POSTS)
def test_bad_posts_get_the_spec_error(client, small_city, fmt, fields, status, words):
    assert_error(post(client, fmt, **fields), fmt, status, *words)
    assert not Case.objects.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_unparsable_bodies_are_400(client, small_city, fmt):
    url = f"{BASE}/requests.{fmt}"
    assert_error(client.post(url, "{not json", content_type="application/json"), fmt, 400)
    assert_error(client.post(url, "[1, 2]", content_type="application/json"), fmt, 400)
    assert_error(client.post(url, json.dumps({"service_code": {"a": 1}}), content_type="application/json"), fmt,
                 400, "service_code")
    assert_error(client.post(url, b"service_code=06010&lat=\xff", content_type="application/x-www-form-urlencoded"),
                 fmt, 400)


def test_api_keys(client, small_city, settings):
    from cogov.intake.models import ApiClient

    ApiClient.objects.create(city=small_city.city, name="12345 热线", key_hash=hashlib.sha256(b"hotline-key").hexdigest())
    ApiClient.objects.create(city=small_city.city, name="停用", key_hash=hashlib.sha256(b"old-key").hexdigest(),
                             active=False)
    assert post(client, api_key="hotline-key").status_code == 200
    assert post(client).status_code == 200  # keys are optional in development …
    assert_error(post(client, api_key="old-key"), "json", 403, "api_key")  # … but a wrong one is refused always
    settings.COGOV_OPEN311_REQUIRE_KEY = True
    assert_error(post(client), "json", 403, "api_key")
    assert_error(post(client, "xml", api_key="wrong"), "xml", 403, "api_key")
    assert post(client, api_key="hotline-key").status_code == 200
    # the key (and anything else) may also come in the query string; the body wins
    r = client.post(f"{BASE}/requests.json?api_key=hotline-key&service_code=X9999&attribute[severity]=minor",
                    urlencode({"service_code": "Q0203", "lat": ON_STREET[1], "long": ON_STREET[0]}),
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.content
    assert Case.objects.get(number=r.json()[0]["service_request_id"]).description == "严重程度：轻微"


# --- GET requests --------------------------------------------------------------------------------------------


def test_a_new_request_as_the_public_sees_it(client, small_city):
    number = report(client, address_string="香港中路 18 号门前", **PERSONAL)
    case = Case.objects.get(number=number)
    [listed] = requests_list(client)
    shown = one(client, number)
    assert listed == shown and list(shown) == REQUEST_FIELDS
    assert shown == {
        "service_request_id": number,
        "status": "open",
        "status_notes": "已上报；最近进展：上报（2026-11-24 10:00）",
        "service_name": "暴露垃圾",
        "service_code": "06010",
        "description": "路边有暴露垃圾",
        "agency_responsible": "湛山社区城市治理服务站",
        "service_notice": None,
        "requested_datetime": "2026-11-24T10:00:00+08:00",
        "updated_datetime": w3(case.updated_at),
        "expected_datetime": w3(case.first_response_due),
        "address": "香港中路 18 号门前",
        "address_id": None,
        "zipcode": None,
        "lat": ON_STREET[1],
        "long": ON_STREET[0],
        "media_url": None,
    }
    assert case.first_response_due is not None


def test_address_falls_back_to_the_units(client, small_city):
    number = report(client)
    assert one(client, number)["address"] == "湛山社区, 香港中路街道, 市南区, 青岛市"


def test_closed_and_open_mapping(client, small_city):
    done, rejected, merged, target, paused = (report(client) for _ in range(5))
    close(small_city, done)
    act(small_city, "station_a", rejected, "reject", reason="不属于城市管理范围")
    act(small_city, "station_a", merged, "merge", into=target)
    act(small_city, "station_a", paused, "accept")
    act(small_city, "station_a", paused, "suspend", reason="需协调产权单位，内部备注")
    shown = {r["service_request_id"]: r for r in requests_list(client)}

    closed = Case.objects.get(number=done)
    assert shown[done]["status"] == "closed"
    assert shown[done]["status_notes"] == "已结案；最近进展：结案（2026-11-24 10:00）"
    assert shown[done]["agency_responsible"] == "市南区环卫所"
    assert shown[done]["updated_datetime"] == w3(closed.closed_at)
    assert shown[done]["expected_datetime"] == w3(closed.handling_due)
    assert (shown[rejected]["status"], shown[rejected]["status_notes"]) == ("closed", "不予立案：不属于城市管理范围")
    assert shown[rejected]["expected_datetime"] is None
    assert (shown[merged]["status"], shown[merged]["status_notes"]) == ("closed", f"已合并：与案件 {target} 合并处理")
    assert shown[target]["status"] == "open"
    assert shown[paused]["status"] == "open"
    assert shown[paused]["status_notes"] == "已挂账；最近进展：挂账（2026-11-24 10:00）"
    everything = json.dumps(shown, ensure_ascii=False)
    for private in ("内部备注", "联系人王五", "13600000000"):
        assert private not in everything
    # the merge target held back: the merged case no longer names it
    Case.objects.filter(number=target).update(moderation="held")
    assert one(client, merged)["status_notes"] == "已合并"


def test_a_listing_takes_a_fixed_number_of_queries(client, small_city, django_assert_max_num_queries):
    numbers = [report(client) for _ in range(6)]
    close(small_city, numbers[0])
    act(small_city, "station_a", numbers[1], "merge", into=numbers[2])
    act(small_city, "station_a", numbers[3], "reject", reason="重复")
    with django_assert_max_num_queries(4):  # city, cases, their latest steps, merge targets
        r = client.get(f"{BASE}/requests.xml")
    assert r.status_code == 200


def test_reporters_own_words_never_become_status_notes(client, small_city):
    citizen = small_city.actor("citizen")
    case = case_report(city=small_city.city, actor=citizen, category_id=small_city.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], description="垃圾")
    act(small_city, "citizen", case.number, "comment", text="我的电话 13700000000，请回电")
    assert one(client, case.number)["status_notes"] == "已上报；最近进展：上报（2026-11-24 10:00）"
    act(small_city, "station_a", case.number, "comment", text="内部：先联系物业")
    assert "内部" not in json.dumps(one(client, case.number), ensure_ascii=False)


def test_filters(client, small_city):
    litter = report(client)
    sinking = report(client, service_code="Q0203", **{"attribute[severity]": "minor"})
    manhole = report(client, service_code="C01001", lat=IN_B_COMMUNITY[1], long=IN_B_COMMUNITY[0])
    done = report(client)
    close(small_city, done)

    def numbers(**params):
        return {r["service_request_id"] for r in requests_list(client, **params)}

    assert numbers() == {litter, sinking, manhole, done}
    assert numbers(service_code="06010") == {litter, done}
    assert numbers(service_code="Q0203,C01001") == {sinking, manhole}
    assert numbers(service_code="01001") == set()  # the matter, not the component
    assert numbers(status="open") == {litter, sinking, manhole}
    assert numbers(status="closed") == {done}
    assert numbers(status="open,closed") == numbers()
    assert numbers(status="closed", service_code="Q0203") == set()
    # service_request_id overrides every other argument
    assert numbers(service_request_id=f"{litter},{done},2099999999", status="closed") == {litter, done}
    # a date window (w3 date-times with an offset or Z, or plain dates)
    assert numbers(start_date="2026-11-24T00:00:00+08:00", end_date="2026-11-24T23:59:59+08:00") == numbers()
    assert numbers(start_date="2026-11-24T02:00:01Z") == set()
    assert numbers(end_date="2026-11-24T01:59:59Z") == set()
    assert numbers(start_date="2026-11-24", end_date="2026-11-24") == numbers()
    assert numbers(end_date="2026-11-23") == set()
    # "+08:00" not encoded in the URL arrives as " 08:00": still understood
    r = client.get(f"{BASE}/requests.json?start_date=2026-11-24T09:00:00+08:00")
    assert {x["service_request_id"] for x in r.json()} == numbers()


def test_default_window_is_the_last_90_days_and_answers_are_limited(client, small_city, settings):
    old, recent, newest = report(client), report(client), report(client)
    Case.objects.filter(number=old).update(reported_at=clock.now() - dt.timedelta(days=100))
    assert [r["service_request_id"] for r in requests_list(client)] == [newest, recent]
    assert {r["service_request_id"] for r in requests_list(client, start_date="2026-08-01T00:00:00Z",
                                                           end_date="2026-10-01T00:00:00Z")} == {old}
    assert [r["service_request_id"] for r in requests_list(client, service_request_id=old)] == [old]
    settings.COGOV_OPEN311_MAX_REQUESTS = 1
    assert [r["service_request_id"] for r in requests_list(client)] == [newest]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("params,words", [
    ({"start_date": "yesterday"}, ["start_date"]),
    ({"end_date": "2026-13-01T00:00:00Z"}, ["end_date"]),
    ({"start_date": "2026-11-01T00:00:00"}, ["start_date", "+08:00"]),
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, ["90"]),
    ({"start_date": "2026-11-20T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, ["start_date"]),
    ({"start_date": "9999-12-31"}, ["date"]),
    ({"end_date": "0001-01-01"}, ["date"]),
    ({"start_date": "0001-01-01"}, ["date"]),
    ({"start_date": "0001-01-01T00:00:00+08:00"}, ["date"]),
    ({"status": "pending"}, ["status"]),
    ({"service_code": "06010,X9999"}, ["X9999"]),
    ({"service_code": "a\x00b"}, ["service_code"]),
    ({"jurisdiction_id": "sfgov.org"}, ["jurisdiction_id"]),
])
def test_bad_filters_are_400(client, small_city, fmt, params, words):
    r = client.get(f"{BASE}/requests.{fmt}", params)
    assert_error(r, fmt, 404 if "jurisdiction_id" in params else 400, *words)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_is_404(client, small_city, fmt):
    assert_error(client.get(f"{BASE}/requests/2026999.{fmt}"), fmt, 404, "service_request_id")


def test_held_cases_are_invisible(client, small_city):
    visible, held, rejected = report(client), report(client, description="楼下有垃圾"), report(client)
    Case.objects.filter(number=held).update(moderation="held")
    Case.objects.filter(number=rejected).update(moderation="rejected")
    assert [r["service_request_id"] for r in requests_list(client)] == [visible]
    assert requests_list(client, service_request_id=f"{held},{rejected}") == []
    for number in (held, rejected):
        for fmt in FORMATS:
            assert_error(client.get(f"{BASE}/requests/{number}.{fmt}"), fmt, 404)
    tokens = dict(Case.objects.values_list("number", "token"))
    # the poster's token: no number while the case waits for review, gone once refused
    assert both(client, f"tokens/{tokens[held]}", "service_requests", "request") == [
        {"service_request_id": None, "token": tokens[held]}]
    for fmt in FORMATS:
        assert_error(client.get(f"{BASE}/tokens/{tokens[rejected]}.{fmt}"), fmt, 404, "token")


def test_a_post_held_for_review_answers_with_a_token(client, small_city):
    r = post(client, "xml", description="优惠办证请加微信 http://spam.example.cn")
    [answer] = read(r, "xml", "service_requests", "request")
    assert list(answer) == ["token", "service_notice", "account_id"]
    case = Case.objects.get()
    assert case.moderation == "held" and answer["token"] == case.token
    assert "审核" in answer["service_notice"]
    assert requests_list(client) == []
    assert both(client, f"tokens/{case.token}", "service_requests", "request") == [
        {"service_request_id": None, "token": case.token}]
    Case.objects.filter(pk=case.pk).update(moderation="ok")  # a person allowed it
    assert both(client, f"tokens/{case.token}", "service_requests", "request") == [
        {"service_request_id": case.number, "token": case.token}]


def test_tokens(client, small_city):
    number = report(client)
    token = Case.objects.get(number=number).token
    assert len(token) == 32
    assert both(client, f"tokens/{token}", "service_requests", "request") == [
        {"service_request_id": number, "token": token}]
    for fmt in FORMATS:
        assert_error(client.get(f"{BASE}/tokens/{'0' * 32}.{fmt}"), fmt, 404, "token")


def test_no_personal_data_in_any_public_answer(client, small_city):
    bodies = []
    for fmt in FORMATS:
        r = post(client, fmt, address_string="香港中路 18 号", **PERSONAL)
        bodies.append(r.content)
        r = post(client, fmt, service_code="Q0203", **{"attribute[severity]": "serious"}, **PERSONAL)
        bodies.append(r.content)
    numbers = list(Case.objects.order_by("id").values_list("number", flat=True))
    close(small_city, numbers[0])
    act(small_city, "station_a", numbers[1], "reject", reason="重复上报")
    assert all(c.reporter.email == PERSONAL["email"] for c in Case.objects.select_related("reporter"))
    tokens = Case.objects.values_list("token", flat=True)
    paths = ["services", "services/06010", "services/Q0203", "requests"]
    paths += [f"requests/{n}" for n in numbers] + [f"tokens/{t}" for t in tokens]
    for path in paths:
        for fmt in FORMATS:
            r = client.get(f"{BASE}/{path}.{fmt}")
            assert r.status_code == 200, (path, r.content[:300])
            bodies.append(r.content)
    r = client.get(f"{BASE}/requests.json", {"service_request_id": ",".join(numbers)})
    assert len(r.json()) == 4
    bodies.append(r.content)
    for body in bodies:
        text = body.decode("utf-8")
        leaked = [s for s in PERSONAL_STRINGS if s in text]
        assert not leaked, (leaked, text[:300])


# --- jurisdiction, methods, formats --------------------------------------------------------------------------


def test_jurisdiction_id(client, small_city, settings):
    number = report(client, jurisdiction_id="3702")
    assert one(client, number)["service_request_id"] == number
    for jid in ("", "3702"):
        assert len(requests_list(client, jurisdiction_id=jid)) == 1
    settings.COGOV_OPEN311_JURISDICTION = "qingdao.gov.cn"
    assert len(requests_list(client, jurisdiction_id="qingdao.gov.cn")) == 1
    for path in ("services", "services/06010", "requests", f"requests/{number}",
                 f"tokens/{Case.objects.get().token}"):
        for fmt in FORMATS:
            assert_error(client.get(f"{BASE}/{path}.{fmt}", {"jurisdiction_id": "sfgov.org"}), fmt, 404,
                         "jurisdiction_id")


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrong_method_is_405(client, small_city, fmt):
    for method, path in [("post", "services"), ("post", "services/06010"), ("put", "requests"),
                         ("delete", "requests"), ("post", "requests/2026"), ("post", "tokens/abc")]:
        r = getattr(client, method)(f"{BASE}/{path}.{fmt}")
        assert_error(r, fmt, 405, method.upper())
        assert "GET" in r["Allow"]
    assert client.head(f"{BASE}/services.{fmt}").status_code == 200


def test_unknown_formats_and_resources(client, small_city):
    assert_error(client.get(f"{BASE}/services.csv"), "xml", 400, "json or xml")
    assert_error(client.get(f"{BASE}/requests.html"), "xml", 400)
    assert_error(client.get(f"{BASE}/services"), "xml", 404)
    assert_error(client.get(f"{BASE}/discovery.json/more.json"), "json", 404)
    assert_error(client.get(f"{BASE}/requests/2026%00.json"), "json", 404)


def test_xml_is_escaped_and_stays_well_formed(client, small_city):
    text = 'a <b>&amp; "quoted" \'single\' ]]> \x01 end'
    case = case_report(city=small_city.city, actor=None, category_id=small_city.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], address="<路>")
    # as older imports may have stored it: intake normalises text now, but stored rows are what they are
    Case.objects.filter(pk=case.pk).update(description=text)
    [shown] = read(client.get(f"{BASE}/requests/{case.number}.xml"), "xml", "service_requests", "request")
    assert shown["description"] == text.replace("\x01", "")
    assert shown["address"] == "<路>"
    assert client.get(f"{BASE}/requests/{case.number}.json").json()[0]["description"] == text
