"""The monthly bulletin: both files are written, and read back — the workbook with openpyxl (sheets, Chinese
headers, the same numbers as ``monthly()``, native charts), the PDF with pypdf (Chinese text extracts, the
font is embedded, the page numbers agree). Last, the whole command on the small city's real case loop."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import zipfile

import duckdb
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from cogov import clock
from cogov.insight import bulletin as B
from cogov.insight import evaluation as E
from cogov.insight import store

from tests.conftest import ON_STREET
from tests.unit.test_evaluation import AS_OF, build_october

TITLE = "青岛市城市管理月度通报（2026年10月）"


@pytest.fixture(scope="module")
def october():
    con = duckdb.connect()
    store.create_schema(con)
    build_october(con)
    return con


@pytest.fixture(scope="module")
def written(october, tmp_path_factory):
    result = E.monthly(october, city_id=1, month="2026-10", as_of=AS_OF)
    out = tmp_path_factory.mktemp("bulletin")
    xlsx, pdf = B.write_bulletin(result, city_name="青岛市", month="2026-10", out_dir=out)
    return result, xlsx, pdf


def pdf_text(path) -> tuple[PdfReader, str]:
    reader = PdfReader(path)
    return reader, "\n".join(p.extract_text() for p in reader.pages)


def test_workbook_reads_back_with_the_numbers_of_monthly(written):
    result, xlsx, _ = written
    assert xlsx.name == "bulletin-2026-10.xlsx"
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["概况", "专业单位", "服务站", "社区", "街道"]
    assert wb["概况"]["A1"].value == f"《{TITLE}》"
    for level, sheet in B.LEVEL_NAMES.items():
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        assert header[:4] == ["排名", "名称", B.PARENT_HEADER[level], "案件数"]
        assert {"响应率", "解决率", "满意率", "综合得分", "按期处置率", "返工率", "退回次数"} <= set(header)
        assert ws.freeze_panes == "C2"
        col = {h: i for i, h in enumerate(header)}
        got = [[r[col[h]] for h in ("排名", "名称", "案件数", "响应率", "解决率", "满意率", "综合得分", "退回次数")]
               for r in ws.iter_rows(min_row=2, values_only=True)]
        want = [[r["rank"], r["name"], r["cases"], r["response_rate"], r["resolution_rate"], r["satisfaction_rate"],
                 r["score"], r["returns"]] for r in result[level]]
        assert len(got) == len(want)
        for g, w in zip(got, want):  # floats are written with 15 significant digits
            assert g == [pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in w]
        assert ws.cell(2, col["响应率"] + 1).number_format == "0.0%"
        assert ws.cell(2, col["名称"] + 1).font.name == "宋体"
    units = wb["专业单位"]
    assert [c.value for c in units["B"][1:]] == ["绿化养护中心", "环卫一队", "市政设施维护处"]
    summary = [c.value for c in wb["概况"]["A"] if c.value]
    assert "有效案件（件）" in summary and any(str(v).startswith("2026年10月，全市共有有效案件 7 件") for v in summary)
    # native charts: openpyxl does not load charts back, so read the package itself
    with zipfile.ZipFile(xlsx) as z:
        charts = [n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) == 4  # one per level: each has at most ten ranked bodies
        xml = "".join(z.read(n).decode("utf-8") for n in charts)
    score = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[[c.value for c in units[1]].index("综合得分")]
    assert xml.count("<barChart>") == 4 and "综合得分" in xml
    assert f"<val><numRef><f>'专业单位'!${score}$2:${score}$3</f>" in xml
    assert "<cat><strRef><f>'专业单位'!$B$2:$B$3</f>" in xml


def test_pdf_reads_back_chinese_with_an_embedded_font(written):
    result, _, pdf = written
    reader, text = pdf_text(pdf)
    assert TITLE in text and "绿化养护中心" in text and "香港中路街道" in text
    assert "2026年10月，全市共有有效案件 7 件" in text.replace("\n", "")
    n = len(reader.pages)
    assert 1 < n < 6 and f"第 {n} 页 / 共 {n} 页" in text and "第 1 页" in text
    fonts = reader.pages[0]["/Resources"]["/Font"]
    font = next(iter(fonts.values())).get_object()
    assert font["/Subtype"] == "/Type0" and "NotoSansCJKSC" in font["/BaseFont"]
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
    assert len(descriptor["/FontFile2"].get_object().get_data()) < 500_000  # subset, not the whole font
    assert reader.metadata.title == f"《{TITLE}》"


def test_empty_month_still_writes_both_files(october, tmp_path):
    result = E.monthly(october, city_id=1, month="2027-03", as_of=AS_OF)
    xlsx, pdf = B.write_bulletin(result, city_name="青岛市", month="2027-03", out_dir=tmp_path)
    assert load_workbook(xlsx)["专业单位"].max_row == 1
    _, text = pdf_text(pdf)
    assert "全市无有效案件" in text and "本月没有专业单位有派遣案件" in text


def test_a_character_the_font_lacks_shows_as_a_box_and_is_logged(october, tmp_path, caplog):
    result = E.monthly(october, city_id=1, month="2026-10", as_of=AS_OF)
    result["unit"][0]["name"] = "绿化养护中心🌳"
    with caplog.at_level(logging.WARNING, logger="cogov.insight.bulletin"):
        _, pdf = B.write_bulletin(result, city_name="青岛市", month="2026-10", out_dir=tmp_path)
    _, text = pdf_text(pdf)
    assert "绿化养护中心□" in text
    assert any("U+1F333" in r.getMessage() for r in caplog.records)


def test_wrap_lines_keeps_numbers_whole_and_punctuation_off_the_line_start():
    def width(s):
        return len(s)
    lines = B.wrap_lines("响应率 60.0%，较上月下降 40.0 个百分点。", 10, width)
    assert "".join(lines).replace(" ", "") == "响应率60.0%，较上月下降40.0个百分点。"
    assert not any(line[:1] in B.NO_LINE_START for line in lines)
    assert all("40.0" in line or "40" not in line for line in lines)


def cogov(*argv: str) -> int:
    from cogov.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(argv))
    return e.value.code


def test_command_on_the_small_citys_case_loop(small_city, tmp_path, capsys):
    """Two reports in November: the property company sends one back and the sanitation office does both."""
    from cogov.cases.services import case_act, case_report

    c = small_city
    start = clock.now()

    def at(minutes):
        clock.freeze(start + dt.timedelta(minutes=minutes))

    def act(who, case, action, **data):
        return case_act(city_id=c.city.pk, number=case.number, actor=c.actor(who), action=action, data=data)

    sanitation, property_ = c.service_units["sanitation"], c.service_units["property"]
    cases = [case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                         lon=ON_STREET[0], lat=ON_STREET[1], description=f"路边垃圾 {i}") for i in range(2)]
    at(5)
    act("station_a", cases[0], "accept")
    act("station_a", cases[0], "dispatch", unit=property_.pk, reason="先请物业看看")
    at(10)
    act("property_crew", cases[0], "return", reason="不在物业管理范围")
    for i, case in enumerate(cases):
        at(20 + i)
        if i:
            act("station_a", case, "accept")
        act("station_a", case, "dispatch", unit=sanitation.pk)
        at(30 + i)
        act("sanitation_crew", case, "acknowledge")
        at(120 + i)
        act("sanitation_crew", case, "handle", note="已清运")
        act("citizen", case, "verify")
        act("station_a", case, "close")
        act("citizen", case, "rate", rating="satisfied" if i else "basically_satisfied")

    month = start.astimezone(clock.LOCAL_TZ).strftime("%Y-%m")
    assert cogov("insight", "bulletin", "--month", month, "--out", str(tmp_path / "out")) == 0
    out = capsys.readouterr().out
    assert "已生成" in out and "全市共有有效案件 2 件" in out
    wb = load_workbook(tmp_path / "out" / f"bulletin-{month}.xlsx")
    rows = {r[1]: r for r in wb["专业单位"].iter_rows(min_row=2, values_only=True)}
    header = [c.value for c in wb["专业单位"][1]]
    returns, response = header.index("退回次数"), header.index("响应率")
    assert rows["湛山物业"][returns] == 1 and rows["市南区环卫所"][returns] == 0
    assert rows["市南区环卫所"][response] == 1.0  # signed 10 minutes after each dispatch, within the hour
    _, text = pdf_text(tmp_path / "out" / f"bulletin-{month}.pdf")
    assert "市南区环卫所" in text and "青岛市城市管理月度通报" in text

    assert cogov("insight", "evaluate", "--month", month, "--level", "station", "--csv",
                 str(tmp_path / "s.csv")) == 0
    with open(tmp_path / "s.csv", encoding="utf-8-sig", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["name"] == "湛山社区城市治理服务站" and row["cases"] == "2" and row["resolution_rate"] == "1.0"

    assert cogov("insight", "bulletin", "--month", "2026/11", "--out", str(tmp_path)) == 2
    assert "月份格式应为 YYYY-MM" in capsys.readouterr().err
    assert cogov("insight", "evaluate", "--month", month, "--city", "9999") == 2
    assert "城市 9999 不存在" in capsys.readouterr().err
