"""Address translation against the kernel (issue 22): DNAT in prerouting sends a published port down
the forward path (Docker's published ports: the input chain never sees them), redirect keeps it local
with the new port, SNAT in postrouting changes what later postrouting chains see; explain shows the
rewrite."""

from __future__ import annotations

import pytest

from kubectl_microseg.nft.evaluate import evaluate
from kubectl_microseg.nft.packet import Flow
from kubectl_microseg.nft.parse import parse_ruleset

from .kernel import compare
from .netlab import LabFlow

pytestmark = pytest.mark.netns

EST = "ct state established,related accept\n"
PUBLISHED = f"""
table ip nat {{
    chain pre {{ type nat hook prerouting priority dstnat; policy accept;
        ip daddr 10.0.0.9 tcp dport 8080 dnat to 10.2.0.2:80
        ip daddr 10.0.0.9 tcp dport 5432 dnat to 10.2.0.2:81
        tcp dport 1000 redirect to :22
    }}
}}
table inet filter {{
    chain input {{ type filter hook input priority 0; policy drop;
        {EST}
        tcp dport {{ 22, 5432 }} accept
    }}
    chain forward {{ type filter hook forward priority 0; policy drop;
        {EST}
        ip daddr 10.2.0.2 tcp dport 80 accept
    }}
}}
"""


def _f(port: int, src: str = "10.0.10.5") -> LabFlow:
    return LabFlow("input", "tcp", src, "10.0.0.9", port)


CASES = [
    (_f(8080), "allow"),  # input has no rule for 8080: the forward chain accepts the translated packet
    (_f(5432), "deny"),   # input accepts 5432, but the translated packet is forwarded and dropped there
    (_f(1000), "allow"),  # redirect: delivered locally on port 22, which input accepts
    (_f(22, "10.0.50.3"), "allow"),
    (_f(80), "deny"),     # no translation: input drops
]


def test_dnat_redirect_against_the_kernel(lab) -> None:
    outcomes = compare(lab, PUBLISHED, [f for f, _ in CASES])
    problems = [o.line() + f" [expected {exp}]" for o, (_, exp) in zip(outcomes, CASES)
                if not (o.kernel == o.engine == exp)]
    assert not problems, "\n".join(problems)


def test_snat_changes_what_later_postrouting_chains_see(lab) -> None:
    text = """
table ip nat {
    chain post { type nat hook postrouting priority srcnat; policy accept; ip saddr 10.0.10.5 snat to 10.2.0.1; }
}
table inet f {
    chain post { type filter hook postrouting priority 200; policy accept;
        ip saddr 10.2.0.1 tcp dport 82 counter drop comment "after-snat"
    }
}
"""
    (o,) = compare(lab, text, [LabFlow("forward", "tcp", "10.0.10.5", "10.2.0.2", 82)])
    assert o.kernel == o.engine == "deny", o.line()
    assert lab.counters()["after-snat"] >= 1  # the kernel dropped it there, with the new source


def test_explain_shows_the_rewrite_and_the_forward_path(lab) -> None:
    rs = parse_ruleset(lab.load(PUBLISHED))
    ev = evaluate(rs, Flow("10.0.10.5", "10.0.0.9", "tcp", 8080, "input", iif="r0").packet(), "input")
    nat = [s.text for s in ev.trace if s.kind == "nat"]
    assert nat == ["dnat to 10.2.0.2:80: 10.0.10.5:40000 -> 10.0.0.9:8080 becomes 10.0.10.5:40000 -> 10.2.0.2:80"]
    assert [s.text for s in ev.trace if s.kind == "hook"] == ["hook prerouting", "hook forward"]
    assert any("the input chains do not see it" in n for n in ev.notes)
    assert ev.because()[-1].startswith("inet filter forward: rule")


def test_matrix_shows_the_forward_path_of_a_published_port(lab) -> None:
    from kubectl_microseg.nft.matrix import HostSpec, build_matrix
    m = build_matrix([HostSpec("r", ["10.0.0.9"], parse_ruleset(lab.load(PUBLISHED)))])
    cell = m.get("everything else (IPv4)", "r")
    # 8080 reaches 10.2.0.2:80 through forward, 1000 is redirected to 22; 5432 is forwarded and dropped
    assert cell.describe() == "TCP 22,1000,8080", cell.describe()
    assert any("8080" in n and "the input chain never sees it" in n for n in m.notes)
