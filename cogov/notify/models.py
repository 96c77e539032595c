"""Notifications (通知): the outbox written with each case change, and the places messages go."""

from __future__ import annotations

from django.db import models

CHANNEL_CHOICES = [
    ("inapp", "站内消息"),
    ("email", "电子邮件"),
    ("wecom", "企业微信群机器人"),
    ("dingtalk", "钉钉群机器人"),
]


class Endpoint(models.Model):
    """通知渠道 — a group-chat robot or mailbox that hears about cases of a unit (a station, a district …)."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    channel = models.CharField("渠道", max_length=20, choices=CHANNEL_CHOICES)
    name = models.CharField("名称", max_length=100)
    #: Webhook URL for robots, an address for email.
    target = models.CharField("地址", max_length=500)
    #: Cases under this unit are announced here; empty = the whole city.
    scope_unit = models.ForeignKey("geo.Unit", null=True, blank=True, on_delete=models.CASCADE,
                                   verbose_name="范围")
    #: Which case actions to announce; empty = all.
    actions = models.JSONField("通知的操作", default=list, blank=True)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = verbose_name_plural = "通知渠道"


class OutboxMessage(models.Model):
    """发件箱 — a message written in the same transaction as the event, delivered later with retries."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    channel = models.CharField("渠道", max_length=20, choices=CHANNEL_CHOICES)
    #: A person id for in-app, an address for email, a URL for robots.
    recipient = models.CharField("接收方", max_length=500)
    payload = models.JSONField("内容", default=dict)
    #: Stable per (event, recipient): receivers use it to recognise a retry after a crash.
    dedup_key = models.CharField("去重键", max_length=200, unique=True)
    attempts = models.PositiveIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", db_index=True)
    sent_at = models.DateTimeField("送达时间", null=True, blank=True)
    failed_at = models.DateTimeField("失败时间", null=True, blank=True)
    last_error = models.TextField("最近错误", blank=True)
    created_at = models.DateTimeField("创建时间")

    class Meta:
        verbose_name = verbose_name_plural = "发件箱"
        indexes = [models.Index(fields=["sent_at", "failed_at", "next_attempt_at"])]


class InAppMessage(models.Model):
    """站内消息 — what a person sees in their inbox."""

    city = models.ForeignKey("geo.City", on_delete=models.PROTECT)
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="inbox", verbose_name="收件人")
    title = models.CharField("标题", max_length=200)
    body = models.TextField("正文", blank=True)
    case_number = models.CharField("案件编号", max_length=20, blank=True)
    dedup_key = models.CharField("去重键", max_length=200, unique=True)
    created_at = models.DateTimeField("时间")
    read_at = models.DateTimeField("已读时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "站内消息"
        ordering = ["-created_at"]
