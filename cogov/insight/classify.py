"""Report-text classification (留言/案件文本分类): suggest a category from a report's title and text.

Pure text features and a linear model, saved in a safe file format:

- Segmentation. Training segments the texts with jieba, its dictionary extended by domain words (the category
  names, their parts and the labels). The resulting words and their counts become the model's ``Lexicon``: a
  maximum-probability segmenter like jieba's own search, but over the training vocabulary only, so a model
  loads in milliseconds (jieba's dictionary takes a second or two) and cuts a report in about a millisecond.
- ``Analyzer``: NFKC + casefold, the lexicon's words, stop words (data/stopwords.txt), punctuation and single
  Latin letters dropped; then word unigrams and bigrams and character 1–3-grams of the remaining words written
  together. Already segmented input (``分词文本``) gives the same words as the raw text, so one model serves both.
- ``train``: TF-IDF (sublinear tf, min_df 3, each block L2-normalised) and a linear SVM; stratified k-fold
  cross-validation (fixed seed) first, whose metrics, the training-data hash and a softmax temperature fitted
  on the out-of-fold scores (so that confidences mean something) are kept in the model.
- ``TextModel.save`` / ``load``: one ``.npz`` of plain arrays (vocabularies as UTF-8 text, IDF and
  coefficients as float32, metadata as JSON) read with ``allow_pickle=False``: a model file cannot run code.
  ``FORMAT_VERSION`` is checked on load.
- ``TextModel.predict`` → ``Prediction``: label, confidence, ranking, and the words that drove it (the word
  features contributing most to the winning score).
- ``suggest_categories`` answers the report form from the model in ``COGOV_INSIGHT_MODEL`` and returns ``[]``
  when there is none, so the caller falls back to the keyword rules (``cogov.cases.suggest``).

Inference is plain Python + numpy; training needs jieba and scikit-learn.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

FORMAT = "cogov-insight-text-classifier"
FORMAT_VERSION = 1
DEFAULT_SEED = 2020
DATA_DIR = Path(__file__).resolve().parent / "data"

_WORDLIKE = re.compile(r"\w", re.UNICODE)
_LATIN_LETTER = re.compile(r"^[a-z]$")
_SPLIT_NAME = re.compile(r"[、，,·/（）()\s和与及]+")


class ModelError(Exception):
    """A model file that cannot be used (missing, another format, a newer version, damaged)."""


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Function words dropped before features (data/stopwords.txt, one a line)."""
    text = (DATA_DIR / "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def normalize(text: str) -> str:
    """NFKC and casefold: full-width letters and digits become ASCII (STYLE.md, Text)."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def domain_words(names: Iterable[str]) -> list[str]:
    """Words for jieba's dictionary from category names: each name and its parts (2+ characters)."""
    words: set[str] = set()
    for name in names:
        name = normalize(name).strip()
        for part in {name, *_SPLIT_NAME.split(name)}:
            if 2 <= len(part) <= 12 and _RUNS.fullmatch(part) and part not in ("其他", "其它"):
                words.add(part)
    return sorted(words)


_JIEBA_LOCK = threading.Lock()
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:\.[0-9]+)?")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def jieba_tokens(texts: Iterable[str], words: Sequence[str] = ()) -> list[list[str]]:
    """jieba's segmentation (``words`` added to its dictionary) of normalised texts — in training only."""
    import logging

    import jieba

    with _JIEBA_LOCK:
        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.initialize()
        for w in words:
            tok.add_word(w, freq=max(tok.suggest_freq(w, tune=False), 2000))
    return [[w for w in tok.cut(normalize(t)) if w.strip()] for t in texts]


