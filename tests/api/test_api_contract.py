"""Every answer of /api/v1/ — success and error alike — matches the OpenAPI document the API serves.

The ``contract`` client (tests/api/conftest.py) checks the status against the operation's declared
responses and the body against the declared schema (with $refs into components resolved, and undocumented
fields refused), and that every error body carries a code and a message. Each test collects all the drift
and reports it at once.
"""

from __future__ import annotations

import jsonschema
import pytest

from cogov.cases.api import API_ACTIONS
from cogov.cases.models import CaseEvent
from cogov.cases.services import case_act, case_report

from tests.conftest import IN_B_COMMUNITY, ON_STREET, OUTSIDE_CITY

CASES = "/api/v1/cases"
CASE = "/api/v1/cases/{number}"
ACT = "/api/v1/cases/{number}/actions/{action}"
CATEGORIES = "/api/v1/categories"
LOCATE = "/api/v1/locate"
LEVELS = "/api/v1/stats/levels"
BAD_TOKEN = "cg_not-a-token-anyone-was-given"
NOWHERE = "20269999999"


def report(city, who, point=ON_STREET, code="06010"):
    actor = city.actor(who) if who else None
    return case_report(city=city.city, actor=actor, category_id=city.categories[code].pk, lon=point[0],
                       lat=point[1], contact_phone="13800000000")


def act(city, who, case, action, **data):
    return case_act(city_id=city.city.pk, number=case.number, actor=city.actor(who), action=action, data=data)


def _acknowledged(city):
    case = report(city, "citizen")
    act(city, "station_a", case, "accept")
    act(city, "station_a", case, "dispatch", unit=city.service_units["sanitation"].pk)
    return act(city, "sanitation_crew", case, "acknowledge")


def resolved(doc: dict, node: dict) -> dict:
    """``node`` with a top-level $ref into #/components followed."""
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_documented_error_body_has_a_code_and_a_message(openapi):
    lacking = []
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                if int(status) < 400:
                    continue
                schema = resolved(openapi, answer["content"]["application/json"]["schema"])
                props = schema.get("properties", {})
                if not ({"code", "message"} <= set(schema.get("required", ()))
                        and props.get("code", {}).get("type") == "string"
                        and props.get("message", {}).get("type") == "string"):
                    lacking.append(f"{method.upper()} {path} {status}")
    assert not lacking, lacking


def test_the_validator_refuses_what_the_schema_does_not_allow(contract):
    """The checker itself: a wrong type, a missing field and an undocumented field are all caught."""
    schema = contract.response_schema("get", CASE, 404)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"code": "case_not_found", "message": "…"})
    assert not validator.is_valid({"code": 404, "message": "…"})
    assert not validator.is_valid({"message": "…"})
    assert not validator.is_valid({"code": "x", "message": "…", "stack": "…"})
    assert contract.response_schema("get", CASE, 418) is None


def test_categories_and_locate(contract, small_city, tokens):
    r = contract.get(CATEGORIES, expect=200)
    assert len(r.json()) > 400
    r = contract.get(CATEGORIES, expect=200, token=tokens["citizen"], query={"edition": "青岛扩展-2026"})
    assert {c["edition"] for c in r.json()} == {"青岛扩展-2026"}
    contract.get(CATEGORIES, expect=401, token=BAD_TOKEN)

    r = contract.get(LOCATE, expect=200, query={"lon": ON_STREET[0], "lat": ON_STREET[1]})
    assert "street" in [u["kind"] for u in r.json()["units"]]
    contract.get(LOCATE, expect=200, query={"lon": ON_STREET[0], "lat": ON_STREET[1],
                                            "coord_system": "gcj02"})
    r = contract.get(LOCATE, expect=400, query={"lon": OUTSIDE_CITY[0], "lat": OUTSIDE_CITY[1]})
    assert r.json()["code"] == "outside_city"
    contract.get(LOCATE, expect=422, query={"lon": 500, "lat": 36.0})
    contract.get(LOCATE, expect=422, query={"lon": "east", "lat": 36.0})
    contract.get(LOCATE, expect=422, query={"lon": 120.32, "lat": 36.061, "coord_system": "mars"})
    contract.get(LOCATE, expect=401, token=BAD_TOKEN, query={"lon": ON_STREET[0], "lat": ON_STREET[1]})
    contract.verify()


