"""What every report reads and rarely changes, cached per process (配置缓存): the city row, the categories with
their limits, territorial units by id, the heads appointed to them, the professional units with their service
areas, the work calendar and the notification endpoints.

Each process keeps one snapshot per city, tagged with the city's ``config_version`` and ``geo_version``. It
re-reads the city row at most every ``COGOV_CONFIG_CHECK_SECONDS`` (default 2; 0 = on every use, one statement
more per report) and starts a fresh snapshot when either version moved on — the pattern of the locate index
(cogov/geo/selectors.py).

Whatever writes those tables bumps ``config_version`` through ``config_changed``: the services that write them
in bulk (``categories_load``, ``holidays_import``) call it, and model signals call it on every save and delete
through the ORM, the admin included (``connect_signals``; cache invalidation only, never a business rule).
The process that made the change forgets its snapshot at once and again at commit, so its own next report
sees the change; every other process sees it within the check interval. A write that bypasses both (a raw
``QuerySet.update``) must call ``config_changed`` itself.

One limit, by choice: a snapshot read inside the very transaction that changed the configuration holds that
transaction's view, and the process's other threads may use it until the transaction ends (a commit forgets
it; after a rollback the next version check, within the interval, does). No service reads configuration after
changing it in the same transaction (the demo's build does, before its server starts); a stricter scheme
would make every test (each one transaction) read differently from production.

The parts of a snapshot are read lazily, each once per version. Cached rows are plain tuples; callers get fresh
model instances built from them, so no instance is shared between threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F

from cogov.cases import deadlines

T = TypeVar("T")

#: Default seconds between two looks at a city's versions (setting ``COGOV_CONFIG_CHECK_SECONDS``).
VERSION_CHECK_SECONDS = 2.0

_lock = threading.Lock()
_snapshots: dict[int, _Snapshot] = {}
#: Bumped by every ``forget``: a snapshot read before a forget is not installed after it.
_generation = 0
#: (checked at, city id) of the default city (``city_default``).
_default: tuple[float, int] | None = None
#: ``.pins``: city id → the snapshot this thread uses inside ``one_version`` (else no attribute).
_local = threading.local()


@dataclass(frozen=True)
class ServiceUnitRow:
    """A professional unit as routing needs it."""

    id: int
    name: str
    duty_type: str
    duty_categories: tuple[str, ...]
    #: Whether it has a service area at all (none = the whole city).
    has_area: bool


@dataclass(frozen=True)
class ServiceUnits:
    """A city's professional units, and which of them serve each territorial unit."""

    rows: tuple[ServiceUnitRow, ...]
    #: territorial unit id → ids of the professional units whose service area lists it
    serving: dict[int, tuple[int, ...]]

    def fitting(self, duty_type: str, category_code: str) -> list[ServiceUnitRow]:
        """The units that may take a category (its duty type, or its code in their list), wherever they serve."""
        return [r for r in self.rows if r.duty_type == duty_type or category_code in r.duty_categories]


@dataclass(frozen=True)
class HeadRow:
    """An appointment of a head (楼长、街长、片长、站长 …) to a territorial unit, current or not."""

    person_id: int
    role: str
    name: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None

    def current(self, now: dt.datetime) -> bool:
        """Whether the appointment holds at ``now``."""
        return self.valid_from <= now and (self.valid_to is None or self.valid_to > now)


@dataclass(frozen=True)
class EndpointRow:
    """An active notification endpoint (group-chat robot, mailbox)."""

    id: int
    channel: str
    target: str
    actions: tuple[str, ...]
    #: Path of the unit it covers; None = the whole city.
    scope_path: str | None


class _Snapshot:
    """One city's cached configuration at one (config_version, geo_version)."""

    def __init__(self, row: tuple, version: tuple[int, int], checked: float) -> None:
        self.row = row
        self.version = version
        self.checked = checked
        self.parts: dict[str, Any] = {}
        self.units: dict[int, tuple] = {}
        self.lock = threading.Lock()

    def part(self, name: str, load: Callable[[], T]) -> T:
        try:
            return self.parts[name]
        except KeyError:
            pass
        with self.lock:  # one thread loads, the others wait for it
            if name not in self.parts:
                self.parts[name] = load()
            return self.parts[name]


@functools.cache
def _city_fields() -> tuple[str, ...]:
    from cogov.geo.models import City

    return tuple(f.attname for f in City._meta.concrete_fields)


