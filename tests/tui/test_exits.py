"""Every way to end the live TUI and ``audit --watch`` exits 0, in a real process, over TLS (issue 16).

The TUI runs in a pseudo-terminal against the fake API server serving HTTPS (a self-signed certificate
the kubeconfig trusts); it is ended with ``q``, with Ctrl-C, and with ``:q``. ``audit --watch`` is ended
with SIGINT and by the end of its watch (``--timeout``). A watch thread that still touches its socket at
exit must not turn into SIGPIPE (exit 141).
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.audit.helpers import BASE
from tests.fakeapi import FakeApiServer, write_kubeconfig
import contextlib

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls_api(tmp_path, monkeypatch):
    server = FakeApiServer(tls=True).start()
    server.add(*BASE)
    env = dict(os.environ, HOME=str(tmp_path), KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", server)),
               TERM="xterm-256color", COLUMNS="100", LINES="30")
    env.pop("KUBERNETES_SERVICE_HOST", None)
    try:
        yield server, env
    finally:
        server.stop()


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out = b""
    end = time.monotonic() + timeout
    while needle not in out and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def drain_and_wait(proc: subprocess.Popen, fd: int, timeout: float = 15) -> int:
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)
    if proc.poll() is None:
        proc.kill()
        raise AssertionError("the TUI did not exit")
    return proc.returncode


@pytest.mark.parametrize("keys", [b"q", b"\x03", b":q\r"], ids=["q", "ctrl-c", ":q"])
def test_the_live_tui_exits_0(tls_api, keys):
    server, env = tls_api
    master, slave = pty.openpty()
    os.set_blocking(master, True)
    proc = subprocess.Popen([sys.executable, "-m", "kubectl_microseg", "tui", "-A"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=ROOT, close_fds=True, start_new_session=True)
    os.close(slave)
    try:
        seen = read_until(master, b"watching", 30)
        assert b"watching" in seen, f"the TUI never showed the live state: {seen[-400:]!r}"
        assert server.wait_for_watches(1, timeout=10), "no watch reached the TLS server"
        time.sleep(0.3)
        os.write(master, keys)
        assert drain_and_wait(proc, master) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_audit_watch_exits_0_on_ctrl_c_and_at_the_end_of_its_watch(tls_api):
    server, env = tls_api
    cmd = [sys.executable, "-m", "kubectl_microseg", "audit", "--watch"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    assert server.wait_for_watches(1, timeout=20), "audit never watched"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()[-600:]
    ended = subprocess.run(cmd + ["--timeout", "2"], capture_output=True, env=env, cwd=ROOT, timeout=30, check=False)
    assert ended.returncode == 0, ended.stderr.decode()[-600:]
