"""No page reaches outside the server: cities run cogov on closed government networks (no CDN, no internet).

Three nets: every template and shipped static file is scanned for absolute references; every page a visitor can
reach by following links (anonymous, a citizen, staff of each kind) is fetched and its HTML and CSS scanned; and
the browser journeys (test_journeys.py) record every request the real browser makes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

import cogov

ROOT = Path(cogov.__file__).resolve().parent
#: Attributes that make a browser fetch something (or send the visitor somewhere).
RESOURCE_ATTRS = {"src", "href", "action", "poster", "data", "srcset", "formaction", "manifest", "background"}
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*([^'")\s]+)""", re.I)
ABSOLUTE = re.compile(r"""^(?:[a-z][a-z0-9+.-]*:)?//""", re.I)
#: Strings in scripts that name the outside without loading it: the SVG namespace name given to createElementNS.
#: (Leaflet's attribution link was made plain text in the vendored copy: vendor/SOURCES.md.)
JS_ALLOWED = ("http://www.w3.org/2000/svg",)


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []
        self._style = False
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in RESOURCE_ATTRS:
                for part in value.split(",") if name == "srcset" else [value]:
                    self.refs.append((tag, name, part.strip().split(" ")[0]))
            elif name == "style":
                self.styles.append(value)
        self._style = tag == "style"

    def handle_data(self, data):
        if self._style:
            self.styles.append(data)

    def handle_endtag(self, tag):
        self._style = False


def outside_references(html: str, *, host: str = "testserver") -> list[str]:
    """Every reference in ``html`` (attributes, inline CSS) that points to another host."""
    parser = _Refs()
    parser.feed(html)
    refs = [value for _, _, value in parser.refs]
    for css in parser.styles:
        refs += CSS_URL.findall(css)
    found = []
    for ref in refs:
        if ref.startswith(("javascript:", "mailto:", "tel:", "data:", "#", "blob:")):
            continue
        if ABSOLUTE.match(ref) and urlparse(ref if "://" in ref else "http:" + ref).netloc != host:
            found.append(ref)
    return found


def test_the_scanner_finds_what_it_must():
    html = ("<link rel=stylesheet href='https://cdn.example.com/x.css'><script src='//unpkg.com/htmx'></script>"
            "<img srcset='/a.png 1x, https://img.example.com/b.png 2x'><div style=\"background:url('http://t.example/x.png')\">"
            "<style>@import 'https://fonts.example/f.css';</style><a href='/ok'>ok</a><img src='/static/x.png'>")
    assert outside_references(html) == ["https://cdn.example.com/x.css", "//unpkg.com/htmx",
                                        "https://img.example.com/b.png", "http://t.example/x.png",
                                        "https://fonts.example/f.css"]
    assert outside_references("<a href='http://testserver/cases/'>x</a>") == []


def _shipped(suffixes):
    return [p for p in ROOT.rglob("*") if p.suffix in suffixes and "tests" not in p.parts]


@pytest.mark.parametrize("path", _shipped({".html"}), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_reference_nothing_outside(path):
    text = path.read_text(encoding="utf-8")
    # template tags inside attributes are local by construction ({% static %}, {% url %}); drop them first
    text = re.sub(r"{%.*?%}|{{.*?}}", "", text, flags=re.S)
    assert outside_references(text) == []


@pytest.mark.parametrize("path", _shipped({".css", ".js"}), ids=lambda p: str(p.relative_to(ROOT)))
def test_static_files_reference_nothing_outside(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".css":
        assert [u for u in CSS_URL.findall(text) if ABSOLUTE.match(u)] == []
    # no address of the outside anywhere in a shipped script or style, comments included
    urls = re.findall(r"""https?://[^\s'"`)]+""", text, flags=re.I)
    assert [u for u in urls if not u.startswith(JS_ALLOWED)] == []


def _crawl(client, starts, *, limit=80):
    """Fetch pages reachable by links from ``starts`` (same site, GET, HTML and CSS); return the problems."""
    seen, queue, problems = set(), list(starts), []
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url, follow=True)
        assert response.status_code < 500, f"{url} → {response.status_code}"
        ctype = response.get("Content-Type", "")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", errors="replace")
        if "text/css" in ctype:
            problems += [f"{url}: {u}" for u in CSS_URL.findall(text) if ABSOLUTE.match(u)]
            continue
        if "text/html" not in ctype:
            continue
        problems += [f"{url}: {ref}" for ref in outside_references(text)]
        parser = _Refs()
        parser.feed(text)
        for tag, attr, ref in parser.refs:
            nxt = urljoin(url, ref)
            u = urlparse(nxt)
            if u.netloc not in ("", "testserver") or u.path.startswith(("/logout", "/i18n", "/admin/logout")):
                continue
            if (tag == "a" and attr == "href") or (tag == "link" and attr == "href"):
                if u.path.startswith(("/photos/", "/api/")) or u.path.endswith((".jpg", ".png", ".js")):
                    continue
                queue.append(u.path + (f"?{u.query}" if u.query else ""))
    return seen, problems


@pytest.mark.parametrize("who", [None, "citizen", "station_a", "building_head", "sanitation_crew",
                                 "subdistrict_sup", "district_sup"])
def test_every_reachable_page_stays_on_the_server(client, small_city, who):
    from cogov.cases.services import case_report
    from tests.conftest import IN_COURTYARD

    litter = next(c for c in small_city.categories.values() if c.kind == "matter")
    case_report(city=small_city.city, actor=small_city.actor("citizen"), category_id=litter.pk,
                lon=IN_COURTYARD[0], lat=IN_COURTYARD[1], description="小区门口垃圾堆积")
    if who:
        client.force_login(small_city.people[who])
    seen, problems = _crawl(client, ["/", "/work/", "/cases/", "/my/", "/report/", "/login/"])
    assert len(seen) >= 3
    assert problems == []
