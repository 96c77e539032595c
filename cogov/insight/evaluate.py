"""Cross-validation of the report-text classifier on labelled CSV files (the figures in docs/insight.md).

    .venv/bin/python -m cogov.insight.evaluate [--data DIR] [--variants seg,raw,raw+seg,...] [--folds 5]

Every variant uses the same stratified folds (fixed seed) of its evaluation file and prints macro-F1 and
accuracy as mean ± std over the folds, and the pooled per-class F1. TF-IDF vocabularies and IDF are fitted on
the training folds only; the segmentation lexicon is built once from all texts of the run (it uses no labels).
The data (the 2020 Teddy Cup messages, see shared/data/teddy2020/README.md) is not shipped with the package.

Variants:
- ``seg``: messages_full_segmented.csv (7,367), words 1–2 + characters 1–3, linear SVM (the shipped model).
- ``seg-grouped``: ``seg`` with near-duplicate messages (word TF-IDF cosine ≥ 0.9; 655 of the 7,367 have
  one) kept in the same fold — the estimate for messages unlike any seen in training.
- ``seg-words`` / ``seg-chars``: one feature block only.
- ``seg-balanced``: class weights inverse to class frequency.
- ``seg-bias``: per-class score offsets tuned for macro-F1 on inner out-of-fold scores (the catch-all class).
- ``seg-denoise``: training rows whose label the inner out-of-fold model contradicts by a margin are dropped.
- ``seg-taxonomy``: the taxonomy's level-2/3 names of each class added as extra training documents.
- ``seg-selftrain``: the unlabelled messages (votes and replies files) pseudo-labelled by the model where
  it is confident (margin > 0.5), added to training, refitted.
- ``seg-downweight``: training rows whose label an inner 3-fold out-of-fold model contradicts by a margin
  (< −0.5) get weight 0.3 instead of being dropped.
- ``seg-replies``: the replies file's 2,816 messages as weak labels: the class of the answering department
  (``department_class``, 951 answers name one) or else the fold's model on message + official answer where
  it is confident (margin > 0.5); those that copy a test message are left out, as in ``raw+seg``.
- ``raw``: messages_labelled.csv (395 raw messages: 留言主题 + 留言详情) alone.
- ``raw+seg``: the raw folds, each training fold joined by the 7,367 segmented messages, minus those that are
  the same message as one in the test fold (word-set Jaccard ≥ 0.6), so no test message is trained on.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cogov.insight import classify as C

DEFAULT_DATA = os.environ.get("COGOV_TEDDY_DIR",
                              str(Path(__file__).resolve().parents[3] / "shared" / "data" / "teddy2020"))


def read_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a UTF-8 CSV (a BOM is accepted)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def texts_of(rows: Sequence[dict], columns: Sequence[str]) -> list[str]:
    """The text of each row: the given columns joined by a space."""
    return [" ".join((r.get(c) or "").strip() for c in columns).strip() for r in rows]


class Data:
    """The Teddy Cup files, analysed once with one lexicon."""

    def __init__(self, folder: str) -> None:
        d = Path(folder)
        seg = read_csv(d / "messages_full_segmented.csv")
        raw = read_csv(d / "messages_labelled.csv")
        tax = read_csv(d / "taxonomy.csv")
        unl = []
        rep_file = d / "messages_replies_full.csv"
        replies = read_csv(rep_file) if rep_file.is_file() else []
        if (d / "messages_votes_full.csv").is_file():
            unl += texts_of(read_csv(d / "messages_votes_full.csv"), ["留言主题", "留言详情"])
        n_votes = len(unl)
        unl += texts_of(replies, ["留言主题", "留言详情"])
        answers = texts_of(replies, ["答复意见"])
        #: the department named in each reply's first 300 characters, as one of the 7 classes (or "")
        self.reply_department = np.array([department_class(a) for a in answers])
        self.seg_texts = texts_of(seg, ["分词文本"])
        self.seg_y = np.array([r["一级分类"] for r in seg])
        self.raw_texts = texts_of(raw, ["留言主题", "留言详情"])
        self.raw_y = np.array([r["一级分类"] for r in raw])
        classes = sorted(set(self.seg_y))
        self.taxonomy = {c: [f"{r['二级分类']} {r['三级分类']}" for r in tax if r["一级分类"] == c] for c in classes}
        self.unlabelled = unl
        names = C.domain_words(classes + [n for v in self.taxonomy.values() for n in v])
        messages = self.seg_texts + self.raw_texts + unl + [t for v in self.taxonomy.values() for t in v]
        # the official answers join only the seg-replies variant; the lexicon stays that of the messages
        all_texts = messages + [f"{m} {a}" for m, a in zip(unl[n_votes:], answers)]
        t0 = time.time()
        lexicon = C.Lexicon.from_tokens(C.jieba_tokens(messages, names), names)
        self.feats = C.analyse(all_texts, C.Analyzer(lexicon))
        self.tokens = [set(w for w in doc if " " not in w) for doc in self.feats.words]
        n1, n2, n3 = len(self.seg_texts), len(self.raw_texts), len(unl)
        self.seg_rows = np.arange(n1)
        self.raw_rows = np.arange(n1, n1 + n2)
        self.unl_rows = np.arange(n1 + n2, n1 + n2 + n3)
        n4 = sum(len(v) for v in self.taxonomy.values())
        self.tax_rows = np.arange(n1 + n2 + n3, n1 + n2 + n3 + n4)
        #: the replies file's messages (inside ``unl_rows``) and, in the same order, message + official answer
        self.reply_rows = np.arange(n1 + n2 + n_votes, n1 + n2 + n3)
        self.reply_answer_rows = np.arange(n1 + n2 + n3 + n4, len(all_texts))
        self.tax_y = np.array([c for c, v in self.taxonomy.items() for _ in v])
        self.y = np.concatenate([self.seg_y, self.raw_y, np.array([""] * n3), self.tax_y,
                                 np.array([""] * len(answers))])
        print(f"分析完成：{len(all_texts)} 条文本，词典 {len(lexicon.counts)} 词（{time.time() - t0:.0f} s）", flush=True)


#: The answering department → class (the 2019 departments of the city; first match of one class only).
DEPARTMENTS = (
    ("交通运输", r"交通运输局|交警|运管|公路局|交通局|公交公司|地铁|轨道交通"),
    ("教育文体", r"教育局|教育体育局|文体|文化旅游广电|体育局"),
    ("劳动和社会保障", r"人社局|人力资源和社会保障|社保|医保局|医疗保障局|劳动监察"),
    ("卫生计生", r"卫健委|卫生健康|卫生局|卫计|计生"),
    ("环境保护", r"环保局|生态环境|环境保护局|环境监察"),
    ("商贸旅游", r"市场监管|工商|质监|物价局|商务局|旅游局|食药监"),
    ("城乡建设", r"住建局|住房和城乡建设|城管|规划局|自然资源|市政|国土|房屋交易|住房公积金|不动产"),
)


def department_class(answer: str) -> str:
    """The class of the department an official answer names in its first 300 characters; "" when it names
    none or departments of several classes."""
    import re

    head = answer[:300]
    hits = {c for c, pattern in DEPARTMENTS if re.search(pattern, head)}
    return hits.pop() if len(hits) == 1 else ""


def _inner_oof(feats, y, rows, fit_fn, k=5):
    """Out-of-fold scores of ``rows`` by an inner CV (labels sorted)."""
    labels = np.array(sorted(set(y[rows])))
    oof = np.zeros((len(rows), len(labels)))
    rows = np.asarray(rows)
    for a, b in C.stratified_folds(y[rows], k, seed=1):
        m = fit_fn(feats, y, rows[a])
        oof[b] = m.decision(feats, rows[b])
    return labels, oof


def tune_bias(scores: np.ndarray, y_index: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-class offsets added to the scores that maximise macro-F1 (coordinate search)."""
    from sklearn.metrics import f1_score

    bias = np.zeros(scores.shape[1])

    def f(b):
        return f1_score(y_index, (scores + b).argmax(1), average="macro")

    best = f(bias)
    for _ in range(rounds):
        for c in range(len(bias)):
            for d in np.linspace(-0.3, 0.3, 25):
                b = bias.copy()
                b[c] = d
                v = f(b)
                if v > best + 1e-9:
                    best, bias = v, b
    return bias


