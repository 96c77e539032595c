"""The `cogov` command's small subcommands, run in-process on the test database."""

from __future__ import annotations

import pytest

from cogov.cli import main
from cogov.people.auth import person_for_token
from cogov.people.models import Person


def run(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_createadmin_then_token_then_the_token_authenticates(small_city, capsys):
    code, out, _ = run(["createadmin", "--username", "chief", "--password", "s3cret-pass", "--city", "3702"], capsys)
    assert code == 0 and "chief" in out
    chief = Person.objects.get(username="chief")
    assert chief.is_superuser and chief.check_password("s3cret-pass") and chief.city == small_city.city
    code, out, _ = run(["token", "--username", "chief"], capsys)
    assert code == 0 and person_for_token(out.strip()) == chief


def test_createadmin_refuses_a_short_password(db, capsys):
    code, _, err = run(["createadmin", "--username", "x", "--password", "short"], capsys)
    assert code == 2 and "至少 8 位" in err and not Person.objects.filter(username="x").exists()


def test_token_for_an_unknown_user_is_a_message(db, capsys):
    code, _, err = run(["token", "--username", "nobody"], capsys)
    assert code == 2 and "不存在" in err


def test_holidays_import_needs_a_year(db, capsys, tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("2027-01-01,0\n")
    code, _, err = run(["import", "holidays", str(f)], capsys)
    assert code == 2 and "--year" in err


def test_audit_verify_names_an_edited_event(small_city, capsys):
    from django.db import connection

    from cogov.cases.models import CaseEvent
    from cogov.cases.services import case_act, case_report
    from tests.conftest import ON_STREET

    c = small_city
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1])
    case_act(city_id=c.city.pk, number=case.number, actor=c.actor("station_a"), action="accept")
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 0 and "完整" in out
    ev = CaseEvent.objects.get(case=case, seq=2)
    with connection.cursor() as cur:  # someone with database access rewrites who accepted the case
        cur.execute("UPDATE cases_caseevent SET role = %s WHERE id = %s", ["admin", ev.pk])
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1 and case.number in out and "#2" in out and "哈希不符" in out
