"""The user guide (docs/guide) shows only images that exist and names only pages the site serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
PAGES = ["zh.md", "en.md"]
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
#: A page path in backticks: `/cases/<编号>/`, `/work/station/<id>/channel/` …
PATH = re.compile(r"`(/[^`\s]*)`")
#: What a placeholder in a path stands for when the path is resolved.
SAMPLES = {"id": "446", "number": "20260018198", "编号": "20260018198"}


def _text(name: str) -> str:
    return (GUIDE / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", PAGES)
def test_every_image_exists_has_alt_text_and_is_small(name):
    images = IMAGE.findall(_text(name))
    assert len(images) >= 15, "each role's main page is shown"
    for alt, src in images:
        assert alt.strip(), f"{src}: an image needs alt text"
        path = GUIDE / src
        assert path.is_file(), f"{name} shows {src}, which does not exist (run docs/guide/screens.py)"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{src} is not a PNG"
        assert path.stat().st_size <= 320 * 1024, f"{src} is over ~300 KB"


def test_both_languages_show_the_same_screenshots():
    zh = [src for _alt, src in IMAGE.findall(_text("zh.md"))]
    en = [src for _alt, src in IMAGE.findall(_text("en.md"))]
    assert sorted(zh) == sorted(en)


@pytest.mark.parametrize("name", PAGES)
def test_every_page_path_is_in_the_url_map(name):
    paths = sorted(set(PATH.findall(_text(name))))
    assert "/report/" in paths and "/work/dashboard/" in paths, "the guide names the pages it describes"
    for raw in paths:
        path = re.sub(r"<([^>]+)>", lambda m: SAMPLES[m.group(1)], raw)
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{name} names {raw}, which is not a page of the site")


def test_the_path_check_catches_a_page_that_does_not_exist():
    with pytest.raises(Resolver404):
        resolve("/work/no-such-page/")


@pytest.mark.parametrize("name", PAGES)
def test_links_to_other_docs_resolve(name):
    for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", _text(name)):
        assert (GUIDE / target).resolve().is_file(), f"{name} links to {target}, which does not exist"
