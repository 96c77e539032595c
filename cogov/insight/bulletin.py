"""The monthly bulletin (月度通报) of units and areas, as XLSX (openpyxl) and PDF (fpdf2).

``write_bulletin(monthly_result, city_name=…, month=…, out_dir=…)`` writes ``bulletin-YYYY-MM.xlsx`` and
``bulletin-YYYY-MM.pdf`` from ``cogov.insight.evaluation.monthly``'s result:

- XLSX: 概况 (the city's figures against last month, the summary, how it is computed), 图表 (native bar
  charts of the top and bottom ten scores of each level), then one sheet per level (专业单位, 服务站, 社区,
  街道) with the full ranking — Chinese headers, rates as percentages, frozen header row, filters, set widths.
  Every sheet prints on A4 with the title as header and page numbers (docs/insight.md, "The bulletin"). Every
  cell uses 宋体 (SimSun, charset GB 2312): it comes with every Windows and with WPS Office.
- PDF: A4, title 《XX市城市管理月度通报（YYYY年M月）》, a summary written from the figures (best and worst
  bodies, 环比), the city's table, per level a vector bar chart and the 红黑榜 (top and bottom ten; all units when
  there are at most 30), page numbers. The font is the shipped Noto Sans CJK SC subset (fonts/SOURCE.md),
  embedded and subset again by fpdf2; a character outside it prints as □ and is logged, never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "NotoSansCJKsc-Regular-subset.ttf"
XLSX_FONT = "宋体"
ROW_CM = 15 / 72 * 2.54  # a default row of the workbook (15 pt) in cm
MISSING = "□"

LEVEL_NAMES = {"unit": "专业单位", "station": "服务站", "community": "社区", "subdistrict": "街道"}
PARENT_HEADER = {"unit": "职责类型", "station": "所属社区", "community": "所属街道", "subdistrict": "所属区"}
#: Where the response and handling times start, per level (docs/insight.md).
TIME_BASIS = {"unit": "派遣起", "station": "上报起", "community": "上报起", "subdistrict": "上报起"}

# (key, header, kind) of the ranking sheets; kind: int, pct, hours, score, text, delta
SHEET_COLUMNS = [
    ("rank", "排名", "int"), ("name", "名称", "text"), ("parent", None, "text"), ("cases", "案件数", "int"),
    ("response_rate", "响应率", "pct"), ("resolution_rate", "解决率", "pct"),
    ("satisfaction_rate", "满意率", "pct"), ("score", "综合得分", "score"),
    ("ontime_rate", "按期处置率", "pct"), ("rework_rate", "返工率", "pct"), ("returns", "退回次数", "int"),
    ("escalations", "升级案件", "int"),
    ("response_hours_avg", "平均响应用时（小时）", "hours"), ("response_hours_p90", "P90响应用时（小时）", "hours"),
    ("handling_hours_avg", "平均处置用时（小时）", "hours"), ("handling_hours_p90", "P90处置用时（小时）", "hours"),
    ("response_due", "应响应", "int"), ("responded", "按时响应", "int"),
    ("resolution_due", "应解决", "int"), ("resolved", "已解决", "int"),
    ("rated", "已评价", "int"), ("satisfied", "满意（含基本满意）", "int"),
    ("ontime_due", "应按期处置", "int"), ("ontime", "按期处置", "int"),
    ("handled", "已处置", "int"), ("reworked", "返工案件", "int"),
    ("prev_score", "上月得分", "score"), ("prev_rank", "上月排名", "int"),
]
UNIT_EXTRA = [("dispatches", "派遣次数", "int"), ("held", "现办案件", "int")]

CITY_FIGURES = [("cases", "有效案件（件）", "int"), ("response_rate", "响应率", "pct"),
                ("resolution_rate", "解决率", "pct"), ("satisfaction_rate", "满意率", "pct"),
                ("score", "综合得分", "score"), ("ontime_rate", "按期处置率", "pct"),
                ("rework_rate", "返工率", "pct"), ("returns", "退回（次）", "int"),
                ("escalations", "升级案件（件）", "int")]

PDF_COLUMNS = [("rank", "排名", "int", 9), ("name", "名称", "text", 44), ("cases", "案件", "int", 11),
               ("response_rate", "响应率", "pct", 13), ("resolution_rate", "解决率", "pct", 13),
               ("satisfaction_rate", "满意率", "pct", 13), ("ontime_rate", "按期率", "pct", 13),
               ("rework_rate", "返工率", "pct", 13), ("returns", "退回", "int", 10),
               ("escalations", "升级", "int", 10), ("score", "得分", "score", 12), ("delta", "环比", "text", 19)]

FORMULAS = [
    "有效案件：本月上报、未合并、未被屏蔽、未不予立案的案件；区域按案件所在位置归属，专业单位按派遣记录归属。",
    "响应率 = 按时响应数 ÷ 应响应数。专业单位每次被派遣计一次：在首次响应时限内签收或退回为按时；"
    "区域按每件案件的首次派遣计，未派遣且已超过时限的案件计为未响应；时限未到且未响应的不计入。",
    "解决率 = 已解决（核查通过或已结案）÷ 应解决（已解决，或时限已过仍未解决；挂账案件不计）。专业单位按现办案件计。",
    "满意率 = （满意 + 基本满意）÷ 已评价案件。专业单位按现办案件计。",
    "按期处置率 = 在处置时限（含批准的延期）内处置的案件 ÷ 应按期处置案件；返工率 = 返工过的案件 ÷ 已处置案件。",
    "退回、返工、升级计入当时持有案件的专业单位，即使后来由其他单位办结。",
    "综合得分 = 100 ×（30% × 响应率 + 35% × 解决率 + 35% × 满意率），某率无样本时按其余权重折算；得分相同名次并列。",
    "用时为自然小时：专业单位自派遣起，区域自上报起，至首次签收（响应）或处置（处置用时）；P90 为第 90 百分位数。",
]


def _made_at() -> dt.datetime:
    """When the bulletin is written, in the city's time (Asia/Shanghai) whatever the machine's zone."""
    from cogov import clock

    return clock.now().astimezone(clock.LOCAL_TZ)


def _month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{int(year)}年{int(mon)}月"


def title_of(city_name: str, month: str) -> str:
    """《青岛市城市管理月度通报（2026年10月）》."""
    return f"《{city_name}城市管理月度通报（{_month_label(month)}）》"


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _count(v) -> str:
    return "—" if v is None else str(v)


def _num(v, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _pp_change(now, before) -> str:
    """Change of a rate in percentage points, in words."""
    if now is None or before is None:
        return "无上月可比数据"
    d = 100 * (now - before)
    if abs(d) < 0.05:
        return "与上月持平"
    return f"较上月{'上升' if d > 0 else '下降'} {abs(d):.1f} 个百分点"


def _delta_short(row) -> str:
    """The score's change against last month for a table cell: ↑2.5 / ↓1.0 / 持平 / 新增."""
    if row.get("score") is None:
        return "—"
    if row.get("prev_score") is None:
        return "新增"
    d = row["score"] - row["prev_score"]
    return "持平" if abs(d) < 0.05 else f"{'↑' if d > 0 else '↓'}{abs(d):.1f}"


