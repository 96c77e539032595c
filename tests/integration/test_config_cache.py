"""The per-process configuration cache (cogov/cases/config.py) never routes or times a report on stale facts:
a change made through a service, the admin or any ORM save is seen by the very next report of this process,
and a change made by another process within the check interval (2 s)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.db.models import F

from cogov.cases import config
from cogov.cases.models import CalendarDay, Category, CategoryLimit
from cogov.cases.services import case_report, holidays_import
from cogov.errors import DomainError
from cogov.geo.models import City, Unit
from cogov.notify.models import Endpoint, OutboxMessage
from cogov.people.models import Person, ServiceUnit
from tests.conftest import ON_STREET

LITTER = "06010"  # 暴露垃圾: sanitation, outside


def report(c, *, code=LITTER, point=ON_STREET, **kw):
    return case_report(city=c.city, actor=None, category_id=c.categories[code].pk, lon=point[0], lat=point[1],
                       **kw)


def set_first_response(c, amount, unit, code=LITTER):
    """As the admin's inline form does: load the limit row, change it, save it."""
    limit = CategoryLimit.objects.get(category=c.categories[code], urgency="normal")
    limit.first_response_amount, limit.first_response_unit = amount, unit
    limit.save()


def test_a_changed_limit_is_used_by_the_next_report(small_city):
    c = small_city
    before = report(c)  # fills the cache
    set_first_response(c, 5, "hours")
    case = report(c)
    assert case.first_response_due == case.reported_at + dt.timedelta(hours=5) != before.first_response_due
    set_first_response(c, 2, "hours")
    assert report(c).first_response_due == case.reported_at + dt.timedelta(hours=2)


def test_a_category_switched_off_is_refused_at_once_and_back_on_accepted(small_city):
    c = small_city
    report(c)
    category = Category.objects.get(pk=c.categories[LITTER].pk)
    category.active = False
    category.save()
    with pytest.raises(DomainError) as refused:
        report(c)
    assert refused.value.code == "unknown_category"
    category.active = True
    category.save()
    assert report(c).category_id == category.pk


def test_a_changed_scope_and_duty_route_the_next_report_anew(small_city):
    c = small_city
    assert report(c).suggested_unit_id == c.service_units["sanitation"].pk
    category = Category.objects.get(pk=c.categories[LITTER].pk)
    category.duty_type = "enforcement"
    category.save()
    assert report(c).suggested_unit_id == c.service_units["enforcement"].pk


def test_a_new_professional_unit_and_its_area_route_the_next_report(small_city):
    c = small_city
    assert report(c).suggested_unit_id == c.service_units["sanitation"].pk  # the district's
    crew = ServiceUnit.objects.create(city=c.city, code="SAN-ZS", name="湛山环卫班", duty_type="sanitation")
    crew.service_area.add(c.units["37020200100201"])  # the other station: does not cover the street
    assert report(c).suggested_unit_id == c.service_units["sanitation"].pk
    crew.service_area.add(c.units["37020200100101"])  # station A: more specific than the district
    case = report(c)
    assert case.suggested_unit_id == crew.pk and any("湛山环卫班" in r for r in case.routing_reasons)
    crew.service_area.clear()  # no area at all: the whole city, less specific than the district's unit
    assert report(c).suggested_unit_id == c.service_units["sanitation"].pk
    c.units["37020200100101"].service_units.add(crew)  # the reverse side of the same link
    assert report(c).suggested_unit_id == crew.pk
    crew.delete()
    assert report(c).suggested_unit_id == c.service_units["sanitation"].pk


def test_holidays_import_moves_the_next_deadline(small_city):
    c = small_city
    set_first_response(c, 1, "working_days")
    # Tue 2026-11-24 10:00 + 1 working day = Wed 10:00 (Beijing)
    assert report(c).first_response_due == dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    holidays_import(city=c.city, year=2026, content="2026-11-25,0,台风停工\n")
    assert report(c).first_response_due == dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)