class Lexicon:
    """分词词典 — the model's own words and counts: a maximum-probability (unigram) segmenter, like jieba's
    DAG search but over the training vocabulary only."""

    MAX_LEN = 8

    def __init__(self, counts: dict[str, int], prefixes: Iterable[str] | None = None) -> None:
        self.counts = {w: c for w, c in counts.items() if c > 0}
        total = float(sum(self.counts.values()) or 1)
        logs = np.log(np.fromiter(self.counts.values(), dtype=np.float64, count=len(self.counts)) / total)
        self.logp = dict(zip(self.counts, logs.tolist()))
        self.unknown = math.log(0.5 / total)  # an unseen single character
        # every beginning of a word: the search stops as soon as a fragment begins no word (as jieba's DAG)
        self.prefixes = set(prefixes) if prefixes is not None else {
            w[:k] for w in self.logp if len(w) <= self.MAX_LEN for k in range(1, len(w) + 1)}

    @classmethod
    def from_tokens(cls, docs: Iterable[Sequence[str]], words: Sequence[str] = ()) -> Lexicon:
        """Counts of the Chinese words in segmented documents; the domain words count at least 20."""
        c: Counter[str] = Counter()
        for doc in docs:
            c.update(w for w in doc if _HAN.match(w) and _RUNS.fullmatch(w))
        for w in words:
            if _RUNS.fullmatch(w):
                c[w] = max(c[w], 20)
        return cls(dict(c))

    def _cut_run(self, s: str) -> list[str]:
        n = len(s)
        logp, prefixes, unknown = self.logp, self.prefixes, self.unknown
        best = [0.0] * (n + 1)
        back = [0] * (n + 1)
        for i in range(n - 1, -1, -1):  # right to left, as jieba
            lp = logp.get(s[i], unknown)
            top, arg = lp + best[i + 1], i + 1
            j = i + 2
            while j <= n:
                frag = s[i:j]
                if frag not in prefixes:
                    break
                lp = logp.get(frag)
                if lp is not None and lp + best[j] > top:
                    top, arg = lp + best[j], j
                j += 1
            best[i], back[i] = top, arg
        out, i = [], 0
        while i < n:
            out.append(s[i:back[i]])
            i = back[i]
        return out

    def cut(self, text: str) -> list[str]:
        """Words of a normalised text: runs of Chinese characters segmented, Latin/digit runs kept whole."""
        out: list[str] = []
        for run in _RUNS.findall(text):
            if _HAN.match(run):
                out.extend(self._cut_run(run))
            else:
                out.append(run)
        return out


class Analyzer:
    """Text → meaningful words → features."""

    #: Only the beginning of a long text is read (the title comes first): bounds the time of one report.
    MAX_CHARS = 1500

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def tokens(self, text: str) -> list[str]:
        """The words of a text that carry meaning (raw or already segmented text alike)."""
        stop = stopwords()
        words = self.lexicon.cut(normalize(text)[: self.MAX_CHARS])
        return [w for w in words if w not in stop and not _LATIN_LETTER.match(w)]

    @staticmethod
    def word_features(tokens: Sequence[str]) -> list[str]:
        """Word unigrams and bigrams (a bigram is the two words joined by a space)."""
        return list(tokens) + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]

    @staticmethod
    def char_features(tokens: Sequence[str]) -> list[str]:
        """Character 1–3-grams of the words written together."""
        s = "".join(tokens)
        n = len(s)
        return [s[i:i + k] for k in (1, 2, 3) for i in range(n - k + 1)]


