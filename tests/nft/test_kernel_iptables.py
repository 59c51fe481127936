"""iptables rulesets against the kernel (issue 22): the seed's host-firewall script, and one rule per
supported match, applied with iptables-nft and iptables-legacy inside the lab's firewall namespace,
read back with ``iptables-save`` (and ``ipset save``) and evaluated by the engine; every flow must
agree with the packets the kernel let through (or be "unknown" by design, as a rate limit without an
assumption is)."""

from __future__ import annotations

import shutil

import pytest

from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.iptables import iptables_to_json, looks_like_iptables
from kubectl_microseg.nft.parse import parse_ruleset

from .kernel import Outcome, engine_flow
from .netlab import LabFlow

pytestmark = pytest.mark.netns

# The seed's script (docs: "iptables Rules for Workload Isolation"), minus saving and echoing.
SEED_SCRIPT = """
iptables -F INPUT
iptables -F OUTPUT
iptables -P INPUT DROP
iptables -P OUTPUT DROP
iptables -P FORWARD DROP
iptables -A INPUT -i lo -j ACCEPT
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -p tcp --dport 22 -s 10.0.100.0/24 -j ACCEPT
iptables -A INPUT -p tcp --dport 5432 -s 10.0.10.0/24 -j ACCEPT
iptables -A INPUT -p tcp --dport 9187 -s 10.0.50.0/24 -j ACCEPT
iptables -A OUTPUT -p udp --dport 53 -d 10.0.0.2 -j ACCEPT
iptables -A OUTPUT -p tcp --dport 53 -d 10.0.0.2 -j ACCEPT
iptables -A OUTPUT -p udp --dport 123 -j ACCEPT
iptables -A INPUT -j LOG --log-prefix "IPT-INPUT-DROP: " --log-level 4
iptables -A OUTPUT -j LOG --log-prefix "IPT-OUTPUT-DROP: " --log-level 4
"""


def F(hook: str, proto: str, src: str, dst: str, port: int | None, expect: str, assume: tuple[str, ...] = ()):
    return (LabFlow(hook, proto, src, dst, port, assume=assume), expect)


SEED_FLOWS = [
    F("input", "tcp", "10.0.100.7", "10.0.0.9", 22, "allow"), F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, "deny"),
    F("input", "tcp", "10.0.10.5", "10.0.0.9", 5432, "allow"), F("input", "tcp", "10.0.50.3", "10.0.0.9", 9187, "allow"),
    F("input", "tcp", "10.0.50.3", "10.0.0.9", 5432, "deny"), F("input", "udp", "10.0.100.7", "10.0.0.9", 53, "deny"),
    F("input", "icmp", "10.0.100.7", "10.0.0.9", None, "deny"),
    F("input", "tcp", "fd00:100::7", "fd00::9", 22, "allow"),  # iptables does not filter IPv6
    F("output", "udp", "10.0.0.9", "10.0.0.2", 53, "allow"), F("output", "tcp", "10.0.0.9", "10.0.0.2", 53, "allow"),
    F("output", "udp", "10.0.0.9", "10.0.100.7", 53, "deny"), F("output", "udp", "10.0.0.9", "203.0.113.50", 123, "allow"),
    F("output", "tcp", "10.0.0.9", "203.0.113.50", 443, "deny"), F("forward", "tcp", "10.0.10.5", "10.2.0.2", 80, "deny"),
]

MATCHES_SCRIPT = """
ipset create trusted hash:net
ipset add trusted 10.0.50.0/24
iptables -N svc
iptables -P INPUT DROP
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -m comment --comment "web ports" -p tcp -m multiport --dports 80,443,1000:1500 -j ACCEPT
iptables -A INPUT -m iprange --src-range 10.0.100.1-10.0.100.9 -p udp --dport 53 -j ACCEPT
iptables -A INPUT -m set --match-set trusted src -p tcp --dport 5432 -j ACCEPT
iptables -A INPUT -p tcp --dport 9187 -j svc
iptables -A INPUT -p tcp --dport 2000 -m limit --limit 10/sec -j ACCEPT
iptables -A INPUT -m addrtype --dst-type LOCAL -p tcp --dport 22 -j ACCEPT
iptables -A INPUT -p tcp ! --syn -j DROP
iptables -A INPUT -p icmp --icmp-type echo-request -j ACCEPT
iptables -A INPUT -p udp -m udp --dport 123 -m multiport --sports 20000:39999 -j REJECT
iptables -A INPUT -p udp --dport 123 -j ACCEPT
iptables -A svc -s 10.0.10.0/24 -j RETURN
iptables -A svc -j ACCEPT
"""

