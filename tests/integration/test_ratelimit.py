"""Public intake is rate-limited per client address and per phone, in fixed windows, with Retry-After.

The concurrency test needs PostgreSQL or a file SQLite test database (``COGOV_TEST_DATABASE_NAME``): the
default in-memory SQLite test database refuses a second writer instead of queueing it.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from cogov import clock
from cogov.errors import DomainError
from cogov.intake.models import RateCounter
from cogov.intake.ratelimit import (
    check_rate,
    client_address,
    enforce_public_limits,
    prune_rates,
    retry_after_headers,
)

# 2026-11-24 02:00:00 UTC is a multiple of 600 and of 3600 seconds: a window starts there.
WINDOW_START = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def at_window_start():
    clock.freeze(WINDOW_START)
    yield WINDOW_START
    clock.freeze(None)


def advance(seconds: float) -> None:
    clock.freeze(clock.now() + dt.timedelta(seconds=seconds))


def request_from(address: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/api/v1/cases", **extra)


def _skip_unless_concurrent_database() -> None:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name
                                          or connection.is_in_memory_db()):
        pytest.skip("needs PostgreSQL or a file SQLite test database (COGOV_TEST_DATABASE_NAME): the "
                    "in-memory shared-cache test database refuses a second writer instead of queueing it")


@pytest.mark.django_db
def test_fourth_request_in_a_window_is_refused_until_the_next_window(at_window_start):
    results = [check_rate(bucket="addr:test", limit=3, window_seconds=600) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.count for r in results] == [1, 2, 3, 4]
    assert 0 < results[3].retry_after <= 600

    advance(599.5)
    late = check_rate(bucket="addr:test", limit=3, window_seconds=600)
    assert not late.allowed and late.retry_after == 1

    advance(0.5)
    fresh = check_rate(bucket="addr:test", limit=3, window_seconds=600)
    assert fresh.allowed and fresh.count == 1 and fresh.retry_after == 600


@pytest.mark.django_db
def test_retry_after_counts_down_to_the_end_of_the_window(at_window_start):
    advance(250.5)
    result = check_rate(bucket="b", limit=0, window_seconds=600)
    assert not result.allowed and result.retry_after == 350


@pytest.mark.django_db
def test_buckets_and_window_sizes_are_independent(at_window_start):
    for _ in range(3):
        check_rate(bucket="a", limit=3, window_seconds=600)
    assert check_rate(bucket="b", limit=3, window_seconds=600).count == 1
    assert check_rate(bucket="a", limit=3, window_seconds=600).count == 4
    assert RateCounter.objects.filter(bucket="a").count() == 1


@pytest.mark.django_db
def test_public_limits_per_address_and_per_phone(settings, at_window_start):
    settings.COGOV_RATE_PER_ADDRESS = "3/600"
    settings.COGOV_RATE_PER_PHONE = "2/3600"

    # one address, no phone: three pass, the fourth is told when to come back
    for _ in range(3):
        enforce_public_limits(request_from("203.0.113.7"), phone=None)
    with pytest.raises(DomainError) as err:
        enforce_public_limits(request_from("203.0.113.7"), phone=None)
    assert err.value.code == "rate_limited" and err.value.status == 429
    assert err.value.detail == {"retry_after": 600}
    assert "600 秒" in err.value.message
    assert retry_after_headers(err.value) == {"Retry-After": "600"}

    # the same phone from fresh addresses: its own bucket, its own limit (also in +86 spelling)
    enforce_public_limits(request_from("198.51.100.1"), phone="13800000000")
    enforce_public_limits(request_from("198.51.100.2"), phone="+86 138 0000 0000")
    with pytest.raises(DomainError) as err:
        enforce_public_limits(request_from("198.51.100.3"), phone="13800000000")
    assert err.value.detail == {"retry_after": 3600}

    # another phone from those addresses is fine
    enforce_public_limits(request_from("198.51.100.1"), phone="13900000000")

    # no phone number in clear in the table
    assert not RateCounter.objects.filter(bucket__contains="13800000000").exists()
    assert not RateCounter.objects.filter(bucket__contains="203.0.113.7").exists()


@pytest.mark.django_db
def test_ipv6_clients_are_counted_per_64(settings, at_window_start):
    settings.COGOV_RATE_PER_ADDRESS = "2/600"
    enforce_public_limits(request_from("2001:db8:1:2::1"), phone=None)
    enforce_public_limits(request_from("2001:db8:1:2::ffff"), phone=None)
    with pytest.raises(DomainError):
        enforce_public_limits(request_from("2001:db8:1:2:abcd::9"), phone=None)
    enforce_public_limits(request_from("2001:db8:1:3::1"), phone=None)


@pytest.mark.django_db
def test_limits_can_be_switched_off(settings, at_window_start):
    settings.COGOV_RATE_PER_ADDRESS = ""
    settings.COGOV_RATE_PER_PHONE = None
    for _ in range(50):
        enforce_public_limits(request_from("203.0.113.7"), phone="13800000000")
    assert RateCounter.objects.count() == 0


def test_bad_limit_setting_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.COGOV_RATE_PER_ADDRESS = "thirty per minute"
    with pytest.raises(ImproperlyConfigured):
        enforce_public_limits(request_from("203.0.113.7"), phone=None)


def test_retry_after_headers_only_when_the_error_says_when():
    assert retry_after_headers(DomainError("x", "y", status=429, detail={"retry_after": 2.2})) == {
        "Retry-After": "3"}
    assert retry_after_headers(DomainError("x", "y")) == {}


def test_client_address_trusts_forwarded_for_only_from_listed_proxies(settings):
    settings.COGOV_TRUSTED_PROXIES = []
    assert client_address(request_from("203.0.113.7", forwarded="1.2.3.4")) == "203.0.113.7"

    settings.COGOV_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    # the proxy writes the client's address last; anything further left the client may have forged
    assert client_address(request_from("10.0.0.5", forwarded="6.6.6.6, 198.51.100.9")) == "198.51.100.9"
    assert client_address(request_from("127.0.0.1", forwarded="198.51.100.9, 10.1.2.3")) == "198.51.100.9"
    assert client_address(request_from("10.0.0.5", forwarded="[2001:db8::1]:5555")) == "2001:db8::1"
    assert client_address(request_from("10.0.0.5", forwarded="198.51.100.9:443")) == "198.51.100.9"
    assert client_address(request_from("10.0.0.5", forwarded="not-an-ip")) == "10.0.0.5"
    assert client_address(request_from("10.0.0.5")) == "10.0.0.5"
    # a peer that is not a listed proxy cannot choose its address
    assert client_address(request_from("203.0.113.7", forwarded="198.51.100.9")) == "203.0.113.7"
    assert client_address(request_from("::ffff:203.0.113.7")) == "203.0.113.7"

    settings.COGOV_TRUSTED_PROXIES = "10.0.0.5, 10.0.0.6"
    assert client_address(request_from("10.0.0.6", forwarded="198.51.100.9")) == "198.51.100.9"


@pytest.mark.django_db
def test_prune_deletes_old_windows_only(at_window_start):
    check_rate(bucket="old", limit=3, window_seconds=600, now=WINDOW_START - dt.timedelta(days=2))
    check_rate(bucket="new", limit=3, window_seconds=600)
    assert prune_rates(older_than=dt.timedelta(days=1)) == 1
    assert list(RateCounter.objects.values_list("bucket", flat=True)) == ["new"]


@pytest.mark.django_db
def test_counting_inside_an_outer_atomic_block_does_not_break_it(at_window_start):
    with transaction.atomic():
        assert check_rate(bucket="inner", limit=1, window_seconds=600).allowed
        assert not check_rate(bucket="inner", limit=1, window_seconds=600).allowed
        # the outer block is still usable and sees its own counts
        assert RateCounter.objects.get(bucket="inner").count == 2
        with pytest.raises(ValueError):
            check_rate(bucket="x" * 201, limit=1, window_seconds=600)
        assert RateCounter.objects.filter(bucket="inner").exists()
    assert RateCounter.objects.get(bucket="inner").count == 2


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_each_count_commits_at_once_inside_it_joins_the_block(at_window_start):
    check_rate(bucket="auto", limit=5, window_seconds=600)
    assert not connection.in_atomic_block
    assert RateCounter.objects.get(bucket="auto").count == 1

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        check_rate(bucket="auto", limit=5, window_seconds=600)
        raise Boom
    # documented: counted inside a transaction that rolled back → not counted
    assert RateCounter.objects.get(bucket="auto").count == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_counting_never_loses_a_request(at_window_start):
    _skip_unless_concurrent_database()
    threads_n, per_thread, limit = 8, 10, 50
    allowed: list[bool] = []
    counts: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker():
        try:
            start.wait()
            for _ in range(per_thread):
                r = check_rate(bucket="crowd", limit=limit, window_seconds=600)
                with lock:
                    allowed.append(r.allowed)
                    counts.append(r.count)
        except BaseException as e:
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(counts) == list(range(1, threads_n * per_thread + 1))
    assert allowed.count(True) == limit
    assert RateCounter.objects.get(bucket="crowd").count == threads_n * per_thread