def summary_text(result: dict, month: str) -> list[str]:
    """The summary paragraphs, written from the figures."""
    city = (result.get("city") or [{}])[0]
    label = _month_label(month)
    n, prev_n = city.get("cases") or 0, city.get("prev_cases")
    if not n:
        first = f"{label}，全市无有效案件，本期不排名。"
        if prev_n:
            first += f"上月有效案件 {prev_n} 件。"
        return [first]
    trend = ""
    if prev_n:
        change = 100 * (n - prev_n) / prev_n
        trend = "，与上月持平" if abs(change) < 0.05 else f"，环比{'增长' if change > 0 else '下降'} {abs(change):.1f}%"
        trend += f"（上月 {prev_n} 件）"
    paras = [
        f"{label}，全市共有有效案件 {n} 件{trend}。响应率 {_pct(city.get('response_rate'))}，"
        f"{_pp_change(city.get('response_rate'), city.get('prev_response_rate'))}；解决率 "
        f"{_pct(city.get('resolution_rate'))}，"
        f"{_pp_change(city.get('resolution_rate'), city.get('prev_resolution_rate'))}；"
        f"满意率 {_pct(city.get('satisfaction_rate'))}，"
        f"{_pp_change(city.get('satisfaction_rate'), city.get('prev_satisfaction_rate'))}。按期处置率 "
        f"{_pct(city.get('ontime_rate'))}，返工率 {_pct(city.get('rework_rate'))}，"
        f"退回 {city.get('returns') or 0} 次，"
        f"升级 {city.get('escalations') or 0} 件。"
    ]
    parts = []
    for level, name in LEVEL_NAMES.items():
        ranked = [r for r in result.get(level, []) if r.get("rank") is not None]
        if not ranked:
            continue
        best, worst = ranked[0], ranked[-1]
        text = f"{name}（{len(ranked)} 个参与排名）中综合得分最高的是{best['name']}（{best['score']:.1f} 分"
        if best.get("prev_rank"):
            text += f"，上月第 {best['prev_rank']} 名"
        text += "）"
        if len(ranked) > 1:
            text += f"，最低的是{worst['name']}（{worst['score']:.1f} 分"
            if worst.get("prev_score") is not None:
                text += f"，{_delta_phrase(worst)}"
            text += "）"
        movers = [r for r in ranked if r.get("prev_score") is not None]
        if movers:
            up = max(movers, key=lambda r: r["score"] - r["prev_score"])
            if up["score"] - up["prev_score"] >= 0.05:
                text += f"；进步最大的是{up['name']}（{_delta_phrase(up)}）"
        parts.append(text)
    if parts:
        paras.append("；".join(parts) + "。")
    return paras


