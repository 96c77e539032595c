"""The duplicate scorer (疑似重复): plain records, no database."""

import ast
import datetime as dt
from pathlib import Path

from cogov.insight import duplicates as D

T0 = dt.datetime(2026, 5, 6, 8, 30, tzinfo=dt.UTC)
LON, LAT = 120.3300, 36.0600
METRE_LAT = 1 / 111_195  # degrees of latitude per metre


def rep(key, code="06010", north_m=0.0, hours=0.0, text="", photos=(), phashes=(), source="citizen"):
    return D.Report(key=key, category=code, lon=LON, lat=LAT + north_m * METRE_LAT,
                    reported_at=T0 + dt.timedelta(hours=hours), text=text, photos=photos, phashes=phashes,
                    source=source)


def test_the_module_stays_free_of_django():
    tree = ast.parse(Path(D.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(n.split(".")[0] in ("django", "cogov") for n in names), names


def test_distance_is_haversine():
    assert abs(D.distance_m(LON, LAT, LON, LAT + 100 * METRE_LAT) - 100) < 0.5
    assert D.distance_m(LON, LAT, LON, LAT) == 0


def test_the_same_pile_reported_twice_in_other_words_is_a_duplicate():
    a = rep("A", text="宁夏路暴露垃圾 路边有一堆暴露垃圾，已经放了一天了")
    b = rep("B", north_m=35, hours=3, text="宁夏路口有一堆垃圾 垃圾堆了好几天没人管，味道很大")
    m = D.score(a, b)
    assert m.score >= D.THRESHOLD
    assert m.reasons[:2] == ["相距 35 米", "同类"] and any(r.startswith("文字相似 ") for r in m.reasons)
    assert D.score(b, a).score == m.score  # symmetric


def test_far_apart_or_days_later_or_another_kind_is_not():
    a = rep("A", text="路边有一堆暴露垃圾")
    assert D.score(a, rep("B", north_m=450, text="路边有一堆暴露垃圾")).score == 0
    assert D.score(a, rep("B", hours=24 * 10, text="路边有一堆暴露垃圾")).score == 0
    other = D.score(a, rep("B", code="09009", north_m=5, text="路边有一堆暴露垃圾"))
    assert other.score == 0 and other.reasons == ["类别不同"]
    # the same street a day and a half later, 150 m on, different words: not offered
    assert D.score(a, rep("B", north_m=150, hours=36, text="电线杆上贴满了小广告")).score < D.THRESHOLD


def test_related_categories_count_but_less_than_the_same_one():
    a = rep("A", text="垃圾桶旁边堆满了垃圾袋")
    same = D.score(a, rep("B", north_m=20, hours=1, text="垃圾箱满了没人清运"))
    related = D.score(a, rep("B", code="06042", north_m=20, hours=1, text="垃圾箱满了没人清运"))
    assert 0 < related.score < same.score and "相关类别" in related.reasons
    # the same pile filed as 垃圾箱满溢 by a second passer-by soon after is offered; most of a day later it is not
    # (a full bin and a pile beside it are often two problems), while the same category still is
    assert related.score >= D.THRESHOLD
    later = D.score(a, rep("B", code="06042", north_m=20, hours=20, text="垃圾箱满了没人清运"))
    assert later.score < D.THRESHOLD <= D.score(a, rep("B", north_m=20, hours=20, text="垃圾箱满了没人清运")).score
    assert D.category_relation("07001", "Q0201") == "related" and D.category_relation("07001", "06010") == ""
    assert {"06010", "06042"} <= D.related_categories("06010") and D.related_categories("99999") == {"99999"}


def test_the_same_photo_is_nearly_certain():
    a = rep("A", text="路灯不亮", photos=("ab" * 32,))
    b = rep("B", north_m=120, hours=30, text="晚上这一段很黑", photos=("ab" * 32,))
    m = D.score(a, b)
    assert m.score >= 0.95 and "照片相同" in m.reasons
    near = D.score(rep("A", phashes=("f0f0f0f0f0f0f0f0",)), rep("B", north_m=120, hours=30,
                                                                 phashes=("f0f0f0f0f0f0f0f1",)))
    assert near.score >= 0.9 and "照片相似" in near.reasons
    assert D.phash_bits("f0", "zz") == 64 and D.phash_bits("", "") == 64


def test_text_similarity_on_chinese_text():
    assert D.text_similarity("楼道灯不亮", "楼道灯不亮！") == 1.0  # punctuation and full-width forms ignored
    assert D.text_similarity("ＡＢＣ路灯", "abc路灯") == 1.0
    assert D.text_similarity("楼道灯坏了好几天", "三楼楼道灯坏了") > 0.5
    assert D.text_similarity("楼道灯坏了", "共享单车倒了一地") < 0.1
    assert D.text_similarity("", "路灯") == 0.0 and D.text_similarity("灯", "灯") == 1.0


def test_candidates_rank_best_first_above_the_threshold():
    new = rep("N", hours=2, text="小区门口垃圾堆了好几天没人管")
    close = rep("C", north_m=10, text="小区门口有垃圾，好几天没人管")
    farther = rep("F", north_m=65, text="路边有一堆垃圾")
    other = rep("O", code="07001", north_m=3, text="小区门口有垃圾")
    found = D.candidates(new, [farther, other, close, new], threshold=0.1)
    assert [r.key for r, _ in found][:2] == ["C", "F"] and "O" not in [r.key for r, _ in found]
    assert D.best(new, [farther, close]) is not None and D.best(new, [farther, close])[0].key == "C"
    assert D.best(new, [other]) is None
    assert D.candidates(new, [close, farther], threshold=0.1, limit=1)[0][0].key == "C"


def test_replay_counts_a_pointer_into_the_true_group_as_right():
    from cogov.insight import duplicates_cli as E

    labels = {"B": "A", "C": "A", "Y": "X"}
    groups = E.groups_of(labels)
    assert groups["C"] == groups["A"] == groups["B"] and groups["Y"] != groups["A"]
    reports = [rep("A", text="路边一堆垃圾"), rep("B", north_m=20, hours=1, text="路口垃圾没人管"),
               rep("C", north_m=30, hours=2, text="垃圾成堆"),
               rep("X", code="07001", north_m=5000, hours=1), rep("Y", code="07001", north_m=5000, hours=90),
               rep("N", north_m=10, hours=3, text="又一堆垃圾")]
    # A stays open; B is merged 30 minutes after it came; X is closed before Y comes (unreachable)
    states = {"A": [(T0, "reported")], "B": [(T0 + dt.timedelta(hours=1), "reported"),
                                             (T0 + dt.timedelta(hours=1.5), "merged")],
              "C": [(T0 + dt.timedelta(hours=2), "reported")], "N": [(T0 + dt.timedelta(hours=3), "reported")],
              "X": [(T0 + dt.timedelta(hours=1), "reported"), (T0 + dt.timedelta(hours=20), "closed")],
              "Y": [(T0 + dt.timedelta(hours=90), "reported")]}
    rows = {s.key: s for s in E.replay(reports, states, groups)}
    assert rows["B"].best_key == "A" and rows["C"].best_key == "A" and rows["N"].best_key in ("A", "C")
    assert rows["Y"].best_key is None and not rows["Y"].reachable and rows["C"].reachable
    m = E.metrics(list(rows.values()), labels, groups, D.THRESHOLD)
    assert (m["tp"], m["fp"], m["fn"], m["unreachable"]) == (2, 1, 0, 1)  # N is not a labelled duplicate
    assert m["precision"] == 2 / 3 and m["recall"] == 1.0
    early, late = E.split(list(rows.values()))
    assert {s.key for s in early} == {"A", "B", "C", "N", "X"} and {s.key for s in late} == {"Y"}


def picture(seed: int, side: int = 320, quality: int = 90) -> bytes:
    """A photo-like picture (blocks of random greys, smoothed), as JPEG bytes."""
    import io
    import random

    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    img = Image.new("L", (8, 8))
    img.putdata([rng.randrange(256) for _ in range(64)])
    img = img.resize((side, side), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_the_perceptual_hash_survives_recompression_and_resizing():
    original = D.perceptual_hash(picture(1))
    assert len(original) == 16 and int(original, 16) >= 0
    assert D.phash_bits(original, D.perceptual_hash(picture(1, side=200, quality=40))) <= D.PHASH_MAX_BITS
    assert D.phash_bits(original, D.perceptual_hash(picture(2))) > 3 * D.PHASH_MAX_BITS
    assert D.perceptual_hash(b"not a picture") == ""


def test_two_finds_of_one_patroller_are_not_offered():
    from dataclasses import replace

    a = rep("A", code="Q0301", text="楼道堆物 楼梯间放了电动车和杂物", source="head")
    b = rep("B", code="Q0301", north_m=10, hours=2, text="楼道堆物 楼道堆放装修材料", source="head")
    by_two = D.score(replace(a, patroller="person:7"), replace(b, patroller="person:8"))
    by_one = D.score(replace(a, patroller="person:7"), replace(b, patroller="person:7"))
    assert by_two.score >= D.THRESHOLD > by_one.score and "同一巡查人员上报" in by_one.reasons
    assert "同一巡查人员上报" not in by_two.reasons
    # a head's find reported again by a citizen is likelier the same stairwell than two heads' finds
    assert D.score(replace(a, patroller="person:7"), replace(b, source="citizen")).score > by_two.score
    assert D.patroller_of("head", 7) == "person:7" and D.patroller_of("inspector", 7) == "person:7"
    assert D.patroller_of("citizen", 7) == "" and D.patroller_of("head", None) == ""


def test_event_like_categories_need_a_closer_time():
    # a pile of rubbish two days later is still the same pile; a car parked there a day later is another car
    assert D.is_event_like("09009") and D.is_event_like("09006") and not D.is_event_like("06010")
    pile = D.score(rep("A", text="路边一堆垃圾"), rep("B", north_m=20, hours=48, text="路口垃圾没人管"))
    car = D.score(rep("A", code="09009", text="车停在人行道上"), rep("B", code="09009", north_m=20, hours=25,
                                                              text="有车堵路"))
    assert pile.score >= D.THRESHOLD and car.score == 0 and "流动性问题" in car.reasons[0]
    assert D.score(rep("A", code="09009"), rep("B", code="06010", north_m=20, hours=25)).reasons == ["类别不同"]
    soon = D.score(rep("A", code="09009"), rep("B", code="09009", north_m=20, hours=2))
    assert soon.score >= D.THRESHOLD and "流动性问题（车辆、摊点等）" in soon.reasons  # a second passer-by
    # two patrols finding a car at one spot within hours: mostly two cars (they report what they find)
    rounds = D.score(rep("A", code="09009", source="inspector"), rep("B", code="09009", north_m=20, hours=2,
                                                                       source="head"))
    assert rounds.score < D.THRESHOLD
    assert D.EVENT_LIKE.isdisjoint({"06010", "06042", "Q0301", "07001", "01037"})


def test_a_stairwell_problem_in_another_building_is_another_problem():
    from dataclasses import replace

    a = rep("A", code="Q0301", text="楼道堆物")
    b = rep("B", code="Q0301", north_m=25, hours=2, text="楼道里堆满杂物")
    one = D.score(replace(a, building=D.building_of({"building": 5}, "building")),
                  replace(b, building=D.building_of({"building": 5}, "building")))
    two = D.score(replace(a, building=D.building_of({"building": 5}, "building")),
                  replace(b, building=D.building_of({"building": 6}, "building")))
    assert one.score >= D.THRESHOLD > two.score and "不在同一栋楼" in two.reasons
    assert D.building_of({"building": 5}, "courtyard") == "" and D.building_of({}, "building") == ""


def test_a_courtyard_problem_in_another_courtyard_says_so():
    from dataclasses import replace

    a, b = rep("A", code="Q0304"), rep("B", code="Q0304", north_m=15, hours=1)
    two = D.score(replace(a, courtyard=D.courtyard_of({"courtyard": 3}, "courtyard")),
                  replace(b, courtyard=D.courtyard_of({"courtyard": 4}, "courtyard")))
    one = D.score(replace(a, courtyard="unit:3"), replace(b, courtyard="unit:3"))
    assert two.score < one.score and "不在同一楼院" in two.reasons and "不在同一楼院" not in one.reasons
    assert D.courtyard_of({"courtyard": 3}, "outside") == "" and D.courtyard_of({"courtyard": 3}, "building")


def test_close_in_place_and_time_it_is_offered_far_it_is_not():
    # the score falls with distance and time: tens of metres and hours apart it is offered, 100 m or a week not
    base = rep("A")
    by_metres = [D.score(base, rep("B", north_m=m, hours=3)).score for m in (10, 40, 60, 100, 150)]
    by_hours = [D.score(base, rep("B", north_m=20, hours=h)).score for h in (1, 12, 48, 96, 170)]  # 170 h > a week
    assert by_metres == sorted(by_metres, reverse=True) and by_hours == sorted(by_hours, reverse=True)
    assert min(by_metres[:3]) >= D.THRESHOLD > max(by_metres[3:])
    assert min(by_hours[:3]) >= D.THRESHOLD > by_hours[-1]


def test_candidates_are_scored_pairs_best_first_above_the_threshold():
    new = rep("N", hours=2)
    pool = [new, rep("F", north_m=150), rep("C", north_m=10), rep("D", north_m=60), rep("O", code="09009", north_m=5)]
    found = D.candidates(new, pool, threshold=0.0)
    assert [r.key for r, _m in found][:3] == ["C", "D", "F"] and "N" not in {r.key for r, _m in found}
    assert all(m.score == D.score(new, r).score for r, m in found)
    assert "O" not in {r.key for r, m in found if m.score > 0}  # another kind of problem
    high = D.candidates(new, pool)
    assert [r.key for r, _m in high] == [r.key for r, m in found if m.score >= D.THRESHOLD]


def test_the_shipped_model_names_every_feature_and_the_fit_learns_from_pairs():
    from cogov.insight import duplicates_cli as E

    assert set(D.WEIGHTS) == set(D.FEATURES) and len(D.MODEL.weights) == len(D.FEATURES)
    assert len(D.features(rep("A"), rep("B"), 10.0, 1.0, "same")) == len(D.FEATURES)
    assert 0 < D.THRESHOLD < 1
    # synthetic pairs: one problem when close (< 40 m), two problems when far; the fit must learn distance
    xs, ys = [], []
    for i in range(200):
        metres = 2.0 + i
        xs.append(D.features(rep("A"), rep("B"), metres, 3.0, "same"))
        ys.append(int(metres < 40))
    model = E.fit(xs, ys)
    near = D.score(rep("A"), rep("B", north_m=10, hours=3), model=model).score
    far = D.score(rep("A"), rep("B", north_m=150, hours=3), model=model).score
    assert near > 0.6 > 0.1 > far, (near, far)
