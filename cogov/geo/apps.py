from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "cogov.geo"
    label = "geo"
    verbose_name = "辖区 The governed city"