def _delta_phrase(row) -> str:
    d = row["score"] - row["prev_score"]
    return "得分与上月持平" if abs(d) < 0.05 else f"得分较上月{'提高' if d > 0 else '降低'} {abs(d):.1f} 分"


def write_bulletin(result: dict, *, city_name: str, month: str, out_dir) -> tuple[Path, Path]:
    """Write ``bulletin-<month>.xlsx`` and ``bulletin-<month>.pdf`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    xlsx_path = out / f"bulletin-{month}.xlsx"
    pdf_path = out / f"bulletin-{month}.pdf"
    write_xlsx(result, city_name=city_name, month=month, path=xlsx_path)
    write_pdf(result, city_name=city_name, month=month, path=pdf_path)
    return xlsx_path, pdf_path


# ----------------------------------------------------------------------------------------------------- XLSX

def _columns_for(level: str) -> list[tuple[str, str, str]]:
    cols = [(k, h or PARENT_HEADER[level], kind) for k, h, kind in SHEET_COLUMNS]
    if level == "unit":
        cols[4:4] = UNIT_EXTRA
    basis = TIME_BASIS[level]
    return [(k, h.replace("用时（", f"用时（{basis}，") if "用时" in h else h, kind) for k, h, kind in cols]


_FORMATS = {"pct": "0.0%", "hours": "0.0", "score": "0.0", "int": "0"}
_WIDTHS = {"pct": 11, "hours": 14, "score": 10, "int": 9}


def _print_setup(ws, city_name: str, month: str, *, landscape: bool) -> None:
    """A4, the bulletin's title as page header and 「第 n 页，共 N 页」 as footer. 概况 and 图表 (portrait) are
    scaled to one page wide; a ranking sheet (landscape) runs over as many pages as it needs, left to right
    first, each page repeating the header row and the rank and name columns (set by the caller)."""
    from openpyxl.worksheet.page import PageMargins

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    if landscape:
        ws.page_setup.pageOrder = "overThenDown"
    else:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.75, bottom=0.75, header=0.3, footer=0.3)
    ws.oddHeader.center.text = f"{title_of(city_name, month)}　{ws.title}"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


#: Rows of the 图表 sheet on one printed page: 25 cm of the 25.9 cm between the margins of a portrait A4.
PAGE_ROWS = int(25 / ROW_CM)


def _chart_cm(bars: int) -> float:
    """The height of an XLSX bar chart of ``bars`` bars: room for every name on its own line."""
    return 3 + 0.8 * bars


def _chart_rows(bars: int) -> int:
    """The rows of the 图表 sheet a chart of ``bars`` bars takes, with one empty row after it."""
    return math.ceil(_chart_cm(bars) / ROW_CM) + 1


def _cell_value(level: str, key: str, value):
    """A ranking cell: a unit's duty type in Chinese (环卫, not the stored code ``sanitation``)."""
    if level == "unit" and key == "parent":
        from cogov.people.roles import DUTY_NAMES

        return DUTY_NAMES.get(value, value)
    return value