MATCHES_FLOWS = [
    F("input", "tcp", "203.0.113.50", "10.0.0.9", 443, "allow"), F("input", "tcp", "203.0.113.50", "10.0.0.9", 1500, "allow"),
    F("input", "tcp", "203.0.113.50", "10.0.0.9", 2000, "unknown"),  # a rate: unknown without an assumption
    F("input", "tcp", "10.0.10.5", "10.0.0.9", 2000, "allow", ("under-limits",)),
    F("input", "udp", "10.0.100.7", "10.0.0.9", 53, "allow"), F("input", "udp", "10.0.50.3", "10.0.0.9", 53, "deny"),
    F("input", "tcp", "10.0.50.3", "10.0.0.9", 5432, "allow"), F("input", "tcp", "10.0.10.5", "10.0.0.9", 5432, "deny"),
    F("input", "tcp", "10.0.50.3", "10.0.0.9", 9187, "allow"), F("input", "tcp", "10.0.10.5", "10.0.0.9", 9187, "deny"),
    F("input", "tcp", "10.0.10.5", "10.0.0.9", 22, "unknown"),  # addrtype (fib): not modelled
    F("input", "icmp", "10.0.10.5", "10.0.0.9", None, "allow"),
    (LabFlow("input", "udp", "10.0.10.5", "10.0.0.9", 123, sport=20500), "deny"),  # --sports 20000:39999
    (LabFlow("input", "udp", "10.0.10.5", "10.0.0.9", 123, sport=40500), "allow"),
]


def _run(lab, script: str, flows, backend: str) -> list[str]:
    if not shutil.which(f"iptables-{backend}"):
        pytest.skip(f"iptables-{backend} is not installed (scripts/setup.sh installs iptables)")
    lab.load("")  # flush ruleset (and conntrack)
    commands = script.replace("iptables ", f"iptables-{backend} ")
    p = lab.exec_in_r("sh", "-ec", commands)
    if p.returncode != 0:
        if "ipset" in p.stderr:
            pytest.skip(f"ipset is not available here: {p.stderr.strip()}")
        raise RuntimeError(p.stderr)
    try:
        saved = lab.exec_in_r(f"iptables-{backend}-save").stdout
        sets = lab.exec_in_r("ipset", "save").stdout if "ipset" in script else ""
        text = sets + saved
        assert looks_like_iptables(text)
        rs = parse_ruleset(iptables_to_json(text))
        seen = lab.run([f for f, _ in flows])
    finally:
        lab.exec_in_r("sh", "-c", f"iptables-{backend} -P INPUT ACCEPT; iptables-{backend} -P OUTPUT ACCEPT; "
                      f"iptables-{backend} -P FORWARD ACCEPT; iptables-{backend} -F; iptables-{backend} -X; "
                      "ipset destroy 2>/dev/null; true")
    problems = []
    for f, exp in flows:
        ev = evaluate(rs, engine_flow(f).packet(), f.hook)
        o = Outcome(f, "allow" if seen[f.id] else "deny", ev.verdict, ev.because())
        if o.engine != exp or (exp != "unknown" and o.kernel != exp):
            problems.append(o.line() + f" [expected {exp}]")
    return problems


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_seed_script(lab, backend: str) -> None:
    problems = _run(lab, SEED_SCRIPT, [(LabFlow(f.hook, f.proto, f.src, f.dst, f.dport), e) for f, e in SEED_FLOWS],
                    backend)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_every_supported_match(lab, backend: str) -> None:
    shift = 0 if backend == "nft" else 100  # fixed source ports: one flow's record must not answer another's
    problems = _run(lab, MATCHES_SCRIPT, [(LabFlow(f.hook, f.proto, f.src, f.dst, f.dport,
                                                   f.sport + shift if f.sport else None, assume=f.assume), e)
                                          for f, e in MATCHES_FLOWS], backend)
    assert not problems, "\n".join(problems)
