"""``cogov insight hotspots|hours|recurrence|patrol|warnings``: hotspots, hours of the week, recurrence (回潮),
next week's patrol list (巡查清单) and broken-window warnings (破窗预警).

    cogov insight hotspots   [--since D] [--until D] [--category CODE] [--res 9] [--station S] [--csv OUT]
    cogov insight hours      [--since D] [--until D] [--category CODE] [--station S] [--csv OUT]
    cogov insight recurrence [--since D] [--until D] [--days 7] [--res 10] [--category CODE] [--csv OUT]
    cogov insight patrol     [--week 下周一] [--station S] [--top 10] [--csv OUT]
    cogov insight warnings   [--today D] [--window 14] [--min-open 3] [--station S] [--csv OUT]

Common: ``--city`` (default env COGOV_CITY or 3702), ``--data DIR``, ``--parquet DIR`` (read an export instead
of the live database). Dates are YYYY-MM-DD; ``--until`` is exclusive (default today), ``--since`` defaults to
8 weeks before it. Thin: parse, call ``cogov.insight.spatial``, print a Chinese table or write CSV (UTF-8 BOM).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
from pathlib import Path

from cogov.insight.store_cli import fail as _err
from cogov.insight.store_cli import open_for_command


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} 日期格式应为 YYYY-MM-DD：{value}") from None


def _station(con, city_id: int, value: str | None):
    """The station's id from its id or code, or an error message (str); None when not asked."""
    if value is None:
        return None
    row = con.execute("SELECT id FROM units WHERE kind = 'station' AND city_id = ? AND (code = ? OR CAST(id AS VARCHAR) = ?)",
                      [city_id, value, value]).fetchone()
    return row[0] if row else f"服务站 {value} 不存在"


def _write_csv(path: str, rows: list[dict], fields: list[str]) -> str | None:
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8-sig", newline="") as f:  # the BOM: Excel opens it as UTF-8
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("；".join(map(str, v)) if isinstance(v, list) else v) for k, v in r.items()})
    except OSError as e:
        return f"无法写入 {out}：{e}"
    print(f"已写入 {out}（{len(rows)} 行）")
    return None


def _table(headers: list[tuple[str, int]], rows: list[list]) -> None:
    """Print a plain table; widths count a Chinese character as two columns."""
    def width(s: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)

    def cell(s, w: int) -> str:
        s = str(s)
        while width(s) > w:
            s = s[:-1]
        return s + " " * (w - width(s))

    print("  ".join(cell(h, w) for h, w in headers).rstrip())
    for r in rows:
        print("  ".join(cell(v, w) for v, (_, w) in zip(r, headers)).rstrip())


def _run(args, work) -> int:
    try:
        since = _date(getattr(args, "since", None), "--since")
        until = _date(getattr(args, "until", None), "--until")
    except ValueError as e:
        return _err(str(e))
    until = until or dt.date.today()
    since = since or until - dt.timedelta(days=56)
    if since >= until:
        return _err("--since 应早于 --until")
    if getattr(args, "top", 1) < 1:
        return _err("--top 至少为 1")
    opened = open_for_command(args)
    if isinstance(opened, str):
        return _err(opened)
    con, city_id, _name = opened
    try:
        station = _station(con, city_id, getattr(args, "station", None))
        if isinstance(station, str):
            return _err(station)
        code = getattr(args, "category", None)
        if code and not con.execute("SELECT 1 FROM cases WHERE city_id = ? AND category_code = ? LIMIT 1",
                                    [city_id, code]).fetchone():
            return _err(f"类别 {code} 没有任何案件（请用类别编码，如 06010）")
        return work(con, city_id, since, until, station)
    except ValueError as e:
        return _err(str(e))
    finally:
        con.close()


