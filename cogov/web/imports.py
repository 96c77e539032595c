"""Bulk imports in the admin (批量导入): upload a sheet, see every row checked, then confirm — all or nothing.

Four sheets: territorial units (``units_import``), rosters of people and appointments (``create_user`` and
``role_assign``), professional units, and categories (``categories_load``). Uploading only checks: nothing is
written. A file that passes every check is kept server-side under ``DATA_DIR/imports`` with a random name held
in the session (never a path from the form); 「确认导入」 checks it again against the database as it is then,
writes every row in one transaction, and deletes the file.
"""

from __future__ import annotations

import io
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cogov import clock
from cogov.errors import DomainError
from cogov.geo.models import KIND_CHOICES, City, Unit
from cogov.people import rosters
from cogov.people.roles import DUTY_CHOICES, ROLE_NAMES
from cogov.web.auth import city_of

#: The largest file accepted.
MAX_BYTES = 10 * 1024 * 1024
#: Rows shown in a preview (every row is still checked; rows with errors are shown first beyond this).
SHOW_ROWS = 500
#: Checked files nobody confirmed are deleted after this many seconds.
KEEP_SECONDS = 24 * 3600
SESSION_KEY = "cogov_imports"
_STORED = re.compile(r"^[0-9a-f]{32}\.(xlsx|csv|json)$")
ALL_OR_NOTHING = gettext_lazy("全部或全不：只要有一行有错误，整个文件都不会写入。全部检查通过后，点「确认导入」在一个事务中写入所有行。")


@dataclass(frozen=True)
class ImportKind:
    """One kind of sheet: its columns, who may import it, how it is checked and written, an example."""

    slug: str
    title: str
    columns: tuple[rosters.Column, ...]
    permissions: tuple[str, ...]
    check: Callable[[City, str, bytes], rosters.Preview]
    write: Callable[[City, rosters.Preview], str]
    examples: Callable[[City], list[list[Any]]]
    values: Callable[[], list[tuple[str, str]]]
    notes: tuple[str, ...] = ()
    accept: str = ".xlsx,.csv"


# --- The four kinds ----------------------------------------------------------------------------------------


def _roster_check(city: City, name: str, content: bytes) -> rosters.Preview:
    from cogov.people.imports import roster_known

    table = rosters.read_table(name, content, rosters.ROSTER_COLUMNS)
    return rosters.parse_roster(table, roster_known(city=city, table=table))


def _roster_write(city: City, preview: rosters.Preview) -> str:
    from cogov.people.imports import roster_import

    r = roster_import(city=city, records=[rec.data for rec in preview.records])
    return _("名单已导入：新建人员 %(created)d 人、更新 %(updated)d 人；新任命 %(assigned)d 项、"
             "调整结束日期 %(ended)d 项、未变 %(unchanged)d 项。") % {
        "created": r.people_created, "updated": r.people_updated, "assigned": r.assigned, "ended": r.ended,
        "unchanged": r.unchanged}


def _first(city: City, *kinds: str) -> Unit | None:
    return (Unit.objects.filter(city=city, kind__in=kinds, valid_to__isnull=True)
            .order_by("kind", "code").first())


def _roster_examples(city: City) -> list[list[Any]]:
    from cogov.people.models import ServiceUnit

    station = _first(city, "station")
    yard = _first(city, "courtyard", "building")
    street = _first(city, "street")
    service = ServiceUnit.objects.filter(city=city).order_by("code").first()
    today = timezone.localdate(clock.now()).isoformat()
    return [
        ["zhang.zhanzhang", "张站长", "13800000001", "站长", station.code if station else "37020200100101", "",
         today, "", ""],
        ["li.louyuan", "李院长", "13900000002", "楼院长", yard.code if yard else "37020200100101C001", "",
         today, "", ""],
        ["zhao.jiexiang", "赵街长", "13700000003", "街巷长", street.code if street else "37020200100101S001", "",
         today, "", ""],
        ["wang.shifu", "王师傅", "13600000004", "专业单位处置人员", "", service.code if service else "SAN-SN", today,
         "", ""],
    ]


def _roster_values() -> list[tuple[str, str]]:
    from cogov.people.services import ROLE_SCOPE_KINDS

    kinds = dict(KIND_CHOICES)
    out = []
    for role in rosters.ROSTER_ROLES:
        scope = ROLE_SCOPE_KINDS.get(role, ())
        if scope:
            where = _("辖区编码填%(kinds)s") % {"kinds": _("或").join(str(kinds[k]) for k in scope)}
        else:
            where = _("填专业单位编码") if role in rosters.UNIT_ROLES else _("辖区编码可留空")
        out.append((_("角色 %(name)s（%(key)s）") % {"name": ROLE_NAMES[role], "key": role}, where))
    return out


