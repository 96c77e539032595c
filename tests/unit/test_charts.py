"""Server-side SVG charts: valid XML, escaped text, values to scale, something sensible when there is no data."""

from __future__ import annotations

import ast
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cogov.web import charts
from cogov.web.charts import MapArea, MapDot, bar_chart, line_chart, map_chart, nice_ceiling

NS = {"s": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    title = root.find("s:title", NS)
    assert title is not None and title.text
    assert root.get("aria-labelledby").split()[0] == title.get("id")
    return root


def test_charts_module_is_plain_python():
    tree = ast.parse(Path(charts.__file__).read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith(("django", "cogov"))]


@pytest.mark.parametrize("value, top", [(0, 1), (-3, 1), (0.7, 1), (1, 1), (3, 5), (7, 10), (11, 20), (21, 25),
                                        (240, 250), (251, 500), (1000, 1000), (float("nan"), 1)])
def test_axis_tops_are_round_numbers(value, top):
    assert nice_ceiling(value) == top


def test_bar_lengths_are_proportional_to_the_values():
    svg = bar_chart([("暴露垃圾", 40), ("占道经营", 20), ("井盖破损", 10), ("无", 0)], title="类别", width=500,
                    label_width=150)
    root = parse(svg)
    widths = [float(r.get("width")) for r in root.iter(SVG + "rect")]
    assert len(widths) == 4
    assert widths[0] == pytest.approx(500 - 150 - 56)  # the largest fills the plot
    assert widths[1] == pytest.approx(widths[0] / 2)
    assert widths[2] == pytest.approx(widths[0] / 4)
    assert widths[3] == 0
    titles = [t.text for t in root.iter(SVG + "title")]
    assert "暴露垃圾：40" in titles and "无：0" in titles
    # one row each: the box grows with the rows
    assert float(root.get("height")) > float(parse(bar_chart([("a", 1)], title="t")).get("height"))


def test_long_labels_are_cut_but_kept_whole_in_the_title():
    label = "城市管理类超长的类别名称用于测试截断"
    root = parse(bar_chart([(label, 3)], title="t", label_chars=6))
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "城市管理类…" in texts
    assert f"{label}：3" in [t.text for t in root.iter(SVG + "title")]


def test_text_from_data_is_escaped_everywhere():
    evil = '<script>alert("x")</script>&'
    svgs = [
        bar_chart([(evil, 1)], title=evil),
        line_chart([evil, "b"], [(evil, [1, 2])], title=evil),
        map_chart([MapArea(evil, [[(0, 0), (1, 0), (1, 1), (0, 1)]], label_at=(0.5, 0.5), href='/x?"a"<b>', note=evil)],
                  [MapDot(0.5, 0.5, "red", evil, href="/work/cases/1/?a=1&b=<2>")], title=evil),
    ]
    for svg in svgs:
        assert "<script" not in svg
        assert "&lt;script&gt;" in svg
        root = parse(svg)  # still well-formed XML
        assert root.find("s:title", NS).text == evil
        assert not list(root.iter(SVG + "script")) and not list(root.iter("script"))
    links = [a.get("href") for a in ET.fromstring(svgs[2]).iter(SVG + "a")]
    assert '/x?"a"<b>' in links and "/work/cases/1/?a=1&b=<2>" in links


def test_characters_xml_forbids_are_dropped():
    root = parse(bar_chart([("坏\x00字\x1b符", 1)], title="t\x07"))
    assert root.find("s:title", NS).text == "t"
    assert "坏字符" in [t.text for t in root.iter(SVG + "text")]


def test_empty_data_draws_a_message_not_an_error():
    for svg in (bar_chart([], title="类别"), line_chart([], [("上报", [])], title="趋势"),
                line_chart(["a"], [], title="趋势"), map_chart([], [], title="地图")):
        root = parse(svg)
        texts = [t.text for t in root.iter(SVG + "text")]
        assert texts and texts[0] in ("暂无数据", "暂无地图数据")
    assert "无案件" in bar_chart([], title="t", empty_text="无案件")


def test_all_zero_bars_and_lines_do_not_divide_by_zero():
    root = parse(bar_chart([("a", 0), ("b", 0)], title="t"))
    assert [float(r.get("width")) for r in root.iter(SVG + "rect")] == [0, 0]
    root = parse(line_chart(["1", "2"], [("上报", [0, 0])], title="t"))
    pts = root.find(".//s:polyline", NS).get("points").split()
    assert len({p.split(",")[1] for p in pts}) == 1  # flat on the base line


def test_line_chart_scales_two_series_to_a_shared_axis():
    days = ["11-01", "11-02", "11-03", "11-04"]
    root = parse(line_chart(days, [("上报", [0, 10, 20, 5]), ("结案", [0, 5, 10, 20])], title="趋势",
                            width=640, height=260))
    lines = root.findall(".//s:polyline", NS)
    assert len(lines) == 2
    assert lines[0].get("stroke") != lines[1].get("stroke")
    assert lines[1].get("stroke-dasharray")  # told apart by pattern too
    ys = [[float(p.split(",")[1]) for p in pl.get("points").split()] for pl in lines]
    xs = [float(p.split(",")[0]) for p in lines[0].get("points").split()]
    base, top = ys[0][0], ys[0][2]  # 0 and 20 (20 is the nice top of the axis)
    assert base - top == pytest.approx(260 - 30 - 28)
    assert ys[0][1] == pytest.approx(base - (base - top) / 2)  # 10 is half way
    assert ys[1][3] == pytest.approx(top)
    assert xs == sorted(xs) and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    assert {"上报", "结案"} <= {t.text for t in root.iter(SVG + "text")}
    circles = root.findall(".//s:circle", NS)
    assert len(circles) == 8
    assert "11-03 上报：20" in [c.find("s:title", NS).text for c in circles]
    desc = root.find("s:desc", NS).text
    assert "上报：合计 35" in desc and "结案：合计 35" in desc


def test_long_series_thin_their_labels_and_drop_point_marks():
    days = [f"d{i}" for i in range(366)]
    root = parse(line_chart(days, [("上报", list(range(366)))], title="t", max_x_labels=8))
    labels = [t.text for t in root.iter(SVG + "text") if (t.text or "").startswith("d")]
    assert 2 <= len(labels) <= 8
    assert not root.findall(".//s:circle", NS)


def test_line_chart_refuses_series_of_the_wrong_length():
    with pytest.raises(ValueError):
        line_chart(["a", "b"], [("上报", [1])], title="t")


def _points(path_d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path_d)]