def _tfidf_block(feats: list[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sublinear TF-IDF, L2-normalised: (indices, values) of one document — as scikit-learn computes it."""
    get = vocab.get
    ids, tfs = [], []
    for f, c in Counter(feats).items():
        i = get(f)
        if i is not None:
            ids.append(i)
            tfs.append(c)
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    idx = np.array(ids, dtype=np.int64)
    tf = np.array(tfs, dtype=np.float64)
    val = (1.0 + np.log(tf)) * idf[idx]
    norm = math.sqrt(float(val @ val))
    return idx, (val / norm if norm else val)


@dataclass
class Prediction:
    """分类建议 — the best label, its confidence (0–1), the ranking and the words that drove it."""

    label: str
    confidence: float
    ranking: list[tuple[str, float]]
    words: list[str]


@dataclass
class TextModel:
    """A trained classifier: vocabularies, IDF, coefficients and what it was trained on (``meta``)."""

    labels: list[str]
    word_vocab: list[str]
    word_idf: np.ndarray
    char_vocab: list[str]
    char_idf: np.ndarray
    coef: np.ndarray  # (labels, words + chars)
    intercept: np.ndarray
    lexicon: Lexicon
    temperature: float = 1.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._wv = dict(zip(self.word_vocab, range(len(self.word_vocab))))
        self._cv = dict(zip(self.char_vocab, range(len(self.char_vocab))))
        self._nw = len(self.word_vocab)
        self.analyzer = Analyzer(self.lexicon)

    # -- inference -----------------------------------------------------------------------------------
    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        tokens = self.analyzer.tokens(text)
        wi, wv = _tfidf_block(Analyzer.word_features(tokens), self._wv, self.word_idf)
        ci, cv = _tfidf_block(Analyzer.char_features(tokens), self._cv, self.char_idf)
        return np.concatenate([wi, ci + self._nw]), np.concatenate([wv, cv]), tokens

    def scores(self, text: str) -> np.ndarray:
        """The linear model's score of each label (``labels`` order)."""
        idx, val, _ = self._vector(text)
        return self.coef[:, idx] @ val + self.intercept

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Softmax of the scores at the model's temperature."""
        z = scores * self.temperature
        z = np.exp(z - z.max())
        return z / z.sum()

    def predict(self, text: str, *, top: int = 3, words: int = 5) -> Prediction:
        """The likeliest label of one text, with confidence, ranking and the words that drove it."""
        idx, val, _ = self._vector(text)
        s = self.coef[:, idx] @ val + self.intercept
        p = self.probabilities(s)
        order = np.argsort(-p)
        best = int(order[0])
        drivers: list[str] = []
        if len(idx):
            contrib = self.coef[best, idx] * val
            for j in np.argsort(-contrib):
                if contrib[j] <= 0 or len(drivers) >= words:
                    break
                if idx[j] < self._nw:
                    w = self.word_vocab[idx[j]].replace(" ", "")
                    if w not in drivers:
                        drivers.append(w)
        return Prediction(label=self.labels[best], confidence=round(float(p[best]), 4),
                          ranking=[(self.labels[int(i)], round(float(p[int(i)]), 4)) for i in order[:top]],
                          words=drivers)

    # -- file ----------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model (atomically) as an ``.npz`` of plain arrays; no pickled objects. Not compressed:
        loading is faster, and that counts more than the file's size."""
        meta = dict(self.meta, format=FORMAT, format_version=FORMAT_VERSION, labels=self.labels,
                    temperature=self.temperature)
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8),
            word_vocab=np.frombuffer("\n".join(self.word_vocab).encode(), dtype=np.uint8),
            char_vocab=np.frombuffer("\n".join(self.char_vocab).encode(), dtype=np.uint8),
            word_idf=self.word_idf.astype(np.float32),
            char_idf=self.char_idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept.astype(np.float32),
            lexicon_words=np.frombuffer("\n".join(self.lexicon.counts).encode(), dtype=np.uint8),
            lexicon_counts=np.fromiter(self.lexicon.counts.values(), dtype=np.uint32,
                                       count=len(self.lexicon.counts)),
            lexicon_prefixes=np.frombuffer("\n".join(sorted(self.lexicon.prefixes)).encode(), dtype=np.uint8),
        )
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TextModel:
        """Read a model file; ``ModelError`` when it is missing, of another format or version, or damaged."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode())
                if meta.get("format") != FORMAT:
                    raise ModelError(f"{path}: 不是 cogov 文本分类模型")
                if meta.get("format_version") != FORMAT_VERSION:
                    raise ModelError(f"{path}: 模型格式版本 {meta.get('format_version')}，本程序读取版本 "
                                     f"{FORMAT_VERSION}；请重新训练")

                def vocab(name: str) -> list[str]:
                    raw = z[name].tobytes().decode()
                    return raw.split("\n") if raw else []

                model = cls(labels=list(meta["labels"]), word_vocab=vocab("word_vocab"),
                            word_idf=z["word_idf"].astype(np.float64), char_vocab=vocab("char_vocab"),
                            char_idf=z["char_idf"].astype(np.float64), coef=z["coef"],
                            intercept=z["intercept"].astype(np.float64),
                            lexicon=Lexicon(dict(zip(vocab("lexicon_words"), z["lexicon_counts"].tolist())),
                                            prefixes=vocab("lexicon_prefixes")),
                            temperature=float(meta.get("temperature", 1.0)), meta=meta)
        except ModelError:
            raise
        except FileNotFoundError as e:
            raise ModelError(f"模型文件不存在：{path}") from e
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise ModelError(f"{path}: 模型文件无法读取（{e}）") from e
        if model.coef.shape != (len(model.labels), len(model.word_vocab) + len(model.char_vocab)):
            raise ModelError(f"{path}: 模型文件已损坏（系数维度不符）")
        return model


# -- training ----------------------------------------------------------------------------------------------

def data_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 of the training rows (text and label), to tell which data a model was trained on."""
    h = hashlib.sha256()
    for t, y in zip(texts, labels):
        h.update(t.encode())
        h.update(b"\x1f")
        h.update(y.encode())
        h.update(b"\x1e")
    return h.hexdigest()


