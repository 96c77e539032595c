"""The models and the migrations agree (the same migrations run on SQLite and PostgreSQL in CI)."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_is_missing_a_migration():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as e:  # makemigrations --check exits 1 when a migration is missing
        pytest.fail(f"missing migration (exit {e.code}):\n{out.getvalue()}")
