"""Provides ``port_verdicts``: the verdict of a packet for a whole set of destination ports at once.

The matrix needs, per address class and protocol, which destination ports a path accepts. Evaluating
one packet per port piece costs (pieces x rules); this walker carries the set of ports still in play
through the chains and splits it only where a rule tests the destination port, so a chain of N rules
on ports is walked once. It follows ``evaluate`` exactly (same rules, same helpers) for the statements
it handles: matches on known fields, verdicts, jumps, gotos, returns, verdict maps, reject, counters,
logs, limits and quotas. Anything else (an expression not modelled, a mark or ct mark set, notrack,
queue, NAT, a loop) raises ``Fallback`` and the caller evaluates port pieces one by one with
``evaluate``; tests/nft/test_portwalk.py checks that both agree.
"""

from __future__ import annotations

from ..vocab import FlowVerdict
from . import values as V
from .evaluate import MAX_STEPS, UNKNOWN, _match, _State, _vmap, family_sees, _Undecided
from .model import (CHAIN_VERDICTS, Chain, Concat, Effect, Field, Interval, Mask, Match, Rule, Ruleset, SetRef, Terminal,
                    TerminalKind, VerdictKind, VerdictStmt, VMap)
from .intervals import Ports, element_intervals, intersect, subtract, union
from .packet import Assumption, Packet

FULL: Ports = [(0, 65535)]


class Fallback(Exception):
    """The walker does not handle this statement: evaluate port pieces one by one instead."""


def port_verdicts(rs: Ruleset, pkt: Packet, hook: str, ports: Ports) -> list[tuple[Ports, FlowVerdict]]:
    """[(ports, 'allow' | 'deny')] covering ``ports``, for ``pkt`` with each of these destination ports."""
    path = [(h, c) for h in V.HOOK_PATHS.get(hook, (hook,)) for c in rs.base_chains(h) if family_sees(c.family, pkt.family)]
    st = _State(pkt=pkt, hook=hook, prio=0, assume={})
    walker = _Walker(rs, st)
    out: list[tuple[Ports, FlowVerdict]] = []

    def along(p: Ports, pos: int) -> None:
        if pos == len(path):
            out.append((p, FlowVerdict.ALLOW))
            return
        hk, base = path[pos]
        for part, verdict in walker.chain(p, hk, base):
            if verdict == VerdictKind.ACCEPT:
                along(part, pos + 1)
            else:
                out.append((part, FlowVerdict.DENY))

    along(ports, 0)
    return out


