"""``cogov insight``: train the report-text classifier, classify a CSV, show a model's metrics.

    cogov insight train --csv FILE --text 留言主题,留言详情 --label 一级分类 --out MODEL
    cogov insight train --out MODEL [--city 3702]          # from the city's closed cases
    (``--words FILE``: more domain words for the segmenter, e.g. the taxonomy's category names)
    cogov insight classify --model MODEL --csv FILE --text 留言主题,留言详情 --out PRED.csv [--label 一级分类]
    cogov insight show --model MODEL

Thin: parse, call ``cogov.insight.classify``, print. Numbers and scikit-learn are imported only when a
subcommand runs, so ``cogov --help`` stays fast.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from cogov.insight.store_cli import fail as _err


def _columns(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _read_csv(path: str) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _progress(message: str) -> None:
    print(message, flush=True)


def _print_metrics(metrics: dict) -> None:
    if not metrics:
        print("（数据太少，未做交叉验证）")
        return
    print(f"{metrics['folds']} 折分层交叉验证：macro-F1 {metrics['macro_f1']:.4f} ± {metrics['macro_f1_std']:.4f}，"
          f"准确率 {metrics['accuracy']:.4f} ± {metrics['accuracy_std']:.4f}")
    for label, m in metrics.get("per_label", {}).items():
        print(f"  {label:<12} F1 {m['f1']:.3f}  精确率 {m['precision']:.3f}  召回率 {m['recall']:.3f}  "
              f"样本 {m['support']}")


def cmd_train(args) -> int:
    """Train from a CSV (``--csv``) or from the city's closed cases, and write the model file."""
    from cogov.insight import classify as C

    extra: dict = {}
    words: list[str] = []
    names: dict[str, str] = {}
    if args.words:
        if not Path(args.words).is_file():
            return _err(f"文件不存在：{args.words}")
        with open(args.words, encoding="utf-8-sig", newline="") as f:
            words = [cell.strip() for row in csv.reader(f) for cell in row if cell.strip()]
    if args.csv:
        if not Path(args.csv).is_file():
            return _err(f"文件不存在：{args.csv}")
        if not args.label:
            return _err("用 --csv 训练时需要 --label（类别列名）")
        header, rows = _read_csv(args.csv)
        cols = _columns(args.text)
        missing = [c for c in cols + [args.label] if c not in header]
        if missing:
            return _err(f"CSV 中没有列：{', '.join(missing)}（现有列：{', '.join(header)}）")
        texts, labels = [], []
        for r in rows:
            text = " ".join((r.get(c) or "").strip() for c in cols).strip()
            label = (r.get(args.label) or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
        skipped = len(rows) - len(texts)
        source = f"csv:{Path(args.csv).name} text={','.join(cols)} label={args.label}"
        print(f"读取 {len(rows)} 行，{len(texts)} 行可用于训练" + (f"（跳过 {skipped} 行：文本或类别为空）" if skipped else ""))
    else:
        from cogov.insight.store_cli import city_for_command

        city = city_for_command(args)
        if isinstance(city, str):
            return _err(city)
        from cogov.insight.selectors import category_words, closed_case_texts

        pairs = closed_case_texts(city_id=city.pk)
        texts = [t for t, _ in pairs]
        labels = [c for _, c in pairs]
        names, city_words = category_words(city_id=city.pk)
        words += city_words
        names = {code: name for code, name in names.items() if code in set(labels)}
        source = f"cases:{city.code}"
        extra = {"city_id": city.pk, "city_code": city.code}
        print(f"{city.name}（{city.code}）：{len(texts)} 件已结案案件可用于训练")
    try:
        t0 = time.time()
        model = C.train(texts, labels, words=words, label_names=names, folds=args.folds, seed=args.seed,
                        source=source, progress=_progress, extra_meta=extra)
    except ValueError as e:
        return _err(str(e))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    _print_metrics(model.meta["metrics"])
    print(f"模型已保存：{out}（{len(model.labels)} 类，{model.meta['rows']} 条，{time.time() - t0:.0f} s，"
          f"数据 SHA-256 {model.meta['data_sha256'][:12]}…）")
    return 0


def cmd_classify(args) -> int:
    """Add ``predicted``, ``confidence`` and ``words`` columns to every row of a CSV."""
    from cogov.insight import classify as C

    if not Path(args.csv).is_file():
        return _err(f"文件不存在：{args.csv}")
    try:
        model = C.TextModel.load(args.model)
    except C.ModelError as e:
        return _err(str(e))
    header, rows = _read_csv(args.csv)
    cols = _columns(args.text)
    missing = [c for c in cols + ([args.label] if args.label else []) if c not in header]
    if missing:
        return _err(f"CSV 中没有列：{', '.join(missing)}（现有列：{', '.join(header)}）")
    added = [c for c in ("predicted", "confidence", "words") if c not in header]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    truth, preds = [], []
    t0 = time.process_time()
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header + added)
        w.writeheader()
        for r in rows:
            text = " ".join((r.get(c) or "").strip() for c in cols).strip()
            if text:
                p = model.predict(text)
                r = dict(r, predicted=p.label, confidence=f"{p.confidence:.4f}", words=" ".join(p.words))
            else:
                r = dict(r, predicted="", confidence="", words="")
            w.writerow(r)
            if args.label and text and (r.get(args.label) or "").strip():
                truth.append(r[args.label].strip())
                preds.append(r["predicted"])
    cpu = time.process_time() - t0
    print(f"已分类 {len(rows)} 行 → {out}（每条 {1000 * cpu / max(1, len(rows)):.2f} ms CPU）")
    if truth:
        m = C.metrics_of(truth, preds, sorted(set(truth) | set(model.labels)))
        print(f"与 {args.label} 列比较：macro-F1 {m['macro_f1']:.4f}，准确率 {m['accuracy']:.4f}（{len(truth)} 行）")
    return 0