class Biased(C.Fitted):
    """A fitted model whose scores get fixed per-class offsets."""

    def __init__(self, base: C.Fitted, bias: np.ndarray) -> None:
        super().__init__(blocks=base.blocks, svm=base.svm, labels=base.labels)
        self.bias = bias

    def decision(self, feats, rows):
        return super().decision(feats, rows) + self.bias


def near_duplicate_groups(data: Data, rows: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Group ids: messages whose word TF-IDF cosine is ≥ threshold (and their chains) share a group."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(analyzer=C._identity, lowercase=False).fit_transform(
        [[w for w in data.feats.words[i] if " " not in w] for i in rows])
    S = (X @ X.T).tocsr()
    S.data[S.data < threshold] = 0
    S.eliminate_zeros()
    return connected_components(S, directed=False)[1]


def run_cv(name: str, data: Data, eval_rows: np.ndarray, fit_fn, *, extra_rows=None, exclude_dups=False,
           grouped=False, k: int = 5) -> dict:
    """Stratified k-fold over ``eval_rows``; each training fold may be joined by ``extra_rows``.

    ``grouped``: near-duplicate messages stay in one fold (StratifiedGroupKFold, same seed)."""
    y = data.y
    labels = np.array(sorted(set(y[eval_rows])))
    f1s, accs, pooled_true, pooled_pred = [], [], [], []
    t0 = time.time()
    if grouped:
        from sklearn.model_selection import StratifiedGroupKFold

        splits = list(StratifiedGroupKFold(k, shuffle=True, random_state=C.DEFAULT_SEED).split(
            np.zeros(len(eval_rows)), y[eval_rows], near_duplicate_groups(data, eval_rows)))
    else:
        splits = C.stratified_folds(y[eval_rows], k)
    for tr, te in splits:
        train_rows = list(eval_rows[tr])
        test_rows = eval_rows[te]
        if extra_rows is not None:
            extra = list(extra_rows)
            if exclude_dups:
                test_sets = [data.tokens[j] for j in test_rows]
                extra = [i for i in extra if not _duplicates_any(data.tokens[i], test_sets)]
            train_rows += extra
        m = fit_fn(data.feats, y, np.array(train_rows))
        s = m.decision(data.feats, test_rows)
        pred = m.labels[s.argmax(1)]
        met = C.metrics_of(y[test_rows], pred, labels)
        f1s.append(met["macro_f1"])
        accs.append(met["accuracy"])
        pooled_true += list(y[test_rows])
        pooled_pred += list(pred)
    pooled = C.metrics_of(pooled_true, pooled_pred, labels)
    res = {"name": name, "macro_f1": float(np.mean(f1s)), "macro_f1_std": float(np.std(f1s)),
           "accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
           "per_label": {k_: v["f1"] for k_, v in pooled["per_label"].items()}, "seconds": time.time() - t0}
    print(f"| {name} | {res['macro_f1']:.4f} ± {res['macro_f1_std']:.4f} | {res['accuracy']:.4f} ± "
          f"{res['accuracy_std']:.4f} | " + " ".join(f"{k_} {v:.3f}" for k_, v in res["per_label"].items())
          + f" | {res['seconds']:.0f} s |", flush=True)
    return res


