"""The ``cogov`` command: demo, serve, worker, import, audit, createadmin, token."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _setup(data_dir: str | None = None) -> None:
    if data_dir:
        os.environ["COGOV_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
    import django

    django.setup()
    from django.conf import settings

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)


def setup_existing(data_dir: str | None = None) -> str:
    """Set up Django on a database that must already be there, for a command that only reads it (the insight
    commands): "" when it is ready, else a message saying what to do. Creates nothing (no data directory, no
    empty SQLite file)."""
    if data_dir:
        os.environ["COGOV_DATA_DIR"] = str(Path(data_dir).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cogov.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import DatabaseError, connection

    hint = "（先运行 cogov serve 或 cogov demo；演示城市在 .cogov-demo：加 --data .cogov-demo）"
    if connection.vendor == "sqlite" and not Path(settings.DATABASES["default"]["NAME"]).is_file():
        return f"数据目录 {settings.DATA_DIR} 中没有数据库" + hint
    try:
        tables = set(connection.introspection.table_names())
    except DatabaseError as e:
        return f"无法读取数据库：{e}"
    if not {"geo_city", "cases_case"} <= tables:
        return f"数据库尚未初始化（数据目录 {settings.DATA_DIR}）" + hint
    return ""


def _migrate(verbose: bool = False) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)


def cmd_serve(args) -> int:
    """Serve the platform with waitress (a production WSGI server; put it behind the city's reverse proxy).

    ``--processes N`` (N > 1): N waitress processes accept on one listening socket, ``--threads`` each — one
    Python interpreter (and GIL) per process, for machines with more cores than the database needs.
    """
    _setup(args.data)
    _migrate()
    from waitress import serve

    from cogov.wsgi import application

    processes = max(1, getattr(args, "processes", 1) or 1)
    print(f"cogov 共治 正在运行：http://{args.host}:{args.port}/  （Ctrl+C 停止）"
          + (f"；{processes} 个进程 × {args.threads} 线程" if processes > 1 else ""), flush=True)
    if processes == 1:
        serve(application, host=args.host, port=args.port, threads=args.threads, ident="cogov")
        return 0
    return _serve_processes(application, host=args.host, port=args.port, threads=args.threads,
                            processes=processes)


def _serve_processes(application, *, host: str, port: int, threads: int, processes: int) -> int:
    """The parent binds the socket, forks the workers (each runs waitress on it), starts a new one when a
    worker dies, and on SIGTERM/SIGINT stops them all and exits. Workers open their own database connections."""
    import signal
    import socket
    import time
    import traceback

    from django.db import connections
    from waitress import serve

    if not hasattr(os, "fork"):
        print("错误：--processes 需要 fork（Linux、macOS）；请用 --processes 1", file=sys.stderr)
        return 2
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # (waitress's backlog) connections queue from now on, whichever worker takes them
    connections.close_all()  # a database connection must never be shared across a fork
    workers: set[int] = set()
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve(application, sockets=[sock], threads=threads, ident="cogov")
            except BaseException:  # noqa: BLE001 - shown, then the worker exits
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never return into the parent's code
        workers.add(pid)

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(processes):
        start()
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        workers.discard(pid)
        if not stopping:
            print(f"工作进程 {pid} 已退出（状态 {status}），1 秒后重新启动", file=sys.stderr, flush=True)
            time.sleep(1)  # a worker that dies at start must not make the parent spin
            if not stopping:
                start()
    sock.close()
    return 0


def cmd_demo(args) -> int:
    """Build the demo city once (later starts reuse it) and serve it, with a worker in the background."""
    _setup(args.data or str(Path.cwd() / ".cogov-demo"))
    _migrate()
    from cogov.demo.build import demo_build, demo_logins

    demo_build(rebuild=args.rebuild, seed=args.seed, scale=args.scale, progress=True)
    print("\n演示城市已就绪 The demo city is ready. 登录 Logins (用户名 / 密码):")
    for role, username, password, where in demo_logins():
        print(f"  {role:<12} {username:<24} {password:<14} {where}")
    if args.no_serve:
        return 0
    from cogov.notify.worker import start_background_worker

    start_background_worker()
    args.data = None
    return cmd_serve(args)


def cmd_worker(args) -> int:
    """Run the background worker: outbox deliveries and the escalation sweep."""
    _setup(args.data)
    _migrate()
    from cogov.notify.worker import run_worker

    run_worker(once=args.once, sweep_every=args.sweep_every)
    return 0


def cmd_import(args) -> int:
    """Import units (GeoJSON/CSV) or a year's holidays (CSV: date,is_workday,name)."""
    _setup(args.data)
    _migrate()
    from cogov.errors import DomainError
    from cogov.geo.models import City

    city = City.objects.filter(code=args.city).first()
    if city is None:
        if args.what != "units" or not args.city_name:
            print(f"错误：城市 {args.city} 不存在（导入辖区时用 --city-name 创建）", file=sys.stderr)
            return 2
        from cogov.geo.services import city_ensure

        city = city_ensure(code=args.city, name=args.city_name)
    path = Path(args.file)
    if not path.is_file():
        print(f"错误：文件不存在：{path}", file=sys.stderr)
        return 2
    try:
        if args.what == "units":
            from cogov.geo.services import rows_from_file, units_import

            report = units_import(city=city, rows=rows_from_file(path.name, path.read_bytes()),
                                  dry_run=args.dry_run)
            for r in report.rejected:
                print(f"  拒绝 第 {r['row']} 行 [{r['code']}]：{r['reason']}")
            if report.rejected:
                print(f"导入失败：{len(report.rejected)} 行被拒绝，未写入任何数据。", file=sys.stderr)
                return 1
            verb = "将" if args.dry_run else "已"
            print(f"{verb}新建 {report.created} 个、更新 {report.updated} 个辖区单元。")
        else:
            from cogov.cases.services import holidays_import

            n = holidays_import(city=city, year=args.year, content=path.read_text(encoding="utf-8-sig"),
                                source=args.source or path.name)
            print(f"已录入 {args.year} 年节假日安排 {n} 天。")
    except DomainError as e:
        print(f"错误：{e.message}", file=sys.stderr)
        return 2
    return 0


def cmd_audit(args) -> int:
    """Verify the hash chain of every case: exit 0 intact, 1 broken (each finding printed)."""
    _setup(args.data)
    from cogov.cases.audit import audit_city
    from cogov.geo.models import City

    broken = 0
    for city in City.objects.order_by("code"):
        cases, events, findings = audit_city(city.pk)
        for f in findings:
            print(f"  ✗ {f}")
        broken += len(findings)
        status = "完整 intact" if not findings else f"发现 {len(findings)} 处问题 BROKEN"
        print(f"{city.name}（{city.code}）：{cases} 件案件、{events} 条事件，哈希链{status}")
    return 1 if broken else 0


def cmd_createadmin(args) -> int:
    """Create (or reset) an administrator account."""
    _setup(args.data)
    _migrate()
    import getpass

    from cogov.people.services import person_create_admin

    password = args.password or getpass.getpass("密码 Password: ")
    if len(password) < 8:
        print("错误：密码至少 8 位", file=sys.stderr)
        return 2
    person_create_admin(username=args.username, password=password, city_code=args.city)
    print(f"管理员 {args.username} 已就绪。")
    return 0


def cmd_token(args) -> int:
    """Issue an API token for a staff account."""
    _setup(args.data)
    from cogov.people.auth import token_issue
    from cogov.people.models import Person

    person = Person.objects.filter(username=args.username).first()
    if person is None:
        print(f"错误：用户 {args.username} 不存在", file=sys.stderr)
        return 2
    print(token_issue(person=person, label=args.label))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs)."""
    p = argparse.ArgumentParser(prog="cogov", description="cogov 共治 — 城市共治平台 / citizen co-governance platform")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, port=True):
        sp.add_argument("--data", help="数据目录（SQLite 与上传文件；默认 ./.cogov-data，demo 为 ./.cogov-demo）")
        if port:
            sp.add_argument("--host", default="127.0.0.1")
            sp.add_argument("--port", type=int, default=8000)
            sp.add_argument("--threads", type=int, default=8)

    sp = sub.add_parser("demo", help="构建并运行演示城市（青岛十区）")
    common(sp)
    sp.add_argument("--rebuild", action="store_true", help="删除并重建演示数据")
    sp.add_argument("--seed", type=int, default=2026)
    sp.add_argument("--scale", type=float, default=1.0, help="规模系数（测试用 0.1）")
    sp.add_argument("--no-serve", action="store_true", help="只构建，不启动服务")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("serve", help="运行平台（waitress）")
    common(sp)
    sp.add_argument("--processes", type=int, default=1,
                    help="进程数（共用一个监听端口，每个进程 --threads 个线程；多核机器用）")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("worker", help="后台任务：通知投递、超期升级")
    common(sp, port=False)
    sp.add_argument("--once", action="store_true", help="处理一轮后退出")
    sp.add_argument("--sweep-every", type=float, default=60.0, help="超期升级扫描间隔（秒）")
    sp.set_defaults(func=cmd_worker)

    sp = sub.add_parser("import", help="导入辖区单元或节假日")
    common(sp, port=False)
    sp.add_argument("what", choices=["units", "holidays"])
    sp.add_argument("file")
    sp.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码（默认 3702 青岛）")
    sp.add_argument("--city-name", help="城市不存在时用此名称创建")
    sp.add_argument("--year", type=int, help="节假日年份")
    sp.add_argument("--source", help="节假日依据（如国务院办公厅通知）")
    sp.add_argument("--dry-run", action="store_true", help="只检查，不写入")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("audit", help="审计")
    common(sp, port=False)
    sp.add_argument("action", choices=["verify"])
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser("createadmin", help="创建管理员")
    common(sp, port=False)
    sp.add_argument("--username", default="admin")
    sp.add_argument("--password")
    sp.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"))
    sp.set_defaults(func=cmd_createadmin)

    sp = sub.add_parser("token", help="签发接口令牌")
    common(sp, port=False)
    sp.add_argument("--username", required=True)
    sp.add_argument("--label", default="")
    sp.set_defaults(func=cmd_token)

    from cogov.insight.cli import add_parser as add_insight_parser  # 文本分类（train / classify / show）

    add_insight_parser(sub, common)
    return p


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``cogov`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "import" and args.what == "holidays" and not args.year:
        print("错误：导入节假日需要 --year", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(args.func(args))
    except KeyboardInterrupt:
        sys.exit(130)
