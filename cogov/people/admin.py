"""Admin for people and duty (人员与职责): accounts, appointments (岗位任命), professional units, API tokens.

Appointments decide who sees and does what, so they are history: they are made through ``role_assign`` (here,
or a roster through 「批量导入」) and afterwards only their end may change; none is deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q

from cogov import clock
from cogov.errors import DomainError
from cogov.people.models import ApiToken, Person, RoleAssignment, ServiceUnit
from cogov.people.rosters import PHONE_RE, normalize_phone
from cogov.people.services import role_assign
from cogov.web.imports import ImportAdminMixin

#: Chinese labels for fields whose model has none (admin-side, so no migration is needed).
FIELD_LABELS = {
    "city": "城市", "person": "人员", "scope_unit": "辖区单元", "scope_path": "辖区路径", "service_unit": "专业单位",
    "service_area": "服务范围", "label": "用途", "key_hash": "令牌摘要", "created_at": "签发时间",
    "revoked_at": "吊销时间",
}


def titled(title: str, base=admin.RelatedFieldListFilter):
    """A list filter of ``base`` kind headed ``title``."""

    class Filter(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Filter


class LabelsMixin:
    """Form fields labelled from FIELD_LABELS where the model gives no Chinese name."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in FIELD_LABELS:
            field.label = FIELD_LABELS[db_field.name]
        return field


def _clean_phone(form: forms.ModelForm) -> str:
    phone = (form.cleaned_data.get("phone") or "").strip()
    if not phone:
        return ""
    digits = normalize_phone(phone)
    if not PHONE_RE.match(digits):
        raise ValidationError("请输入 11 位中国大陆手机号")
    return digits


class PersonChangeForm(UserChangeForm):
    def clean_phone(self) -> str:
        return _clean_phone(self)


class PersonCreationForm(AdminUserCreationForm):
    def clean_phone(self) -> str:
        return _clean_phone(self)


def _place(a: RoleAssignment) -> str:
    where = a.scope_unit or a.service_unit
    return where.name if where is not None else "全市"


class AssignmentInline(admin.TabularInline):
    """The person's appointments, read-only: make or end one under 「岗位任命」."""

    model = RoleAssignment
    fk_name = "person"
    extra = 0
    can_delete = False
    verbose_name = verbose_name_plural = "岗位任命（在「岗位任命」中新增或结束）"
    fields = ("role", "where", "valid_from", "valid_to")
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="辖区或专业单位")
    def where(self, obj: RoleAssignment) -> str:
        return str(obj.scope_unit or obj.service_unit or "全市")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Person)
class PersonAdmin(ImportAdminMixin, LabelsMixin, UserAdmin):
    """人员: accounts; rosters come in through 「批量导入」."""

    import_kind = "roster"
    form = PersonChangeForm
    add_form = PersonCreationForm
    list_display = ("username", "display_name", "phone", "city_name", "posts", "is_staff", "is_active")
    list_filter = ("is_active", "is_staff", "is_superuser", ("city", titled("城市")), "assignments__role")
    search_fields = ("username", "display_name", "phone")
    ordering = ("username",)
    fieldsets = UserAdmin.fieldsets + (("城市共治", {"fields": ("city", "display_name", "phone")}),)
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("城市共治", {"classes": ("wide",), "fields": ("city", "display_name", "phone")}),
    )
    inlines = (AssignmentInline,)

    def get_queryset(self, request):
        now = clock.now()
        current = RoleAssignment.objects.filter(valid_from__lte=now).filter(Q(valid_to__isnull=True) |
                                                                           Q(valid_to__gt=now))
        return super().get_queryset(request).select_related("city").prefetch_related(
            Prefetch("assignments", queryset=current.select_related("scope_unit", "service_unit"),
                     to_attr="current_posts"))

    @admin.display(description="城市", ordering="city__name")
    def city_name(self, obj: Person) -> str:
        return obj.city.name if obj.city_id else ""

    @admin.display(description="当前岗位")
    def posts(self, obj: Person) -> str:
        return "；".join(f"{a.get_role_display()}·{_place(a)}" for a in getattr(obj, "current_posts", []))


class _DryRun(Exception):
    pass


class AssignmentAddForm(forms.ModelForm):
    """A new appointment, checked by ``role_assign`` itself (in a rolled-back savepoint) before saving."""

    class Meta:
        model = RoleAssignment
        fields = ("person", "role", "scope_unit", "service_unit", "valid_from", "valid_to")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            with transaction.atomic():
                role_assign(person=data["person"], role=data["role"], scope_unit=data.get("scope_unit"),
                            service_unit=data.get("service_unit"), valid_from=data.get("valid_from"),
                            valid_to=data.get("valid_to"))
                raise _DryRun
        except _DryRun:
            pass
        except DomainError as e:
            raise ValidationError(e.message) from e
        return data


class AssignmentChangeForm(forms.ModelForm):
    """An appointment made earlier: only its end may change, and not into the past (history stays as it was)."""

    class Meta:
        model = RoleAssignment
        fields = ("valid_to",)

    def clean_valid_to(self):
        end = self.cleaned_data.get("valid_to")
        if end is not None and end <= self.instance.valid_from:
            raise ValidationError("结束时间必须晚于开始时间")
        if end is not None and end < clock.now():
            raise ValidationError("结束时间不能早于现在：已经过去的任职记录不能改写")
        return end


