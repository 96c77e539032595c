"""The report-text classifier's pure parts: segmentation, features, training, the model file."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest

from cogov.insight import classify as C

# Three made-up kinds of report; each text mixes two of its kind's words with everyday filler.
KINDS = {
    "环卫": ["垃圾", "清运", "垃圾桶", "异味", "保洁", "环卫工"],
    "照明": ["路灯", "不亮", "灯杆", "照明", "漆黑", "灯泡"],
    "噪声": ["噪音", "扰民", "施工", "深夜", "广场舞", "音响"],
}
FILLER = ["小区", "门口", "我们", "每天", "附近", "居民", "希望", "尽快", "处理", "反映", "已经", "很久"]


def corpus(n_per_kind: int = 14, seed: int = 7) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    texts, labels = [], []
    for label, words in KINDS.items():
        for _ in range(n_per_kind):
            parts = rnd.sample(words, 2) + rnd.sample(FILLER, 4)
            rnd.shuffle(parts)
            texts.append("，".join(parts) + "。")
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def model() -> C.TextModel:
    texts, labels = corpus()
    return C.train(texts, labels, words=["垃圾满溢", "路灯不亮"], label_names={"环卫": "环境卫生"}, folds=3,
                   source="unit")


def test_normalize_folds_full_width_and_case():
    assert C.normalize("Ａ３区ＡＢＣ１２３") == "a3区abc123"


def test_domain_words_take_category_names_and_their_parts():
    words = C.domain_words(["垃圾满溢、暴露垃圾", "其他", "路灯（不亮）"])
    assert "垃圾满溢" in words and "暴露垃圾" in words and "路灯" in words and "不亮" in words
    assert "其他" not in words


def test_lexicon_finds_the_most_probable_words():
    lex = C.Lexicon({"公交": 5, "车站": 8, "公交车": 2, "站": 1, "路灯": 6, "坏": 3})
    assert lex.cut("公交车站路灯坏了") == ["公交", "车站", "路灯", "坏", "了"]
    # Latin letters and digits stay one token; punctuation separates
    assert lex.cut("a3区，路灯") == ["a3", "区", "路灯"]


def test_analyzer_drops_stop_words_punctuation_and_single_letters():
    lex = C.Lexicon({"路灯": 6, "坏": 3, "小区": 4, "我们": 9, "的": 20})
    tokens = C.Analyzer(lex).tokens("A市：我们小区的路灯坏了！")
    assert tokens == ["市", "小区", "路灯", "坏"]


def test_raw_and_segmented_text_give_the_same_features(model):
    raw = "小区门口的路灯不亮，居民希望尽快处理。"
    segmented = " ".join(model.analyzer.tokens(raw))
    assert model.analyzer.tokens(segmented) == model.analyzer.tokens(raw)
    assert np.allclose(model.scores(segmented), model.scores(raw))


def test_char_and_word_features():
    assert C.Analyzer.word_features(["路灯", "不亮"]) == ["路灯", "不亮", "路灯 不亮"]
    assert C.Analyzer.char_features(["路灯"]) == ["路", "灯", "路灯"]


def test_trained_model_suggests_the_kind_with_confidence_and_words(model):
    p = model.predict("深夜广场舞音响太吵了，噪音扰民")
    assert p.label == "噪声"
    assert 0.5 < p.confidence <= 1.0
    assert [lab for lab, _ in p.ranking][0] == "噪声" and len(p.ranking) == 3
    assert [prob for _, prob in p.ranking] == sorted((prob for _, prob in p.ranking), reverse=True)
    assert {"噪音", "扰民", "广场舞", "音响"} & set(p.words)
    assert model.predict("路灯不亮，晚上漆黑一片").label == "照明"


def test_model_keeps_metrics_hash_and_version(model):
    meta = model.meta
    assert meta["rows"] == 42 and meta["label_counts"] == {"噪声": 14, "照明": 14, "环卫": 14}
    texts, labels = corpus()
    assert meta["data_sha256"] == C.data_hash(texts, labels)
    assert meta["metrics"]["folds"] == 3 and 0.8 <= meta["metrics"]["macro_f1"] <= 1.0
    assert set(meta["metrics"]["per_label"]) == set(KINDS)
    assert "垃圾满溢" in meta["domain_words"] and meta["label_names"] == {"环卫": "环境卫生"}
    assert model.temperature > 0


def test_save_and_load_give_the_same_scores(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    again = C.TextModel.load(path)
    assert again.labels == model.labels and again.meta["format_version"] == C.FORMAT_VERSION
    for text in ("垃圾桶满了没人清运", "路灯不亮", "施工噪音"):
        assert np.allclose(again.scores(text), model.scores(text), atol=1e-5)
        assert again.predict(text).label == model.predict(text).label


def test_own_inference_equals_scikit_learn(model):
    """The numpy-only inference computes the same TF-IDF and scores as the training pipeline."""
    texts, labels = corpus()
    lex = model.lexicon
    feats = C.analyse(texts, C.Analyzer(lex))
    fitted = C.fit(feats, np.array(labels), range(len(texts)))
    ours = np.array([model.scores(t) for t in texts])
    theirs = fitted.decision(feats, range(len(texts)))
    assert list(fitted.labels) == model.labels
    assert np.allclose(ours, theirs, atol=1e-4)


def _npz(path, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def test_load_refuses_other_files(model, tmp_path):
    with pytest.raises(C.ModelError, match="不存在"):
        C.TextModel.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(C.ModelError):
        C.TextModel.load(junk)
    other = tmp_path / "other.npz"
    _npz(other, meta=np.frombuffer(json.dumps({"format": "x"}).encode(), dtype=np.uint8))
    with pytest.raises(C.ModelError, match="不是"):
        C.TextModel.load(other)
    # a newer format version is refused, not misread
    good = tmp_path / "good.npz"
    model.save(good)
    with np.load(good) as z:
        arrays = dict(z)
    meta = json.loads(arrays["meta"].tobytes())
    meta["format_version"] = C.FORMAT_VERSION + 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    newer = tmp_path / "newer.npz"
    _npz(newer, **arrays)
    with pytest.raises(C.ModelError, match="版本"):
        C.TextModel.load(newer)
    # pickled objects are never loaded
    arrays["coef"] = np.array([{"a": 1}], dtype=object)
    pickled = tmp_path / "pickled.npz"
    buf = io.BytesIO()
    np.savez(buf, **{**arrays, "meta": np.frombuffer(json.dumps(dict(meta, format_version=1)).encode(),
                                                        dtype=np.uint8)})
    pickled.write_bytes(buf.getvalue())
    with pytest.raises(C.ModelError):
        C.TextModel.load(pickled)


def test_training_needs_two_labels():
    with pytest.raises(ValueError):
        C.train(["路灯不亮"] * 3, ["照明"] * 3)
    with pytest.raises(ValueError):
        C.train([], [])


def test_temperature_fits_confident_scores():
    scores = np.array([[2.0, -2.0], [-2.0, 2.0], [1.5, -1.0], [-1.0, 1.0]])
    assert C.fit_temperature(scores, np.array([0, 1, 0, 1])) > 1.0


def test_suggest_categories_without_a_model_is_empty(settings):
    settings.COGOV_INSIGHT_MODEL = ""
    assert C.suggest_categories("路灯不亮") == []


def test_suggest_categories_from_a_configured_model(model, tmp_path, settings):
    path = tmp_path / "model.npz"
    model.save(path)
    settings.COGOV_INSIGHT_MODEL = str(path)
    got = C.suggest_categories("深夜施工噪音扰民", top=2)
    assert [s.code for s in got][0] == "噪声" and len(got) == 2
    assert got[0].category_id is None and got[0].confidence == got[0].score and got[0].words
    assert C.suggest_categories("   ") == []
    settings.COGOV_INSIGHT_MODEL = str(tmp_path / "gone.npz")
    assert C.suggest_categories("深夜施工噪音扰民") == []


def test_sample_weights_silence_rows():
    """A row with weight 0 does not pull the model: a 照明 text labelled 噪声 is ignored at weight 0."""
    texts, labels = corpus()
    texts.append("路灯 不亮 路灯 灯杆 不亮")
    labels.append("噪声")
    feats = C.analyse(texts, C.Analyzer(C.Lexicon.from_tokens([*KINDS.values(), FILLER])))
    y, rows = np.array(labels), range(len(texts))
    noisy = C.fit(feats, y, rows, min_df=1)
    weights = np.ones(len(texts))
    weights[-1] = 0.0
    clean = C.fit(feats, y, rows, min_df=1, sample_weight=weights)
    ix = list(noisy.labels).index("噪声")
    last = [len(texts) - 1]
    assert clean.decision(feats, last)[0, ix] < noisy.decision(feats, last)[0, ix]
    assert clean.labels[clean.decision(feats, last).argmax()] == "照明"


def test_department_class_maps_the_answering_department():
    from cogov.insight.evaluate import department_class

    assert department_class("您反映的问题已转交县住建局办理。") == "城乡建设"
    assert department_class("经市交通运输局调查，现答复如下") == "交通运输"
    assert department_class("市教育局、市人社局联合答复如下") == ""  # two classes: no weak label
    assert department_class("您好，来信收悉。") == ""
