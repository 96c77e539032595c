"""The public door under retries, scripts and spam: the JSON API and Open311 POST behave alike."""

from __future__ import annotations

import pytest

from cogov.cases.models import Case
from tests.conftest import ON_STREET

O311 = "/open311/v2/requests.json"


def api_report(client, small_city, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0], "lat": ON_STREET[1], **extra}
    return client.post("/api/v1/cases", body, content_type="application/json", **headers)


def o311_report(client, key=None, path=O311, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    form = {"service_code": "06010", "lat": str(ON_STREET[1]), "long": str(ON_STREET[0]), **extra}
    return client.post(path, form, **headers)


def test_api_retry_with_the_same_key_returns_the_first_case(client, small_city):
    first = api_report(client, small_city, key="phone-42-attempt")
    again = api_report(client, small_city, key="phone-42-attempt")
    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"] and again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1
    reused = api_report(client, small_city, key="phone-42-attempt", description="另一件事")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


def test_open311_retry_with_the_same_key_returns_the_first_answer(client, small_city):
    first = o311_report(client, key="hotline-7781")
    again = o311_report(client, key="hotline-7781")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and Case.objects.count() == 1


@pytest.mark.parametrize("door", ["api", "open311"])
def test_public_intake_is_rate_limited_per_address_with_retry_after(client, small_city, settings, door):
    settings.COGOV_RATE_PER_ADDRESS = "2/600"
    send = (lambda: api_report(client, small_city)) if door == "api" else (lambda: o311_report(client))
    assert [send().status_code for _ in range(2)] == ([201, 201] if door == "api" else [200, 200])
    refused = send()
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    body = refused.json()
    message = body["message"] if door == "api" else body[0]["description"]
    assert "秒后再试" in message
    assert Case.objects.count() == 2


def test_per_phone_limit_holds_across_addresses(client, small_city, settings):
    settings.COGOV_RATE_PER_PHONE = "1/3600"
    assert api_report(client, small_city, contact_phone="13800138000").status_code == 201
    r = client.post("/api/v1/cases", {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0],
                                      "lat": ON_STREET[1], "contact_phone": "13800138000"},
                    content_type="application/json", REMOTE_ADDR="10.9.9.9")
    assert r.status_code == 429


SPAM = "门口有垃圾 加微信 bet888 注册送88元彩金 www.xx-bet.top"


def test_spam_is_held_and_never_shown_publicly(client, small_city):
    r = api_report(client, small_city, description=SPAM)
    assert r.status_code == 201
    case = Case.objects.get()
    assert case.moderation == "held" and case.moderation_reasons
    listing = client.get("/open311/v2/requests.json").json()
    assert listing == []
    assert client.get(f"/open311/v2/requests/{case.number}.json").status_code == 404


def test_open311_spam_gets_a_token_not_a_number(client, small_city):
    r = o311_report(client, description=SPAM)
    assert r.status_code == 200 and "token" in r.json()[0] and "service_request_id" not in r.json()[0]


def test_text_is_normalised_before_it_is_stored(client, small_city):
    r = api_report(client, small_city, description="ＡＢＣ１２３\u200b路灯\u202e坏了\x07")
    assert r.status_code == 201
    assert Case.objects.get().description == "ABC123路灯坏了"
