"""Admin for notifications (通知): the robots and mailboxes a city configures, the outbox, the inboxes."""

from __future__ import annotations

from django.contrib import admin, messages

from cogov.notify.delivery import outbox_retry_now, redact
from cogov.notify.models import Endpoint, InAppMessage, OutboxMessage


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """通知渠道: which robot or mailbox hears about which part of the city."""

    list_display = ("name", "channel", "target", "scope_unit", "active")
    list_filter = ("channel", "active", "city")
    search_fields = ("name", "target")
    raw_id_fields = ("scope_unit",)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """发件箱: watch deliveries; the only change allowed is to retry."""

    list_display = ("id", "channel_name", "recipient_short", "title", "attempts", "next_attempt_at",
                    "sent_at", "failed_at", "error_short")
    list_filter = ("channel", ("sent_at", admin.EmptyFieldListFilter),
                   ("failed_at", admin.EmptyFieldListFilter), "city")
    search_fields = ("dedup_key", "recipient")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    actions = ["retry_now"]

    def has_add_permission(self, request):  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001
        return False

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001
        return False

    @admin.display(description="渠道", ordering="channel")
    def channel_name(self, obj: OutboxMessage) -> str:
        return obj.get_channel_display()

    @admin.display(description="接收方", ordering="recipient")
    def recipient_short(self, obj: OutboxMessage) -> str:
        # Webhook URLs carry the robot's access token in the query: the list leaves it out.
        return redact(obj.recipient)

    @admin.display(description="标题")
    def title(self, obj: OutboxMessage) -> str:
        return str(obj.payload.get("title", ""))

    @admin.display(description="最近错误")
    def error_short(self, obj: OutboxMessage) -> str:
        return obj.last_error[:80]

    def has_retry_permission(self, request) -> bool:  # noqa: ANN001
        return request.user.has_perm("notify.change_outboxmessage")

    @admin.action(description="立即重试所选消息（尝试次数清零）", permissions=["retry"])
    def retry_now(self, request, queryset):  # noqa: ANN001
        n = outbox_retry_now(message_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"已安排 {n} 条消息立即重试。", messages.SUCCESS)


@admin.register(InAppMessage)
class InAppMessageAdmin(admin.ModelAdmin):
    """站内消息: what people were told."""

    list_display = ("title", "person", "case_number", "created_at", "read_at")
    list_filter = ("city", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "case_number", "person__username", "person__display_name")
    raw_id_fields = ("person",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):  # noqa: ANN001
        return False