@dataclass
class Features:
    """Analysed documents: word and character features, computed once and reused by every fold."""

    words: list[list[str]]
    chars: list[list[str]]


def analyse(texts: Sequence[str], analyzer: Analyzer) -> Features:
    """Segment every text once."""
    toks = [analyzer.tokens(t) for t in texts]
    return Features(words=[Analyzer.word_features(t) for t in toks],
                    chars=[Analyzer.char_features(t) for t in toks])


def _identity(doc):
    return doc


def _fit_blocks(feats: Features, rows: Sequence[int], min_df: int):
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks = []
    for docs in (feats.words, feats.chars):
        vec = TfidfVectorizer(analyzer=_identity, lowercase=False, sublinear_tf=True, min_df=min_df,
                              dtype=np.float64)
        vec.fit([docs[i] for i in rows])
        blocks.append(vec)
    return blocks


def _transform(blocks, feats: Features, rows: Sequence[int]):
    import scipy.sparse as sp

    mats = [blocks[0].transform([feats.words[i] for i in rows]),
            blocks[1].transform([feats.chars[i] for i in rows])]
    return sp.hstack(mats).tocsr()


@dataclass
class Fitted:
    """A fitted pipeline inside training: vectorisers, the SVM and its labels."""

    blocks: list
    svm: object
    labels: np.ndarray

    def decision(self, feats: Features, rows: Sequence[int]) -> np.ndarray:
        s = self.svm.decision_function(_transform(self.blocks, feats, rows))
        if s.ndim == 1:  # two labels: scikit-learn gives one column
            s = np.column_stack([-s, s])
        return s


def fit(feats: Features, y: np.ndarray, rows: Sequence[int], *, C: float = 1.0, min_df: int = 3,
        class_weight: str | None = None, sample_weight: np.ndarray | None = None) -> Fitted:
    """TF-IDF blocks and a linear SVM on the given rows (``sample_weight``: one weight per row)."""
    from sklearn.svm import LinearSVC

    rows = list(rows)
    blocks = _fit_blocks(feats, rows, min_df if len(rows) >= 50 else 1)
    X = _transform(blocks, feats, rows)
    svm = LinearSVC(C=C, class_weight=class_weight, random_state=0)
    svm.fit(X, y[rows], sample_weight=sample_weight)
    return Fitted(blocks=blocks, svm=svm, labels=svm.classes_)


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """The softmax temperature that minimises the log-loss of out-of-fold scores (grid search)."""
    best, best_t = math.inf, 1.0
    for t in np.geomspace(0.25, 40, 60):
        z = scores * t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        nll = -float(logp[np.arange(len(y_index)), y_index].mean())
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def stratified_folds(y: np.ndarray, k: int = 5, seed: int = DEFAULT_SEED):
    """Stratified k folds with a fixed seed (the same for every variant compared)."""
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def metrics_of(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Macro-F1, accuracy and per-label precision/recall/F1 of one set of predictions."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_label": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(n[i])}
                      for i, lab in enumerate(labels)},
    }


