"""Screenshots of the user guide (用户手册截图): each role's main page in the demo city, saved to docs/guide/img/.

    .venv/bin/python docs/guide/screens.py [--data DIR] [--port P] [--only NAME …]

What it does, on its own:

1. finds the demo city: ``--data DIR``, else ``./.cogov-demo`` when it holds a database, else a new temporary
   directory; ``cogov demo --no-serve --data DIR`` builds it (once: a built city is reused);
2. reads one login per role from ``cogov.demo.build.demo_logins`` (every password ``demo2026``);
3. starts ``cogov serve --data DIR`` on a free port, with the SMS channel "console" so that the citizen's
   one-time code can be read from the server's output;
4. drives Debian's Chromium with Playwright: signs in as each role and takes the screenshots (phone 360×780
   for citizens and heads, desktop 1280 wide for consoles, dashboards and the admin);
5. reduces each PNG to an 8-bit palette (≤ ~300 KB) and stops the server.

Nothing is written to the demo city but sign-ins: no report is sent, no action taken, and the admin import is
only previewed. Not part of the test suite (it needs the demo city and a browser; about two minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "img"
PASSWORD = "demo2026"
PHONE = {"viewport": {"width": 360, "height": 780}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}
MAX_BYTES = 300 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHROMIUM = os.environ.get("COGOV_CHROMIUM", "/usr/bin/chromium")

LOGINS_SNIPPET = """
import json, os, sys
from cogov.cli import _setup
_setup(sys.argv[1])
from cogov.demo.build import demo_logins
from cogov.people.models import Person
rows = []
for role, username, password, where in demo_logins():
    p = Person.objects.get(username=username)
    rows.append({"role": role, "username": username, "password": password, "where": where,
                 "phone": p.phone or ""})
print(json.dumps(rows, ensure_ascii=False))
"""


def log(message: str) -> None:
    """One line of progress."""
    print(f"» {message}", flush=True)


def data_dir(arg: str | None) -> Path:
    """The demo city's directory: the one asked for, ./.cogov-demo when built, else a new temporary one."""
    if arg:
        return Path(arg).resolve()
    default = ROOT / ".cogov-demo"
    if (default / "cogov.sqlite3").exists():
        return default
    return Path(tempfile.mkdtemp(prefix="cogov-guide-"))


def build(data: Path, scale: float | None) -> None:
    """Build the demo city in ``data`` (a no-op when it is built already)."""
    cmd = [sys.executable, "-m", "cogov", "demo", "--no-serve", "--data", str(data)]
    if scale:
        cmd += ["--scale", str(scale)]
    log(f"演示城市 demo city: {data}")
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def logins(data: Path) -> dict[str, dict]:
    """One login per role, keyed by the English half of the role's label ('Station head' …)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cogov.settings"}
    out = subprocess.run([sys.executable, "-c", LOGINS_SNIPPET, str(data)], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])
    return {r["role"].split(" ", 1)[1]: r for r in rows}


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(data: Path, port: int, log_path: Path):
    """``cogov serve`` on ``port`` until the block ends; its output goes to ``log_path``."""
    env = {**os.environ, "COGOV_SMS_BACKEND": "console", "PYTHONUNBUFFERED": "1"}
    env.pop("COGOV_DATABASE_URL", None)  # the demo city lives in its SQLite file
    with log_path.open("w") as out:
        cmd = [sys.executable, "-m", "cogov", "serve", "--data", str(data), "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(240):
                if proc.poll() is not None:
                    raise SystemExit(f"cogov serve 退出了 exited:\n{log_path.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                raise SystemExit("cogov serve 没有启动 did not start")
            log(f"服务 server: {base}")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def shrink(png: bytes) -> bytes:
    """The screenshot as an 8-bit palette PNG, smaller still (fewer colours, then scaled) if over ~300 KB."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    for colors, scale in ((256, 1.0), (128, 1.0), (64, 1.0), (64, 0.75), (64, 0.5)):
        im = image if scale == 1.0 else image.resize((int(image.width * scale), int(image.height * scale)),
                                                     Image.LANCZOS)
        buf = io.BytesIO()
        im.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, format="PNG", optimize=True)
        if buf.tell() <= MAX_BYTES:
            break
    return buf.getvalue()


