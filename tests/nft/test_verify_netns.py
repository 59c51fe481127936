"""``nft verify`` against the kernel: on every kernel-checked ruleset of test_kernel_cases.py, the sandbox's real
packets and the engine must agree on every probe; a disagreement is found and reported; nothing is left behind
and the host's own ruleset is untouched.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from kubectl_microseg.cli import main
from kubectl_microseg.nft import verify

from .test_kernel_cases import CASES

pytestmark = pytest.mark.netns


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def namespaces() -> set[str]:
    """The sandbox namespaces that exist (``msv*``; other tests may make and delete their own meanwhile)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.strip() and ln.startswith("msv")}


def host_ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=False).stdout


@pytest.mark.slow
def test_every_kernel_checked_ruleset_agrees_on_every_probe(netns_ok, tmp_path, capsys):
    before_ns, before_rs = namespaces(), host_ruleset()
    total = allowed = 0
    fwd: dict[str, int] = {"allow": 0, "deny": 0}
    for i, (name, (text, _)) in enumerate(CASES.items()):
        f = tmp_path / f"case{i}.nft"
        f.write_text(text)
        code, out, err = run(capsys, "nft", "verify", "--ruleset", str(f), "--address", "10.0.0.9", "--address",
                             "fd00::9", "--hooks", "input,output,forward", "-o", "json")
        doc = json.loads(out)
        bad = [d for p in doc["pairs"] for d in p["disagree"]]
        assert code == 0 and not bad, f"{name}: {bad[:5]} {err}"
        total += doc["probes"]
        allowed += sum(p["allowed"] for p in doc["pairs"])
        for p in doc["pairs"]:
            if p["hook"] == "forward":
                fwd["allow"] += p["allowed"]
                fwd["deny"] += p["probes"] - p["allowed"]
    # both verdicts are well represented: the oracle sees packets pass, and sees them dropped
    assert total > 4000 and 500 < allowed < total - 500, (total, allowed)
    assert fwd["allow"] > 1000 and fwd["deny"] > 40, fwd  # forwarding is exercised both ways (2,782 and 56)
    assert namespaces() == before_ns
    assert host_ruleset() == before_rs


def test_a_disagreement_is_found_and_explained(netns_ok, tmp_path, capsys, monkeypatch):
    real = verify.evaluate

    def wrong(rs, pkt, hook):  # an engine that gets TCP 22 on input wrong
        ev = real(rs, pkt, hook)
        if hook == "input" and pkt.dport == 22 and pkt.l4proto == 6:
            ev.verdict = "deny" if ev.verdict == "allow" else "allow"
        return ev

    monkeypatch.setattr(verify, "evaluate", wrong)
    code, out, _ = run(capsys, "nft", "verify", "--demo")
    assert code == 1
    assert "DIFF input  mgmt_net -> db-server" in out
    assert "input tcp 10.0.100.1:" in out and ":22: engine deny, kernel allow" in out
    assert "DIFF input  api_net -> db-server" in out and "engine allow, kernel deny" in out


def test_demo_text_output_and_cleanup(netns_ok, capsys):
    before = namespaces()
    code, out, _ = run(capsys, "nft", "verify", "--demo")
    assert code == 0
    assert "ok   input  mgmt_net -> db-server: 23 probes, 1 let through" in out
    assert "disagree" in out.splitlines()[-1] and " 0 disagree" in out
    assert namespaces() == before


def test_inventory_hosts_each_in_their_own_sandbox(netns_ok, capsys):
    code, out, _ = run(capsys, "nft", "verify", "--inventory", "kubectl_microseg/demo/host/inventory.yaml",
                       "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["disagree"] == 0
    assert {p["host"] for p in doc["pairs"]} == {"db-server", "api-server", "monitoring"}
    # the host -> host halves: each host's input from, and output to, the other hosts' addresses
    pairs = {(p["hook"], p["from"], p["to"]): p for p in doc["pairs"]}
    assert pairs[("input", "api-server", "db-server")]["allowed"] == 1  # TCP 5432 from the API server
    assert ("output", "api-server", "db-server") in pairs and ("input", "monitoring", "api-server") in pairs
    # api-server rate-limits ICMP echo: the burst of probes empties the bucket; the disagreeing ones are re-sent
    # one by one and then agree (the note says so)
    assert any("rate-limits" in n for n in doc["notes"]), doc["notes"]


def test_bad_ruleset_names_the_line(netns_ok, tmp_path, capsys):
    f = tmp_path / "bad.nft"
    f.write_text("table inet t {\n  chain c {\n    tcp dport 22 acept\n  }\n}\n")
    code, _, err = run(capsys, "nft", "verify", "--ruleset", str(f), "--address", "10.0.0.9")
    assert code == 2 and "bad.nft" in err and "line 3" in err


def test_unusable_classes_are_named_not_skipped_silently():
    assert verify.usable_address([(2**32, 2**32 + 1)], 2**32 + 1) is None  # :: and ::1
    assert verify.usable_address([(0, 5)], 1) is None  # 0.0.0.0/8 never crosses a link
    assert verify.usable_address([(2**32, 2**32 + 10)], 2**32 + 1) == "::2"
