"""``cogov insight duplicates``: measure the duplicate scorer (疑似重复) against labelled duplicates.

    cogov insight duplicates --eval [--labels FILE] [--threshold X] [--sweep] [--show-errors] [--data DIR]
    cogov insight duplicates --fit [--labels FILE] [--c 1.0] [--data DIR]     # only on a tuning city

Replays the city's cases in report order: each case's candidates are the cases reported before it (within
``duplicates.MAX_DAYS``) that were still open when it came, of the same or a related category; the predicted
duplicate is the best candidate scoring at least the threshold. A prediction is right when it points at a case
of the same true group (the labels: 案件编号,重复于, as the demo writes to ``<data dir>/eval/duplicates.csv``).
Precision, recall and F1 are printed for the first and the second half of the period and for the whole;
``--sweep`` adds the whole at thresholds 0.30–0.90. ``--fit`` fits the scorer's logistic regression on every
candidate pair of the replay (a pair is positive when both cases are of one true group) and prints the constants
of duplicates.py and the threshold; the shipped ones were fitted on another demo city (seed 7) than the ones the
figures in docs/insight.md are reported on (seeds 2026 and 11).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from cogov.insight import duplicates as D
from cogov.insight.store_cli import city_for_command
from cogov.insight.store_cli import fail as _err

#: The states of an open case (cogov.cases.workflow.OPEN), repeated to keep this module import-light.
OPEN_STATES = frozenset({"reported", "accepted", "dispatched", "acknowledged", "handled", "verified"})


@dataclass
class Scored:
    """One case replayed: its best candidate (if any) and whether a labelled original was reachable."""

    key: str
    at: dt.datetime
    best_key: str | None
    best_score: float
    reasons: list[str]
    reachable: bool  # some earlier case of its true group was open when it came


def read_labels(path: str | Path) -> dict[str, str]:
    """案件编号 → 重复于 from a CSV (UTF-8, BOM or not). Raises ValueError with a Chinese message."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"案件编号", "重复于"} <= set(reader.fieldnames):
            raise ValueError(f"标注文件需要列 案件编号,重复于（现有列：{','.join(reader.fieldnames or [])}）")
        return {r["案件编号"].strip(): r["重复于"].strip() for r in reader if r["案件编号"] and r["重复于"]}


