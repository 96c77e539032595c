"""Schemathesis over the API's own OpenAPI document: no 5xx, and every answer matches the schema.

The schema is loaded from the app (``/api/v1/openapi.json``) and every generated request goes through the same
Django WSGI application in process, so the fuzzer sees the test database with the small city in it. Each
operation runs twice — anonymously and as 王站长 (station head of 湛山, with an API token) — with a bounded
number of examples (``COGOV_FUZZ_EXAMPLES``, default 25 per operation and caller) and a fixed seed
(``COGOV_FUZZ_SEED`` picks another), so CI sends the same requests each run. Rate limits are off for the run.

Random ids rarely name a real category, case or photo, and random points rarely fall inside the city, so most
fuzzed draws are steered onto the city's real ones (the hooks below): otherwise the run would only meet 404s
and never file, act on or read a case. Values of the wrong type are left alone: negative cases stay negative.
"""

from __future__ import annotations

import io
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cogov.people.auth import token_issue
from tests.conftest import IN_COURTYARD

SEED = int(os.environ.get("COGOV_FUZZ_SEED", "20261124"))
MAX_EXAMPLES = int(os.environ.get("COGOV_FUZZ_EXAMPLES", "25"))

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=schemathesis.Config.from_dict({"seed": SEED}),
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]

#: The small city's real ids, numbers and codes, filled by the ``fuzz_city`` fixture for the steering hooks.
REAL: dict[str, list] = {}
#: The small city's square (tests/conftest.py): lon 120.30–120.40, lat 36.00–36.10.
CITY_LON, CITY_LAT = (120.30, 120.40), (36.00, 36.10)


def _steered(value, steer):
    """``steer``'s value most of the time, else the value as drawn (Hypothesis favours 0: the steered one)."""
    return st.integers(0, 3).flatmap(lambda i: st.just(value) if i == 3 else steer)


def _real(key: str, value):
    """The drawn value, or one of the city's real ones of the same type."""
    real = [r for r in REAL.get(key, []) if type(r) is type(value)]
    return _steered(value, st.sampled_from(real)) if real else st.just(value)


def _number(value, low, high) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _into_the_city(lon, lat) -> tuple[float, float]:
    """A valid (lon, lat) moved into the small city's square, keeping its relative place."""
    return (CITY_LON[0] + (lon + 180) / 360 * (CITY_LON[1] - CITY_LON[0]),
            CITY_LAT[0] + (lat + 90) / 180 * (CITY_LAT[1] - CITY_LAT[0]))


def _point_in_the_city(values: dict):
    """``values`` with lon and lat, when both are valid numbers, moved into the city (most of the time)."""
    if not (_number(values.get("lon"), -180, 180) and _number(values.get("lat"), -90, 90)):
        return st.just(values)
    lon, lat = _into_the_city(values["lon"], values["lat"])
    return _steered(values, st.just({**values, "lon": lon, "lat": lat}))


@schema.hook("flatmap_body").apply_to(method="POST", path="/api/v1/cases")
def _report_in_the_city(context, body):
    """A report of a real category at a point of the city (other fields as drawn)."""
    if not isinstance(body, dict):
        return st.just(body)
    strategy = _point_in_the_city(body)
    if isinstance(body.get("category_id"), int) and not isinstance(body["category_id"], bool):
        strategy = strategy.flatmap(lambda b: _real("categories", b["category_id"]).map(
            lambda cid: {**b, "category_id": cid}))
    return strategy


@schema.hook("flatmap_query").apply_to(method="GET", path="/api/v1/locate")
def _locate_in_the_city(context, query):
    """A point of the city."""
    return _point_in_the_city(query) if isinstance(query, dict) else st.just(query)


@schema.hook("flatmap_path_parameters").apply_to(path_regex="^/api/v1/(cases|photos)/")
def _real_case_action_photo(context, params):
    """A real case number, workflow action or photo id in the path."""
    if not isinstance(params, dict):
        return st.just(params)
    strategy = st.just(dict(params))
    for name, key in (("number", "numbers"), ("action", "actions"), ("photo_id", "photos")):
        if name in params:
            strategy = strategy.flatmap(
                lambda p, name=name, key=key: _real(key, p[name]).map(lambda v: {**p, name: v}))
    return strategy


@schema.hook("flatmap_query").apply_to(method="GET", path="/api/v1/stats/levels")
def _real_unit(context, query):
    """A real unit code for ``under``."""
    if not isinstance(query, dict) or not isinstance(query.get("under"), str):
        return st.just(query)
    return _real("units", query["under"]).map(lambda code: {**query, "under": code})


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 60)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _no_rate_limits_and_private_media(settings, tmp_path):
    settings.COGOV_RATE_PER_ADDRESS = ""
    settings.COGOV_RATE_PER_PHONE = ""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Django closes, at each request's start and end, a connection left outside autocommit — which the
    test's own transaction is. The test client suspends that for its requests; these come through the real
    WSGI handler, so suspend it here (else, on PostgreSQL and on a file SQLite database as in CI, the test's
    connection closes under the first request and every later one answers 500)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_city(small_city):
    """The small city with one case (a citizen's report in the courtyard of 湛山, with a photo) to aim at."""
    from cogov.cases.api import API_ACTIONS
    from cogov.cases.services import case_report
    from cogov.intake.photos import store_photos

    lon, lat = IN_COURTYARD
    case = case_report(city=small_city.city, actor=small_city.actor("citizen"),
                       category_id=small_city.categories["06010"].pk, lon=lon, lat=lat, title="小区门口堆放垃圾")
    photo, = store_photos(city_id=small_city.city.pk, files=[_jpeg()], case=case,
                          uploaded_by_id=small_city.people["citizen"].pk)
    REAL.update(categories=sorted(c.pk for c in small_city.categories.values()), numbers=[case.number],
                actions=list(API_ACTIONS), photos=[photo.pk], units=sorted(small_city.units))
    yield small_city
    REAL.clear()


@pytest.fixture
def auth_headers(who, fuzz_city) -> dict | None:
    """The station head's API token as a Bearer header (None: anonymous)."""
    return {"Authorization": f"Bearer {token_issue(person=fuzz_city.people[who])}"} if who else None


# The city is built once per operation and caller; its examples run one after another in that test's
# transaction (cases they file stay for the next ones). Meant so: the function-scoped-fixture check is off.
@pytest.mark.django_db
@pytest.mark.parametrize("who", [None, "station_a"], ids=["anonymous", "station_head"])
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_answers_match_the_schema(case, auth_headers):
    """Every generated request: no 5xx, a documented status, content type, headers and body."""
    case.call_and_validate(headers=auth_headers, checks=CHECKS)
