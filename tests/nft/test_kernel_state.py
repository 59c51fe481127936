"""Issue 22's silent verdicts, each against the kernel: neighbour discovery and MLD are untracked
(nf_conntrack_proto_icmpv6.c, ``noct_valid_new``); ``ip6 nexthdr`` is the first extension header (MLD
carries hop-by-hop); limits, quotas, ct count, meters and sets the packet path writes to depend on
earlier packets, so without an assumption the verdict is "unknown" (by design), and with the flow's
assumption it agrees with the kernel; a verdict that does not depend on ``fib`` names both cases.
"""

from __future__ import annotations

import pytest

from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.packet import Flow
from kubectl_microseg.nft.parse import parse_ruleset

from .kernel import compare
from .netlab import LabFlow

pytestmark = pytest.mark.netns

EST = "ct state established,related accept\n"
A6, R6 = "fd01::2", "fd01::1"


def _engine(lab, text: str, flow: Flow):
    return evaluate(parse_ruleset(lab.load(text)), flow.packet(), flow.hook)


@pytest.mark.parametrize("rule,kernel", [("ct state new accept", "deny"), ("ct state untracked accept", "allow")])
def test_neighbour_solicitation_is_untracked(lab, rule: str, kernel: str) -> None:
    # A resolves R's address with multicast solicitations first: those are let in by the first rule
    text = f"""table inet t {{ chain i {{ type filter hook input priority 0; policy drop;
        ip6 daddr ff02::/16 accept
        {rule}
    }}
    }}"""
    ev = _engine(lab, text, Flow(A6, R6, "icmpv6", hook="input", iif="r0", icmp_type="nd-neighbor-solicit"))
    reply = lab.icmpv6_probe(A6, R6, 135)
    seen = "allow" if reply[:1] == bytes([136]) else "deny"  # R answered with an advertisement
    assert (seen, ev.verdict) == (kernel, kernel), ev.because()
    assert Flow(A6, R6, "icmpv6", icmp_type="nd-neighbor-solicit").ct_state == "untracked"
    assert Flow(A6, R6, "icmpv6", icmp_type="nd-redirect").ct_state == "new"  # 137 is tracked


@pytest.mark.parametrize("rule,kernel", [("ip6 nexthdr icmpv6 icmpv6 type mld-listener-query drop", "allow"),
                                         ("ip6 nexthdr 0 icmpv6 type mld-listener-query drop", "deny"),
                                         ("meta l4proto icmpv6 icmpv6 type mld-listener-query drop", "deny")])
def test_ip6_nexthdr_is_the_first_extension_header(lab, rule: str, kernel: str) -> None:
    text = f"""table inet t {{
        chain i {{ type filter hook input priority 0; policy accept; {rule}; }}
        chain probe {{ type filter hook input priority 100; policy accept;
            icmpv6 type mld-listener-query counter comment "seen"; }}
    }}"""
    ev = _engine(lab, text, Flow(A6, R6, "icmpv6", hook="input", iif="r0", icmp_type="mld-listener-query"))
    lab.icmpv6_probe(A6, R6, 130, hbh=True, wait=0.3)
    seen = "allow" if lab.counters().get("seen") else "deny"
    assert (seen, ev.verdict) == (kernel, kernel), ev.because()


STATE = f"""
table inet t {{
    set seen {{ type ipv4_addr; flags dynamic; }}
    set m {{ type ipv4_addr; flags dynamic; }}
    chain i {{ type filter hook input priority 0; policy drop;
        {EST}
        tcp dport 81 add @seen {{ ip saddr }}
        ip saddr @seen tcp dport 81 drop
        tcp dport 82 ip saddr @seen drop
        tcp dport 83 add @m {{ ip saddr limit rate over 1/minute }} drop
        tcp dport 84 ct count over 5 drop
        tcp dport 85 limit rate 1/second accept
        tcp dport 87 meter flood {{ ip saddr limit rate over 10/second }} drop
        tcp dport 1000 quota over 1 mbytes drop
        tcp dport != 85 accept
    }}
}}
"""
UNDER, LISTED = ("under-limits",), ("sets-as-listed",)


def _f(src: str, port: int, assume: tuple[str, ...] = ()) -> LabFlow:
    return LabFlow("input", "tcp", src, "10.0.0.9", port, assume=assume)


STATE_FLOWS = [
    # the packet adds its own source, then the next rule finds it: decided without any assumption
    (_f("10.0.10.5", 81), "deny"),
    # membership in a set earlier packets fill: unknown by design; as listed (empty) it is not there
    (_f("10.0.50.3", 82), "unknown"), (_f("10.0.100.7", 82, LISTED), "allow"),
    (_f("10.0.0.2", 83), "unknown"), (_f("192.168.1.5", 83, UNDER), "allow"),
    (_f("203.0.113.50", 84), "unknown"), (_f("10.9.9.9", 84, UNDER), "allow"),
    (_f("10.0.10.5", 85), "unknown"), (_f("10.0.50.3", 85, UNDER), "allow"),
    (_f("10.0.100.7", 87), "unknown"), (_f("10.0.0.2", 87, UNDER), "allow"),
    (_f("192.168.1.5", 1000), "unknown"), (_f("203.0.113.50", 1000, UNDER), "allow"),
]


def test_state_dependent_expressions(lab) -> None:
    """Every flow: engine == expectation; where the engine decides, the kernel agrees. Each flow has a
    source of its own, so no flow fills a set or a rate another one reads."""
    outcomes = compare(lab, STATE, [f for f, _ in STATE_FLOWS])
    problems = []
    for o, (_, exp) in zip(outcomes, STATE_FLOWS):
        if o.engine != exp or (exp != "unknown" and o.kernel != exp):
            problems.append(o.line() + f" [expected {exp}]")
        if exp == "unknown" and not any("assume" in b for b in o.because):
            problems.append(o.line() + " [the unknown verdict does not say which assumption decides]")
    assert not problems, "\n".join(problems)


def test_because_names_both_cases_when_the_verdict_does_not_depend_on_fib(lab) -> None:
    text = f"""table inet t {{ chain i {{ type filter hook input priority 0; policy drop;
        {EST}
        fib daddr type local tcp dport 86 return
        tcp dport 86 counter drop comment "drop86"
        accept
    }}
    }}"""
    flow = LabFlow("input", "tcp", "10.0.10.5", "10.0.0.9", 86)
    (o,) = compare(lab, text, [flow])
    assert o.kernel == o.engine == "deny", o.line()
    assert lab.counters()["drop86"] == 0  # the kernel took the return, then the policy
    assert len(o.because) == 2 and all(b.startswith("if fib daddr type local") for b in o.because), o.because
    assert any("policy drop" in b for b in o.because) and any("counter" in b and "drop" in b for b in o.because)