def test_reports(contract, small_city, tokens):
    cat = small_city.categories["06010"].pk
    here = {"category_id": cat, "lon": ON_STREET[0], "lat": ON_STREET[1]}
    r = contract.post(CASES, expect=201, body={**here, "description": "垃圾", "contact_phone": "13800138000"})
    assert r.json()["state"] == "reported" and r.json()["reporter_phone"] is None
    contract.post(CASES, expect=201, token=tokens["citizen"], body=here)
    r = contract.post(CASES, expect=201, token=tokens["street_head"], body={**here, "role": "street_head",
                                                                            "source": "head"})
    assert r.json()["routing_reasons"]  # staff in scope see how it was routed

    for body, status, code, says in [
        ({**here, "lon": OUTSIDE_CITY[0], "lat": OUTSIDE_CITY[1]}, 400, "outside_city", ""),
        ({**here, "category_id": 999999}, 400, "unknown_category", ""),
        ({**here, "role": "station_head"}, 403, "role_not_allowed", ""),  # anonymous, claiming a post
        ({**here, "colour": "red"}, 422, "invalid_request", "colour：不允许的字段"),
        ({**here, "lon": "east"}, 422, "invalid_request", "lon：应为数字"),
        ({**here, "lat": 91}, 422, "invalid_request", "lat：应不大于 90"),
        ({**here, "urgency": "whenever"}, 422, "invalid_request", "urgency：应为以下之一"),
        ({**here, "contact_phone": "12345"}, 422, "invalid_request", "contact_phone："),
        ({"lon": ON_STREET[0], "lat": ON_STREET[1]}, 422, "invalid_request", "category_id：缺少此项"),
    ]:
        r = contract.post(CASES, expect=status, body=body)
        assert r.json()["code"] == code, (body, r.content)
        assert says in r.json()["message"], (body, r.json()["message"])  # in Chinese, naming the field
    r = contract.post(CASES, expect=403, token=tokens["citizen"], body={**here, "role": "station_head"})
    assert r.json()["code"] == "role_not_allowed"
    contract.post(CASES, expect=401, token=BAD_TOKEN, body=here)
    contract.post(CASES, expect=400, raw="{not json")
    contract.verify()


def test_case_reads(contract, small_city, tokens):
    mine = report(small_city, "citizen")
    theirs = report(small_city, "citizen2", point=IN_B_COMMUNITY, code="03005")

    r = contract.get(CASES, expect=200, token=tokens["station_a"])
    assert [c["number"] for c in r.json()["results"]] == [mine.number]
    r = contract.get(CASES, expect=200, token=tokens["district_sup"], query={"state": "reported", "limit": 1})
    assert r.json()["count"] == 2 and len(r.json()["results"]) == 1
    contract.get(CASES, expect=200, token=tokens["citizen"])
    contract.get(CASES, expect=401)
    contract.get(CASES, expect=401, token=BAD_TOKEN)
    contract.get(CASES, expect=400, token=tokens["station_a"], query={"state": "lost"})
    contract.get(CASES, expect=422, token=tokens["station_a"], query={"limit": 0})
    contract.get(CASES, expect=422, token=tokens["station_a"], query={"offset": "first"})

    r = contract.get(CASE, expect=200, token=tokens["station_a"], number=mine.number)
    assert r.json()["events"][0]["action"] == "report"
    contract.get(CASE, expect=200, token=tokens["citizen"], number=mine.number)
    r = contract.get(CASE, expect=404, token=tokens["station_a"], number=NOWHERE)
    assert r.json()["code"] == "case_not_found"
    r = contract.get(CASE, expect=404, token=tokens["station_a"], number=theirs.number)
    assert r.json()["code"] == "case_not_found"
    contract.get(CASE, expect=401, number=mine.number)
    contract.get(CASE, expect=401, token=BAD_TOKEN, number=mine.number)
    contract.verify()


