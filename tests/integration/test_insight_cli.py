"""`cogov insight train / classify / show` on real labelled messages (a subset, to stay fast) and on the
city's own closed cases."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from cogov.cases.services import case_act, case_report
from cogov.cli import main
from cogov.errors import DomainError
from cogov.insight import classify as C

from tests.conftest import ON_STREET

TEDDY = Path(__file__).resolve().parents[3] / "shared" / "data" / "teddy2020"
needs_teddy = pytest.mark.skipif(not (TEDDY / "messages_labelled.csv").is_file(),
                                 reason="shared/data/teddy2020 not beside the repository")


def cogov(*argv: str) -> int:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    return e.value.code


def subset(src: Path, dst: Path, per_label: int, label: str = "一级分类") -> list[dict]:
    """The first ``per_label`` rows of each label, written as a new CSV."""
    with open(src, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header, rows, seen = reader.fieldnames, [], {}
        for r in reader:
            if seen.get(r[label], 0) < per_label:
                seen[r[label]] = seen.get(r[label], 0) + 1
                rows.append(r)
    with open(dst, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return rows


def read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@needs_teddy
def test_train_and_classify_raw_messages(tmp_path, capsys):
    rows = subset(TEDDY / "messages_labelled.csv", tmp_path / "train.csv", per_label=12)
    model_path = tmp_path / "models" / "teddy.npz"
    assert cogov("insight", "train", "--csv", str(tmp_path / "train.csv"), "--text", "留言主题,留言详情",
                 "--label", "一级分类", "--out", str(model_path), "--folds", "3") == 0
    out = capsys.readouterr().out
    assert "3 折分层交叉验证" in out and "模型已保存" in out
    model = C.TextModel.load(model_path)
    assert sorted(model.labels) == sorted({r["一级分类"] for r in rows}) and len(model.labels) == 7
    assert model.meta["rows"] == len(rows) and model.meta["metrics"]["folds"] == 3
    assert model.meta["source"].startswith("csv:train.csv")

    # classify other messages of the same file: every input row comes back with the two new columns
    subset(TEDDY / "messages_labelled.csv", tmp_path / "all.csv", per_label=30)
    pred = tmp_path / "pred.csv"
    assert cogov("insight", "classify", "--model", str(model_path), "--csv", str(tmp_path / "all.csv"),
                 "--text", "留言主题,留言详情", "--out", str(pred), "--label", "一级分类") == 0
    assert "macro-F1" in capsys.readouterr().out
    in_header, in_rows = read(tmp_path / "all.csv")
    header, out_rows = read(pred)
    assert header[: len(in_header)] == in_header and {"predicted", "confidence"} <= set(header)
    assert len(out_rows) == len(in_rows)
    assert [r["留言编号"] for r in out_rows] == [r["留言编号"] for r in in_rows]
    assert all(r["predicted"] in model.labels and 0 < float(r["confidence"]) <= 1 for r in out_rows)
    right = sum(r["predicted"] == r["一级分类"] for r in out_rows)
    assert right / len(out_rows) > 0.5  # seven classes: chance is ~0.14

    assert cogov("insight", "show", "--model", str(model_path)) == 0
    assert '"format_version": 1' in capsys.readouterr().out


@needs_teddy
def test_train_and_classify_segmented_messages(tmp_path, capsys):
    subset(TEDDY / "messages_full_segmented.csv", tmp_path / "seg.csv", per_label=15)
    model_path = tmp_path / "seg.npz"
    assert cogov("insight", "train", "--csv", str(tmp_path / "seg.csv"), "--text", "分词文本", "--label",
                 "一级分类", "--out", str(model_path), "--folds", "0") == 0
    model = C.TextModel.load(model_path)
    assert model.meta["metrics"] == {} and len(model.labels) == 7
    # a segmented model reads raw messages too
    pred = tmp_path / "pred.csv"
    subset(TEDDY / "messages_labelled.csv", tmp_path / "raw.csv", per_label=10)
    assert cogov("insight", "classify", "--model", str(model_path), "--csv", str(tmp_path / "raw.csv"),
                 "--text", "留言主题,留言详情", "--out", str(pred)) == 0
    _, out_rows = read(pred)
    assert len(out_rows) == 70 and all(r["predicted"] in model.labels for r in out_rows)
    assert sum(r["predicted"] == r["一级分类"] for r in out_rows) > 30


def test_cli_explains_bad_input(tmp_path, capsys):
    f = tmp_path / "x.csv"
    f.write_text("标题,类别\n路灯不亮,照明\n", encoding="utf-8")
    assert cogov("insight", "train", "--csv", str(f), "--text", "留言主题", "--label", "类别",
                 "--out", str(tmp_path / "m.npz")) == 2
    assert "没有列：留言主题" in capsys.readouterr().err
    assert cogov("insight", "train", "--csv", str(f), "--text", "标题", "--label", "类别",
                 "--out", str(tmp_path / "m.npz")) == 2
    assert "两个类别" in capsys.readouterr().err
    assert cogov("insight", "classify", "--model", str(tmp_path / "none.npz"), "--csv", str(f),
                 "--text", "标题", "--out", str(tmp_path / "p.csv")) == 2
    assert "模型文件不存在" in capsys.readouterr().err


# -- the city's own closed cases ------------------------------------------------------------------------

REPORTS = {
    "暴露垃圾": ["路边一堆暴露垃圾没人清理", "垃圾堆在人行道上好几天了", "绿化带里扔满了生活垃圾", "垃圾袋散落一地很臭"],
    "路灯": ["路灯晚上不亮一片漆黑", "这条街的路灯坏了好几盏", "路灯灯杆倒了灯不亮", "晚上路灯一直不亮很危险"],
    "噪声": ["深夜施工噪声扰民睡不着", "工地半夜噪声太大", "广场舞音响噪声扰民", "夜里机器噪声吵得不能休息"],
}


def _category(city, word):
    """The first matter whose name has the word (a component only when no matter has it)."""
    cats = sorted(city.categories.values(), key=lambda c: (c.kind != "matter", c.code))
    return next(c for c in cats if word in c.name)


def _close(city, case):
    act = lambda who, action, **data: case_act(city_id=city.city.pk, number=case.number,  # noqa: E731
                                                actor=city.actor(who), action=action, data=data)
    act("station_a", "accept")
    act("station_a", "dispatch", unit=city.service_units["sanitation"].pk)
    act("sanitation_crew", "acknowledge")
    act("sanitation_crew", "handle", note="已处理")
    for who in ("citizen", "street_head", "station_a", "district_sup"):
        try:
            act(who, "verify")
            break
        except DomainError:
            continue
    return act("station_a", "close")


def test_train_from_the_citys_closed_cases_and_suggest(small_city, tmp_path, settings, capsys):
    c = small_city
    wanted = {word: _category(c, word) for word in REPORTS}
    for word, texts in REPORTS.items():
        for i, text in enumerate(texts):
            case = case_report(city=c.city, actor=c.actor("citizen"), category_id=wanted[word].pk,
                               lon=ON_STREET[0], lat=ON_STREET[1], title=text[:8], description=text)
            assert _close(c, case).state == "closed"
    # an open case is not training data
    case_report(city=c.city, actor=c.actor("citizen"), category_id=wanted["路灯"].pk, lon=ON_STREET[0],
                lat=ON_STREET[1], description="垃圾和噪声")

    model_path = tmp_path / "city.npz"
    assert cogov("insight", "train", "--out", str(model_path), "--city", c.city.code, "--folds", "2") == 0
    assert "12 件已结案案件" in capsys.readouterr().out
    model = C.TextModel.load(model_path)
    assert sorted(model.labels) == sorted(cat.code for cat in wanted.values())
    assert model.meta["city_id"] == c.city.pk and model.meta["rows"] == 12
    assert model.meta["label_names"][wanted["路灯"].code] == wanted["路灯"].name

    settings.COGOV_INSIGHT_MODEL = str(model_path)
    got = C.suggest_categories("小区门口路灯不亮，晚上漆黑", city_id=c.city.pk)
    assert got and got[0].category_id == wanted["路灯"].pk and got[0].code == wanted["路灯"].code
    assert got[0].name == wanted["路灯"].name and 0 < got[0].confidence <= 1
    assert len(got) <= 3
    # a model trained for this city says nothing about another city
    assert C.suggest_categories("路灯不亮", city_id=c.city.pk + 1000) == []
    settings.COGOV_INSIGHT_MODEL = ""
    assert C.suggest_categories("路灯不亮", city_id=c.city.pk) == []


@pytest.mark.parametrize("argv", [["hotspots", "--top", "5"], ["duplicates", "--eval"], ["export", "--out", "x"],
                                  ["train", "--out", "m.npz"]])
def test_a_command_on_a_data_directory_without_a_database_says_so_and_creates_nothing(tmp_path, argv):
    """`cogov insight …` before any `cogov serve` or `cogov demo` (or with a mistyped --data): a message that says
    what to do, exit 2, no traceback — and no empty data directory or database file left behind."""
    import subprocess
    import sys

    missing = tmp_path / "nowhere"
    env = {k: v for k, v in os.environ.items() if k not in ("COGOV_DATABASE_URL", "COGOV_DATA_DIR",
                                                            "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run([sys.executable, "-m", "cogov", "insight", *argv, "--data", str(missing)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "中没有数据库" in done.stderr and "--data .cogov-demo" in done.stderr
    assert "Traceback" not in done.stderr and not missing.exists()
