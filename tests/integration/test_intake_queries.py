"""The statements of one report (上报), pinned: intake stays a handful of statements, not dozens.

One anonymous report on a warm process (the locate index and the library calendar built by a first report),
first through the service, then through the whole ``POST /api/v1/cases``. Inside the test's transaction
every ``atomic`` block is a SAVEPOINT/RELEASE pair; in production the outermost is BEGIN/COMMIT instead.
PostgreSQL takes the case number with one ``nextval``; SQLite locks and updates the counter row.
"""

from __future__ import annotations

from django.db import connection

from cogov.cases.services import case_report
from tests.conftest import ON_STREET


def _service_statements() -> list[str]:
    number = ["nextval"] if connection.vendor == "postgresql" else ["counter (locked)", "counter update"]
    return ["category", "its limits", "located units", "their heads", "service-area links at the point",
            "service units", "calendar days", "calendar years",
            "SAVEPOINT", *number, "case", "report event", "endpoints", "outbox", "RELEASE"]


def test_a_report_takes_a_handful_of_statements(small_city, django_assert_num_queries):
    c = small_city
    kw = dict(city=c.city, actor=None, category_id=c.categories["06010"].pk,
              lon=ON_STREET[0], lat=ON_STREET[1])
    case_report(**kw)  # warm: locate index, library calendar
    with django_assert_num_queries(len(_service_statements())):
        case_report(**kw)


def test_the_whole_post_takes_a_handful_of_statements(client, small_city, django_assert_num_queries):
    body = {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0], "lat": ON_STREET[1]}
    assert client.post("/api/v1/cases", body, content_type="application/json").status_code == 201
    expected = ["city", "SAVEPOINT", "rate counter upsert (per address)", "RELEASE",
                "SAVEPOINT (idempotency: the report and its answer commit together)", *_service_statements(),
                "photos of the answer", "RELEASE"]
    with django_assert_num_queries(len(expected)):
        r = client.post("/api/v1/cases", body, content_type="application/json")
    assert r.status_code == 201, r.content