def test_level_shares(contract, small_city, tokens):
    contract.get(LEVELS, expect=200, token=tokens["district_sup"])
    contract.get(LEVELS, expect=200, token=tokens["district_sup"], query={"under": "370202001001"})
    contract.get(LEVELS, expect=403, token=tokens["citizen"])
    contract.get(LEVELS, expect=401)
    contract.get(LEVELS, expect=404, token=tokens["district_sup"], query={"under": "999"})
    contract.verify()


#: For each API action: the steps that make it possible (on 06010 litter on the street, which the reporter
#: verifies), who then takes it, and with what.
HAPPY = {
    "accept": ([], "station_a", {}),
    "reject": ([], "station_a", {"reason": "不属于城市管理范围"}),
    "merge": ([], "station_a", {"into": "<other>"}),
    "dispatch": (["accept"], "station_a", {"unit": "<sanitation>"}),
    "acknowledge": (["accept", "dispatch"], "sanitation_crew", {}),
    "return": (["accept", "dispatch"], "sanitation_crew", {"reason": "不属本单位职责"}),
    "request_extension": (["accept", "dispatch"], "sanitation_crew", {"reason": "需采购配件", "days": 2}),
    "handle": (["accept", "dispatch", "acknowledge"], "sanitation_crew", {"note": "已清运"}),
    "suspend": (["accept", "dispatch", "acknowledge"], "station_a", {"reason": "待专项整治"}),
    "comment": (["accept", "dispatch", "acknowledge"], "citizen", {"text": "请尽快处理"}),
    "approve_extension": (["accept", "dispatch", "acknowledge", "request_extension"], "station_a", {}),
    "refuse_extension": (["accept", "dispatch", "acknowledge", "request_extension"], "station_a",
                         {"reason": "理由不充分"}),
    "resume": (["accept", "dispatch", "acknowledge", "suspend"], "station_a", {}),
    "verify": (["accept", "dispatch", "acknowledge", "handle"], "citizen", {"note": "干净了"}),
    "rework": (["accept", "dispatch", "acknowledge", "handle"], "citizen", {"reason": "还有垃圾"}),
    "close": (["accept", "dispatch", "acknowledge", "handle", "verify"], "station_a", {}),
    "reopen": (["accept", "dispatch", "acknowledge", "handle", "verify", "close"], "citizen",
               {"reason": "又脏了"}),
    "rate": (["accept", "dispatch", "acknowledge", "handle", "verify", "close"], "citizen",
             {"rating": "satisfied"}),
}
STEP_BY = {"acknowledge": "sanitation_crew", "handle": "sanitation_crew",
           "request_extension": "sanitation_crew", "verify": "citizen"}
STEP_DATA = {"request_extension": {"reason": "需采购配件", "days": 1}, "suspend": {"reason": "待专项整治"},
             "handle": {"note": "已清运"}}


def test_every_api_action_has_a_happy_path_here():
    assert set(HAPPY) == set(API_ACTIONS)


