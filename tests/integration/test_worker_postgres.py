"""Several workers on one outbox: every message reaches its robot exactly once.

Runs on PostgreSQL (``SELECT … FOR UPDATE SKIP LOCKED``), and on SQLite when the test database is a file
(WAL, IMMEDIATE transactions: ``COGOV_TEST_DATABASE_NAME=/tmp/cogov-test.sqlite3``). The default in-memory
SQLite test database is shared-cache: a second connection gets "database table is locked" at once instead
of waiting its turn, which no production installation sees, so the test is skipped there.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from cogov import clock
from cogov.notify.delivery import DeliveryStats, deliver_due
from cogov.notify.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 200
ROBOTS = ("/wecom/a", "/wecom/b", "/dingtalk/c", "/dingtalk/d")


def _skip_unless_concurrent_database() -> None:
    if connection.vendor == "postgresql":
        return
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return
    pytest.skip("needs PostgreSQL or a file SQLite test database (COGOV_TEST_DATABASE_NAME): the in-memory "
                "shared-cache test database refuses concurrent writers instead of queueing them")


class CountingRobot:
    """Robots on 127.0.0.1 that count each dedup key they hear; each answer takes a few milliseconds."""

    def __init__(self, delay: float = 0.003) -> None:
        self.keys: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert body["msgtype"] == "markdown"
                with lock:
                    outer.keys[self.headers["X-Cogov-Dedup-Key"]] += 1
                time.sleep(delay)
                raw = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.request_queue_size = 64
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    r = CountingRobot()
    yield r
    r.close()


@pytest.fixture
def due_messages(robot):
    from cogov.geo.services import city_ensure

    city = city_ensure(code="3702", name="青岛市")
    at = clock.now()
    rows = []
    for i in range(MESSAGES):
        path = ROBOTS[i % len(ROBOTS)]
        rows.append(OutboxMessage(
            city=city, channel="wecom" if "wecom" in path else "dingtalk", recipient=robot.url(path),
            payload={"title": f"【上报】案件 2026{i:07d}", "body": "状态：待立案"},
            dedup_key=f"3702:2026{i:07d}:1:{path}", next_attempt_at=at, created_at=at,
        ))
    OutboxMessage.objects.bulk_create(rows)
    return {r.dedup_key for r in rows}


def assert_each_sent_once(robot, keys) -> None:
    assert set(robot.keys) == keys
    assert [k for k, n in robot.keys.items() if n != 1] == []
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_two_worker_threads_send_each_message_exactly_once(robot, due_messages):
    _skip_unless_concurrent_database()
    start = threading.Barrier(2)
    results: dict[str, DeliveryStats] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        total = DeliveryStats()
        try:
            start.wait()
            while True:
                stats = deliver_due(limit=10)  # small batches, so that the two interleave
                total.add(stats)
                if stats.claimed == 0:
                    break
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            results[name] = total
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert_each_sent_once(robot, due_messages)
    assert results["one"].sent + results["two"].sent == MESSAGES
    assert results["one"].sent > 0 and results["two"].sent > 0  # they really worked side by side
    assert results["one"].failed == results["two"].failed == 0


def test_two_worker_processes_send_each_message_exactly_once(robot, due_messages):
    """``cogov worker --once`` twice at the same moment, as two machines would run it."""
    if connection.vendor != "postgresql":
        pytest.skip("the worker processes find the database through COGOV_DATABASE_URL: PostgreSQL only")
    db = connection.settings_dict
    env = dict(os.environ, COGOV_DATABASE_URL=(
        f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"))
    cmd = [sys.executable, "-m", "cogov", "worker", "--once"]
    cwd = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert_each_sent_once(robot, due_messages)
