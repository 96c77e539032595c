"""``cogov serve --processes N``: N waitress workers accept on one socket; a dead worker is replaced; SIGTERM to
the parent stops them all."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc").exists(), reason="fork and /proc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(parent: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    out.add(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _get(port: int, path: str = "/healthz") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a loaded CI machine can be slow
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_several_processes_share_the_port_and_are_kept_alive(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("COGOV_DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["COGOV_DATA_DIR"] = str(tmp_path / "data")
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([str(BIN / "cogov"), "serve", "--port", str(port), "--threads", "2",
                                 "--processes", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def healthy():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-2000:]
            try:
                return _get(port) == 200
            except OSError:
                return False

        _wait(healthy, 90, "/healthz")
        def two(without=()):
            w = _workers(proc.pid)
            return w if len(w) == 2 and not (w & set(without)) else None

        workers = _wait(two, 10, "two workers")
        assert all(_get(port) == 200 for _ in range(20))
        # a worker dies: the parent starts another, and the port keeps answering meanwhile
        gone = min(workers)
        os.kill(gone, signal.SIGKILL)
        assert _get(port) == 200
        renewed = _wait(lambda: two(without={gone}), 15, "a new worker")
        assert len(renewed - workers) == 1
        assert all(_get(port) == 200 for _ in range(10))
        # SIGTERM to the parent stops everything
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
        _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in renewed), 10, "the workers to stop")
        with pytest.raises(OSError):
            _get(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
