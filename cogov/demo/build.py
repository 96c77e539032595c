"""The demo city (演示城市): Qingdao's ten districts with heads, professional units and a year of cases.

``cogov demo`` calls ``demo_build`` once per data directory: the first start builds the city in one transaction
(about a minute at full scale), later starts see the cases and return at once. ``--rebuild`` deletes every row of
the demo city first. The territory comes from ``geography.py``, the history from ``history.py``; people,
professional units and the logins printed for the demo are made here. Deterministic for a seed and a day.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, Subquery
from tqdm import tqdm

from cogov import clock
from cogov.cases import catalog
from cogov.cases.models import Case, CaseEvent, CaseFollow, Reporter
from cogov.cases.services import case_numbers_set, categories_load
from cogov.demo import history
from cogov.demo.geography import build_geography
from cogov.geo.models import City, Unit
from cogov.geo.services import city_ensure, units_import
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.services import person_create_admin

CITY_CODE, CITY_NAME = "3702", "青岛市"
#: One password for every demo account (it is a demo: the logins are printed).
DEMO_PASSWORD = "demo2026"
#: Cases in a year at scale 1.0 (plus the weekly return of small ads and the duplicates).
CASES_PER_YEAR = 20_000
#: Citizens with an account at scale 1.0.
CITIZENS = 2_400
#: The old town and the busy districts: more reports per station, the hot spots.
URBAN = ("370202", "370203", "370213", "370212")
#: Units that are often late, so that escalations to the sub-district and the district happen.
SLOW_UNITS = (("370213", "sanitation"), ("370211", "enforcement"))
#: Professional units of each district: (code suffix, name pattern; {d} is the district's short name).
DISTRICT_UNITS = {
    "water": ("WAT", "青岛水务集团{d}营业所"),
    "gas": ("GAS", "青岛能源泰能燃气{d}服务站"),
    "heating": ("HEA", "青岛能源热电{d}供热服务中心"),
    "municipal": ("MUN", "{D}市政设施维护中心"),
    "greening": ("GRN", "{D}园林绿化服务中心"),
    "sanitation": ("SAN", "{D}环卫所"),
    "enforcement": ("ENF", "{D}综合行政执法局"),
    "telecom": ("TEL", "中国联通青岛{d}分公司"),
    "power": ("POW", "国网青岛供电公司{d}供电中心"),
}
PROPERTY_STEMS = (
    "海信", "鲁信", "青特", "天泰", "万科", "保利", "绿城", "中海", "华润", "金地", "海尔", "颐和", "银盛泰", "德泰", "城建",
    "国信", "福瀛", "海湾", "瑞源", "安泰", "康居", "和泰", "同和", "嘉和", "惠康", "润德", "宏达", "恒信", "百合", "金岭", "泰和",
    "德馨", "温馨", "宜居", "明德", "永安", "兴华", "聚福", "佳和", "诚信",
)
#: Courtyards without a property company (老旧小区): the territory handles their problems.
NO_PROPERTY_SHARE = 0.12


def demo_build(*, rebuild: bool = False, seed: int = 2026, scale: float = 1.0, progress: bool = True) -> dict:
    """Build the demo city once in the configured database and return counts.

    When the city already has cases it is left as it is (``built`` is False) unless ``rebuild``: then every
    row of the demo city is deleted first, in the same transaction as the new build.
    """
    started = time.perf_counter()
    city = City.objects.filter(code=CITY_CODE).first()
    if city is not None and not rebuild and Case.objects.filter(city=city).exists():
        counts = _counts(city) | {"built": False, "seconds": round(time.perf_counter() - started, 2)}
        if progress:
            print(f"演示城市已存在：{counts['cases']} 件案件（重建请加 --rebuild）", flush=True)
        return counts
    now = clock.now()
    with transaction.atomic():
        if city is not None:
            _delete_city_rows(city)
        city = city_ensure(code=CITY_CODE, name=CITY_NAME)
        _territory(city, seed=seed, scale=scale, progress=progress)
        categories_load(city=city, specs=catalog.national() + catalog.city_extension())
        units = {u["code"]: u for u in Unit.objects.filter(city=city).values("id", "kind", "code", "name", "path",
                                                                               "parent_id", "geometry")}
        rng = np.random.default_rng([seed, 3])
        since = (now.astimezone(clock.LOCAL_TZ) - dt.timedelta(days=425)).replace(hour=0, minute=0, second=0,
                                                                                  microsecond=0)
        service_units = _service_units(city, units, rng)
        citizens = _people(city, units, service_units, rng, scale=scale, since=since, progress=progress)
        person_create_admin(username="admin", password=DEMO_PASSWORD, city_code=CITY_CODE)
        skipped = _history(city, citizens, seed=seed, scale=scale, now=now, progress=progress)
    counts = _counts(city) | {"built": True, "skipped_actions": skipped,
                              "seconds": round(time.perf_counter() - started, 1)}
    if progress:
        print(f"演示城市已建成：{counts['units']} 个辖区单元、{counts['service_units']} 个专业单位、"
              f"{counts['people']} 人、{counts['cases']} 件案件（{counts['events']} 条事件），"
              f"用时 {counts['seconds']} 秒" + (f"；{skipped} 步不合流程被跳过" if skipped else ""), flush=True)
    return counts


def _counts(city: City) -> dict:
    return {
        "units": Unit.objects.filter(city=city).count(),
        "categories": city.categories.count(),
        "service_units": ServiceUnit.objects.filter(city=city).count(),
        "people": Person.objects.filter(city=city).count(),
        "assignments": RoleAssignment.objects.filter(city=city).count(),
        "cases": Case.objects.filter(city=city).count(),
        "events": CaseEvent.objects.filter(city=city).count(),
        "follows": CaseFollow.objects.filter(city=city).count(),
    }


def _delete_city_rows(city: City) -> None:
    """Delete every row of the city (not the City row): each table with a foreign key to City, and before it
    the rows of other tables pointing at those rows (M2M links, tokens, admin log …). Foreign keys are
    checked at commit on both databases, so the order inside the transaction does not matter."""
    owned = [m for m in apps.get_models() if not m._meta.proxy and m is not City and any(
        f.many_to_one and f.related_model is City for f in m._meta.concrete_fields)]
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        for model in owned:
            city_cols = [f.column for f in model._meta.concrete_fields if f.many_to_one and f.related_model is City]
            where = " OR ".join(f"{qn(c)} = %s" for c in city_cols)
            ids = f"SELECT {qn(model._meta.pk.column)} FROM {qn(model._meta.db_table)} WHERE {where}"
            for other in apps.get_models(include_auto_created=True):
                if other in owned or other._meta.proxy:
                    continue
                for f in other._meta.concrete_fields:
                    if (f.many_to_one or f.one_to_one) and f.related_model is model:
                        cur.execute(f"DELETE FROM {qn(other._meta.db_table)} WHERE {qn(f.column)} IN ({ids})",
                                    [city.pk] * len(city_cols))
        for model in owned:
            city_cols = [f.column for f in model._meta.concrete_fields if f.many_to_one and f.related_model is City]
            where = " OR ".join(f"{qn(c)} = %s" for c in city_cols)
            cur.execute(f"DELETE FROM {qn(model._meta.db_table)} WHERE {where}", [city.pk] * len(city_cols))


def _territory(city: City, *, seed: int, scale: float, progress: bool) -> None:
    """Qingdao's units from the geography generator, imported all or nothing."""
    bar = tqdm(desc="辖区 units", unit="街道", disable=not progress)

    def report(step: str, done: int, total: int) -> None:
        if step == "subdistricts":
            bar.total = total
            bar.update(done - bar.n)

    specs = build_geography(seed=seed, scale=scale, progress=report)
    bar.close()
    result = units_import(city=city, rows=[{"kind": u.kind, "code": u.code, "name": u.name,
                                            "parent": u.parent_code or "", "geometry": u.geometry} for u in specs])
    if not result.ok:
        raise RuntimeError(f"demo geography rejected: {result.rejected[:5]}")