def groups_of(labels: dict[str, str]) -> dict[str, str]:
    """Case → the root of its true group (union of the label pairs)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in labels.items():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in list(parent)}


def pools(reports: list[D.Report], states: dict[str, list[tuple[dt.datetime, str]]]):
    """Each report in report order with its pool: the earlier reports of a related category within the
    ``MAX_METRES`` box and ``MAX_DAYS`` that were still open when it came; and ``open_at(key, when)``."""
    reports = sorted(reports, key=lambda r: (r.reported_at, r.key))
    times = {k: [t for t, _ in v] for k, v in states.items()}

    def open_at(key: str, at: dt.datetime) -> bool:
        i = bisect.bisect_right(times.get(key, []), at)
        return i > 0 and states[key][i - 1][1] in OPEN_STATES

    window = dt.timedelta(days=D.MAX_DAYS)
    dlat = math.degrees(D.MAX_METRES / D.EARTH_RADIUS_M)
    by_group: dict[frozenset, list[D.Report]] = defaultdict(list)
    at_of: dict[frozenset, list[dt.datetime]] = defaultdict(list)
    for r in reports:
        related = D.related_categories(r.category)
        pool = by_group[related]
        lo = bisect.bisect_left(at_of[related], r.reported_at - window)
        dlon = dlat / max(math.cos(math.radians(r.lat)), 0.01)
        cands = [p for p in pool[lo:] if abs(p.lat - r.lat) <= dlat and abs(p.lon - r.lon) <= dlon
                 and p.reported_at < r.reported_at and open_at(p.key, r.reported_at)]
        yield r, cands, open_at
        pool.append(r)
        at_of[related].append(r.reported_at)


def replay(reports: list[D.Report], states: dict[str, list[tuple[dt.datetime, str]]],
           groups: dict[str, str], model: D.Model | None = None) -> list[Scored]:
    """Score every report against the earlier ones still open when it came (see the module docstring)."""
    members: dict[str, list[str]] = defaultdict(list)  # true group → its cases seen so far
    out = []
    for r, cands, open_at in pools(reports, states):
        found = D.candidates(r, cands, threshold=0.0, limit=1, model=model)
        g = groups.get(r.key)
        # reachable whatever the scorer thinks of category, distance or time: some case of its true group was open
        reachable = g is not None and any(open_at(k, r.reported_at) for k in members.get(g, ()))
        if g is not None:
            members[g].append(r.key)
        if found:
            other, m = found[0]
            out.append(Scored(r.key, r.reported_at, other.key, m.score, m.reasons, reachable))
        else:
            out.append(Scored(r.key, r.reported_at, None, 0.0, [], reachable))
    return out


def pairs(reports: list[D.Report], states: dict[str, list[tuple[dt.datetime, str]]],
          groups: dict[str, str]) -> tuple[list[tuple[float, ...]], list[int], list[dt.datetime]]:
    """Every candidate pair of the replay (a report and one case of its pool within ``MAX_METRES``): its
    ``duplicates.features``, whether both are of one true group (1/0), and the report's time."""
    xs, ys, ats = [], [], []
    for r, cands, _ in pools(reports, states):
        g = groups.get(r.key)
        for o in cands:
            relation, metres, hours = D.pair_facts(r, o)
            if not relation or D.out_of_reach(r, o, metres, hours):
                continue
            xs.append(D.features(r, o, metres, hours, relation))
            ys.append(int(g is not None and groups.get(o.key) == g))
            ats.append(r.reported_at)
    return xs, ys, ats


