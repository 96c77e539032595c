"""The analytics store (cogov/insight/store.py): the small city's cases, acted through the services, copied into
DuckDB with local times and the unit of each step; exported as Parquet and read back unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from cogov import clock
from cogov.cases.models import Case, CaseEvent
from cogov.cases.services import case_act, case_follow, case_report
from cogov.cli import main
from cogov.insight import store

from tests.conftest import IN_AREA_ONLY, IN_B_COMMUNITY, ON_STREET, UNITS, rect

LOCAL = clock.LOCAL_TZ


def local(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(LOCAL).replace(tzinfo=None)


class Story:
    """Who does what, with the clock moving on between steps."""

    def __init__(self, city):
        self.c = city

    def later(self, **delta) -> None:
        clock.freeze(clock.now() + dt.timedelta(**delta))

    def report(self, code: str, point, **kw) -> Case:
        cat = self.c.categories[code]
        return case_report(city=self.c.city, actor=self.c.actor("citizen"), category_id=cat.pk, lon=point[0],
                           lat=point[1], description="测试", **kw)

    def act(self, who: str, case: Case, action: str, **data) -> Case:
        self.later(minutes=37)
        return case_act(city_id=self.c.city.pk, number=case.number, actor=self.c.actor(who), action=action,
                        data=data)


@pytest.fixture
def story(small_city):
    """Three cases of the small city: one closed, one returned, redispatched and reworked, one reported just
    after midnight Beijing time (still the day before in UTC)."""
    s = Story(small_city)
    san, enf = small_city.service_units["sanitation"].pk, small_city.service_units["enforcement"].pk
    closed = s.report("Q0101", ON_STREET)
    s.act("station_a", closed, "accept")
    s.act("station_a", closed, "dispatch", unit=san)
    s.act("sanitation_crew", closed, "acknowledge")
    s.act("sanitation_crew", closed, "handle", note="已清理")
    s.act("citizen", closed, "verify")
    s.act("station_a", closed, "close")

    s.later(hours=3)
    bounced = s.report("06010", IN_AREA_ONLY, urgency="urgent")
    s.act("station_a", bounced, "accept")
    s.act("station_a", bounced, "dispatch", unit=enf, reason="涉及占道经营")
    s.act("enforcement_crew", bounced, "return", reason="属环卫职责")
    s.act("station_a", bounced, "dispatch", unit=san)
    s.act("sanitation_crew", bounced, "acknowledge")
    s.act("sanitation_crew", bounced, "handle", note="已处理")
    s.act("citizen", bounced, "rework", reason="没扫干净")
    s.act("sanitation_crew", bounced, "handle", note="再次处理")

    s.later(minutes=5)
    case_follow(case_id=bounced.pk, person_id=small_city.people["citizen2"].pk)  # 我也遇到了
    clock.freeze(dt.datetime(2026, 11, 24, 16, 5, tzinfo=dt.UTC))  # 2026-11-25 00:05 in Qingdao
    midnight = s.report("Q0101", IN_B_COMMUNITY)
    case_follow(case_id=midnight.pk, person_id=None, device_key="browser-1")
    return {"closed": closed.number, "bounced": bounced.number, "midnight": midnight.number}


def other_city_case(small_city):
    """A case of another city in the same database: never part of this city's store."""
    from cogov.cases import catalog
    from cogov.cases.models import Category
    from cogov.cases.services import categories_load
    from cogov.geo import selectors
    from cogov.geo.services import city_ensure, units_import

    other = city_ensure(code="3703", name="淄博市")
    units_import(city=other, rows=[{"kind": "district", "code": "370302", "name": "淄川区", "parent": "",
                                    "geometry": rect(120.30, 36.00, 120.40, 36.10)}])
    categories_load(city=other, specs=catalog.city_extension())
    selectors.forget_index()
    cat = Category.objects.filter(city=other).first()
    return case_report(city=other, actor=None, category_id=cat.pk, lon=ON_STREET[0], lat=ON_STREET[1],
                       description="别的城市")


def rows(con, table: str) -> list[tuple]:
    key = {"events": "case_id, seq", "follows": 'case_id, "at"'}.get(table, "id")
    return con.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()