def _duplicates_any(a: set, others: list[set], threshold: float = 0.6) -> bool:
    if not a:
        return False
    for b in others:
        inter = len(a & b)
        if inter and inter / len(a | b) >= threshold:
            return True
    return False


def _block_fit(which: int):
    """A fit that uses one feature block only (0 words, 1 characters)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    class OneBlock(C.Fitted):
        def decision(self, feats, rows):
            docs = feats.words if which == 0 else feats.chars
            return self.svm.decision_function(self.blocks[0].transform([docs[i] for i in rows]))

    def fit_fn(feats, y, rows):
        docs = feats.words if which == 0 else feats.chars
        vec = TfidfVectorizer(analyzer=C._identity, lowercase=False, sublinear_tf=True, min_df=3)
        X = vec.fit_transform([docs[i] for i in rows])
        svm = LinearSVC(random_state=0).fit(X, y[rows])
        return OneBlock(blocks=[vec], svm=svm, labels=svm.classes_)

    return fit_fn


def variants(data: Data) -> dict:
    """Each variant: (evaluation rows, fit function, keyword arguments of run_cv)."""

    def bias_fit(feats, y, rows):
        labels, oof = _inner_oof(feats, y, rows, C.fit)
        return Biased(C.fit(feats, y, rows), tune_bias(oof, np.searchsorted(labels, y[rows])))

    def denoise_fit(feats, y, rows, margin=-0.5):
        labels, oof = _inner_oof(feats, y, rows, C.fit)
        yi = np.searchsorted(labels, y[rows])
        own = oof[np.arange(len(rows)), yi]
        other = oof.copy()
        other[np.arange(len(rows)), yi] = -np.inf
        keep = own - other.max(1) > margin
        return C.fit(feats, y, np.asarray(rows)[keep])

    def taxonomy_fit(feats, y, rows):
        return C.fit(feats, y, np.concatenate([rows, data.tax_rows, data.tax_rows, data.tax_rows]))

    def selftrain_fit(feats, y, rows, margin=0.5):
        m = C.fit(feats, y, rows)
        s = m.decision(feats, data.unl_rows)
        top2 = np.sort(s, 1)[:, -2:]
        sure = top2[:, 1] - top2[:, 0] > margin
        yy = y.copy()
        yy[data.unl_rows] = m.labels[s.argmax(1)]
        return C.fit(feats, yy, np.concatenate([rows, data.unl_rows[sure]]))

    def downweight_fit(feats, y, rows, margin=-0.5, weight=0.3):
        labels, oof = _inner_oof(feats, y, rows, C.fit, k=3)
        yi = np.searchsorted(labels, y[rows])
        own = oof[np.arange(len(rows)), yi]
        other = oof.copy()
        other[np.arange(len(rows)), yi] = -np.inf
        return C.fit(feats, y, rows, sample_weight=np.where(own - other.max(1) < margin, weight, 1.0))

    answer_of = dict(zip(data.reply_rows.tolist(), data.reply_answer_rows.tolist()))

    def replies_fit(feats, y, rows, margin=0.5):
        # rows = training fold + the replies' messages that copy no test message (run_cv's exclude_dups)
        rows = np.asarray(rows)
        is_reply = np.isin(rows, data.reply_rows)
        own, replies = rows[~is_reply], rows[is_reply]
        m = C.fit(feats, y, own)
        s = m.decision(feats, np.array([answer_of[i] for i in replies]))
        top2 = np.sort(s, 1)[:, -2:]
        dept = data.reply_department[replies - data.reply_rows[0]]
        weak = np.where(dept != "", dept, m.labels[s.argmax(1)])
        sure = (dept != "") | (top2[:, 1] - top2[:, 0] > margin)
        yy = y.copy()
        yy[replies] = weak
        return C.fit(feats, yy, np.concatenate([own, replies[sure]]))

    seg, raw = data.seg_rows, data.raw_rows
    return {
        "seg": (seg, C.fit, {}),
        "seg-grouped": (seg, C.fit, {"grouped": True}),
        "seg-words": (seg, _block_fit(0), {}),
        "seg-chars": (seg, _block_fit(1), {}),
        "seg-balanced": (seg, lambda f, y, r: C.fit(f, y, r, class_weight="balanced"), {}),
        "seg-bias": (seg, bias_fit, {}),
        "seg-denoise": (seg, denoise_fit, {}),
        "seg-taxonomy": (seg, taxonomy_fit, {}),
        "seg-selftrain": (seg, selftrain_fit, {}),
        "seg-downweight": (seg, downweight_fit, {}),
        "seg-replies": (seg, replies_fit, {"extra_rows": data.reply_rows, "exclude_dups": True}),
        "raw": (raw, C.fit, {}),
        "raw+seg": (raw, C.fit, {"extra_rows": seg, "exclude_dups": True}),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the chosen variants and print a markdown table."""
    p = argparse.ArgumentParser(prog="python -m cogov.insight.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="teddy2020 数据目录")
    p.add_argument("--variants", default="seg,raw,raw+seg", help="逗号分隔；all = 全部")
    p.add_argument("--folds", type=int, default=5)
    args = p.parse_args(argv)
    if not Path(args.data, "messages_full_segmented.csv").is_file():
        print(f"错误：找不到数据 {args.data}", file=sys.stderr)
        return 2
    data = Data(args.data)
    table = variants(data)
    chosen = list(table) if args.variants == "all" else args.variants.split(",")
    print("| variant | macro-F1 (mean ± std) | accuracy (mean ± std) | per-class F1 (pooled) | time |")
    print("| --- | --- | --- | --- | --- |")
    for name in chosen:
        rows, fit_fn, kw = table[name]
        run_cv(name, data, rows, fit_fn, k=args.folds, **kw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