def test_map_fits_the_areas_into_the_box_north_up_with_dots_on_top():
    west = MapArea("湛山社区", [[(120.30, 36.00), (120.35, 36.00), (120.35, 36.10), (120.30, 36.10)]],
                   label_at=(120.325, 36.05), href="?under=001", note="未结 3", shade=1.0)
    east = MapArea("八大关社区", [[(120.35, 36.00), (120.40, 36.00), (120.40, 36.10), (120.35, 36.10)]])
    dots = [MapDot(120.32, 36.061, "red", "2026000001 超时"), MapDot(120.37, 36.05, "green", "2026000002"),
            MapDot(120.31, 36.01, "nonsense", "2026000003")]
    root = parse(map_chart([west, east], dots, title="未结案件分布", width=600, padding=10))
    w, h = float(root.get("width")), float(root.get("height"))
    assert w == 600
    paths = root.findall(".//s:path", NS)
    assert len(paths) == 2
    allpts = [p for path in paths for p in _points(path.get("d"))]
    xs, ys = [p[0] for p in allpts], [p[1] for p in allpts]
    assert min(xs) >= 10 - 0.1 and max(xs) <= w - 10 + 0.1 and min(ys) >= 10 - 0.1 and max(ys) <= h - 10 + 0.1
    # a 0.1° × 0.1° square at 36°N is taller than wide once longitude is shrunk by cos(36°)
    assert h > w * 0.9
    west_pts = _points(paths[0].get("d"))
    north = min(west_pts, key=lambda p: p[1])
    assert north[1] == pytest.approx(min(ys))  # north up
    assert paths[0].get("fill") != paths[1].get("fill")  # shaded by its share
    assert paths[0].find("s:title", NS).text == "湛山社区（未结 3）"
    circles = root.findall(".//s:circle", NS)
    assert [c.get("fill") for c in circles] == [charts.LIGHT_COLOURS["red"], charts.LIGHT_COLOURS["green"],
                                                charts.LIGHT_COLOURS["grey"]]
    red, green = circles[0], circles[1]
    assert float(red.get("cx")) < float(green.get("cx"))  # west of the line 120.35 vs east
    assert float(red.get("cy")) < float(green.get("cy"))  # 36.061 is north of 36.05
    assert red.find("s:title", NS).text == "2026000001 超时"
    assert "湛山社区" in [t.text for t in root.iter(SVG + "text")]
    # the link on the area is kept
    assert [a.get("href") for a in root.iter(SVG + "a")] == ["?under=001"]


