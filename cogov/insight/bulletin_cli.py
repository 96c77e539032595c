"""``cogov insight evaluate`` and ``cogov insight bulletin``: the month's ranking of units and areas, and the
monthly bulletin (月度通报) as XLSX and PDF.

    cogov insight evaluate --month 2026-10 [--level unit|station|community|subdistrict] [--csv OUT]
                           [--city 3702]
    cogov insight bulletin --month 2026-10 --out DIR [--city 3702] [--data DIR]

``--parquet DIR`` reads an export (``cogov insight export``) instead of the live database. Formulas:
``cogov.insight.evaluation`` and docs/insight.md.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from cogov.insight.store_cli import fail as _err
from cogov.insight.store_cli import open_for_command

LEVEL_CHOICES = ("unit", "station", "community", "subdistrict")


def _evaluate(args):
    from cogov.insight import evaluation as E

    try:
        E.month_bounds(args.month)
    except E.EvaluationError as e:
        return str(e)
    opened = open_for_command(args)
    if isinstance(opened, str):
        return opened
    con, city_id, city_name = opened
    try:
        t0 = time.perf_counter()
        result = E.monthly(con, city_id=city_id, month=args.month)
        print(f"评估完成（{time.perf_counter() - t0:.1f} s）", flush=True)
    finally:
        con.close()
    return result, city_name


def _fmt(v, kind: str) -> str:
    if v is None:
        return "—"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "num":
        return f"{v:.1f}"
    return str(v)


def cmd_evaluate(args) -> int:
    """Print one level's ranking (and write it as CSV with ``--csv``)."""
    from cogov.insight import bulletin as B
    from cogov.insight import evaluation as E

    if args.top is not None and args.top < 1:
        return _err("--top 至少为 1")
    got = _evaluate(args)
    if isinstance(got, str):
        return _err(got)
    result, city_name = got
    rows = result[args.level]
    name = B.LEVEL_NAMES[args.level]
    shown = rows if args.top is None else rows[:args.top]
    print(f"{city_name} {args.month} {name}排名（{len(rows)} 个有案件" +
          (f"，显示前 {len(shown)} 个；--csv 写出全部" if len(shown) < len(rows) else "") + "）")
    if rows:
        print(f"{'排名':>4}  {'名称':<18}{'案件':>6}{'响应率':>8}{'解决率':>8}{'满意率':>8}{'按期率':>8}"
              f"{'返工率':>8}{'退回':>5}{'升级':>5}{'得分':>7}{'上月':>7}")
    for r in shown:
        print(f"{_fmt(r['rank'], 'int'):>4}  {r['name'][:16]:<18}{r['cases']:>6}"
              f"{_fmt(r['response_rate'], 'pct'):>9}{_fmt(r['resolution_rate'], 'pct'):>9}"
              f"{_fmt(r['satisfaction_rate'], 'pct'):>9}{_fmt(r['ontime_rate'], 'pct'):>9}"
              f"{_fmt(r['rework_rate'], 'pct'):>9}{r['returns']:>6}{r['escalations']:>6}"
              f"{_fmt(r['score'], 'num'):>8}{_fmt(r['prev_score'], 'num'):>8}")
    if args.csv:
        out = Path(args.csv)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fields = list(E.COLUMNS) + ["month", "prev_month"] + [f"prev_{k}" for k in E.COMPARED]
            with open(out, "w", encoding="utf-8-sig", newline="") as f:  # the BOM: Excel opens it as UTF-8
                w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        except OSError as e:
            return _err(f"无法写入 {out}：{e}")
        print(f"已写入 {out}（{len(rows)} 行）")
    return 0


def cmd_bulletin(args) -> int:
    """Write the month's bulletin (XLSX and PDF) into ``--out``."""
    from cogov.insight import bulletin as B

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _err(f"{out} 不是目录")
    got = _evaluate(args)
    if isinstance(got, str):
        return _err(got)
    result, city_name = got
    try:
        xlsx, pdf = B.write_bulletin(result, city_name=city_name, month=args.month, out_dir=out)
    except OSError as e:
        return _err(f"无法写入 {out}：{e}")
    print(B.title_of(city_name, args.month))
    for para in B.summary_text(result, args.month):
        print(para)
    print(f"已生成：{xlsx}（{xlsx.stat().st_size / 1e3:.0f} KB）")
    print(f"已生成：{pdf}（{pdf.stat().st_size / 1e3:.0f} KB）")
    return 0


def add_commands(isub, common) -> None:
    """Register ``insight evaluate`` and ``insight bulletin`` (``common`` adds ``--data``)."""
    def shared(p):
        common(p, port=False)
        p.add_argument("--month", required=True, help="统计月份，格式 YYYY-MM（如 2026-10）")
        p.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码（默认 3702）")
        p.add_argument("--parquet", help="改为读取 cogov insight export 导出的 Parquet 目录")
        p.add_argument("--city-name", help="通报中的城市名称（默认取城市名称；读 Parquet 时为“本市”）")

    e = isub.add_parser("evaluate", help="专业单位、服务站、社区、街道月度评估与排名")
    shared(e)
    e.add_argument("--level", choices=LEVEL_CHOICES, default="unit",
                   help="层级：unit 专业单位（默认）、station 服务站、community 社区、subdistrict 街道")
    e.add_argument("--csv", help="把该层级的排名写入 CSV（UTF-8 带 BOM）")
    e.add_argument("--top", type=int, help="只打印前几名（默认全部；CSV 总是全部）")
    e.set_defaults(func=cmd_evaluate)

    b = isub.add_parser("bulletin", help="生成月度通报（XLSX 与 PDF）")
    shared(b)
    b.add_argument("--out", required=True, help="输出目录")
    b.set_defaults(func=cmd_bulletin)