def _short(name: str) -> str:
    """市南区 → 市南, 胶州市 → 胶州."""
    return name[:-1] if len(name) > 2 and name[-1] in "区市县" else name


def _service_units(city: City, units: dict[str, dict], rng: np.random.Generator) -> list[dict]:
    """Nine professional units per district, and property companies over groups of courtyards."""
    made: list[tuple[ServiceUnit, list[int]]] = []
    districts = sorted((u for u in units.values() if u["kind"] == "district"), key=lambda u: u["code"])
    for d in districts:
        for duty, (suffix, pattern) in DISTRICT_UNITS.items():
            su = ServiceUnit(city=city, code=f"{d['code']}-{suffix}", duty_type=duty,
                             name=pattern.format(d=_short(d["name"]), D=d["name"]))
            made.append((su, [d["id"]]))
    yards_by_district: dict[str, list[dict]] = defaultdict(list)
    for u in sorted(units.values(), key=lambda u: u["code"]):
        if u["kind"] == "courtyard":
            yards_by_district[u["code"][:6]].append(u)
    for d in districts:
        yards = yards_by_district[d["code"]]
        stems = [PROPERTY_STEMS[i] for i in rng.permutation(len(PROPERTY_STEMS))]
        i = n = 0
        while i < len(yards):
            size = int(rng.integers(3, 9))
            group = yards[i: i + size]
            i += size
            if rng.random() < NO_PROPERTY_SHARE:
                continue
            stem = stems[n % len(stems)] + ("" if n < len(stems) else str(n // len(stems) + 1))
            n += 1
            su = ServiceUnit(city=city, code=f"{d['code']}-P{n:03d}", duty_type="property",
                             name=f"{stem}物业{_short(d['name'])}服务中心")
            made.append((su, [y["id"] for y in group]))
    ServiceUnit.objects.bulk_create([su for su, _ in made], batch_size=500)
    Through = ServiceUnit.service_area.through
    Through.objects.bulk_create([Through(serviceunit_id=su.pk, unit_id=uid) for su, area in made for uid in area],
                                batch_size=2000)
    return [{"id": su.pk, "code": su.code, "duty": su.duty_type, "name": su.name} for su, _ in made]


def _people(city: City, units: dict[str, dict], service_units: list[dict], rng: np.random.Generator, *,
            scale: float, since: dt.datetime, progress: bool) -> dict[int, tuple[int, str, str, str]]:
    """Heads, unit members, supervisors and citizens; one password hash shared (PBKDF2 once, not 10,000 times).

    The RoleAssignment rows are those ``role_assign`` writes (city, person, role, scope unit and its path, or
    the professional unit), bulk-inserted. Returns the citizens: id → (home station, name, phone, kind).
    """
    password = make_password(DEMO_PASSWORD)
    wanted: list[tuple[str, str, Any]] = []  # (username, role, scope unit dict | service unit dict | None)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for u in sorted(units.values(), key=lambda u: u["code"]):
        by_kind[u["kind"]].append(u)
    wanted.append(("city-supervisor", "city_supervisor", None))
    for d in by_kind["district"]:
        wanted += [(f"district-{d['code']}-{i}", "district_supervisor", d) for i in (1, 2)]
    for s in by_kind["subdistrict"]:
        wanted.append((f"subdistrict-{s['code']}", "subdistrict_supervisor", s))
    for s in by_kind["station"]:
        wanted.append((f"station-{s['code']}", "station_head", s))
    for a in by_kind["area"]:
        wanted.append((f"area-{a['code']}", "area_head", a))
    for s in by_kind["street"]:
        wanted.append((f"street-{s['code']}", "street_head", s))
    for c in by_kind["courtyard"]:
        wanted.append((f"building-{c['code']}", "building_head", c))
    for b in by_kind["building"]:
        if rng.random() < 1 / 3:
            wanted.append((f"building-{b['code']}", "building_head", b))
    for su in service_units:
        crew = int(rng.integers(1, 4)) if su["duty"] != "property" else int(rng.integers(1, 3))
        wanted.append((f"{su['code'].lower()}-dispatcher", "unit_dispatcher", su))
        wanted += [(f"{su['code'].lower()}-crew{i}", "unit_crew", su) for i in range(1, crew + 1)]
    stations = by_kind["station"]
    weight = history.station_weights([s["code"][:6] for s in stations],
                                     [shapely.from_wkb(bytes(s["geometry"])).area for s in stations])
    n_citizens = max(30, round(CITIZENS * scale))
    homes = rng.choice(len(stations), size=n_citizens, p=weight)
    kinds = rng.choice(["citizen", "volunteer", "merchant"], size=n_citizens, p=[0.80, 0.11, 0.09])
    total = len(wanted) + n_citizens
    names = [history.person_name(rng) for _ in range(total)]
    phones = history.phones(rng, total)
    people = []
    for i, (username, _role, _scope) in enumerate(wanted):
        people.append(Person(username=username, password=password, city=city, display_name=names[i],
                             phone=phones[i], date_joined=since))
    for j in range(n_citizens):
        people.append(Person(username=f"citizen-{j + 1:05d}", password=password, city=city,
                             display_name=names[len(wanted) + j], phone=phones[len(wanted) + j], date_joined=since))
    bar = tqdm(total=len(people), desc="人员 people", unit="人", disable=not progress)
    for start in range(0, len(people), 1000):
        Person.objects.bulk_create(people[start: start + 1000])
        bar.update(len(people[start: start + 1000]))
    bar.close()
    rows = []
    for person, (_username, role, scope) in zip(people, wanted):
        if role in ("unit_dispatcher", "unit_crew"):
            rows.append(RoleAssignment(city=city, person_id=person.pk, role=role, scope_unit=None, scope_path="",
                                       service_unit_id=scope["id"], valid_from=since))
        else:
            rows.append(RoleAssignment(city=city, person_id=person.pk, role=role,
                                       scope_unit_id=scope["id"] if scope else None,
                                       scope_path=scope["path"] if scope else "", service_unit=None,
                                       valid_from=since))
    RoleAssignment.objects.bulk_create(rows, batch_size=2000)
    citizens = {}
    for j, person in enumerate(people[len(wanted):]):
        citizens[person.pk] = (stations[int(homes[j])]["id"], person.display_name, person.phone, str(kinds[j]))
    return citizens


def _history(city: City, citizens: dict, *, seed: int, scale: float, now: dt.datetime, progress: bool) -> int:
    """A year of cases, generated in memory (see history.py) and bulk-inserted; returns skipped actions."""
    facts = history.Facts.load(city.pk, at=now)
    rng = np.random.default_rng([seed, 5])
    territory = history.Territory.load(facts, rng, scale=scale, urban=URBAN)
    people = history.People.load(facts, citizens)
    slow = {people.units_of_district[d][duty] for d, duty in SLOW_UNITS if duty in people.units_of_district.get(d, {})}
    bar = (lambda **kw: tqdm(**kw)) if progress else None
    year = history.Year(facts, territory, people, seed=seed, scale=scale, now=now, slow_units=slow, progress=bar)
    plans = year.plan(round(CASES_PER_YEAR * scale))
    numbers, per_year = [], Counter()
    for plan in plans:
        y = plan.at.astimezone(clock.LOCAL_TZ).year
        per_year[y] += 1
        numbers.append(f"{y}{per_year[y]:07d}")
    first_id = (Case.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    sims = year.play(plans, first_id=first_id, numbers=numbers)
    _write(city, sims, per_year, progress=progress)
    _write_duplicate_labels(plans, year.facts.cases)
    _follow(city, sims, citizens, rng=np.random.default_rng([seed, 9]), now=now)
    return year.skipped


#: Share of the public, accepted cases that other people meet and follow (我也遇到了) on the citizen page,
#: instead of reporting them again: standing problems (a pile stays) more than event-like ones (a car leaves).
FOLLOWED_SHARE = {"standing": 0.05, "event": 0.015}
#: Of the followers, this share is an anonymous browser (a device key), the rest signed-in citizens nearby.
ANONYMOUS_FOLLOWS = 0.3


def _follow(city: City, sims: list[history.CaseSim], citizens: dict, *, rng: np.random.Generator,
            now: dt.datetime) -> int:
    """关注（我也遇到了）: people who met an open public case on the citizen page and followed it — each one a
    confirmed duplicate report (docs/insight.md). 1 follower mostly, a few up to 8; each at any time while the
    case was open after its acceptance (within its first 3 days); signed-in ones live at the case's station when possible.
    Own random stream (``[seed, 9]``): the rest of the history does not move. Returns the number of follows."""
    from cogov.insight.duplicates import is_event_like

    by_station: dict[int, list[int]] = defaultdict(list)
    for pk, (station, *_rest) in citizens.items():
        by_station[station].append(pk)
    everyone = sorted(citizens)
    rows = []
    for s in sims:
        case = s.case
        if case.moderation != "ok" or case.state in ("not_accepted", "merged") or case.accepted_at is None:
            continue
        kind = "event" if is_event_like(s.category.code) else "standing"
        if rng.random() >= FOLLOWED_SHARE[kind]:
            continue
        end = min(x for x in (case.closed_at, case.reported_at + dt.timedelta(days=3), now) if x is not None)
        if end <= case.accepted_at:
            continue
        n = min(8, int(rng.geometric(0.55)))
        pool = by_station.get(case.station_id) or everyone
        people = set()
        for _ in range(n):
            at = case.accepted_at + (end - case.accepted_at) * float(rng.random())
            if rng.random() < ANONYMOUS_FOLLOWS or not pool:
                rows.append(CaseFollow(city=city, case_id=case.pk, device_key=f"demo-{rng.integers(2**62):016x}",
                                       created_at=at))
                continue
            person = pool[int(rng.integers(len(pool)))]
            if person != case.reported_by_id and person not in people:
                people.add(person)
                rows.append(CaseFollow(city=city, case_id=case.pk, person_id=person, created_at=at))
    CaseFollow.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _write_duplicate_labels(plans: list[history.Plan], reported: dict) -> None:
    """The ground truth of the duplicates the story made: ``<data dir>/eval/duplicates.csv`` (UTF-8 with BOM,
    columns 案件编号,重复于 — the later report and the first report of the same problem), for
    ``cogov insight duplicates --eval``."""
    import csv

    from django.conf import settings

    out = Path(settings.DATA_DIR) / "eval" / "duplicates.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["案件编号", "重复于"])
        for plan in plans:
            if plan.duplicate_of is not None and plan.number in reported and plan.duplicate_of.number in reported:
                w.writerow([plan.number, plan.duplicate_of.number])


def _write(city: City, sims: list[history.CaseSim], per_year: Counter, *, progress: bool) -> None:
    """Reporters, cases (with the ids the merge events name), events and the number counters.

    History is imported, not announced: no outbox rows (nobody is to be told of last year's cases).
    """
    reporters = [s.reporter for s in sims if s.reporter is not None]
    Reporter.objects.bulk_create(reporters, batch_size=2000)
    for s in sims:
        if s.reporter is not None:
            s.case.reporter_id = s.reporter.pk
    Case.objects.bulk_create([s.case for s in sims], batch_size=1000)
    events = [e for s in sims for e in s.events]
    bar = tqdm(total=len(events), desc="写入 events", unit="条", disable=not progress)
    for start in range(0, len(events), 5000):
        CaseEvent.objects.bulk_create(events[start: start + 5000])
        bar.update(len(events[start: start + 5000]))
    bar.close()
    # updated_at is an auto_now field: bulk_create stamps the build time; the services leave the last change's
    Case.objects.filter(city=city).update(updated_at=Subquery(
        CaseEvent.objects.filter(case=OuterRef("pk")).order_by("-seq").values("at")[:1]))
    for year, n in per_year.items():
        case_numbers_set(city_id=city.pk, year=year, value=n)
    # the ids were given (merge events name them): move PostgreSQL's sequence past them
    with connection.cursor() as cur:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Case]):
            cur.execute(sql)


def demo_logins() -> list[tuple[str, str, str, str]]:
    """One login of each role: (role 中文 English, username, password, where), around 市南区's busiest station."""
    city = City.objects.get(code=CITY_CODE)
    district = Unit.objects.get(city=city, code="370202")
    busiest = (Case.objects.filter(city=city, district=district).values("station_id")
               .annotate(n=Count("id")).order_by("-n", "station_id").first())
    station = Unit.objects.get(pk=busiest["station_id"]) if busiest else \
        Unit.objects.filter(city=city, kind="station", path__startswith=district.path).order_by("code").first()
    subdistrict = Unit.objects.get(pk=station.parent.parent_id)
    located = Counter(uid for units in Case.objects.filter(city=city, station=station).values_list("units", flat=True)
                      for kind, uid in units.items() if kind in ("courtyard", "street", "area"))

    def holder(role: str, **where) -> RoleAssignment:
        return (RoleAssignment.objects.filter(city=city, role=role, valid_to__isnull=True, **where)
                .select_related("person", "scope_unit", "service_unit").order_by("person__username").first())

    def busiest_head(kind: str, role: str) -> RoleAssignment:
        choices = Unit.objects.filter(city=city, kind=kind, path__startswith=station.path).values_list("id", flat=True)
        for uid in sorted(choices, key=lambda u: (-located[u], u)):
            ra = holder(role, scope_unit_id=uid)
            if ra is not None:
                return ra
        return holder(role)

    sanitation = ServiceUnit.objects.get(city=city, code="370202-SAN")
    reporter = (Case.objects.filter(city=city, station=station, source="citizen", reported_by__isnull=False)
                .values("reported_by_id").annotate(n=Count("id")).order_by("-n", "reported_by_id").first())
    citizen = Person.objects.get(pk=reporter["reported_by_id"]) if reporter else \
        Person.objects.filter(city=city, username__startswith="citizen-").order_by("username").first()
    rows = [
        ("系统管理员 Admin", Person.objects.get(username="admin"), "/admin/"),
        ("市级监管员 City supervisor", holder("city_supervisor").person, city.name),
        ("区级监管员 District supervisor", holder("district_supervisor", scope_unit=district).person, district.name),
        ("街道监管员 Sub-district supervisor", holder("subdistrict_supervisor", scope_unit=subdistrict).person,
         subdistrict.name),
        ("站长 Station head", holder("station_head", scope_unit=station).person, station.name),
    ]
    for label, kind, role in (("楼院长 Building head", "courtyard", "building_head"),
                              ("街巷长 Street head", "street", "street_head"),
                              ("区片长 Area head", "area", "area_head")):
        ra = busiest_head(kind, role)
        rows.append((label, ra.person, ra.scope_unit.name))
    rows += [
        ("专业单位派单员 Unit dispatcher", holder("unit_dispatcher", service_unit=sanitation).person, sanitation.name),
        ("专业单位处置人员 Unit crew", holder("unit_crew", service_unit=sanitation).person, sanitation.name),
        ("市民 Citizen", citizen, f"{citizen.phone}"),
    ]
    return [(label, person.username, DEMO_PASSWORD, f"{where}（{person.display_name}）") for label, person, where in rows]
