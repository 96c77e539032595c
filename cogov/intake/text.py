"""Citizen text (市民文字): normalise what people type, and spot links and spam before anything is shown.

Pure Python (stdlib only), like the other rule modules. Three functions:

- ``normalize`` — the form a text field is *stored* in: NFKC (full-width → half-width …, but Chinese
  punctuation stays as typed), control and format characters removed (zero-width, bidi overrides …), runs
  of spaces collapsed, a length limit checked after normalising. Escaping on output is the templates' and
  JSON's job; this only cleans.
- ``search_form`` — NFKC + casefold, for search and de-duplication (never for display).
- ``spam_reasons`` — why a public text should be held for moderation (待审核): links (also obfuscated ones,
  ``ｗｗｗ．８８８８．ｃｏｍ``, ``abc 点 com``), contact solicitations (加微信, 加V, QQ号 + digits) and the
  vocabulary of gambling, porn, loan and illegal-advert spam. Empty list = nothing found.

The word lists are data at the top of this module. A term is *strong* when it is promotional — it hardly
ever occurs in a genuine report (百家乐, 真人荷官, 注册送, 首充 …): one is enough. A *vice* word is one
citizens use to *report* the very problem (地下赌场, 网贷催收, 楼下棋牌室吵闹, 卖六合彩, 税务局代开发票): it
only counts when two of them come together with a third vice or money word (官网, 充值, 提现 …). A phone number alone is contact data, not spam; so is an
e-mail address (its domain is not treated as a link). A bare ``www`` is net slang for laughter (like "lol")
and is not a link; ``www.`` or ``www 8888 com`` is.
"""

from __future__ import annotations

import re
import unicodedata

from cogov.errors import DomainError

#: Characters ``normalize`` keeps although NFKC would change them: the full-width punctuation of Chinese
#: writing (NFKC makes ，：！？（） ASCII and …… six dots), ￥ and units. Search and spam checks fold them too.
DISPLAY_KEPT = "，：；！？（）～…￥㎡²³"

#: Top-level domains that make ``label.tld`` a link. Generic ones and those favoured by spam sites.
TLDS = (
    "com", "cn", "net", "org", "top", "vip", "xyz", "cc", "co", "io", "me", "tv", "hk", "tw", "mo", "info",
    "biz", "club", "site", "online", "app", "shop", "store", "win", "bet", "ink", "fun", "live", "pro",
    "tk", "ml", "ga", "gq", "cf", "pw", "ws", "asia", "wang", "icu", "work", "link", "xin", "red",
    "kim", "mobi", "tech", "vin", "cyou", "buzz", "sbs", "casino", "games", "bingo", "poker",
)

#: What spammers write instead of a dot.
DOT_SUBSTITUTES = ("。", "·", "•", "∙", "・", "丶", "点", "(.)", "[.]", "(点)", "[点]", "(dot)", "[dot]", "dot")

#: Contact solicitations (招揽联系). Citizens tell stories with 微信 and QQ ("卖家加我微信后态度冷淡"), so those
#: count only as an imperative (请加微信, 详情加QQ) or with an id; spammers' spellings (加V, 薇信, vx) always count.
MESSENGERS_PLAIN = ("微信", "qq")
MESSENGERS_DISGUISED = ("威信", "薇信", "徽信", "维信", "v信", "vx", "wx", "v", "q", "扣扣", "企鹅")
#: Words before 加微信 that make it an invitation, and words after it.
INVITE_BEFORE = ("请", "欢迎", "详情", "咨询", "速", "赶快", "赶紧", "快", "有意", "需要的", "私聊", "联系", "可")
INVITE_AFTER = ("咨询", "了解", "领取", "免费", "详谈", "详聊", "私聊", "进群", "入群", "备注", "领", "送")
#: Names of a messenger account that, followed by an id, are an advertised contact (QQ号 123456, vx: abc888).
HANDLES_MARKED = ("微信号", "微信", "qq号", "qq", "企鹅号")
HANDLES_DIRECT = ("qq", "扣扣", "q群", "qq群", "群号", "vx", "wx", "v信", "威信", "薇信", "徽信", "维信",
                  "飞机号", "tg号", "telegram", "纸飞机")

