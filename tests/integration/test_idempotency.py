"""A retry with the same Idempotency-Key gets the first answer, never a second case — also at the same moment.

The concurrency tests need PostgreSQL or a file SQLite test database (``COGOV_TEST_DATABASE_NAME``): the
default in-memory SQLite test database refuses a second writer instead of queueing it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from django.db import connection, transaction

from cogov import clock
from cogov.errors import DomainError
from cogov.intake.idempotency import fingerprint, idempotent, prune_idempotency
from cogov.intake.models import ApiClient, IdempotencyRecord

BODY = {"category_id": 1, "lon": 120.3115, "lat": 36.0115, "description": "路灯坏了"}


@pytest.fixture
def city(db):
    from cogov.geo.services import city_ensure

    return city_ensure(code="3702", name="青岛市")


class Door:
    """A stand-in for the report endpoint: each produce() writes one row (an ApiClient) and answers 201."""

    def __init__(self, city, *, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.city = city
        self.delay = delay
        self.fail = fail
        self.calls = 0
        self.lock = threading.Lock()

    def produce(self):
        with self.lock:
            self.calls += 1
            n = self.calls
        if self.delay:
            time.sleep(self.delay)
        with transaction.atomic():  # the service's own transaction nests as a savepoint
            row = ApiClient.objects.create(city=self.city, name=f"第{n}次",
                                           key_hash=f"h{n}-{time.monotonic_ns()}")
        if self.fail is not None:
            raise self.fail
        body = json.dumps({"number": row.pk, "name": row.name}, ensure_ascii=False)
        return 201, body, "application/json", None

    def submit(self, key, body=BODY, scope="api:report:anon"):
        return idempotent(city_id=self.city.pk, scope=scope, key=key, request_fingerprint=fingerprint(body),
                          produce=self.produce)


def _skip_unless_concurrent_database() -> None:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name
                                          or connection.is_in_memory_db()):
        pytest.skip("needs PostgreSQL or a file SQLite test database (COGOV_TEST_DATABASE_NAME): the "
                    "in-memory shared-cache test database refuses a second writer instead of queueing it")


def test_same_key_twice_gives_the_first_answer(city):
    door = Door(city)
    first = door.submit("key-1")
    again = door.submit("key-1")
    assert door.calls == 1 and ApiClient.objects.count() == 1
    assert first[:3] == again[:3] and first[0] == 201
    assert first[3] is False and again[3] is True
    record = IdempotencyRecord.objects.get()
    assert (record.status, record.body) == (201, first[1])
    assert (record.scope, record.key) == ("api:report:anon", "key-1")


def test_different_keys_and_no_key_make_separate_submissions(city):
    door = Door(city)
    a, b = door.submit("key-a"), door.submit("key-b")
    c, d = door.submit(None), door.submit(None)
    assert door.calls == 4 and ApiClient.objects.count() == 4
    assert len({a[1], b[1], c[1], d[1]}) == 4
    assert not any(x[3] for x in (a, b, c, d))
    assert IdempotencyRecord.objects.count() == 2


def test_the_same_key_in_another_scope_or_city_is_another_key(city):
    from cogov.geo.services import city_ensure

    door = Door(city)
    door.submit("k", scope="api:report:person:1")
    door.submit("k", scope="api:report:person:2")
    other = Door(city_ensure(code="3701", name="济南市"))
    other.submit("k", scope="api:report:person:1")
    assert door.calls == 2 and other.calls == 1


def test_same_key_with_another_body_is_refused(city):
    door = Door(city)
    door.submit("key-1")
    with pytest.raises(DomainError) as err:
        door.submit("key-1", body={**BODY, "description": "井盖丢了"})
    assert err.value.code == "idempotency_key_reused" and err.value.status == 422
    assert door.calls == 1
    # key order and spacing of the body do not matter
    assert door.submit("key-1", body=dict(reversed(list(BODY.items()))))[3] is True


@pytest.mark.parametrize("key", ["", " ", " lead", "trail ", "x" * 201, "中文键", "tab\there", "new\nline"])
def test_malformed_keys_are_refused(city, key):
    with pytest.raises(DomainError) as err:
        Door(city).submit(key)
    assert err.value.code == "bad_idempotency_key" and err.value.status == 400


def test_well_formed_keys(city):
    door = Door(city)
    for key in ["x", "x" * 200, "550e8400-e29b-41d4-a716-446655440000", "a b~!@#$%^&*()"]:
        door.submit(key)
    assert door.calls == 4


def test_bad_input_is_remembered_and_replayed(city):
    door = Door(city, fail=DomainError("unknown_category", "类别 99 不存在或已停用"))
    with pytest.raises(DomainError) as err:
        door.submit("key-1")
    assert err.value.code == "unknown_category"
    assert ApiClient.objects.count() == 0  # what produce wrote was rolled back
    status, body, content_type, replayed = door.submit("key-1")
    assert (status, replayed) == (400, True) and content_type.startswith("application/json")
    assert json.loads(body) == {"code": "unknown_category", "message": "类别 99 不存在或已停用"}
    assert door.calls == 1


def test_a_door_with_its_own_errors_remembers_them_in_its_own_format(city):
    class Open311Error(Exception):
        status = 400

    def render(exc):
        if isinstance(exc, Open311Error):
            return exc.status, "<errors><error><code>400</code></error></errors>", "text/xml; charset=utf-8"
        return None

    door = Door(city, fail=Open311Error())

    def submit():
        return idempotent(city_id=city.pk, scope="open311:post:xml", key="k", request_fingerprint=b"{}",
                          produce=door.produce, render_error=render)

    with pytest.raises(Open311Error):
        submit()
    assert submit() == (400, "<errors><error><code>400</code></error></errors>", "text/xml; charset=utf-8", True)
    assert door.calls == 1


@pytest.mark.parametrize("status", [401, 403, 409, 429])
def test_refusals_that_may_change_are_not_remembered(city, status):
    door = Door(city, fail=DomainError("later", "稍后再试", status=status))
    with pytest.raises(DomainError):
        door.submit("key-1")
    assert not IdempotencyRecord.objects.exists()
    door.fail = None
    assert door.submit("key-1")[0] == 201 and door.calls == 2


def test_a_crash_releases_the_key_for_a_retry(city):
    door = Door(city, fail=RuntimeError("数据库连接断开"))
    with pytest.raises(RuntimeError):
        door.submit("key-1")
    assert not IdempotencyRecord.objects.exists() and not ApiClient.objects.exists()
    door.fail = None
    status, _, _, replayed = door.submit("key-1")
    assert status == 201 and not replayed and door.calls == 2
    assert ApiClient.objects.count() == 1


def test_server_errors_are_not_remembered(city):
    calls = []

    def produce():
        calls.append(1)
        return 503, "{}", "application/json", None

    for _ in range(2):
        answer = idempotent(city_id=city.pk, scope="s", key="k", request_fingerprint=b"x", produce=produce)
        assert answer[0] == 503
    assert len(calls) == 2 and not IdempotencyRecord.objects.exists()


def test_nothing_produce_wrote_survives_a_lost_claim(city, settings, monkeypatch):
    """If our claim was taken over while produce ran, its writes roll back: never a second case."""
    from cogov.intake import idempotency

    settings.COGOV_IDEMPOTENCY_WAIT_SECONDS = 0.1
    monkeypatch.setattr(idempotency, "_remember", lambda *a, **k: 0)  # as if the record had been taken over
    door = Door(city)
    with pytest.raises(DomainError) as err:  # and then waits for the new owner's answer
        door.submit("key-1")
    assert err.value.code == "idempotency_in_progress"
    assert door.calls == 1 and ApiClient.objects.count() == 0


def test_an_abandoned_claim_is_taken_over_after_the_lease(city, settings, frozen_clock):
    settings.COGOV_IDEMPOTENCY_LEASE_SECONDS = 60
    IdempotencyRecord.objects.create(city=city, scope="api:report:anon", key="key-1",
                                     request_hash=_hash(BODY),
                                     created_at=frozen_clock - dt.timedelta(seconds=61))
    door = Door(city)
    assert door.submit("key-1")[:1] == (201,) and door.calls == 1


def test_waiting_for_a_claim_in_progress_gives_up_with_409(city, settings, frozen_clock):
    settings.COGOV_IDEMPOTENCY_WAIT_SECONDS = 0.2
    IdempotencyRecord.objects.create(city=city, scope="api:report:anon", key="key-1",
                                     request_hash=_hash(BODY), created_at=frozen_clock)
    door = Door(city)
    started = time.monotonic()
    with pytest.raises(DomainError) as err:
        door.submit("key-1")
    assert 0.2 <= time.monotonic() - started < 2
    assert err.value.code == "idempotency_in_progress" and err.value.status == 409
    assert err.value.detail == {"retry_after": 1}
    assert door.calls == 0


def test_refuses_to_run_inside_a_transaction(city):
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        Door(city).submit("key-1")


def test_prune_keeps_a_day(city, frozen_clock):
    door = Door(city)
    door.submit("new")
    IdempotencyRecord.objects.create(city=city, scope="s", key="old", request_hash="0" * 64, status=201,
                                     created_at=frozen_clock - dt.timedelta(hours=25))
    assert prune_idempotency() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_with_the_real_report_service(small_city):
    """The contract end to end: produce() files a real case through the service; the retry files none."""
    from cogov.cases import services
    from cogov.cases.models import Case
    from tests.conftest import IN_BUILDING

    c = small_city
    calls = []

    def produce():
        calls.append(1)
        case = services.case_report(city=c.city, actor=None, category_id=c.categories["06010"].pk,
                                    lon=IN_BUILDING[0], lat=IN_BUILDING[1], description="门前有暴露垃圾")
        return 201, json.dumps({"number": case.number}), "application/json", case.pk

    answers = [idempotent(city_id=c.city.pk, scope="api:report:anon", key="k-1", request_fingerprint=b"{}",
                          produce=produce) for _ in range(3)]
    assert len(calls) == 1 and Case.objects.count() == 1
    assert {a[1] for a in answers} == {json.dumps({"number": Case.objects.get().number})}
    assert IdempotencyRecord.objects.get().case_id == Case.objects.get().pk


def _hash(body) -> str:
    import hashlib

    return hashlib.sha256(fingerprint(body)).hexdigest()


def _race(door: Door, keys_and_bodies: list[tuple[str, dict]]):
    answers: list = [None] * len(keys_and_bodies)
    errors: list[BaseException] = []
    start = threading.Barrier(len(keys_and_bodies))

    def worker(i, key, body):
        try:
            start.wait()
            answers[i] = door.submit(key, body=body)
        except BaseException as e:
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, k, b)) for i, (k, b) in enumerate(keys_and_bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers, errors


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_the_same_moment_make_one_case():
    _skip_unless_concurrent_database()
    from cogov.geo.services import city_ensure

    door = Door(city_ensure(code="3702", name="青岛市"), delay=0.3)
    answers, errors = _race(door, [("same-key", BODY), ("same-key", BODY)])
    assert not errors, errors
    assert door.calls == 1 and ApiClient.objects.count() == 1
    assert answers[0][:3] == answers[1][:3]
    assert sorted(a[3] for a in answers) == [False, True]
    assert IdempotencyRecord.objects.get().status == 201


@pytest.mark.django_db(transaction=True)
def test_many_requests_with_few_keys_at_the_same_moment():
    _skip_unless_concurrent_database()
    from cogov.geo.services import city_ensure

    door = Door(city_ensure(code="3702", name="青岛市"), delay=0.05)
    answers, errors = _race(door, [(f"key-{i % 3}", BODY) for i in range(9)])
    assert not errors, errors
    assert door.calls == 3 and ApiClient.objects.count() == 3
    for k in range(3):
        mine = [answers[i] for i in range(9) if i % 3 == k]
        assert len({a[1] for a in mine}) == 1
        assert sorted(a[3] for a in mine) == [False, True, True]


@pytest.mark.django_db(transaction=True)
def test_the_same_key_with_two_bodies_at_the_same_moment():
    _skip_unless_concurrent_database()
    from cogov.geo.services import city_ensure

    door = Door(city_ensure(code="3702", name="青岛市"), delay=0.3)
    answers, errors = _race(door, [("k", BODY), ("k", {**BODY, "description": "井盖丢了"})])
    assert door.calls == 1 and ApiClient.objects.count() == 1
    assert [e.code for e in errors] == ["idempotency_key_reused"]
    assert [a[3] for a in answers if a] == [False]


@pytest.mark.django_db(transaction=True)
def test_a_slow_winner_whose_claim_was_taken_over_rolls_back_and_replays(settings):
    """A's claim looks abandoned (older than the lease) while A still works; B takes the key over and answers;
    A's completion finds its record gone, rolls its case back and returns B's answer."""
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the winner holds the write lock (BEGIN IMMEDIATE) for the whole of produce(): "
                    "nobody can take its claim over meanwhile")
    from cogov.geo.services import city_ensure

    settings.COGOV_IDEMPOTENCY_LEASE_SECONDS = 60
    city = city_ensure(code="3702", name="青岛市")
    slow, fast = Door(city, delay=1.0), Door(city)
    result: dict = {}

    def a():
        try:
            result["a"] = slow.submit("key-1")
        except BaseException as e:
            result["a"] = e
        finally:
            connection.close()

    thread = threading.Thread(target=a)
    thread.start()
    deadline = time.monotonic() + 5
    while not IdempotencyRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    IdempotencyRecord.objects.update(created_at=clock.now() - dt.timedelta(seconds=61))
    b = fast.submit("key-1")
    thread.join()
    assert b[0] == 201 and b[3] is False and fast.calls == 1 and slow.calls == 1
    assert result["a"] == (*b[:3], True)
    assert ApiClient.objects.count() == 1 and json.loads(b[1])["name"] == "第1次"
    assert IdempotencyRecord.objects.get().body == b[1]
