"""Open311 against a running server: POSTs over plain HTTP exactly as the spec writes them, then the real
Open311 client from PyPI (``georeport`` 0.3.1, which cannot post) reading services and requests in JSON and XML.

Quirks of georeport 0.3.1, found here and left to the client (the server follows the spec):

- XML answers go through ``xmltodict``: one ``<request>`` (or one ``<attribute>``) comes back as a dict, several
  as a list, and an empty ``<service_requests/>`` makes ``get_service_requests`` fail with a TypeError.
- Errors are not parsed: the client raises ``requests.HTTPError``; the spec's error list is in its response.
"""

from __future__ import annotations

import gc
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from urllib.parse import quote_plus

import pytest
import requests
from georeport import GeoReport

from cogov.cases.models import Case
from tests.conftest import IN_B_COMMUNITY, ON_STREET

pytestmark = pytest.mark.slow

API_KEY = "hotline-3702-key"
PERSONAL = {"first_name": "明远", "last_name": "欧阳", "phone": "13912345678",
            "email": "ouyang.private@example.com", "device_id": "DEVICE-7f3a9c-PRIVATE"}
PRIVATE_STRINGS = ["明远", "欧阳", "13912345678", "ouyang.private", "DEVICE-7f3a9c-PRIVATE"]
#: No proxy for the live server on localhost, whatever the environment says.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def root(live_server, small_city, monkeypatch):
    """The running server's Open311 endpoint, with an API client (12345 热线) registered for the city."""
    from cogov.intake.models import ApiClient

    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    ApiClient.objects.create(city=small_city.city, name="12345 热线",
                             key_hash=hashlib.sha256(API_KEY.encode()).hexdigest())
    yield f"{live_server.url}/open311/v2"
    # the server answers in daemon threads that close their database connection only after the client has its
    # answer: let them finish before the test database is flushed or dropped
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        "process_request_thread" in t.name for t in threading.enumerate() if t is not threading.current_thread()
    ):
        time.sleep(0.01)


