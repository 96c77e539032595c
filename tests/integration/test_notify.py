"""Delivering the outbox to real receivers: group-chat robots on 127.0.0.1, mail, inboxes; the worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django_tasks import task

from cogov import clock
from cogov.notify import delivery
from cogov.notify.delivery import deliver_due, outbox_retry_now
from cogov.notify.models import InAppMessage, OutboxMessage
from cogov.notify.worker import run_worker, start_background_worker

ON_STREET = (120.32, 36.061)  # on 香港中路 in the small city (tests/conftest.py)


class Receiver:
    """A group-chat robot on 127.0.0.1: records every POST; answers from a script, then 200 ``errcode 0``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict]]] = {}
        self.on_request = None
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "json": json.loads(body)})
                    answers = outer.script.get(self.path) or []
                    status, answer = answers.pop(0) if answers else (200, {"errcode": 0, "errmsg": "ok"})
                if outer.on_request:
                    outer.on_request(self.path)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def dead_url():
    """A port on which nothing listens: connections are refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/robot"


@pytest.fixture
def city(db, frozen_clock):
    from cogov.geo.services import city_ensure

    return city_ensure(code="3702", name="青岛市")


@pytest.fixture
def person(city):
    from cogov.people.models import Person

    return Person.objects.create_user(username="station_a", password="pw-station_a", city=city,
                                      display_name="王站长")


def queue(city, channel, recipient, key, *, title="【派遣】案件 20260000001 · 暴露垃圾", body="状态：已派遣"):
    """A due outbox row, as the case services write them."""
    at = clock.now()
    return OutboxMessage.objects.create(
        city=city, channel=channel, recipient=recipient, dedup_key=key, next_attempt_at=at, created_at=at,
        payload={"title": title, "body": body, "case": "20260000001", "action": "dispatch", "seq": 3},
    )


def advance(seconds: float) -> None:
    clock.freeze(clock.now() + dt.timedelta(seconds=seconds))


def fresh(m: OutboxMessage) -> OutboxMessage:
    m.refresh_from_db()
    return m


# Robots ---------------------------------------------------------------------------------------------------


def test_wecom_robot_gets_markdown_and_the_dedup_key(city, receiver):
    m = queue(city, "wecom", receiver.url("/cgi-bin/webhook/send?key=abc"), "3702:20260000001:3:ep1")
    stats = deliver_due()
    assert (stats.claimed, stats.sent) == (1, 1)
    [req] = receiver.requests
    assert req["path"] == "/cgi-bin/webhook/send?key=abc"
    assert req["headers"]["X-Cogov-Dedup-Key"] == "3702:20260000001:3:ep1"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert req["json"] == {"msgtype": "markdown",
                           "markdown": {"content": "### 【派遣】案件 20260000001 · 暴露垃圾\n状态：已派遣"}}
    m = fresh(m)
    assert m.sent_at == clock.now() and m.attempts == 1 and m.failed_at is None and m.last_error == ""
    # nothing is due any more: a second pass sends nothing
    assert deliver_due().claimed == 0 and len(receiver.requests) == 1


def test_dingtalk_robot_gets_markdown_with_title_and_text(city, receiver):
    queue(city, "dingtalk", receiver.url("/robot/send?access_token=t"), "3702:20260000001:3:ep2")
    assert deliver_due().sent == 1
    [req] = receiver.requests
    assert req["headers"]["X-Cogov-Dedup-Key"] == "3702:20260000001:3:ep2"
    assert req["json"] == {"msgtype": "markdown", "markdown": {
        "title": "【派遣】案件 20260000001 · 暴露垃圾",
        "text": "### 【派遣】案件 20260000001 · 暴露垃圾\n\n状态：已派遣"}}


def test_wecom_content_is_cut_to_the_robot_limit(city, receiver):
    queue(city, "wecom", receiver.url("/long"), "k-long", body="很长" * 3000)
    assert deliver_due().sent == 1
    content = receiver.requests[0]["json"]["markdown"]["content"]
    assert len(content.encode()) <= delivery.WECOM_MAX_BYTES and content.endswith("…")


def test_server_error_then_ok_is_retried_after_the_backoff(city, receiver, settings):
    settings.COGOV_OUTBOX_BACKOFF_SECONDS = 30
    receiver.script["/flaky"] = [(500, {"error": "boom"})]
    m = queue(city, "wecom", receiver.url("/flaky"), "k-flaky")
    t0 = clock.now()

    stats = deliver_due()
    assert (stats.sent, stats.retried) == (0, 1)
    m = fresh(m)
    assert m.attempts == 1 and m.sent_at is None and m.failed_at is None
    assert "HTTP 500" in m.last_error
    assert m.next_attempt_at == t0 + dt.timedelta(seconds=30)

    advance(29)
    assert deliver_due().claimed == 0  # still waiting out the back-off
    advance(1)
    assert deliver_due().sent == 1
    m = fresh(m)
    assert m.attempts == 2 and m.sent_at == clock.now() and m.last_error == ""
    assert receiver.paths() == ["/flaky", "/flaky"]
    assert {r["headers"]["X-Cogov-Dedup-Key"] for r in receiver.requests} == {"k-flaky"}


def test_backoff_doubles_with_each_failure(city, receiver, settings):
    settings.COGOV_OUTBOX_BACKOFF_SECONDS = 30
    receiver.script["/down"] = [(503, {})] * 5
    m = queue(city, "dingtalk", receiver.url("/down"), "k-down")
    waits = []
    for _ in range(4):
        before = clock.now()
        assert deliver_due().retried == 1
        m = fresh(m)
        waits.append((m.next_attempt_at - before).total_seconds())
        clock.freeze(m.next_attempt_at)
    assert waits == [30, 60, 120, 240]
    assert m.attempts == 4


def test_robot_refusing_with_an_errcode_is_a_failure(city, receiver):
    receiver.script["/limited"] = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    m = queue(city, "wecom", receiver.url("/limited"), "k-limited")
    assert deliver_due().retried == 1
    m = fresh(m)
    assert m.sent_at is None and "45009" in m.last_error and m.next_attempt_at > clock.now()


def test_a_dead_receiver_does_not_hold_up_the_others(city, person, receiver, dead_url):
    dead1 = queue(city, "wecom", dead_url, "k-dead-1")
    dead2 = queue(city, "wecom", dead_url, "k-dead-2")
    alive = queue(city, "dingtalk", receiver.url("/alive"), "k-alive")
    inbox = queue(city, "inapp", str(person.pk), "k-inbox")

    stats = deliver_due()
    assert (stats.sent, stats.retried, stats.released) == (2, 1, 1)
    assert fresh(alive).sent_at and fresh(inbox).sent_at
    assert receiver.paths() == ["/alive"]
    dead1 = fresh(dead1)
    assert dead1.sent_at is None and dead1.failed_at is None and dead1.attempts == 1
    assert dead1.next_attempt_at > clock.now() and "无法连接" in dead1.last_error
    # the second message to the same dead robot was not even tried in this pass, and no attempt was counted
    dead2 = fresh(dead2)
    assert dead2.attempts == 0 and dead2.next_attempt_at > clock.now() and "未尝试" in dead2.last_error


def test_a_receiver_that_never_answers_times_out(city, receiver, settings):
    settings.COGOV_OUTBOX_TIMEOUT_SECONDS = 0.3
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts the connection; nobody ever answers
    try:
        slow = queue(city, "wecom", f"http://127.0.0.1:{silent.getsockname()[1]}/hang", "k-hang")
        ok = queue(city, "wecom", receiver.url("/ok"), "k-ok")
        started = time.monotonic()
        stats = deliver_due()
        assert time.monotonic() - started < 3
    finally:
        silent.close()
    assert (stats.sent, stats.retried) == (1, 1)
    assert fresh(ok).sent_at and fresh(slow).sent_at is None and fresh(slow).next_attempt_at > clock.now()


def test_after_the_last_attempt_the_message_is_marked_failed(city, receiver, settings):
    settings.COGOV_OUTBOX_MAX_ATTEMPTS = 3
    receiver.script["/gone"] = [(404, {})] * 10
    m = queue(city, "wecom", receiver.url("/gone"), "k-gone")
    for expected in ("retried", "retried", "failed"):
        stats = deliver_due()
        assert getattr(stats, expected) == 1
        m = fresh(m)
        clock.freeze(max(clock.now(), m.next_attempt_at))
    assert m.failed_at == clock.now() and m.attempts == 3 and "HTTP 404" in m.last_error
    advance(10**6)
    assert deliver_due().claimed == 0  # given up: never tried again
    assert len(receiver.requests) == 3

    # an operator fixes the robot and retries from the admin
    receiver.script["/gone"] = []
    assert outbox_retry_now(message_ids=[m.pk]) == 1
    assert deliver_due().sent == 1
    m = fresh(m)
    assert m.failed_at is None and m.sent_at is not None and m.attempts == 1


def test_undeliverable_messages_fail_at_once(city):
    not_url = queue(city, "wecom", "ftp://robot.example/x", "k-ftp")
    nobody = queue(city, "inapp", "999999", "k-nobody")
    not_mail = queue(city, "email", "no-at-sign", "k-no-at")
    assert deliver_due().failed == 3
    for m in (not_url, nobody, not_mail):
        m = fresh(m)
        assert m.failed_at == clock.now() and m.attempts == 1 and m.last_error


# In-app and mail ------------------------------------------------------------------------------------------


def test_inapp_message_arrives_in_the_inbox(city, person):
    m = queue(city, "inapp", str(person.pk), "3702:20260000001:3:inapp:1")
    assert deliver_due().sent == 1
    [msg] = InAppMessage.objects.filter(person=person)
    assert msg.title == "【派遣】案件 20260000001 · 暴露垃圾" and msg.body == "状态：已派遣"
    assert msg.case_number == "20260000001" and msg.dedup_key == m.dedup_key and msg.read_at is None


def test_inapp_delivery_after_a_crash_adds_nothing_twice(city, person, settings):
    """The worker sends, then dies before marking the message sent: after the lease it is sent again."""
    settings.COGOV_OUTBOX_LEASE_SECONDS = 300
    m = queue(city, "inapp", str(person.pk), "k-crash")
    [claim], lost = delivery._claim(now=clock.now(), size=10)
    delivery.send(claim.message)  # … and the process is killed here
    assert InAppMessage.objects.count() == 1
    assert fresh(m).sent_at is None

    assert deliver_due().claimed == 0  # still leased to the dead worker
    advance(300)
    assert deliver_due().sent == 1
    m = fresh(m)
    assert m.sent_at is not None and m.attempts == 2
    assert InAppMessage.objects.filter(dedup_key="k-crash").count() == 1


def test_email_through_the_mail_backend(city, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "cogov@qingdao.example"
    m = queue(city, "email", "station@qingdao.example", "k-mail")
    assert deliver_due().sent == 1
    [sent] = mail.outbox
    assert sent.subject == "【派遣】案件 20260000001 · 暴露垃圾"
    assert sent.body == "状态：已派遣" and sent.to == ["station@qingdao.example"]
    assert sent.from_email == "cogov@qingdao.example"
    msg = sent.message()
    assert msg["X-Cogov-Dedup-Key"] == "k-mail"
    assert msg["Message-ID"].endswith("@cogov.invalid>")
    assert fresh(m).sent_at is not None


def test_a_dead_mail_server_is_a_retry(city, settings, dead_url):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", int(dead_url.split(":")[2].split("/")[0])
    first = queue(city, "email", "a@qingdao.example", "k-mail-a")
    second = queue(city, "email", "b@qingdao.example", "k-mail-b")
    stats = deliver_due()
    assert (stats.retried, stats.released) == (1, 1)
    assert "邮件服务器无响应" in fresh(first).last_error and fresh(second).attempts == 0


# Claims, stopping -----------------------------------------------------------------------------------------


def test_a_stale_claim_loses_to_the_worker_that_claimed_first(city):
    for i in range(3):
        queue(city, "wecom", "http://127.0.0.1:9/x", f"k-race-{i}")
    seen_by_a = list(OutboxMessage.objects.order_by("id"))
    seen_by_b = list(OutboxMessage.objects.order_by("id"))  # read before a's claim was committed
    mine, lost = delivery.claim_rows(seen_by_a, now=clock.now())
    assert (len(mine), lost) == (3, 0)
    theirs, lost = delivery.claim_rows(seen_by_b, now=clock.now())
    assert (len(theirs), lost) == (0, 3)
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


def test_stop_finishes_the_current_message_and_hands_back_the_rest(city, receiver):
    for i in range(5):
        queue(city, "wecom", receiver.url(f"/r{i}"), f"k-stop-{i}")
    stop = threading.Event()
    receiver.on_request = lambda path: stop.set()  # SIGTERM arrives while the first message is on the wire
    stats = deliver_due(stop=stop)
    assert (stats.sent, stats.released) == (1, 4)
    assert receiver.paths() == ["/r0"]
    rest = OutboxMessage.objects.filter(sent_at__isnull=True)
    assert rest.count() == 4
    assert {(m.attempts, m.next_attempt_at) for m in rest} == {(0, clock.now())}  # due again, nothing counted


# The worker -----------------------------------------------------------------------------------------------


def test_worker_once_escalates_an_overdue_case_and_delivers_the_news(small_city, receiver):
    from cogov.cases.models import Case
    from cogov.cases.services import case_report
    from cogov.notify.models import Endpoint

    c = small_city
    Endpoint.objects.create(city=c.city, channel="wecom", name="市南区群", target=receiver.url("/shinan"))
    case = case_report(city=c.city, actor=c.actor("citizen"), category_id=c.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], description="路边有一堆暴露垃圾")
    assert case.level == "community" and case.first_response_due
    clock.freeze(case.first_response_due + dt.timedelta(minutes=1))

    run_worker(once=True, tasks=False)

    case = Case.objects.get(pk=case.pk)
    assert case.level == "subdistrict" and case.escalated_at == clock.now()
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    # the district's robot heard of the report and of the escalation, in that order, each once
    titles = [r["json"]["markdown"]["content"].splitlines()[0] for r in receiver.requests]
    assert titles == [f"### 【上报】案件 {case.number} · {case.category.name}",
                      f"### 【升级】案件 {case.number} · {case.category.name}"]
    assert InAppMessage.objects.filter(person=c.people["station_a"], title__contains="升级").exists()


def test_worker_exits_cleanly_on_sigterm(city, receiver):
    queue(city, "wecom", receiver.url("/before"), "k-before")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    timer.start()
    started = time.monotonic()
    run_worker(poll=0.05, sweep_every=3600, tasks=False)
    assert time.monotonic() - started < 5
    assert receiver.paths() == ["/before"]
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are put back


@task()
def note_in_inbox(person_id: int, text: str) -> int:
    """A Django task, as later parts of the platform will enqueue them (run by the cogov worker)."""
    from cogov.people.models import Person

    person = Person.objects.get(pk=person_id)
    at = clock.now()
    return InAppMessage.objects.create(city_id=person.city_id, person=person, title=text,
                                       dedup_key=f"task:{text}", created_at=at).pk


@pytest.mark.django_db(transaction=True)
def test_worker_runs_queued_django_tasks(person):
    result = note_in_inbox.enqueue(person.pk, "导出完成")
    run_worker(once=True, sweep_every=3600)
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert InAppMessage.objects.get(dedup_key="task:导出完成").pk == result.return_value


@pytest.mark.django_db(transaction=True)
def test_background_worker_thread_delivers_and_stops(person, receiver):
    queue(person.city, "inapp", str(person.pk), "k-bg-inbox")
    queue(person.city, "wecom", receiver.url("/bg"), "k-bg")
    heard = threading.Event()
    receiver.on_request = lambda path: heard.set()
    # The test only reads the database once the worker has stopped: the in-memory SQLite test database
    # (shared cache) answers "table is locked" instead of waiting, unlike the file database in WAL mode.
    worker = start_background_worker(sweep_every=3600, poll=0.05)
    try:
        assert heard.wait(10)
    finally:
        worker.stop(timeout=10)
    assert not worker.is_alive()
    assert receiver.paths() == ["/bg"]
    assert InAppMessage.objects.filter(dedup_key="k-bg-inbox").exists()
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


# Admin ----------------------------------------------------------------------------------------------------


def test_admin_lists_the_outbox_and_retries_a_failed_message(city, client):
    from cogov.people.models import Person

    admin = Person.objects.create_superuser(username="admin", password="pw-admin-123", city=city)
    client.force_login(admin)
    m = queue(city, "dingtalk", "http://127.0.0.1:9/robot", "k-admin")
    OutboxMessage.objects.filter(pk=m.pk).update(failed_at=clock.now(), attempts=8, last_error="HTTP 500")
    robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY"
    secret = queue(city, "wecom", robot, "k-secret")
    page = client.get("/admin/notify/outboxmessage/")
    assert page.status_code == 200 and "HTTP 500" in page.content.decode()
    assert "qyapi.weixin.qq.com/cgi-bin/webhook/send?…" in page.content.decode()
    assert "SECRET-KEY" not in page.content.decode()  # the robot's token stays out of the list
    assert client.get(f"/admin/notify/outboxmessage/{secret.pk}/change/").status_code == 200
    assert client.get("/admin/notify/endpoint/").status_code == 200
    assert client.get("/admin/notify/inappmessage/").status_code == 200
    assert client.get(f"/admin/notify/outboxmessage/{m.pk}/change/").status_code == 200
    r = client.post("/admin/notify/outboxmessage/", {"action": "retry_now", "_selected_action": [m.pk]})
    assert r.status_code == 302
    m = fresh(m)
    assert m.failed_at is None and m.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_worker_sweep_prunes_old_idempotency_answers_and_rate_counters(city):
    from cogov.intake.models import IdempotencyRecord, RateCounter

    now = clock.now()
    old, fresh = now - dt.timedelta(hours=25), now - dt.timedelta(hours=1)
    for key, at in (("old", old), ("fresh", fresh)):
        IdempotencyRecord.objects.create(city=city, scope="api:report:anon", key=key, request_hash="0" * 64,
                                         status=201, body="{}", content_type="application/json", created_at=at)
    for bucket, start in (("addr:old", old), ("addr:fresh", fresh)):
        RateCounter.objects.create(bucket=bucket, window_start=int(start.timestamp()), count=3)
    run_worker(once=True, sweep_every=0, tasks=False)
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert list(RateCounter.objects.values_list("bucket", flat=True)) == ["addr:fresh"]
