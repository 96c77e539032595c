"""The monthly bulletin: both files are written, and read back — the workbook with openpyxl (sheets, Chinese
headers, the same numbers as ``monthly()``, native charts), the PDF with pypdf (Chinese text extracts, the
font is embedded, the page numbers agree). Last, the whole command on the small city's real case loop."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import shutil
import subprocess
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
    assert wb.sheetnames == ["概况", "图表", "专业单位", "服务站", "社区", "街道"]
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
    assert [c.value for c in units["C"][1:]] == ["环卫"] * 3  # the duty type in Chinese, not "sanitation"
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


def test_workbook_prints_on_a4_with_page_numbers_and_repeated_headers(written):
    """Without a page setup LibreOffice 7.4 printed the ranking sheets in portrait, the names only on the
    first of several pages across, 概况 cut in two down the middle, and no page numbers anywhere."""
    _, xlsx, _ = written
    wb = load_workbook(xlsx)
    for ws in wb:
        assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 == "9"
        assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text
        assert TITLE in ws.oddHeader.center.text and ws.title in ws.oddHeader.center.text
    for front in (wb["概况"], wb["图表"]):
        assert front.page_setup.orientation == "portrait" and front.sheet_properties.pageSetUpPr.fitToPage
        assert (front.page_setup.fitToWidth, front.page_setup.fitToHeight) == (1, 0)  # 1 page wide, n long
    front = wb["概况"]
    assert front.print_area == f"'概况'!$A$1:$H${front.max_row}"
    for sheet in B.LEVEL_NAMES.values():
        ws = wb[sheet]
        assert ws.page_setup.orientation == "landscape"
        assert (ws.print_title_rows, ws.print_title_cols) == ("$1:$1", "$A:$B")
    rates = {r[0].value: r for r in front.iter_rows(min_row=4, max_col=4) if r[0].value}
    assert [c.number_format for c in rates["响应率"][1:3]] == ["0.0%", "0.0%"]
    assert rates["响应率"][3].number_format.startswith('+0.0" 个百分点"')
    assert rates["响应率"][3].value == pytest.approx(100 * (rates["响应率"][1].value - rates["响应率"][2].value))


def charts_of(xlsx) -> list[dict]:
    """Every chart of the workbook: title, the ranges of its names and scores, the values cached in it, and
    whether it labels the bars with their values."""
    import xml.etree.ElementTree as ET

    ns = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
          "a": "http://schemas.openxmlformats.org/drawingml/2006/main"}
    out = []
    with zipfile.ZipFile(xlsx) as z:
        for name in sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)):
            root = ET.fromstring(z.read(name))
            (ser,) = root.iterfind(".//c:ser", ns)
            labels = ser.find("c:dLbls/c:showVal", ns)
            out.append({
                "title": "".join(t.text for t in root.find("c:chart/c:title", ns).iterfind(".//a:t", ns)),
                "cat": ser.findtext("c:cat/c:strRef/c:f", namespaces=ns),
                "val": ser.findtext("c:val/c:numRef/c:f", namespaces=ns),
                "names": [v.text for v in ser.iterfind("c:cat/c:strRef/c:strCache/c:pt/c:v", ns)],
                "scores": [float(v.text) for v in ser.iterfind("c:val/c:numRef/c:numCache/c:pt/c:v", ns)],
                "labels": labels is not None and labels.get("val") == "1",
                "value_axis_at": root.find(".//c:valAx/c:axPos", ns).get("val"),
            })
    return out


def cells(wb, ref: str) -> list:
    from openpyxl.utils import range_boundaries

    sheet, rng = ref.split("!")
    col, first, _, last = range_boundaries(rng.replace("$", ""))
    return [row[0] for row in wb[sheet.strip("'")].iter_rows(min_row=first, max_row=last, min_col=col,
                                                                max_col=col, values_only=True)]


def test_charts_of_a_long_ranking_show_the_top_and_the_bottom_ten(october, tmp_path):
    """23 ranked units and 2 without a score: the charts take ranks 1–10 and 14–23, never the unranked rows,
    and carry the names and scores themselves (for viewers that do not read the cells)."""
    result = E.monthly(october, city_id=1, month="2026-10", as_of=AS_OF)
    base = result["unit"][0]
    rows = [dict(base, name=f"第{i + 1}清扫队", score=95.0 - 2.5 * i, rank=i + 1) for i in range(23)]
    rows += [dict(base, name=f"新建{i}队", score=None, rank=None) for i in range(2)]
    result["unit"] = rows
    xlsx, _ = B.write_bulletin(result, city_name="青岛市", month="2026-10", out_dir=tmp_path)
    wb = load_workbook(xlsx)
    units = [c for c in charts_of(xlsx) if c["cat"].startswith("'专业单位'")]
    assert [c["title"] for c in units] == ["专业单位综合得分前十名", "专业单位综合得分后十名"]
    score = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[[c.value for c in wb["专业单位"][1]].index("综合得分")]
    assert [(c["cat"], c["val"]) for c in units] == [
        ("'专业单位'!$B$2:$B$11", f"'专业单位'!${score}$2:${score}$11"),
        ("'专业单位'!$B$15:$B$24", f"'专业单位'!${score}$15:${score}$24")]
    for chart, ranks in zip(units, (range(0, 10), range(13, 23))):
        assert chart["names"] == cells(wb, chart["cat"]) == [rows[i]["name"] for i in ranks]
        assert chart["scores"] == cells(wb, chart["val"]) == [rows[i]["score"] for i in ranks]
        assert chart["labels"] and chart["value_axis_at"] == "b"
    for chart in charts_of(xlsx):  # the other levels: one chart each, all their ranked bodies
        assert chart["names"] == cells(wb, chart["cat"]) and chart["scores"] == cells(wb, chart["val"])


def long_month(october) -> dict:
    """October with 35 units, 25 stations, 14 communities and 8 sub-districts (copies of the first row of each
    level, named 专业单位1号 …, scores falling by one point a rank)."""
    result = E.monthly(october, city_id=1, month="2026-10", as_of=AS_OF)
    for level, n in (("unit", 35), ("station", 25), ("community", 14), ("subdistrict", 8)):
        base = result[level][0]
        result[level] = [dict(base, name=f"{B.LEVEL_NAMES[level]}{i + 1}号", score=99.0 - i, rank=i + 1)
                         for i in range(n)]
    return result


def test_chart_sheet_pages_never_cut_a_chart(october, tmp_path):
    """On the 图表 sheet every chart lies within one printed page: page breaks fall between charts, and no page
    holds more than a portrait A4 has room for between its margins. (Beside the ranking table, LibreOffice
    printed the charts cut in two, across pages.)"""
    import xml.etree.ElementTree as ET

    xlsx, _ = B.write_bulletin(long_month(october), city_name="青岛市", month="2026-10", out_dir=tmp_path)
    ws = load_workbook(xlsx)["图表"]
    ns = {"x": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"}
    row_emu = 15 * 12700  # a 15 pt row
    with zipfile.ZipFile(xlsx) as z:
        rels = z.read("xl/worksheets/_rels/sheet2.xml.rels").decode()  # 图表 is the second sheet
        drawing = re.search(r'Target="/?(xl/drawings/drawing\d+\.xml)"', rels).group(1)
        anchors = ET.fromstring(z.read(drawing)).findall("x:oneCellAnchor", ns)
    charts = []  # (first row, last row), 1-based
    for a in anchors:
        first = int(a.find("x:from/x:row", ns).text) + 1
        charts.append((first, first + -(-int(a.find("x:ext", ns).get("cy")) // row_emu) - 1))
    assert len(charts) == 7  # top and bottom ten of three levels, one chart of the 8 sub-districts
    breaks = [b.id for b in ws.row_breaks.brk]  # a break after row id
    assert breaks and not any(first <= b < last for b in breaks for first, last in charts)
    m = ws.page_margins
    page_rows = (29.7 / 2.54 - m.top - m.bottom) * 72 / 15
    bounds = [0] + breaks + [max(last for _, last in charts)]
    assert all(b - a <= page_rows for a, b in zip(bounds, bounds[1:]))


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_workbook_and_prints_it(written, tmp_path):
    """LibreOffice Calc, the nearest to Excel and WPS that runs here, opens the workbook and prints it to PDF:
    the Chinese headings and figures come out as text, on A4 — 概况 and 图表 portrait, the rankings landscape —
    with 「第 n 页，共 N 页」 in the footer. (It does not show how the glyphs look: see docs/insight.md.)"""
    _, xlsx, _ = written
    run = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                          "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
                         capture_output=True, text=True, timeout=120)
    pdf = tmp_path / "bulletin-2026-10.pdf"
    assert run.returncode == 0 and pdf.is_file(), run.stdout + run.stderr
    reader, text = pdf_text(pdf)
    flat = re.sub(r"\s", "", text)
    for expected in (TITLE, "综合得分排名图", "专业单位综合得分", "街道综合得分", "绿化养护中心", "职责类型", "环卫",
                     "按期处置率", "60.0%", "-40.0个百分点", "计算口径", "满意率=（满意+基本满意）÷已评价案件"):
        assert expected in flat, expected
    n = len(reader.pages)
    assert f"第1页，共{n}页" in flat and f"第{n}页，共{n}页" in flat
    sizes = [(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages]
    assert sizes[0] == sizes[1] == (595, 842)  # 概况 and 图表 (four small charts on one page): A4 portrait
    assert sizes[2] == sizes[-1] == (842, 595)  # 专业单位 … 街道: A4 landscape


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


def test_pdf_keeps_headings_with_their_charts_and_ten_name_lists_whole(october, tmp_path):
    """A level's heading is on the page of its first chart; the 红榜 and the 黑榜 (ten rows each) are not split
    across pages. (Rendered, the stations' 黑榜 had its label, header and two rows at the foot of a page.)"""
    _, pdf = B.write_bulletin(long_month(october), city_name="青岛市", month="2026-10", out_dir=tmp_path)
    pages = [re.sub(r"\s", "", p.extract_text()) for p in PdfReader(pdf).pages]

    def page_of(text: str) -> int:
        (found,) = [i for i, page in enumerate(pages) if text in page]
        return found

    for i, (level, name) in enumerate(B.LEVEL_NAMES.items()):
        chart = f"{name}综合得分前十名" if level != "subdistrict" else f"{name}综合得分"
        assert page_of(f"{'二三四五'[i]}、{name}排名") == page_of(chart)
    for name, n in (("专业单位", 35), ("服务站", 25)):  # more than 20 ranked: 红榜 and 黑榜
        section = page_of(f"{name}排名")
        for label, first, last in (("红榜（前十名）", 1, 10), ("黑榜（后十名）", n - 9, n)):
            block = next(i for i, page in enumerate(pages) if label in page and i >= section)
            # a table row reads 「25服务站25号…」; the chart's label 「25. 服务站25号」 has a point
            assert all(f"{k}{name}{k}号" in pages[block] for k in (first, last)), (label, name)


def test_the_time_written_is_the_citys_whatever_the_machines_zone(october, tmp_path):
    result = E.monthly(october, city_id=1, month="2026-10", as_of=AS_OF)
    clock.freeze(dt.datetime(2026, 11, 4, 17, 30, tzinfo=dt.UTC))  # 01:30 on 5 November in Qingdao
    try:
        xlsx, pdf = B.write_bulletin(result, city_name="青岛市", month="2026-10", out_dir=tmp_path)
    finally:
        clock.freeze(None)
    assert "生成时间：2026-11-05 01:30" in load_workbook(xlsx)["概况"]["A2"].value
    assert "生成：2026-11-05 01:30" in pdf_text(pdf)[1]


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
    capsys.readouterr()
    assert cogov("insight", "evaluate", "--month", month, "--top", "1") == 0  # the printed table only
    out = capsys.readouterr().out
    assert "显示前 1 个" in out and "市南区环卫所" in out and "湛山物业" not in out
    assert cogov("insight", "evaluate", "--month", month, "--top", "0") == 2
    assert "--top 至少为 1" in capsys.readouterr().err
