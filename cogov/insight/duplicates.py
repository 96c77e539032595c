"""Possible duplicates (疑似重复): is a new report the same problem as an open case?

Pure and Django-free: plain records in, a score and its reasons (in Chinese, for the station head) out. The
station console (``cogov.cases.selectors.case_duplicates_near``) and the evaluation
(``cogov insight duplicates --eval``) both call ``score``/``candidates``.

The score (0–1) is a logistic regression on what a station head looks at, fitted on a demo city's labelled
re-reports (``FEATURES``, ``WEIGHTS``), times a small text factor; a pair is offered from ``THRESHOLD``:

* **category** — the same code, or a related one (the same problem filed under a neighbouring category:
  暴露垃圾 / 垃圾箱满溢 / 门前垃圾 …, ``RELATED``); other categories are never duplicates; a related one counts
  less, and less the longer apart;
* **distance** — two pins of one problem are usually tens of metres apart (phones, people standing elsewhere);
  the score falls from about 50 m; beyond ``MAX_METRES`` it is another place;
* **time gap** — a standing problem (a pile, a dark lamp) stays until handled, so a second report days later can be
  the same; beyond ``MAX_DAYS`` it is not offered;
* **event-like categories** (``EVENT_LIKE``: parking, vending, barbecue, noise …) — an occurrence comes and goes:
  their time runs in hours, and beyond ``MAX_HOURS_EVENT`` it is another occurrence;
* **who reported** — citizens and hotline callers report what they pass by and call again when nothing happens;
  people on a round (``ORGANISED_SOURCES``: patrols, merchants' groups, volunteers) report what they find, mostly
  new problems; one patroller's two reports are two finds;
* **building, courtyard** — a building's own problem (楼道堆物, 楼道灯 …) pinned in two different buildings, a
  courtyard's in two courtyards (the units the city's index put the pins in), are two problems;
* **text** — cosine of character bigrams of the normalised text (NFKC, casefold, letters and digits only);
  the words differ between people, so text only adjusts the score (not fitted: the demo's stock sentences
  make text useless there);
* **photo** — the same bytes (SHA-256) or a perceptual hash within ``PHASH_MAX_BITS`` bits: the same picture
  forwarded by a second person, nearly certain.

The weights were fitted (``cogov insight duplicates --fit``) and ``THRESHOLD`` chosen on one demo city (seed 7)
and measured on others (seeds 2026 and 11): docs/insight.md, "重复案件 / Duplicates". Scoring a pair takes
4–13 µs (bigrams are cached per text).
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
#: Beyond this gap an event-like occurrence (a parked car, a stall, noise: ``EVENT_LIKE``) is another one (hours).
#: Set by judgement, not fitted: the tuning city has next to no citizens' reports of one occurrence a day apart.
MAX_HOURS_EVENT = 24.0
#: A perceptual hash (64 bits) this close counts as the same photo.
PHASH_MAX_BITS = 6
#: Offer a merge from this score on (the lowest with precision ≥ ``FIT_PRECISION`` on the seed-7 demo city).
THRESHOLD = 0.78
#: Text adjusts the score: factor TEXT_BASE + (1 - TEXT_BASE) × similarity (a tie-breaker, not fitted: see the docs).
TEXT_BASE = 0.95
#: Case sources that are patrols (三长巡查, 执法巡查).
PATROL_SOURCES = frozenset({"head", "inspector"})
#: Reporters on a round (patrols, merchants' self-discipline groups, volunteers): they report what they find, mostly
#: new problems; citizens and hotline callers report what they pass by, and call again when nothing happens.
ORGANISED_SOURCES = frozenset({"head", "inspector", "merchant_group", "volunteer"})

#: The features of a pair (``features``), what a station head looks at, each a number; the score is the logistic
#: of ``INTERCEPT`` + Σ weight × feature (times the text factor). Distance and time enter as piecewise-linear
#: curves (hinges at round knots, slopes fitted), the time separately for standing and event-like categories
#: (``EVENT_LIKE``): log-hours for standing problems, hours for event-like ones.
FEATURES = (
    "metres",  # distance / 100 m
    "metres_over_25",  # (distance − 25 m)+ / 100 m
    "metres_over_50",  # (distance − 50 m)+ / 100 m
    "metres_over_100",  # (distance − 100 m)+ / 100 m
    "log_hours_standing",  # log2(1 + hours) for a standing problem
    "log_hours_standing_over_1d",  # (log2(1 + hours) − log2(25))+ for a standing problem
    "log_hours_standing_over_3d",  # (log2(1 + hours) − log2(73))+ for a standing problem
    "event",  # 1 for an event-like category
    "hours_event",  # hours / 12 for an event-like category (linear: an occurrence is gone within hours)
    "hours_event_over_6h",  # (hours − 6)+ / 12 for an event-like category
    "hours_event_over_12h",  # (hours − 12)+ / 12 for an event-like category
    "related",  # 1 for a related (not the same) category
    "related_log_hours",  # log2(1 + hours) for a related category
    "other_building",  # 1: a building's problem pinned in two buildings
    "other_courtyard",  # 1: a courtyard's (or building's) problem pinned in two courtyards
    "same_patroller",  # 1: one patroller reported both
    "one_organised",  # 1: one of the two came from someone on a round (``ORGANISED_SOURCES``)
    "both_organised",  # 1: both came from people on rounds (two patrollers, a patroller and a volunteer …)
    "event_organised_reports",  # how many of the two came from someone on a round, for an event-like category
)
#: The regularisation of the fit (scikit-learn's C; 0.1 to 10 tried, fitting on one half of seed 7's year and
#: measuring on the other: all alike).
FIT_C = 1.0
#: ``--fit`` picks the lowest threshold with this precision on the tuning city: aiming at 0.95 on one half of seed
#: 7 gave 0.93–0.94 on the other half, aiming at 0.97 gave 0.96–0.98 (docs/insight.md).
FIT_PRECISION = 0.97
#: Fitted by ``cogov insight duplicates --fit --data DIR`` (scikit-learn logistic regression, L2, on the 1,267
#: candidate pairs — 573 of one problem — of the tuning demo city ``cogov demo --seed 7``, scale 1: 20,723 cases,
#: 493 labelled duplicates; see docs/insight.md). Refit only on a tuning city and paste its output here.
INTERCEPT = 5.3546
WEIGHTS: dict[str, float] = {
    "metres": -2.3507,
    "metres_over_25": -2.3313,
    "metres_over_50": -2.2957,
    "metres_over_100": -0.2884,
    "log_hours_standing": -0.1449,
    "log_hours_standing_over_1d": -0.9236,
    "log_hours_standing_over_3d": 0.1745,
    "event": 1.2170,
    "hours_event": -0.4445,
    "hours_event_over_6h": -0.4964,
    "hours_event_over_12h": -0.4071,
    "related": -0.2333,
    "related_log_hours": -0.7064,
    "other_building": -4.2595,
    "other_courtyard": -0.1466,
    "same_patroller": -2.8089,
    "one_organised": -1.2254,
    "both_organised": -3.0730,
    "event_organised_reports": -0.9111,
}

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
    courtyard: str = ""  # a courtyard's or building's problem: the courtyard (楼院) its pin fell in (``courtyard_of``)
    source: str = ""  # the case's source (citizen, hotline, head, inspector …); "" when unknown


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


def courtyard_of(units: dict | None, scope: str) -> str:
    """The ``Report.courtyard`` of a case: the courtyard (楼院) its pin fell in, for a problem inside a courtyard
    or a building (scope "courtyard" or "building"); street problems have none."""
    courtyard = (units or {}).get("courtyard") if scope in ("courtyard", "building") else None
    return f"unit:{courtyard}" if courtyard else ""


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


@dataclass(frozen=True)
class Model:
    """The logistic model of ``score``: an intercept and one weight per name of ``FEATURES``."""

    intercept: float
    weights: tuple[float, ...]

    @classmethod
    def of(cls, intercept: float, weights: dict[str, float]) -> Model:
        """The model of named weights (a name of ``FEATURES`` missing from ``weights`` weighs 0)."""
        return cls(float(intercept), tuple(float(weights.get(name, 0.0)) for name in FEATURES))


#: The shipped model (``INTERCEPT``, ``WEIGHTS``).
MODEL = Model.of(INTERCEPT, WEIGHTS)
_LOG2_1D, _LOG2_3D = math.log2(25), math.log2(73)


def features(a: Report, b: Report, metres: float, hours: float, relation: str) -> tuple[float, ...]:
    """The pair's values of ``FEATURES`` (symmetric in ``a`` and ``b``)."""
    t = math.log2(1.0 + hours)
    event = a.category in EVENT_LIKE or b.category in EVENT_LIKE
    related = relation != "same"
    organised = float((a.source in ORGANISED_SOURCES) + (b.source in ORGANISED_SOURCES))
    return (
        metres / 100, max(0.0, metres - 25) / 100, max(0.0, metres - 50) / 100, max(0.0, metres - 100) / 100,
        0.0 if event else t, 0.0 if event else max(0.0, t - _LOG2_1D), 0.0 if event else max(0.0, t - _LOG2_3D),
        float(event), hours / 12 if event else 0.0, max(0.0, hours - 6) / 12 if event else 0.0,
        max(0.0, hours - 12) / 12 if event else 0.0,
        float(related), t if related else 0.0,
        float(bool(a.building and b.building and a.building != b.building)),
        float(bool(a.courtyard and b.courtyard and a.courtyard != b.courtyard)),
        float(bool(a.patroller and a.patroller == b.patroller)),
        float(organised == 1), float(organised == 2), organised if event else 0.0,
    )