class CurrentFilter(admin.SimpleListFilter):
    title = "在岗状态"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return (("now", "当前在岗"), ("ended", "已结束"), ("future", "尚未开始"))

    def queryset(self, request, queryset):
        now = clock.now()
        if self.value() == "now":
            return queryset.filter(valid_from__lte=now).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=now))
        if self.value() == "ended":
            return queryset.filter(valid_to__lte=now)
        if self.value() == "future":
            return queryset.filter(valid_from__gt=now)
        return queryset


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ImportAdminMixin, LabelsMixin, admin.ModelAdmin):
    """岗位任命: made through ``role_assign``; afterwards only the end may change; never deleted."""

    import_kind = "roster"
    list_display = ("person_name", "role", "scope", "service", "valid_from", "valid_to", "is_current")
    list_filter = (CurrentFilter, "role", ("city", titled("城市")))
    search_fields = ("person__username", "person__display_name", "scope_unit__name", "scope_unit__code",
                     "service_unit__name", "service_unit__code")
    autocomplete_fields = ("person", "scope_unit", "service_unit")
    list_select_related = ("person", "scope_unit", "service_unit")
    date_hierarchy = "valid_from"
    ordering = ("-valid_from",)

    @admin.display(description="人员", ordering="person__username")
    def person_name(self, obj: RoleAssignment) -> str:
        return f"{obj.person}（{obj.person.username}）"

    @admin.display(description="辖区单元", ordering="scope_path")
    def scope(self, obj: RoleAssignment) -> str:
        return str(obj.scope_unit) if obj.scope_unit_id else ""

    @admin.display(description="专业单位", ordering="service_unit__name")
    def service(self, obj: RoleAssignment) -> str:
        return str(obj.service_unit) if obj.service_unit_id else ""

    @admin.display(description="辖区路径")
    def path(self, obj: RoleAssignment) -> str:
        return obj.scope_path

    @admin.display(description="城市")
    def city_name(self, obj: RoleAssignment) -> str:
        return str(obj.city) if obj.city_id else ""

    @admin.display(description="当前在岗", boolean=True)
    def is_current(self, obj: RoleAssignment) -> bool:
        now = clock.now()
        return obj.valid_from <= now and (obj.valid_to is None or obj.valid_to > now)

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = AssignmentChangeForm if obj is not None else AssignmentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("person", "role", "scope_unit", "service_unit", "valid_from", "valid_to")
        return ("person_name", "role", "scope", "service", "path", "city_name", "valid_from", "valid_to")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fixed = ("person_name", "role", "scope", "service", "path", "city_name", "valid_from")
        if obj.valid_to is not None and obj.valid_to <= clock.now():
            return (*fixed, "valid_to")  # an appointment that has ended is history
        return fixed

    def has_delete_permission(self, request, obj=None):
        return False  # history of who could see what: end an appointment instead

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["valid_to"])
            return
        made = role_assign(person=obj.person, role=obj.role, scope_unit=obj.scope_unit,
                           service_unit=obj.service_unit, valid_from=obj.valid_from, valid_to=obj.valid_to)
        obj.pk, obj.city_id, obj.scope_path = made.pk, made.city_id, made.scope_path
        obj._state.adding = False


@admin.register(ServiceUnit)
class ServiceUnitAdmin(ImportAdminMixin, LabelsMixin, admin.ModelAdmin):
    """专业单位: water, gas, sanitation …, the categories they take and the units they serve."""

    import_kind = "service_units"
    list_display = ("code", "name", "duty_type", "area", "member_count", "city_name")
    list_filter = ("duty_type", ("city", titled("城市")))
    search_fields = ("code", "name")
    autocomplete_fields = ("service_area",)
    ordering = ("code",)

    def get_queryset(self, request):
        now = clock.now()
        members = Count("members", filter=Q(members__valid_from__lte=now) & (
            Q(members__valid_to__isnull=True) | Q(members__valid_to__gt=now)), distinct=True)
        return super().get_queryset(request).select_related("city").prefetch_related("service_area").annotate(
            n_members=members)

    @admin.display(description="服务范围")
    def area(self, obj: ServiceUnit) -> str:
        return "、".join(u.name for u in obj.service_area.all()) or "全市"

    @admin.display(description="在岗人员", ordering="n_members")
    def member_count(self, obj: ServiceUnit) -> int:
        return getattr(obj, "n_members", 0)

    @admin.display(description="城市", ordering="city__name")
    def city_name(self, obj: ServiceUnit) -> str:
        return obj.city.name if obj.city_id else ""

    def has_delete_permission(self, request, obj=None):
        return False  # cases and appointments point at it


@admin.register(ApiToken)
class ApiTokenAdmin(LabelsMixin, admin.ModelAdmin):
    """接口令牌: issued with ``cogov token`` (the key is shown once); here they are listed and revoked."""

    list_display = ("holder", "token_label", "issued", "revoked")
    list_filter = (("revoked_at", titled("吊销时间", admin.EmptyFieldListFilter)),)
    search_fields = ("person__username", "person__display_name", "label")
    list_select_related = ("person",)
    fields = ("holder", "token_label", "issued", "revoked")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description="人员", ordering="person__username")
    def holder(self, obj: ApiToken) -> str:
        return f"{obj.person}（{obj.person.username}）"

    @admin.display(description="用途", ordering="label")
    def token_label(self, obj: ApiToken) -> str:
        return obj.label

    @admin.display(description="签发时间", ordering="created_at")
    def issued(self, obj: ApiToken):
        return obj.created_at

    @admin.display(description="吊销时间", ordering="revoked_at")
    def revoked(self, obj: ApiToken):
        return obj.revoked_at

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="吊销所选令牌", permissions=["change"])
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=clock.now())
        self.message_user(request, f"已吊销 {n} 个令牌。", messages.SUCCESS)
