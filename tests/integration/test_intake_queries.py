"""The statements of one report (上报), pinned: intake stays a handful of statements, not dozens.

One anonymous report on a warm process (the locate index, the library calendar and the city's configuration
cache — cogov/cases/config.py — filled by a first report), first through the service, then through the whole
``POST /api/v1/cases``. Inside the test's transaction every savepointed ``atomic`` block is a SAVEPOINT/RELEASE
pair; in production the outermost is BEGIN/COMMIT instead. ``case_report`` opens no savepoint of its own when
called inside a transaction without photos. PostgreSQL takes the case number with one ``nextval``; SQLite
locks and updates the counter row.

History: 15 statements in ``case_report`` and 22 for the whole POST on PostgreSQL (docs/decisions/0003, first
round); now 4 and 9 — the city, the category and its limits, the located units and their heads, the
professional units and their areas, the calendar and the notification endpoints come from the per-process
cache, ``case_report`` opens no savepoint of its own, and the answer knows a new case has no photos. What is
left is the case number and the three inserts.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from cogov.cases.services import case_report
from tests.conftest import ON_STREET

#: (what, a pattern the statement matches)
CASE = ("INSERT case", r'^INSERT INTO "cases_case" ')
EVENT = ("INSERT report event", r'^INSERT INTO "cases_caseevent" ')
OUTBOX = ("INSERT outbox rows (one statement)", r'^INSERT INTO "notify_outboxmessage" ')


def _service_statements() -> list[tuple[str, str]]:
    if connection.vendor == "postgresql":
        number = [("nextval", r"nextval\(")]
    else:
        number = [("counter (locked)", r'^SELECT .* FROM "cases_casecounter"'),
                  ("counter update", r'^UPDATE "cases_casecounter"')]
    return [*number, CASE, EVENT, OUTBOX]


def _check(captured, expected: list[tuple[str, str]]) -> None:
    sqls = [q["sql"] for q in captured]
    assert len(sqls) == len(expected), "\n".join(["statements:", *sqls])
    for sql, (what, pattern) in zip(sqls, expected, strict=True):
        assert re.search(pattern, sql), f"expected {what}, got: {sql[:200]}"


def test_a_report_takes_a_handful_of_statements(small_city, django_assert_num_queries):
    c = small_city
    kw = {"city": c.city, "actor": None, "category_id": c.categories["06010"].pk,
          "lon": ON_STREET[0], "lat": ON_STREET[1]}
    case_report(**kw)  # warm: locate index, library calendar, configuration cache
    expected = _service_statements()
    with django_assert_num_queries(len(expected)) as captured:
        case = case_report(**kw)
    _check(captured.captured_queries, expected)
    assert case.head_id == c.people["street_head"].pk and case.first_response_due is not None


def test_the_whole_post_takes_a_handful_of_statements(client, small_city, django_assert_num_queries):
    body = {"category_id": small_city.categories["06010"].pk, "lon": ON_STREET[0], "lat": ON_STREET[1]}
    assert client.post("/api/v1/cases", body, content_type="application/json").status_code == 201
    expected = [("SAVEPOINT", r"^SAVEPOINT"),
                ("rate counter upsert (per address)", r'^INSERT INTO "?intake_'), ("RELEASE", r"^RELEASE"),
                ("SAVEPOINT (idempotency: the report and its answer commit together)", r"^SAVEPOINT"),
                *_service_statements(), ("RELEASE", r"^RELEASE")]
    with django_assert_num_queries(len(expected)) as captured:
        r = client.post("/api/v1/cases", body, content_type="application/json")
    assert r.status_code == 201, r.content
    _check(captured.captured_queries, expected)
    assert r.json()["photos"] == [] and r.json()["station"]


@pytest.mark.parametrize("seconds, extra", [(2.0, 0), (0, 1)])
def test_the_city_s_versions_are_read_at_most_every_check_interval(small_city, settings,
                                                                   django_assert_num_queries, seconds, extra):
    """Within the interval no statement at all asks whether the configuration changed; with an interval of 0
    every report reads the city's versions first (one statement more)."""
    settings.COGOV_CONFIG_CHECK_SECONDS = seconds
    c = small_city
    kw = {"city": c.city, "actor": None, "category_id": c.categories["06010"].pk,
          "lon": ON_STREET[0], "lat": ON_STREET[1]}
    case_report(**kw)
    expected = ([("the city's versions", r'^SELECT .* FROM "geo_city"')] if extra else []) + _service_statements()
    with django_assert_num_queries(len(expected)) as captured:
        case_report(**kw)
    _check(captured.captured_queries, expected)
