"""Importing the governed city: a clear report of rejected rows, and nothing half-imported."""

from __future__ import annotations

import json

import pytest

from cogov.cli import main
from cogov.geo import selectors
from cogov.geo.models import Unit
from cogov.geo.services import rows_from_file, units_import
from tests.conftest import rect

GOOD_STREET = {"kind": "street", "code": "37020200100101S002", "name": "湛山路", "parent": "37020200100101",
               "geometry": rect(120.30, 36.07, 120.35, 36.072)}


def test_a_file_with_bad_rows_is_refused_whole_with_a_reason_per_row(small_city):
    before = Unit.objects.count()
    rows = [
        GOOD_STREET,
        {"kind": "street", "code": "S-BAD-GEOM", "name": "坏路", "parent": "37020200100101",
         "geometry": "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"},  # a bow tie: self-intersecting
        {"kind": "street", "code": "S-ORPHAN", "name": "孤路", "parent": "NO-SUCH-PARENT",
         "geometry": rect(120.3, 36.0, 120.31, 36.01)},
        dict(GOOD_STREET, name="重复"),
        {"kind": "river", "code": "R1", "name": "河", "parent": "", "geometry": rect(0, 0, 1, 1)},
        {"kind": "building", "code": "B-UNDER-DISTRICT", "name": "楼", "parent": "370202",
         "geometry": rect(120.3, 36.0, 120.31, 36.01)},
        {"kind": "street", "code": "S-POINT", "name": "点", "parent": "37020200100101", "geometry": "POINT(120 36)"},
    ]
    report = units_import(city=small_city.city, rows=rows)
    assert not report.ok
    reasons = {r["code"]: r["reason"] for r in report.rejected}
    assert "几何无效" in reasons["S-BAD-GEOM"]
    assert "上级编码" in reasons["S-ORPHAN"]
    assert "编码重复" in reasons["37020200100101S002"]
    assert "未知类型" in reasons["R1"]
    assert "不能挂在" in reasons["B-UNDER-DISTRICT"]
    assert "Polygon" in reasons["S-POINT"]
    assert Unit.objects.count() == before  # nothing half-imported


def test_a_new_street_is_found_by_locate_right_after_import(small_city, django_capture_on_commit_callbacks):
    assert "street" not in selectors.locate(small_city.city.pk, 120.32, 36.071)
    with django_capture_on_commit_callbacks(execute=True):
        report = units_import(city=small_city.city, rows=[GOOD_STREET])
    assert report.ok and report.created == 1
    found = selectors.locate(small_city.city.pk, 120.32, 36.071)
    assert found["street"] == Unit.objects.get(code="37020200100101S002").pk
    assert Unit.objects.get(code="37020200100101S002").path.endswith("/37020200100101/37020200100101S002/")


def test_geojson_file_rows(small_city):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "street", "code": "X1", "name": "新路", "parent": "37020200100101"},
         "geometry": {"type": "Polygon", "coordinates": [[[120.30, 36.08], [120.35, 36.08], [120.35, 36.081],
                                                           [120.30, 36.081], [120.30, 36.08]]]}}]}
    rows = rows_from_file("streets.geojson", json.dumps(doc).encode())
    assert units_import(city=small_city.city, rows=rows).created == 1


def test_cli_import_prints_the_rejected_rows_and_exits_nonzero(small_city, tmp_path, capsys):
    f = tmp_path / "units.csv"
    f.write_text("kind,code,name,parent,wkt\nstreet,S9,九路,NOPE,\"POLYGON((120.3 36, 120.31 36, 120.31 36.01, "
                 "120.3 36.01, 120.3 36))\"\n", encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["import", "units", str(f), "--city", "3702"])
    assert e.value.code == 1
    out = capsys.readouterr()
    assert "第 1 行" in out.out and "上级编码「NOPE」不存在" in out.out and "未写入任何数据" in out.err


def test_cli_import_of_a_missing_file_is_a_message_not_a_traceback(small_city, capsys):
    with pytest.raises(SystemExit) as e:
        main(["import", "units", "/nonexistent/file.csv"])
    assert e.value.code == 2 and "文件不存在" in capsys.readouterr().err
