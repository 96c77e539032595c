"""Possible duplicates (疑似重复): is a new report the same problem as an open case?

Pure and Django-free: plain records in, a score and its reasons (in Chinese, for the station head) out. The
station console (``cogov.cases.selectors.case_duplicates_near``) and the evaluation
(``cogov insight duplicates --eval``) both call ``score``/``candidates``.

The score (0–1) is the product of what a station head looks at — place, time, text, category — so that a
report is offered only when the place *and* the time agree:

* **category** — the same code, or a related one (the same problem filed under a neighbouring category:
  暴露垃圾 / 垃圾箱满溢 / 门前垃圾 …, ``RELATED``); other categories are never duplicates;
* **distance** — two pins of one problem are usually tens of metres apart (phones, people standing elsewhere);
  beyond ``MAX_METRES`` it is another place;
* **time gap** — a second report comes within hours, rarely after days; beyond ``MAX_DAYS`` it is not offered;
* **text** — cosine of character bigrams of the normalised text (NFKC, casefold, letters and digits only);
  the words differ between people, so text only adjusts the score;
* **building** — a building's own problem (楼道堆物, 楼道灯 …) pinned in two different buildings (the unit the
  city's index put the pins in) is two problems: the score keeps ``OTHER_BUILDING_FACTOR``;
* **event-like categories** (``EVENT_LIKE``: parking, vending, barbecue, noise …) — a new occurrence at the
  same place is normal, so their time scale is hours (``SCALE_HOURS_EVENT``) and they keep ``EVENT_FACTOR``;
* **photo** — the same bytes (SHA-256) or a perceptual hash within ``PHASH_MAX_BITS`` bits: the same picture
  forwarded by a second person, nearly certain.

The scales, the related-category factor and ``THRESHOLD`` were chosen by a grid search on one demo city
(seed 7) and measured on others (seed 2026): docs/insight.md, "重复案件 / Duplicates". The text weight was set
by judgement (the demo's stock sentences make text useless there). Scoring a pair takes 10–40 µs (bigrams are
cached per text).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

#: Mean Earth radius (metres) of the haversine distance.
EARTH_RADIUS_M = 6_371_008.8
#: Beyond this distance two reports are not the same problem (metres).
MAX_METRES = 200.0
#: Beyond this gap a later report is not offered as a duplicate (days).
MAX_DAYS = 7.0
#: A perceptual hash (64 bits) this close counts as the same photo.
PHASH_MAX_BITS = 6
#: Offer a merge from this score on (chosen on the seed-7 demo city, see docs/insight.md).
THRESHOLD = 0.55

#: Place and time must both agree: each gives a factor that stays near 1 up to about half its scale, is 1/2 at
#: the scale and falls steeply beyond (a log-logistic curve, 1 / (1 + (x / scale) ** steepness)).
SCALE_METRES, STEEP_METRES = 60.0, 6.0
SCALE_HOURS, STEEP_HOURS = 72.0, 4.0
#: Event-like categories (see ``EVENT_LIKE``): a separate occurrence at one place is normal, so only a report
#: within hours is the same occurrence; their time scale is shorter and they keep ``EVENT_FACTOR`` of the score.
SCALE_HOURS_EVENT, EVENT_FACTOR = 12.0, 1.0
#: Text adjusts the score: factor TEXT_BASE + (1 - TEXT_BASE) × similarity (a tie-breaker, see the docs).
TEXT_BASE = 0.95
#: A related (not the same) category keeps this share of the score.
RELATED_FACTOR = 0.55
#: Two reports by the same patroller are mostly two finds (two stairwells, two piles): this share of the score.
SAME_PATROLLER_FACTOR = 0.5
#: Two pins in two different buildings (楼栋) are two stairwells, two problems: this share of the score.
OTHER_BUILDING_FACTOR = 0.25
#: Case sources that are patrols (三长巡查, 执法巡查).
PATROL_SOURCES = frozenset({"head", "inspector"})

#: Categories people use for one and the same problem (national GB/T 47678.5 matters and the city's Q codes).
RELATED: tuple[frozenset[str], ...] = tuple(frozenset(g) for g in (
    {"06010", "06042", "Q0304", "Q0101", "06017", "06012"},  # garbage
    {"07001", "Q0201", "Q0103"},  # small ads, posters
    {"06036", "Q0102", "Q0205", "Q0301"},  # clutter
    {"09009", "Q0105", "09012"},  # cars parked where they should not
    {"09010", "09011"},  # bicycles and e-bikes
    {"09006", "09005", "09001"},  # street trading
    {"06001", "Q0204"},  # illegal building
    {"06013", "Q0203"},  # road surface
    {"01001", "01003", "01005", "01007", "01010", "01011"},  # manhole covers
    {"06007", "Q0104"},  # washing hung out
    {"06029", "06027"},  # barbecue smoke, kitchen fumes
))
#: Event-like categories (GB/T 47678.5 and the city's Q codes): a car parked, a stall, a barbecue, noise — an
#: occurrence that comes and goes, so two reports at one place days (or many hours) apart are usually two
#: occurrences. Every other category is *standing*: a pile, a broken cover, a dark lamp stays until handled, so a
#: second report of it at the same spot while the first is open is the same problem (docs/insight.md).
EVENT_LIKE = frozenset({
    "09009", "Q0105", "09012",  # 机动车乱停放, 门前车辆乱停, 占用消防通道
    "09010", "09011",  # 非机动车乱停放, 共享单车乱象
    "09006", "09005", "09001",  # 占道经营, 店外经营, 无照经营游商
    "06029", "06027", "06028",  # 露天烧烤, 油烟污染, 噪声扰民
    "06030",  # 乱倒乱排污水
})
_GROUP_OF = {code: i for i, group in enumerate(RELATED) for code in group}


def is_event_like(code: str) -> bool:
    """A category whose problem is an occurrence (parking, vending, noise …), not a standing thing."""
    return code in EVENT_LIKE


@dataclass(frozen=True)
class Report:
    """What the scorer knows of a case: plain values only."""

    key: str  # the case number (or any id)
    category: str  # category code
    lon: float
    lat: float
    reported_at: dt.datetime
    text: str = ""  # title and description
    photos: tuple[str, ...] = ()  # SHA-256 of the photos' bytes
    phashes: tuple[str, ...] = ()  # perceptual hashes (16 hex digits)
    patroller: str = ""  # who reported it on patrol (三长巡查、执法巡查); empty for citizens and the hotline
    building: str = ""  # a building's own problem (楼道…): the building (楼栋) its pin fell in (``building_of``)


@dataclass(frozen=True)
class Match:
    """How much ``b`` looks like the same problem as ``a`` (0–1), and why (Chinese, for the page)."""

    score: float
    reasons: list[str] = field(default_factory=list)
    metres: float = 0.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def patroller_of(source: str, person_id: int | None) -> str:
    """The ``Report.patroller`` of a case: its reporter's id when it came from a patrol (head or inspector)."""
    return f"person:{person_id}" if source in PATROL_SOURCES and person_id else ""


