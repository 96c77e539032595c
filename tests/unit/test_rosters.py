"""The sheet parser (cogov.people.rosters): files in every encoding the bureau's machines write, and each
kind of mistake reported on its row and column, in Chinese — no database."""

from __future__ import annotations

import ast
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from cogov.errors import DomainError
from cogov.people import rosters
from cogov.people.rosters import (
    CATEGORY_COLUMNS,
    ROSTER_COLUMNS,
    SERVICE_UNIT_COLUMNS,
    UNIT_COLUMNS,
    CategoryKnown,
    PersonInfo,
    RosterKnown,
    ServiceUnitKnown,
    parse_categories,
    parse_date,
    parse_roster,
    parse_service_units,
    parse_units,
    read_table,
)

HEADER = "账号 username,姓名 display_name,手机 phone,角色 role,辖区编码 scope_unit_code,专业单位编码 service_unit_code," \
         "生效日期 valid_from,结束日期 valid_to,初始密码 password"
KIND_NAMES = {"district": "区（市）", "subdistrict": "街道", "community": "社区", "station": "城市治理服务站",
              "area": "区片", "street": "街巷", "courtyard": "楼院", "building": "楼"}
SCOPE_KINDS = {"volunteer": (), "station_head": ("station",), "building_head": ("building", "courtyard"),
               "street_head": ("street",), "area_head": ("area",), "subdistrict_supervisor": ("subdistrict",),
               "district_supervisor": ("district",), "city_supervisor": ()}


def known(**over) -> RosterKnown:
    base = {
        "units": {"S1": ("station", "湛山服务站"), "C1": ("courtyard", "湛山花园"), "ST1": ("street", "香港中路"),
                  "A1": ("area", "第一区片"), "SD": ("subdistrict", "香港中路街道")},
        "unit_kind_names": KIND_NAMES, "service_units": {"SAN": "环卫所"},
        "people": {"wang": PersonInfo("wang", "王站长", "13800000000")},
        "assignments": {("wang", "station_head", "S1", ""): None}, "scope_kinds": SCOPE_KINDS,
        "today": dt.date(2026, 11, 24),
    }
    base.update(over)
    return RosterKnown(**base)


def roster(csv_text: str, **over) -> rosters.Preview:
    table = read_table("r.csv", (HEADER + "\n" + csv_text).encode("utf-8"), ROSTER_COLUMNS)
    return parse_roster(table, known(**over))


def only_errors(preview) -> list[tuple[int, str, str]]:
    return [(r.row, e.column, e.message) for r in preview.records for e in r.errors]


