from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "cogov.people"
    label = "people"
    verbose_name = "人员与职责 People and duty"
