"""Category suggestions from what citizens write, over the categories the platform ships (no database)."""

from __future__ import annotations

import pytest

from cogov.cases import catalog
from cogov.cases.suggest import CategoryText, Suggestion, category_words, suggest

SPECS = catalog.national() + catalog.city_extension()
CATEGORIES = [CategoryText(id=i, name=s.name, keywords=s.keywords, kind=s.kind) for i, s in enumerate(SPECS)]


def names(text: str, **kw) -> list[str]:
    return [SPECS[s.category_id].name for s in suggest(text, CATEGORIES, **kw)]


@pytest.mark.parametrize("text, expected", [
    ("路边有很多垃圾没人清理", "暴露垃圾"),
    ("电动车飞线充电，很危险", "飞线充电"),
    ("路面塌陷有个大坑", "路面下沉"),
    ("楼道里堆了很多杂物", "楼道堆物"),
    ("有人在路边摆摊占道经营", "占道经营"),
    ("墙上贴满了小广告", "小广告"),
])
def test_the_likeliest_category_comes_first(text, expected):
    assert names(text)[0] == expected


def test_at_most_three_with_scores_best_first_and_the_words_that_matched():
    found = suggest("小区门口路灯不亮了", CATEGORIES)
    assert 1 <= len(found) <= 3
    assert all(isinstance(s, Suggestion) for s in found)
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert all("路灯" in SPECS[s.category_id].name for s in found)
    assert "路灯" in found[0].words


def test_full_width_text_is_matched_like_half_width():
    assert names("ｘ 垃圾箱满了") == names("x 垃圾箱满了")


def test_nothing_matches_nothing():
    assert suggest("", CATEGORIES) == []
    assert suggest("   ", CATEGORIES) == []
    assert suggest("hello world", CATEGORIES) == []


def test_limit_and_the_bureaus_keywords_count():
    cats = [CategoryText(1, "占道经营"), CategoryText(2, "某某事项", keywords="夜市 烧烤摊")]
    assert [s.category_id for s in suggest("楼下烧烤摊太吵", cats)] == [2]
    assert len(suggest("占道经营 烧烤摊", cats, limit=1)) == 1


def test_a_matter_is_preferred_to_its_component_at_equal_match():
    cats = [CategoryText(1, "垃圾箱", kind="component"), CategoryText(2, "垃圾箱", kind="matter")]
    assert [s.category_id for s in suggest("垃圾箱坏了", cats)] == [2, 1]


def test_category_words_take_name_parts_and_duty_keywords():
    words = category_words("焚烧垃圾、树叶")
    assert "焚烧垃圾" in words and "树叶" in words and "垃圾" in words
    assert "异常" not in category_words("路灯异常")