def test_map_of_dots_only_and_of_one_point():
    root = parse(map_chart([], [MapDot(120.3, 36.0, "yellow", "a"), MapDot(120.4, 36.1, "green", "b")], title="t"))
    assert len(root.findall(".//s:circle", NS)) == 2
    root = parse(map_chart([], [MapDot(120.3, 36.0, "yellow", "a")], title="t"))  # no span: no division by zero
    c = root.find(".//s:circle", NS)
    assert all(math.isfinite(float(c.get(k))) for k in ("cx", "cy"))


def test_ids_are_safe_and_distinct_per_chart():
    a = parse(bar_chart([("x", 1)], title="t", ident="cat chart<1>"))
    b = parse(bar_chart([("x", 1)], title="t", ident="states"))
    ida, idb = a.find("s:title", NS).get("id"), b.find("s:title", NS).get("id")
    assert ida != idb and re.fullmatch(r"[A-Za-z][\w-]*", ida)


def test_map_names_never_overlap_and_tiny_areas_go_unnamed():
    big = MapArea("大区域名称", [[(0, 0), (10, 0), (10, 10), (0, 10)]], label_at=(5, 5))
    overlapping = MapArea("重叠名称", [[(4, 4), (9, 4), (9, 9), (4, 9)]], label_at=(5, 5))
    tiny = MapArea("很小的区域", [[(0, 0), (0.1, 0), (0.1, 0.1), (0, 0.1)]], label_at=(0.05, 0.05))
    root = parse(map_chart([tiny, overlapping, big], [], title="t", width=600))
    names = [t.text for t in root.iter(SVG + "text")]
    assert names == ["大区域名称"]  # the largest area's name wins the spot
    # every area keeps its name in its <title>
    assert {p.find("s:title", NS).text for p in root.findall(".//s:path", NS)} == {"大区域名称", "重叠名称", "很小的区域"}


def test_heatmap_shades_by_value_and_marks_significant_cells_beyond_colour():
    days = ["周一", "周二"]
    hours = [f"{h}时" for h in range(3)]
    svg = charts.heatmap_chart(days, hours, [[0, 5, 10], [2, 0, 1]], title="时段",
                               marked=[[False, False, True], [False, False, False]], ident="how")
    ET.fromstring(svg)
    cells = re.findall(r'<g class="cell( marked)?"><title>([^<]*)</title><rect [^>]*fill="(#[0-9a-f]{6})"', svg)
    assert len(cells) == 6
    fills = {tip: fill for _m, tip, fill in cells}
    assert fills["周一 0时：0"] == "#ffffff"  # nothing: white
    assert fills["周一 2时：10 ★"] == "#bd0026"  # the largest: the deepest red
    assert fills["周一 1时：5"] not in ("#ffffff", "#bd0026")
    assert [m for m, _t, _f in cells].count(" marked") == 1
    assert svg.count("<circle") == 1  # the mark is a dot too, not only a colour


def test_heatmap_of_nothing_is_a_message_and_a_wrong_shape_an_error():
    assert "暂无数据" in charts.heatmap_chart(["a"], ["x", "y"], [[0, 0]], title="t")
    with pytest.raises(ValueError):
        charts.heatmap_chart(["a", "b"], ["x"], [[1]], title="t")


def test_map_area_with_its_own_fill_keeps_it():
    square = [(120.0, 36.0), (120.01, 36.0), (120.01, 36.01), (120.0, 36.01)]
    svg = charts.map_chart([charts.MapArea("热点", [square], fill="#c0262d")], [], title="热点")
    assert 'fill="#c0262d"' in svg


def test_map_close_up_fits_the_bounds_not_the_areas():
    big = [(120.0, 36.0), (121.0, 36.0), (121.0, 37.0), (120.0, 37.0)]
    cell = [(120.50, 36.50), (120.51, 36.50), (120.51, 36.51), (120.50, 36.51)]
    svg = charts.map_chart([charts.MapArea("市", [big]), charts.MapArea("热点", [cell], fill="#cb181d")], [],
                           title="t", width=400, padding=0, bounds=(120.50, 36.50, 120.51, 36.51))
    ET.fromstring(svg)
    hot = re.search(r'<path d="M([\d.]+),([\d.]+) L([\d.]+),([\d.]+)[^"]*" fill="#cb181d"', svg)
    x0, _y0, x1, _y1 = map(float, hot.groups())
    assert x0 == 0 and x1 == 400  # the cell spans the whole width: the city outline runs off the edges
    assert 'overflow="hidden"' in svg
