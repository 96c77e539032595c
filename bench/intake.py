"""Benchmark of intake (上报吞吐): POST /api/v1/cases on the real server over loopback, on PostgreSQL, beside the
same server's trivial endpoint (GET /healthz); and the CPU of one report measured in one process.

    .venv/bin/python bench/intake.py [--clients 8,32,64] [--seconds 10] [--threads N] [--steps a,b,m,p]
                                     [--profile] [--profile-steps b] [--keep] [--reuse-db]
                                     [--server-ref REF | --server-tree DIR]
    .venv/bin/python bench/intake.py --inprocess [--reports 500] [--server-ref REF | --server-tree DIR]

Makes its own database (``cogov_bench_intake`` on ``--pg``, default postgresql://postgres@127.0.0.1:5432),
builds the demo city into it at scale 0.1 (``cogov demo --no-serve --scale 0.1``; ``--keep`` keeps it and
``--reuse-db`` skips the build next time), then for each step starts the server as the README's production
setup does — ``cogov serve`` (waitress) on PostgreSQL — and loads it from a separate process: ``wrk`` (Debian's
``wrk``) with a Lua script posting valid reports (categories and points inside the city, read from the
database), else Python threads with keep-alive ``http.client``. Each client keeps one request in flight. At each
client count: reports/s (2xx answers only, checked against the cases written), p50 and p99 latency, and the
same for GET /healthz on the same server in the same run.

Steps (each one a server started afresh; "threads = clients" restarts it for each client count):

    a  as shipped: ``cogov serve --threads 8``
    b  waitress threads = clients (one PostgreSQL connection per thread, so commits can share a WAL flush)
    c  b with the configuration cache's version looked at on every report (``COGOV_CONFIG_CHECK_SECONDS=0``)
    d  b + ``commit_delay``/``commit_siblings`` set per session (connection OPTIONS; needs a superuser role)
    x  b with the CaseCounter row lock back instead of the sequence (what the lock costs)
    r  b + the public rate limit on (limit raised out of reach: every request still does its counter upsert)
    m  ``cogov serve --processes 2``, threads = clients split between the two
    p  the baseline: the server of ``--server-ref REF`` (a git ref, exported with ``git archive``) or of
       ``--server-tree DIR``, threads = clients

Steps d and x are the shipped code with a setting or a stand-in swapped in by this script (``--serve-step``);
the others are the real ``cogov serve``. The stand-ins of the first round (case numbers from a sequence, lean
routing reads) are product code now (docs/decisions/0003-intake-throughput.md). The public rate limit is
switched off (``COGOV_RATE_PER_ADDRESS=""``) except in r: every client here shares one address. Nothing is ever
answered before its commit, and ``synchronous_commit`` stays on.

``--inprocess`` measures instead, in one process and without HTTP, the wall and CPU time per report (of the
Python process and of its PostgreSQL backend) through ``case_report`` and through the whole POST (Django's test
client), the statements of one report, and a cProfile of the POSTs — for this tree and, with ``--server-ref``
or ``--server-tree``, the baseline first: less noisy than wrk on a shared machine.

``--profile`` samples the server of the ``--profile-steps`` (default b) under 32 clients with py-spy
(``pip install py-spy``): where the CPU goes (``--gil``) and where a request's time goes (all request
threads). The statements of one report are counted for steps a, b and p (``--no-queries`` skips it). The
database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DB_NAME = "cogov_bench_intake"
#: No proxy for loopback, whatever the environment says.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    #: waitress threads; None = as many as clients (the server is restarted for each client count)
    threads: int | None
    patches: tuple[str, ...] = ()
    rate_limit: bool = False
    tree: bool = False
    #: server processes sharing one listening socket (``cogov serve --processes``; threads split between them)
    processes: int = 1
    #: extra environment of the server
    env: tuple[tuple[str, str], ...] = ()


STEPS = {
    "a": Step("a", "as shipped: `cogov serve --threads 8`", 8),
    "b": Step("b", "waitress threads = clients", None),
    "c": Step("c", "b with the configuration version looked at on every report", None,
              env=(("COGOV_CONFIG_CHECK_SECONDS", "0"),)),
    "d": Step("d", "b + commit_delay/commit_siblings per session", None, ("commit_delay",)),
    "x": Step("x", "b with the CaseCounter row lock back", None, ("counter",)),
    "r": Step("r", "b + public rate limit on (one counter upsert per request, one shared address)", None,
              rate_limit=True),
    "m": Step("m", "`cogov serve --processes 2`, threads = clients split", None, processes=2),
    "p": Step("p", "the baseline (`--server-ref`/`--server-tree`), threads = clients", None, tree=True),
}


# --- stand-ins for the server of steps d and x (run inside the server process, see serve_step) ---------------


def _next_number_counter(city_id, at):
    """services._next_number as it was before the sequence: the CaseCounter row locked until the commit."""
    from cogov import clock
    from cogov.cases.models import CaseCounter

    year = at.astimezone(clock.LOCAL_TZ).year
    counter, _ = CaseCounter.objects.select_for_update().get_or_create(city_id=city_id, year=year)
    counter.value += 1
    counter.save(update_fields=["value"])
    return f"{year}{counter.value:07d}"


def apply_patches(patches: tuple[str, ...], commit_delay: int, commit_siblings: int) -> None:
    """Set up Django in this process with the step's stand-ins (settings first, then the service functions)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
    from django.conf import settings

    if "commit_delay" in patches:
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"-c commit_delay={commit_delay} -c commit_siblings={commit_siblings}"
    import django

    django.setup()
    from cogov.cases import services

    if "counter" in patches:
        services._next_number = _next_number_counter