def _units_check(city: City, name: str, content: bytes) -> rosters.Preview:
    from cogov.geo.services import rows_from_file, units_import

    if name.lower().endswith((".geojson", ".json")):
        try:
            features = rows_from_file(name, content)
        except DomainError:
            raise
        except Exception as e:
            raise DomainError("bad_file", _("GeoJSON 无法解析：请检查文件是 UTF-8 编码的 FeatureCollection")) from e
        table = rosters.Table(header_row=0, keys=[], rows=[
            (n, {**f, "wkt": f.get("geometry") or f.get("wkt")}) for n, f in enumerate(features, start=1)])
    else:
        table = rosters.read_table(name, content, rosters.UNIT_COLUMNS)
    preview = rosters.parse_units(table, KIND_CHOICES)
    ok = [r for r in preview.records if r.ok]
    if ok:
        report = units_import(city=city, rows=[r.data for r in ok], dry_run=True)
        for rejected in report.rejected:
            reason = rejected["reason"]
            column = rosters.unit_reason_column(reason)
            ok[rejected["row"] - 1].errors.append(rosters.RowError(column, reason))
    existing = set(Unit.objects.filter(city=city, code__in=[r.data["code"] for r in preview.records])
                   .values_list("code", flat=True))
    for r in preview.records:
        r.actions.append(_("更新辖区单元") if r.data["code"] in existing else _("新建辖区单元"))
    return preview


def _units_write(city: City, preview: rosters.Preview) -> str:
    from cogov.geo.services import units_import

    report = units_import(city=city, rows=[r.data for r in preview.records])
    if report.rejected:
        first = report.rejected[0]
        raise DomainError("rejected", _("%(n)d 行被拒绝（如：%(code)s %(reason)s）") % {
            "n": len(report.rejected), "code": first["code"], "reason": first["reason"]})
    return _("辖区单元已导入：新建 %(created)d 个、更新 %(updated)d 个。") % {
        "created": report.created, "updated": report.updated}


def _units_examples(city: City) -> list[list[Any]]:
    station = _first(city, "station")
    if station is not None and station.geometry:
        import shapely

        geom = shapely.from_wkb(bytes(station.geometry))
        c = geom.representative_point()
        minx, miny, maxx, maxy = geom.bounds
        dx, dy = (maxx - minx) / 20, (maxy - miny) / 20
        inner = shapely.box(c.x - dx, c.y - dy, c.x + dx, c.y + dy).intersection(geom)
        wkt = shapely.to_wkt(inner, rounding_precision=6)
        return [["楼院", f"{station.code}C901", "示例小区", station.code, wkt]]
    square = "POLYGON ((120.30 36.00, 120.40 36.00, 120.40 36.10, 120.30 36.10, 120.30 36.00))"
    return [["区（市）", "370202", "市南区", "", square]]


def _units_values() -> list[tuple[str, str]]:
    from cogov.geo.models import PARENT_KINDS

    kinds = dict(KIND_CHOICES)
    return [(_("类型 %(name)s（%(key)s）") % {"name": kinds[k], "key": k},
             _("上级：%(parents)s") % {"parents": "、".join(str(kinds[p]) for p in parents if p) or _("无（上级编码留空）")})
            for k, parents in PARENT_KINDS.items()]


def _service_units_check(city: City, name: str, content: bytes) -> rosters.Preview:
    from cogov.people.imports import service_units_known

    table = rosters.read_table(name, content, rosters.SERVICE_UNIT_COLUMNS)
    return rosters.parse_service_units(table, service_units_known(city=city, table=table))


def _service_units_write(city: City, preview: rosters.Preview) -> str:
    from cogov.people.imports import service_units_import

    created, updated = service_units_import(city=city, records=[r.data for r in preview.records])
    return _("专业单位已导入：新建 %(created)d 个、更新 %(updated)d 个。") % {"created": created, "updated": updated}


def _service_units_examples(city: City) -> list[list[Any]]:
    district = _first(city, "district")
    return [["SAN-EX", "示例区环卫所", "环卫", "", district.code if district else "370202"],
            ["WATER-EX", "示例供水公司", "供水", "", ""]]