def test_load_copies_the_citys_cases_with_local_times_and_units(small_city, story):
    from cogov.people.models import ServiceUnit

    c = small_city
    other = other_city_case(c)
    # text that a CSV must quote survives the trip: comma, quote, line break, empty
    odd = ServiceUnit.objects.create(city=c.city, code='Q,"1"', name='环卫所,"东区"\n二队', duty_type="")
    con = store.open_store(city_id=c.city.pk)
    counts = store.load(con, city_id=c.city.pk)  # loading again replaces, never doubles
    cases = Case.objects.filter(city=c.city).select_related("category").order_by("pk")
    assert counts == {"cases": 3, "units": len(UNITS), "service_units": 4,
                      "events": CaseEvent.objects.filter(city=c.city).count(), "follows": 2}
    assert counts["events"] == 7 + 9 + 1
    assert con.execute("SELECT count(*) FROM cases WHERE id = ?", [other.pk]).fetchone()[0] == 0

    # the columns are the schema's, in its order
    names = [r[0] for r in con.execute("DESCRIBE cases").fetchall()]
    assert names[:3] == ["id", "city_id", "number"] and names[-1] == "unit_path" and "closed_at" in names

    times = ("reported_at", "accepted_at", "dispatched_at", "acknowledged_at", "handled_at", "closed_at",
             "escalated_at", "first_response_due", "handling_due")
    got = {r["number"]: r for r in (dict(zip(names, row)) for row in rows(con, "cases"))}
    for case in cases:
        row = got[case.number]
        assert row["id"] == case.pk and row["city_id"] == c.city.pk
        assert (row["category_id"], row["category_code"], row["category_name"], row["category_kind"],
                row["major_code"]) == (case.category_id, case.category.code, case.category.name,
                                       case.category.kind, case.category.major_code)
        assert (row["lon"], row["lat"], row["urgency"], row["source"]) == (case.lon, case.lat, case.urgency,
                                                                           case.source)
        assert (row["district_id"], row["subdistrict_id"], row["community_id"], row["station_id"]) == (
            case.district_id, case.subdistrict_id, case.community_id, case.station_id)
        assert (row["state"], row["level"], row["max_level"], row["handler_unit_id"]) == (
            case.state, case.level, case.max_level, case.handler_unit_id)
        assert (row["rework_count"], row["return_count"], row["extension_count"], row["rating"]) == (
            case.rework_count, case.return_count, case.extension_count, case.rating)
        assert (row["merged_into_id"], row["moderation"], row["unit_path"]) == (None, "ok", case.unit_path)
        for t in times:
            assert row[t] == local(getattr(case, t)), t

    closed, bounced, midnight = got[story["closed"]], got[story["bounced"]], got[story["midnight"]]
    # the frozen clock: 2026-11-24 02:00 UTC is 10:00 in Qingdao; each step 37 minutes later
    assert closed["reported_at"] == dt.datetime(2026, 11, 24, 10, 0)
    assert closed["closed_at"] == dt.datetime(2026, 11, 24, 10, 0) + 6 * dt.timedelta(minutes=37)
    assert closed["state"] == "closed" and closed["handler_unit_id"] == c.service_units["sanitation"].pk
    assert bounced["state"] == "handled" and bounced["rework_count"] == 1 and bounced["return_count"] == 1
    assert bounced["urgency"] == "urgent" and bounced["rating"] == ""
    # reported five minutes after midnight in Qingdao: the local day is the 25th (UTC still says the 24th)
    assert midnight["reported_at"] == dt.datetime(2026, 11, 25, 0, 5)
    assert midnight["station_id"] == c.units["37020200100201"].pk and midnight["unit_path"].endswith("/")
    assert midnight["unit_path"].startswith("370202/370202001/370202001002/")

    # follows (我也遇到了): the case and the local time, a signed-in person's and a browser's alike
    assert rows(con, "follows") == sorted([(bounced["id"], bounced["handled_at"] + dt.timedelta(minutes=5)),
                                           (midnight["id"], dt.datetime(2026, 11, 25, 0, 5))])

    # the H3 keys the store carries are the keys spatial.h3_key_sql computes (checked against H3 itself in
    # test_spatial.py::test_sql_cells_equal_h3_point_by_point), so the analyses may read them instead
    from cogov.insight import spatial

    faces = spatial._candidate_faces(*con.execute("SELECT min(lat), max(lat), min(lon), max(lon) FROM cases")
                                     .fetchone())
    for res in store.H3_RESOLUTIONS:
        keys = spatial.h3_key_sql("SELECT id, lat, lon FROM cases", res, faces)
        computed = dict(con.execute(f"SELECT id, _key FROM ({keys})").fetchall())
        assert {r["id"]: r[f"h3_{res}"] for r in got.values()} == computed and None not in computed.values()

    # events: one row per event, local time, and the unit that acts or is addressed
    san, enf = c.service_units["sanitation"].pk, c.service_units["enforcement"].pk
    ev = con.execute("SELECT action, role, to_state, unit_id FROM events WHERE case_id = ? ORDER BY seq",
                     [bounced["id"]]).fetchall()
    assert ev == [("report", "citizen", "reported", None), ("accept", "station_head", "accepted", None),
                  ("dispatch", "station_head", "dispatched", enf), ("return", "unit_crew", "accepted", enf),
                  ("dispatch", "station_head", "dispatched", san), ("acknowledge", "unit_crew", "acknowledged", san),
                  ("handle", "unit_crew", "handled", san), ("rework", "reporter", "acknowledged", san),
                  ("handle", "unit_crew", "handled", san)]
    ev = con.execute("SELECT action, unit_id FROM events WHERE case_id = ? ORDER BY seq", [closed["id"]]).fetchall()
    assert ev == [("report", None), ("accept", None), ("dispatch", san), ("acknowledge", san), ("handle", san),
                  ("verify", None), ("close", None)]
    django_events = CaseEvent.objects.filter(city=c.city).order_by("case_id", "seq")
    assert [(r[0], r[1], r[2], r[3]) for r in rows(con, "events")] == [
        (e.case_id, e.seq, e.action, local(e.at)) for e in django_events]

    # geo units and professional units as they are
    units = {r[0]: r for r in rows(con, "units")}
    for code, unit in c.units.items():
        assert units[unit.pk] == (unit.pk, c.city.pk, unit.kind, code, unit.name, unit.parent_id, unit.path)
    assert rows(con, "service_units") == sorted(
        (u.pk, c.city.pk, u.code, u.name, u.duty_type) for u in [*c.service_units.values(), odd])
    con.close()


