"""Shared fixtures: a small city that tests can read like the city itself.

One district (市南区) with one sub-district, two communities, a station in each, and in station A an area, a
street, a courtyard with a building; heads for each; a sanitation, a property and an enforcement unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from shapely.geometry import box

from cogov import clock


def rect(x0, y0, x1, y1):
    """A rectangle in lon/lat (WGS-84)."""
    return box(x0, y0, x1, y1).wkt


# Lon 120.30–120.40, lat 36.00–36.10 — a made-up square of 市南区.
UNITS = [
    ("district", "370202", "市南区", "", rect(120.30, 36.00, 120.40, 36.10)),
    ("subdistrict", "370202001", "香港中路街道", "370202", rect(120.30, 36.00, 120.40, 36.10)),
    ("community", "370202001001", "湛山社区", "370202001", rect(120.30, 36.00, 120.35, 36.10)),
    ("community", "370202001002", "八大关社区", "370202001", rect(120.35, 36.00, 120.40, 36.10)),
    ("station", "37020200100101", "湛山社区城市治理服务站", "370202001001", rect(120.30, 36.00, 120.35, 36.10)),
    ("station", "37020200100201", "八大关社区城市治理服务站", "370202001002", rect(120.35, 36.00, 120.40, 36.10)),
    ("area", "37020200100101A001", "湛山第一区片", "37020200100101", rect(120.30, 36.00, 120.35, 36.05)),
    ("street", "37020200100101S001", "香港中路", "37020200100101", rect(120.30, 36.06, 120.35, 36.062)),
    ("courtyard", "37020200100101C001", "湛山花园小区", "37020200100101", rect(120.31, 36.01, 120.32, 36.02)),
    ("building", "37020200100101C00101", "1号楼", "37020200100101C001", rect(120.311, 36.011, 120.312, 36.012)),
]

# Points people report from.
IN_BUILDING = (120.3115, 36.0115)
IN_COURTYARD = (120.315, 36.015)  # inside the courtyard, in the area, outside the building
ON_STREET = (120.32, 36.061)
IN_AREA_ONLY = (120.34, 36.03)
IN_B_COMMUNITY = (120.37, 36.05)
OUTSIDE_CITY = (116.40, 39.90)  # Beijing


@dataclass
class SmallCity:
    """Handles on the small city's parts."""

    city: object
    units: dict
    people: dict
    service_units: dict
    categories: dict

    def actor(self, name):
        from cogov.people.permissions import actor_for

        return actor_for(self.people[name], city_id=self.city.pk)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite tests use a file database in WAL mode, as production does, unless COGOV_TEST_DATABASE_NAME names one.

    The live-server tests and the browser journeys make concurrent requests (a page polling while another
    posts); an in-memory shared-cache database answers those with "database table is locked" at once.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and not (db.get("TEST") or {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "cogov-test.sqlite3")


@pytest.fixture(autouse=True)
def fast_passwords(request):
    """Test accounts use a fast hasher: PBKDF2 would spend seconds on each small city's dozen passwords.

    (Skipped when pytest-django is not loaded, so the pure tests also run with ``-p no:django``.)
    """
    if request.config.pluginmanager.hasplugin("django"):
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_config_cache(request):
    """Each test starts without cached city configuration (cogov/cases/config.py): rows a previous test rolled
    back must not be served from this process's cache. (Skipped without pytest-django, like fast_passwords.)"""
    if request.config.pluginmanager.hasplugin("django"):
        from cogov.cases import config

        config.forget()


@pytest.fixture
def frozen_clock():
    """The clock frozen on a working Tuesday morning (2026-11-24 10:00 Beijing)."""
    at = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    clock.freeze(at)
    yield at
    clock.freeze(None)


@pytest.fixture
def small_city(db, frozen_clock) -> SmallCity:
    """The small city: see the module docstring."""
    from cogov.cases import catalog
    from cogov.cases.models import Category
    from cogov.cases.services import categories_load
    from cogov.geo import selectors
    from cogov.geo.models import Unit
    from cogov.geo.services import city_ensure, units_import
    from cogov.people.models import Person, ServiceUnit
    from cogov.people.services import role_assign

    selectors.forget_index()
    city = city_ensure(code="3702", name="青岛市")
    report = units_import(city=city, rows=[
        {"kind": k, "code": c, "name": n, "parent": p, "geometry": g} for k, c, n, p, g in UNITS
    ])
    assert report.ok, report.rejected
    units = {u.code: u for u in Unit.objects.filter(city=city)}
    categories_load(city=city, specs=catalog.national() + catalog.city_extension())
    # by code; where a component and its matter share a code, the matter (what people report) wins
    cats = {c.code: c for c in Category.objects.filter(city=city).order_by("kind")}

    def person(username, name):
        return Person.objects.create_user(username=username, password="pw-" + username, city=city,
                                          display_name=name)

    sanitation = ServiceUnit.objects.create(city=city, code="SAN-SN", name="市南区环卫所", duty_type="sanitation")
    sanitation.service_area.add(units["370202"])
    property_ = ServiceUnit.objects.create(city=city, code="PROP-ZS", name="湛山物业", duty_type="property")
    property_.service_area.add(units["37020200100101C001"])
    enforcement = ServiceUnit.objects.create(city=city, code="ENF-SN", name="市南区综合执法局",
                                             duty_type="enforcement")
    people = {
        "station_a": person("station_a", "王站长"),
        "station_b": person("station_b", "李站长"),
        "building_head": person("building_head", "赵楼长"),
        "courtyard_head": person("courtyard_head", "钱院长"),
        "street_head": person("street_head", "孙街长"),
        "area_head": person("area_head", "周片长"),
        "sanitation_crew": person("sanitation_crew", "吴师傅"),
        "property_crew": person("property_crew", "郑管家"),
        "enforcement_crew": person("enforcement_crew", "冯队员"),
        "subdistrict_sup": person("subdistrict_sup", "陈主任"),
        "district_sup": person("district_sup", "褚科长"),
        "citizen": person("citizen", "市民小林"),
        "citizen2": person("citizen2", "市民小何"),
    }
    u = units
    role_assign(person=people["station_a"], role="station_head", scope_unit=u["37020200100101"])
    role_assign(person=people["station_b"], role="station_head", scope_unit=u["37020200100201"])
    role_assign(person=people["building_head"], role="building_head", scope_unit=u["37020200100101C00101"])
    role_assign(person=people["courtyard_head"], role="building_head", scope_unit=u["37020200100101C001"])
    role_assign(person=people["street_head"], role="street_head", scope_unit=u["37020200100101S001"])
    role_assign(person=people["area_head"], role="area_head", scope_unit=u["37020200100101A001"])
    role_assign(person=people["sanitation_crew"], role="unit_crew", service_unit=sanitation)
    role_assign(person=people["property_crew"], role="unit_crew", service_unit=property_)
    role_assign(person=people["enforcement_crew"], role="unit_crew", service_unit=enforcement)
    role_assign(person=people["subdistrict_sup"], role="subdistrict_supervisor", scope_unit=u["370202001"])
    role_assign(person=people["district_sup"], role="district_supervisor", scope_unit=u["370202"])
    return SmallCity(city=city, units=units, people=people,
                     service_units={"sanitation": sanitation, "property": property_, "enforcement": enforcement},
                     categories=cats)
