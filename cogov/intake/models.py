"""Public intake (公众受理): API clients, idempotent retries and rate limits — the door the whole city knocks on."""

from __future__ import annotations

from django.db import models


class ApiClient(models.Model):
    """接入应用 — an app or hotline system that posts through Open311 with an ``api_key`` (only its hash is kept)."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    name = models.CharField("名称", max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = verbose_name_plural = "接入应用"


class IdempotencyRecord(models.Model):
    """幂等记录 — the first answer to a request carrying an ``Idempotency-Key``; a retry gets the same answer."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    #: Which door ("api:report", "open311:post") and which client (address or api client) the key belongs to.
    scope = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.TextField(blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "幂等记录"
        constraints = [models.UniqueConstraint(fields=["city", "scope", "key"], name="idempotency_unique")]


class RateCounter(models.Model):
    """限流计数 — requests of one client (address or phone) in one fixed window."""

    bucket = models.CharField(max_length=200)
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bucket", "window_start"], name="rate_counter_unique")]
