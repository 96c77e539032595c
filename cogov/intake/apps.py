from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "cogov.intake"
    label = "intake"
    verbose_name = "公众受理 Public intake"
