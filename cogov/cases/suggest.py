"""Category suggestions (类别推荐): which categories a citizen's description most likely means.

Pure Python. ``suggest(text, categories)`` matches the text (NFKC, casefolded) against each category's words:
its name and the parts of its name (split at 、·（）/ and without the generic endings 异常/问题), the words the
bureau keeps on the category (``keywords``), the duty keywords of the catalogue (``catalog.DUTY_KEYWORDS``)
that occur in its name, and a short table of the everyday phrases citizens write (``PHRASES``: 没人清理 →
暴露垃圾 …). Longer matched words weigh more; a category whose name the match covers more fully comes first;
a matter (事项, what people report) before a component (部件) at equal score.

The analytics work may later answer the same call with a trained model; the signature stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cogov.cases.catalog import DUTY_KEYWORDS
from cogov.intake.text import search_form

#: Everyday phrases → words of the category names they point at (matched as name substrings).
PHRASES: dict[str, tuple[str, ...]] = {
    "没人清理": ("暴露垃圾", "道路不洁", "积存垃圾"),
    "没人管": ("暴露垃圾",),
    "很多垃圾": ("暴露垃圾", "积存垃圾"),
    "一堆垃圾": ("暴露垃圾", "积存垃圾"),
    "乱扔": ("暴露垃圾",),
    "脏": ("道路不洁",),
    "臭": ("暴露垃圾", "垃圾站"),
    "满了": ("满溢",),
    "溢出": ("满溢",),
    "不亮": ("路灯", "楼道灯"),
    "灯坏": ("路灯", "楼道灯"),
    "黑灯": ("路灯",),
    "井盖": ("井盖",),
    "坑": ("路面",),
    "塌": ("下沉",),
    "漏水": ("漏水",),
    "冒水": ("供水",),
    "乱停": ("乱停车", "停车"),
    "占道": ("占道",),
    "摆摊": ("占道",),
    "噪音": ("噪声",),
    "吵": ("噪声",),
    "贴广告": ("小广告",),
    "牛皮癣": ("小广告",),
    "充电": ("飞线充电",),
    "电线": ("飞线",),
    "堆": ("堆物", "乱堆"),
    "倒了": ("倒伏",),
    "树枝": ("树",),
}
#: Name endings that say nothing about the problem itself.
GENERIC_ENDINGS = ("异常", "问题", "设施")
_SPLIT = re.compile(r"[、·，,/（）()\s]+")


class CategoryLike(Protocol):
    """What ``suggest`` reads of a category (a model row or a ``CategoryText``)."""

    id: int
    name: str


@dataclass(frozen=True)
class CategoryText:
    """A category as plain values (tests, and callers without model rows)."""

    id: int
    name: str
    keywords: str = ""
    kind: str = "matter"


@dataclass(frozen=True)
class Suggestion:
    """推荐 — a category, how strongly the text points at it, and the words that matched."""

    category_id: int
    score: float
    words: tuple[str, ...]


@lru_cache(maxsize=4096)
def category_words(name: str, keywords: str = "") -> dict[str, float]:
    """The words of a category and their weights (the longer, the more telling)."""
    words: dict[str, float] = {}
    folded = search_form(name)

    def add(word: str, weight: float) -> None:
        word = search_form(word)
        if len(word) >= 1 and weight > words.get(word, 0):
            words[word] = weight

    add(folded, len(folded) + 1.0)
    for part in _SPLIT.split(folded):
        for ending in GENERIC_ENDINGS:
            if part.endswith(ending) and len(part) > len(ending) + 1:
                part = part[: -len(ending)]
        if len(part) >= 2:
            add(part, float(len(part)))
    for word in keywords.split():
        if len(word) >= 2:
            add(word, float(len(word)))
    for word, _duty in DUTY_KEYWORDS:
        if word in folded:
            add(word, float(len(word)))
    return words


def _kind_of(category: object) -> str:
    return str(getattr(category, "kind", "matter") or "matter")


def suggest(text: str, categories: Iterable[CategoryLike], *, limit: int = 3) -> list[Suggestion]:
    """The ``limit`` categories the text most likely means, best first (empty when nothing matches)."""
    folded = search_form(text or "")
    if not folded:
        return []
    phrase_targets = [(phrase, targets) for phrase, targets in PHRASES.items() if phrase in folded]
    ranked: list[tuple[float, float, int, int, Suggestion]] = []
    for category in categories:
        name = search_form(category.name)
        words = category_words(category.name, str(getattr(category, "keywords", "") or ""))
        matched = {w: weight for w, weight in words.items() if w in folded}
        for phrase, targets in phrase_targets:
            hits = [i for i, t in enumerate(targets) if t in name]
            if hits:  # the first target a phrase names is its likeliest meaning
                matched.setdefault(phrase, float(len(phrase)) + (1.0 if hits[0] == 0 else 0.5))
        if not matched:
            continue
        # a short word inside a longer matched word adds nothing (垃圾 within 暴露垃圾)
        kept = {w: v for w, v in matched.items() if not any(w != o and w in o for o in matched)}
        score = sum(kept.values())
        covered = sum(len(w) for w in kept if w in name)
        coverage = min(1.0, covered / max(1, len(name)))
        matter = 1 if _kind_of(category) == "matter" else 0
        total = round(score + coverage + 0.25 * matter, 4)
        ranked.append((-total, -coverage, -matter, int(category.id),
                       Suggestion(category_id=int(category.id), score=total,
                                  words=tuple(sorted(kept, key=lambda w: (-len(w), w))))))
    ranked.sort(key=lambda r: r[:4])
    return [r[4] for r in ranked[:limit]]