def test_a_day_off_entered_in_the_admin_moves_the_next_deadline(small_city, client):
    c = small_city
    set_first_response(c, 1, "working_days")
    assert report(c).first_response_due == dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    admin = Person.objects.create_superuser(username="root", password="pw-root", city=c.city)
    client.force_login(admin)
    r = client.post("/admin/cases/calendarday/add/",
                    {"city": c.city.pk, "date": "2026-11-25", "name": "台风停工", "is_workday": ""})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert CalendarDay.objects.filter(city=c.city, date=dt.date(2026, 11, 25), is_workday=False).exists()
    assert report(c).first_response_due == dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)
    client.post(f"/admin/cases/calendarday/{CalendarDay.objects.get().pk}/delete/", {"post": "yes"})
    assert report(c).first_response_due == dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def test_a_limit_changed_in_the_admin_category_form_is_used_by_the_next_report(small_city, client):
    c = small_city
    report(c)
    category = Category.objects.get(pk=c.categories[LITTER].pk)
    admin = Person.objects.create_superuser(username="root", password="pw-root", city=c.city)
    client.force_login(admin)
    limits = list(category.limits.order_by("id"))
    data = {f: getattr(category, f) for f in ("edition", "code", "name", "kind", "major_code", "major_name",
                                                "scope", "duty_type", "keywords")}
    data |= {"city": c.city.pk, "active": "on", "limits-TOTAL_FORMS": len(limits),
             "limits-INITIAL_FORMS": len(limits), "limits-MIN_NUM_FORMS": 0, "limits-MAX_NUM_FORMS": 1000}
    for i, lim in enumerate(limits):
        hours = lim.urgency == "normal"
        data |= {f"limits-{i}-id": lim.pk, f"limits-{i}-category": category.pk, f"limits-{i}-urgency": lim.urgency,
                 f"limits-{i}-first_response_amount": 3 if hours else lim.first_response_amount,
                 f"limits-{i}-first_response_unit": "hours" if hours else lim.first_response_unit,
                 f"limits-{i}-handling_amount": lim.handling_amount, f"limits-{i}-handling_unit": lim.handling_unit}
    r = client.post(f"/admin/cases/category/{category.pk}/change/", data)
    assert r.status_code == 302, r.context["errors"] if r.context else r.content.decode()[:2000]
    case = report(c)
    assert case.first_response_due == case.reported_at + dt.timedelta(hours=3)


def test_a_new_endpoint_hears_the_next_report_and_a_switched_off_one_does_not(small_city):
    c = small_city
    report(c)
    robot = Endpoint.objects.create(city=c.city, channel="wecom", name="湛山群", target="https://robot.example/zs",
                                    scope_unit=c.units["37020200100101"])
    case = report(c)
    assert OutboxMessage.objects.filter(channel="wecom", dedup_key__startswith=f"{c.city.pk}:{case.number}:").exists()
    elsewhere = report(c, point=(120.37, 36.05))  # station B: outside the robot's unit
    assert not OutboxMessage.objects.filter(channel="wecom", dedup_key__contains=f":{elsewhere.number}:").exists()
    robot.active = False
    robot.save()
    case = report(c)
    assert not OutboxMessage.objects.filter(channel="wecom", dedup_key__contains=f":{case.number}:").exists()


def test_a_renamed_unit_is_named_anew_in_the_next_report(small_city):
    c = small_city
    assert report(c).station.name == "湛山社区城市治理服务站"
    station = Unit.objects.get(pk=c.units["37020200100101"].pk)
    station.name = "湛山服务站"
    station.save()
    case = report(c)
    assert case.station.name == "湛山服务站"
    assert any("湛山服务站" in r for r in case.routing_reasons)


def test_the_cached_city_row_follows_a_rename(small_city, client):
    c = small_city
    body = {"category_id": c.categories[LITTER].pk, "lon": 116.40, "lat": 39.90}  # outside: the message names it
    assert "青岛市" in client.post("/api/v1/cases", body, content_type="application/json").json()["message"]
    City.objects.filter(pk=c.city.pk).update(name="青岛")  # no signal: the row is re-read after the interval
    city = City.objects.get(pk=c.city.pk)
    city.save()  # a save (the admin's) is seen at once
    assert "青岛辖区" in client.post("/api/v1/cases", body, content_type="application/json").json()["message"]


