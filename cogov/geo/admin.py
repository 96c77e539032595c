"""Admin for the governed city (辖区): browse units, rename them, end them; geometry, codes and the tree come
from imports (「批量导入」 here, or ``cogov import units``), which keep paths and the locate index right."""

from __future__ import annotations

import shapely
from django.contrib import admin

from cogov.geo.models import City, Unit
from cogov.geo.services import city_bump_geo_version
from cogov.web.imports import ImportAdminMixin


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    """城市: the tenant; its bounding box and geography version are kept by the imports."""

    list_display = ("code", "name", "geo_version", "unit_count")
    search_fields = ("code", "name")
    readonly_fields = ("geo_version", "min_lon", "min_lat", "max_lon", "max_lat")

    @admin.display(description="辖区单元数")
    def unit_count(self, obj: City) -> int:
        return obj.units.count()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Unit)
class UnitAdmin(ImportAdminMixin, admin.ModelAdmin):
    """辖区单元: the tree is the import's (paths of units, cases and appointments hang on it): read-only here
    except the name and the dates of validity."""

    import_kind = "units"
    list_display = ("code", "name", "kind", "parent", "city", "valid_from", "valid_to")
    list_filter = ("kind", "city", ("valid_to", admin.EmptyFieldListFilter))
    search_fields = ("code", "name")
    list_select_related = ("parent", "city")
    readonly_fields = ("city", "kind", "code", "parent", "path", "geometry_summary")
    fields = ("city", "kind", "code", "name", "parent", "path", "valid_from", "valid_to", "geometry_summary")
    ordering = ("path",)
    show_full_result_count = False

    @admin.display(description="几何")
    def geometry_summary(self, obj: Unit) -> str:
        if not obj.geometry:
            return "（无）"
        geom = shapely.from_wkb(bytes(obj.geometry))
        minx, miny, maxx, maxy = geom.bounds
        return (f"{geom.geom_type}，{shapely.get_num_coordinates(geom)} 个顶点，"
                f"范围 经度 {minx:.5f}–{maxx:.5f}、纬度 {miny:.5f}–{maxy:.5f}")

    def has_add_permission(self, request):
        return False  # units come from an import: 「批量导入」

    def has_delete_permission(self, request, obj=None):
        return False  # cases and appointments point at units: end one with 失效日期 instead

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "valid_to" in form.changed_data or "valid_from" in form.changed_data:
            city_bump_geo_version(city=obj.city)  # the locate index leaves ended units out: rebuild it
