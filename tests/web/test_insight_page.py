"""数据分析 page: a supervisor sees the analyses of his area only, the month and query are checked, other roles
are turned away, and the monthly bulletin downloads as a real XLSX and PDF of the area."""

from __future__ import annotations

import io

import h3
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from cogov.insight import live
from tests.conftest import IN_B_COMMUNITY, IN_COURTYARD, ON_STREET
from tests.web.test_dashboards import IN_NORTH, at, city, dispatch_to, report, run  # noqa: F401 (fixture)

URL = "/work/insight/"


@pytest.fixture(autouse=True)
def fresh_store():
    """Each test's database is new: so is the analytics store a server process keeps."""
    live.forget()
    yield
    live.forget()


@pytest.fixture
def november(city):
    """Cases of 24 November 2026 in 市南区 (handled by the sanitation unit) and one in 市北区; now the 26th."""
    c = city
    mine = []
    for point in (ON_STREET, ON_STREET, IN_COURTYARD, IN_B_COMMUNITY):
        case = dispatch_to(c, report(c, point), station="station_a" if point != IN_B_COMMUNITY else "station_b")
        mine.append(run(c, case, [("sanitation_crew", "acknowledge", {}),
                                  ("sanitation_crew", "handle", {"note": "已清理"})]))
    north = report(c, IN_NORTH)
    at(2026, 11, 26, 10, 0)
    return c, mine, north


def page(client, c, who, query=""):
    client.force_login(c.people[who])
    return client.get(URL + query)


def test_supervisor_sees_the_analyses_of_his_area_only(client, november):
    c, mine, north = november
    r = page(client, c, "subdistrict_sup", "?month=2026-11")
    assert r.status_code == 200
    html = r.content.decode()
    for section in ("table-hot", "chart-hours", "table-recurrence", "table-warnings", "table-patrol"):
        assert section in html
    stations = {row["name"] for row in r.context["ranking"]["station"]}
    assert stations and "华阳路社区城市治理服务站" not in stations
    units = {row["name"]: row for row in r.context["ranking"]["unit"]}
    assert units["市南区环卫所"]["cases"] == 4
    # the default period is the last 90 days (today included): the four cases of his area
    period = r.context["period"]
    assert period.kind == "90d" and (period.last_day - period.first_day).days == 89
    assert sum(n for _code, _name, n in r.context["categories"]) == 4
    # a category filter: the sections it does not apply to say so
    code = r.context["categories"][0][0]
    assert "不受上面的类别筛选影响" not in html
    filtered = page(client, c, "subdistrict_sup", f"?month=2026-11&category={code}").content.decode()
    assert filtered.count("不受上面的类别筛选影响") == 2
    # the city supervisor counts the north case too
    everyone = page(client, c, "city_sup", "?period=custom&from=2026-11-01&to=2026-11-30&month=2026-11")
    assert sum(n for _code, _name, n in everyone.context["categories"]) == 5
    assert sum(n for _code, _name, n in page(client, c, "subdistrict_sup",
               "?period=custom&from=2026-11-01&to=2026-11-30").context["categories"]) == 4


def test_bad_queries_are_told_not_failed(client, november):
    c, _mine, _north = november
    for query in ("?month=2026-13", "?month=abc", "?month=2026-12", "?period=custom&from=2026-12-01&to=x",
                  "?category=%00bad", "?under=370203"):
        r = page(client, c, "subdistrict_sup", query)
        assert r.status_code in (200, 403), query
    assert "月份格式" in page(client, c, "subdistrict_sup", "?month=abc").content.decode()
    assert page(client, c, "subdistrict_sup", "?under=370203").status_code == 403  # 市北区 is not his
    # a month the evaluation cannot take (before 1900) is told on the page and not found as a bulletin
    assert "月份超出范围" in page(client, c, "subdistrict_sup", "?month=1899-12").content.decode()
    assert client.get(URL + "bulletin/1899-12.xlsx").status_code == 404


def test_units_are_sent_to_their_console_and_citizens_to_sign_in(client, november):
    c, _mine, _north = november
    r = page(client, c, "sanitation_crew")
    assert r.status_code == 302 and r["Location"] == "/work/unit/"
    client.logout()
    assert client.get(URL).status_code == 302