def write_xlsx(result: dict, *, city_name: str, month: str, path) -> Path:
    """The workbook: 概况, 图表 (the bar charts) and one ranking sheet per level."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.chart.data_source import AxDataSource, NumData, NumVal, StrData, StrRef, StrVal
    from openpyxl.chart.label import DataLabelList
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.pagebreak import Break

    def font(**kw):
        return Font(name=XLSX_FONT, charset=134, **kw)

    header_fill = PatternFill("solid", fgColor="DDEBF7")
    thin = Side(style="thin", color="BFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")

    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    ws["A1"] = title_of(city_name, month)
    ws["A1"].font = font(size=16, bold=True)
    ws["A2"] = f"统计月份：{_month_label(month)}　　生成时间：{_made_at():%Y-%m-%d %H:%M}"
    ws["A2"].font = font(size=10, color="595959")
    ws.append([])
    ws.append(["指标", "本月", "上月", "环比"])
    head_row = ws.max_row
    city = (result.get("city") or [{}])[0]
    for key, label, kind in CITY_FIGURES:
        now, before = city.get(key), city.get(f"prev_{key}")
        if kind in ("pct", "score"):
            change = None if now is None or before is None else now - before
        elif now is not None and before:
            change = (now - before) / before
        else:
            change = None
        ws.append([label, now, before, change])
        r = ws.max_row
        for col in (2, 3):
            ws.cell(r, col).number_format = _FORMATS[kind]
        # a rate's change is in percentage points; a count's or a score's is relative
        ws.cell(r, 4).number_format = {"pct": '+0.0" 个百分点";-0.0" 个百分点";"持平"',
                                       "score": '+0.0" 分";-0.0" 分";"持平"'}.get(kind, "+0.0%;-0.0%;0.0%")
        if kind == "pct" and change is not None:
            ws.cell(r, 4).value = 100 * change
    for row in ws.iter_rows(min_row=head_row, max_row=ws.max_row, max_col=4):
        for cell in row:
            cell.border = border
            cell.font = font(bold=cell.row == head_row)
            if cell.row == head_row:
                cell.fill = header_fill
    ws.append([])
    ws.append(["情况摘要"])
    ws.cell(ws.max_row, 1).font = font(size=12, bold=True)
    for para in summary_text(result, month):
        ws.append([para])
        r = ws.max_row
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=8)
        ws.cell(r, 1).alignment = wrap
        ws.cell(r, 1).font = font()
        ws.row_dimensions[r].height = 15 * (1 + len(para) // 60)
    ws.append([])
    ws.append(["计算口径"])
    ws.cell(ws.max_row, 1).font = font(size=12, bold=True)
    for line in FORMULAS:
        ws.append([line])
        r = ws.max_row
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=8)
        ws.cell(r, 1).alignment = wrap
        ws.cell(r, 1).font = font(size=10)
        ws.row_dimensions[r].height = 15 * (1 + len(line) // 60)
    ws.column_dimensions["A"].width = 22
    for col in "BCDEFGH":
        ws.column_dimensions[col].width = 14
    _print_setup(ws, city_name, month, landscape=False)
    ws.print_area = f"A1:H{ws.max_row}"

    charted = []  # (level, its sheet, its columns, its rows, how many are ranked)
    for level, sheet_name in LEVEL_NAMES.items():
        rows = result.get(level, [])
        ws = wb.create_sheet(sheet_name)
        cols = _columns_for(level)
        ws.append([h for _, h, _ in cols])
        for r in rows:
            ws.append([_cell_value(level, k, r.get(k)) for k, _, _ in cols])
        for j, (key, header, kind) in enumerate(cols, start=1):
            letter = get_column_letter(j)
            head = ws.cell(1, j)
            head.font = font(bold=True)
            head.fill = header_fill
            head.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
            head.border = border
            for i in range(2, len(rows) + 2):
                cell = ws.cell(i, j)
                cell.font = font()
                cell.border = border
                if kind in _FORMATS:
                    cell.number_format = _FORMATS[kind]
            if key == "name":
                width = max([12] + [min(40, 2 * len(str(r.get("name") or "")) + 2) for r in rows])
            elif kind == "text":
                shown = [str(_cell_value(level, key, r.get(key)) or "") for r in rows]
                width = max([10] + [min(30, 2 * len(v) + 2) for v in shown])
            else:
                width = _WIDTHS[kind]
            ws.column_dimensions[letter].width = width
        ws.row_dimensions[1].height = 45
        ws.freeze_panes = "C2"
        _print_setup(ws, city_name, month, landscape=True)
        ws.print_title_rows = "1:1"  # every printed page carries the headers and the rank and name
        ws.print_title_cols = "A:B"
        if rows:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{len(rows) + 1}"
        ranked = sum(1 for r in rows if r.get("rank") is not None)
        if ranked:
            charted.append((level, ws, cols, rows, ranked))

    # the charts on a sheet of their own, second in the workbook, a level's charts never cut by a page break:
    # beside a table of 30 columns nobody saw them, and printed they were cut across pages
    ws = wb.create_sheet("图表", 1)
    ws["A1"] = f"{title_of(city_name, month)}　综合得分排名图"
    ws["A1"].font = font(size=12, bold=True)
    row = page_top = 3
    for level, table, cols, rows, ranked in charted:
        sheet_name = LEVEL_NAMES[level]
        score_col = 1 + [k for k, _, _ in cols].index("score")
        name_col = 1 + [k for k, _, _ in cols].index("name")
        blocks = [("前十名", 2, min(ranked, 10) + 1)]
        if ranked > 10:
            blocks.append(("后十名", ranked - 8, ranked + 1))
        # a level's charts are never cut by a page break: a new page when they do not fit on this one
        needed = sum(_chart_rows(last - first + 1) for _, first, last in blocks)
        if row > page_top and row - page_top + needed > PAGE_ROWS:
            ws.row_breaks.append(Break(id=row - 1))
            page_top = row
        for n, (what, first, last) in enumerate(blocks):
            chart = BarChart()
            chart.type = "bar"  # horizontal bars: names stay readable
            chart.style = 10
            chart.title = f"{sheet_name}综合得分{what}" if ranked > 10 else f"{sheet_name}综合得分"
            chart.y_axis.title = "综合得分"
            chart.y_axis.scaling.min = 0
            chart.y_axis.scaling.max = 100
            chart.x_axis.scaling.orientation = "maxMin"  # rank 1 at the top …
            chart.y_axis.crosses = "max"  # … and the score axis stays at the bottom
            chart.legend = None
            scores = Reference(table, min_col=score_col, min_row=first, max_row=last)
            chart.add_data(scores, titles_from_data=False)
            # names as text categories (strRef), as Excel itself writes them; both with the cached values
            # Excel writes too, so a viewer that does not read the cells (previews, PowerPoint) draws them
            names = Reference(table, min_col=name_col, min_row=first, max_row=last)
            block = rows[first - 2:last - 1]
            series = chart.series[0]
            series.val.numRef.numCache = NumData(formatCode="0.0", ptCount=len(block), pt=[
                NumVal(idx=i, v=r["score"]) for i, r in enumerate(block) if r.get("score") is not None])
            series.cat = AxDataSource(strRef=StrRef(f=str(names), strCache=StrData(ptCount=len(block), pt=[
                StrVal(idx=i, v=str(r.get("name") or "")) for i, r in enumerate(block)])))
            series.graphicalProperties.solidFill = "2E72C4" if n == 0 else "D6604D"
            series.dLbls = DataLabelList(showVal=True, showSerName=False, showCatName=False,
                                         showLegendKey=False, showPercent=False, numFmt="0.0")
            chart.x_axis.delete = False  # openpyxl 3.1 otherwise leaves the axes out
            chart.y_axis.delete = False
            chart.x_axis.axPos = "l"  # horizontal bars: the names on the left, the scores along the bottom
            chart.x_axis.tickLblSkip = 1  # every name, not every other one
            chart.y_axis.axPos = "b"
            chart.y_axis.number_format = "0"
            chart.y_axis.majorUnit = 20
            chart.height = _chart_cm(last - first + 1)
            chart.width = 18
            ws.add_chart(chart, f"A{row}")
            row += _chart_rows(last - first + 1)
    if not charted:
        ws["A3"] = "本月没有参与排名的单位或区域。"
        ws["A3"].font = font()
    _print_setup(ws, city_name, month, landscape=False)
    ws.print_area = f"A1:K{max(row, 3)}"  # 11 columns of the default width hold a chart 18 cm wide
    wb.properties.title = title_of(city_name, month)
    wb.properties.creator = "cogov"
    wb.properties.language = "zh-CN"
    wb.save(path)
    return Path(path)


# ------------------------------------------------------------------------------------------------------ PDF

@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(str(FONT_PATH), lazy=True) as f:
        return frozenset(f.getBestCmap())


def safe_text(text: str) -> str:
    """``text`` with every character the shipped font lacks replaced by □ (logged once per call)."""
    chars = _font_chars()
    missing = sorted({c for c in text if ord(c) not in chars and c not in "\n\t"})
    if not missing:
        return text
    log.warning("通报字体缺少字符，已用 %s 代替：%s", MISSING, " ".join(f"{c}(U+{ord(c):04X})" for c in missing))
    return "".join(MISSING if c in missing else c for c in text)


#: Punctuation that may not begin a line (避头点) and that may not end one (避尾点), GB/T 15834 practice.
NO_LINE_START = set("，。、；：！？）》」』”’〕】〉%‰…—·,.;:!?)]}")
NO_LINE_END = set("（《「『“‘〔【〈([{")


def wrap_lines(text: str, width: float, measure) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (``measure(str) -> width``): Chinese may break
    between any two characters, a run of Latin letters and digits (``40.0``, ``85.0%``) is never split, closing
    punctuation hangs at the end of the line rather than start the next, opening punctuation goes down with
    the character it opens."""
    tokens: list[str] = []
    for ch in text:
        if tokens and (ch.isascii() and ch.isalnum() or ch in ".%+-") and tokens[-1][-1:].isascii() \
                and (tokens[-1][-1].isalnum() or tokens[-1][-1] in ".%+-"):
            tokens[-1] += ch
        elif tokens and (ch in NO_LINE_START or tokens[-1][-1] in NO_LINE_END):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    lines, line = [], ""
    for tok in tokens:
        hanging = tok.rstrip("".join(NO_LINE_START))  # closing punctuation may stick out of the line
        if line and measure(line + tok) > width and measure(line + hanging) > width:
            lines.append(line.rstrip())
            line = tok.lstrip(" ")
        else:
            line += tok
    if line or not lines:
        lines.append(line.rstrip())
    return lines