def building_of(units: dict | None, scope: str) -> str:
    """The ``Report.building`` of a case from its located units (``Case.units``: {kind: unit id}) and its
    category's scope: only a building's own problems (楼道堆物, 楼道灯, 飞线充电 … scope "building") have one —
    a pile in a courtyard may be pinned on either building beside it."""
    building = (units or {}).get("building") if scope == "building" else None
    return f"unit:{building}" if building else ""


def category_relation(a: str, b: str) -> str:
    """'same', 'related' or '' (never duplicates)."""
    if a == b:
        return "same"
    ga, gb = _GROUP_OF.get(a), _GROUP_OF.get(b)
    return "related" if ga is not None and ga == gb else ""


def related_categories(code: str) -> frozenset[str]:
    """The codes a report of ``code`` may duplicate (itself included)."""
    group = _GROUP_OF.get(code)
    return RELATED[group] if group is not None else frozenset({code})


_KEEP = re.compile(r"[\w]", re.UNICODE)


def normalise(text: str) -> str:
    """NFKC, casefold, letters and digits only (punctuation and spaces carry no meaning here)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text or "").casefold() if _KEEP.match(ch) and ch != "_")


@lru_cache(maxsize=65_536)
def _grams(text: str) -> tuple[Counter, float]:
    s = normalise(text)
    grams = Counter(s[i:i + 2] for i in range(len(s) - 1)) if len(s) > 1 else Counter(s)
    return grams, math.sqrt(sum(v * v for v in grams.values()))


def text_similarity(a: str, b: str) -> float:
    """Cosine of the character-bigram counts of two texts (0–1; 0 when either is empty)."""
    ga, na = _grams(a)
    gb, nb = _grams(b)
    if not na or not nb:
        return 0.0
    if len(ga) > len(gb):
        ga, gb = gb, ga
    return sum(v * gb[k] for k, v in ga.items() if k in gb) / (na * nb)


def phash_bits(a: str, b: str) -> int:
    """Hamming distance of two hex perceptual hashes (64 when they cannot be compared)."""
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count() if a and b and len(a) == len(b) else 64
    except ValueError:
        return 64


def perceptual_hash(image: bytes) -> str:
    """The 64-bit pHash of a picture (JPEG/PNG/WebP bytes) as 16 hex digits; "" when it cannot be read.

    Computed on the stored thumbnail: pHash looks at a 32 × 32 grey image anyway, and a re-compressed or
    resized copy of the same photo stays within ``PHASH_MAX_BITS`` bits. Pillow and imagehash are imported here
    only, so that scoring stays light.
    """
    import io

    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as img:
            return str(imagehash.phash(img))
    except (UnidentifiedImageError, OSError, ValueError):
        return ""


def score(a: Report, b: Report) -> Match:
    """How likely ``b`` reports the same problem as ``a`` (symmetric), with the reasons a head reads."""
    relation = category_relation(a.category, b.category)
    metres = distance_m(a.lon, a.lat, b.lon, b.lat)
    if not relation:
        return Match(0.0, ["类别不同"], metres)
    hours = abs((b.reported_at - a.reported_at).total_seconds()) / 3600
    if metres > MAX_METRES or hours > MAX_DAYS * 24:
        return Match(0.0, [f"相距 {metres:.0f} 米" if metres > MAX_METRES else f"相隔 {hours / 24:.0f} 天"], metres)
    near = 1.0 / (1.0 + (metres / SCALE_METRES) ** STEEP_METRES)
    event = a.category in EVENT_LIKE or b.category in EVENT_LIKE
    soon = 1.0 / (1.0 + (hours / (SCALE_HOURS_EVENT if event else SCALE_HOURS)) ** STEEP_HOURS)
    text = text_similarity(a.text, b.text)
    value = near * soon * (TEXT_BASE + (1 - TEXT_BASE) * text) * (1.0 if relation == "same" else RELATED_FACTOR)
    value *= EVENT_FACTOR if event else 1.0
    reasons = [f"相距 {metres:.0f} 米", "同类" if relation == "same" else "相关类别", _gap_text(hours),
               f"文字相似 {text:.2f}"]
    if a.building and b.building and a.building != b.building:
        value *= OTHER_BUILDING_FACTOR
        reasons.append("不在同一栋楼")
    if a.patroller and a.patroller == b.patroller:
        value *= SAME_PATROLLER_FACTOR
        reasons.append("同一巡查人员上报")
    if set(a.photos) & set(b.photos):
        value = max(value, 0.97)
        reasons.append("照片相同")
    elif any(phash_bits(x, y) <= PHASH_MAX_BITS for x in a.phashes for y in b.phashes):
        value = max(value, 0.9)
        reasons.append("照片相似")
    return Match(round(min(1.0, value), 4), reasons, metres)


def _gap_text(hours: float) -> str:
    if hours < 1:
        return f"相隔 {max(1, round(hours * 60))} 分钟"
    if hours < 48:
        return f"相隔 {hours:.0f} 小时"
    return f"相隔 {hours / 24:.0f} 天"


def candidates(new: Report, open_cases: Iterable[Report], threshold: float = THRESHOLD,
               *, limit: int | None = None) -> list[tuple[Report, Match]]:
    """The open cases ``new`` may duplicate, best first, only those scoring at least ``threshold``."""
    out = []
    for other in open_cases:
        if other.key == new.key:
            continue
        m = score(new, other)
        if m.score >= threshold:
            out.append((other, m))
    out.sort(key=lambda om: (-om[1].score, om[1].metres, om[0].reported_at))
    return out[:limit] if limit is not None else out


def best(new: Report, open_cases: Sequence[Report], threshold: float = THRESHOLD) -> tuple[Report, Match] | None:
    """The best candidate at or above ``threshold`` (None: not a duplicate)."""
    found = candidates(new, open_cases, threshold, limit=1)
    return found[0] if found else None
