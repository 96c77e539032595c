"""Admin for the governed city: browse units; geometry is imported (cogov import units), not typed."""

from django.contrib import admin

from cogov.geo.models import City, Unit


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "geo_version")
    readonly_fields = ("geo_version", "min_lon", "min_lat", "max_lon", "max_lat")


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent", "valid_from", "valid_to")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)
    readonly_fields = ("path", "geometry")
    list_select_related = ("parent",)