def _duty_values() -> list[tuple[str, str]]:
    return [(_("职责类型 %(name)s（%(key)s）") % {"name": name, "key": key}, "") for key, name in DUTY_CHOICES]


def _category_known(city: City, table: rosters.Table) -> rosters.CategoryKnown:
    from cogov.cases import catalog
    from cogov.cases.models import CATEGORY_KIND_CHOICES, SCOPE_CHOICES, Category

    codes = {rosters.text(cells.get("code")) for _n, cells in table.rows}
    return rosters.CategoryKnown(
        existing=frozenset(Category.objects.filter(city=city, code__in=codes)
                           .values_list("edition", "kind", "code")),
        kinds=tuple(CATEGORY_KIND_CHOICES), scopes=tuple(SCOPE_CHOICES), default_edition=catalog.CITY_EDITION)


def _categories_check(city: City, name: str, content: bytes) -> rosters.Preview:
    table = rosters.read_table(name, content, rosters.CATEGORY_COLUMNS)
    return rosters.parse_categories(table, _category_known(city, table))


def _categories_write(city: City, preview: rosters.Preview) -> str:
    from cogov.cases.catalog import CategorySpec
    from cogov.cases.services import categories_load

    specs = [CategorySpec(**{k: v for k, v in r.data.items() if k != "exists"})
             for r in preview.records if not r.data["exists"]]
    created, skipped = categories_load(city=city, specs=specs)
    skipped += sum(1 for r in preview.records if r.data["exists"])
    return _("案件类别已导入：新建 %(created)d 个，已存在跳过 %(skipped)d 个。") % {"created": created, "skipped": skipped}


def _categories_examples(city: City) -> list[list[Any]]:
    return [["", "Q9901", "示例：共享单车乱停放", "事项", "06", "街面秩序", "街面", "执法", "否", "单车 乱停 共享"]]


def _category_values() -> list[tuple[str, str]]:
    from cogov.cases.models import CATEGORY_KIND_CHOICES, SCOPE_CHOICES

    return ([(_("类型 %(name)s（%(key)s）") % {"name": n, "key": k}, "") for k, n in CATEGORY_KIND_CHOICES] +
            [(_("发生位置 %(name)s（%(key)s）") % {"name": n, "key": k}, "") for k, n in SCOPE_CHOICES] + _duty_values())


KINDS: dict[str, ImportKind] = {
    "roster": ImportKind(
        slug="roster", title=gettext_lazy("人员名单与岗位任命"), columns=rosters.ROSTER_COLUMNS,
        permissions=("people.add_person", "people.change_person", "people.add_roleassignment",
                     "people.change_roleassignment"),
        check=_roster_check, write=_roster_write, examples=_roster_examples, values=_roster_values,
        notes=(gettext_lazy("一行一个人的一项任命；同一个人有多项任命时写多行（姓名、手机要一致）。"),
               gettext_lazy("已有账号按账号更新姓名、手机（留空不改），不修改密码；已有的相同任命保持不变，"
                            "填写结束日期则按期结束。"),
               gettext_lazy("名单只新增或调整任命，不会撤销表中没有的任命：要撤销请填写结束日期。")),
    ),
    "units": ImportKind(
        slug="units", title=gettext_lazy("辖区单元"), columns=rosters.UNIT_COLUMNS,
        permissions=("geo.add_unit", "geo.change_unit"),
        check=_units_check, write=_units_write, examples=_units_examples, values=_units_values,
        notes=(gettext_lazy("上级必须先于或同时导入；已有编码则更新名称、上级和几何。也可上传 GeoJSON"
                            "（FeatureCollection，属性 kind、code、name、parent）。"),),
        accept=".xlsx,.csv,.geojson,.json",
    ),
    "service_units": ImportKind(
        slug="service_units", title=gettext_lazy("专业单位"), columns=rosters.SERVICE_UNIT_COLUMNS,
        permissions=("people.add_serviceunit", "people.change_serviceunit"),
        check=_service_units_check, write=_service_units_write, examples=_service_units_examples,
        values=_duty_values,
        notes=(gettext_lazy("已有编码则更新名称、职责类型、职责事项和服务范围（服务范围以表中为准）。"),),
    ),
    "categories": ImportKind(
        slug="categories", title=gettext_lazy("案件类别"), columns=rosters.CATEGORY_COLUMNS,
        permissions=("cases.add_category",),
        check=_categories_check, write=_categories_write, examples=_categories_examples,
        values=_category_values,
        notes=(gettext_lazy("只新建类别（按责任单位类型设默认时限）；已存在的类别跳过，请在后台逐条修改。"),),
    ),
}


