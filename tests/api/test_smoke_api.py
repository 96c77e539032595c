"""The JSON API, end to end through Django's test client."""

from __future__ import annotations

import pytest

from cogov.people.auth import token_issue
from tests.conftest import ON_STREET, OUTSIDE_CITY


@pytest.fixture
def tokens(small_city):
    return {name: token_issue(person=p) for name, p in small_city.people.items()}


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_anonymous_citizen_reports_and_staff_take_it_through(client, small_city, tokens):
    cat = small_city.categories["06010"].pk
    r = client.post("/api/v1/cases", {"category_id": cat, "lon": ON_STREET[0], "lat": ON_STREET[1],
                                      "description": "垃圾", "contact_phone": "13800138000"},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["state"] == "reported" and body["reporter_phone"] is None
    number = body["number"]
    r = client.get(f"/api/v1/cases/{number}", **auth(tokens["station_a"]))
    assert r.status_code == 200 and r.json()["reporter_phone"] == "13800138000"
    assert "accept" in r.json()["allowed_actions"]
    r = client.post(f"/api/v1/cases/{number}/actions/accept", {}, content_type="application/json",
                    **auth(tokens["station_a"]))
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    # the other station does not even see it
    r = client.get(f"/api/v1/cases/{number}", **auth(tokens["station_b"]))
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"


@pytest.mark.parametrize("body,code", [
    ({"category_id": "CAT", "lon": OUTSIDE_CITY[0], "lat": OUTSIDE_CITY[1]}, "outside_city"),
    ({"category_id": "CAT", "lon": "east", "lat": 36.0}, "invalid_request"),
    ({"category_id": "CAT", "lon": 120.32, "lat": 36.061, "colour": "red"}, "invalid_request"),
    ({"category_id": 999999, "lon": 120.32, "lat": 36.061}, "unknown_category"),
    ({"category_id": "CAT", "lon": 500, "lat": 36.0}, "invalid_request"),
])
def test_bad_reports_get_a_clear_4xx(client, small_city, body, code):
    body = {k: (small_city.categories["06010"].pk if v == "CAT" else v) for k, v in body.items()}
    r = client.post("/api/v1/cases", body, content_type="application/json")
    assert 400 <= r.status_code < 500, r.content
    assert r.json()["code"] == code and r.json()["message"]


def test_malformed_json_is_a_4xx(client, small_city):
    r = client.post("/api/v1/cases", "{not json", content_type="application/json")
    assert 400 <= r.status_code < 500
    assert "code" in r.json()


def test_openapi_schema_is_served(client, db):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and "/api/v1/cases" in r.json()["paths"]
