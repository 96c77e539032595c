from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cogov.cases"
    label = "cases"
    verbose_name = "案件 Cases"

    def ready(self) -> None:
        # per-process caches of read-mostly configuration are invalidated by saves and deletes (cogov/cases/config.py)
        from cogov.cases import config

        config.connect_signals()