def test_a_new_head_takes_the_next_report_and_an_ended_appointment_does_not(small_city, frozen_clock):
    from cogov import clock
    from cogov.people.models import RoleAssignment
    from cogov.people.services import role_assign

    c = small_city
    assert report(c).head_id == c.people["street_head"].pk
    # the street head's appointment ends tomorrow; a second street head starts the day after
    RoleAssignment.objects.filter(person=c.people["street_head"]).update(
        valid_to=frozen_clock + dt.timedelta(days=1))
    RoleAssignment.objects.get(person=c.people["street_head"]).save()  # as the admin saves it
    newcomer = Person.objects.create_user(username="street2", password="pw-street2", city=c.city,
                                          display_name="新街长")
    role_assign(person=newcomer, role="street_head", scope_unit=c.units["37020200100101S001"],
                valid_from=frozen_clock + dt.timedelta(days=2))
    assert report(c).head_id == c.people["street_head"].pk  # still today
    clock.freeze(frozen_clock + dt.timedelta(days=1, hours=1))
    case = report(c)  # nobody holds the street (and the point is in no area): the station's head
    assert case.head_id == c.people["station_a"].pk
    clock.freeze(frozen_clock + dt.timedelta(days=2, hours=1))
    case = report(c)
    assert case.head_id == newcomer.pk and any("新街长" in r for r in case.routing_reasons)


def test_a_head_s_new_name_is_in_the_next_report_and_a_sign_in_changes_nothing(small_city, client,
                                                                               django_assert_num_queries):
    c = small_city
    report(c)
    head = Person.objects.get(pk=c.people["street_head"].pk)
    client.force_login(head)  # saves last_login only: the cache stays, the next report reads nothing
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 5):
        report(c)
    head.display_name = "孙大街长"
    head.save()
    assert any("孙大街长" in r for r in report(c).routing_reasons)


class FakeTime:
    """config's view of the monotonic clock, moved by hand."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


def test_another_process_s_change_is_seen_within_the_check_interval(small_city, monkeypatch):
    """Another process changed a limit and bumped the version (its config_changed); this process learns of it
    at its next look at the city's versions, at most ``COGOV_CONFIG_CHECK_SECONDS`` later."""
    c = small_city
    fake = FakeTime()
    monkeypatch.setattr(config, "time", fake)
    report(c)
    # what the other process wrote (no signal, no forget in this process)
    CategoryLimit.objects.filter(category=c.categories[LITTER], urgency="normal").update(
        first_response_amount=7, first_response_unit="hours")
    City.objects.filter(pk=c.city.pk).update(config_version=F("config_version") + 1)
    fake.now += 1.0
    case = report(c)
    assert case.first_response_due != case.reported_at + dt.timedelta(hours=7)  # within the interval: not yet
    fake.now += config.VERSION_CHECK_SECONDS
    case = report(c)
    assert case.first_response_due == case.reported_at + dt.timedelta(hours=7)


def test_with_an_interval_of_zero_every_report_looks(small_city, settings):
    c = small_city
    settings.COGOV_CONFIG_CHECK_SECONDS = 0
    report(c)
    CategoryLimit.objects.filter(category=c.categories[LITTER], urgency="normal").update(
        first_response_amount=7, first_response_unit="hours")
    City.objects.filter(pk=c.city.pk).update(config_version=F("config_version") + 1)
    case = report(c)
    assert case.first_response_due == case.reported_at + dt.timedelta(hours=7)


def test_many_changes_in_one_transaction_bump_the_version_once(small_city, django_assert_max_num_queries):
    c = small_city
    with transaction.atomic():
        before = City.objects.get(pk=c.city.pk).config_version
        updates = []

        def count(execute, sql, params, many, context):
            if sql.startswith('UPDATE "geo_city"'):
                updates.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            for urgency in ("normal", "urgent", "emergency"):
                limit = CategoryLimit.objects.get(category=c.categories[LITTER], urgency=urgency)
                limit.handling_amount += 1
                limit.save()
            holidays_import(city=c.city, year=2027, content="2027-01-01,0,元旦\n")
        assert len(updates) <= 1  # none when this test's transaction already bumped it (the fixture did)
        assert City.objects.get(pk=c.city.pk).config_version >= before


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_another_thread_is_seen_by_the_next_report(small_city):
    """Another thread (its own connection and transaction) commits a change: the commit makes this process
    forget its snapshot, so the next report here already uses it — no waiting for the interval."""
    c = small_city
    report(c)
    failures = []

    def admin_edit():
        try:
            with transaction.atomic():
                set_first_response(c, 6, "hours")
        except BaseException as e:  # noqa: BLE001 - shown below
            failures.append(e)
        finally:
            connection.close()

    t = threading.Thread(target=admin_edit)
    t.start()
    t.join()
    assert not failures, failures
    case = report(c)
    assert case.first_response_due == case.reported_at + dt.timedelta(hours=6)