# --- The uploaded file between preview and confirm ---------------------------------------------------------


def imports_dir() -> Path:
    """Where checked files wait for confirmation."""
    d = Path(settings.DATA_DIR) / "imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sweep() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for f in imports_dir().iterdir():
        try:
            if _STORED.match(f.name) and f.stat().st_mtime < cutoff:
                f.unlink()
        except OSError:
            pass


def _stored_path(token: str) -> Path | None:
    if not isinstance(token, str) or not _STORED.match(token):
        return None
    p = imports_dir() / token
    return p if p.is_file() else None


def _pending(request: HttpRequest, slug: str) -> dict | None:
    entry = request.session.get(SESSION_KEY, {}).get(slug)
    return entry if isinstance(entry, dict) else None


def _discard(request: HttpRequest, slug: str) -> None:
    entries = dict(request.session.get(SESSION_KEY, {}))
    entry = entries.pop(slug, None)
    if isinstance(entry, dict):
        p = _stored_path(entry.get("token", ""))
        if p is not None:
            p.unlink(missing_ok=True)
    request.session[SESSION_KEY] = entries


def _keep(request: HttpRequest, slug: str, *, name: str, content: bytes, city: City) -> None:
    _discard(request, slug)
    _sweep()
    ext = ("json" if name.lower().endswith((".geojson", ".json")) else
           "xlsx" if content[:4] == b"PK\x03\x04" else "csv")
    token = f"{secrets.token_hex(16)}.{ext}"
    (imports_dir() / token).write_bytes(content)
    entries = dict(request.session.get(SESSION_KEY, {}))
    entries[slug] = {"token": token, "name": name[-120:], "city": city.pk}
    request.session[SESSION_KEY] = entries


# --- Pages -------------------------------------------------------------------------------------------------


def _rows(preview: rosters.Preview) -> tuple[list[dict], int]:
    records = preview.records
    shown = [r for i, r in enumerate(records) if i < SHOW_ROWS or not r.ok][: SHOW_ROWS * 2]
    return [{"row": r.row, "ok": r.ok, "cells": [r.cells.get(c.key, "") for c in preview.columns],
             "errors": r.errors, "actions": r.actions} for r in shown], len(records) - len(shown)


def import_page(request: HttpRequest, *, kind: ImportKind, model_admin) -> HttpResponse:
    """Upload → preview (nothing written) → 「确认导入」 (all rows in one transaction) or 「取消」."""
    if not request.user.has_perms(kind.permissions):
        raise PermissionDenied
    opts = model_admin.opts
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    here = reverse(f"admin:{opts.app_label}_{opts.model_name}_import")
    ctx: dict[str, Any] = {
        **model_admin.admin_site.each_context(request), "opts": opts, "kind": kind,
        "title": _("批量导入：%(title)s") % {"title": kind.title}, "changelist_url": changelist,
        "template_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_import_template"),
        "all_or_nothing": ALL_OR_NOTHING, "max_mb": MAX_BYTES // (1024 * 1024), "preview": None, "error": "",
    }
    try:
        city = city_of(request)
    except DomainError as e:
        ctx["error"] = e.message
        return TemplateResponse(request, "admin/cogov/import.html", ctx)
    ctx["city"] = city
    preview = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "cancel":
            _discard(request, kind.slug)
            messages.info(request, _("已取消，未写入任何数据。"))
            return redirect(here)
        if action == "upload":
            upload = request.FILES.get("file")
            _discard(request, kind.slug)
            if upload is None:
                ctx["error"] = _("请选择要上传的文件（XLSX 或 CSV）")
            elif upload.size > MAX_BYTES:
                ctx["error"] = _("文件太大：最大 %(mb)d MB") % {"mb": ctx["max_mb"]}
            else:
                content, name = upload.read(), upload.name or "upload"
                try:
                    preview = kind.check(city, name, content)
                except DomainError as e:
                    ctx["error"] = e.message
                else:
                    ctx["file_name"] = name
                    if preview.ok:
                        _keep(request, kind.slug, name=name, content=content, city=city)
                        ctx["confirmable"] = True
        elif action == "confirm":
            pending = _pending(request, kind.slug)
            stored = _stored_path(pending.get("token", "")) if pending else None
            if stored is None or pending.get("city") != city.pk:
                _discard(request, kind.slug)
                ctx["error"] = _("没有待确认的文件（可能已导入、已取消或已过期），请重新上传。")
            else:
                ctx["file_name"] = pending.get("name", "")
                try:
                    preview = kind.check(city, pending.get("name", ""), stored.read_bytes())
                    if preview.ok:
                        summary = kind.write(city, preview)
                        _discard(request, kind.slug)
                        messages.success(request, summary)
                        return redirect(changelist)
                    ctx["error"] = _("再次检查时发现错误（数据可能已被修改），未写入任何数据。请修改后重新上传。")
                except DomainError as e:
                    ctx["error"] = _("导入失败，未写入任何数据：%(message)s") % {"message": e.message}
                except IntegrityError:
                    ctx["error"] = _("导入失败，未写入任何数据：与同时进行的修改冲突，请重新上传后再试。")
                _discard(request, kind.slug)
        else:
            ctx["error"] = _("未知的操作")
    if preview is not None:
        rows, hidden = _rows(preview)
        ctx.update(preview=preview, rows=rows, hidden=hidden,
                   ok_count=len(preview.records) - preview.error_count)
    return TemplateResponse(request, "admin/cogov/import.html", ctx)