@functools.cache
def _unit_fields() -> tuple[str, ...]:
    from cogov.geo.models import Unit

    return tuple(f.attname for f in Unit._meta.concrete_fields if f.name != "geometry")


@functools.cache
def _category_fields() -> tuple[str, ...]:
    from cogov.cases.models import Category

    return tuple(f.attname for f in Category._meta.concrete_fields)


def _check_seconds() -> float:
    return float(getattr(settings, "COGOV_CONFIG_CHECK_SECONDS", VERSION_CHECK_SECONDS))


def _version(row: tuple) -> tuple[int, int]:
    fields = _city_fields()
    return row[fields.index("config_version")], row[fields.index("geo_version")]


def _install(row: tuple, checked: float, generation: int) -> _Snapshot:
    """The snapshot for a freshly read city row: the same one if the versions did not move, else a new one."""
    city_id = row[_city_fields().index("id")]
    version = _version(row)
    with _lock:
        snap = _snapshots.get(city_id)
        if snap is not None and snap.version == version:
            snap.row, snap.checked = row, checked
            return snap
        snap = _Snapshot(row, version, checked)
        if generation == _generation:  # else forgotten meanwhile: use it for this call, keep nothing
            _snapshots[city_id] = snap
        return snap


def _snapshot(city_id: int) -> _Snapshot | None:
    pins = getattr(_local, "pins", None)
    if pins is not None and city_id in pins:
        return pins[city_id]
    now = time.monotonic()
    snap = _snapshots.get(city_id)
    if snap is None or now - snap.checked >= _check_seconds():
        from cogov.geo.models import City

        generation = _generation
        row = City.objects.filter(pk=city_id).values_list(*_city_fields()).first()
        if row is None:
            forget(city_id)
            return None
        snap = _install(row, now, generation)
    if pins is not None:
        pins[city_id] = snap
    return snap


@contextlib.contextmanager
def one_version() -> Iterator[None]:
    """Inside, every read of a city's configuration in this thread comes from one snapshot: the versions are
    looked at once at most (also with a check interval of 0), and one report never mixes two versions."""
    if getattr(_local, "pins", None) is not None:  # nested: the outer block decides
        yield
        return
    _local.pins = {}
    try:
        yield
    finally:
        _local.pins = None


def _require(city_id: int) -> _Snapshot:
    snap = _snapshot(city_id)
    if snap is None:
        from cogov.geo.models import City

        raise City.DoesNotExist(f"city {city_id}")
    return snap


def _city(row: tuple):
    from cogov.geo.models import City

    return City.from_db("default", _city_fields(), row)


def city_get(city_id: int):
    """The city (a fresh ``City`` built from the cached row), or None if there is no such city."""
    snap = _snapshot(city_id)
    return _city(snap.row) if snap is not None else None


def city_default():
    """The city of anonymous requests: ``COGOV_DEFAULT_CITY``, else the first city; None when there is none."""
    global _default
    from cogov.geo.models import City

    now = time.monotonic()
    known = _default
    if known is not None and now - known[0] < _check_seconds():
        snap = _snapshots.get(known[1])
        if snap is not None:
            return _city(snap.row)
    generation = _generation
    fields = _city_fields()
    row = (City.objects.filter(code=settings.COGOV_DEFAULT_CITY).values_list(*fields).first()
           or City.objects.order_by("id").values_list(*fields).first())
    if row is None:
        _default = None
        return None
    snap = _install(row, now, generation)
    _default = (now, row[fields.index("id")])
    return _city(snap.row)


def category(city_id: int, category_id: int):
    """The city's category ``category_id`` (a fresh ``Category``, active or not), or None."""
    from cogov.cases.models import Category

    row = _categories(city_id).get(category_id)
    return Category.from_db("default", _category_fields(), row[0]) if row is not None else None


def category_limits(city_id: int, category_id: int) -> dict[str, tuple[float, str, float, str]]:
    """urgency → (first-response amount, unit, handling amount, unit) of a category; {} when it has none."""
    row = _categories(city_id).get(category_id)
    return row[1] if row is not None else {}