def test_each_action_endpoint_answers_as_documented(contract, small_city, tokens):
    c = small_city
    sanitation = c.service_units["sanitation"].pk
    fill = {"<sanitation>": sanitation}
    for action, (steps, who, data) in HAPPY.items():
        case = report(c, "citizen")
        for step in steps:
            extra = {"unit": sanitation} if step == "dispatch" else STEP_DATA.get(step, {})
            act(c, STEP_BY.get(step, "station_a"), case, step, **extra)
        if data.get("into") == "<other>":
            fill["<other>"] = report(c, "citizen2").number
        body = {k: fill.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
        r = contract.post(ACT, expect=200, token=tokens[who], body=body, number=case.number, action=action)
        last = CaseEvent.objects.filter(case__number=case.number).order_by("-seq").values_list("action",
                                                                                              flat=True)
        assert last.first() == action, f"{action} left no event"
        if r.status_code == 200:
            assert r.json()["number"] == case.number, action
    contract.verify()


def test_action_errors_answer_as_documented(contract, small_city, tokens):
    c = small_city
    case = report(c, "citizen")
    act(c, "station_a", case, "accept")
    n, station = case.number, tokens["station_a"]

    def refused(status, code, *, token=station, body=None, number=n, action="accept"):
        r = contract.post(ACT, expect=status, token=token, body=body or {}, number=number, action=action)
        if r.headers.get("Content-Type", "").startswith("application/json"):
            assert r.json().get("code") == code, (action, r.content)

    refused(409, "action_not_allowed_in_state")  # accepted already
    refused(409, "no_extension_pending", action="approve_extension", number=_acknowledged(c).number)
    refused(404, "case_not_found", number=NOWHERE)
    refused(404, "case_not_found", token=tokens["station_b"])  # outside station B's area: invisible
    refused(404, "unknown_action", action="escalate")  # the sweep's, not the API's
    refused(404, "unknown_action", action="teleport")
    refused(403, "role_not_allowed", token=tokens["street_head"], action="dispatch",
            body={"unit": c.service_units["sanitation"].pk})
    refused(400, "missing_fields", action="dispatch")
    refused(400, "unknown_unit", action="dispatch", body={"unit": 999999})
    refused(400, "unknown_fields", action="dispatch", body={"unit": c.service_units["sanitation"].pk,
                                                            "days": 3})
    refused(422, "invalid_request", action="dispatch", body={"unit": "sanitation"})
    refused(422, "invalid_request", action="dispatch", body={"unit": 1, "colour": "red"})
    refused(422, "invalid_request", action="comment", body={"text": ["not", "a", "string"]})
    refused(422, "invalid_request", action="rate", body={"rating": "great"})
    refused(401, "unauthorized", token=None)
    refused(401, "unauthorized", token=BAD_TOKEN)
    contract.verify()


def test_a_unit_returning_a_case_is_told_it_succeeded(client, small_city, tokens):
    """After 退回 the unit no longer sees the case; the answer must still report the change it made."""
    c = small_city
    case = report(c, "citizen")
    act(c, "station_a", case, "accept")
    act(c, "station_a", case, "dispatch", unit=c.service_units["sanitation"].pk)
    r = client.post(ACT.format(number=case.number, action="return"), {"reason": "不属本单位职责"},
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tokens['sanitation_crew']}")
    case.refresh_from_db()
    assert case.state == "accepted" and case.return_count == 1  # the return happened …
    assert r.status_code == 200, r.json()  # … so the answer must not say "not found"


def test_level_shares_cover_every_area_of_the_caller(contract, small_city, tokens):
    """A station head of two stations reads the shares of both (not only of one of them)."""
    from cogov.cases.models import Case
    from cogov.people.models import RoleAssignment
    from cogov.people.services import role_assign

    head = small_city.people["station_a"]
    a = RoleAssignment.objects.get(person=head, role="station_head")
    role_assign(person=head, role="station_head", scope_unit=small_city.units["37020200100201"])
    mine = [report(small_city, "citizen"), report(small_city, "citizen", point=IN_B_COMMUNITY)]
    Case.objects.filter(pk__in=[c.pk for c in mine]).update(state="closed", max_level="community")
    assert {c.station_id for c in Case.objects.filter(pk__in=[c.pk for c in mine])} == {
        a.scope_unit_id, small_city.units["37020200100201"].pk}
    body = contract.get(LEVELS, expect=200, token=tokens["station_a"]).json()
    assert (body["closed"], body["closed_in_community"], body["community_share"]) == (2, 2, 1.0)
    contract.verify()
