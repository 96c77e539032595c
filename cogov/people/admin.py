"""Admin for people and duty: accounts, appointments of heads (with start and end), professional units."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from cogov.people.models import ApiToken, Person, RoleAssignment, ServiceUnit


class AssignmentInline(admin.TabularInline):
    model = RoleAssignment
    fk_name = "person"
    extra = 0
    raw_id_fields = ("scope_unit", "service_unit")
    readonly_fields = ("scope_path",)


@admin.register(Person)
class PersonAdmin(UserAdmin):
    list_display = ("username", "display_name", "phone", "city", "is_staff", "is_active")
    search_fields = ("username", "display_name", "phone")
    fieldsets = UserAdmin.fieldsets + (("城市共治", {"fields": ("city", "display_name", "phone")}),)
    inlines = [AssignmentInline]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ("person", "role", "scope_unit", "service_unit", "valid_from", "valid_to")
    list_filter = ("role",)
    search_fields = ("person__username", "person__display_name", "scope_unit__name")
    raw_id_fields = ("person", "scope_unit", "service_unit")
    readonly_fields = ("scope_path",)

    def save_model(self, request, obj, form, change):
        obj.scope_path = obj.scope_unit.path if obj.scope_unit_id else ""
        super().save_model(request, obj, form, change)


@admin.register(ServiceUnit)
class ServiceUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "duty_type", "city")
    list_filter = ("duty_type",)
    search_fields = ("code", "name")
    filter_horizontal = ("service_area",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("person", "label", "created_at", "revoked_at")
    readonly_fields = ("key_hash", "created_at")