def cross_validate(feats: Features, y: np.ndarray, *, k: int = 5, seed: int = DEFAULT_SEED,
                   fit_fn: Callable[..., Fitted] | None = None,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Stratified k-fold CV: mean ± std of macro-F1 and accuracy, pooled per-label figures, OOF scores."""
    fit_fn = fit_fn or fit
    labels = np.array(sorted(set(y)))
    oof = np.zeros((len(y), len(labels)))
    f1s, accs = [], []
    for n, (tr, te) in enumerate(stratified_folds(y, k, seed), 1):
        model = fit_fn(feats, y, tr)
        s = model.decision(feats, te)
        full = np.full((len(te), len(labels)), -1e3)
        full[:, np.searchsorted(labels, model.labels)] = s
        oof[te] = full
        m = metrics_of(y[te], labels[full.argmax(1)], labels)
        f1s.append(m["macro_f1"])
        accs.append(m["accuracy"])
        if progress:
            progress(f"  第 {n}/{k} 折：macro-F1 {m['macro_f1']:.4f}，准确率 {m['accuracy']:.4f}")
    pooled = metrics_of(y, labels[oof.argmax(1)], labels)
    return {
        "folds": k, "seed": seed,
        "macro_f1": round(float(np.mean(f1s)), 4), "macro_f1_std": round(float(np.std(f1s)), 4),
        "accuracy": round(float(np.mean(accs)), 4), "accuracy_std": round(float(np.std(accs)), 4),
        "per_label": pooled["per_label"],
        "oof_scores": oof, "labels": labels,
    }


def train(texts: Sequence[str], labels: Sequence[str], *, words: Sequence[str] = (),
          label_names: dict | None = None, folds: int = 5, seed: int = DEFAULT_SEED, C: float = 1.0,
          source: str = "",
          progress: Callable[[str], None] | None = None, extra_meta: dict | None = None) -> TextModel:
    """Train a model on (text, label) rows; cross-validate it first when every label has ``folds`` rows.

    ``words``: extra words for the segmenter (category names …); the labels and ``label_names`` values are
    added too. The metrics, data hash and parameters are kept in ``meta``.
    """
    if len(texts) != len(labels) or not texts:
        raise ValueError("训练数据为空或文本与类别数量不一致")
    y = np.array([str(v) for v in labels])
    counts = Counter(y.tolist())
    if len(counts) < 2:
        raise ValueError("训练数据至少需要两个类别")
    names = domain_words(list(words) + [v for v in (label_names or {}).values()] + list(counts))
    if progress:
        progress(f"分词：{len(texts)} 条（jieba，领域词 {len(names)} 个）")
    lexicon = Lexicon.from_tokens(jieba_tokens(texts, names), names)
    feats = analyse(texts, Analyzer(lexicon))

    def fit_fn(f, yy, rows):
        return fit(f, yy, rows, C=C)

    k = min(folds, min(counts.values()))
    metrics: dict = {}
    temperature = 5.0
    if folds >= 2 and k >= 2:
        if progress:
            progress(f"{k} 折分层交叉验证（种子 {seed}）")
        cv = cross_validate(feats, y, k=k, seed=seed, fit_fn=fit_fn, progress=progress)
        temperature = fit_temperature(cv["oof_scores"], np.searchsorted(cv["labels"], y))
        metrics = {key: cv[key] for key in ("folds", "seed", "macro_f1", "macro_f1_std", "accuracy",
                                            "accuracy_std", "per_label")}
    if progress:
        progress("在全部数据上训练")
    final = fit_fn(feats, y, range(len(y)))
    coef = np.asarray(final.svm.coef_, dtype=np.float32)
    intercept = np.asarray(final.svm.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # two labels
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    word_vec, char_vec = final.blocks
    word_vocab = sorted(word_vec.vocabulary_, key=word_vec.vocabulary_.get)
    char_vocab = sorted(char_vec.vocabulary_, key=char_vec.vocabulary_.get)
    meta = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source": source,
        "rows": len(texts),
        "label_counts": dict(sorted(counts.items())),
        "label_names": dict(label_names or {}),
        "data_sha256": data_hash(texts, y.tolist()),
        "params": {"features": "lexicon words 1-2 + chars 1-3", "max_chars": Analyzer.MAX_CHARS,
                   "tfidf": "sublinear tf, min_df 3, l2 per block", "model": "LinearSVC", "C": C, "seed": seed},
        "metrics": metrics,
        "domain_words": names,
    }
    meta.update(extra_meta or {})
    return TextModel(labels=[str(v) for v in final.labels], word_vocab=word_vocab,
                     word_idf=np.asarray(word_vec.idf_), char_vocab=char_vocab,
                     char_idf=np.asarray(char_vec.idf_),
                     coef=coef, intercept=intercept, lexicon=lexicon, temperature=temperature, meta=meta)


# -- the report form ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSuggestion:
    """模型推荐 — a category the model suggests (``category_id``/``score``/``words`` as the keyword rules)."""

    category_id: int | None
    code: str
    name: str
    confidence: float
    words: tuple[str, ...]

    @property
    def score(self) -> float:
        return self.confidence


_CACHE: dict[str, tuple[float, TextModel]] = {}
_CACHE_LOCK = threading.Lock()


def model_for(path: str | os.PathLike) -> TextModel:
    """The model at ``path``, loaded once and reloaded when the file changes."""
    key = str(path)
    mtime = os.stat(key).st_mtime
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit and hit[0] == mtime:
            return hit[1]
    model = TextModel.load(key)
    with _CACHE_LOCK:
        _CACHE[key] = (mtime, model)
    return model


def configured_model_path(city_id: int | None = None) -> str:
    """``COGOV_INSIGHT_MODEL`` (``{city_id}`` in it is replaced), or "" when none is set."""
    from django.conf import settings

    path = str(getattr(settings, "COGOV_INSIGHT_MODEL", "") or "")
    if "{city_id}" in path:
        path = path.replace("{city_id}", str(city_id if city_id is not None else ""))
    return path


def suggest_categories(text: str, *, city_id: int | None = None, top: int = 3) -> list[ModelSuggestion]:
    """The city's trained model's ``top`` categories for a report text, best first; ``[]`` without a model.

    With ``city_id`` only active categories of that city whose code is a label of the model are returned
    (a model trained on another city's cases answers nothing). A model that cannot be read answers ``[]``
    too — the form then uses the keyword rules — and the reason is logged.
    """
    import logging

    path = configured_model_path(city_id)
    if not path or not (text or "").strip() or not os.path.isfile(path):
        return []
    try:
        model = model_for(path)
    except ModelError as e:
        logging.getLogger("cogov.insight").warning("分类模型不可用：%s", e)
        return []
    trained_for = model.meta.get("city_id")
    if city_id is not None and trained_for is not None and int(trained_for) != int(city_id):
        return []
    pred = model.predict(text, top=len(model.labels))
    names = model.meta.get("label_names") or {}
    rows: dict[str, tuple[int, str]] = {}
    if city_id is not None:
        from cogov.cases.models import Category

        rows = {code: (pk, name) for pk, code, name in Category.objects.filter(
            city_id=city_id, active=True, code__in=[lab for lab, _ in pred.ranking]).order_by("kind")
            .values_list("pk", "code", "name")}
    out = []
    for label, p in pred.ranking:
        if city_id is not None and label not in rows:
            continue
        pk, name = rows.get(label, (None, names.get(label, label)))
        words = tuple(pred.words) if label == pred.label else ()
        out.append(ModelSuggestion(category_id=pk, code=label, name=name, confidence=p, words=words))
        if len(out) >= top:
            break
    return out
