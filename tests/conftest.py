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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """``--dist loadgroup`` on pytest 9.2: give grouped tests their ``@group`` node-id suffix.

    pytest-xdist 3.8 marks the group of a test by appending ``@name`` to ``item._nodeid``; pytest 9.2 keeps node
    ids in ``item._id``, so the suffix is lost and the groups are spread over the workers (pytest-xdist issue
    #1386, fix not released yet). This does what xdist meant to, after xdist's own hook; it does nothing when
    xdist did it already, when not under loadgroup, or without xdist.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if not names or item.nodeid.endswith("@" + "_".join(names)):
            continue
        nodeid = f"{item.nodeid}@{'_'.join(names)}"
        if hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(nodeid)
        else:
            item._nodeid = nodeid


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

    Under pytest-xdist each worker has its own database: the parallel-suffix fixture appends ``_gw0``, ``_gw1`` …
    to a named test database (PostgreSQL, or COGOV_TEST_DATABASE_NAME), and the default file lives in the worker's
    own temporary directory.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and not (db.get("TEST") or {}).get("NAME"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "cogov-test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def data_dir_per_run(request, tmp_path_factory):
    """DATA_DIR and MEDIA_ROOT in a temporary directory of this run (of this xdist worker), never ./.cogov-data:
    photos and imports that tests write must not land in a developer's demo city or in another worker's files.
    Tests that need their own directory still override them with the ``settings`` fixture."""
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from django.test import override_settings

    data = tmp_path_factory.mktemp("data")
    with override_settings(DATA_DIR=data, MEDIA_ROOT=data / "media"):
        yield


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


#: The small city's people: username → display name (the usernames are the keys of ``SmallCity.people``).
PEOPLE = {
    "station_a": "王站长",
    "station_b": "李站长",
    "building_head": "赵楼长",
    "courtyard_head": "钱院长",
    "street_head": "孙街长",
    "area_head": "周片长",
    "sanitation_crew": "吴师傅",
    "property_crew": "郑管家",
    "enforcement_crew": "冯队员",
    "subdistrict_sup": "陈主任",
    "district_sup": "褚科长",
    "citizen": "市民小林",
    "citizen2": "市民小何",
}
SERVICE_UNITS = {"sanitation": "SAN-SN", "property": "PROP-ZS", "enforcement": "ENF-SN"}


def _build_small_city() -> int:
    """Build the small city through the services, as a city would (the city's pk)."""
    from cogov.cases import catalog
    from cogov.cases.services import categories_load
    from cogov.geo.models import Unit
    from cogov.geo.services import city_ensure, units_import
    from cogov.people.models import Person, ServiceUnit
    from cogov.people.services import role_assign

    city = city_ensure(code="3702", name="青岛市")
    report = units_import(city=city, rows=[
        {"kind": k, "code": c, "name": n, "parent": p, "geometry": g} for k, c, n, p, g in UNITS
    ])
    assert report.ok, report.rejected
    u = {unit.code: unit for unit in Unit.objects.filter(city=city)}
    categories_load(city=city, specs=catalog.national() + catalog.city_extension())

    sanitation = ServiceUnit.objects.create(city=city, code="SAN-SN", name="市南区环卫所", duty_type="sanitation")
    sanitation.service_area.add(u["370202"])
    property_ = ServiceUnit.objects.create(city=city, code="PROP-ZS", name="湛山物业", duty_type="property")
    property_.service_area.add(u["37020200100101C001"])
    enforcement = ServiceUnit.objects.create(city=city, code="ENF-SN", name="市南区综合执法局",
                                             duty_type="enforcement")
    people = {username: Person.objects.create_user(username=username, password="pw-" + username, city=city,
                                                   display_name=name)
              for username, name in PEOPLE.items()}
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
    return city.pk


def _small_city_handles(city_pk: int) -> SmallCity:
    """The SmallCity handles, read from the database."""
    from cogov.cases.models import Category
    from cogov.geo.models import City, Unit
    from cogov.people.models import Person, ServiceUnit

    city = City.objects.get(pk=city_pk)
    units = {u.code: u for u in Unit.objects.filter(city=city)}
    # by code; where a component and its matter share a code, the matter (what people report) wins
    cats = {c.code: c for c in Category.objects.filter(city=city).order_by("kind")}
    persons = Person.objects.in_bulk(list(PEOPLE), field_name="username")
    service_units = {s.code: s for s in ServiceUnit.objects.filter(city=city, code__in=SERVICE_UNITS.values())}
    return SmallCity(city=city, units=units, people={name: persons[name] for name in PEOPLE},
                     service_units={duty: service_units[code] for duty, code in SERVICE_UNITS.items()},
                     categories=cats)


class _Rows:
    """The rows the small city adds to the test database, to insert them again instead of building it again.

    Building it through the services takes about half a second, and some 500 tests use it. The first build in a
    process records what it added (every table, compared before and after); later tests insert those rows in
    one go — the same rows, keys and hashes the services wrote — when the tables they go to are empty. When a
    build changed or removed rows that were there before, or the tables were not empty, nothing is recorded or
    replayed and the city is built through the services as before.
    """

    recorded: dict[str, list] | None = None  # table → rows (SQLite: tuples; PostgreSQL: JSON text)
    columns: dict[str, list[str]] = {}
    city_pk: int = 0
    attempts = 3  # recordings tried before giving up (each costs two reads of every table)

    @staticmethod
    def snapshot(connection) -> dict[str, tuple[list[str], list]]:
        out = {}
        with connection.cursor() as cur:
            for table in connection.introspection.django_table_names(only_existing=True):
                q = connection.ops.quote_name(table)
                if connection.vendor == "postgresql":
                    cur.execute(f"SELECT row_to_json(t)::text FROM {q} AS t")
                    out[table] = ([], [r[0] for r in cur.fetchall()])
                else:  # dates and times back to the text SQLite keeps (what Django's adapters write)
                    cur.execute(f"SELECT * FROM {q}")
                    out[table] = ([d[0] for d in cur.description], [
                        tuple(str(v) if isinstance(v, dt.date | dt.time) else v for v in row)
                        for row in cur.fetchall()])
        return out

    @classmethod
    def record(cls, connection, before: dict, city_pk: int) -> None:
        cls.attempts -= 1
        after = cls.snapshot(connection)
        added: dict[str, list] = {}
        for table, (columns, rows) in after.items():
            old = set(before.get(table, ([], []))[1])
            if old - set(rows):
                return  # the build changed or removed a row that was there: do not replay
            new = [r for r in rows if r not in old]
            if new:
                if old:
                    return  # the table was not empty: replaying keys there could clash
                added[table] = new
                cls.columns[table] = columns
        cls.recorded, cls.city_pk = added, city_pk

    @classmethod
    def replay(cls, connection) -> bool:
        from django.apps import apps
        from django.core.management.color import no_style
        from django.db import transaction

        if not cls.recorded:
            return False
        qn = connection.ops.quote_name
        with connection.cursor() as cur:
            for table in cls.recorded:
                cur.execute(f"SELECT 1 FROM {qn(table)} LIMIT 1")
                if cur.fetchone():
                    return False
            with transaction.atomic():
                for table, rows in cls.recorded.items():
                    if connection.vendor == "postgresql":
                        cur.execute(f"INSERT INTO {qn(table)} SELECT * FROM "
                                    f"json_populate_recordset(NULL::{qn(table)}, %s::json)", ["[" + ",".join(rows) + "]"])
                    else:
                        columns = cls.columns[table]
                        cur.executemany(f"INSERT INTO {qn(table)} ({', '.join(map(qn, columns))}) VALUES "
                                        f"({', '.join(['%s'] * len(columns))})", rows)
                # PostgreSQL: move the id sequences past the inserted keys (SQLite does it by itself)
                models = [m for m in apps.get_models(include_auto_created=True)
                          if m._meta.db_table in cls.recorded]
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cur.execute(sql)
        return True


@pytest.fixture
def small_city(db, frozen_clock) -> SmallCity:
    """The small city: see the module docstring."""
    from django.db import connection

    from cogov.cases import config
    from cogov.geo import selectors

    selectors.forget_index()
    if _Rows.replay(connection):
        config.forget()  # as the services do when they change a city's configuration
        selectors.forget_index()
        return _small_city_handles(_Rows.city_pk)
    before = _Rows.snapshot(connection) if _Rows.recorded is None and _Rows.attempts > 0 else None
    city_pk = _build_small_city()
    if before is not None:
        _Rows.record(connection, before, city_pk)
    return _small_city_handles(city_pk)