def fit(xs: list[tuple[float, ...]], ys: list[int], c: float = 1.0) -> D.Model:
    """A logistic regression (scikit-learn, L2 with inverse strength ``c``) of same-problem on the features."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=5000).fit(xs, ys)
    return D.Model(float(lr.intercept_[0]), tuple(float(w) for w in lr.coef_[0]))


def threshold_for(rows: list[Scored], labels: dict[str, str], groups: dict[str, str],
                  precision: float = D.FIT_PRECISION) -> float:
    """The lowest threshold (steps of 0.01) whose precision is at least ``precision`` (the most recall at it)."""
    for i in range(1, 101):
        if metrics(rows, labels, groups, i / 100)["precision"] >= precision:
            return i / 100
    return 1.0


def metrics(rows: list[Scored], labels: dict[str, str], groups: dict[str, str], threshold: float) -> dict:
    """Precision, recall, F1 and counts of the predictions at ``threshold``.

    Recall counts the labelled duplicates whose group had an open case to point at when they came
    (``reachable``); the others (their first report already closed) are counted apart as ``unreachable``.
    """
    tp = fp = fn = 0
    unreachable = 0
    for s in rows:
        predicted = s.best_key is not None and s.best_score >= threshold
        right = predicted and s.key in labels and groups.get(s.best_key) == groups.get(s.key)
        if predicted:
            tp += right
            fp += not right
        if s.key in labels:
            if not s.reachable:
                unreachable += 1
            elif not right:
                fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"cases": len(rows), "labelled": sum(s.key in labels for s in rows), "unreachable": unreachable,
            "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def split(rows: list[Scored]) -> tuple[list[Scored], list[Scored]]:
    """The first and the second half of the period (by report time)."""
    if not rows:
        return [], []
    t0, t1 = min(s.at for s in rows), max(s.at for s in rows)
    middle = t0 + (t1 - t0) / 2
    return [s for s in rows if s.at < middle], [s for s in rows if s.at >= middle]


def _line(name: str, m: dict) -> str:
    return (f"{name}：精确率 {m['precision']:.3f}  召回率 {m['recall']:.3f}  F1 {m['f1']:.3f}  "
            f"（案件 {m['cases']}，标注重复 {m['labelled']}，其中原案件当时已结 {m['unreachable']}；"
            f"判对 {m['tp']}，误判 {m['fp']}，漏判 {m['fn']}）")


def _load(city_id: int) -> tuple[list[D.Report], dict[str, list[tuple[dt.datetime, str]]]]:
    """The city's cases as scorer records and each case's states over time (from its events)."""
    from cogov.cases.models import Attachment, Case, CaseEvent

    photos: dict[int, list[str]] = defaultdict(list)
    phashes: dict[int, list[str]] = defaultdict(list)
    for case_id, sha, phash in Attachment.objects.filter(city_id=city_id, case__isnull=False,
                                                         kind="report").values_list("case_id", "sha256", "phash"):
        photos[case_id].append(sha)
        if phash:
            phashes[case_id].append(phash)
    numbers = {}
    reports = []
    for pk, number, code, lon, lat, at, title, text, source, by, units, scope in Case.objects.filter(
            city_id=city_id).values_list("id", "number", "category__code", "lon", "lat", "reported_at", "title",
                                         "description", "source", "reported_by_id", "units", "category__scope"):
        numbers[pk] = number
        reports.append(D.Report(key=number, category=code, lon=lon, lat=lat, reported_at=at,
                                text=f"{title} {text}", photos=tuple(photos.get(pk, ())),
                                phashes=tuple(phashes.get(pk, ())), patroller=D.patroller_of(source, by),
                                building=D.building_of(units, scope), courtyard=D.courtyard_of(units, scope),
                                source=source))
    states: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for case_id, at, to_state in CaseEvent.objects.filter(city_id=city_id).order_by("case_id", "seq").values_list(
            "case_id", "at", "to_state"):
        states[numbers[case_id]].append((at, to_state))
    for v in states.values():
        v.sort(key=lambda e: e[0])
    return reports, dict(states)


def cmd_duplicates(args) -> int:
    """Evaluate the scorer on the city's cases against the labels."""
    if not (args.eval or args.fit):
        return _err("请加 --eval（用标注评估疑似重复的识别）或 --fit（在本市标注上重新拟合权重）")
    if not 0 <= args.threshold <= 1:
        return _err("--threshold 必须在 0 到 1 之间")
    if not args.c > 0:
        return _err("--c 必须大于 0")
    city = city_for_command(args)
    if isinstance(city, str):
        return _err(city)
    from django.conf import settings

    labels_path = Path(args.labels) if args.labels else Path(settings.DATA_DIR) / "eval" / "duplicates.csv"
    if not labels_path.is_file():
        return _err(f"标注文件不存在：{labels_path}")
    try:
        labels = read_labels(labels_path)
    except (ValueError, UnicodeDecodeError, csv.Error) as e:
        return _err(f"标注文件无法读取：{e}")
    from django.db import DatabaseError

    try:
        reports, states = _load(city.pk)
    except DatabaseError as e:
        return _err(f"读取案件失败（数据库是否已迁移到当前版本？先运行 cogov serve 或 cogov demo）：{e}")
    known = {r.key for r in reports}
    missing = [k for k in labels if k not in known]
    if missing:
        print(f"注意：{len(missing)} 条标注的案件不在数据库中（如 {missing[0]}），已忽略")
        labels = {k: v for k, v in labels.items() if k in known}
    groups = groups_of(labels)
    if args.fit:
        return _fit(reports, states, labels, groups, args.c)
    rows = replay(reports, states, groups)
    early, late = split(rows)
    print(f"{city.name}：{len(rows)} 件案件，{len(labels)} 条重复标注（{labels_path.name}），阈值 {args.threshold:.2f}")
    if args.sweep:
        print("各阈值（全部案件）：")
        for i in range(30, 91, 5):
            m = metrics(rows, labels, groups, i / 100)
            print(f"  {i / 100:.2f}  精确率 {m['precision']:.3f}  召回率 {m['recall']:.3f}  F1 {m['f1']:.3f}")
    print(_line("前半段", metrics(early, labels, groups, args.threshold)))
    print(_line("后半段", metrics(late, labels, groups, args.threshold)))
    print(_line("全部", metrics(rows, labels, groups, args.threshold)))
    from cogov.cases.models import Case, CaseFollow

    merged = Case.objects.filter(city=city, merged_into__isnull=False).count()
    follows = CaseFollow.objects.filter(city=city).count()
    print(f"已确认的重复反映：站长合并 {merged} 件；市民点「我也遇到了」{follows} 次"
          "（关注不另立案件，是在上报时已被识别的重复，不计入上面的精确率与召回率）")
    if args.show_errors:
        for s in rows:
            predicted = s.best_key is not None and s.best_score >= args.threshold
            right = predicted and s.key in labels and groups.get(s.best_key) == groups.get(s.key)
            if predicted and not right:
                print(f"  误判 {s.key} → {s.best_key} {s.best_score:.2f} {'，'.join(s.reasons)}")
            elif s.key in labels and s.reachable and not right:
                print(f"  漏判 {s.key}（重复于 {labels[s.key]}）最佳 {s.best_key} {s.best_score:.2f} "
                      f"{'，'.join(s.reasons)}")
    return 0