def cmd_show(args) -> int:
    """Print what a model file holds: version, data, metrics."""
    from cogov.insight import classify as C

    try:
        model = C.TextModel.load(args.model)
    except C.ModelError as e:
        return _err(str(e))
    meta = {k: v for k, v in model.meta.items() if k not in ("domain_words", "metrics")}
    print(json.dumps(meta, ensure_ascii=False, indent=2))
    _print_metrics(model.meta.get("metrics") or {})
    return 0


def add_parser(sub, common) -> None:
    """Register ``insight`` and its subcommands on the ``cogov`` parser (``common`` adds ``--data``)."""
    sp = sub.add_parser("insight", help="数据分析：文本分类、重复案件、热点与回潮、单位评估与通报")
    isub = sp.add_subparsers(dest="insight_command", required=True)

    t = isub.add_parser("train", help="训练分类模型（--csv 文件，或本市已结案案件）")
    common(t, port=False)
    t.add_argument("--csv", help="带类别的 CSV（UTF-8）；不给则用本市已结案案件（标题+描述 → 类别编码）")
    t.add_argument("--text", default="留言主题,留言详情", help="文本列，逗号分隔（默认 留言主题,留言详情）")
    t.add_argument("--label", help="类别列（--csv 时必填）")
    t.add_argument("--words", help="领域词文件（CSV 或每行一词，如 taxonomy.csv 的类别名称），加入分词词典")
    t.add_argument("--city", default=os.environ.get("COGOV_CITY", "3702"), help="城市编码（从案件训练时）")
    t.add_argument("--out", required=True, help="模型文件（.npz）")
    t.add_argument("--folds", type=int, default=5, help="交叉验证折数（0 = 不做）")
    t.add_argument("--seed", type=int, default=2020)
    t.set_defaults(func=cmd_train)

    c = isub.add_parser("classify", help="用模型给 CSV 每行加 predicted、confidence 列")
    c.add_argument("--model", required=True)
    c.add_argument("--csv", required=True)
    c.add_argument("--text", default="留言主题,留言详情", help="文本列，逗号分隔")
    c.add_argument("--out", required=True, help="输出 CSV")
    c.add_argument("--label", help="若有真实类别列，输出 macro-F1 与准确率")
    c.set_defaults(func=cmd_classify)

    s = isub.add_parser("show", help="显示模型的版本、训练数据与指标")
    s.add_argument("--model", required=True)
    s.set_defaults(func=cmd_show)

    # The other insight commands live beside their code; each module registers its own subcommands.
    import importlib

    for name in EXTRA_COMMANDS:
        importlib.import_module(f"cogov.insight.{name}").add_commands(isub, common)


#: Modules of cogov.insight with an ``add_commands(isub, common)`` function: their subcommands join ``insight``.
EXTRA_COMMANDS = ("duplicates_cli", "spatial_cli", "bulletin_cli", "store_cli")
