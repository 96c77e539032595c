"""The durable task queue's app (django-tasks-db) under a Chinese name in the admin (后台任务).

Installed instead of ``"django_tasks_db"``: the same app (its ``name`` and label ``django_tasks_database``, so its
migrations, models and the ``db_worker`` are unchanged); only the name the admin shows is ours. The model's own
name ("Task Results") comes from the package through gettext and needs a zh-Hans catalogue entry to change.
"""

from __future__ import annotations

from django_tasks_db.apps import TasksAppConfig


class TasksDatabaseConfig(TasksAppConfig):
    """后台任务 — django-tasks-db, named for the admin."""

    verbose_name = "后台任务 Background tasks"