def test_good_rows_become_people_and_appointments():
    p = roster(
        "zhao,赵院长,138 0000 0001,楼院长,C1,,2026-11-01,,secret123\n"
        "zhao,赵院长,13800000001,街巷长,ST1,,2026/11/1,2026年12月31日,\n"
        "wu,吴师傅,+8613900000002,专业单位处置人员,,SAN,,,\n"
        "wang,,,站长,S1,,,,\n"
    )
    assert p.ok, only_errors(p)
    zhao, zhao2, wu, wang = (r.data for r in p.records)
    assert zhao == {"username": "zhao", "display_name": "赵院长", "phone": "13800000001", "password": "secret123",
                    "new": True, "role": "building_head", "scope_unit_code": "C1", "service_unit_code": "",
                    "valid_from": dt.date(2026, 11, 1), "valid_to": None}
    assert zhao2["role"] == "street_head" and zhao2["valid_to"] == dt.date(2026, 12, 31)
    assert wu["role"] == "unit_crew" and wu["service_unit_code"] == "SAN" and wu["phone"] == "13900000002"
    assert wang["new"] is False and wang["role"] == "station_head"
    assert p.records[0].actions == ["新建人员「赵院长」", "任命楼院长 · 湛山花园，2026-11-01 起"]
    assert p.records[3].actions == ["人员已存在，资料不变", "已任命站长 · 湛山服务站，不变"]
    assert p.records[0].cells["password"] == "••••••"  # never shown back


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("li,李四,13800000001,站长,NOPE,,,,", "辖区编码 scope_unit_code", "辖区编码「NOPE」不存在"),
        ("li,李四,12345,站长,S1,,,,", "手机 phone", "手机号「12345」无效"),
        ("li,李四,12800000000,站长,S1,,,,", "手机 phone", "无效"),
        ("li,李四,13800000001,总指挥,S1,,,,", "角色 role", "未知角色「总指挥」"),
        ("li,李四,13800000001,站长,S1,,2026-13-01,,", "生效日期 valid_from", "日期不存在"),
        ("li,李四,13800000001,站长,S1,,2026-02-30,,", "生效日期 valid_from", "日期不存在"),
        ("li,李四,13800000001,站长,S1,,next monday,,", "生效日期 valid_from", "日期无法识别"),
        ("li,李四,13800000001,站长,S1,,2026-11-10,2026-11-01,", "结束日期 valid_to", "结束日期早于生效日期"),
        ("li,李四,13800000001,站长,C1,,,,", "辖区编码 scope_unit_code", "站长只能任命到城市治理服务站"),
        ("li,李四,13800000001,站长,,,,,", "辖区编码 scope_unit_code", "站长必须填写辖区编码"),
        ("li,李四,13800000001,专业单位处置人员,,NOPE,,,", "专业单位编码 service_unit_code", "专业单位编码「NOPE」不存在"),
        ("li,李四,13800000001,专业单位派单员,,,,,", "专业单位编码 service_unit_code", "必须填写专业单位编码"),
        ("li,李四,13800000001,市民,,,,,", "角色 role", "市民无需任命"),
        ("li,李四,13800000001,系统管理员,,,,,", "角色 role", "系统管理员不能通过名单导入"),
        ("li,,13800000001,站长,S1,,,,", "姓名 display_name", "新账号必须填写姓名"),
        ("li li,李四,13800000001,站长,S1,,,,", "账号 username", "账号「li li」无效"),
        ("Wang,王五,13800000001,站长,S1,,,,", "账号 username", "与已有账号「wang」仅大小写不同"),
        ("li,李四,13800000001,站长,S1,,,,short", "初始密码 password", "至少 8 位"),
        ("li,李四,13800000001,,S1,,,,", "角色 role", "没有填写角色"),
    ],
)
def test_each_mistake_is_named_on_its_row_and_column(row, column, words):
    p = roster(row)
    assert not p.ok
    errors = only_errors(p)
    assert len(errors) == 1, errors
    n, col, message = errors[0]
    assert n == 2 and col == column and words in message


def test_duplicate_username_with_another_name_and_a_repeated_appointment():
    p = roster(
        "li,李四,13800000001,站长,S1,,,,\n"
        "li,李五,13800000001,楼院长,C1,,,,\n"
        "li,李四,13900000009,楼院长,C1,,,,\n"
        "LI,李四,,区片长,A1,,,,\n"
    )
    errors = only_errors(p)
    assert (3, "姓名 display_name", "账号重复：第 2 行同一账号的姓名是「李四」，两行不一致") in errors
    assert any(n == 4 and col == "手机 phone" and "账号重复" in m for n, col, m in errors)
    assert any(n == 4 and col == "角色 role" and "与第 3 行的任命重复" in m for n, col, m in errors)
    assert any(n == 5 and col == "账号 username" and "仅大小写不同" in m for n, col, m in errors)
    assert p.records[0].ok


def test_account_of_another_city_and_an_ended_appointment():
    p = roster("wang,王站长,,站长,S1,,,2026-12-31,\nzhou,周,,区片长,A1,,,2026-11-01,\n",
               people={"wang": PersonInfo("wang", "王站长", "", other_city=True)})
    errors = only_errors(p)
    assert any(n == 2 and "其他城市" in m for n, _c, m in errors)
    assert any(n == 3 and col == "结束日期 valid_to" and "已经过去" in m for n, col, m in errors)


def test_ending_an_existing_appointment_is_announced():
    p = roster("wang,,,站长,S1,,,2026-12-31,\n")
    assert p.ok
    assert p.records[0].actions[-1] == "已任命站长 · 湛山服务站：结束日期改为 2026-12-31"


def test_gb18030_csv_as_chinese_excel_writes_it():
    content = (HEADER + "\r\nzhao,赵院长,13800000001,楼院长,C1,,,,\r\n").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    p = parse_roster(read_table("名单.csv", content, ROSTER_COLUMNS), known())
    assert p.ok and p.records[0].data["display_name"] == "赵院长"


