"""The background worker (后台任务): deliver the outbox, run the escalation sweep, run queued Django tasks.

One loop, several of which may run side by side (on PostgreSQL): deliveries are claimed row by row (see
``delivery``), and the sweep is safe to run twice because each escalation locks its case and the workflow
refuses to raise a case to a level it already has. See docs/decisions/0002-worker.md.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time

from django.db import close_old_connections, connection

from cogov.notify.delivery import DeliveryStats, deliver_due

logger = logging.getLogger("cogov.worker")

#: Django tasks run per turn of the loop at most, so that a long queue of tasks never starves the outbox.
TASKS_PER_TURN = 20


def run_worker(*, once: bool = False, sweep_every: float = 60.0, poll: float = 1.0,
               stop: threading.Event | None = None, tasks: bool = True) -> None:
    """Sweep overdue cases every ``sweep_every`` seconds, run queued Django tasks, deliver due messages until
    none is due, then wait ``poll`` seconds and start again.

    ``once``: one turn (sweep, tasks, deliveries), then return; errors propagate. Otherwise errors are
    logged and the loop goes on. SIGTERM/SIGINT (when run in the main thread) or ``stop`` end the loop
    after the current message; a second signal stops at once.
    """
    stop = stop or threading.Event()
    restore = _install_signal_handlers(stop) if threading.current_thread() is threading.main_thread() else {}
    last_sweep: float | None = None
    try:
        while not stop.is_set():
            try:
                _refresh_connection()
                if last_sweep is None or time.monotonic() - last_sweep >= sweep_every:
                    last_sweep = time.monotonic()
                    sweep_overdue()
                    prune_intake_records()
                if tasks and not stop.is_set():
                    run_queued_tasks(max_tasks=TASKS_PER_TURN, stop=stop)
                deliver_all_due(stop=stop)
            except Exception:
                if once:
                    raise
                logger.exception("worker turn failed; trying again in %.1f s", max(poll, 1.0))
                stop.wait(max(poll, 1.0))
                continue
            if once:
                break
            stop.wait(poll)
    finally:
        for signum, handler in restore.items():
            signal.signal(signum, handler)


def deliver_all_due(*, stop: threading.Event | None = None) -> DeliveryStats:
    """Deliver passes until a pass finds nothing due (a failed message waits out its back-off)."""
    total = DeliveryStats()
    while not (stop and stop.is_set()):
        stats = deliver_due(stop=stop)
        total.add(stats)
        if stats.claimed == 0:
            break
    if total.claimed:
        logger.info("outbox: %s", total)
    return total


def sweep_overdue() -> dict[str, list[str]]:
    """Run the escalation sweep (超期升级) for every city; one city's failure does not stop the others.

    Returns the escalated case numbers per city code.
    """
    from cogov.cases.services import cases_escalate_overdue
    from cogov.geo.models import City

    escalated = {}
    for city_id, code in City.objects.order_by("pk").values_list("pk", "code"):
        try:
            escalated[code] = cases_escalate_overdue(city_id=city_id)
        except Exception:
            logger.exception("escalation sweep failed for city %s", code)
            continue
        if escalated[code]:
            logger.info("city %s: escalated %s", code, ", ".join(escalated[code]))
    return escalated


def prune_intake_records() -> dict[str, int]:
    """Housekeeping (清理) of the public door: idempotency answers older than a day, expired rate counters.

    Both tables only grow with traffic; the answers are kept long enough for any client's retries and the
    counters longer than any window, so pruning never changes an answer or a limit.
    """
    from cogov.intake.idempotency import prune_idempotency
    from cogov.intake.ratelimit import prune_rates

    return {"idempotency": prune_idempotency(), "rates": prune_rates()}


def run_queued_tasks(*, max_tasks: int = TASKS_PER_TURN, stop: threading.Event | None = None) -> int:
    """Run up to ``max_tasks`` ready Django tasks of the django-tasks-db backend (any queue), claimed and
    run as its ``db_worker`` does; returns how many ran. Nothing happens unless the default backend is the
    database.

    Not ``Worker.run()`` itself: it would install its own signal handlers, and its batch mode never returns
    while SQLite is locked; here a locked database is an error of this turn, and the loop waits.
    """
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, task_backends
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if not isinstance(backend, DatabaseBackend):
        return 0
    worker_id = f"cogov-{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"[:64]
    worker = Worker(queue_names=["*"], interval=0, batch=True, backend_name=backend.alias,
                    startup_delay=False, max_tasks=max_tasks, worker_id=worker_id, excluded_queue_names=[])
    ran = 0
    while ran < max_tasks and not (stop and stop.is_set()):
        ready = DBTaskResult.objects.ready().filter(backend_name=backend.alias)
        with exclusive_transaction(ready.db):
            result = ready.get_locked()
            if result is None:
                break
            result.claim(worker_id)
        worker.run_task(result)  # records success or failure on the task's row, sends the task signals
        ran += 1
    return ran


def _refresh_connection() -> None:
    """Drop a broken or expired database connection between turns, as Django does between requests."""
    if not connection.in_atomic_block:  # inside a test's transaction the connection must stay
        close_old_connections()


def _install_signal_handlers(stop: threading.Event) -> dict:
    """First SIGTERM/SIGINT: finish the current message, then leave. Second: leave now."""

    def handle(signum, frame):  # noqa: ANN001
        if stop.is_set():
            for s, h in previous.items():
                signal.signal(s, h)
            raise KeyboardInterrupt
        logger.warning("%s: stopping after the current message (again to stop now)", signal.strsignal(signum))
        stop.set()

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, handle)
    return previous


class WorkerThread(threading.Thread):
    """The worker in a daemon thread of the web process (``cogov demo``); ``stop()`` ends it cleanly."""

    def __init__(self, *, sweep_every: float = 60.0, poll: float = 1.0) -> None:
        super().__init__(name="cogov-worker", daemon=True)
        self.stop_event = threading.Event()
        self.sweep_every = sweep_every
        self.poll = poll

    def run(self) -> None:
        """Run the loop with this thread's own database connection, closed at the end."""
        try:
            run_worker(sweep_every=self.sweep_every, poll=self.poll, stop=self.stop_event)
        finally:
            connection.close()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the loop to finish its current message and wait for it."""
        self.stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)


def start_background_worker(*, sweep_every: float = 60.0, poll: float = 1.0) -> WorkerThread:
    """Start the worker in a daemon thread; at interpreter exit it is asked to finish its current message."""
    thread = WorkerThread(sweep_every=sweep_every, poll=poll)
    thread.start()
    atexit.register(thread.stop, 10.0)
    return thread