#: Promotional spam: one of these is enough. Regular expressions over the *squeezed* text (NFKC, casefolded,
#: only letters and digits left), so ``百 家*乐`` still reads ``百家乐``.
STRONG_TERMS: dict[str, tuple[str, ...]] = {
    "博彩": (
        "博彩", "菠菜网", "百家乐", "时时彩", "北京赛车", "幸运飞艇", "彩票平台", "购彩平台", "线上赌场",
        "网上赌场", "在线赌场", "真人荷官", "真人视讯", "棋牌平台", "棋牌游戏", "在线棋牌", "网上棋牌",
        "棋牌app", "体育投注", "足球投注", "投注平台", "下注平台", "洗码", "打码量", "体验金",
        "注册(?:就|即)?送(?!审|达|交|检|件)", "首充", "首存", "新葡京", "葡京娱乐", "威尼斯人娱乐", "金沙娱乐",
        "永利娱乐", "银河娱乐", "太阳城集团", "开云体育", "乐鱼体育", "华体会", "亚博体育", "九游会",
        "爱游戏体育", "米乐体育", "半岛体育", "必威体育", "沙巴体育", "bet365", "kaiyun", "pg电子", "ag真人",
        "bbin",
    ),
    "色情": (
        "裸聊", "约炮", "一夜情", "楼凤", "外围女", "同城约会", "成人视频", "色情直播", "激情视频",
        "小姐上门", "莞式", "av女优", "援交(?:妹|女|少女|服务)",
    ),
    "网贷": (
        "无抵押贷款", "秒下款", "贷款秒(?:批|到)", "黑户(?:贷款|可贷)", "无视征信", "不看征信", "征信花",
        "(?:网贷|贷款)口子", "(?:信用卡|花呗|白条)套现",
    ),
    "违法广告": (
        r"代开(?:各类|各种|正规|增值税)\w{0,4}发票", "专业代开", "(?:各类|各种)?发票代开", "办证刻章",
        "刻章办证", "代孕", "出售枪支", "刷单返利", "兼职刷单", "刷单兼职",
    ),
}

#: Words citizens also use to *report* a problem (地下赌场, 网贷催收, 楼下棋牌室, 卖六合彩, 针孔摄像头):
#: alone they mean nothing; a vice word together with others (vice or money) reads like an advert.
VICE_TERMS = (
    "赌场", "赌城", "赌球", "网赌", "六合彩", "彩票", "棋牌", "娱乐城", "投注", "下注", "电子游艺", "彩金",
    "网贷", "小额贷款", "低息贷款", "上门服务", "特殊服务", "全套服务", "同城交友", "赌博网站", "黄色网站",
    "刷单", "办假证", "代开发票", "迷药", "窃听器", "针孔摄像", "私家侦探", "卖肾", "菠菜",
)
MONEY_TERMS = ("官网", "注册", "充值", "提现", "秒到", "日赚", "返利", "佣金", "优惠", "红包", "代理", "下载")
#: A text with this many different vice words, and this many vice and money words together, is held.
VICE_TERMS_NEEDED = 2
WEAK_TERMS_NEEDED = 3

#: Places and brands that, next to 娱乐/赌场 …, are casino adverts (澳门葡京娱乐场 …).
CASINO_PLACES = ("澳门", "葡京", "威尼斯人")
CASINO_WORDS = ("娱乐", "赌场", "赌城", "博彩", "真人", "棋牌", "线上", "官网", "网投")

_DROP_CATEGORIES = {"Cc", "Cf", "Cs"}
_SPACE_RE = re.compile(r"[^\S\n]+")
_WHITESPACE_RE = re.compile(r"\s+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")