def test_utf8_with_bom_and_chinese_only_headers_and_semicolons():
    content = "\ufeff账号;姓名;手机号;岗位;辖区编码\nzhao;赵院长;13800000001;楼长;C1\n".encode("utf-8")
    table = read_table("r.csv", content, ROSTER_COLUMNS)
    assert table.keys == ["username", "display_name", "phone", "role", "scope_unit_code"]
    p = parse_roster(table, known())
    assert p.ok and p.records[0].data["role"] == "building_head"


def test_utf16_text_export():
    content = ("账号 username\t姓名 display_name\t角色 role\t辖区编码 scope_unit_code\nzhao\t赵\t区片长\tA1\n"
               ).encode("utf-16")
    p = parse_roster(read_table("r.txt", content, ROSTER_COLUMNS), known())
    assert p.ok and p.records[0].data["role"] == "area_head"


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_numbers_dates_and_blank_rows():
    content = xlsx([
        [],
        [c.header for c in ROSTER_COLUMNS],
        ["zhao", "赵院长", 13800000001, "楼院长", "C1", None, dt.datetime(2026, 11, 1), None, None],
        [None] * 9,
        ["qian", "钱片长", 13900000002.0, "区片长", "A1", None, 46327, None, None],  # a serial day, unformatted
    ])
    table = read_table("名单.xlsx", content, ROSTER_COLUMNS)
    assert table.header_row == 2
    assert [n for n, _ in table.rows] == [3, 5]
    p = parse_roster(table, known())
    assert p.ok, only_errors(p)
    assert p.records[0].data["phone"] == "13800000001"
    assert p.records[0].data["valid_from"] == dt.date(2026, 11, 1)
    assert p.records[1].data["valid_from"] == dt.date(2026, 11, 1)
    assert [r.row for r in p.records] == [3, 5]


def test_unknown_columns_are_ignored_and_said():
    content = xlsx([["账号 username", "姓名 display_name", "备注"], ["zhao", "赵", "新来的"]])
    p = parse_roster(read_table("r.xlsx", content, ROSTER_COLUMNS), known())
    assert p.ok and p.notices == ["未识别的列已忽略：备注"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("r.csv", b"", "文件是空的"),
        ("r.csv", b"\r\n\r\n  ", "文件是空的"),
        ("r.xlsx", b"PK\x03\x04not really a zip", "无法读取 XLSX 文件"),
        ("r.xlsx", b"just text pretending", "不是有效的 XLSX 文件"),
        ("r.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "不支持旧版 .xls"),
        ("r.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本表格文件"),
        ("r.csv", "张三,13800000001,站长\n".encode(), "找不到表头"),
        ("r.csv", "姓名 display_name,手机 phone\n张三,13800000001\n".encode(), "缺少必填列：账号 username"),
        ("r.csv", "账号,账号 username\nzhao,zhao\n".encode(), "出现了两次"),
    ],
)
def test_broken_files_get_a_clear_message(name, content, words):
    with pytest.raises(DomainError) as e:
        read_table(name, content, ROSTER_COLUMNS)
    assert words in e.value.message


def test_header_without_rows():
    p = parse_roster(read_table("r.csv", HEADER.encode(), ROSTER_COLUMNS), known())
    assert not p.ok and p.problems == ["表头下面没有数据行"]


def test_empty_xlsx_sheet():
    with pytest.raises(DomainError) as e:
        read_table("r.xlsx", xlsx([]), ROSTER_COLUMNS)
    assert e.value.code == "empty_file"


@pytest.mark.parametrize(
    ("value", "day"),
    [("2026-11-01", dt.date(2026, 11, 1)), ("2026/1/5", dt.date(2026, 1, 5)), ("2026.1.5", dt.date(2026, 1, 5)),
     ("2026年1月5日", dt.date(2026, 1, 5)), ("20260105", dt.date(2026, 1, 5)), (20260105, dt.date(2026, 1, 5)),
     ("２０２６－０１－０５", dt.date(2026, 1, 5)), ("2026-01-05 00:00:00", dt.date(2026, 1, 5)),
     (dt.date(2026, 1, 5), dt.date(2026, 1, 5)), ("", None), (None, None)],
)
def test_dates_as_people_write_them(value, day):
    assert parse_date(value) == day


