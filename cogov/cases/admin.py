"""Admin for the case configuration (categories, limits, calendars); cases and events are read-only here —
the workflow services are the only writers of a case. Categories also come in through 「批量导入」."""

import json

from django.contrib import admin

from cogov.cases import workflow
from cogov.cases.models import CalendarDay, CalendarYear, Case, CaseEvent, Category, CategoryLimit
from cogov.people.admin import LabelsMixin, titled
from cogov.people.roles import ROLE_NAMES
from cogov.web.imports import ImportAdminMixin

#: Chinese labels for case fields without one (admin-side: the case models stay untouched).
CASE_LABELS = {"category": "类别", "first_response_unit": "响应时限单位", "handling_unit": "处置时限单位"}


class LimitInline(LabelsMixin, admin.TabularInline):
    model = CategoryLimit
    extra = 0
    verbose_name = verbose_name_plural = "时限（按紧急程度）"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in CASE_LABELS:
            field.label = CASE_LABELS[db_field.name]
        return field


@admin.register(Category)
class CategoryAdmin(ImportAdminMixin, LabelsMixin, admin.ModelAdmin):
    """案件类别: the bureau edits scope, duty and limits; new categories come one by one or by import."""

    import_kind = "categories"
    list_display = ("code", "name", "kind", "edition", "scope", "duty_type", "reporter_verifies", "active")
    list_filter = ("edition", "kind", "scope", "duty_type", "active", ("city", titled("城市")))
    search_fields = ("code", "name", "keywords")
    list_editable = ("scope", "duty_type", "reporter_verifies", "active")
    inlines = (LimitInline,)


@admin.register(CalendarDay)
class CalendarDayAdmin(LabelsMixin, admin.ModelAdmin):
    list_display = ("date", "is_workday", "name", "city_name")
    list_filter = ("is_workday", ("city", titled("城市")))
    date_hierarchy = "date"

    @admin.display(description="城市")
    def city_name(self, obj: CalendarDay) -> str:
        return str(obj.city)


@admin.register(CalendarYear)
class CalendarYearAdmin(LabelsMixin, admin.ModelAdmin):
    list_display = ("year", "source", "city_name")

    @admin.display(description="城市")
    def city_name(self, obj: CalendarYear) -> str:
        return str(obj.city)


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
    verbose_name = verbose_name_plural = "案件事件（哈希链）"
    fields = ("seq_no", "action_name", "role_name", "at_time", "from_name", "to_name", "data_text",
              "hash_short")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="数据")
    def data_text(self, obj: CaseEvent) -> str:
        return json.dumps(obj.data, ensure_ascii=False)

    @admin.display(description="序号")
    def seq_no(self, obj: CaseEvent) -> int:
        return obj.seq

    @admin.display(description="动作")
    def action_name(self, obj: CaseEvent) -> str:
        return workflow.ACTIONS.get(obj.action, obj.action)

    @admin.display(description="角色")
    def role_name(self, obj: CaseEvent) -> str:
        return ROLE_NAMES.get(obj.role, obj.role)

    @admin.display(description="时间")
    def at_time(self, obj: CaseEvent):
        return obj.at

    @admin.display(description="原状态")
    def from_name(self, obj: CaseEvent) -> str:
        return workflow.STATES.get(obj.from_state, obj.from_state)

    @admin.display(description="新状态")
    def to_name(self, obj: CaseEvent) -> str:
        return workflow.STATES.get(obj.to_state, obj.to_state)

    @admin.display(description="哈希")
    def hash_short(self, obj: CaseEvent) -> str:
        return obj.hash[:16] + "…"


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ("number", "category_name", "state", "level", "station_name", "handler", "reported_at",
                    "handling_due_at")
    list_filter = ("state", "level", "source", "urgency", "moderation")
    search_fields = ("number", "title", "address")
    list_select_related = ("category", "station", "handler_unit")
    inlines = (EventInline,)
    fields = ("number", "category_name", "urgency", "source", "state", "level", "max_level", "moderation",
              "title", "description", "address", "lon", "lat", "station_name", "handler", "reported_at",
              "handling_due_at")
    readonly_fields = fields

    @admin.display(description="类别", ordering="category__code")
    def category_name(self, obj: Case) -> str:
        return str(obj.category)

    @admin.display(description="服务站", ordering="station__name")
    def station_name(self, obj: Case) -> str:
        return obj.station.name if obj.station_id else ""

    @admin.display(description="处置单位", ordering="handler_unit__name")
    def handler(self, obj: Case) -> str:
        return obj.handler_unit.name if obj.handler_unit_id else ""

    @admin.display(description="处置时限", ordering="handling_due")
    def handling_due_at(self, obj: Case):
        return obj.handling_due


class ActionFilter(admin.SimpleListFilter):
    title = "动作"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return list(workflow.ACTIONS.items())

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("case_number", "seq_no", "action_name", "role_name", "at_time", "to_name")
    list_filter = (ActionFilter,)
    search_fields = ("case__number",)
    list_select_related = ("case",)
    fields = ("case_number", "seq_no", "action_name", "role_name", "at_time", "from_name", "to_name",
              "data_text", "hash_short")
    readonly_fields = fields
    seq_no, action_name, role_name = EventInline.seq_no, EventInline.action_name, EventInline.role_name
    at_time, from_name, to_name = EventInline.at_time, EventInline.from_name, EventInline.to_name
    data_text, hash_short = EventInline.data_text, EventInline.hash_short

    @admin.display(description="案件编号", ordering="case__number")
    def case_number(self, obj: CaseEvent) -> str:
        return obj.case.number