def _fit(reports: list[D.Report], states: dict, labels: dict[str, str], groups: dict[str, str], c: float) -> int:
    """Fit the weights on this city (only ever the tuning city, seed 7) and print them as the constants of
    duplicates.py, with the lowest threshold of precision ≥ ``duplicates.FIT_PRECISION`` on this same city."""
    xs, ys, _ = pairs(reports, states, groups)
    if not any(ys) or all(ys):
        return _err("候选案件对中没有正例或没有反例，无法拟合")
    model = fit(xs, ys, c)
    rows = replay(reports, states, groups, model)
    threshold = threshold_for(rows, labels, groups)
    m = metrics(rows, labels, groups, threshold)
    print(f"候选案件对 {len(xs)}，其中同一问题 {sum(ys)}；逻辑回归 C={c}")
    print(f"# fitted by `cogov insight duplicates --fit --c {c}` on {len(reports)} cases, {len(labels)} labels")
    print(f"INTERCEPT = {model.intercept:.4f}")
    print("WEIGHTS: dict[str, float] = {")
    for name, w in zip(D.FEATURES, model.weights):
        print(f'    "{name}": {w:.4f},')
    print("}")
    print(f"THRESHOLD = {threshold:.2f}")
    print(_line("本市（拟合所用）", m))
    return 0


def add_commands(isub, common) -> None:
    """Register ``cogov insight duplicates``."""
    p = isub.add_parser("duplicates", help="疑似重复案件：用标注评估精确率与召回率")
    common(p, port=False)
    p.add_argument("--eval", action="store_true", help="评估（按上报顺序重放本市案件，与标注比较）")
    p.add_argument("--labels", help="标注 CSV（列 案件编号,重复于；默认 数据目录/eval/duplicates.csv）")
    p.add_argument("--threshold", type=float, default=D.THRESHOLD, help=f"判为重复的最低分（默认 {D.THRESHOLD}）")
    p.add_argument("--sweep", action="store_true", help="列出各阈值下的精确率与召回率")
    p.add_argument("--show-errors", action="store_true", help="列出误判与漏判的案件")
    p.add_argument("--fit", action="store_true",
                   help="在本市的标注上重新拟合逻辑回归权重并打印（只用于调参城市，如 demo --seed 7）")
    p.add_argument("--c", type=float, default=D.FIT_C, help=f"拟合的正则化参数 C（默认 {D.FIT_C}）")
    p.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码")
    p.set_defaults(func=cmd_duplicates)