def _categories(city_id: int) -> dict[int, tuple[tuple, dict]]:
    def load() -> dict[int, tuple[tuple, dict]]:
        from cogov.cases.models import Category, CategoryLimit

        fields = _category_fields()
        limits: dict[int, dict] = {}
        for cat_id, urgency, fa, fu, ha, hu in CategoryLimit.objects.filter(category__city_id=city_id).values_list(
            "category_id", "urgency", "first_response_amount", "first_response_unit", "handling_amount",
            "handling_unit",
        ):
            limits.setdefault(cat_id, {})[urgency] = (fa, fu, ha, hu)
        return {row[0]: (row, limits.get(row[0], {}))
                for row in Category.objects.filter(city_id=city_id).values_list(*fields)}

    return _require(city_id).part("categories", load)


def units(city_id: int, ids: Iterable[int]) -> dict:
    """Territorial units by id (fresh ``Unit`` objects, geometry deferred); rows read once per version."""
    from cogov.geo.models import Unit

    snap = _require(city_id)
    ids = list(ids)
    missing = [i for i in ids if i not in snap.units]
    if missing:
        fields = _unit_fields()
        for row in Unit.objects.filter(city_id=city_id, pk__in=missing).values_list(*fields):
            snap.units[row[0]] = row
    fields = _unit_fields()
    return {i: Unit.from_db("default", fields, snap.units[i]) for i in ids if i in snap.units}


def service_units(city_id: int) -> ServiceUnits:
    """The city's professional units and the territorial units each one serves."""

    def load() -> ServiceUnits:
        from cogov.people.models import ServiceUnit

        serving: dict[int, list[int]] = {}
        with_area: set[int] = set()
        links = ServiceUnit.service_area.through.objects.filter(serviceunit__city_id=city_id)
        for unit_id, su_id in links.values_list("unit_id", "serviceunit_id"):
            serving.setdefault(unit_id, []).append(su_id)
            with_area.add(su_id)
        rows = tuple(
            ServiceUnitRow(id=su_id, name=name, duty_type=duty_type, duty_categories=tuple(duty_categories or ()),
                           has_area=su_id in with_area)
            for su_id, name, duty_type, duty_categories in ServiceUnit.objects.filter(city_id=city_id)
            .order_by("id").values_list("id", "name", "duty_type", "duty_categories")
        )
        return ServiceUnits(rows=rows, serving={k: tuple(v) for k, v in serving.items()})

    return _require(city_id).part("service_units", load)


def heads(city_id: int) -> dict[int, tuple[HeadRow, ...]]:
    """territorial unit id → the appointments of heads and station heads to it (past and future ones too:
    callers keep those ``current`` at their moment)."""

    def load() -> dict[int, tuple[HeadRow, ...]]:
        from cogov.people.models import RoleAssignment
        from cogov.people.permissions import HEAD_ROLES

        out: dict[int, list[HeadRow]] = {}
        rows = (RoleAssignment.objects.filter(city_id=city_id, scope_unit__isnull=False,
                                              role__in=sorted(HEAD_ROLES | {"station_head"}))
                .order_by("id").values_list("scope_unit_id", "person_id", "role", "person__display_name",
                                            "person__username", "valid_from", "valid_to"))
        for unit_id, person_id, role, display_name, username, valid_from, valid_to in rows:
            out.setdefault(unit_id, []).append(HeadRow(person_id, role, display_name or username, valid_from,
                                                       valid_to))
        return {k: tuple(v) for k, v in out.items()}

    return _require(city_id).part("heads", load)


@functools.cache
def _library() -> deadlines.WorkCalendar:
    return deadlines.library_calendar()


def work_calendar(city_id: int) -> deadlines.WorkCalendar:
    """The official calendar from the library, overlaid with the days and years the bureau entered."""

    def load() -> deadlines.WorkCalendar:
        from cogov.cases.models import CalendarDay, CalendarYear

        days = list(CalendarDay.objects.filter(city_id=city_id).values_list("date", "is_workday"))
        years = list(CalendarYear.objects.filter(city_id=city_id).values_list("year", flat=True))
        if not days and not years:
            return _library()
        return _library().merged(days_off=[d for d, w in days if not w], extra_workdays=[d for d, w in days if w],
                                 years=years)

    snap = _snapshot(city_id)
    return snap.part("calendar", load) if snap is not None else _library()


