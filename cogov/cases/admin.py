"""Admin for the case configuration (categories, limits, calendars); cases and events are read-only here —
the workflow services are the only writers of a case."""

from django.contrib import admin

from cogov.cases.models import CalendarDay, CalendarYear, Case, CaseEvent, Category, CategoryLimit


class LimitInline(admin.TabularInline):
    model = CategoryLimit
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "edition", "scope", "duty_type", "reporter_verifies", "active")
    list_filter = ("edition", "kind", "scope", "duty_type", "active")
    search_fields = ("code", "name", "keywords")
    list_editable = ("scope", "duty_type", "reporter_verifies", "active")
    inlines = [LimitInline]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "is_workday", "name", "city")
    list_filter = ("is_workday",)
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "city")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ("seq", "action", "role", "at", "from_state", "to_state", "data", "hash")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "category", "state", "level", "station", "handler_unit", "reported_at",
                    "handling_due")
    list_filter = ("state", "level", "source", "urgency")
    search_fields = ("number", "title", "address")
    list_select_related = ("category", "station", "handler_unit")
    inlines = [EventInline]
    exclude = ("reporter",)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("case", "seq", "action", "role", "at", "to_state")
    list_filter = ("action",)
    search_fields = ("case__number",)
