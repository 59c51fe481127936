"""Pure engine tests (no kernel): parsing, evaluation rules, matrix, simulate, scaffold, transactions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_microseg.errors import InputError
from kubectl_microseg.nft import transaction as tx
from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.lockout import lockouts, parse_keep, parse_ssh_connection, required_flows
from kubectl_microseg.nft.matrix import HostSpec, build_matrix
from kubectl_microseg.nft.packet import Flow, flow_from_dict
from kubectl_microseg.nft.parse import parse_ruleset
from kubectl_microseg.nft.scaffold import demo_intent, parse_service, scaffold
from kubectl_microseg.nft.simulate import cell_changes, matrix_pair

DEMO = Path(__file__).resolve().parents[2] / "kubectl_microseg" / "demo" / "host"


def demo_rs(name: str = "db-server"):
    from kubectl_microseg.plugins.nftables import read_defines
    return parse_ruleset(json.loads((DEMO / f"{name}.json").read_text()),
                         defines=read_defines((DEMO / f"{name}.nft").read_text()))


def doc(*chains_and_rules: dict) -> dict:
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}, *chains_and_rules]}


def chain(name: str, hook: str | None = None, prio: int = 0, policy: str = "accept", fam: str = "inet", table: str = "t"):
    body = {"family": fam, "table": table, "name": name}
    if hook:
        body.update(type="filter", hook=hook, prio=prio, policy=policy)
    return {"chain": body}


def rule(ch: str, handle: int, *expr: dict, fam: str = "inet", table: str = "t"):
    return {"rule": {"family": fam, "table": table, "chain": ch, "handle": handle, "expr": list(expr)}}


def dport(proto: str, value, op: str = "=="):
    return {"match": {"op": op, "left": {"payload": {"protocol": proto, "field": "dport"}}, "right": value}}


ACCEPT, DROP = {"accept": None}, {"drop": None}


def verdict(rs, src="10.0.100.7", dst="10.0.0.9", proto="tcp", port=22, hook="input", **kw) -> str:
    return evaluate(rs, Flow(src, dst, proto, port, hook, **kw).packet(), hook).verdict


def test_seed_ruleset_verdicts_and_because() -> None:
    rs = demo_rs()
    ev = evaluate(rs, Flow("10.0.100.7", "10.0.0.9", "tcp", 22).packet(), "input")
    assert ev.verdict == "allow"
    assert ev.because() == ["inet microseg input: rule 5: ip saddr 10.0.100.0/24 tcp dport 22 accept"]
    ev = evaluate(rs, Flow("10.0.10.5", "10.0.0.9", "tcp", 22).packet(), "input")
    assert ev.verdict == "deny" and "counter drop" in ev.because()[0]
    assert verdict(rs, "10.0.10.5", port=5432) == "allow"
    assert verdict(rs, "10.0.0.9", "10.0.0.2", "udp", 53, "output") == "allow"
    assert verdict(rs, "127.0.0.1", "127.0.0.1", port=9999) == "allow"  # iif lo
    assert verdict(rs, "10.0.10.5", port=22, ct_state="established") == "allow"


def test_matrix_of_the_seed_shows_exactly_the_three_services() -> None:
    m = build_matrix([HostSpec("db-server", ["10.0.0.9"], demo_rs())])
    inbound = {(s, c.conns.describe()) for s, d, c in m.connections() if d == "db-server"}
    assert inbound == {("mgmt_net", "TCP 22"), ("api_net", "TCP 5432"), ("monitoring_net", "TCP 9187")}
    out = {d: c.conns.describe() for s, d, c in m.connections() if s == "db-server"}
    assert out["dns_server"] == "TCP 53, UDP 53,123"
    assert out["everything else (IPv4)"] == "UDP 123"
    j = m.to_contract()
    assert j["kind"] == "ConnectivityMatrix" and {"from": "mgmt_net", "to": "db-server",
                                                   "ports": [{"protocol": "TCP", "port": 22, "endPort": 22}]} in j["connections"]


def test_inventory_matrix_intersects_output_and_input() -> None:
    hosts = [HostSpec("db-server", ["10.0.0.9"], demo_rs()), HostSpec("api-server", ["10.0.10.5"], demo_rs("api-server")),
             HostSpec("monitoring", ["10.0.50.3"], demo_rs("monitoring"))]
    m = build_matrix(hosts)
    assert m.get("api-server", "db-server").describe() == "TCP 5432"
    assert m.get("monitoring", "db-server").describe() == "TCP 9187"
    assert m.get("monitoring", "api-server").describe() == "TCP 9100"
    assert m.get("db-server", "api-server").is_empty()  # db output allows only DNS and NTP


def test_accept_ends_only_its_base_chain_and_drop_is_final() -> None:
    rs = parse_ruleset(doc(chain("a", "input", -10), chain("b", "input", 10, "drop"),
                           rule("a", 1, ACCEPT), rule("b", 2, dport("tcp", 22), ACCEPT)))
    assert verdict(rs, port=22) == "allow" and verdict(rs, port=80) == "deny"
    ev = evaluate(rs, Flow("10.0.100.7", "10.0.0.9", "tcp", 22).packet(), "input")
    assert len(ev.because()) == 2  # both base chains accepted


def test_jump_goto_return_continue() -> None:
    rs = parse_ruleset(doc(chain("x"), chain("empty"), chain("i", "input", 0, "drop"),
                           rule("x", 1, dport("tcp", 80), {"return": None}),
                           rule("i", 2, {"jump": {"target": "x"}}),
                           rule("i", 3, dport("tcp", 80), ACCEPT),
                           rule("i", 4, dport("tcp", 83), {"goto": {"target": "empty"}}),
                           rule("i", 5, dport("tcp", 83), ACCEPT),
                           rule("i", 6, dport("tcp", 85), {"continue": None}),
                           rule("i", 7, dport("tcp", 85), ACCEPT)))
    assert verdict(rs, port=80) == "allow"
    assert verdict(rs, port=83) == "deny"  # goto: the end of "empty" applies the base policy
    assert verdict(rs, port=85) == "allow"


def test_dependency_makes_negated_port_match_fail_for_other_protocols() -> None:
    rs = parse_ruleset(doc(chain("i", "input"), rule("i", 1, dport("tcp", 22, "!="), DROP)))
    assert verdict(rs, proto="udp", port=53) == "allow"
    assert verdict(rs, proto="tcp", port=53) == "deny"


def test_queue_is_not_decidable_and_unknown_expressions_fork() -> None:
    rs = parse_ruleset(doc(chain("i", "input"), rule("i", 1, dport("tcp", 22), {"queue": {"num": 1}})))
    ev = evaluate(rs, Flow("10.0.100.7", "10.0.0.9", "tcp", 22).packet(), "input")
    assert ev.verdict == "unknown" and any("queued to userspace" in n for n in ev.notes)
    fib = {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}
    rs = parse_ruleset(doc(chain("i", "input", 0, "drop"), rule("i", 1, fib, ACCEPT)))
    assert verdict(rs) == "unknown"
    rs = parse_ruleset(doc(chain("i", "input", 0, "drop"), rule("i", 1, fib, dport("tcp", 22), DROP)))
    ev = evaluate(rs, Flow("10.0.100.7", "10.0.0.9", "tcp", 22).packet(), "input")
    assert ev.verdict == "deny" and any("does not depend" in n for n in ev.notes)


def test_other_families_are_noted_not_analysed() -> None:
    rs = parse_ruleset({"nftables": [{"table": {"family": "bridge", "name": "br"}},
                                      {"chain": {"family": "bridge", "table": "br", "name": "f", "hook": "forward",
                                                 "prio": 0, "type": "filter", "policy": "drop"}}]})
    assert any("bridge" in n and "not analysed" in n for n in rs.notes)
    assert verdict(rs) == "allow"


def test_parse_errors_are_input_errors() -> None:
    with pytest.raises(InputError):
        parse_ruleset({"not": "nft"})
    with pytest.raises(InputError, match="missing chain"):
        parse_ruleset(doc(chain("i", "input"), rule("i", 1, {"jump": {"target": "nope"}})))


def test_flow_validation() -> None:
    with pytest.raises(ValueError, match="port"):
        flow_from_dict({"from": "10.0.0.1", "to": "10.0.0.2"})
    with pytest.raises(ValueError, match="same IP version"):
        flow_from_dict({"from": "10.0.0.1", "to": "fd00::1", "port": 1})
    with pytest.raises(ValueError, match="hook"):
        flow_from_dict({"from": "10.0.0.1", "to": "10.0.0.2", "port": 1, "hook": "ingress"})
    f = flow_from_dict({"from": "10.0.0.1", "to": "10.0.0.2", "protocol": "icmp"})
    assert f.packet().icmp_type == 8


def test_simulate_reports_denied_and_allowed_changes() -> None:
    cur = demo_rs()
    new = parse_ruleset(doc(chain("input", "input", 0, "drop"),
                            rule("input", 1, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                                        "right": {"prefix": {"addr": "10.0.100.0", "len": 24}}}},
                                 dport("tcp", {"set": [22, 443]}), ACCEPT)))
    before, after = matrix_pair(cur, new, "h", ["10.0.0.9"], hooks=("input",))
    changes = {(c.src, c.dst): c for c in cell_changes(before, after)}
    assert changes[("mgmt_net", "h")].newly_allowed.describe() == "TCP 443"
    assert changes[("api_net", "h")].newly_denied.describe() == "TCP 5432"


def test_lockout_guard() -> None:
    s = parse_ssh_connection("10.1.0.2 50000 10.1.0.1 22")
    assert s and s.client == "10.1.0.2" and parse_ssh_connection("junk") is None
    flows = required_flows(s, [parse_keep("10.0.10.5:5432"), parse_keep("10.0.10.5")], {4: "10.1.0.1"})
    bad = lockouts(demo_rs(), flows)
    # the established session survives (ct state established accept); reconnecting and --keep :22 would not
    assert [why for why, _, _ in bad] == ["new SSH connections from 10.1.0.2 (to reconnect)", "--keep 10.0.10.5 (tcp 22)"]
    assert parse_keep("[fd00::1]:2222") == ("fd00::1", 2222)


def test_scaffold_is_default_deny_with_comments() -> None:
    text = scaffold(demo_intent())
    assert "policy drop" in text and "# SSH from the management network only" in text
    assert "ct state established,related accept" in text and 'log prefix "microseg-input-drop: "' in text
    assert "flush ruleset" not in text.split("table", 1)[1]
    svc = parse_service("postgresql=tcp/5432,6432@api,10.9.0.0/16")
    assert svc.ports == ("5432", "6432") and svc.sources == ("api", "10.9.0.0/16")
    with pytest.raises(ValueError):
        parse_service("icmp/8")


def test_transaction_replaces_only_the_files_tables() -> None:
    live = json.loads((DEMO / "db-server.json").read_text())
    live["nftables"].append({"table": {"family": "ip", "name": "docker", "handle": 9}})
    new = json.loads((DEMO / "api-server.json").read_text())
    batch = tx.replace_batch(new)
    cmds = batch["nftables"]
    assert cmds[0] == {"add": {"table": {"family": "inet", "name": "microseg"}}}
    assert cmds[1] == {"delete": {"table": {"family": "inet", "name": "microseg"}}}
    assert not any("docker" in json.dumps(c) for c in cmds)
    assert all("handle" not in next(iter(c["add"].values())) for c in cmds[2:])
    merged = tx.merged_listing(live, new)
    assert ("ip", "docker") in tx.tables_of(merged)
    restore = tx.restore_batch(live, [("inet", "microseg")])
    assert any("rule" in c.get("add", {}) for c in restore["nftables"])
