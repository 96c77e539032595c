"""The admin in Chinese, and bulk imports: the bureau uploads its rosters and lists, sees every row checked,
and only 「确认导入」 writes — all rows in one transaction, through the services."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from cogov.cases.models import Category, CategoryLimit
from cogov.geo.models import City, Unit
from cogov.people.models import Person, RoleAssignment, ServiceUnit
from cogov.people.permissions import actor_for
from cogov.people.services import person_create_admin
from cogov.web.imports import SESSION_KEY

ROSTER_HEADER = ["账号 username", "姓名 display_name", "手机 phone", "角色 role", "辖区编码 scope_unit_code",
                 "专业单位编码 service_unit_code", "生效日期 valid_from", "结束日期 valid_to", "初始密码 password"]
STATION_A, STATION_B = "37020200100101", "37020200100201"
COURTYARD, BUILDING, STREET, AREA = ("37020200100101C001", "37020200100101C00101", "37020200100101S001",
                                     "37020200100101A001")
ROSTER_URL = "/admin/people/person/import/"
CONFIRM = 'value="确认导入"'  # the button, not the words in the explanation


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def boss(client, small_city, data_dir):
    """A signed-in administrator of the small city."""
    person = person_create_admin(username="boss", password="pw-boss-123", city_code="3702")
    client.force_login(person)
    return person


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, url, name, content):
    f = io.BytesIO(content)
    f.name = name
    return client.post(url, {"action": "upload", "file": f})


def stored_files(data_dir):
    d = data_dir / "imports"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def text(response) -> str:
    return response.content.decode()


# --- The admin in Chinese ----------------------------------------------------------------------------------

CHANGELISTS = [
    ("/admin/geo/city/", ["城市", "地理数据版本", "辖区单元数"]),
    ("/admin/geo/unit/", ["辖区单元", "编码", "类型", "上级单元", "批量导入"]),
    ("/admin/people/person/", ["人员", "姓名", "手机号", "当前岗位", "批量导入", "王站长", "站长·湛山社区城市治理服务站"]),
    ("/admin/people/roleassignment/", ["岗位任命", "人员", "辖区单元", "专业单位", "在岗状态", "批量导入"]),
    ("/admin/people/serviceunit/", ["专业单位", "职责类型", "服务范围", "在岗人员", "批量导入", "市南区环卫所"]),
    ("/admin/people/apitoken/", ["接口令牌", "用途", "签发时间", "热线对接", "吊销所选令牌"]),
    ("/admin/cases/category/", ["案件类别", "标准版本", "发生位置", "批量导入"]),
    ("/admin/cases/calendarday/", ["节假日安排", "上班", "元旦", "城市"]),
    ("/admin/cases/calendaryear/", ["已录入年份", "依据", "国务院办公厅通知"]),
    ("/admin/cases/case/", ["案件", "案件编号", "类别", "服务站", "处置单位", "处置时限", "湛山社区城市治理服务站"]),
    ("/admin/cases/caseevent/", ["案件事件", "动作", "序号", "上报"]),
]


@pytest.fixture
def some_rows(small_city, boss):
    """A case with its events, an API token and a holiday, so that every list has a row to show."""
    from cogov.cases.models import CalendarDay, CalendarYear
    from cogov.cases.services import case_report
    from cogov.people.auth import token_issue
    from tests.conftest import IN_COURTYARD

    case_report(city=small_city.city, actor=small_city.actor("citizen"), category_id=small_city.categories["06036"].pk,
                lon=IN_COURTYARD[0], lat=IN_COURTYARD[1], title="楼道堆物")
    token_issue(person=boss, label="热线对接")
    CalendarDay.objects.create(city=small_city.city, date="2027-01-01", is_workday=False, name="元旦")
    CalendarYear.objects.create(city=small_city.city, year=2027, source="国务院办公厅通知")


@pytest.mark.parametrize(("url", "words"), CHANGELISTS)
def test_changelists_render_in_chinese(client, boss, some_rows, url, words):
    r = client.get(url)
    assert r.status_code == 200
    body = text(r)
    assert 'lang="zh-hans"' in body
    for word in words:
        assert word in body, word


def test_admin_forms_render_in_chinese(client, boss, small_city):
    unit = small_city.units[STATION_A]
    assignment = RoleAssignment.objects.get(person=small_city.people["station_a"])
    pages = {
        f"/admin/geo/unit/{unit.pk}/change/": ["上级单元", "编码路径", "几何", "Polygon"],
        f"/admin/people/person/{small_city.people['station_a'].pk}/change/": ["城市共治", "手机号", "岗位任命"],
        "/admin/people/person/add/": ["城市", "姓名"],
        f"/admin/people/roleassignment/{assignment.pk}/change/": ["辖区单元", "辖区路径", "湛山社区城市治理服务站"],
        "/admin/people/roleassignment/add/": ["人员", "辖区单元", "专业单位"],
        f"/admin/people/serviceunit/{small_city.service_units['sanitation'].pk}/change/": ["服务范围", "城市"],
        f"/admin/cases/category/{Category.objects.first().pk}/change/": ["时限（按紧急程度）", "处置时限单位"],
    }
    for url, words in pages.items():
        r = client.get(url)
        assert r.status_code == 200, url
        for word in words:
            assert word in text(r), (url, word)


def test_units_and_appointments_are_not_deleted_nor_units_added_by_hand(client, boss, small_city):
    unit = small_city.units[STATION_A]
    assignment = RoleAssignment.objects.get(person=small_city.people["station_a"])
    assert client.get("/admin/geo/unit/add/").status_code == 403
    assert client.get(f"/admin/geo/unit/{unit.pk}/delete/").status_code == 403
    assert client.get(f"/admin/people/roleassignment/{assignment.pk}/delete/").status_code == 403
    assert "添加 辖区单元" not in text(client.get("/admin/geo/unit/"))


def test_an_appointment_made_in_the_admin_goes_through_role_assign(client, boss, small_city):
    person = small_city.people["citizen"]
    wrong = client.post("/admin/people/roleassignment/add/", {
        "person": person.pk, "role": "station_head", "scope_unit": small_city.units[COURTYARD].pk,
        "valid_from_0": "2026-11-24", "valid_from_1": "09:00:00"})
    assert wrong.status_code == 200
    assert "station_head 必须任命到：station" in text(wrong)
    assert not RoleAssignment.objects.filter(person=person).exists()
    r = client.post("/admin/people/roleassignment/add/", {
        "person": person.pk, "role": "building_head", "scope_unit": small_city.units[COURTYARD].pk,
        "valid_from_0": "2026-11-24", "valid_from_1": "09:00:00"})
    assert r.status_code == 302
    made = RoleAssignment.objects.get(person=person)
    assert made.scope_path == small_city.units[COURTYARD].path and made.city_id == small_city.city.pk
    # afterwards only the end may change
    r = client.post(f"/admin/people/roleassignment/{made.pk}/change/", {
        "valid_to_0": "2026-12-31", "valid_to_1": "00:00:00", "role": "station_head"})
    assert r.status_code == 302
    made.refresh_from_db()
    assert made.role == "building_head" and made.valid_to is not None


def test_history_of_appointments_is_not_rewritten(client, boss, small_city):
    from cogov import clock

    held = RoleAssignment.objects.get(person=small_city.people["street_head"])  # since 10:00 today
    clock.freeze(dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC))  # 12:00 Beijing
    r = client.post(f"/admin/people/roleassignment/{held.pk}/change/",
                    {"valid_to_0": "2026-11-24", "valid_to_1": "11:00:00"})
    assert r.status_code == 200 and "结束时间不能早于现在" in text(r)
    held.refresh_from_db()
    assert held.valid_to is None
    r = client.post(f"/admin/people/roleassignment/{held.pk}/change/",
                    {"valid_to_0": "2026-11-24", "valid_to_1": "12:30:00"})
    assert r.status_code == 302
    # once ended, nothing of it may change
    clock.freeze(dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC))  # 13:00 Beijing
    page = client.get(f"/admin/people/roleassignment/{held.pk}/change/")
    assert page.status_code == 200 and 'name="valid_to_0"' not in text(page)
    client.post(f"/admin/people/roleassignment/{held.pk}/change/", {"valid_to_0": "2027-01-01",
                                                                    "valid_to_1": "00:00:00"})
    held.refresh_from_db()
    assert timezone.localtime(held.valid_to).isoformat() == "2026-11-24T12:30:00+08:00"


def test_ending_a_unit_in_the_admin_rebuilds_the_locate_index(client, boss, small_city):
    unit = small_city.units[STREET]
    before = City.objects.get(pk=small_city.city.pk).geo_version
    r = client.post(f"/admin/geo/unit/{unit.pk}/change/", {"name": "香港中路（旧）", "valid_from": "",
                                                           "valid_to": "2026-11-24"})
    assert r.status_code == 302
    unit.refresh_from_db()
    assert unit.name == "香港中路（旧）" and unit.code == STREET
    assert City.objects.get(pk=small_city.city.pk).geo_version == before + 1


# --- Rosters -----------------------------------------------------------------------------------------------


def test_roster_with_errors_lists_them_and_writes_nothing(client, boss, small_city, data_dir):
    people, assignments = Person.objects.count(), RoleAssignment.objects.count()
    csv = "\n".join([
        ",".join(ROSTER_HEADER),
        "new.one,新人甲,13800001111,楼院长,NOPE-UNIT,,2026-11-01,,",
        f"new.two,新人乙,12345678,街巷长,{STREET},,,,",
        f"new.three,新人丙,13800003333,总指挥,{STATION_A},,,,",
        f"new.four,新人丁,13800004444,区片长,{AREA},,2026-02-30,,",
        f"new.five,新人戊,13800005555,站长,{STATION_A},,,,",
        f"new.five,新人己,13800005555,楼院长,{COURTYARD},,,,",
        "new.six,新人庚,13800006666,专业单位处置人员,,NO-SUCH,,,",
    ]) + "\n"
    r = upload(client, ROSTER_URL, "名单.csv", csv.encode("gb18030"))
    assert r.status_code == 200
    body = text(r)
    for expected in [
        "第 2 行「辖区编码 scope_unit_code」：辖区编码「NOPE-UNIT」不存在",
        "第 3 行「手机 phone」：手机号「12345678」无效",
        "第 4 行「角色 role」：未知角色「总指挥」",
        "第 5 行「生效日期 valid_from」：日期不存在：「2026-02-30」",
        "第 7 行「姓名 display_name」：账号重复：第 6 行同一账号的姓名是「新人戊」",
        "第 8 行「专业单位编码 service_unit_code」：专业单位编码「NO-SUCH」不存在",
        "有错误，未写入任何数据", "全部或全不",
    ]:
        assert expected in body, expected
    assert "共 7 行：1 行检查通过，6 行有错误。" in body
    assert CONFIRM not in body
    assert (Person.objects.count(), RoleAssignment.objects.count()) == (people, assignments)
    assert stored_files(data_dir) == []
    # and a confirm now finds nothing to write
    r = client.post(ROSTER_URL, {"action": "confirm"})
    assert "没有待确认的文件" in text(r)
    assert (Person.objects.count(), RoleAssignment.objects.count()) == (people, assignments)


def good_roster() -> bytes:
    return xlsx([
        ROSTER_HEADER,
        ["liu.zhan", "刘站长", "13812345678", "站长", STATION_B, None, "2026-11-01", None, "welcome-2026"],
        ["chen.lou", "陈楼长", 13912345678, "楼院长", BUILDING, None, None, None, None],
        ["chen.lou", "陈楼长", None, "街巷长", STREET, None, None, "2026-12-31", None],
        ["he.shifu", "何师傅", "13712345678", "专业单位处置人员", None, "SAN-SN", None, None, None],
        ["citizen2", None, "13612345678", "志愿者", None, None, None, None, None],
    ])


def test_good_roster_preview_then_confirm(client, boss, small_city, data_dir):
    people, assignments = Person.objects.count(), RoleAssignment.objects.count()
    r = upload(client, ROSTER_URL, "三长名单.xlsx", good_roster())
    assert r.status_code == 200
    body = text(r)
    assert "共 5 行：5 行检查通过，0 行有错误。" in body and CONFIRM in body
    assert "新建人员「刘站长」" in body and "任命站长 · 八大关社区城市治理服务站，2026-11-01 起" in body
    assert "更新人员手机" in body
    assert "welcome-2026" not in body  # passwords are not shown back
    # nothing written yet; the file waits server-side under a random name, known only to the session
    assert (Person.objects.count(), RoleAssignment.objects.count()) == (people, assignments)
    files = stored_files(data_dir)
    assert len(files) == 1 and files[0].endswith(".xlsx") and "三长" not in files[0]
    assert client.session[SESSION_KEY]["roster"]["token"] == files[0]

    r = client.post(ROSTER_URL, {"action": "confirm"})
    assert r.status_code == 302 and r["Location"] == "/admin/people/person/"
    assert stored_files(data_dir) == []
    assert SESSION_KEY not in client.session or "roster" not in client.session[SESSION_KEY]
    assert Person.objects.count() == people + 3
    assert RoleAssignment.objects.count() == assignments + 5
    msg = text(client.get("/admin/people/person/"))
    assert "名单已导入：新建人员 3 人、更新 1 人；新任命 5 项" in msg

    city = small_city.city.pk
    liu = Person.objects.get(username="liu.zhan")
    assert (liu.display_name, liu.phone, liu.city_id) == ("刘站长", "13812345678", city)
    assert client.login(username="liu.zhan", password="welcome-2026")  # the initial password works
    client.force_login(boss)
    grants = actor_for(liu, city_id=city).grants
    assert [(g.role, g.scope_unit_id, g.scope_kind) for g in grants] == [
        ("station_head", small_city.units[STATION_B].pk, "station")]
    assert grants[0].scope_path == small_city.units[STATION_B].path

    chen = Person.objects.get(username="chen.lou")
    assert not chen.has_usable_password()
    assert sorted((g.role, g.scope_unit_id) for g in actor_for(chen, city_id=city).grants) == sorted([
        ("building_head", small_city.units[BUILDING].pk), ("street_head", small_city.units[STREET].pk)])
    street = RoleAssignment.objects.get(person=chen, role="street_head")
    assert timezone.localtime(street.valid_to).isoformat() == "2027-01-01T00:00:00+08:00"  # 12-31 is the last day

    he = Person.objects.get(username="he.shifu")
    assert [(g.role, g.service_unit_id) for g in actor_for(he, city_id=city).grants] == [
        ("unit_crew", small_city.service_units["sanitation"].pk)]
    citizen2 = Person.objects.get(username="citizen2")
    assert citizen2.phone == "13612345678" and citizen2.display_name == "市民小何"
    assert [g.role for g in actor_for(citizen2, city_id=city).grants] == ["volunteer"]

    # the same roster again: nothing doubles
    r = upload(client, ROSTER_URL, "三长名单.xlsx", good_roster())
    assert "已任命站长 · 八大关社区城市治理服务站，不变" in text(r) and "人员已存在，资料不变" in text(r)
    r = client.post(ROSTER_URL, {"action": "confirm"})
    assert r.status_code == 302
    assert RoleAssignment.objects.count() == assignments + 5
    assert Person.objects.count() == people + 3


def test_roster_ends_an_appointment_with_a_last_day(client, boss, small_city):
    content = xlsx([ROSTER_HEADER, ["station_a", None, None, "站长", STATION_A, None, None, "2026-11-30", None]])
    r = upload(client, ROSTER_URL, "r.xlsx", content)
    assert "已任命站长 · 湛山社区城市治理服务站：结束日期改为 2026-11-30" in text(r)
    assert client.post(ROSTER_URL, {"action": "confirm"}).status_code == 302
    held = RoleAssignment.objects.get(person=small_city.people["station_a"])
    assert timezone.localtime(held.valid_to).isoformat() == "2026-12-01T00:00:00+08:00"
    assert actor_for(small_city.people["station_a"], city_id=small_city.city.pk).roles == {"station_head"}


def test_confirm_checks_again_and_writes_nothing_if_the_database_changed(client, boss, small_city, data_dir):
    r = upload(client, ROSTER_URL, "r.xlsx", good_roster())
    assert CONFIRM in text(r)
    # meanwhile someone else takes the username with different case
    Person.objects.create_user(username="LIU.ZHAN", password=None, city=small_city.city)
    people = Person.objects.count()
    r = client.post(ROSTER_URL, {"action": "confirm"})
    assert r.status_code == 200
    assert "再次检查时发现错误" in text(r) and "仅大小写不同" in text(r)
    assert Person.objects.count() == people and not RoleAssignment.objects.filter(person__username="chen.lou")
    assert stored_files(data_dir) == []


def test_cancel_deletes_the_waiting_file(client, boss, data_dir):
    upload(client, ROSTER_URL, "r.xlsx", good_roster())
    assert len(stored_files(data_dir)) == 1
    r = client.post(ROSTER_URL, {"action": "cancel"})
    assert r.status_code == 302
    assert stored_files(data_dir) == []


def test_a_path_in_the_session_is_never_followed(client, boss, small_city, data_dir):
    (data_dir / "secret.csv").write_text(",".join(ROSTER_HEADER) + "\nx,X,,,,,,,\n", encoding="utf-8")
    session = client.session
    session[SESSION_KEY] = {"roster": {"token": "../secret.csv", "name": "x.csv", "city": small_city.city.pk}}
    session.save()
    people = Person.objects.count()
    r = client.post(ROSTER_URL, {"action": "confirm", "token": "../secret.csv", "path": str(data_dir / "secret.csv")})
    assert r.status_code == 200 and "没有待确认的文件" in text(r)
    assert Person.objects.count() == people and (data_dir / "secret.csv").exists()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("名单.xlsx", b"this is not a spreadsheet at all", "这不是有效的 XLSX 文件"),
        ("名单.xlsx", b"PK\x03\x04broken zip", "无法读取 XLSX 文件"),
        ("名单.csv", b"", "文件是空的"),
        ("名单.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "不支持旧版 .xls"),
        ("名单.csv", "张三,13800000001,站长\n".encode("gb18030"), "找不到表头"),
        ("名单.csv", "姓名,手机\n张三,13800000001\n".encode(), "缺少必填列：账号 username"),
        ("名单.xlsx", xlsx([]), "文件里没有任何内容"),
        ("名单.csv", ",".join(ROSTER_HEADER).encode(), "表头下面没有数据行"),
    ],
)
def test_broken_files_get_a_clear_message(client, boss, data_dir, name, content, words):
    people = Person.objects.count()
    r = upload(client, ROSTER_URL, name, content)
    assert r.status_code == 200
    assert words in text(r)
    assert CONFIRM not in text(r)
    assert Person.objects.count() == people and stored_files(data_dir) == []


def test_no_file_chosen(client, boss):
    r = client.post(ROSTER_URL, {"action": "upload"})
    assert r.status_code == 200 and "请选择要上传的文件" in text(r)


def test_people_without_staff_access_cannot_reach_imports(client, small_city, data_dir):
    people = Person.objects.count()
    client.force_login(small_city.people["station_a"])  # a station head, but no admin access
    for url in (ROSTER_URL, "/admin/people/person/import/template.xlsx", "/admin/geo/unit/import/",
                "/admin/people/serviceunit/import/", "/admin/cases/category/import/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/admin/login/"), url
    r = upload(client, ROSTER_URL, "r.xlsx", good_roster())
    assert r.status_code == 302 and Person.objects.count() == people and stored_files(data_dir) == []
    client.logout()
    assert client.get(ROSTER_URL).status_code == 302


def test_staff_without_the_permissions_is_refused(client, small_city, data_dir):
    clerk = small_city.people["district_sup"]
    clerk.is_staff = True
    clerk.save()
    client.force_login(clerk)
    assert client.get(ROSTER_URL).status_code == 403
    assert client.get("/admin/people/person/import/template.xlsx").status_code == 403
    assert upload(client, ROSTER_URL, "r.xlsx", good_roster()).status_code == 403


def test_roster_template_downloads_and_previews_clean(client, boss, small_city):
    r = client.get("/admin/people/person/import/template.xlsx")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert [c.value for c in book.worksheets[0][1]] == ROSTER_HEADER
    assert book.sheetnames[1] == "填写说明"
    notes = " ".join(str(c.value) for row in book["填写说明"].iter_rows() for c in row if c.value)
    assert "全部或全不" in notes and "楼院长" in notes
    # the example rows are real for this city: the template previews without errors
    r = upload(client, ROSTER_URL, "template.xlsx", r.content)
    assert "0 行有错误" in text(r) and CONFIRM in text(r)


@pytest.mark.parametrize("path", ["/admin/geo/unit/import/", "/admin/people/serviceunit/import/",
                                  "/admin/cases/category/import/", "/admin/people/roleassignment/import/"])
def test_every_import_page_and_template(client, boss, path):
    r = client.get(path)
    assert r.status_code == 200 and "批量导入" in text(r) and "下载模板（XLSX）" in text(r)
    r = client.get(path + "template.xlsx")
    assert r.status_code == 200
    headers = [c.value for c in openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0][1]]
    assert all(" " in h for h in headers)  # 中文 + English key
    r = upload(client, path, "template.xlsx", r.content)  # the example rows fit this city
    assert "行有错误" in text(r) and "，0 行有错误" in text(r) and CONFIRM in text(r)


# --- Units, professional units, categories -----------------------------------------------------------------

UNIT_URL = "/admin/geo/unit/import/"


def test_units_import_with_errors_then_good(client, boss, small_city, data_dir):
    units = Unit.objects.count()
    bad = ("类型 kind,编码 code,名称 name,上级编码 parent,几何 wkt\n"
           f"楼院,{STATION_A}C002,海景小区,NOPE,\"POLYGON ((120.33 36.03, 120.34 36.03, 120.34 36.04, 120.33 36.03))\"\n"
           f"楼院,{STATION_A}C003,山景小区,{STATION_A},\"LINESTRING (120.33 36.03, 120.34 36.04)\"\n")
    r = upload(client, UNIT_URL, "units.csv", bad.encode("utf-8-sig"))
    body = text(r)
    assert "第 2 行「上级编码 parent」：上级编码「NOPE」不存在" in body
    assert "第 3 行「几何 wkt」：几何必须是面" in body
    assert Unit.objects.count() == units and stored_files(data_dir) == []

    version = City.objects.get(pk=small_city.city.pk).geo_version
    good = xlsx([["类型 kind", "编码 code", "名称 name", "上级编码 parent", "几何 wkt"],
                 ["楼院", f"{STATION_A}C002", "海景小区", STATION_A,
                  "POLYGON ((120.33 36.03, 120.34 36.03, 120.34 36.04, 120.33 36.04, 120.33 36.03))"],
                 ["楼", f"{STATION_A}C00201", "1号楼", f"{STATION_A}C002",
                  "POLYGON ((120.331 36.031, 120.332 36.031, 120.332 36.032, 120.331 36.032, 120.331 36.031))"],
                 ["街巷", STREET, "香港中路（改名）", STATION_A,
                  "POLYGON ((120.30 36.06, 120.35 36.06, 120.35 36.062, 120.30 36.062, 120.30 36.06))"]])
    r = upload(client, UNIT_URL, "units.xlsx", good)
    assert "新建辖区单元" in text(r) and "更新辖区单元" in text(r) and CONFIRM in text(r)
    assert Unit.objects.count() == units
    r = client.post(UNIT_URL, {"action": "confirm"})
    assert r.status_code == 302
    building = Unit.objects.get(code=f"{STATION_A}C00201")
    assert building.path == small_city.units[STATION_A].path + f"{STATION_A}C002/{STATION_A}C00201/"
    assert Unit.objects.get(code=STREET).name == "香港中路（改名）"
    assert City.objects.get(pk=small_city.city.pk).geo_version == version + 1
    assert "辖区单元已导入：新建 2 个、更新 1 个。" in text(client.get("/admin/geo/unit/"))


def test_units_from_geojson(client, boss, small_city):
    import json

    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "kind": "area", "code": f"{STATION_B}A001", "name": "八大关第一区片", "parent": STATION_B},
        "geometry": {"type": "Polygon", "coordinates": [[[120.36, 36.0], [120.38, 36.0], [120.38, 36.02],
                                                         [120.36, 36.02], [120.36, 36.0]]]}}]}
    r = upload(client, UNIT_URL, "areas.geojson", json.dumps(doc, ensure_ascii=False).encode())
    assert CONFIRM in text(r)
    assert client.post(UNIT_URL, {"action": "confirm"}).status_code == 302
    assert Unit.objects.get(code=f"{STATION_B}A001").kind == "area"
    r = upload(client, UNIT_URL, "bad.geojson", b"[1, 2")
    assert r.status_code == 200 and "GeoJSON" in text(r)


SERVICE_URL = "/admin/people/serviceunit/import/"


def test_service_units_import(client, boss, small_city):
    header = "编码 code,名称 name,职责类型 duty_type,职责事项 duty_categories,服务范围编码 service_area\n"
    bad = header + "GAS-SN,市南燃气,燃气公司,,370202、NOPE1\n"
    r = upload(client, SERVICE_URL, "units.csv", bad.encode("gb18030"))
    assert "未知职责类型「燃气公司」" in text(r) and "服务范围编码不存在：NOPE1" in text(r)
    assert not ServiceUnit.objects.filter(code="GAS-SN").exists()
    good = header + "GAS-SN,市南燃气,供气,Q0101,370202001001、370202001002\nSAN-SN,市南区环卫所（新）,环卫,,\n"
    r = upload(client, SERVICE_URL, "units.csv", good.encode("gb18030"))
    assert CONFIRM in text(r), text(r)
    assert client.post(SERVICE_URL, {"action": "confirm"}).status_code == 302
    gas = ServiceUnit.objects.get(code="GAS-SN")
    assert gas.duty_type == "gas" and gas.duty_categories == ["Q0101"]
    assert sorted(gas.service_area.values_list("code", flat=True)) == ["370202001001", "370202001002"]
    san = ServiceUnit.objects.get(code="SAN-SN")
    assert san.name == "市南区环卫所（新）" and not san.service_area.exists()


CATEGORY_URL = "/admin/cases/category/import/"


def test_categories_import(client, boss, small_city):
    before = Category.objects.count()
    content = ("编码 code,名称 name,类型 kind,发生位置 scope,责任单位类型 duty_type,由上报人核查 reporter_verifies\n"
               "Q9901,共享单车乱停放,事项,街面,执法,是\n"
               "Q0101,改名不会生效,事项,,,\n").encode()
    r = upload(client, CATEGORY_URL, "cats.csv", content)
    assert "已存在，跳过" in text(r) and CONFIRM in text(r)
    assert client.post(CATEGORY_URL, {"action": "confirm"}).status_code == 302
    assert Category.objects.count() == before + 1
    new = Category.objects.get(code="Q9901")
    assert (new.kind, new.scope, new.duty_type, new.reporter_verifies) == ("matter", "outside", "enforcement", True)
    assert CategoryLimit.objects.filter(category=new).count() == 3
    assert Category.objects.get(code="Q0101", kind="matter").name != "改名不会生效"
    r = upload(client, CATEGORY_URL, "cats.csv", "编码 code,名称 name,类型 kind\nQ9902,x,东西\n".encode())
    assert "未知类型「东西」" in text(r)


def test_import_button_goes_where_it_says(client, boss):
    body = text(client.get("/admin/people/person/"))
    assert f'href="{reverse("admin:people_person_import")}"' in body


def test_a_person_added_by_hand_needs_a_mainland_mobile(client, boss, small_city):
    form = {"username": "zhou.new", "usable_password": "false", "city": small_city.city.pk, "display_name": "周新",
            "phone": "12345", "assignments-TOTAL_FORMS": "0", "assignments-INITIAL_FORMS": "0"}
    r = client.post("/admin/people/person/add/", form)
    assert r.status_code == 200 and "请输入 11 位中国大陆手机号" in text(r)
    assert not Person.objects.filter(username="zhou.new").exists()
    r = client.post("/admin/people/person/add/", {**form, "phone": "138 1234 5678"})
    assert r.status_code == 302, r.context["adminform"].form.errors
    assert Person.objects.get(username="zhou.new").phone == "13812345678"


def test_the_bureau_hands_over_its_roster_in_a_browser(pages, small_city, data_dir, tmp_path):
    """In Chromium, on a desktop: sign in to the admin, 人员 → 批量导入, a file with a mistake, fix it, confirm."""
    person_create_admin(username="boss", password="pw-boss-123", city_code="3702")
    page = pages.open(phone=False)
    page.goto("/admin/login/?next=/admin/people/person/")
    page.locator("#id_username").fill("boss")
    page.locator("#id_password").fill("pw-boss-123")
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/people/person/")
    page.get_by_role("link", name="批量导入").click()
    page.wait_for_url("**/admin/people/person/import/")
    bad, good = tmp_path / "名单（有错）.csv", tmp_path / "名单.xlsx"
    bad.write_bytes((",".join(ROSTER_HEADER) + f"\nliu.zhan,刘站长,1381234,站长,{STATION_B},,,,\n").encode("gb18030"))
    good.write_bytes(good_roster())
    page.locator("#id_file").set_input_files(str(bad))
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("第 2 行「手机 phone」：手机号「1381234」无效", exact=False).is_visible()
    assert page.get_by_role("button", name="确认导入").count() == 0
    pages.shot(page, "preview-with-errors")
    page.locator("#id_file").set_input_files(str(good))
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_load_state("networkidle")
    pages.shot(page, "preview-ok")
    assert Person.objects.filter(username="liu.zhan").count() == 0
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_url("**/admin/people/person/")
    assert page.get_by_text("名单已导入", exact=False).is_visible()
    pages.shot(page, "imported")
    liu = Person.objects.get(username="liu.zhan")
    assert actor_for(liu, city_id=small_city.city.pk).roles == {"station_head"}


def test_the_error_cell_of_a_failed_row_has_no_white_box(client, boss):
    """The admin paints ul.errorlist with the page's background; in the pink row of a failed line it must not."""
    r = upload(client, ROSTER_URL, "roster.xlsx", xlsx([["账号 username", "姓名 name"], ["", ""], ["x", ""]]))
    page = text(r)
    assert 'class="row-error"' in page and '<ul class="errorlist">' in page
    rule = re.search(r"\.cogov-import table\.preview td\.result ul\.errorlist \{([^}]*)\}", page)
    assert rule and "background: transparent" in rule.group(1)
    assert "background: var(--body-bg)" not in rule.group(1)


def test_the_task_queue_app_has_a_chinese_name_and_keeps_its_label(client, boss):
    from django.apps import apps

    config = apps.get_app_config("django_tasks_database")  # the label its migrations and the worker use
    assert config.name == "django_tasks_db" and config.verbose_name.startswith("后台任务")
    page = text(client.get("/admin/"))
    assert "后台任务" in page and "Tasks Database Backend" not in page