def template_xlsx(kind: ImportKind, city: City | None) -> bytes:
    """An example workbook: the header row in Chinese and English keys, example rows, and a sheet of notes."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = str(kind.title)[:31]
    sheet.append([c.header for c in kind.columns])
    for i, col in enumerate(kind.columns, start=1):
        cell = sheet.cell(row=1, column=i)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = PatternFill("solid", fgColor="FFF2CC" if col.required else "DDEBF7")
        sheet.column_dimensions[get_column_letter(i)].width = max(14, len(col.header) * 2)
    examples = kind.examples(city) if city is not None else []
    for r, values in enumerate(examples, start=2):
        for i, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=i, value=value)
            cell.number_format = "@"  # keep phones and codes as text (no 1.38E+10, no lost leading zeros)
    for r in range(len(examples) + 2, 201):
        for i in range(1, len(kind.columns) + 1):
            sheet.cell(row=r, column=i).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = book.create_sheet(_("填写说明"))
    notes.append([_("列"), _("必填"), _("说明")])
    for col in kind.columns:
        notes.append([col.header, _("是") if col.required else "", col.note])
    notes.append([])
    notes.append([_("说明"), "", str(ALL_OR_NOTHING)])
    for line in kind.notes:
        notes.append(["", "", str(line)])
    notes.append(["", "", _("表头第一行为列名，可只写中文（如「账号」）或英文键（如 username）；第二行起为数据。"
                            "示例行请删除或改为实际数据。CSV 可用 UTF-8 或 GB18030（GBK）编码。")])
    notes.append([])
    for value, meaning in kind.values():
        notes.append([_("可选值"), value, meaning])
    for letter, width in (("A", 26), ("B", 34), ("C", 90)):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    notes["A1"].font = notes["B1"].font = notes["C1"].font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_download(request: HttpRequest, *, kind: ImportKind) -> HttpResponse:
    """The example workbook of ``kind`` as a download."""
    if not request.user.has_perms(kind.permissions):
        raise PermissionDenied
    try:
        city = city_of(request)
    except DomainError:
        city = None
    response = HttpResponse(template_xlsx(kind, city),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    filename = f"cogov-{kind.slug}-template.xlsx"
    response["Content-Disposition"] = (f"attachment; filename=\"{filename}\"; "
                                       f"filename*=UTF-8''{filename}")
    return response


class ImportAdminMixin:
    """A ModelAdmin with a 「批量导入」 button on its changelist and the import pages under ``import/``."""

    import_kind = ""
    change_list_template = "admin/cogov/change_list_import.html"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=f"{prefix}_import"),
            path("import/template.xlsx", self.admin_site.admin_view(self.import_template_view),
                 name=f"{prefix}_import_template"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """The upload, preview and confirm page."""
        return import_page(request, kind=KINDS[self.import_kind], model_admin=self)

    def import_template_view(self, request: HttpRequest) -> HttpResponse:
        """The example workbook."""
        return template_download(request, kind=KINDS[self.import_kind])

    def changelist_view(self, request, extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perms(KINDS[self.import_kind].permissions):
            extra["cogov_import_url"] = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        return super().changelist_view(request, extra_context=extra)