def _pdf_cell(key: str, kind: str, row: dict) -> str:
    if key == "delta":
        return _delta_short(row)
    v = row.get(key)
    if v is None:
        return "—"
    if kind == "pct":
        return _pct(v)
    if kind == "score":
        return _num(v)
    return str(v)


def write_pdf(result: dict, *, city_name: str, month: str, path) -> Path:
    """The PDF bulletin (A4 portrait)."""
    from fpdf import FPDF
    from fpdf.enums import Align, TableCellFillMode, WrapMode, XPos, YPos
    from fpdf.fonts import FontFace

    title = title_of(city_name, month)

    class Bulletin(FPDF):
        def footer(self):
            self.set_y(-12)
            self.set_font("cjk", size=8)
            self.set_text_color(110)
            self.cell(0, 6, f"{city_name}城市管理月度通报　第 {self.page_no()} 页 / 共 {{nb}} 页",
                      align="C")
            self.set_text_color(0)

    pdf = Bulletin(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font("cjk", "", str(FONT_PATH))
    pdf.set_title(safe_text(title))
    pdf.set_author("cogov")
    pdf.set_creator("cogov.insight.bulletin")
    pdf.set_lang("zh-CN")
    pdf.alias_nb_pages()
    pdf.add_page()

    def heading(text: str, size: float = 13) -> None:
        pdf.ln(2)
        pdf.set_font("cjk", size=size)
        with pdf.local_context(text_mode="FILL_STROKE", line_width=0.18 * size / 13):  # the font has no bold
            pdf.cell(0, size * 0.6, safe_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)

    def para(text: str, size: float = 10.5) -> None:
        pdf.set_font("cjk", size=size)
        for line in wrap_lines(safe_text("　　" + text), pdf.epw, pdf.get_string_width):
            pdf.cell(0, size * 0.55, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    pdf.set_font("cjk", size=18)
    with pdf.local_context(text_mode="FILL_STROKE", line_width=0.3):
        pdf.multi_cell(0, 11, safe_text(title), align=Align.C, wrapmode=WrapMode.CHAR,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=9)
    pdf.set_text_color(90)
    made = f"统计月份：{_month_label(month)}　　生成：{_made_at():%Y-%m-%d %H:%M}　　cogov 城市治理平台"
    pdf.cell(0, 6, safe_text(made), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(3)

    heading("一、总体情况")
    for text in summary_text(result, month):
        para(text)
    city = (result.get("city") or [{}])[0]
    head_style = FontFace(emphasis="NONE", fill_color=(221, 235, 247))
    pdf.set_font("cjk", size=9)
    with pdf.table(col_widths=(50, 35, 35, 60), width=180, text_align=("LEFT", "RIGHT", "RIGHT", "LEFT"),
                   headings_style=head_style, line_height=5.5, wrapmode=WrapMode.CHAR) as table:
        table.row(["指标", "本月", "上月", "环比"])
        for key, label, kind in CITY_FIGURES:
            now, before = city.get(key), city.get(f"prev_{key}")
            fmt = {"pct": _pct, "score": _num}.get(kind, _count)
            if kind == "pct":
                change = _pp_change(now, before).replace("较上月", "")
            elif kind == "score":
                change = "—" if now is None or before is None else f"{now - before:+.1f} 分"
            elif now is not None and before:
                change = f"{100 * (now - before) / before:+.1f}%"
            else:
                change = "—"
            table.row([safe_text(label), fmt(now), fmt(before), safe_text(change)])

    number = "二三四五"
    for i, (level, name) in enumerate(LEVEL_NAMES.items()):
        rows = result.get(level, [])
        ranked = [r for r in rows if r.get("rank") is not None]
        # the heading stays with its note and its first chart (or the short note of an empty level)
        first_chart = _chart_height(min(len(ranked), 10)) if ranked else 0
        pdf.add_page() if pdf.get_y() + 4 + 22 + first_chart > pdf.page_break_trigger else pdf.ln(4)
        heading(f"{number[i]}、{name}排名")
        if not rows:
            para(f"本月没有{name}有{'派遣' if level == 'unit' else ''}案件。")
            continue
        unranked = len(rows) - len(ranked)
        note = f"共 {len(rows)} 个{name}有案件，{len(ranked)} 个参与排名"
        if unranked:
            note += f"（{unranked} 个本月尚无到期指标，不排名）"
        para(note + "。完整名单见同名 XLSX 文件。")
        if ranked:
            _bar_chart(pdf, ranked[:10], f"{name}综合得分前十名" if len(ranked) > 10 else f"{name}综合得分",
                       (46, 114, 196))
            if len(ranked) > 10:
                _bar_chart(pdf, ranked[-10:], f"{name}综合得分后十名", (214, 96, 77))
        if len(ranked) <= 30 and level == "unit":
            blocks = [("", ranked)]
        elif len(ranked) > 20:
            blocks = [("红榜（前十名）", ranked[:10]), ("黑榜（后十名）", ranked[-10:])]
        else:
            blocks = [("", ranked)]
        for label, block in blocks:
            if not block:
                continue
            if len(block) <= 10 and pdf.get_y() + 7 + 4.6 * (len(block) + 1) > pdf.page_break_trigger:
                pdf.add_page()  # a red or black list of ten is not split (nor its label left alone)
            if label:
                pdf.set_font("cjk", size=10)
                pdf.cell(0, 7, safe_text(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font("cjk", size=8)
            with pdf.table(col_widths=[w for *_, w in PDF_COLUMNS], width=180, headings_style=head_style,
                           text_align=["CENTER", "LEFT"] + ["RIGHT"] * (len(PDF_COLUMNS) - 2),
                           line_height=4.6, wrapmode=WrapMode.CHAR, cell_fill_color=(245, 245, 245),
                           cell_fill_mode=TableCellFillMode.ROWS) as table:
                table.row([h for _, h, _, _ in PDF_COLUMNS])
                for r in block:
                    table.row([safe_text(_pdf_cell(k, kind, r)) for k, _, kind, _ in PDF_COLUMNS])
            pdf.ln(3)

    pdf.add_page() if pdf.get_y() > 210 else pdf.ln(4)
    heading("六、计算口径")
    for line in FORMULAS:
        para(line, size=9)
    pdf.output(str(path))
    return Path(path)


BAR_H, BAR_GAP = 5.0, 1.6


def _chart_height(n: int) -> float:
    """The height (mm) of ``_bar_chart`` with ``n`` bars: title, bars, axis labels."""
    return 10 + n * (BAR_H + BAR_GAP) + 8


def _bar_chart(pdf, rows: list[dict], title: str, color: tuple[int, int, int]) -> None:
    """A horizontal bar chart of the score (0–100), drawn with vector rectangles and lines."""
    from fpdf.enums import XPos, YPos

    bar_h, gap, label_w, plot_w = BAR_H, BAR_GAP, 48.0, 112.0
    height = _chart_height(len(rows))
    if pdf.get_y() + height > pdf.h - 20:
        pdf.add_page()
    x0, y = pdf.l_margin, pdf.get_y()
    pdf.set_font("cjk", size=9.5)
    pdf.cell(0, 6, safe_text(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y += 8
    px = x0 + label_w
    pdf.set_draw_color(200)
    pdf.set_line_width(0.1)
    pdf.set_font("cjk", size=7)
    plot_bottom = y + len(rows) * (bar_h + gap)
    for tick in range(0, 101, 20):
        tx = px + plot_w * tick / 100
        pdf.line(tx, y - 1, tx, plot_bottom)
        pdf.set_xy(tx - 5, plot_bottom + 0.5)
        pdf.cell(10, 3.5, str(tick), align="C")
    pdf.set_fill_color(*color)
    for i, r in enumerate(rows):
        by = y + i * (bar_h + gap)
        pdf.set_font("cjk", size=7.5)
        name = str(r.get("name") or "")
        label = f"{r['rank']}. {name if len(name) <= 14 else name[:13] + '…'}"
        pdf.set_xy(x0, by)
        pdf.cell(label_w - 2, bar_h, safe_text(label), align="R")
        w = plot_w * max(0.0, min(100.0, r["score"])) / 100
        if w > 0:
            pdf.rect(px, by + 0.4, w, bar_h - 0.8, style="F")
        pdf.set_xy(px + w + 1, by)
        pdf.cell(14, bar_h, f"{r['score']:.1f}")
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)
    pdf.set_xy(x0, plot_bottom + 6)
