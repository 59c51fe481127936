"""``nft apply`` inside the lab's firewall namespace (never on the host's ruleset).

The tool runs under ``ip netns exec``; SSH_CONNECTION is set as sshd would set it for a session from
A to R, so the lock-out guard has a session to protect.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

pytestmark = pytest.mark.netns

OTHER = """table ip other {
    chain keepme { counter; }
}
"""
OPEN = """table inet microseg {
    chain input { type filter hook input priority 0; policy accept; }
}
"""
LOCKOUT = """table inet microseg {
    chain input { type filter hook input priority 0; policy drop;
        ct state established,related accept
        ip saddr 10.0.100.0/24 tcp dport 22 accept
    }
}
"""
SAFE = """flush ruleset
table inet microseg {
    chain input { type filter hook input priority 0; policy drop;
        ct state established,related accept
        ip saddr { 10.0.100.0/24, 10.1.0.0/24 } tcp dport 22 accept
        tcp dport 5432 accept
    }
}
"""


def _tool(lab, tmp_path, *args: str, ssh: str | None = "10.1.0.2 50000 10.1.0.1 22", input: str | None = None):
    env = dict(os.environ, KUBECTL_MICROSEG_STATE_DIR=str(tmp_path / "state"))
    env.pop("SSH_CONNECTION", None)
    if ssh:
        env["SSH_CONNECTION"] = ssh
    return lab.exec_in_r(sys.executable, "-m", "kubectl_microseg", "nft", *args, env=env, input=input)


def _tables(lab) -> list[tuple[str, str]]:
    doc = json.loads(lab.exec_in_r("nft", "-j", "list", "ruleset").stdout)
    return [(o["table"]["family"], o["table"]["name"]) for o in doc["nftables"] if "table" in o]


def _listing(lab) -> str:
    return lab.exec_in_r("nft", "list", "ruleset").stdout


def _write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_refuses_to_cut_the_ssh_session_then_force(lab, tmp_path) -> None:
    lab.load(OTHER + OPEN)
    before = _listing(lab)
    p = _tool(lab, tmp_path, "apply", _write(tmp_path, "lock.nft", LOCKOUT), "--yes")
    assert p.returncode == 1, p.stderr
    assert "LOCK-OUT" in p.stderr and "10.1.0.2" in p.stderr
    assert _listing(lab) == before  # nothing changed
    p = _tool(lab, tmp_path, "apply", _write(tmp_path, "lock.nft", LOCKOUT), "--yes", "--force")
    assert p.returncode == 0, p.stderr
    assert "10.0.100.0/24" in _listing(lab)


def test_keep_address_is_protected(lab, tmp_path) -> None:
    lab.load(OTHER + OPEN)
    safe = _write(tmp_path, "safe.nft", SAFE)
    p = _tool(lab, tmp_path, "apply", safe, "--yes", "--keep", "10.0.10.5", ssh=None)
    assert p.returncode == 1 and "--keep 10.0.10.5" in p.stderr
    p = _tool(lab, tmp_path, "apply", safe, "--yes", "--keep", "10.0.10.5:5432", ssh=None)
    assert p.returncode == 0, p.stderr


def test_replaces_only_its_tables_and_saves_a_backup(lab, tmp_path) -> None:
    lab.load(OTHER + OPEN)
    p = _tool(lab, tmp_path, "apply", _write(tmp_path, "safe.nft", SAFE), "--yes")
    assert p.returncode == 0, p.stderr
    assert ("ip", "other") in _tables(lab)  # "flush ruleset" in the file is not replayed
    assert "tcp dport 5432 accept" in _listing(lab)
    assert "becomes denied" in p.stdout  # the flow diff was shown
    backups = list((tmp_path / "state").glob("backup-*.json"))
    assert backups and "other" in backups[0].read_text()


def test_check_fails_with_file_and_line(lab, tmp_path) -> None:
    lab.load(OTHER + OPEN)
    bad = _write(tmp_path, "bad.nft", "table inet microseg {\n    chain input {\n        tcp dport frobnicate accept\n    }\n}\n")
    p = _tool(lab, tmp_path, "apply", bad, "--yes")
    assert p.returncode == 2
    assert "bad.nft" in p.stderr and "line 3" in p.stderr


@pytest.mark.slow
def test_confirm_within_rolls_back_unless_confirmed(lab, tmp_path) -> None:
    lab.load(OTHER + OPEN)
    before = _listing(lab)
    safe = _write(tmp_path, "safe.nft", SAFE)
    t0 = time.monotonic()
    p = _tool(lab, tmp_path, "apply", safe, "--yes", "--confirm-within", "2", input="")
    assert p.returncode == 1, p.stderr
    assert "rolled back" in p.stderr
    assert time.monotonic() - t0 < 20
    assert _listing(lab) == before
    p = _tool(lab, tmp_path, "apply", safe, "--yes", "--confirm-within", "5", input="yes\n")
    assert p.returncode == 0, p.stderr
    time.sleep(5.5)  # past the deadline: the confirmed change stays
    assert "tcp dport 5432 accept" in _listing(lab)