def spec_post(root: str, fmt: str, fields: list[tuple[str, str]]) -> tuple[int, bytes]:
    """POST requests.{fmt} as the spec's example request: form-encoded UTF-8, ``attribute[code]`` keys as they are."""
    body = "&".join(f"{key}={quote_plus(str(value))}" for key, value in fields)
    req = urllib.request.Request(
        f"{root}/requests.{fmt}", data=body.encode("ascii"), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    try:
        with _HTTP.open(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:  # closed at once: an open error response keeps a server thread (and its connection) waiting
            return exc.code, exc.read()


def report_fields(service_code: str, point, description: str, **extra) -> list[tuple[str, str]]:
    fields = [("api_key", API_KEY), ("jurisdiction_id", "3702"), ("service_code", service_code),
              ("lat", str(point[1])), ("long", str(point[0])), ("address_string", "香港中路 18 号门前"),
              ("email", PERSONAL["email"]), ("device_id", PERSONAL["device_id"]), ("account_id", "123456"),
              ("first_name", PERSONAL["first_name"]), ("last_name", PERSONAL["last_name"]),
              ("phone", PERSONAL["phone"]), ("description", description),
              ("media_url", "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg")]
    return fields + list(extra.items())


def posted_json(root: str, fields) -> str:
    status, body = spec_post(root, "json", fields)
    assert status == 200, body
    [answer] = json.loads(body)
    assert set(answer) == {"service_request_id", "service_notice", "account_id"} and answer["account_id"] is None
    return answer["service_request_id"]


def posted_xml(root: str, fields) -> str:
    status, body = spec_post(root, "xml", fields)
    assert status == 200, body
    tree = ET.fromstring(body)
    assert tree.tag == "service_requests" and [r.tag for r in tree] == ["request"]
    assert [f.tag for f in tree[0]] == ["service_request_id", "service_notice", "account_id"]
    return tree[0].findtext("service_request_id")


def http_error(call, *args) -> tuple[int, str]:
    """The HTTP status and the spec's error description behind the ``requests.HTTPError`` a client call raises."""
    try:
        call(*args)
    except requests.HTTPError as exc:
        response = exc.response
    else:
        pytest.fail("the call did not fail")
    # the error's traceback holds the client's socket open (and a server thread waiting on it) until collected
    gc.collect()
    if response.headers["Content-Type"].startswith("application/json"):
        [error] = response.json()
        assert error["code"] == response.status_code
        return response.status_code, error["description"]
    tree = ET.fromstring(response.content)
    assert tree.tag == "errors" and [e.tag for e in tree] == ["error"]
    assert tree[0].findtext("code") == str(response.status_code)
    return response.status_code, tree[0].findtext("description")


def no_private_data(*answers) -> None:
    text = json.dumps(answers, ensure_ascii=False, default=str)
    leaked = [s for s in PRIVATE_STRINGS if s in text]
    assert not leaked, leaked


def test_posts_over_plain_http_then_the_georeport_client_reads_them(root, small_city):
    sinking = posted_json(root, report_fields("Q0203", ON_STREET, "路面下沉，车辆绕行",
                                              **{"attribute[severity]": "serious"}))
    litter = posted_xml(root, report_fields("06010", ON_STREET, "路边有暴露垃圾"))
    manhole = posted_xml(root, report_fields("C01001", IN_B_COMMUNITY, "井盖松动"))
    cases = {c.number: c for c in Case.objects.select_related("reporter")}
    assert set(cases) == {sinking, litter, manhole}
    assert cases[sinking].urgency == "urgent" and cases[sinking].source == "open311"
    assert cases[litter].reporter.device_id == PERSONAL["device_id"]  # kept for the staff only

    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction="3702", output_format=fmt)
        services = client.get_service_list()
        assert isinstance(services, list) and len(services) > 400
        by_code = {s["service_code"]: s for s in services}
        assert by_code["06010"]["service_name"] == "暴露垃圾"
        assert str(by_code["Q0203"]["metadata"]).lower() == "true"
        assert str(by_code["06010"]["metadata"]).lower() == "false"

        definition = client.get_service_definition("Q0203")
        assert definition["service_code"] == "Q0203"
        attributes = definition["attributes"]
        if fmt == "xml":  # xmltodict: one <attribute> is a dict, its <value>s a list
            attributes = [attributes["attribute"]]
            attributes[0]["values"] = attributes[0]["values"]["value"]
        [severity] = attributes
        assert severity["code"] == "severity" and severity["datatype"] == "singlevaluelist"
        assert str(severity["required"]).lower() == "true"
        assert [v["key"] for v in severity["values"]] == ["minor", "serious", "dangerous"]

        everything = client.get_service_requests()
        assert {r["service_request_id"] for r in everything} == {sinking, litter, manhole}
        filtered = client.get_service_requests(service_code="Q0203,06010", status="open",
                                               start_date="2026-11-24T00:00:00+08:00",
                                               end_date="2026-11-25T00:00:00Z")
        assert [r["service_request_id"] for r in filtered] == [litter, sinking]  # newest first
        by_id = client.get_service_requests(service_request_id=f"{manhole},{litter}")
        assert {r["service_request_id"] for r in by_id} == {manhole, litter}

        one = client.get_service_request(sinking)
        assert one["service_request_id"] == sinking and one["status"] == "open"
        assert one["service_code"] == "Q0203" and one["service_name"] == "路面下沉"
        assert one["description"] == "路面下沉，车辆绕行\n严重程度：严重"
        assert float(one["lat"]) == ON_STREET[1] and float(one["long"]) == ON_STREET[0]
        assert one["requested_datetime"] == "2026-11-24T10:00:00+08:00"
        assert one["agency_responsible"] == "湛山社区城市治理服务站"
        no_private_data(services, definition, everything, filtered, by_id, one)

    # no jurisdiction_id at all: a single-city installation
    assert GeoReport(root).get_service_request(litter)["service_request_id"] == litter


def test_the_client_sees_a_closed_case(root, small_city):
    number = posted_json(root, report_fields("06010", ON_STREET, "垃圾"))
    from cogov.cases.services import case_act

    case_act(city_id=small_city.city.pk, number=number, actor=small_city.actor("station_a"), action="reject",
             data={"reason": "已由环卫日常保洁处理"})
    for fmt in ("json", "xml"):
        client = GeoReport(root, output_format=fmt)
        one = client.get_service_request(number)
        assert one["status"] == "closed" and one["status_notes"] == "不予立案：已由环卫日常保洁处理"
        closed = client.get_service_requests(status="closed")
        if fmt == "xml":  # a single <request>: xmltodict gives a dict, not a list
            closed = [closed]
        assert [r["service_request_id"] for r in closed] == [number]


def test_errors_reach_the_client_in_the_spec_format(root, small_city):
    status, body = spec_post(root, "json", report_fields("06010", ON_STREET, "垃圾", api_key="wrong-key")[1:])
    assert status == 403 and json.loads(body)[0]["code"] == 403
    status, body = spec_post(root, "xml", [("api_key", API_KEY), ("service_code", "06010"),
                                           ("address_string", "香港中路 18 号")])
    assert status == 400
    tree = ET.fromstring(body)
    assert tree.tag == "errors" and tree[0].findtext("code") == "400" and "lat" in tree[0].findtext("description")
    for fmt in ("json", "xml"):
        status, description = http_error(GeoReport(root, output_format=fmt).get_service_request, "2026999")
        assert status == 404 and "service_request_id" in description
        status, description = http_error(GeoReport(root, jurisdiction="sfgov.org", output_format=fmt).get_service_list)
        assert status == 404 and "jurisdiction_id" in description
    # the client's own limit: an empty XML list is not a list to xmltodict
    assert GeoReport(root, output_format="json").get_service_requests() == []
    with pytest.raises(TypeError):
        GeoReport(root, output_format="xml").get_service_requests()