def test_bulletin_downloads_as_xlsx_and_pdf_of_the_area(client, november):
    c, _mine, _north = november
    client.force_login(c.people["subdistrict_sup"])
    r = client.get(URL + "bulletin/2026-11.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    text = " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "市南区环卫所" in text and "华阳路" not in text
    r = client.get(URL + "bulletin/2026-11.pdf")
    assert r.status_code == 200
    pdf = PdfReader(io.BytesIO(r.content))
    assert "2026" in "".join(p.extract_text() for p in pdf.pages)
    assert client.get(URL + "bulletin/2026-11.doc").status_code == 404
    assert client.get(URL + "bulletin/2026-12.pdf").status_code == 404
    assert client.get(URL + "bulletin/2026-1x.pdf").status_code == 404


def test_follows_and_merges_count_as_confirmed_duplicates(client, november):
    """A follow on the citizen page (我也遇到了) is a confirmed duplicate report, as is a merge: the page counts both
    for the supervisor's area only (the 市北区 case's follow stays outside)."""
    from cogov.cases import services

    c, mine, north = november
    services.case_follow(case_id=mine[0].pk, person_id=c.people["citizen2"].pk)
    services.case_follow(case_id=mine[0].pk, person_id=None, device_key="browser-1")
    services.case_follow(case_id=mine[3].pk, person_id=None, device_key="browser-2")
    services.case_follow(case_id=north.pk, person_id=c.people["citizen2"].pk)
    r = page(client, c, "subdistrict_sup", "?month=2026-11")
    total = r.context["confirmed_total"]
    assert (total["reports"], total["merged"], total["follows"], total["confirmed"]) == (4, 0, 3, 3)
    assert total["share"] == pytest.approx(3 / 7)
    rows = {row["name"]: row["follows"] for row in r.context["confirmed_rows"]}
    assert sorted(rows.values()) == [1, 2] and not any("华阳路" in name for name in rows)
    assert 'id="table-confirmed"' in r.content.decode()


def test_an_areas_hotspots_are_judged_against_the_city_and_show_only_its_own_cells(client, november):
    """Gi* of a sub-district alone would call its busiest street ordinary when the whole sub-district is busy:
    the page judges the area's cells against the city, keeps only the area's cells (with its own counts) and the
    patrol places of its own stations."""
    import datetime as dt

    from cogov.insight import spatial

    c, _mine, north = november
    r = page(client, c, "subdistrict_sup", "?month=2026-11")
    assert r.status_code == 200
    con, _as_of = live.store_for(c.city.pk)
    since, until = dt.datetime(2026, 8, 1), dt.datetime(2026, 11, 27)
    sub = c.units["370202001"]
    with live.scoped(con, [sub.path]) as cur:
        own = spatial.hotspots(cur, city_id=c.city.pk, since=since, until=until)
        stations = {row[0] for row in cur.execute("SELECT DISTINCT station_id FROM cases").fetchall()}
    with live.scoped(con, []) as cur:
        city = {row["cell"]: row for row in spatial.hotspots(cur, city_id=c.city.pk, since=since, until=until)}
    judged, patrol = live.against_the_city(con, c.city.pk, own, stations, since=since, until=until,
                                           category=None, week_start=dt.date(2026, 11, 30))
    mostly_own = {row["cell"] for row in own if 2 * row["count"] >= city[row["cell"]]["count"]}
    assert mostly_own and {row["cell"] for row in judged} == mostly_own
    by_cell = {row["cell"]: row for row in own}
    for row in judged:
        assert row["count"] == by_cell[row["cell"]]["count"]  # the area's own count
        assert (row["gi_z"], row["level"]) == (city[row["cell"]]["gi_z"], city[row["cell"]]["level"])  # the city's
    north_cell = h3.latlng_to_cell(north.lat, north.lon, 9)
    assert north_cell in city and north_cell not in {row["cell"] for row in judged}
    assert all(p["station_id"] in stations for p in patrol)


def test_two_cells_that_read_alike_are_numbered():
    from django.utils import translation

    from cogov.web.insight import with_places

    rows = [{"cell": "a", "street_name": "银川中路", "station_name": "中云站"},
            {"cell": "b", "street_name": "银川中路", "station_name": "中云站"},
            {"cell": "a", "street_name": "银川中路", "station_name": "中云站"},  # the same cell again (another category)
            {"cell": "c", "street_name": "秦岭路", "station_name": "隐珠站"}]
    with translation.override("zh-hans"):
        places = [r["place"] for r in with_places(rows)]
    assert places == [
        "银川中路 · 中云站（第 1 格）", "银川中路 · 中云站（第 2 格）", "银川中路 · 中云站（第 1 格）", "秦岭路 · 隐珠站"]