def serve_step(args) -> int:
    """``--serve-step``: the server of a step — ``cogov serve`` with the step's stand-ins in place."""
    apply_patches(tuple(p for p in args.patches.split(",") if p), args.commit_delay, args.commit_siblings)
    from cogov.cli import main

    main(["serve", "--port", str(args.port), "--threads", str(args.threads), "--processes", str(args.processes)])
    return 0


# --- counting the statements of one report (run in a subprocess on the bench database) ------------------------


def count_queries(args) -> int:
    """``--count-queries``: SQL statements of one report, through the service and through the whole API."""
    apply_patches(tuple(p for p in args.patches.split(",") if p), args.commit_delay, args.commit_siblings)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cogov.cases import services
    from cogov.geo.models import City

    bodies = json.loads(Path(args.bodies).read_text())
    city = City.objects.get(code="3702")
    out = {}
    for i, label in ((0, "service"), (1, "api")):
        b = bodies[i]
        kw = dict(city=city, actor=None, category_id=b["category_id"], lon=b["lon"], lat=b["lat"],
                  description=b["description"])
        client = Client()
        for warm in (True, False):  # the first call builds the locate index and the library calendar
            with CaptureQueriesContext(connection) as q:
                if label == "service":
                    services.case_report(**kw)
                else:
                    r = client.post("/api/v1/cases", json.dumps(b), content_type="application/json")
                    assert r.status_code == 201, r.content
        out[label] = [x["sql"] for x in q.captured_queries]
    print(json.dumps(out))
    return 0


# --- CPU per report in one process (no HTTP server, no load generator; run in a subprocess) ------------------

#: Functions whose cumulative share of the profiled POSTs is reported: (label, function, file name).
INPROCESS_FRAMES = [
    ("Django request handling (middleware, URL, django-ninja)", "get_response", "base.py"),
    ("  report_case (the API handler)", "report_case", "api.py"),
    ("    pydantic/ninja parse of the body", "_get_values", "operation.py"),
    ("    idempotency wrapper (transaction around the service)", "idempotent", "idempotency.py"),
    ("      case_report (the service)", "case_report", "services.py"),
    ("        configuration cache (version look)", "_snapshot", "config.py"),
    ("        _routing_facts (heads + routing)", "_routing_facts", "services.py"),
    ("        locate (point → units)", "locate", "selectors.py"),
    ("        deadline (_due)", "_due", "services.py"),
    ("        case number (_next_number)", "_next_number", "services.py"),
    ("        Model.save (INSERT case, event)", "save", "base.py"),
    ("        outbox rows", "outbox_enqueue_case_event", "services.py"),
    ("      answer: _case_out + JSON", "_case_out", "api.py"),
    ("SQL: psycopg execute (round trips included)", "execute", "cursor.py"),
    ("COMMIT", "commit", "base.py"),
]


def _backend_cpu(pid: int) -> float:
    return _cpu_seconds([pid])