class _Walker:
    def __init__(self, rs: Ruleset, st: _State):
        self.rs, self.st, self.steps = rs, st, 0

    def chain(self, p: Ports, hook: str, base: Chain) -> list[tuple[Ports, VerdictKind]]:
        out: list[tuple[Ports, VerdictKind]] = []
        self._run(p, hook, base, base, 0, (), out)
        return out

    def _run(self, p: Ports, hook: str, base: Chain, cur: Chain, idx: int, stack: tuple[tuple[Chain, int], ...],
             out: list[tuple[Ports, VerdictKind]]) -> None:
        policy = VerdictKind.DROP if base.policy == VerdictKind.DROP else VerdictKind.ACCEPT
        while p:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise Fallback("too many steps")
            if idx >= len(cur.rules):
                if stack:
                    (cur, idx), stack = stack[-1], stack[:-1]
                    continue
                out.append((p, policy))
                return
            rule = cur.rules[idx]
            idx += 1
            self.st.hook, self.st.prio = hook, base.prio or 0
            p, decided = self._rule(cur, rule, p)
            for part, kind, target in decided:
                if kind in (VerdictKind.ACCEPT, VerdictKind.DROP):
                    out.append((part, kind))
                elif kind in CHAIN_VERDICTS:
                    nxt = self.rs.chains[(cur.family, cur.table, str(target))]
                    self._run(part, hook, base, nxt, 0, stack + ((cur, idx),) if kind == VerdictKind.JUMP else stack, out)
                elif kind == VerdictKind.RETURN:
                    if stack:
                        (c2, i2), rest = stack[-1], stack[:-1]
                        self._run(part, hook, base, c2, i2, rest, out)
                    else:
                        out.append((part, policy))
                elif kind == VerdictKind.CONTINUE:
                    p = union(p, part)
                else:
                    raise Fallback(kind)

    def _rule(self, chain: Chain, rule: Rule, p: Ports) -> tuple[Ports, list[tuple[Ports, VerdictKind, str | None]]]:
        """(ports that go on to the next rule, [(ports, verdict, target)])."""
        live, rest = p, []  # type: Ports, Ports
        st = self.st
        for s in rule.stmts:
            if isinstance(s, Match):
                dport = _dport_field(s.left)
                if dport is not None:
                    if st.pkt.l4proto != V.L4PROTO.get(dport.protocol or "", -1) and dport.protocol != "th":
                        return union(rest, live), []  # the header is absent: no match
                    inside = _inside(self.rs, chain, s, live)
                    rest, live = union(rest, subtract(live, inside)), inside
                else:
                    if _reads_dport(s.left) or (isinstance(s.right, SetRef) and \
                            (chain.family, chain.table, s.right.name) in self.rs.updated_sets):
                        # a set the packet path writes to: evaluate() follows the packet's own additions
                        raise Fallback("a destination port inside an expression, or a dynamic set")
                    r = _match(self.rs, chain, s, st)
                    if r is UNKNOWN:
                        raise Fallback("unknown")
                    if not r:
                        return union(rest, live), []
            elif isinstance(s, VerdictStmt):
                return rest, [(live, s.verdict.kind, s.verdict.target)] if live else []
            elif isinstance(s, VMap):
                if _dport_field(s.key) is not None:
                    return self._port_vmap(chain, s, live, rest)
                if _reads_dport(s.key):
                    raise Fallback("a destination port inside an expression")
                try:
                    found = _vmap(self.rs, chain, s, st, (), rule)
                except _Undecided:
                    raise Fallback("vmap") from None
                if found is None:
                    return union(rest, live), []
                return rest, [(live, found.kind, found.target)]
            elif isinstance(s, Terminal):
                if s.kind == TerminalKind.REJECT:
                    if s.family is not None and s.family != st.pkt.family:
                        return union(rest, live), []
                    return rest, [(live, VerdictKind.DROP, None)]
                raise Fallback(s.kind)
            elif isinstance(s, Effect):
                if s.stateful:
                    if Assumption.UNDER_LIMITS in st.pkt.assume:
                        matched = not s.inv
                    elif Assumption.OVER_LIMITS in st.pkt.assume:
                        matched = s.inv
                    else:
                        raise Fallback(s.kind)
                    if not matched:
                        return union(rest, live), []
                elif s.kind == "notrack" or s.target is not None or s.kind in STATEFUL:
                    raise Fallback(s.kind)
            else:  # Mangle, Unsupported
                raise Fallback(type(s).__name__)
            if not live:
                return rest, []
        return union(rest, live), []

    def _port_vmap(self, chain: Chain, s: VMap, live: Ports,
                   rest: Ports) -> tuple[Ports, list[tuple[Ports, VerdictKind, str | None]]]:
        key = _dport_field(s.key)
        assert key is not None
        if self.st.pkt.l4proto != V.L4PROTO.get(key.protocol or "", -1) and key.protocol != "th":
            return union(rest, live), []
        if isinstance(s.data, SetRef):
            ns = self.rs.lookup_set(chain.family, chain.table, s.data.name)
            if ns is None or not ns.supported:
                raise Fallback("vmap")
            pairs = ns.verdicts
        else:
            pairs = s.data
        decided = []
        for el, verdict in pairs:  # the first element containing the port decides
            c = el[0]
            if len(el) != 1 or not isinstance(c, Interval):
                raise Fallback("vmap")
            hit = intersect(live, [(c.lo, c.hi)])
            if hit:
                decided.append((hit, verdict.kind, verdict.target))
                live = subtract(live, hit)
        return union(rest, live), decided


STATEFUL = ("set", "meter", "flow")


def _dport_field(left: object) -> Field | None:
    if isinstance(left, Field) and left.kind == "port" and left.name == "dport" and left.mask is None \
            and left.source == "payload":
        return left
    return None


def _reads_dport(left: object) -> bool:
    items = left.items if isinstance(left, Concat) else (left,)
    return any(isinstance(f, Field) and f.name == "dport" for f in items)


def _inside(rs: Ruleset, chain: Chain, m: Match, p: Ports) -> Ports:
    """The ports of ``p`` for which the match on the destination port is true."""
    if isinstance(m.right, Mask):
        raise Fallback("mask")
    if isinstance(m.right, SetRef):
        ns = rs.lookup_set(chain.family, chain.table, m.right.name)
        if ns is None or not ns.supported:
            raise Fallback("set")
        elems = ns.elements
    else:
        elems = m.right
    if m.op in ("<", ">", "<=", ">="):
        n = elems[0][0]
        if not isinstance(n, Interval):
            raise Fallback("cmp")
        v = n.lo
        cmp = {"<": (0, v - 1), ">": (v + 1, 65535), "<=": (0, v), ">=": (v, 65535)}[m.op]
        return intersect(p, [cmp] if cmp[0] <= cmp[1] else [])
    if any(len(e) != 1 or not isinstance(e[0], Interval) for e in elems):
        raise Fallback("element")
    members = element_intervals(elems)
    if not m.is_set and m.op not in ("==", "!=", "in"):
        raise Fallback(m.op)
    hit = intersect(p, members)
    return subtract(p, hit) if m.op == "!=" else hit