def test_service_units_sheet():
    content = ("编码 code,名称 name,职责类型 duty_type,职责事项 duty_categories,服务范围编码 service_area\n"
               "SAN2,新环卫所,环卫,Q0101、Q0102,S1、A1\n"
               "GAS,燃气公司,gas,,\n"
               "SAN2,重复,环卫,,\n"
               "X,坏的,打扫,QX,NOPE1 NOPE2\n").encode("gb18030")
    table = read_table("u.csv", content, SERVICE_UNIT_COLUMNS)
    p = parse_service_units(table, ServiceUnitKnown(
        units={"S1": ("station", "湛山服务站"), "A1": ("area", "第一区片")}, service_units={"GAS": "燃气"},
        category_codes=frozenset({"Q0101", "Q0102"})))
    assert p.records[0].ok and p.records[0].data == {
        "code": "SAN2", "name": "新环卫所", "duty_type": "sanitation", "duty_categories": ["Q0101", "Q0102"],
        "service_area": ["S1", "A1"]}
    assert p.records[0].actions == ["新建专业单位，服务范围：湛山服务站、第一区片"]
    assert p.records[1].ok and p.records[1].actions == ["更新专业单位，服务范围：全市"]
    errors = only_errors(p)
    assert (4, "编码 code", "编码重复：与第 2 行相同") in errors
    assert any(n == 5 and col == "职责类型 duty_type" and "未知职责类型「打扫」" in m for n, col, m in errors)
    assert (5, "职责事项 duty_categories", "类别编码不存在：QX") in errors
    assert (5, "服务范围编码 service_area", "服务范围编码不存在：NOPE1、NOPE2") in errors


def test_units_sheet_first_checks():
    content = ("类型 kind,编码 code,名称 name,上级编码 parent,几何 wkt\n"
               "社区,C9,新社区,SD,\"POLYGON ((0 0, 1 0, 1 1, 0 0))\"\n"
               "村,C10,,SD,\n").encode()
    p = parse_units(read_table("u.csv", content, UNIT_COLUMNS), list(KIND_NAMES.items()))
    assert p.records[0].ok and p.records[0].data["kind"] == "community"
    errors = only_errors(p)
    assert any(n == 3 and col == "类型 kind" and "未知类型「村」" in m for n, col, m in errors)
    assert (3, "名称 name", "名称不能为空") in errors
    assert any(n == 3 and col == "几何 wkt" for n, col, _m in errors)
    assert rosters.unit_reason_column("上级编码「X」不存在") == "上级编码 parent"


def test_categories_sheet():
    content = ("标准版本 edition,编码 code,名称 name,类型 kind,发生位置 scope,责任单位类型 duty_type,"
               "由上报人核查 reporter_verifies\n"
               ",Q9901,单车乱停,事项,街面,执法,是\n"
               ",Q0101,已有的,事项,,,\n"
               ",Q9902,坏的,东西,屋顶,打扫,也许\n").encode()
    p = parse_categories(read_table("c.csv", content, CATEGORY_COLUMNS), CategoryKnown(
        existing=frozenset({("青岛扩展-2026", "matter", "Q0101")}), kinds=(("component", "部件"), ("matter", "事项")),
        scopes=(("building", "楼内"), ("courtyard", "楼院内"), ("outside", "街面")), default_edition="青岛扩展-2026"))
    first = p.records[0]
    assert first.ok and first.data["kind"] == "matter" and first.data["duty_type"] == "enforcement"
    assert first.data["reporter_verifies"] is True and first.data["edition"] == "青岛扩展-2026"
    assert p.records[1].ok and p.records[1].data["exists"] and "跳过" in p.records[1].actions[0]
    cols = {e.column for e in p.records[2].errors}
    assert cols == {"类型 kind", "发生位置 scope", "责任单位类型 duty_type", "由上报人核查 reporter_verifies"}


def test_the_parser_imports_no_django():
    tree = ast.parse(Path(rosters.__file__).read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith("django") or n.endswith((".models", ".services"))]
