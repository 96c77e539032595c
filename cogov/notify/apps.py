from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "cogov.notify"
    label = "notify"
    verbose_name = "通知 Notifications"