def inprocess_run(args) -> int:
    """``--inprocess-run``: ``--reports`` reports through ``case_report`` (each its own transaction), then as
    many through the whole ``POST /api/v1/cases`` (Django's test client: middleware, django-ninja, pydantic,
    idempotency transaction and JSON answer — everything but waitress and the socket). Per report: wall time,
    CPU time of this process and of its PostgreSQL backend, statements. Then a cProfile of as many POSTs.
    Prints JSON."""
    import cProfile
    import pstats

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", interactive=False, verbosity=0)  # a kept database may predate this tree

    from cogov.cases import services
    from cogov.geo.models import City

    bodies = json.loads(Path(args.bodies).read_text())
    n = args.reports
    city = City.objects.get(code="3702")
    client = Client()

    def service(b):
        services.case_report(city=city, actor=None, category_id=b["category_id"], lon=b["lon"], lat=b["lat"],
                             description=b["description"])

    def api(b):
        r = client.post("/api/v1/cases", json.dumps(b), content_type="application/json")
        assert r.status_code == 201, r.content

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    out: dict = {"code": str(Path(services.__file__).resolve().parents[2])}
    for label, call in (("service", service), ("api", api)):
        for b in bodies[:20]:  # warm: locate index, calendars, caches, connection
            call(b)
        seen: list[str] = []

        def record(execute, sql, params, many, context, seen=seen):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):  # (the test client empties connection.queries per request)
            call(bodies[20])
        w0, c0, p0 = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        for i in range(n):
            call(bodies[i % len(bodies)])
        w1, c1, p1 = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        out[label] = {"wall_ms": 1000 * (w1 - w0) / n, "cpu_ms": 1000 * (c1 - c0) / n,
                      "pg_cpu_ms": 1000 * (p1 - p0) / n, "statements": seen}
    # the trivial endpoint through the same client: what a report costs in trivial requests
    for _ in range(50):
        client.get("/healthz")
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n * 4):
        assert client.get("/healthz").status_code == 200
    out["healthz"] = {"wall_ms": 1000 * (time.perf_counter() - w0) / (n * 4),
                      "cpu_ms": 1000 * (time.process_time() - c0) / (n * 4)}
    prof = cProfile.Profile(time.process_time)  # CPU time of this process: waiting for PostgreSQL not counted
    prof.enable()
    for i in range(n):
        api(bodies[i % len(bodies)])
    prof.disable()
    stats = pstats.Stats(prof)
    total = max(stats.total_tt, 1e-9)
    cum: dict = collections.defaultdict(float)
    tops = []
    for (fname, line, func), (_cc, _nc, tt, ct, _callers) in stats.stats.items():
        cum[(func, Path(fname).name)] = max(cum[(func, Path(fname).name)], ct)
        tops.append((tt, ct, f"{func} ({'/'.join(Path(fname).parts[-2:])}:{line})"))
    out["profile"] = {label: 100 * cum.get((fn, f), 0.0) / total for label, fn, f in INPROCESS_FRAMES}
    out["profile_top"] = [(100 * tt / total, 100 * ct / total, where) for tt, ct, where in sorted(tops)[::-1][:25]]
    print(json.dumps(out))
    return 0


