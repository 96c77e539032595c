from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "cogov.web"
    label = "web"
    verbose_name = "网页 Pages"
