"""One positive and one negative example per nftables lint rule (NF001-NF005), on libnftables JSON."""

from __future__ import annotations

from kubectl_microseg.lint import lint_rulesets
from kubectl_microseg.lint.nft_lines import rule_lines
from kubectl_microseg.nft.parse import parse_ruleset
from tests.lint.helpers import (ACCEPT, COUNTER, DROP, ESTABLISHED, IP_SADDR, LOG, TCP_DPORT, UDP_DPORT, m, nft_doc,
                                prefix)

LOGGED_DROP = [LOG, COUNTER, DROP]
SSH_MGMT = [m(IP_SADDR, prefix("10.0.100.0", 24)), m(TCP_DPORT, 22), ACCEPT]
OUT_OK = {"name": "output", "hook": "output", "rules": [ESTABLISHED, [m(UDP_DPORT, 53), ACCEPT], LOGGED_DROP]}


def lint(*chains: dict) -> list[tuple[str, str]]:
    found = lint_rulesets([(parse_ruleset(nft_doc(list(chains))), None, None)])
    return [(f.rule, f.message) for f in found]


def rules_of(found: list[tuple[str, str]], rule: str) -> list[str]:
    return [msg for r, msg in found if r == rule]


def good_input(*extra: list) -> dict:
    return {"name": "input", "hook": "input", "rules": [ESTABLISHED, SSH_MGMT, *extra, LOGGED_DROP]}


def test_a_careful_ruleset_is_clean() -> None:
    assert lint(good_input([m(TCP_DPORT, {"set": [443, 8080]}), ACCEPT]), OUT_OK) == []


def test_nf001_shadowed_by_wider_set_and_by_catch_all() -> None:
    wide = [m(TCP_DPORT, {"set": [80, 443]}), ACCEPT]
    narrow_drop = [m(IP_SADDR, prefix("10.0.0.0", 8)), m(TCP_DPORT, 443), DROP]
    after_catch_all = [m(TCP_DPORT, 8443), ACCEPT]
    found = lint({"name": "input", "hook": "input",
                  "rules": [ESTABLISHED, SSH_MGMT, wide, narrow_drop, LOGGED_DROP, after_catch_all]}, OUT_OK)
    msgs = rules_of(found, "NF001")
    assert len(msgs) == 2
    assert "ip saddr 10.0.0.0/8 tcp dport 443 drop" in msgs[0] and "different verdict" in msgs[0]
    assert "tcp dport 8443 accept" in msgs[1] and "log prefix" in msgs[1]


def test_nf001_negative_narrow_first_and_limits() -> None:
    narrow_drop = [m(IP_SADDR, prefix("10.0.0.0", 8)), m(TCP_DPORT, 443), DROP]
    wide = [m(TCP_DPORT, {"set": [80, 443]}), ACCEPT]
    limited = [m(TCP_DPORT, 80), {"limit": {"rate": 10, "per": "second"}}, ACCEPT]
    assert rules_of(lint(good_input(narrow_drop, wide), OUT_OK), "NF001") == []
    assert rules_of(lint(good_input(limited, [m(TCP_DPORT, 80), DROP]), OUT_OK), "NF001") == []


def test_nf002_ssh_open_to_everything() -> None:
    found = lint(good_input([m(TCP_DPORT, {"set": [22, 443]}), ACCEPT]), OUT_OK)
    assert len(rules_of(found, "NF002")) == 1
    assert rules_of(lint(good_input(), OUT_OK), "NF002") == []


def test_nf002_policy_accept_counts() -> None:
    found = lint({"name": "input", "hook": "input", "policy": "accept", "rules": [[m(TCP_DPORT, 23), DROP]]})
    assert "policy accept" in rules_of(found, "NF002")[0]


def test_nf003_missing_established() -> None:
    no_ct_in = {"name": "input", "hook": "input", "rules": [SSH_MGMT, LOGGED_DROP]}
    found = rules_of(lint(no_ct_in, OUT_OK), "NF003")
    assert len(found) == 1 and "on input" in found[0]
    no_ct_out = {"name": "output", "hook": "output", "rules": [[m(UDP_DPORT, 53), ACCEPT], LOGGED_DROP]}
    assert "on output" in rules_of(lint(good_input(), no_ct_out), "NF003")[0]
    assert rules_of(lint(good_input(), OUT_OK), "NF003") == []


def test_nf004_drop_not_logged() -> None:
    silent_rule = {"name": "input", "hook": "input", "rules": [ESTABLISHED, SSH_MGMT, [COUNTER, DROP]]}
    silent_policy = {"name": "output", "hook": "output", "rules": [ESTABLISHED]}
    found = lint(silent_rule, silent_policy)
    assert [r for r, _ in found] == ["NF004", "NF004"]
    assert "counter drop" in found[0][1] and "policy drop" in found[1][1]
    logged_then_policy = {"name": "output", "hook": "output", "rules": [ESTABLISHED, [LOG]]}
    assert rules_of(lint(good_input(), logged_then_policy), "NF004") == []


def test_rule_lines_maps_rules_to_source_lines() -> None:
    text = """table inet fw {
    set mgmt { type ipv4_addr; elements = { 10.0.0.1,
                                            10.0.0.2 } }
    chain input {
        type filter hook input priority 0; policy drop;
        # comment
        ct state established accept
        tcp dport {
            22, 80
        } accept comment "web # not a comment"

        counter drop
    }
}
"""
    assert rule_lines(text.splitlines()) == {("inet", "fw", "input"): (4, [7, 8, 12])}


def test_demo_host_rulesets_locate_findings(tmp_path) -> None:
    """A JSON ruleset has no lines: findings point at the file; with text lines, at the rule."""
    import json

    doc = nft_doc([{"name": "input", "hook": "input", "rules": [ESTABLISHED, [m(TCP_DPORT, 22), ACCEPT], LOGGED_DROP]},
                   OUT_OK])
    path = tmp_path / "rs.json"
    path.write_text(json.dumps(doc))
    found = lint_rulesets([(parse_ruleset(doc), str(path), None)])
    assert [(f.rule, f.location.file, f.location.line) for f in found] == [("NF002", str(path), None)]


def test_nf005_forwarded_port_is_not_governed_by_input() -> None:
    """A Docker-published port: DNAT in prerouting to another address, reached through a jump (the
    evaluator follows the translated packet down the forward path: tests/nft/test_kernel_nat.py)."""
    docker = [m(TCP_DPORT, 8080), {"dnat": {"family": "ip", "addr": "172.17.0.2", "port": 80}}]
    local = [m(TCP_DPORT, 2222), {"dnat": {"family": "ip", "addr": "127.0.0.1", "port": 22}}]
    redirect = [m(TCP_DPORT, 1000), {"redirect": {"port": 22}}]
    pre = {"name": "pre", "hook": "prerouting", "policy": "accept", "rules": [[{"jump": {"target": "DOCKER"}}]]}
    doc = nft_doc([good_input(), OUT_OK, pre])
    doc["nftables"].append({"chain": {"family": "inet", "table": "fw", "name": "DOCKER", "handle": 90}})
    for i, expr in enumerate((docker, local, redirect)):
        doc["nftables"].append({"rule": {"family": "inet", "table": "fw", "chain": "DOCKER", "handle": 91 + i,
                                         "expr": expr}})
    found = [(f.rule, f.message) for f in lint_rulesets([(parse_ruleset(doc), None, None)])]
    msgs = rules_of(found, "NF005")
    assert len(msgs) == 1 and "172.17.0.2:80" in msgs[0] and "tcp dport 8080" in msgs[0]
    assert rules_of(lint(good_input(), OUT_OK), "NF005") == []
