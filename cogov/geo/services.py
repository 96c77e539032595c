"""Writes to the governed city: import units (all or nothing, with a report) and keep the index version."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import shapely
from django.db import transaction
from django.db.models import F
from shapely.geometry import shape

from cogov.errors import DomainError
from cogov.geo import selectors
from cogov.geo.models import KINDS, PARENT_KINDS, City, Unit


@dataclass
class ImportReport:
    """What an import did, or would have done: rows created or updated, and every rejected row with why."""

    created: int = 0
    updated: int = 0
    rejected: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row was rejected (and so the import was written)."""
        return not self.rejected


def city_ensure(*, code: str, name: str) -> City:
    """The tenant with ``code``, created if missing."""
    city, _ = City.objects.get_or_create(code=code, defaults={"name": name})
    return city


def _parse_geometry(raw) -> shapely.Geometry:
    if raw is None or raw == "":
        raise ValueError("缺少几何")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return shapely.from_wkb(bytes(raw))
    if isinstance(raw, Mapping):
        return shape(raw)
    if isinstance(raw, str):
        text = raw.strip()
        return shape(json.loads(text)) if text.startswith("{") else shapely.from_wkt(text)
    if isinstance(raw, shapely.Geometry):
        return raw
    raise ValueError("无法识别的几何格式")


def rows_from_file(name: str, content: bytes) -> list[dict]:
    """Rows from a GeoJSON FeatureCollection (properties kind, code, name, parent) or a CSV (… , wkt)."""
    text = content.decode("utf-8-sig")
    if name.lower().endswith((".geojson", ".json")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise DomainError("bad_file", f"GeoJSON 无法解析：第 {e.lineno} 行 {e.msg}") from e
        if doc.get("type") != "FeatureCollection":
            raise DomainError("bad_file", "GeoJSON 必须是 FeatureCollection")
        rows = []
        for feat in doc.get("features", []):
            props = dict(feat.get("properties") or {})
            props["geometry"] = feat.get("geometry")
            rows.append(props)
        return rows
    if name.lower().endswith(".csv"):
        return [dict(r) for r in csv.DictReader(io.StringIO(text))]
    raise DomainError("bad_file", "只支持 .geojson / .json / .csv 文件")


def units_import(*, city: City, rows: Iterable[Mapping], dry_run: bool = False) -> ImportReport:
    """Import units, parents before children; if any row is rejected, nothing is written.

    Each row: ``kind``, ``code``, ``name``, ``parent`` (a parent's code; empty for a district) and ``geometry``
    (GeoJSON mapping or text, WKT, WKB or a shapely geometry; ``wkt`` is accepted as the column name too).
    A code already in the city is updated in place.
    """
    report = ImportReport()
    rows = list(rows)
    existing = {
        code: (pk, kind, path)
        for pk, code, kind, path in Unit.objects.filter(city=city).values_list("id", "code", "kind", "path")
    }
    seen: dict[str, str] = {}
    parsed: list[dict] = []
    parsed_kind: dict[str, str] = {}
    for n, row in enumerate(rows, start=1):
        code = str(row.get("code") or "").strip()
        kind = str(row.get("kind") or "").strip()
        name = str(row.get("name") or "").strip()
        parent = str(row.get("parent") or row.get("parent_code") or "").strip()

        def reject(reason: str, code=code) -> None:
            report.rejected.append({"row": n, "code": code, "reason": reason})

        if kind not in KINDS:
            reject(f"未知类型「{kind}」，可选：{'、'.join(KINDS)}")
            continue
        if not code or not name:
            reject("编码和名称不能为空")
            continue
        if code in seen:
            reject(f"编码重复（与第 {seen[code]} 行相同）")
            continue
        seen[code] = str(n)
        parent_kind = None
        if parent:
            if parent in parsed_kind:
                parent_kind = parsed_kind[parent]
            elif parent in existing:
                parent_kind = existing[parent][1]
            else:
                reject(f"上级编码「{parent}」不存在")
                continue
        if parent_kind not in PARENT_KINDS[kind]:
            reject(f"「{kind}」不能挂在「{parent_kind or '无上级'}」之下")
            continue
        try:
            geom = _parse_geometry(row.get("geometry") if row.get("geometry") is not None else row.get("wkt"))
        except Exception as e:  # noqa: BLE001 — any parse failure is a rejected row, reported
            reject(f"几何无法解析：{e}")
            continue
        if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            reject(f"几何必须是面（Polygon/MultiPolygon），实际为 {geom.geom_type}")
            continue
        if not geom.is_valid:
            reject(f"几何无效：{shapely.is_valid_reason(geom)}")
            continue
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            reject("坐标超出 WGS-84 经纬度范围")
            continue
        parsed.append({"kind": kind, "code": code, "name": name, "parent": parent, "geom": geom})
        parsed_kind[code] = kind
    if report.rejected or dry_run:
        if not report.rejected:
            report.created = sum(1 for p in parsed if p["code"] not in existing)
            report.updated = len(parsed) - report.created
        return report
    with transaction.atomic():
        _write_units(city, parsed, existing, report)
        city_bump_geo_version(city=city)
    return report


def _write_units(city: City, parsed: list[dict], existing: dict, report: ImportReport) -> None:
    paths = {code: (pk, path) for code, (pk, _k, path) in existing.items()}
    order = {k: i for i, k in enumerate(KINDS)}
    for kind in sorted({p["kind"] for p in parsed}, key=order.__getitem__):
        batch = [p for p in parsed if p["kind"] == kind]
        new, changed = [], []
        for p in batch:
            parent_id, parent_path = paths[p["parent"]] if p["parent"] else (None, "")
            path = f"{parent_path}{p['code']}/"
            wkb = shapely.to_wkb(p["geom"])
            if p["code"] in existing:
                unit = Unit(id=existing[p["code"]][0], city=city, kind=kind, code=p["code"], name=p["name"])
                unit.parent_id, unit.path, unit.geometry = parent_id, path, wkb
                changed.append(unit)
            else:
                new.append(
                    Unit(city=city, kind=kind, code=p["code"], name=p["name"], parent_id=parent_id, path=path,
                         geometry=wkb)
                )
        Unit.objects.bulk_create(new, batch_size=500)
        if changed:
            Unit.objects.bulk_update(changed, ["kind", "name", "parent", "path", "geometry"], batch_size=500)
        report.created += len(new)
        report.updated += len(changed)
        for pk, code, path in Unit.objects.filter(city=city, code__in=[p["code"] for p in batch]).values_list(
            "id", "code", "path"
        ):
            paths[code] = (pk, path)


def city_bump_geo_version(*, city: City) -> None:
    """Mark the geography changed (every process rebuilds its index) and refresh the city's bounding box."""
    bounds = None
    for (wkb,) in Unit.objects.filter(city=city, kind="district", valid_to__isnull=True).values_list("geometry"):
        if wkb is None:
            continue
        b = shapely.from_wkb(bytes(wkb)).bounds
        bounds = b if bounds is None else (min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]),
                                            max(bounds[3], b[3]))
    City.objects.filter(pk=city.pk).update(geo_version=F("geo_version") + 1)
    if bounds:
        City.objects.filter(pk=city.pk).update(min_lon=bounds[0], min_lat=bounds[1], max_lon=bounds[2],
                                               max_lat=bounds[3])
    # forget now (this process sees its own change at once) and again after commit (or rollback, where the
    # version read back differs and the next lookup rebuilds)
    selectors.forget_index(city.pk)
    transaction.on_commit(lambda: selectors.forget_index(city.pk))
