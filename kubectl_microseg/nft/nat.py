"""Provides ``forwarded_ports``: destination NAT rules that send a host's port to another address.

Such a port (Docker's ``-p 8080:80``, moby/moby#4737 and #22054) never reaches the input hook: after
prerouting's DNAT, routing forwards the packet, so the forward chain decides and the host's input rules
(ufw, firewalld, a hand-written input chain) do not govern it. The evaluator follows the packet
(``evaluate._translate``); this module names such rules for the matrix's notes and the lint rule NF005.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .model import Chain, Rule, Ruleset, Terminal, VerdictStmt


@dataclass(frozen=True)
class Forwarded:
    """One DNAT rule whose target is another address."""

    chain: Chain
    rule: Rule
    target: str

    def describe(self) -> str:
        return (f"{self.chain.label()}: rule {self.rule.handle} `{self.rule.text}` translates to {self.target}: "
                "the packet is forwarded, so the forward chain decides it and the input chain never sees it")


def forwarded_ports(rs: Ruleset) -> list[Forwarded]:
    """The dnat rules of chains that run on prerouting (base chains there and the chains they jump to)
    whose target is a literal address other than a loopback one."""
    out: list[Forwarded] = []
    for ch in _reached(rs, "prerouting"):
        for r in ch.rules:
            for s in r.stmts:
                if isinstance(s, Terminal) and s.kind == "dnat" and s.addr is not None:
                    ip = ipaddress.IPv4Address(s.addr) if s.family == 4 else ipaddress.IPv6Address(s.addr)
                    if not ip.is_loopback:
                        port = f":{s.port}" if s.port is not None else ""
                        out.append(Forwarded(ch, r, f"{ip}{port}" if ip.version == 4 else f"[{ip}]{port}"))
    return out


def _reached(rs: Ruleset, hook: str) -> list[Chain]:
    seen: dict[tuple[str, str, str], Chain] = {}
    todo = list(rs.base_chains(hook))
    while todo:
        c = todo.pop()
        if c.key in seen:
            continue
        seen[c.key] = c
        for r in c.rules:
            for s in r.stmts:
                if isinstance(s, VerdictStmt) and s.verdict.target:
                    nxt = rs.chains.get((c.family, c.table, s.verdict.target))
                    if nxt is not None:
                        todo.append(nxt)
    return list(seen.values())
