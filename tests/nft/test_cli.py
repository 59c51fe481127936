"""``kubectl microseg nft ...`` through the real entry point: contract output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_microseg.cli import main

DEMO = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo" / "host"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["nft", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_test_json_follows_the_contract(capsys, tmp_path) -> None:
    flows = write(tmp_path, "f.yaml", """flows:
  - {from: 10.0.100.7, to: 10.0.0.9, port: 22, expect: allow}
  - {hook: output, from: 10.0.0.9, to: 10.0.0.2, protocol: udp, port: 53}
  - {from: 10.0.10.5, to: 10.0.0.9, port: 22, expect: allow}
""")
    code, out, _ = run(capsys, "test", flows, "--demo", "-o", "json")
    doc = json.loads(out)
    assert code == 1 and doc["passed"] == 1 and doc["failed"] == 1
    r0, r1, r2 = doc["results"]
    assert {k: r0[k] for k in ("from", "to", "port", "protocol", "verdict", "expect", "pass")} == {
        "from": "10.0.100.7", "to": "10.0.0.9", "port": 22, "protocol": "tcp", "verdict": "allow", "expect": "allow",
        "pass": True}
    assert r0["because"] == ["inet microseg input: rule 5: ip saddr 10.0.100.0/24 tcp dport 22 accept"]
    assert r1["pass"] is None and r1["verdict"] == "allow"
    assert r2["verdict"] == "deny" and r2["pass"] is False and "counter drop" in r2["because"][0]


def test_demo_flows_pass(capsys) -> None:
    code, out, _ = run(capsys, "test", str(DEMO / "flows.yaml"), "--demo")
    assert code == 0 and "7 passed, 0 failed" in out


def test_bad_flow_names_file_and_line(capsys, tmp_path) -> None:
    flows = write(tmp_path, "f.yaml", "flows:\n  - {from: 10.0.0.1, to: 10.0.0.2, port: 22}\n  - {from: 10.0.0.1, to: nowhere, port: 22}\n")
    code, _, err = run(capsys, "test", flows, "--demo")
    assert code == 2 and "f.yaml" in err and "line 3" in err and "'to'" in err


def test_bad_json_ruleset_names_file_and_line(capsys, tmp_path) -> None:
    flows = write(tmp_path, "f.yaml", "flows:\n  - {from: 10.0.0.1, to: 10.0.0.2, port: 22}\n")
    bad = write(tmp_path, "r.json", '{"nftables": [\n  {"table": }\n]}\n')
    code, _, err = run(capsys, "test", flows, "--ruleset", bad)
    assert code == 2 and "r.json" in err and "line 2" in err


def test_json_ruleset_file(capsys, tmp_path) -> None:
    flows = write(tmp_path, "f.yaml", "flows:\n  - {from: 10.0.50.3, to: 10.0.0.9, port: 9187, expect: allow}\n")
    code, out, _ = run(capsys, "test", flows, "--ruleset", str(DEMO / "db-server.json"))
    assert code == 0, out


def test_explain_trace(capsys) -> None:
    code, out, _ = run(capsys, "explain", "--demo", "--from", "10.0.10.5", "--to", "10.0.0.9", "--port", "5432")
    assert code == 0
    assert code == 0
    assert "base chain inet microseg input (hook input, priority 0, policy drop)" in out
    assert "rule 6: ip saddr 10.0.10.0/24 tcp dport 5432 accept -> accept" in out and "verdict: allow" in out
    code, out, _ = run(capsys, "explain", "--demo", "--from", "10.0.10.5", "--to", "10.0.0.9", "--port", "22", "-o", "json")
    doc = json.loads(out)
    assert doc["verdict"] == "deny" and doc["trace"][0]["text"] == "hook input"


def test_explain_chooses_the_hook_from_the_host_addresses(capsys) -> None:
    """Issue 15: `nft explain --from A --to B` silently evaluated the input hook. Netfilter's packet flow: a
    packet the host sends traverses output, one addressed to it input, one it routes forward."""
    cases = [("10.0.10.5", "10.0.0.9", "input"), ("10.0.0.9", "1.1.1.1", "output"), ("10.0.10.5", "10.0.20.7", "forward")]
    for src, dst, hook in cases:
        code, out, _ = run(capsys, "explain", "--demo", "--from", src, "--to", dst, "--port", "443", "-o", "json")
        doc = json.loads(out)
        assert code == 0 and doc["flow"]["hook"] == hook and doc["hookChosen"].endswith(hook), (src, dst)
    # a ruleset file alone does not say which address is the host's: ask, do not guess
    code, _, err = run(capsys, "explain", "--ruleset", str(DEMO / "db-server.nft"), "--from", "10.0.10.5",
                       "--to", "10.0.0.9")
    assert code == 2 and "which hook?" in err
    code, out, _ = run(capsys, "explain", "--ruleset", str(DEMO / "db-server.nft"), "--address", "10.0.0.9",
                       "--from", "10.0.10.5", "--to", "10.0.0.9", "--port", "5432")
    assert code == 0 and "hook: 10.0.0.9 is this host's address (the destination): input" in out


def test_explain_names_the_deciding_rule_by_file_and_line(capsys) -> None:
    code, out, _ = run(capsys, "explain", "--demo", "--from", "10.0.10.5", "--to", "10.0.0.9", "--port", "5432")
    assert code == 0
    line = next(n for n, text in enumerate((DEMO / "db-server.nft").read_text().splitlines(), 1)
                if "tcp dport 5432 accept" in text)
    assert f"tcp dport 5432 accept  [demo/host/db-server.nft:{line}]" in out
    _code, out, _ = run(capsys, "explain", "--ruleset", str(DEMO / "db-server.nft"), "--hook", "output",
                       "--from", "10.0.0.9", "--to", "1.1.1.1", "--port", "443", "-o", "json")
    drop = next(n for n, text in enumerate((DEMO / "db-server.nft").read_text().splitlines(), 1)
                if 'nft-output-drop' in text)
    assert json.loads(out)["locations"] == [f"{DEMO / 'db-server.nft'}:{drop}"]


def test_matrix_formats(capsys) -> None:
    code, out, _ = run(capsys, "matrix", "--demo", "-o", "json")
    doc = json.loads(out)
    pairs = {(c["from"], c["to"]) for c in doc["connections"] if c["to"] == "db-server"}
    assert code == 0 and pairs == {("mgmt_net", "db-server"), ("api_net", "db-server"), ("monitoring_net", "db-server")}
    for fmt in ("table", "wide", "csv", "markdown", "mermaid", "dot"):
        code, out, _ = run(capsys, "matrix", "--demo", "-o", fmt)
        assert code == 0 and "db-server" in out
    code, out, _ = run(capsys, "matrix", "--demo", "--inventory", "-o", "json")
    conns = {(c["from"], c["to"]): c["ports"] for c in json.loads(out)["connections"]}
    assert conns[("api-server", "db-server")] == [{"protocol": "TCP", "port": 5432, "endPort": 5432}]


def test_simulate_exit_code(capsys, tmp_path) -> None:
    new = write(tmp_path, "new.json", json.dumps({"nftables": [
        {"table": {"family": "inet", "name": "microseg"}},
        {"chain": {"family": "inet", "table": "microseg", "name": "input", "type": "filter", "hook": "input",
                   "prio": 0, "policy": "accept"}}]}))
    code, out, _ = run(capsys, "simulate", "--demo", "--ruleset", new)
    assert code == 0 and "becomes allowed" in out  # only additions
    code, out, _ = run(capsys, "simulate", "--current", new, "--ruleset", str(DEMO / "db-server.json"), "--address",
                       "10.0.0.9", "-o", "json")
    assert code == 1 and json.loads(out)["changes"]


def test_scaffold_cli(capsys) -> None:
    code, out, _ = run(capsys, "scaffold", "--mgmt", "10.0.100.0/24", "--segment", "api=10.0.10.0/24,fd00:10::/64",
                       "--service", "postgresql=tcp/5432@api", "--dns", "10.0.0.2", "--ntp", "any")
    assert code == 0 and "set api_v6" in out and "ip6 saddr @api_v6 tcp dport 5432 accept" in out
    code, _, err = run(capsys, "scaffold", "--service", "tcp/5432@nosuch")
    assert code == 2 and "unknown segment" in err


@pytest.mark.netns
def test_scaffold_loads_in_a_scratch_namespace(capsys, tmp_path, netns_ok) -> None:
    code, out, _ = run(capsys, "scaffold", "--demo")
    path = write(tmp_path, "s.nft", out)
    flows = write(tmp_path, "f.yaml", "flows:\n  - {from: 10.0.10.5, to: 10.0.0.9, port: 5432, expect: allow}\n"
                                      "  - {from: 10.0.10.5, to: 10.0.0.9, port: 22, expect: deny}\n")
    code, out, err = run(capsys, "test", flows, "--ruleset", path)
    assert code == 0, out + err


@pytest.mark.netns
def test_nft_syntax_error_names_file_and_line(capsys, tmp_path, netns_ok) -> None:
    flows = write(tmp_path, "f.yaml", "flows:\n  - {from: 10.0.0.1, to: 10.0.0.2, port: 22}\n")
    bad = write(tmp_path, "bad.nft", "table inet t {\n  chain c {\n    tcp dport frobnicate accept\n  }\n}\n")
    code, _, err = run(capsys, "test", flows, "--ruleset", bad)
    assert code == 2 and "bad.nft" in err and "line 3" in err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to an unprivileged user")
def test_live_ruleset_without_root_exits_3(tmp_path) -> None:
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                        "kubectl_microseg", "nft", "test", "-"], capture_output=True, text=True, check=False,
                       input="flows:\n  - {from: 10.0.0.1, to: 10.0.0.2, port: 22}\n", cwd="/")
    assert p.returncode == 3, p.stderr
    assert "needs root" in p.stderr
