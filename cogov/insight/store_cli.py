"""``cogov insight export``: copy a city's cases into the analytics store and write it as Parquet files.

    cogov insight export --out DIR [--city 3702] [--data DIR]

The files (cases, events, units, service_units .parquet) are what every analysis reads; anyone can open them
with DuckDB (``cogov.insight.store.open_parquet``), pandas or a spreadsheet tool, away from the live database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def fail(message: str) -> int:
    """An insight command's error: the message on stderr, exit code 2."""
    print(f"错误：{message}", file=sys.stderr)
    return 2


def cmd_export(args) -> int:
    """Load the city's store from the operational database and write it as Parquet under ``--out``."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail(f"{out} 不是目录")
    city = city_for_command(args)
    if isinstance(city, str):
        return fail(city)
    from cogov.insight import store

    print(f"{city.name}（{city.code}）：读取业务数据库…", flush=True)
    t0 = time.perf_counter()
    import duckdb

    con = duckdb.connect()
    try:
        counts = store.load(con, city_id=city.pk)
        t1 = time.perf_counter()
        print(f"已载入 {counts['cases']} 件案件、{counts['events']} 条事件、{counts['units']} 个辖区单元、"
              f"{counts['service_units']} 个专业单位（{t1 - t0:.1f} s）", flush=True)
        try:
            files = store.export_parquet(con, out)
        except OSError as e:
            return fail(f"无法写入 {out}：{e}")
    finally:
        con.close()
    size = sum(f.stat().st_size for f in files)
    print(f"已导出 Parquet 到 {out}（{len(files)} 个文件，{size / 1e6:.1f} MB，{time.perf_counter() - t1:.1f} s）：")
    for f in files:
        print(f"  {f.name}")
    return 0


def add_commands(isub, common) -> None:
    """Register ``insight export`` (``common`` adds ``--data``)."""
    e = isub.add_parser("export", help="导出分析库（案件、事件、辖区单元、专业单位）为 Parquet 文件")
    common(e, port=False)
    e.add_argument("--out", required=True, help="输出目录")
    e.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码（默认 3702）")
    e.set_defaults(func=cmd_export)


def city_for_command(args):
    """The ``City`` of ``--city`` in the live database of ``--data`` (Django set up on a database that must
    already be there, ``cogov.cli.setup_existing``), or an error message (str)."""
    from cogov.cli import setup_existing

    problem = setup_existing(args.data)
    if problem:
        return problem
    from cogov.geo.models import City

    return City.objects.filter(code=args.city).first() or f"城市 {args.city} 不存在"


def open_for_command(args):
    """``(connection, city_id, city_name)`` of the city a command asks for — an export (``--parquet DIR``) or the
    live database (``--data``, ``--city``) — or an error message (str). ``--city-name`` names it where given."""
    from cogov.insight import store

    if args.parquet:
        if not Path(args.parquet).is_dir():
            return f"目录不存在：{args.parquet}"
        try:
            con = store.open_parquet(args.parquet)
        except FileNotFoundError as e:
            return str(e)
        row = con.execute("SELECT city_id FROM cases LIMIT 1").fetchone()
        if row is None:
            return f"导出目录 {args.parquet} 中没有案件"
        return con, row[0], getattr(args, "city_name", None) or "本市"
    city = city_for_command(args)
    if isinstance(city, str):
        return city
    t0 = time.perf_counter()
    con = store.open_store(city_id=city.pk)
    print(f"{city.name}（{city.code}）：已载入分析库（{time.perf_counter() - t0:.1f} s）", flush=True)
    return con, city.pk, getattr(args, "city_name", None) or city.name