def cmd_hotspots(args) -> int:
    """Gi* hotspots per H3 cell."""
    from cogov.insight import hotspots as H
    from cogov.insight import spatial as S

    def work(con, city_id, since, until, station):
        t0 = time.perf_counter()
        rows = S.hotspots(con, city_id=city_id, since=since, until=until, resolution=args.res,
                          category_code=args.category)
        if station is not None:
            rows = [r for r in rows if r["station_id"] == station]
        hot = sum(r["level"].startswith("hot") for r in rows)
        print(f"{since}—{until}（不含）{args.category or '全部类别'}：{len(rows)} 个 H3 格（{args.res} 级），"
              f"热点 {hot} 个，FDR 显著 {sum(r['fdr'] for r in rows)} 个（{time.perf_counter() - t0:.1f} s）")
        if args.csv:
            return _err(e) if (e := _write_csv(args.csv, rows, list(rows[0]) if rows else ["cell"])) else 0
        _table([("H3 格", 16), ("案件", 6), ("Gi* z", 7), ("p", 8), ("级别", 12), ("服务站", 14), ("社区", 12),
                ("区片/街巷", 16)],
               [[r["cell"], r["count"], f"{r['gi_z']:.2f}", f"{r['p_value']:.2g}", H.LEVEL_NAMES[r["level"]],
                 r["station_name"], r["community_name"], r["zone_name"] or r["street_name"]]
                for r in rows[:args.top]])
        return 0

    return _run(args, work)


def cmd_hours(args) -> int:
    """Hour-of-week counts and the hours that stand out."""
    from cogov.insight import hotspots as H
    from cogov.insight import spatial as S

    def work(con, city_id, since, until, station):
        r = S.hour_of_week(con, city_id=city_id, since=since, until=until, category_code=args.category,
                           station_id=station)
        if args.csv:
            rows = [{"weekday": d, "weekday_name": H.WEEKDAYS[d], "hour": h, "count": r["counts"][d][h],
                     "expected": r["expected"], "z": r["z"][d][h], "p": r["p"][d][h], "level": r["level"][d][h],
                     "fdr": r["fdr"][d][h]} for d in range(7) for h in range(24)]
            return _err(e) if (e := _write_csv(args.csv, rows, list(rows[0]))) else 0
        print(f"{since}—{until}（不含）：{r['total']} 件；检验：{r['method']}")
        print("      " + "".join(f"{h:>4} " for h in range(24)))
        for d in range(7):
            marks = ["*" if r["level"][d][h].startswith("hot") else " " for h in range(24)]
            print(f"{H.WEEKDAYS[d]}  " + "".join(f"{r['counts'][d][h]:>4}{m}" for h, m in zip(range(24), marks)))
        print("（* = 时段热点，90% 及以上）")
        if r["peak"]:
            print(f"最忙的两小时：{r['peak']['text']}")
        return 0

    return _run(args, work)


def cmd_recurrence(args) -> int:
    """Places ranked by recurrence."""
    from cogov.insight import spatial as S

    def work(con, city_id, since, until, station):
        rows = S.recurrence(con, city_id=city_id, since=since, until=until, days=args.days, resolution=args.res,
                            category_code=args.category)
        if station is not None:
            rows = [r for r in rows if r["station_id"] == station]
        print(f"{since}—{until}（不含）：结案后 {args.days} 天内同类问题又报的地点 {len(rows)} 个（{args.res} 级格）")
        if args.csv:
            return _err(e) if (e := _write_csv(args.csv, rows, list(rows[0]) if rows else ["cell"])) else 0
        _table([("排名", 4), ("H3 格", 16), ("类别", 16), ("结案", 5), ("回潮", 5), ("比例", 6), ("平均天数", 8),
                ("p", 8), ("服务站", 14)],
               [[r["rank"], r["cell"], r["category_name"], r["closed"], r["recurred"], f"{100 * r['rate']:.0f}%",
                 f"{r['mean_days']:.1f}", f"{r['p_value']:.2g}", r["station_name"]] for r in rows[:args.top]])
        return 0

    return _run(args, work)


def _next_monday() -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday())


def cmd_patrol(args) -> int:
    """Next week's patrol list per station."""
    from cogov.insight import spatial as S

    try:
        week = _date(args.week, "--week") or _next_monday()
    except ValueError as e:
        return _err(str(e))
    args.until, args.since = week.isoformat(), (week - dt.timedelta(days=args.lookback)).isoformat()

    def work(con, city_id, since, until, station):
        rows = S.patrol_list(con, city_id=city_id, station_id=station, week_start=week, lookback_days=args.lookback,
                             top=args.top)
        print(f"{week} 起一周巡查清单（依据此前 {args.lookback} 天）：{len({r['station_id'] for r in rows})} 个服务站，"
              f"{len(rows)} 处")
        if args.csv:
            return _err(e) if (e := _write_csv(args.csv, rows, list(rows[0]) if rows else ["station_id"])) else 0
        last = object()
        for r in rows:
            if r["station_id"] != last:
                last = r["station_id"]
                print(f"\n【{r['station_name'] or r['station_id'] or '未划入服务站'}】")
            place = r["zone_name"] or r["street_name"] or r["community_name"]
            print(f"{r['rank']:>2}. {r['cell']} {place}  建议 {r['when']}（{r['time_basis']}）")
            print(f"    {r['reason_text']}")
        return 0

    return _run(args, work)


