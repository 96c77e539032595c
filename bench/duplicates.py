"""Benchmark of the duplicate scorer (疑似重复): microseconds per pair, and one intake's candidates.

    .venv/bin/python bench/duplicates.py [--open 200] [--pairs 20000] [--seed 1]

Synthetic reports around one point (within 300 m and 3 days, one of three categories, a citizen's or a patrol's,
Chinese texts of 10–40 characters drawn from a few stock sentences); measures ``score`` on fresh text pairs (no
bigram cache) and on repeated ones (cached), and ``candidates`` of one new report against ``--open`` open cases —
what the station console does per queued case after its bounding-box query. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogov.insight import duplicates as D

TEXTS = ("路边有一堆暴露垃圾，已经放了一天了", "垃圾堆了好几天没人管，味道很大", "电线杆上贴满了小广告",
         "有辆车停在人行道上，推婴儿车过不去", "楼道里堆了很多纸箱和旧家具，影响通行和消防安全",
         "每天都有人在路边摆摊卖东西，人都走不过去", "路灯坏了好几天了，晚上黑乎乎的")
T0 = dt.datetime(2026, 5, 6, tzinfo=dt.UTC)


def make(rng: random.Random, i: int, *, fresh: bool) -> D.Report:
    text = "".join(rng.choice(TEXTS) for _ in range(rng.randint(1, 2)))
    if fresh:
        text += f"（{i}号）"
    return D.Report(key=str(i), category=rng.choice(("06010", "06042", "07001")),
                    lon=120.33 + rng.uniform(-0.003, 0.003), lat=36.06 + rng.uniform(-0.0027, 0.0027),
                    reported_at=T0 + dt.timedelta(hours=rng.uniform(0, 72)), text=text,
                    source=rng.choice(("citizen", "hotline", "head", "inspector")))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--open", type=int, default=200)
    p.add_argument("--pairs", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    rows = []
    for label, fresh in (("score, new texts", True), ("score, cached texts", False)):
        reports = [make(rng, i, fresh=fresh) for i in range(2 * a.pairs)]
        t = time.perf_counter()
        for i in range(a.pairs):
            D.score(reports[2 * i], reports[2 * i + 1])
        rows.append((label, a.pairs, (time.perf_counter() - t) / a.pairs * 1e6))
    open_cases = [make(rng, i, fresh=True) for i in range(a.open)]
    new = make(rng, -1, fresh=True)
    t = time.perf_counter()
    for _ in range(20):
        D._grams.cache_clear()
        D.candidates(new, open_cases)
    rows.append((f"candidates among {a.open} open cases", 20, (time.perf_counter() - t) / 20 * 1e6))
    print(f"Python {platform.python_version()}, {platform.machine()}\n")
    print("| what | runs | µs per run |\n| --- | ---: | ---: |")
    for what, n, us in rows:
        print(f"| {what} | {n} | {us:,.1f} |")


if __name__ == "__main__":
    main()