def test_parquet_export_reads_back_equal(small_city, story, tmp_path):
    con = store.open_store(city_id=small_city.city.pk)
    files = store.export_parquet(con, tmp_path / "export")
    assert sorted(f.name for f in files) == sorted(f"{t}.parquet" for t in store.TABLES)
    for materialize in (False, True):
        back = store.open_parquet(tmp_path / "export", materialize=materialize)
        for table in store.TABLES:
            assert rows(back, table) == rows(con, table), table
            assert back.execute(f"DESCRIBE {table}").fetchall()[0][:2] == con.execute(
                f"DESCRIBE {table}").fetchall()[0][:2]
        back.close()
    (tmp_path / "export" / "follows.parquet").unlink()  # an export made before follows were stored
    for materialize in (False, True):
        older = store.open_parquet(tmp_path / "export", materialize=materialize)
        assert rows(older, "follows") == [] and rows(older, "cases") == rows(con, "cases")
        older.close()
    (tmp_path / "export" / "events.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="events.parquet"):
        store.open_parquet(tmp_path / "export")


def test_an_empty_city_loads_empty_tables(small_city):
    con = store.open_store(city_id=small_city.city.pk)
    assert store.load(con, city_id=small_city.city.pk)["cases"] == 0
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == len(UNITS)


def cogov(*argv: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    return e.value.code


def test_cli_export(small_city, story, tmp_path, capsys):
    out = tmp_path / "导出"
    assert cogov("insight", "export", "--out", str(out), "--city", "3702") == 0
    printed = capsys.readouterr().out
    assert "3 件案件" in printed and str(out) in printed
    back = store.open_parquet(out)
    assert back.execute("SELECT count(*) FROM cases").fetchone()[0] == 3
    assert sorted(back.execute("SELECT number FROM cases").fetchall()) == sorted((n,) for n in story.values())

    assert cogov("insight", "export", "--out", str(tmp_path / "x"), "--city", "9999") == 2
    assert "城市 9999 不存在" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert cogov("insight", "export", "--out", str(tmp_path / "file"), "--city", "3702") == 2
    assert "不是目录" in capsys.readouterr().err


def test_load_outside_a_transaction_reads_one_snapshot_and_leaves_none_open(small_city, transactional_db):
    """As the server and the CLI call it: no transaction open, so load opens a read-only one and ends it."""
    from django.db import connection

    s = Story(small_city)
    s.report("Q0101", ON_STREET)
    assert not connection.in_atomic_block
    con = store.open_store(city_id=small_city.city.pk)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 1
    raw = connection.connection
    if connection.vendor == "postgresql":
        import psycopg

        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    else:
        assert not raw.in_transaction
    # and the database takes writes again at once
    s.report("Q0101", IN_B_COMMUNITY)
    assert store.load(con, city_id=small_city.city.pk)["cases"] == 2