def cmd_warnings(args) -> int:
    """Broken-window warnings."""
    from cogov.insight import spatial as S

    try:
        today = _date(args.today, "--today") or dt.date.today()
    except ValueError as e:
        return _err(str(e))
    args.until, args.since = today.isoformat(), (today - dt.timedelta(days=1)).isoformat()

    def work(con, city_id, since, until, station):
        rows = S.broken_windows(con, city_id=city_id, today=today, window_days=args.window, min_open=args.min_open,
                                resolution=args.res, station_id=station)
        print(f"截至 {today}：破窗预警 {len(rows)} 处（未结小问题 ≥ {args.min_open} 件且近 {args.window} 天上升）")
        if args.csv:
            return _err(e) if (e := _write_csv(args.csv, rows, list(rows[0]) if rows else ["cell"])) else 0
        _table([("H3 格", 16), ("未结", 5), ("近期", 5), ("前期", 5), ("p", 8), ("主要问题", 24), ("服务站", 14)],
               [[r["cell"], r["open"], r["recent"], r["previous"], f"{r['p_value']:.2g}",
                 "、".join(r["categories"][:3]), r["station_name"]] for r in rows[:args.top]])
        return 0

    return _run(args, work)


def add_commands(isub, common) -> None:
    """Register the hotspot, hour, recurrence, patrol and warning subcommands (``common`` adds ``--data``)."""
    def shared(p, *, window=True, res=9, top=20):
        common(p, port=False)
        p.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码（默认 3702）")
        p.add_argument("--parquet", help="改为读取 cogov insight export 导出的 Parquet 目录")
        if window:
            p.add_argument("--since", help="起始日期 YYYY-MM-DD（含；默认截止日前 8 周）")
            p.add_argument("--until", help="截止日期 YYYY-MM-DD（不含；默认今天）")
        p.add_argument("--station", help="只看一个服务站（编码或 id）")
        p.add_argument("--csv", help="写入 CSV（UTF-8 带 BOM）而不是打印表格")
        p.add_argument("--top", type=int, default=top, help=f"打印前几行（默认 {top}）")
        if res:
            p.add_argument("--res", type=int, default=res, choices=range(5, 13), metavar="5-12",
                           help=f"H3 分辨率（默认 {res}）")

    h = isub.add_parser("hotspots", help="空间热点：H3 格的 Getis-Ord Gi*（含 FDR）")
    shared(h)
    h.add_argument("--category", help="只看一个类别（类别编码）")
    h.set_defaults(func=cmd_hotspots)

    w = isub.add_parser("hours", help="时段热点：一周 7×24 小时的案件数与检验")
    shared(w, res=0)
    w.add_argument("--category", help="只看一个类别（类别编码）")
    w.set_defaults(func=cmd_hours)

    r = isub.add_parser("recurrence", help="回潮：结案后 N 天内同类问题又报的地点排名")
    shared(r, res=10)
    r.add_argument("--days", type=int, default=7, help="结案后多少天内又报算回潮（默认 7）")
    r.add_argument("--category", help="只看一个类别（类别编码）")
    r.set_defaults(func=cmd_recurrence)

    p = isub.add_parser("patrol", help="下周巡查清单：按服务站列出热点、回潮、破窗预警地点与建议时段")
    shared(p, window=False, res=0, top=10)
    p.add_argument("--week", help="巡查周的第一天 YYYY-MM-DD（默认下周一）")
    p.add_argument("--lookback", type=int, default=56, help="依据此前多少天的案件（默认 56）")
    p.set_defaults(func=cmd_patrol)

    b = isub.add_parser("warnings", help="破窗预警：未结小问题聚集且在上升的地点")
    shared(b, window=False)
    b.add_argument("--today", help="截至日期 YYYY-MM-DD（默认今天）")
    b.add_argument("--window", type=int, default=14, help="比较窗口天数（默认 14）")
    b.add_argument("--min-open", type=int, default=3, help="至少多少件未结小问题（默认 3）")
    b.set_defaults(func=cmd_warnings)