def endpoints(city_id: int) -> tuple[EndpointRow, ...]:
    """The city's active notification endpoints."""

    def load() -> tuple[EndpointRow, ...]:
        from cogov.notify.models import Endpoint

        return tuple(
            EndpointRow(id=pk, channel=channel, target=target, actions=tuple(actions or ()), scope_path=path)
            for pk, channel, target, actions, path in Endpoint.objects.filter(city_id=city_id, active=True)
            .order_by("id").values_list("id", "channel", "target", "actions", "scope_unit__path")
        )

    return _require(city_id).part("endpoints", load)


def forget(city_id: int | None = None) -> None:
    """Drop this process's snapshot of a city (all cities when None)."""
    global _generation, _default
    with _lock:
        _generation += 1
        if city_id is None:
            _snapshots.clear()
            _default = None
        else:
            _snapshots.pop(city_id, None)


def _forget_after_commit(city_id: int) -> Callable[[], None]:
    def forget_city() -> None:
        forget(city_id)

    forget_city.cogov_config_city = city_id  # type: ignore[attr-defined]
    return forget_city


def config_changed(city_id: int | None) -> None:
    """Mark a city's configuration changed: bump its ``config_version`` (every process re-reads), forget this
    process's snapshot now and again at commit. One bump per city and transaction is enough."""
    if city_id is None:
        forget()
        return
    forget(city_id)
    conn = transaction.get_connection()
    # already bumped in this transaction (and not rolled back: a savepoint's rollback drops its callbacks)
    if conn.in_atomic_block and any(getattr(func, "cogov_config_city", None) == city_id
                                    for _sids, func, _robust in conn.run_on_commit):
        return
    from cogov.geo.models import City

    City.objects.filter(pk=city_id).update(config_version=F("config_version") + 1)
    transaction.on_commit(_forget_after_commit(city_id))


# --- invalidation by model signals (connected in CasesConfig.ready) ----------------------------------------


def _city_of(instance) -> int | None:
    from cogov.cases.models import Category, CategoryLimit

    if isinstance(instance, CategoryLimit):
        return Category.objects.filter(pk=instance.category_id).values_list("city_id", flat=True).first()
    return getattr(instance, "city_id", None)


def _on_change(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:  # loaddata: no writes of ours in the middle of a fixture
        forget()
        return
    config_changed(_city_of(instance))


def _on_area_change(sender, instance, action: str, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        config_changed(getattr(instance, "city_id", None))


#: The fields of a person that the cache holds (a head's name): other saves (last_login at every sign-in) are ignored.
_PERSON_FIELDS = frozenset({"display_name", "username"})


def _on_person_change(sender, instance, update_fields=None, raw: bool = False, **kwargs) -> None:
    if raw or (update_fields is not None and not (_PERSON_FIELDS & set(update_fields))):
        return
    from cogov.people.models import RoleAssignment

    for city_id in set(RoleAssignment.objects.filter(person_id=instance.pk).values_list("city_id", flat=True)):
        config_changed(city_id)


def _on_city_change(sender, instance, **kwargs) -> None:
    forget()  # a city made, renamed or removed: the default city may be another one now


def _on_setting_change(setting: str, **kwargs) -> None:
    if setting in ("COGOV_DEFAULT_CITY", "COGOV_CONFIG_CHECK_SECONDS"):
        forget()


def connect_signals() -> None:
    """Invalidate on every ORM save and delete of a cached table (the admin's edits among them)."""
    from django.core.signals import setting_changed
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from cogov.cases.models import CalendarDay, CalendarYear, Category, CategoryLimit
    from cogov.geo.models import City, Unit
    from cogov.notify.models import Endpoint
    from cogov.people.models import Person, RoleAssignment, ServiceUnit

    for model in (Category, CategoryLimit, CalendarDay, CalendarYear, ServiceUnit, Endpoint, Unit, RoleAssignment):
        post_save.connect(_on_change, sender=model, dispatch_uid=f"cogov-config-save-{model._meta.label}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"cogov-config-delete-{model._meta.label}")
    m2m_changed.connect(_on_area_change, sender=ServiceUnit.service_area.through, dispatch_uid="cogov-config-area")
    post_save.connect(_on_person_change, sender=Person, dispatch_uid="cogov-config-person-save")
    post_save.connect(_on_city_change, sender=City, dispatch_uid="cogov-config-city-save")
    post_delete.connect(_on_city_change, sender=City, dispatch_uid="cogov-config-city-delete")
    setting_changed.connect(_on_setting_change, dispatch_uid="cogov-config-settings")
