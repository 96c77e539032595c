"""The interface in English: the language switch, pages in English, a catalogue complete and compiled.

zh-Hans is the source language (Chinese msgids); cogov/locale/en holds the English catalogue, the .po and the
compiled .mo both committed (the quick start needs no gettext tools). Data from the database (category, unit
and place names) stays Chinese: only the interface is translated.
"""

from __future__ import annotations

import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from cogov.cases.services import case_report
from tests.conftest import ON_STREET

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.mo"
SOURCE = Path(settings.BASE_DIR)

#: The base template's own labels (navigation, skip link, sign-in links): none may stay Chinese in English.
BASE_LABELS_ZH = ["跳到正文", "主导航", "我要上报", "案件公开", "我的上报", "工作台", "退出",
                  "手机号登录", "工作人员登录", "城市管理，从政府“独唱”到全城“合唱”"]


def _unquote(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\":
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr or msgstr[n], flags; obsolete (#~) marked."""
    entries, cur, key = [], None, None

    def fresh():
        return {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": None, "plural": {},
                "flags": set(), "obsolete": False}

    cur = fresh()
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if cur["msgid"] is not None or cur["obsolete"]:
                entries.append(cur)
            cur, key = fresh(), None
        elif line.startswith("#~"):
            cur["obsolete"] = True
        elif line.startswith("#,"):
            cur["flags"] |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = _unquote(line[1:-1])
            if isinstance(key, int):
                cur["plural"][key] += value
            else:
                cur[key] += value
        else:
            m = re.fullmatch(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+"(.*)"', line)
            assert m, f"unreadable line in {path.name}: {line!r}"
            if m[2] is not None:
                key = int(m[2])
                cur["plural"][key] = _unquote(m[3])
            else:
                key = m[1]
                cur[key] = _unquote(m[3])
    return entries


def messages(entries: list[dict]) -> list[dict]:
    """The translatable entries (not the header, not obsolete ones)."""
    return [e for e in entries if e["msgid"] and not e["obsolete"]]


def catalogue(entries: list[dict]) -> dict:
    """The entries as GNUTranslations keeps them: msgid → msgstr, and (msgid, n) → msgstr[n] for plurals."""
    out = {}
    for e in messages(entries):
        key = e["msgid"] if e["msgctxt"] is None else f"{e['msgctxt']}\x04{e['msgid']}"
        if e["msgid_plural"] is None:
            out[key] = e["msgstr"]
        else:
            for n, s in e["plural"].items():
                out[(key, n)] = s
    return out


def translated(e: dict) -> bool:
    """The entry has a non-empty msgstr (both forms, for a plural)."""
    if e["msgid_plural"] is None:
        return bool(e["msgstr"].strip())
    return len(e["plural"]) == 2 and all(s.strip() for s in e["plural"].values())


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%\([a-z_]+\)\.\df|%%|%s|%d")


@pytest.fixture
def english(client, small_city):
    """A visitor who chose English with the language switch (the cookie stays on this client)."""
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    assert r.status_code == 200
    assert r.redirect_chain and r.redirect_chain[-1][0] == "/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    return client


def page(response, status=200) -> str:
    assert response.status_code == status, response.status_code
    return response.content.decode()


def assert_base_in_english(html: str):
    assert '<html lang="en">' in html
    for zh in BASE_LABELS_ZH:
        assert zh not in html, f"untranslated base label {zh!r}"
    # the switch offers the way back, labelled in Chinese on purpose
    assert 'name="language" value="zh-hans"' in html and ">中文</button>" in html


def a_report(city):
    return case_report(city=city.city, actor=None, category_id=city.categories["06010"].pk, lon=ON_STREET[0],
                       lat=ON_STREET[1], description="路边一堆暴露垃圾", contact_phone="13912345678")


def test_the_switch_turns_the_home_page_english(english, small_city):
    html = page(english.get("/"))
    assert_base_in_english(html)
    for en in ("Skip to content", "Report a problem", "Public cases", "My reports", "Sign in with phone",
               "Staff sign-in", "City management: from a government solo to a city-wide chorus",
               "problems solved in the last 30 days", "Public cases (list)", "Case map"):
        assert en in html, en
    assert "看到路面坑洼" not in html and "每件事都有编号" not in html


def test_the_report_form_in_english_with_its_script_texts(english, small_city):
    html = page(english.get("/report/"))
    assert_base_in_english(html)
    for en in ("1. Photos (optional)", "2. Location", "3. What is the problem", "4. Contact (optional)",
               "Use my location (GPS)", "Longitude", "Latitude", "Send report",
               "Choose (or tap a suggestion above)", "You can report without signing in."):
        assert en in html, en
    # report.js reads its words from data-t-* attributes: those come translated too
    assert 'data-t-chosen="Chosen location"' in html and 'data-t-sending="Sending…"' in html
    assert "提交上报" not in html and "已选位置" not in html


def test_a_form_error_is_shown_in_english(english, small_city):
    html = page(english.post("/report/", {"lon": "abc", "lat": "36.07", "description": "x"}), status=400)
    assert "Not sent: please check the messages marked in red." in html
    assert "Coordinates must be numbers, e.g. longitude 120.38, latitude 36.07" in html
    assert "Please choose a category" in html


def test_the_staff_login_page_in_english(english, small_city):
    html = page(english.get("/login/"))
    assert_base_in_english(html)
    for en in ("Staff sign-in", "Username", "Password", ">Sign in<",
               "Residents can report without signing in; verify your mobile number to see “My reports”."):
        assert en in html, en
    assert "账号" not in html and "密码" not in html


def test_the_station_console_in_english_with_data_still_chinese(english, small_city):
    case = a_report(small_city)
    english.force_login(small_city.people["station_a"])
    station = small_city.units["37020200100101"]
    html = page(english.get(f"/work/station/{station.pk}/"))
    assert_base_in_english(html)
    for en in ("Station head console", "Station channel", "Awaiting acceptance or dispatch", "Overdue cases",
               "Escalated cases", "60 min left to respond", ">Reported<", ">Accept<", ">Not accepted<",
               "Additional note (optional)"):
        assert en in html, en
    assert case.number in html
    # names from the database are data, not interface: they stay Chinese
    assert station.name in html and small_city.categories["06010"].name in html
    for zh in ("站长工作台", "待受理、待派遣", "超时案件", "响应剩余", "立案"):
        assert zh not in html, zh


def test_the_staff_case_page_in_english(english, small_city):
    case = a_report(small_city)
    english.force_login(small_city.people["station_a"])
    html = page(english.get(f"/work/cases/{case.number}/"))
    assert_base_in_english(html)
    for en in ("Case number", "Place and description", "Reporter", "Phone", "Deadline", "Actions", "History",
               ">Accept<", ">Not accepted<", "Handling unit", "Not dispatched", "Reported"):
        assert en in html, en
    assert "13912345678" in html and "路边一堆暴露垃圾" in html  # the reporter's words are not translated
    for zh in ("地点与内容", "上报人", "办理记录", "处置单位", "未派遣"):
        assert zh not in html, zh


def test_an_action_in_english_answers_in_english(english, small_city):
    case = a_report(small_city)
    english.force_login(small_city.people["station_a"])
    r = english.post(f"/work/cases/{case.number}/act/accept", {"fragment": "case"}, HTTP_HX_REQUEST="true")
    html = page(r)
    assert "Accepted" in html and "已立案" not in html
    case.refresh_from_db()
    assert case.state == "accepted"


def test_chinese_is_the_default_for_a_visitor_without_a_preference(client, small_city):
    html = page(client.get("/"))
    assert '<html lang="zh-Hans">' in html
    assert "我要上报" in html and "跳到正文" in html and "工作人员登录" in html
    assert "Report a problem" not in html and "Skip to content" not in html
    # the switch offers English, in English
    assert 'name="language" value="en"' in html and ">English</button>" in html


def test_switching_back_to_chinese(english, small_city):
    assert "Report a problem" in page(english.get("/"))
    r = english.post("/i18n/setlang/", {"language": "zh-hans", "next": "/report/"}, follow=True)
    html = page(r)
    assert r.redirect_chain[-1][0] == "/report/"
    assert "提交上报" in html and "Send report" not in html


def test_a_browser_asking_for_english_gets_english(client, small_city):
    html = page(client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9"))
    assert '<html lang="en">' in html and "Report a problem" in html


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = read_po(PO)
    header = next(e for e in entries if e["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    assert "Language: en\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"]
    msgs = messages(entries)
    assert len(msgs) > 300
    assert not [e for e in entries if e["obsolete"]], "obsolete (#~) entries left in the catalogue"
    fuzzy = [e["msgid"] for e in msgs if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    empty = [e["msgid"] for e in msgs if not translated(e)]
    assert not empty, f"untranslated: {empty}"


def test_translations_keep_every_placeholder_and_leave_no_chinese():
    for e in messages(read_po(PO)):
        wanted = sorted(PLACEHOLDER.findall(e["msgid"]))
        for s in ([e["msgstr"]] if e["msgid_plural"] is None else e["plural"].values()):
            assert sorted(PLACEHOLDER.findall(s)) == wanted, (e["msgid"], s)
            # Chinese left in an English string is a half-done translation (one quotes an example header)
            han = re.findall(r"[\u4e00-\u9fff]+", s)
            assert han in ([], ["账号"]), (e["msgid"], s)


def test_the_compiled_mo_matches_the_po():
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    mo = {k: v for k, v in compiled._catalog.items() if k != ""}
    assert mo == catalogue(read_po(PO)), "stale django.mo: run `django-admin compilemessages -l en` in cogov"
    assert compiled.ngettext("%(n)s 人也遇到了", "%(n)s 人也遇到了", 1) == "%(n)s person also saw this"
    assert compiled.ngettext("%(n)s 人也遇到了", "%(n)s 人也遇到了", 3) == "%(n)s people also saw this"


def test_django_uses_the_catalogue():
    from django.utils import translation

    with translation.override("en"):
        assert translation.gettext("我要上报") == "Report a problem"
        assert translation.gettext("小事不出社区") == "Small matters stay in the community"
        assert translation.ngettext("共 %(n)s 件", "共 %(n)s 件", 1) % {"n": 1} == "1 case"
        assert translation.ngettext("共 %(n)s 件", "共 %(n)s 件", 5) % {"n": 5} == "5 cases"
    with translation.override("zh-hans"):
        assert translation.gettext("我要上报") == "我要上报"


@pytest.mark.skipif(not shutil.which("xgettext") or not shutil.which("msgmerge"),
                    reason="needs GNU gettext (xgettext, msgmerge) to extract the messages again")
def test_the_catalogue_holds_every_message_of_the_sources(tmp_path, monkeypatch):
    """makemessages over a copy of the sources finds nothing new and nothing stale: no string is left out."""
    copy = tmp_path / "cogov"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns(
        "demo", "migrations", "locale", "static", "__pycache__", "*.pyc", "*.mo", "*.sqlite3*"))
    (copy / "locale" / "en" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(PO, copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=["en"], ignore_patterns=["demo/*", "migrations/*"], verbosity=0)
    fresh = read_po(copy / "locale" / "en" / "LC_MESSAGES" / "django.po")
    committed = {e["msgid"] for e in messages(read_po(PO))}
    extracted = {e["msgid"] for e in messages(fresh)}
    assert not extracted - committed, f"new strings not in django.po (run makemessages, translate): " \
                                      f"{sorted(extracted - committed)}"
    assert not committed - extracted, f"strings no longer in the sources: {sorted(committed - extracted)}"
    assert not [e["msgid"] for e in messages(fresh) if "fuzzy" in e["flags"]]


def test_state_role_and_action_names_in_english_on_staff_and_citizen_pages(english, small_city):
    """The words of the workflow and of the roles (kept Chinese in the pure modules) are said in English at the
    edge: the staff case page, the citizen's "My reports" and the public case page."""
    from cogov.cases.services import case_act

    station_a = small_city.actor("station_a")
    case = case_report(city=small_city.city, actor=station_a, category_id=small_city.categories["06010"].pk,
                       lon=ON_STREET[0], lat=ON_STREET[1], description="路边一堆暴露垃圾",
                       contact_phone="13912345678")
    case_act(city_id=small_city.city.pk, number=case.number, actor=station_a, action="accept")
    case.refresh_from_db()
    case_act(city_id=small_city.city.pk, number=case.number, actor=station_a, action="dispatch",
             data={"unit": case.suggested_unit_id})
    case.refresh_from_db()
    assert case.state == "dispatched"
    english.force_login(small_city.people["station_a"])

    staff = page(english.get(f"/work/cases/{case.number}/"))
    assert "Dispatched" in staff and "Station head" in staff
    my = page(english.get("/my/"))
    assert case.number in my and "Dispatched" in my
    public = page(english.get(f"/cases/{case.number}/"))
    assert "Dispatched" in public
    for en in ("Report", "Accept", "Dispatch"):  # the public timeline's action names
        assert f"<strong>{en}</strong>" in public and f"<strong>{en}</strong>" in my, en
    me = small_city.people["station_a"].display_name  # a person's name is data (王站长), not interface
    assert me in staff
    for html in (staff, my, public):
        for zh in ("已派遣", "站长", "已上报", "已立案", "上报人"):
            assert zh not in html.replace(me, ""), zh