_tld = "|".join(sorted(TLDS, key=len, reverse=True))
_dot = "|".join(re.escape(d) for d in sorted(DOT_SUBSTITUTES, key=len, reverse=True))
_sep = rf"\s*(?:\.|{_dot})\s*"
_LINK_RES = (
    re.compile(r"(?:https?|ftp)\s*[:：]\s*[/\\]\s*[/\\][^\s<>\"'，。、）)]*"),
    re.compile(rf"(?<![a-z0-9])www{_sep}[a-z0-9][a-z0-9.-]*"),
    re.compile(rf"(?<![a-z0-9])www\s+[a-z0-9-]+\s+(?:{_tld})(?![a-z0-9])"),
    # label(.label)*.tld — not the domain of an e-mail address (preceded by @ somewhere in the same token)
    re.compile(rf"(?<![a-z0-9@._-])[a-z0-9][a-z0-9-]{{0,62}}(?:{_sep}[a-z0-9-]{{1,63}}){{0,4}}{_sep}"
               rf"(?:{_tld})(?![a-z0-9])"),
)
_EMAIL_RE = re.compile(r"[a-z0-9._%+-]+\s*@\s*[a-z0-9-]+(?:\s*\.\s*[a-z0-9-]+)+")

def _alt(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_ID = r"(?:[a-z][a-z0-9_-]{4,19}|\d{5,11})(?![\d-])"
_ADD = r"(?<![增参附追叠添更])加\s*(?:个|我)?\s*"
_CONTACT_RES = (
    # 加V / 加薇信 / 加个vx — not 参加VIP, 增加VR, 加微信群 (a neighbourhood group)
    re.compile(rf"{_ADD}(?:{_alt(MESSENGERS_DISGUISED)})(?![a-z群])"),
    re.compile(rf"[+＋]\s*(?:{_alt(MESSENGERS_DISGUISED + MESSENGERS_PLAIN)})(?![a-z])"),
    # 请加微信 / 详情加QQ / 加微信领取 / 加微信: abc123 — not 卖家加我微信后…
    re.compile(rf"(?:{_alt(INVITE_BEFORE)})\s*{_ADD}(?:{_alt(MESSENGERS_PLAIN)})(?![a-z群])"),
    re.compile(rf"{_ADD}(?:{_alt(MESSENGERS_PLAIN)})\s*(?:号码|号)?\s*(?:[:：]\s*|(?:{_alt(INVITE_AFTER)}))"),
    # QQ号：123456 / 微信号 abc123 / vx abc888 — an advertised id
    re.compile(rf"(?<![a-z])(?:{_alt(HANDLES_MARKED)})\s*(?:号码|号|是|为|[:：])\s*[:：]?\s*{_ID}"),
    re.compile(rf"(?<![a-z])(?:{_alt(HANDLES_DIRECT)})\s*[:：]?\s*{_ID}"),
)
_STRONG_RES = {kind: tuple(re.compile(p) for p in patterns) for kind, patterns in STRONG_TERMS.items()}
_CASINO_RE = re.compile(
    rf"(?:{'|'.join(CASINO_PLACES)})[^。！？!?,，;；\n]{{0,4}}?(?:{'|'.join(CASINO_WORDS)})"
)


def _nfkc(text: str, keep: str) -> str:
    """NFKC, except the characters in ``keep`` (standalone punctuation: splitting there changes nothing else)."""
    if not keep or not any(ch in keep for ch in text):
        return unicodedata.normalize("NFKC", text)
    return "".join(part if part in keep else unicodedata.normalize("NFKC", part)
                   for part in re.split(f"([{re.escape(keep)}])", text))


def _clean(text: str, *, multiline: bool, keep: str = "") -> str:
    """NFKC (but ``keep``), control/format characters out, line breaks unified, spaces collapsed."""
    text = _nfkc(text, keep)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in _DROP_CATEGORIES:
            continue
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    text = _SPACE_RE.sub(" ", "".join(out))
    if multiline:
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def normalize(text: str, *, max_length: int, multiline: bool = False, field: str | None = None) -> str:
    """规范化 — the stored form of a citizen's text field.

    NFKC — full-width letters, digits and spaces become half-width, ``ｗｗｗ`` → ``www`` — except the
    characters of ``DISPLAY_KEPT`` (Chinese punctuation ，：！？（）…, ㎡), which NFKC would turn into ASCII
    and which Chinese is written with (the text is shown as typed, STYLE.md); control (Cc), format (Cf:
    zero-width, bidi overrides, BOM …) and surrogate characters removed;
    ``\\r\\n`` and ``\\r`` become ``\\n``, kept only when ``multiline`` (at most one blank line in a row),
    else a space; runs of spaces (also tabs, no-break and ideographic spaces) become one; stripped. Raises
    ``DomainError("text_too_long")`` (400) when the normalised text is longer than ``max_length`` characters —
    it never truncates silently. ``field`` names the field in the message and detail.
    """
    cleaned = _clean(text, multiline=multiline, keep=DISPLAY_KEPT)
    if len(cleaned) > max_length:
        label = f"「{field}」" if field else "文字"
        detail: dict[str, object] = {"max_length": max_length, "length": len(cleaned)}
        if field:
            detail["field"] = field
        raise DomainError("text_too_long", f"{label}过长：最多 {max_length} 个字符，现有 {len(cleaned)} 个",
                          detail=detail)
    return cleaned


def search_form(text: str) -> str:
    """检索形式 — NFKC + casefold (control characters out, spaces collapsed): for search and de-duplication."""
    folded = unicodedata.normalize("NFKC", _clean(text, multiline=False).casefold())
    return _SPACE_RE.sub(" ", folded).strip()


def _squeeze(text: str) -> str:
    """Only letters and digits: ``百 家*乐`` → ``百家乐``, ``h t t p`` → ``http``."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def _first_link(folded: str) -> str | None:
    """The first link in the text as written, else in the text without any spaces (``w w w . x . c o m``)."""
    without_mail = _EMAIL_RE.sub(" ", folded)
    for candidate in (without_mail, _WHITESPACE_RE.sub("", without_mail)):
        for rx in _LINK_RES:
            m = rx.search(candidate)
            if m:
                return m.group(0).strip()
    return None


def spam_reasons(text: str) -> list[str]:
    """可疑原因 — why ``text`` should be held for moderation (in Chinese), or ``[]`` when nothing is found.

    Looks at the normalised, case-folded text (so full-width, zero-width and bidi tricks do not hide
    anything) and at a squeezed form without spaces and symbols (so ``百 家 乐`` or ``w w w . x x . c o m``
    do not either). Reasons are distinct and in a stable order: links, contact solicitations, spam words.
    """
    folded = unicodedata.normalize("NFKC", _clean(text, multiline=False).casefold())
    unspaced = _WHITESPACE_RE.sub("", folded)
    squeezed = _squeeze(folded)
    reasons: list[str] = []

    link = _first_link(folded)
    if link:
        reasons.append(f"含网址或链接：{link[:60]}")

    for rx in _CONTACT_RES:
        contact = rx.search(folded) or rx.search(unspaced)
        if contact:
            reasons.append(f"含联系方式招揽：{contact.group(0).strip()[:40]}")
            break

    casino = _CASINO_RE.search(folded) or _CASINO_RE.search(squeezed)
    for kind, patterns in _STRONG_RES.items():
        found = [hit.group(0) for rx in patterns if (hit := rx.search(squeezed))]
        if kind == "博彩" and casino:
            found.insert(0, casino.group(0))
        if found:
            reasons.append(f"含{kind}推广用语：{'、'.join(dict.fromkeys(found))}")

    vice = [t for t in VICE_TERMS if t in squeezed]
    money = [t for t in MONEY_TERMS if t in squeezed]
    if len(vice) >= VICE_TERMS_NEEDED and len(vice) + len(money) >= WEAK_TERMS_NEEDED:
        reasons.append(f"含多个疑似推广用语：{'、'.join(vice + money)}")
    return reasons
