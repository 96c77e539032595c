"""People and duty (人员与职责): accounts, role assignments, professional units and API tokens."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models

from cogov.people.roles import DUTY_CHOICES, DUTY_NAMES, DUTY_TYPES, ROLE_CHOICES, ROLE_NAMES, ROLES  # noqa: F401


class Person(AbstractUser):
    """人员 — an account: citizen, head, unit member, supervisor or admin."""

    city = models.ForeignKey("geo.City", null=True, blank=True, on_delete=models.PROTECT, related_name="people")
    display_name = models.CharField("姓名", max_length=50, blank=True)
    phone = models.CharField("手机号", max_length=20, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "人员"

    def __str__(self) -> str:
        return self.display_name or self.username


class ServiceUnit(models.Model):
    """专业单位 — water, gas, heating, municipal, greening, sanitation, enforcement, telecom, power, property."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="service_units")
    code = models.CharField("编码", max_length=40)
    name = models.CharField("名称", max_length=100)
    duty_type = models.CharField("职责类型", max_length=20, choices=DUTY_CHOICES)
    #: Extra category codes this unit takes beyond its duty type's defaults.
    duty_categories = models.JSONField("职责事项", default=list, blank=True)
    #: The units (districts, sub-districts, communities …) it serves; empty = the whole city.
    service_area = models.ManyToManyField("geo.Unit", blank=True, related_name="service_units")

    class Meta:
        verbose_name = verbose_name_plural = "专业单位"
        constraints = [models.UniqueConstraint(fields=["city", "code"], name="service_unit_code_unique")]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    """岗位任命 — a person holds a role over a territorial unit (or in a professional unit) for a time."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT, related_name="role_assignments")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="assignments")
    role = models.CharField("角色", max_length=30, choices=ROLE_CHOICES)
    scope_unit = models.ForeignKey(
        "geo.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    #: Denormalised path of the scope unit, so that "may this person see that case" is a prefix test.
    scope_path = models.CharField(max_length=400, blank=True, db_index=True)
    service_unit = models.ForeignKey(
        ServiceUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    valid_from = models.DateTimeField("开始")
    valid_to = models.DateTimeField("结束", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "岗位任命"
        indexes = [models.Index(fields=["city", "role"])]

    def __str__(self) -> str:
        return f"{self.person} · {ROLE_NAMES.get(self.role, self.role)}"


class ApiToken(models.Model):
    """接口令牌 — a staff member's API token; only its SHA-256 is stored."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "接口令牌"

    @staticmethod
    def hash_key(key: str) -> str:
        """The stored form of a token."""
        return hashlib.sha256(key.encode()).hexdigest()


class PhoneCode(models.Model):
    """短信验证码 — a one-time code sent to a mobile number; only a keyed hash of it is kept."""

    city = models.ForeignKey("geo.City", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField("手机号", max_length=20, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "短信验证码"
        indexes = [models.Index(fields=["phone", "created_at"])]