def export_ref(ref: str, into: Path) -> Path:
    """A git ref's tree exported into ``into`` (``git archive``: reads the repository, changes nothing)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def inprocess(args, url: str, data_dir: str, bodies_file: Path, trees: list[tuple[str, str | None]]) -> None:
    """Run ``--inprocess-run`` for each (label, source tree or None = this tree) and print the comparison."""
    results = []
    for label, tree in trees:
        numbers_sync(url)
        env = server_env(url, data_dir, rate_limit=False, tree=tree)
        cmd = [sys.executable, __file__, "--inprocess-run", "--bodies", str(bodies_file), "--reports",
               str(args.reports)]
        print(f"» in-process: {label} ({args.reports} reports through case_report, {args.reports} POSTs, "
              f"{args.reports} profiled POSTs) …", flush=True)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree or ROOT)
        if r.returncode != 0:
            print(f"  failed: {r.stderr[-3000:]}")
            continue
        results.append((label, json.loads(r.stdout.strip().splitlines()[-1]), os.getloadavg()[0]))
    numbers_sync(url)
    print("\n| code | path | wall ms/report | CPU ms/report (Python) | PostgreSQL CPU ms/report | statements "
          "| Python CPU ÷ GET /healthz's | load avg |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, res, load in results:
        for path, name in (("service", "case_report"), ("api", "POST /api/v1/cases")):
            x = res[path]
            print(f"| {label} | {name} | {x['wall_ms']:.2f} | {x['cpu_ms']:.2f} | {x['pg_cpu_ms']:.2f} | "
                  f"{len(x['statements'])} | {x['cpu_ms'] / res['healthz']['cpu_ms']:.1f} × | {load:.1f} |")
        h = res["healthz"]
        print(f"| {label} | GET /healthz | {h['wall_ms']:.2f} | {h['cpu_ms']:.2f} | — | 0 | 1 × | {load:.1f} |")
    for label, res, _ in results:
        print(f"\nStatements of one POST, {label}:")
        for sql in res["api"]["statements"]:
            print(f"    {sql[:140]}")
        print(f"\ncProfile of {args.reports} POSTs, {label} (share of the process's CPU time, cumulative):")
        for name, share in res["profile"].items():
            print(f"    {name:<62} {share:6.1f} %")
        print("  top functions by own time (own %, cumulative %):")
        for own, cum, where in res["profile_top"]:
            print(f"    {own:5.1f} {cum:6.1f}  {where}")


# --- load generation ---------------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int = 0
    ok: int = 0
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    errors: str = ""

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def wrk_lua(bodies: list[dict], path: Path) -> None:
    """A wrk script posting the bodies in turn (each wrk thread has its own Lua state)."""
    items = ",\n".join("[==[" + json.dumps(b, ensure_ascii=False) + "]==]" for b in bodies)
    path.write_text(
        "bodies = {\n" + items + "\n}\n"
        "local i = math.random(#bodies)\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        '  return wrk.format("POST", "/api/v1/cases", {["Content-Type"] = "application/json"}, bodies[i])\n'
        "end\n",
        encoding="utf-8",
    )


def run_wrk(url: str, clients: int, seconds: float, lua: Path | None) -> Load:
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "60s", "--latency"]
    if lua:
        cmd += ["-s", str(lua)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    load = Load()
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    load.requests, load.seconds = int(m.group(1)), _ms(m.group(2) + m.group(3)) / 1000
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    load.ok = load.requests - (int(bad.group(1)) if bad else 0)
    for pct, attr in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        if m:
            setattr(load, attr, _ms(m.group(1)))
    errs = re.search(r"Socket errors: (.*)", out)
    load.errors = errs.group(1).strip() if errs else ""
    if bad:
        load.errors = (load.errors + f"; non-2xx {bad.group(1)}").strip("; ")
    return load


def python_load(args) -> int:
    """``--load``: the fallback load generator (threads, keep-alive http.client); prints JSON."""
    import http.client

    bodies = json.loads(Path(args.bodies).read_text()) if args.bodies else None
    host, port = "127.0.0.1", args.port
    deadline = time.monotonic() + args.seconds
    lat: list[float] = []
    counts = collections.Counter()
    lock = threading.Lock()

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        rnd = random.Random(n)
        mine, ok, bad = [], 0, 0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                if bodies:
                    conn.request("POST", "/api/v1/cases", json.dumps(rnd.choice(bodies)).encode(),
                                 {"Content-Type": "application/json"})
                else:
                    conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                bad += 1
                continue
            mine.append(time.perf_counter() - t0)
            ok, bad = (ok + 1, bad) if 200 <= resp.status < 300 else (ok, bad + 1)
        with lock:
            lat.extend(mine)
            counts["ok"] += ok
            counts["bad"] += bad

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    print(json.dumps({"requests": counts["ok"] + counts["bad"], "ok": counts["ok"],
                      "seconds": time.monotonic() - started, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                      "errors": f"failed {counts['bad']}" if counts["bad"] else ""}))
    return 0


def run_load(port: int, clients: int, seconds: float, *, post: bool, lua: Path | None, bodies_file: Path) -> Load:
    if shutil.which("wrk"):
        url = f"http://127.0.0.1:{port}/" if post else f"http://127.0.0.1:{port}/healthz"
        return run_wrk(url, clients, seconds, lua if post else None)
    cmd = [sys.executable, __file__, "--load", "--port", str(port), "--clients", str(clients), "--seconds",
           str(seconds)] + (["--bodies", str(bodies_file)] if post else [])
    return Load(**json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))


# --- database, demo city, server ---------------------------------------------------------------------------


def admin_conn(pg: str):
    import psycopg

    return psycopg.connect(f"{pg}/postgres", autocommit=True)


def db_create(pg: str) -> str:
    with admin_conn(pg) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DB_NAME}")
    return f"{pg}/{DB_NAME}"


def db_exists(pg: str) -> bool:
    with admin_conn(pg) as c:
        return c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone() is not None


def db_drop(pg: str) -> None:
    with admin_conn(pg) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def server_env(url: str, data_dir: str, *, rate_limit: bool, tree: str | None = None) -> dict:
    env = dict(os.environ, COGOV_DATABASE_URL=url, COGOV_DATA_DIR=data_dir, COGOV_LOG_LEVEL="ERROR",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    # all the bench's clients share 127.0.0.1: the per-address limit would refuse them after 30 requests
    env["COGOV_RATE_PER_ADDRESS"] = "1000000000/600" if rate_limit else ""
    env["COGOV_RATE_PER_PHONE"] = ""
    if tree:
        env["PYTHONPATH"] = str(Path(tree).resolve()) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def demo_build(url: str, data_dir: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "cogov"), "demo", "--no-serve", "--scale", "0.1"], check=True,
                   env=server_env(url, data_dir, rate_limit=False), stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def report_bodies(url: str, n: int = 400, seed: int = 11) -> list[dict]:
    """Valid reports: active categories of the city and points inside its buildings, courtyards and streets."""
    import psycopg
    import shapely

    rnd = random.Random(seed)
    with psycopg.connect(url) as c:
        cats = [r[0] for r in c.execute(
            "SELECT c.id FROM cases_category c JOIN geo_city g ON g.id = c.city_id"
            " WHERE g.code = '3702' AND c.active ORDER BY c.id")]
        geoms = [bytes(r[0]) for r in c.execute(
            "SELECT u.geometry FROM geo_unit u JOIN geo_city g ON g.id = u.city_id WHERE g.code = '3702'"
            " AND u.kind IN ('building', 'courtyard', 'street') AND u.geometry IS NOT NULL ORDER BY u.id")]
    points = [shapely.from_wkb(g).representative_point() for g in rnd.sample(geoms, min(n, len(geoms)))]
    texts = ["路面破损，请尽快处理", "垃圾桶满溢", "井盖缺失，有安全隐患", "占道经营", "路灯不亮"]
    return [{"category_id": rnd.choice(cats), "lon": round(p.x, 7), "lat": round(p.y, 7),
             "description": rnd.choice(texts)} for p in points]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process (its own process group), started and waited for until /healthz answers."""

    def __init__(self, step: Step, threads: int, env: dict, args) -> None:
        self.port = free_port()
        if step.patches:
            cmd = [sys.executable, __file__, "--serve-step", "--patches", ",".join(step.patches), "--port",
                   str(self.port), "--threads", str(-(-threads // step.processes)), "--processes",
                   str(step.processes), "--commit-delay", str(args.commit_delay),
                   "--commit-siblings", str(args.commit_siblings)]
        elif step.tree:
            cmd = [sys.executable, "-c", "from cogov.cli import main; main()", "serve", "--port", str(self.port),
                   "--threads", str(threads)]
        else:
            cmd = [str(BIN / "cogov"), "serve", "--port", str(self.port), "--threads",
                   str(-(-threads // step.processes))]
            if step.processes > 1:
                cmd += ["--processes", str(step.processes)]
        self.log = tempfile.NamedTemporaryFile("w+", prefix="cogov-bench-serve-", suffix=".log", delete=False)
        # a source tree is served from its own directory (python -c puts the working directory first on the path)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=args.server_tree if step.tree else ROOT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                with _HTTP.open(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not answer /healthz within 90 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def _cpu_seconds(pids) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc; gone processes count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def _group(pgid: int) -> list[int]:
    """The processes of a process group (the server and, in step m, its forked siblings)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def db_counters(url: str) -> tuple[list[int], int]:
    """The bench database's backend pids, and the cluster's WAL flush count (pg_stat_wal, PostgreSQL 14+)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                        " AND pid <> pg_backend_pid()")]
        try:
            syncs = c.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()[0]
        except psycopg.Error:
            syncs = -1
    return pids, syncs


def cases_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as c:
        return c.execute("SELECT count(*) FROM cases_case").fetchone()[0]


def numbers_sync(url: str) -> None:
    """Between steps: the counter row and the sequences both start after the highest number given so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        for city_id, year, value in c.execute(
            "SELECT city_id, LEFT(number, 4)::int, MAX(RIGHT(number, 7)::int) FROM cases_case GROUP BY 1, 2"
        ).fetchall():
            c.execute("UPDATE cases_casecounter SET value = %s WHERE city_id = %s AND year = %s",
                      [value, city_id, year])
            name = f"cogov_case_number_{city_id}_{year}"
            if c.execute("SELECT to_regclass(%s) IS NOT NULL", [name]).fetchone()[0]:
                c.execute("SELECT setval(%s, %s)", [name, value])


# --- profile ---------------------------------------------------------------------------------------------------

#: Frames reported in the profile summary: (label, function name as py-spy prints it, file name).
PROFILE_FRAMES = [
    ("request handling in report_case (API edge)", "report_case", "api.py"),
    ("  public rate limit (enforce_public_limits)", "enforce_public_limits", "ratelimit.py"),
    ("  idempotency wrapper (transaction around the service)", "idempotent", "idempotency.py"),
    ("  case_report (the service)", "case_report", "services.py"),
    ("    configuration cache (cogov/cases/config.py)", "_snapshot", "config.py"),
    ("    _routing_facts (heads, routing)", "_routing_facts", "services.py"),
    ("    locate (point → units)", "locate", "selectors.py"),
    ("    deadline (_due, calendar)", "_due", "services.py"),
    ("    case number (_next_number)", "_next_number", "services.py"),
    ("    outbox rows", "outbox_enqueue_case_event", "services.py"),
    ("  answer: CaseOut and JSON", "_case_out", "api.py"),
    ("SQL: psycopg execute (round trips)", "execute", "cursor.py"),
    ("COMMIT (waiting for the WAL flush)", "commit", "base.py"),
]


def profile(pid: int, seconds: float, gil: bool, out: Path) -> dict[str, float] | str:
    spy = BIN / "py-spy"
    if not spy.exists() and not shutil.which("py-spy"):
        return "py-spy not installed (`.venv/bin/pip install py-spy`)"
    cmd = [str(spy if spy.exists() else "py-spy"), "record", "-p", str(pid), "-d", str(max(1, round(seconds))),
           "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking"] + (["--gil"] if gil else ["--idle"])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not out.exists():
        return f"py-spy failed: {r.stderr.strip()[-300:]}"
    total = 0
    inc: collections.Counter = collections.Counter()
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        seen = set()
        for f in stack.split(";"):
            m = re.match(r"(\S+) \((?:.*/)?([^/:]+?)(?::\d+)?\)$", f)
            if m:
                seen.add((m.group(1).rsplit(".", 1)[-1], m.group(2)))
        if not gil and ("execute", "task.py") not in seen:
            continue  # wall profile: only threads serving a request
        total += int(n)
        inc.update({k: int(n) for k in seen})
    if not total:
        return "no samples"
    shares = {label: 100 * inc[(fn, fname)] / total for label, fn, fname in PROFILE_FRAMES}
    shares["(samples)"] = total
    return shares


# --- main ----------------------------------------------------------------------------------------------------


@dataclass
class Row:
    step: Step
    clients: int
    threads: int
    post: Load
    health: Load
    written: int
    extra: dict = field(default_factory=dict)


def machine(pg_url: str) -> str:
    import psycopg

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    except OSError:
        mem = 0
    with psycopg.connect(pg_url, autocommit=True) as c:
        version = c.execute("SHOW server_version").fetchone()[0]
        settings = {k: c.execute(f"SHOW {k}").fetchone()[0] for k in (
            "synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "max_connections")}
        # the cost of one durable commit, alone: a one-row insert per transaction, 300 times
        c.execute("CREATE TABLE bench_commit (x int)")
        t0 = time.perf_counter()
        for i in range(300):
            with c.transaction():
                c.execute("INSERT INTO bench_commit VALUES (%s)", [i])
        commit_ms = (time.perf_counter() - t0) / 300 * 1000
        c.execute("DROP TABLE bench_commit")
    return (f"nproc {os.cpu_count()}; {model}; {mem} GB; Python {platform.python_version()}; "
            f"PostgreSQL {version} ({', '.join(f'{k}={v}' for k, v in settings.items())}); "
            f"one durable single-row commit alone: {commit_ms:.2f} ms; load generator: "
            f"{'wrk -t1 (one request in flight per connection)' if shutil.which('wrk') else 'Python threads'}")


def fmt(v: float, digits: int = 0) -> str:
    return "—" if v != v else f"{v:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", default="8,32,64", help="client counts, comma separated")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of load per measurement")
    p.add_argument("--threads", type=int, help="waitress threads for every step (default: per step)")
    p.add_argument("--steps", default="a,b,m",
                   help="steps to run (see the docstring); p needs --server-tree")
    p.add_argument("--pg", default=os.environ.get("COGOV_BENCH_PG", "postgresql://postgres@127.0.0.1:5432"))
    p.add_argument("--commit-delay", type=int, default=200, help="µs, step d on")
    p.add_argument("--commit-siblings", type=int, default=5)
    p.add_argument("--server-tree", help="a source tree to serve for step p (PYTHONPATH)")
    p.add_argument("--profile", action="store_true", help="py-spy profiles under 32 clients (see --profile-steps)")
    p.add_argument("--profile-steps", default="b", help="steps profiled with --profile")
    p.add_argument("--no-queries", action="store_true", help="skip counting the statements of one report")
    p.add_argument("--server-ref", help="a git ref whose tree is served for step p (exported with git archive)")
    p.add_argument("--inprocess", action="store_true",
                   help="instead of the HTTP steps: CPU per report in one process (case_report and the whole POST "
                        "through Django's test client, cProfile), for this tree and, with --server-ref/--server-tree, "
                        "the baseline")
    p.add_argument("--reports", type=int, default=500, help="reports per in-process measurement")
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--reuse-db", action="store_true", help="reuse a kept database (skip the demo build)")
    # internal modes
    p.add_argument("--serve-step", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--count-queries", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--inprocess-run", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--patches", default="", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--bodies", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_step:
        return serve_step(args)
    if args.count_queries:
        return count_queries(args)
    if args.inprocess_run:
        return inprocess_run(args)
    if args.load:
        args.clients = int(args.clients)
        return python_load(args)

    clients = [int(c) for c in args.clients.split(",")]
    steps = [STEPS[s] for s in args.steps.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cogov-bench-intake-"))
    if args.server_ref:
        args.server_tree = str(export_ref(args.server_ref, work / "tree"))
    if not args.inprocess and any(s.tree for s in steps) and not args.server_tree:
        p.error("step p needs --server-tree DIR or --server-ref REF")
    data_dir = str(work / "data")
    reuse = args.reuse_db and db_exists(args.pg)
    url = f"{args.pg}/{DB_NAME}" if reuse else db_create(args.pg)
    rows: list[Row] = []
    profiles: dict[str, dict | str] = {}
    queries: dict[str, dict] = {}
    try:
        if reuse:
            print(f"» reusing {DB_NAME}", flush=True)
            built = 0.0
        else:
            print(f"» demo city at scale 0.1 into {DB_NAME} …", flush=True)
            built = demo_build(url, data_dir)
        bodies = report_bodies(url)
        bodies_file, lua = work / "bodies.json", work / "post.lua"
        bodies_file.write_text(json.dumps(bodies, ensure_ascii=False))
        wrk_lua(bodies, lua)
        about = machine(url)
        print(f"  built in {built:.1f} s; {len(bodies)} report bodies", flush=True)
        if args.inprocess:
            print(f"\n**Machine.** {about}")
            trees = [(f"baseline {args.server_ref or args.server_tree}", args.server_tree)] if args.server_tree else []
            inprocess(args, url, data_dir, bodies_file, trees + [("this tree", None)])
            steps = []
        for step in steps:
            numbers_sync(url)
            env = server_env(url, data_dir, rate_limit=step.rate_limit,
                             tree=args.server_tree if step.tree else None) | dict(step.env)
            fixed = args.threads or step.threads
            server = None
            for n in clients:
                threads = fixed or n
                if server is None or not fixed:
                    if server:
                        server.stop()
                    server = Server(step, threads, env, args)
                run_load(server.port, n, 2, post=True, lua=lua, bodies_file=bodies_file)  # warm-up
                before = cases_count(url)
                extra: dict = {}
                if args.profile and n == 32 and step.key in args.profile_steps.split(","):
                    for gil in (True, False):
                        holder: dict = {}
                        t = threading.Thread(target=lambda: holder.update(load=run_load(
                            server.port, n, args.seconds + 2, post=True, lua=lua, bodies_file=bodies_file)))
                        t.start()
                        time.sleep(1)
                        profiles[f"{step.key}:{'cpu' if gil else 'wall'}"] = profile(
                            server.proc.pid, args.seconds - 1, gil, work / f"prof-{step.key}-{gil}.raw")
                        t.join()
                    before = cases_count(url)
                pg_pids, syncs0 = db_counters(url)
                server_pids = _group(server.proc.pid)
                cpu0, pg0 = _cpu_seconds(server_pids), _cpu_seconds(pg_pids)
                post = run_load(server.port, n, args.seconds, post=True, lua=lua, bodies_file=bodies_file)
                pg_pids, syncs1 = db_counters(url)
                if post.ok:
                    extra["server_cpu_ms"] = 1000 * (_cpu_seconds(server_pids) - cpu0) / post.ok
                    extra["pg_cpu_ms"] = 1000 * (_cpu_seconds(pg_pids) - pg0) / post.ok
                    extra["wal_syncs"] = (syncs1 - syncs0) / post.ok if syncs0 >= 0 else float("nan")
                written = cases_count(url) - before
                health = run_load(server.port, n, args.seconds, post=False, lua=None, bodies_file=bodies_file)
                extra["load"] = os.getloadavg()[0]
                rows.append(Row(step, n, threads, post, health, written, extra))
                print(f"  {step.key} clients {n:>3} threads {threads:>3}: {post.rate:7.1f} reports/s "
                      f"p50 {fmt(post.p50_ms, 1)} p99 {fmt(post.p99_ms, 1)} ms ({post.ok} 2xx, {written} written"
                      f"{'; ' + post.errors if post.errors else ''}) | healthz {health.rate:7.0f}/s "
                      f"p50 {fmt(health.p50_ms, 1)} p99 {fmt(health.p99_ms, 1)} ms", flush=True)
            if server:
                server.stop()
            if not args.no_queries and step.key in ("a", "b", "p"):
                env_q = server_env(url, data_dir, rate_limit=step.rate_limit,
                                   tree=args.server_tree if step.tree else None)
                cmd = [sys.executable, __file__, "--count-queries", "--patches", ",".join(step.patches),
                       "--bodies", str(bodies_file), "--commit-delay", str(args.commit_delay), "--commit-siblings",
                       str(args.commit_siblings)]
                r = subprocess.run(cmd, env=env_q, capture_output=True, text=True, cwd=work)
                queries[step.key] = json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr[-1500:]}
                numbers_sync(url)
    finally:
        if args.keep:
            print(f"kept database {url}")
        else:
            db_drop(args.pg)
        shutil.rmtree(work, ignore_errors=True)

    if args.inprocess:
        return 0
    print(f"\n**Machine.** {about}\n")
    print("| step | clients | waitress threads | reports/s | p50 ms | p99 ms | /healthz req/s | p50 ms | p99 ms "
          "| reports ÷ healthz | server CPU ms/report | PostgreSQL CPU ms/report | WAL flushes/report | notes |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        notes = []
        if r.written < r.post.ok:
            notes.append(f"ONLY {r.written} cases written for {r.post.ok} 2xx")
        if r.post.errors:
            notes.append(r.post.errors)
        notes.append(f"load avg {r.extra['load']:.1f}")
        ratio = 100 * r.post.rate / r.health.rate if r.health.rate else float("nan")
        print(f"| {r.step.key} | {r.clients} | {r.threads} | {fmt(r.post.rate, 1)} | {fmt(r.post.p50_ms, 1)} | "
              f"{fmt(r.post.p99_ms, 1)} | {fmt(r.health.rate)} | {fmt(r.health.p50_ms, 1)} | "
              f"{fmt(r.health.p99_ms, 1)}"
              f" | {fmt(ratio, 1)} % | {fmt(r.extra.get('server_cpu_ms', float('nan')), 1)} | "
              f"{fmt(r.extra.get('pg_cpu_ms', float('nan')), 1)} | "
              f"{fmt(r.extra.get('wal_syncs', float('nan')), 2)} | "
              f"{'; '.join(notes)} |")
    print("\nSteps: " + "; ".join(f"**{s.key}** {s.label}" for s in steps))
    for key, q in queries.items():
        if "error" in q:
            print(f"\nStatements of one report, step {key}: failed: {q['error']}")
            continue
        print(f"\nStatements of one report, step {key}: {len(q['service'])} in case_report, "
              f"{len(q['api'])} for the whole POST /api/v1/cases:")
        for sql in q["api"]:
            print(f"    {sql[:150]}")
    for key, shares in profiles.items():
        kind = "--gil: CPU" if key.endswith("cpu") else "--idle: request threads, wall time"
        print(f"\nProfile {key} (share of samples; py-spy {kind}):")
        if isinstance(shares, str):
            print(f"    {shares}")
            continue
        for label, share in shares.items():
            print(f"    {label:<50} {share:6.1f}" + ("" if label == "(samples)" else " %"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