class Shots:
    """The browser session: one context per role, screenshots saved shrunk into ``OUT``."""

    def __init__(self, browser, base: str, server_log: Path, only: set[str]):
        self.browser, self.base, self.server_log, self.only = browser, base, server_log, only
        self.saved: list[tuple[str, int]] = []

    def wanted(self, *names: str) -> bool:
        """Whether any of ``names`` is to be taken this run."""
        return not self.only or bool(self.only & set(names))

    def context(self, form: dict):
        """A fresh browser context (own cookies) in Chinese, phone or desktop."""
        ctx = self.browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **form)
        ctx.set_default_timeout(30_000)
        return ctx

    def shot(self, page, name: str, *, full: bool = False, clip_height: int | None = None) -> None:
        """Save ``page`` as ``img/<name>.png``: the viewport, the whole page, or its top ``clip_height``."""
        if self.only and name not in self.only:
            return
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(400)
        if clip_height:
            width = page.viewport_size["width"]
            height = min(clip_height, page.evaluate("document.documentElement.scrollHeight"))
            png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
        else:
            png = page.screenshot(full_page=full)
        data = shrink(png)
        (OUT / f"{name}.png").write_bytes(data)
        self.saved.append((name, len(data)))
        log(f"{name}.png  {len(data) // 1024} KB  ({page.url.replace(self.base, '')})")

    def go(self, page, path: str) -> None:
        """Open ``path`` and fail loudly on an error page."""
        response = page.goto(self.base + path)
        if response is not None and response.status >= 400:
            raise RuntimeError(f"{path}: HTTP {response.status}")

    def staff_login(self, page, who: dict, next_path: str = "/work/") -> None:
        """Sign in on /login/ with the demo password, then land on ``next_path``."""
        self.go(page, f"/login/?next={next_path}")
        page.fill("input[name=username]", who["username"])
        page.fill("input[name=password]", who["password"])
        page.click("form.card button[type=submit]")
        page.wait_for_load_state("networkidle")
        if "/login/" in page.url:
            raise RuntimeError(f"{who['username']} 登录失败 sign-in failed")

    def sms_code(self, phone: str) -> str:
        """The last one-time code the console SMS channel printed for ``phone``."""
        pattern = re.compile(r"验证码 (\d{6}) → " + re.escape(phone))
        for _ in range(40):
            found = pattern.findall(self.server_log.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found[-1]
            time.sleep(0.25)
        raise RuntimeError(f"no code printed for {phone}")

    # --- citizens ---------------------------------------------------------------------------------------

    def citizen(self, who: dict) -> None:
        """Home, the report form, sign-in by phone, my reports, the public list, map and a case page."""
        if not self.wanted("citizen-home", "citizen-report", "citizen-login", "citizen-my", "public-list",
                           "public-map", "public-case"):
            return
        ctx = self.context(PHONE)
        page = ctx.new_page()
        self.go(page, "/")
        self.shot(page, "citizen-home")

        if self.wanted("citizen-report"):
            self.go(page, "/report/")
            page.fill("#id_description", "小区门口垃圾桶满了，垃圾堆到路边没人清理")
            page.wait_for_selector("#suggestions button.suggestion", timeout=10_000)
            category = page.get_attribute("#suggestions button.suggestion", "data-category")
            # next to an open case of that category, so that the form asks "already reported?"
            lon, lat = self.case_point(page, category)
            page.fill("#id_lon", lon)
            page.fill("#id_lat", lat)
            page.dispatch_event("#id_lon", "change")
            page.click("#suggestions button.suggestion")
            with contextlib.suppress(Exception):
                page.wait_for_selector("#nearby .nearby, #nearby p", timeout=5_000)
            page.evaluate("window.scrollTo(0, document.querySelector('#id_description').offsetTop - 120)")
            self.shot(page, "citizen-report")
            # the top of the form as well: photos and the place
            page.evaluate("window.scrollTo(0, 0)")
            self.shot(page, "citizen-report-top")

        self.go(page, "/login/phone/?next=/my/")
        page.fill("#id_phone", who["phone"])
        page.click("form button.btn")
        page.wait_for_selector("#id_code")
        page.fill("#id_code", self.sms_code(who["phone"]))
        self.shot(page, "citizen-login")
        page.click("form button.btn")
        page.wait_for_url("**/my/**")
        self.shot(page, "citizen-my")

        self.go(page, "/cases/")
        self.shot(page, "public-list")
        self.go(page, "/cases/map/")
        page.wait_for_selector(".leaflet-container")
        page.wait_for_timeout(1500)
        page.evaluate("window.scrollTo(0, document.querySelector('.leaflet-container').offsetTop - 8)")
        self.shot(page, "public-map")
        self.go(page, "/cases/?status=closed")
        href = page.get_attribute(".case-list li a", "href")
        self.go(page, href)
        page.wait_for_timeout(800)
        self.shot(page, "public-case", full=True)
        ctx.close()

    def case_point(self, page, category: str | None = None) -> tuple[str, str]:
        """Where an open public case of ``category`` is (else any case), from the map's data."""
        data = page.request.get(self.base + f"/cases/map.json?status=open&category={category or ''}").json()
        if not data["points"]:
            data = page.request.get(self.base + "/cases/map.json").json()
        p = data["points"][0]
        return f"{p['lon']:.6f}", f"{p['lat']:.6f}"

    # --- staff ------------------------------------------------------------------------------------------

    def station_head(self, who: dict) -> None:
        """The station head's console (desktop), a case page (desktop) and the station channel (phone)."""
        if not self.wanted("station-console", "staff-case", "station-channel"):
            return
        ctx = self.context(DESKTOP)
        page = ctx.new_page()
        self.staff_login(page, who)
        if "/work/station/" not in page.url:  # several pages: the menu
            page.click("a[href^='/work/station/']")
        page.wait_for_url(re.compile(r"/work/station/\d+/$"))
        console = page.url.replace(self.base, "")
        self.shot(page, "station-console", clip_height=1800)
        link = page.query_selector("#queue article h3 a") or page.query_selector("#overdue a")
        if link is not None:
            self.go(page, link.get_attribute("href"))
            self.shot(page, "staff-case", full=True)
        cookies = ctx.cookies()
        ctx.close()

        phone = self.context(PHONE)
        phone.add_cookies(cookies)
        page = phone.new_page()
        self.go(page, console + "channel/")
        self.shot(page, "station-channel")
        phone.close()

    def head(self, who: dict, name: str) -> None:
        """三长巡查 on a phone."""
        if not self.wanted(name):
            return
        ctx = self.context(PHONE)
        page = ctx.new_page()
        self.staff_login(page, who, "/work/head/")
        self.shot(page, name, clip_height=1400)  # the patrol form and the first cases of the patch
        ctx.close()

    def unit(self, who: dict) -> None:
        """The professional unit's console (desktop, and on a crew member's phone)."""
        if not self.wanted("unit-console", "unit-console-phone"):
            return
        ctx = self.context(DESKTOP)
        page = ctx.new_page()
        self.staff_login(page, who, "/work/unit/")
        self.shot(page, "unit-console", clip_height=1400)
        cookies = ctx.cookies()
        ctx.close()
        phone = self.context(PHONE)
        phone.add_cookies(cookies)
        page = phone.new_page()
        self.go(page, "/work/unit/")
        self.shot(page, "unit-console-phone")
        phone.close()

    def supervisor(self, who: dict, name: str) -> None:
        """监管看板 on a desktop."""
        if not self.wanted(name):
            return
        ctx = self.context(DESKTOP)
        page = ctx.new_page()
        self.staff_login(page, who, "/work/dashboard/")
        self.shot(page, name, clip_height=2200)
        ctx.close()

    def insight(self, who: dict, name: str) -> None:
        """数据分析 on a desktop: the hotspot map and the hour-of-week heatmap."""
        if not self.wanted(name):
            return
        ctx = self.context(DESKTOP)
        page = ctx.new_page()
        self.staff_login(page, who, "/work/insight/")
        self.shot(page, name, clip_height=2400)
        ctx.close()

    def admin(self, who: dict) -> None:
        """The admin's bulk import of a roster: the example workbook plus one wrong row, previewed only."""
        if not self.wanted("admin-import"):
            return
        import openpyxl

        ctx = self.context(DESKTOP)
        page = ctx.new_page()
        self.go(page, "/admin/login/?next=/admin/people/person/import/")
        page.fill("#id_username", who["username"])
        page.fill("#id_password", who["password"])
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/people/person/import/")
        book = openpyxl.load_workbook(io.BytesIO(page.request.get(self.base + "/admin/people/person/import/"
                                                                  "template.xlsx").body()))
        sheet = book.worksheets[0]
        row = next(r for r in range(2, sheet.max_row + 2) if not sheet.cell(row=r, column=1).value)
        for column, value in enumerate(["sun.louyuan", "孙院长", "1390000000", "楼院长", "NO-SUCH-UNIT"], start=1):
            sheet.cell(row=row, column=column, value=value)  # bad phone, unknown unit: shown, not written
        buf = io.BytesIO()
        book.save(buf)
        page.set_input_files("#id_file", {"name": "名单.xlsx", "buffer": buf.getvalue(), "mimeType": XLSX})
        page.click("form[enctype] input[type=submit]")
        page.wait_for_selector("table.preview")
        self.shot(page, "admin-import", clip_height=1300)
        ctx.close()


def main() -> None:
    """Build or reuse the demo city, serve it, take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="演示城市目录 demo city directory (default ./.cogov-demo or a new one)")
    parser.add_argument("--port", type=int, default=0, help="端口 port (default: a free one)")
    parser.add_argument("--scale", type=float, help="新建演示城市的规模 scale of a new demo city (default 1.0)")
    parser.add_argument("--only", nargs="*", default=[], help="只拍这些 only these images (names without .png)")
    args = parser.parse_args()
    os.chdir(ROOT)
    data = data_dir(args.data)
    build(data, args.scale)
    who = logins(data)
    OUT.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="cogov-guide-log-") as tmp, \
            server(data, args.port or free_port(), Path(tmp) / "serve.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--lang=zh-CN"],
                                     env={**os.environ, "LANGUAGE": "zh_CN", "LANG": "zh_CN.UTF-8"})
        shots = Shots(browser, base, Path(tmp) / "serve.log", set(args.only))
        try:
            shots.citizen(who["Citizen"])
            shots.station_head(who["Station head"])
            shots.head(who["Building head"], "head-phone")
            shots.unit(who["Unit dispatcher"])
            shots.supervisor(who["Sub-district supervisor"], "dashboard-subdistrict")
            shots.supervisor(who["District supervisor"], "dashboard-district")
            shots.insight(who["District supervisor"], "insight-district")
            shots.admin(who["Admin"])
        finally:
            browser.close()
    total = sum(n for _, n in shots.saved)
    log(f"{len(shots.saved)} 张截图 images, {total // 1024} KB → {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
