"""Browser fixtures: Debian's Chromium driven by Playwright against the live test server.

The browser tests install Chromium and a Chinese font where they are missing (Debian/Ubuntu, as root), since a
fresh machine has neither and pages would render Chinese as empty boxes. ``COGOV_CHROMIUM`` points at another
Chromium; ``COGOV_SKIP_BROWSER=1`` skips the browser journeys (CI runs them once, in the SQLite pass).
Screenshots are kept under ``test-artifacts/screens/`` (``COGOV_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("COGOV_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("COGOV_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 900}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under ``--dist loadgroup`` (``./run test``) the browser journeys share one worker: one Chromium, one live
    server, instead of one in each worker. (Before xdist's own hook, which reads the group into the node id.)"""
    group = pytest.mark.xdist_group("browser")
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(group)


def _has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return bool(out.strip())


def ensure_chromium() -> str:
    """The Chromium executable, installed from the distribution's packages when missing (with a CJK font)."""
    missing = [pkg for pkg, ok in (("chromium", Path(CHROMIUM).exists()), ("fonts-noto-cjk", _has_cjk_font()))
               if not ok]
    if missing and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True)
            subprocess.run(cmd, env=env, capture_output=True, check=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"浏览器测试需要 Chromium（{CHROMIUM}）：请安装 chromium 和 fonts-noto-cjk，或设置 COGOV_CHROMIUM；"
                    "COGOV_SKIP_BROWSER=1 可跳过浏览器测试", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole run (the journeys share it; each test gets its own context)."""
    if os.environ.get("COGOV_SKIP_BROWSER") == "1":
        pytest.skip("COGOV_SKIP_BROWSER=1: browser journeys run in the other pass")
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


class Pages:
    """Opens browser contexts against the live server and records every request they make."""

    def __init__(self, browser, base_url: str, name: str):
        self.browser, self.base_url, self.name = browser, base_url, name
        self.contexts = []
        self.outside: list[str] = []
        self.server_errors: list[str] = []
        self.step = 0

    def open(self, *, phone: bool = True, geolocation: tuple[float, float] | None = None, **kwargs):
        """A new signed-out browser (a phone by default) and its first page."""
        options = dict(viewport=PHONE if phone else DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai",
                       base_url=self.base_url, **kwargs)
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if geolocation:
            options.update(geolocation={"longitude": geolocation[0], "latitude": geolocation[1]},
                           permissions=["geolocation"])
        context = self.browser.new_context(**options)
        context.set_default_timeout(15_000)
        origin = urlparse(self.base_url).netloc

        def watch(request):
            u = urlparse(request.url)
            if u.scheme in ("http", "https", "ws", "wss") and u.netloc != origin:
                self.outside.append(request.url)

        def answered(response):
            if response.status >= 500:
                self.server_errors.append(f"{response.status} {response.url}")

        context.on("request", watch)
        context.on("response", answered)
        self.contexts.append(context)
        return context.new_page()

    def shot(self, page, label: str) -> Path:
        """A full-page screenshot kept as a test artifact, numbered in the order of the journey."""
        self.step += 1
        path = ARTIFACTS / "screens" / self.name / f"{self.step:02d}-{label}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        for c in self.contexts:
            c.close()


def _wait_server_threads():
    """Let the live server's request threads finish before the database is flushed."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        "process_request_thread" in t.name for t in threading.enumerate() if t is not threading.current_thread()
    ):
        time.sleep(0.01)


@pytest.fixture
def pages(request, browser, live_server, monkeypatch):
    """Browser pages on the live server; fails the test if any page reached outside the server or got a 5xx."""
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    p = Pages(browser, live_server.url, request.node.name)
    yield p
    p.close()
    _wait_server_threads()
    assert not p.outside, f"pages requested resources outside the server: {p.outside[:10]}"
    assert not p.server_errors, f"server errors: {p.server_errors[:10]}"