def pair_facts(a: Report, b: Report) -> tuple[str, float, float]:
    """Category relation, distance (m) and time gap (h) of a pair: what every rule starts from."""
    return (category_relation(a.category, b.category), distance_m(a.lon, a.lat, b.lon, b.lat),
            abs((b.reported_at - a.reported_at).total_seconds()) / 3600)


def out_of_reach(a: Report, b: Report, metres: float, hours: float) -> str:
    """Why the pair is too far apart in place or time to be one problem ("" when it is not): beyond ``MAX_METRES``,
    ``MAX_DAYS``, or ``MAX_HOURS_EVENT`` for an event-like category."""
    if metres > MAX_METRES:
        return f"相距 {metres:.0f} 米"
    if hours > MAX_DAYS * 24:
        return f"相隔 {hours / 24:.0f} 天"
    if hours > MAX_HOURS_EVENT and (a.category in EVENT_LIKE or b.category in EVENT_LIKE):
        return f"相隔 {_gap_text(hours)[3:]}（流动性问题，已是另一次）"
    return ""


def score(a: Report, b: Report, *, model: Model | None = None) -> Match:
    """How likely ``b`` reports the same problem as ``a`` (symmetric), with the reasons a head reads.

    ``model``: other weights (refitting); default the shipped ones.
    """
    relation, metres, hours = pair_facts(a, b)
    if not relation:
        return Match(0.0, ["类别不同"], metres)
    beyond = out_of_reach(a, b, metres, hours)
    if beyond:
        return Match(0.0, [beyond], metres)
    m = model or MODEL
    z = m.intercept + sum(w * x for w, x in zip(m.weights, features(a, b, metres, hours, relation)))
    text = text_similarity(a.text, b.text)
    value = (1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0) * (TEXT_BASE + (1 - TEXT_BASE) * text)
    reasons = [f"相距 {metres:.0f} 米", "同类" if relation == "same" else "相关类别", _gap_text(hours),
               f"文字相似 {text:.2f}"]
    if a.category in EVENT_LIKE or b.category in EVENT_LIKE:
        reasons.append("流动性问题（车辆、摊点等）")
    if a.building and b.building and a.building != b.building:
        reasons.append("不在同一栋楼")
    elif a.courtyard and b.courtyard and a.courtyard != b.courtyard:
        reasons.append("不在同一楼院")
    if a.patroller and a.patroller == b.patroller:
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
               *, limit: int | None = None, model: Model | None = None) -> list[tuple[Report, Match]]:
    """The open cases ``new`` may duplicate, best first, only those scoring at least ``threshold``."""
    out = []
    for other in open_cases:
        if other.key == new.key:
            continue
        m = score(new, other, model=model)
        if m.score >= threshold:
            out.append((other, m))
    out.sort(key=lambda om: (-om[1].score, om[1].metres, om[0].reported_at))
    return out[:limit] if limit is not None else out


def best(new: Report, open_cases: Sequence[Report], threshold: float = THRESHOLD) -> tuple[Report, Match] | None:
    """The best candidate at or above ``threshold`` (None: not a duplicate)."""
    found = candidates(new, open_cases, threshold, limit=1)
    return found[0] if found else None
